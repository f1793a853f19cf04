"""`whoknows doctor`: one line per check, exit 1 exactly when something is wrong."""

import json
import os
import sqlite3
import subprocess
import sys
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from cli_runner import ok, run

ROOT = Path(__file__).resolve().parents[2]
PLAINTEXT = "keyrings.alt.file.PlaintextKeyring"


@pytest.fixture(autouse=True)
def private_xdg(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "xdg-data"))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "xdg-config"))
    return tmp_path


def checks(*args) -> dict[str, list[tuple[str, str]]]:
    """name -> [(status, detail)] from --json."""
    result = run("doctor", "--json", *args)
    data = json.loads(result.stdout)
    assert data["healthy"] == (result.exit_code == 0)
    found: dict[str, list[tuple[str, str]]] = {}
    for check in data["checks"]:
        found.setdefault(check["name"], []).append((check["status"], check["detail"]))
    return found


def statuses(name: str, *args) -> list[str]:
    return [status for status, _ in checks(*args)[name]]


@pytest.fixture
def installed(whoknows_home):
    """A used installation: aliases set up, one alias made."""
    ok("alias", "setup", "--base", "you@mail.example")
    ok("alias", "new", "shop.example")
    return whoknows_home


def test_a_fresh_install_is_healthy_with_warnings_and_doctor_creates_nothing(whoknows_home):
    result = run("doctor")
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert all(line.split()[0] in ("ok", "warn") for line in lines)
    assert any(line.startswith("warn  proxy CA") and "not yet created, run the proxy once" in line for line in lines)
    assert any(line.startswith("warn  alias setup") for line in lines)
    assert not whoknows_home.exists()


def test_a_used_install_is_healthy(installed):
    result = run("doctor")
    assert result.exit_code == 0, result.output
    found = checks()
    for name in ("data dir", "ledger file", "ledger schema", "ledger integrity", "alias setup", "secrets file",
                 "alias key"):
        assert [s for s, _ in found[name]] == ["ok"], (name, found[name])
    assert "you+TAG@mail.example" in found["alias setup"][0][1]
    assert "fallback file" in found["keyring"][0][1]
    assert found["proxy CA"][0][0] == "warn"


def test_a_data_dir_others_can_read_fails(installed):
    installed.chmod(0o755)
    result = run("doctor")
    assert result.exit_code == 1
    line = next(line for line in result.stdout.splitlines() if "data dir" in line)
    assert line.startswith("FAIL  data dir") and "mode 0755" in line and "chmod 700" in line


def test_a_readable_ledger_or_secrets_file_fails(installed):
    (installed / "ledger.db").chmod(0o644)
    (installed / "secrets.json").chmod(0o640)
    found = checks()
    assert "fail" in [s for s, _ in found["ledger file"]]
    assert found["secrets file"][0][0] == "fail" and "0640" in found["secrets file"][0][1]


def test_a_ledger_from_a_newer_whoknows_fails(installed):
    with sqlite3.connect(installed / "ledger.db") as db:
        db.execute("PRAGMA user_version = 99")
    assert statuses("ledger schema") == ["fail"]
    assert run("doctor").exit_code == 1


def test_a_damaged_ledger_fails_integrity(installed):
    path = installed / "ledger.db"
    with sqlite3.connect(path) as db:
        db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        root = db.execute("SELECT rootpage FROM sqlite_master WHERE name = 'aliases_by_vendor'").fetchone()[0]
        page_size = db.execute("PRAGMA page_size").fetchone()[0]
    data = bytearray(path.read_bytes())
    end = root * page_size
    data[end - 4:end] = bytes(b ^ 0x55 for b in data[end - 4:end])  # the index's last cell bytes
    path.write_bytes(bytes(data))

    found = checks()
    assert found["ledger integrity"][0][0] == "fail"
    assert "aliases_by_vendor" in found["ledger integrity"][0][1]


