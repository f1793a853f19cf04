"""Which top-level site a frame belongs to (FrameMemory), and which frames run sandboxed."""

import pytest

from whoknows.frames import FrameMemory
from whoknows.frames import origin_of
from whoknows.frames import sandboxes

FRAME = "https://ads.tracker.test/frame.html?slot=1"


def test_a_requests_source_that_is_a_served_frame_belongs_to_the_site_that_embedded_it():
    memory = FrameMemory()
    assert memory.top_site(FRAME) is None
    memory.remember_frame(FRAME, "shop.test")
    assert memory.top_site(FRAME) == "shop.test"  # same-origin requests: the frame's full URL
    assert memory.top_site("https://ads.tracker.test/") == "shop.test"  # cross-origin: its origin
    assert memory.top_site("https://ads.tracker.test") == "shop.test"  # an Origin header
    assert memory.top_site("https://other.tracker.test/") is None
    assert memory.top_site("http://ads.tracker.test/") is None  # another origin
    assert memory.top_site(None) is None


def test_the_most_recent_embedding_wins_for_an_origin_but_each_url_keeps_its_own():
    memory = FrameMemory()
    memory.remember_frame(FRAME, "shop.test")
    memory.remember_frame("https://ads.tracker.test/frame.html?slot=2", "news.test")
    assert memory.top_site(FRAME) == "shop.test"
    assert memory.top_site("https://ads.tracker.test/") == "news.test"


def test_an_origin_served_as_a_top_level_page_is_a_page_again():
    memory = FrameMemory()
    memory.remember_frame(FRAME, "shop.test")
    memory.remember_page("https://ads.tracker.test/account")
    assert memory.top_site("https://ads.tracker.test/") is None
    assert memory.top_site(FRAME) == "shop.test"  # the frame's own URL still names the frame
    memory.remember_page(FRAME)
    assert memory.top_site(FRAME) is None


def test_a_frame_with_no_known_top_site_is_not_remembered():
    memory = FrameMemory()
    memory.remember_frame(FRAME, None)
    assert len(memory) == 0


def test_memory_is_bounded_and_drops_the_oldest():
    memory = FrameMemory(size=3)
    for i in range(5):
        memory.remember_frame(f"https://f{i}.test/x", f"s{i}.test")
    assert memory.top_site("https://f0.test/x") is None
    assert memory.top_site("https://f4.test/x") == "s4.test"
    assert len(memory) == 6  # 3 URLs, 3 origins


@pytest.mark.parametrize("url, expected", [
    ("https://A.test/x?y", "https://a.test"), ("https://a.test:443/", "https://a.test"),
    ("http://a.test:8080/", "http://a.test:8080"), ("null", None), ("https://[::1]:99/", "https://[::1]:99"),
])
def test_origin_of(url, expected):
    assert origin_of(url) == expected


@pytest.mark.parametrize("type, top, site, tracker, expected", [
    ("subdocument", "shop.test", "tracker.test", True, True),
    ("subdocument", "shop.test", "tracker.test", False, False),  # not a tracker: an embed, a payment
    ("subdocument", "shop.test", "shop.test", True, False),  # the site's own frame
    ("subdocument", None, "tracker.test", True, False),  # top site unknown
    ("script", "shop.test", "tracker.test", True, False),
])
def test_only_a_known_trackers_third_party_frame_is_sandboxed(type, top, site, tracker, expected):
    assert sandboxes(type, top, site, tracker) is expected
