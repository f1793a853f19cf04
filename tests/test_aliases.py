"""whoknows.aliases: valid, unique, verifiable addresses that never verify for another vendor."""

import re
import tempfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from whoknows import aliases
from whoknows.aliases import AliasSetup, make_tag, parse_setup, verify
from whoknows.errors import InputError, NotFoundError, WhoknowsError
from whoknows.ledger import open_ledger

ALIAS_ALPHABET = "abcdefghijklmnopqrstuvwxyz0123456789.-"
LOCAL_PART = re.compile(r"^[a-z0-9_-]+(\.[a-z0-9_-]+)*(\+[a-z0-9-]+(\.[a-z0-9-]+)*)?$")
TAG = re.compile(r"^[a-z0-9-]+(\.[a-z0-9-]+)*$")

# -- strategies -------------------------------------------------------------------------------------

host_label = st.from_regex(r"\A[a-z0-9]([a-z0-9_-]{0,20}[a-z0-9])?\Z")
long_label = st.from_regex(r"\A[a-z0-9][a-z0-9-]{30,61}[a-z0-9]\Z")
suffix = st.sampled_from(["example", "com", "co.uk", "de", "test", "github.io", "xn--p1ai"])
vendor_domain = st.builds(
    lambda labels, tail: ".".join([*labels, tail]),
    st.lists(st.one_of(host_label, host_label, long_label), min_size=1, max_size=3),
    suffix,
).filter(lambda d: len(d) <= 253)
mailbox = st.from_regex(r"\A[a-z0-9_-]{1,12}(\.[a-z0-9_-]{1,12}){0,2}\Z").filter(lambda m: len(m) <= 40)
mail_domain = st.sampled_from(["mail.example", "me.example", "fastmail.com", "xn--mnchen-3ya.de"])
setups = st.one_of(
    st.builds(lambda m, d: AliasSetup("plus", d, m), mailbox, mail_domain),
    st.builds(lambda d: AliasSetup("catch-all", d), mail_domain),
)
keys = st.binary(min_size=32, max_size=32)
generations = st.integers(min_value=1, max_value=aliases.MAX_GENERATION)


def alias(key, setup, domain, generation=1, opaque=False) -> str:
    return setup.address(make_tag(key, setup, domain, generation, opaque))


# -- properties -------------------------------------------------------------------------------------


@given(keys, setups, vendor_domain, generations, st.booleans())
def test_aliases_are_valid_addresses(key, setup, domain, generation, opaque):
    address = alias(key, setup, domain, generation, opaque)
    local, _, mail = address.rpartition("@")

    assert address == address.lower()
    assert len(local) <= 64
    assert LOCAL_PART.match(local), local
    assert mail == setup.domain
    assert local.startswith(setup.prefix)
    assert TAG.match(aliases.tag_of(address))  # the tag itself: a-z 0-9 . - only


@given(keys, setups, vendor_domain, generations, st.booleans())
def test_aliases_verify_for_their_vendor(key, setup, domain, generation, opaque):
    address = alias(key, setup, domain, generation, opaque)

    result = verify(address, key, [domain])
    assert (result.vendor, result.generation, result.opaque) == (domain, generation, opaque)
    tag = aliases.parse_tag(aliases.tag_of(address))
    if not opaque and tag.label == domain.replace("_", "-") and "_" not in domain:
        assert verify(address, key).vendor == domain  # whole label: no ledger, no candidates needed


@given(keys, setups, vendor_domain, vendor_domain, generations, st.booleans())
def test_an_alias_never_verifies_for_another_vendor(key, setup, made_for, other, generation, opaque):
    assume(made_for != other)
    address = alias(key, setup, made_for, generation, opaque)

    assert verify(address, key, [other]).vendor != other
    assert verify(address, key, [other, made_for]).vendor == made_for
    assert alias(key, setup, other, generation, opaque) != address


@given(keys, setups, vendor_domain, generations, st.booleans(), st.data())
def test_a_tampered_tag_does_not_verify(key, setup, domain, generation, opaque, data):
    address = alias(key, setup, domain, generation, opaque)
    local, _, mail = address.rpartition("@")
    start = len(setup.prefix)
    position = data.draw(st.integers(min_value=start, max_value=len(local) - 1), label="position")
    replacement = data.draw(st.sampled_from(ALIAS_ALPHABET.replace(local[position], "")), label="replacement")
    tampered = f"{local[:position]}{replacement}{local[position + 1:]}@{mail}"

    assert verify(tampered, key, [domain]).vendor is None


@given(keys, setups, vendor_domain, st.booleans())
def test_another_key_does_not_verify(key, setup, domain, opaque):
    address = alias(key, setup, domain, 1, opaque)
    other_key = bytes(b ^ 1 for b in key)
    assert verify(address, other_key, [domain]).vendor is None


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(setups, st.lists(vendor_domain, min_size=1, max_size=6, unique=True))
def test_one_alias_per_vendor_in_a_ledger(setup, domains):
    with tempfile.TemporaryDirectory() as tmp:
        with open_ledger(Path(tmp) / "ledger.db") as ledger:
            aliases.save_setup(ledger, setup)
            made = [aliases.alias_for(ledger, domain) for domain in domains]
            again = [aliases.alias_for(ledger, domain) for domain in domains]
            key = aliases.alias_key(create=False)

    assert made == again  # same vendor, same alias
    assert len(set(made)) == len(domains)  # different vendors, different aliases
    for domain, address in zip(domains, made):
        assert verify(address, key, domains).vendor == domain


