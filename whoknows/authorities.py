"""The data protection authorities of the EU/EEA countries, and which one is yours.

A complaint under GDPR Art. 77 may be lodged "in the Member State of [your] habitual residence":
the user's country is a setting (the ledger's `settings` table, key `country`), and the authority
of that country comes from the shipped table `data/authorities.json.gz` (built by
`scripts/build_authorities.py`, which names its source: the members of the EDPB).

Each authority has a `web` page (its home page, where its complaint form is reached), and an
`email` and a postal `address` where those could be confirmed (None otherwise: never guessed).
"""

from __future__ import annotations

import gzip
import json
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from .errors import InputError, WhoknowsError
from .ledger import Ledger

DATA_FILE = Path(__file__).resolve().parent / "data" / "authorities.json.gz"
FORMAT = "whoknows-authorities-1"
COUNTRY_SETTING = "country"

# The EU member states and the EEA countries (Iceland, Liechtenstein, Norway), by ISO 3166-1 code.
COUNTRIES = {
    "AT": "Austria", "BE": "Belgium", "BG": "Bulgaria", "CY": "Cyprus", "CZ": "Czechia", "DE": "Germany",
    "DK": "Denmark", "EE": "Estonia", "ES": "Spain", "FI": "Finland", "FR": "France", "GR": "Greece",
    "HR": "Croatia", "HU": "Hungary", "IE": "Ireland", "IS": "Iceland", "IT": "Italy", "LI": "Liechtenstein",
    "LT": "Lithuania", "LU": "Luxembourg", "LV": "Latvia", "MT": "Malta", "NL": "Netherlands", "NO": "Norway",
    "PL": "Poland", "PT": "Portugal", "RO": "Romania", "SE": "Sweden", "SI": "Slovenia", "SK": "Slovakia",
}
# The EU's own abbreviation for Greece is EL (ISO: GR); both are accepted.
_SPELLINGS = {"EL": "GR"}


@dataclass(frozen=True)
class Authority:
    country: str
    name: str
    own_name: str
    address: tuple[str, ...] | None
    email: str | None
    web: str
    note: str | None

    @property
    def contact(self) -> str:
        """Where a complaint is sent: the email address, else the web page (its form)."""
        return self.email or self.web


@lru_cache(maxsize=1)
def _document() -> dict:
    try:
        document = json.loads(gzip.decompress(DATA_FILE.read_bytes()))
    except OSError as exc:
        raise WhoknowsError(f"cannot read the table of data protection authorities {DATA_FILE}: {exc}") from None
    if document.get("format") != FORMAT:
        raise WhoknowsError(f"{DATA_FILE} has format {document.get('format')!r}, this whoknows reads {FORMAT}")
    return document


def source() -> str:
    """Where the table comes from (as the build script names it)."""
    return _document()["source"]


def all_authorities() -> dict[str, Authority]:
    return {country: _authority(country, entry) for country, entry in sorted(_document()["authorities"].items())}


def authority_by_contact(contact: str | None) -> str | None:
    """The name of the authority whose email address or web page `contact` is (where a complaint
    went, as the ledger records it); None when no authority in the table has it."""
    if contact is None:
        return None
    for authority in all_authorities().values():
        if contact.lower() in {authority.web.lower(), (authority.email or "").lower()}:
            return authority.name
    return None


def _authority(country: str, entry: dict) -> Authority:
    address = tuple(entry["address"]) if entry.get("address") else None
    return Authority(country, entry["name"], entry["own_name"], address, entry.get("email"), entry["web"],
                     entry.get("note"))


def country_code(text: str) -> str:
    """`es`, ` ES ` or `EL` as an EU/EEA country code (`ES`, `GR`); InputError listing them otherwise."""
    code = text.strip().upper()
    code = _SPELLINGS.get(code, code)
    if code not in COUNTRIES:
        known = ", ".join(f"{c} ({name})" for c, name in COUNTRIES.items())
        raise InputError(f"{text.strip()!r} is not an EU/EEA country code; use one of {known}")
    return code


def authority_for(country: str) -> Authority:
    code = country_code(country)
    return _authority(code, _document()["authorities"][code])


# -- the setting -------------------------------------------------------------------------------


def get_country(ledger: Ledger) -> str | None:
    return ledger.get_setting(COUNTRY_SETTING)


def set_country(ledger: Ledger, text: str) -> str:
    """Set the user's country (checked: `country_code`); returns its code."""
    code = country_code(text)
    ledger.set_setting(COUNTRY_SETTING, code)
    return code


def clear_country(ledger: Ledger) -> None:
    ledger.clear_setting(COUNTRY_SETTING)


def your_authority(ledger: Ledger) -> Authority:
    """The authority of the user's country; WhoknowsError saying how to set it when it is not set."""
    country = get_country(ledger)
    if country is None:
        raise WhoknowsError("your country is not set, so whoknows does not know your data protection authority: "
                            "set it with 'whoknows settings country CODE' (e.g. ES, DE, FR)")
    return authority_for(country)


__all__ = [
    "Authority", "COUNTRIES", "COUNTRY_SETTING", "DATA_FILE", "FORMAT", "all_authorities", "authority_by_contact", "authority_for",
    "clear_country", "country_code", "get_country", "set_country", "source", "your_authority",
]
