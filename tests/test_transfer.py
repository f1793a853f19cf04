"""Export and import: a lossless round trip, merging defined, bad files changing nothing."""

import csv
import json
import stat
import zipfile

import pytest

from whoknows.disclosures import record_disclosures
from whoknows.errors import WhoknowsError
from whoknows.ledger import json_text, open_ledger
from whoknows.preferences import set_preferences
from whoknows.site_settings import SiteSettings, SiteSettingsStore, settings_of
from whoknows.cookies import parse_cookie_mode
from whoknows.transfer import _FIELDS, NOT_EXPORTED, TABLES, export_text, import_export, read_export, write_csv
from whoknows.vendor_records import add_vendor


def _fill(ledger) -> None:
    """A ledger with something in every table and every awkward value we can think of."""
    add_vendor(ledger, "shop.example", name="Shop", company="Shop SL", privacy_contact="dpo@shop.example",
               postal_address="Calle Mayor 1\nMadrid", sales_contact="ventas@shop.example")
    add_vendor(ledger, "xn--bcher-kva.example", name="Bücher 📚")
    record_disclosures(ledger, "shop.example", [("phone", "+34 600 111 222"), ("address", "Calle Mayor 1, Madrid")],
                       when="2024-01-01T10:00:00Z")
    record_disclosures(ledger, "shop.example", [("email", "ana@example.com")], source="form",
                       evidence={"url": "https://shop.example/signup?x=\"1\"", "fields": ["email"], "n": 1.5},
                       when="2024-02-01T10:00:00Z")
    record_disclosures(ledger, "xn--bcher-kva.example", [("other", "=HYPERLINK(\"http://evil\")")])
    set_preferences(ledger, "shop.example", {"marketing": False, "channels": ["post"], "max_per_month": 0,
                                             "notes": "ñ \"quoted\"\nsecond line"})
    set_preferences(ledger, "xn--bcher-kva.example", {"marketing": True})
    with ledger.write() as db:
        shop = db.execute("SELECT id FROM vendors WHERE domain = 'shop.example'").fetchone()[0]
        db.execute("INSERT INTO aliases (vendor_id, address, created_at, state, state_changed_at) VALUES "
                   "(?, 'me+old@mail.example', '2024-01-01T00:00:00Z', 'retired', '2024-03-01T00:00:00Z')", (shop,))
        db.execute("INSERT INTO aliases (vendor_id, address, created_at, state) VALUES "
                   "(?, 'me+shop@mail.example', '2024-03-01T00:00:00Z', 'active')", (shop,))
        db.execute("INSERT INTO observations (vendor_id, kind, subject, detail, count, first_seen, last_seen) "
                   "VALUES (?, 'third-party', 'tracker.example', ?, 42, '2024-01-01T00:00:00Z', "
                   "'2024-04-01T00:00:00Z')", (shop, json_text({"blocked": 40})))
        db.execute("INSERT INTO observations (vendor_id, kind, subject, detail, count, first_seen, last_seen) "
                   "VALUES (?, 'cookie', '-sid', NULL, 1, '2024-01-01T00:00:00Z', '2024-01-01T00:00:00Z')", (shop,))
    ledger.set_setting("alias.setup", '{"style": "plus"}')
    ledger.set_setting("empty", "")
    _fill_site_settings(ledger)


def _fill_site_settings(ledger) -> None:
    """A paused site with a capped cookie mode and two allowed third parties, a site with only a
    cookie mode, and a site with only an allowed third party (no site_settings row at all)."""
    with open_ledger(ledger.path) as own:  # the store wants a connection of its own
        store = SiteSettingsStore(own)
        store.set_paused("shop.example", True)
        store.set_cookie_mode("shop.example", "cap:30")
        store.allow_third_party("shop.example", "paypal.com")
        store.allow_third_party("shop.example", "accounts.google.com")
        store.set_cookie_mode("xn--bcher-kva.example", "block")
        store.allow_third_party("sso.example", "login.example")


def _fill_issue_5(ledger) -> None:
    """Own values (encrypted), leaks (one to a host with no site), scanned mail, rights requests."""
    from datetime import date

    from whoknows.leak_records import FoundValue, PendingLeaks, classify, write_batch
    from whoknows.mail_records import store_scan
    from whoknows.mailscan import read_message, ScanResult
    from whoknows.me import add_value
    from whoknows.data_rights import record_request

    email, _ = add_value(ledger, "email", "ines@example.net")
    add_value(ledger, "name", "Inés Olmedo")
    pending = PendingLeaks(clock=lambda: 1_700_000_000.0)
    for host, site, blocked in (("connect.facebook.net", "facebook.net", False), ("10.0.0.1", None, True)):
        pending.record(classify("shop.example", site, host, "GET", f"https://{host}/tr?em=…",
                                [FoundValue("email", email.reference(), "sha256", "normalised", "url")], blocked, "Meta"))
    write_batch(ledger, pending.take())
    raws = [b"From: a@shop.example\nTo: me+shop@mail.example\nMessage-ID: <1@shop.example>\n"
            b"Date: Mon, 04 Mar 2024 10:00:00 +0000\nList-Unsubscribe: <mailto:u@shop.example>\n\nx",
            b"From: b@spam.example\nTo: me+old@mail.example\nDate: nonsense\n\ny"]
    store_scan(ledger, ScanResult(messages=[read_message(raw)[0] for raw in raws]), same_company=lambda a, b: False)
    record_request(ledger, "shop.example", "access", "es", "dpo@shop.example", date(2024, 1, 10), date(2024, 2, 12))
    record_request(ledger, "spam.example", "erase", "en", None, date(2024, 5, 1), date(2024, 6, 3))
    with ledger.write() as db:
        db.execute("UPDATE rights_requests SET answered_on = '2024-02-01' WHERE kind = 'access'")


