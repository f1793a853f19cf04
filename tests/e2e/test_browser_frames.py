"""Chromium through the real proxy: third-party frames.

A shop page embeds two third-party frames running the same script: a listed tracker's (an exception
filter lets the frame document through, as lists do where blocking breaks a page) and a plain
widget's. Each frame reads what it stored on the last load, stores an id in `localStorage` and in
a cookie it writes itself, tells the page, and calls its own origin. On the next load the tracker's
frame finds nothing (it runs sandboxed, with no storage of its own), while the widget, a control
that shows the test can fail, finds its id. The widget's call to its own origin from inside the
frame belongs to the shop's site: the cookie its answer sets never reaches the browser, while the
same call made by the widget's own top-level page keeps it.
"""

import pytest

from e2e_browser import new_context

pytestmark = pytest.mark.slow

NO_STORE = [("cache-control", "no-store")]
PAGE = """<!doctype html><title>Shop</title><h1>Shop</h1>
<script>
window.reports = [];
addEventListener("message", (event) => window.reports.push(event.data));
</script>
<iframe id="ad" src="https://tracker.test/frame.html"></iframe>
<iframe id="widget" src="https://other.test/frame.html"></iframe>"""
FRAME = """<!doctype html><title>frame</title><script>
const report = {from: location.hostname, stored: null, cookie: null, errors: []};
try {
  report.stored = localStorage.getItem("uid");
  localStorage.setItem("uid", "u-123");
} catch (e) { report.errors.push("localStorage: " + e.name); }
try {
  report.cookie = document.cookie;
  document.cookie = "uid=u-123; Max-Age=99999; Secure; SameSite=None";
} catch (e) { report.errors.push("cookie: " + e.name); }
fetch("/api", {credentials: "include"}).catch(() => null).finally(() => parent.postMessage(report, "*"));
</script>"""


@pytest.fixture(scope="module")
def frames_proxy(start_proxy, e2e_dir):
    filters = e2e_dir / "frames-filters.txt"
    filters.write_text("||tracker.test^\n@@||tracker.test/frame.html$subdocument\n")
    proxy = start_proxy(f"whoknows_extra_filters={filters}", name="frames-proxy")
    yield proxy
    proxy.stop()


@pytest.fixture
def page(browser, frames_proxy):
    context = new_context(browser, frames_proxy.url)
    yield context.new_page()
    context.close()


def load(page) -> dict[str, dict]:
    page.goto("https://vendor.test/shop")
    page.wait_for_function("window.reports.length === 2")
    return {report["from"]: report for report in page.evaluate("window.reports")}


def test_a_tracker_frames_stored_id_does_not_come_back_and_a_widgets_calls_belong_to_the_shop(sites, page):
    sites["vendor.test"].page("/shop", PAGE, headers=NO_STORE)
    for site in ("tracker.test", "other.test"):
        sites[site].page("/frame.html", FRAME, headers=NO_STORE)
        sites[site].page("/api", "{}", content_type="application/json",
                         headers=[*NO_STORE, ("set-cookie", "wid=7; Max-Age=99999; Secure; SameSite=None")])
    set_cookies = {}
    page.on("response", lambda r: set_cookies.setdefault(r.url, []).append(
        [value for name, value in ((h["name"].lower(), h["value"]) for h in r.headers_array())
         if name == "set-cookie"]) if r.url.endswith("/api") else None)
    first = load(page)
    assert first["other.test"]["stored"] is None and first["tracker.test"]["stored"] is None
    second = load(page)
    widget, tracker = second["other.test"], second["tracker.test"]
    assert widget["stored"] == "u-123" and widget["errors"] == []  # storage works in a plain frame
    assert tracker["stored"] is None and "uid" not in (tracker["cookie"] or "")
    assert sorted(tracker["errors"]) == ["cookie: SecurityError", "localStorage: SecurityError"]
    assert sites["tracker.test"].received("/frame.html")  # the frame itself was not blocked
    assert all("uid" not in (hit.cookie or "") for hit in sites["tracker.test"].received())
    # The widget's calls to itself from inside the frame: the shop's third party, its cookie removed.
    assert len(sites["other.test"].received("/api")) == 2
    assert set_cookies["https://other.test/api"] == [[], []]
    # The same call from the widget's own page is first party: its cookie arrives.
    page.goto("https://other.test/frame.html")
    page.wait_for_function("document.cookie.includes('uid=')")  # its script ran, first party
    with page.expect_response("https://other.test/api") as answered:
        page.evaluate("fetch('/api').then(r => r.text())")
    assert [h["value"] for h in answered.value.headers_array() if h["name"].lower() == "set-cookie"] == [
        "wid=7; Max-Age=99999; Secure; SameSite=None"]
