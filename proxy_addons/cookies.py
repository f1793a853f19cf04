"""Cookies per vendor: no third-party cookies either way, each site's own cookies by its mode.

The decision is the core's cookie part (`whoknows.decision.cookie_part`, what `whoknows check` runs
too; sites are registrable domains; the page site comes from the context addon):
- a third-party request (its site is not the page's) loses its `Cookie` header and the
  `Set-Cookie` lines of its response, unless the user allowed that third party on that site
  (`whoknows site allow-3p`). A request that `Sec-Fetch-Site` says is cross-site, from a page we
  cannot name, is a third-party request too (no exception can apply to an unknown page);
- first-party cookies follow the site's mode (`whoknows site cookies SITE MODE`: `allow`,
  `session`, `cap:N`, `block`), else, for a known tracker (the blocking addon's mark,
  `flow.metadata[flow_state.TRACKER]`, or a host in the built-in tracker list), the stricter of
  `cap:7` and the default mode, else the default mode (`whoknows site cookies --default`; `allow`
  unless set).
  Only `block` removes the `Cookie` header; `session` and `cap:N` rewrite `Set-Cookie` lifetimes.

`Set-Cookie` is handled on the raw header lines (one line per header field, never split on commas
or re-serialised); only lines the policy changes are touched, byte-preserving
(`whoknows.cookies.rewrite_set_cookie`). A line no browser would store (`malformed`) gets the same
treatment as any other: the browsers that reject it do not mind, and one that tolerates it must not
escape the policy. Responses the proxy answered itself are left alone, and so are the cookies of
pages where protection is paused (`whoknows site pause`): their decision says `paused`, with the
mode `allow`, so what the site set is still observed.

What was decided goes into `flow.metadata[flow_state.COOKIES]` for the observation
addon: a `CookieDecision` with the mode, the sites, the request cookies removed and one
`SetCookieOutcome` per `Set-Cookie` line.

Out of reach: cookies set by JavaScript (`document.cookie`, the Cookie Store API) never cross the
wire as `Set-Cookie`, so a proxy can neither see nor shorten them. They stay in the browser's jar
for the page's own site; the `Cookie` header filter here still keeps them (and every other
cookie) from reaching third parties, and a site in `block` mode never sends them back to itself.
Also out of reach: a request with nothing that names its page (no Referer or Origin, and no
`Sec-Fetch-Site`, which browsers send over HTTPS only) counts as first-party, so its cookies
follow its own site's mode.
"""

from __future__ import annotations

from dataclasses import dataclass
from dataclasses import field
from dataclasses import replace
from datetime import datetime
from datetime import timezone

from mitmproxy import http

from proxy_addons import flow_state
from proxy_addons.context import FlowContext
from proxy_addons.context import ensure_context
from proxy_addons.mitmproxy_shortcuts import has_field
from proxy_addons.mitmproxy_shortcuts import values_of
from proxy_addons.mitmproxy_shortcuts import without_fields
from whoknows.cookies import CookieMode
from whoknows.cookies import cookie_names
from whoknows.cookies import rewrite_set_cookie
from whoknows.decision import cookie_part
from whoknows.directory import builtin_tracker

COOKIES_KEY = flow_state.COOKIES
TRACKER_KEY = flow_state.TRACKER


@dataclass(slots=True)  # a value made per request: not frozen, see docs/architecture.md
class SetCookieOutcome:
    """What became of one `Set-Cookie` line (lifetimes in seconds; None: a session cookie)."""

    name: str
    asked_lifetime_seconds: int | None
    granted_lifetime_seconds: int | None  # None also when removed
    removed: bool
    shortened: bool  # rewritten (to a session cookie or a capped lifetime)
    malformed: bool  # no browser stores anything from the original line


@dataclass(slots=True)  # a value made per request: not frozen, see docs/architecture.md
class CookieDecision:
    mode: CookieMode
    page_site: str | None
    request_site: str | None
    third_party: bool
    tracker: bool
    paused: bool = False
    request_cookies_removed: tuple[str, ...] = ()  # names, as they were in the Cookie header
    set_cookies: tuple[SetCookieOutcome, ...] = field(default=())  # filled in at the response


def decide(context: FlowContext, host: str, marked_tracker: bool) -> CookieDecision:
    """The cookie mode for a request and its response (the core's cookie part)."""
    part = cookie_part(context.description, context.site, context.cookie_policy,
                       marked_tracker or builtin_tracker(host))
    return CookieDecision(part.mode, context.page_site, context.request_site, part.third_party, part.tracker,
                          paused=context.paused)


def apply_to_set_cookies(headers: http.Headers, mode: CookieMode,
                         now: datetime) -> tuple[SetCookieOutcome, ...]:
    """Rewrite the `Set-Cookie` lines of `headers` in place to `mode`; what became of each."""
    # Why (speed only): `headers.get_all` decodes every field; the raw fields are scanned once.
    lines = values_of(headers.fields, b"set-cookie")
    if not lines:
        return ()
    results = [rewrite_set_cookie(line, mode, now) for line in lines]
    if any(result.changed for result in results):
        headers.set_all("set-cookie", [r.line for r in results if r.line is not None])
    return tuple(
        SetCookieOutcome(r.name, r.asked_lifetime_seconds, r.granted_lifetime_seconds,
                         removed=r.line is None, shortened=r.changed and r.line is not None,
                         malformed=r.malformed)
        for r in results)


class Cookies:
    name = "whoknows_cookies"

    def requestheaders(self, flow: http.HTTPFlow) -> None:
        # requestheaders, not request: a streamed request's headers leave right after this hook.
        if flow.response is not None:  # answered by the proxy: nothing goes out
            return
        context = ensure_context(flow)
        decision = decide(context, flow.request.host, bool(flow.metadata.get(TRACKER_KEY)))
        if decision.mode.kind == "block":
            headers = flow.request.headers
            # HTTP/2 may split cookies over several fields. Why (speed only): raw fields, read
            # once, rather than `Headers.get_all` and `del`, which decode every field each time.
            fields = headers.fields
            sent = values_of(fields, b"cookie")
            if sent:
                headers.fields = without_fields(fields, b"cookie")
                names = tuple(name for value in sent for name in cookie_names(value))
                decision = replace(decision, request_cookies_removed=names)
        flow.metadata[COOKIES_KEY] = decision

    def responseheaders(self, flow: http.HTTPFlow) -> None:
        # responseheaders, not response: a streamed response has sent its headers by then.
        decision = flow.metadata.get(COOKIES_KEY)
        if decision is None or flow.response is None:
            return  # answered by the proxy, or never seen at request time
        headers = flow.response.headers
        if not has_field(headers.fields, b"set-cookie"):
            return  # why (speed only): most responses set no cookie; skip the clock and the rest
        outcomes = apply_to_set_cookies(headers, decision.mode, datetime.now(timezone.utc))
        if outcomes:
            # A new object, never a mutation: the safety guard restores metadata by shallow copy.
            # Built directly: `dataclasses.replace` costs several microseconds (why: speed).
            flow.metadata[COOKIES_KEY] = CookieDecision(
                decision.mode, decision.page_site, decision.request_site, decision.third_party,
                decision.tracker, decision.paused, decision.request_cookies_removed, outcomes)
