"""Secrets (the alias key, later the extension token and the encryption key): 32 random bytes each.

Where a secret lives
- In the OS keyring (service `whoknows`, username = the secret's name, value base64), when one works.
- Otherwise in a fallback file, `<data dir>/secrets.json`, mode 0600, said once on stderr when the
  file is created. The fallback is our own file rather than keyrings.alt's PlaintextKeyring: it lives
  in the data directory (backed up and removed with the ledger), is written atomically, and needs no
  import of keyring at all, which keeps `whoknows alias new` fast. Either way it is plaintext
  protected by file permissions; the OS keyring is better, so `whoknows doctor` says when one has
  become available and `whoknows doctor --move-secrets` moves the secrets into it.

Which store is chosen
- `PYTHON_KEYRING_BACKEND` (the user's explicit choice) always wins; `keyring.backends.fail.Keyring`
  or `keyring.backends.null.Keyring` there means "no keyring": the fallback file.
- Otherwise the store recorded when the secret was made (`<data dir>/secret-locations.json`, not
  secret). Reading a recorded store needs no discovery: keyring's entry-point scan (~0.1 s) runs only
  the first time a data directory needs a secret.
- Otherwise keyring's own choice: its config file (`keyringrc.cfg`) if the user wrote one, else the
  best *recommended* backend (priority >= 1, keyring's own definition). keyrings.alt's file backends
  (priority < 1, and EncryptedKeyring prompts for a password) are not taken by discovery alone.

Never losing a secret
- A secret that exists somewhere (the recorded store, or the fallback file) is never replaced by a new
  one: if its store cannot be read the user gets an error, not a fresh key. When the chosen store lacks
  a secret that another store has, it is copied, read back, then removed from the old store (moved),
  and the move is said on stderr.
- Creating and moving happen under an exclusive lock on `<data dir>/.secrets.lock`, so two processes
  starting at once agree on one key.
- Restoring from a backup (`restore_secret`, for `whoknows import` of an export made
  `--with-secrets`) stores a secret where a new one would go, and never over a different value
  already here (SecretConflict): a restore cannot lose a key either.
- Secrets never go to the ledger, logs or argv; errors name secrets, never show them.

Passwords of the user's own accounts (the SMTP account intents are sent through, issue 15) live in
the same stores under names starting with `account-`: text the user gave (`store_password`), of any
length, never made at random, replaced when the user gives a new one, and not in backups.
"""

import base64
import json
import os
import re
import sys
from collections.abc import Callable
from pathlib import Path

from . import paths
from .errors import NotFoundError, WhoknowsError

SERVICE = "whoknows"
SECRET_BYTES = 32
FALLBACK_FILE = "secrets.json"
LOCATIONS_FILE = "secret-locations.json"
LOCK_FILE = ".secrets.lock"
FILE_STORE = "file"
# Backends that store nothing: choosing them means "no keyring", i.e. the fallback file.
NO_KEYRING_BACKENDS = ("keyring.backends.fail.Keyring", "keyring.backends.null.Keyring")

# What to do when a key is missing but the ledger holds what it protects (aliases, own values).
RESTORE_HINT = (
    "restore the key from a backup made with it ('whoknows export --with-secrets -o FILE' where it is, "
    "then 'whoknows import FILE' here)"
)

_NAME = re.compile(r"^[a-z0-9][a-z0-9-]{0,62}$")
ACCOUNT_PREFIX = "account-"  # names of the user's own passwords: any length (see the docstring)
MAX_PASSWORD_BYTES = 4096


# -- the two kinds of store -------------------------------------------------------------------------


def fallback_path() -> Path:
    return paths.data_dir(create=False) / FALLBACK_FILE


def _read_json(path: Path) -> dict:
    try:
        data = json.loads(path.read_bytes())
    except FileNotFoundError:
        return {}
    except (OSError, ValueError) as exc:
        raise WhoknowsError(f"cannot read {path}: {exc}") from None
    if not isinstance(data, dict):
        raise WhoknowsError(f"{path} is damaged (not a JSON object)")
    return data


def _write_json(path: Path, data: dict) -> None:
    paths.data_dir()  # creates the directory (0700) on first use
    paths.write_private_file(path, (json.dumps(data, indent=1, sort_keys=True) + "\n").encode())


