"""Per-site settings: protection paused, a cookie mode, and third parties the user lets in.

A site is a registrable domain (`sites.normalise_vendor`), the site of the page the user is on.
For each one the user may:
- pause protection: the proxy leaves every request made by that site's pages alone (no blocking,
  no parameter stripping, no cookie rewriting), for a site that breaks and must work now;
- set a cookie mode (`allow`, `session`, `cap:N`, `block`; `whoknows.cookies.parse_cookie_mode`)
  for the site's own cookies; unset means the default policy;
- allow third parties, (site, other site) pairs, for single sign-on and payments: the other site's
  cookies and requests work on that site's pages;
- set a leak mode (`block`, `scrub`, `report`; `LEAK_MODES`): what the proxy does with a request
  from the site's pages that carries one of the user's values to another site; unset means the
  default leak mode.

Defaults for every site without its own (`ProtectionDefaults`): a cookie mode (`allow` unless the
user sets one: `whoknows site cookies --default cap:30`) and a leak mode (`block`), kept in the
ledger's `settings` table under `DEFAULT_COOKIE_MODE_KEY` and `DEFAULT_LEAK_MODE_KEY`.

Storage: the ledger's `site_settings` and `site_third_parties` tables (schema v3), keyed by the
site's vendor row (a site with settings is a vendor). A site with nothing but defaults has no row.

`SiteSettingsStore` is what the proxy reads on every request: everything is held in memory and
`get(site)` is a dict lookup. Changes made by other processes (the CLI, the extension's control
API) are picked up by checking SQLite's `PRAGMA data_version` at most every `REFRESH_SECONDS`:
the number changes whenever another connection commits to the file, so it catches every writer,
including ones that do not know about this module (an import, a vendor deletion cascading to its
settings, a hand edit), without their cooperation; a check costs a few microseconds and reads no
table; a change elsewhere in the ledger (observations, disclosures) costs a needless reload of
two small tables. A generation counter row would need every writer to bump it. `data_version`
does not move for the store's own connection, so the store's writers reload at once, and the
store should have its own `Ledger` (writes by other code on the same connection are seen only
after `refresh(force=True)`). Like its connection, a store belongs to the thread that opened it:
another thread (the control API's) writes through its own store and, for the change to apply at
once, asks the owning thread to `refresh(force=True)`.
"""

from __future__ import annotations

import logging
import sqlite3
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from .cookies import ALLOW, CookieMode, CookiePolicy, parse_cookie_mode
from .errors import InputError, WhoknowsError
from .ledger import Ledger, now
from .sites import normalise_vendor

log = logging.getLogger(__name__)

REFRESH_SECONDS = 0.5
LEAK_MODES = ("block", "scrub", "report")
DEFAULT_LEAK_MODE = "block"
DEFAULT_COOKIE_MODE_KEY = "defaults.cookie_mode"
DEFAULT_LEAK_MODE_KEY = "defaults.leak_mode"


def parse_leak_mode(text: str) -> str:
    mode = text.strip().lower()
    if mode not in LEAK_MODES:
        raise InputError(f"unknown leak mode {text.strip()!r}; use {', '.join(LEAK_MODES[:-1])} or {LEAK_MODES[-1]}")
    return mode


@dataclass(frozen=True, slots=True)
class ProtectionDefaults:
    """What applies to every site without a setting of its own."""

    cookie_mode: CookieMode = ALLOW
    leak_mode: str = DEFAULT_LEAK_MODE

    def to_json(self) -> dict:
        return {"cookie_mode": str(self.cookie_mode), "leak_mode": self.leak_mode}


@dataclass(frozen=True, slots=True)
class SiteSettings:
    """One site's settings; `DEFAULT` for a site the user never configured."""

    paused: bool = False
    cookie_mode: CookieMode | None = None  # None: the default cookie policy applies
    allowed_third_parties: frozenset[str] = frozenset()  # sites allowed as third parties here
    leak_mode: str | None = None  # None: the default leak mode applies

    @property
    def is_default(self) -> bool:
        return (not self.paused and self.cookie_mode is None and not self.allowed_third_parties
                and self.leak_mode is None)

    def to_json(self, site: str) -> dict:
        return {
            "site": site,
            "paused": self.paused,
            "cookie_mode": None if self.cookie_mode is None else str(self.cookie_mode),
            "allowed_third_parties": sorted(self.allowed_third_parties),
            "leak_mode": self.leak_mode,
        }


DEFAULT = SiteSettings()


