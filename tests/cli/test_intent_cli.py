"""`whoknows intent new|send`, `whoknows intents` and `whoknows mail account`: .eml files parsed back,
sending through a real SMTP server on loopback (STARTTLS or TLS, AUTH, a test CA), answers matched
from a generated mbox."""

from __future__ import annotations

import json
import mailbox
import stat
from datetime import date, timedelta
from email import message_from_bytes, policy
from email.message import EmailMessage
from email.utils import format_datetime

import jsonschema
import pytest
from cli_runner import ok, run
from smtp_server import LoopbackSmtp

from whoknows.intents import schema

UNTIL = (date.today() + timedelta(days=30)).isoformat()


@pytest.fixture
def vendors():
    ok("alias", "setup", "--base", "me@mail.example")
    aliases = {}
    for vendor in ("shop.example", "monitors.example"):
        aliases[vendor] = json.loads(ok("alias", "new", vendor, "--json").stdout)["address"]
    # intents go to the sales contact; the privacy contact is there to prove they never go to it
    ok("vendor", "add", "shop.example", "--privacy-contact", "dpo@shop.example", "--sales-contact", "hello@shop.example")
    return aliases


def new_intent(*extra: str, lang: str = "en"):
    return run("intent", "new", "a 27-inch 4K monitor", "--budget", "300 EUR", "--until", UNTIL,
               "--category", "monitors", "--to", "shop.example", "--to", "monitors.example=sales@monitors.example",
               "--lang", lang, *extra)


@pytest.mark.parametrize("lang, greeting", [("en", "I intend to buy"), ("es", "Tengo intención de comprar")])
def test_out_writes_one_private_eml_per_vendor_from_its_own_alias_with_a_valid_json_part(
        tmp_path, vendors, lang, greeting):
    out = tmp_path / "outbox"
    result = new_intent("--out", str(out), "--json", lang=lang)
    assert result.exit_code == 0, result.stderr
    report = json.loads(result.stdout)
    assert {m["vendor"]: m["state"] for m in report["messages"]} == {"shop.example": "written",
                                                                     "monitors.example": "written"}
    files = sorted(out.glob("*.eml"))
    assert len(files) == 2
    for path in files:
        assert stat.S_IMODE(path.stat().st_mode) == 0o600
        message = message_from_bytes(path.read_bytes(), policy=policy.default)
        vendor = "shop.example" if "shop.example" in path.name else "monitors.example"
        assert message["From"].addresses[0].addr_spec == vendors[vendor]
        assert message["To"].addresses[0].addr_spec == {"shop.example": "hello@shop.example",
                                                        "monitors.example": "sales@monitors.example"}[vendor]
        assert greeting in message.get_body(("plain",)).get_content()
        (part,) = message.iter_attachments()
        document = json.loads(part.get_content())
        jsonschema.validate(document, schema())
        assert (document["vendor"], document["reply_to"], document["language"]) == (vendor, vendors[vendor], lang)
    listed = json.loads(ok("intents", "--json").stdout)
    assert [v["message_id"] for v in listed[0]["vendors"]] == [
        message_from_bytes(p.read_bytes(), policy=policy.default)["Message-ID"]
        for p in sorted(files, key=lambda p: p.name.split("-", 2)[2])]


def test_a_vendor_without_an_alias_is_refused_naming_the_command_and_nothing_is_recorded(vendors):
    result = run("intent", "new", "a bike", "--until", UNTIL, "--to", "shop.example",
                 "--to", "bikes.example=sales@bikes.example")
    assert result.exit_code != 0
    assert "'whoknows alias new bikes.example'" in result.stderr
    assert json.loads(ok("intents", "--json").stdout) == []


def test_bad_input_is_one_line_and_records_nothing(vendors):
    for args, expected in [(("--budget", "lots"), "not a budget"), (("--until", "2001-01-01"), "in the past"),
                           (("--to", "nowhere.example"), "no sales contact is recorded for nowhere.example")]:
        base = {"--until": UNTIL, "--to": "shop.example"}
        base[args[0]] = args[1]
        flat = [x for pair in base.items() for x in pair] + (list(args) if args[0] == "--budget" else [])
        result = run("intent", "new", "a bike", *flat)
        assert result.exit_code != 0 and expected in result.stderr, result.stderr
        assert len(result.stderr.strip().splitlines()) == 1
    assert json.loads(ok("intents", "--json").stdout) == []
    assert run("intent", "new", "a bike", "--until", UNTIL, "--to", "shop.example", "--out", "x", "--send").exit_code == 2


