"""Filter engine speed and memory with EasyList + EasyPrivacy, against adblock-rust in the same run.

    .venv/bin/python bench/bench_filters.py [--rounds N]

Per-request time: every request of adblock-rust's request set (8,276 real requests), each engine
warmed up by one pass, then timed one call at a time over N passes; median and p99 of all calls.
Load: from the lists' text (parse + index), and from whoknows' compiled cache. RSS: each engine
loaded in a fresh subprocess (RSS after loading, and the growth over the same process before).
Needs ../shared/data and the `adblock` package (the comparison is skipped without it).
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT.parent / "shared" / "data"
LISTS = [DATA / "filterlists" / "easylist.txt", DATA / "filterlists" / "easyprivacy.txt"]
REQUESTS = DATA / "requests" / "adblock-rust-matching-requests.json"
sys.path.insert(0, str(ROOT))

GOALS = {
    "median_ratio": 3.0,  # x adblock-rust's median
    "p99_us": 100.0,
    "load_text_s": 2.0,
    "load_cache_s": 0.2,
    "rss_mb": 150.0,
}

# Run in a subprocess: prints RSS (MB) before and after loading one engine.
_RSS_SCRIPT = r"""
import sys, json
sys.path.insert(0, {root!r})
def rss():
    for line in open("/proc/self/status"):
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
which, cache = sys.argv[1], sys.argv[2]
texts = [open(p).read() for p in {lists!r}]
if which == "adblock":
    import adblock
    before = rss()
    fs = adblock.FilterSet()
    for text in texts:
        fs.add_filter_list(text)
    engine = adblock.Engine(fs)
    engine.check_network_urls("https://example.com/", "https://example.org/", "script")
else:
    from whoknows.filters import FilterEngine
    import whoknows.sites
    whoknows.sites.site_of("warm.example.com")  # the Public Suffix List, loaded by any engine's first match
    before = rss()
    if which == "whoknows-cache":
        engine = FilterEngine.load(cache)
    else:
        engine = FilterEngine()
        for name, text in zip(("easylist", "easyprivacy"), texts):
            engine.add_list(text, name)
    engine.match("https://example.com/", "script", "https://example.org/")
