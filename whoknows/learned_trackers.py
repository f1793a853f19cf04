"""Learned trackers: a third party seen receiving identifying data on several of your sites.

Privacy Badger's idea, in the proxy. A third-party site (registrable domain, `whoknows.sites`) that
receives identifying data on `THRESHOLD` (3) or more distinct first-party sites becomes a learned
tracker everywhere: blocked on every other site's pages (the decision's filter part, list
`whoknows`), its cookies kept from it both ways and no Referer sent to it. The evidence, by kind
(`EVIDENCE_KINDS`), is what the ledger already records, never a write per request:
- `cookie`: it set a cookie as a third party on the site's pages (the `observations` table's
  `cookie` rows with `third_party`; the proxy removed the line, but it tried);
- `identifier`: the site's pages handed it one of the site's first-party ids (`shared_identifiers`);
- `value`: the site's pages sent it one of your values or aliases, stopped or not (`leaks`).

`relearn(ledger)` derives the list from those tables and writes what changed to the ledger's
`learned_trackers` table (this module is its one writer); the proxy's batched writers call it after
each flush (`whoknows.batching.BatchFlusher.after_write`), so the list follows what was seen within
a flush interval. The user decides the rest:
- `allow(domain)`: let it in (`whoknows trackers allow`): it loads, still without cookies or
  Referer; also before it is learned. The per-site `whoknows site allow-3p` lets it in on one site
  with its cookies, as for any third party.
- `forget(domain)`: unlearn it; evidence seen before now no longer counts, so it is learned again
  only from three sites seen anew.

`LearnedTrackers` is the in-memory list the decision reads (`whoknows.decision.TrackerKnowledge`):
a request to a learned domain from another site's page is blocked ("learned: seen tracking on
a.test, b.test, c.test"); from the domain's own pages (a first-party visit) nothing changes.
`filter_list(rows)` writes the list as an Adblock Plus filter list (`||domain^$third-party`) that
any blocker reads.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from .errors import InputError
from .ledger import Ledger, json_text, now
from .sites import normalise_vendor

THRESHOLD = 3
EVIDENCE_KINDS = ("cookie", "identifier", "value")
STATES = ("learned", "allowed", "forgotten")
LEARNED, ALLOWED, FORGOTTEN = STATES

# (page site, third-party site, evidence kind, last seen) from each aggregate the proxy writes;
# {only} narrows each to some third parties (a JSON list bound as :domains), through an index.
_EVIDENCE_SQL = """
SELECT v.domain, json_extract(o.detail, '$.site'), 'cookie', o.last_seen
  FROM observations AS o JOIN vendors AS v ON v.id = o.vendor_id
 WHERE o.kind = 'cookie' AND json_extract(o.detail, '$.third_party') = 1
       {only_cookie}
UNION ALL
SELECT v.domain, s.recipient_site, 'identifier', s.last_seen
  FROM shared_identifiers AS s JOIN vendors AS v ON v.id = s.vendor_id
 {only_identifier}
UNION ALL
SELECT v.domain, r.domain, 'value', l.last_seen
  FROM leaks AS l JOIN vendors AS v ON v.id = l.vendor_id JOIN vendors AS r ON r.id = l.recipient_id
 {only_value}
