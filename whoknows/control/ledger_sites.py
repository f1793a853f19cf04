"""The sites the control API reads and writes: settings, aliases, vendor records and the company
view's picture in the ledger.

`LedgerSites` is the proxy's `SiteBackend`; `site_state` is the body of `GET /api/v1/site`, from a
site's settings, its alias, the personal terms proffered and what the site did about them (read from
the ledger when asked: the proxy's request path does nothing for it) and the proxy's live counters.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, Protocol
from urllib.parse import urlsplit

from ..aliases import alias_for, load_setup
from ..company_picture import picture
from ..company_view import group_third_parties
from ..errors import WhoknowsError
from ..ledger import open_ledger
from ..site_settings import SiteSettingsStore, settings_of
from ..terms_records import site_terms
from ..vendor_records import vendor_record
from ..sites import site_of


class AliasesNotSetUp(WhoknowsError):
    """Aliases cannot be made before `whoknows alias setup`."""


class SiteBackend(Protocol):
    """What the control API reads and writes about sites (`LedgerSites` in the proxy)."""

    def view(self, site: str) -> tuple[Any, str | None, list[dict]]: ...  # (SiteSettings, active alias, terms)

    def vendor(self, site: str) -> dict: ...

    def make_alias(self, site: str) -> str: ...

    def companies(self) -> dict: ...  # company_picture.picture

    def set_paused(self, site: str, paused: bool) -> str: ...

    def set_cookie_mode(self, site: str, mode: str | None) -> str: ...

    def allow_third_party(self, site: str, other: str) -> Any: ...

    def disallow_third_party(self, site: str, other: str) -> Any: ...


class LedgerSites:
    """Site settings (`SiteSettingsStore` writers), aliases and vendor records in the ledger.

    Every call opens its own short-lived connection, so any thread may call it (SQLite connections
    belong to the thread that made them). `on_change` is called after each settings write: the proxy
    uses it to reload its live settings at once instead of at its next periodic check."""

    def __init__(self, open_ledger: Callable[[], Any] | None = None,
                 on_change: Callable[[], None] | None = None) -> None:
        self._open = open_ledger
        self.on_change = on_change

    def _ledger(self):
        return self._open() if self._open is not None else open_ledger()

    def view(self, site: str) -> tuple[Any, str | None, list[dict]]:
        with self._ledger() as ledger:
            return (settings_of(ledger, [site])[site], alias_for(ledger, site, create=False),
                    site_terms(ledger, site))

    def vendor(self, site: str) -> dict:
        with self._ledger() as ledger:
            return vendor_record(ledger, site)

    def companies(self) -> dict:
        with self._ledger() as ledger:
            return picture(ledger)

    def make_alias(self, site: str) -> str:
        with self._ledger() as ledger:
            existing = alias_for(ledger, site, create=False)
            if existing is not None:
                return existing
            if load_setup(ledger) is None:
                raise AliasesNotSetUp(
                    "aliases are not set up yet: run 'whoknows alias setup --base you@mail.example' "
                    "(plus addressing) or 'whoknows alias setup --domain me.example' (catch-all domain)")
            return alias_for(ledger, site, create=True)

    def _write(self, method: str, *args) -> Any:
        with self._ledger() as ledger:
            result = getattr(SiteSettingsStore(ledger), method)(*args)
        if self.on_change is not None:
            self.on_change()
        return result

    def set_paused(self, site: str, paused: bool) -> str:
        return self._write("set_paused", site, paused)

    def set_cookie_mode(self, site: str, mode: str | None) -> str:
        return self._write("set_cookie_mode", site, mode)

    def allow_third_party(self, site: str, other: str) -> Any:
        return self._write("allow_third_party", site, other)

    def disallow_third_party(self, site: str, other: str) -> Any:
        return self._write("disallow_third_party", site, other)


def site_for_url(url: str) -> str | None:
    """The site of a tab's URL; None for anything that is not an http(s) page with a site
    (chrome://, about:blank, file:, IP addresses, single-label hosts)."""
    try:
        parts = urlsplit(url.strip())
        host = parts.hostname
    except ValueError:
        return None
    if parts.scheme.lower() not in ("http", "https") or not host:
        return None
    return site_of(host)


def _entries(snapshot: Mapping | None, section: str) -> list[Mapping]:
    if not snapshot:
        return []
    return list((snapshot.get(section) or {}).get("top") or [])


def _counter(entry: Mapping, name: str) -> int:
    value = (entry.get("detail") or {}).get(name)
    return value if isinstance(value, int) and not isinstance(value, bool) else 0


def _text(detail: Mapping, name: str) -> str | None:
    value = detail.get(name)
    return value if isinstance(value, str) and value else None


def site_state(site: str | None, settings: Any = None, alias: str | None = None,
               observations: Mapping | None = None, leaks: int = 0, leaks_prevented: int = 0,
               terms: list[dict] | None = None) -> dict:
    """The body of `GET /api/v1/site` (see the contract), from a site's settings, its active alias,
    the terms proffered with what the site did about them (`terms_records.site_terms`) and its
    live counters (`Observations.snapshot` shape: each third party's `learned` status was asked of
    the proxy's learned list when the snapshot was taken, never per request)."""
    third_parties = []
    for entry in _entries(observations, "third_parties"):
        domain, detail = entry.get("subject"), entry.get("detail") or {}
        third_parties.append({
            "domain": domain, "company": entry.get("company"), "category": entry.get("category"),
            "blocked": _counter(entry, "blocked"), "allowed": _counter(entry, "allowed"),
            "blocked_by": _text(detail, "blocked_by") if _counter(entry, "blocked") else None,
            "learned": entry.get("learned") if isinstance(entry.get("learned"), dict) else None,
            "cloaked_behind": _text(detail, "cloaked_behind"),
        })
    cookies = _entries(observations, "cookies")
    return {
        "site": site,
        "protection": None if site is None else not settings.paused,
        "blocked": {"total": sum(tp["blocked"] for tp in third_parties), "third_parties": third_parties},
        "companies": group_third_parties(third_parties),
        "cookies": {"removed": sum(_counter(c, "blocked") for c in cookies),
                    "rewritten": sum(_counter(c, "shortened") for c in cookies)},
        "parameters_stripped": sum(int(p.get("count") or 0) for p in _entries(observations, "parameters")),
        "leaks": leaks,
        "leaks_prevented": leaks_prevented,
        "alias": alias,
        "terms": None if site is None else (terms or []),
        "settings": None if site is None else {
            "paused": settings.paused,
            "cookie_mode": None if settings.cookie_mode is None else str(settings.cookie_mode),
            "allowed_third_parties": sorted(settings.allowed_third_parties),
            "leak_mode": settings.leak_mode,
        },
    }
