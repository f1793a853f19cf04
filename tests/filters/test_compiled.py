"""The compiled cache: same decisions after save/load, and a clear error for a bad file."""

import json
import os
import stat

import pytest

from whoknows.errors import WhoknowsError
from whoknows.filters import FilterEngine
from whoknows.filters import compiled

LINES = """\
! a small list with one of everything
||ads.example^
||cdn.example/ads/*.js$script,third-party
/banner/*/ad.$image,domain=news.example|~sport.news.example
/\\/track[0-9]+\\.gif/$image
@@||ads.example/consent.js
||must.example^$important
||lib.example/x.js$script,redirect=noop.js:5
$removeparam=utm_source
@@||keep.example^$removeparam
||cancelled.example^
||cancelled.example^$badfilter
/promo.$from=google.*
example.com##.ad
"""

REQUESTS = [
    ("https://ads.example/a.js", "script", "https://news.example/"),
    ("https://ads.example/consent.js", "script", "https://news.example/"),
    ("https://cdn.example/ads/x.js", "script", "https://news.example/"),
    ("https://img.example/banner/1/ad.png", "image", "https://news.example/"),
    ("https://img.example/banner/1/ad.png", "image", "https://sport.news.example/"),
    ("https://t.example/track12.gif", "image", None),
    ("https://must.example/", "script", None),
    ("https://lib.example/x.js", "script", None),
    ("https://shop.example/?utm_source=x&id=1", "document", None),
    ("https://keep.example/?utm_source=x", "document", None),
    ("https://cancelled.example/", "script", None),
    ("https://cdn.example/promo.js", "script", "https://www.google.co.uk/"),
    ("https://fine.example/", "script", None),
]


def decisions(engine):
    return [engine.match(url, type, source) for url, type, source in REQUESTS]


def test_round_trip_keeps_decisions_and_stats(tmp_path):
    engine = FilterEngine()
    engine.add_list(LINES, "mine")
    engine.add_list("||other.example^", "other")
    path = tmp_path / "filters.cache"
    engine.save(path)
    loaded = FilterEngine.load(path)
    assert decisions(loaded) == decisions(engine)
    assert {d.action for d in decisions(loaded)} == {"block", "exception", "redirect", "allow"}
    assert loaded.lists == engine.lists
    assert loaded.match("https://other.example/").list == "other"
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600


def test_a_loaded_engine_takes_more_lists(tmp_path):
    engine = FilterEngine()
    engine.add_list(LINES, "mine")
    engine.save(tmp_path / "c")
    loaded = FilterEngine.load(tmp_path / "c")
    loaded.add_list("||more.example^\n||ads.example^$badfilter", "more")
    assert loaded.match("https://more.example/").action == "block"
    assert loaded.match("https://ads.example/a.js").action == "allow"
    assert loaded.match("https://must.example/").action == "block"


def test_round_trip_of_the_real_lists(tmp_path, shared_data):
    engine = FilterEngine()
    engine.add_list((shared_data / "filterlists/easylist.txt").read_text(), "easylist")
    engine.add_list((shared_data / "filterlists/easyprivacy.txt").read_text(), "easyprivacy")
    engine.save(tmp_path / "big.cache")
    loaded = FilterEngine.load(tmp_path / "big.cache")
    requests = json.loads((shared_data / "requests/adblock-rust-matching-requests.json").read_text())
    for request in requests[:2000]:
        args = (request["url"], request["type"], request["sourceUrl"])
        assert loaded.match(*args) == engine.match(*args), args


def _saved(tmp_path):
    engine = FilterEngine()
    engine.add_list(LINES, "mine")
    path = tmp_path / "filters.cache"
    engine.save(path)
    return path


@pytest.mark.parametrize(
    "damage",
    [
        lambda data: data[: len(data) // 2],  # truncated
        lambda data: data[:-1] + bytes([data[-1] ^ 1]),  # one bit flipped in the payload
        lambda data: b"",  # empty
        lambda data: b"\x80\x04\x95 not our format at all",  # e.g. a pickle
        lambda data: data.replace(compiled.MAGIC, b"X" * len(compiled.MAGIC), 1),
    ],
)
def test_a_damaged_cache_is_refused(tmp_path, damage):
    path = _saved(tmp_path)
    path.write_bytes(damage(path.read_bytes()))
    with pytest.raises(WhoknowsError):
        FilterEngine.load(path)


def test_a_cache_from_another_version_is_refused(tmp_path):
    path = _saved(tmp_path)
    data = bytearray(path.read_bytes())
    data[len(compiled.MAGIC) + 1] = 99  # format version
    path.write_bytes(bytes(data))
    with pytest.raises(WhoknowsError, match="another version"):
        FilterEngine.load(path)


def test_a_well_formed_payload_of_the_wrong_shape_is_refused(tmp_path):
    import hashlib
    import marshal
    import sys

    payload = marshal.dumps(("not", "the", "right", "shape"))
    header = compiled._HEADER.pack(
        compiled.FORMAT_VERSION, *sys.version_info[:2], hashlib.sha256(payload).digest()
    )
    path = tmp_path / "shape.cache"
    path.write_bytes(compiled.MAGIC + header + payload)
    with pytest.raises(WhoknowsError, match="damaged"):
        FilterEngine.load(path)


def test_saving_where_it_cannot_write_is_a_clear_error(tmp_path):
    engine = FilterEngine()
    engine.add_list("||ads.example^", "mine")
    with pytest.raises(WhoknowsError, match="cannot write"):
        engine.save(tmp_path / "no-such-dir" / "filters.cache")


def test_a_missing_cache_is_a_clear_error(tmp_path):
    with pytest.raises(WhoknowsError, match="cannot read"):
        FilterEngine.load(tmp_path / "nope")


def test_a_cache_in_an_older_format_is_rebuilt_and_removed(whoknows_home, tmp_path, monkeypatch):
    from whoknows.filters import engine_cache, subscriptions

    mine = tmp_path / "mine.txt"
    mine.write_text(LINES)
    subscriptions.add_subscription(str(mine))
    current = compiled.FORMAT_VERSION
    monkeypatch.setattr(compiled, "FORMAT_VERSION", current - 1)
    old = engine_cache.open_engine()
    monkeypatch.setattr(compiled, "FORMAT_VERSION", current)

    loaded = engine_cache.open_engine()

    assert not loaded.from_cache and loaded.warnings == []  # another key: never even tried
    assert sorted(whoknows_home.glob("engine.*.cache")) == [loaded.cache_path] != [old.cache_path]
    assert decisions(loaded.engine) == decisions(old.engine)
    assert engine_cache.open_engine().from_cache
