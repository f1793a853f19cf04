"""`whoknows companies`, `whoknows company show`, `whoknows who`: the tracker companies that saw you.

What the proxy recorded per page site, company and day (`whoknows.company_sightings`), read by
`whoknows.company_view`.
"""

import click

from cli.output import json_option, print_json, table

_SORT_HELP = "Order: sites (default), reached, blocked, cookies, values, name, first-seen, last-seen."


def _open():
    from whoknows.ledger import open_ledger

    return open_ledger()


def _domains(domains, cloaked=()) -> str:
    """Domains, each followed by the site's hosts it hid behind: "omtrdc.net behind metrics.shop.example (CNAME)"."""
    from whoknows.company_view import cloaked_text

    return ", ".join(" ".join(filter(None, (domain, cloaked_text(c["behind"] for c in cloaked if c["domain"] == domain))))
                     for domain in domains)


@click.command()
@click.option("--sort", "sort", default="sites", show_default=True, metavar="ORDER", help=_SORT_HELP)
@json_option
@click.option("--csv", "as_csv", is_flag=True, help="Print CSV (for a spreadsheet) instead of a table.")
def companies(sort, as_json, as_csv):
    """Every tracker company the proxy saw on your sites: its category, on how many of your sites it
    appeared, its requests blocked and reached, the cookies it tried to set and your values it was
    sent (by distinct name / value), and the first and last day it was seen.

    A company is named as the shipped tracker data names it (AdGuard's companiesdb, Disconnect's
    entity list); `whoknows company show NAME` says where and what.

    Examples:

    \b
        whoknows companies --sort reached
        whoknows companies --csv > companies.csv
    """
    from whoknows.company_view import list_companies

    if as_json and as_csv:
        raise click.UsageError("--json and --csv are two formats: give one")
    with _open() as ledger:
        rows = list_companies(ledger, sort.strip().lower())
    if as_json:
        print_json(rows)
        return
    if as_csv:
        _print_csv(rows)
        return
    table("companies", ["company", "category", "sites", "blocked", "reached", "cookies", "values", "first seen",
                        "last seen"],
          [[r["company"], r["category"], r["sites"], r["blocked"], r["reached"], r["cookies"], r["values"],
            r["first_seen"], r["last_seen"]] for r in rows])


def _print_csv(rows: list[dict]) -> None:
    import csv
    import sys

    from whoknows.transfer import spreadsheet_safe

    columns = ["company", "id", "category", "sites", "blocked", "reached", "cookies", "values", "first_seen",
               "last_seen"]
    writer = csv.writer(sys.stdout, lineterminator="\n")
    writer.writerow(columns)
    for row in rows:
        writer.writerow([spreadsheet_safe(str(row[column])) for column in columns])


@click.group()
def company():
    """One tracker company: where it saw you and what it holds.

    Examples:

    \b
        whoknows company show Google
        whoknows company show doubleclick.net --json
    """


@company.command("show")
@click.argument("name", metavar="NAME|DOMAIN")
@json_option
def show(name, as_json):
    """Where the company NAME saw you (each site, the days, requests blocked and reached, which of
    its domains, and the site's own host it hid behind when that host is a CNAME to one), what it received (the names of the cookies it set, your values by kind and
    encoding, the page URLs it learned through Referer or parameters: redacted) and its privacy
    contact, and which of its domains whoknows learned are trackers ('whoknows trackers'). NAME is
    its name, one of its tracker domains or one of its sites.

    Examples:

    \b
        whoknows company show Google
        whoknows company show doubleclick.net --json
    """
    from whoknows.company_view import company_record

    with _open() as ledger:
        record = company_record(ledger, name)
    if as_json:
        print_json(record)
        return
    click.echo(record["company"] + (f"  ({record['category']})" if record["category"] != "unknown" else ""))
    if record["website"]:
        click.echo(f"  website: {record['website']}")
    click.echo(f"  privacy contact: {record['privacy_contact'] or 'unknown'}")
    if record["privacy_webform"]:
        click.echo(f"  privacy web form: {record['privacy_webform']}")
    if record["learned_trackers"]:
        from whoknows.learned_trackers import describe

        for tracker in record["learned_trackers"]:
            click.echo(f"  {tracker['domain']}: {describe(tracker['state'], tracker['sites'])}")
    if record["findings"]:
        from cli.findings import print_findings

        click.echo("what its domains hold that you never gave them:")
        print_findings(record["findings"])
    if not record["sites"]:
        click.echo("not seen on your sites yet")
        return
    click.echo(f"seen on {len(record['sites'])} of your sites from {record['first_seen']} to {record['last_seen']}: "
               f"{record['blocked']} requests blocked, {record['reached']} reached")
    table("where it saw you", ["site", "days", "first seen", "last seen", "blocked", "reached", "its domains"],
          [[s["display"], s["days"], s["first_seen"], s["last_seen"], s["blocked"], s["reached"],
            _domains(s["domains"], s["cloaked"])] for s in record["sites"]])
    received = record["received"]
    table("cookies it set or was sent (names; whoknows keeps no cookie values)",
          ["cookie", "how", "sites", "its domains", "last seen"],
          [[c["name"], c["how"], _domains(c["sites"]), _domains(c["domains"]), c["last_seen"]]
           for c in received["cookies"]])
    from cli.leaks import short_reference
    from whoknows.leak_records import ENCODING_NAMES

    table("your values it was sent", ["your", "as", "sites", "times", "last seen"],
          [[f"{v['kind']} {short_reference(v['value'])}", ENCODING_NAMES.get(v["encoding"], v["encoding"]),
            _domains(v["sites"]), v["count"], v["last_seen"]] for v in received["values"]])
    table("pages it learned", ["page", "through", "last seen"],
          [[p["url"], p["through"], p["last_seen"]] for p in received["pages"]])


@click.command()
@click.argument("site", metavar="SITE")
@json_option
def who(site, as_json):
    """Which tracker companies were present on SITE's pages, and which of them actually reached you
    there (at least one request let through); the others were blocked every time. A company that
    hid behind one of SITE's own hosts (a CNAME to its domain) says so: "behind metrics.SITE (CNAME)".

    Examples:

    \b
        whoknows who shop.example
        whoknows who https://www.shop.example/cart --json
    """
    from whoknows.company_view import site_companies
    from whoknows.sites import display_domain, normalise_vendor

    domain = normalise_vendor(site)
    with _open() as ledger:
        rows = site_companies(ledger, domain)
    if as_json:
        print_json({"site": domain, "companies": rows})
        return
    reached = sum(1 for r in rows if r["reached_you"])
    click.echo(f"{display_domain(domain)}: {len(rows)} companies present, {reached} reached you")
    table(None, ["company", "category", "reached you", "reached", "blocked", "its domains", "last seen"],
          [[r["company"], r["category"], "yes" if r["reached_you"] else "no", r["reached"], r["blocked"],
            _domains(r["domains"], r["cloaked"]), r["last_seen"]] for r in rows])
