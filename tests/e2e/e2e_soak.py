"""A soak of the real proxy process: every kind of everyday traffic from several clients at once.

    result = soak(workdir, seconds=180, warmup=30)     # bench/bench_soak.py, tests/e2e/test_soak.py
    result.failures, result.rss_growth_mb, result.ledger_rows_growth, ...

Everything on loopback and bounded in time. Parts:
- origin (`SoakOrigin`): one HTTP and one HTTPS server (the e2e test CA's certificate) answering
  every test site (`vendor.test`, `cdn.test`, `tracker.test`, `other.test`; the proxy maps their
  ports 80 and 443 here): a small page that sets a cookie, a script, a body of any size sent in
  64 KB pieces (`/big?bytes=N`), an upload sink (`POST /upload`, read in pieces and counted), and
  a WebSocket echo (`/ws`: RFC 6455, unfragmented frames).
- proxy: `e2e_proxy.ProxyProcess` (the real `proxy_addons.runner` in its sealed process), blocking
  `tracker.test` (`whoknows_extra_filters`), watching one email value (the leak scanner works),
  flushing to its ledger every second; `stream_large_bodies=1m` when that option exists (the run
  says whether it did).
- clients (threads, each its own connections, kept alive as a browser keeps them):
  browse (2): pages over HTTP and HTTPS, a third party's script with a tracking parameter and
  query values that change every time, the watched email in a third party's URL (a leak, which
  leak prevention answers itself: checked), and
  tracker requests the proxy answers itself (checked: `x-whoknows-blocked`);
  large (1): 8 MB downloads and 4 MB uploads in turn, over HTTP and HTTPS (sizes checked);
  websocket (1): short connections, ws and wss in turn, 20 echoes each (contents checked);
  websocket-long (1): one wss connection kept open all along, an echo every 20 ms.
- measured: the proxy's RSS every second (/proc/PID/status) after the warm-up, its growth (end
  minus the warm-up's last sample), the highest sample, and where it is at the end
  (`memory_map`: /proc/PID/smaps by kind of mapping); the ledger's rows (every table) and size
  (file and WAL) at the end of the warm-up and after the proxy has stopped (its last flush); every
  failed request, with the first few reasons.
"""

from __future__ import annotations

import base64
import dataclasses
import hashlib
import http.client
import http.server
import os
import socket
import sqlite3
import ssl
import struct
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from urllib.parse import parse_qs
from urllib.parse import urlsplit

from e2e_pki import make_pki
from e2e_proxy import ProxyProcess
from e2e_sites import GIF
from e2e_sites import SITE_NAMES

WS_GUID = "258EAFA5-E914-47DA-95CA-C5AB0DC11B85"
PIECE = bytes(range(256)) * 256  # 64 KB, the unit bodies are sent and checked in
STREAM_OPTION = "stream_large_bodies=1m"
WATCHED_EMAIL = "soak.user@example.org"
DOWNLOAD_BYTES = 8 * 1024 * 1024
UPLOAD_BYTES = 4 * 1024 * 1024
WS_ECHOES = 20
LONG_WS_PAUSE = 0.02
TIMEOUT = 30.0
PAGE = "https://vendor.test/page"
FROM_PAGE = {"referer": PAGE, "sec-fetch-site": "cross-site", "sec-fetch-mode": "no-cors"}
MAX_REASONS = 10
FLAT_MB_PER_MIN = 0.05  # an RSS slope this small is flat: 3 MB an hour
WHOKNOWS = Path(sys.executable).with_name("whoknows")


# -- the origin -----------------------------------------------------------------------------------


def ws_accept(key: str) -> str:
    return base64.b64encode(hashlib.sha1((key + WS_GUID).encode()).digest()).decode()


def _read_exact(stream, count: int) -> bytes:
    data = b""
    while len(data) < count:
        chunk = stream.read(count - len(data))
        if not chunk:
            raise ConnectionError("the connection ended inside a WebSocket frame")
        data += chunk
    return data


