"""whoknows.vendor_records on a real ledger file: listing, adding, showing and forgetting vendors."""

import pytest

from whoknows.disclosures import record_disclosures
from whoknows.errors import NotFoundError
from whoknows.ledger import json_text, open_ledger
from whoknows.preferences import set_preferences
from whoknows.vendor_records import add_vendor, forget_vendor, list_vendors, vendor_record


@pytest.fixture
def ledger():
    with open_ledger() as opened:
        yield opened


def _observe(ledger, domain, kind, subject, count, detail=None):
    vendor_id = ledger.vendor_id(domain, create=True)
    with ledger.write() as db:
        db.execute(
            "INSERT INTO observations (vendor_id, kind, subject, detail, count, first_seen, last_seen) "
            "VALUES (?, ?, ?, ?, ?, '2024-01-01T00:00:00Z', '2024-01-02T00:00:00Z')",
            (vendor_id, kind, subject, json_text(detail), count))


def _alias(ledger, domain, address, state="active"):
    vendor_id = ledger.vendor_id(domain, create=True)
    with ledger.write() as db:
        db.execute("INSERT INTO aliases (vendor_id, address, created_at, state) VALUES (?, ?, ?, ?)",
                   (vendor_id, address, "2024-01-01T00:00:00Z", state))


def test_list_vendors_counts_aliases_disclosures_and_third_parties_and_pages(ledger):
    record_disclosures(ledger, "b.example", [("name", "Ana"), ("phone", "+34600111222")])
    _alias(ledger, "b.example", "me+b@mail.example")
    _alias(ledger, "b.example", "me+b2@mail.example", state="retired")
    _observe(ledger, "b.example", "third-party", "tracker.example", 5)
    _observe(ledger, "b.example", "third-party", "cdn.example", 2)
    _observe(ledger, "b.example", "cookie", "_ga", 9)  # not a third party
    add_vendor(ledger, "a.example", name="A shop")
    add_vendor(ledger, "c.example")
    rows, total = list_vendors(ledger)
    assert total == 3
    assert [(r.vendor, r.name, r.aliases, r.disclosures, r.third_parties) for r in rows] == [
        ("a.example", "A shop", 0, 0, 0), ("b.example", None, 2, 2, 2), ("c.example", None, 0, 0, 0)]
    page, total = list_vendors(ledger, limit=1, offset=1)
    assert ([r.vendor for r in page], total) == (["b.example"], 3)


def test_add_vendor_updates_overrides_and_empty_clears_them(ledger):
    assert add_vendor(ledger, "shop.example", name="Shop", company="Shop SL") is True
    assert add_vendor(ledger, "shop.example", company="") is False
    row = ledger.query("SELECT name, company FROM vendors")[0]
    assert (row["name"], row["company"]) == ("Shop", None)


def test_vendor_record_has_everything_and_user_overrides_beat_the_directory(ledger):
    add_vendor(ledger, "zalando.de", privacy_contact="me-only@zalando.de")
    record_disclosures(ledger, "zalando.de", [("email", "ana@example.com")])
    _alias(ledger, "zalando.de", "me+zalando@mail.example")
    set_preferences(ledger, "zalando.de", {"marketing": False})
    for n in range(12):
        _observe(ledger, "zalando.de", "third-party", f"t{n:02}.example", n + 1, {"blocked": n})
    _observe(ledger, "zalando.de", "parameter", "utm_source", 3)
    record = vendor_record(ledger, "zalando.de", top=10)
    company = record["company"]
    assert company["name"] == "Zalando SE"  # from the shipped company directory
    assert company["privacy_contact"] == "me-only@zalando.de"
    assert company["sources"] == {"name": "directory", "privacy_contact": "you", "address": "directory"}
    assert [a["address"] for a in record["aliases"]] == ["me+zalando@mail.example"]
    assert [(d["kind"], d["value"], d["source"]) for d in record["disclosures"]] == [("email", "ana@example.com", "told")]
    assert record["preferences"]["marketing"] is False
    third = record["observations"]["third_parties"]
    assert (third["distinct"], third["seen"], third["blocked"]) == (12, sum(range(1, 13)), sum(range(12)))
    assert [o["subject"] for o in third["top"]][:2] == ["t11.example", "t10.example"]
    assert len(third["top"]) == 10
    assert record["observations"]["parameters"]["top"][0]["subject"] == "utm_source"
    assert record["observations"]["cookies"] == {"distinct": 0, "seen": 0, "blocked": 0, "top": []}


def test_vendor_record_of_an_unknown_vendor(ledger):
    with pytest.raises(NotFoundError, match="^no vendor nope.example in the ledger$"):
        vendor_record(ledger, "nope.example")


def test_forget_removes_the_vendor_and_everything_linked_only_for_that_vendor(ledger, tmp_path):
    from whoknows.export_records import read_vendor_export

    for domain in ("shop.example", "keep.example"):
        record_disclosures(ledger, domain, [("name", "Ana")])
        _alias(ledger, domain, f"me+{domain}@mail.example")
        _observe(ledger, domain, "cookie", "sid", 1)
        set_preferences(ledger, domain, {"notes": "x"})
        (tmp_path / f"{domain}.json").write_text('{"email": "me+%s@mail.example", "city": "Madrid"}' % domain)
        read_vendor_export(ledger, domain, tmp_path / f"{domain}.json")
    counts = forget_vendor(ledger, "shop.example")
    assert counts == {"aliases": 1, "disclosures": 1, "preferences": 1, "observations": 1, "data_exports": 1,
                      "company_sightings": 0}
    assert {r[0] for r in ledger.query("SELECT value_ref FROM export_findings WHERE finding = 'value'")} == {
        "me+keep.example@mail.example"}  # the forgotten export's findings went with it
    for table in ("aliases", "disclosures", "preferences", "observations", "data_exports"):
        assert ledger.query(f"SELECT count(*) FROM {table}")[0][0] == 1, table
    assert [r[0] for r in ledger.query("SELECT domain FROM vendors")] == ["keep.example"]
    with pytest.raises(NotFoundError):
        forget_vendor(ledger, "shop.example")
