"""Seal a process off the network: for the proxies that tests and benchmarks run.

    from sealed_network import seal
    seal({80: http_port, 443: https_port})   # tests/e2e/proxy_process.py
    seal()                                     # bench/bench_proxy_launch.py

After `seal`, in this process only:
- `socket.getaddrinfo` resolves `test` and `*.test` to 127.0.0.1 (a port in `ports` is replaced by
  its value: the local test sites' ports), passes loopback names and addresses through, and refuses
  every other name;
- `connect`, `connect_ex` and `sendto` refuse any non-loopback address (IP literals never go
  through the resolver).
Each name or address refused is said once on stderr, as `REFUSED_PREFIX` + the name: a caller reads
there whether the proxy tried to leave the machine (and nothing did).
"""

from __future__ import annotations

import errno
import ipaddress
import socket
import sys
from collections.abc import Mapping

REFUSED_PREFIX = "sealed-network: refused "
TEST_SUFFIX = ".test"
LOOPBACK_NAMES = ("localhost", "localhost.localdomain")

_real_getaddrinfo = socket.getaddrinfo
_real_connect = socket.socket.connect
_real_connect_ex = socket.socket.connect_ex
_real_sendto = socket.socket.sendto
_refused: set[str] = set()


def _refuse(name: str) -> None:
    if name not in _refused:
        _refused.add(name)
        print(f"{REFUSED_PREFIX}{name}", file=sys.stderr, flush=True)


def is_loopback_ip(text: str) -> bool:
    try:
        return ipaddress.ip_address(text.split("%", 1)[0]).is_loopback
    except ValueError:
        return False


def sealed_resolver(ports: Mapping[int, int]):
    def getaddrinfo(host, port, family=0, type=0, proto=0, flags=0):
        name = (host.decode() if isinstance(host, bytes) else host or "").rstrip(".").lower()
        if name in LOOPBACK_NAMES or is_loopback_ip(name):
            return _real_getaddrinfo(host, port, family, type, proto, flags)
        if name == TEST_SUFFIX[1:] or name.endswith(TEST_SUFFIX):
            number = int(port or 0)
            kind = type or socket.SOCK_STREAM
            protocol = socket.IPPROTO_UDP if kind == socket.SOCK_DGRAM else socket.IPPROTO_TCP
            return [(socket.AF_INET, kind, protocol, "", ("127.0.0.1", ports.get(number, number)))]
        _refuse(name or "<empty>")
        raise socket.gaierror(socket.EAI_NONAME, f"sealed network: {name} is not a test name")

    return getaddrinfo


def _check_address(sock: socket.socket, address) -> None:
    if sock.family in (socket.AF_INET, socket.AF_INET6) and not is_loopback_ip(str(address[0])):
        _refuse(str(address[0]))
        raise OSError(errno.ENETUNREACH, f"sealed network: {address[0]} is not loopback")


def _connect(self, address):
    _check_address(self, address)
    return _real_connect(self, address)


def _connect_ex(self, address):
    _check_address(self, address)
    return _real_connect_ex(self, address)


def _sendto(self, data, *args):
    _check_address(self, args[-1])
    return _real_sendto(self, data, *args)


def seal(ports: Mapping[int, int] | None = None) -> None:
    socket.getaddrinfo = sealed_resolver(dict(ports or {}))
    socket.socket.connect = _connect
    socket.socket.connect_ex = _connect_ex
    socket.socket.sendto = _sendto
