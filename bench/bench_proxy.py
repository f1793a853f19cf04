"""The whoknows proxy under load, against plain mitmdump and a minimal blocking addon in the same run.

    .venv/bin/python bench/bench_proxy.py [--seconds N] [--rounds R] [--no-profile] [--before DIR]

Everything on loopback, bounded in time, and every process started here is stopped before exit
(and dies with this script if it is killed: PR_SET_PDEATHSIG). Needs `wrk` and `nginx`
(`./scripts/ensure-apt wrk nginx-light`; `make bench` does it) and ../shared/data/filterlists.

Parts:
- origin: nginx (one process, temp prefix, free loopback port) answering any path; `/api/...`
  answers with two first-party `Set-Cookie` lines.
- load: wrk, 10 connections, one thread, absolute-form requests through the proxies (a Lua script
  sets `wrk.path` to the absolute URL and the Host header) with a browser's headers.
- cases: direct to nginx; plain `mitmdump -q`; `mitmdump -q -s bench_proxy_floor.py` (one substring
  test, blocked requests answered by the proxy: the floor of any mitmproxy design); the whoknows
  proxy (`proxy_addons.runner`, i.e. `whoknows proxy`) with EasyList + EasyPrivacy (+ the built-in
  list) subscribed as local files in a temp `$WHOKNOWS_HOME`, cache built before timing; and, for
  what the whoknows addons alone cost, the same addons in full mitmdump
  (`mitmdump -q -s proxy_addons/whoknows.py`, same home). `whoknows proxy` runs a leaner mitmproxy
  than mitmdump (only the mitmproxy addons it needs: `runner.mitmproxy_addons`), which saves more
  per request than its own addons cost; the goals compare what a user runs (`whoknows proxy`),
  and the script lines show the addons' cost on mitmdump's own base.
  (a) "allowed": `http://shop.test:PORT/api/items?utm_source=x&id=1&fbclid=y` from the site's own
      page (Referer, Cookie header; the origin sets cookies): forwarded with the parameters
      stripped and the cookies judged. Compared with plain mitmdump forwarding the same requests.
  (b) "blocked": `http://www.google-analytics.com/collect?...` (on the lists) from that page:
      answered by the proxy. Compared with the floor addon answering the same requests.
  Every proxy runs with `connection_strategy=lazy` and inside `bench_proxy_launch.py`, which
  resolves `*.test` to 127.0.0.1 and refuses every other name: a proxy that tried to reach the
  blocked host is reported (and the run fails) instead of anything leaving the machine.
- rounds: each case's time is split into R rounds, the cases interleaved round by round, so load
  from other processes on this shared machine falls on every case alike. req/s is over all rounds;
  latency percentiles are the mean of the rounds'; a ratio is the median of the rounds' ratios
  (a burst of load from elsewhere spoils a round, not the result), with their range. Each
  server's CPU time during its runs (/proc/PID/stat) gives its CPU time per request: the same
  ratios again, less sensitive to whatever else the machine is doing (a proxy uses one core).
- `--before DIR`: a checkout of whoknows from before a change, with its own `.venv` (`git worktree
  add --detach DIR REV && make -C DIR install`): its `whoknows proxy` (its own launcher, its own
  home prepared by its own CLI) runs the same two workloads as two more cases, interleaved with
  the rest, and the table adds whoknows / before, by req/s and by CPU time per request. For issue
  13's goal (>= 0.95): REV 0dd3440 with 0931d68 (issue 10's HookTable, landed beside it) applied.
- also measured: peak RSS of the whoknows proxy (VmHWM), time from start to the "listening" line
  of `whoknows proxy` with a cached engine (median of 3; plain mitmdump's alongside), the
  garbage collector's collections during the timed runs, and where the per-request time goes:
  py-spy samples of the live whoknows proxy under each load (if py-spy is installed) and the
  addon chain run in-process, timed and under cProfile (`bench_proxy_chain.py`).
"""

from __future__ import annotations

import argparse
import collections
import ctypes
import json
import os
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
DATA = ROOT.parent / "shared" / "data"
LISTS = {"EasyList": DATA / "filterlists" / "easylist.txt",
         "EasyPrivacy": DATA / "filterlists" / "easyprivacy.txt"}
VENV_BIN = Path(sys.executable).parent
LAUNCHER = HERE / "bench_proxy_launch.py"
FLOOR = HERE / "bench_proxy_floor.py"
WHOKNOWS_SCRIPT = ROOT / "proxy_addons" / "whoknows.py"
CHAIN = HERE / "bench_proxy_chain.py"

GOALS = {"allowed_ratio": 0.95, "blocked_ratio": 0.9, "rss_mb": 250.0, "startup_s": 2.0, "before_ratio": 0.95}
CONNECTIONS = 10
START_TIMEOUT = 30.0
STOP_TIMEOUT = 10.0

# --- the workload (bench_proxy_chain.py builds the same requests) -------------------------------

