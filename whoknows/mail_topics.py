"""What a vendor's mail is about: the topics you may allow a vendor to write about, and a classifier
that reads each message's own signals (issue 15: permission marketing kept to its word).

`TOPICS` is the one vocabulary: `whoknows prefs VENDOR --topic T`, its help, the README and
`prefs --check` all take it from here. Two topics are service (`orders`, `account`): mail about a
contract you made or an account you hold, which is not marketing; the rest are marketing, and a
mail on one of them counts as direct marketing (an opt-out and `--no-marketing` cover it).

`classify` looks only at headers, never at a body, and gives every topic it finds with the signals
that said so (kept as the reason, in the ledger and in `prefs --check`):

1. subject keywords, English and Spanish (`KEYWORDS`), matched as whole words, accents ignored
   ("envío" and "envio" are the same word): what the mail says it is about;
2. the sender's mailbox name (`SENDERS`: `orders@`, `newsletter@`, `ofertas@`...): what the vendor
   uses that address for;
3. only when neither names a topic: the mailing-list signals `List-Id`, `List-Unsubscribe` and
   `Precedence: bulk|list` mean the mail went to a list the vendor keeps: `newsletter`.

A mail can be on several topics ("Newsletter: 20% off" is newsletter and offers); one with no
signal at all has none and is never judged on topics. `noreply@` is looked at and decides
nothing: vendors send receipts and campaigns from it alike.

`subject_key` lets duplicate mailings be found without keeping any subject: a digest of the
sender's address and the subject as a reader sees it (case, white space, accents and a leading
`Re:`/`Fwd:` ignored).
"""

from __future__ import annotations

import hashlib
import re
import unicodedata
from dataclasses import dataclass

# name -> (what it covers, shown in help; whether it is marketing)
TOPICS: dict[str, tuple[str, bool]] = {
    "orders": ("your orders: confirmations, shipping, invoices, receipts", False),
    "account": ("your account: sign-in, passwords, changes to terms", False),
    "offers": ("promotions, sales, discounts, coupons", True),
    "newsletter": ("newsletters, news and digests", True),
    "events": ("invitations to events and webinars", True),
    "surveys": ("surveys, reviews and requests for feedback", True),
}
MARKETING_TOPICS = frozenset(name for name, (_, marketing) in TOPICS.items() if marketing)

# Subject keywords per topic, English then Spanish, written without accents (subjects are compared
# without them). A keyword ending in `*` matches any word it begins ("discount*": discounts).
KEYWORDS: dict[str, tuple[str, ...]] = {
    "orders": ("your order", "order confirmation", "order number", "has shipped", "shipped", "shipping confirmation",
               "out for delivery", "delivered", "invoice", "receipt", "refund",
               "tu pedido", "su pedido", "pedido", "confirmacion de pedido", "enviado", "en reparto", "entregado",
               "factura", "recibo", "reembolso"),
    "account": ("password", "verification code", "verify your", "sign-in", "sign in", "log in", "security alert",
                "your account", "terms of service", "privacy policy",
                "contrasena", "codigo de verificacion", "verifica tu", "inicio de sesion", "alerta de seguridad",
                "tu cuenta", "politica de privacidad"),
    "offers": ("sale", "offer*", "discount*", "deal*", "% off", "off everything", "coupon*", "promo*", "black friday",
               "free shipping", "save",
               "oferta*", "descuento*", "rebaja*", "cupon*", "promocion*", "envio gratis", "ahorra", "chollo*"),
    "newsletter": ("newsletter", "digest", "this week", "weekly", "what's new", "news",
                   "boletin", "novedades", "noticias", "esta semana", "semanal"),
    "events": ("webinar", "event", "events", "invitation", "you're invited", "join us", "workshop", "conference",
               "evento*", "invitacion", "te invitamos", "estas invitado", "taller", "seminario", "conferencia"),
    "surveys": ("survey", "feedback", "how did we do", "rate your", "review your", "your opinion",
                "encuesta", "tu opinion", "valora", "que te parecio", "danos tu opinion"),
}

