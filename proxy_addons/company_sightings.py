"""Company sightings: which tracker company each third-party request went to, and what it got.

Reads what the other addons decided (after `leaks` and `observation` in the chain) and records it
in `whoknows.company_sightings.CompanySightings` (an in-memory batch; `SightingsFlusher` writes it
to the ledger on its own thread, never on the request path):
- `request`: a request from a page to a third party whose host the tracker data attributes to a
  company: blocked (answered by the proxy: a filter, or leak prevention stopped it) or reached; of a reached one, the page
  URLs it carried (the Referer as it left, after `signals` trimmed it; parameters holding the
  page's address) and your values the `leaks` addon found in it (`FOUND_KEY`);
- `responseheaders` (after the cookie addon's): the names of the cookies a third party's
  response tried to set (`flow.metadata[flow_state.COOKIES]`), kept or removed. Never their values.

Pages are attributed as the observation addon does (`observation.first_party_site`). A request to
a host of the page's own site that is a DNS alias of a company's host (CNAME cloaking: the cname
addon's `flow_state.CANONICAL_NAMES`, `observation.cloaked_names`) is that company's: blocked under
its canonical name or not, it is counted for the company behind the first canonical name the
tracker data knows, with what it got (the site's own cookies sent to it, pages, your values), and
the site's host it hid behind (`cloaked_behind`).
"""

from __future__ import annotations

from mitmproxy import ctx
from mitmproxy import http

from proxy_addons import flow_state
from proxy_addons.context import context_of
from proxy_addons.cookies import COOKIES_KEY
from proxy_addons.cookies import CookieDecision
from proxy_addons.leaks import FOUND_KEY
from proxy_addons.mitmproxy_shortcuts import folded_value
from proxy_addons.observation import FLUSH_OPTION
from proxy_addons.observation import cloaked_names
from proxy_addons.observation import first_party_site
from proxy_addons.observation import ledger_name
from proxy_addons.observation import parse_interval
from proxy_addons.safety import observer
from whoknows.company_sightings import CompanySightings
from whoknows.company_sightings import SightingsFlusher
from whoknows.company_sightings import pages_learned
from whoknows.sites import site_of


# A Cookie header naming more cookies than this is not a browser's: the rest are left out.
MAX_SENT_COOKIES = 50


def cookie_names(header: str | None) -> list[str]:
    """The names in a `Cookie` header as it leaves (`a=1; b=2` -> a, b), as the ledger keeps names."""
    if not header:
        return []
    names = []
    for part in header.split(";")[:MAX_SENT_COOKIES]:
        name = part.partition("=")[0].strip()
        if name:
            names.append(ledger_name(name))
    return names


class CompanySightingsAddon:
    name = "whoknows_company_sightings"

    def __init__(self, sightings: CompanySightings | None = None, open_ledger=None) -> None:
        if open_ledger is None:
            from whoknows.ledger import open_ledger
        self.sightings = sightings if sightings is not None else CompanySightings()
        self.flusher = SightingsFlusher(self.sightings, open_ledger)

    def configure(self, updated: set[str]) -> None:
        # The observation addon's option (`whoknows_flush_interval`): one interval for every batch.
        if FLUSH_OPTION in updated:
            self.flusher.interval = parse_interval(getattr(ctx.options, FLUSH_OPTION))

    def running(self) -> None:
        # (The tracker data is loaded off the first request's path by the observation addon's
        # warm-up: `tracker_owner` reads it first. A second loader would parse it twice at once.)
        self.flusher.start()

    def done(self) -> None:
        self.flusher.stop()

    @observer
    def request(self, flow: http.HTTPFlow) -> None:
        context = context_of(flow)
        if context is None or context.page_site is None:
            return
        host = flow.request.host
        cloaked_behind = None
        if context.request_site == context.page_site:
            if not flow.metadata.get(flow_state.CANONICAL_NAMES):  # (a dict look-up for every other request)
                return
            cloaked_behind = host
            host = self._cloaked_company_host(flow)  # a CNAME-cloaked host is its company's
            if host is None:
                return
        site = first_party_site(context)
        if site is None:
            return
        if flow.response is not None:
            # Answered by the proxy itself: blocked by a filter (`blocking`) or stopped because it
            # carried your values (`leaks`' prevention). Either way it never reached the company.
            self.sightings.request(site, host, blocked=True, cloaked_behind=cloaked_behind)
            return
        request = flow.request
        if self.sightings.company_of(host) is None:
            return
        fields = request.headers.fields
        pages = pages_learned(request.url, folded_value(fields, b"referer"), site, site_of)
        self.sightings.request(site, host, blocked=False, pages=pages, cloaked_behind=cloaked_behind)
        sent = cookie_names(folded_value(fields, b"cookie"))
        if sent:
            self.sightings.cookies(site, host, sent, sent=True)
        found = flow.metadata.get(FOUND_KEY)
        if found:
            self.sightings.values(site, host, [(f.kind, f.ref, f.encoding) for f in found])

    @observer
    def responseheaders(self, flow: http.HTTPFlow) -> None:
        decision: CookieDecision | None = flow.metadata.get(COOKIES_KEY)
        if decision is None or not decision.set_cookies:
            return
        if decision.third_party:
            host = flow.request.host
        elif flow.metadata.get(flow_state.CANONICAL_NAMES):
            host = self._cloaked_company_host(flow)
            if host is None:
                return
        else:
            return
        context = context_of(flow)
        site = first_party_site(context) if context is not None else decision.page_site
        if site is None:
            return
        self.sightings.cookies(site, host,
                               [ledger_name(outcome.name) for outcome in decision.set_cookies if not outcome.malformed])

    def _cloaked_company_host(self, flow: http.HTTPFlow) -> str | None:
        """For a host of the page's own site that is a DNS alias of another site's host (CNAME
        cloaking, `observation.cloaked_names`), the first canonical name a company is known for;
        else None (a plain first-party request: no company sighting)."""
        for name in cloaked_names(flow):
            if self.sightings.company_of(name) is not None:
                return name
        return None
