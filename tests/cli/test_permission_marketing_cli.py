"""Permission marketing kept to its word (issue 15, item 3): `whoknows prefs` with topics, a weekly
limit and an opt-out; `prefs --check` over a generated mailbox with known violations of each kind
and known clean mail reports exactly those."""

import json
import mailbox
from email.message import EmailMessage

import pytest

from cli_runner import ok, run
from whoknows import aliases
from whoknows.ledger import open_ledger
from whoknows.preferences import set_preferences

ME = "me@mail.example"  # your own address, which the vendor should not have besides its alias


def mail(sender: str, to: str, date: str, subject: str, message_id: str, **headers) -> EmailMessage:
    message = EmailMessage()
    message["From"] = f"Shop <{sender}>"
    message["To"] = to
    message["Delivered-To"] = to
    message["Date"] = f"{date} +0000"
    message["Subject"] = subject
    message["Message-ID"] = f"<{message_id}>"
    for name, value in headers.items():
        message[name.replace("_", "-")] = value
    message.set_content("Hola, body text that must never reach the ledger.\n")
    return message


@pytest.fixture
def alias():
    with open_ledger() as ledger:
        aliases.save_setup(ledger, aliases.parse_setup(base=ME))
        address, _ = aliases.get_or_create(ledger, "shop.example")
    return address


LIST = {"List_Id": "Shop news <news.shop.example>", "List_Unsubscribe": "<mailto:leave@shop.example>"}


@pytest.fixture
def mailbox_file(tmp_path, alias):
    """March 2024. You allow shop.example orders and its newsletter, at most 5 a week, from 1 March;
    you withdrew consent on 25 March (recorded on the 27th)."""
    a = alias
    messages = [
        # week 10: clean
        mail("orders@shop.example", a, "Mon, 04 Mar 2024 10:00:00", "Your order #1001 has shipped", "m1@shop.example"),
        mail("newsletter@shop.example", a, "Tue, 05 Mar 2024 10:00:00", "Shop news: March", "m2@shop.example", **LIST),
        mail("anna@shop.example", a, "Wed, 06 Mar 2024 10:00:00", "Hello", "m2b@shop.example"),  # no topic: not judged
        # week 11: two off-topic mails (Spanish offers, an English survey) and 6 mails over the limit of 5
        mail("ofertas@shop.example", a, "Mon, 11 Mar 2024 09:00:00", "¡Rebajas de primavera: 30% de descuento!",
             "m3@shop.example", List_Unsubscribe="<mailto:leave@shop.example>"),
        mail("noreply@shop.example", a, "Tue, 12 Mar 2024 09:00:00", "How did we do? A quick survey", "m4@shop.example"),
        *[mail("newsletter@shop.example", a, f"{day} Mar 2024 09:00:00", f"Shop news: {day}", f"w{day[-2:]}@shop.example",
               **LIST) for day in ("Wed, 13", "Thu, 14", "Fri, 15", "Sat, 16")],
        # week 12: the same mailing to your alias and to your own address (two Message-IDs) ...
        mail("newsletter@shop.example", a, "Mon, 18 Mar 2024 08:00:00", "Spring digest", "m9a@shop.example", **LIST),
        mail("newsletter@shop.example", ME, "Mon, 18 Mar 2024 08:05:00", "Spring  DIGEST", "m9b@shop.example", **LIST),
        # ... one message (one Message-ID) delivered to both ...
        mail("newsletter@shop.example", a, "Tue, 19 Mar 2024 08:00:00", "Extra news", "m10@shop.example", **LIST),
        mail("newsletter@shop.example", ME, "Tue, 19 Mar 2024 08:00:00", "Extra news", "m10@shop.example", **LIST),
        # ... and one mailing sent twice to the same alias
        mail("newsletter@shop.example", a, "Tue, 19 Mar 2024 20:00:00", "Last call", "m11a@shop.example", **LIST),
        mail("newsletter@shop.example", a, "Tue, 19 Mar 2024 20:30:00", "Last call", "m11b@shop.example", **LIST),
        # a copy of a message you keep twice (same Message-ID, same address): not a duplicate mailing
        mail("orders@shop.example", a, "Mon, 04 Mar 2024 10:00:00", "Your order #1001 has shipped", "m1@shop.example"),
        # week 13: opted out on the 25th: that day's newsletter is forgiven, the 26th's and 28th's are not
        mail("newsletter@shop.example", a, "Mon, 25 Mar 2024 15:00:00", "Shop news: Easter", "m12@shop.example", **LIST),
        mail("newsletter@shop.example", a, "Tue, 26 Mar 2024 09:00:00", "Shop news: more Easter", "m13@shop.example",
             **LIST),
        mail("pedidos@shop.example", a, "Wed, 27 Mar 2024 09:00:00", "Tu pedido #1002 ha sido enviado",
             "m14@shop.example"),  # an order after the opt-out is fine
        mail("newsletter@shop.example", a, "Thu, 28 Mar 2024 09:00:00", "Shop news: April", "m15@shop.example", **LIST),
        # a daily mailing with the same subject is a new mailing each day, not a duplicate
        mail("friend@friends.example", ME, "Thu, 28 Mar 2024 09:00:00", "Shop news: April", "f1@friends.example"),
    ]
    path = tmp_path / "inbox.mbox"
    box = mailbox.mbox(path)
    for message in messages:
        box.add(message)
    box.flush()
    box.close()
    return path


