"""whoknows.secrets: the OS keyring when there is one, else a 0600 fallback file; never a lost key.

The "OS keyring" here is keyrings.alt's PlaintextKeyring chosen explicitly (PYTHON_KEYRING_BACKEND or
keyringrc.cfg) with its file in a temporary XDG_DATA_HOME: a real keyring backend, run through
keyring's own loading code, that never touches the developer's keyring.
"""

import base64
import json
import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from whoknows import secrets
from whoknows.errors import NotFoundError, WhoknowsError

ROOT = Path(__file__).resolve().parents[1]
PLAINTEXT = "keyrings.alt.file.PlaintextKeyring"
FAIL = "keyring.backends.fail.Keyring"


@pytest.fixture(autouse=True)
def private_xdg(tmp_path, monkeypatch):
    """keyring's config and file backends read XDG dirs: point them at this test's directory."""
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "xdg-data"))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "xdg-config"))
    return tmp_path


def plaintext_keyring_file(tmp_path) -> Path:
    return tmp_path / "xdg-data" / "python_keyring" / "keyring_pass.cfg"


def in_plaintext_keyring(name: str) -> str | None:
    """What the (test) keyring holds for `name`, read through keyring's own API."""
    import keyring.core

    return keyring.core.load_keyring(PLAINTEXT).get_password("whoknows", name)


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


# -- the fallback file --------------------------------------------------------------------------------


def test_fallback_file_is_0600_created_once_and_said_once(whoknows_home, capsys):
    key = secrets.get_secret("alias-key", create=True)

    path = whoknows_home / secrets.FALLBACK_FILE
    assert len(key) == 32
    assert mode(path) == 0o600
    assert mode(whoknows_home) == 0o700
    first = capsys.readouterr().err
    assert first == f"whoknows: no OS keyring available; keeping secrets in {path} (mode 0600)\n"

    assert secrets.get_secret("alias-key", create=True) == key
    assert secrets.get_secret("alias-key") == key
    assert secrets.get_secret("extension-token", create=True) != key  # a second secret, same file
    assert capsys.readouterr().err == ""
    assert set(json.loads(path.read_text())["secrets"]) == {"alias-key", "extension-token"}
    assert secrets.secret_location("alias-key") == "file"


def test_missing_secret_without_create_is_not_found_and_creates_nothing(whoknows_home):
    with pytest.raises(NotFoundError, match="no secret 'alias-key'"):
        secrets.get_secret("alias-key")
    assert not (whoknows_home / secrets.FALLBACK_FILE).exists()


def test_damaged_fallback_file_is_an_error_not_a_new_key(whoknows_home):
    secrets.get_secret("alias-key", create=True)
    path = whoknows_home / secrets.FALLBACK_FILE
    path.write_text('{"secrets": {"alias-key": "not base64!"}}')
    with pytest.raises(WhoknowsError, match="damaged"):
        secrets.get_secret("alias-key", create=True)
    assert "not base64!" in path.read_text()  # left for the user to repair, not overwritten


def run_python(code: str, env: dict) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", code], env=env, cwd=ROOT, capture_output=True, text=True, timeout=60)


PRINT_KEY = "from whoknows.secrets import get_secret; print(get_secret('alias-key', create=True).hex())"


def test_key_is_stable_across_processes(whoknows_home):
    env = dict(os.environ)
    first, second = run_python(PRINT_KEY, env), run_python(PRINT_KEY, env)

    assert first.returncode == second.returncode == 0, first.stderr + second.stderr
    assert len(first.stdout.strip()) == 64
    assert first.stdout == second.stdout
    assert "keeping secrets in" in first.stderr
    assert second.stderr == ""


def test_processes_starting_together_agree_on_one_key(whoknows_home):
    env = dict(os.environ)
    procs = [
        subprocess.Popen([sys.executable, "-c", PRINT_KEY], env=env, cwd=ROOT, stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE, text=True)
        for _ in range(4)
    ]
    results = [proc.communicate(timeout=60) for proc in procs]

    assert all(proc.returncode == 0 for proc in procs), results
    assert len({out for out, _ in results}) == 1
    assert sum("keeping secrets in" in err for _, err in results) == 1


# -- keyrings -----------------------------------------------------------------------------------------


def test_python_keyring_backend_is_honoured(whoknows_home, private_xdg, monkeypatch, capsys):
    monkeypatch.setenv("PYTHON_KEYRING_BACKEND", PLAINTEXT)

    key = secrets.get_secret("alias-key", create=True)

    assert plaintext_keyring_file(private_xdg).exists()
    assert in_plaintext_keyring("alias-key") == base64.b64encode(key).decode()
    assert not (whoknows_home / secrets.FALLBACK_FILE).exists()
    assert capsys.readouterr().err == ""
    assert secrets.secret_location("alias-key") == PLAINTEXT
    assert "PYTHON_KEYRING_BACKEND" in secrets.backend_description()


