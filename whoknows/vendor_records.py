"""Vendors in the ledger: add, list (with counts), the whole record of one, forget.

A vendor is its registrable domain (see `sites.normalise_vendor`); every other table hangs off
`vendors.id` with ON DELETE CASCADE, so forgetting a vendor removes everything linked to it.
"""

from collections.abc import Mapping
from dataclasses import asdict, dataclass, field

from . import directory, tracker_companies
from .disclosures import parse_json
from .errors import NotFoundError, WhoknowsError
from .export_records import vendor_exports
from .findings import for_vendor
from .leak_records import vendor_leaks
from .learned_trackers import ALLOWED, LEARNED, LearnedTracker, list_trackers
from .ledger import Ledger, now
from .mail_records import vendor_alias_mail
from .observations import learned_status
from .preferences import get_preferences
from .sites import display_domain
from .terms_records import offers_to

# What the user can say about a vendor (vendors table columns); `company`, `privacy_contact` and
# `postal_address` override the company directory. `sales_contact` (where intents go) is the user's
# alone: the directory records privacy contacts only.
OVERRIDES = ("name", "company", "privacy_contact", "postal_address", "sales_contact")


@dataclass(frozen=True)
class VendorSummary:
    vendor: str
    name: str | None
    created_at: str
    aliases: int
    disclosures: int
    third_parties: int


@dataclass
class CompanyInfo:
    """Who is behind a vendor: the directory's entry with the user's overrides applied."""

    name: str | None = None
    privacy_contact: str | None = None
    address: str | None = None
    sales_contact: str | None = None  # where to tell it what you intend to buy; only ever yours
    countries: list[str] = field(default_factory=list)
    categories: list[str] = field(default_factory=list)
    domains: list[str] = field(default_factory=list)
    sources: dict[str, str] = field(default_factory=dict)  # field -> "you" | "directory" | "tracker data"
    owner: str | None = None  # the company owning the site, by the tracker data (youtube.com: Google)


def require_vendor(ledger: Ledger, domain: str) -> int:
    """The vendor's row id; NotFoundError when the ledger has no such vendor."""
    vendor_id = ledger.vendor_id(domain)
    if vendor_id is None:
        raise NotFoundError(f"no vendor {display_domain(domain)} in the ledger")
    return vendor_id


def sales_contact(ledger: Ledger, domain: str) -> str | None:
    """Where the user said to write to the vendor about buying (`vendor add --sales-contact`), or None.

    Never its privacy contact: that address is for data-rights requests, not for a customer's intent.
    """
    with ledger.read() as db:
        row = db.execute("SELECT sales_contact FROM vendors WHERE domain = ?", (domain,)).fetchone()
    return row[0] if row else None


def add_vendor(ledger: Ledger, domain: str, **overrides) -> bool:
    """Add the vendor (or update it); `overrides` sets any of OVERRIDES (None: leave, '': clear).

    True if the vendor is new.
    """
    unknown = set(overrides) - set(OVERRIDES)
    if unknown:
        raise TypeError(f"unknown vendor fields: {sorted(unknown)}")
    with ledger.write() as db:
        new = db.execute(
            "INSERT INTO vendors (domain, created_at) VALUES (?, ?) ON CONFLICT(domain) DO NOTHING",
            (domain, now()),
        ).rowcount == 1
        for column, value in overrides.items():
            if value is not None:
                db.execute(
                    f"UPDATE vendors SET {column} = ? WHERE domain = ?",  # column from OVERRIDES only
                    (value.strip() or None, domain),
                )
    return new


_SUMMARY_SQL = """
    SELECT page.domain, page.name, page.created_at,
        (SELECT count(*) FROM aliases AS a WHERE a.vendor_id = page.id),
        (SELECT count(*) FROM disclosures AS d WHERE d.vendor_id = page.id),
        (SELECT count(*) FROM observations AS o WHERE o.vendor_id = page.id AND o.kind = 'third-party')
    FROM (SELECT id, domain, name, created_at FROM vendors ORDER BY domain LIMIT ? OFFSET ?) AS page
    ORDER BY page.domain
"""


def list_vendors(ledger: Ledger, limit: int | None = None, offset: int = 0) -> tuple[list[VendorSummary], int]:
    """A page of vendors by domain, with their counts, and how many vendors there are in all.

    The page is chosen first and counted after, so a page costs index look-ups for its own vendors
    only, however big the ledger.
    """
    with ledger.read() as db:
        total = db.execute("SELECT count(*) FROM vendors").fetchone()[0]
        rows = db.execute(_SUMMARY_SQL, (-1 if limit is None else limit, offset)).fetchall()
    return [VendorSummary(*row) for row in rows], total


def company_info(domain: str, row) -> CompanyInfo:
    """The directory's entry for `domain` with the user's overrides in `row` (a vendors row) applied."""
    info = CompanyInfo()
    entry = directory.lookup(domain)
    if entry is not None:
        info.name, info.privacy_contact, info.address = entry.name, entry.privacy_contact, entry.address
        info.countries = list(entry.countries or [])
        info.categories = list(entry.categories or [])
        info.domains = list(entry.domains or [])
        info.sources = {key: "directory" for key in ("name", "privacy_contact", "address") if getattr(info, key)}
    for column, attribute in (("company", "name"), ("privacy_contact", "privacy_contact"), ("postal_address", "address"),
                              ("sales_contact", "sales_contact")):
        if row[column]:
            setattr(info, attribute, row[column])
            info.sources[attribute] = "you"
    # A site a tracker company owns says so, and fills in what neither the user nor the directory gave.
    owner = tracker_companies.site_owner(domain)
    if owner is not None:
        info.owner = owner.name
        for attribute, value in (("name", owner.name), ("privacy_contact", owner.privacy_contact)):
            if value and not getattr(info, attribute):
                setattr(info, attribute, value)
                info.sources[attribute] = "tracker data"
    return info


