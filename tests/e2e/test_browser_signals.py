"""Chromium through the real proxy process: privacy signals arrive, Referers shrink, nothing leaks."""

import pytest

from e2e_browser import new_context
from e2e_sites import GIF

pytestmark = pytest.mark.slow

# The page asks for full Referers everywhere (`unsafe-url`), so what arrives trimmed was trimmed by
# the proxy, not by Chromium's own default policy (strict-origin-when-cross-origin).
ARTICLE = """<!doctype html><html><head><meta name="referrer" content="unsafe-url">
<script src="https://cdn.test/lib.js"></script></head>
<body><h1>Order 42</h1>
<img src="https://static.vendor.test/logo.gif">
<img src="https://tracker.test/pixel.gif">
</body></html>"""


def serve_article(sites):
    sites["vendor.test"].page("/account/orders", ARTICLE)
    sites["cdn.test"].page("/lib.js", "window.libLoaded = true;", content_type="text/javascript")
    sites["vendor.test"].page("/logo.gif", GIF, content_type="image/gif")
    sites["tracker.test"].page("/pixel.gif", GIF, content_type="image/gif")


def test_gpc_and_dnt_reach_the_vendor_over_https(sites, page):
    sites["vendor.test"].page("/", "<!doctype html><title>vendor</title>")
    response = page.goto("https://vendor.test/")
    assert response.status == 200
    hit = sites["vendor.test"].wait_for("/")
    assert hit.scheme == "https"
    assert hit.header("sec-gpc") == "1"
    assert hit.header("dnt") == "1"


def test_a_cross_site_referer_is_cut_to_the_origin_and_a_same_site_one_kept(sites, page):
    serve_article(sites)
    page.goto("https://vendor.test/account/orders?id=42")
    assert page.evaluate("window.libLoaded") is True
    assert sites["cdn.test"].wait_for("/lib.js").header("referer") == "https://vendor.test/"
    logo = sites["vendor.test"].wait_for("/logo.gif")
    assert logo.host == "static.vendor.test"
    assert logo.header("referer") == "https://vendor.test/account/orders?id=42"


def test_tracker_requests_get_no_referer(sites, browser, start_proxy):
    # e2e_addons.MarkTrackers plays the blocking addon: it marks tracker.test requests.
    proxy = start_proxy(addons=("e2e_addons:MarkTrackers",), name="marking-proxy")
    serve_article(sites)
    context = new_context(browser, proxy.url)
    try:
        context.new_page().goto("https://vendor.test/account/orders?id=42")
        pixel = sites["tracker.test"].wait_for("/pixel.gif")
        assert pixel.header("referer") is None
        assert pixel.header("sec-gpc") == "1"
        assert sites["cdn.test"].wait_for("/lib.js").header("referer") == "https://vendor.test/"
    finally:
        context.close()
        proxy.stop()


def test_dnt_off_keeps_gpc(sites, browser, start_proxy):
    proxy = start_proxy("whoknows_dnt=false", name="no-dnt-proxy")
    sites["vendor.test"].page("/", "<!doctype html><title>vendor</title>")
    context = new_context(browser, proxy.url)
    try:
        context.new_page().goto("http://vendor.test/")
        hit = sites["vendor.test"].wait_for("/")
        assert hit.scheme == "http"
        assert hit.header("dnt") is None
        assert hit.header("sec-gpc") == "1"
    finally:
        context.close()
        proxy.stop()


@pytest.mark.parametrize("url", ["http://example.com/", "https://example.com/"])
def test_names_outside_the_test_sites_never_leave_the_machine(sites, page, proxy, url):
    response = page.goto(url)
    assert response.status == 502  # the proxy's own error page: it could not (may not) connect
    assert "example.com" in proxy.refused_names()
    assert sites.received() == []


def test_the_pac_file_is_served_through_the_proxy(browser_context, proxy):
    # A browser downloads a PAC file rather than showing it: fetch it with the context's own client.
    response = browser_context.request.get("http://whoknows.proxy/proxy.pac")
    assert response.status == 200
    assert response.headers["content-type"] == "application/x-ns-proxy-autoconfig"
    assert f'"PROXY 127.0.0.1:{proxy.port}"' in response.text()
    assert "whoknows.proxy" not in proxy.refused_names()  # answered, never resolved
