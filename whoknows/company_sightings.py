"""What each tracker company saw of you: recorded by the proxy, kept as daily aggregates.

The one writer of the ledger's `company_sightings` and `company_identifiers` tables (issue 12).
A third-party request whose host the shipped tracker data attributes to a company
(`tracker_companies.tracker_domain`) is counted per (page site, company, tracker domain, UTC day),
blocked or reached, with the page site's own host it went through when that host is a DNS alias
(CNAME) of the tracker's (`cloaked_behind`: "behind metrics.shop.example (CNAME)"); what the company got to hold is kept per (page site, company, domain,
identifier) with its first and last day:

- `cookie`: the name of a cookie it tried to set (a `Set-Cookie` line in its response, kept or
  removed by the proxy; `qualifier` ""), or that the browser sent it (its `Cookie` header as it
  left, after the proxy's cookie rules; `qualifier` "sent"). Never the value: a cookie's value is an identifier of you, personal data,
  and whoknows keeps none of it (the name, the company, the sites and the dates are enough for a
  company to find the profile when asked, see `whoknows request`);
- `value`: one of your own values or aliases it was sent (the leak scanner's match), by the same
  masked reference as `leaks`; `qualifier` is "KIND ENCODING" ("email sha256");
- `page`: a page URL it learned, from the Referer header that left or from a parameter holding the
  page's address (`dl=`, `url=`...), redacted as leak evidence is (`leakscan.redact_url`: no
  parameter values, data-like path segments masked); `qualifier` is "referer" or "parameter".

Only what reached the company counts as held: a blocked request adds to `blocked` and nothing else.

Recording follows `observations` (both use `batching`): `CompanySightings` updates an in-memory
batch under a lock on the request path (no SQLite), `SightingsFlusher` writes it on its own thread
every few seconds and at shutdown, and a locked ledger delays a batch without losing it. A year
of browsing stays small: a row per site, company, domain and day, not per request.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from urllib.parse import parse_qsl, urlsplit

from .batching import LOCK_WAIT_SECONDS, BatchFlusher, PendingTallies
from .ledger import COMPANY_IDENTIFIER_KINDS, Ledger, LedgerBusy, vendor_ids
from .leakscan import redact_url
from .tracker_companies import TrackerDomain, tracker_domain

logger = logging.getLogger("whoknows.companies")

COOKIE, VALUE, PAGE = COMPANY_IDENTIFIER_KINDS
COOKIE_SET, COOKIE_SENT = "", "sent"  # a cookie's qualifier: it tried to set it / the browser sent it
# Page URLs a company may add per page site in the ledger: the first ones tell the story, a
# thousand article URLs add nothing to it (and would grow the ledger without bound).
MAX_PAGES_PER_SITE = 50
# A query parameter value longer than this is not read as a page address (a blob, not a URL).
MAX_PARAMETER_URL = 2048

SightingKey = tuple[str, str, str, str]  # (page site, company id, tracker domain, day)
IdentifierKey = tuple[str, str, str, str, str, str]  # (page site, company, domain, kind, name, qualifier)


@dataclass(slots=True)
class Counts:
    blocked: int = 0
    reached: int = 0
    cloaked_behind: str | None = None  # the page site's own host it was reached through (CNAME)

    def merge_older(self, older: "Counts") -> None:
        self.blocked += older.blocked
        self.reached += older.reached
        if self.cloaked_behind is None:
            self.cloaked_behind = older.cloaked_behind


@dataclass(slots=True)
class Held:
    """How often an identifier was seen in a batch, and on which days."""

    count: int
    first_day: str
    last_day: str

    def add(self, day: str, count: int = 1) -> None:
        self.count += count
        self.first_day = min(self.first_day, day)
        self.last_day = max(self.last_day, day)

    def merge_older(self, older: "Held") -> None:
        self.add(older.first_day, older.count)
        self.add(older.last_day, 0)


@dataclass
class Batch:
    sightings: dict[SightingKey, Counts] = field(default_factory=dict)
    identifiers: dict[IdentifierKey, Held] = field(default_factory=dict)

    def __bool__(self) -> bool:
        return bool(self.sightings or self.identifiers)

    def __len__(self) -> int:
        return len(self.sightings) + len(self.identifiers)


def utc_day(moment: float) -> str:
    # Why (speed only): every third-party request asks; strftime costs ~2 us, the day rarely changes.
    global _last_day
    day, text = _last_day  # one tuple: threads never see one day's number with another's text
    if moment // 86400 != day:
        text = time.strftime("%Y-%m-%d", time.gmtime(moment))
        _last_day = (moment // 86400, text)
    return text


_last_day: tuple[float | None, str] = (None, "")  # (days since the epoch, that day as utc_day writes it)


def pages_learned(url: str, referer: str | None, page_site: str,
                  site_of: Callable[[str], str | None]) -> list[tuple[str, str]]:
    """The page URLs a request tells its recipient: [(redacted URL, "referer" | "parameter")].

    The Referer as it left (after the proxy trimmed it), and query parameter values that are
    http(s) URLs of `page_site` (how analytics tags report the page: `dl=`, `url=`, `u=`).
    `site_of(host)` gives a host's site (`sites.site_of` in the proxy)."""
    found: list[tuple[str, str]] = []
    if referer:
        found.append((redact_url(referer), "referer"))
    query = url.partition("?")[2].partition("#")[0]
    if "http" in query:  # cheap test first: most tracker URLs carry no address at all
        for _, value in parse_qsl(query, keep_blank_values=False):
            if value[:4] != "http" or len(value) > MAX_PARAMETER_URL:
                continue
            try:
                host = urlsplit(value).hostname
            except ValueError:
                continue
            if host and site_of(host) == page_site:
                found.append((redact_url(value), "parameter"))
    return found


