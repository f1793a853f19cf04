"""What learning trackers adds to each flush of the proxy's observations, in a year-sized ledger.

`learned_trackers.relearn` runs after every flush of the observations and leaks writers (never per
request). It reads the aggregates of the third parties a batch touched: third-party cookie observations,
shared identifiers and leaks. This bench fills a ledger as a year of browsing would (default: 1,000 sites, each with 40
third-party cookies from 3,000 third parties, 2,000 shared identifiers, 5,000 leaks), then times,
in the same run, one flush of a typical batch of observations (200 rows, the baseline), the
relearn the flush runs after it (only the third parties of its batch, through an index), and a
relearn of every third party (`whoknows trackers`). The ratio is what to compare across machines.

Run: .venv/bin/python bench/bench_learned_trackers.py [--sites N] [--rounds R]
(in a ledger of its own, in a temporary directory: never yours).
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from whoknows import learned_trackers  # noqa: E402
from whoknows.ledger import open_ledger, vendor_ids  # noqa: E402
from whoknows.observations import CookieSeen, Flusher, Observations, write_batch  # noqa: E402

MOMENT = "2026-06-01T12:00:00Z"


def fill(ledger, sites: int, per_site: int, third_parties: int, rng: random.Random) -> None:
    names = [f"site{i}.example" for i in range(sites)]
    others = [f"third{i}.example" for i in range(third_parties)]
    with ledger.write() as db:
        ids = vendor_ids(db, names + others, MOMENT)
        db.executemany(
            "INSERT OR IGNORE INTO observations (vendor_id, kind, subject, detail, count, first_seen, last_seen) "
            "VALUES (?, 'cookie', ?, ?, 1, ?, ?)",
            ((ids[site], f"uid@{other}", json.dumps({"name": "uid", "site": other, "third_party": True}),
              MOMENT, MOMENT)
             for site in names for other in rng.sample(others, per_site)))
        db.executemany(
            "INSERT OR IGNORE INTO shared_identifiers (vendor_id, cookie_name, recipient_site, recipient_host, action, "
            "count, first_seen, last_seen) VALUES (?, '_vid', ?, ?, 'strip', 1, ?, ?)",
            ((ids[rng.choice(names)], other, f"t.{other}", MOMENT, MOMENT)
             for other in (rng.choice(others) for _ in range(2000))))
        db.executemany(
            "INSERT OR IGNORE INTO leaks (vendor_id, recipient_id, recipient_host, kind, value_ref, encoding, form, "
            "location, method, url, blocked, count, first_seen, last_seen) "
            "VALUES (?, ?, ?, 'email', 'a***@x [me:1]', 'sha256', 'normalised', 'url', 'GET', 'https://x/', 0, 1, ?, ?)",
            ((ids[rng.choice(names)], ids[other], f"px.{other}", MOMENT, MOMENT)
             for other in (rng.choice(others) for _ in range(5000))))


def batch(rng: random.Random, sites: int, third_parties: int):
    observations = Observations()
    for _ in range(200):
        observations.cookie(f"site{rng.randrange(sites)}.example",
                            CookieSeen("uid", f"third{rng.randrange(third_parties)}.example", True, 3600, None,
                                       True, False, "block"))
    return observations.take()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--sites", type=int, default=1000)
    parser.add_argument("--per-site", type=int, default=40)
    parser.add_argument("--third-parties", type=int, default=3000)
    parser.add_argument("--rounds", type=int, default=7)
    args = parser.parse_args()
    os.environ["WHOKNOWS_HOME"] = tempfile.mkdtemp(prefix="whoknows-bench-learned-")
    rng = random.Random(13)
    flushes, relearns, whole = [], [], []
    flusher = Flusher(Observations(), open_ledger)
    with open_ledger() as ledger:
        fill(ledger, args.sites, args.per_site, args.third_parties, rng)
        learned = learned_trackers.relearn(ledger)  # the first relearn writes every one: not a flush's cost
        for _ in range(args.rounds):
            pending = batch(rng, args.sites, args.third_parties)
            start = time.perf_counter()
            write_batch(ledger, pending)
            flushes.append(time.perf_counter() - start)
            start = time.perf_counter()
            flusher.after_write(ledger, pending)  # what the flush does next: the batch's third parties
            relearns.append(time.perf_counter() - start)
            start = time.perf_counter()
            learned_trackers.relearn(ledger)  # every third party (what `whoknows trackers` does)
            whole.append(time.perf_counter() - start)
        rows = ledger.query("SELECT count(*) FROM observations")[0][0]
    shutil.rmtree(os.environ["WHOKNOWS_HOME"], ignore_errors=True)
    f, r, w = statistics.median(flushes), statistics.median(relearns), statistics.median(whole)
    print(f"ledger: {rows} observation rows, {len(learned)} learned trackers")
    print(f"flush of 200 observations (baseline): {f * 1e3:.1f} ms")
    print(f"relearn after it (its third parties): {r * 1e3:.1f} ms")
    print(f"relearn of every third party:         {w * 1e3:.1f} ms")
    print(f"ratio relearn after a flush / flush: {r / f:.2f}")


if __name__ == "__main__":
    main()
