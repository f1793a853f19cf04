"""An 800 MB download through `whoknows proxy`, against plain mitmdump streaming it and direct.

    .venv/bin/python bench/bench_download.py [--size-mb 800] [--rounds 3] [--threshold 1m]

Everything on loopback, bounded, every process started here stopped before exit (bench_proxy's
helpers: `spawn`, `stop_all`, `start_origin`, `bench_proxy_launch.py`'s network sealing). Needs
`nginx` (`./scripts/ensure-apt nginx-light`; `make bench` does it).

Parts:
- origin: nginx serving one file of `--size-mb` MB (a random megabyte repeated) with sendfile;
- cases: direct to nginx; plain `mitmdump -q --set stream_large_bodies=1m` (streaming the same
  file: the baseline a streaming mitmproxy sets); `whoknows proxy` (`proxy_addons.runner`, its
  defaults, in a fresh `$WHOKNOWS_HOME`: the built-in tracker list, no subscribed lists);
- client: one plain-HTTP GET per download (absolute form through a proxy), read with 1 MB
  `recv_into` and thrown away; time to first body byte and to the end;
- memory: each proxy's resident memory (VmRSS) sampled every 10 ms during its downloads; "peak
  above idle" is the highest sample against its idle RSS after start-up and one small warm-up
  request, before any large download (so what the first download leaves behind counts too);
- rounds: the cases interleaved round by round (load from elsewhere on this shared machine falls on
  all alike); times are medians of the rounds; the throughput ratio is the median of the rounds'.

Goals (issue 10): whoknows's time to first byte within 50 ms of the origin's (direct), its peak RSS
at most 30 MB above idle, its throughput at least 0.8x plain mitmdump's.
"""

from __future__ import annotations

import argparse
import os
import socket
import statistics
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from dataclasses import field
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_proxy import LAUNCHER  # noqa: E402
from bench_proxy import clean_env  # noqa: E402
from bench_proxy import free_port  # noqa: E402
from bench_proxy import spawn  # noqa: E402
from bench_proxy import start_origin  # noqa: E402
from bench_proxy import stop_all  # noqa: E402
from bench_proxy import verdict  # noqa: E402
from bench_proxy import wait_listening  # noqa: E402

GOALS = {"ttfb_ms_over_origin": 50.0, "rss_mb_over_idle": 30.0, "throughput_ratio": 0.8}
SITE = "files.test"  # resolved to 127.0.0.1 inside the proxies (bench_proxy_launch.py)
FILE = "/big.bin"
SMALL_FILE, SMALL_SIZE = "/small.bin", 4096  # the warm-up
MB = 1 << 20
TIMEOUT = 120.0

ORIGIN_CONF = """\
daemon off;
master_process off;
pid {prefix}/nginx.pid;
error_log {prefix}/error.log warn;
events {{ worker_connections 64; }}
http {{
    access_log off;
    sendfile on;
    client_body_temp_path {prefix}/body;
    proxy_temp_path {prefix}/proxy;
    fastcgi_temp_path {prefix}/fastcgi;
    uwsgi_temp_path {prefix}/uwsgi;
    scgi_temp_path {prefix}/scgi;
    server {{
        listen 127.0.0.1:{port};
        server_name _;
        root {prefix}/files;
        default_type application/octet-stream;
    }}
}}
"""


@dataclass
class Download:
    ttfb_s: float  # request sent -> first body byte
    total_s: float  # request sent -> last byte
    size: int


@dataclass
class Case:
    label: str
    port: int  # where the client connects
    proxied: bool
    pid: int | None = None  # the proxy process (memory)
    downloads: list[Download] = field(default_factory=list)
    idle_rss_mb: float = 0.0
    peak_rss_mb: float = 0.0

    def median(self, attribute: str) -> float:
        return statistics.median(getattr(d, attribute) for d in self.downloads)

    def throughputs(self) -> list[float]:
        return [d.size / MB / d.total_s for d in self.downloads]


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


class RssSampler:
    """The highest VmRSS of `pid` seen every `interval` seconds while in the `with` block."""

    def __init__(self, pid: int, interval: float = 0.01) -> None:
        self.pid, self.interval, self.peak = pid, interval, 0.0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.is_set():
            self.peak = max(self.peak, rss_mb(self.pid))
            self._stop.wait(self.interval)

    def __enter__(self) -> "RssSampler":
        self._thread.start()
        return self

    def __exit__(self, *exc_info) -> None:
        self._stop.set()
        self._thread.join()
        self.peak = max(self.peak, rss_mb(self.pid))


def download(port: int, origin_port: int, proxied: bool, expected: int, path: str = FILE) -> Download:
    target = f"http://{SITE}:{origin_port}{path}" if proxied else path
    request = f"GET {target} HTTP/1.1\r\nhost: {SITE}:{origin_port}\r\nconnection: close\r\n\r\n".encode()
    buffer = bytearray(MB)
    view = memoryview(buffer)
    with socket.create_connection(("127.0.0.1", port), timeout=TIMEOUT) as sock:
        started = time.perf_counter()
        sock.sendall(request)
        head = b""
        while b"\r\n\r\n" not in head:
            chunk = sock.recv(65536)
            if not chunk:
                raise SystemExit(f"bench_download: the connection closed before the head: {head[:300]!r}")
            head += chunk
        head, _, body_start = head.partition(b"\r\n\r\n")
        if not head.startswith(b"HTTP/1.1 200"):
            raise SystemExit(f"bench_download: {head[:300]!r}")
        size = len(body_start)
        while size == 0:
            size = sock.recv_into(view)
            if size == 0:
                raise SystemExit("bench_download: no body")
        first = time.perf_counter()
        while (count := sock.recv_into(view)) > 0:
            size += count
        done = time.perf_counter()
    if size != expected:
        raise SystemExit(f"bench_download: got {size} bytes of {expected} through port {port}")
    return Download(first - started, done - started, size)


