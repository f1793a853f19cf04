"""Set-Cookie parsing and rewriting, judged by what a browser ends up storing.

The conformance table is written in the style of the http-state / WPT cookie suites: each line, what
a browser following RFC 6265bis stores from it (name, value, session or expiry, or nothing), and the
exact line each policy mode sends on. `browser_stores` is the tiny browser: the module's parser plus
the storage rules (malformed lines are ignored, lifetime <= 0 deletes, 400-day ceiling).
"""

from __future__ import annotations

import re
from datetime import datetime, timedelta, timezone

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from whoknows.cookies import (
    ALLOW,
    BLOCK,
    SESSION,
    TRACKER_DEFAULT,
    CookieMode,
    CookiePolicy,
    cookie_names,
    decide_request_cookies,
    filter_cookie_header,
    parse_cookie_date,
    parse_cookie_mode,
    parse_set_cookie,
    rewrite_set_cookie,
)
from whoknows.errors import InputError

UTC = timezone.utc
NOW = datetime(2025, 6, 1, 12, 0, 0, tzinfo=UTC)
DAY = 86400
WEEK = 7 * DAY
CAP7 = parse_cookie_mode("cap:7")
MODES = {"allow": ALLOW, "session": SESSION, "cap:7": CAP7, "block": BLOCK}

DELETED = "deleted"  # the browser removes any cookie of that name
IGNORED = None  # the browser stores nothing from the line
SAME = object()  # the mode sends the line on unchanged (the very same string)


def at(*parts: int) -> datetime:
    return datetime(*parts, tzinfo=UTC)


def after(seconds: int) -> datetime:
    return NOW + timedelta(seconds=seconds)


KEEP_LIMIT = after(400 * DAY)  # browsers keep no cookie longer (RFC 6265bis, Chromium)


def browser_stores(line: str, now: datetime = NOW):
    """(name, value, expiry) a browser stores from `line`: expiry None = session cookie, DELETED,
    or a datetime; IGNORED (None) when it stores nothing."""
    cookie = parse_set_cookie(line)
    if cookie.problem is not None:
        return IGNORED
    lifetime = cookie.lifetime(now)
    if lifetime is None:
        expiry = None
    elif lifetime <= 0:
        expiry = DELETED
    else:
        expiry = now + timedelta(seconds=min(lifetime, 400 * DAY))
    return (cookie.name, cookie.value, expiry)


def expected_under(mode: str, stored):
    """What the policy promises, from what the browser stores with no policy at all."""
    if mode == "block" or stored is IGNORED:
        return IGNORED
    name, value, expiry = stored
    if mode == "session" and isinstance(expiry, datetime):
        return (name, value, None)
    if mode == "cap:7" and isinstance(expiry, datetime):
        return (name, value, min(expiry, after(WEEK)))
    return stored


BIG_OK = "x" * 4093  # "big" + value = 4096 octets: the largest a browser accepts
BIG_TOO_LONG = "x" * 4094
LONG_DATE = "Fri, 01 Jan 2100 00:00:00 GMT " + "z" * 1000  # over 1024 octets: ignored
SURROGATE = b"n=\xe2\x82\xac\xff; Max-Age=31536000".decode("utf-8", "surrogateescape")