"""
_ALL = _EVIDENCE_SQL.format(only_cookie="", only_identifier="", only_value="")
_SOME = _EVIDENCE_SQL.format(
    only_cookie="AND json_extract(o.detail, '$.site') IN (SELECT value FROM json_each(:domains))",
    only_identifier="WHERE s.recipient_site IN (SELECT value FROM json_each(:domains))",
    only_value="WHERE r.domain IN (SELECT value FROM json_each(:domains))")


@dataclass(frozen=True, slots=True)
class LearnedTracker:
    domain: str
    state: str
    sites: tuple[str, ...]
    evidence: tuple[str, ...]
    learned_at: str | None
    changed_at: str
    forgotten_at: str | None = None

    def to_json(self) -> dict:
        return {"domain": self.domain, "state": self.state, "sites": list(self.sites),
                "evidence": list(self.evidence), "learned_at": self.learned_at,
                "changed_at": self.changed_at, "forgotten_at": self.forgotten_at}

    def status(self) -> dict:
        """What a view of a third party says of it (the control API, `vendor show`): its state
        ("learned": blocked on every site but its own; "allowed": let in, without cookies or
        Referer) and the sites it was seen tracking on."""
        return {"state": self.state, "sites": list(self.sites)}



def _row(row) -> LearnedTracker:
    return LearnedTracker(row["domain"], row["state"], tuple(json.loads(row["sites"])),
                          tuple(json.loads(row["evidence"])), row["learned_at"], row["changed_at"],
                          row["forgotten_at"])


def list_trackers(ledger: Ledger, states: Iterable[str] = STATES,
                  domains: Iterable[str] | None = None) -> list[LearnedTracker]:
    """The learned (and allowed, forgotten) trackers, by domain (only `domains`, when given)."""
    wanted = set(states)
    columns = "domain, state, sites, evidence, learned_at, changed_at, forgotten_at"
    if domains is None:
        rows = ledger.query(f"SELECT {columns} FROM learned_trackers ORDER BY domain")
    else:
        rows = ledger.query(f"SELECT {columns} FROM learned_trackers WHERE domain IN "
                            "(SELECT value FROM json_each(?)) ORDER BY domain", (json_text(sorted(domains)),))
    return [tracker for tracker in map(_row, rows) if tracker.state in wanted]


def evidence(ledger: Ledger, domains: Iterable[str] | None = None) -> dict[str, dict[str, set[str]]]:
    """What the ledger records of each third party: {domain: {page site: {evidence kinds}}}, counting
    only evidence last seen after the domain was forgotten, and none from a site that lets it in
    (`whoknows site allow-3p SITE DOMAIN`: a login or payment provider you chose there teaches
    nothing). `domains`: only these third parties."""
    forgotten = {row[0]: row[1] for row in ledger.query(
        "SELECT domain, forgotten_at FROM learned_trackers WHERE forgotten_at IS NOT NULL")}
    let_in = {(row[0], row[1]) for row in ledger.query(
        "SELECT v.domain, t.third_party FROM site_third_parties AS t JOIN vendors AS v ON v.id = t.vendor_id")}
    found: dict[str, dict[str, set[str]]] = {}
    rows = (ledger.query(_ALL) if domains is None
            else ledger.query(_SOME, {"domains": json_text(sorted(domains))}))
    for page, domain, kind, last_seen in rows:
        if not domain or not page or domain == page or (page, domain) in let_in:
            continue
        since = forgotten.get(domain)
        if since is not None and (last_seen or "") <= since:
            continue
        found.setdefault(domain, {}).setdefault(page, set()).add(kind)
    return found


def relearn(ledger: Ledger, threshold: int = THRESHOLD, lock_wait: float | None = None,
            domains: Iterable[str] | None = None) -> list[str]:
    """Derive the learned trackers from the ledger's aggregates and write what changed. Returns the
    domains newly learned. Learning never unlearns: only `forget` does (a vendor deleted with its
    records leaves the list as it was). `lock_wait`: a background writer's short wait for the write
    lock (`Ledger.batch_write`; LedgerBusy after it), else the CLI's patient one. `domains`: judge
    only these third parties again (a flush passes those its batch touched), else all."""
    domains = None if domains is None else set(domains)
    seen = {domain: pages for domain, pages in evidence(ledger, domains).items() if len(pages) >= threshold}
    if not seen:
        return []
    current = {t.domain: t for t in list_trackers(ledger, domains=seen)}
    learned, changes = [], []
    for domain, pages in sorted(seen.items()):
        sites = tuple(sorted(pages))
        kinds = tuple(kind for kind in EVIDENCE_KINDS if any(kind in k for k in pages.values()))
        known = current.get(domain)
        if known is None or known.state == FORGOTTEN:
            learned.append(domain)
            changes.append((domain, LEARNED, sites, kinds, True))
        elif known.sites != sites or known.evidence != kinds:
            changes.append((domain, known.state, sites, kinds, False))
    if not changes:
        return []
    moment = now()
    with (ledger.write() if lock_wait is None else ledger.batch_write(lock_wait)) as db:
        for domain, state, sites, kinds, newly in changes:
            if newly:
                db.execute(
                    "INSERT INTO learned_trackers (domain, state, sites, evidence, learned_at, changed_at, forgotten_at) "
                    "VALUES (?, ?, ?, ?, ?, ?, NULL) ON CONFLICT (domain) DO UPDATE SET state = excluded.state, "
                    "sites = excluded.sites, evidence = excluded.evidence, learned_at = excluded.learned_at, "
                    "changed_at = excluded.changed_at",
                    (domain, state, json_text(list(sites)), json_text(list(kinds)), moment, moment))
            else:
                db.execute("UPDATE learned_trackers SET sites = ?, evidence = ? WHERE domain = ?",
                           (json_text(list(sites)), json_text(list(kinds)), domain))
    return learned


def _domain(text: str) -> str:
    return normalise_vendor(text)  # InputError for what is not a domain


def allow(ledger: Ledger, domain: str) -> tuple[str, bool]:
    """Let `domain` in everywhere (it loads, without cookies or Referer); also before it is
    learned. Returns the domain and whether anything changed."""
    domain = _domain(domain)
    moment = now()
    with ledger.write() as db:
        row = db.execute("SELECT state FROM learned_trackers WHERE domain = ?", (domain,)).fetchone()
        if row is not None and row[0] == ALLOWED:
            return domain, False
        db.execute("INSERT INTO learned_trackers (domain, state, changed_at) VALUES (?, 'allowed', ?) "
                   "ON CONFLICT (domain) DO UPDATE SET state = 'allowed', changed_at = excluded.changed_at",
                   (domain, moment))
    return domain, True


def forget(ledger: Ledger, domain: str) -> LearnedTracker:
    """Unlearn `domain` (and take back an allow): only evidence seen from now on teaches it again.
    Returns what was forgotten; InputError if whoknows never learned or allowed it."""
    domain = _domain(domain)
    moment = now()
    with ledger.write() as db:
        row = db.execute("SELECT domain, state, sites, evidence, learned_at, changed_at, forgotten_at "
                         "FROM learned_trackers WHERE domain = ?", (domain,)).fetchone()
        if row is None or row["state"] == FORGOTTEN:
            raise InputError(f"{domain} is not a learned tracker (see 'whoknows trackers')")
        db.execute("UPDATE learned_trackers SET state = 'forgotten', sites = '[]', evidence = '[]', "
                   "changed_at = ?, forgotten_at = ? WHERE domain = ?", (moment, moment, domain))
    return _row(row)


def filter_list(trackers: Iterable[LearnedTracker]) -> str:
    """The learned (not allowed) trackers as an Adblock Plus filter list."""
    lines = ["[Adblock Plus 2.0]", "! Title: whoknows learned trackers",
             "! Third parties whoknows saw receiving identifying data on 3 or more of your sites"]
    lines += [f"||{t.domain}^$third-party" for t in trackers if t.state == LEARNED]
    return "\n".join(lines) + "\n"


def describe(state: str, sites: Iterable[str]) -> str:
    """A learned tracker in one line (`vendor show`, `company show`): "learned tracker, seen
    tracking on a.test, b.test, c.test: blocked on every site but its own" (or "...: let in by
    you ('whoknows trackers allow'), without cookies or Referer")."""
    what = ("let in by you ('whoknows trackers allow'), without cookies or Referer" if state == ALLOWED
            else "blocked on every site but its own")
    sites = list(sites)
    seen = f", seen tracking on {seen_on(sites)}" if sites else ""
    return f"learned tracker{seen}: {what}"


