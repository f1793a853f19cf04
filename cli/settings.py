"""`whoknows settings [NAME [VALUE]]`: your settings that are not about one vendor (today: your country)."""

import click

from cli.output import json_option, print_json

# name -> what it is (the help text and the listing say it)
SETTINGS = {
    "country": "your country (EU/EEA code): whose data protection authority a complaint goes to",
}


@click.command("settings")
@click.argument("name", required=False, type=click.Choice(sorted(SETTINGS)), metavar="NAME")
@click.argument("value", required=False)
@click.option("--unset", is_flag=True, help="Forget NAME's value.")
@json_option
def settings(name, value, unset, as_json):
    """Show your settings, or set one: NAME VALUE sets it, NAME alone shows it, --unset forgets it.

    \b
    country   your country, an EU/EEA code (ES, DE, FR, ...): a complaint about a
              vendor ('whoknows request complain ID') goes to its data protection authority

    Examples:

    \b
        whoknows settings country ES
        whoknows settings country --unset
    """
    from whoknows import authorities
    from whoknows.ledger import open_ledger

    if unset and (name is None or value is not None):
        raise click.UsageError("--unset takes a NAME and no VALUE: 'whoknows settings country --unset'")
    with open_ledger() as ledger:
        if unset:
            authorities.clear_country(ledger)
        elif value is not None:
            authorities.set_country(ledger, value)
        country = authorities.get_country(ledger)
    authority = authorities.authority_for(country) if country else None
    current = {"country": country, "authority": authority.name if authority else None}
    if authority is not None and authority.note:
        current["note"] = authority.note
    if as_json:
        print_json(current)
        return
    if country is None:
        click.echo("country: not set ('whoknows settings country CODE' sets it, e.g. ES)")
    else:
        click.echo(f"country: {country} ({authorities.COUNTRIES[country]}); data protection authority: "
                   f"{authority.name} ({authority.contact})")
        if authority.note:
            click.echo(f"note: {authority.note}")
