"""whoknows.company_sightings: what the proxy records per page site, tracker company, domain and day,
and how it reaches the ledger (added up across flushes, kept when the ledger is locked, bounded)."""

from __future__ import annotations

import sqlite3

import pytest

from whoknows.company_sightings import (
    MAX_PAGES_PER_SITE, CompanySightings, SightingsFlusher, pages_learned, write_batch,
)
from whoknows.ledger import open_ledger
from whoknows.sites import site_of

DAY = 1_780_000_000.0  # 2026-05-28 UTC
NEXT_DAY = DAY + 86400


class Clock:
    def __init__(self, now: float = DAY) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def ledger(whoknows_home):
    with open_ledger() as opened:
        yield opened


def sightings_rows(ledger) -> list[tuple]:
    return [tuple(row) for row in ledger.query(
        "SELECT v.domain, s.company, s.domain, s.day, s.blocked, s.reached FROM company_sightings AS s "
        "JOIN vendors AS v ON v.id = s.vendor_id ORDER BY v.domain, s.company, s.domain, s.day")]


def identifier_rows(ledger) -> list[tuple]:
    return [tuple(row) for row in ledger.query(
        "SELECT v.domain, i.company, i.domain, i.kind, i.name, i.qualifier, i.count, i.first_day, i.last_day "
        "FROM company_identifiers AS i JOIN vendors AS v ON v.id = i.vendor_id "
        "ORDER BY v.domain, i.company, i.kind, i.name")]


def test_requests_are_counted_per_site_company_domain_and_day(ledger):
    clock = Clock()
    sightings = CompanySightings(clock=clock)
    sightings.request("shop.example", "www.google-analytics.com", blocked=False)
    sightings.request("shop.example", "region1.google-analytics.com", blocked=False)
    sightings.request("shop.example", "stats.g.doubleclick.net", blocked=True)
    sightings.request("shop.example", "connect.facebook.net", blocked=True)
    clock.now = NEXT_DAY
    sightings.request("shop.example", "www.google-analytics.com", blocked=True)
    sightings.request("news.example", "www.google-analytics.com", blocked=False)
    assert write_batch(ledger, sightings.take()) == 5
    assert sightings_rows(ledger) == [
        ("news.example", "google", "google-analytics.com", "2026-05-29", 0, 1),
        ("shop.example", "google", "doubleclick.net", "2026-05-28", 1, 0),
        ("shop.example", "google", "google-analytics.com", "2026-05-28", 0, 2),
        ("shop.example", "google", "google-analytics.com", "2026-05-29", 1, 0),
        ("shop.example", "meta", "connect.facebook.net", "2026-05-28", 1, 0),
    ]


def test_hosts_of_no_known_company_are_not_recorded(ledger):
    sightings = CompanySightings(clock=Clock())
    assert sightings.request("shop.example", "cdn.shop-assets.test", blocked=False) is None
    sightings.cookies("shop.example", "cdn.shop-assets.test", ["sid"])
    sightings.values("shop.example", "192.0.2.7", [("email", "a•••@x.org [me:1]", "plain")])
    assert not sightings.take()


def test_counts_and_identifiers_add_up_across_flushes_and_days(ledger):
    clock = Clock()
    sightings = CompanySightings(clock=clock)
    sightings.request("shop.example", "www.google-analytics.com", blocked=False,
                      pages=[("https://shop.example/", "referer")])
    sightings.cookies("shop.example", "www.google-analytics.com", ["_ga", "_gid"])
    write_batch(ledger, sightings.take())
    clock.now = NEXT_DAY
    sightings.request("shop.example", "www.google-analytics.com", blocked=False,
                      pages=[("https://shop.example/", "referer")])
    sightings.cookies("shop.example", "www.google-analytics.com", ["_ga"])
    sightings.values("shop.example", "www.google-analytics.com", [("email", "a•••@x.org [me:1]", "sha256")])
    write_batch(ledger, sightings.take())
    assert identifier_rows(ledger) == [
        ("shop.example", "google", "google-analytics.com", "cookie", "_ga", "", 2, "2026-05-28", "2026-05-29"),
        ("shop.example", "google", "google-analytics.com", "cookie", "_gid", "", 1, "2026-05-28", "2026-05-28"),
        ("shop.example", "google", "google-analytics.com", "page", "https://shop.example/", "referer", 2,
         "2026-05-28", "2026-05-29"),
        ("shop.example", "google", "google-analytics.com", "value", "a•••@x.org [me:1]", "email sha256", 1,
         "2026-05-29", "2026-05-29"),
    ]
    assert [row[3:] for row in sightings_rows(ledger)] == [("2026-05-28", 0, 1), ("2026-05-29", 0, 1)]


def test_a_blocked_request_adds_to_blocked_and_gives_the_company_nothing(ledger):
    sightings = CompanySightings(clock=Clock())
    sightings.request("shop.example", "www.google-analytics.com", blocked=True,
                      pages=[("https://shop.example/cart", "referer")])
    write_batch(ledger, sightings.take())
    assert sightings_rows(ledger) == [("shop.example", "google", "google-analytics.com", "2026-05-28", 1, 0)]
    assert identifier_rows(ledger) == []


