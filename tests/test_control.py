"""The control API's request handler, without sockets: every endpoint and every security rule.

Real parts throughout: the test's own ledger (settings, aliases, vendor records), real live
counters (`Observations`), and the real token store (secrets in the test's data directory), with
a clock the tests move.
"""

from __future__ import annotations

import json
import logging

import pytest

from whoknows import control
from whoknows.aliases import parse_setup, save_setup
from whoknows.control import ControlAPI, LedgerSites, TokenStore
from whoknows.learned_trackers import LearnedTracker, LearnedTrackers
from whoknows.ledger import open_ledger
from whoknows.observations import CookieSeen, Observations
from whoknows.paths import data_dir
from whoknows.site_settings import settings_of

PORT = 18081
HOST = f"127.0.0.1:{PORT}"
API = "/api/v1"
WEB_ORIGINS = ["http://other.test", "https://other.test", "null", "file://", "http://127.0.0.1:3000"]


class Clock:
    def __init__(self) -> None:
        self.now = 1_800_000_000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def tokens(clock) -> TokenStore:
    return TokenStore(clock=clock)


@pytest.fixture
def observations() -> Observations:
    return Observations()


@pytest.fixture
def api(tokens, observations) -> ControlAPI:
    return ControlAPI(LedgerSites(), tokens, port=PORT, observations=observations.snapshot)


@pytest.fixture
def token(tokens) -> str:
    return tokens.pair(tokens.new_pairing_code().code)


def call(api: ControlAPI, method: str, path: str, *, token: str | None = None, origin: str | None = None,
         host: str | None = HOST, payload=None, body: bytes = b"", content_type: str | None = None,
         headers: list[tuple[str, str]] | None = None) -> control.Response:
    sent = [("Host", host)] if host is not None else []
    if origin is not None:
        sent.append(("Origin", origin))
    if token is not None:
        sent.append(("Authorization", f"Bearer {token}"))
    if payload is not None:
        body = json.dumps(payload).encode()
        content_type = content_type or "application/json"
    if content_type is not None:
        sent.append(("Content-Type", content_type))
    sent += headers or []
    return api.handle(method, path, sent, body)


def settings(site: str = "vendor.test") -> dict:
    with open_ledger() as ledger:
        return settings_of(ledger, [site])[site].to_json(site)


UNTOUCHED = {"site": "vendor.test", "paused": False, "cookie_mode": None, "allowed_third_parties": [],
             "leak_mode": None}


def browse_vendor(observations: Observations) -> None:
    observations.third_party("vendor.test", "tracker.test", blocked=True, owner="Tracker Inc", tracker=True,
                             category="advertising", blocked_by="easylist")
    observations.third_party("vendor.test", "tracker.test", blocked=True, owner="Tracker Inc", tracker=True,
                             category="advertising", blocked_by="easylist")
    observations.third_party("vendor.test", "pixel.test", blocked=False, owner="Tracker Inc", tracker=True,
                             category="advertising")
    observations.third_party("vendor.test", "cdn.test", blocked=False)
    observations.cookie("vendor.test", CookieSeen("sid", "vendor.test", False, 400 * 86400, 7 * 86400,
                                                  False, True, "cap:7"))
    observations.cookie("vendor.test", CookieSeen("uid", "cdn.test", True, 3600, None, True, False, "block"))
    observations.parameter("vendor.test", "utm_source", "vendor.test")
    observations.parameter("vendor.test", "fbclid", "vendor.test")


# -- ping ---------------------------------------------------------------------------------------


def test_ping_answers_without_a_token_and_says_whether_the_one_given_is_valid(api, token):
    from whoknows import __version__

    assert call(api, "GET", f"{API}/ping").json() == {"whoknows": __version__, "paired": False}
    assert call(api, "GET", f"{API}/ping", token=token).json() == {"whoknows": __version__, "paired": True}
    wrong = call(api, "GET", f"{API}/ping", token="x" * len(token))
    assert wrong.status == 200 and wrong.json()["paired"] is False


def test_every_answer_is_uncacheable_json_readable_by_no_other_origin(api, token):
    answers = [call(api, "GET", f"{API}/ping"), call(api, "GET", f"{API}/site?site=vendor.test", token=token),
               call(api, "GET", f"{API}/site?site=vendor.test", origin="https://other.test"),
               call(api, "GET", f"{API}/nope", token=token)]
    for answer in answers:
        assert answer.header("content-type") == "application/json; charset=utf-8"
        assert answer.header("cache-control") == "no-store"
        assert answer.header("x-content-type-options") == "nosniff"
        assert answer.header("cross-origin-resource-policy") == "same-origin"
        assert not [name for name, _ in answer.headers if name.startswith("access-control-")]


