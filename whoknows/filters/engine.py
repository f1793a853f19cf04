"""The matcher: filter records indexed like uBlock Origin's static network filtering engine.

Plain `||host^` filters (four in five) are kept as just their host: one dict, ".host" -> the list
it came from (`parser.plain_host_record` makes the record again when one matches). Every other
record goes into one bucket of its category's index (block, important, exception, redirect,
removeparam...):
- `||host^`-style filters by host name; a request looks up each suffix of its host;
- other filters by their rarest *token* (a `[0-9a-z%]` run that must appear whole in any URL the
  filter matches), counted over all loaded filters; a request tokenizes its URL once and looks
  each of its tokens up;
- filters with no usable token but limited to some sites (`domain=`) by those sites;
- the few left (a dozen in EasyList + EasyPrivacy) in a fallback bucket per resource type.
A request therefore only tests the handful of filters that could match it, and most of those
with one substring search. For each suffix of the request's host the plain host filters come first,
then the other filters indexed by that suffix.

Precedence is uBlock Origin's: an `important` block beats an exception, an exception beats a
block; a redirect directive applies only to a request that ends up blocked; removeparam filters
clean the URL of a request that is not blocked. A page load (`document`) is judged from the page
itself: first party, and `domain=` names its own site.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass, field
from typing import Iterable, Sequence

from ..sites import site_of
from . import compiled, parser
from .compiled import no_gc
from .parser import (
    ALLOW, BLOCK, CAT, CATEGORY_COUNT, DOMAINS, EXTRA, F_MATCH_CASE, F_TAIL_RE, FLAGS, HOSTKEY,
    IMPORTANT, K_ANY, K_END, K_EXACT, K_HOST, K_HOSTLIT, K_HOSTRE, K_RE, K_REGEX, K_START, K_SUB,
    KIND, LIST, P_FIRST, P_STRICT_FIRST, P_STRICT_THIRD, P_THIRD, PARTY, PAT, PLAIN_HOST_TYPES, REDIRECT,
    NEEDLE, REDIRECT_ALLOW, REMOVEPARAM, REMOVEPARAM_ALLOW, REQUEST_TYPES, SIMPLE, T_DOCUMENT, T_OTHER,
    TAIL, TEXT, TO, TOKENS, TYPES, ascii_lower, plain_host_record,
)

_URL_TOKEN = re.compile(r"[0-9a-z%]+")
_NEVER = re.compile(r"(?!)")

# Tokens found in a large share of all URLs: a filter indexed by one of them would be tested on
# almost every request, so they are picked only when a filter has nothing better (uBO does the same).
_COMMON_URL_TOKENS = {
    "http": 10**6, "https": 10**6, "www": 10**6, "com": 10**6, "net": 10**5, "org": 10**5,
    "js": 10**5, "html": 10**5, "php": 10**5, "cdn": 10**5, "static": 10**5, "img": 10**5,
    "images": 10**5, "image": 10**5, "api": 10**5, "jpg": 10**5, "png": 10**5, "gif": 10**5,
    "css": 10**5, "assets": 10**5, "min": 10**5, "v1": 10**5, "v2": 10**5, "de": 10**5,
    "co": 10**5, "uk": 10**5, "io": 10**5, "icon": 10**5, "news": 10**5, "id": 10**5,
}


@dataclass(frozen=True)
class ListStats:
    """What `add_list` made of one list: lines read, filters in use, and skipped lines by reason."""

    name: str
    lines: int
    filters_used: int
    skipped: dict[str, int] = field(default_factory=dict)


@dataclass(slots=True)  # a value made per request: not frozen, see docs/architecture.md
class Decision:
    """The engine's answer for one request."""

    action: str  # 'block' | 'allow' | 'exception' | 'redirect'
    filter: str | None = None
    list: str | None = None
    redirect: str | None = None
    clean_url: str | None = None
    removed_params: tuple[str, ...] = ()
    important: bool = False


ALLOWED = Decision("allow")


