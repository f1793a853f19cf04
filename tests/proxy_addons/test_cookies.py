"""The cookie addon, in the real addon chain (context, blocking, params, cookies) on mitmproxy's test
harness, with site settings in a real ledger. (`tests/test_cookies.py` tests the policy itself.)
"""

from __future__ import annotations

from datetime import datetime
from datetime import timezone

import pytest
from mitmproxy import http
from mitmproxy.test import taddons
from mitmproxy.test import tflow

from proxy_addons.blocking import Blocking
from proxy_addons.context import Context
from proxy_addons.cookies import COOKIES_KEY
from proxy_addons.cookies import Cookies
from proxy_addons.params import Params
from whoknows.cookies import parse_set_cookie
from whoknows.filters import FilterEngine
from whoknows.ledger import open_ledger
from whoknows.site_settings import SiteSettingsStore

DAY = 86400
LONG = "Max-Age=63072000"  # two years
# Commas inside a value and an Expires date: a parser that splits on commas would break these.
ODD = "pref=a,b,c; Expires=Wed, 09 Jun 2100 10:18:14 GMT; Path=/; SameSite=Lax"


# --- a small addon chain ---------------------------------------------------------------------------


def image_from(page: str, url: str, **headers: str) -> http.HTTPFlow:
    """A subresource request made by a page at `page` (as Chromium sends it over HTTPS)."""
    fields = {"referer": page, "sec-fetch-dest": "image", "sec-fetch-mode": "no-cors", **headers}
    return tflow.tflow(req=http.Request.make("GET", url, headers=fields))


def navigation(url: str, **headers: str) -> http.HTTPFlow:
    fields = {"sec-fetch-dest": "document", "sec-fetch-mode": "navigate", "sec-fetch-site": "none",
              **headers}
    return tflow.tflow(req=http.Request.make("GET", url, headers=fields))


def answer(*set_cookies: str, status: int = 200) -> http.Response:
    return http.Response.make(status, b"ok", [(b"content-type", b"text/plain")]
                              + [(b"set-cookie", line.encode()) for line in set_cookies])


class Proxy:
    """whoknows's chain up to the cookie addon, hooks called in mitmproxy's order."""

    def __init__(self, filters: str = "") -> None:
        self.ledger = open_ledger()
        self.settings = SiteSettingsStore(self.ledger)
        engine = FilterEngine()
        if filters:
            engine.add_list(filters, "test")
        self.addons = [Context(self.settings), Blocking(engine), Params(), Cookies()]

    def send(self, flow: http.HTTPFlow, response: http.Response | None = None) -> http.HTTPFlow:
        with taddons.context(*self.addons):
            self._hook("requestheaders", flow)
            self._hook("request", flow)
            if flow.response is None:  # not answered by the proxy: the server answers
                flow.response = response or answer()
            self._hook("responseheaders", flow)
            self._hook("response", flow)
        return flow

    def _hook(self, name: str, flow: http.HTTPFlow) -> None:
        for addon in self.addons:
            hook = getattr(addon, name, None)
            if hook is not None:
                hook(flow)


@pytest.fixture
def proxy():
    chain = Proxy()
    yield chain
    chain.ledger.close()


def set_cookies(flow: http.HTTPFlow) -> list[str]:
    return flow.response.headers.get_all("set-cookie")


def lifetime(line: str) -> int | None:
    return parse_set_cookie(line).lifetime(datetime.now(timezone.utc))


# --- third parties -----------------------------------------------------------------------------------


def test_third_party_cookies_are_removed_both_ways(proxy):
    flow = image_from("https://vendor.test/shop", "https://cdn.test/p.gif", cookie="uid=42; seen=1",
                      **{"sec-fetch-site": "cross-site"})
    proxy.send(flow, answer(f"uid=43; {LONG}", "other=1"))
    assert "cookie" not in flow.request.headers
    assert set_cookies(flow) == []
    decision = flow.metadata[COOKIES_KEY]
    assert decision.third_party and decision.mode.kind == "block"
    assert decision.request_cookies_removed == ("uid", "seen")
    assert [(o.name, o.removed, o.granted_lifetime_seconds) for o in decision.set_cookies] == [
        ("uid", True, None), ("other", True, None)]
    assert decision.set_cookies[0].asked_lifetime_seconds == 63072000


def test_every_cookie_header_field_goes_not_just_the_first(proxy):
    flow = image_from("https://vendor.test/", "https://cdn.test/p.gif")
    flow.request.headers.insert(0, "cookie", "a=1")
    flow.request.headers.insert(0, "cookie", "b=2")  # HTTP/2 sends cookies in several fields
    proxy.send(flow)
    assert flow.request.headers.get_all("cookie") == []
    assert flow.metadata[COOKIES_KEY].request_cookies_removed == ("b", "a")


