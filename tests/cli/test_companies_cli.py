"""`whoknows companies`, `company show` and `who` over what the proxy's writer recorded."""

import csv
import io
import json

import pytest

from cli_runner import ok, run
from whoknows.company_sightings import CompanySightings, write_batch
from whoknows.ledger import open_ledger

DAY = 1_780_000_000.0  # 2026-05-28 UTC
EMAIL_REF = "a•••@example.org [me:3f9a0c1d]"


@pytest.fixture(autouse=True)
def browsed(whoknows_home):
    """Google on shop (reached, a cookie, a hashed email, the page) and news (blocked); Meta blocked
    on shop; Criteo reached on shop, with a cookie whose name a hostile page chose."""
    sightings = CompanySightings(clock=lambda: DAY)
    sightings.request("shop.example", "www.google-analytics.com", blocked=False,
                      pages=[("https://shop.example/cart?id=…", "parameter")])
    sightings.cookies("shop.example", "www.google-analytics.com", ["_ga"])
    sightings.values("shop.example", "www.google-analytics.com", [("email", EMAIL_REF, "sha256")])
    sightings.request("news.example", "stats.g.doubleclick.net", blocked=True)
    sightings.request("shop.example", "connect.facebook.net", blocked=True)
    sightings.cookies("shop.example", "static.criteo.net", ["=HYPERLINK(1)"])
    sightings.request("shop.example", "static.criteo.net", blocked=False)
    with open_ledger() as ledger:
        write_batch(ledger, sightings.take())


def test_companies_lists_each_company_with_its_counts():
    rows = json.loads(ok("companies", "--json").stdout)
    assert [(r["company"], r["sites"], r["blocked"], r["reached"], r["cookies"], r["values"]) for r in rows] == [
        ("Google", 2, 1, 1, 1, 1), ("Criteo", 1, 0, 1, 1, 0), ("Meta Platforms", 1, 1, 0, 0, 0)]
    text = ok("companies").stdout
    assert "Meta Platforms" in text and "advertising" in text and "2026-05-28" in text


def test_companies_sorts_and_refuses_an_unknown_order():
    assert [r["company"] for r in json.loads(ok("companies", "--sort", "name", "--json").stdout)] == [
        "Criteo", "Google", "Meta Platforms"]
    assert json.loads(ok("companies", "--sort", "blocked", "--json").stdout)[0]["company"] == "Google"
    result = run("companies", "--sort", "size")
    assert result.exit_code == 2 and "use one of: sites, reached" in result.stderr


def test_companies_csv_is_one_row_per_company():
    rows = list(csv.DictReader(io.StringIO(ok("companies", "--csv").stdout)))
    assert [row["company"] for row in rows] == ["Google", "Criteo", "Meta Platforms"]
    # Google's category: that of most of its tracker domains in the data.
    assert rows[0]["reached"] == "1" and rows[0]["category"] == "advertising"
    assert rows[1]["company"] == "Criteo"
    assert run("companies", "--csv", "--json").exit_code == 2


def test_company_show_tells_where_and_what_by_name_or_domain():
    record = json.loads(ok("company", "show", "doubleclick.net", "--json").stdout)
    assert record["company"] == "Google" and record["privacy_contact"] == "data-access-requests@google.com"
    assert [(s["site"], s["blocked"], s["reached"], s["domains"]) for s in record["sites"]] == [
        ("news.example", 1, 0, ["doubleclick.net"]), ("shop.example", 0, 1, ["google-analytics.com"])]
    text = ok("company", "show", "Google").stdout
    assert "data-access-requests@google.com" in text
    assert "_ga" in text and "SHA-256" in text and "https://shop.example/cart?id=…" in text
    assert "3f9a0c1d" not in text  # the value's tag is for JSON; the table shows the masked value


def test_company_show_of_an_unknown_company_is_one_clear_error():
    result = run("company", "show", "Nobody Corp")
    assert result.exit_code == 1
    assert result.stderr.strip().splitlines() == [
        "whoknows: error: no company 'Nobody Corp' in the tracker data: give its name ('Google'), one of its "
        "domains (doubleclick.net) or see 'whoknows companies'"]


def test_who_names_the_companies_on_a_site_and_which_reached_you():
    answer = json.loads(ok("who", "https://www.shop.example/cart", "--json").stdout)
    assert answer["site"] == "shop.example"
    assert [(c["company"], c["reached_you"]) for c in answer["companies"]] == [
        ("Criteo", True), ("Google", True), ("Meta Platforms", False)]
    text = ok("who", "shop.example").stdout
    assert text.startswith("shop.example: 3 companies present, 2 reached you")
    result = run("who", "never.example")
    assert result.exit_code == 1 and "no site never.example in the ledger" in result.stderr


def test_who_and_company_show_say_which_host_of_the_site_a_company_hid_behind():
    sightings = CompanySightings(clock=lambda: DAY)  # doubleclick behind one of news.example's own hosts
    sightings.request("news.example", "stats.g.doubleclick.net", blocked=True, cloaked_behind="metrics.news.example")
    with open_ledger() as ledger:
        write_batch(ledger, sightings.take())
    [google] = json.loads(ok("who", "news.example", "--json").stdout)["companies"]
    assert google["cloaked"] == [{"domain": "doubleclick.net", "behind": "metrics.news.example"}]
    assert "doubleclick.net behind metrics.news.example (CNAME)" in ok("who", "news.example").stdout
    shop = json.loads(ok("who", "shop.example", "--json").stdout)["companies"]
    assert [c["cloaked"] for c in shop] == [[], [], []]  # plain third parties hid behind nothing
    record = json.loads(ok("company", "show", "Google", "--json").stdout)
    assert {s["site"]: s["cloaked"] for s in record["sites"]} == {
        "news.example": [{"domain": "doubleclick.net", "behind": "metrics.news.example"}], "shop.example": []}
    text = ok("company", "show", "Google").stdout
    assert "doubleclick.net behind metrics.news.example (CNAME)" in text
    assert "google-analytics.com behind" not in text


def test_company_show_says_which_of_its_domains_whoknows_learned_are_trackers():
    from whoknows.learned_trackers import relearn
    from whoknows.observations import CookieSeen, Observations, write_batch as write_observations

    assert json.loads(ok("company", "show", "Criteo", "--json").stdout)["learned_trackers"] == []
    seen = Observations()
    for page in ("a.example", "b.example", "c.example"):  # Criteo's static.criteo.net set a cookie on each
        seen.cookie(page, CookieSeen("uid", "criteo.net", True, 86400, None, True, False, "block"))
    with open_ledger() as ledger:
        write_observations(ledger, seen.take())
        assert relearn(ledger) == ["criteo.net"]
    record = json.loads(ok("company", "show", "static.criteo.net", "--json").stdout)
    [learned] = record["learned_trackers"]
    assert (learned["domain"], learned["state"], learned["sites"]) == ("criteo.net", "learned",
                                                                      ["a.example", "b.example", "c.example"])
    out = ok("company", "show", "Criteo").stdout
    assert "criteo.net: learned tracker, seen tracking on a.example, b.example, c.example" in out
    assert json.loads(ok("company", "show", "Google", "--json").stdout)["learned_trackers"] == []
