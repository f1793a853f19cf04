"""What the proxy saw of the person's own values leaving the browser, and where it is kept.

For each request in which `whoknows.leakscan` found one of the watched values (`whoknows.me`: the
person's own values and every alias), `classify` decides what the ledger learns:

- sent to the page's own site (a form, a login, an API call of the site itself): a *disclosure*,
  source `form`: "`shop.example` knows your phone (POST to /checkout)";
- sent to another site: a *leak*, one `leaks` row per (page site, recipient host, value, encoding,
  form, place), counted: "`shop.example`'s page sent your email as SHA-256 to
  `connect.facebook.net` (Meta)". The recipient now holds the value too, so it also gets a
  disclosure, source `leak`, whose evidence names the page: `knows email` then lists the tracker
  next to the shop. A request the proxy blocked did not leak: it is kept as an *attempted* leak
  (`blocked` 1), and the recipient gets no disclosure (it never received anything);
- requests whose page is unknown (no Referer, Origin or fetch metadata) cannot be attributed to a
  page and are left out, like the observation addon does.

Evidence is a redacted URL (no parameter values), the method, where the value was (url,
header:NAME, body) and how it was encoded. Never the body, never the value: values are written
by reference (`ValueRef.ref`: an alias address, or `a•••@example.com [me:3f9a0c1d]`).

Writing follows `whoknows.observations` (both use `whoknows.batching`): the request path only
updates an in-memory batch under a lock (`PendingLeaks`); `LeakFlusher` writes it on its own
thread every few seconds, in one `BEGIN IMMEDIATE` transaction, and once more at shutdown; a
locked ledger delays a batch, never loses it.
"""

from __future__ import annotations

import logging
import sqlite3
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any, NamedTuple

from .batching import LOCK_WAIT_SECONDS, BatchFlusher, PendingTallies, relearn_trackers
from .disclosures import record_seen_disclosure
from .errors import InputError, WhoknowsError
from .ledger import TIME_FORMAT, Ledger, stamp, vendor_ids

logger = logging.getLogger("whoknows.leaks")

# Which place is the best evidence of a disclosure, when a value is in several.
_PLACE_RANK = {"body": 0, "url": 1}
# Human names of encodings, for sentences ("as SHA-256").
ENCODING_NAMES = {
    "plain": "plain text", "casefold": "plain text", "url": "URL-encoded", "url-plus": "URL-encoded",
    "base64": "base64", "base64-nopad": "base64", "base64url": "base64", "base64url-nopad": "base64",
    "md5": "MD5", "md5-upper": "MD5", "sha1": "SHA-1", "sha1-upper": "SHA-1",
    "sha256": "SHA-256", "sha256-upper": "SHA-256",
}


class FoundValue(NamedTuple):
    """One match, as the addon hands it over: which value (by reference), how, where."""

    kind: str
    ref: str
    encoding: str
    form: str
    where: str  # url, header:NAME or body


class LeakKey(NamedTuple):
    page_site: str
    recipient_host: str
    recipient_site: str | None
    kind: str
    ref: str
    encoding: str
    form: str
    where: str
    blocked: bool
    stopped_by: str | None = None  # blocked: filter (a list), prevention (leak prevention), scrub


# What stopped a value before it reached its recipient; the ledger's `leaks.stopped_by`.
STOPPED_BY = ("filter", "prevention", "scrub")
# A leak's outcome as `leaks` and `vendor show` tell it.
OUTCOMES = {None: "leaked", "filter": "blocked", "prevention": "prevented", "scrub": "scrubbed"}


class SharedIdKey(NamedTuple):
    """A page site's first-party identifier cookie found in a request to another site."""

    page_site: str
    cookie_name: str
    recipient_site: str
    recipient_host: str
    action: str  # strip | block


class DisclosureKey(NamedTuple):
    site: str
    kind: str
    ref: str
    source: str  # form | leak


