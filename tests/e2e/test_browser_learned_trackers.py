"""Learned trackers end to end (issue 13, item 3): headless Chromium through the real proxy process
with NO filter list. An unknown widget host (widgets.test) embedded on three sites sets a cookie
there; the proxy ledgers what it saw, learns widgets.test when its writers flush, and from then on
blocks it on a fourth site (other.test), without a restart; `whoknows trackers allow` lets it load
again (within a second), still without a Referer; on its own site it always loads."""

import json
import time

import pytest
from click.testing import CliRunner

from cli.main import cli
from e2e_browser import new_context
from whoknows.filters import subscriptions
from whoknows.learned_trackers import list_trackers
from whoknows.ledger import open_ledger

pytestmark = pytest.mark.slow

WIDGET = "https://js.widgets.test/w.js"
ARTICLE = f"""<!doctype html><html><head><title>article</title>
<script src="{WIDGET}"></script></head><body><p>news</p></body></html>"""
FIRST_PARTIES = ("vendor.test", "news.test", "blog.test")


def cli_ok(*args):
    result = CliRunner().invoke(cli, list(args))
    assert result.exit_code == 0, result.stderr
    return result.stdout


def wait_until(predicate, timeout: float = 10.0):
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value or time.monotonic() > deadline:
            return value
        time.sleep(0.1)


def learned_now() -> dict:
    """The ledger's learned trackers as the proxy wrote them (read only: no relearning here)."""
    with open_ledger() as ledger:
        return {t.domain: t for t in list_trackers(ledger)}


def test_a_widget_setting_cookies_on_three_sites_is_learned_then_blocked_on_a_fourth_until_allowed(
        sites, browser, start_proxy, e2e_dir, monkeypatch):
    home = e2e_dir / "learned-proxy"
    home.mkdir(mode=0o700)
    monkeypatch.setenv("WHOKNOWS_HOME", str(home))
    subscriptions.remove_subscription("builtin")  # no filter list at all
    proxy = start_proxy("whoknows_flush_interval=0.2", name="learned-proxy")
    sites["widgets.test"].page("/w.js", "window.widget = 'loaded';", content_type="text/javascript",
                               headers=[("set-cookie", "wid=8f3a2c914b7e4d2a9c1f0e6b; Path=/; Max-Age=86400; "
                                                       "Secure; SameSite=None"),
                                        ("cache-control", "no-store")])
    sites["widgets.test"].page("/", "<!doctype html><title>widgets</title><script src='/w.js'></script>")
    for site in (*FIRST_PARTIES, "other.test"):
        sites[site].page("/article", ARTICLE)
    context = new_context(browser, proxy.url)
    try:
        page = context.new_page()

        def visit(site: str):
            page.goto(f"https://www.{site}/article")
            return page.evaluate("window.widget || null")

        assert visit("vendor.test") == "loaded" and visit("news.test") == "loaded"
        time.sleep(0.6)  # two flushes: two sites teach nothing
        assert learned_now() == {}
        assert visit("blog.test") == "loaded"
        learned = wait_until(lambda: learned_now().get("widgets.test"))
        assert learned is not None, proxy.stderr()[-2000:]
        assert (learned.state, learned.sites, learned.evidence) == ("learned", tuple(sorted(FIRST_PARTIES)), ("cookie",))
        time.sleep(0.7)  # the proxy re-reads the list with its site settings (0.5 s)
        assert len(sites["widgets.test"].received("/w.js")) == 3
        assert visit("other.test") is None  # blocked on the fourth site
        assert len(sites["widgets.test"].received("/w.js")) == 3  # it never reached widgets.test
        page.goto("https://widgets.test/")  # its own site: a first-party visit is never blocked
        assert page.evaluate("window.widget || null") == "loaded"

        explained = json.loads(cli_ok("check", WIDGET, "--from", "other.test", "--type", "script", "--json"))
        assert explained["decision"] == "block"
        assert {"part": "filter", "action": "block",
                "reason": "learned: seen tracking on blog.test, news.test, vendor.test"} in explained["parts"]

        assert cli_ok("trackers", "allow", "widgets.test").startswith("Let in: widgets.test")
        time.sleep(1.0)
        before = len(sites["widgets.test"].received("/w.js"))
        assert visit("other.test") == "loaded"
        [let_in] = sites["widgets.test"].received("/w.js")[before:]
        assert let_in.header("referer") is None and let_in.cookie is None  # still a tracker: nothing of yours
    finally:
        context.close()
        assert proxy.stop() is not None, proxy.stderr()[-2000:]
    [row] = json.loads(cli_ok("trackers", "--json"))
    assert (row["domain"], row["state"]) == ("widgets.test", "allowed")