class CompanySightings:
    """The batch not yet in the ledger (thread-safe); every method is cheap (the request path)."""

    def __init__(self, clock: Callable[[], float] = time.time,
                 attribute: Callable[[str], TrackerDomain | None] = tracker_domain) -> None:
        # Re-entrant: `take` and `give_back` hold it around both tallies' own (one batch, whole).
        self._lock = threading.RLock()
        self._clock = clock
        self._attribute = attribute
        self._sightings: PendingTallies[SightingKey, Counts] = PendingTallies(self._lock)
        self._identifiers: PendingTallies[IdentifierKey, Held] = PendingTallies(self._lock)

    def company_of(self, host: str) -> TrackerDomain | None:
        return self._attribute(host)

    def request(self, page_site: str, host: str, *, blocked: bool,
                pages: Iterable[tuple[str, str]] = (), cloaked_behind: str | None = None) -> TrackerDomain | None:
        """A request from a page of `page_site` to `host`; `pages` what it learned (`pages_learned`);
        `cloaked_behind`: the page site's own host the request went to, when `host` is its canonical
        name (CNAME cloaking). Returns the company's entry, None (nothing recorded) when no company
        is known for `host`."""
        entry = self._attribute(host)
        if entry is None:
            return None
        day = utc_day(self._clock())
        key = (page_site, entry.company.id, entry.domain, day)
        with self._lock:
            counts = self._sightings.tally_for(key, Counts)
            if cloaked_behind is not None:
                counts.cloaked_behind = cloaked_behind
            if blocked:
                counts.blocked += 1
                return entry
            counts.reached += 1
            for url, how in pages:
                self._hold(page_site, entry, PAGE, url, how, day)
        return entry

    def cookies(self, page_site: str, host: str, names: Iterable[str], *, sent: bool = False) -> None:
        """Cookies a response from `host` tried to set on a page of `page_site` (by name), or with
        `sent`, cookies the browser sent to `host` from such a page."""
        entry = self._attribute(host)
        if entry is None:
            return
        day = utc_day(self._clock())
        qualifier = COOKIE_SENT if sent else COOKIE_SET
        with self._lock:
            for name in names:
                self._hold(page_site, entry, COOKIE, name, qualifier, day)

    def values(self, page_site: str, host: str, found: Iterable[tuple[str, str, str]]) -> None:
        """Your values a request to `host` carried: [(kind, reference, encoding)]."""
        entry = self._attribute(host)
        if entry is None:
            return
        day = utc_day(self._clock())
        with self._lock:
            for kind, ref, encoding in found:
                self._hold(page_site, entry, VALUE, ref, f"{kind} {encoding}", day)

    def _hold(self, page_site: str, entry: TrackerDomain, kind: str, name: str, qualifier: str, day: str) -> None:
        key = (page_site, entry.company.id, entry.domain, kind, name, qualifier)
        self._identifiers.tally_for(key, lambda: Held(0, day, day)).add(day)

    # -- the batch for the ledger ---------------------------------------------------------------

    def pending_count(self) -> int:
        with self._lock:
            return self._sightings.pending_count() + self._identifiers.pending_count()

    def take(self) -> Batch:
        with self._lock:
            return Batch(sightings=self._sightings.take(), identifiers=self._identifiers.take())

    def give_back(self, batch: Batch) -> None:
        """A batch that could not be written: its counts join whatever came in since."""
        with self._lock:
            self._sightings.give_back(batch.sightings)
            self._identifiers.give_back(batch.identifiers)