@dataclass(slots=True)
class Tally:
    count: int
    first: float
    last: float
    latest: dict[str, Any]

    def add(self, when: float, latest: Mapping[str, Any]) -> None:
        self.count += 1
        self.first = min(self.first, when)
        if when >= self.last:
            self.last = when
            self.latest = dict(latest)

    def merge_older(self, older: "Tally") -> None:
        self.count += older.count
        self.first = min(self.first, older.first)
        if older.last > self.last:
            self.last, self.latest = older.last, older.latest


Batch = dict[LeakKey | DisclosureKey, Tally]


def _preferred(found: list[FoundValue]) -> FoundValue:
    """The best evidence among one value's matches in one request: body, then URL, then headers."""
    return min(found, key=lambda f: _PLACE_RANK.get(f.where, 2))


def classify(page_site: str, request_site: str | None, request_host: str, method: str, url: str,
             found: Iterable[FoundValue], blocked: bool, company: str | None = None,
             stopped_by: str | None = None):
    """The leaks and disclosures one request makes: [(key, latest fields)].

    `url` must already be redacted (`leakscan.redact_url`). `stopped_by` says what kept the value
    from its recipient (`STOPPED_BY`; `blocked` with None means a filter list)."""
    if stopped_by is not None:
        blocked = True
    elif blocked:
        stopped_by = "filter"
    by_value: dict[tuple[str, str], list[FoundValue]] = {}
    for item in found:
        by_value.setdefault((item.kind, item.ref), []).append(item)
    events: list[tuple[LeakKey | DisclosureKey, dict]] = []
    own_site = request_site is not None and request_site == page_site
    for (kind, ref), items in by_value.items():
        best = _preferred(items)
        evidence = {"method": method, "url": url, "where": best.where, "encoding": best.encoding,
                    "form": best.form}
        if own_site:
            if not blocked:
                events.append((DisclosureKey(page_site, kind, ref, "form"), evidence))
            continue
        for item in items:
            key = LeakKey(page_site, request_host, request_site, kind, ref, item.encoding, item.form,
                          item.where, blocked, stopped_by)
            events.append((key, {"method": method, "url": url, "company": company}))
        if not blocked and request_site is not None:
            leak_evidence = {"page": page_site, "host": request_host, **evidence}
            events.append((DisclosureKey(request_site, kind, ref, "leak"), leak_evidence))
    return events


_LIVE_SECTIONS = ("leaks", "attempted", "prevented", "disclosures", "shared_ids")


class PendingLeaks(PendingTallies[LeakKey | DisclosureKey, Tally]):
    """The batch not yet in the ledger, and live counts per page site (thread-safe: both under `lock`)."""

    def __init__(self, clock: Callable[[], float] = time.time) -> None:
        super().__init__()
        self._clock = clock
        self._live: dict[str, dict[str, set]] = {}

    def record(self, events: Iterable[tuple[LeakKey | DisclosureKey, dict]]) -> None:
        when = self._clock()
        with self.lock:
            for key, latest in events:
                self.tally_for(key, lambda: Tally(0, when, when, {})).add(when, latest)
                self._count_live(key)

    def _live_of(self, site: str) -> dict[str, set]:
        return self._live.setdefault(site, {name: set() for name in _LIVE_SECTIONS})

    def _count_live(self, key) -> None:
        if isinstance(key, LeakKey):
            section = ("leaks" if not key.blocked else
                       "prevented" if key.stopped_by in ("prevention", "scrub") else "attempted")
            # a value to a host: one, however encoded
            self._live_of(key.page_site)[section].add((key.recipient_host, key.ref))
        elif isinstance(key, SharedIdKey):
            self._live_of(key.page_site)["shared_ids"].add((key.recipient_host, key.cookie_name))
        elif key.source == "form":
            self._live_of(key.site)["disclosures"].add((key.kind, key.ref))

    def snapshot(self, site: str) -> dict[str, int]:
        """What `site`'s pages did since the proxy started: `leaks` (distinct (value, recipient host)
        pairs sent), `attempted` (the same, blocked by a filter list), `prevented` (the same, stopped
        or scrubbed by leak prevention), `disclosures` (distinct values sent to itself) and
        `shared_ids` (distinct (recipient host, identifier cookie) pairs caught)."""
        with self.lock:
            live = self._live.get(site)
            if live is None:
                return {name: 0 for name in _LIVE_SECTIONS}
            return {name: len(items) for name, items in live.items()}


