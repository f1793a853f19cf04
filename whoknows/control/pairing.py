"""Pairing the browser extension, and the token it gets: both kept as whoknows secrets.

The token is the whoknows secret `extension-token` (URL-safe base64 of its 32 bytes); a pairing code
is the secret `extension-pairing` (its first 40 bits as 8 Crockford base32 symbols, `XXXX-XXXX`),
with its expiry and wrong-try count beside it in `<data dir>/extension-pairing.json` (not secret).
Neither ever goes to the ledger, a log or argv. Every paired browser gets the same token; `unpair`
revokes it for all of them.
"""

from __future__ import annotations

import base64
import contextlib
import hmac
import json
import logging
import os
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass

from .. import paths, secrets
from ..errors import InputError, WhoknowsError
from .protocol import Refused

try:
    import fcntl
except ImportError:  # Windows
    fcntl = None

logger = logging.getLogger("whoknows.control")

TOKEN_SECRET = "extension-token"
PAIRING_SECRET = "extension-pairing"
PAIRING_FILE = "extension-pairing.json"
PAIRING_LOCK_FILE = ".extension-pairing.lock"
PAIRING_TTL_SECONDS = 600
PAIRING_MAX_FAILURES = 5
_CROCKFORD = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
_CODE_READS_AS = str.maketrans({"I": "1", "L": "1", "O": "0"})


@dataclass(frozen=True)
class PairingCode:
    code: str  # XXXX-XXXX: shown on the terminal only
    expires_at: float  # seconds since the epoch


@dataclass(frozen=True)
class PairingState:
    """A pending pairing code's public facts (never the code)."""

    expires_at: float
    failures: int


def _code_of(secret: bytes) -> str:
    bits = int.from_bytes(secret[:5], "big")
    symbols = "".join(_CROCKFORD[(bits >> shift) & 31] for shift in range(35, -1, -5))
    return f"{symbols[:4]}-{symbols[4:]}"


def normalise_code(text: str) -> str:
    """A pairing code as typed (any case, spaces or dash anywhere) as `XXXX-XXXX`; InputError if it
    cannot be one. Crockford's reading: I and L are 1, O is 0."""
    compact = "".join(text.split()).replace("-", "").upper()
    if len(compact) != 8 or not compact.isascii() or not compact.isalnum():
        raise InputError("a pairing code is 8 letters or digits (XXXX-XXXX), as "
                         "'whoknows extension pair' prints it")
    compact = compact.translate(_CODE_READS_AS)
    return f"{compact[:4]}-{compact[4:]}"


def _token_text(secret: bytes) -> str:
    return base64.urlsafe_b64encode(secret).decode("ascii").rstrip("=")


