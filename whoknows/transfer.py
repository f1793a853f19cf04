"""Export and import the whole ledger.

JSON is the round-trip format: `{"format": "whoknows-ledger", "version": 1, "vendors": [...],
"disclosures": [...], "aliases": [...], "preferences": [...], "observations": [...], "settings": [...],
"site_settings": [...], "site_third_parties": [...], ...}`, one section per table in `TABLES`; every
other table of the ledger is in `NOT_EXPORTED` with the reason (a test checks that none is forgotten).
Rows name their vendor by domain (row ids are private to one ledger file); every column is kept
(JSON columns as JSON values), rows are in a fixed order and there is no timestamp in the file, so
export -> import into an empty ledger -> export gives the same bytes.

The history of each vendor's preferences (`preference_history`, issue 16) travels with them and
merges as they do: the ledger's wins whole. Issue 5's tables travel too: `me_values` (the person's
own values, exported as they are stored: AES-GCM ciphertext with its keyed lookup hash and key id,
never plaintext; the key is a secret, so they can be read again only where the same `me-key` is),
`leaks` (page and recipient by domain), `mail_messages` and `mail_alias_hits` (a hit names its
message by identity) and `rights_requests` (a complaint or follow-up names the request it is about
by kind and date: `about_kind`, `about_sent_on`; absent from files written before). Issue 14's tables travel too: `data_exports` (an
export read, named by its vendor and digest; the request it answers by kind and date),
`export_findings` (naming their export by vendor and digest) and `mail_value_hits` (naming their
message by identity); an export already in the ledger keeps its own findings whole (as preferences
do). Intents (issue 15) travel whole: `intents` (by a random uid), `intent_messages` (by
Message-ID; a message delivered in either ledger stays delivered) and `intent_answers` (naming the
intent message by Message-ID and the scanned message by identity). So do the personal terms'
offers (`terms_offers`, issue 15: by vendor domain, term and version; merged to the earlier first
offer, the later last one and the earlier agreement). So do the per-site settings
(`whoknows.site_settings`): `site_settings` (a site's paused flag, cookie mode and leak mode, by the
site's domain) and `site_third_parties` (a site and a third party allowed on its pages, both by
domain). Issue 13's `shared_identifiers` (which first-party identifier cookie of a site went to which
third party) travels too, and so do its learned trackers (`learned_trackers`, by domain; the entry
changed last wins: a later allow or forget is the latest word); an export written before issue 13
lacks `leaks.stopped_by` and `site_settings.leak_mode`, read as NULL. A vendor's sales contact (where
intents go, issue 15) travels with the vendor and merges as its other contacts do (the ledger's own
wins); a file written before lacks `vendors.sales_contact`, read as NULL, and one written before the
company sightings named the site's host a company hid behind lacks `company_sightings.cloaked_behind`
(NULL: none seen).

The keys are secrets and stay out of a plain export: without them an import brings back aliases that
cannot be verified and own values that cannot be read. `--with-secrets` adds a "secrets" section
(last in the file) holding the alias key and the key of your values, sealed with a passphrase
(`whoknows.sealing`); importing it restores them (`whoknows.secrets.restore_secret`), and never over
a different key already on the machine.

CSV is for spreadsheets and is export-only: one file per table, each with that table's own columns
(`vendors.csv`, `aliases.csv`...), in a directory or a ZIP archive. It cannot be imported back: CSV
cannot tell an empty value from a missing one, and a spreadsheet rewrites phone numbers and dates on
the way through.
Cells that a spreadsheet would run as a formula (`=`, `+`, `-`, `@` first) get a leading `'`:
cookie names and evidence come from web pages, and a web page must not get to run formulas.

Import reads and checks the whole file first, then writes it in one transaction: a bad file changes
nothing. Merging into a ledger that already has data:
- vendors are matched by domain; the ledger's own values win, the file fills in what is empty;
- a row already present (same unique key: disclosure = vendor+kind+normalised value+source,
  alias = address, observation = vendor+kind+subject, preferences = vendor, setting = key,
  site setting = site, allowed third party = site+third party) is merged: first_seen takes the
  earlier, last_seen the later date, an observation's count the larger, an allowed third party's
  created_at the earlier (so importing the same file twice changes nothing), and otherwise what the
  ledger has wins (a site's paused flag and cookie mode are one choice: the ledger's row is kept
  whole, as preferences are);
- an alias that the ledger holds for another vendor, or a second active alias for a vendor, is a
  conflict: the import stops and changes nothing.
"""

import csv
import io
import json
import re
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from typing import Callable, Iterator, TextIO

from .cookies import MODE_SPELLING, parse_cookie_mode
from .data_rights import KINDS as REQUEST_KINDS
from .errors import InputError, WhoknowsError
from .ledger import (
    ALIAS_STATES, COMPANY_IDENTIFIER_KINDS, DISCLOSURE_KINDS, DISCLOSURE_SOURCES, OBSERVATION_KINDS, Ledger,
    json_text,
)
from .data_rights import KINDS as RIGHTS_KINDS
from .me import KINDS as ME_KINDS
from .learned_trackers import EVIDENCE_KINDS
from .learned_trackers import STATES as LEARNED_STATES
from .mail_topics import TOPICS
from .personal_terms import AGREEMENT_SOURCES
from .preferences import CHANNELS
from .sealing import check_section
from .sites import normalise_vendor

FORMAT = "whoknows-ledger"
VERSION = 1
SECRETS_SECTION = "secrets"

