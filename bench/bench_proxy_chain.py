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
import gc
import inspect
import json
import pstats
import statistics
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
BATCHES = 7
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
    """Seconds per flow in the hooks, for `count` fresh flows of one request shape.

    Each flow is made just before it runs and dropped after, as in the proxy: thousands of flows
    made up front would all survive into the oldest GC generation and set off full collections
    (~50 ms each with mitmproxy loaded) that the proxy itself does not have."""
    spent = 0.0
    for _ in range(count):
        flow = make_flow(*request)
        started = time.perf_counter()
        await one_flow(addons, flow)
        spent += time.perf_counter() - started
    return spent / count


def profile_chain(addons, requests, count: int) -> pstats.Stats:
    """cProfile over `count` flows of each request shape.

    The profiler is switched on once around the whole loop (switched on and off per flow, it lost
    most of the time spent in coroutines), over flows made beforehand with the collector off: no
    flow-building in the profile, and no collection pauses landing on whatever function runs."""
    gc.disable()
    try:
        flows = [make_flow(*request) for request in requests for _ in range(count)]
        profiler = cProfile.Profile()
        profiler.enable()
        for flow in flows:
            _drive(one_flow(addons, flow))
        profiler.disable()
    finally:
        gc.enable()
    return pstats.Stats(profiler)


async def time_each_hook(master: "_Master", request, count: int) -> dict[tuple[str, str], float]:
    """Seconds per flow spent in each whoknows addon's hooks (their safety guards included)."""
    from mitmproxy import hooks

    spent: dict[tuple[str, str], float] = {}
    wrapped = []
    for addon in _whoknows_addons(master):
        for hook in hooks.all_hooks.keys() - {"load", "configure", "running", "done"}:
            func = addon.__dict__.get(hook) or getattr(type(addon), hook, None)
            if callable(func):
                key = (getattr(addon, "name", type(addon).__name__), hook)
                wrapped.append((addon, hook, addon.__dict__.get(hook)))  # the guard's wrapper, if any
                setattr(addon, hook, _timed(getattr(addon, hook), key, spent))
    _chain(master).bind_hooks()
    try:
        await run_flows(master.use(), request, count)
    finally:
        for addon, hook, previous in wrapped:
            if previous is not None:
                setattr(addon, hook, previous)
            else:
                delattr(addon, hook)
        _chain(master).bind_hooks()
    return {key: seconds / count for key, seconds in spent.items()}


def _chain(master: "_Master"):
    return master.addons.get("whoknows_chain")


def _whoknows_addons(master: "_Master") -> list:
    return [a for a in _chain(master).members if getattr(a, "name", "").startswith("whoknows_")]


def _timed(func, key, spent: dict):
    """`func` timed; an awaitable it returns (the cname addon's look-up) is awaited and timed too."""

    async def awaited(result, started):
        try:
            return await result
        finally:
            spent[key] = spent.get(key, 0.0) + time.perf_counter() - started

    def timed(*args):
        started = time.perf_counter()
        result = func(*args)
        if result is not None and inspect.isawaitable(result):
            return awaited(result, started)
        spent[key] = spent.get(key, 0.0) + time.perf_counter() - started
        return result

    return timed


def print_hook_times(per_hook: dict[str, dict]) -> None:
    keys = sorted({key for times in per_hook.values() for key in times},
                  key=lambda key: -sum(times.get(key, 0.0) for times in per_hook.values()))
    print(f"      {'(a)':>7} {'(b)':>7}  addon.hook")
    for key in keys:
        a, b = (per_hook[w].get(key, 0.0) * 1e6 for w in ("allowed", "blocked"))
        if a >= 0.5 or b >= 0.5:
            print(f"      {a:7.1f} {b:7.1f}  {key[0]}.{key[1]}")
    total_a, total_b = (sum(per_hook[w].values()) * 1e6 for w in ("allowed", "blocked"))
    print(f"      {total_a:7.1f} {total_b:7.1f}  all whoknows hooks (the rest of what whoknows adds is "
          "mitmproxy handing events to them)")


def _drive(coroutine) -> None:
    """Run a coroutine that never suspends (the hooks here do not), synchronously: cProfile then
    sees whole calls rather than a coroutine resumed inside the profiled span."""
    try:
        coroutine.send(None)
    except StopIteration:
        return
    coroutine.close()
    raise RuntimeError("a hook awaited something: the chain profile cannot run it synchronously")


