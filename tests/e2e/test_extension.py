"""The browser extension, unpacked in headless Chromium, paired with a real whoknows proxy.

The extension's own browser (a persistent context: extensions need one) goes through the proxy
under test for the test sites; its pages reach the proxy's control API directly on 127.0.0.1, as
a person's browser would (loopback is not proxied). Pairing happens on the options page with a
code from `whoknows extension pair`; everything else is done by clicking in the popup, and checked
where a person would notice it: what the tracker received, which cookies the vendor got, what
`whoknows alias list` shows.

The popup is opened as an ordinary tab (`chrome-extension://ID/popup.html`): there it is about the
web page looked at last, so each test keeps one web page open at a time.
"""

from __future__ import annotations

import json
import os
import re
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from e2e_browser import CHROMIUM
from e2e_browser import TIMEOUT_MS
from e2e_browser import chromium_args
from e2e_browser import screenshot_path
from e2e_sites import GIF

pytestmark = pytest.mark.slow

REPO = Path(__file__).resolve().parents[2]
EXTENSION = REPO / "extension"
WHOKNOWS = Path(sys.executable).with_name("whoknows")
CONTROL_API = re.compile(r"control API: (http://127\.0\.0\.1:\d+)")
# tracker.test by the test's own filter; connect.facebook.net is in the built-in list too, and the
# proxy knows Meta runs it: the popup shows that company. A blocked request never leaves the proxy.
FILTERS = "||tracker.test^\n||connect.facebook.net^\n"
NO_STORE = [("cache-control", "no-store")]
SHOP = """<!doctype html><html><head><title>Vendor shop</title>
<script src="https://tracker.test/t.js"></script>
<script src="https://connect.facebook.net/en_US/fbevents.js"></script></head>
<body><h1>Shop</h1><img id="pixel" src="https://tracker.test/pixel.gif"></body></html>"""


# -- the proxy and the CLI ---------------------------------------------------------------------


def control_url(proxy) -> str:
    match = CONTROL_API.search(proxy.stdout())
    assert match, f"the proxy did not name its control API:\n{proxy.stdout()}"
    return match.group(1)


