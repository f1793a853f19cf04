"""Where whoknows keeps its files: one private data directory.

`$WHOKNOWS_HOME` if set, else the platform's user data directory. The directory is 0700 and is
created on first use; files holding personal data or secrets are created 0600.
"""

import os
from contextlib import contextmanager
from pathlib import Path
from typing import IO, Iterator

from .errors import WhoknowsError

APP_NAME = "whoknows"
DIR_MODE = 0o700
FILE_MODE = 0o600


def data_dir(create: bool = True) -> Path:
    """The data directory; created (0700) when `create` and missing."""
    env = os.environ.get("WHOKNOWS_HOME")
    if env:
        path = Path(env).expanduser()
    else:
        import platformdirs  # only needed without $WHOKNOWS_HOME

        path = Path(platformdirs.user_data_dir(APP_NAME, appauthor=False))
    if create and not path.is_dir():
        try:
            path.mkdir(mode=DIR_MODE, parents=True, exist_ok=True)
            os.chmod(path, DIR_MODE)  # mkdir's mode is filtered by the umask
        except OSError as exc:
            raise WhoknowsError(f"cannot create the data directory {path}: {exc.strerror}") from None
    return path


def ensure_private_file(path: Path) -> None:
    """Create `path` empty with mode 0600 if missing; tighten its mode if it exists.

    An existing file is never opened: closing any descriptor of a file drops every POSIX lock this
    process holds on it, and those are SQLite's locks on an open ledger (a second connection would
    let another process delete the WAL under the first: sqlite.org/howtocorrupt.html, 2.2).
    """
    try:
        if os.path.lexists(path):
            if not os.access(path, os.W_OK):
                raise PermissionError(13, os.strerror(13))
        else:
            fd = os.open(path, os.O_CREAT | os.O_WRONLY, FILE_MODE)
            os.close(fd)
        os.chmod(path, FILE_MODE)
    except OSError as exc:
        raise WhoknowsError(f"cannot write {path}: {exc.strerror}") from None


def make_private_dir(path: Path) -> Path:
    """Create the directory `path` (0700) if missing; an existing one is kept as it is."""
    if not path.is_dir():
        try:
            path.mkdir(mode=DIR_MODE, parents=True, exist_ok=True)
            os.chmod(path, DIR_MODE)  # mkdir's mode is filtered by the umask
        except OSError as exc:
            raise WhoknowsError(f"cannot create the directory {path}: {exc.strerror}") from None
    return path


@contextmanager
def private_file(path: Path, text: bool = False) -> Iterator[IO]:
    """Write a file holding personal data or secrets: `with private_file(p) as out: out.write(...)`.

    The one way whoknows writes such a file (ledger exports, letters and .eml messages, secrets,
    settings): it is written to a temporary file created 0600 next to `path`, synced, and renamed
    over `path` only when the block ends without an error, so a crash or a failed write leaves the
    old file or the new one, never half of one and never a moment when others can read it. `text`
    gives a UTF-8 text file (no newline translation: CSV and JSON write their own).
    """
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        fd = os.open(tmp, os.O_CREAT | os.O_WRONLY | os.O_TRUNC, FILE_MODE)
    except OSError as exc:
        raise WhoknowsError(f"cannot write {path}: {exc.strerror}") from None
    try:
        with (os.fdopen(fd, "w", encoding="utf-8", newline="") if text else os.fdopen(fd, "wb")) as out:
            yield out
            out.flush()
            os.fsync(out.fileno())
        os.replace(tmp, path)
    except BaseException as exc:
        try:
            tmp.unlink()
        except OSError:
            pass
        if isinstance(exc, OSError):
            raise WhoknowsError(f"cannot write {path}: {exc.strerror or exc}") from None
        raise


def write_private_file(path: Path, data: bytes) -> None:
    """Replace `path` atomically with `data`, mode 0600 (see `private_file`)."""
    with private_file(path) as out:
        out.write(data)
