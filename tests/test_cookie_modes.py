"""The cookie modes are defined once (`whoknows.cookies.MODE_KINDS`); every other place that spells
them agrees with it: the ledger's CHECK constraint (frozen in a migration), the CLI's help, the
extension's choices (plain JS, read by node), the docs. Adding a mode fails here until each of
them knows it (docs/architecture.md lists them)."""

import html.parser
import json
import shutil
import sqlite3
import subprocess
from pathlib import Path

import pytest
from click.testing import CliRunner

from cli.main import cli
from whoknows.cookies import MAX_CAP_DAYS, MODE_KINDS, parse_cookie_mode
from whoknows.errors import InputError
from whoknows.ledger import open_ledger

REPO = Path(__file__).resolve().parents[1]
SPELLINGS = [*(kind for kind in MODE_KINDS if kind != "cap"), "cap:1", "cap:7", f"cap:{MAX_CAP_DAYS}",
             "cap:0", f"cap:{MAX_CAP_DAYS + 1}", "cap:07", "cap:", "cap", "cap:x", "cap:-1", "none", "", "cap:1.5"]


def _ledger_accepts(db: sqlite3.Connection, stored: str) -> bool:
    try:
        db.execute("UPDATE site_settings SET cookie_mode = ?", (stored,))
    except sqlite3.IntegrityError:
        return False
    return True


def test_the_ledger_stores_exactly_the_modes_the_core_accepts(whoknows_home):
    with open_ledger() as ledger:
        vendor = ledger.vendor_id("shop.test", create=True)
        with ledger.write() as db:
            db.execute("INSERT INTO site_settings (vendor_id, updated_at) VALUES (?, '2026-01-01T00:00:00Z')",
                       (vendor,))
            verdicts = {}
            for text in SPELLINGS:
                try:
                    stored = str(parse_cookie_mode(text))
                except InputError:
                    verdicts[text] = ("refused", _ledger_accepts(db, text))
                else:
                    verdicts[text] = ("accepted", _ledger_accepts(db, stored))
    assert {text for text, (core, _) in verdicts.items() if core == "accepted"} >= {"allow", "session", "block",
                                                                                   "cap:1", "cap:07"}
    assert [text for text, (core, ledger) in verdicts.items() if ledger != (core == "accepted")] == []


def test_every_kind_parses_and_prints_as_it_is_spelled():
    for kind in MODE_KINDS:
        spelled = "cap:7" if kind == "cap" else kind
        assert parse_cookie_mode(spelled).kind == kind
        assert str(parse_cookie_mode(spelled)) == spelled


def test_the_clis_help_names_every_mode():
    said = CliRunner().invoke(cli, ["site", "cookies", "--help"]).output
    assert all(kind in said for kind in MODE_KINDS), said


class _Options(html.parser.HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.in_select, self.values = False, []

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "select":
            self.in_select = attrs.get("id") == "cookie-mode"
        elif tag == "option" and self.in_select:
            self.values.append(attrs["value"])

    def handle_endtag(self, tag):
        if tag == "select":
            self.in_select = False


def test_the_popup_offers_every_mode_and_the_default():
    parser = _Options()
    parser.feed((REPO / "extension" / "popup.html").read_text(encoding="utf-8"))
    assert parser.values == ["default", *MODE_KINDS]


@pytest.mark.skipif(shutil.which("node") is None, reason="node is not installed")
def test_the_extensions_choices_are_the_cores_modes_and_the_default():
    script = ("import('./extension/lib/state.js').then(m => "
              "process.stdout.write(JSON.stringify(m.COOKIE_CHOICES)))")
    done = subprocess.run(["node", "--input-type=module", "-e", script], cwd=REPO, capture_output=True,
                          text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout) == ["default", *MODE_KINDS]


@pytest.mark.parametrize("doc", ["README.md", "docs/control-api.md"])
def test_the_docs_name_every_mode(doc):
    text = (REPO / doc).read_text(encoding="utf-8")
    assert all(f"`{kind}" in text or f'"{kind}' in text for kind in MODE_KINDS)
