"""The company view of the ledger: which companies saw you, where, and what they got to hold.

Reads what `company_sightings` wrote (issue 12) and answers three questions, as plain data for the
CLI (`whoknows companies`, `company show`, `who`), the rights-request letters and the report:

- `list_companies`: every company seen, with its category, on how many of your sites, requests
  blocked / reached, cookies it tried to set and your values it was sent, first and last day;
- `company_record`: one company: each site where it saw you (days, blocked / reached, which of its
  domains, and the site's own hosts it hid behind, `cloaked`: CNAME), what it holds (cookie names, your values by reference, page URLs it learned) and its
  privacy contact;
- `site_companies`: the companies present on one site's pages, and which of them reached you (and
  behind which of the site's own hosts, when DNS said one is an alias of its domain).

`company_record` also carries the findings (`whoknows.findings`) of the company's domains and sites
in the ledger: what they hold that you never gave them, and which of its domains the proxy learned
are trackers (`whoknows.learned_trackers`).

Names come from the shipped tracker data (`tracker_companies`): the ledger keeps a company's id,
so a company is shown by one name everywhere (`display_name`), the name the data gives it, and
one category (`category_of`: that of most of its tracker domains in the data).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from . import learned_trackers, tracker_companies
from .errors import InputError, NotFoundError
from .ledger import Ledger
from .sites import display_domain

SORTS = ("sites", "reached", "blocked", "cookies", "values", "name", "first-seen", "last-seen")
UNKNOWN_CATEGORY = "unknown"


def display_name(company_id: str) -> str:
    """The one name whoknows shows for a company id: the tracker data's name (the id when the
    data no longer knows it, e.g. a ledger written with other data)."""
    found = tracker_companies.company_by_id(company_id)
    return found.name if found is not None else company_id


def category_of(company_id: str) -> str:
    """A company's category (`tracker_companies.company_category`: that of most of its domains)."""
    return tracker_companies.company_category(company_id) or UNKNOWN_CATEGORY


def cloaked_text(hosts: Iterable[str]) -> str:
    """Where a company hid on a site: "behind metrics.shop.example (CNAME)", the site's own hosts
    that DNS said are aliases of its tracker domain ("" when none)."""
    hosts = list(hosts)
    return f"behind {', '.join(hosts)} (CNAME)" if hosts else ""


def _cloaked(db, where: str = "1", parameters: tuple = ()) -> dict[tuple[int, str, str], list[str]]:
    """{(vendor id, company, domain): [the site's hosts it hid behind]} for the sightings `where`
    selects (all by default), through the index of the few rows that name one."""
    found: dict[tuple[int, str, str], list[str]] = {}
    for vendor_id, company, domain, host in db.execute(
            "SELECT DISTINCT vendor_id, company, domain, cloaked_behind FROM company_sightings "
            f"INDEXED BY company_sightings_cloaked WHERE cloaked_behind IS NOT NULL AND {where} "
            "ORDER BY vendor_id, company, domain, cloaked_behind", parameters):
        found.setdefault((vendor_id, company, domain), []).append(host)
    return found


def _identifier_counts(db) -> dict[str, dict[str, int]]:
    """{company: {kind: distinct identifiers}}: cookies it tried to set, values (by the kind-first index)."""
    counts: dict[str, dict[str, int]] = {}
    for company, kind, number in db.execute(
            "SELECT company, kind, count(*) FROM (SELECT DISTINCT kind, company, name, qualifier "
            "FROM company_identifiers WHERE kind IN ('cookie', 'value') AND (kind = 'value' OR qualifier = '')) "
            "GROUP BY company, kind"):
        counts.setdefault(company, {})[kind] = number
    return counts


def list_companies(ledger: Ledger, sort: str = "sites") -> list[dict[str, Any]]:
    """Every company the ledger saw, most sites first (`sort`: one of `SORTS`; ties: more sites,
    then more requests, then by name; dates: first seen earliest first, last seen latest first).

    One pass over the daily rows in primary-key order (company first: no sort) and one over the
    identifiers' index: `bench/bench_companies.py` times it over a year of 1,000 sites."""
    if sort not in SORTS:
        raise InputError(f"unknown sort {sort!r}; use one of: {', '.join(SORTS)}")
    with ledger.read() as db:
        totals = db.execute(
            "SELECT company, count(DISTINCT vendor_id), sum(blocked), sum(reached), min(day), max(day) "
            "FROM company_sightings GROUP BY company").fetchall()
        held = _identifier_counts(db)
    rows = [{
        "company": display_name(company), "id": company, "category": category_of(company),
        "sites": sites, "blocked": blocked, "reached": reached,
        "cookies": held.get(company, {}).get("cookie", 0), "values": held.get(company, {}).get("value", 0),
        "first_seen": first, "last_seen": last,
    } for company, sites, blocked, reached, first, last in totals]
    return sorted(rows, key=_sort_key(sort))


