"""GDPR request letters: golden texts in both languages, deadlines, and a sendable .eml.

The golden files in tests/data/letters/ are the reviewed text of every letter. After a deliberate
change to the wording, regenerate them and review the diff:

    UPDATE_GOLDEN=1 .venv/bin/python -m pytest -q tests/test_letters.py
"""

from __future__ import annotations

import os
from datetime import date, datetime, timezone
from email import message_from_bytes, policy
from pathlib import Path

import pytest

from whoknows.data_rights import LABELS
from whoknows.errors import InputError, WhoknowsError
from whoknows.letters import (
    KINDS,
    LANGUAGES,
    AuthorityFacts,
    EarlierRequest,
    HeldValue,
    Missing,
    SentElsewhere,
    Sighting,
    VendorFacts,
    long_date,
    months_after,
    one_month_after,
    render_complaint,
    render_follow_up,
    render_request,
    render_source_request,
    response_deadline,
    to_eml,
)

GOLDEN = Path(__file__).parent / "data" / "letters"
ALIAS = "shop.k3x9@alias.example"
VENDOR = VendorFacts(
    domain="shop.example",
    name="Shop Example S.L.",
    privacy_contact="privacy@shop.example",
    postal_address="Calle Mayor 1\n28013 Madrid\nSpain",
)
IDENTIFIERS = [
    ("Email alias", ALIAS),
    ("Email address", "alice.martin@home.example"),
    ("Phone", "+34 612 34 56 78"),
    ("Customer account", "alice-m-1987"),
    ("Cookie _ga", "GA1.2.1234567890.1700000000"),
    ("Advertising ID", "38400000-8cf0-11bd-b23e-10b96e40000d"),
]
CORRECTIONS = [("Postal address", "Calle Falsa 123, Madrid", "Calle Mayor 5, 28013 Madrid"),
               ("Date of birth", "1987-04-23")]
SENT_ON = date(2026, 1, 31)  # one month later is Saturday 28 February: due Monday 2 March


def render(kind: str, lang: str, **overrides):
    args = dict(vendor=VENDOR, identifiers=IDENTIFIERS, sent_on=SENT_ON, requester_name="Alice Martin",
                corrections=CORRECTIONS if kind == "rectify" else None)
    args.update(overrides)
    return render_request(kind, lang, **args)


def as_golden_text(letter) -> str:
    return (f"Subject: {letter.subject}\nTo: {letter.to_name} <{letter.to}>\n"
            f"Deadline: {letter.deadline.isoformat()}\n\n{letter.body}")


@pytest.mark.parametrize("lang", LANGUAGES)
@pytest.mark.parametrize("kind", KINDS)
def test_letter_matches_its_golden_file(kind, lang):
    text = as_golden_text(render(kind, lang))
    path = GOLDEN / f"{kind}.{lang}.txt"
    if os.environ.get("UPDATE_GOLDEN") == "1":
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    assert path.exists(), f"no golden file {path}; run with UPDATE_GOLDEN=1 and review it"
    assert text == path.read_text(encoding="utf-8")


@pytest.mark.parametrize("lang", LANGUAGES)
@pytest.mark.parametrize("kind", KINDS)
def test_every_identifier_and_correction_appears_in_the_body(kind, lang):
    letter = render(kind, lang)
    flat = " ".join(letter.body.split())  # values may wrap across lines
    for label, value in IDENTIFIERS:
        assert f"{label}: {value}" in flat
    if kind == "rectify":
        for correction in CORRECTIONS:
            for part in correction:
                assert part in flat
    assert long_date(letter.deadline, lang) in flat
    assert "Alice Martin" in letter.body.splitlines()[-1]


@pytest.mark.parametrize("kind,en,es", [
    ("access", ["Article 15(3)", "Article 15(1)(a) to (h)", "(h)", "Article 46"],
     ["artículo 15, apartado 3", "letras a) a h)", "h)", "artículo 46"]),
    ("erase", ["Article 17(1)", "Article 17(2)", "Article 19", "Article 17(3)"],
     ["artículo 17, apartado 1", "artículo 17, apartado 2", "artículo 19", "artículo 17, apartado 3"]),
    ("object", ["Article 21(2)", "Article 21(3)", "absolute"],
     ["artículo 21, apartado 2", "artículo 21, apartado 3", "no admite ponderación"]),
    ("rectify", ["Article 16", "Article 19"], ["artículo 16", "artículo 19"]),
    ("port", ["Article 20(1)", "machine-readable", "Article 20(1)(a) and (b)", "Article 15"],
     ["artículo 20, apartado 1", "lectura mecánica", "letras a) y b)", "artículo 15"]),
])
def test_each_kind_cites_its_legal_basis_and_the_deadline_rule(kind, en, es):
    for lang, phrases in (("en", en), ("es", es)):
        flat = " ".join(render(kind, lang).body.split())
        for phrase in phrases + (["Article 12(3)"] if lang == "en" else ["artículo 12, apartado 3"]):
            assert phrase in flat, (lang, phrase)


