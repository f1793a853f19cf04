"""The ledger file: privacy of its files, schema migrations, refusing what it cannot read."""

import json
import os
import sqlite3
import stat
from pathlib import Path

import pytest

from whoknows import ledger as ledger_module
from whoknows.disclosures import knows, record_disclosures
from whoknows.errors import WhoknowsError
from whoknows.ledger import SCHEMA_VERSION, open_ledger
from whoknows.preferences import Stated, history, set_preferences


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


@pytest.fixture
def common_umask():
    previous = os.umask(0o022)  # the usual umask: files would be 0644 and directories 0755 without care
    yield
    os.umask(previous)


def test_a_fresh_ledger_is_private_data_dir_0700_and_every_sqlite_file_0600(whoknows_home, common_umask):
    with open_ledger() as ledger:
        record_disclosures(ledger, "shop.example", [("phone", "+34600111222")])
        files = sorted(p.name for p in whoknows_home.iterdir())
        assert {"ledger.db", "ledger.db-wal", "ledger.db-shm"} <= set(files)  # WAL files while open
        assert _mode(whoknows_home) == 0o700
        for name in ("ledger.db", "ledger.db-wal", "ledger.db-shm"):
            assert _mode(whoknows_home / name) == 0o600, name


def test_an_existing_ledger_with_loose_permissions_is_tightened(whoknows_home):
    open_ledger().close()
    os.chmod(whoknows_home / "ledger.db", 0o644)
    open_ledger().close()
    assert _mode(whoknows_home / "ledger.db") == 0o600


def test_write_rolls_back_everything_when_the_block_fails(whoknows_home):
    with open_ledger() as ledger:
        with pytest.raises(RuntimeError):
            with ledger.write() as db:
                db.execute("INSERT INTO vendors (domain, created_at) VALUES ('a.example', 'x')")
                raise RuntimeError("boom")
        assert ledger.query("SELECT count(*) FROM vendors")[0][0] == 0
        assert not ledger.db.in_transaction
        ledger.vendor_id("b.example", create=True)  # the connection is usable afterwards
        assert ledger.query("SELECT domain FROM vendors")[0][0] == "b.example"


def test_batch_write_gives_up_quickly_on_a_locked_ledger_then_waits_as_usual_again(whoknows_home):
    with open_ledger() as ledger:
        other = sqlite3.connect(ledger.path, isolation_level=None)
        other.execute("BEGIN IMMEDIATE")  # another process in the middle of a write
        try:
            with pytest.raises(ledger_module.LedgerBusy, match="is locked"):
                with ledger.batch_write(lock_wait=0.01) as db:
                    ledger_module.vendor_ids(db, ["a.example"])
        finally:
            other.execute("ROLLBACK")
            other.close()
        assert not ledger.db.in_transaction
        assert ledger.db.execute("PRAGMA busy_timeout").fetchone()[0] == ledger_module.BUSY_TIMEOUT_MS
        with ledger.batch_write(lock_wait=0.01) as db:
            ids = ledger_module.vendor_ids(db, ["b.example", "a.example", "b.example"])
        assert ids == {row["domain"]: row["id"] for row in ledger.query("SELECT id, domain FROM vendors")}
        assert sorted(ids) == ["a.example", "b.example"]


def test_a_file_that_is_not_a_database_is_refused_in_one_clear_error(whoknows_home):
    whoknows_home.mkdir()
    (whoknows_home / "ledger.db").write_bytes(b"this is not sqlite" * 100)
    with pytest.raises(WhoknowsError, match=r"cannot open the ledger .*ledger\.db: file is not a database"):
        open_ledger()


# -- migrations -----------------------------------------------------------------------------------

