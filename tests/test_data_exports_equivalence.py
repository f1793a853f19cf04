"""The fast readers of `whoknows.data_exports` (JSON and CSV searched whole, fields looked at only
where the automaton points) find exactly what the reader before them found: on varied synthetic
exports (nested JSON arrays, CSV in odd encodings and separators, HTML, XML, text, nested ZIPs;
the user's values in every encoding the leak scanner knows, split across lines, at the edges of
files and of the fast reader's window), `read_export` gives the same values, categories, skipped
files and counts as the reader kept in tests/support/data_exports_before.py (the code before the
fast path). Each case also says whether the fast reader read the file or gave it back to the
event-by-event reader, so the comparison is known to cover the fast path."""

import base64
import codecs
import csv
import hashlib
import io
import json
import random
import zipfile
from urllib.parse import quote, quote_plus

import pytest

from whoknows import data_exports
from whoknows.data_exports import Limits, read_export
from whoknows.leakscan import LeakScanner

from .support import data_exports_before as before

EMAIL, PHONE, STREET, ALIAS, NAME = ("ana.garcia@example.com", "+34 600 111 222", "Calle Mayor 5",
                                     "shop.3f9a@alias.example", "Ana García")
VALUES = [("email", EMAIL, "email#1"), ("phone", PHONE, "phone#1"), ("address", STREET, "address#1"),
          ("alias", ALIAS, "alias#1"), ("name", NAME, "name#1"), ("birthday", "1990-05-17", "birthday#1")]


def encodings_of(value: str) -> list[str]:
    """The user's value as exports and trackers write it: typed, other case, percent-encoded,
    base64 (padded, not, URL-safe), hex digests of the normalised form (lower and upper case)."""
    raw = value.encode()
    normal = value.strip().lower().encode()
    b64 = base64.b64encode(raw).decode()
    return [value, value.upper(), value.lower(), quote(value, safe=""), quote_plus(value), b64, b64.rstrip("="),
            base64.urlsafe_b64encode(raw).decode().rstrip("="), hashlib.md5(normal).hexdigest(),
            hashlib.sha1(normal).hexdigest().upper(), hashlib.sha256(normal).hexdigest()]


PHONES = ["600 111 222", "600111222", "+34600111222", "0034 600-111-222", "+34 (0)600 111 222", "(600) 111.222",
          "34600111222", "6001112223", "+34 600 111 22"]
NOISE = ["203.0.113.7", "2001:db8::1", "2025-01-02T10:00:00Z", "ES91 2100 0418 4502 0005 1332", "**** 4242",
         "40.4168, -3.7038", "kettle lamp", "", "x", "1990-05-17", "17/05/1990", "19900517", "Calle Mayor 50",
         "xana.garcia@example.com", "ana.garcia@example.com.evil.org", "SKU-600111222", "Ωmega", "straße"]
KEYS = ["email", "phone", "shippingPhone", "street", "city", "ip_address", "deviceId", "segments", "sharedWith",
        "orderId", "total", "note", "fecha_nacimiento", "name", "lat", "items", "status", "iban", "x"]


def a_value(rng: random.Random, csv_cell: bool = False):
    roll = rng.random()
    if roll < 0.25:
        return rng.choice(encodings_of(rng.choice([EMAIL, ALIAS, STREET, NAME, "1990-05-17"])))
    if roll < 0.4:
        return rng.choice(PHONES)
    if roll < 0.5:
        return rng.choice([600111222, 34600111222, 19900517, 12.5, -3, 0, 6.00111222e8, True, None])
    if roll < 0.5015 and not csv_cell:
        return rng.choice([10**20, float("nan"), "ΟΔΟΣ"])  # read differently by yajl; a sigma
    if roll < 0.55 and not csv_cell:  # inside a longer text, or split across lines
        return rng.choice([f"Send to {STREET}, Madrid", f"mail {EMAIL}\nor {PHONE}", "Calle\nMayor 5",
                           f"{EMAIL[:8]}\n{EMAIL[8:]}", f"tel:{PHONES[0]}"])
    return rng.choice(NOISE)


