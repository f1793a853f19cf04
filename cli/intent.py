"""Intentcasting: `whoknows intent new|send` and `whoknows intents`."""

from datetime import date
from pathlib import Path

import click

from cli.output import json_option, print_json

password_file_option = click.option(
    "--password-file", type=click.Path(dir_okay=False, path_type=Path), metavar="FILE",
    help="Read the SMTP password from FILE's first line instead of the keyring (never give it in argv).")


@click.group()
def intent():
    """Tell the vendors you choose what you intend to buy (intentcasting): one message per vendor,
    from that vendor's own alias, so every answer and every later mail is attributable to it.
    'whoknows intents' shows the answers once your mail is scanned.

    Examples:

    \b
        whoknows intent new "a 27-inch 4K monitor" --budget "300 EUR" --until 2027-01-31 --to shop.example --out outbox
        whoknows intent send 1
    """


def _targets(ledger, names: tuple[str, ...]) -> list[tuple[str, str]]:
    """--to VENDOR[=ADDRESS] -> (vendor domain, address); without ADDRESS, the vendor's recorded sales
    contact. Never its privacy contact: a data-protection officer is not who hears about a purchase."""
    from whoknows import letters
    from whoknows.aliases import resolve_vendor
    from whoknows.errors import InputError
    from whoknows.vendor_records import sales_contact

    targets = []
    for name in names:
        vendor_name, _, address = name.partition("=")
        domain = resolve_vendor(ledger, vendor_name)
        if address:
            targets.append((domain, letters.email_address(address, f"--to {name}")))
            continue
        contact = sales_contact(ledger, domain)
        if not contact:
            raise InputError(f"no sales contact is recorded for {domain}: give one with --to {domain}=ADDRESS "
                             f"or record it with 'whoknows vendor add {domain} --sales-contact ADDRESS'")
        targets.append((domain, letters.email_address(contact, f"the sales contact of {domain}")))
    return targets


def _write_eml(ledger, record, out: Path) -> list[dict]:
    from whoknows.intent_records import load_intent, mark_delivered
    from whoknows.paths import make_private_dir, write_private_file

    make_private_dir(out)
    written = []
    for message in record.messages:
        path = out / f"intent-{record.id}-{message.vendor}.eml"
        write_private_file(path, record.message_bytes(message))  # it names your alias: 0600
        mark_delivered(ledger, message, "written")
        written.append(str(path))
    return _report(load_intent(ledger, record.id), dict(zip((m.row_id for m in record.messages), written)))


def _credentials(ledger, password_file: Path | None):
    """The SMTP account and its password, checked before anything is recorded or sent."""
    from whoknows.errors import WhoknowsError
    from whoknows.mail_sending import read_password_file, require_account, stored_password

    account = require_account(ledger)
    password = read_password_file(password_file) if password_file else stored_password()
    if password is None:
        raise WhoknowsError("no SMTP password is stored: store it with 'whoknows mail account "
                            f"--host {account.host} --user {account.user}' (it asks), or give --password-file FILE")
    return account, password


def _send(ledger, record, credentials) -> tuple[list[dict], str | None]:
    """Send the messages not sent yet; (report, the error that stopped it or None)."""
    from whoknows.intent_records import load_intent, mark_delivered
    from whoknows.mail_sending import SendError, SmtpSession

    pending = [m for m in record.messages if m.state != "sent"]
    error = None
    try:
        with SmtpSession(*credentials) as session:
            for message in pending:
                session.send(message.alias, message.recipient, record.message_bytes(message))
                mark_delivered(ledger, message, "sent")  # at once: a later failure does not undo it
    except SendError as exc:
        error = str(exc)
    return _report(load_intent(ledger, record.id)), error


def _report(record, files: dict | None = None) -> list[dict]:
    return [{"vendor": m.vendor, "from": m.alias, "to": m.recipient, "message_id": m.message_id, "state": m.state,
             "state_changed_at": m.state_changed_at, **({"file": files[m.row_id]} if files else {})}
            for m in record.messages]


def _deliver(ledger, record, out: Path | None, credentials, as_json: bool) -> None:
    """Write .eml files into `out`, or send with `credentials` (account, password), or neither."""
    from whoknows.sites import display_domain

    error = None
    if out is not None:
        report = _write_eml(ledger, record, out)
    elif credentials is not None:
        report, error = _send(ledger, record, credentials)
    else:
        report = _report(record)
    if as_json:
        print_json({"id": record.id, "what": record.intent.what, "until": record.intent.until.isoformat(),
                    "messages": report, "error": error})
    else:
        for entry in report:
            where = f" -> {entry['file']}" if "file" in entry else ""
            click.echo(f"{display_domain(entry['vendor'])}: from {entry['from']} to {entry['to']}: "
                       f"{entry['state']}{where}")
    if error is not None:
        unsent = sum(1 for entry in report if entry["state"] != "sent")
        click.echo(f"error: {error}", err=True)
        click.echo(f"{unsent} message(s) of intent {record.id} not sent: 'whoknows intent send {record.id}' "
                   "tries again", err=True)
        click.get_current_context().exit(1)
    if out is None and credentials is None:
        click.echo(f"intent {record.id} recorded, not sent: 'whoknows intent send {record.id}' sends it through "
                   f"your SMTP account, or 'whoknows intent send {record.id} --out DIR' writes .eml files", err=True)


def _check_delivery(out, send) -> None:
    if out is not None and send:
        raise click.UsageError("choose one delivery: --out DIR (.eml files you send) or --send (your SMTP account)")


