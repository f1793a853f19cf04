"""First-party identifiers (whoknows.identifiers): the rule for what is an id, and finding one."""

import pytest

from whoknows.identifiers import FirstPartyIds
from whoknows.identifiers import SharedIdentifiers
from whoknows.identifiers import looks_like_identifier


@pytest.mark.parametrize("value", [
    "8f3a2c91-4b7e-4d2a-9c1f-0e6b5a4d3c2b",  # a UUID
    "GA1.1.1234567890.1700000000",  # Google Analytics' client id
    "fb.1.1700000000000.1234567890",  # Meta's _fbp
    "a9XkQ2pL7mZ4rT8wB1cD",  # base64-ish token
    '"3f2a9c1e77aa0b1c"',  # quoted hex
])
def test_ids(value):
    assert looks_like_identifier(value)


@pytest.mark.parametrize("value", [
    "true", "en-US", "dark", "1700000000",  # too short
    "accepted_all_cookies_2024",  # words
    "isGpcEnabled=0&datestamp=Thu+Dec",  # a serialised preference
    "hello world this is long",  # spaces
    "abcdefghijklmnopqrstuvwxyz",  # letters only
    "2024-01-15T10:00:00.000Z",  # a date: no mixed run of 8, digit runs short
])
def test_not_ids(value):
    assert not looks_like_identifier(value)


def test_an_id_is_found_as_is_or_percent_encoded_in_url_header_or_body_but_not_the_cookie_header():
    ids = FirstPartyIds()
    ids.note_cookie_header("shop.test", "lang=en; _vid=ab12cd34ef56gh78+/=; theme=dark")
    assert ids.of("shop.test") == {"_vid": "ab12cd34ef56gh78+/="}
    assert ids.find("shop.test", "https://t.test/?v=ab12cd34ef56gh78%2B%2F%3D") == ["_vid"]
    assert ids.find("shop.test", "https://t.test/", [(b"X-Id", b"ab12cd34ef56gh78+/=")]) == ["_vid"]
    assert ids.find("shop.test", "https://t.test/", (), b'{"v":"ab12cd34ef56gh78+/="}') == ["_vid"]
    assert ids.find("shop.test", "https://t.test/", [(b"Cookie", b"_vid=ab12cd34ef56gh78+/=")]) == []
    assert ids.find("other.test", "https://t.test/?v=ab12cd34ef56gh78+/=") == []


def test_memory_is_bounded_per_site_and_across_sites():
    ids = FirstPartyIds(max_sites=2, max_per_site=2)
    for name in ("a", "b", "c"):
        ids.note("one.test", name, f"{name}1b2c3d4e5f6a7b8c9")
    ids.note("two.test", "x", "x1b2c3d4e5f6a7b8c9")
    ids.note("three.test", "y", "y1b2c3d4e5f6a7b8c9")
    assert list(ids.of("one.test")) == []  # the least recently seen site went
    assert list(ids.of("two.test")) == ["x"]
    ids2 = FirstPartyIds(max_per_site=2)
    for name in ("a", "b", "c"):
        ids2.note("one.test", name, f"{name}1b2c3d4e5f6a7b8c9")
    assert list(ids2.of("one.test")) == ["b", "c"]


def test_shared_identifiers_remember_the_first_cookie_per_pair():
    shared = SharedIdentifiers()
    assert shared.add("shop.test", "t.test", "_vid") and not shared.add("shop.test", "t.test", "_ga")
    assert shared.cookie_for("shop.test", "t.test") == "_vid" and shared.cookie_for("news.test", "t.test") is None


def test_set_cookie_lines_give_ids_and_a_line_seen_before_is_not_parsed_again():
    ids = FirstPartyIds()
    ids.note_set_cookies("shop.test", ["_vid=ab12cd34ef56gh78ij90; Path=/; Max-Age=99", "lang=en; Path=/"])
    assert ids.of("shop.test") == {"_vid": "ab12cd34ef56gh78ij90"}
    ids.note("shop.test", "_vid", "zz99yy88xx77ww66vv55")  # the site changed it by script since
    ids.note_set_cookies("shop.test", ["_vid=ab12cd34ef56gh78ij90; Path=/; Max-Age=99"])  # the same line
    assert ids.of("shop.test") == {"_vid": "zz99yy88xx77ww66vv55"}
