"""A data directory whoknows cannot write: one clear line, exit 1, for every command that opens it.

Tests run as root here, and root ignores a directory's 0500 mode. Two honest ways around that:
- a data directory under a regular *file* (`.../file/sub`): mkdir fails for everyone, root included;
- the real thing, a 0500 directory, with the CLI run in a new user namespace (`unshare --user`):
  the process keeps uid 0, so it still owns the files, but it has no capability over them, so the
  kernel applies the mode bits. Without root, the test simply chmods and runs the CLI as itself.
"""

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from cli.main import cli

WHOKNOWS = Path(sys.executable).with_name("whoknows")
COMMANDS = [
    ["vendor", "list"],
    ["vendor", "show", "shop.example"],
    ["tell", "shop.example", "name=Ana"],
    ["knows", "phone"],
    ["prefs", "shop.example", "--no-marketing"],
    ["export"],
]


@pytest.mark.parametrize("args", COMMANDS, ids=" ".join)
def test_a_data_dir_that_cannot_be_created_is_one_clear_error(tmp_path, monkeypatch, args):
    blocker = tmp_path / "file"
    blocker.write_text("a regular file where a directory should be")
    monkeypatch.setenv("WHOKNOWS_HOME", str(blocker / "sub"))
    result = CliRunner().invoke(cli, args)
    assert result.exit_code == 1
    assert result.stderr == f"whoknows: error: cannot create the data directory {blocker / 'sub'}: Not a directory\n"
    assert result.stdout == ""


def _unprivileged(argv: list[str]) -> list[str]:
    if os.geteuid() != 0:
        return argv
    if shutil.which("unshare") is None:
        pytest.skip("running as root without unshare(1): cannot make a directory unwritable for this test")
    probe = subprocess.run(["unshare", "--user", "true"], capture_output=True)
    if probe.returncode != 0:
        pytest.skip(f"user namespaces are not available here: {probe.stderr.decode().strip()}")
    return ["unshare", "--user", *argv]


def _run(home: Path, args: list[str]) -> subprocess.CompletedProcess:
    env = {**os.environ, "WHOKNOWS_HOME": str(home)}
    return subprocess.run(_unprivileged([str(WHOKNOWS), *args]), env=env, capture_output=True, text=True, timeout=60)


@pytest.fixture
def read_only_home(whoknows_home):
    whoknows_home.mkdir(mode=0o700)
    yield whoknows_home
    whoknows_home.chmod(0o700)  # so pytest can clean up


@pytest.mark.parametrize("args", COMMANDS, ids=" ".join)
def test_a_read_only_data_dir_without_a_ledger_is_one_clear_error(read_only_home, args):
    read_only_home.chmod(0o500)
    result = _run(read_only_home, args)
    assert result.returncode == 1, result
    assert result.stderr == f"whoknows: error: cannot write {read_only_home / 'ledger.db'}: Permission denied\n"
    assert result.stdout == ""


@pytest.mark.parametrize("args", COMMANDS, ids=" ".join)
def test_a_read_only_data_dir_with_a_ledger_is_one_clear_error_and_the_ledger_is_unchanged(read_only_home, args):
    assert _run(read_only_home, ["tell", "shop.example", "phone=+34600111222"]).returncode == 0
    before = (read_only_home / "ledger.db").read_bytes()
    read_only_home.chmod(0o500)
    result = _run(read_only_home, args)
    assert result.returncode == 1, result
    assert result.stderr == (
        f"whoknows: error: cannot open the ledger {read_only_home / 'ledger.db'}: its directory "
        f"{read_only_home} is not writable (attempt to write a readonly database)\n"
    )
    assert (read_only_home / "ledger.db").read_bytes() == before
