"""Hostile clients, misbehaving sites and buggy addons do not take the proxy down.

Every case ends the same way (`assert_serving`): the proxy process is alive, an ordinary request
through it works over HTTP and HTTPS, and nothing failed in its log since the case began (the
safety guard keeps a crashing addon from breaking the page, so only the log would tell).

Bad clients write raw bytes to the proxy's port. Misbehaving sites are test-site pages that send
`raw` bytes and `reset` the connection (`e2e_sites`), and a loopback port nobody listens on.
Most cases run on the session's default proxy, whose user has no values and no site settings; the
cookie rewriting and the leak scan only do work for a user who has them: `lived_in` is a proxy
with a watched email and vendor.test's cookies in `session` mode.

Every exchange is bounded: `EXCHANGE_TIMEOUT`, or `LOADED_TIMEOUT` for cases that move megabytes
(a healthy exchange takes milliseconds; the bound is what a loaded machine may need).
"""

from __future__ import annotations

import hashlib
import http.client
import json
import os
import re
import socket
import ssl
import subprocess
import sys
import time
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote
from urllib.parse import urlsplit

import pytest

from e2e_proxy import ProxyProcess
from proxy_addons.leaks import MAX_DECODED_BODY
from whoknows.ledger import open_ledger
from whoknows.me import add_value
from whoknows.site_settings import SiteSettingsStore

pytestmark = pytest.mark.slow

EXCHANGE_TIMEOUT = 10.0
LOADED_TIMEOUT = 60.0
WHOKNOWS = Path(sys.executable).with_name("whoknows")
EMAIL = "robust.user@example.org"
SCHEMES = ("http", "https")
# A failure in the proxy's log: a traceback (mitmproxy's and the guard's), a thread that died.
FAILURE = re.compile(r"Traceback \(most recent call last\)|^Exception in thread|whoknows addon \S+ failed",
                     re.M)


# -- helpers ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class RawAnswer:
    """An answer as the client received it, byte for byte."""

    head: bytes  # the status line and the header lines, CRLF-separated
    body: bytes

    @property
    def status(self) -> int:
        return int(self.head.split(b" ", 2)[1])

    def values(self, name: bytes) -> list[bytes]:
        """The values of every `name` header line, in order (without the optional whitespace
        around a value, which is not part of it)."""
        found = []
        for line in self.head.split(b"\r\n")[1:]:
            key, _, value = line.partition(b":")
            if key.strip().lower() == name:
                found.append(value.strip(b" \t"))
        return found


def read_to_close(sock: socket.socket, timeout: float) -> bytes:
    """Everything `sock` receives until the peer closes it; AssertionError after `timeout`."""
    deadline = time.monotonic() + timeout
    data = bytearray()
    try:
        while True:
            sock.settimeout(max(0.01, deadline - time.monotonic()))
            chunk = sock.recv(1 << 16)
            if not chunk:
                return bytes(data)
            data += chunk
    except (TimeoutError, socket.timeout):
        raise AssertionError(f"the answer did not end within {timeout} s: {bytes(data[:300])!r}") from None


def raw_exchange(proxy: ProxyProcess, payload: bytes, timeout: float = EXCHANGE_TIMEOUT,
                 half_close: bool = False) -> bytes:
    """Send `payload` on a fresh connection; whatever comes back before the proxy closes it.

    `half_close`: say that nothing more will come, for payloads the proxy cannot answer (it then
    drops the connection; mitmproxy also drops a complete request on a half-closed connection)."""
    with socket.create_connection((proxy.host, proxy.port), timeout=timeout) as sock:
        try:
            sock.sendall(payload)
            if half_close:
                sock.shutdown(socket.SHUT_WR)
            return read_to_close(sock, timeout)
        except (BrokenPipeError, ConnectionResetError):
            return b""


