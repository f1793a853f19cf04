"""Intentcasting: the customer says first what they want to buy, to the vendors they choose.

An intent (what, an optional category and budget, until when it holds, the language) becomes one
message per chosen vendor, From that vendor's own alias, so that every answer, and every later mail,
is attributable to the one vendor it went to. Each message has two parts:
- a plain-text part in English or Spanish, for the person who reads it;
- `intent.json`, a small machine-readable description (format `whoknows-intent`, version 1), whose
  JSON Schema ships with whoknows (`whoknows/data/intent-v1.schema.json`, `docs/intentcasting.md`).

The message is built again, byte for byte, from what the ledger keeps (`whoknows.intent_records`):
its Message-ID is made once, when the intent is made, and its Date is the intent's creation time, so
a retried send or a rewritten `.eml` is the same message, and answers refer to the one Message-ID.

`match_answers` says which scanned messages answer which intent message: by `In-Reply-To`, by
`References`, or by alias alone (mail to the alias the intent went from, dated from the intent on).
"""

from __future__ import annotations

import hashlib
import json
import re
import textwrap
from collections.abc import Iterable
from datetime import date, datetime, timezone
from decimal import Decimal, InvalidOperation
from email import policy
from email.message import EmailMessage
from email.utils import format_datetime
from typing import NamedTuple

from .errors import InputError
from .letters import LANGUAGES, email_address, long_date
from .mailscan import MailRecord

FORMAT = "whoknows-intent"
VERSION = 1
SCHEMA_FILE = "intent-v1.schema.json"
JSON_FILENAME = "intent.json"
# What the sender asks of every vendor (the JSON's "terms"; the text says them in words).
TERMS = ("answer-by-reply", "no-mail-after-until", "no-mailing-lists")
MAX_WHAT = 500
MAX_CATEGORY = 100
MATCH_KINDS = ("in-reply-to", "references", "alias")
WIDTH = 72

_CURRENCY_SYMBOLS = {"€": "EUR", "$": "USD", "£": "GBP", "¥": "JPY"}
_BUDGET = re.compile(r"^(?:(?P<pre>[A-Za-z]{3}|[€$£¥])\s*)?(?P<amount>\d+(?:[.,]\d{1,2})?)"
                     r"(?:\s*(?P<post>[A-Za-z]{3}|[€$£¥]))?$")


class Budget(NamedTuple):
    amount: str  # a decimal as text: "300", "299.99"
    currency: str  # ISO 4217, uppercase

    def describe(self) -> str:
        return f"{self.amount} {self.currency}"


class Intent(NamedTuple):
    what: str
    until: date
    lang: str
    category: str | None = None
    budget: Budget | None = None


def parse_budget(text: str) -> Budget:
    """ "300 EUR", "EUR 300", "299.99 usd", "300€" -> Budget; InputError saying the expected form."""
    match = _BUDGET.match(text.strip())
    pre, post = (match.group("pre"), match.group("post")) if match else (None, None)
    if not match or (pre is None) == (post is None):
        raise InputError(f"{text!r} is not a budget: give an amount and its currency, like '300 EUR'")
    currency = (pre or post)
    currency = _CURRENCY_SYMBOLS.get(currency, currency).upper()
    try:
        amount = Decimal(match.group("amount").replace(",", "."))
    except InvalidOperation:  # the pattern admits only digits; kept for safety
        raise InputError(f"{text!r} is not a budget: give an amount and its currency, like '300 EUR'") from None
    if amount <= 0:
        raise InputError(f"the budget {text!r} is not a positive amount")
    return Budget(format(amount.normalize(), "f"), currency)


def parse_until(text: str, today: date) -> date:
    """The last day the intent holds (YYYY-MM-DD), today or later."""
    try:
        day = date.fromisoformat(text.strip())
    except ValueError:
        raise InputError(f"{text!r} is not a date (YYYY-MM-DD)") from None
    if day < today:
        raise InputError(f"--until {day.isoformat()} is in the past: an intent holds from today to a day to come")
    return day


