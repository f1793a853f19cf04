"""Per-vendor email aliases: one address per vendor, provably made for that vendor.

Setup (a ledger setting, not secret): plus addressing on the user's mailbox (`you+TAG@mail.example`)
or a catch-all domain (`TAG@me.example`). Changing it later changes only aliases made afterwards:
every alias is stored by its full address, and its tag verifies whatever the setup is.

The tag
    labelled:  <label>.<mac>[-<generation>]     e.g.  you+shop.example.k3mz7qa2b@mail.example
    opaque:    <mac>[-<generation>]             e.g.  you+q7h2mxa4d-2@mail.example
- `label` is the vendor's registrable domain in ASCII (punycode for IDN vendors, `_` as `-`), cut at
  the end when the local part would exceed 64 characters. An uncut label *is* the vendor, so
  `verify` needs nothing but the address and the key; a cut label is checked against candidates.
- `mac` is HMAC-SHA256(alias key, "whoknows-alias-v1", kind, vendor domain, generation) truncated to
  45 bits, written as 9 base32 characters (a-z, 2-7). It binds the tag to the vendor: without the key,
  an alias seen by anyone tells nothing about another vendor's alias, and a forged or altered tag
  verifies with probability 2^-45 per try. Why 45 bits: the key never leaves this machine, so guesses
  can only be tested by getting the user to run `verify` (or by mailing addresses, which a catch-all
  accepts anyway): at a million tries a day a forgery takes ~48,000 years on average. Collisions
  matter only for opaque tags checked against many candidates: 3,000 directory vendors x 10
  generations give a false match with probability ~1e-9. 45 bits is also exactly 9 characters.
- `generation` counts rotations (1 is not written; rotation writes -2, -3...). It is in the tag so
  verification recomputes one MAC instead of trying every generation.
- Opaque tags leave the vendor out (a vendor cannot tell from the address that it is per-vendor and
  which site it names). The trade-off: verifying one needs candidate vendors (the ledger's vendors,
  or `--vendor` when the ledger is gone, or any list the caller has, e.g. the company directory); the
  MAC then picks the one it was made for. Labelled and opaque MACs differ ("kind" is in the MAC).

The key is made once per machine, never over aliases it cannot verify: while the ledger holds aliases
whoknows made and this machine has no alias key (a plain export imported here), making one is refused
with how to restore the old key (`whoknows import` of an export made `--with-secrets`), unless the
user asks for `--new-key`. Once a new key exists, the old one could no longer be restored.

Local parts are lowercase, at most 64 characters, made of a-z 0-9 . - (and the `+` separator), with
no leading, trailing or double dots; the user's own mailbox may also contain `_`.
"""

import json
import re
from typing import Iterable, NamedTuple

from .errors import InputError, NotFoundError, WhoknowsError

SETUP_SETTING = "alias.setup"
KEY_NAME = "alias-key"
STYLES = ("plus", "catch-all")
MAX_LOCAL_PART = 64
MAX_ADDRESS = 254  # RFC 5321: a path is at most 256 octets including the angle brackets
# The mailbox leaves room for "+", a readable label, "." and the code with a 4-digit generation.
MAX_MAILBOX = 40
MAC_BITS = 45
MAC_CHARS = MAC_BITS // 5
MAX_GENERATION = 9999
_BASE32 = "abcdefghijklmnopqrstuvwxyz234567"
_MAC_DOMAIN = b"whoknows-alias-v1"

_CODE = re.compile(rf"^([a-z2-7]{{{MAC_CHARS}}})(?:-([2-9]|[1-9][0-9]{{1,3}}))?$")
_LABEL = re.compile(r"^[a-z0-9-]+(?:\.[a-z0-9-]+)*$")
_MAILBOX = re.compile(r"^[a-z0-9_-]+(?:\.[a-z0-9_-]+)*$")
_HOST_LABEL = re.compile(r"^(?!-)[a-z0-9-]{1,63}(?<!-)$")
_VENDOR = re.compile(r"^[a-z0-9_-]+(?:\.[a-z0-9_-]+)+$")