# (id, line, stored with no policy, line sent on under session, line sent on under cap:7)
CASES = [
    ("plain", "SID=31d4d96e407aad42; Path=/; Domain=example.com",
     ("SID", "31d4d96e407aad42", None), SAME, SAME),
    ("expires", "id=a3fWa; Expires=Tue, 21 Oct 2025 07:28:00 GMT; Secure; HttpOnly",
     ("id", "a3fWa", at(2025, 10, 21, 7, 28)), "id=a3fWa; Secure; HttpOnly",
     "id=a3fWa; Max-Age=604800; Secure; HttpOnly"),
    ("comma-in-value", "lang=en,fr,de; Max-Age=3600",
     ("lang", "en,fr,de", after(3600)), "lang=en,fr,de", SAME),
    ("commas-and-expires", "ids=1,2,3; Path=/; expires=Sat, 01 Jan 2028 00:00:00 GMT",
     ("ids", "1,2,3", KEEP_LIMIT), "ids=1,2,3; Path=/", "ids=1,2,3; Max-Age=604800; Path=/"),
    ("max-age-beats-later-expires", "mx=1; Expires=Wed, 01 Jan 2031 00:00:00 GMT; Max-Age=60",
     ("mx", "1", after(60)), "mx=1", SAME),
    ("max-age-beats-earlier-expires", "mx=2; Max-Age=60; Expires=Wed, 01 Jan 2031 00:00:00 GMT; Path=/",
     ("mx", "2", after(60)), "mx=2; Path=/", SAME),
    ("duplicate-max-age-last-wins", "d=1; Max-Age=100; Max-Age=7200",
     ("d", "1", after(7200)), "d=1", SAME),
    ("duplicate-expires-last-wins", "d=2; Expires=Mon, 01 Jan 2024 00:00:00 GMT; Expires=Fri, 01 Jan 2027 00:00:00 GMT",
     ("d", "2", KEEP_LIMIT), "d=2", "d=2; Max-Age=604800"),
    # The last Expires deletes, but a browser reading the first would keep it: made unambiguous.
    ("duplicate-expires-last-deletes", "d=3; Expires=Fri, 01 Jan 2027 00:00:00 GMT; Expires=Mon, 01 Jan 2024 00:00:00 GMT",
     ("d", "3", DELETED), "d=3; Max-Age=0", "d=3; Max-Age=0"),
    ("invalid-max-age-after-valid", "d=4; Max-Age=3600; Max-Age=soon",
     ("d", "4", after(3600)), "d=4", SAME),
    # Dates the RFC algorithm rejects are ignored; the policy still removes them (another parser
    # might accept them).
    ("invalid-date", "e=1; Expires=not a date", ("e", "1", None), "e=1", "e=1"),
    ("day-32", "e=2; Expires=Wed, 32 Jun 2026 10:00:00 GMT", ("e", "2", None), "e=2", "e=2"),
    ("feb-30", "e=3; Expires=Mon, 30 Feb 2026 10:00:00 GMT", ("e", "3", None), "e=3", "e=3"),
    ("hour-24", "e=4; Expires=Mon, 01 Jun 2026 24:00:00 GMT", ("e", "4", None), "e=4", "e=4"),
    ("year-1600", "e=5; Expires=Sat, 01 Jan 1600 00:00:00 GMT", ("e", "5", None), "e=5", "e=5"),
    ("two-digit-year-20xx", "y=1; Expires=Tue, 09-Jun-26 10:18:14 GMT",
     ("y", "1", at(2026, 6, 9, 10, 18, 14)), "y=1", "y=1; Max-Age=604800"),
    ("two-digit-year-19xx", "y=2; Expires=Thu, 01-Jan-70 00:00:01 GMT", ("y", "2", DELETED), SAME, SAME),
    ("two-digit-year-69", "y=3; Expires=Tue, 01-Jan-69 00:00:00 GMT",
     ("y", "3", KEEP_LIMIT), "y=3", "y=3; Max-Age=604800"),
    ("asctime-date", "a=1; expires=Tue Jun  9 10:18:14 2026",
     ("a", "1", at(2026, 6, 9, 10, 18, 14)), "a=1", "a=1; Max-Age=604800"),
    ("time-first-date", "a=2; Expires=10:18:14 9 June 2026 GMT",
     ("a", "2", at(2026, 6, 9, 10, 18, 14)), "a=2", "a=2; Max-Age=604800"),
    ("lowercase-dashed-date", "a=3; EXPIRES=wednesday, 09-jun-2026 10:18:14 gmt",
     ("a", "3", at(2026, 6, 9, 10, 18, 14)), "a=3", "a=3; Max-Age=604800"),
    ("date-with-extra-tokens", "a=4; Expires=Tue, 09 Jun 2026 10:18:14 GMT+0200 (CEST); Path=/",
     ("a", "4", at(2026, 6, 9, 10, 18, 14)), "a=4; Path=/", "a=4; Max-Age=604800; Path=/"),
    ("max-age-negative", "m=1; Max-Age=-1", ("m", "1", DELETED), SAME, SAME),
    ("max-age-zero", "m=0; Max-Age=0; Path=/", ("m", "0", DELETED), SAME, SAME),
    ("max-age-leading-zeros", "m=7; Max-Age=0060", ("m", "7", after(60)), "m=7", SAME),
    ("max-age-junk", "m=2; Max-Age=12abc", ("m", "2", None), "m=2", SAME),
    ("max-age-plus-sign", "m=3; Max-Age=+60", ("m", "3", None), "m=3", SAME),
    ("max-age-spaces", "m=4; max-age = 60 ", ("m", "4", after(60)), "m=4", SAME),
    ("max-age-empty", "m=5; Max-Age=", ("m", "5", None), SAME, SAME),
    ("max-age-huge", "m=6; Max-Age=99999999999999999999999999",
     ("m", "6", KEEP_LIMIT), "m=6", "m=6; Max-Age=604800"),
    ("case-insensitive-attributes", "c=1; MAX-AGE=60; EXPIRES=Fri, 01 Jan 2100 00:00:00 GMT",
     ("c", "1", after(60)), "c=1", SAME),
    ("attribute-value-over-1024", f"l=1; Expires={LONG_DATE}", ("l", "1", None), "l=1", "l=1"),
    # RFC 6265bis / Chromium: no `=` makes a nameless cookie (RFC 6265 ignored the line).
    ("no-equals", "sessionToken; Path=/", ("", "sessionToken", None), SAME, SAME),
    ("no-equals-persistent", "tok; Max-Age=31536000",
     ("", "tok", after(365 * DAY)), "tok", "tok; Max-Age=604800"),
    ("empty-name", "=abc; Max-Age=60", ("", "abc", after(60)), "=abc", SAME),
    ("empty-name-and-value", "=; Max-Age=60", IGNORED, "=", SAME),
    ("empty-line", "", IGNORED, SAME, SAME),
    ("nameless-host-prefix", "__Host-id; Path=/; Secure", IGNORED, SAME, SAME),
    ("secure-prefix", "__Secure-id=1; Secure; Max-Age=31536000",
     ("__Secure-id", "1", after(365 * DAY)), "__Secure-id=1; Secure", "__Secure-id=1; Max-Age=604800; Secure"),
    ("whitespace", "  a = b  ;  Path=/ ", ("a", "b", None), SAME, SAME),
    ("tabs", "\ta\t=\tb\t; Max-Age=60\t", ("a", "b", after(60)), "\ta\t=\tb\t", SAME),
    ("quoted-value", 'q="a b"; Max-Age=60', ("q", '"a b"', after(60)), 'q="a b"', SAME),
    ("quoted-semicolon", 'q="a;b"; Max-Age=60', ("q", '"a', after(60)), 'q="a;b"', SAME),
    ("equals-in-value", "a=b=c; Max-Age=60", ("a", "b=c", after(60)), "a=b=c", SAME),
    ("trailing-semicolon", "t=1; Max-Age=31536000;",
     ("t", "1", after(365 * DAY)), "t=1;", "t=1; Max-Age=604800;"),
    ("empty-attributes", "t=2;; ;Max-Age=31536000 ;",
     ("t", "2", after(365 * DAY)), "t=2;; ;", "t=2; Max-Age=604800;; ;"),
    ("value-4096-octets", f"big={BIG_OK}; Max-Age=31536000",
     ("big", BIG_OK, after(365 * DAY)), f"big={BIG_OK}", f"big={BIG_OK}; Max-Age=604800"),
    ("value-4097-octets", f"big={BIG_TOO_LONG}; Max-Age=31536000",
     IGNORED, f"big={BIG_TOO_LONG}", f"big={BIG_TOO_LONG}; Max-Age=604800"),
    ("name-and-value-too-long", "n" * 2048 + "=" + "v" * 2049, IGNORED, SAME, SAME),
    ("latin1-value", "n=caf\xe9; Max-Age=60", ("n", "caf\xe9", after(60)), "n=caf\xe9", SAME),
    ("utf8-surrogateescape-value", SURROGATE,
     ("n", "\u20ac\udcff", after(365 * DAY)), "n=\u20ac\udcff", "n=\u20ac\udcff; Max-Age=604800"),
    ("control-character", "x=1\x00; Max-Age=99999999", IGNORED, "x=1\x00", "x=1\x00; Max-Age=604800"),
]


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize(("line", "stored", "session_line", "cap_line"),
                         [case[1:] for case in CASES], ids=[case[0] for case in CASES])
