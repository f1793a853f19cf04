"""Shared output helpers and option decorators for the CLI commands."""

import json
import sys

import click

json_option = click.option("--json", "as_json", is_flag=True, help="Print JSON instead of a table.")


def print_json(data) -> None:
    """JSON on stdout: UTF-8, stable key order as given, one trailing newline."""
    sys.stdout.write(json.dumps(data, indent=2, ensure_ascii=False, default=str) + "\n")


def console(stderr: bool = False, width: int | None = None):
    """A rich Console, imported on first use (rich costs tens of ms to import)."""
    from rich.console import Console

    return Console(stderr=stderr, highlight=False, soft_wrap=False, width=width)


# What the other columns of a table may be squeezed to so that the whole ones fit.
_SQUEEZED_WIDTH = 6


def table(title: str | None, columns: list[str], rows: list[list]) -> None:
    """Print a simple rich table; an empty listing says so instead of drawing an empty grid.

    Cells are shown as they are: text in brackets is not taken for rich's markup.
    A column holding an email address (an alias, a contact) is never broken across lines: a
    broken address cannot be copied. The other columns wrap to make room, and when even that is
    not enough the table is drawn wider than the terminal rather than break an address.
    """
    if not rows:
        click.echo(f"({title or 'nothing'}: none)" if title else "(none)")
        return
    from rich.cells import cell_len
    from rich.table import Table

    cells = [["" if cell is None else str(cell) for cell in row] for row in rows]
    widths = [max(cell_len(line) for text in [name, *(row[i] for row in cells)] for line in text.splitlines() or [""])
              for i, name in enumerate(columns)]
    whole = [any("@" in row[i] for row in cells) for i in range(len(columns))]
    grid = Table(title=title, show_lines=False)
    for column, keep in zip(columns, whole):
        grid.add_column(column, overflow="fold", no_wrap=keep)
    from rich.markup import escape

    for row in cells:  # cells are data (a value's reference `a•••@x.org [me:3f9a0c1d]`), never markup
        grid.add_row(*map(escape, row))
    out = console()
    needed = sum(w if keep else min(w, _SQUEEZED_WIDTH) for w, keep in zip(widths, whole)) + 3 * len(columns) + 1
    if needed > out.width:
        out = console(width=needed)
    out.print(grid)
