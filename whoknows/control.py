"""The proxy's control API (v1, docs/control-api.md): what the browser extension calls.

`ControlAPI.handle(method, target, headers, body) -> Response(status, headers, body)` is the whole
request handling as a plain function over injected parts, so every rule is tested without sockets:
- `sites` (a `SiteBackend`, normally `LedgerSites`): site settings read and written, aliases,
  vendor records;
- `observations`: a site's live counters (`whoknows.observations.Observations.snapshot` shape),
  or None when nothing observes;
- `tokens` (a `TokenStore`): the extension's token and the pairing code.
The proxy addon (`proxy_addons.control`) puts it behind a loopback HTTP server.

Security rules, checked in this order before anything else happens:
1. `Host` must be exactly `127.0.0.1:PORT` or `localhost:PORT` (one header): a page on a name that
   was rebound to 127.0.0.1 (DNS rebinding) sends its own name, 421.
2. `Origin`, when present, must be a browser extension's (`chrome-extension://`, `moz-extension://`,
   `safari-web-extension://`): web pages (`http:`, `https:`, `null`, `file:`) get 403. Browsers
   send `Origin` with every POST and every CORS request, so no page can write or read this way;
   no CORS header is ever sent. A request without `Origin` that the browser marks as a web page's
   subresource or navigation (`Sec-Fetch-Site` cross-site/same-site and `Sec-Fetch-Dest` not
   `empty`: an `<img>`, `<script>`, frame or link) gets 403 too; an extension's `fetch` is always
   `Sec-Fetch-Dest: empty`.
3. Unknown path 404; wrong method 405 (there is no state-changing GET).
4. Everything but `GET /ping` and `POST /pair` needs `Authorization: Bearer TOKEN`, compared in
   constant time (`hmac.compare_digest`) with the stored token: 401.
5. POST bodies must be `Content-Type: application/json` (415; an HTML form can only send
   urlencoded, multipart or text/plain) holding one JSON object (400).
Every refusal is counted (`ControlAPI.refusals`, by reason) and logged (method, path without the
query, status, reason, the Origin: never a header value that could be a secret, never a code).

Secrets: the token is the whoknows secret `extension-token` (URL-safe base64 of its 32 bytes); a
pairing code is the secret `extension-pairing` (its first 40 bits as 8 Crockford base32 symbols,
`XXXX-XXXX`), with its expiry and wrong-try count beside it in `<data dir>/extension-pairing.json`
(not secret). Neither ever goes to the ledger, a log or argv. Every paired browser gets the same
token; `unpair` revokes it for all of them.
"""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import json
import logging
import os
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, NamedTuple, Protocol
from urllib.parse import parse_qsl, urlsplit

from .errors import InputError, NotFoundError, WhoknowsError

logger = logging.getLogger("whoknows.control")

API_PREFIX = "/api/v1"
DEFAULT_PORT = 8081
TOKEN_SECRET = "extension-token"
PAIRING_SECRET = "extension-pairing"
PAIRING_FILE = "extension-pairing.json"
PAIRING_LOCK_FILE = ".extension-pairing.lock"
ADDRESS_FILE = "control-api.json"  # where a running proxy's control API listens
PAIRING_TTL_SECONDS = 600
PAIRING_MAX_FAILURES = 5
MAX_BODY_BYTES = 64 * 1024
EXTENSION_SCHEMES = frozenset({"chrome-extension", "moz-extension", "safari-web-extension"})
_CROCKFORD = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
_CODE_READS_AS = str.maketrans({"I": "1", "L": "1", "O": "0"})
_WEB_FETCH_SITES = frozenset({"cross-site", "same-site"})

Headers = Sequence[tuple[str, str]]

# Sent with every answer: JSON only, never cached (it holds browsing data and, once, a token),
# never readable or embeddable by another origin.
BASE_HEADERS: tuple[tuple[str, str], ...] = (
    ("content-type", "application/json; charset=utf-8"),
    ("cache-control", "no-store"),
    ("x-content-type-options", "nosniff"),
    ("cross-origin-resource-policy", "same-origin"),
    ("content-security-policy", "default-src 'none'; frame-ancestors 'none'"),
    ("referrer-policy", "no-referrer"),
)


