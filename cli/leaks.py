"""`whoknows leaks`: where the proxy saw your own values (and aliases) sent from a vendor's pages."""

import click

from cli.output import json_option, print_json, table


@click.command()
@click.option("--vendor", "vendor_name", metavar="VENDOR",
              help="Only leaks from VENDOR's pages or to VENDOR (a URL, host or domain).")
@click.option("--since", metavar="DATE", help="Only leaks last seen on or after DATE (YYYY-MM-DD).")
@click.option("--identifiers", is_flag=True,
              help="List instead the first-party identifiers (cookies) pages handed to other sites.")
@json_option
def leaks(vendor_name, since, identifiers, as_json):
    """Where your own values went: each page that sent one of them (or an alias) to another site,
    how it was encoded (plain, URL-encoded, base64, MD5, SHA-1, SHA-256) and where in the request.

    Each says what became of it: leaked (it reached the other site), blocked (a filter list stopped
    the request), prevented (leak prevention stopped it) or scrubbed (leak prevention removed the
    value and sent the rest): 'whoknows site leaks' sets which. Values are shown masked, by their
    reference in the ledger; `whoknows me list --reveal` shows yours. --identifiers lists which
    first-party cookie of a site went to which third party (that third party is a tracker there
    from then on).

    Examples:

    \b
        whoknows leaks
        whoknows leaks --vendor shop.example --since 2026-01-01
    """
    from whoknows.leak_records import describe, list_leaks, parse_since
    from whoknows.ledger import open_ledger

    since_stamp = parse_since(since) if since is not None else None
    with open_ledger() as ledger:
        vendor = None
        if vendor_name is not None:
            from whoknows.aliases import resolve_vendor

            vendor = resolve_vendor(ledger, vendor_name)
        if identifiers:
            from whoknows.leak_records import list_shared_identifiers

            shared = [row for row in list_shared_identifiers(ledger, vendor)
                      if since_stamp is None or row["last_seen"] >= since_stamp]
        else:
            rows = list_leaks(ledger, vendor=vendor, since=since_stamp)
    if identifiers:
        _print_shared(shared, as_json)
        return
    if as_json:
        print_json([{**row, "summary": describe(row)} for row in rows])
        return
    from whoknows.leak_records import ENCODING_NAMES
    from whoknows.sites import display_domain

    table("leaks", ["page", "sent to", "your", "as", "in", "outcome", "times", "last seen"],
          [[display_domain(r["page"]), _recipient(r), f"{r['kind']} {short_reference(r['value'])}",
            ENCODING_NAMES.get(r["encoding"], r["encoding"]), r["where"], r["outcome"], r["count"],
            r["last_seen"][:10]] for r in rows])


def _print_shared(rows: list[dict], as_json: bool) -> None:
    if as_json:
        print_json(rows)
        return
    from whoknows.sites import display_domain

    table("identifiers shared", ["page", "cookie", "sent to", "done", "times", "last seen"],
          [[display_domain(r["page"]), r["cookie"], r["recipient_host"],
            "stripped" if r["action"] == "strip" else "blocked", r["count"], r["last_seen"][:10]]
           for r in rows])


def _recipient(row: dict) -> str:
    return row["recipient_host"] + (f" ({row['company']})" if row["company"] else "")


def short_reference(ref: str) -> str:
    """A reference without its tag, for narrow tables: `a•••@example.org [me:3f9a0c1d]` -> `a•••@example.org`."""
    head, _, tail = ref.rpartition(" [me:")
    return head if head and tail.endswith("]") else ref


def print_vendor_leaks(record: dict) -> None:
    """The leaks section of `whoknows vendor show`: what its pages sent elsewhere, what it received."""
    from whoknows.leak_records import describe

    sections = record.get("leaks") or {}
    sent, received = sections.get("sent_by_its_pages", []), sections.get("received", [])
    if not sent and not received:
        click.echo("leaks: none seen")
        return
    for label, rows in (("its pages sent your data to", sent), ("it received your data from", received)):
        if rows:
            click.echo(f"{label}:")
            for row in rows:
                click.echo(f"  {describe(row)}, {row['count']}x, last {row['last_seen'][:10]}")
