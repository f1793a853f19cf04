"""`BodyWatch` looks at a message's raw bytes before parsing it (`mailscan._RawLook`): on varied
generated mail it must find exactly what the previous implementation found (kept as the oracle in
tests/support/mail_body_before.py)."""

from __future__ import annotations

import base64
import binascii
import hashlib
import random
from email.header import Header
from urllib.parse import quote

import pytest

from tests.support.mail_body_before import BodyWatchBefore
from whoknows import mailscan
from whoknows.leakscan import LeakScanner
from whoknows.mailscan import BodyWatch

ALIAS = "shop.k3x9@alias.example"
VALUES = [("email", "ana.garcia@example.com", "email"), ("phone", "+34 600 111 222", "phone"),
          ("address", "Calle Mayor 5", "street"), ("name", "Ana García", "name"),
          ("name", "Zoë Ñúñez", "accented"), ("name", "Kiko Ruiz", "kiko")]
NBSP = "\u00a0"

# How a vendor may write each value (or something close to it that is not it).
WRITINGS = [
    "Ana García", "ANA GARCÍA", f"Ana{NBSP}García", "Ana\n  García", "ana garcia", "Ana Garcíal",
    "ana.garcia@example.com", "<ana.garcia@example.com>", "xana.garcia@example.com",
    "ana.garcia@example.com.evil.org", "ANA.GARCIA@EXAMPLE.COM", "ana.garcia%40example.com",
    base64.b64encode(b"ana.garcia@example.com").decode(), hashlib.md5(b"ana.garcia@example.com").hexdigest(),
    hashlib.sha256(b"ana.garcia@example.com").hexdigest().upper(),
    "+34 600 111 222", "+34 (600) 111-222", "600 111 222", "600.111.222", "(0) 600 111 222",
    "+34 (0) 600111222", "1600 111 2223", "Calle Mayor 5", "calle  mayor 5", "Calle Mayor 55",
    "Zoë Ñúñez", "ZOË ÑÚÑEZ", "Zoe Nunez", "Calle Mayor 5, 28013", "nothing of yours here",
    "600 (0) 111 222", "Kiko Ruiz", "\u212aiko Ruiz",  # a Kelvin sign, lowercased to `k`
]
# In HTML, the same, split by tags or written with entities.
HTML_WRITINGS = WRITINGS + [
    "Calle <b>Mayor</b> 5", "Calle<br>Mayor 5", "Ana Garc&iacute;a", "&#65;na Garc&#237;a",
    "Calle&nbsp;Mayor&nbsp;5", "ana.garcia&#64;example.com", "+34 <span>600</span> 111 222",
    "Ca<i>lle</i> Mayor 5", "600 <td width=3>111</td> 222", "Zo&euml; &Ntilde;&uacute;&ntilde;ez",
    "a &lt; b <!-- Calle Mayor 5 -->", "Calle <a href='x'>Mayor 5</a>", "&#8490;iko Ruiz",
]
FILLER = ["Hello", "our offers", "today only", "your account", "see you", "a < b", "x > y", "-- ",
          "=3D", "price: 5 (0)", "R&D", "&amp;", "--", "news", "Vacaciones en España"]
CHARSETS = ["utf-8", "latin-1", "utf-16", "windows-1252", None]


def _text(rng, writings, lines):
    words = []
    for _ in range(lines):
        words.append(rng.choice(writings) if rng.random() < 0.06 else rng.choice(FILLER))
    return (" " if rng.random() < 0.5 else "\n").join(words)


def _encode(rng, text, charset, cte):
    """(headers, body bytes) of one text part; None when the charset cannot write the text."""
    try:
        data = text.encode(charset or "utf-8")
    except UnicodeEncodeError:
        return None
    if cte == "base64":
        body = base64.encodebytes(data)
    elif cte == "quoted-printable":
        body = binascii.b2a_qp(data)
        if rng.random() < 0.5:  # a soft line break in the middle of a word
            cut = rng.randrange(len(body) + 1)
            if b"=" not in body[max(cut - 2, 0):cut + 1]:
                body = body[:cut] + b"=\n" + body[cut:]
    else:
        if charset == "utf-16":
            return None
        body = data
    return cte, body


