"""The whole per-request decision (whoknows.decision): each part, and the reason it gives."""

from typing import NamedTuple

import pytest

from whoknows.cookies import CookiePolicy
from whoknows.decision import Protection
from whoknows.decision import decide
from whoknows.decision import describe
from whoknows.decision import describe_typed
from whoknows.filters import FilterEngine
from whoknows.identifiers import SharedIdentifiers
from whoknows.site_settings import SiteSettings

PAGE = "https://shop.test/cart"


class Found(NamedTuple):  # what the leak scanner reports (whoknows.leakscan.Match's fields)
    kind: str
    value_id: object
    encoding: str
    where: str
    form: str = "typed"


EMAIL_IN_URL = Found("email", 1, "sha256", "url")


def engine(text: str = "||tracker.test^\n@@||tracker.test/consent.js\n") -> FilterEngine:
    made = FilterEngine()
    made.add_list(text, "mine")
    return made


def protection(settings=None, **given) -> Protection:
    settings = settings or {}
    return Protection(settings_of=lambda site: settings.get(site, SiteSettings()), engine=given.pop("engine", engine()),
                      **given)


def parts(verdict) -> dict[str, tuple[str, str]]:
    return {name: (action, reason) for name, action, reason in verdict.parts()}


def script(url: str, page: str = PAGE):
    return describe(url, url.split("/")[2], {"referer": page, "sec-fetch-dest": "script",
                                             "sec-fetch-site": "cross-site"})


def test_describe_reads_the_page_type_and_party_from_the_headers():
    request = script("https://tracker.test/t.js")
    assert (request.type, request.page_site, request.request_site, request.third_party) == (
        "script", "shop.test", "tracker.test", True)
    page = describe("https://shop.test/", "shop.test", {"sec-fetch-dest": "document"})
    assert (page.navigation, page.page_site, page.third_party) == (True, "shop.test", False)


def test_a_listed_tracker_is_blocked_with_its_filter_and_its_referer_dropped():
    verdict = decide(script("https://tracker.test/t.js"), protection())
    assert verdict.action == "block"
    assert parts(verdict)["filter"] == ("block", "blocked by ||tracker.test^ from mine")
    assert parts(verdict)["referer"][0] == "drop"
    assert parts(verdict)["cookies"] == ("block", "third party on shop.test: no cookies either way")


def test_a_paused_site_passes_everything_and_says_so():
    verdict = decide(script(f"https://tracker.test/t.js?utm_source=x"),
                     protection({"shop.test": SiteSettings(paused=True)}), [EMAIL_IN_URL])
    assert verdict.action == "pass"
    assert parts(verdict)["site"][0] == "paused" and "paused on shop.test" in parts(verdict)["site"][1]
    assert [parts(verdict)[p][0] for p in ("filter", "params", "cookies", "leaks")] == [
        "skip", "keep", "allow", "none"]


def test_an_allowed_third_party_is_not_blocked_keeps_cookies_and_is_never_leak_stopped():
    settings = {"shop.test": SiteSettings(allowed_third_parties=frozenset({"tracker.test"}))}
    policy = CookiePolicy(allowed_third_parties=[("shop.test", "tracker.test")])
    verdict = decide(script("https://tracker.test/t.js"), protection(settings, cookie_policy=policy), [EMAIL_IN_URL])
    assert verdict.action == "pass"
    assert parts(verdict)["site"][0] == "allowed-3p"
    assert parts(verdict)["cookies"][0] == "allow"
    assert parts(verdict)["leaks"][0] == "report" and "allow-3p" in parts(verdict)["leaks"][1]


def test_an_exception_lets_it_through_but_it_stays_a_tracker():
    verdict = decide(script("https://tracker.test/consent.js"), protection())
    assert parts(verdict)["filter"][0] == "exception" and verdict.action == "pass"
    assert verdict.filter.tracker and parts(verdict)["referer"][0] == "drop"


def test_tracking_parameters_are_the_params_part():
    verdict = decide(describe_typed("https://shop.test/p?id=1&gclid=x", "document"), protection())
    assert (verdict.action, verdict.params.clean_url) == ("rewrite", "https://shop.test/p?id=1")
    assert parts(verdict)["params"] == ("strip", "built-in tracking parameters")


