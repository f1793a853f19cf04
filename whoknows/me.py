"""The person's own values (emails, phones, names, addresses, birthday...), kept encrypted.

`whoknows me add KIND VALUE` stores a value the proxy then looks for in every outgoing request
(`whoknows.leakscan`); the user's aliases count as watched values too, without being copied here
(they are in the `aliases` table already, in plaintext, because mail must reach them).

How a value is kept (`me_values`, schema v4):
- `ciphertext`: AES-256-GCM of the value as given, with a random 96-bit nonce; the associated
  data binds it to its kind, so a row's ciphertext moved to another kind does not decrypt.
- `lookup`: HMAC-SHA256 of (kind, normalised value): finds a value (adding it twice, removing it,
  `knows KIND VALUE`) without decrypting anything. "+34 600 111 222" and "0034600111222" are one
  value; emails compare lowercased.
- `key_id`: a keyed fingerprint of the key that encrypted the row, so rows imported from another
  machine (another key) are told apart from damaged ones.
Both keys (encryption and lookup) are derived from one secret, `me-key` (`whoknows.secrets`: the
OS keyring, or the 0600 fallback file), never stored in the ledger. Without the secret the values
are unreadable: losing it loses them, so no new key is made while the ledger holds values it could
not read (unless asked: `--new-key`); `whoknows export --with-secrets` carries the key to a backup.

References instead of plaintext: what the proxy learns about a value is written to the ledger as
its *reference* `<masked> [me:<tag>]` (`a•••@example.com [me:3f9a0c1d]`), where the tag is the
first 8 hex digits of `lookup`: stable for a value (re-adding it gives the same tag), meaningless
without the key, and readable enough in `vendor show`. `knows KIND VALUE` finds references by
recomputing the tag.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
import re
from dataclasses import dataclass
from typing import NamedTuple

from .errors import InputError, NotFoundError, WhoknowsError
from .ledger import Ledger, now
from .values import clean_value, normalised

KINDS = ("email", "phone", "name", "address", "birthday", "id-number", "location", "other")
KEY_NAME = "me-key"
TAG_CHARS = 8
MASK = "•••"
_NONCE_BYTES = 12
_AAD_PREFIX = b"whoknows-me-v1\n"
_REFERENCE = re.compile(r"\[me:([0-9a-f]{%d})\]$" % TAG_CHARS)


# -- keys --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class MeKeys:
    """The two keys derived from the `me-key` secret, and the key's public fingerprint."""

    encryption: bytes
    lookup: bytes
    key_id: str

    @classmethod
    def from_secret(cls, secret: bytes) -> "MeKeys":
        def derive(label: bytes) -> bytes:
            return hmac.new(secret, b"whoknows-me-v1\n" + label, hashlib.sha256).digest()

        return cls(derive(b"encryption"), derive(b"lookup"), derive(b"key-id").hex()[:16])


def load_keys(create: bool = False, ledger: Ledger | None = None, new_key: bool = False) -> MeKeys | None:
    """The keys, from the `me-key` secret; None when it does not exist and not `create`.

    Made when missing and `create`, but not while `ledger` (required then) holds values encrypted
    with a key this machine does not have: they would stay unreadable, and once a new key exists the
    old one can no longer be restored. `new_key` makes it anyway (starting over knowingly).
    WhoknowsError when the secret's store cannot be read (never replaced by a new one).
    """
    from . import secrets

    try:
        return MeKeys.from_secret(secrets.get_secret(KEY_NAME, create=False))
    except NotFoundError:
        if not create:
            return None

    def refusal(db) -> str | None:
        orphans = unreadable_values(db, None)
        if not orphans:
            return None
        return (f"the ledger holds {orphans} of your values encrypted with a key this machine does not have, "
                f"and a new key could never read them: {secrets.RESTORE_HINT}; or start over knowingly with a new key "
                "(those values stay unreadable: remove them and add them again): "
                "'whoknows me add KIND VALUE --new-key'")

    return MeKeys.from_secret(secrets.make_secret_unless_orphaning(KEY_NAME, ledger, new_key, refusal))


def unreadable_values(db, keys: MeKeys | None) -> int:
    """How many own values in the ledger (`db`: a connection) `keys` cannot decrypt (all when None)."""
    rows = db.execute("SELECT kind, ciphertext FROM me_values").fetchall()
    if keys is None:
        return len(rows)
    return sum(1 for kind, ciphertext in rows if decrypt(keys, kind, ciphertext) is None)


# -- values ------------------------------------------------------------------------------------


