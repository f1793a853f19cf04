"""One proxy for `bench_proxy.py`, as its own process, sealed off the network.

    python bench/bench_proxy_launch.py mitmdump [MITMDUMP ARGUMENTS...]
    python bench/bench_proxy_launch.py whoknows --port P

Inside this process only (the bench itself, wrk and nginx are untouched):
- `socket.getaddrinfo` resolves `*.test` to 127.0.0.1 (port unchanged), passes loopback names
  through and refuses every other name, saying so once on stderr (`bench-resolver: refused NAME`);
- `connect`/`connect_ex` refuse non-loopback addresses (IP literals skip the resolver).
So the origin can be named like a real site (`shop.test:PORT`: the whoknows addons treat an IP
address as having no site, which would skip most of their work), and a proxy that tries to reach a
blocked tracker host leaves a line on stderr instead of a packet on the network.
Also, for the report: from SIGUSR1 on (the bench sends it when the warm-up is over) the garbage
collector's collections are counted, and printed on stderr at exit (`bench-gc: {...}`).

The same sealing for every proxy under test, so it costs them all the same. `mitmdump` runs
mitmproxy's own `mitmdump` entry point; `whoknows` runs `proxy_addons.runner` (what `whoknows proxy`
runs) on 127.0.0.1 with the control API on a free port. `$WHOKNOWS_HOME` picks the data directory.
"""

from __future__ import annotations

import atexit
import errno
import gc
import ipaddress
import json
import signal
import socket
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
REFUSED_PREFIX = "bench-resolver: refused "
GC_PREFIX = "bench-gc: "

_real_getaddrinfo = socket.getaddrinfo
_real_connect = socket.socket.connect
_real_connect_ex = socket.socket.connect_ex
_refused: set[str] = set()


def _refuse(name: str) -> None:
    if name not in _refused:
        _refused.add(name)
        print(f"{REFUSED_PREFIX}{name}", file=sys.stderr, flush=True)


def _is_loopback_ip(text: str) -> bool:
    try:
        return ipaddress.ip_address(text.split("%", 1)[0]).is_loopback
    except ValueError:
        return False


def _getaddrinfo(host, port, family=0, type=0, proto=0, flags=0):
    name = (host.decode() if isinstance(host, bytes) else host or "").rstrip(".").lower()
    if name == "localhost" or _is_loopback_ip(name):
        return _real_getaddrinfo(host, port, family, type, proto, flags)
    if name.endswith(".test"):
        kind = type or socket.SOCK_STREAM
        return [(socket.AF_INET, kind, socket.IPPROTO_TCP, "", ("127.0.0.1", int(port or 0)))]
    _refuse(name or "<empty>")
    raise socket.gaierror(socket.EAI_NONAME, f"bench resolver: {name} is not a test name")


def _checked(real):
    def connect(self, address):
        if self.family in (socket.AF_INET, socket.AF_INET6) and not _is_loopback_ip(str(address[0])):
            _refuse(str(address[0]))
            raise OSError(errno.ENETUNREACH, f"bench: {address[0]} is not loopback")
        return real(self, address)

    return connect


def seal() -> None:
    socket.getaddrinfo = _getaddrinfo
    socket.socket.connect = _checked(_real_connect)
    socket.socket.connect_ex = _checked(_real_connect_ex)


def report_gc_at_exit() -> None:
    """On SIGUSR1 (sent once the warm-up is over) note the collector's counts; at exit print, on
    stderr, what it did since (`bench-gc: {json}`) and what a full collection costs by then."""
    marks: dict[str, list] = {"start": gc.get_stats()}

    def mark(*_) -> None:
        marks["start"] = gc.get_stats()

    def report() -> None:
        now = gc.get_stats()
        collections = [b["collections"] - a["collections"] for a, b in zip(marks["start"], now)]
        started = time.perf_counter()
        gc.collect()
        full_ms = (time.perf_counter() - started) * 1000
        data = {"collections": collections, "full_collection_ms": round(full_ms, 2),
                "tracked_objects": len(gc.get_objects()), "frozen_objects": gc.get_freeze_count()}
        print(f"{GC_PREFIX}{json.dumps(data)}", file=sys.stderr, flush=True)

    signal.signal(signal.SIGUSR1, mark)
    atexit.register(report)


def run_whoknows(argv: list[str]) -> int:
    import argparse

    sys.path.insert(0, str(ROOT))
    from proxy_addons import runner

    parser = argparse.ArgumentParser(prog="bench_proxy_launch.py whoknows")
    parser.add_argument("--port", type=int, required=True)
    args = parser.parse_args(argv)
    settings = runner.ProxySettings(listen_host="127.0.0.1", listen_port=args.port,
                                    options={"whoknows_control_port": 0})
    return runner.run(settings)


def main(argv: list[str]) -> int:
    if not argv:  # `bench/run_all.py` runs every bench_*.py: nothing to measure on its own
        print("a helper of bench_proxy.py (starts one proxy under test); run bench_proxy.py")
        return 0
    if argv[0] not in ("mitmdump", "whoknows"):
        print(__doc__, file=sys.stderr)
        return 2
    seal()
    report_gc_at_exit()
    if argv[0] == "whoknows":
        return run_whoknows(argv[1:])
    from mitmproxy.tools.main import mitmdump

    mitmdump(argv[1:])
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