# scheme://[userinfo@](host)[:port]: group 1 is the host (bracketed for IPv6)
_AUTHORITY = re.compile(r"[a-z][a-z0-9+.\-]*://(?:[^/?#@]*@)?(\[[^\]/?#]*\]|[^:/?#]*)")


def _host_span(lurl: str) -> tuple[int, int]:
    """(start, end) of the host name in a lowercased URL; (0, 0) when it has none."""
    found = _AUTHORITY.match(lurl)
    if found is None:
        return 0, 0
    start, end = found.span(1)
    while end > start and lurl[end - 1] == ".":  # `example.com.` is `example.com`
        end -= 1
    return start, end


def host_of_url(url: str) -> str:
    """The lowercased host name of a URL ('' when it has none)."""
    lurl = ascii_lower(url)
    start, end = _host_span(lurl)
    return lurl[start:end]


def _dotted_suffixes(host: str) -> list[str]:
    """`a.b.c` -> ['.a.b.c', '.b.c', '.c'] (the keys host-anchored filters are indexed under)."""
    dotted = "." + host
    out = [dotted]
    at = dotted.find(".", 1)
    while at >= 0:
        out.append(dotted[at:])
        at = dotted.find(".", at + 1)
    return out


def _site(host: str) -> str:
    return site_of(host) or host if host else ""


def _entity_suffixes(host: str) -> list[str]:
    """Dotted suffixes of a host without its public suffix: `www.google.co.uk` -> ['.www.google', '.google']."""
    site = site_of(host) if host else None
    if not site or "." not in site:
        return []
    public_suffix_len = len(site) - site.index(".")
    return _dotted_suffixes(host[:-public_suffix_len])


# Pages make many requests and trackers serve many pages: a request's source URL and host recur.
_CACHE_SIZE = 8192
_SOURCE_HOSTS: dict[str, str | None] = {}  # source URL -> its host (None: it has none)
_SUFFIXES: dict[str, list[str]] = {}  # host -> its dotted suffixes


class _Request:
    """One request, with what the matcher needs computed once (and the rest on demand)."""

    __slots__ = (
        "url", "lurl", "type_bit", "host", "dothost", "host_start", "host_end", "suffixes", "tokens",
        "third", "source_host", "_source_suffixes", "_source_entities", "_host_entities",
    )

    def __init__(self, url: str, type_bit: int, source: str | None, third_party: bool | None) -> None:
        self.url = url
        lurl = self.lurl = url.lower() if url.isascii() else ascii_lower(url)
        self.type_bit = type_bit
        start, end = _host_span(lurl)
        self.host_start = start
        self.host_end = end
        if end > start:
            host = self.host = lurl[start:end]
            self.dothost = "." + host
            suffixes = _SUFFIXES.get(host)
            if suffixes is None:
                if len(_SUFFIXES) > _CACHE_SIZE:
                    _SUFFIXES.clear()
                suffixes = _SUFFIXES[host] = _dotted_suffixes(host)
            self.suffixes = suffixes
        else:
            self.host = ""
            self.dothost = ""
            self.suffixes = []
        self.tokens = _URL_TOKEN.findall(lurl)
        source_host = None
        if source:
            source_host = _SOURCE_HOSTS.get(source, "")
            if source_host == "":
                if len(_SOURCE_HOSTS) > _CACHE_SIZE:
                    _SOURCE_HOSTS.clear()
                lsource = ascii_lower(source)
                s_start, s_end = _host_span(lsource)
                source_host = _SOURCE_HOSTS[source] = lsource[s_start:s_end] if s_end > s_start else None
        if type_bit == T_DOCUMENT:
            # uBO judges a page load from the page itself: first party, `domain=` is its own site.
            source_host = self.host or None
        self.source_host = source_host
        self.third = third_party  # None: worked out on first use (`is_third`)
        self._source_suffixes: list[str] | None = None
        self._source_entities: list[str] | None = None
        self._host_entities: list[str] | None = None

    def is_third(self) -> bool:
        third = self.third
        if third is None:
            source_host, host = self.source_host, self.host
            if source_host is None:
                third = self.type_bit != T_DOCUMENT
            elif source_host == host:
                third = False
            else:
                third = _site(host) != _site(source_host)
            self.third = third
        return third

    def source_suffixes(self) -> list[str]:
        if self._source_suffixes is None:
            self._source_suffixes = _dotted_suffixes(self.source_host) if self.source_host else []
        return self._source_suffixes

    def source_entities(self) -> list[str]:
        if self._source_entities is None:
            self._source_entities = _entity_suffixes(self.source_host or "")
        return self._source_entities

    def host_entities(self) -> list[str]:
        if self._host_entities is None:
            self._host_entities = _entity_suffixes(self.host)
        return self._host_entities

    def label_starts(self) -> list[int]:
        """Positions in the URL where a host label starts (where a `||` pattern may begin)."""
        if not self.host:
            return []
        starts = [self.host_start]
        lurl, end = self.lurl, self.host_end
        at = lurl.find(".", self.host_start, end)
        while at >= 0:
            starts.append(at + 1)
            at = lurl.find(".", at + 1, end)
        return starts


