"""Leaks: the person's own values (and aliases) in outgoing requests, recorded in the ledger.

Every request is searched once (`whoknows.leakscan.LeakScanner`: one Aho-Corasick pass over the
URL, the header values and up to 64 KB of the body) for every watched value in every encoding
trackers use. What a match means is `whoknows.leak_records.classify`'s decision: a disclosure to
the page's own site (source `form`), or a leak to another site (and a disclosure to it, source
`leak`); a request the blocking addon stopped is an attempted leak (`blocked`).

A streamed request body (above `stream_large_bodies`, or chunked: `proxy_addons.streaming`) is
never held whole: its first 64 KB are kept as they pass (`BodyPrefix`: the part of a body a
buffered request has searched too) and the request is searched once its body has passed, or when
it fails half-way (the part that left is searched). A blocked request whose body would have
streamed is cut off at its headers: its URL and headers are searched (an attempted leak). What
lies past the first 64 KB of a body, streamed or not, is not searched.

In the chain after every addon that changes requests (params, cookies, signals), so what is
searched is what actually leaves; before `observation`. Requests from a paused site's pages, and
requests the proxy answered itself (the PAC file), are left alone. A request whose page is
unknown is attributed as the observation addon does: to its own site when it is not known to be
third-party, else to nobody (skipped).

The values come from `whoknows.leak_records.ValueWatcher` (loaded at `running`, re-read within a
second of a change by `whoknows me add` or a new alias). Matches are batched in memory and written
by `LeakFlusher` on its own thread every few seconds and at shutdown: the request path never
touches SQLite.

Reading (any thread): `ctx.master.addons.get("whoknows_leaks").snapshot("vendor.test")` gives the
distinct leaks, attempted leaks and disclosures seen on that site's pages since the proxy started.
"""

from __future__ import annotations

import io
import logging
import zlib

import brotli  # mitmproxy's own decoders' libraries
import zstandard
from mitmproxy import ctx
from mitmproxy import http

from proxy_addons.blocking import BLOCKING_ACTIONS
from proxy_addons.blocking import DECISION_KEY
from proxy_addons.context import FlowContext
from proxy_addons.context import context_of
from proxy_addons.context import ensure_context
from proxy_addons.mitmproxy_shortcuts import folded_value
from whoknows.directory import tracker_owner
from whoknows.leak_records import FoundValue
from whoknows.leak_records import LeakFlusher
from whoknows.leak_records import PendingLeaks
from whoknows.leak_records import ValueWatcher
from whoknows.leak_records import classify
from whoknows.leakscan import DEFAULT_MAX_TEXT
from whoknows.leakscan import redact_url

logger = logging.getLogger("whoknows.proxy")

ENABLE_OPTION = "whoknows_leaks"
SCANNED_KEY = "whoknows.leaks_scanned"  # flow metadata: this request was searched (once is enough)
# flow metadata: the values found in this request ([FoundValue]), for `company_sightings`
FOUND_KEY = "whoknows.leaks_found"
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
        # A body streamed from here on (`proxy_addons.streaming` or mitmproxy's threshold decided so
        # before this hook) is kept only as far as the scan reads.
        scanner = self.watcher.scanner
        if flow.request.stream is True and scanner is not None and self.enabled:
            flow.request.stream = BodyPrefix(scanner.max_text)

    def request(self, flow: http.HTTPFlow) -> None:
        self._scan(flow)

    def error(self, flow: http.HTTPFlow) -> None:
        # Failed before the `request` hook: a streamed body cut short (what passed has left), or
        # a blocked request cut off at its headers (proxy_addons.streaming). A buffered body that
        # failed never left.
        if flow.metadata.get(SCANNED_KEY):
            return
        if isinstance(flow.request.stream, BodyPrefix) or flow.response is not None:
            self._scan(flow)

    def _scan(self, flow: http.HTTPFlow) -> None:
        scanner = self.watcher.scanner
        if scanner is None or not self.enabled or flow.metadata.get(SCANNED_KEY):
            return
        flow.metadata[SCANNED_KEY] = True
        streamed = isinstance(flow.request.stream, BodyPrefix)
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
        page = page_site_of(context)
        if page is None:
            return
        request = flow.request
        fields = request.headers.fields
        # Why (speed only): `headers.get` decodes every field; this is its answer from the raw ones.
        matches = scanner.scan(request.url, fields, request_body(request, scanner.max_text),
                               folded_value(fields, b"content-type"))
        if not matches:
            return
        found = [FoundValue(m.value_id.kind, m.value_id.ref, m.encoding, m.form, m.where) for m in matches]
        flow.metadata[FOUND_KEY] = found
        own = context.request_site == page
        company = None if own else tracker_owner(request.host)
        self.pending.record(classify(page, context.request_site, request.host, request.method,
                                     redact_url(request.url), found, blocked, company))