def _sort_key(sort: str):
    if sort == "name":
        return lambda row: (row["company"].casefold(), row["id"])
    if sort == "first-seen":
        return lambda row: (row["first_seen"], row["company"].casefold())
    if sort == "last-seen":
        return lambda row: (_descending(row["last_seen"]), row["company"].casefold())
    return lambda row: (-row[sort], -row["sites"], -(row["blocked"] + row["reached"]), row["company"].casefold())


def _descending(day: str) -> tuple[int, ...]:
    return tuple(-int(part) for part in day.split("-"))


def resolve_company(text: str) -> tracker_companies.TrackerCompany:
    """The company a user named: its name, id, one of its tracker domains or one of its sites.
    NotFoundError when the tracker data knows no such company."""
    found = tracker_companies.company(text)
    if found is None:
        raise NotFoundError(f"no company {text.strip()!r} in the tracker data: give its name "
                            "('Google'), one of its domains (doubleclick.net) or see 'whoknows companies'")
    return found


def company_record(ledger: Ledger, text: str) -> dict[str, Any]:
    """Everything the ledger holds about one company (what `whoknows company show` prints).

    NotFoundError when the data knows no such company; a known company never seen has no sites."""
    company = resolve_company(text)
    with ledger.read() as db:
        sites = {}
        cloaked = _cloaked(db, "company = ?", (company.id,))
        for vendor_id, site, domain, days, blocked, reached, first, last in db.execute(
                "SELECT v.id, v.domain, s.domain, count(*), sum(s.blocked), sum(s.reached), min(s.day), max(s.day) "
                "FROM company_sightings AS s JOIN vendors AS v ON v.id = s.vendor_id "
                "WHERE s.company = ? GROUP BY v.domain, s.domain ORDER BY v.domain, s.domain", (company.id,)):
            entry = sites.setdefault(site, {"site": site, "display": display_domain(site), "days": set(),
                                            "blocked": 0, "reached": 0, "first_seen": first,
                                            "last_seen": last, "domains": [], "cloaked": []})
            entry["blocked"] += blocked
            entry["reached"] += reached
            entry["first_seen"] = min(entry["first_seen"], first)
            entry["last_seen"] = max(entry["last_seen"], last)
            entry["domains"].append(domain)
            entry["cloaked"] += [{"domain": domain, "behind": host}
                                 for host in cloaked.get((vendor_id, company.id, domain), ())]
        for site, days in db.execute(
                "SELECT v.domain, count(DISTINCT s.day) FROM company_sightings AS s "
                "JOIN vendors AS v ON v.id = s.vendor_id WHERE s.company = ? GROUP BY v.domain", (company.id,)):
            sites[site]["days"] = days
        held = [dict(row) for row in db.execute(
            "SELECT v.domain AS site, i.domain, i.kind, i.name, i.qualifier, i.count, i.first_day, i.last_day "
            "FROM company_identifiers AS i JOIN vendors AS v ON v.id = i.vendor_id WHERE i.company = ? "
            "ORDER BY i.kind, i.name, i.qualifier, v.domain, i.domain", (company.id,))]
    return {
        "company": company.name,
        "id": company.id,
        "category": category_of(company.id),
        "website": company.website,
        "privacy_contact": company.privacy_contact,
        "privacy_webform": company.privacy_webform,
        "sites": sorted(sites.values(), key=lambda s: (-(s["blocked"] + s["reached"]), s["site"])),
        "blocked": sum(s["blocked"] for s in sites.values()),
        "reached": sum(s["reached"] for s in sites.values()),
        "first_seen": min((s["first_seen"] for s in sites.values()), default=None),
        "last_seen": max((s["last_seen"] for s in sites.values()), default=None),
        "received": {
            "cookies": _grouped(held, "cookie", lambda row: {"name": row["name"],
                                                              "how": "sent" if row["qualifier"] else "set"}),
            "values": _grouped(held, "value", _value_fields),
            "pages": _grouped(held, "page", lambda row: {"url": row["name"], "through": row["qualifier"]}),
        },
        "findings": company_findings(ledger, company),
        "learned_trackers": company_learned_trackers(ledger, company),
    }


