"""The shop page of `bench_pageload.py` and the HTTPS servers behind it, as their own process.

    python bench/bench_pageload_sites.py CERT.pem KEY.pem

A helper of bench_pageload.py (not a benchmark of its own). One asyncio HTTP/1.1-over-TLS server
per host, each on its own free loopback port (so each host has its own "distance"); the page's URLs
carry the ports (`https://shop.test:PORT/`), so neither the browser (`--host-resolver-rules`) nor
the proxies (`sealed_network`) need to map ports, only names. Prints one line on stdout once every
server listens: `SITES_JSON {"control": PORT, "ports": {host: port}, "page": url}`.

Server-side delays stand in for the network between the browser's machine and each host:
- a new connection waits `2 * rtt` before its TLS handshake is served (TCP's SYN/ACK and TLS 1.3's
  one round trip);
- each request waits `rtt + think` before its response (the request's round trip and the server's
  own time).
Payload sizes are modest (a bandwidth model would only add the same time to every case).
HTTP/1.1 only (ALPN `http/1.1`): a browser going direct opens up to six connections per host, each
paying the handshake delay, as it would to an HTTP/1.1 origin.

The control port (plain HTTP, loopback) answers `GET /counts`: the requests and the connections each
host received since the last `/counts` (then reset to zero), as JSON
(`{"requests": {host: n}, "connections": {host: n}}`): the bench reads there how many requests of a
page load reached the servers, and over how many connections.
"""

from __future__ import annotations

import asyncio
import json
import socket
import ssl
import sys
from dataclasses import dataclass

ALPN = ["http/1.1"]
GIF = (b"GIF89a\x01\x00\x01\x00\x80\x00\x00\x00\x00\x00\xff\xff\xff!\xf9\x04\x01\x00\x00\x00\x00,"
       b"\x00\x00\x00\x00\x01\x00\x01\x00\x00\x02\x02D\x01\x00;")


@dataclass(frozen=True)
class Host:
    name: str
    rtt: float  # seconds, browser <-> host
    think: float  # seconds the server takes per request (the page itself: more, see PAGE_THINK)


# First party far away, a CDN edge close by, four tracker hosts and the two cookie-sync partners the
# ad pulls in. Round trips are the kind a European home connection sees.
HOSTS = (
    Host("shop.test", 0.040, 0.010),
    Host("cdn.test", 0.012, 0.002),
    Host("tags.test", 0.030, 0.015),  # tag manager
    Host("metrics.test", 0.035, 0.020),  # analytics
    Host("social.test", 0.045, 0.020),  # a social network's pixel
    Host("adnet.test", 0.050, 0.030),  # ad server (the ad iframe)
    Host("sync1.test", 0.060, 0.025),  # cookie-sync partners of the ad server
    Host("sync2.test", 0.070, 0.025),
)
PAGE_THINK = 0.120  # the shop's server rendering its HTML
PRODUCT_IMAGES = 12


def _padded(body: bytes, size: int) -> bytes:
    return body + b"\0" * max(0, size - len(body))  # browsers ignore bytes after a GIF's trailer


ANALYTICS_PIXEL_USES = 3  # page view, scroll, the ad's


def page_requests(site: dict) -> int:
    """How many requests one load of the page makes when nothing is blocked."""
    return len(site) + ANALYTICS_PIXEL_USES - 1


