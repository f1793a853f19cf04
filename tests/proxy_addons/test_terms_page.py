"""The proxy answers the personal terms' public text itself, and nothing else under that path."""

import json

import pytest
from mitmproxy import http
from mitmproxy.test import taddons
from mitmproxy.test import tflow

from proxy_addons.pac import Pac
from proxy_addons.terms_page import TermsPage


def answer(url: str, method: str = "GET") -> http.HTTPFlow:
    flow = tflow.tflow(req=http.Request.make(method, url))
    page, pac = TermsPage(), Pac()
    with taddons.context(page, pac):
        page.requestheaders(flow)
        pac.requestheaders(flow)  # the next addon in the chain
    return flow


def test_the_term_is_served_as_json_ld_readable_by_any_page():
    flow = answer("http://whoknows.proxy/personal-terms/nostalking/1")
    assert flow.response.status_code == 200
    assert flow.response.headers["content-type"].startswith("application/ld+json")
    assert flow.response.headers["access-control-allow-origin"] == "*"
    document = json.loads(flow.response.content)
    assert document["identifier"] == "nostalking" and document["version"] == 1


def test_the_list_of_terms_is_served_too():
    flow = answer("http://whoknows.proxy/personal-terms")
    assert flow.response.status_code == 200
    assert json.loads(flow.response.content)["@type"] == "ItemList"


@pytest.mark.parametrize("url,method", [
    ("http://whoknows.proxy/personal-terms/nostalking/9", "GET"),
    ("http://whoknows.proxy/personal-terms/%2e%2e/ledger.db", "GET"),
    ("http://whoknows.proxy/personal-terms/nostalking/1", "POST"),
])
def test_anything_else_there_is_a_404(url, method):
    flow = answer(url, method)
    assert flow.response.status_code == 404
    assert b"personal term" in flow.response.content


def test_the_pac_file_and_other_sites_are_left_to_others():
    assert answer("http://whoknows.proxy/proxy.pac").response.headers["content-type"].startswith(
        "application/x-ns-proxy-autoconfig")
    flow = tflow.tflow(req=http.Request.make("GET", "http://shop.test/personal-terms/nostalking/1"))
    TermsPage().requestheaders(flow)
    assert flow.response is None