# -- the ledger --------------------------------------------------------------------------------


_LEAK_UPSERT = """
    INSERT INTO leaks (vendor_id, recipient_id, recipient_host, company, kind, value_ref, encoding, form,
                       location, method, url, blocked, stopped_by, count, first_seen, last_seen)
    VALUES (:vendor_id, :recipient_id, :recipient_host, :company, :kind, :value_ref, :encoding, :form,
            :location, :method, :url, :blocked, :stopped_by, :count, :first_seen, :last_seen)
    ON CONFLICT (vendor_id, recipient_host, value_ref, encoding, form, location, blocked) DO UPDATE SET
        count = count + excluded.count,
        stopped_by = CASE WHEN excluded.last_seen >= last_seen THEN excluded.stopped_by ELSE stopped_by END,
        first_seen = min(first_seen, excluded.first_seen),
        last_seen = max(last_seen, excluded.last_seen),
        method = CASE WHEN excluded.last_seen >= last_seen THEN excluded.method ELSE method END,
        url = CASE WHEN excluded.last_seen >= last_seen THEN excluded.url ELSE url END,
        company = coalesce(excluded.company, company),
        recipient_id = coalesce(recipient_id, excluded.recipient_id)
"""

_SHARED_ID_UPSERT = """
    INSERT INTO shared_identifiers (vendor_id, cookie_name, recipient_site, recipient_host, action, count,
                                    first_seen, last_seen)
    VALUES (:vendor_id, :cookie_name, :recipient_site, :recipient_host, :action, :count, :first_seen, :last_seen)
    ON CONFLICT (vendor_id, cookie_name, recipient_host) DO UPDATE SET
        count = count + excluded.count,
        first_seen = min(first_seen, excluded.first_seen),
        last_seen = max(last_seen, excluded.last_seen),
        action = CASE WHEN excluded.last_seen >= last_seen THEN excluded.action ELSE action END
"""


def write_batch(ledger: Ledger, batch: Mapping, lock_wait: float = LOCK_WAIT_SECONDS) -> int:
    """Write a batch in one transaction; returns the rows written. LedgerBusy when the write lock
    is not free within `lock_wait` seconds (nothing is written then)."""
    if not batch:
        return 0
    with ledger.batch_write(lock_wait) as db:
        sites = set()
        for key in batch:
            if isinstance(key, LeakKey):
                sites.add(key.page_site)
                if key.recipient_site is not None:
                    sites.add(key.recipient_site)
            elif isinstance(key, SharedIdKey):
                sites.add(key.page_site)
            else:
                sites.add(key.site)
        ids = vendor_ids(db, sites)
        for key, tally in batch.items():
            if isinstance(key, LeakKey):
                db.execute(_LEAK_UPSERT, {
                    "vendor_id": ids[key.page_site],
                    "recipient_id": ids.get(key.recipient_site) if key.recipient_site else None,
                    "recipient_host": key.recipient_host, "company": tally.latest.get("company"),
                    "kind": key.kind, "value_ref": key.ref, "encoding": key.encoding, "form": key.form,
                    "location": key.where, "method": tally.latest.get("method", ""),
                    "url": tally.latest.get("url", ""), "blocked": int(key.blocked),
                    "stopped_by": key.stopped_by, "count": tally.count,
                    "first_seen": stamp(tally.first), "last_seen": stamp(tally.last),
                })
            elif isinstance(key, SharedIdKey):
                db.execute(_SHARED_ID_UPSERT, {
                    "vendor_id": ids[key.page_site], "cookie_name": key.cookie_name,
                    "recipient_site": key.recipient_site, "recipient_host": key.recipient_host,
                    "action": key.action, "count": tally.count,
                    "first_seen": stamp(tally.first), "last_seen": stamp(tally.last),
                })
            else:
                record_seen_disclosure(db, ids[key.site], key.kind, key.ref, key.source, tally.latest,
                                  stamp(tally.first), stamp(tally.last))
    return len(batch)


