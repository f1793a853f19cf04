"""What a request is and whose page made it, worked out once per request for every whoknows addon.

First whoknows addon after `pac`. In `requestheaders` it stores a `FlowContext` in
`flow.metadata["whoknows.context"]` (`CONTEXT_KEY`); later addons read it with `context_of(flow)`,
or `ensure_context(flow)`, which computes one without site settings if this addon is missing or
failed. Requests the proxy already answered (the PAC file) get none.

`FlowContext` fields:
- `request_site`: the registrable domain of the request's host (`sites.site_of`); None for IP
  addresses and single-label hosts.
- `page_site`: the site of the page that caused the request: the request's own site for a
  top-level document; else the site of `Referer`, else of `Origin`; else, when `Sec-Fetch-Site`
  says same-origin/same-site, the request's site; else None (unknown). A proxy sees only the
  immediate initiator: requests made by a frame carry the frame's page, not the top-level one;
  when that frame is one the proxy served (`whoknows.frames.FrameMemory`, filled by the frames
  addon), `page_site` is the top-level site that embedded it, so that site's settings and cookie
  rules apply (`source` and `third_party` stay the frame's: the filter lists judge by the frame,
  as uBlock Origin does).
- `type`: the resource type (`document`, `subdocument`, `script`, `image`, `xmlhttprequest`,
  `ping`, ...; `whoknows.filters.request_context`), as the filter engine names them.
- `source`: the URL (or origin) handed to the filter engine as the request's source: the request
  itself for a top-level document, else Referer/Origin; None if unknown.
- `third_party`: True/False from `Sec-Fetch-Site` or by comparing sites; False for a top-level
  document (uBlock Origin's view: the page being loaded is its own first party); None if unknown.
- `paused`: protection is paused on `page_site` (`whoknows site pause`): every whoknows addon
  leaves the flow alone (`is_paused(flow)`).
- `settings`: the page site's `whoknows.site_settings.SiteSettings` (defaults when none).
- `allowed_third_party`: the page site lets the request's site in as a third party
  (`whoknows site allow-3p PAGE REQUEST`): its cookies are kept and it is not blocked there.
- `cookie_policy`: the `whoknows.cookies.CookiePolicy` holding every site's cookie mode and
  third-party exception (one object, shared until the settings change).
- `navigation` (property): `type == "document"`, a top-level navigation.

Site settings come from a `SiteSettingsStore` on the proxy's own ledger connection, opened at
`running`: in memory, re-read within half a second of a change made by another process. If the
ledger cannot be opened the proxy runs with default settings (logged) and tries again every
`RETRY_SECONDS`.
"""

from __future__ import annotations

import functools
import logging
import time
from dataclasses import dataclass
from urllib.parse import urlsplit

from mitmproxy import http

from proxy_addons.mitmproxy_shortcuts import lowercase_map
from whoknows.cookies import CookiePolicy
from whoknows.errors import WhoknowsError
from whoknows.frames import FrameMemory
from whoknows.filters import request_context
from whoknows.site_settings import DEFAULT
from whoknows.site_settings import SiteSettings
from whoknows.site_settings import SiteSettingsStore
from whoknows.sites import site_of

logger = logging.getLogger("whoknows.proxy")

CONTEXT_KEY = "whoknows.context"
RETRY_SECONDS = 10.0
_SAME_SITE_FETCHES = frozenset({"same-origin", "same-site"})
_DEFAULT_POLICY = CookiePolicy()


@dataclass(frozen=True, slots=True)
class FlowContext:
    request_site: str | None
    page_site: str | None
    type: str
    source: str | None
    third_party: bool | None
    paused: bool
    settings: SiteSettings
    allowed_third_party: bool
    cookie_policy: CookiePolicy

    @property
    def navigation(self) -> bool:
        return self.type == "document"


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


def compute_context(request: http.Request, store: SiteSettingsStore | None,
                    frames: FrameMemory | None = None) -> FlowContext:
    """The context of one request; `store` None means default settings everywhere."""
    url = request.url
    request_site = site_of(request.host) if request.host else None
    # Why (speed only): `request_context` looks up about eight headers and, on a miss, scans every
    # header for a differently-cased name; on mitmproxy's `Headers` every lookup and every scan
    # decodes all the fields again: ~55 us a request, against ~3 us with one pass into a dict.
    headers = lowercase_map(request.headers)
    seen = request_context(url, headers)
    if seen.type == "document":
        page_site, source, third_party = request_site, url, False
    else:
        source, third_party = seen.source, seen.third_party
        page_site = (frames is not None and frames.top_site(source)) or (_site_of_url(source) if source else None)
        if page_site is None and headers.get("sec-fetch-site", "").lower() in _SAME_SITE_FETCHES:
            page_site = request_site
    settings = store.get(page_site) if store is not None else DEFAULT
    policy = store.cookie_policy() if store is not None else _DEFAULT_POLICY
    allowed = (request_site is not None and page_site is not None and request_site != page_site
               and request_site in settings.allowed_third_parties)
    return FlowContext(request_site, page_site, seen.type, source, third_party, settings.paused,
                       settings, allowed, policy)


def context_of(flow: http.HTTPFlow) -> FlowContext | None:
    return flow.metadata.get(CONTEXT_KEY)


def ensure_context(flow: http.HTTPFlow) -> FlowContext:
    """The flow's context; computed without site settings (and stored) if nobody made one."""
    context = flow.metadata.get(CONTEXT_KEY)
    if context is None:
        context = flow.metadata[CONTEXT_KEY] = compute_context(flow.request, None)
    return context


def is_paused(flow: http.HTTPFlow) -> bool:
    """Protection is paused for the page that made this request: leave the flow alone."""
    context = flow.metadata.get(CONTEXT_KEY)
    return context is not None and context.paused


class Context:
    name = "whoknows_context"

    def __init__(self, store: SiteSettingsStore | None = None, frames: FrameMemory | None = None) -> None:
        self.store = store
        self.frames = frames  # the frames addon's memory of frame documents (None: no attribution)
        self._owned_ledger = None
        self._next_attempt = 0.0

    def running(self) -> None:
        self._settings_store()

    def _settings_store(self) -> SiteSettingsStore | None:
        if self.store is not None or time.monotonic() < self._next_attempt:
            return self.store
        from whoknows.ledger import open_ledger

        try:
            ledger = open_ledger()
        except WhoknowsError as exc:
            self._next_attempt = time.monotonic() + RETRY_SECONDS
            logger.error(f"whoknows: per-site settings are unavailable ({exc}); protection applies "
                         f"everywhere with the defaults until the ledger can be opened")
            return None
        self._owned_ledger = ledger
        self.store = SiteSettingsStore(ledger)
        return self.store

    def requestheaders(self, flow: http.HTTPFlow) -> None:
        if flow.response is not None:
            return
        flow.metadata[CONTEXT_KEY] = compute_context(flow.request, self._settings_store(), self.frames)

    def done(self) -> None:
        if self._owned_ledger is not None:
            self._owned_ledger.close()
            self._owned_ledger = None
            self.store = None
