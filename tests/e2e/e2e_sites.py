"""Local web sites for end-to-end tests: real HTTP and HTTPS servers on loopback.

One HTTP server and one HTTPS server (certificate from `e2e_pki`) serve every test site; the Host
header picks the site. The proxy under test maps `*.test:80` and `*.test:443` to these two ports, so
pages use plain URLs such as `https://vendor.test/` and `http://cdn.test/lib.js`.

Each site records every request it receives (method, path, headers, body) so a test can assert
what reached it, and serves the pages a test configures:

    sites["vendor.test"].page("/", '<img src="https://tracker.test/pixel.gif">',
                              headers=[("set-cookie", "sid=1; Secure")])
    sites["tracker.test"].page("/pixel.gif", GIF, content_type="image/gif")
    ...browser loads https://vendor.test/ through the proxy...
    hit = sites["tracker.test"].wait_for("/pixel.gif")
    assert hit.header("sec-gpc") == "1" and hit.cookie is None

A page may also be a function of the request (`page(path, lambda request: Reply(...))`).
Unconfigured paths answer 404 (and are recorded too).

A page may misbehave as no well-made server does, to test what the proxy makes of it:

    sites["vendor.test"].page("/odd", raw=status_line + odd_header_lines + blank_line + body)
    sites["vendor.test"].page("/cut", raw=head_saying_length_9 + b"half", reset=True)

`raw` is sent byte for byte instead of a response built from the other arguments (header lines
nobody would send, a head of any size, a body shorter than its Content-Length), then the
connection is closed; `reset=True` resets the connection after the response (TCP RST: no FIN, no
TLS close_notify) instead of keeping or closing it.

A page may also write its answer itself, as it goes (a stream of events, a body sent in pieces, a
WebSocket: `e2e_websocket.echo`); the connection is closed when the function returns:

    def events(request: Received, out: Exchange) -> None:
        out.head(200, [("content-type", "text/event-stream")])
        out.write(b"data: first\n\n")
        ...
    sites["vendor.test"].page("/events", handler=events)

A chunked request body is read (and recorded) whole before the page answers.
"""

from __future__ import annotations

import http.server
import itertools
import socket
import ssl
import struct
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from dataclasses import field
from urllib.parse import parse_qsl
from urllib.parse import urlsplit

from e2e_pki import SitePKI

# Names the test sites answer (each with its subdomains). Add a name here to get another site.
# news.test, blog.test: more first-party sites; widgets.test: a third party no list knows (learned trackers).
SITE_NAMES = ("vendor.test", "tracker.test", "cdn.test", "other.test", "news.test", "blog.test", "widgets.test")
GIF = (b"GIF89a\x01\x00\x01\x00\x80\x00\x00\x00\x00\x00\xff\xff\xff!\xf9\x04\x01\x00\x00\x00\x00,"
       b"\x00\x00\x00\x00\x01\x00\x01\x00\x00\x02\x02D\x01\x00;")


@dataclass(frozen=True)
class Received:
    """One request as a test site received it."""

    site: str  # the registered site name (a subdomain's request belongs to its site)
    host: str  # the Host header, without port
    scheme: str
    method: str
    path: str  # with the query string
    headers: tuple[tuple[str, str], ...]  # lowercase names, in order, repeats kept
    body: bytes
    connection: int = 0  # which TCP connection it came on (numbered from 1 as the sites accept them)

    def header(self, name: str) -> str | None:
        values = self.header_all(name)
        return ", ".join(values) if values else None

    def header_all(self, name: str) -> list[str]:
        name = name.lower()
        return [v for k, v in self.headers if k == name]

    @property
    def cookie(self) -> str | None:
        return self.header("cookie")

    @property
    def cookies(self) -> dict[str, str]:
        pairs = (part.strip().partition("=") for c in self.header_all("cookie") for part in c.split(";"))
        return {k: v for k, _, v in pairs if k}

    @property
    def url_path(self) -> str:
        return urlsplit(self.path).path

    @property
    def query(self) -> dict[str, str]:
        return dict(parse_qsl(urlsplit(self.path).query, keep_blank_values=True))