# table -> SELECT giving its export rows, in export order. Column names are the export's field names.
_EXPORT_SQL = {
    "vendors": "SELECT domain, name, company, privacy_contact, postal_address, created_at, sales_contact "
               "FROM vendors ORDER BY domain",
    "disclosures": "SELECT v.domain AS vendor, d.kind, d.value, d.source, d.first_seen, d.last_seen, "
                   "d.evidence FROM disclosures AS d JOIN vendors AS v ON v.id = d.vendor_id "
                   "ORDER BY v.domain, d.kind, d.value, d.source",
    "aliases": "SELECT v.domain AS vendor, a.address, a.state, a.created_at, a.state_changed_at "
               "FROM aliases AS a JOIN vendors AS v ON v.id = a.vendor_id ORDER BY v.domain, a.address",
    "preferences": "SELECT v.domain AS vendor, p.marketing, p.channels, p.max_per_month, p.notes, "
                   "p.updated_at, p.topics, p.max_per_week, p.opted_out_on FROM preferences AS p JOIN vendors AS v ON v.id = p.vendor_id "
                   "ORDER BY v.domain",
    "preference_history": "SELECT v.domain AS vendor, h.set_at, h.marketing, h.channels, h.max_per_month, h.notes, "
                          "h.topics, h.max_per_week, h.opted_out_on FROM preference_history AS h JOIN vendors AS v ON v.id = h.vendor_id "
                          "ORDER BY v.domain, h.set_at",
    "observations": "SELECT v.domain AS vendor, o.kind, o.subject, o.count, o.first_seen, o.last_seen, "
                    "o.detail FROM observations AS o JOIN vendors AS v ON v.id = o.vendor_id "
                    "ORDER BY v.domain, o.kind, o.subject",
    "settings": "SELECT key, value FROM settings ORDER BY key",
    "site_settings": "SELECT v.domain AS vendor, s.paused, s.cookie_mode, s.leak_mode, s.updated_at FROM site_settings AS s "
                     "JOIN vendors AS v ON v.id = s.vendor_id ORDER BY v.domain",
    "site_third_parties": "SELECT v.domain AS vendor, t.third_party, t.created_at FROM site_third_parties AS t "
                          "JOIN vendors AS v ON v.id = t.vendor_id ORDER BY v.domain, t.third_party",
    "me_values": "SELECT kind, lookup, ciphertext, key_id, created_at FROM me_values ORDER BY kind, lookup",
    "leaks": "SELECT page.domain AS vendor, recipient.domain AS recipient, l.recipient_host, l.company, l.kind, "
             "l.value_ref, l.encoding, l.form, l.location, l.method, l.url, l.blocked, l.stopped_by, l.count, l.first_seen, "
             "l.last_seen FROM leaks AS l JOIN vendors AS page ON page.id = l.vendor_id "
             "LEFT JOIN vendors AS recipient ON recipient.id = l.recipient_id "
             "ORDER BY page.domain, l.recipient_host, l.value_ref, l.encoding, l.form, l.location, l.blocked",
    "mail_messages": "SELECT identity, sent_at, sender_site, marketing, scanned_at, topics, topic_reasons, subject_key, "
                     "reached FROM mail_messages "
                     "ORDER BY identity",
    "mail_alias_hits": "SELECT m.identity AS message, h.alias, v.domain AS vendor, h.sender, h.verdict "
                       "FROM mail_alias_hits AS h JOIN mail_messages AS m ON m.id = h.message_id "
                       "JOIN vendors AS v ON v.id = h.vendor_id ORDER BY m.identity, h.alias",
    "rights_requests": "SELECT v.domain AS vendor, r.kind, r.lang, r.contact, r.sent_on, r.due_on, r.answered_on, "
                       "a.kind AS about_kind, a.sent_on AS about_sent_on "
                       "FROM rights_requests AS r JOIN vendors AS v ON v.id = r.vendor_id "
                       "LEFT JOIN rights_requests AS a ON a.id = r.about_id "
                       "ORDER BY v.domain, r.kind, r.sent_on",
    "data_exports": "SELECT v.domain AS vendor, e.digest, r.kind AS request_kind, r.sent_on AS request_sent_on, "
                    "e.source_name, e.received_on, e.read_at, e.files_read, e.bytes_read, e.skipped "
                    "FROM data_exports AS e JOIN vendors AS v ON v.id = e.vendor_id "
                    "LEFT JOIN rights_requests AS r ON r.id = e.request_id ORDER BY v.domain, e.digest",
    "export_findings": "SELECT v.domain AS vendor, e.digest AS export, f.finding, f.category, f.kind, f.value_ref, "
                       "f.encoding, f.form, f.basis, f.sample, f.file, f.field, f.count "
                       "FROM export_findings AS f JOIN data_exports AS e ON e.id = f.export_id "
                       "JOIN vendors AS v ON v.id = e.vendor_id ORDER BY v.domain, e.digest, f.finding, f.file, "
                       "f.field, f.category, f.basis, f.kind, f.value_ref, f.encoding, f.form, f.sample, f.count",
    "mail_value_hits": "SELECT m.identity AS message, v.domain AS vendor, h.alias, h.kind, h.value_ref, h.encoding, "
                       "h.form, h.place FROM mail_value_hits AS h JOIN mail_messages AS m ON m.id = h.message_id "
                       "JOIN vendors AS v ON v.id = h.vendor_id "
                       "ORDER BY m.identity, v.domain, h.value_ref, h.encoding, h.form, h.place",
    # (`blocked` is a yes/no elsewhere in the file: here the counts have names of their own.)
    "company_sightings": "SELECT v.domain AS vendor, s.company, s.domain, s.day, s.blocked AS blocked_requests, "
                         "s.reached AS reached_requests, s.cloaked_behind FROM company_sightings AS s "
                         "JOIN vendors AS v ON v.id = s.vendor_id ORDER BY v.domain, s.company, s.domain, s.day",
    "company_identifiers": "SELECT v.domain AS vendor, i.company, i.domain, i.kind, i.name, i.qualifier, i.count, "
                           "i.first_day, i.last_day FROM company_identifiers AS i "
                           "JOIN vendors AS v ON v.id = i.vendor_id "
                           "ORDER BY v.domain, i.company, i.domain, i.kind, i.name, i.qualifier",
    "intents": "SELECT uid, what, category, budget_amount, budget_currency, until, lang, created_at FROM intents "
               "ORDER BY uid",
    "intent_messages": "SELECT i.uid AS intent, v.domain AS vendor, m.alias, m.recipient, m.message_id, m.state, "
                       "m.state_changed_at FROM intent_messages AS m JOIN intents AS i ON i.id = m.intent_id "
                       "JOIN vendors AS v ON v.id = m.vendor_id ORDER BY m.message_id",
    "intent_answers": "SELECT im.message_id AS intent_message, mm.identity AS message, a.matched_by, a.sender, "
                      "a.listed FROM intent_answers AS a JOIN intent_messages AS im ON im.id = a.intent_message_id "
                      "JOIN mail_messages AS mm ON mm.id = a.mail_message_id ORDER BY im.message_id, mm.identity",
    "terms_offers": "SELECT v.domain AS vendor, o.term, o.version, o.first_offered, o.last_offered, o.agreed_on, "
                    "o.agreed_by FROM terms_offers AS o JOIN vendors AS v ON v.id = o.vendor_id "
                    "ORDER BY v.domain, o.term, o.version",
    "shared_identifiers": "SELECT v.domain AS vendor, s.cookie_name, s.recipient_site, s.recipient_host, s.action, "
                          "s.count, s.first_seen, s.last_seen FROM shared_identifiers AS s "
                          "JOIN vendors AS v ON v.id = s.vendor_id ORDER BY v.domain, s.cookie_name, s.recipient_host",
    "learned_trackers": "SELECT domain, state, sites, evidence, learned_at, changed_at, forgotten_at "
                        "FROM learned_trackers ORDER BY domain",
}
TABLES = tuple(_EXPORT_SQL)
# Tables of the ledger that are deliberately not exported, with the reason. Empty today: every table
# holds something the person would lose. A new table goes in `_EXPORT_SQL` or here, never nowhere.
NOT_EXPORTED: dict[str, str] = {}
_JSON_COLUMNS = {"evidence", "detail", "channels", "skipped", "topics", "topic_reasons", "reached", "sites"}
_BOOL_COLUMNS = {"marketing", "blocked", "paused", "listed"}


# -- export ------------------------------------------------------------------------------------

def _export_row(row) -> dict:
    record = {}
    for key in row.keys():
        value = row[key]
        if key in _JSON_COLUMNS and value is not None:
            value = json.loads(value)  # the ledger checks JSON on write
        elif key in _BOOL_COLUMNS and value is not None:
            value = bool(value)
        record[key] = value
    return record


