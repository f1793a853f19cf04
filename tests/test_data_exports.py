"""Reading a vendor's data export (`whoknows.data_exports`): the user's values and the categories of
data found with their file and field; untrusted input (bombs, traversal, truncation, encodings,
binary members) refused or skipped with a reason, the rest read."""

import csv
import hashlib
import io
import json
import zipfile

import pytest

from whoknows.data_exports import ExportError, Limits, category_of_field, read_export
from whoknows.leakscan import LeakScanner

EMAIL = "ana.garcia@example.com"
PHONE = "+34 600 111 222"
STREET = "Calle Mayor 5"
VALUES = [("email", EMAIL, "email#1"), ("phone", PHONE, "phone#1"), ("address", STREET, "address#1")]


def orders_json(count: int = 5) -> bytes:
    return json.dumps({
        "account": {"email": EMAIL, "createdAt": "2021-03-04T10:00:00Z", "lastLoginIp": "203.0.113.77",
                    "sessions": [{"at": "2025-01-01T10:00:00Z", "from": "2001:db8:85a3::8a2e:370:7334"},
                                 {"at": "2025-01-02T12:30:45Z", "where": "40.4168, -3.7038"}]},
        "orders": [
            {"id": f"A{i}", "date": "2025-01-0%d" % (i % 9 + 1), "total": 12.5,
             "items": [{"sku": "SKU-1", "title": "Kettle"}],
             "shipping": {"name": "Ana García", "street": STREET, "city": "Madrid", "phone": "600111222"}}
            for i in range(count)
        ],
        "marketing": {"segments": ["new parents", "frequent travellers"],
                      "sharedWith": [{"partner": "adnetwork.example"}]},
    }, ensure_ascii=False).encode()


