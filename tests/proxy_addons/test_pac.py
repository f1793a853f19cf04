"""The PAC addon: the proxy answers its own URLs and forwards nothing for them."""

from mitmproxy import http
from mitmproxy.test import taddons
from mitmproxy.test import tflow

from proxy_addons.pac import PAC_CONTENT_TYPE
from proxy_addons.pac import Pac


def flow_for(url: str, sockname=("127.0.0.1", 8080), method="GET") -> http.HTTPFlow:
    flow = tflow.tflow(req=http.Request.make(method, url))
    flow.client_conn.sockname = sockname
    return flow


def answer(flow: http.HTTPFlow, **options) -> http.HTTPFlow:
    addon = Pac()
    with taddons.context(addon) as tctx:
        if options:
            tctx.configure(addon, **options)
        addon.requestheaders(flow)
    return flow


def test_the_reserved_name_serves_a_pac_file_pointing_at_the_address_the_client_used():
    flow = answer(flow_for("http://whoknows.proxy/proxy.pac", sockname=("127.0.0.1", 18080)))
    assert flow.response.status_code == 200
    assert flow.response.headers["content-type"] == PAC_CONTENT_TYPE
    text = flow.response.get_text()
    assert "function FindProxyForURL(url, host)" in text
    assert '"PROXY 127.0.0.1:18080"' in text
    assert "; DIRECT" not in text  # no fallback by default: a stopped proxy must not go unnoticed


def test_the_fallback_option_adds_direct():
    flow = answer(flow_for("http://whoknows.proxy/proxy.pac"), whoknows_pac_fallback=True)
    assert '"PROXY 127.0.0.1:8080; DIRECT"' in flow.response.get_text()


def test_other_paths_on_the_reserved_name_are_404_never_forwarded():
    for url in ("http://whoknows.proxy/", "https://whoknows.proxy/admin", "http://whoknows.proxy/proxy.pac2"):
        assert answer(flow_for(url)).response.status_code == 404


def test_a_direct_request_to_the_proxy_port_gets_the_pac_file_even_over_an_auth_refusal():
    flow = flow_for("http://192.168.1.5:8080/proxy.pac", sockname=("192.168.1.5", 8080))
    flow.response = http.Response.make(401, b"auth required")  # what proxyauth sets first
    answer(flow)
    assert flow.response.status_code == 200
    assert '"PROXY 192.168.1.5:8080"' in flow.response.get_text()


def test_an_ipv6_listener_is_bracketed_and_a_mapped_ipv4_client_unwrapped():
    v6 = answer(flow_for("http://[::1]:8080/proxy.pac", sockname=("::1", 8080, 0, 0)))
    assert '"PROXY [::1]:8080"' in v6.response.get_text()
    mapped = answer(flow_for("http://whoknows.proxy/proxy.pac", sockname=("::ffff:10.0.0.2", 8080, 0, 0)))
    assert '"PROXY 10.0.0.2:8080"' in mapped.response.get_text()


def test_ordinary_traffic_is_left_alone():
    for url in ("http://vendor.test/proxy.pac", "http://127.0.0.1:9999/proxy.pac", "https://example.org/"):
        flow = answer(flow_for(url))
        assert flow.response is None