def _rows(db, table: str) -> Iterator[dict]:
    for row in db.execute(_EXPORT_SQL[table]):
        yield _export_row(row)


def write_json(ledger: Ledger, out: TextIO, sealed_secrets: dict | None = None) -> dict[str, int]:
    """Write the whole ledger as JSON to `out`, one row a line; returns rows written per table.

    `sealed_secrets` (from `whoknows.sealing.seal`) becomes the file's "secrets" section, last.
    """
    counts = {}
    with ledger.read() as db:  # one snapshot: a consistent ledger even while the proxy writes
        out.write("{\n" f'  "format": "{FORMAT}",\n  "version": {VERSION}')
        for table in TABLES:
            out.write(f',\n  "{table}": [')
            count = 0
            for row in _rows(db, table):
                out.write(("\n    " if count == 0 else ",\n    ") + json.dumps(row, ensure_ascii=False))
                count += 1
            out.write("\n  ]" if count else "]")
            counts[table] = count
        if sealed_secrets is not None:
            out.write(f',\n  "{SECRETS_SECTION}": ' + json.dumps(sealed_secrets, sort_keys=True))
        out.write("\n}\n")
    return counts


# The secrets that make an export restore everything: without the alias key no alias verifies, without
# the key of your values none of them decrypts. The extension's token is left out: pairing again
# makes a new one.
BACKUP_SECRETS = ("alias-key", "me-key")


def machine_secrets() -> dict[str, bytes]:
    """This machine's `BACKUP_SECRETS` that exist (name -> value), for `--with-secrets`."""
    from . import secrets

    return {name: secrets.get_secret(name) for name in BACKUP_SECRETS if secrets.secret_location(name) is not None}


_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def _csv_cell(key: str, value) -> str:
    if value is None:
        return ""
    if key in ("marketing", "paused"):
        text = "yes" if value else "no"
    elif key == "channels":
        text = ",".join(value)
    elif key in _JSON_COLUMNS:
        text = json.dumps(value, ensure_ascii=False, separators=(",", ":"))
    else:
        text = str(value)
    return spreadsheet_safe(text)


def spreadsheet_safe(text: str) -> str:
    """A CSV cell a spreadsheet shows as text: a leading `'` before what it would run as a formula."""
    return "'" + text if text.startswith(_FORMULA_START) else text


def _csv_header(db, table: str) -> list[str]:
    # The columns of the table's export rows, known even when the table is empty.
    return [column[0] for column in db.execute(_EXPORT_SQL[table] + " LIMIT 0").description]


def _write_csv_table(db, table: str, out: TextIO) -> int:
    writer = csv.writer(out)
    header = _csv_header(db, table)
    writer.writerow(header)
    count = 0
    for row in _rows(db, table):
        writer.writerow([_csv_cell(key, row[key]) for key in header])
        count += 1
    return count


def write_csv(ledger: Ledger, target: Path) -> dict[str, int]:
    """Write the whole ledger as CSV, one file per table (`vendors.csv`, `aliases.csv`...), each with
    that table's own columns: into the directory `target` (made 0700 if missing), or into a ZIP
    archive when `target` ends in `.zip`. Every file is 0600; returns rows written per table.
    Export-only (see the module's docstring)."""
    import zipfile

    from .paths import make_private_dir, private_file

    counts = {}
    with ledger.read() as db:  # one snapshot for every table
        if target.suffix.lower() == ".zip":
            with private_file(target) as raw, zipfile.ZipFile(raw, "w", zipfile.ZIP_DEFLATED) as archive:
                for table in TABLES:
                    member = zipfile.ZipInfo(f"{table}.csv", date_time=(1980, 1, 1, 0, 0, 0))
                    member.compress_type = zipfile.ZIP_DEFLATED
                    member.external_attr = 0o100600 << 16  # unzipped, the files stay private
                    with archive.open(member, "w") as binary, \
                            io.TextIOWrapper(binary, encoding="utf-8", newline="") as out:
                        counts[table] = _write_csv_table(db, table, out)
            return counts
        if target.exists() and not target.is_dir():
            raise WhoknowsError(f"{target} is a file; a CSV export is a directory (one file per table) "
                                "or a .zip archive")
        make_private_dir(target)
        for table in TABLES:
            with private_file(target / f"{table}.csv", text=True) as out:
                counts[table] = _write_csv_table(db, table, out)
    return counts


# -- reading and checking an export -----------------------------------------------------------

_TIMESTAMP = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d{1,6})?Z$")


class _Bad(ValueError):
    """A field's value is not acceptable; the message says why."""


def _text(value) -> str:
    if not isinstance(value, str) or not value:
        raise _Bad("must be a non-empty string")
    return value


def _string(value) -> str:
    if not isinstance(value, str):
        raise _Bad("must be a string")
    return value


def _optional(check: Callable) -> Callable:
    return lambda value: None if value is None else check(value)


def _timestamp(value) -> str:
    if not isinstance(value, str) or not _TIMESTAMP.match(value):
        raise _Bad(f"{value!r} is not a UTC timestamp like 2026-01-31T12:00:00Z")
    try:
        datetime.fromisoformat(value)
    except ValueError:
        raise _Bad(f"{value!r} is not a valid date and time") from None
    return value


def _one_of(choices: tuple[str, ...]) -> Callable:
    def check(value):
        if value not in choices:
            raise _Bad(f"{value!r} is not one of {', '.join(choices)}")
        return value
    return check


def _count(value) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise _Bad("must be a whole number, 0 or more")
    return value


def _boolean(value) -> int:
    if not isinstance(value, bool):
        raise _Bad("must be true, false or null")
    return int(value)


def _channels(value) -> str:
    if not isinstance(value, list) or not all(isinstance(c, str) and c in CHANNELS for c in value):
        raise _Bad(f"must be a list of channels ({', '.join(CHANNELS)})")
    return json_text(value)


def _topics(value) -> str:
    if not isinstance(value, list) or not all(isinstance(t, str) and t in TOPICS for t in value):
        raise _Bad(f"must be a list of topics ({', '.join(TOPICS)})")
    return json_text(value)


def _positive(value) -> int:
    if _count(value) < 1:
        raise _Bad("must be a whole number, 1 or more")
    return value


def _hex(length: int) -> Callable:
    def check(value):
        if not isinstance(value, str) or not re.fullmatch(f"[0-9a-f]{{{length}}}", value):
            raise _Bad(f"must be {length} lowercase hex digits")
        return value
    return check


def _day(value) -> str:
    try:
        if isinstance(value, str) and len(value) == 10:
            return date.fromisoformat(value).isoformat()
    except ValueError:
        pass
    raise _Bad(f"{value!r} is not a date like 2026-01-31")


def _json_value(value) -> str | None:
    return json_text(value)


def _domain_list(value) -> str:
    if not isinstance(value, list):
        raise _Bad("must be a list of domains")
    return json_text([_domain(item) for item in value])


def _evidence_kinds(value) -> str:
    if not isinstance(value, list) or not set(value) <= set(EVIDENCE_KINDS):
        raise _Bad(f"must be a list of {', '.join(EVIDENCE_KINDS)}")
    return json_text(value)


