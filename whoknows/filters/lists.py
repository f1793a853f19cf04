"""Filter-list subscriptions: which lists the engine uses, where their copies live, how they update.

Layout in the data directory:
- `lists.json`        the subscriptions, in order (name, URL or file, ETag, Last-Modified, times, last
                      error, stats of the last good parse). Missing means the defaults below.
- `lists/<slug>.txt`  the last good download of each URL subscription (replaced atomically).
- `engine.<key>.cache` the compiled engine; `<key>` digests every list file's size, mtime and content
                      hash, the list names and the engine's format version, so a cache can only ever be
                      loaded for exactly the lists it was built from (no separate key file to race with).

Three kinds of subscription:
- `builtin`: `whoknows/data/builtin-trackers.txt`, shipped with whoknows, on by default so the proxy
  blocks the major trackers offline out of the box. `lists remove builtin` turns it off and
  `lists add builtin` back on.
- a URL: downloaded only by `lists update` (whoknows makes no other network call). A download that
  fails, is an HTML page, does not look like a filter list (`why_not_a_filter_list`: binary, or
  mostly lines no filter is shaped like) or parses to zero usable filters leaves the last good copy
  in place.
- a local file: referenced, not copied, so the user's edits apply: the engine re-reads it whenever
  its size, mtime or content changes. It is checked like a download when added. A file that
  disappears is skipped with a warning.

The default subscriptions are EasyPrivacy and uBlock Origin's privacy list; both are fetched on the
first `lists update`, until then only the built-in list is active.
"""

from __future__ import annotations

import contextlib
import dataclasses
import datetime
import errno
import hashlib
import json
import logging
import os
import re
import time
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from ..errors import InputError, NotFoundError, WhoknowsError
from ..paths import DIR_MODE, data_dir, write_private_file

if TYPE_CHECKING:
    from . import FilterEngine, ListStats

log = logging.getLogger(__name__)

BUILTIN = "builtin"
BUILTIN_FILE = Path(__file__).resolve().parents[1] / "data" / "builtin-trackers.txt"

# uBlock Origin subscribes to its privacy list at this contentURL (gorhill/uBlock assets/assets.json,
# "ublock-privacy"); the `.min.txt` files are its CDN mirrors of the same list.
DEFAULT_URLS: tuple[tuple[str, str], ...] = (
    ("EasyPrivacy", "https://easylist.to/easylist/easyprivacy.txt"),
    ("uBO-Privacy", "https://ublockorigin.github.io/uAssets/filters/privacy.txt"),
)

METADATA_VERSION = 1
DOWNLOAD_TIMEOUT = 30.0  # seconds without progress on any socket operation (connect, each read)
DOWNLOAD_DEADLINE = 300.0  # seconds for a whole download, so a server dripping bytes cannot hang us
MAX_LIST_BYTES = 64 * 1024 * 1024  # EasyList is 2 MB; anything this big is not a filter list
USER_AGENT = "whoknows (filter-list update; +https://github.com/whoknows)"

_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,39}$")
_HTML_START = ("<!doctype", "<html", "<head", "<body", "<?xml", "<meta", "<title")

# A list must look like one before it is used (the parser makes a substring filter of almost any
# line, so "it parsed" says little): text, and at least this share of its lines that are not
# blank or comments shaped like filters. Real lists are at 99-100 %; a mailbox at about 12 %.
MIN_FILTER_SHARE = 0.5
_SHAPE_SAMPLE = 10_000  # lines judged (from the start): enough to tell, a tenth of the time for a big list
_NOT_TEXT = re.compile(r"[\x00-\x08\x0b\x0e-\x1f\x7f\ufffd]")  # control characters, undecodable bytes
_MOST_BINARY = 0.1  # a few bad bytes cost a line each; a NUL, or more than this share of characters: not text
_COSMETIC_MARK = re.compile(r"#[@?$%]{0,2}#|\$@?\$")  # element hiding, scriptlets, HTML filters: may hold spaces
_HOSTS_LINE_START = re.compile(r"[0-9a-fA-F:.]+[ \t]+\S")  # `0.0.0.0 tracker.example`
_BASE64_LINE = re.compile(r"[A-Za-z0-9+/=]{40,}")  # an encoded attachment, not a filter
_SPACE = re.compile(r"\s")

ProgressHook = Callable[[str, int, int | None], None]  # (list name, bytes received, bytes expected)


# --- subscriptions and their metadata ----------------------------------------------------------


