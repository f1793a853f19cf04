"""The `whoknows` group itself (cli/main.py): what holds for every command."""

import click
import pytest

from cli_runner import all_commands, run
from whoknows.ledger import open_ledger

WITH_ARGUMENTS = [(path, command) for path, command in all_commands()
                  if any(isinstance(p, click.Argument) for p in command.params)]


def test_the_walk_found_the_commands_that_take_arguments():
    names = {" ".join(path) for path, _ in WITH_ARGUMENTS}
    assert {"tell", "knows", "mail scan", "lists add", "vendor show", "alias new", "request access", "import"} <= names


@pytest.mark.parametrize("path", [path for path, _ in WITH_ARGUMENTS], ids=" ".join)
@pytest.mark.parametrize("empty", ["", "  "])
def test_an_empty_argument_is_a_usage_error_in_every_command(path, empty, whoknows_home):
    command = dict(WITH_ARGUMENTS)[path]
    arguments = [p for p in command.params if isinstance(p, click.Argument)]
    result = run(*path, *[empty] * sum(max(p.nargs, 1) for p in arguments))
    assert result.exit_code == 2, (result.stdout, result.stderr)
    assert result.stderr.startswith("whoknows: error: Invalid value for ") and "must not be empty" in result.stderr
    assert result.stderr.count("\n") == 1
    if (whoknows_home / "ledger.db").exists():
        with open_ledger() as ledger:
            assert ledger.query("SELECT count(*) FROM vendors")[0][0] == 0


GROUPS = [path for path, command in all_commands() if isinstance(command, click.Group)]


@pytest.mark.parametrize("path", [(), *GROUPS], ids=lambda path: " ".join(("whoknows", *path)))
def test_a_bare_command_group_prints_its_help_and_exits_0(path):
    result = run(*path)
    assert result.exit_code == 0, result.stderr
    if path == ("lists",):  # a group that is also a command: `whoknows lists` shows the lists
        assert "filter lists" in result.stdout
        return
    if path == ("terms",):  # the same: `whoknows terms` shows the terms
        assert "Personal terms" in result.stdout
        return
    if path == ("trackers",):  # the same: `whoknows trackers` lists the learned trackers
        assert "Learned trackers: none" in result.stdout
        return
    assert result.stdout.startswith(f"Usage: {' '.join(('cli', *path))} [OPTIONS] COMMAND [ARGS]...")
    assert "Commands:" in result.stdout and result.stderr == ""
