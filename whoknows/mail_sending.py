"""Sending mail through the user's own SMTP account (issue 15: intents are sent this way).

The account (host, port, user, and how the connection is encrypted) is a ledger setting, not
secret; the password is the user's, kept in the keyring (`whoknows.secrets.store_password`, name
`account-smtp`), never in the ledger, logs or argv.

The connection is always encrypted and the server's certificate always checked (Python's default
context: the system's CAs, or the file named by `SSL_CERT_FILE` for a server with a private CA):
- `starttls` (port 587): plain SMTP upgraded with STARTTLS before anything else; a server that does
  not offer STARTTLS is refused, since the login would go in the clear;
- `tls` (port 465): TLS from the first byte (implicit TLS, RFC 8314).
There is no plaintext mode, not even for loopback: a test server uses TLS with a test certificate.
EHLO names the machine `[127.0.0.1]`, never its host name (no DNS look-up, nothing said about it).

Every failure is one `SendError` saying what happened (the login refused, the connection failed or
dropped, the certificate not trusted, a recipient refused); the caller keeps what was not sent.
"""

from __future__ import annotations

import json
import smtplib
import socket
import ssl
from typing import NamedTuple

from .errors import InputError, WhoknowsError

SETTING = "smtp.account"
PASSWORD_SECRET = "account-smtp"
SECURITY = {"starttls": 587, "tls": 465}  # how the connection is encrypted -> its usual port
TIMEOUT = 30.0
# What EHLO names this machine: not its host name (smtplib's default, getfqdn(), would look it up in
# DNS and tell the provider what the machine is called); an address literal, as Thunderbird does.
EHLO_NAME = "[127.0.0.1]"


class SendError(WhoknowsError):
    """A message could not be sent (the reason is the message)."""


class SmtpAccount(NamedTuple):
    host: str
    port: int
    user: str
    security: str  # starttls | tls

    def describe(self) -> str:
        return f"{self.user} at {self.host}:{self.port} ({'STARTTLS' if self.security == 'starttls' else 'TLS'})"

    def to_json(self) -> str:
        return json.dumps(self._asdict(), sort_keys=True)


def parse_account(host: str, user: str, security: str = "starttls", port: int | None = None) -> SmtpAccount:
    host = host.strip().rstrip(".").lower()
    if not host or any(c.isspace() or c in "/@" for c in host):
        raise InputError(f"{host!r} is not a mail server's host name")
    if security not in SECURITY:
        raise InputError(f"unknown --security {security!r}: starttls (port 587) or tls (port 465); "
                         "whoknows never sends a password unencrypted")
    port = SECURITY[security] if port is None else port
    if not 1 <= port <= 65535:
        raise InputError(f"{port} is not a port number")
    user = user.strip()
    if not user:
        raise InputError("give the account's user name (--user, often your address)")
    return SmtpAccount(host, port, user, security)


def load_account(ledger) -> SmtpAccount | None:
    raw = ledger.get_setting(SETTING)
    if raw is None:
        return None
    try:
        data = json.loads(raw)
        return SmtpAccount(data["host"], int(data["port"]), data["user"], data["security"])
    except (ValueError, KeyError, TypeError):
        raise WhoknowsError(f"the SMTP account in the ledger is damaged; set it again ('whoknows mail account')") from None


def require_account(ledger) -> SmtpAccount:
    account = load_account(ledger)
    if account is None:
        raise WhoknowsError("no SMTP account to send with: set yours with 'whoknows mail account --host "
                            "smtp.mail.example --user you@mail.example' (or write .eml files with --out DIR)")
    return account


def save_account(ledger, account: SmtpAccount, password: str | None) -> str | None:
    """Store the account (a setting) and, if given, its password (the keyring); where the password went."""
    from . import secrets

    where = None if password is None else secrets.store_password(PASSWORD_SECRET, password)
    ledger.set_setting(SETTING, account.to_json())
    return where


def stored_password() -> str | None:
    from . import secrets

    return secrets.get_password(PASSWORD_SECRET)


def read_password_file(path) -> str:
    """The password on the first line of the file `path` (`--password-file`: never in argv)."""
    try:
        lines = open(path, encoding="utf-8").read().splitlines()
    except (OSError, UnicodeDecodeError) as exc:
        raise WhoknowsError(f"cannot read the password file {path}: {getattr(exc, 'strerror', None) or exc}") from None
    if not lines or not lines[0]:
        raise WhoknowsError(f"the password file {path} is empty")
    return lines[0]