# -- the door: Host, Origin, Sec-Fetch ----------------------------------------------------------


@pytest.mark.parametrize("host", [None, "attacker.test:18081", "attacker.test", "127.0.0.1",
                                  "127.0.0.1:18082", "localhost.attacker.test:18081", "[::1]:18081",
                                  "127.0.0.1:18081.attacker.test"])
def test_a_foreign_host_header_is_refused_even_with_a_valid_token(api, token, host):
    # DNS rebinding: a page whose name now resolves to 127.0.0.1 still sends its own name.
    for method, path, payload in [("GET", f"{API}/site?site=vendor.test", None), ("GET", f"{API}/ping", None),
                                  ("POST", f"{API}/site/protection", {"site": "vendor.test", "paused": True})]:
        answer = call(api, method, path, token=token, host=host, payload=payload)
        assert answer.status == 421
        assert "vendor.test" not in answer.body.decode()
    assert settings() == UNTOUCHED
    assert api.refusals["foreign Host header"] == 3


@pytest.mark.parametrize("host", ["127.0.0.1:18081", "localhost:18081", "LocalHost:18081"])
def test_the_loopback_names_with_the_servers_port_are_accepted(api, host):
    assert call(api, "GET", f"{API}/ping", host=host).status == 200


def test_two_host_headers_are_refused(api):
    answer = call(api, "GET", f"{API}/ping", headers=[("Host", "attacker.test:18081")])
    assert answer.status == 400


@pytest.mark.parametrize("origin", WEB_ORIGINS)
def test_web_pages_are_refused_everywhere_even_with_a_valid_token(api, tokens, token, origin):
    code = tokens.new_pairing_code().code
    attempts = [
        ("GET", f"{API}/ping", None), ("GET", f"{API}/site?site=vendor.test", None),
        ("GET", f"{API}/vendor?site=vendor.test", None), ("GET", f"{API}/companies", None),
        ("POST", f"{API}/site/protection", {"site": "vendor.test", "paused": True}),
        ("POST", f"{API}/site/cookies", {"site": "vendor.test", "mode": "allow"}),
        ("POST", f"{API}/site/third-party", {"site": "vendor.test", "other": "tracker.test", "allowed": True}),
        ("POST", f"{API}/site/alias", {"site": "vendor.test"}),
        ("POST", f"{API}/pair", {"code": code}),
        ("OPTIONS", f"{API}/site/protection", None),  # a CORS preflight gets no CORS headers
    ]
    for method, path, payload in attempts:
        answer = call(api, method, path, token=token, origin=origin, payload=payload)
        assert answer.status == 403, (method, path)
        assert answer.json() == {"error": "web pages may not use the whoknows control API"}
    assert settings() == UNTOUCHED
    assert tokens.pending() is not None and tokens.pending().failures == 0  # the code was not even tried
    assert api.refusals["web page origin"] == len(attempts)


@pytest.mark.parametrize("origin", ["chrome-extension://abcdefghijklmnop", "moz-extension://1234-5678",
                                    "safari-web-extension://ABCD"])
def test_browser_extensions_are_let_in(api, token, origin):
    answer = call(api, "POST", f"{API}/site/protection", token=token, origin=origin,
                  payload={"site": "vendor.test", "paused": True})
    assert answer.status == 200
    assert settings()["paused"] is True


def test_a_pages_image_or_frame_without_origin_is_refused_but_an_extension_fetch_is_not(api, token):
    # <img src=...> on a web page: no Origin, but the browser marks it cross-site, destination image.
    image = call(api, "GET", f"{API}/site?site=vendor.test", token=token,
                 headers=[("Sec-Fetch-Site", "cross-site"), ("Sec-Fetch-Dest", "image")])
    assert image.status == 403 and api.refusals["web page subresource"] == 1
    frame = call(api, "GET", f"{API}/ping", headers=[("Sec-Fetch-Site", "same-site"), ("Sec-Fetch-Dest", "iframe")])
    assert frame.status == 403
    typed = call(api, "GET", f"{API}/ping", headers=[("Sec-Fetch-Site", "none"), ("Sec-Fetch-Dest", "document")])
    assert typed.status == 200  # the user typed the URL
    fetched = call(api, "GET", f"{API}/site?site=vendor.test", token=token,
                   headers=[("Sec-Fetch-Site", "cross-site"), ("Sec-Fetch-Dest", "empty")])
    assert fetched.status == 200


