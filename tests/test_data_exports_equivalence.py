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