class _FileStore:
    spec = FILE_STORE

    def describe(self) -> str:
        return f"fallback file {fallback_path()} (mode 0600; no OS keyring in use)"

    def get(self, name: str) -> bytes | None:
        value = _read_json(fallback_path()).get("secrets", {}).get(name)
        return None if value is None else _decode(value, f"{name} in {fallback_path()}", _is_account(name))

    def set(self, name: str, value: bytes) -> None:
        path = fallback_path()
        existed = path.exists()
        data = _read_json(path)
        data.setdefault("secrets", {})[name] = base64.b64encode(value).decode("ascii")
        _write_json(path, data)
        if not existed:
            _notice(f"no OS keyring available; keeping secrets in {path} (mode 0600)")

    def delete(self, name: str) -> None:
        path = fallback_path()
        data = _read_json(path)
        if data.get("secrets", {}).pop(name, None) is None:
            return
        if data["secrets"]:
            _write_json(path, data)
        else:
            path.unlink()  # nothing secret left on disk


class _KeyringStore:
    def __init__(self, spec: str):
        self.spec = spec
        self._backend = None

    def describe(self) -> str:
        return f"OS keyring ({self.spec})"

    def backend(self):
        if self._backend is None:
            try:
                import keyring.core  # lazily: ~50 ms, and not needed at all with the fallback file

                self._backend = keyring.core.load_keyring(self.spec)
            except Exception as exc:  # ImportError, AttributeError, RuntimeError (not viable here)
                raise WhoknowsError(f"cannot load the keyring backend {self.spec}: {exc}") from None
        return self._backend

    def get(self, name: str) -> bytes | None:
        try:
            value = self.backend().get_password(SERVICE, name)
        except WhoknowsError:
            raise
        except Exception as exc:
            raise WhoknowsError(
                f"cannot read the secret {name!r} from the keyring {self.spec}: {exc}; "
                "whoknows will not make a new one (it would lose the old one)"
            ) from None
        return None if value is None else _decode(value, f"{name} in {self.spec}", _is_account(name))

    def set(self, name: str, value: bytes) -> None:
        try:
            self.backend().set_password(SERVICE, name, base64.b64encode(value).decode("ascii"))
        except WhoknowsError:
            raise
        except Exception as exc:
            raise WhoknowsError(f"cannot store the secret {name!r} in the keyring {self.spec}: {exc}") from None

    def delete(self, name: str) -> None:
        try:
            self.backend().delete_password(SERVICE, name)
        except Exception:  # PasswordDeleteError when absent; the copy elsewhere is what matters
            pass


def _store(spec: str):
    return _FileStore() if spec in (FILE_STORE, *NO_KEYRING_BACKENDS) else _KeyringStore(spec)


def _is_account(name: str) -> bool:
    return name.startswith(ACCOUNT_PREFIX)


def _decode(value: str, where: str, any_length: bool = False) -> bytes:
    try:
        raw = base64.b64decode(value, validate=True)
    except (ValueError, TypeError):
        raw = None
    if raw is None or (not any_length and len(raw) != SECRET_BYTES):
        raise WhoknowsError(f"the secret {where} is damaged (not {SECRET_BYTES} bytes of base64)")
    return raw


def _notice(message: str) -> None:
    # The core does not import click; a notice is one plain line on stderr.
    sys.stderr.write(f"whoknows: {message}\n")
    sys.stderr.flush()


# -- choosing a store -------------------------------------------------------------------------------


def _env_spec() -> str | None:
    """The store named by PYTHON_KEYRING_BACKEND ('file' for the no-keyring backends), or None."""
    env = os.environ.get("PYTHON_KEYRING_BACKEND", "").strip()
    if not env:
        return None
    return FILE_STORE if env in NO_KEYRING_BACKENDS else env


def _locations() -> dict:
    return _read_json(paths.data_dir(create=False) / LOCATIONS_FILE)


def _record(name: str, spec: str) -> None:
    path = paths.data_dir() / LOCATIONS_FILE
    data = _read_json(path)
    if data.get(name) != spec:
        data[name] = spec
        _write_json(path, data)


def _class_path(backend) -> str:
    return f"{type(backend).__module__}.{type(backend).__qualname__}"


def discover_keyring() -> str | None:
    """The OS keyring keyring would use here (config file, else best recommended backend), or None.

    Slow (~0.1 s: keyring scans entry points); called only when no store is recorded, and by doctor.
    """
    try:
        import keyring.backend
        import keyring.core
    except ImportError:
        return None
    try:
        configured = keyring.core.load_config()
    except Exception:  # a broken keyringrc.cfg names a backend that cannot load: no keyring
        configured = None
    if configured is not None:
        spec = _class_path(configured)
        return None if spec in NO_KEYRING_BACKENDS else spec
    # The chainer is left out: it only forwards to the best concrete backend, which is named instead
    # (loading a recorded chainer would rescan entry points on every use).
    recommended = [
        b for b in keyring.backend.get_all_keyring()
        if _priority(b) >= 1 and not _class_path(b).startswith("keyring.backends.chainer.")
    ]
    if not recommended:
        return None
    return _class_path(max(recommended, key=_priority))