def make_intent(what: str, until: str, lang: str, today: date, category: str | None = None,
                budget: str | None = None) -> Intent:
    """Check what the user gave `intent new`; InputError says what is wrong."""
    what = " ".join(what.split())
    if not what:
        raise InputError("say what you intend to buy (for example \"a 27-inch 4K monitor\")")
    if len(what) > MAX_WHAT:
        raise InputError(f"what you intend to buy is {len(what)} characters; at most {MAX_WHAT}")
    if category is not None:
        category = " ".join(category.split())
        if not category or len(category) > MAX_CATEGORY:
            raise InputError(f"--category is 1 to {MAX_CATEGORY} characters")
    if lang not in LANGUAGES:
        raise InputError(f"unknown language {lang!r}; known: {', '.join(LANGUAGES)}")
    return Intent(what, parse_until(until, today), lang, category or None,
                  None if budget is None else parse_budget(budget))


def is_expired(until: date, today: date) -> bool:
    return today > until


# -- the message -----------------------------------------------------------------------------------


class Addressed(NamedTuple):
    """One message of an intent: which vendor, from which alias, to which address, with which id."""

    vendor: str
    alias: str
    recipient: str
    message_id: str  # `<...>`
    created_at: datetime  # the intent's creation: the message's Date


def new_message_id(alias: str) -> str:
    import secrets

    return f"<intent.{secrets.token_hex(12)}@{alias.rpartition('@')[2]}>"


def intent_json(intent: Intent, addressed: Addressed) -> dict:
    """The machine-readable part (schema: `SCHEMA_FILE`)."""
    return {
        "format": FORMAT,
        "version": VERSION,
        "what": intent.what,
        "category": intent.category,
        "budget": None if intent.budget is None else {"amount": intent.budget.amount,
                                                      "currency": intent.budget.currency},
        "until": intent.until.isoformat(),
        "created": addressed.created_at.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "vendor": addressed.vendor,
        "reply_to": addressed.alias,
        "language": intent.lang,
        "terms": list(TERMS),
    }


_SUBJECT = {"en": "Intent to buy: {what}", "es": "Intención de compra: {what}"}
_TEXT = {
    "en": {
        "hello": "Hello,",
        "lead": "I intend to buy: {what}",
        "category": "Category: {category}",
        "budget": "Budget: up to {budget}",
        "until": "Until: {until}",
        "ask": ("If you have an offer, please reply to this message by {until}. This address is for "
                "{vendor} only: do not add it to a mailing list or a newsletter, and do not write to it "
                "about this request after {until}."),
        "attached": (f"A machine-readable copy of this request is attached ({JSON_FILENAME}, format "
                     f"{FORMAT} version {VERSION})."),
        "bye": "Thank you.",
    },
    "es": {
        "hello": "Hola:",
        "lead": "Tengo intención de comprar: {what}",
        "category": "Categoría: {category}",
        "budget": "Presupuesto: hasta {budget}",
        "until": "Hasta el: {until}",
        "ask": ("Si tiene una oferta, responda a este mensaje hasta el {until}. Esta dirección es solo "
                "para {vendor}: no la añada a ninguna lista de correo ni boletín, y no escriba a ella "
                "sobre esta solicitud después del {until}."),
        "attached": (f"Se adjunta una copia legible por máquina de esta solicitud ({JSON_FILENAME}, "
                     f"formato {FORMAT}, versión {VERSION})."),
        "bye": "Gracias.",
    },
}


def subject(intent: Intent) -> str:
    return _SUBJECT[intent.lang].format(what=intent.what)


def body(intent: Intent, addressed: Addressed) -> str:
    from .sites import display_domain

    words = _TEXT[intent.lang]
    until = long_date(intent.until, intent.lang)
    facts = [words["lead"].format(what=intent.what)]
    if intent.category:
        facts.append(words["category"].format(category=intent.category))
    if intent.budget:
        facts.append(words["budget"].format(budget=intent.budget.describe()))
    facts.append(words["until"].format(until=until))
    paragraphs = [
        words["hello"],
        "\n".join(textwrap.fill(fact, WIDTH, subsequent_indent="  ") for fact in facts),
        textwrap.fill(words["ask"].format(until=until, vendor=display_domain(addressed.vendor)), WIDTH),
        textwrap.fill(words["attached"], WIDTH),
        words["bye"],
    ]
    return "\n\n".join(paragraphs) + "\n"


