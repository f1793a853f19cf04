"""The proxy run in this process (`runner.serve`, what `whoknows proxy` runs), on a free loopback port.

The CLI's tests (tests/cli/test_proxy_cli.py) run it as a process and stop it with signals; here it
runs in a thread, is reached through `on_listening`, and is stopped with `master.shutdown()`.
"""

from __future__ import annotations

import asyncio
import ctypes
import gc
import http.client
import io
import logging
import subprocess
import sys
import threading
from pathlib import Path

import pytest
from mitmproxy import ctx

from proxy_addons import runner
from proxy_addons.runner import ProxySettings
from whoknows.errors import InputError


class InThread:
    """`runner.serve` in its own thread and event loop."""

    def __init__(self, settings: ProxySettings) -> None:
        self.settings = settings
        self.out, self.err = io.StringIO(), io.StringIO()
        self.listening = threading.Event()
        self.master = None
        self.address: tuple[str, int] | None = None
        self.status: int | None = None
        self.error: BaseException | None = None
        self.thread = threading.Thread(target=self._run, daemon=True)

    def _on_listening(self, host: str, port: int) -> None:
        self.master, self.address = ctx.master, (host, port)
        self.listening.set()

    def _run(self) -> None:
        try:
            self.status = asyncio.run(runner.serve(self.settings, out=self.out, err=self.err,
                                                   on_listening=self._on_listening))
        except BaseException as exc:  # handed to the test
            self.error = exc
        finally:
            self.listening.set()

    def __enter__(self) -> InThread:
        self.thread.start()
        assert self.listening.wait(30), "the proxy did not start"
        return self

    def __exit__(self, *exc_info) -> None:
        if self.master is not None:
            self.master.shutdown()
        self.thread.join(30)
        assert not self.thread.is_alive(), "the proxy did not stop"


def proxied_get(port: int, url: str) -> tuple[int, bytes]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        conn.request("GET", url)
        response = conn.getresponse()
        return response.status, response.read()
    finally:
        conn.close()


@pytest.fixture
def settings(tmp_path) -> ProxySettings:
    return ProxySettings(listen_port=0, confdir=tmp_path / "mitmproxy",
                         options={"whoknows_control_port": -1})


@pytest.fixture(autouse=True)
def process_state():
    """What a proxy run changes in its process, put back for the tests that follow in this one."""
    levels = {name: logging.getLogger(name).level for name in ("", "asyncio", "hpack", "tornado", "quic", "passlib")}
    yield
    gc.unfreeze()  # FreezeStartupHeap froze the heap
    for name, level in levels.items():
        logging.getLogger(name).setLevel(level)


def test_it_announces_serves_and_stops_cleanly(settings):
    with InThread(settings) as proxy:
        assert proxy.error is None
        host, port = proxy.address
        assert host == "127.0.0.1" and port > 0
        assert proxy.out.getvalue() == (f"whoknows proxy listening on 127.0.0.1:{port} "
                                        f"(PAC file: http://127.0.0.1:{port}/proxy.pac)\n")
        assert gc.get_freeze_count() > 0  # start-up's heap is kept out of later collections
        status, pem = proxied_get(port, "http://mitm.it/cert/pem")  # mitmproxy's CA page
        assert status == 200 and b"BEGIN CERTIFICATE" in pem
        status, pac = proxied_get(port, "http://whoknows.proxy/proxy.pac")  # a whoknows addon
        assert status == 200 and f"PROXY 127.0.0.1:{port}".encode() in pac
    assert proxy.status == 0
    assert "whoknows proxy: stopped" in proxy.err.getvalue()
    assert settings.confdir.joinpath("mitmproxy-ca.pem").is_file()  # the CA went where it was told


def test_the_whoknows_addons_are_registered_by_name_in_one_chain(settings):
    with InThread(settings) as proxy:
        addons = proxy.master.addons
        chain = addons.get("whoknows_chain")
        assert chain in addons.chain
        for name in ("whoknows_safety", "whoknows_context", "whoknows_blocking", "whoknows_cookies",
                     "whoknows_observation", "whoknows_leaks", "whoknows_control"):
            member = addons.get(name)
            assert member in chain.members and member not in addons.chain
        # mitmproxy's own sticky cookies would hand back cookies the cookie policy removed.
        assert addons.get("stickycookie") is None and addons.get("proxyauth") is not None
        # events reach the addons through the table of who has which hook (speed only)
        from proxy_addons.mitmproxy_shortcuts import HookTable
        assert isinstance(addons, HookTable)


def test_an_option_no_addon_declares_is_an_input_error_that_names_the_way_out(settings):
    bad = ProxySettings(listen_port=0, confdir=settings.confdir,
                        options={"whoknows_control_port": -1, "stickycookie": ".*"})
    proxy = InThread(bad)
    proxy.thread.start()
    proxy.thread.join(30)
    assert isinstance(proxy.error, InputError)
    assert "stickycookie" in str(proxy.error)
    assert "mitmdump -s proxy_addons/whoknows.py" in str(proxy.error)
    assert proxy.out.getvalue() == ""  # it never listened


