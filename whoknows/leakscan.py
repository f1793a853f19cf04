"""Find the user's own data in outgoing requests: emails, phones, names... as typed, URL-encoded,
base64-encoded or hashed the way trackers send them (Meta's and Google's "advanced matching" hash a
normalised email or phone with SHA-256; older pixels use MD5 or SHA-1).

Design (uBlock Origin's lesson: parse once, index, then do as little as possible per request):
- Every form of every value becomes a pattern in ONE Aho-Corasick automaton, built once.
- A request becomes one text (URL, header values and body joined by NUL), searched in ONE pass.
- The automaton searches a *folded* copy of that text: lowercased, with every ASCII character that
  is not a letter or digit turned into NUL; patterns are folded the same way and start with a NUL.
  So a pattern can only start where a token starts, and the automaton's root has a single child:
  pyahocorasick scans a node's children linearly, and this makes the pass 3x faster than searching
  the plain lowercased text. Folding loses information, so each candidate is checked against the
  lowercased text (case-insensitive encodings: typed text, percent-encoding, hex digests) or the
  original text (base64, which is case-sensitive), and then for its boundaries.
- A typed value must stand alone: a phone's digits inside a longer digit run, `anna` inside
  `annabelle`, `alice@example.com` inside `bob.alice@example.com.evil.org` are not matches.

Limits, on purpose:
- A value is found where a token starts: at the start of a text or after a character that is not a
  letter or digit (`=`, `&`, `"`, `/`, space...). `uid42<sha256>` glued together is not found. An
  escaped delimiter (`%3D`) counts because URLs, header values and bodies that contain `%` are also
  searched percent-decoded (URLs twice, for a page URL nested in a tracker's URL). Non-ASCII
  punctuation (a no-break space, `«`) does not start a token.
- Typed forms (and their URL/base64 encodings) of values shorter than `MIN_TYPED_LENGTH` (4)
  characters are not searched: `Li` or `Bo` would match everywhere. Their digests are still searched.
- Only the first `DEFAULT_MAX_TEXT` (64 KB) of a body, and of the URL and each header, is searched.
- Base64 is searched for the value encoded alone (`base64(value)`), as trackers send it; a value
  buried inside a larger base64 blob (`base64('{"email": ...}')`) depends on its alignment and is
  not found.
- Bodies are searched as given: pass the decoded content (mitmproxy's `request.content`), not the
  compressed bytes. Image, audio, video and font bodies are not searched.
"""

from __future__ import annotations

import base64
import binascii
import bisect
import hashlib
import re
from collections.abc import Iterable, Mapping
from datetime import date
from typing import Any, NamedTuple
from urllib.parse import quote, quote_plus, unquote, unquote_plus, urlsplit, urlunsplit

import ahocorasick

from .errors import InputError

MIN_TYPED_LENGTH = 4
MIN_PHONE_DIGITS = 6
DEFAULT_MAX_TEXT = 64 * 1024
SKIPPED_HEADERS = frozenset({"host", ":authority"})
UNSEARCHED_BODY_TYPES = ("image/", "audio/", "video/", "font/")

# How a value may stand in text: WORD (not inside a longer word), EMAIL (not inside a longer
# address), DIGITS (not inside a longer digit run), NONE (digests and base64: no end boundary).
NONE, WORD, EMAIL, DIGITS = range(4)

_HASHES = (("md5", hashlib.md5), ("sha1", hashlib.sha1), ("sha256", hashlib.sha256))
_JS_URI_SAFE = "-_.!~*'()"  # what JavaScript's encodeURIComponent leaves alone


