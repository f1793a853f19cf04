"""`whoknows terms`: which personal terms the proxy proffers, chosen and withdrawn; what vendors did."""

import json

from cli_runner import ok, printed, run
from whoknows.ledger import open_ledger
from whoknows.personal_terms import find_term
from whoknows.terms_records import PendingOffers, write_batch

HEADER = 'nostalking;v=1;url="http://whoknows.proxy/personal-terms/nostalking/1"'


def test_nothing_is_proffered_until_you_offer_a_term_then_it_is_until_you_withdraw_it():
    listing = printed("terms")
    assert "nostalking/1" in listing and "No term is proffered" in listing
    assert json.loads(printed("terms", "--json"))[0]["proffered"] is False
    offered = printed("terms", "offer", "nostalking")
    assert offered == f"Now proffering nostalking/1 (No stalking) to every site.\nPersonal-Terms: {HEADER}\n"
    assert printed("terms", "offer", "nostalking/1").startswith("Already proffering nostalking/1")
    [row] = json.loads(printed("terms", "--json"))
    assert row["proffered"] is True and row["url"] == "http://whoknows.proxy/personal-terms/nostalking/1"
    assert json.loads(printed("terms", "withdraw", "--json")) == {"withdrawn": ["nostalking/1"]}
    assert json.loads(printed("terms", "--json"))[0]["proffered"] is False


def test_an_unknown_term_or_one_not_proffered_is_a_one_line_error():
    result = run("terms", "offer", "tracking-welcome")
    assert result.exit_code == 2
    assert result.stderr == "whoknows: error: no personal term 'tracking-welcome'; whoknows ships nostalking/1\n"
    result = run("terms", "withdraw", "nostalking")
    assert result.exit_code != 0 and result.stderr.count("\n") == 1
    assert "is not proffered" in result.stderr


def test_the_listing_and_vendor_show_say_who_was_offered_and_who_agreed():
    term = find_term("nostalking")
    moments = iter([1772366400.0, 1772366400.0, 1772539200.0])  # 2026-03-01, the same, 2026-03-03
    pending = PendingOffers(clock=lambda: next(moments))
    pending.offered("shop.test", [term])
    pending.offered("quiet.test", [term])
    pending.agreed("shop.test", [term], "header")
    with open_ledger() as ledger:
        write_batch(ledger, pending.take())
    [row] = json.loads(printed("terms", "--json"))
    assert (row["vendors_offered"], row["vendors_agreed"]) == (2, 1)
    assert ("personal terms: offered our terms (nostalking/1) since 2026-03-01; agreed: on 2026-03-03 "
            "(by its response header)") in printed("vendor", "show", "shop.test")
    assert "since 2026-03-01; agreed: never" in printed("vendor", "show", "quiet.test")
    shown = json.loads(printed("vendor", "show", "quiet.test", "--json"))["personal_terms"]
    assert shown == [{"term": "nostalking", "version": 1, "first_offered": "2026-03-01T12:00:00Z",
                      "last_offered": "2026-03-01T12:00:00Z", "agreed_on": None, "agreed_by": None}]


def test_vendor_show_says_when_terms_were_never_offered():
    ok("vendor", "add", "new.test")
    assert "personal terms: never offered" in printed("vendor", "show", "new.test")


def test_findings_cite_the_terms_offered_before_the_page_sent_the_value():
    from whoknows.leak_records import FoundValue, PendingLeaks, classify
    from whoknows.leak_records import write_batch as write_leaks
    from whoknows.me import add_value

    with open_ledger() as ledger:
        email, _ = add_value(ledger, "email", "ana@example.org")
        pending = PendingOffers(clock=lambda: 1772366400.0)  # 2026-03-01
        pending.offered("shop.test", [find_term("nostalking")])
        write_batch(ledger, pending.take())
        leaks = PendingLeaks(clock=lambda: 1772539200.0)  # 2026-03-03
        leaks.record(classify("shop.test", "tracker.test", "px.tracker.test", "GET", "https://px.tracker.test/p?em=",
                              [FoundValue("email", email.reference(), "sha256", "normalised", "url")], False))
        write_leaks(ledger, leaks.take())
    shown = run("findings", "shop.test").stdout
    assert ("  - offered our terms (nostalking/1) since 2026-03-01; agreed: never; on 2026-03-03 its pages sent it "
            "to px.tracker.test, as SHA-256\n") in shown