def fetch_raw(proxy: ProxyProcess, url: str, extra_headers: bytes = b"",
              timeout: float = EXCHANGE_TIMEOUT) -> RawAnswer:
    """GET `url` through the proxy with `extra_headers` (raw lines, each ending in CRLF) and read
    the answer as bytes: http.client would decode, fold and limit header lines."""
    parts = urlsplit(url)
    path = url[len(f"{parts.scheme}://{parts.netloc}"):] or "/"
    target = url if parts.scheme == "http" else path  # a proxy is asked in absolute form
    request = (b"GET %s HTTP/1.1\r\nhost: %s\r\n%sconnection: close\r\n\r\n"
               % (target.encode(), parts.netloc.encode(), extra_headers))
    with socket.create_connection((proxy.host, proxy.port), timeout=timeout) as sock:
        if parts.scheme == "http":
            sock.sendall(request)
            data = read_to_close(sock, timeout)
        else:
            authority = f"{parts.hostname}:{parts.port or 443}"
            sock.sendall(f"CONNECT {authority} HTTP/1.1\r\nhost: {authority}\r\n\r\n".encode())
            established = sock.recv(4096)
            assert established.startswith(b"HTTP/1.1 200"), established
            tls = ssl.create_default_context(cafile=str(proxy.ca_cert))
            with tls.wrap_socket(sock, server_hostname=parts.hostname) as tunnel:
                tunnel.sendall(request)
                data = read_to_close(tunnel, timeout)
    head, separator, body = data.partition(b"\r\n\r\n")
    assert separator, f"no complete answer: {data[:300]!r}"
    return RawAnswer(head, body)


def log_mark(proxy: ProxyProcess) -> int:
    return len(proxy.stderr())


def assert_serving(proxy: ProxyProcess, sites, log_from: int, timeout: float = EXCHANGE_TIMEOUT) -> None:
    """The proxy lives, serves the next ordinary request (HTTP and HTTPS), and logged no failure
    since `log_from` (a `log_mark`)."""
    assert proxy.alive()
    sites["other.test"].page("/alive", "still here", content_type="text/plain")
    for scheme in SCHEMES:
        answer = proxy.get(f"{scheme}://other.test/alive", timeout=timeout)
        assert (answer.status, answer.text) == (200, "still here")
    log = proxy.stderr()[log_from:]
    assert not FAILURE.search(log), log[-4000:]


def whoknows_json(proxy: ProxyProcess, *args: str):
    """The real CLI's `--json` answer on the proxy's own data directory."""
    env = {k: v for k, v in os.environ.items() if "proxy" not in k.lower()}
    env.update(WHOKNOWS_HOME=str(proxy.home), PYTHON_KEYRING_BACKEND="keyring.backends.fail.Keyring")
    result = subprocess.run([str(WHOKNOWS), *args, "--json"], env=env, capture_output=True, text=True,
                            timeout=60)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def eventually(read, accept, what: str, timeout: float = 20.0):
    """`read()` until `accept` takes its result (the proxy writes the ledger every few seconds)."""
    deadline = time.monotonic() + timeout
    while not accept(result := read()):
        assert time.monotonic() < deadline, f"{what} within {timeout} s; last: {result}"
        time.sleep(0.2)
    return result


def peak_memory_bytes(proxy: ProxyProcess) -> int:
    """The proxy process's peak resident memory (VmHWM)."""
    status = Path(f"/proc/{proxy.process.pid}/status").read_text()
    return int(re.search(r"^VmHWM:\s+(\d+) kB", status, re.M).group(1)) * 1024


@pytest.fixture(scope="module")
def lived_in(e2e_dir, start_proxy) -> Iterator[ProxyProcess]:
    """A proxy whose user watches an email (so the leak scan runs) and keeps vendor.test's cookies
    for the session only (so its Set-Cookie lines are rewritten); observations written every 0.2 s."""
    home = e2e_dir / "robustness-lived-in"
    with pytest.MonkeyPatch.context() as env:  # the values exist before the proxy starts
        env.setenv("WHOKNOWS_HOME", str(home))
        env.setenv("PYTHON_KEYRING_BACKEND", "keyring.backends.fail.Keyring")
        with open_ledger() as ledger:
            add_value(ledger, "email", EMAIL)
            SiteSettingsStore(ledger).set_cookie_mode("vendor.test", "session")
        proxy = start_proxy("whoknows_flush_interval=0.2", name="robustness-lived-in")
    yield proxy
    proxy.stop()


# -- bad clients --------------------------------------------------------------------------------

BIG = b"a" * (1 << 20)
REQUEST = b"GET http://vendor.test/ HTTP/1.1\r\nhost: vendor.test\r\nconnection: close\r\n"

