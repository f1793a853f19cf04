"""Personal terms: terms the person proffers to every site, and a site's sign that it agrees.

In the spirit of IEEE 7012 (machine-readable personal privacy terms) and Customer Commons'
#NoStalking: the person is the first party and proffers the terms; a site may agree. The terms
ship with whoknows in a small versioned data file (`whoknows/data/personal-terms.json`,
`docs/personal-terms.md`); the person chooses which ones to proffer (`whoknows terms offer`),
kept in the ledger's settings (`PROFFERED_SETTING`), none until they choose.

On the wire (HTTP Structured Fields, RFC 8941 lists, parsed and written with `http_sf`):
- request header `Personal-Terms: nostalking;v=1;url="http://whoknows.proxy/personal-terms/nostalking/1"`
  on every request the proxy lets through (`header_value`);
- response header `Personal-Terms-Agreed: nostalking;v=1`: the site agrees (`agreed_terms`);
- the same list as the body of the site's `/.well-known/personal-terms` (text/plain), recorded only
  when the browser itself fetched it: whoknows makes no request of its own.

The machine-readable copy of each term (`term_document`, JSON-LD) is served by the proxy at
`term_url(term)`; `catalogue_document` lists every shipped term. Neither says anything about the
person: it is the public text of the terms.

`ProfferedTerms` is what the proxy reads on the request path: the chosen terms and their header
value, re-read from the ledger when the ledger changed (at most every `REFRESH_SECONDS`).
"""

from __future__ import annotations

import functools
import json
import logging
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from importlib.resources import files

import http_sf

from .errors import InputError, NotFoundError
from .ledger import Ledger

logger = logging.getLogger("whoknows.personal_terms")

DATA_FILE = "personal-terms.json"
OFFER_HEADER = "Personal-Terms"
AGREED_HEADER = "Personal-Terms-Agreed"
WELL_KNOWN_PATH = "/.well-known/personal-terms"
# The proxy answers this name itself (`proxy_addons.PROXY_HOST`; a test keeps the two equal).
TERMS_HOST = "whoknows.proxy"
TERMS_PATH = "/personal-terms"
PROFFERED_SETTING = "personal_terms.proffered"
AGREEMENT_SOURCES = ("header", "well-known")
# A longer agreement value is not one: it is not parsed (nor is a longer well-known file).
MAX_AGREEMENT_CHARS = 1024
REFRESH_SECONDS = 1.0


@dataclass(frozen=True)
class Term:
    id: str  # a token: `nostalking`
    version: int
    # (compared and hashed by id and version only)
    title: dict[str, str] = field(compare=False)  # by language (en, es)
    summary: dict[str, str] = field(compare=False)
    text: dict[str, tuple[str, ...]] = field(compare=False)
    based_on: tuple[str, ...] = field(compare=False)

    @property
    def key(self) -> str:
        """`nostalking/1`: how the CLI and the settings name one version of a term."""
        return f"{self.id}/{self.version}"


@functools.cache
def shipped_terms() -> tuple[Term, ...]:
    """Every term in the data file, in its order."""
    data = json.loads(files("whoknows").joinpath("data", DATA_FILE).read_text(encoding="utf-8"))
    return tuple(Term(t["id"], int(t["version"]), dict(t["title"]), dict(t["summary"]),
                      {lang: tuple(lines) for lang, lines in t["text"].items()}, tuple(t["based_on"]))
                 for t in data["terms"])


def find_term(name: str) -> Term:
    """`nostalking` (its latest version) or `nostalking/1`; InputError naming the known ones."""
    ident, _, version = name.strip().lower().partition("/")
    matches = [t for t in shipped_terms() if t.id == ident and (not version or str(t.version) == version)]
    if not matches:
        known = ", ".join(t.key for t in shipped_terms())
        raise InputError(f"no personal term {name!r}; whoknows ships {known}")
    return max(matches, key=lambda t: t.version)


def term_url(term: Term) -> str:
    return f"http://{TERMS_HOST}{TERMS_PATH}/{term.id}/{term.version}"


# -- what the person proffers (the ledger's settings) ------------------------------------------


def proffered(ledger: Ledger) -> tuple[Term, ...]:
    """The terms the person chose, in the order chosen; a version no longer shipped is left out."""
    return _terms_of_setting(ledger.get_setting(PROFFERED_SETTING))


def _terms_of_setting(text: str | None) -> tuple[Term, ...]:
    if not text:
        return ()
    try:
        keys = json.loads(text)
    except ValueError:
        logger.warning(f"whoknows: the setting {PROFFERED_SETTING} is not JSON; no personal terms are proffered")
        return ()
    by_key = {t.key: t for t in shipped_terms()}
    return tuple(by_key[k] for k in keys if isinstance(k, str) and k in by_key)


def offer(ledger: Ledger, name: str) -> tuple[Term, bool]:
    """Proffer a term from now on (replacing another version of it); True if that changed anything."""
    term = find_term(name)
    current = proffered(ledger)
    if term in current:
        return term, False
    chosen = [t for t in current if t.id != term.id] + [term]
    ledger.set_setting(PROFFERED_SETTING, json.dumps([t.key for t in chosen]))
    return term, True


def withdraw(ledger: Ledger, name: str | None = None) -> tuple[Term, ...]:
    """Stop proffering one term (by id or id/version) or, with no name, all; the terms withdrawn.
    NotFoundError when the named term is not proffered."""
    current = proffered(ledger)
    if name is None:
        gone = current
    else:
        ident, _, version = name.strip().lower().partition("/")
        gone = tuple(t for t in current if t.id == ident and (not version or str(t.version) == version))
        if not gone:
            raise NotFoundError(f"the term {name!r} is not proffered (see 'whoknows terms')")
    remaining = [t.key for t in current if t not in gone]
    if remaining:
        ledger.set_setting(PROFFERED_SETTING, json.dumps(remaining))
    else:
        ledger.clear_setting(PROFFERED_SETTING)
    return gone


