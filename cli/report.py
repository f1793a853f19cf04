"""`whoknows report`: the picture of who knows you, as one HTML page that opens from disk."""

from pathlib import Path

import click

from cli.output import json_option, print_json


@click.command()
@click.option("--out", "out", type=click.Path(dir_okay=False, path_type=Path), metavar="FILE.html",
              help="Where to write the page (default: report.html in the whoknows data directory).")
@json_option
def report(out, as_json):
    """Write one self-contained HTML page of who knows you: a graph of your sites and the tracker
    companies present on their pages (a solid line where a company reached you, a dashed one where
    it was blocked every time; the bigger a company's circle, the more of your sites it saw), and
    the tables of `whoknows companies` and of your sites under it.

    The page holds no script and loads nothing from anywhere (open it from disk, print it, keep it);
    it is written 0600, like everything whoknows writes: it is your browsing, site by site.
    Without --out it goes to report.html in the whoknows data directory (`whoknows doctor` names
    that directory). --json prints where it went and what it counts.

    Examples:

    \b
        whoknows report
        whoknows report --out ~/who-knows-me.html
    """
    from whoknows.ledger import open_ledger
    from whoknows.report import write_report

    if out is not None and out.is_dir():
        raise click.UsageError(f"--out {out} is a directory: give a file name (who-knows-me.html)")
    with open_ledger() as ledger:
        path, drawn = write_report(ledger, out)
    graph = drawn["graph"]
    if as_json:
        print_json({"path": str(path), "companies": len(drawn["companies"]), "sites": len(drawn["sites"]),
                    "drawn": {"nodes": len(graph["nodes"]), "edges": len(graph["edges"])}})
        return
    click.echo(drawn["summary"])
    click.echo(f"wrote {path} (open it in a browser)")
