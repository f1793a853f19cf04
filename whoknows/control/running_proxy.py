"""Finding the running proxy: where its control API listens, and whether it answers there.

A proxy that starts its control API writes `<data dir>/control-api.json` (its URL and pid) and
removes it when it stops; `whoknows extension status` reads it and pings the URL.
"""

from __future__ import annotations

import contextlib
import http.client
import json
import os
from urllib.parse import urlsplit

from .. import paths
from .protocol import API_PREFIX, DEFAULT_PORT, MAX_BODY_BYTES

ADDRESS_FILE = "control-api.json"  # where a running proxy's control API listens


def _address_file():
    return paths.data_dir(create=False) / ADDRESS_FILE


def write_address(url: str) -> None:
    paths.data_dir()
    data = {"url": url, "pid": os.getpid()}
    paths.write_private_file(_address_file(), (json.dumps(data) + "\n").encode())


def remove_address(url: str) -> None:
    """Remove the address file if it still names this process's `url`."""
    recorded = read_address()
    if recorded is not None and recorded.get("url") == url and recorded.get("pid") == os.getpid():
        with contextlib.suppress(OSError):
            _address_file().unlink()


def read_address() -> dict | None:
    """`{"url": ..., "pid": ...}` as the last proxy started wrote it, or None."""
    try:
        data = json.loads(_address_file().read_bytes())
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) and isinstance(data.get("url"), str) else None


def default_url(port: int = DEFAULT_PORT) -> str:
    return f"http://127.0.0.1:{port}"


def ping(url: str, token: str | None = None, timeout: float = 1.0) -> dict | None:
    """`GET /api/v1/ping` at `url` (`http://127.0.0.1:PORT`): its JSON answer, or None when nothing
    answers there as the control API."""
    parts = urlsplit(url)
    headers = {"accept": "application/json"}
    if token:
        headers["authorization"] = f"Bearer {token}"
    connection = http.client.HTTPConnection(parts.hostname or "127.0.0.1", parts.port or DEFAULT_PORT,
                                            timeout=timeout)
    try:
        connection.request("GET", f"{API_PREFIX}/ping", headers=headers)
        response = connection.getresponse()
        body = json.loads(response.read(MAX_BODY_BYTES)) if response.status == 200 else None
    except (OSError, ValueError, http.client.HTTPException):
        return None
    finally:
        connection.close()
    return body if isinstance(body, dict) and "whoknows" in body else None
