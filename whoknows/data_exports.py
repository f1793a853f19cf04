"""Read what a vendor hands back (a data export) and say what it holds: the user's own values and
the categories of data, each with the file and the field where it was found.

`read_export(path, values)` reads a ZIP (members streamed, nested ZIPs followed to a bounded depth),
a directory, or a single JSON, CSV, HTML, XML or text file. `values` are what `LeakScanner` takes:
(kind, value, value_id) triples (`me.watched_values` gives them, with `ValueRef`s as ids), so the
user's values and aliases are found in every encoding the leak scanner knows (typed, other case,
percent-encoded, base64, MD5/SHA-1/SHA-256 of the normalised forms). The result keeps no copy of
the export: findings name a file, a field and (for values) the value's id and encoding; shapes
(IP, IBAN, card numbers) carry a masked sample only.

Where a finding is:
- `file`: the path inside the export; a member of a nested ZIP is `inner.zip!orders.json`
  (`a.zip!inner.zip!orders.json` two levels down). A single-file export is its file name.
- `field`: a JSON path (`orders[3].shipping.phone`), a CSV column name, an HTML or XML element path
  (`html/body/table/tr/td`, `@value` for an attribute), or `line N` in a text file.
Findings are counted per generic field (`orders[].shipping.phone`): `field` is the first place,
`count` how many times it occurred, so a value in each of 10,000 orders is one finding.

Exports are untrusted files (`Limits`):
- nothing is extracted to disk: members are read as streams (a nested ZIP in memory, capped);
- member names that climb out (`../x`, `/etc/x`, `C:\\x`, a NUL) are refused and listed as skipped;
  so are symbolic links in a directory, encrypted and binary members (images, PDFs...);
- the total and per-member uncompressed sizes and the compression ratio are capped: a ZIP bomb
  (declared sizes or a ratio past the limits) raises `ExportError` before anything is inflated,
  and a member that turns out longer than it claimed is cut off and skipped;
- any text encoding reads: BOMs (UTF-8, UTF-16, UTF-32), UTF-16 without one, otherwise UTF-8 or
  else Windows-1252; undecodable bytes become U+FFFD instead of failing;
- nothing is executed or rendered: HTML is read with the stdlib `html.parser` (text and attribute
  values only), XML with `defusedxml` (entity declarations and external references refused);
- a malformed member is counted in `skipped` with its reason (whatever was read before the error
  counts) and the rest of the export is read.

Categories come from a small table of field-name keywords in English, Spanish and German
(`CATEGORY_KEYWORDS`, matched on the words of a key: `shippingPhone`, `fecha_nacimiento`) and from
value shapes (`SHAPES`: IPv4/IPv6, email addresses, IBANs and card numbers with valid checksums,
latitude/longitude pairs). Dates alone are not a category (every order has one): a birthday is
found by its field name, or as the user's own `birthday` value.

Value shapes are looked for in the first `SHAPE_SAMPLE` values of each generic field of a JSON,
CSV or XML file (a field of IP addresses shows it in its first records; checking every value with
six regexes cost more than all the rest), and in the first `SHAPE_TEXT_BYTES` of a text or HTML
file. So a shape that only appears after a field's first 64 values is not reported.

Matching reuses `whoknows.leakscan`: the texts of many fields are searched in one pass of its
automaton, each field as its own segment (so a match names its field and cannot span two fields).
Fields shorter than the shortest pattern are not searched.

Speed and memory (bench/bench_data_exports.py). The readers of each kind of file hand every field
to the search, one Python call each (~10 MB/s). JSON and CSV files, the bulk of real exports, are
read by fast readers instead (`_read_json_fast`, `_read_csv_fast`): the decoded text is searched
whole, a window at a time, with the automaton (`LeakScanner.possible_starts`, at C speed), and only
the fields of a record (a JSON value decoded whole by Python's C json, a CSV line) where it found
something are searched; the other records only give field names (JSON objects with the same keys
at the same place are counted by their keys once) and the first values of each field (shapes).
They find exactly what the event-by-event readers find (tests/test_data_exports_equivalence.py compares them
with the code before them): wherever a file holds something they cannot read that exactly (a
malformed file, duplicate JSON keys, numbers or escapes yajl reads differently, a capital sigma,
a CSV with lone carriage returns...), they give the file back and it is read again event by event.
Memory stays flat: a window of text (1 MB, more for a longer single value) and its decoded records.
HTML, XML and text files are searched whole first too (`_may_hold_values`): one where nothing can
be found is read for its categories only (the same parser, field names and shapes, no search); one
with a possible value is read as before (tests/test_data_exports_equivalence.py compares both).
Findings come in the same order as before only file by file: within a file the fast readers find
values in another order (`values` and `categories` are best read as sets).
"""

from __future__ import annotations

import codecs
import collections
import contextlib
import csv
import io
import ipaddress
import json
import json.decoder
import json.scanner
import operator
import os
import re
import stat
import unicodedata
import zipfile
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from html.parser import HTMLParser
from pathlib import Path, PurePosixPath
from typing import NamedTuple

from .errors import InputError
from .leakscan import DEFAULT_MAX_TEXT, LeakScanner

__all__ = [
    "CATEGORY_KEYWORDS", "CategoryFound", "ExportError", "ExportReading", "Limits", "SHAPES", "Skipped",
    "ValueFound", "category_of_field", "read_export",
]


class ExportError(InputError):
    """The export as a whole cannot be read safely (a ZIP bomb, past the size limits, not a ZIP)."""


class Limits(NamedTuple):
    """What an export may cost. Sizes are uncompressed bytes."""

    max_total: int = 8 * 1024**3  # all members together, nested ZIPs included
    max_member: int = 2 * 1024**3  # one member (streamed: this bounds time, not memory)
    max_nested_zip: int = 64 * 1024**2  # a ZIP inside a ZIP is read into memory: this bounds memory
    max_ratio: int = 200  # uncompressed / compressed, for members past `ratio_floor`
    ratio_floor: int = 1024**2  # small members may compress better (a file of spaces) harmlessly
    max_depth: int = 3  # ZIPs inside ZIPs followed this deep
    max_members: int = 100_000


class ValueFound(NamedTuple):
    """One of the user's values in the export. `value_id` is the id given with the value (a
    `ValueRef`: kind and masked reference, never the value); `encoding`/`form` as in leakscan."""

    file: str
    field: str
    kind: str
    value_id: object
    encoding: str
    form: str
    count: int


class CategoryFound(NamedTuple):
    """A category of data the export holds. `evidence` is `field name` or `value: <shape>`;
    `sample` is a masked example for value shapes (`ES91…1332`), None for field names."""

    category: str
    file: str
    field: str
    evidence: str
    sample: str | None
    count: int


class Skipped(NamedTuple):
    file: str
    reason: str


@dataclass
class ExportReading:
    values: list[ValueFound] = field(default_factory=list)
    categories: list[CategoryFound] = field(default_factory=list)
    skipped: list[Skipped] = field(default_factory=list)
    files_read: int = 0  # files read to their end (JSON, CSV...; archives are not counted)
    bytes_read: int = 0  # uncompressed bytes of the members read

    def categories_held(self) -> list[str]:
        return sorted({c.category for c in self.categories})


# -- categories ----------------------------------------------------------------------------------

