"""Domain operations on a real ledger file: disclosures, `knows`, vendor records, preferences."""

import pytest

from whoknows.disclosures import Fact, evidence_summary, knows, parse_fact, record_disclosures
from whoknows.errors import InputError, NotFoundError
from whoknows.ledger import json_text, open_ledger
from whoknows.preferences import get_preferences, set_preferences
from whoknows.vendor_records import add_vendor, forget_vendor, list_vendors, vendor_record


@pytest.fixture
def ledger():
    with open_ledger() as opened:
        yield opened


# -- parsing what the user typed ------------------------------------------------------------------

@pytest.mark.parametrize("argument, fact", [
    ("phone=+34 600 111 222", Fact("phone", "+34 600 111 222")),
    ("Email=Ana.Perez@Example.COM", Fact("email", "ana.perez@example.com")),
    ("address=  Calle Mayor 1,\n  Madrid ", Fact("address", "Calle Mayor 1, Madrid")),
    ("email", Fact("email", None)),
    ("email=", Fact("email", None)),
    ("birthday=1990-05-01", Fact("birthday", "1990-05-01")),
    ("birthday=02-29", Fact("birthday", "--02-29")),
    ("payment=visa ..1234", Fact("payment", "visa ..1234")),
    ("other=a=b", Fact("other", "a=b")),  # only the first = separates
])
def test_parse_fact_accepts_and_normalises(argument, fact):
    assert parse_fact(argument) == fact


@pytest.mark.parametrize("argument, message", [
    ("phone", "'phone' is not KIND=VALUE: phone needs a value"),
    ("fax=123", "'fax=123': unknown kind 'fax'"),
    ("shoesize", "'shoesize' is not KIND=VALUE"),
    ("name=", "'name=': name needs a value"),
    ("phone=call me", "'phone=call me': 'call me' is not a phone number"),
    ("phone=12", "is not a phone number"),
    ("email=not-an-address", "is not an email address"),
    ("birthday=1990-02-30", "is not a date"),
    ("name=a\x07b", "control characters"),
])
def test_parse_fact_rejects_naming_the_argument(argument, message):
    with pytest.raises(InputError, match=message.replace("(", r"\(").replace(")", r"\)")):
        parse_fact(argument)


def test_a_full_card_number_is_refused_and_not_repeated_in_the_error():
    with pytest.raises(InputError) as caught:
        parse_fact("payment=visa 4111 1111 1111 1111")
    assert "full card number" in str(caught.value)
    assert "4111" not in str(caught.value)
    assert parse_fact("payment=ref 4111 1111 1111 1112").value  # not a card (Luhn fails): kept


# -- recording and finding ---------------------------------------------------------------------------

def test_telling_the_same_fact_again_updates_last_seen_and_does_not_duplicate(ledger):
    first = record_disclosures(ledger, "shop.example", [("phone", "+34 600 111 222")], when="2024-01-01T00:00:00Z")
    again = record_disclosures(ledger, "shop.example", [("phone", "0034-600-111-222")], when="2024-06-01T00:00:00Z")
    assert [r.new for r in first + again] == [True, False]
    rows = ledger.query("SELECT value, first_seen, last_seen FROM disclosures")
    assert [tuple(r) for r in rows] == [("0034-600-111-222", "2024-01-01T00:00:00Z", "2024-06-01T00:00:00Z")]


def test_an_older_report_does_not_move_last_seen_back(ledger):
    record_disclosures(ledger, "shop.example", [("name", "Ana")], when="2024-06-01T00:00:00Z")
    record_disclosures(ledger, "shop.example", [("name", "Ana")], when="2024-01-01T00:00:00Z")
    assert ledger.query("SELECT last_seen FROM disclosures")[0][0] == "2024-06-01T00:00:00Z"


def test_one_call_is_one_transaction(ledger):
    with pytest.raises(Exception):
        record_disclosures(ledger, "shop.example", [("name", "Ana"), ("not-a-kind", "x")])
    assert ledger.query("SELECT count(*) FROM disclosures")[0][0] == 0
    assert ledger.query("SELECT count(*) FROM vendors")[0][0] == 0