# The sender's mailbox name (before `@`, `+tag` dropped), English then Spanish.
SENDERS: dict[str, tuple[str, ...]] = {
    "orders": ("orders", "order", "shipping", "invoice", "invoices", "billing", "receipts",
               "pedidos", "pedido", "envios", "facturas", "facturacion"),
    "account": ("security", "account", "accounts", "seguridad", "cuenta", "cuentas"),
    "offers": ("offers", "deals", "promo", "promos", "promotions", "sales", "marketing",
               "ofertas", "promociones", "rebajas"),
    "newsletter": ("newsletter", "newsletters", "news", "digest", "boletin", "noticias", "novedades"),
    "events": ("events", "event", "webinars", "eventos"),
    "surveys": ("survey", "surveys", "feedback", "reviews", "encuestas", "opinion"),
}
LIST_PRECEDENCE = frozenset({"bulk", "list"})

_APOSTROPHES = str.maketrans({"\u2019": "'", "\u2018": "'"})
_REPLY_PREFIX = re.compile(r"^(?:(?:re|fwd?|rv|reenv|aw|tr)\s*:\s*)+", re.IGNORECASE)


_COMBINING = re.compile("[\u0300-\u036f]")  # the accents Unicode decomposition splits off


def plain(text: str) -> str:
    """Lowercase, accents dropped, white space collapsed: how subjects and keywords are compared."""
    text = text.translate(_APOSTROPHES).lower()
    if not text.isascii():
        text = _COMBINING.sub("", unicodedata.normalize("NFKD", text))
    return " ".join(text.split())


_TOKEN = re.compile(r"\w+|%")


def _words(text: str) -> str:
    """The words of `text` (and `%`), plain, one space between, one space around: a keyword of
    several words is found as ` your order ` in it, whole words only."""
    return " " + " ".join(_TOKEN.findall(plain(text))) + " "


@dataclass(frozen=True)
class _Matcher:
    """A topic's keywords, ready to look up: single words in a dict, phrases (` your order `) as
    substrings, prefixes (`descuento*`) by `startswith`; each with its place in `KEYWORDS`."""

    written: tuple[str, ...]
    words: dict[str, int]
    phrases: tuple[tuple[str, int], ...]
    prefixes: tuple[tuple[str, int], ...]
    stems: tuple[str, ...]

    @classmethod
    def of(cls, keywords: tuple[str, ...]) -> "_Matcher":
        words, phrases, prefixes = {}, [], []
        for place, keyword in enumerate(keywords):
            wanted = _words(keyword.rstrip("*")).strip()
            if keyword.endswith("*"):
                prefixes.append((wanted, place))
            elif " " in wanted:
                phrases.append((f" {wanted} ", place))
            else:
                words.setdefault(wanted, place)
        return cls(keywords, words, tuple(phrases), tuple(prefixes), tuple(stem for stem, _ in prefixes))

    def first(self, text: str, present: set[str]) -> str | None:
        """The first of the topic's keywords (in `KEYWORDS` order) that `text` has, or None."""
        places = [self.words[word] for word in present if word in self.words]
        places += [place for phrase, place in self.phrases if phrase in text]
        if self.stems and any(word.startswith(self.stems) for word in present):
            places += [place for stem, place in self.prefixes if any(word.startswith(stem) for word in present)]
        return self.written[min(places)] if places else None


# A scan classifies every message: words are looked up in a dict and phrases found as substrings,
# which costs a few microseconds where a regular expression per keyword cost a hundred
# (bench/bench_mailscan.py).
_MATCHERS = {topic: _Matcher.of(words) for topic, words in KEYWORDS.items()}
_SENDER_TOPIC = {name: topic for topic, names in SENDERS.items() for name in names}


