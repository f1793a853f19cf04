"""Streaming: bodies pass through as they arrive, so no body is held whole in memory.

mitmproxy reads a whole body before its `request` or `response` hook and only then forwards it.
What is streamed instead (chunks go on as they come; the `request`/`response` hook runs at the end
of the body, which is then not kept):
- a body larger than `stream_large_bodies`, mitmproxy's own option and rule (`whoknows proxy` sets
  it to `DEFAULT_STREAM_THRESHOLD`, 1 MB; `--set stream_large_bodies=10m` changes it, mitmproxy
  validates it; `mitmdump -s proxy_addons/whoknows.py` streams by size only with that option set);
- here, whatever its size: every response whose length is not declared (no `Content-Length`:
  chunked, or ended by closing the connection), which is what Server-Sent Events, long-polling
  answers and live feeds look like, and every `text/event-stream` response. Such a response may
  never end; held back, its first event would arrive when the stream ends, or never;
- here too: every request whose body has no declared length (a chunked upload) is streamed from
  its headers on. mitmproxy would switch such a body to streaming half-way, once past the
  threshold; deciding at the headers lets the leak scanner see its start (`proxy_addons.leaks`).
  A request without a body is unaffected (mitmproxy streams only a body that follows).

No timeout cuts a stream that is alive: mitmproxy closes a connection only after `tcp_timeout`
(600 s) without a byte either way, longer than long polls wait and than SSE servers stay silent
(they send comments to keep proxies and load balancers from doing just that).

What reads a streamed flow: header work (blocking, parameters, cookies, signals) happens at
`requestheaders`/`responseheaders`, before a streamed body's headers leave, so it applies to
streamed flows unchanged; the leak scanner scans the start of a streamed request body
(`proxy_addons.leaks.BodyPrefix`); no whoknows addon reads response bodies. WebSocket messages
are relayed by mitmproxy's WebSocket layer, not here.

A request the proxy answers itself at its headers (a blocked tracker, the PAC file) whose body
would be streamed (above the threshold, or chunked) is killed instead: mitmproxy cannot answer a
request while it streams that request's body (it crashed on that connection), and reading it whole
is what streaming avoids. The client sees a failed request, as with a browser's own blocker; when
the body was already arriving, mitmproxy 12 may leave that one connection open, unread, until the
client gives up (or `tcp_timeout`).

In the chain after every addon that may answer at the headers (pac, blocking), before `leaks`.
"""

from __future__ import annotations

from mitmproxy import http

from proxy_addons.mitmproxy_shortcuts import has_field
from proxy_addons.mitmproxy_shortcuts import raw_values_of

# What `whoknows proxy` sets mitmproxy's `stream_large_bodies` to (runner.mitmproxy_options).
DEFAULT_STREAM_THRESHOLD = "1m"
EVENT_STREAM = b"text/event-stream"


def declares_length(headers: http.Headers) -> bool:
    return has_field(headers.fields, b"content-length")


def chunked(headers: http.Headers) -> bool:
    return any(b"chunked" in value.lower() for value in raw_values_of(headers.fields, b"transfer-encoding"))


def event_stream(headers: http.Headers) -> bool:
    return any(value.lower().lstrip().startswith(EVENT_STREAM)
               for value in raw_values_of(headers.fields, b"content-type"))


class Streaming:
    name = "whoknows_streaming"

    def requestheaders(self, flow: http.HTTPFlow) -> None:
        request = flow.request
        if flow.response is not None:  # answered by the proxy: nothing is forwarded
            if request.stream or chunked(request.headers):
                flow.kill()
            return
        if not request.stream and not declares_length(request.headers):
            request.stream = True

    def responseheaders(self, flow: http.HTTPFlow) -> None:
        response = flow.response
        if response is None or response.stream:
            return
        headers = response.headers
        if not declares_length(headers) or event_stream(headers):
            response.stream = True
