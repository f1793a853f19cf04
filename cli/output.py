"""Shared output helpers and option decorators for the CLI commands."""

import json
import sys

import click

json_option = click.option("--json", "as_json", is_flag=True, help="Print JSON instead of a table.")


def print_json(data) -> None:
    """JSON on stdout: UTF-8, stable key order as given, one trailing newline."""
    sys.stdout.write(json.dumps(data, indent=2, ensure_ascii=False, default=str) + "\n")


def console(stderr: bool = False):
    """A rich Console, imported on first use (rich costs tens of ms to import)."""
    from rich.console import Console

    return Console(stderr=stderr, highlight=False, soft_wrap=False)


def table(title: str | None, columns: list[str], rows: list[list]) -> None:
    """Print a simple rich table; an empty listing says so instead of drawing an empty grid."""
    if not rows:
        click.echo(f"({title or 'nothing'}: none)" if title else "(none)")
        return
    from rich.table import Table

    grid = Table(title=title, show_lines=False)
    for column in columns:
        grid.add_column(column, overflow="fold")
    for row in rows:
        grid.add_row(*("" if cell is None else str(cell) for cell in row))
    console().print(grid)
