"""The frames addon with the context, blocking and cookies addons, as the proxy chains them: requests
from inside a third-party frame belong to the top-level site (its cookie rules apply); a listed
tracker's frame that an exception lets through is answered sandboxed, with no storage of its own."""

from __future__ import annotations

import pytest
from mitmproxy import http
from mitmproxy.test import taddons
from mitmproxy.test import tflow
from mitmproxy.test import tutils

from proxy_addons.blocking import Blocking
from proxy_addons.context import Context
from proxy_addons.context import context_of
from proxy_addons.cookies import Cookies
from proxy_addons.frames import SANDBOXED_HEADER
from proxy_addons.frames import Frames
from whoknows.filters import FilterEngine
from whoknows.frames import SANDBOX_POLICY
from whoknows.frames import FrameMemory

PAGE = "https://shop.test/cart"
AD_FRAME = "https://ads.tracker.test/frame.html"
WIDGET_FRAME = "https://widget.other.test/embed.html"
FILTERS = "||tracker.test^\n@@||ads.tracker.test/frame.html$subdocument\n"


def request(url: str, dest: str, site: str, referer: str | None, cookie: str | None = None) -> http.HTTPFlow:
    headers = {"sec-fetch-dest": dest, "sec-fetch-site": site}
    if referer:
        headers["referer"] = referer
    if cookie:
        headers["cookie"] = cookie
    return tflow.tflow(req=http.Request.make("GET", url, headers=headers))


class Chain:
    def __init__(self) -> None:
        engine = FilterEngine()
        engine.add_list(FILTERS, "mine")
        memory = FrameMemory()
        self.addons = [Context(frames=memory), Blocking(engine), Cookies(), Frames(memory)]
        self.memory = memory

    def send(self, flow: http.HTTPFlow, *set_cookies: str) -> http.HTTPFlow:
        with taddons.context(*self.addons):
            for addon in self.addons:
                if hasattr(addon, "requestheaders"):
                    addon.requestheaders(flow)
            if flow.response is None:
                flow.response = tutils.tresp(headers=http.Headers(
                    [(b"content-type", b"text/html")] + [(b"set-cookie", c.encode()) for c in set_cookies]))
                for addon in self.addons:
                    if hasattr(addon, "responseheaders"):
                        addon.responseheaders(flow)
        return flow


@pytest.fixture
def chain() -> Chain:
    return Chain()


def test_requests_from_inside_a_frame_belong_to_the_top_level_site(chain):
    chain.send(request(PAGE, "document", "none", None))
    chain.send(request(WIDGET_FRAME, "iframe", "cross-site", PAGE))
    same_origin = chain.send(request("https://widget.other.test/api", "empty", "same-origin", WIDGET_FRAME,
                                     cookie="wid=1"), "wid=2; Max-Age=99999")
    assert context_of(same_origin).page_site == "shop.test"
    assert "cookie" not in same_origin.request.headers  # a third party on shop.test: no cookies either way
    assert "set-cookie" not in same_origin.response.headers
    cross_origin = chain.send(request("https://cdn.test/lib.js", "script", "cross-site", "https://widget.other.test/"))
    assert context_of(cross_origin).page_site == "shop.test"
    assert context_of(cross_origin).source == "https://widget.other.test/"  # the lists still judge by the frame


def test_the_same_requests_without_the_frame_served_through_the_proxy_keep_their_first_party_view(chain):
    flow = chain.send(request("https://widget.other.test/api", "empty", "same-origin", WIDGET_FRAME,
                              cookie="wid=1"))
    assert context_of(flow).page_site == "other.test"
    assert flow.request.headers["cookie"] == "wid=1"


def test_a_frame_inside_a_frame_belongs_to_the_top_level_site(chain):
    chain.send(request(WIDGET_FRAME, "iframe", "cross-site", PAGE))
    inner = chain.send(request("https://inner.cdn.test/f.html", "iframe", "cross-site", WIDGET_FRAME))
    assert context_of(inner).page_site == "shop.test"
    deep = chain.send(request("https://inner.cdn.test/x.js", "script", "same-origin", "https://inner.cdn.test/f.html"))
    assert context_of(deep).page_site == "shop.test"


def test_a_listed_trackers_frame_let_through_by_an_exception_runs_sandboxed(chain):
    frame = chain.send(request(AD_FRAME, "iframe", "cross-site", PAGE))
    assert frame.response.status_code == 200 and SANDBOXED_HEADER in frame.response.headers
    assert SANDBOX_POLICY in frame.response.headers.get_all("content-security-policy")
    assert "allow-same-origin" not in SANDBOX_POLICY
    widget = chain.send(request(WIDGET_FRAME, "iframe", "cross-site", PAGE))
    assert "content-security-policy" not in widget.response.headers  # not a tracker: left alone


def test_a_sites_csp_is_kept_and_the_sandbox_added(chain):
    flow = request(AD_FRAME, "iframe", "cross-site", PAGE)
    with taddons.context(*chain.addons):
        for addon in chain.addons:
            if hasattr(addon, "requestheaders"):
                addon.requestheaders(flow)
        flow.response = tutils.tresp(headers=http.Headers(content_security_policy="frame-ancestors *"))
        chain.addons[-1].responseheaders(flow)
    assert flow.response.headers.get_all("content-security-policy") == ["frame-ancestors *", SANDBOX_POLICY]


def test_a_top_level_visit_to_a_framed_origin_is_its_own_first_party_again(chain):
    chain.send(request(WIDGET_FRAME, "iframe", "cross-site", PAGE))
    chain.send(request("https://widget.other.test/home", "document", "none", None))
    own = chain.send(request("https://widget.other.test/app.js", "script", "same-origin",
                             "https://widget.other.test/home"))
    assert context_of(own).page_site == "other.test"
