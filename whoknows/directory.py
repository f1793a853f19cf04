"""Who runs a domain: the shipped company directory and the owners of the built-in tracker list.

Two data files, both shipped in `whoknows/data/` and read lazily, once per process:

- `companies.json.gz`: companies with their privacy contact and postal address, keyed by web domain
  (built from the datenanfragen.de records by `scripts/build_company_directory.py`; CC0, see
  `companies.NOTICE`). Keys are registrable domains, plus full host names for companies that live
  on a subdomain of a shared domain (`bochum.polizei.nrw`). A domain that no single company owns
  (`polizei.nrw`, `gov.uk`) is not in the directory at all: an unknown company is better than a
  wrong one when you are about to send it a privacy request.
- `builtin-trackers.txt`: the built-in filter list, whose `! owner: NAME` comment lines say who
  runs the domains of the filters below them (the tracker data's build reads them; `tracker_owner`
  names companies as the tracker data does).

`lookup` is for what a user typed (bad input raises `InputError`); `same_company` and
`tracker_owner` take what arrives in mail headers and traffic, and say False / None to anything
that is not a domain.
"""

from __future__ import annotations

import functools
import gzip
import json
import re
from dataclasses import dataclass
from pathlib import Path

from .errors import InputError, WhoknowsError
from .sites import host_of, normalise_vendor
from .tracker_companies import site_owner, tracker_domain

DATA_DIR = Path(__file__).resolve().parent / "data"
COMPANIES_FILE = DATA_DIR / "companies.json.gz"
TRACKERS_FILE = DATA_DIR / "builtin-trackers.txt"
COMPANIES_FORMAT = 1

_OWNER_LINE = re.compile(r"^!\s*owner:\s*(?P<owner>\S.*?)\s*$", re.IGNORECASE)
_FILTER_HOST = re.compile(r"^\|\|(?P<host>[a-z0-9.-]+)")


@dataclass(frozen=True)
class Company:
    """A company from the directory. `domains` are the keys that lead to it (domains or hosts)."""

    name: str
    privacy_contact: str | None  # an email address for privacy requests, when the record has one
    address: str  # postal address for privacy requests, lines separated by "\n"
    countries: tuple[str, ...]  # ISO 3166-1 alpha-2 codes, or "all"
    categories: tuple[str, ...]  # datenanfragen.de categories: "ads", "commerce", ...
    domains: tuple[str, ...]
    webform: str | None = None  # a privacy request web form, for records without (or besides) email
    slug: str = ""  # the record's id at datenanfragen.de (https://www.datenanfragen.de/company/SLUG)


class _Directory:
    """The loaded `companies.json.gz`: rows in the file's `fields` order and the key -> row index."""

    def __init__(self, document: dict) -> None:
        if document.get("format") != COMPANIES_FORMAT:
            raise WhoknowsError(
                f"{COMPANIES_FILE} has format {document.get('format')!r}, this whoknows reads "
                f"{COMPANIES_FORMAT}: the installation is inconsistent; reinstall whoknows"
            )
        self._fields: list[str] = document["fields"]
        self._rows: list[list] = document["companies"]
        self._index: dict[str, int] = document["index"]
        self._companies: dict[int, Company] = {}

    def __len__(self) -> int:
        return len(self._rows)

    def row_for(self, host: str, site: str) -> int | None:
        """The row for a host: the host itself, then each parent domain down to its site."""
        if host.isascii() and (host == site or host.endswith("." + site)):
            labels = host.split(".")
            for start in range(len(labels) - site.count(".")):
                row = self._index.get(".".join(labels[start:]))
                if row is not None:
                    return row
            return None
        return self._index.get(site)

    def company(self, row: int) -> Company:
        company = self._companies.get(row)
        if company is None:
            values = dict(zip(self._fields, self._rows[row]))
            company = Company(
                name=values["name"],
                privacy_contact=values["email"],
                address=values["address"],
                countries=tuple(values["countries"]),
                categories=tuple(values["categories"]),
                domains=tuple(values["domains"]),
                webform=values["webform"],
                slug=values["slug"],
            )
            self._companies[row] = company
        return company