SITE = "shop.test"
ALLOWED_PATH = "/api/items?utm_source=x&id=1&fbclid=y"
BLOCKED_URL = "http://www.google-analytics.com/collect?v=1&tid=UA-12345-1&cid=555&t=pageview"
BLOCKED_HOST = "www.google-analytics.com"
BROWSER_HEADERS = {
    "user-agent": "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) "
                  "Chrome/126.0.0.0 Safari/537.36",
    "accept": "*/*",
    "accept-language": "en-GB,en;q=0.9",
    "sec-fetch-dest": "empty",
    "sec-fetch-mode": "cors",
}


def site_origin(port: int) -> str:
    return f"http://{SITE}:{port}"


def allowed_request(port: int) -> tuple[str, dict[str, str]]:
    """A same-site fetch from the shop's page, with tracking parameters and first-party cookies."""
    headers = {**BROWSER_HEADERS, "referer": f"{site_origin(port)}/", "sec-fetch-site": "same-origin",
               "cookie": "sid=abc123; theme=dark; cart=42"}
    return f"{site_origin(port)}{ALLOWED_PATH}", headers


def blocked_request(port: int) -> tuple[str, dict[str, str]]:
    """An analytics beacon from the shop's page (the host is on EasyPrivacy and the built-in list)."""
    headers = {**BROWSER_HEADERS, "referer": f"{site_origin(port)}/", "sec-fetch-site": "cross-site",
               "cookie": "_ga=GA1.2.1234567890.1717243200"}
    return BLOCKED_URL, headers


# --- processes ----------------------------------------------------------------------------------

_PR_SET_PDEATHSIG = 1
_children: list[subprocess.Popen] = []


def _die_with_parent() -> None:
    """In the child, before exec: get SIGTERM if the bench dies, however it dies."""
    ctypes.CDLL(None, use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)


def spawn(argv: list[str], *, env: dict | None = None, stdout=subprocess.DEVNULL,
          stderr=subprocess.DEVNULL) -> subprocess.Popen:
    """Start a child; `stdout`/`stderr` may also be a Path (the output goes to that file)."""
    out, err = (open(target, "wb") if isinstance(target, Path) else target for target in (stdout, stderr))
    try:
        process = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=out, stderr=err, env=env,
                                   cwd=ROOT, preexec_fn=_die_with_parent)
    finally:
        for given, handle in ((stdout, out), (stderr, err)):
            if isinstance(given, Path):
                handle.close()  # the child has its own copy
    _children.append(process)
    return process


def stop(process: subprocess.Popen) -> None:
    """SIGTERM (clean shutdown: the proxies flush and exit), SIGKILL if it does not go in time."""
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(STOP_TIMEOUT)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
    if process in _children:
        _children.remove(process)


def stop_all() -> None:
    for process in list(_children):
        stop(process)


def clean_env(**extra: str) -> dict[str, str]:
    """This environment without proxy settings (nothing here may be sent elsewhere), plus `extra`."""
    env = {k: v for k, v in os.environ.items() if "proxy" not in k.lower()}
    env.update(extra)
    return env


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_listening(port: int, process: subprocess.Popen, what: str, timeout: float = START_TIMEOUT) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise SystemExit(f"bench_proxy: {what} exited with status {process.returncode} before listening")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.05)
    raise SystemExit(f"bench_proxy: {what} did not listen on port {port} within {timeout:g} s")