def test_a_no_cors_fetch_from_a_page_still_needs_the_token(api, token):
    # fetch(url, {mode: "no-cors"}) sends no Origin and cannot send Authorization.
    answer = call(api, "GET", f"{API}/site?site=vendor.test",
                  headers=[("Sec-Fetch-Site", "cross-site"), ("Sec-Fetch-Dest", "empty"),
                           ("Sec-Fetch-Mode", "no-cors")])
    assert answer.status == 401


# -- routes and methods -------------------------------------------------------------------------


@pytest.mark.parametrize("path", [f"{API}/site/protection", f"{API}/site/cookies", f"{API}/site/third-party",
                                  f"{API}/site/alias", f"{API}/pair"])
def test_a_get_to_a_write_path_is_405_and_changes_nothing(api, token, path):
    answer = call(api, "GET", f"{path}?site=vendor.test&paused=true", token=token)
    assert answer.status == 405
    assert answer.header("allow") == "POST"
    assert settings() == UNTOUCHED


@pytest.mark.parametrize("method", ["POST", "PUT", "DELETE", "HEAD"])
def test_reads_take_get_only(api, token, method):
    answer = call(api, method, f"{API}/site?site=vendor.test", token=token, payload={})
    assert answer.status == 405 and answer.header("allow") == "GET"


@pytest.mark.parametrize("target", [f"{API}/nope", f"{API}/site/", "/", "/api/v2/ping", f"{API}/PING"])
def test_unknown_paths_are_404(api, token, target):
    assert call(api, "GET", target, token=token).status == 404


def test_an_absolute_form_target_is_refused(api, token):
    answer = call(api, "GET", f"http://attacker.test:{PORT}{API}/ping", token=token)
    assert answer.status == 400


# -- the token ----------------------------------------------------------------------------------


def test_reads_and_writes_need_the_token(api, token):
    for method, path, payload in [("GET", f"{API}/site?site=vendor.test", None),
                                  ("GET", f"{API}/vendor?site=vendor.test", None),
                                  ("POST", f"{API}/site/protection", {"site": "vendor.test", "paused": True}),
                                  ("POST", f"{API}/site/alias", {"site": "vendor.test"})]:
        for presented in [None, "", "x" * len(token), token[:-1], token + "x", token.upper(), "null"]:
            answer = call(api, method, path, token=presented, payload=payload)
            assert answer.status == 401, (path, presented)
            assert answer.header("www-authenticate") == 'Bearer realm="whoknows"'
        basic = call(api, method, path, payload=payload, headers=[("Authorization", f"Basic {token}")])
        assert basic.status == 401
    assert settings() == UNTOUCHED


def test_without_any_pairing_no_token_works(api):
    answer = call(api, "GET", f"{API}/site?site=vendor.test", token="A" * 43)
    assert answer.status == 401


def test_the_token_is_compared_in_constant_time(api, token, monkeypatch):
    seen = []
    real = control.pairing.hmac.compare_digest

    def spy(a, b):
        seen.append((a, b))
        return real(a, b)

    monkeypatch.setattr(control.pairing.hmac, "compare_digest", spy)
    guess = "g" * len(token)
    assert call(api, "GET", f"{API}/site?site=vendor.test", token=guess).status == 401
    assert (guess.encode(), token.encode()) in seen
    assert call(api, "GET", f"{API}/site?site=vendor.test", token=token).status == 200
    assert (token.encode(), token.encode()) in seen


def test_unpairing_revokes_the_token_at_once(api, tokens, token):
    assert call(api, "GET", f"{API}/site?site=vendor.test", token=token).status == 200
    assert tokens.unpair() is True
    assert call(api, "GET", f"{API}/site?site=vendor.test", token=token).status == 401
    assert tokens.unpair() is False
    fresh = tokens.pair(tokens.new_pairing_code().code)  # pairing again makes a new token
    assert fresh != token
    assert call(api, "GET", f"{API}/site?site=vendor.test", token=fresh).status == 200
    assert "extension-token" in (data_dir() / "secrets.json").read_text()  # kept as a secret, 0600
    assert (data_dir() / "secrets.json").stat().st_mode & 0o777 == 0o600


def test_every_paired_browser_shares_the_token(tokens, token):
    again = tokens.pair(tokens.new_pairing_code().code)
    assert again == token and len(token) == 43


