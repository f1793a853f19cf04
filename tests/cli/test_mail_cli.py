"""`whoknows mail scan` and `whoknows prefs --check` over a generated mbox, Maildir and .eml files."""

import json
import mailbox

import pytest

from cli_runner import ok, run
from whoknows import aliases
from whoknows.ledger import open_ledger
from whoknows.mail_records import store_scan
from whoknows.mailscan import scan_paths
from whoknows.preferences import set_preferences


def message(sender: str, to: str, date: str, message_id: str | None, *, marketing: bool = False,
            extra: str = "") -> bytes:
    lines = [f"From: Someone <{sender}>", f"To: {to}", f"Date: {date}", "Subject: hello"]
    if message_id:
        lines.append(f"Message-ID: <{message_id}>")
    if marketing:
        lines.append("List-Unsubscribe: <mailto:unsubscribe@list.example>")
    return ("\n".join(lines) + extra + "\n\nbody\n").encode()


@pytest.fixture
def shop_alias():
    with open_ledger() as ledger:
        aliases.save_setup(ledger, aliases.parse_setup(base="me@mail.example"))
        shop, _ = aliases.get_or_create(ledger, "shop.example")
        bild, _ = aliases.get_or_create(ledger, "bild.de")
    return shop, bild


@pytest.fixture
def messages(shop_alias):
    shop, bild = shop_alias
    return [
        message("orders@shop.example", shop, "Mon, 04 Mar 2024 10:00:00 +0000", "1@shop.example"),
        message("news@news.shop.example", shop, "Tue, 05 Mar 2024 10:00:00 +0000", "2@shop.example", marketing=True),
        message("deals@shop.example", shop, "Wed, 06 Mar 2024 10:00:00 +0100", "3@shop.example", marketing=True),
        message("win@spam.example", shop, "Sat, 09 Mar 2024 08:00:00 +0000", "4@spam.example"),
        message("win@spam.example", f"Other <{shop}>", "Sun, 07 Apr 2024 08:00:00 +0000", None),
        message("service@autobild.de", bild, "Mon, 01 Apr 2024 09:00:00 +0000", "5@autobild.de"),
        message("friend@friends.example", "me@mail.example", "Mon, 01 Apr 2024 09:00:00 +0000", "6@friends.example"),
        b"To: nobody@mail.example\nSubject: no sender\n\nbody\n",  # malformed: no From
    ]


def make_mbox(path, raw_messages):
    box = mailbox.mbox(path)
    for raw in raw_messages:
        box.add(raw)
    box.flush()
    box.close()
    return path


def make_maildir(path, raw_messages):
    box = mailbox.Maildir(path, create=True)
    for raw in raw_messages:
        box.add(raw)
    return path


def test_scanning_an_mbox_attributes_alias_mail_and_records_who_leaked(tmp_path, messages, shop_alias):
    shop, bild = shop_alias
    report = json.loads(ok("mail", "scan", str(make_mbox(tmp_path / "inbox", messages)), "--json").stdout)
    assert (report["messages"], report["new"], report["already_known"]) == (7, 7, 0)
    assert [s["reason"] for s in report["skipped"]] == ["no usable From address"]
    by_alias = {entry["alias"]: entry for entry in report["aliases"]}
    assert by_alias[shop] == {
        "alias": shop, "vendor": "shop.example", "state": "active", "messages": 5, "vendor_messages": 3,
        "foreign_messages": 2, "foreign_senders": ["spam.example"], "first_foreign": "2024-03-09T08:00:00Z"}
    assert (by_alias[bild]["vendor_messages"], by_alias[bild]["foreign_messages"]) == (1, 0)  # one company
    holders = json.loads(ok("knows", "alias", shop, "--json").stdout)
    [mail] = [h for h in holders if h["source"] == "mail"]
    assert (mail["vendor"], mail["first_seen"], mail["last_seen"]) == (
        "spam.example", "2024-03-09T08:00:00Z", "2024-04-07T08:00:00Z")
    assert mail["evidence"]["alias_of"] == "shop.example" and mail["evidence"]["sender"] == "win@spam.example"
    text = ok("mail", "scan", str(tmp_path / "inbox")).stdout
    assert f"shop.example shared or leaked {shop}: mail from spam.example since 2024-03-09" in text