def _prefs():
    with open_ledger() as ledger:
        set_preferences(ledger, "shop.example", {"topics": ["orders", "newsletter"], "max_per_week": 5},
                        at="2024-03-01T00:00:00Z")
        set_preferences(ledger, "shop.example", {"opted_out_on": "2024-03-25"}, at="2024-03-27T00:00:00Z")


def test_prefs_check_reports_exactly_the_known_violations(mailbox_file, alias):
    ok("mail", "scan", str(mailbox_file))
    _prefs()
    result = run("prefs", "--check", "--json")
    assert result.exit_code == 1, result.stderr
    report = json.loads(result.stdout)
    assert report["vendors_checked"] == 1
    found = [(b["vendor"], b["rule"], b["week"], b["since"], [m["message"] for m in b["mails"]], b["messages"])
             for b in report["breaches"]]
    week_11 = ["<m3@shop.example>", "<m4@shop.example>"] + [f"<w{day}@shop.example>" for day in (13, 14, 15, 16)]
    assert found == [
        ("shop.example", "after-opt-out", None, "2024-03-25", ["<m13@shop.example>", "<m15@shop.example>"], 2),
        ("shop.example", "duplicate", None, None, ["<m9a@shop.example>", "<m9b@shop.example>"], 2),
        ("shop.example", "duplicate", None, None, ["<m10@shop.example>"], 2),
        ("shop.example", "duplicate", None, None, ["<m11a@shop.example>", "<m11b@shop.example>"], 2),
        ("shop.example", "max-per-week", "2024-W11", "2024-03-01T00:00:00Z", week_11, 6),
        ("shop.example", "topic", None, "2024-03-01T00:00:00Z", ["<m3@shop.example>", "<m4@shop.example>"], 2),
    ]
    by_rule = {}
    for breach in report["breaches"]:
        by_rule.setdefault(breach["rule"], []).append(breach)
    assert [b["duplicate"] for b in by_rule["duplicate"]] == ["two-addresses", "two-addresses", "sent-twice"]
    [topic] = by_rule["topic"]
    assert topic["allowed"] == ["orders", "newsletter"]
    assert [(m["topics"], m["reasons"]) for m in topic["mails"]] == [
        (["offers"], ["offers <- subject: 'descuento*'", "offers <- sender: ofertas@"]),
        (["surveys"], ["surveys <- subject: 'survey'"]),
    ]
    assert topic["mails"][0]["alias"] == alias
    [weekly] = by_rule["max-per-week"]
    assert (weekly["limit"], weekly["month"]) == (5, None)