def test_a_taken_port_says_to_use_port_not_mitmproxy_s_mode_hint(settings):
    import socket

    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        proxy = InThread(ProxySettings(listen_port=port, confdir=settings.confdir,
                                       options={"whoknows_control_port": -1}))
        proxy.thread.start()
        proxy.thread.join(30)
    assert proxy.error is None and proxy.status not in (0, None)
    said = proxy.err.getvalue()
    assert f"port {port} on 127.0.0.1 is already in use" in said
    assert f"--port {port + 1} (--port 0 takes any free one)" in said
    assert "--mode" not in said
    assert proxy.out.getvalue() == ""  # it never listened


def test_bodies_above_1_mb_stream_by_default_and_the_threshold_is_an_option(settings):
    with InThread(settings) as proxy:
        assert proxy.master.options.stream_large_bodies == "1m"
    changed = ProxySettings(listen_port=0, confdir=settings.confdir, options={"whoknows_control_port": -1},
                            option_specs=("stream_large_bodies=10m",))
    with InThread(changed) as proxy:
        assert proxy.master.options.stream_large_bodies == "10m"


def test_a_threshold_that_is_not_a_size_is_an_input_error(settings):
    bad = ProxySettings(listen_port=0, confdir=settings.confdir, options={"whoknows_control_port": -1},
                        option_specs=("stream_large_bodies=lots",))
    proxy = InThread(bad)
    proxy.thread.start()
    proxy.thread.join(30)
    assert isinstance(proxy.error, InputError)
    assert "stream_large_bodies" in str(proxy.error) and "lots" in str(proxy.error)
    assert proxy.out.getvalue() == ""  # it never listened


# In a fresh interpreter (a small heap with no large holes: the outcome must not depend on what a
# proxy run leaves behind), with or without the runner's fix: a 4 MB buffer is freed, then a 3 MB
# one is taken; then a socket read's buffer (asyncio reads into a fresh 256 KB one) is taken and
# freed a few times. Prints for each whether it got memory of its own from the system (mmap,
# counted in mallinfo2's hblkhd, handed back when freed) or came from the heap.
_BUFFER_SCRIPT = r"""
import ctypes, sys

class MallInfo2(ctypes.Structure):
    _fields_ = [(name, ctypes.c_size_t) for name in ("arena", "ordblks", "smblks", "hblks", "hblkhd",
                "usmblks", "fsmblks", "uordblks", "fordblks", "keepcost")]

libc = ctypes.CDLL("libc.so.6")
libc.mallinfo2.restype = MallInfo2
libc.malloc.restype, libc.malloc.argtypes = ctypes.c_void_p, [ctypes.c_size_t]
libc.free.argtypes = [ctypes.c_void_p]
if sys.argv[1] == "fixed":
    from proxy_addons import runner
    assert runner.fix_malloc_mmap_threshold()
libc.free(libc.malloc(4 * 1024 * 1024))
before = libc.mallinfo2().hblkhd
buffer = libc.malloc(3 * 1024 * 1024)
large = "own" if libc.mallinfo2().hblkhd - before >= 3 * 1024 * 1024 else "heap"
before, read = libc.mallinfo2().hblkhd, "heap"
for _ in range(3):
    read_buffer = libc.malloc(256 * 1024 + 33)
    read = "own" if libc.mallinfo2().hblkhd != before else read
    libc.free(read_buffer)
print(large, read)
"""


def _where_buffers_go(fix: str) -> str:
    done = subprocess.run([sys.executable, "-c", _BUFFER_SCRIPT, fix], capture_output=True, text=True,
                          timeout=60, cwd=Path(runner.__file__).parents[1])
    assert done.returncode == 0, done.stderr
    return done.stdout.strip()


@pytest.mark.skipif(not hasattr(ctypes.CDLL(None), "mallinfo2"), reason="glibc's malloc only")
def test_the_malloc_fix_keeps_large_buffers_out_of_the_heap_and_socket_reads_in_it():
    # glibc alone: once a 4 MB buffer is freed, buffers up to 4 MB grow its heap (fragmenting it:
    # the proxy's RSS crept in bench/bench_soak.py).
    assert _where_buffers_go("nothing") == "heap heap"
    # fixed: a large one gets memory of its own; a socket read's buffer still comes from the heap
    # (an mmap and munmap each read cost ~30 us of CPU a proxied request at a 128 KB threshold)
    assert _where_buffers_go("fixed") == "own heap"


def test_the_proxy_applies_the_malloc_fix_when_it_starts(settings, monkeypatch):
    applied = []
    monkeypatch.setattr(runner, "fix_malloc_mmap_threshold", lambda: applied.append(True) or True)
    with InThread(settings) as proxy:
        assert proxy.error is None
    assert applied == [True]