def clean(kind: str, value: str) -> str:
    """The value as stored (checked like a disclosure of that kind); InputError when it is not one."""
    kind = kind.strip().lower()
    if kind not in KINDS:
        raise InputError(f"unknown kind {kind!r} (one of {', '.join(KINDS)})")
    return clean_value(kind, value)


def lookup_hash(keys: MeKeys, kind: str, value: str) -> str:
    message = kind.encode() + b"\n" + normalised(kind, value).encode("utf-8")
    return hmac.new(keys.lookup, message, hashlib.sha256).hexdigest()


def _aad(kind: str) -> bytes:
    return _AAD_PREFIX + kind.encode()


def encrypt(keys: MeKeys, kind: str, value: str) -> str:
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM

    nonce = os.urandom(_NONCE_BYTES)
    sealed = AESGCM(keys.encryption).encrypt(nonce, value.encode("utf-8"), _aad(kind))
    return base64.b64encode(nonce + sealed).decode("ascii")


def decrypt(keys: MeKeys, kind: str, ciphertext: str) -> str | None:
    """The plaintext, or None when this key cannot open it (another machine's key, or damage)."""
    from cryptography.exceptions import InvalidTag
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM

    try:
        raw = base64.b64decode(ciphertext, validate=True)
        opened = AESGCM(keys.encryption).decrypt(raw[:_NONCE_BYTES], raw[_NONCE_BYTES:], _aad(kind))
        return opened.decode("utf-8")
    except (InvalidTag, ValueError, UnicodeDecodeError):
        return None


def mask(kind: str, value: str) -> str:
    """Enough to recognise a value on screen, not enough to learn it.

    Emails keep the first character and the domain (`a•••@example.com`); phones their last two
    digits (`•••22`); everything else its first character (`A•••`).
    """
    value = value.strip()
    if kind == "email":
        local, _, domain = value.rpartition("@")
        return f"{local[:1]}{MASK}@{domain}"
    if kind == "phone":
        digits = re.sub(r"\D", "", value)
        return MASK + digits[-2:]
    return value[:1] + MASK


def tag_of(lookup: str) -> str:
    return lookup[:TAG_CHARS]


def reference(kind: str, value: str, lookup: str) -> str:
    """What the ledger keeps instead of the value: `<masked> [me:<tag>]`."""
    return f"{mask(kind, value)} [me:{tag_of(lookup)}]"


def reference_tag(text: str) -> str | None:
    """The tag of a reference, or None when `text` is not one (an alias, a told value)."""
    found = _REFERENCE.search(text)
    return found.group(1) if found else None


# -- the ledger --------------------------------------------------------------------------------


class MeValue(NamedTuple):
    id: int
    kind: str
    value: str | None  # None: this machine's key cannot decrypt it
    lookup: str
    key_id: str
    created_at: str

    @property
    def tag(self) -> str:
        return tag_of(self.lookup)

    @property
    def readable(self) -> bool:
        return self.value is not None

    def masked(self) -> str:
        return mask(self.kind, self.value) if self.value is not None else f"(unreadable) [me:{self.tag}]"

    def reference(self) -> str:
        if self.value is None:
            raise WhoknowsError(f"own value {self.id} cannot be decrypted with this machine's key")
        return reference(self.kind, self.value, self.lookup)

    def to_json(self, reveal: bool = False) -> dict:
        return {
            "id": self.id, "kind": self.kind,
            "value": self.value if reveal else (self.masked() if self.value is not None else None),
            "masked": not reveal, "readable": self.readable, "tag": self.tag, "created_at": self.created_at,
        }


def add_value(ledger: Ledger, kind: str, value: str, new_key: bool = False) -> tuple[MeValue, bool]:
    """Store an own value (encrypted); (the value, True if new). Making the key on first use
    (`new_key`: see `load_keys`)."""
    kind = kind.strip().lower()
    value = clean(kind, value)
    keys = load_keys(create=True, ledger=ledger, new_key=new_key)
    lookup = lookup_hash(keys, kind, value)
    with ledger.write() as db:
        row = db.execute("SELECT id, created_at FROM me_values WHERE lookup = ?", (lookup,)).fetchone()
        if row is not None:
            return MeValue(row[0], kind, value, lookup, keys.key_id, row[1]), False
        stamp = now()
        cursor = db.execute(
            "INSERT INTO me_values (kind, lookup, ciphertext, key_id, created_at) VALUES (?, ?, ?, ?, ?)",
            (kind, lookup, encrypt(keys, kind, value), keys.key_id, stamp))
        return MeValue(cursor.lastrowid, kind, value, lookup, keys.key_id, stamp), True