def test_a_locked_ledger_keeps_the_batch_for_the_next_flush(ledger):
    sightings = CompanySightings(clock=Clock())
    flusher = SightingsFlusher(sightings, open_ledger, lock_wait=0.05)
    sightings.request("shop.example", "www.google-analytics.com", blocked=False)
    sightings.cookies("shop.example", "www.google-analytics.com", ["_ga"])
    other = sqlite3.connect(ledger.path, isolation_level=None)
    other.execute("BEGIN IMMEDIATE")
    try:
        assert flusher.flush() is False
        sightings.request("shop.example", "www.google-analytics.com", blocked=False)  # meanwhile
        sightings.cookies("shop.example", "www.google-analytics.com", ["_ga"])
    finally:
        other.execute("ROLLBACK")
        other.close()
    assert flusher.flush() is True
    assert sightings_rows(ledger) == [("shop.example", "google", "google-analytics.com", "2026-05-28", 0, 2)]
    assert [row[4:7] for row in identifier_rows(ledger)] == [("_ga", "", 2)]
    assert sightings.pending_count() == 0


def test_page_urls_per_site_and_company_are_bounded_but_known_ones_still_count(ledger):
    sightings = CompanySightings(clock=Clock())
    for number in range(MAX_PAGES_PER_SITE + 10):
        sightings.request("news.example", "www.google-analytics.com", blocked=False,
                          pages=[(f"https://news.example/article-{number}", "referer")])
    write_batch(ledger, sightings.take())
    sightings.request("news.example", "www.google-analytics.com", blocked=False,
                      pages=[("https://news.example/article-0", "referer"), ("https://news.example/new", "referer")])
    write_batch(ledger, sightings.take())
    pages = [row for row in identifier_rows(ledger) if row[3] == "page"]
    assert len(pages) == MAX_PAGES_PER_SITE
    assert ("https://news.example/new" not in {row[4] for row in pages})
    assert {row[4]: row[6] for row in pages}["https://news.example/article-0"] == 2
    # The requests themselves are all counted.
    assert sightings_rows(ledger)[0][5] == MAX_PAGES_PER_SITE + 11


def test_forgetting_a_site_removes_what_companies_saw_on_it(ledger):
    from whoknows.vendor_records import forget_vendor

    sightings = CompanySightings(clock=Clock())
    sightings.request("shop.example", "www.google-analytics.com", blocked=False,
                      pages=[("https://shop.example/", "referer")])
    sightings.request("news.example", "www.google-analytics.com", blocked=False)
    write_batch(ledger, sightings.take())
    forget_vendor(ledger, "shop.example")
    assert [row[0] for row in sightings_rows(ledger)] == ["news.example"]
    assert identifier_rows(ledger) == []


def test_pages_learned_reads_the_referer_and_page_addresses_in_parameters_redacted():
    url = ("https://www.google-analytics.com/g/collect?v=2&tid=G-1&dl=https%3A%2F%2Fshop.example%2Fcart%3Fitem%3D42"
           "&dr=https%3A%2F%2Fsearch.test%2F%3Fq%3Dshoes&u=http%3A%2F%2Fwww.shop.example%2Forders%2F123456789")
    assert pages_learned(url, "https://shop.example/cart?item=42", "shop.example", site_of) == [
        ("https://shop.example/cart?item=…", "referer"),
        ("https://shop.example/cart?item=…", "parameter"),
        # dr= is another site's address (where the visitor came from): not this page.
        ("http://www.shop.example/orders/…", "parameter"),
    ]
    assert pages_learned("https://t.test/p.gif?id=1", None, "shop.example", site_of) == []
    assert pages_learned("https://t.test/p.gif?u=http://[bad", None, "shop.example", site_of) == []


def test_cookies_it_was_sent_are_kept_apart_from_those_it_set(ledger):
    sightings = CompanySightings(clock=Clock())
    sightings.cookies("shop.example", "www.google-analytics.com", ["_ga"])
    sightings.cookies("shop.example", "www.google-analytics.com", ["_ga", "NID"], sent=True)
    write_batch(ledger, sightings.take())
    assert [(row[4], row[5]) for row in identifier_rows(ledger)] == [("NID", "sent"), ("_ga", ""), ("_ga", "sent")]


def test_the_sites_host_a_company_hid_behind_is_kept_with_its_counts_and_survives_a_locked_ledger(ledger):
    """A host of the page's own site that is a CNAME of the tracker's (the proxy passes it): the
    row names it, plain requests to the same domain do not take it away, and a batch given back
    after a locked flush still carries it."""
    sightings = CompanySightings(clock=Clock())
    flusher = SightingsFlusher(sightings, open_ledger, lock_wait=0.05)
    sightings.request("shop.example", "stats.g.doubleclick.net", blocked=True, cloaked_behind="metrics.shop.example")
    sightings.request("shop.example", "www.google-analytics.com", blocked=False)
    other = sqlite3.connect(ledger.path, isolation_level=None)
    other.execute("BEGIN IMMEDIATE")
    try:
        assert flusher.flush() is False
        sightings.request("shop.example", "stats.g.doubleclick.net", blocked=True)  # meanwhile, not cloaked
    finally:
        other.execute("ROLLBACK")
        other.close()
    assert flusher.flush() is True
    sightings.request("shop.example", "stats.g.doubleclick.net", blocked=False)  # a later flush, not cloaked
    write_batch(ledger, sightings.take())
    assert [tuple(row) for row in ledger.query(
        "SELECT domain, blocked, reached, cloaked_behind FROM company_sightings ORDER BY domain")] == [
        ("doubleclick.net", 2, 1, "metrics.shop.example"), ("google-analytics.com", 0, 1, None)]
