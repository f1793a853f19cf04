"""`whoknows vendor add|list|show|forget`: the vendors in your ledger."""

import sys

import click

from cli.output import json_option, print_json, table
from whoknows.errors import InputError

# A table of thousands of rows is slow to draw and useless to read: tables show this many by default.
DEFAULT_TABLE_LIMIT = 50
SHOW_TOP = 10


def short_time(stamp: str | None) -> str:
    """`2026-01-31T12:00:05Z` -> `2026-01-31 12:00` (tables; --json has the full timestamps)."""
    return "" if not stamp else stamp[:16].replace("T", " ")


def _open():
    from whoknows.ledger import open_ledger

    return open_ledger()


def _vendor(ledger, text: str) -> str:
    """The vendor domain named by `text` (a vendor already in the ledger skips the suffix list)."""
    from whoknows.aliases import resolve_vendor

    return resolve_vendor(ledger, text)


@click.group()
def vendor():
    """The vendors in your ledger: add one, list them, show one's whole record, forget one.

    Examples:

    \b
        whoknows vendor add shop.example
        whoknows vendor show shop.example
    """


@vendor.command("add")
@click.argument("vendor_name", metavar="VENDOR")
@click.option("--name", help="What you call this vendor (shown in listings).")
@click.option("--company", help="The company behind it (overrides the company directory).")
@click.option("--privacy-contact", help="Where to send data requests (overrides the directory).")
@click.option("--address", help="The company's postal address (overrides the directory).")
@click.option("--sales-contact", metavar="ADDRESS",
              help="Where to write to it as a customer: 'whoknows intent new' sends there (the directory has none).")
@json_option
def add(vendor_name, name, company, privacy_contact, address, sales_contact, as_json):
    """Add VENDOR (a URL, host name or domain) to the ledger, or update what you said about it.

    An option given as an empty string clears your override. The privacy contact gets your
    data-rights requests; the sales contact gets your intents ('whoknows intent new'), and only you
    can give it: whoknows never sends an intent to a privacy contact.

    Examples:

    \b
        whoknows vendor add shop.example --privacy-contact privacy@shop.example
        whoknows vendor add shop.example --sales-contact sales@shop.example
    """
    from whoknows.vendor_records import add_vendor, vendor_record
    from whoknows.sites import display_domain

    from whoknows.letters import email_address

    if privacy_contact and privacy_contact.strip():  # '' clears it
        privacy_contact = email_address(privacy_contact, "--privacy-contact")
    if sales_contact and sales_contact.strip():
        sales_contact = email_address(sales_contact, "--sales-contact")
    with _open() as ledger:
        domain = _vendor(ledger, vendor_name)
        new = add_vendor(ledger, domain, name=name, company=company,
                         privacy_contact=privacy_contact, postal_address=address, sales_contact=sales_contact)
        record = vendor_record(ledger, domain, top=0)
    if as_json:
        print_json({"vendor": domain, "new": new, "name": record["name"], "company": record["company"]})
        return
    company_info = record["company"]
    sales = company_info["sales_contact"] and f"sales {company_info['sales_contact']}"
    extra = ", ".join(part for part in (company_info["name"], company_info["privacy_contact"], sales) if part)
    verb = "added" if new else "updated"
    click.echo(f"{verb} {display_domain(domain)}" + (f" ({extra})" if extra else ""))


@vendor.command("list")
@click.option("--limit", type=click.IntRange(min=0), default=None,
              help=f"Show at most N vendors (0: all). Tables show {DEFAULT_TABLE_LIMIT} by default, --json all.")
@click.option("--offset", type=click.IntRange(min=0), default=0, help="Skip the first N vendors.")
@json_option
def list_(limit, offset, as_json):
    """List the vendors by domain, with how many aliases, disclosures and third parties each has.

    Examples:

    \b
        whoknows vendor list
        whoknows vendor list --limit 0 --json
    """
    from whoknows.vendor_records import list_vendors
    from whoknows.sites import display_domain

    if limit is None:
        limit = 0 if as_json else DEFAULT_TABLE_LIMIT
    with _open() as ledger:
        rows, total = list_vendors(ledger, limit=limit or None, offset=offset)
    if as_json:
        print_json([row.__dict__ for row in rows])
        return
    table(
        "vendors",
        ["vendor", "name", "aliases", "disclosures", "third parties", "since"],
        [[display_domain(r.vendor), r.name, r.aliases, r.disclosures, r.third_parties, r.created_at[:10]]
         for r in rows],
    )
    if offset + len(rows) < total:
        click.echo(f"{len(rows)} of {total} vendors shown; --limit 0 shows all, --offset N skips", err=True)