# -- setup ------------------------------------------------------------------------------------------


# Records are NamedTuples: immutable like frozen dataclasses, but ~5x cheaper to define at import
# (this module is on the path of `alias new`, whose start-up time is benchmarked).
class AliasSetup(NamedTuple):
    style: str  # "plus" or "catch-all"
    domain: str  # the mail domain, ASCII
    mailbox: str | None = None  # the local part of the user's address (plus style)

    @property
    def prefix(self) -> str:
        return f"{self.mailbox}+" if self.style == "plus" else ""

    def address(self, tag: str) -> str:
        return f"{self.prefix}{tag}@{self.domain}"

    def describe(self) -> str:
        kind = "plus addressing" if self.style == "plus" else "catch-all domain"
        return f"{kind}: {self.address('TAG')}"

    def to_json(self) -> str:
        return json.dumps(self._asdict(), sort_keys=True)

    @classmethod
    def from_json(cls, text: str) -> "AliasSetup":
        try:
            data = json.loads(text)
            return cls(style=data["style"], domain=data["domain"], mailbox=data.get("mailbox"))
        except (ValueError, KeyError, TypeError):
            raise WhoknowsError(f"the alias setup in the ledger is damaged ({text[:80]!r})") from None


def parse_setup(base: str | None = None, domain: str | None = None, style: str | None = None) -> AliasSetup:
    """Validate what the user gave `alias setup`; raises InputError saying what is wrong."""
    if (base is None) == (domain is None):
        raise InputError(
            ("give either" if base is None else "give only one of")
            + " --base ADDRESS (plus addressing: you+TAG@mail.example)"
            " or --domain DOMAIN (catch-all: TAG@me.example)"
        )
    if style is not None and style not in STYLES:
        raise InputError(f"unknown alias style {style!r}; known: {', '.join(STYLES)}")
    if base is not None:
        if style not in (None, "plus"):
            raise InputError("--base goes with plus addressing; a catch-all setup takes --domain")
        mailbox, mail_domain = _split_base(base)
        setup = AliasSetup("plus", mail_domain, mailbox)
    else:
        if style not in (None, "catch-all"):
            raise InputError("--domain makes a catch-all setup; plus addressing takes --base ADDRESS")
        setup = AliasSetup("catch-all", mail_domain_of(domain))
    longest = len(setup.address("x" * (MAX_LOCAL_PART - len(setup.prefix))))
    if longest > MAX_ADDRESS:
        raise InputError(f"the mail domain {setup.domain} is too long for addresses of {MAX_ADDRESS} characters")
    return setup


def _split_base(base: str) -> tuple[str, str]:
    text = base.strip()
    local, at, domain = text.rpartition("@")
    if not at or not local:
        raise InputError(f"{base!r} is not an email address (expected you@mail.example)")
    local = local.lower()
    if "+" in local:
        raise InputError(
            f"{base!r} already has a '+' tag; give your plain address (you@mail.example): "
            "whoknows adds +TAG itself"
        )
    if not _MAILBOX.match(local):
        raise InputError(
            f"the mailbox {local!r} in {base!r} is not usable: letters, digits, '.', '-' and '_' only, "
            "no leading, trailing or double dots"
        )
    if len(local) > MAX_MAILBOX:
        raise InputError(
            f"the mailbox {local!r} is {len(local)} characters; at most {MAX_MAILBOX} leave room for "
            f"the tag in a {MAX_LOCAL_PART}-character local part"
        )
    return local, mail_domain_of(domain)


def mail_domain_of(text: str) -> str:
    """A mail domain as lowercase ASCII (IDN as punycode); raises InputError if it is not one."""
    domain = text.strip().rstrip(".").lower()
    if not domain:
        raise InputError("the mail domain is empty")
    if domain.startswith("[") or ":" in domain or domain.rpartition(".")[2].isdigit():
        raise InputError(f"{text!r} is an IP address; aliases need a mail domain")
    if not domain.isascii():
        import idna  # lazily: only international domains need it

        try:
            domain = idna.encode(domain, uts46=True).decode("ascii")
        except idna.IDNAError as exc:
            raise InputError(f"{text!r} is not a valid international domain name ({exc})") from None
    labels = domain.split(".")
    if len(labels) < 2 or len(domain) > 253 or not all(_HOST_LABEL.match(label) for label in labels):
        raise InputError(f"{text!r} is not a mail domain (like mail.example)")
    return domain


