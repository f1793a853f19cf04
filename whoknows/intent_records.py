"""Intents in the ledger: what was announced to whom, what was delivered, and what came back.

The one writer of `intents`, `intent_messages` and `intent_answers` (issue 15). An intent is made
with one message per chosen vendor, each From the vendor's active alias (refused, naming the exact
`whoknows alias new VENDOR`, when a vendor has none) and with a Message-ID made once. A message is
`unsent` until it is written as a `.eml` file (`written`: the user sends it) or sent through the
user's SMTP account (`sent`); a failed send leaves it as it was, and `whoknows intent send ID`
tries again with the same message.

Answers are matched when mail is scanned (`whoknows.mail_records.store_scan` calls
`record_answers` in its transaction; `whoknows.intents.match_answers` says how): the ledger keeps
which scanned message answered which intent message, how it was matched, its sender and whether it
came from a mailing list (List-Id or List-Unsubscribe). Its date is the scanned message's; no body,
no subject. `list_intents` reads them back with the flags of an expired intent: vendors that kept
mailing about it after its last day, and vendors that put the alias on a mailing list.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, datetime, timezone

from .errors import InputError, NotFoundError
from .intents import Addressed, Budget, Intent, Sent, build_message, is_expired, match_answers, new_message_id
from .ledger import TIME_FORMAT, Ledger, now
from .mailscan import MailRecord

STATES = ("unsent", "written", "sent")


@dataclass(frozen=True)
class IntentMessage:
    row_id: int
    vendor: str
    alias: str
    recipient: str
    message_id: str
    state: str
    state_changed_at: str | None


@dataclass
class IntentRecord:
    id: int
    intent: Intent
    created_at: str
    messages: list[IntentMessage] = field(default_factory=list)

    def addressed(self, message: IntentMessage) -> Addressed:
        created = datetime.strptime(self.created_at, TIME_FORMAT).replace(tzinfo=timezone.utc)
        return Addressed(message.vendor, message.alias, message.recipient, message.message_id, created)

    def message_bytes(self, message: IntentMessage) -> bytes:
        """The message to `message.vendor`, the same bytes however often it is built."""
        return build_message(self.intent, self.addressed(message))


def create_intent(ledger: Ledger, intent: Intent, targets: Iterable[tuple[str, str]]) -> IntentRecord:
    """Record `intent` with one message per (vendor domain, recipient address) in `targets`.

    Every vendor must have an active alias (InputError naming `whoknows alias new VENDOR` otherwise);
    nothing is recorded unless every message can be.
    """
    from .aliases import alias_for
    from .sites import display_domain

    targets = list(targets)
    if not targets:
        raise InputError("name at least one vendor to tell: --to VENDOR")
    seen: set[str] = set()
    chosen = []
    for domain, recipient in targets:
        if domain in seen:
            raise InputError(f"{display_domain(domain)} is named twice: one message per vendor")
        seen.add(domain)
        alias = alias_for(ledger, domain, create=False)
        if alias is None:
            raise InputError(
                f"{display_domain(domain)} has no active alias to send the intent from (every answer must be "
                f"attributable to it): make one with 'whoknows alias new {domain}'")
        chosen.append((domain, alias, recipient))
    created_at = now()
    with ledger.write() as db:
        budget = intent.budget or Budget(None, None)
        intent_id = db.execute(
            "INSERT INTO intents (uid, what, category, budget_amount, budget_currency, until, lang, created_at) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            (secrets.token_hex(16), intent.what, intent.category, budget.amount, budget.currency, intent.until.isoformat(), intent.lang,
             created_at)).lastrowid
        for domain, alias, recipient in chosen:
            vendor_id = db.execute("SELECT id FROM vendors WHERE domain = ?", (domain,)).fetchone()[0]
            db.execute(
                "INSERT INTO intent_messages (intent_id, vendor_id, alias, recipient, message_id, state) "
                "VALUES (?, ?, ?, ?, ?, 'unsent')",
                (intent_id, vendor_id, alias, recipient, new_message_id(alias)))
    return load_intent(ledger, intent_id)


def _intent(row) -> Intent:
    budget = None if row["budget_amount"] is None else Budget(row["budget_amount"], row["budget_currency"])
    return Intent(row["what"], date.fromisoformat(row["until"]), row["lang"], row["category"], budget)


_MESSAGES = ("SELECT m.id, v.domain, m.alias, m.recipient, m.message_id, m.state, m.state_changed_at "
             "FROM intent_messages AS m JOIN vendors AS v ON v.id = m.vendor_id ")


def load_intent(ledger: Ledger, intent_id: int) -> IntentRecord:
    with ledger.read() as db:
        row = db.execute("SELECT * FROM intents WHERE id = ?", (intent_id,)).fetchone()
        if row is None:
            raise NotFoundError(f"no intent {intent_id} ('whoknows intents' lists them)")
        messages = [IntentMessage(*m) for m in db.execute(_MESSAGES + "WHERE m.intent_id = ? ORDER BY v.domain",
                                                          (intent_id,))]
    return IntentRecord(row["id"], _intent(row), row["created_at"], messages)


def mark_delivered(ledger: Ledger, message: IntentMessage, state: str) -> None:
    """`written` (a .eml file was written) or `sent` (through SMTP); a sent message stays sent."""
    if state not in ("written", "sent"):
        raise ValueError(f"not a delivery state: {state!r}")
    with ledger.write() as db:
        db.execute("UPDATE intent_messages SET state = CASE WHEN state = 'sent' THEN 'sent' ELSE ? END, "
                   "state_changed_at = ? WHERE id = ?", (state, now(), message.row_id))


# -- answers ---------------------------------------------------------------------------------------


def _sent_index(db) -> list[Sent]:
    rows = db.execute("SELECT m.id, m.alias, m.message_id, i.created_at FROM intent_messages AS m "
                      "JOIN intents AS i ON i.id = m.intent_id")
    return [Sent(row_id, alias, message_id, datetime.strptime(created, TIME_FORMAT).replace(tzinfo=timezone.utc))
            for row_id, alias, message_id, created in rows]


def record_answers(db, messages: Iterable[MailRecord]) -> int:
    """Match scanned `messages` (already in `mail_messages`) to intent messages, in the caller's write
    transaction; how many matches are new. Scanning the same mail again adds nothing."""
    sent = _sent_index(db)
    if not sent:
        return 0
    added = 0
    for answer in match_answers(messages, sent):
        row = db.execute("SELECT id FROM mail_messages WHERE identity = ?", (answer.identity,)).fetchone()
        if row is None:
            continue
        added += db.execute(
            "INSERT INTO intent_answers (intent_message_id, mail_message_id, matched_by, sender, listed) "
            "VALUES (?, ?, ?, ?, ?) ON CONFLICT(intent_message_id, mail_message_id) DO NOTHING",
            (answer.row_id, row[0], answer.matched_by, answer.sender, int(answer.listed))).rowcount
    return added


# -- reading ---------------------------------------------------------------------------------------


def _answers(db, row_id: int, until: str) -> list[dict]:
    rows = db.execute(
        "SELECT mm.identity, mm.sent_at, a.sender, a.matched_by, a.listed FROM intent_answers AS a "
        "JOIN mail_messages AS mm ON mm.id = a.mail_message_id WHERE a.intent_message_id = ? "
        "ORDER BY mm.sent_at IS NULL, mm.sent_at, mm.identity", (row_id,))
    return [{"message": identity, "date": sent_at, "sender": sender, "matched_by": matched_by,
             "listed": bool(listed), "after_expiry": bool(sent_at and sent_at[:10] > until)}
            for identity, sent_at, sender, matched_by, listed in rows]


def list_intents(ledger: Ledger, today: date) -> list[dict]:
    """Every intent, newest first, with each vendor's message, its answers and its flags."""
    out = []
    with ledger.read() as db:
        intents = db.execute("SELECT * FROM intents ORDER BY created_at DESC, id DESC").fetchall()
        for row in intents:
            intent = _intent(row)
            until = intent.until.isoformat()
            vendors = []
            for message in [IntentMessage(*r) for r in
                            db.execute(_MESSAGES + "WHERE m.intent_id = ? ORDER BY v.domain", (row["id"],))]:
                answers = _answers(db, message.row_id, until)
                flags = []
                if any(a["after_expiry"] for a in answers):
                    flags.append("mailed-after-expiry")
                if any(a["listed"] for a in answers):
                    flags.append("mailing-list")
                vendors.append({
                    "vendor": message.vendor, "from": message.alias, "to": message.recipient,
                    "message_id": message.message_id, "state": message.state, "state_changed_at": message.state_changed_at,
                    "answers": answers, "flags": flags,
                })
            out.append({
                "id": row["id"], "what": intent.what, "category": intent.category,
                "budget": None if intent.budget is None else intent.budget._asdict(),
                "until": until, "lang": intent.lang, "created_at": row["created_at"],
                "expired": is_expired(intent.until, today), "vendors": vendors,
            })
    return out


__all__ = [
    "IntentMessage", "IntentRecord", "STATES", "create_intent", "list_intents", "load_intent", "mark_delivered",
    "record_answers",
]
