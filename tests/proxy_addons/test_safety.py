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
