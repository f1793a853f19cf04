"""What the proxy sees on a vendor's pages: third parties contacted, cookies set, parameters stripped.

Two halves, neither of which knows about mitmproxy:

- `Observations`: live counters in memory, per first-party site (the registrable domain of the
  page). Recording is a dict update under a lock (microseconds, on the request path); `snapshot`
  reads a site's counters from any thread (the control API and the browser extension use it).
- `Flusher`: writes what was recorded since the last flush to the ledger's `observations` table,
  on its own thread, every few seconds and once more at shutdown. The request path never waits for
  SQLite. A ledger that is locked (another whoknows is writing) or unwritable keeps nothing back:
  the batch goes back into the pending counters and is written by the next flush.

One ledger row per (site, kind, subject), with counts that add up across flushes and across
processes: the row is read, merged and written inside one `BEGIN IMMEDIATE` transaction.
`detail` is a JSON object; its counter fields (`COUNTER_FIELDS`) add up like `count`, its other
fields say what was seen last.

Subjects and details, by kind:
- `third-party`: the third party's site (`cdn.test`); detail `owner` (company, when known),
  `category` (the tracker data's: advertising, site_analytics...; absent when unknown),
  `tracker` (the blocking addon's mark or a built-in list entry), counters `blocked` and `allowed`
  (requests answered by the proxy / let through), `blocked_by` (the list whose filter blocked its
  last blocked request: `easylist`, or `whoknows` for a tracker the proxy learned; absent until one
  is blocked) and `cloaked_behind` (the page site's own host that is a DNS alias of it, e.g.
  `metrics.shop.test`: a CNAME-cloaked request, counted under the site of its canonical name).
- `cookie`: `NAME@SITE` (`sid@vendor.test`, `uid@tracker.test`; a nameless cookie is `@SITE`);
  detail `name`, `site`, `third_party`, `owner`, `mode` (the cookie mode applied),
  `asked_lifetime_seconds` and `granted_lifetime_seconds` (None: a session cookie; <= 0: a deletion;
  granted None also when blocked), counters `blocked` (lines removed) and `shortened` (lifetime cut).
- `parameter`: the parameter name; detail `request_site` (where it was last stripped from).

`snapshot(site)` answers in the shape of `vendor_records.vendor_record(...)["observations"]`, so one
renderer serves live counters and the ledger's history.
"""

from __future__ import annotations

import json
import logging
import sqlite3
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from .batching import LOCK_WAIT_SECONDS, BatchFlusher, PendingTallies, relearn_trackers
from .ledger import Ledger, LedgerBusy, json_text, stamp, vendor_ids
from .tracker_companies import third_party_attribution

logger = logging.getLogger("whoknows.observations")

THIRD_PARTY = "third-party"
COOKIE = "cookie"
PARAMETER = "parameter"
# section name in a snapshot (as in a vendor record) -> observation kind
SECTIONS = {"third_parties": THIRD_PARTY, "cookies": COOKIE, "parameters": PARAMETER}
COUNTER_FIELDS: Mapping[str, tuple[str, ...]] = {
    THIRD_PARTY: ("blocked", "allowed"),
    COOKIE: ("blocked", "shortened"),
    PARAMETER: (),
}

# Sites whose live counters stay in memory (least recently seen go first; the ledger keeps them).
MAX_LIVE_SITES = 1000

Key = tuple[str, str, str]  # (site, kind, subject)


@dataclass(slots=True)  # a value made per request: not frozen, see docs/architecture.md
class CookieSeen:
    """One `Set-Cookie` line as the cookie addon decided it."""

    name: str
    site: str  # the site that set it (the request's site)
    third_party: bool
    asked_lifetime_seconds: int | None
    granted_lifetime_seconds: int | None
    blocked: bool  # the line was removed
    shortened: bool  # the line was rewritten to live shorter
    mode: str  # the cookie mode applied: allow, session, cap:N, block
    owner: str | None = None