def _priority(backend) -> float:
    try:
        return float(backend.priority)
    except Exception:
        return 0.0


def _chosen_spec(name: str) -> str:
    """Where `name` should live now: the user's explicit choice, its record, or discovery."""
    return _env_spec() or _locations().get(name) or discover_keyring() or FILE_STORE


# -- the API ----------------------------------------------------------------------------------------


def _check_name(name: str) -> None:
    if not _NAME.match(name):
        raise ValueError(f"a secret's name is lowercase letters, digits and '-': {name!r}")


def make_secret_unless_orphaning(name: str, ledger, new_key: bool,
                                 refusal: Callable[[object], str | None]) -> bytes:
    """Make the missing secret `name`, unless the ledger holds what only the missing one opens.

    `refusal(db)` (a ledger connection) says why a new secret would orphan data (aliases it could
    never verify, values it could never read), or None. A secret made over such data stays wrong
    for it, and once it exists the old one can no longer be restored; `new_key` makes it anyway
    (starting over knowingly).
    """
    if ledger is None:
        raise ValueError(f"making the secret {name!r} needs the ledger, to check what it would orphan")
    if not new_key:
        with ledger.read() as db:
            reason = refusal(db)
        if reason:
            raise WhoknowsError(reason)
    return get_secret(name, create=True)


def get_secret(name: str, create: bool = False) -> bytes:
    """The secret `name` (32 bytes), made at random and stored when missing and `create`.

    Raises NotFoundError when it does not exist and not `create`, WhoknowsError when its store cannot
    be read (never silently replaced).
    """
    _check_name(name)
    if create and _is_account(name):
        raise ValueError(f"{name!r} is a password the user gives (store_password), never made")
    recorded = _locations().get(name)
    spec = _env_spec() or recorded
    if spec is not None:  # the fast path: no keyring discovery, no lock
        value = _store(spec).get(name)
        if value is not None and spec == recorded:
            return value
    with _lock():
        return _resolve(name, create)


def _resolve(name: str, create: bool) -> bytes:
    """Find, move or make `name`; runs under the lock, re-reading everything another process wrote."""
    recorded = _locations().get(name)
    target = _chosen_spec(name)
    value = _store(target).get(name)
    if value is None:
        value = _take_from_elsewhere(name, target, recorded)
    if value is None:
        if recorded is not None:
            raise WhoknowsError(
                f"the secret {name!r} was stored in {_store(recorded).describe()} but is not there any "
                f"more; restore it, or delete its line in {paths.data_dir(create=False) / LOCATIONS_FILE} "
                "to make a new one (what the old one protected is then lost)"
            )
        if not create:
            raise NotFoundError(f"there is no secret {name!r} on this machine yet")
        value = os.urandom(SECRET_BYTES)
        store = _store(target)
        store.set(name, value)
        if store.get(name) != value:
            raise WhoknowsError(f"{store.describe()} did not keep the secret {name!r}; it was not used")
    _record(name, target)
    return value


def _take_from_elsewhere(name: str, target: str, recorded: str | None) -> bytes | None:
    """Move `name` into `target` from its recorded store or the fallback file, if it is there."""
    for source in dict.fromkeys(s for s in (recorded, FILE_STORE) if s and s != target):
        value = _store(source).get(name)
        if value is not None:
            _move(name, value, _store(source), _store(target))
            return value
    return None


def _move(name: str, value: bytes, source, target) -> None:
    target.set(name, value)
    if target.get(name) != value:
        raise WhoknowsError(f"{target.describe()} did not keep the secret {name!r}; it stays where it was")
    _record(name, target.spec)
    source.delete(name)
    _notice(f"moved the secret {name!r} from {source.describe()} to {target.describe()}")


def delete_secret(name: str) -> bool:
    """Remove `name` from its recorded store (and the fallback file) and forget its record; True if
    it was recorded. Only for secrets that can be made again (the extension's token, a pairing
    code): what a deleted key protected is lost."""
    _check_name(name)
    with _lock():
        recorded = _locations().get(name)
        for spec in dict.fromkeys(s for s in (recorded, _env_spec(), FILE_STORE) if s):
            _store(spec).delete(name)
        if recorded is None:
            return False
        path = paths.data_dir() / LOCATIONS_FILE
        data = _read_json(path)
        data.pop(name, None)
        _write_json(path, data)
        return True


class SecretConflict(WhoknowsError):
    """This machine already has a different value for a secret being restored."""


