"""Seal a process off the network, and optionally record every attempt to use it.

    from sealed_network import seal
    seal({80: http_port, 443: https_port})   # tests/e2e/proxy_process.py
    seal()                                     # bench/bench_proxy_launch.py
    seal(record=AttemptLog(path))              # a proxy whose every attempt a test reads back

    with sealed(record=attempts.append):       # in this process, for one block (CLI tests)
        ...

After `seal`, in this process only:
- `socket.getaddrinfo` resolves `test` and `*.test` to 127.0.0.1 (a port in `ports` is replaced by
  its value: the local test sites' ports), passes loopback names and addresses through, and refuses
  every other name; `gethostbyname`, `gethostbyname_ex`, `gethostbyaddr` and `getnameinfo` (the
  resolver's other doors) do the same;
- `connect`, `connect_ex`, `sendto` and `sendmsg` refuse any non-loopback address (IP literals
  never go through the resolver). asyncio's event loop resolves with `socket.getaddrinfo` and
  connects with the socket's `connect` (also for IP literals), so its connections go through here.
Each name or address refused is said once on stderr, as `REFUSED_PREFIX` + the name: a caller reads
there whether the proxy tried to leave the machine (and nothing did).

`record`: called with an `Attempt` for every resolver call and every connect/send with an address,
refused or not, before it happens; local (AF_UNIX) sockets too, marked so (a keyring reaching its
D-Bus daemon is not the network, but a test says if it happened). `AttemptLog` appends them to a
file as JSON lines, for a test to read from another process (`AttemptLog.read`).
"""

from __future__ import annotations

import contextlib
import dataclasses
import errno
import ipaddress
import json
import socket
import sys
import threading
from collections.abc import Callable
from collections.abc import Iterator
from collections.abc import Mapping
from pathlib import Path

REFUSED_PREFIX = "sealed-network: refused "
TEST_SUFFIX = ".test"
LOOPBACK_NAMES = ("localhost", "localhost.localdomain")

_real_getaddrinfo = socket.getaddrinfo
_real_gethostbyname = socket.gethostbyname
_real_gethostbyname_ex = socket.gethostbyname_ex
_real_gethostbyaddr = socket.gethostbyaddr
_real_getnameinfo = socket.getnameinfo
_real_connect = socket.socket.connect
_real_connect_ex = socket.socket.connect_ex
_real_sendto = socket.socket.sendto
_real_sendmsg = socket.socket.sendmsg
_refused: set[str] = set()
_record: Callable[["Attempt"], None] | None = None

# Attempt.family for a resolver call (the others are the socket's family: inet, inet6, unix, ...)
NAME = "name"
NETWORK_FAMILIES = frozenset({NAME, "inet", "inet6"})


@dataclasses.dataclass(frozen=True)
class Attempt:
    """One try to resolve a name or to reach an address."""

    call: str  # getaddrinfo, gethostbyname, ..., connect, connect_ex, sendto, sendmsg
    family: str  # NAME for a resolver call; else the socket's: inet, inet6, unix, ...
    target: str  # the name; "host:port"; a local socket's path ("@name": the abstract namespace)
    refused: bool

    @property
    def network(self) -> bool:
        """A name or an IP address (loopback included); not a local (AF_UNIX) socket."""
        return self.family in NETWORK_FAMILIES

    @property
    def host(self) -> str:
        """The name or IP address alone (no port)."""
        if self.family == NAME:
            return self.target
        return self.target.rsplit(":", 1)[0].strip("[]")

    @property
    def loopback(self) -> bool:
        return self.host in LOOPBACK_NAMES or is_loopback_ip(self.host)


class AttemptLog:
    """Appends each attempt to a file, one JSON object a line (any thread); `read` reads them back."""

    def __init__(self, path: Path | str) -> None:
        self.path = Path(path)
        self._lock = threading.Lock()

    def __call__(self, attempt: Attempt) -> None:
        line = json.dumps(dataclasses.asdict(attempt)) + "\n"
        with self._lock, open(self.path, "a", encoding="utf-8") as out:
            out.write(line)

    @staticmethod
    def read(path: Path | str) -> list[Attempt]:
        path = Path(path)
        if not path.exists():
            return []
        return [Attempt(**json.loads(line)) for line in path.read_text(encoding="utf-8").splitlines() if line]


def _note(call: str, family: str, target: str, refused: bool) -> None:
    if _record is not None:
        _record(Attempt(call, family, target, refused))


def _refuse(name: str) -> None:
    if name not in _refused:
        _refused.add(name)
        print(f"{REFUSED_PREFIX}{name}", file=sys.stderr, flush=True)


def is_loopback_ip(text: str) -> bool:
    try:
        return ipaddress.ip_address(text.split("%", 1)[0]).is_loopback
    except ValueError:
        return False


def _name_of(host) -> str:
    return (host.decode() if isinstance(host, bytes) else host or "").rstrip(".").lower()


def _is_test_name(name: str) -> bool:
    return name == TEST_SUFFIX[1:] or name.endswith(TEST_SUFFIX)


def _is_loopback_name(name: str) -> bool:
    return name in LOOPBACK_NAMES or is_loopback_ip(name)


def _refused_name(call: str, name: str) -> socket.gaierror:
    _note(call, NAME, name or "<empty>", True)
    _refuse(name or "<empty>")
    return socket.gaierror(socket.EAI_NONAME, f"sealed network: {name} is not a test name")


