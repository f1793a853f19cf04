"""The picture of who knows you (issue 12): your sites, the companies that saw you there, and a
layout of the two as a graph, as plain data.

`picture(ledger)` is what `whoknows report` draws into an HTML page and what the extension's
"Who knows me" page draws from the control API (`GET /api/v1/companies`): both draw the same
nodes at the same places, because the layout is computed here, once, deterministically.

The layout is two columns: your sites on the left, companies on the right, an edge where a company
was present on a site's pages (`reached` when at least one of its requests got through there,
`blocked` when every one was blocked). A company's circle grows with the number of your sites it
saw. The order in each column is chosen to keep edges from crossing (two barycentre sweeps, ties
by name), so the same ledger always gives the same picture. A graph of hundreds of companies is
unreadable: it shows the `MAX_COMPANIES` seen on most sites and the `MAX_SITES` sites most of them
were on; the tables under it list everything.
"""

from __future__ import annotations

import math
from collections import defaultdict
from typing import Any

from .company_view import cloaked_sightings, cloaked_text, identifiers_by_company, list_companies, site_company_links
from .leak_records import ENCODING_NAMES
from .ledger import Ledger

MAX_COMPANIES = 40
MAX_SITES = 60
WIDTH = 760
SITE_X = 240
COMPANY_X = 520
MARGIN = 24
SITE_ROW = 26
SITE_RADIUS = 5
MAX_RADIUS = 24
MAX_LABEL = 28  # characters of a name beside its node (the column's room); the tooltip has it whole


def company_radius(sites: int) -> float:
    """A company's circle: its area grows with the number of your sites it saw."""
    return round(min(MAX_RADIUS, 3 + 5 * math.sqrt(max(sites, 1))), 1)


def short_label(name: str) -> str:
    """A name as it fits beside its node: cut with an ellipsis past `MAX_LABEL` characters."""
    return name if len(name) <= MAX_LABEL else name[:MAX_LABEL - 1].rstrip() + "…"


def picture(ledger: Ledger) -> dict[str, Any]:
    """The company view's tables and the graph of sites and companies (see the module's doc)."""
    return build_picture(list_companies(ledger), site_company_links(ledger), identifiers_by_company(ledger),
                         cloaked_sightings(ledger))


