"""The upstream_http1 addon: the browser is offered HTTP/1.1 for a server known to speak only that.

Negotiation goes through mitmproxy's own ALPN callback (`tlsconfig.alpn_select_callback`) with the
connection data the addon leaves, so these tests see the protocol the browser would get.
"""

from mitmproxy import options
from mitmproxy import tls
from mitmproxy.addons.tlsconfig import AppData
from mitmproxy.addons.tlsconfig import alpn_select_callback
from mitmproxy.proxy import context
from mitmproxy.test import taddons
from mitmproxy.test import tflow
from OpenSSL import SSL

from proxy_addons import upstream_http1
from proxy_addons.upstream_http1 import UpstreamHttp1

BROWSER_OFFERS = [b"h2", b"http/1.1"]  # what Chromium offers, in its order


def server_handshake(addon: UpstreamHttp1, host: str, chose: bytes | None, port: int = 443,
                     offered: tuple = (b"h2", b"http/1.1")) -> None:
    """The proxy's TLS connection to host:port ended its handshake with `chose` as protocol."""
    server = tflow.tserver_conn()
    server.address, server.alpn_offers, server.alpn = (host, port), offered, chose
    addon.tls_established_server(tls.TlsData(server, context.Context(tflow.tclient_conn(), options.Options())))


def browser_protocol(addon: UpstreamHttp1, host: str, port: int = 443) -> bytes:
    """What the browser's next TLS connection to the proxy for host:port negotiates (lazy: the
    server is not connected yet), as tlsconfig sets it up and mitmproxy's callback decides."""
    client = tflow.tclient_conn()
    ctx_ = context.Context(client, options.Options())
    ctx_.server = tflow.tserver_conn()
    ctx_.server.address, ctx_.server.alpn = (host, port), None
    ssl_conn = SSL.Connection(SSL.Context(SSL.TLS_METHOD))
    ssl_conn.set_app_data(AppData(client_alpn=None, server_alpn=None, http2=True))  # tlsconfig's
    addon.tls_start_client(tls.TlsData(client, ctx_, ssl_conn))
    return alpn_select_callback(ssl_conn, BROWSER_OFFERS)


def test_a_server_not_seen_yet_keeps_mitmproxys_http2():
    addon = UpstreamHttp1()
    with taddons.context(addon):
        assert browser_protocol(addon, "shop.example") == b"h2"


def test_after_a_server_chose_http1_its_next_browser_connection_is_http1():
    addon = UpstreamHttp1()
    with taddons.context(addon):
        server_handshake(addon, "Shop.Example.", b"http/1.1")
        assert browser_protocol(addon, "shop.example") == b"http/1.1"
        assert browser_protocol(addon, "shop.example", port=8443) == b"h2"  # another server
        assert browser_protocol(addon, "cdn.example") == b"h2"


def test_a_server_without_alpn_counts_as_http1():
    addon = UpstreamHttp1()
    with taddons.context(addon):
        server_handshake(addon, "old.example", None)
        assert browser_protocol(addon, "old.example") == b"http/1.1"


def test_a_server_that_moved_to_http2_gets_http2_again():
    addon = UpstreamHttp1()
    with taddons.context(addon):
        server_handshake(addon, "shop.example", b"http/1.1")
        server_handshake(addon, "shop.example", b"h2")
        assert browser_protocol(addon, "shop.example") == b"h2"


def test_a_server_never_offered_http2_teaches_nothing():
    # A client that offered only HTTP/1.1 (curl --http1.1): the server had no choice to make.
    addon = UpstreamHttp1()
    with taddons.context(addon):
        server_handshake(addon, "shop.example", b"http/1.1", offered=(b"http/1.1",))
        assert browser_protocol(addon, "shop.example") == b"h2"


def test_the_option_turns_it_off():
    addon = UpstreamHttp1()
    with taddons.context(addon) as tctx:
        tctx.configure(addon, whoknows_upstream_http1=False)
        server_handshake(addon, "shop.example", b"http/1.1")
        assert browser_protocol(addon, "shop.example") == b"h2"


def test_the_memory_is_bounded_least_recently_seen_out(monkeypatch):
    monkeypatch.setattr(upstream_http1, "MAX_HOSTS", 3)
    addon = UpstreamHttp1()
    with taddons.context(addon):
        for host in ("a.example", "b.example", "c.example"):
            server_handshake(addon, host, b"http/1.1")
        server_handshake(addon, "a.example", b"http/1.1")  # seen again: now the most recent
        server_handshake(addon, "d.example", b"http/1.1")
        assert len(addon.http1_servers) == 3
        assert browser_protocol(addon, "b.example") == b"h2"  # the least recently seen went
        assert {browser_protocol(addon, h) for h in ("a.example", "c.example", "d.example")} == {b"http/1.1"}
