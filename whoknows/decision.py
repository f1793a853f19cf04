"""The whole per-request decision, pure code over a plain description of the request.

One request (`RequestDescription`: its URL, method, type, the page that made it and the headers
that matter) and what the user set (`Protection`: site settings, the filter engine, the cookie
policy, the Referer policy, the leak mode, what the proxy learned) give one `Verdict`, made of
parts, each with the reason for it:

- `site`: protection paused on the page's site (`whoknows site pause`: every other part then
  leaves the request alone), or the request's site allowed there as a third party
  (`whoknows site allow-3p`: not blocked, its cookies kept);
- `filter`: the filter lists' decision (`whoknows.filters`), or a block for a third party that
  what the proxy learned marks as a tracker on this site (`TrackerKnowledge`: a third party that
  received one of the site's first-party identifiers, `whoknows.identifiers`; or one seen
  receiving identifying data on 3 or more sites, `whoknows.learned_trackers`: blocked everywhere
  but on its own pages, or let in by the user and then still a tracker for cookies and Referer);
- `params`: the tracking parameters taken off the URL (`whoknows.params`);
- `cookies`: the cookie mode for the request's `Cookie` header and its response's `Set-Cookie`
  lines (`whoknows.cookies.CookiePolicy`);
- `referer`: the Referer sent instead of the browser's;
- `leaks`: what becomes of a request carrying one of the user's values (`whoknows.leakscan`):
  stopped (`block`), sent without the part carrying it (`scrub`), or only recorded (`report`);
  disclosures to the page's own site are never stopped;
- `identifiers`: a page's first-party identifier (an id-like cookie value) found in a request to
  another site: the part carrying it is removed, or the request stopped when nothing smaller can go.

The proxy's addons call the part functions at the hook where each applies (`proxy_addons`:
context, blocking, params, cookies, signals, leaks); `whoknows check` calls `decide`, which calls
the same functions in the same order. Nothing here touches the network, a clock or the ledger.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Protocol
from urllib.parse import urlsplit

from . import cname
from .cookies import ALLOW, BLOCK, CookieMode, CookiePolicy
from .directory import builtin_tracker
from .filters import Decision, request_context
from .params import clean_url
from .site_settings import DEFAULT, DEFAULT_LEAK_MODE, LEAK_MODES, SiteSettings
from .sites import site_of

REFERER_POLICIES = ("trim", "strip", "keep")
BLOCKING_ACTIONS = frozenset({"block", "redirect"})
TRACKER_ACTIONS = frozenset({"block", "redirect", "exception"})
WHOKNOWS_LIST = "whoknows"  # the `list` of a block the proxy decided itself, not a filter list
_SAME_SITE_FETCHES = frozenset({"same-origin", "same-site"})

__all__ = [
    "BLOCKING_ACTIONS", "LEAK_MODES", "DEFAULT_LEAK_MODE", "REFERER_POLICIES", "CookiePart", "FilterPart",
    "IdentifierPart", "LeakPart", "ParamsPart", "Protection", "RefererPart", "RequestDescription",
    "SitePart", "TrackerKnowledge", "Verdict", "cookie_part", "decide", "describe", "describe_typed", "filter_part",
    "identifier_part", "leak_part", "params_part", "referer_for", "referer_part", "site_part",
]


# -- the request ------------------------------------------------------------------------------------


@dataclass(slots=True)  # a value made per request: not frozen, see docs/architecture.md
class RequestDescription:
    """What the decision needs to know of one request.

    `page_site`: the site of the page that caused the request (the request's own site for a
    top-level document; else of Referer, else Origin; else the request's site when Sec-Fetch-Site
    says same-site; else None). `source`: the URL handed to the filter engine as the request's
    source. `third_party`: from Sec-Fetch-Site or by comparing sites; None if unknown.
    `canonical_names`: the names the request's host is an alias of (its CNAME chain), when the
    proxy resolved them: the filter engine also judges the request under them.
    `top_site`: for a request made inside a frame of another site, the top-level page's site, when
    the proxy knows it: site settings, cookies and third-party rules then apply per that site.
    """

    url: str
    host: str
    method: str = "GET"
    type: str = "other"
    request_site: str | None = None
    page_site: str | None = None
    source: str | None = None
    third_party: bool | None = None
    referer: str | None = None
    content_type: str | None = None
    canonical_names: tuple[str, ...] = ()
    top_site: str | None = None

    @property
    def navigation(self) -> bool:
        return self.type == "document"

    @property
    def site(self) -> str | None:
        """The site whose settings apply: the top-level page's, else the page's."""
        return self.top_site or self.page_site

    @property
    def to_another_site(self) -> bool:
        """The request goes to a site other than its page's (a known page)."""
        site = self.site
        return site is not None and self.request_site != site


