"""The control API's request handler: its security rules and its routes (v1, docs/control-api.md).

`ControlAPI.handle(method, target, headers, body) -> Response(status, headers, body)` is the whole
request handling as a plain function over injected parts, so every rule is tested without sockets:
- `sites` (a `SiteBackend`, normally `LedgerSites`): site settings read and written, aliases,
  vendor records, the company view's picture;
- `observations`: a site's live counters (`whoknows.observations.Observations.snapshot` shape,
  each third party's learned status with them), or None when nothing observes;
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
"""

from __future__ import annotations

import hashlib
import json
import logging
import threading
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from .. import __version__
from ..errors import InputError, NotFoundError, WhoknowsError
from ..sites import normalise_vendor
from .pairing import TokenStore
from .protocol import API_PREFIX, BASE_HEADERS, MAX_BODY_BYTES, Headers, Refused, Response
from .ledger_sites import AliasesNotSetUp, SiteBackend, site_for_url, site_state

logger = logging.getLogger("whoknows.control")

EXTENSION_SCHEMES = frozenset({"chrome-extension", "moz-extension", "safari-web-extension"})
_WEB_FETCH_SITES = frozenset({"cross-site", "same-site"})


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
    f"{API_PREFIX}/companies": Route("GET", "_companies"),
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
                 leaks: Callable[[str], int] | None = None, version: str | None = None,
                 prevented: Callable[[str], int] | None = None) -> None:
        self.sites, self.tokens, self.port = sites, tokens, port
        self.observations = observations or (lambda site: None)
        self.leaks = leaks or (lambda site: 0)
        self.prevented = prevented or (lambda site: 0)
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
            site = normalise_vendor(query["site"])
        else:
            site = site_for_url(query["url"])
        return self._state(request, site)

    def _state(self, request: Request, site: str | None) -> Response:
        if site is None:
            body = _json_body(site_state(None))
        else:
            settings, alias, terms = self.sites.view(site)
            body = _json_body(site_state(site, settings, alias, self.observations(site), self.leaks(site),
                                         self.prevented(site), terms))
        etag = etag_of(body)
        if request.method == "GET" and _matches(request.one("if-none-match"), etag):
            return Response(304, [*BASE_HEADERS[1:], ("etag", etag)], b"")
        return Response(200, [*BASE_HEADERS, ("etag", etag)], body)

    def _vendor(self, request: Request, payload: None) -> Response:
        query = _query(request, {"site"})
        if "site" not in query:
            raise InputError("give site=<domain>")
        return self._answer(200, self.sites.vendor(normalise_vendor(query["site"])))

    def _companies(self, request: Request, payload: None) -> Response:
        _query(request, set())
        return self._answer(200, self.sites.companies())

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
