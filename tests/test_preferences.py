"""whoknows.preferences on a real ledger file: contact preferences, kept with when each was set."""

import pytest

from whoknows.errors import InputError
from whoknows.ledger import open_ledger
from whoknows.preferences import get_preferences, set_preferences


@pytest.fixture
def ledger():
    with open_ledger() as opened:
        yield opened


def test_preferences_update_only_what_is_given(ledger):
    set_preferences(ledger, "shop.example", {"marketing": True, "channels": ["post", "Email", "post"]})
    prefs = set_preferences(ledger, "shop.example", {"max_per_month": 2})
    assert (prefs["marketing"], prefs["channels"], prefs["max_per_month"]) == (True, ["email", "post"], 2)
    prefs = set_preferences(ledger, "shop.example", {"channels": [], "marketing": None})
    assert (prefs["marketing"], prefs["channels"]) == (None, [])
    vendor_id = ledger.vendor_id("shop.example")
    assert get_preferences(ledger.db, vendor_id) == prefs


def test_preferences_reject_unknown_channels_and_write_nothing(ledger):
    with pytest.raises(InputError, match="unknown channel 'fax'"):
        set_preferences(ledger, "shop.example", {"channels": ["email", "fax"]})
    assert ledger.query("SELECT count(*) FROM vendors")[0][0] == 0
