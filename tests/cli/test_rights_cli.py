"""`whoknows request ...` and `whoknows requests`: every identifier the ledger holds goes in the letter."""

import email
import mailbox
import json
from datetime import date, timedelta
from email import policy

import pytest

from cli_runner import ok, run
from whoknows import aliases
from whoknows.leak_records import FoundValue, PendingLeaks, classify, write_batch
from whoknows.ledger import open_ledger
from whoknows.letters import long_date
from whoknows.me import add_value, list_values
from whoknows.observations import CookieSeen, Observations
from whoknows.observations import write_batch as write_observations


@pytest.fixture
def shop():
    """shop.example with an alias (and a retired one), told facts, a value the proxy saw, and cookies."""
    with open_ledger() as ledger:
        aliases.save_setup(ledger, aliases.parse_setup(base="me@mail.example"))
        old, _ = aliases.get_or_create(ledger, "shop.example")
        _, current = aliases.rotate(ledger, "shop.example")
        phone, _ = add_value(ledger, "phone", "+34 600 111 222")
        pending = PendingLeaks()
        pending.record(classify("shop.example", "shop.example", "shop.example", "POST", "https://shop.example/checkout",
                                [FoundValue("phone", phone.reference(), "plain", "typed", "body")], False))
        write_batch(ledger, pending.take())
        observations = Observations()
        for name, site, page in (("sid", "shop.example", "shop.example"), ("uid", "shop.example", "other.example"),
                                 ("_fbp", "facebook.net", "shop.example")):
            observations.cookie(page, CookieSeen(name, site, site != page, 3600, 3600, False, False, "allow"))
        write_observations(ledger, observations.take())
    ok("tell", "shop.example", "name=Alice Smith", "address=Calle Mayor 1, Madrid", "other=customer 4711")
    ok("vendor", "add", "shop.example", "--privacy-contact", "privacy@shop.example", "--company", "Shop SL")
    return {"old": old, "current": current}


def test_every_identifier_the_ledger_links_to_the_vendor_is_in_the_letter(shop):
    letter = ok("request", "access", "shop.example", "--date", "2026-03-05").stdout
    for line in (f"- Email address: {shop['old']}", f"- Email address: {shop['current']}",
                 "- Name: Alice Smith", "- Telephone number: +34 600 111 222",
                 "- Postal address: Calle Mayor 1, Madrid", "- Other identifier: customer 4711",
                 "- Cookie: sid (shop.example)", "- Cookie: uid (shop.example)"):
        assert line in letter
    assert "_fbp" not in letter  # facebook.net's cookie, not the shop's
    assert "[me:" not in letter and "•••" not in letter  # references decrypted back
    assert letter.startswith("Shop SL\nFor the attention of the Data Protection Officer\nprivacy@shop.example\n")
    assert "by 6 April 2026" in " ".join(letter.split())  # 5 April 2026 is a Sunday: runs to Monday


def test_spanish_and_the_json_shape(shop):
    result = json.loads(ok("request", "object", "shop.example", "--lang", "es", "--json", "--date", "2026-01-31").stdout)
    assert (result["kind"], result["lang"], result["to"], result["sent_on"], result["due_on"]) == (
        "object", "es", "privacy@shop.example", "2026-01-31", "2026-03-02")  # 28 February is a Saturday
    assert ["Número de teléfono", "+34 600 111 222"] in result["identifiers"]
    assert "Dirección de correo electrónico: " + shop["current"] in " ".join(result["body"].split())


def test_out_eml_is_a_message_from_the_vendor_s_active_alias(shop, tmp_path):
    out = tmp_path / "erase.eml"
    result = ok("request", "erase", "shop.example", "--out", str(out), "--name", "Alice Smith")
    assert result.stdout == ""
    message = email.message_from_bytes(out.read_bytes(), policy=policy.default)
    assert message["From"] == f"Alice Smith <{shop['current']}>"
    assert message["To"] == "Shop SL <privacy@shop.example>"
    assert "Article 17" in message["Subject"]
    body = message.get_content()
    assert shop["old"] in body and "+34 600 111 222" in body and body.rstrip().endswith("Alice Smith")


def test_out_txt_is_the_letter_and_to_overrides_the_contact(shop, tmp_path):
    out = tmp_path / "letter.txt"
    ok("request", "access", "shop.example", "--out", str(out), "--to", "dpo@shop.example")
    assert "dpo@shop.example" in out.read_text() and "privacy@shop.example" not in out.read_text()


def test_rectify_takes_corrections(shop):
    letter = ok("request", "rectify", "shop.example", "--correct", "Postal address", "Calle Mayor 2, Madrid").stdout
    assert "Postal address: it should be \u201cCalle Mayor 2, Madrid\u201d" in letter


