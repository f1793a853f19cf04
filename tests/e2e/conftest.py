"""End-to-end fixtures: local test sites, the real proxy as a process, headless Chromium.

Fixtures (session-scoped unless said):
- `local_sites` / `sites` (per test, emptied before and after): the test sites `vendor.test`,
  `tracker.test`, `cdn.test`, `other.test` over HTTP and HTTPS (see `e2e_sites` for pages and
  recorded requests).
- `start_proxy(*sets, addons=(), name=None)`: start another proxy process with mitmproxy options
  (`"whoknows_dnt=false"`) and test addons (`"module:Factory"` importable from tests/e2e); it is
  stopped at the end of the session (or call `.stop()`). All share one mitmproxy CA.
- `proxy`: the session's default proxy (default options).
- `browser`: headless Chromium; `browser_context` / `page` (per test): a fresh context through
  `proxy`. For another proxy: `e2e_browser.new_context(browser, other_proxy.url)`.
"""

from __future__ import annotations

from collections.abc import Callable
from collections.abc import Iterator
from pathlib import Path

import pytest

from e2e_browser import chromium_missing
from e2e_browser import launch
from e2e_browser import new_context
from e2e_pki import SitePKI
from e2e_pki import make_pki
from e2e_proxy import ProxyProcess
from e2e_sites import SITE_NAMES
from e2e_sites import LocalSites


@pytest.fixture(scope="session")
def e2e_dir(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("e2e")


@pytest.fixture(scope="session")
def site_pki(e2e_dir) -> SitePKI:
    return make_pki(e2e_dir / "site-pki", SITE_NAMES)


@pytest.fixture(scope="session")
def local_sites(site_pki) -> Iterator[LocalSites]:
    servers = LocalSites(site_pki).start()
    yield servers
    servers.stop()


@pytest.fixture
def sites(local_sites) -> Iterator[LocalSites]:
    local_sites.reset()
    yield local_sites
    local_sites.reset()


@pytest.fixture(scope="session")
def mitm_confdir(e2e_dir) -> Path:
    """A mitmproxy configuration directory holding a CA, copied into every test proxy's home."""
    from mitmproxy.certs import CertStore

    path = e2e_dir / "mitm-ca"
    CertStore.create_store(path, "mitmproxy", 2048)
    return path


@pytest.fixture(scope="session")
def start_proxy(e2e_dir, site_pki, local_sites, mitm_confdir) -> Iterator[Callable[..., ProxyProcess]]:
    started: list[ProxyProcess] = []

    def start(*sets: str, addons: tuple[str, ...] = (), name: str | None = None) -> ProxyProcess:
        home = e2e_dir / (name or f"proxy-{len(started) + 1}")
        proxy = ProxyProcess(home, site_pki, local_sites.http_port, local_sites.https_port,
                             sets=sets, addons=addons, mitm_confdir=mitm_confdir)
        started.append(proxy)
        return proxy.start()

    yield start
    for proxy in started:
        proxy.stop()


@pytest.fixture(scope="session")
def proxy(start_proxy) -> ProxyProcess:
    return start_proxy(name="default-proxy")


@pytest.fixture(scope="session")
def browser(mitm_confdir):
    missing = chromium_missing()
    if missing:
        pytest.skip(missing)
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = launch(playwright, mitm_confdir / "mitmproxy-ca-cert.pem")
        yield chromium
        chromium.close()


@pytest.fixture
def browser_context(browser, proxy):
    context = new_context(browser, proxy.url)
    yield context
    context.close()


@pytest.fixture
def page(browser_context):
    return browser_context.new_page()
