"""`whoknows report`: the picture of who knows you as one self-contained HTML page.

The page is the graph of `company_picture` drawn as inline SVG, with the company view's tables
under it. It holds no script at all, loads nothing (no font, image or stylesheet from anywhere:
its Content-Security-Policy allows only its own inline stylesheet, by hash) and opens from disk.
Every string from the ledger (a site, a company name, a category) is untrusted text: it reaches
the page only through `html.escape`, as element text or a quoted attribute.

Written 0600 (`paths.private_file`): it is your browsing, site by site.
"""

from __future__ import annotations

import base64
import hashlib
from datetime import datetime, timezone
from html import escape
from pathlib import Path
from typing import Any

from .company_picture import picture
from .ledger import Ledger
from .paths import data_dir, private_file

REPORT_NAME = "report.html"

STYLE = """
:root { color-scheme: light dark; --fg: #1b1b1f; --muted: #55585f; --bg: #fff; --panel: #f2f4f8;
  --line: #c9ced8; --reached: #b3261e; --blocked: #8a8f99; --site: #1d4e89; --company: #e07b00; }
@media (prefers-color-scheme: dark) { :root { --fg: #ecedf0; --muted: #b5b9c2; --bg: #1c1d21;
  --panel: #272a31; --line: #4a4f5a; --reached: #ff8b8b; --blocked: #8a8f99; --site: #8fb8ee; } }
body { margin: 0; font: 100%/1.45 system-ui, sans-serif; color: var(--fg); background: var(--bg); }
main { max-width: 52rem; margin: 0 auto; padding: 1.25rem 1rem 3rem; }
h1 { font-size: 1.5rem; margin: 0 0 .25rem; } h2 { font-size: 1.1rem; margin: 1.5rem 0 .4rem; }
.note { color: var(--muted); margin: .2rem 0; }
figure { margin: 1rem 0; background: var(--panel); border: 1px solid var(--line); border-radius: 6px; }
figcaption { padding: .4rem .8rem; color: var(--muted); font-size: .9rem; }
svg { display: block; width: 100%; height: auto; }
svg text { font: 12px system-ui, sans-serif; fill: var(--fg); }
.edge { stroke-width: 1.5; fill: none; }
.edge.reached { stroke: var(--reached); }
.edge.blocked { stroke: var(--blocked); stroke-dasharray: 4 3; opacity: .8; }
.node.site circle { fill: var(--site); }
.node.company circle { fill: var(--company); fill-opacity: .85; stroke: var(--bg); }
.legend { display: flex; flex-wrap: wrap; gap: 1rem; padding: 0 .8rem .6rem; font-size: .9rem; }
.key { display: inline-block; width: 2rem; height: 0; vertical-align: middle; margin-right: .3rem; }
.key.reached { border-top: 2px solid var(--reached); } .key.blocked { border-top: 2px dashed var(--blocked); }
table { border-collapse: collapse; width: 100%; margin: .25rem 0 .5rem; font-size: .95rem; }
th, td { text-align: left; padding: .25rem .5rem; border-bottom: 1px solid var(--line); overflow-wrap: break-word; }
th { white-space: nowrap; } caption { text-align: left; padding: .2rem 0; }
td.n, th.n { text-align: right; font-variant-numeric: tabular-nums; }
"""

COMPANY_COLUMNS = [("company", "Company", False), ("category", "Category", False), ("sites", "Sites", True),
                   ("blocked", "Blocked", True), ("reached", "Reached", True), ("cookies", "Cookies", True),
                   ("values", "Your values", True), ("first_seen", "First seen", False),
                   ("last_seen", "Last seen", False)]
HELD_COLUMNS = [("company", "Company", False), ("cookies", "Cookie names", False),
                ("values", "Your values sent", False), ("pages", "Pages learned", True)]
CLOAKED_COLUMNS = [("display", "Site", False), ("behind", "Its host", False), ("company", "Company", False),
                   ("domain", "Company's domain", False), ("first_seen", "First seen", False),
                   ("last_seen", "Last seen", False)]
SITE_COLUMNS = [("display", "Site", False), ("companies", "Companies present", True),
                ("reached_you", "Reached you", True), ("blocked", "Blocked", True), ("reached", "Reached", True)]


def default_path() -> Path:
    """Where `whoknows report` writes without --out: report.html in the data directory."""
    return data_dir() / REPORT_NAME


def content_security_policy() -> str:
    """Nothing but the page's own stylesheet (by its hash): no script, no fetch, no image."""
    digest = base64.b64encode(hashlib.sha256(STYLE.encode("utf-8")).digest()).decode("ascii")
    return (f"default-src 'none'; style-src 'sha256-{digest}'; img-src 'none'; base-uri 'none'; "
            "form-action 'none'")


def write_report(ledger: Ledger, path: Path | None = None, now: datetime | None = None) -> tuple[Path, dict]:
    """Write the report to `path` (default: `default_path()`), 0600; returns the path and the picture."""
    path = path or default_path()
    drawn = picture(ledger)
    page = render(drawn, now or datetime.now(timezone.utc))
    with private_file(path, text=True) as out:
        out.write(page)
    return path, drawn


def _attr(value: Any) -> str:
    return escape(str(value), quote=True)