@pytest.mark.parametrize("start,expected", [
    (date(2026, 3, 5), date(2026, 4, 5)),     # same date next month
    (date(2025, 1, 31), date(2025, 2, 28)),   # no 31 February: the month's last day
    (date(2024, 1, 31), date(2024, 2, 29)),   # leap year
    (date(2026, 3, 31), date(2026, 4, 30)),
    (date(2026, 1, 30), date(2026, 2, 28)),
    (date(2026, 2, 28), date(2026, 3, 28)),   # from the end of February: the 28th, not the 31st
    (date(2026, 12, 15), date(2027, 1, 15)),  # across the year
])
def test_one_month_after(start, expected):
    assert one_month_after(start) == expected


@pytest.mark.parametrize("sent_on,due", [
    (date(2026, 1, 31), date(2026, 3, 2)),    # Sat 28 Feb -> Mon 2 Mar
    (date(2026, 2, 1), date(2026, 3, 2)),     # Sun 1 Mar -> Mon 2 Mar
    (date(2024, 1, 31), date(2024, 2, 29)),   # Thursday: unchanged
    (date(2026, 3, 5), date(2026, 4, 6)),     # Sun 5 Apr -> Mon 6 Apr
    (date(2026, 3, 10), date(2026, 4, 10)),   # Friday: unchanged
])
def test_response_deadline_skips_weekends(sent_on, due):
    assert response_deadline(sent_on) == due
    assert render("access", "en", sent_on=sent_on).deadline == due


def test_the_eml_parses_back_with_the_right_headers():
    letter = render("object", "es")
    raw = to_eml(letter, ALIAS, now=datetime(2026, 1, 31, 18, 45, tzinfo=timezone.utc))
    assert raw.count(b"\r\n") == raw.count(b"\n")  # CRLF throughout, as SMTP wants
    assert max(len(line) for line in raw.split(b"\r\n")) <= 998
    message = message_from_bytes(raw, policy=policy.default)
    assert message["From"].addresses[0].addr_spec == ALIAS
    assert message["From"].addresses[0].display_name == "Alice Martin"
    assert message["To"].addresses[0].addr_spec == "privacy@shop.example"
    assert message["To"].addresses[0].display_name == "Shop Example S.L."
    assert message["Subject"] == letter.subject
    assert message["Date"].datetime == datetime(2026, 1, 31, 18, 45, tzinfo=timezone.utc)
    assert message["Message-ID"].endswith("@alias.example>")
    assert message["Content-Language"] == "es"
    assert message.get_content().replace("\r\n", "\n") == letter.body


def test_message_ids_are_unique():
    letter = render("access", "en")
    ids = {message_from_bytes(to_eml(letter, ALIAS))["Message-ID"] for _ in range(20)}
    assert len(ids) == 20


def test_a_vendor_without_privacy_contact_is_a_clear_error():
    vendor = VendorFacts(domain="quiet.example", name="Quiet")
    with pytest.raises(WhoknowsError, match="no privacy contact is known for quiet.example"):
        render("access", "en", vendor=vendor)


@pytest.mark.parametrize("overrides,message", [
    (dict(kind="delete"), "'delete' is not a kind of request"),
    (dict(lang="fr"), "'fr' is not a language"),
    (dict(identifiers=[]), "list at least one identifier"),
    (dict(identifiers=[("Alias", "  ")]), "every identifier needs a label and a value"),
    (dict(kind="rectify", corrections=None), "needs at least one correction"),
    (dict(kind="access", corrections=[("Name", "Alicia")]), "corrections only go in a rectification"),
])
def test_unusable_input_is_refused_clearly(overrides, message):
    kind = overrides.pop("kind", "access")
    lang = overrides.pop("lang", "en")
    with pytest.raises(InputError, match=message):
        render_request(kind, lang, **{**dict(vendor=VENDOR, identifiers=IDENTIFIERS, sent_on=SENT_ON),
                                      **overrides})


@pytest.mark.parametrize("sender,contact", [
    ("not an address", "privacy@shop.example"),
    (ALIAS, "https://shop.example/privacy-form"),
])
def test_to_eml_refuses_what_is_not_an_email_address(sender, contact):
    letter = render("access", "en", vendor=VendorFacts("shop.example", "Shop", contact))
    with pytest.raises(InputError, match="is not an email address"):
        to_eml(letter, sender)