# -- request bodies -----------------------------------------------------------------------------


@pytest.mark.parametrize("content_type, body", [
    ("application/x-www-form-urlencoded", b"site=vendor.test&paused=true"),
    ("text/plain", b'{"site": "vendor.test", "paused": true}'),  # an enctype=text/plain form
    ("multipart/form-data; boundary=x", b'--x\r\ncontent-disposition: form-data; name="site"\r\n\r\nvendor.test\r\n--x--'),
    (None, b'{"site": "vendor.test", "paused": true}'),
])
def test_a_write_that_is_not_json_is_refused(api, token, content_type, body):
    answer = call(api, "POST", f"{API}/site/protection", token=token, body=body, content_type=content_type)
    assert answer.status == 415
    assert settings() == UNTOUCHED


@pytest.mark.parametrize("body", [b"[]", b'"vendor.test"', b"{", b"\xff\xfe{}", b"", b"null"])
def test_a_body_that_is_not_a_json_object_is_refused(api, token, body):
    answer = call(api, "POST", f"{API}/site/protection", token=token, body=body, content_type="application/json")
    assert answer.status == 400


def test_a_huge_body_is_refused(api, token):
    body = json.dumps({"site": "vendor.test", "paused": True, "pad": "x" * control.MAX_BODY_BYTES}).encode()
    answer = call(api, "POST", f"{API}/site/protection", token=token, body=body, content_type="application/json")
    assert answer.status == 413


def test_json_with_a_charset_is_fine(api, token):
    answer = call(api, "POST", f"{API}/site/protection", token=token,
                  body=b'{"site": "vendor.test", "paused": true}', content_type="Application/JSON; charset=UTF-8")
    assert answer.status == 200


@pytest.mark.parametrize("payload, said", [
    ({"site": "vendor.test"}, "missing field 'paused'"),
    ({"site": "vendor.test", "paused": "true"}, "'paused' must be true or false"),
    ({"site": "vendor.test", "paused": 1}, "'paused' must be true or false"),
    ({"site": 7, "paused": True}, "'site' must be a string"),
    ({"site": "vendor.test", "paused": True, "pause": True}, "unknown field(s) pause"),
    ({"site": "not a domain!", "paused": True}, "not"),
    ({"site": "127.0.0.1", "paused": True}, "IP address"),
])
def test_bad_write_input_is_a_400_that_says_what_is_wrong(api, token, payload, said):
    answer = call(api, "POST", f"{API}/site/protection", token=token, payload=payload)
    assert answer.status == 400
    assert said in answer.json()["error"]
    assert settings() == UNTOUCHED


# -- site state ---------------------------------------------------------------------------------


def test_site_state_combines_settings_alias_and_live_counters(api, token, observations):
    browse_vendor(observations)
    with open_ledger() as ledger:
        save_setup(ledger, parse_setup(base="you@mail.example"))
    alias = call(api, "POST", f"{API}/site/alias", token=token, payload={"site": "vendor.test"}).json()["alias"]
    call(api, "POST", f"{API}/site/cookies", token=token, payload={"site": "vendor.test", "mode": "cap:7"})
    answer = call(api, "GET", f"{API}/site?url=https://shop.vendor.test/cart?id=1", token=token)
    assert answer.status == 200
    assert answer.json() == {
        "site": "vendor.test",
        "protection": True,
        "blocked": {"total": 2, "third_parties": [
            {"domain": "tracker.test", "company": "Tracker Inc", "category": "advertising", "blocked": 2,
             "allowed": 0, "blocked_by": "easylist", "learned": None, "cloaked_behind": None},
            {"domain": "cdn.test", "company": None, "category": None, "blocked": 0, "allowed": 1,
             "blocked_by": None, "learned": None, "cloaked_behind": None},
            {"domain": "pixel.test", "company": "Tracker Inc", "category": "advertising", "blocked": 0,
             "allowed": 1, "blocked_by": None, "learned": None, "cloaked_behind": None},
        ]},
        # What the popup groups by: the company's third parties added up, unknown ones left out.
        "companies": [{"company": "Tracker Inc", "category": "advertising", "blocked": 2, "reached": 1,
                       "domains": ["tracker.test", "pixel.test"]}],
        "cookies": {"removed": 1, "rewritten": 1},
        "parameters_stripped": 2,
        "leaks": 0,
        "leaks_prevented": 0,
        "alias": alias,
        "terms": [],  # none proffered
        "settings": {"paused": False, "cookie_mode": "cap:7", "allowed_third_parties": [], "leak_mode": None},
    }
    assert alias.startswith("you+") and alias.endswith("@mail.example")