def _recipients(report: dict) -> dict[str, str]:
    return {m["vendor"]: m["to"] for m in report["messages"]}


def test_without_an_address_an_intent_goes_to_the_sales_contact_and_never_to_the_privacy_contact(vendors, tmp_path):
    ok("vendor", "add", "monitors.example", "--privacy-contact", "dpo@monitors.example")
    refused = run("intent", "new", "a monitor", "--until", UNTIL, "--to", "shop.example", "--to", "monitors.example")
    assert refused.exit_code == 2
    assert refused.stderr == (
        "whoknows: error: no sales contact is recorded for monitors.example: give one with "
        "--to monitors.example=ADDRESS or record it with "
        "'whoknows vendor add monitors.example --sales-contact ADDRESS'\n")
    assert json.loads(ok("intents", "--json").stdout) == []  # not even shop.example's message

    ok("vendor", "add", "monitors.example", "--sales-contact", " mailto:ventas@monitors.example ")
    first = json.loads(ok("intent", "new", "a monitor", "--until", UNTIL, "--to", "shop.example",
                          "--to", "monitors.example", "--out", str(tmp_path / "one"), "--json").stdout)
    assert _recipients(first) == {"shop.example": "hello@shop.example", "monitors.example": "ventas@monitors.example"}
    [eml] = (tmp_path / "one").glob("*monitors.example.eml")
    assert message_from_bytes(eml.read_bytes(), policy=policy.default)["To"].addresses[0].addr_spec == (
        "ventas@monitors.example")

    # changed later: the next intent goes to the new address, the one already made keeps its recipient
    ok("vendor", "add", "monitors.example", "--sales-contact", "shop@monitors.example")
    second = json.loads(ok("intent", "new", "a lamp", "--until", UNTIL, "--to", "monitors.example",
                           "--json").stdout)
    assert _recipients(second) == {"monitors.example": "shop@monitors.example"}
    listed = {i["id"]: i for i in json.loads(ok("intents", "--json").stdout)}
    assert [v["to"] for v in listed[first["id"]]["vendors"] if v["vendor"] == "monitors.example"] == [
        "ventas@monitors.example"]
    # cleared: refused again, never the privacy contact instead
    ok("vendor", "add", "monitors.example", "--sales-contact", "")
    again = run("intent", "new", "a desk", "--until", UNTIL, "--to", "monitors.example")
    assert again.exit_code == 2 and "no sales contact is recorded for monitors.example" in again.stderr
    assert "dpo@" not in again.stderr


def test_a_vendor_the_company_directory_knows_has_a_privacy_contact_but_no_sales_contact(vendors):
    """The shipped directory lists privacy contacts only: an intent to such a vendor is never sent there."""
    ok("alias", "new", "zalando.de")
    shown = json.loads(ok("vendor", "show", "zalando.de", "--json").stdout)["company"]
    assert shown["privacy_contact"] == "datenschutz@zalando.de" and shown["sales_contact"] is None
    refused = run("intent", "new", "shoes", "--until", UNTIL, "--to", "zalando.de")
    assert refused.exit_code == 2
    assert "--to zalando.de=ADDRESS" in refused.stderr and "--sales-contact ADDRESS" in refused.stderr
    assert "datenschutz" not in refused.stderr
    assert json.loads(ok("intents", "--json").stdout) == []
    told = json.loads(ok("intent", "new", "shoes", "--until", UNTIL, "--to", "zalando.de=service@zalando.de",
                         "--json").stdout)
    assert _recipients(told) == {"zalando.de": "service@zalando.de"}


@pytest.fixture
def smtp(tmp_path, monkeypatch, request):
    security = getattr(request, "param", "starttls")
    with LoopbackSmtp(tmp_path, security=security) as server:
        monkeypatch.setenv("SSL_CERT_FILE", str(server.ca))  # the test CA: the certificate is checked
        yield server


def set_account(server, password=None):
    return ok("mail", "account", "--host", "127.0.0.1", "--port", str(server.port), "--user", server.user,
              "--security", server.security, input=f"{password or server.password}\n")


