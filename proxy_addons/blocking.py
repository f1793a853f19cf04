"""Tracker blocking: the filter engine decides every request; blocked ones never leave the proxy.

The engine (`whoknows.filters.engine_cache.open_engine()`: the subscribed lists, from their compiled
cache) is loaded at `running`, plus the filters in the file named by `whoknows_extra_filters`
(a list of your own, in uBlock Origin / Adblock Plus syntax; also how tests add theirs).

`whoknows lists update/add/remove` and edits of a subscribed local file apply without a restart:
at most every `whoknows_lists_check_interval` seconds (5; 0 never), a request that finds the check
due starts it on a thread of its own and goes on with the engine it has (the request path pays one
clock read). The thread compares `engine_cache.cache_key()` (a few milliseconds: it hashes the list
files) with the key of the engine in use and, if they differ, builds the new engine (from the cache the
CLI left, else by parsing) and swaps it in with one assignment; requests meanwhile use the old
one. A rebuild that fails logs one warning and keeps the old engine until the lists change again.
Why checks ride on requests rather than a timer thread: an idle proxy does no work at all.

In `requestheaders`, before any upstream connection is made (`whoknows proxy` runs mitmproxy with
`connection_strategy=lazy`, so this holds inside HTTPS tunnels too), each request is decided by
the core's filter part (`whoknows.decision.filter_part`, what `whoknows check` runs too): the
engine's match with the type, source and party from `proxy_addons.context`, or a block for a third
party the proxy learned is a tracker on the page's site (it received one of the site's
first-party identifiers: `whoknows.identifiers.SharedIdentifiers`, list `whoknows`). Skipped: requests the proxy already
answered, requests from a page whose site is paused, and requests to a third party the page's site
allows (`whoknows site allow-3p`). The decision goes in `flow.metadata[flow_state.FILTER]`
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

CNAME uncloaking: a request allowed under its own name (no filter, or only removeparam) whose host
the cname addon found to be an alias (`flow.metadata[flow_state.CANONICAL_NAMES]`) is matched again
under each canonical name (`whoknows.cname.uncloak`, inside the filter part); a block found there is
the decision, and the answer also says the canonical name in `x-whoknows-uncloaked`.

Tracker mark: `flow.metadata[flow_state.TRACKER] = True` when a block filter matched, whether the
request was blocked, redirected, or let through by an exception filter: an exception lifts the
block (the page needs the request), not what the destination is, so the signals addon still drops
the Referer. Requests to a third party the user allowed are not marked.
"""

from __future__ import annotations

import html
import logging
import math
import re
import threading
import time
from pathlib import Path

from mitmproxy import ctx
from mitmproxy import exceptions
from mitmproxy import http

from proxy_addons import flow_state
from proxy_addons.context import FlowContext
from proxy_addons.context import ensure_context
from proxy_addons.mitmproxy_shortcuts import FAST_RESPONSES
from proxy_addons.mitmproxy_shortcuts import fresh_response
from proxy_addons.mitmproxy_shortcuts import response_fields
from whoknows.decision import BLOCKING_ACTIONS
from whoknows.decision import filter_part
from whoknows.filters import Decision
from whoknows.filters import FilterEngine
from whoknows.filters import resource

logger = logging.getLogger("whoknows.proxy")

DECISION_KEY = flow_state.FILTER
TRACKER_KEY = flow_state.TRACKER
EXTRA_LIST_NAME = "extra-filters"
BLOCKED_HEADER = "x-whoknows-blocked"
UNCLOAKED_HEADER = "x-whoknows-uncloaked"  # the canonical name a blocked first-party subdomain was blocked as
CHECK_INTERVAL_OPTION = "whoknows_lists_check_interval"
DEFAULT_CHECK_INTERVAL = 5.0  # seconds
DONE_WAIT = 10.0  # seconds `done` waits for a rebuild in progress

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
        return _mark(http.Response.make(403, blocked_page(url, context, decision), BLOCKED_PAGE_HEADERS),
                     decision)
    status, body, fields = _FIXED_ANSWERS.get(kind) or _FIXED_ANSWERS["other"]
    if FAST_RESPONSES:
        return fresh_response(status, body, fields + _mark_fields(decision))
    return _mark(http.Response.make(status, body, fields), decision)


