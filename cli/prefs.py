"""`whoknows prefs VENDOR [...]`: what you allow a vendor (marketing, channels, topics, frequency,
an opt-out, notes)."""

import click

from cli.output import json_option, print_json
from whoknows.mail_topics import TOPICS, topics_help
from whoknows.preferences import CHANNELS


def describe_preferences(prefs: dict) -> str:
    """One line: `marketing: no; channels: email, post; at most 2 a month; notes: ...`."""
    parts = []
    if prefs["marketing"] is not None:
        parts.append(f"marketing: {'yes' if prefs['marketing'] else 'no'}")
    if prefs["channels"] is not None:
        parts.append(f"channels: {', '.join(prefs['channels']) or 'none'}")
    if prefs.get("topics") is not None:
        parts.append(f"topics: {', '.join(prefs['topics']) or 'none'}")
    if prefs.get("max_per_week") is not None:
        parts.append(f"at most {prefs['max_per_week']} a week")
    if prefs["max_per_month"] is not None:
        parts.append(f"at most {prefs['max_per_month']} a month")
    if prefs.get("opted_out_on"):
        parts.append(f"opted out on {prefs['opted_out_on']}")
    if prefs["notes"]:
        parts.append(f"notes: {prefs['notes']}")
    return "; ".join(parts) or "nothing stated"


@click.command()
@click.argument("vendor_name", metavar="VENDOR", required=False)
@click.option("--marketing/--no-marketing", default=None, help="Whether VENDOR may send you marketing.")
@click.option("--channel", "channels", multiple=True, metavar="CHANNEL",
              help=f"A channel VENDOR may use ({', '.join(CHANNELS)}); repeat for several; "
                   "replaces the list. 'none': no channel at all.")
@click.option("--topic", "topics", multiple=True, type=click.Choice([*TOPICS, "none"], case_sensitive=False),
              help=f"A topic VENDOR may write about: {topics_help()}. Repeat for several; replaces the list. "
                   "'none': no topic at all.")
@click.option("--max-per-week", type=click.IntRange(min=0), help="At most this many messages a week.")
@click.option("--max-per-month", type=click.IntRange(min=0), help="At most this many messages a month.")
@click.option("--opt-out", "opt_out", is_flag=False, flag_value="today", metavar="[DATE]",
              help="You withdrew consent to marketing on DATE (YYYY-MM-DD; default today): no marketing from "
                   "the next day on. --marketing ends it.")
@click.option("--notes", help="Your notes on this vendor ('' clears them).")
@click.option("--clear", is_flag=True, help="Forget every stated preference for VENDOR first.")
@click.option("--check", is_flag=True, help="Check every vendor against your scanned mail (whoknows mail scan): "
              "over its max per week or month, off its topics, marketing after --no-marketing or an opt-out, "
              "marketing by email when its --channel list leaves email out, and the same mailing twice; each message judged by the preferences in force when it "
              "arrived. Exit 1 when it finds a breach.")
@json_option
def prefs(vendor_name, marketing, channels, topics, max_per_week, max_per_month, opt_out, notes, clear, check,
          as_json):
    """Show or set what you allow VENDOR; with no options, shows the current preferences.

    Setting a preference for a vendor not yet in the ledger adds the vendor. Each change is kept
    with when it was made: --check judges each mail by the preferences in force when it came.
    What a mail is about is read from its subject, sender and list headers (never its body).
    Each breach --check finds can go in an objection letter: 'whoknows request object VENDOR
    --from-check'.

    Examples:

    \b
        whoknows prefs shop.example --topic orders --topic offers --max-per-week 1
        whoknows prefs --check
    """
    if check or vendor_name is None:
        from cli.mail import check_command

        setting = (marketing is not None or channels or topics or max_per_week is not None or max_per_month is not None
                   or opt_out is not None or notes is not None or clear)
        return check_command(vendor_name, check, bool(setting), as_json)
    from whoknows.ledger import open_ledger
    from whoknows.preferences import FIELDS, get_preferences, set_preferences
    from whoknows.vendor_records import require_vendor
    from whoknows.aliases import resolve_vendor
    from whoknows.sites import display_domain

    changes = {} if not clear else dict.fromkeys(FIELDS)
    if marketing is not None:
        changes["marketing"] = marketing
    if channels:
        changes["channels"] = [] if [c.lower() for c in channels] == ["none"] else list(channels)
    if topics:
        changes["topics"] = [] if [t.lower() for t in topics] == ["none"] else [t for t in topics if t.lower() != "none"]
    if max_per_week is not None:
        changes["max_per_week"] = max_per_week
    if max_per_month is not None:
        changes["max_per_month"] = max_per_month
    if opt_out is not None:
        from datetime import date

        changes["opted_out_on"] = date.today().isoformat() if opt_out == "today" else opt_out
    if notes is not None:
        changes["notes"] = notes.strip() or None
    with open_ledger() as ledger:
        domain = resolve_vendor(ledger, vendor_name)
        if changes:
            current = set_preferences(ledger, domain, changes)
        else:
            current = get_preferences(ledger.db, require_vendor(ledger, domain))
    if as_json:
        print_json({"vendor": domain, "preferences": current})
    else:
        click.echo(f"{display_domain(domain)}: " + (describe_preferences(current) if current else "no preferences stated"))
