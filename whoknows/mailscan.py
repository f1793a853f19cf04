"""Which vendor leaked my alias: read the user's mail and see who writes to each per-vendor alias.

`scan_paths` reads mbox files, Maildir folders, `.eml` files and folders of `.eml` files into plain
`MailRecord`s (no bodies: only the headers that say who sent what to whom, when, and whether it is
marketing). `attribute` then classifies every message that reached an alias: from the vendor the
alias was made for (or a company that runs it), or from someone else, which is evidence that the
vendor shared or leaked the alias. `summarise` and `monthly_counts` give per-alias and per-vendor
figures for the ledger and for `prefs --check`.

Who sent a message is its From address. Return-Path and Sender name the envelope and the sending
service (`bounces.sendgrid.net`, `amazonses.com`), which would attribute most marketing mail to a
handful of email service providers instead of the vendors that hire them; From is the identity the
vendor presents and the one DMARC aligns with its domain. (From can be forged: a spammer posing as
the vendor counts as the vendor. A foreign verdict is still evidence: the alias reached someone.)

Nothing here is fatal for one bad message: a message that cannot be used is counted in
`ScanResult.skipped` with its reason. A path that cannot be read at all is an error naming it, and
so is a file that is not mail: empty (`/dev/null`), binary, or one from which not a single message
could be read (in a Maildir or a folder of `.eml` files, bad messages are only skipped).
"""

from __future__ import annotations

import binascii
import codecs
import hashlib
import mailbox
import os
import re
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timezone
from email.parser import BytesHeaderParser
from email.utils import getaddresses, parsedate_to_datetime
from html import unescape
from pathlib import Path
from typing import NamedTuple

import ahocorasick

from .errors import InputError, WhoknowsError
from .mail_topics import classify, recipients_key, subject_key
from .sites import site_of

RECIPIENT_HEADERS = ("delivered-to", "x-original-to", "to", "cc")
MARKETING_PRECEDENCE = frozenset({"bulk", "list", "junk"})
_WANTED = frozenset({"message-id", "date", "from", "list-unsubscribe", "list-id", "precedence", "in-reply-to",
                     "references", "subject", *RECIPIENT_HEADERS})
_MESSAGE_ID = re.compile(r"<[^<>\s]+>")
_FOLDING = re.compile(r"\r?\n(?=[ \t])")
_HEADER_END = re.compile(rb"\r?\n\r?\n")
_HEAD_BYTES = 4096  # what is read of a file to tell what it is


class MailRecord(NamedTuple):
    """One message, as much of it as the ledger needs. Addresses are lowercase."""

    identity: str  # the Message-ID, or `sha256:<hex>` of the raw message when it has none
    date: datetime | None  # from the Date header, in UTC; None when missing or unparsable
    recipients: tuple[str, ...]  # Delivered-To, X-Original-To, To and Cc, in that order, once each
    sender: str  # the From address
    sender_site: str | None  # its registrable domain (None for an IP literal or a bare host)
    marketing: bool  # List-Unsubscribe, or Precedence: bulk, list or junk
    source: str  # the file, with `#key` for a message inside an mbox or Maildir
    found: tuple["ValueInMail", ...] = ()  # your values in its subject or body (`BodyWatch`), never the text
    # The messages it answers (whoknows.intent_records matches answers to intents by them):
    in_reply_to: tuple[str, ...] = ()  # the Message-IDs in In-Reply-To, `<...>` as written
    references: tuple[str, ...] = ()  # the Message-IDs in References
    listed: bool = False  # List-Id or List-Unsubscribe: sent to a mailing list the sender keeps
    # What it is about (whoknows.mail_topics.classify: from its subject, sender and list headers)
    # and how to tell a duplicate mailing; the subject itself is not kept:
    topics: tuple[str, ...] = ()
    topic_reasons: tuple[str, ...] = ()  # "offers <- subject: 'descuento'", one per signal
    subject_key: str | None = None  # mail_topics.subject_key: the sender and the subject, digested
    reached: tuple[str, ...] = ()  # mail_topics.recipients_key of each copy that reached other addresses

    def as_dict(self) -> dict:
        record = self._asdict()
        record["date"] = self.date.strftime("%Y-%m-%dT%H:%M:%SZ") if self.date else None
        for key in ("recipients", "in_reply_to", "references", "topics", "topic_reasons", "reached"):
            record[key] = list(record[key])
        record["found"] = [value._asdict() for value in self.found]
        return record


