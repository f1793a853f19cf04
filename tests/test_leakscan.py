"""The leak scanner finds the user's own data in requests, in every encoding trackers use, and
nothing else: real request URLs from the adblock-rust set never match 50 unrelated values."""

from __future__ import annotations

import base64
import hashlib
import json
import re
from urllib.parse import quote, quote_plus, unquote_plus

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from whoknows.errors import InputError
from whoknows.leakscan import (
    LeakScanner,
    Match,
    evidence,
    gmail_canonical,
    normalise_phone,
    percent_decode,
    redact_url,
)

EMAIL = "Alice.Martin@Example.com"
NAME = "Zoë Wójciak"  # non-ASCII; its base64 has `/` and padding, so all four base64 forms differ
PHONE = "+34 612 34 56 78"
VALUES = [("email", EMAIL), ("name", NAME), ("phone", PHONE)]


def b64(text: str, urlsafe: bool = False, pad: bool = True) -> str:
    encode = base64.urlsafe_b64encode if urlsafe else base64.b64encode
    out = encode(text.encode()).decode()
    return out if pad else out.rstrip("=")


def hexdigest(name: str, text: str) -> str:
    return hashlib.new(name, text.encode()).hexdigest()


# (value index, encoding, form, the text a tracker sends)
ENCODED = [
    (0, "plain", "typed", EMAIL),
    (0, "casefold", "typed", EMAIL.lower()),
    (0, "url", "typed", quote(EMAIL, safe="")),
    (1, "url", "typed", quote(NAME, safe="")),
    (1, "url-plus", "typed", quote_plus(NAME)),
    (1, "base64", "typed", b64(NAME)),
    (1, "base64-nopad", "typed", b64(NAME, pad=False)),
    (1, "base64url", "typed", b64(NAME, urlsafe=True)),
    (1, "base64url-nopad", "typed", b64(NAME, urlsafe=True, pad=False)),
    (0, "md5", "normalised", hexdigest("md5", EMAIL.lower())),
    (0, "sha1", "normalised", hexdigest("sha1", EMAIL.lower())),
    (0, "sha256", "normalised", hexdigest("sha256", EMAIL.lower())),
    (0, "sha256-upper", "normalised", hexdigest("sha256", EMAIL.lower()).upper()),
    (0, "md5-upper", "normalised", hexdigest("md5", EMAIL.lower()).upper()),
    (2, "plain", "e164", "+34612345678"),
    (2, "plain", "e164-digits", "34612345678"),
    (2, "plain", "national", "612345678"),
    (2, "plain", "typed", PHONE),
    (2, "sha256", "e164", hexdigest("sha256", "+34612345678")),
    (2, "sha256", "e164-digits", hexdigest("sha256", "34612345678")),
]


def in_url(text):
    return dict(url=f"https://tracker.example/collect?v=1&ud={quote(text, safe='')}&t=pageview")


def in_raw_url(text):
    # as a sloppy tracker sends it: no escaping beyond what the text already has
    return dict(url=f"https://tracker.example/c/{text.replace(' ', '%20')}/p.gif?t=1")


def in_header(text):
    return dict(url="https://tracker.example/p", headers=[("cookie", f"_uid={text}; consent=1")])


def in_form(text):
    body = f"v=2&tid=G-XYZ&ud={quote_plus(text)}&en=page_view".encode()
    return dict(url="https://tracker.example/g/collect", body=body,
                content_type="application/x-www-form-urlencoded; charset=UTF-8")


def in_json(text):
    body = json.dumps({"event": "purchase", "user_data": {"em": text}, "value": 12.5}).encode()
    return dict(url="https://tracker.example/events", body=body, content_type="application/json")


def in_multipart(text):
    body = (
        "--XyZ\r\nContent-Disposition: form-data; name=\"event\"\r\n\r\nsignup\r\n"
        f"--XyZ\r\nContent-Disposition: form-data; name=\"ud\"\r\n\r\n{text}\r\n--XyZ--\r\n"
    ).encode()
    return dict(url="https://tracker.example/upload", body=body,
                content_type="multipart/form-data; boundary=XyZ")


PLACES = [
    (in_url, "url"), (in_raw_url, "url"), (in_header, "header:cookie"),
    (in_form, "body"), (in_json, "body"), (in_multipart, "body"),
]


@pytest.fixture(scope="module")
def scanner() -> LeakScanner:
    return LeakScanner(VALUES)


