"""`batching.PendingTallies`: the pending batch every proxy recorder keeps for its flusher."""

import threading
import time

from whoknows.batching import PendingTallies


class Seen:
    """A tally as the recorders keep them: a count and the first and last moments."""

    def __init__(self, when: float) -> None:
        self.count, self.first, self.last = 0, when, when

    def add(self, when: float) -> None:
        self.count += 1
        self.first, self.last = min(self.first, when), max(self.last, when)

    def merge_older(self, older: "Seen") -> None:
        self.count += older.count
        self.first, self.last = min(self.first, older.first), max(self.last, older.last)


def record(pending: PendingTallies, key: str, when: float) -> None:
    with pending.lock:
        pending.tally_for(key, lambda: Seen(when)).add(when)


def test_one_tally_per_key_until_taken():
    pending = PendingTallies()
    record(pending, "a", 1.0)
    record(pending, "a", 2.0)
    record(pending, "b", 3.0)
    assert pending.pending_count() == 2
    assert sorted(tally.count for tally in pending.tallies()) == [1, 2]
    batch = pending.take()
    assert {key: (t.count, t.first, t.last) for key, t in batch.items()} == {"a": (2, 1.0, 2.0), "b": (1, 3.0, 3.0)}
    assert pending.pending_count() == 0 and pending.take() == {}
    record(pending, "a", 4.0)  # after a take, a key starts a new tally: the taken one is not touched
    assert batch["a"].count == 2 and pending.take()["a"].count == 1


def test_a_batch_given_back_joins_what_came_in_since():
    pending = PendingTallies()
    record(pending, "a", 1.0)
    record(pending, "b", 2.0)
    batch = pending.take()  # the flush fails...
    record(pending, "a", 5.0)  # ...while requests keep coming
    record(pending, "c", 6.0)
    pending.give_back(batch)
    merged = pending.take()
    assert {key: (t.count, t.first, t.last) for key, t in merged.items()} == {
        "a": (2, 1.0, 5.0), "b": (1, 2.0, 2.0), "c": (1, 6.0, 6.0)}


def test_a_recorder_shares_its_lock_and_may_hold_it_around_take_when_re_entrant():
    lock = threading.RLock()
    first, second = PendingTallies(lock), PendingTallies(lock)
    assert first.lock is lock
    record(first, "a", 1.0)
    record(second, "b", 1.0)
    with lock:  # both taken as one batch, nothing recorded in between
        both = (first.take(), second.take())
    assert [list(batch) for batch in both] == [["a"], ["b"]]


def test_no_count_is_lost_while_failed_flushes_give_batches_back_under_load():
    pending = PendingTallies()
    per_thread, threads = 2000, 4

    def browse(number: int) -> None:
        for i in range(per_thread):
            record(pending, f"key{i % 7}", float(number * per_thread + i))

    def failing_flusher(stop: threading.Event) -> None:
        while not stop.is_set():
            batch = pending.take()
            time.sleep(0.0005)  # the write fails meanwhile; the browsers record into a new batch
            pending.give_back(batch)

    stop = threading.Event()
    flusher = threading.Thread(target=failing_flusher, args=(stop,))
    flusher.start()
    browsers = [threading.Thread(target=browse, args=(n,)) for n in range(threads)]
    for thread in browsers:
        thread.start()
    for thread in browsers:
        thread.join()
    stop.set()
    flusher.join()
    batch = pending.take()
    assert sum(tally.count for tally in batch.values()) == per_thread * threads
    assert min(t.first for t in batch.values()) == 0.0
    assert max(t.last for t in batch.values()) == per_thread * threads - 1