class ValueInMail(NamedTuple):
    """One of your values in a message that reached an alias: which (the scanner's value id), how
    encoded, and where (`subject` or `body`). The text around it is not kept."""

    kind: str
    value_id: object
    encoding: str
    form: str
    place: str


class Skipped(NamedTuple):
    source: str
    reason: str


@dataclass
class ScanResult:
    messages: list[MailRecord] = field(default_factory=list)
    skipped: list[Skipped] = field(default_factory=list)
    undated: int = 0  # messages kept without a usable Date
    duplicates: int = 0  # messages seen again (same identity) and counted once


# -- reading -----------------------------------------------------------------------------------


def scan_paths(paths: Iterable[str | os.PathLike], watch: "BodyWatch | None" = None) -> ScanResult:
    """Read every message under `paths` (mbox files, Maildirs, `.eml` files, folders of them).

    A path that does not exist or cannot be read raises (InputError / WhoknowsError) before any
    message is read, naming it. Messages are identified by Message-ID (or a hash of their bytes)
    and counted once however many times they appear. With `watch`, the subject and body of each
    message that reached an alias are searched for your values (`MailRecord.found`).
    """
    sources = [(Path(path), _open_source(Path(path))) for path in paths]
    result = ScanResult()
    seen: dict[str, int] = {}  # identity -> its place in result.messages
    for path, source in sources:
        read_before, skipped_before = len(result.messages) + result.duplicates, len(result.skipped)
        for where, raw in source:
            _take(result, seen, where, raw, watch)
        if path.is_dir() or len(result.messages) + result.duplicates > read_before:
            continue
        skipped = result.skipped[skipped_before:]
        why = f"{len(skipped)} message(s), none readable (the first: {skipped[0].reason})" if skipped else "no message"
        raise InputError(f"{path} is not mail: {why}")
    return result


def _take(result: ScanResult, seen: dict[str, int], where: str, raw: bytes | Exception,
          watch: "BodyWatch | None" = None) -> None:
    if isinstance(raw, Exception):
        result.skipped.append(Skipped(where, f"unreadable: {raw}"))
        return
    try:
        record, undated, headers = _read(raw, where)
    except MalformedMessage as exc:
        result.skipped.append(Skipped(where, str(exc)))
        return
    if record.identity in seen:
        result.duplicates += 1
        _another_copy(result, seen[record.identity], record)
        return
    seen[record.identity] = len(result.messages)
    result.undated += undated
    if watch is not None:
        record = record._replace(found=watch.values_in(record, raw, headers))
    result.messages.append(record)


def _another_copy(result: ScanResult, place: int, copy: MailRecord) -> None:
    """The same message (same Message-ID) again: the same copy kept twice (in two folders, in an
    mbox and as .eml) adds nothing; a copy that reached other addresses of yours adds them, and
    its delivery, which `prefs --check` reports as a duplicate mailing."""
    kept = result.messages[place]
    if copy.reached[0] in kept.reached:
        return
    recipients = tuple(dict.fromkeys(kept.recipients + copy.recipients))
    result.messages[place] = kept._replace(recipients=recipients, reached=kept.reached + copy.reached)


