"""The compiled-engine cache: the built index as `marshal` of plain data, behind a checked header.

Why marshal: it loads tuples, dicts, strings and frozensets at C speed (tens of milliseconds for
EasyList + EasyPrivacy) and, unlike pickle, it cannot call anything while loading. Everything in
it came from filter lists, which are not trusted: the loader only accepts the plain types the
engine writes, and the file carries a SHA-256 of its payload, so a damaged, truncated or foreign
file is refused with a WhoknowsError (the caller then rebuilds from the lists' text).

Layout: MAGIC, format version (u16), Python major/minor (u8 u8, marshal's format follows Python),
SHA-256 of the payload (32 bytes), payload: (list names, list stats, records per list, plain host
keys per list, index, plain host index). Bump FORMAT_VERSION whenever the payload changes: it is
in the header and in the lists' cache key, so an older cache is rebuilt, never misread.
"""

from __future__ import annotations

import contextlib
import gc
import hashlib
import marshal
import struct
import sys
from pathlib import Path
from typing import Iterable

from ..errors import WhoknowsError
from ..paths import write_private_file
from .parser import CATEGORY_COUNT

MAGIC = b"whoknows-filters\n"
FORMAT_VERSION = 3  # 2: plain `||host^` filters kept as host keys (a dict), not records; 3: `$cname` exceptions
_HEADER = struct.Struct(">HBB32s")


@contextlib.contextmanager
def no_gc():
    """Pause the cycle collector while building 100k+ tuples: they hold no cycles, and the
    collector's passes would otherwise double the load time."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def save(
    path, names: list[str], lists: Iterable, records: dict[int, list[tuple]], plain: dict[int, tuple[str, ...]],
    index: list, plain_hosts: dict[str, int],
) -> None:
    stats = tuple(
        (s.name, s.lines, s.filters_used, tuple(sorted(s.skipped.items()))) for s in lists
    )
    payload = marshal.dumps(
        (
            tuple(names),
            stats,
            {list_index: tuple(recs) for list_index, recs in records.items()},
            dict(plain),
            tuple(index),
            plain_hosts,
        ),
        4,
    )
    header = _HEADER.pack(
        FORMAT_VERSION, sys.version_info[0], sys.version_info[1], hashlib.sha256(payload).digest()
    )
    write_private_file(Path(path), MAGIC + header + payload)


def load(path) -> tuple[list[str], list[tuple], dict[int, tuple[tuple, ...]], dict[int, tuple[str, ...]], list, dict]:
    """(list names, list stats as (name, lines, filters used, skipped by reason), records per list,
    plain host keys per list, index, plain host index), as `save` was given them."""
    path = Path(path)
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise WhoknowsError(f"cannot read the filter cache {path}: {exc.strerror}") from None
    if not data.startswith(MAGIC) or len(data) < len(MAGIC) + _HEADER.size:
        raise WhoknowsError(f"{path} is not a whoknows filter cache")
    version, major, minor, digest = _HEADER.unpack_from(data, len(MAGIC))
    if version != FORMAT_VERSION or (major, minor) != sys.version_info[:2]:
        raise WhoknowsError(f"the filter cache {path} is from another version; rebuild it from the lists")
    payload = memoryview(data)[len(MAGIC) + _HEADER.size:]
    if hashlib.sha256(payload).digest() != digest:
        raise WhoknowsError(f"the filter cache {path} is damaged; rebuild it from the lists")
    try:
        with no_gc():
            names, stats, records, plain, index, plain_hosts = marshal.loads(payload)
            _check(names, stats, records, plain, index, plain_hosts)
            stats = [(name, lines, used, dict(skipped)) for name, lines, used, skipped in stats]
            return list(names), stats, records, plain, list(index), plain_hosts
    except (ValueError, EOFError, TypeError, KeyError, IndexError) as exc:
        raise WhoknowsError(f"the filter cache {path} is damaged ({exc}); rebuild it from the lists") from None


def _check(names, stats, records, plain, index, plain_hosts) -> None:
    """Refuse anything but the shapes `save` writes (a cheap check, not a full walk of the records)."""
    if not (isinstance(names, tuple) and all(isinstance(n, str) for n in names)):
        raise TypeError("list names")
    if not isinstance(stats, tuple) or not isinstance(records, dict):
        raise TypeError("lists")
    if not all(isinstance(k, int) and isinstance(v, tuple) for k, v in records.items()):
        raise TypeError("records")
    if not (isinstance(plain, dict) and plain.keys() == records.keys()
            and all(isinstance(v, tuple) for v in plain.values())):
        raise TypeError("plain host filters")
    # Every request looks these up: their types are checked in full (a few ms).
    if not (isinstance(plain_hosts, dict) and all(type(k) is str for k in plain_hosts)
            and all(type(v) is int and 0 <= v < len(names) for v in plain_hosts.values())):
        raise TypeError("plain host index")
    if not isinstance(index, tuple) or len(index) != CATEGORY_COUNT:
        raise TypeError("index")
    for part in index:
        if part is None:
            continue
        if not (isinstance(part, tuple) and len(part) == 4 and all(isinstance(d, dict) for d in part)):
            raise TypeError("index part")
