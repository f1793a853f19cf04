"""What the user allows each vendor: marketing yes/no, the channels it may use, how often, notes.

One row per vendor; a field left NULL means "not stated" (distinct from "no"): `marketing` is
None/False/True, `channels` None or a list (an empty list: no channel at all).
"""

import json
import sqlite3

from .errors import InputError
from .ledger import Ledger, json_text, now

CHANNELS = ("email", "phone", "sms", "post", "push")
FIELDS = ("marketing", "channels", "max_per_month", "notes")


def get_preferences(db: sqlite3.Connection, vendor_id: int) -> dict | None:
    """The vendor's preferences as plain data, or None when none were ever stated."""
    row = db.execute(
        "SELECT marketing, channels, max_per_month, notes, updated_at FROM preferences WHERE vendor_id = ?",
        (vendor_id,),
    ).fetchone()
    if row is None:
        return None
    return {
        "marketing": None if row[0] is None else bool(row[0]),
        "channels": None if row[1] is None else json.loads(row[1]),
        "max_per_month": row[2],
        "notes": row[3],
        "updated_at": row[4],
    }


def check_channels(channels: list[str]) -> list[str]:
    """Sorted, de-duplicated channel names; InputError for one that is not in CHANNELS."""
    cleaned = sorted({channel.strip().lower() for channel in channels})
    for channel in cleaned:
        if channel not in CHANNELS:
            raise InputError(f"unknown channel {channel!r} (one of {', '.join(CHANNELS)})")
    return cleaned


def set_preferences(ledger: Ledger, domain: str, changes: dict) -> dict:
    """Update the given fields of the vendor's preferences (creating vendor and row as needed).

    `changes` maps any of FIELDS to a new value; None clears a field back to "not stated".
    Returns the preferences after the change.
    """
    unknown = set(changes) - set(FIELDS)
    if unknown:
        raise TypeError(f"unknown preference fields: {sorted(unknown)}")
    if changes.get("max_per_month") is not None and changes["max_per_month"] < 0:
        raise InputError("--max-per-month must be 0 or more")
    values = dict(changes)
    if values.get("channels") is not None:
        values["channels"] = json_text(check_channels(values["channels"]))
    if values.get("marketing") is not None:
        values["marketing"] = int(bool(values["marketing"]))
    stamp = now()
    with ledger.write() as db:
        db.execute(
            "INSERT INTO vendors (domain, created_at) VALUES (?, ?) ON CONFLICT(domain) DO NOTHING",
            (domain, stamp),
        )
        vendor_id = db.execute("SELECT id FROM vendors WHERE domain = ?", (domain,)).fetchone()[0]
        db.execute(
            "INSERT INTO preferences (vendor_id, updated_at) VALUES (?, ?) ON CONFLICT(vendor_id) DO NOTHING",
            (vendor_id, stamp),
        )
        for column, value in values.items():  # column names come from FIELDS only
            db.execute(f"UPDATE preferences SET {column} = ?, updated_at = ? WHERE vendor_id = ?",
                       (value, stamp, vendor_id))
        return get_preferences(db, vendor_id)