class Response(NamedTuple):
    status: int
    headers: list[tuple[str, str]]
    body: bytes

    def header(self, name: str) -> str | None:
        name = name.lower()
        return next((v for k, v in self.headers if k == name), None)

    def json(self) -> Any:
        return json.loads(self.body) if self.body else None


class Refused(WhoknowsError):
    """A request answered with an error status (and a one-line message for the client)."""

    def __init__(self, status: int, message: str, reason: str | None = None,
                 headers: Sequence[tuple[str, str]] = ()) -> None:
        super().__init__(message)
        self.status, self.message, self.reason, self.headers = status, message, reason or message, headers


class AliasesNotSetUp(WhoknowsError):
    """Aliases cannot be made before `whoknows alias setup`."""


# -- pairing and the token ----------------------------------------------------------------------


@dataclass(frozen=True)
class PairingCode:
    code: str  # XXXX-XXXX: shown on the terminal only
    expires_at: float  # seconds since the epoch


@dataclass(frozen=True)
class PairingState:
    """A pending pairing code's public facts (never the code)."""

    expires_at: float
    failures: int


def _code_of(secret: bytes) -> str:
    bits = int.from_bytes(secret[:5], "big")
    symbols = "".join(_CROCKFORD[(bits >> shift) & 31] for shift in range(35, -1, -5))
    return f"{symbols[:4]}-{symbols[4:]}"


def normalise_code(text: str) -> str:
    """A pairing code as typed (any case, spaces or dash anywhere) as `XXXX-XXXX`; InputError if it
    cannot be one. Crockford's reading: I and L are 1, O is 0."""
    compact = "".join(text.split()).replace("-", "").upper()
    if len(compact) != 8 or not compact.isascii() or not compact.isalnum():
        raise InputError("a pairing code is 8 letters or digits (XXXX-XXXX), as "
                         "'whoknows extension pair' prints it")
    compact = compact.translate(_CODE_READS_AS)
    return f"{compact[:4]}-{compact[4:]}"


def _token_text(secret: bytes) -> str:
    import base64

    return base64.urlsafe_b64encode(secret).decode("ascii").rstrip("=")