def _site_of_url(url: str) -> str | None:
    # Why (speed only): a page's requests repeat its Referer; the answer depends on the URL alone.
    return _cached_site_of_url(url) if len(url) <= 512 else _uncached_site_of_url(url)


def _uncached_site_of_url(url: str) -> str | None:
    try:
        host = urlsplit(url).hostname
    except ValueError:
        return None
    return site_of(host) if host else None


_cached_site_of_url = functools.lru_cache(maxsize=4096)(_uncached_site_of_url)


def describe_typed(url: str, type: str, source: str | None = None, method: str = "GET",
                   content_type: str | None = None) -> RequestDescription:
    """A request described by its type and the page it comes from, as `whoknows check` states it
    (the proxy reads both from the headers: `describe`). The browser's Referer is the page's URL."""
    host = (urlsplit(url).hostname or "").lower()
    request_site = site_of(host) if host else None
    if type == "document":
        return RequestDescription(url, host, method, type, request_site, request_site, url, False, source,
                                  content_type)
    page_site = _site_of_url(source) if source else None
    return RequestDescription(url, host, method, type, request_site, page_site, source, None, source,
                              content_type)


def describe(url: str, host: str, headers: Mapping[str, str], method: str = "GET",
             canonical_names: tuple[str, ...] = (), top_site: str | None = None,
             top_site_of: Callable[[str], str | None] | None = None) -> RequestDescription:
    """The description of a request from its URL, host and headers (a dict keyed by lowercase
    names, `whoknows.filters.request_type.LowercaseHeaders` or any mapping). `top_site_of(source)`:
    the top-level site that embedded the frame at `source`, when known (`whoknows.frames`); the
    page site is then that site."""
    request_site = site_of(host) if host else None
    seen = request_context(url, headers)
    if seen.type == "document":
        page_site, source, third_party = request_site, url, False
    else:
        source, third_party = seen.source, seen.third_party
        if top_site is None and top_site_of is not None and source:
            top_site = top_site_of(source) or None
        page_site = top_site or (_site_of_url(source) if source else None)
        if page_site is None and headers.get("sec-fetch-site", "").lower() in _SAME_SITE_FETCHES:
            page_site = request_site
    return RequestDescription(url, host, method, seen.type, request_site, page_site, source, third_party,
                              headers.get("referer"), headers.get("content-type"), canonical_names,
                              top_site)


# -- what the user set and what the proxy learned ------------------------------------------------


class TrackerKnowledge(Protocol):
    """Something the proxy learned that makes a third party a tracker on a site (or everywhere).

    `tracker_reason(description)`: why the request's host is a tracker to block for this page, or
    None. `let_in_reason(description)`: why it is a tracker the user let in (not blocked, but its
    cookies and Referer are kept from it), or None.
    Implementations: `whoknows.identifiers.SharedIdentifiers` (it received a first-party id of
    this site) and `whoknows.learned_trackers.LearnedTrackers` (seen tracking on 3 or more sites)."""

    def tracker_reason(self, description: RequestDescription) -> str | None: ...

    def let_in_reason(self, description: RequestDescription) -> str | None: ...