class Match(NamedTuple):
    """One of the user's values found in a request.

    `encoding`: plain (exactly as typed), casefold (other letter case), url (percent-encoded),
    url-plus (spaces as `+`), base64, base64-nopad, base64url, base64url-nopad, md5, sha1, sha256
    (an `-upper` suffix for upper-case hex). The encoding is what the receiver reads: a value
    percent-encoded once in a URL query or a form body is `plain`, twice is `url`.
    `where`: 'url', 'header:<name>' or 'body'. `form`: what was encoded (typed, normalised, e164,
    e164-digits, national, national-trunk, gmail, name-part, iso-date, yyyymmdd, dd/mm/yyyy,
    mm/dd/yyyy, compact).
    """

    kind: str
    value_id: object
    encoding: str
    where: str
    form: str = "typed"


class Watched(NamedTuple):
    """A value the scanner looks for; `value_id` is what matches point back to."""

    kind: str
    value: str
    value_id: object


class _Target(NamedTuple):
    kind: str
    value_id: object
    encoding: str
    form: str
    check: str  # the pattern, compared with the matched slice of the lowered or original text
    case_sensitive: bool  # base64: compare with the original text, not the lowered one
    boundary: int
    typed: str | None  # typed-text patterns: the text as typed, to tell plain from casefold


# -- normalisers -------------------------------------------------------------------------------

# ITU-T E.164 country calling codes: 1 and 7 are one digit, these are two, every other is three.
_TWO_DIGIT_CODES = frozenset(
    "20 27 30 31 32 33 34 36 39 40 41 43 44 45 46 47 48 49 51 52 53 54 55 56 57 58 "
    "60 61 62 63 64 65 66 81 82 84 86 90 91 92 93 94 95 98".split()
)
_PHONE_PUNCTUATION = re.compile(r"[\s\-./()\u00a0]")


def normalise_email(text: str) -> str:
    """Trimmed, lowercased: the form trackers hash (Meta, Google, TikTok all ask for this)."""
    return text.strip().lower()


def gmail_canonical(email: str) -> str | None:
    """Google's enhanced conversions drop dots and `+tags` from gmail.com addresses before hashing."""
    local, _, domain = normalise_email(email).rpartition("@")
    if domain not in ("gmail.com", "googlemail.com") or not local:
        return None
    return local.split("+", 1)[0].replace(".", "") + "@gmail.com"


def country_code_of(e164: str) -> str:
    """The country calling code of an E.164 number ('+34612345678' -> '34')."""
    digits = e164.lstrip("+")
    if digits[:1] in ("1", "7"):
        return digits[:1]
    return digits[:2] if digits[:2] in _TWO_DIGIT_CODES else digits[:3]


def normalise_phone(text: str, default_country_code: str | None = None) -> str | None:
    """The E.164 form (`+` and 8 to 15 digits) of a phone number, or None if its country is unknown.

    Spaces, dashes, dots, slashes and parentheses are dropped, as is the `(0)` some write after the
    country code; a leading `00` means `+`. A number with no country code is national: without
    `default_country_code` we cannot honestly tell which country it belongs to, so it has no E.164
    form (None). With one, the national trunk prefix is dropped (`0`, or `1` in North America and
    `8` in Russia and Kazakhstan) except in Italy (+39), where the leading 0 is part of the number.
    Raises InputError for text that is not a phone number at all.
    """
    compact = text.strip().replace("(0)", "") if text.strip().startswith("+") else text.strip()
    compact = _PHONE_PUNCTUATION.sub("", compact)
    if compact.startswith("00"):
        compact = "+" + compact[2:]
    international = compact.startswith("+")
    digits = compact[1:] if international else compact
    if not digits.isascii() or not digits.isdigit():
        raise InputError(f"{text!r} is not a phone number")
    if not international:
        if default_country_code is None:
            return None
        code = default_country_code.strip().lstrip("+")
        if not code.isdigit() or not 1 <= len(code) <= 3:
            raise InputError(f"{default_country_code!r} is not a country calling code")
        digits = code + _drop_trunk_prefix(code, digits)
    if not 8 <= len(digits) <= 15:
        raise InputError(f"{text!r} is not a phone number: E.164 numbers have 8 to 15 digits")
    return "+" + digits


