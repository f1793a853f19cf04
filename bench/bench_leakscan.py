"""Per-request cost of the leak scanner (`whoknows.leakscan`).

50 registered values (emails, phones, names, addresses, birthdays) in every encoding the scanner
knows, scanned against realistic requests: every URL of the shared adblock-rust request set, with
browser-like headers and a generated 0-4 KB body (JSON, form or text beacon). The values never
occur, so this measures the common case: a request that leaks nothing.

Baselines, measured in the same run over the same texts:
- one `str.find` of a single needle (the floor for touching every character once);
- the naive approach: a Python loop testing each pattern with `in` on the lowercased text.

The scanner remembers header values it found clean (User-Agent, Accept... repeat on every request);
the "without header memory" row shows the cost when every header is new.

Goal: median <= 20 us per request. Also printed: the scan as a share of the proxy's own time per
request, the denominator measured in the same run: a sample of the same requests through the event
chain of `whoknows proxy` in-process (the mitmproxy addons it runs and every whoknows addon, with
no registered values, so no scan; `bench_proxy_chain.py`'s machinery). No sockets and no HTTP
parsing there, so that time is a lower bound of the proxy's and the share an upper bound.
"""

from __future__ import annotations

import json
import random
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from whoknows.leakscan import LeakScanner  # noqa: E402

REQUESTS = ROOT.parent / "shared" / "data" / "requests" / "adblock-rust-matching-requests.json"
FIRST = ["Ingrid", "Tomasz", "Leocadia", "Barnaby", "Oona", "Wenceslao", "Prudence", "Casimir",
         "Ottilie", "Evander", "Rosalind", "Thaddeus", "Marisol", "Quentin", "Philippa"]
LAST = ["Vandermeer", "Okonkwo", "Brzezinski", "Hallgrimsson", "Castellanos", "Achterberg",
        "Fitzwilliam", "Nakashima", "Ravensworth", "Szczepanik", "Delacroix", "Lindqvist",
        "Montgomerie", "Ferreira", "Quisenberry"]


def registered_values(rng: random.Random) -> list[tuple[str, str]]:
    values = []
    for i in range(15):
        first, last = FIRST[i], LAST[(i * 7) % len(LAST)]
        values.append(("name", f"{first} {last}"))
        values.append(("email", f"{first.lower()}.{last.lower()}{rng.randint(10, 99)}@mailbox-{i}.example"))
    for _ in range(10):
        values.append(("phone", f"+{rng.choice(['34', '44', '49', '33', '1'])} {rng.randint(600, 799)} "
                                f"{rng.randint(100, 999)} {rng.randint(100, 999)}"))
    for i in range(5):
        values.append(("address", f"{rng.randint(1, 200)} {LAST[i]} Street, {FIRST[i]}ville"))
    for _ in range(3):
        values.append(("birthday", f"19{rng.randint(50, 99)}-{rng.randint(1, 12):02d}-{rng.randint(1, 28):02d}"))
    for i in range(2):
        values.append(("alias", f"shop{i}.{rng.getrandbits(40):x}@alias.example"))
    return values[:50]


