"""`whoknows mail scan PATH...`: read your mail to see who writes to each alias (and who leaked it)."""

import click

from cli.output import json_option, print_json, table


@click.group()
def mail():
    """Your mail, read for who writes to which alias: mail from anyone but the alias's vendor is
    evidence that the vendor shared or leaked it.

    Examples:

    \b
        whoknows mail scan ~/Maildir
    """


@mail.command("scan")
@click.argument("paths", nargs=-1, required=True, metavar="PATH...", type=click.Path(path_type=str))
@json_option
def scan(paths, as_json):
    """Read mbox files, Maildir folders and .eml files (or folders of them).

    Headers are read (Message-ID, Date, From, To, Cc, Delivered-To, X-Original-To,
    List-Unsubscribe, Precedence); the ledger keeps each message's identity, date, sender's domain
    and whether it is marketing, and for the aliases it reached, who sent it. The subject and text
    of mail to an alias are searched for your values ('whoknows me add'): a newsletter that greets
    you by a name you never gave the vendor is kept as a finding ('whoknows findings'), never its
    text. Scanning the same mail again adds nothing twice. Malformed messages are counted and skipped.

    Examples:

    \b
        whoknows mail scan ~/Maildir
        whoknows mail scan inbox.mbox saved/*.eml --json
    """
    from whoknows.ledger import open_ledger
    from whoknows.mail_records import alias_summary, body_watch, store_scan
    from whoknows.mailscan import scan_paths

    with open_ledger() as ledger:
        watch = body_watch(ledger)
        result = scan_paths(paths, watch)  # a path that cannot be read fails here, before anything is written
        stored = store_scan(ledger, result)
        summary = alias_summary(ledger)
    if as_json:
        print_json({
            "paths": list(paths), "messages": stored.read, "new": stored.new_messages,
            "already_known": stored.known_messages, "duplicates": stored.duplicates,
            "undated": stored.undated, "new_alias_hits": stored.new_hits, "new_foreign_hits": stored.foreign_hits,
            "new_values_found": stored.new_value_hits,
            "skipped": [{"source": where, "reason": why} for where, why in stored.skipped],
            "aliases": [entry.to_json() for entry in summary],
        })
        return
    _print_scan(stored, summary)


def _print_scan(stored, summary) -> None:
    from whoknows.sites import display_domain

    click.echo(f"read {stored.read} messages: {stored.new_messages} new, "
               f"{stored.known_messages} already in the ledger"
               + (f", {stored.duplicates} duplicates" if stored.duplicates else ""))
    if stored.skipped:
        click.echo(f"skipped {len(stored.skipped)} malformed messages (--json lists them)", err=True)
    if stored.new_value_hits:
        click.echo(f"found your values {stored.new_value_hits} times in mail to your aliases "
                   "('whoknows findings' says which vendors were never given them)")
    reached = [entry for entry in summary if entry.messages]
    table("mail to your aliases", ["alias", "vendor", "messages", "from it", "from others", "first from others"],
          [[e.alias, display_domain(e.vendor), e.messages, e.vendor_messages, e.foreign_messages,
            (e.first_foreign or "")[:10]] for e in reached])
    for entry in reached:
        if entry.foreign_messages:
            click.echo(f"{display_domain(entry.vendor)} shared or leaked {entry.alias}: mail from "
                       f"{', '.join(entry.foreign_senders)} since {(entry.first_foreign or 'an undated message')[:10]}")


def check_command(vendor_name: str | None, check: bool, setting: bool, as_json: bool) -> None:
    """`whoknows prefs --check [VENDOR]`: vendors over their limit or sending marketing after you said no."""
    if not check:
        raise click.UsageError("missing argument VENDOR (or --check to check every vendor against your mail)")
    if setting:
        raise click.UsageError("--check only reads: set preferences without it")
    from whoknows.ledger import open_ledger
    from whoknows.mail_records import check_preferences

    with open_ledger() as ledger:
        breaches, checked = check_preferences(ledger)
        if vendor_name is not None:
            from whoknows.aliases import resolve_vendor
            from whoknows.vendor_records import require_vendor

            vendor = resolve_vendor(ledger, vendor_name)
            require_vendor(ledger, vendor)
            breaches = [b for b in breaches if b.vendor == vendor]
    if as_json:
        print_json({"vendors_checked": checked, "breaches": [b.to_json() for b in breaches]})
    elif not checked:
        click.echo("no vendor has a limit or a no to marketing to check ('whoknows prefs VENDOR --max-per-month N')")
    elif not breaches:
        click.echo(f"checked {checked} vendors against your scanned mail: all within your preferences")
    else:
        for breach in breaches:
            click.echo(breach.describe())
    if breaches:  # for scripts: exit 1 when a breach is reported
        click.get_current_context().exit(1)
