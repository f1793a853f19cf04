"""Parse one line of an Adblock Plus / uBlock Origin filter list into plain data.

A network filter becomes one or more *records*: plain tuples of strings, ints and frozensets (the
field layout is the constants below), so that the compiled engine can be saved with `marshal` and
loaded without running anything a list author wrote. Lines the engine cannot apply in full
(cosmetic filters, unknown options, bad regexes) come back as a skip reason instead; a filter is
never kept with part of its meaning dropped.

`parse_line` never raises, whatever the line.
"""

from __future__ import annotations

import re

from . import resources

# --- record layout -------------------------------------------------------------------------------
(CAT, KIND, PAT, TAIL, TYPES, PARTY, DOMAINS, TO, FLAGS, TEXT, LIST, EXTRA, TOKENS, HOSTKEY, SIMPLE,
 NEEDLE) = range(16)
# NEEDLE is a lowercased string that every URL the record matches contains ("" when none is
# known). SIMPLE is True when, once the type matched, finding the needle is all there is to check
# (plain substrings, and `||host^` found by host, with no party, domain or case option). The
# matcher tests both inline, which settles most candidates without a function call.

# categories: which index a record goes to
BLOCK, IMPORTANT, ALLOW, REDIRECT, REDIRECT_ALLOW, REMOVEPARAM, REMOVEPARAM_ALLOW = range(7)
CATEGORY_COUNT = 7

# kinds: how the pattern is matched against the (lowercased unless match-case) URL
K_ANY = 0  # no pattern: options alone decide
K_HOST = 1  # `||host` + terminator: HOSTKEY is ".host"; TAIL is checked where the URL's host ends
K_SUB = 2  # plain substring
K_START = 3  # `|literal`
K_END = 4  # `literal|`
K_EXACT = 5  # `|literal|`
K_HOSTLIT = 6  # `||literal` (not a whole host): literal at the start of a host label
K_RE = 7  # pattern with `*`/`^`, translated to a regex, searched
K_HOSTRE = 8  # `||` pattern with `*`/`^`, regex matched at the start of a host label
K_REGEX = 9  # `/regex/` filter

# flags
F_IMPORTANT = 1
F_MATCH_CASE = 2
F_TAIL_RE = 4  # K_HOST: TAIL is a regex source (else a literal prefix)

# party
P_ANY, P_FIRST, P_THIRD, P_STRICT_FIRST, P_STRICT_THIRD = range(5)

# resource type bits
T_OTHER = 1
T_SCRIPT = 2
T_IMAGE = 4
T_STYLESHEET = 8
T_OBJECT = 16
T_XHR = 32
T_SUBDOCUMENT = 64
T_PING = 128
T_MEDIA = 256
T_FONT = 512
T_WEBSOCKET = 1024
T_DOCUMENT = 2048
T_POPUP = 4096
# uBO's `cname` option: only in exception filters, matched against the page's URL, not a request:
# `@@||example.com^$cname` lets requests on example.com's pages through that only a canonical name
# blocked (CNAME uncloaking: `whoknows.cname.exempted`). Never part of T_NETWORK or T_ALL.
T_CNAME = 8192
T_NETWORK = 2047  # what a filter with no type option applies to
T_ALL = T_NETWORK | T_DOCUMENT | T_POPUP

# filter option names (and uBO's aliases) for resource types
OPTION_TYPES = {
    "script": T_SCRIPT,
    "image": T_IMAGE,
    "stylesheet": T_STYLESHEET,
    "css": T_STYLESHEET,
    "object": T_OBJECT,
    "object-subrequest": T_OBJECT,
    "xmlhttprequest": T_XHR,
    "xhr": T_XHR,
    "subdocument": T_SUBDOCUMENT,
    "frame": T_SUBDOCUMENT,
    "document": T_DOCUMENT,
    "doc": T_DOCUMENT,
    "ping": T_PING,
    "beacon": T_PING,
    "media": T_MEDIA,
    "font": T_FONT,
    "websocket": T_WEBSOCKET,
    "other": T_OTHER,
    "popup": T_POPUP,
    "cname": T_CNAME,
}

