"""Error isolation: a failing addon neither breaks the flow nor floods the log."""

import logging

import pytest
from mitmproxy import exceptions
from mitmproxy import hooks
from mitmproxy import http
from mitmproxy.proxy.layers.http import HttpRequestHook
from mitmproxy.proxy.layers.http import HttpResponseHook
from mitmproxy.test import taddons
from mitmproxy.test import tflow

from proxy_addons.safety import ERRORS_KEY
from proxy_addons.safety import Safety


class HalfDone:
    """Changes the request and the flow, then hits a bug."""

    name = "halfdone"

    def request(self, flow):
        del flow.request.headers["cookie"]
        flow.request.path = "/rewritten"
        flow.metadata["halfdone.seen"] = True
        flow.response = http.Response.make(403, b"blocked")
        flow.kill()
        raise KeyError("missing-key")


class AsyncBroken:
    name = "asyncbroken"

    async def response(self, flow):
        flow.response.headers["x-added"] = "1"
        raise RuntimeError("async bug")


class Marks:
    """A healthy addon after the broken one."""

    name = "marks"

    def request(self, flow):
        flow.request.headers["x-marks"] = "seen"


class Strict:
    name = "strict"

    def load(self, loader):
        loader.add_option("strict_level", int, 1, "a level")

    def configure(self, updated):
        if "strict_level" in updated:
            from mitmproxy import ctx

            if ctx.options.strict_level < 0:
                raise exceptions.OptionsError("strict_level must be >= 0")


def browser_flow():
    request = http.Request.make("GET", "https://shop.test/cart?id=1",
                                headers={"cookie": "sid=1", "user-agent": "test"})
    return tflow.tflow(req=request)


async def test_a_failing_hook_leaves_the_flow_as_it_was_and_later_addons_still_run(caplog):
    safety = Safety()
    with taddons.context(safety, safety.guard(HalfDone()), Marks()) as tctx:
        flow = browser_flow()
        await tctx.master.addons.handle_lifecycle(HttpRequestHook(flow))
    assert flow.request.headers["cookie"] == "sid=1"
    assert flow.request.path == "/cart?id=1"
    assert flow.response is None
    assert flow.error is None and flow.live and flow.killable
    assert "halfdone.seen" not in flow.metadata
    assert flow.metadata[ERRORS_KEY] == ["halfdone.request: KeyError"]
    assert flow.request.headers["x-marks"] == "seen"


async def test_the_same_error_is_logged_once_with_its_cause_then_counted(caplog):
    caplog.set_level(logging.INFO)
    safety = Safety()
    with taddons.context(safety, safety.guard(HalfDone())) as tctx:
        for _ in range(5):
            await tctx.master.addons.handle_lifecycle(HttpRequestHook(browser_flow()))
        errors = [r for r in caplog.records if r.levelno >= logging.ERROR]
        assert len(errors) == 1
        assert "halfdone" in errors[0].getMessage() and "KeyError" in errors[0].getMessage()
        assert "https://shop.test/cart" in errors[0].getMessage()
        assert errors[0].exc_info and errors[0].exc_info[0] is KeyError  # the traceback goes along
        await tctx.master.addons.trigger_event(hooks.DoneHook())
    summary = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert any("halfdone failed in request 5 times" in m for m in summary)


async def test_async_hooks_are_guarded_too(caplog):
    safety = Safety()
    with taddons.context(safety, safety.guard(AsyncBroken())) as tctx:
        flow = browser_flow()
        flow.response = http.Response.make(200, b"ok")
        await tctx.master.addons.handle_lifecycle(HttpResponseHook(flow))
    assert "x-added" not in flow.response.headers
    assert flow.response.content == b"ok"
    assert flow.metadata[ERRORS_KEY] == ["asyncbroken.response: RuntimeError"]


def test_option_errors_still_reach_mitmproxy():
    safety = Safety()
    strict = safety.guard(Strict())
    with taddons.context(safety, strict) as tctx:
        with pytest.raises(exceptions.OptionsError):
            tctx.configure(strict, strict_level=-1)


def test_guarding_twice_wraps_once():
    safety = Safety()
    addon = safety.guard(safety.guard(HalfDone()))
    assert addon.request.__wrapped__.__func__ is HalfDone.request


def test_unguarded_the_same_bug_leaves_the_flow_half_modified():
    # What the guard is for: mitmproxy alone logs the error but keeps the half-done changes.
    with taddons.context(HalfDone()) as tctx:
        flow = browser_flow()
        tctx.master.addons.trigger(HttpRequestHook(flow))
    assert "cookie" not in flow.request.headers
    assert flow.response.status_code == 403


