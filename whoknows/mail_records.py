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

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from .disclosures import record_seen_disclosure
from .intent_records import record_answers
from .ledger import Ledger, json_text, now, stamp, vendor_ids
from .mail_topics import is_direct_marketing
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


# A message scanned again keeps its row; what an older scan did not record (topics, before issue
# 15) is filled in, and copies that reached other addresses add their reached.
_STORE_MESSAGE = """
    INSERT INTO mail_messages (identity, sent_at, sender_site, marketing, scanned_at, topics, topic_reasons,
                               subject_key, reached)
    VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)
    ON CONFLICT(identity) DO UPDATE SET
        topics = coalesce(mail_messages.topics, excluded.topics),
        topic_reasons = coalesce(mail_messages.topic_reasons, excluded.topic_reasons),
        subject_key = coalesce(mail_messages.subject_key, excluded.subject_key),
        reached = CASE WHEN mail_messages.reached IS NULL THEN excluded.reached ELSE
            (SELECT json_group_array(value) FROM (SELECT value FROM json_each(mail_messages.reached)
             UNION SELECT value FROM json_each(excluded.reached))) END
"""


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
        db.executemany(_STORE_MESSAGE, (
            (m.identity, _stamp(m.date), m.sender_site, int(m.marketing), stamp, json_text(list(m.topics)),
             json_text(list(m.topic_reasons)), m.subject_key, json_text(sorted(m.reached)))
            for m in result.messages))
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
    SELECT coalesce(own.vendor, m.sender_site) AS vendor, m.sent_at, m.marketing, m.identity, m.topics,
           m.topic_reasons, m.subject_key, m.reached, own.alias
    FROM mail_messages AS m
    LEFT JOIN (SELECT h.message_id, min(v.domain) AS vendor, min(h.alias) AS alias FROM mail_alias_hits AS h
               JOIN vendors AS v ON v.id = h.vendor_id WHERE h.verdict = 'vendor'
               GROUP BY h.message_id) AS own ON own.message_id = m.id
    WHERE m.sent_at IS NOT NULL AND coalesce(own.vendor, m.sender_site) IS NOT NULL
    ORDER BY vendor, m.sent_at, m.identity
"""


@dataclass(frozen=True)
class SeenMail:
    """One dated message from a vendor, as `prefs --check` judges it (no subject, no body)."""

    sent_at: str
    bulk: bool  # List-Unsubscribe or Precedence: bulk, list, junk
    identity: str  # its Message-ID (or a hash of it): what a letter names it by
    topics: tuple[str, ...]
    reasons: tuple[str, ...]
    subject_key: str | None
    reached: tuple[str, ...]
    alias: str | None  # the alias it reached, when the vendor wrote to one

    @property
    def marketing(self) -> bool:
        return is_direct_marketing(self.topics, self.bulk)

    def to_json(self) -> dict:
        return {"message": self.identity, "sent_at": self.sent_at, "topics": list(self.topics),
                "reasons": list(self.reasons), "alias": self.alias, "copies": max(len(self.reached), 1)}


def _messages_by_vendor(ledger: Ledger, vendors: set[str] | None) -> dict[str, list[SeenMail]]:
    """Each vendor's dated messages, oldest first."""
    found: dict[str, list[SeenMail]] = {}
    for row in ledger.query(_MESSAGES_BY_VENDOR):
        if vendors is None or row[0] in vendors:
            found.setdefault(row[0], []).append(SeenMail(
                row[1], bool(row[2]), row[3], tuple(json.loads(row[4] or "[]")), tuple(json.loads(row[5] or "[]")),
                row[6], tuple(json.loads(row[7] or "[]")), row[8]))
    return found


# What `prefs --check` reports, and what each means (README, docs/preferences.md).
RULES = {
    "max-per-month": "more messages in a calendar month (UTC) than your limit in force",
    "max-per-week": "more messages in an ISO week (Monday to Sunday, UTC) than your limit in force",
    "no-marketing": "direct marketing while your no to marketing was in force",
    "topic": "a message on none of the topics you allow, while you had said which",
    "after-opt-out": "direct marketing from the day after you withdrew consent (--opt-out DATE)",
    "channel": "direct marketing by email while the channels you allow (--channel) did not include email",
    "duplicate": "the same mailing twice: to two of your addresses, or twice to one",
}
# Copies of one mailing (same sender and subject) arrive within this long of each other; a vendor
# that mails the same subject daily sends a new mailing, not a duplicate.
DUPLICATE_WINDOW = timedelta(hours=6)