class LeakFlusher(BatchFlusher):
    """Writes `PendingLeaks` to the ledger on a background thread (`batching.BatchFlusher`, as
    `observations.Flusher`)."""

    what = "leaks"
    thread_name = "whoknows-leaks"
    logger = logger

    recorder: PendingLeaks

    def write(self, ledger: Ledger, batch: Batch) -> int:
        return write_batch(ledger, batch, self.lock_wait)

    def after_write(self, ledger: Ledger, batch: Batch) -> None:
        # a value or a site's identifier sent to a third party may teach a learned tracker
        relearn_trackers(ledger, {key.recipient_site for key in batch if isinstance(key, (LeakKey, SharedIdKey))},
                         self.lock_wait)

    def unwritten(self) -> str:
        return f"{self.recorder.pending_count()} leak records"


# -- the values to look for ----------------------------------------------------------------------

REFRESH_SECONDS = 1.0


class ValueWatcher:
    """Keeps a `LeakScanner` built from the ledger's watched values (`me.watched_values`), current.

    `check(ledger)` is cheap when nothing changed: SQLite's `PRAGMA data_version` (moves when
    another connection commits anything), then, only if it moved, a read of the values' ids and
    keyed hashes (`me.fingerprint`, no decryption); the scanner is rebuilt (values decrypted,
    automaton built) only when those changed. `start()` runs `check` every `interval` seconds on
    a thread of its own with its own connection; `scanner` is swapped in one assignment, so the
    request path reads it without a lock.
    """

    def __init__(self, open_ledger: Callable[[], Ledger], load_keys: Callable[[], Any] | None = None,
                 interval: float = REFRESH_SECONDS) -> None:
        from . import me

        self.open_ledger = open_ledger
        self.load_keys = load_keys or (lambda: me.load_keys(create=False))
        self.interval = interval
        self.scanner = None
        self.values = 0
        self.unreadable = 0
        self.rebuilds = 0
        self._version: int | None = None
        self._fingerprint: tuple | None = None
        self._key_failed = False
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None

    def check(self, ledger: Ledger) -> bool:
        """Rebuild the scanner if the watched values changed; True if it was rebuilt."""
        from . import me
        from .leakscan import LeakScanner

        version = ledger.db.execute("PRAGMA data_version").fetchone()[0]
        if version == self._version and self.scanner is not None:
            return False
        self._version = version
        fingerprint = me.fingerprint(ledger)
        if fingerprint == self._fingerprint and self.scanner is not None:
            return False
        keys, key_failed, was_failing = None, False, self._key_failed
        if fingerprint[0]:
            try:
                keys = self.load_keys()
            except WhoknowsError as exc:  # the keyring is locked or gone: watch the aliases meanwhile
                if not was_failing:
                    logger.error(f"whoknows: cannot read the key of your values ({exc}); only aliases are "
                                 "looked for until it can be read")
                key_failed = True
        self._key_failed = key_failed
        watched, unreadable = me.watched_values(ledger, keys)
        self.scanner = LeakScanner(watched)
        self._fingerprint = None if key_failed else fingerprint  # a failed key is tried again on the next change
        self.values, self.unreadable = len(watched), unreadable
        self.rebuilds += 1
        if not (key_failed and was_failing):  # said once, not at every retry
            if unreadable and not key_failed:
                logger.warning(f"whoknows: {unreadable} of your values cannot be decrypted with this machine's "
                               "key and are not looked for ('whoknows me list' says more)")
            logger.info(f"whoknows: looking for {len(watched)} of your values in outgoing requests")
        return True

    def load_now(self) -> bool:
        """One check on a connection of its own (at start, and in tests). False if the ledger failed."""
        try:
            with self.open_ledger() as ledger:
                self.check(ledger)
        except (WhoknowsError, sqlite3.Error) as exc:
            logger.error(f"whoknows: cannot read your values to look for leaks ({exc}); retrying")
            self._version = None
            return False
        return True

    def start(self) -> None:
        if self._thread is None:
            self._stopping.clear()
            self._thread = threading.Thread(target=self._run, name="whoknows-leak-values", daemon=True)
            self._thread.start()

    def _run(self) -> None:
        ledger = None
        while not self._stopping.wait(self.interval):
            try:
                if ledger is None:
                    ledger = self.open_ledger()
                self.check(ledger)
            except (WhoknowsError, sqlite3.Error) as exc:
                logger.warning(f"whoknows: cannot re-read your values ({exc}); keeping the current ones")
                if ledger is not None:
                    ledger.close()
                ledger = None
        if ledger is not None:
            ledger.close()

    def stop(self) -> None:
        thread, self._thread = self._thread, None
        if thread is not None:
            self._stopping.set()
            thread.join()