def test_conformance_table(line, stored, session_line, cap_line, mode):
    assert browser_stores(line) == stored, "the table's no-policy expectation"
    result = rewrite_set_cookie(line, MODES[mode], NOW)
    expected_line = {"allow": SAME, "session": session_line, "cap:7": cap_line, "block": None}[mode]
    if expected_line is SAME:
        assert result.line is line and not result.changed
    else:
        assert result.line == expected_line and result.changed
    if result.line is not None:
        assert browser_stores(result.line) == expected_under(mode, stored)
        assert non_lifetime_parts(result.line) == non_lifetime_parts(line)
    assert result.malformed == (stored is IGNORED)
    assert result.name == parse_set_cookie(line).name


def non_lifetime_parts(line: str) -> list[str]:
    """The line's `;`-separated pieces other than Expires and Max-Age, byte for byte (written
    independently of the module's parser: a plain split)."""
    pieces = line.split(";")
    return [pieces[0]] + [p for p in pieces[1:] if p.split("=", 1)[0].strip(" \t").lower() not in ("expires", "max-age")]


def test_reports_asked_and_granted_lifetimes():
    result = rewrite_set_cookie("_ga=GA1.2.3; Max-Age=63072000; Path=/", CAP7, NOW)
    assert (result.name, result.asked_lifetime_seconds, result.granted_lifetime_seconds) == ("_ga", 63072000, WEEK)
    kept = rewrite_set_cookie("s=1; Max-Age=3600", CAP7, NOW)
    assert (kept.asked_lifetime_seconds, kept.granted_lifetime_seconds, kept.changed) == (3600, 3600, False)
    expires = rewrite_set_cookie("e=1; Expires=Tue, 03 Jun 2025 12:00:00 GMT", SESSION, NOW)
    assert (expires.asked_lifetime_seconds, expires.granted_lifetime_seconds) == (2 * DAY, None)
    dropped = rewrite_set_cookie("t=1; Max-Age=60", BLOCK, NOW)
    assert (dropped.line, dropped.asked_lifetime_seconds, dropped.granted_lifetime_seconds) == (None, 60, None)
    session = rewrite_set_cookie("s=1; Path=/", CAP7, NOW)
    assert (session.asked_lifetime_seconds, session.granted_lifetime_seconds) == (None, None)


