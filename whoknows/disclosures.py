"""Disclosures: what each vendor was given (told by the user, or seen by the proxy or a mail scan).

A disclosure is one fact (`kind`, `value`) held by one vendor, learned one way (`source`). The ledger
identifies it by its normalised value (the `match_key` column, computed by SQLite), so telling the
same fact twice only moves its `last_seen`, and `knows` finds "+34 600 111 222" when asked for
"0034600111222".

This is the one module that writes the `disclosures` table (besides `transfer`'s import of a backup
and the ledger's migrations): `record_disclosures` for facts told now, `record_seen_disclosure`
inside the transaction of the proxy's leak batches (`leak_records`) and of a mail scan
(`mail_records`).

Values are checked before anything is written: `parse_fact` (with `whoknows.values.clean_value`)
raises InputError naming the offending argument, and `record_disclosures` writes all of a call's
facts in one transaction.
"""

import json
import sqlite3
from dataclasses import dataclass
from typing import Sequence

from .errors import InputError
from .ledger import DISCLOSURE_KINDS, DISCLOSURE_SOURCES, Ledger, json_text, match_key_sql, now, vendor_ids
from .me import tag_for
from .values import RefusedSecret, clean_value

_KINDS_TEXT = ", ".join(DISCLOSURE_KINDS)


@dataclass(frozen=True)
class Fact:
    """One `KIND=VALUE` as given. `value` None: the vendor's own alias (`email` with no value)."""

    kind: str
    value: str | None


@dataclass(frozen=True)
class Recorded:
    kind: str
    value: str
    new: bool


@dataclass(frozen=True)
class Holder:
    """A vendor that holds a fact: who, what, how and when."""

    vendor: str
    kind: str
    value: str
    source: str
    first_seen: str
    last_seen: str
    evidence: object


def parse_fact(argument: str) -> Fact:
    """`KIND=VALUE` (or a bare `email`) -> a checked Fact; InputError names the argument."""
    kind, equals, value = argument.partition("=")
    kind = kind.strip().lower()
    if kind not in DISCLOSURE_KINDS:
        if not equals:
            raise InputError(f"{argument!r} is not KIND=VALUE (KIND is one of {_KINDS_TEXT})")
        raise InputError(f"{argument!r}: unknown kind {kind!r} (one of {_KINDS_TEXT})")
    if kind == "email" and not value.strip():
        return Fact("email", None)
    if not equals:
        raise InputError(f"{argument!r} is not KIND=VALUE: {kind} needs a value ({kind}=...)")
    try:
        return Fact(kind, clean_value(kind, value))
    except RefusedSecret as exc:
        raise InputError(f"{kind}=...: {exc}") from None
    except InputError as exc:
        raise InputError(f"{argument!r}: {exc}") from None


def record_disclosures(
    ledger: Ledger,
    domain: str,
    facts: Sequence[tuple[str, str]],
    source: str = "told",
    evidence: object = None,
    when: str | None = None,
) -> list[Recorded]:
    """Record that the vendor `domain` holds each (kind, value), in one transaction.

    Creates the vendor if needed. A fact already recorded from this source keeps its first_seen and
    gets `when` (default: now) as last_seen, and the value as given this time.
    """
    if source not in DISCLOSURE_SOURCES:
        raise ValueError(f"unknown disclosure source {source!r}")
    when = when or now()
    results = []
    with ledger.write() as db:
        vendor_id = vendor_ids(db, [domain], when)[domain]
        for kind, value in facts:
            results.append(_upsert(db, vendor_id, kind, value, source, json_text(evidence), when))
    return results


