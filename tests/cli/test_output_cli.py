"""cli/output.py's tables, as a user sees them on a narrow terminal: an address is never broken."""

from click.testing import CliRunner

from cli.main import cli
from cli_runner import ok

VENDOR = "averyveryverylongshopname.example"


def narrow(*args: str, columns: int = 40) -> str:
    result = CliRunner().invoke(cli, list(args), env={"COLUMNS": str(columns)})
    assert result.exit_code == 0, result.stderr
    return result.stdout


def test_aliases_and_email_addresses_stay_whole_in_every_table_however_narrow_the_terminal(tmp_path):
    ok("alias", "setup", "--base", "averylongname@mail.example")
    alias = ok("alias", "new", VENDOR).stdout.strip()
    ok("tell", VENDOR, "email", "email=ana.maria.perez.gonzalez@example.com", "name=Ana Maria Perez Gonzalez")
    (tmp_path / "a.eml").write_text(
        f"From: win@spam.example\nTo: {alias}\nDate: Sat, 09 Mar 2024 08:00:00 +0000\n\nx\n")
    for args in (("alias", "list"), ("knows", "email"), ("vendor", "show", VENDOR), ("mail", "scan", str(tmp_path))):
        out = narrow(*args)
        assert alias in out, (args, out)  # on one line, not folded into pieces
        if args[0] in ("knows", "vendor"):
            assert "ana.maria.perez.gonzalez@example.com" in out
    # the other columns make room first (the vendor's domain wraps), so the table is only as wide as it must be
    listing = narrow("alias", "list")
    assert max(len(line) for line in listing.splitlines()) < len(alias) + 40


def test_a_table_that_fits_is_not_widened():
    ok("alias", "setup", "--base", "me@m.example")
    alias = ok("alias", "new", "a.example").stdout.strip()
    out = narrow("alias", "list", columns=80)
    assert alias in out and max(len(line) for line in out.splitlines()) <= 80


def test_a_reference_in_brackets_is_shown_whole_not_taken_for_markup(tmp_path):
    ok("me", "add", "phone", "+34 600 111 222")
    (tmp_path / "data.json").write_text('{"mobile": "+34600111222"}')
    out = ok("vendor", "data", "shop.example", str(tmp_path / "data.json")).stdout
    tag = ok("me", "list", "--json").stdout.split('"tag": "')[1][:8]
    assert f"[me:{tag}]" in out
