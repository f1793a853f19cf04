"""Memory of the whoknows proxy with EasyList + EasyPrivacy, against plain mitmdump in the same run.

    .venv/bin/python bench/bench_memory.py [--requests N]

Parts:
- the engine's own size: EasyList + EasyPrivacy loaded from the compiled cache in a fresh process
  under `tracemalloc` (what the engine's objects hold once loaded, and the peak while loading),
  and, in another fresh process without tracemalloc, the growth of its RSS;
- where the proxy's memory goes: a fresh process that imports what `whoknows proxy` imports, then
  loads the engine, the tracker company data, the company directory and the Public Suffix List,
  one at a time, under `tracemalloc` (MB each);
- the running proxies: `whoknows proxy` (the real command, `cli.main`) with EasyList + EasyPrivacy
  (+ the built-in list) subscribed as local files in a temp `$WHOKNOWS_HOME`, cache built before,
  and plain `mitmdump`, both sealed off the network as in bench_proxy.py
  (`tests/support/sealed_network.py`: `*.test` is loopback, every other name is refused). Each
  gets the same N requests from 4 clients (allowed requests to a loopback origin on 40 `*.test`
  sites, with Referer, cookies and tracking parameters; analytics beacons on the lists, answered
  by whoknows itself and refused by mitmdump's sealed network); then its RSS (VmRSS) and peak
  (VmHWM) are read from /proc. The goal is on whoknows' RSS after the traffic.
Everything on loopback and bounded (a few seconds of traffic); every process started here is
stopped before exit. Needs ../shared/data/filterlists.
"""

from __future__ import annotations

import argparse
import http.client
import http.server
import json
import subprocess
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(HERE))
from bench_proxy import (  # noqa: E402  (one way to run a sealed proxy and prepare its home)
    BROWSER_HEADERS, LISTS, VENV_BIN, clean_env, free_port, prepare_home, spawn, stop, stop_all,
    wait_listening,
)

GOALS = {"proxy_rss_mb": 120.0}
CLIENTS = 4
SITES = 40
BLOCKED_URLS = (
    "http://www.google-analytics.com/collect?v=1&tid=UA-{i}-1&cid=555&t=pageview",
    "http://stats.g.doubleclick.net/j/collect?t=dc&aip=1&_r=3&v=1&_v=j86&tid=UA-{i}-1",
    "http://connect.facebook.net/en_US/fbevents.js?v={i}",
    "http://bat.bing.com/action/0?ti={i}&Ver=2",
)

# A proxy process, sealed off the network: argv[1] is "whoknows" (the `whoknows` command's own
# entry point, with the rest of argv as its arguments) or "mitmdump".
_LAUNCH = r"""
import sys
sys.path[:0] = [{root!r}, {support!r}]
from sealed_network import seal
seal()
which, sys.argv = sys.argv[1], [sys.argv[1]] + sys.argv[2:]
if which == "whoknows":
    from cli.main import main
else:
    from mitmproxy.tools.main import mitmdump as main
sys.exit(main())
"""

# The engine alone, loaded from its cache in a fresh process: with argv[2] "traced" under
# tracemalloc, else its RSS growth (tracemalloc's own bookkeeping would double that).
_ENGINE = r"""
import gc, json, sys, tracemalloc
sys.path.insert(0, {root!r})
def rss():
    for line in open("/proc/self/status"):
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
from whoknows.filters import FilterEngine
import whoknows.sites
whoknows.sites.site_of("warm.example.com")  # the suffix list: not the engine's
gc.collect()
traced = sys.argv[2] == "traced"
before = rss()
if traced:
    tracemalloc.start()
engine = FilterEngine.load(sys.argv[1])
engine.match("https://example.com/", "script", "https://example.org/")
gc.collect()
if traced:
    current, peak = tracemalloc.get_traced_memory()
    print(json.dumps({{"traced": current / 2**20, "peak": peak / 2**20}}))
else:
    print(json.dumps({{"rss_growth": rss() - before}}))
"""

