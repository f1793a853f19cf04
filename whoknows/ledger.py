"""The ledger: one SQLite file (`ledger.db` in the data directory) that knows who knows what.

Several processes share it at once (the proxy and any number of CLI calls), so:
- WAL mode, so readers never block the writer and the writer never blocks readers;
- every write is a short `BEGIN IMMEDIATE` transaction (the write lock is taken up front, so two
  writers never deadlock upgrading read locks), waited for with `busy_timeout` and retried with
  backoff beyond it: "database is locked" never reaches the user;
- `synchronous=FULL`: a committed transaction survives a crash of the process or the machine.

The schema is versioned with `PRAGMA user_version`; `MIGRATIONS[n]` takes version n to n+1, forward
only. A ledger written by a newer whoknows is refused rather than damaged.
"""

import contextlib

import random
import sqlite3
import time
from datetime import datetime, timezone
from pathlib import Path

from . import paths
from .errors import WhoknowsError

LEDGER_FILE = "ledger.db"

DISCLOSURE_KINDS = (
    "email", "alias", "name", "phone", "address", "birthday", "payment", "id-number", "location", "other",
)
# How a vendor learned something: the user told it, the proxy saw a form or a leak, a mail scan found it.
DISCLOSURE_SOURCES = ("told", "form", "leak", "mail")
ALIAS_STATES = ("active", "retired", "disabled")
# What the proxy observes on a vendor's pages (issue: the proxy): third parties contacted, cookies set,
# tracking parameters stripped. One row per (site, kind, subject), counted.
OBSERVATION_KINDS = ("third-party", "cookie", "parameter")


def _sql_list(values) -> str:
    return ", ".join(f"'{v}'" for v in values)


MIGRATIONS: list[str] = [
    # 0 -> 1: the foundation.
    f"""
    CREATE TABLE vendors (
        id INTEGER PRIMARY KEY,
        domain TEXT NOT NULL UNIQUE,          -- registrable domain, punycode, lowercase
        name TEXT,                            -- display name chosen by the user
        company TEXT,                         -- user overrides of the company directory
        privacy_contact TEXT,
        postal_address TEXT,
        created_at TEXT NOT NULL
    );
    CREATE TABLE disclosures (
        id INTEGER PRIMARY KEY,
        vendor_id INTEGER NOT NULL REFERENCES vendors(id) ON DELETE CASCADE,
        kind TEXT NOT NULL CHECK (kind IN ({_sql_list(DISCLOSURE_KINDS)})),
        value TEXT NOT NULL,
        source TEXT NOT NULL CHECK (source IN ({_sql_list(DISCLOSURE_SOURCES)})),
        first_seen TEXT NOT NULL,
        last_seen TEXT NOT NULL,
        evidence TEXT,                        -- JSON object: where and how it was learned
        UNIQUE (vendor_id, kind, value, source)
    );
    CREATE INDEX disclosures_by_kind_value ON disclosures(kind, value);
    CREATE TABLE aliases (
        id INTEGER PRIMARY KEY,
        vendor_id INTEGER NOT NULL REFERENCES vendors(id) ON DELETE CASCADE,
        address TEXT NOT NULL UNIQUE,
        created_at TEXT NOT NULL,
        state TEXT NOT NULL CHECK (state IN ({_sql_list(ALIAS_STATES)})),
        state_changed_at TEXT
    );
    CREATE INDEX aliases_by_vendor ON aliases(vendor_id);
    CREATE UNIQUE INDEX aliases_one_active_per_vendor ON aliases(vendor_id) WHERE state = 'active';
    CREATE TABLE preferences (
        vendor_id INTEGER PRIMARY KEY REFERENCES vendors(id) ON DELETE CASCADE,
        marketing INTEGER CHECK (marketing IN (0, 1)),   -- NULL: not stated
        channels TEXT,                        -- JSON list of channel names
        max_per_month INTEGER CHECK (max_per_month >= 0),
        notes TEXT,
        updated_at TEXT NOT NULL
    );
    CREATE TABLE observations (
        id INTEGER PRIMARY KEY,
        vendor_id INTEGER NOT NULL REFERENCES vendors(id) ON DELETE CASCADE,  -- the first-party site
        kind TEXT NOT NULL CHECK (kind IN ({_sql_list(OBSERVATION_KINDS)})),
        subject TEXT NOT NULL,                -- third-party domain, cookie name or parameter name
        detail TEXT,                          -- JSON object, kind-specific
        count INTEGER NOT NULL DEFAULT 1,
        first_seen TEXT NOT NULL,
        last_seen TEXT NOT NULL,
        UNIQUE (vendor_id, kind, subject)
    );
    CREATE TABLE settings (                   -- configuration that is not secret (never keys)
        key TEXT PRIMARY KEY,
        value TEXT NOT NULL
    );
    """,
]

SCHEMA_VERSION = len(MIGRATIONS)
BUSY_TIMEOUT_MS = 5000
# Beyond busy_timeout, retry a locked write this long before giving up with a clear message.
LOCK_RETRY_SECONDS = 60.0


def now() -> str:
    """The current time as stored in the ledger: ISO 8601, UTC, seconds."""
    return datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def default_path() -> Path:
    return paths.data_dir() / LEDGER_FILE


def _is_locked(exc: sqlite3.OperationalError) -> bool:
    return exc.sqlite_errorcode in (sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED) or "locked" in str(exc)