def test_site_state_says_which_third_party_is_learned_listed_or_cname_cloaked(tokens, token, observations):
    learned = LearnedTrackers([
        LearnedTracker("widgets.test", "learned", ("a.test", "b.test", "c.test"), ("cookie",), "t", "t"),
        LearnedTracker("chat.test", "allowed", ("a.test", "b.test", "d.test"), ("value",), "t", "t"),
    ])
    api = ControlAPI(LedgerSites(), tokens, port=PORT,
                     observations=lambda site: observations.snapshot(site, learned=learned.get))
    observations.third_party("vendor.test", "widgets.test", blocked=True, blocked_by="whoknows")
    observations.third_party("vendor.test", "chat.test", blocked=False)
    observations.third_party("vendor.test", "tracker-cdn.test", blocked=True, blocked_by="easylist",
                             cloaked_behind="metrics.vendor.test")
    observations.third_party("vendor.test", "cdn.test", blocked=False)
    state = call(api, "GET", f"{API}/site?site=vendor.test", token=token).json()
    parties = {p["domain"]: p for p in state["blocked"]["third_parties"]}
    assert parties["widgets.test"]["learned"] == {"state": "learned", "sites": ["a.test", "b.test", "c.test"]}
    assert parties["widgets.test"]["blocked_by"] == "whoknows"  # blocked because it was learned
    assert parties["chat.test"]["learned"] == {"state": "allowed", "sites": ["a.test", "b.test", "d.test"]}
    assert parties["chat.test"]["blocked_by"] is None
    cloaked = parties["tracker-cdn.test"]
    assert (cloaked["cloaked_behind"], cloaked["blocked_by"], cloaked["learned"]) == (
        "metrics.vendor.test", "easylist", None)
    assert (parties["cdn.test"]["learned"], parties["cdn.test"]["cloaked_behind"]) == (None, None)
    # A tracker learned while the popup polls changes the state, so the ETag: the popup redraws.
    etag = call(api, "GET", f"{API}/site?site=vendor.test", token=token).headers
    learned.replace_all([LearnedTracker("cdn.test", "learned", ("a.test", "b.test", "c.test"), ("cookie",),
                                        "t", "t")])
    again = call(api, "GET", f"{API}/site?site=vendor.test", token=token)
    assert dict(again.headers)["etag"] != dict(etag)["etag"]
    assert {p["domain"]: p["learned"] for p in again.json()["blocked"]["third_parties"]}["cdn.test"]["state"] == "learned"


def test_a_site_never_seen_has_zero_counters_and_the_defaults(api, token):
    state = call(api, "GET", f"{API}/site?site=https://www.shop.test/", token=token).json()
    assert state["site"] == "shop.test" and state["protection"] is True
    assert state["blocked"] == {"total": 0, "third_parties": []}
    assert state["companies"] == []
    assert state["alias"] is None
    assert state["settings"] == {"paused": False, "cookie_mode": None, "allowed_third_parties": [],
                                 "leak_mode": None}
    with open_ledger() as ledger:
        assert ledger.vendor_id("shop.test") is None  # reading creates nothing


def test_the_site_state_says_which_terms_are_proffered_and_whether_the_site_agreed(api, token):
    """Read from the ledger when asked: the terms chosen now, and per site since when the proxy
    offered each and when and how the site agreed (its header, or its well-known file)."""
    from whoknows import personal_terms
    from whoknows.terms_records import PendingOffers, write_batch

    def terms_of(site):
        answer = call(api, "GET", f"{API}/site?site={site}", token=token)
        assert answer.status == 200
        return answer.json()["terms"], answer.headers

    assert terms_of("vendor.test")[0] == []
    with open_ledger() as ledger:
        [term] = [personal_terms.offer(ledger, "nostalking")[0]]
        moments = iter([1_800_000_000.0, 1_800_086_400.0, 1_800_000_000.0])
        pending = PendingOffers(clock=lambda: next(moments))
        pending.offered("vendor.test", [term])
        pending.agreed("vendor.test", [term], "header")
        pending.offered("other.test", [term])
        write_batch(ledger, pending.take())
    url = "http://whoknows.proxy/personal-terms/nostalking/1"
    vendor, headers = terms_of("vendor.test")
    assert vendor == [{"term": "nostalking", "version": 1, "title": "No stalking", "url": url,
                       "offered_since": "2027-01-15T08:00:00Z", "agreed_on": "2027-01-16T08:00:00Z",
                       "agreed_by": "header"}]
    [other], _ = terms_of("other.test")
    assert (other["offered_since"], other["agreed_on"], other["agreed_by"]) == ("2027-01-15T08:00:00Z", None, None)
    [never], _ = terms_of("never.test")
    assert (never["term"], never["offered_since"], never["agreed_on"]) == ("nostalking", None, None)
    with open_ledger() as ledger:
        personal_terms.withdraw(ledger)
    assert terms_of("vendor.test")[0] == []  # what the site agreed to is not what you proffer now
    assert call(api, "GET", f"{API}/site?url=about:blank", token=token).json()["terms"] is None


