"""The core package is the one place for domain logic: it imports neither mitmproxy nor click.

Importing every module of `whoknows` in a fresh interpreter must load neither: the CLI stays quick
(mitmproxy alone takes ~0.5 s to import) and the proxy and the CLI stay thin adapters over it.
"""

import json
import pkgutil
import subprocess
import sys
from pathlib import Path

import whoknows

ADAPTER_LIBRARIES = ("mitmproxy", "click")


def test_every_core_module_imports_without_mitmproxy_or_click():
    modules = sorted(info.name for info in pkgutil.walk_packages(whoknows.__path__, "whoknows."))
    assert "whoknows.filters.engine" in modules and "whoknows.ledger" in modules  # the walk works
    code = (
        "import importlib, json, sys\n"
        f"for name in {modules!r}:\n"
        "    importlib.import_module(name)\n"
        f"print(json.dumps(sorted(m for m in sys.modules if m.split('.')[0] in {ADAPTER_LIBRARIES!r})))\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120,
                          cwd=Path(whoknows.__file__).parents[1])
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout) == []
