"""whoknows core: the ledger, vendor identity, aliases, the filter engine, cookie policy, leak detection.

This package imports neither mitmproxy nor click: the proxy addons (`proxy_addons/`) and the
command line (`cli/`) are thin adapters over it.
"""

__version__ = "0.1.0"
