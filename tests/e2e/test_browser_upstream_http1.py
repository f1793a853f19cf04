"""A page from an HTTP/1.1-only HTTPS site, loaded twice in Chromium through the real proxy.

The test sites speak only HTTP/1.1 (ALPN `http/1.1`). The first connection to a site keeps
mitmproxy's HTTP/2 to the browser; once the proxy has seen the site choose HTTP/1.1, the browser's
next connections are HTTP/1.1, and the page's requests reach the site over a few kept-alive
connections instead of one new connection (and TLS handshake) per request.
"""

import pytest

from e2e_browser import new_context

pytestmark = pytest.mark.slow

IMAGES = 8
GIF = (b"GIF89a\x01\x00\x01\x00\x80\x00\x00\x00\x00\x00\xff\xff\xff!\xf9\x04\x01\x00\x00\x00\x00,"
       b"\x00\x00\x00\x00\x01\x00\x01\x00\x00\x02\x02D\x01\x00;")
PROTOCOLS = """() => [performance.getEntriesByType('navigation')[0].nextHopProtocol,
                      ...performance.getEntriesByType('resource').map(e => e.nextHopProtocol)]"""


def serve_gallery(sites) -> None:
    vendor = sites["vendor.test"]
    vendor.page("/", "".join(f'<img src="/img/{i}.gif">' for i in range(IMAGES)))
    for i in range(IMAGES):
        vendor.page(f"/img/{i}.gif", GIF, content_type="image/gif", headers=[("cache-control", "no-store")])


def load(browser, proxy, sites) -> tuple[set[str], set[int]]:
    """Load the gallery in a fresh context: the protocols the browser used to the proxy, and the
    connections the page's requests reached the site on."""
    before = len(sites["vendor.test"].received())
    context = new_context(browser, proxy.url)
    try:
        page = context.new_page()
        page.goto("https://vendor.test/", wait_until="load")
        protocols = set(page.evaluate(PROTOCOLS))
    finally:
        context.close()
    requests = sites["vendor.test"].received()[before:]
    assert len(requests) == IMAGES + 1 + sum(r.url_path == "/favicon.ico" for r in requests)
    return protocols, {r.connection for r in requests}


def test_after_the_first_visit_an_http1_site_is_spoken_to_in_http1_over_reused_connections(
        sites, browser, start_proxy):
    proxy = start_proxy(name="upstream-http1")  # its own memory: no site seen yet
    serve_gallery(sites)
    first_protocols, _ = load(browser, proxy, sites)
    assert first_protocols == {"h2"}  # mitmproxy's default for a site not seen yet
    protocols, connections = load(browser, proxy, sites)
    assert protocols == {"http/1.1"}
    # Chromium opens at most six connections per host; each upstream one is kept alive for the next
    # request (with HTTP/2 to the browser, mitmproxy would open one per request: IMAGES + 1).
    assert len(connections) <= 6


def test_with_the_option_off_the_browser_keeps_http2(sites, browser, start_proxy):
    proxy = start_proxy("whoknows_upstream_http1=false", name="upstream-http1-off")
    serve_gallery(sites)
    load(browser, proxy, sites)
    protocols, connections = load(browser, proxy, sites)
    assert protocols == {"h2"}
    assert len(connections) > 6  # what the option is there to avoid