def test_a_file_that_is_not_a_ledger_fails(installed):
    for name in ("ledger.db-wal", "ledger.db-shm"):
        (installed / name).unlink(missing_ok=True)
    (installed / "ledger.db").write_bytes(b"this is not sqlite" * 100)
    found = checks()
    assert found["ledger"][0][0] == "fail" and "cannot be read as SQLite" in found["ledger"][0][1]


def test_a_lost_alias_key_fails(installed):
    (installed / "secrets.json").unlink()
    found = checks()
    assert found["alias key"][0][0] == "fail" and "not there any more" in found["alias key"][0][1]


def make_ca(confdir: Path, not_after: datetime, mode: int = 0o600) -> None:
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "test CA")])
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(1).not_valid_before(not_after - timedelta(days=3650)).not_valid_after(not_after)
            .sign(key, hashes.SHA256()))
    pem = cert.public_bytes(serialization.Encoding.PEM)
    confdir.mkdir(parents=True)
    key_pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                serialization.NoEncryption())
    (confdir / "mitmproxy-ca.pem").write_bytes(key_pem + pem)
    (confdir / "mitmproxy-ca.pem").chmod(mode)
    (confdir / "mitmproxy-ca-cert.pem").write_bytes(pem)


def test_the_proxy_ca_present_expired_or_readable_by_others(installed):
    confdir = installed / "mitmproxy"
    make_ca(confdir, datetime.now(timezone.utc) + timedelta(days=365))
    found = checks()
    assert [s for s, _ in found["proxy CA key"]] == ["ok"]
    assert found["proxy CA"][0][0] == "ok" and "valid until" in found["proxy CA"][0][1]

    (confdir / "mitmproxy-ca.pem").chmod(0o644)
    assert statuses("proxy CA key") == ["fail"]

    for path in confdir.iterdir():
        path.unlink()
    confdir.rmdir()
    make_ca(confdir, datetime.now(timezone.utc) - timedelta(days=1))
    found = checks()
    assert found["proxy CA"][0][0] == "fail" and "expired" in found["proxy CA"][0][1]


def test_doctor_suggests_and_does_the_move_to_a_keyring_that_appeared(installed, private_xdg, monkeypatch):
    monkeypatch.delenv("PYTHON_KEYRING_BACKEND")
    config = private_xdg / "xdg-config" / "python_keyring"
    config.mkdir(parents=True)
    (config / "keyringrc.cfg").write_text(f"[backend]\ndefault-keyring={PLAINTEXT}\n")  # a keyring appears

    found = checks()
    warnings = [detail for status, detail in found["keyring"] if status == "warn"]
    assert len(warnings) == 1 and PLAINTEXT in warnings[0] and "whoknows doctor --move-secrets" in warnings[0]
    assert run("doctor").exit_code == 0  # a warning, not a failure
    address = run("alias", "new", "shop.example").stdout.strip()

    result = run("doctor", "--move-secrets")
    assert result.exit_code == 0, result.output
    assert "moved the secret 'alias-key' from fallback file" in result.stderr
    assert f"to OS keyring ({PLAINTEXT})" in result.stderr
    assert "nothing to move" in run("doctor", "--move-secrets").stderr
    assert not (installed / "secrets.json").exists()
    assert f"OS keyring ({PLAINTEXT})" in result.stdout
    verified = run("alias", "verify", address)
    assert verified.exit_code == 0 and "made for shop.example" in verified.stdout


def test_doctor_never_imports_mitmproxy(installed):
    code = (
        "import sys\n"
        "sys.argv = ['whoknows', 'doctor']\n"
        "from cli.main import main\n"
        "try:\n    main()\nexcept SystemExit:\n    pass\n"
        "print(sorted(m for m in ('mitmproxy', 'rich') if m in sys.modules))\n"
    )
    result = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=dict(os.environ), capture_output=True,
                            text=True, timeout=60)
    assert result.stdout.splitlines()[-1] == "[]", result.stdout + result.stderr
