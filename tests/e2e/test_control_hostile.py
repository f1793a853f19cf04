"""The control API against a hostile web page, in a real browser through the real proxy process.

A page on `other.test` knows where the control API listens and tries everything a page can to read
the site state or change settings: CORS fetches with and without credentials, `no-cors` fetches,
form posts (urlencoded and text/plain shaped as JSON), images and scripts pointing at read and write
paths, a guessed token, a guessed pairing code, and a DNS-rebinding navigation. From Python
(a raw socket) comes a request with a rebinding `Host` header. Nothing is readable, every attempt is
refused by the server (its log counts them), and the ledger's settings are unchanged afterwards.

The positive path: a pairing code from `whoknows extension pair`, the token for it, the site
state read with it, protection paused with it, and `whoknows site show` sees the change.
"""

from __future__ import annotations

import http.client
import json
import os
import re
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from e2e_browser import new_context
from e2e_sites import GIF

pytestmark = pytest.mark.slow

CONTROL = re.compile(r"control API: http://127\.0\.0\.1:(\d+)\)")
REFUSED = re.compile(r"whoknows control API refused (\S+) (\S+)(?: \(Origin [^)]*\))?: (\d{3}) (.+)$", re.M)
WHOKNOWS = str(Path(sys.executable).with_name("whoknows"))
UNTOUCHED = {"site": "vendor.test", "paused": False, "cookie_mode": None, "allowed_third_parties": [],
             "leak_mode": None, "defaults": {"cookie_mode": "allow", "leak_mode": "block"}}

# Each attempt resolves to {name, readable, detail}: `readable` is true only if the page got to
# see a response body or status (it never should).
HOSTILE_PAGE = """<!doctype html><html><head><title>hostile</title></head><body>
<iframe name="sink" id="sink"></iframe>
<script>
const API = "http://127.0.0.1:%(port)d/api/v1";
const WRITE = {site: "vendor.test", paused: true};

async function tryFetch(name, url, init) {
  try {
    const response = await fetch(url, init);
    const text = await response.text();
    const readable = response.type !== "opaque" || response.status !== 0 || text !== "";
    return {name, readable, detail: `${response.type} ${response.status} ${text.slice(0, 80)}`};
  } catch (error) {
    return {name, readable: false, detail: String(error)};
  }
}

function tryElement(name, tag, url) {
  return new Promise((resolve) => {
    const element = document.createElement(tag);
    const done = (how) => resolve({name, readable: false, detail: how});
    element.onload = () => done("load");
    element.onerror = () => done("error");
    element.src = url;
    document.body.appendChild(element);
    setTimeout(() => done("timeout"), 5000);
  });
}

function tryForm(name, enctype, fields) {
  return new Promise((resolve) => {
    const frame = document.getElementById("sink");
    const form = document.createElement("form");
    form.method = "POST";
    form.action = API + "/site/protection";
    form.target = "sink";
    form.enctype = enctype;
    for (const [key, value] of Object.entries(fields)) {
      const input = document.createElement("input");
      input.type = "hidden";
      input.name = key;
      input.value = value;
      form.appendChild(input);
    }
    document.body.appendChild(form);
    frame.onload = () => {
      let readable = false, detail = "cross-origin frame";
      try {
        detail = frame.contentDocument.body.innerText;  // throws: another origin
        readable = true;
      } catch (error) {
        detail = String(error);
      }
      resolve({name, readable, detail});
    };
    form.submit();
    setTimeout(() => resolve({name, readable: false, detail: "timeout"}), 5000);
  });
}

window.attack = async function () {
  const read = API + "/site?site=vendor.test";
  const results = [];
  results.push(await tryFetch("cors fetch", read));
  results.push(await tryFetch("cors fetch with credentials", read, {credentials: "include"}));
  results.push(await tryFetch("no-cors fetch", read, {mode: "no-cors"}));
  results.push(await tryFetch("no-cors fetch with credentials", read, {mode: "no-cors", credentials: "include"}));
  results.push(await tryFetch("guessed token", read,
                              {headers: {Authorization: "Bearer " + "A".repeat(43)}}));
  results.push(await tryFetch("json post", API + "/site/protection",
                              {method: "POST", headers: {"Content-Type": "application/json"},
                               body: JSON.stringify(WRITE)}));
  results.push(await tryFetch("no-cors text/plain post", API + "/site/protection",
                              {method: "POST", mode: "no-cors", headers: {"Content-Type": "text/plain"},
                               body: JSON.stringify(WRITE)}));
  results.push(await tryFetch("no-cors pairing guess", API + "/pair",
                              {method: "POST", mode: "no-cors", headers: {"Content-Type": "text/plain"},
                               body: JSON.stringify({code: "AAAA-AAAA"})}));
  results.push(await tryForm("urlencoded form post", "application/x-www-form-urlencoded",
                             {site: "vendor.test", paused: "true"}));
  // enctype=text/plain sends name=value: this one's body is the JSON {"site":..,"paused":true,"x":"="}
  results.push(await tryForm("text/plain form post shaped as JSON", "text/plain",
                             {'{"site":"vendor.test","paused":true,"x":"': '"}'}));
  results.push(await tryElement("img GET to a write path", "img",
                                API + "/site/protection?site=vendor.test&paused=true"));
  results.push(await tryElement("img GET of the state", "img", read));
  results.push(await tryElement("script inclusion of the state", "script", read));
  return results;
};
</script></body></html>"""


