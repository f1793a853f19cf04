"""CNAME uncloaking in the core: which requests, which names, the URL matched again, the decision;
the chain walk against a real DNS server on loopback (chasing and not), caching by TTL, timeouts,
loops and the depth cap."""

from __future__ import annotations

import asyncio
import time

import pytest

from dns_server import LoopbackDns
from whoknows import cname
from whoknows.cname import Chain
from whoknows.cname import ChainCache
from whoknows.cname import CnameResolver
from whoknows.errors import InputError
from whoknows.filters import FilterEngine

CLOAKED = "metrics.shop.test"
TRACKER = "shop.test.tracker-cdn.test"


def engine(text: str) -> FilterEngine:
    loaded = FilterEngine()
    loaded.add_list(text, "mine")
    return loaded


@pytest.mark.parametrize("host, request_site, page_site, type, expected", [
    ("metrics.shop.test", "shop.test", "shop.test", "image", True),
    ("a.b.shop.test", "shop.test", "shop.test", "script", True),
    ("shop.test", "shop.test", "shop.test", "image", False),  # the site's own apex: not a subdomain
    ("metrics.shop.test", "shop.test", "shop.test", "document", False),  # the page itself (uBO too)
    ("metrics.shop.test", "shop.test", "other.test", "image", False),  # third party: judged as is
    ("metrics.shop.test", "shop.test", None, "image", False),  # unknown page
    ("10.0.0.1", None, None, "image", False),
])
def test_only_subresources_of_a_first_party_subdomain_are_uncloaked(host, request_site, page_site, type,
                                                                    expected):
    assert cname.should_uncloak(host, request_site, page_site, type) is expected


def test_names_in_the_hosts_own_site_or_an_allowed_site_are_not_checked():
    chain = ("edge.shop.test", "shop.tracker.test", "x.cdn.test")
    assert cname.names_to_check(CLOAKED, chain) == ("shop.tracker.test", "x.cdn.test")
    assert cname.names_to_check(CLOAKED, chain, allowed_sites={"tracker.test"}) == ("x.cdn.test",)


@pytest.mark.parametrize("url, expected", [
    ("https://metrics.shop.test/p.gif?id=1", f"https://{TRACKER}/"),
    ("https://metrics.shop.test:8443/a/b", f"https://{TRACKER}:8443/"),
    ("http://METRICS.shop.test?x=1", f"http://{TRACKER}/"),
    ("wss://metrics.shop.test#f", f"wss://{TRACKER}/"),
])
def test_the_url_matched_again_is_the_canonical_origin_without_path_or_query(url, expected):
    assert cname.uncloaked_url(url, CLOAKED, TRACKER) == expected


def test_a_request_allowed_under_its_name_is_blocked_under_its_canonical_name():
    filters = engine("||tracker-cdn.test^\n/collect^\n")
    url = "https://metrics.shop.test/collect?e=1"
    first = filters.match(url, "image", "https://shop.test/", False)
    assert first.action == "block"  # `/collect^` matches the site's path: nothing to uncloak
    assert cname.uncloak(first, filters, url, CLOAKED, (TRACKER,), "image", "https://shop.test/") is None
    url = "https://metrics.shop.test/p.gif"
    first = filters.match(url, "image", "https://shop.test/", False)
    assert first.action == "allow"
    found = cname.uncloak(first, filters, url, CLOAKED, (TRACKER,), "image", "https://shop.test/")
    assert found.canonical_name == TRACKER
    assert (found.decision.action, found.decision.filter) == ("block", "||tracker-cdn.test^")


def test_third_party_filters_match_the_canonical_name_as_a_third_party():
    filters = engine("||tracker-cdn.test^$third-party\n")
    first = filters.match("https://metrics.shop.test/x", "script", "https://shop.test/", False)
    found = cname.uncloak(first, filters, "https://metrics.shop.test/x", CLOAKED, (TRACKER,), "script",
                          "https://shop.test/")
    assert found is not None and found.decision.filter == "||tracker-cdn.test^$third-party"


