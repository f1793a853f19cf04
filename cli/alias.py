"""`whoknows alias ...`: per-vendor email aliases (a thin adapter over `whoknows.aliases`).

`alias new` is on the hot path (benchmarked in bench/bench_alias_startup.py): everything beyond click
is imported inside the commands, rich only by the listing, the Public Suffix List only for vendors the
ledger does not know yet, keyring only when no store is recorded for the alias key.
"""

import click

from cli.output import json_option, print_json

ALIAS_STATES = ("active", "retired", "disabled")


def _ledger():
    from whoknows.ledger import open_ledger

    return open_ledger()


def _display(domain: str) -> str:
    from whoknows.sites import display_domain

    return display_domain(domain)


def _note(message: str) -> None:
    click.echo(f"whoknows: {message}", err=True)


@click.group()
def alias():
    """Per-vendor email aliases you can prove.

    One address per vendor, each with a keyed tag that proves which vendor it was made for.

    Examples:

    \b
        whoknows alias setup --base you@mail.example
        whoknows alias new shop.example
    """


@alias.command()
@click.option("--base", metavar="ADDRESS", help="Your mailbox for plus addressing (you+TAG@mail.example).")
@click.option("--domain", metavar="DOMAIN", help="A catch-all domain you receive all mail for (TAG@DOMAIN).")
@click.option("--style", type=click.Choice(["plus", "catch-all"]), help="Implied by --base / --domain.")
@click.option("--new-key", is_flag=True,
              help="Make a new alias key even though the ledger holds aliases made with one this machine "
                   "lacks (they stay unverifiable; restoring the old key is better: see 'whoknows import').")
@json_option
def setup(base, domain, style, new_key, as_json):
    """Choose how aliases look (without options: show it).

    Changing it later only changes aliases made afterwards: existing ones keep their addresses
    (rotate a vendor to give it one in the new form).

    Examples:

    \b
        whoknows alias setup --base you@mail.example
        whoknows alias setup --domain aliases.example
    """
    from whoknows import aliases
    from whoknows.errors import NotFoundError

    with _ledger() as ledger:
        if base is None and domain is None and style is None:
            current = aliases.load_setup(ledger)
            if current is None:
                raise NotFoundError("aliases are not set up yet (see 'whoknows alias setup --help')")
            _print_setup(current, None, 0, as_json)
            return
        new = aliases.parse_setup(base=base, domain=domain, style=style)
        aliases.alias_key(ledger=ledger, new_key=new_key)  # make (or find) it now: any keyring notice comes at setup
        previous = aliases.save_setup(ledger, new)
        existing = len(aliases.list_aliases(ledger)) if previous not in (None, new) else 0
    _print_setup(new, previous, existing, as_json)


def _print_setup(setup, previous, existing: int, as_json: bool) -> None:
    if as_json:
        print_json({"style": setup.style, "domain": setup.domain, "mailbox": setup.mailbox,
                    "pattern": setup.address("TAG")})
        return
    click.echo(f"aliases: {setup.describe()}")
    if existing:
        click.echo(
            f"{existing} existing alias(es) keep their addresses; "
            "'whoknows alias rotate VENDOR' gives a vendor one in the new form"
        )


@alias.command()
@click.argument("vendor")
@click.option("--opaque", is_flag=True, help="Leave the vendor's name out of the address.")
@click.option("--new-key", is_flag=True,
              help="Make a new alias key even though the ledger holds aliases made with one this machine "
                   "lacks (they stay unverifiable; restoring the old key is better: see 'whoknows import').")
@json_option
def new(vendor, opaque, new_key, as_json):
    """Print VENDOR's alias, making it if needed.

    The same vendor always gets the same alias until it is rotated or disabled.

    Examples:

    \b
        whoknows alias new shop.example
        whoknows alias new https://www.shop.example/cart --opaque
    """
    from whoknows import aliases

    with _ledger() as ledger:
        domain = aliases.resolve_vendor(ledger, vendor)
        address, created = aliases.get_or_create(ledger, domain, opaque=opaque, new_key=new_key)
    tag = aliases.parse_tag(aliases.tag_of(address))
    if not created and opaque and not (tag and tag.opaque):
        _note(
            f"{domain} already has the alias {address}; "
            f"'whoknows alias rotate {domain} --opaque' replaces it with an opaque one"
        )
    if as_json:
        print_json({"address": address, "vendor": domain, "created": created,
                    "opaque": bool(tag and tag.opaque)})
    else:
        click.echo(address)


@alias.command()
@click.argument("vendor")
@click.option("--opaque/--labelled", default=None, help="Kind of the new alias (default: as the old one).")
@click.option("--new-key", is_flag=True,
              help="Make a new alias key even though the ledger holds aliases made with one this machine "
                   "lacks (they stay unverifiable; restoring the old key is better: see 'whoknows import').")