# request type names accepted by `FilterEngine.match` (webRequest, Sec-Fetch-Dest-ish and option names)
REQUEST_TYPES = dict(OPTION_TYPES)
REQUEST_TYPES.update(
    {
        "fetch": T_XHR,
        "sub_frame": T_SUBDOCUMENT,
        "main_frame": T_DOCUMENT,
        "object_subrequest": T_OBJECT,
        "imageset": T_IMAGE,
        "csp_report": T_OTHER,
        "speculative": T_OTHER,
        "web_manifest": T_OTHER,
        "xslt": T_OTHER,
        "xml_dtd": T_OTHER,
    }
)

# options whose meaning the engine does not implement: the whole filter is skipped
_UNSUPPORTED = {
    "csp", "header", "permissions", "rewrite", "urlskip", "uritransform", "replace", "urltransform",
    "ipaddress", "method", "inline-script", "inline-font", "popunder", "webrtc",
    "elemhide", "ehide", "generichide", "ghide", "specifichide", "shide", "genericblock",
    "mp4", "redirect-url", "header-rule", "jsonprune", "removeheader", "stealth", "content",
    "extension", "jsinject", "urlblock", "network", "app", "cookie", "hls", "referrerpolicy",
}

_NOOP_OPTION = re.compile(r"_+$")
_OPTION_START = re.compile(r"~?[a-z0-9_-]+(?:=|,|$)", re.I)
_OPTION_SPLIT = re.compile(r"(?<!\\),")
_COSMETIC = re.compile(r"#@?[$?%]?#|\$@?\$")
_HOSTS_LINE = re.compile(
    r"(?:\d{1,3}(?:\.\d{1,3}){3}|[0-9a-f]*:[0-9a-f:.]*(?:%\S+)?)\s+(\S.*)$", re.I
)
_HOSTNAME = re.compile(r"[a-z0-9_](?:[a-z0-9_-]*[a-z0-9_])?(?:\.[a-z0-9_](?:[a-z0-9_-]*[a-z0-9_])?)*")
_BARE_DOMAIN = re.compile(
    r"[a-z0-9](?:[a-z0-9-]*[a-z0-9])?(?:\.[a-z0-9](?:[a-z0-9-]*[a-z0-9])?)*\.[a-z]{2,}\.?", re.I
)
# `ads.js` is a file name, not a host: such a bare line stays an ordinary (substring) filter
_FILE_EXTENSIONS = frozenset(
    "js mjs css gif png jpg jpeg webp svg ico swf json xml txt htm html php asp aspx jsp cgi mp4 woff woff2".split()
)
_PURE_HOST = re.compile(r"\|\|([a-z0-9_-][a-z0-9_.-]*[a-z0-9_-])\^")  # the commonest filter, parsed without the general path
_HOST_PREFIX = re.compile(r"\[[0-9a-f:.]+\]|[a-z0-9_.-]*[a-z0-9_-]")  # candidate host at the start of a `||` pattern
_TOKEN = re.compile(r"[0-9a-z%]+")
_REGEX_SPECIAL_SPLIT = re.compile(r"([*^])")  # keeps the `*`/`^` between the pieces
_WILDCARDS = re.compile(r"[*^]")
_ENTITY = re.compile(r"(.+)\.\*$")
_LOCAL_HOSTS = frozenset(
    {
        "localhost", "localhost.localdomain", "local", "broadcasthost", "ip6-localhost",
        "ip6-loopback", "ip6-localnet", "ip6-mcastprefix", "ip6-allnodes", "ip6-allrouters",
        "ip6-allhosts", "0.0.0.0",
    }
)

# `^` in a pattern: any character but a letter, a digit or one of `_-.%`, or the end of the URL
SEPARATOR = r"(?:[^%.0-9a-z_\-]|\Z)"
SEPARATOR_CASED = r"(?:[^%.0-9a-zA-Z_\-]|\Z)"

Record = tuple
ParseResult = tuple[str | None, list[Record]]  # (skip reason, records): exactly one is meaningful


class _Skip(Exception):
    """A line the engine will not apply; the message is the reason counted in ListStats."""