def test_requests_lists_due_dates_and_overdue_ones_stand_out(shop):
    ok("request", "access", "shop.example", "--date", "2024-01-10")
    ok("request", "access", "shop.example", "--date", "2024-01-10")  # the same request again: one
    ok("request", "erase", "shop.example")
    rows = json.loads(ok("requests", "--json").stdout)
    assert [(r["kind"], r["sent_on"], r["due_on"], r["overdue"]) for r in rows] == [
        ("access", "2024-01-10", "2024-02-12", True),
        ("erase", date.today().isoformat(), rows[1]["due_on"], False)]
    assert rows[1]["days_left"] >= 28
    table = run("requests")
    assert "OVERDUE by" in table.stdout and "due in" in table.stdout
    assert "1 overdue" in table.stderr
    ok("request", "answered", str(rows[0]["id"]), "--date", "2024-02-20")
    answered = json.loads(ok("requests", "--json").stdout)[0]
    assert (answered["overdue"], answered["answered_on"], answered["days_left"]) == (False, "2024-02-20", None)


def test_an_empty_list_says_how_to_make_one():
    assert "whoknows request access VENDOR" in ok("requests").stdout
    assert json.loads(ok("requests", "--json").stdout) == []


@pytest.mark.parametrize("args, code, message", [
    (("request", "access", "nowhere.example"), 1, "no vendor nowhere.example in the ledger"),
    (("request", "access", "shop.example", "--lang", "fr"), 2, "Invalid value for '--lang'"),
    (("request", "access", "shop.example", "--date", "5/3/2026"), 2, "'5/3/2026' is not a date"),
    (("request", "access", "shop.example", "--correct", "Name", "Ana"), 2, "--correct goes with"),
    (("request", "rectify", "shop.example"), 2, "needs at least one correction"),
    (("request", "access", "shop.example", "--to", "not an address", "--out", "x.eml"), 2, "is not an email address"),
    (("request", "answered", "99"), 1, "no request 99"),
    (("request", "launch", "shop.example"), 2, "No such command 'launch'"),
])
def test_bad_input_is_refused_and_records_nothing(shop, args, code, message):
    result = run(*args)
    assert (result.exit_code, result.stderr.startswith("whoknows: error: ")) == (code, True), result.stderr
    assert message in result.stderr
    assert json.loads(ok("requests", "--json").stdout) == []


def test_a_vendor_without_contact_alias_or_identifiers_gets_a_clear_error(tmp_path):
    ok("vendor", "add", "bare.example")
    result = run("request", "access", "bare.example")
    assert result.exit_code == 1 and "no privacy contact is known for bare.example: give --to ADDRESS" in result.stderr
    result = run("request", "access", "bare.example", "--to", "dpo@bare.example")
    assert result.exit_code == 1 and "links no identifier to bare.example" in result.stderr
    ok("tell", "bare.example", "name=Alice")
    result = run("request", "access", "bare.example", "--to", "dpo@bare.example", "--out", str(tmp_path / "a.eml"))
    assert result.exit_code == 2 and "bare.example has no alias to send the message from" in result.stderr
    assert not (tmp_path / "a.eml").exists()
    assert json.loads(ok("requests", "--json").stdout) == []


def test_a_value_the_proxy_saw_whose_key_is_gone_is_left_out_with_a_note(shop, whoknows_home):
    secrets = whoknows_home / "secrets.json"
    data = json.loads(secrets.read_text())
    data["secrets"]["me-key"] = "A" * 43 + "="
    secrets.write_text(json.dumps(data))
    result = ok("request", "access", "shop.example")
    assert "+34 600 111 222" not in result.stdout and "•••" not in result.stdout
    assert "1 of your values" in result.stderr


def test_the_due_date_of_a_request_made_today_is_about_a_month_away(shop):
    due = date.fromisoformat(json.loads(ok("request", "access", "shop.example", "--json").stdout)["due_on"])
    assert timedelta(days=28) <= due - date.today() <= timedelta(days=33)


def test_a_different_request_the_same_day_is_refused_and_the_first_stays_as_recorded(shop, tmp_path):
    first = json.loads(ok("request", "access", "shop.example", "--date", "2026-03-05", "--json").stdout)
    out = tmp_path / "second.txt"
    result = run("request", "access", "shop.example", "--date", "2026-03-05", "--to", "dpo@shop.example",
                 "--out", str(out))
    assert result.exit_code == 1
    assert (f"request {first['id']} already records this request to shop.example on that day "
            "(to privacy@shop.example, in en)") in result.stderr
    assert "--to privacy@shop.example --lang en" in result.stderr and "--date YYYY-MM-DD" in result.stderr
    assert not out.exists()  # refused before any letter is written
    assert run("request", "access", "shop.example", "--date", "2026-03-05", "--lang", "es").exit_code == 1
    [row] = json.loads(ok("requests", "--json").stdout)
    assert (row["id"], row["contact"], row["lang"]) == (first["id"], "privacy@shop.example", "en")
    again = ok("request", "access", "shop.example", "--date", "2026-03-05", "--json")  # made again as it was
    assert (json.loads(again.stdout)["id"], json.loads(again.stdout)["new"]) == (first["id"], False)
    text = ok("request", "access", "shop.example", "--date", "2026-03-05")
    assert f"already recorded as request {first['id']}" in text.stderr and "not recorded again" in text.stderr
    ok("request", "access", "shop.example", "--date", "2026-03-06", "--to", "dpo@shop.example")  # another day
    rows = json.loads(ok("requests", "--json").stdout)
    assert [(r["sent_on"], r["contact"]) for r in rows] == [
        ("2026-03-05", "privacy@shop.example"), ("2026-03-06", "dpo@shop.example")]


