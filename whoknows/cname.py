"""CNAME uncloaking: a first-party subdomain that is an alias of a tracker's host is judged as that host.

A site can hand a subdomain of its own to a tracker: `metrics.shop.example` is a DNS alias (CNAME) of
`shop.example.tracker-cdn.net`. The browser, and any list matching host names, sees a first-party
request; the data goes to the tracker, with the site's first-party cookies. uBlock Origin on
Firefox asks the browser's DNS for the canonical name and matches the request again under it. A
proxy can do the same with its own DNS queries (`CnameResolver`, dnspython's asyncio resolver): the
query is for a host the browser asked for, made to serve that request, as mitmproxy's own
resolution of the host is.

Which requests are uncloaked (`should_uncloak`): those to a strict subdomain of the page's own site
(`metrics.shop.example` on a `shop.example` page), not the page itself. Third-party requests are
judged under their own name already, and uncloaking every host would add a DNS round trip to every
new host (uBO uncloaks every request, but it reads the browser's DNS cache, which is free).

What uBlock Origin's rules become here (its `cnameIgnore*` advanced settings, at their defaults):
- `cnameIgnore1stParty`: a canonical name in the request's own site is not a cloak (a CDN setup
  inside one company); only names in another site are matched (`names_to_check`);
- `cnameIgnoreExceptions`: a request an exception filter let through is not uncloaked (`uncloak`
  is given the first decision and only acts on a plain allow);
- `cnameIgnoreRootDocument`: a top-level page is never uncloaked (`should_uncloak`);
- `cnameReplayFullURL` off: the request is matched again as `scheme://CANONICAL[:port]/`, without
  its path and query (`uncloaked_url`), so host filters (`||tracker-cdn.net^`) match and path
  filters written for the tracker's own URLs do not fire on the site's paths;
- `cnameMaxTTL` (2 hours): no answer is kept longer than `MAX_TTL`, whatever its TTL says.
Beyond uBO: every name of the chain is matched, in order, not only the last one (as Brave does): a
chain `metrics.shop.example -> shop.tracker.net -> edge.cdn.net` is caught by `||tracker.net^`.
A canonical name whose site the page allows as a third party (`whoknows site allow-3p PAGE SITE`)
is not matched. uBO's `$cname` exception option is honoured as uBO does: `@@||example.com^$cname`
(uBO's unbreak list has a few dozen) matches the page's URL, and requests on such a page are not
blocked for what their canonical names are, unless the block is `important` (`exemption`).

Resolution (`CnameResolver`): one `A` query for the host; the CNAME records of the answer are
followed, and when the answer stops at an alias without its records (a resolver that does not
chase), the last name is queried in turn. The walk stops at a loop (a name seen before), after
`MAX_CHAIN` aliases, or at `timeout` seconds for the whole walk: then the request goes on
undecided (no canonical names), and the failure is remembered for `FAILURE_TTL` seconds so that
a dead name server does not make every request wait. Answers are kept for the smallest TTL of the
chain (at most `MAX_TTL`), NXDOMAIN and empty answers for `NEGATIVE_TTL`, in a bounded cache
(`CACHE_SIZE` hosts, the least recently stored dropped first). Concurrent requests for one host share
one walk.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable
from collections.abc import Callable
from collections.abc import Iterable
from dataclasses import dataclass

from .errors import InputError
from .filters import Decision
from .filters import FilterEngine
from .sites import site_of

MAX_CHAIN = 8  # aliases followed at most; real chains have 1 to 3
DEFAULT_TIMEOUT = 1.0  # seconds for the whole walk
MAX_TTL = 7200.0  # uBO's cnameMaxTTL: 120 minutes
NEGATIVE_TTL = 300.0  # no such name, or no alias
FAILURE_TTL = 30.0  # timeout or server failure: undecided, without waiting again for this long
CACHE_SIZE = 4096
DNS_PORT = 53
BLOCKING_ACTIONS = frozenset({"block", "redirect"})
_PAGE_TYPES = frozenset({"document", "main_frame"})


@dataclass(frozen=True, slots=True)
class Chain:
    """What one host is an alias of: `names` in chain order (empty: not an alias)."""

    names: tuple[str, ...]
    ttl: float  # seconds the answer may be kept
    complete: bool = True  # False: the walk failed (timeout, server error); names may be partial
    stopped: str | None = None  # why the walk stopped early: "loop" or "depth"


@dataclass(frozen=True, slots=True)
class Uncloaked:
    """A request blocked under one of its canonical names."""

    decision: Decision
    canonical_name: str


# A step of the walk: the CNAME links an answer for `name` held (owner -> (target, ttl)), whether
# it ended the chain (an address or no such name), and the TTL of what ended it.
Links = dict[str, tuple[str, float]]
Lookup = Callable[[str], Awaitable[tuple[Links, bool, float]]]


def should_uncloak(host: str, request_site: str | None, page_site: str | None, type: str) -> bool:
    """The request goes to a strict subdomain of the page's own site, and is not the page itself."""
    if not host or request_site is None or request_site != page_site or type in _PAGE_TYPES:
        return False
    host = host.lower().rstrip(".")
    return host != request_site and host.endswith("." + request_site)