def read_frame(stream) -> tuple[int, bytes]:
    """One unfragmented WebSocket frame from a buffered stream: (opcode, payload), unmasked."""
    first, second = _read_exact(stream, 2)
    length = second & 0x7F
    if length == 126:
        length = struct.unpack("!H", _read_exact(stream, 2))[0]
    elif length == 127:
        length = struct.unpack("!Q", _read_exact(stream, 8))[0]
    mask = _read_exact(stream, 4) if second & 0x80 else None
    payload = _read_exact(stream, length)
    if mask:
        payload = bytes(b ^ mask[i % 4] for i, b in enumerate(payload))
    return first & 0x0F, payload


def frame(opcode: int, payload: bytes, masked: bool) -> bytes:
    """One final WebSocket frame (clients mask, servers do not)."""
    head = bytes([0x80 | opcode])
    bit = 0x80 if masked else 0
    if len(payload) < 126:
        head += bytes([bit | len(payload)])
    elif len(payload) < 1 << 16:
        head += bytes([bit | 126]) + struct.pack("!H", len(payload))
    else:
        head += bytes([bit | 127]) + struct.pack("!Q", len(payload))
    if not masked:
        return head + payload
    mask = os.urandom(4)
    return head + mask + bytes(b ^ mask[i % 4] for i, b in enumerate(payload))


class _OriginHandler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    timeout = 60

    def do_GET(self) -> None:
        parts = urlsplit(self.path)
        if parts.path == "/ws" and self.headers.get("upgrade", "").lower() == "websocket":
            return self._websocket()
        if parts.path == "/big":
            size = int(parse_qs(parts.query).get("bytes", ["0"])[0])
            self._head(200, "application/octet-stream", size)
            sent = 0
            while sent < size:
                piece = PIECE[: size - sent]
                self.wfile.write(piece)
                sent += len(piece)
            return
        if parts.path == "/page":
            body = b"<!doctype html><title>shop</title>" + b"<p>products</p>" * 100
            return self._send(body, "text/html", [("set-cookie", "sid=abc; Max-Age=31536000; Path=/")])
        if parts.path == "/pixel.gif":
            return self._send(GIF, "image/gif")
        return self._send(b"window.x = 1;", "text/javascript")

    def do_POST(self) -> None:
        left = int(self.headers.get("content-length") or 0)
        received = 0
        while left:
            chunk = self.rfile.read(min(left, len(PIECE)))
            if not chunk:
                break
            received += len(chunk)
            left -= len(chunk)
        self._send(str(received).encode(), "text/plain")

    def _head(self, status: int, content_type: str, length: int, headers=()) -> None:
        self.send_response(status)
        self.send_header("content-type", content_type)
        self.send_header("content-length", str(length))
        self.send_header("cache-control", "no-store")
        for name, value in headers:
            self.send_header(name, value)
        self.end_headers()

    def _send(self, body: bytes, content_type: str, headers=()) -> None:
        self._head(200, content_type, len(body), headers)
        self.wfile.write(body)

    def _websocket(self) -> None:
        self.send_response(101)
        self.send_header("upgrade", "websocket")
        self.send_header("connection", "Upgrade")
        self.send_header("sec-websocket-accept", ws_accept(self.headers["sec-websocket-key"]))
        self.end_headers()
        self.wfile.flush()
        self.close_connection = True
        try:
            while True:
                opcode, payload = read_frame(self.rfile)
                if opcode == 0x8:  # close: answer it, then the connection ends
                    self.wfile.write(frame(0x8, payload[:2], masked=False))
                    return
                if opcode in (0x1, 0x2):
                    self.wfile.write(frame(opcode, payload, masked=False))
                    self.wfile.flush()
        except (ConnectionError, OSError):
            return

    def log_message(self, format, *args) -> None:
        pass