@functools.cache
def _directory() -> _Directory:
    try:
        data = COMPANIES_FILE.read_bytes()
    except OSError as exc:
        raise WhoknowsError(f"cannot read the company directory {COMPANIES_FILE}: {exc.strerror}") from None
    return _Directory(json.loads(gzip.decompress(data)))


def _row(domain_or_url: str) -> int | None:
    """The directory row for a URL, host or domain; raises InputError if it names no domain."""
    site = normalise_vendor(domain_or_url)
    host = host_of(domain_or_url).lower().rstrip(".")
    return _directory().row_for(host, site)


def _row_quietly(domain_or_url: str) -> int | None:
    try:
        return _row(domain_or_url)
    except InputError:
        return None


def lookup(domain_or_url: str) -> Company | None:
    """The company running a URL, host name or domain, or None if the directory does not know it.

    Matching is by registrable domain (`https://www.shop.example.co.uk/x` -> `example.co.uk`),
    except that a company listed for a subdomain (`bochum.polizei.nrw`) is found from that host
    and the hosts below it. Raises InputError when the text names no domain (an IP address, a
    bare word, a public suffix).
    """
    row = _row(domain_or_url)
    return None if row is None else _directory().company(row)


def same_company(domain_a: str, domain_b: str) -> bool:
    """True when the directory lists both domains (or URLs, hosts) for one company.

    For telling whether mail from a sender domain comes from a vendor: `("bild.de", "autobild.de")`
    is True (one record runs both), `("amazon.de", "amazon.fr")` is False (the directory lists
    them as separate legal entities). A domain the directory does not know, or not a domain: False.
    """
    row_a = _row_quietly(domain_a)
    return row_a is not None and row_a == _row_quietly(domain_b)


@functools.cache
def tracker_owners() -> dict[str, str]:
    """{domain or host: owner} from the `! owner:` groups of the built-in tracker list."""
    owners: dict[str, str] = {}
    owner: str | None = None
    for line in TRACKERS_FILE.read_text(encoding="utf-8").splitlines():
        line = line.strip()
        if line.startswith("!"):
            match = _OWNER_LINE.match(line)
            owner = match["owner"] if match else owner
            continue
        match = _FILTER_HOST.match(line)
        if match and owner is not None:
            owners.setdefault(match["host"], owner)
    return owners


@functools.lru_cache(maxsize=4096)
@functools.lru_cache(maxsize=4096)
def builtin_tracker(host: str) -> bool:
    """The host, or a parent domain of it, is in the built-in tracker list.

    Not `tracker_owner`: it also answers for every company in the directory (a bank, a shop),
    whose own cookies must not be capped as if it were a tracker."""
    owners = tracker_owners()
    labels = host.lower().rstrip(".").split(".")
    return any(".".join(labels[start:]) in owners for start in range(len(labels)))


def tracker_owner(host_or_domain: str) -> str | None:
    """Who runs a tracker host, by the one name whoknows shows for a company: "Google" for
    `ssl.google-analytics.com`, "Meta Platforms" for `connect.facebook.net`.

    The shipped tracker data first (`tracker_companies.tracker_domain`: its company's name; the
    built-in list's hosts are in it, attributed as the list says; then `site_owner`: the company
    owning the site, so one company has one name), then the company directory
    (the company's name). None when neither knows the host, or it is not a host name at all (an IP
    address, garbage).
    """
    try:
        host = host_of(host_or_domain).lower().rstrip(".")
    except InputError:
        return None
    entry = tracker_domain(host)
    if entry is not None:
        return entry.company.name
    owner = site_owner(host)  # `tiktok.com`: the tracker data's company (ByteDance), not a second name
    if owner is not None:
        return owner.name
    row = _row_quietly(host)
    return None if row is None else _directory().company(row).name
