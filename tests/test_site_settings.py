"""Per-site settings in the ledger, and the in-memory store the proxy reads on every request."""

import logging
import sqlite3
import subprocess
import sys
import textwrap

import pytest

from whoknows.cookies import ALLOW, BLOCK, SESSION, CookieMode
from whoknows.errors import InputError
from whoknows.ledger import open_ledger
from whoknows.site_settings import DEFAULT, SiteSettings, SiteSettingsStore, settings_of


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def ledger():
    with open_ledger() as opened:
        yield opened


@pytest.fixture
def store(ledger):
    return SiteSettingsStore(ledger)


def test_a_site_never_configured_has_the_defaults(store):
    assert store.get("vendor.test") is DEFAULT
    assert store.get(None) is DEFAULT
    assert DEFAULT == SiteSettings(False, None, frozenset())
    assert store.sites() == {}


def test_settings_are_kept_in_the_ledger_under_the_sites_registrable_domain(ledger, store):
    assert store.set_paused("https://www.Vendor.test/cart?x=1", True) == "vendor.test"
    store.set_cookie_mode("shop.vendor.test", "Cap:7")
    store.allow_third_party("vendor.test", "https://www.paypal.com/checkout")
    with open_ledger() as other:  # what another process opening the ledger reads
        settings = SiteSettingsStore(other).get("vendor.test")
    assert settings == SiteSettings(True, CookieMode("cap", 7), frozenset({"paypal.com"}))
    assert ledger.vendor_id("vendor.test") is not None  # a site with settings is a vendor


def test_cookie_modes_set_and_unset(store):
    store.set_cookie_mode("vendor.test", "session")
    assert store.get("vendor.test").cookie_mode == SESSION
    store.set_cookie_mode("vendor.test", BLOCK)
    assert store.get("vendor.test").cookie_mode == BLOCK
    store.set_cookie_mode("vendor.test", "default")
    assert store.get("vendor.test") is DEFAULT


@pytest.mark.parametrize("mode", ["forever", "cap:0", "cap:401", "cap:", ""])
def test_a_bad_cookie_mode_is_refused_and_changes_nothing(store, mode):
    store.set_cookie_mode("vendor.test", "cap:30")
    with pytest.raises(InputError, match="cookie mode"):
        store.set_cookie_mode("vendor.test", mode)
    assert str(store.get("vendor.test").cookie_mode) == "cap:30"


def test_the_ledger_itself_refuses_a_cookie_mode_the_store_could_not_read(ledger, store):
    store.set_paused("vendor.test", True)
    with pytest.raises(sqlite3.IntegrityError, match="CHECK"):
        with ledger.write() as db:
            db.execute("UPDATE site_settings SET cookie_mode = 'cap:9999'")


def test_bad_sites_are_refused(store):
    for bad in ("127.0.0.1", "localhost", "", "com"):
        with pytest.raises(InputError):
            store.set_paused(bad, True)
    with pytest.raises(InputError, match="never third-party"):
        store.allow_third_party("vendor.test", "login.vendor.test")
    assert store.sites() == {}


def test_back_to_defaults_leaves_no_row_behind(ledger, store):
    store.set_paused("vendor.test", True)
    store.set_cookie_mode("vendor.test", "block")
    store.allow_third_party("vendor.test", "paypal.com")
    store.set_paused("vendor.test", False)
    assert store.get("vendor.test") == SiteSettings(False, BLOCK, frozenset({"paypal.com"}))
    store.set_cookie_mode("vendor.test", None)
    store.disallow_third_party("vendor.test", "paypal.com")
    assert store.sites() == {}
    assert ledger.query("SELECT count(*) FROM site_settings")[0][0] == 0
    assert ledger.query("SELECT count(*) FROM site_third_parties")[0][0] == 0


def test_resuming_a_site_never_paused_adds_no_vendor(ledger, store):
    store.set_paused("vendor.test", False)
    store.set_cookie_mode("vendor.test", None)
    store.disallow_third_party("vendor.test", "paypal.com")
    assert ledger.vendor_id("vendor.test") is None


