"""Mail scanning on real mbox files, Maildirs and .eml files made in a temporary folder."""

from __future__ import annotations

import hashlib
import mailbox
import os
from datetime import datetime, timezone
from email.message import EmailMessage
from email.utils import format_datetime

import pytest

from whoknows.errors import InputError, WhoknowsError
from whoknows.mailscan import (
    AliasSummary,
    VendorMonth,
    attribute,
    monthly_counts,
    scan_paths,
    summarise,
)

ALIAS = "shop.k3x9@alias.example"
OTHER_ALIAS = "news.p2q7@alias.example"
ALIASES = {ALIAS: "shop.example", OTHER_ALIAS: "paper.example"}
ME = "me@home.example"


def message(sender, to, day=1, month=3, msgid=True, extra=(), subject="Hello") -> EmailMessage:
    msg = EmailMessage()
    msg["From"] = sender
    msg["To"] = to
    msg["Subject"] = subject
    msg["Date"] = format_datetime(datetime(2026, month, day, 9, 30, tzinfo=timezone.utc))
    if msgid:
        digest = hashlib.sha1(repr((sender, to, day, month, subject)).encode()).hexdigest()[:16]
        msg["Message-ID"] = f"<{digest}@{sender.split('@')[1].strip('>')}>"
    for name, value in extra:
        msg[name] = value
    msg.set_content("Dear customer,\n\nThis is a message.\n")
    return msg


def write_mbox(path, messages) -> None:
    box = mailbox.mbox(path, create=True)
    for msg in messages:
        box.add(msg)
    box.flush()
    box.close()


def same_company(vendor: str, site: str) -> bool:
    return {vendor, site} == {"shop.example", "shopgroup.example"}


@pytest.fixture
def inbox(tmp_path):
    """An mbox with vendor mail, a leak, marketing, a sister brand and mail to the real address."""
    path = tmp_path / "inbox.mbox"
    write_mbox(path, [
        message("Shop <orders@shop.example>", ALIAS, day=2),
        message("Shop News <news@mail.shop.example>", ALIAS, day=3,
                extra=[("List-Unsubscribe", "<https://shop.example/unsub>")]),
        message("Group <hello@shopgroup.example>", ALIAS, day=4),
        message("Deals <offers@partner-deals.example>", f"{ALIAS}, {ME}", day=20,
                extra=[("Precedence", "bulk")]),
        message("Deals <offers@partner-deals.example>", ALIAS, day=5, month=4),
        message("Paper <editor@paper.example>", OTHER_ALIAS, day=6),
        message("Friend <friend@home.example>", ME, day=7),
    ])
    return path


def test_vendor_mail_and_foreign_mail_to_an_alias(inbox):
    result = scan_paths([inbox])
    assert (len(result.messages), result.skipped, result.undated) == (7, [], 0)
    hits = attribute(result.messages, ALIASES, same_company)
    verdicts = sorted((h.alias, h.sender_site, h.verdict) for h in hits)
    assert verdicts == [
        (OTHER_ALIAS, "paper.example", "vendor"),
        (ALIAS, "partner-deals.example", "foreign"),
        (ALIAS, "partner-deals.example", "foreign"),
        (ALIAS, "shop.example", "vendor"),
        (ALIAS, "shop.example", "vendor"),
        (ALIAS, "shopgroup.example", "vendor"),
    ]
    summaries = summarise(hits, ALIASES)
    assert summaries == [
        AliasSummary(OTHER_ALIAS, "paper.example", 1, 1, 0, (), None),
        AliasSummary(ALIAS, "shop.example", 5, 3, 2, ("partner-deals.example",),
                     datetime(2026, 3, 20, 9, 30, tzinfo=timezone.utc)),
    ]


def test_without_the_company_directory_a_sister_brand_is_foreign(inbox):
    hits = attribute(scan_paths([inbox]).messages, ALIASES)
    assert {h.sender_site for h in hits if h.verdict == "foreign"} == {"partner-deals.example",
                                                                        "shopgroup.example"}


def test_records_carry_recipients_sender_and_marketing(inbox):
    records = {r.sender_site: r for r in scan_paths([inbox]).messages if r.date.day == 20}
    deal = records["partner-deals.example"]
    assert deal.recipients == (ALIAS, ME)
    assert deal.sender == "offers@partner-deals.example"
    assert deal.marketing is True
    assert deal.as_dict()["date"] == "2026-03-20T09:30:00Z"