@pytest.mark.parametrize("address", ["notanemail", "dpo@", "<dpo@shop.example>", "dpo@localhost", "a b@shop.example"])
def test_to_must_be_an_email_address_named_in_the_error(shop, address):
    result = run("request", "access", "shop.example", "--to", address)
    assert result.exit_code == 2
    assert result.stderr == f"whoknows: error: {address!r} is not an email address (--to)\n"
    assert json.loads(ok("requests", "--json").stdout) == []


def test_a_privacy_contact_must_be_an_email_address(shop):
    result = run("vendor", "add", "shop.example", "--privacy-contact", "see our website")
    assert (result.exit_code, result.stderr) == (
        2, "whoknows: error: 'see our website' is not an email address (--privacy-contact)\n")
    assert json.loads(ok("vendor", "show", "shop.example", "--json").stdout)["company"]["privacy_contact"] == (
        "privacy@shop.example")
    with open_ledger() as ledger:  # a contact that got in before it was checked (an old ledger, an import)
        ledger.db.execute("UPDATE vendors SET privacy_contact = 'privacy at shop' WHERE domain = 'shop.example'")
    result = run("request", "access", "shop.example")
    assert result.exit_code == 1
    assert ("'privacy at shop' is not an email address (the privacy contact of shop.example in your entry): "
            "give --to ADDRESS") in result.stderr
    assert json.loads(ok("requests", "--json").stdout) == []


def test_a_company_the_directory_knows_but_the_ledger_does_not_gets_the_vendor_add_it_needs():
    result = run("request", "access", "https://www.zalando.de/")
    assert result.exit_code == 1
    assert result.stderr == (
        "whoknows: error: no vendor zalando.de in the ledger; the company directory knows it (Zalando SE, "
        "privacy contact datenschutz@zalando.de): add it with 'whoknows vendor add zalando.de', then record "
        "what you gave it ('whoknows tell zalando.de ...')\n")
    ok("vendor", "add", "zalando.de")
    ok("tell", "zalando.de", "name=Alice")
    assert "datenschutz@zalando.de" in ok("request", "access", "zalando.de").stdout


# -- portability -------------------------------------------------------------------------------

def test_port_asks_for_the_data_provided_in_a_machine_readable_format_and_is_recorded(shop):
    result = ok("request", "port", "shop.example", "--date", "2026-03-05", "--lang", "es", "--json")
    letter = json.loads(result.stdout)
    assert (letter["kind"], letter["due_on"], letter["new"]) == ("port", "2026-04-06", True)
    flat = " ".join(letter["body"].split())
    assert "artículo 20, apartado 1" in flat and "estructurado, de uso común y lectura mecánica" in flat
    assert "Número de teléfono: +34 600 111 222" in flat
    [row] = json.loads(ok("requests", "--json").stdout)
    assert (row["kind"], row["article"], row["sent_on"]) == ("port", "Art. 20", "2026-03-05")
    assert "port (Art. 20)" in run("requests").stdout


# -- complaints --------------------------------------------------------------------------------

@pytest.fixture
def overdue(shop):
    """shop.example's pages sent the phone to a tracker (and tried to send the alias, blocked); an
    access request of 10 January 2024 never answered."""
    with open_ledger() as ledger:
        [phone] = [v for v in list_values(ledger) if v.kind == "phone"]
        pending = PendingLeaks()
        pending.record(classify("shop.example", "facebook.net", "connect.facebook.net", "GET",
                                "https://connect.facebook.net/tr?ph=", [FoundValue("phone", phone.reference(), "sha256",
                                                                                   "e164", "url")],
                                False, company="Meta Platforms"))
        pending.record(classify("shop.example", "tracker.example", "t.tracker.example", "GET",
                                "https://t.tracker.example/p?e=", [FoundValue("alias", shop["current"], "plain",
                                                                             "typed", "url")], True))
        write_batch(ledger, pending.take())
    request_id = json.loads(ok("request", "access", "shop.example", "--date", "2024-01-10", "--json").stdout)["id"]
    return {**shop, "id": request_id}


