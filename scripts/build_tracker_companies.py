#!/usr/bin/env python3
"""Build `whoknows/data/tracker-companies.json.gz`: tracker domains -> companies, and who owns which site.

Inputs (by default in `../shared/data/trackers/` next to the repository, and the package's data):
- AdGuard companiesdb (`adguard-companiesdb-trackers.json`, `-companies.json`; CC BY-SA 4.0):
  tracker domain -> tracker -> company id and category; company -> name, website.
- Disconnect's entity list of 2020-06-17 (`disconnect-entities-2020-06-17.json`, GPL-3.0-or-later):
  entity -> `properties` (its own sites) and `resources` (its tracking domains); its services file
  (`disconnect-services-2020-06-17.json`) gives the resources' categories.
- The built-in tracker list's `! owner:` groups (`whoknows/data/builtin-trackers.txt`).
- The company directory (`whoknows/data/companies.json.gz`, CC0): privacy contacts.

How companies are matched (the order is the order of trust):
1. AdGuard's companies are the backbone: each keeps AdGuard's id, name and website. A tracker
   without a company id stands for itself (id `tracker:<tracker id>`, the tracker's name and url).
2. A Disconnect entity is the AdGuard company with the same `normalised_name` (see
   `whoknows.tracker_companies`: "Google LLC" = "google"); failing that, the AdGuard company whose
   website's registrable domain is one of the entity's properties (several: the one holding most
   of the entity's resources in AdGuard's data, then the smallest id). Otherwise it becomes a
   company of its own (id `disconnect:<normalised name>`), website its first property.
3. A built-in list owner ("Xandr (Microsoft)") is matched by normalised name: the whole name,
   then the name before the parenthesis, then the name inside it; failing that, the company that
   the data already gives the owner's first domain; otherwise a company of its own (`builtin:...`).
   All the domains of one owner go to that one company.
   A built-in owner written without a parent ("Reddit", not "LinkedIn (Microsoft)") that matched
   a Disconnect entity of its own also takes AdGuard's tracker of that name (all its domains),
   whatever parent AdGuard files it under: two sources against one (AdGuard gives Reddit to
   Advance Publications, its largest shareholder).
4. One company, one entry (`merge_duplicates`): companies whose normalised names are equal and
   whose websites have one registrable domain (or one has no website) merge into the most trusted
   id (AdGuard's, then the smallest); a tracker without a company whose website is exactly one
   AdGuard company's joins it ("onet" -> "Onet.pl SA"). Companies whose home pages (a site's
   front page, not a page on a hosting site) share one registrable domain, one of them at the
   domain itself, merge into the one holding most domains (FOX Audience Network's home page is
   rubiconproject.com: it is The Rubicon Project's); a name that is only a domain ("tchibo.de")
   gives way to the other's ("Tchibo").
5. One well-formed name (`fix_names`): a name written all in lowercase ("reddit") takes a
   capitalised spelling of the same normalised name from the sources (the built-in list first,
   then AdGuard, then Disconnect); none is made up. Names are shown without their legal form
   ("Meta Platforms, Inc." -> "Meta Platforms", `tracker_companies.display_name`); `legal_name`
   keeps whom letters address: the directory's name for the record the privacy contact comes
   from ("Meta Platforms Ireland Limited"), else the source's full name.
6. The directory's privacy contact goes to a company whose website's registrable domain is a
   directory key, failing that its first site (in sorted order) that is one.

How conflicts resolve:
- A domain in both sources keeps AdGuard's company and category (AdGuard's snapshot is 2026,
  Disconnect's 2020, and AdGuard's trackers are finer grained); Disconnect adds the domains AdGuard
  lacks, with the category of its services file (mapped to AdGuard's names) or `unknown`, and
  with its entity's company, unless the domain is the website of exactly one AdGuard company
  (`marinsoftware.com` is Marin Software's, whichever entity Disconnect filed it under).
- A built-in list domain goes to its built-in owner (whoknows already names that owner when it
  blocks the domain, so the two must agree); its category stays the sources', or is its nearest
  parent domain's (`connect.facebook.net` is `facebook.net`'s), or `unknown`.
- A site (first-party) named in Disconnect's properties belongs to that entity's company; a
  company website's registrable domain adds a site only where no property claims it and no other
  company's website names the same domain (a hosting domain shared by several is nobody's site).
  A tracker's home page adds a site to its company when the tracker has domains under it and
  nothing above claims it (`analytics.tiktok.com` makes `tiktok.com` ByteDance's).
  A site that is also a tracker domain belongs to that domain's company (`facebook.com` is Meta's
  both ways), so the two lookups never disagree about one name.

Output: gzipped compact JSON, byte-for-byte reproducible (sorted keys, rows in id order, gzip
mtime 0 and no file name):

    {"format": 1, "sources": [...], "categories": ["advertising", ...],
     "fields": ["id", "name", "website", "sites", "privacy_contact", "privacy_webform", "directory_domain",
                "legal_name"],
     "companies": [[...], ...], "domains": {"doubleclick.net": [row, category index], ...},
     "sites": {"youtube.com": row, ...}}

Run: `.venv/bin/python scripts/build_tracker_companies.py [--trackers DIR] [--output FILE]`
"""

