"""The addon chain in-process, for `bench_proxy.py`: what each request costs in hooks, and where.

    WHOKNOWS_HOME=... python bench/bench_proxy_chain.py --origin-port P [--flows N] --confdir DIR

No sockets: flows built like `mitmproxy.test.tflow` builds them go through mitmproxy's own hook
dispatch (`AddonManager.handle_lifecycle`, as the proxy server calls it) in the order the HTTP
layer fires the hooks: requestheaders, request, then (after the upstream answer, here a made-up
response with the origin's headers, or the proxy's own answer) responseheaders, response.
Three masters, one after the other (mitmproxy's `ctx` is global): mitmdump's default addons
alone; plus the floor addon; plus every whoknows addon (`proxy_addons.whoknows_addons()`, with
the engine of `$WHOKNOWS_HOME`). Per-flow times are from runs without the profiler; the cProfile
run that follows only says where the time goes (the profiler inflates Python call costs).
The request shapes are `bench_proxy.allowed_request` / `blocked_request`.
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import json
import pstats
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))
sys.path.insert(0, str(HERE))

ORIGIN_BODY = b'{"items": [1, 2, 3]}\n'
ORIGIN_HEADERS = [
    (b"server", b"nginx/1.22.1"),
    (b"content-type", b"application/json"),
    (b"content-length", str(len(ORIGIN_BODY)).encode()),
    (b"connection", b"keep-alive"),
    (b"set-cookie", b"sid=abc123; Path=/; HttpOnly; SameSite=Lax; Max-Age=3600"),
    (b"set-cookie", b"_shop_visitor=v1.99; Path=/; Expires=Wed, 01 Jun 2033 12:00:00 GMT"),
]


def make_flow(url: str, headers: dict[str, str]):
    from mitmproxy import http
    from mitmproxy.test import tflow

    return tflow.tflow(req=http.Request.make("GET", url, headers=headers))


async def one_flow(addons, flow) -> None:
    from mitmproxy import http
    from mitmproxy.proxy.layers.http import _hooks as h

    await addons.handle_lifecycle(h.HttpRequestHeadersHook(flow))
    await addons.handle_lifecycle(h.HttpRequestHook(flow))
    if flow.response is None:  # forwarded: the origin answers
        flow.response = http.Response.make(200, ORIGIN_BODY, ORIGIN_HEADERS)
    await addons.handle_lifecycle(h.HttpResponseHeadersHook(flow))
    await addons.handle_lifecycle(h.HttpResponseHook(flow))


async def run_flows(addons, request, count: int) -> float:
    """Seconds per flow for `count` fresh flows of one request shape."""
    flows = [make_flow(*request) for _ in range(count)]
    started = time.perf_counter()
    for flow in flows:
        await one_flow(addons, flow)
    return (time.perf_counter() - started) / count


class _Master:
    """A DumpMaster (mitmdump's addons, no output) with `extra` addons, their `running` hooks run."""

    def __init__(self, extra: list, confdir: str, options: dict) -> None:
        self.extra, self.confdir, self.options = extra, confdir, options

    async def __aenter__(self):
        from mitmproxy import hooks
        from mitmproxy import options as mitm_options
        from mitmproxy.tools.dump import DumpMaster

        opts = mitm_options.Options(listen_host="127.0.0.1", listen_port=0, confdir=self.confdir)
        self.master = DumpMaster(opts, with_termlog=False, with_dumper=False)
        self.master.addons.add(*self.extra)
        opts.update(connection_strategy="lazy", **self.options)
        # `running` for the added addons and for tlsconfig (it loads the CA there; without it every
        # request logs an error), not for the proxy server: nothing listens here.
        for addon in [self.master.addons.get("tlsconfig"), *self.extra]:
            await self.master.addons.invoke_addon(addon, hooks.RunningHook())
        return self.master.addons

    async def __aexit__(self, *exc) -> None:
        from mitmproxy import hooks

        for addon in self.extra:
            await self.master.addons.invoke_addon(addon, hooks.DoneHook())


def _group(filename: str) -> str:
    if "/proxy_addons/" in filename or "/whoknows/" in filename:
        return "whoknows"
    if "/mitmproxy/" in filename:
        return "mitmproxy"
    if "site-packages" in filename:
        return "other libraries"
    return "python (stdlib, builtins)"


def print_profile(stats: pstats.Stats, flows: int) -> None:
    entries = stats.stats  # (file, line, name) -> (primitive calls, calls, tottime, cumtime, callers)
    total = sum(entry[2] for entry in entries.values()) or 1e-9
    by_group: dict[str, float] = {}
    for (filename, _, _), entry in entries.items():
        by_group[_group(filename)] = by_group.get(_group(filename), 0.0) + entry[2]
    shares = ", ".join(f"{g} {t / total:.0%}" for g, t in sorted(by_group.items(), key=lambda i: -i[1]))
    print(f"    self time by code (under cProfile): {shares}")
    for group, top in (("whoknows", 16), ("mitmproxy", 8)):
        rows = sorted(((key, entry) for key, entry in entries.items() if _group(key[0]) == group),
                      key=lambda item: -item[1][3])[:top]
        print(f"    top {group} functions by cumulative time (us per flow, calls per flow):")
        for (filename, line, name), (_, calls, _, cumtime, _) in rows:
            where = filename.split("/main/", 1)[-1].split("site-packages/", 1)[-1]
            print(f"      {cumtime / flows * 1e6:8.1f} us {calls / flows:6.1f}x  {name}  {where}:{line}")


async def main_async(args) -> dict:
    import proxy_addons
    from bench_proxy import allowed_request, blocked_request
    from bench_proxy_floor import Floor

    allowed, blocked = allowed_request(args.origin_port), blocked_request(args.origin_port)
    warm = max(100, args.flows // 10)
    results: dict[str, float] = {}
    setups = {
        "plain": ([], {}, (("allowed", allowed),)),
        "floor": ([Floor()], {}, (("blocked", blocked),)),
        "whoknows": (proxy_addons.whoknows_addons(), {"whoknows_control_port": -1},
                     (("allowed", allowed), ("blocked", blocked))),
    }
    for name, (extra, options, workloads) in setups.items():
        async with _Master(extra, args.confdir, options) as addons:
            for workload, request in workloads:
                await run_flows(addons, request, warm)
                results[f"{name}_{workload}"] = await run_flows(addons, request, args.flows)
            if name == "whoknows":
                profiler = cProfile.Profile()
                flows = [make_flow(*request) for _, request in workloads for _ in range(args.flows)]
                profiler.enable()
                for flow in flows:
                    await one_flow(addons, flow)
                profiler.disable()
                profile = pstats.Stats(profiler)
    us = {key: value * 1e6 for key, value in results.items()}
    print(f"\n  addon chain in-process ({args.flows} flows each, no sockets; us per flow, all hooks):")
    print(f"    (a) allowed: mitmdump's addons {us['plain_allowed']:7.1f}   + whoknows addons "
          f"{us['whoknows_allowed']:7.1f}   whoknows adds {us['whoknows_allowed'] - us['plain_allowed']:6.1f}")
    print(f"    (b) blocked: + minimal blocker {us['floor_blocked']:7.1f}   + whoknows addons "
          f"{us['whoknows_blocked']:7.1f}   whoknows adds {us['whoknows_blocked'] - us['floor_blocked']:6.1f}")
    print(f"  cProfile of the whoknows chain over the {2 * args.flows} flows above ((a) and (b) alike):")
    print_profile(profile, 2 * args.flows)
    return us


def main(argv: list[str]) -> int:
    if not argv:  # `bench/run_all.py` runs every bench_*.py: this one is driven by bench_proxy.py
        print("a helper of bench_proxy.py (the in-process addon-chain profile); run bench_proxy.py")
        return 0
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--origin-port", type=int, required=True)
    parser.add_argument("--flows", type=int, default=3000)
    parser.add_argument("--confdir", required=True)
    args = parser.parse_args(argv)
    us = asyncio.run(main_async(args))
    print("CHAIN_JSON " + json.dumps(us))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
