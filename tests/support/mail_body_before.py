"""How `mailscan.BodyWatch` searched mail before it looked at the raw bytes first (whoknows/mailscan.py
at c6f51bb: every message that reached an alias parsed whole), kept only as the oracle of
tests/test_mailscan_equivalence.py: the new path must find exactly what this one found. Not
imported by whoknows."""

from __future__ import annotations

import re
from collections.abc import Iterable

from whoknows.mailscan import MailRecord, ValueInMail

MAX_BODY_TEXT = 1024 * 1024  # of each text part, searched; a newsletter is far smaller
_BODY_WINDOW = 64 * 1024
_BODY_OVERLAP = 256  # windows overlap by the longest pattern
_TAG = re.compile(r"<[^>]*>")
# A phone written for people to read in a newsletter ("600 111 222", "+34 (600) 111-222"): also
# searched compacted, as the leak scanner knows phones in the forms trackers send.
_PHONE_RUN = re.compile(r"(?<![\w+])\+?[\d(][\d ()./-]{5,}\d(?!\w)")
_PHONE_MARKS = re.compile(r"[\s()./-]")


class BodyWatchBefore:
    """Searches the subject and text of each message that reached one of `aliases` (and was not
    sent from one) for the values `scanner` (a `leakscan.LeakScanner`) watches.

    A newsletter that greets you by a name or shows an address you never gave the vendor is
    evidence of what it holds. Text parts (plain and HTML, decoded from their transfer encoding and
    charset; HTML tags dropped and entities undone; white space collapsed) are searched, the first
    `MAX_BODY_TEXT` of each;
    nothing of the text is kept, only which value was found, how and where."""

    def __init__(self, scanner, aliases: Iterable[str]):
        self.scanner = scanner
        self.aliases = frozenset(address.lower() for address in aliases)

    def values_in(self, record: MailRecord, raw: bytes) -> tuple[ValueInMail, ...]:
        if self.scanner is None or not self.scanner.pattern_count or record.sender in self.aliases:
            return ()
        if not any(recipient in self.aliases for recipient in record.recipients):
            return ()
        places = []
        for place, text in message_texts(raw):
            for start in range(0, max(len(text), 1), _BODY_WINDOW - _BODY_OVERLAP):
                window = text[start:start + _BODY_WINDOW]
                places.append((place, window))
                places += [(place, _PHONE_MARKS.sub("", run.group().replace("(0)", "")))
                           for run in _PHONE_RUN.finditer(window)]
        found = {}
        for match in self.scanner.scan_texts(places):
            value = ValueInMail(match.kind, match.value_id, match.encoding, match.form, match.where)
            found.setdefault((match.value_id, match.encoding, match.form, match.where), value)
        return tuple(found.values())


def message_texts(raw: bytes) -> list[tuple[str, str]]:
    """(`subject`, text) and (`body`, text) of each text part of a raw message, decoded; a part
    that cannot be decoded is left out (the rest is still searched).

    Parsed with the stdlib's legacy (compat32) message API: the modern one parses every header it
    is asked about into objects, which made a scan ten times slower (bench/bench_mailscan.py)."""
    from email.errors import HeaderParseError
    from email.header import decode_header, make_header
    from email.parser import BytesParser
    from html import unescape

    try:
        message = BytesParser().parsebytes(raw)
    except Exception:  # the stdlib parser is lenient; anything it raises means: no text to search
        return []
    texts = []
    subject = next((value for name, value in message.raw_items() if name.lower() == "subject"), None)
    if subject:
        # raw UTF-8 in the header (kept by the parser as surrogates), then encoded words (=?utf-8?q?...?=)
        subject = str(subject).encode("utf-8", "surrogateescape").decode("utf-8", "replace")
        try:
            subject = str(make_header(decode_header(subject)))
        except (LookupError, ValueError, UnicodeError, HeaderParseError):
            pass
        texts.append(("subject", " ".join(subject.split())[:MAX_BODY_TEXT]))
    for part in message.walk():
        if part.get_content_maintype() != "text" or str(part.get("content-disposition", "")).lower().startswith(
                "attachment"):
            continue
        payload = part.get_payload(decode=True)
        if not isinstance(payload, bytes):
            continue
        payload = payload[:MAX_BODY_TEXT * 4]
        charset = part.get_content_charset() or "utf-8"
        try:
            text = payload.decode(charset, "replace")
        except LookupError:  # a charset Python does not know: that part is left out
            continue
        text = text[:MAX_BODY_TEXT]
        if part.get_content_subtype() == "html":
            text = unescape(_TAG.sub(" ", text))
        # as a reader sees it: a line break, a run of spaces or a no-break space between two words is one space
        texts.append(("body", " ".join(text.split())))
    return texts
