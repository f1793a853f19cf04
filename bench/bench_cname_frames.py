"""What CNAME uncloaking and frame attribution add to a request that needs neither, against the
context addon's own work on the same request, timed in the same run (ratios, not absolute numbers).

For each of the 8,276 real requests of the adblock-rust set (a URL, its page, its type), as the
proxy chains the hooks: `context` alone (the baseline: it runs for every request anyway) vs
`context` with a `FrameMemory` holding 1,000 frames of other pages, plus the `cname` addon's
`requestheaders` (a coroutine, driven as mitmproxy's hook dispatch drives one that never waits) and
the `frames` addon's `responseheaders`. Requests to a subdomain of their page's own site would
ask DNS once per TTL; their chains are put in the cache first (`ChainCache`), so what is timed is
the cached path, and how many of the requests take it is printed. No DNS query leaves: the
resolver points at a closed loopback port and every chain is cached.

Run: .venv/bin/python bench/bench_cname_frames.py [--rounds N]
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

REQUESTS = Path(__file__).resolve().parents[1].parent / "shared/data/requests/adblock-rust-matching-requests.json"
TYPES = {"sub_frame": "iframe", "main_frame": "document", "stylesheet": "style", "xmlhttprequest": "empty",
         "image": "image", "script": "script", "font": "font", "media": "video", "ping": "empty"}


def flows():
    from mitmproxy import http
    from mitmproxy.test import tflow
    from mitmproxy.test import tutils

    out = []
    for item in json.loads(REQUESTS.read_text()):
        url, source, kind = item["url"], item.get("sourceUrl") or "", item.get("type") or "other"
        if not url.startswith("http") or not source.startswith("http"):
            continue
        headers = {"sec-fetch-dest": TYPES.get(kind, "empty"), "referer": source}
        try:
            flow = tflow.tflow(req=http.Request.make("GET", url, headers=headers))
        except Exception:  # noqa: BLE001 -- a URL mitmproxy refuses is not a request the proxy sees
            continue
        out.append(flow)
    return out, tutils.tresp()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=7)
    args = parser.parse_args()

    from mitmproxy.test import taddons

    from proxy_addons.cname import Cname
    from proxy_addons.context import Context
    from proxy_addons.context import compute_context
    from proxy_addons.frames import Frames
    from whoknows import cname as core
    from whoknows.frames import FrameMemory

    all_flows, response = flows()
    memory = FrameMemory()
    for i in range(1000):
        memory.remember_frame(f"https://frame{i}.example/embed?x={i}", f"page{i}.example")
    plain, context, uncloaking, frames = Context(), Context(frames=memory), Cname(), Frames(memory)
    with taddons.context(context, uncloaking, frames) as tctx:  # `plain` needs no options
        tctx.configure(uncloaking, whoknows_dns_server="127.0.0.1:9")  # discard port: never asked
        first_party_subdomains = 0
        for flow in all_flows:
            found = compute_context(flow.request, None)
            if core.should_uncloak(flow.request.host, found.request_site, found.page_site, found.type):
                first_party_subdomains += 1
                uncloaking.resolver.cache.put(flow.request.host.lower(), core.Chain((), 3600), 3600)

        # Both loops do the same bookkeeping (metadata cleared, the response put on and taken off).
        def baseline() -> None:
            for flow in all_flows:
                flow.metadata.clear()
                flow.response = None
                plain.requestheaders(flow)
                flow.response = response

        def with_ours() -> None:
            for flow in all_flows:
                flow.metadata.clear()
                flow.response = None
                context.requestheaders(flow)
                try:
                    uncloaking.requestheaders(flow).send(None)
                except StopIteration:
                    pass
                flow.response = response
                frames.responseheaders(flow)

        results = {"baseline": [], "ours": []}
        for _ in range(args.rounds):
            for name, run in (("baseline", baseline), ("ours", with_ours)):
                started = time.perf_counter()
                run()
                results[name].append((time.perf_counter() - started) / len(all_flows) * 1e6)
        sent = uncloaking.resolver.queries
    base, ours = statistics.median(results["baseline"]), statistics.median(results["ours"])
    print(f"requests: {len(all_flows)}; to a subdomain of their page's own site (uncloaked, cached): "
          f"{first_party_subdomains}; DNS queries sent: {sent}")
    print(f"context alone (no frame memory):  {base:6.2f} us/request (median of {args.rounds} rounds)")
    print(f"context + frames memory + cname + frames hooks: {ours:6.2f} us/request")
    print(f"added: {ours - base:+.2f} us/request; ratio {ours / base:.2f}x the context addon's own work")


if __name__ == "__main__":
    main()