def _cookie_mode(value) -> str:
    if not isinstance(value, str):
        raise _Bad(f"must be a cookie mode ({MODE_SPELLING}) or null")
    try:
        return str(parse_cookie_mode(value))  # stored the way the ledger writes it: "cap:7"
    except InputError as exc:
        raise _Bad(str(exc)) from None


def _domain(value) -> str:
    value = _text(value)
    try:
        normal = normalise_vendor(value)
    except InputError as exc:
        raise _Bad(str(exc)) from None
    if normal != value:
        raise _Bad(f"{value!r} is not a vendor's domain as the ledger writes it ({normal!r})")
    return value


_FIELDS: dict[str, dict[str, Callable]] = {
    "vendors": {
        "domain": _domain, "name": _optional(_text), "company": _optional(_text),
        "privacy_contact": _optional(_text), "postal_address": _optional(_text), "created_at": _timestamp,
        "sales_contact": _optional(_text),
    },
    "disclosures": {
        "vendor": _text, "kind": _one_of(DISCLOSURE_KINDS), "value": _text,
        "source": _one_of(DISCLOSURE_SOURCES), "first_seen": _timestamp, "last_seen": _timestamp,
        "evidence": _json_value,
    },
    "aliases": {
        "vendor": _text, "address": _text, "state": _one_of(ALIAS_STATES), "created_at": _timestamp,
        "state_changed_at": _optional(_timestamp),
    },
    "preferences": {
        "vendor": _text, "marketing": _optional(_boolean), "channels": _optional(_channels),
        "max_per_month": _optional(_count), "notes": _optional(_text), "updated_at": _timestamp,
        "topics": _optional(_topics), "max_per_week": _optional(_count), "opted_out_on": _optional(_day),
    },
    "preference_history": {
        "vendor": _text, "set_at": _timestamp, "marketing": _optional(_boolean), "channels": _optional(_channels),
        "max_per_month": _optional(_count), "notes": _optional(_text),
        "topics": _optional(_topics), "max_per_week": _optional(_count), "opted_out_on": _optional(_day),
    },
    "observations": {
        "vendor": _text, "kind": _one_of(OBSERVATION_KINDS), "subject": _text, "count": _count,
        "first_seen": _timestamp, "last_seen": _timestamp, "detail": _json_value,
    },
    "settings": {"key": _text, "value": _string},
    "site_settings": {
        "vendor": _text, "paused": _boolean, "cookie_mode": _optional(_cookie_mode),
        "leak_mode": _optional(_one_of(("block", "scrub", "report"))), "updated_at": _timestamp,
    },
    "site_third_parties": {"vendor": _text, "third_party": _domain, "created_at": _timestamp},
    "me_values": {
        "kind": _one_of(ME_KINDS), "lookup": _hex(64), "ciphertext": _text, "key_id": _hex(16),
        "created_at": _timestamp,
    },
    "leaks": {
        "vendor": _text, "recipient": _optional(_text), "recipient_host": _text, "company": _optional(_text),
        "kind": _one_of(DISCLOSURE_KINDS), "value_ref": _text, "encoding": _text, "form": _text,
        "location": _text, "method": _string, "url": _string, "blocked": _boolean,
        "stopped_by": _optional(_one_of(("filter", "prevention", "scrub"))), "count": _positive,
        "first_seen": _timestamp, "last_seen": _timestamp,
    },
    "mail_messages": {
        "identity": _text, "sent_at": _optional(_timestamp), "sender_site": _optional(_text),
        "marketing": _boolean, "scanned_at": _timestamp, "topics": _optional(_topics),
        "topic_reasons": _optional(_json_value), "subject_key": _optional(_text), "reached": _optional(_json_value),
    },
    "mail_alias_hits": {
        "message": _text, "alias": _text, "vendor": _text, "sender": _string,
        "verdict": _one_of(("vendor", "foreign", "unknown")),
    },
    "rights_requests": {
        "vendor": _text, "kind": _one_of(REQUEST_KINDS), "lang": _text,
        "contact": _optional(_text), "sent_on": _day, "due_on": _day, "answered_on": _optional(_day),
        "about_kind": _optional(_one_of(REQUEST_KINDS)), "about_sent_on": _optional(_day),
    },
    "data_exports": {
        "vendor": _text, "digest": _hex(64), "request_kind": _optional(_one_of(RIGHTS_KINDS)),
        "request_sent_on": _optional(_day), "source_name": _text, "received_on": _day, "read_at": _timestamp,
        "files_read": _count, "bytes_read": _count, "skipped": _json_value,
    },
    "export_findings": {
        "vendor": _text, "export": _hex(64), "finding": _one_of(("value", "category")),
        "category": _optional(_text), "kind": _optional(_text), "value_ref": _optional(_text),
        "encoding": _optional(_text), "form": _optional(_text), "basis": _optional(_text),
        "sample": _optional(_string), "file": _string, "field": _string, "count": _positive,
    },
    "mail_value_hits": {
        "message": _text, "vendor": _text, "alias": _text, "kind": _text, "value_ref": _text, "encoding": _text,
        "form": _text, "place": _one_of(("subject", "body")),
    },
    "company_sightings": {
        "vendor": _text, "company": _text, "domain": _text, "day": _day, "blocked_requests": _count,
        "reached_requests": _count, "cloaked_behind": _optional(_text),
    },
    "company_identifiers": {
        "vendor": _text, "company": _text, "domain": _text, "kind": _one_of(COMPANY_IDENTIFIER_KINDS),
        "name": _text, "qualifier": _string, "count": _positive, "first_day": _day, "last_day": _day,
    },
    "intents": {
        "uid": _hex(32), "what": _text, "category": _optional(_text), "budget_amount": _optional(_text),
        "budget_currency": _optional(_text), "until": _day, "lang": _one_of(("en", "es")), "created_at": _timestamp,
    },
    "intent_messages": {
        "intent": _hex(32), "vendor": _text, "alias": _text, "recipient": _text, "message_id": _text,
        "state": _one_of(("unsent", "written", "sent")), "state_changed_at": _optional(_timestamp),
    },
    "intent_answers": {
        "intent_message": _text, "message": _text, "matched_by": _one_of(("in-reply-to", "references", "alias")),
        "sender": _string, "listed": _boolean,
    },
    "terms_offers": {
        "vendor": _text, "term": _text, "version": _positive, "first_offered": _timestamp,
        "last_offered": _timestamp, "agreed_on": _optional(_timestamp),
        "agreed_by": _optional(_one_of(AGREEMENT_SOURCES)),
    },
    "shared_identifiers": {
        "vendor": _text, "cookie_name": _string, "recipient_site": _domain, "recipient_host": _text,
        "action": _one_of(("strip", "block")), "count": _positive, "first_seen": _timestamp,
        "last_seen": _timestamp,
    },
    "learned_trackers": {
        "domain": _domain, "state": _one_of(LEARNED_STATES), "sites": _domain_list,
        "evidence": _evidence_kinds, "learned_at": _optional(_timestamp), "changed_at": _timestamp,
        "forgotten_at": _optional(_timestamp),
    },
}
assert set(_FIELDS) == set(TABLES)
# Fields added after export version 1 was defined (issue 15): a file written before has none of them,
# and imports as NULL ("not stated", "not classified").
_ADDED_LATER = {
    "preferences": {"topics", "max_per_week", "opted_out_on"},
    "preference_history": {"topics", "max_per_week", "opted_out_on"},
    "mail_messages": {"topics", "topic_reasons", "subject_key", "reached"},
    # issue 13: leak prevention
    "site_settings": {"leak_mode"},
    "leaks": {"stopped_by"},
    # issue 14, loose ends: the request a complaint or follow-up is about
    "rights_requests": {"about_kind", "about_sent_on"},
    # issue 15, loose end: where intents go
    "vendors": {"sales_contact"},
    # issues 12/13 follow-up: the site's host a company hid behind (CNAME)
    "company_sightings": {"cloaked_behind"},
}
# The first line of each table's CSV file (`write_csv`): how import recognises one.
_CSV_HEADERS = {",".join(fields) for fields in _FIELDS.values()}


