"""Every command and subcommand of `whoknows` explains itself (`--help` and the command listing)."""

import click
from click.testing import CliRunner

from cli.main import COMMANDS, cli


def _walk(group: click.Group, ctx: click.Context, path: tuple[str, ...] = ()):
    for name in group.list_commands(ctx):
        command = group.get_command(ctx, name)
        assert command is not None, f"{' '.join(path + (name,))} is listed but cannot be loaded"
        yield path + (name,), command
        if isinstance(command, click.Group):
            yield from _walk(command, click.Context(command, parent=ctx, info_name=name), path + (name,))


def _all_commands():
    ctx = click.Context(cli, info_name="whoknows")
    return list(_walk(cli, ctx))


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
