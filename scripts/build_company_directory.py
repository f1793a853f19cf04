#!/usr/bin/env python3
"""Build `whoknows/data/companies.json.gz`, the company directory whoknows ships.

Input: the datenanfragen.de company records (CC0 1.0), one JSON object a line, by default
`../shared/data/companies/datenanfragen-companies.jsonl` next to the repository.

Output: a gzipped JSON document, byte-for-byte reproducible from the same input (fixed gzip mtime,
no file name in the gzip header, sorted keys, records in slug order):

    {"format": 1, "source": {...},
     "fields": ["slug", "name", "email", "webform", "address", "countries", "categories", "domains"],
     "companies": [[...one row per company, in `fields` order...], ...],
     "index": {"example.com": 0, "shop.example.org": 1, ...}}

`index` maps a registrable domain (or, for companies that live on someone else's subdomain, a full
host name) to a row of `companies`. `whoknows.directory` reads it; see there for the lookup rules.

Run: `.venv/bin/python scripts/build_company_directory.py [--input FILE] [--output FILE]`
"""

from __future__ import annotations

import argparse
import functools
import gzip
import io
import json
import os
import re
import sys
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from whoknows.errors import InputError  # noqa: E402
from whoknows.sites import host_of, normalise_vendor  # noqa: E402

DEFAULT_INPUT = REPO.parent / "shared" / "data" / "companies" / "datenanfragen-companies.jsonl"
DEFAULT_OUTPUT = REPO / "whoknows" / "data" / "companies.json.gz"
FORMAT = 1
SOURCE = {
    "name": "datenanfragen.de company database",
    "url": "https://github.com/datenanfragen/data",
    "licence": "CC0-1.0",
    "snapshot": "2026-07-21",
}
FIELDS = ["slug", "name", "email", "webform", "address", "countries", "categories", "domains"]

# The schema's order of record quality, best first. 'tested' (someone sent a request with these
# details and it worked) beats 'verified' (a person checked the data), which beats machine-made data.
QUALITY_RANK = {"tested": 0, "verified": 1, "imported": 2, "scraped": 3}

# How strongly a record claims a key (higher wins; see `_winner`):
SITE = 4  # its `web` is the bare domain or www., no path: the company's own home page
PAGE = 3  # its `web` is a page on the domain (www.generali.de/ueber-uns/...)
RUNS = 2  # its `runs` names the domain as a service the company is responsible for
SUBDOMAIN = 1  # its `web` is on a subdomain (lafp.polizei.nrw): weak evidence for the whole domain

# A domain-looking word: labels joined by dots, the last one alphabetic. Whether it really is a
# domain is decided by the Public Suffix List afterwards (so "Ltd." or "WEB.Cent" do not count).
DOMAIN_WORD = re.compile(
    r"(?<![\w@.-])((?:[a-z0-9](?:[a-z0-9-]*[a-z0-9])?\.)+[a-z][a-z0-9-]*[a-z0-9])(?![\w@-]|\.\w)",
    re.IGNORECASE,
)
# `runs` entries the company no longer runs: "Autoteile-Meile.de (formerly)", "x.de (ehem.)".
# Such a domain may now belong to someone else (Autoteile-Meile is run by another record today).
FORMER = re.compile(r"[(,]\s*(?:formerly|ehem\.|ehemals|retired)\s*\)\s*$", re.IGNORECASE)
WWW = re.compile(r"^www\d*\.")


@dataclass
class Stats:
    records: int = 0
    web_unusable: list[str] = field(default_factory=list)
    runs_not_domains: int = 0
    runs_former: int = 0
    runs_domains: int = 0
    without_domain: int = 0
    lost_all_domains: int = 0
    ambiguous_keys: list[str] = field(default_factory=list)
    contested_keys: int = 0


@dataclass(frozen=True)
class Claim:
    key: str
    strength: int
    row: int


def _site_and_host(text: str) -> tuple[str, str | None]:
    """(registrable domain, host when the name is on a subdomain other than www, else None)."""
    domain = normalise_vendor(text)
    host = host_of(text).lower().rstrip(".")
    bare = WWW.sub("", host)
    if bare == domain or bare.endswith("." + domain):  # not for www.gov.uk, a registrable domain
        host = bare
    if not host.isascii():  # IDN subdomains are rare here; the registrable domain still counts
        return domain, None
    return domain, (host if host != domain else None)


def _web_claims(web: str, row: int) -> list[Claim]:
    domain, host = _site_and_host(web)
    has_path = urlsplit(web).path.strip("/") != "" or urlsplit(web).query != ""
    strength = PAGE if has_path else SITE
    if host is None:
        return [Claim(domain, strength, row)]
    return [Claim(host, strength, row), Claim(domain, SUBDOMAIN, row)]


def _runs_claims(runs: list[str], row: int, stats: Stats) -> list[Claim]:
    claims = []
    for entry in runs:
        if FORMER.search(entry):
            stats.runs_former += 1
            continue
        for word in DOMAIN_WORD.findall(entry):
            try:
                domain, host = _site_and_host(word)
            except InputError:
                stats.runs_not_domains += 1
                continue
            if not _has_known_suffix(word):
                stats.runs_not_domains += 1
                continue
            stats.runs_domains += 1
            # A service on someone else's subdomain (kartenwelt.rewe.de) says nothing about the
            # rest of that domain: only the host itself is claimed.
            claims.append(Claim(host or domain, RUNS, row))
    return claims


def _has_known_suffix(name: str) -> bool:
    """True if the name ends in a suffix of the Public Suffix List ("WEB.Cent" does not)."""
    return bool(_public_suffixes()(name.lower()).suffix)


