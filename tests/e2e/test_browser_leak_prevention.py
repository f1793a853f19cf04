"""Protection where no filter list knows the tracker (issue 13), end to end: headless Chromium, the
real proxy process with NO filter list loaded (not even the built-in one), the ledger it writes.

A shop (vendor.test) sets a first-party visitor id in a cookie; its page's script sends the SHA-256
of the person's email to an unlisted pixel host (tracker.test) and the visitor id to an unlisted
analytics host (cdn.test), then pays through a payment provider the user let in
(`whoknows site allow-3p vendor.test other.test`) and logs in there with a form. What must hold:
the hashed email never reaches tracker.test and is ledgered as prevented; the visitor id never
reaches cdn.test (stripped from the first hit, and cdn.test is blocked on the shop afterwards); the
payment and the login reach other.test whole.
"""

import hashlib
import json

import pytest
from click.testing import CliRunner

from cli.main import cli
from e2e_browser import new_context
from whoknows.filters import subscriptions
from whoknows.ledger import open_ledger
from whoknows.me import add_value
from whoknows.site_settings import SiteSettingsStore

pytestmark = pytest.mark.slow

EMAIL = "alice.smith@example.org"
EMAIL_SHA256 = hashlib.sha256(EMAIL.encode()).hexdigest()
VISITOR_ID = "4c1e8a2f-93b7-4d6a-b05e-7f2d9c3a1b68"

SHOP = f"""<!doctype html><html><head><title>shop</title></head><body>
<form method="post" action="https://other.test/login">
  <input name="email" value="{EMAIL}"><button>Log in with other.test</button>
</form>
<script>
async function sha256hex(text) {{
  const digest = await crypto.subtle.digest("SHA-256", new TextEncoder().encode(text));
  return Array.from(new Uint8Array(digest), b => b.toString(16).padStart(2, "0")).join("");
}}
async function send(url, options) {{
  try {{ await fetch(url, {{mode: "no-cors", ...options}}); return "sent"; }} catch (e) {{ return "failed"; }}
}}
window.done = (async () => {{
  const em = await sha256hex("{EMAIL}");
  const vid = document.cookie.match(/visitor_id=([^;]+)/)[1];
  return {{
    vid,
    pixel: await send("https://tracker.test/collect?ev=Purchase&em=" + em),
    hit: await send("https://cdn.test/hit?vid=" + vid + "&page=shop"),
    later: await send("https://cdn.test/hit2?page=cart"),
    pay: await send("https://other.test/pay", {{method: "POST",
      headers: {{"content-type": "application/x-www-form-urlencoded"}},
      body: "email=" + encodeURIComponent("{EMAIL}") + "&amount=10"}}),
  }};
}})();
</script></body></html>"""


def cli_json(*args):
    result = CliRunner().invoke(cli, [*args, "--json"])
    assert result.exit_code == 0, result.stderr
    return json.loads(result.stdout)


def test_values_and_ids_are_kept_from_unlisted_hosts_while_an_allowed_third_party_works(
        sites, browser, start_proxy, e2e_dir, monkeypatch):
    home = e2e_dir / "prevention-proxy"
    home.mkdir(mode=0o700)
    monkeypatch.setenv("WHOKNOWS_HOME", str(home))
    subscriptions.remove_subscription("builtin")  # no filter list at all
    with open_ledger() as ledger:
        add_value(ledger, "email", EMAIL)
        SiteSettingsStore(ledger).allow_third_party("vendor.test", "other.test")
    proxy = start_proxy(name="prevention-proxy")
    sites["vendor.test"].page("/shop", SHOP, headers=[("set-cookie", f"visitor_id={VISITOR_ID}; Path=/; Secure")])
    for path in ("/collect", "/hit", "/hit2"):
        sites["tracker.test"].page(path, b"", status=204)
        sites["cdn.test"].page(path, b"", status=204)
    sites["other.test"].page("/pay", b"", status=204)
    sites["other.test"].page("/login", "<!doctype html><title>logged in</title>")
    context = new_context(browser, proxy.url)
    try:
        page = context.new_page()
        page.goto("https://vendor.test/shop")
        outcome = page.evaluate("window.done")
        assert outcome["vid"] == VISITOR_ID  # the page has its id; only where it goes changes
        # answered as blocked requests are (a no-cors fetch gets an opaque answer), not cut off
        assert outcome == {"vid": VISITOR_ID, "pixel": "sent", "hit": "sent", "later": "sent", "pay": "sent"}
        with page.expect_navigation():
            page.click("button")
        login = sites["other.test"].wait_for("/login")
        pay = sites["other.test"].wait_for("/pay")
        hit = sites["cdn.test"].wait_for("/hit")
    finally:
        context.close()
        assert proxy.stop() is not None, proxy.stderr()[-2000:]  # flushes the batch at shutdown

    assert sites["tracker.test"].received() == []  # the hashed email never reached it
    assert hit.query == {"page": "shop"}  # the first hit went without the id...
    assert sites["cdn.test"].received("/hit2") == []  # ...and cdn.test is a tracker on the shop since
    for request in sites["cdn.test"].received():
        assert VISITOR_ID not in request.path and VISITOR_ID not in json.dumps(request.headers) \
            and VISITOR_ID.encode() not in request.body
    assert login.method == "POST" and b"email=alice.smith%40example.org" in login.body
    assert pay.body == b"email=alice.smith%40example.org&amount=10"

    leaks = {(leak["recipient_host"], leak["outcome"]) for leak in cli_json("leaks")}
    assert leaks == {("tracker.test", "prevented"), ("other.test", "leaked")}
    [shared] = cli_json("leaks", "--identifiers")
    assert (shared["page"], shared["cookie"], shared["recipient_host"], shared["action"]) == (
        "vendor.test", "visitor_id", "cdn.test", "strip")
    tracker = cli_json("vendor", "show", "tracker.test")
    assert [leak["outcome"] for leak in tracker["leaks"]["received"]] == ["prevented"]
    assert tracker["disclosures"] == []  # it never received anything