class _OriginServer(http.server.ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False
    request_queue_size = 64

    def __init__(self, tls: ssl.SSLContext | None) -> None:
        super().__init__(("127.0.0.1", 0), _OriginHandler)
        if tls is not None:
            self.socket = tls.wrap_socket(self.socket, server_side=True, do_handshake_on_connect=False)

    def handle_error(self, request, client_address) -> None:
        pass


class SoakOrigin:
    """Every test site over HTTP and HTTPS, on two loopback ports."""

    def __init__(self, pki) -> None:
        tls = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        tls.load_cert_chain(pki.leaf_cert, pki.leaf_key)
        tls.set_alpn_protocols(["http/1.1"])
        self.servers = [_OriginServer(None), _OriginServer(tls)]
        self.threads = [threading.Thread(target=s.serve_forever, kwargs={"poll_interval": 0.1}, daemon=True)
                        for s in self.servers]

    @property
    def http_port(self) -> int:
        return self.servers[0].server_address[1]

    @property
    def https_port(self) -> int:
        return self.servers[1].server_address[1]

    def start(self) -> "SoakOrigin":
        for thread in self.threads:
            thread.start()
        return self

    def stop(self) -> None:
        for server in self.servers:
            server.shutdown()
            server.server_close()


# -- clients --------------------------------------------------------------------------------------


@dataclasses.dataclass
class Tally:
    """What one kind of client did: requests (or echoes), failures, bytes, and why some failed."""

    requests: int = 0
    failures: int = 0
    bytes: int = 0
    reasons: list[str] = dataclasses.field(default_factory=list)

    def fail(self, what: str, exc: BaseException | str) -> None:
        self.failures += 1
        if len(self.reasons) < MAX_REASONS:
            self.reasons.append(f"{what}: {exc if isinstance(exc, str) else type(exc).__name__ + ': ' + str(exc)}")

    def add(self, other: "Tally") -> None:
        self.requests += other.requests
        self.failures += other.failures
        self.bytes += other.bytes
        self.reasons += other.reasons[: MAX_REASONS - len(self.reasons)]


class Through:
    """Connections through the proxy, kept alive per (scheme, host) as a browser keeps them."""

    def __init__(self, proxy: ProxyProcess) -> None:
        self.proxy = proxy
        self.tls = ssl.create_default_context(cafile=str(proxy.ca_cert))
        self._connections: dict[tuple[str, str], http.client.HTTPConnection] = {}

    def connection(self, scheme: str, host: str) -> http.client.HTTPConnection:
        key = (scheme, host)
        conn = self._connections.get(key)
        if conn is None:
            if scheme == "https":
                conn = http.client.HTTPSConnection(self.proxy.host, self.proxy.port, timeout=TIMEOUT,
                                                   context=self.tls)
                conn.set_tunnel(host, 443)
            else:
                conn = http.client.HTTPConnection(self.proxy.host, self.proxy.port, timeout=TIMEOUT)
            self._connections[key] = conn
        return conn

    def request(self, method: str, url: str, headers: dict | None = None, body: bytes | None = None,
                ) -> tuple[int, http.client.HTTPMessage, int, bytes]:
        """(status, headers, body length, the body's last 64 KB); a failed connection is dropped."""
        parts = urlsplit(url)
        conn = self.connection(parts.scheme, parts.hostname)
        target = url if parts.scheme == "http" else (parts.path + ("?" + parts.query if parts.query else ""))
        try:
            conn.request(method, target, body=body, headers=headers or {})
            response = conn.getresponse()
            length, tail = 0, b""
            while chunk := response.read(len(PIECE)):
                length += len(chunk)
                tail = (tail + chunk)[-len(PIECE):]
            if response.will_close:
                self.drop(parts.scheme, parts.hostname)
            return response.status, response.headers, length, tail
        except BaseException:
            self.drop(parts.scheme, parts.hostname)
            raise

    def drop(self, scheme: str, host: str) -> None:
        conn = self._connections.pop((scheme, host), None)
        if conn is not None:
            conn.close()

    def close(self) -> None:
        for key in list(self._connections):
            self.drop(*key)


def browse(proxy: ProxyProcess, until: float, tally: Tally) -> None:
    """A person reading a shop: pages, a third party's script, a leak, trackers blocked."""
    client = Through(proxy)
    n = 0
    try:
        while time.monotonic() < until:
            n += 1
            scheme = "https" if n % 2 else "http"
            steps: list[tuple[str, dict, Callable]] = [
                (f"{scheme}://vendor.test/page?item={n}", {}, lambda s, h, l: s == 200 and l > 1000),
                (f"{scheme}://cdn.test/lib.js?utm_source=news&v={n}", FROM_PAGE, lambda s, h, l: s == 200),
                (f"{scheme}://cdn.test/lib.js?email={WATCHED_EMAIL}&n={n}", FROM_PAGE,  # stopped: leak prevention
                 lambda s, h, l: s == 403 and "leak prevention" in (h.get("x-whoknows-blocked") or "")),
                (f"{scheme}://tracker.test/pixel.gif?uid={n}", {**FROM_PAGE, "sec-fetch-dest": "image"},
                 lambda s, h, l: s == 200 and h.get("x-whoknows-blocked")),
                (f"{scheme}://tracker.test/t.js?uid={n}", {**FROM_PAGE, "sec-fetch-dest": "script"},
                 lambda s, h, l: s == 403 and h.get("x-whoknows-blocked")),
            ]
            for url, headers, good in steps:
                tally.requests += 1
                try:
                    status, answer, length, _ = client.request("GET", url, headers)
                except Exception as exc:  # noqa: BLE001 -- a failure is counted, the client goes on
                    tally.fail(url, exc)
                    continue
                tally.bytes += length
                if not good(status, answer, length):
                    tally.fail(url, f"HTTP {status}, {length} bytes, blocked by {answer.get('x-whoknows-blocked')}")
    finally:
        client.close()


def large(proxy: ProxyProcess, until: float, tally: Tally, download_bytes: int = DOWNLOAD_BYTES,
          upload_bytes: int = UPLOAD_BYTES) -> None:
    """Downloads and uploads of several megabytes (whole 64 KB pieces), over HTTP and HTTPS in turn."""
    client = Through(proxy)
    upload = PIECE * (upload_bytes // len(PIECE))
    n = 0
    try:
        while time.monotonic() < until:
            n += 1
            scheme = "https" if n % 2 else "http"
            tally.requests += 1
            url = f"{scheme}://cdn.test/big?bytes={download_bytes}&n={n}"
            try:
                status, _, length, tail = client.request("GET", url, FROM_PAGE)
                tally.bytes += length
                if (status, length, tail) != (200, download_bytes, PIECE):
                    tally.fail(url, f"HTTP {status}, {length} of {download_bytes} bytes")
            except Exception as exc:  # noqa: BLE001
                tally.fail(url, exc)
            tally.requests += 1
            url = f"{scheme}://vendor.test/upload?n={n}"
            try:
                status, _, _, body = client.request("POST", url, {"content-type": "application/octet-stream",
                                                                  "origin": "https://vendor.test"}, upload)
                tally.bytes += len(upload)
                if (status, body) != (200, str(len(upload)).encode()):
                    tally.fail(url, f"HTTP {status}, the site read {body[:20]!r} of {len(upload)} bytes")
            except Exception as exc:  # noqa: BLE001
                tally.fail(url, exc)
    finally:
        client.close()


class WebSocket:
    """A WebSocket client through the proxy (CONNECT, then TLS for wss, then the upgrade)."""

    def __init__(self, proxy: ProxyProcess, secure: bool, host: str = "vendor.test") -> None:
        port = 443 if secure else 80
        sock = socket.create_connection((proxy.host, proxy.port), timeout=TIMEOUT)
        try:
            sock.sendall(f"CONNECT {host}:{port} HTTP/1.1\r\nHost: {host}:{port}\r\n\r\n".encode())
            reply = b""
            while b"\r\n\r\n" not in reply:
                chunk = sock.recv(4096)
                if not chunk:
                    raise ConnectionError("the proxy closed the tunnel")
                reply += chunk
            if not reply.startswith(b"HTTP/1.1 200"):
                raise ConnectionError(f"CONNECT answered {reply.splitlines()[0]!r}")
            if secure:
                sock = ssl.create_default_context(cafile=str(proxy.ca_cert)).wrap_socket(sock, server_hostname=host)
            key = base64.b64encode(os.urandom(16)).decode()
            sock.sendall((f"GET /ws HTTP/1.1\r\nHost: {host}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                          f"Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n"
                          f"Origin: https://{host}\r\n\r\n").encode())
            self.stream = sock.makefile("rb")
            status = self.stream.readline()
            headers = {}
            while (line := self.stream.readline()) not in (b"\r\n", b""):
                name, _, value = line.decode("latin-1").partition(":")
                headers[name.strip().lower()] = value.strip()
            if not status.startswith(b"HTTP/1.1 101") or headers.get("sec-websocket-accept") != ws_accept(key):
                raise ConnectionError(f"the upgrade was answered {status!r}")
        except BaseException:
            sock.close()
            raise
        self.sock = sock

    def echo(self, payload: bytes) -> bytes:
        self.sock.sendall(frame(0x2, payload, masked=True))
        opcode, answer = read_frame(self.stream)
        if opcode != 0x2:
            raise ConnectionError(f"expected a binary frame, got opcode {opcode}")
        return answer

    def close(self) -> None:
        try:
            self.sock.sendall(frame(0x8, struct.pack("!H", 1000), masked=True))
            read_frame(self.stream)
        except (OSError, ConnectionError):
            pass
        finally:
            self.stream.close()
            self.sock.close()


def websocket(proxy: ProxyProcess, until: float, tally: Tally) -> None:
    """Short WebSocket sessions, ws and wss in turn."""
    n = 0
    while time.monotonic() < until:
        n += 1
        try:
            ws = WebSocket(proxy, secure=bool(n % 2))
        except Exception as exc:  # noqa: BLE001
            tally.requests += 1
            tally.fail("websocket upgrade", exc)
            continue
        try:
            for i in range(WS_ECHOES):
                tally.requests += 1
                payload = f"message {n}.{i} ".encode() * 20
                answer = ws.echo(payload)
                tally.bytes += len(answer)
                if answer != payload:
                    tally.fail("websocket echo", f"{len(answer)} bytes back instead of {len(payload)}")
        except Exception as exc:  # noqa: BLE001
            tally.fail("websocket echo", exc)
        finally:
            ws.close()


def websocket_long(proxy: ProxyProcess, until: float, tally: Tally) -> None:
    """One wss connection open all along (a chat, live notifications): an echo every 20 ms."""
    ws = None
    n = 0
    while time.monotonic() < until:
        try:
            if ws is None:
                ws = WebSocket(proxy, secure=True)
            n += 1
            tally.requests += 1
            payload = f"long-lived {n} ".encode() * 50
            answer = ws.echo(payload)
            tally.bytes += len(answer)
            if answer != payload:
                tally.fail("long websocket echo", f"{len(answer)} bytes back instead of {len(payload)}")
            time.sleep(LONG_WS_PAUSE)
        except Exception as exc:  # noqa: BLE001
            tally.fail("long websocket", exc)
            if ws is not None:
                ws.close()
            ws = None
    if ws is not None:
        ws.close()


CLIENTS: dict[str, tuple[Callable, int]] = {  # kind -> (client, how many at once)
    "browse": (browse, 2), "large": (large, 1), "websocket": (websocket, 1), "websocket-long": (websocket_long, 1),
}


# -- measuring ------------------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class MemoryMap:
    """Where a process's resident memory is (MB), by kind of mapping in /proc/PID/smaps."""

    files: float  # code and data of the interpreter, libraries and extension modules (file-backed)
    heap: float  # `[heap]`: glibc malloc's main arena, what the event loop's thread allocates
    anonymous: float  # the rest: Python's object arenas, other threads' malloc arenas, large
    #                   buffers malloc maps on their own, thread stacks

    @property
    def total(self) -> float:
        return self.files + self.heap + self.anonymous


def memory_map(pid: int) -> MemoryMap:
    kb = {"files": 0, "heap": 0, "anonymous": 0}
    kind = "anonymous"
    for line in Path(f"/proc/{pid}/smaps").read_text().splitlines():
        fields = line.split()
        if not fields[0].endswith(":"):  # a mapping's first line: "start-end perms offset dev inode [path]"
            path = fields[5] if len(fields) > 5 else ""
            kind = "heap" if path == "[heap]" else "files" if path.startswith("/") else "anonymous"
        elif fields[0] == "Rss:":
            kb[kind] += int(fields[1])
    return MemoryMap(**{k: v / 1024 for k, v in kb.items()})


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError(f"no VmRSS for {pid}")


@dataclasses.dataclass(frozen=True)
class LedgerSize:
    rows: dict[str, int]  # table -> rows
    bytes: int  # the file and its WAL
    events: int = 0  # what the rows count: the sum of `count` over observations and leaks

    @property
    def total_rows(self) -> int:
        return sum(self.rows.values())


def ledger_size(home: Path) -> LedgerSize:
    path = home / "ledger.db"
    size = sum(p.stat().st_size for p in (path, path.with_name(path.name + "-wal")) if p.exists())
    if not path.exists():
        return LedgerSize({}, 0)
    db = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=10)
    try:
        tables = [name for (name,) in db.execute("SELECT name FROM sqlite_master WHERE type = 'table' "
                                                 "AND name NOT LIKE 'sqlite_%'")]
        rows = {name: db.execute(f'SELECT count(*) FROM "{name}"').fetchone()[0] for name in tables}
        events = sum(db.execute(f'SELECT coalesce(sum(count), 0) FROM "{name}"').fetchone()[0]
                     for name in ("observations", "leaks") if name in tables)
    finally:
        db.close()
    return LedgerSize(rows, size, events)


@dataclasses.dataclass
class SoakResult:
    seconds: float
    warmup: float
    streaming: bool  # stream_large_bodies was set (the option exists)
    tallies: dict[str, Tally]
    warm_tallies: dict[str, int]  # requests per kind by the end of the warm-up
    rss_samples: list[tuple[float, float]]  # (seconds since start, MB), after the warm-up
    ledger_warm: LedgerSize
    ledger_end: LedgerSize
    proxy_exit: int | None
    log_failures: list[str]
    memory_map: MemoryMap | None = None  # at the end, before the proxy stops

    @property
    def failures(self) -> int:
        return sum(t.failures for t in self.tallies.values())

    @property
    def requests(self) -> int:
        return sum(t.requests for t in self.tallies.values())

    @property
    def requests_after_warmup(self) -> int:
        return self.requests - sum(self.warm_tallies.values())

    @property
    def rss_growth_mb(self) -> float:
        return self.rss_samples[-1][1] - self.rss_samples[0][1]

    @property
    def rss_peak_mb(self) -> float:
        return max(mb for _, mb in self.rss_samples)

    @property
    def rss_slope_mb_per_min(self) -> float:
        """Least-squares slope of the samples after the warm-up (one download's buffer at the last
        sample weighs less than in `rss_growth_mb`)."""
        return _slope(self.rss_samples)

    @property
    def rss_early_slope_mb_per_min(self) -> float:
        """The slope over the first half of the samples (compare with `rss_late_slope_mb_per_min`)."""
        return _slope(self.rss_samples[: len(self.rss_samples) // 2 + 1])

    @property
    def rss_flattens(self) -> bool:
        """The second half grows at most half as fast as the first, or hardly at all (a bounded
        cache filling, or malloc's arenas reaching the size the traffic needs), rather than at
        one steady rate (a leak)."""
        late = self.rss_late_slope_mb_per_min
        return late <= FLAT_MB_PER_MIN or late <= self.rss_early_slope_mb_per_min / 2

    @property
    def rss_late_slope_mb_per_min(self) -> float:
        """The same over the second half of the samples: bounded caches filling up flatten out
        there, memory that only grows does not."""
        return _slope(self.rss_samples[len(self.rss_samples) // 2:])

    @property
    def ledger_rows_growth(self) -> dict[str, int]:
        tables = set(self.ledger_warm.rows) | set(self.ledger_end.rows)
        growth = {t: self.ledger_end.rows.get(t, 0) - self.ledger_warm.rows.get(t, 0) for t in tables}
        return {t: n for t, n in sorted(growth.items()) if n}


def _slope(samples: list[tuple[float, float]]) -> float:
    """MB per minute, least squares."""
    if len(samples) < 2:
        return 0.0
    xs, ys = [t for t, _ in samples], [mb for _, mb in samples]
    mean_x, mean_y = sum(xs) / len(xs), sum(ys) / len(ys)
    var = sum((x - mean_x) ** 2 for x in xs)
    return 60 * sum((x - mean_x) * (y - mean_y) for x, y in zip(xs, ys)) / var if var else 0.0


def _whoknows(home: Path, *args: str) -> None:
    env = {k: v for k, v in os.environ.items() if "proxy" not in k.lower()}
    env["WHOKNOWS_HOME"] = str(home)
    done = subprocess.run([str(WHOKNOWS), *args], env=env, capture_output=True, text=True, timeout=60)
    if done.returncode:
        raise RuntimeError(f"whoknows {' '.join(args)} failed: {done.stderr}")


def start_proxy(workdir: Path, pki, origin: SoakOrigin, streaming: bool | None = None,
                ) -> tuple[ProxyProcess, bool]:
    """The proxy for the soak; `streaming` None: with `stream_large_bodies` if this proxy knows it."""
    filters = workdir / "soak-filters.txt"
    filters.write_text("||tracker.test^\n")
    attempts = [True, False] if streaming is None else [streaming]
    for stream in attempts:
        home = workdir / ("home-streaming" if stream else "home")
        sets = [f"whoknows_extra_filters={filters}", "whoknows_flush_interval=1"]
        proxy = ProxyProcess(home, pki, origin.http_port, origin.https_port,
                             sets=tuple(sets + ([STREAM_OPTION] if stream else [])), log_level="warn")
        _whoknows(home, "me", "add", "email", WATCHED_EMAIL)
        try:
            return proxy.start(), stream
        except RuntimeError as exc:
            if stream and streaming is None and "stream_large_bodies" in str(exc):
                continue  # this proxy has no such option (yet): soak without it, and say so
            raise
    raise AssertionError("unreachable")


def soak(workdir: Path, seconds: float, warmup: float, clients: dict[str, tuple[Callable, int]] = CLIENTS,
         streaming: bool | None = None, progress: Callable[[str], None] = lambda line: None) -> SoakResult:
    workdir.mkdir(parents=True, exist_ok=True)
    pki = make_pki(workdir / "site-pki", SITE_NAMES)
    origin = SoakOrigin(pki).start()
    proxy = None
    try:
        proxy, streamed = start_proxy(workdir, pki, origin, streaming)
        progress(f"proxy pid {proxy.process.pid} on {proxy.url}; stream_large_bodies: "
                 f"{'1m' if streamed else 'unknown option, not set'}")
        start = time.monotonic()
        until = start + seconds
        tallies = {kind: [Tally() for _ in range(count)] for kind, (_, count) in clients.items()}
        threads = [threading.Thread(target=run, args=(proxy, until, tally), name=f"soak-{kind}", daemon=True)
                   for kind, (run, _) in clients.items() for tally in tallies[kind]]
        for thread in threads:
            thread.start()
        samples: list[tuple[float, float]] = []
        warm_tallies: dict[str, int] = {}
        ledger_warm = None
        next_report = start + warmup
        while (now := time.monotonic()) < until:
            if now >= start + warmup:
                if ledger_warm is None:
                    ledger_warm = ledger_size(proxy.home)
                    warm_tallies = {kind: sum(t.requests for t in ts) for kind, ts in tallies.items()}
                samples.append((now - start, rss_mb(proxy.process.pid)))
                if now >= next_report:
                    done = sum(t.requests for ts in tallies.values() for t in ts)
                    failed = sum(t.failures for ts in tallies.values() for t in ts)
                    progress(f"{now - start:5.0f} s: RSS {samples[-1][1]:6.1f} MB, {done} requests, "
                             f"{failed} failed")
                    next_report = now + max(10.0, seconds / 10)
            time.sleep(max(0.0, min(1.0, until - time.monotonic())))
        for thread in threads:
            thread.join(TIMEOUT * 2)
        samples.append((time.monotonic() - start, rss_mb(proxy.process.pid)))
        memory = memory_map(proxy.process.pid)
        exit_code = proxy.stop()
        merged = {}
        for kind, ts in tallies.items():
            merged[kind] = Tally()
            for t in ts:
                merged[kind].add(t)
        log_failures = [line for line in proxy.stderr().splitlines()
                        if "Traceback" in line or "failed" in line.lower() or "error" in line.lower()]
        return SoakResult(seconds, warmup, streamed, merged, warm_tallies, samples,
                          ledger_warm or LedgerSize({}, 0), ledger_size(proxy.home), exit_code, log_failures,
                          memory)
    finally:
        if proxy is not None:
            proxy.kill()
        origin.stop()