def build_site(ports: dict[str, int]) -> dict[tuple[str, str], tuple[str, bytes]]:
    """(host, path) -> (content type, body): the shop page and everything it pulls in.

    36 requests (`page_requests`). Allowed: the page, 4 more first-party and 16 CDN requests.
    Trackers: a tag manager (2 requests) that loads an analytics script (4 requests) and a social
    pixel (3); an ad iframe (4, one of them an analytics pixel) that syncs cookies with two
    partners (1 each). Of these, EasyList/EasyPrivacy block the tag manager's `/gtm.js` and the ad
    frame's `/ads/300.`: nothing either would load is ever asked for."""
    def u(host: str, path: str) -> str:
        return f"https://{host}:{ports[host]}{path}"

    js, css, html, gif = ("application/javascript", "text/css", "text/html; charset=utf-8", "image/gif")
    images = "\n".join(f'<img src="{u("cdn.test", f"/img/p{i}.gif")}" width="160" height="160" alt="">'
                       for i in range(1, PRODUCT_IMAGES + 1))
    page = f"""<!doctype html>
<html><head><meta charset="utf-8"><title>Shop</title>
<link rel="stylesheet" href="{u("cdn.test", "/css/site.css")}">
<link rel="stylesheet" href="{u("shop.test", "/static/shop.css")}">
<script src="{u("cdn.test", "/js/vendor.js")}"></script>
<script async src="{u("tags.test", "/gtm.js?id=GTM-K9X2")}"></script>
</head><body>
<header><img src="{u("shop.test", "/static/logo.gif")}" alt="Shop"></header>
<h1>Spring sale</h1>
<img src="{u("shop.test", "/static/hero.gif")}" width="800" height="300" alt="">
<main>{images}</main>
<aside><iframe src="{u("adnet.test", "/ads/300.html?slot=side")}" width="300" height="250"></iframe></aside>
<script src="{u("cdn.test", "/js/app.js")}" defer></script>
</body></html>
"""
    def loader(*urls: str) -> bytes:  # a script that adds more scripts/pixels, as trackers do
        lines = []
        for url in urls:
            kind = "img" if ".gif" in url or "/tr?" in url or "/sync?" in url or "/collect?" in url else "script"
            lines.append(f"(function(){{var e=document.createElement('{kind}');e.src='{url}';"
                         f"(document.body||document.head).appendChild(e);}})();")
        return "\n".join(lines).encode()

    site = {
        ("shop.test", "/"): (html, page.encode()),
        ("shop.test", "/static/shop.css"): (css, b"h1{font-family:Shop,sans-serif}" + b" " * 2000),
        ("shop.test", "/static/logo.gif"): (gif, _padded(GIF, 3000)),
        ("shop.test", "/static/hero.gif"): (gif, _padded(GIF, 60000)),
        ("shop.test", "/api/cart.json"): ("application/json", b'{"items": 2}'),
        ("cdn.test", "/css/site.css"): (css, (f"@font-face{{font-family:Shop;src:url({u('cdn.test', '/fonts/shop.woff2')})}}"
                                              "body{margin:0}").encode() + b" " * 8000),
        ("cdn.test", "/fonts/shop.woff2"): ("font/woff2", b"\0" * 20000),
        ("cdn.test", "/js/vendor.js"): (js, b"window.vendor=1;" + b" " * 40000),
        ("cdn.test", "/js/app.js"): (js, f"fetch('{u('shop.test', '/api/cart.json')}').then(r => r.json());".encode() + b" " * 15000),
        ("tags.test", "/gtm.js"): (js, loader(u("tags.test", "/gtm/consent.js"), u("metrics.test", "/beacon.js"),
                                              u("social.test", "/fbevents.js"))),
        ("tags.test", "/gtm/consent.js"): (js, b"window.consent=1;"),
        ("metrics.test", "/beacon.js"): (js, loader(u("metrics.test", "/pixel.gif?e=pv"),
                                                    u("metrics.test", "/collect?d=pageview"),
                                                    u("metrics.test", "/pixel.gif?e=scroll"))),
        ("metrics.test", "/pixel.gif"): (gif, GIF),
        ("metrics.test", "/collect"): (gif, GIF),
        ("social.test", "/fbevents.js"): (js, loader(u("social.test", "/signals/config.js"),
                                                     u("social.test", "/tr?id=77&ev=PageView"))),
        ("social.test", "/signals/config.js"): (js, b"window.fbconfig=1;" + b" " * 30000),
        ("social.test", "/tr"): (gif, GIF),
        ("adnet.test", "/ads/300.html"): (html, f"""<!doctype html><body style="margin:0">
<script src="{u("adnet.test", "/adserver3.js")}"></script>
<img src="{u("adnet.test", "/creative/1.gif")}" width="300" height="250" alt="">
<img src="{u("sync1.test", "/sync?visitor_id=a1")}" width="1" height="1" alt="">
<img src="{u("sync2.test", "/sync?visitor_id=b2")}" width="1" height="1" alt="">
<img src="{u("metrics.test", "/pixel.gif?e=ad")}" width="1" height="1" alt="">
</body>""".encode()),
        ("adnet.test", "/adserver3.js"): (js, b"window.ad=1;" + b" " * 25000),
        ("adnet.test", "/creative/1.gif"): (gif, _padded(GIF, 40000)),
        ("sync1.test", "/sync"): (gif, GIF),
        ("sync2.test", "/sync"): (gif, GIF),
    }
    for i in range(1, PRODUCT_IMAGES + 1):
        site[("cdn.test", f"/img/p{i}.gif")] = (gif, _padded(GIF, 12000 + 500 * i))
    return site


