"""The streaming addon: which bodies stream whatever their size, and what a request the proxy
answers itself does when its body would stream."""

from mitmproxy import http
from mitmproxy.test import taddons
from mitmproxy.test import tflow

from proxy_addons.streaming import Streaming


def request(method: str = "POST", **headers: str) -> http.HTTPFlow:
    flow = tflow.tflow(req=http.Request.make(method, "https://shop.test/upload", b""))
    flow.request.headers.pop("content-length", None)  # `make` adds one
    for name, value in headers.items():
        flow.request.headers[name.replace("_", "-")] = value
    flow.request.data.content = None  # at requestheaders the body has not been read
    flow.response = None
    return flow


def answered(flow: http.HTTPFlow, **headers: str) -> http.HTTPFlow:
    flow.response = http.Response.make(200, b"")
    flow.response.headers.pop("content-length", None)
    for name, value in headers.items():
        flow.response.headers[name.replace("_", "-")] = value
    return flow


def test_a_response_without_a_declared_length_streams_whatever_its_size():
    addon = Streaming()
    with taddons.context(addon):
        chunked = answered(request("GET"), transfer_encoding="chunked", content_type="application/json")
        until_close = answered(request("GET"), content_type="text/html")
        sized = answered(request("GET"), content_length="10", content_type="text/html")
        for flow in (chunked, until_close, sized):
            addon.responseheaders(flow)
    assert (chunked.response.stream, until_close.response.stream, sized.response.stream) == (True, True, False)


def test_server_sent_events_stream_even_with_a_length():
    addon = Streaming()
    with taddons.context(addon):
        flow = answered(request("GET"), content_length="10", content_type="Text/Event-Stream; charset=utf-8")
        addon.responseheaders(flow)
    assert flow.response.stream is True


def test_a_request_body_without_a_declared_length_streams_from_its_headers_on():
    addon = Streaming()
    with taddons.context(addon):
        chunked = request(transfer_encoding="chunked")
        sized = request(content_length="100")
        for flow in (chunked, sized):
            addon.requestheaders(flow)
    assert (chunked.request.stream, sized.request.stream) == (True, False)


def test_a_request_the_proxy_answers_is_killed_only_if_its_body_would_stream():
    addon = Streaming()
    with taddons.context(addon):
        large = answered(request(content_length=str(50 << 20)))
        large.request.stream = True  # mitmproxy's threshold decided before the hook
        chunked = answered(request(transfer_encoding="chunked"))
        small = answered(request(content_length="100"))
        for flow in (large, chunked, small):
            addon.requestheaders(flow)
    assert [flow.error is not None and flow.error.msg == "Connection killed." for flow in (large, chunked, small)] \
        == [True, True, False]
    assert small.request.stream is False  # answered: nothing to forward