def restore_secret(name: str, value: bytes, check_only: bool = False) -> bool:
    """Put back the secret `name` from a backup; True if it was stored, False if it was here already.

    Where it goes is where a new one would go (the keyring, or the fallback file). A different value
    already here is never overwritten (what it protects would be lost): SecretConflict. With
    `check_only` nothing is stored; the answer says whether it would be.
    """
    _check_name(name)
    if len(value) != SECRET_BYTES:
        raise ValueError(f"a secret is {SECRET_BYTES} bytes")
    with _lock():
        recorded = _locations().get(name)
        target = _chosen_spec(name)
        for spec in dict.fromkeys(s for s in (target, recorded, FILE_STORE) if s):
            current = _store(spec).get(name)  # a store that cannot be read is an error, not "absent"
            if current is None:
                continue
            if current != value:
                raise SecretConflict(
                    f"this machine already has a different {name!r} (in {_store(spec).describe()}); "
                    "whoknows never replaces a key, since what it protects would be lost")
            return False
        if check_only:
            return True
        store = _store(target)
        store.set(name, value)
        if store.get(name) != value:
            raise WhoknowsError(f"{store.describe()} did not keep the secret {name!r}; it was not restored")
        _record(name, target)
        return True


def store_password(name: str, password: str) -> str:
    """Keep the user's password `name` (`account-...`) where a new secret would go, replacing an
    older one (the user changed it); returns where it went (a store's description)."""
    _check_name(name)
    if not _is_account(name):
        raise ValueError(f"a password's name starts with {ACCOUNT_PREFIX!r}: {name!r}")
    value = password.encode("utf-8")
    if not value or len(value) > MAX_PASSWORD_BYTES:
        raise WhoknowsError(f"a password is 1 to {MAX_PASSWORD_BYTES} bytes")
    with _lock():
        recorded = _locations().get(name)
        target = _chosen_spec(name)
        store = _store(target)
        store.set(name, value)
        if store.get(name) != value:
            raise WhoknowsError(f"{store.describe()} did not keep the password {name!r}; it was not stored")
        if recorded is not None and recorded != target:
            _store(recorded).delete(name)  # no stale copy left behind
        _record(name, target)
        return store.describe()


def get_password(name: str) -> str | None:
    """The user's password `name` (`account-...`), or None when none was stored here."""
    if not _is_account(name):
        raise ValueError(f"a password's name starts with {ACCOUNT_PREFIX!r}: {name!r}")
    try:
        value = get_secret(name)
    except NotFoundError:
        return None
    try:
        return value.decode("utf-8")
    except UnicodeDecodeError:
        raise WhoknowsError(f"the stored password {name!r} is damaged (not UTF-8); store it again") from None


def secret_location(name: str) -> str | None:
    """The recorded store of `name`: 'file', a keyring backend's class path, or None (not made here)."""
    _check_name(name)
    return _locations().get(name)


def recorded_secrets() -> dict[str, str]:
    """Every secret this data directory has made, with its store."""
    return {k: v for k, v in _locations().items() if isinstance(v, str)}


def backend_description() -> str:
    """Where secrets are kept (or would be kept) now, in words."""
    explicit = _env_spec()
    if explicit is not None:
        return _store(explicit).describe() + " (chosen by PYTHON_KEYRING_BACKEND)"
    stores = set(recorded_secrets().values())
    if stores:
        return "; ".join(sorted(_store(spec).describe() for spec in stores))
    return _store(discover_keyring() or FILE_STORE).describe()


def move_secrets_to_keyring() -> list[str]:
    """Move every secret kept in the fallback file into the OS keyring; the names moved.

    Raises WhoknowsError when no OS keyring is available.
    """
    target = _env_spec()
    if target in (None, FILE_STORE):
        target = discover_keyring()
    if target is None:
        raise WhoknowsError("no OS keyring is available here; the secrets stay in the fallback file")
    moved = []
    with _lock():
        file_store = _FileStore()
        for name in sorted(_read_json(fallback_path()).get("secrets", {})):
            value = file_store.get(name)
            if value is not None:
                _move(name, value, file_store, _store(target))
                moved.append(name)
    return moved


class _lock:
    """An exclusive advisory lock on `<data dir>/.secrets.lock` (no-op where fcntl is missing)."""

    def __enter__(self):
        path = paths.data_dir() / LOCK_FILE
        self.fd = os.open(path, os.O_CREAT | os.O_RDWR, paths.FILE_MODE)
        try:
            import fcntl
        except ImportError:  # Windows: no advisory locks; a race there can only happen on first use
            return self
        fcntl.flock(self.fd, fcntl.LOCK_EX)
        return self

    def __exit__(self, *exc):
        os.close(self.fd)  # closing releases the lock


__all__ = [
    "FALLBACK_FILE", "FILE_STORE", "LOCATIONS_FILE", "SERVICE", "SecretConflict", "backend_description",
    "delete_secret", "discover_keyring", "fallback_path", "get_secret", "move_secrets_to_keyring",
    "recorded_secrets", "restore_secret", "secret_location",
]