def load_all(ledger: Ledger) -> dict[str, SiteSettings]:
    """Every site with a setting, read in one consistent snapshot."""
    with ledger.read() as db:
        rows = db.execute(
            "SELECT v.domain, s.paused, s.cookie_mode, s.leak_mode FROM site_settings AS s "
            "JOIN vendors AS v ON v.id = s.vendor_id").fetchall()
        pairs = db.execute(
            "SELECT v.domain, t.third_party FROM site_third_parties AS t "
            "JOIN vendors AS v ON v.id = t.vendor_id").fetchall()
    allowed: dict[str, set[str]] = {}
    for domain, other in pairs:
        allowed.setdefault(domain, set()).add(other)
    settings: dict[str, SiteSettings] = {}
    for domain, paused, mode_text, leak_mode in rows:
        settings[domain] = SiteSettings(bool(paused), _stored_mode(domain, mode_text),
                                        frozenset(allowed.pop(domain, ())),
                                        leak_mode if leak_mode in LEAK_MODES else None)
    for domain, others in allowed.items():
        settings[domain] = SiteSettings(allowed_third_parties=frozenset(others))
    return settings


def load_defaults(ledger: Ledger) -> ProtectionDefaults:
    """The defaults for sites without their own settings (a bad stored value: the built-in one)."""
    cookie_text = ledger.get_setting(DEFAULT_COOKIE_MODE_KEY)
    leak_text = ledger.get_setting(DEFAULT_LEAK_MODE_KEY)
    cookie_mode = _stored_mode("every site (default)", cookie_text) or ALLOW
    leak_mode = leak_text if leak_text in LEAK_MODES else DEFAULT_LEAK_MODE
    return ProtectionDefaults(cookie_mode, leak_mode)


def _stored_mode(domain: str, text: str | None) -> CookieMode | None:
    if text is None:
        return None
    try:
        return parse_cookie_mode(text)
    except InputError as exc:  # the table's CHECK makes this a hand edit; the default applies
        log.warning("ignoring the cookie mode stored for %s: %s", domain, exc)
        return None


def _normalise_pair(site: str, other: str) -> tuple[str, str]:
    site, other = normalise_vendor(site), normalise_vendor(other)
    if site == other:
        raise InputError(f"{other} is the site {site} itself: requests on a site's own pages are "
                         "never third-party")
    return site, other