class Ledger:
    """A connection to the ledger file, migrated to the current schema on open."""

    def __init__(self, path: Path | str | None = None):
        self.path = Path(path) if path is not None else default_path()
        if not self.path.parent.is_dir():
            raise WhoknowsError(f"the ledger's directory {self.path.parent} does not exist")
        paths.ensure_private_file(self.path)
        try:
            self.db = sqlite3.connect(self.path, isolation_level=None, timeout=BUSY_TIMEOUT_MS / 1000)
            self.db.row_factory = sqlite3.Row
            self.db.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
            self._retrying(lambda: self.db.execute("PRAGMA journal_mode = WAL"))
            self.db.execute("PRAGMA synchronous = FULL")
            self.db.execute("PRAGMA foreign_keys = ON")
            self._migrate()
        except sqlite3.DatabaseError as exc:
            raise WhoknowsError(f"cannot open the ledger {self.path}: {exc}") from None

    # -- transactions -------------------------------------------------------------------------

    def _retrying(self, action):
        deadline = time.monotonic() + LOCK_RETRY_SECONDS
        delay = 0.01
        while True:
            try:
                return action()
            except sqlite3.OperationalError as exc:
                if not _is_locked(exc) or time.monotonic() > deadline:
                    if _is_locked(exc):
                        raise WhoknowsError(
                            f"the ledger {self.path} stayed locked for {LOCK_RETRY_SECONDS:.0f} s; "
                            "is another whoknows stuck?"
                        ) from None
                    raise
                time.sleep(delay * (1 + random.random()))
                delay = min(delay * 2, 0.5)

    @contextlib.contextmanager
    def write(self):
        """A short write transaction: `with ledger.write() as db: db.execute(...)`.

        Takes the write lock up front (BEGIN IMMEDIATE), commits on success, rolls back on error.
        """
        self._retrying(lambda: self.db.execute("BEGIN IMMEDIATE"))
        try:
            yield self.db
        except BaseException:
            self.db.execute("ROLLBACK")
            raise
        else:
            self._retrying(lambda: self.db.execute("COMMIT"))

    @contextlib.contextmanager
    def read(self):
        """A consistent snapshot for several reads (BEGIN DEFERRED)."""
        self.db.execute("BEGIN")
        try:
            yield self.db
        finally:
            self.db.execute("COMMIT")

    def query(self, sql: str, params=()) -> list[sqlite3.Row]:
        return self._retrying(lambda: self.db.execute(sql, params).fetchall())

    def close(self) -> None:
        self.db.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    # -- schema -------------------------------------------------------------------------------

    def schema_version(self) -> int:
        return self.db.execute("PRAGMA user_version").fetchone()[0]

    def _migrate(self) -> None:
        if self.schema_version() == SCHEMA_VERSION:
            return
        with self.write() as db:
            version = db.execute("PRAGMA user_version").fetchone()[0]  # another process may have won
            if version > SCHEMA_VERSION:
                raise WhoknowsError(
                    f"the ledger {self.path} has schema version {version}, newer than this whoknows "
                    f"understands ({SCHEMA_VERSION}); upgrade whoknows"
                )
            for target in range(version, SCHEMA_VERSION):
                for statement in _statements(MIGRATIONS[target]):
                    db.execute(statement)
                db.execute(f"PRAGMA user_version = {target + 1}")

    def integrity(self) -> str:
        """'ok', or SQLite's description of the damage."""
        rows = self.db.execute("PRAGMA integrity_check").fetchall()
        return "; ".join(row[0] for row in rows)

    # -- vendors ---------------------------------------------------------------------------------

    def vendor_id(self, domain: str, create: bool = False) -> int | None:
        """The row id of the vendor with this (already normalised) domain; created when `create`."""
        rows = self.query("SELECT id FROM vendors WHERE domain = ?", (domain,))
        if rows:
            return rows[0]["id"]
        if not create:
            return None
        with self.write() as db:
            db.execute(
                "INSERT INTO vendors (domain, created_at) VALUES (?, ?) ON CONFLICT(domain) DO NOTHING",
                (domain, now()),
            )
            return db.execute("SELECT id FROM vendors WHERE domain = ?", (domain,)).fetchone()["id"]

    # -- settings (never secrets) --------------------------------------------------------------

    def get_setting(self, key: str, default: str | None = None) -> str | None:
        rows = self.query("SELECT value FROM settings WHERE key = ?", (key,))
        return rows[0]["value"] if rows else default

    def set_setting(self, key: str, value: str) -> None:
        with self.write() as db:
            db.execute(
                "INSERT INTO settings (key, value) VALUES (?, ?) "
                "ON CONFLICT(key) DO UPDATE SET value = excluded.value",
                (key, value),
            )


def _statements(script: str):
    """Split a migration script into statements (executescript would commit our transaction)."""
    buffer = ""
    for line in script.splitlines(keepends=True):
        buffer += line.split("--", 1)[0] if "--" in line else line
        if sqlite3.complete_statement(buffer):
            if buffer.strip():
                yield buffer.strip()
            buffer = ""
    if buffer.strip():
        raise ValueError(f"incomplete SQL in migration: {buffer.strip()[:60]}")


def open_ledger(path: Path | str | None = None) -> Ledger:
    """Open (creating and migrating as needed) the ledger at `path` or in the data directory."""
    return Ledger(path)


__all__ = [
    "ALIAS_STATES", "DISCLOSURE_KINDS", "DISCLOSURE_SOURCES", "Ledger", "OBSERVATION_KINDS",
    "SCHEMA_VERSION", "now", "open_ledger",
]

