"""`whoknows companies` over a year of aggregates, against plain scans of the same table, in the same run.

    .venv/bin/python bench/bench_companies.py [--rounds N] [--sites N] [--companies N]

The ledger (a temporary file) holds a year of browsing over 1,000 sites and 500 companies (real
ones from the shipped tracker data), as the proxy's writer would have left it
(`whoknows.company_sightings`: a row per site, company, tracker domain and day):
- site r (by popularity) is visited on about 365 / r^0.8 days of the year: the first daily, the
  hundredth every three weeks, most of the thousand once or twice;
- each site embeds 20-40 companies drawn by popularity (company k with weight 1 / k: Google-like
  companies are on most sites), each through one or two of its domains, blocked on some days and
  reached on others; each (site, company) holds one to three cookie names, a few page URLs, and
  one in ten a value of yours.
Timed (median of N rounds, each on a warm page cache):
- `company_view.list_companies(ledger)`: what `whoknows companies` prints (goal <= 200 ms);
- baseline 1: `SELECT count(*) FROM company_sightings` (the floor: one pass over the table);
- baseline 2: `SELECT company, count(DISTINCT vendor_id), sum(blocked), sum(reached) ... GROUP BY
  company` (the aggregate alone, no names, categories or identifiers);
and once, `whoknows companies --json` as a process (Python start-up included).
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

GOAL_MS = 200.0


def build(ledger, sites: int, companies: int, seed: int = 12) -> dict[str, int]:
    """Fill `ledger` with a year of aggregates (see the module docstring); returns row counts."""
    from whoknows import tracker_companies

    rng = random.Random(seed)
    data = tracker_companies._data()
    domains_of: dict[str, list[str]] = {}
    for domain, packed in data.domains.items():
        domains_of.setdefault(data.rows[packed // tracker_companies.CATEGORY_SLOTS][0], []).append(domain)
    chosen = sorted(domains_of, key=lambda cid: (-len(domains_of[cid]), cid))[:companies]
    weights = [1 / (rank + 1) for rank in range(len(chosen))]
    days = [time.strftime("%Y-%m-%d", time.gmtime(1_767_225_600 + 86400 * d)) for d in range(365)]  # 2026
    sightings, identifiers = [], []
    with ledger.write() as db:
        db.executemany("INSERT INTO vendors (domain, created_at) VALUES (?, '2026-01-01T00:00:00Z')",
                       [(f"site{n:04}.example",) for n in range(sites)])
        ids = dict(db.execute("SELECT domain, id FROM vendors"))
        for rank in range(sites):
            vendor_id = ids[f"site{rank:04}.example"]
            visits = sorted(rng.sample(days, max(1, min(365, round(365 / (rank + 1) ** 0.8)))))
            present = set()
            while len(present) < rng.randint(20, 40):
                present.add(rng.choices(chosen, weights)[0])
            for company in present:
                its = domains_of[company]
                used = rng.sample(its, min(len(its), rng.choice((1, 1, 2))))
                for domain in used:
                    for day in visits:
                        blocked = rng.randint(0, 6)
                        sightings.append((vendor_id, company, domain, day, blocked, rng.randint(0, 3)))
                domain = used[0]
                first, last = visits[0], visits[-1]
                for n in range(rng.randint(1, 3)):
                    identifiers.append((vendor_id, company, domain, "cookie", f"_c{n}_{company[:6]}", "", len(visits),
                                        first, last))
                for n in range(rng.randint(1, 4)):
                    identifiers.append((vendor_id, company, domain, "page", f"https://site{rank:04}.example/p{n}",
                                        "referer", 1, first, last))
                if rng.random() < 0.1:
                    identifiers.append((vendor_id, company, domain, "value", "a•••@example.org [me:3f9a0c1d]",
                                        "email sha256", 1, first, last))
        db.executemany("INSERT INTO company_sightings (vendor_id, company, domain, day, blocked, reached) "
                       "VALUES (?, ?, ?, ?, ?, ?)", sightings)
        db.executemany("INSERT INTO company_identifiers (vendor_id, company, domain, kind, name, qualifier, count, "
                       "first_day, last_day) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)", identifiers)
    return {"sightings": len(sightings), "identifiers": len(identifiers),
            "companies": len({row[1] for row in sightings})}


def timed(call, rounds: int) -> list[float]:
    call()  # warm: the page cache, the tracker data, SQLite's statement cache
    samples = []
    for _ in range(rounds):
        start = time.perf_counter()
        call()
        samples.append(time.perf_counter() - start)
    return samples


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=15)
    parser.add_argument("--sites", type=int, default=1000)
    parser.add_argument("--companies", type=int, default=500)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as home:
        os.environ["WHOKNOWS_HOME"] = home
        from whoknows import company_view
        from whoknows.ledger import open_ledger

        with open_ledger() as ledger:
            start = time.perf_counter()
            counts = build(ledger, args.sites, args.companies)
            built_s = time.perf_counter() - start
            ledger.db.execute("ANALYZE")
            size_mb = sum(f.stat().st_size for f in Path(home).glob("ledger.db*")) / 2**20
            print(f"{args.sites:,} sites x {counts['companies']:,} companies over a year: "
                  f"{counts['sightings']:,} daily aggregate rows, {counts['identifiers']:,} identifier rows; "
                  f"ledger {size_mb:.1f} MB (built in {built_s:.1f} s)\n")

            rows = company_view.list_companies(ledger)
            ours = timed(lambda: company_view.list_companies(ledger), args.rounds)
            count = timed(lambda: ledger.query("SELECT count(*) FROM company_sightings"), args.rounds)
            grouped = timed(lambda: ledger.query(
                "SELECT company, count(DISTINCT vendor_id), sum(blocked), sum(reached), min(day), max(day) "
                "FROM company_sightings GROUP BY company"), args.rounds)
        env = {**os.environ, "WHOKNOWS_HOME": home}
        start = time.perf_counter()
        process = subprocess.run([sys.executable, "-c", "from cli.main import main; main()", "companies", "--json"],
                                 cwd=ROOT, env=env, capture_output=True, text=True)
        process_s = time.perf_counter() - start

    median = {name: statistics.median(samples) * 1e3 for name, samples in
              (("ours", ours), ("count", count), ("grouped", grouped))}
    print(f"{'median of ' + str(args.rounds) + ' rounds (ms)':34}{'ms':>9}{'x count(*)':>12}{'x GROUP BY':>12}")
    for label, key in (("list_companies (whoknows companies)", "ours"), ("SELECT count(*)", "count"),
                       ("GROUP BY company (bare)", "grouped")):
        print(f"{label:34}{median[key]:>9.1f}{median[key] / median['count']:>11.2f}x"
              f"{median[key] / median['grouped']:>11.2f}x")
    met = median["ours"] <= GOAL_MS
    print(f"\ngoal: whoknows companies <= {GOAL_MS:.0f} ms: {'met' if met else 'MISSED'} "
          f"({median['ours']:.1f} ms, {len(rows)} companies listed; min {min(ours) * 1e3:.1f}, "
          f"max {max(ours) * 1e3:.1f})")
    if process.returncode == 0:
        print(f"`whoknows companies --json` as a process (Python start-up and imports included): "
              f"{process_s * 1e3:.0f} ms")
    else:
        print(f"`whoknows companies --json` failed: {process.stderr.strip()[-200:]}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