def render_graph(graph: dict[str, Any]) -> str:
    """The graph as inline SVG: edges first (under the nodes), then nodes with their labels."""
    parts = [f'<svg id="graph" role="img" aria-labelledby="graph-title" viewBox="0 0 {graph["width"]} '
             f'{graph["height"]}" width="{graph["width"]}" height="{graph["height"]}" '
             'xmlns="http://www.w3.org/2000/svg"><title id="graph-title">Your sites and the companies '
             'that saw you there</title>']
    for edge in graph["edges"]:
        parts.append(
            f'<line class="edge {edge["kind"]}" data-source="{_attr(edge["source"])}" '
            f'data-target="{_attr(edge["target"])}" data-blocked="{edge["blocked"]}" '
            f'data-reached="{edge["reached"]}" x1="{edge["x1"]}" y1="{edge["y1"]}" x2="{edge["x2"]}" '
            f'y2="{edge["y2"]}"><title>{escape(edge["title"])}</title></line>')
    for node in graph["nodes"]:
        site = node["kind"] == "site"
        label_x = node["x"] - node["r"] - 6 if site else node["x"] + node["r"] + 6
        anchor = "end" if site else "start"
        extra = "" if site else f' data-sites="{node["sites"]}"'
        parts.append(
            f'<g class="node {node["kind"]}" data-id="{_attr(node["id"])}"{extra}>'
            f'<title>{escape(node["title"])}</title>'
            f'<circle cx="{node["x"]}" cy="{node["y"]}" r="{node["r"]}"></circle>'
            f'<text x="{label_x}" y="{node["y"]}" dy="0.35em" text-anchor="{anchor}">{escape(node["label"])}</text></g>')
    parts.append("</svg>")
    return "".join(parts)


_NUMERIC = ' class="n"'


def render_table(table_id: str, caption: str, columns: list[tuple[str, str, bool]],
                 rows: list[dict[str, Any]], empty: str) -> str:
    if not rows:
        return f'<p class="note" id="{table_id}-none">{escape(empty)}</p>'
    head = "".join(f'<th scope="col"{_NUMERIC if numeric else ""}>{escape(title)}</th>'
                   for _, title, numeric in columns)
    body = "".join(
        "<tr>" + "".join(f'<td{_NUMERIC if numeric else ""}>{escape(str(row[key]))}</td>'
                         for key, _, numeric in columns) + "</tr>"
        for row in rows)
    return (f'<table id="{table_id}"><caption class="note">{escape(caption)}</caption>'
            f"<thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>")


def render(drawn: dict[str, Any], now: datetime) -> str:
    """The whole page (pure: the same picture and time give the same bytes)."""
    graph = drawn["graph"]
    left_out = graph["left_out"]
    more = []
    if left_out["companies"]:
        more.append(f"{left_out['companies']} more companies")
    if left_out["sites"]:
        more.append(f"{left_out['sites']} more sites")
    figure = ""
    if graph["nodes"]:
        caption = ("Left: your sites. Right: the companies present on their pages; the bigger the circle, "
                   "the more of your sites it saw.")
        if more:
            caption += f" Not drawn: {' and '.join(more)} (in the tables below)."
        figure = (f'<figure>{render_graph(graph)}<div class="legend"><span><span class="key reached"></span>'
                  'reached you (at least one request let through)</span><span><span class="key blocked">'
                  f"</span>blocked every time</span></div><figcaption>{escape(caption)}</figcaption></figure>")
    stamp = now.astimezone(timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    return "".join([
        '<!doctype html>\n<html lang="en"><head><meta charset="utf-8">',
        f'<meta http-equiv="Content-Security-Policy" content="{_attr(content_security_policy())}">',
        '<meta name="referrer" content="no-referrer"><meta name="viewport" content="width=device-width">',
        f"<title>whoknows: who knows me</title><style>{STYLE}</style></head><body><main>",
        "<h1>Who knows me</h1>",
        f'<p class="note" id="summary">{escape(drawn['summary'])}</p>',
        f'<p class="note">From the whoknows ledger, {escape(stamp)}.</p>',
        figure,
        "<h2>Companies</h2>",
        render_table("companies", "Requests blocked and reached, cookies it tried to set and your values it was "
                     "sent (distinct), on all your sites.", COMPANY_COLUMNS, drawn["companies"],
                     "No tracker company seen yet."),
        "<h2>What they hold</h2>",
        render_table("held", "The identifiers each company got to hold over all your sites: cookie names (whoknows "
                     "keeps no cookie values), your values by kind and encoding, and how many of your page "
                     "addresses it learned ('whoknows company show NAME' says where and when).",
                     HELD_COLUMNS, drawn["held"], "No company got to hold anything the proxy saw."),
        "<h2>Your sites</h2>",
        render_table("sites", "The companies present on each site's pages, and how many of them reached you there.",
                     SITE_COLUMNS, drawn["sites"], "No site seen yet."),
        *(["<h2>Hidden behind your sites' own hosts</h2>",
           render_table("cloaked", "Hosts of your sites that DNS said are aliases (CNAME) of a company's tracker "
                        "domain: its requests looked first-party ('behind metrics.shop.example (CNAME)').",
                        CLOAKED_COLUMNS, drawn["cloaked"], "")] if drawn.get("cloaked") else []),
        "</main></body></html>\n",
    ])


__all__ = ["REPORT_NAME", "content_security_policy", "default_path", "render", "render_graph", "write_report"]
