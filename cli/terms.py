"""`whoknows terms`: the personal terms the proxy proffers to every site (`whoknows.personal_terms`)."""

import click

from cli.output import json_option, print_json, table


def _listing(ledger) -> list[dict]:
    from whoknows.personal_terms import proffered, shipped_terms, term_url
    from whoknows.terms_records import tallies

    chosen = proffered(ledger)
    counts = tallies(ledger)
    return [{"term": t.key, "title": t.title["en"], "proffered": t in chosen, "summary": t.summary["en"],
             "url": term_url(t), **counts.get(t.key, {"vendors_offered": 0, "vendors_agreed": 0})}
            for t in shipped_terms()]


@click.group(invoke_without_command=True)
@json_option
@click.pass_context
def terms(ctx, as_json):
    """Show the personal terms whoknows ships, which ones the proxy proffers, and to how many vendors.

    A proffered term goes with every request the proxy lets through, in the header
    'Personal-Terms: nostalking;v=1;url="http://whoknows.proxy/personal-terms/nostalking/1"';
    a site agrees with the response header 'Personal-Terms-Agreed: nostalking;v=1' or its
    /.well-known/personal-terms file. 'whoknows vendor show SITE' says since when a vendor was
    offered the terms and whether it agreed. None is proffered until you offer one (the header
    makes your browser a little easier to tell apart). See docs/personal-terms.md.

    Examples:

    \b
        whoknows terms
        whoknows terms --json
    """
    if ctx.invoked_subcommand is not None:
        return
    from whoknows.ledger import open_ledger

    with open_ledger() as ledger:
        rows = _listing(ledger)
    if as_json:
        print_json(rows)
        return
    table("Personal terms", ["term", "title", "proffered", "vendors offered", "vendors agreed"],
          [[r["term"], r["title"], "yes" if r["proffered"] else "no", r["vendors_offered"], r["vendors_agreed"]]
           for r in rows])
    for r in rows:
        click.echo(f"{r['term']}: {r['summary']} ({r['url']})")
    if not any(r["proffered"] for r in rows):
        click.echo("No term is proffered: 'whoknows terms offer nostalking' proffers one to every site.")


@terms.command("offer")
@click.argument("term")
@json_option
def offer(term, as_json):
    """Proffer TERM (e.g. nostalking, or nostalking/1) to every site from now on.

    The running proxy picks it up within a second.

    Examples:

    \b
        whoknows terms offer nostalking
    """
    from whoknows import personal_terms
    from whoknows.ledger import open_ledger

    with open_ledger() as ledger:
        chosen, changed = personal_terms.offer(ledger, term)
        header = personal_terms.header_value(personal_terms.proffered(ledger))
    if as_json:
        print_json({"term": chosen.key, "changed": changed, "header": header})
        return
    verb = "Now proffering" if changed else "Already proffering"
    click.echo(f"{verb} {chosen.key} ({chosen.title['en']}) to every site.")
    click.echo(f"Personal-Terms: {header}")


@terms.command("withdraw")
@click.argument("term", required=False)
@json_option
def withdraw(term, as_json):
    """Stop proffering TERM (or, without TERM, every term).

    What the ledger recorded (which vendors were offered the terms, which agreed) stays.

    Examples:

    \b
        whoknows terms withdraw nostalking
        whoknows terms withdraw
    """
    from whoknows import personal_terms
    from whoknows.ledger import open_ledger

    with open_ledger() as ledger:
        gone = personal_terms.withdraw(ledger, term)
    if as_json:
        print_json({"withdrawn": [t.key for t in gone]})
        return
    if not gone:
        click.echo("No term was proffered.")
    else:
        click.echo(f"No longer proffering {', '.join(t.key for t in gone)}.")
