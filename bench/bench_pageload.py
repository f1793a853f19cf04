"""Cold page loads of a shop page in headless Chromium: direct, through plain mitmdump, through whoknows.

    .venv/bin/python bench/bench_pageload.py [--rounds N] [--compare OPTION=VALUE ...] [--keep]

Everything on loopback, bounded (N rounds of one load per case), and every process started here is
stopped before exit (bench_proxy.spawn: they die with this script).

Parts:
- the page (`bench_pageload_sites.py`, its own process): an HTTPS shop page with a first party, a CDN
  host, four tracker hosts (a tag manager that loads an analytics script and a social pixel, which
  load more; an ad iframe that syncs cookies with two more hosts). One HTTP/1.1 TLS server per host
  on its own loopback port, with server-side delays standing in for the network: a handshake delay
  per new connection (2 round trips) and a per-request delay (1 round trip + the server's time).
  Certificates from a throwaway test CA (tests/e2e/e2e_pki.py).
- names: `*.test` go to 127.0.0.1. Direct, Chromium maps them (`--host-resolver-rules`); through a
  proxy, Chromium lets the proxy resolve them and each proxy runs sealed (bench_proxy_launch.py:
  `*.test` to loopback, every other name refused and reported).
- cases: direct; direct with the trackers whoknows blocks refused by the browser itself (its
  resolver fails `tags.test` and `adnet.test`, the two hosts whose first request EasyList/EasyPrivacy
  block, so the browser asks for the same 21 requests the servers see through whoknows, and learns
  at once that the other 2 fail: what blocking alone wins, with no proxy; the floor whoknows could
  reach if interception cost nothing; information, not a goal); plain `mitmdump -q` (mitmproxy's defaults, trusting the test CA upstream); the
  whoknows proxy (`proxy_addons.runner`, i.e. `whoknows proxy`, trusting the test CA upstream) with
  EasyList + EasyPrivacy from ../shared/data/filterlists subscribed (bench_proxy.prepare_home; its
  built-in list stays on, and blocks nothing here: the trackers are `*.test` names, blocked by
  EasyList's and EasyPrivacy's generic path rules). `--compare OPTION=VALUE` adds a whoknows proxy
  with that option (same home) as one more case: what an option changes, in the same rounds.
- loads: Chromium with the e2e flags (e2e_browser.py; one browser without a proxy, one whose
  contexts name theirs), a fresh context per load (own cache, cookies, connections),
  `goto(page, wait_until="load")`, then network idle; the time is the page's own `loadEventEnd`
  (Navigation Timing, from the start of navigation). Each load also counts the requests the
  browser made, the requests and connections that reached the servers, the proxy's CPU time, and
  the protocol the browser used to its next hop.
- rounds: each round loads the page once per case, the order rotated round by round, so load from
  other processes on this shared machine falls on every case alike. A warm-up load per case first
  (the proxies' first sight of each name: certificates made; printed, not counted). Printed:
  median load time per case (with quartiles), and whoknows / direct and whoknows / plain mitmdump
  as the median of the rounds' ratios with their quartiles and range, and the ratio of the medians.
"""

from __future__ import annotations

import argparse
import collections
import json
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from dataclasses import dataclass
from dataclasses import field
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(ROOT / "tests" / "e2e"))
sys.path.insert(0, str(ROOT / "tests" / "support"))
import bench_proxy  # noqa: E402
from bench_proxy import LAUNCHER  # noqa: E402
from bench_proxy import clean_env  # noqa: E402
from bench_proxy import cpu_seconds  # noqa: E402
from bench_proxy import free_port  # noqa: E402
from bench_proxy import spawn  # noqa: E402
from bench_proxy import stop_all  # noqa: E402
from bench_proxy import wait_listening  # noqa: E402
from bench_proxy_launch import REFUSED_PREFIX  # noqa: E402

SITES = HERE / "bench_pageload_sites.py"
GOALS = {"direct": 0.85, "plain": 0.75}  # whoknows / case, at most
TRACKER_HOSTS = ("tags.test", "metrics.test", "social.test", "adnet.test", "sync1.test", "sync2.test")
# The hosts of the requests EasyList/EasyPrivacy block on the page (their first requests: gtm.js and
# the ad frame); everything else a tracker loads hangs on them.
BLOCKED_FIRST = ("tags.test", "adnet.test")
LOAD_TIMEOUT_MS = 20_000
START_TIMEOUT = 30.0


@dataclass
class Load:
    ms: float  # loadEventEnd
    browser_requests: int  # requests the browser made (the page and its frames)
    reached: dict[str, int]  # requests that reached each host's server
    connections: dict[str, int]  # connections each host's server accepted
    protocols: dict[str, int]  # the browser's resources by protocol to the next hop (h2, http/1.1)
    proxy_cpu_ms: float  # CPU time the proxy used during the load (0 direct)