def cookie_subject(name: str, site: str) -> str:
    """`NAME@SITE`: one row per cookie name per setting site (split at the last `@`)."""
    return f"{name}@{site}"


class Tally:
    """The counts of one (site, kind, subject): a total, counter fields and the latest details."""

    __slots__ = ("count", "counters", "latest", "first_seen", "last_seen")

    def __init__(self) -> None:
        self.count = 0
        self.counters: dict[str, int] = {}
        self.latest: dict[str, Any] = {}
        self.first_seen = 0.0
        self.last_seen = 0.0

    def add(self, when: float, counters: Mapping[str, int], latest: Mapping[str, Any]) -> None:
        if not self.count:
            self.first_seen = when
        self.count += 1
        self.last_seen = max(self.last_seen, when)
        for name, value in counters.items():
            self.counters[name] = self.counters.get(name, 0) + value
        self.latest.update(latest)

    def merge_older(self, older: "Tally") -> None:
        """Fold in counts recorded before these (a batch that could not be written goes back)."""
        if not older.count:
            return
        self.first_seen = min(self.first_seen, older.first_seen) if self.count else older.first_seen
        self.last_seen = max(self.last_seen, older.last_seen)
        self.count += older.count
        for name, value in older.counters.items():
            self.counters[name] = self.counters.get(name, 0) + value
        self.latest = {**older.latest, **self.latest}

    def detail(self, kind: str) -> dict[str, Any]:
        return {**self.latest, **{name: self.counters.get(name, 0) for name in COUNTER_FIELDS[kind]}}


