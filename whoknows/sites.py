"""Sites and registrable domains: a site, and so a vendor, is its registrable domain (eTLD+1).

`normalise_vendor` turns what a user types (a URL, a host name or a domain, in Unicode or punycode)
into that domain, or says clearly why it cannot. `site_of` is the proxy's quiet variant for hosts
seen in traffic: it returns None instead of raising.

The Public Suffix List is tldextract's bundled snapshot, read by `whoknows.public_suffixes` (never
downloaded: whoknows makes no network call the user did not ask for), private suffixes included,
so `alice.github.io` and `bob.github.io` are two vendors. Names under a TLD the list does not know
(`vendor.test`, `shop.internal`) get the list's default rule `*`, as browsers do: the last label is
the suffix.
"""

import functools
import ipaddress
import re
from urllib.parse import urlsplit

from .errors import InputError

_LABEL = re.compile(r"^(?!-)[a-z0-9_-]{1,63}(?<!-)$")


def _is_ip(host: str) -> bool:
    try:
        ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        return False
    return True


def _to_ascii(host: str) -> str:
    """Lowercase ASCII (punycode) form of a host name; raises InputError if it is not one."""
    host = host.strip().rstrip(".").lower()
    if not host:
        raise InputError("empty host name")
    if not host.isascii():
        import idna

        try:
            host = idna.encode(host, uts46=True).decode("ascii")
        except idna.IDNAError as exc:
            raise InputError(f"{host!r} is not a valid international domain name ({exc})") from None
    if len(host) > 253 or not all(_LABEL.match(label) for label in host.split(".")):
        raise InputError(f"{host!r} is not a valid host name")
    return host


def host_of(text: str) -> str:
    """The host name in a URL, a `host[:port][/path]` or a bare domain, as lowercase ASCII."""
    text = text.strip()
    if not text:
        raise InputError("a vendor is a URL, a host name or a domain; got nothing")
    try:
        parts = urlsplit(text if "://" in text else "//" + text)
        host = parts.hostname or ""
        if parts.port is not None and not 0 < parts.port < 65536:
            raise ValueError
    except ValueError:
        raise InputError(f"{text!r} is not a URL or a host name") from None
    if not host:
        raise InputError(f"{text!r} has no host name")
    return host


def _registrable(host: str) -> str | None:
    """eTLD+1 of an ASCII host name, applying the default rule `*` to unknown TLDs."""
    # Imported here: most commands never need the list (about 0.1 s to read on first use).
    from .public_suffixes import suffix_start

    labels = host.split(".")
    start = suffix_start(labels)
    if start is not None:
        return ".".join(labels[start - 1:]) if start > 0 else None
    return ".".join(labels[-2:]) if len(labels) >= 2 else None


def normalise_vendor(text: str) -> str:
    """The vendor (registrable domain, punycode) named by a URL, host name or domain.

    >>> normalise_vendor("https://www.shop.example.co.uk/cart")
    'example.co.uk'
    """
    host = host_of(text)
    if _is_ip(host):
        raise InputError(f"{host} is an IP address; a vendor is named by its domain")
    host = _to_ascii(host)
    if host == "localhost" or host.endswith(".localhost"):
        raise InputError(f"{host} is this machine, not a vendor")
    domain = _registrable(host)
    if domain is None:
        raise InputError(f"{host} is a public suffix or a bare top-level name, not a vendor's domain")
    return domain


def display_domain(domain: str) -> str:
    """The Unicode form of a punycode domain, for showing to people."""
    if "xn--" not in domain:
        return domain
    import idna

    try:
        return idna.decode(domain)
    except idna.IDNAError:
        return domain


@functools.lru_cache(maxsize=65536)
def site_of(host: str) -> str | None:
    """The site (registrable domain) of a host seen in traffic, or None (IP address, single label)."""
    try:
        return normalise_vendor(host)
    except InputError:
        return None