def test_cap_keeps_a_shorter_lifetime_and_only_shortens_a_longer_one():
    for days, asked in ((1, 3 * DAY), (30, 3 * DAY), (400, 500 * DAY)):
        result = rewrite_set_cookie(f"c=1; Max-Age={asked}", parse_cookie_mode(f"cap:{days}"), NOW)
        assert result.granted_lifetime_seconds == min(asked, days * DAY)


def test_naive_now_is_utc_and_default_now_is_the_clock():
    line = "e=1; Expires=Tue, 03 Jun 2025 12:00:00 GMT"
    naive = rewrite_set_cookie(line, ALLOW, NOW.replace(tzinfo=None))
    assert naive.asked_lifetime_seconds == 2 * DAY
    assert rewrite_set_cookie(line, ALLOW).asked_lifetime_seconds < 0  # that date is in the past now


# --- lines whose meaning browsers disagree on --------------------------------------------------------


def last_occurrence_lifetime(line: str, now: datetime = NOW):
    """Chromium's and Firefox's reading: the last Max-Age (valid or not, then parsed), falling back
    to the last Expires. Differs from the RFC reading when a later duplicate is invalid."""
    attributes = parse_set_cookie(line).attributes
    max_ages = [a.value for a in attributes if a.key == "max-age"]
    if max_ages and re.fullmatch(r"-?[0-9]{1,20}", max_ages[-1]):
        return int(max_ages[-1])
    dates = [a.value for a in attributes if a.key == "expires"]
    if dates and (date := parse_cookie_date(dates[-1])) is not None:
        return int((date - now).total_seconds())
    return None


