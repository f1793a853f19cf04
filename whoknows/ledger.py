"""The ledger: one SQLite file (`ledger.db` in the data directory) that knows who knows what.

Several processes share it at once (the proxy and any number of CLI calls), so:
- WAL mode, so readers never block the writer and the writer never blocks readers;
- every write is a short `BEGIN IMMEDIATE` transaction (the write lock is taken up front, so two
  writers never deadlock upgrading read locks), waited for with `busy_timeout` and retried with
  backoff beyond it: "database is locked" never reaches the user;
- `synchronous=FULL`: a committed transaction survives a crash of the process or the machine.

The schema is versioned with `PRAGMA user_version`; `MIGRATIONS[n]` takes version n to n+1, forward
only. A ledger written by a newer whoknows is refused rather than damaged.
"""

import contextlib
import json
import os
import random
import sqlite3
import time
from collections.abc import Iterable
from datetime import datetime, timezone
from pathlib import Path

from . import paths
from .errors import WhoknowsError

LEDGER_FILE = "ledger.db"

DISCLOSURE_KINDS = (
    "email", "alias", "name", "phone", "address", "birthday", "payment", "id-number", "location", "other",
)
# How a vendor learned something: the user told it, the proxy saw a form or a leak, a mail scan found it.
DISCLOSURE_SOURCES = ("told", "form", "leak", "mail")
ALIAS_STATES = ("active", "retired", "disabled")
# What the proxy observes on a vendor's pages (issue: the proxy): third parties contacted, cookies set,
# tracking parameters stripped. One row per (site, kind, subject), counted.
OBSERVATION_KINDS = ("third-party", "cookie", "parameter")
# What a tracker company got to hold (issue 12, whoknows.company_sightings): a cookie's name, one of
# your values (by reference), a page URL (redacted).
COMPANY_IDENTIFIER_KINDS = ("cookie", "value", "page")


def _sql_list(values) -> str:
    return ", ".join(f"'{v}'" for v in values)


# What a phone number may be written with between its digits; `match_key` leaves them out (and so
# does `whoknows.values.normalised`, which takes its separators from here).
PHONE_SEPARATORS = " -.()/"


def _phone_digits_sql(value: str) -> str:
    expr = f"trim({value})"
    for separator in PHONE_SEPARATORS:
        expr = f"replace({expr}, '{separator}', '')"
    return expr


def match_key_sql(kind: str, value: str) -> str:
    """SQL for the form of a disclosed value that `knows` matches on, over two SQL expressions.

    Phones lose their separators and a leading international `00` becomes `+`; everything else is
    compared trimmed and case-insensitively (SQLite's lower() folds ASCII only; whoknows stores
    emails lowercased in full and free text whitespace-collapsed, so that is enough in practice).
    """
    digits = _phone_digits_sql(value)
    return (
        f"CASE {kind} WHEN 'phone' THEN "
        f"(CASE WHEN {digits} LIKE '00%' THEN '+' || substr({digits}, 3) ELSE {digits} END) "
        f"ELSE lower(trim({value})) END"
    )


_SAME_FACT = (
    "WHERE same.vendor_id = disclosures.vendor_id AND same.kind = disclosures.kind "
    "AND same.match_key = disclosures.match_key AND same.source = disclosures.source"
)


def _json_check_triggers(table: str, column: str) -> str:
    checks = []
    for event in ("INSERT", f"UPDATE OF {column}"):
        name = f"{table}_{column}_is_json_{event.split()[0].lower()}"
        checks.append(
            f"CREATE TRIGGER {name} BEFORE {event} ON {table} "
            f"WHEN NEW.{column} IS NOT NULL AND NOT json_valid(NEW.{column}) "
            f"BEGIN SELECT RAISE(ABORT, '{table}.{column} must be JSON'); END;"
        )
    return "\n    ".join(checks)


