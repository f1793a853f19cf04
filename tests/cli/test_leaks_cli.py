"""`whoknows leaks`, and leaks in `vendor show` and `knows`, over records the proxy's writer made."""

import json

from cli_runner import ok, run
from whoknows.leak_records import FoundValue, PendingLeaks, classify, write_batch
from whoknows.ledger import open_ledger
from whoknows.me import add_value

EMAIL = "alice@example.org"


def record(*requests, clock=1_700_000_000.0):
    """Write what the proxy would for each (page, request site, host, method, url, found, blocked)."""
    pending = PendingLeaks(clock=lambda: clock)
    for page, site, host, method, url, found, blocked, company in requests:
        pending.record(classify(page, site, host, method, url, found, blocked, company))
    with open_ledger() as ledger:
        write_batch(ledger, pending.take())


def email_ref():
    with open_ledger() as ledger:
        value, _ = add_value(ledger, "email", EMAIL)
    return value.reference()


def shop_requests(ref):
    return [
        ("shop.example", "shop.example", "www.shop.example", "POST", "https://www.shop.example/signup",
         [FoundValue("email", ref, "plain", "typed", "body")], False, None),
        ("shop.example", "facebook.net", "connect.facebook.net", "GET", "https://connect.facebook.net/tr?em=…",
         [FoundValue("email", ref, "sha256", "normalised", "url")], False, "Meta"),
        ("shop.example", "tracker.test", "tracker.test", "GET", "https://tracker.test/p?e=…",
         [FoundValue("email", ref, "base64", "typed", "url")], True, None),
    ]


def test_leaks_lists_each_leak_with_a_sentence_and_blocked_attempts_flagged():
    ref = email_ref()
    record(*shop_requests(ref))
    rows = json.loads(ok("leaks", "--json").stdout)
    assert sorted((r["recipient_host"], r["encoding"], r["blocked"]) for r in rows) == [
        ("connect.facebook.net", "sha256", False), ("tracker.test", "base64", True)]
    # The company as the tracker data names it now (the proxy stored "Meta" then), and its category.
    meta = next(r for r in rows if r["company"] == "Meta Platforms")
    assert meta["category"] == "advertising"
    assert meta["summary"] == (f"shop.example's page sent your email ({ref}) as SHA-256 to connect.facebook.net "
                               "(Meta Platforms)")
    assert next(r for r in rows if r["recipient_host"] == "tracker.test")["category"] is None
    blocked = next(r for r in rows if r["blocked"])
    assert blocked["summary"].endswith("to tracker.test (blocked)") and "tried to send" in blocked["summary"]
    table = ok("leaks").stdout
    assert "connect.facebook.net" in table and "SHA-256" in table and EMAIL not in table


def test_filtering_by_vendor_matches_the_page_or_the_recipient_and_by_date():
    ref = email_ref()
    record(*shop_requests(ref))
    record(("other.example", "facebook.net", "connect.facebook.net", "GET", "https://connect.facebook.net/tr",
            [FoundValue("email", ref, "md5", "normalised", "url")], False, "Meta"), clock=1_800_000_000.0)
    assert len(json.loads(ok("leaks", "--vendor", "other.example", "--json").stdout)) == 1
    assert len(json.loads(ok("leaks", "--vendor", "https://connect.facebook.net/x", "--json").stdout)) == 2
    assert len(json.loads(ok("leaks", "--vendor", "shop.example", "--json").stdout)) == 2
    assert len(json.loads(ok("leaks", "--since", "2025-01-01", "--json").stdout)) == 1
    assert json.loads(ok("leaks", "--since", "2030-01-01", "--json").stdout) == []
    assert ok("leaks", "--vendor", "nobody.example").stdout == "(leaks: none)\n"


def test_bad_dates_and_vendors_are_usage_errors():
    result = run("leaks", "--since", "yesterday")
    assert (result.exit_code, result.stderr) == (
        2, "whoknows: error: 'yesterday' is not a date (YYYY-MM-DD or YYYY-MM-DDTHH:MM:SSZ)\n")
    assert run("leaks", "--vendor", "127.0.0.1").exit_code == 2


def test_vendor_show_has_both_sides_of_a_leak():
    ref = email_ref()
    record(*shop_requests(ref))
    shop = json.loads(ok("vendor", "show", "shop.example", "--json").stdout)
    assert [(l["recipient_host"], l["blocked"]) for l in shop["leaks"]["sent_by_its_pages"]] == [
        ("connect.facebook.net", False), ("tracker.test", True)]
    assert [(d["kind"], d["value"], d["source"]) for d in shop["disclosures"]] == [("email", ref, "form")]
    assert shop["disclosures"][0]["evidence"]["method"] == "POST"
    meta = json.loads(ok("vendor", "show", "facebook.net", "--json").stdout)
    assert [l["page"] for l in meta["leaks"]["received"]] == ["shop.example"]
    assert [(d["source"], d["evidence"]["page"]) for d in meta["disclosures"]] == [("leak", "shop.example")]
    text = ok("vendor", "show", "shop.example").stdout
    assert "its pages sent your data to:" in text and "as SHA-256 to connect.facebook.net (Meta Platforms)" in text


def test_knows_finds_what_the_proxy_learned_by_the_value_itself():
    ref = email_ref()
    record(*shop_requests(ref))
    holders = json.loads(ok("knows", "email", "Alice@Example.org", "--json").stdout)
    assert sorted((h["vendor"], h["source"]) for h in holders) == [("facebook.net", "leak"), ("shop.example", "form")]
    assert json.loads(ok("knows", "email", "bob@example.org", "--json").stdout) == []
    assert len(json.loads(ok("knows", "email", "--json").stdout)) == 2