@dataclass(frozen=True)
class PreferenceBreach:
    vendor: str
    rule: str  # one of RULES
    month: str | None  # max-per-month: the month over the limit (YYYY-MM)
    messages: int
    limit: int | None  # max-per-month, max-per-week: the limit
    since: str | None  # when the limit, the no or the topics came into force; after-opt-out: the day of the opt-out
    dates: list[str]
    week: str | None = None  # max-per-week: the ISO week over the limit (YYYY-Www)
    allowed: list[str] | None = None  # topic: the topics you allowed; channel: the channels you allowed
    duplicate: str | None = None  # duplicate: "two-addresses" or "sent-twice"
    mails: list[SeenMail] = field(default_factory=list)

    def describe(self) -> str:
        from .sites import display_domain

        name, shown, since = display_domain(self.vendor), ", ".join(d[:10] for d in self.dates), (self.since or "")[:10]
        if self.rule == "max-per-month":
            return (f"{name} sent {self.messages} messages in {self.month}, over your "
                    f"limit of {self.limit} a month (set on {since}): {shown}")
        if self.rule == "max-per-week":
            return (f"{name} sent {self.messages} messages in week {self.week}, over your "
                    f"limit of {self.limit} a week (set on {since}): {shown}")
        if self.rule == "topic":
            each = ", ".join(f"{m.sent_at[:10]} ({'; '.join(m.reasons)})" for m in self.mails)
            return (f"{name} sent {self.messages} messages on topics you did not allow (you allow: "
                    f"{', '.join(self.allowed or []) or 'none'}, since {since}): {each}")
        if self.rule == "after-opt-out":
            return (f"{name} sent {self.messages} marketing messages after you withdrew consent on {since}: {shown}")
        if self.rule == "channel":
            return (f"{name} sent {self.messages} marketing messages by email, a channel you did not allow (you "
                    f"allow: {', '.join(self.allowed or []) or 'none'}, since {since}): {shown}")
        if self.rule == "duplicate":
            how = "to two of your addresses" if self.duplicate == "two-addresses" else "twice to the same address"
            return f"{name} sent the same mailing {self.messages} times, {how}: {shown}"
        return (f"{name} sent {self.messages} marketing messages after you said no "
                f"on {since}: {shown}")

    def to_json(self) -> dict:
        return {**self.__dict__, "mails": [m.to_json() for m in self.mails], "summary": self.describe()}


def _is_checked(entry: Stated) -> bool:
    return (entry.max_per_month is not None or entry.max_per_week is not None or entry.marketing is False
            or entry.topics is not None or entry.opted_out_on is not None or not _allows_email(entry.channels))


def _allows_email(channels: list[str] | None) -> bool:
    """Whether channels stated (None: not stated, so not a rule) let a vendor send marketing by email."""
    return channels is None or "email" in channels


def check_preferences(ledger: Ledger) -> tuple[list[PreferenceBreach], int]:
    """What each vendor with a rule to check (a limit, a no to marketing, topics, an opt-out,
    channels without email) sent against it, and how many vendors have (or had) one. See `RULES`.

    Each message is judged by the vendor's preferences in force when it arrived (the history kept by
    `whoknows.preferences`), so a later change of any preference neither forgives an earlier breach
    nor makes one of mail that came before a rule. A month's or week's count includes its messages
    from before the limit was set: "at most N a month" counts the whole month. An opt-out counts
    from the day after the day you give (which may be before you recorded it: the vendor knew
    then), until you say yes to marketing again; marketing it catches is not reported again as
    sent after a no. Channels: mail is email, so direct marketing while the channels you allow do
    not include email breaks that rule whatever else it breaks. Duplicates: one message (same Message-ID) that reached two sets of your
    addresses; or direct marketing from the same sender with the same subject within
    `DUPLICATE_WINDOW`, which reached two sets of addresses or one twice.
    """
    histories = {vendor: entries for vendor, entries in history(ledger).items() if any(map(_is_checked, entries))}
    breaches: list[PreferenceBreach] = []
    for vendor, seen in _messages_by_vendor(ledger, set(histories)).items():
        breaches += _breaches(vendor, histories[vendor], seen)
        breaches += _duplicates(vendor, seen)
    breaches.sort(key=lambda b: (b.vendor, b.rule, b.month or b.week or "", b.since or "", b.dates))
    return breaches, len(histories)


def _opt_outs(entries: list[Stated]) -> list[tuple[str, str | None]]:
    """(day of the opt-out, when it ended or None) for each opt-out in the history."""
    periods: list[tuple[str, str | None]] = []
    current = None
    for entry in entries:
        if entry.opted_out_on != current:
            if current is not None:
                periods[-1] = (current, entry.set_at)
            current = entry.opted_out_on
            if current is not None:
                periods.append((current, None))
    return periods


def _week(sent_at: str) -> str:
    year, week, _ = datetime.fromisoformat(sent_at.replace("Z", "+00:00")).isocalendar()
    return f"{year}-W{week:02d}"