@pytest.mark.parametrize("line", [
    "h=1; Max-Age=60; Max-Age=x; Expires=Fri, 01 Jan 2100 00:00:00 GMT",
    "h=2; Expires=Fri, 01 Jan 2100 00:00:00 GMT; Expires=yesterday",
    "h=3; Max-Age=60; Max-Age=99999999x",
])
def test_a_line_one_browser_would_keep_longer_is_made_unambiguous(line):
    assert (last_occurrence_lifetime(line) or 0) > WEEK or parse_set_cookie(line).longest_lifetime(NOW) > WEEK
    for mode, limit in ((SESSION, 0), (CAP7, WEEK)):
        out = rewrite_set_cookie(line, mode, NOW).line
        assert (last_occurrence_lifetime(out) or 0) <= limit
        assert (parse_set_cookie(out).lifetime(NOW) or 0) <= limit


# --- dates -------------------------------------------------------------------------------------------


@pytest.mark.parametrize(("text", "expected"), [
    ("Wed, 09 Jun 2021 10:18:14 GMT", at(2021, 6, 9, 10, 18, 14)),
    ("Wednesday, 09-Jun-21 10:18:14 GMT", at(2021, 6, 9, 10, 18, 14)),
    ("Wed Jun  9 10:18:14 2021", at(2021, 6, 9, 10, 18, 14)),
    ("9 jun 2021 1:2:3", at(2021, 6, 9, 1, 2, 3)),
    ("Thu, 01 Jan 1970 00:00:00 GMT", at(1970, 1, 1)),
    ("01 Jan 70 00:00:00", at(1970, 1, 1)),
    ("01 Jan 99 00:00:00", at(1999, 1, 1)),
    ("01 Jan 00 00:00:00", at(2000, 1, 1)),
    ("01 Jan 69 00:00:00", at(2069, 1, 1)),
    ("29 Feb 2024 23:59:59", at(2024, 2, 29, 23, 59, 59)),
    ("31 Dec 9999 23:59:59", at(9999, 12, 31, 23, 59, 59)),
    ("01 January 1601 00:00:00", at(1601, 1, 1)),
    ("29 Feb 2023 00:00:00", None),  # no such day
    ("00 Jan 2024 00:00:00", None),
    ("32 Jan 2024 00:00:00", None),
    ("01 Jan 1600 00:00:00", None),
    ("01 Jan 100 00:00:00", None),  # three digits: no 1900/2000 added, so before 1601
    ("01 Jan 2024 24:00:00", None),
    ("01 Jan 2024 00:60:00", None),
    ("01 Jan 2024 00:00:60", None),
    ("01 Jan 2024", None),  # no time
    ("01 2024 00:00:00", None),  # no month
    ("Jan 2024 00:00:00", None),  # no day (2024 is not a day-of-month)
    ("01 Jan 7 00:00:00", None),  # one-digit year
    ("01 Jan 12345 00:00:00", None),
    ("2026-06-09T10:18:14Z", None),
    ("", None),
    ("\xff\xfe", None),
])
def test_cookie_date_algorithm(text, expected):
    assert parse_cookie_date(text) == expected


