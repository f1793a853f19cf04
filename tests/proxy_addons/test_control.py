"""The control API addon in mitmproxy's test context: a real loopback server, started and stopped
by the proxy's lifecycle, wired to this proxy's live counters and live site settings."""

from __future__ import annotations

import asyncio
import http.client
import json
import logging
import socket

import pytest
from mitmproxy import exceptions
from mitmproxy.test import taddons

from proxy_addons.context import Context
from proxy_addons.control import PORT_OPTION
from proxy_addons.control import Control
from proxy_addons.observation import Observation
from whoknows import __version__
from whoknows import control
from whoknows.control import TokenStore
from whoknows.site_settings import SiteSettingsStore
from whoknows import learned_trackers
from whoknows.ledger import open_ledger
from whoknows.observations import CookieSeen
from whoknows.observations import Flusher
from whoknows.observations import Observations


def request(url: str, method: str = "GET", path: str = "/api/v1/ping", headers: dict | None = None,
            body: bytes | None = None) -> tuple[int, dict, bytes]:
    port = int(url.rsplit(":", 1)[1])
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
    try:
        connection.request(method, path, body=body, headers=headers or {})
        response = connection.getresponse()
        return response.status, dict(response.getheaders()), response.read()
    finally:
        connection.close()


def refused(port: int) -> bool:
    with socket.socket() as probe:
        return probe.connect_ex(("127.0.0.1", port)) != 0


def test_the_server_starts_on_a_free_port_answers_ping_and_stops_on_done():
    addon = Control()
    with taddons.context(addon) as tctx:
        tctx.configure(addon, **{PORT_OPTION: 0})
        assert addon.url is None
        addon.running()
        url = addon.url
        assert url.startswith("http://127.0.0.1:") and not url.endswith(":0")
        status, headers, body = request(url)
        assert status == 200
        assert json.loads(body) == {"whoknows": __version__, "paired": False}
        assert headers["content-type"] == "application/json; charset=utf-8"
        assert headers["Server"] == "whoknows"
        assert control.read_address()["url"] == url  # for `whoknows extension status`
        addon.done()
        assert addon.url is None
        assert refused(int(url.rsplit(":", 1)[1]))
        assert control.read_address() is None


def test_it_listens_on_loopback_only_and_refuses_web_pages():
    addon = Control()
    with taddons.context(addon) as tctx:
        tctx.configure(addon, **{PORT_OPTION: 0})
        addon.running()
        try:
            assert addon._server.server_address[0] == "127.0.0.1"
            status, headers, body = request(addon.url, headers={"Origin": "https://other.test"})
            assert status == 403 and not [h for h in headers if h.lower().startswith("access-control-")]
            port = int(addon.url.rsplit(":", 1)[1])
            status, _, _ = request(addon.url, headers={"Host": f"attacker.test:{port}"})
            assert status == 421
            assert addon.api.refusals == {"web page origin": 1, "foreign Host header": 1}
        finally:
            addon.done()