def test_recorded_keyring_is_used_without_discovery(whoknows_home, private_xdg, monkeypatch):
    monkeypatch.setenv("PYTHON_KEYRING_BACKEND", PLAINTEXT)
    key = secrets.get_secret("alias-key", create=True)
    monkeypatch.delenv("PYTHON_KEYRING_BACKEND")
    monkeypatch.setattr(secrets, "discover_keyring", lambda: pytest.fail("discovery on the fast path"))

    assert secrets.get_secret("alias-key", create=True) == key


def test_a_keyring_that_appears_later_gets_the_same_key(whoknows_home, private_xdg, monkeypatch, capsys):
    key = secrets.get_secret("alias-key", create=True)  # no keyring: the fallback file
    capsys.readouterr()

    monkeypatch.setenv("PYTHON_KEYRING_BACKEND", PLAINTEXT)  # the user now names a keyring
    assert secrets.get_secret("alias-key", create=True) == key

    assert "moved the secret 'alias-key'" in capsys.readouterr().err
    assert not (whoknows_home / secrets.FALLBACK_FILE).exists()  # no plaintext copy left behind
    assert in_plaintext_keyring("alias-key") == base64.b64encode(key).decode()
    monkeypatch.delenv("PYTHON_KEYRING_BACKEND")
    assert secrets.get_secret("alias-key", create=True) == key  # found through the record


def test_a_secret_gone_from_its_keyring_is_an_error_not_a_new_key(whoknows_home, private_xdg, monkeypatch):
    monkeypatch.setenv("PYTHON_KEYRING_BACKEND", PLAINTEXT)
    secrets.get_secret("alias-key", create=True)
    plaintext_keyring_file(private_xdg).unlink()  # deleted behind whoknows' back
    monkeypatch.delenv("PYTHON_KEYRING_BACKEND")

    with pytest.raises(WhoknowsError, match="is not there any more"):
        secrets.get_secret("alias-key", create=True)
    assert not (whoknows_home / secrets.FALLBACK_FILE).exists()


def test_an_unloadable_recorded_keyring_is_an_error_not_a_new_key(whoknows_home, monkeypatch):
    secrets.get_secret("alias-key", create=True)
    locations = whoknows_home / secrets.LOCATIONS_FILE
    locations.write_text(json.dumps({"alias-key": "nowhere.backend.Keyring"}))
    (whoknows_home / secrets.FALLBACK_FILE).unlink()
    monkeypatch.delenv("PYTHON_KEYRING_BACKEND")

    with pytest.raises(WhoknowsError, match="cannot load the keyring backend nowhere.backend.Keyring"):
        secrets.get_secret("alias-key", create=True)
    assert not (whoknows_home / secrets.FALLBACK_FILE).exists()


def test_discovery_honours_keyringrc_and_never_picks_a_not_recommended_backend(private_xdg, monkeypatch):
    monkeypatch.delenv("PYTHON_KEYRING_BACKEND")
    found = secrets.discover_keyring()
    if found is not None:  # a machine with a real keyring: whatever it is, keyring recommends it
        import keyring.core

        assert keyring.core.load_keyring(found).priority >= 1
    assert found != PLAINTEXT  # installed here, priority 0.5: not taken by discovery alone

    config = private_xdg / "xdg-config" / "python_keyring"
    config.mkdir(parents=True)
    (config / "keyringrc.cfg").write_text(f"[backend]\ndefault-keyring={PLAINTEXT}\n")
    assert secrets.discover_keyring() == PLAINTEXT
    (config / "keyringrc.cfg").write_text(f"[backend]\ndefault-keyring={FAIL}\n")
    assert secrets.discover_keyring() is None


def test_without_any_setting_a_headless_machine_uses_the_fallback_file(whoknows_home, monkeypatch):
    monkeypatch.delenv("PYTHON_KEYRING_BACKEND")
    if secrets.discover_keyring() is not None:
        pytest.skip("this machine has an OS keyring; the fallback is tested with the fail backend")
    secrets.get_secret("alias-key", create=True)
    assert secrets.secret_location("alias-key") == "file"
    assert mode(whoknows_home / secrets.FALLBACK_FILE) == 0o600


def test_move_secrets_to_keyring(whoknows_home, private_xdg, monkeypatch, capsys):
    key = secrets.get_secret("alias-key", create=True)
    monkeypatch.setenv("PYTHON_KEYRING_BACKEND", PLAINTEXT)

    assert secrets.move_secrets_to_keyring() == ["alias-key"]
    assert secrets.secret_location("alias-key") == PLAINTEXT
    assert not (whoknows_home / secrets.FALLBACK_FILE).exists()
    monkeypatch.delenv("PYTHON_KEYRING_BACKEND")
    assert secrets.get_secret("alias-key") == key


def test_move_without_a_keyring_says_so(whoknows_home, monkeypatch):
    secrets.get_secret("alias-key", create=True)
    monkeypatch.setattr(secrets, "discover_keyring", lambda: None)
    with pytest.raises(WhoknowsError, match="no OS keyring is available"):
        secrets.move_secrets_to_keyring()
    assert secrets.secret_location("alias-key") == "file"