class TokenStore:
    """The extension's token and the pending pairing code, kept as whoknows secrets.

    Safe to use from several threads and processes at once: pairing reads and writes under an
    exclusive lock on `<data dir>/.extension-pairing.lock`. The token is read from its store on
    every check, so `whoknows extension unpair` in another process takes effect at once."""

    def __init__(self, clock: Callable[[], float] = time.time, ttl: float = PAIRING_TTL_SECONDS,
                 max_failures: int = PAIRING_MAX_FAILURES) -> None:
        self.clock, self.ttl, self.max_failures = clock, ttl, max_failures
        self._thread_lock = threading.Lock()

    # -- the token --

    def token(self) -> str | None:
        """The current token, or None when no extension is paired."""
        from . import secrets

        if secrets.secret_location(TOKEN_SECRET) is None:  # cheap: no keyring discovery
            return None
        try:
            return _token_text(secrets.get_secret(TOKEN_SECRET))
        except WhoknowsError as exc:  # its store cannot be read: nobody is let in
            logger.warning(f"whoknows control API: cannot read the extension token ({exc})")
            return None

    def check(self, presented: str | None) -> bool:
        """Whether `presented` is the token, compared in constant time."""
        if presented is None:
            return False
        expected = self.token()
        # Compared even when there is no token, so answering takes as long either way.
        reference = (expected or _token_text(os.urandom(32))).encode("ascii")
        return hmac.compare_digest(presented.encode("utf-8", "replace"), reference) and expected is not None

    def paired(self) -> bool:
        from . import secrets

        return secrets.secret_location(TOKEN_SECRET) is not None

    def unpair(self) -> bool:
        """Revoke the token (and any pending code); True if an extension was paired."""
        from . import secrets

        with self._locked():
            self._clear_pairing()
            return secrets.delete_secret(TOKEN_SECRET)

    def _issue_token(self) -> str:
        from . import secrets

        try:
            return _token_text(secrets.get_secret(TOKEN_SECRET, create=True))
        except WhoknowsError:  # recorded but gone from its store: a token can simply be remade
            secrets.delete_secret(TOKEN_SECRET)
            return _token_text(secrets.get_secret(TOKEN_SECRET, create=True))

    # -- pairing --

    def new_pairing_code(self) -> PairingCode:
        """A fresh single-use code (any earlier one stops working), valid for `ttl` seconds."""
        from . import secrets

        with self._locked():
            secrets.delete_secret(PAIRING_SECRET)
            code = _code_of(secrets.get_secret(PAIRING_SECRET, create=True))
            state = PairingState(self.clock() + self.ttl, 0)
            self._write_state(state)
        return PairingCode(code, state.expires_at)

    def pending(self) -> PairingState | None:
        """The pending code's expiry and wrong tries; None when there is none (or it expired)."""
        from . import secrets

        state = self._read_state()
        if state is None or secrets.secret_location(PAIRING_SECRET) is None:
            return None
        return state if self.clock() < state.expires_at else None

    def pair(self, text: str) -> str:
        """The token, in exchange for the pending code; `Refused` (403) otherwise, `InputError`
        for text that cannot be a code (not counted as a try)."""
        given = normalise_code(text)
        with self._locked():
            code, state = self._pending_code()
            if code is None or state is None:
                raise Refused(403, "no pairing code is waiting: run 'whoknows extension pair' and "
                                   "enter the code it prints", "no pairing code pending")
            if self.clock() >= state.expires_at:
                self._clear_pairing()
                raise Refused(403, "that pairing code has expired: run 'whoknows extension pair' "
                                   "for a new one", "pairing code expired")
            if not hmac.compare_digest(given.encode("ascii"), code.encode("ascii")):
                raise self._wrong_code(state)
            self._clear_pairing()  # single use
            return self._issue_token()

    def _wrong_code(self, state: PairingState) -> Refused:
        failures = state.failures + 1
        if failures >= self.max_failures:
            self._clear_pairing()
            return Refused(403, f"wrong pairing code; after {failures} wrong tries the code is "
                                "cancelled: run 'whoknows extension pair' for a new one",
                           "wrong pairing code (code cancelled)")
        self._write_state(PairingState(state.expires_at, failures))
        left = self.max_failures - failures
        return Refused(403, f"wrong pairing code ({left} {'try' if left == 1 else 'tries'} left)",
                       "wrong pairing code")

    def _pending_code(self) -> tuple[str | None, PairingState | None]:
        from . import secrets

        state = self._read_state()
        if state is None or secrets.secret_location(PAIRING_SECRET) is None:
            return None, None
        try:
            return _code_of(secrets.get_secret(PAIRING_SECRET)), state
        except WhoknowsError:
            return None, None

    def _clear_pairing(self) -> None:
        from . import secrets

        secrets.delete_secret(PAIRING_SECRET)
        with contextlib.suppress(FileNotFoundError):
            _data_file(PAIRING_FILE).unlink()

    def _read_state(self) -> PairingState | None:
        try:
            data = json.loads(_data_file(PAIRING_FILE).read_bytes())
            return PairingState(float(data["expires_at"]), int(data["failures"]))
        except FileNotFoundError:
            return None
        except (OSError, ValueError, KeyError, TypeError):  # damaged: no code is pending
            return None

    def _write_state(self, state: PairingState) -> None:
        from . import paths

        paths.data_dir()
        data = {"expires_at": state.expires_at, "failures": state.failures}
        paths.write_private_file(_data_file(PAIRING_FILE), (json.dumps(data) + "\n").encode())

    @contextlib.contextmanager
    def _locked(self) -> Iterator[None]:
        from . import paths

        with self._thread_lock:
            fd = os.open(paths.data_dir() / PAIRING_LOCK_FILE, os.O_CREAT | os.O_RDWR, paths.FILE_MODE)
            try:
                try:
                    import fcntl

                    fcntl.flock(fd, fcntl.LOCK_EX)
                except ImportError:  # no advisory locks (Windows): the thread lock still holds
                    pass
                yield
            finally:
                os.close(fd)  # releases the lock


