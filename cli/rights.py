"""Data-rights (GDPR) requests: `whoknows request access|erase|object|rectify VENDOR` and `whoknows requests`."""

from datetime import date
from pathlib import Path

import click

from cli.output import json_option, print_json

_COMPANIES_TOO = (" VENDOR may also be a tracker company the proxy saw ('whoknows companies'): its name, one "
                  "of its domains or sites; the letter then lists the cookies its domains set, your values "
                  "they were sent and the websites and dates where they saw you.")
KINDS = {
    "access": "Ask for a copy of everything VENDOR holds about you (GDPR Art. 15)." + _COMPANIES_TOO,
    "erase": "Ask VENDOR to erase everything it holds about you (GDPR Art. 17)." + _COMPANIES_TOO,
    "object": ("Object to VENDOR using your data for direct marketing (GDPR Art. 21)." + _COMPANIES_TOO
               + " With --from-check, the letter lists each of VENDOR's mails that 'whoknows prefs --check' "
               "finds breaking what you allowed (date, Message-ID, the rule it broke), and cites your withdrawal "
               "of consent (Art. 7(3)) when you had opted out."),
    "rectify": "Ask VENDOR to correct what it holds about you (GDPR Art. 16); give --correct.",
    "port": ("Ask VENDOR for the data you provided to it, in a structured, commonly used, machine-readable "
             "format (GDPR Art. 20: data portability)."),
}
EXAMPLES = {
    "access": ["whoknows request access shop.example",
               "whoknows request access Google --lang es --out access-google.txt"],
    "erase": ['whoknows request erase shop.example --name "Ana Pérez"',
              "whoknows request erase shop.example --out erase.eml"],
    "object": ["whoknows request object shop.example", "whoknows request object shop.example --from-check"],
    "rectify": ['whoknows request rectify shop.example --correct "Postal address" "Calle Mayor 2, Madrid"'],
    "port": ["whoknows request port shop.example", "whoknows request port shop.example --lang es --out port.eml"],
}


# The requests that cite your personal terms (when the proxy proffered them to the vendor): those
# about what it does with your data. A correction or a copy to take elsewhere is not about that.
TERMS_CITED_IN = ("access", "erase", "object")


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
                  signed: str | None, on: str | None, corrections: tuple, as_json: bool,
                  from_check: bool = False) -> None:
    from whoknows import letters
    from whoknows.aliases import resolve_vendor
    from whoknows.ledger import open_ledger
    from whoknows.data_rights import check_not_a_different_repeat, terms_cited

    sent_on = parse_day(on)
    if to is not None:
        to = letters.email_address(to, "--to")
    with open_ledger() as ledger:
        company = None if from_check else _tracker_company(ledger, kind, vendor_name)
        if company is not None:
            _make_tracker_request(ledger, company, kind, lang, out, to, signed, sent_on, as_json)
            return
        domain = resolve_vendor(ledger, vendor_name)
        record, facts = _vendor_facts(ledger, domain, to)
        mails = _mails_from_check(ledger, domain, record) if from_check else []
        check_not_a_different_repeat(ledger, domain, kind, lang, facts.privacy_contact, sent_on)
        found = _identifiers(ledger, domain, lang, record)
        terms = terms_cited(ledger, domain, lang) if kind in TERMS_CITED_IN else None
        letter = letters.render_request(kind, lang, facts, found.items, sent_on, signed,
                                        [tuple(c) for c in corrections] or None, terms=terms, marketing_mail=mails)
        extra = {"identifiers": [list(i) for i in found.items]}
        if from_check:
            extra["mails"] = [{"message": m.message, "sent_at": m.sent_at.strftime("%Y-%m-%dT%H:%M:%SZ"),
                               "alias": m.alias, "rules": [b.rule for b in m.broke]} for m in mails]
        _deliver(ledger, domain, record, letter, out, as_json, extra, found.unresolved)


def _mails_from_check(ledger, domain: str, record: dict):
    """The vendor's mails that break your preferences; WhoknowsError when there is none."""
    from whoknows.data_rights import marketing_mail
    from whoknows.errors import WhoknowsError

    mails = marketing_mail(ledger, domain)
    if not mails:
        raise WhoknowsError(f"'whoknows prefs --check' finds no mail from {record['display']} that breaks your "
                            f"preferences: nothing to list ('whoknows request object {domain}' objects without it)")
    return mails


