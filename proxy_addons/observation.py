"""Observation: what each vendor's pages did, counted per first-party site, kept in the ledger.

Last in the chain: it reads what the other addons decided from the flow's metadata and records it
in `whoknows.observations.Observations` (live counters in memory):
- `request`: a request to a third party (its site is not the page's): blocked or allowed
  (`proxy_addons.blocking`'s decision, and the list that blocked it), with the owning company where known
  and its category (`whoknows.tracker_companies.tracker_domain`, else
  `whoknows.directory.tracker_owner`) and whether it is a tracker; the tracking parameters the
  params addon removed (`flow.metadata[flow_state.REMOVED_PARAMS]`). A request to a host of the
  page's own site that the cname addon found to be an alias of another site's host
  (`flow_state.CANONICAL_NAMES`: CNAME cloaking) counts as a request to that site, noting the host
  it hid behind;
- `responseheaders` (after the cookie addon's): every `Set-Cookie` line and what the cookie
  addon made of it (`flow.metadata[flow_state.COOKIES]`): asked and granted lifetimes, removed
  or shortened.

The first-party site is the page's site (`proxy_addons.context`); for a request whose page is
unknown but which is not known to be third-party (no Referer/Origin), the request's own site.
Requests from an unknown page known to be cross-site, and pages without a site (IP addresses),
are not attributed to anyone.

A background thread (`whoknows.observations.Flusher`) writes the counts to the ledger every
`whoknows_flush_interval` seconds (default 5) and once more at shutdown (`done`); the request path
never touches SQLite, and a locked ledger delays a batch without losing it.

Reading: `Observation.snapshot(site)` (any thread), e.g. for the control API:
`ctx.master.addons.get("whoknows_observation").snapshot("vendor.test")`.
"""

from __future__ import annotations

import threading

from mitmproxy import ctx
from mitmproxy import exceptions
from mitmproxy import http

from proxy_addons.blocking import BLOCKING_ACTIONS
from proxy_addons.blocking import DECISION_KEY
from proxy_addons import flow_state
from proxy_addons.context import FlowContext
from proxy_addons.context import context_of
from proxy_addons.context import ensure_context
from proxy_addons.cookies import COOKIES_KEY
from proxy_addons.cookies import TRACKER_KEY
from proxy_addons.cookies import CookieDecision
from whoknows.directory import builtin_tracker
from proxy_addons.params import REMOVED_KEY
from proxy_addons.safety import observer
from whoknows.cname import names_to_check
from whoknows.directory import tracker_owner
from whoknows.sites import site_of
from whoknows.tracker_companies import tracker_domain
from whoknows.batching import DEFAULT_FLUSH_INTERVAL
from whoknows.observations import CookieSeen
from whoknows.observations import Flusher
from whoknows.observations import Observations

FLUSH_OPTION = "whoknows_flush_interval"
MAX_FLUSH_INTERVAL = 3600.0
# A cookie name this long is garbage or an attack; the ledger keeps a recognisable prefix.
MAX_NAME_CHARS = 128


def first_party_site(context: FlowContext) -> str | None:
    """The site whose pages made the request (None: nobody we can name)."""
    if context.page_site is not None:
        return context.page_site
    if context.third_party:
        return None
    return context.request_site


def cloaked_names(flow: http.HTTPFlow) -> tuple[str, ...]:
    """The canonical names of another site a first-party host is an alias of (CNAME cloaking), in
    chain order; () for a host that is no alias (or was not looked up: the cname addon asks only
    for subdomains of the page's own site). A dict look-up for every other request."""
    names = flow.metadata.get(flow_state.CANONICAL_NAMES)
    return names_to_check(flow.request.host, names) if names else ()


def parse_interval(text: str) -> float:
    try:
        seconds = float(text)
    except ValueError:
        seconds = float("nan")
    if not 0 < seconds <= MAX_FLUSH_INTERVAL:
        raise exceptions.OptionsError(
            f"{FLUSH_OPTION} must be a number of seconds above 0 and at most {MAX_FLUSH_INTERVAL:.0f}; "
            f"got {text!r}")
    return seconds


def ledger_name(name: str) -> str:
    """A name from the wire as the ledger can keep it: valid Unicode, at most `MAX_NAME_CHARS`.

    mitmproxy keeps header bytes that are not UTF-8 as lone surrogates, which SQLite refuses (the
    whole batch of observations would fail): they become U+FFFD."""
    if not name.isascii():
        try:
            raw = name.encode("utf-8", "surrogateescape")
        except UnicodeEncodeError:  # a surrogate that no undecodable byte made
            raw = name.encode("utf-8", "surrogatepass")
        name = raw.decode("utf-8", "replace")
    return name if len(name) <= MAX_NAME_CHARS else name[: MAX_NAME_CHARS - 1] + "…"