def test_a_complaint_goes_to_your_country_s_authority_with_the_timeline_and_the_evidence(overdue, tmp_path):
    ok("settings", "country", "ES")
    result = ok("request", "complain", str(overdue["id"]), "--name", "Alice Smith", "--from", "alice@home.example",
                "--date", "2024-03-01")
    letter = result.stdout
    assert letter.startswith("Spanish Data Protection Agency\nAgencia Española de Protección de Datos (AEPD)\n"
                             "C/ Jorge Juan, 6\n28001 Madrid\nSpain\nhttps://www.aepd.es\n")
    flat = " ".join(letter.split())
    assert "10 January 2024: I sent my request to privacy@shop.example." in flat
    assert "12 February 2024: the period of Article 12(3) for answering it ended." in flat
    assert "1 March 2024: I have received no answer" in flat
    assert (f"On {long_date(date.today(), 'en')} its pages sent my telephone number (+34 600 111 222) as a SHA-256 "
            "hash to connect.facebook.net (Meta Platforms)") in flat
    assert "t.tracker.example" not in flat  # blocked: it never reached the tracker
    assert "- Name: Alice Smith" in letter and "You can reach me at alice@home.example." in flat
    assert "recorded as request" in result.stderr and "Art. 78(2)" in result.stderr
    rows = json.loads(ok("requests", "--json").stdout)
    complaint = [r for r in rows if r["kind"] == "complaint"][0]
    assert (complaint["vendor"], complaint["contact"], complaint["sent_on"], complaint["due_on"]) == (
        "shop.example", "https://www.aepd.es", "2024-03-01", "2024-06-01")  # three months (Art. 78(2))


def test_a_complaint_in_spanish_by_email_where_the_authority_takes_email(overdue, tmp_path):
    ok("settings", "country", "DE")
    out = tmp_path / "complaint.eml"
    result = ok("request", "complain", str(overdue["id"]), "--lang", "es", "--from", "alice@home.example",
                "--out", str(out))
    message = email.message_from_bytes(out.read_bytes(), policy=policy.default)
    assert message["To"].addresses[0].addr_spec == "poststelle@bfdi.bund.de"
    assert "the BfDI passes it on" in result.stderr
    assert message["From"].addresses[0].addr_spec == "alice@home.example"
    assert message["Subject"].startswith("Reclamación conforme al artículo 77 del RGPD contra Shop SL")
    assert "sus páginas enviaron mi número de teléfono" in " ".join(message.get_content().split())
    assert oct(out.stat().st_mode & 0o777) == "0o600"


def test_requests_flags_the_overdue_request_and_names_the_complaint_command(overdue):
    result = run("requests")
    assert f"1 overdue ({overdue['id']})" in result.stderr
    assert f"'whoknows request complain {overdue['id']}'" in result.stderr
    [row] = json.loads(ok("requests", "--json").stdout)
    assert (row["id"], row["overdue"]) == (overdue["id"], True) and row["days_left"] < 0


def test_complaint_refusals_record_nothing(overdue, tmp_path):
    def refused(*args, code=1):
        result = run("request", "complain", *args)
        assert result.exit_code == code, result.stderr
        assert "complaint" not in [r["kind"] for r in json.loads(ok("requests", "--json").stdout)]  # none recorded
        return result.stderr

    assert "your country is not set" in refused(str(overdue["id"]))
    assert "'whoknows settings country CODE'" in refused(str(overdue["id"]))
    ok("settings", "country", "ES")
    assert "no request 99 ('whoknows requests' lists them)" in refused("99")
    assert "is not overdue yet: its answer is due by 2024-02-12" in refused(str(overdue["id"]), "--date", "2024-02-12")
    assert "takes complaints by the form on its site (https://www.aepd.es)" in refused(
        str(overdue["id"]), "--from", "a@home.example", "--out", str(tmp_path / "c.eml"), code=2)
    ok("settings", "country", "IT")
    assert "needs your address: --from ADDRESS" in refused(str(overdue["id"]), "--out", str(tmp_path / "c.eml"), code=2)
    assert not (tmp_path / "c.eml").exists()
    fresh = json.loads(ok("request", "erase", "shop.example", "--json").stdout)["id"]
    assert f"request {fresh} to shop.example is not overdue yet" in refused(str(fresh))
    ok("request", "answered", str(overdue["id"]), "--date", "2024-02-20")
    assert "was answered on 2024-02-20" in refused(str(overdue["id"]))


