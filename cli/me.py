"""`whoknows me add|list|remove`: your own values, which the proxy watches for in outgoing requests."""

import sys

import click

from cli.output import json_option, print_json, table
from whoknows.me import KINDS


@click.group()
def me():
    """Your own values (emails, phones, names, addresses, birthday...), kept encrypted.

    The proxy looks for each of them, and for every alias, in what your browser sends: typed,
    URL-encoded, base64 and hashed (MD5, SHA-1, SHA-256) the way trackers send them.

    Examples:

    \b
        whoknows me add email ana@example.com
        whoknows me list
    """


def _read_value(kind: str) -> str:
    """VALUE left out: read it from stdin (keeps it out of the shell history and the process list)."""
    if sys.stdin.isatty():
        return click.prompt(f"{kind}", prompt_suffix=": ")
    line = sys.stdin.readline()
    if not line.strip():
        from whoknows.errors import InputError

        raise InputError(f"no {kind} given: pass VALUE or write it on stdin")
    return line.rstrip("\n")


@me.command("add")
@click.argument("kind", type=click.Choice(KINDS, case_sensitive=False), metavar="KIND")
@click.argument("value", required=False)
@click.option("--new-key", is_flag=True,
              help="Make a new key for your values even though the ledger holds values encrypted with one "
                   "this machine lacks (they stay unreadable; restoring the old key is better: see "
                   "'whoknows import').")
@json_option
def add(kind, value, new_key, as_json):
    """Add one of your values: KIND is one of email, phone, name, address, birthday, id-number,
    location, other.

    Without VALUE it is read from stdin (or asked for), so it stays out of your shell history.
    Phones in international form (+34 600 111 222) are also searched hashed, as trackers send them;
    a national number is searched by its digits only.

    Examples:

    \b
        whoknows me add email ana@example.com
        whoknows me add phone "+34 600 111 222"
    """
    from whoknows.ledger import open_ledger
    from whoknows.me import add_value

    kind = kind.lower()
    if value is None:
        value = _read_value(kind)
    with open_ledger() as ledger:
        item, new = add_value(ledger, kind, value, new_key=new_key)
    national = kind == "phone" and not item.value.lstrip().startswith(("+", "00"))
    if as_json:
        print_json({**item.to_json(), "new": new, "international": not national if kind == "phone" else None})
        return
    click.echo(f"{'added' if new else 'already there'}: {kind} {item.masked()} (id {item.id})")
    if national:
        click.echo("note: no country code; this phone is searched by its digits only, not hashed "
                   "(add it as +CC... to catch hashed forms)", err=True)


@me.command("list")
@click.option("--reveal", is_flag=True, help="Show the values in full (default: masked).")
@click.option("--kind", type=click.Choice(KINDS, case_sensitive=False), help="Only values of this kind.")
@json_option
def list_(reveal, kind, as_json):
    """List your values, masked unless --reveal; aliases (`whoknows alias list`) are watched too.

    Examples:

    \b
        whoknows me list
        whoknows me list --kind phone --reveal
    """
    from whoknows.ledger import open_ledger
    from whoknows.me import list_values

    with open_ledger() as ledger:
        values = list_values(ledger, kind=kind.lower() if kind else None)
    unreadable = sum(1 for v in values if not v.readable)
    if as_json:
        print_json([v.to_json(reveal) for v in values])
    else:
        table("your values", ["id", "kind", "value", "tag", "added"],
              [[v.id, v.kind, (v.value if reveal and v.readable else v.masked()), v.tag, v.created_at[:10]]
               for v in values])
    if unreadable:
        from whoknows.secrets import RESTORE_HINT

        click.echo(f"warning: {unreadable} value(s) cannot be decrypted with this machine's key "
                   f"(imported from another machine, or the key was lost): {RESTORE_HINT}; or remove and "
                   "add them again", err=True)


@me.command("remove")
@click.argument("target", metavar="KIND VALUE | ID")
@click.argument("value", required=False)
@json_option
def remove(target, value, as_json):
    """Remove one of your values, by its id (`whoknows me list`) or by KIND VALUE.

    What the ledger learned about it (disclosures, leaks) stays, under its masked reference.

    Examples:

    \b
        whoknows me remove email ana@example.com
        whoknows me remove 3
    """
    from whoknows.ledger import open_ledger
    from whoknows.me import remove_value

    with open_ledger() as ledger:
        item = remove_value(ledger, target, value)
    if as_json:
        print_json({**item.to_json(), "removed": True})
    else:
        click.echo(f"removed: {item.kind} {item.masked()} (id {item.id})")