MIGRATIONS: list[str] = [
    # 0 -> 1: the foundation.
    f"""
    CREATE TABLE vendors (
        id INTEGER PRIMARY KEY,
        domain TEXT NOT NULL UNIQUE,          -- registrable domain, punycode, lowercase
        name TEXT,                            -- display name chosen by the user
        company TEXT,                         -- user overrides of the company directory
        privacy_contact TEXT,
        postal_address TEXT,
        created_at TEXT NOT NULL
    );
    CREATE TABLE disclosures (
        id INTEGER PRIMARY KEY,
        vendor_id INTEGER NOT NULL REFERENCES vendors(id) ON DELETE CASCADE,
        kind TEXT NOT NULL CHECK (kind IN ({_sql_list(DISCLOSURE_KINDS)})),
        value TEXT NOT NULL,
        source TEXT NOT NULL CHECK (source IN ({_sql_list(DISCLOSURE_SOURCES)})),
        first_seen TEXT NOT NULL,
        last_seen TEXT NOT NULL,
        evidence TEXT,                        -- JSON object: where and how it was learned
        UNIQUE (vendor_id, kind, value, source)
    );
    CREATE INDEX disclosures_by_kind_value ON disclosures(kind, value);
    CREATE TABLE aliases (
        id INTEGER PRIMARY KEY,
        vendor_id INTEGER NOT NULL REFERENCES vendors(id) ON DELETE CASCADE,
        address TEXT NOT NULL UNIQUE,
        created_at TEXT NOT NULL,
        state TEXT NOT NULL CHECK (state IN ({_sql_list(ALIAS_STATES)})),
        state_changed_at TEXT
    );
    CREATE INDEX aliases_by_vendor ON aliases(vendor_id);
    CREATE UNIQUE INDEX aliases_one_active_per_vendor ON aliases(vendor_id) WHERE state = 'active';
    CREATE TABLE preferences (
        vendor_id INTEGER PRIMARY KEY REFERENCES vendors(id) ON DELETE CASCADE,
        marketing INTEGER CHECK (marketing IN (0, 1)),   -- NULL: not stated
        channels TEXT,                        -- JSON list of channel names
        max_per_month INTEGER CHECK (max_per_month >= 0),
        notes TEXT,
        updated_at TEXT NOT NULL
    );
    CREATE TABLE observations (
        id INTEGER PRIMARY KEY,
        vendor_id INTEGER NOT NULL REFERENCES vendors(id) ON DELETE CASCADE,  -- the first-party site
        kind TEXT NOT NULL CHECK (kind IN ({_sql_list(OBSERVATION_KINDS)})),
        subject TEXT NOT NULL,                -- third-party domain, cookie name or parameter name
        detail TEXT,                          -- JSON object, kind-specific
        count INTEGER NOT NULL DEFAULT 1,
        first_seen TEXT NOT NULL,
        last_seen TEXT NOT NULL,
        UNIQUE (vendor_id, kind, subject)
    );
    CREATE TABLE settings (                   -- configuration that is not secret (never keys)
        key TEXT PRIMARY KEY,
        value TEXT NOT NULL
    );
    """,
    # 1 -> 2: a disclosure is identified by its normalised value (`match_key`, computed by SQLite for
    # every writer, so "+34 600 11 12 22" and "0034600111222" are one fact and `knows` finds both);
    # rows of a v1 ledger that now turn out to be the same fact are merged, keeping the widest
    # first/last seen. JSON columns are checked on write (export/import rely on them parsing).
    f"""
    ALTER TABLE disclosures ADD COLUMN match_key TEXT
        GENERATED ALWAYS AS ({match_key_sql("kind", "value")}) VIRTUAL;
    UPDATE disclosures SET
        first_seen = (SELECT min(same.first_seen) FROM disclosures AS same {_SAME_FACT}),
        last_seen = (SELECT max(same.last_seen) FROM disclosures AS same {_SAME_FACT});
    DELETE FROM disclosures WHERE id NOT IN (
        SELECT min(id) FROM disclosures GROUP BY vendor_id, kind, match_key, source
    );
    CREATE UNIQUE INDEX disclosures_identity ON disclosures(vendor_id, kind, match_key, source);
    DROP INDEX disclosures_by_kind_value;
    CREATE INDEX disclosures_by_kind_key ON disclosures(kind, match_key);
    UPDATE disclosures SET evidence = json_quote(evidence) WHERE NOT json_valid(evidence);
    UPDATE observations SET detail = json_quote(detail) WHERE NOT json_valid(detail);
    {_json_check_triggers("disclosures", "evidence")}
    {_json_check_triggers("observations", "detail")}
    """,
    # 2 -> 3: per-site settings (whoknows.site_settings): protection paused, a cookie mode
    # (allow, session, block or cap:N with 1 <= N <= 400 days; NULL: the default policy), and the
    # third parties a site's pages may use (single sign-on, payments). A row exists only for a
    # site with a setting.
    """
    CREATE TABLE site_settings (
        vendor_id INTEGER PRIMARY KEY REFERENCES vendors(id) ON DELETE CASCADE,
        paused INTEGER NOT NULL DEFAULT 0 CHECK (paused IN (0, 1)),
        cookie_mode TEXT CHECK (cookie_mode IS NULL OR cookie_mode IN ('allow', 'session', 'block')
            OR (cookie_mode GLOB 'cap:[1-9]*' AND substr(cookie_mode, 5) NOT GLOB '*[^0-9]*'
                AND length(cookie_mode) <= 7 AND CAST(substr(cookie_mode, 5) AS INTEGER) <= 400)),
        updated_at TEXT NOT NULL
    );
    CREATE TABLE site_third_parties (
        vendor_id INTEGER NOT NULL REFERENCES vendors(id) ON DELETE CASCADE,  -- the page's site
        third_party TEXT NOT NULL,            -- the other site (registrable domain), allowed there
        created_at TEXT NOT NULL,
        PRIMARY KEY (vendor_id, third_party)
    ) WITHOUT ROWID;
    """,
    # 3 -> 4: who knows what, seen rather than told (issue 5). The person's own values, encrypted
    # (whoknows.me: the key is a secret, never here; `lookup` is a keyed hash for finding a value
    # without decrypting); what the proxy saw leave for another site (whoknows.leak_records: the
    # value by reference, never in plaintext); scanned mail (whoknows.mail_records: no bodies, no
    # addresses but the aliases reached and who wrote to them); data-rights requests
    # (whoknows.data_rights).
    f"""
    CREATE TABLE me_values (
        id INTEGER PRIMARY KEY,
        kind TEXT NOT NULL CHECK (kind IN ('email', 'phone', 'name', 'address', 'birthday',
            'id-number', 'location', 'other')),
        lookup TEXT NOT NULL UNIQUE,          -- HMAC-SHA256 of kind and normalised value, hex
        ciphertext TEXT NOT NULL,             -- base64 of AES-GCM nonce + ciphertext
        key_id TEXT NOT NULL,                 -- which key encrypted it (a keyed fingerprint)
        created_at TEXT NOT NULL
    );
    CREATE TABLE leaks (
        id INTEGER PRIMARY KEY,
        vendor_id INTEGER NOT NULL REFERENCES vendors(id) ON DELETE CASCADE,     -- the page's site
        recipient_id INTEGER REFERENCES vendors(id) ON DELETE CASCADE,  -- NULL: a host with no site
        recipient_host TEXT NOT NULL,
        company TEXT,                         -- who runs the recipient, when known
        kind TEXT NOT NULL CHECK (kind IN ({_sql_list(DISCLOSURE_KINDS)})),
        value_ref TEXT NOT NULL,              -- an alias address, or a masked own value and its tag
        encoding TEXT NOT NULL,               -- plain, url, base64, sha256...
        form TEXT NOT NULL,                   -- what was encoded: typed, normalised, e164...
        location TEXT NOT NULL,               -- url, header:NAME or body
        method TEXT NOT NULL,
        url TEXT NOT NULL,                    -- redacted: no parameter values
        blocked INTEGER NOT NULL CHECK (blocked IN (0, 1)),  -- attempted, stopped by the proxy
        count INTEGER NOT NULL DEFAULT 1 CHECK (count >= 1),
        first_seen TEXT NOT NULL,
        last_seen TEXT NOT NULL,
        UNIQUE (vendor_id, recipient_host, value_ref, encoding, form, location, blocked)
    );
    CREATE INDEX leaks_by_recipient ON leaks(recipient_id);
    CREATE INDEX leaks_by_last_seen ON leaks(last_seen);
    CREATE TABLE mail_messages (
        id INTEGER PRIMARY KEY,
        identity TEXT NOT NULL UNIQUE,        -- Message-ID, or sha256:HEX of the message
        sent_at TEXT,                         -- its Date in UTC; NULL when missing or unreadable
        sender_site TEXT,                     -- the registrable domain of From
        marketing INTEGER NOT NULL CHECK (marketing IN (0, 1)),
        scanned_at TEXT NOT NULL
    );
    CREATE INDEX mail_by_sender_site ON mail_messages(sender_site, sent_at);
    CREATE TABLE mail_alias_hits (
        message_id INTEGER NOT NULL REFERENCES mail_messages(id) ON DELETE CASCADE,
        alias TEXT NOT NULL,                  -- the alias the message reached
        vendor_id INTEGER NOT NULL REFERENCES vendors(id) ON DELETE CASCADE,  -- the alias's vendor
        sender TEXT NOT NULL,                 -- the From address
        verdict TEXT NOT NULL CHECK (verdict IN ('vendor', 'foreign', 'unknown')),
        PRIMARY KEY (message_id, alias)
    ) WITHOUT ROWID;
    CREATE INDEX mail_hits_by_vendor ON mail_alias_hits(vendor_id);
    CREATE TABLE rights_requests (
        id INTEGER PRIMARY KEY,
        vendor_id INTEGER NOT NULL REFERENCES vendors(id) ON DELETE CASCADE,
        kind TEXT NOT NULL CHECK (kind IN ('access', 'erase', 'object', 'rectify')),
        lang TEXT NOT NULL,
        contact TEXT,                         -- where it was addressed
        sent_on TEXT NOT NULL,                -- YYYY-MM-DD: the letter's date
        due_on TEXT NOT NULL,                 -- one month later (GDPR Art. 12(3); letters.py)
        answered_on TEXT,                     -- NULL: no answer recorded yet
        UNIQUE (vendor_id, kind, sent_on)     -- the same request made again that day is one
    );
    """,
    # 4 -> 5: preferences keep when each was set (issue 16): every change adds the preferences as
    # they stand after it, so mail is judged by the preferences in force when it arrived
    # (whoknows.preferences, whoknows.mail_records). `preferences` stays the current state. Of an
    # older ledger only the current state and its last change are known: that is its first entry.
    """
    CREATE TABLE preference_history (
        vendor_id INTEGER NOT NULL REFERENCES vendors(id) ON DELETE CASCADE,
        set_at TEXT NOT NULL,                 -- in force from this moment until the next entry
        marketing INTEGER CHECK (marketing IN (0, 1)),   -- as in `preferences`: NULL, not stated
        channels TEXT,
        max_per_month INTEGER CHECK (max_per_month >= 0),
        notes TEXT,
        PRIMARY KEY (vendor_id, set_at)       -- changes within one second: the last one stands
    ) WITHOUT ROWID;
    INSERT INTO preference_history (vendor_id, set_at, marketing, channels, max_per_month, notes)
        SELECT vendor_id, updated_at, marketing, channels, max_per_month, notes FROM preferences;
    """,
    # issue 14 (helper `findings`): what a vendor says it holds and what its mail shows.
    # `data_exports`: one row per export read (whoknows.export_records), identified per vendor by a
    # digest of its bytes, so reading it again replaces its findings; `export_findings`: the user's
    # values (by reference, as in `leaks`) and the categories of data found in it, with the file and
    # field where each was, never a copy. `mail_value_hits` (whoknows.mail_records): the user's
    # values found in mail that reached an alias, charged to the vendor that sent it; no bodies.
    """
    CREATE TABLE data_exports (
        id INTEGER PRIMARY KEY,
        vendor_id INTEGER NOT NULL REFERENCES vendors(id) ON DELETE CASCADE,
        request_id INTEGER REFERENCES rights_requests(id) ON DELETE SET NULL,  -- the request it answers
        source_name TEXT NOT NULL,            -- the export's file or folder name, without its path
        digest TEXT NOT NULL,                 -- sha256 of the file, or of a folder's names and sizes
        received_on TEXT NOT NULL,            -- YYYY-MM-DD: when the vendor handed it over
        read_at TEXT NOT NULL,
        files_read INTEGER NOT NULL CHECK (files_read >= 0),
        bytes_read INTEGER NOT NULL CHECK (bytes_read >= 0),
        skipped TEXT,                         -- JSON list of [file, reason]: members not read
        UNIQUE (vendor_id, digest)
    );
    CREATE TABLE export_findings (
        id INTEGER PRIMARY KEY,
        export_id INTEGER NOT NULL REFERENCES data_exports(id) ON DELETE CASCADE,
        finding TEXT NOT NULL CHECK (finding IN ('value', 'category')),
        category TEXT,                        -- category: contact, postal-address, ip-address...
        kind TEXT,                            -- value: its kind (email, phone, alias...)
        value_ref TEXT,                       -- value: an alias address, or a masked own value and its tag
        encoding TEXT,                        -- value: plain, sha256... (as in leaks)
        form TEXT,                            -- value: typed, e164... (as in leaks)
        basis TEXT,                           -- category: field name, or value: SHAPE (what showed it)
        sample TEXT,                          -- category seen by a value's shape: a masked example
        file TEXT NOT NULL,                   -- the path inside the export (a.zip!inner.zip!x.json)
        field TEXT NOT NULL,                  -- the first place: a JSON path, a column, an element
        count INTEGER NOT NULL CHECK (count >= 1),
        CHECK ((finding = 'value') = (value_ref IS NOT NULL AND kind IS NOT NULL)),
        CHECK ((finding = 'category') = (category IS NOT NULL))
    );
    CREATE INDEX export_findings_by_export ON export_findings(export_id);
    CREATE TABLE mail_value_hits (
        message_id INTEGER NOT NULL REFERENCES mail_messages(id) ON DELETE CASCADE,
        vendor_id INTEGER NOT NULL REFERENCES vendors(id) ON DELETE CASCADE,  -- who sent it, so holds it
        alias TEXT NOT NULL,                  -- the alias the message reached
        kind TEXT NOT NULL,
        value_ref TEXT NOT NULL,              -- as in leaks: an alias address, or a masked own value
        encoding TEXT NOT NULL,
        form TEXT NOT NULL,
        place TEXT NOT NULL CHECK (place IN ('subject', 'body')),
        PRIMARY KEY (message_id, vendor_id, value_ref, encoding, form, place)
    ) WITHOUT ROWID;
    CREATE INDEX mail_value_hits_by_vendor ON mail_value_hits(vendor_id);
    """,
    # Issue 14 (follow-ups that use the evidence): more kinds of request (whoknows.data_rights):
    # portability (Art. 20), where data came from (Art. 15(1)(g)), a follow-up naming what an
    # answer left out, and a complaint to a supervisory authority (Art. 77). SQLite cannot change
    # a CHECK in place: the table is rebuilt (SQLite's own procedure: `_migrate` runs migrations
    # with foreign keys off and checks them before it commits).
    """
    CREATE TABLE rights_requests_widened (
        id INTEGER PRIMARY KEY,
        vendor_id INTEGER NOT NULL REFERENCES vendors(id) ON DELETE CASCADE,
        kind TEXT NOT NULL CHECK (kind IN ('access', 'erase', 'object', 'rectify', 'port', 'source',
            'follow-up', 'complaint')),
        lang TEXT NOT NULL,
        contact TEXT,                         -- where it was addressed (a complaint: the authority)
        sent_on TEXT NOT NULL,                -- YYYY-MM-DD: the letter's date
        due_on TEXT NOT NULL,                 -- when an answer is due (letters.py)
        answered_on TEXT,                     -- NULL: no answer recorded yet
        UNIQUE (vendor_id, kind, sent_on)     -- the same request made again that day is one
    );
    INSERT INTO rights_requests_widened (id, vendor_id, kind, lang, contact, sent_on, due_on, answered_on)
        SELECT id, vendor_id, kind, lang, contact, sent_on, due_on, answered_on FROM rights_requests;
    DROP TABLE rights_requests;
    ALTER TABLE rights_requests_widened RENAME TO rights_requests;
    """,
    # issue 12 (companies): what each tracker company saw of you, as aggregates that stay small
    # over a year (whoknows.company_sightings writes both). `company_sightings`: requests per page
    # site, company (its id in the shipped tracker data), tracker domain and UTC day, blocked or
    # reached. `company_identifiers`: what a company got to hold per page site and domain, with the
    # first and last day: names of the cookies it set (never their values), your values it was
    # sent (by reference, as in `leaks`) and page URLs it learned (redacted: no parameter values).
    f"""
    CREATE TABLE company_sightings (
        vendor_id INTEGER NOT NULL REFERENCES vendors(id) ON DELETE CASCADE,  -- the page's site
        company TEXT NOT NULL,                -- company id in the tracker data ('google')
        domain TEXT NOT NULL,                 -- its tracker domain contacted ('google-analytics.com')
        day TEXT NOT NULL,                    -- YYYY-MM-DD, UTC
        blocked INTEGER NOT NULL DEFAULT 0 CHECK (blocked >= 0),
        reached INTEGER NOT NULL DEFAULT 0 CHECK (reached >= 0),
        PRIMARY KEY (company, vendor_id, domain, day)
    ) WITHOUT ROWID;
    CREATE INDEX company_sightings_by_site ON company_sightings(vendor_id, company);
    CREATE TABLE company_identifiers (
        vendor_id INTEGER NOT NULL REFERENCES vendors(id) ON DELETE CASCADE,  -- the page's site
        company TEXT NOT NULL,
        domain TEXT NOT NULL,                 -- the tracker domain that set / received it
        kind TEXT NOT NULL CHECK (kind IN ({_sql_list(COMPANY_IDENTIFIER_KINDS)})),
        name TEXT NOT NULL,                   -- cookie name, value reference, or redacted page URL
        qualifier TEXT NOT NULL DEFAULT '',   -- value: 'KIND ENCODING'; page: 'referer' | 'parameter'
        count INTEGER NOT NULL DEFAULT 1 CHECK (count >= 1),
        first_day TEXT NOT NULL,
        last_day TEXT NOT NULL,
        PRIMARY KEY (company, vendor_id, domain, kind, name, qualifier)
    ) WITHOUT ROWID;
    """,
    # Intentcasting (issue 15, item 1; whoknows.intent_records writes all three): what the user
    # announced (`intents`), the one message per chosen vendor, from that vendor's alias, with the
    # Message-ID answers are matched by (`intent_messages`), and the scanned mail matched to each
    # message (`intent_answers`: a reference to the scanned message and its sender, never a body).
    """
    CREATE TABLE intents (
        id INTEGER PRIMARY KEY,
        uid TEXT NOT NULL UNIQUE,             -- random: the intent across ledgers (export, import)
        what TEXT NOT NULL,                   -- what the user wants, in their words
        category TEXT,
        budget_amount TEXT,                   -- a decimal, as text (no float rounding); NULL: none given
        budget_currency TEXT,                 -- ISO 4217, with budget_amount
        until TEXT NOT NULL,                  -- YYYY-MM-DD: the last day the intent holds
        lang TEXT NOT NULL CHECK (lang IN ('en', 'es')),
        created_at TEXT NOT NULL,
        CHECK ((budget_amount IS NULL) = (budget_currency IS NULL))
    );
    CREATE TABLE intent_messages (
        id INTEGER PRIMARY KEY,
        intent_id INTEGER NOT NULL REFERENCES intents(id) ON DELETE CASCADE,
        vendor_id INTEGER NOT NULL REFERENCES vendors(id) ON DELETE CASCADE,
        alias TEXT NOT NULL,                  -- From: the vendor's alias when the intent was made
        recipient TEXT NOT NULL,              -- To: the vendor's address
        message_id TEXT NOT NULL UNIQUE,      -- <...@alias domain>: what answers refer to
        state TEXT NOT NULL CHECK (state IN ('unsent', 'written', 'sent')),
        state_changed_at TEXT,                -- when it was last written (.eml) or sent (SMTP)
        UNIQUE (intent_id, vendor_id)
    );
    CREATE TABLE intent_answers (
        intent_message_id INTEGER NOT NULL REFERENCES intent_messages(id) ON DELETE CASCADE,
        mail_message_id INTEGER NOT NULL REFERENCES mail_messages(id) ON DELETE CASCADE,
        matched_by TEXT NOT NULL CHECK (matched_by IN ('in-reply-to', 'references', 'alias')),
        sender TEXT NOT NULL,                 -- the From address
        listed INTEGER NOT NULL CHECK (listed IN (0, 1)),  -- List-Id or List-Unsubscribe: a mailing
        PRIMARY KEY (intent_message_id, mail_message_id)
    ) WITHOUT ROWID;
    CREATE INDEX intent_answers_by_mail ON intent_answers(mail_message_id);
    """,
    # issue 12 (companies): `whoknows companies` counts each company's distinct cookie names and
    # values; this index lets it read them in order instead of sorting every identifier row.
    """
    CREATE INDEX company_identifiers_by_kind ON company_identifiers(kind, company, name, qualifier);
    """,
    # Personal terms (issue 15, item 2; whoknows.terms_records writes it): per vendor (the page's site)
    # and term version, when the proxy first and last proffered it on a request of the vendor's pages,
    # and when (and how) the vendor first signalled agreement.
    """
    CREATE TABLE terms_offers (
        vendor_id INTEGER NOT NULL REFERENCES vendors(id) ON DELETE CASCADE,
        term TEXT NOT NULL,                   -- the term's id ('nostalking')
        version INTEGER NOT NULL CHECK (version >= 1),
        first_offered TEXT NOT NULL,
        last_offered TEXT NOT NULL,
        agreed_on TEXT,                       -- NULL: never signalled agreement
        agreed_by TEXT CHECK (agreed_by IN ('header', 'well-known')),
        CHECK ((agreed_on IS NULL) = (agreed_by IS NULL)),
        PRIMARY KEY (vendor_id, term, version)
    ) WITHOUT ROWID;
    """,
    # Permission marketing kept to its word (issue 15, item 3; whoknows.preferences and
    # whoknows.mail_records write these). Preferences gain the topics a vendor may write about (a
    # JSON list from whoknows.mail_topics.TOPICS; NULL: not stated), a weekly limit, and the day you
    # withdrew consent to marketing (`opted_out_on`, YYYY-MM-DD); the history keeps them too. Each
    # scanned message gains what it is about (`topics`, with the signals that said so in
    # `topic_reasons`; never its subject), a digest of its sender and subject (`subject_key`, to
    # find a mailing sent twice) and digests of the sets of your addresses each copy reached
    # (`reached`, to find one sent to two of your addresses; never the addresses). Mail scanned
    # before has NULLs here until it is scanned again.
    f"""
    ALTER TABLE preferences ADD COLUMN topics TEXT;
    ALTER TABLE preferences ADD COLUMN max_per_week INTEGER CHECK (max_per_week >= 0);
    ALTER TABLE preferences ADD COLUMN opted_out_on TEXT;
    ALTER TABLE preference_history ADD COLUMN topics TEXT;
    ALTER TABLE preference_history ADD COLUMN max_per_week INTEGER CHECK (max_per_week >= 0);
    ALTER TABLE preference_history ADD COLUMN opted_out_on TEXT;
    ALTER TABLE mail_messages ADD COLUMN topics TEXT;
    ALTER TABLE mail_messages ADD COLUMN topic_reasons TEXT;
    ALTER TABLE mail_messages ADD COLUMN subject_key TEXT;
    ALTER TABLE mail_messages ADD COLUMN reached TEXT;
    CREATE INDEX mail_by_subject_key ON mail_messages(subject_key) WHERE subject_key IS NOT NULL;
    {_json_check_triggers("preferences", "topics")}
    {_json_check_triggers("mail_messages", "reached")}
    """,
    # issue 13: leak prevention and identifier sharing. A site's leak mode (NULL: the default, in
    # `settings`); what stopped a value before its recipient got it (`stopped_by`: a filter list,
    # leak prevention, or leak prevention's scrubbing; NULL: it leaked); which first-party
    # identifier cookie of a site went to which third party (whoknows.identifiers).
    """
    ALTER TABLE site_settings ADD COLUMN leak_mode TEXT
        CHECK (leak_mode IS NULL OR leak_mode IN ('block', 'scrub', 'report'));
    ALTER TABLE leaks ADD COLUMN stopped_by TEXT
        CHECK (stopped_by IS NULL OR stopped_by IN ('filter', 'prevention', 'scrub'));
    UPDATE leaks SET stopped_by = 'filter' WHERE blocked = 1;
    CREATE TABLE shared_identifiers (
        vendor_id INTEGER NOT NULL REFERENCES vendors(id) ON DELETE CASCADE,  -- the page's site
        cookie_name TEXT NOT NULL,            -- the site's cookie whose value went out
        recipient_site TEXT NOT NULL,         -- the third party (registrable domain)
        recipient_host TEXT NOT NULL,
        action TEXT NOT NULL CHECK (action IN ('strip', 'block')),
        count INTEGER NOT NULL DEFAULT 1 CHECK (count >= 1),
        first_seen TEXT NOT NULL,
        last_seen TEXT NOT NULL,
        PRIMARY KEY (vendor_id, cookie_name, recipient_host)
    ) WITHOUT ROWID;
    """,
    # issue 13, item 3 (helper `learned`; whoknows.learned_trackers writes it): third parties seen
    # receiving identifying data on 3 or more of your sites, derived from the aggregates above when
    # the proxy's batched writers flush. `state`: learned (blocked everywhere), allowed (you let it
    # in: loads, still without cookies or Referer) or forgotten (only evidence seen after
    # `forgotten_at` counts again). `sites` and `evidence`: JSON lists (the sites that taught it,
    # the kinds: cookie, identifier, value).
    """
    CREATE TABLE learned_trackers (
        domain TEXT PRIMARY KEY,              -- the third party's registrable domain
        state TEXT NOT NULL CHECK (state IN ('learned', 'allowed', 'forgotten')),
        sites TEXT NOT NULL DEFAULT '[]',
        evidence TEXT NOT NULL DEFAULT '[]',
        learned_at TEXT,                      -- NULL: allowed before it was ever learned
        changed_at TEXT NOT NULL,             -- last learned, allowed or forgotten
        forgotten_at TEXT                     -- evidence last seen before this no longer counts
    ) WITHOUT ROWID;
    """,
    # issue 13, item 3 (helper `learned`): after each flush, learned trackers are judged again for
    # the third parties the batch touched; this index finds the cookies a third party set by its site.
    """
    CREATE INDEX observations_by_cookie_site ON observations(json_extract(detail, '$.site'))
        WHERE kind = 'cookie';
    """,
    # issue 14, loose ends (helper `loose-ends`; whoknows.data_rights writes it): a complaint or a
    # follow-up names the request it is about, so `whoknows requests` shows that request as
    # complained about / followed up instead of overdue for ever. NULL: a request of its own.
    """
    ALTER TABLE rights_requests ADD COLUMN about_id INTEGER REFERENCES rights_requests(id) ON DELETE SET NULL;
    CREATE INDEX rights_requests_by_about ON rights_requests(about_id) WHERE about_id IS NOT NULL;
    """,
    # issue 15, loose end (helper `sales`; whoknows.vendor_records writes it): where to tell a vendor
    # what you intend to buy (`intent new`): its sales or customer address, which the user records
    # (`vendor add --sales-contact`). Never the privacy contact, which is for data-rights requests.
    """
    ALTER TABLE vendors ADD COLUMN sales_contact TEXT;
    """,
    # issues 12/13 follow-up (helper `freshness`; whoknows.company_sightings writes it): a company
    # reached or blocked through a host of the page's own site that DNS says is an alias (CNAME) of
    # its tracker domain: that host (the last one seen that day; NULL: no cloaking seen).
    """
    ALTER TABLE company_sightings ADD COLUMN cloaked_behind TEXT;
    CREATE INDEX company_sightings_cloaked ON company_sightings(vendor_id, company, domain, cloaked_behind)
        WHERE cloaked_behind IS NOT NULL;
    """,
]