from __future__ import annotations

import argparse
import gzip
import json
import re
import sys
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

# The shipped data files share one reproducible writer (gzipped compact JSON, fixed header).
from scripts.build_company_directory import write_shipped  # noqa: E402
from whoknows.directory import COMPANIES_FILE, TRACKERS_FILE, tracker_owners  # noqa: E402
from whoknows.tracker_companies import CATEGORY_SLOTS, DATA_FILE, FORMAT, display_name, normalised_name  # noqa: E402
from whoknows.sites import site_of  # noqa: E402

DEFAULT_TRACKERS = REPO.parent / "shared" / "data" / "trackers"
FIELDS = ["id", "name", "website", "sites", "privacy_contact", "privacy_webform", "directory_domain", "legal_name"]
SOURCES = [
    {
        "name": "AdGuard companiesdb",
        "url": "https://github.com/AdguardTeam/companiesdb",
        "licence": "CC-BY-SA-4.0",
        "snapshot": "2026-07-20",
    },
    {
        "name": "Disconnect tracking protection entity list",
        "url": "https://github.com/disconnectme/disconnect-tracking-protection",
        "licence": "GPL-3.0-or-later",
        "snapshot": "2020-06-17 (commit b1eac78, the last GPL version)",
    },
    {
        "name": "whoknows built-in tracker list owners",
        "url": "whoknows/data/builtin-trackers.txt",
        "licence": "GPL-3.0-or-later",
    },
    {
        "name": "datenanfragen.de company database (privacy contacts)",
        "url": "https://github.com/datenanfragen/data",
        "licence": "CC0-1.0",
    },
]
# Disconnect's service categories in AdGuard's vocabulary. Fingerprinting and cryptomining have no
# AdGuard counterpart and keep their own names; "Disconnect" (its own block of Facebook, Google and
# Twitter's non-tracking domains) and "Content" (embedded media) say nothing finer than "misc".
DISCONNECT_CATEGORIES = {
    "Advertising": "advertising",
    "Analytics": "site_analytics",
    "Social": "social_media",
    "Content": "misc",
    "Disconnect": "misc",
    "Fingerprinting": "fingerprinting",
    "Cryptomining": "cryptomining",
}
UNKNOWN = "unknown"
_PARENTHESIS = re.compile(r"^(?P<outer>[^()]*?)\s*\((?P<inner>[^()]*)\)\s*$")


@dataclass
class Company:
    id: str
    name: str
    website: str | None
    sites: set[str] = field(default_factory=set)
    privacy_contact: str | None = None
    privacy_webform: str | None = None
    directory_domain: str | None = None
    legal_name: str | None = None


