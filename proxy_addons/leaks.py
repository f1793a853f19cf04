"""Leaks: the person's own values (and aliases), and the page's first-party identifiers, kept from
other sites; what was seen and what was stopped, recorded in the ledger.

Every request is searched once (`whoknows.leakscan.LeakScanner`: one Aho-Corasick pass over the
URL, the header values and up to 64 KB of the body) for every watched value in every encoding
trackers use. What a match means is the core's leak part (`whoknows.decision.leak_part`, what
`whoknows check` runs too):
- to the page's own site (a form, a login): a disclosure, recorded (`whoknows.leak_records`),
  never stopped;
- to another site, by the page site's leak mode (`whoknows site leaks SITE MODE`, else the default,
  `--default`; `block` unless set): `block` answers the request as a blocked tracker request is
  answered (`proxy_addons.blocking.blocked_response`: nothing leaves) and records the leak as
  prevented; `scrub` removes the query parameter, form field, JSON member, cookie or header that
  carries the value (`whoknows.scrub`) and sends the rest, or stops the request when the value
  sits where nothing smaller can go (the path, a non-JSON body); `report` sends it and records the
  leak (before issue 13 the only behaviour). A third party the site lets in (`site allow-3p`: logins,
  payments) is never stopped, only recorded;
- a request a filter list blocked is an attempted leak (`blocked`, stopped by `filter`).

Identifier sharing (`whoknows.identifiers`): the Cookie headers a site's pages send to the site
itself, and the Set-Cookie lines it answers with, tell the site's first-party identifiers
(`FirstPartyIds`); one of them in a request from the site's pages to another site is removed
(as `scrub` removes a value) or, when it cannot be, the request is stopped; the sharing is
recorded (`shared_identifiers`), and that third party is a tracker on that site from then on
(the context addon's `SharedIdentifiers`, which the blocking addon consults).

Streamed request bodies (above `stream_large_bodies`, or chunked: `proxy_addons.streaming`) leave as
they arrive, so they cannot be stopped once they flow: their URL and headers are searched at
`requestheaders`, before anything leaves, and stopped or scrubbed there like any request; their
body's first 64 KB are kept as they pass (`BodyPrefix`) and searched once the body has passed (or
failed half-way): a value found there has left, and is recorded as leaked. A blocked request whose
body would have streamed is cut off at its headers. Past the first 64 KB nothing is searched.

In the chain after every addon that changes requests (params, cookies, signals), so what is
searched is what actually leaves; before `observation`. Requests from a paused site's pages, and
requests the proxy answered itself (the PAC file), are left alone. A request whose page is
unknown is attributed as the observation addon does: to its own site when it is not known to be
third-party, else to nobody (skipped).

The values come from `whoknows.leak_records.ValueWatcher` (loaded at `running`, re-read within a
second of a change by `whoknows me add` or a new alias). What is found is batched in memory and
written by `LeakFlusher` on its own thread every few seconds and at shutdown: the request path
never touches SQLite.

Reading (any thread): `ctx.master.addons.get("whoknows_leaks").snapshot("vendor.test")` gives the
distinct leaks, attempted leaks, prevented leaks, disclosures and shared identifiers seen on that
site's pages since the proxy started.
"""

from __future__ import annotations

import io
import logging
import zlib

import brotli  # mitmproxy's own decoders' libraries
import zstandard
from mitmproxy import ctx
from mitmproxy import http

from proxy_addons import flow_state
from proxy_addons.blocking import blocked_response
from proxy_addons.context import FlowContext
from proxy_addons.context import context_of
from proxy_addons.context import ensure_context
from proxy_addons.mitmproxy_shortcuts import folded_value
from proxy_addons.mitmproxy_shortcuts import values_of
from proxy_addons.safety import observer
from proxy_addons.streaming import chunked
from whoknows.decision import BLOCKING_ACTIONS
from whoknows.decision import WHOKNOWS_LIST
from whoknows.decision import IdentifierPart
from whoknows.decision import LeakPart
from whoknows.decision import identifier_part
from whoknows.decision import leak_part
from whoknows.directory import tracker_owner
from whoknows.filters import Decision
from whoknows.identifiers import FirstPartyIds
from whoknows.identifiers import carries_text
from whoknows.leak_records import FoundValue
from whoknows.leak_records import LeakFlusher
from whoknows.leak_records import PendingLeaks
from whoknows.leak_records import SharedIdKey
from whoknows.leak_records import ValueWatcher
from whoknows.leak_records import classify
from whoknows.leakscan import DEFAULT_MAX_TEXT
from whoknows.leakscan import redact_url
from whoknows.scrub import scrub_request