def _drop_trunk_prefix(code: str, national: str) -> str:
    trunk = {"1": "1", "7": "8", "39": ""}.get(code, "0")
    return national[len(trunk):] if trunk and national.startswith(trunk) else national


def _collapse(text: str) -> str:
    return " ".join(text.split())


# -- the forms of one value --------------------------------------------------------------------


class _Forms(NamedTuple):
    text: list[tuple[str, str, int]]  # (form, text, boundary): sent as text, maybe URL/base64-encoded
    hashed: list[tuple[str, str]]  # (form, text): sent as a hex digest


def _forms(kind: str, value: str, default_country_code: str | None) -> _Forms:
    typed = value.strip()
    if kind in ("email", "alias"):
        email = normalise_email(typed)
        hashed = [("normalised", email), ("typed", typed)]
        if gmail := gmail_canonical(email):
            hashed.append(("gmail", gmail))
        return _Forms([("typed", typed, EMAIL), ("normalised", email, EMAIL)], hashed)
    if kind == "phone":
        return _phone_forms(typed, default_country_code)
    if kind == "name":
        name = _collapse(typed).lower()
        hashed = [("normalised", name)]
        parts = name.replace("-", " ").split()
        if len(parts) > 1:
            hashed += [("name-part", part) for part in parts if len(part) >= 2]
        return _Forms([("typed", typed, WORD), ("normalised", _collapse(typed), WORD)], hashed)
    if kind == "birthday":
        return _birthday_forms(typed)
    compact = re.sub(r"[\s\-]", "", typed)
    boundary = DIGITS if compact.isdigit() else WORD
    text = [("typed", typed, boundary), ("normalised", _collapse(typed), boundary)]
    hashed = [("normalised", _collapse(typed).lower())]
    if kind in ("payment", "id-number") and compact != typed:
        text.append(("compact", compact, boundary))
        hashed.append(("compact", compact.lower()))
    return _Forms(text, hashed)


def _phone_forms(typed: str, default_country_code: str | None) -> _Forms:
    e164 = normalise_phone(typed, default_country_code)
    typed_digits = _PHONE_PUNCTUATION.sub("", typed)
    if e164 is None:  # national number, country unknown: only its digits can be searched honestly
        return _Forms([("typed", typed, DIGITS), ("national", typed_digits, DIGITS)], [])
    code = country_code_of(e164)
    national = e164[1 + len(code):]
    trunk = {"1": "1", "7": "8", "39": ""}.get(code, "0")
    text = [
        ("typed", typed, DIGITS),
        ("e164", e164, DIGITS),
        ("e164-digits", e164[1:], DIGITS),
        ("national", national, DIGITS),
    ]
    if trunk:
        text.append(("national-trunk", trunk + national, DIGITS))
    return _Forms(text, [("e164", e164), ("e164-digits", e164[1:])])


def _birthday_forms(typed: str) -> _Forms:
    try:
        day = date.fromisoformat(typed)
    except ValueError:
        return _Forms([("typed", typed, DIGITS)], [("normalised", _collapse(typed).lower())])
    iso, compact = day.isoformat(), day.strftime("%Y%m%d")
    text = [
        ("typed", typed, DIGITS),
        ("iso-date", iso, DIGITS),
        ("yyyymmdd", compact, DIGITS),
        ("dd/mm/yyyy", day.strftime("%d/%m/%Y"), DIGITS),
        ("mm/dd/yyyy", day.strftime("%m/%d/%Y"), DIGITS),
    ]
    return _Forms(text, [("yyyymmdd", compact), ("iso-date", iso)])


def _text_encodings(text: str) -> list[tuple[str, str]]:
    """(encoding, pattern) for a value sent as text: as typed, percent-encoded, base64.

    Base64 is stored without its padding: the padded form starts with it, and `_refine` tells
    `base64` from `base64-nopad` by what follows the match. URL-safe base64 differs from the
    standard alphabet only when the encoding has `+` or `/`.
    """
    raw = text.encode("utf-8")
    b64 = base64.b64encode(raw).decode().rstrip("=")
    b64url = base64.urlsafe_b64encode(raw).decode().rstrip("=")
    encodings = [
        ("plain", text),
        ("url", quote(text, safe="")),
        ("url", quote(text, safe=_JS_URI_SAFE)),
        ("url-plus", quote_plus(text, safe="")),
        ("base64", b64),
    ]
    if b64url != b64:
        encodings.append(("base64url", b64url))
    return encodings


