"""`whoknows doctor`: is this installation healthy? One line per check: ok, warn or FAIL.

Doctor looks and changes nothing (it does not even create the data directory; the ledger is opened
read-only, so it is not migrated), except with `--move-secrets`. Exit status 1 when a check fails.
Things not made yet on a fresh install (the ledger, the alias key, the proxy's CA) are warnings.
"""

import os
import stat
from dataclasses import asdict, dataclass
from pathlib import Path

import click

from cli.output import json_option, print_json

# The proxy runs mitmproxy with confdir <data dir>/mitmproxy; doctor reads the files, never mitmproxy.
MITMPROXY_DIR = "mitmproxy"
CA_KEY_FILE = "mitmproxy-ca.pem"  # the CA's private key and certificate
CA_CERT_FILE = "mitmproxy-ca-cert.pem"


@dataclass(frozen=True)
class Check:
    name: str
    status: str  # "ok", "warn" or "fail"
    detail: str


def ok(name: str, detail: str) -> Check:
    return Check(name, "ok", detail)


def warn(name: str, detail: str) -> Check:
    return Check(name, "warn", detail)


def fail(name: str, detail: str) -> Check:
    return Check(name, "fail", detail)


def _private(name: str, path: Path, wanted: int) -> Check:
    """A file or directory that must be readable by its owner only."""
    info = path.stat()
    mode = stat.S_IMODE(info.st_mode)
    if hasattr(os, "getuid") and info.st_uid != os.getuid():
        return fail(name, f"{path} belongs to uid {info.st_uid}, not to you (uid {os.getuid()})")
    if mode & 0o077:
        return fail(name, f"{path} has mode {mode:04o}: others can read it; run 'chmod {wanted:o} {path}'")
    return ok(name, f"{path} ({mode:04o}, yours)")


# -- the checks -------------------------------------------------------------------------------------


def check_data_dir(home: Path) -> list[Check]:
    if not home.exists():
        return [warn("data dir", f"{home} not yet created (the first whoknows command creates it)")]
    if not home.is_dir():
        return [fail("data dir", f"{home} is not a directory")]
    return [_private("data dir", home, 0o700)]


def check_ledger(home: Path) -> tuple[list[Check], dict]:
    """Permissions, schema version and integrity; also the settings, read-only (for later checks)."""
    import sqlite3

    from whoknows.ledger import LEDGER_FILE, SCHEMA_VERSION

    path = home / LEDGER_FILE
    if not path.exists():
        return [warn("ledger", f"{path} not yet created")], {}
    file_checks = [_private("ledger file", p, 0o600) for p in _ledger_files(path)]
    checks = [c for c in file_checks if c.status != "ok"] or file_checks[:1]  # one line when all is well
    try:
        db = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
        try:
            version = db.execute("PRAGMA user_version").fetchone()[0]
            integrity = "; ".join(row[0] for row in db.execute("PRAGMA integrity_check").fetchall())
            settings = _settings(db)
        finally:
            db.close()
    except sqlite3.DatabaseError as exc:
        return checks + [fail("ledger", f"{path} cannot be read as SQLite: {exc}")], {}
    if version > SCHEMA_VERSION:
        checks.append(fail("ledger schema", f"version {version}, newer than this whoknows ({SCHEMA_VERSION}); upgrade whoknows"))
    elif version < SCHEMA_VERSION:
        checks.append(warn("ledger schema", f"version {version}; the next command migrates it to {SCHEMA_VERSION}"))
    else:
        checks.append(ok("ledger schema", f"version {version}"))
    if integrity == "ok":
        checks.append(ok("ledger integrity", "PRAGMA integrity_check: ok"))
    else:
        checks.append(fail("ledger integrity", f"PRAGMA integrity_check: {integrity[:300]}"))
    return checks, settings


def _ledger_files(path: Path) -> list[Path]:
    # SQLite gives -wal and -shm the database file's mode, but check them: they hold recent writes.
    return [p for p in (path, path.with_name(path.name + "-wal"), path.with_name(path.name + "-shm")) if p.exists()]


def _settings(db) -> dict:
    import sqlite3

    try:
        return dict(db.execute("SELECT key, value FROM settings").fetchall())
    except sqlite3.DatabaseError:
        return {}


def check_secrets(home: Path) -> list[Check]:
    from whoknows import aliases, secrets
    from whoknows.errors import NotFoundError, WhoknowsError

    described = secrets.backend_description()
    recorded = secrets.recorded_secrets()
    checks = [ok("keyring", described if recorded else f"no secrets yet; they will go to the {described}")]
    fallback = home / secrets.FALLBACK_FILE
    in_file = [name for name, store in recorded.items() if store == secrets.FILE_STORE]
    if fallback.exists():
        checks.append(_private("secrets file", fallback, 0o600))
    if in_file:
        available = secrets.discover_keyring()
        if available:
            checks.append(warn(
                "keyring", f"an OS keyring ({available}) is available now but {', '.join(in_file)} "
                "are in the fallback file; 'whoknows doctor --move-secrets' moves them",
            ))
    if secrets.secret_location(aliases.KEY_NAME) is None:
        checks.append(warn("alias key", "not yet created here ('whoknows alias setup' makes it)"))
        return checks
    try:
        secrets.get_secret(aliases.KEY_NAME, create=False)
    except NotFoundError as exc:
        checks.append(fail("alias key", str(exc)))
    except WhoknowsError as exc:
        checks.append(fail("alias key", str(exc)))
    else:
        where = secrets.secret_location(aliases.KEY_NAME)
        checks.append(ok("alias key", "present in " + ("the fallback file" if where == secrets.FILE_STORE else where)))
    return checks


