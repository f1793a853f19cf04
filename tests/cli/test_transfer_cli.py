"""`whoknows export` and `whoknows import` through the real command group."""

import json
import stat
import zipfile

import pytest

from cli_runner import ok, run
from whoknows.ledger import json_text, open_ledger
from whoknows.transfer import TABLES


def _fill():
    ok("vendor", "add", "shop.example", "--name", "Shop", "--address", "Calle Mayor 1\nMadrid",
       "--sales-contact", "ventas@shop.example")
    ok("tell", "shop.example", "phone=+34 600 111 222", "name=Ana Pérez", "email=ana@example.com")
    ok("tell", "bücher.example", "address=Hauptstraße 5")
    ok("prefs", "shop.example", "--no-marketing", "--channel", "post", "--notes", "café")
    ok("site", "pause", "shop.example")
    ok("site", "cookies", "shop.example", "cap:30")
    ok("site", "allow-3p", "shop.example", "accounts.google.com")
    with open_ledger() as ledger:
        vendor_id = ledger.vendor_id("shop.example")
        with ledger.write() as db:
            db.execute("INSERT INTO aliases (vendor_id, address, created_at, state) VALUES "
                       "(?, 'me+shop@mail.example', '2024-01-01T00:00:00Z', 'active')", (vendor_id,))
            db.execute("INSERT INTO observations (vendor_id, kind, subject, detail, count, first_seen, last_seen) "
                       "VALUES (?, 'third-party', 'tracker.example', ?, 3, '2024-01-01T00:00:00Z', "
                       "'2024-01-02T00:00:00Z')", (vendor_id, json_text({"blocked": 3})))
        ledger.set_setting("alias.setup", '{"base": "me@mail.example"}')


def test_export_to_a_file_then_import_into_a_fresh_ledger_then_export_is_identical(tmp_path, monkeypatch):
    _fill()
    backup = tmp_path / "backup.json"
    result = ok("export", "--output", str(backup))
    assert result.stdout == ""
    assert result.stderr == (f"exported 2 vendors, 4 disclosures, 1 aliases, 1 preferences, 1 preference_history, "
                             f"1 observations, "
                             f"1 settings, 1 site_settings, 1 site_third_parties, 0 me_values, 0 leaks, "
                             f"0 mail_messages, 0 mail_alias_hits, "
                             f"0 rights_requests, 0 data_exports, 0 export_findings, 0 mail_value_hits, "
                             f"0 company_sightings, 0 company_identifiers, "
                             f"0 intents, 0 intent_messages, 0 intent_answers, 0 terms_offers, 0 shared_identifiers, 0 learned_trackers to {backup}\n")
    assert stat.S_IMODE(backup.stat().st_mode) == 0o600  # it holds personal data
    assert ok("export").stdout == backup.read_text(encoding="utf-8")  # stdout and file agree

    monkeypatch.setenv("WHOKNOWS_HOME", str(tmp_path / "fresh-home"))
    assert ok("import", str(backup)).stdout == (
        "imported 2 vendors (2 new), 4 disclosures (4 new), 1 aliases (1 new), 1 preferences (1 new), "
        "1 preference_history (1 new), 1 observations (1 new), 1 settings (1 new), 1 site_settings (1 new), 1 site_third_parties (1 new), "
        "0 me_values (0 new), 0 leaks (0 new), "
        "0 mail_messages (0 new), 0 mail_alias_hits (0 new), 0 rights_requests (0 new), "
        "0 data_exports (0 new), 0 export_findings (0 new), 0 mail_value_hits (0 new), "
        "0 company_sightings (0 new), 0 company_identifiers (0 new), "
        "0 intents (0 new), 0 intent_messages (0 new), 0 intent_answers (0 new), "
        "0 terms_offers (0 new), 0 shared_identifiers (0 new), 0 learned_trackers (0 new)\n")
    assert ok("export").stdout == backup.read_text(encoding="utf-8")
    shown = json.loads(ok("site", "show", "shop.example", "--json").stdout)  # the imported settings apply
    assert (shown["paused"], shown["cookie_mode"], shown["allowed_third_parties"]) == (True, "cap:30", ["google.com"])
    company = json.loads(ok("vendor", "show", "shop.example", "--json").stdout)["company"]
    assert company["sales_contact"] == "ventas@shop.example"  # where intents go came along
    summary = json.loads(ok("import", str(backup), "--json").stdout)  # again: nothing new
    assert all(table["added"] == 0 for table in summary["tables"].values())
    assert ok("export").stdout == backup.read_text(encoding="utf-8")


def test_import_from_standard_input():
    _fill()
    data = ok("export").stdout
    result = run("import", "-", input=data)
    assert result.exit_code == 0 and result.stdout.startswith("imported 2 vendors (0 new)")