@dataclass
class Case:
    key: str
    label: str
    proxy: str | None  # Playwright proxy server; None: direct
    pid: int | None = None  # the proxy's process
    browser: str = "direct"  # which browser loads it (direct ones: with or without blocked hosts)
    loads: list[Load] = field(default_factory=list)
    warmup: Load | None = None

    def times(self) -> list[float]:
        return [load.ms for load in self.loads]

    def median(self) -> float:
        return statistics.median(self.times())


def start_sites(workdir: Path, pki) -> dict:
    process = spawn([sys.executable, str(SITES), str(pki.leaf_cert), str(pki.leaf_key)],
                    stdout=subprocess.PIPE, stderr=workdir / "sites.stderr")
    line = process.stdout.readline().decode()
    if not line.startswith("SITES_JSON "):
        raise SystemExit(f"bench_pageload: the sites did not start: {(workdir / 'sites.stderr').read_text()}")
    return json.loads(line.removeprefix("SITES_JSON "))


def read_counts(control_port: int) -> dict[str, dict[str, int]]:
    """Requests and connections each host received since the last call (the sites reset them)."""
    with urllib.request.build_opener(urllib.request.ProxyHandler({})).open(
            f"http://127.0.0.1:{control_port}/counts", timeout=5) as answer:
        return json.loads(answer.read())


def wait_for_file(path: Path, process: subprocess.Popen, timeout: float = START_TIMEOUT) -> Path:
    deadline = time.monotonic() + timeout
    while not path.is_file():
        if process.poll() is not None or time.monotonic() > deadline:
            raise SystemExit(f"bench_pageload: {path} did not appear")
        time.sleep(0.05)
    return path


def start_proxies(workdir: Path, wk_env: dict, test_ca: Path, variants: list[str]) -> dict:
    """plain mitmdump, whoknows and one whoknows per variant (`OPTION=VALUE`), each sealed;
    returns key -> (process, port, its mitmproxy CA). The whoknows proxies share the home."""
    trusted = f"ssl_verify_upstream_trusted_ca={test_ca}"
    launcher = [sys.executable, str(LAUNCHER)]
    plain_port = free_port()
    plain_conf = workdir / "mitmproxy-plain"
    plain = spawn(launcher + ["mitmdump", "-q", "--listen-host", "127.0.0.1", "--listen-port", str(plain_port),
                              "--set", f"confdir={plain_conf}", "--set", trusted],
                  env=clean_env(), stderr=workdir / "plain.stderr")
    started = {"plain": (plain, plain_port)}
    wk_ca = Path(wk_env["WHOKNOWS_HOME"]) / "mitmproxy" / "mitmproxy-ca-cert.pem"
    for number, variant in enumerate([None, *variants]):
        key = "whoknows" if variant is None else f"variant{number}"
        port = free_port()
        sets = [arg for spec in (trusted, variant) if spec for arg in ("--set", spec)]
        process = spawn(launcher + ["whoknows", "--port", str(port), *sets], env=wk_env,
                        stdout=workdir / f"{key}.stdout", stderr=workdir / f"{key}.stderr")
        started[key] = (process, port)
        if variant is None:  # the first makes the home's CA; the others must find it there
            wait_listening(port, process, "the whoknows proxy")
    for key, (process, port) in started.items():
        wait_listening(port, process, f"the {key} proxy")
    return {key: (process, port, wait_for_file(plain_conf / "mitmproxy-ca-cert.pem" if key == "plain" else wk_ca,
                                               process))
            for key, (process, port) in started.items()}


def browser_args(trusted: list[Path], refused: tuple[str, ...] = ()) -> list[str]:
    """e2e_browser's flags, trusting every given CA (the two proxies' and the sites' own, for direct),
    with `*.test` resolved to loopback when the browser goes direct, except the `refused` names
    (the browser's resolver fails them at once, as for a name that does not exist)."""
    from e2e_browser import chromium_args
    from e2e_pki import spki_sha256_base64

    pins = ",".join(spki_sha256_base64(ca) for ca in trusted)
    args = [a for a in chromium_args(trusted[0]) if not a.startswith("--ignore-certificate-errors-spki-list=")]
    rules = ", ".join([*(f"MAP {name} ~NOTFOUND" for name in refused), "MAP *.test 127.0.0.1"])
    return args + [f"--ignore-certificate-errors-spki-list={pins}", f"--host-resolver-rules={rules}"]


