"""`whoknows alias ...` through click's CliRunner, and through real processes where it matters."""

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from cli_runner import ok, printed, run

ROOT = Path(__file__).resolve().parents[2]
WHOKNOWS = ROOT / ".venv" / "bin" / "whoknows"


def alias_json(*args):
    """`whoknows alias ARGS --json`, which must succeed, parsed."""
    return json.loads(printed("alias", *args, "--json"))


@pytest.fixture
def plus():
    ok("alias", "setup", "--base", "you@mail.example")


# -- setup ------------------------------------------------------------------------------------------


def test_setup_plus_and_show(whoknows_home):
    result = run("alias", "setup", "--base", "You@Mail.Example")
    assert result.exit_code == 0, result.output
    assert result.stdout == "aliases: plus addressing: you+TAG@mail.example\n"
    assert "keeping secrets in" in result.stderr  # the fallback notice comes at setup, once
    assert printed("alias", "setup") == "aliases: plus addressing: you+TAG@mail.example\n"
    assert alias_json("setup") == {"style": "plus", "domain": "mail.example", "mailbox": "you",
                                "pattern": "you+TAG@mail.example"}
    assert "keeping secrets" not in run("alias", "setup").stderr


def test_setup_catch_all():
    assert printed("alias", "setup", "--domain", "me.example") == "aliases: catch-all domain: TAG@me.example\n"


@pytest.mark.parametrize("args, message", [
    (["--base", "you.mail.example"], "is not an email address"),
    (["--base", "you+x@mail.example"], "already has a '+' tag"),
    (["--base", "you@mail"], "not a mail domain"),
    (["--domain", "192.168.1.1"], "IP address"),
    (["--base", "you@mail.example", "--domain", "me.example"], "only one of"),
    (["--style", "plus"], "give either"),
])
def test_setup_refuses_bad_input_and_keeps_the_old_setup(plus, args, message):
    result = run("alias", "setup", *args)
    assert result.exit_code == 2
    assert result.stderr.startswith("whoknows: error: ") and message in result.stderr
    assert printed("alias", "setup") == "aliases: plus addressing: you+TAG@mail.example\n"


def test_show_setup_before_setup():
    result = run("alias", "setup")
    assert result.exit_code == 1 and "not set up yet" in result.stderr


def test_changing_the_setup_says_existing_aliases_stay(plus):
    old = printed("alias", "new", "shop.example").strip()
    out = printed("alias", "setup", "--domain", "me.example")
    assert "1 existing alias(es) keep their addresses" in out
    assert printed("alias", "new", "shop.example").strip() == old
    assert printed("alias", "new", "news.example").strip().endswith("@me.example")
    assert printed("alias", "show", old).startswith(f"address:  {old}\nvendor:   shop.example\nstate:    active\n")


# -- new --------------------------------------------------------------------------------------------


def test_new_before_setup_is_a_clear_error(whoknows_home):
    result = run("alias", "new", "shop.example")
    assert result.exit_code == 1
    assert result.stderr == (
        "whoknows: error: aliases are not set up yet: run 'whoknows alias setup --base "
        "you@mail.example' (plus addressing) or 'whoknows alias setup --domain me.example' "
        "(catch-all domain)\n"
    )
    assert result.stdout == ""
    assert not (whoknows_home / "secrets.json").exists()


def test_new_prints_the_same_alias_for_the_same_vendor(plus):
    first = printed("alias", "new", "shop.example")
    assert re.fullmatch(r"you\+shop\.example\.[a-z2-7]{9}@mail\.example\n", first)
    assert printed("alias", "new", "https://www.Shop.Example/cart?x=1") == first
    assert alias_json("new", "shop.example") == {"address": first.strip(), "vendor": "shop.example",
                                              "created": False, "opaque": False}
    assert printed("alias", "new", "other.example") != first


def test_new_opaque(plus):
    address = printed("alias", "new", "shop.example", "--opaque").strip()
    assert re.fullmatch(r"you\+[a-z2-7]{9}@mail\.example", address)
    result = run("alias", "new", "shop.example")  # the vendor keeps its alias either way
    assert result.stdout.strip() == address