def test_a_letter_without_a_name_is_signed_by_the_holder_of_the_identifiers():
    assert render("access", "en", requester_name=None).body.rstrip().endswith(
        "The holder of the identifiers listed above")
    assert render("access", "es", requester_name="  ").body.rstrip().endswith(
        "La persona titular de los identificadores indicados")


# -- letters that use the evidence -------------------------------------------------------------

def held(lang: str) -> list:
    labels = LABELS[lang]
    return [
        HeldValue(labels["phone"], "+34 699 000 111", (
            Sighting("mail", date(2026, 1, 20), ALIAS),
            Sighting("export", date(2026, 1, 12), "account.zip!orders.json, orders[].shipping.phone"))),
        HeldValue(labels["address"], "Calle Luna 9, 28004 Madrid", (
            Sighting("export", date(2026, 1, 12), "account.zip!profile.csv, street"),)),
        HeldValue(labels["birthday"], "1987-04-23", (
            Sighting("page", date(2025, 12, 2), "connect.facebook.net"),
            Sighting("page-blocked", date(2025, 12, 3), "t.tracker.example"),
            Sighting("leak", date(2025, 12, 4), "partner.example"))),
        HeldValue(labels["alias"], "news.q7w8@alias.example", (
            Sighting("foreign-mail", date(2026, 1, 5), "news.example"),)),
    ]


def sent_elsewhere(lang: str) -> list:
    labels = LABELS[lang]
    return [
        SentElsewhere(labels["email"], "alice.martin@home.example", "sha256", "connect.facebook.net",
                      "Meta Platforms", date(2025, 11, 3), date(2026, 1, 8)),
        SentElsewhere(labels["alias"], ALIAS, "url-plus", "t.tracker.example", None, date(2025, 12, 1),
                      date(2025, 12, 1)),
    ]


def missing(lang: str) -> list:
    return [Missing(LABELS[lang]["phone"], "+34 612 34 56 78", date(2025, 10, 2))]


EARLIER = EarlierRequest("access", date(2025, 12, 1), date(2026, 1, 2), "privacy@shop.example", date(2026, 1, 12))
AUTHORITY = AuthorityFacts("Spanish Data Protection Agency", "Agencia Española de Protección de Datos (AEPD)",
                           ("C/ Jorge Juan, 6", "28001 Madrid", "Spain"), None, "https://www.aepd.es")
UNANSWERED = EarlierRequest("access", date(2025, 12, 1), date(2026, 1, 2), "privacy@shop.example")


def render_evidence_letter(kind: str, lang: str):
    if kind == "source":
        return render_source_request(lang, VENDOR, held(lang), IDENTIFIERS, SENT_ON, "Alice Martin")
    if kind == "follow-up":
        return render_follow_up(lang, VENDOR, EARLIER, sent_elsewhere(lang), missing(lang), IDENTIFIERS, SENT_ON,
                                "Alice Martin")
    return render_complaint(lang, AUTHORITY, VENDOR, UNANSWERED, SENT_ON, IDENTIFIERS, held(lang),
                            sent_elsewhere(lang), "Alice Martin", "alice.martin@home.example")


@pytest.mark.parametrize("lang", LANGUAGES)
@pytest.mark.parametrize("kind", ["source", "follow-up", "complaint"])
def test_evidence_letter_matches_its_golden_file(kind, lang):
    text = as_golden_text(render_evidence_letter(kind, lang))
    path = GOLDEN / f"{kind}.{lang}.txt"
    if os.environ.get("UPDATE_GOLDEN") == "1":
        path.write_text(text, encoding="utf-8")
    assert path.exists(), f"no golden file {path}; run with UPDATE_GOLDEN=1 and review it"
    assert text == path.read_text(encoding="utf-8")


@pytest.mark.parametrize("lang", LANGUAGES)
def test_a_source_request_names_each_value_with_its_evidence_and_earliest_date(lang):
    flat = " ".join(render_evidence_letter("source", lang).body.split())
    for value in held(lang):
        assert f"{value.label}: {value.value}" in flat
        for sighting in value.sightings:
            assert sighting.detail in flat and long_date(sighting.on, lang) in flat
    # the phone was in the export on the 12th before the mail of the 20th: first seen on the 12th
    assert ("+34 699 000 111 (first seen on 12 January 2026)" if lang == "en"
            else "+34 699 000 111 (primera constancia: 12 de enero de 2026)") in flat
    assert ("Article 15(1)(g)" if lang == "en" else "artículo 15, apartado 1, letra g)") in flat
    assert ("Article 14(3)" if lang == "en" else "artículo 14, apartado 3") in flat


