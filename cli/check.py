"""`whoknows check URL`: what the proxy's filter engine would do with one request, and why."""

import re

import click

from cli.output import json_option, print_json
from whoknows.errors import InputError

# What `urlsplit().hostname` gives for a DNS name (lowercased) or an IP literal (brackets removed).
_HOST = re.compile(r"^[a-z0-9_.-]+$|^[0-9a-f:.]+$")


def _request_types() -> tuple[str, ...]:
    from whoknows.filters.parser import REQUEST_TYPES

    return tuple(name for name in REQUEST_TYPES if name != "cname")  # `cname` names no request


@click.command()
@click.argument("url")
@click.option("--from", "source", metavar="SITE", help="The page making the request (a site or URL).")
@click.option(
    "--type", "request_type", default="other", show_default=True, metavar="TYPE",
    help="The request's type: script, image, stylesheet, xhr, sub_frame, ... (see the error for all).",
)
@click.option(
    "--cname", "canonical_names", multiple=True, metavar="NAME",
    help="URL's host is a DNS alias (CNAME) of NAME, as `dig CNAME HOST` shows; repeat for a chain. "
         "The proxy finds this itself for first-party subdomains; say it here to see what it would do.",
)
@json_option
def check(url, source, request_type, canonical_names, as_json):
    """Show whether the proxy would block, allow or rewrite a request to URL.

    Uses the same lists and compiled cache as the proxy. Without --from the request has no known
    source page, as uBlock Origin treats it: filters limited to some sites (domain=) do not apply,
    and a subresource counts as third party.

    Examples:

    \b
        whoknows check https://tracker.example/pixel.gif --from shop.example --type image
        whoknows check https://m.shop.example/p.gif --from shop.example --cname m.tracker.example
    """
    from whoknows.filters import engine_cache

    target = _http_url(url, "URL")
    source_url = _source_url(source) if source else None
    request_type = _check_type(request_type)
    loaded = engine_cache.open_engine()
    for warning in loaded.warnings:
        click.echo(f"whoknows: warning: {warning}", err=True)
    decision = loaded.engine.match(target, type=request_type, source=source_url)
    uncloaked, cname_note = _uncloak(loaded.engine, target, source_url, request_type, decision,
                                     _canonical_names(canonical_names))
    if uncloaked is not None:
        decision = uncloaked.decision
    result = _result(target, source_url, request_type, decision)
    result["canonical_names"] = list(_canonical_names(canonical_names))
    result["uncloaked_as"] = uncloaked.canonical_name if uncloaked is not None else None
    result["cname_note"] = cname_note
    if as_json:
        print_json(result)
    else:
        _print(result)


def _canonical_names(names: tuple[str, ...]) -> tuple[str, ...]:
    out = tuple(name.strip().lower().rstrip(".") for name in names)
    for name in out:
        if not re.fullmatch(r"[a-z0-9_-]+(\.[a-z0-9_-]+)+", name):
            raise InputError(f"--cname takes a host name like tracker-cdn.example, got {name!r}")
    return out


def _uncloak(engine, url, source_url, request_type, decision, names):
    """What CNAME uncloaking makes of the request, as the proxy would (`whoknows.cname`), and a
    note when the names were given but the proxy would not look at them."""
    from urllib.parse import urlsplit

    from whoknows import cname
    from whoknows.sites import site_of

    if not names:
        return None, None
    host = urlsplit(url).hostname or ""
    page_site = site_of(urlsplit(source_url).hostname or "") if source_url else None
    if not cname.should_uncloak(host, site_of(host), page_site, request_type):
        return None, ("not uncloaked: only a subresource of a subdomain of the page's own site is "
                      "(give --from with the page's site)")
    found = cname.uncloak(decision, engine, url, host, names, request_type, source_url)
    if found is None:
        exempt = cname.exemption(engine, source_url)
        why = ("an exception filter let the request itself through" if decision.action == "exception"
               else "already blocked under its own name" if decision.action != "allow"
               else f"the page is exempt ({exempt})" if exempt
               else "no filter matches the canonical names in another site")
        return None, f"uncloaked, not blocked: {why}"
    return found, None