del texts
import gc; gc.collect()
print(json.dumps({{"before": before, "after": rss()}}))
"""


def percentile(sorted_values: list[float], fraction: float) -> float:
    return sorted_values[min(len(sorted_values) - 1, int(len(sorted_values) * fraction))]


def time_calls(call, requests, rounds: int) -> list[float]:
    clock = time.perf_counter
    for url, type, source in requests:  # warm-up: caches, lazily compiled regexes
        call(url, type, source)
    samples = []
    for _ in range(rounds):
        for url, type, source in requests:
            start = clock()
            call(url, type, source)
            samples.append(clock() - start)
    samples.sort()
    return samples


def best_of(fn, repeat: int = 3) -> float:
    times, results = [], []
    for _ in range(repeat):
        start = time.perf_counter()
        results.append(fn())  # kept: freeing an engine is not part of loading one
        times.append(time.perf_counter() - start)
    results.clear()
    return min(times)


def rss_of(which: str, cache: Path) -> dict | None:
    script = _RSS_SCRIPT.format(root=str(ROOT), lists=[str(p) for p in LISTS])
    proc = subprocess.run(
        [sys.executable, "-c", script, which, str(cache)], capture_output=True, text=True, timeout=300
    )
    if proc.returncode != 0:
        print(f"  ({which} RSS run failed: {proc.stderr.strip().splitlines()[-1:]})")
        return None
    return json.loads(proc.stdout)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3, help="timed passes over the requests (default 3)")
    args = parser.parse_args()
    if not REQUESTS.exists():
        print(f"shared data not found at {DATA}", file=sys.stderr)
        return 1
    from whoknows.filters import FilterEngine

    texts = [p.read_text() for p in LISTS]
    requests = [(r["url"], r["type"], r["sourceUrl"]) for r in json.loads(REQUESTS.read_text())]

    def load_ours() -> FilterEngine:
        engine = FilterEngine()
        for name, text in zip(("easylist", "easyprivacy"), texts):
            engine.add_list(text, name)
        engine.match("https://example.com/", "script")  # builds the index
        return engine

    ours = load_ours()
    load_text = best_of(load_ours)
    with tempfile.TemporaryDirectory() as tmp:
        cache = Path(tmp) / "filters.cache"
        save_time = best_of(lambda: ours.save(cache), repeat=1)
        cache_size = cache.stat().st_size
        load_cache = best_of(lambda: FilterEngine.load(cache))
        loaded = FilterEngine.load(cache)
        rss = {which: rss_of(which, cache) for which in ("whoknows-text", "whoknows-cache", "adblock")}

    ours_samples = time_calls(ours.match, requests, args.rounds)
    cached_samples = time_calls(loaded.match, requests, 1)

    try:
        import adblock
    except ImportError:
        adblock = None
    theirs_samples = None
    if adblock is not None:

        def load_theirs():
            fs = adblock.FilterSet()
            for text in texts:
                fs.add_filter_list(text)
            return adblock.Engine(fs)

        theirs = load_theirs()
        theirs_load = best_of(load_theirs)
        theirs_samples = time_calls(lambda u, t, s: theirs.check_network_urls(u, s, t), requests, args.rounds)

    us = 1e6
    median, p99 = statistics.median(ours_samples) * us, percentile(ours_samples, 0.99) * us
    print(f"EasyList + EasyPrivacy; {len(requests):,} requests x {args.rounds} timed passes (after a warm-up pass)\n")
    print(f"{'':34}{'whoknows':>12}{'adblock-rust':>14}{'ratio':>8}{'goal':>14}")

    def row(label, value, other=None, goal="", fmt="{:.2f}"):
        ratio = f"{value / other:.2f}" if other else ""
        other_text = fmt.format(other) if other is not None else "-"
        print(f"{label:34}{fmt.format(value):>12}{other_text:>14}{ratio:>8}{goal:>14}")

    t_median = statistics.median(theirs_samples) * us if theirs_samples else None
    t_p99 = percentile(theirs_samples, 0.99) * us if theirs_samples else None
    row("median per request (us)", median, t_median, f"<= {GOALS['median_ratio']:.0f}x")
    row("p99 per request (us)", p99, t_p99, f"<= {GOALS['p99_us']:.0f} us")
    row("max per request (us)", ours_samples[-1] * us, theirs_samples[-1] * us if theirs_samples else None)
    row("median, engine loaded from cache", statistics.median(cached_samples) * us, t_median)
    row("load from text (s)", load_text, theirs_load if adblock else None, f"<= {GOALS['load_text_s']} s")
    row("load from cache (s)", load_cache, None, f"<= {GOALS['load_cache_s']} s", fmt="{:.3f}")
    row("save cache (s)", save_time, None, fmt="{:.3f}")
    print(f"{'cache file (MB)':34}{cache_size / 2**20:>12.1f}")
    for label, key in (("RSS after load from text (MB)", "whoknows-text"), ("RSS after load from cache (MB)", "whoknows-cache")):
        mine, theirs_rss = rss.get(key), rss.get("adblock")
        if mine:
            row(label, mine["after"], theirs_rss["after"] if theirs_rss else None, f"<= {GOALS['rss_mb']:.0f} MB", "{:.0f}")
            growth = mine["after"] - mine["before"]
            other_growth = theirs_rss["after"] - theirs_rss["before"] if theirs_rss else None
            row("  of which the engine (MB)", growth, other_growth, fmt="{:.0f}")

    misses = []
    if t_median and median > GOALS["median_ratio"] * t_median:
        misses.append(f"median {median:.1f} us is {median / t_median:.1f}x adblock-rust's")
    if p99 > GOALS["p99_us"]:
        misses.append(f"p99 {p99:.0f} us")
    if load_text > GOALS["load_text_s"]:
        misses.append(f"load from text {load_text:.2f} s")
    if load_cache > GOALS["load_cache_s"]:
        misses.append(f"load from cache {load_cache:.3f} s")
    if rss.get("whoknows-text") and rss["whoknows-text"]["after"] > GOALS["rss_mb"]:
        misses.append(f"RSS {rss['whoknows-text']['after']:.0f} MB")
    print("\ngoals: " + ("all met" if not misses else "MISSED: " + "; ".join(misses)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
