"""Run the real whoknows proxy (`proxy_addons.runner`) for end-to-end tests, sealed off the network.

    python tests/e2e/proxy_process.py --http-port P --https-port Q --trusted-ca CA.pem
        [--set OPTION=VALUE ...] [--addon MODULE:FACTORY ...] [--log-level info]

Inside this process only:
- `socket.getaddrinfo` resolves `*.test` to 127.0.0.1, port 80 to P and 443 to Q (the local test
  sites), passes loopback names through, and refuses every other name (said once on stderr as
  `e2e-resolver: refused NAME`), so nothing this proxy is asked for can leave the machine;
- `connect`/`sendto` refuse any non-loopback address (IP literals never go through the resolver);
- upstream TLS is verified against the test sites' CA.

The proxy listens on 127.0.0.1 on a free port and prints its usual line on stdout
(`whoknows proxy listening on 127.0.0.1:PORT ...`). `--addon` adds a test addon after the whoknows
ones, guarded like them. `$WHOKNOWS_HOME` decides the data directory (and so mitmproxy's CA).
"""

from __future__ import annotations

import argparse
import errno
import importlib
import ipaddress
import socket
import sys

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
        print(f"e2e-resolver: refused {name}", file=sys.stderr, flush=True)


def _is_loopback_ip(text: str) -> bool:
    try:
        return ipaddress.ip_address(text.split("%", 1)[0]).is_loopback
    except ValueError:
        return False


def sealed_resolver(http_port: int, https_port: int):
    def getaddrinfo(host, port, family=0, type=0, proto=0, flags=0):
        name = (host.decode() if isinstance(host, bytes) else host or "").rstrip(".").lower()
        if name in LOOPBACK_NAMES or _is_loopback_ip(name):
            return _real_getaddrinfo(host, port, family, type, proto, flags)
        if name == TEST_SUFFIX[1:] or name.endswith(TEST_SUFFIX):
            number = int(port or 0)
            mapped = {80: http_port, 443: https_port}.get(number, number)
            kind = type or socket.SOCK_STREAM
            protocol = socket.IPPROTO_UDP if kind == socket.SOCK_DGRAM else socket.IPPROTO_TCP
            return [(socket.AF_INET, kind, protocol, "", ("127.0.0.1", mapped))]
        _refuse(name or "<empty>")
        raise socket.gaierror(socket.EAI_NONAME, f"e2e resolver: {name} is not a test name")

    return getaddrinfo


def _check_address(sock: socket.socket, address) -> None:
    if sock.family in (socket.AF_INET, socket.AF_INET6) and not _is_loopback_ip(str(address[0])):
        _refuse(str(address[0]))
        raise OSError(errno.ENETUNREACH, f"e2e: {address[0]} is not loopback")


def _connect(self, address):
    _check_address(self, address)
    return _real_connect(self, address)


def _connect_ex(self, address):
    _check_address(self, address)
    return _real_connect_ex(self, address)


def _sendto(self, data, *args):
    _check_address(self, args[-1])
    return _real_sendto(self, data, *args)


def seal(http_port: int, https_port: int) -> None:
    socket.getaddrinfo = sealed_resolver(http_port, https_port)
    socket.socket.connect = _connect
    socket.socket.connect_ex = _connect_ex
    socket.socket.sendto = _sendto


def _load_factory(spec: str):
    module, _, attr = spec.partition(":")
    return getattr(importlib.import_module(module), attr)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--http-port", type=int, required=True)
    parser.add_argument("--https-port", type=int, required=True)
    parser.add_argument("--trusted-ca", required=True)
    parser.add_argument("--set", dest="specs", action="append", default=[])
    parser.add_argument("--addon", dest="addons", action="append", default=[])
    parser.add_argument("--log-level", default="info")
    args = parser.parse_args(argv)
    seal(args.http_port, args.https_port)

    import proxy_addons
    from proxy_addons import runner

    addons = proxy_addons.whoknows_addons()
    guard = addons[0]
    addons += [guard.guard(_load_factory(spec)()) for spec in args.addons]
    settings = runner.ProxySettings(
        listen_host="127.0.0.1", listen_port=0, log_level=args.log_level,
        # The control API on a free port: test proxies must not fight over (or take) the default 8081.
        options={"ssl_verify_upstream_trusted_ca": args.trusted_ca, "whoknows_control_port": 0},
        option_specs=args.specs)
    return runner.run(settings, addons)


if __name__ == "__main__":
    sys.exit(main())
