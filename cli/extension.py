"""`whoknows extension pair|unpair|status`: connect the browser extension to the proxy's control API.

The extension talks to the running proxy on 127.0.0.1 (port 8081 unless `--set
whoknows_control_port=PORT`); it needs a token, which it gets once, in exchange for a pairing code
printed here. Codes and tokens are secrets: never in the ledger, logs or command lines.
"""

from __future__ import annotations

import time
from datetime import datetime, timezone

import click

from cli.output import json_option, print_json


def _iso(moment: float | None) -> str | None:
    if moment is None:
        return None
    return datetime.fromtimestamp(moment, timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def _control_api(token: str | None = None) -> dict:
    """Where the control API is expected and whether it answers there (recorded address first)."""
    from whoknows import control

    recorded = control.read_address()
    candidates = [recorded["url"]] if recorded else []
    candidates.append(control.default_url())
    for url in dict.fromkeys(candidates):
        answer = control.ping(url, token)
        if answer is not None:
            return {"url": url, "running": True, "version": answer.get("whoknows"),
                    "token_accepted": bool(answer.get("paired")) if token else None}
    return {"url": candidates[0], "running": False, "version": None, "token_accepted": None}


def _describe_api(api: dict) -> str:
    if not api["running"]:
        return f"{api['url']}: not answering (start 'whoknows proxy')"
    said = f"{api['url']}: running (whoknows {api['version']})"
    if api["token_accepted"] is True:
        said += ", accepts this machine's token"
    elif api["token_accepted"] is False:
        said += ", but refuses this machine's token (another data directory?)"
    return said


@click.group()
def extension():
    """Pair the browser extension with the proxy (the extension shows and changes per-site settings).

    Examples:

    \b
        whoknows extension pair
        whoknows extension status
    """


@extension.command("pair")
@json_option
def pair(as_json):
    """Print a pairing code to enter on the extension's options page.

    The code works once, for 10 minutes; 5 wrong tries cancel it. A new code replaces any earlier
    one. Every browser you pair shares one token; 'whoknows extension unpair' revokes it.

    Examples:

    \b
        whoknows extension pair
    """
    from whoknows import control

    code = control.new_pairing_code()
    api = _control_api()
    if as_json:
        print_json({"code": code.code, "expires_at": _iso(code.expires_at), "control_api": api})
        return
    minutes = max(1, round((code.expires_at - time.time()) / 60))
    click.echo(f"Pairing code: {code.code}")
    click.echo(f"Enter it on the whoknows extension's options page within {minutes} minutes "
               f"(it works once; {control.PAIRING_MAX_FAILURES} wrong tries cancel it).")
    click.echo(f"Control API: {_describe_api(api)}")


@extension.command("unpair")
@json_option
def unpair(as_json):
    """Revoke the extension's token (every paired browser loses access) and any pending code.

    Examples:

    \b
        whoknows extension unpair
    """
    from whoknows.control import TokenStore

    revoked = TokenStore().unpair()
    if as_json:
        print_json({"unpaired": revoked})
    elif revoked:
        click.echo("Unpaired: the extension's token is revoked; a running proxy refuses it from now on. "
                   "Pair again with 'whoknows extension pair'.")
    else:
        click.echo("No extension was paired.")


@extension.command("status")
@json_option
def status(as_json):
    """Whether an extension is paired, whether a code is waiting, and whether the control API answers.

    Examples:

    \b
        whoknows extension status --json
    """
    from whoknows import secrets
    from whoknows.control import TOKEN_SECRET, TokenStore

    tokens = TokenStore()
    token = tokens.token()
    pending = tokens.pending()
    data = {
        "paired": token is not None,
        "token_store": secrets.secret_location(TOKEN_SECRET),
        "pairing": {
            "pending": pending is not None,
            "expires_at": _iso(pending.expires_at) if pending else None,
            "tries_left": tokens.max_failures - pending.failures if pending else None,
        },
        "control_api": _control_api(token),
    }
    if as_json:
        print_json(data)
        return
    click.echo("extension: " + ("paired" if token else "not paired ('whoknows extension pair')"))
    if pending:
        left = max(0, round((pending.expires_at - time.time()) / 60))
        click.echo(f"pairing code: waiting, about {left} min left, "
                   f"{data['pairing']['tries_left']} tries left")
    click.echo(f"control API: {_describe_api(data['control_api'])}")