# What a client sends, and how the answer must begin (None: there is nothing to answer).
BAD_CLIENTS = {
    "garbage request line": (b"GARBAGE\r\n\r\n", b"HTTP/1.1 400"),
    "no version": (b"GET http://vendor.test/\r\n\r\n", b"HTTP/1.1 400"),
    # forwarded; the site's refusal comes back
    "one 1 MiB header": (REQUEST + b"x-big: " + BIG + b"\r\n\r\n", b"HTTP/1.1 431"),
    "5000 headers": (REQUEST + b"".join(b"x-%d: %d\r\n" % (i, i) for i in range(5000)) + b"\r\n",
                     b"HTTP/1.1 431"),
    "nul and non-utf8 bytes": (REQUEST + b"x: \x00\xff\xfe\r\n\r\n", b"HTTP/1.1 404"),  # reached the site
    "negative content-length": (b"POST http://vendor.test/ HTTP/1.1\r\nhost: vendor.test\r\n"
                                b"content-length: -5\r\n\r\n", b"HTTP/1.1 400"),
    "impossible connect target": (b"CONNECT [::::]:99999 HTTP/1.1\r\n\r\n", b"HTTP/1.1 400"),
    "tls bytes on the plain port": (b"\x16\x03\x01\x00\x05hello", None),
    "hang up at once": (b"", None),
}
# Cases that make the proxy and the site handle megabytes of headers: bounded for a loaded machine
# (the 5000 headers once took more than 5 s there).
HEAVY_CLIENTS = frozenset({"one 1 MiB header", "5000 headers"})


@pytest.mark.parametrize("case", BAD_CLIENTS)
def test_a_bad_client_does_not_stop_the_next_request(sites, proxy, case):
    payload, expected = BAD_CLIENTS[case]
    timeout = LOADED_TIMEOUT if case in HEAVY_CLIENTS else EXCHANGE_TIMEOUT
    log_from = log_mark(proxy)
    answer = raw_exchange(proxy, payload, timeout, half_close=expected is None)
    if expected is not None:
        assert answer.startswith(expected), answer[:300]
    assert_serving(proxy, sites, log_from, timeout)


# -- invalid URLs -------------------------------------------------------------------------------

INVALID_TARGETS = {
    "a host with a space": b"http://ven dor.test/",
    "a host with bad characters": b"http://-bad_host!.test/",
    "no host": b"http:///page",
    "a port out of range": b"http://vendor.test:99999/",
    "a port that is not a number": b"http://vendor.test:http/",
    "an unclosed IPv6 literal": b"http://[::1/",
    "spaces in the request-target": b"http://vendor.test/a b c",
    "bytes that are not UTF-8": b"http://vendor.test/\xff\xfe",
}


@pytest.mark.parametrize("target", INVALID_TARGETS.values(), ids=INVALID_TARGETS.keys())
def test_an_invalid_url_gets_a_400_and_reaches_no_site(sites, proxy, target):
    log_from = log_mark(proxy)
    answer = raw_exchange(proxy, b"GET " + target + b" HTTP/1.1\r\nhost: vendor.test\r\n"
                                 b"connection: close\r\n\r\n")
    assert answer.startswith(b"HTTP/1.1 400"), answer[:300]
    assert sites.received() == []
    assert_serving(proxy, sites, log_from)


# URLs that look wrong but are not: they reach the site exactly as sent.
ODD_PATHS = {
    "percent garbage": ("/a%zz/%", b"/a%zz/%?q=%zz&%=%%&x=%ff%"),
    "a 16 KB URL": ("/long", b"/long?q=" + b"x" * (16 * 1024)),
}


@pytest.mark.parametrize("proxy_name", ["proxy", "lived_in"])
@pytest.mark.parametrize("case", ODD_PATHS)
def test_an_odd_but_valid_url_reaches_the_site_as_sent(sites, request, case, proxy_name):
    proxy = request.getfixturevalue(proxy_name)  # lived_in: the leak scan reads the URL too
    path, target = ODD_PATHS[case]
    sites["vendor.test"].page(path, "odd", content_type="text/plain")
    log_from = log_mark(proxy)
    answer = raw_exchange(proxy, b"GET http://vendor.test" + target + b" HTTP/1.1\r\n"
                                 b"host: vendor.test\r\nconnection: close\r\n\r\n")
    assert answer.startswith(b"HTTP/1.1 200") and answer.endswith(b"\r\n\r\nodd"), answer[:300]
    assert sites["vendor.test"].wait_for(path).path.encode() == target
    assert_serving(proxy, sites, log_from)


# -- sites that refuse, reset or cut short ------------------------------------------------------