@pytest.mark.parametrize("smtp", ["starttls", "tls"], indirect=True)
def test_send_goes_through_the_user_s_smtp_account_one_message_per_vendor(vendors, smtp, whoknows_home):
    set_account(smtp)
    result = new_intent("--send", "--json")
    assert result.exit_code == 0, result.stderr
    assert {m["state"] for m in json.loads(result.stdout)["messages"]} == {"sent"}
    assert sorted((sender, rcpt) for sender, rcpt, _ in smtp.messages) == sorted([
        (vendors["monitors.example"], ["sales@monitors.example"]), (vendors["shop.example"], ["hello@shop.example"])])
    for _, _, raw in smtp.messages:
        (part,) = message_from_bytes(raw, policy=policy.default).iter_attachments()
        jsonschema.validate(json.loads(part.get_content()), schema())
    assert smtp.logins == [(smtp.user, True)]
    # the password is in the secret store, never in the ledger
    assert smtp.password.encode() not in (whoknows_home / "ledger.db").read_bytes()
    assert smtp.password not in ok("export").stdout


def test_a_refused_login_is_a_clear_error_the_intent_stays_unsent_and_send_retries(vendors, smtp, tmp_path):
    set_account(smtp, password="not the password")
    result = new_intent("--send")
    assert result.exit_code == 1
    assert "refused the login of me@mail.example (535" in result.stderr
    assert "'whoknows intent send 1' tries again" in result.stderr
    assert smtp.messages == []
    assert {v["state"] for v in json.loads(ok("intents", "--json").stdout)[0]["vendors"]} == {"unsent"}
    # the right password from a file (never argv) for this try; then stored, and a retry sends it all
    password_file = tmp_path / "pw"
    password_file.write_text(smtp.password + "\n")
    sent = json.loads(ok("intent", "send", "1", "--password-file", str(password_file), "--json").stdout)
    assert {m["state"] for m in sent["messages"]} == {"sent"} and len(smtp.messages) == 2


def test_a_dropped_connection_keeps_what_was_not_sent_and_a_retry_sends_the_same_message(vendors, smtp):
    set_account(smtp)
    smtp.drop_on_data = 1  # the second message's data: the connection goes
    result = new_intent("--send", "--json")
    assert result.exit_code == 1
    assert "dropped the connection" in result.stderr
    states = {m["vendor"]: m["state"] for m in json.loads(result.stdout)["messages"]}
    assert sorted(states.values()) == ["sent", "unsent"]
    unsent = next(vendor for vendor, state in states.items() if state == "unsent")
    smtp.drop_on_data = None
    ok("intent", "send", "1")
    assert len(smtp.messages) == 2  # only the unsent one went again
    assert json.loads(ok("intents", "--json").stdout)[0]["vendors"][0]["state"] == "sent"
    listed = {v["vendor"]: v["message_id"] for v in json.loads(ok("intents", "--json").stdout)[0]["vendors"]}
    retried = message_from_bytes(smtp.messages[1][2], policy=policy.default)
    assert retried["Message-ID"] == listed[unsent]
    assert "every message of intent 1 was sent already" in ok("intent", "send", "1").stderr


def test_no_account_no_password_and_an_untrusted_certificate_are_clear_errors(vendors, smtp, monkeypatch):
    result = new_intent("--send")
    assert result.exit_code == 1 and "no SMTP account" in result.stderr
    assert json.loads(ok("intents", "--json").stdout) == []  # refused before anything was recorded
    set_account(smtp)
    monkeypatch.delenv("SSL_CERT_FILE")
    result = new_intent("--send")
    assert result.exit_code == 1 and "is not trusted" in result.stderr
    assert smtp.logins == [] and smtp.messages == []


def test_mail_account_shows_the_account_and_refuses_plaintext(smtp):
    assert "no SMTP account" in ok("mail", "account").stdout
    set_account(smtp)
    shown = json.loads(ok("mail", "account", "--json").stdout)
    assert shown == {"host": "127.0.0.1", "port": smtp.port, "user": smtp.user, "security": "starttls"}
    assert run("mail", "account", "--host", "h.example", "--user", "u", "--security", "none").exit_code == 2


