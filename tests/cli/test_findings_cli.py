"""`whoknows vendor data`, `whoknows request answered --data`, `whoknows findings` and what `vendor
show` says a vendor holds: the issue's story told through the CLI, and bad exports refused whole."""

import io
import json
import mailbox
import zipfile

import pytest

from cli_runner import ok, printed, run
from whoknows.ledger import open_ledger

EMAIL = "ana.garcia@example.com"
PHONE = "+34 600 111 222"
STREET = "Calle Mayor 5"


@pytest.fixture
def alias():
    ok("alias", "setup", "--base", "me@mail.example")
    for kind, value in (("email", EMAIL), ("phone", PHONE), ("address", STREET)):
        ok("me", "add", kind, value)
    address = json.loads(printed("alias", "new", "shop.example", "--json"))["address"]
    ok("tell", "shop.example", f"email={EMAIL}")
    return address


def export_zip(path, alias):
    inner = io.BytesIO()
    with zipfile.ZipFile(inner, "w") as archive:
        archive.writestr("ads.csv", "segment;partner\nnew parents;adnet.example\n".encode("cp1252"))
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("account.json", json.dumps({
            "customer": {"email": EMAIL, "newsletter": alias},
            "orders": [{"id": n, "delivery": {"street": STREET, "phone": "600 111 222"}} for n in range(3)]}))
        archive.writestr("summary.html", f"<html><body><p>Registered email: {EMAIL}</p></body></html>")
        archive.writestr("marketing.zip", inner.getvalue())
    return path


def newsletter(path, alias):
    raw = (f"From: Shop News <news@shop.example>\nTo: {alias}\nDate: Tue, 05 Mar 2024 09:00:00 +0000\n"
           f"Message-ID: <weekly-1@shop.example>\nSubject: Deals for you\nList-Unsubscribe: <mailto:u@shop.example>\n"
           f"Content-Type: text/plain; charset=utf-8\n\nWe deliver to {STREET}. Questions? We call 600 111 222.\n")
    box = mailbox.mbox(str(path))
    box.add(raw.encode())
    box.close()
    return path


def test_the_story_told_email_only_export_and_newsletter_show_phone_and_street(alias, tmp_path):
    request = json.loads(printed("request", "access", "shop.example", "--to", "dpo@shop.example", "--date", "2026-01-15",
                                 "--out", str(tmp_path / "a.eml"), "--json"))
    request_id = json.loads(printed("requests", "--json"))[0]["id"]
    answer = json.loads(printed("request", "answered", str(request_id), "--data",
                                str(export_zip(tmp_path / "shop.zip", alias)), "--date", "2026-03-01", "--json"))
    assert answer["answered_on"] == "2026-03-01" and answer["data"]["received_on"] == "2026-03-01"
    assert {"contact", "postal-address", "order-history", "interests", "recipients"} <= set(answer["data"]["categories"])
    assert {(v["kind"], v["file"], v["field"]) for v in answer["data"]["values"]} >= {
        ("phone", "account.json", "orders[0].delivery.phone"), ("address", "account.json", "orders[0].delivery.street"),
        ("email", "summary.html", "html/body/p"), ("alias", "account.json", "customer.newsletter")}
    assert request  # the letter was written
    ok("mail", "scan", str(newsletter(tmp_path / "inbox.mbox", alias)))

    result = run("findings", "--json")
    assert result.exit_code == 1  # something to act on
    found = json.loads(result.stdout)["findings"]
    assert sorted(f["kind"] for f in found) == ["address", "phone"]
    for finding in found:
        assert finding["vendor"] == "shop.example" and finding["first_seen"] == "2024-03-05T09:00:00Z"
        assert finding["sources"] == ["export", "mail"]
        assert [e["source"] for e in finding["evidence"]] == ["mail", "export"]
    text = run("findings", "shop.example").stdout
    assert "shop.example" not in text.splitlines()[0] or "holds your phone" in text
    assert "mail it sent to " + alias in text and "message <weekly-1@shop.example>" in text
    assert "its export shop.zip (received 2026-03-01): account.json, field orders[0].delivery.phone" in text

    shown = printed("vendor", "show", "shop.example")
    assert "what it says it holds (export shop.zip, received 2026-03-01):" in shown
    assert "postal-address" in shown and "account.json: orders[0].delivery.street" in shown
    assert "what it holds that you never gave it:" in shown and "holds your phone" in shown
    record = json.loads(printed("vendor", "show", "shop.example", "--json"))
    assert record["exports"][0]["request"] == request_id
    assert sorted(f["kind"] for f in record["findings"]) == ["address", "phone"]