# -- reading -----------------------------------------------------------------------------------

_LEAK_COLUMNS = """
    page.domain AS page, l.recipient_host, recipient.domain AS recipient, l.company, l.kind,
    l.value_ref AS value, l.encoding, l.form, l.location AS "where", l.method, l.url,
    l.blocked, l.stopped_by, l.count, l.first_seen, l.last_seen
"""
_LEAK_FROM = """
    FROM leaks AS l JOIN vendors AS page ON page.id = l.vendor_id
    LEFT JOIN vendors AS recipient ON recipient.id = l.recipient_id
"""


def _leak_row(row) -> dict:
    """A leak as shown: its recipient's company by the one name whoknows shows for it and its
    category, from the tracker data as it is now (the name stored at the time is kept when the
    data does not know the host)."""
    from .tracker_companies import tracker_domain

    record = dict(row)
    record["blocked"] = bool(record["blocked"])
    record["outcome"] = OUTCOMES.get(record.pop("stopped_by"), "blocked") if record["blocked"] else "leaked"
    entry = tracker_domain(record["recipient_host"])
    if entry is not None:
        record["company"] = entry.company.name
    record["category"] = entry.category if entry is not None else None
    return record


def parse_since(text: str) -> str:
    """`--since` (YYYY-MM-DD, or a full ISO timestamp) as a ledger timestamp for comparisons."""
    text = text.strip()
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise InputError(f"{text!r} is not a date (YYYY-MM-DD or YYYY-MM-DDTHH:MM:SSZ)") from None
    if moment.tzinfo is not None:
        moment = moment.astimezone(timezone.utc)
    return moment.strftime(TIME_FORMAT)


def list_leaks(ledger: Ledger, vendor: str | None = None, since: str | None = None,
               blocked: bool | None = None) -> list[dict]:
    """Leaks, newest first. `vendor`: on its pages or sent to it; `since`: last seen at or after."""
    conditions, params = [], []
    if vendor is not None:
        conditions.append("(page.domain = ? OR recipient.domain = ?)")
        params += [vendor, vendor]
    if since is not None:
        conditions.append("l.last_seen >= ?")
        params.append(since)
    if blocked is not None:
        conditions.append("l.blocked = ?")
        params.append(int(blocked))
    where = (" WHERE " + " AND ".join(conditions)) if conditions else ""
    sql = (f"SELECT {_LEAK_COLUMNS} {_LEAK_FROM}{where} "
           "ORDER BY l.last_seen DESC, page.domain, l.recipient_host, l.value_ref, l.encoding, l.location")
    return [_leak_row(row) for row in ledger.query(sql, params)]