def _ledger_tables(ledger) -> set[str]:
    """The ledger's own tables (SQLite's internal sqlite_* tables are not the person's data)."""
    return {row[0] for row in ledger.query(
        "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite\\_%' ESCAPE '\\'")}


def _dump(ledger) -> dict:
    """Every row of every table except row ids, for comparing two ledgers."""
    tables = {}
    for table in sorted(_ledger_tables(ledger)):  # all of them: a new table is compared too
        rows = ledger.query(f"SELECT * FROM {table}")
        ids = ("id", "vendor_id", "recipient_id", "message_id", "about_id")  # about_id: compared by the export
        tables[table] = sorted(
            json.dumps({k: r[k] for k in r.keys() if k not in ids}, sort_keys=True) for r in rows)
    return tables


@pytest.fixture
def ledger():
    with open_ledger() as opened:
        yield opened


def test_export_import_into_an_empty_ledger_export_is_identical(ledger, tmp_path):
    _fill(ledger)
    first = export_text(ledger)
    with open_ledger(tmp_path / "other.db") as other:
        import_export(other, read_export(first.encode(), "export.json"))
        assert export_text(other) == first
        assert _dump(other) == _dump(ledger)  # every column of every row, not just what export shows


def test_issue_5_tables_round_trip_and_merge_idempotently(ledger, tmp_path):
    _fill(ledger)
    _fill_issue_5(ledger)
    first = export_text(ledger)
    document = json.loads(first)
    assert {table: len(document[table]) for table in ("me_values", "leaks", "mail_messages", "mail_alias_hits",
                                                      "rights_requests")} == {
        "me_values": 2, "leaks": 2, "mail_messages": 2, "mail_alias_hits": 2, "rights_requests": 2}
    assert "ines@example.net" not in first and "Olmedo" not in first  # own values travel encrypted only
    assert {(l["recipient"], l["recipient_host"], l["blocked"]) for l in document["leaks"]} == {
        ("facebook.net", "connect.facebook.net", False), (None, "10.0.0.1", True)}
    with open_ledger(tmp_path / "other.db") as other:
        import_export(other, read_export(first.encode(), "export.json"))
        assert export_text(other) == first
        assert _dump(other) == _dump(ledger)
        summary = import_export(other, read_export(first.encode(), "export.json"))
        assert all(s["added"] == 0 for s in summary.values())
        assert _dump(other) == _dump(ledger)


def test_every_table_of_a_fresh_ledger_is_exported_or_excluded_with_a_reason(tmp_path):
    with open_ledger(tmp_path / "fresh.db") as fresh:
        tables = _ledger_tables(fresh)
    assert "site_settings" in tables and "site_third_parties" in tables  # the query sees real tables
    forgotten = tables - set(TABLES) - set(NOT_EXPORTED)
    assert not forgotten, f"tables neither exported nor listed in transfer.NOT_EXPORTED: {sorted(forgotten)}"
    assert not set(TABLES) & set(NOT_EXPORTED)
    assert all(isinstance(reason, str) and reason.strip() for reason in NOT_EXPORTED.values())
    assert set(TABLES) | set(NOT_EXPORTED) <= tables  # nothing exported from a table that is gone


def test_site_settings_round_trip_and_the_imported_ledger_behaves_the_same(ledger, tmp_path):
    _fill(ledger)
    first = export_text(ledger)
    document = json.loads(first)
    assert [(s["vendor"], s["paused"], s["cookie_mode"]) for s in document["site_settings"]] == [
        ("shop.example", True, "cap:30"), ("xn--bcher-kva.example", False, "block")]
    assert [(t["vendor"], t["third_party"]) for t in document["site_third_parties"]] == [
        ("shop.example", "google.com"), ("shop.example", "paypal.com"), ("sso.example", "login.example")]
    with open_ledger(tmp_path / "other.db") as other:
        import_export(other, read_export(first.encode(), "export.json"))
        assert export_text(other) == first
        assert settings_of(other) == settings_of(ledger) == {
            "shop.example": SiteSettings(True, parse_cookie_mode("cap:30"),
                                         frozenset({"google.com", "paypal.com"})),
            "sso.example": SiteSettings(allowed_third_parties=frozenset({"login.example"})),
            "xn--bcher-kva.example": SiteSettings(cookie_mode=parse_cookie_mode("block")),
        }


def test_merging_site_settings_keeps_the_ledgers_choice_and_adds_what_is_new(ledger, tmp_path):
    _fill(ledger)
    data = export_text(ledger).encode()
    with open_ledger(tmp_path / "other.db") as other:
        with open_ledger(other.path) as own:
            store = SiteSettingsStore(own)
            store.set_cookie_mode("shop.example", "allow")  # the user's choice here: not paused, allow
            store.allow_third_party("shop.example", "paypal.com")
        with other.write() as db:  # allowed here earlier than in the file
            db.execute("UPDATE site_third_parties SET created_at = '2020-01-01T00:00:00Z'")
        summary = import_export(other, read_export(data, "x"))
        assert summary["site_settings"] == {"in_file": 2, "added": 1}
        assert summary["site_third_parties"] == {"in_file": 3, "added": 2}
        shop = settings_of(other)["shop.example"]
        assert (shop.paused, str(shop.cookie_mode)) == (False, "allow")  # kept whole, not mixed with the file's
        assert shop.allowed_third_parties == {"google.com", "paypal.com"}
        assert other.query("SELECT created_at FROM site_third_parties WHERE third_party = 'paypal.com'")[0][0] == (
            "2020-01-01T00:00:00Z")  # the earlier date
        before = _dump(other)
        assert all(s["added"] == 0 for s in import_export(other, read_export(data, "x")).values())
        assert _dump(other) == before