def test_knows_finds_every_holder_of_a_kind_and_of_a_value_compared_normalised(ledger):
    record_disclosures(ledger, "shop.example", [("phone", "+34 600 111 222"), ("email", "ana@example.com")])
    record_disclosures(ledger, "bank.example", [("phone", "0034600111222")], source="form",
                       evidence={"url": "https://bank.example/signup", "field": "tel"})
    record_disclosures(ledger, "gym.example", [("phone", "+49 30 1234567")])
    assert [h.vendor for h in knows(ledger, "phone")] == ["bank.example", "gym.example", "shop.example"]
    holders = knows(ledger, "phone", "(+34) 600.111.222")
    assert [(h.vendor, h.source, h.value) for h in holders] == [
        ("bank.example", "form", "0034600111222"), ("shop.example", "told", "+34 600 111 222")]
    assert holders[0].evidence == {"url": "https://bank.example/signup", "field": "tel"}
    assert [h.vendor for h in knows(ledger, "email", "ANA@example.com")] == ["shop.example"]
    assert knows(ledger, "birthday") == []


def test_knows_with_a_value_uses_the_index(ledger):
    from whoknows.ledger import match_key_sql

    plan = ledger.query(
        f"EXPLAIN QUERY PLAN SELECT * FROM disclosures WHERE kind = :kind "
        f"AND match_key = {match_key_sql(':kind', ':value')}", {"kind": "phone", "value": "1"})
    assert "USING INDEX disclosures_by_kind_key" in plan[0]["detail"]


def test_evidence_summary_is_one_short_line():
    assert evidence_summary({"url": "https://a.example/x", "field": "tel"}) == "url=https://a.example/x, field=tel"
    assert len(evidence_summary({"url": "https://a.example/" + "x" * 200})) == 60
    assert evidence_summary(None) == ""


# -- vendors ---------------------------------------------------------------------------------------

def _observe(ledger, domain, kind, subject, count, detail=None):
    vendor_id = ledger.vendor_id(domain, create=True)
    with ledger.write() as db:
        db.execute(
            "INSERT INTO observations (vendor_id, kind, subject, detail, count, first_seen, last_seen) "
            "VALUES (?, ?, ?, ?, ?, '2024-01-01T00:00:00Z', '2024-01-02T00:00:00Z')",
            (vendor_id, kind, subject, json_text(detail), count))


def _alias(ledger, domain, address, state="active"):
    vendor_id = ledger.vendor_id(domain, create=True)
    with ledger.write() as db:
        db.execute("INSERT INTO aliases (vendor_id, address, created_at, state) VALUES (?, ?, ?, ?)",
                   (vendor_id, address, "2024-01-01T00:00:00Z", state))


def test_list_vendors_counts_aliases_disclosures_and_third_parties_and_pages(ledger):
    record_disclosures(ledger, "b.example", [("name", "Ana"), ("phone", "+34600111222")])
    _alias(ledger, "b.example", "me+b@mail.example")
    _alias(ledger, "b.example", "me+b2@mail.example", state="retired")
    _observe(ledger, "b.example", "third-party", "tracker.example", 5)
    _observe(ledger, "b.example", "third-party", "cdn.example", 2)
    _observe(ledger, "b.example", "cookie", "_ga", 9)  # not a third party
    add_vendor(ledger, "a.example", name="A shop")
    add_vendor(ledger, "c.example")
    rows, total = list_vendors(ledger)
    assert total == 3
    assert [(r.vendor, r.name, r.aliases, r.disclosures, r.third_parties) for r in rows] == [
        ("a.example", "A shop", 0, 0, 0), ("b.example", None, 2, 2, 2), ("c.example", None, 0, 0, 0)]
    page, total = list_vendors(ledger, limit=1, offset=1)
    assert ([r.vendor for r in page], total) == (["b.example"], 3)