@pytest.fixture(scope="module")
def closed_port() -> Iterator[int]:
    """A loopback port bound but not listening: connecting is refused, and nobody else can take
    the port while the module runs (the proxy maps `NAME.test:PORT` to 127.0.0.1:PORT)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        yield sock.getsockname()[1]


@pytest.mark.parametrize("scheme", SCHEMES)
def test_a_site_that_refuses_connections_gets_a_502(sites, proxy, closed_port, scheme):
    log_from = log_mark(proxy)
    answer = proxy.get(f"{scheme}://down.test:{closed_port}/page", timeout=EXCHANGE_TIMEOUT)
    assert answer.status == 502
    assert_serving(proxy, sites, log_from)


HEAD_1000 = b"HTTP/1.1 200 OK\r\ncontent-type: text/plain\r\ncontent-length: 1000\r\n\r\n"
# What the site sends, and whether it then resets the connection (else it closes it cleanly).
CUT_SHORT = {
    "reset before answering": (b"", True),
    "reset after the headers": (HEAD_1000, True),
    "reset after part of the body": (HEAD_1000 + b"x" * 400, True),
    "closed after part of the body": (HEAD_1000 + b"x" * 400, False),
}


@pytest.mark.parametrize("scheme", SCHEMES)
@pytest.mark.parametrize("case", CUT_SHORT)
def test_a_site_that_fails_mid_response_gets_a_502_or_a_visibly_short_answer(sites, proxy, case, scheme):
    sent, reset = CUT_SHORT[case]
    sites["vendor.test"].page("/cut", raw=sent, reset=reset)
    log_from = log_mark(proxy)
    try:
        answer = proxy.get(f"{scheme}://vendor.test/cut", timeout=EXCHANGE_TIMEOUT)
    except http.client.IncompleteRead as cut:  # passed on as it came: the client sees it is short
        assert len(cut.partial) < 1000
    else:
        assert answer.status == 502  # never a 200 that looks complete
    sites["vendor.test"].wait_for("/cut")
    assert_serving(proxy, sites, log_from)


# -- hostile Set-Cookie lines (and a hostile Cookie header) -------------------------------------

# Set-Cookie values as the site sends them, and as a `session` policy must pass them on: only the
# lifetime attributes of lines that could persist are cut out, every other byte stays.
HOSTILE_SET_COOKIES = [
    (b"no-equals-sign", b"no-equals-sign"),
    (b"ctl=a\x00b\x01c\x7fd; Max-Age=60", b"ctl=a\x00b\x01c\x7fd"),  # control characters
    (b"big=" + b"v" * 8192 + b"; Max-Age=31536000; Path=/", b"big=" + b"v" * 8192 + b"; Path=/"),
    (b"when=1; Expires=Wed, 99 Foo 20x1 25:61:61 GMT; Path=/", b"when=1; Path=/"),  # unreadable date
    (b"\xff\xfeid=\x80\x81; Max-Age=31536000; Path=/", b"\xff\xfeid=\x80\x81; Path=/"),  # not UTF-8
    (b"a=1, b=2", b"a=1, b=2"),  # two cookies joined by a comma: one cookie `a` to a browser
    (b"c=3; Expires=Thu, 01 Jan 2099 00:00:00 GMT, d=4; Path=/", b"c=3; Path=/"),
    (b"", b""),
]
HOSTILE_COOKIE = b"sid=1; \xff\xfe=\x80; =; novalue; a=1, b=2; long=" + b"c" * 4096


def hostile_page(sites, site: str, path: str) -> None:
    head = b"".join(b"set-cookie: %s\r\n" % sent for sent, _ in HOSTILE_SET_COOKIES)
    sites[site].page(path, raw=b"HTTP/1.1 200 OK\r\ncontent-type: text/plain\r\ncontent-length: 5\r\n"
                               + head + b"\r\nhello")


def own_cookie_names(record: dict) -> set[str]:
    """The names of the cookies a vendor's record says it set on its own pages."""
    return {entry["detail"]["name"] for entry in record["observations"]["cookies"]["top"]
            if entry["subject"].endswith("@" + record["vendor"])}


@pytest.mark.parametrize("scheme", SCHEMES)
def test_hostile_set_cookie_lines_of_a_first_party_page_pass_through_byte_for_byte(sites, proxy, scheme):
    hostile_page(sites, "vendor.test", "/")
    log_from = log_mark(proxy)
    answer = fetch_raw(proxy, f"{scheme}://vendor.test/", b"cookie: " + HOSTILE_COOKIE + b"\r\n")
    assert (answer.status, answer.body) == (200, b"hello")
    assert answer.values(b"set-cookie") == [sent for sent, _ in HOSTILE_SET_COOKIES]  # policy: allow
    assert sites["vendor.test"].wait_for("/").cookie.encode("latin-1") == HOSTILE_COOKIE
    assert_serving(proxy, sites, log_from)