def zip_bytes(members: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    return buffer.getvalue()


def values_at(reading, value_id):
    return {(v.file, v.field) for v in reading.values if v.value_id == value_id}


def categories(reading):
    return {(c.category, c.file) for c in reading.categories}


def test_nested_json_orders_are_found_with_their_json_path_and_counted_once_per_field(tmp_path):
    export = tmp_path / "orders.json"
    export.write_bytes(orders_json(5))
    reading = read_export(export, VALUES, default_country_code="34")
    phone = [v for v in reading.values if v.value_id == "phone#1"]
    assert [(v.file, v.field, v.count) for v in phone] == [("orders.json", "orders[0].shipping.phone", 5)]
    assert values_at(reading, "address#1") == {("orders.json", "orders[0].shipping.street")}
    assert values_at(reading, "email#1") == {("orders.json", "account.email")}
    held = reading.categories_held()
    for category in ("contact", "postal-address", "order-history", "ip-address", "interests", "recipients"):
        assert category in held, category
    ip = [c for c in reading.categories if c.evidence == "value: ipv4"]
    assert ip and ip[0].field == "account.lastLoginIp" and ip[0].sample == "203.0.113.…"
    shapes = {(c.evidence, c.field, c.sample) for c in reading.categories if c.evidence.startswith("value")}
    assert ("value: ipv6", "account.sessions[0].from", "2001:…") in shapes
    assert ("value: lat-long", "account.sessions[1].where", "40.…, …") in shapes
    assert not [s for s in shapes if s[1] == "account.sessions[1].at"]  # a time is not an IPv6 address
    assert reading.skipped == [] and reading.files_read == 1


def test_a_sha256_of_the_email_is_found_as_such(tmp_path):
    digest = hashlib.sha256(EMAIL.encode()).hexdigest()
    (tmp_path / "ads.json").write_text(json.dumps({"audiences": [{"matchKeys": {"em": digest}}]}))
    reading = read_export(tmp_path / "ads.json", VALUES)
    found = [(v.field, v.kind, v.encoding) for v in reading.values]
    assert found == [("audiences[0].matchKeys.em", "email", "sha256")]
    assert "interests" in reading.categories_held()


@pytest.mark.parametrize("encoding, separator", [("utf-8-sig", ";"), ("utf-16", "\t"), ("cp1252", "|"),
                                                 ("utf-8", ",")])
def test_csv_in_odd_encodings_and_separators_names_the_column(tmp_path, encoding, separator):
    rows = [["Pedido", "Fecha", "Dirección de envío", "Teléfono", "Importe €"],
            ["1001", "2025-02-01", STREET + ", Madrid", "600 111 222", "19,90"],
            ["1002", "2025-03-01", "Otra calle 9", "", "5,00"]]
    buffer = io.StringIO()
    csv.writer(buffer, delimiter=separator).writerows(rows)
    text = buffer.getvalue()
    path = tmp_path / "pedidos.csv"
    path.write_bytes(text.encode(encoding))
    reading = read_export(path, VALUES, default_country_code="34")
    assert values_at(reading, "address#1") == {("pedidos.csv", "Dirección de envío")}
    assert values_at(reading, "phone#1") == {("pedidos.csv", "Teléfono")}
    held = categories(reading)
    assert {("postal-address", "pedidos.csv"), ("contact", "pedidos.csv"), ("order-history", "pedidos.csv")} <= held


def test_html_summary_page_text_and_attributes_are_read_nothing_rendered(tmp_path):
    page = f"""<!DOCTYPE html><html><head><script>document.write('x')</script>
    <style>td {{ color: red }}</style></head><body><h1>Your data</h1>
    <table><tr><th>Phone</th><td>{PHONE}</td></tr>
    <tr><th>Dirección</th><td>{STREET}</td></tr></table>
    <form><input name="iban" value="ES91 2100 0418 4502 0005 1332"></form>
    <p>Card on file: **** **** **** 4242</p><p>Customer no. 4539148803436467</p>
    <p>Old card 4539 1488 0343 6467</p>
    <img src="http://tracker.example/p.gif" onerror="alert(1)"></body></html>"""
    (tmp_path / "summary.html").write_text(page, encoding="utf-8")
    reading = read_export(tmp_path / "summary.html", VALUES, default_country_code="34")
    assert values_at(reading, "phone#1") == {("summary.html", "html/body/table/tr/td")}
    assert values_at(reading, "address#1") == {("summary.html", "html/body/table/tr/td")}
    payment = [c for c in reading.categories if c.category == "payment" and c.evidence == "value: iban"]
    assert payment and payment[0].sample == "ES…1332" and payment[0].field == "html/body/form/input@value"
    masked = [c.sample for c in reading.categories if c.evidence == "value: masked-card"]
    assert masked == ["…4242"]
    # a bare run of digits is an id; the grouped number with a valid checksum is a card, kept masked
    assert [c.sample for c in reading.categories if c.evidence == "value: card-number"] == ["45…6467"]
    assert "0343" not in repr(reading)
    assert "postal-address" in reading.categories_held()


def test_xml_is_read_by_element_path_and_entity_bombs_are_refused(tmp_path):
    xml = (f'<?xml version="1.0" encoding="utf-16"?><customer><contact><phone>{PHONE}</phone></contact>'
           f'<device id="38400000-8cf0-11bd-b23e-10b96e40000d"/></customer>')
    (tmp_path / "customer.xml").write_bytes(xml.encode("utf-16"))
    bomb = ('<?xml version="1.0"?><!DOCTYPE x [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;&a;&a;">]>'
            '<x>&b;</x>')
    (tmp_path / "lol.xml").write_text(bomb)
    reading = read_export(tmp_path, VALUES, default_country_code="34")
    assert values_at(reading, "phone#1") == {("customer.xml", "customer/contact/phone")}
    assert ("device-id", "customer.xml") in categories(reading)
    assert [s.file for s in reading.skipped] == ["lol.xml"]
    assert "EntitiesForbidden" in reading.skipped[0].reason


def test_a_zip_inside_a_zip_names_the_member_path(tmp_path):
    inner = zip_bytes({"orders/orders.json": orders_json(2), "photo.jpg": b"\xff\xd8\xff\xe0" + bytes(500)})
    outer = zip_bytes({"README.txt": f"Export for {EMAIL}\nTelephone: {PHONE}\n".encode(), "inner.zip": inner})
    (tmp_path / "export.zip").write_bytes(outer)
    reading = read_export(tmp_path / "export.zip", VALUES, default_country_code="34")
    assert ("inner.zip!orders/orders.json", "orders[0].shipping.phone") in values_at(reading, "phone#1")
    assert ("README.txt", "line 2") in values_at(reading, "phone#1")
    assert ("README.txt", "line 1") in values_at(reading, "email#1")
    assert [(s.file, s.reason) for s in reading.skipped] == [("inner.zip!photo.jpg", "binary (not text)")]


def test_a_zip_bomb_is_a_clear_error_before_anything_is_inflated(tmp_path):
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("data.json", b"0" * (50 * 1024 * 1024))
    assert len(buffer.getvalue()) < 200_000
    (tmp_path / "bomb.zip").write_bytes(buffer.getvalue())
    with pytest.raises(ExportError, match=r"data.json expands \d+ times \(a ZIP bomb\?\)"):
        read_export(tmp_path / "bomb.zip", VALUES)
    # the same bomb one level down is refused too
    (tmp_path / "outer.zip").write_bytes(zip_bytes({"inner.zip": buffer.getvalue()}))
    with pytest.raises(ExportError, match=r"inner.zip!data.json expands"):
        read_export(tmp_path / "outer.zip", VALUES)


def test_a_member_past_the_per_file_limit_is_skipped_and_the_rest_read(tmp_path):
    big = json.dumps({"email": EMAIL, "pad": "x" * 5000}).encode()
    small = json.dumps({"email": EMAIL}).encode()
    (tmp_path / "export.zip").write_bytes(zip_bytes({"big.json": big, "small.json": small}))
    reading = read_export(tmp_path / "export.zip", VALUES, limits=Limits(max_member=1000))
    assert [(s.file, s.reason) for s in reading.skipped] == [
        ("big.json", "larger than the limit of 1000 bytes per file")]
    assert values_at(reading, "email#1") == {("small.json", "email")}
    (tmp_path / "dir").mkdir()
    (tmp_path / "dir" / "big.json").write_bytes(big)
    reading = read_export(tmp_path / "dir", VALUES, limits=Limits(max_member=1000))
    assert [(s.file, s.reason) for s in reading.skipped] == [
        ("big.json", "cut off: longer than its limit of 1000 bytes")]


def test_an_export_past_the_total_limit_is_a_clear_error(tmp_path):
    (tmp_path / "a.json").write_text(json.dumps({"email": EMAIL, "pad": "x" * 5000}))
    (tmp_path / "b.json").write_text(json.dumps({"pad": "y" * 5000}))
    with pytest.raises(ExportError, match="larger than the limit of 8000 bytes"):
        read_export(tmp_path, VALUES, limits=Limits(max_total=8000))


def test_traversal_names_are_refused_and_the_rest_is_read(tmp_path):
    (tmp_path / "evil.zip").write_bytes(zip_bytes({
        "../../etc/cron.d/x": b"* * * * * root sh", "/etc/passwd": b"root:x:0:0", "C:\\win.ini": b"x",
        "ok/profile.json": json.dumps({"profile": {"mobile": PHONE}}).encode()}))
    reading = read_export(tmp_path / "evil.zip", VALUES)
    reasons = {s.file: s.reason for s in reading.skipped}
    assert reasons == {"../../etc/cron.d/x": "unsafe name (path traversal)",
                       "/etc/passwd": "unsafe name (absolute path)", "C:\\win.ini": "unsafe name (absolute path)"}
    assert values_at(reading, "phone#1") == {("ok/profile.json", "profile.mobile")}
    assert not (tmp_path.parent / "etc").exists()


def test_a_truncated_zip_is_a_clear_error(tmp_path):
    data = zip_bytes({"orders.json": orders_json(50), "profile.txt": b"Email: " + EMAIL.encode()})
    (tmp_path / "cut.zip").write_bytes(data[: len(data) // 2])
    with pytest.raises(ExportError, match="truncated or damaged ZIP"):
        read_export(tmp_path / "cut.zip", VALUES)


def test_a_malformed_member_is_skipped_with_its_reason_and_what_it_held_before_still_counts(tmp_path):
    (tmp_path / "export.zip").write_bytes(zip_bytes({
        "broken.json": b'{"contact": {"phone": "+34600111222"}, "orders": [1, 2,',
        "ok.csv": b"email,city\n" + EMAIL.encode() + b",Madrid\n",
        "blob.bin": bytes(range(256)) * 4}))
    reading = read_export(tmp_path / "export.zip", VALUES)
    reasons = {s.file: s.reason for s in reading.skipped}
    assert set(reasons) == {"broken.json", "blob.bin"}
    assert reasons["broken.json"].startswith("malformed: ") and reasons["blob.bin"] == "binary (not text)"
    assert values_at(reading, "phone#1") == {("broken.json", "contact.phone")}
    assert values_at(reading, "email#1") == {("ok.csv", "email")}
    assert reading.files_read == 1  # ok.csv; broken.json is counted as skipped


def test_latin1_text_and_undecodable_bytes_do_not_stop_the_reading(tmp_path):
    (tmp_path / "notes.txt").write_bytes("Dirección: Calle Mayor 5\nNiño \xff\xfe".encode("cp1252", "replace")
                                         + b"\x81\x8d")
    reading = read_export(tmp_path / "notes.txt", VALUES)
    assert values_at(reading, "address#1") == {("notes.txt", "line 1")}
    assert ("postal-address", "notes.txt") in categories(reading)


def test_a_directory_export_skips_symlinks(tmp_path):
    (tmp_path / "export").mkdir()
    (tmp_path / "secret.txt").write_text(EMAIL)
    (tmp_path / "export" / "link.txt").symlink_to(tmp_path / "secret.txt")
    (tmp_path / "export" / "profile.json").write_text(json.dumps({"email": EMAIL}))
    reading = read_export(tmp_path / "export", VALUES)
    assert values_at(reading, "email#1") == {("profile.json", "email")}
    assert [(s.file, s.reason) for s in reading.skipped] == [("link.txt", "symbolic link, not followed")]


def test_a_built_scanner_can_be_reused_and_findings_never_hold_the_value(tmp_path):
    (tmp_path / "p.json").write_text(json.dumps({"user": {"email": EMAIL.upper()}}))
    reading = read_export(tmp_path / "p.json", LeakScanner(VALUES))
    assert [(v.field, v.encoding) for v in reading.values] == [("user.email", "casefold")]
    assert EMAIL not in repr(reading).lower()


@pytest.mark.parametrize("name, category", [
    ("shippingPhone", "contact"), ("ip_address", "ip-address"), ("email_address", "contact"),
    ("fecha_nacimiento", "birthday"), ("Geburtsdatum", "birthday"), ("advertisingId", "device-id"),
    ("Straße", "postal-address"), ("interest_segments", "interests"), ("shared_with", "recipients"),
    ("order_id", "order-history"), ("Código postal", "postal-address"), ("homepage", None), ("status", None),
])
def test_field_names_in_english_spanish_and_german_have_a_category(name, category):
    assert category_of_field(name) == category


def test_a_missing_path_is_an_input_error(tmp_path):
    from whoknows.errors import InputError

    with pytest.raises(InputError, match="cannot read"):
        read_export(tmp_path / "nope.zip", VALUES)
