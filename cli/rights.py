"""Data-rights (GDPR) requests: `whoknows request access|erase|object|rectify VENDOR` and `whoknows requests`."""

from datetime import date
from pathlib import Path

import click

from cli.output import json_option, print_json

KINDS = {
    "access": "Ask for a copy of everything VENDOR holds about you (GDPR Art. 15).",
    "erase": "Ask VENDOR to erase everything it holds about you (GDPR Art. 17).",
    "object": "Object to VENDOR using your data for direct marketing (GDPR Art. 21).",
    "rectify": "Ask VENDOR to correct what it holds about you (GDPR Art. 16); give --correct.",
}
EXAMPLES = {
    "access": ["whoknows request access shop.example",
               "whoknows request access shop.example --lang es --out access.eml"],
    "erase": ['whoknows request erase shop.example --name "Ana Pérez"',
              "whoknows request erase shop.example --out erase.eml"],
    "object": ["whoknows request object shop.example", "whoknows request object shop.example --to dpo@shop.example"],
    "rectify": ['whoknows request rectify shop.example --correct "Postal address" "Calle Mayor 2, Madrid"'],
}


def parse_day(value: str | None) -> date:
    from whoknows.errors import InputError

    if value is None:
        return date.today()
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise InputError(f"{value!r} is not a date (YYYY-MM-DD)") from None


@click.group("request")
def rights_request():
    """Write a data-rights request to a vendor, addressed to its privacy contact, listing every
    identifier the ledger links to it, with the one-month deadline of GDPR Art. 12(3).

    Examples:

    \b
        whoknows request access shop.example
        whoknows request erase shop.example --out erase.eml
    """


def _make_request(kind: str, vendor_name: str, lang: str, out: str | None, to: str | None,
                  signed: str | None, on: str | None, corrections: tuple, as_json: bool) -> None:
    from whoknows import letters
    from whoknows.aliases import resolve_vendor
    from whoknows.errors import InputError, WhoknowsError
    from whoknows.ledger import open_ledger
    from whoknows.paths import write_private_file
    from whoknows.data_rights import (
        alias_to_send_from, check_not_a_different_repeat, identifiers_for, record_request,
    )
    from whoknows.vendor_records import vendor_record

    sent_on = parse_day(on)
    if to is not None:
        to = letters.email_address(to, "--to")
    with open_ledger() as ledger:
        domain = resolve_vendor(ledger, vendor_name)
        _require_vendor(ledger, domain)
        record = vendor_record(ledger, domain, top=0)
        company = record["company"]
        contact = to or company["privacy_contact"]
        if not contact:
            raise WhoknowsError(
                f"no privacy contact is known for {record['display']}: give --to ADDRESS, or record it with "
                f"'whoknows vendor add {domain} --privacy-contact ADDRESS' (its privacy policy names one)")
        if to is None:
            contact = _known_contact(contact, record, domain)
        check_not_a_different_repeat(ledger, domain, kind, lang, contact, sent_on)
        found = identifiers_for(ledger, domain, lang)
        if not found.items:
            raise WhoknowsError(
                f"the ledger links no identifier to {record['display']} (no alias, nothing told or seen): "
                "a request needs something to find your data by; 'whoknows tell' records what you gave it")
        facts = letters.VendorFacts(domain, company["name"] or record["name"], contact, company["address"])
        letter = letters.render_request(kind, lang, facts, found.items, sent_on, signed,
                                        [tuple(c) for c in corrections] or None)
        sender = None
        if out is not None and out.lower().endswith(".eml"):
            sender = alias_to_send_from(ledger, domain)
            if sender is None:
                raise InputError(f"{record['display']} has no alias to send the message from: make one "
                                 f"('whoknows alias new {domain}') or write the letter as text (--out FILE.txt)")
            content = letters.to_eml(letter, sender)
        else:
            content = letter.body.encode("utf-8")
        if out is not None:
            write_private_file(Path(out), content)  # a letter carries your identifiers: 0600
        request_id, new = record_request(ledger, domain, kind, lang, contact, sent_on, letter.deadline)
    if found.unresolved:
        click.echo(f"note: {found.unresolved} of your values the proxy saw {record['display']} receive cannot be "
                   "decrypted here and are not listed", err=True)
    if as_json:
        print_json({"id": request_id, "new": new, "vendor": domain, "kind": kind, "lang": lang, "to": contact,
                    "from": sender, "sent_on": sent_on.isoformat(), "due_on": letter.deadline.isoformat(),
                    "subject": letter.subject, "identifiers": [list(item) for item in found.items],
                    "out": out, "body": letter.body})
        return
    if out is None:
        click.echo(letter.body, nl=False)
    else:
        click.echo(f"wrote {out}" + (f" (from {sender} to {contact})" if sender else f" (to {contact})"), err=True)
    if new:
        click.echo(f"recorded as request {request_id}: an answer is due by {letter.deadline.isoformat()} "
                   "('whoknows requests' lists them)", err=True)
    else:
        click.echo(f"the same request is already recorded as request {request_id}, due by "
                   f"{letter.deadline.isoformat()}: not recorded again", err=True)


def _require_vendor(ledger, domain: str) -> None:
    """NotFoundError for a vendor not in the ledger; one the company directory knows gets the
    exact `vendor add` that brings it in."""
    from whoknows import directory
    from whoknows.errors import NotFoundError
    from whoknows.sites import display_domain

    if ledger.vendor_id(domain) is not None:
        return
    entry = directory.lookup(domain)
    if entry is None:
        raise NotFoundError(f"no vendor {display_domain(domain)} in the ledger")
    contact = f", privacy contact {entry.privacy_contact}" if entry.privacy_contact else ""
    raise NotFoundError(
        f"no vendor {display_domain(domain)} in the ledger; the company directory knows it ({entry.name}{contact}): "
        f"add it with 'whoknows vendor add {domain}', then record what you gave it ('whoknows tell {domain} ...')")


