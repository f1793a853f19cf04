"""whoknows.company_view: the companies the ledger saw, one company's record, a site's companies."""

from __future__ import annotations

import pytest

from whoknows import company_view
from whoknows.company_sightings import CompanySightings, write_batch
from whoknows.errors import InputError, NotFoundError
from whoknows.ledger import open_ledger

DAY = 1_780_000_000.0  # 2026-05-28 UTC
EMAIL = "a•••@example.org [me:3f9a0c1d]"


@pytest.fixture
def ledger(whoknows_home):
    """Three sites: Google on all three (reached on two), Meta blocked on one, Criteo on one."""
    now = [DAY]
    sightings = CompanySightings(clock=lambda: now[0])
    sightings.request("shop.example", "www.google-analytics.com", blocked=False,
                      pages=[("https://shop.example/cart", "referer")])
    sightings.request("shop.example", "stats.g.doubleclick.net", blocked=True)
    sightings.cookies("shop.example", "www.google-analytics.com", ["_ga", "_gid"])
    sightings.cookies("shop.example", "www.google-analytics.com", ["NID"], sent=True)
    sightings.values("shop.example", "www.google-analytics.com", [("email", EMAIL, "sha256")])
    sightings.request("shop.example", "connect.facebook.net", blocked=True)
    sightings.request("shop.example", "connect.facebook.net", blocked=True)
    now[0] += 3 * 86400
    sightings.request("news.example", "www.google-analytics.com", blocked=False)
    sightings.request("news.example", "www.google-analytics.com", blocked=False)
    sightings.cookies("news.example", "www.google-analytics.com", ["_ga"])
    sightings.request("news.example", "static.criteo.net", blocked=False)
    sightings.cookies("news.example", "static.criteo.net", ["cto_bundle"])
    sightings.request("blog.example", "www.googletagmanager.com", blocked=True)
    with open_ledger() as opened:
        write_batch(opened, sightings.take())
        yield opened


def test_list_companies_adds_up_sites_requests_and_what_each_holds(ledger):
    rows = {row["id"]: row for row in company_view.list_companies(ledger)}
    assert rows["google"] == {
        "company": "Google", "id": "google", "category": "advertising", "sites": 3, "blocked": 2,
        "reached": 3, "cookies": 2, "values": 1, "first_seen": "2026-05-28", "last_seen": "2026-05-31",
    }
    assert rows["meta"]["company"] == "Meta Platforms"
    assert (rows["meta"]["sites"], rows["meta"]["blocked"], rows["meta"]["reached"]) == (1, 2, 0)
    assert rows["meta"]["category"] == "advertising"
    # A company's category is that of most of its tracker domains (Hotjar's: site_analytics).
    assert company_view.category_of("hotjar") == "site_analytics"
    assert company_view.category_of("no-such-company") == "unknown"
    assert (rows["criteo"]["cookies"], rows["criteo"]["values"]) == (1, 0)
    assert list(rows) == ["google", "meta", "criteo"]  # most sites first, then most requests


@pytest.mark.parametrize("sort, first", [("reached", "google"), ("blocked", "google"), ("cookies", "google"),
                                          ("name", "criteo"), ("first-seen", "google"), ("last-seen", "criteo")])
def test_list_companies_sorts(ledger, sort, first):
    assert company_view.list_companies(ledger, sort)[0]["id"] == first


def test_list_companies_refuses_an_unknown_sort(ledger):
    with pytest.raises(InputError, match="use one of: sites, reached"):
        company_view.list_companies(ledger, "size")


def test_company_record_by_name_domain_or_site_tells_where_and_what(ledger):
    record = company_view.company_record(ledger, "google")
    assert company_view.company_record(ledger, "doubleclick.net") == record
    assert company_view.company_record(ledger, "youtube.com") == record  # a site Google owns
    assert (record["company"], record["privacy_contact"]) == ("Google", "data-access-requests@google.com")
    sites = {site["site"]: site for site in record["sites"]}
    assert sites["shop.example"]["domains"] == ["doubleclick.net", "google-analytics.com"]
    assert (sites["shop.example"]["blocked"], sites["shop.example"]["reached"]) == (1, 1)
    assert (sites["news.example"]["first_seen"], sites["news.example"]["days"]) == ("2026-05-31", 1)
    assert (sites["blog.example"]["blocked"], sites["blog.example"]["reached"]) == (1, 0)
    received = record["received"]
    assert [(c["name"], c["how"], c["sites"]) for c in received["cookies"]] == [
        ("NID", "sent", ["shop.example"]), ("_ga", "set", ["news.example", "shop.example"]),
        ("_gid", "set", ["shop.example"])]
    assert received["values"] == [{"kind": "email", "value": EMAIL, "encoding": "sha256", "sites": ["shop.example"],
                                   "domains": ["google-analytics.com"], "count": 1, "first_seen": "2026-05-28",
                                   "last_seen": "2026-05-28"}]
    assert [(p["url"], p["through"]) for p in received["pages"]] == [("https://shop.example/cart", "referer")]


def test_a_known_company_never_seen_has_an_empty_record_and_an_unknown_name_is_not_found(ledger):
    record = company_view.company_record(ledger, "Taboola")
    assert (record["sites"], record["blocked"], record["reached"], record["first_seen"]) == ([], 0, 0, None)
    with pytest.raises(NotFoundError, match="no company 'Nobody Corp'"):
        company_view.company_record(ledger, "Nobody Corp")


def test_site_companies_lists_who_was_present_and_who_reached_you(ledger):
    rows = company_view.site_companies(ledger, "shop.example")
    assert [(r["company"], r["reached_you"], r["blocked"], r["reached"]) for r in rows] == [
        ("Google", True, 1, 1), ("Meta Platforms", False, 2, 0)]
    assert rows[0]["domains"] == ["doubleclick.net", "google-analytics.com"]
    with pytest.raises(NotFoundError):
        company_view.site_companies(ledger, "never.example")


def test_a_company_id_the_data_no_longer_knows_is_shown_by_its_id(ledger):
    with ledger.write() as db:
        db.execute("UPDATE company_sightings SET company = 'gone:old-company' WHERE company = 'criteo'")
    names = [row["company"] for row in company_view.list_companies(ledger)]
    assert "gone:old-company" in names


def test_group_third_parties_adds_up_a_companys_domains_for_the_popup():
    groups = company_view.group_third_parties([
        {"domain": "doubleclick.net", "company": "Google", "category": "advertising", "blocked": 7, "allowed": 0},
        {"domain": "cdn.test", "company": None, "category": None, "blocked": 0, "allowed": 4},
        {"domain": "google-analytics.com", "company": "Google", "category": "site_analytics", "blocked": 2,
         "allowed": 2},
        {"domain": "facebook.net", "company": "Meta Platforms", "category": "advertising", "blocked": 1,
         "allowed": 0},
    ])
    assert groups == [
        {"company": "Google", "category": "advertising", "blocked": 9, "reached": 2,
         "domains": ["doubleclick.net", "google-analytics.com"]},
        {"company": "Meta Platforms", "category": "advertising", "blocked": 1, "reached": 0,
         "domains": ["facebook.net"]},
    ]