def _tracker_company(ledger, kind: str, text: str):
    """The tracker company `text` names, for a request to it (access, erase, object): a vendor in
    the ledger stays a vendor (its own record is what a letter to it lists); anything else that
    the tracker data knows as a company (its name, a tracker domain, a site it owns) is one."""
    from whoknows import letters, tracker_companies
    from whoknows.aliases import resolve_vendor
    from whoknows.errors import InputError

    if kind not in letters.TRACKER_KINDS:
        return None
    try:
        domain = resolve_vendor(ledger, text)
    except InputError:
        domain = None
    if domain is not None and ledger.vendor_id(domain) is not None:
        return None
    return tracker_companies.company(text)


def _make_tracker_request(ledger, company, kind: str, lang: str, out: str | None, to: str | None,
                          signed: str | None, sent_on, as_json: bool) -> None:
    """A request to a tracker company: to its privacy contact (or --to), listing what the proxy saw
    it get; recorded under the company's own domain."""
    from whoknows import letters
    from whoknows.data_rights import check_not_a_different_repeat, tracker_parts, tracker_request_domain
    from whoknows.errors import WhoknowsError

    contact = to or company.privacy_contact
    if not contact:
        form = f" (its privacy web form: {company.privacy_webform})" if company.privacy_webform else ""
        raise WhoknowsError(
            f"no privacy contact is known for {company.name}{form}: find the privacy or data-protection "
            f"address its privacy policy names and give it with --to ADDRESS "
            f"(whoknows request {kind} \"{company.name}\" --to ADDRESS)")
    if to is None:
        contact = letters.email_address(contact, f"the privacy contact of {company.name} in the tracker data")
    parts = tracker_parts(ledger, company, lang)
    if not parts:
        raise WhoknowsError(f"the proxy has not seen {company.name} on your sites ('whoknows companies' lists the "
                            "companies it saw): a request needs something to find your data by")
    domain = tracker_request_domain(company)
    check_not_a_different_repeat(ledger, domain, kind, lang, contact, sent_on)
    facts = letters.VendorFacts(domain, company.addressee, contact, None)
    letter = letters.render_tracker_request(kind, lang, facts, parts.cookies, parts.values, parts.seen, sent_on,
                                            signed)
    record = {"display": company.name}
    extra = {"company": company.name, "company_id": company.id,
             "identifiers": [[label, value] for label, value in _letter_identifiers(parts)]}
    _deliver(ledger, domain, record, letter, out, as_json, extra, parts.unresolved)


def _letter_identifiers(parts) -> list[tuple[str, str]]:
    """What the letter lists, for --json: cookie names, values, websites."""
    return ([("cookie", c.name) for c in parts.cookies] + [(v.label, v.value) for v in parts.values]
            + [("website", s.site) for s in parts.seen])


def _vendor_facts(ledger, domain: str, to: str | None):
    """(vendor record, letters.VendorFacts) of a vendor in the ledger, addressed to `to` or its
    known privacy contact; WhoknowsError when it has none."""
    from whoknows import letters
    from whoknows.errors import WhoknowsError
    from whoknows.vendor_records import vendor_record

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
    return record, letters.VendorFacts(domain, company["name"] or record["name"], contact, company["address"])


def _identifiers(ledger, domain: str, lang: str, record: dict):
    from whoknows.data_rights import identifiers_for
    from whoknows.errors import WhoknowsError

    found = identifiers_for(ledger, domain, lang)
    if not found.items:
        raise WhoknowsError(
            f"the ledger links no identifier to {record['display']} (no alias, nothing told or seen): "
            "a request needs something to find your data by; 'whoknows tell' records what you gave it")
    return found