def _known_contact(contact: str, record: dict, domain: str) -> str:
    """The privacy contact from your entry or the directory, checked as an email address."""
    from whoknows import letters
    from whoknows.errors import InputError, WhoknowsError

    source = "your entry" if record["company"]["sources"].get("privacy_contact") == "you" else "the company directory"
    try:
        return letters.email_address(contact, f"the privacy contact of {record['display']} in {source}")
    except InputError as exc:
        raise WhoknowsError(f"{exc}: give --to ADDRESS, or correct it with "
                            f"'whoknows vendor add {domain} --privacy-contact ADDRESS'") from None


def _request_command(kind: str, help_text: str) -> click.Command:
    @click.command(kind, help=help_text + "\n\nThe letter goes to stdout, or to --out FILE; a FILE ending in "
                   ".eml is a ready message from VENDOR's alias. The request is recorded for "
                   "'whoknows requests'.\n\nExamples:\n\n\b\n" + "\n".join(f"    {e}" for e in EXAMPLES[kind]))
    @click.argument("vendor_name", metavar="VENDOR")
    @click.option("--lang", type=click.Choice(["en", "es"]), default="en", show_default=True,
                  help="The letter's language.")
    @click.option("--out", metavar="FILE", help="Write the letter to FILE (.eml: a message to send).")
    @click.option("--to", metavar="ADDRESS", help="Send it here instead of the vendor's known privacy contact.")
    @click.option("--name", "signed", metavar="NAME", help="Sign with your name (default: unsigned).")
    @click.option("--date", "on", metavar="DATE", help="The letter's date, YYYY-MM-DD (default: today).")
    @click.option("--correct", "corrections", nargs=2, multiple=True, metavar="WHAT VALUE",
                  help="rectify: what to correct and the correct value; repeat for several.")
    @json_option
    def command(vendor_name, lang, out, to, signed, on, corrections, as_json):
        if corrections and kind != "rectify":
            raise click.UsageError("--correct goes with 'whoknows request rectify'")
        _make_request(kind, vendor_name, lang, out, to, signed, on, corrections, as_json)

    return command


for _kind, _help in KINDS.items():
    rights_request.add_command(_request_command(_kind, _help))


@rights_request.command("answered")
@click.argument("request_id", type=int, metavar="ID")
@click.option("--date", "on", metavar="DATE", help="When the answer came, YYYY-MM-DD (default: today).")
@click.option("--data", "data_path", metavar="PATH", type=click.Path(path_type=str),
              help="The data export that came with the answer (a ZIP, a folder or one file): read as "
                   "'whoknows vendor data' reads it, and linked to this request.")
@json_option
def answered(request_id, on, data_path, as_json):
    """Record that request ID (see 'whoknows requests') was answered, and read the data export
    that came with it (--data): your values and the categories of data it holds, with the file and
    field of each (never a copy). An unsafe or broken export (a ZIP bomb, a member named outside the
    archive, a truncated ZIP) is refused, and then nothing is recorded, not even the answer.

    Examples:

    \b
        whoknows request answered 3 --date 2026-02-01
        whoknows request answered 3 --data ~/Downloads/shop-export.zip
    """
    from whoknows.ledger import open_ledger
    from whoknows.data_rights import mark_answered, request_vendor

    day = parse_day(on)
    stored = None
    with open_ledger() as ledger:
        if data_path is None:
            record = mark_answered(ledger, request_id, day)
        else:
            from whoknows.export_records import read_vendor_export

            vendor = request_vendor(ledger, request_id, day)  # a bad ID or date fails before the export is read
            stored = read_vendor_export(ledger, vendor, data_path, request_id=request_id, received_on=day)
            record = mark_answered(ledger, request_id, day)
    if as_json:
        print_json(record if stored is None else {**record, "data": stored.to_json()})
        return
    click.echo(f"request {request_id} to {record['vendor']} answered on {record['answered_on']}")
    if stored is not None:
        from cli.findings import print_stored_export

        print_stored_export(stored)


@click.command("requests")
@json_option
def rights_requests(as_json):
    """The data-rights requests you made, with their due dates (one month, GDPR Art. 12(3));
    unanswered ones past their date are overdue.

    Examples:

    \b
        whoknows requests
        whoknows requests --json
    """
    from whoknows.ledger import open_ledger
    from whoknows.data_rights import list_requests

    with open_ledger() as ledger:
        rows = list_requests(ledger, date.today())
    if as_json:
        print_json(rows)
        return
    if not rows:
        click.echo("(requests: none) 'whoknows request access VENDOR' makes one")
        return
    from rich.table import Table

    from cli.output import console
    from whoknows.sites import display_domain

    grid = Table(title="data-rights requests")
    for column in ("id", "vendor", "request", "sent", "due", "status"):
        grid.add_column(column, overflow="fold")
    for r in rows:
        if r["answered_on"]:
            status, style = f"answered {r['answered_on']}", "dim"
        elif r["overdue"]:
            status, style = f"OVERDUE by {-r['days_left']} days", "bold red"
        else:
            status, style = f"due in {r['days_left']} days", None
        grid.add_row(str(r["id"]), display_domain(r["vendor"]), f"{r['kind']} ({r['article']})", r["sent_on"],
                     r["due_on"], status, style=style)
    console().print(grid)
    overdue = sum(1 for r in rows if r["overdue"])
    if overdue:
        click.echo(f"{overdue} overdue: you may complain to your data protection authority (GDPR Art. 77)", err=True)
