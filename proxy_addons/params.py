"""Tracking parameters: click ids and campaign tags come off every URL before it leaves the proxy.

What is removed is the core's params part (`whoknows.decision.params_part`, what `whoknows check`
runs too): the built-in set (`whoknows.params.strip_params`: `utm_*`, `gclid`, `fbclid`...)
and whatever the filter lists' `removeparam` filters remove (the blocking addon's decision,
`clean_url`). Every other parameter stays byte for byte, in order, never re-encoded. Fragments
never reach a proxy (browsers keep them to themselves); on a redirect the browser carries the
fragment over to the new address itself (Fetch: a `Location` without a fragment inherits it).

How:
- a top-level navigation (`document`, GET) is answered with `307 Temporary Redirect` to the clean
  URL, so the address bar, the history and the page's own scripts never see the parameters and the
  server never receives them. 307 rather than 302 because it is defined to keep the method; it is
  temporary and `no-store`, so pausing the site brings the original URL back. If the same URL
  comes back more than `MAX_REDIRECTS` times within `LOOP_WINDOW_SECONDS` (a server that insists
  on its parameters and redirects back), it is rewritten in place instead of looping;
- everything else (subresources, frames, POST navigations) is rewritten in place.
The names removed go in `flow.metadata[flow_state.REMOVED_PARAMS]` (decoded, one per occurrence).
Skipped: requests the proxy already answered and requests from a page whose site is paused.
"""

from __future__ import annotations

import time
from collections import OrderedDict

from mitmproxy import http

from proxy_addons import flow_state
from proxy_addons.context import ensure_context
from whoknows.decision import params_part

DECISION_KEY = flow_state.FILTER
REMOVED_KEY = flow_state.REMOVED_PARAMS
MAX_REDIRECTS = 3
LOOP_WINDOW_SECONDS = 10.0
_REMEMBERED_URLS = 512


class Params:
    name = "whoknows_params"

    def __init__(self) -> None:
        self._redirected: OrderedDict[str, tuple[float, int]] = OrderedDict()

    def requestheaders(self, flow: http.HTTPFlow) -> None:
        if flow.response is not None:
            return
        context = ensure_context(flow)
        if context.paused:
            return
        request = flow.request
        if b"?" not in request.data.path:
            return  # why (speed only): no query, nothing to remove (`request.url` costs ~1 us)
        url = request.url
        part = params_part(url, context.site, flow.metadata.get(DECISION_KEY))
        clean, removed = part.clean_url, part.removed
        if not removed:
            return
        flow.metadata[REMOVED_KEY] = removed
        if context.navigation and request.method == "GET" and not self._looping(url):
            flow.response = http.Response.make(
                307, b"", {"location": clean, "cache-control": "no-store"})
            return
        origin = url[: len(url) - len(request.path)]
        if clean.startswith(origin) and url.endswith(request.path):
            request.path = clean[len(origin):] or "/"

    def _looping(self, url: str) -> bool:
        """Count a redirect of `url`; True once it repeats too often within the window."""
        moment = time.monotonic()
        first, count = self._redirected.pop(url, (moment, 0))
        if moment - first > LOOP_WINDOW_SECONDS:
            first, count = moment, 0
        self._redirected[url] = (first, count + 1)
        while len(self._redirected) > _REMEMBERED_URLS:
            self._redirected.popitem(last=False)
        return count >= MAX_REDIRECTS
