"""`whoknows extension pair|unpair|status`, against a real control API server where one is needed."""

from __future__ import annotations

import json
import re
import socket

import pytest

from cli_runner import printed
from whoknows import control
from whoknows.control import TokenStore

CODE = re.compile(r"Pairing code: ([0-9A-Z]{4}-[0-9A-Z]{4})\n")


@pytest.fixture(autouse=True)
def nothing_on_the_default_port(monkeypatch):
    # Another whoknows proxy on this machine may hold 8081: point the default at a closed port.
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        closed = probe.getsockname()[1]
    monkeypatch.setattr(control, "default_url", lambda port=closed: f"http://127.0.0.1:{port}")
    return closed


@pytest.fixture
def running_api():
    from mitmproxy.test import taddons

    from proxy_addons.control import PORT_OPTION, Control

    addon = Control()
    with taddons.context(addon) as tctx:
        tctx.configure(addon, **{PORT_OPTION: 0})
        addon.running()
        yield addon
        addon.done()


def test_pair_prints_a_code_that_pairs_once(nothing_on_the_default_port):
    out = printed("extension", "pair")
    code = CODE.search(out).group(1)
    assert "within 10 minutes" in out and "5 wrong tries" in out
    assert f"http://127.0.0.1:{nothing_on_the_default_port}: not answering (start 'whoknows proxy')" in out
    token = TokenStore().pair(code)
    assert len(token) == 43
    with pytest.raises(control.Refused):
        TokenStore().pair(code)


def test_status_before_and_after_pairing_without_a_proxy(nothing_on_the_default_port):
    before = json.loads(printed("extension", "status", "--json"))
    assert before == {
        "paired": False, "token_store": None,
        "pairing": {"pending": False, "expires_at": None, "tries_left": None},
        "control_api": {"url": f"http://127.0.0.1:{nothing_on_the_default_port}", "running": False,
                        "version": None, "token_accepted": None},
    }
    assert "not paired ('whoknows extension pair')" in printed("extension", "status")
    pending = json.loads(printed("extension", "pair", "--json"))
    status = json.loads(printed("extension", "status", "--json"))
    assert status["pairing"] == {"pending": True, "expires_at": pending["expires_at"], "tries_left": 5}
    TokenStore().pair(pending["code"])
    status = json.loads(printed("extension", "status", "--json"))
    assert status["paired"] is True and status["token_store"] == "file"
    assert status["pairing"]["pending"] is False


def test_status_finds_the_running_proxy_and_unpair_revokes_the_token(running_api):
    code = json.loads(printed("extension", "pair", "--json"))["code"]
    token = TokenStore().pair(code)
    status = json.loads(printed("extension", "status", "--json"))
    assert status["control_api"] == {"url": running_api.url, "running": True,
                                     "version": control.ping(running_api.url)["whoknows"], "token_accepted": True}
    assert "accepts this machine's token" in printed("extension", "status")
    assert control.ping(running_api.url, token)["paired"] is True
    assert "Unpaired" in printed("extension", "unpair")
    assert control.ping(running_api.url, token)["paired"] is False
    assert json.loads(printed("extension", "status", "--json"))["paired"] is False
    assert printed("extension", "unpair") == "No extension was paired.\n"
    assert json.loads(printed("extension", "unpair", "--json")) == {"unpaired": False}


def test_a_new_code_cancels_the_old_one():
    first = json.loads(printed("extension", "pair", "--json"))["code"]
    second = json.loads(printed("extension", "pair", "--json"))["code"]
    with pytest.raises(control.Refused):
        TokenStore().pair(first)
    assert TokenStore().pair(second)


def test_the_extension_command_does_not_import_mitmproxy():
    import subprocess
    import sys

    probe = ("import sys; from click.testing import CliRunner; from cli.main import cli; "
             "r = CliRunner().invoke(cli, ['extension', 'status', '--json']); "
             "assert r.exit_code == 0, r.output; print('mitmproxy' in sys.modules)")
    result = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "False"