@pytest.mark.parametrize("proxy_name", ["proxy", "lived_in"])
def test_hostile_set_cookie_lines_of_a_third_party_are_all_removed(sites, request, proxy_name):
    proxy = request.getfixturevalue(proxy_name)
    hostile_page(sites, "cdn.test", "/pixel")
    log_from = log_mark(proxy)
    answer = fetch_raw(proxy, "https://cdn.test/pixel",
                       b"referer: https://vendor.test/\r\nsec-fetch-site: cross-site\r\n"
                       b"sec-fetch-dest: image\r\ncookie: " + HOSTILE_COOKIE + b"\r\n")
    assert (answer.status, answer.body) == (200, b"hello")
    assert answer.values(b"set-cookie") == []
    assert sites["cdn.test"].wait_for("/pixel").cookie is None
    assert_serving(proxy, sites, log_from)


def test_hostile_set_cookie_lines_are_rewritten_to_the_sites_policy_and_observed(sites, lived_in):
    hostile_page(sites, "vendor.test", "/")
    log_from = log_mark(lived_in)
    for scheme in SCHEMES:
        answer = fetch_raw(lived_in, f"{scheme}://vendor.test/")
        assert (answer.status, answer.body) == (200, b"hello")
        assert answer.values(b"set-cookie") == [kept for _, kept in HOSTILE_SET_COOKIES]
    # What was set reaches the ledger, a name that is not UTF-8 included (it once stopped every
    # later write of observations: SQLite refuses the lone surrogates mitmproxy decodes it to).
    record = eventually(lambda: whoknows_json(lived_in, "vendor", "show", "vendor.test"),
                        lambda r: {"when", "\ufffd\ufffdid"} <= own_cookie_names(r),
                        "the cookies vendor.test set were not in the ledger")
    assert own_cookie_names(record) == {"", "when", "\ufffd\ufffdid", "a", "c"}  # malformed: nothing set
    assert_serving(lived_in, sites, log_from)


# -- big bodies and headers ---------------------------------------------------------------------

TEN_MB = 10 * 1024 * 1024


@pytest.mark.parametrize("scheme", SCHEMES)
def test_a_10_mb_upload_reaches_the_site_intact_and_is_searched_for_leaks(sites, lived_in, scheme):
    host = f"upload-{scheme}.cdn.test"  # one leak record per case
    sites["cdn.test"].page("/upload", "stored", content_type="text/plain")
    body = f"email={quote(EMAIL)}&blob=".encode() + os.urandom(TEN_MB)
    log_from = log_mark(lived_in)
    answer = lived_in.request("POST", f"{scheme}://{host}/upload", {
        "content-type": "application/x-www-form-urlencoded", "referer": "https://vendor.test/form",
        "sec-fetch-site": "cross-site", "sec-fetch-dest": "empty"}, body, timeout=LOADED_TIMEOUT)
    assert (answer.status, answer.text) == (200, "stored")
    received = sites["cdn.test"].wait_for("/upload").body
    assert (len(received), hashlib.sha256(received).hexdigest()) == (len(body), hashlib.sha256(body).hexdigest())
    eventually(lambda: whoknows_json(lived_in, "leaks"),
               lambda leaks: any(leak["recipient_host"] == host for leak in leaks),
               f"no leak to {host} recorded")
    assert_serving(lived_in, sites, log_from, LOADED_TIMEOUT)


@pytest.mark.parametrize("scheme", SCHEMES)
def test_a_10_mb_download_reaches_the_client_intact(sites, proxy, scheme):
    body = os.urandom(TEN_MB)
    sites["vendor.test"].page("/download", body, content_type="application/octet-stream")
    log_from = log_mark(proxy)
    answer = proxy.get(f"{scheme}://vendor.test/download", timeout=LOADED_TIMEOUT)
    assert answer.status == 200
    assert (len(answer.body), hashlib.sha256(answer.body).hexdigest()) == (len(body), hashlib.sha256(body).hexdigest())
    assert_serving(proxy, sites, log_from, LOADED_TIMEOUT)