# -- folding -----------------------------------------------------------------------------------

# ASCII letters and digits lowercased, every other ASCII character NUL, other bytes unchanged. It
# works on UTF-8 bytes, where it maps ASCII to ASCII and leaves multi-byte characters whole, so the
# folded text has exactly the characters of its input (and runs ~30x faster than str.translate on
# non-ASCII text).
_FOLD = bytes(
    (ord(chr(i).lower()) if chr(i).isalnum() else 0) if i < 128 else i for i in range(256)
)
# Lowercase request text, most frequent first. Patterns are inserted in this order so that each
# trie node lists its likeliest children first (pyahocorasick scans children linearly).
_TEXT_FREQUENCY = "\x00etaosinrc10l2dphmug3456789bfwykvxjqz"
_RANK = {c: i for i, c in enumerate(_TEXT_FREQUENCY)}


def _fold(lowered: str) -> str:
    return lowered.encode("utf-8", "surrogatepass").translate(_FOLD).decode("utf-8", "surrogatepass")


def _lower_aligned(text: str) -> str:
    """Lowercase without changing the length (a few letters, like 'İ', lowercase to two chars)."""
    lowered = text.lower()
    if len(lowered) == len(text):
        return lowered
    return "".join(c.lower() if len(c.lower()) == 1 else c for c in text)


def _insertion_order(key: str) -> list[int]:
    return [_RANK.get(c, len(_RANK)) for c in key]


# -- the scanner -------------------------------------------------------------------------------