def parse_line(line: str, list_index: int = 0) -> ParseResult:
    """Parse one list line: `(None, records)` for a network filter, `(reason, [])` to skip it.

    A blank line is `("blank", [])`. `badfilter` filters come back as one record of category -1
    whose TEXT is the canonical key of the filter they cancel (see `badfilter_key`).
    """
    try:
        return None, _parse(line.strip(), list_index)
    except _Skip as skip:
        return str(skip), []
    except (ValueError, TypeError, IndexError, OverflowError, RecursionError, re.error):
        return "malformed", []


def _parse(line: str, list_index: int) -> list[Record]:
    if not line:
        raise _Skip("blank")
    first = line[0]
    if first == "!" or first == "[":
        raise _Skip("comment")
    if "#" in line or "$$" in line or "$@$" in line:
        found = _COSMETIC.search(line)
        if found:
            marker = found.group(0)
            rest = line[found.end():]
            if marker.startswith("$") or rest.startswith("^"):
                raise _Skip("html-filter")
            if rest.startswith("+js(") or "%" in marker or "$" in marker:
                raise _Skip("scriptlet")
            raise _Skip("cosmetic")
        if first == "#":
            raise _Skip("comment")
    pure = _PURE_HOST.fullmatch(line)
    if pure:  # `||host^`: a third of all filters in the big lists
        host = pure.group(1)
        return [_host_record(BLOCK, host, line, list_index, T_NETWORK | T_DOCUMENT)]
    if (first.isdigit() or first == ":") and (" " in line or "\t" in line):
        hosts_line = _HOSTS_LINE.match(line)
        if hosts_line:
            return _parse_hosts_line(hosts_line.group(1), line, list_index)
    if "$" not in line and not line.startswith("@@") and _BARE_DOMAIN.fullmatch(line) and (
        line.rsplit(".", 1)[-1].lower() not in _FILE_EXTENSIONS
    ):
        host = line.rstrip(".").lower()  # a domain list: the line means `||host^`, and says so
        return [_host_record(BLOCK, host, f"||{host}^", list_index, T_NETWORK | T_DOCUMENT)]
    return _parse_network(line, list_index)


def _host_record(cat: int, host: str, text: str, list_index: int, types: int) -> Record:
    return (cat, K_HOST, "", "", types, P_ANY, None, None, 0, text, list_index, None, (), "." + host, True, "")


# --- plain host filters --------------------------------------------------------------------------
# Four in five filters of EasyList + EasyPrivacy are a plain `||host^` (or a hosts-file or domain
# line, which means the same): a block of that host and its subdomains, no option. Such a record
# is its host and its list and nothing else, so the engine keeps only those (a dict entry instead
# of a 16-field tuple and two strings) and makes the record again when one matches.
PLAIN_HOST_TYPES = T_NETWORK | T_DOCUMENT  # what a `||host^` without a type option applies to


def plain_host_record(key: str, list_index: int) -> Record:
    """The record of the plain `||host^` filter whose host key (".host") is `key`."""
    host = key[1:]
    return _host_record(BLOCK, host, f"||{host}^", list_index, PLAIN_HOST_TYPES)


def plain_host_key(record: Record) -> str | None:
    """The host key (".host") of a record that `plain_host_record` makes again exactly; else None."""
    if record[CAT] != BLOCK or record[KIND] != K_HOST or record[TAIL] or not record[SIMPLE]:
        return None
    key = record[HOSTKEY]
    return key if record == plain_host_record(key, record[LIST]) else None


def _parse_hosts_line(names: str, text: str, list_index: int) -> list[Record]:
    names = names.split("#", 1)[0].split()
    records = []
    for name in names:
        host = name.lower().rstrip(".")
        if host in _LOCAL_HOSTS:
            continue
        if not _HOSTNAME.fullmatch(host):
            raise _Skip("malformed")
        records.append(_host_record(BLOCK, host, f"||{host}^", list_index, T_NETWORK | T_DOCUMENT))
    if not records:
        raise _Skip("hosts-local")
    return records


# --- options -------------------------------------------------------------------------------------
def _split_options(line: str) -> tuple[str, str | None]:
    """Split `pattern$options` at the `$` that starts a valid-looking option list (regexes may hold `$`)."""
    at = line.rfind("$")
    while at >= 0:
        if _OPTION_START.match(line, at + 1):
            return line[:at], line[at + 1:]
        at = line.rfind("$", 0, at)
    return line, None


