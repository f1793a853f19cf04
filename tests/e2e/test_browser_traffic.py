"""Chromium through the real proxy process: every kind of traffic a page uses passes, as it should.

WebSockets over HTTP and HTTPS (the cookie and blocking rules applied to the handshake),
Server-Sent Events (the first event arrives while the stream is still open), long polling, a
`<video>` that seeks (Range requests), HTTP/2 between Chromium and the proxy. A WebSocket frame
that is not valid closes that WebSocket only.

Proofs that do not rest on timing: the test site holds the rest of a stream (or a long poll's
answer) until the browser shows it has what came before. A proxy that buffered the answer would
never pass it on, and the test would time out.
"""

from __future__ import annotations

import io
import re
import socket
import ssl
import threading
import time
import wave
from pathlib import Path

import pytest

from e2e_browser import new_context
from e2e_sites import Exchange
from e2e_sites import Received
from e2e_websocket import CLOSE
from e2e_websocket import TEXT
from e2e_websocket import client_handshake
from e2e_websocket import echo
from e2e_websocket import frame
from e2e_websocket import read_frame
from test_browser_cookies import open_profile
from test_browser_cookies import plant
from test_browser_cookies import whoknows
from test_robustness import EXCHANGE_TIMEOUT
from test_robustness import SCHEMES
from test_robustness import assert_serving
from test_robustness import log_mark

pytestmark = pytest.mark.slow

HOLD = EXCHANGE_TIMEOUT  # how long a site holds a stream open for the browser to show progress


@pytest.fixture
def mitm_ca(mitm_confdir) -> Path:
    return mitm_confdir / "mitmproxy-ca-cert.pem"


# -- WebSockets ---------------------------------------------------------------------------------

WS_PAGE = """<!doctype html><title>ws</title><script>
window.talk = (url) => new Promise((resolve) => {
  const ws = new WebSocket(url);
  ws.onopen = () => ws.send('hello');
  ws.onmessage = (e) => { resolve('message: ' + e.data); ws.close(); };
  ws.onerror = () => resolve('error');
});
</script>"""


def serve_websockets(sites) -> None:
    for name in ("vendor.test", "cdn.test", "tracker.test"):
        sites[name].page("/", WS_PAGE)
        sites[name].page("/ws", handler=echo)


@pytest.mark.parametrize("scheme", SCHEMES)
def test_a_websocket_echoes_through_the_proxy(sites, page, scheme):
    serve_websockets(sites)
    ws = "wss" if scheme == "https" else "ws"
    page.goto(f"{scheme}://vendor.test/")
    assert page.evaluate(f"talk('{ws}://vendor.test/ws')") == "message: echo: hello"
    handshake = sites["vendor.test"].wait_for("/ws")
    assert handshake.header("upgrade").lower() == "websocket"
    assert handshake.header("sec-gpc") == "1"  # the handshake went through the whoknows addons


@pytest.fixture(scope="module")
def cookie_proxy(start_proxy):
    proxy = start_proxy(name="traffic-cookie-proxy")  # its own: a test changes its site settings
    yield proxy
    proxy.stop()


def test_the_cookie_rules_apply_to_a_websocket_handshake(sites, browser, cookie_proxy, tmp_path, mitm_ca):
    serve_websockets(sites)
    sites["other.test"].page("/", WS_PAGE)
    # The control: on other.test, where the user allows cdn.test, this browser does send cdn.test
    # its cookie on a cross-site WebSocket handshake.
    whoknows(cookie_proxy, "site", "allow-3p", "other.test", "cdn.test")
    context = open_profile(browser, cookie_proxy, tmp_path / "profile", mitm_ca)  # third-party cookies on
    try:
        plant(context, "vendor.test", "sid", "first")
        plant(context, "cdn.test", "uid", "third")
        page = context.new_page()
        page.goto("https://other.test/")
        deadline = time.monotonic() + 10
        while True:  # until the running proxy applies allow-3p
            assert page.evaluate("talk('wss://cdn.test/ws')") == "message: echo: hello"
            if sites["cdn.test"].wait_for("/ws").cookies:
                break
            assert time.monotonic() < deadline, "the proxy did not apply allow-3p"
            time.sleep(0.2)
        assert sites["cdn.test"].wait_for("/ws").cookies == {"uid": "third"}
        sites["cdn.test"].reset()
        sites["cdn.test"].page("/ws", handler=echo)
        page.goto("https://vendor.test/")
        assert page.evaluate("talk('wss://vendor.test/ws')") == "message: echo: hello"
        assert page.evaluate("talk('wss://cdn.test/ws')") == "message: echo: hello"
    finally:
        context.close()
    assert sites["vendor.test"].wait_for("/ws").cookies == {"sid": "first"}  # first party: kept
    third_party = sites["cdn.test"].wait_for("/ws")
    assert third_party.header("origin") == "https://vendor.test"
    assert third_party.cookie is None  # third party on vendor.test: removed