def _make_v1_ledger(path: Path) -> None:
    """A ledger exactly as whoknows with schema v1 made it (the v1 migration script, nothing more)."""
    db = sqlite3.connect(path, isolation_level=None)
    for statement in ledger_module._statements(ledger_module.MIGRATIONS[0]):
        db.execute(statement)
    db.execute("PRAGMA user_version = 1")
    db.execute("INSERT INTO vendors (id, domain, created_at) VALUES (1, 'shop.example', '2024-01-01T00:00:00Z')")
    db.execute("INSERT INTO vendors (id, domain, created_at) VALUES (2, 'other.example', '2024-01-01T00:00:00Z')")
    rows = [
        # v1 kept these three apart; they are one phone number.
        (1, "phone", "+34 600 111 222", "told", "2024-02-01T00:00:00Z", "2024-02-03T00:00:00Z", None),
        (1, "phone", "0034600111222", "told", "2024-01-15T00:00:00Z", "2024-01-20T00:00:00Z", '{"note": "first"}'),
        (1, "phone", "+34-600-111-222", "told", "2024-03-01T00:00:00Z", "2024-03-09T00:00:00Z", None),
        (1, "phone", "+34 600 111 222", "form", "2024-04-01T00:00:00Z", "2024-04-01T00:00:00Z", "not json"),
        (2, "email", "Me@Example.com", "told", "2024-01-01T00:00:00Z", "2024-01-01T00:00:00Z", None),
    ]
    db.executemany(
        "INSERT INTO disclosures (vendor_id, kind, value, source, first_seen, last_seen, evidence) "
        "VALUES (?, ?, ?, ?, ?, ?, ?)", rows)
    db.execute("INSERT INTO observations (vendor_id, kind, subject, detail, first_seen, last_seen) "
               "VALUES (1, 'cookie', '_ga', '{broken', '2024-01-01T00:00:00Z', '2024-01-01T00:00:00Z')")
    db.close()


def test_a_v1_ledger_migrates_forward_keeping_its_data_and_merging_what_is_one_fact(tmp_path):
    path = tmp_path / "ledger.db"
    _make_v1_ledger(path)
    with open_ledger(path) as ledger:
        assert ledger.schema_version() == SCHEMA_VERSION
        told = ledger.query(
            "SELECT value, first_seen, last_seen, evidence FROM disclosures WHERE source = 'told' AND kind = 'phone'")
        assert len(told) == 1  # the three spellings became one fact with the widest dates
        assert (told[0]["first_seen"], told[0]["last_seen"]) == ("2024-01-15T00:00:00Z", "2024-03-09T00:00:00Z")
        holders = knows(ledger, "phone", "+34600111222")
        assert sorted((h.vendor, h.source) for h in holders) == [("shop.example", "form"), ("shop.example", "told")]
        # Text that was not JSON is kept, as a JSON string, so every JSON column now parses.
        form = [h for h in holders if h.source == "form"][0]
        assert form.evidence == "not json"
        detail = ledger.query("SELECT detail FROM observations")[0][0]
        assert json.loads(detail) == "{broken"
        assert [h.vendor for h in knows(ledger, "email", "me@example.com")] == ["other.example"]
        assert ledger.integrity() == "ok"


def test_a_v4_ledger_s_preferences_become_the_first_entry_of_their_history(tmp_path):
    path = tmp_path / "ledger.db"
    db = sqlite3.connect(path, isolation_level=None)
    for script in ledger_module.MIGRATIONS[:4]:
        for statement in ledger_module._statements(script):
            db.execute(statement)
    db.execute("PRAGMA user_version = 4")
    db.execute("INSERT INTO vendors (id, domain, created_at) VALUES (1, 'shop.example', '2024-01-01T00:00:00Z')")
    db.execute("INSERT INTO preferences (vendor_id, marketing, channels, max_per_month, notes, updated_at) "
               "VALUES (1, 0, '[\"email\"]', 2, 'receipts', '2024-02-01T00:00:00Z')")
    db.close()
    with open_ledger(path) as ledger:
        assert ledger.schema_version() == SCHEMA_VERSION
        assert history(ledger) == {"shop.example": [Stated("2024-02-01T00:00:00Z", False, ["email"], 2, "receipts")]}
        set_preferences(ledger, "shop.example", {"max_per_month": 5}, at="2024-03-01T00:00:00Z")
        assert [(e.set_at, e.marketing, e.max_per_month) for e in history(ledger)["shop.example"]] == [
            ("2024-02-01T00:00:00Z", False, 2), ("2024-03-01T00:00:00Z", False, 5)]


def test_after_migration_the_ledger_refuses_evidence_that_is_not_json(tmp_path):
    path = tmp_path / "ledger.db"
    _make_v1_ledger(path)
    with open_ledger(path) as ledger:
        with pytest.raises(sqlite3.IntegrityError, match="must be JSON"):
            with ledger.write() as db:
                db.execute("UPDATE observations SET detail = 'nope'")
        assert json.loads(ledger.query("SELECT detail FROM observations")[0][0]) == "{broken"


