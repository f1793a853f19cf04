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
sites saw, on the sites' two ports. Blocked requests are not resolved at all. Local (AF_UNIX)
sockets, such as a keyring's D-Bus, are not the network: they are reported, not counted.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from e2e_proxy import ProxyProcess

pytestmark = pytest.mark.slow

WHOKNOWS = Path(sys.executable).with_name("whoknows")
EMAIL = "silent.user@example.org"
LISTS_CHECK_INTERVAL = 0.5
DEADLINE = 15.0
PAGE = "https://vendor.test/shop"


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


@pytest.fixture
def recorded_proxy(e2e_dir, site_pki, local_sites, mitm_confdir):
    home = e2e_dir / "silent-proxy"
    proxy = ProxyProcess(home, site_pki, local_sites.http_port, local_sites.https_port,
                         sets=(f"whoknows_lists_check_interval={LISTS_CHECK_INTERVAL}",
                               "whoknows_flush_interval=0.2"),
                         mitm_confdir=mitm_confdir, record_network=True)
    filters = e2e_dir / "silent-filters.txt"
    filters.write_text("||tracker.test^\n")
    whoknows(home, "lists", "add", str(filters), "--name", "mine")  # the defaults stay subscribed
    whoknows(home, "me", "add", "email", EMAIL)  # the leak scanner has a value to watch
    yield proxy.start(), filters
    proxy.stop()


def test_the_proxy_resolves_and_connects_only_what_its_clients_asked_for(sites, recorded_proxy):
    proxy, filters = recorded_proxy
    sites["vendor.test"].page("/shop", "<h1>shop</h1>", headers=[("set-cookie", "sid=1; Max-Age=99999999")])
    sites["cdn.test"].page("/lib.js", "1;", content_type="text/javascript")
    sites["other.test"].page("/widget.js", "2;", content_type="text/javascript")
    from_page = {"referer": PAGE, "sec-fetch-site": "cross-site", "sec-fetch-dest": "script"}

    assert proxy.get(PAGE).status == 200
    assert proxy.get("http://vendor.test/shop").status == 200
    assert proxy.get(f"https://cdn.test/lib.js?email={EMAIL}", from_page).status == 200  # a leak
    assert proxy.get("https://other.test/widget.js", from_page).status == 200
    for url in ("https://tracker.test/t.js", "http://tracker.test/t.js"):
        assert proxy.get(url, from_page).headers["x-whoknows-blocked"] == "mine: ||tracker.test^"
    # A background job: the list file changes, the proxy's check rebuilds its engine on its own.
    filters.write_text("||tracker.test^\n||other.test^\n")
    eventually(lambda: proxy.get("https://other.test/widget.js", from_page).headers.get("x-whoknows-blocked"),
               "the proxy never picked up the changed list")
    eventually(lambda: whoknows(proxy.home, "leaks", "--json").count("cdn.test"),
               "the leak flusher never wrote the leak")
    assert proxy.stop() == 0  # the final flushes run too
    attempts = proxy.network_attempts()

    network = [a for a in attempts if a.network]
    local = sorted({f"{a.call} {a.target}" for a in attempts if not a.network})
    asked = {received.host for received in sites.received()}
    assert asked == {"vendor.test", "cdn.test", "other.test"}  # what the allowed requests were
    assert [a for a in network if a.refused] == [], f"the proxy tried to leave the machine (local: {local})"
    resolved = {a.target for a in network if a.family == "name" and not a.loopback}
    assert resolved == asked, f"names the proxy looked up on its own: {resolved - asked} (local: {local})"
    connected = {a.target for a in network if a.family != "name"}
    site_ports = {f"127.0.0.1:{sites.http_port}", f"127.0.0.1:{sites.https_port}"}
    assert connected == site_ports, f"connections of the proxy's own: {connected - site_ports} (local: {local})"
    assert "tracker.test" not in {a.target for a in network}  # blocked: not even looked up
    if local:
        print(f"local (AF_UNIX) sockets the proxy used, not the network: {local}")
