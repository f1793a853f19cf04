"""Cost of scanning a mailbox (`whoknows.mailscan.scan_paths`): 10,000 generated messages in one mbox.

The messages look like real mail: Received, DKIM-Signature, Authentication-Results and MIME
headers, a mix of vendor, marketing (List-Unsubscribe) and foreign senders, some without a
Message-ID, and a text + HTML body of 1-6 KB.

Baselines, measured in the same run on the same file:
- iterating it with `mailbox.mbox` (what the stdlib does to read each message);
- reading each message's raw bytes with `mbox.get_bytes` (the floor: no parsing at all).

`mail scan` also searches the subject and text of every message that reached an alias for your
values (`BodyWatch`; here, every message): timed as its own line, against the header-only scan.
None of these messages holds a value, as most real mail does not: `BodyWatch` lets them go after
looking at their raw bytes, and parses only the others (tests/test_mailscan_equivalence.py).

Each line also prints the CPU seconds it took, and the run the load average: the machine may be
shared, and wall time follows its load.

`--base64`: the text and HTML parts are sent base64-encoded (as many mailers do), and the body
search is also timed as it was before base64 parts were decoded by the raw look (every such message
parsed) and as the oracle of the tests (every message parsed, tests/support/mail_body_before.py),
in the same run.

Goal: scan <= 10 s. Matching the scanned mail to 200 intent messages (issue 15) is printed as a
share of the scan, and so is what the scan spends classifying each message's topics and digesting
its subject and addresses (`whoknows.mail_topics`, issue 15 item 3), timed alone over English and
Spanish subjects.
"""

from __future__ import annotations

import base64
import mailbox
import os
import random
import sys
import tempfile
import time
from datetime import datetime, timedelta, timezone
from email.utils import format_datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from whoknows.intents import Sent, match_answers  # noqa: E402
from whoknows.mail_topics import classify, recipients_key, subject_key  # noqa: E402
from whoknows.leakscan import LeakScanner  # noqa: E402
from whoknows.mailscan import BodyWatch, attribute, monthly_counts, scan_paths, summarise  # noqa: E402

MESSAGES = 10_000
BASE64 = "--base64" in sys.argv[1:]
VENDORS = [f"vendor{i}.example" for i in range(40)]
FOREIGN = [f"partner{i}.example" for i in range(10)]
ALIASES = {f"{vendor.split('.')[0]}.{i:04x}@alias.example": vendor for i, vendor in enumerate(VENDORS)}
# Intents (issue 15): 5 to each vendor, sent mid-year, so about half the mail matches by alias.
INTENTS = [Sent(n, alias, f"<intent.{n}@alias.example>", datetime(2025, 7, 1, tzinfo=timezone.utc))
           for n, alias in enumerate(list(ALIASES) * 5)]


def raw_message(rng: random.Random, n: int) -> bytes:
    alias, vendor = rng.choice(list(ALIASES.items()))
    site = rng.choice(FOREIGN) if rng.random() < 0.1 else vendor
    when = datetime(2025, 1, 1, tzinfo=timezone.utc) + timedelta(minutes=rng.randint(0, 525_600))
    marketing = rng.random() < 0.6
    headers = [
        f"Return-Path: <bounce-{n}@bounces.esp.example>",
        f"Delivered-To: {alias}",
        f"Received: from mx{n % 7}.esp.example (mx{n % 7}.esp.example [198.51.100.{n % 250}])\n"
        f"\tby mx.alias.example with ESMTPS id {rng.getrandbits(64):x}\n\tfor <{alias}>; {format_datetime(when)}",
        f"DKIM-Signature: v=1; a=rsa-sha256; c=relaxed/relaxed; d={site}; s=s1;\n"
        f"\th=from:to:subject:date:message-id; bh={rng.getrandbits(256):x}=;\n\tb={rng.getrandbits(1024):x}",
        f"Authentication-Results: mx.alias.example; dkim=pass header.d={site}; spf=pass",
        f"From: {site.split('.')[0].title()} <news@mail.{site}>",
        f"To: {alias}",
        f"Subject: Offer number {n} just for you",
        f"Date: {format_datetime(when)}",
        "MIME-Version: 1.0",
        "Content-Type: multipart/alternative; boundary=\"b1\"",
    ]
    if rng.random() < 0.9:
        headers.append(f"Message-ID: <{n}.{rng.getrandbits(48):x}@mail.{site}>")
    if marketing:
        headers.append(f"List-Unsubscribe: <https://{site}/u/{rng.getrandbits(64):x}>")
    text = " ".join(rng.choice(["offer", "sale", "today", "your", "account", "new", "free"])
                    for _ in range(rng.randint(100, 500)))
    html = f"<html><body><p>{text}</p></body></html>"
    if BASE64:
        encoding = "Content-Transfer-Encoding: base64\n"
        text, html = base64.encodebytes(text.encode()).decode(), base64.encodebytes(html.encode()).decode()
    else:
        encoding = ""
    body = (f"--b1\nContent-Type: text/plain; charset=utf-8\n{encoding}\n{text}\n"
            f"--b1\nContent-Type: text/html; charset=utf-8\n{encoding}\n{html}\n--b1--\n")
    return ("\n".join(headers) + "\n\n" + body).encode()


def write_mbox(path: Path, rng: random.Random) -> None:
    with path.open("wb") as out:
        for n in range(MESSAGES):
            out.write(b"From MAILER-DAEMON Thu Jan  1 00:00:00 2026\n")
            out.write(raw_message(rng, n).replace(b"\nFrom ", b"\n>From "))
            out.write(b"\n")


