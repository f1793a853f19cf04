"""What the user allows each vendor: marketing yes/no, the channels it may use, the topics it may
write about, how often (a month, a week), the day consent to marketing was withdrawn, notes.

One row per vendor; a field left NULL means "not stated" (distinct from "no"): `marketing` is
None/False/True, `channels` and `topics` None or a list (an empty list: none at all; topics come
from `whoknows.mail_topics.TOPICS`). `opted_out_on` (YYYY-MM-DD) is the day you withdrew consent to
marketing (unsubscribed, or told the vendor): it may be earlier than the day it is recorded, and
`prefs --check` counts marketing from the next day on against it.

Every change also adds the preferences as they stand after it to `preference_history`, with the
moment it was made: a later change never hides what was in force before it, so `prefs --check`
judges each message by the preferences in force when it arrived (`history`).
"""

import json
import sqlite3
from dataclasses import dataclass

from datetime import date

from .errors import InputError
from .ledger import Ledger, json_text, now, vendor_ids
from .mail_topics import check_topics as _check_topics

CHANNELS = ("email", "phone", "sms", "post", "push")
FIELDS = ("marketing", "channels", "max_per_month", "notes", "topics", "max_per_week", "opted_out_on")
_COLUMNS = ", ".join(FIELDS)


def get_preferences(db: sqlite3.Connection, vendor_id: int) -> dict | None:
    """The vendor's preferences as plain data, or None when none were ever stated."""
    row = db.execute(f"SELECT {_COLUMNS}, updated_at FROM preferences WHERE vendor_id = ?", (vendor_id,)).fetchone()
    if row is None:
        return None
    return {
        "marketing": None if row[0] is None else bool(row[0]),
        "channels": None if row[1] is None else json.loads(row[1]),
        "max_per_month": row[2],
        "notes": row[3],
        "topics": None if row[4] is None else json.loads(row[4]),
        "max_per_week": row[5],
        "opted_out_on": row[6],
        "updated_at": row[7],
    }


def check_topics(topics: list[str]) -> list[str]:
    """Topics in vocabulary order, once each; InputError for one not in `mail_topics.TOPICS`."""
    try:
        return _check_topics(topics)
    except ValueError as exc:
        raise InputError(str(exc)) from None


def check_day(text: str, what: str = "--opt-out") -> str:
    """`text` as YYYY-MM-DD; InputError when it is not a date."""
    try:
        return date.fromisoformat(text.strip()).isoformat()
    except ValueError:
        raise InputError(f"{what}: {text!r} is not a date (YYYY-MM-DD)") from None


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
    for limit in ("max_per_month", "max_per_week"):
        if changes.get(limit) is not None and changes[limit] < 0:
            raise InputError(f"--{limit.replace('_', '-')} must be 0 or more")
    values = dict(changes)
    if values.get("opted_out_on") is not None:  # withdrawing consent is saying no to marketing
        if values.get("marketing"):
            raise InputError("an opt-out withdraws consent to marketing: not with a yes to marketing")
        values["marketing"] = False
    elif values.get("marketing") and "opted_out_on" not in values:  # a yes again ends the opt-out
        values["opted_out_on"] = None
    if values.get("channels") is not None:
        values["channels"] = json_text(check_channels(values["channels"]))
    if values.get("topics") is not None:
        values["topics"] = json_text(check_topics(values["topics"]))
    if values.get("opted_out_on") is not None:
        values["opted_out_on"] = check_day(values["opted_out_on"])
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
        updates = ", ".join(f"{column} = excluded.{column}" for column in FIELDS)
        db.execute(
            f"INSERT INTO preference_history (vendor_id, set_at, {_COLUMNS}) "
            f"SELECT vendor_id, ?, {_COLUMNS} FROM preferences WHERE vendor_id = ? "
            f"ON CONFLICT(vendor_id, set_at) DO UPDATE SET {updates}",
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
    topics: list[str] | None = None
    max_per_week: int | None = None
    opted_out_on: str | None = None  # YYYY-MM-DD


def history(ledger: Ledger, domains: set[str] | None = None) -> dict[str, list[Stated]]:
    """Each vendor's preferences over time (of `domains`, or all), oldest first."""
    found: dict[str, list[Stated]] = {}
    for row in ledger.query(
            "SELECT v.domain, h.set_at, h.marketing, h.channels, h.max_per_month, h.notes, h.topics, h.max_per_week, "
            "h.opted_out_on FROM preference_history AS h JOIN vendors AS v ON v.id = h.vendor_id "
            "ORDER BY v.domain, h.set_at"):
        if domains is None or row[0] in domains:
            found.setdefault(row[0], []).append(Stated(
                row[1], None if row[2] is None else bool(row[2]), None if row[3] is None else json.loads(row[3]),
                row[4], row[5], None if row[6] is None else json.loads(row[6]), row[7], row[8]))
    return found

