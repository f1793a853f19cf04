"""What the engine decides for a request, one filter feature at a time (uBlock Origin semantics)."""

import pytest

from whoknows.filters import Decision, FilterEngine

PAGE = "https://news.example/article"  # a first-party page for third-party requests to trackers


def engine_with(*lines: str, name: str = "test") -> FilterEngine:
    engine = FilterEngine()
    engine.add_list("\n".join(lines), name)
    return engine


def action(engine: FilterEngine, url: str, type: str = "script", source: str | None = PAGE, **kw) -> str:
    return engine.match(url, type, source, **kw).action


# --- patterns --------------------------------------------------------------------------------------
def test_plain_substring_matches_anywhere_case_insensitively():
    engine = engine_with("/banner/ads.")
    assert action(engine, "https://cdn.example/img/banner/ads.png") == "block"
    assert action(engine, "https://CDN.example/IMG/BANNER/ADS.PNG") == "block"
    assert action(engine, "https://cdn.example/img/banner/ad.png") == "allow"


def test_match_case_makes_the_pattern_case_sensitive():
    engine = engine_with("/AdBanner.$match-case")
    assert action(engine, "https://x.example/AdBanner.js") == "block"
    assert action(engine, "https://x.example/adbanner.js") == "allow"


def test_wildcard_matches_any_run_of_characters():
    engine = engine_with("/ads/*/banner.")
    assert action(engine, "https://x.example/ads/2024/06/banner.gif") == "block"
    assert action(engine, "https://x.example/ads/banner.gif") == "allow"  # `/*/` needs two slashes


@pytest.mark.parametrize(
    "url, expected",
    [
        ("https://x.example/track/p", "block"),
        ("https://x.example/track?x=1", "block"),
        ("https://x.example/track:1", "block"),
        ("https://x.example/track", "block"),  # `^` also matches the end of the URL
        ("https://x.example/track.js", "allow"),  # `.`, `-`, `_`, `%` and alphanumerics are not separators
        ("https://x.example/track-p", "allow"),
        ("https://x.example/track_p", "allow"),
        ("https://x.example/track%20", "allow"),
        ("https://x.example/tracking", "allow"),
    ],
)
def test_separator_caret(url, expected):
    assert action(engine_with("/track^"), url) == expected


def test_start_and_end_anchors():
    engine = engine_with("|https://ads.", "swf|")
    assert action(engine, "https://ads.example/x") == "block"
    assert action(engine, "https://cdn.example/?r=https://ads.example/") == "allow"
    assert action(engine, "https://cdn.example/movie.swf") == "block"
    assert action(engine, "https://cdn.example/movie.swf?x") == "allow"
    exact = engine_with("|https://x.example/a.js|")
    assert action(exact, "https://x.example/a.js") == "block"
    assert action(exact, "https://x.example/a.js?v=2") == "allow"


@pytest.mark.parametrize(
    "url, expected",
    [
        ("https://tracker.example/p.gif", "block"),
        ("https://sub.tracker.example/p.gif", "block"),
        ("https://a.b.tracker.example:8443/p.gif", "block"),
        ("http://user:pw@tracker.example/", "block"),
        ("https://tracker.example.", "block"),
        ("https://nottracker.example/p.gif", "allow"),
        ("https://tracker.example.org/p.gif", "allow"),
        ("https://cdn.example/tracker.example/p.gif", "allow"),  # `||` anchors in the host only
        ("https://cdn.example/?u=https://tracker.example/", "allow"),
    ],
)
def test_host_anchor(url, expected):
    assert action(engine_with("||tracker.example^"), url) == expected


def test_host_anchor_with_a_path_and_partial_host():
    engine = engine_with("||cdn.example/ads/", "||adserver.")
    assert action(engine, "https://img.cdn.example/ads/1.png") == "block"
    assert action(engine, "https://cdn.example/content/ads/1.png") == "allow"
    assert action(engine, "https://cdn.example:8080/ads/1.png") == "allow"  # the `/` must follow the host
    assert action(engine, "https://adserver.example/x") == "block"
    assert action(engine, "https://eu.adserver.example/x") == "block"
    assert action(engine, "https://myadserver.example/x") == "allow"