class LeakScanner:
    """Search requests for a fixed set of values; build once, scan many times.

    `values`: (kind, value) pairs, whose ids are their positions, or (kind, value, value_id)
    triples (for example ledger row ids). Kinds are the ledger's disclosure kinds; email, alias,
    phone, name and birthday get their own normalisation, any other kind is searched as text.
    Values that cannot be searched (a phone that is not a number, a value too short for any form)
    are listed in `skipped` as (value_id, reason). `default_country_code` ('34', '+44') gives
    national phone numbers their country; without it they are searched by their digits only.
    Header values found clean are remembered (by hash, up to `header_memory` of them), because the
    same User-Agent, Accept and cookies come with every request.
    """

    def __init__(
        self,
        values: Iterable[tuple],
        *,
        default_country_code: str | None = None,
        max_text: int = DEFAULT_MAX_TEXT,
        header_memory: int = 4096,
    ):
        self.max_text = max_text
        self.header_memory = header_memory
        self._clean_headers: set[int] = set()
        self.watched: dict[object, Watched] = {}
        self.skipped: list[tuple[object, str]] = []
        patterns: dict[str, list[_Target]] = {}
        for position, item in enumerate(values):
            kind, value, value_id = (*item, position) if len(item) == 2 else item
            watched = Watched(str(kind), str(value), value_id)
            self.watched[value_id] = watched
            try:
                added = _add_value(patterns, watched, default_country_code)
            except InputError as exc:
                self.skipped.append((value_id, str(exc)))
                continue
            if not added:
                self.skipped.append(
                    (value_id, f"shorter than {MIN_TYPED_LENGTH} characters and nothing to hash")
                )
        self._automaton = ahocorasick.Automaton()
        self._anywhere: ahocorasick.Automaton | None = None  # built when first needed
        for key in sorted(patterns, key=_insertion_order):
            self._automaton.add_word(key, (len(key) - 1, tuple(patterns[key])))
        self.pattern_count = sum(len(targets) for targets in patterns.values())
        self._ascii_patterns = all(key.isascii() for key in patterns)
        if patterns:
            self._automaton.make_automaton()

    def scan(
        self,
        url: str,
        headers: Mapping | Iterable[tuple] = (),
        body: bytes | str | None = b"",
        content_type: str | None = None,
    ) -> list[Match]:
        """Every watched value found in this request, once per (value, encoding, form, place).

        `headers`: a mapping or (name, value) pairs, str or bytes (mitmproxy: `headers.fields`).
        `body`: the decoded content. The URL and a form body are searched as the server reads
        them (percent-decoded; the URL also as sent and decoded twice); header values and other
        bodies as sent and, when they contain `%`, percent-decoded; JSON also with its string
        escapes undone when it has any.
        """
        if not self.pattern_count:
            return []
        return self._search(self._segments(url, headers, body, content_type))

    def scan_texts(self, places: Iterable[tuple[Any, str]]) -> list[Match]:
        """Every watched value found in these texts, each `(where, text)` searched as it is (no
        decoding) and on its own, so a match names its place (`Match.where`) and never spans two.
        For data that is not a request (a vendor's data export: one place per field)."""
        if not self.pattern_count:
            return []
        return self._search([_Segment(where, text, 0, None) for where, text in places])

    def possible_starts(self, text: str) -> list[int]:
        """Offsets in `text` where a watched value may start: where the automaton finds a pattern
        in the folded text, before any check. Every match `scan_texts` reports in a part of `text`
        that follows a character other than a letter or digit (a field of a file, after its quote,
        separator or line break) starts at one of these offsets, so a large file can be searched
        whole at the automaton's speed and closely only where this points. Text holding a capital
        sigma is the exception (its lower case depends on the letters around it)."""
        if not self.pattern_count:
            return []
        if self._ascii_patterns and "\u212a" not in text and "\u0130" not in text:
            # Patterns of ASCII characters only match text whose letters lowercase to ASCII: the
            # fold lowercases those, and the (slow) lowercasing of other letters changes nothing
            # (but for the Kelvin sign and the dotted capital I).
            folded = _fold("\x00" + text)
        else:
            folded = _fold(_lower_aligned("\x00" + text))
        return [end - length for end, (length, _) in self._automaton.iter(folded)]

    def may_appear_in(self, text: str) -> bool:
        """Whether a watched value may be anywhere in `text`: whether the automaton finds a pattern
        in the folded text, its leading token not required, before any check. False means that no
        part of `text` (a field of a file, however the text is cut into fields, at a letter or
        not) holds anything `scan_texts` would report. A capital sigma always answers True (its
        lower case depends on the letters around it)."""
        if not self.pattern_count:
            return False
        if "\u03a3" in text:
            return True
        if self._anywhere is None:
            # The patterns without their leading token: a match in a part of a text ends within
            # that part and never covers the token before it (checks compare the value's own
            # characters), so the rest of the pattern is in the text whatever came before.
            self._anywhere = ahocorasick.Automaton()
            for key in self._automaton.keys():
                self._anywhere.add_word(key[1:], None)
            self._anywhere.make_automaton()
        if self._ascii_patterns and "\u212a" not in text and "\u0130" not in text:
            folded = _fold(text)
        else:
            folded = _fold(_lower_aligned(text))
        return next(self._anywhere.iter(folded), None) is not None

    def folded_patterns(self) -> list[str]:
        """Every pattern as the automaton holds it: folded (letters and digits lowercased, other
        ASCII characters NUL), each starting with a NUL."""
        return list(self._automaton.keys()) if self.pattern_count else []

    def _segments(self, url, headers, body, content_type) -> list[_Segment]:
        """Every text to search; decoded copies follow their original."""
        cap = self.max_text
        url = _as_text(url, cap)
        if "%" in url:
            # First as the server reads it (decoded once), then as sent, then decoded twice for a
            # page URL (with its own escapes) nested in a tracker's URL.
            once = percent_decode(url)
            segments = [_Segment("url", once, 0, None), _Segment("url", url, 1, None)]
            if "%" in once:
                segments.append(_Segment("url", percent_decode(once), 2, None))
        else:
            segments = [_Segment("url", url, 0, None)]
        items = headers.items() if isinstance(headers, Mapping) else headers
        clean = self._clean_headers
        for name, value in items:
            name = _as_text(name, 256).lower().encode("utf-8", "replace").decode("utf-8")
            if name in SKIPPED_HEADERS:
                continue
            value = _as_text(value, cap)
            key = hash(value)
            if key in clean:
                continue
            where = "header:" + name
            segments.append(_Segment(where, value, 0, key))
            if "%" in value:
                segments.append(_Segment(where, percent_decode(value), 1, key))
        ctype = (_as_text(content_type, 256) if content_type else "").lower()
        if body and not ctype.startswith(UNSEARCHED_BODY_TYPES):
            if ctype.startswith("application/x-www-form-urlencoded"):
                # Searched as the server reads it: escapes and `+` decoded.
                segments.append(_Segment("body", percent_decode(body, plus=True, cap=cap), 0, None))
            else:
                text = _as_text(body, cap)
                segments.append(_Segment("body", text, 0, None))
                if "%" in text:
                    segments.append(_Segment("body", percent_decode(text), 1, None))
                if "\\" in text and ("json" in ctype or text.lstrip()[:1] in ("{", "[")):
                    segments.append(_Segment("body", _json_unescape(text), 1, None))
        return segments

    def _search(self, segments: list[_Segment]) -> list[Match]:
        texts = [segment.text for segment in segments]
        haystack = "\x00" + "\x00".join(texts)  # every segment starts after a NUL, like a token
        lowered = _lower_aligned(haystack)
        starts, offset = [], 1
        for text in texts:
            starts.append(offset)
            offset += len(text) + 1
        found: list[tuple[int, int, int, _Target]] = []
        for end, (length, targets) in self._automaton.iter(_fold(lowered)):
            stop = end + 1
            start = stop - length
            for target in targets:
                text = haystack if target.case_sensitive else lowered
                if text[start:stop] != target.check:
                    continue
                if target.boundary and not _stands_alone(lowered, start, stop, target.boundary):
                    continue
                found.append((bisect.bisect_right(starts, start) - 1, start, stop, target))
        self._remember_clean(segments, {f[0] for f in found})
        if not found:
            return []
        return _report(found, segments, haystack)

    def _remember_clean(self, segments: list[_Segment], matched: set[int]) -> None:
        """Remember header values that hold nothing (only their hash; bounded, starts over when full)."""
        if self.header_memory <= 0:
            return
        dirty = {segments[i].memo_key for i in matched}
        clean = self._clean_headers
        for segment in segments:
            if segment.memo_key is not None and segment.memo_key not in dirty:
                if len(clean) >= self.header_memory:
                    clean.clear()
                clean.add(segment.memo_key)


