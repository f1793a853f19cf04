"""The picture of who knows you, end to end: real traffic through the real proxy in headless
Chromium, then `whoknows report` opened from disk and the extension's "Who knows me" page (paired
with the running proxy) show the same companies and counts as `whoknows companies --json`, and
the popup groups the site's third parties by company.

The traffic is `test_browser_companies`' story (two vendor sites embedding test doubles of
Google's and Meta's domains, `e2e_addons.CompanyDoubles`), made here in the extension's own
browser. Screenshots of both pages go to docs/ (README shows them) when WHOKNOWS_SCREENSHOTS=1.
"""

from __future__ import annotations

import json
import time

import pytest

from e2e_sites import GIF
from test_browser_companies import EMAIL, EMAIL_SHA256
from test_browser_companies import page as shop_page
from e2e_browser import screenshot_path
from test_extension import launch_extension, pair_on_options_page, whoknows
from whoknows.company_sightings import Batch, Counts, write_batch
from whoknows.ledger import open_ledger
from whoknows.me import add_value
from whoknows.site_settings import SiteSettingsStore

pytestmark = pytest.mark.slow

# A ledger is data: one restored from an export made elsewhere could name a company or site anything.
HOSTILE_COMPANY = '<img src=x onerror="window.pwned=1">Evil & Co'
HOSTILE_SITE = '<svg onload="window.pwned=1">.example'

# What a reader of either page gets: the graph's nodes and edges and the tables' cells.
READ_PICTURE = """() => ({
  nodes: [...document.querySelectorAll("#graph g.node")].map((g) => [g.dataset.id, g.dataset.sites ?? null,
    g.querySelector("text").textContent, Number(g.querySelector("circle").getAttribute("r"))]),
  edges: [...document.querySelectorAll("#graph line.edge")].map((l) => [l.dataset.source, l.dataset.target,
    l.getAttribute("class"), Number(l.dataset.blocked), Number(l.dataset.reached)]),
  companies: [...document.querySelectorAll("table#companies tbody tr")].map((tr) => [...tr.cells].map((td) => td.textContent)),
  held: [...document.querySelectorAll("table#held tbody tr")].map((tr) => [...tr.cells].map((td) => td.textContent)),
  sites: [...document.querySelectorAll("table#sites tbody tr")].map((tr) => [...tr.cells].map((td) => td.textContent)),
  drawn: document.querySelector("#graph").getBoundingClientRect().height,
  injected: document.querySelectorAll("main img:not(.masthead img), #graph svg, #graph foreignObject, main script").length
    + (window.pwned === undefined ? 0 : 1),
})"""


def companies_once_flushed(proxy, timeout: float = 20.0) -> list[dict]:
    """`whoknows companies --json` once the proxy has written both sites' Google requests."""
    deadline = time.monotonic() + timeout
    while True:
        rows = json.loads(whoknows(proxy, "companies", "--json"))
        google = next((r for r in rows if r["company"] == "Google"), None)
        if google and (google["blocked"], google["reached"]) == (2, 2):
            return rows
        assert time.monotonic() < deadline, f"the proxy never wrote the sightings: {rows}"
        time.sleep(0.3)


