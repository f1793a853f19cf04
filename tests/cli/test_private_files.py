"""Every file whoknows writes with personal data in it is readable by you alone (0600), whatever the
umask and whatever mode a file it replaces had: letters, .eml messages, exports (JSON, CSV, ZIP)."""

import os
import stat
import zipfile

import pytest

from cli_runner import ok, run
from whoknows.paths import private_file


@pytest.fixture(autouse=True)
def permissive_umask():
    """A common desktop umask: files made without care come out 0644, readable by everyone."""
    previous = os.umask(0o022)
    yield
    os.umask(previous)


@pytest.fixture
def shop():
    ok("alias", "setup", "--base", "you@mail.example")
    ok("alias", "new", "shop.example")
    ok("vendor", "add", "shop.example", "--privacy-contact", "privacy@shop.example")
    ok("tell", "shop.example", "name=Ana Pérez", "phone=+34 600 111 222")


def _mode(path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


@pytest.mark.parametrize("name", ["letter.txt", "letter.eml"])
def test_a_letter_is_0600_even_over_a_world_readable_file(shop, tmp_path, name):
    out = tmp_path / name
    out.write_text("old")
    os.chmod(out, 0o644)
    ok("request", "access", "shop.example", "--out", str(out))
    assert "+34 600 111 222" in " ".join(out.read_text(encoding="utf-8").split())  # personal data
    assert _mode(out) == 0o600
    assert sorted(p.name for p in tmp_path.iterdir()) == [name, "whoknows-home"]  # no temporary file left


def test_every_export_is_0600(shop, tmp_path):
    json_out = tmp_path / "ledger.json"
    json_out.write_text("old")
    os.chmod(json_out, 0o644)
    ok("export", "-o", str(json_out))
    ok("export", "--format", "csv", "-o", str(tmp_path / "sheets"))
    ok("export", "--format", "csv", "-o", str(tmp_path / "ledger.zip"))
    assert _mode(json_out) == 0o600
    assert _mode(tmp_path / "sheets") == 0o700
    assert {_mode(p) for p in (tmp_path / "sheets").iterdir()} == {0o600}
    assert _mode(tmp_path / "ledger.zip") == 0o600
    with zipfile.ZipFile(tmp_path / "ledger.zip") as archive:
        assert {(m.external_attr >> 16) & 0o777 for m in archive.infolist()} == {0o600}


def test_a_failed_write_leaves_the_old_file_and_no_temporary_one(tmp_path):
    target = tmp_path / "kept.txt"
    target.write_text("old")
    with pytest.raises(RuntimeError):
        with private_file(target, text=True) as out:
            out.write("half of the new")
            raise RuntimeError("the writer failed")
    assert target.read_text() == "old"
    assert [p.name for p in tmp_path.iterdir()] == ["kept.txt"]


def test_a_letter_to_an_unwritable_place_is_one_clear_error(shop, tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("x")
    result = run("request", "access", "shop.example", "--out", str(blocker / "letter.txt"))
    assert result.exit_code == 1
    assert result.stderr == f"whoknows: error: cannot write {blocker / 'letter.txt'}: Not a directory\n"


def test_the_report_is_0600_even_over_a_world_readable_file(shop, tmp_path):
    out = tmp_path / "who-knows-me.html"
    out.write_text("old")
    os.chmod(out, 0o644)
    ok("report", "--out", str(out))
    assert out.read_text(encoding="utf-8").startswith("<!doctype html>")
    assert _mode(out) == 0o600
