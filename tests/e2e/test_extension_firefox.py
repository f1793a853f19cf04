"""The extension's one set of files in Firefox: Mozilla's own checks, with Debian's Firefox ESR.

- `web-ext lint` (addons-linter, what addons.mozilla.org runs on a submission) finds no error, and
  no warning but the one the cross-browser manifest means to cause;
- Firefox ESR, headless, installs the unpacked directory as a temporary add-on (`web-ext run`
  through Firefox's remote debugging protocol: Firefox itself validates the manifest and refuses,
  for instance, a background that is only a service worker).

Playwright drives only its own patched Firefox builds, so the popup is exercised in Chromium
(test_extension.py). `make test` installs `firefox-esr` (apt) and web-ext (npm ci in
tests/e2e/firefox/). Firefox gets a fresh HOME and profile; it is offline here, and its own
attempts to reach Mozilla's services fail harmlessly.
"""

from __future__ import annotations

import json
import os
import selectors
import shutil
import signal
import subprocess
import time
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow

REPO = Path(__file__).resolve().parents[2]
EXTENSION = REPO / "extension"
WEB_EXT = Path(__file__).resolve().parent / "firefox" / "node_modules" / ".bin" / "web-ext"
FIREFOX = "/usr/bin/firefox-esr"
INSTALL_TIMEOUT = 90
# Chromium needs `background.service_worker`; Firefox runs `background.scripts` and says it ignores
# the other key. Any other warning is news.
EXPECTED_WARNINGS = {"BACKGROUND_SERVICE_WORKER_IGNORED"}


@pytest.fixture(scope="module")
def web_ext() -> str:
    if not WEB_EXT.exists() or shutil.which("node") is None:
        pytest.fail(f"web-ext is not installed at {WEB_EXT}: `make test` installs it (npm ci)")
    return str(WEB_EXT)


def _env(home: Path) -> dict[str, str]:
    return {**os.environ, "HOME": str(home), "MOZ_HEADLESS": "1", "NO_UPDATE_NOTIFIER": "1",
            "WEB_EXT_NO_INPUT": "true"}


def test_mozillas_linter_finds_no_error(web_ext, tmp_path):
    done = subprocess.run([web_ext, "lint", "--source-dir", str(EXTENSION), "--output", "json",
                           "--no-config-discovery"],
                          capture_output=True, text=True, timeout=120, env=_env(tmp_path))
    report = json.loads(done.stdout)
    assert report["errors"] == [], report["errors"]
    assert {w["code"] for w in report["warnings"]} <= EXPECTED_WARNINGS, report["warnings"]
    assert report["summary"]["errors"] == 0


def test_firefox_installs_the_unpacked_extension(web_ext, tmp_path):
    if not Path(FIREFOX).exists():
        pytest.fail(f"{FIREFOX} is missing: `make test` installs firefox-esr")
    argv = [web_ext, "run", "--source-dir", str(EXTENSION), f"--firefox={FIREFOX}", "--no-input",
            "--no-reload", "--arg=-headless", "--no-config-discovery"]
    process = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                               env=_env(tmp_path), start_new_session=True)
    output: list[str] = []
    try:
        with selectors.DefaultSelector() as selector:
            selector.register(process.stdout, selectors.EVENT_READ)
            deadline = time.monotonic() + INSTALL_TIMEOUT
            while time.monotonic() < deadline:
                if not selector.select(timeout=1):
                    continue
                line = process.stdout.readline()
                if not line:
                    break  # web-ext ended: it failed (on success it keeps Firefox running)
                output.append(line)
                if "as a temporary add-on" in line or "Error" in line:
                    break
    finally:
        os.killpg(process.pid, signal.SIGTERM)  # web-ext, and the Firefox it started
        try:
            process.wait(15)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(5)
    text = "".join(output)
    assert f"Installed {EXTENSION} as a temporary add-on" in text, text
    assert "Error" not in text, text
