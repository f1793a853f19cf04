"""Ledger at scale: `whoknows vendor list` and `whoknows knows phone` on 10,000 vendors, 1,000,000 observations.

Builds a throwaway ledger (bulk insert, outside the timing), then times the real commands as
subprocesses (median of several runs) and the in-process queries behind them, against baselines
measured in the same run: a Python interpreter doing nothing, and the sqlite3 shell counting the
observations. Goal: each command <= 200 ms.

    .venv/bin/python bench/bench_ledger.py [--vendors N] [--observations N] [--runs N]
"""

import argparse
import os
import resource
import shutil
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from whoknows.disclosures import knows  # noqa: E402
from whoknows.ledger import open_ledger  # noqa: E402
from whoknows.vendor_records import list_vendors, vendor_record  # noqa: E402

WHOKNOWS = Path(sys.executable).with_name("whoknows")
GOAL_MS = 200.0
GOAL_COMMANDS = ("whoknows vendor list", "whoknows knows")  # `vendor show` is shown for information
STAMP = "2026-01-01T00:00:00Z"


def build(path: Path, vendors: int, observations: int) -> dict[str, int]:
    """A realistic-shaped ledger: every vendor has an alias; some know the phone; many trackers."""
    open_ledger(path).close()  # the real schema, indexes and triggers
    db = sqlite3.connect(path, isolation_level=None)
    db.execute("PRAGMA synchronous = OFF")
    db.execute("BEGIN")
    db.executemany("INSERT INTO vendors (id, domain, created_at) VALUES (?, ?, ?)",
                   ((i, f"vendor{i:05}.example", STAMP) for i in range(1, vendors + 1)))
    db.executemany("INSERT INTO aliases (vendor_id, address, created_at, state) VALUES (?, ?, ?, 'active')",
                   ((i, f"me+vendor{i:05}.example.abcdefghi@mail.example", STAMP) for i in range(1, vendors + 1)))
    disclosures = []
    for i in range(1, vendors + 1):
        disclosures.append((i, "alias", f"me+vendor{i:05}.example.abcdefghi@mail.example"))
        if i % 3 == 0:
            disclosures.append((i, "email", "ana@example.com"))
        if i % 20 == 0:  # 5% of vendors know the phone: 500 of 10,000
            disclosures.append((i, "phone", "+34 600 111 222" if i % 40 else "0034600111222"))
        if i % 10 == 0:
            disclosures.append((i, "address", "Calle Mayor 1, Madrid"))
    db.executemany("INSERT INTO disclosures (vendor_id, kind, value, source, first_seen, last_seen) "
                   f"VALUES (?, ?, ?, 'told', '{STAMP}', '{STAMP}')", disclosures)
    per_vendor = max(1, observations // vendors)
    kinds = ["third-party"] * 5 + ["cookie"] * 4 + ["parameter"]

    def rows():
        for n in range(observations):
            vendor = n // per_vendor % vendors + 1
            k = n % per_vendor
            yield (vendor, kinds[k % 10], f"subject{k:04}.example", '{"blocked":1}', k + 1)

    db.executemany("INSERT INTO observations (vendor_id, kind, subject, detail, count, first_seen, last_seen) "
                   f"VALUES (?, ?, ?, ?, ?, '{STAMP}', '{STAMP}')", rows())
    db.execute("COMMIT")
    db.execute("ANALYZE")
    counts = {table: db.execute(f"SELECT count(*) FROM {table}").fetchone()[0]
              for table in ("vendors", "aliases", "disclosures", "observations")}
    db.close()
    return counts


def time_process(argv: list[str], env: dict, runs: int) -> tuple[float, float, int]:
    """Median wall time and median CPU time (user + system) of `argv` in ms over `runs` runs after
    one warm-up, and its output size. CPU time shows the command's own cost on a busy machine."""
    subprocess.run(argv, env=env, capture_output=True, check=True)
    walls, cpus, size = [], [], 0
    for _ in range(runs):
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        start = time.perf_counter()
        done = subprocess.run(argv, env=env, capture_output=True, check=True)
        walls.append((time.perf_counter() - start) * 1000)
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        cpus.append((after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime) * 1000)
        size = len(done.stdout)
    return statistics.median(walls), statistics.median(cpus), size


def time_call(function, runs: int) -> float:
    function()
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        function()
        times.append((time.perf_counter() - start) * 1000)
    return statistics.median(times)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--vendors", type=int, default=10_000)
    parser.add_argument("--observations", type=int, default=1_000_000)
    parser.add_argument("--runs", type=int, default=7)
    args = parser.parse_args()

    home = Path(tempfile.mkdtemp(prefix="whoknows-bench-ledger-"))
    try:
        path = home / "ledger.db"
        start = time.perf_counter()
        counts = build(path, args.vendors, args.observations)
        print(f"built {', '.join(f'{n:,} {t}' for t, n in counts.items())} "
              f"in {time.perf_counter() - start:.1f} s ({path.stat().st_size / 1e6:.0f} MB)\n", flush=True)
        env = {**os.environ, "WHOKNOWS_HOME": str(home), "COLUMNS": "120"}
        results = []
        python, python_cpu, _ = time_process([sys.executable, "-c", "pass"], env, args.runs)
        results.append(("baseline: python -c pass", python, python_cpu, None))
        if shutil.which("sqlite3"):
            count, count_cpu, _ = time_process(["sqlite3", str(path), "SELECT count(*) FROM observations"],
                                               env, args.runs)
            results.append(("baseline: sqlite3 count(*) observations", count, count_cpu, None))
        for argv in (["vendor", "list"], ["vendor", "list", "--json"], ["knows", "phone"],
                     ["knows", "phone", "--json"], ["knows", "phone", "+34600111222"],
                     ["vendor", "show", "vendor00040.example"]):
            ms, cpu, size = time_process([str(WHOKNOWS), *argv], env, args.runs)
            results.append((f"whoknows {' '.join(argv)}", ms, cpu, size))
        with open_ledger(path) as ledger:
            results.append(("in-process: list_vendors(limit=50)",
                            time_call(lambda: list_vendors(ledger, limit=50), args.runs), None, None))
            results.append(("in-process: vendor_record(one vendor)",
                            time_call(lambda: vendor_record(ledger, "vendor00040.example", top=10), args.runs), None, None))
            results.append(("in-process: list_vendors(all)",
                            time_call(lambda: list_vendors(ledger), args.runs), None, None))
            results.append(("in-process: knows(phone)",
                            time_call(lambda: knows(ledger, "phone"), args.runs), None, None))
            results.append(("in-process: knows(phone, value)",
                            time_call(lambda: knows(ledger, "phone", "+34600111222"), args.runs), None, None))
    finally:
        shutil.rmtree(home, ignore_errors=True)

    failed = False
    print(f"{'what':44} {'wall ms':>8} {'x python':>9} {'cpu ms':>7} {'output':>9}  goal (wall)")
    for name, ms, cpu, size in results:
        goal = ""
        if name.startswith(GOAL_COMMANDS):
            goal = "ok" if ms <= GOAL_MS else f"OVER {GOAL_MS:.0f} ms"
            failed |= ms > GOAL_MS
        shown_cpu = f"{cpu:.0f}" if cpu is not None else ""
        shown_size = f"{size / 1024:.0f} KiB" if size is not None else ""
        print(f"{name:44} {ms:8.1f} {ms / python:9.1f} {shown_cpu:>7} {shown_size:>9}  {goal}")
    load = os.getloadavg()[0]
    print(f"\n({args.runs} runs each, medians; {os.cpu_count()} CPUs, load average {load:.1f} at the end)")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