def scan(scanner, url="https://tracker.example/", headers=(), body=b"", content_type=None):
    return scanner.scan(url, headers, body, content_type)


# Percent-encoded text put raw in a URL is read decoded by the server (in_url covers that case).
CASES = [
    pytest.param(place, where, *row, id=f"{place.__name__}-{row[1]}-{row[2]}")
    for place, where in PLACES for row in ENCODED
    if not (place is in_raw_url and "%" in row[3])
]


@pytest.mark.parametrize("place,where,index,encoding,form,text", CASES)
def test_every_encoding_is_found_in_every_place(scanner, place, where, index, encoding, form, text):
    matches = scan(scanner, **place(text))
    kind = VALUES[index][0]
    assert Match(kind, index, encoding, where, form) in matches, matches
    assert {(m.value_id, m.where) for m in matches} == {(index, where)}, matches


def test_nothing_is_found_in_ordinary_requests(scanner):
    assert scan(scanner, "https://www.google-analytics.com/collect?v=1&t=pageview&cid=123.456") == []
    assert scan(scanner, "https://cdn.example/app.js", [("user-agent", "Mozilla/5.0")],
                b'{"a": "Alice", "m": "Martin"}', "application/json") == []


def test_values_inside_longer_words_addresses_and_numbers_are_not_matches():
    scanner = LeakScanner([("name", "Anna Lind"), ("email", "al@ex.org"), ("phone", "+34 612 34 56 78"),
                           ("name", "Lindqvist")])
    for text in [
        "Anna Lindqvistsson", "ianna lind", "xlindqvist",       # longer words
        "bob.al@ex.org", "xal@ex.org", "al@ex.org.evil.net",       # longer addresses
        "13461234567899", "9612345678", "06123456789",             # longer digit runs
    ]:
        assert scan(scanner, "https://t.example/?q=" + quote(text)) == [], text
    found = scan(scanner, "https://t.example/?q=" + quote("Hi Anna Lind, al@ex.org. Call 612345678!"))
    assert {m.value_id for m in found} == {0, 1, 2}


def test_short_values_are_searched_only_as_digests():
    scanner = LeakScanner([("name", "Li")])
    assert scan(scanner, "https://t.example/?fn=Li") == []
    assert [m.encoding for m in scan(scanner, f"https://t.example/?fn={hexdigest('sha256', 'li')}")] == ["sha256"]


def test_unsearchable_values_are_reported_not_fatal():
    scanner = LeakScanner([("phone", "call me maybe"), ("email", "ok@example.org")])
    assert scanner.skipped == [(0, "'call me maybe' is not a phone number")]
    assert scan(scanner, "https://t.example/?e=ok@example.org")[0].value_id == 1


def test_value_ids_come_from_the_caller():
    scanner = LeakScanner([("email", EMAIL, 4711)])
    assert scan(scanner, "https://t.example/?e=" + EMAIL)[0].value_id == 4711


def test_name_parts_and_gmail_canonical_forms_are_hashed():
    scanner = LeakScanner([("name", "Alice Martin"), ("email", "Alice.Martin+shop@gmail.com")])
    fn = hexdigest("sha256", "alice")
    found = scan(scanner, f"https://www.facebook.com/tr?ev=Lead&ud[fn]={fn}")
    assert found == [Match("name", 0, "sha256", "url", "name-part")]
    assert gmail_canonical("Alice.Martin+shop@googlemail.com") == "alicemartin@gmail.com"
    em = hexdigest("sha256", "alicemartin@gmail.com")
    assert scan(scanner, f"https://t.example/?em={em}") == [Match("email", 1, "sha256", "url", "gmail")]


def test_a_page_url_nested_in_a_tracker_url_is_decoded():
    scanner = LeakScanner([("email", "alice@example.com")])
    page = "https://shop.example/thanks?email=" + quote("alice@example.com", safe="")
    found = scan(scanner, "https://tracker.example/collect?dl=" + quote(page, safe=""))
    assert found == [Match("email", 0, "url", "url", "typed")]


def test_json_string_escapes_are_undone():
    scanner = LeakScanner([("name", "José Núñez")])
    body = json.dumps({"name": "José Núñez"}).encode()  # ensure_ascii: "Jos\u00e9 N\u00fa\u00f1ez"
    assert b"\\u00e9" in body
    assert scan(scanner, body=body, content_type="application/json") == [
        Match("name", 0, "plain", "body", "typed")
    ]