def control_port(proxy) -> int:
    return int(CONTROL.search(proxy.stdout()).group(1))


def whoknows(proxy, *args: str) -> str:
    env = {**os.environ, "WHOKNOWS_HOME": str(proxy.home)}
    result = subprocess.run([WHOKNOWS, *args], capture_output=True, text=True, env=env, timeout=60)
    assert result.returncode == 0, result.stderr
    return result.stdout


def site_show(proxy) -> dict:
    return json.loads(whoknows(proxy, "site", "show", "vendor.test", "--json"))


def call(port: int, method: str, path: str, headers: dict | None = None, payload=None):
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
    body = None if payload is None else json.dumps(payload).encode()
    sent = dict(headers or {})
    if body is not None:
        sent["Content-Type"] = "application/json"
    try:
        connection.request(method, path, body=body, headers=sent)
        response = connection.getresponse()
        return response.status, response.getheader("etag"), json.loads(response.read() or b"null")
    finally:
        connection.close()


def raw_rebinding_request(port: int, token: str) -> bytes:
    request = (f"GET /api/v1/site?site=vendor.test HTTP/1.1\r\nHost: attacker.test:{port}\r\n"
               f"Authorization: Bearer {token}\r\nConnection: close\r\n\r\n").encode()
    received = b""
    with socket.create_connection(("127.0.0.1", port), timeout=5) as raw:
        raw.sendall(request)
        while chunk := raw.recv(65536):
            received += chunk
    return received


def refusals(proxy) -> list[tuple[str, str, int, str]]:
    return [(m.group(1), m.group(2), int(m.group(3)), m.group(4)) for m in REFUSED.finditer(proxy.stderr())]


FILTERS = "||tracker.test^\n"
SHOP = '<!doctype html><title>shop</title><img src="https://tracker.test/pixel.gif">'
EXTENSION_ORIGIN = {"Origin": "chrome-extension://abcdefghijklmnopabcdefghijklmnop"}


@pytest.fixture
def control_proxy(start_proxy, e2e_dir, sites, request):
    filters = e2e_dir / "control-filters.txt"
    filters.write_text(FILTERS)
    proxy = start_proxy(f"whoknows_extra_filters={filters}", name=f"control-{request.node.name[:40]}")
    yield proxy
    proxy.stop()


