"""A value's form: how a disclosed or own value is checked, stored and compared.

One definition for the two places that take values: disclosures (`whoknows tell`, the proxy, mail
scans) and your own values (`whoknows me add`). `clean_value` is the form the ledger stores (an
InputError when the value is not of its kind); `normalised` is the form two spellings of one value
share ("+34 600 111 222" and "0034600111222"), the one `whoknows.me` hashes to find a value.

Phone separators are the ones the ledger's `match_key` strips (`ledger.PHONE_SEPARATORS`: space,
`-`, `.`, `(`, `)`, `/`). Not any whitespace: a tab or a no-break space would pass here yet never
match in SQLite, so a value with one is refused as not a phone number instead.
"""

import re
import unicodedata
from datetime import date

from .errors import InputError
from .ledger import PHONE_SEPARATORS

MAX_VALUE_LENGTH = 1000
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+$")
_PHONE_DIGITS = re.compile(r"^\+?[0-9]{4,20}$")  # once the separators are gone
_PHONE_SEPARATORS = re.compile("[" + re.escape(PHONE_SEPARATORS) + "]")
_CARD_CANDIDATE = re.compile(r"\d(?:[ -]?\d){12,18}")
_MONTH_DAY = re.compile(r"^-{0,2}(\d\d)-(\d\d)$")


class RefusedSecret(InputError):
    """A value refused because it must not be stored; its error does not repeat the value."""


def clean_value(kind: str, value: str) -> str:
    """The value as the ledger stores it; raises InputError when it is not a `kind`."""
    value = unicodedata.normalize("NFC", value).strip()
    if not value:
        raise InputError(f"{kind} needs a value")
    if len(value) > MAX_VALUE_LENGTH:
        raise InputError(f"value longer than {MAX_VALUE_LENGTH} characters")
    if any(unicodedata.category(char) == "Cc" for char in value.replace("\n", " ").replace("\t", " ")):
        raise InputError("value contains control characters")
    cleaner = _CLEANERS.get(kind, _clean_text)
    return cleaner(value)


def _clean_text(value: str) -> str:
    return " ".join(value.split())


def _clean_email(value: str) -> str:
    value = value.lower()
    if not _EMAIL.match(value):
        raise InputError(f"{value!r} is not an email address")
    return value


def _clean_phone(value: str) -> str:
    if not _PHONE_DIGITS.match(_PHONE_SEPARATORS.sub("", value)):
        raise InputError(f"{value!r} is not a phone number (digits, an optional leading +, separators)")
    return value  # kept as given; the ledger matches on its normalised form


def _clean_birthday(value: str) -> str:
    try:
        return date.fromisoformat(value).isoformat()
    except ValueError:
        pass
    month_day = _MONTH_DAY.match(value)
    if month_day:
        try:
            date(2000, int(month_day[1]), int(month_day[2]))  # a leap year: 02-29 is a birthday
        except ValueError:
            pass
        else:
            return f"--{month_day[1]}-{month_day[2]}"
    raise InputError(f"{value!r} is not a date (YYYY-MM-DD, or MM-DD without the year)")


def _luhn_valid(digits: str) -> bool:
    total = 0
    for position, char in enumerate(reversed(digits)):
        digit = int(char)
        if position % 2:
            digit = digit * 2 - 9 if digit > 4 else digit * 2
        total += digit
    return total % 10 == 0


def _clean_payment(value: str) -> str:
    # The ledger records *that* a vendor has your card, not the card: a full number is refused
    # (and not echoed back, so it does not land in the terminal's scrollback twice).
    for candidate in _CARD_CANDIDATE.findall(value):
        digits = re.sub(r"\D", "", candidate)
        if 13 <= len(digits) <= 19 and _luhn_valid(digits):
            raise RefusedSecret(
                "looks like a full card number, which the ledger does not keep; "
                "record only how you paid (e.g. payment='visa ..1234')"
            )
    return _clean_text(value)


_CLEANERS = {
    "email": _clean_email,
    "alias": _clean_email,
    "phone": _clean_phone,
    "birthday": _clean_birthday,
    "payment": _clean_payment,
}


def normalised(kind: str, value: str) -> str:
    """The form two spellings of one (cleaned) value share: what `whoknows.me` hashes to find a value.

    Phones lose their separators and a leading international `00` becomes `+` (as the ledger's
    `match_key` does in SQL); everything else is whitespace-collapsed and lowercased.
    """
    if kind == "phone":
        digits = _PHONE_SEPARATORS.sub("", value.strip())
        return "+" + digits[2:] if digits.startswith("00") else digits
    return " ".join(value.split()).lower()
