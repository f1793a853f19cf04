"""Secrets sealed with a passphrase, for a backup (`whoknows export --with-secrets`).

A ledger export alone cannot bring a ledger back to life on another machine: the aliases verify only
with the alias key and your own values decrypt only with the key of your values, and both live in
the keyring, not in the ledger. `--with-secrets` adds them to the export, sealed:

    "secrets": {"cipher": "scrypt+aes-256-gcm", "scrypt": {"n": 131072, "r": 8, "p": 1},
                "salt": BASE64, "nonce": BASE64, "names": ["alias-key", "me-key"], "sealed": BASE64}

- The key is scrypt(passphrase, salt): memory-hard (128 MiB at n=2^17, r=8), so a stolen backup
  costs ~1 s of one core and 128 MiB per guess. The parameters travel in the file; reading accepts
  only a bounded range (a crafted file cannot make import use gigabytes).
- `sealed` is AES-256-GCM of `{"alias-key": BASE64, "me-key": BASE64}` with a random nonce; the
  associated data is the rest of the section (cipher, parameters, salt, nonce, names), so changing
  any of it, or a byte of `sealed`, fails like a wrong passphrase: nothing is restored.
- The rest of the export is not sealed (it is readable with the ledger's usual protections, 0600);
  the names of the secrets are in the clear, their values never are.

The passphrase is the caller's business (asked on the terminal, or read from a file); it is never
an argument on the command line, and nothing here prints or stores it.
"""

import base64
import json
import os

from .errors import WhoknowsError
from .secrets import SECRET_BYTES

CIPHER = "scrypt+aes-256-gcm"
SCRYPT_N = 2 ** 17
SCRYPT_R = 8
SCRYPT_P = 1
MIN_PASSPHRASE = 8
_SALT_BYTES = 16
_NONCE_BYTES = 12
_AAD_PREFIX = b"whoknows-secrets-v1\n"
# What a file may ask of scrypt (memory is 128 * n * r bytes: at most 256 MiB).
_N_RANGE = (2 ** 14, 2 ** 18)
_R_RANGE = (1, 8)
_P_RANGE = (1, 4)
_FIELDS = ("cipher", "scrypt", "salt", "nonce", "names", "sealed")


class WrongPassphrase(WhoknowsError):
    """The passphrase does not open the sealed secrets (or the section was altered)."""


def check_passphrase(passphrase: str) -> str:
    """The passphrase if it is acceptable for sealing; WhoknowsError saying why not."""
    if len(passphrase) < MIN_PASSPHRASE:
        raise WhoknowsError(
            f"the passphrase is {len(passphrase)} characters; use at least {MIN_PASSPHRASE} "
            "(it is all that protects the keys in the backup)")
    return passphrase


def _key(passphrase: str, salt: bytes, n: int, r: int, p: int) -> bytes:
    from cryptography.hazmat.primitives.kdf.scrypt import Scrypt

    return Scrypt(salt=salt, length=32, n=n, r=r, p=p).derive(passphrase.encode("utf-8"))


def _aad(section: dict) -> bytes:
    header = {field: section[field] for field in _FIELDS if field != "sealed"}
    return _AAD_PREFIX + json.dumps(header, sort_keys=True, separators=(",", ":")).encode("ascii")


def _b64(raw: bytes) -> str:
    return base64.b64encode(raw).decode("ascii")


def seal(secrets: dict[str, bytes], passphrase: str) -> dict:
    """The export's "secrets" section holding `secrets` (name -> 32 bytes), sealed with `passphrase`."""
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM

    check_passphrase(passphrase)
    salt, nonce = os.urandom(_SALT_BYTES), os.urandom(_NONCE_BYTES)
    section = {"cipher": CIPHER, "scrypt": {"n": SCRYPT_N, "r": SCRYPT_R, "p": SCRYPT_P},
               "salt": _b64(salt), "nonce": _b64(nonce), "names": sorted(secrets)}
    plain = json.dumps({name: _b64(value) for name, value in sorted(secrets.items())}).encode("ascii")
    key = _key(passphrase, salt, SCRYPT_N, SCRYPT_R, SCRYPT_P)
    section["sealed"] = _b64(AESGCM(key).encrypt(nonce, plain, _aad(section)))
    return section


def check_section(section, name: str) -> dict:
    """The "secrets" section of export `name`, checked in shape (not opened); WhoknowsError if bad."""
    def bad(why: str) -> WhoknowsError:
        return WhoknowsError(f"{name}: the sealed secrets are damaged ({why}); nothing was imported")

    if not isinstance(section, dict) or set(section) != set(_FIELDS):
        raise bad(f"expected the fields {', '.join(_FIELDS)}")
    if section["cipher"] != CIPHER:
        raise bad(f"unknown cipher {section['cipher']!r}")
    params = section["scrypt"]
    if not isinstance(params, dict) or set(params) != {"n", "r", "p"}:
        raise bad("scrypt needs n, r and p")
    for field, (low, high) in (("n", _N_RANGE), ("r", _R_RANGE), ("p", _P_RANGE)):
        value = params[field]
        if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
            raise bad(f"scrypt {field} must be a whole number from {low} to {high}")
    if params["n"] & (params["n"] - 1):
        raise bad("scrypt n must be a power of 2")
    for field, length in (("salt", _SALT_BYTES), ("nonce", _NONCE_BYTES)):
        if len(_decode(section[field], bad)) != length:
            raise bad(f"{field} must be {length} bytes")
    _decode(section["sealed"], bad)
    names = section["names"]
    if not isinstance(names, list) or not names or not all(isinstance(n, str) for n in names):
        raise bad("names must be a list of secret names")
    return section


def _decode(value, bad) -> bytes:
    try:
        if isinstance(value, str):
            return base64.b64decode(value, validate=True)
    except ValueError:
        pass
    raise bad("not base64")


def open_sealed(section: dict, passphrase: str, name: str) -> dict[str, bytes]:
    """The secrets in a checked section (name -> 32 bytes); WrongPassphrase when it does not open."""
    from cryptography.exceptions import InvalidTag
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM

    params = section["scrypt"]
    key = _key(passphrase, base64.b64decode(section["salt"]), params["n"], params["r"], params["p"])
    try:
        plain = AESGCM(key).decrypt(base64.b64decode(section["nonce"]), base64.b64decode(section["sealed"]),
                                    _aad(section))
    except InvalidTag:
        raise WrongPassphrase(
            f"the passphrase does not open the secrets in {name} (a wrong passphrase, or the file was "
            "altered); nothing was imported") from None
    opened = {secret: base64.b64decode(value) for secret, value in json.loads(plain).items()}
    if sorted(opened) != sorted(section["names"]) or any(len(v) != SECRET_BYTES for v in opened.values()):
        raise WhoknowsError(f"{name}: the sealed secrets are damaged (they do not match their names); "
                            "nothing was imported")
    return opened


__all__ = ["CIPHER", "MIN_PASSPHRASE", "WrongPassphrase", "check_passphrase", "check_section", "open_sealed", "seal"]