def a_record(rng: random.Random, depth: int = 0):
    record = {}
    for _ in range(rng.randint(1, 6)):
        key = rng.choice(KEYS)
        roll = rng.random()
        if depth < 3 and roll < 0.15:
            record[key] = a_record(rng, depth + 1)
        elif depth < 3 and roll < 0.25:
            record[key] = [a_record(rng, depth + 1) if rng.random() < 0.6 else a_value(rng)
                           for _ in range(rng.randint(0, 4))]
        else:
            record[key] = a_value(rng)
    return record


def a_json(rng: random.Random, records: int) -> bytes:
    document = {"account": a_record(rng), "orders": [a_record(rng) for _ in range(records)],
                "marketing": {"segments": ["new parents", "travel"], "sharedWith": [{"partner": "ads.example"}]}}
    if rng.random() < 0.3:
        document = document["orders"]  # an array at the top
    text = json.dumps(document, ensure_ascii=rng.random() < 0.4, indent=rng.choice([None, 1, 2]),
                      separators=rng.choice([None, (",", ":"), (", ", " : ")]))
    encoding = rng.choice(["utf-8", "utf-8", "utf-8", "utf-8-sig", "utf-16"])
    return text.encode(encoding)


def a_csv(rng: random.Random, rows: int) -> bytes:
    separator = rng.choice([",", ";", "\t", "|"])
    header = rng.sample(["Pedido", "email", "Teléfono", "ip_address", "Dirección de envío", "segment", "total",
                         "fecha", "notes", "phone"], rng.randint(2, 7))
    out = io.StringIO()
    writer = csv.writer(out, delimiter=separator, lineterminator=rng.choice(["\r\n", "\n"]),
                        quoting=rng.choice([csv.QUOTE_MINIMAL] * 4 + [csv.QUOTE_ALL]))
    writer.writerow(header)
    for _ in range(rows):
        width = len(header) + (1 if rng.random() < 0.02 else 0)
        writer.writerow([str(a_value(rng, csv_cell=rng.random() < 0.995)) if rng.random() < 0.8 else ""
                         for _ in range(width)])
    text = out.getvalue()
    if rng.random() < 0.05:
        text = text.replace("\r\n", "\r")  # old Mac line ends
    encoding = rng.choice(["utf-8", "utf-8", "utf-8-sig", "utf-16", "cp1252"])
    return text.encode(encoding, "replace")


def a_text(rng: random.Random) -> bytes:
    lines = [f"{rng.choice(['Email', 'Teléfono', 'Dirección', 'Note'])}: {a_value(rng)}" for _ in range(30)]
    return "\n".join(lines).encode(rng.choice(["utf-8", "cp1252"]), "replace")


def an_html(rng: random.Random) -> bytes:
    cells = "".join(f"<tr><th>{rng.choice(KEYS)}</th><td>{a_value(rng)}</td></tr>" for _ in range(20))
    return (f"<!DOCTYPE html><html><body><table>{cells}</table>"
            f"<input name='iban' value='{a_value(rng)}'></body></html>").encode()


def an_xml(rng: random.Random) -> bytes:
    items = "".join(f"<{k}>{str(a_value(rng)).replace('&', '')}</{k}>" for k in rng.sample(KEYS, 6))
    return f'<?xml version="1.0"?><customer id="{a_value(rng)}">{items}</customer>'.encode()


