"""Knows more than you told it (`whoknows.findings`): values a vendor holds that it was never given,
from its export, the mail it sends to its alias, its pages and leaks, each with its evidence."""

import json
import mailbox
from datetime import date

import pytest

from whoknows import aliases, me
from whoknows.disclosures import record_disclosures
from whoknows.export_records import read_vendor_export
from whoknows.findings import all_findings, for_vendor
from whoknows.leak_records import FoundValue, classify, write_batch
from whoknows.ledger import open_ledger
from whoknows.mail_records import body_watch, store_scan
from whoknows.mailscan import scan_paths

EMAIL = "ana.garcia@example.com"
PHONE = "+34 600 111 222"
STREET = "Calle Mayor 5"


@pytest.fixture
def ledger():
    with open_ledger() as ledger:
        for kind, value in (("email", EMAIL), ("phone", PHONE), ("address", STREET)):
            me.add_value(ledger, kind, value)
        aliases.save_setup(ledger, aliases.parse_setup(base="me@mail.example"))
        yield ledger


def ref(ledger, kind, value):
    return next(v.reference() for v in me.list_values(ledger) if v.kind == kind and v.value == value)


def newsletter(tmp_path, sender, to, body, *, date_header="Mon, 04 Mar 2024 10:00:00 +0000", msgid="n1@shop.example",
               subject="Your weekly deals", html=False):
    path = tmp_path / "inbox.mbox"
    kind = "html" if html else "plain"
    raw = (f"From: Shop <{sender}>\nTo: {to}\nDate: {date_header}\nMessage-ID: <{msgid}>\nSubject: {subject}\n"
           f"List-Unsubscribe: <mailto:u@{sender.partition('@')[2]}>\nMIME-Version: 1.0\n"
           f"Content-Type: text/{kind}; charset=utf-8\nContent-Transfer-Encoding: quoted-printable\n\n").encode()
    import quopri

    raw += quopri.encodestring(body.encode("utf-8"))
    box = mailbox.mbox(path)
    box.add(raw)
    box.flush()
    box.close()
    return path


def scan(ledger, path):
    return store_scan(ledger, scan_paths([path], body_watch(ledger)))


def test_told_the_email_only_its_export_and_newsletter_show_phone_and_street_two_findings(ledger, tmp_path):
    """The issue's story: you tell shop.example your email only; its export and a newsletter to its
    alias hold your phone and your street address -> exactly two findings, with their evidence."""
    alias, _ = aliases.get_or_create(ledger, "shop.example")
    record_disclosures(ledger, "shop.example", [("email", EMAIL)])
    export = tmp_path / "shop.zip"
    import zipfile

    with zipfile.ZipFile(export, "w") as archive:
        archive.writestr("account.json", json.dumps({"account": {"email": EMAIL, "alias": alias},
                                                     "orders": [{"ship_to": {"street": STREET}}]}))
        archive.writestr("contact.csv", "name,mobile\nAna,600 111 222\n")
    read_vendor_export(ledger, "shop.example", export, received_on=date(2026, 3, 1))
    mbox = newsletter(tmp_path, "news@shop.example", alias,
                      f"Hola Ana,\nwe deliver to {STREET} \u2014 questions? We call you at +34 600-111-222.\n"
                      f"Sent to {alias}")
    assert scan(ledger, mbox).new_value_hits == 3  # the phone, the street, and the alias itself (given)

    found = for_vendor(ledger, "shop.example")
    assert [(f.kind, f.value_ref) for f in found] == sorted(
        [("phone", ref(ledger, "phone", PHONE)), ("address", ref(ledger, "address", STREET))],
        key=lambda item: item[0])  # both first seen on the newsletter's date: then by kind
    for finding in found:
        assert finding.first_seen.startswith("2024-03-04")  # the newsletter, before the export
        sources = [(e.source, e.seen[:10]) for e in finding.evidence]
        assert sources == [("mail", "2024-03-04"), ("export", "2026-03-01")]
        assert finding.evidence[0].detail["message"] == "<n1@shop.example>"
        assert finding.evidence[0].detail["alias"] == alias
    phone = next(f for f in found if f.kind == "phone")
    assert (phone.evidence[1].detail["file"], phone.evidence[1].detail["field"]) == ("contact.csv", "mobile")
    revealed = {f.kind: f.value for f in for_vendor(ledger, "shop.example", reveal=True)}
    assert revealed == {"phone": PHONE, "address": STREET}
    # the ledger keeps no text of the mail
    dump = "\n".join(ledger.db.iterdump())
    assert "Hola" not in dump and "deliver" not in dump and STREET not in dump


