"""`whoknows proxy`: run the privacy proxy (mitmproxy with the whoknows addons) in this process.

Loopback only by default. Any other listen address needs `--auth-user`: clients must then log in
(HTTP Basic proxy authentication). The password never goes on the command line: it is
`$WHOKNOWS_PROXY_PASSWORD` when set, else whoknows's stored secret `proxy-password` (OS keyring or
the 0600 fallback file, made on first use; `whoknows setup --show-password` prints it).
"""

from __future__ import annotations

import base64
import ipaddress
import os

import click

from whoknows.errors import InputError
from whoknows.errors import WhoknowsError

PASSWORD_ENV = "WHOKNOWS_PROXY_PASSWORD"
PASSWORD_SECRET = "proxy-password"


def is_loopback(host: str) -> bool:
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def stored_password() -> str:
    """whoknows's own proxy password: its stored secret, as URL-safe base64 (no ':')."""
    from whoknows.secrets import get_secret

    return base64.urlsafe_b64encode(get_secret(PASSWORD_SECRET, create=True)).decode("ascii").rstrip("=")


def proxy_password() -> tuple[str, str]:
    """The password clients must give, and where it came from (for messages; never the value)."""
    env = os.environ.get(PASSWORD_ENV)
    if env:
        return env, f"${PASSWORD_ENV}"
    return stored_password(), f"whoknows's stored secret '{PASSWORD_SECRET}' (whoknows setup --show-password)"


def proxyauth_spec(listen_host: str, auth_user: str | None) -> tuple[str | None, str]:
    """mitmproxy's `proxyauth` value ("user:password") or None, and where the password came from.

    Refuses a non-loopback address without authentication."""
    if auth_user is None:
        if not is_loopback(listen_host):
            shown = listen_host or "all addresses"
            raise InputError(
                f"listening on {shown} lets other machines use this proxy; add --auth-user NAME to "
                f"require a password (${PASSWORD_ENV}, else whoknows's stored secret)")
        return None, ""
    if not auth_user or ":" in auth_user:
        raise InputError("--auth-user must be a non-empty name without ':'")
    password, source = proxy_password()
    if ":" in password:
        raise InputError(f"${PASSWORD_ENV} must not contain ':' (HTTP Basic authentication)")
    return f"{auth_user}:{password}", source


def _warn_exposed(listen_host: str, port: int, auth_user: str, source: str) -> None:
    shown = listen_host or "all addresses"
    click.secho(
        f"WARNING: the whoknows proxy listens on {shown} port {port}, reachable from other machines.\n"
        f"WARNING: clients must log in as '{auth_user}' with the password from {source}.\n"
        "WARNING: whoever logs in browses through this proxy and its CA; share neither lightly.",
        err=True, fg="red", bold=True)


@click.command()
@click.option("--listen-host", default="127.0.0.1", show_default=True, metavar="ADDRESS",
              help="Address to listen on. Anything but loopback also needs --auth-user.")
@click.option("--port", type=click.IntRange(0, 65535), default=8080, show_default=True,
              help="Port to listen on (0: any free port; the line printed at start says which).")
@click.option("--auth-user", metavar="NAME",
              help=f"Require proxy authentication as NAME; the password is ${PASSWORD_ENV}, else "
                   "whoknows's stored secret (never a command-line argument).")
@click.option("--set", "option_specs", multiple=True, metavar="OPTION=VALUE",
              help="Set a proxy option, as mitmdump --set does (e.g. whoknows_dnt=false); mitmproxy's "
                   "capture, replay and rewriting options need mitmdump -s proxy_addons/whoknows.py. "
                   "Repeatable.")
@click.option("-v", "--verbose", count=True, help="Log more (-v: connections, -vv: debug).")
def proxy(listen_host: str, port: int, auth_user: str | None, option_specs: tuple[str, ...],
          verbose: int) -> None:
    """Run the whoknows proxy until Ctrl-C (or SIGTERM).

    Prints one line once it listens: its address and the URL of its PAC file. See 'whoknows setup'
    to point a browser at it and trust its certificate authority.

    Examples:

    \b
        whoknows proxy
        whoknows proxy --port 8081
    """
    from proxy_addons import runner

    proxyauth, source = proxyauth_spec(listen_host, auth_user)
    if not is_loopback(listen_host):
        _warn_exposed(listen_host, port, auth_user or "", source)
    settings = runner.ProxySettings(
        listen_host=listen_host, listen_port=port, proxyauth=proxyauth,
        option_specs=option_specs, log_level=("warn", "info", "debug")[min(verbose, 2)])
    status = runner.run(settings)
    if status:
        raise WhoknowsError("the proxy stopped with an error (see above)")
