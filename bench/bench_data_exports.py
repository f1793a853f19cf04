"""Cost of reading a vendor's data export (`whoknows.data_exports.read_export`): a generated ~200 MB
(uncompressed) ZIP of JSON (accounts with arrays of orders) and CSV (order lines, events with IPs),
the user's values (email, phone, street address, an alias) in some of its records.

Each reading runs in a fresh child process that reports its RSS after imports and setup (its
baseline) and its peak RSS (VmHWM) after the reading, so the memory figure is what reading adds.
Baselines, measured in the same run on the same file:
- floor: iterating the ZIP's members with `zipfile` and reading them in 1 MB chunks (inflating only);
- the CSV members read with `csv.reader` and the JSON members with `ijson.basic_parse` (parsing only).

Goals: read_export <= 10 s, peak RSS <= 100 MB above the child's baseline. On a shared machine the
wall time follows the load: the load average is printed, and each reading's CPU seconds too.

`--markup`: an export of HTML pages, XML documents and text logs instead (a fifth of them with the
user's values), read by read_export, by the reader before the whole-text search of HTML, XML and
text files (tests/support/data_exports_before.py, the oracle of the differential tests) and by the
parsers alone (html.parser, defusedxml's iterparse, lines), in the same run. There is no goal for
it; the ratio to the reader before is the point.
Usage: python bench/bench_data_exports.py [--markup] [MEGABYTES]   (default 200, --markup 40)
"""

from __future__ import annotations

import csv
import io
import json
import os
import random
import subprocess
import sys
import tempfile
import time
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

VALUES = [("email", "ana.garcia@example.com", "email"), ("phone", "+34 600 111 222", "phone"),
          ("address", "Calle Mayor 5", "address"), ("alias", "shop.3f9a@alias.example", "alias")]
GOAL_SECONDS, GOAL_MB = 10.0, 100.0
WORDS = "kettle lamp chair towel sofa mug pan rug shelf desk book pen cable".split()


def orders_json(rng: random.Random, size: int) -> bytes:
    """An account export of about `size` bytes: profile, orders with items and shipping, sessions."""
    orders, total = [], 0
    while total < size:
        mine = rng.random() < 0.3
        order = {
            "orderId": f"{rng.getrandbits(40):x}", "placedAt": "2025-%02d-%02dT10:%02d:00Z" % (
                rng.randint(1, 12), rng.randint(1, 28), rng.randint(0, 59)),
            "status": rng.choice(["delivered", "returned", "cancelled"]), "total": round(rng.random() * 200, 2),
            "items": [{"sku": f"SKU-{rng.randint(1, 99999)}", "title": " ".join(rng.choices(WORDS, k=3)),
                       "qty": rng.randint(1, 4), "price": round(rng.random() * 50, 2)}
                      for _ in range(rng.randint(1, 4))],
            "shipping": {"name": "Ana García" if mine else "Someone Else",
                         "street": "Calle Mayor 5" if mine else f"Calle {rng.choice(WORDS)} {rng.randint(1, 99)}",
                         "city": "Madrid", "postcode": "28013",
                         "phone": "600 111 222" if mine else f"6{rng.randint(10**7, 10**8 - 1)}"},
            "device": {"ip": f"203.0.113.{rng.randint(1, 254)}", "userAgent": "Mozilla/5.0 (X11; Linux x86_64)"},
        }
        text = json.dumps(order, ensure_ascii=False)
        total += len(text) + 2
        orders.append(order)
    return json.dumps({"account": {"email": "ana.garcia@example.com", "segments": ["home", "travel"]},
                       "orders": orders}, ensure_ascii=False, indent=1).encode()


def events_csv(rng: random.Random, size: int) -> bytes:
    out = io.StringIO()
    writer = csv.writer(out, delimiter=";")
    writer.writerow(["event_id", "timestamp", "ip_address", "page", "email", "segment", "latitude,longitude"])
    while out.tell() < size:
        writer.writerow([rng.getrandbits(48), f"2025-06-{rng.randint(1, 28):02d}T12:00:00Z",
                         f"198.51.100.{rng.randint(1, 254)}", f"/p/{rng.choice(WORDS)}/{rng.randint(1, 9999)}",
                         "shop.3f9a@alias.example" if rng.random() < 0.05 else "",
                         rng.choice(["bargain hunter", "new parent", ""]), "40.4168, -3.7038"])
    return out.getvalue().encode("utf-8")


def write_export(path: Path, megabytes: int) -> int:
    rng = random.Random(14)
    member = 25 * 1024 * 1024
    count = max(2, megabytes * 1024 * 1024 // member)
    written = 0
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED, compresslevel=1) as archive:
        for n in range(count):
            data = orders_json(rng, member) if n % 2 == 0 else events_csv(rng, member)
            name = f"account/orders_{n}.json" if n % 2 == 0 else f"activity/events_{n}.csv"
            archive.writestr(name, data)
            written += len(data)
    return written