def generated_body(rng: random.Random, size: int) -> tuple[bytes, str | None]:
    if size == 0:
        return b"", None
    kind = rng.choice(["json", "form", "text"])
    words = ["event", "page_view", "session", "engagement", "scroll", "click", "value", "currency",
             "EUR", "items", "viewport", "1280x720", "true", "false", "null", "language", "es-ES"]
    if kind == "json":
        data, n = {}, 0
        while len(json.dumps(data)) < size:
            data[f"{rng.choice(words)}_{n}"] = rng.choice([rng.choice(words), rng.random(), rng.getrandbits(48)])
            n += 1
        return json.dumps(data)[:size].encode(), "application/json"
    if kind == "form":
        pairs = []
        while sum(len(p) + 1 for p in pairs) < size:
            pairs.append(f"{rng.choice(words)}={rng.choice(words)}%20{rng.getrandbits(32)}")
        return "&".join(pairs)[:size].encode(), "application/x-www-form-urlencoded"
    text = " ".join(rng.choice(words) for _ in range(size // 4))
    return text[:size].encode(), "text/plain"


def requests(rng: random.Random) -> list[tuple[str, list, bytes, str | None]]:
    entries = json.loads(REQUESTS.read_text())
    out = []
    for entry in entries:
        url = entry["url"]
        headers = [
            ("host", url.split("/")[2] if "//" in url else ""),
            ("user-agent", "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) "
                           "Chrome/126.0.0.0 Safari/537.36"),
            ("accept", "*/*"),
            ("accept-language", "es-ES,es;q=0.9,en;q=0.8"),
            ("referer", entry["sourceUrl"] if entry["sourceUrl"] not in ("http://", "https://") else "https://news.example/"),
            ("cookie", f"_ga=GA1.2.{rng.getrandbits(31)}.{rng.getrandbits(31)}; sid={rng.getrandbits(64):x}"),
        ]
        body, ctype = generated_body(rng, rng.randint(0, 4096))
        out.append((url, headers, body, ctype))
    return out


def per_request(function, reqs, repeat: int) -> list[float]:
    """Microseconds per request (best of `repeat` runs of each request, to skip scheduler noise)."""
    times = []
    clock = time.perf_counter_ns
    for req in reqs:
        best = None
        for _ in range(repeat):
            start = clock()
            function(req)
            elapsed = clock() - start
            best = elapsed if best is None or elapsed < best else best
        times.append(best / 1000)
    return times


def proxy_us_per_request(reqs) -> float:
    """Median microseconds per flow of the whoknows proxy's event chain on `reqs` (see the docstring)."""
    import asyncio
    import os
    import tempfile

    sys.path.insert(0, str(ROOT / "bench"))
    with tempfile.TemporaryDirectory(prefix="bench_leakscan.") as home:
        os.environ["WHOKNOWS_HOME"] = str(Path(home) / "data")
        os.environ["PYTHON_KEYRING_BACKEND"] = "keyring.backends.fail.Keyring"  # never the user's
        return asyncio.run(_proxy_us_per_request(reqs, str(Path(home) / "mitmproxy")))


async def _proxy_us_per_request(reqs, confdir: str) -> float:
    from bench_proxy_chain import _Master, one_flow, whoknows_as_the_runner_adds_them
    from mitmproxy import http
    from mitmproxy.test import tflow

    master = _Master(whoknows_as_the_runner_adds_them(), confdir, {"whoknows_control_port": -1}, lean=True)
    await master.start()
    times = []
    try:
        addons = master.use()
        for round_ in range(2):  # the first round warms first-use caches and is not kept
            for url, headers, body, _ in reqs:
                fields = [(n.encode(), v.encode()) for n, v in headers]
                try:
                    request = http.Request.make("POST" if body else "GET", url, body, fields)
                except ValueError:  # a URL a client could not send either (no host name)
                    continue
                flow = tflow.tflow(req=request)
                started = time.perf_counter_ns()
                await one_flow(addons, flow)
                if round_:
                    times.append((time.perf_counter_ns() - started) / 1000)
    finally:
        await master.stop()
    return statistics.median(times)


def summary(times: list[float]) -> tuple[float, float]:
    ordered = sorted(times)
    return statistics.median(ordered), ordered[int(len(ordered) * 0.99)]


def main() -> int:
    if not REQUESTS.exists():
        print(f"shared request set not found at {REQUESTS}", file=sys.stderr)
        return 1
    rng = random.Random(1234)
    values = registered_values(rng)
    started = time.perf_counter()
    scanner = LeakScanner(values)
    build_ms = (time.perf_counter() - started) * 1000
    reqs = requests(rng)
    # The real patterns (the automaton's keys are folded), for the naive baseline.
    patterns = sorted({t.check for _, targets in scanner._automaton.values() for t in targets})
    cold = LeakScanner(values, header_memory=0)

    def joined(req):
        url, headers, body, _ = req
        return "\x00".join([url, *(v for n, v in headers if n != "host"), body.decode("utf-8", "replace")])

    texts = {id(req): joined(req) for req in reqs}

    def scan(req):
        return scanner.scan(*req)

    def scan_cold(req):
        return cold.scan(*req)

    def find_one(req):
        return texts[id(req)].find("alice.martin@example.com")

    def naive(req):
        text = texts[id(req)].lower()
        return [p for p in patterns if p in text]

    assert all(not scan(req) for req in reqs), "the generated values must not occur in the requests"
    scan_times = per_request(scan, reqs, repeat=5)
    cold_times = per_request(scan_cold, reqs, repeat=5)
    find_times = per_request(find_one, reqs, repeat=5)
    naive_sample = reqs[::20]
    naive_times = per_request(naive, naive_sample, repeat=2)
    scan_sample = [t for i, t in enumerate(scan_times) if i % 20 == 0]

    sizes = [len(texts[id(r)]) for r in reqs]
    print(f"{len(values)} values -> {scanner.pattern_count} patterns ({len(patterns)} distinct); "
          f"automaton built in {build_ms:.1f} ms")
    print(f"{len(reqs)} requests, searched text median {statistics.median(sizes):.0f} chars, "
          f"max {max(sizes)} (URL + headers + 0-4 KB body)")
    med, p99 = summary(scan_times)
    fmed, fp99 = summary(find_times)
    nmed, np99 = summary(naive_times)
    smed, _ = summary(scan_sample)
    print(f"{'':28}{'median us':>12}{'p99 us':>10}")
    cmed, cp99 = summary(cold_times)
    print(f"{'LeakScanner.scan':28}{med:12.2f}{p99:10.2f}")
    print(f"{'  without header memory':28}{cmed:12.2f}{cp99:10.2f}")
    print(f"{'baseline: one str.find':28}{fmed:12.2f}{fp99:10.2f}")
    print(f"{'naive: each pattern `in`':28}{nmed:12.2f}{np99:10.2f}   ({len(naive_sample)} requests)")
    print(f"scan / one find:      {med / fmed:6.1f}x   (without header memory {cmed / fmed:.1f}x)")
    print(f"naive / scan:         {nmed / smed:6.1f}x  (same {len(naive_sample)} requests)")
    proxy_us = proxy_us_per_request(reqs[::8])
    print(f"the proxy's own time per request (in-process, {len(reqs[::8])} of these requests): "
          f"median {proxy_us:.0f} us; scan median / that: {med / proxy_us:.1%} (an upper bound)")
    print(f"goal: median <= 20 us -> {'met' if med <= 20 else 'NOT met'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
