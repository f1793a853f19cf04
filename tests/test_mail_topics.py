"""whoknows.mail_topics: what a mail is about, from its own signals, in English and Spanish."""

import pytest

from whoknows.mail_topics import (
    MARKETING_TOPICS, TOPICS, check_topics, classify, is_direct_marketing, recipients_key, subject_key,
)


@pytest.mark.parametrize("subject, topic, keyword", [
    # English
    ("Your order #1001 has shipped", "orders", "your order"),
    ("Invoice INV-7 for March", "orders", "invoice"),
    ("Reset your password", "account", "password"),
    ("Spring sale: 30% off everything", "offers", "sale"),
    ("Exclusive discounts for members", "offers", "discount*"),
    ("The Weekly Newsletter", "newsletter", "newsletter"),
    ("Join our webinar on Thursday", "events", "webinar"),
    ("How did we do? A 2-minute survey", "surveys", "survey"),
    # Spanish, with and without accents
    ("Tu pedido #1002 ha sido enviado", "orders", "tu pedido"),
    ("Factura de marzo", "orders", "factura"),
    ("Cambia tu contraseña", "account", "contrasena"),
    ("¡Rebajas de primavera!", "offers", "rebaja*"),
    ("Cupón: 10 € para ti", "offers", "cupon*"),
    ("Boletín de novedades", "newsletter", "boletin"),
    ("Te invitamos a nuestro evento", "events", "evento*"),
    ("Te invitamos a la presentación", "events", "te invitamos"),
    ("Danos tu opinión: encuesta", "surveys", "encuesta"),
])
def test_subject_keywords_name_the_topic_and_say_which_keyword(subject, topic, keyword):
    found = classify(subject, "hello@shop.example")
    assert topic in found.topics
    assert f"{topic} <- subject: '{keyword}'" in found.reasons


def test_keywords_match_whole_words_only():
    # "sale" is not in "wholesale", "news" is not in "newsroom", "event" not in "prevent"
    assert classify("Wholesale prices in our newsroom to prevent delays", "anna@shop.example").topics == ()


@pytest.mark.parametrize("sender, topic", [
    ("orders@shop.example", "orders"), ("pedidos@tienda.example", "orders"), ("billing+eu@shop.example", "orders"),
    ("security@shop.example", "account"), ("seguridad@tienda.example", "account"),
    ("deals@shop.example", "offers"), ("ofertas@tienda.example", "offers"),
    ("newsletter@shop.example", "newsletter"), ("boletin@tienda.example", "newsletter"),
    ("news-es@shop.example", "newsletter"),
    ("events@shop.example", "events"), ("eventos@tienda.example", "events"),
    ("feedback@shop.example", "surveys"), ("encuestas@tienda.example", "surveys"),
])
def test_the_sender_mailbox_names_the_topic(sender, topic):
    found = classify("Hello", sender)
    assert found.topics == (topic,)
    assert found.reasons == (f"{topic} <- sender: {sender.split('@')[0].split('+')[0]}@",)


@pytest.mark.parametrize("headers, signals", [
    ({"list_id": True}, ["List-Id"]),
    ({"list_unsubscribe": True}, ["List-Unsubscribe"]),
    ({"precedence": "Bulk"}, ["Precedence: bulk"]),
    ({"precedence": "list"}, ["Precedence: list"]),
    ({"list_id": True, "list_unsubscribe": True, "precedence": "bulk"},
     ["List-Id", "List-Unsubscribe", "Precedence: bulk"]),
])
def test_list_signals_alone_make_a_newsletter(headers, signals):
    found = classify("Hello", "hello@shop.example", **headers)
    assert found.topics == ("newsletter",)
    assert found.reasons == tuple(f"newsletter <- {signal}" for signal in signals)


def test_list_signals_do_not_override_what_subject_or_sender_say():
    # an order confirmation sent through a mailing service that adds List-Unsubscribe to every mail
    found = classify("Your order has shipped", "orders@shop.example", list_unsubscribe=True)
    assert found.topics == ("orders",)
    assert not is_direct_marketing(found.topics, bulk=True)


def test_noreply_and_a_plain_subject_decide_nothing():
    assert classify("Hello", "noreply@shop.example").topics == ()
    assert classify("Hello", "no-reply@shop.example", precedence="junk").topics == ()  # junk: not a list


def test_a_mail_can_be_on_several_topics_each_with_its_reason():
    found = classify("Newsletter: 20% off this week", "newsletter@shop.example")
    assert found.topics == ("offers", "newsletter")
    assert found.reasons == ("offers <- subject: '% off'", "newsletter <- subject: 'newsletter'",
                             "newsletter <- sender: newsletter@")
    assert found.marketing


def test_direct_marketing():
    assert is_direct_marketing(("offers",), bulk=False)
    assert is_direct_marketing((), bulk=True)  # sent in bulk, on no topic we know
    assert not is_direct_marketing(("orders",), bulk=True)
    assert not is_direct_marketing((), bulk=False)
    assert MARKETING_TOPICS == {"offers", "newsletter", "events", "surveys"}


def test_subject_key_ignores_case_space_accents_and_reply_prefixes_but_not_the_sender():
    key = subject_key("news@shop.example", "Novedades de  Marzo")
    assert key == subject_key("NEWS@shop.example", "novedades de marzo")
    assert key == subject_key("news@shop.example", "Re: Fwd: Novedádes de marzo")
    assert key != subject_key("other@shop.example", "Novedades de marzo")
    assert key != subject_key("news@shop.example", "Novedades de abril")
    assert subject_key("news@shop.example", "  ") is None and subject_key("news@shop.example", None) is None
    assert "marzo" not in key


def test_recipients_key_is_the_set_of_addresses_salted():
    assert recipients_key(["a@x.example", "B@x.example"], "k") == recipients_key(["b@x.example", "a@x.example"], "k")
    assert recipients_key(["a@x.example"], "k") != recipients_key(["b@x.example"], "k")
    assert recipients_key(["a@x.example"], "k") != recipients_key(["a@x.example"], "other mail")


def test_check_topics_keeps_vocabulary_order_and_refuses_unknown_topics():
    assert check_topics(["Surveys", "orders", "orders"]) == ["orders", "surveys"]
    with pytest.raises(ValueError, match="unknown topic 'spam' \\(one of orders, account, offers"):
        check_topics(["orders", "spam"])
    assert list(TOPICS)[:3] == ["orders", "account", "offers"]


def test_the_docs_tables_are_the_vocabulary_and_the_rules():
    from pathlib import Path

    from whoknows.mail_records import RULES

    text = (Path(__file__).parent.parent / "docs" / "preferences.md").read_text()
    topics = [f"| `{name}` | {what} | {'marketing' if marketing else 'service'} |"
              for name, (what, marketing) in TOPICS.items()]
    rules = [f"| `{rule}` | {what} |" for rule, what in RULES.items()]
    lines = text.splitlines()
    assert [line for line in lines if line.startswith("| `") and line.endswith(("| service |", "| marketing |"))] == topics
    assert all(rule in lines for rule in rules)
    readme = (Path(__file__).parent.parent / "README.md").read_text()
    assert f"`--topic`: {', '.join(TOPICS)})" in readme