def summary_html(rng: random.Random, size: int, mine: bool) -> bytes:
    """An account summary page: a table of orders (items, IPs, street addresses)."""
    rows, total = [], 0
    while total < size:
        street = "Calle Mayor 5" if mine and rng.random() < 0.3 else f"Calle {rng.choice(WORDS)} {rng.randint(1, 99)}"
        row = (f"<tr><td>{rng.getrandbits(40):x}</td><td>{' '.join(rng.choices(WORDS, k=3))} &amp; co</td>"
               f"<td>203.0.113.{rng.randint(1, 254)}</td><td class='addr'>{street}</td>"
               f"<td><input name='qty' value='{rng.randint(1, 9)}'></td></tr>\n")
        rows.append(row)
        total += len(row)
    return ("<!DOCTYPE html><html><head><title>Your data</title></head><body><h1>Orders</h1><table>"
            "<tr><th>Order</th><th>Items</th><th>IP address</th><th>Shipping address</th><th>Qty</th></tr>\n"
            + "".join(rows) + "</table></body></html>").encode()


def profile_xml(rng: random.Random, size: int, mine: bool) -> bytes:
    rows, total = [], 0
    while total < size:
        phone = "600 111 222" if mine and rng.random() < 0.3 else f"6{rng.randint(10**7, 10**8 - 1)}"
        row = (f'<order id="{rng.getrandbits(40):x}" status="delivered"><item qty="{rng.randint(1, 4)}">'
               f"{' '.join(rng.choices(WORDS, k=3))}</item><ip>203.0.113.{rng.randint(1, 254)}</ip>"
               f"<phone>{phone}</phone><note><![CDATA[left at the door]]></note></order>\n")
        rows.append(row)
        total += len(row)
    return ('<?xml version="1.0" encoding="UTF-8"?><orders>\n' + "".join(rows) + "</orders>").encode()


def activity_log(rng: random.Random, size: int, mine: bool) -> bytes:
    lines, total = [], 0
    while total < size:
        who = "ana.garcia@example.com" if mine and rng.random() < 0.3 else f"user{rng.randint(1, 10**6)}"
        line = (f"2025-06-{rng.randint(1, 28):02d}T12:00:00Z login ok from 198.51.100.{rng.randint(1, 254)} "
                f"as {who} page=/p/{rng.choice(WORDS)}/{rng.randint(1, 9999)}\n")
        lines.append(line)
        total += len(line)
    return "".join(lines).encode()