# Why (speed only): `Response.make` plus two header writes cost ~25 us of a blocked request (its
# data class type-checks every field in `__post_init__`, and every header write decodes the
# fields). The fixed answers are laid out once, as `Response.make` would lay them out, and each
# request gets its own objects with those values (`mitmproxy_shortcuts.fresh_response`).
def _fixed_answer(status: int, body: bytes, headers: dict[str, str]) -> tuple[int, bytes, tuple]:
    return status, body, response_fields(status, body, headers)


_FIXED_ANSWERS = {
    "subdocument": _fixed_answer(200, _EMPTY_FRAME[1], {"content-type": _EMPTY_FRAME[0]}),
    "image": _fixed_answer(200, _GIF_1X1[1], {"content-type": _GIF_1X1[0]}),
    "ping": _fixed_answer(204, b"", {}),
    "other": _fixed_answer(403, b"", {"content-type": "text/plain; charset=utf-8"}),
}


def _mark_fields(decision: Decision) -> tuple[tuple[bytes, bytes], ...]:
    """The header fields `_mark` appends (to a response that has neither header yet)."""
    note = f"{decision.list}: {decision.filter}"
    if _PLAIN_HEADER_VALUE.fullmatch(note):
        return (_NO_STORE, (_BLOCKED_HEADER_BYTES, note.encode("ascii")))
    return (_NO_STORE,)


_NO_STORE = (b"cache-control", b"no-store")
_BLOCKED_HEADER_BYTES = BLOCKED_HEADER.encode("ascii")


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


def parse_check_interval(text: str) -> float:
    try:
        seconds = float(text)
    except ValueError:
        seconds = math.nan
    if not 0 <= seconds < math.inf:  # also refuses NaN
        raise exceptions.OptionsError(f"{CHECK_INTERVAL_OPTION} must be a number of seconds, 0 (never) or more; "
                                      f"got {text!r}")
    return seconds


def _engine_for_lists() -> tuple[FilterEngine, str]:
    """The engine for the subscribed lists and the key of the list files it was built from."""
    from whoknows.filters import engine_cache

    loaded = engine_cache.open_engine()
    for warning in loaded.warnings:
        logger.warning(f"whoknows: {warning}")
    return loaded.engine, loaded.key


