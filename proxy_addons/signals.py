"""Privacy signals on every request: Global Privacy Control, Do Not Track, and a shorter Referer.

- `Sec-GPC: 1` always (GPC is a legal opt-out signal in several jurisdictions).
- `DNT: 1` unless `whoknows_dnt` is off.
- Referer (`whoknows_referer`): "trim" (default) cuts a cross-site Referer to the origin of the page
  (sites are registrable domains, `whoknows.sites.site_of`) and drops it on requests the blocking
  addon marked as tracker requests (`flow.metadata["whoknows.tracker"]`); "strip" drops every
  cross-site Referer; "keep" leaves it alone. Same-site Referers are never touched.

Requests the proxy answers itself (a response is already set) are left alone. In the addon chain
this comes after the blocking addon, so that the tracker mark is there when this runs. At
`requestheaders`, before a streamed request's headers leave (`proxy_addons.streaming`).
"""

from __future__ import annotations

import functools
from urllib.parse import urlsplit

from mitmproxy import ctx
from mitmproxy import exceptions
from mitmproxy import http

from proxy_addons.mitmproxy_shortcuts import folded_value
from proxy_addons.mitmproxy_shortcuts import with_fields_set
from whoknows.sites import site_of

TRACKER_KEY = "whoknows.tracker"
REFERER_POLICIES = ("trim", "strip", "keep")


def referer_origin(referer: str) -> str | None:
    """`scheme://host[:port]/` of a Referer, or None if it is not an http(s) URL."""
    try:
        parts = urlsplit(referer.strip())
        host, port = parts.hostname, parts.port
    except ValueError:
        return None
    if parts.scheme not in ("http", "https") or not host:
        return None
    if ":" in host:
        host = f"[{host}]"
    default_port = 443 if parts.scheme == "https" else 80
    netloc = host if port in (None, default_port) else f"{host}:{port}"
    return f"{parts.scheme}://{netloc}/"


def same_site(host_a: str, host_b: str) -> bool:
    """Same registrable domain; hosts without one (IP addresses, single labels) must be equal."""
    host_a, host_b = host_a.lower().rstrip("."), host_b.lower().rstrip(".")
    if host_a == host_b:
        return True
    site_a = site_of(host_a)
    return site_a is not None and site_a == site_of(host_b)


def referer_for(referer: str, request_host: str, policy: str, to_tracker: bool) -> str | None:
    """The Referer to send instead of `referer` (None: send none) for a request to `request_host`."""
    if policy == "keep":
        return referer
    if to_tracker and policy == "trim":
        return None
    origin = referer_origin(referer)
    if origin is None:
        return None  # not a URL a browser would send: nothing worth leaking
    referer_host = urlsplit(origin).hostname or ""
    if same_site(referer_host, request_host):
        return referer
    return origin if policy == "trim" else None


class Signals:
    name = "whoknows_signals"

    def load(self, loader) -> None:
        loader.add_option("whoknows_dnt", bool, True,
                          "Send 'DNT: 1' (Do Not Track) with every request, besides 'Sec-GPC: 1'.")
        loader.add_option("whoknows_referer", str, "trim",
                          "Referer policy: 'trim' cuts cross-site Referers to the page's origin and "
                          "drops them on tracker requests; 'strip' drops every cross-site Referer; "
                          "'keep' leaves Referers alone.",
                          choices=REFERER_POLICIES)

    def configure(self, updated: set[str]) -> None:
        if "whoknows_referer" in updated and ctx.options.whoknows_referer not in REFERER_POLICIES:
            raise exceptions.OptionsError(
                f"whoknows_referer must be one of {', '.join(REFERER_POLICIES)}; "
                f"got {ctx.options.whoknows_referer!r}")

    def requestheaders(self, flow: http.HTTPFlow) -> None:
        # requestheaders, not request: a streamed request's headers leave right after this hook.
        if flow.response is not None:
            return
        # Why (speed only): mitmproxy's `Headers` decodes every field on each get/set/del; here the
        # raw fields are read once and written once, with `Headers.__setitem__`'s results.
        headers = flow.request.headers
        fields = headers.fields
        values: dict[bytes, bytes | None] = {b"sec-gpc": b"1"}
        if ctx.options.whoknows_dnt:
            values[b"dnt"] = b"1"
        referer = folded_value(fields, b"referer")
        if referer is not None:
            new = _cached_referer_for(referer, flow.request.host, ctx.options.whoknows_referer,
                                      bool(flow.metadata.get(TRACKER_KEY)))
            if new is None:
                values[b"referer"] = None
            elif new != referer:
                values[b"referer"] = new.encode("utf-8", "surrogateescape")
        headers.fields = with_fields_set(fields, values)


# Why (speed only): a page's requests repeat its Referer; the answer depends only on the arguments
# (site_of is a fixed function of the host). Long Referers are not worth a cache slot.
_referer_for_cached = functools.lru_cache(maxsize=4096)(referer_for)


def _cached_referer_for(referer: str, request_host: str, policy: str, to_tracker: bool) -> str | None:
    if len(referer) > 512:
        return referer_for(referer, request_host, policy, to_tracker)
    return _referer_for_cached(referer, request_host, policy, to_tracker)
