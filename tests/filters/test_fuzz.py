"""Whatever a list or a request holds, the engine parses or skips it and decides: it never raises."""

import string

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from whoknows.filters import FilterEngine
from whoknows.filters.parser import parse_line

FILTER_ALPHABET = string.ascii_letters + string.digits + "|^*$@#!~/.,=:-_?&%[]()\\+{} \t"
OPTION_WORDS = st.sampled_from(
    [
        "third-party", "~third-party", "3p", "1p", "script", "~image", "xhr", "doc", "popup", "all",
        "important", "match-case", "badfilter", "domain=a.example|~b.a.example", "from=google.*",
        "redirect=noop.js", "redirect-rule=1x1.gif:5", "removeparam", "removeparam=utm_source",
        "removeparam=/^utm_/", "removeparam=~q", "to=x.example", "denyallow=y.example", "empty",
        "csp=default-src", "strict3p", "domain=", "redirect=", "removeparam=/[/", "~important",
    ]
)

# a filter-like line: optional @@, a pattern from filter characters, optional options
filter_lines = st.builds(
    lambda exception, pattern, options: ("@@" if exception else "")
    + pattern
    + ("$" + ",".join(options) if options else ""),
    st.booleans(),
    st.text(alphabet=FILTER_ALPHABET, max_size=40),
    st.lists(OPTION_WORDS, max_size=4),
)

urls = st.one_of(
    st.text(max_size=80),
    st.builds(
        lambda scheme, host, path: f"{scheme}://{host}/{path}",
        st.sampled_from(["http", "https", "ws", "HTTPS", "ftp", ""]),
        st.text(alphabet=string.ascii_lowercase + string.digits + ".-_[]:@", max_size=30),
        st.text(max_size=40),
    ),
)

FIXED = """\
||ads.example^
/banner/*/ad.$image,domain=news.example|~sport.news.example
/\\/track[0-9]+\\.gif/$image
@@||ads.example/consent.js
||must.example^$important
||lib.example/x.js$script,redirect=noop.js:5
$removeparam=utm_source
@@||keep.example^$removeparam
/promo.$from=google.*
*$third-party,to=cdn.example
||a*b^c|
"""


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.one_of(st.text(max_size=60), filter_lines))
def test_any_line_is_parsed_or_skipped(line):
    reason, records = parse_line(line)
    assert (reason is None) != (records == [])
    engine = FilterEngine()
    stats = engine.add_list(line, "fuzz")
    assert stats.filters_used + sum(stats.skipped.values()) <= max(stats.lines, 1)
    assert engine.match("https://ads.example/banner/1/ad.gif?utm_source=x", "image", "https://news.example/").action in (
        "block", "allow", "exception", "redirect"
    )


@settings(max_examples=200, deadline=None)
@given(st.lists(filter_lines, max_size=8), urls, st.sampled_from(["script", "image", "document", "xhr", "nonsense"]))
def test_any_list_decides_any_url(lines, url, type):
    engine = FilterEngine()
    engine.add_list("\n".join(lines), "fuzz")
    decision = engine.match(url, type, url)
    assert decision.action in ("block", "allow", "exception", "redirect")


_engine = FilterEngine()
_engine.add_list(FIXED, "fixed")


@settings(max_examples=500, deadline=None)
@given(urls, st.one_of(st.none(), urls), st.sampled_from(["script", "image", "document", "other", ""]),
       st.sampled_from([None, True, False]))
def test_any_url_and_source_is_decided(url, source, type, third_party):
    decision = _engine.match(url, type, source, third_party)
    assert decision.action in ("block", "allow", "exception", "redirect")
    if decision.clean_url is not None:
        assert decision.removed_params
