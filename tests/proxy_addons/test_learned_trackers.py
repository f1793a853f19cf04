"""Learned trackers in the proxy: the context addon reads the ledger's list (and follows changes made
elsewhere within the settings store's refresh), the blocking addon blocks a learned tracker on
another site's pages, and the signals addon keeps the Referer from one you let in."""

import time

from mitmproxy import http
from mitmproxy.test import taddons
from mitmproxy.test import tflow

from proxy_addons.blocking import BLOCKED_HEADER
from proxy_addons.blocking import Blocking
from proxy_addons.context import Context
from proxy_addons.signals import Signals
from proxy_addons.signals import TRACKER_KEY
from whoknows import learned_trackers
from whoknows.ledger import open_ledger
from whoknows.observations import CookieSeen, Flusher, Observations
from whoknows.site_settings import REFRESH_SECONDS
from whoknows.site_settings import SiteSettingsStore


def script_from(page: str, url: str = "https://js.cdn.test/t.js") -> http.HTTPFlow:
    headers = {"sec-fetch-dest": "script", "sec-fetch-site": "cross-site", "referer": page}
    if page.startswith("https://cdn.test"):
        headers["sec-fetch-site"] = "same-site"
    return tflow.tflow(req=http.Request.make("GET", url, headers=headers))


def learn_cdn() -> None:
    observations = Observations()
    for page in ("a.test", "b.test", "c.test"):
        observations.cookie(page, CookieSeen("uid", "cdn.test", True, 3600, None, True, False, "block"))
    assert Flusher(observations, open_ledger).flush()


def test_learned_is_blocked_on_a_fourth_site_not_on_its_own_and_an_allow_elsewhere_applies_within_a_second():
    learn_cdn()
    context, blocking, signals = Context(), Blocking(), Signals()
    with taddons.context(context, blocking, signals):
        context.running()
        blocking.running()

        def send(flow):
            context.requestheaders(flow)
            blocking.requestheaders(flow)
            if flow.response is None:
                signals.requestheaders(flow)
            return flow

        blocked = send(script_from("https://d.test/page"))
        own = send(script_from("https://cdn.test/home"))
        with open_ledger() as cli_ledger:  # `whoknows trackers allow`, another connection
            learned_trackers.allow(cli_ledger, "cdn.test")
        time.sleep(REFRESH_SECONDS + 0.1)
        let_in = send(script_from("https://d.test/page"))
        context.done()
    assert blocked.response.status_code == 403
    assert blocked.response.headers[BLOCKED_HEADER] == "whoknows: learned: seen tracking on a.test, b.test, c.test"
    assert own.response is None and not own.metadata.get(TRACKER_KEY)
    assert let_in.response is None and let_in.metadata[TRACKER_KEY] is True
    assert "referer" not in let_in.request.headers


def test_a_site_that_lets_it_in_with_allow_3p_gets_it_unblocked_there_only():
    learn_cdn()
    with open_ledger() as ledger:
        SiteSettingsStore(ledger).allow_third_party("d.test", "cdn.test")
    context, blocking = Context(), Blocking()
    with taddons.context(context, blocking):
        context.running()
        blocking.running()
        flows = [script_from("https://d.test/"), script_from("https://e.test/")]
        for flow in flows:
            context.requestheaders(flow)
            blocking.requestheaders(flow)
        context.done()
    assert flows[0].response is None
    assert flows[1].response.status_code == 403