@dataclass(frozen=True, slots=True)
class Protection:
    """Everything the decision reads besides the request: one snapshot of the user's settings."""

    settings_of: Callable[[str | None], SiteSettings] = lambda site: DEFAULT
    cookie_policy: CookiePolicy = field(default_factory=CookiePolicy)
    engine: object | None = None  # a whoknows.filters.FilterEngine; None: no lists loaded
    referer_policy: str = "trim"
    default_leak_mode: str = DEFAULT_LEAK_MODE
    knowledge: tuple[TrackerKnowledge, ...] = ()
    builtin_tracker: Callable[[str], bool] = builtin_tracker


# -- the parts ---------------------------------------------------------------------------------------


@dataclass(slots=True)  # a value made per request: not frozen, see docs/architecture.md
class SitePart:
    settings: SiteSettings
    paused: bool
    allowed_third_party: bool
    reason: str

    @property
    def action(self) -> str:
        return "paused" if self.paused else "allowed-3p" if self.allowed_third_party else "protect"


def site_part(description: RequestDescription, settings: SiteSettings) -> SitePart:
    """Whether protection applies to this request at all, from its page site's settings."""
    site = description.site
    if site is None:
        return SitePart(settings, False, False, "the page is unknown: default protection")
    if settings.paused:
        return SitePart(settings, True, False,
                        f"protection is paused on {site} ('whoknows site pause'): nothing is changed")
    request_site = description.request_site
    if request_site is not None and request_site != site and request_site in settings.allowed_third_parties:
        return SitePart(settings, False, True,
                        f"{site} lets {request_site} in as a third party ('whoknows site allow-3p')")
    if settings.is_default:
        return SitePart(settings, False, False, f"{site} has default settings")
    return SitePart(settings, False, False, f"{site}'s own settings")


@dataclass(slots=True)  # a value made per request: not frozen, see docs/architecture.md
class FilterPart:
    decision: Decision | None  # None: not asked (paused, allowed third party)
    tracker: bool  # a block filter matched (even if an exception let it through), or learned
    reason: str
    uncloaked_as: str | None = None  # the canonical name a cloaked first-party host was blocked as

    @property
    def action(self) -> str:
        return "skip" if self.decision is None else self.decision.action

    @property
    def blocked(self) -> bool:
        return self.decision is not None and self.decision.action in BLOCKING_ACTIONS


def filter_part(description: RequestDescription, site: SitePart, engine,
                knowledge: Sequence[TrackerKnowledge] = (),
                canonical_names: Sequence[str] | None = None) -> FilterPart:
    """The filter lists' decision (under the host's canonical names too, for a first-party
    subdomain: `whoknows.cname`), or a block for a third party known as a tracker on this site.
    `canonical_names`: the host's CNAME chain when found after the description was made."""
    if site.paused:
        return FilterPart(None, False, "protection is paused")
    if site.allowed_third_party:
        return FilterPart(None, False, "an allowed third party is never blocked")
    decision = None
    if engine is not None:
        decision = engine.match(description.url, description.type, description.source,
                                description.third_party)
        names = canonical_names if canonical_names is not None else description.canonical_names
        if names and decision.action == "allow":
            found = cname.uncloak(decision, engine, description.url, description.host, names,
                                  description.type, description.source, site.settings.allowed_third_parties)
            if found is not None:
                return FilterPart(found.decision, True,
                                  f"{description.host} is an alias of {found.canonical_name}: "
                                  f"{_filter_reason(found.decision)}", found.canonical_name)
    if decision is not None and decision.action in TRACKER_ACTIONS:
        return FilterPart(decision, True, _filter_reason(decision))
    if description.to_another_site:
        for known in knowledge:
            why = known.tracker_reason(description)
            if why is not None:
                return FilterPart(Decision("block", filter=why, list=WHOKNOWS_LIST), True, why)
        for known in knowledge:
            why = known.let_in_reason(description)
            if why is not None:
                return FilterPart(decision or Decision("allow"), True, why)
    if decision is None:
        return FilterPart(Decision("allow"), False, "no filter list loaded")
    return FilterPart(decision, False, _filter_reason(decision))


