"""`whoknows me add|list|remove` through the real command group, and what the ledger file holds."""

import json

from cli_runner import ok, run
from whoknows.ledger import open_ledger


def test_values_are_listed_masked_and_revealed_on_request():
    assert ok("me", "add", "email", "Alice@Example.org").stdout == "added: email a•••@example.org (id 1)\n"
    ok("me", "add", "phone", "+34 600 111 222")
    listed = ok("me", "list").stdout
    assert "a•••@example.org" in listed and "•••22" in listed
    assert "alice@example.org" not in listed and "600 111" not in listed
    revealed = ok("me", "list", "--reveal").stdout
    assert "alice@example.org" in revealed and "+34 600 111 222" in revealed
    shown = json.loads(ok("me", "list", "--json").stdout)
    assert [(v["id"], v["kind"], v["value"], v["masked"]) for v in shown] == [
        (1, "email", "a•••@example.org", True), (2, "phone", "•••22", True)]
    full = json.loads(ok("me", "list", "--json", "--reveal").stdout)
    assert [v["value"] for v in full] == ["alice@example.org", "+34 600 111 222"]


def test_the_same_value_in_another_spelling_is_not_added_twice():
    ok("me", "add", "phone", "+34 600 111 222")
    again = ok("me", "add", "phone", "0034-600-111-222", "--json")
    assert json.loads(again.stdout)["new"] is False
    assert len(json.loads(ok("me", "list", "--json").stdout)) == 1


def test_the_value_can_come_from_stdin_to_stay_out_of_argv():
    ok("me", "add", "name", input="Alice  Smith\n")
    assert [v["value"] for v in json.loads(ok("me", "list", "--json", "--reveal").stdout)] == ["Alice Smith"]
    result = run("me", "add", "name", input="\n")
    assert (result.exit_code, result.stderr) == (2, "whoknows: error: no name given: pass VALUE or write it on stdin\n")


def test_the_ledger_holds_no_plaintext_and_no_key(whoknows_home):
    ok("me", "add", "email", "alice@example.org")
    ok("me", "add", "phone", "+34 600 111 222")
    with open_ledger() as ledger:
        dump = "\n".join(ledger.db.iterdump())
    assert "alice@example.org" not in dump and "600 111 222" not in dump
    key = json.loads((whoknows_home / "secrets.json").read_text())["secrets"]["me-key"]
    assert key not in dump


def test_removing_by_id_or_by_value():
    ok("me", "add", "email", "alice@example.org")
    ok("me", "add", "email", "bob@example.org")
    assert ok("me", "remove", "1").stdout == "removed: email a•••@example.org (id 1)\n"
    assert ok("me", "remove", "email", "BOB@example.org").stdout == "removed: email b•••@example.org (id 2)\n"
    assert json.loads(ok("me", "list", "--json").stdout) == []


def test_bad_input_is_refused_and_changes_nothing():
    ok("me", "add", "email", "alice@example.org")
    cases = [
        (("me", "add", "email", "not-an-address"), 2, "'not-an-address' is not an email address"),
        (("me", "add", "phone", "call me"), 2, "is not a phone number"),
        (("me", "add", "payment", "4111 1111 1111 1111"), 2, "Invalid value for 'KIND'"),
        (("me", "remove", "email"), 2, "'email' is not an id"),
        (("me", "remove", "7"), 1, "no id 7 among your values"),
        (("me", "remove", "email", "nobody@example.org"), 1, "no such email among your values"),
    ]
    for args, code, message in cases:
        result = run(*args)
        assert result.exit_code == code, args
        assert message in result.stderr and result.stderr.startswith("whoknows: error: ")
    assert len(json.loads(ok("me", "list", "--json").stdout)) == 1


def test_a_national_phone_number_gets_a_note():
    result = ok("me", "add", "phone", "600 111 222")
    assert "searched by its digits only" in result.stderr


def test_values_from_another_key_are_kept_and_said_to_be_unreadable(whoknows_home):
    ok("me", "add", "email", "alice@example.org")
    secrets = whoknows_home / "secrets.json"
    data = json.loads(secrets.read_text())
    data["secrets"]["me-key"] = "A" * 43 + "="  # another machine's key: 32 other bytes
    secrets.write_text(json.dumps(data))
    result = ok("me", "list", "--json")
    [value] = json.loads(result.stdout)
    assert value["readable"] is False and value["value"] is None
    assert "cannot be decrypted with this machine's key" in result.stderr
