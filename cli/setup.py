"""`whoknows setup`: how to point this machine's browsers at the proxy and trust its CA.

Says the proxy's address, its PAC URL, where mitmproxy's CA certificate is and how to trust it here
(Firefox, Chromium's NSS database, the system store); `--check` asks a running proxy for its PAC
file (loopback only, short timeout). Imports no mitmproxy.
"""

from __future__ import annotations

import hashlib
import http.client
import socket
import sys
from pathlib import Path

import click

from cli.output import json_option
from cli.output import print_json
from cli.proxy import PASSWORD_ENV
from cli.proxy import is_loopback
from whoknows.errors import InputError
from whoknows.errors import WhoknowsError

CHECK_TIMEOUT = 2.0
CA_NICKNAME = "whoknows proxy CA"


def ca_fingerprint(pem_path: Path) -> str | None:
    """SHA-256 fingerprint (colon-separated hex) of the first certificate in a PEM file."""
    import base64

    try:
        text = pem_path.read_text("ascii")
    except (OSError, UnicodeDecodeError):
        return None
    begin, end = "-----BEGIN CERTIFICATE-----", "-----END CERTIFICATE-----"
    if begin not in text or end not in text:
        return None
    body = text.split(begin, 1)[1].split(end, 1)[0]
    try:
        der = base64.b64decode("".join(body.split()), validate=True)
    except ValueError:
        return None
    return ":".join(f"{b:02X}" for b in hashlib.sha256(der).digest())


def trust_steps(ca: Path, platform: str) -> dict[str, str]:
    """Per-store instructions for trusting the CA, for this platform."""
    steps = {
        "firefox": ("Settings > Privacy & Security > Certificates > View Certificates > Authorities > "
                    f"Import {ca}, and tick 'Trust this CA to identify websites'."),
        "download": "or, browsing through the proxy, open http://mitm.it for the file and per-OS steps",
    }
    if platform.startswith("linux"):
        steps["chromium"] = (f'certutil -d sql:$HOME/.pki/nssdb -A -t "C,," -n "{CA_NICKNAME}" -i {ca}'
                             "   (certutil is in the libnss3-tools package; restart Chromium/Chrome)")
        steps["system"] = (f"sudo cp {ca} /usr/local/share/ca-certificates/whoknows-proxy.crt && "
                           "sudo update-ca-certificates   (curl, Python, most command-line tools)")
    elif platform == "darwin":
        steps["system"] = ("sudo security add-trusted-cert -d -r trustRoot -k "
                           f"/Library/Keychains/System.keychain {ca}   (Safari, Chrome, system tools)")
    elif platform.startswith("win"):
        steps["system"] = f"certutil -addstore root {ca.with_suffix('.cer')}   (Edge, Chrome, system tools)"
    return steps


def proxy_steps(address: str, pac_url: str, platform: str) -> dict[str, str]:
    steps = {
        "firefox": f"Settings > Network Settings > Automatic proxy configuration URL: {pac_url}",
        "chromium": f"chromium --proxy-pac-url={pac_url}   (or --proxy-server={address})",
    }
    if platform.startswith("linux"):
        steps["system"] = ("gsettings set org.gnome.system.proxy mode auto && "
                           f"gsettings set org.gnome.system.proxy autoconfig-url {pac_url}")
    elif platform == "darwin":
        steps["system"] = f'networksetup -setautoproxyurl "Wi-Fi" {pac_url}'
    elif platform.startswith("win"):
        steps["system"] = f"Settings > Network & Internet > Proxy > Use setup script: {pac_url}"
    return steps


def check_proxy(host: str, port: int, timeout: float = CHECK_TIMEOUT) -> dict:
    """Ask the proxy at host:port for http://whoknows.proxy/proxy.pac; what happened, as data."""
    from proxy_addons import PAC_URL
    from proxy_addons import PROXY_HOST

    conn = http.client.HTTPConnection(host, port, timeout=timeout)
    try:
        conn.request("GET", PAC_URL, headers={"Host": PROXY_HOST, "Connection": "close"})
        response = conn.getresponse()
        body = response.read(65536).decode("utf-8", "replace")
    except ConnectionRefusedError:
        return {"ok": False, "detail": "no proxy is listening there (start it with 'whoknows proxy')"}
    except (socket.timeout, TimeoutError):
        return {"ok": False, "detail": f"something listens there but did not answer within {timeout:g} s"}
    except (OSError, http.client.HTTPException) as exc:
        return {"ok": False, "detail": f"the request failed: {exc}"}
    finally:
        conn.close()
    if response.status == 407:
        return {"ok": True, "detail": "the proxy is running and requires authentication"}
    if response.status == 200 and "FindProxyForURL" in body:
        return {"ok": True, "detail": "the proxy is running and serves its PAC file"}
    return {"ok": False,
            "detail": f"something else listens there (HTTP {response.status} for {PAC_URL})"}


@click.command()
@click.option("--listen-host", default="127.0.0.1", show_default=True, metavar="ADDRESS",
              help="The address the proxy listens on (as given to 'whoknows proxy').")
@click.option("--port", type=click.IntRange(1, 65535), default=8080, show_default=True,
              help="The proxy's port.")
