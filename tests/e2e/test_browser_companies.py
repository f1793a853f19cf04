"""The company view end to end: headless Chromium, the real proxy process, the ledger it writes.

Two vendor sites embed the same company's domains (test doubles of Google's google-analytics.com
and doubleclick.net, and of Meta's connect.facebook.net, under the test sites: `e2e_addons.
CompanyDoubles`): vendor.test loads Google's analytics (which sets a cookie and is sent the page's
address and the SHA-256 of your email), Google's ad domain (blocked by a filter) and Meta's pixel;
other.test loads Google's analytics and ad domain. After the proxy stops (it flushes at shutdown),
`whoknows companies --json`, `company show` and `who` tell that story, and agree with each other.
"""

import hashlib
import json

import pytest
from click.testing import CliRunner

from cli.main import cli
from e2e_browser import new_context
from whoknows.ledger import open_ledger
from whoknows.me import add_value
from whoknows.site_settings import SiteSettingsStore

pytestmark = pytest.mark.slow

EMAIL = "alice.smith@example.org"
EMAIL_SHA256 = hashlib.sha256(EMAIL.encode()).hexdigest()
GIF = b"GIF89a\x01\x00\x01\x00\x80\x00\x00\x00\x00\x00\xff\xff\xff!\xf9\x04\x01\x00\x00\x00\x00,\x00\x00\x00\x00\x01\x00\x01\x00\x00\x02\x02D\x01\x00;"


def page(with_meta: bool) -> str:
    meta = '<img id="meta" src="https://px.cdn.test/tr?ev=PageView">' if with_meta else ""
    return f"""<!doctype html><html><head><title>shop</title></head><body>
<img id="ads" src="https://ads.tracker.test/pagead/viewthroughconversion">
{meta}
<script>
async function sha256hex(text) {{
  const digest = await crypto.subtle.digest("SHA-256", new TextEncoder().encode(text));
  return Array.from(new Uint8Array(digest), b => b.toString(16).padStart(2, "0")).join("");
}}
window.sent = (async () => {{
  const em = await sha256hex("{EMAIL}");
  const dl = encodeURIComponent(location.href);
  await fetch(`https://ga.tracker.test/g/collect?v=2&dl=${{dl}}&em=${{em}}`, {{mode: "no-cors", credentials: "include"}});
  return em;
}})();
</script></body></html>"""


def cli_json(*args):
    result = CliRunner().invoke(cli, [*args, "--json"])
    assert result.exit_code == 0, result.stderr
    return json.loads(result.stdout)


def test_companies_company_show_and_who_tell_what_two_sites_gave_the_same_company(
        sites, browser, start_proxy, e2e_dir, monkeypatch):
    home = e2e_dir / "companies-proxy"
    home.mkdir(mode=0o700)
    monkeypatch.setenv("WHOKNOWS_HOME", str(home))
    with open_ledger() as ledger:  # the value exists before the proxy starts, encrypted, key in home
        add_value(ledger, "email", EMAIL)
        # what the company received is the story: leak prevention (block by default) only records here
        SiteSettingsStore(ledger).set_default_leak_mode("report")
    filters = e2e_dir / "companies-filters.txt"
    filters.write_text("||ads.tracker.test^\n")
    proxy = start_proxy(f"whoknows_extra_filters={filters}", addons=("e2e_addons:CompanyDoubles",),
                        name="companies-proxy")
    sites["vendor.test"].page("/shop", page(with_meta=True))
    sites["other.test"].page("/news", page(with_meta=False))
    sites["tracker.test"].page("/g/collect", b"", status=204,
                               headers=[("Set-Cookie", "_ga=GA1.1.99.1; Max-Age=63072000; Secure; SameSite=None")])
    sites["cdn.test"].page("/tr", GIF, content_type="image/gif")
    context = new_context(browser, proxy.url)
    try:
        tab = context.new_page()
        for url in ("https://vendor.test/shop?item=42", "https://other.test/news"):
            tab.goto(url)
            assert tab.evaluate("window.sent") == EMAIL_SHA256
        sites["tracker.test"].wait_for("/g/collect", count=2)
        sites["cdn.test"].wait_for("/tr")
        assert sites["tracker.test"].received("/pagead/viewthroughconversion") == []  # blocked: never left
    finally:
        context.close()
        assert proxy.stop() is not None, proxy.stderr()[-2000:]  # flushes the batches at shutdown

    companies = {row["company"]: row for row in cli_json("companies")}
    assert set(companies) == {"Google", "Meta Platforms"}
    google, meta = companies["Google"], companies["Meta Platforms"]
    assert (google["sites"], google["blocked"], google["reached"]) == (2, 2, 2)
    assert (google["cookies"], google["values"]) == (1, 1)
    assert (meta["sites"], meta["blocked"], meta["reached"], meta["cookies"]) == (1, 0, 1, 0)

    record = cli_json("company", "show", "Google")
    assert {(s["site"], s["blocked"], s["reached"], tuple(s["domains"])) for s in record["sites"]} == {
        ("vendor.test", 1, 1, ("ads.tracker.test", "ga.tracker.test")),
        ("other.test", 1, 1, ("ads.tracker.test", "ga.tracker.test"))}
    received = record["received"]
    assert [(c["name"], sorted(c["sites"])) for c in received["cookies"]] == [("_ga", ["other.test", "vendor.test"])]
    [value] = received["values"]
    assert (value["kind"], value["encoding"], sorted(value["sites"])) == ("email", "sha256", ["other.test", "vendor.test"])
    assert EMAIL not in json.dumps(record)  # by reference only
    pages = {(p["url"], p["through"]) for p in received["pages"]}
    # The Referer left trimmed to the origin; the page's full address went in dl=, its values redacted.
    assert {("https://vendor.test/", "referer"), ("https://vendor.test/shop?item=…", "parameter"),
            ("https://other.test/", "referer"), ("https://other.test/news", "parameter")} == pages
    assert record["privacy_contact"] == "data-access-requests@google.com"

    on_vendor = cli_json("who", "vendor.test")["companies"]
    assert [(c["company"], c["reached_you"]) for c in on_vendor] == [("Google", True), ("Meta Platforms", True)]
    on_other = cli_json("who", "other.test")["companies"]
    assert [(c["company"], c["reached_you"], c["blocked"], c["reached"]) for c in on_other] == [("Google", True, 1, 1)]
    # The three views agree: what `who` says per site adds up to `companies`.
    assert sum(c["reached"] for c in on_vendor + on_other if c["company"] == "Google") == google["reached"]
    assert sum(c["blocked"] for c in on_vendor + on_other if c["company"] == "Google") == google["blocked"]
