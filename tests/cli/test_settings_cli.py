"""`whoknows settings`: your country, checked against the EU/EEA list, kept in the ledger."""

import json

import pytest

from cli_runner import ok, run


def test_the_country_is_not_set_until_you_set_it_and_then_names_its_authority():
    assert "country: not set" in ok("settings").stdout
    assert json.loads(ok("settings", "--json").stdout) == {"country": None, "authority": None}
    shown = ok("settings", "country", " es ").stdout
    assert shown == "country: ES (Spain); data protection authority: Spanish Data Protection Agency (https://www.aepd.es)\n"
    assert json.loads(ok("settings", "--json").stdout) == {"country": "ES", "authority": "Spanish Data Protection Agency"}
    germany = ok("settings", "country", "DE").stdout
    assert "poststelle@bfdi.bund.de" in germany  # changed, and by email where known
    assert "note: a complaint about a company is handled by the authority of the Land" in germany
    assert json.loads(ok("settings", "country", "EL", "--json").stdout)["country"] == "GR"  # the EU's code for Greece
    ok("settings", "country", "--unset")
    assert json.loads(ok("settings", "--json").stdout)["country"] is None


@pytest.mark.parametrize("code", ["XX", "US", "UK", "España"])
def test_an_unknown_country_is_refused_with_the_list_and_the_setting_stays(code):
    ok("settings", "country", "FR")
    result = run("settings", "country", code)
    assert result.exit_code == 2
    assert result.stderr.startswith(f"whoknows: error: {code!r} is not an EU/EEA country code; use one of AT (Austria),")
    assert "NO (Norway)" in result.stderr and "ES (Spain)" in result.stderr
    assert json.loads(ok("settings", "--json").stdout)["country"] == "FR"


@pytest.mark.parametrize("args, message", [
    (("settings", "language", "es"), "Invalid value for 'NAME'"),
    (("settings", "--unset"), "--unset takes a NAME and no VALUE"),
    (("settings", "country", "ES", "--unset"), "--unset takes a NAME and no VALUE"),
])
def test_bad_usage_is_refused(args, message):
    result = run(*args)
    assert result.exit_code == 2 and message in result.stderr


def test_the_country_travels_in_a_backup(tmp_path):
    ok("settings", "country", "PT")
    ok("export", "--output", str(tmp_path / "backup.json"))
    ok("settings", "country", "--unset")
    ok("import", str(tmp_path / "backup.json"))
    assert json.loads(ok("settings", "--json").stdout)["country"] == "PT"
