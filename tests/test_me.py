"""Own values at rest: encrypted, found by keyed hash, referred to without plaintext."""

import base64
import json

import pytest

from whoknows.errors import InputError
from whoknows.ledger import open_ledger
from whoknows.me import (
    MeKeys, add_value, decrypt, encrypt, list_values, load_keys, lookup_hash, mask, reference_tag, tag_for,
    watched_values,
)

KEYS = MeKeys.from_secret(b"k" * 32)


def test_a_value_round_trips_and_each_encryption_is_different():
    first, second = encrypt(KEYS, "email", "alice@example.org"), encrypt(KEYS, "email", "alice@example.org")
    assert first != second  # a fresh nonce each time: equal values do not look equal at rest
    assert decrypt(KEYS, "email", first) == decrypt(KEYS, "email", second) == "alice@example.org"


def test_another_key_a_moved_row_or_a_flipped_bit_does_not_decrypt():
    sealed = encrypt(KEYS, "email", "alice@example.org")
    assert decrypt(MeKeys.from_secret(b"x" * 32), "email", sealed) is None
    assert decrypt(KEYS, "name", sealed) is None  # the kind is bound to the ciphertext
    raw = bytearray(base64.b64decode(sealed))
    raw[-1] ^= 1
    assert decrypt(KEYS, "email", base64.b64encode(bytes(raw)).decode()) is None
    assert decrypt(KEYS, "email", "not base64!") is None


def test_the_lookup_hash_is_keyed_and_ignores_spelling():
    assert lookup_hash(KEYS, "phone", "+34 600 111 222") == lookup_hash(KEYS, "phone", "0034-600-111-222")
    assert lookup_hash(KEYS, "email", "alice@example.org") != lookup_hash(KEYS, "name", "alice@example.org")
    assert lookup_hash(KEYS, "email", "a@x.org") != lookup_hash(MeKeys.from_secret(b"y" * 32), "email", "a@x.org")


@pytest.mark.parametrize("kind, value, shown", [
    ("email", "alice@example.org", "a•••@example.org"),
    ("phone", "+34 600 111 222", "•••22"),
    ("name", "Alice Smith", "A•••"),
    ("address", "Calle Mayor 1", "C•••"),
])
def test_masks_show_little(kind, value, shown):
    assert mask(kind, value) == shown


def test_references_carry_a_stable_tag_and_knows_can_recompute_it():
    with open_ledger() as ledger:
        value, _ = add_value(ledger, "email", "Alice@Example.org")
        reference = value.reference()
        assert reference.startswith("a•••@example.org [me:") and reference_tag(reference) == value.tag
        ledger.db.execute("DELETE FROM me_values")
        again, new = add_value(ledger, "email", "alice@example.org")
    assert new and again.reference() == reference  # removed and re-added: the same reference
    assert tag_for("email", "ALICE@example.org") == value.tag
    assert tag_for("alias", "alice@example.org") is None
    assert reference_tag("me+shop@mail.example") is None


def test_no_key_no_tag_and_the_key_is_made_once(whoknows_home):
    assert load_keys() is None and tag_for("email", "a@x.org") is None
    with open_ledger() as ledger:
        add_value(ledger, "email", "a@x.org")
        add_value(ledger, "email", "b@x.org")
    stored = json.loads((whoknows_home / "secrets.json").read_text())["secrets"]
    assert list(stored) == ["me-key"]
    with open_ledger() as ledger:
        assert {v.value for v in list_values(ledger)} == {"a@x.org", "b@x.org"}


def test_bad_values_are_refused_before_a_key_is_made(whoknows_home):
    with open_ledger() as ledger:
        for kind, value in (("email", "nope"), ("fax", "123"), ("phone", "12ab"), ("birthday", "someday")):
            with pytest.raises(InputError):
                add_value(ledger, kind, value)
        assert ledger.query("SELECT count(*) FROM me_values")[0][0] == 0
    assert not (whoknows_home / "secrets.json").exists()


def test_watched_values_are_own_values_plus_every_alias_with_their_references():
    with open_ledger() as ledger:
        value, _ = add_value(ledger, "phone", "+34 600 111 222")
        ledger.db.execute("INSERT INTO vendors (id, domain, created_at) VALUES (9, 'shop.example', 'x')")
        ledger.db.execute("INSERT INTO aliases (vendor_id, address, created_at, state) "
                          "VALUES (9, 'me+old@mail.example', 'x', 'retired')")
        watched, unreadable = watched_values(ledger, load_keys())
        assert unreadable == 0
        assert [(kind, plain, ref.ref, ref.origin) for kind, plain, ref in watched] == [
            ("phone", "+34 600 111 222", value.reference(), "me"),
            ("alias", "me+old@mail.example", "me+old@mail.example", "alias")]
        assert watched_values(ledger, None) == ([watched[1]], 1)  # without the key: aliases only