def test_a_complained_request_is_no_longer_overdue_and_the_complaint_has_its_own_three_months(overdue):
    """The request complained about reads "complained on DATE to AUTHORITY" instead of overdue; the
    complaint is listed about it, due three months after it was made."""
    ok("settings", "country", "ES")
    complaint_id = json.loads(ok("request", "complain", str(overdue["id"]), "--date", "2024-03-01",
                                 "--json").stdout)["id"]
    rows = {r["id"]: r for r in json.loads(ok("requests", "--json").stdout)}
    original, complaint = rows[overdue["id"]], rows[complaint_id]
    assert (original["status"], original["overdue"], original["about"]) == ("complained", False, None)
    assert original["complaints"] == [{"id": complaint_id, "sent_on": "2024-03-01", "to": "https://www.aepd.es",
                                       "authority": "Spanish Data Protection Agency"}]
    assert (complaint["kind"], complaint["about"], complaint["due_on"]) == ("complaint", overdue["id"], "2024-06-01")
    assert complaint["complaints"] == [] and complaint["follow_ups"] == []
    result = run("requests")
    text = " ".join(result.stdout.split())
    assert (f"complained on 2024-03-01 to Spanish Data Protection Agency (request {complaint_id})") in text
    assert f"complaint (Art. 77) about request {overdue['id']}" in text
    assert text.count("OVERDUE") == 1  # the complaint itself: three months passed long ago; not the request
    assert "overdue (" not in result.stderr  # nothing left to complain about
    assert f"1 complaint(s) ({complaint_id}) without news from the authority" in result.stderr


def test_a_complaint_due_in_the_future_counts_down_and_the_request_is_not_flagged(overdue):
    ok("settings", "country", "DE")
    made = date.today() - timedelta(days=10)
    complaint_id = json.loads(ok("request", "complain", str(overdue["id"]), "--date", made.isoformat(),
                                 "--json").stdout)["id"]
    [complaint] = [r for r in json.loads(ok("requests", "--json").stdout) if r["id"] == complaint_id]
    assert (complaint["status"], complaint["overdue"]) == ("due", False) and complaint["days_left"] > 70
    result = run("requests")
    assert result.exit_code == 0 and result.stderr == ""
    assert "OVERDUE" not in result.stdout and "Federal Commissioner" in result.stdout


def test_a_request_already_complained_about_is_not_complained_about_again(overdue):
    ok("settings", "country", "ES")
    first = json.loads(ok("request", "complain", str(overdue["id"]), "--date", "2024-03-01", "--json").stdout)
    repeat = run("request", "complain", str(overdue["id"]), "--date", "2024-03-01")  # the same letter again that day
    assert repeat.exit_code == 0 and f"already recorded as request {first['id']}" in repeat.stderr
    again = run("request", "complain", str(overdue["id"]), "--date", "2024-04-01")
    assert again.exit_code == 1
    assert (f"was complained about on 2024-03-01 to Spanish Data Protection Agency (request {first['id']})"
            in again.stderr)
    assert [r["kind"] for r in json.loads(ok("requests", "--json").stdout)].count("complaint") == 1
    follow = run("request", "follow-up", str(overdue["id"]))  # no answer yet: the hint is the complaint made
    assert follow.exit_code == 1
    assert "you complained about it on 2024-03-01 to Spanish Data Protection Agency" in follow.stderr


def test_a_complaint_about_another_request_the_same_day_is_refused_not_merged(overdue):
    ok("settings", "country", "ES")
    other = json.loads(ok("request", "erase", "shop.example", "--date", "2024-01-11", "--json").stdout)["id"]
    ok("request", "complain", str(overdue["id"]), "--date", "2024-03-01")
    result = run("request", "complain", str(other), "--date", "2024-03-01")
    assert result.exit_code == 1 and f"about request {overdue['id']}" in result.stderr
    rows = {r["id"]: r for r in json.loads(ok("requests", "--json").stdout)}
    assert (rows[overdue["id"]]["status"], rows[other]["status"]) == ("complained", "overdue")
    assert f"1 overdue ({other})" in run("requests").stderr


# -- letters from the evidence: source, follow-up ----------------------------------------------

EMAIL, PHONE, STREET = "ana.garcia@example.com", "+34 600 111 222", "Calle Mayor 5"


@pytest.fixture
def answered(tmp_path):
    """You told shop.example your email only. The proxy saw its pages send your email, hashed, to
    Meta's pixel (today). An access request made 40 days ago was answered today with an export that
    holds your email, phone and street, lists no recipients, and lacks the shop's alias."""
    ok("alias", "setup", "--base", "me@mail.example")
    for kind, value in (("email", EMAIL), ("phone", PHONE), ("address", STREET)):
        ok("me", "add", kind, value)
    alias = json.loads(ok("alias", "new", "shop.example", "--json").stdout)["address"]
    ok("tell", "shop.example", f"email={EMAIL}")
    ok("vendor", "add", "shop.example", "--privacy-contact", "privacy@shop.example", "--company", "Shop SL")
    with open_ledger() as ledger:
        [email_value] = [v for v in list_values(ledger) if v.kind == "email"]
        pending = PendingLeaks()
        pending.record(classify("shop.example", "facebook.net", "connect.facebook.net", "GET",
                                "https://connect.facebook.net/tr?em=", [FoundValue("email", email_value.reference(),
                                                                                   "sha256", "normalised", "url")],
                                False, company="Meta Platforms"))
        write_batch(ledger, pending.take())
    export = tmp_path / "shop-export.json"
    export.write_text(json.dumps({"customer": {"email": EMAIL, "phone": PHONE},
                                  "orders": [{"id": 1, "delivery": {"street": STREET}}]}))
    sent = (date.today() - timedelta(days=40)).isoformat()
    request_id = json.loads(ok("request", "access", "shop.example", "--date", sent, "--json").stdout)["id"]
    ok("request", "answered", str(request_id), "--data", str(export))
    return {"id": request_id, "alias": alias, "export": export, "sent": date.fromisoformat(sent)}