# -- examples ---------------------------------------------------------------------------------------

KEY = bytes(range(32))
PLUS = AliasSetup("plus", "mail.example", "you")
CATCH_ALL = AliasSetup("catch-all", "me.example")


def test_the_forms_of_a_tag():
    assert re.fullmatch(r"you\+shop\.example\.[a-z2-7]{9}@mail\.example", alias(KEY, PLUS, "shop.example"))
    assert re.fullmatch(r"shop\.example\.[a-z2-7]{9}-3@me\.example", alias(KEY, CATCH_ALL, "shop.example", 3))
    assert re.fullmatch(r"you\+[a-z2-7]{9}@mail\.example", alias(KEY, PLUS, "shop.example", opaque=True))
    # the opaque and labelled codes differ, so one does not reveal the other
    labelled = aliases.parse_tag(aliases.tag_of(alias(KEY, PLUS, "shop.example")))
    opaque = aliases.parse_tag(aliases.tag_of(alias(KEY, PLUS, "shop.example", opaque=True)))
    assert labelled.mac != opaque.mac


def test_international_vendors_get_an_ascii_label():
    address = alias(KEY, PLUS, "xn--bcher-kva.de")
    assert address.startswith("you+xn--bcher-kva.de.")
    assert verify(address, KEY).vendor == "xn--bcher-kva.de"


def test_long_vendor_labels_are_cut_and_then_need_the_vendor():
    domain = "a-very-long-vendor-name-that-goes-on-and-on-and-on.example.co.uk"
    address = alias(KEY, AliasSetup("plus", "mail.example", "firstname.lastname"), domain)
    local = address.rpartition("@")[0]

    assert len(local) == 64 or len(local) == 63  # cut to fit (a trailing '-' or '.' is dropped)
    assert domain not in address
    unverified = verify(address, KEY)
    assert unverified.vendor is None and "--vendor" in unverified.reason
    assert verify(address, KEY, ["other.example", domain]).vendor == domain
    # a candidate whose name does not start like the label is not even tried
    assert verify(address, KEY, ["a-very-long-vendor-name-that-goes-on.example"]).vendor is None


def test_opaque_needs_candidates():
    address = alias(KEY, PLUS, "shop.example", opaque=True)
    assert "needs candidate vendors" in verify(address, KEY).reason
    assert "none of the 2 candidate" in verify(address, KEY, ["a.example", "b.example"]).reason
    assert verify(address, KEY, ["a.example", "shop.example"]).vendor == "shop.example"


@pytest.mark.parametrize("address", [
    "you@mail.example",  # no tag
    "you+hello@mail.example",  # a tag that is not ours
    "you+shop.example.abcdefgh1@mail.example",  # '1' is not base32
    "you+shop.example.abcdefghi-1@mail.example",  # generation 1 is never written
    "you+shop.example.abcdefghi-02@mail.example",  # nor with a leading zero
])
def test_foreign_addresses_do_not_verify(address):
    result = verify(address, KEY, ["shop.example"])
    assert result.vendor is None and result.reason


def test_verify_ignores_case_and_the_mailbox():
    address = alias(KEY, PLUS, "shop.example")
    assert verify(address.upper(), KEY).vendor == "shop.example"
    assert verify(address.replace("you+", "someone.else+"), KEY).vendor == "shop.example"


@pytest.mark.parametrize("base, message", [
    ("you", "not an email address"),
    ("@mail.example", "not an email address"),
    ("you+news@mail.example", "already has a '+' tag"),
    ("you..me@mail.example", "no leading, trailing or double dots"),
    (".you@mail.example", "no leading, trailing or double dots"),
    ("y ou@mail.example", "not usable"),
    ("x" * 41 + "@mail.example", "at most 40"),
    ("you@localhost", "not a mail domain"),
    ("you@10.0.0.1", "IP address"),
    ("you@[::1]", "IP address"),
    ("you@mail..example", "not a mail domain"),
    ("you@-mail.example", "not a mail domain"),
    ("you@" + "a" * 200 + ".example", "not a mail domain"),
])
def test_bad_base_addresses_are_refused_clearly(base, message):
    with pytest.raises(InputError, match=re.escape(message)):
        parse_setup(base=base)


def test_setup_parsing():
    assert parse_setup(base=" You@Mail.Example ") == AliasSetup("plus", "mail.example", "you")
    assert parse_setup(base="first_last@bücher.de") == AliasSetup("plus", "xn--bcher-kva.de", "first_last")
    assert parse_setup(domain="Me.Example.") == AliasSetup("catch-all", "me.example")
    assert parse_setup(domain="me.example", style="catch-all").style == "catch-all"
    with pytest.raises(InputError, match="give either"):
        parse_setup()
    with pytest.raises(InputError, match="only one of"):
        parse_setup(base="you@mail.example", domain="me.example")
    with pytest.raises(InputError, match="takes --domain"):
        parse_setup(base="you@mail.example", style="catch-all")