def test_the_cookie_policy_carries_modes_and_third_party_exceptions(store):
    store.set_cookie_mode("vendor.test", "cap:7")
    store.allow_third_party("vendor.test", "paypal.com")
    policy = store.cookie_policy()
    assert policy.for_response("vendor.test", "vendor.test", False) == CookieMode("cap", 7)
    assert policy.for_response("vendor.test", "paypal.com", False) == ALLOW
    assert policy.for_response("other.test", "paypal.com", False) == BLOCK
    assert store.cookie_policy() is policy  # built once per change, not per request
    store.set_cookie_mode("vendor.test", "session")
    assert store.cookie_policy() is not policy
    assert store.cookie_policy().for_response("vendor.test", "vendor.test", False) == SESSION


def _pause_in_another_process(site: str, paused: bool = True) -> None:
    script = textwrap.dedent(f"""
        from whoknows.ledger import open_ledger
        from whoknows.site_settings import SiteSettingsStore
        with open_ledger() as ledger:
            SiteSettingsStore(ledger).set_paused({site!r}, {paused!r})
    """)
    subprocess.run([sys.executable, "-c", script], check=True, timeout=60)


def test_a_change_by_another_process_is_seen_after_the_refresh_interval(ledger):
    clock = FakeClock()
    store = SiteSettingsStore(ledger, refresh_seconds=0.5, clock=clock)
    assert store.get("vendor.test").paused is False
    _pause_in_another_process("vendor.test")
    clock.now += 0.2
    assert store.get("vendor.test").paused is False  # not checked yet: no query per request
    clock.now += 0.4
    assert store.get("vendor.test").paused is True


def test_between_checks_reading_settings_runs_no_sql_at_all(ledger):
    clock = FakeClock()
    store = SiteSettingsStore(ledger, clock=clock)
    store.set_paused("vendor.test", True)
    store.get("vendor.test")
    statements = []
    ledger.db.set_trace_callback(statements.append)
    for _ in range(1000):
        store.get("vendor.test")
        store.cookie_policy()
    assert statements == []
    clock.now += 1
    store.get("vendor.test")
    assert statements == ["PRAGMA data_version"]  # a check that finds nothing new reads no table


def test_forgetting_the_vendor_forgets_its_settings(ledger):
    clock = FakeClock()
    store = SiteSettingsStore(ledger, clock=clock)
    store.set_paused("vendor.test", True)
    with open_ledger() as other:
        with other.write() as db:
            db.execute("DELETE FROM vendors WHERE domain = 'vendor.test'")
    clock.now += 1
    assert store.get("vendor.test") is DEFAULT


def test_an_unreadable_ledger_keeps_the_settings_last_read(ledger, caplog):
    clock = FakeClock()
    store = SiteSettingsStore(ledger, clock=clock)
    store.set_paused("vendor.test", True)
    with open_ledger() as other:
        with other.write() as db:
            db.execute("ALTER TABLE site_settings RENAME TO broken")
    with caplog.at_level(logging.WARNING, logger="whoknows.site_settings"):
        for _ in range(3):
            clock.now += 1
            assert store.get("vendor.test").paused is True
    warnings = [r.getMessage() for r in caplog.records]
    assert len(warnings) == 1 and "cannot read the site settings" in warnings[0]  # said once


def test_settings_of_reads_once_for_commands(ledger, store):
    store.set_paused("vendor.test", True)
    store.set_cookie_mode("shop.test", "session")
    assert list(settings_of(ledger)) == ["shop.test", "vendor.test"]
    assert settings_of(ledger, ["nothing.test"]) == {"nothing.test": DEFAULT}


def test_a_long_lived_store_survives_short_connections_in_its_own_process(ledger):
    # The proxy keeps the store's connection open while the observation flusher opens and closes
    # its own, and the CLI writes from another process. Opening the ledger once dropped this
    # process's SQLite locks, so the CLI deleted the WAL under the store: a malformed ledger.
    clock = FakeClock()
    store = SiteSettingsStore(ledger, clock=clock)
    for paused in (True, False, True):
        with open_ledger() as short:  # what the flusher does every few seconds
            with short.write() as db:
                db.execute("INSERT OR IGNORE INTO vendors (domain, created_at) VALUES ('x.test', 'now')")
        _pause_in_another_process("vendor.test", paused)
        clock.now += 1
        assert store.get("vendor.test").paused is paused
    assert ledger.integrity() == "ok"