class Exchange:
    """The connection a `handler` page answers on: write a head, then body bytes as they come."""

    def __init__(self, handler: "_Handler") -> None:
        self._handler = handler
        self.rfile = handler.rfile  # what the client sends next (a WebSocket's frames)

    def head(self, status: int, headers: list[tuple[str, str]] | tuple = ()) -> None:
        self._handler.send_response(status)
        for name, value in headers:
            self._handler.send_header(name, value)
        self._handler.end_headers()
        self._handler.wfile.flush()

    def write(self, data: bytes) -> None:
        """Send `data` now (not buffered); OSError once the client has gone."""
        self._handler.wfile.write(data)
        self._handler.wfile.flush()

    def reset(self) -> None:
        """Vanish: reset the connection (TCP RST), as a server that crashed mid-answer."""
        self._handler._reset()


@dataclass
class Reply:
    """What a site answers for one path."""

    body: bytes | str = b""
    status: int = 200
    content_type: str = "text/html; charset=utf-8"
    headers: list[tuple[str, str]] = field(default_factory=list)  # e.g. ("set-cookie", "a=1")
    raw: bytes | None = None  # sent as it is instead of status, headers and body
    reset: bool = False  # after sending, reset the connection (TCP RST) instead of keeping or closing it
    handler: Callable[[Received, Exchange], None] | None = None  # writes the answer itself


class Site:
    def __init__(self, name: str) -> None:
        self.name = name
        self._pages: dict[str, Reply | Callable[[Received], Reply]] = {}
        self._received: list[Received] = []
        self._changed = threading.Condition()

    def page(self, path: str, body: bytes | str | Callable[[Received], Reply] = b"", *,
             status: int = 200, content_type: str = "text/html; charset=utf-8",
             headers: list[tuple[str, str]] | tuple = (), raw: bytes | None = None,
             reset: bool = False, handler: Callable[[Received, Exchange], None] | None = None) -> None:
        """Serve `body` at `path` (matched without the query string), or call it per request.

        `raw`: send these bytes as the whole response instead; `reset`: then reset the connection;
        `handler`: let it write the answer (`Exchange`), then close the connection."""
        self._pages[path] = body if callable(body) else Reply(body, status, content_type, list(headers),
                                                              raw, reset, handler)

    def received(self, path: str | None = None) -> list[Received]:
        """Requests received so far (to `path`, matched without the query string, if given)."""
        with self._changed:
            return [r for r in self._received if path is None or r.url_path == path]

    def wait_for(self, path: str, timeout: float = 5.0, count: int = 1) -> Received:
        """The latest request to `path` once at least `count` arrived; AssertionError after `timeout`."""
        deadline = time.monotonic() + timeout
        with self._changed:
            while True:
                hits = [r for r in self._received if r.url_path == path]
                if len(hits) >= count:
                    return hits[-1]
                left = deadline - time.monotonic()
                if left <= 0:
                    seen = sorted({r.path for r in self._received})
                    raise AssertionError(f"{self.name} got no request for {path} within {timeout} s "
                                         f"(it got: {seen or 'nothing'})")
                self._changed.wait(left)

    def reset(self) -> None:
        with self._changed:
            self._pages.clear()
            self._received.clear()

    def _record(self, request: Received) -> Reply:
        with self._changed:
            self._received.append(request)
            self._changed.notify_all()
        page = self._pages.get(request.url_path)
        if page is None:
            return Reply(f"{self.name}: no page at {request.url_path}\n", 404, "text/plain")
        return page(request) if callable(page) else page


_connection_numbers = itertools.count(1)


