"""A real SMTP server on loopback for tests: aiosmtpd with STARTTLS (or TLS from the start) and AUTH,
on a certificate from a test CA made here (so the client checks it as it checks a real one: the
test points `SSL_CERT_FILE` at the CA, whoknows has no switch to skip the check).

    with LoopbackSmtp(tmp_path, security="starttls") as server:
        ... send to 127.0.0.1:server.port as server.user / server.password ...
        server.messages  # what it received: (mail from, recipients, bytes)

`server.drop_on_data = N` makes the server close the connection, without an answer, when the
(N+1)th message's data arrives (0: the first): a connection dropped mid-send.
"""

from __future__ import annotations

import datetime
import ipaddress
import socket
import ssl
from pathlib import Path

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword

USER = "me@mail.example"
PASSWORD = "correct horse battery staple"


def make_test_ca(directory: Path) -> tuple[Path, Path, Path]:
    """A CA and a certificate for 127.0.0.1 and localhost signed by it: (ca.pem, cert.pem, key.pem)."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

    now = datetime.datetime.now(datetime.timezone.utc)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "whoknows test CA")])
    ca = (x509.CertificateBuilder().subject_name(ca_name).issuer_name(ca_name).public_key(ca_key.public_key())
          .serial_number(x509.random_serial_number()).not_valid_before(now - datetime.timedelta(days=1))
          .not_valid_after(now + datetime.timedelta(days=2))
          .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
          .add_extension(x509.KeyUsage(digital_signature=False, content_commitment=False, key_encipherment=False,
                                       data_encipherment=False, key_agreement=False, key_cert_sign=True,
                                       crl_sign=True, encipher_only=False, decipher_only=False), critical=True)
          .add_extension(x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()), critical=False)
          .sign(ca_key, hashes.SHA256()))
    key = ec.generate_private_key(ec.SECP256R1())
    cert = (x509.CertificateBuilder()
            .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")]))
            .issuer_name(ca_name).public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(days=1)).not_valid_after(now + datetime.timedelta(days=2))
            .add_extension(x509.SubjectAlternativeName([x509.DNSName("localhost"),
                                                        x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
                           critical=False)
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
            .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), critical=False)
            .sign(ca_key, hashes.SHA256()))
    directory.mkdir(parents=True, exist_ok=True)
    paths = directory / "ca.pem", directory / "cert.pem", directory / "key.pem"
    paths[0].write_bytes(ca.public_bytes(serialization.Encoding.PEM))
    paths[1].write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    paths[2].write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    return paths


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class _Handler:
    def __init__(self, server: "LoopbackSmtp"):
        self.server = server

    async def handle_DATA(self, smtp, session, envelope):
        if self.server.drop_on_data is not None and len(self.server.messages) >= self.server.drop_on_data:
            smtp.transport.close()  # no answer: the client sees the connection go
            return "421 closing"
        self.server.messages.append((envelope.mail_from, list(envelope.rcpt_tos), bytes(envelope.original_content)))
        return "250 OK"


class LoopbackSmtp:
    """`security`: "starttls" (STARTTLS required before AUTH), "tls" (implicit TLS) or "none" (a
    server that offers no STARTTLS at all, which whoknows must refuse)."""

    def __init__(self, directory: Path, security: str = "starttls", user: str = USER, password: str = PASSWORD):
        self.ca, cert, key = make_test_ca(directory / "smtp-tls")
        self.security = security
        self.user, self.password = user, password
        self.messages: list[tuple[str, list[str], bytes]] = []
        self.logins: list[tuple[str, bool]] = []
        self.drop_on_data: int | None = None
        self.port = free_port()
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        context.load_cert_chain(cert, key)
        # Implicit TLS is below aiosmtpd's notice: its auth_require_tls looks at STARTTLS only.
        options = {"authenticator": self._authenticate, "auth_require_tls": security == "starttls",
                   "auth_required": True}
        if security == "starttls":
            options.update(tls_context=context, require_starttls=True)
        self.controller = Controller(_Handler(self), hostname="127.0.0.1", port=self.port,
                                     ssl_context=context if security == "tls" else None,
                                     server_hostname="smtp.test", **options)

    def _authenticate(self, server, session, envelope, mechanism, auth_data):
        ok = isinstance(auth_data, LoginPassword) and (auth_data.login.decode(), auth_data.password.decode()) == (
            self.user, self.password)
        self.logins.append((auth_data.login.decode() if isinstance(auth_data, LoginPassword) else "?", ok))
        return AuthResult(success=ok, handled=False)  # handled=False: aiosmtpd answers 535 itself

    def __enter__(self) -> "LoopbackSmtp":
        self.controller.start()
        return self

    def __exit__(self, *exc) -> None:
        self.controller.stop()