@pytest.mark.parametrize("url", ["chrome://settings/", "about:blank", "http://127.0.0.1:8000/", "file:///etc/x",
                                 "https://localhost/", "", "not a url", "http://[::1]/"])
def test_a_tab_without_a_site_gets_a_null_site(api, token, url):
    from urllib.parse import quote

    answer = call(api, "GET", f"{API}/site?url={quote(url, safe='')}", token=token)
    assert answer.status == 200
    assert answer.json()["site"] is None and answer.json()["settings"] is None


@pytest.mark.parametrize("query", ["", "?url=https://vendor.test/&site=vendor.test", "?site=vendor.test&site=x.test",
                                   "?site=", "?site=vendor.test&evil=1"])
def test_site_state_query_mistakes_are_400(api, token, query):
    assert call(api, "GET", f"{API}/site{query}", token=token).status == 400


def test_the_etag_lets_a_poll_cost_a_304_until_something_changes(api, token, observations):
    first = call(api, "GET", f"{API}/site?site=vendor.test", token=token)
    etag = first.header("etag")
    assert etag and etag.startswith('"')
    again = call(api, "GET", f"{API}/site?site=vendor.test", token=token, headers=[("If-None-Match", etag)])
    assert again.status == 304 and again.body == b"" and again.header("etag") == etag
    weak = call(api, "GET", f"{API}/site?site=vendor.test", token=token,
                headers=[("If-None-Match", f'"old", W/{etag}')])
    assert weak.status == 304
    observations.third_party("vendor.test", "tracker.test", blocked=True)
    changed = call(api, "GET", f"{API}/site?site=vendor.test", token=token, headers=[("If-None-Match", etag)])
    assert changed.status == 200 and changed.header("etag") != etag
    assert changed.json()["blocked"]["total"] == 1
    # The ETag hashes the body: a 304 never hides a change, and an unauthorised poll learns nothing.
    assert call(api, "GET", f"{API}/site?site=vendor.test", headers=[("If-None-Match", etag)]).status == 401


# -- writes -------------------------------------------------------------------------------------


def test_pausing_and_resuming_protection(api, token):
    paused = call(api, "POST", f"{API}/site/protection", token=token,
                  payload={"site": "https://www.vendor.test/page", "paused": True})
    assert paused.status == 200 and paused.header("etag")
    assert paused.json()["site"] == "vendor.test" and paused.json()["protection"] is False
    assert settings()["paused"] is True
    resumed = call(api, "POST", f"{API}/site/protection", token=token, payload={"site": "vendor.test", "paused": False})
    assert resumed.json()["protection"] is True and settings() == UNTOUCHED


@pytest.mark.parametrize("mode, stored", [("session", "session"), ("CAP:30", "cap:30"), ("block", "block"),
                                          ("allow", "allow"), (None, None), ("default", None)])
def test_setting_a_cookie_mode(api, token, mode, stored):
    call(api, "POST", f"{API}/site/cookies", token=token, payload={"site": "vendor.test", "mode": "block"})
    answer = call(api, "POST", f"{API}/site/cookies", token=token, payload={"site": "vendor.test", "mode": mode})
    assert answer.status == 200
    assert answer.json()["settings"]["cookie_mode"] == stored
    assert settings()["cookie_mode"] == stored


@pytest.mark.parametrize("mode", ["cap:0", "cap:401", "forever", "", 7, True])
def test_a_bad_cookie_mode_is_400_and_keeps_the_old_one(api, token, mode):
    call(api, "POST", f"{API}/site/cookies", token=token, payload={"site": "vendor.test", "mode": "session"})
    answer = call(api, "POST", f"{API}/site/cookies", token=token, payload={"site": "vendor.test", "mode": mode})
    assert answer.status == 400
    assert settings()["cookie_mode"] == "session"


