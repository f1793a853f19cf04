"""Chromium through the real proxy process: trackers blocked, tracking parameters gone, a site
paused and resumed from the CLI while the proxy runs, and filter lists added and removed from the
CLI applying without a restart."""

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from e2e_browser import new_context
from e2e_sites import GIF

pytestmark = pytest.mark.slow

WHOKNOWS = Path(sys.executable).with_name("whoknows")
# The proxy re-reads site settings within half a second of a change; allow twice that.
SETTINGS_DELAY = 1.0
# The test proxy looks for changed filter lists every second (the default is 5 s); a change must
# apply well within this.
LISTS_CHECK_INTERVAL = 1.0
LISTS_DEADLINE = 10.0
FILTERS = """\
||tracker.test^
||never-resolved.example^
"""
NO_STORE = [("cache-control", "no-store")]  # every reload really asks again
SHOP = """<!doctype html><html><head><title>Vendor shop</title>
<script src="https://tracker.test/t.js"></script></head>
<body><h1>Shop</h1>
<img id="pixel" src="https://tracker.test/pixel.gif">
<a id="go" href="https://vendor.test/product?id=7&utm_source=news&gclid=Cj0KCQ#reviews">Product 7</a>
<script>window.pageScriptRan = true;</script>
</body></html>"""
PRODUCT = "<!doctype html><title>Product 7</title><h1>Product 7</h1>"
CLEAN_PRODUCT_URL = "https://vendor.test/product?id=7#reviews"


@pytest.fixture(scope="module")
def blocking_proxy(start_proxy, e2e_dir):
    filters = e2e_dir / "blocking-filters.txt"
    filters.write_text(FILTERS)
    proxy = start_proxy(f"whoknows_extra_filters={filters}", f"whoknows_lists_check_interval={LISTS_CHECK_INTERVAL}",
                        name="blocking-proxy")
    yield proxy
    proxy.stop()


@pytest.fixture
def shop(sites):
    sites["vendor.test"].page("/shop", SHOP, headers=NO_STORE)
    sites["vendor.test"].page("/product", PRODUCT, headers=NO_STORE)
    sites["tracker.test"].page("/t.js", "window.trackerLoaded = true;", content_type="text/javascript",
                               headers=NO_STORE)
    sites["tracker.test"].page("/pixel.gif", GIF, content_type="image/gif", headers=NO_STORE)
    return sites


@pytest.fixture
def page(browser, blocking_proxy):
    context = new_context(browser, blocking_proxy.url)
    yield context.new_page()
    context.close()