class SiteSettingsStore:
    """All site settings in memory, refreshed from the ledger when another process changes them.

    Readers (`get`, `cookie_policy`, `sites`) may be called for every request: between refresh
    checks they touch no database. Writers take a site as typed by a user (URL, host or domain;
    `InputError` if it is not one) and return the normalised site.
    """

    def __init__(self, ledger: Ledger, refresh_seconds: float = REFRESH_SECONDS,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.ledger = ledger
        self.refresh_seconds = refresh_seconds
        self._clock = clock
        self._settings: dict[str, SiteSettings] = {}
        self._defaults = ProtectionDefaults()
        self._policy: CookiePolicy | None = None
        self._data_version: int | None = None
        self._next_check = 0.0
        self._failing = False
        self.generation = 0  # bumped on every reload: lets callers cache what they derive
        self.refresh(force=True)

    # -- reading -------------------------------------------------------------------------------

    def get(self, site: str | None) -> SiteSettings:
        """The settings of `site` (a registrable domain as `sites.site_of` gives it)."""
        self.maybe_refresh()
        if site is None:
            return DEFAULT
        return self._settings.get(site, DEFAULT)

    def sites(self) -> dict[str, SiteSettings]:
        """Every site with a setting, sorted by domain."""
        self.maybe_refresh()
        return dict(sorted(self._settings.items()))

    def defaults(self) -> ProtectionDefaults:
        """The cookie and leak modes of sites without their own."""
        self.maybe_refresh()
        return self._defaults

    def cookie_policy(self) -> CookiePolicy:
        """The cookie policy with the per-site modes and third-party exceptions (the same object
        until the settings change)."""
        self.maybe_refresh()
        if self._policy is None:
            self._policy = CookiePolicy(
                {site: s.cookie_mode for site, s in self._settings.items() if s.cookie_mode},
                [(site, other) for site, s in self._settings.items() for other in s.allowed_third_parties],
                default_mode=self._defaults.cookie_mode)
        return self._policy

    def maybe_refresh(self) -> None:
        """Reload if another connection changed the ledger; checks at most every refresh_seconds."""
        moment = self._clock()
        if moment < self._next_check:
            return
        self._next_check = moment + self.refresh_seconds
        self.refresh()

    def refresh(self, force: bool = False) -> bool:
        """Reload now if the ledger changed (or `force`); True if reloaded. A ledger that cannot be
        read keeps the settings last read, with one warning until it can be read again."""
        try:
            version = self.ledger.db.execute("PRAGMA data_version").fetchone()[0]
            if not force and version == self._data_version:
                return False
            settings = load_all(self.ledger)
            defaults = load_defaults(self.ledger)
        except (sqlite3.Error, WhoknowsError) as exc:
            if not self._failing:
                log.warning("cannot read the site settings from %s (%s); keeping the ones last read",
                            self.ledger.path, exc)
                self._failing = True
            return False
        self._failing = False
        self._data_version = version
        self._settings = settings
        self._defaults = defaults
        self._policy = None
        self.generation += 1
        return True

    # -- writing -------------------------------------------------------------------------------

    def set_paused(self, site: str, paused: bool) -> str:
        site = normalise_vendor(site)
        self._update_row(site, "paused", 1 if paused else 0, create=paused)
        return site

    def set_cookie_mode(self, site: str, mode: str | CookieMode | None) -> str:
        """Set the site's cookie mode; None (or "default") goes back to the default policy."""
        site = normalise_vendor(site)
        if isinstance(mode, str) and mode.strip().lower() == "default":
            mode = None
        parsed = None if mode is None else parse_cookie_mode(mode)
        self._update_row(site, "cookie_mode", None if parsed is None else str(parsed),
                         create=parsed is not None)
        return site

    def set_leak_mode(self, site: str, mode: str | None) -> str:
        """Set the site's leak mode; None (or "default") goes back to the default leak mode."""
        site = normalise_vendor(site)
        if isinstance(mode, str) and mode.strip().lower() == "default":
            mode = None
        parsed = None if mode is None else parse_leak_mode(mode)
        self._update_row(site, "leak_mode", parsed, create=parsed is not None)
        return site

    def set_default_cookie_mode(self, mode: str | CookieMode) -> CookieMode:
        """The cookie mode of every site without its own (`allow` is the built-in default)."""
        parsed = parse_cookie_mode(mode)
        self.ledger.set_setting(DEFAULT_COOKIE_MODE_KEY, str(parsed))
        self.refresh(force=True)
        return parsed

    def set_default_leak_mode(self, mode: str) -> str:
        parsed = parse_leak_mode(mode)
        self.ledger.set_setting(DEFAULT_LEAK_MODE_KEY, parsed)
        self.refresh(force=True)
        return parsed

    def allow_third_party(self, site: str, other: str) -> tuple[str, str]:
        site, other = _normalise_pair(site, other)
        vendor = self.ledger.vendor_id(site, create=True)
        with self.ledger.write() as db:
            db.execute("INSERT INTO site_third_parties (vendor_id, third_party, created_at) "
                       "VALUES (?, ?, ?) ON CONFLICT DO NOTHING", (vendor, other, now()))
        self.refresh(force=True)
        return site, other

    def disallow_third_party(self, site: str, other: str) -> tuple[str, str]:
        site, other = _normalise_pair(site, other)
        vendor = self.ledger.vendor_id(site)
        if vendor is not None:
            with self.ledger.write() as db:
                db.execute("DELETE FROM site_third_parties WHERE vendor_id = ? AND third_party = ?",
                           (vendor, other))
        self.refresh(force=True)
        return site, other

    def _update_row(self, site: str, column: str, value: int | str | None, create: bool) -> None:
        """Set one column of the site's row; a row left with nothing but defaults is deleted."""
        vendor = self.ledger.vendor_id(site, create=create)
        if vendor is not None:
            with self.ledger.write() as db:
                if create:
                    db.execute("INSERT INTO site_settings (vendor_id, updated_at) VALUES (?, ?) "
                               "ON CONFLICT DO NOTHING", (vendor, now()))
                db.execute(f"UPDATE site_settings SET {column} = ?, updated_at = ? WHERE vendor_id = ?",
                           (value, now(), vendor))
                db.execute("DELETE FROM site_settings WHERE vendor_id = ? AND paused = 0 "
                           "AND cookie_mode IS NULL AND leak_mode IS NULL", (vendor,))
        self.refresh(force=True)


def settings_of(ledger: Ledger, sites: Iterable[str] | None = None) -> dict[str, SiteSettings]:
    """Settings read once, for a command that does not stay running: all sites with a setting,
    or exactly `sites` (already normalised; defaults for those without)."""
    every = load_all(ledger)
    if sites is None:
        return dict(sorted(every.items()))
    return {site: every.get(site, DEFAULT) for site in sites}