def _deliver(ledger, domain: str, record: dict, letter, out: str | None, as_json: bool, extra: dict,
             unresolved: int = 0, sender: str | None = None, about: int | None = None) -> None:
    """Write `letter` (stdout, or --out FILE: .eml a message from `sender` or the vendor's alias),
    record it (`about`: the request a complaint or follow-up is about), and say so. The letter is
    written before it is recorded: a letter that could not be written is not a request made."""
    from whoknows import letters
    from whoknows.data_rights import alias_to_send_from, record_request
    from whoknows.errors import InputError
    from whoknows.paths import write_private_file

    if out is not None and out.lower().endswith(".eml"):
        if sender is None:
            sender = alias_to_send_from(ledger, domain)
            if sender is None:
                raise InputError(f"{record['display']} has no alias to send the message from: make one "
                                 f"('whoknows alias new {domain}') or write the letter as text (--out FILE.txt)")
        content = letters.to_eml(letter, sender)
    else:
        sender = None
        content = letter.body.encode("utf-8")
    if out is not None:
        write_private_file(Path(out), content)  # a letter carries your identifiers: 0600
    request_id, new = record_request(ledger, domain, letter.kind, letter.lang, letter.to, letter.sent_on,
                                     letter.deadline, about=about)
    if unresolved:
        click.echo(f"note: {unresolved} of your values the proxy saw {record['display']} receive or send cannot be "
                   "decrypted here and are not listed", err=True)
    if as_json:
        print_json({"id": request_id, "new": new, "vendor": domain, "kind": letter.kind, "lang": letter.lang,
                    "to": letter.to, "from": sender, "sent_on": letter.sent_on.isoformat(),
                    "due_on": letter.deadline.isoformat(), "subject": letter.subject, **extra, "out": out,
                    "body": letter.body})
        return
    if out is None:
        click.echo(letter.body, nl=False)
    else:
        click.echo(f"wrote {out}" + (f" (from {sender} to {letter.to})" if sender else f" (to {letter.to})"), err=True)
    if new and letter.kind == "complaint":
        click.echo(f"recorded as request {request_id}: the authority should tell you how it is going by "
                   f"{letter.deadline.isoformat()} (GDPR Art. 78(2); 'whoknows requests' lists it)", err=True)
    elif new:
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


def _vendor_letter_options(command):
    """The options every letter to a vendor takes (as `request access` has them)."""
    for option in reversed([
        click.option("--lang", type=click.Choice(["en", "es"]), default="en", show_default=True,
                     help="The letter's language."),
        click.option("--out", metavar="FILE", help="Write the letter to FILE (.eml: a message to send)."),
        click.option("--to", metavar="ADDRESS", help="Send it here instead of the vendor's known privacy contact."),
        click.option("--name", "signed", metavar="NAME", help="Sign with your name (default: unsigned)."),
        click.option("--date", "on", metavar="DATE", help="The letter's date, YYYY-MM-DD (default: today)."),
        json_option,
    ]):
        command = option(command)
    return command


def _request_command(kind: str, help_text: str) -> click.Command:
    @click.command(kind, help=help_text + "\n\nThe letter goes to stdout, or to --out FILE; a FILE ending in "
                   ".eml is a ready message from VENDOR's alias. The request is recorded for "
                   "'whoknows requests'.\n\nExamples:\n\n\b\n" + "\n".join(f"    {e}" for e in EXAMPLES[kind]))
    @click.argument("vendor_name", metavar="VENDOR")
    @_vendor_letter_options
    @click.option("--correct", "corrections", nargs=2, multiple=True, metavar="WHAT VALUE",
                  help="rectify: what to correct and the correct value; repeat for several.")
    @click.option("--from-check", is_flag=True,
                  help="object: list VENDOR's mails that 'whoknows prefs --check' finds breaking your preferences.")
    def command(vendor_name, lang, out, to, signed, on, as_json, corrections, from_check):
        if corrections and kind != "rectify":
            raise click.UsageError("--correct goes with 'whoknows request rectify'")
        if from_check and kind != "object":
            raise click.UsageError("--from-check goes with 'whoknows request object'")
        _make_request(kind, vendor_name, lang, out, to, signed, on, corrections, as_json, from_check)

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
    unanswered ones past their date are overdue. A request you complained about ('whoknows request
    complain ID') says so instead, and the complaint is listed with its own three months (Art.
    78(2)); one you followed up ('whoknows request follow-up ID') says when.

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
        elif r["complaints"]:
            last = r["complaints"][-1]
            status = f"complained on {last['sent_on']} to {last['authority'] or last['to']} (request {last['id']})"
            style = "yellow"
        elif r["overdue"]:
            status, style = f"OVERDUE by {-r['days_left']} days", "bold red"
        else:
            status, style = f"due in {r['days_left']} days", None
        if r["follow_ups"]:
            last = r["follow_ups"][-1]
            status += f"; followed up on {last['sent_on']} (request {last['id']})"
        request = f"{r['kind']} ({r['article']})" + (f" about request {r['about']}" if r["about"] is not None else "")
        grid.add_row(str(r["id"]), display_domain(r["vendor"]), request, r["sent_on"], r["due_on"], status, style=style)
    console().print(grid)
    overdue = [r["id"] for r in rows if r["overdue"] and r["kind"] != "complaint"]
    if overdue:
        ids = ", ".join(map(str, overdue))
        click.echo(f"{len(overdue)} overdue ({ids}): you may complain to your data protection authority (GDPR Art. 77): "
                   f"'whoknows request complain {overdue[0]}'", err=True)
    silent = [r["id"] for r in rows if r["overdue"] and r["kind"] == "complaint"]
    if silent:
        click.echo(f"{len(silent)} complaint(s) ({', '.join(map(str, silent))}) without news from the authority in "
                   "three months: GDPR Art. 78(2) gives you a court remedy", err=True)