@click.option("--check", is_flag=True,
              help="Also check that a proxy answers there (loopback only; exit 1 if not).")
@click.option("--show-password", is_flag=True,
              help="Print the proxy password used with --auth-user (the stored secret, made if missing).")
@click.option("--cookies", "cookie_mode", metavar="MODE",
              help="Set the cookie mode of every site without its own: allow, session, cap:DAYS or "
                   "block (the same as 'whoknows site cookies --default MODE').")
@json_option
def setup(listen_host: str, port: int, check: bool, show_password: bool, cookie_mode: str | None,
          as_json: bool) -> None:
    """Explain how to use the proxy on this machine: address, PAC URL, CA certificate, trust;
    and offer a default for first-party cookie lifetimes (--cookies).

    Examples:

    \b
        whoknows setup --check
        whoknows setup --cookies cap:30
    """
    from proxy_addons import CA_CERT_NAME
    from proxy_addons import PAC_URL
    from proxy_addons import confdir
    from proxy_addons import direct_pac_url
    from proxy_addons import host_port

    if show_password:
        from cli.proxy import proxy_password

        password, source = proxy_password()
        click.echo(password)
        click.echo(f"(from {source}; clients log in with it when 'whoknows proxy' runs with "
                   "--auth-user)", err=True)
        return
    if check and not is_loopback(listen_host):
        raise InputError("--check only talks to a proxy on this machine (a loopback address)")
    defaults = _protection_defaults(cookie_mode)
    ca = confdir() / CA_CERT_NAME
    address = host_port(listen_host, port)
    pac = direct_pac_url(listen_host, port)
    info = {
        "proxy": address,
        "pac_url": pac,
        "pac_url_through_proxy": PAC_URL,
        "ca_certificate": str(ca),
        "ca_exists": ca.is_file(),
        "ca_sha256": ca_fingerprint(ca) if ca.is_file() else None,
        "use_proxy": proxy_steps(address, pac, sys.platform),
        "trust_ca": trust_steps(ca, sys.platform),
        "defaults": defaults,
    }
    if check:
        info["check"] = check_proxy(listen_host, port)
    if as_json:
        print_json(info)
    else:
        _print_info(info)
    if check and not info["check"]["ok"]:
        raise WhoknowsError(f"proxy check at {address}: {info['check']['detail']}")


def _protection_defaults(cookie_mode: str | None) -> dict:
    """The defaults of sites without their own settings; the cookie mode set first if given."""
    from whoknows.cookies import parse_cookie_mode
    from whoknows.ledger import open_ledger
    from whoknows.site_settings import SiteSettingsStore

    wanted = parse_cookie_mode(cookie_mode) if cookie_mode is not None else None  # checked first
    with open_ledger() as ledger:
        store = SiteSettingsStore(ledger)
        if wanted is not None:
            store.set_default_cookie_mode(wanted)
        return store.defaults().to_json()


def _print_info(info: dict) -> None:
    echo = click.echo
    echo(f"Proxy address:  {info['proxy']}  (HTTP and HTTPS)")
    echo(f"PAC file:       {info['pac_url']}  (give this to the browser or system)")
    echo(f"                {info['pac_url_through_proxy']}  (the same, through the proxy)")
    echo("")
    echo("Point the browser (or the whole system) at the proxy:")
    for name, step in info["use_proxy"].items():
        echo(f"  {name:9} {step}")
    echo("")
    echo(f"CA certificate: {info['ca_certificate']}")
    if info["ca_exists"]:
        echo(f"  SHA-256 {info['ca_sha256']}")
    else:
        echo("  (not made yet: 'whoknows proxy' makes it when it first starts)")
    echo("To see HTTPS traffic the proxy needs this CA trusted where you browse:")
    for name, step in info["trust_ca"].items():
        echo(f"  {name:9} {step}")
    echo("Its private key is next to it (mitmproxy-ca.pem): whoever has it can impersonate any site")
    echo("to this machine. Never copy it elsewhere; delete the directory to make a new CA.")
    echo("")
    echo(f"Listening beyond loopback needs --auth-user; the password is ${PASSWORD_ENV} or the stored")
    echo("secret ('whoknows setup --show-password').")
    echo("")
    defaults = info["defaults"]
    echo(f"Cookies of sites without their own mode: {defaults['cookie_mode']}")
    if defaults["cookie_mode"] == "allow":
        echo("  kept as long as each site asks; to shorten them all: 'whoknows setup --cookies cap:30'")
        echo("  (or session: they end with the browser session; 'whoknows site cookies SITE MODE' per site)")
    echo(f"Your values sent to another site: {defaults['leak_mode']} ('whoknows site leaks --default MODE')")
    echo("Your own terms: 'whoknows terms offer nostalking' has the proxy proffer the \"no stalking\" terms")
    echo("(use what I give you to serve me; do not track me beyond this site or share my data) to every")
    echo("site, and records which sites agree; 'whoknows terms' shows them. None is proffered until you do.")
    if "check" in info:
        mark = "ok" if info["check"]["ok"] else "FAILED"
        echo(f"\nCheck: {mark}: {info['check']['detail']}")