def test_the_report_and_the_extension_page_show_what_companies_json_says(
        sites, browser, start_proxy, e2e_dir, mitm_confdir, tmp_path, monkeypatch):
    from playwright.sync_api import expect

    home = e2e_dir / "picture-proxy"
    home.mkdir(mode=0o700)
    monkeypatch.setenv("WHOKNOWS_HOME", str(home))
    with open_ledger() as ledger:
        add_value(ledger, "email", EMAIL)
        SiteSettingsStore(ledger).set_default_leak_mode("report")  # as test_browser_companies: what they received
    filters = e2e_dir / "picture-filters.txt"
    filters.write_text("||ads.tracker.test^\n")
    proxy = start_proxy(f"whoknows_extra_filters={filters}", "whoknows_flush_interval=0.2",
                        addons=("e2e_addons:CompanyDoubles",), name="picture-proxy")
    sites["vendor.test"].page("/shop", shop_page(with_meta=True))
    sites["other.test"].page("/news", shop_page(with_meta=False))
    sites["tracker.test"].page("/g/collect", b"", status=204,
                               headers=[("Set-Cookie", "_ga=GA1.1.99.1; Max-Age=63072000; Secure; SameSite=None")])
    sites["cdn.test"].page("/tr", GIF, content_type="image/gif")

    extension = launch_extension(browser, proxy, tmp_path / "profile", mitm_confdir / "mitmproxy-ca-cert.pem")
    try:
        pair_on_options_page(extension, proxy)
        tab = extension.context.new_page()
        for url in ("https://other.test/news", "https://vendor.test/shop?item=42"):
            tab.goto(url)
            assert tab.evaluate("window.sent") == EMAIL_SHA256
        sites["tracker.test"].wait_for("/g/collect", count=2)
        sites["cdn.test"].wait_for("/tr")

        companies = companies_once_flushed(proxy)
        expected = {r["company"]: (str(r["sites"]), str(r["blocked"]), str(r["reached"])) for r in companies}
        assert expected == {"Google": ("2", "2", "2"), "Meta Platforms": ("1", "0", "1")}

        # The popup, about the page looked at last (vendor.test): its companies, as the proxy groups them.
        popup = extension.open("popup.html")
        expect(popup.locator("#site")).to_have_text("vendor.test")
        lines = popup.locator("#companies li")
        expect(lines).to_have_count(2)
        expect(lines.nth(0)).to_have_text("Google: 1 blocked, 1 reached")
        expect(lines.nth(1)).to_have_text("Meta Platforms: 0 blocked, 1 reached")

        # The extension page, from the popup's link.
        with extension.context.expect_page() as opened:
            popup.get_by_role("link", name="Who knows me").click()
        knows = opened.value
        expect(knows.locator("#picture")).to_be_visible()
        on_page = knows.evaluate(READ_PICTURE)
        knows.set_viewport_size({"width": 900, "height": 700})
        knows.screenshot(path=str(screenshot_path("who-knows-me.png", tmp_path)), full_page=True)

        # The report, written by the CLI, opened from disk.
        report = tmp_path / "who-knows-me.html"
        whoknows(proxy, "report", "--out", str(report))
        reader = extension.context.new_page()
        problems = []
        reader.on("console", lambda message: problems.append(message.text))
        reader.set_viewport_size({"width": 900, "height": 700})
        reader.goto(report.as_uri())
        from_disk = reader.evaluate(READ_PICTURE)
        reader.screenshot(path=str(screenshot_path("report.png", tmp_path)), full_page=True)
        assert problems == []  # no CSP refusal: the stylesheet applied, nothing tried to load
        # The page's own stylesheet applied under its CSP (an SVG line is 1px wide by default).
        assert reader.evaluate("getComputedStyle(document.querySelector('line.edge.reached')).strokeWidth") == "1.5px"

        # Then a ledger that names a company and a site with markup (one restored from an export
        # made elsewhere could): both pages show the names as text, and nothing runs.
        with open_ledger() as ledger:
            hostile = Batch()
            hostile.sightings[(HOSTILE_SITE, HOSTILE_COMPANY, "evil.example", "2026-01-01")] = Counts(blocked=3)
            write_batch(ledger, hostile)
        whoknows(proxy, "report", "--out", str(report))
        reader.reload()
        # The page asks again on "Refresh" (no reload): the new company appears, drawn once.
        knows.get_by_role("button", name="Refresh").click()
        expect(knows.locator("table#companies tbody tr")).to_have_count(3)
        expect(knows.locator("#refresh")).to_be_enabled()
        assert knows.locator("#graph").count() == 1
        hostile_views = [reader.evaluate(READ_PICTURE), knows.evaluate(READ_PICTURE)]
        assert problems == []
    finally:
        extension.context.close()
        proxy.stop()

    for shown in (from_disk, on_page):
        assert shown.pop("drawn") > 0  # the graph takes room on the screen (its height follows the width)
        assert shown.pop("injected") == 0
        nodes = {node_id: (sites_seen, label) for node_id, sites_seen, label, _ in shown["nodes"]}
        assert nodes == {"site:vendor.test": (None, "vendor.test"), "site:other.test": (None, "other.test"),
                         "company:google": ("2", "Google"), "company:meta": ("1", "Meta Platforms")}
        assert sorted(shown["edges"]) == [
            ["site:other.test", "company:google", "edge reached", 1, 1],
            ["site:vendor.test", "company:google", "edge reached", 1, 1],
            ["site:vendor.test", "company:meta", "edge reached", 0, 1]]
        assert {row[0]: (row[2], row[3], row[4]) for row in shown["companies"]} == expected
        assert sorted(row[0] for row in shown["sites"]) == ["other.test", "vendor.test"]
        # What they got to hold: Google the cookie it set, your hashed email and four page addresses
        # (each site's by Referer and in dl=); Meta its page's address (by Referer).
        assert shown["held"] == [["Google", "_ga", "email (SHA-256)", "4"], ["Meta Platforms", "", "", "1"]]
    assert on_page == from_disk  # the same picture, node for node, cell for cell
    radius = {node_id: r for node_id, _, _, r in from_disk["nodes"]}
    assert radius["company:google"] > radius["company:meta"]

    for shown in hostile_views:
        assert shown.pop("injected") == 0  # no element made of a name, nothing ran
        shown.pop("drawn")
        labels = {node_id: label for node_id, _, label, _ in shown["nodes"]}
        assert labels[f"company:{HOSTILE_COMPANY}"] == HOSTILE_COMPANY[:27] + "…"  # as text, cut beside its node
        assert labels[f"site:{HOSTILE_SITE}"] == HOSTILE_SITE[:27] + "…"
        assert [f"site:{HOSTILE_SITE}", f"company:{HOSTILE_COMPANY}", "edge blocked", 3, 0] in shown["edges"]
        assert [HOSTILE_COMPANY, "unknown", "1", "3", "0"] in [row[:5] for row in shown["companies"]]
        assert HOSTILE_SITE in [row[0] for row in shown["sites"]]
    assert hostile_views[0] == hostile_views[1]