def test_a_ledger_from_a_newer_whoknows_is_refused_and_left_untouched(tmp_path):
    path = tmp_path / "ledger.db"
    db = sqlite3.connect(path)
    db.execute("CREATE TABLE future (x)")
    db.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 7}")
    db.commit()
    db.close()
    before = path.read_bytes()
    with pytest.raises(WhoknowsError, match=rf"schema version {SCHEMA_VERSION + 7}, newer than this whoknows"):
        open_ledger(path)
    assert path.read_bytes() == before  # not even switched to WAL
    assert not Path(f"{path}-wal").exists()


def test_two_processes_opening_a_new_ledger_at_once_both_succeed(tmp_path):
    # The first open creates and migrates; a second one racing it must wait, not fail.
    import subprocess
    import sys

    path = tmp_path / "ledger.db"
    code = "import sys; from whoknows.ledger import open_ledger; open_ledger(sys.argv[1]).close()"
    procs = [subprocess.Popen([sys.executable, "-c", code, str(path)], stderr=subprocess.PIPE) for _ in range(4)]
    errors = [p.communicate(timeout=60)[1] for p in procs]
    assert [p.returncode for p in procs] == [0, 0, 0, 0], errors
    with open_ledger(path) as ledger:
        assert ledger.schema_version() == SCHEMA_VERSION


def test_the_migration_that_widens_the_kinds_of_request_keeps_every_request_and_what_refers_to_them(tmp_path):
    """Issue 14's migration rebuilds `rights_requests` (a CHECK cannot change in place): requests keep
    their ids, and a row of another table that refers to one (foreign keys on, ON DELETE CASCADE)
    survives the rebuild."""
    widening = next(i for i, script in enumerate(ledger_module.MIGRATIONS) if "rights_requests_widened" in script)
    path = tmp_path / "ledger.db"
    db = sqlite3.connect(path, isolation_level=None)
    for script in ledger_module.MIGRATIONS[:widening]:
        for statement in ledger_module._statements(script):
            db.execute(statement)
    db.execute(f"PRAGMA user_version = {widening}")
    db.execute("INSERT INTO vendors (id, domain, created_at) VALUES (1, 'shop.example', '2024-01-01T00:00:00Z')")
    db.execute("INSERT INTO rights_requests (id, vendor_id, kind, lang, contact, sent_on, due_on, answered_on) "
               "VALUES (7, 1, 'access', 'es', 'dpo@shop.example', '2024-01-10', '2024-02-12', NULL)")
    db.execute("CREATE TABLE request_notes (request_id INTEGER NOT NULL REFERENCES rights_requests(id) "
               "ON DELETE CASCADE, note TEXT)")
    db.execute("INSERT INTO request_notes VALUES (7, 'sent by post too')")
    # the export that answered it (issue 14's data_exports, migrated before: ON DELETE SET NULL)
    db.execute("INSERT INTO data_exports (vendor_id, request_id, source_name, digest, received_on, read_at, "
               "files_read, bytes_read) VALUES (1, 7, 'export.zip', 'abc', '2024-02-01', '2024-02-01T00:00:00Z', 1, 10)")
    db.close()
    with open_ledger(path) as ledger:
        assert ledger.schema_version() == SCHEMA_VERSION
        assert [tuple(r) for r in ledger.query("SELECT id, kind, lang, contact, sent_on, due_on FROM rights_requests")] == [
            (7, "access", "es", "dpo@shop.example", "2024-01-10", "2024-02-12")]
        assert [tuple(r) for r in ledger.query("SELECT * FROM request_notes")] == [(7, "sent by post too")]
        assert [r[0] for r in ledger.query("SELECT request_id FROM data_exports")] == [7]
        assert {r["table"] for r in ledger.query("PRAGMA foreign_key_list(data_exports)")} == {"vendors", "rights_requests"}
        assert ledger.query("PRAGMA foreign_keys")[0][0] == 1  # back on after migrating
        with ledger.write() as db:
            for kind in ("port", "source", "follow-up", "complaint"):
                db.execute("INSERT INTO rights_requests (vendor_id, kind, lang, sent_on, due_on) "
                           "VALUES (1, ?, 'en', '2024-03-01', '2024-04-01')", (kind,))
        with pytest.raises(sqlite3.IntegrityError, match="CHECK"):
            with ledger.write() as db:
                db.execute("INSERT INTO rights_requests (vendor_id, kind, lang, sent_on, due_on) "
                           "VALUES (1, 'launch', 'en', '2024-03-01', '2024-04-01')")
        assert ledger.integrity() == "ok"