@dataclasses.dataclass
class Subscription:
    """One subscribed list; `kind` is "builtin", "url" or "file"."""

    name: str
    kind: str
    url: str | None = None
    file: str | None = None  # absolute path of a referenced local file
    etag: str | None = None
    last_modified: str | None = None
    downloaded: str | None = None  # when the copy on disk was fetched (UTC ISO 8601)
    last_update: str | None = None  # the last successful update: new copy or 304 Not Modified
    last_attempt: str | None = None
    last_error: str | None = None
    stats: dict | None = None  # lines, filters_used, skipped: from the last good parse

    @property
    def slug(self) -> str:
        return self.name.lower()

    @property
    def source(self) -> str:
        """What the user subscribed to: the URL, the file, or the built-in list's path."""
        return self.url or self.file or str(BUILTIN_FILE)

    def copy_path(self) -> Path:
        """The file the engine reads for this list."""
        if self.kind == "url":
            return lists_dir() / f"{self.slug}.txt"
        if self.kind == "file":
            return Path(self.file)
        return BUILTIN_FILE

    def to_json(self) -> dict:
        return {key: value for key, value in dataclasses.asdict(self).items() if value is not None}

    @classmethod
    def from_json(cls, data: dict) -> Subscription:
        fields = {field.name for field in dataclasses.fields(cls)}
        return cls(**{key: value for key, value in data.items() if key in fields})


def default_subscriptions() -> list[Subscription]:
    return [Subscription(BUILTIN, "builtin")] + [Subscription(n, "url", url=u) for n, u in DEFAULT_URLS]


def lists_dir() -> Path:
    path = data_dir() / "lists"
    if not path.is_dir():
        try:
            path.mkdir(mode=DIR_MODE, exist_ok=True)
        except OSError as exc:
            raise WhoknowsError(f"cannot create {path}: {exc.strerror}") from None
    return path


def metadata_path() -> Path:
    return data_dir() / "lists.json"


def read_subscriptions() -> list[Subscription]:
    """The subscriptions in engine order; the defaults when nothing was ever changed."""
    path = metadata_path()
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        return default_subscriptions()
    except OSError as exc:
        raise WhoknowsError(f"cannot read {path}: {exc.strerror}") from None
    try:
        data = json.loads(raw)
        if data.get("version") != METADATA_VERSION:
            raise ValueError(f"unknown version {data.get('version')!r}")
        return [Subscription.from_json(entry) for entry in data["lists"]]
    except (ValueError, KeyError, TypeError, AttributeError) as exc:
        raise WhoknowsError(
            f"{path} is damaged ({exc}); fix it or delete it to go back to the default lists"
        ) from None


def write_subscriptions(subscriptions: Sequence[Subscription]) -> None:
    data = {"version": METADATA_VERSION, "lists": [s.to_json() for s in subscriptions]}
    write_private_file(metadata_path(), (json.dumps(data, indent=2, ensure_ascii=False) + "\n").encode())


@contextlib.contextmanager
def _locked() -> Iterator[None]:
    """Serialise commands that change subscriptions (two `lists update` runs would race on files)."""
    try:
        import fcntl
    except ImportError:  # Windows: no advisory locks; concurrent list commands are the user's risk
        yield
        return
    lock = data_dir() / "lists.lock"
    fd = os.open(lock, os.O_CREAT | os.O_RDWR, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)  # closing releases the lock


def find(subscriptions: Sequence[Subscription], key: str) -> Subscription:
    """The subscription named `key` (any case), or whose URL or file is `key`."""
    wanted = key.strip()
    for sub in subscriptions:
        if sub.name.lower() == wanted.lower() or (sub.url and sub.url == wanted):
            return sub
    path = _abspath(wanted)
    for sub in subscriptions:
        if sub.file and sub.file == path:
            return sub
    names = ", ".join(s.name for s in subscriptions) or "none"
    raise NotFoundError(f"no subscribed list is named {key!r} (subscribed: {names})")


def _abspath(text: str) -> str:
    return str(Path(text).expanduser().resolve())


def _now() -> str:
    return datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def local_date(iso: str | None) -> str:
    """`2026-11-20` in local time for a stored UTC timestamp ("never" for none)."""
    if not iso:
        return "never"
    moment = datetime.datetime.fromisoformat(iso.replace("Z", "+00:00"))
    return moment.astimezone().strftime("%Y-%m-%d")


# --- adding and removing -----------------------------------------------------------------------


