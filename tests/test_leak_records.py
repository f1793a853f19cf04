"""Leak records: what one request means, how batches add up in the ledger, and a busy ledger."""

import json
import threading

from whoknows.leak_records import (
    DisclosureKey, FoundValue, LeakFlusher, LeakKey, PendingLeaks, classify, describe, list_leaks, write_batch,
)
from whoknows.ledger import open_ledger

REF = "a•••@example.org [me:0123abcd]"
SHA = FoundValue("email", REF, "sha256", "normalised", "url")
PLAIN_BODY = FoundValue("email", REF, "plain", "typed", "body")
PLAIN_HEADER = FoundValue("email", REF, "plain", "typed", "header:cookie")


def test_to_its_own_site_one_disclosure_with_the_best_evidence_and_no_leak():
    [(key, evidence)] = classify("shop.example", "shop.example", "api.shop.example", "POST", "https://api/x",
                                 [PLAIN_HEADER, PLAIN_BODY], blocked=False)
    assert key == DisclosureKey("shop.example", "email", REF, "form")
    assert (evidence["where"], evidence["encoding"], evidence["method"]) == ("body", "plain", "POST")


def test_to_another_site_a_leak_per_encoding_and_one_disclosure_to_the_recipient():
    events = classify("shop.example", "facebook.net", "connect.facebook.net", "GET", "https://c/tr?em=…",
                      [SHA, FoundValue("email", REF, "md5", "normalised", "url")], blocked=False, company="Meta")
    leaks = [key for key, _ in events if isinstance(key, LeakKey)]
    assert sorted(key.encoding for key in leaks) == ["md5", "sha256"]
    [disclosure] = [(key, ev) for key, ev in events if isinstance(key, DisclosureKey)]
    assert disclosure[0] == DisclosureKey("facebook.net", "email", REF, "leak")
    assert disclosure[1]["page"] == "shop.example"


def test_blocked_an_attempt_only_and_a_host_without_a_site_gets_no_disclosure():
    blocked = classify("shop.example", "tracker.test", "tracker.test", "GET", "u", [SHA], blocked=True)
    assert [type(key) for key, _ in blocked] == [LeakKey] and blocked[0][0].blocked
    by_ip = classify("shop.example", None, "10.0.0.1", "GET", "u", [SHA], blocked=False)
    assert [type(key) for key, _ in by_ip] == [LeakKey]
    own_blocked = classify("shop.example", "shop.example", "shop.example", "GET", "u", [SHA], blocked=True)
    assert own_blocked == []


def test_batches_add_up_and_dates_widen_across_flushes():
    for when in (1_700_000_000.0, 1_600_000_000.0, 1_800_000_000.0):
        pending = PendingLeaks(clock=lambda when=when: when)
        pending.record(classify("shop.example", "facebook.net", "connect.facebook.net", "GET", f"https://c/{when}",
                                [SHA], blocked=False, company="Meta"))
        with open_ledger() as ledger:
            write_batch(ledger, pending.take())
    with open_ledger() as ledger:
        [leak] = list_leaks(ledger)
        [disclosure] = ledger.query("SELECT first_seen, last_seen, evidence FROM disclosures")
    assert (leak["count"], leak["first_seen"], leak["last_seen"]) == (3, "2020-09-13T12:26:40Z", "2027-01-15T08:00:00Z")
    assert leak["url"] == "https://c/1800000000.0"  # the latest
    assert (disclosure[0], disclosure[1]) == ("2020-09-13T12:26:40Z", "2027-01-15T08:00:00Z")
    assert describe(leak) == ("shop.example's page sent your email (a•••@example.org [me:0123abcd]) as SHA-256 "
                              "to connect.facebook.net (Meta Platforms)")


def test_a_locked_ledger_keeps_the_batch_for_the_next_flush(tmp_path):
    pending = PendingLeaks()
    flusher = LeakFlusher(pending, open_ledger, lock_wait=0.05)
    pending.record(classify("shop.example", "tracker.test", "tracker.test", "GET", "u", [SHA], blocked=False))
    holder = open_ledger()
    holder.db.execute("BEGIN IMMEDIATE")  # another process holds the write lock
    try:
        assert flusher.flush() is False
        assert pending.pending_count() == 2
        pending.record(classify("shop.example", "tracker.test", "tracker.test", "GET", "u", [SHA], blocked=False))
    finally:
        holder.db.execute("ROLLBACK")
        holder.close()
    assert flusher.stop() is True
    with open_ledger() as ledger:
        [leak] = list_leaks(ledger)
    assert leak["count"] == 2 and pending.pending_count() == 0


def test_the_flusher_thread_writes_on_its_own_while_requests_keep_coming():
    pending = PendingLeaks()
    flusher = LeakFlusher(pending, open_ledger, interval=0.05)
    flusher.start()
    recorders = [threading.Thread(target=lambda: [pending.record(classify(
        "shop.example", "tracker.test", "tracker.test", "GET", "u", [SHA], blocked=False)) for _ in range(200)])
        for _ in range(4)]
    for thread in recorders:
        thread.start()
    for thread in recorders:
        thread.join()
    flusher.stop()
    with open_ledger() as ledger:
        [leak] = list_leaks(ledger)
        evidence = json.loads(ledger.query("SELECT evidence FROM disclosures")[0][0])
    assert leak["count"] == 800 and evidence["page"] == "shop.example"