def _http_url(text: str, what: str) -> str:
    from urllib.parse import urlsplit

    text = text.strip()
    parts = urlsplit(text)
    if parts.scheme.lower() not in ("http", "https", "ws", "wss"):
        raise InputError(f"{what} must be an http(s) URL like https://example.com/path, got {text!r}")
    try:
        parts.port  # noqa: B018 -- raises ValueError on a bad port
    except ValueError as exc:
        raise InputError(f"{what} {text!r} is not a valid URL ({exc})") from None
    if not parts.hostname:
        raise InputError(f"{what} {text!r} has no host name")
    if not _HOST.match(parts.hostname):
        raise InputError(f"{what} {text!r} has an invalid host name {parts.hostname!r}")
    return text


def _source_url(site: str) -> str:
    """`example.com` or a full URL: the page the request comes from, as a URL."""
    site = site.strip()
    if "://" not in site:
        if not re.match(r"^[A-Za-z0-9_.-]+(:[0-9]+)?(/\S*)?$", site):
            raise InputError(f"--from takes a site (example.com) or an http(s) URL, got {site!r}")
        site = f"https://{site}" + ("" if "/" in site else "/")
    return _http_url(site, "--from")


def _check_type(request_type: str) -> str:
    types = _request_types()
    wanted = request_type.strip().lower()
    if wanted not in types:
        wanted = wanted.replace("-", "_")
    if wanted not in types:
        raise InputError(f"unknown request type {request_type!r}; use one of: {', '.join(sorted(types))}")
    return wanted


def _result(url, source_url, request_type, decision) -> dict:
    from whoknows.params import clean_url

    # What the proxy forwards: engine removeparam filters plus the built-in tracking parameters.
    cleaned, removed = clean_url(url, decision) if decision.action in ("allow", "exception") else (url, ())
    changed = cleaned != url
    return {
        "url": url,
        "from": source_url,
        "type": request_type,
        # an allowed request whose URL is cleaned is `removeparam`, as a user sees it
        "decision": "removeparam" if changed else decision.action,
        "action": decision.action,
        "filter": decision.filter,
        "list": decision.list,
        "important": bool(decision.important),
        "redirect": decision.redirect,
        "clean_url": cleaned if changed else None,
        "removed_params": list(removed),
        **attribution(url),
    }


def attribution(url: str) -> dict:
    """The company behind the requested host and what it does: `owner` (the one name whoknows
    shows for it, `directory.tracker_owner`) and `category` (the tracker data's), None when unknown."""
    from urllib.parse import urlsplit

    from whoknows.directory import tracker_owner
    from whoknows.tracker_companies import tracker_domain

    host = urlsplit(url).hostname or ""
    entry = tracker_domain(host)
    return {"owner": tracker_owner(host), "category": entry.category if entry is not None else None}


def _print(result: dict) -> None:
    click.echo(f"{result['decision']}  {result['url']}")
    details = [
        ("from", result["from"] or "(no known source page)"),
        ("type", result["type"]),
        ("redirect", result["redirect"]),
        ("clean URL", result["clean_url"]),
        ("removed", ", ".join(result["removed_params"]) or None),
        ("filter", result["filter"] and result["filter"] + ("  (important)" if result["important"] else "")),
        ("list", result["list"]),
        ("owner", result["owner"]),
        ("category", result["category"]),
        ("cname", " -> ".join(result["canonical_names"]) or None),
        ("uncloaked", result["uncloaked_as"] and f"blocked as {result['uncloaked_as']}"),
        ("note", result["cname_note"]),
    ]
    if result["filter"] is None:
        details.append(("why", "built-in tracking parameters" if result["removed_params"] else "no filter matched"))
    width = max(len(label) for label, _ in details)
    for label, value in details:
        if value:
            click.echo(f"  {label:<{width}}  {value}")
