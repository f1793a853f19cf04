"""Tracker blocking: the filter engine decides every request; blocked ones never leave the proxy.

The engine (`whoknows.filters.lists.load_engine()`: the subscribed lists, from their compiled
cache) is loaded at `running`, plus the filters in the file named by `whoknows_extra_filters`
(a list of your own, in uBlock Origin / Adblock Plus syntax; also how tests add theirs).

In `requestheaders`, before any upstream connection is made (`whoknows proxy` runs mitmproxy with
`connection_strategy=lazy`, so this holds inside HTTPS tunnels too), each request is matched
with the type, source and party from `proxy_addons.context`. Skipped: requests the proxy already
answered, requests from a page whose site is paused, and requests to a third party the page's site
allows (`whoknows site allow-3p`). The decision goes in `flow.metadata["whoknows.filter_decision"]`
(`whoknows.filters.Decision`: action, filter, list, redirect, clean_url, removed_params); the
params addon applies its `removeparam` result (`clean_url`).

What a blocked request gets. uBlock Origin cancels blocked requests, so the page sees a failed
load, and filter lists are tuned for exactly that (where a failure breaks a page, the lists add
`$redirect=` to a neutral resource). A proxy cannot fail one request without dropping the
connection it shares with others, so it answers with what makes the browser see the same
failure, except where a failure would show on the page:
- `redirect` filters: the named neutral resource (`noop.js`, `1x1.gif`, ...), 200, readable
  cross-origin, as uBO serves it;
- top-level document: 403 and a short page saying whoknows blocked it, with the filter and how
  to pause protection for the site;
- subdocument (frame): 200 with an empty HTML page (uBO's error frame would show in the slot);
- image: 200 with a transparent 1x1 GIF (without element hiding, a failed image can show as a
  broken-image icon);
- ping and beacons: 204 (nothing is read from them);
- everything else (script, stylesheet, xmlhttprequest, font, media, websocket, other): 403 with an
  empty body: a script's `onerror` fires and a cross-origin fetch fails, as with uBO.
Every such answer is `cache-control: no-store` (a block must end when protection is paused) and
says which filter blocked it in `x-whoknows-blocked`.

Tracker mark: `flow.metadata["whoknows.tracker"] = True` when a block filter matched, whether the
request was blocked, redirected, or let through by an exception filter: an exception lifts the
block (the page needs the request), not what the destination is, so the signals addon still drops
the Referer. Requests to a third party the user allowed are not marked.
"""

from __future__ import annotations

import html
import logging
import re
from pathlib import Path

from mitmproxy import ctx
from mitmproxy import exceptions
from mitmproxy import http

from proxy_addons.context import FlowContext
from proxy_addons.context import ensure_context
from proxy_addons.signals import TRACKER_KEY
from whoknows.filters import Decision
from whoknows.filters import FilterEngine
from whoknows.filters import resource

logger = logging.getLogger("whoknows.proxy")

DECISION_KEY = "whoknows.filter_decision"
EXTRA_LIST_NAME = "extra-filters"
BLOCKED_HEADER = "x-whoknows-blocked"
BLOCKING_ACTIONS = frozenset({"block", "redirect"})
TRACKER_ACTIONS = frozenset({"block", "redirect", "exception"})

BLOCKED_PAGE_HEADERS = {
    "content-type": "text/html; charset=utf-8",
    "content-security-policy": "default-src 'none'; style-src 'unsafe-inline'",
    "referrer-policy": "no-referrer",
}

_GIF_1X1 = resource("1x1.gif")
_EMPTY_FRAME = resource("noop.html")
_PLAIN_HEADER_VALUE = re.compile(r"[\x20-\x7e]*")


def blocked_response(context: FlowContext, url: str, decision: Decision) -> http.Response:
    """The answer to a request a block filter stopped (see the module docstring for the why)."""
    kind = context.type
    if kind == "document":
        response = http.Response.make(403, blocked_page(url, context, decision), BLOCKED_PAGE_HEADERS)
    elif kind == "subdocument":
        response = http.Response.make(200, _EMPTY_FRAME[1], {"content-type": _EMPTY_FRAME[0]})
    elif kind == "image":
        response = http.Response.make(200, _GIF_1X1[1], {"content-type": _GIF_1X1[0]})
    elif kind == "ping":
        response = http.Response.make(204)
    else:
        response = http.Response.make(403, b"", {"content-type": "text/plain; charset=utf-8"})
    return _mark(response, decision)


