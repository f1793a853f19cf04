"""Every `whoknows` command opens no connection of its own; `lists update` reaches only the lists.

One realistic session in a fresh data directory runs every registered command and subcommand (the
walk of `test_help.py`; a command added later without a step here fails the coverage test), each
in-process (`cli_runner`) inside `sealed_network.sealed`: every resolver call and every
connect/send is recorded, and nothing non-loopback can leave. The session then asserts, per
command, that it made no network attempt at all, except:
- `lists update`: the subscribed list URLs only (served on loopback, named `lists.test`);
- `setup --check`: the proxy address it was told to check (loopback only, by design);
- `extension pair` / `extension status`: the control API's loopback address (they say whether the
  proxy answers there);
- `intent new --send` / `intent send`: the user's own SMTP account, which they asked for (a real
  SMTP server on loopback, STARTTLS with a test CA), and nothing else.
`whoknows proxy` runs until stopped, so it runs as its own process under the same recorder, with
one client request: from start-up to a clean stop it must try to reach only what that request
asked for (tests/e2e/test_proxy_silence.py does the same with the test sites and a day's work).

Secrets go to a real keyring backend (keyrings.alt's PlaintextKeyring, in a temporary XDG
directory). Local (AF_UNIX) sockets, such as a Secret Service keyring's D-Bus, are not the network:
they are reported separately, not counted.
"""

from __future__ import annotations

import http.server
import json
import mailbox
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections import defaultdict
from email.message import EmailMessage
from pathlib import Path

import click
import pytest

from cli_runner import all_commands
from cli_runner import run
from sealed_network import Attempt
from sealed_network import AttemptLog
from sealed_network import sealed
from smtp_server import LoopbackSmtp

ROOT = Path(__file__).resolve().parents[2]
SUPPORT = ROOT / "tests" / "support"
PLAINTEXT_KEYRING = "keyrings.alt.file.PlaintextKeyring"
LIST_HOST = "lists.test"
FILTERS = b"! Title: loopback list\n||tracker.test^\n||pixel.test/collect$image\n"
# Commands that never finish on their own: run as a process by their own test below.
RUN_AS_PROCESS = {("proxy",)}


class ListHost:
    """A loopback HTTP server playing a filter-list host; records the paths asked for."""

    def __init__(self) -> None:
        host = self
        self.paths: list[str] = []

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self):
                host.paths.append(self.path)
                self.send_response(200)
                self.send_header("content-type", "text/plain")
                self.send_header("content-length", str(len(FILTERS)))
                self.end_headers()
                self.wfile.write(FILTERS)

            def log_message(self, *args):
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.05},
                                       daemon=True)

    def url(self, path: str) -> str:
        return f"http://{LIST_HOST}:{self.port}{path}"


@pytest.fixture
def list_host():
    host = ListHost()
    host.thread.start()
    yield host
    host.server.shutdown()
    host.server.server_close()


@pytest.fixture
def keyring_and_no_proxy(tmp_path, monkeypatch):
    """A real keyring backend in a private directory; no proxy variables (urllib would use them)."""
    monkeypatch.setenv("PYTHON_KEYRING_BACKEND", PLAINTEXT_KEYRING)
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "xdg-data"))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "xdg-config"))
    for name in list(os.environ):
        if name.lower() in ("http_proxy", "https_proxy", "all_proxy", "no_proxy"):
            monkeypatch.delenv(name)


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def write_mbox(path: Path, to: str) -> Path:
    message = EmailMessage()
    message["From"] = "news@shop.example"
    message["To"] = to
    message["Date"] = "Mon, 03 Mar 2025 10:00:00 +0000"
    message["Message-ID"] = "<silence-1@shop.example>"
    message["Subject"] = "Our offers"
    message.set_content("Hello")
    box = mailbox.mbox(str(path))
    box.add(message)
    box.close()
    return path