def load_setup(ledger) -> AliasSetup | None:
    raw = ledger.get_setting(SETUP_SETTING)
    return None if raw is None else AliasSetup.from_json(raw)


def require_setup(ledger) -> AliasSetup:
    setup = load_setup(ledger)
    if setup is None:
        raise WhoknowsError(
            "aliases are not set up yet: run 'whoknows alias setup --base you@mail.example' "
            "(plus addressing) or 'whoknows alias setup --domain me.example' (catch-all domain)"
        )
    return setup


def save_setup(ledger, setup: AliasSetup) -> AliasSetup | None:
    """Store the setup; the previous one (aliases made with it keep their addresses)."""
    previous = load_setup(ledger)
    ledger.set_setting(SETUP_SETTING, setup.to_json())
    return previous


# -- tags -------------------------------------------------------------------------------------------


class Tag(NamedTuple):
    label: str | None  # None: opaque
    mac: str
    generation: int

    @property
    def opaque(self) -> bool:
        return self.label is None


def _mac(key: bytes, domain: str, generation: int, opaque: bool) -> str:
    import hashlib
    import hmac

    kind = b"opaque" if opaque else b"labelled"
    message = b"\n".join((_MAC_DOMAIN, kind, domain.encode("ascii"), str(generation).encode("ascii")))
    digest = hmac.new(key, message, hashlib.sha256).digest()
    bits = int.from_bytes(digest[:6], "big") >> (48 - MAC_BITS)
    return "".join(_BASE32[(bits >> (5 * i)) & 31] for i in reversed(range(MAC_CHARS)))


def _code(mac: str, generation: int) -> str:
    return mac if generation == 1 else f"{mac}-{generation}"


def vendor_label(domain: str, max_length: int) -> str:
    """The readable part of a labelled tag: the domain in local-part characters, cut to fit.

    Deterministic in (domain, max_length), and `vendor_label(d, len(label)) == label` for every label
    made from d: that is how `verify` checks a cut label against a candidate.
    """
    text = domain.replace("_", "-").lstrip(".-")
    return text[:max(max_length, 0)].rstrip(".-")


def make_tag(key: bytes, setup: AliasSetup, domain: str, generation: int, opaque: bool = False) -> str:
    """The tag for `domain`'s alias number `generation` under `setup`."""
    if not 1 <= generation <= MAX_GENERATION:
        raise WhoknowsError(f"{domain} has had {MAX_GENERATION} aliases; no more can be made")
    if not opaque:
        code = _code(_mac(key, domain, generation, False), generation)
        label = vendor_label(domain, MAX_LOCAL_PART - len(setup.prefix) - 1 - len(code))
        if label:
            return f"{label}.{code}"
    return _code(_mac(key, domain, generation, True), generation)


def normalise_address(address: str) -> str:
    """An address as aliases are stored: stripped, lowercase; raises InputError if it is not one."""
    text = address.strip().lower()
    local, at, domain = text.rpartition("@")
    if not at or not local or not domain or any(c.isspace() for c in text):
        raise InputError(f"{address!r} is not an email address")
    return text


def tag_of(address: str) -> str:
    """The tag of an alias address: the part after '+' (plus style) or the whole local part."""
    local = normalise_address(address).rpartition("@")[0]
    return local.partition("+")[2] if "+" in local else local


def parse_tag(tag: str) -> Tag | None:
    """The parts of a whoknows tag, or None when `tag` cannot be one."""
    label, dot, code = tag.rpartition(".")
    match = _CODE.match(code)
    if not match or (dot and not _LABEL.match(label)):
        return None
    return Tag(label or None, match.group(1), int(match.group(2) or 1))


# -- verification -----------------------------------------------------------------------------------