def redirect_response(request: http.Request, decision: Decision) -> http.Response | None:
    """The neutral resource a `$redirect` filter names; None if it is unknown."""
    try:
        content_type, body = resource(decision.redirect or "")
    except KeyError:
        return None
    response = http.Response.make(200, body, {"content-type": content_type})
    origin = request.headers.get("origin")
    if origin and origin != "null":  # readable by the page, as uBO's redirect resources are
        response.headers["access-control-allow-origin"] = origin
        response.headers["access-control-allow-credentials"] = "true"
        response.headers["vary"] = "origin"
    return _mark(response, decision)


def _mark(response: http.Response, decision: Decision) -> http.Response:
    response.headers["cache-control"] = "no-store"
    note = f"{decision.list}: {decision.filter}"
    if _PLAIN_HEADER_VALUE.fullmatch(note):
        response.headers[BLOCKED_HEADER] = note
    return response


def blocked_page(url: str, context: FlowContext, decision: Decision) -> str:
    from whoknows.directory import tracker_owner

    site = context.request_site
    owner = tracker_owner(site) if site else None
    run_by = f" (run by {html.escape(owner)})" if owner else ""
    pause = (f"<p>If you need this page, pause protection for its site and reload:<br>"
             f"<code>whoknows site pause {html.escape(site)}</code></p>") if site else ""
    return (
        "<!doctype html>\n<html><head><meta charset=\"utf-8\"><title>Blocked by whoknows</title>"
        "<style>body{font:16px/1.5 system-ui,sans-serif;max-width:40em;margin:3em auto;padding:0 1em}"
        "code{word-break:break-all}</style></head>\n<body>\n"
        "<h1>whoknows blocked this page</h1>\n"
        f"<p><code>{html.escape(url)}</code>{run_by} is on a tracker list.</p>\n"
        f"<p>Filter <code>{html.escape(decision.filter or '?')}</code> "
        f"from the list <code>{html.escape(decision.list or '?')}</code>.</p>\n"
        f"{pause}\n</body></html>\n"
    )


def _read_extra_filters(path: str) -> str:
    try:
        return Path(path).expanduser().read_text(encoding="utf-8-sig", errors="replace")
    except OSError as exc:
        raise exceptions.OptionsError(
            f"whoknows_extra_filters: cannot read {path}: {exc.strerror or exc}") from None


class Blocking:
    name = "whoknows_blocking"

    def __init__(self, engine: FilterEngine | None = None) -> None:
        self._given_engine = engine  # tests pass their own; else the subscribed lists
        self._engine = engine
        self._extra = ""

    def load(self, loader) -> None:
        loader.add_option("whoknows_extra_filters", str, "",
                          "A file of your own network filters (uBlock Origin / Adblock Plus syntax), "
                          "applied on top of the subscribed lists.")

    def configure(self, updated: set[str]) -> None:
        if "whoknows_extra_filters" in updated:
            path = ctx.options.whoknows_extra_filters
            self._extra = _read_extra_filters(path) if path else ""
            self._engine = None  # rebuilt at `running` or on the next request

    def running(self) -> None:
        self.engine()

    def engine(self) -> FilterEngine:
        if self._engine is None:
            self._engine = self._build()
        return self._engine

    def _build(self) -> FilterEngine:
        if self._given_engine is not None:
            engine = self._given_engine
        else:
            from whoknows.filters.lists import load_engine

            try:
                engine = load_engine()
            except Exception as exc:  # noqa: BLE001 -- the proxy must run; the extra filters still apply
                logger.error(f"whoknows: cannot load the filter lists ({type(exc).__name__}: {exc}); "
                             "blocking only with whoknows_extra_filters")
                engine = FilterEngine()
        if self._extra:
            stats = engine.add_list(self._extra, EXTRA_LIST_NAME)
            logger.info(f"whoknows: {stats.filters_used} extra filters from "
                        f"{ctx.options.whoknows_extra_filters}")
        return engine

    def requestheaders(self, flow: http.HTTPFlow) -> None:
        if flow.response is not None:
            return
        context = ensure_context(flow)
        if context.paused or context.allowed_third_party:
            return
        url = flow.request.url
        decision = self.engine().match(url, context.type, context.source, context.third_party)
        flow.metadata[DECISION_KEY] = decision
        if decision.action in TRACKER_ACTIONS:
            flow.metadata[TRACKER_KEY] = True
        if decision.action == "redirect":
            flow.response = (redirect_response(flow.request, decision)
                             or blocked_response(context, url, decision))
        elif decision.action == "block":
            flow.response = blocked_response(context, url, decision)