class _Segment(NamedTuple):
    where: str
    text: str
    level: int  # preference among the readings of one place: 0 first (see `_report`)
    memo_key: int | None  # header values: the key under which a clean value is remembered


def _add_value(patterns: dict[str, list[_Target]], watched: Watched, default_country_code) -> int:
    """Add every searchable form of one value; returns how many patterns it got."""
    kind, value, value_id = watched
    forms = _forms(kind, value, default_country_code)
    added = 0

    def add(pattern: str, encoding: str, form: str, boundary: int, typed: str | None = None) -> None:
        nonlocal added
        if not pattern or "\x00" in pattern:
            return
        case_sensitive = encoding.startswith("base64")
        check = pattern if case_sensitive else _lower_aligned(pattern)
        targets = patterns.setdefault("\x00" + _fold(_lower_aligned(pattern)), [])
        # One target per value and pattern: `alice@x.org` typed and normalised is one pattern.
        if any(t.value_id == value_id and t.check == check for t in targets):
            return
        targets.append(_Target(kind, value_id, encoding, form, check, case_sensitive, boundary, typed))
        added += 1

    for form, text, boundary in forms.text:
        minimum = MIN_PHONE_DIGITS if boundary == DIGITS else MIN_TYPED_LENGTH
        if len(text) < minimum:
            continue
        for encoding, pattern in _text_encodings(text):
            if encoding.startswith("base64"):
                add(pattern, encoding, form, NONE)
            else:
                add(pattern, encoding, form, boundary, pattern)
    for form, text in forms.hashed:
        if text:
            raw = text.encode("utf-8")
            for name, function in _HASHES:
                add(function(raw).hexdigest(), name, form, NONE)
    return added


