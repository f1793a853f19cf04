#!/usr/bin/env python3
"""Report companies in the shipped tracker data that are probably one company, and badly formed names.

whoknows promises one company under one name everywhere (`companies`, `company show`, `who`,
`vendor show`, the popup, letters). The tracker data (`whoknows/data/tracker-companies.json.gz`,
built by `scripts/build_tracker_companies.py`) merges four sources, and a company the sources
spell differently can end up twice. This reads the shipped file only and lists:

- `same_contact`: companies sharing one privacy email (the directory matched them to one record);
- `same_website`: companies whose websites have one registrable domain;
- `same_name`: companies whose names are equal once normalised ("Reddit" and "reddit, Inc.");
- `site_of_another`: tracker domains whose registrable domain is a first-party site of another
  company (`redditstatic.com` is fine, `ads.reddit.com` filed under someone else is not);
- `lowercase_names`: names written all in lowercase ("reddit"), which read as a domain, not a name.

Each finding is a group of company ids (or a domain and two ids); `findings` is what the test
`tests/scripts/test_tracker_company_names.py` asserts on.

Run: `.venv/bin/python scripts/check_tracker_companies.py [--data FILE] [--json] [--limit N]`
"""

from __future__ import annotations

import argparse
import gzip
import json
import sys
from collections import defaultdict
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from whoknows.sites import site_of  # noqa: E402
from whoknows.tracker_companies import DATA_FILE, normalised_name  # noqa: E402

KINDS = ("same_contact", "same_website", "same_name", "site_of_another", "lowercase_names")


def _site(url_or_domain: str | None) -> str | None:
    if not url_or_domain:
        return None
    host = url_or_domain.split("://", 1)[-1].split("/", 1)[0]
    return site_of(host) if host else None


def _groups(keys: dict[str, list[str]]) -> list[list[str]]:
    return sorted(sorted(ids) for ids in keys.values() if len(set(ids)) > 1)


def findings(document: dict) -> dict[str, list]:
    """{kind: [finding, ...]} for the kinds in KINDS, each list sorted."""
    fields = document["fields"]
    companies = [dict(zip(fields, row)) for row in document["companies"]]
    contacts: dict[str, list[str]] = defaultdict(list)
    websites: dict[str, list[str]] = defaultdict(list)
    names: dict[str, list[str]] = defaultdict(list)
    for company in companies:
        if company["privacy_contact"]:
            contacts[company["privacy_contact"].lower()].append(company["id"])
        site = _site(company["website"])
        if site:
            websites[site].append(company["id"])
        key = normalised_name(company["name"])
        if key:
            names[key].append(company["id"])
    site_company = {site: companies[row]["id"] for site, row in document["sites"].items()}
    another = []
    for domain, (row, _) in sorted(document["domains"].items()):
        site = _site(domain)
        owner = site_company.get(site)
        if owner is not None and owner != companies[row]["id"]:
            another.append([domain, companies[row]["id"], owner])
    lowercase = sorted(c["id"] for c in companies if c["name"] == c["name"].lower() and any(ch.isalpha() for ch in c["name"]))
    return {
        "same_contact": _groups(contacts),
        "same_website": _groups(websites),
        "same_name": _groups(names),
        "site_of_another": another,
        "lowercase_names": lowercase,
    }


def counts(found: dict[str, list]) -> dict[str, int]:
    return {kind: len(found[kind]) for kind in KINDS}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", type=Path, default=DATA_FILE, help="the tracker company data file")
    parser.add_argument("--json", action="store_true", help="print the findings as JSON")
    parser.add_argument("--limit", type=int, default=10, help="examples shown per kind (default 10)")
    args = parser.parse_args(argv)
    try:
        document = json.loads(gzip.decompress(args.data.read_bytes()))
    except (OSError, EOFError, ValueError) as exc:
        print(f"error: cannot read {args.data}: {exc}", file=sys.stderr)
        return 1
    found = findings(document)
    if args.json:
        print(json.dumps({"counts": counts(found), "findings": found}, indent=1))
        return 0
    fields = document["fields"]
    name_of = {row[0]: row[fields.index("name")] for row in document["companies"]}
    for kind in KINDS:
        print(f"{kind}: {len(found[kind])}")
        for finding in found[kind][: args.limit]:
            if kind == "lowercase_names":
                print(f"  {finding}: {name_of[finding]!r}")
            elif kind == "site_of_another":
                domain, company_id, owner = finding
                print(f"  {domain}: {name_of[company_id]!r} but its site is {name_of[owner]!r}")
            else:
                print("  " + " = ".join(f"{name_of[cid]!r} ({cid})" for cid in finding))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
