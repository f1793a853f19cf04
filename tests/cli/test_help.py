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


def test_every_command_s_help_ends_with_one_or_two_examples_of_itself_never_wrapped():
    bad = []
    for path, command in [((), cli), *_all_commands()]:
        prefix = " ".join(("whoknows", *path))
        *_, heading, examples = (command.help or "").rstrip().split("\n\n")
        lines = [line.strip() for line in examples.splitlines()]
        if heading.strip() != "Examples:" or lines[0] != "\b" or not 1 <= len(lines[1:]) <= 2 or not all(
                line == prefix or line.startswith(prefix + " ") for line in lines[1:]):
            bad.append(prefix)
            continue
        # a narrow terminal wraps the help text, never an example (click's \b paragraphs)
        shown = CliRunner().invoke(cli, [*path, "--help"], terminal_width=40, env={"COLUMNS": "40"}).stdout
        shown_lines = [line.strip() for line in shown.splitlines()]
        if not all(example in shown_lines for example in lines[1:]):
            bad.append(f"{prefix} (wrapped)")
    assert bad == [], f"commands whose help does not end with examples of themselves: {bad}"