def _part(rng, subtype, writings):
    for _ in range(10):
        charset = rng.choice(CHARSETS)
        cte = rng.choice(["8bit", "quoted-printable", "base64", "7bit"])
        text = _text(rng, writings, rng.randint(1, 8))
        if subtype == "html" and rng.random() < 0.5:
            text = f"<html><body><p>{text}</p></body></html>"
        encoded = _encode(rng, text, charset, cte)
        if encoded is not None:
            break
    else:
        charset, cte, encoded = "utf-8", "base64", ("base64", base64.encodebytes(text.encode()))
    params = f"; charset={charset}" if charset else ""
    if charset and rng.random() < 0.2:
        params = f'; charset="{charset.upper()}"'
    head = f"Content-Type: text/{subtype}{params}\nContent-Transfer-Encoding: {encoded[0]}\n"
    if rng.random() < 0.15:  # a tag-like header value left open
        head += "X-Note: <see below\n"
    if rng.random() < 0.1:
        head += "Content-Disposition: attachment; filename=a.txt\n"
    return head.encode(), encoded[1]


def _subject(rng):
    text = _text(rng, WRITINGS, rng.randint(1, 3)).replace("\n", " ")
    if rng.random() < 0.2:
        text = "prices < 10 " + text
    kind = rng.random()
    if kind < 0.3:
        charset = "iso-8859-1" if rng.random() < 0.3 and text == text.encode("latin-1", "ignore").decode("latin-1") else "utf-8"
        return Header(text, charset).encode()  # RFC 2047 encoded words (base64 or q)
    if kind < 0.45:
        half = len(text) // 2
        return "=?utf-8?q?" + quote(text[:half]).replace("%", "=") + "?= =?utf-8?b?" + \
            base64.b64encode(text[half:].encode()).decode() + "?="
    return text


def generated_message(rng) -> bytes:
    headers = (f"From: Shop <news@shop.example>\nTo: {ALIAS}\nMessage-ID: <{rng.getrandbits(64):x}@shop.example>\n"
               "MIME-Version: 1.0\n").encode()
    subject = _subject(rng)
    headers += b"Subject: " + subject.encode("utf-8") + b"\n"
    shape = rng.choice(["plain", "html", "alternative", "mixed", "nested"])
    if shape in ("plain", "html"):
        head, body = _part(rng, shape, HTML_WRITINGS if shape == "html" else WRITINGS)
        raw = headers + head + b"\n" + body
    else:
        parts = [_part(rng, "plain", WRITINGS), _part(rng, "html", HTML_WRITINGS)]
        if shape == "mixed":
            parts.append((b"Content-Type: application/pdf\nContent-Transfer-Encoding: base64\n",
                          base64.encodebytes(b"%PDF Calle Mayor 5")))
        inner = b"".join(b"--b1\n" + head + b"\n" + body + b"\n" for head, body in parts) + b"--b1--\n"
        top = b"Content-Type: multipart/alternative; boundary=\"b1\"\n"
        if shape == "nested":
            inner = (b"--b0\nContent-Type: multipart/alternative; boundary=\"b1\"\n\n" + inner +
                     b"--b0\nContent-Type: text/plain\n\n" + _text(rng, WRITINGS, 3).encode() + b"\n--b0--\n")
            top = b"Content-Type: multipart/mixed; boundary=\"b0\"\n"
        raw = headers + top + b"\n" + (b"preamble < unclosed\n" if rng.random() < 0.2 else b"") + inner
    ending = rng.random()
    if ending < 0.2:
        raw = raw.replace(b"\n", b"\r\n")
    elif ending < 0.25:
        raw = raw.replace(b"\n", b"\r")
    return raw


@pytest.fixture(scope="module")
def watches():
    scanner = LeakScanner(VALUES)
    return BodyWatch(scanner, [ALIAS]), BodyWatchBefore(scanner, [ALIAS])


