"""A vendor's data export read into the ledger (`whoknows.export_records`): findings with file and
field, values by reference only (never a copy of the export); a bad export stores nothing."""

import csv
import io
import json
import sqlite3
import zipfile

import pytest

from whoknows import aliases, me
from whoknows.data_exports import ExportError
from whoknows.data_rights import record_request
from whoknows.export_records import read_vendor_export, vendor_exports
from whoknows.ledger import open_ledger

EMAIL = "ana.garcia@example.com"
PHONE = "+34 600 111 222"
STREET = "Calle Mayor 5"


@pytest.fixture
def ledger():
    with open_ledger() as ledger:
        me.add_value(ledger, "email", EMAIL)
        me.add_value(ledger, "phone", PHONE)
        me.add_value(ledger, "address", STREET)
        aliases.save_setup(ledger, aliases.parse_setup(base="me@mail.example"))
        yield ledger


def zip_bytes(members: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    return buffer.getvalue()


def shop_export(alias: str) -> bytes:
    """A realistic shop export: nested JSON with orders, a cp1252 CSV with semicolons, an HTML
    summary page, and a ZIP inside the ZIP holding the ad profile."""
    account = json.dumps({
        "profile": {"email": EMAIL, "newsletterAddress": alias, "lastLoginIp": "203.0.113.77"},
        "orders": [{"id": f"A{i}", "total": 10 + i, "shipping": {"street": STREET, "city": "Madrid"}}
                   for i in range(30)],
    }).encode()
    rows = io.StringIO()
    writer = csv.writer(rows, delimiter=";")
    writer.writerow(["Teléfono", "Población"])
    writer.writerow(["600 111 222", "Móstoles"])
    summary = (f"<html><body><h1>Your data</h1><table><tr><th>Email</th><td>{EMAIL}</td></tr>"
               "<tr><th>Segments</th><td>new parents</td></tr></table></body></html>").encode()
    ads = zip_bytes({"audiences.json": json.dumps({"segments": ["travel"], "partners": ["adnet.example"]}).encode()})
    return zip_bytes({"account.json": account, "contact.csv": rows.getvalue().encode("cp1252"),
                      "summary.html": summary, "ads/profile.zip": ads})


def test_an_export_is_kept_as_findings_with_file_and_field_and_never_a_copy(ledger, tmp_path):
    alias, _ = aliases.get_or_create(ledger, "shop.example")
    export = tmp_path / "shop-export.zip"
    export.write_bytes(shop_export(alias))
    stored = read_vendor_export(ledger, "shop.example", export)
    assert stored.new and stored.source_name == "shop-export.zip"
    with ledger.read() as db:
        exports = vendor_exports(db, ledger.vendor_id("shop.example"))
    assert len(exports) == 1
    values = {v["value"].split()[-1] if "[me:" in v["value"] else v["value"]: v for v in exports[0]["values"]}
    places = {v["kind"]: {(p["file"], p["field"]) for p in v["places"]} for v in exports[0]["values"]}
    assert places["email"] == {("account.json", "profile.email"), ("summary.html", "html/body/table/tr/td")}
    assert places["address"] == {("account.json", "orders[0].shipping.street")}
    assert places["phone"] == {("contact.csv", "Teléfono")}
    assert places["alias"] == {("account.json", "profile.newsletterAddress")}
    assert alias in values  # aliases are kept as addresses (they are in the ledger in plaintext anyway)
    held = {c["category"] for c in exports[0]["categories"]}
    assert {"contact", "postal-address", "order-history", "ip-address", "interests", "recipients"} <= held
    nested = [c for c in exports[0]["categories"] if c["file"].startswith("ads/profile.zip!")]
    assert nested, exports[0]["categories"]
    # the ledger holds no plaintext of the user's values, nor any other content of the export
    dump = "\n".join(ledger.db.iterdump())
    for secret in (EMAIL, "600 111 222", "600111222", STREET, "Móstoles", "203.0.113.77", "new parents"):
        assert secret not in dump, secret


def test_reading_the_same_export_again_replaces_its_findings_and_keeps_the_first_date(ledger, tmp_path):
    from datetime import date

    export = tmp_path / "data.json"
    export.write_text(json.dumps({"email": EMAIL}))
    first = read_vendor_export(ledger, "shop.example", export, received_on=date(2026, 1, 10))
    again = read_vendor_export(ledger, "shop.example", export, received_on=date(2026, 2, 1))
    assert first.id == again.id and not again.new and again.received_on == "2026-01-10"
    assert ledger.query("SELECT count(*) FROM export_findings WHERE finding = 'value'")[0][0] == 1
    assert ledger.query("SELECT count(*) FROM data_exports")[0][0] == 1


def _bomb() -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("huge.txt", b"0" * (30 * 1024 * 1024))
    return buffer.getvalue()


def _traversal() -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("../../etc/evil.json", json.dumps({"email": EMAIL}))
    return buffer.getvalue()


@pytest.mark.parametrize("make, message", [
    (_bomb, "zip bomb"),
    (lambda: zip_bytes({"a.json": json.dumps({"email": EMAIL}).encode() * 200})[:-40], "ZIP"),
])
def test_a_bad_export_is_one_error_and_nothing_is_stored(ledger, tmp_path, make, message):
    export = tmp_path / "export.zip"
    export.write_bytes(make())
    with pytest.raises(ExportError) as raised:
        read_vendor_export(ledger, "shop.example", export)
    assert message.lower() in str(raised.value).lower() and "\n" not in str(raised.value)
    assert ledger.query("SELECT count(*) FROM data_exports")[0][0] == 0
    assert ledger.query("SELECT count(*) FROM export_findings")[0][0] == 0
    assert ledger.vendor_id("shop.example") is None


def test_a_traversal_name_is_skipped_with_its_reason_and_nothing_of_it_is_read(ledger, tmp_path):
    export = tmp_path / "export.zip"
    export.write_bytes(_traversal())
    stored = read_vendor_export(ledger, "shop.example", export)
    assert stored.reading.values == [] and stored.reading.skipped
    assert "../../etc/evil.json" in stored.reading.skipped[0].file
    with ledger.read() as db:
        assert vendor_exports(db, ledger.vendor_id("shop.example"))[0]["skipped"][0][0].endswith("evil.json")


def test_an_export_answers_a_request_of_its_own_vendor_only(ledger, tmp_path):
    from datetime import date

    from whoknows.errors import NotFoundError

    request_id, _ = record_request(ledger, "shop.example", "access", "en", None, date(2026, 1, 1), date(2026, 2, 1))
    export = tmp_path / "data.json"
    export.write_text(json.dumps({"phone": "600111222"}))
    with pytest.raises(NotFoundError):
        read_vendor_export(ledger, "other.example", export, request_id=request_id)
    stored = read_vendor_export(ledger, "shop.example", export, request_id=request_id)
    assert ledger.query("SELECT request_id FROM data_exports WHERE id = ?", (stored.id,))[0][0] == request_id
    with pytest.raises(sqlite3.IntegrityError):  # the ledger refuses a value finding without its value
        with ledger.write() as db:
            db.execute("INSERT INTO export_findings (export_id, finding, file, field, count) "
                       "VALUES (?, 'value', 'x', 'y', 1)", (stored.id,))