class Blocking:
    name = "whoknows_blocking"

    def __init__(self, engine: FilterEngine | None = None) -> None:
        self._given_engine = engine  # tests pass their own; else the subscribed lists
        self._engine = engine
        self._extra = ""
        self._extra_path = ""
        self._lists_key: str | None = None  # the list files the engine in use was built from
        self._failed_key: str | None = None  # lists whose rebuild failed: not retried until they change
        self._check_failing = False  # reading the lists' key failed last time (warned once)
        self._check_interval = DEFAULT_CHECK_INTERVAL
        self._next_check = math.inf  # no checks before `running`, nor with a given engine
        self._checker: threading.Thread | None = None
        # Guards (options generation, extra filters) against a rebuild swapping in an engine built
        # for options that changed while it ran; requests read `_engine` without it.
        self._swap = threading.Lock()
        self._generation = 0
        self._running = False

    def load(self, loader) -> None:
        loader.add_option("whoknows_extra_filters", str, "",
                          "A file of your own network filters (uBlock Origin / Adblock Plus syntax), "
                          "applied on top of the subscribed lists.")
        loader.add_option(CHECK_INTERVAL_OPTION, str, f"{DEFAULT_CHECK_INTERVAL:g}",  # --set parses no floats
                          "Seconds between checks for changed filter lists ('whoknows lists update', "
                          "'lists add', 'lists remove', an edited local list), applied without a "
                          "restart; 0 never checks.")

    def configure(self, updated: set[str]) -> None:
        if "whoknows_extra_filters" in updated:
            path = ctx.options.whoknows_extra_filters
            extra = _read_extra_filters(path) if path else ""
            with self._swap:
                self._extra, self._extra_path = extra, path
                self._generation += 1
                self._engine = None  # rebuilt at `running` or on the next request
        if CHECK_INTERVAL_OPTION in updated:
            self._check_interval = parse_check_interval(getattr(ctx.options, CHECK_INTERVAL_OPTION))
            if self._running:
                self._schedule_check()

    def running(self) -> None:
        self.engine()
        self._running = True
        self._schedule_check()

    def done(self) -> None:
        self._running = False
        self._next_check = math.inf
        checker = self._checker
        if checker is not None:
            checker.join(DONE_WAIT)  # a daemon thread: a rebuild that hangs cannot hold the exit

    def engine(self) -> FilterEngine:
        engine = self._engine
        if engine is None:
            engine = self._build()
        return engine

    def _build(self) -> FilterEngine:
        with self._swap:
            generation, extra = self._generation, self._extra
        key = None
        if self._given_engine is not None:
            engine = self._given_engine
        else:
            try:
                engine, key = _engine_for_lists()
            except Exception as exc:  # noqa: BLE001 -- the proxy must run; the extra filters still apply
                logger.error(f"whoknows: cannot load the filter lists ({type(exc).__name__}: {exc}); "
                             "blocking only with whoknows_extra_filters")
                engine = FilterEngine()
        self._add_extra(engine, extra)
        with self._swap:
            if generation == self._generation:
                self._engine, self._lists_key = engine, key
        return engine

    def _add_extra(self, engine: FilterEngine, extra: str) -> None:
        if extra:
            stats = engine.add_list(extra, EXTRA_LIST_NAME)
            logger.info(f"whoknows: {stats.filters_used} extra filters from {self._extra_path}")

    # -- noticing changed lists ---------------------------------------------------------------

    def _schedule_check(self) -> None:
        due = self._given_engine is None and self._check_interval > 0
        self._next_check = time.monotonic() + self._check_interval if due else math.inf

    def _start_check(self) -> None:
        """Run `check_lists` on a thread of its own, unless the last one is still at it."""
        self._schedule_check()
        if self._checker is not None and self._checker.is_alive():
            return
        self._checker = threading.Thread(target=self.check_lists, name="whoknows-lists-check", daemon=True)
        self._checker.start()

    def check_lists(self) -> bool:
        """Swap in an engine for the subscribed lists if they changed since the engine in use was
        built; True if it did. Blocks for the check and any rebuild: the proxy calls it on a thread
        of its own."""
        from whoknows.filters import engine_cache

        try:
            key = engine_cache.cache_key()
        except Exception as exc:  # noqa: BLE001 -- a broken lists.json must not stop the proxy
            if not self._check_failing:
                logger.warning(f"whoknows: cannot check the filter lists for changes ({type(exc).__name__}: "
                               f"{exc}); blocking with the lists loaded before")
            self._check_failing = True
            return False
        self._check_failing = False
        if key in (self._lists_key, self._failed_key):
            return False
        with self._swap:
            generation, extra = self._generation, self._extra
        try:
            engine, key = _engine_for_lists()
            self._add_extra(engine, extra)
        except Exception as exc:  # noqa: BLE001 -- keep blocking with what we have
            logger.warning(f"whoknows: the filter lists changed but cannot be loaded ({type(exc).__name__}: "
                           f"{exc}); blocking with the lists loaded before")
            self._failed_key = key
            return False
        with self._swap:
            if generation != self._generation:
                return False  # the options changed meanwhile: the next request builds with them
            self._engine, self._lists_key, self._failed_key = engine, key, None
        logger.info("whoknows: the filter lists changed; blocking with the new ones")
        return True

    def requestheaders(self, flow: http.HTTPFlow) -> None:
        if flow.response is not None:
            return
        if time.monotonic() >= self._next_check:
            self._start_check()
        context = ensure_context(flow)
        if context.paused or context.allowed_third_party:
            return
        url = flow.request.url
        part = filter_part(context.description, context.site, self.engine(), context.knowledge,
                           flow.metadata.get(flow_state.CANONICAL_NAMES))
        decision = part.decision
        flow.metadata[DECISION_KEY] = decision
        if part.tracker:
            flow.metadata[TRACKER_KEY] = True
        if decision.action == "redirect":
            flow.response = (redirect_response(flow.request, decision)
                             or blocked_response(context, url, decision))
        elif decision.action == "block":
            flow.response = blocked_response(context, url, decision)
        if part.uncloaked_as and flow.response is not None:
            flow.response.headers[UNCLOAKED_HEADER] = part.uncloaked_as