def company_learned_trackers(ledger: Ledger, company: tracker_companies.TrackerCompany) -> list[dict[str, Any]]:
    """Those of the company's tracker domains the proxy learned are trackers (seen receiving
    identifying data on 3 or more of your sites; learned or let in by you), as `trackers --json`
    lists them. Few rows: the learned list is asked once, each domain looked up in the data."""
    found = []
    for tracker in learned_trackers.list_trackers(ledger, (learned_trackers.LEARNED, learned_trackers.ALLOWED)):
        entry = tracker_companies.tracker_domain(tracker.domain)
        if entry is not None and entry.company.id == company.id:
            found.append(tracker.to_json())
    return found


def company_findings(ledger: Ledger, company: tracker_companies.TrackerCompany) -> list[dict[str, Any]]:
    """The findings (values held and never given) of every vendor in the ledger that is one of the
    company's tracker domains or sites (doubleclick.net and google.com for Google)."""
    from .findings import all_findings

    def owned(domain: str) -> bool:
        tracker = tracker_companies.tracker_domain(domain)
        owner = tracker_companies.site_owner(domain)
        return (tracker is not None and tracker.company.id == company.id) or (owner is not None and owner.id == company.id)

    return [finding.to_json() for finding in all_findings(ledger).findings if owned(finding.vendor)]


def _value_fields(row: dict) -> dict[str, str]:
    kind, _, encoding = row["qualifier"].partition(" ")
    return {"kind": kind, "value": row["name"], "encoding": encoding}


def _grouped(rows: Iterable[dict], kind: str, fields) -> list[dict[str, Any]]:
    """One entry per identifier (however many sites and domains): where and when it was seen."""
    grouped: dict[tuple, dict[str, Any]] = {}
    for row in rows:
        if row["kind"] != kind:
            continue
        key = (row["name"], row["qualifier"])
        entry = grouped.get(key)
        if entry is None:
            entry = grouped[key] = {**fields(row), "sites": [], "domains": [], "count": 0,
                                    "first_seen": row["first_day"], "last_seen": row["last_day"]}
        if row["site"] not in entry["sites"]:
            entry["sites"].append(row["site"])
        if row["domain"] not in entry["domains"]:
            entry["domains"].append(row["domain"])
        entry["count"] += row["count"]
        entry["first_seen"] = min(entry["first_seen"], row["first_day"])
        entry["last_seen"] = max(entry["last_seen"], row["last_day"])
    return list(grouped.values())


def site_companies(ledger: Ledger, site: str) -> list[dict[str, Any]]:
    """The companies present on `site`'s pages (a normalised site), those that reached you first.

    NotFoundError when the ledger has no such site."""
    with ledger.read() as db:
        row = db.execute("SELECT id FROM vendors WHERE domain = ?", (site,)).fetchone()
        if row is None:
            raise NotFoundError(f"no site {display_domain(site)} in the ledger")
        companies: dict[str, dict[str, Any]] = {}
        cloaked = _cloaked(db, "vendor_id = ?", (row[0],))
        for company, domain, blocked, reached, first, last in db.execute(
                "SELECT company, domain, sum(blocked), sum(reached), min(day), max(day) FROM company_sightings "
                "WHERE vendor_id = ? GROUP BY company, domain ORDER BY company, domain", (row[0],)):
            entry = companies.setdefault(company, {"domains": [], "blocked": 0, "reached": 0,
                                                   "first_seen": first, "last_seen": last, "cloaked": []})
            entry["domains"].append(domain)
            entry["cloaked"] += [{"domain": domain, "behind": host} for host in cloaked.get((row[0], company, domain), ())]
            entry["blocked"] += blocked
            entry["reached"] += reached
            entry["first_seen"] = min(entry["first_seen"], first)
            entry["last_seen"] = max(entry["last_seen"], last)
    rows = [{
        "company": display_name(company), "id": company, "category": category_of(company),
        "domains": entry["domains"], "cloaked": entry["cloaked"], "blocked": entry["blocked"],
        "reached": entry["reached"], "reached_you": entry["reached"] > 0, "first_seen": entry["first_seen"], "last_seen": entry["last_seen"],
    } for company, entry in companies.items()]
    return sorted(rows, key=lambda r: (not r["reached_you"], -(r["reached"] + r["blocked"]), r["company"].casefold()))