def mbox_with_answers(path, aliases: dict, message_ids: dict, until: date):
    """Answers to an intent: a reply, a thread reference, mail to an alias alone, a newsletter, late mail."""
    def mail(sender, to, when, message_id, **headers):
        message = EmailMessage()
        message["From"], message["To"], message["Message-ID"] = sender, to, message_id
        message["Date"] = format_datetime(when)
        message["Subject"] = "Re: Intent to buy"
        for name, value in headers.items():
            message[name.replace("_", "-")] = value
        message.set_content("Our best offer is attached.")
        return message

    from datetime import datetime, time, timezone

    soon = datetime.combine(date.today() + timedelta(days=1), time(9), timezone.utc)
    late = datetime.combine(until + timedelta(days=3), time(9), timezone.utc)
    box = mailbox.mbox(str(path))
    for message in (
        mail("sales@shop.example", aliases["shop.example"], soon, "<a1@shop.example>",
             In_Reply_To=message_ids["shop.example"]),
        mail("offers@monitors.example", "someone@else.example", soon, "<a2@monitors.example>",
             References=f"<x@y.example> {message_ids['monitors.example']}"),
        mail("news@monitors.example", aliases["monitors.example"], soon + timedelta(days=1),
             "<a3@monitors.example>", List_Id="<deals.monitors.example>",
             List_Unsubscribe="<mailto:unsubscribe@monitors.example>"),
        mail("sales@shop.example", aliases["shop.example"], late, "<a4@shop.example>"),
    ):
        box.add(message)
    box.close()
    return path


def test_answers_are_matched_from_scanned_mail_and_late_or_newsletter_vendors_are_flagged(vendors, tmp_path):
    new_intent("--out", str(tmp_path / "out"))
    listed = json.loads(ok("intents", "--json").stdout)[0]
    ids = {v["vendor"]: v["message_id"] for v in listed["vendors"]}
    mbox = mbox_with_answers(tmp_path / "inbox.mbox", vendors, ids, date.fromisoformat(UNTIL))
    scan = json.loads(ok("mail", "scan", str(mbox), "--json").stdout)
    assert scan["new_intent_answers"] == 4
    assert json.loads(ok("mail", "scan", str(mbox), "--json").stdout)["new_intent_answers"] == 0  # idempotent
    listed = {v["vendor"]: v for v in json.loads(ok("intents", "--json").stdout)[0]["vendors"]}
    shop, monitors = listed["shop.example"], listed["monitors.example"]
    assert [(a["message"], a["matched_by"], a["after_expiry"]) for a in shop["answers"]] == [
        ("<a1@shop.example>", "in-reply-to", False), ("<a4@shop.example>", "alias", True)]
    assert [(a["message"], a["matched_by"], a["listed"]) for a in monitors["answers"]] == [
        ("<a2@monitors.example>", "references", False), ("<a3@monitors.example>", "alias", True)]
    assert shop["flags"] == ["mailed-after-expiry"] and monitors["flags"] == ["mailing-list"]
    assert all(set(a) == {"message", "date", "sender", "matched_by", "listed", "after_expiry"}
               for a in shop["answers"])  # ids, dates and senders: no bodies, no subjects
    shown = ok("intents").stdout
    assert "shop.example kept mailing about it after" in shown
    assert f"monitors.example put {vendors['monitors.example']} on a mailing list" in shown
    # the intents travel in a backup, answers and all
    backup = tmp_path / "backup.json"
    ok("export", "--output", str(backup))
    exported = json.loads(backup.read_text())
    assert (len(exported["intents"]), len(exported["intent_messages"]), len(exported["intent_answers"])) == (1, 2, 4)


def test_intents_with_none_says_how_to_make_one():
    assert "whoknows intent new" in ok("intents").stdout
    assert json.loads(ok("intents", "--json").stdout) == []
    assert run("intent", "send", "7").exit_code != 0


def test_send_without_a_stored_password_refuses_before_recording_and_written_messages_can_be_sent(
        vendors, smtp, tmp_path, whoknows_home):
    ok("mail", "account", "--host", "127.0.0.1", "--port", str(smtp.port), "--user", smtp.user,
       "--keep-password")  # an account with no password stored
    result = new_intent("--send")
    assert result.exit_code == 1 and "no SMTP password is stored" in result.stderr
    assert json.loads(ok("intents", "--json").stdout) == []
    # written as .eml first (the user may send them by hand), then sent through the account after all
    new_intent("--out", str(tmp_path / "out"))
    first = {p.name: p.read_bytes() for p in (tmp_path / "out").glob("*.eml")}
    ok("intent", "send", "1", "--out", str(tmp_path / "again"))
    assert {p.name: p.read_bytes() for p in (tmp_path / "again").glob("*.eml")} == first  # the same messages
    password_file = tmp_path / "pw"
    password_file.write_text(smtp.password)
    ok("intent", "send", "1", "--password-file", str(password_file))
    assert sorted(raw for _, _, raw in smtp.messages) == sorted(
        raw.replace(b"\r\n", b"\n").replace(b"\n", b"\r\n") for raw in first.values())
    assert {v["state"] for v in json.loads(ok("intents", "--json").stdout)[0]["vendors"]} == {"sent"}