def test_prefs_check_text_groups_by_vendor(mailbox_file):
    ok("mail", "scan", str(mailbox_file))
    _prefs()
    result = run("prefs", "--check")
    assert result.exit_code == 1
    lines = result.stdout.splitlines()
    assert lines[0] == "shop.example: 6 breaches"
    assert ("  shop.example sent 2 marketing messages after you withdrew consent on 2024-03-25: 2024-03-26, "
            "2024-03-28") in lines
    assert "  shop.example sent the same mailing 2 times, to two of your addresses: 2024-03-18, 2024-03-18" in lines
    assert "  shop.example sent the same mailing 2 times, twice to the same address: 2024-03-19, 2024-03-19" in lines
    assert ("  shop.example sent 6 messages in week 2024-W11, over your limit of 5 a week (set on 2024-03-01): "
            "2024-03-11, 2024-03-12, 2024-03-13, 2024-03-14, 2024-03-15, 2024-03-16") in lines
    assert any(line.startswith("  shop.example sent 2 messages on topics you did not allow (you allow: orders, "
                               "newsletter, since 2024-03-01): 2024-03-11 (offers <- subject: 'descuento*'")
               for line in lines)
    assert "whoknows request object VENDOR --from-check" in result.stderr


def test_opt_out_judges_marketing_only_from_the_day_after_and_yes_ends_it(mailbox_file):
    ok("mail", "scan", str(mailbox_file))
    with open_ledger() as ledger:
        set_preferences(ledger, "shop.example", {"opted_out_on": "2024-03-25"}, at="2024-03-27T00:00:00Z")
        set_preferences(ledger, "shop.example", {"marketing": True}, at="2024-03-28T00:00:00Z")  # consent again
    report = json.loads(run("prefs", "--check", "--json").stdout)
    [after] = [b for b in report["breaches"] if b["rule"] == "after-opt-out"]
    assert after["dates"] == ["2024-03-26T09:00:00Z"]  # the 28th came after the yes
    assert not [b for b in report["breaches"] if b["rule"] == "no-marketing"]  # not reported twice


def test_a_clean_mailbox_passes(tmp_path, alias):
    box = mailbox.mbox(tmp_path / "clean.mbox")
    box.add(mail("orders@shop.example", alias, "Mon, 04 Mar 2024 10:00:00", "Your order has shipped", "c1@shop.example"))
    box.add(mail("newsletter@shop.example", alias, "Tue, 05 Mar 2024 10:00:00", "Boletín de marzo", "c2@shop.example",
                 **LIST))
    box.flush()
    ok("mail", "scan", str(tmp_path / "clean.mbox"))
    _prefs()
    result = run("prefs", "--check", "--json")
    assert (result.exit_code, json.loads(result.stdout)["breaches"]) == (0, [])
    assert ok("prefs", "--check").stdout == "checked 1 vendors against your scanned mail: all within your preferences\n"


def test_the_ledger_keeps_no_subject_body_or_own_address(mailbox_file):
    ok("mail", "scan", str(mailbox_file))
    with open_ledger() as ledger:
        dump = "\n".join(line for line in ledger.db.iterdump() if line.startswith("INSERT"))
        kept = ledger.query("SELECT topics, topic_reasons, subject_key, reached FROM mail_messages "
                            "WHERE identity = '<m10@shop.example>'")[0]
    # only the vocabulary's keyword that matched is kept as a reason ('descuento*', 'digest'), never the rest
    for word in ("primavera", "Rebajas", "Spring", "Easter", "quick", "Hola", "body text", ME):
        assert word not in dump, word
    assert json.loads(kept[0]) == ["newsletter"] and len(json.loads(kept[3])) == 2 and len(kept[2]) == 32


def test_setting_topics_weekly_limit_and_opt_out():
    result = ok("prefs", "shop.example", "--topic", "orders", "--topic", "NEWSLETTER", "--max-per-week", "1")
    assert result.stdout == "shop.example: topics: orders, newsletter; at most 1 a week\n"
    assert ok("prefs", "shop.example", "--opt-out", "2026-03-01").stdout == (
        "shop.example: marketing: no; topics: orders, newsletter; at most 1 a week; opted out on 2026-03-01\n")
    shown = json.loads(ok("prefs", "shop.example", "--json").stdout)["preferences"]
    assert (shown["topics"], shown["max_per_week"], shown["opted_out_on"], shown["marketing"]) == (
        ["orders", "newsletter"], 1, "2026-03-01", False)
    assert ok("prefs", "shop.example", "--marketing").stdout == (
        "shop.example: marketing: yes; topics: orders, newsletter; at most 1 a week\n")  # a yes ends the opt-out
    assert ok("prefs", "shop.example", "--topic", "none").stdout == (
        "shop.example: marketing: yes; topics: none; at most 1 a week\n")
    today = ok("prefs", "shop.example", "--opt-out", "--json")
    from datetime import date
    assert json.loads(today.stdout)["preferences"]["opted_out_on"] == date.today().isoformat()


