"""Leak detection end to end: headless Chromium, the real proxy process, the ledger it writes.

A checkout page on vendor.test (HTTPS) posts a form with the phone to itself and, from a script,
sends the SHA-256 of the email to tracker.test twice: once to a URL the proxy lets through, once to
one an extra filter blocks. After the proxy stops (it flushes at shutdown), the ledger it wrote
holds one disclosure (vendor.test knows the phone, from a form POST), one leak (SHA-256 of the
email in the URL to tracker.test) and one attempted leak (blocked), as `whoknows leaks` and
`whoknows vendor show` report them. Leak prevention is set to `report` here (this test is about what
is recorded); test_browser_leak_prevention.py runs the default, `block`.
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
PHONE = "+34 600 111 222"
EMAIL_SHA256 = hashlib.sha256(EMAIL.encode()).hexdigest()

CHECKOUT = f"""<!doctype html><html><head><title>checkout</title></head><body>
<form method="post" action="/order">
  <input name="name" value="A. Customer"><input name="tel" value="{PHONE}"><button>Buy</button>
</form>
<script>
async function sha256hex(text) {{
  const digest = await crypto.subtle.digest("SHA-256", new TextEncoder().encode(text));
  return Array.from(new Uint8Array(digest), b => b.toString(16).padStart(2, "0")).join("");
}}
window.sent = (async () => {{
  const em = await sha256hex(" {EMAIL} ".trim().toLowerCase());  // what "advanced matching" pixels do
  await fetch("https://tracker.test/collect?ev=Purchase&em=" + em, {{mode: "no-cors"}});
  try {{ await fetch("https://tracker.test/blocked?em=" + em, {{mode: "no-cors"}}); }} catch (e) {{}}
  return em;
}})();
</script></body></html>"""


def cli_json(*args):
    result = CliRunner().invoke(cli, [*args, "--json"])
    assert result.exit_code == 0, result.stderr
    return json.loads(result.stdout)


def test_a_form_disclosure_a_hashed_leak_and_a_blocked_attempt(sites, browser, start_proxy, e2e_dir, monkeypatch):
    home = e2e_dir / "leaks-proxy"
    home.mkdir(mode=0o700)
    monkeypatch.setenv("WHOKNOWS_HOME", str(home))
    with open_ledger() as ledger:  # the values exist before the proxy starts, encrypted, key in home
        add_value(ledger, "email", EMAIL)
        add_value(ledger, "phone", PHONE)
        SiteSettingsStore(ledger).set_default_leak_mode("report")
    filters = e2e_dir / "leaks-filters.txt"
    filters.write_text("||tracker.test/blocked^\n")
    proxy = start_proxy(f"whoknows_extra_filters={filters}", name="leaks-proxy")
    sites["vendor.test"].page("/checkout", CHECKOUT)
    sites["vendor.test"].page("/order", "<!doctype html><title>thanks</title>")
    sites["tracker.test"].page("/collect", b"", status=204)
    context = new_context(browser, proxy.url)
    try:
        page = context.new_page()
        page.goto("https://vendor.test/checkout")
        assert page.evaluate("window.sent") == EMAIL_SHA256
        with page.expect_navigation():
            page.click("button")
        order = sites["vendor.test"].wait_for("/order")
        assert order.method == "POST" and b"tel=%2B34+600+111+222" in order.body
        assert sites["tracker.test"].wait_for("/collect").query["em"] == EMAIL_SHA256
        assert sites["tracker.test"].received("/blocked") == []  # the blocked one never left
    finally:
        context.close()
        assert proxy.stop() is not None, proxy.stderr()[-2000:]  # flushes the batch at shutdown

    leaks = cli_json("leaks")
    shape = [(l["page"], l["recipient_host"], l["kind"], l["encoding"], l["where"], l["method"], l["blocked"])
             for l in leaks]
    assert sorted(shape) == [("vendor.test", "tracker.test", "email", "sha256", "url", "GET", False),
                             ("vendor.test", "tracker.test", "email", "sha256", "url", "GET", True)]
    sent = next(l for l in leaks if not l["blocked"])
    assert sent["url"] == "https://tracker.test/collect?ev=…&em=…" and sent["count"] == 1
    assert EMAIL_SHA256 not in json.dumps(leaks)

    vendor = cli_json("vendor", "show", "vendor.test")
    [disclosure] = vendor["disclosures"]
    assert (disclosure["kind"], disclosure["source"]) == ("phone", "form")
    assert disclosure["value"].startswith("•••22 [me:")
    assert {k: disclosure["evidence"][k] for k in ("method", "url", "where", "encoding")} == {
        "method": "POST", "url": "https://vendor.test/order", "where": "body", "encoding": "plain"}
    assert len(vendor["leaks"]["sent_by_its_pages"]) == 2

    tracker = cli_json("vendor", "show", "tracker.test")
    assert [(d["kind"], d["source"], d["evidence"]["page"]) for d in tracker["disclosures"]] == [
        ("email", "leak", "vendor.test")]  # the blocked attempt gave it nothing
    assert sorted(l["blocked"] for l in tracker["leaks"]["received"]) == [False, True]

    knows = cli_json("knows", "phone", "0034600111222")
    assert [(h["vendor"], h["source"]) for h in knows] == [("vendor.test", "form")]