class Verification(NamedTuple):
    address: str
    vendor: str | None  # the domain the alias was made for; None when it does not verify
    generation: int | None
    opaque: bool | None
    reason: str = ""  # why it does not verify

    def to_json(self) -> dict:
        return self._asdict() | {"verified": self.vendor is not None}


def verify(address: str, key: bytes, candidates: Iterable[str] = ()) -> Verification:
    """Which vendor `address` was made for, proven by its MAC.

    A labelled tag whose label is a whole domain needs no candidates; a cut label or an opaque tag is
    checked against `candidates` (normalised vendor domains).
    """
    import hmac

    address = normalise_address(address)
    tag = parse_tag(tag_of(address))
    if tag is None:
        return Verification(address, None, None, None, "not a whoknows alias (its tag has no whoknows code)")
    tried = 0
    for domain in _candidates(tag, candidates):
        tried += 1
        if hmac.compare_digest(_mac(key, domain, tag.generation, tag.opaque), tag.mac):
            return Verification(address, domain, tag.generation, tag.opaque)
    if tag.opaque:
        reason = (
            f"made for none of the {tried} candidate vendors (an opaque tag needs the vendor: "
            "use the ledger it was made with, or --vendor)"
            if tried else "an opaque tag needs candidate vendors: the ledger it was made with, or --vendor"
        )
    else:
        reason = (
            f"its tag was not made for {tag.label} with this machine's alias key "
            "(if the vendor's domain was cut to fit, name the vendor with --vendor)"
        )
    return Verification(address, None, tag.generation, tag.opaque, reason)


def _candidates(tag: Tag, candidates: Iterable[str]) -> Iterable[str]:
    seen = set()
    if tag.label and "." in tag.label:
        seen.add(tag.label)
        yield tag.label  # an uncut label is the vendor itself
    for domain in candidates:
        if domain in seen:
            continue
        seen.add(domain)
        if tag.label is None or vendor_label(domain, len(tag.label)) == tag.label:
            yield domain


# -- the ledger -------------------------------------------------------------------------------------


class AliasRecord(NamedTuple):
    address: str
    vendor: str
    state: str
    created_at: str
    state_changed_at: str | None

    def to_json(self) -> dict:
        return self._asdict()


_SELECT = (
    "SELECT a.address, v.domain AS vendor, a.state, a.created_at, a.state_changed_at "
    "FROM aliases a JOIN vendors v ON v.id = a.vendor_id"
)


def _record(row) -> AliasRecord:
    return AliasRecord(row["address"], row["vendor"], row["state"], row["created_at"], row["state_changed_at"])


def resolve_vendor(ledger, text: str) -> str:
    """The vendor domain named by `text`, skipping the Public Suffix List for known vendors.

    A host equal to a domain already in the ledger is that vendor: ledger domains are registrable
    domains, and the registrable domain of a registrable domain is itself. This keeps the Public
    Suffix List (read and indexed on first use) off the path of `alias new` for vendors the ledger
    knows.
    """
    from .sites import host_of, normalise_vendor

    try:
        host = host_of(text).rstrip(".").lower()
    except InputError:
        host = ""
    if ledger is not None and host.isascii() and _VENDOR.match(host):
        if ledger.query("SELECT 1 FROM vendors WHERE domain = ?", (host,)):
            return host
    return normalise_vendor(text)


def _check_domain(domain: str) -> None:
    if not _VENDOR.match(domain):
        raise InputError(f"{domain!r} is not a normalised vendor domain (see whoknows.sites.normalise_vendor)")


_ACTIVE = "SELECT address FROM aliases WHERE vendor_id = ? AND state = 'active'"


def _active(ledger, vendor_id: int) -> str | None:
    rows = ledger.query(_ACTIVE, (vendor_id,))
    return rows[0]["address"] if rows else None


def _active_in(db, vendor_id: int) -> str | None:
    """The active alias, read inside a write transaction (no retry wrapper there)."""
    row = db.execute(_ACTIVE, (vendor_id,)).fetchone()
    return row["address"] if row else None


