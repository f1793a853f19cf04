"""Identifier sharing: a page handing its first-party visitor id to another site.

A site's own cookies often hold an id for the visitor (`_ga`, `_fbp`, a shop's `visitor_id`...).
Third-party cookies are blocked, so trackers ask the page for it instead: its script reads the
first-party cookie and puts the value in a request to the tracker (server-side tagging, "first
party ids", Meta's `fbp` parameter). The proxy sees the first-party cookies go to the site itself
(`Cookie` request headers, `Set-Cookie` response lines), so it knows them; when one of them then
appears in a request from that site's pages to another site, the page is handing the visitor over.

What counts as an identifier (`looks_like_identifier`): a cookie value of 16 to 512 characters,
made only of the characters ids are written with (letters, digits, `.`, `_`, `~`, `+`, `/`, `=`,
`:`, `-`), holding a run of 8 or more letters and digits that mixes both (a hex or base64 token, a
UUID's group), or a run of 10 or more digits (a numeric id, as in `GA1.1.1234567890.1700000000`).
Not identifiers: `true`, `en-US`, `dark`, `1700000000` (a timestamp: short), consent strings in
words (`accepted_all_cookies_2024`: its letter runs hold no digit, its digit runs are short),
anything with spaces, `&` or `,` (preferences, serialised settings).

Where it is looked for: the request's URL (as sent and percent-encoded once more, as scripts send
values with `encodeURIComponent`) and body (first 64 KB), and header values other than `Cookie`
(the cookie addon already keeps a site's cookies from third parties). Case-sensitive, exact.

`FirstPartyIds` keeps, per site, the latest identifier-like value of each cookie name (in memory,
bounded: `MAX_PER_SITE` names per site, `MAX_SITES` sites, least recently seen out first).
`SharedIdentifiers` remembers which third party received which site's identifier: from then on
that third party is a tracker on that site (`whoknows.decision.TrackerKnowledge`). The ledger
keeps what was seen (`whoknows.leak_records`: the `shared_identifiers` table).
"""

from __future__ import annotations

import re
import threading
from collections import OrderedDict
from collections.abc import Iterable, Mapping
from urllib.parse import quote

MIN_ID_LENGTH = 16
MAX_ID_LENGTH = 512
MAX_PER_SITE = 32
MAX_SITES = 1024

_ID_CHARS = re.compile(r"[A-Za-z0-9._~+/=:-]+")
_ALNUM_RUN = re.compile(r"[A-Za-z0-9]{8,}")
_SKIPPED_HEADERS = frozenset({b"cookie", b"host", b":authority"})


def looks_like_identifier(value: str) -> bool:
    """Whether a cookie value is long and random enough to be an id (see the module docstring)."""
    if len(value) >= 2 and value[0] == value[-1] == '"':
        value = value[1:-1]
    if not MIN_ID_LENGTH <= len(value) <= MAX_ID_LENGTH or not _ID_CHARS.fullmatch(value):
        return False
    for run in _ALNUM_RUN.findall(value):
        if run.isdigit():
            if len(run) >= 10:
                return True
        elif not run.isalpha():
            return True
    return False


def _cookie_pairs(header_value: str) -> Iterable[tuple[str, str]]:
    for pair in header_value.split(";"):
        name, equals, value = pair.strip().partition("=")
        if equals:
            yield name.strip(), value.strip()


