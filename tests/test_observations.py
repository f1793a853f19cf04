"""Observations: live counters per site, and their batched, lock-tolerant way into the ledger."""

from __future__ import annotations

import logging
import sqlite3
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from whoknows.ledger import open_ledger
from whoknows.observations import CookieSeen
from whoknows.observations import Flusher
from whoknows.observations import LedgerBusy
from whoknows.observations import Observations
from whoknows.observations import write_batch
from whoknows.vendor_records import vendor_record

REPO = Path(__file__).resolve().parents[1]


def cookie(name="sid", site="vendor.test", *, third_party=False, asked=3600, granted=3600,
           blocked=False, shortened=False, mode="allow") -> CookieSeen:
    return CookieSeen(name, site, third_party, asked, None if blocked else granted, blocked, shortened, mode)


def browse_vendor(obs: Observations) -> None:
    """What one visit to vendor.test looks like from the proxy."""
    obs.third_party("vendor.test", "tracker.test", blocked=True, owner="Tracker Inc", tracker=True)
    obs.third_party("vendor.test", "tracker.test", blocked=True, owner="Tracker Inc", tracker=True)
    obs.third_party("vendor.test", "cdn.test", blocked=False)
    obs.cookie("vendor.test", cookie("sid", asked=400 * 86400, granted=7 * 86400, shortened=True, mode="cap:7"))
    obs.cookie("vendor.test", cookie("uid", "cdn.test", third_party=True, blocked=True, mode="block"))
    obs.parameter("vendor.test", "utm_source", "vendor.test")


def ledger_rows(kind: str, site: str = "vendor.test") -> dict[str, tuple[int, dict]]:
    import json

    with open_ledger() as ledger:
        rows = ledger.query(
            "SELECT subject, count, detail FROM observations JOIN vendors ON vendors.id = vendor_id "
            "WHERE domain = ? AND kind = ?", (site, kind))
    return {r["subject"]: (r["count"], json.loads(r["detail"])) for r in rows}


def hold_write_lock(path: Path) -> sqlite3.Connection:
    """Another process's writer in the middle of a transaction."""
    other = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    other.execute("BEGIN IMMEDIATE")
    return other


# --- live counters --------------------------------------------------------------------------------


def test_snapshot_counts_blocked_and_allowed_third_parties_with_their_owner():
    obs = Observations()
    browse_vendor(obs)
    third = obs.snapshot("vendor.test")["third_parties"]
    assert (third["distinct"], third["seen"], third["blocked"]) == (2, 3, 2)
    tracker, cdn = third["top"]
    assert tracker["subject"] == "tracker.test" and tracker["count"] == 2
    assert tracker["detail"] == {"owner": "Tracker Inc", "tracker": True, "blocked": 2, "allowed": 0}
    assert cdn["subject"] == "cdn.test"
    assert cdn["detail"] == {"owner": None, "tracker": False, "blocked": 0, "allowed": 1}


def test_snapshot_keeps_cookie_lifetimes_and_parameters():
    obs = Observations()
    browse_vendor(obs)
    snap = obs.snapshot("vendor.test")
    cookies = {c["subject"]: c["detail"] for c in snap["cookies"]["top"]}
    assert cookies["sid@vendor.test"] == {
        "name": "sid", "site": "vendor.test", "third_party": False, "owner": None, "mode": "cap:7",
        "asked_lifetime_seconds": 400 * 86400, "granted_lifetime_seconds": 7 * 86400,
        "blocked": 0, "shortened": 1}
    assert cookies["uid@cdn.test"]["third_party"] is True
    assert cookies["uid@cdn.test"]["granted_lifetime_seconds"] is None
    assert snap["cookies"]["blocked"] == 1
    assert [(p["subject"], p["count"]) for p in snap["parameters"]["top"]] == [("utm_source", 1)]


