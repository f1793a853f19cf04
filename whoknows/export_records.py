"""What a vendor hands back (its data export), read and kept as findings: the one writer of the
`data_exports` and `export_findings` tables.

`read_vendor_export(ledger, vendor, path)` reads an export with `whoknows.data_exports.read_export`,
looking for every value the proxy watches (`me.watched_values`: your own values and every alias, in
every encoding the leak scanner knows, hashes included), and keeps:
- one `data_exports` row: the vendor, the request it answers (if any), the export's name (no path),
  a digest of its bytes, when the vendor handed it over, how much was read and what was skipped;
- one `export_findings` row per value or category found, with the file and the field of its first
  place and how many times it occurred there: values by reference (an alias address, or
  `a•••@example.com [me:3f9a0c1d]`), categories with a masked sample at most. Never a copy of the
  export: member names and field paths are kept because they say where, and they are the vendor's.

The export is read whole before anything is written: a ZIP bomb, a traversal name or a truncated
ZIP (`data_exports.ExportError`) is one error and nothing is stored. Reading the same export again
(same vendor, same digest) replaces its findings (a newer whoknows may find more) and keeps the
earliest date it was received.

`vendor_exports(db, vendor_id)` is what `vendor show` prints as "what it says it holds".
"""

from __future__ import annotations

import hashlib
import os
import stat
from dataclasses import dataclass
from datetime import date
from pathlib import Path

from .data_exports import ExportReading, Limits, read_export
from .disclosures import parse_json
from .errors import InputError, NotFoundError
from .ledger import Ledger, json_text, now, vendor_ids
from .me import load_keys, watched_values

_CHUNK = 1024 * 1024


@dataclass
class StoredExport:
    """One export read and stored."""

    id: int
    vendor: str
    source_name: str
    received_on: str
    new: bool  # False: the same export was read before; its findings were replaced
    reading: ExportReading
    unreadable_values: int  # own values this machine's key cannot open: not looked for

    def to_json(self) -> dict:
        reading = self.reading
        return {
            "export": self.id, "vendor": self.vendor, "source": self.source_name, "received_on": self.received_on,
            "new": self.new, "files_read": reading.files_read, "bytes_read": reading.bytes_read,
            "categories": reading.categories_held(),
            "values": [_value_json(v.kind, v.value_id.ref, v.file, v.field, v.encoding, v.form, v.count)
                       for v in reading.values],
            "category_findings": [
                {"category": c.category, "file": c.file, "field": c.field, "evidence": c.evidence,
                 "sample": c.sample, "count": c.count} for c in reading.categories],
            "skipped": [{"file": s.file, "reason": s.reason} for s in reading.skipped],
            "unreadable_values": self.unreadable_values,
        }


def _value_json(kind, value_ref, file, field, encoding, form, count) -> dict:
    return {"kind": kind, "value": value_ref, "file": file, "field": field, "encoding": encoding, "form": form,
            "count": count}


def export_digest(path: Path) -> str:
    """sha256 of a file's bytes; of a folder, of its regular files' relative names and sizes (a
    folder is read once, by the reader; reading every byte twice for an identity is not worth it)."""
    digest = hashlib.sha256()
    try:
        if path.is_dir():
            digest.update(b"folder\n")
            for root, dirs, files in os.walk(path):
                dirs.sort()
                for name in sorted(files):
                    full = Path(root, name)
                    info = full.lstat()
                    if stat.S_ISREG(info.st_mode):
                        digest.update(f"{full.relative_to(path).as_posix()}\0{info.st_size}\n".encode(
                            "utf-8", "surrogateescape"))
        else:
            with path.open("rb") as handle:
                while chunk := handle.read(_CHUNK):
                    digest.update(chunk)
    except OSError as exc:
        raise InputError(f"cannot read {path}: {exc.strerror or exc}") from None
    return digest.hexdigest()