class Sites:
    def __init__(self, context: ssl.SSLContext) -> None:
        self.context = context
        self.counts: dict[str, int] = {host.name: 0 for host in HOSTS}
        self.connections: dict[str, int] = {host.name: 0 for host in HOSTS}
        self.site: dict[tuple[str, str], tuple[str, bytes]] = {}

    async def accept(self, host: Host, listener: socket.socket) -> None:
        loop = asyncio.get_running_loop()
        while True:
            connection, _ = await loop.sock_accept(listener)
            self.connections[host.name] += 1
            asyncio.create_task(self.serve_connection(host, connection))

    async def serve_connection(self, host: Host, connection: socket.socket) -> None:
        # The socket is not read until the delay is over (a stream would already have swallowed
        # the ClientHello), then the TLS handshake runs.
        loop = asyncio.get_running_loop()
        await asyncio.sleep(2 * host.rtt)  # TCP + TLS 1.3 round trips
        reader = asyncio.StreamReader()
        protocol = asyncio.StreamReaderProtocol(reader)
        try:
            transport, _ = await loop.connect_accepted_socket(lambda: protocol, connection, ssl=self.context)
        except (ConnectionError, ssl.SSLError, OSError):
            connection.close()
            return
        writer = asyncio.StreamWriter(transport, protocol, reader, loop)
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                request_line, *header_lines = head.decode("latin-1").split("\r\n")
                method, target, _ = request_line.split(" ", 2)
                length = next((int(line.split(":", 1)[1]) for line in header_lines
                               if line.lower().startswith("content-length:")), 0)
                if length:
                    await reader.readexactly(length)
                path = target.split("?", 1)[0]
                self.counts[host.name] += 1
                think = PAGE_THINK if (host.name, path) == ("shop.test", "/") else host.think
                await asyncio.sleep(host.rtt + think)
                found = self.site.get((host.name, path))
                status, (kind, body) = ("200 OK", found) if found else ("404 Not Found", ("text/plain", b"no\n"))
                writer.write((f"HTTP/1.1 {status}\r\ncontent-type: {kind}\r\ncontent-length: {len(body)}\r\n"
                              "cache-control: no-store\r\naccess-control-allow-origin: *\r\ntiming-allow-origin: *\r\n\r\n").encode() + (body if method != "HEAD" else b""))
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError, ssl.SSLError, ValueError, OSError):
            pass
        finally:
            writer.close()

    async def serve_control(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            await reader.readuntil(b"\r\n\r\n")
            body = json.dumps({"requests": self.counts, "connections": self.connections}).encode()
            self.counts = dict.fromkeys(self.counts, 0)
            self.connections = dict.fromkeys(self.connections, 0)
            writer.write(b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\nconnection: close\r\n"
                         + f"content-length: {len(body)}\r\n\r\n".encode() + body)
            await writer.drain()
        finally:
            writer.close()

    async def run(self) -> None:
        ports, acceptors = {}, []
        for host in HOSTS:
            listener = socket.create_server(("127.0.0.1", 0), backlog=128)
            listener.setblocking(False)
            ports[host.name] = listener.getsockname()[1]
            acceptors.append(asyncio.create_task(self.accept(host, listener)))
        control = await asyncio.start_server(self.serve_control, "127.0.0.1", 0)
        self.site = build_site(ports)
        page = f"https://shop.test:{ports['shop.test']}/"
        print("SITES_JSON " + json.dumps({"control": control.sockets[0].getsockname()[1], "ports": ports,
                                          "page": page, "requests": page_requests(self.site)}), flush=True)
        await asyncio.Event().wait()  # until killed


def main(argv: list[str]) -> int:
    if len(argv) != 2:
        print("a helper of bench_pageload.py (serves the shop page); run bench_pageload.py")
        return 0
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(argv[0], argv[1])
    context.set_alpn_protocols(ALPN)
    asyncio.run(Sites(context).run())
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
