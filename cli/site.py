"""`whoknows site pause|resume|cookies|leaks|allow-3p|disallow-3p|show|list`: per-site proxy settings,
and the defaults of sites without their own (`site cookies --default`, `site leaks --default`).

A running proxy picks every change up within a second; no restart.
"""

import contextlib

import click

from cli.output import json_option, print_json, table

site_argument = click.argument("site_name", metavar="SITE")


@contextlib.contextmanager
def _store():
    from whoknows.ledger import open_ledger
    from whoknows.site_settings import SiteSettingsStore

    with open_ledger() as ledger:
        yield SiteSettingsStore(ledger)


def _site(text: str) -> str:
    """SITE as its registrable domain; checked before the ledger is opened (bad input changes nothing)."""
    from whoknows.sites import normalise_vendor

    return normalise_vendor(text)


def _describe_mode(mode) -> str:
    return "default" if mode is None else str(mode)


def _report(store, site: str, as_json: bool, said: str) -> None:
    """After a change: the site's settings as JSON, or one line saying what changed."""
    settings = store.get(site)
    if as_json:
        print_json(settings.to_json(site))
    else:
        from whoknows.sites import display_domain

        click.echo(f"{display_domain(site)}: {said}")


def _show_lines(site: str, settings, defaults) -> list[str]:
    from whoknows.sites import display_domain

    allowed = ", ".join(display_domain(s) for s in sorted(settings.allowed_third_parties))
    cookies = (str(settings.cookie_mode) if settings.cookie_mode is not None
               else f"default ({defaults.cookie_mode})")
    leaks = settings.leak_mode or f"default ({defaults.leak_mode})"
    return [
        display_domain(site),
        f"  protection: {'paused' if settings.paused else 'on'}",
        f"  cookies: {cookies}",
        f"  leaks: {leaks}",
        f"  third parties allowed: {allowed or 'none'}",
    ]


def _site_and_mode(args: tuple[str, ...], default: bool, command: str) -> tuple[str | None, str]:
    """(SITE, MODE) from `SITE MODE`, or (None, MODE) from `--default MODE`; InputError otherwise."""
    from whoknows.errors import InputError

    if default:
        if len(args) != 1:
            raise InputError(f"'whoknows site {command} --default' takes one MODE and no SITE")
        return None, args[0]
    if len(args) == 1:
        raise InputError(f"Missing argument 'MODE': 'whoknows site {command}' takes SITE MODE "
                         "(or --default MODE)")
    if len(args) != 2:
        raise InputError(f"'whoknows site {command}' takes SITE MODE (or --default MODE)")
    return _site(args[0]), args[1]


@click.group()
def site():
    """Per-site proxy settings: pause protection, a cookie mode, a leak mode, third parties let in.

    SITE is a URL, host name or domain; settings belong to its registrable domain (the site of
    the page you are on). A running proxy applies a change within a second.

    Examples:

    \b
        whoknows site pause bank.example
        whoknows site list
    """


@site.command("pause")
@site_argument
@json_option
def pause(site_name, as_json):
    """Pause protection on SITE: the proxy leaves requests from its pages alone.

    Examples:

    \b
        whoknows site pause bank.example
    """
    domain = _site(site_name)
    with _store() as store:
        store.set_paused(domain, True)
        _report(store, domain, as_json, "protection paused (no blocking, no parameter or cookie "
                                        "rewriting on its pages); 'whoknows site resume' turns it back on")


@site.command("resume")
@site_argument
@json_option
def resume(site_name, as_json):
    """Turn protection on SITE back on.

    Examples:

    \b
        whoknows site resume bank.example
    """
    domain = _site(site_name)
    with _store() as store:
        store.set_paused(domain, False)
        _report(store, domain, as_json, "protection on")


@site.command("cookies")
@click.argument("args", nargs=-1, required=True, metavar="[SITE] MODE")
@click.option("--default", "default", is_flag=True,
              help="Set the mode of every site without its own (allow unless set).")
@json_option
def cookies(args, default, as_json):
    """Set how SITE's cookies are kept: allow, session, cap:DAYS (1 to 400), block, or default.

    session: they end with the browser session; cap:7: they live at most 7 days; block: none are
    stored or sent; default: the default mode again. With --default, MODE is the mode of every
    site without its own ('allow' unless you set one); known trackers get the stricter of cap:7
    and it.

    Examples:

    \b
        whoknows site cookies shop.example cap:30
        whoknows site cookies --default cap:30
    """
    from whoknows.cookies import parse_cookie_mode

    domain, mode = _site_and_mode(args, default, "cookies")
    if domain is None:
        wanted = parse_cookie_mode(mode)
        with _store() as store:
            store.set_default_cookie_mode(wanted)
            _report_defaults(store, as_json, f"cookies of sites without their own mode: {wanted}")
        return
    wanted = None if mode.strip().lower() == "default" else parse_cookie_mode(mode)
    with _store() as store:
        store.set_cookie_mode(domain, wanted)
        _report(store, domain, as_json, f"cookies: {_describe_mode(store.get(domain).cookie_mode)}")