def _open_source(path: Path) -> Iterator[tuple[str, bytes | Exception]]:
    """Check `path` now (so a bad path fails before any work) and return its messages, lazily."""
    try:
        if not path.exists():
            raise InputError(f"{path}: no such file or directory")
        if path.is_dir():
            if (path / "cur").is_dir() and (path / "new").is_dir():
                return _maildir_messages(mailbox.Maildir(path, factory=None, create=False), str(path))
            emls = sorted(p for p in path.rglob("*") if p.suffix.lower() == ".eml" and p.is_file())
            if not emls:
                raise InputError(f"{path} is neither a Maildir nor a folder with .eml files")
            return _eml_messages(emls)
        with path.open("rb") as handle:
            head = handle.read(_HEAD_BYTES)
    except PermissionError:
        raise WhoknowsError(f"cannot read {path}: permission denied") from None
    except OSError as exc:
        raise WhoknowsError(f"cannot read {path}: {exc.strerror or exc}") from None
    if not head:
        raise InputError(f"{path} is empty: not mail (an mbox file, a Maildir, .eml files or a folder of them)")
    if head.startswith(b"From ") and path.suffix.lower() != ".eml":
        return _mbox_messages(path)  # its bad messages are skipped one by one
    if b"\x00" in head:  # refused before a big binary file is read whole as one message
        raise InputError(f"{path} is binary data, not mail (an mbox file, a Maildir, .eml files or a folder of them)")
    return _eml_messages([path])


def _eml_messages(files: list[Path]) -> Iterator[tuple[str, bytes | Exception]]:
    for file in files:
        try:
            yield str(file), file.read_bytes()
        except OSError as exc:
            yield str(file), exc


def _mbox_messages(path: Path) -> Iterator[tuple[str, bytes | Exception]]:
    box = mailbox.mbox(path, factory=None, create=False)
    try:
        for key in box.iterkeys():
            try:
                yield f"{path}#{key}", box.get_bytes(key)
            except (OSError, KeyError) as exc:
                yield f"{path}#{key}", exc
    finally:
        box.close()


def _maildir_messages(box: mailbox.Maildir, name: str) -> Iterator[tuple[str, bytes | Exception]]:
    try:
        keys = list(box.iterkeys())
        folders = box.list_folders()  # Maildir++ subfolders (.Archive, .Sent...)
    except OSError as exc:
        raise WhoknowsError(f"cannot read the Maildir {name}: {exc.strerror or exc}") from None
    for key in keys:
        try:
            yield f"{name}#{key}", box.get_bytes(key)
        except (OSError, KeyError) as exc:  # the mail client moved it while we were reading
            yield f"{name}#{key}", exc
    for folder in folders:
        yield from _maildir_messages(box.get_folder(folder), f"{name}/.{folder}")


# -- one message -------------------------------------------------------------------------------


class MalformedMessage(ValueError):
    """A message that cannot be used; its message is the reason shown to the user."""


# The legacy (compat32) parser: with `policy.default` the parser itself parsed each Content-Type
# into objects (bench/bench_mailscan.py); the header values kept are the raw ones either way.
_PARSER = BytesHeaderParser()


def read_message(raw: bytes, source: str = "") -> tuple[MailRecord, bool]:
    """The record of one raw message, and whether its date was missing or unparsable.

    Only the header block is parsed (bodies are never needed). Raises MalformedMessage when the
    message has no header at all, no usable From address or no recipient address.
    """
    record, undated, _ = _read(raw, source)
    return record, undated


def _read(raw: bytes, source: str):
    """`read_message`, and the parsed header block (which `BodyWatch` reuses for the subject)."""
    if not raw.strip():
        raise MalformedMessage("empty message")
    end = _HEADER_END.search(raw)
    headers = _PARSER.parsebytes(raw[: end.end()] if end else raw)
    fields: dict[str, list[str]] = {}
    for name, value in headers.raw_items():
        key = name.lower()
        if key in _WANTED:
            fields.setdefault(key, []).append(_FOLDING.sub("", str(value)).strip())
    if not len(headers):
        raise MalformedMessage("no mail headers (not an email message)")
    senders = _addresses(fields.get("from", []))
    if not senders:
        raise MalformedMessage("no usable From address")
    recipients = tuple(dict.fromkeys(
        address for name in RECIPIENT_HEADERS for address in _addresses(fields.get(name, []))
    ))
    if not recipients:
        raise MalformedMessage("no recipient address (Delivered-To, X-Original-To, To or Cc)")
    date = _date(fields.get("date", [None])[0])
    sender = senders[0]
    identity = _identity(fields.get("message-id", []), raw)
    subject = _subject(fields.get("subject", [None])[0])
    topics = classify(subject, sender, list_id=bool(fields.get("list-id")),
                      list_unsubscribe=bool(fields.get("list-unsubscribe")),
                      precedence=(fields.get("precedence") or [None])[0])
    key = subject_key(sender, subject)
    record = MailRecord(
        identity=identity,
        date=date,
        recipients=recipients,
        sender=sender,
        sender_site=site_of(sender.rpartition("@")[2]),
        marketing=_is_marketing(fields),
        source=source,
        in_reply_to=_message_ids(fields.get("in-reply-to", [])),
        references=_message_ids(fields.get("references", [])),
        listed=bool(fields.get("list-id") or fields.get("list-unsubscribe")),
        topics=topics.topics,
        topic_reasons=topics.reasons,
        subject_key=key,
        reached=(recipients_key(recipients, key or identity),),
    )
    return record, date is None, headers