def load_once(browsers: dict, case: Case, page_url: str, control_port: int) -> Load:
    from e2e_browser import new_context

    read_counts(control_port)  # whatever came late from the previous load is not this one's
    if case.proxy is None:
        context = browsers[case.browser].new_context()
    else:
        context = new_context(browsers["proxied"], case.proxy)
    context.set_default_navigation_timeout(LOAD_TIMEOUT_MS)
    cpu_before = cpu_seconds(case.pid) if case.pid else 0.0
    requests = []
    context.on("request", lambda request: requests.append(request.url))
    try:
        page = context.new_page()
        page.goto(page_url, wait_until="load")
        ms = page.evaluate("performance.getEntriesByType('navigation')[0].loadEventEnd")
        protocols = collections.Counter(page.evaluate(
            "performance.getEntriesByType('resource').map(e => e.nextHopProtocol)"))
        page.wait_for_load_state("networkidle")  # so the counts below hold the whole page
    finally:
        context.close()
    counts = read_counts(control_port)
    cpu_ms = (cpu_seconds(case.pid) - cpu_before) * 1000 if case.pid else 0.0
    return Load(float(ms), len(requests), counts["requests"], counts["connections"], dict(protocols), cpu_ms)


def quartiles(values: list[float]) -> tuple[float, float]:
    if len(values) < 2:
        return values[0], values[0]
    q = statistics.quantiles(values, n=4)
    return q[0], q[2]


def print_results(cases: dict[str, Case], expected_requests: int) -> list[str]:
    print("\n  case              median ms   quartiles ms    min-max ms    browser   reached servers"
          "   trackers   connections   proxy CPU ms   page's protocols to the next hop")
    for case in cases.values():
        times = case.times()
        low, high = quartiles(times)

        def median_of(count) -> float:
            return statistics.median(count(load) for load in case.loads)

        browser = median_of(lambda load: load.browser_requests)
        reached = median_of(lambda load: sum(load.reached.values()))
        trackers = median_of(lambda load: sum(load.reached[h] for h in TRACKER_HOSTS))
        connections = median_of(lambda load: sum(load.connections.values()))
        cpu = median_of(lambda load: load.proxy_cpu_ms)
        protocols = collections.Counter()
        for load in case.loads:
            protocols.update(load.protocols)
        shares = ", ".join(f"{name or '?'} {count / len(case.loads):.0f}" for name, count in protocols.most_common())
        print(f"  {case.label:<17} {case.median():>8.0f}   {low:>6.0f}-{high:<6.0f}  {min(times):>6.0f}-{max(times):<6.0f}"
              f"   {browser:>6.0f}   {reached:>10.0f}        {trackers:>6.0f}   {connections:>9.0f}      {cpu:>7.0f}       {shares}")
    print(f"  (medians per load; the page makes {expected_requests} requests when nothing is blocked; "
          "warm-up loads, the proxies' first sight of each name: "
          + ", ".join(f"{c.label} {c.warmup.ms:.0f} ms" for c in cases.values() if c.warmup) + ")")
    ours = cases["whoknows"]
    missed = []
    print("\n  ratio                              median of rounds   quartiles     range         ratio of medians   goal")
    rows = [(ours, cases[key], goal) for key, goal in GOALS.items()]
    # What blocking alone wins (no proxy), and what interception costs on top of the same blocking.
    rows += [(cases["direct_blocked"], cases["direct"], None), (ours, cases["direct_blocked"], None)]
    rows += [(case, base, None) for case in cases.values() if case.key.startswith("variant")
             for base in (ours, cases["direct"])]
    for case, base, goal in rows:
        per_round = [o.ms / b.ms for o, b in zip(case.loads, base.loads)]
        low, high = quartiles(per_round)
        ratio = statistics.median(per_round)
        verdict = "" if goal is None else f"<= {goal}  {'ok' if ratio <= goal else 'MISSED'}"
        if goal is not None and ratio > goal:
            missed.append(f"{case.label} / {base.label} {ratio:.3f} > {goal}")
        name = f"{case.label} / {base.label}"
        print(f"  {name:<34} {ratio:>10.3f}        {low:.3f}-{high:.3f}   {min(per_round):.3f}-{max(per_round):.3f}"
              f"   {case.median() / base.median():>10.3f}         {verdict}")
    return missed


def refused_names(path: Path) -> list[str]:
    text = path.read_text(errors="replace") if path.is_file() else ""
    return [line.removeprefix(REFUSED_PREFIX) for line in text.splitlines() if line.startswith(REFUSED_PREFIX)]


