"""Intent messages built, parsed back with the standard library, and checked against the shipped schema."""

from __future__ import annotations

import json
from datetime import date, datetime, timezone
from email import message_from_bytes, policy

import jsonschema
import pytest

from whoknows.errors import InputError
from whoknows.intents import (
    Addressed, Budget, Sent, build_message, make_intent, match_answers, parse_budget, schema,
)
from whoknows.mailscan import read_message

TODAY = date(2026, 12, 6)
CREATED = datetime(2026, 12, 6, 10, 0, tzinfo=timezone.utc)
ALIAS = "me+shop.example.k3mz7qa2b@mail.example"
ADDRESSED = Addressed("shop.example", ALIAS, "sales@shop.example", "<intent.abc@mail.example>", CREATED)


def parsed(raw: bytes):
    message = message_from_bytes(raw, policy=policy.default)
    text = message.get_body(("plain",)).get_content()
    (attachment,) = list(message.iter_attachments())
    return message, text, attachment


@pytest.mark.parametrize("lang, words", [("en", ["I intend to buy: a 27-inch 4K monitor", "up to 300 EUR",
                                                  "31 January 2027", "mailing list"]),
                                          ("es", ["Tengo intención de comprar: a 27-inch 4K monitor",
                                                  "hasta 300 EUR", "31 de enero de 2027", "lista de correo"])])
def test_the_message_is_from_the_alias_with_a_text_part_in_its_language_and_a_valid_json_part(lang, words):
    intent = make_intent("a 27-inch 4K monitor", "2027-01-31", lang, TODAY, "monitors", "300 EUR")
    raw = build_message(intent, ADDRESSED)
    message, text, attachment = parsed(raw)
    assert message["From"].addresses[0].addr_spec == ALIAS
    assert message["To"].addresses[0].addr_spec == "sales@shop.example"
    assert message["Message-ID"] == "<intent.abc@mail.example>"
    assert message.get_body(("plain",))["Content-Language"] == lang
    for word in words:
        assert word in " ".join(text.split())
    assert attachment.get_content_type() == "application/json"
    assert attachment.get_filename() == "intent.json"
    document = json.loads(attachment.get_content())
    jsonschema.Draft202012Validator(schema(), format_checker=jsonschema.FormatChecker()).validate(document)
    assert document["reply_to"] == ALIAS and document["vendor"] == "shop.example"
    assert document["budget"] == {"amount": "300", "currency": "EUR"}
    assert (document["until"], document["language"], document["category"]) == ("2027-01-31", lang, "monitors")


def test_the_same_stored_intent_builds_the_same_bytes_so_a_retry_sends_the_same_message():
    intent = make_intent("a bike", "2027-01-31", "en", TODAY)
    assert build_message(intent, ADDRESSED) == build_message(intent, ADDRESSED)
    document = json.loads(list(message_from_bytes(build_message(intent, ADDRESSED), policy=policy.default)
                               .iter_attachments())[0].get_content())
    assert document["budget"] is None and document["category"] is None
    jsonschema.validate(document, schema())


def test_the_schema_refuses_what_is_not_an_intent():
    intent = make_intent("a bike", "2027-01-31", "en", TODAY, budget="99.50 usd")
    document = json.loads(list(message_from_bytes(build_message(intent, ADDRESSED), policy=policy.default)
                               .iter_attachments())[0].get_content())
    assert document["budget"] == {"amount": "99.5", "currency": "USD"}
    for broken in ({**document, "version": 2}, {**document, "budget": {"amount": 300, "currency": "EUR"}},
                   {**document, "extra": 1}, {k: v for k, v in document.items() if k != "until"}):
        with pytest.raises(jsonschema.ValidationError):
            jsonschema.validate(broken, schema())


@pytest.mark.parametrize("text, budget", [("300 EUR", Budget("300", "EUR")), ("EUR 300", Budget("300", "EUR")),
                                          ("300€", Budget("300", "EUR")), ("$ 49,90", Budget("49.9", "USD")),
                                          ("1200.00 gbp", Budget("1200", "GBP"))])
def test_budgets_in_the_forms_people_write_them(text, budget):
    assert parse_budget(text) == budget


@pytest.mark.parametrize("text", ["300", "EUR", "three hundred EUR", "300 EUR USD", "-5 EUR", "0 EUR"])
def test_a_budget_without_an_amount_and_a_currency_is_refused(text):
    with pytest.raises(InputError):
        parse_budget(text)


def test_bad_intents_are_refused_saying_why():
    with pytest.raises(InputError, match="in the past"):
        make_intent("a bike", "2026-12-05", "en", TODAY)
    with pytest.raises(InputError, match="not a date"):
        make_intent("a bike", "next week", "en", TODAY)
    with pytest.raises(InputError, match="say what"):
        make_intent("   ", "2027-01-01", "en", TODAY)
    assert make_intent("a bike", "2026-12-06", "en", TODAY).until == TODAY  # today is the last day


def _mail(raw_headers: str):
    return read_message(raw_headers.replace("\n", "\r\n").encode() + b"\r\nbody\r\n")[0]


def test_answers_are_matched_by_in_reply_to_then_references_then_alias_alone():
    sent = [Sent(1, ALIAS, "<intent.abc@mail.example>", CREATED),
            Sent(2, "me+other.example.aaaaaaaaa@mail.example", "<intent.def@mail.example>", CREATED)]
    reply = _mail(f"From: sales@shop.example\nTo: {ALIAS}\nMessage-ID: <r1@shop.example>\n"
                  "Date: Mon, 07 Dec 2026 09:00:00 +0000\nIn-Reply-To: <intent.abc@mail.example>\n")
    thread = _mail("From: deals@other.example\nTo: someone@else.example\nMessage-ID: <r2@other.example>\n"
                   "Date: Mon, 07 Dec 2026 09:00:00 +0000\nReferences: <x@y> <intent.def@mail.example>\n")
    by_alias = _mail(f"From: news@shop.example\nTo: {ALIAS}\nMessage-ID: <r3@shop.example>\n"
                     "Date: Tue, 08 Dec 2026 09:00:00 +0000\nList-Id: <offers.shop.example>\n")
    before = _mail(f"From: news@shop.example\nTo: {ALIAS}\nMessage-ID: <r4@shop.example>\n"
                   "Date: Sat, 05 Dec 2026 09:00:00 +0000\n")
    mine = _mail(f"From: {ALIAS}\nTo: sales@shop.example\nMessage-ID: <r5@mail.example>\n"
                 "Date: Tue, 08 Dec 2026 09:00:00 +0000\nIn-Reply-To: <r1@shop.example>\n"
                 "References: <intent.abc@mail.example> <r1@shop.example>\n")
    found = {(a.identity, a.row_id): (a.matched_by, a.listed) for a in
             match_answers([reply, thread, by_alias, before, mine], sent)}
    assert found == {("<r1@shop.example>", 1): ("in-reply-to", False),
                     ("<r2@other.example>", 2): ("references", False),
                     ("<r3@shop.example>", 1): ("alias", True)}