def _stored_tag(address: str) -> Tag | None:
    """The tag of an address from the ledger; None for one whoknows did not make (e.g. imported)."""
    try:
        return parse_tag(tag_of(address))
    except InputError:
        return None


def _next_generation(db, vendor_id: int) -> int:
    rows = db.execute("SELECT address FROM aliases WHERE vendor_id = ?", (vendor_id,)).fetchall()
    tags = (_stored_tag(row["address"]) for row in rows)
    return max((tag.generation for tag in tags if tag is not None), default=0) + 1


def _insert_new(db, vendor_id: int, domain: str, setup: AliasSetup, key: bytes, opaque: bool) -> str:
    from .ledger import now

    generation = _next_generation(db, vendor_id)
    for _ in range(8):  # an address taken already (another vendor's 45-bit collision): next generation
        address = setup.address(make_tag(key, setup, domain, generation, opaque))
        if db.execute("SELECT 1 FROM aliases WHERE address = ?", (address,)).fetchone() is None:
            db.execute(
                "INSERT INTO aliases (vendor_id, address, created_at, state) VALUES (?, ?, ?, 'active')",
                (vendor_id, address, now()),
            )
            return address
        generation += 1
    raise WhoknowsError(f"could not find a free alias address for {domain}")


def alias_key(create: bool = True, ledger=None, new_key: bool = False) -> bytes:
    """The alias key (32 bytes, in the OS keyring or the fallback file; see whoknows.secrets).

    Made when missing and `create`, but not while `ledger` (required then) holds aliases whoknows
    made with a key this machine does not have: a new key could never verify them, and once it
    exists the old one can no longer be restored. `new_key` makes it anyway (starting over
    knowingly).
    """
    from . import secrets

    try:
        return secrets.get_secret(KEY_NAME, create=False)
    except NotFoundError:
        if not create:
            raise NotFoundError(
                "there is no alias key on this machine, so no alias can be verified here "
                f"(aliases made elsewhere need that machine's key: {secrets.RESTORE_HINT})"
            ) from None

    def refusal(db) -> str | None:
        orphans = unverifiable_aliases(db, None)
        if not orphans:
            return None
        return (f"the ledger holds {len(orphans)} alias(es) made with an alias key this machine does not have "
                f"(e.g. {orphans[0]}), and a new key could never verify them: {secrets.RESTORE_HINT}; or start over "
                "knowingly with a new key (those aliases stay unverifiable): 'whoknows alias new VENDOR --new-key'")

    return secrets.make_secret_unless_orphaning(KEY_NAME, ledger, new_key, refusal)


def unverifiable_aliases(db, key: bytes | None) -> list[str]:
    """The aliases in the ledger (`db`: a connection) that whoknows made but `key` does not verify for
    the vendor the ledger has them under; every one of them when `key` is None (no key here).

    Addresses whoknows did not make (no whoknows tag) verify with no key and are left out. One MAC per
    alias: the ledger names the vendor, so even opaque tags need no search.
    """
    found = []
    rows = db.execute("SELECT a.address, v.domain FROM aliases AS a JOIN vendors AS v ON v.id = a.vendor_id "
                      "ORDER BY v.domain, a.address")
    for address, vendor in rows:
        if _stored_tag(address) is None:
            continue
        if key is None or verify(address, key, [vendor]).vendor != vendor:
            found.append(address)
    return found


def get_or_create(ledger, domain: str, opaque: bool = False, new_key: bool = False) -> tuple[str, bool]:
    """The active alias of `domain` and whether it was just made (`new_key`: see `alias_key`)."""
    _check_domain(domain)
    vendor_id = ledger.vendor_id(domain)
    if vendor_id is not None:
        existing = _active(ledger, vendor_id)
        if existing is not None:
            return existing, False
    setup = require_setup(ledger)  # before anything is created
    key = alias_key(ledger=ledger, new_key=new_key)
    vendor_id = ledger.vendor_id(domain, create=True)
    with ledger.write() as db:
        existing = _active_in(db, vendor_id)  # another process may have made it meanwhile
        if existing is not None:
            return existing, False
        return _insert_new(db, vendor_id, domain, setup, key, opaque), True