class Session:
    """Runs `whoknows ARGS` steps, each sealed and recorded; attempts are kept per command path."""

    def __init__(self, commands: set[tuple[str, ...]]) -> None:
        self.commands = commands
        self.attempts: dict[tuple[str, ...], list[Attempt]] = defaultdict(list)
        self.ran: set[tuple[str, ...]] = set()

    def command_of(self, args: tuple[str, ...]) -> tuple[str, ...]:
        for length in range(len(args), 0, -1):
            if args[:length] in self.commands:
                return args[:length]
        raise AssertionError(f"no command for {args}")

    def __call__(self, *args: str, exit_code: int = 0, input: str | None = None) -> str:
        command = self.command_of(args)
        recorded: list[Attempt] = []
        with sealed(record=recorded.append):
            result = run(*args, input=input)
        self.attempts[command] += recorded
        self.ran.add(command)
        assert result.exit_code == exit_code, (args, result.stdout, result.stderr)
        return result.stdout

    def json(self, *args: str) -> object:
        return json.loads(self(*args, "--json"))


def leaf_commands() -> set[tuple[str, ...]]:
    """What a user can run: every command, and the groups that do something on their own."""
    return {path for path, command in all_commands() if not isinstance(command, click.Group)
            or command.invoke_without_command}


def network(attempts: list[Attempt]) -> list[Attempt]:
    return [a for a in attempts if a.network and not (a.family == "name" and a.loopback)]


@pytest.fixture
def smtp_account(tmp_path, monkeypatch):
    """The user's SMTP account, on loopback; its certificate is checked against a test CA."""
    with LoopbackSmtp(tmp_path / "smtp") as server:
        monkeypatch.setenv("SSL_CERT_FILE", str(server.ca))
        yield server