def test_csv_export_is_one_file_per_table_in_a_directory_or_a_zip_and_import_refuses_it(tmp_path):
    _fill()
    sheets = tmp_path / "sheets"
    result = ok("export", "--format", "csv", "-o", str(sheets))
    assert result.stderr.startswith("exported 2 vendors, 4 disclosures, 1 aliases,") and str(sheets) in result.stderr
    vendors = (sheets / "vendors.csv").read_text(encoding="utf-8").splitlines()
    assert vendors[0] == "domain,name,company,privacy_contact,postal_address,created_at,sales_contact"  # its own columns
    assert (sheets / "aliases.csv").read_text(encoding="utf-8").splitlines()[0] == (
        "vendor,address,state,created_at,state_changed_at")
    assert sorted(p.stem for p in sheets.glob("*.csv")) == sorted(TABLES)  # one file per table, each of them
    ok("export", "--format", "csv", "-o", str(tmp_path / "ledger.zip"))
    with zipfile.ZipFile(tmp_path / "ledger.zip") as archive:
        assert archive.read("vendors.csv").decode("utf-8").splitlines() == vendors
    before = ok("export").stdout
    for path in (sheets / "vendors.csv", tmp_path / "ledger.zip"):
        result = run("import", str(path))
        assert result.exit_code == 1
        assert result.stderr == (
            f"whoknows: error: {path} is a CSV export, which is for spreadsheets and cannot be imported "
            "(CSV loses the difference between empty and missing); import a JSON export "
            "(whoknows export --format json)\n")
    assert ok("export").stdout == before


def test_csv_export_needs_a_place_for_its_files(tmp_path):
    _fill()
    result = run("export", "--format", "csv")
    assert result.exit_code == 2
    assert "a csv export is one file per table: give --output DIRECTORY or --output FILE.zip" in result.stderr
    (tmp_path / "taken").write_text("x")
    result = run("export", "--format", "csv", "-o", str(tmp_path / "taken"))
    assert result.exit_code == 1
    assert result.stderr == (f"whoknows: error: {tmp_path / 'taken'} is a file; a CSV export is a directory "
                             "(one file per table) or a .zip archive\n")
    assert (tmp_path / "taken").read_text() == "x"


BAD = {
    "foreign json": (b'{"accounts": []}', 'is not a whoknows ledger export (no "format": "whoknows-ledger" marker)'),
    "garbage": (b"\x00\x01binary", "is not a whoknows ledger export: not valid JSON"),
    "empty": (b"", "is not a whoknows ledger export: not valid JSON"),
}


@pytest.mark.parametrize("case", BAD, ids=list(BAD))
def test_a_foreign_or_corrupt_file_is_exit_1_in_one_line_and_changes_nothing(tmp_path, case):
    _fill()
    before = ok("export").stdout
    data, message = BAD[case]
    bad = tmp_path / "bad.json"
    bad.write_bytes(data)
    result = run("import", str(bad))
    assert result.exit_code == 1
    assert result.stderr.startswith(f"whoknows: error: {bad} {message}")
    assert result.stderr.count("\n") == 1
    assert ok("export").stdout == before


def test_a_truncated_export_and_one_bad_row_late_in_the_file_change_nothing(tmp_path, monkeypatch):
    _fill()
    good = ok("export").stdout
    monkeypatch.setenv("WHOKNOWS_HOME", str(tmp_path / "other-home"))
    ok("tell", "own.example", "name=Ana")
    before = ok("export").stdout

    truncated = tmp_path / "truncated.json"
    truncated.write_text(good[: len(good) * 2 // 3], encoding="utf-8")
    result = run("import", str(truncated))
    assert result.exit_code == 1 and "not valid JSON" in result.stderr

    document = json.loads(good)
    document["settings"][-1]["value"] = None  # the last row of the last table is bad
    late = tmp_path / "late.json"
    late.write_text(json.dumps(document), encoding="utf-8")
    result = run("import", str(late))
    assert result.exit_code == 1
    assert result.stderr == f"whoknows: error: {late}: settings[0].value: must be a string\n"
    assert ok("export").stdout == before  # not the vendors, not the disclosures: nothing


def test_an_export_from_a_newer_whoknows_is_refused(tmp_path):
    newer = tmp_path / "newer.json"
    newer.write_text('{"format": "whoknows-ledger", "version": 9, "vendors": []}')
    result = run("import", str(newer))
    assert result.exit_code == 1
    assert result.stderr == (f"whoknows: error: {newer} was written by a newer whoknows (export version 9; "
                             "this one reads up to 1); upgrade whoknows to import it\n")


def test_import_of_a_missing_file_is_a_usage_error(tmp_path):
    result = run("import", str(tmp_path / "nope.json"))
    assert result.exit_code == 2
    assert result.stderr.startswith("whoknows: error: Invalid value for 'FILE': ")
    assert "No such file or directory" in result.stderr and result.stderr.count("\n") == 1


def test_export_to_an_unwritable_place_is_one_line(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("x")
    result = run("export", "-o", str(blocker / "out.json"))
    assert result.exit_code == 1
    assert result.stderr == f"whoknows: error: cannot write {blocker / 'out.json'}: Not a directory\n"
