"""Leak prevention and identifier sharing in the leaks addon (issue 13): what a request carrying the
person's values or the page's first-party id becomes, through context, blocking and leaks as the
proxy chains them, with the ledger written at the end."""

import hashlib
import json

import pytest
from mitmproxy import http
from mitmproxy.test import taddons
from mitmproxy.test import tflow

from proxy_addons import flow_state
from proxy_addons.blocking import Blocking
from proxy_addons.context import Context
from proxy_addons.leaks import Leaks
from whoknows.leak_records import list_leaks
from whoknows.leak_records import list_shared_identifiers
from whoknows.ledger import open_ledger
from whoknows.me import add_value
from whoknows.site_settings import SiteSettingsStore

EMAIL = "alice.smith@example.org"
EMAIL_SHA256 = hashlib.sha256(EMAIL.encode()).hexdigest()
PAGE = "https://shop.vendor.test/checkout"
VISITOR_ID = "8f3a2c91-4b7e-4d2a-9c1f-0e6b5a4d3c2b"


def third_party(method: str, url: str, body: bytes = b"", content_type: str | None = None,
                referer: str = PAGE) -> http.HTTPFlow:
    headers = {"referer": referer, "sec-fetch-site": "cross-site", "sec-fetch-dest": "empty",
               "sec-fetch-mode": "cors"}
    if content_type:
        headers["content-type"] = content_type
    return tflow.tflow(req=http.Request.make(method, url, body, headers))


def first_party(url: str = "https://shop.vendor.test/app.js", cookie: str | None = None) -> http.HTTPFlow:
    headers = {"referer": PAGE, "sec-fetch-site": "same-origin", "sec-fetch-dest": "script"}
    if cookie:
        headers["cookie"] = cookie
    return tflow.tflow(req=http.Request.make("GET", url, b"", headers))


@pytest.fixture
def values():
    with open_ledger() as ledger:
        add_value(ledger, "email", EMAIL)


def run(*flows, mode=None, site_mode=None, allow=None):
    """Flows through context, blocking and leaks, as the proxy chains them; then a flush."""
    with open_ledger() as ledger:
        store = SiteSettingsStore(ledger)
        if mode:
            store.set_default_leak_mode(mode)
        if site_mode:
            store.set_leak_mode("vendor.test", site_mode)
        if allow:
            store.allow_third_party("vendor.test", allow)
        context, blocking, leaks = Context(store), Blocking(), Leaks()
        with taddons.context(context, blocking, leaks):
            blocking.running()
            leaks.running()
            for flow in flows:
                context.requestheaders(flow)
                blocking.requestheaders(flow)
                leaks.requestheaders(flow)
                if flow.response is None:
                    leaks.request(flow)
            leaks.done()
    return leaks


def test_by_default_a_hashed_email_to_an_unlisted_host_is_answered_as_blocked_and_ledgered_as_prevented(values):
    flow = third_party("GET", f"https://px.unlisted.test/collect?ev=Purchase&em={EMAIL_SHA256}")
    leaks = run(flow)

    assert flow.response is not None and flow.response.status_code == 403  # xhr: as a blocked tracker
    assert "leak prevention" in flow.response.headers["x-whoknows-blocked"]
    verdict = flow.metadata[flow_state.LEAK_VERDICT]
    assert verdict.action == "block" and "email" in verdict.reason
    with open_ledger() as ledger:
        [leak] = list_leaks(ledger)
        knows = ledger.query("SELECT count(*) FROM disclosures WHERE source = 'leak'")[0][0]
    assert (leak["recipient_host"], leak["blocked"], leak["outcome"]) == ("px.unlisted.test", True, "prevented")
    assert knows == 0  # the recipient never got it
    assert leaks.snapshot("vendor.test")["prevented"] == 1


def test_an_image_beacon_is_answered_with_a_transparent_gif():
    with open_ledger() as ledger:
        add_value(ledger, "email", EMAIL)
    flow = third_party("GET", f"https://px.unlisted.test/p.gif?em={EMAIL_SHA256}")
    flow.request.headers["sec-fetch-dest"] = "image"
    run(flow)
    assert flow.response.status_code == 200 and flow.response.content.startswith(b"GIF89a")


def test_the_page_s_own_site_is_never_stopped_only_ledgered(values):
    flow = first_party(f"https://api.vendor.test/account?email={EMAIL}")
    run(flow)

    assert flow.response is None
    with open_ledger() as ledger:
        assert list_leaks(ledger) == []
        assert ledger.query("SELECT source FROM disclosures")[0][0] == "form"