@dataclass
class Export:
    """A checked export: for each table, its rows as the ledger stores them (vendor still by domain),
    and its sealed secrets (checked in shape, not opened) if it was exported --with-secrets."""

    tables: dict[str, list[dict]]
    sealed: dict | None = None

    def count(self, table: str) -> int:
        return len(self.tables[table])


def read_export(data: bytes, name: str) -> Export:
    """Parse and check a whole export file; WhoknowsError naming the file and the first problem."""
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        if data.startswith(b"PK\x03\x04"):  # a ZIP: perhaps a CSV export
            text = ""
        else:
            raise WhoknowsError(f"{name} is not a whoknows ledger export: not UTF-8 text") from None
    first_line = text.partition("\n")[0].strip()
    if data.startswith(b"PK\x03\x04") or first_line in _CSV_HEADERS:
        raise WhoknowsError(
            f"{name} is a CSV export, which is for spreadsheets and cannot be imported "
            "(CSV loses the difference between empty and missing); import a JSON export "
            "(whoknows export --format json)"
        )
    try:
        document = json.loads(text)
    except ValueError as exc:
        raise WhoknowsError(f"{name} is not a whoknows ledger export: not valid JSON ({exc})") from None
    _check_header(document, name)
    tables = {}
    for table in TABLES:
        rows = document.get(table, [])
        if not isinstance(rows, list):
            raise WhoknowsError(f"{name}: {table} must be a list of rows")
        tables[table] = [_check_row(table, index, row, name) for index, row in enumerate(rows)]
    _check_vendor_references(tables, name)
    sealed = document.get(SECRETS_SECTION)
    return Export(tables, None if sealed is None else check_section(sealed, name))


def _check_header(document, name: str) -> None:
    if not isinstance(document, dict) or "format" not in document:
        raise WhoknowsError(f"{name} is not a whoknows ledger export (no \"format\": \"{FORMAT}\" marker)")
    if document["format"] != FORMAT:
        raise WhoknowsError(f"{name} is not a whoknows ledger export (format {document['format']!r})")
    version = document.get("version")
    if isinstance(version, bool) or not isinstance(version, int) or version < 1:
        raise WhoknowsError(f"{name}: export version {version!r} is not a version number")
    if version > VERSION:
        raise WhoknowsError(
            f"{name} was written by a newer whoknows (export version {version}; this one reads up to "
            f"{VERSION}); upgrade whoknows to import it"
        )
    unknown = set(document) - {"format", "version", SECRETS_SECTION, *TABLES}
    if unknown:
        raise WhoknowsError(f"{name}: unknown section {sorted(unknown)[0]!r} in the export")


def _check_row(table: str, index: int, row, name: str) -> dict:
    where = f"{name}: {table}[{index}]"
    fields = _FIELDS[table]
    if not isinstance(row, dict):
        raise WhoknowsError(f"{where} is not an object")
    row = {**dict.fromkeys(_ADDED_LATER.get(table, ())), **row} if isinstance(row, dict) else row
    missing = [field for field in fields if field not in row]
    if missing:
        raise WhoknowsError(f"{where} lacks {missing[0]!r}")
    extra = sorted(set(row) - set(fields))
    if extra:
        raise WhoknowsError(f"{where} has an unknown field {extra[0]!r}")
    checked = {}
    for field, check in fields.items():
        try:
            checked[field] = check(row[field])
        except _Bad as exc:
            raise WhoknowsError(f"{where}.{field}: {exc}") from None
    return checked


def _check_vendor_references(tables: dict[str, list[dict]], name: str) -> None:
    domains = {row["domain"] for row in tables["vendors"]}
    for table in ("disclosures", "aliases", "preferences", "preference_history", "observations", "site_settings",
                  "site_third_parties", "leaks", "mail_alias_hits", "rights_requests", "data_exports",
                  "export_findings", "mail_value_hits", "company_sightings", "company_identifiers",
                  "intent_messages", "terms_offers", "shared_identifiers"):
        for index, row in enumerate(tables[table]):
            if row["vendor"] not in domains:
                raise WhoknowsError(f"{name}: {table}[{index}].vendor {row['vendor']!r} is not in the file's vendors")
    for index, row in enumerate(tables["leaks"]):
        if row["recipient"] is not None and row["recipient"] not in domains:
            raise WhoknowsError(f"{name}: leaks[{index}].recipient {row['recipient']!r} is not in the file's vendors")
    for index, row in enumerate(tables["terms_offers"]):
        if (row["agreed_on"] is None) != (row["agreed_by"] is None):
            raise WhoknowsError(f"{name}: terms_offers[{index}] has agreed_on without agreed_by, or the reverse")
    for index, row in enumerate(tables["site_third_parties"]):
        if row["third_party"] == row["vendor"]:
            raise WhoknowsError(f"{name}: site_third_parties[{index}].third_party {row['third_party']!r} is the "
                                "site itself (requests on a site's own pages are never third-party)")
    identities = {row["identity"] for row in tables["mail_messages"]}
    for index, row in enumerate(tables["mail_alias_hits"]):
        if row["message"] not in identities:
            raise WhoknowsError(f"{name}: mail_alias_hits[{index}].message {row['message']!r} is not in the "
                                "file's mail_messages")
    for index, row in enumerate(tables["mail_value_hits"]):
        if row["message"] not in identities:
            raise WhoknowsError(f"{name}: mail_value_hits[{index}].message {row['message']!r} is not in the "
                                "file's mail_messages")
    _check_exports(tables, name)
    _check_intent_references(tables, identities, name)


