"""`whoknows export` and `whoknows import`: the whole ledger to and from a file."""

import os
import sys
from pathlib import Path

import click

from cli.output import json_option, print_json


@click.command("export")
@click.option("--format", "fmt", type=click.Choice(["json", "csv"]), default="json", show_default=True,
              help="json: the whole ledger, for backups and `whoknows import`; csv: one sheet for "
                   "spreadsheets (export-only).")
@click.option("--output", "-o", type=click.Path(dir_okay=False, path_type=Path),
              help="Write to FILE (created 0600, replaced atomically) instead of standard output.")
def export_ledger(fmt, output):
    """Export the whole ledger: every table, from vendors and aliases to site settings and leaks.

    The file holds personal data: keep it as private as the ledger. Your own values (`whoknows me`)
    are exported encrypted, readable only where the same key is.
    """
    from whoknows import transfer
    from whoknows.ledger import open_ledger

    writer = transfer.write_json if fmt == "json" else transfer.write_csv
    with open_ledger() as ledger:
        if output is None or str(output) == "-":
            writer(ledger, sys.stdout)
            sys.stdout.flush()
            return
        counts = _write_file(output, lambda out: writer(ledger, out))
    click.echo(f"exported {_counts(counts)} to {output}", err=True)


def _write_file(path: Path, write) -> dict:
    """Write through `write(textfile)` to a temporary 0600 file, then rename it over `path`."""
    from whoknows.errors import WhoknowsError

    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        fd = os.open(tmp, os.O_CREAT | os.O_WRONLY | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8", newline="") as out:
            counts = write(out)
            out.flush()
            os.fsync(out.fileno())
        os.replace(tmp, path)
    except OSError as exc:
        _remove(tmp)
        raise WhoknowsError(f"cannot write {path}: {exc.strerror}") from None
    except BaseException:
        _remove(tmp)
        raise
    return counts


def _remove(path: Path) -> None:
    try:
        path.unlink()
    except OSError:
        pass


def _counts(counts: dict) -> str:
    return ", ".join(f"{n} {table}" for table, n in counts.items())


@click.command("import")
@click.argument("file", type=click.File("rb"))
@json_option
def import_ledger(file, as_json):
    """Merge an export (from `whoknows export`, JSON) into the ledger.

    The whole file is checked first and written in one transaction: a bad file changes nothing.
    Vendors are matched by domain; rows the ledger already has are merged, keeping what the ledger
    has, the earliest first-seen and the latest last-seen date (importing a file twice changes
    nothing the second time).
    """
    from whoknows import transfer
    from whoknows.ledger import open_ledger

    name = getattr(file, "name", "<stdin>")
    name = "standard input" if name == "<stdin>" else name
    export = transfer.read_export(file.read(), name)
    with open_ledger() as ledger:
        summary = transfer.import_export(ledger, export)
    if as_json:
        print_json(summary)
        return
    click.echo("imported " + ", ".join(
        f"{s['in_file']} {table} ({s['added']} new)" for table, s in summary.items()))
