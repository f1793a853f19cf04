"""Running `whoknows ARGS` in-process for the CLI tests (click's CliRunner), as a user would type it.

Imported by tests as `from cli_runner import ok, printed, run` (setup.cfg puts tests/support on the path);
`all_commands()` lists every registered command and subcommand, for tests that must cover them all.
"""

import click
from click.testing import CliRunner, Result

from cli.main import cli

# A wide "terminal", so rich does not fold table cells and tests can look for whole values.
WIDE_TERMINAL = {"COLUMNS": "250"}


def run(*args: str, input: str | bytes | None = None) -> Result:
    """`whoknows ARGS`, whatever its exit code (`input` is its standard input)."""
    return CliRunner().invoke(cli, list(args), input=input, env=WIDE_TERMINAL)


def ok(*args: str, input: str | bytes | None = None) -> Result:
    """`whoknows ARGS`, which must succeed (a failure shows what it printed)."""
    result = run(*args, input=input)
    assert result.exit_code == 0, (result.stdout, result.stderr)
    return result


def printed(*args: str, input: str | bytes | None = None) -> str:
    """What a successful `whoknows ARGS` printed on standard output."""
    return ok(*args, input=input).stdout


def _walk(group: click.Group, ctx: click.Context, path: tuple[str, ...] = ()):
    for name in group.list_commands(ctx):
        command = group.get_command(ctx, name)
        assert command is not None, f"{' '.join(path + (name,))} is listed but cannot be loaded"
        yield path + (name,), command
        if isinstance(command, click.Group):
            yield from _walk(command, click.Context(command, parent=ctx, info_name=name), path + (name,))


def all_commands() -> list[tuple[tuple[str, ...], click.Command]]:
    """Every command and subcommand as (path, command): `(("alias",), group), (("alias", "new"), ...)`."""
    return list(_walk(cli, click.Context(cli, info_name="whoknows")))