def test_scanning_again_in_another_format_adds_nothing_twice(tmp_path, messages):
    ok("mail", "scan", str(make_mbox(tmp_path / "inbox", messages)))
    maildir = make_maildir(tmp_path / "Maildir", messages)
    eml = tmp_path / "copy.eml"
    eml.write_bytes(messages[0].replace(b"\n", b"\r\n"))
    with open_ledger() as ledger:
        before = [ledger.query(f"SELECT count(*) FROM {t}")[0][0] for t in ("mail_messages", "mail_alias_hits", "disclosures")]
    report = json.loads(ok("mail", "scan", str(maildir), str(eml), "--json").stdout)
    assert (report["new"], report["already_known"], report["duplicates"], report["new_alias_hits"]) == (0, 7, 1, 0)
    with open_ledger() as ledger:
        after = [ledger.query(f"SELECT count(*) FROM {t}")[0][0] for t in ("mail_messages", "mail_alias_hits", "disclosures")]
    assert after == before == [7, 6, 1]


def test_the_ledger_keeps_no_body_subject_or_real_address(tmp_path, messages):
    ok("mail", "scan", str(make_mbox(tmp_path / "inbox", messages)))
    with open_ledger() as ledger:
        dump = "\n".join(line for line in ledger.db.iterdump() if line.startswith("INSERT"))  # the rows
    assert "hello" not in dump and "body" not in dump.replace("nobody", "")
    assert "me@mail.example" not in dump and "friend@friends.example" not in dump


def test_a_path_that_does_not_exist_fails_before_anything_is_written(tmp_path, messages):
    good = make_mbox(tmp_path / "inbox", messages)
    result = run("mail", "scan", str(good), str(tmp_path / "missing"))
    assert result.exit_code == 2 and "missing: no such file or directory" in result.stderr
    with open_ledger() as ledger:
        assert ledger.query("SELECT count(*) FROM mail_messages")[0][0] == 0
    assert run("mail", "scan").exit_code == 2


def test_scanning_what_is_not_mail_is_an_error_and_writes_nothing(tmp_path, messages):
    good = make_mbox(tmp_path / "inbox", messages)
    binary = tmp_path / "archive.zip"
    binary.write_bytes(b"PK\x03\x04" + bytes(range(256)) * 4)
    empty = tmp_path / "empty.mbox"
    empty.write_bytes(b"")
    for path, message in (("/dev/null", "/dev/null is empty: not mail"),
                          (str(binary), f"{binary} is binary data, not mail"),
                          (str(empty), f"{empty} is empty: not mail")):
        result = run("mail", "scan", str(good), path)
        assert result.exit_code == 2 and result.stderr.startswith(f"whoknows: error: {message}"), result.stderr
    with open_ledger() as ledger:
        assert ledger.query("SELECT count(*) FROM mail_messages")[0][0] == 0


def test_a_mailbox_of_nothing_but_garbage_is_counted_and_skipped(tmp_path):
    folder = tmp_path / "emls"
    folder.mkdir()
    (folder / "a.eml").write_bytes(b"")
    (folder / "b.eml").write_bytes(b"\x00\xff garbage without headers")
    report = json.loads(ok("mail", "scan", str(folder), "--json").stdout)
    assert report["messages"] == 0 and len(report["skipped"]) == 2


def test_store_scan_is_idempotent_and_picks_up_an_alias_made_after_the_first_scan(tmp_path, messages, shop_alias):
    shop, _ = shop_alias
    mbox = make_mbox(tmp_path / "inbox", messages)
    with open_ledger() as ledger:
        row = ledger.query("SELECT * FROM aliases WHERE address = ?", (shop,))[0]
        ledger.db.execute("DELETE FROM aliases WHERE address = ?", (shop,))
        first = store_scan(ledger, scan_paths([mbox]), same_company=lambda a, b: False)
        assert first.new_hits == 1  # only bild.de's alias is known (and autobild.de is foreign here)
        ledger.db.execute("INSERT INTO aliases (vendor_id, address, created_at, state) VALUES (?, ?, ?, ?)",
                          (row["vendor_id"], row["address"], row["created_at"], row["state"]))
        second = store_scan(ledger, scan_paths([mbox]), same_company=lambda a, b: False)
        assert (second.new_messages, second.new_hits, second.foreign_hits) == (0, 5, 2)
        third = store_scan(ledger, scan_paths([mbox]), same_company=lambda a, b: False)
        assert (third.new_messages, third.new_hits) == (0, 0)