def _data_file(name: str):
    from . import paths

    return paths.data_dir(create=False) / name


def new_pairing_code(clock: Callable[[], float] = time.time) -> PairingCode:
    """A fresh pairing code for `whoknows extension pair`."""
    return TokenStore(clock=clock).new_pairing_code()


# -- where the control API listens (a running proxy says so in the data directory) ----------------


def write_address(url: str) -> None:
    from . import paths

    paths.data_dir()
    data = {"url": url, "pid": os.getpid()}
    paths.write_private_file(_data_file(ADDRESS_FILE), (json.dumps(data) + "\n").encode())


def remove_address(url: str) -> None:
    """Remove the address file if it still names this process's `url`."""
    recorded = read_address()
    if recorded is not None and recorded.get("url") == url and recorded.get("pid") == os.getpid():
        with contextlib.suppress(OSError):
            _data_file(ADDRESS_FILE).unlink()


def read_address() -> dict | None:
    """`{"url": ..., "pid": ...}` as the last proxy started wrote it, or None."""
    try:
        data = json.loads(_data_file(ADDRESS_FILE).read_bytes())
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) and isinstance(data.get("url"), str) else None


def default_url(port: int = DEFAULT_PORT) -> str:
    return f"http://127.0.0.1:{port}"


def ping(url: str, token: str | None = None, timeout: float = 1.0) -> dict | None:
    """`GET /api/v1/ping` at `url` (`http://127.0.0.1:PORT`): its JSON answer, or None when nothing
    answers there as the control API."""
    import http.client

    parts = urlsplit(url)
    headers = {"accept": "application/json"}
    if token:
        headers["authorization"] = f"Bearer {token}"
    connection = http.client.HTTPConnection(parts.hostname or "127.0.0.1", parts.port or DEFAULT_PORT,
                                            timeout=timeout)
    try:
        connection.request("GET", f"{API_PREFIX}/ping", headers=headers)
        response = connection.getresponse()
        body = json.loads(response.read(MAX_BODY_BYTES)) if response.status == 200 else None
    except (OSError, ValueError, http.client.HTTPException):
        return None
    finally:
        connection.close()
    return body if isinstance(body, dict) and "whoknows" in body else None


# -- sites: settings, aliases, vendor records ---------------------------------------------------


class SiteBackend(Protocol):
    """What the control API reads and writes about sites (`LedgerSites` in the proxy)."""

    def view(self, site: str) -> tuple[Any, str | None]: ...  # (SiteSettings, active alias)

    def vendor(self, site: str) -> dict: ...

    def make_alias(self, site: str) -> str: ...

    def set_paused(self, site: str, paused: bool) -> str: ...

    def set_cookie_mode(self, site: str, mode: str | None) -> str: ...

    def allow_third_party(self, site: str, other: str) -> Any: ...

    def disallow_third_party(self, site: str, other: str) -> Any: ...


