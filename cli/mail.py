"""`whoknows mail scan PATH...`: read your mail to see who writes to each alias (and who leaked it);
`whoknows mail account`: your own SMTP account, for sending intents."""

from pathlib import Path

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
    List-Unsubscribe, List-Id, Precedence, In-Reply-To, References); the ledger keeps each message's
    identity, date, sender's domain and whether it is marketing, for the aliases it reached who sent
    it, and which intents it answers ('whoknows intents'). The subject and text
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
            "new_intent_answers": stored.intent_answers,
            "skipped": [{"source": where, "reason": why} for where, why in stored.skipped],
            "aliases": [entry.to_json() for entry in summary],
        })
        return
    _print_scan(stored, summary)


@mail.command("account")
@click.option("--host", metavar="HOST", help="Your mail provider's SMTP server: smtp.mail.example.")
@click.option("--user", metavar="USER", help="The account's user name (often your address).")
@click.option("--security", type=click.Choice(["starttls", "tls"]), default="starttls", show_default=True,
              help="STARTTLS (usually port 587) or TLS from the start (usually port 465); never unencrypted.")
@click.option("--port", type=int, metavar="PORT", help="Default: 587 with starttls, 465 with tls.")
@click.option("--password-file", type=click.Path(dir_okay=False, path_type=Path), metavar="FILE",
              help="Read the password from FILE's first line (otherwise you are asked; never give it in argv).")
@click.option("--keep-password", is_flag=True, help="Change host, port or user but keep the stored password.")
@json_option
def account(host, user, security, port, password_file, keep_password, as_json):
    """Your own SMTP account, which 'whoknows intent send' sends through. Host, port and user are
    kept in the ledger; the password in the OS keyring. Without options: show the account.

    The connection is always encrypted and the server's certificate checked (a server with a private
    CA: point SSL_CERT_FILE at its certificate).

    Examples:

    \b
        whoknows mail account --host smtp.mail.example --user you@mail.example
        whoknows mail account
    """
    from whoknows.ledger import open_ledger
    from whoknows.mail_sending import load_account, parse_account, save_account

    with open_ledger() as ledger:
        if host is None and user is None:
            if password_file or keep_password or port is not None:
                raise click.UsageError("give --host and --user to set the account")
            current = load_account(ledger)
            if as_json:
                print_json(None if current is None else current._asdict())
            else:
                click.echo(current.describe() if current else
                           "no SMTP account: 'whoknows mail account --host smtp.mail.example --user you@mail.example'")
            return
        if host is None or user is None:
            raise click.UsageError("give both --host and --user")
        if keep_password and password_file:
            raise click.UsageError("--keep-password or --password-file, not both")
        chosen = parse_account(host, user, security, port)
        password = None
        if not keep_password:
            if password_file is not None:
                from whoknows.mail_sending import read_password_file

                password = read_password_file(password_file)
            else:
                password = click.prompt(f"password of {chosen.user} at {chosen.host}", hide_input=True, err=True)
        where = save_account(ledger, chosen, password)
    if as_json:
        print_json({**chosen._asdict(), "password_stored_in": where})
    else:
        click.echo(f"SMTP account: {chosen.describe()}" + (f"; password in {where}" if where else ""))


def _print_scan(stored, summary) -> None:
    from whoknows.sites import display_domain

    click.echo(f"read {stored.read} messages: {stored.new_messages} new, "
               f"{stored.known_messages} already in the ledger"
               + (f", {stored.duplicates} duplicates" if stored.duplicates else ""))
    if stored.intent_answers:
        click.echo(f"{stored.intent_answers} new answers to your intents ('whoknows intents' shows them)")
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
    """`whoknows prefs --check [VENDOR]`: what each vendor sent against your preferences (RULES)."""
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
        click.echo("no vendor has a limit, topics, an opt-out or a no to marketing to check "
                   "('whoknows prefs VENDOR --max-per-month N')")
    elif not breaches:
        click.echo(f"checked {checked} vendors against your scanned mail: all within your preferences")
    else:
        from whoknows.sites import display_domain

        vendors = list(dict.fromkeys(b.vendor for b in breaches))
        for vendor in vendors:
            mine = [b for b in breaches if b.vendor == vendor]
            click.echo(f"{display_domain(vendor)}: {len(mine)} breach{'es' if len(mine) > 1 else ''}")
            for breach in mine:
                click.echo("  " + breach.describe())
        click.echo("each can go in an objection letter: 'whoknows request object VENDOR --from-check'", err=True)
    if breaches:  # for scripts: exit 1 when a breach is reported
        click.get_current_context().exit(1)
