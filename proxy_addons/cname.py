"""CNAME uncloaking: find out what a first-party subdomain is an alias of, before the blocking addon decides.

In `requestheaders`, right after `context`: for a request to a strict subdomain of the page's own
site (`whoknows.cname.should_uncloak`; not the page itself, not a paused site), the proxy walks the
host's CNAME chain with dnspython's asyncio resolver (`whoknows.cname.CnameResolver`: on the event
loop, never blocking it; cached by TTL) and stores the canonical names in
`flow.metadata[flow_state.CANONICAL_NAMES]`. The blocking addon then matches
the request under those names too (`whoknows.cname.uncloak`). Other requests pass straight through
this hook: no DNS query, no wait. A walk that takes longer than `whoknows_dns_timeout` seconds ends
and the request goes on undecided (matched under its own name only).

Options:
- `whoknows_cname_uncloak` (default on): off skips all of this;
- `whoknows_dns_server`: the name server to ask, `IP`, `IP:PORT` or `[IPv6]:PORT`; empty (the
  default) for the system's resolvers (`/etc/resolv.conf`). A system with none logs one error and
  runs without uncloaking;
- `whoknows_dns_timeout`: seconds for a whole chain (default 1).

Through another proxy (`--set mode=upstream:URL`, e.g. towards Tor or a company proxy) the proxy
does not resolve hosts itself, and a DNS query of its own would leak what the upstream is meant to
hide: uncloaking is then off (uBlock Origin does the same when the browser is proxied), said once
in the log.

Network: these queries are the only network traffic of the proxy besides what its clients ask for,
and they are for names its clients asked for (the browser has just asked for this host; mitmproxy
resolves it next to connect). They go to the configured or system name server only.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable

from mitmproxy import ctx
from mitmproxy import exceptions
from mitmproxy import http

from proxy_addons import flow_state
from proxy_addons.context import ensure_context
from proxy_addons.safety import observer
from whoknows.cname import DEFAULT_TIMEOUT
from whoknows.cname import CnameResolver
from whoknows.cname import parse_name_server
from whoknows.cname import parse_timeout
from whoknows.cname import should_uncloak
from whoknows.errors import InputError

logger = logging.getLogger("whoknows.proxy")

CANONICAL_NAMES_KEY = flow_state.CANONICAL_NAMES
ENABLED_OPTION = "whoknows_cname_uncloak"
SERVER_OPTION = "whoknows_dns_server"
TIMEOUT_OPTION = "whoknows_dns_timeout"


class Cname:
    name = "whoknows_cname"

    def __init__(self) -> None:
        self.resolver: CnameResolver | None = None
        self._settings: tuple[bool, tuple[str, int] | None, float] = (True, None, DEFAULT_TIMEOUT)

    def load(self, loader) -> None:
        loader.add_option(ENABLED_OPTION, bool, True,
                          "Match a first-party subdomain that is a DNS alias (CNAME) of another site's "
                          "host against the filter lists under that host's name too.")
        loader.add_option(SERVER_OPTION, str, "",
                          "The name server CNAME uncloaking asks (IP, IP:PORT or [IPv6]:PORT); empty for "
                          "the system's resolvers.")
        loader.add_option(TIMEOUT_OPTION, str, f"{DEFAULT_TIMEOUT:g}",  # --set parses no floats
                          "Seconds CNAME uncloaking waits for a host's whole chain; after that the "
                          "request goes on, matched under its own name only.")

    def configure(self, updated: set[str]) -> None:
        if not updated & {ENABLED_OPTION, SERVER_OPTION, TIMEOUT_OPTION, "mode"}:
            return
        try:
            server = parse_name_server(getattr(ctx.options, SERVER_OPTION))
            timeout = parse_timeout(getattr(ctx.options, TIMEOUT_OPTION))
        except InputError as exc:
            raise exceptions.OptionsError(str(exc)) from None
        enabled = getattr(ctx.options, ENABLED_OPTION)
        upstream = [mode for mode in getattr(ctx.options, "mode", ()) or () if mode.startswith("upstream")]
        if enabled and upstream:
            logger.info(f"whoknows: CNAME uncloaking is off: requests go through another proxy ({upstream[0]}), "
                        "and a DNS query of the proxy's own would bypass it")
            enabled = False
        settings = (enabled, server, timeout)
        if settings == self._settings and self.resolver is not None:
            return
        self._settings = settings
        self.resolver = None
        if not enabled:
            return
        try:
            self.resolver = CnameResolver(server, timeout)
        except InputError as exc:
            logger.error(f"whoknows: CNAME uncloaking is off: {exc} ({SERVER_OPTION})")

    @observer
    def requestheaders(self, flow: http.HTTPFlow) -> Awaitable[None] | None:
        # Not an async hook (speed only): most requests need no look-up, and a chain known from the
        # cache needs no wait; only a walk returns something for mitmproxy to await.
        resolver = self.resolver
        if resolver is None or flow.response is not None:
            return None
        context = ensure_context(flow)
        host = flow.request.host
        if context.paused or not should_uncloak(host, context.request_site, context.page_site, context.type):
            return None
        chain = resolver.cached(host)
        if chain is None:
            return self._walk_then_note(flow, resolver, host)
        _note(flow, chain)
        return None

    @staticmethod
    async def _walk_then_note(flow: http.HTTPFlow, resolver: CnameResolver, host: str) -> None:
        _note(flow, await resolver.chain(host))


def _note(flow: http.HTTPFlow, chain) -> None:
    if chain.names:
        flow.metadata[CANONICAL_NAMES_KEY] = chain.names