def _subject(value: str | None) -> str | None:
    """The Subject as a reader sees it: raw UTF-8 (kept by the parser as surrogates), then encoded
    words (`=?utf-8?q?...?=`) decoded; one that cannot be decoded stays as written. Decoded by hand,
    not through the parsed header object, which costs a tenth of a scan (bench/bench_mailscan.py)."""
    if value is None:
        return None
    value = value.encode("utf-8", "surrogateescape").decode("utf-8", "replace")
    if "=?" in value:
        from email.errors import HeaderParseError
        from email.header import decode_header, make_header

        try:
            value = str(make_header(decode_header(value)))
        except (LookupError, ValueError, UnicodeError, HeaderParseError):
            pass
    return value


def _addresses(values: list[str]) -> list[str]:
    """The addresses in header values, lowercased; ones that are not valid UTF-8 are left out."""
    out = []
    for _, address in getaddresses(values):
        if "@" not in address:
            continue
        try:  # the parser keeps undecodable bytes as surrogates: the sender wrote broken UTF-8
            address = address.encode("utf-8", "surrogateescape").decode("utf-8")
        except UnicodeError:
            continue
        out.append(address.strip().lower())
    return out


def _message_ids(values: list[str]) -> tuple[str, ...]:
    """The `<...>` Message-IDs in header values, in order, once each."""
    return tuple(dict.fromkeys(found for value in values for found in _MESSAGE_ID.findall(value)))


def _identity(message_ids: list[str], raw: bytes) -> str:
    for value in message_ids:
        value = " ".join(value.split())
        if value and value.isascii():
            return value
    # Line endings differ between an mbox (LF) and an exported .eml (CRLF) of the same message.
    return "sha256:" + hashlib.sha256(raw.replace(b"\r\n", b"\n")).hexdigest()


def _date(value: str | None) -> datetime | None:
    if not value:
        return None
    try:
        moment = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError, OverflowError):
        return None
    if moment.tzinfo is None:  # `-0000`: the sender does not say its zone; RFC 5322 means UTC
        return moment.replace(tzinfo=timezone.utc)
    return moment.astimezone(timezone.utc)


def _is_marketing(fields: Mapping[str, list[str]]) -> bool:
    if fields.get("list-unsubscribe"):
        return True
    return any(value.lower() in MARKETING_PRECEDENCE for value in fields.get("precedence", []))


# -- your values in what a vendor writes to you -------------------------------------------------

MAX_BODY_TEXT = 1024 * 1024  # of each text part, searched; a newsletter is far smaller
_BODY_WINDOW = 64 * 1024
_BODY_OVERLAP = 256  # windows overlap by the longest pattern
_TAG = re.compile(r"<[^>]*>")
# A phone written for people to read in a newsletter ("600 111 222", "+34 (600) 111-222"): also
# searched compacted, as the leak scanner knows phones in the forms trackers send.
_PHONE_RUN = re.compile(r"(?<![\w+])\+?[\d(][\d ()./-]{5,}\d(?!\w)")
_PHONE_MARKS = re.compile(r"[\s()./-]")


