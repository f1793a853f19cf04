"""What the engine holds for EasyList + EasyPrivacy: the proxy keeps it all day, next to mitmproxy.

Counted with tracemalloc (Python's own allocations: the same on every machine for one Python
version) once loaded from the compiled cache, as the proxy loads it. It was 47 MB
with a 16-field tuple per filter; plain `||host^` filters as host keys and shared values made it
17 MB. The bound leaves room for the lists to grow, not for a return to one object per filter.
bench/bench_memory.py measures the running proxy's RSS.
"""

import gc
import tracemalloc

import pytest

from whoknows.filters import FilterEngine

ENGINE_MB = 25


@pytest.fixture
def texts(shared_data):
    return [(shared_data / f"filterlists/{name}.txt").read_text() for name in ("easylist", "easyprivacy")]


def test_the_engine_for_easylist_and_easyprivacy_is_small(texts, tmp_path):
    engine = FilterEngine()
    for name, text in zip(("easylist", "easyprivacy"), texts):
        engine.add_list(text, name)
    engine.save(tmp_path / "engine.cache")  # what the proxy loads (a build from text holds the same)
    del engine
    gc.collect()
    tracemalloc.start()
    try:
        loaded = FilterEngine.load(tmp_path / "engine.cache")
        assert loaded.match("https://www.google-analytics.com/collect", "ping", "https://shop.example/").action == "block"
        gc.collect()
        held_mb = tracemalloc.get_traced_memory()[0] / 2**20
    finally:
        tracemalloc.stop()
    assert sum(stats.filters_used for stats in loaded.lists.values()) > 90_000  # the whole lists
    assert held_mb < ENGINE_MB, f"{held_mb:.1f} MB for EasyList + EasyPrivacy"