class LedgerSites:
    """Site settings (`SiteSettingsStore` writers), aliases and vendor records in the ledger.

    Every call opens its own short-lived connection, so any thread may call it (SQLite connections
    belong to the thread that made them). `on_change` is called after each settings write: the proxy
    uses it to reload its live settings at once instead of at its next periodic check."""

    def __init__(self, open_ledger: Callable[[], Any] | None = None,
                 on_change: Callable[[], None] | None = None) -> None:
        self._open = open_ledger
        self.on_change = on_change

    def _ledger(self):
        if self._open is not None:
            return self._open()
        from .ledger import open_ledger

        return open_ledger()

    def view(self, site: str) -> tuple[Any, str | None]:
        from .aliases import alias_for
        from .site_settings import settings_of

        with self._ledger() as ledger:
            return settings_of(ledger, [site])[site], alias_for(ledger, site, create=False)

    def vendor(self, site: str) -> dict:
        from .vendor_records import vendor_record

        with self._ledger() as ledger:
            return vendor_record(ledger, site)

    def make_alias(self, site: str) -> str:
        from .aliases import alias_for, load_setup

        with self._ledger() as ledger:
            existing = alias_for(ledger, site, create=False)
            if existing is not None:
                return existing
            if load_setup(ledger) is None:
                raise AliasesNotSetUp(
                    "aliases are not set up yet: run 'whoknows alias setup --base you@mail.example' "
                    "(plus addressing) or 'whoknows alias setup --domain me.example' (catch-all domain)")
            return alias_for(ledger, site, create=True)

    def _write(self, method: str, *args) -> Any:
        from .site_settings import SiteSettingsStore

        with self._ledger() as ledger:
            result = getattr(SiteSettingsStore(ledger), method)(*args)
        if self.on_change is not None:
            self.on_change()
        return result

    def set_paused(self, site: str, paused: bool) -> str:
        return self._write("set_paused", site, paused)

    def set_cookie_mode(self, site: str, mode: str | None) -> str:
        return self._write("set_cookie_mode", site, mode)

    def allow_third_party(self, site: str, other: str) -> Any:
        return self._write("allow_third_party", site, other)

    def disallow_third_party(self, site: str, other: str) -> Any:
        return self._write("disallow_third_party", site, other)


def site_for_url(url: str) -> str | None:
    """The site of a tab's URL; None for anything that is not an http(s) page with a site
    (chrome://, about:blank, file:, IP addresses, single-label hosts)."""
    from .vendors import site_of

    try:
        parts = urlsplit(url.strip())
        host = parts.hostname
    except ValueError:
        return None
    if parts.scheme.lower() not in ("http", "https") or not host:
        return None
    return site_of(host)


def _entries(snapshot: Mapping | None, section: str) -> list[Mapping]:
    if not snapshot:
        return []
    return list((snapshot.get(section) or {}).get("top") or [])


def _counter(entry: Mapping, name: str) -> int:
    value = (entry.get("detail") or {}).get(name)
    return value if isinstance(value, int) and not isinstance(value, bool) else 0


def site_state(site: str | None, settings: Any = None, alias: str | None = None,
               observations: Mapping | None = None, leaks: int = 0) -> dict:
    """The body of `GET /api/v1/site` (see the contract), from a site's settings, its active alias
    and its live counters (`Observations.snapshot` shape)."""
    third_parties = [
        {"domain": entry.get("subject"), "company": (entry.get("detail") or {}).get("owner"),
         "blocked": _counter(entry, "blocked"), "allowed": _counter(entry, "allowed")}
        for entry in _entries(observations, "third_parties")
    ]
    cookies = _entries(observations, "cookies")
    return {
        "site": site,
        "protection": None if site is None else not settings.paused,
        "blocked": {"total": sum(tp["blocked"] for tp in third_parties), "third_parties": third_parties},
        "cookies": {"removed": sum(_counter(c, "blocked") for c in cookies),
                    "rewritten": sum(_counter(c, "shortened") for c in cookies)},
        "parameters_stripped": sum(int(p.get("count") or 0) for p in _entries(observations, "parameters")),
        "leaks": leaks,
        "alias": alias,
        "settings": None if site is None else {
            "paused": settings.paused,
            "cookie_mode": None if settings.cookie_mode is None else str(settings.cookie_mode),
            "allowed_third_parties": sorted(settings.allowed_third_parties),
        },
    }


# -- the request handler ------------------------------------------------------------------------


