"""The engine for the subscribed lists, and its compiled cache (`compiled` is the file's format).

`engine.<key>.cache` in the data directory is the compiled engine; `<key>` digests every list
file's size, mtime and content hash, the list names and the engine's format version, so a cache
can only ever be loaded for exactly the lists it was built from (no separate key file to race
with). A cache that cannot be loaded is rebuilt from the lists' text; caches of older list
versions are removed.
"""

from __future__ import annotations

import contextlib
import dataclasses
import hashlib
import logging
import os
import sys
from collections.abc import Sequence
from pathlib import Path

from ..errors import WhoknowsError
from ..paths import data_dir
from . import compiled
from .engine import FilterEngine
from .subscriptions import Subscription, decode_list, read_subscriptions

log = logging.getLogger(__name__)


@dataclasses.dataclass
class _Source:
    name: str
    path: Path
    data: bytes
    mtime_ns: int


@dataclasses.dataclass
class LoadedEngine:
    """An engine and how it was obtained: `from_cache` is False when the lists were parsed."""

    engine: FilterEngine
    from_cache: bool
    cache_path: Path
    key: str
    warnings: list[str]


def load_engine() -> FilterEngine:
    """The engine for the subscribed lists (what the proxy calls): from the cache when still valid."""
    loaded = open_engine()
    for warning in loaded.warnings:
        log.warning("%s", warning)
    return loaded.engine


def open_engine() -> LoadedEngine:
    """Load the compiled engine if its key still matches the list files, else rebuild and cache it."""
    sources, warnings = _read_sources(read_subscriptions())
    key = _cache_key(sources)
    cache = data_dir() / f"engine.{key}.cache"
    if cache.is_file():
        try:
            return LoadedEngine(FilterEngine.load(cache), True, cache, key, warnings)
        except Exception as exc:  # noqa: BLE001 -- a cache is disposable: any failure means rebuild
            warnings.append(f"rebuilding the filter engine: its cache could not be loaded ({exc})")
    engine = _build(sources)
    try:
        _save_cache(engine, cache)
    except (OSError, WhoknowsError) as exc:
        warnings.append(f"cannot cache the filter engine in {cache.parent}: {exc}")
    return LoadedEngine(engine, False, cache, key, warnings)


def cache_key() -> str:
    """The current lists' cache key: lets a long-running proxy notice that the lists changed."""
    return _cache_key(_read_sources(read_subscriptions())[0])


def _read_sources(subscriptions: Sequence[Subscription]) -> tuple[list[_Source], list[str]]:
    """The list files the engine is built from, read once (hashed for the key, parsed on a miss)."""
    sources, warnings = [], []
    for sub in subscriptions:
        path = sub.copy_path()
        try:
            with open(path, "rb") as handle:
                mtime_ns = os.fstat(handle.fileno()).st_mtime_ns
                data = handle.read()
        except FileNotFoundError:
            if sub.kind == "file":
                warnings.append(f"list {sub.name}: {path} is missing; skipping it")
            elif sub.kind == "builtin":
                warnings.append(f"the built-in list {path} is missing (broken install?); skipping it")
            continue  # a URL subscription that was never downloaded: nothing to use yet
        except OSError as exc:
            warnings.append(f"list {sub.name}: cannot read {path}: {exc.strerror}; skipping it")
            continue
        sources.append(_Source(sub.name, path, data, mtime_ns))
    return sources, warnings


def _engine_format_version() -> str:
    """The cache format and the Python that wrote it (marshal's format follows Python's version)."""
    return f"{compiled.FORMAT_VERSION} python{sys.version_info[0]}.{sys.version_info[1]}"


def _cache_key(sources: Sequence[_Source]) -> str:
    digest = hashlib.sha256(f"engine-format {_engine_format_version()}\n".encode())
    for source in sources:
        content = hashlib.sha256(source.data).hexdigest()
        line = f"{source.name}\0{source.path}\0{len(source.data)}\0{source.mtime_ns}\0{content}\n"
        digest.update(line.encode())
    return digest.hexdigest()[:24]


def _build(sources: Sequence[_Source]) -> FilterEngine:
    engine = FilterEngine()
    for source in sources:
        engine.add_list(decode_list(source.data), source.name)
    return engine


def _save_cache(engine: FilterEngine, cache: Path) -> None:
    """Save (the engine writes atomically, 0600), then drop caches of older list versions."""
    engine.save(cache)
    for old in cache.parent.glob("engine.*.cache"):
        if old != cache:  # a cache for other list contents can never match again
            with contextlib.suppress(OSError):
                old.unlink()