def test_scrub_removes_only_the_parameter_carrying_the_value(values):
    flow = third_party("GET", f"https://px.unlisted.test/collect?ev=Purchase&em={EMAIL_SHA256}&cb=7")
    run(flow, site_mode="scrub")

    assert flow.response is None
    assert flow.request.url == "https://px.unlisted.test/collect?ev=Purchase&cb=7"
    with open_ledger() as ledger:
        assert list_leaks(ledger)[0]["outcome"] == "scrubbed"


def test_scrub_removes_the_json_member_and_the_form_field_and_sends_the_rest(values):
    as_json = third_party("POST", "https://api.unlisted.test/track",
                          json.dumps({"event": "buy", "user": {"email": EMAIL, "plan": "pro"}}).encode(),
                          "application/json")
    as_form = third_party("POST", "https://api.unlisted.test/form", f"a=1&em={EMAIL_SHA256}&b=2".encode(),
                          "application/x-www-form-urlencoded")
    run(as_json, as_form, mode="scrub")

    assert json.loads(as_json.request.content) == {"event": "buy", "user": {"plan": "pro"}}
    assert as_form.request.content == b"a=1&b=2"
    assert as_json.response is None and as_form.response is None


def test_scrub_stops_what_it_cannot_take_apart(values):
    in_path = third_party("GET", f"https://px.unlisted.test/u/{EMAIL_SHA256}/p")
    in_text = third_party("POST", "https://api.unlisted.test/t", f"user {EMAIL} bought".encode(), "text/plain")
    run(in_path, in_text, mode="scrub")

    assert in_path.response.status_code == 403 and in_text.response.status_code == 403


def test_report_mode_lets_it_leave_and_records_a_leak(values):
    flow = third_party("GET", f"https://px.unlisted.test/collect?em={EMAIL_SHA256}")
    run(flow, mode="report")

    assert flow.response is None
    with open_ledger() as ledger:
        assert list_leaks(ledger)[0]["outcome"] == "leaked"


def test_a_third_party_the_site_lets_in_is_never_stopped(values):
    flow = third_party("POST", "https://pay.example.test/checkout", f"email={EMAIL}".encode(),
                       "application/x-www-form-urlencoded")
    run(flow, allow="example.test")

    assert flow.response is None and flow.request.content == f"email={EMAIL}".encode()


def test_a_first_party_visitor_id_sent_to_another_site_is_stripped_recorded_and_its_recipient_blocked_after():
    seen = first_party(cookie=f"lang=en; visitor_id={VISITOR_ID}; theme=dark")
    shares = third_party("GET", f"https://collect.analytics.test/hit?vid={VISITOR_ID}&page=home")
    later = third_party("GET", "https://collect.analytics.test/hit?page=cart")
    elsewhere = third_party("GET", "https://collect.analytics.test/hit?page=x", referer="https://other.test/")
    leaks = run(seen, shares, later, elsewhere)

    assert shares.response is None and shares.request.url == "https://collect.analytics.test/hit?page=home"
    assert later.response is not None and later.response.status_code == 403  # a tracker on vendor.test now
    assert "identifier cookie visitor_id" in later.response.headers["x-whoknows-blocked"]
    assert elsewhere.response is None  # only on the site whose id it took
    with open_ledger() as ledger:
        [row] = list_shared_identifiers(ledger)
    assert (row["page"], row["cookie"], row["recipient_site"], row["action"]) == (
        "vendor.test", "visitor_id", "analytics.test", "strip")
    assert leaks.snapshot("vendor.test")["shared_ids"] == 1


def test_an_id_from_set_cookie_in_a_json_body_is_taken_out():
    page = first_party("https://shop.vendor.test/")
    with open_ledger() as ledger:
        store = SiteSettingsStore(ledger)
        context, blocking, leaks = Context(store), Blocking(), Leaks()
        with taddons.context(context, blocking, leaks):
            leaks.running()
            context.requestheaders(page)
            page.response = http.Response.make(200, b"", {"set-cookie": f"_vid={VISITOR_ID}; Path=/; Max-Age=86400"})
            leaks.responseheaders(page)
            beacon = third_party("POST", "https://t.analytics.test/e",
                                 json.dumps({"id": VISITOR_ID, "e": "view"}).encode(), "application/json")
            context.requestheaders(beacon)
            blocking.requestheaders(beacon)
            leaks.request(beacon)
            leaks.done()
    assert json.loads(beacon.request.content) == {"e": "view"}