def test_source_names_each_value_it_holds_but_was_never_given_with_its_evidence(answered):
    result = ok("request", "source", "shop.example")
    flat = " ".join(result.stdout.split())
    today = long_date(date.today(), "en")
    assert (f"Telephone number: +34 600 111 222 (first seen on {today}): in the data export you sent me "
            f"(shop-export.json, customer.phone), {today}") in flat
    assert f"Postal address: Calle Mayor 5 (first seen on {today})" in flat
    assert "orders[0].delivery.street" in flat
    assert "Email address: ana.garcia@example.com (first" not in flat  # told: given, not a finding
    assert "Article 15(1)(g)" in flat and "Article 14(3)" in flat
    assert "recorded as request" in result.stderr
    source = [r for r in json.loads(ok("requests", "--json").stdout) if r["kind"] == "source"][0]
    assert (source["sent_on"], source["article"]) == (date.today().isoformat(), "Art. 15(1)(g)")


def test_source_in_spanish_as_json_lists_the_findings(answered):
    letter = json.loads(ok("request", "source", "shop.example", "--lang", "es", "--json").stdout)
    assert {(f["what"], f["value"]) for f in letter["findings"]} == {
        ("Número de teléfono", PHONE), ("Dirección postal", STREET)}
    assert "en la exportación de datos que me enviaron (shop-export.json, customer.phone)" in " ".join(
        letter["body"].split())


def test_source_is_refused_when_the_vendor_holds_nothing_it_was_not_given(answered):
    ok("vendor", "add", "quiet.example", "--privacy-contact", "dpo@quiet.example")
    ok("tell", "quiet.example", f"email={EMAIL}")
    result = run("request", "source", "quiet.example")
    assert result.exit_code == 1
    assert "the ledger shows no value quiet.example holds that you never gave it" in result.stderr
    assert "source" not in [r["kind"] for r in json.loads(ok("requests", "--json").stdout)]
    assert "no vendor nowhere.example in the ledger" in run("request", "source", "nowhere.example").stderr


def test_follow_up_names_the_recipient_the_export_omits_and_the_value_missing_from_it(answered):
    result = ok("request", "follow-up", str(answered["id"]))
    flat = " ".join(result.stdout.split())
    today = long_date(date.today(), "en")
    assert f"On {long_date(answered['sent'], 'en')} I made a request of access (Article 15)" in flat
    assert f"which Shop SL answered on {today}" in flat
    assert ("Your answer names no recipient of my data, but: - On " + today + " your pages sent my email address "
            f"({EMAIL}) as a SHA-256 hash to connect.facebook.net (Meta Platforms).") in flat
    assert f"- Email address: {answered['alias']}, which I gave you on {today}, is not in your answer." in flat
    assert f"Email address: {EMAIL}, which I gave you" not in flat  # the export has it
    assert "Telephone number" not in flat.split("Your answer names")[1].split("Article 15(1)(c)")[0]  # not given
    follow = [r for r in json.loads(ok("requests", "--json").stdout) if r["kind"] == "follow-up"][0]
    assert (follow["sent_on"], follow["article"]) == (date.today().isoformat(), "Art. 15")


def test_the_answered_request_shows_it_was_followed_up_and_the_follow_up_is_about_it(answered):
    follow_id = json.loads(ok("request", "follow-up", str(answered["id"]), "--json").stdout)["id"]
    rows = {r["id"]: r for r in json.loads(ok("requests", "--json").stdout)}
    original, follow = rows[answered["id"]], rows[follow_id]
    today = date.today().isoformat()
    assert original["status"] == "answered"
    assert original["follow_ups"] == [{"id": follow_id, "sent_on": today, "to": "privacy@shop.example"}]
    assert (follow["about"], follow["status"], follow["follow_ups"]) == (answered["id"], "due", [])
    text = " ".join(run("requests").stdout.split())
    assert f"answered {today}; followed up on {today} (request {follow_id})" in text
    assert f"follow-up (Art. 15) about request {answered['id']}" in text


def test_follow_up_in_spanish_as_json_lists_the_gaps(answered):
    letter = json.loads(ok("request", "follow-up", str(answered["id"]), "--lang", "es", "--json").stdout)
    assert [(g["recipient"], g["value"]) for g in letter["gaps"]["recipients"]] == [("connect.facebook.net", EMAIL)]
    assert [(g["what"], g["value"]) for g in letter["gaps"]["missing"]] == [
        ("Dirección de correo electrónico", answered["alias"])]
    assert "Su respuesta no menciona ningún destinatario de mis datos" in " ".join(letter["body"].split())


