# `make run` runs whoknows with its built-in defaults; `make test` runs every test.
# Both first build what they need: a virtualenv with a Python >= 3.12, the package in editable mode
# with its test extras, and (for the tests) the Debian packages the browser tests use.

VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
# The browser tests drive Debian's Chromium (with a font to render text); NSS tools trust the proxy's CA;
# the extension is also installed in Debian's Firefox ESR; strace watches the proxy's system calls
# (tests/e2e/test_proxy_silence.py: no connection of its own, below Python too).
TEST_APT_PACKAGES := chromium fonts-liberation libnss3-tools firefox-esr strace
# Mozilla's web-ext (linter, temporary add-on install) for the Firefox test, pinned by its lockfile.
FIREFOX_TOOLS := tests/e2e/firefox
WEB_EXT := $(FIREFOX_TOOLS)/node_modules/.bin/web-ext

.PHONY: run test bench install apt-deps clean

run: $(STAMP)
	$(VENV)/bin/whoknows proxy

test: $(STAMP) apt-deps $(WEB_EXT)
	$(PY) -m pytest -q -p no:cacheprovider
	node --test extension/tests/

bench: $(STAMP) apt-deps
	./scripts/ensure-apt wrk nginx-light
	$(PY) bench/run_all.py

install: $(STAMP)

$(STAMP): setup.cfg pyproject.toml
	test -x $(PY) || $$(./scripts/find-python) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e '.[test]'
	touch $(STAMP)

# The extension's unit tests use node's built-in test runner (any node >= 18; web-ext wants 20).
apt-deps:
	./scripts/ensure-apt $(TEST_APT_PACKAGES)
	command -v node >/dev/null || ./scripts/ensure-apt nodejs
	command -v npm >/dev/null || ./scripts/ensure-apt npm

$(WEB_EXT): $(FIREFOX_TOOLS)/package-lock.json | apt-deps
	npm ci --prefix $(FIREFOX_TOOLS) --no-audit --no-fund --loglevel=error
	touch $(WEB_EXT)

clean:
	rm -rf $(VENV) build *.egg-info