def seen_on(sites: Iterable[str], shown: int = 5) -> str:
    sites = list(sites)
    more = f" and {len(sites) - shown} more" if len(sites) > shown else ""
    return ", ".join(sites[:shown]) + more


class LearnedTrackers:
    """The learned list in memory, as the decision reads it (`whoknows.decision.TrackerKnowledge`).

    `replace_all` swaps the whole list at once (one assignment: readers on other threads see the
    old or the new list, never half of one)."""

    def __init__(self, trackers: Iterable[LearnedTracker] = ()) -> None:
        self._by_domain: Mapping[str, LearnedTracker] = {}
        self.replace_all(trackers)

    def replace_all(self, trackers: Iterable[LearnedTracker]) -> None:
        self._by_domain = {t.domain: t for t in trackers if t.state in (LEARNED, ALLOWED) and t.sites}

    def get(self, domain: str | None) -> LearnedTracker | None:
        return self._by_domain.get(domain) if domain is not None and self._by_domain else None

    def tracker_reason(self, description) -> str | None:
        """Why a request to a learned tracker from another site's page is blocked (None: it is not
        one, or you let it in)."""
        tracker = self.get(description.request_site)
        if tracker is None or tracker.state != LEARNED:
            return None
        return f"learned: seen tracking on {seen_on(tracker.sites)}"

    def let_in_reason(self, description) -> str | None:
        """Why a learned tracker you let in loads, but as a tracker (no cookies, no Referer)."""
        tracker = self.get(description.request_site)
        if tracker is None or tracker.state != ALLOWED:
            return None
        return (f"learned (seen tracking on {seen_on(tracker.sites)}), let in by you "
                "('whoknows trackers allow'): loads without cookies or Referer")

    def __len__(self) -> int:
        return len(self._by_domain)


def load(ledger: Ledger) -> LearnedTrackers:
    return LearnedTrackers(list_trackers(ledger, (LEARNED, ALLOWED)))


__all__ = ["ALLOWED", "EVIDENCE_KINDS", "FORGOTTEN", "LEARNED", "LearnedTracker", "LearnedTrackers", "STATES",
           "THRESHOLD", "allow", "describe", "evidence", "filter_list", "forget", "list_trackers", "load", "relearn",
           "seen_on"]