def test_host_anchor_with_wildcards():
    engine = engine_with("||ads.*.example^*/pixel", "||metrics.example^*.gif|")
    assert action(engine, "https://ads.eu.example/v1/pixel?id=1") == "block"
    assert action(engine, "https://ads.eu.example/v1/image") == "allow"
    assert action(engine, "https://metrics.example/a/b.gif") == "block"
    assert action(engine, "https://metrics.example/a/b.gif?x") == "allow"


def test_host_tail_starting_with_a_separator_and_a_wildcard():
    engine = engine_with("@@||cdn.example^*.$script", "||cdn.example^")
    assert action(engine, "https://media.cdn.example/static/js/jquery-2.1.4", "script") == "exception"
    assert action(engine, "https://media.cdn.example/static/js/jquery", "script") == "block"
    assert action(engine, "https://media.cdn.example/static/js/jquery-2.1.4", "image") == "block"


def test_ipv6_hosts():
    engine = engine_with("||[2001:db8::1]^", "||[::1]/ads/")
    assert action(engine, "http://[2001:db8::1]:8080/x") == "block"
    assert action(engine, "http://[::1]/ads/x.js") == "block"
    assert action(engine, "http://[::1]/content/x.js") == "allow"


def test_many_filters_on_one_host_still_match_by_path():
    # more than a handful of `||host/path` filters on one host are indexed by a path token instead
    lines = [f"||cdn.example/widget{n}/" for n in range(20)] + ["||cdn.example/ads/pixel.gif"]
    engine = engine_with(*lines)
    assert action(engine, "https://eu.cdn.example/ads/pixel.gif") == "block"
    assert action(engine, "https://eu.cdn.example/widget7/x.js") == "block"
    assert action(engine, "https://cdn.other.example/ads/pixel.gif") == "allow"
    assert action(engine, "https://eu.cdn.example/content/ads/pixel.gif") == "allow"


def test_regex_filters():
    engine = engine_with(r"/\/ad[0-9]{2,}\.js/", r"/Track\.gif$/$match-case")
    assert action(engine, "https://x.example/AD123.js") == "block"  # regexes ignore case by default
    assert action(engine, "https://x.example/ad1.js") == "allow"
    assert action(engine, "https://x.example/Track.gif") == "block"
    assert action(engine, "https://x.example/track.gif") == "allow"


def test_exception_overrides_block():
    engine = engine_with("||ads.example^", "@@||ads.example/consent.js")
    assert engine.match("https://ads.example/consent.js", "script", PAGE) == Decision(
        "exception", "@@||ads.example/consent.js", "test"
    )
    assert action(engine, "https://ads.example/ad.js") == "block"


def test_bare_domains_are_host_filters():
    engine = engine_with("tracker.example", "Ads.Example.ORG")
    assert action(engine, "https://pixel.tracker.example/x") == "block"
    assert action(engine, "https://cdn.example/tracker.example") == "allow"
    assert action(engine, "https://ads.example.org/") == "block"
    assert engine.match("https://ads.example.org/").filter == "||ads.example.org^"
    assert action(engine_with("tracker.example", "||tracker.example^$badfilter"), "https://tracker.example/") == "allow"


def test_a_bare_file_name_is_not_a_domain():
    engine = engine_with("adframe.js")
    assert action(engine, "https://cdn.example/lib/adframe.js") == "block"


# --- party -----------------------------------------------------------------------------------------
def test_third_and_first_party_options():
    engine = engine_with("||widgets.example^$third-party", "/own-stats.$1p", "/beacon.$~third-party")
    assert action(engine, "https://widgets.example/w.js", source="https://news.example/") == "block"
    assert action(engine, "https://widgets.example/w.js", source="https://www.widgets.example/") == "allow"
    assert action(engine, "https://news.example/own-stats.js", source="https://www.news.example/") == "block"
    assert action(engine, "https://cdn.example/own-stats.js", source="https://news.example/") == "allow"
    assert action(engine, "https://m.news.example/beacon.gif", source="https://news.example/") == "block"


def test_party_uses_registrable_domains_from_the_public_suffix_list():
    engine = engine_with("||analytics.example^$3p", "/count.js$3p")
    assert action(engine, "https://a.github.io/count.js", source="https://b.github.io/") == "block"
    assert action(engine, "https://a.shop.co.uk/count.js", source="https://b.shop.co.uk/") == "allow"
    assert action(engine, "https://cdn.vendor.test/count.js", source="https://www.vendor.test/") == "allow"