@vendor.command("show")
@click.argument("vendor_name", metavar="VENDOR")
@json_option
def show(vendor_name, as_json):
    """Everything the ledger has on VENDOR: company, aliases, what it was told, preferences, what it
    does, what scanned mail says about its aliases (who else writes to them), what its data exports
    say it holds, and what it holds that you never gave it ('whoknows findings').

    Examples:

    \b
        whoknows vendor show shop.example
        whoknows vendor show shop.example --json
    """
    from whoknows.vendor_records import vendor_record

    from whoknows.errors import NotFoundError
    from whoknows.learned_trackers import describe, list_trackers

    with _open() as ledger:
        domain = _vendor(ledger, vendor_name)
        try:
            record = vendor_record(ledger, domain, top=None if as_json else SHOW_TOP)
        except NotFoundError as exc:
            # A third party the proxy learned is a tracker need not be a vendor of yours: say what it is.
            learned = [t for t in list_trackers(ledger, ("learned", "allowed"), domains=[domain])]
            if learned:
                raise NotFoundError(f"{exc}; {domain} is a {describe(learned[0].state, learned[0].sites)} "
                                    "('whoknows trackers')") from None
            raise
    if as_json:
        print_json(record)
    else:
        _print_record(record)


def _terms_line(vendor: str, offers: list[dict]) -> str:
    from whoknows.terms_records import TermsOffer

    if not offers:
        return "  personal terms: never offered ('whoknows terms offer nostalking' proffers them to every site)"
    return "\n".join(f"  personal terms: {TermsOffer(vendor=vendor, **offer).describe()}" for offer in offers)


def _print_record(record: dict) -> None:
    from whoknows.disclosures import evidence_summary

    company = record["company"]
    title = record["display"] + (f" ({record['name']})" if record["name"] else "")
    click.echo(title)
    click.echo(f"  in the ledger since {short_time(record['created_at'])}")
    for label, key in (("company", "name"), ("privacy contact", "privacy_contact"), ("address", "address")):
        source = company["sources"].get(key)
        value = ", ".join((company[key] or "unknown").splitlines())
        click.echo(f"  {label}: {value}" + (f"  [{_SOURCE_NAMES.get(source, source)}]" if source else ""))
    # intents go here, never to the privacy contact: say how to record it where there is none
    click.echo(f"  sales contact: {company['sales_contact']}  [your entry]" if company["sales_contact"] else
               f"  sales contact: none recorded ('whoknows vendor add {record['vendor']} --sales-contact ADDRESS' "
               "for 'whoknows intent new')")
    if company.get("owner"):
        click.echo(f"  owned by: {company['owner']}  [tracker data] ('whoknows company show {record['vendor']}')")
    if record["learned_tracker"]:
        from whoknows.learned_trackers import describe

        tracker = record["learned_tracker"]
        click.echo(f"  {describe(tracker['state'], tracker['sites'])}")
    if company["countries"]:
        click.echo(f"  countries: {', '.join(company['countries'])}")
    if company["categories"]:
        click.echo(f"  categories: {', '.join(company['categories'])}")
    others = [domain for domain in company["domains"] if domain != record["vendor"]]
    if others:
        click.echo(f"  also runs: {', '.join(others)}")
    table("aliases", ["address", "state", "created", "state changed"],
          [[a["address"], a["state"], short_time(a["created_at"]), short_time(a["state_changed_at"])]
           for a in record["aliases"]])
    table("what it was given", ["kind", "value", "how", "first seen", "last seen", "evidence"],
          [[d["kind"], d["value"], d["source"], short_time(d["first_seen"]), short_time(d["last_seen"]),
            evidence_summary(d["evidence"])]
           for d in record["disclosures"]])
    click.echo(_preferences_line(record["preferences"]))
    click.echo(_terms_line(record["vendor"], record["personal_terms"]))
    for section, label in (("third_parties", "third parties"), ("cookies", "cookies"), ("parameters", "tracking parameters")):
        _print_observations(label, record["observations"][section])
    from cli.leaks import print_vendor_leaks

    print_vendor_leaks(record)
    _print_alias_mail(record)
    from cli.findings import print_vendor_exports

    print_vendor_exports(record)


_SOURCE_NAMES = {"you": "your entry", "directory": "directory", "tracker data": "tracker data"}


def _print_alias_mail(record: dict) -> None:
    """What scanned mail says about its aliases: mail from anyone else means it shared or leaked one."""
    if not record["alias_mail"]:
        click.echo("mail to its aliases: none scanned ('whoknows mail scan PATH')")
        return
    for entry in record["alias_mail"]:
        line = (f"mail to {entry['alias']}: {entry['messages']} messages, {entry['vendor_messages']} from it, "
                f"{entry['foreign_messages']} from others")
        click.echo(line)
        if entry["foreign_messages"]:
            click.echo(f"  it shared or leaked this alias: mail from {', '.join(entry['foreign_senders'])} since "
                       f"{(entry['first_foreign'] or 'an undated message')[:10]} ('whoknows knows alias "
                       f"{entry['alias']}')")


def _preferences_line(prefs: dict | None) -> str:
    if prefs is None:
        return "preferences: none stated"
    from cli.prefs import describe_preferences

    return "preferences: " + describe_preferences(prefs)


def _print_observations(label: str, summary: dict) -> None:
    if not summary["distinct"]:
        click.echo(f"{label}: none seen")
        return
    click.echo(f"{label}: {summary['distinct']} distinct, seen {summary['seen']} times"
               + (f", {summary['blocked']} blocked" if summary["blocked"] else ""))
    table(None, ["name", "seen", "blocked", "about", "last seen"],
          [[o["subject"], o["count"], _blocked(o["blocked"]), _about(o["detail"], o), short_time(o["last_seen"])]
           for o in summary["top"]])
    if summary["distinct"] > len(summary["top"]):
        click.echo(f"  ... and {summary['distinct'] - len(summary['top'])} more (--json lists all)")