def test_host_header_is_not_searched_other_headers_are(scanner):
    assert scan(scanner, headers=[("host", "alice.martin@example.com")]) == []
    found = scan(scanner, headers={"X-User": EMAIL, "Referer": "https://shop.example/?e=" + quote(EMAIL)})
    assert {m.where for m in found} == {"header:x-user", "header:referer"}


def test_remembered_clean_headers_never_hide_a_leak(scanner):
    headers = [("user-agent", "Mozilla/5.0 (X11)"), ("cookie", "a=1")]
    for _ in range(3):
        assert scan(scanner, headers=headers) == []
    leaky = [("user-agent", "Mozilla/5.0 (X11)"), ("cookie", "a=1; em=" + EMAIL)]
    for _ in range(3):  # a header that matched is never remembered as clean
        assert [m.where for m in scan(scanner, headers=leaky)] == ["header:cookie"]


def test_bodies_are_searched_up_to_the_cap_and_media_bodies_not_at_all():
    scanner = LeakScanner([("email", EMAIL)], max_text=1000)
    near = (b"x" * 900) + b" " + EMAIL.encode()
    far = (b"x" * 1000) + b" " + EMAIL.encode()
    assert scan(scanner, body=near, content_type="text/plain")
    assert scan(scanner, body=far, content_type="text/plain") == []
    assert scan(scanner, body=near, content_type="image/png") == []


def test_one_match_per_value_encoding_and_place(scanner):
    url = f"https://t.example/?a={EMAIL}&b={EMAIL}&c={EMAIL}"
    assert scan(scanner, url) == [Match("email", 0, "plain", "url", "typed")]


@pytest.mark.parametrize("typed,default,expected", [
    ("+34 612 34 56 78", None, "+34612345678"),
    ("0034 612-34-56-78", None, "+34612345678"),
    ("+44 (0)20 7946 0000", None, "+442079460000"),
    ("020 7946 0000", "44", "+442079460000"),
    ("020 7946 0000", None, None),               # national, country unknown: no E.164 form
    ("06 1234 5678", "+39", "+390612345678"),     # Italy keeps the leading 0
    ("(415) 555-0100", "1", "+14155550100"),
    ("1-415-555-0100", "1", "+14155550100"),
    ("8 912 345 67 89", "7", "+79123456789"),
    ("612.34.56.78", "34", "+34612345678"),
])
def test_phone_normalisation(typed, default, expected):
    assert normalise_phone(typed, default) == expected


@pytest.mark.parametrize("typed", ["hello", "+34 61a", "+1 234", "+1234567890123456", ""])
def test_phone_normalisation_refuses_what_is_not_a_phone_number(typed):
    with pytest.raises(InputError):
        normalise_phone(typed, "34")


def test_a_national_number_without_country_is_searched_by_its_digits_only():
    scanner = LeakScanner([("phone", "612 34 56 78")])
    assert scan(scanner, "https://t.example/?p=612345678")[0].form == "national"
    assert scan(scanner, f"https://t.example/?p={hexdigest('sha256', '+34612345678')}") == []
    with_country = LeakScanner([("phone", "612 34 56 78")], default_country_code="34")
    assert scan(with_country, f"https://t.example/?p={hexdigest('sha256', '+34612345678')}")


def test_redact_url_keeps_names_and_drops_values():
    url = ("https://user:pw@www.Example.com:8443/u/alice@example.com/1234567/"
           "5f4dcc3b5aa765d61d8327deb882cf99/x.js?email=alice%40example.com&flag&id=42#tok=abc")
    assert redact_url(url) == "https://www.example.com:8443/u/…/…/…/x.js?email=…&flag&id=…#tok=…"
    assert redact_url("http://[::1") == "…"


def test_evidence_never_holds_the_value(scanner):
    url = "https://t.example/collect?em=" + quote(EMAIL)
    match = scan(scanner, url)[0]
    record = evidence(match, url, site="example.net")
    assert record == {"where": "url", "encoding": "plain", "form": "typed",
                      "url": "https://t.example/collect?em=…", "site": "example.net"}
    assert "alice" not in json.dumps(record).lower()


# -- no false positives on real traffic -------------------------------------------------------

FIRST = ["Ingrid", "Tomasz", "Leocadia", "Barnaby", "Oona", "Wenceslao", "Prudence", "Casimir",
         "Ottilie", "Evander", "Rosalind", "Thaddeus", "Marisol", "Quentin", "Philippa"]
