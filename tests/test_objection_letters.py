"""The objection that lists the mails breaking your preferences (issue 15, item 3): golden texts in
both languages; each mail once, with every rule it broke; Art. 7(3) only after an opt-out.

After a deliberate change to the wording, regenerate the golden files and review the diff:

    UPDATE_GOLDEN=1 .venv/bin/python -m pytest -q tests/test_objection_letters.py
"""

from __future__ import annotations

import os
from datetime import date, datetime, timezone
from pathlib import Path

import pytest

from whoknows.errors import InputError
from whoknows.letters import (
    CHANNEL_WORDS, LANGUAGES, TOPIC_WORDS, BrokenRule, MarketingMail, VendorFacts, render_request,
)
from whoknows.mail_records import RULES
from whoknows.mail_topics import TOPICS
from whoknows.preferences import CHANNELS

GOLDEN = Path(__file__).parent / "data" / "letters"
ALIAS = "shop.k3x9@alias.example"
VENDOR = VendorFacts("shop.example", "Shop Example S.L.", "privacy@shop.example", "Calle Mayor 1\n28013 Madrid\nSpain")
IDENTIFIERS = [("Email alias", ALIAS)]
SENT_ON = date(2026, 4, 6)


def at(day: int, hour: int = 9) -> datetime:
    return datetime(2026, 3, day, hour, 0, tzinfo=timezone.utc)


OPTED_OUT = BrokenRule("after-opt-out", since=date(2026, 3, 25))
MAILS = [
    MarketingMail(at(11), "<m3@shop.example>", ALIAS, (
        BrokenRule("topic", since=date(2026, 3, 1), topics=("offers",), allowed=("orders", "newsletter")),
        BrokenRule("max-per-week", since=date(2026, 3, 1), limit=5, period="2026-W11", messages=6))),
    MarketingMail(at(12), "<m4@shop.example>", ALIAS, (
        BrokenRule("topic", since=date(2026, 3, 1), topics=("surveys", "events"), allowed=("orders", "newsletter")),)),
    MarketingMail(at(18, 8), "<m9a@shop.example>", ALIAS, (BrokenRule("duplicate", messages=2,
                                                                      duplicate="two-addresses"),)),
    MarketingMail(at(18, 8), "sha256:0123456789abcdef0123456789abcdef", None,
                  (BrokenRule("duplicate", messages=2, duplicate="two-addresses"),)),
    MarketingMail(at(19, 20), "<m11a@shop.example>", ALIAS, (BrokenRule("duplicate", messages=2,
                                                                        duplicate="sent-twice"),)),
    MarketingMail(at(20), "<m12@shop.example>", ALIAS, (BrokenRule("no-marketing", since=date(2026, 3, 19)),
                                                        BrokenRule("max-per-month", limit=8, period="2026-03",
                                                                   messages=12))),
    MarketingMail(at(26), "<m13@shop.example>", ALIAS, (OPTED_OUT,)),
]


def render(lang: str, mails=MAILS, kind: str = "object"):
    return render_request(kind, lang, VENDOR, IDENTIFIERS, SENT_ON, "Alice Martin", marketing_mail=mails)


def as_golden_text(letter) -> str:
    return (f"Subject: {letter.subject}\nTo: {letter.to_name} <{letter.to}>\n"
            f"Deadline: {letter.deadline.isoformat()}\n\n{letter.body}")


@pytest.mark.parametrize("lang", LANGUAGES)
def test_objection_from_check_matches_its_golden_file(lang):
    text = as_golden_text(render(lang))
    path = GOLDEN / f"object-from-check.{lang}.txt"
    if os.environ.get("UPDATE_GOLDEN") == "1":
        path.write_text(text, encoding="utf-8")
    assert path.exists(), f"no golden file {path}; run with UPDATE_GOLDEN=1 and review it"
    assert text == path.read_text(encoding="utf-8")


@pytest.mark.parametrize("lang, article_7, twice", [
    ("en", "Article 7(3)", "more than once in your mailing lists"),
    ("es", "artículo 7, apartado 3", "más de una vez en sus listas de envío"),
])
def test_each_mail_is_listed_once_with_its_rules_and_withdrawal_only_after_an_opt_out(lang, article_7, twice):
    body = " ".join(render(lang).body.split())
    for mail in MAILS:
        shown = mail.message if not mail.message.startswith("sha256:") else mail.message[:19]
        assert body.count(shown) == 1, shown
    assert article_7 in body and twice in body
    without = render(lang, [m for m in MAILS if OPTED_OUT not in m.broke and m.broke[0].rule != "duplicate"])
    assert article_7 not in " ".join(without.body.split()) and twice not in " ".join(without.body.split())
    assert without.subject == render(lang, []).subject  # the plain objection's subject
    assert render(lang).subject != without.subject


def test_every_rule_and_topic_has_words_in_both_languages():
    for lang in LANGUAGES:
        assert set(TOPIC_WORDS[lang]) == set(TOPICS)
        assert set(CHANNEL_WORDS[lang]) == set(CHANNELS)
        for rule in RULES:
            broken = BrokenRule(rule, since=date(2026, 3, 1), limit=1, messages=2, topics=("offers",),
                                allowed=tuple(CHANNELS[1:]) if rule == "channel" else ("orders",),
                                duplicate="sent-twice", period="2026-W11" if rule == "max-per-week" else "2026-03")
            letter = render(lang, [MarketingMail(at(11), "<x@shop.example>", None, (broken,))])
            assert "<x@shop.example>" in letter.body
    channel = BrokenRule("channel", since=date(2026, 3, 1), allowed=("phone", "sms", "post"))
    letter = render("en", [MarketingMail(at(11), "<x@shop.example>", None, (channel,))])
    assert ("marketing by email, although since 1 March 2026 I had agreed to be contacted only by telephone, SMS "
            "and post") in " ".join(letter.body.split())


def test_mails_go_in_an_objection_only():
    with pytest.raises(InputError, match="objection"):
        render("en", kind="access")