@pytest.mark.parametrize("args, message", [
    (["--topic", "spam"], "Invalid value for '--topic': 'spam' is not one of"),
    (["--max-per-week", "-1"], "Invalid value for '--max-per-week': -1 is not in the range x>=0."),
    (["--opt-out", "March"], "--opt-out: 'March' is not a date (YYYY-MM-DD)"),
    (["--opt-out", "2026-03-01", "--marketing"], "an opt-out withdraws consent to marketing"),
])
def test_bad_topics_limits_and_opt_outs_are_exit_2_and_write_nothing(args, message):
    result = run("prefs", "shop.example", *args)
    assert result.exit_code == 2, result.stderr
    assert result.stderr.startswith(f"whoknows: error: {message}"), result.stderr
    with open_ledger() as ledger:
        assert ledger.query("SELECT count(*) FROM vendors")[0][0] == 0


def test_request_object_from_check_lists_the_mails_and_their_rules(mailbox_file, alias, tmp_path):
    ok("mail", "scan", str(mailbox_file))
    _prefs()
    ok("vendor", "add", "shop.example", "--privacy-contact", "privacy@shop.example")
    result = json.loads(ok("request", "object", "shop.example", "--from-check", "--json", "--date", "2024-04-02").stdout)
    listed = {mail["message"]: mail["rules"] for mail in result["mails"]}
    assert listed == {
        "<m3@shop.example>": ["topic", "max-per-week"], "<m4@shop.example>": ["topic", "max-per-week"],
        "<w13@shop.example>": ["max-per-week"], "<w14@shop.example>": ["max-per-week"],
        "<w15@shop.example>": ["max-per-week"], "<w16@shop.example>": ["max-per-week"],
        "<m9a@shop.example>": ["duplicate"], "<m9b@shop.example>": ["duplicate"], "<m10@shop.example>": ["duplicate"],
        "<m11a@shop.example>": ["duplicate"], "<m11b@shop.example>": ["duplicate"],
        "<m13@shop.example>": ["after-opt-out"], "<m15@shop.example>": ["after-opt-out"],
    }
    body = " ".join(result["body"].split())
    assert result["kind"] == "object" and "Article 7(3)" in body and "withdrew my consent on 25 March 2024" in body
    assert (f"11 March 2024, 09:00 UTC, message <m3@shop.example>, to {alias}: about offers, which I had not agreed "
            "to (I had agreed to: orders, newsletters)") in body
    assert "<m1@shop.example>" not in body and "<m14@shop.example>" not in body  # clean mail is not listed
    spanish = ok("request", "object", "shop.example", "--from-check", "--lang", "es", "--date", "2024-04-03",
                 "--out", str(tmp_path / "objecion.eml"))
    assert "wrote" in spanish.stderr
    text = (tmp_path / "objecion.eml").read_bytes()
    assert b"Subject: =?utf-8?q?Oposici" in text and b"m13@shop.example" in text
    assert ok("requests", "--json").stdout.count('"kind": "object"') == 2


def test_request_object_from_check_without_a_breach_or_with_another_kind(tmp_path, alias):
    ok("vendor", "add", "shop.example", "--privacy-contact", "privacy@shop.example")
    result = run("request", "object", "shop.example", "--from-check")
    assert result.exit_code == 1
    assert result.stderr.startswith("whoknows: error: 'whoknows prefs --check' finds no mail from shop.example")
    assert json.loads(ok("requests", "--json").stdout) == []  # nothing recorded
    result = run("request", "access", "shop.example", "--from-check")
    assert result.exit_code == 2 and "--from-check goes with 'whoknows request object'" in result.stderr


# -- the channels rule: mail is email -----------------------------------------------------------