def test_the_raw_look_first_finds_exactly_what_parsing_every_message_found(watches):
    new, before = watches
    rng = random.Random(14)
    found = looked_past = base64_looked_past = 0
    for n in range(1500):
        raw = generated_message(rng)
        record, _, headers = mailscan._read(raw, f"generated#{n}")
        expected = before.values_in(record, raw)
        assert new.values_in(record, raw, headers) == expected, raw
        assert new.values_in(record, raw) == expected, raw  # without the parsed headers at hand
        found += bool(expected)
        subject = next(v for k, v in headers.raw_items() if k.lower() == "subject")
        passed = not new._look.may_hold(raw, mailscan._subject_text(subject))
        looked_past += passed
        base64_looked_past += passed and b"base64" in raw.lower()
    # the mail is varied enough to prove something: values are found in many messages, and the raw
    # look lets many others go unparsed, messages with base64 parts too
    assert found > 300 and looked_past > 150 and base64_looked_past > 50, (found, looked_past, base64_looked_past)


def test_the_raw_look_never_passes_over_a_value_a_plain_message_holds(watches):
    new, before = watches
    for writing in HTML_WRITINGS:
        for subtype in ("plain", "html"):
            for cte in ("8bit", "quoted-printable"):
                body = f"Hi, {writing}, bye".encode()
                if cte == "quoted-printable":
                    body = binascii.b2a_qp(body)
                raw = (f"From: news@shop.example\nTo: {ALIAS}\nSubject: hi\nContent-Type: text/{subtype}; "
                       f"charset=utf-8\nContent-Transfer-Encoding: {cte}\n\n").encode() + body
                record, _, headers = mailscan._read(raw, "x")
                assert new.values_in(record, raw, headers) == before.values_in(record, raw), raw


HEAD = f"From: Shop <news@shop.example>\nTo: {ALIAS}\n"
KELVIN_SUBJECT = "=?utf-8?b?" + base64.b64encode("\u212aiko Ruiz".encode()).decode() + "?="


@pytest.mark.parametrize("raw", [
    # a `<` left open in the message's headers or a part's must not swallow the start of the text
    HEAD + "Subject: prices < 10\nContent-Type: text/html\n\nAna Garc&iacute;a <p>bye</p>",
    HEAD + "Subject: hi\nContent-Type: multipart/alternative; boundary=b1\n\n--b1\nContent-Type: text/html\n"
           "X-Note: <see\n\nAna Garc&iacute;a <p>bye</p>\n--b1--\n",
    # lone carriage returns end lines, as the email parser reads them
    (HEAD + "Subject: hi\nContent-Type: multipart/alternative; boundary=b1\n\n--b1\nContent-Type: text/plain\n\n"
            "a < b\n--b1\nContent-Type: text/html\n\nAna Garc&iacute;a <p>bye</p>\n--b1--\n").replace("\n", "\r"),
    # a Kelvin sign (lowercased to an ASCII k) in an encoded Subject
    HEAD + f"Subject: {KELVIN_SUBJECT}\nContent-Type: text/plain\n\nhello",
])
def test_the_raw_look_is_not_fooled_by_open_tags_line_ends_or_a_kelvin_sign(watches, raw):
    new, before = watches
    raw = raw.encode()
    record, _, headers = mailscan._read(raw, "x")
    expected = before.values_in(record, raw)
    assert expected  # each holds a value
    assert new.values_in(record, raw, headers) == expected


def b64(text: str, charset: str = "utf-8") -> str:
    return base64.encodebytes(text.encode(charset)).decode()


def multipart(*parts: str, boundary: str = "b1", extra: str = "") -> str:
    return (HEAD + f'Subject: hi\nContent-Type: multipart/mixed; boundary="{boundary}"\n\n'
            + "".join(f"--{boundary}\n{part}\n" for part in parts) + f"--{boundary}--\n{extra}")


