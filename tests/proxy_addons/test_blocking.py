"""The blocking addon: the filter engine decides; blocked requests are answered by the proxy itself."""

import time

import pytest
from mitmproxy import exceptions
from mitmproxy import http
from mitmproxy.test import taddons
from mitmproxy.test import tflow

from proxy_addons.blocking import BLOCKED_HEADER
from proxy_addons.blocking import DECISION_KEY
from proxy_addons.blocking import EXTRA_LIST_NAME
from proxy_addons.blocking import Blocking
from proxy_addons.context import Context
from proxy_addons.signals import TRACKER_KEY
from whoknows.filters import resource
from whoknows.ledger import open_ledger
from whoknows.site_settings import SiteSettingsStore

FILTERS = """\
! test filters
||tracker.test^
@@||tracker.test/needed.js^
||ads.test/lib.js$script,redirect=noop.js
"""
PAGE = "https://www.vendor.test/article"


def dest(kind: str, site: str = "cross-site") -> dict[str, str]:
    return {"sec-fetch-dest": kind, "sec-fetch-site": site, "referer": PAGE}


def flow_to(url: str, headers: dict[str, str], method: str = "GET") -> http.HTTPFlow:
    return tflow.tflow(req=http.Request.make(method, url, headers=headers))


@pytest.fixture
def filter_file(tmp_path):
    path = tmp_path / "my-filters.txt"
    path.write_text(FILTERS)
    return path


def through(*flows: http.HTTPFlow, extra=None, store=None) -> list[http.HTTPFlow]:
    """Run the flows through the context and blocking addons, as the proxy chains them."""
    context, blocking = Context(store), Blocking()
    with taddons.context(context, blocking) as tctx:
        if extra is not None:
            tctx.configure(blocking, whoknows_extra_filters=str(extra))
        blocking.running()
        for flow in flows:
            context.requestheaders(flow)
            blocking.requestheaders(flow)
        context.done()
    return list(flows)


def test_a_tracker_script_gets_an_empty_403_so_the_page_sees_a_failed_load(filter_file):
    [flow] = through(flow_to("https://cdn.tracker.test/t.js?id=1", dest("script")), extra=filter_file)
    response = flow.response
    assert response.status_code == 403 and response.content == b""
    assert response.headers["cache-control"] == "no-store"
    assert response.headers[BLOCKED_HEADER] == f"{EXTRA_LIST_NAME}: ||tracker.test^"
    assert flow.metadata[TRACKER_KEY] is True
    assert flow.metadata[DECISION_KEY].action == "block"


@pytest.mark.parametrize("kind, status, content_type, body", [
    ("image", 200, "image/gif", resource("1x1.gif")[1]),
    ("iframe", 200, "text/html", resource("noop.html")[1]),
    ("style", 403, "text/plain; charset=utf-8", b""),
    ("empty", 403, "text/plain; charset=utf-8", b""),  # fetch, XMLHttpRequest, sendBeacon
    ("font", 403, "text/plain; charset=utf-8", b""),
])
def test_each_type_gets_the_answer_that_breaks_pages_least(filter_file, kind, status, content_type, body):
    [flow] = through(flow_to("https://tracker.test/x", dest(kind)), extra=filter_file)
    assert flow.response.status_code == status
    assert flow.response.headers["content-type"] == content_type
    assert flow.response.content == body


def test_a_hyperlink_ping_gets_204(filter_file):
    headers = {**dest("empty"), "ping-to": "https://tracker.test/click", "content-type": "text/ping"}
    [flow] = through(flow_to("https://tracker.test/click", headers, "POST"), extra=filter_file)
    assert (flow.response.status_code, flow.response.content) == (204, b"")


def test_a_blocked_page_says_who_blocked_it_and_how_to_pause(filter_file):
    url = 'https://www.tracker.test/landing?x="><script>alert(1)</script>'
    headers = {"sec-fetch-dest": "document", "sec-fetch-site": "none"}
    [flow] = through(flow_to(url, headers), extra=filter_file)
    assert flow.response.status_code == 403
    assert flow.response.headers["content-type"] == "text/html; charset=utf-8"
    page = flow.response.get_text()
    assert "whoknows blocked this page" in page
    assert "<code>||tracker.test^</code>" in page and f"<code>{EXTRA_LIST_NAME}</code>" in page
    assert "whoknows site pause tracker.test" in page
    assert "<script>" not in page and "&lt;script&gt;" in page  # the URL is shown, not run


def test_redirect_filters_get_their_neutral_resource_readable_by_the_page(filter_file):
    headers = {**dest("script"), "origin": "https://www.vendor.test"}
    [flow] = through(flow_to("https://ads.test/lib.js", headers), extra=filter_file)
    assert flow.response.status_code == 200
    assert (flow.response.headers["content-type"], flow.response.content) == resource("noop.js")
    assert flow.response.headers["access-control-allow-origin"] == "https://www.vendor.test"
    assert flow.metadata[TRACKER_KEY] is True