@pytest.mark.parametrize("site_mode, default, action", [
    (None, "block", "block"), ("scrub", "block", "scrub"), (None, "report", "report"), ("block", "report", "block"),
])
def test_leak_mode_comes_from_the_site_else_the_default(site_mode, default, action):
    settings = {"shop.test": SiteSettings(leak_mode=site_mode)}
    verdict = decide(script("https://px.unlisted.test/c"), protection(settings, default_leak_mode=default),
                     [EMAIL_IN_URL])
    leak_action, reason = parts(verdict)["leaks"]
    assert leak_action == action
    assert ("this site's leak mode" if site_mode else "the default leak mode") in reason
    assert verdict.action == {"block": "block", "scrub": "rewrite", "report": "pass"}[action]


def test_values_sent_to_the_page_s_own_site_are_a_disclosure_never_stopped():
    own = describe("https://api.shop.test/account", "api.shop.test",
                   {"referer": PAGE, "sec-fetch-dest": "empty", "sec-fetch-site": "same-site"})
    verdict = decide(own, protection(), [EMAIL_IN_URL])
    assert parts(verdict)["leaks"][0] == "disclosure" and verdict.action == "pass"


def test_a_filter_block_leaves_nothing_for_leak_prevention_to_do():
    verdict = decide(script("https://tracker.test/p"), protection(), [EMAIL_IN_URL])
    assert parts(verdict)["leaks"] == ("none", "the request is blocked: nothing leaves")


def test_a_shared_identifier_is_stripped_and_its_recipient_becomes_a_tracker_on_that_site_only():
    shared = SharedIdentifiers()
    first = decide(script("https://a.analytics.test/hit"), protection(knowledge=(shared,)),
                   shared_identifiers=["_vid"])
    assert parts(first)["identifiers"][0] == "strip" and "_vid" in parts(first)["identifiers"][1]
    shared.add("shop.test", "analytics.test", "_vid")

    later = decide(script("https://a.analytics.test/hit"), protection(knowledge=(shared,)))
    elsewhere = decide(script("https://a.analytics.test/hit", page="https://news.test/"),
                       protection(knowledge=(shared,)))
    assert later.action == "block" and "identifier cookie _vid" in parts(later)["filter"][1]
    assert elsewhere.action == "pass"
    unremovable = decide(script("https://b.analytics.test/h"), protection(), shared_identifiers=["_vid"],
                         identifiers_scrubbable=False)
    assert unremovable.action == "block"


def test_cookie_part_names_the_default_mode_and_the_site_mode():
    from whoknows.cookies import CookieMode

    policy = CookiePolicy({"bank.test": "allow"}, default_mode="cap:30")
    shop = decide(describe_typed("https://shop.test/", "document"), protection(cookie_policy=policy))
    bank = decide(describe_typed("https://bank.test/", "document"), protection(cookie_policy=policy))
    assert (shop.cookies.mode, parts(shop)["cookies"][1]) == (
        CookieMode("cap", 30), "the default cookie mode ('whoknows site cookies --default')")
    assert parts(bank)["cookies"] == ("allow", "bank.test's own cookie mode")


def test_canonical_names_are_judged_too():
    cloaked = describe("https://metrics.shop.test/c.js", "metrics.shop.test",
                       {"referer": PAGE, "sec-fetch-dest": "script", "sec-fetch-site": "same-site"},
                       canonical_names=("shop.tracker.test",))
    verdict = decide(cloaked, protection())
    assert verdict.action == "block" and "||tracker.test^" in parts(verdict)["filter"][1]


def test_top_site_decides_whose_settings_apply():
    framed = describe("https://tracker.test/x.js", "tracker.test",
                      {"referer": "https://widget.test/frame", "sec-fetch-dest": "script"}, top_site="shop.test")
    verdict = decide(framed, protection({"shop.test": SiteSettings(paused=True)}))
    assert verdict.site.paused and verdict.action == "pass"