class TokenStore:
    """The extension's token and the pending pairing code, kept as whoknows secrets.

    Safe to use from several threads and processes at once: pairing reads and writes under an
    exclusive lock on `<data dir>/.extension-pairing.lock`. The token is read from its store on
    every check, so `whoknows extension unpair` in another process takes effect at once."""

    def __init__(self, clock: Callable[[], float] = time.time, ttl: float = PAIRING_TTL_SECONDS,
                 max_failures: int = PAIRING_MAX_FAILURES) -> None:
        self.clock, self.ttl, self.max_failures = clock, ttl, max_failures
        self._thread_lock = threading.Lock()

    # -- the token --

    def token(self) -> str | None:
        """The current token, or None when no extension is paired."""
        if secrets.secret_location(TOKEN_SECRET) is None:  # cheap: no keyring discovery
            return None
        try:
            return _token_text(secrets.get_secret(TOKEN_SECRET))
        except WhoknowsError as exc:  # its store cannot be read: nobody is let in
            logger.warning(f"whoknows control API: cannot read the extension token ({exc})")
            return None

    def check(self, presented: str | None) -> bool:
        """Whether `presented` is the token, compared in constant time."""
        if presented is None:
            return False
        expected = self.token()
        # Compared even when there is no token, so answering takes as long either way.
        reference = (expected or _token_text(os.urandom(32))).encode("ascii")
        return hmac.compare_digest(presented.encode("utf-8", "replace"), reference) and expected is not None

    def paired(self) -> bool:
        return secrets.secret_location(TOKEN_SECRET) is not None

    def unpair(self) -> bool:
        """Revoke the token (and any pending code); True if an extension was paired."""
        with self._locked():
            self._clear_pairing()
            return secrets.delete_secret(TOKEN_SECRET)

    def _issue_token(self) -> str:
        try:
            return _token_text(secrets.get_secret(TOKEN_SECRET, create=True))
        except WhoknowsError:  # recorded but gone from its store: a token can simply be remade
            secrets.delete_secret(TOKEN_SECRET)
            return _token_text(secrets.get_secret(TOKEN_SECRET, create=True))

    # -- pairing --

    def new_pairing_code(self) -> PairingCode:
        """A fresh single-use code (any earlier one stops working), valid for `ttl` seconds."""
        with self._locked():
            secrets.delete_secret(PAIRING_SECRET)
            code = _code_of(secrets.get_secret(PAIRING_SECRET, create=True))
            state = PairingState(self.clock() + self.ttl, 0)
            self._write_state(state)
        return PairingCode(code, state.expires_at)

    def pending(self) -> PairingState | None:
        """The pending code's expiry and wrong tries; None when there is none (or it expired)."""
        state = self._read_state()
        if state is None or secrets.secret_location(PAIRING_SECRET) is None:
            return None
        return state if self.clock() < state.expires_at else None

    def pair(self, text: str) -> str:
        """The token, in exchange for the pending code; `Refused` (403) otherwise, `InputError`
        for text that cannot be a code (not counted as a try)."""
        given = normalise_code(text)
        with self._locked():
            code, state = self._pending_code()
            if code is None or state is None:
                raise Refused(403, "no pairing code is waiting: run 'whoknows extension pair' and "
                                   "enter the code it prints", "no pairing code pending")
            if self.clock() >= state.expires_at:
                self._clear_pairing()
                raise Refused(403, "that pairing code has expired: run 'whoknows extension pair' "
                                   "for a new one", "pairing code expired")
            if not hmac.compare_digest(given.encode("ascii"), code.encode("ascii")):
                raise self._wrong_code(state)
            self._clear_pairing()  # single use
            return self._issue_token()

    def _wrong_code(self, state: PairingState) -> Refused:
        failures = state.failures + 1
        if failures >= self.max_failures:
            self._clear_pairing()
            return Refused(403, f"wrong pairing code; after {failures} wrong tries the code is "
                                "cancelled: run 'whoknows extension pair' for a new one",
                           "wrong pairing code (code cancelled)")
        self._write_state(PairingState(state.expires_at, failures))
        left = self.max_failures - failures
        return Refused(403, f"wrong pairing code ({left} {'try' if left == 1 else 'tries'} left)",
                       "wrong pairing code")

    def _pending_code(self) -> tuple[str | None, PairingState | None]:
        state = self._read_state()
        if state is None or secrets.secret_location(PAIRING_SECRET) is None:
            return None, None
        try:
            return _code_of(secrets.get_secret(PAIRING_SECRET)), state
        except WhoknowsError:
            return None, None

    def _clear_pairing(self) -> None:
        secrets.delete_secret(PAIRING_SECRET)
        with contextlib.suppress(FileNotFoundError):
            _pairing_file().unlink()

    def _read_state(self) -> PairingState | None:
        try:
            data = json.loads(_pairing_file().read_bytes())
            return PairingState(float(data["expires_at"]), int(data["failures"]))
        except FileNotFoundError:
            return None
        except (OSError, ValueError, KeyError, TypeError):  # damaged: no code is pending
            return None

    def _write_state(self, state: PairingState) -> None:
        paths.data_dir()
        data = {"expires_at": state.expires_at, "failures": state.failures}
        paths.write_private_file(_pairing_file(), (json.dumps(data) + "\n").encode())

    @contextlib.contextmanager
    def _locked(self) -> Iterator[None]:
        with self._thread_lock:
            fd = os.open(paths.data_dir() / PAIRING_LOCK_FILE, os.O_CREAT | os.O_RDWR, paths.FILE_MODE)
            try:
                if fcntl is not None:  # no advisory locks (Windows): the thread lock still holds
                    fcntl.flock(fd, fcntl.LOCK_EX)
                yield
            finally:
                os.close(fd)  # releases the lock


def _pairing_file():
    return paths.data_dir(create=False) / PAIRING_FILE


def new_pairing_code(clock: Callable[[], float] = time.time) -> PairingCode:
    """A fresh pairing code for `whoknows extension pair`."""
    return TokenStore(clock=clock).new_pairing_code()
