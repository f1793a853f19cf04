"""A backup that restores: `export --with-secrets` in one data directory, `import` in a fresh one
(with a fresh keyring file), and everything works there exactly as before. Without the keys, import,
doctor, `alias new` and `me add` say what will not work instead of quietly making new keys."""

import base64
import json
import os
import select
import stat
import subprocess
import sys
import time
from pathlib import Path

import pytest

from cli_runner import ok, run

PASSPHRASE = "correct horse battery staple"


@pytest.fixture
def passphrase_file(tmp_path):
    path = tmp_path / "passphrase"
    path.write_text(PASSPHRASE + "\n")
    return path


@pytest.fixture
def home_a(whoknows_home):
    """A used data directory: aliases (labelled, opaque, a retired one), own values, told facts, site settings."""
    ok("alias", "setup", "--base", "you@mail.example")
    made = {
        "shop": ok("alias", "new", "shop.example").stdout.strip(),
        "news": ok("alias", "new", "news.example", "--opaque").stdout.strip(),
    }
    made["shop-retired"], made["shop"] = made["shop"], ok("alias", "rotate", "shop.example").stdout.strip()
    ok("me", "add", "email", "ana@example.net")
    ok("me", "add", "phone", "+34 600 111 222")
    ok("tell", "shop.example", "name=Ana Pérez", "phone=+34 600 111 222")
    ok("site", "pause", "news.example")
    ok("site", "cookies", "shop.example", "cap:30")
    ok("site", "allow-3p", "shop.example", "accounts.google.com")
    return made


def _values() -> list[tuple[str, str]]:
    return [(v["kind"], v["value"]) for v in json.loads(ok("me", "list", "--reveal", "--json").stdout)]


def _doctor() -> tuple[int, dict[str, tuple[str, str]]]:
    result = run("doctor", "--json")
    return result.exit_code, {c["name"]: (c["status"], c["detail"]) for c in json.loads(result.stdout)["checks"]}


def _secrets_file(home) -> dict[str, str]:
    return json.loads((home / "secrets.json").read_text())["secrets"]


def test_export_with_secrets_then_import_into_a_fresh_home_restores_everything(
        home_a, whoknows_home, tmp_path, monkeypatch, passphrase_file):
    values_a = _values()
    plain_a = ok("export").stdout
    backup = tmp_path / "backup.json"
    result = ok("export", "--with-secrets", "--passphrase-file", str(passphrase_file), "-o", str(backup))
    assert "with the alias key and the key of your values, sealed with your passphrase" in result.stderr
    assert stat.S_IMODE(backup.stat().st_mode) == 0o600

    home_b = tmp_path / "home-b"
    monkeypatch.setenv("WHOKNOWS_HOME", str(home_b))
    result = ok("import", str(backup), "--passphrase-file", str(passphrase_file))
    assert result.stdout.startswith("imported 2 vendors (2 new)")
    assert "the alias key and the key of your values: restored from" in result.stderr
    assert "warning" not in result.stderr
    assert _secrets_file(home_b) == _secrets_file(whoknows_home)  # the same keys, in B's own fallback file
    assert stat.S_IMODE((home_b / "secrets.json").stat().st_mode) == 0o600

    assert _values() == values_a  # readable, not "(unreadable)"
    for address in home_a.values():
        assert run("alias", "verify", address).exit_code == 0, address
    assert ok("export").stdout == plain_a  # the whole ledger, as it was
    shown = json.loads(ok("site", "show", "shop.example", "--json").stdout)
    assert (shown["cookie_mode"], shown["allowed_third_parties"]) == ("cap:30", ["google.com"])
    code, checks = _doctor()
    assert code == 0
    assert checks["own values"] == ("ok", "2, all readable with this machine's key")
    assert checks["aliases"] == ("ok", "3, all verify with this machine's alias key")

    made_in_b = ok("alias", "new", "other.example").stdout.strip()  # with the same key: no new one
    assert _secrets_file(home_b) == _secrets_file(whoknows_home)
    monkeypatch.setenv("WHOKNOWS_HOME", str(whoknows_home))
    assert "made for other.example" in ok("alias", "verify", made_in_b).stdout  # A's key verifies it