def _filter_reason(decision: Decision) -> str:
    if decision.filter is None:
        return "no filter matched"
    what = {"block": "blocked by", "redirect": "redirected by", "exception": "let through by",
            "allow": "matched"}.get(decision.action, decision.action)
    important = " (important)" if decision.important else ""
    return f"{what} {decision.filter}{important} from {decision.list}"


@dataclass(slots=True)  # a value made per request: not frozen, see docs/architecture.md
class ParamsPart:
    clean_url: str
    removed: tuple[str, ...]
    reason: str

    @property
    def action(self) -> str:
        return "strip" if self.removed else "keep"


def params_part(url: str, site: SitePart, decision: Decision | None) -> ParamsPart:
    """The URL without its tracking parameters (built-in ones and the lists' `removeparam`)."""
    if site.paused:
        return ParamsPart(url, (), "protection is paused")
    if "?" not in url:
        return ParamsPart(url, (), "no query")
    clean, removed = clean_url(url, decision)
    if not removed or clean == url:
        return ParamsPart(url, (), "no tracking parameter")
    from_list = decision is not None and bool(decision.removed_params) and decision.clean_url
    why = f"removeparam filter {decision.filter} from {decision.list}" if from_list else "built-in tracking parameters"
    return ParamsPart(clean, removed, why)


@dataclass(slots=True)  # a value made per request: not frozen, see docs/architecture.md
class CookiePart:
    mode: CookieMode
    third_party: bool
    tracker: bool
    reason: str

    @property
    def action(self) -> str:
        return str(self.mode)


def cookie_part(description: RequestDescription, site: SitePart, policy: CookiePolicy,
                tracker: bool) -> CookiePart:
    """The cookie mode for the request's `Cookie` header and its response's `Set-Cookie` lines.

    `tracker`: the filter part's mark, or the host is in the built-in tracker list."""
    page_site = description.site
    unknown_cross_site_page = page_site is None and description.third_party is True
    third_party = unknown_cross_site_page or (page_site is not None and page_site != description.request_site)
    if site.paused:
        return CookiePart(ALLOW, third_party, tracker, "protection is paused: cookies untouched")
    if unknown_cross_site_page:
        return CookiePart(BLOCK, True, tracker, "a cross-site request from an unknown page: no cookies")
    mode, why = policy.explain(page_site, description.request_site, tracker)
    return CookiePart(mode, third_party, tracker, why)


@dataclass(frozen=True, slots=True)
class RefererPart:
    referer: str | None  # what is sent (None: no Referer)
    reason: str

    def action_for(self, sent: str | None) -> str:
        if sent is None:
            return "none"
        return "keep" if self.referer == sent else "drop" if self.referer is None else "trim"

    @property
    def action(self) -> str:  # for a verdict without the original at hand
        return "drop" if self.referer is None else "send"


def referer_origin(referer: str) -> str | None:
    """`scheme://host[:port]/` of a Referer, or None if it is not an http(s) URL."""
    try:
        parts = urlsplit(referer.strip())
        host, port = parts.hostname, parts.port
    except ValueError:
        return None
    if parts.scheme not in ("http", "https") or not host:
        return None
    if ":" in host:
        host = f"[{host}]"
    default_port = 443 if parts.scheme == "https" else 80
    netloc = host if port in (None, default_port) else f"{host}:{port}"
    return f"{parts.scheme}://{netloc}/"


def same_site(host_a: str, host_b: str) -> bool:
    """Same registrable domain; hosts without one (IP addresses, single labels) must be equal."""
    host_a, host_b = host_a.lower().rstrip("."), host_b.lower().rstrip(".")
    if host_a == host_b:
        return True
    site_a = site_of(host_a)
    return site_a is not None and site_a == site_of(host_b)