def _breaches(vendor: str, entries: list[Stated], seen: list[SeenMail]) -> list[PreferenceBreach]:
    over: dict[tuple[str, str, int, str], list[SeenMail]] = {}  # (rule, period, limit, since) -> its messages
    periods = {"max-per-month": (None, []), "max-per-week": (None, [])}  # rule -> (current period, its messages)
    limits = {"max-per-month": (None, None), "max-per-week": (None, None)}  # rule -> (limit in force, since)
    marketing: dict[str, list[SeenMail]] = {}  # since when "no" -> marketing
    off_topic: dict[tuple[str, tuple[str, ...]], list[SeenMail]] = {}  # (since, allowed) -> messages
    after_opt_out: dict[str, list[SeenMail]] = {}  # day of the opt-out -> marketing after it
    off_channel: dict[tuple[str, tuple[str, ...]], list[SeenMail]] = {}  # (since, channels allowed) -> marketing
    opt_outs = _opt_outs(entries)
    no_since = None  # when the no to marketing in force was said (None: none in force)
    allowed, allowed_since = None, None  # the topics in force and when they were set
    channels, channels_since = None, None  # the channels in force and when they were set
    position = 0  # entries[:position] came into force before this message
    for mail in seen:  # oldest first
        while position < len(entries) and entries[position].set_at <= mail.sent_at:
            entry = entries[position]
            for rule, stated in (("max-per-month", entry.max_per_month), ("max-per-week", entry.max_per_week)):
                if stated != limits[rule][0]:
                    limits[rule] = (stated, entry.set_at)
            no_since = (no_since or entry.set_at) if entry.marketing is False else None
            if entry.topics != allowed:
                allowed, allowed_since = entry.topics, entry.set_at
            if entry.channels != channels:
                channels, channels_since = entry.channels, entry.set_at
            position += 1
        for rule, period in (("max-per-month", mail.sent_at[:7]), ("max-per-week", _week(mail.sent_at))):
            current, members = periods[rule]
            if period != current:
                periods[rule] = current, members = period, []
            members.append(mail)
            limit, since = limits[rule]
            if limit is not None and len(members) > limit:
                over[(rule, period, limit, since)] = list(members)
        if mail.marketing:
            opted_out = next((day for day, ended in opt_outs
                              if mail.sent_at[:10] > day and (ended is None or mail.sent_at < ended)), None)
            if opted_out is not None:
                after_opt_out.setdefault(opted_out, []).append(mail)
            elif no_since is not None:
                marketing.setdefault(no_since, []).append(mail)
            if not _allows_email(channels):
                off_channel.setdefault((channels_since, tuple(channels)), []).append(mail)
        if allowed is not None and mail.topics and not set(mail.topics) & set(allowed):
            off_topic.setdefault((allowed_since, tuple(allowed)), []).append(mail)
    found = [PreferenceBreach(vendor, rule, period if rule == "max-per-month" else None, len(mails), limit, since,
                              [m.sent_at for m in mails], week=period if rule == "max-per-week" else None, mails=mails)
             for (rule, period, limit, since), mails in over.items()]
    found += [PreferenceBreach(vendor, "no-marketing", None, len(mails), None, since, [m.sent_at for m in mails],
                               mails=mails) for since, mails in marketing.items()]
    found += [PreferenceBreach(vendor, "topic", None, len(mails), None, since, [m.sent_at for m in mails],
                               allowed=list(topics), mails=mails) for (since, topics), mails in off_topic.items()]
    found += [PreferenceBreach(vendor, "after-opt-out", None, len(mails), None, day, [m.sent_at for m in mails],
                               mails=mails) for day, mails in after_opt_out.items()]
    found += [PreferenceBreach(vendor, "channel", None, len(mails), None, since, [m.sent_at for m in mails],
                               allowed=list(allowed_channels), mails=mails)
              for (since, allowed_channels), mails in off_channel.items()]
    return found


def _duplicates(vendor: str, seen: list[SeenMail]) -> list[PreferenceBreach]:
    """Mailings that reached you more than once; see `check_preferences`."""
    mailings: list[list[SeenMail]] = []
    last: dict[str, tuple[datetime, list[SeenMail]]] = {}  # subject key -> (latest copy, its mailing)
    for mail in seen:  # oldest first
        moment = datetime.fromisoformat(mail.sent_at.replace("Z", "+00:00"))
        if mail.subject_key is None or not mail.marketing:
            mailings.append([mail])
            continue
        previous = last.get(mail.subject_key)
        if previous is not None and moment - previous[0] <= DUPLICATE_WINDOW:
            previous[1].append(mail)
            last[mail.subject_key] = (moment, previous[1])
        else:
            mailings.append([mail])
            last[mail.subject_key] = (moment, mailings[-1])
    found = []
    for mails in mailings:
        copies = sum(max(len(m.reached), 1) for m in mails)
        if copies < 2:
            continue
        addresses = {delivery for m in mails for delivery in m.reached}
        found.append(PreferenceBreach(
            vendor, "duplicate", None, copies, None, None, [m.sent_at for m in mails for _ in range(max(len(m.reached), 1))],
            duplicate="two-addresses" if len(addresses) > 1 else "sent-twice", mails=mails))
    return found


__all__ = [
    "AliasMail", "DUPLICATE_WINDOW", "PreferenceBreach", "RULES", "SeenMail", "StoredScan", "alias_summary", "alias_vendors", "body_watch", "check_preferences",
    "store_scan", "vendor_alias_mail", "vendor_mail_values",
]