@dataclass(frozen=True)
class Request:
    method: str
    path: str
    query: str
    headers: Headers
    body: bytes

    def all(self, name: str) -> list[str]:
        return [value for key, value in self.headers if key.lower() == name]

    def one(self, name: str) -> str | None:
        """The header's value; `Refused` (400) when it is there twice (which one would count?)."""
        values = self.all(name)
        if len(values) > 1:
            raise Refused(400, f"more than one {name} header", f"repeated {name} header")
        return values[0].strip() if values else None


@dataclass(frozen=True)
class Route:
    method: str
    action: str  # ControlAPI method name
    authenticated: bool = True


ROUTES: dict[str, Route] = {
    f"{API_PREFIX}/ping": Route("GET", "_ping", authenticated=False),
    f"{API_PREFIX}/pair": Route("POST", "_pair", authenticated=False),
    f"{API_PREFIX}/site": Route("GET", "_site"),
    f"{API_PREFIX}/vendor": Route("GET", "_vendor"),
    f"{API_PREFIX}/site/protection": Route("POST", "_protection"),
    f"{API_PREFIX}/site/cookies": Route("POST", "_cookies"),
    f"{API_PREFIX}/site/third-party": Route("POST", "_third_party"),
    f"{API_PREFIX}/site/alias": Route("POST", "_alias"),
}


def _json_body(data: Any) -> bytes:
    return json.dumps(data, ensure_ascii=False, separators=(",", ":"), default=str).encode("utf-8")


def etag_of(body: bytes) -> str:
    return '"' + hashlib.sha256(body).hexdigest()[:32] + '"'


def _matches(if_none_match: str | None, etag: str) -> bool:
    if not if_none_match:
        return False
    tags = [t.strip() for t in if_none_match.split(",")]
    return any(t == "*" or t.removeprefix("W/") == etag for t in tags)


def _printable(text: str, limit: int = 100) -> str:
    return repr(text[:limit])