def _report(found, segments: list[_Segment], haystack: str) -> list[Match]:
    """Drop matches inside a longer match of the same value, and matches in a less preferred
    reading of a place (the URL as sent when it was found decoded; a body or header decoded when
    it was found as sent): one occurrence is reported once, by its most telling encoding."""
    found.sort(key=lambda f: (f[0], f[1], -f[2]))
    kept: list[tuple[int, int, int, _Target]] = []
    reach: dict[tuple, int] = {}  # (value_id, segment) -> end of the last kept span
    for segment, start, end, target in found:
        key = (target.value_id, segment)
        if reach.get(key, -1) >= end:
            continue
        reach[key] = end
        kept.append((segment, start, end, target))
    best: dict[tuple, int] = {}  # (value_id, where) -> the most preferred reading that found it
    for s, _, _, t in kept:
        key = (t.value_id, segments[s].where)
        best[key] = min(best.get(key, 9), segments[s].level)
    matches: dict[Match, None] = {}
    for segment, start, end, target in kept:
        where = segments[segment].where
        if segments[segment].level > best[(target.value_id, where)]:
            continue
        encoding = _refine(target, haystack, start, end)
        matches[Match(target.kind, target.value_id, encoding, where, target.form)] = None
    return list(matches)


def _refine(target: _Target, haystack: str, start: int, end: int) -> str:
    """Name the encoding by what was really sent: letter case, base64 padding."""
    encoding = target.encoding
    if encoding == "plain" and haystack[start:end] != target.typed:
        return "casefold"
    if encoding in ("md5", "sha1", "sha256") and haystack[start:end].isupper():
        return encoding + "-upper"
    if encoding.startswith("base64") and len(target.check) % 4:
        padded = haystack.startswith("=", end) or haystack.startswith("%3D", end)
        return encoding if padded else encoding + "-nopad"
    return encoding


def _stands_alone(text: str, start: int, end: int, boundary: int) -> bool:
    return _clear_before(text, start, boundary) and _clear_after(text, end, boundary)


def _joins(char: str, boundary: int) -> bool:
    """Whether `char` next to a value would make it part of a longer word, address or number."""
    if boundary == DIGITS:
        return char.isdigit()
    return char.isalnum() or (boundary == EMAIL and char in "._+-")


def _clear_before(text: str, start: int, boundary: int) -> bool:
    return start == 0 or not _joins(text[start - 1], boundary) or not _joins(text[start], boundary)


def _clear_after(text: str, end: int, boundary: int) -> bool:
    if end >= len(text) or not _joins(text[end - 1], boundary):
        return True
    after = text[end]
    if boundary != EMAIL:
        return not _joins(after, boundary)
    if after in ".-":  # `alice@example.com.evil.org` is another address; `alice@example.com.` is not
        return not (end + 1 < len(text) and text[end + 1].isalnum())
    return not after.isalnum()


_JSON_ESCAPE = re.compile(r"\\(?:u([0-9a-fA-F]{4})|([\"\\/bfnrt]))")
_JSON_SIMPLE = {"b": "\b", "f": "\f", "n": "\n", "r": "\r", "t": "\t"}