def check_keys_open_the_ledger(home: Path) -> list[Check]:
    """Do this machine's keys read the ledger's own values and verify its aliases? (Not when the
    ledger came from another machine without its keys: `whoknows import` of a plain export.)"""
    import sqlite3

    from whoknows import aliases, me, secrets
    from whoknows.errors import WhoknowsError
    from whoknows.ledger import LEDGER_FILE

    path = home / LEDGER_FILE
    if not path.exists():
        return []
    try:
        alias_key = secrets.get_secret(aliases.KEY_NAME) if secrets.secret_location(aliases.KEY_NAME) else None
        me_secret = secrets.get_secret(me.KEY_NAME) if secrets.secret_location(me.KEY_NAME) else None
    except WhoknowsError:
        return []  # a key that is recorded but cannot be read: the "alias key" check says so
    me_keys = me.MeKeys.from_secret(me_secret) if me_secret is not None else None
    try:
        db = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
        try:
            total_values = db.execute("SELECT count(*) FROM me_values").fetchone()[0]
            unreadable = me.unreadable_values(db, me_keys)
            total_aliases = len(aliases.unverifiable_aliases(db, None))  # the ones whoknows made
            unverifiable = aliases.unverifiable_aliases(db, alias_key)
        finally:
            db.close()
    except sqlite3.DatabaseError:
        return []  # an old schema or a damaged file: the ledger checks say so
    checks = []
    if total_values:
        if unreadable:
            why = "there is no key of your values here" if me_keys is None else "it is not the key they were encrypted with"
            checks.append(fail("own values", f"{unreadable} of {total_values} cannot be decrypted with this "
                                             f"machine's key ({why}): {secrets.RESTORE_HINT}"))
        else:
            checks.append(ok("own values", f"{total_values}, all readable with this machine's key"))
    if total_aliases:
        if unverifiable:
            why = "there is no alias key here" if alias_key is None else "it is not the key they were made with"
            checks.append(fail("aliases", f"{len(unverifiable)} of {total_aliases} do not verify with this "
                                          f"machine's alias key ({why}; e.g. {unverifiable[0]}): "
                                          f"{secrets.RESTORE_HINT}"))
        else:
            checks.append(ok("aliases", f"{total_aliases}, all verify with this machine's alias key"))
    return checks


def check_ca(home: Path) -> list[Check]:
    confdir = home / MITMPROXY_DIR
    key_file, cert_file = confdir / CA_KEY_FILE, confdir / CA_CERT_FILE
    if not key_file.exists():
        return [warn("proxy CA", f"not yet created, run the proxy once (it goes in {confdir})")]
    checks = [_private("proxy CA key", key_file, 0o600)]
    expiry = _certificate_expiry(cert_file if cert_file.exists() else key_file)
    if expiry is None:
        checks.append(warn("proxy CA", f"{cert_file} could not be read as a certificate"))
    else:
        from datetime import datetime, timezone

        if expiry <= datetime.now(timezone.utc):
            checks.append(fail("proxy CA", f"{cert_file} expired on {expiry:%Y-%m-%d}"))
        else:
            checks.append(ok("proxy CA", f"{cert_file} (valid until {expiry:%Y-%m-%d})"))
    return checks


def _certificate_expiry(path: Path):
    try:
        from cryptography import x509

        return x509.load_pem_x509_certificate(path.read_bytes()).not_valid_after_utc
    except Exception:  # not installed, unreadable or not PEM: reported as unreadable
        return None


def check_aliases(settings: dict) -> list[Check]:
    from whoknows import aliases
    from whoknows.errors import WhoknowsError

    raw = settings.get(aliases.SETUP_SETTING)
    if raw is None:
        return [warn("alias setup", "not set up: 'whoknows alias setup --base you@mail.example' or '--domain me.example'")]
    try:
        return [ok("alias setup", aliases.AliasSetup.from_json(raw).describe())]
    except WhoknowsError as exc:
        return [fail("alias setup", str(exc))]


def run_checks(home: Path) -> list[Check]:
    checks = check_data_dir(home)
    ledger_checks, settings = check_ledger(home)
    checks += ledger_checks
    checks += check_aliases(settings)
    key_checks = check_keys_open_the_ledger(home)
    if any(check.name == "aliases" and check.status == "fail" for check in key_checks):
        # "not yet created ('alias setup' makes it)" would be the wrong advice: the key must be restored.
        checks += [check for check in check_secrets(home) if not (check.name == "alias key" and check.status == "warn")]
    else:
        checks += check_secrets(home)
    checks += key_checks
    checks += check_ca(home)
    return checks


# -- the command ------------------------------------------------------------------------------------

LABELS = {"ok": "ok", "warn": "warn", "fail": "FAIL"}


@click.command()
@click.option("--move-secrets", is_flag=True, help="Move secrets from the fallback file into the OS keyring.")
@json_option
@click.pass_context
def doctor(ctx, move_secrets, as_json):
    """Check that this installation is healthy.

    Checks the data directory, the ledger, the alias setup, the keyring, that this machine's keys
    read your values and verify your aliases, and the proxy's CA.
    Exit status 0 when healthy (warnings allowed), 1 when a check fails.

    Examples:

    \b
        whoknows doctor
        whoknows doctor --move-secrets
    """
    from whoknows import paths

    if move_secrets:
        from whoknows import secrets

        if not secrets.move_secrets_to_keyring():  # each move is said on stderr as it happens
            click.echo("whoknows: no secrets in the fallback file; nothing to move", err=True)
    checks = run_checks(paths.data_dir(create=False))
    healthy = not any(check.status == "fail" for check in checks)
    if as_json:
        print_json({"healthy": healthy, "checks": [asdict(check) for check in checks]})
    else:
        for check in checks:
            click.echo(f"{LABELS[check.status]:<5} {check.name:<17} {check.detail}")
    if not healthy:
        ctx.exit(1)
