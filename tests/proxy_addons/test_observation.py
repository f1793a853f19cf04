"""The observation addon at the end of the real chain (context, blocking, params, cookies, signals):
what it counts per site, and what reaches the ledger (at shutdown, and on its own timer)."""

from __future__ import annotations

import time

import pytest
from mitmproxy import exceptions
from mitmproxy import http
from mitmproxy.test import taddons
from mitmproxy.test import tflow

from proxy_addons import flow_state
from proxy_addons.blocking import Blocking
from proxy_addons.context import Context
from proxy_addons.cookies import Cookies
from proxy_addons.observation import Observation
from proxy_addons.params import Params
from proxy_addons.signals import Signals
from whoknows.filters import FilterEngine
from whoknows.ledger import open_ledger
from whoknows.site_settings import SiteSettingsStore
from whoknows.vendor_records import vendor_record

LONG = "Max-Age=63072000"
FILTERS = "||google-analytics.com^\n||tracker.test^\n"


def request(url: str, page: str | None = None, dest: str = "image", **headers: str) -> http.HTTPFlow:
    fields = {"sec-fetch-dest": dest, **headers}
    if page is not None:
        fields["referer"] = page
        fields.setdefault("sec-fetch-site", "cross-site")
    else:
        fields.setdefault("sec-fetch-site", "none")
    return tflow.tflow(req=http.Request.make("GET", url, headers=fields))


def answer(*set_cookies: str) -> http.Response:
    return http.Response.make(200, b"", [(b"set-cookie", line.encode()) for line in set_cookies])


class Proxy:
    """The whole whoknows chain after `pac`, hooks called in mitmproxy's order."""

    def __init__(self) -> None:
        self.ledger = open_ledger()
        self.settings = SiteSettingsStore(self.ledger)
        engine = FilterEngine()
        engine.add_list(FILTERS, "test")
        self.observation = Observation()
        self.addons = [Context(self.settings), Blocking(engine), Params(), Cookies(), Signals(),
                       self.observation]
        self.tctx = taddons.context(*self.addons)

    def send(self, flow: http.HTTPFlow, response: http.Response | None = None) -> http.HTTPFlow:
        for hook in ("requestheaders", "request"):
            self._hook(hook, flow)
        if flow.response is None:
            flow.response = response or answer()
        for hook in ("responseheaders", "response"):
            self._hook(hook, flow)
        return flow

    def _hook(self, name: str, flow: http.HTTPFlow) -> None:
        for addon in self.addons:
            if hasattr(addon, name):
                getattr(addon, name)(flow)

    def browse_vendor(self) -> None:
        """A visit to vendor.test: its page, a blocked tracker, a CDN that tries to set a cookie."""
        page = "https://vendor.test/shop"
        self.send(request(page, dest="document"), answer(f"sid=1; {LONG}"))
        self.send(request("https://www.google-analytics.com/collect?v=1", page))
        self.send(request("https://www.google-analytics.com/collect?v=2", page))
        self.send(request("https://cdn.test/lib.js?gclid=abc", page, dest="script"), answer(f"uid=9; {LONG}"))


@pytest.fixture
def proxy():
    chain = Proxy()
    with chain.tctx:
        yield chain
    chain.observation.flusher.stop(patience=0)
    chain.ledger.close()


def entries(summary: dict) -> dict[str, dict]:
    return {entry["subject"]: entry for entry in summary["top"]}


def test_third_parties_are_counted_blocked_or_allowed_with_their_owner(proxy):
    proxy.browse_vendor()
    third = proxy.observation.snapshot("vendor.test")["third_parties"]
    assert (third["distinct"], third["seen"], third["blocked"]) == (2, 3, 2)
    analytics = entries(third)["google-analytics.com"]
    assert analytics["detail"] == {"owner": "Google", "category": "site_analytics", "tracker": True,
                                   "blocked_by": "test", "blocked": 2, "allowed": 0}
    assert entries(third)["cdn.test"]["detail"] == {"owner": None, "tracker": False, "blocked": 0,
                                                    "allowed": 1}


def test_a_cname_cloaked_first_party_host_counts_as_its_canonical_names_site(proxy):
    page = "https://vendor.test/shop"
    cloaked = request("https://metrics.vendor.test/p.gif?uid=1", page, **{"sec-fetch-site": "same-site"})
    # What the cname addon found in DNS: the first-party host is an alias of the tracker's host.
    cloaked.metadata[flow_state.CANONICAL_NAMES] = ("vendor.test.tracker.test",)
    assert proxy.send(cloaked).response.status_code == 200  # blocked (a GIF) under its canonical name
    plain = request("https://www.vendor.test/logo.gif", page, **{"sec-fetch-site": "same-site"})
    proxy.send(plain)  # a first-party host that is no alias: not a third party
    third = proxy.observation.snapshot("vendor.test")["third_parties"]
    assert [entry["subject"] for entry in third["top"]] == ["tracker.test"]
    detail = entries(third)["tracker.test"]["detail"]
    assert (detail["cloaked_behind"], detail["blocked_by"], detail["blocked"]) == ("metrics.vendor.test", "test", 1)


def test_cookies_are_counted_with_party_mode_and_lifetimes(proxy):
    proxy.settings.set_cookie_mode("vendor.test", "cap:7")
    proxy.browse_vendor()
    cookies = entries(proxy.observation.snapshot("vendor.test")["cookies"])
    assert cookies["sid@vendor.test"]["detail"] == {
        "name": "sid", "site": "vendor.test", "third_party": False, "owner": None, "mode": "cap:7",
        "asked_lifetime_seconds": 63072000, "granted_lifetime_seconds": 7 * 86400,
        "blocked": 0, "shortened": 1}
    uid = cookies["uid@cdn.test"]
    assert uid["blocked"] == 1
    assert (uid["detail"]["third_party"], uid["detail"]["mode"], uid["detail"]["granted_lifetime_seconds"]) == (
        True, "block", None)