def _upsert(db, vendor_id: int, kind: str, value: str, source: str, evidence: str | None, when: str) -> Recorded:
    known = db.execute(
        "SELECT 1 FROM disclosures WHERE vendor_id = :vendor_id AND kind = :kind AND source = :source "
        f"AND match_key = {match_key_sql(':kind', ':value')}",
        {"vendor_id": vendor_id, "kind": kind, "source": source, "value": value},
    ).fetchone()
    db.execute(
        "INSERT INTO disclosures (vendor_id, kind, value, source, first_seen, last_seen, evidence) "
        "VALUES (?, ?, ?, ?, ?, ?, ?) "
        "ON CONFLICT(vendor_id, kind, match_key, source) DO UPDATE SET "
        "value = excluded.value, last_seen = max(last_seen, excluded.last_seen), "
        "evidence = coalesce(excluded.evidence, evidence)",
        (vendor_id, kind, value, source, when, when, evidence),
    )
    return Recorded(kind, value, new=known is None)


_DISCLOSURE_UPSERT = """
    INSERT INTO disclosures (vendor_id, kind, value, source, first_seen, last_seen, evidence)
    VALUES (?, ?, ?, ?, ?, ?, ?)
    ON CONFLICT (vendor_id, kind, match_key, source) DO UPDATE SET
        first_seen = min(first_seen, excluded.first_seen),
        last_seen = max(last_seen, excluded.last_seen),
        evidence = CASE WHEN excluded.last_seen >= last_seen THEN coalesce(excluded.evidence, evidence)
                        ELSE evidence END
"""


def record_seen_disclosure(db: sqlite3.Connection, vendor_id: int, kind: str, value: str, source: str,
                      evidence: object, first_seen: str, last_seen: str) -> None:
    """Record a fact seen (not told: by the proxy or a mail scan) inside the caller's transaction:
    the widest first/last seen, the latest evidence. (`record_disclosures` is for facts told now.)"""
    db.execute(_DISCLOSURE_UPSERT, (vendor_id, kind, value, source, first_seen, last_seen, json_text(evidence)))


def knows(ledger: Ledger, kind: str, value: str | None = None) -> list[Holder]:
    """Every vendor holding a fact of `kind` (or exactly `value`, compared normalised).

    An alias is an email address you gave (`tell VENDOR email` records the vendor's alias), so
    `email` finds aliases too (their Holder.kind says `alias`); `alias` finds only aliases.
    """
    if kind not in DISCLOSURE_KINDS:
        raise InputError(f"unknown kind {kind!r} (one of {_KINDS_TEXT})")
    sql = (
        "SELECT v.domain, d.kind, d.value, d.source, d.first_seen, d.last_seen, d.evidence "
        "FROM disclosures AS d JOIN vendors AS v ON v.id = d.vendor_id "
        + ("WHERE d.kind IN ('email', 'alias')" if kind == "email" else "WHERE d.kind = :kind")
    )
    params = {"kind": kind}
    if value is not None:
        params["value"] = clean_value(kind, value)
        # what the proxy learned is kept by reference: `a•••@x.org [me:TAG]`
        tag = tag_for(kind, params["value"])
        also = " OR d.value LIKE :reference" if tag else ""
        params["reference"] = f"%[me:{tag}]"
        sql += f" AND (d.match_key = {match_key_sql(':kind', ':value')}{also})"
    sql += " ORDER BY v.domain, d.value, d.source"
    return [
        Holder(row[0], row[1], row[2], row[3], row[4], row[5], parse_json(row[6]))
        for row in ledger.query(sql, params)
    ]


def parse_json(text: str | None) -> object:
    """A JSON column's value (the ledger checks JSON on write; old text is shown as it is)."""
    if text is None:
        return None
    try:
        return json.loads(text)
    except ValueError:
        return text


def evidence_summary(evidence: object, width: int = 60) -> str:
    """One short line for a table: `key=value, ...` of an evidence object."""
    if evidence is None or evidence == {}:
        return ""
    if isinstance(evidence, dict):
        text = ", ".join(f"{key}={_scalar(value)}" for key, value in evidence.items())
    else:
        text = _scalar(evidence)
    return text if len(text) <= width else text[: width - 1] + "…"


def _scalar(value: object) -> str:
    return value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)