def referer_for(referer: str, request_host: str, policy: str, to_tracker: bool) -> str | None:
    """The Referer to send instead of `referer` (None: send none) for a request to `request_host`."""
    return referer_part(referer, request_host, policy, to_tracker).referer


def _referer_part(referer: str, request_host: str, policy: str, to_tracker: bool) -> RefererPart:
    if policy == "keep":
        return RefererPart(referer, "Referer policy keep")
    if to_tracker and policy == "trim":
        return RefererPart(None, "dropped: the request goes to a tracker")
    origin = referer_origin(referer)
    if origin is None:
        return RefererPart(None, "dropped: not an http(s) URL")
    referer_host = urlsplit(origin).hostname or ""
    if same_site(referer_host, request_host):
        return RefererPart(referer, "same site: kept")
    if policy == "trim":
        return RefererPart(origin, "cross-site: cut to the page's origin" if origin != referer
                           else "cross-site: only the page's origin, sent as it is")
    return RefererPart(None, "cross-site: dropped (Referer policy strip)")


# Why (speed only): a page's requests repeat its Referer; the answer depends only on the arguments
# (site_of is a fixed function of the host). Long Referers are not worth a cache slot.
_cached_referer_part = functools.lru_cache(maxsize=4096)(_referer_part)


def referer_part(referer: str | None, request_host: str, policy: str, to_tracker: bool) -> RefererPart:
    """The Referer sent for a request to `request_host` whose browser sent `referer`."""
    if referer is None:
        return RefererPart(None, "the browser sent none")
    if len(referer) > 512:
        return _referer_part(referer, request_host, policy, to_tracker)
    return _cached_referer_part(referer, request_host, policy, to_tracker)


@dataclass(slots=True)  # a value made per request: not frozen, see docs/architecture.md
class LeakPart:
    """What becomes of a request carrying the user's values. `action`: none (nothing found),
    disclosure (to the page's own site: recorded only), block, scrub, report (sent, recorded),
    unattributed (found, but no page to attribute it to: nothing done)."""

    action: str
    matches: tuple = ()  # whoknows.leakscan.Match
    reason: str = "none of your values"


def leak_mode_for(site: SitePart, default_mode: str) -> str:
    return site.settings.leak_mode or default_mode


def leak_part(description: RequestDescription, site: SitePart, matches: Sequence, default_mode: str,
              streamed_body: bool = False) -> LeakPart:
    """What to do with a request in which the scanner found `matches`."""
    if site.paused:
        return LeakPart("none", tuple(matches), "protection is paused")
    if not matches:
        return LeakPart("none")
    found = tuple(matches)
    what = ", ".join(sorted({f"{m.kind} ({m.encoding}, {m.where})" for m in found}))
    page = description.site
    if page is None:
        page = None if description.third_party else description.request_site
    if page is None:
        return LeakPart("unattributed", found, f"{what}: the page is unknown")
    if description.request_site == page:
        return LeakPart("disclosure", found, f"{what} to the page's own site {page}: recorded, never stopped")
    if site.allowed_third_party:
        return LeakPart("report", found, f"{what} to {description.request_site}, a third party {page} lets in "
                                         "('whoknows site allow-3p'): recorded, not stopped")
    mode = site.settings.leak_mode or default_mode
    where_set = "this site's leak mode" if site.settings.leak_mode else "the default leak mode"
    if streamed_body and all(m.where == "body" for m in found):
        return LeakPart("report", found, f"{what} in a streamed body, seen after it left: recorded")
    verb = {"block": "stopped", "scrub": "removed from the request", "report": "recorded only"}[mode]
    return LeakPart(mode, found, f"{what} to {description.request_site or description.host}: {verb} "
                                 f"({where_set} is {mode})")


@dataclass(slots=True)  # a value made per request: not frozen, see docs/architecture.md
class IdentifierPart:
    """A first-party identifier of the page's site found in a request to another site.
    `action`: none, strip (the carrying parameter, field or member removed) or block."""

    action: str
    cookies: tuple[str, ...] = ()  # names of the page site's cookies whose value was found
    reason: str = "no first-party identifier"