def vendor_leaks(db: sqlite3.Connection, vendor_id: int) -> dict[str, list[dict]]:
    """A vendor's side of the leaks: what its pages sent elsewhere, and what it received."""
    order = " ORDER BY l.last_seen DESC, l.recipient_host, l.value_ref, l.encoding, l.location"
    sent = db.execute(f"SELECT {_LEAK_COLUMNS} {_LEAK_FROM} WHERE l.vendor_id = ?{order}", (vendor_id,))
    received = db.execute(f"SELECT {_LEAK_COLUMNS} {_LEAK_FROM} WHERE l.recipient_id = ?{order}", (vendor_id,))
    return {"sent_by_its_pages": [_leak_row(r) for r in sent],
            "received": [_leak_row(r) for r in received]}


def shared_identifier_pairs(ledger: Ledger) -> dict[tuple[str, str], str]:
    """(page site, recipient site) -> the cookie name, of every identifier sharing seen: the third
    parties that are trackers on those sites (`whoknows.identifiers.SharedIdentifiers`)."""
    rows = ledger.query(
        "SELECT v.domain AS page, s.recipient_site, s.cookie_name FROM shared_identifiers AS s "
        "JOIN vendors AS v ON v.id = s.vendor_id ORDER BY s.first_seen")
    pairs: dict[tuple[str, str], str] = {}
    for row in rows:
        pairs.setdefault((row["page"], row["recipient_site"]), row["cookie_name"])
    return pairs


def list_shared_identifiers(ledger: Ledger, vendor: str | None = None) -> list[dict]:
    """Identifier sharings, newest first: which cookie of which site went to which third party."""
    where, params = "", []
    if vendor is not None:
        where, params = " WHERE v.domain = ? OR s.recipient_site = ?", [vendor, vendor]
    return [dict(row) for row in ledger.query(
        "SELECT v.domain AS page, s.cookie_name AS cookie, s.recipient_site, s.recipient_host, s.action, "
        f"s.count, s.first_seen, s.last_seen FROM shared_identifiers AS s JOIN vendors AS v ON v.id = s.vendor_id"
        f"{where} ORDER BY s.last_seen DESC, v.domain, s.recipient_host", params)]


def describe(leak: Mapping[str, Any]) -> str:
    """One sentence: "shop.example's page sent your email (a•••@x.org) as SHA-256 to host (Meta)"."""
    from .sites import display_domain

    value = leak["value"]
    what = f"your {leak['kind']} ({value})" if leak["kind"] != "alias" else f"your alias {value}"
    encoding = ENCODING_NAMES.get(leak["encoding"], leak["encoding"])
    company = f" ({leak['company']})" if leak.get("company") else ""
    verb = "tried to send" if leak["blocked"] else "sent"
    outcome = leak.get("outcome") or ("blocked" if leak["blocked"] else "leaked")
    blocked = {"leaked": "", "blocked": " (blocked)", "prevented": " (prevented: stopped by whoknows)",
               "scrubbed": " (prevented: whoknows removed it and sent the rest)"}.get(outcome, f" ({outcome})")
    return (f"{display_domain(leak['page'])}'s page {verb} {what} as {encoding} to "
            f"{leak['recipient_host']}{company}{blocked}")


__all__ = [
    "DisclosureKey", "FoundValue", "LeakFlusher", "LeakKey", "OUTCOMES", "PendingLeaks", "SharedIdKey",
    "classify", "describe", "list_shared_identifiers", "shared_identifier_pairs",
    "ValueWatcher", "list_leaks", "parse_since", "vendor_ids", "vendor_leaks",
    "write_batch",
]
