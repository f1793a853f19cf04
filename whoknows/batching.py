"""Batched ledger writes from the proxy: counts kept in memory, written by a thread of their own.

The proxy's recorders (`observations.Observations`, `leak_records.PendingLeaks`,
`company_sightings.CompanySightings`, `terms_records.PendingOffers`) only update an in-memory
batch on the request path, kept in `PendingTallies`; a `BatchFlusher` subclass writes that batch
to the ledger every few seconds and once more at shutdown, so the request path never waits for
SQLite. Each write is one `Ledger.batch_write` transaction with a short lock wait: a ledger that
is locked (another whoknows is writing) or unwritable keeps nothing back, the batch goes back to
the recorder and is written by the next flush.
"""

from __future__ import annotations

import logging
import sqlite3
import threading
import time
from collections.abc import Callable, Hashable, Mapping
from typing import Any, Generic, Protocol, Self, TypeVar

from .errors import WhoknowsError
from .ledger import Ledger, LedgerBusy

DEFAULT_FLUSH_INTERVAL = 5.0
# How long one flush waits for the ledger's write lock before leaving the batch to the next one.
LOCK_WAIT_SECONDS = 0.5
# At shutdown there is no next flush: keep trying this long.
SHUTDOWN_PATIENCE_SECONDS = 5.0


class Tally(Protocol):
    def merge_older(self, older: Self) -> None:
        """Fold in counts recorded before these (a batch that could not be written goes back)."""


K = TypeVar("K", bound=Hashable)
T = TypeVar("T", bound=Tally)


class PendingTallies(Generic[K, T]):
    """What a recorder counted since the last flush: one tally per key, thread-safe.

    The request path holds `lock` while it updates tallies (`tally_for(key, new).add(...)`), so
    a recorder that keeps state of its own under one lock (live counters) passes that lock in;
    `take`, `give_back`, `pending_count` and `tallies` take it themselves (a recorder that wraps
    them in its own critical section passes a `threading.RLock`).
    """

    def __init__(self, lock: threading.Lock | threading.RLock | None = None) -> None:
        self.lock = lock if lock is not None else threading.Lock()
        self._tallies: dict[K, T] = {}

    def tally_for(self, key: K, new: Callable[[], T]) -> T:
        """The key's tally, made by `new()` if it has none yet. The caller holds `lock`."""
        # Why (speed only): look up before making a tally; `setdefault(key, new())` would make
        # (and throw away) one on every event.
        tally = self._tallies.get(key)
        if tally is None:
            tally = self._tallies[key] = new()
        return tally

    def pending_count(self) -> int:
        """Keys waiting to be written (a ledger row each, for most recorders)."""
        with self.lock:
            return len(self._tallies)

    def tallies(self) -> list[T]:
        """The tallies waiting to be written, as they are now."""
        with self.lock:
            return list(self._tallies.values())

    def take(self) -> dict[K, T]:
        """Everything recorded since the last take; the caller writes it or gives it back."""
        with self.lock:
            batch, self._tallies = self._tallies, {}
        return batch

    def give_back(self, batch: Mapping[K, T]) -> None:
        """Return a batch that could not be written: its counts join whatever came in since."""
        with self.lock:
            for key, older in batch.items():
                newer = self._tallies.get(key)
                if newer is None:
                    self._tallies[key] = older
                else:
                    newer.merge_older(older)


class Recorder(Protocol):
    """What a `BatchFlusher` writes from: the proxy's in-memory recorder."""

    def take(self) -> Any: ...

    def give_back(self, batch: Any) -> None: ...