def _json_unescape(text: str) -> str:
    r"""Undo JSON string escapes (`\u00e9`, `\/`) so values written by escaping serialisers match."""

    def replace(match: re.Match) -> str:
        if match.group(1):
            return chr(int(match.group(1), 16))
        char = match.group(2)
        return _JSON_SIMPLE.get(char, char)

    return _JSON_ESCAPE.sub(replace, text)


# Percent-decoding in C, 7x faster than urllib's unquote on a form body: `%XX` is quoted-printable's
# `=XX`, so after escaping each literal `=` as `=3D`, binascii's decoder does the work. Text with an
# invalid escape (`%zz`, `%` at the end or before a line break) falls back to urllib, which keeps it.
_PERCENT_TO_QP = bytes.maketrans(b"%", b"=")
_FORM_TO_QP = bytes.maketrans(b"%+", b"= ")
_INVALID_ESCAPE = re.compile(rb"%(?![0-9A-Fa-f]{2})")


def percent_decode(data: bytes | str, plus: bool = False, cap: int = DEFAULT_MAX_TEXT) -> str:
    """`unquote` (or `unquote_plus` with `plus`) of a URL, header value or form body, as text."""
    if isinstance(data, str):
        raw = data[:cap].encode("utf-8", "surrogatepass")
    else:
        raw = bytes(data[:cap])
    if _INVALID_ESCAPE.search(raw):
        return (unquote_plus if plus else unquote)(raw.decode("utf-8", "replace"), errors="replace")
    quoted = raw.replace(b"=", b"=3D").translate(_FORM_TO_QP if plus else _PERCENT_TO_QP)
    return binascii.a2b_qp(quoted).decode("utf-8", "replace")


def _as_text(value, cap: int) -> str:
    if isinstance(value, (bytes, bytearray, memoryview)):
        return bytes(value[:cap]).decode("utf-8", "replace")
    return str(value)[:cap]


# -- evidence ----------------------------------------------------------------------------------

_TOKEN_LIKE = re.compile(r"^[A-Za-z0-9_\-+/=%]{20,}$")
_LONG_DIGITS = re.compile(r"\d{6}")
REDACTED = "…"


def redact_url(url: str) -> str:
    """A URL fit to keep as evidence: scheme, host and path, parameter names without their values.

    Query and fragment values become `…` (they carry the leaked value, session ids, tokens);
    credentials are dropped; path segments that look like data rather than a route (an address,
    a run of 6+ digits, a 20+ character token) become `…` too. The body is never kept.
    """
    try:
        parts = urlsplit(url)
        host = parts.hostname or ""
        port = f":{parts.port}" if parts.port else ""
    except ValueError:
        return REDACTED
    if ":" in host:
        host = f"[{host}]"
    path = "/".join(REDACTED if _looks_like_data(s) else s for s in parts.path.split("/"))
    return urlunsplit(
        (parts.scheme, host + port, path, _redact_params(parts.query), _redact_params(parts.fragment))
    )


def _looks_like_data(segment: str) -> bool:
    decoded = unquote(segment)
    return "@" in decoded or bool(_LONG_DIGITS.search(decoded)) or bool(_TOKEN_LIKE.match(segment))


def _redact_params(query: str) -> str:
    if not query:
        return ""
    out = []
    for pair in query.split("&"):
        name, has_value, _ = pair.partition("=")
        if not has_value:
            out.append(REDACTED if _looks_like_data(name) else name)
        else:
            out.append(f"{REDACTED if _looks_like_data(name) else name}={REDACTED}")
    return "&".join(out)


def evidence(match: Match, url: str, site: str | None = None) -> dict:
    """A JSON-ready record of a match for the ledger's `evidence` column: never the value itself."""
    record = {"where": match.where, "encoding": match.encoding, "form": match.form, "url": redact_url(url)}
    if site is not None:
        record["site"] = site
    return record


__all__ = [
    "DEFAULT_MAX_TEXT", "LeakScanner", "MIN_TYPED_LENGTH", "Match", "Watched", "country_code_of",
    "evidence", "gmail_canonical", "normalise_email", "normalise_phone", "percent_decode", "redact_url",
]