def test_without_secrets_import_says_what_will_not_work_and_no_new_key_is_made_quietly(
        home_a, tmp_path, monkeypatch):
    plain = tmp_path / "plain.json"
    ok("export", "-o", str(plain))
    monkeypatch.setenv("WHOKNOWS_HOME", str(tmp_path / "home-c"))
    result = ok("import", str(plain))
    assert ("warning: 2 of your values cannot be decrypted ('whoknows me list' shows them as unreadable; leaks of "
            "them go unnoticed); 3 alias(es) cannot be verified") in result.stderr
    assert "'whoknows export --with-secrets -o FILE' where it is, then 'whoknows import FILE' here" in result.stderr
    result = ok("import", str(plain), "--passphrase-file", str(tmp_path / "plain.json"))  # any existing file
    assert "holds no keys (it was exported without --with-secrets)" in result.stderr
    summary = json.loads(ok("import", str(plain), "--json").stdout)
    assert (summary["unreadable_values"], summary["unverifiable_aliases"], summary["keys_restored"]) == (2, 3, [])

    code, checks = _doctor()
    assert code == 1
    assert checks["own values"][0] == "fail" and checks["own values"][1].startswith(
        "2 of 2 cannot be decrypted with this machine's key (there is no key of your values here)")
    assert checks["aliases"][0] == "fail" and checks["aliases"][1].startswith(
        "3 of 3 do not verify with this machine's alias key (there is no alias key here")
    assert "alias key" not in checks  # not "'whoknows alias setup' makes it": that would orphan them

    for args, what in ((("alias", "new", "other.example"), "3 alias(es) made with an alias key"),
                       (("alias", "rotate", "shop.example"), "3 alias(es) made with an alias key"),
                       (("alias", "setup", "--base", "me@mail.example"), "3 alias(es) made with an alias key"),
                       (("me", "add", "email", "new@example.net"), "2 of your values encrypted with a key")):
        result = run(*args)
        assert result.exit_code == 1, args
        assert result.stderr.startswith(f"whoknows: error: the ledger holds {what} this machine does not have")
        assert "'whoknows import FILE' here" in result.stderr
        assert ("'whoknows me add KIND VALUE --new-key'" if args[0] == "me"
                else "'whoknows alias new VENDOR --new-key'") in result.stderr
    assert not (tmp_path / "home-c" / "secrets.json").exists()  # no key was made

    made = ok("alias", "new", "other.example", "--new-key").stdout.strip()  # starting over, knowingly
    assert run("alias", "verify", made).exit_code == 0
    ok("me", "add", "email", "new@example.net", "--new-key")
    code, checks = _doctor()
    assert code == 1  # the imported aliases and values are still not readable with the new keys
    assert checks["aliases"][1].startswith("3 of 4 do not verify with this machine's alias key (it is not the key")
    assert checks["own values"][1].startswith("2 of 3 cannot be decrypted with this machine's key (it is not the key")


def test_the_keys_are_restored_into_the_os_keyring_when_there_is_one(home_a, tmp_path, monkeypatch,
                                                                    passphrase_file):
    import keyring.core

    backup = tmp_path / "backup.json"
    ok("export", "--with-secrets", "--passphrase-file", str(passphrase_file), "-o", str(backup))
    home_b = tmp_path / "home-b"
    monkeypatch.setenv("WHOKNOWS_HOME", str(home_b))
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "xdg-data"))  # keyrings.alt's file: this test's own
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "xdg-config"))
    monkeypatch.setenv("PYTHON_KEYRING_BACKEND", "keyrings.alt.file.PlaintextKeyring")
    ok("import", str(backup), "--passphrase-file", str(passphrase_file))
    assert not (home_b / "secrets.json").exists()
    stored = keyring.core.load_keyring("keyrings.alt.file.PlaintextKeyring")
    assert stored.get_password("whoknows", "alias-key") is not None
    assert stored.get_password("whoknows", "me-key") is not None
    assert run("alias", "verify", home_a["news"]).exit_code == 0
    assert [kind for kind, _ in _values()] == ["email", "phone"]


