"""The proxy's control API (v1, docs/control-api.md): what the browser extension calls.

One module per job:
- `api`: `ControlAPI.handle(method, target, headers, body) -> Response`, the whole request handling
  as a plain function over injected parts (its security rules, its routes), tested without sockets;
- `pairing`: `TokenStore`, the extension's token and the pairing code (whoknows secrets);
- `ledger_sites`: `LedgerSites`, the site settings, aliases and vendor records the API reads and writes,
  and `site_state`, the body of `GET /site`;
- `running_proxy`: where a running proxy's control API listens, and `ping` to ask it;
- `protocol`: what they share: the API's prefix, port and body limit, `Response`, `Refused`.
The proxy addon (`proxy_addons.control`) puts `ControlAPI` behind a loopback HTTP server; the CLI
(`whoknows extension`) pairs and finds the proxy. Their names are importable from here.
"""

from .api import ROUTES, ControlAPI, Request, Route, etag_of
from .pairing import (
    PAIRING_MAX_FAILURES, PAIRING_TTL_SECONDS, TOKEN_SECRET, PairingCode, PairingState, TokenStore,
    new_pairing_code, normalise_code,
)
from .protocol import API_PREFIX, BASE_HEADERS, DEFAULT_PORT, MAX_BODY_BYTES, Refused, Response
from .running_proxy import default_url, ping, read_address, remove_address, write_address
from .ledger_sites import AliasesNotSetUp, LedgerSites, SiteBackend, site_for_url, site_state

__all__ = [
    "API_PREFIX", "BASE_HEADERS", "DEFAULT_PORT", "MAX_BODY_BYTES", "PAIRING_MAX_FAILURES",
    "PAIRING_TTL_SECONDS", "ROUTES", "TOKEN_SECRET", "AliasesNotSetUp", "ControlAPI", "LedgerSites",
    "PairingCode", "PairingState", "Refused", "Request", "Response", "Route", "SiteBackend", "TokenStore",
    "default_url", "etag_of", "new_pairing_code", "normalise_code", "ping", "read_address",
    "remove_address", "site_for_url", "site_state", "write_address",
]