def vendor_record(ledger: Ledger, domain: str, top: int | None = None) -> dict:
    """Everything the ledger knows about one vendor, as plain data (what `vendor show` prints).

    `top` limits each observation list to the most frequent entries (totals still count all).
    """
    learned = {t.domain: t for t in list_trackers(ledger, (LEARNED, ALLOWED))}
    with ledger.read() as db:
        row = db.execute("SELECT * FROM vendors WHERE domain = ?", (domain,)).fetchone()
        if row is None:
            raise NotFoundError(f"no vendor {display_domain(domain)} in the ledger")
        vendor_id = row["id"]
        aliases = [dict(r) for r in db.execute(
            "SELECT address, state, created_at, state_changed_at FROM aliases "
            "WHERE vendor_id = ? ORDER BY created_at, address", (vendor_id,))]
        disclosures = [
            {**dict(r), "evidence": parse_json(r["evidence"])}
            for r in db.execute(
                "SELECT kind, value, source, first_seen, last_seen, evidence FROM disclosures "
                "WHERE vendor_id = ? ORDER BY kind, value, source", (vendor_id,))
        ]
        preferences = get_preferences(db, vendor_id)
        observations = {kind: _observations(db, vendor_id, kind, top, learned) for kind in _OBSERVATION_SECTIONS}
        leaks = vendor_leaks(db, vendor_id)
        alias_mail = [entry.to_json() for entry in vendor_alias_mail(db, vendor_id)]
        exports = vendor_exports(db, vendor_id)
    try:
        findings, findings_unavailable = [finding.to_json() for finding in for_vendor(ledger, domain)], None
    except WhoknowsError as exc:  # the key store cannot be read now: the rest of the record still shows
        findings, findings_unavailable = [], str(exc)
    terms = [offer.to_json() for offer in offers_to(ledger, domain)]
    company = company_info(domain, row)
    return {
        "vendor": domain,
        "display": display_domain(domain),
        "name": row["name"],
        "created_at": row["created_at"],
        "company": asdict(company),
        "aliases": aliases,
        "disclosures": disclosures,
        "preferences": preferences,
        "observations": observations,
        # it is a learned tracker itself (seen tracking on 3+ of your sites), or None
        "learned_tracker": learned[domain].to_json() if domain in learned else None,
        "leaks": leaks,
        "alias_mail": alias_mail,  # scanned mail to its aliases: from someone else, it shared or leaked them
        "exports": exports,  # what it says it holds: its data exports read (whoknows.export_records)
        "findings": findings,  # what it holds that it was never given (whoknows.findings)
        "personal_terms": terms,  # the terms the proxy proffered it, since when, and whether it agreed
        "findings_unavailable": findings_unavailable,  # why they could not be worked out, or None
    }


# section name in a vendor record -> observation kind in the ledger
_OBSERVATION_SECTIONS = {"third_parties": "third-party", "cookies": "cookie", "parameters": "parameter"}


def _observations(db, vendor_id: int, section: str, top: int | None,
                  learned: Mapping[str, LearnedTracker] | None = None) -> dict:
    """Totals and the most frequent entries of one kind of observation on a vendor's pages.

    `blocked` comes from the proxy's `detail` JSON: a count of blocked requests (or true/false).
    A third party's entry says whether it is a learned tracker (`learned`: its `status()`, from
    `learned`, the learned and allowed trackers by domain; None when it is not one).
    """
    kind = _OBSERVATION_SECTIONS[section]
    totals = db.execute(
        "SELECT count(*), coalesce(sum(count), 0), "
        "coalesce(sum(CAST(json_extract(detail, '$.blocked') AS INTEGER)), 0) "
        "FROM observations WHERE vendor_id = ? AND kind = ?",
        (vendor_id, kind),
    ).fetchone()
    entries = []
    for r in db.execute(
        "SELECT subject, count, first_seen, last_seen, detail FROM observations "
        "WHERE vendor_id = ? AND kind = ? ORDER BY count DESC, subject LIMIT ?",
        (vendor_id, kind, -1 if top is None else top),
    ):
        detail = parse_json(r["detail"])
        entry = {
            "subject": r["subject"], "count": r["count"],
            "blocked": detail.get("blocked") if isinstance(detail, dict) else None,
            "first_seen": r["first_seen"], "last_seen": r["last_seen"], "detail": detail,
        }
        if kind == "third-party":
            entry.update(tracker_companies.third_party_attribution(r["subject"], detail))
            entry["learned"] = learned_status((learned or {}).get(r["subject"]))
        entries.append(entry)
    return {"distinct": totals[0], "seen": totals[1], "blocked": totals[2], "top": entries}


def forget_vendor(ledger: Ledger, domain: str) -> dict[str, int]:
    """Delete the vendor and everything linked to it; returns how many rows of each went."""
    with ledger.write() as db:
        row = db.execute("SELECT id FROM vendors WHERE domain = ?", (domain,)).fetchone()
        if row is None:
            raise NotFoundError(f"no vendor {display_domain(domain)} in the ledger")
        counts = linked_counts(db, row[0])
        db.execute("DELETE FROM vendors WHERE id = ?", (row[0],))  # ON DELETE CASCADE does the rest
    return counts


def linked_counts(db, vendor_id: int) -> dict[str, int]:
    """How many rows of each table hang off a vendor."""
    return {
        table: db.execute(f"SELECT count(*) FROM {table} WHERE vendor_id = ?", (vendor_id,)).fetchone()[0]
        for table in ("aliases", "disclosures", "preferences", "observations", "data_exports", "company_sightings")
    }