def test_a_hand_written_cookie_mode_is_stored_the_way_the_ledger_writes_it(ledger, tmp_path):
    _fill(ledger)
    document = json.loads(export_text(ledger))
    document["site_settings"][0]["cookie_mode"] = " CAP:7 "
    with open_ledger(tmp_path / "other.db") as other:
        import_export(other, read_export(json.dumps(document).encode(), "x"))
        assert other.query("SELECT cookie_mode FROM site_settings AS s JOIN vendors AS v ON v.id = s.vendor_id "
                           "WHERE v.domain = 'shop.example'")[0][0] == "cap:7"


def test_the_export_is_self_describing_json(ledger):
    _fill(ledger)
    document = json.loads(export_text(ledger))
    assert (document["format"], document["version"]) == ("whoknows-ledger", 1)
    assert [v["domain"] for v in document["vendors"]] == ["shop.example", "sso.example", "xn--bcher-kva.example"]
    form = [d for d in document["disclosures"] if d["source"] == "form"][0]
    assert form["evidence"] == {"url": "https://shop.example/signup?x=\"1\"", "fields": ["email"], "n": 1.5}
    assert document["preferences"][0]["marketing"] is False
    assert document["preferences"][0]["channels"] == ["post"]


def test_importing_the_same_file_twice_changes_nothing_the_second_time(ledger):
    _fill(ledger)
    data = export_text(ledger).encode()
    before = _dump(ledger)
    summary = import_export(ledger, read_export(data, "x"))
    assert all(s["added"] == 0 for s in summary.values())
    assert _dump(ledger) == before


def test_merging_into_a_ledger_with_data(ledger, tmp_path):
    _fill(ledger)
    data = export_text(ledger).encode()
    with open_ledger(tmp_path / "other.db") as other:
        add_vendor(other, "shop.example", name="My shop")  # the ledger's own value wins over the file's
        record_disclosures(other, "shop.example", [("phone", "0034600111222")], when="2025-01-01T00:00:00Z")
        record_disclosures(other, "own.example", [("name", "Ana")])
        with other.write() as db:
            db.execute("INSERT INTO observations (vendor_id, kind, subject, count, first_seen, last_seen) "
                       "SELECT id, 'third-party', 'tracker.example', 7, '2023-06-01T00:00:00Z', "
                       "'2023-07-01T00:00:00Z' FROM vendors WHERE domain = 'shop.example'")
        other.set_setting("alias.setup", '{"style": "catch-all"}')
        summary = import_export(other, read_export(data, "x"))
        assert summary["vendors"] == {"in_file": 3, "added": 2}
        assert summary["disclosures"] == {"in_file": 4, "added": 3}  # the phone was there already
        shop = other.query("SELECT name, company FROM vendors WHERE domain = 'shop.example'")[0]
        assert (shop["name"], shop["company"]) == ("My shop", "Shop SL")  # kept; filled in
        phone = other.query("SELECT value, first_seen, last_seen FROM disclosures WHERE kind = 'phone'")
        assert [tuple(p) for p in phone] == [("0034600111222", "2024-01-01T10:00:00Z", "2025-01-01T00:00:00Z")]
        tracker = other.query("SELECT count, first_seen, last_seen, detail FROM observations "
                              "WHERE subject = 'tracker.example'")[0]
        assert tuple(tracker) == (42, "2023-06-01T00:00:00Z", "2024-04-01T00:00:00Z", '{"blocked":40}')
        assert other.get_setting("alias.setup") == '{"style": "catch-all"}'
        assert other.query("SELECT count(*) FROM disclosures WHERE vendor_id = "
                           "(SELECT id FROM vendors WHERE domain = 'own.example')")[0][0] == 1


def test_an_alias_conflict_stops_the_import_and_changes_nothing(ledger, tmp_path):
    _fill(ledger)
    data = export_text(ledger).encode()
    with open_ledger(tmp_path / "other.db") as other:
        vendor_id = other.vendor_id("shop.example", create=True)
        with other.write() as db:
            db.execute("INSERT INTO aliases (vendor_id, address, created_at, state) VALUES "
                       "(?, 'me+different@mail.example', '2024-01-01T00:00:00Z', 'active')", (vendor_id,))
        before = _dump(other)
        with pytest.raises(WhoknowsError, match="shop.example has the active alias me\\+different@mail.example"):
            import_export(other, read_export(data, "x"))
        assert _dump(other) == before


def _export_with(ledger, change) -> bytes:
    _fill(ledger)
    document = json.loads(export_text(ledger))
    change(document)
    return json.dumps(document).encode()