def site_rows(links: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Per site: how many companies were present on its pages, how many of them reached you there,
    and the requests blocked and reached. Most companies first, then by name."""
    sites: dict[str, dict[str, Any]] = {}
    for link in links:
        row = sites.setdefault(link["site"], {"site": link["site"], "display": link["display"], "companies": 0,
                                              "reached_you": 0, "blocked": 0, "reached": 0})
        row["companies"] += 1
        row["reached_you"] += link["reached"] > 0
        row["blocked"] += link["blocked"]
        row["reached"] += link["reached"]
    return sorted(sites.values(), key=lambda r: (-r["companies"], -r["reached_you"], r["site"]))


def _order(items: list[str], neighbours: dict[str, list[str]], position: dict[str, float]) -> list[str]:
    """`items` by the mean position of their neighbours (the barycentre heuristic), stable."""
    def centre(item: str) -> float:
        placed = [position[n] for n in neighbours[item] if n in position]
        return sum(placed) / len(placed) if placed else math.inf
    return sorted(items, key=lambda item: (centre(item), items.index(item)))


def _spread(names: list[str], top: float, height: float) -> dict[str, float]:
    step = height / max(len(names), 1)
    return {name: round(top + step * (index + 0.5), 1) for index, name in enumerate(names)}


def held_rows(companies: list[dict[str, Any]], held: dict[str, dict[str, Any]]) -> list[dict[str, Any]]:
    """Per company that got to hold something, in the companies' order: the names of its cookies,
    your values it was sent ("email (SHA-256)") and how many page URLs it learned."""
    rows = []
    for company in companies:
        entry = held.get(company["id"])
        if not entry:
            continue
        values = sorted({f"{v['kind']} ({ENCODING_NAMES.get(v['encoding'], v['encoding'])})" for v in entry["values"]})
        rows.append({"company": company["company"], "id": company["id"], "cookies": ", ".join(entry["cookies"]),
                     "values": ", ".join(values), "pages": entry["pages"]})
    return rows


def build_picture(companies: list[dict[str, Any]], links: list[dict[str, Any]],
                  held: dict[str, dict[str, Any]] | None = None,
                  cloaked: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    """The picture from `list_companies` rows, `site_company_links`, `identifiers_by_company` and
    `cloaked_sightings` (pure: tested on its own). An edge where the company hid behind one of the
    site's own hosts says so in its title ("behind metrics.shop.example (CNAME)")."""
    cloaked = cloaked or []
    behind: dict[tuple[str, str], list[str]] = defaultdict(list)
    for row in cloaked:
        if row["behind"] not in behind[(row["site"], row["id"])]:
            behind[(row["site"], row["id"])].append(row["behind"])
    shown = companies[:MAX_COMPANIES]
    by_id = {c["id"]: c for c in shown}
    kept = [link for link in links if link["id"] in by_id]
    per_site: dict[str, list[str]] = defaultdict(list)
    per_company: dict[str, list[str]] = defaultdict(list)
    for link in kept:
        per_site[link["site"]].append(link["id"])
        per_company[link["id"]].append(link["site"])
    sites = sorted(per_site, key=lambda s: (-len(per_site[s]), s))[:MAX_SITES]
    site_set = set(sites)
    kept = [link for link in kept if link["site"] in site_set]
    company_ids = [c["id"] for c in shown if any(s in site_set for s in per_company[c["id"]])]

    # Two sweeps: sites under the companies they share, then companies beside their sites.
    company_position = {cid: float(i) for i, cid in enumerate(company_ids)}
    sites = _order(sorted(sites), per_site, company_position)
    site_position = {site: float(i) for i, site in enumerate(sites)}
    company_ids = _order(company_ids, per_company, site_position)

    radii = {cid: company_radius(by_id[cid]["sites"]) for cid in company_ids}
    company_row = 2 * max(radii.values(), default=SITE_RADIUS) + 6
    inner = max(len(sites) * SITE_ROW, len(company_ids) * company_row, SITE_ROW)
    site_y = _spread(sites, MARGIN, inner)
    company_y = _spread(company_ids, MARGIN, inner)
    display = {link["site"]: link["display"] for link in kept}
    nodes = [{"id": f"site:{site}", "kind": "site", "key": site, "label": short_label(display[site]),
              "name": display[site], "x": SITE_X, "y": site_y[site], "r": SITE_RADIUS,
              "companies": len(per_site[site])} for site in sites]
    nodes += [{"id": f"company:{cid}", "kind": "company", "key": cid, "label": short_label(by_id[cid]["company"]),
               "name": by_id[cid]["company"], "category": by_id[cid]["category"], "x": COMPANY_X,
               "y": company_y[cid], "r": radii[cid],
               "sites": by_id[cid]["sites"], "blocked": by_id[cid]["blocked"], "reached": by_id[cid]["reached"]}
              for cid in company_ids]
    for node in nodes:
        node["title"] = (f"{node['name']}: {node['companies']} companies present" if node["kind"] == "site" else
                         f"{node['name']} ({node['category']}): on {node['sites']} of your sites, "
                         f"{node['blocked']} requests blocked, {node['reached']} reached")
    edges = [{"source": f"site:{link['site']}", "target": f"company:{link['id']}",
              "kind": "reached" if link["reached"] > 0 else "blocked",
              "blocked": link["blocked"], "reached": link["reached"],
              "x1": SITE_X, "y1": site_y[link["site"]], "x2": COMPANY_X, "y2": company_y[link["id"]],
              "title": f"{display[link['site']]} – {link['company']}: {link['blocked']} blocked, "
                       f"{link['reached']} reached"
                       + (f", {cloaked_text(behind[(link['site'], link['id'])])}"
                          if (link["site"], link["id"]) in behind else "")}
             for link in kept]
    all_sites = site_rows(links)
    return {
        "summary": summary(companies, all_sites),
        "companies": companies,
        "sites": all_sites,
        "held": held_rows(companies, held or {}),
        "cloaked": cloaked,
        "graph": {
            "width": WIDTH, "height": round(inner + 2 * MARGIN),
            "nodes": nodes, "edges": edges,
            "left_out": {"companies": len(companies) - len(company_ids), "sites": len(all_sites) - len(sites)},
        },
    }


def summary(companies: list[dict[str, Any]], sites: list[dict[str, Any]]) -> str:
    """One sentence: how many companies saw you, on how many sites, how many of them reached you."""
    reached = sum(1 for c in companies if c["reached"] > 0)
    if not companies:
        return "No tracker company seen yet: browse through the whoknows proxy, then look again."
    saw = f"{_count(len(companies), 'company', 'companies')} saw you on {len(sites)} of your sites"
    if reached == len(companies):
        return f"{saw}; {'it' if reached == 1 else 'all of them'} reached you at least once."
    if reached == 0:
        return f"{saw}; {'it never' if len(companies) == 1 else 'none of them'} reached you: blocked every time."
    return f"{saw}; {reached} of them reached you at least once, the others were blocked every time."


def _count(n: int, one: str, many: str) -> str:
    return f"{n} {one if n == 1 else many}"


__all__ = ["MAX_COMPANIES", "MAX_SITES", "build_picture", "company_radius", "held_rows", "picture", "short_label",
           "site_rows", "summary"]
