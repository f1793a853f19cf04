"""Knows more than you told it: each value a vendor holds that it was never given, with its evidence.

For each vendor the ledger compares two sets of your values.

What it was GIVEN:
- what you told it (`whoknows tell`: disclosures, source `told`);
- what the proxy saw you send to its own site (a form, a login: disclosures, source `form`);
- its own aliases, in every state (the address you gave it for mail).

What it HOLDS, with evidence:
- `export`: a value in its own data export (`export_records`: the file and field, the date it was
  handed over);
- `mail`: a value in the subject or body of mail it sent to one of your aliases (`mail_records`:
  the message's identity and date, where in it);
- `page`: a value its pages sent to another site (`leaks` with it as the page: its page had it);
- `leak`: a value another site's page sent to it (disclosures, source `leak`: received, not given
  by you);
- `foreign-mail`: an alias of another vendor it wrote to (disclosures, source `mail`).

A value it holds and was not given is a `Finding`: the value (by reference: an alias address, or
`a•••@example.com [me:3f9a0c1d]`), every piece of evidence, and the earliest date seen. A value
that reached it only as a leak from another site's page is not "given": it is a finding whose
evidence says how it got there.

Values are compared as the ledger identifies them: your own values by their reference tag (the
keyed hash of their normalised form; a told value is tagged with this machine's key, so without
the key nothing told in plaintext can be matched: `unmatched_told` counts those), aliases by
address. A phone told in its national form ("600 111 222") is the own phone with the same number
in E.164 ("+34 600111222"), as the leak scanner reads phones. Otherwise a value told in another
spelling than the one you added with `me add` (an address with or without its city) is another
value.

`for_vendor(ledger, vendor)` and `all_findings(ledger)` are the API for letters (`request source`:
`reveal=True` fills `Finding.value` with the plaintext, for this machine's own use only).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from .disclosures import parse_json
from .errors import InputError, NotFoundError
from .leakscan import country_code_of, normalise_phone
from .ledger import Ledger
from .me import KINDS as OWN_KINDS
from .me import MeKeys, list_values, load_keys, lookup_hash, reference_tag, tag_of
from .sites import display_domain
from .terms_records import TermsOffer, earliest_offer

EVIDENCE_SOURCES = ("export", "mail", "page", "leak", "foreign-mail")
_ENCODING_NAMES = {"md5": "MD5", "sha1": "SHA-1", "sha256": "SHA-256"}


@dataclass(frozen=True)
class Evidence:
    """One sign that the vendor holds the value: from where (`EVIDENCE_SOURCES`), when, and the
    details that let you point at it (never the value)."""

    source: str
    seen: str  # a date (YYYY-MM-DD) or a ledger timestamp; the earliest this piece shows
    detail: dict

    def describe(self) -> str:
        d = self.detail
        how = _encoding_phrase(d.get("encoding"))
        if self.source == "export":
            return (f"its export {d['export']} (received {self.seen[:10]}): {d['file']}, "
                    f"field {d['field']}{how}")
        if self.source == "mail":
            return (f"mail it sent to {d['alias']} on {self.seen[:10]} ({' and '.join(d['places'])}), "
                    f"message {d['message']}{how}")
        if self.source == "page":
            verb = "tried to send it to" if d.get("blocked") else "sent it to"
            return f"its pages {verb} {d['recipient']} (first {self.seen[:10]}){how}"
        if self.source == "leak":
            return f"{d.get('page') or 'another site'}'s page sent it here (first {self.seen[:10]}){how}"
        return f"it wrote to this alias of {d.get('alias_of') or 'another vendor'} on {self.seen[:10]}"

    def to_json(self) -> dict:
        return {"source": self.source, "seen": self.seen, **self.detail, "summary": self.describe()}


@dataclass
class Finding:
    """A value the vendor holds and was never given."""

    vendor: str
    kind: str  # email, phone, address... or alias
    value_ref: str  # an alias address, or `<masked> [me:<tag>]`
    first_seen: str
    evidence: list[Evidence] = field(default_factory=list)
    value: str | None = None  # the plaintext: only with `reveal=True`, for a letter
    terms: TermsOffer | None = None  # the person's terms as first proffered to the vendor, if ever

    def to_json(self) -> dict:
        record = {"vendor": self.vendor, "kind": self.kind, "value": self.value_ref, "first_seen": self.first_seen,
                  "sources": sorted({e.source for e in self.evidence}, key=EVIDENCE_SOURCES.index),
                  "evidence": [e.to_json() for e in self.evidence]}
        if self.value is not None:
            record["plaintext"] = self.value
        if self.terms is not None:
            record["personal_terms"] = {**self.terms.to_json(), "summary": self.terms_summary()}
        return record

    def terms_summary(self) -> str | None:
        """`offered our terms (nostalking/1) since 2026-03-01; agreed: never; on 2026-03-05 its pages
        sent it to tracker.example, as SHA-256`: the last part when its pages sent the value to a
        third party on or after the day the terms were first offered."""
        if self.terms is None:
            return None
        since = self.terms.first_offered[:10]
        after = [e for e in self.evidence if e.source == "page" and not e.detail.get("blocked") and e.seen[:10] >= since]
        if not after:
            return self.terms.describe()
        first = after[0]  # (evidence is sorted by date)
        return (f"{self.terms.describe()}; on {first.seen[:10]} its pages sent it to {first.detail['recipient']}"
                f"{_encoding_phrase(first.detail.get('encoding'))}")

    def describe(self) -> str:
        return (f"{display_domain(self.vendor)} holds your {self.kind} {self.value_ref}, never given to it "
                f"(first seen {self.first_seen[:10]})")


def _encoding_phrase(encoding: str | None) -> str:
    if not encoding or encoding in ("plain", "casefold"):
        return ""
    base = encoding.removesuffix("-upper")
    return f", as {_ENCODING_NAMES.get(base, encoding)}"


def value_identity(kind: str, ref: str) -> tuple[str, str]:
    """How the ledger tells values apart: own values by reference tag, aliases by address."""
    tag = reference_tag(ref)
    return ("me", tag) if tag is not None else ("alias", ref.strip().lower())


# -- what each vendor holds -------------------------------------------------------------------

def _held(db, vendor_id: int | None) -> Iterable[tuple[int, str, str, Evidence]]:
    """(vendor id, kind, value_ref, evidence) for every sign of a held value."""
    where = "" if vendor_id is None else " AND {0}.vendor_id = :vendor"
    params = {"vendor": vendor_id}
    for row in db.execute(
            "SELECT e.vendor_id, f.kind, f.value_ref, e.received_on, e.source_name, f.file, f.field, f.encoding, "
            "f.count FROM export_findings AS f JOIN data_exports AS e ON e.id = f.export_id "
            "WHERE f.finding = 'value'" + where.format("e") + " ORDER BY e.received_on, f.id", params):
        yield row[0], row[1], row[2], Evidence("export", row[3], {
            "export": row[4], "file": row[5], "field": row[6], "encoding": row[7], "count": row[8]})
    for row in db.execute(
            "SELECT h.vendor_id, h.kind, h.value_ref, coalesce(m.sent_at, m.scanned_at), m.identity, h.alias, "
            "group_concat(DISTINCT h.place), min(h.encoding) "
            "FROM mail_value_hits AS h JOIN mail_messages AS m ON m.id = h.message_id WHERE 1" + where.format("h")
            + " GROUP BY h.vendor_id, h.value_ref, m.id, h.alias ORDER BY 4, m.identity", params):
        yield row[0], row[1], row[2], Evidence("mail", row[3], {
            "message": row[4], "alias": row[5], "places": sorted(row[6].split(",")), "encoding": row[7]})
    for row in db.execute(
            "SELECT l.vendor_id, l.kind, l.value_ref, min(l.first_seen), l.recipient_host, min(l.blocked), "
            "min(l.encoding) FROM leaks AS l WHERE 1" + where.format("l")
            + " GROUP BY l.vendor_id, l.value_ref, l.recipient_host ORDER BY 4, l.recipient_host", params):
        yield row[0], row[1], row[2], Evidence("page", row[3], {
            "recipient": row[4], "blocked": bool(row[5]), "encoding": row[6]})
    for row in db.execute(
            "SELECT d.vendor_id, d.kind, d.value, d.first_seen, d.source, d.evidence FROM disclosures AS d "
            "WHERE d.source IN ('leak', 'mail')" + where.format("d") + " ORDER BY d.first_seen", params):
        evidence = parse_json(row[5])
        evidence = evidence if isinstance(evidence, dict) else {}
        if row[4] == "leak":
            detail = {"page": evidence.get("page"), "host": evidence.get("host"), "encoding": evidence.get("encoding")}
            yield row[0], row[1], row[2], Evidence("leak", row[3], detail)
        else:
            detail = {"alias_of": evidence.get("alias_of"), "message": evidence.get("message")}
            yield row[0], row[1], row[2], Evidence("foreign-mail", row[3], detail)


# -- what each vendor was given ---------------------------------------------------------------

def _same_phone(told: str, own: str) -> bool:
    """One number, whichever side is written nationally: the other side gives it its country."""
    try:
        own_e164, told_e164 = normalise_phone(own), normalise_phone(told)
        if own_e164 is None and told_e164 is not None:
            own_e164 = normalise_phone(own, country_code_of(told_e164))
        elif told_e164 is None and own_e164 is not None:
            told_e164 = normalise_phone(told, country_code_of(own_e164))
    except InputError:
        return False
    return own_e164 is not None and own_e164 == told_e164


def _given(db, vendor_id: int | None, keys: MeKeys | None, own_phones: list) -> tuple[dict[int, set], int]:
    """Per vendor id, the identities of the values it was given; and how many told values could
    not be compared (own kinds told in plaintext, with no key on this machine to tag them)."""
    given: dict[int, set] = {}
    where = "" if vendor_id is None else " AND vendor_id = :vendor"
    params = {"vendor": vendor_id}
    aliases = {}
    for vendor, address in db.execute("SELECT vendor_id, address FROM aliases WHERE 1" + where, params):
        given.setdefault(vendor, set()).add(("alias", address.lower()))
        aliases[address.lower()] = vendor
    unmatched = 0
    for vendor, kind, value in db.execute(
            "SELECT vendor_id, kind, value FROM disclosures WHERE source IN ('told', 'form')" + where, params):
        identity = None
        if reference_tag(value) is not None or kind == "alias":
            identity = value_identity(kind, value)
        elif kind == "email" and value.lower() in aliases:
            identity = ("alias", value.lower())
        elif kind in OWN_KINDS:
            if keys is None:
                unmatched += 1
                continue
            identity = ("me", tag_of(lookup_hash(keys, kind, value)))
            if kind == "phone":
                given.setdefault(vendor, set()).update(
                    ("me", phone.tag) for phone in own_phones if _same_phone(value, phone.value))
        if identity is not None:
            given.setdefault(vendor, set()).add(identity)
    return given, unmatched


# -- findings ---------------------------------------------------------------------------------

@dataclass
class Findings:
    findings: list[Finding]
    unmatched_told: int  # told values that could not be compared (no key on this machine)


def _compute(ledger: Ledger, vendor_id: int | None, reveal: bool) -> Findings:
    keys = load_keys(create=False)
    own = [value for value in list_values(ledger, keys) if value.value is not None] if keys is not None else []
    with ledger.read() as db:
        domains = dict(db.execute("SELECT id, domain FROM vendors"))
        given, unmatched = _given(db, vendor_id, keys, [value for value in own if value.kind == "phone"])
        found: dict[tuple[int, tuple[str, str]], Finding] = {}
        for vendor, kind, ref, evidence in _held(db, vendor_id):
            identity = value_identity(kind, ref)
            if identity in given.get(vendor, ()):
                continue
            finding = found.get((vendor, identity))
            if finding is None:
                finding = found[(vendor, identity)] = Finding(domains[vendor], kind, ref, evidence.seen)
            elif kind != "alias" and finding.kind == "alias":
                finding.kind = kind
            finding.evidence.append(evidence)
            finding.first_seen = min(finding.first_seen, evidence.seen)
    plaintext = {value.tag: value.value for value in own} if reveal else {}
    results = []
    for (_, identity), finding in found.items():
        finding.evidence.sort(key=lambda e: (e.seen, EVIDENCE_SOURCES.index(e.source)))
        if reveal:
            finding.value = plaintext.get(identity[1]) if identity[0] == "me" else identity[1]
        results.append(finding)
    results.sort(key=lambda f: (f.vendor, f.first_seen, f.kind, f.value_ref))
    offers: dict[str, TermsOffer | None] = {}
    for finding in results:
        if finding.vendor not in offers:
            offers[finding.vendor] = earliest_offer(ledger, finding.vendor)
        finding.terms = offers[finding.vendor]
    return Findings(results, unmatched)


def for_vendor(ledger: Ledger, vendor: str, reveal: bool = False) -> list[Finding]:
    """Every value `vendor` (a domain as the ledger writes it) holds and was never given, oldest
    first, each with its evidence. `reveal`: fill `Finding.value` with the plaintext (letters)."""
    vendor_id = ledger.vendor_id(vendor)
    if vendor_id is None:
        raise NotFoundError(f"no vendor {display_domain(vendor)} in the ledger")
    return _compute(ledger, vendor_id, reveal).findings


def all_findings(ledger: Ledger, reveal: bool = False) -> Findings:
    """`for_vendor` for every vendor, by vendor; with the count of told values not comparable."""
    return _compute(ledger, None, reveal)


def vendor_findings(ledger: Ledger, vendor: str) -> Findings:
    """`for_vendor`, with the count of told values not comparable (for `findings VENDOR`)."""
    vendor_id = ledger.vendor_id(vendor)
    if vendor_id is None:
        raise NotFoundError(f"no vendor {display_domain(vendor)} in the ledger")
    return _compute(ledger, vendor_id, False)


__all__ = [
    "EVIDENCE_SOURCES", "Evidence", "Finding", "Findings", "all_findings", "for_vendor", "value_identity", "vendor_findings",
]