class _Options:
    __slots__ = (
        "types_on", "types_off", "party", "domains", "to", "important", "match_case", "badfilter",
        "redirect", "redirect_rule", "removeparam", "has_type",
    )

    def __init__(self) -> None:
        self.types_on = 0
        self.types_off = 0
        self.party = P_ANY
        self.domains: tuple | None = None
        self.to: tuple | None = None
        self.important = False
        self.match_case = False
        self.badfilter = False
        self.redirect: tuple[str, int] | None = None  # (resource or "" for any, priority)
        self.redirect_rule = False  # redirect-rule= (directive only) vs redirect= (block + directive)
        self.removeparam: tuple | None = None
        self.has_type = False


def _domain_spec(value: str, allow_entities: bool = True) -> tuple:
    """`a.com|~b.com|google.*` -> (include hosts, exclude hosts, include entities, exclude entities),
    each a frozenset of dotted names (".a.com", ".google") to compare with a host's dotted suffixes."""
    inc, exc, inc_ent, exc_ent = set(), set(), set(), set()
    for item in value.split("|"):
        item = item.strip().lower()
        negated = item.startswith("~")
        if negated:
            item = item[1:]
        if not item:
            raise _Skip("malformed")
        if item.startswith("/"):
            raise _Skip("unsupported-option:domain-regex")
        entity = _ENTITY.fullmatch(item)
        if entity:
            if not allow_entities:
                raise _Skip("unsupported-option:entity")
            (exc_ent if negated else inc_ent).add("." + entity.group(1))
            continue
        if "*" in item or "/" in item:
            raise _Skip("malformed")
        (exc if negated else inc).add("." + item.rstrip("."))
    return (frozenset(inc), frozenset(exc), frozenset(inc_ent), frozenset(exc_ent))


def _merge_spec(a: tuple | None, b: tuple) -> tuple:
    if a is None:
        return b
    return tuple(x | y for x, y in zip(a, b))


def _parse_redirect(value: str, exception: bool) -> tuple[str, int]:
    name, priority = value, 0
    if ":" in value:
        head, _, tail = value.rpartition(":")
        if tail.lstrip("-").isdigit():
            name, priority = head, int(tail)
    if not name:
        if exception:
            return "", priority
        raise _Skip("malformed")
    canonical = resources.canonical_name(name)
    if canonical is None:
        if exception:  # an exception for a resource we do not have cancels nothing: harmless to keep
            return name, priority
        raise _Skip(f"unsupported-redirect:{name}")
    return canonical, priority


def _parse_removeparam(value: str) -> tuple:
    """(mode, value, regex flags): mode '' removes every parameter, 'name', 'not' (~name), 're'."""
    if not value:
        return ("", "", 0)
    if value.startswith("/"):
        end = value.rfind("/")
        if end <= 0:
            raise _Skip("malformed")
        src, flag_text = value[1:end], value[end + 1:]
        if not src or set(flag_text) - {"i"}:
            raise _Skip("malformed")
        flags = re.IGNORECASE if "i" in flag_text else 0
        re.compile(src, flags)  # raises re.error -> malformed
        return ("re", src, flags)
    if value.startswith("~"):
        if not value[1:]:
            raise _Skip("malformed")
        return ("not", value[1:], 0)
    return ("name", value, 0)