def _check_exports(tables: dict[str, list[dict]], name: str) -> None:
    requests = {(row["vendor"], row["kind"], row["sent_on"]) for row in tables["rights_requests"]}
    for index, row in enumerate(tables["rights_requests"]):
        if (row["about_kind"] is None) != (row["about_sent_on"] is None):
            raise WhoknowsError(f"{name}: rights_requests[{index}] names the request it is about by about_kind and "
                                "about_sent_on, or by neither")
        if row["about_kind"] is not None and (row["vendor"], row["about_kind"], row["about_sent_on"]) not in requests:
            raise WhoknowsError(f"{name}: rights_requests[{index}] is about a request that is not in the file's "
                                "rights_requests")
    exports = set()
    for index, row in enumerate(tables["data_exports"]):
        exports.add((row["vendor"], row["digest"]))
        if (row["request_kind"] is None) != (row["request_sent_on"] is None):
            raise WhoknowsError(f"{name}: data_exports[{index}] names a request by kind and sent_on, or by neither")
        if row["request_kind"] is not None and (row["vendor"], row["request_kind"], row["request_sent_on"]) not in requests:
            raise WhoknowsError(f"{name}: data_exports[{index}] answers a request that is not in the file's "
                                "rights_requests")
    for index, row in enumerate(tables["export_findings"]):
        where = f"{name}: export_findings[{index}]"
        if (row["vendor"], row["export"]) not in exports:
            raise WhoknowsError(f"{where}.export {row['export']!r} is not in the file's data_exports")
        if row["finding"] == "value" and (row["kind"] is None or row["value_ref"] is None or row["category"]):
            raise WhoknowsError(f"{where}: a value finding has a kind and a value_ref, and no category")
        if row["finding"] == "category" and (row["category"] is None or row["value_ref"] is not None):
            raise WhoknowsError(f"{where}: a category finding has a category, and no value_ref")


def _check_intent_references(tables: dict[str, list[dict]], identities: set[str], name: str) -> None:
    uids = {row["uid"] for row in tables["intents"]}
    for index, row in enumerate(tables["intents"]):
        if (row["budget_amount"] is None) != (row["budget_currency"] is None):
            raise WhoknowsError(f"{name}: intents[{index}] has a budget amount without a currency, or the reverse")
    for index, row in enumerate(tables["intent_messages"]):
        if row["intent"] not in uids:
            raise WhoknowsError(f"{name}: intent_messages[{index}].intent {row['intent']!r} is not in the file's intents")
    message_ids = {row["message_id"] for row in tables["intent_messages"]}
    for index, row in enumerate(tables["intent_answers"]):
        if row["intent_message"] not in message_ids:
            raise WhoknowsError(f"{name}: intent_answers[{index}].intent_message {row['intent_message']!r} is not in "
                                "the file's intent_messages")
        if row["message"] not in identities:
            raise WhoknowsError(f"{name}: intent_answers[{index}].message {row['message']!r} is not in the file's "
                                "mail_messages")


# -- import ---------------------------------------------------------------------------------------