def test_short_or_wordy_first_party_cookies_are_never_treated_as_ids():
    seen = first_party(cookie="lang=en-US; consent=accepted_all_cookies_2024; ts=1700000000")
    carrying = third_party("GET", "https://cdn.analytics.test/x?l=en-US&c=accepted_all_cookies_2024&t=1700000000")
    run(seen, carrying)

    assert carrying.response is None
    assert carrying.request.url == "https://cdn.analytics.test/x?l=en-US&c=accepted_all_cookies_2024&t=1700000000"


def test_a_paused_site_is_left_alone(values):
    flow = third_party("GET", f"https://px.unlisted.test/collect?em={EMAIL_SHA256}")
    with open_ledger() as ledger:
        SiteSettingsStore(ledger).set_paused("vendor.test", True)
    run(flow)
    assert flow.response is None


def test_a_streamed_upload_is_decided_at_its_headers_and_its_body_only_reported(values):
    in_url = third_party("POST", f"https://up.unlisted.test/u?em={EMAIL_SHA256}")
    in_url.request.stream = True
    in_body = third_party("POST", "https://up.unlisted.test/u", f"email={EMAIL}".encode(),
                          "application/x-www-form-urlencoded")
    in_body.request.stream = True
    with open_ledger() as ledger:
        store = SiteSettingsStore(ledger)
        context, blocking, leaks = Context(store), Blocking(), Leaks()
        with taddons.context(context, blocking, leaks):
            leaks.running()
            for flow in (in_url, in_body):
                context.requestheaders(flow)
                blocking.requestheaders(flow)
                leaks.requestheaders(flow)
            assert in_url.error is not None  # cut off before anything left
            in_body.request.stream(in_body.request.raw_content)  # the body passes on its way
            in_body.request.stream(b"")
            leaks.request(in_body)
            leaks.done()
    with open_ledger() as ledger:
        outcomes = sorted((leak["where"], leak["outcome"]) for leak in list_leaks(ledger))
    assert outcomes == [("body", "leaked"), ("url", "prevented")]


def test_a_request_streamed_only_in_name_is_answered_not_cut_off(values):
    """`streaming` marks every request without a declared length as streamed, bodiless GETs too:
    their headers leave right after `requestheaders`, so they are decided there and answered."""
    from proxy_addons.streaming import Streaming

    flow = third_party("GET", f"https://px.unlisted.test/collect?em={EMAIL_SHA256}")
    del flow.request.headers["content-length"]
    with open_ledger() as ledger:
        context, blocking, streaming, leaks = Context(SiteSettingsStore(ledger)), Blocking(), Streaming(), Leaks()
        with taddons.context(context, blocking, streaming, leaks):
            leaks.running()
            for addon in (context, blocking, streaming, leaks):
                addon.requestheaders(flow)
            leaks.done()
    assert flow.error is None and flow.response.status_code == 403
    assert flow.request.stream is False  # answered by the proxy: nothing is forwarded


def test_scrubbing_a_compressed_body_decodes_it_no_further_than_a_bound(values):
    import zlib

    from proxy_addons.leaks import MAX_DECODED_BODY

    packer = zlib.compressobj(9, zlib.DEFLATED, 16 + zlib.MAX_WBITS)
    bomb = packer.compress(f"em={EMAIL_SHA256}&pad=".encode() + bytes(MAX_DECODED_BODY * 4)) + packer.flush()
    small = zlib.compress(f"a=1&em={EMAIL_SHA256}".encode())
    big_flow = third_party("POST", "https://api.unlisted.test/b", bomb, "application/x-www-form-urlencoded")
    big_flow.request.headers["content-encoding"] = "gzip"
    small_flow = third_party("POST", "https://api.unlisted.test/s", small, "application/x-www-form-urlencoded")
    small_flow.request.headers["content-encoding"] = "deflate"
    run(big_flow, small_flow, mode="scrub")

    assert big_flow.response.status_code == 403  # not inflated whole to take the value out: stopped
    assert small_flow.response is None and small_flow.request.content == b"a=1"
    assert small_flow.request.headers["content-encoding"] == "deflate"  # sent re-encoded