def _spec_ok(spec: tuple, suffixes: list[str], entities) -> bool:
    """Does a host (given as its dotted suffixes) satisfy a domain spec (include, exclude, entities)?"""
    inc, exc, inc_ent, exc_ent = spec
    if exc and not exc.isdisjoint(suffixes):
        return False
    if inc_ent or exc_ent:
        ents = entities()
        if exc_ent and not exc_ent.isdisjoint(ents):
            return False
        if inc_ent and not inc_ent.isdisjoint(ents):
            return True
    if inc:
        return not inc.isdisjoint(suffixes)
    return not inc_ent


# One category's index: (hosts, tokens, sources, fallback)
#   hosts:    ".host" -> records (looked up with each dotted suffix of the request's host)
#   tokens:   token -> records (looked up with each token of the URL)
#   sources:  ".host" -> records that only apply on that site (`domain=`), and have no good token
#   fallback: type bit -> records with no token nor site, that apply to that type
Index = tuple
_EMPTY_INDEX: Index = ({}, {}, {}, {})

_HOST_BUCKET_SPLIT = 8  # a host with more filters than this indexes its `||host/path` ones by token
_TYPE_BITS = tuple(1 << bit for bit in range(14))  # T_OTHER .. T_CNAME


def _source_keys(record: tuple) -> frozenset | None:
    """The sites a record is restricted to, if it is (and only by plain host names)."""
    spec = record[DOMAINS]
    if spec is None or not spec[0] or spec[2]:
        return None
    return spec[0]


def build_index(records: Iterable[tuple]) -> list[Index | None]:
    """Index records per category: by host, else by their rarest token, else by site, else by type."""
    records = list(records)
    counts: Counter[str] = Counter()
    host_counts: Counter[tuple] = Counter()
    for record in records:
        if record[TOKENS]:
            counts.update(record[TOKENS])
        if record[KIND] == K_HOST:
            host_counts[record[CAT], record[HOSTKEY]] += 1
    weights = _COMMON_URL_TOKENS

    def score(token: str) -> int:
        return counts[token] + weights.get(token, 0) + (1000 if len(token) < 2 else 0)

    def best_token(candidates: tuple) -> str:
        if len(candidates) == 1:
            return candidates[0]
        return min(candidates, key=lambda t: (score(t), -len(t)))

    hosts: list[dict] = [{} for _ in range(CATEGORY_COUNT)]
    tokens: list[dict] = [{} for _ in range(CATEGORY_COUNT)]
    sources: list[dict] = [{} for _ in range(CATEGORY_COUNT)]
    fallback: list[list] = [[] for _ in range(CATEGORY_COUNT)]
    for record in records:
        cat = record[CAT]
        candidates = record[TOKENS]
        if record[KIND] == K_HOST:
            crowd = host_counts[cat, record[HOSTKEY]]
            if candidates and crowd > _HOST_BUCKET_SPLIT:
                token = best_token(candidates)
                if score(token) < crowd:
                    tokens[cat].setdefault(token, []).append(record)
                    continue
            hosts[cat].setdefault(record[HOSTKEY], []).append(record)
            continue
        sites = _source_keys(record)
        if candidates:
            token = best_token(candidates)
            if sites is None or token not in weights:
                tokens[cat].setdefault(token, []).append(record)
                continue
        if sites is not None:
            for site in sites:
                sources[cat].setdefault(site, []).append(record)
        else:
            fallback[cat].append(record)
    index: list[Index | None] = []
    for cat in range(CATEGORY_COUNT):
        if not (hosts[cat] or tokens[cat] or sources[cat] or fallback[cat]):
            index.append(None)
            continue
        by_type = {
            bit: tuple(r for r in fallback[cat] if r[TYPES] & bit) for bit in _TYPE_BITS
        }
        index.append(
            (
                {key: tuple(bucket) for key, bucket in hosts[cat].items()},
                {key: tuple(bucket) for key, bucket in tokens[cat].items()},
                {key: tuple(bucket) for key, bucket in sources[cat].items()},
                {bit: bucket for bit, bucket in by_type.items() if bucket},
            )
        )
    return index