def test_a_machine_with_other_keys_refuses_the_backup_s_keys_and_imports_nothing(
        home_a, tmp_path, monkeypatch, passphrase_file):
    backup = tmp_path / "backup.json"
    ok("export", "--with-secrets", "--passphrase-file", str(passphrase_file), "-o", str(backup))
    monkeypatch.setenv("WHOKNOWS_HOME", str(tmp_path / "home-d"))
    ok("alias", "setup", "--base", "other@mail.example")  # this machine's own alias key
    before = ok("export").stdout
    result = run("import", str(backup), "--passphrase-file", str(passphrase_file))
    assert result.exit_code == 1
    assert result.stderr.startswith("whoknows: error: this machine already has a different 'alias-key'")
    assert f"nothing was imported from {backup}; import it into a fresh data directory" in result.stderr
    assert ok("export").stdout == before


def test_importing_the_backup_where_its_keys_already_are_changes_no_key(home_a, whoknows_home, tmp_path,
                                                                       passphrase_file):
    backup = tmp_path / "backup.json"
    ok("export", "--with-secrets", "--passphrase-file", str(passphrase_file), "-o", str(backup))
    keys = _secrets_file(whoknows_home)
    assert ok("import", str(backup), "--passphrase-file", str(passphrase_file)).stdout.startswith(
        "imported 2 vendors (0 new)")
    assert _secrets_file(whoknows_home) == keys


def _tamper(document: dict, field: str) -> None:
    section = document["secrets"]
    if field == "names":
        section["names"] = ["alias-key"]
    else:
        raw = bytearray(base64.b64decode(section[field]))
        raw[-1] ^= 1
        section[field] = base64.b64encode(bytes(raw)).decode()


@pytest.mark.parametrize("change", ["wrong passphrase", "sealed", "salt", "nonce", "names"])
def test_a_wrong_passphrase_or_a_tampered_file_imports_nothing(home_a, tmp_path, monkeypatch, passphrase_file,
                                                               change):
    backup = tmp_path / "backup.json"
    ok("export", "--with-secrets", "--passphrase-file", str(passphrase_file), "-o", str(backup))
    if change == "wrong passphrase":
        passphrase_file.write_text(PASSPHRASE + "!\n")
    else:
        document = json.loads(backup.read_text())
        _tamper(document, change)
        backup.write_text(json.dumps(document))
    home = tmp_path / "home-e"
    monkeypatch.setenv("WHOKNOWS_HOME", str(home))
    result = run("import", str(backup), "--passphrase-file", str(passphrase_file))
    assert result.exit_code == 1
    assert result.stderr == (f"whoknows: error: the passphrase does not open the secrets in {backup} (a wrong "
                             "passphrase, or the file was altered); nothing was imported\n")
    assert not home.exists()  # no ledger, no key


def test_a_sealed_section_asking_for_gigabytes_is_refused_before_deriving(home_a, tmp_path, monkeypatch,
                                                                          passphrase_file):
    backup = tmp_path / "backup.json"
    ok("export", "--with-secrets", "--passphrase-file", str(passphrase_file), "-o", str(backup))
    document = json.loads(backup.read_text())
    document["secrets"]["scrypt"]["n"] = 2 ** 30
    backup.write_text(json.dumps(document))
    monkeypatch.setenv("WHOKNOWS_HOME", str(tmp_path / "home-f"))
    result = run("import", str(backup), "--passphrase-file", str(passphrase_file))
    assert result.exit_code == 1
    assert result.stderr == (f"whoknows: error: {backup}: the sealed secrets are damaged (scrypt n must be a whole "
                             "number from 16384 to 262144); nothing was imported\n")


def test_no_secret_is_in_the_ledger_or_a_plain_export_and_the_sealed_one_hides_them(
        home_a, whoknows_home, tmp_path, passphrase_file):
    keys = _secrets_file(whoknows_home)
    assert set(keys) == {"alias-key", "me-key"}
    forms = [form for value in keys.values()
             for form in (value, base64.b64decode(value).hex(), base64.urlsafe_b64encode(base64.b64decode(value)).decode())]
    sealed = tmp_path / "sealed.json"
    ok("export", "--with-secrets", "--passphrase-file", str(passphrase_file), "-o", str(sealed))
    texts = {"plain export": ok("export").stdout, "sealed export": sealed.read_text()}
    for path in whoknows_home.glob("ledger.db*"):
        texts[path.name] = path.read_bytes().decode("latin-1")
    for where, text in texts.items():
        for form in forms:
            assert form not in text, where
    assert PASSPHRASE not in texts["sealed export"]
    assert json.loads(texts["sealed export"])["secrets"]["names"] == ["alias-key", "me-key"]