def test_every_command_opens_no_connection_of_its_own(tmp_path, list_host, keyring_and_no_proxy, smtp_account):
    from whoknows import control

    commands = leaf_commands()
    step = Session({path for path, _ in all_commands()})
    proxy_port = closed_port()

    # A user sets up, records vendors and facts, and browses their records.
    step("setup")
    step("setup", "--check", "--port", str(proxy_port), exit_code=1)  # no proxy runs: said, exit 1
    step("setup", "--show-password")
    step("setup", "--cookies", "cap:30")
    step("doctor")
    step("alias", "setup", "--base", "me@mail.example")
    step("vendor", "add", "shop.example", "--name", "Shop", "--privacy-contact", "privacy@shop.example",
         "--sales-contact", "sales@shop.example")
    step("vendor", "add", "zalando.de")
    address = step.json("alias", "new", "shop.example")["address"]
    step("alias", "rotate", "shop.example")
    step("alias", "new", "news.example", "--opaque")
    step("alias", "list")
    step("alias", "show", address)
    step("alias", "verify", address)
    step("alias", "disable", address)
    step("tell", "shop.example", "name=Ana", "phone=+34 600 111 222")
    step("knows", "phone")
    step("me", "add", "email", "ana@example.org")
    step("me", "add", "name", input="Ana Pérez\n")
    step("me", "list")
    value_id = step.json("me", "list")[0]["id"]
    step("me", "remove", str(value_id))
    step("prefs", "shop.example", "--no-marketing", "--channel", "post")
    step("prefs", "shop.example", "--topic", "orders", "--max-per-week", "3", "--opt-out", "2024-01-01")
    step("prefs", "--check")
    step("mail", "scan", str(write_mbox(tmp_path / "inbox.mbox", address)))
    step("leaks")
    step("check", "https://www.google-analytics.com/collect?v=1", "--from", "https://shop.example/")
    # The tracker companies that saw you (issue 12): read from the ledger and the shipped data.
    step("companies")
    step("companies", "--csv")
    step("company", "show", "Google")
    step("who", "shop.example")
    step("report", "--out", str(tmp_path / "who-knows-me.html"))
    # Site settings the proxy reads.
    step("site", "pause", "shop.example")
    step("site", "resume", "shop.example")
    step("site", "cookies", "shop.example", "session")
    step("site", "cookies", "--default", "cap:30")
    step("site", "leaks", "shop.example", "scrub")
    step("site", "leaks", "--default", "block")
    step("site", "allow-3p", "shop.example", "pay.example")
    step("site", "disallow-3p", "shop.example", "pay.example")
    step("site", "show", "shop.example")
    step("site", "list")
    # Rights requests: letters are written here, never sent.
    for kind in ("access", "erase", "object", "port"):
        step("request", kind, "shop.example", "--out", str(tmp_path / f"{kind}.txt"))
    step("request", "rectify", "shop.example", "--correct", "Postal address", "Calle Mayor 2, Madrid",
         "--out", str(tmp_path / "rectify.txt"))
    step("request", "object", "shop.example", "--from-check", "--date", "2024-01-09", "--out",
         str(tmp_path / "object-from-check.txt"))
    overdue_id = step.json("request", "access", "shop.example", "--date", "2024-01-10")["id"]
    step("settings", "country", "ES")
    step("settings")
    # Personal terms: proffered by the proxy, chosen here (issue 15).
    step("terms", "offer", "nostalking")
    step("terms")
    step("terms", "withdraw", "nostalking")
    # Learned trackers (issue 13): derived from the ledger, never looked up anywhere.
    step("trackers", "allow", "learned-cdn.test")
    step("trackers")
    step("trackers", "--json")
    step("trackers", "export")
    step("trackers", "export", "--format", "abp")
    step("trackers", "forget", "learned-cdn.test")
    step("request", "complain", str(overdue_id), "--out", str(tmp_path / "complaint.txt"))
    request_id = [r for r in step.json("requests") if r["kind"] == "access" and not r["overdue"]][0]["id"]
    step("request", "answered", str(request_id))
    # The vendor's answer: its data export, read (issue 14); it holds a name it was never given.
    export = tmp_path / "shop-export.json"
    export.write_text('{"customer": {"name": "Ana P\u00e9rez", "ip": "203.0.113.7"}}', encoding="utf-8")
    step("request", "answered", str(request_id), "--data", str(export))
    step("vendor", "data", "shop.example", str(export))
    step("findings", exit_code=1)
    step("request", "source", "shop.example", "--out", str(tmp_path / "source.txt"))
    step("request", "follow-up", str(request_id), "--out", str(tmp_path / "follow-up.txt"))
    step("requests")
    # The browser extension: pairing talks to the control API on loopback, if a proxy runs.
    step("extension", "pair")
    step("extension", "status")
    step("extension", "unpair")
    # Intents: written as .eml files, then sent through the user's SMTP account (on loopback).
    step("mail", "account", "--host", "127.0.0.1", "--port", str(smtp_account.port), "--user", smtp_account.user,
         input=f"{smtp_account.password}\n")
    step("mail", "account")
    step("intent", "new", "a bike", "--until", "2099-01-01", "--to", "shop.example",  # its sales contact
         "--out", str(tmp_path / "outbox"))
    step("intent", "new", "a lamp", "--until", "2099-01-01", "--to", "shop.example=sales@shop.example", "--send")
    step("intent", "send", "1")
    step("intents")
    assert len(smtp_account.messages) == 2
    # Filter lists: the defaults replaced by a list on the loopback host, then updated.
    step("lists")
    step("lists", "remove", "EasyPrivacy")
    step("lists", "remove", "uBO-Privacy")
    step("lists", "add", list_host.url("/privacy.txt"), "--name", "loopback")
    step("lists", "update")
    # A backup and its restore; then the vendor goes.
    backup = tmp_path / "backup.json"
    step("export", "--output", str(backup))
    step("import", str(backup))
    step("vendor", "list")
    step("vendor", "show", "shop.example")
    step("vendor", "forget", "zalando.de", "--yes")

    assert commands - RUN_AS_PROCESS - step.ran == set(), "commands this session never ran"
    assert list_host.paths == ["/privacy.txt"]  # the update really downloaded, once
    control_api = control.default_url().removeprefix("http://").rstrip("/")
    allowed = {
        ("lists", "update"): ({LIST_HOST}, {f"127.0.0.1:{list_host.port}"}),
        ("setup",): (set(), {f"127.0.0.1:{proxy_port}"}),
        ("extension", "pair"): (set(), {control_api}),
        ("extension", "status"): (set(), {control_api}),
        ("intent", "new"): (set(), {f"127.0.0.1:{smtp_account.port}"}),
        ("intent", "send"): (set(), {f"127.0.0.1:{smtp_account.port}"}),
    }
    unexpected = {}
    for command, attempts in step.attempts.items():
        names, addresses = allowed.get(command, (set(), set()))
        extra = [a for a in network(attempts) if a.refused or a.target not in (names | addresses)]
        if extra:
            unexpected[" ".join(command)] = sorted({f"{a.call} {a.target}" for a in extra})
    local = {" ".join(c): sorted({f"{a.call} {a.target}" for a in attempts if not a.network})
             for c, attempts in step.attempts.items() if any(not a.network for a in attempts)}
    assert unexpected == {}, f"connections of the CLI's own (local sockets, not counted: {local})"
    update = network(step.attempts[("lists", "update")])
    assert {a.target for a in update} == {LIST_HOST, f"127.0.0.1:{list_host.port}"}
    if local:
        print(f"local (AF_UNIX) sockets used, not the network: {local}")


