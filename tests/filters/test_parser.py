"""How list lines are read: what becomes a filter, what is skipped and why (ListStats)."""

import pytest

from whoknows.filters import FilterEngine, ListStats


def stats_of(text: str) -> ListStats:
    return FilterEngine().add_list(text, "test")


@pytest.mark.parametrize(
    "line, reason",
    [
        ("! Title: EasyList", "comment"),
        ("[Adblock Plus 2.0]", "comment"),
        ("# a hosts-file comment", "comment"),
        ("!#if env_firefox", "comment"),
        ("example.com##.ad-banner", "cosmetic"),
        ("##.ad-banner", "cosmetic"),
        ("example.com#@#.ad-banner", "cosmetic"),
        ("example.com#?#div:has(> .ad)", "cosmetic"),
        ("example.com##+js(set-constant, ads, false)", "scriptlet"),
        ("example.com#$#abort-on-property-read ads", "scriptlet"),
        ("example.com#%#//scriptlet('abort')", "scriptlet"),
        ("example.com##^script:has-text(ads)", "html-filter"),
        ("example.com$$script[tag-content=\"ads\"]", "html-filter"),
        ("||example.com^$csp=script-src 'none'", "unsupported-option:csp"),
        ("||example.com^$generichide", "unsupported-option:generichide"),
        ("||example.com^$method=post", "unsupported-option:method"),
        ("||example.com^$rewrite=abp-resource:blank-js", "unsupported-option:rewrite"),
        ("||example.com^$frobnicate", "unsupported-option:frobnicate"),
        ("@@||example.com^$important", "unsupported-option:important"),
        ("||example.com/x.js$redirect=google-ima.js", "unsupported-redirect:google-ima.js"),
        ("/ads[/", "malformed"),
        ("/(?<=a+)b/", "malformed"),
        ("||example.com^$domain=", "malformed"),
        ("||example.com^$domain=a.com||b.com", "malformed"),
        ("||example.com^$script=1", "malformed"),
        ("*", "malformed"),
        ("||", "malformed"),
        ("ads banner", "malformed"),
        ("||example.com^$~script,~image,~stylesheet,~object,~xhr,~frame,~ping,~media,~font,~websocket,~other", "malformed"),
        ("127.0.0.1 localhost", "hosts-local"),
        ("0.0.0.0 bad_host!", "malformed"),
    ],
)
def test_skipped_lines_are_counted_by_reason(line, reason):
    stats = stats_of(line)
    assert stats.filters_used == 0
    assert stats.skipped == {reason: 1}


@pytest.mark.parametrize(
    "line",
    [
        "||example.com^",
        "||example.com^$third-party",
        "||example.com^$3p,script",
        "/banner/*/ad.",
        "|https://ads.",
        "ads.js|",
        "@@||example.com^$image",
        "/^https?:\\/\\/ads\\./$script",
        "||example.com^$domain=a.com|~b.a.com|google.*",
        "||example.com^$removeparam=utm_source",
        "$removeparam=/^utm_/",
        "||example.com^$redirect=noop.js:10",
        "||example.com^$redirect-rule=1x1.gif,image",
        "||example.com^$important,badfilter",
        "*$image,domain=example.com",
        "0.0.0.0 tracker.example",
        "tracker.example",
        "/addyn|*|adtech;",  # `|` inside a pattern is a literal character
        "||example.com^$reason=tracking,_____",
    ],
)
def test_network_filters_are_used(line):
    stats = stats_of(line)
    assert stats.skipped == {}
    assert stats.filters_used == 1


def test_stats_count_lines_and_skip_blank_ones():
    stats = stats_of("! comment\n\n||a.example^\n||b.example^\nexample.com##.ad\n")
    assert stats == ListStats("test", 5, 2, {"comment": 1, "cosmetic": 1})


def test_hosts_lines_with_several_names_block_each():
    engine = FilterEngine()
    stats = engine.add_list("0.0.0.0 one.example two.example # inline comment\n127.0.0.1 localhost\n", "hosts")
    assert stats.filters_used == 1 and stats.skipped == {"hosts-local": 1}
    assert engine.match("https://one.example/").action == "block"
    assert engine.match("https://sub.two.example/").action == "block"
    assert engine.match("https://three.example/").action == "allow"


def test_a_list_with_a_byte_order_mark_and_crlf_lines():
    engine = FilterEngine()
    stats = engine.add_list("\ufeff[Adblock Plus 2.0]\r\n||ads.example^\r\n", "bom")
    assert stats.filters_used == 1
    assert engine.match("https://ads.example/x").action == "block"


def test_a_list_given_as_bytes_with_bad_utf8():
    engine = FilterEngine()
    stats = engine.add_list(b"||ads.example^\n/caf\xe9-ads/\n", "bytes")
    assert stats.filters_used == 2
    assert engine.match("https://ads.example/x").action == "block"


def test_the_real_lists_parse_with_few_skips(shared_data):
    engine = FilterEngine()
    easylist = engine.add_list((shared_data / "filterlists/easylist.txt").read_text(), "easylist")
    assert easylist.filters_used > 50_000
    assert easylist.skipped["cosmetic"] > 20_000
    assert easylist.skipped.get("malformed", 0) == 0
    ubo = engine.add_list((shared_data / "filterlists/ubo-privacy.txt").read_text(), "ubo-privacy")
    assert ubo.filters_used > 700
    assert any(reason.startswith("unsupported-option:") for reason in ubo.skipped)
