#!/usr/bin/env python3
"""Draw the browser extension's icons (an eye on a rounded square) as PNG files.

    python scripts/make_icons.py            # writes extension/icons/icon-{16,32,48,128}.png

PNG rather than SVG: Chromium accepts only raster images for `action` and manifest icons (Firefox
takes SVG too, but one set of files serves both). Standard library only (zlib + struct): the
drawing is a signed-distance test per sample, 4x4 supersampled for smooth edges, so the output is
the same byte for byte on every run and the committed files can be checked against it.
"""

from __future__ import annotations

import math
import struct
import zlib
from pathlib import Path

SIZES = (16, 32, 48, 128)
OUT_DIR = Path(__file__).resolve().parents[1] / "extension" / "icons"
SUPERSAMPLE = 4

BACKGROUND = (29, 78, 137)  # deep blue, readable against light and dark toolbars
WHITE = (255, 255, 255)
PUPIL = (20, 33, 61)
Rgba = tuple[int, int, int, int]


def colour_at(x: float, y: float) -> tuple[tuple[int, int, int], float] | None:
    """The colour and coverage at (x, y) in a unit square, or None for transparent."""
    # Rounded square: corner radius 0.2.
    r = 0.2
    dx, dy = max(abs(x - 0.5) - (0.5 - r), 0.0), max(abs(y - 0.5) - (0.5 - r), 0.0)
    if math.hypot(dx, dy) > r:
        return None
    # Almond eye: the intersection of two circles whose centres sit above and below the middle.
    cx, cy = 0.5, 0.5
    radius, offset = 0.52, 0.32
    in_eye = (math.hypot(x - cx, y - (cy - offset)) < radius
              and math.hypot(x - cx, y - (cy + offset)) < radius)
    if not in_eye:
        return BACKGROUND, 1.0
    distance = math.hypot(x - cx, y - cy)
    if distance < 0.08:
        return WHITE, 1.0  # the highlight in the pupil
    if distance < 0.17:
        return PUPIL, 1.0
    return WHITE, 1.0


def render(size: int) -> list[list[Rgba]]:
    rows = []
    samples = SUPERSAMPLE * SUPERSAMPLE
    for py in range(size):
        row = []
        for px in range(size):
            red = green = blue = alpha = 0.0
            for sy in range(SUPERSAMPLE):
                for sx in range(SUPERSAMPLE):
                    hit = colour_at((px + (sx + 0.5) / SUPERSAMPLE) / size,
                                    (py + (sy + 0.5) / SUPERSAMPLE) / size)
                    if hit is None:
                        continue
                    (r, g, b), cover = hit
                    red, green, blue, alpha = red + r * cover, green + g * cover, blue + b * cover, alpha + cover
            if alpha:
                row.append((round(red / alpha), round(green / alpha), round(blue / alpha),
                            round(255 * alpha / samples)))
            else:
                row.append((0, 0, 0, 0))
        rows.append(row)
    return rows


def png_bytes(pixels: list[list[Rgba]]) -> bytes:
    height, width = len(pixels), len(pixels[0])
    raw = b"".join(b"\x00" + bytes(channel for pixel in row for channel in pixel) for row in pixels)

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    header = struct.pack(">IIBBBBB", width, height, 8, 6, 0, 0, 0)  # 8-bit RGBA, no interlace
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(raw, 9))
            + chunk(b"IEND", b""))


def main() -> None:
    OUT_DIR.mkdir(parents=True, exist_ok=True)
    for size in SIZES:
        path = OUT_DIR / f"icon-{size}.png"
        path.write_bytes(png_bytes(render(size)))
        print(f"wrote {path}")


if __name__ == "__main__":
    main()