def test_an_exception_lets_the_request_through_but_it_stays_marked_as_a_tracker(filter_file):
    [flow] = through(flow_to("https://tracker.test/needed.js", dest("script")), extra=filter_file)
    assert flow.response is None
    assert flow.metadata[DECISION_KEY].action == "exception"
    assert flow.metadata[TRACKER_KEY] is True  # so signals drops the Referer


def test_other_requests_pass_unmarked(filter_file):
    [flow] = through(flow_to("https://cdn.test/lib.js", dest("script")), extra=filter_file)
    assert flow.response is None
    assert TRACKER_KEY not in flow.metadata
    assert flow.metadata[DECISION_KEY].action == "allow"


def test_the_subscribed_lists_apply_without_extra_filters():
    # The built-in list is subscribed by default: Google Analytics is blocked out of the box.
    ga, cdn = through(flow_to("https://www.google-analytics.com/g/collect?v=2", dest("empty")),
                      flow_to("https://tracker.test/t.js", dest("script")))
    assert ga.response.status_code == 403
    assert "google-analytics.com" in ga.response.headers[BLOCKED_HEADER]
    assert cdn.response is None  # the test filters are not there


def test_a_paused_page_site_is_left_alone(filter_file):
    with open_ledger() as ledger:
        store = SiteSettingsStore(ledger)
        store.set_paused("vendor.test", True)
        paused, elsewhere = through(
            flow_to("https://tracker.test/t.js", dest("script")),
            flow_to("https://tracker.test/t.js", {**dest("script"), "referer": "https://other.test/"}),
            extra=filter_file, store=store)
    assert paused.response is None
    assert DECISION_KEY not in paused.metadata and TRACKER_KEY not in paused.metadata
    assert elsewhere.response.status_code == 403


def test_a_third_party_the_site_allows_is_not_blocked_there(filter_file):
    with open_ledger() as ledger:
        store = SiteSettingsStore(ledger)
        store.allow_third_party("vendor.test", "tracker.test")
        allowed, elsewhere = through(
            flow_to("https://tracker.test/sso.js", dest("script")),
            flow_to("https://tracker.test/sso.js", {**dest("script"), "referer": "https://other.test/"}),
            extra=filter_file, store=store)
    assert allowed.response is None and TRACKER_KEY not in allowed.metadata
    assert elsewhere.response.status_code == 403


def test_requests_the_proxy_answered_already_are_not_matched(filter_file):
    flow = flow_to("https://tracker.test/t.js", dest("script"))
    flow.response = http.Response.make(200, b"from pac")
    through(flow, extra=filter_file)
    assert flow.response.content == b"from pac" and DECISION_KEY not in flow.metadata


def test_an_unreadable_extra_filter_file_is_refused_at_configuration(tmp_path):
    blocking = Blocking()
    with taddons.context(blocking) as tctx:
        with pytest.raises(exceptions.OptionsError, match="whoknows_extra_filters: cannot read"):
            tctx.configure(blocking, whoknows_extra_filters=str(tmp_path / "missing.txt"))


def test_changing_the_extra_filters_rebuilds_the_engine(tmp_path):
    first, second = tmp_path / "a.txt", tmp_path / "b.txt"
    first.write_text("||one.test^\n")
    second.write_text("||two.test^\n")
    context, blocking = Context(), Blocking()
    with taddons.context(context, blocking) as tctx:
        tctx.configure(blocking, whoknows_extra_filters=str(first))
        assert blocking.engine().match("https://one.test/", "script").action == "block"
        tctx.configure(blocking, whoknows_extra_filters=str(second))
        assert blocking.engine().match("https://one.test/", "script").action == "allow"
        assert blocking.engine().match("https://two.test/", "script").action == "block"
        context.done()


# -- filter lists changed while the proxy runs ------------------------------------------------------

@pytest.fixture
def my_list(tmp_path):
    """A local list subscribed as `whoknows lists add FILE` does; rewrite it to change the lists."""
    from whoknows.filters.subscriptions import add_subscription

    path = tmp_path / "mine.txt"
    path.write_text("||first.test^\n")
    add_subscription(str(path))
    return path


def action(blocking: Blocking, host: str) -> str:
    """What the proxy does with a script from `host` on the test page, through the request hook."""
    flow = flow_to(f"https://{host}/t.js", dest("script"))
    blocking.requestheaders(flow)
    return flow.metadata[DECISION_KEY].action


@pytest.fixture
def running_blocking():
    """A Blocking addon on the subscribed lists, running; stopped (its check thread joined) after."""
    context, blocking = Context(), Blocking()
    with taddons.context(context, blocking) as tctx:
        blocking.tctx = tctx
        blocking.running()
        yield blocking
        blocking.done()
        context.done()