class FirstPartyIds:
    """The identifier-like cookie values each site set or was sent, by cookie name."""

    def __init__(self, max_sites: int = MAX_SITES, max_per_site: int = MAX_PER_SITE) -> None:
        self.max_sites = max_sites
        self.max_per_site = max_per_site
        self._ids: OrderedDict[str, dict[str, str]] = OrderedDict()
        self._last_header: dict[str, str] = {}  # why (speed only): a page's Cookie header repeats
        self._seen_lines: set[tuple[str, str]] = set()  # (site, Set-Cookie line) already noted
        self._lock = threading.Lock()

    def note_cookie_header(self, site: str, header_value: str) -> None:
        """A `Cookie` header sent to `site` itself."""
        if self._last_header.get(site) == header_value:
            return
        if len(self._last_header) > self.max_sites:
            self._last_header.clear()
        self._last_header[site] = header_value
        for name, value in _cookie_pairs(header_value):
            self.note(site, name, value)

    def note_set_cookies(self, site: str, lines: Iterable[str]) -> None:
        """`Set-Cookie` lines of a response from `site` itself (a line seen before is skipped)."""
        from .cookies import parse_set_cookie

        seen = self._seen_lines
        for line in lines:
            key = (site, line)
            if key in seen:
                continue  # why (speed only): sites send the same few lines over and over
            if len(seen) >= 4 * self.max_sites:
                seen.clear()
            seen.add(key)
            cookie = parse_set_cookie(line)
            if cookie.problem is None and cookie.name:
                self.note(site, cookie.name, cookie.value)

    def note(self, site: str, name: str, value: str) -> None:
        """A cookie of `site` (a `Set-Cookie` line's name and value, or one pair of a `Cookie` header)."""
        if not looks_like_identifier(value):
            return
        if len(value) >= 2 and value[0] == value[-1] == '"':
            value = value[1:-1]
        with self._lock:
            ids = self._ids.get(site)
            if ids is None:
                ids = self._ids[site] = {}
                while len(self._ids) > self.max_sites:
                    self._ids.popitem(last=False)
            else:
                self._ids.move_to_end(site)
            ids.pop(name, None)
            ids[name] = value
            while len(ids) > self.max_per_site:
                del ids[next(iter(ids))]

    def of(self, site: str | None) -> dict[str, str]:
        if site is None:
            return {}
        with self._lock:
            return dict(self._ids.get(site, {}))

    def find(self, site: str | None, url: str, fields: Iterable[tuple[bytes, bytes]] = (),
             body: bytes = b"") -> list[str]:
        """Names of `site`'s identifier cookies whose value is in this request (URL, header values
        other than Cookie, body), in the order they were first seen."""
        ids = self._ids.get(site) if site is not None else None
        if not ids:
            return []
        values = [value for name, value in fields if name.lower() not in _SKIPPED_HEADERS] if fields else []
        found = []
        for name, value in list(ids.items()):
            if carried(value, url, values, body):
                found.append(name)
        return found


def carried(value: str, url: str, header_values: Iterable[bytes] = (), body: bytes = b"") -> bool:
    """Whether `value` is in the URL, a header value or the body, as is or percent-encoded."""
    encoded = quote(value, safe="")
    forms = (value,) if encoded == value else (value, encoded)
    for form in forms:
        if form in url:
            return True
        raw = form.encode("utf-8")
        if body and raw in body:
            return True
        if any(raw in header for header in header_values):
            return True
    return False


def carries_text(values: Iterable[str]):
    """A `carries(text)` for `whoknows.scrub`: the text holds one of `values` (or its encoding)."""
    values = tuple(values)

    def carries(text: str) -> bool:
        return any(carried(value, text) for value in values)

    return carries


class SharedIdentifiers:
    """Which third parties received which site's identifiers: trackers on that site from then on.

    `tracker_reason` makes it a `whoknows.decision.TrackerKnowledge`."""

    def __init__(self, known: Mapping[tuple[str, str], str] | None = None) -> None:
        self._pairs: dict[tuple[str, str], str] = dict(known or {})

    def add(self, page_site: str, recipient_site: str, cookie_name: str) -> bool:
        """Remember it; True if the pair is new."""
        key = (page_site, recipient_site)
        if key in self._pairs:
            return False
        self._pairs[key] = cookie_name
        return True

    def replace_all(self, known: Mapping[tuple[str, str], str]) -> None:
        self._pairs = {**known, **self._pairs}

    def cookie_for(self, page_site: str | None, recipient_site: str | None) -> str | None:
        return self._pairs.get((page_site, recipient_site)) if self._pairs else None

    def tracker_reason(self, description) -> str | None:
        cookie = self.cookie_for(description.site, description.request_site)
        if cookie is None:
            return None
        return f"received {description.site}'s identifier cookie {cookie} (identifier sharing)"

    def let_in_reason(self, description) -> str | None:
        return None  # a site's identifier recipient is never let in here (`site allow-3p` is)

    def __len__(self) -> int:
        return len(self._pairs)