# --- modes -------------------------------------------------------------------------------------------


@pytest.mark.parametrize(("text", "expected"), [
    ("allow", ALLOW), (" Session ", SESSION), ("BLOCK", BLOCK), ("cap:7", CookieMode("cap", 7)),
    ("CAP: 30", CookieMode("cap", 30)), ("cap:400", CookieMode("cap", 400)), ("cap:007", CookieMode("cap", 7)),
])
def test_parse_cookie_mode(text, expected):
    assert parse_cookie_mode(text) == expected
    assert parse_cookie_mode(str(expected)) == expected


@pytest.mark.parametrize(("text", "message"), [
    ("", "empty"),
    ("foo", "unknown cookie mode 'foo'"),
    ("cap", "needs a number of days"),
    ("cap:", "needs a number of days"),
    ("cap:0", "at least 1 day"),
    ("cap:x", "whole number of days"),
    ("cap:-1", "whole number of days"),
    ("cap:7.5", "whole number of days"),
    ("cap:\u0667", "whole number of days"),  # an Arabic-Indic seven is a digit to str.isdigit
    ("cap:401", "at most 400"),
    ("cap:99999999999999", "at most 400"),
])
def test_bad_modes_are_refused_with_a_reason(text, message):
    with pytest.raises(InputError, match=re.escape(message)):
        parse_cookie_mode(text)


# --- the policy --------------------------------------------------------------------------------------


def test_third_party_cookies_are_blocked_both_ways_unless_excepted():
    policy = CookiePolicy(allowed_third_parties=[("shop.test", "pay.test")])
    assert policy.for_response("shop.test", "tracker.test", is_tracker=True) == BLOCK
    assert policy.for_response("shop.test", "cdn.test", is_tracker=False) == BLOCK
    assert not policy.keeps_request_cookies("shop.test", "cdn.test", is_tracker=False)
    assert policy.for_response("shop.test", "pay.test", is_tracker=False) == ALLOW
    assert policy.keeps_request_cookies("shop.test", "pay.test", is_tracker=False)
    # An exception is for one page site and one direction only.
    assert policy.for_response("blog.test", "pay.test", is_tracker=False) == BLOCK
    assert policy.for_response("pay.test", "shop.test", is_tracker=False) == BLOCK


def test_first_party_defaults_allow_and_cap_known_trackers():
    policy = CookiePolicy()
    assert policy.for_response("shop.test", "shop.test", is_tracker=False) == ALLOW
    assert policy.for_response("tracker.test", "tracker.test", is_tracker=True) == TRACKER_DEFAULT == CAP7
    assert policy.keeps_request_cookies("tracker.test", "tracker.test", is_tracker=True)
    # No page context (a navigation): the request is the page.
    assert policy.for_response(None, "shop.test", is_tracker=False) == ALLOW


def test_site_modes_override_the_defaults():
    policy = CookiePolicy({"Tracker.test": "session", "news.test": "block", "shop.test": "cap:30"},
                          tracker_mode="cap:1", default_mode="session")
    assert policy.for_response("tracker.test", "tracker.test", is_tracker=True) == SESSION
    assert policy.for_response("news.test", "news.test", is_tracker=False) == BLOCK
    assert not policy.keeps_request_cookies("news.test", "news.test", is_tracker=False)
    assert policy.for_response("shop.test", "shop.test", is_tracker=False) == CookieMode("cap", 30)
    # a known tracker gets the stricter of the tracker mode and the default: session here
    assert policy.for_response("other.test", "other.test", is_tracker=True) == SESSION
    assert policy.for_response("other.test", "other.test", is_tracker=False) == SESSION
    # A site's own mode does not let its cookies in as a third party.
    assert policy.for_response("shop.test", "tracker.test", is_tracker=True) == BLOCK