class BatchFlusher:
    """Writes a recorder's pending batch to the ledger on a background thread.

    `start()` flushes every `interval` seconds; `stop()` flushes a last time (patiently) and
    ends the thread. `flush()` may also be called directly from any thread; flushes never overlap.
    The ledger is opened for each flush that has something to write and closed after it, so the
    connection never crosses threads and the proxy holds no file open while idle.

    It takes the batch from its `recorder` and gives it back there when the ledger cannot take it.
    A subclass says what the batch is: `write` (one transaction; returns the rows written), `unwritten` (what is pending, for the shutdown error),
    its `what`, `thread_name` and `logger`, and, if the default warning will not do, how failures
    are told (`report_failure`, once until a flush succeeds; `report_recovery`).
    """

    what = "batches"  # what is written, plural, for the log ("leaks not written ...")
    thread_name = "whoknows-flusher"
    logger = logging.getLogger("whoknows.batching")

    def __init__(self, recorder: Recorder, open_ledger: Callable[[], Ledger],
                 interval: float = DEFAULT_FLUSH_INTERVAL, lock_wait: float = LOCK_WAIT_SECONDS) -> None:
        self.recorder = recorder
        self.open_ledger = open_ledger
        self.interval = interval
        self.lock_wait = lock_wait
        self._flush_lock = threading.Lock()
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None
        self._failing = False  # a failure is told once until a flush succeeds again
        self.rows_written = 0
        self.failed_flushes = 0
        self.dropped_batches = 0

    def take(self) -> Any:
        return self.recorder.take()

    def give_back(self, batch: Any) -> None:
        self.recorder.give_back(batch)

    # -- what a subclass provides ------------------------------------------------------------------

    def write(self, ledger: Ledger, batch: Mapping[Any, Any]) -> int:
        raise NotImplementedError

    def unwritten(self) -> str:
        """What is still pending, as the start of a sentence ("12 leak records")."""
        raise NotImplementedError

    def report_failure(self, exc: Exception) -> None:
        self.logger.warning(f"whoknows: {self.what} not written to the ledger yet ({exc}); kept for the next flush")

    def report_recovery(self) -> None:
        pass

    def after_write(self, ledger: Ledger, batch: Mapping[Any, Any]) -> None:
        """What to derive from the ledger once `batch` is written (its own transaction; a failure
        is logged and does not give the written batch back). Default: nothing."""

    # -- the thread ---------------------------------------------------------------------------------

    def start(self) -> None:
        if self._thread is not None:
            return
        self._stopping.clear()
        self._thread = threading.Thread(target=self._run, name=self.thread_name, daemon=True)
        self._thread.start()

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def _run(self) -> None:
        # `interval` is read at each round: the proxy's option may change it while running.
        while not self._stopping.wait(self.interval):
            self.flush()

    def stop(self, patience: float = SHUTDOWN_PATIENCE_SECONDS) -> bool:
        """End the thread, then write what is left, retrying a locked ledger for up to `patience`
        seconds. True if nothing was left unwritten."""
        thread, self._thread = self._thread, None
        if thread is not None:
            self._stopping.set()
            thread.join()
        deadline = time.monotonic() + patience
        while True:
            if self.flush():
                return True
            if time.monotonic() >= deadline:
                self.logger.error(f"whoknows: {self.unwritten()} could not be written to the ledger "
                                  "before shutdown and are lost")
                return False
            time.sleep(min(0.2, max(0.0, deadline - time.monotonic())))

    def flush(self) -> bool:
        """Write what is pending now. True when nothing is left pending from this batch."""
        with self._flush_lock:
            batch = self.take()
            if not batch:
                return True
            try:
                with self.open_ledger() as ledger:
                    written = self.write(ledger, batch)
                    self._after_write(ledger, batch)
            except (LedgerBusy, WhoknowsError, sqlite3.Error, OSError) as exc:
                self.give_back(batch)
                self.failed_flushes += 1
                if not self._failing:
                    self._failing = True
                    self.report_failure(exc)
                return False
            except Exception:
                # Not the ledger being unavailable but a bug or a row SQLite refuses: the same batch
                # would fail again at every flush, so it is dropped (said with its cause) and the
                # thread lives on to write the next one.
                self.failed_flushes += 1
                self.dropped_batches += 1
                self.logger.exception(f"whoknows: a batch of {self.what} could not be written and was dropped")
                return True
            self.rows_written += written
            if self._failing:
                self._failing = False
                self.report_recovery()
            return True

    def _after_write(self, ledger: Ledger, batch: Mapping[Any, Any]) -> None:
        try:
            self.after_write(ledger, batch)
        except Exception as exc:  # noqa: BLE001 -- the batch is written: never write it twice
            self.logger.warning(f"whoknows: after writing {self.what}: {type(exc).__name__}: {exc}")


def relearn_trackers(ledger: Ledger, domains, lock_wait: float | None = None) -> None:
    """The `after_write` of the writers whose tables teach learned trackers (observations, leaks):
    the third-party `domains` the batch touched are judged again."""
    from .learned_trackers import relearn

    domains = {domain for domain in domains if domain}
    if domains:
        relearn(ledger, lock_wait=lock_wait, domains=domains)


__all__ = ["BatchFlusher", "PendingTallies", "Recorder", "relearn_trackers", "DEFAULT_FLUSH_INTERVAL",
           "LOCK_WAIT_SECONDS", "SHUTDOWN_PATIENCE_SECONDS"]