def whoknows(proxy, *args: str) -> str:
    """The `whoknows` CLI as its own process on the proxy's data directory."""
    env = {k: v for k, v in os.environ.items() if "proxy" not in k.lower()}
    env["WHOKNOWS_HOME"] = str(proxy.home)
    done = subprocess.run([str(WHOKNOWS), *args], env=env, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    return done.stdout


def pairing_code(proxy) -> str:
    return json.loads(whoknows(proxy, "extension", "pair", "--json"))["code"]


def start_extension_proxy(start_proxy, e2e_dir, name: str):
    filters = e2e_dir / f"{name}-filters.txt"
    filters.write_text(FILTERS)
    # Flush observations often, so the vendor record page has them at once.
    return start_proxy(f"whoknows_extra_filters={filters}", "whoknows_flush_interval=0.2", name=name)


def serve_shop(sites, path: str = "/shop", site: str = "vendor.test") -> None:
    sites[site].page(path, SHOP, headers=NO_STORE)
    sites["tracker.test"].page("/t.js", "window.trackerLoaded = true;", content_type="text/javascript",
                               headers=NO_STORE)
    sites["tracker.test"].page("/pixel.gif", GIF, content_type="image/gif", headers=NO_STORE)


# -- the browser with the extension ------------------------------------------------------------


class Extension:
    """A Chromium profile with the unpacked extension loaded, through one proxy."""

    def __init__(self, context, extension_id: str) -> None:
        self.context, self.id = context, extension_id

    def url(self, page: str) -> str:
        return f"chrome-extension://{self.id}/{page}"

    def open(self, page: str):
        tab = self.context.new_page()
        tab.goto(self.url(page))
        return tab

    def web_page(self, url: str):
        tab = self.context.new_page()
        tab.goto(url)
        return tab

    def badge(self, url_pattern: str) -> str | None:
        """The badge text of the tab showing `url_pattern`, read in the extension's service worker."""
        worker = self.context.service_workers[0]
        return worker.evaluate("""async (pattern) => {
            const [tab] = await chrome.tabs.query({url: pattern});
            return tab ? chrome.action.getBadgeText({tabId: tab.id}) : null;
        }""", url_pattern)


def launch_extension(browser, proxy, profile: Path, mitm_ca: Path) -> Extension:
    # The extension reaches the control API directly, as in a person's browser (where loopback is
    # not proxied), unlike the harness's shared browser: Playwright sends loopback through the
    # proxy unless told otherwise (it adds `<-loopback>`), hence the explicit bypass.
    args = [arg for arg in chromium_args(mitm_ca) if not arg.startswith("--proxy-bypass-list")]
    args += [f"--disable-extensions-except={EXTENSION}", f"--load-extension={EXTENSION}"]
    context = browser.browser_type.launch_persistent_context(
        str(profile), executable_path=str(CHROMIUM), headless=True, args=args,
        proxy={"server": proxy.url, "bypass": "127.0.0.1,localhost"}, timeout=30_000)
    context.set_default_timeout(TIMEOUT_MS)
    context.set_default_navigation_timeout(TIMEOUT_MS)
    worker = context.service_workers[0] if context.service_workers else context.wait_for_event("serviceworker")
    extension_id = worker.url.split("/")[2]
    for blank in context.pages:  # the profile's first tab: only the tests' own pages stay open
        blank.close()
    return Extension(context, extension_id)


def closed_port() -> int:
    """A loopback port nothing listens on (just freed)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def badge_settles(extension: Extension, pattern: str, text: str, timeout: float = 10.0) -> bool:
    """Whether the badge of the tab at `pattern` shows `text` within `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if extension.badge(pattern) == text:
            return True
        time.sleep(0.2)
    return False


def pair_on_options_page(extension: Extension, proxy, options=None) -> None:
    from playwright.sync_api import expect

    options = options or extension.open("options.html")
    expect(options.locator("#pairing-state")).not_to_have_text("Checking…")  # the page is ready
    options.get_by_label("Address").fill(control_url(proxy))
    options.get_by_label("Pairing code").fill(pairing_code(proxy).lower().replace("-", " "))  # as typed
    options.get_by_role("button", name="Pair", exact=True).click()
    expect(options.get_by_role("status")).to_contain_text("Paired with whoknows")
    options.get_by_role("button", name="Test connection").click()
    expect(options.get_by_role("status")).to_contain_text("this browser is paired")
    options.close()


@pytest.fixture(scope="module")
def extension_proxy(start_proxy, e2e_dir):
    proxy = start_extension_proxy(start_proxy, e2e_dir, "extension-proxy")
    yield proxy
    proxy.stop()


@pytest.fixture(scope="module")
def extension(browser, extension_proxy, mitm_confdir, tmp_path_factory) -> Iterator[Extension]:
    """The extension paired with `extension_proxy` (through its options page)."""
    loaded = launch_extension(browser, extension_proxy, tmp_path_factory.mktemp("extension-profile"),
                              mitm_confdir / "mitmproxy-ca-cert.pem")
    try:
        pair_on_options_page(loaded, extension_proxy)
        yield loaded
    finally:
        loaded.context.close()


@pytest.fixture
def pages(extension) -> Iterator[Extension]:
    """The paired extension; every page a test opens is closed after it."""
    yield extension
    for tab in extension.context.pages:
        tab.close()


# -- the tests ---------------------------------------------------------------------------------


def test_popup_shows_what_was_blocked_and_who_runs_it(sites, pages, tmp_path):
    from playwright.sync_api import expect

    serve_shop(sites)
    shop = pages.web_page("https://vendor.test/shop")
    assert shop.locator("h1").inner_text() == "Shop"
    assert sites["tracker.test"].received() == []

    popup = pages.open("popup.html")
    expect(popup.locator("#site")).to_have_text("vendor.test")
    expect(popup.locator("#counts")).to_contain_text("3 requests blocked")
    third_parties = popup.locator("#third-parties li")
    expect(third_parties).to_have_count(2)
    # Most blocked first: tracker.test (script and pixel), then Meta's connect.facebook.net.
    expect(third_parties.nth(0)).to_contain_text("tracker.test")
    expect(third_parties.nth(0)).to_contain_text("2 blocked")
    expect(third_parties.nth(1)).to_contain_text("facebook.net")
    expect(third_parties.nth(1)).to_contain_text("Meta")
    expect(popup.get_by_role("switch", name="Protection on this site")).to_be_checked()
    expect(popup.get_by_label("This site's own cookies")).to_have_value("default")

    assert badge_settles(pages, "https://vendor.test/*", "3")

    # Live: another load of the page adds three more blocked requests while the popup is open.
    shop.reload()
    expect(popup.locator("#counts")).to_contain_text("6 requests blocked")

    # Polling is cheap: asked again with the ETag it got, the control API answers 304 (in Chromium's fetch).
    polled = popup.evaluate("""async () => {
        const api = await import("./lib/api.js");
        const { loadConfig } = await import("./lib/settings.js");
        const config = await loadConfig();
        const first = await api.send(api.siteRequest(config, {site: "vendor.test"}));
        const again = await api.send(api.siteRequest(config, {site: "vendor.test"}, first.etag));
        return [first.state, first.data.blocked.total, again.unchanged === true];
    }""")
    assert polled == ["ok", 6, True]

    popup.locator("body").screenshot(path=str(screenshot_path("popup.png", tmp_path)))

    # The vendor record, an extension page of its own, from the popup's link.
    with pages.context.expect_page() as opened:
        popup.get_by_role("link", name="Vendor record").click()
    record = opened.value
    expect(record.locator("#title")).to_have_text("vendor.test")
    expect(record.get_by_role("region", name="Third parties on its pages")).to_contain_text("tracker.test")
    assert sites["tracker.test"].received() == []


WIDGET_ARTICLE = """<!doctype html><html><head><title>article</title>
<script src="https://js.widgets.test/w.js"></script></head><body><p>news</p></body></html>"""


def test_popup_says_a_third_party_is_a_learned_tracker_and_that_it_was_blocked_for_it(sites, pages, extension_proxy):
    """An unlisted widget that sets a cookie on three sites is learned (issue 13); on a fourth site
    the popup says so, where it was seen tracking, and that this is why it was blocked; let in with
    `whoknows trackers allow`, the open popup says that instead."""
    from playwright.sync_api import expect

    sites["widgets.test"].page("/w.js", "window.widget = 'loaded';", content_type="text/javascript",
                               headers=[("set-cookie", "wid=8f3a2c914b7e4d2a9c1f0e6b; Path=/; Max-Age=86400; "
                                                       "Secure; SameSite=None"), *NO_STORE])
    for site in ("vendor.test", "news.test", "blog.test", "other.test"):
        sites[site].page("/article", WIDGET_ARTICLE, headers=NO_STORE)
    for site in ("vendor.test", "news.test", "blog.test"):
        tab = pages.web_page(f"https://www.{site}/article")
        assert tab.evaluate("window.widget || null") == "loaded"
        tab.close()
    deadline = time.monotonic() + 15
    while "widgets.test" not in whoknows(extension_proxy, "trackers"):
        assert time.monotonic() < deadline, "widgets.test was not learned"
        time.sleep(0.3)
    time.sleep(1.0)  # the proxy re-reads the learned list with its site settings (0.5 s)

    article = pages.web_page("https://www.other.test/article")
    assert article.evaluate("window.widget || null") is None  # blocked on the fourth site
    popup = pages.open("popup.html")
    expect(popup.locator("#site")).to_have_text("other.test")
    widget = popup.locator("#third-parties li", has_text="widgets.test")
    expect(widget).to_contain_text("1 blocked")
    expect(widget).to_contain_text("Learned tracker, seen tracking on blog.test, news.test, vendor.test: "
                                   "blocked because whoknows learned it.")

    whoknows(extension_proxy, "trackers", "allow", "widgets.test")
    time.sleep(1.0)
    article.reload()  # the proxy applies the change from its next request on
    assert article.evaluate("window.widget || null") == "loaded"
    expect(widget).to_contain_text("1 blocked, 1 let through")  # the open popup follows
    expect(widget).to_contain_text("you let it in (it gets no cookies and no Referer)")


def test_switching_protection_off_lets_the_tracker_through(sites, pages):
    from playwright.sync_api import expect

    serve_shop(sites, site="other.test")
    shop = pages.web_page("https://other.test/shop")
    popup = pages.open("popup.html")
    switch = popup.get_by_role("switch", name="Protection on this site")
    expect(switch).to_be_checked()
    assert sites["tracker.test"].received() == []

    switch.uncheck()
    expect(popup.get_by_role("status")).to_have_text(
        "Protection is off for other.test: reload the page to load what was blocked.")
    shop.reload()
    sites["tracker.test"].wait_for("/t.js")
    sites["tracker.test"].wait_for("/pixel.gif")
    assert shop.evaluate("window.trackerLoaded") is True
    expect(switch).not_to_be_checked()
    assert badge_settles(pages, "https://other.test/*", "off")

    switch.check()
    expect(popup.get_by_role("status")).to_have_text("Protection is on for other.test.")
    seen = len(sites["tracker.test"].received())
    shop.reload()
    assert shop.evaluate("window.trackerLoaded") is None
    assert len(sites["tracker.test"].received()) == seen


def test_allowing_one_third_party_lets_only_that_one_through(sites, pages):
    from playwright.sync_api import expect

    serve_shop(sites, path="/checkout", site="other.test")
    shop = pages.web_page("https://other.test/checkout")
    popup = pages.open("popup.html")
    expect(popup.locator("#site")).to_have_text("other.test")
    popup.get_by_role("button", name="Allow here: tracker.test on other.test").click()
    expect(popup.get_by_role("status")).to_have_text("tracker.test is allowed on this site.")
    expect(popup.locator("#third-parties li", has_text="tracker.test")).to_contain_text("(allowed here)")

    facebook = popup.locator("#third-parties li", has_text="facebook.net")
    blocked_before = int(re.search(r"(\d+) blocked", facebook.inner_text()).group(1))
    shop.reload()
    sites["tracker.test"].wait_for("/t.js")
    assert shop.evaluate("window.trackerLoaded") is True
    # Meta's script is still blocked on this site: only tracker.test was allowed.
    expect(facebook).to_contain_text(f"{blocked_before + 1} blocked")

    popup.get_by_role("button", name="Stop allowing: tracker.test on other.test").click()
    expect(popup.get_by_role("status")).to_have_text("tracker.test is no longer allowed on this site.")
    seen = len(sites["tracker.test"].received())
    shop.reload()
    assert shop.evaluate("window.trackerLoaded") is None
    assert len(sites["tracker.test"].received()) == seen


def test_cookie_mode_block_keeps_the_sites_cookies_out(sites, pages, extension_proxy):
    from playwright.sync_api import expect

    sites["cdn.test"].page("/account", "<!doctype html><h1>Account</h1>",
                           headers=[*NO_STORE, ("set-cookie", "sid=42; Secure; Path=/; Max-Age=3600")])
    account = pages.web_page("https://cdn.test/account")
    account.reload()
    assert sites["cdn.test"].wait_for("/account", count=2).cookies == {"sid": "42"}  # cookies work

    popup = pages.open("popup.html")
    expect(popup.locator("#site")).to_have_text("cdn.test")
    popup.get_by_label("This site's own cookies").select_option("block")
    expect(popup.get_by_role("status")).to_contain_text("Cookies from cdn.test: block")
    account.reload()
    hit = sites["cdn.test"].wait_for("/account", count=3)
    assert hit.cookie is None
    expect(popup.get_by_label("This site's own cookies")).to_have_value("block")
    expect(popup.locator("#counts")).to_contain_text("1 cookie removed")

    # A cap needs its number of days; the proxy gets `cap:N`.
    popup.get_by_label("This site's own cookies").select_option("cap")
    popup.get_by_label("Days (1 to 400)").fill("3")
    popup.get_by_label("Days (1 to 400)").press("Tab")
    expect(popup.get_by_role("status")).to_contain_text("Cookies from cdn.test: cap:3")
    shown = json.loads(whoknows(extension_proxy, "site", "show", "cdn.test", "--json"))
    assert shown["cookie_mode"] == "cap:3"


def test_the_alias_is_made_from_the_popup(sites, pages, extension_proxy):
    from playwright.sync_api import expect

    sites["vendor.test"].page("/signup", "<!doctype html><h1>Sign up</h1>")
    pages.web_page("https://vendor.test/signup")
    popup = pages.open("popup.html")
    button = popup.get_by_role("button", name="Copy this site's alias")

    button.click()  # aliases are not set up yet: the proxy says how
    expect(popup.get_by_role("status")).to_contain_text("whoknows alias setup")
    expect(popup.get_by_label("The address to give this site instead of yours")).to_have_value("")

    whoknows(extension_proxy, "alias", "setup", "--base", "you@mail.example", "--style", "plus")
    button.click()
    alias = popup.get_by_label("The address to give this site instead of yours")
    expect(alias).to_have_value(re.compile(r"^you\+\S+@mail\.example$"))
    address = alias.input_value()
    expect(popup.get_by_role("status")).to_contain_text(address)
    listed = json.loads(whoknows(extension_proxy, "alias", "list", "--json"))
    assert address in json.dumps(listed)

    button.click()  # the same alias again, not a second one
    expect(popup.get_by_role("status")).to_contain_text(address)
    assert len(json.loads(whoknows(extension_proxy, "alias", "list", "--json", "--vendor", "vendor.test"))) == 1


def test_popup_shows_the_terms_you_proffer_and_whether_the_site_agreed(sites, pages, extension_proxy):
    """None proffered, then `whoknows terms offer nostalking`: vendor.test answers with
    Personal-Terms-Agreed and the popup says it agreed; other.test stays silent and the popup says
    it has not. The popup reads it from the control API when it asks (the ledger), nothing more."""
    from datetime import datetime, timezone

    from playwright.sync_api import expect

    sites["vendor.test"].page("/terms", "<!doctype html><h1>We agree</h1>",
                              headers=[*NO_STORE, ("Personal-Terms-Agreed", "nostalking;v=1")])
    sites["other.test"].page("/terms", "<!doctype html><h1>Silent</h1>", headers=NO_STORE)
    shop = pages.web_page("https://vendor.test/terms")
    popup = pages.open("popup.html")
    terms = popup.locator("#terms")
    expect(terms).to_have_text("Your terms: none proffered (whoknows terms offer nostalking)")

    whoknows(extension_proxy, "terms", "offer", "nostalking")
    try:
        today = datetime.now(timezone.utc).date().isoformat()  # the ledger's days are UTC
        # The proxy picks the choice up within a second: load the page until the site got the terms.
        deadline = time.monotonic() + 10
        while not sites["vendor.test"].received("/terms")[-1].header("personal-terms"):
            assert time.monotonic() < deadline, "the proxy never proffered the terms"
            time.sleep(0.3)
            shop.reload()
        popup.bring_to_front()
        expect(terms.locator("li").first).to_have_text("Your terms: No stalking (nostalking/1)")
        expect(terms.locator("li").nth(1)).to_have_text(
            f"vendor.test agreed to No stalking on {today} (by its Personal-Terms-Agreed header)")

        shop.goto("https://other.test/terms")
        assert sites["other.test"].wait_for("/terms").header("personal-terms")
        popup.close()
        popup = pages.open("popup.html")
        expect(popup.locator("#site")).to_have_text("other.test")
        expect(popup.locator("#terms li").nth(1)).to_have_text(
            f"other.test has not agreed to No stalking (offered since {today})")
    finally:
        whoknows(extension_proxy, "terms", "withdraw")


def test_unpaired_then_paired_then_the_proxy_goes_away(sites, browser, start_proxy, e2e_dir, mitm_confdir,
                                                       tmp_path):
    from playwright.sync_api import expect

    proxy = start_extension_proxy(start_proxy, e2e_dir, "extension-proxy-2")
    fresh = launch_extension(browser, proxy, tmp_path / "profile", mitm_confdir / "mitmproxy-ca-cert.pem")
    try:
        serve_shop(sites)
        fresh.web_page("https://vendor.test/shop")
        options = fresh.open("options.html")
        expect(options.locator("#pairing-state")).not_to_have_text("Checking…")
        options.get_by_label("Address").fill(f"127.0.0.1:{closed_port()}")
        options.get_by_role("button", name="Save address").click()
        expect(options.get_by_role("status")).to_contain_text("looks for the proxy at")

        popup = fresh.open("popup.html")
        expect(popup.locator("#problem-title")).to_have_text("The whoknows proxy is not running")
        expect(popup.locator("#details")).to_be_hidden()

        options.bring_to_front()
        options.get_by_label("Address").fill(control_url(proxy))
        options.get_by_role("button", name="Test connection").click()
        expect(options.get_by_role("status")).to_contain_text("this browser is not paired")
        options.close()
        expect(popup.locator("#problem-title")).to_have_text("Not paired")  # the open popup follows

        with fresh.context.expect_page() as opened:
            popup.get_by_role("button", name="Open options").click()
        pair_on_options_page(fresh, proxy, options=opened.value)
        expect(popup.locator("#details")).to_be_visible()  # the open popup recovers by itself
        expect(popup.locator("#counts")).to_contain_text("3 requests blocked")

        proxy.stop()
        expect(popup.locator("#problem")).to_be_visible()
        expect(popup.locator("#problem-title")).to_have_text("The whoknows proxy is not running")
        expect(popup.locator("#problem-text")).to_contain_text(control_url(proxy))
    finally:
        fresh.context.close()
        proxy.stop()
