"""`whoknows setup`: what it tells the user, and its check of a running proxy."""

import hashlib
import http.server
import json
import subprocess
import sys
import threading

import pytest
from click.testing import CliRunner

from cli.main import cli


def invoke(*args):
    return CliRunner().invoke(cli, ["setup", *args], catch_exceptions=False)


def test_it_explains_address_pac_ca_and_trust(whoknows_home, monkeypatch):
    monkeypatch.setattr(sys, "platform", "linux")
    result = invoke()
    assert result.exit_code == 0
    ca = whoknows_home / "mitmproxy" / "mitmproxy-ca-cert.pem"
    for expected in ("127.0.0.1:8080", "http://127.0.0.1:8080/proxy.pac", "http://whoknows.proxy/proxy.pac",
                     str(ca), "not made yet", 'certutil -d sql:$HOME/.pki/nssdb -A -t "C,," -n',
                     "update-ca-certificates", "Authorities"):
        assert expected in result.output


def test_json_gives_the_ca_fingerprint_once_the_ca_exists(whoknows_home):
    from mitmproxy.certs import CertStore

    confdir = whoknows_home / "mitmproxy"
    CertStore.create_store(confdir, "mitmproxy", 2048)
    result = invoke("--json", "--port", "18080")
    info = json.loads(result.output)
    assert info["proxy"] == "127.0.0.1:18080"
    assert info["pac_url"] == "http://127.0.0.1:18080/proxy.pac"
    assert info["ca_exists"] is True
    from cryptography import x509
    from cryptography.hazmat.primitives.serialization import Encoding

    cert = x509.load_pem_x509_certificate((confdir / "mitmproxy-ca-cert.pem").read_bytes())
    expected = hashlib.sha256(cert.public_bytes(Encoding.DER)).hexdigest().upper()
    assert info["ca_sha256"].replace(":", "") == expected


def free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_check_fails_clearly_when_no_proxy_runs():
    result = CliRunner().invoke(cli, ["setup", "--check", "--port", str(free_port())])
    assert result.exit_code == 1
    assert "Check: FAILED: no proxy is listening there" in result.output


def test_check_tells_another_server_from_the_proxy():
    class NotAProxy(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            self.send_error(404)

        def log_message(self, *args):
            pass

    server = http.server.HTTPServer(("127.0.0.1", 0), NotAProxy)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        result = CliRunner().invoke(cli, ["setup", "--check", "--port", str(server.server_address[1])])
    finally:
        server.shutdown()
        server.server_close()
    assert result.exit_code == 1
    assert "something else listens there (HTTP 404" in result.output


def test_check_talks_to_loopback_only():
    result = CliRunner().invoke(cli, ["setup", "--check", "--listen-host", "192.168.1.10"])
    assert result.exit_code == 2
    assert "loopback" in result.output


def test_show_password_prints_the_stored_secret_proxy_uses(monkeypatch):
    from cli.proxy import proxyauth_spec

    monkeypatch.delenv("WHOKNOWS_PROXY_PASSWORD", raising=False)
    monkeypatch.setenv("PYTHON_KEYRING_BACKEND", "keyring.backends.fail.Keyring")
    result = CliRunner().invoke(cli, ["setup", "--show-password"])
    assert result.exit_code == 0
    assert proxyauth_spec("0.0.0.0", "alice")[0] == f"alice:{result.stdout.splitlines()[0]}"


@pytest.mark.parametrize("argv", [["setup"], ["proxy", "--help"]])
def test_commands_that_do_not_run_the_proxy_do_not_import_mitmproxy(argv):
    code = ("import sys\nfrom cli.main import cli\n"
            f"try:\n    cli.main({argv!r}, prog_name='whoknows')\nexcept SystemExit:\n    pass\n"
            "print('MITMPROXY' if 'mitmproxy' in sys.modules else 'CLEAN', file=sys.stderr)\n")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert result.stderr.strip().endswith("CLEAN"), result.stderr


def test_setup_offers_a_default_cookie_mode_and_sets_it():
    from cli_runner import run as run_cli

    before = run_cli("setup")
    assert "Cookies of sites without their own mode: allow" in before.stdout
    assert "whoknows setup --cookies cap:30" in before.stdout

    chosen = run_cli("setup", "--cookies", "session", "--json")
    assert chosen.exit_code == 0 and json.loads(chosen.stdout)["defaults"] == {
        "cookie_mode": "session", "leak_mode": "block"}
    assert "Cookies of sites without their own mode: session" in run_cli("setup").stdout
    shown = json.loads(run_cli("site", "show", "any.test", "--json").stdout)
    assert shown["defaults"]["cookie_mode"] == "session"

    bad = run_cli("setup", "--cookies", "forever")
    assert bad.exit_code == 2 and bad.stderr.count("\n") == 1 and "unknown cookie mode" in bad.stderr


def test_setup_mentions_the_personal_terms_and_how_to_proffer_them(whoknows_home):
    shown = " ".join(invoke().stdout.split())
    assert "'whoknows terms offer nostalking' has the proxy proffer the \"no stalking\" terms" in shown
