"""`whoknows report` over a year of aggregates, against `whoknows companies` in the same run.

    .venv/bin/python bench/bench_report.py [--rounds N] [--sites N] [--companies N]

The ledger is bench_companies.py's (1,000 sites x 500 companies over a year, built the same way).
The report needs what `companies` needs (`list_companies`) plus one more pass over the daily rows
(`site_company_links`: a row per site and company), the layout of the graph and the HTML. Timed
(median of N rounds, warm):
- baseline: `company_view.list_companies` (what `whoknows companies` prints);
- `company_view.site_company_links` (the graph's edges) and `identifiers_by_company` (what they hold);
- `company_picture.picture` (both, the site table and the layout: what GET /api/v1/companies sends);
- `report.render` of that picture (the HTML page alone), and the page's size.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
from datetime import datetime, timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from bench_companies import build, timed  # noqa: E402  (the same ledger, the same timer)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=9)
    parser.add_argument("--sites", type=int, default=1000)
    parser.add_argument("--companies", type=int, default=500)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as home:
        os.environ["WHOKNOWS_HOME"] = home
        from whoknows import company_picture, company_view, report
        from whoknows.ledger import open_ledger

        with open_ledger() as ledger:
            counts = build(ledger, args.sites, args.companies)
            ledger.db.execute("ANALYZE")
            print(f"{args.sites:,} sites x {counts['companies']:,} companies over a year: "
                  f"{counts['sightings']:,} daily aggregate rows\n")
            drawn = company_picture.picture(ledger)
            now = datetime.now(timezone.utc)
            samples = {
                "list_companies (whoknows companies)": timed(lambda: company_view.list_companies(ledger), args.rounds),
                "site_company_links (the edges)": timed(lambda: company_view.site_company_links(ledger), args.rounds),
                "identifiers_by_company (what they hold)": timed(
                    lambda: company_view.identifiers_by_company(ledger), args.rounds),
                "picture (GET /api/v1/companies)": timed(lambda: company_picture.picture(ledger), args.rounds),
                "render (the HTML page)": timed(lambda: report.render(drawn, now), args.rounds),
            }
    median = {label: statistics.median(values) * 1e3 for label, values in samples.items()}
    base = median["list_companies (whoknows companies)"]
    print(f"{'median of ' + str(args.rounds) + ' rounds':42}{'ms':>9}{'x companies':>13}")
    for label, value in median.items():
        print(f"{label:42}{value:>9.1f}{value / base:>12.2f}x")
    page = report.render(drawn, now)
    graph = drawn["graph"]
    print(f"\nthe page: {len(page.encode()) / 1024:.0f} KiB; {len(graph['nodes'])} nodes and {len(graph['edges'])} edges "
          f"drawn, {graph['left_out']['companies']} companies and {graph['left_out']['sites']} sites only in the tables")
    return 0


if __name__ == "__main__":
    sys.exit(main())