def names_to_check(host: str, names: Iterable[str], allowed_sites: Iterable[str] = ()) -> tuple[str, ...]:
    """The canonical names to match: those in another site than the host's (uBO's
    cnameIgnore1stParty) and not in a site the page allows as a third party."""
    own = site_of(host) or host
    allowed = frozenset(allowed_sites)
    out = []
    for name in names:
        site = site_of(name) or name
        if site != own and site not in allowed:
            out.append(name)
    return tuple(out)


def uncloaked_url(url: str, host: str, name: str) -> str:
    """`url` with its host replaced by `name`, cut after the authority (uBO's default replay):
    `https://metrics.shop.example:8443/p?id=1` -> `https://shop.tracker.net:8443/`."""
    scheme_end = url.find("://")
    start = url.lower().find(host.lower(), scheme_end + 3 if scheme_end >= 0 else 0)
    if start < 0:
        return url
    end = start + len(host)
    path = url.find("/", end)
    query = url.find("?", end)
    cut = min((at for at in (path, query, url.find("#", end)) if at >= 0), default=len(url))
    return url[:start] + name + url[end:cut] + "/"


def uncloak(first: Decision, engine: FilterEngine, url: str, host: str, canonical_names: Iterable[str],
            type: str, source: str | None, allowed_sites: Iterable[str] = ()) -> Uncloaked | None:
    """The decision under the first canonical name a block filter matches; None when the request
    stands as `first` decided (it was already blocked, an exception let it through, no name is
    blocked, or the page is exempt: `exemption`). The party is worked out from the new host."""
    if first.action != "allow":
        return None
    for name in names_to_check(host, canonical_names, allowed_sites):
        decision = engine.match(uncloaked_url(url, host, name), type, source, None)
        if decision.action in BLOCKING_ACTIONS:
            if not decision.important and exemption(engine, source) is not None:
                return None
            return Uncloaked(decision, name)
    return None


def exemption(engine: FilterEngine, page: str | None) -> str | None:
    """The `$cname` exception filter that exempts the page `page` (its URL or origin) from blocks
    found by uncloaking, as uBO matches it (`@@||example.com^$cname`: the page's URL is matched as
    a request of type `cname`); None if there is none. `important` blocks are not exempt."""
    if not page:
        return None
    for role, text, _ in engine.explain(page, "cname", page):
        if role == "exception":
            return text
    return None


async def walk_chain(host: str, lookup: Lookup, max_chain: int = MAX_CHAIN) -> Chain:
    """Follow `host`'s aliases with `lookup` (one DNS query a call); see the module docstring."""
    names: list[str] = []
    seen = {host}
    ttl = MAX_TTL
    current = host
    links, ended, end_ttl = await lookup(current)
    while True:
        link = links.get(current)
        if link is None:
            if ended or not names:
                return Chain(tuple(names), min(ttl, end_ttl))
            # The answer stopped at an alias without its records: ask for that name itself.
            links, ended, end_ttl = await lookup(current)
            if current not in links:
                return Chain(tuple(names), min(ttl, end_ttl))
            continue
        target, link_ttl = link
        ttl = min(ttl, link_ttl)
        if target in seen:
            return Chain(tuple(names), ttl, stopped="loop")
        if len(names) >= max_chain:
            return Chain(tuple(names), ttl, stopped="depth")
        names.append(target)
        seen.add(target)
        current = target


def parse_name_server(text: str) -> tuple[str, int] | None:
    """`IP`, `IP:PORT` or `[IPv6]:PORT` -> (address, port); '' or `system` -> None (the system's
    resolvers). Raises InputError with a one-line reason."""
    import ipaddress

    text = text.strip()
    if text.lower() in ("", "system"):
        return None
    address, port = text, DNS_PORT
    if text.startswith("["):
        address, _, rest = text[1:].partition("]")
        if rest:
            if not rest.startswith(":"):
                raise InputError(f"name server {text!r}: expected [IPv6]:PORT")
            port = _port(text, rest[1:])
    elif text.count(":") == 1:
        address, _, number = text.partition(":")
        port = _port(text, number)
    try:
        ipaddress.ip_address(address)
    except ValueError:
        raise InputError(f"name server {text!r} is not an IP address (IP, IP:PORT or [IPv6]:PORT; "
                         "empty for the system's resolvers)") from None
    return address, port