class BodyWatch:
    """Searches the subject and text of each message that reached one of `aliases` (and was not
    sent from one) for the values `scanner` (a `leakscan.LeakScanner`) watches.

    A newsletter that greets you by a name or shows an address you never gave the vendor is
    evidence of what it holds. Text parts (plain and HTML, decoded from their transfer encoding and
    charset; HTML tags dropped and entities undone; white space collapsed) are searched, the first
    `MAX_BODY_TEXT` of each;
    nothing of the text is kept, only which value was found, how and where.

    Most mail holds none of your values, and parsing every message's MIME tree cost as much as
    the rest of the scan (bench/bench_mailscan.py). So each message is first looked at cheaply
    (`_RawLook`): the letters and digits of its raw bytes (as sent, and with tags and entities
    undone, and quoted-printable decoded) are searched for the letters and digits of every
    pattern; only a message where one shows is parsed and searched as above. Base64 parts are
    decoded for that look (`_base64_texts`: the email package's own decoder, on each part's body
    found by its declared boundaries), not searched as written. A message whose text its raw
    bytes can hide otherwise (uuencoded parts, a charset that does not write ASCII as ASCII
    bytes, base64 parts it cannot tell apart without parsing) is always parsed."""

    def __init__(self, scanner, aliases: Iterable[str]):
        self.scanner = scanner
        self.aliases = frozenset(address.lower() for address in aliases)
        self._look = _RawLook(scanner) if scanner is not None and scanner.pattern_count else None

    def values_in(self, record: MailRecord, raw: bytes, headers=None) -> tuple[ValueInMail, ...]:
        """Your values in this message (`headers`: its header block as `read_message` parsed it)."""
        if self.scanner is None or not self.scanner.pattern_count or record.sender in self.aliases:
            return ()
        if not any(recipient in self.aliases for recipient in record.recipients):
            return ()
        if headers is None:
            end = _HEADER_END.search(raw)
            headers = _PARSER.parsebytes(raw[: end.end()] if end else raw)
        subject = next((value for name, value in headers.raw_items() if name.lower() == "subject"), None)
        if not self._look.may_hold(raw, _subject_text(subject) if subject else ""):
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


# Letters and digits, lowercased; everything else deleted (bytes: non-ASCII bytes too).
_ALNUM = bytes(ord(chr(c).lower()) if (chr(c).isascii() and chr(c).isalnum()) else 0 for c in range(256))
_NOT_ALNUM = bytes(c for c in range(256) if not (chr(c).isascii() and chr(c).isalnum()))
# Where the raw bytes may not show the text: a transfer encoding other than quoted-printable and
# base64 (both decoded here) that hides it, a charset given in RFC 2231 form, the Kelvin sign (which lowercases to an ASCII `k`).
_KELVIN = "\u212a".encode()
_HIDING = (b"uue", b"charset*", b"charset *", _KELVIN)  # looked for lowercased
_CHARSET = re.compile(rb'charset\s*(\*?)\s*=\s*"?([^\s";]*)')
# Charsets that write ASCII letters and digits as those bytes and every other character with
# bytes >= 0x80 only (so a value's letters and digits are its bytes' letters and digits, in order).
_PLAIN_CHARSETS = frozenset({"ascii", "utf-8", "latin-1", "koi8-r", "koi8-u",
                             *(f"iso8859-{n}" for n in range(1, 17)), *(f"cp125{n}" for n in range(9))})
# The email parser's header line (email.feedparser.headerRE): a part's text starts at the first line that is not one.
_HEADER_LINE = re.compile(rb"From |[\041-\071\073-\176]*:|[\t ]")
_DELIMITER = re.compile(rb"\n--")
_TAG_BYTES = re.compile(rb"<[^>]*>")


