"""Which company is behind a third-party host, and which company owns a first-party site.

The data is `data/tracker-companies.json.gz`, built by `scripts/build_tracker_companies.py` from
AdGuard's companiesdb (CC BY-SA 4.0), Disconnect's entity list of June 2020 (GPL-3.0-or-later), the
owners of the built-in tracker list and the company directory's privacy contacts (see
`data/tracker-companies.NOTICE`). It is read lazily, once per process, on the first lookup.

- `tracker_domain(host)`: the company and category of a host, by its longest matching domain
  suffix (`a.b.doubleclick.net` -> the entry for `doubleclick.net` -> Google, advertising). For
  the request path: a few dict look-ups, no allocation once an entry has been seen.
- `site_owner(host)`: the company owning a first-party site (`www.youtube.com` -> Google), from
  Disconnect's `properties` and the companies' own websites.
- `company(name_or_domain)`: a company by its id, its name (compared as `normalised_name`), one of
  its tracker domains or one of its sites; for what a user types.

Every function takes what arrives in traffic or from a user and answers None to anything it does
not know (including things that are not host names); none raises for bad input.
"""

from __future__ import annotations

import functools
import gzip
import json
import re
import unicodedata
from dataclasses import dataclass, field
from pathlib import Path

from .errors import WhoknowsError

DATA_FILE = Path(__file__).resolve().parent / "data" / "tracker-companies.json.gz"
FORMAT = 1
# A domain entry is packed into one int, row * CATEGORY_SLOTS + category index: one small object
# per domain instead of a list of two (the table lives in the proxy all day).
CATEGORY_SLOTS = 64

# Words that say what legal form a company has, not which company it is: "Google LLC" is "Google".
_LEGAL_FORMS = frozenset(
    "inc incorporated llc ltd limited gmbh corp corporation co company sa sas sarl ag bv nv plc "
    "srl spa oy ab as asa aps pty pte kk kg se".split()
)
_NOT_ALNUM = re.compile(r"[^a-z0-9]+")
# The legal forms a display name drops: not "company" or "co", which end names ("Fast Company").
_DISPLAY_LEGAL_FORMS = _LEGAL_FORMS - {"company", "co"}
_TRAILING_WORD = re.compile(r"[\s,]+(?P<word>[A-Za-z.]+)\.?\s*$")


def normalised_name(name: str) -> str:
    """A company name reduced to what identifies it: "Google LLC" and "google" give "google".

    Accents folded, case and punctuation dropped, "&" read as "and", trailing legal forms
    ("Inc.", "GmbH", "Ltd") removed; the words are joined without spaces ("Media.net" and
    "MediaNet" are one name). Returns "" for a name that is nothing but punctuation or legal forms.
    """
    text = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode("ascii").lower()
    # Dots go first, so abbreviations stay one word ("S.A." is "sa") and "Media.net" is "medianet".
    words = _NOT_ALNUM.sub(" ", text.replace(".", "").replace("&", " and ")).split()
    while len(words) > 1 and words[-1] in _LEGAL_FORMS:
        words.pop()
    return "".join(words)


def display_name(name: str) -> str:
    """A company name as whoknows shows it: the source's spelling without a trailing legal form.

    "Meta Platforms, Inc." -> "Meta Platforms", "Microsoft Corporation" -> "Microsoft",
    "Société Générale S.A." -> "Société Générale"; "Google" and "Fast Company" stay. The legal
    name (`TrackerCompany.legal_name`) is what letters are addressed to.
    """
    shown = name.strip()
    while True:
        match = _TRAILING_WORD.search(shown)
        if match is None or match["word"].replace(".", "").lower() not in _DISPLAY_LEGAL_FORMS:
            return shown
        shorter = shown[: match.start()].rstrip(" ,")
        if len(shorter) < 2:
            return shown
        shown = shorter


@dataclass(frozen=True)
class TrackerCompany:
    """A company behind tracker domains or first-party sites."""

    # Stable id: AdGuard's company id where AdGuard knows the company ("google"), else
    # "tracker:<AdGuard tracker id>", "disconnect:<name>" or "builtin:<name>" (see the build script).
    id: str
    name: str
    website: str | None  # its home page URL, as the source gives it
    sites: tuple[str, ...] = field(repr=False)  # the first-party sites it owns (registrable domains), sorted
    privacy_contact: str | None  # email for privacy requests, from the company directory
    privacy_webform: str | None  # web form for privacy requests, from the company directory
    directory_domain: str | None  # the company directory key it matched (`directory.lookup` it)
    # The legal entity, for letters: the company directory's name for the record its privacy
    # contact comes from ("Meta Platforms Ireland Limited"), else the source's name when it had a
    # legal form ("ByteDance"); None when neither says more than `name`.
    legal_name: str | None = None

    @property
    def addressee(self) -> str:
        """Whom a letter to the company is addressed to: its legal name, else its name."""
        return self.legal_name or self.name


@dataclass(frozen=True)
class TrackerDomain:
    """What the data says about a host: the suffix that matched, its company and category."""

    domain: str  # the matching domain suffix ("doubleclick.net" for "a.b.doubleclick.net")
    company: TrackerCompany
    category: str  # AdGuard's category names ("advertising", "site_analytics", ...)