# What the proxy holds, part by part, in a fresh process with the bench's $WHOKNOWS_HOME.
_PARTS = r"""
import gc, json, sys, tracemalloc
sys.path.insert(0, {root!r})
tracemalloc.start()
parts = {{}}
def part(name, load):
    gc.collect()
    before = tracemalloc.get_traced_memory()[0]
    kept = load()
    gc.collect()
    parts[name] = (tracemalloc.get_traced_memory()[0] - before) / 2**20
    return kept
def imports():
    import cli.main, cli.proxy, proxy_addons, proxy_addons.runner
    from mitmproxy.tools import main
    return proxy_addons.whoknows_addons()
def engine():
    from whoknows.filters import engine_cache
    return engine_cache.open_engine().engine
def trackers():
    from whoknows import tracker_companies
    return tracker_companies.tracker_domain("www.google-analytics.com")
def directory():
    from whoknows import directory
    return directory.tracker_owner("www.google-analytics.com"), directory.lookup("google.com")
def suffixes():
    import whoknows.sites
    return whoknows.sites.site_of("www.example.co.uk")
kept = [part("imports (mitmproxy, whoknows, addons)", imports), part("Public Suffix List", suffixes),
        part("filter engine (the subscribed lists)", engine), part("tracker company data", trackers),
        part("company directory", directory)]
print(json.dumps(parts))
"""


class _Origin(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def do_GET(self) -> None:  # noqa: N802 -- http.server's name
        body = b"origin:" + self.path.encode()[:64]
        self.send_response(200)
        self.send_header("content-type", "application/json")
        self.send_header("set-cookie", "sid=abc123; Path=/; HttpOnly")
        self.send_header("content-length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args) -> None:
        pass


def start_origin() -> tuple[http.server.ThreadingHTTPServer, int]:
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Origin)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, name="origin", daemon=True).start()
    return server, server.server_address[1]


def workload(origin_port: int, count: int) -> list[tuple[str, dict]]:
    """`count` requests: three allowed ones (40 sites, their pages and APIs) to one beacon."""
    requests = []
    for i in range(count):
        site = f"shop{i % SITES}.test"
        page = f"http://{site}:{origin_port}/"
        if i % 4 == 3:
            url = BLOCKED_URLS[i % len(BLOCKED_URLS)].format(i=i)
            headers = {**BROWSER_HEADERS, "referer": page, "sec-fetch-site": "cross-site",
                       "cookie": "_ga=GA1.2.1234567890.1717243200"}
        else:
            url = f"{page}api/items/{i}?utm_source=news&id={i}&fbclid=y{i}"
            headers = {**BROWSER_HEADERS, "referer": page, "sec-fetch-site": "same-origin",
                       "cookie": f"sid=abc{i}; theme=dark"}
        requests.append((url, headers))
    return requests


def send_all(proxy_port: int, requests: list[tuple[str, dict]]) -> dict[int, int]:
    """Send the requests through the proxy from CLIENTS keep-alive connections; statuses counted."""
    statuses: dict[int, int] = {}
    lock = threading.Lock()

    def client(share: list[tuple[str, dict]]) -> None:
        connection = http.client.HTTPConnection("127.0.0.1", proxy_port, timeout=30)
        try:
            for url, headers in share:
                try:
                    connection.request("GET", url, headers=headers)
                    response = connection.getresponse()
                    response.read()
                    status = response.status
                    if response.will_close:
                        connection.close()
                except (OSError, http.client.HTTPException):
                    connection.close()
                    status = 0
                with lock:
                    statuses[status] = statuses.get(status, 0) + 1
        finally:
            connection.close()

    with ThreadPoolExecutor(CLIENTS) as pool:
        list(pool.map(client, [requests[n::CLIENTS] for n in range(CLIENTS)]))
    return statuses


def memory_of(pid: int) -> dict[str, float]:
    """VmRSS (now) and VmHWM (the most it ever had), MB."""
    values = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        key, _, rest = line.partition(":")
        if key in ("VmRSS", "VmHWM"):
            values[key] = int(rest.split()[0]) / 1024
    return values


def run_proxy(which: str, argv: list[str], env: dict, port: int, requests: list, log: Path) -> dict:
    """Start one sealed proxy, measure it idle, send the requests, measure it again, stop it."""
    launch = _LAUNCH.format(root=str(ROOT), support=str(ROOT / "tests" / "support"))
    process = spawn([sys.executable, "-c", launch, which, *argv], env=env, stderr=log)
    try:
        wait_listening(port, process, which)
        time.sleep(1.0)  # let start-up work finish (whoknows loads the directory off the first request)
        idle = memory_of(process.pid)
        started = time.monotonic()
        statuses = send_all(port, requests)
        seconds = time.monotonic() - started
        time.sleep(0.5)
        after = memory_of(process.pid)
    finally:
        stop(process)
    return {"idle": idle["VmRSS"], "rss": after["VmRSS"], "peak": after["VmHWM"], "statuses": statuses,
            "seconds": seconds}