# -- never in the ledger or an export -------------------------------------------------------------------


def test_the_key_is_in_neither_the_ledger_nor_an_export(whoknows_home):
    from click.testing import CliRunner

    from cli.main import COMMANDS, cli

    runner = CliRunner()
    assert runner.invoke(cli, ["alias", "setup", "--base", "you@mail.example"]).exit_code == 0
    for vendor in ("shop.example", "news.example", "bank.example"):
        assert runner.invoke(cli, ["alias", "new", vendor]).exit_code == 0
    key = secrets.get_secret("alias-key")
    forms = [key, key.hex().encode(), base64.b64encode(key), base64.b32encode(key).lower(), base64.b32encode(key)]

    ledger_bytes = b"".join(p.read_bytes() for p in whoknows_home.glob("ledger.db*"))
    assert b"you+shop.example." in ledger_bytes  # the aliases are there...
    assert not any(form in ledger_bytes for form in forms)  # ...the key is not
    if "export" in COMMANDS:
        exported = runner.invoke(cli, ["export"])
        assert exported.exit_code == 0, exported.output
        assert "you+news.example." in exported.stdout
        assert not any(form.decode("latin-1") in exported.stdout for form in forms)


# -- restoring from a backup --------------------------------------------------------------------------


def test_a_restored_secret_goes_into_the_os_keyring_when_there_is_one(whoknows_home, monkeypatch):
    monkeypatch.setenv("PYTHON_KEYRING_BACKEND", PLAINTEXT)
    value = os.urandom(32)
    assert secrets.restore_secret("alias-key", value) is True
    assert in_plaintext_keyring("alias-key") == base64.b64encode(value).decode()
    assert not (whoknows_home / secrets.FALLBACK_FILE).exists()
    assert secrets.secret_location("alias-key") == PLAINTEXT
    assert secrets.get_secret("alias-key") == value
    assert secrets.restore_secret("alias-key", value) is False  # already there: nothing to do


def test_a_restored_secret_goes_into_the_fallback_file_without_a_keyring(whoknows_home):
    value = os.urandom(32)
    assert secrets.restore_secret("me-key", value, check_only=True) is True
    assert not (whoknows_home / secrets.FALLBACK_FILE).exists()  # check_only stores nothing
    assert secrets.restore_secret("me-key", value) is True
    assert mode(whoknows_home / secrets.FALLBACK_FILE) == 0o600
    assert secrets.get_secret("me-key") == value


@pytest.mark.parametrize("where", [FAIL, PLAINTEXT])
def test_a_different_secret_already_here_is_never_overwritten(whoknows_home, monkeypatch, where):
    monkeypatch.setenv("PYTHON_KEYRING_BACKEND", where)
    own = secrets.get_secret("alias-key", create=True)
    for check_only in (True, False):
        with pytest.raises(secrets.SecretConflict, match="this machine already has a different 'alias-key'"):
            secrets.restore_secret("alias-key", os.urandom(32), check_only=check_only)
    assert secrets.get_secret("alias-key") == own


def test_a_secret_recorded_but_lost_from_its_store_can_be_restored(whoknows_home):
    value = secrets.get_secret("alias-key", create=True)
    (whoknows_home / secrets.FALLBACK_FILE).unlink()  # the keyring was wiped
    with pytest.raises(WhoknowsError, match="is not there any more"):
        secrets.get_secret("alias-key")
    assert secrets.restore_secret("alias-key", value) is True
    assert secrets.get_secret("alias-key") == value


def test_a_password_of_the_user_is_kept_replaced_and_never_made(whoknows_home):
    assert secrets.get_password("account-smtp") is None
    secrets.store_password("account-smtp", "first pässword")
    assert secrets.get_password("account-smtp") == "first pässword"
    secrets.store_password("account-smtp", "x" * 100)  # any length; the user changed it
    assert secrets.get_password("account-smtp") == "x" * 100
    assert b"x" * 100 not in (whoknows_home / "secret-locations.json").read_bytes()
    with pytest.raises(ValueError):
        secrets.get_secret("account-smtp", create=True)  # a password is given, never made up
    with pytest.raises(ValueError):
        secrets.store_password("alias-key", "not a password name")


def test_a_password_goes_to_the_os_keyring_and_moves_there_from_the_fallback_file(whoknows_home, monkeypatch):
    secrets.store_password("account-smtp", "in the file first")  # no keyring yet (conftest)
    assert secrets.secret_location("account-smtp") == "file"
    monkeypatch.setenv("PYTHON_KEYRING_BACKEND", PLAINTEXT)
    assert secrets.move_secrets_to_keyring() == ["account-smtp"]
    assert base64.b64decode(in_plaintext_keyring("account-smtp")) == b"in the file first"
    secrets.store_password("account-smtp", "changed")
    assert secrets.get_password("account-smtp") == "changed"
    assert not (whoknows_home / secrets.FALLBACK_FILE).exists()
