"""Cookies: read `Set-Cookie` lines the way a browser does, and rewrite them to the user's policy.

The parser follows the user agent's algorithm of RFC 6265 section 5.2 as updated by RFC 6265bis
(what Chromium and Firefox implement today), on the raw header line: one line is one cookie, so
commas in values are just bytes (mitmproxy's own parser splits on commas and lets Expires override
Max-Age; browsers do neither). Where the two RFCs differ we take 6265bis, which is Chromium's
behaviour:
- a name-value pair without `=` is a cookie with an empty name whose value is the whole pair
  (`Set-Cookie: abc` stores `""="abc"`; RFC 6265 ignored the line);
- a line with control characters (other than tab) is ignored, and so is one whose name and value
  together exceed 4096 octets, or whose name and value are both empty;
- an attribute value longer than 1024 octets is ignored.

Rewrites cut attributes out by their byte spans (from the `;` that introduces an attribute to the
next `;`), so every byte the policy does not ask to change stays as it was.

Lifetimes, in seconds, are read two ways. `SetCookie.lifetime` is the standard reading (the last
*valid* Max-Age wins over the last valid Expires) and is what is reported as asked. Browsers do not
all agree with it on hostile lines (Chromium and Firefox take the last Max-Age even when it is
invalid and then fall back to Expires; Chromium falls back to a looser date parser when its own
rejects a date), so the policy decides on `SetCookie.longest_lifetime`: the longest lifetime any
occurrence of Expires or Max-Age could give, an Expires date we cannot read counting as forever.
A line that could outlive the policy in *some* browser is rewritten into an unambiguous one.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Collection, Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timezone
from functools import lru_cache
from typing import NamedTuple

from .errors import InputError

DAY_SECONDS = 86400
# Browsers keep no cookie longer than 400 days (RFC 6265bis 5.5, Chromium since 2022): a longer cap
# would promise something no browser does.
MAX_CAP_DAYS = 400
MAX_NAME_VALUE_OCTETS = 4096
MAX_ATTRIBUTE_VALUE_OCTETS = 1024
# Max-Age values longer than this are "forever" anyway, and int() refuses strings over 4300 digits.
_MAX_AGE_DIGITS = 20

_WSP = " \t"
_LIFETIME_KEYS = frozenset(("expires", "max-age"))
_CONTROL = re.compile(r"[\x00-\x08\x0a-\x1f\x7f]")
_STRICT_INT = re.compile(r"-?([0-9]+)")
_LENIENT_INT = re.compile(r"[+-]?([0-9]+)")
_HIDDEN_PREFIX = re.compile(r"__(?:secure|host)-", re.IGNORECASE)


# --- parsing ----------------------------------------------------------------------------------------


class CookieAttribute(NamedTuple):
    """One `; name=value` attribute: its text (without surrounding whitespace) and its span."""

    name: str
    key: str  # the name lowercased (ASCII only), for case-insensitive comparison
    value: str
    start: int  # index of the `;` that introduces it
    end: int  # index just past it: the next `;` or the end of the line


class SetCookie(NamedTuple):
    """One parsed `Set-Cookie` line. `problem` says why a browser would store nothing from it."""

    line: str
    name: str
    value: str
    pair_end: int  # where the name-value pair ends: the first `;` or the end of the line
    attributes: tuple[CookieAttribute, ...]
    problem: str | None

    def lifetime(self, now: datetime | None = None) -> int | None:
        """Seconds the cookie asks to live by the standard reading; None for a session cookie.

        Zero or less means "delete it now". Max-Age wins over Expires; among several of one kind the
        last valid one wins (invalid ones are ignored, RFC 6265 5.2.1/5.2.2).
        """
        max_age: int | None = None
        expires: datetime | None = None
        for attribute in self.attributes:
            if attribute.key == "max-age":
                seconds = _strict_max_age(attribute.value)
                if seconds is not None:
                    max_age = seconds
            elif attribute.key == "expires" and _octets(attribute.value) <= MAX_ATTRIBUTE_VALUE_OCTETS:
                date = parse_cookie_date(attribute.value)
                if date is not None:
                    expires = date
        if max_age is not None:
            return max_age
        if expires is not None:
            return _seconds_until(expires, _utc(now))
        return None

    def longest_lifetime(self, now: datetime | None = None) -> float | None:
        """The longest lifetime any browser could read into this line; None if it cannot persist.

        When the last Max-Age is valid every browser obeys it. Otherwise every Expires and Max-Age
        counts, whatever its position; a Max-Age counts by its leading integer (`10abc` is 10); a
        non-empty Expires we cannot read counts as `math.inf`.
        """
        last_max_age = next((a for a in reversed(self.attributes) if a.key == "max-age"), None)
        if last_max_age is not None:
            seconds = _strict_max_age(last_max_age.value)
            if seconds is not None:
                return seconds
        now = _utc(now)
        longest: float | None = None
        for attribute in self.attributes:
            if attribute.key == "max-age":
                seconds: float | None = _lenient_max_age(attribute.value)
            elif attribute.key == "expires" and attribute.value:
                date = parse_cookie_date(attribute.value)
                seconds = math.inf if date is None else _seconds_until(date, now)
            else:
                continue
            if seconds is not None and (longest is None or seconds > longest):
                longest = seconds
        return longest

    def with_lifetime(self, max_age: int | None) -> str:
        """This line with every Expires and Max-Age cut out and, unless None, `; Max-Age=N` put
        right after the name-value pair. Every other byte is kept."""
        line = self.line
        pieces = [line[: self.pair_end]]
        if max_age is not None:
            pieces.append(f"; Max-Age={max_age}")
        position = self.pair_end
        for attribute in self.attributes:
            if attribute.key in _LIFETIME_KEYS:
                pieces.append(line[position : attribute.start])
                position = attribute.end
        pieces.append(line[position:])
        return "".join(pieces)


def parse_set_cookie(line: str) -> SetCookie:
    """Parse one `Set-Cookie` header value (never raises; see `SetCookie.problem`)."""
    pair_end = line.find(";")
    if pair_end < 0:
        pair_end = len(line)
    pair = line[:pair_end]
    equals = pair.find("=")
    if equals < 0:  # RFC 6265bis / Chromium: a nameless cookie
        name, value = "", pair.strip(_WSP)
    else:
        name, value = pair[:equals].strip(_WSP), pair[equals + 1 :].strip(_WSP)
    attributes = _parse_attributes(line, pair_end)
    return SetCookie(line, name, value, pair_end, attributes, _problem(line, name, value))


def _parse_attributes(line: str, start: int) -> tuple[CookieAttribute, ...]:
    attributes = []
    length = len(line)
    while start < length:
        end = line.find(";", start + 1)
        if end < 0:
            end = length
        text = line[start + 1 : end]
        equals = text.find("=")
        if equals < 0:
            name, value = text.strip(_WSP), ""
        else:
            name, value = text[:equals].strip(_WSP), text[equals + 1 :].strip(_WSP)
        if name:  # `;;` and a trailing `;` are empty attributes: they mean nothing
            attributes.append(CookieAttribute(name, _ascii_lower(name), value, start, end))
        start = end
    return tuple(attributes)


def _problem(line: str, name: str, value: str) -> str | None:
    if _CONTROL.search(line):
        return "control character in the line"
    if not name and not value:
        return "empty name and value"
    if _octets(name) + _octets(value) > MAX_NAME_VALUE_OCTETS:
        return f"name and value longer than {MAX_NAME_VALUE_OCTETS} octets"
    if not name and _HIDDEN_PREFIX.match(value):
        # A nameless cookie must not look like a `__Secure-`/`__Host-` one (RFC 6265bis 5.7 step 22).
        return "nameless cookie with a __Secure-/__Host- prefix"
    return None


def _ascii_lower(text: str) -> str:
    # Attribute names compare ASCII-case-insensitively; str.lower() would also fold e.g. the Kelvin sign.
    return text.lower() if text.isascii() else text


def _octets(text: str) -> int:
    """Length on the wire. mitmproxy decodes header bytes as UTF-8 with surrogateescape; a latin-1
    decoded value with non-ASCII bytes counts a little long, which only matters at the size limits."""
    if text.isascii():
        return len(text)
    try:
        return len(text.encode("utf-8", "surrogateescape"))
    except UnicodeEncodeError:
        return len(text.encode("utf-8", "surrogatepass"))


def _strict_max_age(value: str) -> int | None:
    """RFC 6265 5.2.2: an optional `-` then digits only, else the attribute is ignored."""
    if _octets(value) > MAX_ATTRIBUTE_VALUE_OCTETS:
        return None
    match = _STRICT_INT.fullmatch(value)
    if match is None:
        return None
    return _bounded_int(value[0] == "-", match.group(1))


def _lenient_max_age(value: str) -> int | None:
    match = _LENIENT_INT.match(value)
    if match is None:
        return None
    return _bounded_int(value[0] == "-", match.group(1))


def _bounded_int(negative: bool, digits: str) -> int:
    number = int(digits) if len(digits) <= _MAX_AGE_DIGITS else 10**_MAX_AGE_DIGITS
    return -number if negative else number


def _utc(now: datetime | None) -> datetime:
    """`now` as an aware UTC time; a naive time is taken to be UTC already; None is the clock."""
    if now is None:
        return datetime.now(timezone.utc)
    if now.tzinfo is None:
        return now.replace(tzinfo=timezone.utc)
    return now


def _seconds_until(moment: datetime, now: datetime) -> int:
    return math.floor((moment - now).total_seconds())


# --- cookie dates (RFC 6265 5.1.1) ------------------------------------------------------------------

_DATE_TOKEN = re.compile(r"[^\x09\x20-\x2f\x3b-\x40\x5b-\x60\x7b-\x7e]+")
_TIME = re.compile(r"([0-9]{1,2}):([0-9]{1,2}):([0-9]{1,2})(?![0-9])")
_DAY_OF_MONTH = re.compile(r"[0-9]{1,2}(?![0-9])")
_YEAR = re.compile(r"[0-9]{2,4}(?![0-9])")
_MONTHS = {name: number for number, name in enumerate(
    ("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"), start=1)}


def parse_cookie_date(text: str) -> datetime | None:
    """An Expires value as an aware UTC datetime, or None if the RFC 6265 algorithm rejects it.

    The algorithm is deliberately tolerant: it looks for a time, a day, a month and a year among
    the tokens in any order and ignores the rest (`Wed, 09 Jun 2021 10:18:14 GMT`,
    `Wednesday, 09-Jun-21 10:18:14 GMT` and `Jun 9 10:18:14 2021` are all the same date).
    Two-digit years 70-99 are 19xx and 0-69 are 20xx; years before 1601 are rejected.
    """
    # Servers repeat the same few Expires strings; odd long ones are not worth a cache slot.
    return _cached_cookie_date(text) if len(text) <= 64 else _cookie_date(text)


def _cookie_date(text: str) -> datetime | None:
    time = day = month = year = None
    for token in _DATE_TOKEN.findall(text):
        if time is None and (match := _TIME.match(token)):
            time = (int(match.group(1)), int(match.group(2)), int(match.group(3)))
        elif day is None and (match := _DAY_OF_MONTH.match(token)):
            day = int(match.group())
        elif month is None and len(token) >= 3 and token[:3].lower() in _MONTHS:
            month = _MONTHS[token[:3].lower()]
        elif year is None and (match := _YEAR.match(token)):
            year = int(match.group())
    if time is None or day is None or month is None or year is None:
        return None
    if 70 <= year <= 99:
        year += 1900
    elif 0 <= year <= 69:
        year += 2000
    hour, minute, second = time
    if not 1 <= day <= 31 or year < 1601 or hour > 23 or minute > 59 or second > 59:
        return None
    try:
        return datetime(year, month, day, hour, minute, second, tzinfo=timezone.utc)
    except ValueError:  # 31 Feb and the like
        return None


_cached_cookie_date = lru_cache(maxsize=4096)(_cookie_date)


# --- modes -------------------------------------------------------------------------------------------

# The cookie modes, defined here once. Derived from this: `parse_cookie_mode`, the spelling in error
# messages (`MODE_SPELLING`: the CLI, the control API, import). Checked against it by
# tests/test_cookie_modes.py: the ledger's CHECK constraint (a migration: frozen SQL), the
# extension's choices (plain JS), the CLI's help and the docs. docs/architecture.md says what to
# touch to add one.
MODE_KINDS = ("allow", "session", "cap", "block")
_SPELLED = ["cap:DAYS" if kind == "cap" else kind for kind in MODE_KINDS]
MODE_SPELLING = ", ".join(_SPELLED[:-1]) + f" or {_SPELLED[-1]}"  # allow, session, cap:DAYS or block


@dataclass(frozen=True, slots=True)
class CookieMode:
    """What to do with a site's cookies: `allow` them, make them `session` cookies, `cap` their
    lifetime at `cap_days`, or `block` them both ways."""

    kind: str
    cap_days: int = 0

    def __str__(self) -> str:
        return f"cap:{self.cap_days}" if self.kind == "cap" else self.kind

    @property
    def cap_seconds(self) -> int:
        return self.cap_days * DAY_SECONDS


ALLOW = CookieMode("allow")
SESSION = CookieMode("session")
BLOCK = CookieMode("block")
TRACKER_DEFAULT = CookieMode("cap", 7)
_WITHOUT_DAYS = {mode.kind: mode for mode in (ALLOW, SESSION, BLOCK)}

_MODE_HELP = "use " + MODE_SPELLING.replace("cap:DAYS", "cap:DAYS (e.g. cap:7)")


def parse_cookie_mode(text: str | CookieMode) -> CookieMode:
    """`allow`, `session`, `block` or `cap:N` (N whole days, 1 to 400), case-insensitive."""
    if isinstance(text, CookieMode):
        return text
    spec = text.strip().lower()
    if not spec:
        raise InputError(f"cookie mode is empty; {_MODE_HELP}")
    if spec in _WITHOUT_DAYS:
        return _WITHOUT_DAYS[spec]
    kind, colon, days = spec.partition(":")
    if kind.strip() != "cap":
        raise InputError(f"unknown cookie mode {text.strip()!r}; {_MODE_HELP}")
    days = days.strip()
    if not colon or not days:
        raise InputError(f"cookie mode {text.strip()!r} needs a number of days, e.g. cap:7")
    if not re.fullmatch(r"[0-9]+", days):
        raise InputError(f"cookie mode {text.strip()!r}: the cap is a whole number of days, e.g. cap:7")
    number = int(days[:6])  # anything that long is over the limit anyway
    if number < 1:
        raise InputError(f"cookie mode {text.strip()!r}: the cap must be at least 1 day "
                         "(use session for cookies that end with the browser session)")
    if number > MAX_CAP_DAYS or len(days) > 6:
        raise InputError(f"cookie mode {text.strip()!r}: the cap can be at most {MAX_CAP_DAYS} days "
                         "(browsers keep no cookie longer; use allow)")
    return CookieMode("cap", number)


# --- rewriting ---------------------------------------------------------------------------------------


class RewriteResult(NamedTuple):
    """What became of one `Set-Cookie` line.

    `line` is the line to send on (the same string object when unchanged) or None to drop it.
    Lifetimes are seconds (None = session cookie, <= 0 = deletion); `asked` is the standard reading
    of the original line, `granted` of the line sent on (None when dropped). `malformed` means a
    browser stores nothing from the original line.
    """

    line: str | None
    name: str
    asked_lifetime_seconds: int | None
    granted_lifetime_seconds: int | None
    changed: bool
    malformed: bool


def rewrite_set_cookie(line: str, mode: CookieMode, now: datetime | None = None) -> RewriteResult:
    """Apply `mode` to one `Set-Cookie` line.

    - allow: untouched.
    - block: dropped (malformed lines too: nothing is set either way).
    - session: a line that could persist in any browser loses every Expires and Max-Age.
      Deletions (lifetime <= 0) stay as they are, so logging out still clears cookies.
    - cap:N: a line that could outlive N days in any browser loses every Expires and Max-Age and
      gets `Max-Age=<the shorter of its asked lifetime and N days>` after its name-value pair.
      Max-Age rather than Expires because it is relative (no clock skew between server, proxy and
      browser) and wins over Expires in every current browser; removing Expires as well leaves no
      second opinion for a browser to prefer. A session cookie stays a session cookie.
    Malformed lines get the same treatment: a browser that rejects them does not mind, one that
    tolerates them (older Chromium truncated at control characters) must not escape the policy.
    """
    cookie = _parsed_set_cookie(line)
    asked = cookie.lifetime(now)
    malformed = cookie.problem is not None
    if mode.kind == "allow":
        return RewriteResult(line, cookie.name, asked, asked, False, malformed)
    if mode.kind == "block":
        return RewriteResult(None, cookie.name, asked, None, True, malformed)
    limit = 0 if mode.kind == "session" else mode.cap_seconds
    longest = cookie.longest_lifetime(now)
    if longest is None or longest <= limit:
        return RewriteResult(line, cookie.name, asked, asked, False, malformed)
    granted = _granted_lifetime(asked, mode)
    return RewriteResult(cookie.with_lifetime(granted), cookie.name, asked, granted, True, malformed)


_cached_parse_set_cookie = lru_cache(maxsize=2048)(parse_set_cookie)


def _parsed_set_cookie(line: str) -> SetCookie:
    """`parse_set_cookie(line)`, from a cache for lines of ordinary length.

    Why (speed only): sites send the same few `Set-Cookie` lines over and over; a `SetCookie` is
    immutable and depends on the line alone (lifetimes, which depend on the clock, are not cached)."""
    return _cached_parse_set_cookie(line) if len(line) <= 512 else parse_set_cookie(line)


def _granted_lifetime(asked: int | None, mode: CookieMode) -> int | None:
    if asked is None:
        return None
    if asked <= 0:
        return 0  # a deletion stays a deletion
    if mode.kind == "session":
        return None
    return min(asked, mode.cap_seconds)


# --- first and third parties -------------------------------------------------------------------------


def is_third_party(page_site: str | None, request_site: str | None) -> bool:
    """A request is third-party when its site differs from the page's. An unknown page site (None:
    a navigation, or no Referer/Origin to tell) counts as first-party: the request is the page."""
    return page_site is not None and request_site != page_site


def decide_request_cookies(page_site: str | None, request_site: str | None, mode: CookieMode,
                           allowed_third_parties: Collection[tuple[str, str]] = ()) -> bool:
    """Whether a request keeps its `Cookie` header (and a response its `Set-Cookie` lines).

    `mode` is the request site's mode; `allowed_third_parties` holds (page site, request site)
    pairs whose third-party cookies the user allows (single sign-on, payments).
    """
    if mode.kind == "block":
        return False
    if not is_third_party(page_site, request_site):
        return True
    return (page_site, request_site) in allowed_third_parties


def strictness(mode: CookieMode) -> float:
    """Orders modes from the one keeping cookies longest (allow) to the one keeping none (block)."""
    if mode.kind == "cap":
        return 1 + 1 / mode.cap_days
    return {"allow": 0, "session": 3, "block": 4}[mode.kind]


class CookiePolicy:
    """The user's cookie policy: defaults, per-site modes and third-party exceptions.

    A site's mode is keyed by the site that owns the cookies (the request's site). Order of
    precedence: third-party cookies are blocked unless the (page site, request site) pair is an
    exception; then the site's own mode; then, for known trackers, the stricter of `tracker_mode`
    (cap:7) and `default_mode`; then `default_mode` (allow unless the user set a default,
    `whoknows site cookies --default`).
    """

    def __init__(self, site_modes: Mapping[str, str | CookieMode] | None = None,
                 allowed_third_parties: Iterable[tuple[str, str]] = (),
                 tracker_mode: str | CookieMode = TRACKER_DEFAULT,
                 default_mode: str | CookieMode = ALLOW) -> None:
        self.site_modes = {
            site.lower(): parse_cookie_mode(mode) for site, mode in (site_modes or {}).items()}
        self.allowed_third_parties = frozenset(
            (page.lower(), other.lower()) for page, other in allowed_third_parties)
        self.tracker_mode = parse_cookie_mode(tracker_mode)
        self.default_mode = parse_cookie_mode(default_mode)
        self.default_set = self.default_mode != ALLOW  # the user chose a default other than allow

    def for_response(self, page_site: str | None, request_site: str | None,
                     is_tracker: bool) -> CookieMode:
        """The mode for the `Set-Cookie` lines of a response (and the request's `Cookie` header).
        Sites are compared as `sites.site_of` gives them (lowercase)."""
        return self.explain(page_site, request_site, is_tracker)[0]

    def explain(self, page_site: str | None, request_site: str | None,
                is_tracker: bool) -> tuple[CookieMode, str]:
        """`for_response`'s mode and the reason for it, in words."""
        if is_third_party(page_site, request_site):
            if (page_site, request_site) not in self.allowed_third_parties:
                return BLOCK, f"third party on {page_site}: no cookies either way"
            lead = f"allowed third party on {page_site}; "
        else:
            lead = ""
        mode = self.site_modes.get(request_site) if request_site is not None else None
        if mode is not None:
            return mode, f"{lead}{request_site}'s own cookie mode"
        if is_tracker and strictness(self.tracker_mode) > strictness(self.default_mode):
            return self.tracker_mode, f"{lead}a known tracker's cookies are capped"
        if self.default_set:
            return self.default_mode, f"{lead}the default cookie mode ('whoknows site cookies --default')"
        return self.default_mode, f"{lead}no cookie mode set: cookies as the site sets them"

    def keeps_request_cookies(self, page_site: str | None, request_site: str | None,
                              is_tracker: bool) -> bool:
        """Whether the request's `Cookie` header goes on (only `block` removes it)."""
        return self.for_response(page_site, request_site, is_tracker).kind != "block"


# --- the Cookie request header -----------------------------------------------------------------------


def cookie_names(header_value: str) -> tuple[str, ...]:
    """Names of the cookies in a `Cookie` request header, in order (a nameless cookie is "")."""
    names = []
    for pair in header_value.split(";"):
        if pair.strip(_WSP):
            names.append(_pair_name(pair))
    return tuple(names)


def filter_cookie_header(header_value: str, keep: bool | Callable[[str], bool]) -> str | None:
    """The `Cookie` header to send on: all of it (the same string), none of it (None), or only the
    cookies whose name `keep(name)` accepts, the kept pairs byte for byte and in order."""
    if keep is True:
        return header_value
    if keep is False:
        return None
    pairs = header_value.split(";")
    kept = [pair for pair in pairs if not pair.strip(_WSP) or keep(_pair_name(pair))]
    if len(kept) == len(pairs):
        return header_value
    kept = [pair for pair in kept if pair.strip(_WSP)]
    if not kept:
        return None
    return ";".join(kept).lstrip(_WSP)


def _pair_name(pair: str) -> str:
    equals = pair.find("=")
    return "" if equals < 0 else pair[:equals].strip(_WSP)
