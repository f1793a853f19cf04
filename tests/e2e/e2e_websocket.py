"""WebSocket (RFC 6455) for end-to-end tests: an echo page for the test sites, and a raw client.

    sites["vendor.test"].page("/ws", handler=echo)  # answers the handshake, echoes every message

The client side writes frames byte by byte, so a test can send what no browser would (a frame
with reserved bits set, an unmasked client frame) and see what the proxy makes of it.
"""

from __future__ import annotations

import base64
import hashlib
import os
import struct
from typing import BinaryIO

from e2e_sites import Exchange
from e2e_sites import Received

GUID = b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11"
TEXT, BINARY, CLOSE, PING, PONG = 0x1, 0x2, 0x8, 0x9, 0xA


def accept_key(key: str) -> str:
    return base64.b64encode(hashlib.sha1(key.encode() + GUID).digest()).decode()


def frame(opcode: int, payload: bytes, mask: bool, first_byte: int | None = None) -> bytes:
    """One final frame; `first_byte` replaces FIN/RSV/opcode as given (to send invalid frames)."""
    head = bytes([0x80 | opcode if first_byte is None else first_byte])
    length = len(payload)
    mask_bit = 0x80 if mask else 0
    if length < 126:
        head += bytes([mask_bit | length])
    elif length < 1 << 16:
        head += bytes([mask_bit | 126]) + struct.pack("!H", length)
    else:
        head += bytes([mask_bit | 127]) + struct.pack("!Q", length)
    if not mask:
        return head + payload
    key = os.urandom(4)
    return head + key + bytes(b ^ key[i % 4] for i, b in enumerate(payload))


def read_frame(stream: BinaryIO) -> tuple[int, bytes] | None:
    """(opcode, unmasked payload) of the next frame; None when the stream ends first."""
    head = stream.read(2)
    if len(head) < 2:
        return None
    length = head[1] & 0x7F
    if length == 126:
        length = struct.unpack("!H", stream.read(2))[0]
    elif length == 127:
        length = struct.unpack("!Q", stream.read(8))[0]
    key = stream.read(4) if head[1] & 0x80 else None
    payload = stream.read(length)
    if key:
        payload = bytes(b ^ key[i % 4] for i, b in enumerate(payload))
    return head[0] & 0x0F, payload


def echo(request: Received, out: Exchange) -> None:
    """A WebSocket page: accept the handshake, send every text or binary message back (prefixed
    with "echo: "), answer a close with a close."""
    out.head(101, [("upgrade", "websocket"), ("connection", "Upgrade"),
                   ("sec-websocket-accept", accept_key(request.header("sec-websocket-key") or ""))])
    while (message := read_frame(out.rfile)) is not None:
        opcode, payload = message
        if opcode == CLOSE:
            out.write(frame(CLOSE, payload[:2], mask=False))
            return
        if opcode == PING:
            out.write(frame(PONG, payload, mask=False))
        elif opcode in (TEXT, BINARY):
            out.write(frame(opcode, b"echo: " + payload, mask=False))


def client_handshake(host: str, path: str = "/ws") -> bytes:
    """The HTTP/1.1 upgrade request a client sends (origin-form: inside a tunnel or to the site)."""
    key = base64.b64encode(os.urandom(16)).decode()
    return (f"GET {path} HTTP/1.1\r\nhost: {host}\r\nupgrade: websocket\r\nconnection: Upgrade\r\n"
            f"sec-websocket-key: {key}\r\nsec-websocket-version: 13\r\n\r\n").encode()
