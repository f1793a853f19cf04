"""Load whoknows into your own mitmproxy: `mitmdump -s proxy_addons/whoknows.py`.

    mitmdump -s proxy_addons/whoknows.py --set connection_strategy=lazy

(`whoknows proxy` sets `connection_strategy=lazy` itself: it lets a request blocked inside an HTTPS
tunnel be answered without first connecting to the tracker. Your mitmproxy keeps its own confdir.)
"""

import sys
from pathlib import Path

_HERE = Path(__file__).resolve().parent


def _load_addons() -> list:
    # mitmproxy puts this file's directory first on sys.path while loading it, and there this file
    # would shadow the `whoknows` package: import the package with that entry set aside. From a
    # source checkout where whoknows is not installed, the checkout's root makes it importable.
    saved = list(sys.path)
    sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != _HERE] + [str(_HERE.parent)]
    try:
        import whoknows  # noqa: F401  (the package, cached for every later import)
        from proxy_addons import whoknows_addons
        from proxy_addons.chain import Chain

        return [Chain(whoknows_addons())]
    finally:
        sys.path[:] = saved


addons = _load_addons()