_MERGE_SQL = {
    "vendors": "INSERT INTO vendors (domain, name, company, privacy_contact, postal_address, created_at, "
               "sales_contact) VALUES (:domain, :name, :company, :privacy_contact, :postal_address, :created_at, "
               ":sales_contact) "
               "ON CONFLICT(domain) DO UPDATE SET name = coalesce(name, excluded.name), "
               "company = coalesce(company, excluded.company), "
               "privacy_contact = coalesce(privacy_contact, excluded.privacy_contact), "
               "postal_address = coalesce(postal_address, excluded.postal_address), "
               "sales_contact = coalesce(sales_contact, excluded.sales_contact), "
               "created_at = min(created_at, excluded.created_at)",
    "disclosures": "INSERT INTO disclosures (vendor_id, kind, value, source, first_seen, last_seen, evidence) "
                   "VALUES (:vendor_id, :kind, :value, :source, :first_seen, :last_seen, :evidence) "
                   "ON CONFLICT(vendor_id, kind, match_key, source) DO UPDATE SET "
                   "first_seen = min(first_seen, excluded.first_seen), "
                   "last_seen = max(last_seen, excluded.last_seen), "
                   "evidence = coalesce(evidence, excluded.evidence)",
    "preferences": "INSERT INTO preferences (vendor_id, marketing, channels, max_per_month, notes, updated_at, topics, "
                   "max_per_week, opted_out_on) VALUES (:vendor_id, :marketing, :channels, :max_per_month, :notes, "
                   ":updated_at, :topics, :max_per_week, :opted_out_on) "
                   "ON CONFLICT(vendor_id) DO NOTHING",
    "preference_history": "INSERT INTO preference_history (vendor_id, set_at, marketing, channels, max_per_month, "
                          "notes, topics, max_per_week, opted_out_on) VALUES (:vendor_id, :set_at, :marketing, "
                          ":channels, :max_per_month, :notes, :topics, :max_per_week, :opted_out_on) "
                          "ON CONFLICT(vendor_id, set_at) DO NOTHING",
    "observations": "INSERT INTO observations (vendor_id, kind, subject, detail, count, first_seen, last_seen) "
                    "VALUES (:vendor_id, :kind, :subject, :detail, :count, :first_seen, :last_seen) "
                    "ON CONFLICT(vendor_id, kind, subject) DO UPDATE SET "
                    "detail = CASE WHEN excluded.last_seen > last_seen THEN excluded.detail ELSE detail END, "
                    "count = max(count, excluded.count), "
                    "first_seen = min(first_seen, excluded.first_seen), "
                    "last_seen = max(last_seen, excluded.last_seen)",
    "settings": "INSERT INTO settings (key, value) VALUES (:key, :value) ON CONFLICT(key) DO NOTHING",
    "site_settings": "INSERT INTO site_settings (vendor_id, paused, cookie_mode, leak_mode, updated_at) "
                     "VALUES (:vendor_id, :paused, :cookie_mode, :leak_mode, :updated_at) "
                     "ON CONFLICT(vendor_id) DO NOTHING",
    "site_third_parties": "INSERT INTO site_third_parties (vendor_id, third_party, created_at) "
                          "VALUES (:vendor_id, :third_party, :created_at) "
                          "ON CONFLICT(vendor_id, third_party) DO UPDATE SET "
                          "created_at = min(created_at, excluded.created_at)",
    "me_values": "INSERT INTO me_values (kind, lookup, ciphertext, key_id, created_at) "
                 "VALUES (:kind, :lookup, :ciphertext, :key_id, :created_at) ON CONFLICT(lookup) DO NOTHING",
    "leaks": "INSERT INTO leaks (vendor_id, recipient_id, recipient_host, company, kind, value_ref, encoding, form, "
             "location, method, url, blocked, stopped_by, count, first_seen, last_seen) VALUES (:vendor_id, "
             ":recipient_id, :recipient_host, :company, :kind, :value_ref, :encoding, :form, :location, :method, "
             ":url, :blocked, :stopped_by, :count, :first_seen, :last_seen) "
             "ON CONFLICT(vendor_id, recipient_host, value_ref, encoding, form, location, blocked) DO UPDATE SET "
             "method = CASE WHEN excluded.last_seen > last_seen THEN excluded.method ELSE method END, "
             "url = CASE WHEN excluded.last_seen > last_seen THEN excluded.url ELSE url END, "
             "company = coalesce(company, excluded.company), "
             "stopped_by = coalesce(stopped_by, excluded.stopped_by), "
             "recipient_id = coalesce(recipient_id, excluded.recipient_id), "
             "count = max(count, excluded.count), "
             "first_seen = min(first_seen, excluded.first_seen), "
             "last_seen = max(last_seen, excluded.last_seen)",
    "mail_messages": "INSERT INTO mail_messages (identity, sent_at, sender_site, marketing, scanned_at, topics, "
                     "topic_reasons, subject_key, reached) VALUES (:identity, :sent_at, :sender_site, :marketing, "
                     ":scanned_at, :topics, :topic_reasons, :subject_key, :reached) "
                     "ON CONFLICT(identity) DO NOTHING",
    "mail_alias_hits": "INSERT INTO mail_alias_hits (message_id, alias, vendor_id, sender, verdict) "
                       "SELECT id, :alias, :vendor_id, :sender, :verdict FROM mail_messages "
                       "WHERE identity = :message ON CONFLICT(message_id, alias) DO NOTHING",
    "rights_requests": "INSERT INTO rights_requests (vendor_id, kind, lang, contact, sent_on, due_on, answered_on) "
                       "VALUES (:vendor_id, :kind, :lang, :contact, :sent_on, :due_on, :answered_on) "
                       "ON CONFLICT(vendor_id, kind, sent_on) DO UPDATE SET "
                       "answered_on = coalesce(answered_on, excluded.answered_on)",
    # After every request is in: a complaint or follow-up points at the request it is about (the
    # ledger's own link, when it has one, stays).
    "rights_requests_about": "UPDATE rights_requests SET about_id = (SELECT id FROM rights_requests "
                             "WHERE vendor_id = :vendor_id AND kind = :about_kind AND sent_on = :about_sent_on) "
                             "WHERE vendor_id = :vendor_id AND kind = :kind AND sent_on = :sent_on "
                             "AND about_id IS NULL",
    "data_exports": "INSERT INTO data_exports (vendor_id, request_id, source_name, digest, received_on, read_at, "
                    "files_read, bytes_read, skipped) VALUES (:vendor_id, (SELECT id FROM rights_requests "
                    "WHERE vendor_id = :vendor_id AND kind = :request_kind AND sent_on = :request_sent_on), "
                    ":source_name, :digest, :received_on, :read_at, :files_read, :bytes_read, :skipped) "
                    "ON CONFLICT(vendor_id, digest) DO NOTHING",
    "export_findings": "INSERT INTO export_findings (export_id, finding, category, kind, value_ref, encoding, form, "
                       "basis, sample, file, field, count) SELECT id, :finding, :category, :kind, :value_ref, "
                       ":encoding, :form, :basis, :sample, :file, :field, :count FROM data_exports "
                       "WHERE vendor_id = :vendor_id AND digest = :export",
    "mail_value_hits": "INSERT INTO mail_value_hits (message_id, vendor_id, alias, kind, value_ref, encoding, form, "
                       "place) SELECT id, :vendor_id, :alias, :kind, :value_ref, :encoding, :form, :place "
                       "FROM mail_messages WHERE identity = :message ON CONFLICT DO NOTHING",
    # Counts merge as observations' do (the larger): importing the same file twice changes nothing.
    "company_sightings": "INSERT INTO company_sightings (vendor_id, company, domain, day, blocked, reached, "
                         "cloaked_behind) VALUES (:vendor_id, :company, :domain, :day, :blocked_requests, "
                         ":reached_requests, :cloaked_behind) "
                         "ON CONFLICT(company, vendor_id, domain, day) DO UPDATE SET "
                         "blocked = max(blocked, excluded.blocked), reached = max(reached, excluded.reached), "
                         "cloaked_behind = coalesce(cloaked_behind, excluded.cloaked_behind)",
    "company_identifiers": "INSERT INTO company_identifiers (vendor_id, company, domain, kind, name, qualifier, count, "
                           "first_day, last_day) VALUES (:vendor_id, :company, :domain, :kind, :name, :qualifier, "
                           ":count, :first_day, :last_day) "
                           "ON CONFLICT(company, vendor_id, domain, kind, name, qualifier) DO UPDATE SET "
                           "count = max(count, excluded.count), first_day = min(first_day, excluded.first_day), "
                           "last_day = max(last_day, excluded.last_day)",
    "intents": "INSERT INTO intents (uid, what, category, budget_amount, budget_currency, until, lang, created_at) "
               "VALUES (:uid, :what, :category, :budget_amount, :budget_currency, :until, :lang, :created_at) "
               "ON CONFLICT(uid) DO NOTHING",
    # A message delivered in either ledger stays delivered: sent beats written beats unsent.
    "intent_messages": "INSERT INTO intent_messages (intent_id, vendor_id, alias, recipient, message_id, state, "
                       "state_changed_at) SELECT id, :vendor_id, :alias, :recipient, :message_id, :state, :state_changed_at "
                       "FROM intents WHERE uid = :intent ON CONFLICT(message_id) DO UPDATE SET "
                       "state = CASE WHEN 'sent' IN (state, excluded.state) THEN 'sent' "
                       "WHEN 'written' IN (state, excluded.state) THEN 'written' ELSE state END, "
                       "state_changed_at = coalesce(max(state_changed_at, excluded.state_changed_at), state_changed_at, "
                       "excluded.state_changed_at)",
    "intent_answers": "INSERT INTO intent_answers (intent_message_id, mail_message_id, matched_by, sender, listed) "
                      "SELECT im.id, mm.id, :matched_by, :sender, :listed FROM intent_messages AS im, "
                      "mail_messages AS mm WHERE im.message_id = :intent_message AND mm.identity = :message "
                      "ON CONFLICT(intent_message_id, mail_message_id) DO NOTHING",
    # Offered since the earlier date, until the later; agreed from the earlier agreement (with its way).
    "terms_offers": "INSERT INTO terms_offers (vendor_id, term, version, first_offered, last_offered, agreed_on, "
                    "agreed_by) VALUES (:vendor_id, :term, :version, :first_offered, :last_offered, :agreed_on, "
                    ":agreed_by) ON CONFLICT(vendor_id, term, version) DO UPDATE SET "
                    "first_offered = min(first_offered, excluded.first_offered), "
                    "last_offered = max(last_offered, excluded.last_offered), "
                    "agreed_by = CASE WHEN agreed_on IS NULL OR excluded.agreed_on < agreed_on "
                    "THEN coalesce(excluded.agreed_by, agreed_by) ELSE agreed_by END, "
                    "agreed_on = CASE WHEN agreed_on IS NULL OR excluded.agreed_on < agreed_on "
                    "THEN coalesce(excluded.agreed_on, agreed_on) ELSE agreed_on END",
    "shared_identifiers": "INSERT INTO shared_identifiers (vendor_id, cookie_name, recipient_site, recipient_host, "
                          "action, count, first_seen, last_seen) VALUES (:vendor_id, :cookie_name, :recipient_site, "
                          ":recipient_host, :action, :count, :first_seen, :last_seen) "
                          "ON CONFLICT(vendor_id, cookie_name, recipient_host) DO UPDATE SET "
                          "count = max(count, excluded.count), "
                          "first_seen = min(first_seen, excluded.first_seen), "
                          "last_seen = max(last_seen, excluded.last_seen)",
    # The entry changed last wins whole: a later allow or forget is the user's latest word.
    "learned_trackers": "INSERT INTO learned_trackers (domain, state, sites, evidence, learned_at, changed_at, "
                        "forgotten_at) VALUES (:domain, :state, :sites, :evidence, :learned_at, :changed_at, "
                        ":forgotten_at) ON CONFLICT(domain) DO UPDATE SET state = excluded.state, "
                        "sites = excluded.sites, evidence = excluded.evidence, learned_at = excluded.learned_at, "
                        "changed_at = excluded.changed_at, forgotten_at = excluded.forgotten_at "
                        "WHERE excluded.changed_at > learned_trackers.changed_at",
}