def test_monthly_counts_per_vendor(inbox):
    result = scan_paths([inbox])
    hits = attribute(result.messages, ALIASES, same_company)
    assert monthly_counts(result.messages, hits) == [
        VendorMonth("home.example", "2026-03", 1, 0),
        VendorMonth("paper.example", "2026-03", 1, 0),
        VendorMonth("partner-deals.example", "2026-03", 1, 1),
        VendorMonth("partner-deals.example", "2026-04", 1, 0),
        VendorMonth("shop.example", "2026-03", 3, 1),   # mail.shop.example and shopgroup count here
    ]


def test_delivered_to_and_cc_reveal_the_alias_and_the_users_own_mail_is_left_out(tmp_path):
    path = tmp_path / "mail.mbox"
    write_mbox(path, [
        message("Vendor <a@other-vendor.example>", ME, extra=[("Delivered-To", ALIAS.upper())]),
        message("Vendor <b@other-vendor.example>", ME, day=2, extra=[("Cc", f"Me <{ALIAS}>")]),
        message(f"Me <{ALIAS}>", "support@shop.example", day=3, extra=[("Cc", ALIAS)]),
    ])
    hits = attribute(scan_paths([path]).messages, ALIASES)
    assert [(h.alias, h.sender, h.verdict) for h in hits] == [
        (ALIAS, "a@other-vendor.example", "foreign"), (ALIAS, "b@other-vendor.example", "foreign")]


def test_a_sender_without_a_site_is_unknown(tmp_path):
    path = tmp_path / "mail.mbox"
    write_mbox(path, [message("cron <root@localhost>", ALIAS)])
    [hit] = attribute(scan_paths([path]).messages, ALIASES)
    assert (hit.sender_site, hit.verdict) == (None, "unknown")
    assert summarise([hit], ALIASES)[1].foreign_messages == 0


def test_maildir_with_subfolders(tmp_path):
    box = mailbox.Maildir(tmp_path / "Mail", create=True)
    box.add(message("Shop <orders@shop.example>", ALIAS))
    archive = box.add_folder("Archive")
    archive.add(message("Deals <offers@partner-deals.example>", ALIAS, day=9))
    result = scan_paths([tmp_path / "Mail"])
    assert sorted(r.sender_site for r in result.messages) == ["partner-deals.example", "shop.example"]
    assert any("/.Archive#" in r.source for r in result.messages)


def test_eml_files_and_folders_of_them(tmp_path):
    folder = tmp_path / "export"
    (folder / "2026").mkdir(parents=True)
    (folder / "a.eml").write_bytes(bytes(message("Shop <orders@shop.example>", ALIAS)))
    (folder / "2026" / "b.EML").write_bytes(bytes(message("X <x@partner-deals.example>", ALIAS, day=8)))
    (folder / "notes.txt").write_text("not mail")
    single = tmp_path / "c.eml"
    single.write_bytes(bytes(message("Paper <e@paper.example>", OTHER_ALIAS, day=9)))
    result = scan_paths([folder, single])
    assert sorted(r.sender_site for r in result.messages) == [
        "paper.example", "partner-deals.example", "shop.example"]
    assert result.skipped == []


def test_messages_without_message_id_get_a_stable_hash_identity(tmp_path):
    mbox = tmp_path / "a.mbox"
    plain = message("Shop <orders@shop.example>", ALIAS, msgid=False)
    write_mbox(mbox, [plain, message("Shop <orders@shop.example>", ALIAS, day=2, msgid=False)])
    eml = tmp_path / "same.eml"
    eml.write_bytes(plain.as_bytes(policy=plain.policy.clone(linesep="\r\n")))
    first = scan_paths([mbox])
    assert all(r.identity.startswith("sha256:") for r in first.messages)
    assert len({r.identity for r in first.messages}) == 2
    again = scan_paths([mbox])
    assert [r.identity for r in again.messages] == [r.identity for r in first.messages]
    both = scan_paths([mbox, eml])  # the same message exported with CRLF line endings
    assert (len(both.messages), both.duplicates) == (2, 1)


def test_rescanning_gives_the_same_identities(inbox, tmp_path):
    first = [r.identity for r in scan_paths([inbox]).messages]
    assert [r.identity for r in scan_paths([inbox]).messages] == first
    assert all(i.startswith("<") for i in first)