LAST = ["Vandermeer", "Okonkwo", "Brzezinski", "Hallgrimsson", "Castellanos", "Achterberg",
        "Fitzwilliam", "Nakashima", "Ravensworth", "Szczepanik", "Delacroix", "Lindqvist",
        "Montgomerie", "Ferreira", "Quisenberry"]


def realistic_values(corpus: str) -> list[tuple[str, str]]:
    """50 values that do not occur in the corpus, some built to sit inside its longer tokens."""
    values = []
    for i in range(15):
        first, last = FIRST[i], LAST[(i * 7) % 15]
        values += [("name", f"{first} {last}"), ("email", f"{first}.{last}{i}@post-{i}.example")]
    # Phones whose national digits occur in the corpus, but only inside longer digit runs.
    runs = sorted(set(re.findall(r"\d{12,}", corpus)))[:6]
    values += [("phone", f"+34 {run[1:10]}") for run in runs]
    values += [("phone", f"+44 7{700 + i} 900{i:03d}") for i in range(4)]
    # Words of the corpus as part of longer words: `analyti` in `analytics`, `pixe` in `pixel`.
    values += [("name", "Analyti"), ("name", "Pixe"), ("other", "Trackin"), ("other", "Doubleclic")]
    values += [("address", f"{10 + i} {LAST[i]} Road, {FIRST[i]}ton") for i in range(3)]
    values += [("birthday", "1961-07-04"), ("birthday", "1988-11-30"), ("birthday", "1979-02-14")]
    return values[:50]


def test_no_false_positive_on_the_adblock_rust_request_set(shared_data):
    entries = json.loads((shared_data / "requests" / "adblock-rust-matching-requests.json").read_text())
    urls = [entry["url"] for entry in entries]
    corpus = "\n".join(urls)
    values = realistic_values(corpus)
    assert len(values) == 50
    lowered = unquote_plus(corpus).lower()
    for kind, value in values:  # the values are absent as whole tokens: any match would be false
        assert not re.search(rf"(?<![0-9a-z]){re.escape(value.lower())}(?![0-9a-z])", lowered), value
    # ...but some occur inside longer tokens (a phone's national digits inside a longer digit run,
    # a name inside a longer word): the near misses the boundary checks must reject.
    cores = [value.split(" ", 1)[1] if kind == "phone" else value.lower() for kind, value in values]
    assert sum(1 for core in cores if core in lowered) >= 8
    scanner = LeakScanner(values)
    assert scanner.skipped == []
    hits = [(url, scanner.scan(url)) for url in urls]
    assert [h for h in hits if h[1]] == []


# -- robustness --------------------------------------------------------------------------------

ROBUST = LeakScanner(VALUES + [("birthday", "1990-04-23"), ("address", "12 Rue de la Paix, Paris")])


@settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow], deadline=None)
@given(
    url=st.text(max_size=300),
    headers=st.lists(st.tuples(st.one_of(st.text(max_size=20), st.binary(max_size=20)),
                               st.one_of(st.text(max_size=200), st.binary(max_size=200))), max_size=5),
    body=st.one_of(st.binary(max_size=2000), st.text(max_size=500)),
    content_type=st.one_of(st.none(), st.sampled_from([
        "application/json", "application/x-www-form-urlencoded", "text/plain", "image/gif",
        "multipart/form-data; boundary=x"]), st.text(max_size=30)),
)
def test_scanning_never_raises(url, headers, body, content_type):
    matches = ROBUST.scan(url, headers, body, content_type)
    assert all(isinstance(m, Match) for m in matches)


@settings(max_examples=200, deadline=None)
@given(st.text(alphabet=st.characters(codec="ascii"), max_size=200))
def test_redact_url_never_raises(url):
    assert isinstance(redact_url(url), str)


_ESCAPE_OR_CHAR = st.one_of(
    st.sampled_from(list("abcXYZ019=&+ ./_-~@\t\r\n") + ["é", "=3D", "=\n", " \r\n", "%", "%g1", "%4"]),
    st.integers(0, 255).map(lambda n: f"%{n:02X}"),
    st.integers(0, 255).map(lambda n: f"%{n:02x}"),
)


@settings(max_examples=500, deadline=None)
@given(st.lists(_ESCAPE_OR_CHAR, max_size=60).map("".join))
def test_percent_decode_agrees_with_urllib(text):
    assert percent_decode(text, plus=True) == unquote_plus(text, errors="replace")
    assert percent_decode(text.encode(), plus=True) == unquote_plus(text, errors="replace")


