"""`whoknows tell` and `whoknows knows` through the real command group."""

import json

import pytest

from cli_runner import ok, run
from whoknows.ledger import open_ledger


def _rows() -> list[tuple]:
    with open_ledger() as ledger:
        return [tuple(r) for r in ledger.query(
            "SELECT v.domain, d.kind, d.value, d.source FROM disclosures d JOIN vendors v ON v.id = d.vendor_id "
            "ORDER BY v.domain, d.kind")]


def test_tell_records_each_fact_and_says_so():
    result = ok("tell", "https://www.shop.example/checkout", "phone=+34600111222",
                "address=Calle Mayor 1, Madrid", "email=Ana@Example.com")
    assert result.stdout == (
        "shop.example knows your phone: +34600111222\n"
        "shop.example knows your address: Calle Mayor 1, Madrid\n"
        "shop.example knows your email: ana@example.com\n")
    assert _rows() == [("shop.example", "address", "Calle Mayor 1, Madrid", "told"),
                       ("shop.example", "email", "ana@example.com", "told"),
                       ("shop.example", "phone", "+34600111222", "told")]


def test_telling_again_does_not_duplicate():
    ok("tell", "shop.example", "phone=+34 600 111 222")
    result = ok("tell", "shop.example", "phone=+34600111222", "--json")
    assert json.loads(result.stdout)["recorded"] == [{"kind": "phone", "value": "+34600111222", "new": False}]
    assert _rows() == [("shop.example", "phone", "+34600111222", "told")]


@pytest.mark.parametrize("bad, message", [
    ("fax=123", "'fax=123': unknown kind 'fax' (one of email, alias, name, phone, address, birthday, "
                "payment, id-number, location, other)"),
    ("phone", "'phone' is not KIND=VALUE: phone needs a value (phone=...)"),
    ("phone=call me maybe", "'phone=call me maybe': 'call me maybe' is not a phone number "
                            "(digits, an optional leading +, separators)"),
    ("birthday=31/12/1990", "'birthday=31/12/1990': '31/12/1990' is not a date (YYYY-MM-DD, or MM-DD without the year)"),
    ("=x", "'=x': unknown kind '' (one of email, alias, name, phone, address, birthday, payment, "
           "id-number, location, other)"),
])
def test_one_bad_argument_is_exit_2_naming_it_and_nothing_is_written(bad, message):
    result = run("tell", "shop.example", "name=Ana", bad, "phone=+34600111222")
    assert result.exit_code == 2
    assert result.stderr == f"whoknows: error: {message}\n"
    assert _rows() == []
    with open_ledger() as ledger:
        assert ledger.query("SELECT count(*) FROM vendors")[0][0] == 0


def test_tell_needs_at_least_one_fact():
    result = run("tell", "shop.example")
    assert result.exit_code == 2
    assert result.stderr.startswith("whoknows: error: Missing argument 'KIND=VALUE...'")
    assert result.stderr.count("\n") == 1


def test_tell_to_something_that_is_not_a_vendor_is_exit_2():
    result = run("tell", "192.168.1.1", "name=Ana")
    assert (result.exit_code, result.stderr) == (
        2, "whoknows: error: 192.168.1.1 is an IP address; a vendor is named by its domain\n")


def test_a_bare_email_without_alias_setup_is_a_clear_error_and_writes_nothing():
    result = run("tell", "shop.example", "name=Ana", "email")
    assert result.exit_code == 1
    assert result.stderr.startswith("whoknows: error: aliases are not set up yet: run 'whoknows alias setup")
    assert _rows() == []


def test_a_bare_email_means_the_vendors_alias():
    ok("alias", "setup", "--base", "me@mail.example")
    result = ok("tell", "shop.example", "email", "name=Ana")
    alias = _rows()[0]
    assert alias[1] == "alias" and alias[2].startswith("me+shop.example.") and alias[2].endswith("@mail.example")
    assert f"shop.example knows your alias: {alias[2]}\n" in result.stdout
    ok("tell", "shop.example", "email=")  # the same alias again, not a second one
    assert [r[1] for r in _rows()] == ["alias", "name"]
    shown = json.loads(ok("vendor", "show", "shop.example", "--json").stdout)
    assert [a["address"] for a in shown["aliases"]] == [alias[2]]


def test_tell_email_and_knows_email_agree():
    ok("alias", "setup", "--base", "me@mail.example")
    ok("tell", "shop.example", "email")  # the shop's alias is the email address you gave it
    ok("tell", "bank.example", "email=ana@example.com")
    alias = _rows()[1][2]
    holders = json.loads(ok("knows", "email", "--json").stdout)
    assert [(h["vendor"], h["kind"], h["value"]) for h in holders] == [
        ("bank.example", "email", "ana@example.com"), ("shop.example", "alias", alias)]
    table = ok("knows", "email").stdout
    assert f"{alias} (alias)" in table and "ana@example.com" in table
    assert [h["vendor"] for h in json.loads(ok("knows", "email", alias.upper(), "--json").stdout)] == ["shop.example"]
    assert [h["vendor"] for h in json.loads(ok("knows", "alias", "--json").stdout)] == ["shop.example"]


def test_knows_lists_every_holder_with_how_and_when():
    ok("tell", "shop.example", "phone=+34 600 111 222")
    ok("tell", "bank.example", "phone=0034600111222", "name=Ana")
    ok("tell", "gym.example", "phone=+49 30 123456")
    table = ok("knows", "phone").stdout
    assert "who knows your phone" in table
    for vendor in ("shop.example", "bank.example", "gym.example"):
        assert vendor in table
    holders = json.loads(ok("knows", "phone", "+34 (600) 111-222", "--json").stdout)
    assert [(h["vendor"], h["value"], h["source"]) for h in holders] == [
        ("bank.example", "0034600111222", "told"), ("shop.example", "+34 600 111 222", "told")]
    assert set(holders[0]) == {"vendor", "kind", "value", "source", "first_seen", "last_seen", "evidence"}


def test_knows_with_nobody_holding_it():
    assert ok("knows", "birthday").stdout == "no vendor in the ledger knows your birthday\n"
    assert json.loads(ok("knows", "birthday", "--json").stdout) == []


@pytest.mark.parametrize("args, message", [
    (["knows", "shoesize"], "Invalid value for 'KIND': 'shoesize' is not one of"),
    (["knows", "phone", "not a number"], "'not a number' is not a phone number"),
])
def test_knows_with_bad_input_is_exit_2(args, message):
    result = run(*args)
    assert result.exit_code == 2
    assert result.stderr.startswith("whoknows: error: ") and message in result.stderr
    assert result.stderr.count("\n") == 1


def test_knows_shows_a_page_of_a_long_answer():
    with open_ledger() as ledger:
        from whoknows.disclosures import record_disclosures
        for n in range(55):
            record_disclosures(ledger, f"v{n:03}.example", [("name", "Ana")])
    result = ok("knows", "name")
    assert "v049.example" in result.stdout and "v050.example" not in result.stdout
    assert result.stderr == "50 of 55 shown; --limit 0 shows all\n"
    assert "v054.example" in ok("knows", "name", "--limit", "0").stdout
    assert len(json.loads(ok("knows", "name", "--json").stdout)) == 55
