"""`whoknows findings [VENDOR]`: what vendors hold that you never gave them; and the printing of a
vendor's data export as read (`vendor data`, `request answered --data`)."""

import click

from cli.output import json_option, print_json, table


@click.command("findings")
@click.argument("vendor_name", metavar="[VENDOR]", required=False)
@json_option
def findings(vendor_name, as_json):
    """Values a vendor holds that it was never given, with the evidence and the earliest date seen.

    Given: what you told it ('whoknows tell'), what the proxy saw you send to its own site (a
    form), and its own aliases. Held: what its data export says ('whoknows vendor data', 'whoknows
    request answered ID --data'), what mail it sent to your aliases shows ('whoknows mail scan'),
    what its pages sent to other sites, and what other sites' pages sent to it (a leak is not
    something you gave it). Only your own values ('whoknows me add') and aliases are compared.
    Exits 1 when there is a finding.

    Examples:

    \b
        whoknows findings
        whoknows findings shop.example --json
    """
    from whoknows.aliases import resolve_vendor
    from whoknows.findings import all_findings, vendor_findings
    from whoknows.ledger import open_ledger
    from whoknows.sites import display_domain

    with open_ledger() as ledger:
        if vendor_name is None:
            result = all_findings(ledger)
        else:
            result = vendor_findings(ledger, resolve_vendor(ledger, vendor_name))
    if as_json:
        print_json({"findings": [f.to_json() for f in result.findings], "unmatched_told": result.unmatched_told})
    else:
        if result.unmatched_told:
            click.echo(f"{result.unmatched_told} values you told vendors could not be compared: this machine has "
                       "no key for your values ('whoknows me add', or restore your backup's key)", err=True)
        if not result.findings:
            where = f" by {display_domain(vendor_name)}" if vendor_name else ""
            click.echo(f"no value held{where} that it was not given (of what the ledger has seen: 'whoknows vendor "
                       "data VENDOR PATH' reads an export, 'whoknows mail scan PATH' your mail)")
        print_findings(result.findings, with_vendor=vendor_name is None)
    if result.findings:  # for scripts, as `prefs --check`: exit 1 when there is something to act on
        click.get_current_context().exit(1)


def print_findings(findings, with_vendor: bool = True) -> None:
    """Each finding (objects or their JSON) and its evidence, one line each."""
    from whoknows.sites import display_domain

    for finding in findings:
        record = finding if isinstance(finding, dict) else finding.to_json()
        who = f"{display_domain(record['vendor'])} holds " if with_vendor else "holds "
        click.echo(f"{who}your {record['kind']} {record['value']}, never given to it "
                   f"(first seen {record['first_seen'][:10]})")
        for evidence in record["evidence"]:
            click.echo(f"  - {evidence['summary']}")
        if record.get("personal_terms"):
            click.echo(f"  - {record['personal_terms']['summary']}")


def print_stored_export(stored) -> None:
    """What one export read says: values found (where), categories of data, what was skipped."""
    from whoknows.sites import display_domain

    reading = stored.reading
    again = "" if stored.new else " (read before: its findings replaced)"
    click.echo(f"read {stored.source_name} from {display_domain(stored.vendor)}{again}: {reading.files_read} files, "
               f"{reading.bytes_read} bytes; received {stored.received_on}")
    table("your values in it", ["kind", "value", "file", "field", "as", "times"],
          [[v.kind, v.value_id.ref, v.file, v.field, v.encoding, v.count] for v in reading.values])
    click.echo("what it says it holds: " + (", ".join(reading.categories_held()) or "no category recognised"))
    if reading.skipped:
        click.echo(f"skipped {len(reading.skipped)} members (--json lists them): "
                   + "; ".join(f"{s.file}: {s.reason}" for s in reading.skipped[:3])
                   + (" ..." if len(reading.skipped) > 3 else ""), err=True)
    if stored.unreadable_values:
        click.echo(f"{stored.unreadable_values} of your values could not be looked for: this machine's key "
                   "cannot open them", err=True)


def print_vendor_exports(record: dict) -> None:
    """`vendor show`: what its exports say it holds, and what it holds that it was never given."""
    exports = record["exports"]
    if not exports:
        click.echo("what it says it holds: no export read ('whoknows vendor data VENDOR PATH')")
    for export in exports:
        categories = ", ".join(c["category"] for c in export["categories"]) or "no category recognised"
        click.echo(f"what it says it holds (export {export['source']}, received {export['received_on']}): "
                   f"{categories}")
        if export["categories"]:
            table(None, ["category", "first place", "shown by", "sample"],
                  [[c["category"], f"{c['file']}: {c['field']}", c["evidence"], c["sample"] or ""]
                   for c in export["categories"]])
        if export["values"]:
            table(None, ["your value", "kind", "where"],
                  [[v["value"], v["kind"], "; ".join(f"{p['file']}: {p['field']}" for p in v["places"][:3])
                    + (" ..." if len(v["places"]) > 3 else "")] for v in export["values"]])
    if record.get("findings_unavailable"):
        click.echo(f"what it holds that you never gave it: unknown ({record['findings_unavailable']})")
    elif record["findings"]:
        click.echo("what it holds that you never gave it:")
        print_findings(record["findings"], with_vendor=False)
    else:
        click.echo("what it holds that you never gave it: nothing seen ('whoknows findings')")