@intent.command("new")
@click.argument("what")
@click.option("--until", required=True, metavar="DATE", help="The last day the intent holds, YYYY-MM-DD.")
@click.option("--budget", metavar="AMOUNT", help="The most you will pay, with its currency: '300 EUR'.")
@click.option("--category", metavar="C", help="What kind of thing it is: 'monitors'.")
@click.option("--to", "vendors", multiple=True, required=True, metavar="VENDOR[=ADDRESS]",
              help="A vendor to tell (repeat for several); it needs an alias ('whoknows alias new VENDOR'). "
                   "ADDRESS: where to send it (default: the vendor's sales contact, 'whoknows vendor add VENDOR "
                   "--sales-contact ADDRESS'; never its privacy contact).")
@click.option("--lang", type=click.Choice(["en", "es"]), default="en", show_default=True,
              help="The language of the text part.")
@click.option("--out", type=click.Path(file_okay=False, path_type=Path), metavar="DIR",
              help="Write one .eml file per vendor into DIR (mode 0600), for you to send.")
@click.option("--send", is_flag=True, help="Send through your SMTP account ('whoknows mail account').")
@password_file_option
@json_option
def new(what, until, budget, category, vendors, lang, out, send, password_file, as_json):
    """Announce that you intend to buy WHAT to the vendors you choose.

    Each vendor gets its own message From its own alias, with a text part (English or Spanish) and
    intent.json, a machine-readable copy (docs/intentcasting.md). The message asks for answers by
    reply until DATE, no mailing lists and no mail about it after DATE; 'whoknows intents' shows who
    answered and who did not keep to that, once your mail is scanned ('whoknows mail scan').
    Without --out or --send the intent is recorded unsent ('whoknows intent send ID').

    Examples:

    \b
        whoknows intent new "a 27-inch 4K monitor" --budget "300 EUR" --until 2027-01-31 --to shop.example --out outbox
        whoknows intent new "una bicicleta" --until 2027-03-01 --to bikes.example=ventas@bikes.example --lang es --send
    """
    from whoknows.intent_records import create_intent
    from whoknows.intents import make_intent
    from whoknows.ledger import open_ledger

    _check_delivery(out, send)
    if password_file is not None and not send:
        raise click.UsageError("--password-file goes with --send")
    spec = make_intent(what, until, lang, date.today(), category, budget)
    with open_ledger() as ledger:
        credentials = _credentials(ledger, password_file) if send else None  # before anything is recorded
        record = create_intent(ledger, spec, _targets(ledger, vendors))
        _deliver(ledger, record, out, credentials, as_json)


@intent.command("send")
@click.argument("intent_id", type=int, metavar="ID")
@click.option("--out", type=click.Path(file_okay=False, path_type=Path), metavar="DIR",
              help="Write the messages as .eml files into DIR instead of sending them.")
@password_file_option
@json_option
def send_intent(intent_id, out, password_file, as_json):
    """Send intent ID's messages that are not sent yet through your SMTP account (again after a
    failure: the same messages, with the same Message-IDs), or write them all as .eml files.

    Examples:

    \b
        whoknows intent send 1
        whoknows intent send 1 --out outbox
    """
    from whoknows.intent_records import load_intent
    from whoknows.ledger import open_ledger

    if out is not None and password_file is not None:
        raise click.UsageError("--password-file goes with sending, not with --out")
    with open_ledger() as ledger:
        record = load_intent(ledger, intent_id)
        if out is None and all(m.state == "sent" for m in record.messages):
            click.echo(f"every message of intent {intent_id} was sent already", err=True)
            if as_json:
                print_json({"id": record.id, "what": record.intent.what, "until": record.intent.until.isoformat(),
                            "messages": _report(record), "error": None})
            return
        _deliver(ledger, record, out, None if out is not None else _credentials(ledger, password_file), as_json)


@click.command("intents")
@json_option
def intents(as_json):
    """Your intents, each vendor's answers (from scanned mail: by In-Reply-To, References, or mail to
    its alias since the intent), and flags: vendors that mailed about it after its last day, and
    vendors that put your alias on a mailing list (List-Id or List-Unsubscribe). Scan your mail
    first ('whoknows mail scan ~/Maildir').

    Examples:

    \b
        whoknows intents
        whoknows intents --json
    """
    from whoknows.intent_records import list_intents
    from whoknows.ledger import open_ledger
    from whoknows.sites import display_domain

    with open_ledger() as ledger:
        found = list_intents(ledger, date.today())
    if as_json:
        print_json(found)
        return
    if not found:
        click.echo('(intents: none) \'whoknows intent new "WHAT" --until DATE --to VENDOR\' makes one')
        return
    from cli.output import table

    for entry in found:
        budget = f", up to {entry['budget']['amount']} {entry['budget']['currency']}" if entry["budget"] else ""
        status = "expired" if entry["expired"] else "open"
        rows = []
        for vendor in entry["vendors"]:
            answers = vendor["answers"]
            last = max((a["date"] for a in answers if a["date"]), default=None)
            rows.append([display_domain(vendor["vendor"]), vendor["state"], len(answers),
                         ", ".join(sorted({a["matched_by"] for a in answers})), (last or "")[:10],
                         ", ".join(vendor["flags"])])
        table(f"intent {entry['id']}: {entry['what']}{budget}, until {entry['until']} ({status})",
              ["vendor", "message", "answers", "matched by", "last", "flags"], rows)
        for vendor in entry["vendors"]:
            late = [a for a in vendor["answers"] if a["after_expiry"]]
            if late:
                click.echo(f"{display_domain(vendor['vendor'])} kept mailing about it after {entry['until']}: "
                           f"{len(late)} message(s), the last on {max(a['date'] for a in late)[:10]}")
            if "mailing-list" in vendor["flags"]:
                click.echo(f"{display_domain(vendor['vendor'])} put {vendor['from']} on a mailing list")