# -- the ledger -------------------------------------------------------------------------------------


@pytest.fixture
def ledger(whoknows_home):
    from whoknows import paths

    paths.data_dir()
    with open_ledger() as ledger:
        yield ledger


def test_alias_for_before_setup_creates_nothing(ledger, whoknows_home):
    with pytest.raises(WhoknowsError, match="not set up yet"):
        aliases.alias_for(ledger, "shop.example")
    assert ledger.vendor_id("shop.example") is None
    assert not (whoknows_home / "secrets.json").exists()


def test_alias_for_without_create(ledger):
    aliases.save_setup(ledger, PLUS)
    assert aliases.alias_for(ledger, "shop.example", create=False) is None
    made = aliases.alias_for(ledger, "shop.example")
    assert aliases.alias_for(ledger, "shop.example", create=False) == made


def test_alias_for_refuses_unnormalised_domains(ledger):
    aliases.save_setup(ledger, PLUS)
    with pytest.raises(InputError, match="not a normalised vendor domain"):
        aliases.alias_for(ledger, "https://Shop.Example/")


def test_rotate_retires_and_keeps_the_old_alias_attributable(ledger):
    aliases.save_setup(ledger, PLUS)
    first = aliases.alias_for(ledger, "shop.example")

    old, new = aliases.rotate(ledger, "shop.example")

    assert old == first and new != first and new.endswith("-2@mail.example")
    assert aliases.alias_for(ledger, "shop.example") == new
    record = aliases.find_alias(ledger, first)
    assert (record.vendor, record.state) == ("shop.example", "retired") and record.state_changed_at
    key = aliases.alias_key(create=False)
    assert verify(first, key).vendor == "shop.example"
    assert aliases.rotate(ledger, "shop.example", opaque=True)[1].startswith("you+")  # opaque, gen 3
    assert aliases.parse_tag(aliases.tag_of(aliases.alias_for(ledger, "shop.example"))).generation == 3


def test_rotate_without_any_alias(ledger):
    aliases.save_setup(ledger, PLUS)
    with pytest.raises(NotFoundError, match="no alias yet"):
        aliases.rotate(ledger, "shop.example")


def test_a_new_setup_keeps_existing_aliases(ledger):
    aliases.save_setup(ledger, PLUS)
    old = aliases.alias_for(ledger, "shop.example")
    assert aliases.save_setup(ledger, CATCH_ALL) == PLUS

    assert aliases.alias_for(ledger, "shop.example") == old  # still the vendor's alias
    assert aliases.alias_for(ledger, "news.example").endswith("@me.example")
    _, rotated = aliases.rotate(ledger, "shop.example")
    assert rotated.startswith("shop.example.") and rotated.endswith("-2@me.example")
    assert verify(old, aliases.alias_key(create=False)).vendor == "shop.example"


def test_disable_by_address_and_by_vendor(ledger):
    aliases.save_setup(ledger, PLUS)
    first = aliases.alias_for(ledger, "shop.example")
    _, second = aliases.rotate(ledger, "shop.example")

    record, changed = aliases.disable(ledger, first.upper())
    assert changed and record.state == "disabled" and record.address == first
    assert aliases.disable(ledger, first)[1] is False
    record, changed = aliases.disable(ledger, "https://www.shop.example/account")
    assert changed and record.address == second
    with pytest.raises(NotFoundError, match="no active alias"):
        aliases.disable(ledger, "shop.example")
    with pytest.raises(NotFoundError, match="not an alias in the ledger"):
        aliases.disable(ledger, "nobody@mail.example")
    states = {r.address: r.state for r in aliases.list_aliases(ledger, vendor="shop.example")}
    assert states == {first: "disabled", second: "disabled"}
    # a disabled vendor that is asked for its alias again gets a fresh one, never a disabled one
    assert aliases.alias_for(ledger, "shop.example").endswith("-3@mail.example")


def test_resolve_vendor_skips_the_suffix_list_only_for_known_vendors(ledger, monkeypatch):
    import whoknows.sites

    ledger.vendor_id("example.co.uk", create=True)  # the ledger holds normalised domains only
    monkeypatch.setattr(whoknows.sites, "normalise_vendor", lambda text: pytest.fail(f"normalised {text}"))
    assert aliases.resolve_vendor(ledger, "Example.co.uk") == "example.co.uk"
    assert aliases.resolve_vendor(ledger, "https://example.co.uk/cart") == "example.co.uk"
    monkeypatch.undo()
    assert aliases.resolve_vendor(ledger, "www.example.co.uk") == "example.co.uk"
    assert aliases.resolve_vendor(ledger, "a.co.uk.example") == "uk.example"
    with pytest.raises(InputError):
        aliases.resolve_vendor(ledger, "co.uk")