def test_sites_are_kept_apart_and_an_unknown_site_is_empty():
    obs = Observations()
    browse_vendor(obs)
    obs.third_party("other.test", "tracker.test", blocked=True)
    assert obs.snapshot("other.test")["third_parties"]["seen"] == 1
    empty = obs.snapshot("nowhere.test")
    assert [empty[s]["distinct"] for s in ("third_parties", "cookies", "parameters")] == [0, 0, 0]
    assert obs.sites() == ["other.test", "vendor.test"]


def test_snapshot_has_the_shape_of_a_vendor_record(whoknows_home):
    obs = Observations()
    browse_vendor(obs)
    assert Flusher(obs, open_ledger).flush()
    with open_ledger() as ledger:
        stored = vendor_record(ledger, "vendor.test")["observations"]
    live = obs.snapshot("vendor.test")
    for section in ("third_parties", "cookies", "parameters"):
        assert live[section].keys() == stored[section].keys()
        assert [e.keys() for e in live[section]["top"]] == [e.keys() for e in stored[section]["top"]]
        assert ([(e["subject"], e["count"], e["blocked"], e["detail"]) for e in live[section]["top"]]
                == [(e["subject"], e["count"], e["blocked"], e["detail"]) for e in stored[section]["top"]])


def test_top_limits_the_entries_not_the_totals():
    obs = Observations()
    for n in range(5):
        for _ in range(n + 1):
            obs.third_party("vendor.test", f"t{n}.test", blocked=False)
    third = obs.snapshot("vendor.test", top=2)["third_parties"]
    assert [e["subject"] for e in third["top"]] == ["t4.test", "t3.test"]
    assert (third["distinct"], third["seen"]) == (5, 15)


