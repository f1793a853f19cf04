"""Sending through a real SMTP server on loopback: what whoknows refuses before a password could leak."""

from __future__ import annotations

import pytest
from smtp_server import LoopbackSmtp

from whoknows.errors import InputError
from whoknows.mail_sending import SendError, SmtpSession, parse_account


@pytest.fixture
def trust_test_ca(monkeypatch):
    def trust(server):
        monkeypatch.setenv("SSL_CERT_FILE", str(server.ca))
    return trust


def test_a_server_without_starttls_is_refused_before_the_login(tmp_path, trust_test_ca):
    with LoopbackSmtp(tmp_path, security="none") as server:
        trust_test_ca(server)
        account = parse_account("127.0.0.1", server.user, "starttls", server.port)
        with pytest.raises(SendError, match="does not offer STARTTLS: whoknows never sends your password unencrypted"):
            with SmtpSession(account, server.password):
                pass
        assert server.logins == []  # the password never went


def test_implicit_tls_logs_in_and_sends(tmp_path, trust_test_ca):
    with LoopbackSmtp(tmp_path, security="tls") as server:
        trust_test_ca(server)
        account = parse_account("127.0.0.1", server.user, "tls", server.port)
        with SmtpSession(account, server.password) as session:
            session.send("me+a.example.aaaaaaaaa@mail.example", "sales@a.example", b"Subject: x\r\n\r\nhello\r\n")
        assert [(sender, rcpt) for sender, rcpt, _ in server.messages] == [
            ("me+a.example.aaaaaaaaa@mail.example", ["sales@a.example"])]


def test_nothing_listening_is_a_clear_error(tmp_path):
    from smtp_server import free_port

    account = parse_account("127.0.0.1", "me", "starttls", free_port())
    with pytest.raises(SendError, match="connection refused"):
        with SmtpSession(account, "pw"):
            pass


def test_accounts_are_checked_and_get_the_usual_ports():
    assert parse_account("SMTP.Mail.Example.", "me@mail.example").port == 587
    assert parse_account("smtp.mail.example", "me@mail.example", "tls").port == 465
    for args in (("smtp.mail.example", "me", "plain"), ("smtp mail", "me"), ("smtp.mail.example", " "),
                 ("smtp.mail.example", "me", "tls", 70000)):
        with pytest.raises(InputError):
            parse_account(*args)
