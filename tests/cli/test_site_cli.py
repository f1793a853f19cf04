"""`whoknows site ...`: per-site proxy settings, as the user types them."""

import json

import pytest

from cli_runner import ok, printed, run
from whoknows.ledger import open_ledger
from whoknows.site_settings import SiteSettingsStore


def shown(site: str) -> dict:
    return json.loads(printed("site", "show", site, "--json"))


def test_pause_and_resume_a_site_named_by_a_url():
    assert "vendor.test: protection paused" in printed("site", "pause", "https://www.vendor.test/checkout")
    assert shown("vendor.test")["paused"] is True
    assert printed("site", "resume", "shop.vendor.test") == "vendor.test: protection on\n"
    assert shown("vendor.test")["paused"] is False


def test_what_the_cli_sets_is_what_the_proxy_store_reads():
    ok("site", "pause", "vendor.test")
    ok("site", "cookies", "vendor.test", "cap:30")
    ok("site", "allow-3p", "vendor.test", "pay.paypal.com")
    with open_ledger() as ledger:
        settings = SiteSettingsStore(ledger).get("vendor.test")
    assert (settings.paused, str(settings.cookie_mode), settings.allowed_third_parties) == (
        True, "cap:30", frozenset({"paypal.com"}))


def test_cookie_modes_and_default():
    assert printed("site", "cookies", "vendor.test", "SESSION") == "vendor.test: cookies: session\n"
    assert json.loads(printed("site", "cookies", "vendor.test", "cap:7", "--json"))["cookie_mode"] == "cap:7"
    assert printed("site", "cookies", "vendor.test", "default") == "vendor.test: cookies: default\n"
    assert shown("vendor.test")["cookie_mode"] is None


@pytest.mark.parametrize("mode, message", [
    ("forever", "unknown cookie mode 'forever'; use allow, session, cap:DAYS"),
    ("cap:0", "the cap must be at least 1 day"),
    ("cap:500", "at most 400 days"),
    ("cap:", "needs a number of days"),
])
def test_a_bad_cookie_mode_exits_2_with_a_clear_message_and_changes_nothing(mode, message):
    ok("site", "cookies", "vendor.test", "block")
    result = run("site", "cookies", "vendor.test", mode)
    assert result.exit_code == 2
    assert result.stderr.startswith("whoknows: error: ") and message in result.stderr
    assert result.stdout == ""
    assert shown("vendor.test")["cookie_mode"] == "block"


@pytest.mark.parametrize("args", [
    ("site", "pause", "127.0.0.1"),
    ("site", "resume", "localhost"),
    ("site", "show", "not a site"),
    ("site", "allow-3p", "vendor.test", "www.vendor.test"),
    ("site", "cookies", "co.uk", "session"),
])
def test_bad_sites_exit_2_and_store_nothing(args):
    result = run(*args)
    assert result.exit_code == 2, result.output
    assert result.stderr.startswith("whoknows: error: ")
    assert json.loads(printed("site", "list", "--json")) == []


def test_missing_arguments_are_usage_errors():
    result = run("site", "cookies", "vendor.test")
    assert result.exit_code == 2 and "Missing argument 'MODE'" in result.stderr


def test_third_party_exceptions_are_added_and_removed():
    assert printed("site", "allow-3p", "vendor.test", "https://login.idp.test/") == \
        "vendor.test: idp.test allowed as a third party\n"
    ok("site", "allow-3p", "vendor.test", "paypal.com")
    ok("site", "allow-3p", "vendor.test", "paypal.com")  # twice is once
    assert shown("vendor.test")["allowed_third_parties"] == ["idp.test", "paypal.com"]
    ok("site", "disallow-3p", "vendor.test", "idp.test")
    assert shown("vendor.test")["allowed_third_parties"] == ["paypal.com"]


def test_show_says_everything_in_words():
    ok("site", "pause", "vendor.test")
    ok("site", "allow-3p", "vendor.test", "paypal.com")
    assert printed("site", "show", "vendor.test").splitlines() == [
        "vendor.test",
        "  protection: paused",
        "  cookies: default (allow)",
        "  leaks: default (block)",
        "  third parties allowed: paypal.com",
    ]
    assert shown("never.test") == {"site": "never.test", "paused": False, "cookie_mode": None,
                                   "allowed_third_parties": [], "leak_mode": None,
                                   "defaults": {"cookie_mode": "allow", "leak_mode": "block"}}


def test_defaults_for_sites_without_their_own_are_set_and_shown():
    ok("site", "cookies", "--default", "cap:30")
    ok("site", "leaks", "--default", "scrub")
    ok("site", "leaks", "shop.test", "report")

    assert printed("site", "show", "never.test").splitlines()[2:4] == [
        "  cookies: default (cap:30)", "  leaks: default (scrub)"]
    assert shown("shop.test")["leak_mode"] == "report"
    assert shown("shop.test")["defaults"] == {"cookie_mode": "cap:30", "leak_mode": "scrub"}
    ok("site", "leaks", "shop.test", "default")
    assert shown("shop.test")["leak_mode"] is None


@pytest.mark.parametrize("args, message", [
    (("site", "leaks", "shop.test", "maybe"), "unknown leak mode 'maybe'"),
    (("site", "leaks", "--default", "shop.test", "block"), "takes one MODE and no SITE"),
    (("site", "cookies", "--default", "cap:0"), "at least 1 day"),
    (("site", "cookies", "shop.test"), "takes SITE MODE"),
])
def test_bad_modes_are_one_line_errors(args, message):
    from cli_runner import run

    result = run(*args)
    assert result.exit_code == 2 and message in result.stderr and result.stderr.count("\n") == 1


def test_list_shows_only_sites_with_a_setting():
    assert "(sites with settings: none)" in printed("site", "list")
    ok("site", "pause", "vendor.test")
    ok("site", "cookies", "shop.test", "session")
    ok("site", "cookies", "gone.test", "block")
    ok("site", "cookies", "gone.test", "default")
    rows = json.loads(printed("site", "list", "--json"))
    assert [(r["site"], r["paused"], r["cookie_mode"]) for r in rows] == [
        ("shop.test", False, "session"), ("vendor.test", True, None)]
    table = printed("site", "list")
    assert "vendor.test" in table and "paused" in table and "gone.test" not in table