@dataclass
class Stats:
    adguard_domains: int = 0
    disconnect_domains_added: int = 0
    disconnect_domains_agreeing: int = 0
    disconnect_domains_overridden: list[str] = field(default_factory=list)
    entities_by_domains: int = 0
    entities_by_name: int = 0
    entities_by_website: int = 0
    entities_own: int = 0
    builtin_added: int = 0
    builtin_overrode: list[str] = field(default_factory=list)
    builtin_own: list[str] = field(default_factory=list)
    builtin_took_trackers: list[str] = field(default_factory=list)
    merged: list[str] = field(default_factory=list)
    renamed: list[str] = field(default_factory=list)
    tracker_sites: int = 0
    legal_forms_dropped: int = 0
    shared_websites: list[str] = field(default_factory=list)


class InputFilesError(Exception):
    """An input file is missing or not what this script reads."""


def _read_json(path: Path):
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise InputFilesError(f"cannot read {path}: {exc.strerror}") from None
    except json.JSONDecodeError as exc:
        raise InputFilesError(f"{path} is not JSON: {exc}") from None


def _site(url_or_domain: str | None) -> str | None:
    return site_of(url_or_domain) if url_or_domain else None


def _host(url: str | None) -> str | None:
    return (urlsplit(url).hostname or None) if url else None


def _names_a_domain(name: str) -> bool:
    """A company name that is only a domain name ("tchibo.de", "Layer-ADS.net")."""
    return " " not in name and "." in name and site_of(name.lower()) == name.lower()


def _home_page(url: str | None) -> bool:
    """A URL that is a site's front page (`http://www.wp.pl/`), not a page on it."""
    return bool(_host(url)) and not urlsplit(url).path.strip("/") and not urlsplit(url).query


