"""Tracker company lookup speed and memory, against a plain dict get and the site lookup, in the same run.

    .venv/bin/python bench/bench_tracker_companies.py [--rounds N]

Per-lookup time: the host of every request of adblock-rust's request set (8,276 real requests),
after one warm-up pass, timed one call at a time over N passes; median and p99 of all calls, for
- `tracker_companies.tracker_domain(host)`: the company and category by longest domain suffix;
- baseline 1: `dict.get(host)` on a dict of the same domain keys (the floor: one hash lookup);
- baseline 2: `sites.site_of` (the registrable domain of a host, which the proxy already looks up
  for every request), as the proxy calls it (its LRU cache warm) and without its cache.
Memory: the shipped file loaded in a fresh process under `tracemalloc` (what the loaded tables
hold, and the peak while loading), and that process's RSS growth. Needs ../shared/data.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import urlsplit

ROOT = Path(__file__).resolve().parents[1]
REQUESTS = ROOT.parent / "shared" / "data" / "requests" / "adblock-rust-matching-requests.json"
sys.path.insert(0, str(ROOT))

GOALS = {"median_us": 2.0, "tracemalloc_mb": 10.0}

# Run in a fresh process: loads the shipped data and prints what it took (JSON).
_MEMORY_SCRIPT = r"""
import json, sys, time, tracemalloc
sys.path.insert(0, {root!r})
def rss():
    for line in open("/proc/self/status"):
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
from whoknows import tracker_companies
before = rss()
tracemalloc.start()
start = time.perf_counter()
tracker_companies.tracker_domain("www.google-analytics.com")
load_s = time.perf_counter() - start
current, peak = tracemalloc.get_traced_memory()
tracemalloc.stop()
print(json.dumps({{"current": current, "peak": peak, "load_s": load_s, "rss_growth": rss() - before}}))
"""


def percentile(sorted_values: list[float], fraction: float) -> float:
    return sorted_values[min(len(sorted_values) - 1, int(len(sorted_values) * fraction))]


def time_calls(call, hosts: list[str], rounds: int) -> list[float]:
    clock = time.perf_counter
    for host in hosts:  # warm-up: the data is loaded, the entries of known hosts made
        call(host)
    samples = []
    for _ in range(rounds):
        for host in hosts:
            start = clock()
            call(host)
            samples.append(clock() - start)
    samples.sort()
    return samples


def memory() -> dict | None:
    proc = subprocess.run(
        [sys.executable, "-c", _MEMORY_SCRIPT.format(root=str(ROOT))], capture_output=True, text=True, timeout=120
    )
    if proc.returncode != 0:
        print(f"  (memory run failed: {proc.stderr.strip().splitlines()[-1:]})")
        return None
    return json.loads(proc.stdout)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=20)
    args = parser.parse_args()
    if not REQUESTS.is_file():
        print(f"shared data not found at {REQUESTS}", file=sys.stderr)
        return 1
    hosts = [urlsplit(request["url"]).hostname or "" for request in json.loads(REQUESTS.read_text())]

    from whoknows import tracker_companies
    from whoknows.sites import site_of

    tracker_companies.tracker_domain("warm.example")
    plain = dict(tracker_companies._data().domains)
    attributed = sum(tracker_companies.tracker_domain(host) is not None for host in hosts)

    ours = time_calls(tracker_companies.tracker_domain, hosts, args.rounds)
    floor = time_calls(plain.get, hosts, args.rounds)
    sites = time_calls(site_of, hosts, args.rounds)
    sites_uncached = time_calls(site_of.__wrapped__, hosts, args.rounds)

    print(f"{len(hosts):,} request hosts ({len(set(hosts)):,} distinct; {attributed:,} attributed to a company), "
          f"{args.rounds} timed passes after a warm-up pass\n")
    print(f"{'':14}{'tracker_domain':>15}{'dict.get':>10}{'ratio':>8}{'site_of':>10}{'ratio':>8}"
          f"{'uncached':>10}{'ratio':>8}{'goal':>8}")
    for label, fraction in (("median (us)", 0.5), ("p99 (us)", 0.99)):
        mine, *others = (percentile(s, fraction) * 1e6 for s in (ours, floor, sites, sites_uncached))
        columns = "".join(f"{other:>10.2f}{mine / other:>7.2f}x" for other in others)
        goal = f"<= {GOALS['median_us']:.0f}" if fraction == 0.5 else ""
        print(f"{label:14}{mine:>15.2f}{columns}{goal:>8}")

    used = memory()
    counts = tracker_companies.counts()
    print(f"\n{counts['domains']:,} domains, {counts['sites']:,} sites, {counts['companies']:,} companies; "
          f"file {tracker_companies.DATA_FILE.stat().st_size / 2**10:.0f} KiB")
    if used:
        print(f"{'loaded tables (tracemalloc, MB)':34}{used['current'] / 2**20:>8.1f}"
              f"   (goal <= {GOALS['tracemalloc_mb']:.0f} of the proxy's 120 MB)")
        print(f"{'peak while loading (MB)':34}{used['peak'] / 2**20:>8.1f}")
        print(f"{'RSS growth (MB)':34}{used['rss_growth']:>8.1f}")
        print(f"{'load time (ms)':34}{used['load_s'] * 1e3:>8.1f}")

    misses = []
    median = percentile(ours, 0.5) * 1e6
    if median > GOALS["median_us"]:
        misses.append(f"median {median:.2f} us")
    if used and used["current"] / 2**20 > GOALS["tracemalloc_mb"]:
        misses.append(f"tables {used['current'] / 2**20:.1f} MB")
    print("\ngoals: " + ("all met" if not misses else "MISSED: " + "; ".join(misses)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