# Words of field names (lowercase, accents dropped), by category, in priority order: a key is given
# the first category one of whose keywords it contains as whole words (`ip_address` is an IP address,
# `email_address` contact data, `billing_address` a postal address). Multi-word keywords match
# consecutive words. EN, ES, DE.
CATEGORY_KEYWORDS: dict[str, tuple[str, ...]] = {
    "ip-address": ("ip", "ip address", "ipaddress", "ipv4", "ipv6", "remote addr", "client ip", "direccion ip",
                   "ip adresse", "ipadresse"),
    "device-id": ("device", "device id", "deviceid", "idfa", "idfv", "gaid", "aaid", "advertising id",
                  "advertisingid", "ad id", "adid", "android id", "user agent", "useragent", "imei", "udid",
                  "fingerprint", "cookie id", "dispositivo", "identificador publicidad", "gerat", "gerate id",
                  "werbe id"),
    "location": ("location", "geo", "geolocation", "lat", "latitude", "lng", "lon", "long", "longitude",
                 "coordinates", "gps", "ubicacion", "localizacion", "coordenadas", "latitud", "longitud",
                 "standort", "breitengrad", "langengrad", "koordinaten"),
    "birthday": ("birthday", "birthdate", "birth date", "date of birth", "dob", "birth", "age", "fecha nacimiento",
                 "fecha de nacimiento", "nacimiento", "cumpleanos", "edad", "geburtsdatum", "geburtstag", "alter"),
    "contact": ("email", "e mail", "mail", "phone", "telephone", "tel", "mobile", "cell", "fax", "contact",
                "correo", "correo electronico", "telefono", "movil", "celular", "contacto", "telefon",
                "handy", "rufnummer", "kontakt"),
    "postal-address": ("address", "street", "city", "zip", "zipcode", "postcode", "postal code", "postal",
                       "country", "province", "region", "county", "direccion", "domicilio", "calle",
                       "ciudad", "codigo postal", "cp", "provincia", "localidad", "pais", "adresse",
                       "anschrift", "strasse", "plz", "ort", "postleitzahl", "stadt", "land", "hausnummer"),
    "payment": ("payment", "card", "card number", "iban", "bic", "swift", "billing", "bank", "account number",
                "last4", "cvv", "expiry", "pago", "tarjeta", "cuenta", "banco", "facturacion", "zahlung",
                "zahlungsart", "karte", "kreditkarte", "konto", "kontonummer", "bankverbindung"),
    "interests": ("interest", "interests", "segment", "segments", "audience", "audiences", "affinity",
                  "inferred", "persona", "lookalike", "propensity", "preferences", "interes", "intereses",
                  "segmento", "segmentos", "afinidad", "audiencia", "interessen", "zielgruppe", "segmente"),
    "recipients": ("recipient", "recipients", "shared with", "third party", "third parties", "partner",
                   "partners", "processor", "processors", "disclosed to", "destinatario", "destinatarios",
                   "cesion", "cesiones", "compartido con", "terceros", "empfanger", "dritte",
                   "weitergegeben an", "auftragsverarbeiter"),
    "order-history": ("order", "orders", "purchase", "purchases", "transaction", "transactions", "invoice",
                      "cart", "basket", "sku", "shipment", "pedido", "pedidos", "compra", "compras",
                      "factura", "carrito", "envio", "bestellung", "bestellungen", "kauf", "rechnung",
                      "warenkorb", "lieferung"),
    "identity": ("first name", "firstname", "last name", "lastname", "full name", "fullname", "surname",
                 "given name", "family name", "username", "user name", "nombre completo", "apellido",
                 "apellidos", "nombre de usuario", "vorname", "nachname", "benutzername", "gender", "sexo",
                 "genero", "geschlecht", "nationality", "nacionalidad"),
}
_WORD_SPLIT = re.compile(r"[A-Z]?[a-z]+|[A-Z]+(?![a-z])|\d+")
# keyword (its words) -> the rank of the first category that lists it; the lengths keywords have
_KEYWORD_RANK: dict[tuple[str, ...], int] = {}
for _rank, _keys in enumerate(CATEGORY_KEYWORDS.values()):
    for _key in _keys:
        _KEYWORD_RANK.setdefault(tuple(_key.split()), _rank)
_CATEGORY_NAMES = tuple(CATEGORY_KEYWORDS)
_KEYWORD_LENGTHS = tuple(sorted({len(k) for k in _KEYWORD_RANK}))
_category_cache: dict[str, str | None] = {}


def _words(name: str) -> tuple[str, ...]:
    plain = unicodedata.normalize("NFKD", name)
    plain = "".join(c for c in plain if not unicodedata.combining(c)).replace("ß", "ss")
    return tuple(w.lower() for w in _WORD_SPLIT.findall(plain))


def category_of_field(name: str) -> str | None:
    """The category a field named `name` holds (`shippingPhone` -> contact), or None."""
    if name in _category_cache:
        return _category_cache[name]
    words = _words(name[:80])
    found = None
    if 0 < len(words) <= 8:
        # Every run of consecutive words looked up once (a field name has at most 8 words): the
        # category of highest priority among the keywords found, as if each were tried in turn.
        ranks = [_KEYWORD_RANK.get(words[i:i + n], len(_CATEGORY_NAMES)) for n in _KEYWORD_LENGTHS
                 for i in range(len(words) - n + 1)]
        best = min(ranks, default=len(_CATEGORY_NAMES))
        found = _CATEGORY_NAMES[best] if best < len(_CATEGORY_NAMES) else None
    if len(_category_cache) < 50_000:
        _category_cache[name] = found
    return found


# -- value shapes --------------------------------------------------------------------------------


def _luhn(digits: str) -> bool:
    total = 0
    for i, c in enumerate(reversed(digits)):
        d = int(c) * (2 if i % 2 else 1)
        total += d - 9 if d > 9 else d
    return total % 10 == 0


def _iban_ok(text: str) -> bool:
    compact = text.replace(" ", "")
    if not 15 <= len(compact) <= 34:
        return False
    rearranged = compact[4:] + compact[:4]
    return int("".join(str(int(c, 36)) for c in rearranged)) % 97 == 1


def _ipv6_ok(text: str) -> bool:
    try:
        return ipaddress.ip_address(text).version == 6
    except ValueError:
        return False


def _mask_digits(text: str) -> str:
    compact = re.sub(r"[\s-]", "", text)
    return f"{compact[:2]}…{compact[-4:]}"


# (shape, category, regex, check, mask). Regexes run over many fields joined by NUL; the check
# confirms a candidate (checksums), the mask is what may be kept as a sample.
SHAPES = (
    ("ipv4", "ip-address",
     re.compile(r"(?<![\d.])(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)(?:\.(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)){3}(?![\d.])"),
     lambda t: not t.startswith("0."), lambda t: t.rsplit(".", 1)[0] + ".…"),
    ("ipv6", "ip-address", re.compile(r"(?<![\w:])(?:[0-9A-Fa-f]{1,4}:){2,7}[0-9A-Fa-f]{1,4}(?![\w:])|"
                                      r"(?<![\w:])[0-9A-Fa-f]{1,4}(?::[0-9A-Fa-f]{1,4})*::(?:[0-9A-Fa-f]{1,4}:?)*"),
     _ipv6_ok, lambda t: t.split(":", 1)[0] + ":…"),
    ("email", "contact", re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+"), lambda t: True,
     lambda t: t[0] + "…@" + t.rpartition("@")[2]),
    ("iban", "payment",
     re.compile(r"(?<![A-Za-z0-9])[A-Z]{2}\d{2}(?: ?[A-Z0-9]{4}){2,7}(?: ?[A-Z0-9]{1,3})?(?![A-Za-z0-9])"),
     _iban_ok, _mask_digits),
    # Written as cards are shown: in groups of four (a bare run of digits is more often an id), or
    # masked but for the last four ("**** **** **** 1234", "XXXX-1234").
    ("card-number", "payment", re.compile(r"(?<![\d-])\d{4}([ -])\d{4}\1\d{4}\1\d{1,7}(?![\d-])"),
     lambda t: 13 <= len(re.sub(r"\D", "", t)) <= 19 and _luhn(re.sub(r"\D", "", t)), _mask_digits),
    ("masked-card", "payment", re.compile(r"(?<![\w*•])(?:[*xX•]{4}[ -]?){1,3}\d{4}(?!\d)"), lambda t: True,
     lambda t: "…" + t[-4:]),
    ("lat-long", "location", re.compile(r"(?<![\d.])-?\d{1,2}\.\d{3,},\s*-?\d{1,3}\.\d{3,}(?![\d.])"),
     lambda t: abs(float(t.split(",")[0])) <= 90 and abs(float(t.split(",")[1])) <= 180,
     lambda t: t.split(",")[0].split(".")[0] + ".…, …"),
)

# A character every match of each shape holds, one of these (none: no such character): a text
# without one is not searched for that shape. Same order as SHAPES.
_SHAPE_NEEDS = (".", ":", "@", "", " -", "*xX•", ",")
assert [shape[0] for shape in SHAPES] == ["ipv4", "ipv6", "email", "iban", "card-number", "masked-card", "lat-long"]



# -- collecting findings for one file -------------------------------------------------------------

_BATCH_CHARS = 256 * 1024  # per batch: its fields cost ~10x their text in Python objects
_OVERLAP = 256  # a long field is searched in windows that overlap by this much (longest pattern)
_REMEMBERED, _REMEMBERED_CHARS = 10_000, 256  # texts whose matches a fast reader keeps, at most this long
SHAPE_SAMPLE = 64  # values of each generic field checked for value shapes (structured files)
SHAPE_TEXT_BYTES = 8 * 1024 * 1024  # text and HTML: the first 8 MB of a file are checked whole


class _Findings:
    """Findings of the whole reading, counted per (file, generic field, what). `render(path)` is
    called only for the first occurrence: most fields are never named."""

    def __init__(self):
        self.values: dict[tuple, list] = {}
        self.categories: dict[tuple, list] = {}

    def value(self, file, generic, render, path, match) -> None:
        key = (file, generic, match.value_id, match.encoding, match.form)
        if key in self.values:
            self.values[key][-1] += 1
        else:
            self.values[key] = [file, render(path), match.kind, match.value_id, match.encoding, match.form, 1]

    def category(self, category, file, generic, render, path, evidence, sample=None) -> None:
        key = (category, file, generic, evidence)
        if key in self.categories:
            self.categories[key][-1] += 1
        else:
            self.categories[key] = [category, file, render(path), evidence, sample, 1]

    def merge(self, other: _Findings) -> None:
        """Add the findings of one file read apart (`other`) as if they had been made here."""
        for mine, theirs in ((self.values, other.values), (self.categories, other.categories)):
            for key, entry in theirs.items():
                if key in mine:
                    mine[key][-1] += entry[-1]
                else:
                    mine[key] = entry


_PHONE_START = frozenset("+0123456789(")
_SPACED_PHONE = re.compile(r"\+?[\d(][\d ()./-]{5,}\d")
_PHONE_PUNCTUATION = re.compile(r"[\s()./-]")