logger = logging.getLogger("whoknows.proxy")

ENABLE_OPTION = "whoknows_leaks"
SCANNED_KEY = flow_state.LEAKS_SCANNED
FOUND_KEY = flow_state.LEAKS_FOUND  # the values that left with this request, for `company_sightings`
VERDICT_KEY = flow_state.LEAK_VERDICT
DECISION_KEY = flow_state.FILTER
# A compressed body is decoded to be searched only up to this size, and then only as far as the
# scan reads (64 KB); bigger compressed uploads are searched in URL and headers only.
MAX_DECODED_BODY = 1024 * 1024


def page_site_of(context: FlowContext) -> str | None:
    """The site whose page made the request; None when nobody can be named."""
    if context.page_site is not None:
        return context.page_site
    return None if context.third_party else context.request_site


class BodyPrefix:
    """A streamed request body's `stream` function (mitmproxy calls it with each chunk, and with
    b"" at the end): passes every chunk on unchanged, keeping the body's first `limit` bytes."""

    __slots__ = ("limit", "data")

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.data = bytearray()

    def __call__(self, chunk: bytes) -> bytes:
        missing = self.limit - len(self.data)
        if missing > 0 and chunk:
            self.data += chunk[:missing]
        return chunk


_BODILESS_METHODS = frozenset({"GET", "HEAD", "OPTIONS", "TRACE"})


def body_follows(request: http.Request) -> bool:
    """A body may come after these request headers: chunked, a non-zero Content-Length, or a method
    that carries one (over HTTP/2 a body needs no Content-Length)."""
    headers = request.headers
    if chunked(headers):
        return True
    length = headers.get("content-length", "").strip()
    if length and length != "0":
        return True
    return request.method.upper() not in _BODILESS_METHODS


def request_body(request: http.Request, limit: int = DEFAULT_MAX_TEXT) -> bytes:
    """The body as the server reads it (of a streamed body, its start that `BodyPrefix` kept); a
    compressed one decoded only as far as the scan reads (`limit` bytes). Any page's script may
    send a Content-Encoding: 1 MB of gzip inflates to 1 GB."""
    raw = bytes(request.stream.data) if isinstance(request.stream, BodyPrefix) else request.raw_content
    if not raw:
        return b""
    encoding = request.headers.get("content-encoding")
    if encoding is None:
        return raw
    if len(raw) > MAX_DECODED_BODY:
        return b""
    return decoded_prefix(raw, encoding.strip().lower(), limit)


def decoded_prefix(raw: bytes, encoding: str, limit: int) -> bytes:
    """The first `limit` bytes of `raw` decoded as mitmproxy decodes `encoding`; `raw` itself when
    the encoding is unknown or the body does not decode (as mitmproxy's non-strict `get_content`)."""
    try:
        if encoding == "gzip":  # gzip or zlib framing, told apart by zlib (as mitmproxy does)
            return zlib.decompressobj(32 + zlib.MAX_WBITS).decompress(raw, limit)
        if encoding == "deflate":  # zlib framing, else raw deflate as some clients send it
            try:
                return zlib.decompressobj().decompress(raw, limit)
            except zlib.error:
                return zlib.decompressobj(-zlib.MAX_WBITS).decompress(raw, limit)
        if encoding == "br":
            return brotli.Decompressor().process(raw, output_buffer_limit=limit)[:limit]
        if encoding == "zstd":
            reader = zstandard.ZstdDecompressor().stream_reader(io.BytesIO(raw), read_across_frames=True)
            return reader.read(limit)
    except (zlib.error, brotli.error, zstandard.ZstdError):
        pass
    return raw