class Matcher:
    """Answers requests from a built index. Regexes are compiled on first use, once each."""

    def __init__(self, index: list[Index | None], list_names: list[str], plain_hosts: dict[str, int]) -> None:
        self.index = index
        self.list_names = list_names
        self.plain_hosts = plain_hosts  # ".host" -> list index of its plain `||host^` block filter
        self._regex_generated: dict[str, re.Pattern] = {}
        self._regex_user: dict[str, re.Pattern] = {}
        self._regex_user_cased: dict[str, re.Pattern] = {}
        self._regex_params: dict[str, re.Pattern] = {}  # removeparam=/.../i
        self._regex_params_cased: dict[str, re.Pattern] = {}
        self._decisions: dict[tuple, Decision] = {}  # by what a decision says (records may be made again)

    # -- regexes ---------------------------------------------------------------------------------
    def _compiled(self, src: str, cache: dict, flags: int) -> re.Pattern:
        try:
            rx = cache[src] = re.compile(src, flags)
        except (re.error, RecursionError, OverflowError, ValueError, TypeError):
            rx = cache[src] = _NEVER  # only a damaged cache gets here: the parser checked it
        return rx

    def _generated(self, src: str) -> re.Pattern:
        rx = self._regex_generated.get(src)
        return rx if rx is not None else self._compiled(src, self._regex_generated, re.DOTALL)

    def _user(self, src: str, match_case: bool) -> re.Pattern:
        cache = self._regex_user_cased if match_case else self._regex_user
        rx = cache.get(src)
        if rx is None:
            rx = self._compiled(src, cache, re.ASCII | (0 if match_case else re.IGNORECASE))
        return rx

    # -- one filter ------------------------------------------------------------------------------
    def _ok(self, f: tuple, req: _Request) -> bool:
        """Does a record (whose type already matched) match the request?"""
        party = f[PARTY]
        if party:
            third = req.third
            if third is None:
                third = req.is_third()
            if party == P_THIRD:
                if not third:
                    return False
            elif party == P_FIRST:
                if third:
                    return False
            elif party == P_STRICT_THIRD:
                if req.source_host is None:
                    if not third:
                        return False
                elif req.source_host == req.host:
                    return False
            elif party == P_STRICT_FIRST:
                if req.source_host is None:
                    if third:
                        return False
                elif req.source_host != req.host:
                    return False
        kind = f[KIND]
        url = req.url if f[FLAGS] & F_MATCH_CASE else req.lurl
        if kind == K_HOST:
            tail = f[TAIL]
            if tail:
                if not req.dothost.endswith(f[HOSTKEY]):  # found by token rather than by host
                    return False
                if f[FLAGS] & F_TAIL_RE:
                    if self._generated(tail).match(url, req.host_end) is None:
                        return False
                elif not url.startswith(tail, req.host_end):
                    return False
        elif kind == K_SUB:
            if f[PAT] not in url:
                return False
        elif kind == K_RE:
            if self._generated(f[PAT]).search(url) is None:
                return False
        elif kind == K_START:
            if not url.startswith(f[PAT]):
                return False
        elif kind == K_HOSTLIT:
            pat = f[PAT]
            if not any(url.startswith(pat, at) for at in req.label_starts()):
                return False
        elif kind == K_HOSTRE:
            rx = self._generated(f[PAT])
            if not any(rx.match(url, at) for at in req.label_starts()):
                return False
        elif kind == K_REGEX:
            if self._user(f[PAT], bool(f[FLAGS] & F_MATCH_CASE)).search(url) is None:
                return False
        elif kind == K_END:
            if not url.endswith(f[PAT]):
                return False
        elif kind == K_EXACT:
            if url != f[PAT]:
                return False
        elif kind != K_ANY:
            return False
        spec = f[DOMAINS]
        if spec is not None:
            if req.source_host is None:
                # uBO with no page hostname: `domain=a.com` cannot match, `domain=~a.com` can.
                if spec[0] or spec[2]:
                    return False
            elif not _spec_ok(spec, req.source_suffixes(), req.source_entities):
                return False
        spec = f[TO]
        if spec is not None and not _spec_ok(spec, req.suffixes, req.host_entities):
            return False
        return True

    # -- one category ----------------------------------------------------------------------------
    def _first(self, cat: int, req: _Request) -> tuple | None:
        index = self.index[cat]
        bit = req.type_bit
        plain = self.plain_hosts if cat == BLOCK and bit & PLAIN_HOST_TYPES else None
        if index is None:
            if not plain:
                return None
            index = _EMPTY_INDEX
        hosts, tokens, sources, fallback = index
        ok = self._ok
        lurl = req.lurl
        # The type and needle tests are inline: they settle most candidates without a call.
        if plain:
            for suffix in req.suffixes:
                list_index = plain.get(suffix)
                if list_index is not None:
                    return plain_host_record(suffix, list_index)
                bucket = hosts.get(suffix)
                if bucket is not None:
                    for f in bucket:
                        if f[TYPES] & bit and f[NEEDLE] in lurl and (f[SIMPLE] or ok(f, req)):
                            return f
        elif hosts:
            for suffix in req.suffixes:
                bucket = hosts.get(suffix)
                if bucket is not None:
                    for f in bucket:
                        if f[TYPES] & bit and f[NEEDLE] in lurl and (f[SIMPLE] or ok(f, req)):
                            return f
        if tokens:
            for token in req.tokens:
                bucket = tokens.get(token)
                if bucket is not None:
                    for f in bucket:
                        if f[TYPES] & bit and f[NEEDLE] in lurl and (f[SIMPLE] or ok(f, req)):
                            return f
        if sources and req.source_host is not None:
            for suffix in req.source_suffixes():
                bucket = sources.get(suffix)
                if bucket is not None:
                    for f in bucket:
                        if f[TYPES] & bit and f[NEEDLE] in lurl and ok(f, req):
                            return f
        bucket = fallback.get(bit)
        if bucket is not None:
            for f in bucket:
                if f[NEEDLE] in lurl and (f[SIMPLE] or ok(f, req)):
                    return f
        return None

    def _all(self, cat: int, req: _Request) -> list[tuple]:
        index = self.index[cat]
        plain = self.plain_hosts if cat == BLOCK else None
        if index is None:
            if not plain:
                return []
            index = _EMPTY_INDEX
        hosts, tokens, sources, fallback = index
        bit = req.type_bit
        candidates: list[tuple] = []
        for suffix in req.suffixes:
            if plain:
                list_index = plain.get(suffix)
                if list_index is not None:
                    candidates.append(plain_host_record(suffix, list_index))
            candidates.extend(hosts.get(suffix, ()))
        for token in sorted(tokens.keys() & req.tokens):  # C-speed intersection; sorted: stable order
            candidates.extend(tokens[token])
        if req.source_host is not None:
            for suffix in req.source_suffixes():
                candidates.extend(sources.get(suffix, ()))
        candidates.extend(fallback.get(bit, ()))
        found: dict[int, tuple] = {}  # by id: `candidates` keeps every record alive until the end
        lurl = req.lurl
        for f in candidates:
            if f[TYPES] & bit and f[NEEDLE] in lurl and id(f) not in found and self._ok(f, req):
                found[id(f)] = f
        return list(found.values())

    # -- decisions -------------------------------------------------------------------------------
    def _decision(self, action: str, f: tuple, important: bool = False, redirect: tuple | None = None) -> Decision:
        if redirect is not None:
            action, f = "redirect", redirect
        key = (action, f[TEXT], f[LIST], important)
        decision = self._decisions.get(key)
        if decision is None:
            if len(self._decisions) > _CACHE_SIZE:
                self._decisions.clear()
            if redirect is not None:
                decision = Decision(
                    "redirect", redirect[TEXT], self.list_names[redirect[LIST]], redirect[EXTRA][0],
                    important=important,
                )
            else:
                decision = Decision(action, f[TEXT], self.list_names[f[LIST]], important=important)
            self._decisions[key] = decision
        return decision

    def _blocked(self, f: tuple, req: _Request, important: bool) -> Decision:
        directive = self._redirect(req) if self.index[REDIRECT] is not None else None
        return self._decision("block", f, important, directive)

    def _redirect(self, req: _Request) -> tuple | None:
        directives = self._all(REDIRECT, req)
        if not directives:
            return None
        directives.sort(key=lambda d: -d[EXTRA][1])
        excepted = {f[EXTRA][0] for f in self._all(REDIRECT_ALLOW, req)}
        if "" in excepted:
            return None
        for directive in directives:
            if directive[EXTRA][0] not in excepted:
                return directive
        return None

    def decide(self, url: str, type_bit: int, source: str | None, third_party: bool | None) -> Decision:
        req = _Request(url, type_bit, source, third_party)
        index = self.index
        if index[IMPORTANT] is not None:
            f = self._first(IMPORTANT, req)
            if f is not None:
                return self._blocked(f, req, True)
        f = self._first(BLOCK, req)
        if f is not None:
            exception = self._first(ALLOW, req) if index[ALLOW] is not None else None
            if exception is None:
                return self._blocked(f, req, False)
            decision = self._decision("exception", exception)
        else:
            decision = ALLOWED
        if index[REMOVEPARAM] is not None and "?" in url:
            return self._remove_params(req, decision)
        return decision

    # -- removeparam -----------------------------------------------------------------------------
    def _remove_params(self, req: _Request, decision: Decision) -> Decision:
        filters = self._all(REMOVEPARAM, req)
        if not filters:
            return decision
        exceptions = self._all(REMOVEPARAM_ALLOW, req)
        cancelled = {f[EXTRA][:2] for f in exceptions}
        if ("", "") in cancelled:
            filters = [f for f in filters if f[FLAGS] & parser.F_IMPORTANT]
        elif cancelled:
            filters = [f for f in filters if f[FLAGS] & parser.F_IMPORTANT or f[EXTRA][:2] not in cancelled]
        if not filters:
            return decision
        url = req.url
        base, _, rest = url.partition("?")
        query, hash_mark, fragment = rest.partition("#")
        kept: list[str] = []
        removed: dict[str, None] = {}
        deciding: tuple | None = None
        for param in query.split("&"):
            if not param:
                continue
            name = param.split("=", 1)[0]
            for f in filters:
                if self._removes(f[EXTRA], name, param):
                    removed[name] = None
                    deciding = deciding or f
                    break
            else:
                kept.append(param)
        if not removed or deciding is None:
            return decision
        clean = base + ("?" + "&".join(kept) if kept else "") + hash_mark + fragment
        if decision is ALLOWED:
            return Decision(
                "allow", deciding[TEXT], self.list_names[deciding[LIST]], clean_url=clean,
                removed_params=tuple(removed), important=bool(deciding[FLAGS] & parser.F_IMPORTANT),
            )
        return Decision(
            decision.action, decision.filter, decision.list, clean_url=clean, removed_params=tuple(removed),
            important=decision.important,
        )

    def _removes(self, spec: tuple, name: str, param: str) -> bool:
        mode, value, flags = spec
        if mode == "name":
            return name == value
        if mode == "":
            return True
        if mode == "not":
            return name != value
        cache = self._regex_params_cased if not flags else self._regex_params
        rx = cache.get(value)
        if rx is None:
            rx = self._compiled(value, cache, flags)
        return rx.search(param) is not None