def run(args, workdir: Path) -> int:
    from e2e_pki import make_pki
    from playwright.sync_api import sync_playwright

    from bench_pageload_sites import HOSTS
    from e2e_browser import CHROMIUM

    print(f"bench_pageload: cold loads of a shop page in headless Chromium ({args.rounds} rounds; loopback only)")
    pki = make_pki(workdir / "pki", tuple(host.name for host in HOSTS))
    sites = start_sites(workdir, pki)
    wk_env = bench_proxy.prepare_home(workdir / "home")
    proxies = start_proxies(workdir, wk_env, pki.ca_cert, args.compare)
    cases = {
        "direct": Case("direct", "direct", None),
        "direct_blocked": Case("direct_blocked", "direct, blocked", None, browser="direct_blocked"),
        "plain": Case("plain", "plain mitmdump", f"http://127.0.0.1:{proxies['plain'][1]}", proxies["plain"][0].pid),
        "whoknows": Case("whoknows", "whoknows", f"http://127.0.0.1:{proxies['whoknows'][1]}",
                         proxies["whoknows"][0].pid),
    }
    for number, variant in enumerate(args.compare, 1):
        key = f"variant{number}"
        cases[key] = Case(key, f"whoknows #{number}", f"http://127.0.0.1:{proxies[key][1]}", proxies[key][0].pid)
    print("  whoknows: EasyList + EasyPrivacy (and its built-in list)" + "".join(f"; whoknows #{n}: the same with {v}" for n, v in enumerate(args.compare, 1)))
    problems = []
    with sync_playwright() as playwright:
        # Two browsers, the same flags: one with no proxy at all, one whose contexts each name their
        # proxy (a context of a browser launched with a proxy cannot go direct).
        trusted = [proxies["whoknows"][2], proxies["plain"][2], pki.ca_cert]
        flags = browser_args(trusted)
        browsers = {"direct": playwright.chromium.launch(executable_path=str(CHROMIUM), headless=True,
                                                         args=flags, timeout=30_000),
                    "direct_blocked": playwright.chromium.launch(
                        executable_path=str(CHROMIUM), headless=True, timeout=30_000,
                        args=browser_args(trusted, refused=BLOCKED_FIRST)),
                    "proxied": playwright.chromium.launch(executable_path=str(CHROMIUM), headless=True,
                                                          proxy={"server": "http://per-context"},
                                                          args=flags, timeout=30_000)}
        try:
            for case in cases.values():
                case.warmup = load_once(browsers, case, sites["page"], sites["control"])
            order = list(cases.values())
            for number in range(args.rounds):
                rotated = order[number % len(order):] + order[:number % len(order)]
                for case in rotated:
                    case.loads.append(load_once(browsers, case, sites["page"], sites["control"]))
                print(f"  round {number + 1:>2}: " + ", ".join(f"{c.key} {c.loads[-1].ms:.0f}" for c in order)
                      + " ms", flush=True)
        finally:
            for browser in browsers.values():
                browser.close()
    missed = print_results(cases, sites["requests"])
    direct_reached = [sum(load.reached.values()) for load in cases["direct"].loads]
    if min(direct_reached) < sites["requests"]:
        problems.append(f"direct loads reached the servers with {min(direct_reached)} requests, "
                        f"fewer than the page's {sites['requests']}: the page did not load whole")
    floor, ours = (statistics.median(sum(load.reached.values()) for load in cases[key].loads)
                   for key in ("direct_blocked", "whoknows"))
    if floor != ours:
        problems.append(f"the browser's own blocking let {floor:.0f} requests reach the servers, whoknows "
                        f"{ours:.0f}: 'direct, blocked' is not the same page as through whoknows")
    for load in cases["whoknows"].loads:
        if any(load.reached[h] for h in TRACKER_HOSTS if h not in ("tags.test", "adnet.test")):
            problems.append(f"a tracker behind a blocked one was reached through whoknows: {load.reached}")
            break
    for key in proxies:
        refused = refused_names(workdir / f"{key}.stderr")
        if refused:
            print(f"  names the {key} proxy was refused (outside *.test): {', '.join(refused)}")
    for problem in problems:
        print(f"  PROBLEM: {problem}")
    if missed:
        print(f"\ngoals missed: {'; '.join(missed)}")
    return 1 if problems else 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=20, help="rounds of three loads (default 20)")
    parser.add_argument("--compare", action="append", default=[], metavar="OPTION=VALUE",
                        help="also load through a whoknows proxy with this option (interleaved, the "
                             "same rounds: what an option changes); repeat for more")
    parser.add_argument("--keep", action="store_true", help="keep the work directory (logs)")
    args = parser.parse_args(argv)
    if args.rounds < 1:
        parser.error("--rounds must be at least 1")
    from e2e_browser import chromium_missing

    missing = chromium_missing()
    if missing:
        print(f"bench_pageload: {missing}", file=sys.stderr)
        return 2
    absent = [str(p) for p in bench_proxy.LISTS.values() if not p.is_file()]
    if absent:
        print(f"bench_pageload: missing filter lists: {', '.join(absent)}", file=sys.stderr)
        return 2
    for sig in (signal.SIGTERM, signal.SIGHUP):
        signal.signal(sig, lambda *_: sys.exit(130))
    workdir = Path(tempfile.mkdtemp(prefix="bench_pageload."))
    try:
        return run(args, workdir)
    finally:
        stop_all()
        if args.keep:
            print(f"work directory kept: {workdir}")
        else:
            shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