def add_subscription(target: str, name: str | None = None) -> Subscription:
    """Subscribe to a URL (downloaded on the next `lists update`) or reference a local file.

    `builtin` turns the built-in list back on. A local file must parse to at least one usable
    filter now, so a typo'd path or a wrong file is refused instead of silently blocking nothing.
    """
    target = target.strip()
    with _locked():
        subscriptions = read_subscriptions()
        if target.lower() == BUILTIN and not Path(target).exists():
            sub = Subscription(BUILTIN, "builtin")
            subscriptions.insert(0, sub)  # first, as by default: its filters carry company ownership
        elif "://" in target:
            sub = Subscription(_check_name(name or _name_from_url(target)), "url", url=_check_url(target))
            subscriptions.append(sub)
        else:
            path = _abspath(target)
            text = _read_local(path)
            not_a_list = why_not_a_filter_list(text)
            if not_a_list:
                raise InputError(f"{target} is not a filter list: {not_a_list}")
            stats = _parse_stats(text, name or Path(path).stem)
            if stats["filters_used"] == 0:
                raise InputError(f"{target} has no usable filters ({_describe_stats(stats)})")
            sub = Subscription(_check_name(name or _name_from_path(path)), "file", file=path, stats=stats)
            subscriptions.append(sub)
        _check_unique(subscriptions, sub)
        write_subscriptions(subscriptions)
    return sub


def remove_subscription(key: str) -> Subscription:
    """Unsubscribe (by name, URL or file); a downloaded copy is deleted, a user's file never is."""
    with _locked():
        subscriptions = read_subscriptions()
        sub = find(subscriptions, key)
        subscriptions.remove(sub)
        write_subscriptions(subscriptions)
        if sub.kind == "url":
            with contextlib.suppress(FileNotFoundError):
                sub.copy_path().unlink()
    return sub


def _check_name(name: str) -> str:
    if not _NAME.match(name):
        raise InputError(
            f"{name!r} is not a usable list name: use 1-40 letters, digits, '.', '_' or '-' (--name NAME)"
        )
    if name.lower() == BUILTIN:
        raise InputError("'builtin' is the built-in list's name; choose another with --name NAME")
    return name


def _check_unique(subscriptions: Sequence[Subscription], new: Subscription) -> None:
    for sub in subscriptions:
        if sub is new:
            continue
        if sub.name.lower() == new.name.lower():
            what = "the built-in list is already on" if new.kind == "builtin" else (
                f"a list named {sub.name!r} already exists ({sub.source}); choose another with --name NAME"
            )
            raise InputError(what)
        if new.kind != "builtin" and sub.source == new.source:
            raise InputError(f"{new.source} is already subscribed as {sub.name!r}")


def _check_url(url: str) -> str:
    parts = urlsplit(url)
    if parts.scheme.lower() not in ("http", "https"):
        raise InputError(
            f"cannot subscribe to {url!r}: only http:// and https:// URLs can be downloaded "
            "(for a local file, give its path)"
        )
    try:
        host = parts.hostname
        parts.port  # noqa: B018 -- raises ValueError on a port that is not a number
    except ValueError as exc:
        raise InputError(f"{url!r} is not a valid URL ({exc})") from None
    if not host:
        raise InputError(f"{url!r} is not a valid URL (no host name)")
    if parts.username is not None or parts.password is not None:
        # urllib would send `user:password@host` to the resolver as a host name, and the URL would
        # sit in lists.json and in error messages: refuse rather than leak a password.
        raise InputError("list URLs with a user name or password (user:pass@host) are not supported")
    return url


def _name_from_url(url: str) -> str:
    parts = urlsplit(url)
    stem = parts.path.rstrip("/").rpartition("/")[2]
    return _tidy_name(stem) or _tidy_name(parts.hostname or "") or "list"


def _name_from_path(path: str) -> str:
    return _tidy_name(Path(path).name) or "list"


def _tidy_name(text: str) -> str:
    """`privacy.min.txt` -> `privacy`: a short, typeable name derived from a file name."""
    for suffix in (".txt", ".min"):
        text = text.removesuffix(suffix)
    text = re.sub(r"[^A-Za-z0-9._-]+", "-", text).strip("-._")
    return text[:40]


def _read_local(path: str) -> str:
    try:
        data = Path(path).read_bytes()
    except IsADirectoryError:
        raise InputError(f"{path} is a directory, not a filter list") from None
    except FileNotFoundError:
        raise InputError(f"no such file: {path} (and not an http(s) URL)") from None
    except OSError as exc:
        raise InputError(f"cannot read {path}: {exc.strerror}") from None
    return _decode(data)


