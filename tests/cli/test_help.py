"""Every command and subcommand of `whoknows` explains itself (`--help` and the command listing)."""

import click
from click.testing import CliRunner

from cli.main import COMMANDS, cli
from cli_runner import all_commands as _all_commands


def test_every_registered_command_and_subcommand_has_help_text():
    commands = _all_commands()
    assert len(commands) >= 10  # the walk really found the registry (vendor, tell, knows, ... at least)
    missing = [" ".join(path) for path, command in commands
               if not (command.help or "").strip() or not command.get_short_help_str().strip()]
    assert missing == [], f"commands without help: {missing}"


def test_every_option_of_every_command_says_what_it_does():
    missing = []
    for path, command in _all_commands():
        for param in command.params:
            if isinstance(param, click.Option) and not param.hidden and not (param.help or "").strip():
                missing.append(f"{' '.join(path)} {param.opts[0]}")
    assert missing == [], f"options without help: {missing}"


def test_help_runs_for_every_command_and_the_group_lists_them():
    runner = CliRunner()
    top = runner.invoke(cli, ["--help"])
    assert top.exit_code == 0
    for path, command in _all_commands():
        result = runner.invoke(cli, [*path, "--help"])
        assert result.exit_code == 0, (path, result.stderr)
        assert result.stdout.startswith(f"Usage: cli {' '.join(path)}"), path
        if len(path) == 1:
            assert path[0] in top.stdout
    for name in ("vendor", "tell", "knows", "prefs", "export", "import"):
        assert name in COMMANDS and name in top.stdout