class Observation:
    name = "whoknows_observation"

    def __init__(self, observations: Observations | None = None, open_ledger=None) -> None:
        if open_ledger is None:
            from whoknows.ledger import open_ledger
        self.observations = observations if observations is not None else Observations()
        self.flusher = Flusher(self.observations, open_ledger)

    def load(self, loader) -> None:
        # A string: mitmproxy's `--set` cannot parse float options.
        loader.add_option(FLUSH_OPTION, str, f"{DEFAULT_FLUSH_INTERVAL:g}",
                          "Seconds between writes of the observation counts (third parties, cookies, "
                          "tracking parameters per site) to the ledger; they are also written at shutdown.")

    def configure(self, updated: set[str]) -> None:
        if FLUSH_OPTION in updated:
            self.flusher.interval = parse_interval(getattr(ctx.options, FLUSH_OPTION))

    def running(self) -> None:
        self.flusher.start()
        # The tracker data and the company directory take ~0.1 s each to load: not on the first
        # request's path (`tracker_owner` of an unknown host reads both).
        threading.Thread(target=tracker_owner, args=("warm-up.invalid",), daemon=True).start()

    def done(self) -> None:
        self.flusher.stop()

    # -- reading ----------------------------------------------------------------------------------

    def snapshot(self, site: str, top: int | None = None, learned=None) -> dict:
        """A site's live counters (see `whoknows.observations.Observations.snapshot`)."""
        return self.observations.snapshot(site, top, learned)

    # -- hooks ------------------------------------------------------------------------------------

    @observer
    def request(self, flow: http.HTTPFlow) -> None:
        context = self._context(flow)
        if context is None:
            return
        site = first_party_site(context)
        if site is None:
            return
        if context.page_site is not None:
            host, request_site, cloaked_behind = flow.request.host, context.request_site, None
            if request_site == context.page_site:
                # A host of the page's own site that is a DNS alias of another site's host (the
                # cname addon found it) is that other site's: counted under its first canonical
                # name of another site, noting the host it hid behind. (A dict look-up otherwise.)
                canonical = cloaked_names(flow) if flow.metadata.get(flow_state.CANONICAL_NAMES) else ()
                if canonical:
                    cloaked_behind, host = host, canonical[0]
                    request_site = site_of(host)
                else:
                    host = None
            if host is not None:
                decision = flow.metadata.get(DECISION_KEY)
                blocked = (flow.response is not None and decision is not None
                           and decision.action in BLOCKING_ACTIONS)
                tracker = bool(flow.metadata.get(TRACKER_KEY)) or builtin_tracker(host)
                entry = tracker_domain(host)
                self.observations.third_party(site, request_site or host, blocked=blocked,
                                              # (the owner `tracker_owner` would find first: its entry's)
                                              owner=entry.company.name if entry is not None else tracker_owner(host),
                                              category=entry.category if entry is not None else None,
                                              tracker=tracker, blocked_by=decision.list if blocked else None,
                                              cloaked_behind=cloaked_behind)
        for name in flow.metadata.get(REMOVED_KEY, ()):
            self.observations.parameter(site, ledger_name(name), context.request_site)

    @observer
    def responseheaders(self, flow: http.HTTPFlow) -> None:
        decision: CookieDecision | None = flow.metadata.get(COOKIES_KEY)
        if decision is None or not decision.set_cookies:
            return
        context = context_of(flow)
        site = first_party_site(context) if context is not None else decision.page_site
        if site is None:
            return
        setter = decision.request_site or flow.request.host
        owner = tracker_owner(flow.request.host) if decision.third_party else None
        for outcome in decision.set_cookies:
            if outcome.malformed:  # no browser stores it: nothing was set
                continue
            self.observations.cookie(site, CookieSeen(
                ledger_name(outcome.name), setter, decision.third_party, outcome.asked_lifetime_seconds,
                outcome.granted_lifetime_seconds, outcome.removed, outcome.shortened,
                "paused" if decision.paused else str(decision.mode), owner))

    @staticmethod
    def _context(flow: http.HTTPFlow) -> FlowContext | None:
        context = context_of(flow)
        if context is None and flow.response is not None:
            return None  # answered before anyone looked at it (the PAC file)
        return context if context is not None else ensure_context(flow)
