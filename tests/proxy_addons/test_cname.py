"""The cname addon with the context and blocking addons: a first-party subdomain that is an alias of
a listed tracker is blocked under its canonical name; everything else is untouched and asks no DNS."""

import time

import pytest
from mitmproxy import exceptions
from mitmproxy import http
from mitmproxy.test import taddons
from mitmproxy.test import tflow

from dns_server import LoopbackDns
from proxy_addons.blocking import BLOCKED_HEADER
from proxy_addons.blocking import DECISION_KEY
from proxy_addons.blocking import UNCLOAKED_HEADER
from proxy_addons.blocking import Blocking
from proxy_addons.cname import CANONICAL_NAMES_KEY
from proxy_addons.cname import Cname
from proxy_addons.context import Context
from proxy_addons.signals import TRACKER_KEY
from whoknows.filters import FilterEngine

PAGE = "https://shop.test/cart"
FIRST_PARTY = {"sec-fetch-dest": "image", "sec-fetch-site": "same-site", "referer": PAGE}


def flow_to(url: str, headers: dict[str, str] = FIRST_PARTY) -> http.HTTPFlow:
    return tflow.tflow(req=http.Request.make("GET", url, headers=headers))


@pytest.fixture
def dns():
    with LoopbackDns() as server:
        server.alias("metrics.shop.test", "shop.test.tracker-cdn.test", ttl=60)
        server.address("shop.test.tracker-cdn.test", ttl=60)
        server.address("www.shop.test", ttl=60)
        yield server


async def finished(hook_result) -> None:
    """Await what the hook returned, as mitmproxy does: an awaitable only when it must wait for DNS."""
    if hook_result is not None:
        await hook_result


def engine() -> FilterEngine:
    loaded = FilterEngine()
    loaded.add_list("||tracker-cdn.test^\n", "mine")
    return loaded


async def through(dns, *flows: http.HTTPFlow, **options) -> list[http.HTTPFlow]:
    context, cname, blocking = Context(), Cname(), Blocking(engine())
    with taddons.context(context, cname, blocking) as tctx:
        tctx.configure(cname, whoknows_dns_server=dns.server, **options)
        blocking.running()
        for flow in flows:
            context.requestheaders(flow)
            await finished(cname.requestheaders(flow))
            blocking.requestheaders(flow)
    return list(flows)


async def test_a_cloaked_first_party_subdomain_is_blocked_under_its_canonical_name(dns):
    [flow] = await through(dns, flow_to("https://metrics.shop.test/p.gif?uid=1"))
    assert flow.metadata[CANONICAL_NAMES_KEY] == ("shop.test.tracker-cdn.test",)
    assert flow.response is not None and flow.response.status_code == 200  # a blocked image: 1x1 GIF
    assert flow.response.headers[BLOCKED_HEADER] == "mine: ||tracker-cdn.test^"
    assert flow.response.headers[UNCLOAKED_HEADER] == "shop.test.tracker-cdn.test"
    assert flow.metadata[TRACKER_KEY] is True


async def test_a_first_party_subdomain_that_is_no_alias_passes(dns):
    [flow] = await through(dns, flow_to("https://www.shop.test/logo.png"))
    assert flow.response is None
    assert flow.metadata[DECISION_KEY].action == "allow"
    assert dns.asked() == ["www.shop.test"]


async def test_third_parties_the_page_itself_and_the_apex_ask_no_dns(dns):
    flows = [flow_to("https://metrics.shop.test/", {"sec-fetch-dest": "document", "sec-fetch-site": "none"}),
             flow_to("https://shop.test/app.js", {**FIRST_PARTY, "sec-fetch-dest": "script"}),
             flow_to("https://cdn.other.test/lib.js", {"sec-fetch-dest": "script", "sec-fetch-site": "cross-site",
                                                        "referer": PAGE})]
    await through(dns, *flows)
    assert dns.asked() == []
    assert all(flow.response is None for flow in flows)


async def test_off_means_no_dns_and_no_uncloaking(dns):
    [flow] = await through(dns, flow_to("https://metrics.shop.test/p.gif"), whoknows_cname_uncloak=False)
    assert flow.response is None and dns.asked() == []


async def test_behind_an_upstream_proxy_no_dns_query_of_its_own_is_made(dns):
    # The name server would leak what the upstream proxy (Tor, a company proxy) is meant to carry.
    context, cname, blocking = Context(), Cname(), Blocking(engine())
    flow = flow_to("https://metrics.shop.test/p.gif")
    with taddons.context(context, cname, blocking) as tctx:
        tctx.configure(cname, whoknows_dns_server=dns.server, mode=["upstream:http://127.0.0.1:3128"])
        blocking.running()
        context.requestheaders(flow)
        await finished(cname.requestheaders(flow))
        blocking.requestheaders(flow)
    assert cname.resolver is None and dns.asked() == [] and flow.response is None


async def test_a_silent_name_server_lets_the_request_go_on_undecided_after_the_timeout(dns):
    dns.silent.add("metrics.shop.test")
    started = time.monotonic()
    [flow] = await through(dns, flow_to("https://metrics.shop.test/p.gif"), whoknows_dns_timeout="0.2")
    assert time.monotonic() - started < 1.0
    assert flow.response is None and CANONICAL_NAMES_KEY not in flow.metadata


async def test_an_allowed_third_party_is_not_uncloaked_into_a_block(dns, tmp_path):
    from whoknows.ledger import open_ledger
    from whoknows.site_settings import SiteSettingsStore

    ledger = open_ledger(tmp_path / "ledger.db")
    store = SiteSettingsStore(ledger)
    store.allow_third_party("shop.test", "tracker-cdn.test")
    context, cname, blocking = Context(store), Cname(), Blocking(engine())
    flow = flow_to("https://metrics.shop.test/p.gif")
    with taddons.context(context, cname, blocking) as tctx:
        tctx.configure(cname, whoknows_dns_server=dns.server)
        blocking.running()
        context.requestheaders(flow)
        await finished(cname.requestheaders(flow))
        blocking.requestheaders(flow)
    ledger.close()
    assert flow.metadata[CANONICAL_NAMES_KEY] == ("shop.test.tracker-cdn.test",)
    assert flow.response is None


@pytest.mark.parametrize("option, value", [("whoknows_dns_server", "dns.example"),
                                           ("whoknows_dns_server", "127.0.0.1:99999"),
                                           ("whoknows_dns_timeout", "0"), ("whoknows_dns_timeout", "soon")])
def test_bad_options_are_refused(option, value):
    cname = Cname()
    with taddons.context(cname) as tctx:
        with pytest.raises(exceptions.OptionsError):
            tctx.configure(cname, **{option: value})


async def test_a_system_without_name_servers_runs_without_uncloaking_and_says_so(monkeypatch, caplog):
    import dns.resolver

    def no_configuration(self, *args, **kwargs):
        raise dns.resolver.NoResolverConfiguration("no nameservers")

    monkeypatch.setattr(dns.resolver.BaseResolver, "read_resolv_conf", no_configuration)
    context, cname = Context(), Cname()
    flow = flow_to("https://metrics.shop.test/p.gif")
    with taddons.context(context, cname) as tctx:
        tctx.configure(cname, whoknows_dns_server="")  # the system's resolvers: there are none
        context.requestheaders(flow)
        await finished(cname.requestheaders(flow))
    assert cname.resolver is None and CANONICAL_NAMES_KEY not in flow.metadata
    assert "CNAME uncloaking is off: no system name server" in caplog.text