def test_a_hostile_page_can_neither_read_the_state_nor_change_settings(control_proxy, browser, sites):
    proxy = control_proxy
    port = control_port(proxy)
    before = site_show(proxy)
    assert before == UNTOUCHED
    # A pending pairing code: what an attacker would most like to guess.
    code = json.loads(whoknows(proxy, "extension", "pair", "--json"))["code"]
    sites["other.test"].page("/", HOSTILE_PAGE % {"port": port})
    context = new_context(browser, proxy.url)
    try:
        page = context.new_page()
        page.goto("https://other.test/")
        results = page.evaluate("window.attack()")
        # DNS rebinding in the browser: attacker.test resolves to 127.0.0.1 (the test proxy maps
        # every *.test name there), so this page is same-origin with whatever listens on the port.
        rebound = page.goto(f"http://attacker.test:{port}/api/v1/site?site=vendor.test")
        results.append({"name": "rebinding navigation", "readable": "protection" in page.content(),
                        "detail": f"{rebound.status} {page.inner_text('body')[:80]}"})
    finally:
        context.close()
    # The guess on /pair never counted: the code is intact, and pairs once the hostile page is gone.
    assert json.loads(whoknows(proxy, "extension", "status", "--json"))["pairing"]["tries_left"] == 5
    status, _, answer = call(port, "POST", "/api/v1/pair", EXTENSION_ORIGIN, {"code": code})
    assert status == 200
    raw = raw_rebinding_request(port, answer["token"])  # even with the real token
    results.append({"name": "raw rebinding Host header", "readable": b"protection" in raw,
                    "detail": raw.split(b"\r\n", 1)[0].decode()})

    for result in results:
        print(f"  {result['name']}: {result['detail'][:100]!r}")
    assert not [r["name"] for r in results if r["readable"]]
    logged = refusals(proxy)
    statuses = [status for _, _, status, _ in logged]
    # Every attempt reached the server and was refused there (a CORS preflight stands for the
    # request it guarded; Chromium retries a 421 navigation once).
    assert len(logged) >= len(results)
    assert set(statuses) <= {401, 403, 421}
    assert statuses.count(421) >= 2
    assert [entry for entry in logged if entry[0] == "OPTIONS"]  # preflights refused, no CORS headers
    assert len([e for e in logged if e[:3] == ("POST", "/api/v1/site/protection", 403)]) == 3  # forms, no-cors
    assert ("POST", "/api/v1/pair", 403, "web page origin") in logged
    assert ("GET", "/api/v1/site/protection", 403, "web page subresource") in logged
    assert site_show(proxy) == before
    n = len(results)
    print(f"hostile attempts: {n}, all refused")
    assert n >= 7


def test_a_paired_client_reads_the_live_state_and_pausing_applies_at_the_next_request(control_proxy, browser,
                                                                                      sites):
    proxy = control_proxy
    port = control_port(proxy)
    sites["vendor.test"].page("/", SHOP, headers=[("cache-control", "no-store")])
    sites["tracker.test"].page("/pixel.gif", GIF, content_type="image/gif", headers=[("cache-control", "no-store")])
    code = json.loads(whoknows(proxy, "extension", "pair", "--json"))["code"]
    status, _, answer = call(port, "POST", "/api/v1/pair", EXTENSION_ORIGIN, {"code": code})
    assert status == 200
    auth = {**EXTENSION_ORIGIN, "Authorization": f"Bearer {answer['token']}"}
    context = new_context(browser, proxy.url)
    try:
        page = context.new_page()
        page.goto("https://vendor.test/")
        sites["vendor.test"].wait_for("/")
        status, etag, state = call(port, "GET", "/api/v1/site?url=https%3A%2F%2Fvendor.test%2F", auth)
        assert status == 200 and state["site"] == "vendor.test" and state["protection"] is True
        assert state["blocked"]["total"] >= 1
        assert [tp["domain"] for tp in state["blocked"]["third_parties"] if tp["blocked"]] == ["tracker.test"]
        assert sites["tracker.test"].received() == []
        status, _, _ = call(port, "GET", "/api/v1/site?url=https%3A%2F%2Fvendor.test%2F",
                            {**auth, "If-None-Match": etag})
        assert status == 304  # the popup's poll, when nothing changed

        status, _, state = call(port, "POST", "/api/v1/site/protection", auth, {"site": "vendor.test", "paused": True})
        assert status == 200 and state["protection"] is False
        page.reload()  # at once: no waiting for the proxy's periodic settings check
        assert sites["tracker.test"].wait_for("/pixel.gif", timeout=5).host == "tracker.test"
    finally:
        context.close()
    assert site_show(proxy) == {**UNTOUCHED, "paused": True}