def peak_rss_mb(pid: int) -> float:
    """VmHWM: the most resident memory the process ever had."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


# --- origin -------------------------------------------------------------------------------------

NGINX_CONF = """\
daemon off;
master_process off;
pid {prefix}/nginx.pid;
error_log {prefix}/error.log warn;
events {{ worker_connections 1024; }}
http {{
    access_log off;
    client_body_temp_path {prefix}/body;
    proxy_temp_path {prefix}/proxy;
    fastcgi_temp_path {prefix}/fastcgi;
    uwsgi_temp_path {prefix}/uwsgi;
    scgi_temp_path {prefix}/scgi;
    keepalive_requests 1000000;
    server {{
        listen 127.0.0.1:{port};
        server_name _;
        location = / {{
            default_type text/html;
            return 200 "<!doctype html><title>shop</title><p>A small page.</p>\\n";
        }}
        location /api/ {{
            default_type application/json;
            add_header Set-Cookie "sid=abc123; Path=/; HttpOnly; SameSite=Lax; Max-Age=3600";
            add_header Set-Cookie "_shop_visitor=v1.99; Path=/; Expires=Wed, 01 Jun 2033 12:00:00 GMT";
            return 200 '{{"items": [1, 2, 3]}}\\n';
        }}
        location / {{
            default_type text/plain;
            return 200 "ok\\n";
        }}
    }}
}}
"""


def start_origin(workdir: Path, conf_template: str = NGINX_CONF) -> tuple[subprocess.Popen, int]:
    """nginx on a free loopback port, its prefix in `workdir/nginx` (the template's `{prefix}`)."""
    nginx = shutil.which("nginx") or "/usr/sbin/nginx"
    prefix = workdir / "nginx"
    prefix.mkdir(exist_ok=True)
    port = free_port()
    conf = prefix / "nginx.conf"
    conf.write_text(conf_template.format(prefix=prefix, port=port))
    process = spawn([nginx, "-p", str(prefix), "-e", str(prefix / "error.log"), "-c", str(conf)],
                    stderr=prefix / "stderr")
    wait_listening(port, process, "nginx")
    return process, port


# --- load (wrk) ---------------------------------------------------------------------------------

def _lua(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


WRK_REPORT = """
statuses = {}
function response(status, headers, body)
    statuses[status] = (statuses[status] or 0) + 1
end
local threads = {}
function setup(thread)
    table.insert(threads, thread)
end
function done(summary, latency, requests)
    local counts = {}
    for _, thread in ipairs(threads) do
        for status, count in pairs(thread:get("statuses")) do
            counts[#counts + 1] = string.format("[%d, %d]", status, count)
        end
    end
    local e = summary.errors
    io.write(string.format(
        'WRK_JSON {"requests": %d, "duration_us": %d, "p50_us": %.1f, "p99_us": %.1f, '
        .. '"errors": {"connect": %d, "read": %d, "write": %d, "timeout": %d}, "statuses": [%s]}\\n',
        summary.requests, summary.duration, latency:percentile(50), latency:percentile(99),
        e.connect, e.read, e.write, e.timeout, table.concat(counts, ", ")))
end
"""


def wrk_script(path: str, host: str, headers: dict[str, str]) -> str:
    lines = ['wrk.method = "GET"', f"wrk.path = {_lua(path)}", f'wrk.headers["Host"] = {_lua(host)}']
    lines += [f"wrk.headers[{_lua(name)}] = {_lua(value)}" for name, value in headers.items()]
    return "\n".join(lines) + "\n" + WRK_REPORT


@dataclass
class Load:
    """One wrk run's outcome."""

    requests: int
    seconds: float
    p50_ms: float
    p99_ms: float
    statuses: dict[int, int]
    socket_errors: int
    cpu_seconds: float = 0.0  # CPU time the server process (proxy or nginx) used meanwhile

    @property
    def rate(self) -> float:
        return self.requests / self.seconds if self.seconds else 0.0


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process (all its threads) so far."""
    fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def run_wrk(target_port: int, script: Path, seconds: int, server_pid: int | None = None) -> Load:
    cpu_before = cpu_seconds(server_pid) if server_pid else 0.0
    argv = ["wrk", "-t1", f"-c{CONNECTIONS}", f"-d{seconds}s", "--timeout", "5s", "-s", str(script),
            f"http://127.0.0.1:{target_port}/"]
    done = subprocess.run(argv, capture_output=True, text=True, timeout=seconds + 30,
                          preexec_fn=_die_with_parent)
    report = next((line for line in done.stdout.splitlines() if line.startswith("WRK_JSON ")), None)
    if done.returncode != 0 or report is None:
        raise SystemExit(f"bench_proxy: wrk failed ({done.returncode}): {done.stderr.strip() or done.stdout}")
    data = json.loads(report.removeprefix("WRK_JSON "))
    statuses: collections.Counter[int] = collections.Counter()
    for status, count in data["statuses"]:
        statuses[status] += count
    cpu = cpu_seconds(server_pid) - cpu_before if server_pid else 0.0
    return Load(data["requests"], data["duration_us"] / 1e6, data["p50_us"] / 1000,
                data["p99_us"] / 1000, dict(statuses), sum(data["errors"].values()), cpu)


@dataclass
class Case:
    key: str
    label: str
    port: int  # where wrk connects: nginx (direct) or a proxy
    pid: int  # the process listening there
    script: Path
    expect_status: int
    loads: list[Load]

    def total(self) -> tuple[int, float]:
        return sum(l.requests for l in self.loads), sum(l.seconds for l in self.loads)

    @property
    def rate(self) -> float:
        requests, seconds = self.total()
        return requests / seconds if seconds else 0.0

    @property
    def cpu_us_per_request(self) -> float:
        """The server's CPU time per request: what it costs, whatever else the machine is doing."""
        requests, _ = self.total()
        return sum(l.cpu_seconds for l in self.loads) / requests * 1e6 if requests else float("nan")

    @property
    def cores(self) -> float:
        _, seconds = self.total()
        return sum(l.cpu_seconds for l in self.loads) / seconds if seconds else float("nan")

    def mean(self, attr: str) -> float:
        return statistics.fmean(getattr(l, attr) for l in self.loads)

    def unexpected(self) -> str | None:
        """What went wrong, if any response was not the expected one."""
        statuses: collections.Counter[int] = collections.Counter()
        errors = 0
        for load in self.loads:
            statuses.update(load.statuses)
            errors += load.socket_errors
        wrong = {s: n for s, n in statuses.items() if s != self.expect_status}
        if not wrong and not errors:
            return None
        return f"{self.label}: expected only {self.expect_status}; got {dict(statuses)}, {errors} socket errors"


# --- the whoknows home --------------------------------------------------------------------------

def prepare_home(home: Path, venv_bin: Path = VENV_BIN) -> dict[str, str]:
    """A data directory subscribed to EasyList + EasyPrivacy (local files), engine cache built by
    the `whoknows` of `venv_bin`."""
    home.mkdir(mode=0o700)
    env = clean_env(WHOKNOWS_HOME=str(home), PYTHONUNBUFFERED="1")
    cli = str(venv_bin / "whoknows")

    def whoknows(*args: str) -> None:
        done = subprocess.run([cli, *args], env=env, capture_output=True, text=True, timeout=120)
        if done.returncode != 0:
            raise SystemExit(f"bench_proxy: whoknows {' '.join(args)} failed: {done.stderr.strip()}")

    # The default subscriptions' names are taken by URL lists never downloaded here: drop those.
    whoknows("lists", "remove", "EasyPrivacy")
    whoknows("lists", "remove", "uBO-Privacy")
    for name, path in LISTS.items():
        whoknows("lists", "add", str(path), "--name", name)
    started = time.monotonic()
    whoknows("lists")  # opens the engine: parses the lists once and writes the compiled cache
    print(f"  lists parsed and engine cache built in {time.monotonic() - started:.1f} s "
          f"(whoknows lists, in {home})")
    if not list(home.glob("engine.*.cache")):
        raise SystemExit("bench_proxy: no engine cache after 'whoknows lists'")
    return env


# --- start-up time ------------------------------------------------------------------------------

def time_to_line(argv: list[str], env: dict, marker: str, timeout: float = START_TIMEOUT) -> float:
    """Seconds from spawning `argv` to a stdout line containing `marker`; the process is stopped."""
    import selectors

    started = time.monotonic()
    process = spawn(argv, env=env, stdout=subprocess.PIPE)
    try:
        selector = selectors.DefaultSelector()
        selector.register(process.stdout, selectors.EVENT_READ)
        buffer = b""
        while marker.encode() not in buffer:
            left = started + timeout - time.monotonic()
            if left <= 0 or process.poll() is not None and not selector.select(0):
                raise SystemExit(f"bench_proxy: {argv[0]} did not say {marker!r} within {timeout:g} s")
            if selector.select(min(left, 0.5)):
                chunk = os.read(process.stdout.fileno(), 65536)
                if not chunk and process.poll() is not None:
                    raise SystemExit(f"bench_proxy: {argv[0]} exited before saying {marker!r}")
                buffer += chunk
        return time.monotonic() - started
    finally:
        stop(process)
        process.stdout.close()


def startup_times(env: dict, mitm_confdir: Path, runs: int = 3) -> tuple[float, float]:
    """Median start-to-listening of `whoknows proxy` (cached engine) and of plain mitmdump."""
    whoknows = [str(VENV_BIN / "whoknows"), "proxy", "--port", "0", "--set", "whoknows_control_port=0"]
    mitmdump = [str(VENV_BIN / "mitmdump"), "--listen-host", "127.0.0.1", "--listen-port", "0",
                "--set", f"confdir={mitm_confdir}", "--set", "connection_strategy=lazy"]
    ours = [time_to_line(whoknows, env, "whoknows proxy listening on") for _ in range(runs)]
    plain = [time_to_line(mitmdump, clean_env(), "listening at") for _ in range(runs)]
    return statistics.median(ours), statistics.median(plain)


# --- py-spy -------------------------------------------------------------------------------------

def _frame_group(frame: str) -> str:
    where = frame.rpartition("(")[2]
    if "bench_proxy_launch" in where or "proxy_addons/runner.py" in where:
        return "startup"  # the launcher and the runner hold every stack: not per-request work
    if "proxy_addons/" in where or "/whoknows/" in where or where.startswith("whoknows/"):
        return "whoknows"
    if "mitmproxy/" in where or "mitmproxy_rs" in where:
        return "mitmproxy"
    if "asyncio/" in where or "selectors.py" in where:
        return "asyncio"
    if "site-packages/" in where:
        return "other libraries"
    return "python stdlib"


def profile_live(pid: int, port: int, script: Path, seconds: int, out: Path) -> dict | None:
    """Sample the proxy with py-spy while wrk loads it; None if py-spy is not there or fails.

    py-spy pauses the process for each sample (200 a second): with `--nonblocking` it missed most
    samples here and over-counted frames that release the GIL (socket writes)."""
    py_spy = shutil.which("py-spy", path=str(VENV_BIN)) or shutil.which("py-spy")
    if py_spy is None:
        return None
    sampler = spawn([py_spy, "record", "--pid", str(pid), "--duration", str(seconds), "--rate", "200",
                     "--format", "raw", "--output", str(out)],
                    stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    time.sleep(0.5)  # let it attach before the load starts
    load = run_wrk(port, script, seconds, pid)
    try:
        sampler.wait(seconds + 20)
    except subprocess.TimeoutExpired:
        pass
    error = sampler.stderr.read().decode(errors="replace") if sampler.stderr else ""
    stop(sampler)
    if not out.is_file():
        print(f"  py-spy failed: {error.strip()[-300:]}")
        return None
    return {"load": load, **summarise_stacks(out.read_text().splitlines())}


def summarise_stacks(lines: list[str]) -> dict:
    """Samples by group of the innermost frame (self time), and inclusive time in whoknows code.

    Only the event loop's thread (stacks rooted in the launcher) does per-request work; samples of
    the other threads (ledger flushers, the control API, mitmproxy's resolver pool) are counted
    apart."""
    self_groups: collections.Counter[str] = collections.Counter()
    inclusive: collections.Counter[str] = collections.Counter()
    leaves: collections.Counter[str] = collections.Counter()
    total = loop = in_whoknows = 0
    for line in lines:
        stack, _, count_text = line.rpartition(" ")
        if not count_text.isdigit():
            continue
        count = int(count_text)
        frames = stack.split(";")
        total += count
        if "bench_proxy_launch.py" not in frames[0]:
            continue
        loop += count
        self_groups[_frame_group(frames[-1])] += count
        leaves[frames[-1]] += count
        ours = [f for f in frames if _frame_group(f) == "whoknows"]
        if ours:
            in_whoknows += count
            for frame in dict.fromkeys(ours):  # each function once per stack
                inclusive[frame] += count
    return {"total": total, "loop": loop, "self": self_groups, "in_whoknows": in_whoknows,
            "inclusive": inclusive, "leaves": leaves}


def print_live_profile(label: str, profile: dict) -> None:
    """Shares are of the event loop's samples: the other threads' samples are nearly all waits
    (`queue.get`, `Condition.wait`, `select`) that py-spy does not recognise as idle."""
    loop = profile["loop"] or 1
    load: Load = profile["load"]
    cpu_us = load.cpu_seconds / load.requests * 1e6 if load.requests else float("nan")
    share = profile["in_whoknows"] / loop
    print(f"\n  {label}: {profile['loop']} samples of the event loop at {load.rate:,.0f} req/s, "
          f"{cpu_us:,.0f} us of CPU per request (other threads: {profile['total'] - profile['loop']} "
          f"samples, nearly all waiting)")
    print(f"    inside whoknows hooks (inclusive): {share:6.1%}  ~{share * cpu_us:,.0f} us per request")
    groups = ", ".join(f"{group} {count / loop:.1%}" for group, count in profile["self"].most_common())
    print(f"    self time by code: {groups}")
    print("    whoknows functions by inclusive samples:")
    for frame, count in profile["inclusive"].most_common(10):
        print(f"      {count / loop:6.1%}  {_short_frame(frame)}")
    print("    hottest functions (self samples):")
    for frame, count in profile["leaves"].most_common(8):
        print(f"      {count / loop:6.1%}  {_short_frame(frame)}")


def _short_frame(frame: str) -> str:
    name, _, where = frame.partition(" (")
    where = where.rstrip(")")
    for marker in ("site-packages/", "/lib/python3.", "/main/"):
        if marker in where:
            where = where.split(marker, 1)[1].removeprefix("12/")
            break
    return f"{name}  {where}"


# --- the run ------------------------------------------------------------------------------------

def start_proxies(workdir: Path, wk_env: dict, before: tuple[Path, dict] | None = None
                  ) -> dict[str, tuple[subprocess.Popen, int]]:
    """The proxies by key; with `before` (a checkout and its home's environment), "before" too."""
    proxies = {}
    launcher = [sys.executable, str(LAUNCHER)]
    script = ["-s", str(WHOKNOWS_SCRIPT), "--set", "whoknows_control_port=-1"]
    for key, extra, env in (("plain", [], clean_env()), ("floor", ["-s", str(FLOOR)], clean_env()),
                            ("script", script, wk_env)):
        port = free_port()
        confdir = workdir / f"mitmproxy-{key}"
        argv = launcher + ["mitmdump", "-q", "--listen-host", "127.0.0.1", "--listen-port", str(port),
                           "--set", f"confdir={confdir}", "--set", "connection_strategy=lazy", *extra]
        proxies[key] = (spawn(argv, env=env, stderr=workdir / f"{key}.stderr"), port)
    port = free_port()
    proxies["whoknows"] = (spawn(launcher + ["whoknows", "--port", str(port)], env=wk_env,
                                 stdout=workdir / "whoknows.stdout",
                                 stderr=workdir / "whoknows.stderr"), port)
    if before is not None:
        tree, env = before
        port = free_port()
        proxies["before"] = (spawn([str(tree / ".venv" / "bin" / "python"), str(tree / "bench" / LAUNCHER.name),
                                    "whoknows", "--port", str(port)], env=env,
                                   stdout=workdir / "before.stdout", stderr=workdir / "before.stderr"), port)
    for key, (process, port) in proxies.items():
        wait_listening(port, process, f"the {key} proxy")
    return proxies


def make_cases(workdir: Path, origin: subprocess.Popen, origin_port: int, proxies: dict) -> list[Case]:
    allowed_url, allowed_headers = allowed_request(origin_port)
    blocked_url, blocked_headers = blocked_request(origin_port)
    host = f"{SITE}:{origin_port}"
    scripts = {
        "direct": wrk_script(ALLOWED_PATH, host, allowed_headers),
        "allowed": wrk_script(allowed_url, host, allowed_headers),
        "blocked": wrk_script(blocked_url, BLOCKED_HOST, blocked_headers),
    }
    for name, text in scripts.items():
        (workdir / f"{name}.lua").write_text(text)
    lua = {name: workdir / f"{name}.lua" for name in scripts}

    def at(key: str) -> tuple[int, int]:
        process, port = proxies[key]
        return port, process.pid

    return [
        Case("direct", "direct to nginx", origin_port, origin.pid, lua["direct"], 200, []),
        Case("plain", "plain mitmdump, (a) allowed", *at("plain"), lua["allowed"], 200, []),
        Case("wk_a", "whoknows, (a) allowed", *at("whoknows"), lua["allowed"], 200, []),
        Case("floor", "minimal blocker, (b) blocked", *at("floor"), lua["blocked"], 403, []),
        Case("wk_b", "whoknows, (b) blocked", *at("whoknows"), lua["blocked"], 403, []),
        Case("sc_a", "mitmdump -s whoknows.py, (a)", *at("script"), lua["allowed"], 200, []),
        Case("sc_b", "mitmdump -s whoknows.py, (b)", *at("script"), lua["blocked"], 403, []),
    ] + ([Case("bf_a", "whoknows before, (a) allowed", *at("before"), lua["allowed"], 200, []),
          Case("bf_b", "whoknows before, (b) blocked", *at("before"), lua["blocked"], 403, [])]
         if "before" in proxies else [])


def run_rounds(cases: list[Case], seconds: int, rounds: int) -> None:
    per_round = max(1, seconds // rounds)
    print(f"  warm-up: 1 s per case; then {rounds} round(s) x {per_round} s per case, interleaved")
    for case in cases:
        run_wrk(case.port, case.script, 1)
    for pid in {case.pid for case in cases if case.key != "direct"}:
        os.kill(pid, signal.SIGUSR1)  # the launcher counts GC collections from here on
    for number in range(1, rounds + 1):
        for case in cases:
            case.loads.append(run_wrk(case.port, case.script, per_round, case.pid))
        line = ", ".join(f"{c.key} {c.loads[-1].rate:,.0f}" for c in cases)
        print(f"  round {number}: req/s {line}")


def ratio_range(numerator: Case, denominator: Case) -> tuple[float, float, float]:
    """Median, lowest and highest over the rounds of numerator req/s / denominator req/s.

    Per round, and the median: a burst of load from elsewhere spoils a round or two, not the result."""
    per_round = [n.rate / d.rate for n, d in zip(numerator.loads, denominator.loads)]
    return statistics.median(per_round), min(per_round), max(per_round)


def cpu_ratio(ours: Case, base: Case) -> float:
    """Median over the rounds of base / ours CPU time per request (1: whoknows costs nothing more)."""
    return statistics.median((b.cpu_seconds / b.requests) / (o.cpu_seconds / o.requests)
                             for o, b in zip(ours.loads, base.loads) if o.requests and b.requests
                             and o.cpu_seconds)


def verdict(ok: bool) -> str:
    return "ok" if ok else "MISSED"


def print_table(cases: dict[str, Case], rss: dict[str, float], startup: tuple[float, float]) -> list[str]:
    print("\n  case                              req/s     p50 ms   p99 ms   server CPU us/req (cores)")
    for case in cases.values():
        print(f"  {case.label:<30} {case.rate:>9,.0f} {case.mean('p50_ms'):>9.2f} {case.mean('p99_ms'):>8.2f}"
              f"   {case.cpu_us_per_request:>10,.0f} ({case.cores:.2f})")
    a, a_low, a_high = ratio_range(cases["wk_a"], cases["plain"])
    b, b_low, b_high = ratio_range(cases["wk_b"], cases["floor"])
    floor_vs_plain = cases["floor"].rate / cases["plain"].rate
    ours_start, plain_start = startup
    checks = [
        ("(a) whoknows / plain mitmdump, allowed", f"{a:.3f} (rounds {a_low:.3f}-{a_high:.3f})",
         f">= {GOALS['allowed_ratio']}", a >= GOALS["allowed_ratio"]),
        ("(b) whoknows / minimal blocker, blocked", f"{b:.3f} (rounds {b_low:.3f}-{b_high:.3f})",
         f">= {GOALS['blocked_ratio']}", b >= GOALS["blocked_ratio"]),
        ("peak RSS of the whoknows proxy (VmHWM)",
         f"{rss['whoknows']:.0f} MB (plain mitmdump {rss['plain']:.0f} MB"
         + (f", before {rss['before']:.0f} MB)" if "before" in rss else ")"),
         f"<= {GOALS['rss_mb']:.0f} MB", rss["whoknows"] <= GOALS["rss_mb"]),
        ("start to listening, cached engine (median of 3)",
         f"{ours_start:.2f} s (plain mitmdump {plain_start:.2f} s)",
         f"<= {GOALS['startup_s']:.0f} s", ours_start <= GOALS["startup_s"]),
    ]
    if "bf_a" in cases:
        for label, ours, base in (("(a)", cases["wk_a"], cases["bf_a"]), ("(b)", cases["wk_b"], cases["bf_b"])):
            ratio, low, high = ratio_range(ours, base)
            checks.append((f"{label} whoknows / whoknows before", f"{ratio:.3f} (rounds {low:.3f}-{high:.3f})",
                           f">= {GOALS['before_ratio']}", ratio >= GOALS["before_ratio"]))
    print("\n  measure                                          value                           goal      ")
    for name, value, goal, ok in checks:
        print(f"  {name:<48} {value:<31} {goal:<9} {verdict(ok)}")
    # The same comparisons from each proxy's own CPU time per request: a proxy is bound by one
    # core, so this is the inverse throughput it would have alone on the machine.
    for label, ours, base in (("(a)", cases["wk_a"], cases["plain"]), ("(b)", cases["wk_b"], cases["floor"])):
        ratio = cpu_ratio(ours, base)
        added = ours.cpu_us_per_request - base.cpu_us_per_request
        print(f"  {label + ' the same, by CPU time per request':<48} {ratio:.3f} (whoknows adds {added:,.0f} us)")
    if "bf_a" in cases:
        for label, ours, base in (("(a)", cases["wk_a"], cases["bf_a"]), ("(b)", cases["wk_b"], cases["bf_b"])):
            added = ours.cpu_us_per_request - base.cpu_us_per_request
            print(f"  {label + ' whoknows / before, by CPU time per request':<48} {cpu_ratio(ours, base):.3f} "
                  f"(now {ours.cpu_us_per_request:,.0f} us, before {base.cpu_us_per_request:,.0f} us: {added:+,.0f})")
    sc_a, sc_b = ratio_range(cases["sc_a"], cases["plain"])[0], ratio_range(cases["sc_b"], cases["floor"])[0]
    print(f"  {'(a) mitmdump -s whoknows.py / plain mitmdump':<48} {sc_a:.3f} (CPU {cpu_ratio(cases['sc_a'], cases['plain']):.3f}: "
          "the addons alone, on mitmdump's base)")
    print(f"  {'(b) mitmdump -s whoknows.py / minimal blocker':<48} {sc_b:.3f} (CPU {cpu_ratio(cases['sc_b'], cases['floor']):.3f})")
    print(f"  (for reference: minimal blocker answering (b) / plain mitmdump forwarding (a) = "
          f"{floor_vs_plain:.2f}; direct / plain mitmdump = {cases['direct'].rate / cases['plain'].rate:.0f}x)")
    return [name for name, _, _, ok in checks if not ok]


def refused_names(path: Path) -> list[str]:
    from bench_proxy_launch import REFUSED_PREFIX

    text = path.read_text(errors="replace") if path.is_file() else ""
    return [line.removeprefix(REFUSED_PREFIX) for line in text.splitlines() if line.startswith(REFUSED_PREFIX)]


def gc_report(path: Path) -> dict | None:
    """What the proxy's garbage collector did during the timed runs (written by the launcher at exit)."""
    from bench_proxy_launch import GC_PREFIX

    text = path.read_text(errors="replace") if path.is_file() else ""
    lines = [line for line in text.splitlines() if line.startswith(GC_PREFIX)]
    return json.loads(lines[-1].removeprefix(GC_PREFIX)) if lines else None


def print_gc(cases: dict[str, Case], reports: dict[str, dict | None], rounds_only: bool) -> None:
    """Collections per generation during the timed runs, per proxy."""
    requests = {"plain": cases["plain"].total()[0], "floor": cases["floor"].total()[0],
                "whoknows": cases["wk_a"].total()[0] + cases["wk_b"].total()[0],
                "script": cases["sc_a"].total()[0] + cases["sc_b"].total()[0]}
    print("  garbage collector from the end of the warm-up to exit"
          + ("" if rounds_only else " (profiling runs included)") + ":")
    for key, report in reports.items():
        if report is None:
            print(f"    {key}: no report")
            continue
        young, middle, full = report["collections"]
        print(f"    {key:<9} {requests[key]:>7,} timed requests; collections gen0 {young:,}, gen1 {middle:,}, "
              f"full {full}; a full collection at exit took {report['full_collection_ms']:.1f} ms "
              f"({report['tracked_objects']:,} tracked objects, {report['frozen_objects']:,} frozen)")


def chain_profile(wk_env: dict, origin_port: int, workdir: Path, flows: int) -> None:
    argv = [sys.executable, str(CHAIN), "--origin-port", str(origin_port), "--flows", str(flows),
            "--confdir", str(workdir / "mitmproxy-chain")]
    done = subprocess.run(argv, env=wk_env, capture_output=True, text=True, timeout=300,
                          preexec_fn=_die_with_parent, cwd=ROOT)
    print("\n".join(l for l in done.stdout.rstrip().splitlines() if not l.startswith("CHAIN_JSON ")))
    if done.returncode != 0:
        print(f"  bench_proxy_chain.py failed ({done.returncode}): {done.stderr.strip()[-2000:]}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=int, default=10, help="seconds of load per case (default 10)")
    parser.add_argument("--rounds", type=int, default=5, help="rounds to split each case's time into (default 5)")
    parser.add_argument("--no-profile", action="store_true", help="skip the profiles")
    parser.add_argument("--flows", type=int, default=3000, help="flows per workload in the chain profile")
    parser.add_argument("--keep", action="store_true", help="keep the work directory (logs, profiles)")
    parser.add_argument("--before", type=Path, metavar="DIR",
                        help="a checkout from before a change, with its .venv: compared in the same run")
    args = parser.parse_args(argv)
    if args.before is not None:
        args.before = args.before.resolve()
        needed = [args.before / ".venv" / "bin" / "whoknows", args.before / "bench" / LAUNCHER.name]
        if not all(path.is_file() for path in needed):
            parser.error(f"--before {args.before}: needs a checkout with bench/{LAUNCHER.name} and a .venv "
                         f"(make -C {args.before} install)")
    if args.seconds < 1 or args.rounds < 1:
        parser.error("--seconds and --rounds must be at least 1")
    for tool in ("wrk", "nginx"):
        if shutil.which(tool) is None and not Path(f"/usr/sbin/{tool}").exists():
            print(f"bench_proxy: {tool} is missing: ./scripts/ensure-apt wrk nginx-light", file=sys.stderr)
            return 2
    missing = [str(p) for p in LISTS.values() if not p.is_file()]
    if missing:
        print(f"bench_proxy: missing filter lists: {', '.join(missing)}", file=sys.stderr)
        return 2
    rounds = min(args.rounds, args.seconds)
    # SIGTERM/SIGHUP end the run through `finally` like Ctrl-C, so the children are stopped.
    for sig in (signal.SIGTERM, signal.SIGHUP):
        signal.signal(sig, lambda *_: sys.exit(130))
    workdir = Path(tempfile.mkdtemp(prefix="bench_proxy."))
    try:
        return run(args, rounds, workdir)
    finally:
        stop_all()
        if args.keep:
            print(f"work directory kept: {workdir}")
        else:
            shutil.rmtree(workdir, ignore_errors=True)


def run(args, rounds: int, workdir: Path) -> int:
    print("bench_proxy: the whoknows proxy under load (loopback only; wrk -t1 -c10)")
    wk_env = prepare_home(workdir / "home")
    before = None
    if args.before is not None:
        before = (args.before, prepare_home(workdir / "home-before", args.before / ".venv" / "bin"))
    origin, origin_port = start_origin(workdir)
    proxies = start_proxies(workdir, wk_env, before)
    case_list = make_cases(workdir, origin, origin_port, proxies)
    cases = {case.key: case for case in case_list}
    run_rounds(case_list, args.seconds, rounds)

    problems = [p for p in (case.unexpected() for case in case_list) if p]
    live = {}
    if not args.no_profile:
        wk_pid, wk_port = proxies["whoknows"][0].pid, proxies["whoknows"][1]
        seconds = max(2, min(args.seconds, 5))
        for key in ("allowed", "blocked"):
            live[key] = profile_live(wk_pid, wk_port, workdir / f"{key}.lua", seconds,
                                     workdir / f"py-spy-{key}.txt")
    rss = {key: peak_rss_mb(proxies[key][0].pid) for key in ("whoknows", "plain", "floor", "before") if key in proxies}
    for key in proxies:
        stop(proxies[key][0])
    gc_reports = {key: gc_report(workdir / f"{key}.stderr") for key in ("plain", "floor", "whoknows", "script")}
    refused = {key: refused_names(workdir / f"{key}.stderr") for key in ("whoknows", "floor", "plain", "script")}
    startup = startup_times(wk_env, workdir / "mitmproxy-plain")

    missed = print_table(cases, rss, startup)
    # The blocked host must never even be looked up: the name is refused by the launcher's resolver.
    for key, names in refused.items():
        if BLOCKED_HOST in names:
            problems.append(f"the {key} proxy tried to resolve {BLOCKED_HOST} (an upstream connection)")
    print(f"  upstream look-ups of {BLOCKED_HOST} by the whoknows proxy: "
          f"{refused['whoknows'].count(BLOCKED_HOST)} (names it was refused: {refused['whoknows'] or 'none'})")
    print_gc(cases, gc_reports, args.no_profile)
    for problem in problems:
        print(f"  PROBLEM: {problem}")

    if not args.no_profile:
        print("\nwhere the per-request time goes")
        for key, label in (("allowed", "(a) allowed"), ("blocked", "(b) blocked")):
            if live.get(key):
                print_live_profile(label, live[key])
        if not any(live.values()):
            print("  (py-spy not installed: no live profile; `.venv/bin/pip install py-spy` adds one)")
        chain_profile(wk_env, origin_port, workdir, args.flows)
    if missed:
        print(f"\ngoals missed: {'; '.join(missed)}")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
