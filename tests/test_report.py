"""`whoknows report` and its picture: the HTML page parsed back (stdlib html.parser) for the graph's
nodes and edges and the company view's tables; hostile names stay text; the page loads nothing."""

from __future__ import annotations

from datetime import datetime, timezone
from html import escape
from html.parser import HTMLParser

import pytest
from whoknows.company_sightings import Batch, CompanySightings, Counts, write_batch
from whoknows.company_view import list_companies
from whoknows.ledger import open_ledger
from whoknows.report import content_security_policy, write_report

DAY = 1_780_000_000.0  # 2026-05-28 UTC
NOW = datetime(2026, 6, 1, 12, 0, tzinfo=timezone.utc)
HOSTILE_COMPANY = '<script>alert("co")</script>&amp;'
HOSTILE_SITE = '"><img src=x onerror=alert(1)>.example'


class Page(HTMLParser):
    """What a reader of the page gets: the graph's nodes and edges, the tables' rows, every tag."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: list[tuple[str, dict]] = []
        self.nodes: dict[str, dict] = {}
        self.edges: list[dict] = []
        self.tables: dict[str, list[list[str]]] = {}
        self.texts: list[str] = []
        self._table: str | None = None
        self._cell: list[str] | None = None
        self._node: str | None = None
        self._in_text = False

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        self.tags.append((tag, attrs))
        classes = (attrs.get("class") or "").split()
        if tag == "g" and "node" in classes:
            self._node = attrs["data-id"]
            self.nodes[self._node] = {"kind": classes[1], "sites": attrs.get("data-sites"), "label": ""}
        elif tag == "circle" and self._node:
            self.nodes[self._node]["r"] = float(attrs["r"])
        elif tag == "text" and self._node:
            self._in_text = True
        elif tag == "line" and "edge" in classes:
            self.edges.append({"kind": classes[1], "source": attrs["data-source"], "target": attrs["data-target"],
                               "blocked": int(attrs["data-blocked"]), "reached": int(attrs["data-reached"])})
        elif tag == "table":
            self._table = attrs["id"]
            self.tables[self._table] = []
        elif tag == "tr" and self._table:
            self.tables[self._table].append([])
        elif tag in ("td", "th") and self._table:
            self._cell = []

    def handle_endtag(self, tag):
        if tag == "g":
            self._node = None
        elif tag == "text":
            self._in_text = False
        elif tag == "table":
            self._table = None
        elif tag in ("td", "th") and self._cell is not None:
            self.tables[self._table][-1].append("".join(self._cell))
            self._cell = None

    def handle_data(self, data):
        self.texts.append(data)
        if self._in_text and self._node:
            self.nodes[self._node]["label"] += data
        if self._cell is not None:
            self._cell.append(data)


def parse(html: str) -> Page:
    page = Page()
    page.feed(html)
    page.close()
    return page


@pytest.fixture
def ledger(whoknows_home):
    """Google on three sites (reached on two), Meta blocked on one, Criteo reached on one."""
    now = [DAY]
    sightings = CompanySightings(clock=lambda: now[0])
    sightings.request("shop.example", "www.google-analytics.com", blocked=False,
                      pages=[("https://shop.example/cart", "referer")])
    sightings.request("shop.example", "stats.g.doubleclick.net", blocked=True)
    sightings.request("shop.example", "connect.facebook.net", blocked=True)
    sightings.request("shop.example", "connect.facebook.net", blocked=True)
    sightings.cookies("shop.example", "www.google-analytics.com", ["_ga"])
    sightings.values("shop.example", "www.google-analytics.com", [("email", "a•••@example.org [me:3f9a0c1d]", "sha256")])
    now[0] += 86400
    sightings.request("news.example", "www.google-analytics.com", blocked=False)
    sightings.request("news.example", "static.criteo.net", blocked=False)
    sightings.request("blog.example", "www.googletagmanager.com", blocked=True)
    with open_ledger() as opened:
        write_batch(opened, sightings.take())
        yield opened


def test_the_report_draws_each_site_and_company_and_lists_the_company_view(ledger, tmp_path):
    path, _ = write_report(ledger, tmp_path / "r.html", now=NOW)
    page = parse(path.read_text())
    assert {node: (info["kind"], info["label"]) for node, info in page.nodes.items()} == {
        "site:shop.example": ("site", "shop.example"), "site:news.example": ("site", "news.example"),
        "site:blog.example": ("site", "blog.example"), "company:google": ("company", "Google"),
        "company:meta": ("company", "Meta Platforms"), "company:criteo": ("company", "Criteo")}
    # Reached where one request got through, blocked where every one was blocked.
    assert sorted((e["source"], e["target"], e["kind"], e["blocked"], e["reached"]) for e in page.edges) == [
        ("site:blog.example", "company:google", "blocked", 1, 0),
        ("site:news.example", "company:criteo", "reached", 0, 1),
        ("site:news.example", "company:google", "reached", 0, 1),
        ("site:shop.example", "company:google", "reached", 1, 1),
        ("site:shop.example", "company:meta", "blocked", 2, 0)]
    # A company's circle grows with the number of your sites it saw.
    assert page.nodes["company:google"]["sites"] == "3" and page.nodes["company:meta"]["sites"] == "1"
    assert page.nodes["company:google"]["r"] > page.nodes["company:criteo"]["r"] == page.nodes["company:meta"]["r"]

    header, *rows = page.tables["companies"]
    assert header[:5] == ["Company", "Category", "Sites", "Blocked", "Reached"]
    expected = [[r["company"], r["category"], str(r["sites"]), str(r["blocked"]), str(r["reached"]),
                 str(r["cookies"]), str(r["values"]), r["first_seen"], r["last_seen"]] for r in list_companies(ledger)]
    assert rows == expected
    assert rows[0][:5] == ["Google", "advertising", "3", "2", "2"]
    # What they hold: cookie names, your values by kind and encoding, how many pages learned.
    header, *rows = page.tables["held"]
    assert header == ["Company", "Cookie names", "Your values sent",
                      "Pages learned"]
    assert rows == [["Google", "_ga", "email (SHA-256)", "1"]]
    header, *rows = page.tables["sites"]
    # Most companies first; of two sites with as many, the one where more of them reached you.
    assert rows == [["news.example", "2", "2", "0", "2"], ["shop.example", "2", "1", "3", "1"],
                    ["blog.example", "1", "0", "1", "0"]]
    assert "3 companies saw you on 3 of your sites; 2 of them reached you" in "".join(page.texts)


def test_the_page_loads_nothing_and_runs_nothing(ledger, tmp_path):
    path, _ = write_report(ledger, tmp_path / "r.html", now=NOW)
    page = parse(path.read_text())
    tags = [tag for tag, _ in page.tags]
    assert "script" not in tags and "link" not in tags and "img" not in tags and "iframe" not in tags
    for _, attrs in page.tags:
        assert not any(name.startswith("on") for name in attrs), attrs
        assert not any(value and ("http:" in value or "https:" in value or "//" in value.split("xmlns")[0])
                       for name, value in attrs.items() if name in ("src", "href")), attrs
    [csp] = [attrs["content"] for tag, attrs in page.tags if attrs.get("http-equiv") == "Content-Security-Policy"]
    assert csp == content_security_policy()
    assert csp.startswith("default-src 'none'; style-src 'sha256-") and "script" not in csp


def test_hostile_names_stay_text(whoknows_home, tmp_path):
    batch = Batch()
    batch.sightings[(HOSTILE_SITE, HOSTILE_COMPANY, "evil.test", "2026-05-28")] = Counts(blocked=1, reached=2)
    with open_ledger() as ledger:
        write_batch(ledger, batch)
        path, _ = write_report(ledger, tmp_path / "r.html", now=NOW)
    html = path.read_text()
    page = parse(html)
    assert "<script>" not in html and "<img" not in html
    assert [tag for tag, _ in page.tags if tag in ("script", "img")] == []
    # Shown as written; long names cut beside their node.
    assert page.nodes[f"company:{HOSTILE_COMPANY}"]["label"] == HOSTILE_COMPANY[:27] + "…"
    assert page.nodes[f"site:{HOSTILE_SITE}"]["label"] == HOSTILE_SITE[:27] + "…"
    assert f"<title>{escape(HOSTILE_SITE)}: 1 companies present</title>" in html  # whole in its tooltip
    assert page.tables["companies"][1][0] == HOSTILE_COMPANY
    assert page.edges[0]["source"] == f"site:{HOSTILE_SITE}"


def test_an_empty_ledger_gives_a_page_that_says_so(whoknows_home, tmp_path):
    with open_ledger() as ledger:
        path, drawn = write_report(ledger, tmp_path / "r.html", now=NOW)
    page = parse(path.read_text())
    assert page.nodes == {} and page.tables == {}
    assert "No tracker company seen yet" in "".join(page.texts)


def test_a_company_that_hid_behind_a_sites_own_host_is_named_with_that_host(ledger, tmp_path):
    assert "cloaked" not in parse(write_report(ledger, tmp_path / "plain.html", now=NOW)[0].read_text()).tables
    sightings = CompanySightings(clock=lambda: DAY)
    sightings.request("blog.example", "stats.g.doubleclick.net", blocked=True, cloaked_behind="metrics.blog.example")
    write_batch(ledger, sightings.take())
    path, _ = write_report(ledger, tmp_path / "r.html", now=NOW)
    page = parse(path.read_text())
    header, *rows = page.tables["cloaked"]
    assert header[:4] == ["Site", "Its host", "Company", "Company's domain"]
    assert rows == [["blog.example", "metrics.blog.example", "Google", "doubleclick.net", "2026-05-28", "2026-05-28"]]
    # The graph's edge says it too (its tooltip).
    assert "<title>blog.example – Google: 2 blocked, 0 reached, behind metrics.blog.example (CNAME)</title>" in \
        path.read_text()