def list_values(ledger: Ledger, keys: MeKeys | None = None, kind: str | None = None) -> list[MeValue]:
    """Every own value, decrypted where this machine's key can (`value` None where it cannot)."""
    if keys is None:
        keys = load_keys(create=False)
    sql = "SELECT id, kind, lookup, ciphertext, key_id, created_at FROM me_values"
    params: tuple = ()
    if kind is not None:
        sql += " WHERE kind = ?"
        params = (kind,)
    values = []
    for row in ledger.query(sql + " ORDER BY kind, id", params):
        plain = decrypt(keys, row["kind"], row["ciphertext"]) if keys is not None else None
        values.append(MeValue(row["id"], row["kind"], plain, row["lookup"], row["key_id"], row["created_at"]))
    return values


def remove_value(ledger: Ledger, target: str, value: str | None = None) -> MeValue:
    """Remove one value: by id (`target` a number) or by kind and value (`target` the kind)."""
    if value is None:
        if not target.strip().isdigit():
            raise InputError(f"{target!r} is not an id; give an id from 'whoknows me list' or KIND VALUE")
        where, params = "id = ?", (int(target),)
        what = f"id {int(target)}"
    else:
        kind = target.strip().lower()
        cleaned = clean(kind, value)
        keys = load_keys(create=False)
        if keys is None:
            raise NotFoundError(f"no such {kind} among your values (none were ever added here)")
        where, params = "lookup = ?", (lookup_hash(keys, kind, cleaned),)
        what = f"such {kind}"
    with ledger.write() as db:
        row = db.execute(
            f"SELECT id, kind, lookup, ciphertext, key_id, created_at FROM me_values WHERE {where}", params
        ).fetchone()
        if row is None:
            raise NotFoundError(f"no {what} among your values ('whoknows me list' shows them)")
        db.execute("DELETE FROM me_values WHERE id = ?", (row["id"],))
    keys = load_keys(create=False)
    plain = decrypt(keys, row["kind"], row["ciphertext"]) if keys is not None else None
    return MeValue(row["id"], row["kind"], plain, row["lookup"], row["key_id"], row["created_at"])


def tag_for(kind: str, value: str) -> str | None:
    """The reference tag `value` of `kind` has (or would have), without touching the ledger.

    None when no key exists yet (so no reference can exist either) or the kind is not an own kind.
    """
    if kind not in KINDS:
        return None
    keys = load_keys(create=False)
    return None if keys is None else tag_of(lookup_hash(keys, kind, value))


# -- what the proxy watches --------------------------------------------------------------------


class ValueRef(NamedTuple):
    """What a scanner match points back to: the reference the ledger keeps, and its kind."""

    kind: str
    ref: str  # an alias address, or `<masked> [me:<tag>]`
    origin: str  # "me" or "alias"


def watched_values(ledger: Ledger, keys: MeKeys | None) -> tuple[list[tuple[str, str, ValueRef]], int]:
    """(kind, plaintext, ValueRef) for every own value this key opens and every alias, and how
    many own values could not be decrypted."""
    watched: list[tuple[str, str, ValueRef]] = []
    unreadable = 0
    own = list_values(ledger, keys) if keys is not None else []  # None: no key here, nothing decrypts
    if keys is None:
        unreadable = ledger.query("SELECT count(*) FROM me_values")[0][0]
    for item in own:
        if item.value is None:
            unreadable += 1
            continue
        watched.append((item.kind, item.value, ValueRef(item.kind, item.reference(), "me")))
    for row in ledger.query("SELECT address FROM aliases ORDER BY address"):
        watched.append(("alias", row[0], ValueRef("alias", row[0], "alias")))
    return watched, unreadable


def fingerprint(ledger: Ledger) -> tuple:
    """Changes whenever the watched values change (a cheap read: no decryption)."""
    with ledger.read() as db:
        own = db.execute("SELECT id, lookup, key_id FROM me_values ORDER BY id").fetchall()
        aliases = db.execute("SELECT id, address FROM aliases ORDER BY id").fetchall()
    return tuple(tuple(r) for r in own), tuple(tuple(r) for r in aliases)


__all__ = [
    "KEY_NAME", "KINDS", "MeKeys", "MeValue", "ValueRef", "add_value", "clean", "decrypt", "encrypt",
    "fingerprint", "list_values", "load_keys", "lookup_hash", "mask", "reference", "reference_tag",
    "remove_value", "tag_for", "unreadable_values", "watched_values",
]