def test_policy_refuses_a_bad_mode():
    with pytest.raises(InputError, match="cap:0"):
        CookiePolicy({"shop.test": "cap:0"})


def test_decide_request_cookies():
    allowed = {("shop.test", "pay.test")}
    assert decide_request_cookies("shop.test", "shop.test", ALLOW, allowed)
    assert decide_request_cookies("shop.test", "shop.test", CAP7, allowed)
    assert not decide_request_cookies("shop.test", "shop.test", BLOCK, allowed)
    assert not decide_request_cookies("shop.test", "ads.test", ALLOW, allowed)
    assert decide_request_cookies("shop.test", "pay.test", ALLOW, allowed)
    assert not decide_request_cookies("shop.test", "pay.test", BLOCK, allowed)
    assert decide_request_cookies(None, "shop.test", ALLOW)


def test_a_third_party_response_loses_every_set_cookie_line():
    policy = CookiePolicy()
    mode = policy.for_response("shop.test", "tracker.test", is_tracker=True)
    lines = ["uid=1; Max-Age=31536000; Domain=tracker.test", "=; junk", "sess=2"]
    assert [rewrite_set_cookie(line, mode, NOW).line for line in lines] == [None, None, None]


# --- the Cookie request header -----------------------------------------------------------------------


def test_cookie_header_kept_whole_is_the_same_string_and_removed_is_none():
    header = "a=1;  b=2,3; c"
    assert filter_cookie_header(header, True) is header
    assert filter_cookie_header(header, lambda name: True) is header
    assert filter_cookie_header(header, False) is None
    assert filter_cookie_header(header, lambda name: False) is None


def test_cookie_header_filter_keeps_the_other_pairs_byte_for_byte():
    header = "_ga=GA1.2.3;  sid=x=y ;\tlang=en,fr; tok"
    assert filter_cookie_header(header, lambda name: name != "_ga") == "sid=x=y ;\tlang=en,fr; tok"
    assert filter_cookie_header(header, lambda name: name != "lang") == "_ga=GA1.2.3;  sid=x=y ; tok"
    assert filter_cookie_header(header, lambda name: name != "") == "_ga=GA1.2.3;  sid=x=y ;\tlang=en,fr"
    assert cookie_names(header) == ("_ga", "sid", "lang", "")
    assert cookie_names("") == ()
    assert filter_cookie_header("a=1;; b=2", lambda name: name == "b") == "b=2"


# --- through mitmproxy's own header object -----------------------------------------------------------


def test_round_trip_through_mitmproxy_headers_keeps_raw_bytes():
    from mitmproxy.http import Headers

    raw = [
        b"id=\xe2\x82\xac\xff,1; Expires=Sat, 01 Jan 2028 00:00:00 GMT; Path=/; SameSite=Lax",
        b"keep=\xe9; Path=/",
    ]
    headers = Headers([(b"set-cookie", value) for value in raw])
    results = [rewrite_set_cookie(line, CAP7, NOW) for line in headers.get_all("set-cookie")]
    headers.set_all("set-cookie", [r.line for r in results if r.line is not None])
    assert headers.fields == (
        (b"set-cookie", b"id=\xe2\x82\xac\xff,1; Max-Age=604800; Path=/; SameSite=Lax"),
        (b"set-cookie", b"keep=\xe9; Path=/"),
    )


# --- properties --------------------------------------------------------------------------------------

ATTRIBUTE_NAMES = ["Expires", "expires", "EXPIRES", "Max-Age", "max-age", " Max-Age ", "Path", "Domain",
                   "Secure", "HttpOnly", "SameSite", "", "x"]
