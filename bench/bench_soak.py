"""A soak of the whoknows proxy: minutes of mixed everyday traffic; does anything grow or fail?

    .venv/bin/python bench/bench_soak.py [--seconds 180] [--warmup 30]

The real proxy process (`whoknows proxy`'s runner, sealed off the network as the e2e tests run it)
under allowed, blocked, HTTPS, large (8 MB down, 4 MB up) and WebSocket traffic (short sessions
and one kept open all along) from five concurrent clients, everything on loopback; it stops by
itself after `--seconds`. What and how: tests/e2e/e2e_soak.py. `stream_large_bodies=1m` is set if
the proxy has that option (the run says whether it did).

Printed: requests per kind and failures (goal 0), the proxy's RSS after the warm-up (growth from
the warm-up's end to the end, goal <= 10 MB; the least-squares slope; the peak; the slope of the
first and the second half, and whether it flattens; where the RSS is at the end: files, malloc's
main heap, other anonymous memory), and the ledger's
growth after the warm-up in rows per table and in bytes (goal: aggregates, i.e. no rows per request).
Exit status 1 when a goal is missed. On a shared machine the RSS figures are the ones to trust
(memory does not depend on the neighbours); request counts do.

Measured (docs/architecture.md, "Memory over hours"): before glibc's mmap threshold was pinned
(`runner.fix_malloc_mmap_threshold`) the RSS crept in steps (+1.2 MB in 19 minutes after the
warm-up, 260k requests); since, 420 s: +0.2 MB, +0.045 MB/min first half, +0.010 second half.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "tests" / "e2e"), str(ROOT / "tests" / "support")]
from e2e_soak import soak  # noqa: E402

RSS_GOAL_MB = 10.0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=180.0, help="how long the soak runs (default 180)")
    parser.add_argument("--warmup", type=float, default=None,
                        help="seconds before measuring starts (default: a sixth of the run, at least 10)")
    args = parser.parse_args(argv)
    warmup = args.warmup if args.warmup is not None else max(10.0, args.seconds / 6)
    if not 0 < warmup < args.seconds:
        parser.error("--warmup must be above 0 and below --seconds")
    # The soak's throwaway homes keep their keys in their own fallback file, never in your keyring.
    os.environ["PYTHON_KEYRING_BACKEND"] = "keyring.backends.fail.Keyring"
    print(f"soak: {args.seconds:g} s, warm-up {warmup:g} s, loopback only", flush=True)
    with tempfile.TemporaryDirectory(prefix="whoknows-soak-") as tmp:
        result = soak(Path(tmp), args.seconds, warmup, progress=lambda line: print(f"  {line}", flush=True))
    print()
    print(f"{'kind':<16}{'requests':>10}{'after warm-up':>15}{'failed':>8}{'MB moved':>10}")
    for kind, tally in result.tallies.items():
        after = tally.requests - result.warm_tallies.get(kind, 0)
        print(f"{kind:<16}{tally.requests:>10}{after:>15}{tally.failures:>8}{tally.bytes / 1e6:>10.0f}")
    print(f"{'all':<16}{result.requests:>10}{result.requests_after_warmup:>15}{result.failures:>8}")
    for tally in result.tallies.values():
        for reason in tally.reasons:
            print(f"  failed: {reason}")
    print()
    first, last = result.rss_samples[0][1], result.rss_samples[-1][1]
    print(f"stream_large_bodies: {'1m' if result.streaming else 'not set (this proxy has no such option)'}")
    print(f"proxy RSS after warm-up: {first:.1f} MB -> {last:.1f} MB at the end: growth "
          f"{result.rss_growth_mb:+.1f} MB (goal <= {RSS_GOAL_MB:g}); slope {result.rss_slope_mb_per_min:+.2f} "
          f"MB/min; peak {result.rss_peak_mb:.1f} MB; {len(result.rss_samples)} samples")
    print(f"slope first half {result.rss_early_slope_mb_per_min:+.3f} MB/min, second half "
          f"{result.rss_late_slope_mb_per_min:+.3f} MB/min: "
          + ("flattens (a plateau being reached, not a steady leak)" if result.rss_flattens else
             "does NOT flatten (steady growth: a leak, or a run too short to tell)"))
    if result.memory_map:
        where = result.memory_map
        print(f"where the RSS is at the end: files (code, libraries) {where.files:.1f} MB, [heap] (malloc's "
              f"main arena) {where.heap:.1f} MB, other anonymous (Python's object arenas, threads' arenas, "
              f"stacks) {where.anonymous:.1f} MB")
    warm, end = result.ledger_warm, result.ledger_end
    growth = result.ledger_rows_growth
    per_1000 = 1000 * sum(growth.values()) / max(1, result.requests_after_warmup)
    print(f"ledger after warm-up: {warm.total_rows} -> {end.total_rows} rows "
          f"({', '.join(f'{t} {n:+d}' for t, n in growth.items()) or 'no table grew'}; "
          f"{per_1000:.2f} rows per 1000 requests), {warm.bytes / 1024:.0f} -> {end.bytes / 1024:.0f} KB")
    print(f"ledger rows at the end: {', '.join(f'{t} {n}' for t, n in end.rows.items() if n)}")
    print(f"proxy exit status: {result.proxy_exit}; log lines about failures: {len(result.log_failures)}")
    for line in result.log_failures[:10]:
        print(f"  log: {line}")
    missed = []
    if result.failures:
        missed.append(f"{result.failures} failed requests")
    if result.rss_growth_mb > RSS_GOAL_MB:
        missed.append(f"RSS grew {result.rss_growth_mb:.1f} MB")
    if growth:
        missed.append("ledger rows grew after the warm-up")
    if result.proxy_exit != 0:
        missed.append(f"the proxy exited with {result.proxy_exit}")
    print("goals: " + ("all met" if not missed else "missed: " + "; ".join(missed)))
    return 1 if missed else 0


if __name__ == "__main__":
    sys.exit(main())