def identifier_part(description: RequestDescription, site: SitePart, shared: Sequence[str],
                    scrubbable: bool) -> IdentifierPart:
    """What to do when the page site's identifier cookies `shared` (names) were found in the request."""
    if site.paused:
        return IdentifierPart("none", (), "protection is paused")
    if not shared:
        return IdentifierPart("none")
    if site.allowed_third_party:
        return IdentifierPart("none", tuple(shared), "an allowed third party may receive the site's ids")
    names = ", ".join(shared)
    page, to = description.site, description.request_site or description.host
    if scrubbable:
        return IdentifierPart("strip", tuple(shared),
                              f"{page}'s identifier cookie {names} sent to {to}: removed; {to} is a tracker on {page} from now on")
    return IdentifierPart("block", tuple(shared),
                          f"{page}'s identifier cookie {names} sent to {to} where it cannot be removed: stopped; "
                          f"{to} is a tracker on {page} from now on")


# -- the whole verdict ------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Verdict:
    request: RequestDescription
    site: SitePart
    filter: FilterPart
    params: ParamsPart
    cookies: CookiePart
    referer: RefererPart
    leaks: LeakPart
    identifiers: IdentifierPart

    @property
    def action(self) -> str:
        """What happens to the request as a whole: pass, block, redirect (a filter's resource),
        rewrite (sent changed: parameters, a scrubbed value or identifier)."""
        if self.filter.blocked:
            return self.filter.decision.action
        if self.leaks.action == "block" or self.identifiers.action == "block":
            return "block"
        if self.params.removed or self.leaks.action == "scrub" or self.identifiers.action == "strip":
            return "rewrite"
        return "pass"

    def parts(self) -> list[tuple[str, str, str]]:
        """(part, action, reason) for every part, in the order the proxy applies them."""
        return [
            ("site", self.site.action, self.site.reason),
            ("filter", self.filter.action, self.filter.reason),
            ("params", self.params.action, self.params.reason),
            ("cookies", self.cookies.action, self.cookies.reason),
            ("referer", self.referer.action_for(self.request.referer), self.referer.reason),
            ("leaks", self.leaks.action, self.leaks.reason),
            ("identifiers", self.identifiers.action, self.identifiers.reason),
        ]


def decide(description: RequestDescription, protection: Protection, matches: Iterable = (),
           shared_identifiers: Sequence[str] = (), identifiers_scrubbable: bool = True) -> Verdict:
    """The whole decision for one request, as the proxy makes it part by part.

    `matches`: what the leak scanner found in the request as it would leave (`whoknows.leakscan`);
    `shared_identifiers`: names of the page site's identifier cookies found in it
    (`whoknows.identifiers.FirstPartyIds.find`), and whether the part carrying them can be removed."""
    site = site_part(description, protection.settings_of(description.site))
    filtered = filter_part(description, site, protection.engine, protection.knowledge)
    tracker = filtered.tracker or protection.builtin_tracker(description.host)
    params = params_part(description.url, site, filtered.decision)
    cookies = cookie_part(description, site, protection.cookie_policy, tracker)
    # Not paused with the rest: Sec-GPC and the Referer policy apply on every page (they change no
    # page's behaviour).
    referer = referer_part(description.referer, description.host, protection.referer_policy, filtered.tracker)
    if filtered.blocked:
        leaks = LeakPart("none", tuple(matches), "the request is blocked: nothing leaves")
        identifiers = IdentifierPart("none", tuple(shared_identifiers), "the request is blocked: nothing leaves")
    else:
        leaks = leak_part(description, site, list(matches), protection.default_leak_mode)
        shared = shared_identifiers if description.to_another_site else ()
        identifiers = identifier_part(description, site, shared, identifiers_scrubbable)
    return Verdict(description, site, filtered, params, cookies, referer, leaks, identifiers)
