"""A short soak (15 s; bench/bench_soak.py runs minutes): hundreds of requests of every kind
through the real proxy at once, none fails, and the ledger grows by counts, not by rows.

Memory is left to the benchmark: a 15 s run on a shared machine says nothing reliable about growth.
"""

from __future__ import annotations

import functools
import os

import pytest

from e2e_soak import CLIENTS
from e2e_soak import LedgerSize
from e2e_soak import SoakResult
from e2e_soak import large
from e2e_soak import memory_map
from e2e_soak import rss_mb
from e2e_soak import soak

pytestmark = pytest.mark.slow

SECONDS = 15.0
WARMUP = 5.0
MB = 1024 * 1024
# Above the 1 MB streaming threshold, small enough for `make test` on a shared machine.
CLIENTS_HERE = {**CLIENTS, "large": (functools.partial(large, download_bytes=2 * MB, upload_bytes=MB), 1)}


@pytest.fixture(scope="module")
def soaked(tmp_path_factory):
    return soak(tmp_path_factory.mktemp("soak"), SECONDS, WARMUP, CLIENTS_HERE)


def test_no_request_of_any_kind_fails_and_the_proxy_stops_cleanly(soaked):
    assert soaked.failures == 0, [reason for tally in soaked.tallies.values() for reason in tally.reasons]
    after_warmup = {kind: tally.requests - soaked.warm_tallies[kind] for kind, tally in soaked.tallies.items()}
    assert min(after_warmup.values()) >= 20, after_warmup  # every kind really ran, all along
    assert soaked.requests >= 1000
    assert soaked.proxy_exit == 0
    assert soaked.log_failures == []


def test_the_ledger_counts_the_requests_after_the_warmup_in_the_rows_it_already_had(soaked):
    warm, end = soaked.ledger_warm, soaked.ledger_end
    assert warm.rows["observations"] >= 4 and warm.rows["leaks"] >= 1  # the warm-up recorded them
    assert soaked.ledger_rows_growth == {}, "rows added per request after the warm-up"
    browsed = soaked.tallies["browse"].requests - soaked.warm_tallies["browse"]
    # Each browsing request is at least one event (a cookie, a third party, a leak): all counted.
    assert end.events - warm.events >= browsed


def _result(samples):
    return SoakResult(60, 10, True, {}, {}, samples, LedgerSize({}, 0), LedgerSize({}, 0), 0, [])


def test_the_bench_tells_a_steady_leak_from_memory_that_levels_off():
    leak = _result([(t, 100 + 0.5 * t / 60) for t in range(0, 600)])  # +0.5 MB/min all along
    assert not leak.rss_flattens
    assert leak.rss_early_slope_mb_per_min == pytest.approx(0.5) == leak.rss_late_slope_mb_per_min
    filling = _result([(t, 100 + 2 * min(t, 200) / 60) for t in range(0, 600)])  # a cache full after 200 s
    assert filling.rss_flattens and filling.rss_late_slope_mb_per_min == pytest.approx(0)
    assert _result([(t, 100 + (t % 7) * 0.01) for t in range(0, 600)]).rss_flattens  # flat, with noise


def test_where_the_memory_is_adds_up_to_the_rss():
    where = memory_map(os.getpid())
    assert where.files > 1 and where.anonymous > 1  # the interpreter's code; its objects
    assert where.total == pytest.approx(rss_mb(os.getpid()), rel=0.1)