def test_explicit_third_party_argument_wins():
    engine = engine_with("||widgets.example^$third-party")
    assert action(engine, "https://widgets.example/", source=PAGE, third_party=False) == "allow"
    assert action(engine, "https://widgets.example/", source=None, third_party=True) == "block"


def test_without_a_source_a_subresource_is_third_party_and_a_document_first_party():
    engine = engine_with("||widgets.example^$third-party", "||portal.example^$first-party")
    assert action(engine, "https://widgets.example/w.js", source=None) == "block"
    assert action(engine, "https://widgets.example/", "document", source=None) == "allow"
    assert action(engine, "https://portal.example/", "document", source=None) == "block"
    assert action(engine, "https://portal.example/p.js", source=None) == "allow"
    assert action(engine, "https://widgets.example/w.js", source="about:blank") == "block"


def test_strict_party():
    engine = engine_with("||cdn.news.example^$strict3p")
    assert action(engine, "https://cdn.news.example/x.js", source="https://www.news.example/") == "block"
    assert action(engine, "https://cdn.news.example/x.js", source="https://cdn.news.example/") == "allow"


# --- domain= ---------------------------------------------------------------------------------------
def test_domain_option_restricts_to_sites_and_their_subdomains():
    engine = engine_with("||cdn.example/ads.js$domain=news.example|~sport.news.example")
    assert action(engine, "https://cdn.example/ads.js", source="https://news.example/") == "block"
    assert action(engine, "https://cdn.example/ads.js", source="https://www.news.example/a") == "block"
    assert action(engine, "https://cdn.example/ads.js", source="https://sport.news.example/") == "allow"
    assert action(engine, "https://cdn.example/ads.js", source="https://other.example/") == "allow"
    assert action(engine, "https://cdn.example/ads.js", source="https://fakenews.example/") == "allow"


def test_negated_only_domain_option():
    engine = engine_with("/advert.$domain=~advert.example")
    assert action(engine, "https://cdn.example/advert.js", source="https://news.example/") == "block"
    assert action(engine, "https://advert.example/advert.js", source="https://advert.example/") == "allow"


def test_domain_filters_without_a_source():
    # uBO with no page hostname: `domain=a` cannot match, `domain=~a` can
    engine = engine_with("||cdn.example/a.js$domain=news.example", "||cdn.example/b.js$domain=~news.example")
    assert action(engine, "https://cdn.example/a.js", source=None) == "allow"
    assert action(engine, "https://cdn.example/b.js", source=None) == "block"


def test_entity_domains_and_from_alias():
    engine = engine_with("/promo.js$from=google.*")
    for page in ("https://www.google.com/", "https://google.co.uk/", "https://maps.google.de/"):
        assert action(engine, "https://cdn.example/promo.js", source=page) == "block", page
    assert action(engine, "https://cdn.example/promo.js", source="https://google.example.org/") == "allow"
    assert action(engine, "https://cdn.example/promo.js", source="https://notgoogle.com/") == "allow"


def test_empty_pattern_with_a_domain_applies_to_everything_on_that_site():
    engine = engine_with("*$image,third-party,domain=news.example")
    assert action(engine, "https://img.cdn.example/a.png", "image", source="https://news.example/") == "block"
    assert action(engine, "https://img.cdn.example/a.png", "script", source="https://news.example/") == "allow"
    assert action(engine, "https://img.cdn.example/a.png", "image", source="https://other.example/") == "allow"


def test_to_and_denyallow_restrict_the_request_host():
    engine = engine_with("*$script,3p,to=ads.example|~ok.ads.example", "*$3p,image,denyallow=cdn.example,domain=news.example")
    assert action(engine, "https://x.ads.example/a.js") == "block"
    assert action(engine, "https://ok.ads.example/a.js") == "allow"
    assert action(engine, "https://pics.example/a.png", "image", source="https://news.example/") == "block"
    assert action(engine, "https://img.cdn.example/a.png", "image", source="https://news.example/") == "allow"


