"""`whoknows check URL`: what the proxy would do with one request, every part of it, and why.

The decision is the proxy's own (`whoknows.decision.decide`: site settings, filter lists, what the
proxy learned, parameters, cookies, Referer, leak prevention), over the same lists, compiled cache
and ledger."""

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
@click.option("--method", default="GET", show_default=True, help="The request's method.")
@click.option("--data", "body", metavar="BODY", default=None,
              help="The request's body, searched for your values as the proxy searches it.")
@click.option("--content-type", default=None, metavar="TYPE",
              help="The body's content type (application/x-www-form-urlencoded, application/json...).")
@click.option(
    "--cname", "canonical_names", multiple=True, metavar="NAME",
    help="URL's host is a DNS alias (CNAME) of NAME, as `dig CNAME HOST` shows; repeat for a chain. "
         "The proxy finds this itself for first-party subdomains; say it here to see what it would do.",
)
@json_option
def check(url, source, request_type, method, body, content_type, canonical_names, as_json):
    """Show what the proxy would do with a request to URL, part by part, and why.

    The same decision the proxy makes, over the same lists, compiled cache and settings: whether
    protection is paused on the page's site or the request's site is an allowed third party; the
    filter lists' decision (or a block for a third party that took the site's identifier, or for a
    learned tracker, seen tracking on 3 or more of your sites: 'whoknows trackers'); the
    tracking parameters removed; the cookie mode; the Referer sent; and what leak prevention does
    when the URL or the body (--data) carries one of your values ('whoknows me', aliases). --cname
    says what a host is an alias of, as the proxy finds it for a first-party subdomain.

    Without --from the request has no known source page, as uBlock Origin treats it: filters
    limited to some sites (domain=) do not apply, and a subresource counts as third party.

    Examples:

    \b
        whoknows check https://tracker.example/pixel.gif --from shop.example --type image
        whoknows check https://m.shop.example/p.gif --from shop.example --cname m.tracker.example
    """
    from whoknows.filters import engine_cache

    target = _http_url(url, "URL")
    source_url = _source_url(source) if source else None
    request_type = _check_type(request_type)
    method = method.strip().upper() or "GET"
    loaded = engine_cache.open_engine()
    for warning in loaded.warnings:
        click.echo(f"whoknows: warning: {warning}", err=True)
    names = _canonical_names(canonical_names)
    verdict, notes = _verdict(target, source_url, request_type, method, body, content_type, names,
                              loaded.engine)
    for note in notes:
        click.echo(f"whoknows: note: {note}", err=True)
    result = _result(verdict)
    result["canonical_names"] = list(names)
    result["uncloaked_as"] = verdict.filter.uncloaked_as
    result["cname_note"] = _cname_note(verdict, names, loaded.engine)
    if as_json:
        print_json(result)
    else:
        _print(result)


def _verdict(url, source_url, request_type, method, body, content_type, canonical_names, engine):
    """The proxy's decision for the request, with the user's settings, values and what the proxy
    learned; notes for what could not be read. The canonical names count where the proxy would
    look them up (`whoknows.cname.should_uncloak`)."""
    from dataclasses import replace

    from whoknows import cname
    from whoknows.decision import Protection, decide, describe_typed
    from whoknows import learned_trackers
    from whoknows.identifiers import SharedIdentifiers
    from whoknows.leak_records import shared_identifier_pairs
    from whoknows.ledger import open_ledger
    from whoknows.site_settings import SiteSettingsStore

    notes = []
    description = describe_typed(url, request_type, source_url, method, content_type)
    if canonical_names and cname.should_uncloak(description.host, description.request_site,
                                                description.page_site, description.type):
        description = replace(description, canonical_names=canonical_names)
    with open_ledger() as ledger:
        store = SiteSettingsStore(ledger)
        shared = SharedIdentifiers(shared_identifier_pairs(ledger))
        protection = Protection(settings_of=store.get, cookie_policy=store.cookie_policy(), engine=engine,
                                default_leak_mode=store.defaults().leak_mode,
                                knowledge=(shared, learned_trackers.load(ledger)))
        matches = _matches(ledger, url, body, content_type, notes)
    return decide(description, protection, matches), notes


