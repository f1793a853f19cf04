"""Per-request cost of the personal-terms addon, against the signals addon timed in the same run.

Both add headers to every request the proxy lets through; the terms addon also records the offer
(a dict update under a lock) and reads the agreement header of the answer. The ratio, not the
absolute numbers, is what to compare across machines. Four request shapes (a page, a third-party
script, an answer that agrees, a malformed agreement) are cycled; each flow gets its context from
`proxy_addons.context.compute_context` first (not timed), as the context addon gives it.

Run: .venv/bin/python bench/bench_personal_terms.py [--flows N] [--rounds R]
(in a ledger of its own, in a temporary directory: never yours).
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from mitmproxy import http  # noqa: E402
from mitmproxy.test import taddons, tflow  # noqa: E402

from proxy_addons.context import CONTEXT_KEY, compute_context  # noqa: E402
from proxy_addons.personal_terms import PersonalTerms  # noqa: E402
from proxy_addons.signals import Signals  # noqa: E402
from whoknows import personal_terms  # noqa: E402
from whoknows.ledger import open_ledger  # noqa: E402

SHAPES = [
    ("https://shop.example/products/42", {"sec-fetch-dest": "document", "sec-fetch-mode": "navigate"}, {}),
    ("https://cdn.example/lib.js", {"referer": "https://shop.example/products/42", "sec-fetch-dest": "script"}, {}),
    ("https://shop.example/api/cart", {"referer": "https://shop.example/"}, {"personal-terms-agreed": "nostalking;v=1"}),
    ("https://shop.example/api/x", {"referer": "https://shop.example/"}, {"personal-terms-agreed": "nostalking;;v"}),
]


def flows(count: int) -> list[tuple[http.HTTPFlow, http.Response]]:
    made = []
    for index in range(count):
        url, headers, answer = SHAPES[index % len(SHAPES)]
        flow = tflow.tflow(req=http.Request.make("GET", url, headers=headers))
        flow.metadata[CONTEXT_KEY] = compute_context(flow.request, None)
        made.append((flow, http.Response.make(200, b"", answer)))  # made here: not the addon's cost
    return made


def time_terms(addon: PersonalTerms, batch) -> float:
    start = time.perf_counter()
    for flow, response in batch:
        addon.requestheaders(flow)
        flow.response = response
        addon.responseheaders(flow)
        addon.response(flow)
    return time.perf_counter() - start


def time_signals(addon: Signals, batch) -> float:
    start = time.perf_counter()
    for flow, _ in batch:
        addon.requestheaders(flow)
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--flows", type=int, default=20000)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    os.environ["WHOKNOWS_HOME"] = tempfile.mkdtemp(prefix="whoknows-bench-terms-")
    with open_ledger() as ledger:
        personal_terms.offer(ledger, "nostalking")
    terms, signals = PersonalTerms(open_ledger=open_ledger), Signals()
    results = {"terms": [], "signals": []}
    with taddons.context(terms, signals):
        terms.proffered.current()  # the first read opens the ledger: not a request's cost
        for _ in range(args.rounds):
            results["terms"].append(time_terms(terms, flows(args.flows)) / args.flows)
            terms.pending.take()
            results["signals"].append(time_signals(signals, flows(args.flows)) / args.flows)
    terms.proffered.close()
    shutil.rmtree(os.environ["WHOKNOWS_HOME"], ignore_errors=True)
    t, s = statistics.median(results["terms"]), statistics.median(results["signals"])
    print(f"personal terms (request + response hooks): {t * 1e6:.2f} us/flow")
    print(f"signals (request hook, baseline):           {s * 1e6:.2f} us/flow")
    print(f"ratio terms / signals: {t / s:.2f}")


if __name__ == "__main__":
    main()