def test_allowing_and_disallowing_a_third_party(api, token):
    allowed = call(api, "POST", f"{API}/site/third-party", token=token,
                   payload={"site": "vendor.test", "other": "https://www.paypal.com/", "allowed": True})
    assert allowed.json()["settings"]["allowed_third_parties"] == ["paypal.com"]
    assert settings()["allowed_third_parties"] == ["paypal.com"]
    call(api, "POST", f"{API}/site/third-party", token=token,
         payload={"site": "vendor.test", "other": "paypal.com", "allowed": False})
    assert settings() == UNTOUCHED
    same = call(api, "POST", f"{API}/site/third-party", token=token,
                payload={"site": "vendor.test", "other": "www.vendor.test", "allowed": True})
    assert same.status == 400 and "itself" in same.json()["error"]


def test_an_alias_needs_aliases_set_up_then_is_made_once(api, token):
    refused = call(api, "POST", f"{API}/site/alias", token=token, payload={"site": "vendor.test"})
    assert refused.status == 409 and "whoknows alias setup" in refused.json()["error"]
    with open_ledger() as ledger:
        save_setup(ledger, parse_setup(domain="me.example"))
    made = call(api, "POST", f"{API}/site/alias", token=token, payload={"site": "https://www.vendor.test/"})
    assert made.status == 200 and made.json()["alias"].endswith("@me.example")
    again = call(api, "POST", f"{API}/site/alias", token=token, payload={"site": "vendor.test"})
    assert again.json() == made.json()
    assert call(api, "GET", f"{API}/site?site=vendor.test", token=token).json()["alias"] == made.json()["alias"]


def test_the_vendor_record_is_what_vendor_show_prints(api, token):
    from whoknows.vendor_records import vendor_record

    missing = call(api, "GET", f"{API}/vendor?site=vendor.test", token=token)
    assert missing.status == 404 and "vendor.test" in missing.json()["error"]
    call(api, "POST", f"{API}/site/protection", token=token, payload={"site": "vendor.test", "paused": True})
    answer = call(api, "GET", f"{API}/vendor?site=www.vendor.test", token=token)
    assert answer.status == 200
    with open_ledger() as ledger:
        assert answer.json() == json.loads(json.dumps(vendor_record(ledger, "vendor.test"), default=str))
    assert call(api, "GET", f"{API}/vendor", token=token).status == 400


def test_the_company_picture_is_what_the_report_draws_and_needs_the_token(api, token):
    from whoknows.company_picture import picture
    from whoknows.company_sightings import CompanySightings, write_batch

    sightings = CompanySightings()
    sightings.request("vendor.test", "www.google-analytics.com", blocked=False)
    sightings.request("other.test", "stats.g.doubleclick.net", blocked=True)
    with open_ledger() as ledger:
        write_batch(ledger, sightings.take())
    assert call(api, "GET", f"{API}/companies").status == 401
    answer = call(api, "GET", f"{API}/companies", token=token)
    assert answer.status == 200
    body = answer.json()
    assert [(c["company"], c["sites"], c["blocked"], c["reached"]) for c in body["companies"]] == [("Google", 2, 1, 1)]
    assert {(e["source"], e["kind"]) for e in body["graph"]["edges"]} == {
        ("site:vendor.test", "reached"), ("site:other.test", "blocked")}
    with open_ledger() as ledger:
        assert body == json.loads(json.dumps(picture(ledger), default=str))
    assert call(api, "GET", f"{API}/companies?sort=name", token=token).status == 400
    assert call(api, "POST", f"{API}/companies", token=token, payload={}).status == 405


def test_a_failing_backend_is_a_500_with_one_line_and_no_traceback_for_the_client(tokens, token, caplog):
    class Broken(LedgerSites):
        def view(self, site):
            raise RuntimeError("disk on fire")

    api = ControlAPI(Broken(), tokens, port=PORT)
    with caplog.at_level(logging.ERROR, logger="whoknows.control"):
        answer = call(api, "GET", f"{API}/site?site=vendor.test", token=token)
    assert answer.status == 500
    assert answer.json() == {"error": "internal error (RuntimeError)"}
    assert "disk on fire" in caplog.text  # the log has the details


# -- pairing ------------------------------------------------------------------------------------


def pair(api, code: str, **kwargs) -> control.Response:
    return call(api, "POST", f"{API}/pair", payload={"code": code}, **kwargs)