def test_malformed_messages_are_counted_and_skipped(tmp_path):
    good = message("Shop <orders@shop.example>", ALIAS)
    folder = tmp_path / "bad"
    folder.mkdir()
    (folder / "01-good.eml").write_bytes(bytes(good))
    (folder / "02-garbage.eml").write_bytes(b"\x00\xff\xfe\x01 garbage \x80\x81")
    (folder / "03-empty.eml").write_bytes(b"")
    (folder / "04-no-from.eml").write_bytes(b"To: " + ALIAS.encode() + b"\r\nSubject: hi\r\n\r\nbody\r\n")
    (folder / "05-no-recipient.eml").write_bytes(b"From: a@shop.example\r\nSubject: hi\r\n\r\nbody\r\n")
    (folder / "06-broken-from.eml").write_bytes(
        b"From: \xff\xfe <or\xffders@shop.example>\r\nTo: " + ALIAS.encode() + b"\r\n\r\nbody\r\n")
    (folder / "07-broken-subject.eml").write_bytes(
        b"From: =?utf-8?b?!!!?= <orders@shop.example>\r\nTo: " + ALIAS.encode()
        + b"\r\nSubject: \xe9t\xe9 =?x-unknown?q?=ZZ?=\r\nMessage-ID: <broken-subject@shop.example>"
        + b"\r\nDate: the day after tomorrow\r\n\r\n\xff\xfe body\r\n")
    mixed = tmp_path / "mixed.mbox"  # an mbox whose second message is garbage
    mixed.write_bytes(b"From MAILER-DAEMON Thu Jan  1 00:00:00 2026\n" + bytes(good).replace(b"\r\n", b"\n")
                      + b"\nFrom MAILER-DAEMON Thu Jan  1 00:00:00 2026\n\x00\x01\xff garbage\n")
    result = scan_paths([folder, mixed])
    reasons = {os.path.basename(s.source): s.reason for s in result.skipped}
    assert reasons == {
        "02-garbage.eml": "no mail headers (not an email message)",
        "03-empty.eml": "empty message",
        "04-no-from.eml": "no usable From address",
        "05-no-recipient.eml": "no recipient address (Delivered-To, X-Original-To, To or Cc)",
        "06-broken-from.eml": "no usable From address",
        "mixed.mbox#1": "no mail headers (not an email message)",
    }
    assert result.duplicates == 1  # the good message is in the folder and in the mbox
    kept = {r.identity: r for r in result.messages}
    assert set(kept) == {good["Message-ID"], "<broken-subject@shop.example>"}
    assert kept["<broken-subject@shop.example>"].date is None  # a broken Date is kept, undated
    assert result.undated == 1


@pytest.mark.parametrize("name, content, error", [
    ("empty-mailbox", b"", "empty-mailbox is empty: not mail"),
    ("photo.jpg", b"\xff\xd8\xff\xe0\x00\x10JFIF\x00" + bytes(range(256)) * 8, "photo.jpg is binary data, not mail"),
    ("notes.txt", b"Dear diary,\ntoday I bought shoes.\n", r"notes.txt is not mail: 1 message\(s\), none readable "
                                                           r"\(the first: no mail headers"),
    ("broken.mbox", b"From MAILER-DAEMON Thu Jan  1 00:00:00 2026\nnot a header\n\nFrom x\n\x01\x02\n",
     r"broken.mbox is not mail: 2 message\(s\), none readable"),
])
def test_a_file_that_is_not_mail_is_an_error_naming_it(tmp_path, name, content, error):
    path = tmp_path / name
    path.write_bytes(content)
    good = tmp_path / "good.eml"
    good.write_bytes(bytes(message("Shop <orders@shop.example>", ALIAS)))
    with pytest.raises(InputError, match=error):
        scan_paths([good, path])


def test_dev_null_is_not_mail():
    with pytest.raises(InputError, match="/dev/null is empty: not mail"):
        scan_paths(["/dev/null"])


def test_an_unreadable_path_is_a_clear_error_naming_it(tmp_path):
    missing = tmp_path / "nope.mbox"
    with pytest.raises(InputError, match="nope.mbox: no such file or directory"):
        scan_paths([missing])
    empty_dir = tmp_path / "photos"
    empty_dir.mkdir()
    with pytest.raises(InputError, match="photos is neither a Maildir nor a folder with .eml files"):
        scan_paths([empty_dir])


@pytest.mark.skipif(os.geteuid() == 0, reason="root reads files whatever their mode")
def test_a_file_without_read_permission_is_a_clear_error(tmp_path):
    locked = tmp_path / "locked.mbox"
    write_mbox(locked, [message("Shop <orders@shop.example>", ALIAS)])
    locked.chmod(0)
    with pytest.raises(WhoknowsError, match="cannot read .*locked.mbox: permission denied"):
        scan_paths([locked])


def test_a_bad_path_fails_before_any_message_is_read(tmp_path, inbox):
    with pytest.raises(InputError):
        scan_paths([inbox, tmp_path / "missing"])



# -- your values in mail to an alias (BodyWatch) -----------------------------------------------