# -- the ledger --------------------------------------------------------------------------------

_SIGHTING_UPSERT = """
    INSERT INTO company_sightings (vendor_id, company, domain, day, blocked, reached, cloaked_behind)
    VALUES (?, ?, ?, ?, ?, ?, ?)
    ON CONFLICT (company, vendor_id, domain, day) DO UPDATE SET
        blocked = blocked + excluded.blocked,
        reached = reached + excluded.reached,
        cloaked_behind = coalesce(excluded.cloaked_behind, cloaked_behind)
"""
_IDENTIFIER_UPDATE = """
    UPDATE company_identifiers SET count = count + ?, first_day = min(first_day, ?),
        last_day = max(last_day, ?)
    WHERE company = ? AND vendor_id = ? AND domain = ? AND kind = ? AND name = ? AND qualifier = ?
"""
_IDENTIFIER_INSERT = """
    INSERT INTO company_identifiers (vendor_id, company, domain, kind, name, qualifier, count, first_day, last_day)
    VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)
"""


def write_batch(ledger: Ledger, batch: Batch, lock_wait: float = LOCK_WAIT_SECONDS) -> int:
    """Add a batch to the ledger in one transaction; returns the rows written. LedgerBusy when
    the write lock is not free within `lock_wait` seconds (nothing is written then)."""
    if not batch:
        return 0
    written = 0
    with ledger.batch_write(lock_wait) as db:
        ids = vendor_ids(db, {key[0] for key in batch.sightings} | {key[0] for key in batch.identifiers})
        db.executemany(_SIGHTING_UPSERT, [(ids[site], company, domain, day, counts.blocked, counts.reached,
                                           counts.cloaked_behind)
                                          for (site, company, domain, day), counts in batch.sightings.items()])
        written += len(batch.sightings)
        pages_room: dict[tuple[int, str], int] = {}
        for (site, company, domain, kind, name, qualifier), held in batch.identifiers.items():
            vendor_id = ids[site]
            if db.execute(_IDENTIFIER_UPDATE, (held.count, held.first_day, held.last_day, company, vendor_id,
                                               domain, kind, name, qualifier)).rowcount:
                written += 1
                continue
            if kind == PAGE:
                room = pages_room.get((vendor_id, company))
                if room is None:
                    stored = db.execute("SELECT count(*) FROM company_identifiers WHERE company = ? AND "
                                        "vendor_id = ? AND kind = 'page'", (company, vendor_id)).fetchone()[0]
                    room = MAX_PAGES_PER_SITE - stored
                if room <= 0:
                    continue
                pages_room[(vendor_id, company)] = room - 1
            db.execute(_IDENTIFIER_INSERT, (vendor_id, company, domain, kind, name, qualifier, held.count,
                                            held.first_day, held.last_day))
            written += 1
    return written


class SightingsFlusher(BatchFlusher):
    """Writes `CompanySightings`' batch to the ledger on a background thread (`batching.BatchFlusher`)."""

    what = "company sightings"
    thread_name = "whoknows-companies"
    logger = logger

    recorder: CompanySightings

    def write(self, ledger: Ledger, batch: Batch) -> int:
        return write_batch(ledger, batch, self.lock_wait)

    def unwritten(self) -> str:
        return f"{self.recorder.pending_count()} company sightings"

    def report_failure(self, exc: Exception) -> None:
        level = logging.INFO if isinstance(exc, LedgerBusy) else logging.WARNING
        self.logger.log(level, f"whoknows: company sightings not written to the ledger yet ({exc}); "
                               "they are kept and written at the next flush")


__all__ = [
    "COOKIE", "COOKIE_SENT", "COOKIE_SET", "CompanySightings", "MAX_PAGES_PER_SITE", "PAGE", "SightingsFlusher",
    "VALUE", "pages_learned", "utc_day", "write_batch",
]
