"""`whoknows trackers`: third parties the proxy learned are trackers (`whoknows.learned_trackers`)."""

from pathlib import Path

import click

from cli.output import json_option, print_json, table


def _relearned(ledger) -> list:
    """The list, brought up to date with what the ledger records (an import, a proxy that stopped
    before its next flush)."""
    from whoknows import learned_trackers

    learned_trackers.relearn(ledger)
    return learned_trackers.list_trackers(ledger)


@click.group(invoke_without_command=True)
@click.option("--all", "show_all", is_flag=True, help="Also list the trackers you made whoknows forget.")
@json_option
@click.pass_context
def trackers(ctx, show_all, as_json):
    """List the learned trackers: third parties seen receiving identifying data on 3 or more of your sites.

    The evidence is what the ledger records of the proxy's traffic: a cookie the third party set
    on a site's pages (even though the proxy removed it), a site's first-party id handed to it, or
    one of your values sent to it. A learned tracker is blocked on every other site's pages, gets
    no cookies and no Referer; on its own site it works as usual. 'trackers allow' lets it in
    (it loads, still without cookies or Referer), 'site allow-3p SITE DOMAIN' lets it in on one
    site with its cookies, 'trackers forget' unlearns it. The running proxy follows within a second.

    Examples:

    \b
        whoknows trackers
        whoknows trackers --json
    """
    if ctx.invoked_subcommand is not None:
        return
    from whoknows.ledger import open_ledger

    with open_ledger() as ledger:
        rows = [t for t in _relearned(ledger) if show_all or t.state != "forgotten"]
    if as_json:
        print_json([t.to_json() for t in rows])
        return
    table("Learned trackers", ["domain", "state", "seen tracking on", "evidence", "learned"],
          [[t.domain, "blocked" if t.state == "learned" else t.state, ", ".join(t.sites) or "-",
            ", ".join(t.evidence) or "-", t.learned_at or "-"] for t in rows])


@trackers.command("allow")
@click.argument("domain")
@json_option
def allow(domain, as_json):
    """Let DOMAIN in everywhere: it loads, still without cookies or Referer.

    Works before it is learned too. 'trackers forget DOMAIN' takes it back.

    Examples:

    \b
        whoknows trackers allow cdn.example
    """
    from whoknows import learned_trackers
    from whoknows.ledger import open_ledger

    with open_ledger() as ledger:
        domain, changed = learned_trackers.allow(ledger, domain)
    if as_json:
        print_json({"domain": domain, "state": "allowed", "changed": changed})
        return
    click.echo(f"{'Let in' if changed else 'Already let in'}: {domain} loads on every site, "
               "without cookies or Referer.")


@trackers.command("forget")
@click.argument("domain")
@json_option
def forget(domain, as_json):
    """Unlearn DOMAIN (or take back 'trackers allow'): no longer blocked.

    What was seen before no longer counts: it is learned again only when seen tracking on 3
    sites from now on.

    Examples:

    \b
        whoknows trackers forget cdn.example
    """
    from whoknows import learned_trackers
    from whoknows.ledger import open_ledger

    with open_ledger() as ledger:
        was = learned_trackers.forget(ledger, domain)
    if as_json:
        print_json({"domain": was.domain, "forgotten": True, "was": was.to_json()})
        return
    click.echo(f"Forgotten: {was.domain} (was {was.state}"
               + (f", seen tracking on {', '.join(was.sites)})" if was.sites else ")"))


@trackers.command("export")
@click.option("-o", "--output", "output", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Write to FILE instead of standard output.")
@click.option("--format", "fmt", type=click.Choice(["json", "abp"]), default="json", show_default=True,
              help="json: every entry with its sites and evidence; abp: an Adblock Plus filter list "
                   "(||domain^$third-party) for any blocker.")
def export(output, fmt):
    """Write the learned trackers as JSON, or as a filter list another blocker can subscribe to.

    The abp list holds the trackers still blocked (not those you let in or forgot).

    Examples:

    \b
        whoknows trackers export
        whoknows trackers export -o learned.txt --format abp
    """
    import json

    from whoknows import learned_trackers
    from whoknows.ledger import open_ledger

    with open_ledger() as ledger:
        rows = _relearned(ledger)
    if fmt == "abp":
        text = learned_trackers.filter_list(rows)
    else:
        text = json.dumps([t.to_json() for t in rows if t.state != "forgotten"], indent=2,
                          ensure_ascii=False) + "\n"
    if output is None:
        click.echo(text, nl=False)
        return
    from whoknows.paths import private_file

    with private_file(output, text=True) as out:
        out.write(text)
    click.echo(f"Wrote {sum(1 for t in rows if t.state == 'learned')} learned trackers to {output}", err=True)