@pytest.fixture(scope="module")
def blocking_proxy(start_proxy, e2e_dir):
    filters = e2e_dir / "traffic-filters.txt"
    filters.write_text("||tracker.test^$websocket\n")
    proxy = start_proxy(f"whoknows_extra_filters={filters}", name="traffic-blocking-proxy")
    yield proxy
    proxy.stop()


def test_a_websocket_to_a_blocked_tracker_never_reaches_it(sites, browser, blocking_proxy):
    serve_websockets(sites)
    context = new_context(browser, blocking_proxy.url)
    try:
        page = context.new_page()
        page.goto("https://vendor.test/")
        assert page.evaluate("talk('wss://tracker.test/ws')") == "error"
        assert page.evaluate("talk('wss://vendor.test/ws')") == "message: echo: hello"
    finally:
        context.close()
    assert sites["tracker.test"].received("/ws") == []
    assert sites["tracker.test"].received() == []


@pytest.mark.parametrize("scheme", SCHEMES)
def test_an_invalid_websocket_frame_closes_that_websocket_only(sites, proxy, scheme):
    serve_websockets(sites)
    log_from = log_mark(proxy)
    good, bad = (websocket_through(proxy, scheme) for _ in range(2))
    try:
        bad.sendall(frame(TEXT, b"bad", mask=True, first_byte=0xF1))  # reserved bits set: invalid
        reply = read_frame(bad.makefile("rb"))
        assert reply is None or reply[0] == CLOSE  # closed, with or without a close frame
        good.sendall(frame(TEXT, b"still there?", mask=True))
        assert read_frame(good.makefile("rb")) == (TEXT, b"echo: still there?")
    finally:
        good.close()
        bad.close()
    assert_serving(proxy, sites, log_from)


def websocket_through(proxy, scheme: str) -> socket.socket:
    """An open WebSocket to vendor.test's echo page through the proxy (handshake done)."""
    sock = socket.create_connection((proxy.host, proxy.port), timeout=EXCHANGE_TIMEOUT)
    if scheme == "https":
        sock.sendall(b"CONNECT vendor.test:443 HTTP/1.1\r\nhost: vendor.test:443\r\n\r\n")
        assert sock.recv(4096).startswith(b"HTTP/1.1 200")
        sock = ssl.create_default_context(cafile=str(proxy.ca_cert)).wrap_socket(
            sock, server_hostname="vendor.test")
        sock.sendall(client_handshake("vendor.test"))
    else:
        sock.sendall(client_handshake("vendor.test").replace(b"GET /ws", b"GET http://vendor.test/ws", 1))
    head = b""
    while b"\r\n\r\n" not in head:
        head += sock.recv(1)
    assert head.startswith(b"HTTP/1.1 101"), head
    return sock


# -- Server-Sent Events and long polling --------------------------------------------------------

SSE_PAGE = """<!doctype html><title>events</title><script>
window.events = [];
const source = new EventSource('/events');
source.onmessage = (e) => { window.events.push(e.data); if (e.data === 'last') source.close(); };
</script>"""


@pytest.mark.parametrize("scheme", SCHEMES)
def test_server_sent_events_arrive_while_the_stream_is_open(sites, page, scheme):
    shown = threading.Event()
    ended = threading.Event()

    def events(request: Received, out: Exchange) -> None:
        out.head(200, [("content-type", "text/event-stream"), ("cache-control", "no-store")])
        out.write(b"data: first\n\n")
        if shown.wait(HOLD):  # open, and silent, until the page showed the first event
            out.write(b"data: last\n\n")
        ended.set()

    sites["vendor.test"].page("/", SSE_PAGE)
    sites["vendor.test"].page("/events", handler=events)
    page.goto(f"{scheme}://vendor.test/")
    page.wait_for_function("window.events.length >= 1")
    assert page.evaluate("window.events") == ["first"]
    assert not ended.is_set()  # the stream was still open
    shown.set()
    page.wait_for_function("window.events.length >= 2")
    assert page.evaluate("window.events") == ["first", "last"]


LONG_POLL_PAGE = """<!doctype html><title>poll</title><script>
window.answer = null;
window.polling = fetch('/poll').then(r => r.text()).then(t => { window.answer = t; });
</script>"""


@pytest.mark.parametrize("scheme", SCHEMES)
def test_a_long_poll_is_answered_when_the_site_answers_and_the_page_works_meanwhile(sites, page, scheme):
    release = threading.Event()

    def poll(request: Received, out: Exchange) -> None:
        if release.wait(HOLD):
            out.head(200, [("content-type", "text/plain"), ("content-length", "4")])
            out.write(b"news")

    sites["vendor.test"].page("/", LONG_POLL_PAGE)
    sites["vendor.test"].page("/poll", handler=poll)
    sites["vendor.test"].page("/other", "other", content_type="text/plain")
    page.goto(f"{scheme}://vendor.test/")
    sites["vendor.test"].wait_for("/poll")
    # While the poll hangs, the page's other requests go through.
    assert page.evaluate("fetch('/other').then(r => r.text())") == "other"
    assert page.evaluate("window.answer") is None
    release.set()
    page.wait_for_function("window.answer !== null")
    assert page.evaluate("window.answer") == "news"


