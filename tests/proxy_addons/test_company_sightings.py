"""The company sightings addon at the end of the real chain (context, blocking, params, cookies,
signals, leaks, observation): which company each third-party request went to, what it got, and
that it reaches the ledger at shutdown."""

from __future__ import annotations

import hashlib

import pytest
from mitmproxy import http
from mitmproxy.test import taddons
from mitmproxy.test import tflow

from proxy_addons import flow_state
from proxy_addons.blocking import Blocking
from proxy_addons.company_sightings import CompanySightingsAddon
from proxy_addons.context import Context
from proxy_addons.cookies import Cookies
from proxy_addons.leaks import Leaks
from proxy_addons.observation import Observation
from proxy_addons.params import Params
from proxy_addons.signals import Signals
from whoknows import company_view
from whoknows.filters import FilterEngine
from whoknows.ledger import open_ledger
from whoknows.me import add_value
from whoknows.site_settings import SiteSettingsStore

EMAIL = "alice.smith@example.org"
PAGE = "https://shop.vendor.test/checkout/step-2?coupon=SPRING"


def request(url: str, page: str | None = PAGE, dest: str = "image") -> http.HTTPFlow:
    fields = {"sec-fetch-dest": dest, "sec-fetch-site": "cross-site" if page else "none"}
    if page:
        fields["referer"] = page
    return tflow.tflow(req=http.Request.make("GET", url, headers=fields))


def answer(*set_cookies: str) -> http.Response:
    return http.Response.make(200, b"", [(b"set-cookie", line.encode()) for line in set_cookies])


class Proxy:
    def __init__(self) -> None:
        self.ledger = open_ledger()
        engine = FilterEngine()
        engine.add_list("||doubleclick.net^\n", "test")
        self.leaks = Leaks()
        self.sightings = CompanySightingsAddon()
        self.settings = SiteSettingsStore(self.ledger)
        self.addons = [Context(self.settings), Blocking(engine), Params(), Cookies(), Signals(),
                       self.leaks, Observation(), self.sightings]
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


@pytest.fixture
def proxy(whoknows_home):
    with open_ledger() as ledger:
        add_value(ledger, "email", EMAIL)
        # what a company receives is the point here: leak prevention (block by default) only records
        SiteSettingsStore(ledger).set_default_leak_mode("report")
    running = Proxy()
    with running.tctx:
        running.leaks.running()
        yield running
        running.leaks.done()
        running.sightings.done()
    running.ledger.close()


def test_blocked_and_reached_requests_cookies_values_and_pages_reach_the_ledger(proxy):
    proxy.send(request(PAGE, page=None, dest="document"))  # the page itself: no company
    proxy.send(request("https://stats.g.doubleclick.net/j/collect?t=dc"))  # blocked by the list
    email_hash = hashlib.sha256(EMAIL.encode()).hexdigest()
    proxy.send(request(f"https://www.google-analytics.com/g/collect?v=2&em={email_hash}"
                       "&dl=https%3A%2F%2Fshop.vendor.test%2Fcheckout%2Fstep-2%3Fcoupon%3DSPRING"),
               answer("_ga=GA1.1.123456789.1780000000; Max-Age=63072000", "_gid=x; Max-Age=86400"))
    proxy.send(request("https://cdn.vendor-assets.test/app.js", dest="script"), answer("sid=1"))  # no company
    proxy.sightings.done()
    with open_ledger() as ledger:
        [google] = company_view.list_companies(ledger)
        record = company_view.company_record(ledger, "Google")
    assert (google["company"], google["sites"], google["blocked"], google["reached"]) == ("Google", 1, 1, 1)
    assert (google["cookies"], google["values"]) == (2, 1)
    [site] = record["sites"]
    assert (site["site"], site["domains"]) == ("vendor.test", ["doubleclick.net", "google-analytics.com"])
    assert [c["name"] for c in record["received"]["cookies"]] == ["_ga", "_gid"]
    [value] = record["received"]["values"]
    assert (value["kind"], value["encoding"]) == ("email", "sha256") and EMAIL not in value["value"]
    # The Referer left trimmed to the page's origin (signals addon); the page's full address (its
    # parameters redacted) went in `dl=`.
    assert [(p["url"], p["through"]) for p in record["received"]["pages"]] == [
        ("https://shop.vendor.test/", "referer"),
        ("https://shop.vendor.test/checkout/step-2?coupon=…", "parameter"),
    ]


def test_first_party_requests_are_not_company_sightings_even_on_a_companys_own_site(proxy):
    proxy.send(request("https://www.youtube.com/", page=None, dest="document"))
    proxy.send(request("https://www.youtube.com/s/player.js", page="https://www.youtube.com/", dest="script"))
    proxy.sightings.done()
    with open_ledger() as ledger:
        assert company_view.list_companies(ledger) == []