def why_not_a_filter_list(text: str) -> str | None:
    """None when `text` (decoded by `_decode`) looks like a filter list; else why it does not."""
    if "\x00" in text or len(_NOT_TEXT.findall(text, 0, 1 << 20)) > _MOST_BINARY * min(len(text), 1 << 20):
        return "it is binary data, not text"
    candidates = shaped = 0
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line[0] in "![" or (line[0] == "#" and not _COSMETIC_MARK.match(line)):
            continue  # blank lines and comments say nothing either way
        candidates += 1
        shaped += _shaped_like_a_filter(line)
        if candidates == _SHAPE_SAMPLE:
            break
    if candidates and shaped < MIN_FILTER_SHARE * candidates:
        return (f"only {shaped} of its {candidates} lines look like filters (one a line: "
                "||tracker.example^, example.com##.ad, 0.0.0.0 tracker.example)")
    return None


def _shaped_like_a_filter(line: str) -> bool:
    if _NOT_TEXT.search(line):
        return False
    if _COSMETIC_MARK.search(line) or _HOSTS_LINE_START.match(line):
        return True
    if _BASE64_LINE.fullmatch(line):
        return False
    pattern = line.rpartition("$")[0] if "$" in line else line  # options may quote values with spaces
    return not _SPACE.search(pattern)


def _decode(data: bytes) -> str:
    # Lists are UTF-8; a stray bad byte must cost one line, not the whole list.
    return data.decode("utf-8", errors="replace").removeprefix("\ufeff")


# --- the engine and its compiled cache ---------------------------------------------------------


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
    from . import FilterEngine

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
    import sys

    from .compiled import FORMAT_VERSION

    return f"{FORMAT_VERSION} python{sys.version_info[0]}.{sys.version_info[1]}"


def _cache_key(sources: Sequence[_Source]) -> str:
    digest = hashlib.sha256(f"engine-format {_engine_format_version()}\n".encode())
    for source in sources:
        content = hashlib.sha256(source.data).hexdigest()
        line = f"{source.name}\0{source.path}\0{len(source.data)}\0{source.mtime_ns}\0{content}\n"
        digest.update(line.encode())
    return digest.hexdigest()[:24]


def _build(sources: Sequence[_Source]) -> FilterEngine:
    from . import FilterEngine

    engine = FilterEngine()
    for source in sources:
        engine.add_list(_decode(source.data), source.name)
    return engine


def _save_cache(engine: FilterEngine, cache: Path) -> None:
    """Save (the engine writes atomically, 0600), then drop caches of older list versions."""
    engine.save(cache)
    for old in cache.parent.glob("engine.*.cache"):
        if old != cache:  # a cache for other list contents can never match again
            with contextlib.suppress(OSError):
                old.unlink()


def _parse_stats(text: str, name: str) -> dict:
    """Parse a list on its own, for its stats (and to refuse lists with nothing usable)."""
    from . import FilterEngine

    return stats_dict(FilterEngine().add_list(text, name))


def stats_dict(stats: ListStats) -> dict:
    return {"lines": stats.lines, "filters_used": stats.filters_used, "skipped": dict(stats.skipped)}


def _describe_stats(stats: dict) -> str:
    skipped = ", ".join(f"{reason} {count}" for reason, count in sorted(stats["skipped"].items()))
    return f"{stats['lines']} lines" + (f"; skipped: {skipped}" if skipped else "")


# --- downloading -------------------------------------------------------------------------------


@dataclasses.dataclass
class UpdateResult:
    """What `lists update` did to one list: status is "updated", "not-modified" or "failed"."""

    name: str
    url: str
    status: str
    message: str
    stats: dict | None = None


class _Rejected(Exception):
    """A download that arrived but is not a usable filter list."""


class _DeadlineExceeded(TimeoutError):
    """The whole download took too long (each read was quick enough, but there were too many)."""


@dataclasses.dataclass
class _Fetched:
    not_modified: bool
    body: bytes = b""
    content_type: str = ""
    etag: str | None = None
    last_modified: str | None = None


