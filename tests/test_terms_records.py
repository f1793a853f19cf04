"""Which vendors were offered the terms and which agreed: batched, merged, read back."""

from datetime import date

from whoknows.ledger import open_ledger, stamp
from whoknows.personal_terms import find_term
from whoknows.terms_records import OffersFlusher, PendingOffers, earliest_offer, offers_to, tallies, write_batch

NOSTALKING = find_term("nostalking")
DAY1 = 1772366400.0  # 2026-03-01T12:00:00Z
DAY = 86400.0


def clock_at(*moments):
    times = iter(moments)
    return lambda: next(times)


def test_first_offer_is_kept_and_agreement_is_the_earliest_across_batches(whoknows_home):
    pending = PendingOffers(clock=clock_at(DAY1, DAY1 + DAY, DAY1 + 2 * DAY, DAY1 + 3 * DAY, DAY1 + 4 * DAY))
    pending.offered("shop.test", [NOSTALKING])
    pending.offered("shop.test", [NOSTALKING])
    with open_ledger() as ledger:
        assert write_batch(ledger, pending.take()) == 1
        [offer] = offers_to(ledger, "shop.test")
        assert (offer.first_offered, offer.last_offered, offer.agreed_on) == (stamp(DAY1), stamp(DAY1 + DAY), None)
        assert offer.describe() == "offered our terms (nostalking/1) since 2026-03-01; agreed: never"
        pending.agreed("shop.test", [NOSTALKING], "header")          # day 3
        pending.agreed("shop.test", [NOSTALKING], "well-known")      # day 4: not the first
        write_batch(ledger, pending.take())
        pending.offered("shop.test", [NOSTALKING])                   # day 5
        write_batch(ledger, pending.take())
        [offer] = offers_to(ledger, "shop.test")
        assert offer.first_offered == stamp(DAY1)
        assert offer.last_offered == stamp(DAY1 + 4 * DAY)
        assert (offer.agreed_day, offer.agreed_by) == (date(2026, 3, 3), "header")
        assert offer.describe().endswith("agreed: on 2026-03-03 (by its response header)")
        assert earliest_offer(ledger, "shop.test") == offer
        assert earliest_offer(ledger, "other.test") is None
        assert tallies(ledger) == {"nostalking/1": {"vendors_offered": 1, "vendors_agreed": 1}}


def test_a_batch_that_cannot_be_written_comes_back_whole(whoknows_home, tmp_path):
    pending = PendingOffers(clock=clock_at(DAY1, DAY1 + DAY))
    pending.offered("shop.test", [NOSTALKING])
    pending.agreed("shop.test", [NOSTALKING], "well-known")

    def locked():
        raise OSError("disk gone")

    flusher = OffersFlusher(pending, locked)
    assert flusher.flush() is False
    assert pending.pending_count() == 1
    flusher.open_ledger = open_ledger
    assert flusher.flush() is True
    with open_ledger() as ledger:
        [offer] = offers_to(ledger, "shop.test")
    assert (offer.first_offered, offer.agreed_on, offer.agreed_by) == (stamp(DAY1), stamp(DAY1 + DAY), "well-known")