BAD_FILES = {
    "not json": (lambda d: None, b"hello", "x is not a whoknows ledger export: not valid JSON"),
    "not utf-8": (lambda d: None, b"\xff\xfe{", "x is not a whoknows ledger export: not UTF-8 text"),
    "foreign json": (lambda d: None, b'{"name": "some other tool"}', 'x is not a whoknows ledger export \\(no "format"'),
    "a list": (lambda d: None, b"[1, 2]", "x is not a whoknows ledger export"),
    "wrong format": (lambda d: d.update(format="other-ledger"), None, "x is not a whoknows ledger export \\(format 'other-ledger'\\)"),
    "newer version": (lambda d: d.update(version=2), None, "x was written by a newer whoknows \\(export version 2"),
    "bad kind": (lambda d: d["disclosures"][0].update(kind="fax"), None, r"x: disclosures\[0\].kind: 'fax' is not one of"),
    "bad date": (lambda d: d["disclosures"][1].update(first_seen="2024-13-01T00:00:00Z"), None,
                 r"x: disclosures\[1\].first_seen: '2024-13-01T00:00:00Z' is not a valid date"),
    "not a date": (lambda d: d["vendors"][0].update(created_at="yesterday"), None, "is not a UTC timestamp"),
    "bad count": (lambda d: d["observations"][0].update(count="42"), None, "count: must be a whole number"),
    "missing field": (lambda d: d["aliases"][0].pop("state"), None, r"x: aliases\[0\] lacks 'state'"),
    "extra field": (lambda d: d["settings"][0].update(secret="x"), None, "unknown field 'secret'"),
    "unknown section": (lambda d: d.update(keys=[]), None, "unknown section 'keys'"),
    "dangling vendor": (lambda d: d["observations"][0].update(vendor="ghost.example"), None,
                        "'ghost.example' is not in the file's vendors"),
    "not a vendor domain": (lambda d: d["vendors"][0].update(domain="www.shop.example"), None,
                            "is not a vendor's domain as the ledger writes it"),
    "bad channel": (lambda d: d["preferences"][0].update(channels=["fax"]), None, "must be a list of channels"),
    "bad cookie mode": (lambda d: d["site_settings"][0].update(cookie_mode="forever"), None,
                        r"x: site_settings\[0\].cookie_mode: unknown cookie mode 'forever'"),
    "cookie cap too long": (lambda d: d["site_settings"][0].update(cookie_mode="cap:999"), None,
                            "the cap can be at most 400 days"),
    "cookie mode not text": (lambda d: d["site_settings"][0].update(cookie_mode=7), None,
                             "cookie_mode: must be a cookie mode"),
    "paused not a boolean": (lambda d: d["site_settings"][0].update(paused="yes"), None,
                             r"site_settings\[0\].paused: must be true, false"),
    "paused missing": (lambda d: d["site_settings"][0].update(paused=None), None,
                       r"site_settings\[0\].paused: must be true, false"),
    "site not in vendors": (lambda d: d["site_settings"][0].update(vendor="ghost.example"), None,
                            r"site_settings\[0\].vendor 'ghost.example' is not in the file's vendors"),
    "third party not a domain": (lambda d: d["site_third_parties"][0].update(third_party="http://"), None,
                                 r"site_third_parties\[0\].third_party: "),
    "third party not normalised": (lambda d: d["site_third_parties"][0].update(third_party="Accounts.Google.com"),
                                   None, "is not a vendor's domain as the ledger writes it \\('google.com'\\)"),
    "third party is the site": (lambda d: d["site_third_parties"][0].update(third_party="shop.example"), None,
                                r"site_third_parties\[0\].third_party 'shop.example' is the site itself"),
}


@pytest.mark.parametrize("case", BAD_FILES, ids=list(BAD_FILES))
def test_a_bad_file_is_refused_before_anything_is_written(ledger, tmp_path, case):
    change, raw, message = BAD_FILES[case]
    data = raw if raw is not None else _export_with(ledger, change)
    with pytest.raises(WhoknowsError, match=message):
        read_export(data, "x")