def test_a_changed_list_applies_at_the_next_check_without_a_restart(my_list, running_blocking, tmp_path):
    from whoknows.filters.subscriptions import add_subscription, remove_subscription

    blocking = running_blocking
    assert (action(blocking, "first.test"), action(blocking, "second.test")) == ("block", "allow")
    engine = blocking.engine()
    assert blocking.check_lists() is False and blocking.engine() is engine  # unchanged: nothing rebuilt

    my_list.write_text("||second.test^\n")  # the user edits the file
    assert blocking.check_lists() is True
    assert (action(blocking, "first.test"), action(blocking, "second.test")) == ("allow", "block")

    other = tmp_path / "other.txt"
    other.write_text("||third.test^\n")
    add_subscription(str(other))  # whoknows lists add
    assert blocking.check_lists() is True
    assert action(blocking, "third.test") == "block"
    remove_subscription(str(my_list))  # whoknows lists remove
    assert blocking.check_lists() is True
    assert (action(blocking, "second.test"), action(blocking, "third.test")) == ("allow", "block")
    assert action(blocking, "www.google-analytics.com") == "block"  # the built-in list stays


def test_requests_start_the_check_in_the_background_and_keep_the_old_engine_meanwhile(
        my_list, running_blocking, monkeypatch):
    import threading

    from whoknows.filters import engine_cache

    blocking = running_blocking
    blocking.tctx.configure(blocking, whoknows_lists_check_interval="0.05")
    gate, real_open_engine = threading.Event(), engine_cache.open_engine
    monkeypatch.setattr(engine_cache, "open_engine", lambda: gate.wait(10) and real_open_engine())
    my_list.write_text("||second.test^\n")
    time.sleep(0.1)  # the check is due

    assert action(blocking, "second.test") == "allow"  # this request starts the check, does not wait for it
    checker = blocking._checker
    assert checker is not None and checker.is_alive()  # rebuilding, held at the gate
    time.sleep(0.1)
    assert action(blocking, "second.test") == "allow"  # still the old engine, no second rebuild started
    assert blocking._checker is checker
    gate.set()
    checker.join(10)
    assert action(blocking, "second.test") == "block"  # no restart


def test_the_lists_are_checked_at_most_once_per_interval(my_list, running_blocking, monkeypatch):
    from whoknows.filters import engine_cache

    calls = []
    monkeypatch.setattr(engine_cache, "cache_key", lambda: calls.append(1) or "unchanged")
    blocking = running_blocking
    blocking.tctx.configure(blocking, whoknows_lists_check_interval="60")
    for _ in range(50):
        action(blocking, "first.test")
    assert calls == [] and blocking._checker is None
    blocking.tctx.configure(blocking, whoknows_lists_check_interval="0")  # 0: never
    time.sleep(0.01)
    action(blocking, "first.test")
    assert calls == [] and blocking._checker is None


def test_a_failed_rebuild_warns_once_and_keeps_blocking_with_the_old_lists(
        my_list, running_blocking, monkeypatch, caplog):
    from whoknows.filters import engine_cache

    blocking = running_blocking
    real_open_engine = engine_cache.open_engine

    def broken():
        raise MemoryError("no room for the new lists")

    monkeypatch.setattr(engine_cache, "open_engine", broken)
    my_list.write_text("||second.test^\n")
    with caplog.at_level("WARNING", logger="whoknows.proxy"):
        assert blocking.check_lists() is False
        assert blocking.check_lists() is False  # the same lists: not tried (nor warned about) again
    warnings = [r.getMessage() for r in caplog.records if r.levelname == "WARNING"]
    assert warnings == ["whoknows: the filter lists changed but cannot be loaded (MemoryError: no room for "
                        "the new lists); blocking with the lists loaded before"]
    assert (action(blocking, "first.test"), action(blocking, "second.test")) == ("block", "allow")

    monkeypatch.setattr(engine_cache, "open_engine", real_open_engine)
    my_list.write_text("||second.test^\n||third.test^\n")  # changed again: tried again, and it works
    assert blocking.check_lists() is True
    assert (action(blocking, "first.test"), action(blocking, "third.test")) == ("allow", "block")


def test_a_rebuild_does_not_undo_an_option_change_made_while_it_ran(my_list, running_blocking, monkeypatch,
                                                                    tmp_path):
    from whoknows.filters import engine_cache

    blocking = running_blocking
    extra = tmp_path / "extra.txt"
    extra.write_text("||extra.test^\n")
    real_open_engine = engine_cache.open_engine

    def options_change_meanwhile():
        blocking.tctx.configure(blocking, whoknows_extra_filters=str(extra))
        return real_open_engine()

    monkeypatch.setattr(engine_cache, "open_engine", options_change_meanwhile)
    my_list.write_text("||second.test^\n")
    assert blocking.check_lists() is False  # built for the old options: not swapped in
    monkeypatch.setattr(engine_cache, "open_engine", real_open_engine)
    assert (action(blocking, "extra.test"), action(blocking, "second.test")) == ("block", "block")


@pytest.mark.parametrize("text", ["-1", "soon", "nan", "inf", ""])
def test_a_check_interval_that_is_not_seconds_is_refused(text):
    blocking = Blocking()
    with taddons.context(blocking) as tctx:
        with pytest.raises(exceptions.OptionsError,
                           match=f"whoknows_lists_check_interval must be a number of seconds, 0 \\(never\\) or more; "
                                 f"got '{text}'"):
            tctx.configure(blocking, whoknows_lists_check_interval=text)