def _matches(ledger, url, body, content_type, notes) -> list:
    """What the leak scanner finds of your values and aliases in the URL and body."""
    from whoknows import me
    from whoknows.errors import WhoknowsError
    from whoknows.leakscan import LeakScanner

    try:
        keys = me.load_keys(create=False)
    except WhoknowsError as exc:
        keys = None
        notes.append(f"your values cannot be read ({exc}); only aliases are looked for")
    watched, _ = me.watched_values(ledger, keys)
    if not watched:
        return []
    return LeakScanner(watched).scan(url, (), (body or "").encode("utf-8"), content_type)


def _canonical_names(names: tuple[str, ...]) -> tuple[str, ...]:
    out = tuple(name.strip().lower().rstrip(".") for name in names)
    for name in out:
        if not re.fullmatch(r"[a-z0-9_-]+(\.[a-z0-9_-]+)+", name):
            raise InputError(f"--cname takes a host name like tracker-cdn.example, got {name!r}")
    return out


def _cname_note(verdict, names, engine) -> str | None:
    """Why canonical names that were given did not block the request (None when they did, or
    when none were given)."""
    if not names or verdict.filter.uncloaked_as:
        return None
    if not verdict.request.canonical_names:
        return ("not uncloaked: only a subresource of a subdomain of the page's own site is "
                "(give --from with the page's site)")
    from whoknows import cname

    decision = verdict.filter.decision
    action = decision.action if decision is not None else "allow"
    exempt = cname.exemption(engine, verdict.request.source) if action == "allow" else None
    why = ("an exception filter let the request itself through" if action == "exception"
           else "already blocked under its own name" if action != "allow"
           else f"the page is exempt ({exempt})" if exempt
           else "no filter matches the canonical names in another site")
    return f"uncloaked, not blocked: {why}"


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


def _result(verdict) -> dict:
    request, filtered, params = verdict.request, verdict.filter, verdict.params
    decision = filtered.decision
    action = decision.action if decision is not None else "allow"
    # What a user sees first: the whole verdict, spelt as before for what filters decide (an allowed
    # request whose URL is cleaned is `removeparam`).
    if verdict.site.paused:
        shown = "pass"
    elif verdict.action == "block" and not filtered.blocked:
        shown = "block"
    elif params.removed and not filtered.blocked:
        shown = "removeparam"
    else:
        shown = action
    return {
        "url": request.url,
        "from": request.source if request.type != "document" else request.referer,
        "type": request.type,
        "decision": shown,
        "action": action,
        "filter": decision.filter if decision is not None else None,
        "list": decision.list if decision is not None else None,
        "important": bool(decision.important) if decision is not None else False,
        "redirect": decision.redirect if decision is not None else None,
        "clean_url": params.clean_url if params.removed and not filtered.blocked else None,
        "removed_params": list(params.removed) if not filtered.blocked else [],
        **attribution(request.url),
        "verdict": verdict.action,
        "parts": [{"part": part, "action": act, "reason": reason} for part, act, reason in verdict.parts()],
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
        filter_reason = next(part["reason"] for part in result["parts"] if part["part"] == "filter")
        details.append(("why", "built-in tracking parameters" if result["removed_params"] else filter_reason))
    width = max(len(label) for label, _ in details)
    for label, value in details:
        if value:
            click.echo(f"  {label:<{width}}  {value}")
    click.echo("parts:")
    part_width = max(len(part["part"]) for part in result["parts"])
    action_width = max(len(part["action"]) for part in result["parts"])
    for part in result["parts"]:
        click.echo(f"  {part['part']:<{part_width}}  {part['action']:<{action_width}}  {part['reason']}")
