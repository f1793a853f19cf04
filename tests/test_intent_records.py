"""Intents in a real ledger: recorded whole or not at all, delivery states, expiry."""

from __future__ import annotations

from datetime import date

import pytest

from whoknows.aliases import get_or_create, parse_setup, save_setup
from whoknows.errors import InputError
from whoknows.intent_records import create_intent, list_intents, load_intent, mark_delivered
from whoknows.intents import make_intent
from whoknows.ledger import open_ledger

TODAY = date(2026, 12, 6)


@pytest.fixture
def ledger():
    with open_ledger() as opened:
        save_setup(opened, parse_setup(base="me@mail.example"))
        get_or_create(opened, "shop.example")
        yield opened


def test_an_intent_to_a_vendor_without_an_alias_records_nothing_at_all(ledger):
    intent = make_intent("a lamp", "2026-12-31", "en", TODAY)
    with pytest.raises(InputError, match="'whoknows alias new lamps.example'"):
        create_intent(ledger, intent, [("shop.example", "a@shop.example"), ("lamps.example", "b@lamps.example")])
    with pytest.raises(InputError, match="named twice"):
        create_intent(ledger, intent, [("shop.example", "a@shop.example"), ("shop.example", "b@shop.example")])
    assert list_intents(ledger, TODAY) == []


def test_a_sent_message_stays_sent_and_each_message_has_its_own_id(ledger):
    get_or_create(ledger, "lamps.example")
    record = create_intent(ledger, make_intent("a lamp", "2026-12-31", "en", TODAY),
                           [("shop.example", "a@shop.example"), ("lamps.example", "b@lamps.example")])
    assert len({m.message_id for m in record.messages}) == 2
    assert all(m.message_id.endswith("@mail.example>") for m in record.messages)
    first = record.messages[0]
    mark_delivered(ledger, first, "sent")
    mark_delivered(ledger, first, "written")  # writing the .eml again does not unsend it
    assert [m.state for m in load_intent(ledger, record.id).messages] == ["sent", "unsent"]


def test_an_intent_expires_after_its_last_day(ledger):
    create_intent(ledger, make_intent("a lamp", "2026-12-31", "en", TODAY), [("shop.example", "a@shop.example")])
    assert [i["expired"] for i in list_intents(ledger, date(2026, 12, 31))] == [False]
    assert [i["expired"] for i in list_intents(ledger, date(2027, 1, 1))] == [True]