def build_message(intent: Intent, addressed: Addressed) -> bytes:
    """The message as RFC 5322 bytes (CRLF): From the alias, To the vendor, text and intent.json."""
    message = EmailMessage(policy=policy.SMTP)
    message["From"] = email_address(addressed.alias, "the alias the intent is sent from")
    message["To"] = email_address(addressed.recipient, f"the address of {addressed.vendor}")
    message["Subject"] = subject(intent)
    message["Date"] = format_datetime(addressed.created_at.astimezone(timezone.utc))
    message["Message-ID"] = addressed.message_id
    text = body(intent, addressed)
    message.set_content(text, charset="utf-8", cte="7bit" if text.isascii() else "quoted-printable")
    message["Content-Language"] = intent.lang  # after set_content, which clears Content-* headers
    document = json.dumps(intent_json(intent, addressed), ensure_ascii=False, indent=2, sort_keys=True) + "\n"
    message.add_attachment(document.encode("utf-8"), maintype="application", subtype="json",
                           filename=JSON_FILENAME)
    # The boundary comes from the Message-ID, not chance: the same message is the same bytes.
    message.set_boundary("=_whoknows-intent-" + hashlib.sha256(addressed.message_id.encode()).hexdigest()[:32])
    return bytes(message)


def schema() -> dict:
    """The JSON Schema of the machine-readable part (version 1)."""
    from importlib.resources import files

    return json.loads(files("whoknows").joinpath("data", SCHEMA_FILE).read_text(encoding="utf-8"))


# -- answers ---------------------------------------------------------------------------------------


class Sent(NamedTuple):
    """What matching needs of one intent message."""

    row_id: int
    alias: str
    message_id: str
    created_at: datetime


class Answer(NamedTuple):
    row_id: int  # the intent message's row
    identity: str  # the scanned message's identity
    matched_by: str  # in-reply-to | references | alias
    sender: str
    listed: bool


def match_answers(messages: Iterable[MailRecord], sent: Iterable[Sent]) -> list[Answer]:
    """Which scanned messages answer (or later mail about) which intent message.

    A message answers an intent message when its In-Reply-To names it, else when its References
    do, else when it reached the alias the intent went from and is dated from the intent on (by
    alias alone: the alias is the vendor's, so later mail to it is the vendor's doing). Mail sent
    from one of the aliases (the user's own copies) and the intent messages themselves are left out.
    """
    sent = list(sent)
    by_id = {item.message_id: item for item in sent}
    by_alias: dict[str, list[Sent]] = {}
    for item in sent:
        by_alias.setdefault(item.alias, []).append(item)
    found = []
    for message in messages:
        if message.sender in by_alias or message.identity in by_id:
            continue
        matched: dict[int, str] = {}
        for kind, ids in (("in-reply-to", message.in_reply_to), ("references", message.references)):
            for message_id in ids:
                item = by_id.get(message_id)
                if item is not None:
                    matched.setdefault(item.row_id, kind)
        if message.date is not None:
            for recipient in message.recipients:
                for item in by_alias.get(recipient, ()):
                    if message.date >= item.created_at:
                        matched.setdefault(item.row_id, "alias")
        found += [Answer(row_id, message.identity, kind, message.sender, message.listed)
                  for row_id, kind in matched.items()]
    return found


__all__ = [
    "Addressed", "Answer", "Budget", "FORMAT", "Intent", "JSON_FILENAME", "MATCH_KINDS", "SCHEMA_FILE", "Sent",
    "TERMS", "VERSION", "body", "build_message", "intent_json", "is_expired", "make_intent", "match_answers",
    "new_message_id", "parse_budget", "parse_until", "schema", "subject",
]
