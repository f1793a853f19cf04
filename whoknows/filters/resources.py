"""The neutral resources `$redirect` filters send a blocked request to (uBlock Origin's names).

A page that expects a script, an image or a frame gets a harmless one instead of an error, so it
keeps working without talking to the tracker. Only resources we can serve byte-for-byte are
known: a filter naming any other (uBO's script surrogates such as `google-ima.js`) is skipped.
"""

from __future__ import annotations

import struct
import zlib


def _png(width: int, height: int) -> bytes:
    """A fully transparent RGBA PNG of the given size."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    header = struct.pack(">IIBBBBB", width, height, 8, 6, 0, 0, 0)
    rows = b"".join(b"\x00" + b"\x00\x00\x00\x00" * width for _ in range(height))
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(rows, 9)) + chunk(b"IEND", b"")


_GIF_1X1 = (
    b"GIF89a\x01\x00\x01\x00\x80\x00\x00\x00\x00\x00\x00\x00\x00!\xf9\x04\x01\x00\x00\x00\x00"
    b",\x00\x00\x00\x00\x01\x00\x01\x00\x00\x02\x02D\x01\x00;"
)

_RESOURCES: dict[str, tuple[str, bytes]] = {
    "noop.js": ("application/javascript", b"(function() {\n    'use strict';\n})();\n"),
    "noop.txt": ("text/plain", b""),
    "noop.css": ("text/css", b""),
    "noop.html": ("text/html", b"<!DOCTYPE html>\n<html><head></head><body></body></html>\n"),
    "noop.json": ("application/json", b"{}"),
    "1x1.gif": ("image/gif", _GIF_1X1),
    "2x2.png": ("image/png", _png(2, 2)),
    "3x2.png": ("image/png", _png(3, 2)),
    "32x32.png": ("image/png", _png(32, 32)),
    "noop-vmap1.0.xml": (
        "application/xml",
        b'<?xml version="1.0" encoding="UTF-8"?>\n'
        b'<vmap:VMAP xmlns:vmap="http://www.iab.net/videosuite/vmap" version="1.0"></vmap:VMAP>\n',
    ),
    "empty": ("text/plain", b""),
}

_ALIASES = {
    "noopjs": "noop.js",
    "abp-resource:blank-js": "noop.js",
    "nooptext": "noop.txt",
    "abp-resource:blank-text": "noop.txt",
    "noopcss": "noop.css",
    "abp-resource:blank-css": "noop.css",
    "noopframe": "noop.html",
    "abp-resource:blank-html": "noop.html",
    "noopjson": "noop.json",
    "1x1-transparent.gif": "1x1.gif",
    "abp-resource:1x1-transparent-gif": "1x1.gif",
    "2x2-transparent.png": "2x2.png",
    "abp-resource:2x2-transparent-png": "2x2.png",
    "3x2-transparent.png": "3x2.png",
    "abp-resource:3x2-transparent-png": "3x2.png",
    "32x32-transparent.png": "32x32.png",
    "abp-resource:32x32-transparent-png": "32x32.png",
    "noopvmap-1.0": "noop-vmap1.0.xml",
}


def canonical_name(name: str) -> str | None:
    """The canonical resource name for a name or alias (`noopjs` -> `noop.js`), None if unknown."""
    name = name.strip().lower()
    if name in _RESOURCES:
        return name
    return _ALIASES.get(name)


def resource(name: str) -> tuple[str, bytes]:
    """(content type, body) of a redirect resource, by canonical name or alias; KeyError if unknown."""
    canonical = canonical_name(name)
    if canonical is None:
        raise KeyError(f"no redirect resource named {name!r}")
    return _RESOURCES[canonical]


def resource_names() -> list[str]:
    """Canonical names of every resource, sorted."""
    return sorted(_RESOURCES)