B64_TEXT = "Content-Type: text/plain; charset=utf-8\nContent-Transfer-Encoding: base64\n\n"
B64_HTML = "Content-Type: text/html; charset=utf-8\nContent-Transfer-Encoding: base64\n\n"
PLAIN = "Content-Type: text/plain\n\n"
# (message, whether the raw look sends it to the parser)
BASE64_CASES = {
    "single part, a value": (HEAD + "Subject: hi\n" + B64_TEXT + b64("Hola Ana García, bye"), True),
    "single part, no value": (HEAD + "Subject: hi\n" + B64_TEXT + b64("Hola, our offers today"), False),
    "CRLF, no value": ((HEAD + "Subject: hi\n" + B64_TEXT + b64("Hola, our offers\n" * 40)).replace("\n", "\r\n"),
                       False),
    "html part, entities": (multipart(PLAIN + "hello", B64_HTML + b64("<p>Calle&nbsp;Mayor&nbsp;5</p>")), True),
    "html part, tags split a value": (multipart(B64_HTML + b64("<p>Calle <b>Mayor</b> 5</p>")), True),
    "html part, no value": (multipart(B64_HTML + b64("<p>a &amp; b, see you</p>"), PLAIN + "bye"), False),
    "a phone": (multipart(B64_TEXT + b64("call +34 (0) 600111222 now")), True),
    "latin-1": (HEAD + "Subject: hi\nContent-Type: text/plain; charset=latin-1\nContent-Transfer-Encoding: base64\n\n"
                + b64("Hola Ana García", "latin-1"), True),
    "utf-16": (HEAD + "Subject: hi\nContent-Type: text/plain; charset=utf-16\nContent-Transfer-Encoding: base64\n\n"
               + b64("Hola Ana García", "utf-16"), True),
    "a PDF holding a value": (multipart(PLAIN + "see attached", "Content-Type: application/pdf\n"
                                        "Content-Transfer-Encoding: base64\n\n" + b64("%PDF Calle Mayor 5")), False),
    "an attachment holding a value": (multipart(PLAIN + "hi", "Content-Type: text/plain\nContent-Disposition: "
                                                "attachment\nContent-Transfer-Encoding: base64\n\n"
                                                + b64("Ana García")), True),
    "bad padding and stray characters": (HEAD + "Subject: hi\n" + B64_TEXT + b64("Hola Ana García")[:-3] + "*!\n",
                                         True),
    "a line starting with -- that is no boundary": (
        multipart(B64_TEXT + b64("Hola Ana")[:-1] + "\n--x\n" + b64(" García")), True),
    "a quoted boundary with a dash run": (multipart(B64_TEXT + b64("no value here"), boundary="----=_Part_1"), False),
    "a nested message": (multipart("Content-Type: message/rfc822\n\nSubject: x\n" + B64_TEXT
                                   + b64("Ana García")), True),
    "base64 as a word in the text": (multipart(PLAIN + "we use base64 here", B64_TEXT + b64("nothing")), True),
    "Kelvin sign": (HEAD + "Subject: hi\n" + B64_TEXT + b64("\u212aiko Ruiz"), True),
    "epilogue after the last part": (multipart(B64_TEXT + b64("nothing"), extra="Ana García\n"), True),
}


@pytest.mark.parametrize("case", sorted(BASE64_CASES))
def test_base64_parts_are_decoded_before_parsing_and_find_the_same(watches, case):
    new, before = watches
    text, parsed = BASE64_CASES[case]
    raw = text.encode()
    record, _, headers = mailscan._read(raw, "x")
    expected = before.values_in(record, raw)
    assert new.values_in(record, raw, headers) == expected
    subject = next(v for k, v in headers.raw_items() if k.lower() == "subject")
    assert new._look.may_hold(raw, mailscan._subject_text(subject)) == parsed
    assert bool(expected) == (case in BASE64_FINDS)


# where the parser finds a value (not in a PDF, an attachment, an epilogue, a cut part)
BASE64_FINDS = {"Kelvin sign", "a nested message", "a phone", "bad padding and stray characters", "html part, entities",
                "html part, tags split a value", "latin-1", "single part, a value", "utf-16"}