def test_the_guard_knows_the_flow_hooks_on_a_fresh_import():
    # In the proxy, safety may be imported before mitmproxy's proxy layers define their hooks.
    import subprocess
    import sys

    code = ("from proxy_addons.safety import Safety\n"
            "class A:\n    def request(self, f): pass\n    def response(self, f): pass\n"
            "a = Safety().guard(A())\n"
            "assert a.request._whoknows_guarded and a.response._whoknows_guarded\n")
    subprocess.run([sys.executable, "-c", code], check=True, timeout=60)


# -- observers: hooks whose guard keeps only the metadata --------------------------------------------


def _kinds_of_requests() -> list[tuple[str, dict, list]]:
    """(url, request headers, response header pairs) for the kinds of requests a page makes."""
    page = "https://shop.test/cart"
    from_page = {"referer": page, "sec-fetch-site": "cross-site", "sec-fetch-dest": "image"}
    return [
        (page, {"sec-fetch-dest": "document", "sec-fetch-mode": "navigate", "cookie": "sid=abcdef0123456789xyz"},
         [("set-cookie", "visitor=Zq8f3kLw92XbVt61; Max-Age=99999999"), ("personal-terms-agreed", "nostalking=1")]),
        ("https://shop.test/api/items?utm_source=x&id=3",
         {"referer": page, "sec-fetch-site": "same-origin", "cookie": "sid=abcdef0123456789xyz"},
         [("set-cookie", "cart=42; Path=/")]),
        ("https://shop.test/.well-known/personal-terms", {"referer": page, "sec-fetch-site": "same-origin"},
         [("content-type", "text/plain")]),
        ("https://pixel.unknown.test/p.gif?e=ana%40example.test", from_page, []),
        ("https://pixel.unknown.test/p.gif?v=Zq8f3kLw92XbVt61", from_page, []),
        ("https://ads.tracker.test/frame", {**from_page, "sec-fetch-dest": "iframe"},
         [("set-cookie", "uid=77f3a9c1e2b4d5f6; Max-Age=99999999; SameSite=None; Secure")]),
        ("https://www.google-analytics.com/collect?cid=1", from_page, [("set-cookie", "_ga=1")]),
        ("http://whoknows.proxy/personal-terms/nostalking/1", {}, []),
        ("http://whoknows.proxy/proxy.pac", {}, []),
    ]


async def test_observer_hooks_change_no_request_or_response(monkeypatch):
    """Every hook marked `observer` in the whoknows chain, over every kind of request, leaves the
    messages exactly as it found them (so its guard may keep only the metadata)."""
    from mitmproxy.proxy.layers import http as http_layers

    import proxy_addons
    from proxy_addons.chain import Chain
    from proxy_addons.mitmproxy_shortcuts import message_state
    from whoknows.ledger import open_ledger
    from whoknows.me import add_value
    from whoknows.personal_terms import offer

    with open_ledger() as ledger:
        add_value(ledger, "email", "ana@example.test")
        offer(ledger, "nostalking")
    chain = Chain(proxy_addons.whoknows_addons())
    checked: list[str] = []
    changed: list[str] = []

    def checking(name, function):
        def check(flow):
            before = [(message, message_state(message)) for message in (flow.request, flow.response) if message]
            result = function(flow)
            after = [(message, message_state(message)) for message in (flow.request, flow.response) if message]
            checked.append(name)
            if after != before:
                changed.append(name)
            return result
        return check

    with taddons.context(chain) as tctx:
        tctx.options.update(whoknows_control_port=-1)
        for member in chain.members:
            for hook in ("requestheaders", "request", "responseheaders", "response"):
                function = getattr(member, hook, None)
                step = getattr(function, "_whoknows_guarded", None)
                if step is not None and step[3].__name__ == "MetadataSnapshot":
                    setattr(member, hook, checking(f"{member.name}.{hook}", step[0]))
        chain.bind_hooks()
        for url, headers, answer in _kinds_of_requests():
            flow = tflow.tflow(req=http.Request.make("GET", url, headers={"user-agent": "test", **headers}))
            for event in (http_layers.HttpRequestHeadersHook, http_layers.HttpRequestHook):
                await tctx.master.addons.handle_lifecycle(event(flow))
            if flow.response is None:
                flow.response = http.Response.make(200, b"nostalking=1\n", [(k.encode(), v.encode()) for k, v in answer])
            for event in (http_layers.HttpResponseHeadersHook, http_layers.HttpResponseHook):
                await tctx.master.addons.handle_lifecycle(event(flow))
    assert {"whoknows_context.requestheaders", "whoknows_observation.request",
            "whoknows_personal_terms.response"} <= set(checked)  # the check reached them
    assert changed == []