def test_a_malformed_third_party_line_is_removed_as_well(proxy):
    flow = image_from("https://vendor.test/", "https://cdn.test/p.gif")
    proxy.send(flow, answer("=", "uid=1\x01; Max-Age=999999"))  # empty; control character
    assert set_cookies(flow) == []
    assert [o.malformed for o in flow.metadata[COOKIES_KEY].set_cookies] == [True, True]


def test_a_third_party_the_site_allows_keeps_its_cookies_under_its_own_mode(proxy):
    proxy.settings.allow_third_party("vendor.test", "pay.test")
    proxy.settings.set_cookie_mode("pay.test", "session")
    flow = image_from("https://vendor.test/checkout", "https://pay.test/widget", cookie="psid=1")
    proxy.send(flow, answer(f"psid=2; {LONG}; Secure"))
    assert flow.request.headers["cookie"] == "psid=1"
    assert set_cookies(flow) == ["psid=2; Secure"]
    # ...only on the site that allows it
    elsewhere = proxy.send(image_from("https://other.test/", "https://pay.test/widget", cookie="psid=1"),
                           answer("psid=2"))
    assert "cookie" not in elsewhere.request.headers and set_cookies(elsewhere) == []


def test_a_cross_site_request_from_a_page_we_cannot_name_gets_no_cookies(proxy):
    flow = tflow.tflow(req=http.Request.make("GET", "https://cdn.test/p.gif", headers={
        "sec-fetch-site": "cross-site", "sec-fetch-dest": "image", "cookie": "uid=1"}))  # no Referer
    proxy.send(flow, answer("uid=2"))
    assert "cookie" not in flow.request.headers and set_cookies(flow) == []


def test_a_request_without_any_page_information_counts_as_first_party(proxy):
    flow = tflow.tflow(req=http.Request.make("GET", "http://cdn.test/lib.js", headers={"cookie": "a=1"}))
    proxy.send(flow, answer("a=2; Max-Age=60"))
    assert flow.request.headers["cookie"] == "a=1"
    assert set_cookies(flow) == ["a=2; Max-Age=60"]


# --- first parties -----------------------------------------------------------------------------------


def test_first_party_cookies_pass_byte_for_byte_by_default(proxy):
    flow = navigation("https://www.vendor.test/", cookie="sid=1; pref=x")
    raw = [f"sid=2; {LONG}; HttpOnly", ODD, "malformed=\x01", "  spaced = 1 ;;path=/"]
    proxy.send(flow, answer(*raw))
    assert flow.request.headers["cookie"] == "sid=1; pref=x"
    assert set_cookies(flow) == raw
    assert flow.metadata[COOKIES_KEY].mode.kind == "allow"


def test_a_subdomain_of_the_page_is_first_party(proxy):
    flow = image_from("https://www.vendor.test/", "https://static.vendor.test/logo.gif", cookie="sid=1",
                      **{"sec-fetch-site": "same-site"})
    proxy.send(flow, answer("cdnpref=1; Max-Age=60"))
    assert flow.request.headers["cookie"] == "sid=1"
    assert set_cookies(flow) == ["cdnpref=1; Max-Age=60"]


def test_session_mode_drops_lifetimes_and_keeps_every_other_byte(proxy):
    proxy.settings.set_cookie_mode("vendor.test", "session")
    flow = proxy.send(navigation("https://vendor.test/", cookie="sid=1"),
                      answer(f"sid=2; {LONG}; Secure; HttpOnly", ODD, "plain=1; Path=/"))
    assert flow.request.headers["cookie"] == "sid=1"  # session mode keeps sending them
    assert set_cookies(flow) == ["sid=2; Secure; HttpOnly", "pref=a,b,c; Path=/; SameSite=Lax",
                                 "plain=1; Path=/"]
    outcomes = flow.metadata[COOKIES_KEY].set_cookies
    assert [(o.shortened, o.granted_lifetime_seconds) for o in outcomes] == [
        (True, None), (True, None), (False, None)]


