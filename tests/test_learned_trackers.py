"""Learned trackers (whoknows.learned_trackers): learned from what the proxy's batched writers record,
on exactly 3 sites, from each kind of evidence; the decision blocks them but on their own site; the
user's allow and forget."""

import pytest

from whoknows import learned_trackers
from whoknows.decision import Protection, decide, describe_typed
from whoknows.errors import InputError
from whoknows.leak_records import FoundValue, LeakFlusher, PendingLeaks, SharedIdKey, classify
from whoknows.learned_trackers import LearnedTrackers, allow, forget, list_trackers, relearn
from whoknows.ledger import open_ledger
from whoknows.observations import CookieSeen, Flusher, Observations
from whoknows.site_settings import SiteSettingsStore

REF = "a•••@example.org [me:0123abcd]"


def _cookie_set_by(third_party: str, *pages: str, clock=None) -> None:
    """`third_party` set a cookie on each page site, flushed as the proxy flushes (its hook relearns)."""
    observations = Observations(clock=clock) if clock else Observations()
    for page in pages:
        observations.cookie(page, CookieSeen("uid", third_party, True, 3600, None, True, False, "block"))
    assert Flusher(observations, open_ledger).flush()


def _identifier_to(third_party: str, page: str) -> None:
    pending = PendingLeaks()
    pending.record([(SharedIdKey(page, "_vid", third_party, f"t.{third_party}", "strip"), {})])
    assert LeakFlusher(pending, open_ledger).flush()


def _value_to(third_party: str, page: str) -> None:
    pending = PendingLeaks()
    pending.record(classify(page, third_party, f"px.{third_party}", "GET", "https://px/?e=",
                            [FoundValue("email", REF, "sha256", "normalised", "url")], blocked=False))
    assert LeakFlusher(pending, open_ledger).flush()


def _learned() -> dict:
    with open_ledger() as ledger:
        return {t.domain: t for t in list_trackers(ledger)}


def test_two_sites_teach_nothing_the_third_makes_a_learned_tracker_with_its_sites_and_evidence():
    _cookie_set_by("cdn.test", "a.test", "b.test")
    assert _learned() == {}
    _cookie_set_by("cdn.test", "c.test")
    tracker = _learned()["cdn.test"]
    assert (tracker.state, tracker.sites, tracker.evidence) == ("learned", ("a.test", "b.test", "c.test"), ("cookie",))
    assert tracker.learned_at is not None


def test_a_first_party_cookie_and_the_sites_own_cookies_teach_nothing():
    observations = Observations()
    for page in ("a.test", "b.test", "c.test"):
        observations.cookie(page, CookieSeen("sid", page, False, 3600, 3600, False, False, "allow"))
        observations.cookie(page, CookieSeen("pref", "cdn.test", False, 3600, 3600, False, False, "allow"))
    assert Flusher(observations, open_ledger).flush()
    assert _learned() == {}


def test_each_kind_of_evidence_counts_and_they_add_up_across_sites():
    _cookie_set_by("mix.test", "a.test")
    _identifier_to("mix.test", "b.test")
    _value_to("mix.test", "c.test")
    tracker = _learned()["mix.test"]
    assert tracker.sites == ("a.test", "b.test", "c.test")
    assert tracker.evidence == ("cookie", "identifier", "value")
    for kind, teach in (("identifier", _identifier_to), ("value", _value_to)):
        for page in ("x.test", "y.test", "z.test"):
            teach(f"{kind}.test", page)
        assert _learned()[f"{kind}.test"].evidence == (kind,)


def test_the_decision_blocks_a_learned_tracker_on_a_fourth_site_but_not_on_its_own_pages():
    _cookie_set_by("cdn.test", "a.test", "b.test", "c.test")
    with open_ledger() as ledger:
        protection = Protection(settings_of=SiteSettingsStore(ledger).get, knowledge=(learned_trackers.load(ledger),))
    verdict = decide(describe_typed("https://js.cdn.test/t.js", "script", "https://d.test/"), protection)
    assert verdict.action == "block"
    assert verdict.filter.reason == "learned: seen tracking on a.test, b.test, c.test"
    assert verdict.filter.decision.list == "whoknows"
    own = decide(describe_typed("https://www.cdn.test/", "document"), protection)
    assert own.action == "pass" and not own.filter.tracker
    from_itself = decide(describe_typed("https://js.cdn.test/t.js", "script", "https://cdn.test/"), protection)
    assert from_itself.action == "pass"