def update_lists(
    keys: Sequence[str] = (),
    *,
    progress: ProgressHook | None = None,
    timeout: float | None = None,
) -> list[UpdateResult]:
    """Download the named URL lists (all of them without names); failures keep the last good copy.

    Every list is tried even when another fails; the caller exits non-zero if any result failed.
    Afterwards the engine cache is rebuilt (when anything changed) so the proxy starts fast.
    """
    timeout = DOWNLOAD_TIMEOUT if timeout is None else timeout
    with _locked():
        subscriptions = read_subscriptions()
        chosen = _unique([find(subscriptions, key) for key in keys]) if keys else subscriptions
        for sub in chosen:
            if keys and sub.kind != "url":
                raise InputError(
                    f"{sub.name} is not downloaded: "
                    + ("it is a local file, re-read whenever it changes" if sub.kind == "file"
                       else "it ships with whoknows")
                )
        results = []
        for sub in (s for s in chosen if s.kind == "url"):
            results.append(_update_one(sub, timeout, progress))
            write_subscriptions(subscriptions)  # after each list, so an interrupted run keeps its work
    if any(r.status == "updated" for r in results):
        open_engine()  # rebuild the cache now rather than on the proxy's next start
    return results


def _unique(subscriptions: list[Subscription]) -> list[Subscription]:
    """`lists update a A a` downloads `a` once."""
    seen: dict[int, Subscription] = {}
    for sub in subscriptions:
        seen.setdefault(id(sub), sub)
    return list(seen.values())


def _update_one(sub: Subscription, timeout: float, progress: ProgressHook | None) -> UpdateResult:
    import http.client  # the network modules load only for `lists update` (CLI startup is timed)

    copy = sub.copy_path()
    have_copy = copy.is_file()
    sub.last_attempt = _now()
    try:
        fetched = _fetch(
            sub.url,
            etag=sub.etag if have_copy else None,
            last_modified=sub.last_modified if have_copy else None,
            timeout=timeout,
            on_progress=(lambda got, total: progress(sub.name, got, total)) if progress else None,
        )
        if fetched.not_modified or (have_copy and _same_content(copy, fetched.body)):
            return _confirmed(sub, fetched)
        text, stats = _validate(fetched, sub.name)
        write_private_file(copy, text.encode("utf-8"))  # temp + fsync + rename: old or new, never half
    except _Rejected as exc:
        return _failed(sub, str(exc), have_copy)
    except WhoknowsError as exc:  # the copy could not be written (disk full, permissions)
        return _failed(sub, str(exc), have_copy)
    except (OSError, http.client.HTTPException, ValueError) as exc:
        return _failed(sub, _reason(exc, timeout), have_copy)
    sub.etag, sub.last_modified = fetched.etag, fetched.last_modified
    sub.downloaded = sub.last_update = _now()
    sub.last_error, sub.stats = None, stats
    return UpdateResult(
        sub.name, sub.url, "updated", f"{sub.name}: updated, {stats['filters_used']:,} filters", stats
    )


def _same_content(copy: Path, body: bytes) -> bool:
    """A 200 with the bytes we already have: leave the file (and so the engine cache) untouched."""
    try:
        return copy.read_bytes() == _decode(body).encode("utf-8")
    except OSError:
        return False


def _confirmed(sub: Subscription, fetched: _Fetched) -> UpdateResult:
    """The copy on disk is current (304, or the same bytes again)."""
    if not fetched.not_modified:
        sub.etag, sub.last_modified = fetched.etag, fetched.last_modified
    sub.last_update, sub.last_error = _now(), None
    return UpdateResult(sub.name, sub.url, "not-modified", f"{sub.name}: not modified", sub.stats)


def _failed(sub: Subscription, reason: str, have_copy: bool) -> UpdateResult:
    keeping = f"keeping the copy from {local_date(sub.downloaded)}" if have_copy else "no copy yet"
    message = f"cannot download {sub.name} ({sub.url}): {reason}; {keeping}"
    sub.last_error = message
    return UpdateResult(sub.name, sub.url, "failed", message, sub.stats)