def _parse_options(text: str, exception: bool) -> _Options:
    opts = _Options()
    for raw in _OPTION_SPLIT.split(text):
        raw = raw.strip().replace("\\,", ",")
        if not raw:
            raise _Skip("malformed")
        name, eq, value = raw.partition("=")
        name = name.lower()
        negated = name.startswith("~")
        bare = name[1:] if negated else name
        if bare in OPTION_TYPES:
            if eq:
                raise _Skip("malformed")
            if bare == "cname" and (negated or not exception):
                raise _Skip("unsupported-option:cname")  # uBO: an exception's option, never negated
            opts.has_type = True
            if negated:
                opts.types_off |= OPTION_TYPES[bare]
            else:
                opts.types_on |= OPTION_TYPES[bare]
        elif bare in ("third-party", "3p", "first-party", "1p"):
            third = bare in ("third-party", "3p")
            opts.party = P_THIRD if third != negated else P_FIRST
        elif name in ("strict3p", "strict-third-party"):
            opts.party = P_STRICT_THIRD
        elif name in ("strict1p", "strict-first-party"):
            opts.party = P_STRICT_FIRST
        elif name in ("domain", "from"):
            opts.domains = _merge_spec(opts.domains, _domain_spec(value))
        elif name == "to":
            opts.to = _merge_spec(opts.to, _domain_spec(value))
        elif name == "denyallow":
            inc, exc, inc_ent, exc_ent = _domain_spec(value)
            if exc or exc_ent:
                raise _Skip("malformed")
            opts.to = _merge_spec(opts.to, (frozenset(), inc, frozenset(), inc_ent))
        elif name == "all":
            opts.has_type = True
            opts.types_on |= T_ALL
        elif name == "important":
            if exception:
                raise _Skip("unsupported-option:important")
            opts.important = True
        elif name == "match-case":
            opts.match_case = True
        elif name == "badfilter":
            opts.badfilter = True
        elif name in ("redirect", "redirect-rule"):
            opts.redirect = _parse_redirect(value, exception)
            opts.redirect_rule = name == "redirect-rule"
        elif name == "empty":
            opts.redirect = ("empty", 0)
        elif name in ("removeparam", "queryprune"):
            opts.removeparam = _parse_removeparam(value)
        elif name == "reason" or _NOOP_OPTION.match(name):
            pass  # a message for people / uBO's no-op separator: no effect on matching
        elif negated and bare in ("important", "match-case", "badfilter", "all"):
            raise _Skip("malformed")
        elif bare in _UNSUPPORTED:
            raise _Skip(f"unsupported-option:{bare}")
        else:
            raise _Skip(f"unsupported-option:{bare[:40]}")
    return opts


def _types_mask(opts: _Options, pure_host: bool) -> int:
    if opts.types_on:
        mask = opts.types_on & ~opts.types_off
    elif opts.types_off:
        mask = T_NETWORK & ~opts.types_off
    elif pure_host or opts.removeparam is not None:
        # uBO's strict blocking: domain-only filters also apply to the page itself; removeparam
        # cleans navigations first of all.
        mask = T_NETWORK | T_DOCUMENT
    else:
        mask = T_NETWORK
    if not mask:
        raise _Skip("malformed")
    return mask


# --- patterns ------------------------------------------------------------------------------------
def _pattern_regex(body: str, match_case: bool) -> str:
    """A regex source for a pattern body: `*` is any run of characters, `^` a separator or the end."""
    sep = SEPARATOR_CASED if match_case else SEPARATOR
    out = []
    for piece in _REGEX_SPECIAL_SPLIT.split(body):
        if piece == "*":
            out.append(".*")
        elif piece == "^":
            out.append(sep)
        elif piece:
            out.append(re.escape(piece))
    return "".join(out)


def pattern_tokens(body: str, left_bounded: bool, right_bounded: bool) -> tuple[str, ...]:
    """Tokens of a (lowercased) pattern body that must appear as whole URL tokens when it matches.

    A token is a run of `[0-9a-z%]`; it counts only if the characters around it in the pattern
    guarantee a token boundary in the URL (not `*`, not the pattern's unanchored ends).
    """
    tokens = []
    size = len(body)
    for found in _TOKEN.finditer(body):
        start, end = found.span()
        if start == 0:
            if not left_bounded:
                continue
        elif body[start - 1] == "*":
            continue
        if end == size:
            if not right_bounded:
                continue
        elif body[end] == "*":
            continue
        token = found.group(0)
        if token not in tokens:
            tokens.append(token)
    return tuple(tokens)


