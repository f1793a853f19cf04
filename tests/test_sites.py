"""whoknows.sites: vendor identity (`normalise_vendor`), what the ledger keys on; property-tested."""

import idna
import pytest
from hypothesis import assume, example, given, settings
from hypothesis import strategies as st

from whoknows.errors import InputError
from whoknows.sites import display_domain, normalise_vendor

ASCII_LABEL = st.from_regex(r"\A[a-z0-9](?:[a-z0-9-]{0,14}[a-z0-9])?\Z")
# Letters that IDNA maps to themselves or to a lowercase form: accented Latin, Greek, Cyrillic, CJK.
UNICODE_LETTERS = "abcdefghijklmnopqrstuvwxyzäöüéèñçåøłžšßαβγδεжзиклмнопрсмт中文日本語한국"
UNICODE_LABEL = st.text(alphabet=UNICODE_LETTERS, min_size=1, max_size=12)
SUFFIXES = st.sampled_from(["com", "de", "co.uk", "org", "example", "test", "github.io", "com.au", "xn--p1ai"])


def _normalised(text: str) -> str:
    try:
        return normalise_vendor(text)
    except InputError:
        assume(False)  # not a vendor at all (e.g. an invalid IDNA label): nothing to check
        raise


@st.composite
def hosts(draw, label=ASCII_LABEL) -> str:
    labels = draw(st.lists(label, min_size=1, max_size=4))
    return ".".join(labels) + "." + draw(SUFFIXES)


@st.composite
def urls(draw) -> str:
    host = draw(hosts() | hosts(label=UNICODE_LABEL))
    if draw(st.booleans()):
        host = host.upper()
    scheme = draw(st.sampled_from(["", "http://", "https://", "HTTPS://"]))
    port = draw(st.sampled_from(["", ":443", ":8080"]))
    path = draw(st.sampled_from(["", "/", "/cart?utm_source=x", "/a/b#frag"]))
    trailing_dot = draw(st.sampled_from(["", "."])) if not port and not path else ""
    return f"{scheme}{host}{trailing_dot}{port}{path}"


@settings(max_examples=300, deadline=None)
@given(urls())
@example("https://www.Shop.Example.co.uk:8443/cart")
@example("BÜCHER.example")
def test_normalising_is_idempotent(text):
    vendor = _normalised(text)
    assert normalise_vendor(vendor) == vendor
    assert vendor == vendor.lower() and vendor.isascii()


@settings(max_examples=300, deadline=None)
@given(hosts(label=UNICODE_LABEL), st.sampled_from(["", "https://", "http://www."]))
@example("bücher.de", "")
@example("пример.рф", "https://")
def test_unicode_and_punycode_spellings_are_the_same_vendor(host, prefix):
    unicode_vendor = _normalised(prefix + host)
    punycode_host = idna.encode(host, uts46=True).decode("ascii")
    assert normalise_vendor(prefix + punycode_host) == unicode_vendor
    assert normalise_vendor(display_domain(unicode_vendor)) == unicode_vendor


@settings(max_examples=200, deadline=None)
@given(hosts())
def test_a_subdomain_is_its_registrable_domain(host):
    vendor = _normalised(host)
    assert normalise_vendor("www." + host) == vendor
    assert normalise_vendor(f"https://login.{host}/x") == vendor


@pytest.mark.parametrize("text", ["127.0.0.1", "http://[::1]:8080/", "localhost", "app.localhost", "co.uk", ""])
def test_machines_and_public_suffixes_are_not_vendors(text):
    with pytest.raises(InputError):
        normalise_vendor(text)