def run_script(script: str, *args: str, env: dict | None = None) -> dict:
    done = subprocess.run([sys.executable, "-c", script, *args], capture_output=True, text=True,
                          timeout=300, env=env, cwd=ROOT)
    if done.returncode != 0:
        raise SystemExit(f"bench_memory: a measuring process failed: {done.stderr.strip()[-500:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=2000, help="requests through each proxy (default 2000)")
    args = parser.parse_args()
    missing = [str(path) for path in LISTS.values() if not path.is_file()]
    if missing:
        print(f"bench_memory: missing {', '.join(missing)}", file=sys.stderr)
        return 1
    origin, origin_port = start_origin()
    try:
        with tempfile.TemporaryDirectory(prefix="whoknows-bench-memory-") as tmp:
            tmp_path = Path(tmp)
            env = prepare_home(tmp_path / "home")
            cache = next((tmp_path / "home").glob("engine.*.cache"))
            engine = {**run_script(_ENGINE.format(root=str(ROOT)), str(cache), "traced", env=env),
                      **run_script(_ENGINE.format(root=str(ROOT)), str(cache), "rss", env=env)}
            parts = run_script(_PARTS.format(root=str(ROOT)), env=env)
            requests = workload(origin_port, args.requests)
            ours_port, plain_port = free_port(), free_port()
            ours = run_proxy("whoknows", ["proxy", "--port", str(ours_port), "--set", "whoknows_control_port=0"],
                             env, ours_port, requests, tmp_path / "whoknows.log")
            plain = run_proxy("mitmdump", ["-q", "--listen-host", "127.0.0.1", "--listen-port", str(plain_port),
                                           "--set", f"confdir={tmp_path / 'mitmdump'}",
                                           "--set", "connection_strategy=lazy"],
                              clean_env(), plain_port, requests, tmp_path / "mitmdump.log")
    finally:
        origin.shutdown()
        stop_all()

    print(f"\nEasyList + EasyPrivacy (+ built-in list); {args.requests:,} requests through each proxy "
          f"from {CLIENTS} clients\n")
    print("the engine, loaded from its cache in a fresh process:")
    print(f"  {'held by its objects (tracemalloc)':44}{engine['traced']:7.1f} MB")
    print(f"  {'peak while loading (tracemalloc)':44}{engine['peak']:7.1f} MB")
    print(f"  {'RSS growth (a process without tracemalloc)':44}{engine['rss_growth']:7.1f} MB")
    print("what the proxy holds, part by part (tracemalloc, in the order loaded):")
    for name, megabytes in parts.items():
        print(f"  {name:44}{megabytes:7.1f} MB")
    print(f"\n{'':34}{'whoknows proxy':>16}{'plain mitmdump':>16}{'difference':>12}{'goal':>12}")
    rows = (("RSS idle, after start (MB)", "idle", ""), ("RSS after the requests (MB)", "rss",
            f"<= {GOALS['proxy_rss_mb']:.0f}"), ("peak RSS (VmHWM, MB)", "peak", ""))
    for label, key, goal in rows:
        print(f"{label:34}{ours[key]:>16.0f}{plain[key]:>16.0f}{ours[key] - plain[key]:>+12.0f}{goal:>12}")
    for label, result in (("whoknows proxy", ours), ("plain mitmdump", plain)):
        rate = args.requests / result["seconds"] if result["seconds"] else 0
        print(f"  {label}: statuses {dict(sorted(result['statuses'].items()))}, {rate:,.0f} req/s")

    misses = []
    if ours["rss"] > GOALS["proxy_rss_mb"]:
        misses.append(f"whoknows proxy RSS {ours['rss']:.0f} MB")
    served = ours["statuses"].get(200, 0)
    expected_allowed = sum(1 for i in range(args.requests) if i % 4 != 3)
    if served != expected_allowed or ours["statuses"].get(0):
        misses.append(f"whoknows answered {ours['statuses']} (expected {expected_allowed} x 200 from the origin, "
                      "the rest blocked)")
    print("\ngoals: " + ("all met" if not misses else "MISSED: " + "; ".join(misses)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
