"""The context addon: each request's site, page site, type and party, and the page site's settings."""

import time

from mitmproxy import http
from mitmproxy.test import taddons
from mitmproxy.test import tflow

from proxy_addons.context import CONTEXT_KEY
from proxy_addons.context import Context
from proxy_addons.context import context_of
from proxy_addons.context import ensure_context
from proxy_addons.context import is_paused
from whoknows.cookies import CookieMode
from whoknows.ledger import open_ledger
from whoknows.site_settings import DEFAULT
from whoknows.site_settings import REFRESH_SECONDS
from whoknows.site_settings import SiteSettingsStore

# What Chromium sends for a page's navigation, a script on it, an image, a fetch.
NAVIGATION = {"sec-fetch-dest": "document", "sec-fetch-mode": "navigate", "sec-fetch-site": "none"}
SCRIPT = {"sec-fetch-dest": "script", "sec-fetch-mode": "no-cors", "sec-fetch-site": "cross-site"}


def flow_to(url: str, method: str = "GET", **headers: str) -> http.HTTPFlow:
    return tflow.tflow(req=http.Request.make(method, url, headers=headers))


def contexts(*flows: http.HTTPFlow, store: SiteSettingsStore | None = None):
    addon = Context(store)
    with taddons.context(addon):
        for flow in flows:
            addon.requestheaders(flow)
        addon.done()
    return [context_of(flow) for flow in flows]


def test_a_top_level_navigation_is_its_own_page_and_first_party():
    url = "https://www.vendor.test/cart?id=1"
    [context] = contexts(flow_to(url, referer="https://search.other.test/?q=x", **NAVIGATION))
    seen = (context.request_site, context.page_site, context.type, context.source, context.third_party)
    assert seen == ("vendor.test", "vendor.test", "document", url, False)
    assert context.navigation and not context.paused and context.settings is DEFAULT


def test_a_subresource_belongs_to_the_page_in_its_referer():
    [context] = contexts(flow_to("https://cdn.tracker.test/t.js", referer="https://www.vendor.test/",
                                 **SCRIPT))
    seen = (context.request_site, context.page_site, context.type, context.source, context.third_party)
    assert seen == ("tracker.test", "vendor.test", "script", "https://www.vendor.test/", True)
    assert not context.navigation


def test_origin_stands_in_for_a_missing_referer_and_same_site_fetch_metadata_for_both():
    by_origin, same_site, unknown, null_origin = contexts(
        flow_to("https://api.tracker.test/e", "POST", origin="https://shop.vendor.test",
                **{"sec-fetch-dest": "empty", "sec-fetch-site": "cross-site"}),
        flow_to("https://img.vendor.test/a.png", **{"sec-fetch-dest": "image", "sec-fetch-site": "same-site"}),
        flow_to("https://tracker.test/p.gif", **{"sec-fetch-dest": "image", "sec-fetch-site": "cross-site"}),
        flow_to("https://tracker.test/e", "POST", origin="null"),
    )
    assert (by_origin.page_site, by_origin.type, by_origin.third_party) == (
        "vendor.test", "xmlhttprequest", True)
    assert (same_site.page_site, same_site.third_party) == ("vendor.test", False)
    assert (unknown.page_site, unknown.source, unknown.third_party) == (None, None, True)
    assert (null_origin.page_site, null_origin.third_party) == (None, None)


def test_a_paused_page_site_pauses_every_request_its_pages_make():
    with open_ledger() as ledger:
        store = SiteSettingsStore(ledger)
        store.set_paused("vendor.test", True)
        page, tracker, elsewhere = contexts(
            flow_to("https://vendor.test/", **NAVIGATION),
            flow_to("https://tracker.test/t.js", referer="https://vendor.test/", **SCRIPT),
            flow_to("https://tracker.test/t.js", referer="https://other.test/", **SCRIPT),
            store=store)
    assert page.paused and tracker.paused and not elsewhere.paused
    assert tracker.settings.paused and tracker.page_site == "vendor.test"


def test_settings_allowed_third_parties_and_the_cookie_policy_come_along():
    with open_ledger() as ledger:
        store = SiteSettingsStore(ledger)
        store.set_cookie_mode("vendor.test", "cap:3")
        store.allow_third_party("vendor.test", "paypal.com")
        paypal, tracker, paypal_elsewhere = contexts(
            flow_to("https://www.paypal.com/sdk.js", referer="https://vendor.test/", **SCRIPT),
            flow_to("https://tracker.test/t.js", referer="https://vendor.test/", **SCRIPT),
            flow_to("https://www.paypal.com/sdk.js", referer="https://other.test/", **SCRIPT),
            store=store)
    assert paypal.allowed_third_party and not tracker.allowed_third_party
    assert not paypal_elsewhere.allowed_third_party
    assert paypal.settings.cookie_mode == CookieMode("cap", 3)
    assert paypal.cookie_policy is tracker.cookie_policy is store.cookie_policy()
    assert paypal.cookie_policy.for_response("vendor.test", "vendor.test", False) == CookieMode("cap", 3)


def test_the_addon_opens_the_ledger_itself_and_sees_a_pause_made_later_elsewhere():
    addon = Context()
    with taddons.context(addon):
        addon.running()
        before = flow_to("https://tracker.test/t.js", referer="https://vendor.test/", **SCRIPT)
        addon.requestheaders(before)
        with open_ledger() as cli_ledger:  # the CLI, on its own connection
            SiteSettingsStore(cli_ledger).set_paused("vendor.test", True)
        time.sleep(REFRESH_SECONDS + 0.1)
        after = flow_to("https://tracker.test/t.js", referer="https://vendor.test/", **SCRIPT)
        addon.requestheaders(after)
        addon.done()
    assert not context_of(before).paused and context_of(after).paused
    assert is_paused(after) and not is_paused(before)


def test_flows_the_proxy_answered_itself_get_no_context():
    flow = flow_to("http://whoknows.proxy/proxy.pac")
    flow.response = http.Response.make(200, b"pac")
    assert contexts(flow) == [None]
    assert not is_paused(flow)


def test_without_the_addon_later_addons_still_get_a_context_with_default_settings():
    flow = flow_to("https://tracker.test/t.js", referer="https://vendor.test/", **SCRIPT)
    context = ensure_context(flow)
    assert flow.metadata[CONTEXT_KEY] is context and ensure_context(flow) is context
    assert (context.page_site, context.paused, context.settings) == ("vendor.test", False, DEFAULT)


def test_a_request_to_an_ip_address_has_no_site():
    [context] = contexts(flow_to("http://10.0.0.1/", **NAVIGATION))
    assert (context.request_site, context.page_site, context.paused) == (None, None, False)