def gzip_bomb(prefix: bytes, inflated: int) -> bytes:
    """`prefix` and then zeros up to `inflated` bytes, gzip-compressed (about 1000 to 1)."""
    packer = zlib.compressobj(9, zlib.DEFLATED, 16 + zlib.MAX_WBITS)
    zeros = bytes(1 << 20)
    parts = [packer.compress(prefix)]
    parts += [packer.compress(zeros) for _ in range(inflated >> 20)]
    return b"".join(parts) + packer.flush()


def test_a_compressed_upload_that_inflates_to_256_mb_is_not_inflated_by_the_proxy(sites, lived_in):
    # Any page's script may POST a body with a Content-Encoding. The leak scan reads 64 KB of a
    # body; the proxy once inflated all of it (1 MB of gzip: 1 GB in memory, seconds of stall).
    bomb = gzip_bomb(f"email={quote(EMAIL)}&pad=".encode(), 256 << 20)
    assert len(bomb) < MAX_DECODED_BODY  # small enough to be decoded for the scan at all
    sites["cdn.test"].page("/bomb", "stored", content_type="text/plain")
    peak_before = peak_memory_bytes(lived_in)
    log_from = log_mark(lived_in)
    answer = lived_in.request("POST", "https://bomb.cdn.test/bomb", {
        "content-type": "application/x-www-form-urlencoded", "content-encoding": "gzip",
        "referer": "https://vendor.test/form", "sec-fetch-site": "cross-site", "sec-fetch-dest": "empty"},
        bomb, timeout=LOADED_TIMEOUT)
    # the email at the start of the body is found without inflating the rest: leak prevention stops it
    assert answer.status == 403
    assert sites["cdn.test"].received("/bomb") == []
    eventually(lambda: whoknows_json(lived_in, "leaks"),
               lambda leaks: any(leak["recipient_host"] == "bomb.cdn.test" and leak["outcome"] == "prevented"
                                 for leak in leaks),
               "the email at the start of the compressed body was not found")
    assert peak_memory_bytes(lived_in) - peak_before < 64 << 20
    assert_serving(lived_in, sites, log_from, LOADED_TIMEOUT)


@pytest.mark.parametrize("scheme", SCHEMES)
def test_an_oversized_response_header_arrives_intact(sites, proxy, scheme):
    big = b"h" * (1 << 20)
    sites["vendor.test"].page("/big-header", raw=b"HTTP/1.1 200 OK\r\nx-big: " + big
                              + b"\r\ncontent-length: 2\r\n\r\nok")
    log_from = log_mark(proxy)
    answer = fetch_raw(proxy, f"{scheme}://vendor.test/big-header", timeout=LOADED_TIMEOUT)
    assert (answer.status, answer.values(b"x-big"), answer.body) == (200, [big], b"ok")
    assert_serving(proxy, sites, log_from, LOADED_TIMEOUT)


def test_an_oversized_set_cookie_line_is_rewritten_whole(sites, lived_in):
    value = b"v" * (1 << 20)
    sites["vendor.test"].page("/big-cookie", raw=b"HTTP/1.1 200 OK\r\nset-cookie: big=" + value
                              + b"; Max-Age=31536000; Secure\r\ncontent-length: 2\r\n\r\nok")
    log_from = log_mark(lived_in)
    answer = fetch_raw(lived_in, "https://vendor.test/big-cookie", timeout=LOADED_TIMEOUT)
    assert (answer.status, answer.values(b"set-cookie"), answer.body) == (200, [b"big=" + value + b"; Secure"], b"ok")
    assert_serving(lived_in, sites, log_from, LOADED_TIMEOUT)


# -- buggy addons -------------------------------------------------------------------------------


def test_a_buggy_addon_neither_breaks_pages_nor_floods_the_log(sites, start_proxy):
    proxy = start_proxy(addons=("e2e_addons:Crashing",), name="crashing-proxy")
    try:
        sites["vendor.test"].page("/", "home")
        for _ in range(3):
            answer = proxy.get("https://vendor.test/")
            assert (answer.status, answer.text) == (200, "home")
        hits = sites["vendor.test"].received()
        assert [h.path for h in hits] == ["/", "/", "/"]  # the half-done rewrite was undone
        assert all(h.header("sec-gpc") == "1" for h in hits)
        assert proxy.stderr().count("e2e_crashing failed in request") == 1
        assert "RuntimeError: e2e: deliberate bug" in proxy.stderr()  # the cause, with traceback
        assert proxy.stop() == 0
        assert "e2e_crashing failed in request 3 times" in proxy.stderr()
    finally:
        proxy.stop()
