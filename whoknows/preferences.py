"""What the user allows each vendor: marketing yes/no, the channels it may use, how often, notes.

One row per vendor; a field left NULL means "not stated" (distinct from "no"): `marketing` is
None/False/True, `channels` None or a list (an empty list: no channel at all).

Every change also adds the preferences as they stand after it to `preference_history`, with the
moment it was made: a later change never hides what was in force before it, so `prefs --check`
judges each message by the preferences in force when it arrived (`history`).
"""

import json
import sqlite3
from dataclasses import dataclass

from .errors import InputError
from .ledger import Ledger, json_text, now, vendor_ids

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


def set_preferences(ledger: Ledger, domain: str, changes: dict, at: str | None = None) -> dict:
    """Update the given fields of the vendor's preferences (creating vendor and row as needed).

    `changes` maps any of FIELDS to a new value; None clears a field back to "not stated".
    `at` is when the change is made (a ledger timestamp; default now): the preferences after it
    go in the history from that moment. Returns the preferences after the change.
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
    stamp = at or now()
    with ledger.write() as db:
        vendor_id = vendor_ids(db, [domain], stamp)[domain]
        db.execute(
            "INSERT INTO preferences (vendor_id, updated_at) VALUES (?, ?) ON CONFLICT(vendor_id) DO NOTHING",
            (vendor_id, stamp),
        )
        for column, value in values.items():  # column names come from FIELDS only
            db.execute(f"UPDATE preferences SET {column} = ?, updated_at = ? WHERE vendor_id = ?",
                       (value, stamp, vendor_id))
        db.execute(
            "INSERT INTO preference_history (vendor_id, set_at, marketing, channels, max_per_month, notes) "
            "SELECT vendor_id, ?, marketing, channels, max_per_month, notes FROM preferences WHERE vendor_id = ? "
            "ON CONFLICT(vendor_id, set_at) DO UPDATE SET marketing = excluded.marketing, "
            "channels = excluded.channels, max_per_month = excluded.max_per_month, notes = excluded.notes",
            (stamp, vendor_id))
        return get_preferences(db, vendor_id)


@dataclass(frozen=True)
class Stated:
    """The preferences in force from `set_at` until the vendor's next entry in the history."""

    set_at: str
    marketing: bool | None
    channels: list[str] | None
    max_per_month: int | None
    notes: str | None


def history(ledger: Ledger, domains: set[str] | None = None) -> dict[str, list[Stated]]:
    """Each vendor's preferences over time (of `domains`, or all), oldest first."""
    found: dict[str, list[Stated]] = {}
    for row in ledger.query(
            "SELECT v.domain, h.set_at, h.marketing, h.channels, h.max_per_month, h.notes "
            "FROM preference_history AS h JOIN vendors AS v ON v.id = h.vendor_id ORDER BY v.domain, h.set_at"):
        if domains is None or row[0] in domains:
            found.setdefault(row[0], []).append(Stated(
                row[1], None if row[2] is None else bool(row[2]), None if row[3] is None else json.loads(row[3]),
                row[4], row[5]))
    return found