SCHEMA_VERSION = len(MIGRATIONS)
BUSY_TIMEOUT_MS = 5000
# Beyond busy_timeout, retry a locked write this long before giving up with a clear message.
LOCK_RETRY_SECONDS = 60.0


TIME_FORMAT = "%Y-%m-%dT%H:%M:%SZ"  # how the ledger stores a moment: ISO 8601, UTC, seconds


def stamp(moment: float | datetime) -> str:
    """A moment (a POSIX timestamp, or a datetime) as the ledger stores it."""
    if not isinstance(moment, datetime):
        moment = datetime.fromtimestamp(moment, timezone.utc)
    return moment.astimezone(timezone.utc).strftime(TIME_FORMAT)


def now() -> str:
    """The current time as stored in the ledger."""
    return stamp(datetime.now(timezone.utc))


def json_text(value) -> str | None:
    """How the ledger stores a JSON column (evidence, detail, channels): None stays NULL."""
    return None if value is None else json.dumps(value, ensure_ascii=False, separators=(",", ":"))


def default_path() -> Path:
    return paths.data_dir() / LEDGER_FILE


def _is_locked(exc: sqlite3.OperationalError) -> bool:
    return exc.sqlite_errorcode in (sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED) or "locked" in str(exc)


class LedgerBusy(WhoknowsError):
    """The ledger's write lock could not be had in time; try again later."""