class ControlAPI:
    """The request handler; `port` is the one the server listens on (the Host check needs it)."""

    def __init__(self, sites: SiteBackend, tokens: TokenStore, *, port: int,
                 observations: Callable[[str], Mapping | None] | None = None,
                 leaks: Callable[[str], int] | None = None, version: str | None = None) -> None:
        from . import __version__

        self.sites, self.tokens, self.port = sites, tokens, port
        self.observations = observations or (lambda site: None)
        self.leaks = leaks or (lambda site: 0)
        self.version = version or __version__
        self.refusals: Counter[str] = Counter()
        self._lock = threading.Lock()

    @property
    def allowed_hosts(self) -> frozenset[str]:
        return frozenset({f"127.0.0.1:{self.port}", f"localhost:{self.port}"})

    def handle(self, method: str, target: str, headers: Headers, body: bytes = b"") -> Response:
        """Answer one request (never raises)."""
        parts = urlsplit(target) if target.startswith("/") else None
        request = Request(method.upper(), parts.path if parts else target, parts.query if parts else "",
                          headers, body)
        try:
            return self._dispatch(request, parts is not None)
        except Refused as refused:
            return self.refuse(request, refused)
        except InputError as exc:
            return self.refuse(request, Refused(400, str(exc), "bad input"))
        except NotFoundError as exc:
            return self.refuse(request, Refused(404, str(exc), "not found"))
        except AliasesNotSetUp as exc:
            return self.refuse(request, Refused(409, str(exc), "aliases not set up"))
        except WhoknowsError as exc:
            logger.error(f"whoknows control API: {request.method} {request.path} failed: {exc}")
            return self.refuse(request, Refused(500, str(exc), "server error"))
        except Exception as exc:  # noqa: BLE001 -- a bug: the client gets one line, the log the rest
            logger.exception(f"whoknows control API: {request.method} {request.path} failed")
            return self.refuse(request, Refused(500, f"internal error ({type(exc).__name__})", "bug"))

    def refuse(self, request: Request | None, refused: Refused) -> Response:
        """An error answer, counted and logged (the first of each reason as a warning)."""
        with self._lock:
            self.refusals[refused.reason] += 1
            first = self.refusals[refused.reason] == 1
        method, path = (request.method, request.path) if request else ("?", "?")
        origin = next((v for k, v in request.headers if k.lower() == "origin"), None) if request else None
        where = f" (Origin {_printable(origin)})" if origin is not None else ""
        logger.log(logging.WARNING if first else logging.INFO,
                   f"whoknows control API refused {method} {_printable(path, 200)[1:-1]}{where}: "
                   f"{refused.status} {refused.reason}")
        return self._answer(refused.status, {"error": refused.message}, refused.headers)

    def _answer(self, status: int, data: Any, extra: Sequence[tuple[str, str]] = ()) -> Response:
        return Response(status, [*BASE_HEADERS, *extra], _json_body(data))

    # -- the door --

    def _dispatch(self, request: Request, origin_form: bool) -> Response:
        self._check_host(request)
        self._check_origin(request)
        if not origin_form:
            raise Refused(400, "the request target must be a path (/api/v1/...)", "bad request target")
        route = ROUTES.get(request.path)
        if route is None:
            raise Refused(404, f"no such endpoint; the API is under {API_PREFIX}/", "unknown path")
        if request.method != route.method:
            raise Refused(405, f"{request.path} takes {route.method} only", "wrong method",
                          [("allow", route.method)])
        if route.authenticated and not self.tokens.check(self._bearer(request)):
            raise Refused(401, "this browser is not paired with whoknows (or its token was revoked): "
                               "pair it in the extension's options", "no or bad token",
                          [("www-authenticate", 'Bearer realm="whoknows"')])
        payload = self._payload(request) if route.method == "POST" else None
        return getattr(self, route.action)(request, payload)

    def _check_host(self, request: Request) -> None:
        host = request.one("host")
        if host is None or host.lower() not in self.allowed_hosts:
            raise Refused(421, f"this is the whoknows control API; address it as 127.0.0.1:{self.port}",
                          "foreign Host header")

    def _check_origin(self, request: Request) -> None:
        origin = request.one("origin")
        if origin is not None:
            scheme = origin.partition("://")[0].lower() if "://" in origin else ""
            if scheme not in EXTENSION_SCHEMES:
                raise Refused(403, "web pages may not use the whoknows control API", "web page origin")
            return
        site = (request.one("sec-fetch-site") or "").lower()
        destination = (request.one("sec-fetch-dest") or "empty").lower()
        if site in _WEB_FETCH_SITES and destination != "empty":
            raise Refused(403, "web pages may not use the whoknows control API", "web page subresource")

    @staticmethod
    def _bearer(request: Request) -> str | None:
        value = request.one("authorization")
        if value is None:
            return None
        scheme, _, token = value.partition(" ")
        return token.strip() if scheme.lower() == "bearer" and token.strip() else None

    @staticmethod
    def _payload(request: Request) -> dict:
        content_type = (request.one("content-type") or "").partition(";")[0].strip().lower()
        if content_type != "application/json":
            raise Refused(415, "writes take a JSON object (Content-Type: application/json)",
                          "not a JSON request")
        if len(request.body) > MAX_BODY_BYTES:
            raise Refused(413, f"the body is larger than {MAX_BODY_BYTES} bytes", "body too large")
        try:
            data = json.loads(request.body.decode("utf-8"))
        except (UnicodeDecodeError, ValueError):
            raise Refused(400, "the body is not JSON (UTF-8)", "bad JSON") from None
        if not isinstance(data, dict):
            raise Refused(400, "the body must be a JSON object", "bad JSON")
        return data

    # -- endpoints --

    def _ping(self, request: Request, payload: None) -> Response:
        presented = self._bearer(request)
        return self._answer(200, {"whoknows": self.version,
                                  "paired": presented is not None and self.tokens.check(presented)})

    def _pair(self, request: Request, payload: dict) -> Response:
        code = _fields(payload, {"code": str})["code"]
        return self._answer(200, {"token": self.tokens.pair(code)})

    def _site(self, request: Request, payload: None) -> Response:
        query = _query(request, {"url", "site"})
        if ("url" in query) == ("site" in query):
            raise InputError("give exactly one of url=<the tab's URL> or site=<domain>")
        if "site" in query:
            from .vendors import normalise_vendor

            site = normalise_vendor(query["site"])
        else:
            site = site_for_url(query["url"])
        return self._state(request, site)

    def _state(self, request: Request, site: str | None) -> Response:
        if site is None:
            body = _json_body(site_state(None))
        else:
            settings, alias = self.sites.view(site)
            body = _json_body(site_state(site, settings, alias, self.observations(site), self.leaks(site)))
        etag = etag_of(body)
        if request.method == "GET" and _matches(request.one("if-none-match"), etag):
            return Response(304, [*BASE_HEADERS[1:], ("etag", etag)], b"")
        return Response(200, [*BASE_HEADERS, ("etag", etag)], body)

    def _vendor(self, request: Request, payload: None) -> Response:
        from .vendors import normalise_vendor

        query = _query(request, {"site"})
        if "site" not in query:
            raise InputError("give site=<domain>")
        return self._answer(200, self.sites.vendor(normalise_vendor(query["site"])))

    def _protection(self, request: Request, payload: dict) -> Response:
        fields = _fields(payload, {"site": str, "paused": bool})
        return self._state(request, self.sites.set_paused(fields["site"], fields["paused"]))

    def _cookies(self, request: Request, payload: dict) -> Response:
        fields = _fields(payload, {"site": str, "mode": (str, type(None))})
        return self._state(request, self.sites.set_cookie_mode(fields["site"], fields["mode"]))

    def _third_party(self, request: Request, payload: dict) -> Response:
        fields = _fields(payload, {"site": str, "other": str, "allowed": bool})
        change = self.sites.allow_third_party if fields["allowed"] else self.sites.disallow_third_party
        site, _ = change(fields["site"], fields["other"])
        return self._state(request, site)

    def _alias(self, request: Request, payload: dict) -> Response:
        from .vendors import normalise_vendor

        site = normalise_vendor(_fields(payload, {"site": str})["site"])
        return self._answer(200, {"alias": self.sites.make_alias(site)})