class SmtpSession:
    """One logged-in connection: `with SmtpSession(account, password) as session: session.send(...)`."""

    def __init__(self, account: SmtpAccount, password: str, timeout: float = TIMEOUT):
        self.account = account
        self._password = password
        self.timeout = timeout
        self._smtp: smtplib.SMTP | None = None

    def __enter__(self) -> "SmtpSession":
        account = self.account
        context = ssl.create_default_context()
        where = f"{account.host}:{account.port}"
        try:
            if account.security == "tls":
                smtp = smtplib.SMTP_SSL(account.host, account.port, local_hostname=EHLO_NAME,
                                        timeout=self.timeout, context=context)
            else:
                smtp = smtplib.SMTP(account.host, account.port, local_hostname=EHLO_NAME, timeout=self.timeout)
                try:
                    smtp.ehlo()
                    if not smtp.has_extn("starttls"):
                        raise SendError(f"the SMTP server {where} does not offer STARTTLS: whoknows never sends "
                                        "your password unencrypted (try --security tls, port 465)")
                    smtp.starttls(context=context)
                    smtp.ehlo()
                except BaseException:
                    smtp.close()
                    raise
            self._smtp = smtp
            try:
                smtp.login(account.user, self._password)
            except BaseException:
                self.close()
                raise
        except smtplib.SMTPAuthenticationError as exc:
            raise SendError(f"the SMTP server {where} refused the login of {account.user} ({_reply(exc)}): "
                            "check the password and store it again with 'whoknows mail account'") from None
        except smtplib.SMTPNotSupportedError:
            raise SendError(f"the SMTP server {where} offers no login (AUTH) over the encrypted connection") from None
        except ssl.SSLCertVerificationError as exc:
            raise SendError(f"the certificate of {where} is not trusted ({exc.verify_message}): nothing was sent")\
                from None
        except (ssl.SSLError, smtplib.SMTPException, OSError) as exc:
            raise SendError(_connection_error(where, exc)) from None
        return self

    def send(self, sender: str, recipient: str, message: bytes) -> None:
        where = f"{self.account.host}:{self.account.port}"
        if self._smtp is None:
            raise SendError(f"the connection to {where} is closed")
        try:
            self._smtp.sendmail(sender, [recipient], message)
        except smtplib.SMTPRecipientsRefused as exc:
            code, text = next(iter(exc.recipients.values()))
            raise SendError(f"{where} refused the recipient {recipient} ({code} {_text(text)})") from None
        except smtplib.SMTPSenderRefused as exc:
            raise SendError(f"{where} refused the sender {sender} ({exc.smtp_code} {_text(exc.smtp_error)}): "
                            "the account may not send from your aliases' domain") from None
        except smtplib.SMTPDataError as exc:
            raise SendError(f"{where} refused the message ({exc.smtp_code} {_text(exc.smtp_error)})") from None
        except (ssl.SSLError, smtplib.SMTPException, OSError) as exc:
            self.close()
            raise SendError(_connection_error(where, exc)) from None

    def close(self) -> None:
        smtp, self._smtp = self._smtp, None
        if smtp is None:
            return
        try:
            smtp.quit()
        except (smtplib.SMTPException, OSError):
            smtp.close()

    def __exit__(self, *exc) -> None:
        self.close()


def _text(value) -> str:
    return value.decode("utf-8", "replace") if isinstance(value, bytes) else str(value)


def _reply(exc: smtplib.SMTPResponseException) -> str:
    return f"{exc.smtp_code} {_text(exc.smtp_error)}".strip()


def _connection_error(where: str, exc: BaseException) -> str:
    if isinstance(exc, smtplib.SMTPServerDisconnected) or isinstance(exc, (ConnectionResetError, BrokenPipeError)):
        return f"the SMTP server {where} dropped the connection ({exc or 'closed'}): the message was not sent"
    if isinstance(exc, socket.timeout):
        return f"the SMTP server {where} did not answer within {TIMEOUT:.0f} s"
    if isinstance(exc, ConnectionRefusedError):
        return f"nothing answers at {where} (connection refused): check --host and --port"
    if isinstance(exc, socket.gaierror):
        return f"cannot find the SMTP server {where.rpartition(':')[0]} ({exc.strerror or exc})"
    if isinstance(exc, ssl.SSLError):
        return f"TLS with {where} failed ({exc.reason or exc}): nothing was sent"
    if isinstance(exc, smtplib.SMTPResponseException):
        return f"the SMTP server {where} answered {_reply(exc)}"
    return f"cannot talk to the SMTP server {where}: {exc}"


__all__ = [
    "PASSWORD_SECRET", "SECURITY", "SETTING", "SendError", "SmtpAccount", "SmtpSession", "load_account",
    "parse_account", "read_password_file", "require_account", "save_account", "stored_password",
]