def test_an_export_that_lists_recipients_and_holds_every_value_leaves_no_gap(answered, tmp_path):
    full = tmp_path / "full.json"
    full.write_text(json.dumps({"customer": {"email": EMAIL, "login": answered["alias"]},
                                "recipients": [{"name": "Meta Platforms", "purpose": "ads"}]}))
    request_id = json.loads(ok("request", "access", "shop.example", "--date",
                               (date.today() - timedelta(days=3)).isoformat(), "--json").stdout)["id"]
    ok("request", "answered", str(request_id), "--data", str(full))
    result = run("request", "follow-up", str(request_id))
    assert result.exit_code == 1 and "leaves out nothing the ledger shows" in result.stderr


def test_follow_up_refusals_record_nothing(answered):
    def refused(request_id, message):
        result = run("request", "follow-up", str(request_id))
        assert result.exit_code == 1 and message in result.stderr, result.stderr
        assert "follow-up" not in [r["kind"] for r in json.loads(ok("requests", "--json").stdout)]

    refused(99, "no request 99 ('whoknows requests' lists them)")
    unanswered = json.loads(ok("request", "access", "shop.example", "--json").stdout)["id"]
    refused(unanswered, f"request {unanswered} to shop.example has no answer recorded")
    ok("request", "answered", str(unanswered))
    refused(unanswered, f"the ledger holds no data export for request {unanswered}")
    erase = json.loads(ok("request", "erase", "shop.example", "--json").stdout)["id"]
    refused(erase, f"request {erase} to shop.example is not an access request (erase, Art. 17)")


def test_the_issue_s_story_ends_in_a_source_request_naming_phone_and_street_with_their_evidence(answered, tmp_path):
    """You told the shop your email only; its export (the fixture) and a newsletter to its alias hold
    your phone and your street: two findings, and a source request that names both, with both sources."""
    box = mailbox.mbox(str(tmp_path / "inbox.mbox"))
    box.add((f"From: Shop News <news@shop.example>\nTo: {answered['alias']}\nDate: Tue, 05 Mar 2024 09:00:00 +0000\n"
             "Message-ID: <weekly-1@shop.example>\nSubject: Deals for you\n"
             "Content-Type: text/plain; charset=utf-8\n\n"
             f"We deliver to {STREET}. Questions? We call you at {PHONE}.\n").encode())
    box.close()
    ok("mail", "scan", str(tmp_path / "inbox.mbox"))
    letter = json.loads(ok("request", "source", "shop.example", "--json").stdout)
    assert {(f["what"], f["value"], f["first_seen"]) for f in letter["findings"]} == {
        ("Telephone number", PHONE, "2024-03-05"), ("Postal address", STREET, "2024-03-05")}
    flat = " ".join(letter["body"].split())
    for what, value in (("Telephone number", PHONE), ("Postal address", STREET)):
        entry = flat.split(f"- {what}: {value} (first seen on 5 March 2024): ")[1].split(" - ")[0]
        assert f"in your email to my address {answered['alias']}, 5 March 2024" in entry
        assert "in the data export you sent me (shop-export.json, " in entry


# -- requests to tracker companies (issue 12) ----------------------------------------------------


@pytest.fixture
def tracked():
    """Google seen on two sites (cookies, a hashed email on one); Meta, which has no privacy email."""
    from whoknows.company_sightings import CompanySightings
    from whoknows.company_sightings import write_batch as write_sightings

    with open_ledger() as ledger:
        email_value, _ = add_value(ledger, "email", "alice@home.example")
        now = [1_780_000_000.0]  # 2026-05-28
        sightings = CompanySightings(clock=lambda: now[0])
        sightings.request("shop.example", "www.google-analytics.com", blocked=False)
        sightings.cookies("shop.example", "www.google-analytics.com", ["_ga"])
        sightings.values("shop.example", "www.google-analytics.com", [("email", email_value.reference(), "sha256")])
        now[0] += 2 * 86400
        sightings.request("news.example", "stats.g.doubleclick.net", blocked=False)
        sightings.cookies("news.example", "stats.g.doubleclick.net", ["IDE"])
        sightings.request("shop.example", "connect.facebook.net", blocked=False)
        write_sightings(ledger, sightings.take())


def test_a_request_to_a_tracker_company_goes_to_its_privacy_contact_listing_what_it_got(tracked):
    answer = json.loads(ok("request", "access", "Google", "--date", "2026-06-01", "--json").stdout)
    assert (answer["to"], answer["company"], answer["vendor"]) == (
        "data-access-requests@google.com", "Google", "google.com")
    assert answer["identifiers"] == [["cookie", "IDE"], ["cookie", "_ga"],
                                     ["Email address", "alice@home.example"],
                                     ["website", "news.example"], ["website", "shop.example"]]
    body = " ".join(answer["body"].split())
    assert "IDE, set by doubleclick.net on news.example" in body
    assert "alice@home.example, received as a SHA-256 hash on shop.example" in body  # decrypted for the letter
    assert "shop.example, requests to google-analytics.com on 28 May 2026" in body
    assert "your domains collected them from my browser" in body
    # Recorded under the company's own domain, as any request is.
    [row] = json.loads(ok("requests", "--json").stdout)
    assert (row["vendor"], row["kind"], row["sent_on"]) == ("google.com", "access", "2026-06-01")