def test_add_vendor_updates_overrides_and_empty_clears_them(ledger):
    assert add_vendor(ledger, "shop.example", name="Shop", company="Shop SL") is True
    assert add_vendor(ledger, "shop.example", company="") is False
    row = ledger.query("SELECT name, company FROM vendors")[0]
    assert (row["name"], row["company"]) == ("Shop", None)


def test_vendor_record_has_everything_and_user_overrides_beat_the_directory(ledger):
    add_vendor(ledger, "zalando.de", privacy_contact="me-only@zalando.de")
    record_disclosures(ledger, "zalando.de", [("email", "ana@example.com")])
    _alias(ledger, "zalando.de", "me+zalando@mail.example")
    set_preferences(ledger, "zalando.de", {"marketing": False})
    for n in range(12):
        _observe(ledger, "zalando.de", "third-party", f"t{n:02}.example", n + 1, {"blocked": n})
    _observe(ledger, "zalando.de", "parameter", "utm_source", 3)
    record = vendor_record(ledger, "zalando.de", top=10)
    company = record["company"]
    assert company["name"] == "Zalando SE"  # from the shipped company directory
    assert company["privacy_contact"] == "me-only@zalando.de"
    assert company["sources"] == {"name": "directory", "privacy_contact": "you", "address": "directory"}
    assert [a["address"] for a in record["aliases"]] == ["me+zalando@mail.example"]
    assert [(d["kind"], d["value"], d["source"]) for d in record["disclosures"]] == [("email", "ana@example.com", "told")]
    assert record["preferences"]["marketing"] is False
    third = record["observations"]["third_parties"]
    assert (third["distinct"], third["seen"], third["blocked"]) == (12, sum(range(1, 13)), sum(range(12)))
    assert [o["subject"] for o in third["top"]][:2] == ["t11.example", "t10.example"]
    assert len(third["top"]) == 10
    assert record["observations"]["parameters"]["top"][0]["subject"] == "utm_source"
    assert record["observations"]["cookies"] == {"distinct": 0, "seen": 0, "blocked": 0, "top": []}


def test_vendor_record_of_an_unknown_vendor(ledger):
    with pytest.raises(NotFoundError, match="^no vendor nope.example in the ledger$"):
        vendor_record(ledger, "nope.example")


def test_forget_removes_the_vendor_and_everything_linked_only_for_that_vendor(ledger):
    for domain in ("shop.example", "keep.example"):
        record_disclosures(ledger, domain, [("name", "Ana")])
        _alias(ledger, domain, f"me+{domain}@mail.example")
        _observe(ledger, domain, "cookie", "sid", 1)
        set_preferences(ledger, domain, {"notes": "x"})
    counts = forget_vendor(ledger, "shop.example")
    assert counts == {"aliases": 1, "disclosures": 1, "preferences": 1, "observations": 1}
    for table in ("aliases", "disclosures", "preferences", "observations"):
        assert ledger.query(f"SELECT count(*) FROM {table}")[0][0] == 1, table
    assert [r[0] for r in ledger.query("SELECT domain FROM vendors")] == ["keep.example"]
    with pytest.raises(NotFoundError):
        forget_vendor(ledger, "shop.example")


# -- preferences ------------------------------------------------------------------------------------

def test_preferences_update_only_what_is_given(ledger):
    set_preferences(ledger, "shop.example", {"marketing": True, "channels": ["post", "Email", "post"]})
    prefs = set_preferences(ledger, "shop.example", {"max_per_month": 2})
    assert (prefs["marketing"], prefs["channels"], prefs["max_per_month"]) == (True, ["email", "post"], 2)
    prefs = set_preferences(ledger, "shop.example", {"channels": [], "marketing": None})
    assert (prefs["marketing"], prefs["channels"]) == (None, [])
    vendor_id = ledger.vendor_id("shop.example")
    assert get_preferences(ledger.db, vendor_id) == prefs


def test_preferences_reject_unknown_channels_and_write_nothing(ledger):
    with pytest.raises(InputError, match="unknown channel 'fax'"):
        set_preferences(ledger, "shop.example", {"channels": ["email", "fax"]})
    assert ledger.query("SELECT count(*) FROM vendors")[0][0] == 0