# Errors that come from the file or the machine, not from a bug in a query: shown to the user.
_ENVIRONMENTAL = {
    sqlite3.SQLITE_READONLY, sqlite3.SQLITE_IOERR, sqlite3.SQLITE_FULL, sqlite3.SQLITE_CANTOPEN,
    sqlite3.SQLITE_CORRUPT, sqlite3.SQLITE_NOTADB, sqlite3.SQLITE_PERM,
}


def _is_environmental(exc: sqlite3.Error) -> bool:
    code = getattr(exc, "sqlite_errorcode", None)
    return code is not None and code & 0xFF in _ENVIRONMENTAL


class Ledger:
    """A connection to the ledger file, migrated to the current schema on open."""

    def __init__(self, path: Path | str | None = None):
        self.path = Path(path) if path is not None else default_path()
        if not self.path.parent.is_dir():
            raise WhoknowsError(f"the ledger's directory {self.path.parent} does not exist")
        paths.ensure_private_file(self.path)
        try:
            self.db = sqlite3.connect(self.path, isolation_level=None, timeout=BUSY_TIMEOUT_MS / 1000)
        except sqlite3.Error as exc:
            raise WhoknowsError(f"cannot open the ledger {self.path}: {exc}") from None
        try:
            self.db.row_factory = sqlite3.Row
            self.db.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
            self._refuse_newer_schema()  # before anything below could change the file
            self._retrying(lambda: self.db.execute("PRAGMA journal_mode = WAL"))
            self.db.execute("PRAGMA synchronous = FULL")
            self.db.execute("PRAGMA foreign_keys = ON")
            self._migrate()
        except sqlite3.DatabaseError as exc:
            self.db.close()
            raise WhoknowsError(f"cannot open the ledger {self.path}: {self._explain(exc)}") from None
        except BaseException:
            self.db.close()
            raise

    def _explain(self, exc: sqlite3.DatabaseError) -> str:
        # SQLite says "attempt to write a readonly database" when it cannot create the -wal and
        # -shm files beside the ledger: name the real cause.
        if _is_environmental(exc) and not os.access(self.path.parent, os.W_OK | os.X_OK):
            return f"its directory {self.path.parent} is not writable ({exc})"
        if _is_environmental(exc) and not os.access(self.path, os.R_OK | os.W_OK):
            return f"the file is not readable and writable by you ({exc})"
        return str(exc)

    # -- transactions -------------------------------------------------------------------------

    def _retrying(self, action):
        deadline = time.monotonic() + LOCK_RETRY_SECONDS
        delay = 0.01
        while True:
            try:
                return action()
            except sqlite3.OperationalError as exc:
                if not _is_locked(exc) or time.monotonic() > deadline:
                    if _is_locked(exc):
                        raise WhoknowsError(
                            f"the ledger {self.path} stayed locked for {LOCK_RETRY_SECONDS:.0f} s; "
                            "is another whoknows stuck?"
                        ) from None
                    raise
                time.sleep(delay * (1 + random.random()))
                delay = min(delay * 2, 0.5)

    @contextlib.contextmanager
    def write(self):
        """A short write transaction: `with ledger.write() as db: db.execute(...)`.

        Takes the write lock up front (BEGIN IMMEDIATE), commits on success, rolls back on error.
        A ledger that cannot be written (read-only file, full disk) is a one-line WhoknowsError.
        """
        try:
            self._retrying(lambda: self.db.execute("BEGIN IMMEDIATE"))
            try:
                yield self.db
                self._retrying(lambda: self.db.execute("COMMIT"))
            except BaseException:
                if self.db.in_transaction:  # SQLite rolls back by itself after some errors
                    self.db.execute("ROLLBACK")
                raise
        except sqlite3.OperationalError as exc:
            if _is_environmental(exc):
                raise WhoknowsError(f"cannot write the ledger {self.path}: {exc}") from None
            raise

    @contextlib.contextmanager
    def batch_write(self, lock_wait: float):
        """A write transaction for a background writer that keeps its batch when the ledger is busy:
        `with ledger.batch_write(0.5) as db: ...`.

        Unlike `write()`, nothing is retried: the write lock is waited for at most `lock_wait`
        seconds, and a lock met on the way (taking it, in a statement, at the commit) rolls back
        and raises LedgerBusy, with nothing written. Other errors roll back and propagate as they are.
        """
        db = self.db
        db.execute(f"PRAGMA busy_timeout = {max(0, int(lock_wait * 1000))}")
        try:
            try:
                db.execute("BEGIN IMMEDIATE")
            except sqlite3.OperationalError as exc:
                if _is_locked(exc):
                    raise LedgerBusy(f"the ledger {self.path} is locked") from None
                raise
            try:
                yield db
                db.execute("COMMIT")
            except BaseException as exc:
                if db.in_transaction:  # SQLite rolls back by itself after some errors
                    db.execute("ROLLBACK")
                if isinstance(exc, sqlite3.OperationalError) and _is_locked(exc):
                    raise LedgerBusy(f"the ledger {self.path} is locked") from None
                raise
        finally:
            db.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")  # later writes wait as usual

    @contextlib.contextmanager
    def read(self):
        """A consistent snapshot for several reads (BEGIN DEFERRED)."""
        self.db.execute("BEGIN")
        try:
            yield self.db
        finally:
            self.db.execute("COMMIT")

    def query(self, sql: str, params=()) -> list[sqlite3.Row]:
        return self._retrying(lambda: self.db.execute(sql, params).fetchall())

    def close(self) -> None:
        self.db.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    # -- schema -------------------------------------------------------------------------------

    def schema_version(self) -> int:
        return self.db.execute("PRAGMA user_version").fetchone()[0]

    def _refuse_newer_schema(self) -> None:
        version = self._retrying(self.schema_version)
        if version > SCHEMA_VERSION:
            raise WhoknowsError(
                f"the ledger {self.path} has schema version {version}, newer than this whoknows "
                f"understands ({SCHEMA_VERSION}); upgrade whoknows"
            )

    def _migrate(self) -> None:
        if self.schema_version() == SCHEMA_VERSION:
            return
        # Foreign keys off while migrating (a no-op inside a transaction, so before it): a migration
        # that rebuilds a table (to change a CHECK) drops the old one, and with foreign keys on
        # that drop would first delete, and cascade to, every row referencing it. What the
        # migrations leave is checked before they commit.
        self.db.execute("PRAGMA foreign_keys = OFF")
        try:
            with self.write() as db:
                self._refuse_newer_schema()  # another, newer whoknows may have migrated meanwhile
                version = db.execute("PRAGMA user_version").fetchone()[0]
                for target in range(version, SCHEMA_VERSION):
                    for statement in _statements(MIGRATIONS[target]):
                        db.execute(statement)
                    db.execute(f"PRAGMA user_version = {target + 1}")
                broken = db.execute("PRAGMA foreign_key_check").fetchall()
                if broken:
                    raise WhoknowsError(f"migrating the ledger {self.path} would break {len(broken)} references "
                                        f"(first in table {broken[0][0]}); it was left as it was")
        finally:
            self.db.execute("PRAGMA foreign_keys = ON")

    def integrity(self) -> str:
        """'ok', or SQLite's description of the damage."""
        rows = self.db.execute("PRAGMA integrity_check").fetchall()
        return "; ".join(row[0] for row in rows)

    # -- vendors ---------------------------------------------------------------------------------

    def vendor_id(self, domain: str, create: bool = False) -> int | None:
        """The row id of the vendor with this (already normalised) domain; created when `create`."""
        rows = self.query("SELECT id FROM vendors WHERE domain = ?", (domain,))
        if rows:
            return rows[0]["id"]
        if not create:
            return None
        with self.write() as db:
            return vendor_ids(db, [domain])[domain]

    # -- settings (never secrets) --------------------------------------------------------------

    def get_setting(self, key: str, default: str | None = None) -> str | None:
        rows = self.query("SELECT value FROM settings WHERE key = ?", (key,))
        return rows[0]["value"] if rows else default

    def set_setting(self, key: str, value: str) -> None:
        with self.write() as db:
            db.execute(
                "INSERT INTO settings (key, value) VALUES (?, ?) "
                "ON CONFLICT(key) DO UPDATE SET value = excluded.value",
                (key, value),
            )

    def clear_setting(self, key: str) -> None:
        with self.write() as db:
            db.execute("DELETE FROM settings WHERE key = ?", (key,))


