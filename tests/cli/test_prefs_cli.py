"""`whoknows prefs` through the real command group."""

import json

import pytest

from cli_runner import ok, run
from whoknows.ledger import open_ledger


def test_setting_and_showing_preferences():
    result = ok("prefs", "https://shop.example/", "--no-marketing", "--channel", "email", "--channel", "POST",
                "--max-per-month", "2", "--notes", "receipts only")
    assert result.stdout == "shop.example: marketing: no; channels: email, post; at most 2 a month; notes: receipts only\n"
    assert ok("prefs", "shop.example").stdout == result.stdout  # no options: show
    ok("prefs", "shop.example", "--marketing")  # one field changes, the rest stays
    shown = json.loads(ok("prefs", "shop.example", "--json").stdout)
    assert shown == {"vendor": "shop.example", "preferences": {
        "marketing": True, "channels": ["email", "post"], "max_per_month": 2, "notes": "receipts only",
        "topics": None, "max_per_week": None, "opted_out_on": None, "updated_at": shown["preferences"]["updated_at"]}}


def test_channel_none_and_clearing():
    ok("prefs", "shop.example", "--channel", "none", "--notes", "x")
    assert ok("prefs", "shop.example").stdout == "shop.example: channels: none; notes: x\n"
    ok("prefs", "shop.example", "--notes", "")
    assert ok("prefs", "shop.example").stdout == "shop.example: channels: none\n"
    ok("prefs", "shop.example", "--clear")
    assert ok("prefs", "shop.example").stdout == "shop.example: nothing stated\n"


def test_a_known_vendor_with_no_preferences_yet():
    ok("vendor", "add", "shop.example")
    assert ok("prefs", "shop.example").stdout == "shop.example: no preferences stated\n"


def test_showing_preferences_of_an_unknown_vendor_is_exit_1():
    result = run("prefs", "example.com")
    assert (result.exit_code, result.stderr) == (1, "whoknows: error: no vendor example.com in the ledger\n")


@pytest.mark.parametrize("args, message", [
    (["--channel", "fax"], "unknown channel 'fax' (one of email, phone, sms, post, push)"),
    (["--max-per-month", "-1"], "Invalid value for '--max-per-month': -1 is not in the range x>=0."),
    (["--max-per-month", "many"], "Invalid value for '--max-per-month': 'many' is not a valid integer range."),
])
def test_bad_preferences_are_exit_2_and_write_nothing(args, message):
    result = run("prefs", "shop.example", *args)
    assert result.exit_code == 2
    assert result.stderr.startswith(f"whoknows: error: {message}")
    assert result.stderr.count("\n") == 1
    with open_ledger() as ledger:
        assert ledger.query("SELECT count(*) FROM vendors")[0][0] == 0
