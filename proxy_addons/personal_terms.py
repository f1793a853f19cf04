"""Personal terms: proffer the person's chosen terms on every request, and notice a site agreeing.

- `requestheaders`: every request that leaves the proxy (not one the proxy answers itself, not on a
  site where protection is paused) carries `Personal-Terms` with the terms the person chose
  (`whoknows terms offer`; none chosen, no header), replacing any the page set; the offer is
  recorded for the page's site (`proxy_addons.observation.first_party_site`).
- `responseheaders`: a `Personal-Terms-Agreed` header in the answer of the page's own site to a
  request that carried the terms records that site's agreement to the terms it names
  (`whoknows.personal_terms.agreed_terms`: a malformed value agrees to nothing).
- `response`: the same for the body of the site's `/.well-known/personal-terms`, when the browser
  fetched it (whoknows makes no request of its own); a streamed body is not read.

What is chosen is read through `whoknows.personal_terms.ProfferedTerms` (one settings row, re-read
when the ledger changed, at most every second); the records go to the ledger in batches
(`whoknows.terms_records.OffersFlusher`, every `whoknows_flush_interval` seconds and at shutdown),
never on the request path.

In the chain after `signals` (the other header the proxy adds to every request) and before
`streaming`, so it runs before a streamed request's headers leave.
"""

from __future__ import annotations

from mitmproxy import ctx
from mitmproxy import http

from proxy_addons import flow_state
from proxy_addons.context import context_of
from proxy_addons.context import ensure_context
from proxy_addons.context import is_paused
from proxy_addons.mitmproxy_shortcuts import folded_value
from proxy_addons.mitmproxy_shortcuts import with_fields_set
from proxy_addons.observation import FLUSH_OPTION
from proxy_addons.observation import first_party_site
from proxy_addons.observation import parse_interval
from proxy_addons.safety import observer
from whoknows.personal_terms import MAX_AGREEMENT_CHARS
from whoknows.personal_terms import WELL_KNOWN_PATH
from whoknows.personal_terms import ProfferedTerms
from whoknows.personal_terms import agreed_terms
from whoknows.terms_records import OffersFlusher
from whoknows.terms_records import PendingOffers

OFFERED_KEY = flow_state.TERMS_OFFERED  # the terms this request carried
# A well-known file longer than this, as sent (compressed or not), is not read: the list it must
# hold is at most `MAX_AGREEMENT_CHARS`, and a small compressed body cannot expand to much.
MAX_WELL_KNOWN_BYTES = 4 * MAX_AGREEMENT_CHARS
_OFFER_FIELD = b"personal-terms"
_AGREED_FIELD = b"personal-terms-agreed"


class PersonalTerms:
    name = "whoknows_personal_terms"

    def __init__(self, pending: PendingOffers | None = None, open_ledger=None) -> None:
        if open_ledger is None:
            from whoknows.ledger import open_ledger
        self.pending = pending if pending is not None else PendingOffers()
        self.flusher = OffersFlusher(self.pending, open_ledger)
        self.proffered = ProfferedTerms(open_ledger)

    def configure(self, updated: set[str]) -> None:
        # The observation addon owns the option; batches of offers follow the same rhythm.
        if FLUSH_OPTION in updated and hasattr(ctx.options, FLUSH_OPTION):
            self.flusher.interval = parse_interval(getattr(ctx.options, FLUSH_OPTION))

    def running(self) -> None:
        self.flusher.start()

    def done(self) -> None:
        self.flusher.stop()
        self.proffered.close()

    def requestheaders(self, flow: http.HTTPFlow) -> None:
        if flow.response is not None or is_paused(flow):
            return
        terms, header = self.proffered.current()
        if not terms:
            return
        request = flow.request
        request.headers.fields = with_fields_set(request.headers.fields, {_OFFER_FIELD: header.encode("ascii")})
        flow.metadata[OFFERED_KEY] = terms
        site = first_party_site(context_of(flow) or ensure_context(flow))
        if site is not None:
            self.pending.offered(site, terms)

    @observer
    def responseheaders(self, flow: http.HTTPFlow) -> None:
        site = self._own_site(flow)
        if site is None or flow.response is None:
            return
        value = folded_value(flow.response.headers.fields, _AGREED_FIELD)
        agreed = agreed_terms(value, flow.metadata[OFFERED_KEY])
        if agreed:
            self.pending.agreed(site, agreed, "header")

    @observer
    def response(self, flow: http.HTTPFlow) -> None:
        site = self._own_site(flow)
        if site is None or flow.response is None or flow.request.path.partition("?")[0] != WELL_KNOWN_PATH:
            return
        response = flow.response
        if not 200 <= response.status_code < 300 or response.raw_content is None:
            return  # an error page, or a streamed body (not kept)
        if len(response.raw_content) > MAX_WELL_KNOWN_BYTES:
            return  # not a short list of terms (and not worth decompressing)
        try:
            body = response.get_content(strict=False) or b""
        except ValueError:
            return
        agreed = agreed_terms(body[: MAX_AGREEMENT_CHARS + 1], flow.metadata[OFFERED_KEY])
        if agreed:
            self.pending.agreed(site, agreed, "well-known")

    @staticmethod
    def _own_site(flow: http.HTTPFlow) -> str | None:
        """The page's site when this request carried the terms to that very site (else None)."""
        if not flow.metadata.get(OFFERED_KEY):
            return None
        context = context_of(flow)
        site = first_party_site(context) if context is not None else None
        return site if site is not None and site == context.request_site else None