def write_markup_export(path: Path, megabytes: int) -> int:
    rng = random.Random(15)
    member = 2 * 1024 * 1024
    written = 0
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED, compresslevel=1) as archive:
        for n in range(max(3, megabytes * 1024 * 1024 // member)):
            mine = n % 5 == 0
            kind = n % 3
            data = (summary_html, profile_xml, activity_log)[kind](rng, member, mine)
            archive.writestr(f"{('pages', 'xml', 'logs')[kind]}/{n}.{('html', 'xml', 'log')[kind]}", data)
            written += len(data)
    return written


CHILD = r"""
import json, sys, time, zipfile
sys.path.insert(0, sys.argv[3])
mode, path = sys.argv[1], sys.argv[2]

def status(field):
    for line in open("/proc/self/status"):
        if line.startswith(field + ":"):
            return int(line.split()[1]) / 1024

if mode in ("export", "before"):
    from whoknows.leakscan import LeakScanner
    if mode == "export":
        from whoknows.data_exports import read_export
    else:
        sys.path.insert(0, sys.argv[3] + "/tests/support")
        from data_exports_before import read_export
    scanner = LeakScanner(json.loads(sys.argv[4]), default_country_code="34")
    work = lambda: read_export(path, scanner)
elif mode == "markup-parse":
    import io
    from html.parser import HTMLParser
    from defusedxml.ElementTree import iterparse
    def work():
        with zipfile.ZipFile(path) as archive:
            for info in archive.infolist():
                with archive.open(info) as member:
                    if info.filename.endswith(".xml"):
                        for _, element in iterparse(member, events=("start", "end")):
                            element.clear()
                        continue
                    text = io.TextIOWrapper(member, "utf-8")
                    if info.filename.endswith(".html"):
                        parser = HTMLParser()
                        while chunk := text.read(65536):
                            parser.feed(chunk)
                        parser.close()
                    else:
                        for _ in text:
                            pass
elif mode == "parse":
    import csv, io, ijson
    def work():
        with zipfile.ZipFile(path) as archive:
            for info in archive.infolist():
                with archive.open(info) as member:
                    if info.filename.endswith(".json"):
                        for _ in ijson.basic_parse(member):
                            pass
                    else:
                        for _ in csv.reader(io.TextIOWrapper(member, "utf-8"), delimiter=";"):
                            pass
else:
    def work():
        with zipfile.ZipFile(path) as archive:
            for info in archive.infolist():
                with archive.open(info) as member:
                    while member.read(1 << 20):
                        pass
base = status("VmRSS")
start, cpu = time.perf_counter(), time.process_time()
result = work()
seconds, cpu = time.perf_counter() - start, time.process_time() - cpu
summary = None
if mode in ("export", "before"):
    summary = {"values": len(result.values), "categories": result.categories_held(), "skipped": len(result.skipped),
               "files": result.files_read, "mb": result.bytes_read / 1e6}
print(json.dumps({"seconds": seconds, "cpu": cpu, "base_mb": base, "peak_mb": status("VmHWM"), "summary": summary}))
"""


def run_child(mode: str, path: Path) -> dict:
    done = subprocess.run([sys.executable, "-c", CHILD, mode, str(path), str(ROOT), json.dumps(VALUES)],
                          capture_output=True, text=True, check=True)
    return json.loads(done.stdout)


def markup_main(megabytes: int) -> int:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "export.zip"
        size = write_markup_export(path, megabytes)
        print(f"export: {size / 1e6:.0f} MB uncompressed of HTML, XML and logs (a fifth with the user's values)")
        load = os.getloadavg()[0]
        runs = {"read_export": run_child("export", path), "reader before (oracle)": run_child("before", path),
                "parsers alone": run_child("markup-parse", path)}
    print(f"load average (1 min) {load:.1f} before, {os.getloadavg()[0]:.1f} after, on {os.cpu_count()} CPUs")
    print(f"{'':28}{'seconds':>9}{'cpu s':>8}{'MB/s':>8}{'peak over base MB':>19}")
    for name, run in runs.items():
        print(f"{name:28}{run['seconds']:9.2f}{run['cpu']:8.2f}{size / 1e6 / run['seconds']:8.1f}"
              f"{run['peak_mb'] - run['base_mb']:19.1f}")
    new, old, parse = runs["read_export"], runs["reader before (oracle)"], runs["parsers alone"]
    print(f"found: {new['summary']}")
    print(f"same findings as the reader before: {new['summary'] == old['summary']}")
    print(f"read_export / reader before: {new['seconds'] / old['seconds']:.2f}x (cpu {new['cpu'] / old['cpu']:.2f}x)")
    print(f"read_export / parsers alone: {new['seconds'] / parse['seconds']:.2f}x (cpu {new['cpu'] / parse['cpu']:.2f}x)")
    return 0 if new["summary"] == old["summary"] else 1


def main() -> int:
    args = sys.argv[1:]
    if "--markup" in args:
        args.remove("--markup")
        return markup_main(int(args[0]) if args else 40)
    megabytes = int(args[0]) if args else 200
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "export.zip"
        start = time.perf_counter()
        size = write_export(path, megabytes)
        print(f"export: {size / 1e6:.0f} MB uncompressed, {path.stat().st_size / 1e6:.0f} MB zipped "
              f"(generated in {time.perf_counter() - start:.0f} s)")
        load = os.getloadavg()[0]
        floor, parse, export = run_child("floor", path), run_child("parse", path), run_child("export", path)
    print(f"load average (1 min) {load:.1f} before, {os.getloadavg()[0]:.1f} after, on {os.cpu_count()} CPUs")
    print(f"{'':44}{'seconds':>9}{'cpu s':>8}{'MB/s':>8}{'RSS base MB':>13}{'peak over base':>16}")
    for name, run in [("read_export (values, categories)", export),
                      ("baseline: ijson events + csv.reader", parse),
                      ("floor: zipfile members read, no parsing", floor)]:
        print(f"{name:44}{run['seconds']:9.2f}{run['cpu']:8.2f}{size / 1e6 / run['seconds']:8.0f}{run['base_mb']:13.1f}"
              f"{run['peak_mb'] - run['base_mb']:16.1f}")
    print(f"found: {export['summary']}")
    print(f"read_export / parsing baseline: {export['seconds'] / parse['seconds']:.2f}x "
          f"(cpu {export['cpu'] / parse['cpu']:.2f}x)")
    print(f"read_export / zipfile floor:    {export['seconds'] / floor['seconds']:.2f}x "
          f"(cpu {export['cpu'] / floor['cpu']:.2f}x)")
    over = export["peak_mb"] - export["base_mb"]
    met = export["seconds"] <= GOAL_SECONDS * megabytes / 200 and over <= GOAL_MB
    print(f"goal: <= {GOAL_SECONDS * megabytes / 200:.1f} s and <= {GOAL_MB:.0f} MB over baseline -> "
          f"{'met' if met else 'NOT met'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
