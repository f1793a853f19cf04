"""The personal-terms addon: the header on requests that leave, agreements read from the site's answers."""

import pytest
from mitmproxy import http
from mitmproxy.test import taddons
from mitmproxy.test import tflow

from proxy_addons.context import CONTEXT_KEY
from proxy_addons.context import compute_context
from proxy_addons.personal_terms import PersonalTerms
from whoknows import personal_terms
from whoknows.ledger import open_ledger
from whoknows.terms_records import offers_to

HEADER = 'nostalking;v=1;url="http://whoknows.proxy/personal-terms/nostalking/1"'


@pytest.fixture
def addon(whoknows_home):
    with open_ledger() as ledger:
        personal_terms.offer(ledger, "nostalking")
    addon = PersonalTerms(open_ledger=open_ledger)
    with taddons.context(addon):
        yield addon
    addon.proffered.close()


def request(url: str, **headers) -> http.HTTPFlow:
    return tflow.tflow(req=http.Request.make("GET", url, headers=headers))


def answered(addon, flow: http.HTTPFlow, status=200, body=b"", **headers) -> http.HTTPFlow:
    addon.requestheaders(flow)
    flow.response = http.Response.make(status, body, headers)
    addon.responseheaders(flow)
    addon.response(flow)
    return flow


def flushed(addon, site: str):
    addon.flusher.flush()
    with open_ledger() as ledger:
        return offers_to(ledger, site)


def test_every_request_carries_the_terms_and_the_page_site_is_recorded(addon):
    page = request("https://shop.test/", **{"sec-fetch-dest": "document", "sec-fetch-mode": "navigate"})
    addon.requestheaders(page)
    assert page.request.headers["personal-terms"] == HEADER
    third = request("https://cdn.tracker.test/p.gif", referer="https://shop.test/", **{"Personal-Terms": "forged"})
    addon.requestheaders(third)
    assert third.request.headers.get_all("personal-terms") == [HEADER]  # a page's own value is replaced
    [offer] = flushed(addon, "shop.test")
    assert (offer.term, offer.version, offer.agreed_on) == ("nostalking", 1, None)
    assert flushed(addon, "tracker.test") == []  # offered to shop.test's page, not a vendor of its own


def test_nothing_is_sent_when_no_term_is_chosen_or_the_proxy_answered(addon):
    with open_ledger() as ledger:
        personal_terms.withdraw(ledger)
    addon.proffered._next_check = 0.0
    flow = request("https://shop.test/")
    addon.requestheaders(flow)
    assert "personal-terms" not in flow.request.headers
    with open_ledger() as ledger:
        personal_terms.offer(ledger, "nostalking")
    addon.proffered._next_check = 0.0
    blocked = request("https://shop.test/")
    blocked.response = http.Response.make(204)
    addon.requestheaders(blocked)
    assert "personal-terms" not in blocked.request.headers
    assert flushed(addon, "shop.test") == []


def test_a_paused_site_gets_no_terms(addon):
    flow = request("https://shop.test/")
    context = compute_context(flow.request, None)
    flow.metadata[CONTEXT_KEY] = context.__class__(**{**{f: getattr(context, f) for f in context.__slots__},
                                                      "paused": True})
    addon.requestheaders(flow)
    assert "personal-terms" not in flow.request.headers


def test_the_site_agreeing_in_its_response_header_is_recorded(addon):
    answered(addon, request("https://shop.test/"), **{"Personal-Terms-Agreed": "nostalking;v=1"})
    [offer] = flushed(addon, "shop.test")
    assert offer.agreed_by == "header" and offer.agreed_on is not None


@pytest.mark.parametrize("value", ["nostalking", "nostalking;v=2", "nostalking;v=1;;", "yes please", "\x7f"])
def test_a_malformed_agreement_header_is_no_agreement_and_no_failure(addon, value):
    answered(addon, request("https://shop.test/"), **{"Personal-Terms-Agreed": value})
    [offer] = flushed(addon, "shop.test")
    assert offer.agreed_on is None


def test_a_third_party_agreeing_binds_nobody(addon):
    answered(addon, request("https://tracker.test/p.gif", referer="https://shop.test/"),
             **{"Personal-Terms-Agreed": "nostalking;v=1"})
    [offer] = flushed(addon, "shop.test")
    assert offer.agreed_on is None
    assert flushed(addon, "tracker.test") == []


def test_the_well_known_file_fetched_by_the_browser_counts(addon):
    answered(addon, request("https://shop.test/.well-known/personal-terms"), body=b"nostalking;v=1\n",
             **{"content-type": "text/plain"})
    [offer] = flushed(addon, "shop.test")
    assert offer.agreed_by == "well-known"


@pytest.mark.parametrize("status,body", [(404, b"nostalking;v=1"), (200, b"<html>not found</html>"),
                                         (200, b"\xff\xfe\x00")])
def test_a_well_known_error_page_or_junk_is_no_agreement(addon, status, body):
    answered(addon, request("https://shop.test/.well-known/personal-terms"), status=status, body=body)
    [offer] = flushed(addon, "shop.test")
    assert offer.agreed_on is None


def test_the_same_body_elsewhere_is_not_the_well_known_file(addon):
    answered(addon, request("https://shop.test/terms.txt"), body=b"nostalking;v=1")
    [offer] = flushed(addon, "shop.test")
    assert offer.agreed_on is None


def test_a_big_or_compressed_bomb_well_known_file_is_not_read(addon):
    # (Response.make compresses the body as its content-encoding says: raw_content is what was sent.)
    bomb = answered(addon, request("https://shop.test/.well-known/personal-terms"),
                    body=b"nostalking;v=1" + b" " * 5_000_000, **{"content-encoding": "gzip"})
    assert 4096 < len(bomb.response.raw_content) < 50_000  # 5 MB once decompressed
    small = answered(addon, request("https://other.test/.well-known/personal-terms"), body=b"nostalking;v=1\n",
                     **{"content-encoding": "gzip"})
    assert small.response.raw_content != b"nostalking;v=1\n"
    [offer] = flushed(addon, "shop.test")
    assert offer.agreed_on is None
    [offer] = flushed(addon, "other.test")
    assert offer.agreed_by == "well-known"  # a small compressed file is read as the browser reads it
