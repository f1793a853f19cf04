"""Downloading the URL lists (`whoknows lists update`), the only network calls whoknows makes.

A download that fails, is an HTML page, does not look like a filter list
(`subscriptions.why_not_a_filter_list`: binary, or mostly lines no filter is shaped like) or parses
to zero usable filters leaves the last good copy in place. Conditional requests (ETag,
Last-Modified), gzip, and bounds on size and time. The network modules load with this module, which
only `lists update` imports (the CLI's start-up is timed).
"""

from __future__ import annotations

import dataclasses
import errno
import http.client
import socket
import ssl
import time
import urllib.error
import urllib.request
import zlib
from collections.abc import Callable, Sequence
from pathlib import Path

from ..errors import InputError, WhoknowsError
from ..paths import write_private_file
from . import engine_cache
from .subscriptions import (
    Subscription, decode_list, describe_stats, find, local_date, locked, parse_stats, read_subscriptions,
    utc_now, why_not_a_filter_list, write_subscriptions,
)

DOWNLOAD_TIMEOUT = 30.0  # seconds without progress on any socket operation (connect, each read)
DOWNLOAD_DEADLINE = 300.0  # seconds for a whole download, so a server dripping bytes cannot hang us
MAX_LIST_BYTES = 64 * 1024 * 1024  # EasyList is 2 MB; anything this big is not a filter list
USER_AGENT = "whoknows (filter-list update; +https://github.com/whoknows)"
_HTML_START = ("<!doctype", "<html", "<head", "<body", "<?xml", "<meta", "<title")

ProgressHook = Callable[[str, int, int | None], None]  # (list name, bytes received, bytes expected)


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
    with locked():
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
        engine_cache.open_engine()  # rebuild the cache now rather than on the proxy's next start
    return results


def _unique(subscriptions: list[Subscription]) -> list[Subscription]:
    """`lists update a A a` downloads `a` once."""
    seen: dict[int, Subscription] = {}
    for sub in subscriptions:
        seen.setdefault(id(sub), sub)
    return list(seen.values())


def _update_one(sub: Subscription, timeout: float, progress: ProgressHook | None) -> UpdateResult:
    copy = sub.copy_path()
    have_copy = copy.is_file()
    sub.last_attempt = utc_now()
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
    sub.downloaded = sub.last_update = utc_now()
    sub.last_error, sub.stats = None, stats
    return UpdateResult(
        sub.name, sub.url, "updated", f"{sub.name}: updated, {stats['filters_used']:,} filters", stats
    )


def _same_content(copy: Path, body: bytes) -> bool:
    """A 200 with the bytes we already have: leave the file (and so the engine cache) untouched."""
    try:
        return copy.read_bytes() == decode_list(body).encode("utf-8")
    except OSError:
        return False


def _confirmed(sub: Subscription, fetched: _Fetched) -> UpdateResult:
    """The copy on disk is current (304, or the same bytes again)."""
    if not fetched.not_modified:
        sub.etag, sub.last_modified = fetched.etag, fetched.last_modified
    sub.last_update, sub.last_error = utc_now(), None
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
    text = decode_list(fetched.body)
    head = text[:1024].lstrip().lower()
    if head.startswith(_HTML_START) or ("text/html" in fetched.content_type.lower() and "<html" in head):
        raise _Rejected("the server sent an HTML page, not a filter list")
    not_a_list = why_not_a_filter_list(text)
    if not_a_list:
        raise _Rejected(f"the download is not a filter list: {not_a_list}")
    stats = parse_stats(text, name)
    if stats["filters_used"] == 0:
        raise _Rejected(f"the download has no usable filters ({describe_stats(stats)})")
    return text, stats


def _reason(exc: BaseException, timeout: float) -> str:
    """One short phrase for a download failure, in the user's terms."""
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
