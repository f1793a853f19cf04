"""Take one value out of a request and send the rest: the query parameter, form field, JSON member,
cookie or header that carries it goes, and nothing else changes.

`scrub_request` is given `carries(text) -> bool` (does this piece of text hold the value, in any
encoding the caller knows: `whoknows.leakscan` for the user's values, a plain substring test for a
first-party identifier) and returns the request without the pieces that carry it, or None when
what remains still carries it (the value sits in the path, a header that must stay, a body that
is not a form or JSON...): the caller then stops the request instead.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from typing import NamedTuple

Carries = Callable[[str], bool]
# Headers without which the request is not the same request: never removed (a value there blocks).
_KEPT_HEADERS = frozenset({"host", ":authority", "content-type", "content-length", "transfer-encoding"})


class Scrubbed(NamedTuple):
    url: str
    headers: list[tuple[str, str | None]]  # (name, new value): None removes the header
    body: bytes | None  # None: the body is unchanged
    removed: tuple[str, ...]  # what was taken out: `url:NAME`, `body:NAME`, `header:NAME`, `cookie:NAME`


def scrub_url(url: str, carries: Carries) -> tuple[str, list[str]]:
    """`url` without the query parameters that carry the value; the names removed."""
    question = url.find("?")
    if question < 0:
        return url, []
    hash_mark = url.find("#", question)
    end = hash_mark if hash_mark >= 0 else len(url)
    kept, removed = [], []
    for parameter in url[question + 1:end].split("&"):
        if parameter and carries(parameter):
            removed.append(parameter.partition("=")[0])
        elif parameter:
            kept.append(parameter)
    if not removed:
        return url, []
    head = url[:question] if not kept else url[:question + 1] + "&".join(kept)
    return head + url[end:], removed


def scrub_form(body: bytes, carries: Carries) -> tuple[bytes, list[str]]:
    """An `application/x-www-form-urlencoded` body without the fields that carry the value."""
    text = body.decode("utf-8", "surrogateescape")
    kept, removed = [], []
    for field in text.split("&"):
        if field and carries(field.replace("+", " ")):
            removed.append(field.partition("=")[0])
        elif field:
            kept.append(field)
    if not removed:
        return body, []
    return "&".join(kept).encode("utf-8", "surrogateescape"), removed


def scrub_json(body: bytes, carries: Carries) -> tuple[bytes, list[str]] | None:
    """A JSON body without the members (and array items) whose string carries the value; None if
    the body is not JSON."""
    try:
        document = json.loads(body)
    except (ValueError, UnicodeDecodeError, RecursionError):
        return None
    removed: list[str] = []
    cleaned = _scrub_json_value(document, carries, "$", removed)
    if not removed:
        return body, []
    return json.dumps(cleaned, ensure_ascii=False, separators=(",", ":")).encode("utf-8"), removed


def _scrub_json_value(value, carries: Carries, path: str, removed: list[str]):
    if isinstance(value, dict):
        out = {}
        for key, item in value.items():
            here = f"{path}.{key}"
            if _json_leaf_carries(item, carries) or carries(str(key)):
                removed.append(here)
            else:
                out[key] = _scrub_json_value(item, carries, here, removed)
        return out
    if isinstance(value, list):
        out_list = []
        for index, item in enumerate(value):
            here = f"{path}[{index}]"
            if _json_leaf_carries(item, carries):
                removed.append(here)
            else:
                out_list.append(_scrub_json_value(item, carries, here, removed))
        return out_list
    return value


def _json_leaf_carries(value, carries: Carries) -> bool:
    return isinstance(value, (str, int, float)) and not isinstance(value, bool) and carries(str(value))


def scrub_request(url: str, headers: Sequence[tuple[str, str]], body: bytes, content_type: str | None,
                  carries: Carries,
                  body_carries: Callable[[bytes, str | None], bool] | None = None) -> Scrubbed | None:
    """The request without every piece that carries the value; None when it cannot be done.
    `body_carries(body, content_type)` tells whether a whole body carries it (by default
    `carries` of the body as text)."""
    if body_carries is None:
        def body_carries(data: bytes, _content_type) -> bool:
            return carries(data.decode("utf-8", "replace"))
    new_url, from_url = scrub_url(url, carries)
    if carries(new_url):
        return None
    removed = [f"url:{name}" for name in from_url]
    new_headers: list[tuple[str, str | None]] = []
    for name, value in headers:
        lowered = name.lower()
        if not carries(value):
            continue
        if lowered in _KEPT_HEADERS:
            return None
        if lowered == "cookie":
            pairs = [pair for pair in value.split(";") if pair.strip()]
            kept_pairs = [pair for pair in pairs if not carries(pair.strip())]
            kept = "; ".join(pair.strip() for pair in kept_pairs) or None
            new_headers.append((name, kept))
            removed.extend(f"cookie:{pair.strip().partition('=')[0]}" for pair in pairs if pair not in kept_pairs)
        else:
            new_headers.append((name, None))
            removed.append(f"header:{lowered}")
    new_body: bytes | None = None
    if body and body_carries(body, content_type):
        ctype = (content_type or "").lower()
        if ctype.startswith("application/x-www-form-urlencoded"):
            new_body, fields = scrub_form(body, carries)
        else:
            scrubbed = scrub_json(body, carries)
            if scrubbed is None:
                return None
            new_body, fields = scrubbed
        removed.extend(f"body:{name}" for name in fields)
        if body_carries(new_body, content_type):
            return None
    return Scrubbed(new_url, new_headers, new_body, tuple(removed))