class _FileScan:
    """Collects the text of one file's fields and searches them in batches.

    Each field comes with its `path` (turned into a name by `render(path)`, only for findings) and
    its `generic` name, the same for the field in every record (`orders[].shipping.phone`), by which
    findings are counted. Value shapes are looked for in the first `SHAPE_SAMPLE` values of each
    generic field (a column of IP addresses shows it in its first rows), or, with `whole_text`
    (text and HTML, where one generic name covers unrelated lines), in the first
    `SHAPE_TEXT_BYTES` of the file.
    """

    def __init__(self, file: str, scanner: LeakScanner | None, findings: _Findings,
                 render: Callable[[object], str], whole_text: bool = False, remember: bool = False,
                 search: bool = True):
        self.file, self.scanner, self.findings, self.render = file, scanner, findings, render
        # With `remember`, what the search found in a short text is kept, and the same text in
        # another field is not searched again (the fast readers: the same address in every order).
        # A text's matches do not depend on the texts searched with it, but for a capital sigma,
        # whose lower case does, and the fast readers do not read files that hold one.
        self.found: dict[str, tuple] | None = {} if remember else None
        # Without `search` (a file the whole-text search found nothing in), fields only give
        # categories: names and shapes.
        self.searching = search and scanner is not None and scanner.pattern_count > 0
        # the shortest text that can hold a match: shorter fields (most: quantities, prices, states)
        # are not searched (each pattern starts with leakscan's token NUL, not in the text)
        self.shortest = min(map(len, scanner.folded_patterns())) - 1 if self.searching else 0
        self.whole_text = whole_text
        self.shape_budget = SHAPE_TEXT_BYTES
        self.sampled: dict[str, int] = {}
        self.shapes_done: set[str] = set()  # generic fields sampled enough
        self.names_seen: dict[str, str | None] = {}
        self.paths: list = []
        self.generics: list[str] = []
        self.texts: list[str] = []
        self.compacted: list[tuple[int, str]] = []  # phones as compacted copies: (index in `paths`, text)
        self.size = 0

    def add(self, path, text: str, generic: str) -> None:
        """The field at `path` holds `text` (called for every value: kept lean)."""
        if len(text) > DEFAULT_MAX_TEXT:
            step = DEFAULT_MAX_TEXT - _OVERLAP
            for start in range(0, len(text), step):
                self.add(path, text[start:start + DEFAULT_MAX_TEXT], generic)
            return
        if generic not in self.shapes_done:
            self._sample(text, path, generic)
        if len(text) < self.shortest or not self.searching:
            return
        if self.found is not None and text in self.found:
            for match in self.found[text]:
                self.findings.value(self.file, generic, self.render, path, match)
            return
        self.paths.append(path)
        self.generics.append(generic)
        self.texts.append(text)
        self.size += len(text)
        if len(text) <= 24 and text[0] in _PHONE_START and _SPACED_PHONE.fullmatch(text):
            # Exports write phones for people to read ("600 111 222", "(0)30-1234 567"); the leak
            # scanner finds phones in the compact forms trackers send, so the field is also searched
            # compacted, as the same field (one occurrence is counted once).
            compact = _PHONE_PUNCTUATION.sub("", text.replace("(0)", ""))
            if compact != text:
                self.compacted.append((len(self.paths) - 1, compact))
        if self.size >= _BATCH_CHARS:
            self.flush()

    def _sample(self, text: str, path, generic: str) -> None:
        if self.whole_text:
            self.shape_budget -= len(text)
            if self.shape_budget < 0:
                self.shapes_done.add(generic)
                return
        else:
            seen = self.sampled.get(generic, 0) + 1
            self.sampled[generic] = seen
            if seen >= SHAPE_SAMPLE and len(self.shapes_done) < 100_000:
                self.shapes_done.add(generic)
        for (shape, category, pattern, check, mask), needs in zip(SHAPES, _SHAPE_NEEDS):
            if needs and not any(c in text for c in needs):
                continue
            for found in pattern.finditer(text):
                value = found.group()
                if check(value):
                    self.findings.category(category, self.file, generic, self.render, path, f"value: {shape}",
                                           mask(value))
                    break

    def category_of(self, generic: str, name: str) -> str | None:
        """The category of field `name` (remembered by its generic name, up to 100,000 of them)."""
        category = category_of_field(name)
        if len(self.names_seen) < 100_000:
            self.names_seen[generic] = category
        return category

    def field_name(self, path, name: str, generic: str) -> None:
        """A field called `name` (a JSON key, a CSV column, an element, a label) is at `path`."""
        category = self.names_seen.get(generic, "")
        if category == "":
            category = self.category_of(generic, name)
        if category:
            self.findings.category(category, self.file, generic, self.render, path, "field name")

    def flush(self) -> None:
        paths, generics, texts, compacted = self.paths, self.generics, self.texts, self.compacted
        if not texts:
            return
        self.paths, self.generics, self.texts, self.compacted, self.size = [], [], [], [], 0
        # Each field is its own place, so a match names its field and never spans two.
        matches = self.scanner.scan_texts([*enumerate(texts), *compacted])
        for match in matches:
            self.findings.value(self.file, generics[match.where], self.render, paths[match.where], match)
        if self.found is not None and len(self.found) < _REMEMBERED:
            by_field: dict[int, list] = {}
            for match in matches:
                by_field.setdefault(match.where, []).append(match)
            for where, text in enumerate(texts):
                if len(text) <= _REMEMBERED_CHARS:
                    self.found[text] = tuple(by_field.get(where, ()))


# -- encodings and kinds of file ------------------------------------------------------------------

_HEAD = 64 * 1024
_BINARY_MAGIC = (b"%PDF", b"\x89PNG", b"\xff\xd8\xff", b"GIF8", b"\x1f\x8b", b"BZh", b"\xfd7zXZ", b"7z\xbc\xaf",
                 b"Rar!", b"OggS", b"RIFF", b"ID3", b"\x00\x00\x01\x00", b"SQLite format", b"\xd0\xcf\x11\xe0",
                 b"MZ", b"\x7fELF")
_KINDS = {".json": "json", ".jsonl": "jsonl", ".ndjson": "jsonl", ".csv": "csv", ".tsv": "csv",
          ".html": "html", ".htm": "html", ".xhtml": "html", ".xml": "xml", ".txt": "text", ".md": "text",
          ".log": "text", ".zip": "zip"}


def _encoding_of(head: bytes) -> str | None:
    """The text encoding of a file starting with `head`, or None for binary data."""
    for bom, name in ((codecs.BOM_UTF32_LE, "utf-32"), (codecs.BOM_UTF32_BE, "utf-32"),
                      (codecs.BOM_UTF8, "utf-8-sig"), (codecs.BOM_UTF16_LE, "utf-16"),
                      (codecs.BOM_UTF16_BE, "utf-16")):
        if head.startswith(bom):
            return name
    if b"\x00" in head:
        sample = head[:4096]
        even, odd = sample[0::2].count(0), sample[1::2].count(0)
        if odd > len(sample) * 0.4 and even < len(sample) * 0.05:
            return "utf-16-le"
        if even > len(sample) * 0.4 and odd < len(sample) * 0.05:
            return "utf-16-be"
        return None
    try:
        codecs.getincrementaldecoder("utf-8")().decode(head, final=False)
    except UnicodeDecodeError:
        return "cp1252"
    return "utf-8"


def _kind_of(name: str, head_text: str) -> str:
    kind = _KINDS.get(PurePosixPath(name).suffix.lower())
    if kind:
        return kind
    start = head_text.lstrip("\ufeff \t\r\n")[:1]
    if start in ("{", "["):
        return "json"
    if start == "<":
        return "html" if re.search(r"<(!doctype html|html)\b", head_text[:2048], re.I) else "xml"
    return "text"


# -- streams --------------------------------------------------------------------------------------


class _TooLong(Exception):
    pass


class _Capped(io.RawIOBase):
    """A stream that gives `head` and then the rest of `source`, and raises _TooLong past `cap` bytes."""

    def __init__(self, head: bytes, source, cap: int, counter: list[int]):
        self.head, self.source, self.cap, self.counter, self.read_bytes = head, source, cap, counter, 0

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:
        if self.head:
            n = min(len(buffer), len(self.head))
            buffer[:n] = self.head[:n]
            self.head = self.head[n:]
        else:
            data = self.source.read(len(buffer))
            n = len(data)
            buffer[:n] = data
        self.read_bytes += n
        self.counter[0] += n
        if self.read_bytes > self.cap:
            raise _TooLong(f"longer than its limit of {self.cap} bytes")
        return n


class _Utf8(io.RawIOBase):
    """UTF-8 bytes of a text stream (the JSON parser reads UTF-8 only)."""

    def __init__(self, text):
        self.text, self.pending = text, b""

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:
        while not self.pending:
            chunk = self.text.read(16384)
            if not chunk:
                return 0
            self.pending = chunk.encode("utf-8", "surrogatepass")
        n = min(len(buffer), len(self.pending))
        buffer[:n] = self.pending[:n]
        self.pending = self.pending[n:]
        return n


# -- the readers of each kind of file -------------------------------------------------------------

_IDENTIFIER = re.compile(r"[^\W\d]\w*")