LIFETIME_VALUES = st.one_of(
    st.integers(-10**6, 10**12).map(str),
    st.sampled_from(["", "-", "+5", "0", "12abc", "1e9", "99999999999999999999999", " 60 "]),
    st.datetimes(datetime(1500, 1, 1), datetime(9999, 12, 31)).map(
        lambda d: d.strftime(st_format_choice(d))),
    st.text(max_size=40),
)


def st_format_choice(moment: datetime) -> str:
    formats = ["%a, %d %b %Y %H:%M:%S GMT", "%A, %d-%b-%y %H:%M:%S GMT", "%a %b %d %H:%M:%S %Y", "%d %B %Y"]
    return formats[moment.microsecond % len(formats)]


@st.composite
def set_cookie_lines(draw) -> str:
    line = draw(st.text(max_size=20)) + draw(st.sampled_from(["=", "", " = "])) + draw(st.text(max_size=30))
    for _ in range(draw(st.integers(0, 6))):
        name = draw(st.sampled_from(ATTRIBUTE_NAMES))
        separator = draw(st.sampled_from(["; ", ";", " ;", ";\t"]))
        value = draw(LIFETIME_VALUES) if name.strip().lower() in ("expires", "max-age") else draw(st.text(max_size=8))
        line += separator + name + draw(st.sampled_from(["=", "", " = "])) + value
    return line + draw(st.sampled_from(["", ";", " ; "]))


ANY_LINES = st.one_of(set_cookie_lines(), st.text(), st.text(st.characters(codec="latin-1")),
                      st.text(st.characters(exclude_categories=())))
NOWS = st.datetimes(datetime(1990, 1, 1), datetime(2090, 1, 1), timezones=st.just(UTC))
CAPS = st.integers(1, 400).map(lambda days: CookieMode("cap", days))


@settings(max_examples=400, suppress_health_check=[HealthCheck.too_slow])
@given(ANY_LINES, st.sampled_from([ALLOW, SESSION, CAP7, BLOCK]), NOWS)
def test_any_line_any_mode_never_raises_and_keeps_the_other_parts(line, mode, now):
    result = rewrite_set_cookie(line, mode, now)
    if result.line is not None:
        assert non_lifetime_parts(result.line) == non_lifetime_parts(line)
        assert parse_set_cookie(result.line).name == parse_set_cookie(line).name


@settings(max_examples=300)
@given(ANY_LINES, NOWS)
def test_allow_never_changes_a_line(line, now):
    result = rewrite_set_cookie(line, ALLOW, now)
    assert result.line is line and not result.changed


@settings(max_examples=400)
@given(ANY_LINES, NOWS)
def test_session_output_never_persists(line, now):
    result = rewrite_set_cookie(line, SESSION, now)
    out = parse_set_cookie(result.line)
    assert (out.longest_lifetime(now) or 0) <= 0
    assert (last_occurrence_lifetime(result.line, now) or 0) <= 0
    lifetime_attributes = [a for a in out.attributes if a.key in ("expires", "max-age")]
    if lifetime_attributes:  # only a deletion keeps one: as sent, or made plain `Max-Age=0`
        assert not result.changed or [a.value for a in lifetime_attributes] == ["0"]
        assert result.granted_lifetime_seconds in (None, 0) or result.granted_lifetime_seconds < 0


@settings(max_examples=400)
@given(ANY_LINES, CAPS, NOWS)
def test_cap_output_never_outlives_the_cap(line, mode, now):
    result = rewrite_set_cookie(line, mode, now)
    assert (result.granted_lifetime_seconds or 0) <= mode.cap_seconds
    out = parse_set_cookie(result.line)
    assert (out.longest_lifetime(now) or 0) <= mode.cap_seconds
    assert (last_occurrence_lifetime(result.line, now) or 0) <= mode.cap_seconds
    asked = result.asked_lifetime_seconds
    if asked is not None and asked > mode.cap_seconds:
        assert result.granted_lifetime_seconds == mode.cap_seconds
    if asked is None:  # the cap never makes a session cookie persistent
        assert result.granted_lifetime_seconds is None
