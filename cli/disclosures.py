"""`whoknows tell VENDOR KIND=VALUE...` and `whoknows knows KIND [VALUE]`: who was given what."""

import click

from cli.output import json_option, print_json, table
from whoknows.ledger import DISCLOSURE_KINDS

DEFAULT_TABLE_LIMIT = 50


@click.command()
@click.argument("vendor_name", metavar="VENDOR")
@click.argument("facts", nargs=-1, required=True, metavar="KIND=VALUE...")
@json_option
def tell(vendor_name, facts, as_json):
    """Record what you gave VENDOR: one KIND=VALUE for each fact.

    KIND is one of: email, alias, name, phone, address, birthday, payment, id-number, location,
    other. A bare `email` (or `email=`) means VENDOR's own alias, made if it has none: the email
    address you gave it, recorded as an alias (`knows email` and `knows alias` list it). Every
    argument is checked before anything is written; telling a fact again only updates when it
    was last given.

    Examples:

    \b
        whoknows tell shop.example email phone=+34600111222
        whoknows tell shop.example address="Calle Mayor 1, Madrid"
    """
    from whoknows.disclosures import parse_fact, record_disclosures
    from whoknows.ledger import open_ledger
    from whoknows.aliases import resolve_vendor
    from whoknows.sites import display_domain

    with open_ledger() as ledger:
        domain = resolve_vendor(ledger, vendor_name)
        parsed = [parse_fact(argument) for argument in facts]  # every argument checked before any write
        pairs = [(fact.kind, fact.value) if fact.value is not None else ("alias", _vendor_alias(ledger, domain))
                 for fact in parsed]
        recorded = record_disclosures(ledger, domain, pairs, source="told")
    if as_json:
        print_json({"vendor": domain, "recorded": [r.__dict__ for r in recorded]})
        return
    for r in recorded:
        note = "" if r.new else " (already recorded: last given now)"
        click.echo(f"{display_domain(domain)} knows your {r.kind}: {r.value}{note}")


def _vendor_alias(ledger, domain: str) -> str:
    """The vendor's active alias address, made if it has none."""
    from whoknows.aliases import get_or_create

    return get_or_create(ledger, domain)[0]


@click.command()
@click.argument("kind", type=click.Choice(DISCLOSURE_KINDS), metavar="KIND")
@click.argument("value", required=False)
@click.option("--limit", type=click.IntRange(min=0), default=None,
              help=f"Show at most N (0: all). Tables show {DEFAULT_TABLE_LIMIT} by default, --json all.")
@json_option
def knows(kind, value, limit, as_json):
    """Who knows your KIND (or exactly VALUE): every vendor holding it, how and since when.

    KIND is one of: email, alias, name, phone, address, birthday, payment, id-number, location,
    other. `email` also lists your aliases (an alias is an email address you gave), `alias` only
    them. VALUE is compared normalised: "+34 600 111 222" finds "0034600111222".

    Examples:

    \b
        whoknows knows phone
        whoknows knows email ana@example.com
    """
    from cli.vendor import short_time
    from whoknows import disclosures
    from whoknows.ledger import open_ledger
    from whoknows.sites import display_domain

    with open_ledger() as ledger:
        holders = disclosures.knows(ledger, kind, value)
    if as_json:
        print_json([h.__dict__ for h in holders][: limit or None])
        return
    if limit is None:
        limit = DEFAULT_TABLE_LIMIT
    shown = holders[: limit or None]
    what = f"your {kind}" + (f" {value}" if value else "")
    if not holders:
        click.echo(f"no vendor in the ledger knows {what}")
        return
    table(
        f"who knows {what}",
        ["vendor", "value", "how", "first seen", "last seen", "evidence"],
        [[display_domain(h.vendor), h.value + (" (alias)" if h.kind != kind else ""), h.source,
          short_time(h.first_seen), short_time(h.last_seen),
          disclosures.evidence_summary(h.evidence)] for h in shown],
    )
    if len(shown) < len(holders):
        click.echo(f"{len(shown)} of {len(holders)} shown; --limit 0 shows all", err=True)
