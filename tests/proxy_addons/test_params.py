"""The params addon: tracking parameters come off; navigations are redirected to the clean address."""

from mitmproxy import http
from mitmproxy.test import taddons
from mitmproxy.test import tflow

from proxy_addons.blocking import Blocking
from proxy_addons.context import Context
from proxy_addons.params import MAX_REDIRECTS
from proxy_addons.params import REMOVED_KEY
from proxy_addons.params import Params
from whoknows.ledger import open_ledger
from whoknows.site_settings import SiteSettingsStore

NAVIGATION = {"sec-fetch-dest": "document", "sec-fetch-mode": "navigate", "sec-fetch-site": "cross-site"}
IMAGE = {"sec-fetch-dest": "image", "sec-fetch-site": "same-site", "referer": "https://vendor.test/"}


def flow_to(url: str, headers: dict[str, str], method: str = "GET") -> http.HTTPFlow:
    return tflow.tflow(req=http.Request.make(method, url, headers=headers))


def through(*flows: http.HTTPFlow, filters: str | None = None, tmp_path=None, store=None,
            params: Params | None = None) -> list[http.HTTPFlow]:
    """Context, blocking and params addons in chain order."""
    context, blocking, params = Context(store), Blocking(), params or Params()
    with taddons.context(context, blocking, params) as tctx:
        if filters is not None:
            path = tmp_path / "filters.txt"
            path.write_text(filters)
            tctx.configure(blocking, whoknows_extra_filters=str(path))
        for flow in flows:
            for addon in (context, blocking, params):
                addon.requestheaders(flow)
        context.done()
    return list(flows)


def test_a_navigation_is_redirected_to_the_clean_address_keeping_other_parameters_byte_for_byte():
    url = "https://shop.vendor.test/p/42?utm_source=news&q=a%20b+c&gclid=Cj0K&Size=%7Ex&utm_medium=mail"
    [flow] = through(flow_to(url, NAVIGATION))
    assert flow.response.status_code == 307
    assert flow.response.headers["location"] == "https://shop.vendor.test/p/42?q=a%20b+c&Size=%7Ex"
    assert flow.response.headers["cache-control"] == "no-store"
    assert flow.metadata[REMOVED_KEY] == ("utm_source", "gclid", "utm_medium")
    assert flow.request.url == url  # the request itself never goes upstream


def test_a_navigation_with_only_tracking_parameters_loses_the_question_mark():
    [flow] = through(flow_to("http://vendor.test/?fbclid=IwAR3", NAVIGATION))
    assert flow.response.headers["location"] == "http://vendor.test/"


def test_subresources_are_rewritten_in_place():
    [flow] = through(flow_to("https://img.vendor.test/a.png?w=200&utm_campaign=x&h=100", IMAGE))
    assert flow.response is None
    assert flow.request.path == "/a.png?w=200&h=100"
    assert flow.request.host == "img.vendor.test" and flow.request.port == 443
    assert flow.metadata[REMOVED_KEY] == ("utm_campaign",)


def test_a_post_navigation_is_rewritten_in_place_not_redirected():
    [flow] = through(flow_to("https://vendor.test/form?mc_eid=abc&step=2", NAVIGATION, "POST"))
    assert flow.response is None
    assert flow.request.path == "/form?step=2"


def test_urls_without_tracking_parameters_are_untouched():
    [flow] = through(flow_to("https://vendor.test/search?q=utm_source&UTMx=1&gclid2=3", NAVIGATION))
    assert flow.response is None
    assert flow.request.path == "/search?q=utm_source&UTMx=1&gclid2=3"
    assert REMOVED_KEY not in flow.metadata


def test_removeparam_filters_from_the_lists_apply_too(tmp_path):
    [nav, img] = through(
        flow_to("https://vendor.test/item?id=7&ref_src=twsrc&utm_term=x", NAVIGATION),
        flow_to("https://img.vendor.test/i.png?ref_src=a&s=1", IMAGE),
        filters="||vendor.test^$removeparam=ref_src\n", tmp_path=tmp_path)
    assert nav.response.headers["location"] == "https://vendor.test/item?id=7"
    assert sorted(nav.metadata[REMOVED_KEY]) == ["ref_src", "utm_term"]
    assert img.request.path == "/i.png?s=1"


def test_a_paused_page_site_keeps_its_parameters():
    with open_ledger() as ledger:
        store = SiteSettingsStore(ledger)
        store.set_paused("vendor.test", True)
        nav, img = through(flow_to("https://vendor.test/?utm_source=x", NAVIGATION),
                           flow_to("https://img.vendor.test/a.png?utm_source=x", IMAGE), store=store)
    assert nav.response is None and nav.request.path == "/?utm_source=x"
    assert img.request.path == "/a.png?utm_source=x"


def test_blocked_requests_are_left_as_blocked(tmp_path):
    [flow] = through(flow_to("https://tracker.test/p.gif?utm_source=x", IMAGE),
                     filters="||tracker.test^\n", tmp_path=tmp_path)
    assert flow.response.status_code == 200 and flow.response.headers["content-type"] == "image/gif"
    assert flow.request.path == "/p.gif?utm_source=x" and REMOVED_KEY not in flow.metadata


def test_a_server_that_keeps_redirecting_back_gets_an_in_place_rewrite_instead_of_a_loop():
    params = Params()
    url = "https://vendor.test/landing?utm_source=ads&id=1"
    flows = [flow_to(url, NAVIGATION) for _ in range(MAX_REDIRECTS + 1)]
    through(*flows, params=params)
    assert [f.response.status_code for f in flows[:MAX_REDIRECTS]] == [307] * MAX_REDIRECTS
    last = flows[-1]
    assert last.response is None and last.request.path == "/landing?id=1"
    [other] = through(flow_to("https://vendor.test/other?utm_source=ads", NAVIGATION), params=params)
    assert other.response.status_code == 307  # only that URL stopped being redirected