def site_company_links(ledger: Ledger) -> list[dict[str, Any]]:
    """Every (site, company) pair the ledger saw, with the requests blocked and reached there: the
    edges of the picture (`company_picture`). Sites by name, then companies by id."""
    with ledger.read() as db:
        # Grouped in primary-key order (company, vendor_id): one pass, no sort (bench/bench_report.py).
        rows = db.execute("SELECT company, vendor_id, sum(blocked), sum(reached) FROM company_sightings "
                          "GROUP BY company, vendor_id").fetchall()
        domains = dict(db.execute("SELECT id, domain FROM vendors"))
    names = {company: display_name(company) for company in {row[0] for row in rows}}
    shown = {vendor_id: display_domain(domains[vendor_id]) for vendor_id in {row[1] for row in rows}}
    links = [{"site": domains[vendor_id], "display": shown[vendor_id], "id": company,
              "company": names[company], "blocked": blocked, "reached": reached}
             for company, vendor_id, blocked, reached in rows]
    return sorted(links, key=lambda link: (link["site"], link["id"]))


def cloaked_sightings(ledger: Ledger) -> list[dict[str, Any]]:
    """Where a company hid behind a host of one of your sites (a CNAME to its tracker domain): one
    row per site, host, company and domain, with the first and last day seen. By site, then host."""
    with ledger.read() as db:
        rows = db.execute(
            "SELECT v.domain, s.cloaked_behind, s.company, s.domain, min(s.day), max(s.day) "
            "FROM company_sightings AS s INDEXED BY company_sightings_cloaked JOIN vendors AS v ON v.id = s.vendor_id "
            "WHERE s.cloaked_behind IS NOT NULL GROUP BY v.domain, s.cloaked_behind, s.company, s.domain "
            "ORDER BY v.domain, s.cloaked_behind, s.company, s.domain").fetchall()
    return [{"site": site, "display": display_domain(site), "behind": host, "id": company,
             "company": display_name(company), "domain": domain, "first_seen": first, "last_seen": last}
            for site, host, company, domain, first, last in rows]


def identifiers_by_company(ledger: Ledger) -> dict[str, dict[str, Any]]:
    """What each company got to hold, over all your sites (the picture's "what they hold"): the
    names of its cookies (set or sent), your values it was sent (kind and encoding, by reference)
    and how many page URLs it learned. {company id: {"cookies": [..], "values": [..], "pages": N}}."""
    held: dict[str, dict[str, Any]] = {}
    with ledger.read() as db:
        # All three read the kind-first index in its order: no sort, no temporary table.
        named = db.execute("SELECT DISTINCT kind, company, name, qualifier FROM company_identifiers "
                           "WHERE kind IN ('cookie', 'value')").fetchall()
        pages = db.execute("SELECT company, count(DISTINCT name) FROM company_identifiers WHERE kind = 'page' "
                           "GROUP BY company").fetchall()
    for kind, company, name, qualifier in named:
        entry = held.setdefault(company, {"cookies": [], "values": [], "pages": 0})
        if kind == "value":
            entry["values"].append(_value_fields({"name": name, "qualifier": qualifier}))
        elif name not in entry["cookies"]:  # set and sent: one name
            entry["cookies"].append(name)
    for company, count in pages:
        held.setdefault(company, {"cookies": [], "values": [], "pages": 0})["pages"] = count
    return held


def group_third_parties(third_parties: Iterable[dict[str, Any]]) -> list[dict[str, Any]]:
    """Third parties grouped by company, for the popup ("Google: 9 blocked, 2 reached").

    Takes the control API's `third_parties` entries (`domain`, `company`, `category`, `blocked`,
    `allowed`); third parties of no known company are left out. Most requests first."""
    grouped: dict[str, dict[str, Any]] = {}
    for entry in third_parties:
        name = entry.get("company")
        if not name:
            continue
        group = grouped.setdefault(name, {"company": name, "category": entry.get("category"),
                                          "blocked": 0, "reached": 0, "domains": []})
        group["blocked"] += entry.get("blocked") or 0
        group["reached"] += entry.get("allowed") or 0
        group["domains"].append(entry.get("domain"))
    return sorted(grouped.values(), key=lambda g: (-(g["blocked"] + g["reached"]), g["company"].casefold()))


__all__ = [
    "SORTS", "category_of", "cloaked_sightings", "cloaked_text", "company_learned_trackers", "company_record", "display_name", "group_third_parties", "list_companies",
    "identifiers_by_company", "resolve_company", "site_companies", "site_company_links",
]