class _RawLook:
    """Whether a raw message may hold one of the scanner's patterns, without parsing it.

    Sound, never exact: a match in the text `message_texts` makes is a run of the pattern's
    characters; dropping every character that is not an ASCII letter or digit from both, the
    pattern's letters and digits (its key) are consecutive in what is left of that text, and so in
    what is left of the raw bytes, because every step from the bytes to the text only removes or
    changes characters that are not ASCII letters or digits, except four, undone here on copies:
    HTML tags (removed, which splits the bytes where each part's text starts so that a tag cannot
    reach into it), entities (`&#97;` is `a`), quoted-printable escapes, base64 bodies (decoded, and
    removed from the raw bytes: their text is never searched as written) and the `(0)` dropped from
    a phone number. Other transfer encodings and charsets that hide ASCII are not looked into
    (`_HIDING`, `_PLAIN_CHARSETS`): those messages are always parsed."""

    def __init__(self, scanner):
        keys = {pattern.encode("utf-8", "surrogatepass").translate(None, _NOT_ALNUM).decode("ascii")
                for pattern in scanner.folded_patterns()}
        self.always = "" in keys  # a pattern without an ASCII letter or digit: no key to look for
        self.automaton = ahocorasick.Automaton()
        for key in keys - {""}:
            self.automaton.add_word(key, None)
        if len(self.automaton):
            self.automaton.make_automaton()

    def may_hold(self, raw: bytes, subject: str) -> bool:
        lowered = raw.lower()
        if self.always or "\u212a" in subject or any(mark in lowered for mark in _HIDING):
            return True
        for star, charset in _CHARSET.findall(lowered):
            if star:  # RFC 2231
                return True
            try:
                name = codecs.lookup(charset.decode("ascii")).name
            except (LookupError, UnicodeError, ValueError):
                return True
            if name not in _PLAIN_CHARSETS:
                return True
        raw = raw.replace(b"\r\n", b"\n").replace(b"\r", b"\n")  # as the email parser reads it
        readings = [subject.encode("utf-8", "surrogatepass"), raw]
        if b"base64" in lowered:
            parts = _base64_texts(raw)
            if parts is None or any(_KELVIN in text for text in parts[0]):
                return True
            # the raw bytes without the base64 bodies (never searched as written), then their texts
            readings[1] = raw = parts[1]
            readings += parts[0]
        if b"quoted-printable" in lowered:
            decoded = binascii.a2b_qp(raw)
            if _KELVIN in decoded:
                return True
            readings.append(decoded)
        for reading in readings[1:]:
            if b"<" not in reading and b"&" not in reading:
                continue  # no tag nor entity: the same letters and digits
            html = _html_text(reading)
            if html is None:
                return True
            readings.append(html)
        keys = []
        for reading in readings:
            if b"(0)" in reading:
                keys.append(reading.replace(b"(0)", b"").translate(_ALNUM, _NOT_ALNUM))
            keys.append(reading.translate(_ALNUM, _NOT_ALNUM))
        text = b"|".join(keys).decode("ascii")
        return next(self.automaton.iter(text), None) is not None


_MULTIPART = re.compile(rb"^content-type:[ \t]*multipart/[^\n]*(?:\n[ \t][^\n]*)*", re.I | re.M)
_BOUNDARY = re.compile(rb'boundary\s*=\s*"?([^"\s;]+)', re.I)
_NOT_TEXT = re.compile(rb"^content-type:[ \t]*(?:image|audio|video|application|font|model)/", re.I | re.M)


def _base64_texts(raw: bytes) -> tuple[list[bytes], bytes] | None:
    """The decoded body of every text part whose headers say base64, without parsing the message,
    and the message without the bodies of its base64 parts; the texts as `message_texts` decodes them (the email package's own `decode_b`, on the same bytes: a part's
    body runs from its headers to the next line that is a boundary the message declares); None
    where the parts cannot be told apart so (`base64` in a text rather than a part's headers, a
    base64 body followed by a line starting with `--` that is no declared boundary)."""
    from email._encoded_words import decode_b

    boundaries = {b for header in _MULTIPART.findall(raw) for b in _BOUNDARY.findall(header)}

    def is_boundary(chunk: bytes) -> bool:  # a chunk of `_DELIMITER.split` starts after `--`
        return chunk.split(b"\n", 1)[0].rstrip(b" \t").removesuffix(b"--") in boundaries

    chunks = _DELIMITER.split(raw)
    decoded, kept = [], list(chunks)
    for n, chunk in enumerate(chunks):
        if n and not is_boundary(chunk):
            if b"base64" in chunk.lower():
                return None
            continue
        lines = chunk.split(b"\n")
        body = 1 if n else 0
        while body < len(lines) and _HEADER_LINE.match(lines[body]):
            body += 1
        head, text = b"\n".join(lines[:body]).lower(), b"\n".join(lines[body:])
        if b"base64" in text.lower():
            return None  # a nested message's headers, or a word in a text
        if b"base64" not in head:
            continue
        if n + 1 < len(chunks) and not is_boundary(chunks[n + 1]):
            return None  # the parser's body of this part goes on past that line
        kept[n] = b"\n".join(lines[:body])
        if len(_NOT_TEXT.findall(head)) == 1 and head.count(b"content-type") == 1:
            continue  # an image, a PDF...: message_texts leaves it out
        decoded.append(decode_b(b"".join(text.splitlines()))[0])
    return decoded, b"\n--".join(kept)