def regex_tokens(src: str, flags: int) -> tuple[str, ...]:
    """Tokens that any match of a regex filter must contain as whole URL tokens (maybe none).

    Reads the regex's parse tree (the standard library's own parser): only literal runs at the
    top level are required; a token inside a run counts when literal non-token characters (or
    `^`/`$`) surround it.
    """
    try:
        from re import _parser as sre_parse  # type: ignore[attr-defined]
        from re import _constants as sre_constants  # type: ignore[attr-defined]

        tree = sre_parse.parse(src, flags)
    except Exception:  # noqa: BLE001 - any failure just means "no token": the filter still works
        return ()
    literal, at = sre_constants.LITERAL, sre_constants.AT
    at_begin = (sre_constants.AT_BEGINNING, sre_constants.AT_BEGINNING_STRING)
    at_end = (sre_constants.AT_END, sre_constants.AT_END_STRING)
    items = list(tree)
    tokens: list[str] = []
    index = 0
    while index < len(items):
        op, arg = items[index]
        if op is not literal:
            index += 1
            continue
        start = index
        chars = []
        while index < len(items) and items[index][0] is literal:
            chars.append(chr(items[index][1]))
            index += 1
        before = items[start - 1] if start > 0 else None
        after = items[index] if index < len(items) else None
        left = before is not None and before[0] is at and before[1] in at_begin
        right = after is not None and after[0] is at and after[1] in at_end
        for token in pattern_tokens("".join(chars).lower(), left, right):
            if token not in tokens:
                tokens.append(token)
    return tuple(tokens)


def ascii_lower(text: str) -> str:
    """Lowercase ASCII letters only: patterns and URLs are folded the same way, positions kept."""
    if text.isascii():
        return text.lower()
    return text.encode("utf-8", "surrogatepass").lower().decode("utf-8", "surrogatepass")


def _longest_literal(pattern: str) -> str:
    """The longest run of a pattern without `*`/`^`, lowercased: a URL the pattern matches contains it."""
    return ascii_lower(max(_WILDCARDS.split(pattern), key=len))


def _pattern(pattern: str, opts: _Options) -> tuple[int, str, str, int, tuple, str, str]:
    """(kind, pat, tail, extra flags, tokens, host key, needle) for a pattern without options.

    The needle is a lowercased string every matching URL contains (maybe ""): the matcher tests
    it with one `in` before anything costlier.
    """
    match_case = opts.match_case
    if len(pattern) > 2 and pattern[0] == "/" and pattern[-1] == "/":
        src = pattern[1:-1]
        flags = re.ASCII | (0 if match_case else re.IGNORECASE)
        re.compile(src, flags)  # bad regex -> re.error -> malformed
        tokens = regex_tokens(src, flags)
        return K_REGEX, src, "", 0, tokens, "", max(tokens, key=len, default="")
    if any(ch.isspace() for ch in pattern):
        raise _Skip("malformed")
    host_anchor = pattern.startswith("||")
    if host_anchor:
        pattern = pattern[2:]
    start_anchor = not host_anchor and pattern.startswith("|")
    if start_anchor:
        pattern = pattern[1:]
    end_anchor = pattern.endswith("|")
    if end_anchor:
        pattern = pattern[:-1]
    if pattern.startswith("*"):
        host_anchor = start_anchor = False
    if pattern.endswith("*"):
        end_anchor = False
    pattern = re.sub(r"\*\*+", "*", pattern).strip("*")
    lower = ascii_lower(pattern)
    if not match_case:
        pattern = lower
    if not pattern:
        return K_ANY, "", "", 0, (), "", ""
    if host_anchor:
        host = _HOST_PREFIX.match(lower)
        if host:
            rest = pattern[host.end():]
            if rest[:1] in ("^", "/", ":", "?") or (not rest and end_anchor):
                return _host_tail(host.group(0), rest, end_anchor, match_case)
    special = "*" in pattern or "^" in pattern
    tokens = pattern_tokens(lower, host_anchor or start_anchor, end_anchor)
    if not special:
        if host_anchor:
            kind = K_HOSTLIT if not end_anchor else K_HOSTRE
        elif start_anchor:
            kind = K_EXACT if end_anchor else K_START
        else:
            kind = K_END if end_anchor else K_SUB
        if kind != K_HOSTRE:
            return kind, pattern, "", 0, tokens, "", lower
    src = _pattern_regex(pattern, match_case) + (r"\Z" if end_anchor else "")
    if host_anchor:
        return K_HOSTRE, src, "", 0, tokens, "", _longest_literal(pattern)
    return K_RE, ("^" if start_anchor else "") + src, "", 0, tokens, "", _longest_literal(pattern)


