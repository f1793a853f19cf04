"""The ledger under real processes: concurrent writers, and a writer killed mid-transaction."""

import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from whoknows.ledger import open_ledger

pytestmark = pytest.mark.slow

WRITER = textwrap.dedent("""
    import sys
    from whoknows.disclosures import record_disclosures
    from whoknows.ledger import open_ledger

    path, writer, count = sys.argv[1], sys.argv[2], int(sys.argv[3])
    with open_ledger(path) as ledger:
        for i in range(count):  # each call is its own transaction
            record_disclosures(ledger, "shop.example", [("other", f"writer {writer} fact {i}")])
""")


def test_four_processes_writing_500_facts_each_leave_exactly_2000_rows(tmp_path):
    path = tmp_path / "ledger.db"  # not created yet: the writers also race to create and migrate it
    procs = [
        subprocess.Popen([sys.executable, "-c", WRITER, str(path), str(n), "500"],
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        for n in range(4)
    ]
    results = [p.communicate(timeout=300) for p in procs]
    assert [p.returncode for p in procs] == [0] * 4, [err for _, err in results]
    assert all(err == "" for _, err in results), [err for _, err in results]  # no "database is locked"
    with open_ledger(path) as ledger:
        assert ledger.query("SELECT count(*) FROM disclosures")[0][0] == 2000
        per_writer = ledger.query(
            "SELECT substr(value, 1, 8) AS writer, count(*) FROM disclosures GROUP BY writer ORDER BY writer")
        assert [tuple(row) for row in per_writer] == [(f"writer {n}", 500) for n in range(4)]
        assert ledger.query("SELECT count(*) FROM vendors")[0][0] == 1
        assert ledger.integrity() == "ok"


CRASHER = textwrap.dedent("""
    import os, sys, time
    from whoknows.disclosures import record_disclosures
    from whoknows.ledger import open_ledger

    path = sys.argv[1]
    ledger = open_ledger(path)
    for i in range(50):
        record_disclosures(ledger, "shop.example", [("other", f"committed {i}")])
    wal_committed = os.path.getsize(path + "-wal")
    # A tiny page cache makes SQLite spill the open transaction's pages into the WAL before COMMIT,
    # so the kill leaves uncommitted frames on disk for recovery to ignore.
    ledger.db.execute("PRAGMA cache_size = 2")
    ledger.db.execute("BEGIN IMMEDIATE")
    vendor = ledger.db.execute("SELECT id FROM vendors").fetchone()[0]
    for i in range(3000):
        ledger.db.execute(
            "INSERT INTO disclosures (vendor_id, kind, value, source, first_seen, last_seen) "
            "VALUES (?, 'other', ?, 'told', '2024-01-01T00:00:00Z', '2024-01-01T00:00:00Z')",
            (vendor, f"uncommitted {i} " + "x" * 200),
        )
    print(wal_committed, os.path.getsize(path + "-wal"), flush=True)
    time.sleep(120)
""")


def test_a_writer_killed_mid_transaction_loses_only_its_uncommitted_rows(tmp_path):
    path = tmp_path / "ledger.db"
    proc = subprocess.Popen([sys.executable, "-c", CRASHER, str(path)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        line = proc.stdout.readline()
        assert line, proc.stderr.read()
        wal_committed, wal_now = map(int, line.split())
        assert wal_now > wal_committed  # the uncommitted rows really are on disk, in the WAL
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == -signal.SIGKILL
    assert Path(f"{path}-wal").exists()  # no clean shutdown: recovery has to deal with it
    with open_ledger(path) as ledger:
        assert ledger.integrity() == "ok"
        values = [row[0] for row in ledger.query("SELECT value FROM disclosures ORDER BY id")]
        assert values == [f"committed {i}" for i in range(50)]
        # and the ledger takes new writes afterwards
        ledger.vendor_id("after.example", create=True)
        assert ledger.vendor_id("after.example") is not None


HOLDER = textwrap.dedent("""
    import sys, time
    from whoknows.ledger import open_ledger

    ledger = open_ledger(sys.argv[1])
    ledger.db.execute("BEGIN IMMEDIATE")  # the write lock, held longer than busy_timeout
    ledger.db.execute("INSERT INTO settings (key, value) VALUES ('held', 'yes')")
    print("locked", flush=True)
    time.sleep(float(sys.argv[2]))
    ledger.db.execute("COMMIT")
""")


def test_a_long_held_write_lock_makes_commands_wait_never_fail(whoknows_home):
    import time

    from whoknows.ledger import BUSY_TIMEOUT_MS

    open_ledger().close()
    hold = BUSY_TIMEOUT_MS / 1000 + 1.5
    holder = subprocess.Popen([sys.executable, "-c", HOLDER, str(whoknows_home / "ledger.db"), str(hold)],
                              stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline() == "locked\n"
        whoknows = str(Path(sys.executable).with_name("whoknows"))
        start = time.monotonic()
        reader = subprocess.run([whoknows, "vendor", "list", "--json"], capture_output=True, text=True, timeout=60)
        read_time = time.monotonic() - start
        writer = subprocess.run([whoknows, "tell", "shop.example", "name=Ana"], capture_output=True, text=True,
                                timeout=120)
        write_time = time.monotonic() - start
    finally:
        holder.wait(timeout=60)
    assert (reader.returncode, reader.stderr, reader.stdout) == (0, "", "[]\n")
    assert read_time < hold  # readers do not wait for the writer (WAL)
    assert (writer.returncode, writer.stderr) == (0, ""), writer.stderr
    assert write_time >= hold - 0.5  # it waited beyond busy_timeout, then wrote
    with open_ledger() as ledger:
        assert ledger.get_setting("held") == "yes"
        assert ledger.query("SELECT value FROM disclosures")[0][0] == "Ana"