@rights_request.command("complain")
@click.argument("request_id", type=int, metavar="ID")
@click.option("--lang", type=click.Choice(["en", "es"]), default="en", show_default=True, help="The letter's language.")
@click.option("--out", metavar="FILE", help="Write the complaint to FILE (.eml: a message to send; needs --from "
              "and an authority that takes email).")
@click.option("--name", "signed", metavar="NAME", help="Sign with your name (an authority needs to know who "
              "complains; default: unsigned).")
@click.option("--from", "reply_to", metavar="ADDRESS", help="Your email address, for the authority's answer.")
@click.option("--date", "on", metavar="DATE", help="The complaint's date, YYYY-MM-DD (default: today).")
@json_option
def complain(request_id, lang, out, signed, reply_to, on, as_json):
    """Complain to your data protection authority (GDPR Art. 77) about request ID, unanswered past
    its due date: the timeline (sent, due, no answer) and what the ledger holds about the vendor
    (values it holds that you never gave it, what its pages sent to third parties).

    The authority is your country's ('whoknows settings country CODE'). The complaint goes to
    stdout or --out FILE, and is recorded for 'whoknows requests': the authority should tell you
    within three months how it is going (Art. 78(2)).

    Examples:

    \b
        whoknows request complain 3 --name "Ana Pérez" --from ana@example.org
        whoknows request complain 3 --lang es --out complaint.txt
    """
    from whoknows import authorities, letters
    from whoknows.data_rights import (
        as_earlier, check_not_a_different_repeat, held_values, overdue_request, sent_elsewhere, terms_cited,
    )
    from whoknows.errors import InputError
    from whoknows.ledger import open_ledger

    today = parse_day(on)
    if reply_to is not None:
        reply_to = letters.email_address(reply_to, "--from")
    with open_ledger() as ledger:
        request = overdue_request(ledger, request_id, today)
        authority = authorities.your_authority(ledger)
        if out is not None and out.lower().endswith(".eml"):
            if authority.email is None:
                raise InputError(f"the {authority.name} takes complaints by the form on its site ({authority.web}), "
                                 "not by email: write the complaint as text (--out FILE.txt) and send it there")
            if reply_to is None:
                raise InputError("a complaint sent as a message needs your address: --from ADDRESS")
        domain = request["vendor"]
        check_not_a_different_repeat(ledger, domain, "complaint", lang, authority.contact, today, about=request_id)
        record, facts = _vendor_facts_or_bare(ledger, domain, request["contact"])
        found = _identifiers(ledger, domain, lang, record)
        leaks, unresolved = sent_elsewhere(ledger, domain, lang)
        held, unreadable = held_values(ledger, domain, lang)
        unresolved += unreadable
        facts_of_authority = letters.AuthorityFacts(authority.name, authority.own_name, authority.address,
                                                    authority.email, authority.web)
        letter = letters.render_complaint(lang, facts_of_authority, facts, as_earlier(request), today, found.items,
                                          held=held, sent_elsewhere=leaks, requester_name=signed, reply_to=reply_to,
                                          terms=terms_cited(ledger, domain, lang))
        _deliver(ledger, domain, record, letter, out, as_json,
                 {"about": request_id, "authority": {"country": authority.country, "name": authority.name,
                                                     "email": authority.email, "web": authority.web},
                  "identifiers": [list(i) for i in found.items]},
                 unresolved + found.unresolved, sender=reply_to, about=request_id)
    if authority.note:
        click.echo(f"note: {authority.note}", err=True)


def _vendor_facts_or_bare(ledger, domain: str, contact: str | None):
    """The vendor as a complaint names it: its record, addressed where the request went."""
    from whoknows import letters
    from whoknows.vendor_records import vendor_record

    record = vendor_record(ledger, domain, top=0)
    company = record["company"]
    return record, letters.VendorFacts(domain, company["name"] or record["name"], contact or company["privacy_contact"],
                                       company["address"])