def test_stripped_parameters_are_counted_for_the_page_that_carried_them(proxy):
    proxy.browse_vendor()
    flow = proxy.send(request("https://vendor.test/?utm_source=mail&utm_medium=x&id=3", dest="document"))
    assert flow.response.status_code == 307  # the navigation is sent to the clean URL
    params = entries(proxy.observation.snapshot("vendor.test")["parameters"])
    assert {name: e["count"] for name, e in params.items()} == {"gclid": 1, "utm_source": 1, "utm_medium": 1}
    assert params["gclid"]["detail"] == {"request_site": "cdn.test"}


def test_a_paused_site_is_still_observed(proxy):
    proxy.settings.set_paused("vendor.test", True)
    proxy.browse_vendor()
    snap = proxy.observation.snapshot("vendor.test")
    assert snap["third_parties"]["blocked"] == 0  # nothing blocked while paused...
    assert entries(snap["third_parties"])["google-analytics.com"]["detail"]["allowed"] == 2
    uid = entries(snap["cookies"])["uid@cdn.test"]  # ...and the cookie it let through is known
    assert (uid["blocked"], uid["detail"]["mode"], uid["detail"]["granted_lifetime_seconds"]) == (
        0, "paused", 63072000)


def test_malformed_cookie_lines_are_not_cookies_set(proxy):
    proxy.send(request("https://vendor.test/", dest="document"), answer("ok=1", "bad=\x01"))
    assert list(entries(proxy.observation.snapshot("vendor.test")["cookies"])) == ["ok@vendor.test"]


def test_a_cookie_name_that_is_not_utf8_reaches_the_ledger_readably(proxy):
    # mitmproxy keeps header bytes that are not UTF-8 as lone surrogates, which SQLite refuses: one
    # such name once stopped every later write of observations (the flusher thread died on it).
    response = http.Response.make(200, b"", [(b"set-cookie", b"\xff\xfeid=1; Max-Age=60"),
                                             (b"set-cookie", b"ok=1")])
    proxy.send(request("https://vendor.test/", dest="document"), response)
    proxy.observation.done()
    with open_ledger() as ledger:
        cookies = entries(vendor_record(ledger, "vendor.test")["observations"]["cookies"])
    assert sorted(cookies) == ["ok@vendor.test", "\ufffd\ufffdid@vendor.test"]
    assert cookies["\ufffd\ufffdid@vendor.test"]["detail"]["name"] == "\ufffd\ufffdid"


def test_the_proxys_own_pages_are_not_observed(proxy):
    flow = request("http://whoknows.proxy/proxy.pac", "https://vendor.test/")
    flow.response = http.Response.make(200, b"function FindProxyForURL(){}")  # as the pac addon does
    proxy.send(flow)
    assert proxy.observation.observations.sites() == []


def test_requests_from_an_unknown_cross_site_page_are_attributed_to_nobody(proxy):
    # the user typed the address: cdn.test is the page, its cookie its own
    proxy.send(request("https://cdn.test/p.gif"), answer("pref=1"))
    # a cross-site request whose page we cannot name: nobody's to count
    proxy.send(tflow.tflow(req=http.Request.make("GET", "https://cdn.test/x.gif", headers={
        "sec-fetch-site": "cross-site", "sec-fetch-dest": "image"})), answer("uid=1"))
    assert proxy.observation.observations.sites() == ["cdn.test"]
    assert list(entries(proxy.observation.snapshot("cdn.test")["cookies"])) == ["pref@cdn.test"]


def test_shutdown_writes_the_counts_that_vendor_show_reads(proxy):
    proxy.browse_vendor()
    proxy.observation.done()
    with open_ledger() as ledger:
        record = vendor_record(ledger, "vendor.test")["observations"]
    assert (record["third_parties"]["seen"], record["third_parties"]["blocked"]) == (3, 2)
    assert entries(record["third_parties"])["google-analytics.com"]["detail"]["owner"] == "Google"
    assert entries(record["cookies"])["uid@cdn.test"]["blocked"] == 1
    assert entries(record["parameters"])["gclid"]["count"] == 1


def test_the_flush_timer_writes_while_the_proxy_runs(proxy):
    proxy.tctx.configure(proxy.observation, whoknows_flush_interval="0.05")
    proxy.observation.running()
    proxy.browse_vendor()
    deadline = time.monotonic() + 10
    # Wait for the write itself: the batch leaves memory (pending_count 0) before it is committed.
    while not proxy.observation.flusher.rows_written and time.monotonic() < deadline:
        time.sleep(0.02)
    with open_ledger() as ledger:
        assert vendor_record(ledger, "vendor.test")["observations"]["third_parties"]["seen"] == 3
    proxy.observation.done()
    assert not proxy.observation.flusher.running


@pytest.mark.parametrize("value", ["0", "-1", "soon", "nan", "inf", "7200"])
def test_a_bad_flush_interval_is_refused(proxy, value):
    with pytest.raises(exceptions.OptionsError, match="whoknows_flush_interval"):
        proxy.tctx.configure(proxy.observation, whoknows_flush_interval=value)


def test_the_flush_interval_takes_fractions_of_a_second(proxy):
    proxy.tctx.configure(proxy.observation, whoknows_flush_interval="0.5")
    assert proxy.observation.flusher.interval == 0.5