def _port(text: str, number: str) -> int:
    if not number.isdigit() or not 0 < int(number) < 65536:
        raise InputError(f"name server {text!r}: the port must be a number from 1 to 65535")
    return int(number)


def parse_timeout(text: str) -> float:
    """Seconds, more than 0 and at most 30."""
    try:
        seconds = float(text)
    except ValueError:
        seconds = -1.0
    if not 0 < seconds <= 30:
        raise InputError(f"DNS timeout must be a number of seconds above 0 and at most 30, got {text!r}")
    return seconds


class ChainCache:
    """Chains by host until their TTL runs out; at most `size` hosts (the oldest stored go first)."""

    def __init__(self, size: int = CACHE_SIZE, clock: Callable[[], float] = time.monotonic) -> None:
        self.size = size
        self.clock = clock
        self._entries: dict[str, tuple[float, Chain]] = {}

    def __len__(self) -> int:
        return len(self._entries)

    def get(self, host: str) -> Chain | None:
        entry = self._entries.get(host)
        if entry is None:
            return None
        expires, chain = entry
        if self.clock() >= expires:
            del self._entries[host]
            return None
        return chain

    def put(self, host: str, chain: Chain, ttl: float) -> None:
        if ttl <= 0:
            self._entries.pop(host, None)
            return
        entries = self._entries
        entries.pop(host, None)
        if len(entries) >= self.size:
            now = self.clock()
            for key in [key for key, (expires, _) in entries.items() if expires <= now]:
                del entries[key]
            while len(entries) >= self.size:
                del entries[next(iter(entries))]
        entries[host] = (self.clock() + min(ttl, MAX_TTL), chain)


class CnameResolver:
    """Canonical names of hosts, from DNS, cached; never raises, never waits beyond `timeout`.

    `name_server`: (address, port), or None for the system's resolvers (`/etc/resolv.conf`; read
    when the resolver is made: `InputError` if there is none)."""

    def __init__(self, name_server: tuple[str, int] | None = None, timeout: float = DEFAULT_TIMEOUT,
                 cache: ChainCache | None = None) -> None:
        import dns.asyncresolver
        import dns.resolver

        try:
            resolver = dns.asyncresolver.Resolver(configure=name_server is None)
        except dns.resolver.NoResolverConfiguration as exc:
            raise InputError(f"no system name server to resolve CNAMEs with ({exc}); "
                             "set one (IP or IP:PORT)") from None
        if name_server is not None:
            resolver.nameservers = [name_server[0]]
            resolver.port = name_server[1]
        resolver.cache = None  # ours keeps the walk's result, with the chain's smallest TTL
        self._resolver = resolver
        self.timeout = timeout
        self.cache = cache if cache is not None else ChainCache()
        self._walking: dict[str, asyncio.Future] = {}
        self.queries = 0  # DNS queries sent (for tests and the silence check)

    def cached(self, host: str) -> Chain | None:
        """`host`'s chain if the cache has it (no waiting), else None."""
        return self.cache.get(host.lower().rstrip("."))

    async def chain(self, host: str) -> Chain:
        """`host`'s chain: from the cache, from a walk in progress, or from a new walk."""
        host = host.lower().rstrip(".")
        cached = self.cache.get(host)
        if cached is not None:
            return cached
        walking = self._walking.get(host)
        if walking is None:
            walking = self._walking[host] = asyncio.ensure_future(self._walk(host))
        # shield: a request that gives up must not cancel the walk other requests wait for
        return await asyncio.shield(walking)

    async def _walk(self, host: str) -> Chain:
        try:
            async with asyncio.timeout(self.timeout):
                chain = await walk_chain(host, self._lookup)
        except Exception:  # noqa: BLE001 -- timeout, refused, malformed: undecided, never an error
            chain = Chain((), FAILURE_TTL, complete=False)
        finally:
            self._walking.pop(host, None)
        self.cache.put(host, chain, chain.ttl)
        return chain

    async def _lookup(self, name: str) -> tuple[Links, bool, float]:
        import dns.resolver

        self.queries += 1
        try:
            answer = await self._resolver.resolve(name, "A", raise_on_no_answer=False, search=False,
                                                  lifetime=self.timeout)
        except dns.resolver.NXDOMAIN as exc:
            links: Links = {}
            for response in exc.responses().values():
                links.update(_links(response))
            return links, True, NEGATIVE_TTL
        ended = answer.rrset is not None
        return _links(answer.response), ended, float(answer.rrset.ttl) if ended else NEGATIVE_TTL


def _links(response) -> Links:
    import dns.rdatatype

    links: Links = {}
    for rrset in response.answer:
        if rrset.rdtype == dns.rdatatype.CNAME and len(rrset):
            owner = rrset.name.to_text(omit_final_dot=True).lower()
            target = rrset[0].target.to_text(omit_final_dot=True).lower()
            links[owner] = (target, float(rrset.ttl))
    return links