# --- types -----------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "option, request_types",
    [
        ("script", ["script"]),
        ("image", ["image", "imageset"]),
        ("stylesheet", ["stylesheet"]),
        ("css", ["stylesheet"]),
        ("object", ["object", "object_subrequest"]),
        ("xmlhttprequest", ["xmlhttprequest", "xhr", "fetch"]),
        ("xhr", ["xmlhttprequest"]),
        ("subdocument", ["subdocument", "sub_frame"]),
        ("frame", ["sub_frame"]),
        ("ping", ["ping", "beacon"]),
        ("beacon", ["ping"]),
        ("media", ["media"]),
        ("font", ["font"]),
        ("websocket", ["websocket"]),
        ("other", ["other", "csp_report", "no-such-type"]),
        ("document", ["document", "main_frame"]),
        ("doc", ["document"]),
        ("popup", ["popup"]),
    ],
)
def test_type_options(option, request_types):
    engine = engine_with(f"/thing.${option}")
    all_types = [
        "script", "image", "stylesheet", "object", "xmlhttprequest", "subdocument", "ping", "media",
        "font", "websocket", "other", "document", "popup",
    ]
    for type in request_types:
        assert action(engine, "https://x.example/thing.js", type) == "block", type
    others = [t for t in all_types if engine.match("https://x.example/thing.js", t, PAGE).action == "block"]
    assert len(others) == 1, others


def test_negated_types_and_combinations():
    engine = engine_with("/a.$~image", "/b.$script,~image", "/c.$image,script")
    assert action(engine, "https://x.example/a.js", "script") == "block"
    assert action(engine, "https://x.example/a.js", "image") == "allow"
    assert action(engine, "https://x.example/a.js", "document") == "allow"  # `~image` covers subresources
    assert action(engine, "https://x.example/b.js", "script") == "block"
    assert action(engine, "https://x.example/c.js", "image") == "block"
    assert action(engine, "https://x.example/c.js", "font") == "allow"


def test_documents_are_blocked_by_domain_only_filters_or_explicit_document():
    # uBO's strict blocking: pages themselves are filtered by `||host^` filters, not by path patterns
    engine = engine_with("||malware.example^", "/ads/landing.", "||promo.example/page$document")
    assert action(engine, "https://malware.example/", "document", None) == "block"
    assert action(engine, "https://news.example/ads/landing.html", "document", None) == "allow"
    assert action(engine, "https://news.example/ads/landing.html", "subdocument") == "block"
    assert action(engine, "https://promo.example/page", "document", None) == "block"
    assert action(engine, "https://promo.example/page", "script") == "allow"


def test_a_document_is_judged_from_itself():
    # uBO: a page load is first party, and `domain=` names the page's own site, whatever linked to it
    engine = engine_with(
        "||tracker.example^$third-party", "||shop.example^$removeparam=ref,domain=shop.example", "||shop.example^$1p"
    )
    assert action(engine, "https://tracker.example/", "document", source="https://news.example/") == "allow"
    assert action(engine, "https://tracker.example/t.js", "script", source="https://news.example/") == "block"
    decision = engine.match("https://shop.example/?ref=news&id=1", "document", "https://news.example/")
    assert (decision.action, decision.clean_url) == ("block", None)
    clean = engine_with("||shop.example^$removeparam=ref,domain=shop.example")
    decision = clean.match("https://shop.example/?ref=news&id=1", "document", "https://news.example/")
    assert decision.clean_url == "https://shop.example/?id=1"


def test_popup_filters_only_apply_to_popups():
    engine = engine_with("||popunder.example^$popup")
    assert action(engine, "https://popunder.example/", "popup") == "block"
    assert action(engine, "https://popunder.example/", "script") == "allow"


def test_all_option_covers_every_type():
    engine = engine_with("||bad.example^$all")
    for type in ("script", "image", "document", "popup", "websocket"):
        assert action(engine, "https://bad.example/", type) == "block", type


# --- precedence ------------------------------------------------------------------------------------
def test_important_block_beats_exception_beats_block():
    engine = engine_with("||ads.example^", "@@||ads.example^$script", "||ads.example/must-block.js$important")
    assert action(engine, "https://ads.example/x.gif", "image") == "block"
    assert action(engine, "https://ads.example/x.js", "script") == "exception"
    decision = engine.match("https://ads.example/must-block.js", "script", PAGE)
    assert (decision.action, decision.important) == ("block", True)
    assert decision.filter == "||ads.example/must-block.js$important"


def test_precedence_holds_across_lists():
    engine = FilterEngine()
    engine.add_list("||ads.example^", "blocklist")
    engine.add_list("@@||ads.example/ok.js", "allowlist")
    assert engine.match("https://ads.example/ok.js", "script", PAGE) == Decision(
        "exception", "@@||ads.example/ok.js", "allowlist"
    )
    assert engine.match("https://ads.example/x.js", "script", PAGE).list == "blocklist"


