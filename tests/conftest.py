"""Shared fixtures: every test gets its own data directory (a real, empty one)."""

from pathlib import Path

import pytest
from hypothesis import settings

# No time limit per generated example: tests assert behaviour, never speed (that is bench/'s job),
# and on a loaded machine one example can take 400 ms (a 200 ms deadline failed a cookie test).
settings.register_profile("whoknows", deadline=None)
settings.load_profile("whoknows")

SHARED = Path(__file__).resolve().parents[1].parent / "shared"


@pytest.fixture(autouse=True)
def whoknows_home(tmp_path, monkeypatch) -> Path:
    """A fresh `$WHOKNOWS_HOME` for each test, so no test sees another's ledger or keys."""
    home = tmp_path / "whoknows-home"
    monkeypatch.setenv("WHOKNOWS_HOME", str(home))
    # Secrets (the alias key) go to the fallback file in that home, never to the developer's keyring.
    monkeypatch.setenv("PYTHON_KEYRING_BACKEND", "keyring.backends.fail.Keyring")
    return home


@pytest.fixture
def shared_data() -> Path:
    """`../shared/data` (lists, requests, companies); tests that need it skip loudly without it."""
    data = SHARED / "data"
    if not data.is_dir():
        pytest.skip(f"shared test data not found at {data}")
    return data


def pytest_report_header(config):
    return f"whoknows tests: shared data at {SHARED} ({'present' if SHARED.is_dir() else 'MISSING'})"




def pytest_collection_modifyitems(config, items):
    """Run the end-to-end tests last: fast feedback first, and Playwright's sync API keeps an event
    loop marked as running in the main thread while its session-scoped browser lives, which would
    break every later asyncio test (pytest-asyncio refuses to start a loop inside a running one)."""
    e2e = [item for item in items if "e2e" in item.path.parts]
    items[:] = [item for item in items if "e2e" not in item.path.parts] + e2e