@functools.cache
def _public_suffixes():
    # The same offline snapshot (tldextract's bundled list) that whoknows.sites uses.
    import tldextract

    return tldextract.TLDExtract(suffix_list_urls=(), cache_dir=None, include_psl_private_domains=True)


def _rank(record: dict, key: str) -> tuple[int, int, int, str]:
    """Sort key among equal home-page claims on `key`: best first.

    Better quality first; then the record whose slug shares the longest start with the domain's
    name (on funimation.com, 'funimation' rather than 'wakanim'; on experian.de 'experian-de'
    rather than 'infoscore'); then the plainest (shortest) slug: 'sfr' rather than 'sfr-numericable'.
    """
    slug = record["slug"]
    label = key.split(".")[0].replace("-", "")
    shared = len(os.path.commonprefix([slug.replace("-", ""), label]))
    return (QUALITY_RANK.get(record.get("quality", ""), 9), -shared, len(slug), slug)


def _winner(key: str, claims: list[Claim], records: list[dict]) -> int | None:
    """The row that owns a key, or None when the key is ambiguous.

    Two records claiming one domain: the stronger claim wins (a home page beats a page on the
    site, which beats a service named in `runs`, which beats a subdomain). Between equal home-page
    claims (several entities of one group list the group's home page) the higher-quality record
    wins ('tested' > 'verified' > 'imported' > 'scraped'), then the one named most like the domain
    (see `_rank`). Equally strong weaker claims from different records (several offices on pages of one site, several police
    headquarters on subdomains of polizei.nrw) name no single owner: the key is left out.
    """
    best = max(claim.strength for claim in claims)
    rows = sorted({claim.row for claim in claims if claim.strength == best})
    if len(rows) == 1:
        return rows[0]
    if best < SITE:
        return None
    return min(rows, key=lambda row: _rank(records[row], key))


def _row(record: dict, domains: list[str]) -> list:
    return [
        record["slug"],
        record["name"].strip(),
        record.get("email") or None,
        record.get("webform") or None,
        record.get("address", "").strip(),
        sorted(record.get("relevant-countries") or []),
        sorted(record.get("categories") or []),
        sorted(domains),
    ]


def build(lines: list[str]) -> tuple[dict, Stats]:
    """The directory document for the JSON lines of the source, and what was skipped."""
    stats = Stats()
    records = sorted((json.loads(line) for line in lines if line.strip()), key=lambda r: r["slug"])
    stats.records = len(records)
    claims: dict[str, list[Claim]] = defaultdict(list)
    for row, record in enumerate(records):
        found: list[Claim] = []
        if record.get("web"):
            try:
                found += _web_claims(record["web"], row)
            except InputError:
                stats.web_unusable.append(record["web"])
        found += _runs_claims(record.get("runs") or [], row, stats)
        if not found:
            stats.without_domain += 1
        for claim in found:
            claims[claim.key].append(claim)

    owner: dict[str, int] = {}
    for key, key_claims in claims.items():
        if len({claim.row for claim in key_claims}) > 1:
            stats.contested_keys += 1
        row = _winner(key, key_claims, records)
        if row is None:
            stats.ambiguous_keys.append(key)
        else:
            owner[key] = row

    domains_of: dict[int, list[str]] = defaultdict(list)
    for key, row in owner.items():
        domains_of[row].append(key)
    kept = [row for row in range(len(records)) if row in domains_of]
    stats.lost_all_domains = len({c.row for cs in claims.values() for c in cs} - set(kept))
    new_row = {old: new for new, old in enumerate(kept)}
    document = {
        "format": FORMAT,
        "source": SOURCE,
        "fields": FIELDS,
        "companies": [_row(records[old], domains_of[old]) for old in kept],
        "index": {key: new_row[row] for key, row in sorted(owner.items())},
    }
    return document, stats


def encode(document: dict) -> bytes:
    """Gzipped compact JSON with a fixed header, so the same input gives the same bytes."""
    text = json.dumps(document, ensure_ascii=False, sort_keys=True, separators=(",", ":"))
    buffer = io.BytesIO()
    with gzip.GzipFile(filename="", mode="wb", fileobj=buffer, compresslevel=9, mtime=0) as out:
        out.write(text.encode("utf-8"))
    return buffer.getvalue()


def write_shipped(path: Path, document: dict) -> int:
    """Write `document` as a shipped data file (`encode`); returns its size in bytes."""
    data = encode(document)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return len(data)


def _report(stats: Stats, document: dict, output: Path, size: int) -> None:
    print(f"read {stats.records} records")
    print(f"skipped {len(stats.web_unusable)} unusable `web` values: {stats.web_unusable}")
    print(f"skipped {stats.runs_not_domains} domain-looking `runs` words that are not domains")
    print(f"skipped {stats.runs_former} `runs` entries the company no longer runs (formerly/ehem.)")
    print(f"took {stats.runs_domains} domains from `runs`")
    print(f"skipped {stats.without_domain} records with no usable domain at all")
    print(f"{stats.contested_keys} keys claimed by more than one record")
    print(f"left out {len(stats.ambiguous_keys)} ambiguous keys (no single owner): "
          f"{', '.join(stats.ambiguous_keys[:12])}{' ...' if len(stats.ambiguous_keys) > 12 else ''}")
    print(f"dropped {stats.lost_all_domains} records whose every domain went to another record")
    print(f"wrote {len(document['companies'])} companies, {len(document['index'])} keys, "
          f"{size} bytes to {output}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--input", type=Path, default=DEFAULT_INPUT)
    parser.add_argument("--output", type=Path, default=DEFAULT_OUTPUT)
    parser.add_argument("--quiet", action="store_true")
    args = parser.parse_args(argv)
    document, stats = build(args.input.read_text(encoding="utf-8").splitlines())
    size = write_shipped(args.output, document)
    if not args.quiet:
        _report(stats, document, args.output, size)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