@site.command("leaks")
@click.argument("args", nargs=-1, required=True, metavar="[SITE] MODE")
@click.option("--default", "default", is_flag=True,
              help="Set the mode of every site without its own (block unless set).")
@json_option
def leaks(args, default, as_json):
    """Set what the proxy does when SITE's pages send your values to another site.

    block: the request is stopped (answered like a blocked tracker request); scrub: only the
    parameter, form field or JSON member carrying the value is removed and the rest is sent
    (stopped when the value sits elsewhere); report: sent, and recorded in 'whoknows leaks'.
    default: the default mode again. Values sent to SITE itself (its forms) are never stopped,
    nor those sent to a third party SITE lets in ('whoknows site allow-3p'). A streamed upload's
    body is searched after it left: only its URL and headers can be stopped.

    Examples:

    \b
        whoknows site leaks shop.example scrub
        whoknows site leaks --default report
    """
    from whoknows.site_settings import parse_leak_mode

    domain, mode = _site_and_mode(args, default, "leaks")
    if domain is None:
        wanted = parse_leak_mode(mode)
        with _store() as store:
            store.set_default_leak_mode(wanted)
            _report_defaults(store, as_json, f"leaks on sites without their own mode: {wanted}")
        return
    wanted = None if mode.strip().lower() == "default" else parse_leak_mode(mode)
    with _store() as store:
        store.set_leak_mode(domain, wanted)
        _report(store, domain, as_json, f"leaks: {store.get(domain).leak_mode or 'default'}")


def _report_defaults(store, as_json: bool, said: str) -> None:
    if as_json:
        print_json(store.defaults().to_json())
    else:
        click.echo(f"every site: {said}")


@site.command("allow-3p")
@site_argument
@click.argument("other", metavar="OTHER")
@json_option
def allow_third_party(site_name, other, as_json):
    """Let OTHER work as a third party on SITE's pages (single sign-on, payments).

    OTHER's cookies are kept and its requests are not blocked there; everywhere else nothing changes.

    Examples:

    \b
        whoknows site allow-3p shop.example paypal.com
    """
    domain, other_domain = _site(site_name), _site(other)
    with _store() as store:
        store.allow_third_party(domain, other_domain)
        _report(store, domain, as_json, f"{other_domain} allowed as a third party")


@site.command("disallow-3p")
@site_argument
@click.argument("other", metavar="OTHER")
@json_option
def disallow_third_party(site_name, other, as_json):
    """Stop letting OTHER work as a third party on SITE's pages.

    Examples:

    \b
        whoknows site disallow-3p shop.example paypal.com
    """
    domain, other_domain = _site(site_name), _site(other)
    with _store() as store:
        store.disallow_third_party(domain, other_domain)
        _report(store, domain, as_json, f"{other_domain} treated like any other third party again")


@site.command("show")
@site_argument
@json_option
def show(site_name, as_json):
    """Show SITE's settings (a site you never configured has the defaults, shown too).

    Examples:

    \b
        whoknows site show shop.example
    """
    from whoknows.ledger import open_ledger
    from whoknows.site_settings import load_defaults, settings_of

    domain = _site(site_name)
    with open_ledger() as ledger:
        settings = settings_of(ledger, [domain])[domain]
        defaults = load_defaults(ledger)
    if as_json:
        print_json({**settings.to_json(domain), "defaults": defaults.to_json()})
    else:
        click.echo("\n".join(_show_lines(domain, settings, defaults)))


@site.command("list")
@json_option
def list_sites(as_json):
    """List the sites with any setting.

    Examples:

    \b
        whoknows site list
    """
    from whoknows.ledger import open_ledger
    from whoknows.site_settings import settings_of

    with open_ledger() as ledger:
        every = settings_of(ledger)
    if as_json:
        print_json([settings.to_json(domain) for domain, settings in every.items()])
        return
    from whoknows.sites import display_domain

    rows = [[display_domain(domain), "paused" if s.paused else "on", _describe_mode(s.cookie_mode),
             s.leak_mode or "default", ", ".join(display_domain(o) for o in sorted(s.allowed_third_parties))]
            for domain, s in every.items()]
    table("sites with settings", ["Site", "Protection", "Cookies", "Leaks", "Third parties allowed"], rows)