def _json_render(path: tuple) -> str:
    """`orders[3].shipping.phone` from ijson's prefix (`orders.item.shipping.phone`) and the index
    of each open array (None for objects)."""
    prefix, levels = path
    parts = prefix.split(".") if prefix else []
    if len(parts) != len(levels):  # a key with a dot in it: the prefix cannot be split back
        return prefix or "(top)"
    out = []
    for part, index in zip(parts, levels):
        if index is not None:
            out.append(f"[{index}]")
        elif _IDENTIFIER.fullmatch(part):
            out.append(f".{part}" if out else part)
        else:
            out.append(f"[{part!r}]")
    return "".join(out) or "(top)"


def _read_json(stream, encoding: str, scan_of: Callable) -> None:
    """Streamed (ijson's C parser): memory does not grow with the file. Generic fields are ijson's
    prefixes, where `item` stands for any element of an array."""
    import ijson

    raw = io.BufferedReader(stream, 65536) if encoding == "utf-8" else \
        io.BufferedReader(_Utf8(io.TextIOWrapper(io.BufferedReader(stream), encoding, "replace")), 65536)
    scan = scan_of(_json_render)
    add, names_seen, shapes_done = scan.add, scan.names_seen, scan.shapes_done
    shortest = max(scan.shortest, 1) if scan.searching else 1 << 62
    # an integer with fewer digits cannot hold a match (without values, no integer is searched)
    smallest_number = 10 ** (shortest - 1) if scan.searching else float("inf")
    levels: list = []  # per open container: None for an object, the current index for an array
    try:
        # The hot loop of the module: one pass per event, the common cases first and inline.
        for prefix, event, value in ijson.parse(raw, use_float=True):
            if event == "map_key":
                generic = f"{prefix}.{value}" if prefix else value
                category = names_seen.get(generic, "")
                if category == "":
                    category = scan.category_of(generic, value)
                if category:
                    scan.findings.category(category, scan.file, generic, _json_render, (generic, tuple(levels)),
                                           "field name")
                continue
            if event == "end_map" or event == "end_array":
                levels.pop()
                continue
            if levels and levels[-1] is not None:
                levels[-1] += 1
            if event == "string":
                if len(value) >= shortest or prefix not in shapes_done:
                    add((prefix, tuple(levels)), value, prefix)
            elif event == "number":
                if prefix not in shapes_done or (type(value) is int and value >= smallest_number):
                    add((prefix, tuple(levels)), repr(value) if type(value) is float else str(value), prefix)
            elif event == "start_map":
                levels.append(None)
            elif event == "start_array":
                levels.append(-1)
    finally:
        scan.flush()


def _read_jsonl(text, scan_of: Callable) -> None:
    """One JSON document a line (`.jsonl`, `.ndjson`): line N is `[N]`, as if they were an array."""
    scan = scan_of(_json_render)
    try:
        for number, line in enumerate(text):
            if line.strip():
                _walk_json(json.loads(line), "item", [number], scan)
    finally:
        scan.flush()


def _walk_json(node, prefix: str, levels: list, scan: _FileScan) -> None:
    if isinstance(node, dict):
        levels.append(None)
        for key, value in node.items():
            generic = f"{prefix}.{key}"
            scan.field_name((generic, tuple(levels)), key, generic)
            _walk_json(value, generic, levels, scan)
        levels.pop()
    elif isinstance(node, list):
        levels.append(-1)
        for value in node:
            levels[-1] += 1
            _walk_json(value, f"{prefix}.item", levels, scan)
        levels.pop()
    elif isinstance(node, str):
        if node:
            scan.add((prefix, tuple(levels)), node, prefix)
    elif isinstance(node, (int, float)) and not isinstance(node, bool):
        scan.add((prefix, tuple(levels)), str(node), prefix)


def _read_csv(text, scan_of: Callable) -> None:
    """The first row names the columns; the separator is sniffed (`,` `;` tab `|`)."""
    sample = text.read(_HEAD)
    try:
        delimiter = csv.Sniffer().sniff(sample[:16384], delimiters=",;\t|").delimiter
    except csv.Error:  # one column, or too irregular to sniff: the most frequent separator of line 1
        first = sample.split("\n", 1)[0]
        delimiter = max(",;\t|", key=first.count)
    rows = csv.reader(_chain_text(sample, text), delimiter=delimiter)
    names: list[str] = []
    scan = scan_of(lambda i: names[i])
    add = scan.add
    try:
        for i, cell in enumerate(next(rows, [])):
            names.append(cell.strip().lstrip("\ufeff") or f"column {i + 1}")
            scan.field_name(i, cell, names[i])
            if cell:
                add(i, cell, names[i])  # a header may be data (an export without one)
        shortest = max(scan.shortest, 1) if scan.searching else 1 << 62
        shapes_done = scan.shapes_done
        for row in rows:
            if len(row) > len(names):
                names += [f"column {i + 1}" for i in range(len(names), len(row))]
            for i, cell in enumerate(row):
                if len(cell) >= shortest or (cell and names[i] not in shapes_done):
                    add(i, cell, names[i])
    finally:
        scan.flush()


def _chain_text(head: str, rest) -> Iterable[str]:
    stream = io.StringIO(head)
    pending = ""
    for line in stream:
        if line.endswith("\n"):
            yield pending + line
            pending = ""
        else:
            pending += line
    for line in rest:
        if pending:
            line, pending = pending + line, ""
        yield line
    if pending:
        yield pending


_VOID = frozenset("area base br col embed hr img input link meta param source track wbr".split())
_LABEL = re.compile(r"^\s*([^\W\d_][\w .'/-]{0,40}?)\s*[:=]")


class _HtmlText(HTMLParser):
    def __init__(self, scan: _FileScan):
        super().__init__(convert_charrefs=True)
        self.scan, self.stack = scan, []

    def _path(self, extra: str = "") -> str:
        return "/".join(self.stack) + extra

    def handle_starttag(self, tag, attrs):
        if tag not in _VOID:
            self.stack.append(tag)
            if len(self.stack) > 64:
                del self.stack[0]
        for name, value in attrs:
            if value and name not in ("class", "style", "href", "src", "id") or (name == "href" and value
                                                                                and value.startswith("mailto:")):
                where = self._path(f"/{tag}@{name}" if tag in _VOID else f"@{name}")
                self.scan.add(where, value, where)
            if name in ("name", "id", "for") and value:
                where = self._path(f"/{tag}@{name}" if tag in _VOID else f"@{name}")
                self.scan.field_name(where, value, where + "=" + value)

    def handle_endtag(self, tag):
        if tag in self.stack:
            while self.stack and self.stack.pop() != tag:
                pass

    def handle_data(self, data):
        text = data.strip()
        if text:
            path = self._path()
            if len(text) <= 40:
                self.scan.field_name(path, text.rstrip(":"), path + "=" + text)
            self.scan.add(path, text, path)


def _read_html(text, scan_of: Callable) -> None:
    scan = scan_of(str, whole_text=True)
    parser = _HtmlText(scan)
    try:
        while chunk := text.read(65536):
            parser.feed(chunk)
        parser.close()
    finally:
        scan.flush()


def _read_xml(stream, scan_of: Callable) -> None:
    from defusedxml.ElementTree import iterparse

    scan = scan_of(str)
    stack: list[str] = []
    try:
        for event, element in iterparse(io.BufferedReader(stream), events=("start", "end"), forbid_dtd=False,
                                        forbid_entities=True, forbid_external=True):
            if event == "start":
                tag = element.tag.rpartition("}")[2]
                stack.append(tag)
                path = "/".join(stack)
                scan.field_name(path, tag, path)
                for name, value in element.attrib.items():
                    name = name.rpartition("}")[2]
                    where = f"{path}@{name}"
                    scan.field_name(where, name, where)
                    if value:
                        scan.add(where, value, where)
            else:
                path = "/".join(stack)
                if element.text and element.text.strip():
                    scan.add(path, element.text.strip(), path)
                stack.pop()
                if element.tail and element.tail.strip():
                    parent = "/".join(stack) or path
                    scan.add(parent, element.tail.strip(), parent)
                element.clear()
    finally:
        scan.flush()


def _read_text(text, scan_of: Callable) -> None:
    scan = scan_of(lambda n: f"line {n}", whole_text=True)
    try:
        for number, line in enumerate(text, 1):
            label = _LABEL.match(line)
            if label:
                scan.field_name(number, label.group(1), "label:" + label.group(1))
            if line.strip():
                scan.add(number, line.rstrip("\r\n"), "text")
    finally:
        scan.flush()


# -- the fast readers: the whole text searched at once, fields looked at only where it points ------
#
# The readers above hand every field to the search, one Python call each: ~10 MB/s. The fast
# readers below search a JSON or CSV file's decoded text whole with `LeakScanner.possible_starts`
# (the automaton, at C speed) and give the search only the fields of a record (a JSON value decoded
# whole, a CSV line) where that found something; categories still come from every field name and
# from the first values of each field. They find exactly what the readers above find: where a file
# has anything they cannot read exactly so (a malformed file, a quoted CSV line with a hit, duplicate
# JSON keys, escapes the two JSON parsers read differently, a record over the limit...), they give
# up (`_Fallback`) and the file is read again by the reader above.


class _Fallback(Exception):
    """The fast reader cannot tell exactly what the reader above would find in this file."""


