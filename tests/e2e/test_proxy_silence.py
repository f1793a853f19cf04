"""The proxy opens no connection of its own: it reaches only what its clients' requests ask for.

The proxy process records every resolver call and every connect/send it makes, from its first
line on (`proxy_process.py --network-log`, `sealed_network.AttemptLog`), while it does everything
it does on its own in a day: start-up (the CA, the filter engine built from a subscribed list and
its cache written, the company directory warmed up), its background threads (list-change checks
that rebuild the engine when a list file changes, the leak-value watcher, the ledger flushers, the
control API), and a clean stop (the last flush). Its home has the default subscriptions (URLs of
EasyPrivacy and uBO's privacy list, never downloaded by the proxy: only `lists update` does that).

Clients send only loopback requests to the local test sites. What the proxy resolved and where it
connected must then be exactly what those requests asked for and were allowed: the hosts the test
sites saw, on the sites' two ports. Blocked requests are not resolved at all.

One conscious exception, part of serving a request: CNAME uncloaking (`proxy_addons/cname.py`)
asks a name server what a first-party subdomain the browser requested is an alias of. Here the
proxy's name server is a DNS server on loopback (`dns_server.LoopbackDns`): the proxy may connect
to it, and must have asked it about the first-party subdomain requested and nothing else (no
third party, no page, no blocked host). Local (AF_UNIX)
sockets, such as a keyring's D-Bus, are not the network: they are reported, not counted.

Below Python: when `strace` is installed (`make test` installs it), the same proxy runs under
`strace -f`, and every connect/send system call with an IPv4 or IPv6 address, from any thread or
native library (mitmproxy's Rust parts included), must go to the test sites' two ports.
"""

from __future__ import annotations

import dataclasses
import os
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

from dns_server import LoopbackDns
from e2e_proxy import ProxyProcess
from sealed_network import Attempt

pytestmark = pytest.mark.slow

WHOKNOWS = Path(sys.executable).with_name("whoknows")
EMAIL = "silent.user@example.org"
LISTS_CHECK_INTERVAL = 0.5
DEADLINE = 15.0
PAGE = "https://vendor.test/shop"
FROM_PAGE = {"referer": PAGE, "sec-fetch-site": "cross-site", "sec-fetch-dest": "script"}
FIRST_PARTY_SUBDOMAIN = "www.vendor.test"
STRACE = shutil.which("strace")
TRACED_CALLS = "connect,sendto,sendmsg,sendmmsg"
# An address in strace's output: `sa_family=AF_INET, sin_port=htons(443), sin_addr=inet_addr("1.2.3.4")`
# or `sa_family=AF_INET6, sin6_port=htons(443), ..., inet_pton(AF_INET6, "::1", &sin6_addr)`.
TRACED_INET = re.compile(r'sa_family=AF_INET, sin_port=htons\((\d+)\), sin_addr=inet_addr\("([^"]+)"\)')
TRACED_INET6 = re.compile(r'sa_family=AF_INET6, sin6_port=htons\((\d+)\),[^}]*?inet_pton\(AF_INET6, "([^"]+)"')


