"""The compiled engine cache: reused across processes, rebuilt when any list changes."""

import json
import os
import subprocess
import sys
from pathlib import Path

from whoknows.filters import engine_cache, subscriptions

REPO = Path(__file__).resolve().parents[2]

# Runs `open_engine()` in a fresh interpreter, as the proxy would at startup.
PROBE = """
import json
from whoknows.filters.engine_cache import open_engine
loaded = open_engine()
decision = loaded.engine.match("https://tracker.test/p.gif")
print(json.dumps({"from_cache": loaded.from_cache, "cache": str(loaded.cache_path),
                  "action": decision.action, "list": decision.list, "warnings": loaded.warnings}))
"""


def probe(home: Path) -> dict:
    env = dict(os.environ, WHOKNOWS_HOME=str(home))
    done = subprocess.run(
        [sys.executable, "-c", PROBE], env=env, cwd=REPO, capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def cache_files(home: Path) -> list[Path]:
    return sorted(home.glob("engine.*.cache"))


def add_mine(tmp_path, text="||tracker.test^\n") -> Path:
    mine = tmp_path / "mine.txt"
    mine.write_text(text)
    subscriptions.add_subscription(str(mine))
    return mine


def test_a_second_process_loads_the_engine_from_the_cache(whoknows_home, tmp_path):
    add_mine(tmp_path)
    built = engine_cache.open_engine()
    assert not built.from_cache
    (cache,) = cache_files(whoknows_home)
    assert cache == built.cache_path
    stamp = cache.stat().st_mtime_ns

    seen = probe(whoknows_home)

    assert seen == {"from_cache": True, "cache": str(cache), "action": "block", "list": "mine", "warnings": []}
    assert cache.stat().st_mtime_ns == stamp, "loading must not rewrite the cache"
    assert cache.stat().st_mode & 0o777 == 0o600


def test_editing_a_list_rebuilds_the_cache(whoknows_home, tmp_path):
    mine = add_mine(tmp_path)
    old = engine_cache.open_engine().cache_path

    mine.write_text("||other.test^\n")
    seen = probe(whoknows_home)

    assert seen["from_cache"] is False
    assert seen["action"] == "allow"
    assert cache_files(whoknows_home) == [Path(seen["cache"])]
    assert Path(seen["cache"]) != old, "the stale cache is replaced, not reused"
    assert probe(whoknows_home)["from_cache"] is True


def test_same_size_rewrite_is_still_noticed(whoknows_home, tmp_path):
    mine = add_mine(tmp_path, "||aaaaaaa.test^\n")
    first = engine_cache.open_engine()
    stamp = mine.stat().st_mtime_ns

    mine.write_text("||tracker.test^\n")  # same length
    os.utime(mine, ns=(stamp, stamp))  # and the same mtime: only the content hash differs

    loaded = engine_cache.open_engine()
    assert not loaded.from_cache
    assert loaded.key != first.key
    assert loaded.engine.match("https://tracker.test/p.gif").action == "block"


def test_removing_a_list_changes_the_engine(whoknows_home, tmp_path):
    add_mine(tmp_path)
    engine_cache.open_engine()

    subscriptions.remove_subscription("mine")
    loaded = engine_cache.open_engine()

    assert not loaded.from_cache
    assert loaded.engine.match("https://tracker.test/p.gif").action == "allow"


def test_a_damaged_cache_is_rebuilt_with_a_warning(whoknows_home, tmp_path):
    add_mine(tmp_path)
    cache = engine_cache.open_engine().cache_path
    cache.write_bytes(b"not an engine")

    loaded = engine_cache.open_engine()

    assert not loaded.from_cache
    assert any("could not be loaded" in w for w in loaded.warnings)
    assert loaded.engine.match("https://tracker.test/p.gif").action == "block"
    assert engine_cache.open_engine().from_cache, "the rebuilt cache replaces the damaged one"