def _html_text(raw: bytes) -> bytes | None:
    """`raw` with tags replaced by a space and entities undone, as `message_texts` treats an HTML
    part, each piece that may start a part's text on its own; None when a tag may span pieces
    (or the text holds a Kelvin sign)."""
    pieces = []
    for n, chunk in enumerate(_DELIMITER.split(raw)):
        # the message's or a part's header lines (after the rest of the delimiter line), then its text
        lines = chunk.split(b"\n")
        body = 1 if n else 0
        while body < len(lines) and _HEADER_LINE.match(lines[body]):
            body += 1
        pieces += [b"\n".join(lines[:body]), b"\n".join(lines[body:])]
    out = []
    for piece in pieces:
        piece = _TAG_BYTES.sub(b" ", piece)
        if b"<" in piece:  # an unclosed tag, closed in a later piece
            return None
        if b"&" in piece:
            text = unescape(piece.decode("latin-1"))
            if "\u212a" in text:
                return None
            piece = text.encode("utf-8", "surrogatepass")
        out.append(piece)
    return b"\n".join(out)


def _subject_text(subject) -> str:
    """The Subject as `message_texts` searches it: decoded (raw UTF-8, then encoded words)."""
    from email.errors import HeaderParseError
    from email.header import decode_header, make_header

    # raw UTF-8 in the header (kept by the parser as surrogates), then encoded words (=?utf-8?q?...?=)
    subject = str(subject).encode("utf-8", "surrogateescape").decode("utf-8", "replace")
    try:
        subject = str(make_header(decode_header(subject)))
    except (LookupError, ValueError, UnicodeError, HeaderParseError):
        pass
    return " ".join(subject.split())[:MAX_BODY_TEXT]


def message_texts(raw: bytes) -> list[tuple[str, str]]:
    """(`subject`, text) and (`body`, text) of each text part of a raw message, decoded; a part
    that cannot be decoded is left out (the rest is still searched).

    Parsed with the stdlib's legacy (compat32) message API: the modern one parses every header it
    is asked about into objects, which made a scan ten times slower (bench/bench_mailscan.py)."""
    from email.parser import BytesParser

    try:
        message = BytesParser().parsebytes(raw)
    except Exception:  # the stdlib parser is lenient; anything it raises means: no text to search
        return []
    texts = []
    subject = next((value for name, value in message.raw_items() if name.lower() == "subject"), None)
    if subject:
        texts.append(("subject", _subject_text(subject)))
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


# -- attribution -------------------------------------------------------------------------------

VERDICTS = ("vendor", "foreign", "unknown")


class AliasHit(NamedTuple):
    """A message delivered to one of the user's aliases, and who sent it."""

    identity: str
    alias: str
    vendor: str  # the vendor the alias was made for
    sender: str  # the From address
    sender_site: str | None
    verdict: str  # vendor | foreign | unknown (the sender has no registrable domain)
    date: datetime | None
    marketing: bool


class AliasSummary(NamedTuple):
    alias: str
    vendor: str
    messages: int
    vendor_messages: int
    foreign_messages: int
    foreign_senders: tuple[str, ...]  # registrable domains, sorted
    first_foreign: datetime | None  # the earliest dated foreign message: when the leak shows


