"""Third-party frames: which top-level site each frame document belongs to, and what a tracker's frame may keep.

A proxy sees only a request's immediate initiator: a request made inside a frame names the frame
(its `Referer` is the frame's URL, or its origin for a cross-origin request), not the page the
user is on. A tracker's frame embedded in `shop.example` would then be its own first party: its
cookies kept, its requests to itself first-party. `FrameMemory` remembers, for each frame document
the proxy served, the top-level site that embedded it (a frame inside a frame inherits the top
site of its parent), so that a request whose source is a remembered frame belongs to that top-level
site: cookie modes, third-party cookie removal, `allow-3p` and pausing apply per top-level site, as
browsers partition a frame's storage by top-level site.

Lookup (`top_site`): the source URL as it was served (same-origin requests of a frame carry its
full URL), else the source's origin (cross-origin requests carry only that) when that origin was
last served as a frame. An origin last served as a top-level page is a page, not a frame: when the
same origin is open both as a page and as a frame, or framed by two sites at once, requests that
name only the origin go to the most recent (a proxy cannot tell frames of one origin apart). What
is remembered is bounded (`SIZE` URLs and origins, the least recently served dropped first) and
lives in memory only.

A tracker's frame (third party to the top site, and a known tracker: a listed one the lists'
exceptions let through, or one of the built-in tracker directory) is answered with
`SANDBOX_POLICY` as an extra `Content-Security-Policy`: the document runs sandboxed without
`allow-same-origin`, so it gets an opaque origin and no storage of its own at all (`document.cookie`
and `localStorage` throw, IndexedDB and caches refuse), while its scripts, forms and popups (an ad
click) still work. Its requests still go out, with the cookie rules of the top-level site.
"""

from __future__ import annotations

import functools
from urllib.parse import urlsplit

SIZE = 4096
# No `allow-same-origin`: an opaque origin, no cookies or storage. `allow-top-navigation-by-user-
# activation`: an ad the user clicks may still open its page; a frame that navigates the page on its
# own may not.
SANDBOX_POLICY = ("sandbox allow-scripts allow-forms allow-popups allow-popups-to-escape-sandbox "
                  "allow-top-navigation-by-user-activation")
_PAGE = ""  # the value of an origin last served as a top-level page


@functools.lru_cache(maxsize=4096)
def origin_of(url: str) -> str | None:
    """`scheme://host[:port]` of a URL or origin, lowercased; None if it has no host."""
    try:
        parts = urlsplit(url)
        host = parts.hostname
        port = parts.port
    except ValueError:
        return None
    if not host or not parts.scheme:
        return None
    default = {"http": 80, "https": 443, "ws": 80, "wss": 443}.get(parts.scheme.lower())
    shown = f":{port}" if port is not None and port != default else ""
    host = f"[{host}]" if ":" in host else host.lower()
    return f"{parts.scheme.lower()}://{host}{shown}"


def sandboxes(type: str, top_site: str | None, request_site: str | None, tracker: bool) -> bool:
    """Whether a frame document is answered sandboxed: a known tracker's, third party to the top site."""
    return type == "subdocument" and tracker and top_site is not None and request_site != top_site


class FrameMemory:
    """Frame document URLs and origins -> the top-level site that embedded them (see the module)."""

    def __init__(self, size: int = SIZE) -> None:
        self.size = size
        self._urls: dict[str, str] = {}
        self._origins: dict[str, str] = {}

    def __len__(self) -> int:
        return len(self._urls) + len(self._origins)

    def top_site(self, source: str | None) -> str | None:
        """The top-level site of the frame `source` (a URL or an origin) names; None if it names no
        frame the proxy served (a top-level page, or unknown)."""
        if not source or not (self._urls or self._origins):
            return None
        top = self._urls.get(source)
        if top is not None:
            return top
        origin = origin_of(source)
        return self._origins.get(origin) or None if origin else None

    def remember_frame(self, url: str, top_site: str | None) -> None:
        """A frame document at `url` was served inside a page of `top_site`."""
        if not top_site:
            return
        origin = origin_of(url)
        self._store(self._urls, url, top_site)
        if origin:
            self._store(self._origins, origin, top_site)

    def remember_page(self, url: str) -> None:
        """A top-level page at `url` was served: its origin names a page from now on, not a frame."""
        origin = origin_of(url)
        self._urls.pop(url, None)
        if origin and origin in self._origins:
            self._store(self._origins, origin, _PAGE)

    def _store(self, table: dict[str, str], key: str, value: str) -> None:
        table.pop(key, None)
        if len(table) >= self.size:
            del table[next(iter(table))]
        table[key] = value
