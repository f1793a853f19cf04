"""Hostile or broken clients and buggy addons do not take the proxy down."""

import socket

import pytest

pytestmark = pytest.mark.slow

BIG = b"a" * (1 << 20)

BAD_INPUTS = {
    "garbage request line": b"GARBAGE\r\n\r\n",
    "no version": b"GET http://vendor.test/\r\n\r\n",
    "one 1 MiB header": b"GET http://vendor.test/ HTTP/1.1\r\nhost: vendor.test\r\nx-big: " + BIG + b"\r\n\r\n",
    "5000 headers": b"GET http://vendor.test/ HTTP/1.1\r\nhost: vendor.test\r\n"
                    + b"".join(b"x-%d: %d\r\n" % (i, i) for i in range(5000)) + b"\r\n",
    "nul and non-utf8 bytes": b"GET http://vendor.test/ HTTP/1.1\r\nhost: vendor.test\r\nx: \x00\xff\xfe\r\n\r\n",
    "negative content-length": b"POST http://vendor.test/ HTTP/1.1\r\nhost: vendor.test\r\ncontent-length: -5\r\n\r\n",
    "impossible connect target": b"CONNECT [::::]:99999 HTTP/1.1\r\n\r\n",
    "tls bytes on the plain port": b"\x16\x03\x01\x00\x05hello",
    "hang up at once": b"",
}


def raw_exchange(proxy, payload: bytes, timeout: float = 5.0) -> bytes:
    """Send `payload` on a fresh connection; whatever comes back before close or `timeout`."""
    received = b""
    with socket.create_connection((proxy.host, proxy.port), timeout=timeout) as sock:
        try:
            sock.sendall(payload)
            sock.shutdown(socket.SHUT_WR)
            while chunk := sock.recv(65536):
                received += chunk
        except (BrokenPipeError, ConnectionResetError, TimeoutError, socket.timeout):
            pass
    return received


@pytest.mark.parametrize("payload", BAD_INPUTS.values(), ids=BAD_INPUTS.keys())
def test_a_bad_client_does_not_stop_the_next_request(sites, proxy, payload):
    sites["vendor.test"].page("/alive", "still here", content_type="text/plain")
    answer = raw_exchange(proxy, payload)
    if payload.startswith((b"GARBAGE", b"CONNECT")):
        assert answer.startswith(b"HTTP/1.1 4"), answer[:200]  # refused with a client error
    assert proxy.alive()
    after = proxy.get("http://vendor.test/alive")
    assert (after.status, after.text) == (200, "still here")


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
