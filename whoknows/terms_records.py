"""Which vendors were offered the person's terms, since when, and which agreed: the `terms_offers` table.

One row per (vendor, term, version): when the proxy first and last proffered the term on a request
made by the vendor's pages, and when the vendor first signalled agreement (`agreed_on`) and how
(`agreed_by`: its `Personal-Terms-Agreed` response header, or its `/.well-known/personal-terms`
file fetched by the browser; `whoknows.personal_terms`). The vendor is the page's site: the terms
go with every request a page makes, third-party ones included, but only the page's own site can
agree for itself (a tracker's agreement binds the tracker, not the shop).

Written as observations and leaks are (`whoknows.batching`): the request path updates an in-memory
batch under a lock (`PendingOffers`); `OffersFlusher` writes it on its own thread every few seconds
and once more at shutdown; a locked ledger delays a batch, never loses it. This module is the
table's one writer (`transfer.py`'s import aside).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import date

from .batching import LOCK_WAIT_SECONDS, BatchFlusher, PendingTallies
from .ledger import Ledger, stamp, vendor_ids
from .personal_terms import WELL_KNOWN_PATH, Term

logger = logging.getLogger("whoknows.terms")

Key = tuple[str, str, int]  # (vendor site, term id, version)


@dataclass
class OfferTally:
    first: float
    last: float
    agreed: float | None = None
    agreed_by: str | None = None

    def merge_older(self, older: "OfferTally") -> None:
        self.first = min(self.first, older.first)
        self.last = max(self.last, older.last)
        if older.agreed is not None and (self.agreed is None or older.agreed <= self.agreed):
            self.agreed, self.agreed_by = older.agreed, older.agreed_by


class PendingOffers(PendingTallies[Key, OfferTally]):
    """The batch not yet in the ledger (thread-safe; each call is a few dict updates)."""

    def __init__(self, clock: Callable[[], float] = time.time) -> None:
        super().__init__()
        self._clock = clock

    def offered(self, site: str, terms: Iterable[Term]) -> None:
        when = self._clock()
        with self.lock:
            for term in terms:
                self.tally_for((site, term.id, term.version), lambda: OfferTally(when, when)).last = when

    def agreed(self, site: str, terms: Iterable[Term], by: str) -> None:
        """`site` signalled agreement to `terms` (offered to it on this very request)."""
        when = self._clock()
        with self.lock:
            for term in terms:
                tally = self.tally_for((site, term.id, term.version), lambda: OfferTally(when, when))
                if tally.agreed is None:
                    tally.agreed, tally.agreed_by = when, by


_UPSERT = """
    INSERT INTO terms_offers (vendor_id, term, version, first_offered, last_offered, agreed_on, agreed_by)
    VALUES (:vendor_id, :term, :version, :first_offered, :last_offered, :agreed_on, :agreed_by)
    ON CONFLICT (vendor_id, term, version) DO UPDATE SET
        first_offered = min(first_offered, excluded.first_offered),
        last_offered = max(last_offered, excluded.last_offered),
        agreed_by = CASE WHEN agreed_on IS NULL OR excluded.agreed_on < agreed_on
                         THEN coalesce(excluded.agreed_by, agreed_by) ELSE agreed_by END,
        agreed_on = CASE WHEN agreed_on IS NULL OR excluded.agreed_on < agreed_on
                         THEN coalesce(excluded.agreed_on, agreed_on) ELSE agreed_on END