def test_scan_texts_names_the_place_of_each_value_and_never_joins_two_places():
    scanner = LeakScanner([("email", "al@ex.org"), ("name", "Anna Lind")])
    found = scanner.scan_texts([("orders[0].note", "thanks"), ("orders[1].email", "AL@EX.ORG"),
                                ("a", "Anna"), ("b", "Lind")])
    assert [(m.kind, m.where, m.encoding) for m in found] == [("email", "orders[1].email", "casefold")]
    assert LeakScanner([]).scan_texts([("x", "al@ex.org")]) == []


def test_possible_starts_point_at_every_value_scan_texts_finds_in_the_fields_of_a_text():
    """A file searched whole (`possible_starts`) and field by field (`scan_texts`): every match of
    a field starts where the whole-text search points, in every encoding and letter case, next
    to non-ASCII text, and with a value of non-ASCII letters (the slower lower-casing)."""
    import base64
    import hashlib

    for values, expected in (([("email", "ana.garcia@example.com", 1), ("phone", "+34 600 111 222", 2)], {1, 3, 4, 5, 6}),
                             ([("name", "Ana García", 3), ("email", "ana.garcia@example.com", 1)], {1, 4, 5, 6, 7})):
        scanner = LeakScanner(values, default_country_code="34")
        fields = ["Ñandú", "ANA.GARCIA@EXAMPLE.COM", "x", "+34600111222", "ana.garcia%40example.com",
                  base64.b64encode(b"ana.garcia@example.com").decode(),
                  hashlib.sha256(b"ana.garcia@example.com").hexdigest().upper(), "ANA GARCÍA", "Straße 600111222"]
        text, starts = "", []
        for field in fields:
            text += '"'
            starts.append(len(text))
            text += field + '",'
        found = scanner.scan_texts(list(enumerate(fields)))
        assert {m.where for m in found} >= expected
        possible = scanner.possible_starts(text)
        for match in found:
            field = fields[match.where]
            assert any(starts[match.where] <= p < starts[match.where] + len(field) for p in possible), field
        assert scanner.possible_starts("nothing here, Ñandú") == []


_FIELD_TEXT = st.lists(st.sampled_from(["ana.garcia@example.com", "ANA.GARCIA", "@example.com", "600 111 222",
                                        "600111222", "Ana García", "GARCÍA", "x", "é", "K", " ", "\n", "<", ";",
                                        "ana", "garcia", ".", "34", "+", "Ω", "İ", "\u212a"]), max_size=12).map("".join)


@settings(max_examples=300, deadline=None)
@given(_FIELD_TEXT, st.lists(st.integers(0, 80), max_size=6))
def test_may_appear_in_is_false_only_when_no_cut_of_the_text_holds_a_value(text, cuts):
    """A text cut into fields anywhere (mid-word too, as a parser cuts at its chunk boundary):
    where `scan_texts` finds a value in any field, `may_appear_in` says the text may hold one."""
    scanner = LeakScanner([("email", "ana.garcia@example.com", 1), ("phone", "+34 600 111 222", 2),
                           ("name", "Ana García", 3)], default_country_code="34")
    bounds = sorted({0, len(text), *(c for c in cuts if c < len(text))})
    fields = [text[a:b] for a, b in zip(bounds, bounds[1:])]
    if scanner.scan_texts(list(enumerate(fields))):
        assert scanner.may_appear_in(text)
    if scanner.scan_texts([(0, text)]):
        assert scanner.may_appear_in(text)


def test_may_appear_in_finds_every_encoding_and_nothing_in_other_text():
    import base64
    import hashlib

    scanner = LeakScanner([("email", "ana.garcia@example.com", 1)])
    for text in ("xxana.garcia@example.comyy", "ANA.GARCIA%40EXAMPLE.COM", hashlib.md5(b"ana.garcia@example.com").hexdigest(),
                 "z" + base64.b64encode(b"ana.garcia@example.com").decode()):
        assert scanner.may_appear_in(text), text
    assert not scanner.may_appear_in("nothing here, Ñandú, ana garcia at example dot com")
    assert scanner.may_appear_in("ΣΑΣ")  # a capital sigma: its lower case depends on its neighbours
    assert not LeakScanner([]).may_appear_in("ana.garcia@example.com")
