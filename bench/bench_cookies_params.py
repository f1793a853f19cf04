"""Per-call cost of the cookie rewriter and the parameter stripper, against stdlib baselines timed in
the same run (ratios, not absolute numbers, are what to compare across machines).

- rewrite_set_cookie (cap:7 and allow) vs `http.cookies.SimpleCookie().load(line)` on the same lines:
  the stdlib only parses (and mis-parses commas), so a ratio near 1 means the rewrite is nearly free.
- strip_params vs the naive approach: urlsplit + parse_qsl + filter + urlencode + urlunsplit.
  Measured on the 8,276 real request URLs of the adblock-rust set (what the proxy sees: mostly no
  query) and on landing-page URLs carrying campaign parameters (the work case).

Run: .venv/bin/python bench/bench_cookies_params.py [--rounds N]
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from datetime import datetime, timezone
from http.cookies import CookieError, SimpleCookie
from pathlib import Path
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from whoknows.cookies import ALLOW, parse_cookie_mode, rewrite_set_cookie  # noqa: E402
from whoknows.params import is_tracking_param, strip_params  # noqa: E402

REQUESTS = Path(__file__).resolve().parents[1].parent / "shared/data/requests/adblock-rust-matching-requests.json"
NOW = datetime(2025, 6, 1, 12, 0, 0, tzinfo=timezone.utc)

# Shapes seen in real responses: analytics ids, consent, load balancers, sessions, deletions.
SET_COOKIE_LINES = [
    "_ga=GA1.2.1234567890.1717243200; Path=/; Domain=.shop.example; Expires=Tue, 01 Jun 2027 12:00:00 GMT; Max-Age=63072000",
    "_fbp=fb.1.1717243200000.1234567890; Path=/; Domain=.shop.example; Max-Age=7776000; SameSite=Lax",
    "__cf_bm=Zq3xk9.abcdefghijklmnopqrstuvwxyz0123456789-1717243200-0-AbCdEf==; path=/; expires=Sat, 01-Jun-24 12:30:00 GMT; domain=.shop.example; HttpOnly; Secure; SameSite=None",
    "JSESSIONID=8E2C4B1A9F3D5E7C6B0A1F2E3D4C5B6A; Path=/; Secure; HttpOnly",
    "OptanonConsent=isGpcEnabled=0&datestamp=Sat+Jun+01+2024&version=202401.1.0&groups=C0001%3A1%2CC0002%3A0; expires=Sun, 01 Jun 2025 12:00:00 GMT; path=/; domain=.shop.example; SameSite=Lax",
    "IDE=AHWqTUkabcdefghijklmnopqrstuvwxyz; expires=Mon, 01-Jun-2026 12:00:00 GMT; path=/; domain=.doubleclick.net; Secure; HttpOnly; SameSite=none",
    "cart=; Max-Age=0; Path=/",
    "lang=en,fr; Path=/; Max-Age=31536000",
    "NID=511=abcDEFghiJKLmnoPQRstuVWXyz0123456789_-abcDEFghiJKLmnoPQRstuVWXyz; expires=Sun, 01-Dec-2024 12:00:00 GMT; path=/; domain=.google.com; HttpOnly",
    "sid=s%3AabcdefghijklmnopqrstuvwxYZ.0123456789abcdefghijklmnopqrstuvwxyzABCDEF; Path=/; Expires=Sat, 08 Jun 2024 12:00:00 GMT; HttpOnly; Secure; SameSite=Strict",
]

LANDING_URLS = [
    "https://shop.example/product/123?utm_source=newsletter&utm_medium=email&utm_campaign=spring_sale&utm_content=hero",
    "https://news.example/2024/06/01/story.html?fbclid=IwAR0abcdefghijklmnopqrstuvwxyz0123456789",
    "https://shop.example/search?q=running+shoes&page=2&gclid=Cj0KCQjw-abcdefghijklmnopqrstuvwxyz_BwE",
    "https://blog.example/post?id=42&_hsenc=p2ANqtz-abcdef&_hsmi=123456789&lang=en",
    "https://shop.example/cart?item=9&qty=1",
    "https://travel.example/deals?from=LHR&to=JFK&date=2024-07-01&msclkid=0123456789abcdef0123456789abcdef",
    "https://store.example/?mc_cid=abc123&mc_eid=def456#reviews",
    "https://video.example/watch?v=dQw4w9WgXcQ&t=42s",
]


def per_call_median(function, inputs, rounds: int) -> float:
    """Median over rounds of (time for one pass over all inputs / number of inputs), in seconds."""
    for item in inputs:  # warm caches (regexes, lru caches) as a long-running proxy would have them
        function(item)
    samples = []
    for _ in range(rounds):
        start = time.perf_counter()
        for item in inputs:
            function(item)
        samples.append((time.perf_counter() - start) / len(inputs))
    return statistics.median(samples)


def simple_cookie_parse(line: str) -> None:
    try:
        SimpleCookie().load(line)
    except CookieError:
        pass


def naive_strip(url: str) -> str:
    parts = urlsplit(url)
    if not parts.query:
        return url
    kept = [(k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True) if not is_tracking_param(k)]
    return urlunsplit(parts._replace(query=urlencode(kept)))


def report(label: str, ours: float, baseline: float, baseline_label: str) -> None:
    print(f"{label:<44} {ours * 1e6:8.2f} us   {baseline_label:<28} {baseline * 1e6:8.2f} us   ratio {ours / baseline:5.2f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=31)
    rounds = parser.parse_args().rounds

    cap = parse_cookie_mode("cap:7")
    cookie_inputs = SET_COOKIE_LINES * 20
    baseline = per_call_median(simple_cookie_parse, cookie_inputs, rounds)
    report("rewrite_set_cookie cap:7 (10 real shapes)",
           per_call_median(lambda line: rewrite_set_cookie(line, cap, NOW), cookie_inputs, rounds),
           baseline, "SimpleCookie().load")
    report("rewrite_set_cookie allow",
           per_call_median(lambda line: rewrite_set_cookie(line, ALLOW, NOW), cookie_inputs, rounds),
           baseline, "SimpleCookie().load")

    if REQUESTS.is_file():
        real_urls = [request["url"] for request in json.loads(REQUESTS.read_text())]
        report(f"strip_params, {len(real_urls)} adblock-rust URLs",
               per_call_median(strip_params, real_urls, rounds),
               per_call_median(naive_strip, real_urls, rounds), "parse_qsl+urlencode")
    else:
        print(f"(skipped the real request mix: {REQUESTS} not found)")
    landing = LANDING_URLS * 25
    report("strip_params, landing URLs with campaign ids",
           per_call_median(strip_params, landing, rounds),
           per_call_median(naive_strip, landing, rounds), "parse_qsl+urlencode")


if __name__ == "__main__":
    main()