@rights_request.command("source")
@click.argument("vendor_name", metavar="VENDOR")
@_vendor_letter_options
def source(vendor_name, lang, out, to, signed, on, as_json):
    """Ask VENDOR where it got each value it holds that you never gave it (GDPR Art. 15(1)(g) and
    14): the letter names each value with where and when it was seen ('whoknows findings VENDOR'
    lists them: its data export, its mail, what its pages sent). Refused when there is none.

    The letter goes to stdout, or to --out FILE; a FILE ending in .eml is a ready message from
    VENDOR's alias. The request is recorded for 'whoknows requests'.

    Examples:

    \b
        whoknows request source shop.example
        whoknows request source shop.example --lang es --out source.eml
    """
    from whoknows import letters
    from whoknows.aliases import resolve_vendor
    from whoknows.data_rights import check_not_a_different_repeat, held_values, terms_cited
    from whoknows.errors import WhoknowsError
    from whoknows.ledger import open_ledger

    sent_on = parse_day(on)
    if to is not None:
        to = letters.email_address(to, "--to")
    with open_ledger() as ledger:
        domain = resolve_vendor(ledger, vendor_name)
        record, facts = _vendor_facts(ledger, domain, to)
        held, unresolved = held_values(ledger, domain, lang)
        if not held:
            more = (f" ({unresolved} cannot be decrypted here, so a letter cannot name them)" if unresolved else "")
            raise WhoknowsError(f"the ledger shows no value {record['display']} holds that you never gave it{more}: "
                                "there is nothing to ask the source of ('whoknows findings' lists what there is)")
        check_not_a_different_repeat(ledger, domain, "source", lang, facts.privacy_contact, sent_on)
        found = _identifiers(ledger, domain, lang, record)
        letter = letters.render_source_request(lang, facts, held, found.items, sent_on, signed,
                                               terms=terms_cited(ledger, domain, lang))
        _deliver(ledger, domain, record, letter, out, as_json,
                 {"findings": [{"what": h.label, "value": h.value, "first_seen": h.earliest.isoformat()} for h in held],
                  "identifiers": [list(i) for i in found.items]},
                 found.unresolved + unresolved)


@rights_request.command("follow-up")
@click.argument("request_id", type=int, metavar="ID")
@_vendor_letter_options
def follow_up(request_id, lang, out, to, signed, on, as_json):
    """Write to the vendor about what its answer to access request ID left out, as the ledger
    shows it: each third party the proxy saw its pages send your values to, when the data export
    that came with the answer lists no recipients; and each of your values it was given that the
    export does not contain. Needs the answer's export ('whoknows request answered ID --data PATH').

    The letter goes to stdout, or to --out FILE (.eml: a message from the vendor's alias), and is
    recorded for 'whoknows requests', due in one month.

    Examples:

    \b
        whoknows request follow-up 3
        whoknows request follow-up 3 --lang es --out follow-up.eml
    """
    from whoknows import letters
    from whoknows.data_rights import answer_gaps, answered_request, as_earlier, check_not_a_different_repeat
    from whoknows.errors import WhoknowsError
    from whoknows.ledger import open_ledger

    sent_on = parse_day(on)
    if to is not None:
        to = letters.email_address(to, "--to")
    with open_ledger() as ledger:
        request, exports = answered_request(ledger, request_id, sent_on)
        domain = request["vendor"]
        record, facts = _vendor_facts(ledger, domain, to)
        recipients, missing = answer_gaps(ledger, request, exports, lang)
        if not recipients and not missing:
            raise WhoknowsError(f"the answer to request {request_id} leaves out nothing the ledger shows: its export "
                                "lists recipients or the proxy saw none, and it contains every value of yours it "
                                "was given")
        check_not_a_different_repeat(ledger, domain, "follow-up", lang, facts.privacy_contact, sent_on, about=request_id)
        found = _identifiers(ledger, domain, lang, record)
        letter = letters.render_follow_up(lang, facts, as_earlier(request), recipients, missing, found.items,
                                          sent_on, signed)
        _deliver(ledger, domain, record, letter, out, as_json,
                 {"about": request_id,
                  "gaps": {"recipients": [{"what": r.label, "value": r.value, "recipient": r.recipient,
                                           "company": r.company, "first_seen": r.first_seen.isoformat()}
                                          for r in recipients],
                           "missing": [{"what": m.label, "value": m.value, "given_on": m.given_on.isoformat()}
                                       for m in missing]},
                  "identifiers": [list(i) for i in found.items]},
                 found.unresolved, about=request_id)