AFTER_15_MARCH = ["<w15@shop.example>", "<w16@shop.example>", "<m9a@shop.example>", "<m9b@shop.example>",
                  "<m10@shop.example>", "<m11a@shop.example>", "<m11b@shop.example>", "<m12@shop.example>",
                  "<m13@shop.example>", "<m15@shop.example>"]  # its direct marketing from the 15th (not m14: an order)


def _channels(*changes):
    with open_ledger() as ledger:
        for at, channels in changes:
            set_preferences(ledger, "shop.example", {"channels": channels}, at=at)


def test_marketing_mail_after_channels_without_email_breaks_the_channel_rule(mailbox_file):
    ok("mail", "scan", str(mailbox_file))
    _channels(("2024-03-15T00:00:00Z", ["post", "phone"]))
    result = run("prefs", "--check", "--json")
    assert result.exit_code == 1
    [channel] = [b for b in json.loads(result.stdout)["breaches"] if b["rule"] == "channel"]
    assert [m["message"] for m in channel["mails"]] == AFTER_15_MARCH
    assert (channel["since"], channel["allowed"], channel["messages"]) == ("2024-03-15T00:00:00Z", ["phone", "post"], 10)
    lines = run("prefs", "--check").stdout.splitlines()
    assert any(line.startswith("  shop.example sent 10 marketing messages by email, a channel you did not allow (you "
                               "allow: phone, post, since 2024-03-15): 2024-03-15, 2024-03-16, 2024-03-18")
               for line in lines), lines


def test_allowing_email_again_ends_the_channel_rule_and_email_allowed_is_no_rule(mailbox_file):
    ok("mail", "scan", str(mailbox_file))
    _channels(("2024-03-15T00:00:00Z", ["phone"]), ("2024-03-26T00:00:00Z", ["email", "phone"]))
    [channel] = [b for b in json.loads(run("prefs", "--check", "--json").stdout)["breaches"] if b["rule"] == "channel"]
    assert [m["message"] for m in channel["mails"]] == AFTER_15_MARCH[:8]  # the 26th's and 28th's came after the yes


def test_channels_that_include_email_are_no_rule_for_mail(mailbox_file):
    ok("mail", "scan", str(mailbox_file))
    _channels(("2024-03-01T00:00:00Z", ["email", "post"]))
    result = run("prefs", "--check", "--json")
    assert (result.exit_code, json.loads(result.stdout)) == (0, {"vendors_checked": 0, "breaches": []})


def test_request_object_from_check_names_the_channel_rule_in_both_languages(mailbox_file, alias):
    ok("mail", "scan", str(mailbox_file))
    with open_ledger() as ledger:  # _prefs, with --channel none on the 20th: in the order they were said
        set_preferences(ledger, "shop.example", {"topics": ["orders", "newsletter"], "max_per_week": 5},
                        at="2024-03-01T00:00:00Z")
        set_preferences(ledger, "shop.example", {"channels": []}, at="2024-03-20T00:00:00Z")
        set_preferences(ledger, "shop.example", {"opted_out_on": "2024-03-25"}, at="2024-03-27T00:00:00Z")
    ok("vendor", "add", "shop.example", "--privacy-contact", "privacy@shop.example")
    result = json.loads(ok("request", "object", "shop.example", "--from-check", "--json", "--date", "2024-04-02").stdout)
    listed = {mail["message"]: mail["rules"] for mail in result["mails"]}
    assert listed["<m12@shop.example>"] == ["channel"]
    assert listed["<m13@shop.example>"] == ["after-opt-out", "channel"]
    assert listed["<m15@shop.example>"] == ["after-opt-out", "channel"]
    assert listed["<m11a@shop.example>"] == ["duplicate"]  # the 19th: email was not ruled out yet
    assert "<m14@shop.example>" not in listed  # an order is not marketing
    body = " ".join(result["body"].split())
    assert (f"25 March 2024, 15:00 UTC, message <m12@shop.example>, to {alias}: marketing by email, although on "
            "20 March 2024 I had agreed to no channel of contact at all") in body
    spanish = json.loads(ok("request", "object", "shop.example", "--from-check", "--lang", "es", "--json",
                            "--date", "2024-04-03").stdout)
    assert ("publicidad por correo electrónico, aunque el 20 de marzo de 2024 no había aceptado ningún medio de "
            "contacto") in " ".join(spanish["body"].split())