class Leaks:
    name = "whoknows_leaks"

    def __init__(self, watcher: ValueWatcher | None = None, pending: PendingLeaks | None = None,
                 flusher: LeakFlusher | None = None, open_ledger=None) -> None:
        if open_ledger is None:
            from whoknows.ledger import open_ledger
        self.watcher = watcher if watcher is not None else ValueWatcher(open_ledger)
        self.pending = pending if pending is not None else PendingLeaks()
        self.flusher = flusher if flusher is not None else LeakFlusher(self.pending, open_ledger)
        self.enabled = True
        self.first_party_ids = FirstPartyIds()

    def load(self, loader) -> None:
        loader.add_option(ENABLE_OPTION, bool, True,
                          "Look for your own values ('whoknows me') and aliases in outgoing requests, "
                          "and record where they go ('whoknows leaks').")

    def configure(self, updated: set[str]) -> None:
        if ENABLE_OPTION in updated:
            self.enabled = getattr(ctx.options, ENABLE_OPTION)

    def running(self) -> None:
        self.watcher.load_now()  # before the first request: a few milliseconds for 50 values
        self.watcher.start()
        self.flusher.start()

    def done(self) -> None:
        self.watcher.stop()
        self.flusher.stop()

    def snapshot(self, site: str) -> dict[str, int]:
        return self.pending.snapshot(site)

    def requestheaders(self, flow: http.HTTPFlow) -> None:
        if flow.response is not None:
            return
        context = context_of(flow)
        if context is not None and not context.paused:
            self._note_first_party_cookies(flow, context)
        # A body streamed from here on (`proxy_addons.streaming` or mitmproxy's threshold decided so
        # before this hook) is kept only as far as the scan reads; its URL and headers are decided now.
        scanner = self.watcher.scanner
        if flow.request.stream is True and self.enabled:
            if not body_follows(flow.request):
                # Streamed only in name (`proxy_addons.streaming` marks every request without a
                # declared length): its headers leave after this hook, so it is decided now, and
                # it can be answered like any request.
                flow.request.stream = False
                self._decide(flow, early=True)
                if flow.response is None:
                    flow.request.stream = True
                return
            if scanner is not None:
                flow.request.stream = BodyPrefix(scanner.max_text)
            self._decide(flow, early=True)

    def _note_first_party_cookies(self, flow: http.HTTPFlow, context: FlowContext) -> None:
        description = context.description
        site = description.site if description is not None else None
        if site is None or description.request_site != site:
            return
        # Why (speed only): raw fields; most requests carry one Cookie field, which repeats verbatim.
        sent = values_of(flow.request.headers.fields, b"cookie")
        if sent:
            self.first_party_ids.note_cookie_header(site, "; ".join(sent))

    @observer
    def responseheaders(self, flow: http.HTTPFlow) -> None:
        context = context_of(flow)
        if context is None or context.paused or flow.response is None or context.description is None:
            return
        description = context.description
        site = description.site
        if site is None or description.request_site != site:
            return
        lines = values_of(flow.response.headers.fields, b"set-cookie")
        if lines:
            self.first_party_ids.note_set_cookies(site, lines)

    def request(self, flow: http.HTTPFlow) -> None:
        self._decide(flow)

    def error(self, flow: http.HTTPFlow) -> None:
        # Failed before the `request` hook: a streamed body cut short (what passed has left), or
        # a blocked request cut off at its headers (proxy_addons.streaming). A buffered body that
        # failed never left.
        if flow.metadata.get(SCANNED_KEY):
            return
        if isinstance(flow.request.stream, BodyPrefix) or flow.response is not None:
            self._decide(flow)

    def _decide(self, flow: http.HTTPFlow, early: bool = False) -> None:
        """Search the request, decide (the core's leak and identifier parts), act and record."""
        if not self.enabled or flow.metadata.get(SCANNED_KEY):
            return
        streamed = bool(flow.request.stream)
        decided_early = flow.metadata.get(VERDICT_KEY) is not None
        if decided_early and not early and not isinstance(flow.request.stream, BodyPrefix) \
                and not flow.request.raw_content:
            return  # decided at its headers, and no body came after them
        if not early:
            flow.metadata[SCANNED_KEY] = True
        context = context_of(flow)
        if context is None:
            if flow.response is not None:
                return  # answered before anyone looked at it (the PAC file)
            context = ensure_context(flow)
        if context.paused:
            return
        blocked = False
        if flow.response is not None:
            decision = flow.metadata.get(DECISION_KEY)
            if decision is not None and decision.action in BLOCKING_ACTIONS:
                blocked = True
            elif not streamed:  # (a streamed request's server may answer before its body ends)
                return  # answered by the proxy for another reason: nothing left the machine
        description = context.description
        page = page_site_of(context)
        if page is None or description is None:
            return
        request = flow.request
        fields = request.headers.fields
        scanner = self.watcher.scanner
        body = b"" if early else request_body(request, scanner.max_text if scanner else DEFAULT_MAX_TEXT)
        content_type = folded_value(fields, b"content-type")
        matches = scanner.scan(request.url, fields, body, content_type) if scanner is not None else []
        if decided_early:  # URL and headers were decided at the headers; only the body is new
            matches = [m for m in matches if m.where == "body"]
        shared: list[str] = []
        if not blocked and not (streamed and not early):  # (a streamed body has left: nothing to strip)
            if description.to_another_site and not context.allowed_third_party:
                shared = self.first_party_ids.find(description.site, request.url, fields, body)
        if not matches and not shared:
            if early:
                flow.metadata[VERDICT_KEY] = LeakPart("none")
            return
        if blocked:
            self._record(context, flow, page, matches, "filter")
            return
        leak = leak_part(description, context.site, matches, context.defaults.leak_mode,
                         streamed_body=streamed and not early)
        identifiers = IdentifierPart("none")
        ids = self.first_party_ids.of(description.site) if shared else {}
        if shared:
            scrubbable = early or not streamed
            identifiers = identifier_part(description, context.site, shared, scrubbable)
        stop = leak.action == "block" or identifiers.action == "block"
        if not stop and (leak.action == "scrub" or identifiers.action == "strip"):
            stop = not self._scrub(flow, leak.action == "scrub", [ids[name] for name in shared if name in ids])
        if early:
            flow.metadata[VERDICT_KEY] = leak
        elif leak.action != "none":
            flow.metadata[VERDICT_KEY] = leak
        if stop:
            self._stop(flow, context, leak, identifiers, streamed)
        stopped_by = ("prevention" if stop else "scrub" if leak.action == "scrub" else None)
        if leak.action in ("block", "scrub", "report", "disclosure"):
            self._record(context, flow, page, matches, stopped_by if leak.action != "disclosure" else None)
        if identifiers.action in ("strip", "block") and description.request_site is not None:
            action = "block" if stop else "strip"
            self.pending.record([(SharedIdKey(page, name, description.request_site, request.host, action), {})
                                 for name in identifiers.cookies])
            if context.shared_identifiers is not None:
                for name in identifiers.cookies:
                    context.shared_identifiers.add(page, description.request_site, name)

    def _scrub(self, flow: http.HTTPFlow, values_too: bool, identifier_values: list[str]) -> bool:
        """Remove what carries a value or an identifier; False when it cannot be done."""
        request = flow.request
        scanner = self.watcher.scanner
        id_carries = carries_text(identifier_values) if identifier_values else None
        leak_carries = (lambda text: bool(scanner.scan(text))) if values_too and scanner is not None else None

        def carries(text: str) -> bool:
            return bool((leak_carries and leak_carries(text)) or (id_carries and id_carries(text)))

        def body_carries(data: bytes, content_type: str | None) -> bool:
            if leak_carries and scanner.scan("", (), data, content_type):
                return True
            return bool(id_carries and id_carries(data.decode("utf-8", "replace")))

        streamed = bool(request.stream)
        body = b""
        if not streamed and request.raw_content:
            # Decoded no further than MAX_DECODED_BODY: a small compressed body may inflate to gigabytes.
            encoding = (request.headers.get("content-encoding") or "").strip().lower()
            raw = request.raw_content
            body = decoded_prefix(raw, encoding, MAX_DECODED_BODY + 1) if encoding else raw
            if len(body) > MAX_DECODED_BODY or (encoding and body is raw):
                return False  # too big, or not readable back: what carries the value cannot be taken out
        headers = [(name.decode("utf-8", "surrogateescape"), value.decode("utf-8", "surrogateescape"))
                   for name, value in request.headers.fields]
        scrubbed = scrub_request(request.url, headers, body, request.headers.get("content-type"),
                                 carries, body_carries)
        if scrubbed is None:
            return False
        if scrubbed.url != request.url:
            request.url = scrubbed.url
        for name, value in scrubbed.headers:
            if value is None:
                request.headers.pop(name, None)
            else:
                request.headers[name] = value
        if scrubbed.body is not None and not streamed:
            request.content = scrubbed.body
        return True

    def _stop(self, flow: http.HTTPFlow, context: FlowContext, leak: LeakPart, identifiers: IdentifierPart,
              streamed: bool) -> None:
        """Answer the request as a blocked one (a streamed one is cut off: mitmproxy cannot answer
        a request while it streams its body)."""
        if streamed:
            flow.kill()
            return
        what = ("your " + "/".join(sorted({m.kind for m in leak.matches})) if leak.action == "block"
                else "identifier " + ", ".join(identifiers.cookies))
        decision = Decision("block", filter=f"leak prevention: {what}", list=WHOKNOWS_LIST)
        flow.response = blocked_response(context, flow.request.url, decision)

    def _record(self, context: FlowContext, flow: http.HTTPFlow, page: str, matches, stopped_by: str | None) -> None:
        if not matches:
            return
        request = flow.request
        found = [FoundValue(m.value_id.kind, m.value_id.ref, m.encoding, m.form, m.where) for m in matches]
        if stopped_by is None:
            flow.metadata[FOUND_KEY] = found
        own = context.request_site == page
        company = None if own else tracker_owner(request.host)
        self.pending.record(classify(page, context.request_site, request.host, request.method,
                                     redact_url(request.url), found, stopped_by is not None, company,
                                     stopped_by))