def _fetch(
    url: str,
    *,
    etag: str | None,
    last_modified: str | None,
    timeout: float,
    on_progress: Callable[[int, int | None], None] | None,
) -> _Fetched:
    """GET `url`, conditionally when validators are given; gzip accepted; size and time bounded."""
    import urllib.error
    import urllib.request

    headers = {"User-Agent": USER_AGENT, "Accept-Encoding": "gzip", "Accept": "text/plain, */*;q=0.5"}
    if etag:
        headers["If-None-Match"] = etag
    if last_modified:
        headers["If-Modified-Since"] = last_modified
    request = urllib.request.Request(url, headers=headers)
    deadline = time.monotonic() + max(DOWNLOAD_DEADLINE, timeout)
    try:
        response = urllib.request.urlopen(request, timeout=timeout)  # noqa: S310 -- scheme checked on add
    except urllib.error.HTTPError as exc:
        exc.close()
        if exc.code == 304:
            return _Fetched(not_modified=True)
        raise
    with response:
        length = response.headers.get("Content-Length")
        total = int(length) if length and length.isdigit() else None
        gzipped = response.headers.get("Content-Encoding", "").lower() == "gzip"
        body = _read_body(response, total, gzipped, deadline, timeout, on_progress)
        return _Fetched(
            not_modified=False,
            body=body,
            content_type=response.headers.get("Content-Type", ""),
            etag=response.headers.get("ETag"),
            last_modified=response.headers.get("Last-Modified"),
        )


def _read_body(response, total, gzipped, deadline, timeout, on_progress) -> bytes:
    import http.client
    import zlib

    inflate = zlib.decompressobj(16 + zlib.MAX_WBITS) if gzipped else None
    chunks, received, size = [], 0, 0
    while True:
        if time.monotonic() > deadline:
            raise _DeadlineExceeded(f"the download took longer than {max(DOWNLOAD_DEADLINE, timeout):g} s")
        chunk = response.read1(64 * 1024)
        if not chunk:
            break
        received += len(chunk)
        if inflate is not None:
            chunk = inflate.decompress(chunk, MAX_LIST_BYTES + 1 - size)
        size += len(chunk)
        if size > MAX_LIST_BYTES:
            raise ValueError(f"larger than {MAX_LIST_BYTES // (1024 * 1024)} MB, not a filter list")
        chunks.append(chunk)
        if on_progress:
            on_progress(received, total)
    if inflate is not None and not inflate.eof:
        raise ValueError("the compressed download was cut short")
    if total is not None and received < total:
        raise http.client.IncompleteRead(b"", total - received)
    return b"".join(chunks)


def _validate(fetched: _Fetched, name: str) -> tuple[str, dict]:
    """The download as text with its parse stats, or _Rejected (an HTML page, nothing usable)."""
    text = _decode(fetched.body)
    head = text[:1024].lstrip().lower()
    if head.startswith(_HTML_START) or ("text/html" in fetched.content_type.lower() and "<html" in head):
        raise _Rejected("the server sent an HTML page, not a filter list")
    not_a_list = why_not_a_filter_list(text)
    if not_a_list:
        raise _Rejected(f"the download is not a filter list: {not_a_list}")
    stats = _parse_stats(text, name)
    if stats["filters_used"] == 0:
        raise _Rejected(f"the download has no usable filters ({_describe_stats(stats)})")
    return text, stats


def _reason(exc: BaseException, timeout: float) -> str:
    """One short phrase for a download failure, in the user's terms."""
    import http.client
    import socket
    import ssl
    import urllib.error

    if isinstance(exc, urllib.error.HTTPError):
        return f"HTTP {exc.code} {exc.reason}".rstrip()
    if isinstance(exc, urllib.error.URLError):
        if not isinstance(exc.reason, BaseException):
            return str(exc.reason)
        exc = exc.reason
    if isinstance(exc, socket.gaierror):
        return "cannot resolve the host name (offline?)"
    if isinstance(exc, _DeadlineExceeded):
        return str(exc)
    if isinstance(exc, TimeoutError):  # socket.timeout is TimeoutError since Python 3.10
        return f"no answer within {timeout:g} s"
    if isinstance(exc, ssl.SSLCertVerificationError):
        return f"the server's TLS certificate is not trusted ({exc.verify_message})"
    if isinstance(exc, ssl.SSLError):
        return f"TLS error ({exc.reason or exc})"
    if isinstance(exc, http.client.RemoteDisconnected):
        return "the server closed the connection without answering"
    if isinstance(exc, http.client.IncompleteRead):
        return "the download was cut short"
    if isinstance(exc, ConnectionRefusedError):
        return "connection refused"
    if isinstance(exc, ConnectionResetError):
        return "connection reset by the server"
    if isinstance(exc, OSError) and exc.errno in (errno.ENETUNREACH, errno.EHOSTUNREACH):
        return "network unreachable"
    if isinstance(exc, OSError) and exc.strerror:
        return exc.strerror[0].lower() + exc.strerror[1:]
    return str(exc) or type(exc).__name__