def alias_for(ledger, domain: str, create: bool = True) -> str | None:
    """The vendor's active alias, made (with the next generation) when it has none and `create`.

    `domain` is a normalised vendor domain (`sites.normalise_vendor`). Returns None only when
    `create` is false and there is no active alias. Raises WhoknowsError when aliases are not set up.
    """
    if not create:
        _check_domain(domain)
        vendor_id = ledger.vendor_id(domain)
        return None if vendor_id is None else _active(ledger, vendor_id)
    return get_or_create(ledger, domain)[0]


def rotate(ledger, domain: str, opaque: bool | None = None, new_key: bool = False) -> tuple[str | None, str]:
    """Retire the vendor's active alias and make the next one; (retired address or None, new address).

    `opaque=None` keeps the kind of the alias being retired; `new_key`: see `alias_key`.
    """
    from .ledger import now

    _check_domain(domain)
    vendor_id = ledger.vendor_id(domain)
    if vendor_id is None or not ledger.query("SELECT 1 FROM aliases WHERE vendor_id = ?", (vendor_id,)):
        raise NotFoundError(f"{domain} has no alias yet; 'whoknows alias new {domain}' makes one")
    setup = require_setup(ledger)
    key = alias_key(ledger=ledger, new_key=new_key)
    with ledger.write() as db:
        old = _active_in(db, vendor_id)
        if opaque is None:
            tag = _stored_tag(old) if old else None
            opaque = bool(tag and tag.opaque)
        if old is not None:
            db.execute(
                "UPDATE aliases SET state = 'retired', state_changed_at = ? WHERE address = ?", (now(), old)
            )
        return old, _insert_new(db, vendor_id, domain, setup, key, opaque)


def find_alias(ledger, address: str) -> AliasRecord | None:
    rows = ledger.query(f"{_SELECT} WHERE a.address = ?", (normalise_address(address),))
    return _record(rows[0]) if rows else None


def list_aliases(ledger, vendor: str | None = None, state: str | None = None) -> list[AliasRecord]:
    sql, params = _SELECT + " WHERE 1", []
    if vendor is not None:
        sql += " AND v.domain = ?"
        params.append(vendor)
    if state is not None:
        sql += " AND a.state = ?"
        params.append(state)
    return [_record(row) for row in ledger.query(sql + " ORDER BY v.domain, a.created_at, a.id", params)]


def disable(ledger, target: str) -> tuple[AliasRecord, bool]:
    """Disable an alias named by its address, or a vendor's active alias; (alias, whether changed)."""
    from .ledger import now

    if "@" in target:
        record = find_alias(ledger, target)
        if record is None:
            raise NotFoundError(f"{normalise_address(target)} is not an alias in the ledger")
    else:
        domain = resolve_vendor(ledger, target)
        active = alias_for(ledger, domain, create=False)
        if active is None:
            raise NotFoundError(f"{domain} has no active alias")
        record = find_alias(ledger, active)
    if record.state == "disabled":
        return record, False
    changed_at = now()
    with ledger.write() as db:
        db.execute(
            "UPDATE aliases SET state = 'disabled', state_changed_at = ? WHERE address = ?",
            (changed_at, record.address),
        )
    return AliasRecord(record.address, record.vendor, "disabled", record.created_at, changed_at), True


def vendor_domains(ledger) -> list[str]:
    """Every vendor in the ledger: the candidates for verifying opaque or cut tags."""
    return [row["domain"] for row in ledger.query("SELECT domain FROM vendors ORDER BY domain")]


__all__ = [
    "AliasRecord", "AliasSetup", "KEY_NAME", "Tag", "Verification", "alias_for", "alias_key", "disable", "find_alias",
    "get_or_create", "list_aliases", "load_setup", "make_tag", "mail_domain_of", "normalise_address", "parse_setup", "parse_tag",
    "require_setup", "resolve_vendor", "rotate", "save_setup", "tag_of", "unverifiable_aliases", "vendor_domains",
    "vendor_label", "verify",
]