def test_cookies_sent_to_a_company_are_named_as_they_left_after_the_cookie_rules(proxy):
    def with_cookies():
        flow = request("https://www.google-analytics.com/g/collect?v=2")
        flow.request.headers["cookie"] = "NID=511; AEC=xyz"
        return flow

    stripped = proxy.send(with_cookies())  # third-party cookies are removed by default: none left
    assert "cookie" not in stripped.request.headers
    proxy.settings.allow_third_party("vendor.test", "google-analytics.com")  # (as `site allow-3p` does)
    kept = proxy.send(with_cookies())
    assert kept.request.headers["cookie"] == "NID=511; AEC=xyz"
    proxy.sightings.done()
    with open_ledger() as ledger:
        record = company_view.company_record(ledger, "Google")
        [google] = company_view.list_companies(ledger)
    assert [(c["name"], c["how"]) for c in record["received"]["cookies"]] == [("AEC", "sent"), ("NID", "sent")]
    assert google["cookies"] == 0  # `companies` counts the cookies it tried to set


def test_a_request_leak_prevention_stops_counts_as_blocked_and_gives_the_company_nothing(proxy):
    proxy.settings.set_default_leak_mode("block")  # (the default: what the fixture turned off)
    email_hash = hashlib.sha256(EMAIL.encode()).hexdigest()
    stopped = proxy.send(request(f"https://www.google-analytics.com/g/collect?v=2&em={email_hash}"))
    # Answered by the proxy (a blocked image is a transparent GIF), not by the server (`answer()`: empty).
    assert stopped.response.headers.get("content-type") == "image/gif" and stopped.response.content
    proxy.sightings.done()
    with open_ledger() as ledger:
        [google] = company_view.list_companies(ledger)
        record = company_view.company_record(ledger, "Google")
    assert (google["blocked"], google["reached"], google["values"]) == (1, 0, 0)
    assert record["received"] == {"cookies": [], "values": [], "pages": []}


def cloaked(url: str, canonical: str) -> http.HTTPFlow:
    """A request to a host of the page's own site that DNS says is an alias of `canonical` (what
    the cname addon puts in the flow; tests/e2e/test_browser_cname.py asks a real DNS server)."""
    flow = request(url)
    flow.request.headers["sec-fetch-site"] = "same-site"
    flow.metadata[flow_state.CANONICAL_NAMES] = (canonical,)
    return flow


def test_a_cname_cloaked_first_party_host_is_counted_for_the_company_behind_its_canonical_name(proxy):
    # Blocked under its canonical name (Google's doubleclick.net is on the list): Google's, blocked.
    blocked = proxy.send(cloaked("https://metrics.vendor.test/j/collect", "vendor.test.stats.g.doubleclick.net"))
    assert blocked.response.headers["x-whoknows-uncloaked"] == "vendor.test.stats.g.doubleclick.net"
    # Not on a list (Adobe's omtrdc.net): it reached Adobe, with the site's own cookies.
    flow = cloaked("https://smetrics.vendor.test/b/ss/id/1", "vendor.test.sc.omtrdc.net")
    flow.request.headers["cookie"] = "s_ecid=MCMID|123"
    proxy.send(flow, answer("s_vi=[CS]v1|abc; Max-Age=63072000"))
    proxy.send(request("https://www.vendor.test/logo.gif", page=PAGE))  # first party, no alias: nobody's
    proxy.sightings.done()
    with open_ledger() as ledger:
        companies = {row["company"]: row for row in company_view.list_companies(ledger)}
        adobe = company_view.company_record(ledger, "Adobe")
        who = {row["company"]: row for row in company_view.site_companies(ledger, "vendor.test")}
    assert set(companies) == {"Google", "Adobe"}
    assert (companies["Google"]["blocked"], companies["Google"]["reached"]) == (1, 0)
    assert (companies["Adobe"]["blocked"], companies["Adobe"]["reached"]) == (0, 1)
    assert [s["domains"] for s in adobe["sites"]] == [["omtrdc.net"]]
    assert sorted((c["name"], c["how"]) for c in adobe["received"]["cookies"]) == [("s_ecid", "sent"), ("s_vi", "set")]
    assert (who["Google"]["reached_you"], who["Adobe"]["reached_you"]) == (False, True)
    # Each names the site's own host it hid behind, blocked or not.
    assert who["Google"]["cloaked"] == [{"domain": "doubleclick.net", "behind": "metrics.vendor.test"}]
    assert [s["cloaked"] for s in adobe["sites"]] == [[{"domain": "omtrdc.net", "behind": "smetrics.vendor.test"}]]