class _Master:
    """A DumpMaster (mitmdump's addons, no output) with `extra` addons, their `running` hooks run;
    with `lean`, a Master with the mitmproxy addons `whoknows proxy` runs instead.

    Several can live side by side: `use()` points mitmproxy's global `ctx` (which addons read
    their options from) at this one before its flows run."""

    def __init__(self, extra: list, confdir: str, options: dict, lean: bool = False) -> None:
        from mitmproxy import options as mitm_options
        from mitmproxy.master import Master
        from mitmproxy.tools.dump import DumpMaster

        from proxy_addons.runner import mitmproxy_addons

        self.extra = extra
        opts = mitm_options.Options(listen_host="127.0.0.1", listen_port=0, confdir=confdir)
        if lean:
            self.master = Master(opts)
            self.master.addons.add(*mitmproxy_addons())
        else:
            self.master = DumpMaster(opts, with_termlog=False, with_dumper=False)
        self.master.addons.add(*extra)
        opts.update(connection_strategy="lazy", **options)
        self.addons = self.master.addons

    def use(self):
        from mitmproxy import ctx

        ctx.master, ctx.options = self.master, self.master.options
        return self.addons

    async def start(self) -> None:
        from mitmproxy import hooks

        self.use()
        # `running` for the added addons and for tlsconfig (it loads the CA there; without it every
        # request logs an error), not for the proxy server: nothing listens here.
        for addon in [self.addons.get("tlsconfig"), *self.extra]:
            await self.addons.invoke_addon(addon, hooks.RunningHook())

    async def stop(self) -> None:
        from mitmproxy import hooks

        self.use()
        for addon in self.extra:
            await self.addons.invoke_addon(addon, hooks.DoneHook())


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


def whoknows_as_the_runner_adds_them() -> list:
    """`proxy_addons.whoknows_addons()` in one `Chain`, as the runner adds them."""
    import proxy_addons
    from proxy_addons.chain import Chain

    return [Chain(proxy_addons.whoknows_addons())]


async def main_async(args) -> dict:
    from bench_proxy import allowed_request, blocked_request
    from bench_proxy_floor import Floor

    allowed, blocked = allowed_request(args.origin_port), blocked_request(args.origin_port)
    masters = {
        "plain": _Master([], args.confdir, {}),
        "floor": _Master([Floor()], args.confdir, {}),
        "whoknows": _Master(whoknows_as_the_runner_adds_them(), args.confdir, {"whoknows_control_port": -1}),
    }
    runs = [("plain", "allowed", allowed), ("whoknows", "allowed", allowed),
            ("floor", "blocked", blocked), ("whoknows", "blocked", blocked)]
    for master in masters.values():
        await master.start()
    try:
        for name, _, request in runs:  # warm-up: first-use caches, lazy imports
            await run_flows(masters[name].use(), request, max(100, args.flows // 10))
        # Interleaved batches, so that load from elsewhere on the machine hits every setup alike;
        # the median batch is kept.
        batches: dict[str, list[float]] = {f"{name}_{workload}": [] for name, workload, _ in runs}
        for _ in range(BATCHES):
            for name, workload, request in runs:
                batch = await run_flows(masters[name].use(), request, max(1, args.flows // BATCHES))
                batches[f"{name}_{workload}"].append(batch)
        results = {key: statistics.median(values) for key, values in batches.items()}
        profile = profile_chain(masters["whoknows"].use(), (allowed, blocked), args.flows)
        per_hook = {}
        for workload, request in (("allowed", allowed), ("blocked", blocked)):
            per_hook[workload] = await time_each_hook(masters["whoknows"], request, args.flows)
    finally:
        for master in masters.values():
            await master.stop()
    us = {key: value * 1e6 for key, value in results.items()}
    print(f"\n  addon chain in-process ({args.flows} flows each, no sockets; us per flow, all hooks):")
    print(f"    (a) allowed: mitmdump's addons {us['plain_allowed']:7.1f}   + whoknows addons "
          f"{us['whoknows_allowed']:7.1f}   whoknows adds {us['whoknows_allowed'] - us['plain_allowed']:6.1f}")
    print(f"    (b) blocked: + minimal blocker {us['floor_blocked']:7.1f}   + whoknows addons "
          f"{us['whoknows_blocked']:7.1f}   whoknows adds {us['whoknows_blocked'] - us['floor_blocked']:6.1f}")
    print("  each whoknows hook, us per flow (its safety guard included; timed without a profiler):")
    print_hook_times(per_hook)
    print(f"  cProfile of the whoknows chain over {2 * args.flows} flows ((a) and (b) alike; the "
          "profiler inflates every Python call, so compare entries, not absolute times):")
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