_WINDOW = 1 << 20  # decoded text a fast reader holds at a time (JSON values up to ~half decoded whole)
_JSON_WHITESPACE = re.compile(r"[ \t\n\r]*")
_SPACED_KEY = re.compile(r'"[ \t\n\r]+:')
_KEY_END = re.compile(r'"[ \t\n\r]*:')
# ijson (yajl) reads an escaped lone surrogate as "?", Python's json as the surrogate itself
_LONE_SURROGATE = re.compile(r"\\u[dD][89abAB][0-9a-fA-F]{2}(?!\\u[dD][c-fC-F])|"
                             r"(?<!\\u[dD][89abAB][0-9a-fA-F]{2})\\u[dD][c-fC-F][0-9a-fA-F]{2}")
_INFINITIES = (float("inf"), float("-inf"))
_SINGLES = 20_000  # strings and numbers read one by one before the fast JSON reader gives up
_SPACES = bytes.maketrans(b"\t\n\r", b"   ")
_SMALLEST_INT, _LARGEST_INT = -1 << 63, (1 << 63) - 1  # what yajl reads as an integer


def _compacted(text: str) -> bytes:
    """`text` (UTF-8) without what `_FileScan.add` drops from a phone number: `(0)` and ` ()./-`
    (as bytes: str.translate is slow on text that is not ASCII)."""
    return text.encode("utf-8", "surrogatepass").replace(b"(0)", b"").translate(None, b" ()./-")


def _refuse_constant(name):
    raise _Fallback(f"{name} is not JSON")  # Python's json reads NaN and Infinity, yajl does not


class _Hits:
    """Offsets (in the whole decoded file) where the automaton found something, in order."""

    def __init__(self, scanner: LeakScanner | None):
        self.scanner = scanner if scanner is not None and scanner.pattern_count else None
        patterns = scanner.folded_patterns() if self.scanner else []
        self.longest = max(map(len, patterns), default=0)
        # the patterns a phone number searched compacted can match: digits only
        self.digits = sorted({p.strip("\x00").encode() for p in patterns
                              if p.strip("\x00").isascii() and p.strip("\x00").isdigit()})
        self.offsets: collections.deque[int] = collections.deque()
        self.scanned = 0  # offsets before this are all found

    def search(self, text: str, base: int, final: bool) -> None:
        """Search `text`, which starts at offset `base` of the file and ends where it has been read."""
        if "Σ" in text:  # its lower case depends on the letters around it: the field's own search may differ
            raise _Fallback("capital sigma")
        if self.scanner is None:
            return
        start = max(self.scanned - base, 0)
        offsets = self.offsets
        while offsets and offsets[-1] >= base + start:  # searched again, with what follows
            offsets.pop()
        offsets.extend(sorted(base + start + offset for offset in self.scanner.possible_starts(text[start:])))
        # a value cut by the end of what was read is found in the next search, which starts here
        self.scanned = base + len(text) - (0 if final else self.longest)

    def within(self, start: int, end: int) -> bool:
        """Whether something was found in [start, end) (offsets before `start` are forgotten)."""
        offsets = self.offsets
        while offsets and offsets[0] < start:
            offsets.popleft()
        return bool(offsets) and offsets[0] < end


class _JsonText:
    """A JSON file's decoded text, a window at a time; `pos` is the reading position in `buf`."""

    def __init__(self, read: Callable[[int], str], hits: _Hits):
        self.read, self.hits = read, hits
        self.buf, self.base, self.pos, self.eof = "", 0, 0, False
        self.spaced_keys = False
        self.more()

    def more(self) -> None:
        chunk = self.read(max(_WINDOW, len(self.buf) - self.pos))  # doubles for a value longer than that
        if not chunk:
            self.eof = True
            return
        self.base += self.pos
        self.buf = self.buf[self.pos:] + chunk
        self.pos = 0
        self.hits.search(self.buf, self.base, final=False)
        # a key with white space before its colon is counted by a slower search (`_JsonFast.value`)
        if not self.spaced_keys:
            new = self.buf[max(len(self.buf) - len(chunk) - 1, 0):].encode("utf-8", "surrogatepass")
            self.spaced_keys = b" :" in new.translate(_SPACES)

    def next_char(self) -> str:
        """The next character that is not whitespace (the position moves to it); "" at the end."""
        while True:
            self.pos = _JSON_WHITESPACE.match(self.buf, self.pos).end()
            if self.pos < len(self.buf):
                return self.buf[self.pos]
            if self.eof:
                return ""
            self.more()


