"""Chromium through the real proxy process: cookies per vendor, and what `vendor show` learns.

vendor.test sets a first-party cookie and embeds a pixel from cdn.test (on no tracker list, so it
is not blocked and its cookie goes down the cookie path) that sets a third-party cookie. Site
settings are changed with the real `whoknows site` command on the proxy's own ledger while it runs.

The browser must accept third-party cookies, or "none arrived" would prove nothing about the
proxy: Playwright's `new_context()` is an off-the-record profile, which blocks them by itself
(`sec-fetch-storage-access: none`). So each test gets a fresh regular profile whose preferences
allow them (`profile.cookie_controls_mode = 0`), and one test shows they do flow when the user
allows the third party.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from e2e_browser import CHROMIUM
from e2e_browser import TIMEOUT_MS
from e2e_browser import chromium_args
from e2e_sites import GIF

pytestmark = pytest.mark.slow

WHOKNOWS = Path(sys.executable).with_name("whoknows")
YEAR = 365 * 86400
DAY = 86400
VENDOR_PAGE = '<!doctype html><title>shop</title><img src="https://cdn.test/pixel.gif">'
FIRST_PARTY = f"sid=abc; Max-Age={YEAR}; Path=/; Secure; HttpOnly; SameSite=Lax"
THIRD_PARTY = f"uid=42; Max-Age={YEAR}; Path=/; Secure; SameSite=None"
PROBE = f"probe=1; Max-Age={YEAR}; Path=/"


def serve(sites, page_site: str = "vendor.test") -> None:
    sites[page_site].page("/", VENDOR_PAGE, headers=[("set-cookie", FIRST_PARTY)])
    sites[page_site].page("/probe", "probe", headers=[("set-cookie", PROBE)])
    sites["cdn.test"].page("/pixel.gif", GIF, content_type="image/gif", headers=[("set-cookie", THIRD_PARTY)])
    sites["cdn.test"].page("/", "cdn home")


def whoknows(proxy, *args: str) -> subprocess.CompletedProcess:
    """The real CLI on the proxy's own data directory."""
    env = {k: v for k, v in os.environ.items() if "proxy" not in k.lower()}
    env.update(WHOKNOWS_HOME=str(proxy.home), PYTHON_KEYRING_BACKEND="keyring.backends.fail.Keyring",
               COLUMNS="200")  # table cells unfolded
    result = subprocess.run([str(WHOKNOWS), *args], env=env, capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    return result


def probe_lines(proxy, site: str = "vendor.test") -> list[str]:
    return proxy.get(f"https://{site}/probe").headers.get_all("set-cookie") or []


def set_mode(proxy, mode: str) -> None:
    """`whoknows site cookies vendor.test MODE`, then wait until the running proxy applies it."""
    whoknows(proxy, "site", "cookies", "vendor.test", mode)
    applied = {
        "default": lambda lines: lines == [PROBE],
        "allow": lambda lines: lines == [PROBE],
        "session": lambda lines: lines == ["probe=1; Path=/"],
        "cap:1": lambda lines: lines == [f"probe=1; Max-Age={DAY}; Path=/"],
        "block": lambda lines: lines == [],
    }[mode]
    deadline = time.monotonic() + 10
    while not applied(lines := probe_lines(proxy)):
        assert time.monotonic() < deadline, f"the proxy did not apply {mode}: {lines}"
        time.sleep(0.1)


def plant(context, site: str, name: str, value: str) -> None:
    """A cookie the browser already holds, as if set on an earlier visit."""
    context.add_cookies([{"name": name, "value": value, "domain": site, "path": "/", "secure": True,
                          "sameSite": "None", "expires": time.time() + 3600}])


def jar(context, site: str) -> dict[str, dict]:
    return {c["name"]: c for c in context.cookies() if c["domain"].lstrip(".") == site}


def open_profile(browser, proxy, profile: Path, mitm_ca: Path):
    """A regular (not off-the-record) Chromium profile that accepts third-party cookies."""
    (profile / "Default").mkdir(parents=True)
    (profile / "Default" / "Preferences").write_text(json.dumps(
        {"profile": {"cookie_controls_mode": 0, "block_third_party_cookies": False}}))
    context = browser.browser_type.launch_persistent_context(
        str(profile), executable_path=str(CHROMIUM), headless=True, args=chromium_args(mitm_ca),
        proxy={"server": proxy.url, "bypass": "<-loopback>"}, timeout=30_000)
    context.set_default_timeout(TIMEOUT_MS)
    context.set_default_navigation_timeout(TIMEOUT_MS)
    return context


@pytest.fixture(scope="module")
def cookie_proxy(start_proxy):
    proxy = start_proxy("whoknows_flush_interval=0.2", name="cookies-proxy")
    yield proxy
    proxy.stop()


@pytest.fixture
def mitm_ca(mitm_confdir) -> Path:
    return mitm_confdir / "mitmproxy-ca-cert.pem"


@pytest.fixture
def context(browser, cookie_proxy, mitm_ca, tmp_path):
    browser_context = open_profile(browser, cookie_proxy, tmp_path / "profile", mitm_ca)
    yield browser_context
    browser_context.close()


def test_third_party_cookies_reach_neither_the_browser_nor_the_third_party(sites, cookie_proxy, context):
    serve(sites)
    set_mode(cookie_proxy, "default")
    plant(context, "cdn.test", "uid", "planted")
    context.new_page().goto("https://vendor.test/")
    pixel = sites["cdn.test"].wait_for("/pixel.gif")
    assert pixel.cookie is None
    assert jar(context, "cdn.test")["uid"]["value"] == "planted"  # uid=42 was never stored
    # The same cookie goes to cdn.test when it is the page: first party.
    context.new_page().goto("https://cdn.test/")
    assert sites["cdn.test"].wait_for("/").cookies == {"uid": "planted"}


def test_a_third_party_the_site_allows_gets_its_cookies_both_ways(sites, cookie_proxy, context):
    # The control for the test above: this browser does store and send third-party cookies.
    serve(sites, "other.test")
    whoknows(cookie_proxy, "site", "allow-3p", "other.test", "cdn.test")
    deadline = time.monotonic() + 10
    plant(context, "cdn.test", "uid", "planted")
    while True:
        page = context.new_page()
        page.goto("https://other.test/")
        page.close()
        if sites["cdn.test"].wait_for("/pixel.gif").cookies:
            break
        assert time.monotonic() < deadline, "the proxy did not apply allow-3p"
        time.sleep(0.2)
    assert sites["cdn.test"].wait_for("/pixel.gif").cookies == {"uid": "planted"}
    assert jar(context, "cdn.test")["uid"]["value"] == "42"


@pytest.mark.parametrize("mode", ["default", "session", "cap:1", "block"])
def test_first_party_cookies_follow_the_sites_mode(sites, cookie_proxy, context, mode):
    serve(sites)
    set_mode(cookie_proxy, mode)
    plant(context, "vendor.test", "old", "1")
    before = time.time()
    context.new_page().goto("https://vendor.test/")
    cookies = jar(context, "vendor.test")
    sent = sites["vendor.test"].wait_for("/").cookies
    if mode == "block":
        assert "sid" not in cookies
        assert sent == {}  # and what the browser held never went back
        return
    assert sent == {"old": "1"}
    expires = cookies["sid"]["expires"]
    if mode == "default":
        assert before + YEAR - 60 <= expires <= time.time() + YEAR + 60
    elif mode == "session":
        assert expires == -1
    else:
        assert before < expires <= time.time() + DAY + 60


def test_vendor_show_lists_the_third_parties_and_cookies_after_shutdown(sites, start_proxy, browser,
                                                                        mitm_ca, tmp_path):
    proxy = start_proxy(name="cookies-shutdown-proxy")  # flushes every 5 s: this is the last flush
    serve(sites)
    context = open_profile(browser, proxy, tmp_path / "profile", mitm_ca)
    try:
        for _ in range(2):
            context.new_page().goto("https://vendor.test/")
        sites["cdn.test"].wait_for("/pixel.gif", count=2)
    finally:
        context.close()
        assert proxy.stop() == 0
    record = json.loads(whoknows(proxy, "vendor", "show", "vendor.test", "--json").stdout)
    third = {e["subject"]: e for e in record["observations"]["third_parties"]["top"]}
    assert third["cdn.test"]["count"] == 2
    assert (third["cdn.test"]["detail"]["allowed"], third["cdn.test"]["blocked"]) == (2, 0)
    cookies = {e["subject"]: e["detail"] for e in record["observations"]["cookies"]["top"]}
    assert cookies["sid@vendor.test"]["third_party"] is False
    assert cookies["sid@vendor.test"]["granted_lifetime_seconds"] == YEAR
    assert cookies["uid@cdn.test"] == {
        "name": "uid", "site": "cdn.test", "third_party": True, "owner": None, "mode": "block",
        "asked_lifetime_seconds": YEAR, "granted_lifetime_seconds": None, "blocked": 2, "shortened": 0}
    shown = whoknows(proxy, "vendor", "show", "vendor.test").stdout
    assert "third party, asked 365 d, removed" in shown, shown
    assert "first party, asked 365 d, kept 365 d" in shown, shown


def test_counts_reach_the_ledger_while_the_proxy_runs(sites, cookie_proxy, context):
    serve(sites)
    set_mode(cookie_proxy, "default")
    context.new_page().goto("https://vendor.test/")
    sites["cdn.test"].wait_for("/pixel.gif")
    deadline = time.monotonic() + 10
    while True:
        record = json.loads(whoknows(cookie_proxy, "vendor", "show", "vendor.test", "--json").stdout)
        subjects = {e["subject"] for e in record["observations"]["cookies"]["top"]}
        if {"sid@vendor.test", "uid@cdn.test"} <= subjects:
            break
        assert time.monotonic() < deadline, f"not in the ledger yet: {subjects}"
        time.sleep(0.2)
    assert cookie_proxy.alive()