# -- the wire ------------------------------------------------------------------------------------


def header_value(terms: Iterable[Term]) -> str:
    """The `Personal-Terms` request header for these terms ('' for none)."""
    members = [(http_sf.Token(t.id), {"v": t.version, "url": term_url(t)}) for t in terms]
    return http_sf.ser(members) if members else ""


def agreed_terms(value: str | bytes | None, offered: Iterable[Term]) -> tuple[Term, ...]:
    """The offered terms a `Personal-Terms-Agreed` value (or well-known file) agrees to.

    A member agrees to a term when it names the term's id (a token or a string) with its version
    (`v`, an integer). A malformed or oversized value, another version, an unknown or unoffered term
    agree to nothing: only a clear statement counts as agreement."""
    if not value:
        return ()
    if isinstance(value, str):
        value = value.encode("utf-8", "surrogateescape")
    value = value.strip()
    if len(value) > MAX_AGREEMENT_CHARS:
        return ()
    said = _statements(value)
    return tuple(t for t in offered if (t.id, t.version) in said)


# Why (speed only): a site sends the same agreement value on every response; parsing it costs ~10 us.
@functools.lru_cache(maxsize=256)
def _statements(value: bytes) -> frozenset[tuple[str, int]]:
    """The (term id, version) pairs a well-formed list states; empty for a malformed one."""
    try:
        members = http_sf.parse(value, tltype="list")
    except Exception:  # http_sf raises ValueError and others on malformed input
        return frozenset()
    said = set()
    for member in members:
        if not isinstance(member, tuple) or len(member) != 2:
            continue
        name, params = member
        if isinstance(name, (str, http_sf.Token)) and isinstance(params, dict):
            version = params.get("v")
            if isinstance(version, int) and not isinstance(version, bool):
                said.add((str(name).lower(), version))
    return frozenset(said)


# -- the machine-readable copy ------------------------------------------------------------------


def term_document(term: Term) -> dict:
    """One term as JSON-LD (schema.org vocabulary): what the proxy serves at `term_url(term)`."""
    return {
        "@context": "https://schema.org",
        "@type": "DigitalDocument",
        "@id": term_url(term),
        "identifier": term.id,
        "version": term.version,
        "name": term.title["en"],
        "abstract": term.summary["en"],
        "text": " ".join(term.text["en"]),
        "inLanguage": "en",
        "workTranslation": [{"@type": "DigitalDocument", "inLanguage": lang, "name": term.title[lang],
                             "abstract": term.summary[lang], "text": " ".join(term.text[lang])}
                            for lang in sorted(term.text) if lang != "en"],
        "isBasedOn": list(term.based_on),
        "howToAgree": {"responseHeader": f"{AGREED_HEADER}: {term.id};v={term.version}",
                       "wellKnown": WELL_KNOWN_PATH},
    }


def catalogue_document() -> dict:
    """Every shipped term (not which ones the person proffers)."""
    return {"@context": "https://schema.org", "@type": "ItemList",
            "itemListElement": [{"@id": term_url(t), "identifier": t.id, "version": t.version,
                                 "name": t.title["en"]} for t in shipped_terms()]}


def document_for_path(path: str) -> dict | None:
    """The document the proxy serves at `path` under `TERMS_PATH` (None: nothing there)."""
    rest = path.partition("?")[0].removeprefix(TERMS_PATH)
    if rest in ("", "/"):
        return catalogue_document()
    parts = rest.strip("/").split("/")
    if len(parts) == 2:
        for term in shipped_terms():
            if parts == [term.id, str(term.version)]:
                return term_document(term)
    return None


# -- the proxy's view ----------------------------------------------------------------------------


class ProfferedTerms:
    """The chosen terms and their header value, for the request path: `current()` is a
    lock-free read; a reload (when the ledger changed, at most every `REFRESH_SECONDS`) reads one
    settings row. A ledger that cannot be read keeps the last answer (none, at first)."""

    def __init__(self, open_ledger: Callable[[], Ledger], clock: Callable[[], float] = time.monotonic) -> None:
        self._open_ledger = open_ledger
        self._clock = clock
        self._ledger: Ledger | None = None
        self._data_version: int | None = None
        self._next_check = 0.0
        self._lock = threading.Lock()
        self._failing = False
        self.terms: tuple[Term, ...] = ()
        self.header = ""

    def current(self) -> tuple[tuple[Term, ...], str]:
        if self._clock() >= self._next_check and self._lock.acquire(blocking=False):
            try:
                self._next_check = self._clock() + REFRESH_SECONDS
                self._refresh()
            finally:
                self._lock.release()
        return self.terms, self.header

    def _refresh(self) -> None:
        try:
            if self._ledger is None:
                self._ledger = self._open_ledger()
            version = self._ledger.db.execute("PRAGMA data_version").fetchone()[0]
            if version == self._data_version:
                return
            terms = proffered(self._ledger)
            self._data_version = version
        except Exception as exc:  # a broken ledger must not break a request: the last answer stands
            if not self._failing:
                self._failing = True
                logger.error(f"whoknows: cannot read which personal terms to proffer ({exc}); keeping "
                             f"{'none' if not self.terms else header_value(self.terms)}")
            return
        self._failing = False
        self.terms, self.header = terms, header_value(terms)

    def close(self) -> None:
        if self._ledger is not None:
            self._ledger.close()
            self._ledger = None
            self._data_version = None
