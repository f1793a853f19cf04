"""A real DNS server on loopback (UDP) for tests: answers `A` queries from a table, records every query.

    with LoopbackDns() as dns:
        dns.alias("metrics.shop.test", "shop.test.tracker-cdn.test", ttl=60)
        dns.address("shop.test.tracker-cdn.test", ttl=60)
        ... a resolver asks 127.0.0.1:dns.port ...
        assert dns.queries == ["metrics.shop.test", "shop.test.tracker-cdn.test"]

By default a query for an alias is answered with that one CNAME record, as an authoritative server
does (the asker follows the chain); `chase=True` answers with the whole chain and the final address
in one message, as a recursive resolver does. Names not in the table get NXDOMAIN; names marked
`silent` get no answer at all (a server that is down). Messages are made and read with dnspython.
"""

from __future__ import annotations

import socket
import threading

import dns.flags
import dns.message
import dns.rcode
import dns.rdatatype
import dns.rrset

ADDRESS = "127.0.0.1"


class LoopbackDns:
    def __init__(self, chase: bool = False) -> None:
        self.chase = chase
        self.aliases: dict[str, tuple[str, int]] = {}
        self.addresses: dict[str, int] = {}
        self.silent: set[str] = set()
        self.queries: list[str] = []
        self._lock = threading.Lock()
        self._socket = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self._socket.bind((ADDRESS, 0))
        self._socket.settimeout(0.1)
        self.port = self._socket.getsockname()[1]
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._serve, name="loopback-dns", daemon=True)

    @property
    def server(self) -> str:
        """`IP:PORT`, as the proxy's `whoknows_dns_server` option takes it."""
        return f"{ADDRESS}:{self.port}"

    def alias(self, name: str, target: str, ttl: int = 300) -> None:
        self.aliases[name] = (target, ttl)

    def address(self, name: str, ttl: int = 300) -> None:
        self.addresses[name] = ttl

    def asked(self) -> list[str]:
        with self._lock:
            return list(self.queries)

    def reset(self) -> None:
        with self._lock:
            self.queries.clear()
        self.aliases.clear()
        self.addresses.clear()
        self.silent.clear()

    def start(self) -> "LoopbackDns":
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(5)
        self._socket.close()

    def __enter__(self) -> "LoopbackDns":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    def _serve(self) -> None:
        while not self._stop.is_set():
            try:
                data, peer = self._socket.recvfrom(4096)
            except TimeoutError:
                continue
            except OSError:
                return
            try:
                query = dns.message.from_wire(data)
            except Exception:  # noqa: BLE001 -- not DNS: ignored, as a server would
                continue
            name = query.question[0].name.to_text(omit_final_dot=True).lower()
            with self._lock:
                self.queries.append(name)
            if name in self.silent:
                continue
            self._socket.sendto(self._answer(query, name).to_wire(), peer)

    def _answer(self, query: dns.message.Message, name: str) -> dns.message.Message:
        response = dns.message.make_response(query)
        response.flags |= dns.flags.AA | dns.flags.RA
        current, seen = name, set()
        while current in self.aliases and current not in seen:
            seen.add(current)
            target, ttl = self.aliases[current]
            response.answer.append(dns.rrset.from_text(current + ".", ttl, "IN", "CNAME", target + "."))
            if not self.chase:
                return response
            current = target
        if query.question[0].rdtype != dns.rdatatype.A:
            return response
        if current in self.addresses:
            response.answer.append(dns.rrset.from_text(current + ".", self.addresses[current], "IN", "A",
                                                       ADDRESS))
        elif current not in seen:
            response.set_rcode(dns.rcode.NXDOMAIN)
        return response