def _watch():
    from whoknows.leakscan import LeakScanner
    from whoknows.mailscan import BodyWatch

    scanner = LeakScanner([("phone", "+34 600 111 222", "phone"), ("address", "Calle Mayor 5", "street"),
                           ("name", "Ana García", "name")])
    return BodyWatch(scanner, [ALIAS])


def _found(tmp_path, msg):
    path = tmp_path / "box.mbox"
    write_mbox(path, [msg])
    result = scan_paths([path], _watch())
    return {(f.value_id, f.place, f.form) for f in result.messages[0].found}


def test_values_in_a_base64_html_part_and_the_subject_are_found_never_kept_as_text(tmp_path):
    msg = message("news@shop.example", ALIAS, subject="Ana García, your deals")
    msg.set_content("plain part: nothing")
    msg.add_alternative("<p>Ship to <b>Calle&nbsp;Mayor 5</b>?</p><p>Call +34 (600) 111-222</p>", subtype="html",
                        cte="base64")
    found = _found(tmp_path, msg)
    assert {(value, place) for value, place, _ in found} == {("name", "subject"), ("street", "body"), ("phone", "body")}
    record = scan_paths([tmp_path / "box.mbox"], _watch()).messages[0]
    assert "Mayor" not in repr(record) and "García" not in repr(record)


def test_attachments_mail_to_other_addresses_and_mail_sent_from_an_alias_are_not_searched(tmp_path):
    attached = message("news@shop.example", ALIAS)
    attached.add_attachment(b"Calle Mayor 5", maintype="text", subtype="plain", filename="invoice.txt")
    assert _found(tmp_path, attached) == set()
    assert _found(tmp_path, message("friend@friends.example", ME, subject="Ana García")) == set()
    assert _found(tmp_path, message(f"Me <{ALIAS}>", "shop@shop.example", subject="Ana García")) == set()


def test_a_part_in_an_unknown_charset_is_left_out_and_the_rest_is_searched(tmp_path):
    raw = (f"From: news@shop.example\nTo: {ALIAS}\nSubject: Calle Mayor 5\nMessage-ID: <x@shop.example>\n"
           "MIME-Version: 1.0\nContent-Type: text/plain; charset=x-no-such-charset\n\n\xff\xfe Ana Garc\xeda\n")
    path = tmp_path / "odd.eml"
    path.write_bytes(raw.encode("latin-1"))
    found = scan_paths([path], _watch()).messages[0].found
    assert {(f.value_id, f.place) for f in found} >= {("street", "subject")}


# -- what a mail is about, and its copies (issue 15, item 3) ---------------------------------------


def test_a_message_is_classified_from_its_decoded_subject_sender_and_list_headers(tmp_path):
    path = tmp_path / "inbox.mbox"
    write_mbox(path, [
        message("ofertas@shop.example", ALIAS, subject="=?utf-8?q?=C2=A1Rebajas!_30=25_de_descuento?="),
        message("hello@shop.example", ALIAS, day=2, extra=[("List-Id", "<news.shop.example>")]),
        message("hello@shop.example", ALIAS, day=3),
    ])
    offers, listed, plain = scan_paths([path]).messages
    assert offers.topics == ("offers",)
    assert offers.topic_reasons == ("offers <- subject: 'descuento*'", "offers <- sender: ofertas@")
    assert (listed.topics, listed.topic_reasons) == (("newsletter",), ("newsletter <- List-Id",))
    assert (plain.topics, plain.topic_reasons) == ((), ())
    assert offers.subject_key and offers.subject_key != plain.subject_key
    assert offers.as_dict()["topics"] == ["offers"]


def test_a_copy_of_one_message_to_another_address_adds_that_address_and_its_delivery(tmp_path):
    first = message("news@shop.example", ALIAS)
    other = message("news@shop.example", ALIAS)
    other.replace_header("To", ME)  # the same Message-ID, delivered to your own address
    kept_twice = message("news@shop.example", ALIAS)  # the same copy in another folder
    write_mbox(tmp_path / "a.mbox", [first, other])
    write_mbox(tmp_path / "b.mbox", [kept_twice])
    result = scan_paths([tmp_path / "a.mbox", tmp_path / "b.mbox"])
    [record] = result.messages
    assert result.duplicates == 2
    assert record.recipients == (ALIAS, ME)  # both addresses: attribution sees the alias either way
    assert len(record.reached) == 2 and len(set(record.reached)) == 2
    alone = scan_paths([tmp_path / "b.mbox"]).messages[0]
    assert alone.reached == record.reached[:1]  # the digest of one address set is stable