class Observations:
    """Live, thread-safe counters per first-party site, and the batch not yet in the ledger."""

    def __init__(self, max_sites: int = MAX_LIVE_SITES, clock: Callable[[], float] = time.time) -> None:
        self._lock = threading.Lock()
        self._clock = clock
        self._max_sites = max_sites
        self._live: OrderedDict[str, dict[tuple[str, str], Tally]] = OrderedDict()
        self._pending: PendingTallies[Key, Tally] = PendingTallies(self._lock)
        self.since = clock()

    # -- recording (the request path) ----------------------------------------------------------

    def third_party(self, site: str, third_party_site: str, *, blocked: bool,
                    owner: str | None = None, tracker: bool = False, category: str | None = None,
                    blocked_by: str | None = None, cloaked_behind: str | None = None) -> None:
        """A request from a page of `site` to `third_party_site`, answered by the proxy or let through;
        `owner` its company's name and `category` what it does (the tracker data's), when known;
        `blocked_by` the list whose filter blocked it; `cloaked_behind` the page site's own host it
        was requested as (a CNAME alias of `third_party_site`'s host)."""
        counters = {"blocked": 1} if blocked else {"allowed": 1}
        latest = {"owner": owner, "tracker": tracker}
        # (unknown: left out, so what an older row says is not erased)
        if category is not None:
            latest["category"] = category
        if blocked_by is not None:
            latest["blocked_by"] = blocked_by
        if cloaked_behind is not None:
            latest["cloaked_behind"] = cloaked_behind
        self._record(site, THIRD_PARTY, third_party_site, counters, latest)

    def cookie(self, site: str, seen: CookieSeen) -> None:
        """A `Set-Cookie` line in a response to a request made by a page of `site`."""
        counters = {}
        if seen.blocked:
            counters["blocked"] = 1
        if seen.shortened:
            counters["shortened"] = 1
        latest = {
            "name": seen.name, "site": seen.site, "third_party": seen.third_party, "owner": seen.owner,
            "mode": seen.mode, "asked_lifetime_seconds": seen.asked_lifetime_seconds,
            "granted_lifetime_seconds": seen.granted_lifetime_seconds,
        }
        self._record(site, COOKIE, cookie_subject(seen.name, seen.site), counters, latest)

    def parameter(self, site: str, name: str, request_site: str | None = None) -> None:
        """A tracking parameter stripped from a request made by a page of `site`."""
        self._record(site, PARAMETER, name, {}, {"request_site": request_site})

    def _record(self, site: str, kind: str, subject: str, counters: Mapping[str, int],
                latest: Mapping[str, Any]) -> None:
        when = self._clock()
        with self._lock:
            live = self._live.get(site)
            if live is None:
                live = self._live[site] = {}
                if len(self._live) > self._max_sites:
                    self._live.popitem(last=False)
            else:
                self._live.move_to_end(site)
            # Why (speed only): look up before making a Tally; `setdefault(key, Tally())` built
            # (and threw away) two of them on every event.
            tally = live.get((kind, subject))
            if tally is None:
                tally = live[(kind, subject)] = Tally()
            tally.add(when, counters, latest)
            self._pending.tally_for((site, kind, subject), Tally).add(when, counters, latest)

    # -- reading (any thread) ------------------------------------------------------------------

    def sites(self) -> list[str]:
        """Sites with live counters, most recently seen first."""
        with self._lock:
            return list(reversed(self._live))

    def snapshot(self, site: str, top: int | None = None,
                 learned: Callable[[str], Any] | None = None) -> dict[str, Any]:
        """A site's counters since the proxy started, in the shape of a vendor record's
        `observations`: per section `distinct`, `seen` (events), `blocked`, and `top` entries
        (most frequent first; `top` limits them) with `subject`, `count`, `blocked`,
        `first_seen`, `last_seen` and `detail` (the same fields the ledger keeps).

        Third-party entries tell blocked from allowed requests (`detail.blocked`/`detail.allowed`),
        and carry `company` and `category` (`tracker_companies.third_party_attribution`) and
        `learned` (`learned_status`: asked of `learned(domain)` now, e.g. the proxy's
        `LearnedTrackers.get`); cookie entries the lifetimes asked and granted.
        An unknown site has empty sections."""
        with self._lock:
            items = [(kind, subject, tally.count, tally.first_seen, tally.last_seen, tally.detail(kind))
                     for (kind, subject), tally in self._live.get(site, {}).items()]
        sections = {}
        for section, kind in SECTIONS.items():
            rows = sorted((i for i in items if i[0] == kind), key=lambda i: (-i[2], i[1]))
            entries = [{"subject": subject, "count": count, "blocked": detail.get("blocked"),
                        "first_seen": stamp(first), "last_seen": stamp(last), "detail": detail,
                        **(_third_party_fields(subject, detail, learned) if kind == THIRD_PARTY else {})}
                       for _, subject, count, first, last, detail in rows]
            sections[section] = {
                "distinct": len(rows),
                "seen": sum(row[2] for row in rows),
                "blocked": sum(row[5].get("blocked", 0) for row in rows),
                "top": entries if top is None else entries[:top],
            }
        return {"site": site, "since": stamp(self.since), **sections}

    # -- the batch for the ledger ---------------------------------------------------------------

    def pending_count(self) -> int:
        """Rows waiting to be written."""
        return self._pending.pending_count()

    def pending_events(self) -> int:
        """Events (requests, cookies, parameters) waiting to be written."""
        return sum(tally.count for tally in self._pending.tallies())

    def take(self) -> dict[Key, Tally]:
        """Everything recorded since the last take; the caller writes it or gives it back."""
        return self._pending.take()

    def give_back(self, batch: Mapping[Key, Tally]) -> None:
        """Return a batch that could not be written: its counts join whatever came in since."""
        self._pending.give_back(batch)


def learned_status(tracker: Any) -> dict | None:
    """What a third party's entry says of it as a learned tracker (`LearnedTracker.status`), None
    when it is not one. One shape for the live counters and the vendor record."""
    return None if tracker is None else tracker.status()


def _third_party_fields(subject: str, detail: Mapping, learned: Callable[[str], Any] | None) -> dict[str, Any]:
    return {**third_party_attribution(subject, detail),
            "learned": learned_status(learned(subject)) if learned is not None else None}