def test_telling_the_values_makes_the_findings_go(alias, tmp_path):
    ok("vendor", "data", "shop.example", str(export_zip(tmp_path / "shop.zip", alias)))
    assert run("findings", "shop.example").exit_code == 1
    ok("tell", "shop.example", "phone=600111222", f"address={STREET}")
    result = run("findings", "shop.example")
    assert result.exit_code == 0 and "no value held by shop.example" in result.stdout


def truncated_zip(path):
    data = io.BytesIO()
    with zipfile.ZipFile(data, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("account.json", json.dumps({"email": EMAIL, "pad": "x" * 5000}))
    path.write_bytes(data.getvalue()[:-30])
    return path


def bomb_zip(path):
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("orders.json", b" " * (50 * 1024 * 1024))
    return path


@pytest.mark.parametrize("make", [truncated_zip, bomb_zip])
def test_a_bad_export_is_one_line_and_nothing_is_recorded_not_even_the_answer(alias, tmp_path, make):
    ok("request", "access", "shop.example", "--to", "dpo@shop.example", "--out", str(tmp_path / "a.eml"))
    request_id = json.loads(printed("requests", "--json"))[0]["id"]
    bad = make(tmp_path / "export.zip")
    for args in (("request", "answered", str(request_id), "--data", str(bad)), ("vendor", "data", "shop.example", str(bad))):
        result = run(*args)
        assert result.exit_code != 0 and result.stdout == ""
        assert len(result.stderr.strip().splitlines()) == 1 and "Traceback" not in result.stderr, result.stderr
    assert json.loads(printed("requests", "--json"))[0]["answered_on"] is None
    with open_ledger() as ledger:
        assert ledger.query("SELECT count(*) FROM data_exports")[0][0] == 0
        assert ledger.query("SELECT count(*) FROM export_findings")[0][0] == 0


def test_a_traversal_name_is_skipped_and_said(alias, tmp_path):
    export = tmp_path / "export.zip"
    with zipfile.ZipFile(export, "w") as archive:
        archive.writestr("../../home/user/.bashrc", "rm -rf ~")
        archive.writestr("profile.json", json.dumps({"phone": "600111222"}))
    result = ok("vendor", "data", "shop.example", str(export))
    assert "skipped 1 members" in result.stderr and ".bashrc" in result.stderr
    assert "profile.json" in result.stdout and "phone" in result.stdout
    assert not (tmp_path.parent / "home").exists()


def test_an_unknown_request_fails_before_the_export_is_read(alias, tmp_path):
    result = run("request", "answered", "99", "--data", str(tmp_path / "missing.zip"))
    assert result.exit_code != 0 and "no request 99" in result.stderr


def test_findings_of_an_empty_ledger_and_json_shape():
    result = run("findings")
    assert result.exit_code == 0 and "no value held" in result.stdout
    assert json.loads(printed("findings", "--json")) == {"findings": [], "unmatched_told": 0}


def test_company_show_says_what_its_domains_hold_that_you_never_gave_them(alias, tmp_path):
    (tmp_path / "takeout.json").write_text(json.dumps({"recovery": {"phone": "+34600111222"}}))
    ok("vendor", "data", "google.com", str(tmp_path / "takeout.json"))
    shown = printed("company", "show", "Google")
    assert "what its domains hold that you never gave them:" in shown
    assert "google.com holds your phone" in shown and "field recovery.phone" in shown
    assert [f["vendor"] for f in json.loads(printed("company", "show", "Google", "--json"))["findings"]] == ["google.com"]
