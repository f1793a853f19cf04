"""`whoknows export` and `whoknows import`: the whole ledger to and from a file.

A passphrase (for `--with-secrets`) is asked on the terminal or read from `--passphrase-file`: never
an argument (it would be in the shell history and the process list), never echoed or printed.
"""

import sys
from pathlib import Path

import click

from cli.output import json_option, print_json

PASSPHRASE_FILE_HELP = "Read the passphrase from the first line of FILE (for scripts) instead of asking."


@click.command("export")
@click.option("--format", "fmt", type=click.Choice(["json", "csv"]), default="json", show_default=True,
              help="json: the whole ledger in one file, for backups and `whoknows import`; csv: one file "
                   "per table for spreadsheets (export-only), into a directory or a .zip (needs --output).")
@click.option("--output", "-o", type=click.Path(path_type=Path),
              help="Write to FILE (created 0600, replaced atomically) instead of standard output; "
                   "for csv a directory or FILE.zip.")
@click.option("--with-secrets", is_flag=True,
              help="Add the alias key and the key of your values, sealed with a passphrase, so that an "
                   "import elsewhere restores everything (json only).")
@click.option("--passphrase-file", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help=PASSPHRASE_FILE_HELP)
def export_ledger(fmt, output, with_secrets, passphrase_file):
    """Export the whole ledger: every table, from vendors and aliases to site settings and leaks.

    The file holds personal data: keep it as private as the ledger. Your own values (`whoknows me`)
    are exported encrypted; without --with-secrets they are readable, and the aliases verifiable,
    only where the same keys are. With --with-secrets the keys travel in the file, sealed with a
    passphrase you give twice on the terminal (or with --passphrase-file): a backup that restores.

    Examples:

    \b
        whoknows export --output backup.json
        whoknows export --with-secrets --output backup.json
    """
    from whoknows import transfer
    from whoknows.ledger import open_ledger

    to_stdout = output is None or str(output) == "-"
    if fmt == "csv":
        if with_secrets or passphrase_file:
            raise click.UsageError("--with-secrets goes with the json format (csv is for spreadsheets)")
        if to_stdout:
            raise click.UsageError("a csv export is one file per table: give --output DIRECTORY or --output FILE.zip")
        with open_ledger() as ledger:
            counts = transfer.write_csv(ledger, output)
        click.echo(f"exported {_counts(counts)} to {output}", err=True)
        return
    if passphrase_file and not with_secrets:
        raise click.UsageError("--passphrase-file goes with --with-secrets")
    if not to_stdout and output.is_dir():
        raise click.UsageError(f"{output} is a directory; a json export is one file")
    sealed = None
    if with_secrets:
        sealed = _sealed_secrets(passphrase_file)
    with open_ledger() as ledger:
        if to_stdout:
            transfer.write_json(ledger, sys.stdout, sealed)
            sys.stdout.flush()
            counts = None
        else:
            from whoknows.paths import private_file

            with private_file(output, text=True) as out:
                counts = transfer.write_json(ledger, out, sealed)
    if counts is not None:
        click.echo(f"exported {_counts(counts)} to {output}", err=True)
    if sealed is not None:
        click.echo(f"with {_names(sealed['names'])}, sealed with your passphrase: without it the file "
                   "restores no key", err=True)


def _sealed_secrets(passphrase_file: Path | None) -> dict:
    from whoknows import sealing, transfer
    from whoknows.errors import WhoknowsError

    found = transfer.machine_secrets()
    if not found:
        raise WhoknowsError("this machine has no alias key and no key of your values yet: there is nothing "
                            "for --with-secrets to add (export without it)")
    if passphrase_file is not None:
        passphrase = _read_passphrase_file(passphrase_file)
    else:
        _need_terminal("--with-secrets")
        passphrase = click.prompt("passphrase for the keys in the export", hide_input=True,
                                  confirmation_prompt="repeat the passphrase", err=True)
    return sealing.seal(found, sealing.check_passphrase(passphrase))


def _read_passphrase_file(path: Path) -> str:
    from whoknows.errors import WhoknowsError

    try:
        first = path.read_bytes().decode("utf-8").splitlines()
    except OSError as exc:
        raise WhoknowsError(f"cannot read {path}: {exc.strerror}") from None
    except UnicodeDecodeError:
        raise WhoknowsError(f"{path} is not UTF-8 text; the passphrase is its first line") from None
    if not first or not first[0]:
        raise WhoknowsError(f"{path} is empty; the passphrase is its first line")
    return first[0]