@pytest.mark.parametrize("lang", LANGUAGES)
def test_a_follow_up_names_each_gap(lang):
    letter = render_evidence_letter("follow-up", lang)
    flat = " ".join(letter.body.split())
    assert "connect.facebook.net (Meta Platforms)" in flat and "t.tracker.example" in flat
    assert ("as a SHA-256 hash" if lang == "en" else "como hash SHA-256") in flat
    assert ("URL-encoded" if lang == "en" else "con codificación URL") in flat
    assert "+34 612 34 56 78" in flat and long_date(date(2025, 10, 2), lang) in flat
    assert long_date(EARLIER.answered_on, lang) in flat and long_date(EARLIER.sent_on, lang) in flat
    assert letter.deadline == response_deadline(SENT_ON)


@pytest.mark.parametrize("lang", LANGUAGES)
def test_a_complaint_goes_to_the_authority_with_the_timeline_and_the_evidence(lang):
    letter = render_evidence_letter("complaint", lang)
    assert (letter.to, letter.to_name) == ("https://www.aepd.es", "Spanish Data Protection Agency")
    assert letter.body.startswith("Spanish Data Protection Agency\nAgencia Española de Protección de Datos (AEPD)\n"
                                  "C/ Jorge Juan, 6\n28001 Madrid\nSpain\nhttps://www.aepd.es\n")
    flat = " ".join(letter.body.split())
    for day in (UNANSWERED.sent_on, UNANSWERED.due_on, SENT_ON):
        assert long_date(day, lang) in flat
    assert "+34 699 000 111" in flat and "connect.facebook.net" in flat and "alice.martin@home.example" in flat
    assert ("Article 77" if lang == "en" else "artículo 77") in flat
    assert letter.deadline == date(2026, 4, 30)  # three months (Art. 78(2)) from 31 January: 30 April


def test_months_after_keeps_to_the_month_s_last_day():
    assert months_after(date(2026, 1, 31), 3) == date(2026, 4, 30)
    assert months_after(date(2025, 11, 30), 3) == date(2026, 2, 28)
    assert months_after(date(2026, 3, 5), 1) == one_month_after(date(2026, 3, 5))


@pytest.mark.parametrize("call,message", [
    (lambda: render_source_request("en", VENDOR, [], IDENTIFIERS, SENT_ON), "at least one value"),
    (lambda: render_follow_up("en", VENDOR, EARLIER, [], [], IDENTIFIERS, SENT_ON), "at least one gap"),
    (lambda: render_follow_up("en", VENDOR, UNANSWERED, sent_elsewhere("en"), [], IDENTIFIERS, SENT_ON),
     "has none recorded"),
    (lambda: render_complaint("en", AUTHORITY, VENDOR, UNANSWERED, date(2026, 1, 2), IDENTIFIERS),
     "not overdue yet: its answer is due by 2026-01-02"),
    (lambda: render_complaint("en", AUTHORITY, VENDOR, EARLIER, SENT_ON, IDENTIFIERS), "was answered on 2026-01-12"),
    (lambda: render_complaint("fr", AUTHORITY, VENDOR, UNANSWERED, SENT_ON, IDENTIFIERS), "'fr' is not a language"),
])
def test_evidence_letters_refuse_what_they_cannot_say(call, message):
    with pytest.raises(InputError, match=message.replace("(", r"\(")):
        call()


# -- requests to tracker companies (issue 12) ----------------------------------------------------

TRACKER = VendorFacts(domain="google.com", name="Google", privacy_contact="data-access-requests@google.com")


def render_tracker(kind: str, lang: str):
    from whoknows.letters import TrackerCookie, TrackerSeen, TrackerValue, render_tracker_request

    labels = LABELS[lang]
    return render_tracker_request(
        kind, lang, TRACKER,
        [TrackerCookie("_ga", ("google-analytics.com",), ("news.example", "shop.example")),
         TrackerCookie("IDE", ("doubleclick.net",), ("shop.example",)),
         TrackerCookie("NID", ("google.com",), ("shop.example",), sent=True)],
        [TrackerValue(labels["email"], "alice.martin@home.example", "sha256", ("shop.example",))],
        [TrackerSeen("news.example", ("google-analytics.com",), date(2026, 1, 12), date(2026, 1, 12)),
         TrackerSeen("shop.example", ("doubleclick.net", "google-analytics.com"), date(2025, 11, 3),
                     date(2026, 1, 30))],
        SENT_ON, "Alice Martin")