def request_type_bit(type_name: str) -> int:
    bit = REQUEST_TYPES.get(type_name)
    if bit is None:
        bit = REQUEST_TYPES.get(str(type_name).strip().lower().replace("-", "_"), T_OTHER)
    return bit


_ROLES = {
    BLOCK: "block", IMPORTANT: "important", ALLOW: "exception", REDIRECT: "redirect",
    REDIRECT_ALLOW: "redirect-exception", REMOVEPARAM: "removeparam",
    REMOVEPARAM_ALLOW: "removeparam-exception",
}


def _shared_values(record: tuple, shared: dict) -> tuple:
    """The record with the values many records repeat (domain sets, tokens, host keys, needles,
    tails) replaced by one object per value: a quarter of a list's records have a `domain=`
    option, most of them with the same few sets (an empty frozenset is an object of its own)."""
    fields = list(record)
    for at in (TAIL, HOSTKEY, NEEDLE):
        value = fields[at]
        fields[at] = shared.setdefault(value, value)
    tokens = fields[TOKENS]
    if tokens:
        fields[TOKENS] = shared.setdefault(tokens, tuple(shared.setdefault(t, t) for t in tokens))
    for at in (DOMAINS, TO):
        spec = fields[at]
        if spec is not None:
            parts = tuple(shared.setdefault(part, frozenset(shared.setdefault(d, d) for d in part)) for part in spec)
            fields[at] = shared.setdefault(parts, parts)
    return tuple(fields)