def _type_name(kind: type | tuple) -> str:
    kinds = kind if isinstance(kind, tuple) else (kind,)
    names = {str: "a string", bool: "true or false", type(None): "null"}
    return " or ".join(names.get(k, k.__name__) for k in kinds)


def _fields(payload: dict, wanted: Mapping[str, type | tuple]) -> dict:
    """Exactly the `wanted` fields, each of its type; InputError naming what is wrong."""
    unknown = sorted(set(payload) - set(wanted))
    if unknown:
        raise InputError(f"unknown field(s) {', '.join(unknown)}; expected {', '.join(wanted)}")
    for name, kind in wanted.items():
        if name not in payload:
            raise InputError(f"missing field {name!r} ({_type_name(kind)})")
        value = payload[name]
        kinds = kind if isinstance(kind, tuple) else (kind,)
        # bool is an int in Python: compare types exactly.
        if type(value) not in kinds:
            raise InputError(f"field {name!r} must be {_type_name(kind)}")
    return {name: payload[name] for name in wanted}


def _query(request: Request, allowed: set[str]) -> dict[str, str]:
    try:
        pairs = parse_qsl(request.query, keep_blank_values=True, strict_parsing=False,
                          max_num_fields=len(allowed) + 4)
    except ValueError:
        raise InputError("too many query parameters") from None
    names = [name for name, _ in pairs]
    unknown = sorted(set(names) - allowed)
    if unknown:
        raise InputError(f"unknown query parameter(s) {', '.join(unknown)}")
    if len(names) != len(set(names)):
        raise InputError("a query parameter is repeated")
    return dict(pairs)


__all__ = [
    "API_PREFIX", "DEFAULT_PORT", "ControlAPI", "LedgerSites", "PairingCode", "Refused", "Response",
    "TokenStore", "new_pairing_code", "ping", "read_address", "site_state",
]
