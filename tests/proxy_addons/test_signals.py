"""The signals addon: GPC/DNT headers and Referer trimming, through mitmproxy's own test harness."""

import pytest
from mitmproxy import exceptions
from mitmproxy import http
from mitmproxy.test import taddons
from mitmproxy.test import tflow

from proxy_addons.signals import TRACKER_KEY
from proxy_addons.signals import Signals
from whoknows.decision import referer_for
from whoknows.decision import referer_origin


def flow_to(url: str, referer: str | None = None, **headers: str) -> http.HTTPFlow:
    fields = dict(headers)
    if referer is not None:
        fields["referer"] = referer
    return tflow.tflow(req=http.Request.make("GET", url, headers=fields))


def run(flow: http.HTTPFlow, **options) -> http.HTTPFlow:
    addon = Signals()
    with taddons.context(addon) as tctx:
        if options:
            tctx.configure(addon, **options)
        addon.requestheaders(flow)
    return flow


def test_gpc_and_dnt_are_added():
    flow = run(flow_to("https://shop.test/"))
    assert flow.request.headers["sec-gpc"] == "1"
    assert flow.request.headers["dnt"] == "1"


def test_dnt_can_be_turned_off_but_gpc_stays():
    flow = run(flow_to("https://shop.test/"), whoknows_dnt=False)
    assert "dnt" not in flow.request.headers
    assert flow.request.headers["sec-gpc"] == "1"


def test_a_browser_gpc_value_is_replaced_not_doubled():
    flow = run(flow_to("https://shop.test/", **{"Sec-GPC": "0"}))
    assert flow.request.headers.get_all("sec-gpc") == ["1"]


def test_cross_site_referer_is_cut_to_the_origin():
    flow = run(flow_to("https://cdn.test/lib.js", referer="https://www.vendor.test/account/orders?id=7"))
    assert flow.request.headers["referer"] == "https://www.vendor.test/"


def test_same_site_referer_is_kept_whole():
    full = "https://www.vendor.test/account/orders?id=7"
    flow = run(flow_to("https://static.vendor.test/app.js", referer=full))
    assert flow.request.headers["referer"] == full


def test_referer_to_a_marked_tracker_is_dropped():
    flow = flow_to("https://tracker.test/pixel.gif", referer="https://vendor.test/checkout")
    flow.metadata[TRACKER_KEY] = True
    run(flow)
    assert "referer" not in flow.request.headers


def test_strip_policy_drops_cross_site_referers_and_keep_keeps_them():
    full = "https://vendor.test/checkout?step=2"
    assert "referer" not in run(flow_to("https://cdn.test/x", referer=full),
                                whoknows_referer="strip").request.headers
    assert run(flow_to("https://cdn.test/x", referer=full),
               whoknows_referer="keep").request.headers["referer"] == full


def test_a_bad_referer_policy_is_refused():
    addon = Signals()
    with taddons.context(addon) as tctx:
        with pytest.raises(exceptions.OptionsError, match="whoknows_referer"):
            tctx.configure(addon, whoknows_referer="origin-only")


def test_requests_the_proxy_answered_itself_are_untouched():
    flow = flow_to("http://whoknows.proxy/proxy.pac", referer="https://vendor.test/a")
    flow.response = http.Response.make(200, b"")
    run(flow)
    assert "sec-gpc" not in flow.request.headers
    assert flow.request.headers["referer"] == "https://vendor.test/a"


@pytest.mark.parametrize("referer, origin", [
    ("https://vendor.test/a/b?c=d#e", "https://vendor.test/"),
    ("http://vendor.test:8080/a", "http://vendor.test:8080/"),
    ("https://vendor.test:443/a", "https://vendor.test/"),
    ("https://user:pw@vendor.test/a", "https://vendor.test/"),
    ("https://[2001:db8::1]:8443/x", "https://[2001:db8::1]:8443/"),
    ("android-app://com.example/", None),
    ("not a url", None),
    ("https://[broken/", None),
])
def test_referer_origin(referer, origin):
    assert referer_origin(referer) == origin


def test_ip_address_referers_are_same_site_only_with_the_same_address():
    assert referer_for("http://10.0.0.1/a?b", "10.0.0.1", "trim", False) == "http://10.0.0.1/a?b"
    assert referer_for("http://10.0.0.1/a?b", "10.0.0.2", "trim", False) == "http://10.0.0.1/"