def make_file(root: Path, size_mb: int) -> int:
    root.mkdir(parents=True, exist_ok=True)
    block = os.urandom(MB)
    with open(root / FILE.lstrip("/"), "wb") as out:
        for _ in range(size_mb):
            out.write(block)
    (root / SMALL_FILE.lstrip("/")).write_bytes(block[:SMALL_SIZE])
    return size_mb * MB


def start_proxies(workdir: Path, threshold: str) -> dict[str, tuple[int, int]]:
    """label -> (port, pid)."""
    launcher = [sys.executable, str(LAUNCHER)]
    started = {}
    port = free_port()
    process = spawn(launcher + ["mitmdump", "-q", "--listen-host", "127.0.0.1", "--listen-port", str(port),
                                "--set", f"confdir={workdir / 'mitmproxy-plain'}",
                                "--set", "connection_strategy=lazy",
                                "--set", f"stream_large_bodies={threshold}"],
                    env=clean_env(), stderr=workdir / "plain.stderr")
    started["plain mitmdump"] = (port, process)
    home = workdir / "home"
    home.mkdir(mode=0o700)
    port = free_port()
    process = spawn(launcher + ["whoknows", "--port", str(port)],
                    env=clean_env(WHOKNOWS_HOME=str(home), PYTHONUNBUFFERED="1"),
                    stdout=workdir / "whoknows.stdout", stderr=workdir / "whoknows.stderr")
    started["whoknows proxy"] = (port, process)
    for label, (port, process) in started.items():
        wait_listening(port, process, label)
    return {label: (port, process.pid) for label, (port, process) in started.items()}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size-mb", type=int, default=800)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--threshold", default="1m", help="plain mitmdump's stream_large_bodies")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="bench-download-") as tmp:
        workdir = Path(tmp)
        try:
            return run(args, workdir)
        finally:
            stop_all()


def run(args, workdir: Path) -> int:
    size = make_file(workdir / "nginx" / "files", args.size_mb)
    origin, origin_port = start_origin(workdir, ORIGIN_CONF)
    proxies = start_proxies(workdir, args.threshold)
    cases = [Case("direct", origin_port, proxied=False)]
    cases += [Case(label, port, proxied=True, pid=pid) for label, (port, pid) in proxies.items()]
    print(f"bench_download: {args.size_mb} MB from nginx on loopback, {args.rounds} rounds, "
          f"cases interleaved; machine load during the run makes these numbers noisy")
    for case in cases:  # warm-up: the first request's imports and caches
        download(case.port, origin_port, case.proxied, SMALL_SIZE, SMALL_FILE)
        if case.pid is not None:
            time.sleep(0.5)
            case.idle_rss_mb = rss_mb(case.pid)
    for _ in range(args.rounds):
        for case in cases:
            if case.pid is None:
                case.downloads.append(download(case.port, origin_port, False, size))
                continue
            with RssSampler(case.pid) as sampler:
                case.downloads.append(download(case.port, origin_port, True, size))
            case.peak_rss_mb = max(case.peak_rss_mb, sampler.peak)
    return report(cases)


def report(cases: list[Case]) -> int:
    direct, plain, whoknows = cases
    print(f"\n{'case':<16} {'TTFB ms':>9} {'total s':>8} {'MB/s':>8} {'idle RSS':>9} {'peak above idle':>16}")
    for case in cases:
        memory = ""
        if case.pid is not None:
            memory = f"{case.idle_rss_mb:7.1f} MB {case.peak_rss_mb - case.idle_rss_mb:13.1f} MB"
        print(f"{case.label:<16} {case.median('ttfb_s') * 1000:9.1f} {case.median('total_s'):8.2f} "
              f"{statistics.median(case.throughputs()):8.1f} {memory}")
    ttfb_over = (whoknows.median("ttfb_s") - direct.median("ttfb_s")) * 1000
    rss_over = whoknows.peak_rss_mb - whoknows.idle_rss_mb
    ratios = [w / p for w, p in zip(whoknows.throughputs(), plain.throughputs())]
    ratio = statistics.median(ratios)
    plain_ttfb_over = (plain.median("ttfb_s") - direct.median("ttfb_s")) * 1000
    checks = [
        (f"whoknows TTFB over the origin's: {ttfb_over:6.1f} ms (plain mitmdump: {plain_ttfb_over:.1f} ms)",
         ttfb_over <= GOALS["ttfb_ms_over_origin"], f"<= {GOALS['ttfb_ms_over_origin']:g} ms"),
        (f"whoknows peak RSS above idle: {rss_over:6.1f} MB", rss_over <= GOALS["rss_mb_over_idle"],
         f"<= {GOALS['rss_mb_over_idle']:g} MB"),
        (f"whoknows throughput / plain mitmdump: {ratio:5.2f}x (rounds {min(ratios):.2f}-{max(ratios):.2f})",
         ratio >= GOALS["throughput_ratio"], f">= {GOALS['throughput_ratio']:g}x"),
    ]
    print()
    for text, ok, goal in checks:
        print(f"  {text:<78} goal {goal:<10} {verdict(ok)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