@dataclass(frozen=True)
class Classification:
    """The topics a mail is on (in `TOPICS` order) and the signals that said so: `subject: 'pedido'`,
    `sender: ofertas@`, `List-Id`, `List-Unsubscribe`, `Precedence: bulk`."""

    topics: tuple[str, ...]
    reasons: tuple[str, ...]  # "topic <- signal", one per signal that named a topic

    @property
    def marketing(self) -> bool:
        return any(topic in MARKETING_TOPICS for topic in self.topics)


def classify(subject: str | None, sender: str, *, list_id: bool = False, list_unsubscribe: bool = False,
             precedence: str | None = None) -> Classification:
    """The topics of a mail from its subject, sender address and list headers; see the module."""
    found: dict[str, list[str]] = {}
    words = _words(subject or "")
    present = set(words.split())
    if present:
        for topic, matcher in _MATCHERS.items():
            keyword = matcher.first(words, present)
            if keyword is not None:
                found[topic] = [f"subject: '{keyword}'"]
    mailbox = plain(sender.rpartition("@")[0]).partition("+")[0]
    sender_topic = _SENDER_TOPIC.get(mailbox) or _SENDER_TOPIC.get(re.split(r"[._-]", mailbox)[0])
    if sender_topic:
        found.setdefault(sender_topic, []).append(f"sender: {mailbox}@")
    if not found:
        signals = [name for name, given in (("List-Id", list_id), ("List-Unsubscribe", list_unsubscribe)) if given]
        if precedence and precedence.strip().lower() in LIST_PRECEDENCE:
            signals.append(f"Precedence: {precedence.strip().lower()}")
        if signals:
            found["newsletter"] = signals
    topics = tuple(topic for topic in TOPICS if topic in found)
    return Classification(topics, tuple(f"{topic} <- {signal}" for topic in topics for signal in found[topic]))


def is_direct_marketing(topics: tuple[str, ...] | list[str], bulk: bool) -> bool:
    """Whether a mail is direct marketing: on a marketing topic; or sent in bulk (List-Unsubscribe,
    Precedence) and on no service topic (an order confirmation with an unsubscribe link is not)."""
    if any(topic in MARKETING_TOPICS for topic in topics):
        return True
    return bulk and not any(topic in TOPICS and topic not in MARKETING_TOPICS for topic in topics)


def subject_key(sender: str, subject: str | None) -> str | None:
    """A digest of the sender and its subject as a reader sees it; None without a subject. Two
    mailings with the same key are the same mailing; the subject itself is never kept."""
    text = _REPLY_PREFIX.sub("", plain(subject or ""))
    if not text:
        return None
    return hashlib.sha256(f"{sender.lower()}\n{text}".encode()).hexdigest()[:32]


def recipients_key(recipients: tuple[str, ...] | list[str], salt: str) -> str:
    """A digest of the set of addresses one copy of a mail reached, salted with its `subject_key`
    (or its identity): copies of one mailing can be told apart without keeping your addresses, and
    the digest means nothing for any other mail."""
    joined = "\n".join(sorted({address.lower() for address in recipients}))
    return hashlib.sha256(f"{salt}\n{joined}".encode()).hexdigest()[:16]


def topics_help() -> str:
    """`orders (your orders: ...), offers (...)`: the vocabulary as help text shows it."""
    return "; ".join(f"{name} ({what})" for name, (what, _) in TOPICS.items())


def check_topics(topics: list[str] | tuple[str, ...]) -> list[str]:
    """Topics in `TOPICS` order, once each; ValueError naming one that is not in the vocabulary."""
    chosen = {topic.strip().lower() for topic in topics}
    unknown = sorted(chosen - set(TOPICS))
    if unknown:
        raise ValueError(f"unknown topic {unknown[0]!r} (one of {', '.join(TOPICS)})")
    return [topic for topic in TOPICS if topic in chosen]


__all__ = [
    "Classification", "KEYWORDS", "MARKETING_TOPICS", "SENDERS", "TOPICS", "check_topics", "classify",
    "is_direct_marketing", "plain", "recipients_key", "subject_key", "topics_help",
]