class _JsonFast:
    """Reads a JSON file as `_read_json` does, decoding each value that fits the window whole with
    Python's json (C) and walking the decoded value; the fields of a value are searched only when the
    automaton found something in its text. Field names are counted by the keys of each object:
    objects with the same keys at the same place are counted once each, their keys' categories
    added up at the end."""

    def __init__(self, text: _JsonText, scan: _FileScan):
        self.text, self.scan = text, scan
        decoder = json.JSONDecoder(parse_constant=_refuse_constant)
        self.scan_once = json.scanner.c_make_scanner(decoder)
        self.shortest = max(scan.shortest, 1) if scan.searching else 1 << 62
        self.smallest_number = 10 ** (self.shortest - 1) if scan.searching else float("inf")
        self.objects: dict[tuple, list] = {}  # (prefix, keys) -> [times seen, [(generic, category)]]
        self.keys = 0  # keys of the decoded objects, compared with the keys written in their text
        self.singles = 0  # strings and numbers read one by one in objects and arrays too large to decode

    def read(self) -> None:
        text = self.text
        if text.next_char() == "":
            raise _Fallback("no JSON value")
        self.value("", [])
        if text.next_char() != "":
            raise _Fallback("text after the JSON value")
        self.add_up()

    # -- the text, where values are too large for the window

    def value(self, prefix: str, levels: list, in_large: bool = False) -> None:
        """The value at the reading position; `in_large`: an element of an object or array too
        large to decode whole."""
        text = self.text
        first = text.next_char()
        while True:
            if not text.eof and len(text.buf) - text.pos < _WINDOW // 2:
                text.more()
            buf, pos = text.buf, text.pos
            try:
                node, end = self.scan_once(buf, pos)
            except StopIteration:  # no value here: a literal cut by the window, or not JSON
                if not text.eof and len(buf) - pos < 8:
                    text.more()
                    continue
                raise _Fallback("not a JSON value") from None
            except json.JSONDecodeError as exc:
                if text.eof:
                    raise _Fallback("malformed JSON") from None
                if first == "{":
                    return self.object(prefix, levels, large=True)
                if first == "[":
                    return self.array(prefix, levels, large=True)
                if exc.msg.startswith("Unterminated string"):
                    text.more()
                    continue
                raise _Fallback("malformed JSON") from None
            if end == len(buf) and not text.eof and first not in "{[\"":
                text.more()  # a number or literal may go on in the next part
                continue
            break
        base = text.base
        escaped = buf.find("\\", pos, end) >= 0
        if escaped and _LONE_SURROGATE.search(buf, pos, end):
            raise _Fallback("lone surrogate")
        # Searched where the automaton found something in its text, where its text is not its
        # fields' text (escapes), or where a field may be longer than the search's window.
        search = escaped or end - pos > DEFAULT_MAX_TEXT or text.hits.within(base + pos, base + end)
        kind = type(node)
        if kind is dict or kind is list:
            found = None
            if search and not escaped and end - pos <= DEFAULT_MAX_TEXT:
                found = self.strings_with_hits(buf, pos, end)
            if search and found is None:  # its parts one by one, to search only those with a hit
                return self.object(prefix, levels, False) if kind is dict else self.array(prefix, levels, False)
            keys = self.keys
            # a phone number written with spaces is searched compacted: where one may be, see `scalar`
            digits = text.hits.digits
            phones = bool(digits) and any(pattern in compacted for compacted in (_compacted(buf[pos:end]),)
                                          for pattern in digits)
            self.walk(node, prefix, levels, found, phones)
            if self.keys != keys:
                written = buf.count('":', pos, end)
                if text.spaced_keys and _SPACED_KEY.search(buf, pos, end):
                    written = len(_KEY_END.findall(buf, pos, end))
                if written != self.keys - keys:  # a key written twice in one object
                    raise _Fallback("keys differ")
        else:
            if in_large:
                # One by one, strings and numbers cost more here than in the event-by-event reader:
                # a long run of them (a list of ids) is left to it.
                self.singles += 1
                if self.singles > _SINGLES:
                    raise _Fallback("many values outside records")
            self.scalar(node, prefix, levels, search)
        text.pos = end

    @staticmethod
    def yajl_reads(number) -> None:
        """yajl refuses integers past 64 bits and floats past a double ("overflow"); Python's json
        reads them."""
        if type(number) is int and not _SMALLEST_INT <= number <= _LARGEST_INT or type(number) is float and number in _INFINITIES:
            raise _Fallback("a number yajl cannot hold")

    def object(self, prefix: str, levels: list, large: bool) -> None:
        text = self.text
        levels.append(None)
        text.pos += 1
        if text.next_char() == "}":
            text.pos += 1
            levels.pop()
            return
        while True:
            if text.next_char() != '"':
                raise _Fallback("malformed JSON")
            key = self.key()
            if text.next_char() != ":":
                raise _Fallback("malformed JSON")
            text.pos += 1
            generic = f"{prefix}.{key}" if prefix else key
            category = self.category_of(generic, key)
            if category:
                self.scan.findings.category(category, self.scan.file, generic, _json_render,
                                            (generic, tuple(levels)), "field name")
            self.value(generic, levels, large)
            after = text.next_char()
            text.pos += 1
            if after == "}":
                break
            if after != ",":
                raise _Fallback("malformed JSON")
        levels.pop()

    def key(self) -> str:
        text = self.text
        while True:
            try:
                key, end = json.decoder.scanstring(text.buf, text.pos + 1, True)
            except json.JSONDecodeError as exc:
                if exc.msg.startswith("Unterminated string") and not text.eof:
                    text.more()
                    continue
                raise _Fallback("malformed JSON") from None
            if "\\" in text.buf[text.pos:end] and _LONE_SURROGATE.search(text.buf, text.pos, end):
                raise _Fallback("lone surrogate")
            text.pos = end
            return key

    def array(self, prefix: str, levels: list, large: bool) -> None:
        text = self.text
        item = f"{prefix}.item" if prefix else "item"
        levels.append(-1)
        text.pos += 1
        if text.next_char() == "]":
            text.pos += 1
        else:
            while True:
                levels[-1] += 1
                self.value(item, levels, large)
                after = text.next_char()
                text.pos += 1
                if after == "]":
                    break
                if after != ",":
                    raise _Fallback("malformed JSON")
        levels.pop()

    # -- a value decoded whole

    def strings_with_hits(self, buf: str, start: int, end: int) -> set[str] | None:
        """The strings of the JSON text buf[start:end] (which has no escapes) in which the
        automaton found something; None if it found something outside a string (a number)."""
        base, found, quotes, previous = self.text.base, set(), 0, start
        for offset in self.text.hits.offsets:
            offset -= base
            if offset >= end:
                break
            quotes += buf.count('"', previous, offset)
            previous = offset
            if quotes % 2 == 0:
                return None
            found.add(buf[buf.rfind('"', start, offset) + 1:buf.find('"', offset)])
        return found

    def category_of(self, generic: str, key: str) -> str | None:
        category = self.scan.names_seen.get(generic, "")
        return self.scan.category_of(generic, key) if category == "" else category

    def scalar(self, node, prefix: str, levels: list, search: bool) -> None:
        """A string or number as `_read_json` handles it: sampled for shapes while its field is,
        searched when `search` (otherwise only phone numbers written with spaces, which the
        automaton cannot see in the text: `_FileScan.add` searches them compacted)."""
        kind, scan = type(node), self.scan
        if kind is int or kind is float:
            self.yajl_reads(node)
        done = prefix in scan.shapes_done
        if kind is str:
            if not done or len(node) >= self.shortest and (search or self.compacted_hit(node)):
                scan.add((prefix, tuple(levels)), node, prefix)
        elif kind is int:
            if not done or (search and node >= self.smallest_number):
                scan.add((prefix, tuple(levels)), str(node), prefix)
        elif kind is float:
            if not done:
                scan.add((prefix, tuple(levels)), repr(node), prefix)

    def compacted_hit(self, text: str) -> bool:
        """Whether a phone number written with spaces or dashes, which `_FileScan.add` also
        searches compacted, holds a pattern of digits once compacted."""
        if len(text) > 24 or text[0] not in _PHONE_START or text.isdigit() or not _SPACED_PHONE.fullmatch(text):
            return False
        compact = _PHONE_PUNCTUATION.sub("", text.replace("(0)", ""))
        return compact != text and any(digits in compact.encode() for digits in self.text.hits.digits)

    def walk(self, node, prefix: str, levels: list, found: set[str] | None, phones: bool) -> None:
        """A decoded object or array: its keys' categories, its values sampled for shapes, and
        searched only where the automaton found something in them (the strings in `found`; no
        hit in a number), or, with `phones`, where a phone number written with spaces may match
        once compacted (its text holds a pattern of digits once compacted). An object with the same keys at the same place as one seen before
        only adds one to how often those keys were seen. (The hot loop of the fast reader.)"""
        shapes_done, phone_start, scalar = self.scan.shapes_done, _PHONE_START, self.scalar
        if type(node) is dict:
            self.keys += len(node)
            levels.append(None)
            keys = tuple(node)
            seen = self.objects.get((prefix, keys))
            if seen is None:
                seen = self.first_seen(prefix, keys, levels)
            else:
                seen[0] += 1
            pairs = zip(seen[1], node.values())
        else:
            item = f"{prefix}.item" if prefix else "item"
            levels.append(-1)
            pairs = ((item, value) for value in node)
        for generic, value in pairs:
            if levels[-1] is not None:
                levels[-1] += 1
            kind = type(value)
            if kind is str:
                if found is not None and value in found:
                    scalar(value, generic, levels, True)
                elif generic not in shapes_done or (phones and value[:1] in phone_start):
                    scalar(value, generic, levels, False)
            elif kind is dict or kind is list:
                self.walk(value, generic, levels, found, phones)
            elif kind is int:
                if generic not in shapes_done or not _SMALLEST_INT <= value <= _LARGEST_INT:
                    scalar(value, generic, levels, False)
            elif kind is float:
                if generic not in shapes_done or value in _INFINITIES:
                    scalar(value, generic, levels, False)
        levels.pop()

    def first_seen(self, prefix: str, keys: tuple, levels: list) -> list:
        """An object with these keys at this place for the first time: its keys' categories."""
        generics, categories = [], []
        for key in keys:
            generic = f"{prefix}.{key}" if prefix else key
            category = self.category_of(generic, key)
            generics.append(generic)
            categories.append(category)
            if category:
                self.scan.findings.category(category, self.scan.file, generic, _json_render, (generic, tuple(levels)),
                                            "field name")
        seen = [1, generics, categories]
        if len(self.objects) < 50_000:
            self.objects[(prefix, keys)] = seen
        return seen

    def add_up(self) -> None:
        """The field names of the objects counted once each (`walk`), counted as often as seen."""
        categories, file = self.scan.findings.categories, self.scan.file
        for seen, generics, names in self.objects.values():
            if seen > 1:
                for generic, category in zip(generics, names):
                    if category:
                        categories[(category, file, generic, "field name")][-1] += seen - 1


def _read_json_fast(stream, encoding: str, scan_of: Callable, hits: _Hits) -> None:
    if encoding == "utf-8":
        decoder = codecs.getincrementaldecoder("utf-8")()  # strict: yajl refuses what it refuses
        raw = io.BufferedReader(stream, 65536)

        def read(size: int) -> str:
            data = raw.read(size)
            return decoder.decode(data, final=not data)
    else:
        read = io.TextIOWrapper(io.BufferedReader(stream), encoding, "replace").read
    scan = scan_of(_json_render)
    try:
        _JsonFast(_JsonText(read, hits), scan).read()
    finally:
        scan.flush()