@pytest.mark.parametrize("lang", LANGUAGES)
@pytest.mark.parametrize("kind", ["access", "erase", "object"])
def test_tracker_letter_matches_its_golden_file(kind, lang):
    text = as_golden_text(render_tracker(kind, lang))
    path = GOLDEN / f"tracker-{kind}.{lang}.txt"
    if os.environ.get("UPDATE_GOLDEN") == "1":
        path.write_text(text, encoding="utf-8")
    assert path.exists(), f"no golden file {path}; run with UPDATE_GOLDEN=1 and review it"
    assert text == path.read_text(encoding="utf-8")


@pytest.mark.parametrize("lang", LANGUAGES)
def test_a_tracker_letter_lists_every_cookie_value_and_website_and_says_how_the_data_was_collected(lang):
    letter = render_tracker("access", lang)
    flat = " ".join(letter.body.split())
    for expected in ("_ga", "IDE", "alice.martin@home.example", "SHA-256", "news.example", "shop.example",
                     "doubleclick.net, google-analytics.com",
                     "NID, sent to google.com" if lang == "en" else "NID, enviada a google.com"):
        assert expected in flat
    assert ("your domains collected them from my browser" if lang == "en" else
            "sus dominios los recogieron de mi navegador") in flat
    assert letter.to == "data-access-requests@google.com" and letter.deadline == date(2026, 3, 2)
    # The same request to a vendor does not carry the tracker paragraph.
    assert "collected them from my browser" not in render("access", "en").body


def test_a_tracker_letter_is_access_erase_or_object_only():
    with pytest.raises(InputError, match="access, erase, object"):
        from whoknows.letters import render_tracker_request

        render_tracker_request("port", "en", TRACKER, [], [], [], SENT_ON)


# -- personal terms cited ------------------------------------------------------------------------

def terms_cited(lang: str, agreed: bool = False):
    from whoknows.letters import TermsCited
    from whoknows.personal_terms import find_term

    term = find_term("nostalking")
    return TermsCited(term.title[lang], term.version, term.summary[lang], "Personal-Terms", date(2025, 10, 20),
                      date(2025, 10, 22) if agreed else None, sent_elsewhere(lang)[0])


def render_with_terms(kind: str, lang: str, agreed: bool = False):
    terms = terms_cited(lang, agreed)
    if kind == "source":
        return render_source_request(lang, VENDOR, held(lang), IDENTIFIERS, SENT_ON, "Alice Martin", terms=terms)
    if kind == "complaint":
        return render_complaint(lang, AUTHORITY, VENDOR, UNANSWERED, SENT_ON, IDENTIFIERS, held(lang),
                                sent_elsewhere(lang), "Alice Martin", "alice.martin@home.example", terms=terms)
    return render(kind, lang, terms=terms)


@pytest.mark.parametrize("lang", LANGUAGES)
@pytest.mark.parametrize("kind", ["access", "erase", "object", "source", "complaint"])
def test_a_letter_citing_the_personal_terms_matches_its_golden_file(kind, lang):
    text = as_golden_text(render_with_terms(kind, lang))
    path = GOLDEN / f"terms-{kind}.{lang}.txt"
    if os.environ.get("UPDATE_GOLDEN") == "1":
        path.write_text(text, encoding="utf-8")
    assert path.exists(), f"no golden file {path}; run with UPDATE_GOLDEN=1 and review it"
    assert text == path.read_text(encoding="utf-8")


@pytest.mark.parametrize("lang, offered, agreed, sent", [
    ("en", "Since 20 October 2025, every request my browser made to your website has carried my personal terms,",
     "You signalled agreement to them on 22 October 2025.",
     "Even so, on 3 November 2025 your pages sent my email address as a SHA-256 hash to connect.facebook.net"),
    ("es", "Desde el 20 de octubre de 2025, cada solicitud de mi navegador a su sitio web ha incluido mis "
           "términos personales,",
     "Indicaron que los aceptaban el 22 de octubre de 2025.",
     "Aun así, el 3 de noviembre de 2025 sus páginas enviaron mi dirección de correo electrónico como hash "
     "SHA-256 a connect.facebook.net"),
])
def test_the_terms_sentence_says_since_when_whether_agreed_and_what_was_sent_after(lang, offered, agreed, sent):
    flat = " ".join(render_with_terms("access", lang, agreed=True).body.split())
    assert offered in flat and agreed in flat and sent in flat
    assert "never" not in flat.split(offered)[1].split(".")[1]
    plain = " ".join(render("access", lang).body.split())
    assert "Personal-Terms" not in plain  # no terms offered: no sentence
