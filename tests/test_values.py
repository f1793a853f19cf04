"""whoknows.values: one form of a value for the disclosures, your own values and the ledger."""

import sqlite3

import pytest

from whoknows.errors import InputError
from whoknows.ledger import match_key_sql
from whoknows.values import clean_value, normalised

PHONE_SPELLINGS = [
    "+34 600 111 222", "0034600111222", "+34-600-111-222", "+34.600.111.222", "+34 (600) 111/222",
    " 0034 600 111 222 ",
]


def _match_key(kind: str, value: str) -> str:
    """What SQLite computes for the ledger's `match_key` column (the form `knows` compares)."""
    return sqlite3.connect(":memory:").execute(
        f"SELECT {match_key_sql('?1', '?2')}", (kind, value)).fetchone()[0]


@pytest.mark.parametrize("spelling", PHONE_SPELLINGS)
def test_a_phone_spelled_any_accepted_way_has_one_form_here_and_in_the_ledger(spelling):
    stored = clean_value("phone", spelling)
    assert normalised("phone", stored) == "+34600111222"
    assert _match_key("phone", stored) == "+34600111222"  # `knows` and `me` agree on the same phone


@pytest.mark.parametrize("separator", ["\t", "\u00a0", "\u2009"])
def test_a_phone_with_a_separator_the_ledger_would_not_strip_is_refused(separator):
    # The ledger's match key keeps these characters, so "+34<tab>600..." would never be found by
    # `knows +34600...`: refusing it is what keeps the two forms one.
    spelling = f"+34{separator}600111222"
    assert _match_key("phone", spelling) != "+34600111222"
    with pytest.raises(InputError, match="not a phone number"):
        clean_value("phone", spelling)


def test_clean_value_keeps_phones_as_given():
    assert clean_value("phone", " +34 (600) 111-222 ") == "+34 (600) 111-222"


def test_other_kinds_compare_whitespace_collapsed_and_lowercased():
    assert normalised("name", clean_value("name", "  Ana   María ")) == "ana maría"
    assert normalised("email", clean_value("email", "Ana@Example.ORG")) == "ana@example.org"