def sealed_resolver(ports: Mapping[int, int]):
    def getaddrinfo(host, port, family=0, type=0, proto=0, flags=0):
        name = _name_of(host)
        if _is_loopback_name(name) or (host is None and flags & socket.AI_PASSIVE):
            _note("getaddrinfo", NAME, name or "<any>", False)
            return _real_getaddrinfo(host, port, family, type, proto, flags)
        if _is_test_name(name):
            _note("getaddrinfo", NAME, name, False)
            number = int(port or 0)
            kind = type or socket.SOCK_STREAM
            protocol = socket.IPPROTO_UDP if kind == socket.SOCK_DGRAM else socket.IPPROTO_TCP
            return [(socket.AF_INET, kind, protocol, "", ("127.0.0.1", ports.get(number, number)))]
        raise _refused_name("getaddrinfo", name)

    return getaddrinfo


def _gethostbyname(host):
    name = _name_of(host)
    if _is_test_name(name):
        _note("gethostbyname", NAME, name, False)
        return "127.0.0.1"
    if _is_loopback_name(name):
        _note("gethostbyname", NAME, name, False)
        return _real_gethostbyname(host)
    raise _refused_name("gethostbyname", name)


def _gethostbyname_ex(host):
    name = _name_of(host)
    if _is_test_name(name):
        _note("gethostbyname_ex", NAME, name, False)
        return name, [], ["127.0.0.1"]
    if _is_loopback_name(name):
        _note("gethostbyname_ex", NAME, name, False)
        return _real_gethostbyname_ex(host)
    raise _refused_name("gethostbyname_ex", name)


def _gethostbyaddr(address):
    name = _name_of(address)
    if _is_loopback_name(name):
        _note("gethostbyaddr", NAME, name, False)
        return _real_gethostbyaddr(address)
    raise _refused_name("gethostbyaddr", name)


def _getnameinfo(sockaddr, flags):
    name = _name_of(sockaddr[0])
    if _is_loopback_name(name) or flags & socket.NI_NUMERICHOST:
        _note("getnameinfo", NAME, name, False)
        return _real_getnameinfo(sockaddr, flags)
    raise _refused_name("getnameinfo", name)


def _family_name(sock: socket.socket) -> str:
    try:
        return socket.AddressFamily(sock.family).name.removeprefix("AF_").lower()
    except ValueError:
        return str(sock.family)


def _target(sock: socket.socket, address) -> str:
    if sock.family == socket.AF_INET6:
        return f"[{address[0]}]:{address[1]}"
    if sock.family == socket.AF_INET:
        return f"{address[0]}:{address[1]}"
    if isinstance(address, bytes):
        address = address.decode("utf-8", "replace")
    if isinstance(address, str) and address.startswith("\0"):
        return "@" + address[1:]
    return str(address)


def _check_address(call: str, sock: socket.socket, address) -> None:
    network = sock.family in (socket.AF_INET, socket.AF_INET6)
    refused = network and not is_loopback_ip(str(address[0]))
    _note(call, _family_name(sock), _target(sock, address), refused)
    if refused:
        _refuse(str(address[0]))
        raise OSError(errno.ENETUNREACH, f"sealed network: {address[0]} is not loopback")


def _connect(self, address):
    _check_address("connect", self, address)
    return _real_connect(self, address)


def _connect_ex(self, address):
    _check_address("connect_ex", self, address)
    return _real_connect_ex(self, address)


def _sendto(self, data, *args):
    _check_address("sendto", self, args[-1])
    return _real_sendto(self, data, *args)


def _sendmsg(self, buffers, *args):
    if len(args) >= 3 and args[2] is not None:  # (ancdata, flags, address): an unconnected datagram
        _check_address("sendmsg", self, args[2])
    return _real_sendmsg(self, buffers, *args)


_PATCHES = {
    (socket, "gethostbyname"): _gethostbyname,
    (socket, "gethostbyname_ex"): _gethostbyname_ex,
    (socket, "gethostbyaddr"): _gethostbyaddr,
    (socket, "getnameinfo"): _getnameinfo,
    (socket.socket, "connect"): _connect,
    (socket.socket, "connect_ex"): _connect_ex,
    (socket.socket, "sendto"): _sendto,
    (socket.socket, "sendmsg"): _sendmsg,
}


def seal(ports: Mapping[int, int] | None = None, record: Callable[[Attempt], None] | None = None) -> None:
    """Seal this process for good (see the module docstring); `record` gets every attempt."""
    global _record
    _record = record
    socket.getaddrinfo = sealed_resolver(dict(ports or {}))
    for (owner, name), replacement in _PATCHES.items():
        setattr(owner, name, replacement)


@contextlib.contextmanager
def sealed(ports: Mapping[int, int] | None = None,
           record: Callable[[Attempt], None] | None = None) -> Iterator[None]:
    """Sealed (and recorded) for the block only; what was in place before comes back after."""
    global _record
    before = {key: getattr(*key) for key in _PATCHES}
    before_resolver, before_record = socket.getaddrinfo, _record
    seal(ports, record)
    try:
        yield
    finally:
        for (owner, name), original in before.items():
            setattr(owner, name, original)
        socket.getaddrinfo, _record = before_resolver, before_record
