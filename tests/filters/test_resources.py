"""The redirect resources are real, well-formed files of the type their name says."""

import json
import struct
import zlib

import pytest

from whoknows.filters import resource, resource_names


def test_every_resource_has_a_content_type():
    for name in resource_names():
        content_type, body = resource(name)
        assert "/" in content_type and isinstance(body, bytes)


@pytest.mark.parametrize(
    "alias, canonical",
    [
        ("noopjs", "noop.js"),
        ("abp-resource:blank-js", "noop.js"),
        ("nooptext", "noop.txt"),
        ("noopframe", "noop.html"),
        ("noopjson", "noop.json"),
        ("1x1-transparent.gif", "1x1.gif"),
        ("2x2-transparent.png", "2x2.png"),
    ],
)
def test_aliases(alias, canonical):
    assert resource(alias) == resource(canonical)


def test_images_are_valid_and_transparent():
    content_type, gif = resource("1x1.gif")
    assert content_type == "image/gif" and gif.startswith(b"GIF89a") and gif.endswith(b";")
    assert struct.unpack("<HH", gif[6:10]) == (1, 1)
    content_type, png = resource("2x2.png")
    assert content_type == "image/png" and png.startswith(b"\x89PNG\r\n\x1a\n")
    width, height, depth, color = struct.unpack(">IIBB", png[16:26])
    assert (width, height, depth, color) == (2, 2, 8, 6)
    idat_length = struct.unpack(">I", png[33:37])[0]
    pixels = zlib.decompress(png[41:41 + idat_length])
    assert set(pixels) == {0}  # every pixel fully transparent


def test_text_resources():
    assert resource("noop.js") [0] == "application/javascript"
    assert json.loads(resource("noop.json")[1]) == {}
    assert resource("empty") == ("text/plain", b"")
    assert resource("noop.html")[1].startswith(b"<!DOCTYPE html>")


def test_unknown_resource():
    with pytest.raises(KeyError, match="google-ima.js"):
        resource("google-ima.js")