def _need_terminal(what: str) -> None:
    from whoknows.errors import WhoknowsError

    if not sys.stdin.isatty():
        raise WhoknowsError(f"{what} needs a passphrase and there is no terminal to ask for it: give "
                            "--passphrase-file FILE (never the passphrase itself on the command line)")


def _key_or_none(load):
    """A key, or None when this machine does not have it (or cannot read it: doctor says which)."""
    from whoknows.errors import WhoknowsError

    try:
        return load()
    except WhoknowsError:
        return None


def _names(names) -> str:
    words = {"alias-key": "the alias key", "me-key": "the key of your values"}
    return " and ".join(words.get(name, name) for name in names)


def _counts(counts: dict) -> str:
    return ", ".join(f"{n} {table}" for table, n in counts.items())


@click.command("import")
@click.argument("file", type=click.File("rb"))
@click.option("--passphrase-file", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help=PASSPHRASE_FILE_HELP)
@json_option
def import_ledger(file, passphrase_file, as_json):
    """Merge an export (from `whoknows export`, JSON) into the ledger.

    The whole file is checked first and written in one transaction: a bad file changes nothing.
    Vendors are matched by domain; rows the ledger already has are merged, keeping what the ledger
    has, the earliest first-seen and the latest last-seen date (importing a file twice changes
    nothing the second time).

    An export made --with-secrets asks for its passphrase (or --passphrase-file) and restores the
    alias key and the key of your values here; a wrong passphrase imports nothing, and a different
    key already on this machine is never replaced. Without the keys, import says what will not work.

    Examples:

    \b
        whoknows import backup.json
        whoknows import backup.json --passphrase-file pass.txt
    """
    from whoknows import aliases, me, sealing, secrets, transfer
    from whoknows.ledger import open_ledger

    name = getattr(file, "name", "<stdin>")
    name = "standard input" if name == "<stdin>" else name
    export = transfer.read_export(file.read(), name)
    opened = None
    if export.sealed is not None:
        if passphrase_file is not None:
            passphrase = _read_passphrase_file(passphrase_file)
        else:
            _need_terminal(f"{name} holds sealed keys and")
            passphrase = click.prompt(f"passphrase for the keys in {name}", hide_input=True, err=True)
        opened = sealing.open_sealed(export.sealed, passphrase, name)
    elif passphrase_file is not None:
        click.echo(f"note: {name} holds no keys (it was exported without --with-secrets); "
                   "the passphrase is not needed", err=True)
    try:
        with open_ledger() as ledger:
            summary = transfer.import_export(ledger, export, opened)
            alias_key = _key_or_none(lambda: aliases.alias_key(create=False))
            me_keys = _key_or_none(me.load_keys)
            with ledger.read() as db:
                unverifiable = len(aliases.unverifiable_aliases(db, alias_key))
                unreadable = me.unreadable_values(db, me_keys)
    except secrets.SecretConflict as exc:
        from whoknows.errors import WhoknowsError

        raise WhoknowsError(f"{exc}: nothing was imported from {name}; import it into a fresh data "
                            "directory (WHOKNOWS_HOME=DIR), or restore this machine's own backup") from None
    restored = sorted(opened or ())
    if as_json:
        print_json({"tables": summary, "keys_restored": restored, "unreadable_values": unreadable,
                    "unverifiable_aliases": unverifiable})
    else:
        click.echo("imported " + ", ".join(
            f"{s['in_file']} {table} ({s['added']} new)" for table, s in summary.items()))
        if restored:
            click.echo(f"{_names(restored)}: restored from {name}", err=True)
    problems = []
    if unreadable:
        problems.append(f"{unreadable} of your values cannot be decrypted ('whoknows me list' shows them "
                        "as unreadable; leaks of them go unnoticed)")
    if unverifiable:
        problems.append(f"{unverifiable} alias(es) cannot be verified ('whoknows alias verify' fails, and no "
                        "new alias can be made until the key is back)")
    if problems:
        click.echo("warning: " + "; ".join(problems) + ": this machine lacks the keys they were made with. "
                   f"To fix it, {secrets.RESTORE_HINT}", err=True)