def _read_csv_fast(text, scan_of: Callable, hits: _Hits) -> None:
    """Reads a CSV file as `_read_csv` does, a block of lines at a time. A row's fields are searched
    only when the automaton found something in its lines (or the row's text is not its fields'
    text: a doubled quote; or a field may be longer than the search's window); other rows only
    give the first values of each column (shapes) and new columns. While the lines hold no quote,
    each line is a row and rows with nothing to do are not even split."""
    sample = text.read(_HEAD)
    try:
        delimiter = csv.Sniffer().sniff(sample[:16384], delimiters=",;\t|").delimiter
    except csv.Error:
        first = sample.split("\n", 1)[0]
        delimiter = max(",;\t|", key=first.count)
    names: list[str] = []
    scan = scan_of(lambda i: names[i])
    add, shapes_done = scan.add, scan.shapes_done
    shortest = max(scan.shortest, 1) if scan.searching else 1 << 62
    limit = csv.field_size_limit()
    count_delimiters = operator.methodcaller("count", delimiter)
    hit_lines: set[int] = set()  # numbers (from 0) of the lines whose fields are searched
    sampling: list[int] = []  # the columns still sampled for shapes

    def header(row: list[str]) -> None:
        for i, cell in enumerate(row):
            names.append(cell.strip().lstrip("\ufeff") or f"column {i + 1}")
            scan.field_name(i, cell, names[i])
            if cell:
                add(i, cell, names[i])
        sampling[:] = [i for i, name in enumerate(names) if name not in shapes_done]

    def read_row(row: list[str], search: bool) -> None:
        if len(row) > len(names):
            names.extend(f"column {i + 1}" for i in range(len(names), len(row)))
            sampling[:] = [i for i, name in enumerate(names) if name not in shapes_done]
        for i, cell in enumerate(row):
            if (search and len(cell) >= shortest) or (cell and names[i] not in shapes_done):
                add(i, cell, names[i])
        if sampling:
            sampling[:] = [i for i in sampling if names[i] not in shapes_done]

    def row_of(line: str) -> list[str]:  # what csv.reader makes of a line without quotes
        line = line[:-1] if line.endswith("\r") else line
        return line.split(delimiter) if line else []

    def mark(block: str | bytes, offsets: Iterable[int], first_line: int) -> None:
        line, previous, newline = first_line, 0, "\n" if isinstance(block, str) else b"\n"
        for offset in sorted(offsets):
            line += block.count(newline, previous, offset)
            previous = offset
            hit_lines.add(line)

    def search(block: str, base: int, first_line: int, lines: list[str]) -> None:
        hits.search(block, base, final=True)
        mark(block, [offset - base for offset in hits.offsets], first_line)
        hits.offsets.clear()
        if hits.digits:
            # A phone written with spaces or dashes is also searched compacted (`_FileScan.add`),
            # where only patterns of digits can match it: each is looked for in the compacted text.
            compacted = _compacted(block)
            offsets = []
            for digits in hits.digits:
                offset = compacted.find(digits)
                while offset >= 0:
                    offsets.append(offset)
                    offset = compacted.find(digits, offset + 1)
            mark(compacted, offsets, first_line)
        if '""' in block:  # a doubled quote: the field's text is not the line's
            mark(block, (m.start() for m in re.finditer('""', block)), first_line)
        if max(map(len, lines)) > DEFAULT_MAX_TEXT:  # a field the search cuts in windows
            hit_lines.update(range(first_line, first_line + len(lines)))

    def blocks():
        """(block of whole lines, its lines, number of its first line), the file's text in order."""
        pending, base, line = sample, 0, 0
        while True:
            chunk = text.read(_WINDOW)
            data = pending + chunk
            cut = data.rfind("\n") + 1 if chunk else len(data)
            block, pending = data[:cut], data[cut:]
            if len(pending) > limit:
                raise _Fallback("a line longer than a CSV field may be")
            if block:
                if "\x00" in block or block.count("\r") != block.count("\r\n"):
                    raise _Fallback("NUL or lone carriage returns")  # csv and the line splitting differ
                lines = block.split("\n")
                if block.endswith("\n"):
                    lines.pop()
                search(block, base, line, lines)
                yield block, lines, line
                base += len(block)
                line += len(lines)
            if not chunk:
                return

    started = False
    parts = blocks()
    try:
        for block, lines, first_line in parts:
            if '"' in block:
                break
            longest = max(map(len, lines))
            if longest > limit:
                raise _Fallback("a line longer than a CSV field may be")
            number = 0
            if not started:
                header(row_of(lines[0]))
                started, number = True, 1
            if max(map(count_delimiters, lines)) >= len(names):  # a row adds columns: each row read
                for number in range(number, len(lines)):
                    read_row(row_of(lines[number]), first_line + number in hit_lines)
                continue
            while number < len(lines) and sampling:
                row = row_of(lines[number])
                if first_line + number in hit_lines or any(i < len(row) and row[i] for i in sampling):
                    read_row(row, first_line + number in hit_lines)
                number += 1
            for line in sorted(n for n in hit_lines if n >= first_line + number):
                if line - first_line < len(lines):
                    read_row(row_of(lines[line - first_line]), True)
            hit_lines.difference_update(range(first_line, first_line + len(lines)))
        else:
            return

        # Quotes from here on: csv.reader reads the rest, its line numbers say where each row was.
        def rest():
            yield from io.StringIO(block)
            for more, _, _ in parts:
                yield from io.StringIO(more)

        rows = csv.reader(rest(), delimiter=delimiter)
        offset, previous = first_line, 0
        for row in rows:
            searched = any(n in hit_lines for n in range(offset + previous, offset + rows.line_num))
            if searched:
                hit_lines.difference_update(range(offset + previous, offset + rows.line_num))
            previous = rows.line_num
            if not started:
                header(row)
                started = True
            elif searched or sampling or len(row) > len(names):
                read_row(row, searched)
    finally:
        scan.flush()


# -- HTML, XML and text: read for values only when the whole text may hold one -------------------
#
# Their readers hand every field to the search, like the event-by-event readers. Most such files in
# an export (a summary page, a README, a log) hold none of the user's values: the decoded text is
# searched whole first (`LeakScanner.may_appear_in`: the automaton, the leading token of each
# pattern not required, so however the reader cuts the text into fields, at a tag, an entity or a
# parser's chunk boundary, a value in a field is in the text), and a file where it finds nothing is
# read for its categories only (field names and value shapes: the same parser, no search). A file
# where it finds something is read as before. The searched texts cover what the readers turn the
# text into: HTML with its character references decoded (and as written: scripts are not decoded),
# XML decoded without its CDATA markers, and phone numbers compacted as `_FileScan.add` compacts
# them. What they cannot cover exactly is taken as a possible value (the file is read as before):
# XML with comments, processing instructions or a DOCTYPE (expat joins the text around them or
# changes attribute values), CDATA and references in one file, an encoding other than UTF-8 or a
# declared one, `(0)` in a phone number, a capital sigma, an HTML run of 2 MB without `<` or space.

_XML_DECLARED = re.compile(r"""^\s*<\?xml[^>]*?encoding\s*=\s*["']([^"']+)""")
_XML_UNCOVERED = re.compile(r"<!--|<\?|<!DOCTYPE", re.I)
_CDATA_MARKERS = re.compile(r"<!\[CDATA\[|\]\]>")


def _may_hold_values(scanner: LeakScanner, kind: str, text, encoding: str) -> bool:
    """Whether a text, HTML or XML file (`text`: its decoded text, read here to its end) may hold
    one of `scanner`'s values in a field its reader searches; False only when no field can."""
    import html

    if kind == "xml" and encoding not in ("utf-8", "utf-8-sig"):
        return True  # expat decodes by the declaration, not as the readers here do
    tails: dict[str, str] = {}  # per searched form, the end of the last window (values across windows)
    overlap = max(map(len, scanner.folded_patterns()))
    carry, first, cdata, references = "", True, False, False
    while True:
        chunk = text.read(_WINDOW)
        data = carry + chunk
        if first and kind == "xml":
            declared = _XML_DECLARED.match(data[:1024].lstrip("\ufeff"))
            if declared and declared.group(1).strip().lower() not in ("utf-8", "utf8"):
                return True
            if _XML_UNCOVERED.search(data.lstrip("\ufeff"), 2):
                return True
        elif kind == "xml" and _XML_UNCOVERED.search(data):
            return True
        first = False
        cut = len(data)
        if chunk and kind != "text":  # cut before a tag: a character reference is never cut in two
            cut = data.rfind("<")
            if cut <= 0:
                cut = max(data.rfind(" "), data.rfind("\n"))
                if cut <= 0:
                    if len(data) > 2 * _WINDOW:
                        return True
                    carry = data
                    continue
        window, carry = data[:cut], data[cut:]
        forms = {"as written": window}
        if kind == "html" and "&" in window:
            forms["decoded"] = html.unescape(window)
        elif kind == "xml":
            cdata = cdata or "<![CDATA[" in window
            references = references or "&" in window
            if cdata and references:
                return True
            if cdata:
                forms["as written"] = _CDATA_MARKERS.sub("", window)
            elif references:
                forms["as written"] = html.unescape(window)
        for name, form in list(forms.items()):
            forms[name + ", compacted"] = _compacted(form).decode("utf-8", "surrogatepass")
        for name, form in forms.items():
            searched = tails.get(name, "") + form
            if "(0)" in searched or scanner.may_appear_in(searched):
                return True
            tails[name] = searched[-overlap:]
        if not chunk:
            return False


# -- the export ------------------------------------------------------------------------------------


def _rewound(handle) -> contextlib.AbstractContextManager:
    """An open file from its start again, left open (its owner closes it)."""
    handle.seek(0)
    return contextlib.nullcontext(handle)


def _unsafe_name(name: str) -> str | None:
    """Why a member name would climb out of the export, or None if it is a plain relative path."""
    if "\x00" in name:
        return "unsafe name (NUL)"
    normal = name.replace("\\", "/")
    if normal.startswith("/") or re.match(r"^[A-Za-z]:", normal):
        return "unsafe name (absolute path)"
    if ".." in normal.split("/"):
        return "unsafe name (path traversal)"
    return None