def whoknows(proxy, *args: str) -> str:
    """`whoknows ...` as a separate process on the proxy's data directory."""
    env = {k: v for k, v in os.environ.items() if "proxy" not in k.lower()}
    env["WHOKNOWS_HOME"] = str(proxy.home)
    done = subprocess.run([str(WHOKNOWS), *args], env=env, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    return done.stdout


def site_command(proxy, *args: str) -> str:
    return whoknows(proxy, "site", *args)


@pytest.fixture
def paused_vendor(blocking_proxy):
    """Pause vendor.test through the CLI; resumed afterwards whatever happens."""
    yield lambda: site_command(blocking_proxy, "pause", "vendor.test")
    site_command(blocking_proxy, "resume", "vendor.test")


def tracker_answers(page) -> dict[str, tuple[int, str | None]]:
    answers = {}
    page.on("response", lambda r: answers.__setitem__(r.url, (r.status, r.headers.get("x-whoknows-blocked")))
            if "tracker.test" in r.url else None)
    return answers


def test_trackers_never_reach_the_tracker_and_the_page_still_works(shop, page):
    answers = tracker_answers(page)
    response = page.goto("https://vendor.test/shop")
    assert response.status == 200
    assert page.locator("h1").inner_text() == "Shop"
    assert page.evaluate("window.pageScriptRan") is True
    assert page.evaluate("window.trackerLoaded") is None  # the script was never run
    assert page.evaluate("document.getElementById('pixel').naturalWidth") == 1  # a transparent GIF
    assert shop["tracker.test"].received() == []
    assert answers == {"https://tracker.test/t.js": (403, "extra-filters: ||tracker.test^"),
                       "https://tracker.test/pixel.gif": (200, "extra-filters: ||tracker.test^")}


def test_a_tracking_link_ends_at_a_clean_address_and_the_site_never_sees_the_parameters(shop, page):
    page.goto("https://vendor.test/shop")
    page.click("#go")
    page.wait_for_url(CLEAN_PRODUCT_URL)
    assert page.url == CLEAN_PRODUCT_URL  # parameters gone, the fragment kept by the browser
    assert page.evaluate("location.search") == "?id=7"
    assert page.locator("h1").inner_text() == "Product 7"
    assert [hit.query for hit in shop["vendor.test"].received("/product")] == [{"id": "7"}]


def test_pausing_a_site_from_the_cli_lets_its_trackers_through_until_resumed(shop, page, blocking_proxy,
                                                                             paused_vendor):
    page.goto("https://vendor.test/shop")
    assert shop["tracker.test"].received() == []

    paused_vendor()
    time.sleep(SETTINGS_DELAY)  # no proxy restart
    page.reload()
    assert shop["tracker.test"].wait_for("/t.js").header("sec-gpc") == "1"
    shop["tracker.test"].wait_for("/pixel.gif")
    assert page.evaluate("window.trackerLoaded") is True

    site_command(blocking_proxy, "resume", "vendor.test")
    time.sleep(SETTINGS_DELAY)
    seen = len(shop["tracker.test"].received())
    page.reload()
    assert page.locator("h1").inner_text() == "Shop"
    assert page.evaluate("window.trackerLoaded") is None
    assert len(shop["tracker.test"].received()) == seen  # blocked again


def test_a_blocked_navigation_shows_whoknows_page(shop, page):
    response = page.goto("https://tracker.test/landing")
    assert response.status == 403
    assert page.locator("h1").inner_text() == "whoknows blocked this page"
    assert "whoknows site pause tracker.test" in page.locator("body").inner_text()
    assert shop["tracker.test"].received() == []


def test_blocking_inside_an_https_tunnel_makes_no_upstream_connection(sites, blocking_proxy):
    # The proxy's sealed resolver logs every name it is asked for and refuses all but *.test:
    # a blocked request must not even look the tracker's name up.
    answer = blocking_proxy.get("https://never-resolved.example/collect?uid=1")
    assert answer.status == 403
    assert answer.headers["x-whoknows-blocked"] == "extra-filters: ||never-resolved.example^"
    assert "never-resolved.example" not in blocking_proxy.refused_names()
    assert sites.received() == []


def answer_once(proxy, url: str, status: int):
    """Ask through the proxy until it answers `status` (the proxy picks up list changes on its own
    schedule); the last answer, whatever it is, after LISTS_DEADLINE."""
    deadline = time.monotonic() + LISTS_DEADLINE
    while True:
        answer = proxy.get(url)
        if answer.status == status or time.monotonic() > deadline:
            return answer
        time.sleep(0.2)


def test_a_list_added_from_the_cli_blocks_within_seconds_without_a_restart(sites, blocking_proxy, e2e_dir):
    sites["cdn.test"].page("/listed-later.js", "window.listedLater = true;", content_type="text/javascript",
                           headers=NO_STORE)
    url = "https://cdn.test/listed-later.js"
    assert blocking_proxy.get(url).status == 200
    mine = e2e_dir / "listed-later.txt"
    mine.write_text("||cdn.test/listed-later.js\n")
    whoknows(blocking_proxy, "lists", "add", str(mine))
    try:
        answer = answer_once(blocking_proxy, url, 403)
        assert answer.status == 403, "the proxy still lets the newly listed script through"
        assert answer.headers["x-whoknows-blocked"] == "listed-later: ||cdn.test/listed-later.js"
        served = len(sites["cdn.test"].received("/listed-later.js"))
        assert blocking_proxy.get(url).status == 403
        assert len(sites["cdn.test"].received("/listed-later.js")) == served  # blocked, never fetched
    finally:
        whoknows(blocking_proxy, "lists", "remove", str(mine))
    assert answer_once(blocking_proxy, url, 200).status == 200  # unlisted again, still no restart
    assert blocking_proxy.alive()