def zipped(members: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    return buffer.getvalue()


def an_export(rng: random.Random) -> dict[str, bytes]:
    members = {"account/orders.json": a_json(rng, rng.randint(20, 80)), "activity/events.csv": a_csv(rng, 300)}
    for n in range(rng.randint(1, 4)):
        kind = rng.choice(["json", "json", "csv", "csv", "txt", "html", "xml", "ndjson"])
        if kind == "json":
            members[f"data/orders_{n}.json"] = a_json(rng, rng.randint(0, 60))
        elif kind == "csv":
            members[f"data/events_{n}.csv"] = a_csv(rng, rng.randint(0, 200))
        elif kind == "txt":
            members[f"README_{n}.txt"] = a_text(rng)
        elif kind == "html":
            members[f"summary_{n}.html"] = an_html(rng)
        elif kind == "xml":
            members[f"profile_{n}.xml"] = an_xml(rng)
        else:
            members[f"log_{n}.ndjson"] = b"\n".join(json.dumps(a_record(rng)).encode() for _ in range(10))
    if rng.random() < 0.3:
        members["inner.zip"] = zipped({"nested/orders.json": a_json(rng, 20), "nested/e.csv": a_csv(rng, 30)})
    if rng.random() < 0.3:  # a file cut in the middle: malformed, what came before still counts
        name, data = rng.choice(sorted(members.items()))
        members["broken_" + name.rsplit("/", 1)[-1]] = data[: len(data) * 2 // 3]
    return members


EDGE_CASES = {
    "duplicate keys": b'{"email": "x", "email": "' + EMAIL.encode() + b'", "orders": [{"phone": 1}, {"phone": 2}]}',
    "spaced colons": b'{"email" : "' + EMAIL.encode() + b'", "orders" : [{"phone" :"600 111 222"}]}',
    "escaped quote and colon": b'{"note": "he said \\"hi\\": ' + EMAIL.encode() + b'"}',
    "lone surrogate": b'{"name": "\\ud800 ' + EMAIL.encode() + b'", "ok": "\\ud83d\\ude00"}',
    "NaN": b'{"phone": NaN, "email": "' + EMAIL.encode() + b'"}',
    "trailing text": b'{"email": "' + EMAIL.encode() + b'"} {"more": 1}',
    "control character": b'{"email": "a\tb ' + EMAIL.encode() + b'"}',
    "top-level string": b'"' + EMAIL.encode() + b'"',
    "top-level number": b"34600111222",
    "empty array": b"[]",
    "value at the very end": json.dumps({"a": ["x"] * 50 + [EMAIL]}).encode(),
    "value at the very start": EMAIL.encode() + b";x\n1;2\n",
    "key with a dot": json.dumps({"shipping.phone": PHONE, "a.b": {"email": EMAIL}}).encode(),
    "key named item": json.dumps({"item": [{"item": EMAIL}], "x": {"item": PHONE}}).encode(),
    "long string": json.dumps({"notes": "lorem ipsum " * 6000 + EMAIL + " dolor" * 5000, "e": EMAIL}).encode(),
    "invalid utf-8": b'{"email": "' + EMAIL.encode() + b'", "bad": "\xff\xfe"}',
    "kelvin sign": json.dumps({"email": EMAIL.replace("a", "\u212a"), "x": "\u212a"}, ensure_ascii=False).encode(),
    "sigma": json.dumps({"name": "ΟΔΟΣ", "email": EMAIL}, ensure_ascii=False).encode(),
    "csv quoted newline": f'email;note\n"{EMAIL}";"a\nb"\nx;"{PHONE}"\n'.encode(),
    "csv extra columns later": ("a;b\n" + "1;2\n" * 100 + f"3;4;{EMAIL};600 111 222\n").encode(),
    "csv empty column": ("email;empty;phone\n" + "x;;1\n" * 300 + f"{EMAIL};;600 111 222\n").encode(),
    "csv NUL": f"email;x\n{EMAIL};a\x00b\n".encode(),
    "csv huge field": ("email;x\n" + EMAIL + ";" + "z" * 140_000 + "\n").encode(),
    "csv field past the search window": ("email;x\n" + EMAIL + ";" + "zz " * 21_843 + "600 111 222\n").encode(),
    "csv lone CR": f"email;x\r{EMAIL};1\r".encode(),
    "a long list of numbers": json.dumps({"ids": list(range(600_000_000, 600_000_000 + 30_000)),
                                          "email": EMAIL}).encode(),
    "a long list of records": json.dumps({"orders": [{"phone": PHONE, "n": n} for n in range(3_000)]}).encode(),
}


# what the fast reader gives back to the event-by-event reader (every other case it reads itself)
GIVEN_BACK = {"NaN", "control character", "csv huge field", "csv lone CR", "duplicate keys", "lone surrogate", "sigma",
              "trailing text", "a long list of numbers"}


def canonical(reading) -> tuple:
    return (sorted(map(repr, reading.values)), sorted(map(repr, reading.categories)), reading.skipped,
            reading.files_read, reading.bytes_read)


def read_both(path, scanner, **kwargs):
    def outcome(reader):
        try:
            return canonical(reader(path, scanner, **kwargs))
        except Exception as exc:  # the same error, with the same message
            return (type(exc).__name__, str(exc))
    return outcome(read_export), outcome(before.read_export)


@pytest.fixture
def fast_reads(monkeypatch):
    """(file, read by the fast reader?) for each JSON and CSV file read."""
    reads = []
    read_fast = data_exports._Reader._read_fast

    def recorded(self, file, *args):
        done = read_fast(self, file, *args)
        reads.append((file, done))
        return done

    monkeypatch.setattr(data_exports._Reader, "_read_fast", recorded)
    return reads


@pytest.mark.parametrize("window", [1 << 20, 2048])
@pytest.mark.parametrize("seed", range(8))
def test_the_fast_reader_finds_exactly_what_the_reader_before_it_found(tmp_path, monkeypatch, fast_reads, seed,
                                                                      window):
    monkeypatch.setattr(data_exports, "_WINDOW", window)  # small: values and records across windows
    rng = random.Random(seed)
    (tmp_path / "export.zip").write_bytes(zipped(an_export(rng)))
    scanner = LeakScanner(VALUES, default_country_code="34")
    new, old = read_both(tmp_path / "export.zip", scanner)
    assert new == old
    assert any(done for _, done in fast_reads), fast_reads


def test_a_directory_and_single_files_read_the_same(tmp_path, fast_reads):
    rng = random.Random(99)
    members = an_export(rng)
    for name, data in members.items():
        path = tmp_path / "export" / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
    scanner = LeakScanner(VALUES, default_country_code="34")
    new, old = read_both(tmp_path / "export", scanner)
    assert new == old
    for name in members:
        new, old = read_both(tmp_path / "export" / name, scanner)
        assert new == old, name


@pytest.mark.parametrize("case", sorted(EDGE_CASES))
def test_edge_cases_read_the_same(tmp_path, monkeypatch, fast_reads, case):
    monkeypatch.setattr(data_exports, "_WINDOW", 16_384)  # the long lists are larger than the window
    data = EDGE_CASES[case]
    suffix = ".csv" if case.startswith("csv") or case == "value at the very start" else ".json"
    path = tmp_path / f"edge{suffix}"
    path.write_bytes(data)
    scanner = LeakScanner(VALUES, default_country_code="34")
    new, old = read_both(path, scanner)
    assert new == old
    assert new[0] or new[1] or new[2] or case == "empty array"  # found or skipped: the case tests something
    if case != "csv NUL":  # (binary: not read at all)
        assert fast_reads == [(path.name, case not in GIVEN_BACK)]


def test_limits_cut_off_and_refusals_read_the_same(tmp_path, fast_reads):
    rng = random.Random(7)
    members = {"a.json": a_json(rng, 200), "b.csv": a_csv(rng, 400), "c.json": a_json(rng, 5)}
    (tmp_path / "export.zip").write_bytes(zipped(members))
    scanner = LeakScanner(VALUES, default_country_code="34")
    for limits in (Limits(max_member=3000), Limits(max_total=len(members["a.json"]) + 500), Limits()):
        new, old = read_both(tmp_path / "export.zip", scanner, limits=limits)
        assert new == old, limits
    (tmp_path / "dir").mkdir()
    (tmp_path / "dir" / "a.json").write_bytes(members["a.json"])
    new, old = read_both(tmp_path / "dir", scanner, limits=Limits(max_member=3000))
    assert new == old and new[2] and "cut off" in new[2][0].reason


def test_the_bench_shapes_are_read_by_the_fast_reader(tmp_path, fast_reads):
    """The shapes of bench/bench_data_exports.py (orders with the user's values in 30% of them, CSV
    events with the alias in 5%): read fast, found the same."""
    import importlib.util
    from pathlib import Path

    spec = importlib.util.spec_from_file_location(
        "bench_data_exports", Path(__file__).resolve().parents[1] / "bench" / "bench_data_exports.py")
    bench = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bench)
    rng = random.Random(14)
    (tmp_path / "export.zip").write_bytes(zipped({"orders.json": bench.orders_json(rng, 400_000),
                                                  "events.csv": bench.events_csv(rng, 400_000)}))
    scanner = LeakScanner(bench.VALUES, default_country_code="34")
    new, old = read_both(tmp_path / "export.zip", scanner)
    assert new == old and len(new[0]) >= 4
    assert fast_reads == [("orders.json", True), ("events.csv", True)]


def test_without_values_a_json_file_still_gives_its_categories(tmp_path):
    """(The reader before the fast path never returned here: it computed 10 ** (2 ** 62).)"""
    (tmp_path / "p.json").write_text(json.dumps({"account": {"email": EMAIL, "lastLoginIp": "203.0.113.7"}}))
    reading = read_export(tmp_path / "p.json")
    assert reading.values == [] and {"contact", "ip-address"} <= set(reading.categories_held())


def test_the_encodings_used_here_are_the_ones_the_scanner_finds():
    """The values above are written in encodings the scanner really reports (else the comparison
    would only compare misses)."""
    scanner = LeakScanner(VALUES, default_country_code="34")
    found = {m.encoding for text in encodings_of(EMAIL) for m in scanner.scan_texts([(0, text)])}
    assert {"plain", "casefold", "url", "base64", "base64-nopad", "md5", "sha1-upper", "sha256"} <= found
    assert codecs.lookup("utf-16")


# -- HTML, XML and text: searched whole first, read for values only where that found something ------

# (the others hold the user's birthday, street or phone in a longer text: the whole-text search
# cannot tell them from a value, so the file is read as before)
CLEAN_NOISE = ["203.0.113.7", "2001:db8::1", "2025-01-02T10:00:00Z", "ES91 2100 0418 4502 0005 1332", "**** 4242",
               "40.4168, -3.7038", "kettle lamp", "", "x", "Ωmega", "straße", "Calle Menor 7"]


def a_clean_value(rng: random.Random) -> str:
    """Noise that holds none of the user's values (but shapes: IPs, IBANs, dates)."""
    return rng.choice(CLEAN_NOISE)


def an_html_without_values(rng: random.Random) -> bytes:
    cells = "".join(f"<tr><th>{rng.choice(KEYS)}</th><td>{a_clean_value(rng)} &amp; {a_clean_value(rng)}</td>"
                    f"<td title='{a_clean_value(rng)}'>&nbsp;{rng.choice(KEYS)}</td></tr>\n" for _ in range(40))
    return f"<!DOCTYPE html><html><body><h1>Your data</h1><table>{cells}</table></body></html>".encode()


def an_xml_without_values(rng: random.Random) -> bytes:
    items = "".join(f"<{k} at='{a_clean_value(rng)}'>{a_clean_value(rng)}</{k}>" for k in rng.sample(KEYS, 8))
    return f'<?xml version="1.0" encoding="UTF-8"?><customer>{items}<x><![CDATA[a < b]]></x></customer>'.encode()


def a_text_without_values(rng: random.Random) -> bytes:
    return "\n".join(f"{rng.choice(['Email', 'Teléfono', 'Note', 'IP'])}: {a_clean_value(rng)}"
                     for _ in range(30)).encode(rng.choice(["utf-8", "cp1252", "utf-16"]), "replace")


def html_page(body: str) -> bytes:
    return f"<!DOCTYPE html><html><head><title>Your data</title></head><body>{body}</body></html>".encode()


def xml_doc(body: str, declaration: str = '<?xml version="1.0"?>') -> bytes:
    return f"{declaration}<customer>{body}</customer>".encode()


SHA256_EMAIL = hashlib.sha256(EMAIL.encode()).hexdigest()
B64_EMAIL = base64.b64encode(EMAIL.encode()).decode()
CHUNK = 65536  # the HTML reader feeds its parser this many characters at a time
# name -> (file suffix, bytes, whether the whole-text search sends it to the full reader)
MARKUP_CASES = {
    "html without values": (".html", html_page("<p>Orders: 3</p><td>203.0.113.7</td>"), False),
    "html value in a cell": (".html", html_page(f"<table><tr><th>email</th><td>{EMAIL}</td></tr></table>"), True),
    "html value in character references": (".html", html_page("<td>ana.garcia&#64;example&#x2e;com</td>"), True),
    "html value split by a named reference": (".html", html_page("<p>Calle&nbsp;Mayor 5 &amp; Calle Mayor&#32;5</p>"),
                                              True),
    "html value in an attribute": (".html", html_page("<input name='street' value='Calle&#32;Mayor 5'>"), True),
    "html value in a script": (".html", html_page(f"<script>var e = '{EMAIL}'; if (a < b) {{}}</script>"), True),
    "html value in a comment only": (".html", html_page(f"<!-- {EMAIL} --><p>nothing</p>"), True),
    "html hostile markup": (".html", html_page(f"<p>a < b <<>> <! bogus <a href='mailto:{EMAIL}'>x</a>"
                                               "<td <td>> &bogus; &#99999999; &#x110000;</p></tr></table>"), True),
    "html hostile markup without values": (".html", html_page("<p>a < b <<>> <! bogus <td <td>> &bogus; "
                                                              "&#99999999; &# &; <?pi?></p></tr>"), False),
    "html value across the parser's chunks": (".html", html_page("x" * (CHUNK - 80) + " " + EMAIL + " y"), True),
    "html value glued at the parser's chunk": (".html", html_page("<p>" + "x" * (CHUNK - 95) + EMAIL + "</p>"),
                                               True),
    "html phone with spaces": (".html", html_page("<td>600 111 222</td><td>(600) 111.222</td>"), True),
    "html phone with a trunk zero": (".html", html_page("<td>+34 (0)600 111 222</td>"), True),
    "html capital sigma": (".html", html_page("<p>ΟΔΟΣ</p>"), True),
    "html long field": (".html", html_page("<p>" + "lorem ipsum " * 7000 + EMAIL + "</p>"), True),
    "html utf-16": (".html", html_page(f"<td>{NAME}</td><td>{PHONE}</td>").decode().encode("utf-16"), True),
    "html cp1252": (".html", html_page(f"<td>{NAME}</td>").decode().encode("cp1252"), True),
    "html many shapes no values": (".html", html_page("".join(f"<tr><td>ip</td><td>203.0.113.{i}</td></tr>"
                                                              for i in range(200))), False),
    "xml without values": (".xml", xml_doc("<ip>203.0.113.7</ip><total>12.5</total>"), False),
    "xml value in an element": (".xml", xml_doc(f"<email>{EMAIL}</email>"), True),
    "xml value in references": (".xml", xml_doc("<email>ana.garcia&#64;example.com</email><n>a &amp; b</n>"), True),
    "xml value in an attribute over lines": (".xml", xml_doc('<a street="Calle&#10;Mayor 5" b="Calle\nMayor 5"/>'),
                                             True),
    "xml value in CDATA": (".xml", xml_doc(f"<email><![CDATA[{EMAIL}]]></email>"), True),
    "xml value split by CDATA": (".xml", xml_doc("<email>ana.garcia<![CDATA[@example.com]]></email>"), True),
    "xml CDATA and references": (".xml", xml_doc("<n><![CDATA[&amp;]]></n><m>a &lt; b</m>"), True),
    "xml CDATA without values": (".xml", xml_doc("<n><![CDATA[a < b]]></n><ip>203.0.113.7</ip>"), False),
    "xml value split by a comment": (".xml", xml_doc("<email>ana.garcia<!-- x -->@example.com</email>"), True),
    "xml value split by a processing instruction": (".xml", xml_doc("<e>Calle <?pi x?>Mayor 5</e>"), True),
    "xml entity declaration": (".xml", b'<?xml version="1.0"?><!DOCTYPE c [<!ENTITY e "' + EMAIL.encode()
                               + b'">]><c><x>&e;</x></c>', True),
    "xml tail text": (".xml", xml_doc(f"<a>x</a>{EMAIL}<b>y</b>"), True),
    "xml namespaces": (".xml", xml_doc(f'<p:email xmlns:p="urn:x" p:kind="home">{EMAIL}</p:email>'), True),
    "xml malformed after a value": (".xml", xml_doc(f"<email>{EMAIL}</email><broken>")[:-11], True),
    "xml malformed without values": (".xml", xml_doc("<ip>203.0.113.7</ip><broken>")[:-11], False),
    "xml undefined entity": (".xml", xml_doc("<n>&copy; 2025</n><ip>203.0.113.7</ip>"), False),
    "xml declared latin-1": (".xml", xml_doc(f"<name>{NAME}</name>", '<?xml version="1.0" encoding="ISO-8859-1"?>')
                             .decode().encode("latin-1"), True),
    "xml invalid utf-8 late": (".xml", xml_doc("<n>" + "x " * 35_000 + "</n><b>x</b>")
                               .replace(b"<b>x", b"<b>\xff"), False),
    "text without values": (".txt", b"Note: nothing here\nIP: 203.0.113.7\nIBAN: ES91 2100 0418 4502 0005 1332\n",
                            False),
    "text value": (".txt", f"Email: {EMAIL}\nPhone: {PHONE}\n".encode(), True),
    "text hashed and encoded": (".txt", f"hash={SHA256_EMAIL}\nb64={B64_EMAIL}\nq={quote(STREET)}\n".encode(), True),
    "text value over two lines": (".txt", b"Street: Calle\nMayor 5\n", True),
    "text CRLF": (".txt", f"Street: {STREET}\r\nPhone: 600 111 222\r\n".encode(), True),
    "text old Mac line ends": (".txt", f"Street: x\r{EMAIL}\rend".encode(), True),
    "text utf-16": (".txt", f"Nombre: {NAME}\n".encode("utf-16"), True),
    "text cp1252 without values": (".txt", "Dirección: Calle Menor 7\nTeléfono: 912 345\n".encode("cp1252"), False),
    "text long line": (".txt", ("x " * 40_000 + EMAIL + "\n").encode(), True),
    "text value at a window's edge": (".txt", ("y" * (2048 - 7) + " " + EMAIL + "\n").encode(), True),
    "log without a suffix": ("", b"2025-01-01 login from 203.0.113.7 ok\n" * 50, False),
}

# where both readers find a value (elsewhere it is not a field's text: a comment, a value the HTML
# parser's chunk boundary or a line break cuts in two, a malformed or refused file)
FINDS_A_VALUE = {name for name in MARKUP_CASES if name.startswith(("html value", "xml value", "text value"))} - {
    "html value in a comment only", "html value across the parser's chunks", "html value glued at the parser's chunk",
    "text value over two lines"} | {
    "html cp1252", "html long field", "html phone with a trunk zero", "html phone with spaces", "html utf-16",
    "text CRLF", "text hashed and encoded", "text long line", "text old Mac line ends", "text utf-16",
    "xml declared latin-1", "xml malformed after a value", "xml namespaces", "xml tail text"}


@pytest.fixture
def searched_first(monkeypatch):
    """(file, may hold a value?) for each HTML, XML and text file searched whole first."""
    searches = []
    search = data_exports._Reader._may_hold_values

    def recorded(self, file, *args):
        holds = search(self, file, *args)
        searches.append((file, holds))
        return holds

    monkeypatch.setattr(data_exports._Reader, "_may_hold_values", recorded)
    return searches


@pytest.mark.parametrize("case", sorted(MARKUP_CASES))
def test_markup_and_text_files_read_the_same(tmp_path, monkeypatch, searched_first, case):
    monkeypatch.setattr(data_exports, "_WINDOW", 2048)  # values across the whole-text search's windows
    suffix, data, holds = MARKUP_CASES[case]
    path = tmp_path / f"member{suffix}"
    path.write_bytes(data)
    scanner = LeakScanner(VALUES, default_country_code="34")
    new, old = read_both(path, scanner)
    assert new == old
    assert searched_first == [(path.name, holds)]
    assert bool(new[0]) == (case in FINDS_A_VALUE), "the case holds a value the readers find, or none"
    # the same file inside a ZIP, the whole-text search reading the member twice
    (tmp_path / "export.zip").write_bytes(zipped({f"a/member{suffix}": data, "b.json": b'{"x": 1}'}))
    new, old = read_both(tmp_path / "export.zip", scanner)
    assert new == old


def test_files_without_values_still_give_their_categories(tmp_path, searched_first):
    rng = random.Random(5)
    members = {"summary.html": an_html_without_values(rng), "profile.xml": an_xml_without_values(rng),
               "notes.txt": a_text_without_values(rng)}
    (tmp_path / "export.zip").write_bytes(zipped(members))
    scanner = LeakScanner(VALUES, default_country_code="34")
    new, old = read_both(tmp_path / "export.zip", scanner)
    assert new == old
    assert sorted(searched_first) == [("notes.txt", False), ("profile.xml", False), ("summary.html", False)]
    assert not new[0] and len(new[1]) >= 5, "no values, but categories from names and shapes"


@pytest.mark.parametrize("seed", range(6))
def test_markup_heavy_exports_read_the_same(tmp_path, monkeypatch, searched_first, seed):
    monkeypatch.setattr(data_exports, "_WINDOW", 4096)
    rng = random.Random(1000 + seed)
    members = {}
    for n in range(8):
        kind = rng.choice(["html", "xml", "txt"])
        clean = rng.random() < 0.5
        if kind == "html":
            members[f"pages/p_{n}.html"] = an_html_without_values(rng) if clean else an_html(rng)
        elif kind == "xml":
            members[f"xml/x_{n}.xml"] = an_xml_without_values(rng) if clean else an_xml(rng)
        else:
            members[f"notes_{n}.txt"] = a_text_without_values(rng) if clean else a_text(rng)
    if rng.random() < 0.5:
        name, data = rng.choice(sorted(members.items()))
        members["broken_" + name.rsplit("/", 1)[-1]] = data[: len(data) * 2 // 3]
    (tmp_path / "export.zip").write_bytes(zipped(members))
    scanner = LeakScanner(VALUES, default_country_code="34")
    for limits in (Limits(), Limits(max_member=1500)):
        new, old = read_both(tmp_path / "export.zip", scanner, limits=limits)
        assert new == old
    assert {holds for _, holds in searched_first} == {True, False}, searched_first