def test_a_truncated_file_is_refused(ledger):
    _fill(ledger)
    data = export_text(ledger).encode()
    with pytest.raises(WhoknowsError, match="not valid JSON"):
        read_export(data[: len(data) // 2], "x")


def _csv_tables(directory) -> dict[str, tuple[list[str], list[dict]]]:
    """table -> (header, rows) of a CSV export directory."""
    found = {}
    for path in sorted(directory.glob("*.csv")):
        with path.open(encoding="utf-8", newline="") as sheet:
            reader = csv.DictReader(sheet)
            found[path.stem] = (reader.fieldnames, list(reader))
    return found


def test_csv_export_is_one_file_per_table_with_its_own_columns_safe_for_spreadsheets(ledger, tmp_path):
    _fill(ledger)
    counts = write_csv(ledger, tmp_path / "sheets")
    tables = _csv_tables(tmp_path / "sheets")
    assert list(tables) == sorted(TABLES) and counts["vendors"] == 3
    for table, (header, rows) in tables.items():
        assert header == list(_FIELDS[table])  # only this table's columns: no sheet of 53 mostly empty
        assert len(rows) == counts[table]
        assert stat.S_IMODE((tmp_path / "sheets" / f"{table}.csv").stat().st_mode) == 0o600
    assert stat.S_IMODE((tmp_path / "sheets").stat().st_mode) == 0o700
    assert [r["domain"] for r in tables["vendors"][1]] == ["shop.example", "sso.example", "xn--bcher-kva.example"]
    disclosures = tables["disclosures"][1]
    phone = [r for r in disclosures if r["kind"] == "phone"][0]
    assert (phone["vendor"], phone["value"], phone["source"]) == ("shop.example", "'+34 600 111 222", "told")
    formula = [r for r in disclosures if r["kind"] == "other"][0]
    assert formula["value"] == "'=HYPERLINK(\"http://evil\")"  # shown as text, never run
    cookie = [r for r in tables["observations"][1] if r["kind"] == "cookie"][0]
    assert cookie["subject"] == "'-sid"
    prefs = [r for r in tables["preferences"][1] if r["vendor"] == "shop.example"][0]
    assert (prefs["marketing"], prefs["channels"], prefs["max_per_month"]) == ("no", "post", "0")
    sites = [(r["vendor"], r["paused"], r["cookie_mode"]) for r in tables["site_settings"][1]]
    assert sites == [("shop.example", "yes", "cap:30"), ("xn--bcher-kva.example", "no", "block")]
    allowed = [(r["vendor"], r["third_party"]) for r in tables["site_third_parties"][1]]
    assert allowed == [("shop.example", "google.com"), ("shop.example", "paypal.com"),
                       ("sso.example", "login.example")]
    assert tables["leaks"] == (list(_FIELDS["leaks"]), [])  # an empty table still has its header


def test_csv_export_into_a_zip_holds_the_same_files(ledger, tmp_path):
    _fill(ledger)
    write_csv(ledger, tmp_path / "sheets")
    write_csv(ledger, tmp_path / "ledger.zip")
    assert stat.S_IMODE((tmp_path / "ledger.zip").stat().st_mode) == 0o600
    with zipfile.ZipFile(tmp_path / "ledger.zip") as archive:
        assert sorted(archive.namelist()) == [f"{table}.csv" for table in sorted(TABLES)]
        for member in archive.infolist():
            assert (member.external_attr >> 16) & 0o777 == 0o600  # unzipped, still private
            assert archive.read(member).decode("utf-8") == (tmp_path / "sheets" / member.filename).read_text(
                encoding="utf-8", newline="")


def test_no_csv_export_can_be_imported(ledger, tmp_path):
    _fill(ledger)
    write_csv(ledger, tmp_path / "sheets")
    write_csv(ledger, tmp_path / "ledger.zip")
    for path in [*sorted((tmp_path / "sheets").glob("*.csv")), tmp_path / "ledger.zip"]:
        with pytest.raises(WhoknowsError, match="x is a CSV export, which is for spreadsheets and cannot be imported"):
            read_export(path.read_bytes(), "x")


@pytest.mark.parametrize("change, message", [
    (lambda d: d["mail_alias_hits"][0].update(message="<ghost@x>"), "is not in the file's mail_messages"),
    (lambda d: d["leaks"][0].update(recipient="ghost.example"), r"leaks\[0\].recipient 'ghost.example' is not"),
    (lambda d: d["me_values"][0].update(lookup="ABC"), "must be 64 lowercase hex digits"),
    (lambda d: d["rights_requests"][0].update(due_on="2024-02-30"), "is not a date like 2026-01-31"),
    (lambda d: d["leaks"][0].update(count=0), "must be a whole number, 1 or more"),
], ids=["dangling message", "dangling recipient", "bad lookup", "bad due date", "zero count"])
def test_a_bad_issue_5_row_is_refused_before_anything_is_written(ledger, change, message):
    _fill(ledger)
    _fill_issue_5(ledger)
    document = json.loads(export_text(ledger))
    change(document)
    with pytest.raises(WhoknowsError, match=message):
        read_export(json.dumps(document).encode(), "x")


def test_the_history_of_preferences_travels_and_merges_with_them(ledger, tmp_path):
    set_preferences(ledger, "shop.example", {"marketing": False}, at="2024-01-01T00:00:00Z")
    set_preferences(ledger, "shop.example", {"max_per_month": 3}, at="2024-02-01T00:00:00Z")
    set_preferences(ledger, "other.example", {"marketing": True}, at="2024-01-05T00:00:00Z")
    document = json.loads(export_text(ledger))
    assert [(h["vendor"], h["set_at"], h["marketing"], h["max_per_month"]) for h in document["preference_history"]] == [
        ("other.example", "2024-01-05T00:00:00Z", True, None),
        ("shop.example", "2024-01-01T00:00:00Z", False, None), ("shop.example", "2024-02-01T00:00:00Z", False, 3)]
    with open_ledger(tmp_path / "other.db") as other:
        set_preferences(other, "shop.example", {"marketing": True}, at="2025-01-01T00:00:00Z")  # the ledger's own
        import_export(other, read_export(json.dumps(document).encode(), "x"))
        merged = other.query("SELECT v.domain, h.set_at, h.marketing FROM preference_history AS h "
                             "JOIN vendors AS v ON v.id = h.vendor_id ORDER BY v.domain, h.set_at")
        assert [tuple(r) for r in merged] == [
            ("other.example", "2024-01-05T00:00:00Z", 1), ("shop.example", "2025-01-01T00:00:00Z", 1)]
    del document["preference_history"]  # an export from before the history was kept
    with open_ledger(tmp_path / "older.db") as older:
        import_export(older, read_export(json.dumps(document).encode(), "x"))
        assert [tuple(r) for r in older.query(
            "SELECT h.set_at, h.marketing, h.max_per_month FROM preference_history AS h JOIN vendors AS v "
            "ON v.id = h.vendor_id WHERE v.domain = 'shop.example'")] == [("2024-02-01T00:00:00Z", 0, 3)]


def _fill_issue_14(ledger, tmp_path) -> None:
    """An export read in answer to a request (values, categories, a skipped member) and a
    newsletter to an alias showing an own value."""
    import io
    from datetime import date

    from whoknows.export_records import read_vendor_export
    from whoknows.mail_records import body_watch, store_scan
    from whoknows.mailscan import scan_paths

    export = tmp_path / "shop-export.zip"
    with zipfile.ZipFile(export, "w") as archive:
        archive.writestr("account.json", json.dumps({"email": "ines@example.net", "alias": "me+shop@mail.example",
                                                     "orders": [{"street": "Calle 1", "ip": "203.0.113.7"}]}))
        archive.writestr("../escape.txt", "x")
    request = ledger.query("SELECT id FROM rights_requests WHERE kind = 'access'")[0][0]
    read_vendor_export(ledger, "shop.example", export, request_id=request, received_on=date(2024, 2, 1))
    mbox = tmp_path / "news.mbox"
    mbox.write_bytes(b"From MAILER-DAEMON Mon Mar  4 10:00:00 2024\nFrom: news@shop.example\n"
                     b"To: me+shop@mail.example\nMessage-ID: <news@shop.example>\nSubject: Hola In\xc3\xa9s Olmedo\n"
                     b"Date: Mon, 04 Mar 2024 10:00:00 +0000\n\nWrite to ines@example.net\n")
    store_scan(ledger, scan_paths([mbox], body_watch(ledger)), same_company=lambda a, b: False)


def test_issue_14_tables_round_trip_and_merge_idempotently(ledger, tmp_path):
    _fill(ledger)
    _fill_issue_5(ledger)
    _fill_issue_14(ledger, tmp_path)
    first = export_text(ledger)
    document = json.loads(first)
    assert len(document["data_exports"]) == 1 and document["data_exports"][0]["request_kind"] == "access"
    assert document["data_exports"][0]["skipped"] and len(document["export_findings"]) >= 4
    assert {(h["kind"], h["place"]) for h in document["mail_value_hits"]} == {("name", "subject"), ("email", "body")}
    assert "ines@example.net" not in first and "Olmedo" not in first
    with open_ledger(tmp_path / "other.db") as other:
        import_export(other, read_export(first.encode(), "export.json"))
        assert export_text(other) == first
        assert _dump(other) == _dump(ledger)
        summary = import_export(other, read_export(first.encode(), "export.json"))
        assert all(s["added"] == 0 for s in summary.values())
        assert _dump(other) == _dump(ledger)


def test_a_complaint_and_a_follow_up_travel_linked_to_the_requests_they_are_about(ledger, tmp_path):
    """The link names the request by kind and date (row ids are private to a ledger); the imported
    ledger lists the request as complained about; a file written before the link imports unlinked;
    a link to a request not in the file is refused."""
    from datetime import date

    from whoknows.data_rights import list_requests, record_request

    _fill(ledger)
    _fill_issue_5(ledger)  # shop.example access 2024-01-10 answered; spam.example erase 2024-05-01 not
    [access] = [r["id"] for r in list_requests(ledger, date(2024, 8, 1)) if r["kind"] == "access"]
    [erase] = [r["id"] for r in list_requests(ledger, date(2024, 8, 1)) if r["kind"] == "erase"]
    record_request(ledger, "shop.example", "follow-up", "es", "dpo@shop.example", date(2024, 2, 10),
                   date(2024, 3, 11), about=access)
    record_request(ledger, "spam.example", "complaint", "en", "https://www.aepd.es", date(2024, 7, 1),
                   date(2024, 10, 1), about=erase)
    first = export_text(ledger)
    document = json.loads(first)
    assert sorted((r["kind"], r["about_kind"], r["about_sent_on"]) for r in document["rights_requests"]) == [
        ("access", None, None), ("complaint", "erase", "2024-05-01"), ("erase", None, None),
        ("follow-up", "access", "2024-01-10")]
    with open_ledger(tmp_path / "other.db") as other:
        import_export(other, read_export(first.encode(), "export.json"))
        assert export_text(other) == first
        summary = import_export(other, read_export(first.encode(), "export.json"))
        assert summary["rights_requests"]["added"] == 0 and export_text(other) == first
        rows = {r["kind"]: r for r in list_requests(other, date(2024, 8, 1))}
        assert (rows["erase"]["status"], rows["erase"]["overdue"]) == ("complained", False)
        assert [c["authority"] for c in rows["erase"]["complaints"]] == ["Spanish Data Protection Agency"]
        assert [f["sent_on"] for f in rows["access"]["follow_ups"]] == ["2024-02-10"]
        assert rows["complaint"]["about"] == rows["erase"]["id"]
    for row in document["rights_requests"]:
        del row["about_kind"], row["about_sent_on"]
    with open_ledger(tmp_path / "older.db") as older:
        import_export(older, read_export(json.dumps(document).encode(), "older.json"))
        rows = {r["kind"]: r for r in list_requests(older, date(2024, 8, 1))}
        assert (rows["erase"]["status"], rows["complaint"]["about"]) == ("overdue", None)
    document = json.loads(first)
    [complaint] = [r for r in document["rights_requests"] if r["kind"] == "complaint"]
    complaint["about_sent_on"] = "2024-05-02"
    with pytest.raises(WhoknowsError, match=r"rights_requests\[\d\] is about a request that is not in the file"):
        read_export(json.dumps(document).encode(), "bad.json")
    complaint["about_sent_on"] = None
    with pytest.raises(WhoknowsError, match="by about_kind and about_sent_on, or by neither"):
        read_export(json.dumps(document).encode(), "bad.json")


def test_an_export_already_in_the_ledger_keeps_its_own_findings(ledger, tmp_path):
    _fill(ledger)
    _fill_issue_5(ledger)
    _fill_issue_14(ledger, tmp_path)
    document = json.loads(export_text(ledger))
    document["export_findings"] = [f for f in document["export_findings"] if f["finding"] == "category"]
    with ledger.write() as db:
        before = db.execute("SELECT count(*) FROM export_findings").fetchone()[0]
    summary = import_export(ledger, read_export(json.dumps(document).encode(), "export.json"))
    assert summary["export_findings"]["added"] == 0
    assert ledger.query("SELECT count(*) FROM export_findings")[0][0] == before


@pytest.mark.parametrize("change, message", [
    (lambda d: d["export_findings"][0].update(export="0" * 64), "is not in the file's data_exports"),
    (lambda d: d["export_findings"][0].update(value_ref=None, finding="value"), "a value finding"),
    (lambda d: d["data_exports"][0].update(request_sent_on="2020-01-01"), "answers a request"),
    (lambda d: d["mail_value_hits"][0].update(place="header"), "is not one of subject, body"),
])
def test_a_bad_issue_14_row_is_refused_before_anything_is_written(ledger, tmp_path, change, message):
    _fill(ledger)
    _fill_issue_5(ledger)
    _fill_issue_14(ledger, tmp_path)
    document = json.loads(export_text(ledger))
    change(document)
    with pytest.raises(WhoknowsError, match=message):
        read_export(json.dumps(document).encode(), "export.json")


def test_company_sightings_and_identifiers_round_trip_and_merge_idempotently(ledger, tmp_path):
    from whoknows.company_sightings import CompanySightings, write_batch

    _fill(ledger)
    sightings = CompanySightings(clock=lambda: 1_780_000_000.0)
    sightings.request("shop.example", "www.google-analytics.com", blocked=False,
                      pages=[("https://shop.example/cart", "referer")])
    # (doubleclick reached through the shop's own host that is a CNAME of its tracker host)
    sightings.request("shop.example", "stats.g.doubleclick.net", blocked=True, cloaked_behind="metrics.shop.example")
    sightings.cookies("shop.example", "www.google-analytics.com", ["_ga"])
    sightings.values("shop.example", "www.google-analytics.com", [("email", "a•••@x.org [me:1]", "sha256")])
    write_batch(ledger, sightings.take())
    first = export_text(ledger)
    document = json.loads(first)
    assert [(row["domain"], row["blocked_requests"], row["reached_requests"], row["cloaked_behind"])
            for row in document["company_sightings"]] == [("doubleclick.net", 1, 0, "metrics.shop.example"),
                                                          ("google-analytics.com", 0, 1, None)]
    assert {row["kind"]: row["qualifier"] for row in document["company_identifiers"]} == {
        "cookie": "", "page": "referer", "value": "email sha256"}
    with open_ledger(tmp_path / "other.db") as other:
        import_export(other, read_export(first.encode(), "export.json"))
        import_export(other, read_export(first.encode(), "export.json"))  # twice: nothing doubles
        assert export_text(other) == first
        assert _dump(other) == _dump(ledger)
    older = json.loads(first)  # written before sightings named the host a company hid behind
    for row in older["company_sightings"]:
        del row["cloaked_behind"]
    with open_ledger(tmp_path / "older.db") as other:
        import_export(other, read_export(json.dumps(older).encode(), "export.json"))
        assert [row["cloaked_behind"] for row in json.loads(export_text(other))["company_sightings"]] == [None, None]
    document["company_sightings"][0]["day"] = "2026-13-01"
    with pytest.raises(WhoknowsError, match=r"company_sightings\[0\]\.day"):
        read_export(json.dumps(document).encode(), "export.json")


def _fill_intents(ledger) -> None:
    """Issue 15: an intent to two vendors, one message sent, and an answer from scanned mail."""
    from datetime import date

    from whoknows.aliases import get_or_create, parse_setup, save_setup
    from whoknows.intent_records import create_intent, mark_delivered
    from whoknows.intents import make_intent
    from whoknows.mail_records import store_scan
    from whoknows.mailscan import ScanResult, read_message

    save_setup(ledger, parse_setup(base="me@mail.example"))
    for vendor in ("shop.example", "tv.example"):
        get_or_create(ledger, vendor)
    record = create_intent(ledger, make_intent("a 4K monitor", "2099-01-31", "es", date(2026, 1, 1), "monitors",
                                               "300 EUR"),
                           [("shop.example", "sales@shop.example"), ("tv.example", "hi@tv.example")])
    mark_delivered(ledger, record.messages[0], "sent")
    reply = (f"From: sales@shop.example\nTo: {record.messages[0].alias}\nMessage-ID: <re@shop.example>\n"
             f"Date: Mon, 04 Mar 2030 10:00:00 +0000\nIn-Reply-To: {record.messages[0].message_id}\n\nx").encode()
    store_scan(ledger, ScanResult(messages=[read_message(reply)[0]]), same_company=lambda a, b: False)


def test_intents_travel_with_their_messages_and_answers_and_merge_idempotently(ledger, tmp_path):
    _fill_intents(ledger)
    first = export_text(ledger)
    document = json.loads(first)
    assert (len(document["intents"]), len(document["intent_messages"]), len(document["intent_answers"])) == (1, 2, 1)
    assert document["intent_answers"][0]["matched_by"] == "in-reply-to"
    with open_ledger(tmp_path / "other.db") as other:
        import_export(other, read_export(first.encode(), "export.json"))
        assert export_text(other) == first
        assert all(s["added"] == 0 for s in import_export(other, read_export(first.encode(), "x")).values())
        # a message sent in the file but unsent here becomes sent; nothing becomes unsent again
        with other.write() as db:
            db.execute("UPDATE intent_messages SET state = 'unsent', state_changed_at = NULL")
        import_export(other, read_export(first.encode(), "x"))
        assert export_text(other) == first


@pytest.mark.parametrize("change, message", [
    (lambda d: d["intent_messages"][0].update(intent="0" * 32), "is not in the file's intents"),
    (lambda d: d["intent_answers"][0].update(message="<ghost@x>"), "is not in the file's mail_messages"),
    (lambda d: d["intent_answers"][0].update(intent_message="<ghost@x>"), "is not in the file's intent_messages"),
    (lambda d: d["intents"][0].update(budget_currency=None), "budget amount without a currency"),
    (lambda d: d["intent_messages"][0].update(state="lost"), "is not one of unsent, written, sent"),
], ids=["dangling intent", "dangling mail", "dangling intent message", "half a budget", "bad state"])
def test_a_bad_intent_row_is_refused_before_anything_is_written(ledger, change, message):
    _fill_intents(ledger)
    document = json.loads(export_text(ledger))
    change(document)
    with pytest.raises(WhoknowsError, match=message):
        read_export(json.dumps(document).encode(), "x")


def _fill_terms_offers(ledger) -> None:
    """Issue 15 (personal terms): two vendors offered the terms, one of which agreed."""
    from whoknows.personal_terms import find_term
    from whoknows.terms_records import PendingOffers, write_batch

    moments = iter([1772366400.0, 1772452800.0, 1772539200.0])
    pending = PendingOffers(clock=lambda: next(moments))
    term = find_term("nostalking")
    pending.offered("shop.example", [term])
    pending.offered("quiet.example", [term])
    pending.agreed("shop.example", [term], "well-known")
    write_batch(ledger, pending.take())


def test_terms_offers_travel_and_merge_to_the_earliest_offer_and_agreement(ledger, tmp_path):
    _fill_terms_offers(ledger)
    first = export_text(ledger)
    rows = json.loads(first)["terms_offers"]
    assert [(r["vendor"], r["agreed_by"]) for r in rows] == [("quiet.example", None), ("shop.example", "well-known")]
    with open_ledger(tmp_path / "other.db") as other:
        import_export(other, read_export(first.encode(), "export.json"))
        assert export_text(other) == first
        assert all(s["added"] == 0 for s in import_export(other, read_export(first.encode(), "x")).values())
        # a later offer and no agreement here: the file's earlier offer and its agreement win
        with other.write() as db:
            db.execute("UPDATE terms_offers SET first_offered = '2026-06-01T00:00:00Z', agreed_on = NULL, "
                       "agreed_by = NULL")
        import_export(other, read_export(first.encode(), "x"))
        assert export_text(other) == first


@pytest.mark.parametrize("change, message", [
    (lambda d: d["terms_offers"][0].update(vendor="ghost.example"), "is not in the file's vendors"),
    (lambda d: d["terms_offers"][0].update(agreed_by="header"), "agreed_on without agreed_by"),
    (lambda d: d["terms_offers"][1].update(agreed_by="a handshake"), "is not one of header, well-known"),
    (lambda d: d["terms_offers"][0].update(version=0), "terms_offers"),
], ids=["dangling vendor", "half an agreement", "bad way", "version 0"])
def test_a_bad_terms_offer_row_is_refused_before_anything_is_written(ledger, change, message):
    _fill_terms_offers(ledger)
    document = json.loads(export_text(ledger))
    change(document)
    with pytest.raises(WhoknowsError, match=message):
        read_export(json.dumps(document).encode(), "x")


def test_topics_opt_outs_and_mail_classification_travel_and_old_files_still_import(ledger, tmp_path):
    """Issue 15, item 3: the new preference and mail columns round trip; a file written before
    them imports with NULLs (not stated, not classified)."""
    from whoknows.mail_records import store_scan
    from whoknows.mailscan import ScanResult, read_message

    set_preferences(ledger, "shop.example", {"topics": ["orders"], "max_per_week": 2}, at="2024-01-01T00:00:00Z")
    set_preferences(ledger, "shop.example", {"opted_out_on": "2024-01-10"}, at="2024-01-12T00:00:00Z")
    record, _ = read_message(b"From: ofertas@shop.example\nTo: me@mail.example\nSubject: Rebajas\n"
                             b"Message-ID: <o1@shop.example>\nDate: Mon, 04 Mar 2024 10:00:00 +0000\n\nx\n")
    store_scan(ledger, ScanResult(messages=[record]), same_company=lambda a, b: False)
    document = json.loads(export_text(ledger))
    [mail] = document["mail_messages"]
    assert (mail["topics"], mail["topic_reasons"]) == (["offers"], ["offers <- subject: 'rebaja*'",
                                                                    "offers <- sender: ofertas@"])
    assert [(h["topics"], h["max_per_week"], h["opted_out_on"]) for h in document["preference_history"]] == [
        (["orders"], 2, None), (["orders"], 2, "2024-01-10")]
    with open_ledger(tmp_path / "copy.db") as copy:
        import_export(copy, read_export(json.dumps(document).encode(), "x"))
        assert export_text(copy) == export_text(ledger)
    for table, fields in (("preferences", ("topics", "max_per_week", "opted_out_on")),
                          ("preference_history", ("topics", "max_per_week", "opted_out_on")),
                          ("mail_messages", ("topics", "topic_reasons", "subject_key", "reached"))):
        for row in document[table]:
            for name in fields:
                del row[name]
    with open_ledger(tmp_path / "older.db") as older:
        import_export(older, read_export(json.dumps(document).encode(), "older.json"))
        assert older.query("SELECT topics, subject_key FROM mail_messages")[0][:] == (None, None)
        assert older.query("SELECT topics, opted_out_on FROM preferences")[0][:] == (None, None)
    document["mail_messages"][0]["topics"] = ["spam"]
    with pytest.raises(WhoknowsError, match=r"mail_messages\[0\].topics: must be a list of topics"):
        read_export(json.dumps(document).encode(), "bad.json")


def test_a_vendor_s_sales_contact_travels_merges_as_its_other_contacts_and_old_files_import_without_it(
        ledger, tmp_path):
    """Issue 15, loose end: where intents go travels with the vendor; the ledger's own entry wins, a
    vendor without one takes the file's, and a file written before it imports as none recorded."""
    from whoknows.vendor_records import sales_contact

    _fill(ledger)
    document = json.loads(export_text(ledger))
    assert [(v["domain"], v["privacy_contact"], v["sales_contact"]) for v in document["vendors"]] == [
        ("shop.example", "dpo@shop.example", "ventas@shop.example"), ("sso.example", None, None),
        ("xn--bcher-kva.example", None, None)]
    document["vendors"][2]["sales_contact"] = "kasse@xn--bcher-kva.example"
    with open_ledger(tmp_path / "other.db") as other:
        add_vendor(other, "shop.example", sales_contact="shop@shop.example")  # its own: kept
        add_vendor(other, "xn--bcher-kva.example", privacy_contact="dsb@xn--bcher-kva.example")  # none: filled in
        import_export(other, read_export(json.dumps(document).encode(), "x"))
        assert sales_contact(other, "shop.example") == "shop@shop.example"
        assert sales_contact(other, "xn--bcher-kva.example") == "kasse@xn--bcher-kva.example"
        assert other.query("SELECT privacy_contact FROM vendors WHERE domain = 'xn--bcher-kva.example'")[0][0] == (
            "dsb@xn--bcher-kva.example")
    for row in document["vendors"]:
        del row["sales_contact"]
    with open_ledger(tmp_path / "older.db") as older:
        import_export(older, read_export(json.dumps(document).encode(), "older.json"))
        assert [sales_contact(older, v) for v in ("shop.example", "xn--bcher-kva.example")] == [None, None]
        assert older.query("SELECT privacy_contact FROM vendors WHERE domain = 'shop.example'")[0][0] == (
            "dpo@shop.example")
    document["vendors"][0]["sales_contact"] = 7
    with pytest.raises(WhoknowsError, match=r"vendors\[0\].sales_contact"):
        read_export(json.dumps(document).encode(), "bad.json")