def test_pairing_gives_a_token_for_the_code_once(api, tokens):
    assert pair(api, "ABCD-EFGH").status == 403  # nothing pending
    code = control.new_pairing_code(clock=tokens.clock)
    assert len(code.code) == 9 and code.code[4] == "-"
    answer = pair(api, code.code, origin="chrome-extension://abcdefghijklmnop")
    assert answer.status == 200
    token = answer.json()["token"]
    assert call(api, "GET", f"{API}/ping", token=token).json()["paired"] is True
    replay = pair(api, code.code)
    assert replay.status == 403 and "no pairing code is waiting" in replay.json()["error"]


def test_a_code_is_read_the_way_people_type_it(api, tokens):
    code = tokens.new_pairing_code().code
    typed = code.replace("-", " ").lower().replace("0", "o").replace("1", "l")
    assert pair(api, f"  {typed} ").status == 200


def test_a_pairing_code_expires(api, tokens, clock):
    code = tokens.new_pairing_code()
    assert code.expires_at == clock.now + control.PAIRING_TTL_SECONDS
    clock.now += control.PAIRING_TTL_SECONDS - 1
    assert tokens.pending() is not None
    clock.now += 1
    assert tokens.pending() is None
    answer = pair(api, code.code)
    assert answer.status == 403 and "expired" in answer.json()["error"]
    assert not tokens.paired()


def test_five_wrong_codes_cancel_the_code(api, tokens):
    code = tokens.new_pairing_code().code
    wrong = "ZZZZ-ZZZZ" if code != "ZZZZ-ZZZZ" else "YYYY-YYYY"
    for left in (4, 3, 2, 1):
        answer = pair(api, wrong)
        assert answer.status == 403
        assert f"({left} {'try' if left == 1 else 'tries'} left)" in answer.json()["error"]
        assert tokens.pending().failures == 5 - left
    last = pair(api, wrong)
    assert last.status == 403 and "cancelled" in last.json()["error"]
    assert tokens.pending() is None
    assert pair(api, code).status == 403  # the right code no longer works
    assert not tokens.paired()


def test_text_that_cannot_be_a_code_is_400_and_not_a_try(api, tokens):
    tokens.new_pairing_code()
    for text in ["", "1234", "ABCD-EFGH-IJ", "ÄBCD-EFGH", "ABCD_EFGH"]:
        assert pair(api, text).status == 400, text
    assert call(api, "POST", f"{API}/pair", payload={"code": 12345678}).status == 400
    assert call(api, "POST", f"{API}/pair", payload={}).status == 400
    assert tokens.pending().failures == 0


def test_a_new_code_replaces_the_old_one(api, tokens):
    old = tokens.new_pairing_code().code
    new = tokens.new_pairing_code().code
    assert old != new
    assert pair(api, old).status == 403
    assert pair(api, new).status == 200


def test_codes_and_tokens_stay_out_of_the_ledger_and_the_log(api, tokens, caplog):
    with caplog.at_level(logging.DEBUG):
        code = tokens.new_pairing_code().code
        pair(api, "ZZZZ-ZZZZ" if code != "ZZZZ-ZZZZ" else "YYYY-YYYY")
        token = pair(api, code).json()["token"]
        call(api, "GET", f"{API}/site?site=vendor.test", token=token[::-1])
        call(api, "POST", f"{API}/site/protection", token=token, payload={"site": "vendor.test", "paused": True})
    files = [p for p in data_dir().iterdir() if p.is_file()]
    ledger_bytes = b"".join(p.read_bytes() for p in files if p.name.startswith("ledger"))
    assert ledger_bytes and token.encode() not in ledger_bytes and code.encode() not in ledger_bytes
    for secret in (token, token[::-1], code, code.replace("-", "")):
        assert secret not in caplog.text
    assert "refused GET /api/v1/site: 401" in caplog.text  # refusals are logged, without the query


def test_refusals_are_counted_by_reason(api, token):
    call(api, "GET", f"{API}/ping", origin="https://other.test")
    call(api, "GET", f"{API}/ping", host="attacker.test:18081")
    call(api, "GET", f"{API}/site?site=vendor.test")
    call(api, "GET", f"{API}/site/protection", token=token)
    call(api, "POST", f"{API}/site/protection", token=token, body=b"site=x", content_type="text/plain")
    assert dict(api.refusals) == {"web page origin": 1, "foreign Host header": 1, "no or bad token": 1,
                                  "wrong method": 1, "not a JSON request": 1}