def test_the_passphrase_is_never_an_argument_and_without_a_terminal_a_file_is_needed(home_a, tmp_path):
    result = run("export", "--with-secrets", "--passphrase", PASSPHRASE)
    assert result.exit_code == 2 and "No such option '--passphrase'" in result.stderr
    result = run("export", "--with-secrets")  # CliRunner's stdin is not a terminal
    assert result.exit_code == 1
    assert result.stderr == ("whoknows: error: --with-secrets needs a passphrase and there is no terminal to ask "
                             "for it: give --passphrase-file FILE (never the passphrase itself on the command "
                             "line)\n")
    short = tmp_path / "short"
    short.write_text("abc\n")
    result = run("export", "--with-secrets", "--passphrase-file", str(short), "-o", str(tmp_path / "x.json"))
    assert result.exit_code == 1
    assert "the passphrase is 3 characters; use at least 8" in result.stderr
    assert not (tmp_path / "x.json").exists()
    result = run("export", "--passphrase-file", str(short))
    assert result.exit_code == 2 and "--passphrase-file goes with --with-secrets" in result.stderr


def test_with_secrets_on_a_machine_without_keys_says_there_is_nothing_to_add(passphrase_file):
    ok("vendor", "add", "shop.example")
    result = run("export", "--with-secrets", "--passphrase-file", str(passphrase_file))
    assert result.exit_code == 1
    assert "this machine has no alias key and no key of your values yet" in result.stderr


# -- on a real terminal -----------------------------------------------------------------------------

ROOT = Path(__file__).resolve().parents[2]
# whoknows with a pseudo-terminal as its controlling terminal: the passphrase prompt reads /dev/tty.
ON_TERMINAL = (
    "import fcntl, sys, termios\n"
    "fcntl.ioctl(0, termios.TIOCSCTTY, 0)\n"
    "sys.argv = ['whoknows', *sys.argv[1:]]\n"
    "from cli.main import main\n"
    "main()\n"
)


def _on_terminal(args: list[str], answers: list[tuple[bytes, bytes]]) -> tuple[int, bytes]:
    """Run `whoknows ARGS` on a pseudo-terminal, typing each answer after its prompt appears."""
    controller, terminal = os.openpty()
    process = subprocess.Popen([sys.executable, "-c", ON_TERMINAL, *args], stdin=terminal, stdout=terminal,
                               stderr=terminal, cwd=ROOT, env=dict(os.environ), start_new_session=True)
    os.close(terminal)
    seen, pending, deadline = b"", list(answers), time.monotonic() + 60
    try:
        while time.monotonic() < deadline:
            if pending and pending[0][0] in seen:
                prompt, answer = pending.pop(0)
                seen = seen.replace(prompt, b"<" + prompt + b">", 1)
                os.write(controller, answer + b"\n")
            ready, _, _ = select.select([controller], [], [], 0.5)
            if ready:
                try:
                    chunk = os.read(controller, 4096)
                except OSError:  # EIO: the terminal's other end is closed, whoknows has finished
                    break
                if not chunk:
                    break
                seen += chunk
    finally:
        os.close(controller)
        code = process.wait(timeout=60)
    return code, seen


def test_the_passphrase_is_asked_twice_on_the_terminal_never_echoed(home_a, tmp_path, monkeypatch):
    backup = tmp_path / "backup.json"
    code, seen = _on_terminal(["export", "--with-secrets", "-o", str(backup)],
                              [(b"passphrase for the keys in the export: ", PASSPHRASE.encode()),
                               (b"repeat the passphrase: ", PASSPHRASE.encode())])
    assert code == 0, seen
    assert PASSPHRASE.encode() not in seen  # hidden input: not echoed
    assert json.loads(backup.read_text())["secrets"]["names"] == ["alias-key", "me-key"]

    monkeypatch.setenv("WHOKNOWS_HOME", str(tmp_path / "home-t"))
    code, seen = _on_terminal(["import", str(backup)],
                              [(f"passphrase for the keys in {backup}: ".encode(), PASSPHRASE.encode())])
    assert code == 0, seen
    assert PASSPHRASE.encode() not in seen
    assert b"restored from" in seen
    assert [kind for kind, _ in _values()] == ["email", "phone"]
    assert run("alias", "verify", home_a["news"]).exit_code == 0
