"""Scanned mail in the ledger: which vendor leaked an alias, and how often each vendor writes.

`store_scan` takes a `mailscan.ScanResult` and keeps, per message, only what later questions need:
its identity (Message-ID, else a hash), date, the sender's registrable domain and whether it is
marketing (`mail_messages`); the answers to intents it finds (`whoknows.intent_records`, by
In-Reply-To, References or alias); and, for each alias it reached, who sent it and the verdict
(`mail_alias_hits`: vendor, foreign, unknown). No bodies, no subjects, and no address of the
user's other than the aliases (the recipients of ordinary mail are the user's real addresses,
which the ledger keeps only encrypted).

Mail from someone else to a vendor's alias (a foreign sender) is evidence that the vendor shared
or leaked the alias: the sender's site gets a disclosure of the alias, source `mail`, first seen
at the earliest such message, with evidence naming the alias's vendor.

Your values found in the subject or body of a message that reached an alias (`mailscan.BodyWatch`)
are kept as `mail_value_hits`: the message, the vendor that holds the value (the alias's vendor when
it sent the message, the sender's site when someone else did), the alias, and the value by
reference with its encoding and place; never the text. `whoknows.findings` compares them with what
each vendor was given.

Re-scanning is idempotent: a message already in the ledger adds no row, its hits are inserted
only if new (an alias made after the first scan is still picked up), and disclosures keep the
widest first/last dates.

`check_preferences` answers `whoknows prefs --check`: each vendor's messages, month by month,
against its preferences in force when each arrived.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime

from .disclosures import record_seen_disclosure
from .intent_records import record_answers
from .ledger import Ledger, now, stamp, vendor_ids
from .mailscan import AliasHit, ScanResult, attribute
from .preferences import Stated, history


@dataclass
class StoredScan:
    """What one scan added: messages read, new to the ledger, already known; hits and disclosures."""

    read: int = 0
    new_messages: int = 0
    known_messages: int = 0
    duplicates: int = 0  # the same message more than once in this scan
    new_hits: int = 0
    foreign_hits: int = 0
    new_value_hits: int = 0  # your values newly found in mail to an alias
    undated: int = 0
    intent_answers: int = 0  # new matches of scanned mail to intents (whoknows.intent_records)
    skipped: list[tuple[str, str]] = field(default_factory=list)  # (where, why)


def _stamp(moment: datetime | None) -> str | None:
    return None if moment is None else stamp(moment)


def alias_vendors(ledger: Ledger) -> dict[str, str]:
    """Every alias address (any state: a retired alias still receives mail) -> its vendor."""
    rows = ledger.query("SELECT a.address, v.domain FROM aliases AS a JOIN vendors AS v ON v.id = a.vendor_id")
    return {row[0]: row[1] for row in rows}


def body_watch(ledger: Ledger):
    """A `mailscan.BodyWatch` for your values (`me.watched_values`, with this machine's key) in
    mail to your aliases; None when there are no aliases (no mail to search)."""
    from .leakscan import LeakScanner
    from .me import load_keys, watched_values
    from .mailscan import BodyWatch

    aliases = alias_vendors(ledger)
    if not aliases:
        return None
    watched, _ = watched_values(ledger, load_keys(create=False))
    return BodyWatch(LeakScanner(watched), aliases)


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
            _store_value_hits(db, hits, {m.identity: m.found for m in result.messages if m.found}, stored)
        stored.intent_answers = record_answers(db, result.messages)
    return stored


def _store_value_hits(db, hits: list[AliasHit], found: Mapping[str, tuple], stored: StoredScan) -> None:
    """Your values in a message that reached an alias are held by whoever sent it: the alias's
    vendor (or its company), or the foreign sender's site; a sender with no site is left out."""
    holders = {}
    for hit in hits:
        if hit.identity in found and hit.verdict != "unknown":
            holders[(hit.identity, hit.alias)] = hit.vendor if hit.verdict == "vendor" else hit.sender_site
    if not holders:
        return
    ids = vendor_ids(db, set(holders.values()))
    for (identity, alias), holder in sorted(holders.items()):
        message_id = db.execute("SELECT id FROM mail_messages WHERE identity = ?", (identity,)).fetchone()[0]
        for value in found[identity]:
            stored.new_value_hits += db.execute(
                "INSERT INTO mail_value_hits (message_id, vendor_id, alias, kind, value_ref, encoding, form, place) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING",
                (message_id, ids[holder], alias, value.kind, getattr(value.value_id, "ref", str(value.value_id)),
                 value.encoding, value.form, value.place)).rowcount


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
        record_seen_disclosure(db, ids[hit.sender_site], "alias", hit.alias, "mail", evidence, when, when)


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
    {where}
    GROUP BY a.address ORDER BY a.address
"""


def _alias_mail(row) -> AliasMail:
    return AliasMail(row[0], row[1], row[2], row[3], row[4], row[5], (row[6] or "").split(), row[7])


def alias_summary(ledger: Ledger) -> list[AliasMail]:
    """Per alias, over every scan so far: messages, from the vendor, from others, who, since when."""
    return [_alias_mail(row) for row in ledger.query(_ALIAS_SUMMARY.format(where=""))]


def vendor_mail_values(db, vendor_id: int) -> list[dict]:
    """Your values found in mail the vendor sent to an alias: one entry per (value, message), oldest
    first (in the caller's read transaction)."""
    rows = db.execute(
        "SELECT h.kind, h.value_ref, m.identity, m.sent_at, m.scanned_at, h.alias, "
        "group_concat(DISTINCT h.place) AS places, group_concat(DISTINCT h.encoding) AS encodings "
        "FROM mail_value_hits AS h JOIN mail_messages AS m ON m.id = h.message_id WHERE h.vendor_id = ? "
        "GROUP BY h.value_ref, m.id ORDER BY coalesce(m.sent_at, m.scanned_at), h.value_ref", (vendor_id,))
    return [{"kind": r[0], "value": r[1], "message": r[2], "sent_at": r[3], "scanned_at": r[4], "alias": r[5],
             "places": sorted(r[6].split(",")), "encodings": sorted(r[7].split(","))} for r in rows]


def vendor_alias_mail(db, vendor_id: int) -> list[AliasMail]:
    """`alias_summary` of one vendor's aliases that got mail (in the caller's read transaction)."""
    rows = db.execute(_ALIAS_SUMMARY.format(where="WHERE a.vendor_id = ?"), (vendor_id,)).fetchall()
    return [entry for entry in map(_alias_mail, rows) if entry.messages]


# A message counts for the vendor whose alias it reached when that vendor sent it (mail from
# news.shop.example or a sister brand counts for the shop the user knows), else for its sender's site.
_MESSAGES_BY_VENDOR = """
    SELECT coalesce(own.vendor, m.sender_site) AS vendor, m.sent_at, m.marketing
    FROM mail_messages AS m
    LEFT JOIN (SELECT h.message_id, min(v.domain) AS vendor FROM mail_alias_hits AS h
               JOIN vendors AS v ON v.id = h.vendor_id WHERE h.verdict = 'vendor'
               GROUP BY h.message_id) AS own ON own.message_id = m.id
    WHERE m.sent_at IS NOT NULL AND coalesce(own.vendor, m.sender_site) IS NOT NULL
    ORDER BY vendor, m.sent_at
"""


def _messages_by_vendor(ledger: Ledger, vendors: set[str] | None) -> dict[str, list[tuple[str, bool]]]:
    """Each vendor's dated messages, oldest first: (date, marketing)."""
    found: dict[str, list[tuple[str, bool]]] = {}
    for vendor, sent_at, marketing in ledger.query(_MESSAGES_BY_VENDOR):
        if vendors is None or vendor in vendors:
            found.setdefault(vendor, []).append((sent_at, bool(marketing)))
    return found


@dataclass(frozen=True)
class PreferenceBreach:
    vendor: str
    rule: str  # "max-per-month" | "no-marketing"
    month: str | None  # max-per-month: the month over the limit
    messages: int
    limit: int | None  # max-per-month: the limit
    since: str  # when the limit, or the no, came into force
    dates: list[str]

    def describe(self) -> str:
        from .sites import display_domain

        shown = ", ".join(d[:10] for d in self.dates)
        if self.rule == "max-per-month":
            return (f"{display_domain(self.vendor)} sent {self.messages} messages in {self.month}, over your "
                    f"limit of {self.limit} a month (set on {self.since[:10]}): {shown}")
        return (f"{display_domain(self.vendor)} sent {self.messages} marketing messages after you said no "
                f"on {self.since[:10]}: {shown}")

    def to_json(self) -> dict:
        return {**self.__dict__, "summary": self.describe()}


def check_preferences(ledger: Ledger) -> tuple[list[PreferenceBreach], int]:
    """Vendors that sent more in a month than the limit in force, or marketing while a no to it was
    in force; and how many vendors have (or had) a limit or a no to check.

    Each message is judged by the vendor's preferences in force when it arrived (the history kept by
    `whoknows.preferences`), so a later change of any preference neither forgives an earlier breach
    nor makes one of mail that came before a rule. A month's count includes its messages from
    before the limit was set: "at most N a month" counts the whole month.
    """
    histories = {vendor: entries for vendor, entries in history(ledger).items()
                 if any(e.max_per_month is not None or e.marketing is False for e in entries)}
    breaches: list[PreferenceBreach] = []
    for vendor, seen in _messages_by_vendor(ledger, set(histories)).items():
        breaches += _breaches(vendor, histories[vendor], seen)
    breaches.sort(key=lambda b: (b.vendor, b.rule, b.month or "", b.since))
    return breaches, len(histories)


def _breaches(vendor: str, entries: list[Stated], seen: list[tuple[str, bool]]) -> list[PreferenceBreach]:
    over: dict[tuple[str, int, str], tuple[list[str], int]] = {}  # (month, limit, since) -> its dates, how many
    marketing: dict[str, list[str]] = {}  # since when "no" -> marketing dates
    month, month_dates = None, []
    limit, limit_since = None, None  # the limit in force and when it was set (kept by later changes)
    no_since = None  # when the no to marketing in force was said (None: none in force)
    position = 0  # entries[:position] came into force before this message
    for sent_at, is_marketing in seen:  # oldest first
        while position < len(entries) and entries[position].set_at <= sent_at:
            entry = entries[position]
            if entry.max_per_month != limit:
                limit, limit_since = entry.max_per_month, entry.set_at
            no_since = (no_since or entry.set_at) if entry.marketing is False else None
            position += 1
        if sent_at[:7] != month:
            month, month_dates = sent_at[:7], []
        month_dates.append(sent_at)
        if limit is not None and len(month_dates) > limit:
            over[(month, limit, limit_since)] = (month_dates, len(month_dates))
        if is_marketing and no_since is not None:
            marketing.setdefault(no_since, []).append(sent_at)
    found = [PreferenceBreach(vendor, "max-per-month", month, count, limit, since, dates[:count])
             for (month, limit, since), (dates, count) in over.items()]
    found += [PreferenceBreach(vendor, "no-marketing", None, len(dates), None, since, dates)
              for since, dates in marketing.items()]
    return found



__all__ = [
    "AliasMail", "PreferenceBreach", "StoredScan", "alias_summary", "alias_vendors", "body_watch", "check_preferences",
    "store_scan", "vendor_alias_mail", "vendor_mail_values",
]