def test_new_opaque_for_a_vendor_with_a_labelled_alias_says_how_to_change(plus):
    labelled = printed("alias", "new", "shop.example").strip()
    result = run("alias", "new", "shop.example", "--opaque")
    assert result.exit_code == 0 and result.stdout.strip() == labelled
    assert "alias rotate shop.example --opaque" in result.stderr


@pytest.mark.parametrize("vendor, message", [
    ("localhost", "this machine"),
    ("10.1.2.3", "IP address"),
    ("co.uk", "public suffix"),
    ("", "must not be empty"),  # refused by the command group, for every command
])
def test_new_refuses_what_is_not_a_vendor(plus, vendor, message):
    result = run("alias", "new", vendor)
    assert result.exit_code == 2 and message in result.stderr
    assert alias_json("list") == []


def test_new_for_an_international_vendor(plus):
    address = printed("alias", "new", "bücher.de").strip()
    assert address.startswith("you+xn--bcher-kva.de.") and address.isascii()
    assert "bücher.de" in printed("alias", "list")


def test_processes_asking_at_once_get_one_alias(plus, whoknows_home):
    env = dict(os.environ)
    procs = [subprocess.Popen([str(WHOKNOWS), "alias", "new", "shop.example"], env=env,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for _ in range(4)]
    outputs = [proc.communicate(timeout=60) for proc in procs]
    assert all(proc.returncode == 0 for proc in procs), outputs
    assert len({out for out, _ in outputs}) == 1
    assert len(alias_json("list", "--vendor", "shop.example")) == 1


# -- rotate, disable, list, show --------------------------------------------------------------------


def test_rotate_keeps_the_old_alias_attributable(plus):
    old = printed("alias", "new", "shop.example").strip()
    result = run("alias", "rotate", "shop.example")
    assert result.exit_code == 0, result.output
    new = result.stdout.strip()
    assert new != old and new.endswith("-2@mail.example")
    assert f"retired {old}" in result.stderr

    shown = alias_json("show", old)
    assert shown["vendor"] == "shop.example" and shown["state"] == "retired" and shown["state_changed_at"]
    verified = alias_json("verify", old)
    assert verified["vendor"] == "shop.example" and verified["ledger"]["state"] == "retired"
    assert printed("alias", "new", "shop.example").strip() == new
    assert alias_json("rotate", "shop.example", "--opaque")["retired"] == new


def test_rotate_a_vendor_without_alias():
    ok("alias", "setup", "--domain", "me.example")
    result = run("alias", "rotate", "shop.example")
    assert result.exit_code == 1 and "no alias yet" in result.stderr


def test_disable_by_address_and_vendor(plus):
    first = printed("alias", "new", "shop.example").strip()
    assert printed("alias", "disable", first) == f"disabled: {first} (shop.example)\n"
    assert printed("alias", "disable", first) == f"already disabled: {first} (shop.example)\n"
    second = printed("alias", "new", "shop.example").strip()
    assert second != first
    assert alias_json("disable", "shop.example")["address"] == second
    result = run("alias", "disable", "shop.example")
    assert result.exit_code == 1 and "has no active alias" in result.stderr
    result = run("alias", "disable", "stranger@mail.example")
    assert result.exit_code == 1 and "not an alias in the ledger" in result.stderr


def test_list_filters_and_json(plus):
    shop = printed("alias", "new", "shop.example").strip()
    news = printed("alias", "new", "news.example").strip()
    ok("alias", "disable", news)
    listed = alias_json("list")
    assert [(a["address"], a["vendor"], a["state"]) for a in listed] == [
        (news, "news.example", "disabled"), (shop, "shop.example", "active"),
    ]
    assert [a["address"] for a in alias_json("list", "--vendor", "https://shop.example/")] == [shop]
    assert [a["address"] for a in alias_json("list", "--state", "disabled")] == [news]
    table = printed("alias", "list")
    assert "shop.example" in table and "disabled" in table
    assert run("alias", "list", "--state", "gone").exit_code == 2
    assert printed("alias", "list", "--vendor", "nobody.example") == "(aliases: none)\n"


def test_show_unknown_and_malformed_addresses(plus):
    result = run("alias", "show", "stranger@mail.example")
    assert result.exit_code == 1 and "not an alias in the ledger" in result.stderr
    assert "alias verify" in result.stderr
    result = run("alias", "show", "not-an-address")
    assert result.exit_code == 2 and "is not an email address" in result.stderr


# -- verify -----------------------------------------------------------------------------------------


def test_verify_a_foreign_address(plus):
    ok("alias", "new", "shop.example")
    for address in ("friend@mail.example", "you+shop.example.aaaaaaaaa@mail.example"):
        result = run("alias", "verify", address)
        assert result.exit_code == 1
        assert "does not verify" in result.stdout
        data = json.loads(run("alias", "verify", address, "--json").stdout)
        assert data["verified"] is False and data["vendor"] is None and data["reason"]


def test_verify_before_any_key_exists(whoknows_home):
    result = run("alias", "verify", "you+shop.example.aaaaaaaaa@mail.example")
    assert result.exit_code == 1 and "no alias key on this machine" in result.stderr
    assert not (whoknows_home / "ledger.db").exists()  # verify never creates a ledger


def test_verify_opaque_from_the_ledger_and_with_vendor(plus, whoknows_home):
    address = printed("alias", "new", "shop.example", "--opaque").strip()
    ok("alias", "new", "news.example")
    out = printed("alias", "verify", address)
    assert out.startswith(f"{address}: made for shop.example (opaque, generation 1)\n")
    for name in ("ledger.db", "ledger.db-wal", "ledger.db-shm"):
        (whoknows_home / name).unlink(missing_ok=True)  # the ledger is gone, the key is not
    result = run("alias", "verify", address)
    assert result.exit_code == 1 and "--vendor" in result.stdout
    assert printed("alias", "verify", address, "--vendor", "news.example", "--vendor", "www.shop.example").startswith(
        f"{address}: made for shop.example")


def keyring_env(tmp_path, home: Path) -> dict:
    """A real keyring backend shared by two data directories (as an OS keyring is)."""
    env = dict(os.environ)
    env.update(WHOKNOWS_HOME=str(home), PYTHON_KEYRING_BACKEND="keyrings.alt.file.PlaintextKeyring",
               XDG_DATA_HOME=str(tmp_path / "xdg-data"), XDG_CONFIG_HOME=str(tmp_path / "xdg-config"))
    return env


def whoknows(*args, env) -> subprocess.CompletedProcess:
    return subprocess.run([str(WHOKNOWS), *args], env=env, capture_output=True, text=True, timeout=60)


def test_verify_in_a_fresh_data_dir_needs_only_the_key(tmp_path):
    made_here = keyring_env(tmp_path, tmp_path / "home-a")
    assert whoknows("alias", "setup", "--base", "you@mail.example", env=made_here).returncode == 0
    address = whoknows("alias", "new", "shop.example", env=made_here).stdout.strip()
    opaque = whoknows("alias", "rotate", "shop.example", "--opaque", env=made_here).stdout.strip()

    fresh = keyring_env(tmp_path, tmp_path / "home-b")  # no ledger, no setup; the same keyring
    result = whoknows("alias", "verify", address, env=fresh)
    assert result.returncode == 0, result.stderr
    assert result.stdout == f"{address}: made for shop.example (labelled, generation 1)\n"
    assert whoknows("alias", "verify", opaque, env=fresh).returncode == 1
    assert whoknows("alias", "verify", opaque, "--vendor", "shop.example", env=fresh).returncode == 0
    assert not (tmp_path / "home-b" / "ledger.db").exists()


IMPORTED = (
    "import sys\n"
    "sys.argv = ['whoknows', 'alias', 'new', sys.argv[1]]\n"
    "from cli.main import main\n"
    "try:\n    main()\nexcept SystemExit:\n    pass\n"
    "print(sorted(m for m in ('rich', 'whoknows.public_suffixes', 'keyring', 'mitmproxy') if m in sys.modules))\n"
)


@pytest.mark.parametrize("vendor, heavy", [
    ("shop.example", []),  # a vendor the ledger knows: neither the suffix list nor the keyring
    ("news.example", ["whoknows.public_suffixes"]),  # a new vendor: the suffix list, still no keyring (key recorded)
])
def test_alias_new_imports_only_what_it_needs(plus, vendor, heavy):
    ok("alias", "new", "shop.example")
    result = subprocess.run([sys.executable, "-c", IMPORTED, vendor], cwd=ROOT, env=dict(os.environ),
                            capture_output=True, text=True, timeout=60)
    assert result.stdout.splitlines()[-1] == repr(heavy), result.stdout + result.stderr