def test_an_exception_for_the_request_or_for_the_canonical_name_keeps_it():
    # An exception that lifted a block of the request itself (uBO: an exception only counts when it
    # overrides a block).
    filters = engine("||tracker-cdn.test^\n||metrics.shop.test^\n@@||metrics.shop.test^$image\n")
    url = "https://metrics.shop.test/p.gif"
    first = filters.match(url, "image", "https://shop.test/", False)
    assert first.action == "exception"  # uBO's cnameIgnoreExceptions: not uncloaked
    assert cname.uncloak(first, filters, url, CLOAKED, (TRACKER,), "image", "https://shop.test/") is None
    filters = engine("||tracker-cdn.test^\n@@||shop.test.tracker-cdn.test^\n")
    first = filters.match(url, "image", "https://shop.test/", False)
    assert cname.uncloak(first, filters, url, CLOAKED, (TRACKER,), "image", "https://shop.test/") is None


def test_every_name_of_the_chain_is_checked_not_only_the_last():
    filters = engine("||tracker.test^\n")
    url = "https://metrics.shop.test/p.gif"
    first = filters.match(url, "image", "https://shop.test/", False)
    found = cname.uncloak(first, filters, url, CLOAKED, ("shop.tracker.test", "edge.cdn.test"), "image",
                          "https://shop.test/")
    assert found.canonical_name == "shop.tracker.test"


@pytest.mark.parametrize("text, expected", [
    ("", None), ("system", None), ("127.0.0.1", ("127.0.0.1", 53)), ("127.0.0.1:5353", ("127.0.0.1", 5353)),
    ("::1", ("::1", 53)), ("[::1]:5353", ("::1", 5353)),
])
def test_name_server_option(text, expected):
    assert cname.parse_name_server(text) == expected


@pytest.mark.parametrize("text", ["dns.example", "127.0.0.1:0", "127.0.0.1:x", "[::1]x", "1.2.3.4:70000"])
def test_a_bad_name_server_is_a_one_line_error(text):
    with pytest.raises(InputError, match="name server"):
        cname.parse_name_server(text)


@pytest.mark.parametrize("text", ["0", "-1", "x", "31", "nan"])
def test_a_bad_timeout_is_refused(text):
    with pytest.raises(InputError, match="timeout"):
        cname.parse_timeout(text)


# -- the walk, against a real server ----------------------------------------------------------------

@pytest.fixture(params=[False, True], ids=["authoritative", "chasing"])
def dns(request):
    with LoopbackDns(chase=request.param) as server:
        yield server


def resolver(dns, timeout: float = 1.0, cache: ChainCache | None = None) -> CnameResolver:
    return CnameResolver(("127.0.0.1", dns.port), timeout=timeout, cache=cache)


async def test_a_chain_is_walked_to_its_end_with_the_smallest_ttl(dns):
    dns.alias(CLOAKED, "shop.tracker.test", ttl=600)
    dns.alias("shop.tracker.test", "edge.cdn.test", ttl=60)
    dns.address("edge.cdn.test", ttl=3000)
    chain = await resolver(dns).chain(CLOAKED)
    assert chain == Chain(("shop.tracker.test", "edge.cdn.test"), 60.0)
    expected = [CLOAKED] if dns.chase else [CLOAKED, "shop.tracker.test", "edge.cdn.test"]
    assert dns.asked() == expected


async def test_a_host_that_is_no_alias_has_an_empty_chain_kept_for_its_ttl(dns):
    dns.address("www.shop.test", ttl=42)
    assert await resolver(dns).chain("www.shop.test") == Chain((), 42.0)


async def test_no_such_name_is_an_empty_chain_and_an_alias_to_nowhere_keeps_its_name(dns):
    assert await resolver(dns).chain("nothing.shop.test") == Chain((), cname.NEGATIVE_TTL)
    dns.alias(CLOAKED, "gone.tracker.test", ttl=30)
    assert (await resolver(dns).chain(CLOAKED)).names == ("gone.tracker.test",)


async def test_a_loop_stops_the_walk():
    with LoopbackDns() as dns:
        dns.alias(CLOAKED, "a.tracker.test", ttl=60)
        dns.alias("a.tracker.test", "b.tracker.test", ttl=60)
        dns.alias("b.tracker.test", CLOAKED, ttl=60)
        chain = await resolver(dns).chain(CLOAKED)
    assert chain == Chain(("a.tracker.test", "b.tracker.test"), 60.0, stopped="loop")
    assert len(dns.asked()) == 3  # each name asked once


async def test_a_chain_longer_than_the_cap_is_cut(dns):
    names = [f"n{i}.tracker.test" for i in range(cname.MAX_CHAIN + 5)]
    dns.alias(CLOAKED, names[0])
    for here, there in zip(names, names[1:]):
        dns.alias(here, there)
    chain = await resolver(dns).chain(CLOAKED)
    assert chain.names == tuple(names[:cname.MAX_CHAIN]) and chain.stopped == "depth"


