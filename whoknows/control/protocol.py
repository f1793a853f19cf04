"""What the control API's answers are made of, shared by its parts: its address, limits and answers.

`Response` is one answer (status, headers, body); `Refused` is an error answer raised anywhere below
the handler (a pairing refused, a bad field) and turned into a Response by `ControlAPI.handle`.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any, NamedTuple

from ..errors import WhoknowsError

API_PREFIX = "/api/v1"
DEFAULT_PORT = 8081
MAX_BODY_BYTES = 64 * 1024

Headers = Sequence[tuple[str, str]]

# Sent with every answer: JSON only, never cached (it holds browsing data and, once, a token),
# never readable or embeddable by another origin.
BASE_HEADERS: tuple[tuple[str, str], ...] = (
    ("content-type", "application/json; charset=utf-8"),
    ("cache-control", "no-store"),
    ("x-content-type-options", "nosniff"),
    ("cross-origin-resource-policy", "same-origin"),
    ("content-security-policy", "default-src 'none'; frame-ancestors 'none'"),
    ("referrer-policy", "no-referrer"),
)


class Response(NamedTuple):
    status: int
    headers: list[tuple[str, str]]
    body: bytes

    def header(self, name: str) -> str | None:
        name = name.lower()
        return next((v for k, v in self.headers if k == name), None)

    def json(self) -> Any:
        return json.loads(self.body) if self.body else None


class Refused(WhoknowsError):
    """A request answered with an error status (and a one-line message for the client)."""

    def __init__(self, status: int, message: str, reason: str | None = None,
                 headers: Sequence[tuple[str, str]] = ()) -> None:
        super().__init__(message)
        self.status, self.message, self.reason, self.headers = status, message, reason or message, headers