# --- the ledger ---------------------------------------------------------------------------------------


_UPSERT = """
    INSERT INTO observations (vendor_id, kind, subject, detail, count, first_seen, last_seen)
    VALUES (?, ?, ?, ?, ?, ?, ?)
    ON CONFLICT(vendor_id, kind, subject) DO UPDATE SET
        count = count + excluded.count,
        first_seen = min(first_seen, excluded.first_seen),
        last_seen = max(last_seen, excluded.last_seen),
        detail = excluded.detail
"""


def write_batch(ledger: Ledger, batch: Mapping[Key, Tally], lock_wait: float = LOCK_WAIT_SECONDS) -> int:
    """Add a batch to the ledger in one transaction; returns the rows written.

    Raises LedgerBusy when the write lock is not free within `lock_wait` seconds (nothing is
    written then). Vendors are created for sites the ledger does not know yet."""
    if not batch:
        return 0
    with ledger.batch_write(lock_wait) as db:
        ids = vendor_ids(db, {site for site, _, _ in batch})
        for (site, kind, subject), tally in batch.items():
            detail = _merged_detail(db, ids[site], kind, subject, tally)
            db.execute(_UPSERT, (ids[site], kind, subject, json_text(detail), tally.count,
                                 stamp(tally.first_seen), stamp(tally.last_seen)))
    return len(batch)


def _merged_detail(db: sqlite3.Connection, vendor_id: int, kind: str, subject: str,
                   tally: Tally) -> dict[str, Any]:
    """The row's detail after this batch: counter fields add up; of the other fields, those seen
    last win (another process may have written the row with later ones)."""
    fresh = tally.detail(kind)
    row = db.execute("SELECT detail, last_seen FROM observations WHERE vendor_id = ? AND kind = ? "
                     "AND subject = ?", (vendor_id, kind, subject)).fetchone()
    stored = _json_object(row[0]) if row is not None else {}
    counters = COUNTER_FIELDS[kind]
    for name in counters:
        fresh[name] += _event_count(stored.get(name))
    if row is not None and row[1] > stamp(tally.last_seen):
        return {**fresh, **{key: value for key, value in stored.items() if key not in counters}}
    return {**stored, **fresh}


def _json_object(text: str | None) -> dict[str, Any]:
    try:
        value = json.loads(text) if text is not None else None
    except ValueError:
        return {}
    return value if isinstance(value, dict) else {}


def _event_count(value: Any) -> int:
    """A stored counter field; a bare true/false (as other writers may store) is one event or none."""
    if isinstance(value, bool):
        return int(value)
    return value if isinstance(value, int) and value > 0 else 0


class Flusher(BatchFlusher):
    """Writes an `Observations`' pending counts to the ledger on a background thread
    (`batching.BatchFlusher`: every `interval` seconds, and patiently once more at `stop()`)."""

    what = "observations"
    thread_name = "whoknows-observations"
    logger = logger

    recorder: Observations

    def write(self, ledger: Ledger, batch: Mapping[Key, Tally]) -> int:
        return write_batch(ledger, batch, self.lock_wait)

    def after_write(self, ledger: Ledger, batch: Mapping[Key, Tally]) -> None:
        # the cookies third parties set may teach a learned tracker (subject NAME@SITE)
        relearn_trackers(ledger, {subject.rpartition("@")[2] for _, kind, subject in batch if kind == COOKIE},
                         self.lock_wait)

    def unwritten(self) -> str:
        events, rows = self.recorder.pending_events(), self.recorder.pending_count()
        return f"{events} observations ({rows} ledger rows)"

    def report_failure(self, exc: Exception) -> None:
        level = logging.INFO if isinstance(exc, LedgerBusy) else logging.WARNING
        self.logger.log(level, f"whoknows: observations not written to the ledger yet ({exc}); "
                               "they are kept and written at the next flush")

    def report_recovery(self) -> None:
        self.logger.warning("whoknows: observations are written to the ledger again")