def test_a_cap_shortens_long_cookies_and_leaves_short_ones(proxy):
    proxy.settings.set_cookie_mode("vendor.test", "cap:1")
    flow = proxy.send(navigation("https://vendor.test/"),
                      answer(f"sid=2; {LONG}; Secure", "short=1; Max-Age=600", ODD, "gone=; Max-Age=0"))
    lines = set_cookies(flow)
    assert lines[0] == f"sid=2; Max-Age={DAY}; Secure"
    assert lines[1] == "short=1; Max-Age=600"
    assert lifetime(lines[2]) == DAY and "Expires" not in lines[2]
    assert lines[3] == "gone=; Max-Age=0"  # logging out still works


def test_the_default_mode_applies_to_sites_without_their_own(proxy):
    proxy.settings.set_default_cookie_mode("cap:1")
    proxy.settings.set_cookie_mode("bank.test", "allow")
    shop = proxy.send(navigation("https://vendor.test/"), answer(f"sid=2; {LONG}"))
    bank = proxy.send(navigation("https://bank.test/"), answer(f"sid=2; {LONG}"))
    tracker = proxy.send(navigation("https://www.google-analytics.com/"), answer(f"_ga=1; {LONG}"))
    assert set_cookies(shop) == [f"sid=2; Max-Age={DAY}"]
    assert set_cookies(bank) == [f"sid=2; {LONG}"]  # its own mode wins
    assert set_cookies(tracker) == [f"_ga=1; Max-Age={DAY}"]  # stricter than a tracker's week


def test_block_mode_removes_the_sites_own_cookies_both_ways(proxy):
    proxy.settings.set_cookie_mode("vendor.test", "block")
    flow = proxy.send(navigation("https://vendor.test/", cookie="sid=1"), answer("sid=2", ODD))
    assert "cookie" not in flow.request.headers and set_cookies(flow) == []


def test_a_known_trackers_own_cookies_are_capped_at_a_week(proxy):
    flow = proxy.send(navigation("https://www.google-analytics.com/"), answer(f"_ga=1; {LONG}"))
    assert set_cookies(flow) == [f"_ga=1; Max-Age={7 * DAY}"]
    assert flow.metadata[COOKIES_KEY].tracker


def test_the_blocking_addons_mark_makes_a_tracker_too(whoknows_home):
    # tracker.test is on no built-in list; a list blocks it, an exception lets its pages load.
    chain = Proxy("||tracker.test^\n@@||tracker.test^$document\n")
    try:
        flow = chain.send(navigation("https://tracker.test/"), answer(f"t=1; {LONG}"))
        assert flow.metadata["whoknows.tracker"] is True
        assert set_cookies(flow) == [f"t=1; Max-Age={7 * DAY}"]
        chain.settings.set_cookie_mode("tracker.test", "allow")  # the user's word beats the default
        flow = chain.send(navigation("https://tracker.test/"), answer(f"t=1; {LONG}"))
        assert set_cookies(flow) == [f"t=1; {LONG}"]
    finally:
        chain.ledger.close()


def test_a_company_in_the_directory_is_not_a_tracker_by_that_alone(proxy):
    flow = proxy.send(navigation("https://www.amazon.de/"), answer(f"session-id=1; {LONG}"))
    assert set_cookies(flow) == [f"session-id=1; {LONG}"]


# --- left alone ---------------------------------------------------------------------------------------


def test_a_paused_site_is_left_alone_but_its_cookies_are_still_reported(proxy):
    proxy.settings.set_cookie_mode("vendor.test", "block")
    proxy.settings.set_paused("vendor.test", True)
    flow = proxy.send(image_from("https://vendor.test/", "https://cdn.test/p.gif", cookie="uid=1"),
                      answer(f"uid=2; {LONG}"))
    assert flow.request.headers["cookie"] == "uid=1"
    assert set_cookies(flow) == [f"uid=2; {LONG}"]
    decision = flow.metadata[COOKIES_KEY]
    assert decision.paused and decision.third_party
    assert decision.set_cookies[0].removed is False


def test_answers_the_proxy_gives_itself_are_not_touched(whoknows_home):
    chain = Proxy("||tracker.test^\n")
    try:
        flow = chain.send(image_from("https://vendor.test/", "https://tracker.test/p.gif", cookie="a=1"))
        assert flow.response.status_code == 200 and flow.response.headers["content-type"] == "image/gif"
        assert COOKIES_KEY not in flow.metadata
        assert flow.request.headers["cookie"] == "a=1"  # never sent anywhere: the proxy answered
    finally:
        chain.ledger.close()


def test_a_response_without_set_cookie_is_untouched(proxy):
    flow = proxy.send(image_from("https://vendor.test/", "https://cdn.test/p.gif"))
    assert flow.response.headers.fields == answer().headers.fields
    assert flow.metadata[COOKIES_KEY].set_cookies == ()