PROXY_LAUNCHER = f"""
import sys
sys.path.insert(0, {str(SUPPORT)!r})
from sealed_network import AttemptLog, seal
seal(record=AttemptLog(sys.argv.pop(1)))
from cli.main import main
sys.argv[0] = "whoknows"
main()
"""


def test_whoknows_proxy_reaches_only_what_its_one_client_asked_for_from_start_to_stop(
        tmp_path, whoknows_home, keyring_and_no_proxy):
    log = tmp_path / "proxy.network.jsonl"
    env = {k: v for k, v in os.environ.items() if "proxy" not in k.lower()}
    argv = [sys.executable, "-c", PROXY_LAUNCHER, str(log), "proxy", "--port", "0",
            "--set", "whoknows_control_port=0", "--set", "whoknows_lists_check_interval=0.2"]
    process = subprocess.Popen(argv, env=env, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                               text=True)
    nobody = closed_port()
    try:
        line = process.stdout.readline()
        assert line.startswith("whoknows proxy listening on 127.0.0.1:"), process.stderr.read()
        port = int(line.split()[4].rsplit(":", 1)[1])
        # One client request, to a test name on a port nobody listens on: the proxy resolves it and
        # tries to connect (502), the one attempt it may make; it also shows the recorder is live.
        with socket.create_connection(("127.0.0.1", port), timeout=10) as client:
            client.sendall(f"GET http://{LIST_HOST}:{nobody}/ HTTP/1.1\r\nHost: {LIST_HOST}:{nobody}\r\n"
                           f"Connection: close\r\n\r\n".encode())
            assert client.recv(100).startswith(b"HTTP/1.1 502")
        time.sleep(1.5)  # its background threads (flushers, watchers, list checks) get their turns
        process.send_signal(signal.SIGTERM)
        assert process.wait(20) == 0
    finally:
        if process.poll() is None:
            process.kill()
            process.wait(5)
    attempts = network(AttemptLog.read(log))
    local = sorted({f"{a.call} {a.target}" for a in AttemptLog.read(log) if not a.network})
    assert {(a.call, a.target) for a in attempts} == {("getaddrinfo", LIST_HOST),
                                                       ("connect", f"127.0.0.1:{nobody}")}, (
        f"the proxy tried to reach something of its own (local sockets, not counted: {local})")
