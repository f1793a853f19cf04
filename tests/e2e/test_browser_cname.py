"""Chromium through the real proxy, which asks a real DNS server on loopback: a first-party subdomain
that is a CNAME of a listed tracker's host is blocked by the list entry for that host; a first-party
subdomain that is no alias loads. The blocked requests are the tracker company's: `companies`,
`company show`, `who` and `vendor show` say so, and `company show`, `who` and the report name the
site's host it hid behind."""

import json

import pytest
from click.testing import CliRunner

from cli.main import cli

from dns_server import LoopbackDns
from e2e_browser import new_context
from e2e_sites import GIF

pytestmark = pytest.mark.slow

CLOAKED = "metrics.vendor.test"
CANONICAL = "vendor.test.tracker-cdn.test"
NO_STORE = [("cache-control", "no-store")]
SHOP = f"""<!doctype html><title>Shop</title><h1>Shop</h1>
<img id="cloaked" src="https://{CLOAKED}/p.gif?uid=42">
<img id="plain" src="https://www.vendor.test/logo.gif">
<script src="https://{CLOAKED}/collect.js"></script>
<script>window.pageScriptRan = true;</script>"""


@pytest.fixture(scope="module")
def dns():
    with LoopbackDns(chase=True) as server:  # a recursive resolver, as the system's is
        yield server


@pytest.fixture(scope="module")
def cname_proxy(start_proxy, e2e_dir, dns):
    filters = e2e_dir / "cname-filters.txt"
    filters.write_text("||tracker-cdn.test^\n")
    proxy = start_proxy(f"whoknows_extra_filters={filters}", f"whoknows_dns_server={dns.server}",
                        name="cname-proxy")
    yield proxy
    proxy.stop()


@pytest.fixture
def page(browser, cname_proxy):
    context = new_context(browser, cname_proxy.url)
    yield context.new_page()
    context.close()


def test_a_cname_cloaked_first_party_host_is_blocked_by_the_entry_for_its_canonical_name(sites, dns, page,
                                                                                       cname_proxy):
    dns.reset()
    dns.alias(CLOAKED, CANONICAL, ttl=60)
    dns.address(CANONICAL, ttl=60)
    dns.address("www.vendor.test", ttl=60)
    sites["vendor.test"].page("/shop", SHOP, headers=NO_STORE)
    sites["vendor.test"].page("/p.gif", GIF, content_type="image/gif", headers=NO_STORE)
    sites["vendor.test"].page("/logo.gif", GIF, content_type="image/gif", headers=NO_STORE)
    sites["vendor.test"].page("/collect.js", "window.collected = true;", content_type="text/javascript",
                              headers=NO_STORE)
    answers = {}
    page.on("response", lambda r: answers.__setitem__(r.url.split("?")[0], (
        r.status, r.headers.get("x-whoknows-blocked"), r.headers.get("x-whoknows-uncloaked"))))
    assert page.goto("https://vendor.test/shop").status == 200
    assert page.evaluate("window.pageScriptRan") is True
    assert page.evaluate("window.collected") is None  # the cloaked tracker's script never ran
    sites["vendor.test"].wait_for("/logo.gif")
    hosts = {(hit.host, hit.path.split("?")[0]) for hit in sites["vendor.test"].received()}
    assert (CLOAKED, "/p.gif") not in hosts and (CLOAKED, "/collect.js") not in hosts
    assert ("www.vendor.test", "/logo.gif") in hosts  # the first-party host that is no alias loads
    blocked = ("extra-filters: ||tracker-cdn.test^", CANONICAL)
    assert answers[f"https://{CLOAKED}/p.gif"] == (200, *blocked)
    assert answers[f"https://{CLOAKED}/collect.js"] == (403, *blocked)
    assert answers["https://www.vendor.test/logo.gif"] == (200, None, None)
    # Only the first-party subdomains were asked for (and each chain once: cached by its TTL).
    assert sorted(set(dns.asked())) == [CLOAKED, "www.vendor.test"]
    assert dns.asked().count(CLOAKED) == 1


