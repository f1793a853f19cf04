"""A loopback HTTP server that plays filter-list hosts, good and bad; no test touches the network."""

import gzip
import http.server
import socket
import struct
import threading
from dataclasses import dataclass, field

import pytest


@dataclass
class Route:
    """What the server does for one path."""

    body: bytes = b""
    status: int = 200
    content_type: str = "text/plain; charset=utf-8"
    etag: str | None = None
    last_modified: str | None = None
    behaviour: str = "normal"  # normal | reset | hang | drip | truncate
    gzip: bool = False  # compress when the client accepts gzip


@dataclass
class Seen:
    path: str
    headers: dict
    status: int = 0
    body_bytes: int = 0


@dataclass
class ListServer:
    """Routes are set by the test; every request is recorded in `seen` (what a client asked for)."""

    port: int = 0
    routes: dict[str, Route] = field(default_factory=dict)
    seen: list[Seen] = field(default_factory=list)
    stop: threading.Event = field(default_factory=threading.Event)

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def serve(self, path: str, body: str | bytes = b"", **options) -> str:
        data = body.encode() if isinstance(body, str) else body
        self.routes[path] = Route(body=data, **options)
        return self.url(path)

    def requests_for(self, path: str) -> list[Seen]:
        return [s for s in self.seen if s.path == path]


class _Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):  # keep pytest output clean
        pass

    def do_GET(self):
        state: ListServer = self.server.state
        seen = Seen(self.path, {k.lower(): v for k, v in self.headers.items()})
        state.seen.append(seen)
        route = state.routes.get(self.path)
        if route is None:
            return self._send(seen, 404, b"not found", "text/plain")
        getattr(self, f"_{route.behaviour}")(route, seen)

    def _normal(self, route: Route, seen: Seen):
        fresh_etag = route.etag and self.headers.get("If-None-Match") == route.etag
        fresh_date = route.last_modified and self.headers.get("If-Modified-Since") == route.last_modified
        if route.status == 200 and (fresh_etag or fresh_date):
            return self._send(seen, 304, b"", None, route)
        body, encoding = route.body, None
        if route.gzip and "gzip" in self.headers.get("Accept-Encoding", ""):
            body, encoding = gzip.compress(body), "gzip"
        self._send(seen, route.status, body, route.content_type, route, encoding)

    def _send(self, seen, status, body, content_type, route=None, encoding=None):
        seen.status, seen.body_bytes = status, len(body)
        self.send_response(status)
        if content_type:
            self.send_header("Content-Type", content_type)
        if encoding:
            self.send_header("Content-Encoding", encoding)
        if route and route.etag:
            self.send_header("ETag", route.etag)
        if route and route.last_modified:
            self.send_header("Last-Modified", route.last_modified)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def _reset(self, route, seen):
        # SO_LINGER 0: close() sends a TCP RST instead of a FIN, as a dropped connection would.
        self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        self.connection.close()
        self.close_connection = True

    def _hang(self, route, seen):
        self.server.state.stop.wait(30)  # never answer (until the test ends)
        self.close_connection = True

    def _drip(self, route, seen):
        # Headers at once, then one byte every 0.1 s: no single read times out, the whole does.
        self.send_response(200)
        self.send_header("Content-Length", str(len(route.body)))
        self.end_headers()
        for byte in route.body:
            if self.server.state.stop.wait(0.1):
                break
            self.wfile.write(bytes([byte]))
            self.wfile.flush()
        self.close_connection = True

    def _truncate(self, route, seen):
        self.send_response(200)
        self.send_header("Content-Length", str(len(route.body) * 2))
        self.end_headers()
        self.wfile.write(route.body)
        self.close_connection = True


class _Server(http.server.ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request, client_address):  # resets and hangs are on purpose
        pass


@pytest.fixture
def list_server():
    state = ListServer()
    server = _Server(("127.0.0.1", 0), _Handler)
    server.state = state
    state.port = server.server_address[1]
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield state
    finally:
        state.stop.set()
        server.shutdown()
        server.server_close()
        thread.join(5)


@pytest.fixture(autouse=True)
def no_proxy_env(monkeypatch):
    """urllib honours $http_proxy; the tests talk to 127.0.0.1 directly."""
    for name in ("http_proxy", "https_proxy", "all_proxy", "HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY"):
        monkeypatch.delenv(name, raising=False)


@pytest.fixture
def closed_port() -> int:
    """A loopback port with nothing listening: connecting is refused, as when offline."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    sock.close()
    return port


@pytest.fixture(autouse=True)
def loopback_only(monkeypatch):
    """Fail loudly if a test would reach a real host (say, a default subscription left in place).

    `.invalid` names go to the real resolver: RFC 6761 guarantees they never resolve.
    """
    real = socket.getaddrinfo

    def guarded(host, *args, **kwargs):
        name = host.decode() if isinstance(host, bytes) else str(host)
        if name not in ("127.0.0.1", "localhost", "::1") and not name.endswith(".invalid"):
            raise AssertionError(f"test tried to reach {name}: tests use loopback only")
        return real(host, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", guarded)