class Took(float):
    """Wall seconds, with the process's CPU seconds in `cpu` (the machine may be shared: wall time
    follows its load, CPU time much less)."""

    cpu: float


def timed(function) -> tuple[Took, object]:
    start, cpu = time.perf_counter(), time.process_time()
    result = function()
    took = Took(time.perf_counter() - start)
    took.cpu = time.process_time() - cpu
    return took, result


def iterate_mbox(path: Path) -> int:
    return sum(1 for _ in mailbox.mbox(path, create=False))


def raw_bytes(path: Path) -> int:
    box = mailbox.mbox(path, create=False)
    return sum(len(box.get_bytes(key)) for key in box.iterkeys())


SUBJECTS = ["Your order #{n} has shipped", "¡Rebajas de primavera: 30% de descuento! ({n})",
            "Boletín semanal número {n}", "Join our webinar on privacy, session {n}",
            "How did we do? Survey {n}", "A note from our team ({n})", "Tu pedido {n} ha sido enviado",
            "=?utf-8?q?Te_invitamos_al_evento_{n}?="]


def classify_all(messages) -> int:
    """What `read_message` adds per message for topics: classify, subject_key, recipients_key."""
    found = 0
    for n, message in enumerate(messages):
        subject = SUBJECTS[n % len(SUBJECTS)].format(n=n)
        topics = classify(subject, message.sender, list_unsubscribe=message.marketing)
        recipients_key(message.recipients, subject_key(message.sender, subject) or message.identity)
        found += len(topics.topics)
    return found


def main() -> int:
    rng = random.Random(7)
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "inbox.mbox"
        write_mbox(path, rng)
        size_mb = path.stat().st_size / 1e6
        floor_s, _ = timed(lambda: raw_bytes(path))
        base_s, count = timed(lambda: iterate_mbox(path))
        scan_s, result = timed(lambda: scan_paths([path]))
        watch = BodyWatch(LeakScanner([("email", "ana.garcia@example.com"), ("phone", "+34 600 111 222"),
                                       ("address", "Calle Mayor 5"), ("name", "Ana García")]), ALIASES)
        bodies_s, _ = timed(lambda: scan_paths([path], watch))
        if BASE64:
            sys.path.insert(0, str(ROOT / "tests" / "support"))
            from mail_body_before import BodyWatchBefore

            class ParsedWhenBase64(BodyWatch):
                """The raw look before it decoded base64 parts: every such message parsed."""

                def __init__(self, *args):
                    super().__init__(*args)
                    look = self._look.may_hold
                    self._look.may_hold = lambda raw, subject: b"base64" in raw.lower() or look(raw, subject)

            class Oracle:
                def __init__(self, *args):
                    self.before = BodyWatchBefore(*args)

                def values_in(self, record, raw, headers=None):
                    return self.before.values_in(record, raw)

            bodies_before_s, _ = timed(lambda: scan_paths([path], ParsedWhenBase64(watch.scanner, ALIASES)))
            oracle_s, _ = timed(lambda: scan_paths([path], Oracle(watch.scanner, ALIASES)))
        attr_s, _ = timed(lambda: (lambda h: (summarise(h, ALIASES), monthly_counts(result.messages, h)))(
            attribute(result.messages, ALIASES)))
        intents_s, answers = timed(lambda: match_answers(result.messages, INTENTS))
        topics_s, _ = timed(lambda: classify_all(result.messages))
    assert count == MESSAGES and len(result.messages) == MESSAGES and not result.skipped
    print(f"{MESSAGES} messages, {size_mb:.1f} MB mbox")
    print(f"load average: {' '.join(f'{n:.2f}' for n in os.getloadavg())} ({os.cpu_count()} CPUs)")
    print(f"{'':40}{'seconds':>9}{'us/message':>12}{'CPU s':>9}")
    for name, seconds in [
        ("scan_paths (headers, identity, sites)", scan_s),
        ("scan_paths + your values in the bodies", bodies_s),
        *([("  same, base64 parts always parsed", bodies_before_s),
           ("  same, every message parsed (oracle)", oracle_s)] if BASE64 else []),
        ("attribute + summarise + monthly_counts", attr_s),
        (f"match_answers ({len(INTENTS)} intent messages)", intents_s),
        ("baseline: iterate mailbox.mbox", base_s),
        ("floor: mbox.get_bytes only", floor_s),
    ]:
        print(f"{name:40}{seconds:9.2f}{seconds / MESSAGES * 1e6:12.0f}{seconds.cpu:9.2f}")
    print(f"scan / mailbox.mbox iteration: {scan_s / base_s:.2f}x")
    print(f"scan / raw bytes floor:        {scan_s / floor_s:.2f}x")
    print(f"bodies searched / headers only:  {bodies_s / scan_s:.2f}x (every message here reached an alias)")
    if BASE64:
        print(f"bodies searched / same with base64 parts always parsed: {bodies_s / bodies_before_s:.2f}x "
              f"(CPU {bodies_s.cpu / bodies_before_s.cpu:.2f}x); / every message parsed: {bodies_s / oracle_s:.2f}x")
    print(f"matching answers to intents / scan: {intents_s / scan_s:.3f}x ({len(answers)} answers)")
    print(f"classifying topics, digesting subject and addresses / scan: {topics_s / scan_s:.3f}x "
          f"({topics_s / MESSAGES * 1e6:.0f} us/message)")
    print(f"goal: scan <= 10 s -> {'met' if scan_s <= 10 else 'NOT met'}; "
          f"with bodies -> {'met' if bodies_s <= 10 else 'NOT met'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