def test_what_was_given_is_no_finding_told_form_or_its_own_alias(ledger, tmp_path):
    alias, _ = aliases.get_or_create(ledger, "shop.example")
    record_disclosures(ledger, "shop.example", [("phone", "0034 600 111 222")])  # another spelling, told
    # the proxy saw the street go to the shop's own site in a form: a first-party disclosure
    write_batch(ledger, _batch("shop.example", "shop.example", ref(ledger, "address", STREET), "address"))
    export = tmp_path / "data.json"
    export.write_text(json.dumps({"phone": "600111222", "street": STREET, "mail": alias}))
    read_vendor_export(ledger, "shop.example", export)
    assert for_vendor(ledger, "shop.example") == []


def test_a_value_received_only_as_a_leak_from_another_site_is_not_given(ledger, tmp_path):
    """tracker.example got your email from shop.example's page (a leak): it was never given by you.
    Its own export holding it is a finding whose evidence says how it got there; shop.example's
    page that sent it holds it too."""
    email = ref(ledger, "email", EMAIL)
    write_batch(ledger, _batch("shop.example", "tracker.example", email, "email", encoding="sha256"))
    export = tmp_path / "tracker.json"
    import hashlib

    export.write_text(json.dumps({"matched": {"em": hashlib.sha256(EMAIL.encode()).hexdigest()}}))
    read_vendor_export(ledger, "tracker.example", export)
    tracker = for_vendor(ledger, "tracker.example")
    assert [(f.kind, f.value_ref) for f in tracker] == [("email", email)]
    assert {e.source for e in tracker[0].evidence} == {"leak", "export"}
    leak = next(e for e in tracker[0].evidence if e.source == "leak")
    assert leak.detail["page"] == "shop.example" and "SHA-256" in leak.describe()
    shop = for_vendor(ledger, "shop.example")
    assert [(f.kind, [e.source for e in f.evidence]) for f in shop] == [("email", ["page"])]
    # once the user tells the shop the email, the shop's finding goes; the tracker's stays
    record_disclosures(ledger, "shop.example", [("email", EMAIL.upper())])
    assert for_vendor(ledger, "shop.example") == []
    assert len(for_vendor(ledger, "tracker.example")) == 1
    everyone = all_findings(ledger)
    assert [f.vendor for f in everyone.findings] == ["tracker.example"] and everyone.unmatched_told == 0


def test_your_real_email_in_mail_to_an_alias_is_a_finding_the_alias_is_not(ledger, tmp_path):
    alias, _ = aliases.get_or_create(ledger, "shop.example")
    mbox = newsletter(tmp_path, "news@shop.example", alias, f"<p>Hi! Your account: {EMAIL}</p><p>{alias}</p>",
                      html=True)
    scan(ledger, mbox)
    found = for_vendor(ledger, "shop.example")
    assert [(f.kind, f.value_ref) for f in found] == [("email", ref(ledger, "email", EMAIL))]


def test_a_name_in_the_subject_is_found_and_a_foreign_sender_holds_what_it_shows(ledger, tmp_path):
    me.add_value(ledger, "name", "Ana García")
    alias, _ = aliases.get_or_create(ledger, "shop.example")
    mbox = newsletter(tmp_path, "win@spam.example", alias, "You won!", subject="Ana García, you won")
    stored = scan(ledger, mbox)
    assert stored.foreign_hits == 1
    spam = for_vendor(ledger, "spam.example")
    kinds = {f.kind: sorted(e.source for e in f.evidence) for f in spam}
    assert kinds == {"name": ["mail"], "alias": ["foreign-mail"]}
    assert next(f for f in spam if f.kind == "name").evidence[0].detail["places"] == ["subject"]
    assert for_vendor(ledger, "shop.example") == []  # the shop sent nothing: it is not charged with it