def test_a_host_on_two_lists_is_blocked_by_the_first_until_it_goes():
    engine = FilterEngine()
    engine.add_list("||ads.example^\n||only-a.example^", "a")
    engine.add_list("||ads.example^\n0.0.0.0 only-b.example", "b")  # a hosts-file line means `||host^`
    assert engine.match("https://x.ads.example/p.gif", "image", PAGE) == Decision("block", "||ads.example^", "a")
    assert engine.match("https://only-b.example/", "script", PAGE) == Decision("block", "||only-b.example^", "b")
    assert engine.remove_list("a")
    assert engine.match("https://x.ads.example/p.gif", "image", PAGE) == Decision("block", "||ads.example^", "b")
    assert action(engine, "https://only-a.example/") == "allow"


def test_a_plain_host_filter_and_the_host_s_other_filters_all_apply():
    engine = engine_with("||ads.example^$popup", "||ads.example^", "||ads.example/x.js$important", "||ADS.example^")
    assert engine.match("https://ads.example/a.js", "script", PAGE) == Decision("block", "||ads.example^", "test")
    assert engine.match("https://ads.example/", "popup", PAGE) == Decision("block", "||ads.example^$popup", "test")
    assert engine.match("https://ads.example/x.js", "script", PAGE).important
    assert action(engine_with("||ads.example^"), "https://ads.example/", "popup") == "allow"
    assert [text for _, text, _ in engine.explain("https://ads.example/a.js", "script", PAGE)] == [
        "||ads.example^", "||ADS.example^",  # as written: the second is not the plain form
    ]


def test_plain_allow_has_no_filter():
    assert engine_with("||ads.example^").match("https://ok.example/", "script", PAGE) == Decision("allow")


# --- badfilter -------------------------------------------------------------------------------------
def test_badfilter_cancels_its_exact_twin_only():
    engine = engine_with(
        "||ads.example^$third-party,script", "||ads.example^$script,3p,badfilter", "||ads.example^$image"
    )
    assert action(engine, "https://ads.example/x.js", "script") == "allow"
    assert action(engine, "https://ads.example/x.png", "image") == "block"


def test_badfilter_works_across_lists_and_goes_with_its_list():
    engine = FilterEngine()
    engine.add_list("||ads.example^\n||track.example^", "main")
    engine.add_list("||ads.example^$badfilter", "fixes")
    assert action(engine, "https://ads.example/") == "allow"
    assert action(engine, "https://track.example/") == "block"
    assert engine.remove_list("fixes")
    assert action(engine, "https://ads.example/") == "block"


def test_badfilter_cancels_exceptions_too():
    engine = engine_with("||ads.example^", "@@||ads.example/ok.js", "@@||ads.example/ok.js$badfilter")
    assert action(engine, "https://ads.example/ok.js") == "block"


# --- removeparam -----------------------------------------------------------------------------------
def test_removeparam_by_name():
    engine = engine_with("$removeparam=utm_source")
    decision = engine.match("https://shop.example/p?id=7&utm_source=mail&x=1#top", "document", None)
    assert decision.action == "allow"
    assert decision.clean_url == "https://shop.example/p?id=7&x=1#top"
    assert decision.removed_params == ("utm_source",)
    assert decision.filter == "$removeparam=utm_source"


def test_removeparam_regex_negation_and_all():
    regex = engine_with("$removeparam=/^utm_/")
    assert regex.match("https://s.example/?utm_a=1&utm_b=2&q=x", "document").clean_url == "https://s.example/?q=x"
    keep_one = engine_with("||s.example^$removeparam=~q")
    assert keep_one.match("https://s.example/?a=1&q=x&b=2", "xhr").clean_url == "https://s.example/?q=x"
    remove_all = engine_with("||s.example/track$removeparam")
    decision = remove_all.match("https://s.example/track?a=1&b=2", "image")
    assert (decision.clean_url, decision.removed_params) == ("https://s.example/track", ("a", "b"))


def test_removeparam_leaves_unchanged_urls_alone():
    engine = engine_with("$removeparam=fbclid")
    assert engine.match("https://s.example/?q=1", "document") == Decision("allow")
    assert engine.match("https://s.example/fbclid", "document") == Decision("allow")