def read_vendor_export(ledger: Ledger, vendor: str, path: str | os.PathLike, *, request_id: int | None = None,
                       received_on: date | None = None, limits: Limits = Limits()) -> StoredExport:
    """Read the export at `path` that `vendor` (a domain as the ledger writes it) handed over on
    `received_on` (default today), in answer to request `request_id` if given; store its findings.

    Raises InputError (ExportError for an unsafe or broken export) before anything is written.
    """
    path = Path(path)
    keys = load_keys(create=False)
    watched, unreadable = watched_values(ledger, keys)
    reading = read_export(path, watched, limits=limits)  # raises before anything is stored
    digest = export_digest(path)  # of the bytes on disk: a ZIP's are few (bench/bench_export_records.py)
    received = (received_on or date.today()).isoformat()
    with ledger.write() as db:
        if request_id is not None and db.execute(
                "SELECT 1 FROM rights_requests AS r JOIN vendors AS v ON v.id = r.vendor_id "
                "WHERE r.id = ? AND v.domain = ?", (request_id, vendor)).fetchone() is None:
            raise NotFoundError(f"no request {request_id} to {vendor} ('whoknows requests' lists them)")
        vendor_id = vendor_ids(db, [vendor])[vendor]
        known = db.execute("SELECT id, received_on FROM data_exports WHERE vendor_id = ? AND digest = ?",
                           (vendor_id, digest)).fetchone()
        row = (request_id, path.name or str(path), now(), reading.files_read, reading.bytes_read,
               json_text([list(s) for s in reading.skipped]))
        if known is None:
            export_id = db.execute(
                "INSERT INTO data_exports (vendor_id, digest, received_on, request_id, source_name, read_at, "
                "files_read, bytes_read, skipped) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (vendor_id, digest, received, *row)).lastrowid
        else:
            export_id, received = known[0], min(known[1], received)
            db.execute(
                "UPDATE data_exports SET received_on = ?, request_id = coalesce(?, request_id), source_name = ?, "
                "read_at = ?, files_read = ?, bytes_read = ?, skipped = ? WHERE id = ?",
                (received, *row, export_id))
            db.execute("DELETE FROM export_findings WHERE export_id = ?", (export_id,))
        db.executemany(
            "INSERT INTO export_findings (export_id, finding, kind, value_ref, encoding, form, file, field, count) "
            "VALUES (?, 'value', ?, ?, ?, ?, ?, ?, ?)",
            [(export_id, v.kind, v.value_id.ref, v.encoding, v.form, v.file, v.field, v.count)
             for v in reading.values])
        db.executemany(
            "INSERT INTO export_findings (export_id, finding, category, basis, sample, file, field, count) "
            "VALUES (?, 'category', ?, ?, ?, ?, ?, ?)",
            [(export_id, c.category, c.evidence, c.sample, c.file, c.field, c.count) for c in reading.categories])
    return StoredExport(export_id, vendor, row[1], received, known is None, reading, unreadable)


def vendor_exports(db, vendor_id: int) -> list[dict]:
    """The vendor's exports, newest first, each with what it says the vendor holds: the categories
    of data (each with the first file and field that shows it) and the user's values found (each
    value once, with the places it was found). Runs in the caller's read transaction."""
    exports = []
    for row in db.execute(
            "SELECT id, request_id, source_name, received_on, read_at, files_read, bytes_read, skipped "
            "FROM data_exports WHERE vendor_id = ? ORDER BY received_on DESC, id DESC", (vendor_id,)).fetchall():
        categories: dict[str, dict] = {}
        for category, file, field, evidence, sample, count in db.execute(
                "SELECT category, file, field, basis, sample, count FROM export_findings "
                "WHERE export_id = ? AND finding = 'category' ORDER BY category, file, id", (row["id"],)):
            entry = categories.setdefault(category, {"category": category, "places": 0, "count": 0,
                                                     "file": file, "field": field, "evidence": evidence,
                                                     "sample": sample})
            entry["places"] += 1
            entry["count"] += count
        values: dict[str, dict] = {}
        for kind, value_ref, encoding, form, file, field, count in db.execute(
                "SELECT kind, value_ref, encoding, form, file, field, count FROM export_findings "
                "WHERE export_id = ? AND finding = 'value' ORDER BY kind, value_ref, file, id", (row["id"],)):
            entry = values.setdefault(value_ref, {"kind": kind, "value": value_ref, "places": []})
            entry["places"].append({"file": file, "field": field, "encoding": encoding, "form": form,
                                    "count": count})
        exports.append({
            "export": row["id"], "request": row["request_id"], "source": row["source_name"],
            "received_on": row["received_on"], "read_at": row["read_at"], "files_read": row["files_read"],
            "bytes_read": row["bytes_read"], "skipped": parse_json(row["skipped"]) or [],
            "categories": list(categories.values()), "values": list(values.values()),
        })
    return exports


__all__ = ["StoredExport", "export_digest", "read_vendor_export", "vendor_exports"]