class VendorMonth(NamedTuple):
    vendor: str
    month: str  # YYYY-MM, in UTC
    messages: int
    marketing: int


def _exact(a: str, b: str) -> bool:
    return a == b


def attribute(
    messages: Iterable[MailRecord],
    aliases: Mapping[str, str],
    same_company: Callable[[str, str], bool] = _exact,
) -> list[AliasHit]:
    """Classify each (message, alias it reached).

    `aliases`: alias address -> the vendor's registrable domain. `same_company(vendor, site)`
    says whether a site belongs to the vendor's company (the company directory's answer; by
    default only the vendor's own domain). A message from the vendor's site or its company is
    `vendor`; from anyone else it is `foreign`: the alias got out. Mail the user sent from an
    alias (From is one of the aliases) is the user's own and is left out.
    """
    lookup = {address.lower(): vendor for address, vendor in aliases.items()}
    hits = []
    for message in messages:
        if message.sender in lookup:
            continue
        for recipient in message.recipients:
            vendor = lookup.get(recipient)
            if vendor is None:
                continue
            hits.append(AliasHit(
                message.identity, recipient, vendor, message.sender, message.sender_site,
                _verdict(vendor, message.sender_site, same_company), message.date, message.marketing,
            ))
    return hits


def _verdict(vendor: str, site: str | None, same_company: Callable[[str, str], bool]) -> str:
    if site is None:
        return "unknown"
    if site == vendor or same_company(vendor, site):
        return "vendor"
    return "foreign"


def summarise(hits: Iterable[AliasHit], aliases: Mapping[str, str]) -> list[AliasSummary]:
    """One summary per alias in `aliases` (those no message reached included), sorted by address."""
    by_alias: dict[str, list[AliasHit]] = {address.lower(): [] for address in aliases}
    for hit in hits:
        by_alias.setdefault(hit.alias, []).append(hit)
    vendors = {address.lower(): vendor for address, vendor in aliases.items()}
    out = []
    for alias in sorted(by_alias):
        alias_hits = by_alias[alias]
        foreign = [h for h in alias_hits if h.verdict == "foreign"]
        dated = [h.date for h in foreign if h.date is not None]
        out.append(AliasSummary(
            alias=alias,
            vendor=vendors.get(alias, alias_hits[0].vendor if alias_hits else ""),
            messages=len(alias_hits),
            vendor_messages=sum(1 for h in alias_hits if h.verdict == "vendor"),
            foreign_messages=len(foreign),
            foreign_senders=tuple(sorted({h.sender_site for h in foreign if h.sender_site})),
            first_foreign=min(dated) if dated else None,
        ))
    return out


def monthly_counts(messages: Iterable[MailRecord], hits: Iterable[AliasHit] = ()) -> list[VendorMonth]:
    """Messages and marketing messages per vendor per month (UTC), for `prefs --check`.

    A message counts for the vendor whose alias it reached when that vendor sent it (so mail from
    `news.vendor.example` or a sister brand counts for the vendor the user knows), otherwise for
    its sender's site. Undated messages and senders without a site are not counted.
    """
    vendor_of: dict[str, str] = {}
    for hit in hits:
        if hit.verdict == "vendor":
            vendor_of.setdefault(hit.identity, hit.vendor)
    counts: dict[tuple[str, str], list[int]] = {}
    for message in messages:
        vendor = vendor_of.get(message.identity, message.sender_site)
        if vendor is None or message.date is None:
            continue
        tally = counts.setdefault((vendor, message.date.strftime("%Y-%m")), [0, 0])
        tally[0] += 1
        tally[1] += message.marketing
    return [VendorMonth(vendor, month, n, m) for (vendor, month), (n, m) in sorted(counts.items())]


__all__ = [
    "AliasHit", "AliasSummary", "BodyWatch", "MAX_BODY_TEXT", "MailRecord", "MalformedMessage", "ScanResult",
    "Skipped", "VERDICTS", "ValueInMail", "VendorMonth", "attribute", "message_texts", "monthly_counts",
    "read_message", "scan_paths", "summarise",
]