def test_removeparam_exceptions():
    engine = engine_with(
        "$removeparam=gclid", "$removeparam=fbclid", "@@||keep.example^$removeparam=gclid", "@@||all.example^$removeparam"
    )
    url = "https://{}/?gclid=1&fbclid=2"
    assert engine.match(url.format("keep.example"), "document").clean_url == "https://keep.example/?gclid=1"
    assert engine.match(url.format("all.example"), "document").clean_url is None
    assert engine.match(url.format("other.example"), "document").clean_url == "https://other.example/"


def test_removeparam_does_not_apply_to_blocked_requests():
    engine = engine_with("||ads.example^", "$removeparam=utm_source")
    decision = engine.match("https://ads.example/?utm_source=x", "script", PAGE)
    assert (decision.action, decision.clean_url) == ("block", None)


# --- redirect --------------------------------------------------------------------------------------
def test_redirect_blocks_with_a_neutral_resource():
    engine = engine_with("||ads.example/lib.js$script,redirect=noopjs")
    decision = engine.match("https://ads.example/lib.js", "script", PAGE)
    assert (decision.action, decision.redirect) == ("redirect", "noop.js")
    assert action(engine, "https://ads.example/lib.js", "image") == "allow"


def test_redirect_rule_only_redirects_what_something_else_blocks():
    engine = engine_with("||pixel.example^$image,redirect-rule=1x1.gif", "||pixel.example/blocked/")
    assert action(engine, "https://pixel.example/free/p.gif", "image") == "allow"
    decision = engine.match("https://pixel.example/blocked/p.gif", "image", PAGE)
    assert (decision.action, decision.redirect) == ("redirect", "1x1.gif")


def test_redirect_priority_and_exceptions():
    engine = engine_with(
        "||ads.example^$script,redirect=noop.txt", "||ads.example/x.js$script,redirect=noop.js:10"
    )
    assert engine.match("https://ads.example/x.js", "script", PAGE).redirect == "noop.js"
    excepted = engine_with("||ads.example^$script,redirect=noop.js", "@@||ads.example^$redirect=noop.js")
    assert excepted.match("https://ads.example/x.js", "script", PAGE).action == "block"
    all_excepted = engine_with("||ads.example^$script,redirect=noop.js", "@@||ads.example^$redirect-rule")
    assert all_excepted.match("https://ads.example/x.js", "script", PAGE).action == "block"


def test_an_exception_beats_a_redirect():
    engine = engine_with("||ads.example^$script,redirect=noop.js", "@@||ads.example/ok.js")
    assert action(engine, "https://ads.example/ok.js") == "exception"


def test_important_redirect():
    engine = engine_with("||ads.example/a.js$important,script,redirect=noop.js", "@@||ads.example^")
    decision = engine.match("https://ads.example/a.js", "script", PAGE)
    assert (decision.action, decision.redirect, decision.important) == ("redirect", "noop.js", True)


def test_empty_option_redirects_to_empty():
    engine = engine_with("||ads.example/vast$xhr,empty")
    assert engine.match("https://ads.example/vast", "xhr", PAGE).redirect == "empty"


# --- lists, explain, garbage -----------------------------------------------------------------------
def test_adding_a_list_again_replaces_it():
    engine = FilterEngine()
    engine.add_list("||old.example^", "mine")
    engine.add_list("||new.example^", "mine")
    assert action(engine, "https://old.example/") == "allow"
    assert action(engine, "https://new.example/") == "block"
    assert list(engine.lists) == ["mine"]


def test_explain_lists_every_matching_filter_by_role():
    engine = engine_with("||ads.example^", "/ads.js", "@@||ads.example/ads.js", "$removeparam=x")
    assert engine.explain("https://ads.example/ads.js?x=1", "script", PAGE) == [
        ("block", "||ads.example^", "test"),
        ("block", "/ads.js", "test"),
        ("exception", "@@||ads.example/ads.js", "test"),
        ("removeparam", "$removeparam=x", "test"),
    ]


@pytest.mark.parametrize(
    "url",
    ["", "not a url", "https://", "://", "http://[::1", "https://ex ample.com/", "data:text/html,<b>",
     "https://\u00e9xample.com/\u0130/ads", "\ud800", "https://a..b/", "https://x.example:99999999/"],
)
def test_garbage_urls_are_decided(url):
    engine = engine_with("/ads", "||ads.example^$domain=news.example", "$removeparam=x")
    assert engine.match(url, "script", url).action in ("allow", "block")