class FilterEngine:
    """Network filters from any number of lists, answering "what to do with this request?".

    `add_list` parses a whole list (replacing an earlier list of the same name) and never raises;
    the index is (re)built on the next `match`. `save`/`load` keep the built index in a cache file
    so a restart does not parse the lists again.
    """

    def __init__(self) -> None:
        self.lists: dict[str, ListStats] = {}
        self._names: list[str] = []  # list index (stored in each record) -> list name
        # list index -> its records (badfilters included), but for its plain `||host^` filters,
        # which are only their host keys (".host", in `_plain`): the same list indices, same order.
        self._records: dict[int, Sequence[tuple]] = {}
        self._plain: dict[int, tuple[str, ...]] = {}
        self._matcher: Matcher | None = None

    # -- lists -----------------------------------------------------------------------------------
    def add_list(self, text: str, name: str) -> ListStats:
        """Parse a whole list; lines the engine cannot apply are counted in `skipped`, by reason."""
        if name in self._names:
            list_index = self._names.index(name)
        else:
            list_index = len(self._names)
            self._names.append(name)
        if isinstance(text, (bytes, bytearray)):
            text = bytes(text).decode("utf-8", "replace")
        if text.startswith("\ufeff"):
            text = text[1:]
        records: list[tuple] = []
        plain: dict[str, None] = {}
        shared: dict = {}  # value -> the one object of that value in this list's records
        skipped: Counter[str] = Counter()
        used = lines = 0
        parse, plain_key = parser.parse_line, parser.plain_host_key
        with no_gc():
            for line in text.splitlines():
                lines += 1
                reason, parsed = parse(line, list_index)
                if reason is None:
                    used += 1
                    for record in parsed:
                        key = plain_key(record)
                        if key is None:
                            records.append(_shared_values(record, shared))
                        else:
                            plain[key] = None
                elif reason != "blank":
                    skipped[reason] += 1
        self._records[list_index] = records
        self._plain[list_index] = tuple(plain)
        stats = ListStats(name, lines, used, dict(skipped))
        self.lists[name] = stats
        self._matcher = None
        return stats

    def remove_list(self, name: str) -> bool:
        """Forget a list's filters (and its badfilters); False if there was no such list."""
        if name not in self.lists:
            return False
        del self.lists[name]
        self._records.pop(self._names.index(name), None)
        self._plain.pop(self._names.index(name), None)
        self._matcher = None
        return True

    # -- matching --------------------------------------------------------------------------------
    def match(
        self, url: str, type: str = "other", source: str | None = None, third_party: bool | None = None
    ) -> Decision:
        """Decide one request. `type` is a resource type (`script`, `image`, `xhr`, `sub_frame`...);
        `source` the URL of the page or frame that made it; `third_party=None` computes the party
        from the two sites (no source: a subresource is third party, a document first party)."""
        matcher = self._matcher or self._build()
        if not isinstance(url, str):
            url = str(url)
        if source is not None and not isinstance(source, str):
            source = str(source)
        return matcher.decide(url, request_type_bit(type), source or None, third_party)

    def explain(
        self, url: str, type: str = "other", source: str | None = None, third_party: bool | None = None
    ) -> list[tuple[str, str, str]]:
        """Every filter that matches a request, as (role, filter text, list name), whatever the
        precedence would make of them. Roles: block, important, exception, redirect,
        redirect-exception, removeparam, removeparam-exception. For `whoknows check` and tests."""
        matcher = self._matcher or self._build()
        req = _Request(str(url), request_type_bit(type), source or None, third_party)
        return [
            (_ROLES[cat], f[TEXT], matcher.list_names[f[LIST]])
            for cat in range(CATEGORY_COUNT)
            for f in matcher._all(cat, req)
        ]

    def _build(self) -> Matcher:
        records = [record for recs in self._records.values() for record in recs]
        cancelled = {record[TEXT] for record in records if record[CAT] < 0}
        live: Iterable[tuple] = (record for record in records if record[CAT] >= 0)
        if cancelled:
            patterns = {key.partition("$")[0] for key in cancelled}
            live = (
                record for record in live
                if record[TEXT].partition("$")[0] not in patterns
                or parser.badfilter_key(record[TEXT]) not in cancelled
            )
        with no_gc():
            self._matcher = Matcher(build_index(live), list(self._names), self._plain_hosts(cancelled))
        return self._matcher

    def _plain_hosts(self, cancelled: set[str]) -> dict[str, int]:
        """".host" -> the first list (in engine order) with a plain `||host^` filter, less badfilters."""
        plain: dict[str, int] = {}
        for list_index, keys in reversed(self._plain.items()):  # so that the first list's entry stays
            plain.update(dict.fromkeys(keys, list_index))
        for text in cancelled:  # a plain filter's badfilter key is its text, `||host^`
            if text.startswith("||") and text.endswith("^"):
                plain.pop("." + text[2:-1], None)
        return plain

    # -- cache -----------------------------------------------------------------------------------
    def save(self, path) -> None:
        """Write the compiled engine to `path` (marshal of plain data, atomically, mode 0600)."""
        matcher = self._matcher or self._build()
        compiled.save(
            path, self._names, self.lists.values(), self._records, self._plain, matcher.index, matcher.plain_hosts
        )

    @classmethod
    def load(cls, path) -> "FilterEngine":
        """Read a cache written by `save`; raises WhoknowsError if it is missing, damaged or old."""
        names, stats, records, plain, index, plain_hosts = compiled.load(path)
        engine = cls()
        engine._names = names
        engine.lists = {name: ListStats(name, lines, used, skipped) for name, lines, used, skipped in stats}
        engine._records = records
        engine._plain = plain
        engine._matcher = Matcher(index, list(names), plain_hosts)
        return engine