"""


def write_batch(ledger: Ledger, batch: Mapping[Key, OfferTally], lock_wait: float = LOCK_WAIT_SECONDS) -> int:
    """Write a batch in one transaction; LedgerBusy (nothing written) when the ledger stays locked."""
    if not batch:
        return 0
    with ledger.batch_write(lock_wait) as db:
        ids = vendor_ids(db, {site for site, _, _ in batch})
        db.executemany(_UPSERT, (
            {"vendor_id": ids[site], "term": term, "version": version, "first_offered": stamp(tally.first),
             "last_offered": stamp(tally.last),
             "agreed_on": stamp(tally.agreed) if tally.agreed is not None else None, "agreed_by": tally.agreed_by}
            for (site, term, version), tally in batch.items()))
    return len(batch)


class OffersFlusher(BatchFlusher):
    """Writes `PendingOffers` to the ledger on a background thread (`batching.BatchFlusher`)."""

    what = "personal-terms offers"
    thread_name = "whoknows-terms"
    logger = logger

    recorder: PendingOffers

    def write(self, ledger: Ledger, batch: Mapping[Key, OfferTally]) -> int:
        return write_batch(ledger, batch, self.lock_wait)

    def unwritten(self) -> str:
        return f"{self.recorder.pending_count()} personal-terms offers"


# -- reading -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class TermsOffer:
    """One term as offered to one vendor: since when, and whether (when, how) it agreed."""

    vendor: str
    term: str
    version: int
    first_offered: str  # ledger timestamps
    last_offered: str
    agreed_on: str | None
    agreed_by: str | None

    @property
    def offered_since(self) -> date:
        return date.fromisoformat(self.first_offered[:10])

    @property
    def agreed_day(self) -> date | None:
        return date.fromisoformat(self.agreed_on[:10]) if self.agreed_on else None

    def to_json(self) -> dict:
        return {"term": self.term, "version": self.version, "first_offered": self.first_offered,
                "last_offered": self.last_offered, "agreed_on": self.agreed_on, "agreed_by": self.agreed_by}

    def describe(self) -> str:
        """`offered our terms (nostalking/1) since 2026-03-01; agreed: never` (or `on 2026-03-02 (by
        its response header)`)."""
        how = {"header": "by its response header", "well-known": f"by its {WELL_KNOWN_PATH}"}
        agreed = f"on {self.agreed_on[:10]} ({how[self.agreed_by]})" if self.agreed_on else "never"
        return f"offered our terms ({self.term}/{self.version}) since {self.first_offered[:10]}; agreed: {agreed}"


def offers_to(ledger: Ledger, domain: str) -> list[TermsOffer]:
    """The terms offered to one vendor, earliest first."""
    rows = ledger.query(
        "SELECT v.domain, o.term, o.version, o.first_offered, o.last_offered, o.agreed_on, o.agreed_by "
        "FROM terms_offers AS o JOIN vendors AS v ON v.id = o.vendor_id WHERE v.domain = ? "
        "ORDER BY o.first_offered, o.term, o.version", (domain,))
    return [TermsOffer(*row) for row in rows]


def earliest_offer(ledger: Ledger, domain: str) -> TermsOffer | None:
    """The first term offered to a vendor (what letters and findings cite), or None."""
    offers = offers_to(ledger, domain)
    return offers[0] if offers else None


def site_terms(ledger: Ledger, domain: str) -> list[dict]:
    """The terms the person proffers now, each with what `domain` did about it: since when the
    proxy offered it there (None: not yet in the ledger) and when and how it agreed (None: it has
    not). What the extension's popup shows (`GET /api/v1/site` `terms`)."""
    from .personal_terms import proffered, term_url

    offers = {(offer.term, offer.version): offer for offer in offers_to(ledger, domain)}
    shown = []
    for term in proffered(ledger):
        offer = offers.get((term.id, term.version))
        shown.append({"term": term.id, "version": term.version, "title": term.title.get("en") or term.id,
                      "url": term_url(term), "offered_since": offer.first_offered if offer else None,
                      "agreed_on": offer.agreed_on if offer else None, "agreed_by": offer.agreed_by if offer else None})
    return shown


def tallies(ledger: Ledger) -> dict[str, dict[str, int]]:
    """Per term version (`nostalking/1`): how many vendors were offered it, and how many agreed."""
    rows = ledger.query("SELECT term, version, count(*), count(agreed_on) FROM terms_offers GROUP BY term, version")
    return {f"{term}/{version}": {"vendors_offered": offered, "vendors_agreed": agreed}
            for term, version, offered, agreed in rows}


__all__ = ["OffersFlusher", "PendingOffers", "TermsOffer", "earliest_offer", "offers_to", "site_terms", "tallies",
           "write_batch"]