class _Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, as browsers and the proxy expect
    timeout = 10  # an idle keep-alive connection ends; a stuck client cannot pin a thread for ever
    server: "_Server"

    def setup(self) -> None:  # one handler per connection
        super().setup()
        self.connection_number = next(_connection_numbers)

    def _serve(self) -> None:
        host = (self.headers.get("host") or "").rsplit(":", 1)[0].lower()
        if "chunked" in (self.headers.get("transfer-encoding") or "").lower():
            body = self._read_chunked()
        else:
            length = int(self.headers.get("content-length") or 0)
            body = self.rfile.read(length) if length else b""
        site = self.server.sites.site_for(host)
        request = Received(site.name if site else host, host, self.server.scheme, self.command,
                           self.path, tuple((k.lower(), v) for k, v in self.headers.items()), body,
                           self.connection_number)
        reply = site._record(request) if site else Reply(f"unknown site {host}\n", 421, "text/plain")
        if reply.handler is not None:
            self.close_connection = True
            try:
                reply.handler(request, Exchange(self))
            except OSError:  # the client went away: what the page was for (or a test's failure)
                pass
        elif reply.raw is not None:
            self.wfile.write(reply.raw)
            self.close_connection = True  # the end of the connection may be what ends the body
        else:
            self._send_reply(reply)
        if reply.reset:
            self._reset()

    def _read_chunked(self) -> bytes:
        body = bytearray()
        while size := int(self.rfile.readline().split(b";")[0].strip() or b"0", 16):
            body += self.rfile.read(size)
            self.rfile.readline()  # the CRLF after each chunk
        while self.rfile.readline() not in (b"\r\n", b"\n", b""):  # trailers
            pass
        return bytes(body)

    def _send_reply(self, reply: Reply) -> None:
        content = reply.body.encode() if isinstance(reply.body, str) else reply.body
        self.send_response(reply.status)
        self.send_header("content-type", reply.content_type)
        self.send_header("content-length", str(len(content)))
        for name, value in reply.headers:
            self.send_header(name, value)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(content)

    def _reset(self) -> None:
        """Abort the connection: with a zero linger time, closing sends RST rather than FIN."""
        self.close_connection = True
        self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        self.rfile.close()  # the last reference to the socket besides `connection`: close is real
        self.connection.close()

    do_GET = do_POST = do_PUT = do_DELETE = do_HEAD = do_OPTIONS = do_PATCH = _serve

    def log_message(self, format, *args) -> None:  # quiet: tests read `received` instead
        pass


class _Server(http.server.ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False

    def __init__(self, scheme: str, sites: "LocalSites", tls: ssl.SSLContext | None) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.scheme, self.sites = scheme, sites
        if tls is not None:
            # The handshake happens in the handler's thread, so a slow client cannot stall accept().
            self.socket = tls.wrap_socket(self.socket, server_side=True, do_handshake_on_connect=False)

    def handle_error(self, request, client_address) -> None:  # a client hanging up is not news
        pass


class LocalSites:
    """The test sites, served over HTTP and HTTPS on two loopback ports."""

    def __init__(self, pki: SitePKI, names: tuple[str, ...] = SITE_NAMES) -> None:
        self.sites = {name: Site(name) for name in names}
        tls = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        tls.load_cert_chain(pki.leaf_cert, pki.leaf_key)
        tls.set_alpn_protocols(["http/1.1"])
        self._servers = [_Server("http", self, None), _Server("https", self, tls)]
        self._threads = [threading.Thread(target=s.serve_forever, kwargs={"poll_interval": 0.1},
                                          daemon=True, name=f"e2e-{s.scheme}") for s in self._servers]

    @property
    def http_port(self) -> int:
        return self._servers[0].server_address[1]

    @property
    def https_port(self) -> int:
        return self._servers[1].server_address[1]

    def __getitem__(self, name: str) -> Site:
        return self.sites[name]

    def site_for(self, host: str) -> Site | None:
        for name, site in self.sites.items():
            if host == name or host.endswith("." + name):
                return site
        return None

    def received(self) -> list[Received]:
        """Every request any site received, in no particular order across sites."""
        return [r for site in self.sites.values() for r in site.received()]

    def reset(self) -> None:
        for site in self.sites.values():
            site.reset()

    def start(self) -> "LocalSites":
        for thread in self._threads:
            thread.start()
        return self

    def stop(self) -> None:
        for server in self._servers:
            server.shutdown()
            server.server_close()