def test_allow_lets_it_load_without_cookies_or_referer_and_forget_unlearns_it():
    _cookie_set_by("cdn.test", "a.test", "b.test", "c.test")
    with open_ledger() as ledger:
        assert allow(ledger, "https://js.cdn.test/x") == ("cdn.test", True)
        assert allow(ledger, "cdn.test") == ("cdn.test", False)
        protection = Protection(knowledge=(learned_trackers.load(ledger),))
    verdict = decide(describe_typed("https://js.cdn.test/t.js", "script", "https://d.test/page"), protection)
    assert verdict.action == "pass"
    assert verdict.filter.tracker and "let in by you" in verdict.filter.reason
    assert verdict.referer.referer is None  # dropped: it is still a tracker
    assert str(verdict.cookies.mode) == "block"
    with open_ledger() as ledger:
        was = forget(ledger, "cdn.test")
        assert was.state == "allowed"
        assert relearn(ledger) == []  # what was seen before the forget no longer counts
        protection = Protection(knowledge=(learned_trackers.load(ledger),))
        with pytest.raises(InputError, match="not a learned tracker"):
            forget(ledger, "cdn.test")
    assert decide(describe_typed("https://js.cdn.test/t.js", "script", "https://d.test/"), protection).action == "pass"
    assert _learned()["cdn.test"].state == "forgotten"


def test_after_a_forget_three_sites_seen_anew_teach_it_again():
    _cookie_set_by("cdn.test", "a.test", "b.test", "c.test", clock=lambda: 1_700_000_000.0)
    with open_ledger() as ledger:
        forget(ledger, "cdn.test")
    _cookie_set_by("cdn.test", "a.test", "b.test", clock=lambda: 4_000_000_000.0)
    assert _learned()["cdn.test"].state == "forgotten"
    _cookie_set_by("cdn.test", "d.test", clock=lambda: 4_000_000_000.0)
    tracker = _learned()["cdn.test"]
    assert (tracker.state, tracker.sites) == ("learned", ("a.test", "b.test", "d.test"))


def test_allowed_before_learned_stays_allowed_when_learned_and_bad_domains_are_refused():
    with open_ledger() as ledger:
        allow(ledger, "cdn.test")
        with pytest.raises(InputError):
            allow(ledger, "not a domain")
    _cookie_set_by("cdn.test", "a.test", "b.test", "c.test")
    tracker = _learned()["cdn.test"]
    assert (tracker.state, tracker.sites) == ("allowed", ("a.test", "b.test", "c.test"))


def test_the_filter_list_holds_only_what_is_blocked():
    _cookie_set_by("cdn.test", "a.test", "b.test", "c.test")
    _cookie_set_by("ok.test", "a.test", "b.test", "c.test")
    with open_ledger() as ledger:
        allow(ledger, "ok.test")
        text = learned_trackers.filter_list(list_trackers(ledger))
    assert [line for line in text.splitlines() if not line.startswith(("!", "["))] == ["||cdn.test^$third-party"]


def test_a_list_in_memory_answers_the_same_for_every_host_of_the_domain():
    known = LearnedTrackers([learned_trackers.LearnedTracker("cdn.test", "learned", ("a.test", "b.test", "c.test"),
                                                             ("cookie",), "2026-01-01T00:00:00Z", "2026-01-01T00:00:00Z")])
    for url in ("https://cdn.test/x", "https://deep.js.cdn.test/y"):
        assert known.tracker_reason(describe_typed(url, "image", "https://d.test/")) is not None
    assert known.tracker_reason(describe_typed("https://cdnx.test/", "image", "https://d.test/")) is None


def test_a_site_that_lets_the_third_party_in_teaches_nothing():
    with open_ledger() as ledger:
        SiteSettingsStore(ledger).allow_third_party("c.test", "pay.test")  # a payment provider chosen there
    _cookie_set_by("pay.test", "a.test", "b.test", "c.test")
    assert _learned() == {}
    _cookie_set_by("pay.test", "d.test")
    assert _learned()["pay.test"].sites == ("a.test", "b.test", "d.test")