# -- Range requests: a <video> that seeks -------------------------------------------------------

CLIP_SECONDS = 60


def clip() -> bytes:
    """A minute of 44.1 kHz 16-bit stereo PCM in a WAV file (about 10 MB): Chromium's media
    element plays it with no codec, fetching it with Range requests."""
    buffer = io.BytesIO()
    with wave.open(buffer, "wb") as out:
        out.setnchannels(2)
        out.setsampwidth(2)
        out.setframerate(44100)
        out.writeframes(bytes(range(256)) * (CLIP_SECONDS * 44100 * 4 // 256))
    return buffer.getvalue()


def ranged(body: bytes, content_type: str):
    """A page that answers Range requests (a single `bytes=START-[END]` range) as servers do."""

    def answer(request: Received, out: Exchange) -> None:
        match = re.fullmatch(r"bytes=(\d+)-(\d*)", request.header("range") or "")
        if match is None:
            out.head(200, [("content-type", content_type), ("accept-ranges", "bytes"),
                           ("content-length", str(len(body)))])
            out.write(body)
            return
        start = int(match.group(1))
        end = min(int(match.group(2) or len(body) - 1), len(body) - 1)
        out.head(206, [("content-type", content_type), ("accept-ranges", "bytes"),
                       ("content-range", f"bytes {start}-{end}/{len(body)}"),
                       ("content-length", str(end - start + 1))])
        for offset in range(start, end + 1, 1 << 16):
            out.write(body[offset:min(offset + (1 << 16), end + 1)])

    return answer


VIDEO_PAGE = """<!doctype html><title>video</title>
<video id="v" src="/clip.wav" preload="auto" muted></video><script>
window.seekTo = (t) => new Promise((resolve, reject) => {
  const v = document.getElementById('v');
  const go = () => { v.onseeked = () => resolve(v.currentTime); v.onerror = () => reject(v.error.code);
                     v.currentTime = t; };
  if (v.readyState >= 1) go(); else v.onloadedmetadata = go;
});
</script>"""


@pytest.mark.parametrize("scheme", SCHEMES)
def test_a_video_seeks_with_range_requests(sites, page, scheme):
    media = clip()
    sites["vendor.test"].page("/", VIDEO_PAGE)
    sites["vendor.test"].page("/clip.wav", handler=ranged(media, "audio/wav"))
    page.goto(f"{scheme}://vendor.test/")
    position = page.evaluate(f"seekTo({CLIP_SECONDS - 5})")
    assert abs(position - (CLIP_SECONDS - 5)) < 1
    page.wait_for_function("document.getElementById('v').readyState >= 2")  # data there to play
    starts = [int(m.group(1)) for hit in sites["vendor.test"].received("/clip.wav")
              if (m := re.match(r"bytes=(\d+)-", hit.header("range") or ""))]
    assert starts and max(starts) > len(media) // 2  # the seek fetched from far into the file


# -- HTTP/2 between Chromium and the proxy ------------------------------------------------------


@pytest.fixture
def h2_page(browser, start_proxy):
    # A proxy of its own: the module's proxy has seen vendor.test answer in HTTP/1.1 and, by design
    # (proxy_addons/upstream_http1.py), offers the browser HTTP/1.1 for it from then on.
    proxy = start_proxy(name="traffic-h2-proxy")
    context = new_context(browser, proxy.url)
    try:
        yield context.new_page()
    finally:
        context.close()
        proxy.stop()


def test_chromium_talks_http2_to_the_proxy_and_a_page_loads_uploads_and_downloads(sites, h2_page):
    page = h2_page
    sites["vendor.test"].page("/", "<!doctype html><title>h2</title><img src='/logo.gif'>")
    sites["vendor.test"].page("/logo.gif", b"GIF89a", content_type="image/gif")
    sites["vendor.test"].page("/upload", "stored", content_type="text/plain")
    sites["vendor.test"].page("/big", bytes(range(256)) * (8 << 12), content_type="application/octet-stream")
    page.goto("https://vendor.test/")
    protocols = page.evaluate("performance.getEntries().map(e => e.nextHopProtocol).filter(p => p)")
    assert protocols and set(protocols) == {"h2"}
    stored = page.evaluate("""async () => {
        const body = new Uint8Array(3 << 20).map((_, i) => i % 251);
        return (await fetch('/upload', {method: 'POST', body})).text();
    }""")
    assert stored == "stored"
    assert sites["vendor.test"].wait_for("/upload").body == bytes(i % 251 for i in range(3 << 20))
    size = page.evaluate("fetch('/big').then(r => r.arrayBuffer()).then(b => b.byteLength)")
    assert size == 256 * (8 << 12)