def import_export(ledger: Ledger, export: Export,
                  secrets: dict[str, bytes] | None = None) -> dict[str, dict[str, int]]:
    """Merge a checked export into the ledger in one transaction; per table: rows in file, rows added.

    `secrets` (opened from the export's sealed section) are restored into the keyring (or the
    fallback file) before the transaction commits: a secret that conflicts with this machine's
    (`whoknows.secrets.restore_secret`) stops the import with nothing imported.
    """
    from . import secrets as secret_store

    for name, value in (secrets or {}).items():
        secret_store.restore_secret(name, value, check_only=True)  # before any change
    summary = {}
    with ledger.write() as db:
        before = {table: _table_size(db, table) for table in TABLES}
        db.executemany(_MERGE_SQL["vendors"], export.tables["vendors"])
        vendor_ids = dict(db.execute("SELECT domain, id FROM vendors"))
        had_preferences = {row[0] for row in db.execute("SELECT vendor_id FROM preferences")}
        for table in ("disclosures", "preferences", "observations", "site_settings", "site_third_parties"):
            db.executemany(_MERGE_SQL[table], ({**row, "vendor_id": vendor_ids[row["vendor"]]}
                                               for row in export.tables[table]))
        _merge_preference_history(db, export.tables["preference_history"], vendor_ids, had_preferences)
        _merge_aliases(db, export.tables["aliases"], vendor_ids)
        db.executemany(_MERGE_SQL["settings"], export.tables["settings"])
        db.executemany(_MERGE_SQL["me_values"], export.tables["me_values"])
        db.executemany(_MERGE_SQL["leaks"], ({**row, "vendor_id": vendor_ids[row["vendor"]],
                                              "recipient_id": vendor_ids.get(row["recipient"])}
                                             for row in export.tables["leaks"]))
        db.executemany(_MERGE_SQL["mail_messages"], export.tables["mail_messages"])
        for table in ("mail_alias_hits", "rights_requests", "mail_value_hits", "company_sightings",
                      "company_identifiers", "terms_offers", "shared_identifiers"):
            db.executemany(_MERGE_SQL[table], ({**row, "vendor_id": vendor_ids[row["vendor"]]}
                                               for row in export.tables[table]))
        db.executemany(_MERGE_SQL["rights_requests_about"], ({**row, "vendor_id": vendor_ids[row["vendor"]]}
                                                             for row in export.tables["rights_requests"]
                                                             if row["about_kind"] is not None))
        _merge_exports(db, export.tables["data_exports"], export.tables["export_findings"], vendor_ids)
        db.executemany(_MERGE_SQL["intents"], export.tables["intents"])
        db.executemany(_MERGE_SQL["intent_messages"], ({**row, "vendor_id": vendor_ids[row["vendor"]]}
                                                       for row in export.tables["intent_messages"]))
        db.executemany(_MERGE_SQL["intent_answers"], export.tables["intent_answers"])
        db.executemany(_MERGE_SQL["learned_trackers"], export.tables["learned_trackers"])
        for table in TABLES:
            summary[table] = {"in_file": export.count(table), "added": _table_size(db, table) - before[table]}
        for name, value in (secrets or {}).items():
            secret_store.restore_secret(name, value)
    return summary


def _merge_preference_history(db, rows: list[dict], vendor_ids: dict[str, int], had: set[int]) -> None:
    """A vendor's preferences and their history are one record: the file's history goes in only for
    a vendor that had no preferences in the ledger (`had`: else the ledger's row wins whole,
    history and all). Preferences with no history (from an export made before whoknows kept one)
    get what a migrated ledger has: the preferences as they are, from their last change."""
    db.executemany(_MERGE_SQL["preference_history"], ({**row, "vendor_id": vendor_ids[row["vendor"]]}
                                                      for row in rows if vendor_ids[row["vendor"]] not in had))
    db.execute("INSERT INTO preference_history (vendor_id, set_at, marketing, channels, max_per_month, notes, topics, "
               "max_per_week, opted_out_on) SELECT vendor_id, updated_at, marketing, channels, max_per_month, notes, "
               "topics, max_per_week, opted_out_on FROM preferences AS p "
               "WHERE NOT EXISTS (SELECT 1 FROM preference_history AS h WHERE h.vendor_id = p.vendor_id)")


def _merge_exports(db, exports: list[dict], findings: list[dict], vendor_ids: dict[str, int]) -> None:
    """An export already in the ledger (same vendor, same digest) keeps its findings whole; the
    file's findings go in only for the exports it adds."""
    had = {(row[0], row[1]) for row in db.execute("SELECT vendor_id, digest FROM data_exports")}
    db.executemany(_MERGE_SQL["data_exports"], ({**row, "vendor_id": vendor_ids[row["vendor"]]} for row in exports))
    db.executemany(_MERGE_SQL["export_findings"], (
        {**row, "vendor_id": vendor_ids[row["vendor"]]} for row in findings
        if (vendor_ids[row["vendor"]], row["export"]) not in had))


def _table_size(db, table: str) -> int:
    return db.execute(f"SELECT count(*) FROM {table}").fetchone()[0]  # table names from TABLES only


def _merge_aliases(db, rows: list[dict], vendor_ids: dict[str, int]) -> None:
    for row in rows:
        vendor_id = vendor_ids[row["vendor"]]
        held = db.execute(
            "SELECT v.domain, a.vendor_id FROM aliases AS a JOIN vendors AS v ON v.id = a.vendor_id "
            "WHERE a.address = ?", (row["address"],)).fetchone()
        if held is not None:
            if held[1] != vendor_id:
                raise WhoknowsError(
                    f"alias {row['address']} belongs to {held[0]} in the ledger but to {row['vendor']} "
                    "in the file; nothing was imported"
                )
            continue  # the ledger's row wins
        if row["state"] == "active":
            active = db.execute(
                "SELECT address FROM aliases WHERE vendor_id = ? AND state = 'active'", (vendor_id,)).fetchone()
            if active is not None:
                raise WhoknowsError(
                    f"{row['vendor']} has the active alias {active[0]} in the ledger and {row['address']} "
                    "in the file (a vendor has one active alias); nothing was imported"
                )
        db.execute(
            "INSERT INTO aliases (vendor_id, address, created_at, state, state_changed_at) "
            "VALUES (?, ?, ?, ?, ?)",
            (vendor_id, row["address"], row["created_at"], row["state"], row["state_changed_at"]),
        )


def export_text(ledger: Ledger) -> str:
    """The whole JSON export as one string (for tests and small ledgers)."""
    buffer = io.StringIO(newline="")
    write_json(ledger, buffer)
    return buffer.getvalue()
