"""Scanned mail in the ledger: which vendor leaked an alias, and how often each vendor writes.

`store_scan` takes a `mailscan.ScanResult` and keeps, per message, only what later questions need:
its identity (Message-ID, else a hash), date, the sender's registrable domain and whether it is
marketing (`mail_messages`); and, for each alias it reached, who sent it and the verdict
(`mail_alias_hits`: vendor, foreign, unknown). No bodies, no subjects, and no address of the
user's other than the aliases (the recipients of ordinary mail are the user's real addresses,
which the ledger keeps only encrypted).

Mail from someone else to a vendor's alias (a foreign sender) is evidence that the vendor shared
or leaked the alias: the sender's site gets a disclosure of the alias, source `mail`, first seen
at the earliest such message, with evidence naming the alias's vendor.

Re-scanning is idempotent: a message already in the ledger adds no row, its hits are inserted
only if new (an alias made after the first scan is still picked up), and disclosures keep the
widest first/last dates.

`monthly_counts` and `check_preferences` answer `whoknows prefs --check`: per vendor and month,
messages and marketing messages, against the vendor's stated preferences.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime

from .leak_records import upsert_disclosure, vendor_ids
from .ledger import Ledger, now, stamp
from .mailscan import AliasHit, ScanResult, attribute


@dataclass
class StoredScan:
    """What one scan added: messages read, new to the ledger, already known; hits and disclosures."""

    read: int = 0
    new_messages: int = 0
    known_messages: int = 0
    duplicates: int = 0  # the same message more than once in this scan
    new_hits: int = 0
    foreign_hits: int = 0
    undated: int = 0
    skipped: list[tuple[str, str]] = field(default_factory=list)  # (where, why)


def _stamp(moment: datetime | None) -> str | None:
    return None if moment is None else stamp(moment)


def alias_vendors(ledger: Ledger) -> dict[str, str]:
    """Every alias address (any state: a retired alias still receives mail) -> its vendor."""
    rows = ledger.query("SELECT a.address, v.domain FROM aliases AS a JOIN vendors AS v ON v.id = a.vendor_id")
    return {row[0]: row[1] for row in rows}


def _default_same_company(vendor: str, site: str) -> bool:
    from .directory import same_company

    return same_company(vendor, site)


def store_scan(ledger: Ledger, result: ScanResult,
               same_company: Callable[[str, str], bool] = _default_same_company) -> StoredScan:
    """Write a scan to the ledger in one transaction; see the module's docstring."""
    aliases = alias_vendors(ledger)
    hits = attribute(result.messages, aliases, same_company)
    senders = {message.identity: message.sender for message in result.messages}
    stored = StoredScan(read=len(result.messages), duplicates=result.duplicates, undated=result.undated,
                        skipped=[(s.source, s.reason) for s in result.skipped])
    stamp = now()
    with ledger.write() as db:
        before = db.execute("SELECT count(*) FROM mail_messages").fetchone()[0]
        db.executemany(
            "INSERT INTO mail_messages (identity, sent_at, sender_site, marketing, scanned_at) "
            "VALUES (?, ?, ?, ?, ?) ON CONFLICT(identity) DO NOTHING",
            ((m.identity, _stamp(m.date), m.sender_site, int(m.marketing), stamp) for m in result.messages))
        stored.new_messages = db.execute("SELECT count(*) FROM mail_messages").fetchone()[0] - before
        stored.known_messages = stored.read - stored.new_messages
        if hits:
            _store_hits(db, hits, senders, stored)
    return stored


def _store_hits(db, hits: list[AliasHit], senders: Mapping[str, str], stored: StoredScan) -> None:
    sites = {hit.vendor for hit in hits} | {hit.sender_site for hit in hits if hit.verdict == "foreign"}
    ids = vendor_ids(db, sites)
    for hit in hits:
        message_id = db.execute("SELECT id FROM mail_messages WHERE identity = ?", (hit.identity,)).fetchone()[0]
        added = db.execute(
            "INSERT INTO mail_alias_hits (message_id, alias, vendor_id, sender, verdict) VALUES (?, ?, ?, ?, ?) "
            "ON CONFLICT(message_id, alias) DO NOTHING",
            (message_id, hit.alias, ids[hit.vendor], senders.get(hit.identity, ""), hit.verdict)).rowcount
        stored.new_hits += added
        if hit.verdict != "foreign":
            continue
        stored.foreign_hits += added
        when = _stamp(hit.date) or now()
        evidence = {"alias_of": hit.vendor, "sender": senders.get(hit.identity, ""), "message": hit.identity}
        upsert_disclosure(db, ids[hit.sender_site], "alias", hit.alias, "mail", evidence, when, when)


# -- reading -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class AliasMail:
    alias: str
    vendor: str
    state: str
    messages: int
    vendor_messages: int
    foreign_messages: int
    foreign_senders: list[str]
    first_foreign: str | None

    def to_json(self) -> dict:
        return dict(self.__dict__)