def test_recording_from_many_threads_loses_nothing():
    obs = Observations()
    reads: list[int] = []

    def browse():
        for _ in range(2000):
            obs.third_party("vendor.test", "tracker.test", blocked=True)

    def read():
        for _ in range(200):
            reads.append(obs.snapshot("vendor.test")["third_parties"]["seen"])

    threads = [threading.Thread(target=browse) for _ in range(4)] + [threading.Thread(target=read)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert obs.snapshot("vendor.test")["third_parties"]["blocked"] == 8000
    assert reads == sorted(reads)  # a reader never sees counts go backwards


def test_the_least_recently_seen_sites_leave_memory_first():
    obs = Observations(max_sites=2)
    obs.parameter("a.test", "gclid")
    obs.parameter("b.test", "gclid")
    obs.parameter("a.test", "fbclid")
    obs.parameter("c.test", "gclid")
    assert obs.sites() == ["c.test", "a.test"]
    assert obs.pending_count() == 4  # what left memory is still written to the ledger


# --- the ledger -------------------------------------------------------------------------------------


def test_a_flush_writes_counts_and_details_that_vendor_show_reads(whoknows_home):
    obs = Observations()
    browse_vendor(obs)
    flusher = Flusher(obs, open_ledger)
    assert flusher.flush()
    assert obs.pending_count() == 0
    with open_ledger() as ledger:
        record = vendor_record(ledger, "vendor.test")["observations"]
    assert (record["third_parties"]["distinct"], record["third_parties"]["seen"],
            record["third_parties"]["blocked"]) == (2, 3, 2)
    tracker = record["third_parties"]["top"][0]
    assert (tracker["subject"], tracker["blocked"], tracker["detail"]["owner"]) == ("tracker.test", 2, "Tracker Inc")
    cookies = {c["subject"]: c for c in record["cookies"]["top"]}
    assert cookies["sid@vendor.test"]["detail"]["granted_lifetime_seconds"] == 7 * 86400
    assert cookies["uid@cdn.test"]["blocked"] == 1


def test_counts_and_counters_add_up_across_flushes(whoknows_home):
    obs = Observations()
    flusher = Flusher(obs, open_ledger)
    browse_vendor(obs)
    assert flusher.flush()
    browse_vendor(obs)
    obs.third_party("vendor.test", "tracker.test", blocked=False, owner="Tracker Inc", tracker=True)
    assert flusher.flush()
    assert flusher.flush()  # nothing pending: writes nothing more
    rows = ledger_rows("third-party")
    assert rows["tracker.test"] == (5, {"owner": "Tracker Inc", "tracker": True, "blocked": 4, "allowed": 1})
    assert rows["cdn.test"][0] == 2
    assert ledger_rows("cookie")["uid@cdn.test"][1]["blocked"] == 2
    assert ledger_rows("parameter")["utm_source"][0] == 2


def test_a_flush_creates_the_vendor_and_keeps_what_the_user_said_about_it(whoknows_home):
    from whoknows.vendor_records import add_vendor

    with open_ledger() as ledger:
        add_vendor(ledger, "vendor.test", name="My shop")
    obs = Observations()
    browse_vendor(obs)
    obs.third_party("new.test", "tracker.test", blocked=True)
    assert Flusher(obs, open_ledger).flush()
    with open_ledger() as ledger:
        assert vendor_record(ledger, "vendor.test")["name"] == "My shop"
        assert vendor_record(ledger, "new.test")["observations"]["third_parties"]["blocked"] == 1


def test_a_locked_ledger_makes_the_flush_wait_for_the_next_one_and_loses_nothing(whoknows_home):
    obs = Observations()
    flusher = Flusher(obs, open_ledger, lock_wait=0.05)
    with open_ledger() as ledger:
        path = ledger.path
    browse_vendor(obs)
    other = hold_write_lock(path)
    try:
        assert flusher.flush() is False
        assert obs.pending_count() == 5  # rows: two third parties, two cookies, a parameter
        browse_vendor(obs)  # browsing goes on meanwhile
        assert obs.snapshot("vendor.test")["third_parties"]["seen"] == 6
    finally:
        other.execute("ROLLBACK")
        other.close()
    assert flusher.flush()
    assert ledger_rows("third-party")["tracker.test"] == (
        4, {"owner": "Tracker Inc", "tracker": True, "blocked": 4, "allowed": 0})
    assert flusher.failed_flushes == 1


def test_write_batch_raises_ledger_busy_and_writes_nothing(whoknows_home):
    obs = Observations()
    browse_vendor(obs)
    with open_ledger() as ledger:
        other = hold_write_lock(ledger.path)
        try:
            with pytest.raises(LedgerBusy):
                write_batch(ledger, obs.take(), lock_wait=0.01)
        finally:
            other.execute("ROLLBACK")
            other.close()
        assert ledger.query("SELECT count(*) FROM observations")[0][0] == 0
        assert not ledger.db.in_transaction


def test_a_ledger_that_cannot_be_opened_keeps_the_counts_for_later(tmp_path, caplog):
    target = tmp_path / "not-yet" / "ledger.db"
    obs = Observations()
    flusher = Flusher(obs, lambda: open_ledger(target))
    browse_vendor(obs)
    with caplog.at_level(logging.WARNING, logger="whoknows.observations"):
        assert flusher.flush() is False
        assert flusher.flush() is False
    assert sum("not written to the ledger yet" in r.message for r in caplog.records) == 1  # said once
    target.parent.mkdir()
    assert flusher.flush()
    with open_ledger(target) as ledger:
        assert ledger.query("SELECT sum(count) FROM observations")[0][0] == 6


def test_the_background_thread_flushes_without_being_asked(whoknows_home):
    obs = Observations()
    flusher = Flusher(obs, open_ledger, interval=0.05)
    flusher.start()
    try:
        browse_vendor(obs)
        deadline = time.monotonic() + 10
        # Wait for the commit: the batch leaves memory (pending_count 0) before it is written.
        while not flusher.rows_written and time.monotonic() < deadline:
            time.sleep(0.02)
        assert ledger_rows("third-party")["tracker.test"][0] == 2
    finally:
        assert flusher.stop()
    assert not flusher.running


def test_stop_writes_what_is_left(whoknows_home):
    obs = Observations()
    flusher = Flusher(obs, open_ledger, interval=3600)  # only the shutdown flush will run
    flusher.start()
    browse_vendor(obs)
    assert flusher.stop()
    assert ledger_rows("third-party")["tracker.test"][0] == 2


def test_stop_waits_for_a_ledger_locked_for_a_moment(whoknows_home):
    with open_ledger() as ledger:
        path = ledger.path
    obs = Observations()
    flusher = Flusher(obs, open_ledger, lock_wait=0.05)
    browse_vendor(obs)
    other = hold_write_lock(path)
    release = threading.Timer(0.3, lambda: (other.execute("ROLLBACK"), other.close()))
    release.start()
    try:
        assert flusher.stop(patience=20)
    finally:
        release.join()
    assert ledger_rows("third-party")["tracker.test"][0] == 2


def test_stop_says_what_it_could_not_write(whoknows_home, caplog):
    with open_ledger() as ledger:
        path = ledger.path
    obs = Observations()
    flusher = Flusher(obs, open_ledger, lock_wait=0.01)
    browse_vendor(obs)
    other = hold_write_lock(path)
    try:
        with caplog.at_level(logging.ERROR, logger="whoknows.observations"):
            assert flusher.stop(patience=0.1) is False
    finally:
        other.execute("ROLLBACK")
        other.close()
    assert "6 observations (5 ledger rows) could not be written" in caplog.text


def test_later_details_win_and_counters_of_other_writers_add_up(whoknows_home):
    with open_ledger() as ledger:
        vendor = ledger.vendor_id("vendor.test", create=True)
        with ledger.write() as db:  # a row written by an older writer: a bare true, a later time
            db.execute("INSERT INTO observations (vendor_id, kind, subject, detail, count, first_seen, "
                       "last_seen) VALUES (?, 'third-party', 'tracker.test', ?, 3, "
                       "'2000-01-01T00:00:00Z', '2999-01-01T00:00:00Z')",
                       (vendor, '{"blocked": true, "owner": "Old Name", "note": "kept"}'))
    obs = Observations()
    obs.third_party("vendor.test", "tracker.test", blocked=True, owner="New Name")
    assert Flusher(obs, open_ledger).flush()
    count, detail = ledger_rows("third-party")["tracker.test"]
    assert count == 4
    assert detail == {"blocked": 2, "allowed": 0, "owner": "Old Name", "tracker": False, "note": "kept"}


CHILD = """
import sys
from whoknows.ledger import open_ledger
from whoknows.observations import Flusher, Observations
obs = Observations()
flusher = Flusher(obs, open_ledger, lock_wait=0.02)
for round in range(int(sys.argv[1])):
    for _ in range(10):
        obs.third_party("vendor.test", "tracker.test", blocked=True)
    flusher.flush()
assert flusher.stop(patience=30)
print(flusher.failed_flushes)
"""


def test_counts_add_up_across_processes_writing_at_once(whoknows_home):
    open_ledger().close()
    children = [subprocess.Popen([sys.executable, "-c", CHILD, "20"], cwd=REPO, stdout=subprocess.PIPE,
                                 stderr=subprocess.PIPE, text=True) for _ in range(3)]
    for child in children:
        out, err = child.communicate(timeout=120)
        assert child.returncode == 0, err
    count, detail = ledger_rows("third-party")["tracker.test"]
    assert (count, detail["blocked"]) == (600, 600)


def test_a_batch_the_ledger_refuses_is_dropped_and_later_counts_still_reach_the_ledger(whoknows_home, caplog):
    """A row SQLite can never store (here: a lone surrogate, as undecodable header bytes become)
    must not stop the writer: that batch is dropped with its cause logged, the next one is written."""
    obs = Observations()
    flusher = Flusher(obs, open_ledger, interval=0.05)
    obs.parameter("vendor.test", "bad\udcff", "vendor.test")
    with caplog.at_level(logging.ERROR):
        assert flusher.flush()
    assert flusher.dropped_batches == 1
    assert "could not be written and was dropped" in caplog.text
    flusher.start()
    try:
        browse_vendor(obs)
        deadline = time.monotonic() + 10
        # Wait for the commit: the batch leaves memory (pending_count 0) before it is written.
        while not flusher.rows_written and time.monotonic() < deadline:
            time.sleep(0.02)
        assert ledger_rows("third-party")["tracker.test"][0] == 2
    finally:
        assert flusher.stop()