def test_requests_the_stdlib_cannot_parse_get_json_errors_and_chunked_bodies_are_refused():
    addon = Control()
    with taddons.context(addon) as tctx:
        tctx.configure(addon, **{PORT_OPTION: 0})
        addon.running()
        try:
            port = int(addon.url.rsplit(":", 1)[1])
            with socket.create_connection(("127.0.0.1", port), timeout=5) as raw:
                raw.sendall(b"BREW /api/v1/ping HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
                answer = b""
                while chunk := raw.recv(4096):  # until the server closes
                    answer += chunk
            head, _, body = answer.partition(b"\r\n\r\n")
            assert head.startswith(b"HTTP/1.1 501") and b"content-type: application/json" in head
            assert json.loads(body) == {"error": "Not Implemented"}
            status, _, _ = request(addon.url, "POST", "/api/v1/pair",
                                   headers={"Content-Type": "application/json", "Transfer-Encoding": "chunked"},
                                   body=iter([b'{"code": "ABCD-EFGH"}']))
            assert status == 411
            status, _, _ = request(addon.url, "POST", "/api/v1/pair",
                                   headers={"Content-Type": "application/json",
                                            "Content-Length": str(control.MAX_BODY_BYTES + 1)})
            assert status == 413
        finally:
            addon.done()


def test_a_taken_port_is_a_warning_and_the_proxy_goes_on(caplog):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        addon = Control()
        with taddons.context(addon) as tctx, caplog.at_level(logging.WARNING):
            tctx.configure(addon, **{PORT_OPTION: port})
            addon.running()
            assert addon.url is None
            assert f"cannot listen on 127.0.0.1:{port}" in caplog.text
            assert not [r for r in caplog.records if r.levelno >= logging.ERROR]  # would stop mitmproxy
            addon.done()


def test_minus_one_turns_it_off_and_bad_ports_are_refused():
    addon = Control()
    with taddons.context(addon) as tctx:
        tctx.configure(addon, **{PORT_OPTION: -1})
        addon.running()
        assert addon.url is None
        addon.done()
        for bad in (-2, 65536):
            with pytest.raises(exceptions.OptionsError, match=PORT_OPTION):
                tctx.configure(addon, **{PORT_OPTION: bad})


def test_changing_the_port_while_running_moves_the_listener():
    addon = Control()
    with taddons.context(addon) as tctx:
        tctx.configure(addon, **{PORT_OPTION: 0})
        addon.running()
        first = addon.url
        with socket.socket() as spare:
            spare.bind(("127.0.0.1", 0))
            wanted = spare.getsockname()[1]
        tctx.configure(addon, **{PORT_OPTION: wanted})
        try:
            assert addon.url == f"http://127.0.0.1:{wanted}"
            assert request(addon.url)[0] == 200
            assert refused(int(first.rsplit(":", 1)[1]))
        finally:
            addon.done()


def learn_tracker_test() -> None:
    """tracker.test set cookies on three sites' pages, flushed as the proxy flushes: a learned tracker."""
    seen = Observations()
    for page in ("a.test", "b.test", "c.test"):
        seen.cookie(page, CookieSeen("uid", "tracker.test", True, 3600, None, True, False, "block"))
    assert Flusher(seen, open_ledger).flush()


async def test_a_write_applies_to_this_proxys_live_settings_at_once_and_state_shows_live_counters():
    learn_tracker_test()
    observations = Observations()
    context, observation, addon = Context(), Observation(observations), Control()
    with taddons.context(context, observation, addon) as tctx:
        tctx.configure(addon, **{PORT_OPTION: 0})
        context.running()  # opens this proxy's settings store on the event loop's thread
        store = context.store
        store.refresh_seconds = 3600  # so only the control API's reload can explain a change
        assert store.get("vendor.test").paused is False
        addon.running()
        try:
            tokens = TokenStore()
            token = tokens.pair(tokens.new_pairing_code().code)
            auth = {"Authorization": f"Bearer {token}"}
            observations.third_party("vendor.test", "tracker.test", blocked=True, owner="Tracker Inc",
                                     blocked_by="whoknows")
            status, headers, body = await asyncio.to_thread(
                request, addon.url, "GET", "/api/v1/site?url=https%3A%2F%2Fvendor.test%2F", auth)
            assert status == 200 and headers["etag"]
            assert json.loads(body)["blocked"] == {"total": 1, "third_parties": [
                {"domain": "tracker.test", "company": "Tracker Inc", "category": None, "blocked": 1, "allowed": 0,
                 "blocked_by": "whoknows", "learned": {"state": "learned", "sites": ["a.test", "b.test", "c.test"]},
                 "cloaked_behind": None}]}
            status, _, body = await asyncio.to_thread(
                request, addon.url, "POST", "/api/v1/site/protection",
                {**auth, "Content-Type": "application/json"},
                json.dumps({"site": "vendor.test", "paused": True}).encode())
            assert status == 200 and json.loads(body)["protection"] is False
            assert store.get("vendor.test").paused is True  # what the next request's hooks read
        finally:
            addon.done()
            context.done()


async def test_a_change_another_process_made_shows_in_the_next_state_without_a_request_in_between():
    learn_tracker_test()
    observations = Observations()
    context, observation, addon = Context(), Observation(observations), Control()
    with taddons.context(context, observation, addon) as tctx:
        tctx.configure(addon, **{PORT_OPTION: 0})
        context.running()
        context.store.refresh_seconds = 3600  # the request path's own check cannot explain a change
        addon.running()
        try:
            tokens = TokenStore()
            auth = {"Authorization": f"Bearer {tokens.pair(tokens.new_pairing_code().code)}"}
            observations.third_party("vendor.test", "tracker.test", blocked=True, blocked_by="whoknows")

            def state() -> dict:
                status, _, body = request(addon.url, "GET", "/api/v1/site?site=vendor.test", auth)
                assert status == 200
                return json.loads(body)

            before = await asyncio.to_thread(state)
            with open_ledger() as cli_ledger:  # `whoknows trackers allow` and `site pause` elsewhere
                learned_trackers.allow(cli_ledger, "tracker.test")
                SiteSettingsStore(cli_ledger).set_paused("vendor.test", True)
            after = await asyncio.to_thread(state)
            # ... and the proxy's next request obeys what the popup now says.
            assert context.learned_trackers.get("tracker.test").state == "allowed"
            assert context.store.get("vendor.test").paused is True
        finally:
            addon.done()
            context.done()
    assert [tp["learned"]["state"] for tp in before["blocked"]["third_parties"]] == ["learned"]
    assert before["protection"] is True
    assert [tp["learned"]["state"] for tp in after["blocked"]["third_parties"]] == ["allowed"]
    assert after["protection"] is False and after["settings"]["paused"] is True