def vendor_ids(db: sqlite3.Connection, sites: Iterable[str], when: str | None = None) -> dict[str, int]:
    """Row ids of these sites' vendors, creating the ones the ledger does not know yet (created at
    `when`, default now): the one way a vendor comes to be on first mention (`vendor_records` adds,
    changes and forgets vendors the user names).

    Runs inside the caller's write transaction (`Ledger.write()` or `Ledger.batch_write()`)."""
    ids = {}
    stamp = when or now()
    for site in sorted(set(sites)):
        db.execute("INSERT INTO vendors (domain, created_at) VALUES (?, ?) ON CONFLICT(domain) DO NOTHING",
                   (site, stamp))
        ids[site] = db.execute("SELECT id FROM vendors WHERE domain = ?", (site,)).fetchone()[0]
    return ids


def _statements(script: str):
    """Split a migration script into statements (executescript would commit our transaction)."""
    buffer = ""
    for line in script.splitlines(keepends=True):
        buffer += line.split("--", 1)[0] if "--" in line else line
        if sqlite3.complete_statement(buffer):
            if buffer.strip():
                yield buffer.strip()
            buffer = ""
    if buffer.strip():
        raise ValueError(f"incomplete SQL in migration: {buffer.strip()[:60]}")


def open_ledger(path: Path | str | None = None) -> Ledger:
    """Open (creating and migrating as needed) the ledger at `path` or in the data directory."""
    return Ledger(path)


__all__ = [
    "ALIAS_STATES", "DISCLOSURE_KINDS", "DISCLOSURE_SOURCES", "Ledger", "LedgerBusy", "OBSERVATION_KINDS",
    "SCHEMA_VERSION", "json_text", "match_key_sql", "now", "open_ledger", "vendor_ids",
]