@json_option
def rotate(vendor, opaque, new_key, as_json):
    """Give VENDOR a new alias and retire the old one.

    The retired alias stays attributable ('alias show', 'alias verify').

    Examples:

    \b
        whoknows alias rotate shop.example
        whoknows alias rotate shop.example --opaque
    """
    from whoknows import aliases

    with _ledger() as ledger:
        domain = aliases.resolve_vendor(ledger, vendor)
        old, new_address = aliases.rotate(ledger, domain, opaque=opaque, new_key=new_key)
    if as_json:
        print_json({"vendor": domain, "address": new_address, "retired": old})
        return
    if old:
        _note(f"retired {old} (still attributable: 'whoknows alias show {old}')")
    click.echo(new_address)


@alias.command()
@click.argument("target", metavar="ADDRESS|VENDOR")
@json_option
def disable(target, as_json):
    """Disable an alias, by address or by vendor.

    A vendor names its active alias.

    Examples:

    \b
        whoknows alias disable shop.example
        whoknows alias disable you+shop.example.k3j5d2x9q@mail.example
    """
    from whoknows import aliases

    with _ledger() as ledger:
        record, changed = aliases.disable(ledger, target)
    if as_json:
        print_json(record.to_json() | {"changed": changed})
    else:
        click.echo(f"{'disabled' if changed else 'already disabled'}: {record.address} ({_display(record.vendor)})")


@alias.command(name="list")
@click.option("--vendor", help="Only this vendor's aliases.")
@click.option("--state", type=click.Choice(ALIAS_STATES), help="Only aliases in this state.")
@json_option
def list_(vendor, state, as_json):
    """List aliases (all, or by vendor or state).

    --json also gives when each state was entered.

    Examples:

    \b
        whoknows alias list
        whoknows alias list --vendor shop.example --state retired
    """
    from whoknows import aliases

    with _ledger() as ledger:
        domain = aliases.resolve_vendor(ledger, vendor) if vendor else None
        records = aliases.list_aliases(ledger, vendor=domain, state=state)
    if as_json:
        print_json([record.to_json() for record in records])
        return
    from cli.output import table

    table(
        "aliases",
        ["address", "vendor", "state", "created"],
        [[r.address, _display(r.vendor), _state(r), r.created_at[:10]] for r in records],
    )


def _state(record) -> str:
    return f"{record.state} {record.state_changed_at[:10]}" if record.state_changed_at else record.state


@alias.command()
@click.argument("address")
@json_option
def show(address, as_json):
    """Show an alias from the ledger: vendor, state, when made.

    Examples:

    \b
        whoknows alias show you+shop.example.k3j5d2x9q@mail.example
    """
    from whoknows import aliases
    from whoknows.errors import NotFoundError

    with _ledger() as ledger:
        record = aliases.find_alias(ledger, address)
    if record is None:
        raise NotFoundError(
            f"{aliases.normalise_address(address)} is not an alias in the ledger "
            "('whoknows alias verify' checks an address without it)"
        )
    if as_json:
        print_json(record.to_json())
        return
    click.echo(f"address:  {record.address}")
    click.echo(f"vendor:   {_display(record.vendor)}")
    click.echo(f"state:    {record.state}" + (f" since {record.state_changed_at}" if record.state_changed_at else ""))
    click.echo(f"created:  {record.created_at}")


@alias.command()
@click.argument("address")
@click.option("--vendor", "vendors", multiple=True, metavar="VENDOR",
              help="A candidate vendor (repeatable): for opaque aliases when the ledger is gone.")
@json_option
@click.pass_context
def verify(ctx, address, vendors, as_json):
    """Prove which vendor ADDRESS was made for.

    Uses the alias key; the ledger is optional (an opaque alias needs it or --vendor). Exit status 0 when it verifies, 1 when it does not.

    Examples:

    \b
        whoknows alias verify you+shop.example.k3j5d2x9q@mail.example
        whoknows alias verify you+k3j5d2x9q@mail.example --vendor shop.example
    """
    from whoknows import aliases, paths
    from whoknows.ledger import LEDGER_FILE

    address = aliases.normalise_address(address)
    ledger = None
    if (paths.data_dir(create=False) / LEDGER_FILE).exists():  # never create a ledger just to verify
        ledger = _ledger()
    try:
        candidates = [aliases.resolve_vendor(ledger, v) for v in vendors]
        if ledger is not None:
            candidates += aliases.vendor_domains(ledger)
        key = aliases.alias_key(create=False)
        result = aliases.verify(address, key, candidates)
        record = aliases.find_alias(ledger, address) if ledger is not None else None
    finally:
        if ledger is not None:
            ledger.close()
    if as_json:
        print_json(result.to_json() | {"ledger": record.to_json() if record else None})
    else:
        _print_verification(result, record)
    if result.vendor is None:
        ctx.exit(1)


def _print_verification(result, record) -> None:
    if result.vendor is None:
        click.echo(f"{result.address}: does not verify: {result.reason}")
    else:
        kind = "opaque" if result.opaque else "labelled"
        click.echo(f"{result.address}: made for {_display(result.vendor)} ({kind}, generation {result.generation})")
    if record is not None:
        since = f" since {record.state_changed_at}" if record.state_changed_at else ""
        click.echo(f"ledger: {_display(record.vendor)}, {record.state}{since}, created {record.created_at}")
        if result.vendor is not None and result.vendor != record.vendor:
            click.echo("warning: the ledger and the tag name different vendors", err=True)
