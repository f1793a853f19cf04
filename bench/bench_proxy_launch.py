"""One proxy for `bench_proxy.py`, as its own process, sealed off the network.

    python bench/bench_proxy_launch.py mitmdump [MITMDUMP ARGUMENTS...]
    python bench/bench_proxy_launch.py whoknows --port P [--set OPTION=VALUE ...]

Inside this process only (the bench itself, wrk and nginx are untouched), the sealing the e2e
tests use (`tests/support/sealed_network.py`):
- `socket.getaddrinfo` resolves `*.test` to 127.0.0.1 (port unchanged), passes loopback names
  through and refuses every other name, saying so once on stderr (`sealed-network: refused NAME`);
- `connect`/`connect_ex`/`sendto` refuse non-loopback addresses (IP literals skip the resolver).
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
import gc
import json
import signal
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests" / "support"))
from sealed_network import REFUSED_PREFIX  # noqa: E402,F401  (bench_proxy.py reads it from here)
from sealed_network import seal  # noqa: E402

GC_PREFIX = "bench-gc: "


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
    parser.add_argument("--set", dest="specs", action="append", default=[],
                        help="a proxy option, as `whoknows proxy --set`")
    args = parser.parse_args(argv)
    settings = runner.ProxySettings(listen_host="127.0.0.1", listen_port=args.port,
                                    options={"whoknows_control_port": 0}, option_specs=args.specs)
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