def whoknows(home: Path, *args: str) -> str:
    env = {k: v for k, v in os.environ.items() if "proxy" not in k.lower()}
    env["WHOKNOWS_HOME"] = str(home)
    done = subprocess.run([str(WHOKNOWS), *args], env=env, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    return done.stdout


def eventually(check, what: str):
    deadline = time.monotonic() + DEADLINE
    while True:
        value = check()
        if value or time.monotonic() > deadline:
            assert value, what
            return value
        time.sleep(0.2)


@dataclasses.dataclass(frozen=True)
class Day:
    attempts: list[Attempt]  # what the proxy's Python recorder saw
    traced: str | None  # strace's output (None: no strace here)
    asked: set[str]  # the hosts the test sites were asked for (through the proxy)
    site_ports: set[str]  # "127.0.0.1:PORT" of the test sites
    dns_asked: list[str]  # what the proxy asked its name server (CNAME uncloaking)
    dns_server: str  # "127.0.0.1:PORT" of that name server
    exit_code: int | None


def a_day_of_requests(proxy: ProxyProcess, filters: Path, sites) -> None:
    """Pages, third parties, a leak, blocked trackers, a list changed under the running proxy."""
    sites["vendor.test"].page("/shop", "<h1>shop</h1>", headers=[("set-cookie", "sid=1; Max-Age=99999999")])
    sites["cdn.test"].page("/lib.js", "1;", content_type="text/javascript")
    sites["other.test"].page("/widget.js", "2;", content_type="text/javascript")
    assert proxy.get(PAGE).status == 200
    assert proxy.get("http://vendor.test/shop").status == 200
    assert proxy.get("https://cdn.test/lib.js", FROM_PAGE).status == 200
    assert proxy.get(f"https://cdn.test/lib.js?email={EMAIL}", FROM_PAGE).status == 403  # a leak, prevented
    assert proxy.get("https://other.test/widget.js", FROM_PAGE).status == 200
    sites["vendor.test"].page("/logo.js", "3;", content_type="text/javascript")
    assert proxy.get(f"https://{FIRST_PARTY_SUBDOMAIN}/logo.js",
                     {**FROM_PAGE, "sec-fetch-site": "same-site"}).status == 200  # CNAME uncloaking asks
    for url in ("https://tracker.test/t.js", "http://tracker.test/t.js"):
        assert proxy.get(url, FROM_PAGE).headers["x-whoknows-blocked"] == "mine: ||tracker.test^"
    # A background job: the list file changes, the proxy's check rebuilds its engine on its own.
    filters.write_text("||tracker.test^\n||other.test^\n")
    eventually(lambda: proxy.get("https://other.test/widget.js", FROM_PAGE).headers.get("x-whoknows-blocked"),
               "the proxy never picked up the changed list")
    eventually(lambda: whoknows(proxy.home, "leaks", "--json").count("cdn.test"),
               "the leak flusher never wrote the leak")


@pytest.fixture(scope="module")
def day(e2e_dir, site_pki, local_sites, mitm_confdir) -> Day:
    home = e2e_dir / "silent-proxy"
    trace = e2e_dir / "silent-proxy.strace"
    wrapper = (STRACE, "-f", "-qq", "-e", f"trace={TRACED_CALLS}", "-o", str(trace)) if STRACE else ()
    dns = LoopbackDns(chase=True).start()
    dns.address(FIRST_PARTY_SUBDOMAIN)
    proxy = ProxyProcess(home, site_pki, local_sites.http_port, local_sites.https_port,
                         sets=(f"whoknows_lists_check_interval={LISTS_CHECK_INTERVAL}",
                               "whoknows_flush_interval=0.2", f"whoknows_dns_server={dns.server}"),
                         mitm_confdir=mitm_confdir, record_network=True, wrapper=wrapper)
    filters = e2e_dir / "silent-filters.txt"
    filters.write_text("||tracker.test^\n")
    whoknows(home, "lists", "add", str(filters), "--name", "mine")  # the defaults stay subscribed
    whoknows(home, "me", "add", "email", EMAIL)  # the leak scanner has a value to watch
    local_sites.reset()
    proxy.start(timeout=60)
    try:
        a_day_of_requests(proxy, filters, local_sites)
    finally:
        exit_code = proxy.stop()  # the final flushes run too
        asked = {received.host for received in local_sites.received()}
        local_sites.reset()
        dns.stop()
    return Day(proxy.network_attempts(), trace.read_text() if STRACE else None, asked,
               {f"127.0.0.1:{local_sites.http_port}", f"127.0.0.1:{local_sites.https_port}"},
               dns.asked(), dns.server, exit_code)


def test_the_proxy_resolves_and_connects_only_what_its_clients_asked_for(day):
    assert day.exit_code == 0
    network = [a for a in day.attempts if a.network]
    local = sorted({f"{a.call} {a.target}" for a in day.attempts if not a.network})
    assert day.asked == {"vendor.test", "cdn.test", "other.test", FIRST_PARTY_SUBDOMAIN}  # what was allowed
    assert day.dns_asked == [FIRST_PARTY_SUBDOMAIN]  # the one first-party subdomain, once
    assert [a for a in network if a.refused] == [], f"the proxy tried to leave the machine (local: {local})"
    resolved = {a.target for a in network if a.family == "name" and not a.loopback}
    assert resolved == day.asked, f"names the proxy looked up on its own: {resolved - day.asked} (local: {local})"
    connected = {a.target for a in network if a.family != "name"}
    allowed = day.site_ports | {day.dns_server}
    assert connected == allowed, f"connections of the proxy's own: {connected - allowed} (local: {local})"
    assert "tracker.test" not in {a.target for a in network}  # blocked: not even looked up
    if local:
        print(f"local (AF_UNIX) sockets the proxy used, not the network: {local}")


@pytest.mark.skipif(STRACE is None, reason="strace is not installed (make test installs it)")
def test_below_python_every_connect_and_send_goes_to_the_test_sites(day):
    lines = [line for line in day.traced.splitlines() if "AF_INET" in line]
    by_line = [(line, {f"{address}:{port}" for port, address in TRACED_INET.findall(line) + TRACED_INET6.findall(line)})
               for line in lines]
    destinations = set().union(*(found for _, found in by_line))
    assert destinations, "strace saw no connection at all: the trace is not working"
    allowed = day.site_ports | {day.dns_server}
    unexpected = [line for line, found in by_line if not found or found - allowed]
    assert unexpected == [], f"system calls to elsewhere than the test sites and name server {sorted(allowed)}"
    assert destinations == allowed