class Builder:
    def __init__(self) -> None:
        self.companies: dict[str, Company] = {}
        self.domains: dict[str, tuple[str, str]] = {}  # domain -> (company id, category)
        self.site_claims: dict[str, str] = {}  # site -> company id (from Disconnect's properties)
        self.by_name: dict[str, str] = {}  # normalised name -> company id (first in id order)
        # AdGuard tracker id -> (its name, its url's registrable domain, its domains)
        self.trackers: dict[str, tuple[str, str | None, list[str]]] = {}
        # normalised name -> how the sources spell it, most trusted first (built-in owners,
        # AdGuard's trackers and companies, Disconnect's entities)
        self.spellings: dict[str, list[str]] = defaultdict(list)
        self.stats = Stats()

    def _spelling(self, name: str) -> None:
        key = normalised_name(name)
        if key and name not in self.spellings[key]:
            self.spellings[key].append(name)

    def _add_company(self, company: Company) -> Company:
        self.companies[company.id] = company
        self._spelling(company.name)
        key = normalised_name(company.name)
        if key:
            self.by_name.setdefault(key, company.id)
        return company

    def _new_id(self, prefix: str, name: str) -> str:
        base = f"{prefix}:{normalised_name(name) or 'unnamed'}"
        candidate, n = base, 2
        while candidate in self.companies:
            candidate, n = f"{base}-{n}", n + 1
        return candidate

    def add_adguard(self, trackers: dict, companies: dict) -> None:
        try:
            for company_id in sorted(companies["companies"]):
                record = companies["companies"][company_id]
                self._add_company(Company(company_id, record["name"].strip(), record.get("websiteUrl") or None))
            categories = {int(key): name for key, name in trackers["categories"].items()}
            for domain, tracker_id in sorted(trackers["trackerDomains"].items()):
                tracker = trackers["trackers"][tracker_id]
                company_id = tracker.get("companyId")
                if not company_id:
                    company_id = f"tracker:{tracker_id}"
                    if company_id not in self.companies:
                        self._add_company(Company(company_id, tracker["name"].strip(), tracker.get("url") or None))
                elif company_id not in self.companies:
                    raise InputFilesError(f"AdGuard tracker {tracker_id!r} names unknown company {company_id!r}")
                self.domains[domain.lower()] = (company_id, categories.get(tracker.get("categoryId"), UNKNOWN))
                name, _, domains = self.trackers.get(tracker_id) or (tracker["name"].strip(), None, [])
                self.trackers[tracker_id] = (name, _site(tracker.get("url")), domains + [domain.lower()])
                self._spelling(name)
        except (KeyError, TypeError, AttributeError) as exc:
            raise InputFilesError(f"the AdGuard companiesdb files are not in the expected form ({exc!r})") from None
        self.stats.adguard_domains = len(self.domains)

    def _match_entity(self, name: str, properties: list[str], resources: list[str]) -> str | None:
        held = Counter(self.domains[d][0] for d in resources if d in self.domains)
        if held:
            company_id, count = min(held.items(), key=lambda item: (-item[1], item[0]))
            if count >= 2 and count * 2 > len(resources):
                self.stats.entities_by_domains += 1
                return company_id
        by_name = self.by_name.get(normalised_name(name))
        if by_name is not None:
            self.stats.entities_by_name += 1
            return by_name
        owned = set(properties)
        candidates = sorted(
            company.id for company in self.companies.values()
            if not company.id.startswith("tracker:") and _site(company.website) in owned
        )
        if not candidates:
            return None
        self.stats.entities_by_website += 1
        return min(candidates, key=lambda cid: (-held[cid], cid))

    def add_disconnect(self, entities: dict, services: dict) -> None:
        try:
            category_of: dict[str, str] = {}
            for category, groups in sorted(services["categories"].items()):
                for group in groups:
                    for sites in group.values():
                        for domains in sites.values():
                            if isinstance(domains, list):
                                for domain in domains:
                                    category_of.setdefault(domain.lower(), DISCONNECT_CATEGORIES.get(category, UNKNOWN))
            websites = self._websites()
            for name in sorted(entities):
                self._spelling(name.strip())
                properties = sorted(d.lower() for d in entities[name]["properties"])
                resources = sorted(d.lower() for d in entities[name]["resources"])
                company_id = self._match_entity(name, properties, resources)
                if company_id is None:
                    self.stats.entities_own += 1
                    company_id = self._new_id("disconnect", name)
                    website = f"https://{properties[0]}/" if properties else None
                    self._add_company(Company(company_id, name.strip(), website))
                for site in properties:
                    self.site_claims.setdefault(site, company_id)
                for domain in resources:
                    known = self.domains.get(domain)
                    if known is None:
                        owner = websites.get(domain)
                        owner = owner[0] if owner and len(owner) == 1 else company_id
                        self.domains[domain] = (owner, category_of.get(domain, UNKNOWN))
                        self.stats.disconnect_domains_added += 1
                    elif known[0] == company_id:
                        self.stats.disconnect_domains_agreeing += 1
                    else:
                        self.stats.disconnect_domains_overridden.append(domain)
        except (KeyError, TypeError, AttributeError) as exc:
            raise InputFilesError(f"the Disconnect files are not in the expected form ({exc!r})") from None

    @staticmethod
    def _owner_names(owner: str) -> list[str]:
        """"Xandr (Microsoft)" -> the whole name, then "Xandr", then "Microsoft" (normalised)."""
        names = [owner]
        parts = _PARENTHESIS.match(owner)
        if parts:
            names += [parts["outer"], parts["inner"]]
        return [normalised_name(name) for name in names]

    def _match_owner(self, owner: str, domains: list[str]) -> str | None:
        for candidate in self._owner_names(owner):
            company_id = self.by_name.get(candidate)
            if company_id is not None:
                return company_id
        for domain in domains:
            if domain in self.domains:
                return self.domains[domain][0]
        return None

    def _take_trackers_named(self, owner: str, company_id: str) -> None:
        """Two sources say a company stands alone: the built-in list names it as an owner with no
        parent ("Reddit", not "LinkedIn (Microsoft)") and Disconnect has it as an entity of its
        own. Then AdGuard's tracker of that name is that company's, whichever parent AdGuard files
        it under (AdGuard gives Reddit to Advance Publications, its largest shareholder)."""
        key = normalised_name(owner)
        for tracker_id, (name, _, domains) in sorted(self.trackers.items()):
            if normalised_name(name) != key:
                continue
            for domain in domains:
                known = self.domains.get(domain)
                if known is not None and known[0] != company_id and not known[0].startswith("disconnect:"):
                    self.domains[domain] = (company_id, known[1])
                    self.stats.builtin_took_trackers.append(f"{domain}: {known[0]} -> {company_id}")

    @staticmethod
    def _trust(company_id: str) -> tuple[bool, str]:
        """AdGuard's companies first, then the companies made here (built-in, Disconnect, tracker)."""
        return (":" in company_id, company_id)

    def _merge(self, kept_id: str, gone_id: str, why: str) -> None:
        kept, gone = self.companies[kept_id], self.companies.pop(gone_id)
        kept.website = kept.website or gone.website
        if _names_a_domain(kept.name) and not _names_a_domain(gone.name):
            kept.name = gone.name  # "Tchibo", not "tchibo.de"
        self.domains = {d: ((kept_id if cid == gone_id else cid), cat) for d, (cid, cat) in self.domains.items()}
        self.site_claims = {s: (kept_id if cid == gone_id else cid) for s, cid in self.site_claims.items()}
        self.stats.merged.append(f"{gone.name!r} ({gone_id}) into {kept.name!r} ({kept_id}): {why}")

    def merge_duplicates(self) -> None:
        """One company, one entry: companies with the same normalised name whose websites are on
        one registrable domain (or one has none) merge, as does a tracker without a company id
        (`tracker:`) whose website is that of exactly one company. The most trusted id stays."""
        groups: dict[str, list[str]] = defaultdict(list)
        for company_id in sorted(self.companies, key=self._trust):
            groups[normalised_name(self.companies[company_id].name)].append(company_id)
        for key, ids in sorted(groups.items()):
            if not key or len(ids) < 2:
                continue
            kept = ids[0]
            for other in ids[1:]:
                sites = {_site(self.companies[kept].website), _site(self.companies[other].website)}
                if len(sites - {None}) <= 1:
                    self._merge(kept, other, "same name, same website" if None not in sites else "same name")
        websites = self._websites()
        for company_id in sorted(self.companies):
            if not company_id.startswith("tracker:") or not _home_page(self.companies[company_id].website):
                continue
            owners = [cid for cid in websites.get(_site(self.companies[company_id].website), []) if ":" not in cid]
            if len(owners) == 1:
                self._merge(owners[0], company_id, "its website is that company's")
        # Companies whose home pages are on one registrable domain, one of them at the domain
        # itself, are one organisation: an acquired firm the source points at its buyer's site
        # (FOX Audience Network at rubiconproject.com), a division at a subdomain (reklama.wp.pl).
        # A page on a hosting site (github.com/someone/project) is not a home page.
        held = Counter(company_id for company_id, _ in self.domains.values())
        held.update(self.site_claims.values())
        homes: dict[str, list[str]] = defaultdict(list)
        for company_id in sorted(self.companies):
            if _home_page(self.companies[company_id].website):
                homes[_site(self.companies[company_id].website)].append(company_id)
        for site, ids in sorted(homes.items()):
            at_site = [cid for cid in ids if _host(self.companies[cid].website) in (site, f"www.{site}")]
            if len(ids) < 2 or not at_site:
                continue
            kept = min(at_site, key=lambda cid: (":" in cid, -held[cid], cid))
            for other in ids:
                if other != kept:
                    self._merge(kept, other, f"home pages on {site}")

    def fix_names(self) -> None:
        """A name written all in lowercase ("reddit") takes the sources' capitalised spelling of
        the same name ("Reddit"), the built-in list's first; one no source capitalises stays.
        Then every name is shown without its legal form (`display_name`: "Meta Platforms, Inc."
        -> "Meta Platforms"), the full name kept as the legal name."""
        for company in self.companies.values():
            shown = display_name(company.name)
            if shown == shown.lower():
                cased = [display_name(name) for name in self.spellings.get(normalised_name(shown), [])
                         if display_name(name) != display_name(name).lower()]
                if cased:
                    self.stats.renamed.append(f"{shown!r} -> {cased[0]!r}")
                    shown = cased[0]
            if display_name(company.name) != company.name:
                company.legal_name = company.name
                self.stats.legal_forms_dropped += 1
            company.name = shown

    def _parent_category(self, domain: str) -> str:
        """The category of the nearest parent domain the sources know (`connect.facebook.net`)."""
        labels = domain.split(".")
        for start in range(1, len(labels) - 1):
            known = self.domains.get(".".join(labels[start:]))
            if known is not None:
                return known[1]
        return UNKNOWN

    def add_builtin(self, owners: dict[str, str]) -> None:
        domains_of: dict[str, list[str]] = defaultdict(list)
        for domain, owner in sorted(owners.items()):
            domains_of[owner].append(domain)
        for owner in sorted(domains_of):  # the repo's own spelling of a name comes first
            for name in [owner] + [part for part in (_PARENTHESIS.match(owner) or {"": None}).groups() if part] \
                    if _PARENTHESIS.match(owner) else [owner]:
                key = normalised_name(name)
                if key and name not in self.spellings[key]:
                    self.spellings[key].insert(0, name)
        for owner, domains in sorted(domains_of.items()):
            company_id = self._match_owner(owner, domains)
            if company_id is None:
                company_id = self._new_id("builtin", owner)
                self._add_company(Company(company_id, owner, None))
                self.stats.builtin_own.append(owner)
            elif company_id.startswith("disconnect:") and not _PARENTHESIS.match(owner):
                self._take_trackers_named(owner, company_id)
            for domain in domains:
                known = self.domains.get(domain)
                if known is None:
                    self.stats.builtin_added += 1
                elif known[0] != company_id:
                    self.stats.builtin_overrode.append(f"{domain}: {known[0]} -> {company_id}")
                self.domains[domain] = (company_id, known[1] if known else self._parent_category(domain))

    def _websites(self) -> dict[str, list[str]]:
        """{registrable domain of a company's website: the ids of the companies with that website}."""
        websites: dict[str, list[str]] = defaultdict(list)
        for company_id in sorted(self.companies):
            site = _site(self.companies[company_id].website)
            if site:
                websites[site].append(company_id)
        return websites

    def add_sites(self) -> None:
        claims = dict(self.site_claims)
        for site, company_ids in self._websites().items():
            if site in claims:
                continue
            if len(company_ids) > 1:
                self.stats.shared_websites.append(site)
                continue
            claims[site] = company_ids[0]
        # A tracker's own home page names a site its company runs, when the tracker has domains
        # under it (`analytics.tiktok.com` -> `tiktok.com` is ByteDance's), unless claimed already
        # or the tracker domains under it belong to several companies.
        under_site: dict[str, set[str]] = defaultdict(set)
        for domain, (company_id, _) in self.domains.items():
            under_site[_site(domain)].add(company_id)
        home_pages = {url_site for _, url_site, domains in self.trackers.values()
                      if url_site and any(_site(domain) == url_site for domain in domains)}
        for site in sorted(home_pages):
            if site not in claims and len(under_site[site]) == 1 and site not in self.stats.shared_websites:
                claims[site] = next(iter(under_site[site]))
                self.stats.tracker_sites += 1
        for site, company_id in claims.items():
            # A site that is also a tracker domain belongs to that domain's company, so that
            # `site_owner` and `tracker_domain` never disagree about one name.
            if site in self.domains:
                company_id = self.domains[site][0]
            self.companies[company_id].sites.add(site)

    def add_contacts(self, directory: dict) -> None:
        fields = directory["fields"]
        rows = [dict(zip(fields, row)) for row in directory["companies"]]
        index: dict[str, int] = directory["index"]
        for company in self.companies.values():
            keys = [_site(company.website)] + sorted(company.sites)
            for key in keys:
                if key and key in index:
                    row = rows[index[key]]
                    if row["email"] or row["webform"]:
                        company.privacy_contact = row["email"]
                        company.privacy_webform = row["webform"]
                        company.directory_domain = key
                        # the entity the privacy contact belongs to is whom letters address
                        company.legal_name = row["name"] or company.legal_name
                        break

    def document(self) -> dict:
        used = {company_id for company_id, _ in self.domains.values()}
        used |= {cid for cid, company in self.companies.items() if company.sites}
        ids = sorted(used)
        row_of = {company_id: row for row, company_id in enumerate(ids)}
        categories = sorted({category for _, category in self.domains.values()})
        if len(categories) > CATEGORY_SLOTS:
            raise InputFilesError(f"{len(categories)} categories; the shipped format packs at most {CATEGORY_SLOTS}")
        category_index = {name: index for index, name in enumerate(categories)}
        companies = [
            [c.id, c.name, c.website, sorted(c.sites), c.privacy_contact, c.privacy_webform, c.directory_domain,
             c.legal_name]
            for c in (self.companies[company_id] for company_id in ids)
        ]
        sites = {site: row_of[c.id] for c in self.companies.values() if c.id in row_of for site in c.sites}
        return {
            "format": FORMAT,
            "sources": SOURCES,
            "categories": categories,
            "fields": FIELDS,
            "companies": companies,
            "domains": {d: [row_of[cid], category_index[cat]] for d, (cid, cat) in sorted(self.domains.items())},
            "sites": dict(sorted(sites.items())),
        }