def test_a_tracker_company_is_named_by_a_domain_or_a_site_and_written_in_spanish(tracked):
    letter = ok("request", "erase", "doubleclick.net", "--lang", "es", "--date", "2026-06-01").stdout
    # Addressed to the legal entity whose privacy contact it goes to (the company directory's
    # "Google LLC"); whoknows shows the company as "Google" everywhere else.
    assert letter.startswith("Google LLC\nA la atención del Delegado de Protección de Datos")
    flat = " ".join(letter.split())
    assert "sus dominios los recogieron de mi navegador" in flat and "IDE, instalada por doubleclick.net" in flat
    assert ok("request", "object", "youtube.com", "--date", "2026-06-02").stdout.startswith("Google LLC\n")


def test_a_tracker_company_without_a_privacy_email_is_refused_saying_how_to_give_one(tracked):
    result = run("request", "access", "Meta")
    assert result.exit_code == 1
    assert result.stderr.strip().splitlines() == [
        "whoknows: error: no privacy contact is known for Meta Platforms (its privacy web form: "
        "https://www.facebook.com/help/contact/540977946302970): find the privacy or data-protection address its "
        "privacy policy names and give it with --to ADDRESS (whoknows request access \"Meta Platforms\" "
        "--to ADDRESS)"]
    assert json.loads(ok("requests", "--json").stdout) == []  # nothing recorded
    answer = json.loads(ok("request", "access", "Meta", "--to", "dpo@meta.example", "--json").stdout)
    assert answer["to"] == "dpo@meta.example" and answer["vendor"] == "facebook.com"
    assert "connect.facebook.net" in answer["body"]


def test_a_tracker_company_never_seen_is_refused_and_a_vendor_in_the_ledger_stays_a_vendor(tracked, shop):
    result = run("request", "access", "Criteo")
    assert result.exit_code == 1 and "the proxy has not seen Criteo on your sites" in result.stderr
    # shop.example is a vendor: its own record goes in the letter, not a company's.
    letter = ok("request", "access", "shop.example").stdout
    assert "privacy@shop.example" in letter and "collected them from my browser" not in letter


# -- personal terms cited (issue 15) ---------------------------------------------------------------

def _utc_day(moment: float) -> date:
    from datetime import datetime, timezone

    return datetime.fromtimestamp(moment, timezone.utc).date()  # the ledger's days are UTC


def _offer_terms(site: str, when: float, agreed: float | None = None) -> None:
    from whoknows.personal_terms import find_term
    from whoknows.terms_records import PendingOffers
    from whoknows.terms_records import write_batch as write_offers

    moments = iter([when, agreed])
    pending = PendingOffers(clock=lambda: next(moments))
    pending.offered(site, [find_term("nostalking")])
    if agreed is not None:
        pending.agreed(site, [find_term("nostalking")], "header")
    with open_ledger() as ledger:
        write_offers(ledger, pending.take())


def test_letters_cite_the_terms_offered_and_what_its_pages_sent_after(overdue):
    import time

    yesterday = time.time() - 86400
    _offer_terms("shop.example", yesterday)
    day = long_date(_utc_day(yesterday), "en")
    for kind in ("access", "erase", "object"):
        flat = " ".join(ok("request", kind, "shop.example").stdout.split())
        assert (f"Since {day}, every request my browser made to your website has carried my personal terms, "
                "“No stalking” (version 1, in the Personal-Terms header)") in flat, kind
        assert "You have never signalled agreement to them." in flat
        assert (f"Even so, on {long_date(date.today(), 'en')} your pages sent my telephone number as a SHA-256 hash "
                "to connect.facebook.net (Meta Platforms).") in flat
    assert "Personal-Terms" not in ok("request", "port", "shop.example").stdout
    ok("settings", "country", "ES")
    complaint = " ".join(ok("request", "complain", str(overdue["id"]), "--lang", "es").stdout.split())
    assert "cada solicitud de mi navegador a su sitio web ha incluido mis términos personales, «Sin acoso»" in complaint
    assert "Nunca ha indicado que los acepte. Aun así," in complaint


def test_a_vendor_that_agreed_before_is_told_so_and_a_leak_before_the_offer_is_not_cited(overdue):
    import time

    tomorrow = time.time() + 86400  # offered after the leak of today
    _offer_terms("shop.example", tomorrow, agreed=tomorrow)
    flat = " ".join(ok("request", "access", "shop.example").stdout.split())
    assert f"You signalled agreement to them on {long_date(_utc_day(tomorrow), 'en')}." in flat
    assert "Even so" not in flat