def _host_tail(host: str, rest: str, end_anchor: bool, match_case: bool) -> tuple:
    """A `||host<terminator>...` pattern: indexed by host, the rest checked where the host ends."""
    key = "." + host
    if rest in ("", "^") and not end_anchor:
        return K_HOST, "", "", 0, (), key, ""
    # The tail starts with a terminator, so its first token is bounded on the left.
    tokens = pattern_tokens(ascii_lower(rest), False, end_anchor)
    if "*" not in rest and "^" not in rest and not end_anchor:
        return K_HOST, "", rest, 0, tokens, key, ascii_lower(rest)
    tail = _pattern_regex(rest, match_case) + (r"\Z" if end_anchor else "")
    return K_HOST, "", tail, F_TAIL_RE, tokens, key, _longest_literal(rest)


def _parse_network(line: str, list_index: int) -> list[Record]:
    text = line
    exception = line.startswith("@@")
    if exception:
        line = line[2:]
    pattern, option_text = _split_options(line)
    opts = _parse_options(option_text, exception) if option_text is not None else _Options()
    kind, pat, tail, kind_flags, tokens, hostkey, needle = _pattern(pattern, opts)
    if kind == K_ANY and not (
        opts.has_type or opts.domains or opts.to or opts.party or opts.removeparam or opts.redirect
    ):
        raise _Skip("malformed")  # an empty pattern with nothing to restrict it would match everything
    pure_host = kind == K_HOST and not tail and not opts.has_type
    types = _types_mask(opts, pure_host and opts.removeparam is None and opts.redirect is None)
    flags = kind_flags | (F_IMPORTANT if opts.important else 0) | (F_MATCH_CASE if opts.match_case else 0)
    if opts.badfilter:
        return [(-1, 0, "", "", 0, 0, None, None, 0, badfilter_key(text), list_index, None, (), "", False, "")]

    simple = (
        (kind == K_SUB or (kind == K_HOST and not tail))
        and not opts.party and opts.domains is None and opts.to is None and not opts.match_case
    )

    def record(cat: int, extra=None) -> Record:
        return (cat, kind, pat, tail, types, opts.party, opts.domains, opts.to, flags, text,
                list_index, extra, tokens, hostkey, simple, needle)

    if opts.removeparam is not None:
        if opts.redirect is not None:
            raise _Skip("malformed")
        return [record(REMOVEPARAM_ALLOW if exception else REMOVEPARAM, opts.removeparam)]
    if opts.redirect is not None:
        if exception:
            return [record(REDIRECT_ALLOW, opts.redirect)]
        directive = record(REDIRECT, opts.redirect)
        if opts.redirect_rule:
            return [directive]
        return [directive, record(IMPORTANT if opts.important else BLOCK)]
    if exception:
        return [record(ALLOW)]
    return [record(IMPORTANT if opts.important else BLOCK)]


# --- badfilter -----------------------------------------------------------------------------------
def badfilter_key(text: str) -> str:
    """The canonical form of a filter for `badfilter`: options (minus badfilter) sorted, aliases unified."""
    text = text.strip()
    body = text[2:] if text.startswith("@@") else text
    pattern, option_text = _split_options(body)
    prefix = "@@" if text.startswith("@@") else ""
    if option_text is None:
        return prefix + pattern
    names = []
    for raw in _OPTION_SPLIT.split(option_text):
        name, eq, value = raw.strip().partition("=")
        name = _OPTION_ALIASES.get(name.lower(), name.lower())
        if name == "badfilter":
            continue
        if name in ("domain", "to", "denyallow"):
            value = "|".join(sorted(v.strip().lower() for v in value.split("|")))
        names.append(name + eq + value)
    names.sort()
    return prefix + pattern + ("$" + ",".join(names) if names else "")


_OPTION_ALIASES = {
    "3p": "third-party", "~first-party": "third-party", "~1p": "third-party",
    "1p": "first-party", "~third-party": "first-party", "~3p": "first-party",
    "css": "stylesheet", "~css": "~stylesheet", "xhr": "xmlhttprequest", "~xhr": "~xmlhttprequest",
    "frame": "subdocument", "~frame": "~subdocument", "doc": "document", "~doc": "~document",
    "beacon": "ping", "~beacon": "~ping", "from": "domain", "queryprune": "removeparam",
    "object-subrequest": "object", "~object-subrequest": "~object",
}