def _about(detail, entry: dict | None = None) -> str:
    """What the proxy noted about one observation: a third party's company and category, a
    cookie's party and lifetimes (asked by the site, kept by the proxy's policy)."""
    if not isinstance(detail, dict):
        return ""
    parts = []
    if "third_party" in detail:
        parts.append("third party" if detail["third_party"] else "first party")
    company = (entry or {}).get("company") or detail.get("owner")
    if company:
        category = (entry or {}).get("category")
        parts.append(str(company) + (f" ({category})" if category else ""))
    learned = (entry or {}).get("learned")
    if learned:
        parts.append("learned tracker, let in by you" if learned.get("state") == "allowed" else "learned tracker")
    elif detail.get("tracker"):
        parts.append("tracker")
    if detail.get("cloaked_behind"):
        parts.append(f"behind {detail['cloaked_behind']} (CNAME)")
    if detail.get("blocked_by") and detail.get("blocked"):
        parts.append(f"blocked by {detail['blocked_by']}")
    if "asked_lifetime_seconds" in detail:
        kept = ("removed" if detail.get("mode") == "block"
                else f"kept {_lifetime(detail.get('granted_lifetime_seconds'))}")
        parts.append(f"asked {_lifetime(detail['asked_lifetime_seconds'])}, {kept}")
    return ", ".join(parts)


def _lifetime(seconds) -> str:
    if seconds is None:
        return "session"
    if not isinstance(seconds, int):
        return "?"
    if seconds <= 0:
        return "deletion"
    for unit, size in (("d", 86400), ("h", 3600), ("min", 60)):
        if seconds >= size:
            return f"{round(seconds / size)} {unit}"
    return f"{seconds} s"


def _blocked(value) -> str:
    if isinstance(value, bool):
        return "yes" if value else "no"
    return "" if value is None else str(value)


@vendor.command("data")
@click.argument("vendor_name", metavar="VENDOR")
@click.argument("path", metavar="PATH", type=click.Path(path_type=str))
@click.option("--date", "on", metavar="DATE", help="When VENDOR handed it over, YYYY-MM-DD (default: today).")
@json_option
def data(vendor_name, path, on, as_json):
    """Read the data export VENDOR handed over (a ZIP, a folder, or one JSON, CSV, HTML, XML or
    text file) and keep what it holds: your values and aliases found in it (in any encoding the
    proxy knows, hashes included) and the categories of data, each with the file and field where it
    was found. Never a copy of the export. Unsafe exports (a ZIP bomb, a member named outside the
    archive, a truncated ZIP) are refused and nothing is stored. Reading the same export again
    replaces its findings. Without a request; 'whoknows request answered ID --data PATH' for one.

    Examples:

    \b
        whoknows vendor data shop.example ~/Downloads/shop-export.zip
        whoknows vendor data shop.example export/ --date 2026-02-01 --json
    """
    from cli.findings import print_stored_export
    from cli.rights import parse_day
    from whoknows.export_records import read_vendor_export

    received = parse_day(on)
    with _open() as ledger:
        domain = _vendor(ledger, vendor_name)
        stored = read_vendor_export(ledger, domain, path, received_on=received)
    if as_json:
        print_json(stored.to_json())
    else:
        print_stored_export(stored)


@vendor.command("forget")
@click.argument("vendor_name", metavar="VENDOR")
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
def forget(vendor_name, yes):
    """Delete VENDOR and everything linked to it: aliases, disclosures, preferences, observations,
    the data exports read and their findings, what tracker companies saw on its pages.

    Only the ledger's rows go: an alias at your mail provider is not touched.

    Examples:

    \b
        whoknows vendor forget shop.example --yes
    """
    from whoknows.vendor_records import forget_vendor, linked_counts, require_vendor
    from whoknows.sites import display_domain

    with _open() as ledger:
        domain = _vendor(ledger, vendor_name)
        shown = display_domain(domain)
        vendor_id = require_vendor(ledger, domain)
        if not yes:
            counts = linked_counts(ledger.db, vendor_id)
            if not sys.stdin.isatty():
                raise InputError(f"forgetting {shown} needs confirmation and there is no terminal to ask: pass --yes")
            click.confirm(f"Forget {shown} and {_describe(counts)}?", abort=True)
        counts = forget_vendor(ledger, domain)
    click.echo(f"forgot {shown} and {_describe(counts)}")


_SINGULAR = {"aliases": "alias", "disclosures": "disclosure", "preferences": "preferences",
             "observations": "observation", "data_exports": "data export",
             "company_sightings": "company sighting"}


def _describe(counts: dict[str, int]) -> str:
    parts = [f"{n} {table.replace('_', ' ') if n != 1 else _SINGULAR[table]}" for table, n in counts.items() if n]
    return ", ".join(parts) if parts else "nothing linked to it"
