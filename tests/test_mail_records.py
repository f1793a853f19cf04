"""whoknows.mail_records on a real ledger file: what a scan keeps of each message for `prefs --check`."""

import json

from whoknows.ledger import open_ledger
from whoknows.mail_records import store_scan
from whoknows.mailscan import ScanResult, read_message

RAW = (b"From: news@shop.example\nTo: {to}\nSubject: Boletin de marzo\nMessage-ID: <b1@shop.example>\n"
       b"Date: Mon, 04 Mar 2024 10:00:00 +0000\nList-Id: <news.shop.example>\n\nbody\n")


def _store(ledger, to: bytes):
    record, _ = read_message(RAW.replace(b"{to}", to))
    return store_scan(ledger, ScanResult(messages=[record]), same_company=lambda a, b: False)


def test_scanning_again_fills_in_what_an_older_scan_did_not_keep_and_adds_copies_once(tmp_path):
    with open_ledger(tmp_path / "ledger.db") as ledger:
        _store(ledger, b"me@mail.example")
        # a message scanned before topics were kept (issue 15): its new columns are NULL
        ledger.db.execute("UPDATE mail_messages SET topics = NULL, topic_reasons = NULL, subject_key = NULL")
        again = _store(ledger, b"me@mail.example")
        assert (again.new_messages, again.known_messages) == (0, 1)
        row = ledger.query("SELECT topics, topic_reasons, subject_key, reached FROM mail_messages")[0]
        assert json.loads(row[0]) == ["newsletter"] and row[2] is not None and len(json.loads(row[3])) == 1
        _store(ledger, b"other@mail.example")  # a copy that reached another of your addresses
        _store(ledger, b"other@mail.example")  # and that copy again
        reached = json.loads(ledger.query("SELECT reached FROM mail_messages")[0][0])
        assert len(reached) == 2 and reached == sorted(reached)
        assert ledger.query("SELECT count(*) FROM mail_messages")[0][0] == 1