def cli_json(*args):
    result = CliRunner().invoke(cli, [*args, "--json"])
    assert result.exit_code == 0, result.stderr
    return json.loads(result.stdout)


def test_requests_blocked_as_cname_cloaked_are_the_tracker_companys(sites, dns, browser, start_proxy, e2e_dir,
                                                                  monkeypatch):
    """tracker-cdn.test stands in for Adobe's omtrdc.net (`e2e_addons.COMPANY_DOUBLES`)."""
    home = e2e_dir / "cname-companies-proxy"
    home.mkdir(mode=0o700)
    monkeypatch.setenv("WHOKNOWS_HOME", str(home))
    filters = e2e_dir / "cname-companies-filters.txt"
    filters.write_text("||tracker-cdn.test^\n")
    proxy = start_proxy(f"whoknows_extra_filters={filters}", f"whoknows_dns_server={dns.server}",
                        addons=("e2e_addons:CompanyDoubles",), name="cname-companies-proxy")
    dns.reset()
    dns.alias(CLOAKED, CANONICAL, ttl=60)
    dns.address(CANONICAL, ttl=60)
    dns.address("www.vendor.test", ttl=60)
    sites["vendor.test"].page("/shop", SHOP, headers=NO_STORE)
    sites["vendor.test"].page("/logo.gif", GIF, content_type="image/gif", headers=NO_STORE)
    context = new_context(browser, proxy.url)
    try:
        page = context.new_page()
        assert page.goto("https://vendor.test/shop").status == 200
        assert page.evaluate("window.collected") is None  # the cloaked tracker's script never ran
        sites["vendor.test"].wait_for("/logo.gif")
        assert not [hit for hit in sites["vendor.test"].received() if hit.host == CLOAKED]
    finally:
        context.close()
        assert proxy.stop() is not None, proxy.stderr()[-2000:]  # flushes the batches at shutdown

    [adobe] = cli_json("companies")
    assert (adobe["company"], adobe["sites"], adobe["blocked"], adobe["reached"]) == ("Adobe", 1, 2, 0)
    record = cli_json("company", "show", "Adobe")
    assert [(s["site"], s["blocked"], s["reached"], s["domains"]) for s in record["sites"]] == [
        ("vendor.test", 2, 0, ["tracker-cdn.test"])]
    assert record["received"] == {"cookies": [], "values": [], "pages": []}  # blocked: it got nothing
    [present] = cli_json("who", "vendor.test")["companies"]
    assert (present["company"], present["reached_you"], present["blocked"]) == ("Adobe", False, 2)
    # ... and which host of the site it hid behind: in company show, who and the report.
    behind = [{"domain": "tracker-cdn.test", "behind": CLOAKED}]
    assert [s["cloaked"] for s in record["sites"]] == [behind] and present["cloaked"] == behind
    said = f"tracker-cdn.test behind {CLOAKED} (CNAME)"
    for args in (("company", "show", "Adobe"), ("who", "vendor.test")):
        result = CliRunner().invoke(cli, list(args), env={"COLUMNS": "250"})  # a table cell unwrapped
        assert result.exit_code == 0 and said in result.stdout, result.stdout
    report = e2e_dir / "cname-report.html"
    assert CliRunner().invoke(cli, ["report", "--out", str(report)]).exit_code == 0
    html = report.read_text()
    assert f"<td>{CLOAKED}</td><td>Adobe</td><td>tracker-cdn.test</td>" in html
    assert f"behind {CLOAKED} (CNAME)</title>" in html
    # The vendor record (and the popup, from the same counters) names the cloaked host.
    parties = {t["subject"]: t for t in cli_json("vendor", "show", "vendor.test")["observations"]["third_parties"]["top"]}
    cloaked = parties["tracker-cdn.test"]
    assert (cloaked["company"], cloaked["blocked"]) == ("Adobe", 2)
    assert (cloaked["detail"]["cloaked_behind"], cloaked["detail"]["blocked_by"]) == (CLOAKED, "extra-filters")
    assert "www.vendor.test" not in parties and "vendor.test" not in parties  # first party, no alias