async def test_a_silent_server_times_out_undecided_and_is_not_asked_again_at_once():
    with LoopbackDns() as dns:
        dns.silent.add(CLOAKED)
        asking = resolver(dns, timeout=0.3)
        started = time.monotonic()
        chain = await asking.chain(CLOAKED)
        waited = time.monotonic() - started
        assert chain.names == () and chain.complete is False
        assert 0.25 <= waited < 1.5
        started = time.monotonic()
        assert (await asking.chain(CLOAKED)).complete is False
        assert time.monotonic() - started < 0.05  # the failure is remembered for FAILURE_TTL
        assert dns.asked().count(CLOAKED) <= 2  # dnspython may retry within the timeout, never after


async def test_answers_are_cached_until_their_ttl_runs_out(dns):
    now = [1000.0]
    cache = ChainCache(clock=lambda: now[0])
    dns.alias(CLOAKED, TRACKER, ttl=60)
    dns.address(TRACKER, ttl=600)
    asking = resolver(dns, cache=cache)
    assert (await asking.chain(CLOAKED)).names == (TRACKER,)
    asked = len(dns.asked())
    dns.alias(CLOAKED, "moved.tracker.test", ttl=60)
    now[0] += 59
    assert (await asking.chain(CLOAKED)).names == (TRACKER,)  # still cached
    assert len(dns.asked()) == asked
    now[0] += 2
    assert (await asking.chain(CLOAKED)).names == ("moved.tracker.test",)  # expired: asked again


async def test_concurrent_requests_for_one_host_share_one_walk(dns):
    dns.alias(CLOAKED, TRACKER, ttl=60)
    dns.address(TRACKER)
    asking = resolver(dns)
    chains = await asyncio.gather(*(asking.chain(CLOAKED) for _ in range(20)))
    assert {chain.names for chain in chains} == {(TRACKER,)}
    assert dns.asked().count(CLOAKED) == 1


def test_the_cache_is_bounded_and_drops_the_oldest_first():
    now = [0.0]
    cache = ChainCache(size=3, clock=lambda: now[0])
    for i in range(5):
        cache.put(f"h{i}.shop.test", Chain((f"t{i}.test",), 100), 100)
    assert len(cache) == 3
    assert cache.get("h0.shop.test") is None and cache.get("h4.shop.test").names == ("t4.test",)
    cache.put("short.shop.test", Chain((), 1), 1)
    now[0] += 2
    assert cache.get("short.shop.test") is None
    cache.put("long.shop.test", Chain((), 10**9), 10**9)
    now[0] += cname.MAX_TTL + 1
    assert cache.get("long.shop.test") is None  # no answer outlives MAX_TTL
    cache.put("zero.shop.test", Chain((), 0), 0)
    assert cache.get("zero.shop.test") is None  # TTL 0: not kept


def test_a_cname_exception_for_the_page_exempts_its_requests_from_uncloaked_blocks():
    url = "https://metrics.shop.test/p.gif"
    filters = engine("||tracker-cdn.test^\n@@||shop.test^$cname\n")
    first = filters.match(url, "image", "https://shop.test/cart", False)
    assert first.action == "allow"  # `$cname` never matches a request itself
    assert cname.exemption(filters, "https://shop.test/cart") == "@@||shop.test^$cname"
    assert cname.uncloak(first, filters, url, CLOAKED, (TRACKER,), "image", "https://shop.test/cart") is None
    assert cname.exemption(filters, "https://other.test/") is None
    important = engine("||tracker-cdn.test^$important\n@@||shop.test^$cname\n")
    found = cname.uncloak(first, important, url, CLOAKED, (TRACKER,), "image", "https://shop.test/cart")
    assert found is not None  # uBO: an important block is not exempt


def test_cname_is_an_exception_option_only():
    filters = FilterEngine()
    stats = filters.add_list("||shop.test^$cname\n@@||shop.test^$~cname\n@@||shop.test^$cname\n", "mine")
    assert stats.filters_used == 1 and stats.skipped == {"unsupported-option:cname": 2}
    # no request type is `cname`: the exception lifts no block of a real request on the page
    both = engine("||shop.test^\n@@||shop.test^$cname\n")
    assert both.match("https://shop.test/x.js", "script", "https://shop.test/", False).action == "block"
