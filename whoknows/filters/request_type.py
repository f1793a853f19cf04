"""What a request is, from its headers: resource type, the page that made it, first or third party.

Browsers say it in `Sec-Fetch-Dest` / `Sec-Fetch-Site`; older clients only in `Accept`; failing
both, the URL's file extension is the best guess. The source page comes from `Referer` (often just
an origin, which is all the engine needs), else `Origin`. The party comes from `Sec-Fetch-Site`,
else from the two sites; a top-level document is always first party, as uBlock Origin judges a
page load from the page itself.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Mapping

from ..sites import site_of

_DEST_TYPES = {
    "document": "document",
    "iframe": "subdocument",
    "frame": "subdocument",
    "fencedframe": "subdocument",
    "script": "script",
    "worker": "script",
    "sharedworker": "script",
    "serviceworker": "script",
    "audioworklet": "script",
    "paintworklet": "script",
    "style": "stylesheet",
    "image": "image",
    "font": "font",
    "audio": "media",
    "video": "media",
    "track": "media",
    "object": "object",
    "embed": "object",
    "report": "ping",
    "empty": "xmlhttprequest",
    "websocket": "websocket",
    "manifest": "other",
    "xslt": "other",
    "json": "xmlhttprequest",
    "webidentity": "other",
}

_ACCEPT_TYPES = (
    ("text/html", "document"),
    ("application/xhtml+xml", "document"),
    ("text/css", "stylesheet"),
    ("image/", "image"),
    ("video/", "media"),
    ("audio/", "media"),
    ("font/", "font"),
    ("application/font", "font"),
    ("application/javascript", "script"),
    ("text/javascript", "script"),
    ("application/json", "xmlhttprequest"),
)

_EXTENSION_TYPES = {
    "js": "script", "mjs": "script",
    "css": "stylesheet",
    "png": "image", "jpg": "image", "jpeg": "image", "gif": "image", "webp": "image", "svg": "image",
    "ico": "image", "avif": "image", "bmp": "image",
    "woff": "font", "woff2": "font", "ttf": "font", "otf": "font", "eot": "font",
    "mp4": "media", "webm": "media", "mp3": "media", "ogg": "media", "m4a": "media", "wav": "media",
    "m3u8": "media", "mpd": "media",
    "html": "document", "htm": "document",
    "json": "xmlhttprequest",
}


@dataclass(slots=True)  # a value made per request: not frozen, see docs/architecture.md
class RequestContext:
    type: str  # a resource type name `FilterEngine.match` accepts
    source: str | None  # URL (or origin) of the page or frame that made the request
    third_party: bool | None  # None: not known (no source, no Sec-Fetch-Site); False for a document


class LowercaseHeaders(dict):
    """Request headers as a dict keyed by header name lowercased as mitmproxy's `Headers` compares
    names (`bytes.lower()`, ASCII letters), as a proxy that folds the fields once builds it: a
    lookup that misses needs no scan for another spelling (the names looked up here hold no letter
    that a non-ASCII character lowercases to, so the answers are the same)."""

    __slots__ = ()


def _header(headers: Mapping[str, str], name: str) -> str | None:
    value = headers.get(name)
    # Why (speed only): on a miss, skip the scan for a differently-cased key when there is none.
    if value is None and type(headers) is not LowercaseHeaders:
        for key, candidate in headers.items():
            if key.lower() == name:
                return candidate
    return value


def _type_from_extension(url: str) -> str:
    path = url.split("?", 1)[0].split("#", 1)[0]
    scheme_end = path.find("://")
    if scheme_end >= 0:
        slash = path.find("/", scheme_end + 3)
        path = path[slash:] if slash >= 0 else ""
    last = path.rsplit("/", 1)[-1]
    if "." not in last:
        return "other"
    return _EXTENSION_TYPES.get(last.rsplit(".", 1)[1].lower(), "other")


def request_type(url: str, headers: Mapping[str, str]) -> str:
    """The resource type of a request, from Sec-Fetch-Dest, else Accept, else the URL's extension."""
    if (_header(headers, "upgrade") or "").strip().lower() == "websocket":
        return "websocket"
    dest = (_header(headers, "sec-fetch-dest") or "").strip().lower()
    if dest:
        if dest == "empty" and (
            _header(headers, "ping-to") or (_header(headers, "content-type") or "").startswith("text/ping")
        ):
            return "ping"
        return _DEST_TYPES.get(dest, "other")
    accept = (_header(headers, "accept") or "").strip().lower()
    if accept and not accept.startswith("*/*"):
        for prefix, name in _ACCEPT_TYPES:
            if accept.startswith(prefix):
                return name
    return _type_from_extension(url)


def _host(url: str) -> str:
    from urllib.parse import urlsplit

    try:
        return (urlsplit(url).hostname or "").rstrip(".")
    except ValueError:
        return ""


def request_context(url: str, headers: Mapping[str, str]) -> RequestContext:
    """Type, source and party of a request as far as its headers tell."""
    source = _header(headers, "referer") or None
    if source is None:
        origin = (_header(headers, "origin") or "").strip()
        source = origin if origin and origin != "null" else None
    site = (_header(headers, "sec-fetch-site") or "").strip().lower()
    type = request_type(url, headers)
    third_party: bool | None
    if type == "document":
        third_party = False  # a page is first party to itself (uBO), whoever linked to it
    elif site in ("same-origin", "same-site", "none"):
        third_party = False
    elif site == "cross-site":
        third_party = True
    elif source is not None:
        third_party = _third_party(url, source)
    else:
        third_party = None
    return RequestContext(type, source, third_party)


def _third_party(url: str, source: str) -> bool | None:
    host, source_host = _host(url), _host(source)
    if not host or not source_host:
        return None
    if host == source_host:
        return False
    return (site_of(host) or host) != (site_of(source_host) or source_host)