def test_rescanning_mail_adds_no_second_hit(ledger, tmp_path):
    alias, _ = aliases.get_or_create(ledger, "shop.example")
    mbox = newsletter(tmp_path, "news@shop.example", alias, f"We ship to {STREET}")
    assert scan(ledger, mbox).new_value_hits == 1
    assert scan(ledger, mbox).new_value_hits == 0
    assert len(for_vendor(ledger, "shop.example")[0].evidence) == 1


def _batch(page, recipient, value_ref, kind, encoding="plain"):
    events = classify(page, recipient, recipient, "POST", f"https://{recipient}/collect",
                      [FoundValue(kind, value_ref, encoding, "typed", "body")], blocked=False)
    from whoknows.leak_records import Tally

    when = 1_700_000_000.0
    return {key: Tally(1, when, when, dict(latest)) for key, latest in events}


def test_the_company_view_shows_the_findings_of_the_companys_domains_and_sites(ledger, tmp_path):
    from whoknows.company_view import company_record

    email = ref(ledger, "email", EMAIL)
    write_batch(ledger, _batch("shop.example", "doubleclick.net", email, "email", encoding="sha256"))
    export = tmp_path / "takeout.json"
    export.write_text(json.dumps({"account": {"recoveryPhone": "+34600111222"}}))
    read_vendor_export(ledger, "google.com", export)
    google = company_record(ledger, "Google")["findings"]
    assert sorted((f["vendor"], f["kind"]) for f in google) == [("doubleclick.net", "email"), ("google.com", "phone")]
    assert company_record(ledger, "Meta")["findings"] == []


def test_vendor_show_still_shows_the_record_when_the_key_store_cannot_be_read(ledger, tmp_path, monkeypatch):
    from whoknows import secrets
    from whoknows.errors import WhoknowsError
    from whoknows.vendor_records import vendor_record

    record_disclosures(ledger, "shop.example", [("name", "Ana")])

    def locked(*args, **kwargs):
        raise WhoknowsError("the keyring is locked")

    monkeypatch.setattr(secrets, "get_secret", locked)
    record = vendor_record(ledger, "shop.example")
    assert record["disclosures"] and record["findings"] == []
    assert record["findings_unavailable"] == "the keyring is locked"


def test_a_finding_cites_the_terms_offered_and_the_first_time_its_pages_sent_the_value_after(ledger):
    """Issue 15: shop.example was offered the no-stalking terms the day before its page sent your
    hashed email to tracker.example (the leak of `_batch`, on 2023-11-14)."""
    from whoknows.personal_terms import find_term
    from whoknows.terms_records import PendingOffers
    from whoknows.terms_records import write_batch as write_offers

    email = ref(ledger, "email", EMAIL)
    write_batch(ledger, _batch("shop.example", "tracker.example", email, "email", encoding="sha256"))
    [finding] = for_vendor(ledger, "shop.example")
    assert finding.terms is None and "personal_terms" not in finding.to_json()  # never offered: not a word
    pending = PendingOffers(clock=lambda: 1_700_000_000.0 - 86400)
    pending.offered("shop.example", [find_term("nostalking")])
    write_offers(ledger, pending.take())
    [finding] = for_vendor(ledger, "shop.example")
    assert finding.to_json()["personal_terms"]["summary"] == (
        "offered our terms (nostalking/1) since 2023-11-13; agreed: never; on 2023-11-14 its pages sent it to "
        "tracker.example, as SHA-256")
    # offered only after the leak: the terms are cited, the earlier leak is not put after them
    with ledger.write() as db:
        db.execute("UPDATE terms_offers SET first_offered = '2024-01-01T00:00:00Z'")
    [finding] = for_vendor(ledger, "shop.example")
    assert finding.terms_summary() == "offered our terms (nostalking/1) since 2024-01-01; agreed: never"