_ALIAS_SUMMARY = """
    SELECT a.address, v.domain, a.state,
        count(h.message_id),
        coalesce(sum(h.verdict = 'vendor'), 0),
        coalesce(sum(h.verdict = 'foreign'), 0),
        (SELECT group_concat(site, ' ') FROM (
            SELECT DISTINCT m2.sender_site AS site FROM mail_alias_hits AS h2
            JOIN mail_messages AS m2 ON m2.id = h2.message_id
            WHERE h2.alias = a.address AND h2.verdict = 'foreign' ORDER BY site)),
        min(CASE WHEN h.verdict = 'foreign' THEN m.sent_at END)
    FROM aliases AS a JOIN vendors AS v ON v.id = a.vendor_id
    LEFT JOIN mail_alias_hits AS h ON h.alias = a.address
    LEFT JOIN mail_messages AS m ON m.id = h.message_id
    GROUP BY a.address ORDER BY a.address
"""


def alias_summary(ledger: Ledger) -> list[AliasMail]:
    """Per alias, over every scan so far: messages, from the vendor, from others, who, since when."""
    return [
        AliasMail(row[0], row[1], row[2], row[3], row[4], row[5], (row[6] or "").split(), row[7])
        for row in ledger.query(_ALIAS_SUMMARY)
    ]


@dataclass(frozen=True)
class MonthCount:
    vendor: str
    month: str  # YYYY-MM (UTC)
    messages: int
    marketing: int
    dates: list[str]  # each message's date
    marketing_dates: list[str]


# A message counts for the vendor whose alias it reached when that vendor sent it (mail from
# news.shop.example or a sister brand counts for the shop the user knows), else for its sender's site.
_MONTHLY = """
    SELECT coalesce(own.vendor, m.sender_site) AS vendor, substr(m.sent_at, 1, 7) AS month,
        m.sent_at, m.marketing
    FROM mail_messages AS m
    LEFT JOIN (SELECT h.message_id, min(v.domain) AS vendor FROM mail_alias_hits AS h
               JOIN vendors AS v ON v.id = h.vendor_id WHERE h.verdict = 'vendor'
               GROUP BY h.message_id) AS own ON own.message_id = m.id
    WHERE m.sent_at IS NOT NULL AND coalesce(own.vendor, m.sender_site) IS NOT NULL
    ORDER BY vendor, m.sent_at
"""


def monthly_counts(ledger: Ledger, vendors: set[str] | None = None) -> list[MonthCount]:
    """Messages and marketing messages per vendor per month, with their dates (undated: left out)."""
    dates: dict[tuple[str, str], list[tuple[str, int]]] = {}
    for vendor, month, sent_at, marketing in ledger.query(_MONTHLY):
        if vendors is None or vendor in vendors:
            dates.setdefault((vendor, month), []).append((sent_at, marketing))
    return [
        MonthCount(vendor, month, len(seen), sum(m for _, m in seen), [d for d, _ in seen],
                   [d for d, m in seen if m])
        for (vendor, month), seen in dates.items()
    ]


@dataclass(frozen=True)
class PreferenceBreach:
    vendor: str
    rule: str  # "max-per-month" | "no-marketing"
    month: str | None  # max-per-month: the month over the limit
    messages: int
    limit: int | None  # max-per-month: the limit
    since: str | None  # no-marketing: when the preference was last set
    dates: list[str]

    def describe(self) -> str:
        from .vendors import display_domain

        shown = ", ".join(d[:10] for d in self.dates)
        if self.rule == "max-per-month":
            return (f"{display_domain(self.vendor)} sent {self.messages} messages in {self.month}, over your "
                    f"limit of {self.limit} a month: {shown}")
        return (f"{display_domain(self.vendor)} sent {self.messages} marketing messages after you said no "
                f"(on {self.since[:10]} or earlier): {shown}")

    def to_json(self) -> dict:
        return {**self.__dict__, "summary": self.describe()}


def check_preferences(ledger: Ledger) -> tuple[list[PreferenceBreach], int]:
    """Vendors over their max per month, or sending marketing after `--no-marketing`; and how many
    vendors have a limit or a no to check.

    "After": after the preferences were last changed (the ledger keeps one `updated_at` per vendor),
    so a later change of another field can hide older breaches, never invent one.
    """
    rules = {row[0]: (row[1], row[2], row[3]) for row in ledger.query(
        "SELECT v.domain, p.max_per_month, p.marketing, p.updated_at FROM preferences AS p "
        "JOIN vendors AS v ON v.id = p.vendor_id WHERE p.max_per_month IS NOT NULL OR p.marketing = 0")}
    breaches: list[PreferenceBreach] = []
    marketing_after: dict[str, list[str]] = {}
    for month in monthly_counts(ledger, set(rules)):
        limit, marketing, since = rules[month.vendor]
        if limit is not None and month.messages > limit:
            breaches.append(PreferenceBreach(month.vendor, "max-per-month", month.month, month.messages,
                                             limit, None, month.dates))
        if marketing == 0:
            marketing_after.setdefault(month.vendor, []).extend(d for d in month.marketing_dates if d > since)
    for vendor, dates in marketing_after.items():
        if dates:
            breaches.append(PreferenceBreach(vendor, "no-marketing", None, len(dates), None,
                                             rules[vendor][2], dates))
    breaches.sort(key=lambda b: (b.vendor, b.rule, b.month or ""))
    return breaches, len(rules)


__all__ = [
    "AliasMail", "MonthCount", "PreferenceBreach", "StoredScan", "alias_summary", "alias_vendors",
    "check_preferences", "monthly_counts", "store_scan",
]