class _Data:
    """The loaded file: company rows, the packed domain table, the site index, names."""

    def __init__(self, document: dict) -> None:
        if document.get("format") != FORMAT:
            raise WhoknowsError(
                f"{DATA_FILE} has format {document.get('format')!r}, this whoknows reads {FORMAT}: "
                "the installation is inconsistent; reinstall whoknows"
            )
        self.fields: list[str] = document["fields"]
        self.rows: list[list] = document["companies"]
        self.categories: list[str] = document["categories"]
        self.domains: dict[str, int] = {
            domain: row * CATEGORY_SLOTS + category for domain, (row, category) in document["domains"].items()
        }
        self.sites: dict[str, int] = document["sites"]
        self.by_id: dict[str, int] = {row[0]: index for index, row in enumerate(self.rows)}
        self.by_name: dict[str, int] = {}
        for index, row in enumerate(self.rows):  # rows are in id order: the first of a name wins
            self.by_name.setdefault(normalised_name(row[1]), index)
        self._companies: dict[int, TrackerCompany] = {}
        self._entries: dict[str, TrackerDomain] = {}
        # Why (speed only): the proxy asks for the same few hosts on every request (three times for
        # a third party: observation, owner, company sightings); the suffix walk is done once a host.
        self.by_host: dict[str, TrackerDomain | None] = {}

    def company(self, row: int) -> TrackerCompany:
        found = self._companies.get(row)
        if found is None:
            values = dict(zip(self.fields, self.rows[row]))
            values["sites"] = tuple(values["sites"])
            found = self._companies[row] = TrackerCompany(**values)
        return found

    def entry(self, domain: str, packed: int) -> TrackerDomain:
        found = self._entries.get(domain)
        if found is None:
            row, category = divmod(packed, CATEGORY_SLOTS)
            found = self._entries[domain] = TrackerDomain(domain, self.company(row), self.categories[category])
        return found


HOST_CACHE_SIZE = 4096  # hosts whose answer `tracker_domain` keeps


@functools.cache
def _data() -> _Data:
    try:
        raw = DATA_FILE.read_bytes()
    except OSError as exc:
        raise WhoknowsError(f"cannot read the tracker company data {DATA_FILE}: {exc.strerror}") from None
    return _Data(json.loads(gzip.decompress(raw)))


def _longest_suffix(host: str, table: dict[str, int]) -> tuple[str, int] | None:
    """The longest dot-boundary suffix of `host` (itself included) that is a key of `table`."""
    if not isinstance(host, str):
        return None
    if host[-1:] == "." or not host.islower():  # the usual host is already lowercase, no dot
        host = host.rstrip(".").lower()
    start = 0
    while True:
        value = table.get(host[start:] if start else host)
        if value is not None:
            return (host[start:] if start else host), value
        dot = host.find(".", start)
        if dot < 0:
            return None
        start = dot + 1


def tracker_domain(host: str) -> TrackerDomain | None:
    """The company and category of a host (`www.google-analytics.com` -> Google, site_analytics).

    Longest matching suffix on label boundaries: `stats.g.doubleclick.net` finds `doubleclick.net`
    unless the data has a more specific entry. Case and a trailing dot are ignored. None when no
    suffix is known (or `host` is not a host name).
    """
    data = _data()
    try:
        return data.by_host[host]
    except (KeyError, TypeError):  # TypeError: not a string (unhashable), answered below
        pass
    found = _longest_suffix(host, data.domains)
    entry = None if found is None else data.entry(*found)
    if isinstance(host, str):
        if len(data.by_host) >= HOST_CACHE_SIZE:
            data.by_host.clear()
        data.by_host[host] = entry
    return entry


def site_owner(host: str) -> TrackerCompany | None:
    """The company owning a first-party site: `youtube.com` and `www.youtube.com` -> Google."""
    data = _data()
    found = _longest_suffix(host, data.sites)
    return None if found is None else data.company(found[1])


def company(name_or_domain: str) -> TrackerCompany | None:
    """A company by id ("meta", any case), name ("Google", "google llc"), tracker domain or site."""
    if not isinstance(name_or_domain, str) or not name_or_domain.strip():
        return None
    data = _data()
    text = name_or_domain.strip()
    row = data.by_id.get(text.lower())
    if row is None:
        row = data.by_name.get(normalised_name(text)) if normalised_name(text) else None
    if row is not None:
        return data.company(row)
    if "." in text:
        entry = tracker_domain(text)
        return entry.company if entry is not None else site_owner(text)
    return None


def third_party_attribution(host: str, detail: object = None) -> dict[str, str | None]:
    """A third party's company (the one name whoknows shows) and category, from the tracker data
    as it is now; the owner and category the proxy noted (`detail`) when the data does not know
    the host. The one way a vendor record and the proxy's live counters name a third party."""
    found = tracker_domain(host)
    if found is not None:
        return {"company": found.company.name, "category": found.category}
    noted = detail if isinstance(detail, dict) else {}
    return {"company": noted.get("owner"), "category": noted.get("category")}


def company_by_id(company_id: str) -> TrackerCompany | None:
    """A company by its exact id, as the ledger keeps it ("google", "tracker:xyz")."""
    data = _data()
    row = data.by_id.get(company_id) if isinstance(company_id, str) else None
    return None if row is None else data.company(row)


def company_category(company_id: str) -> str | None:
    """What a company does, in one word: the category most of its tracker domains have in the data
    (ties: the first by name; Google: advertising). None for a company with no tracker domain."""
    return _company_categories().get(company_id)


@functools.cache
def _company_categories() -> dict[str, str]:
    data = _data()
    tallies: dict[int, dict[str, int]] = {}
    for packed in data.domains.values():
        row, category = divmod(packed, CATEGORY_SLOTS)
        tally = tallies.setdefault(row, {})
        name = data.categories[category]
        tally[name] = tally.get(name, 0) + 1
    return {data.rows[row][0]: min(tally, key=lambda name: (-tally[name], name)) for row, tally in tallies.items()}


def counts() -> dict[str, int]:
    """How many companies, tracker domains and first-party sites the shipped data holds."""
    data = _data()
    return {"companies": len(data.rows), "domains": len(data.domains), "sites": len(data.sites)}