def test_prefs_check_names_vendors_over_their_limit_and_marketing_after_a_no(tmp_path, messages):
    ok("mail", "scan", str(make_mbox(tmp_path / "inbox", messages)))
    assert ok("prefs", "--check").stdout.startswith("no vendor has a limit")
    with open_ledger() as ledger:
        # said on 5 March, midday: the marketing of the 6th breaches it, that of the 5th does not
        set_preferences(ledger, "shop.example", {"max_per_month": 2, "marketing": False}, at="2024-03-05T12:00:00Z")
        set_preferences(ledger, "spam.example", {"max_per_month": 5})
    result = run("prefs", "--check", "--json")
    assert result.exit_code == 1  # a breach reported: scripts can tell
    report = json.loads(result.stdout)
    assert report["vendors_checked"] == 2
    found = [(b["vendor"], b["rule"], b["month"], b["messages"], b["since"], b["dates"]) for b in report["breaches"]]
    assert found == [
        ("shop.example", "max-per-month", "2024-03", 3, "2024-03-05T12:00:00Z",
         ["2024-03-04T10:00:00Z", "2024-03-05T10:00:00Z", "2024-03-06T09:00:00Z"]),
        ("shop.example", "no-marketing", None, 1, "2024-03-05T12:00:00Z", ["2024-03-06T09:00:00Z"]),
    ]
    text = run("prefs", "--check")
    assert text.exit_code == 1
    assert ("shop.example sent 3 messages in 2024-03, over your limit of 2 a month (set on 2024-03-05): "
            "2024-03-04, 2024-03-05, 2024-03-06") in text.stdout
    assert "shop.example sent 1 marketing messages after you said no on 2024-03-05: 2024-03-06" in text.stdout
    within = run("prefs", "spam.example", "--check", "--json")
    assert (within.exit_code, json.loads(within.stdout)["breaches"]) == (0, [])


def test_prefs_check_judges_each_message_by_the_preferences_in_force_when_it_arrived(tmp_path, shop_alias):
    shop, _ = shop_alias
    mail = [message("news@shop.example", shop, f"{day} Mar 2024 10:00:00 +0000", f"{day}@shop.example", marketing=True)
            for day in ("04", "06", "08", "10", "12")]
    ok("mail", "scan", str(make_mbox(tmp_path / "inbox", mail)))
    with open_ledger() as ledger:
        set_preferences(ledger, "shop.example", {"marketing": False}, at="2024-03-05T00:00:00Z")
        # changing another preference later must not forgive the marketing of the 6th and the 8th
        set_preferences(ledger, "shop.example", {"notes": "only receipts"}, at="2024-03-07T00:00:00Z")
        set_preferences(ledger, "shop.example", {"marketing": True}, at="2024-03-09T00:00:00Z")  # yes from the 9th
        set_preferences(ledger, "shop.example", {"marketing": False}, at="2024-03-11T00:00:00Z")  # no again
        set_preferences(ledger, "shop.example", {"max_per_month": 4}, at="2024-03-11T06:00:00Z")
    result = run("prefs", "--check", "--json")
    assert result.exit_code == 1
    assert [(b["rule"], b["since"], b["messages"], [d[:10] for d in b["dates"]])
            for b in json.loads(result.stdout)["breaches"]] == [
        ("max-per-month", "2024-03-11T06:00:00Z", 5, ["2024-03-04", "2024-03-06", "2024-03-08", "2024-03-10",
                                                      "2024-03-12"]),  # the 5th of the month, under a limit of 4
        ("no-marketing", "2024-03-05T00:00:00Z", 2, ["2024-03-06", "2024-03-08"]),  # not the 4th: before the no
        ("no-marketing", "2024-03-11T00:00:00Z", 1, ["2024-03-12"]),  # not the 10th: a yes was in force
    ]


def test_prefs_check_bad_input():
    result = run("prefs")
    assert result.exit_code == 2 and "missing argument VENDOR" in result.stderr
    result = run("prefs", "--check", "--max-per-month", "3")
    assert result.exit_code == 2 and "--check only reads" in result.stderr
    assert run("prefs", "nowhere.example", "--check").exit_code == 1