class _Reader:
    def __init__(self, scanner: LeakScanner | None, limits: Limits):
        self.scanner, self.limits = scanner, limits
        self.findings = _Findings()
        self.reading = ExportReading()
        self.total = [0]
        self.members = 0
        self.given_back: list[tuple[str, str]] = []  # (file, why) the fast reader left to the reader above
        self.searched_first: list[tuple[str, bool]] = []  # (HTML, XML or text file, may hold a value?)

    def skip(self, file: str, reason: str) -> None:
        self.reading.skipped.append(Skipped(file, reason))

    def read_stream(self, file: str, source, cap: int, depth: int,
                    reopen: Callable[[], contextlib.AbstractContextManager] | None = None) -> None:
        """Read one file (a ZIP member or a file of a directory) from a binary stream; `reopen`
        gives the stream again from its start (for a JSON or CSV file the fast reader gave up on)."""
        counter = [0]
        # past what is left of the total, the member is cut off and the total check below raises
        cap = min(cap, self.limits.max_member, self.limits.max_total - self.total[0] + 1)
        head = source.read(_HEAD)
        stream = _Capped(head, source, cap, counter)
        stack = contextlib.ExitStack()
        try:
            if head.startswith(b"PK\x03\x04") or PurePosixPath(file).suffix.lower() == ".zip":
                self._read_nested(file, stream, depth)
                return
            if not head.strip():
                self.skip(file, "empty")
                return
            encoding = _encoding_of(head)
            if encoding is None or head.startswith(_BINARY_MAGIC):
                self.skip(file, "binary (not text)")
                return
            kind = _kind_of(file, head[:4096].decode(encoding, "replace"))

            if kind in ("json", "csv") and reopen is not None and self._read_fast(file, kind, stream, encoding):
                self.reading.files_read += 1
                return
            if reopen is not None and kind in ("json", "csv"):
                counter[0] = 0  # the bytes of the reading below count, not those of the one given up
                source = stack.enter_context(reopen())
                stream = _Capped(source.read(_HEAD), source, cap, counter)

            search = True
            if kind in ("html", "xml", "text") and reopen is not None and self.scanner is not None \
                    and self.scanner.pattern_count:
                search = self._may_hold_values(file, kind, stream, encoding)
                counter[0] = 0  # the bytes of the reading below count, not those of the search
                source = stack.enter_context(reopen())
                stream = _Capped(source.read(_HEAD), source, cap, counter)

            def scan_of(render, whole_text=False):
                return _FileScan(file, self.scanner, self.findings, render, whole_text, search=search)

            if kind == "json":
                _read_json(stream, encoding, scan_of)
            elif kind == "xml":
                _read_xml(stream, scan_of)
            else:
                text = io.TextIOWrapper(io.BufferedReader(stream, 65536), encoding, "replace",
                                        newline="" if kind == "csv" else None)
                {"csv": _read_csv, "html": _read_html, "jsonl": _read_jsonl, "text": _read_text}[kind](text, scan_of)
            self.reading.files_read += 1
        except _TooLong as exc:
            self.skip(file, f"cut off: {exc}")
        except ExportError:
            raise
        except Exception as exc:  # a malformed member: what was read counts, the rest of the export is read
            self.skip(file, f"malformed: {type(exc).__name__}: {str(exc)[:200]}")
        finally:
            stack.close()
            self.reading.bytes_read += counter[0]
            self.total[0] += counter[0]
            if self.total[0] > self.limits.max_total:
                raise ExportError(f"the export is larger than the limit of {self.limits.max_total} bytes "
                                  f"uncompressed (reached in {file})")

    def _read_fast(self, file: str, kind: str, stream, encoding: str) -> bool:
        """Read a JSON or CSV file with its fast reader; False (and nothing kept) where it gave up."""
        findings = _Findings()

        def scan_of(render, whole_text=False):
            return _FileScan(file, self.scanner, findings, render, whole_text, remember=True)

        try:
            if kind == "json":
                _read_json_fast(stream, encoding, scan_of, _Hits(self.scanner))
            else:
                text = io.TextIOWrapper(io.BufferedReader(stream, 65536), encoding, "replace", newline="")
                _read_csv_fast(text, scan_of, _Hits(self.scanner))
        except Exception as exc:  # _Fallback, a malformed file, a file cut off: it is read again the exact way
            self.given_back.append((file, f"{type(exc).__name__}: {str(exc)[:80]}"))
            return False
        self.findings.merge(findings)
        return True

    def _may_hold_values(self, file: str, kind: str, stream, encoding: str) -> bool:
        """Whether an HTML, XML or text file may hold a value (see `_may_hold_values`); True where
        its text cannot be read to its end (the reading that follows says why)."""
        text = io.TextIOWrapper(io.BufferedReader(stream, 65536), encoding, "replace")
        try:
            holds = _may_hold_values(self.scanner, kind, text, encoding)
        except Exception:  # cut off, a damaged member: what the reader finds before that still counts
            holds = True
        self.searched_first.append((file, holds))
        return holds

    def _read_nested(self, file: str, stream, depth: int) -> None:
        if depth >= self.limits.max_depth:
            self.skip(file, f"ZIP nested deeper than {self.limits.max_depth} levels, not read")
            return
        data = io.BufferedReader(stream).read(self.limits.max_nested_zip + 1)
        if len(data) > self.limits.max_nested_zip:
            self.skip(file, f"nested ZIP larger than {self.limits.max_nested_zip} bytes, not read")
            return
        try:
            archive = zipfile.ZipFile(io.BytesIO(data))
        except zipfile.BadZipFile as exc:
            self.skip(file, f"malformed: not a readable ZIP ({exc})")
            return
        self.read_zip(archive, file + "!", depth + 1)

    def read_zip(self, archive: zipfile.ZipFile, prefix: str, depth: int) -> None:
        infos = [info for info in archive.infolist() if not info.is_dir()]
        limits = self.limits
        self.members += len(infos)
        if self.members > limits.max_members:
            raise ExportError(f"the export has more than {limits.max_members} files")
        declared = 0
        for info in infos:
            declared += info.file_size
            ratio = info.file_size / max(info.compress_size, 1)
            if info.file_size > limits.ratio_floor and ratio > limits.max_ratio:
                raise ExportError(f"{prefix}{info.filename} expands {ratio:.0f} times (a ZIP bomb?): the limit is "
                                  f"{limits.max_ratio}; nothing was inflated")
        if self.total[0] + declared > limits.max_total:
            raise ExportError(f"{prefix or 'the export'} declares {declared} bytes uncompressed, more than the "
                              f"limit of {limits.max_total}; nothing was inflated")
        for info in infos:
            name = prefix + info.filename
            if why := _unsafe_name(info.filename):
                self.skip(name, why)
                continue
            if info.flag_bits & 0x1:
                self.skip(name, "encrypted")
                continue
            if info.file_size > limits.max_member:
                self.skip(name, f"larger than the limit of {limits.max_member} bytes per file")
                continue
            try:
                with archive.open(info) as member:
                    # A member may inflate to more than it declares: the cap is what it declared.
                    self.read_stream(name, member, info.file_size, depth, lambda info=info: archive.open(info))
            except (zipfile.BadZipFile, zipfile.LargeZipFile, NotImplementedError, OSError, EOFError,
                    RuntimeError) as exc:
                self.skip(name, f"malformed: {exc}")

    def read_directory(self, root: Path) -> None:
        for folder, dirs, files in os.walk(root, followlinks=False):
            dirs.sort()
            for name in sorted(files) + sorted(d for d in dirs if os.path.islink(os.path.join(folder, d))):
                path = Path(folder, name)
                relative = path.relative_to(root).as_posix()
                info = os.lstat(path)
                if stat.S_ISLNK(info.st_mode):
                    self.skip(relative, "symbolic link, not followed")
                    continue
                if not stat.S_ISREG(info.st_mode):
                    self.skip(relative, "not a regular file")
                    continue
                self.members += 1
                if self.members > self.limits.max_members:
                    raise ExportError(f"the export has more than {self.limits.max_members} files")
                self.read_path(path, relative, top=False)

    def read_path(self, path: Path, name: str, top: bool) -> None:
        """Read a file on disk: the export itself (`top`: its members are named without a prefix, and
        a damaged ZIP is an error) or a file of an export directory."""
        try:
            handle = path.open("rb")
        except OSError as exc:
            self.skip(name, f"unreadable: {exc.strerror or exc}")
            return
        with handle:
            if zipfile.is_zipfile(handle):
                handle.seek(0)
                try:
                    archive = zipfile.ZipFile(handle)
                except zipfile.BadZipFile as exc:
                    raise ExportError(f"{name} is not a readable ZIP: {exc}") from None
                self.read_zip(archive, "" if top else name + "!", 1)
                return
            handle.seek(0)
            if handle.read(4) == b"PK\x03\x04" or path.suffix.lower() == ".zip":
                message = f"{name} is a truncated or damaged ZIP (no central directory): nothing could be read"
                if top:
                    raise ExportError(message)
                self.skip(name, "malformed: truncated or damaged ZIP")
                return
            handle.seek(0)
            self.read_stream(name, handle, self.limits.max_member, 0, lambda: _rewound(handle))

    def result(self) -> ExportReading:
        reading = self.reading
        reading.values = [ValueFound(*v) for v in self.findings.values.values()]
        reading.categories = [CategoryFound(*c) for c in self.findings.categories.values()]
        return reading


def read_export(path: str | os.PathLike, values: Iterable[tuple] | LeakScanner = (), *,
                limits: Limits = Limits(), default_country_code: str | None = None) -> ExportReading:
    """Read the export at `path` (ZIP, directory or one file) and find `values` and categories in it.

    `values`: (kind, value, value_id) triples as `LeakScanner` takes them, or a built scanner.
    Raises InputError when `path` cannot be read, ExportError when the export as a whole is unsafe or
    unreadable (a ZIP bomb, past `limits`, a truncated ZIP); a bad file inside is only skipped.
    """
    root = Path(path)
    if isinstance(values, LeakScanner):
        scanner = values
    else:
        values = list(values)
        scanner = LeakScanner(values, default_country_code=default_country_code) if values else None
    reader = _Reader(scanner, limits)
    try:
        info = root.stat()
    except OSError as exc:
        raise InputError(f"cannot read {root}: {exc.strerror or exc}") from None
    if stat.S_ISDIR(info.st_mode):
        reader.read_directory(root)
    elif stat.S_ISREG(info.st_mode):
        reader.read_path(root, root.name, top=True)
    else:
        raise InputError(f"{root} is neither a file nor a directory")
    return reader.result()