def build(trackers_dir: Path, builtin_owners: dict[str, str], directory: dict) -> tuple[dict, Stats]:
    """The shipped document from the source files, and what the merge did."""
    builder = Builder()
    builder.add_adguard(
        _read_json(trackers_dir / "adguard-companiesdb-trackers.json"),
        _read_json(trackers_dir / "adguard-companiesdb-companies.json"),
    )
    builder.add_disconnect(
        _read_json(trackers_dir / "disconnect-entities-2020-06-17.json"),
        _read_json(trackers_dir / "disconnect-services-2020-06-17.json"),
    )
    builder.add_builtin(builtin_owners)
    builder.merge_duplicates()
    builder.fix_names()
    builder.add_sites()
    builder.add_contacts(directory)
    return builder.document(), builder.stats


def _report(stats: Stats, document: dict, output: Path, size: int) -> None:
    print(f"AdGuard: {stats.adguard_domains} domains")
    print(f"Disconnect entities: {stats.entities_by_domains} matched by their domains, {stats.entities_by_name} "
          f"by name, {stats.entities_by_website} by website, {stats.entities_own} of their own")
    print(f"Disconnect resources: {stats.disconnect_domains_added} added, {stats.disconnect_domains_agreeing} "
          f"agreeing with AdGuard, {len(stats.disconnect_domains_overridden)} where AdGuard's company won")
    print(f"built-in list: {stats.builtin_added} domains added, owners of their own: {stats.builtin_own}")
    print(f"built-in list overrode {len(stats.builtin_overrode)}: {stats.builtin_overrode}")
    print(f"built-in owners took {len(stats.builtin_took_trackers)} domains of AdGuard trackers of their name: "
          f"{stats.builtin_took_trackers}")
    print(f"merged {len(stats.merged)} companies: " + "; ".join(stats.merged))
    print(f"capitalised {len(stats.renamed)} lowercase names: " + ", ".join(stats.renamed))
    print(f"{stats.tracker_sites} sites from trackers' home pages; {stats.legal_forms_dropped} names shown "
          "without their legal form")
    print(f"{len(stats.shared_websites)} websites shared by several companies (nobody's site)")
    contacts = sum(1 for row in document["companies"] if row[FIELDS.index("privacy_contact")]
                   or row[FIELDS.index("privacy_webform")])
    print(f"{contacts} companies with a privacy contact from the directory")
    print(f"wrote {len(document['companies'])} companies, {len(document['domains'])} domains, "
          f"{len(document['sites'])} sites, {size} bytes to {output}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--trackers", type=Path, default=DEFAULT_TRACKERS, help="the trackers data folder")
    parser.add_argument("--output", type=Path, default=DATA_FILE)
    parser.add_argument("--quiet", action="store_true")
    args = parser.parse_args(argv)
    try:
        try:
            directory = json.loads(gzip.decompress(COMPANIES_FILE.read_bytes()))
        except (OSError, EOFError, ValueError) as exc:
            raise InputFilesError(f"cannot read the company directory {COMPANIES_FILE}: {exc}") from None
        document, stats = build(args.trackers, tracker_owners(), directory)
    except InputFilesError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    size = write_shipped(args.output, document)
    if not args.quiet:
        _report(stats, document, args.output, size)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
