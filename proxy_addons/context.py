"""What a request is and whose page made it, worked out once per request for every whoknows addon.

First whoknows addon after `pac`. In `requestheaders` it stores a `FlowContext` in
`flow.metadata[flow_state.CONTEXT]`; later addons read it with `context_of(flow)`,
or `ensure_context(flow)`, which computes one without site settings if this addon is missing or
failed. Requests the proxy already answered (the PAC file) get none.

The description and the site part come from the core (`whoknows.decision.describe`, `site_part`),
the same code `whoknows check` runs. `FlowContext` fields:
- `request_site`: the registrable domain of the request's host (`sites.site_of`); None for IP
  addresses and single-label hosts.
- `page_site`: the site of the page that caused the request: the request's own site for a
  top-level document; else the site of `Referer`, else of `Origin`; else, when `Sec-Fetch-Site`
  says same-origin/same-site, the request's site; else None (unknown). A proxy sees only the
  immediate initiator: requests made by a frame carry the frame's page, not the top-level one;
  when that frame is one the proxy served (`whoknows.frames.FrameMemory`, filled by the frames
  addon), `page_site` is the top-level site that embedded it (the description's `top_site`), so
  that site's settings and cookie rules apply (`source` and `third_party` stay the frame's: the
  filter lists judge by the frame, as uBlock Origin does).
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
- `description`: the `whoknows.decision.RequestDescription` the decision's parts are asked about;
- `site`: the decision's `SitePart` (paused, allowed third party, and why);
- `defaults`: the cookie and leak modes of sites without their own (`ProtectionDefaults`);
- `navigation` (property): `type == "document"`, a top-level navigation.

Site settings come from a `SiteSettingsStore` on the proxy's own ledger connection, opened at
`running`: in memory, re-read within half a second of a change made by another process (and at
once when the control API asks: `follow_ledger`); the learned trackers
(`whoknows.learned_trackers`) are re-read with them. If the
ledger cannot be opened the proxy runs with default settings (logged) and tries again every
`RETRY_SECONDS`.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass

from mitmproxy import http

from proxy_addons import flow_state
from proxy_addons.mitmproxy_shortcuts import lowercase_map
from proxy_addons.safety import observer
from whoknows.cookies import CookiePolicy
from whoknows.decision import RequestDescription
from whoknows.decision import SitePart
from whoknows.decision import TrackerKnowledge
from whoknows.decision import describe
from whoknows.decision import site_part
from whoknows.errors import WhoknowsError
from whoknows.frames import FrameMemory
from whoknows.identifiers import SharedIdentifiers
from whoknows.learned_trackers import LearnedTrackers
from whoknows.site_settings import DEFAULT
from whoknows.site_settings import ProtectionDefaults
from whoknows.site_settings import SiteSettings
from whoknows.site_settings import SiteSettingsStore

logger = logging.getLogger("whoknows.proxy")

CONTEXT_KEY = flow_state.CONTEXT
RETRY_SECONDS = 10.0
_DEFAULT_POLICY = CookiePolicy()
_DEFAULTS = ProtectionDefaults()


@dataclass(slots=True)  # a value made per request: not frozen, see docs/architecture.md
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
    description: RequestDescription | None = None  # what `whoknows.decision` decides over
    site: SitePart | None = None  # the decision's site part (paused, allowed third party, why)
    defaults: ProtectionDefaults = _DEFAULTS
    knowledge: tuple[TrackerKnowledge, ...] = ()  # what the proxy learned of trackers (the decision's)
    shared_identifiers: SharedIdentifiers | None = None  # one of them: the leaks addon adds to it

    @property
    def navigation(self) -> bool:
        return self.type == "document"


def compute_context(request: http.Request, store: SiteSettingsStore | None,
                    shared: SharedIdentifiers | None = None, frames: FrameMemory | None = None,
                    knowledge: tuple[TrackerKnowledge, ...] | None = None) -> FlowContext:
    """The context of one request; `store` None means default settings everywhere. `knowledge`:
    what the proxy learned of trackers (default: `shared` alone)."""
    # Why (speed only): `request_context` looks up about eight headers and, on a miss, scans every
    # header for a differently-cased name; on mitmproxy's `Headers` every lookup and every scan
    # decodes all the fields again: ~55 us a request, against ~3 us with one pass into a dict.
    headers = lowercase_map(request.headers)
    description = describe(request.url, request.host, headers, request.method,
                           top_site_of=None if frames is None else frames.top_site)
    settings = store.get(description.site) if store is not None else DEFAULT
    policy = store.cookie_policy() if store is not None else _DEFAULT_POLICY
    defaults = store.defaults() if store is not None else _DEFAULTS
    site = site_part(description, settings)
    return FlowContext(description.request_site, description.page_site, description.type,
                       description.source, description.third_party, site.paused, settings,
                       site.allowed_third_party, policy, description, site, defaults,
                       knowledge if knowledge is not None else () if shared is None else (shared,), shared)


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
        self.shared_identifiers = SharedIdentifiers()
        self.learned_trackers = LearnedTrackers()
        self.knowledge: tuple[TrackerKnowledge, ...] = (self.shared_identifiers, self.learned_trackers)
        self._learned_generation: int | None = None
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
        self._load_shared_identifiers(ledger)
        return self.store

    def _load_shared_identifiers(self, ledger) -> None:
        from whoknows.leak_records import shared_identifier_pairs

        try:
            self.shared_identifiers.replace_all(shared_identifier_pairs(ledger))
        except Exception as exc:  # noqa: BLE001 -- the proxy runs on; what is learned from now on still counts
            logger.warning(f"whoknows: cannot read the identifiers shared before ({type(exc).__name__}: {exc})")

    def _refresh_learned_trackers(self, store: SiteSettingsStore) -> None:
        """Re-read the learned trackers when the settings store saw the ledger change (its
        `generation` moves on every reload: another process's `trackers allow`, a flush that
        learned one), so the proxy follows within the store's refresh interval."""
        if store.generation == self._learned_generation:
            return
        self._learned_generation = store.generation
        from whoknows.learned_trackers import list_trackers

        try:
            self.learned_trackers.replace_all(list_trackers(store.ledger))
        except Exception as exc:  # noqa: BLE001 -- keep the list last read
            logger.warning(f"whoknows: cannot read the learned trackers ({type(exc).__name__}: {exc})")

    def follow_ledger(self, force: bool = False) -> None:
        """Re-read the site settings and the learned trackers now if another connection changed
        the ledger (`force`: reload the settings anyway). For the control API, on the event loop's
        thread (the store's connection belongs to it), before it answers: so the popup shows
        another process's `trackers allow` or `site pause` at once, not after the browser's next
        request. Cheap when nothing changed: one `PRAGMA data_version`."""
        store = self._settings_store()
        if store is not None:
            store.refresh(force=force)
            self._refresh_learned_trackers(store)

    @observer
    def requestheaders(self, flow: http.HTTPFlow) -> None:
        if flow.response is not None:
            return
        store = self._settings_store()
        if store is not None:
            store.maybe_refresh()
            self._refresh_learned_trackers(store)
        flow.metadata[CONTEXT_KEY] = compute_context(flow.request, store, self.shared_identifiers, self.frames,
                                                     self.knowledge)

    def done(self) -> None:
        if self._owned_ledger is not None:
            self._owned_ledger.close()
            self._owned_ledger = None
            self.store = None
