"""Speak HTTP/1.1 to the browser for a host whose server speaks only HTTP/1.1 (speed only).

What mitmproxy does otherwise: with `connection_strategy=lazy` (whoknows's), the browser's TLS
handshake with the proxy ends before any server is contacted, so mitmproxy offers it HTTP/2. When
the server then turns out to speak only HTTP/1.1, mitmproxy never reuses an upstream connection for
that HTTP/2 client ("tricky multiplexing edge case" in mitmproxy.proxy.layers.http: a response
read until EOF cannot share a connection): every request opens a new TCP connection and TLS
session to the server, each paying the network's round trips. On a page with a dozen images from
such a host that is a dozen handshakes instead of the six connections, each kept alive, that the
browser uses going direct (bench/bench_pageload.py).

What this addon does: it remembers, per server (name and port), that its last TLS connection from
the proxy was offered HTTP/2 and chose HTTP/1.1; the browser's next connection to that server is
then offered HTTP/1.1 (the browser opens parallel keep-alive connections, each with its own reused
upstream connection, as it would going direct). A server that chose HTTP/2 is forgotten again
(mitmproxy's default, HTTP/2 on both sides, is then right). The first connection to a server not
yet seen keeps mitmproxy's default. The memory holds at most `MAX_HOSTS` servers, least recently
seen first out, and only in memory (a restart forgets it; one connection relearns each host).

Option `whoknows_upstream_http1` (default on) turns it off.
"""

from __future__ import annotations

from collections import OrderedDict

from mitmproxy import ctx
from mitmproxy import tls

MAX_HOSTS = 4096
HTTP1 = b"http/1.1"
H2 = b"h2"

ServerKey = tuple[str, int]


class UpstreamHttp1:
    name = "whoknows_upstream_http1"

    def __init__(self) -> None:
        self.http1_servers: OrderedDict[ServerKey, None] = OrderedDict()

    def load(self, loader) -> None:
        loader.add_option(
            "whoknows_upstream_http1", bool, True,
            "Offer the browser HTTP/1.1 instead of HTTP/2 for a server that answered the proxy's "
            "last connection in HTTP/1.1 (mitmproxy reuses no upstream connection between an "
            "HTTP/2 browser and an HTTP/1.1 server: every request would pay a new handshake).")

    @staticmethod
    def _key(address) -> ServerKey | None:
        if not address:
            return None
        return str(address[0]).lower().rstrip("."), int(address[1])

    def tls_established_server(self, data: tls.TlsData) -> None:
        server = data.conn
        key = self._key(server.address)
        if key is None or H2 not in (server.alpn_offers or ()):
            return  # only a server that could have chosen HTTP/2 tells us anything
        if server.alpn == H2:
            self.http1_servers.pop(key, None)
            return
        self.http1_servers[key] = None
        self.http1_servers.move_to_end(key)
        while len(self.http1_servers) > MAX_HOSTS:
            self.http1_servers.popitem(last=False)

    def tls_start_client(self, tls_start: tls.TlsData) -> None:
        if not ctx.options.whoknows_upstream_http1 or tls_start.ssl_conn is None:
            return
        server = tls_start.context.server
        if server.alpn is not None:  # already connected: mitmproxy mirrors what the server chose
            return
        key = self._key(server.address)
        if key is None or key not in self.http1_servers:
            return
        app_data = tls_start.ssl_conn.get_app_data()
        # mitmproxy's ALPN callback (addons.tlsconfig.alpn_select_callback) picks the server's
        # protocol when the browser offers it, as if the server were connected already.
        if isinstance(app_data, dict) and app_data.get("server_alpn") is None:
            app_data["server_alpn"] = HTTP1
