"""Third-party frames: requests from inside a frame belong to the top-level page's site; a tracker's
frame gets no storage of its own.

`Frames(memory)` shares one `whoknows.frames.FrameMemory` with the context addon
(`proxy_addons.whoknows_addons()` gives both the same one). In `responseheaders`:
- a frame document (`Sec-Fetch-Dest: iframe`/`frame`) the server answered (not a redirect) is
  remembered with the top-level site it was loaded in (the context's `page_site`, itself the top
  site when the embedding page is a remembered frame); the context addon then gives requests made
  from inside that frame the top-level site as their `page_site`;
- a top-level document's origin is remembered as a page, so its own requests are not taken for a
  frame's;
- a frame document of a known tracker, third party to the top-level site, gets
  `Content-Security-Policy: sandbox ...` without `allow-same-origin` (`whoknows.frames
  .SANDBOX_POLICY`): no cookies, no localStorage, no IndexedDB of its own. "Known tracker" is the
  cookies addon's verdict (a block filter matched, even if an exception let the frame through, or
  the built-in tracker list); frames of a third party the user allowed on the site
  (`whoknows site allow-3p`) and of paused sites are left alone.
Responses the proxy answered itself (blocked frames) do not reach this hook.
"""

from __future__ import annotations

from mitmproxy import http

from proxy_addons.context import context_of
from proxy_addons.cookies import COOKIES_KEY
from proxy_addons.signals import TRACKER_KEY
from whoknows.frames import SANDBOX_POLICY
from whoknows.frames import FrameMemory
from whoknows.frames import sandboxes

SANDBOXED_HEADER = "x-whoknows-sandboxed"  # says why a frame runs sandboxed


class Frames:
    name = "whoknows_frames"

    def __init__(self, memory: FrameMemory | None = None) -> None:
        self.memory = memory if memory is not None else FrameMemory()

    def responseheaders(self, flow: http.HTTPFlow) -> None:
        context = context_of(flow)
        response = flow.response
        if context is None or response is None or 300 <= response.status_code < 400:
            return
        if context.type == "document":
            self.memory.remember_page(flow.request.url)
            return
        if context.type != "subdocument":
            return
        self.memory.remember_frame(flow.request.url, context.page_site)
        if context.paused or context.allowed_third_party:
            return
        cookies = flow.metadata.get(COOKIES_KEY)
        tracker = cookies.tracker if cookies is not None else bool(flow.metadata.get(TRACKER_KEY))
        if sandboxes(context.type, context.page_site, context.request_site, tracker):
            response.headers.add("content-security-policy", SANDBOX_POLICY)
            response.headers[SANDBOXED_HEADER] = "tracker frame: no storage of its own"
