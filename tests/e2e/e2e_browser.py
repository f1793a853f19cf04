"""Headless Debian Chromium driven by Playwright, through a proxy under test.

One browser per session (launch ~0.7 s); each test gets a fresh context (own cookies, cache and
proxy: Playwright sets the proxy per context). HTTPS through mitmproxy is trusted by pinning the
mitmproxy CA's public key (`--ignore-certificate-errors-spki-list`): only certificates that CA
signs are accepted, nothing else.
"""

from __future__ import annotations

import os
from pathlib import Path

from e2e_pki import spki_sha256_base64

CHROMIUM = Path("/usr/lib/chromium/chromium")
TIMEOUT_MS = 10_000
DOCS = Path(__file__).resolve().parents[2] / "docs"
# The README's screenshots are taken by the browser tests, but written to docs/ only when asked
# (`WHOKNOWS_SCREENSHOTS=1 make test`): a plain test run leaves the working tree as it found it.
REFRESH_SCREENSHOTS = os.environ.get("WHOKNOWS_SCREENSHOTS") == "1"


def screenshot_path(name: str, tmp_path: Path) -> Path:
    """Where a test saves the screenshot `name`: docs/ when refreshing them, else its temp dir
    (the screenshot is still taken, so a page that cannot be drawn still fails the test)."""
    return DOCS / name if REFRESH_SCREENSHOTS else tmp_path / name


def chromium_args(mitm_ca: Path) -> list[str]:
    # No --user-data-dir: Playwright gives every launch a fresh temporary profile of its own.
    return [
        "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync",
        "--disable-default-apps", "--disable-domain-reliability", "--metrics-recording-only",
        # Chromium would retry http:// navigations as https:// on its own; tests say which they want.
        "--disable-features=HttpsUpgrades,HttpsFirstBalancedModeAutoEnable",
        "--proxy-bypass-list=<-loopback>",  # loopback goes through the proxy too
        f"--ignore-certificate-errors-spki-list={spki_sha256_base64(mitm_ca)}",
    ]


def chromium_missing() -> str | None:
    if not os.access(CHROMIUM, os.X_OK):
        return f"{CHROMIUM} not found: run ./scripts/ensure-apt chromium libnss3-tools (make test does)"
    try:
        import playwright  # noqa: F401
    except ImportError:
        return "the playwright Python package is not installed (pip install -e '.[test]')"
    return None


def launch(playwright, mitm_ca: Path):
    # The browser-wide proxy is a placeholder: every context names its own proxy.
    return playwright.chromium.launch(
        executable_path=str(CHROMIUM), headless=True, proxy={"server": "http://per-context"},
        args=chromium_args(mitm_ca), timeout=30_000)


def new_context(browser, proxy_url: str, **options):
    context = browser.new_context(proxy={"server": proxy_url, "bypass": "<-loopback>"}, **options)
    context.set_default_timeout(TIMEOUT_MS)
    context.set_default_navigation_timeout(TIMEOUT_MS)
    return context
