"""Filter-list subscriptions: which lists the engine uses, and where their copies live.

`engine_cache` builds the engine from them (and keeps it compiled); `downloads` fetches the URL
lists (`lists update`).

Layout in the data directory:
- `lists.json`        the subscriptions, in order (name, URL or file, ETag, Last-Modified, times, last
                      error, stats of the last good parse). Missing means the defaults below.
- `lists/<slug>.txt`  the last good download of each URL subscription (replaced atomically).
- `engine.<key>.cache` the compiled engine (`engine_cache`).

Three kinds of subscription:
- `builtin`: `whoknows/data/builtin-trackers.txt`, shipped with whoknows, on by default so the proxy
  blocks the major trackers offline out of the box. `lists remove builtin` turns it off and
  `lists add builtin` back on.
- a URL: downloaded only by `lists update` (`downloads`; whoknows makes no other network call). A
  download that is not a usable filter list leaves the last good copy in place.
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
import json
import os
import re
from collections.abc import Iterator, Sequence
from pathlib import Path
from urllib.parse import urlsplit

from ..errors import InputError, NotFoundError, WhoknowsError
from ..paths import DIR_MODE, data_dir, write_private_file
from .engine import FilterEngine, ListStats

try:
    import fcntl
except ImportError:  # Windows
    fcntl = None

BUILTIN = "builtin"
BUILTIN_FILE = Path(__file__).resolve().parents[1] / "data" / "builtin-trackers.txt"

# uBlock Origin subscribes to its privacy list at this contentURL (gorhill/uBlock assets/assets.json,
# "ublock-privacy"); the `.min.txt` files are its CDN mirrors of the same list.
DEFAULT_URLS: tuple[tuple[str, str], ...] = (
    ("EasyPrivacy", "https://easylist.to/easylist/easyprivacy.txt"),
    ("uBO-Privacy", "https://ublockorigin.github.io/uAssets/filters/privacy.txt"),
)

METADATA_VERSION = 1

_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,39}$")

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
def locked() -> Iterator[None]:
    """Serialise commands that change subscriptions (two `lists update` runs would race on files)."""
    if fcntl is None:  # Windows: no advisory locks; concurrent list commands are the user's risk
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


def utc_now() -> str:
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
    with locked():
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
            stats = parse_stats(text, name or Path(path).stem)
            if stats["filters_used"] == 0:
                raise InputError(f"{target} has no usable filters ({describe_stats(stats)})")
            sub = Subscription(_check_name(name or _name_from_path(path)), "file", file=path, stats=stats)
            subscriptions.append(sub)
        _check_unique(subscriptions, sub)
        write_subscriptions(subscriptions)
    return sub


def remove_subscription(key: str) -> Subscription:
    """Unsubscribe (by name, URL or file); a downloaded copy is deleted, a user's file never is."""
    with locked():
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
    return decode_list(data)


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


def decode_list(data: bytes) -> str:
    # Lists are UTF-8; a stray bad byte must cost one line, not the whole list.
    return data.decode("utf-8", errors="replace").removeprefix("\ufeff")


def parse_stats(text: str, name: str) -> dict:
    """Parse a list on its own, for its stats (and to refuse lists with nothing usable)."""
    return stats_dict(FilterEngine().add_list(text, name))


def stats_dict(stats: ListStats) -> dict:
    return {"lines": stats.lines, "filters_used": stats.filters_used, "skipped": dict(stats.skipped)}


def describe_stats(stats: dict) -> str:
    skipped = ", ".join(f"{reason} {count}" for reason, count in sorted(stats["skipped"].items()))
    return f"{stats['lines']} lines" + (f"; skipped: {skipped}" if skipped else "")
