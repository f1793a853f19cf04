"""whoknows.disclosures on a real ledger file: parsing what the user typed, recording, `knows`."""

import pytest

from whoknows.disclosures import Fact, evidence_summary, knows, parse_fact, record_disclosures
from whoknows.errors import InputError
from whoknows.ledger import open_ledger


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
