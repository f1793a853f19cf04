"""One addon that hands each event to the whoknows addons: same order, same names and options."""

import pytest
from mitmproxy import exceptions
from mitmproxy import hooks
from mitmproxy.proxy.layers.http import HttpRequestHeadersHook
from mitmproxy.proxy.layers.http import HttpRequestHook
from mitmproxy.test import taddons
from mitmproxy.test import tflow

from proxy_addons.chain import Chain


class Recorder:
    """Notes every hook it gets, under its own name."""

    def __init__(self, name, log):
        self.name, self.log = name, log

    def load(self, loader):
        self.log.append((self.name, "load"))
        loader.add_option(f"{self.name}_level", int, 1, "a test option")

    def configure(self, updated):
        if f"{self.name}_level" in updated:
            self.log.append((self.name, "configure"))

    def request(self, flow):
        self.log.append((self.name, "request"))

    def done(self):
        self.log.append((self.name, "done"))


class Halting:
    name = "halting"

    def request(self, flow):
        raise exceptions.AddonHalt()


class Later:
    name = "later"

    def __init__(self, log):
        self.log = log

    async def request(self, flow):
        self.log.append(("later", "request"))


class TopLevel:
    """An addon added after the chain, as mitmproxy's own addons are."""

    name = "toplevel"

    def __init__(self, log):
        self.log = log

    def request(self, flow):
        self.log.append(("toplevel", "request"))


def test_members_are_registered_addons_with_their_options():
    log = []
    first, second = Recorder("first", log), Recorder("second", log)
    with taddons.context(Chain([first, second])) as tctx:
        assert tctx.master.addons.get("first") is first
        assert tctx.master.addons.get("second") is second
        assert log == [("first", "load"), ("second", "load")]
        tctx.options.update(second_level=5)
        assert ("second", "configure") in log
        assert tctx.options.second_level == 5


async def test_each_event_reaches_each_member_once_in_order():
    log = []
    with taddons.context(Chain([Recorder("first", log), Recorder("second", log), Later(log)]),
                         TopLevel(log)) as tctx:
        log.clear()
        await tctx.master.addons.trigger_event(HttpRequestHook(tflow.tflow()))
        assert log == [("first", "request"), ("second", "request"), ("later", "request"),
                       ("toplevel", "request")]
        log.clear()
        # An event no member has a hook for reaches none of them (and breaks nothing).
        await tctx.master.addons.trigger_event(HttpRequestHeadersHook(tflow.tflow()))
        assert log == []


async def test_addon_halt_from_a_member_stops_the_event_as_from_a_top_level_addon():
    log = []
    with taddons.context(Chain([Recorder("first", log), Halting(), Later(log)]), TopLevel(log)) as tctx:
        log.clear()
        await tctx.master.addons.trigger_event(HttpRequestHook(tflow.tflow()))
        assert log == [("first", "request")]


def test_done_unregisters_the_members_so_a_reloaded_chain_registers_again():
    log = []
    with taddons.context() as tctx:
        chain = Chain([Recorder("first", log)])
        tctx.master.addons.add(chain)
        tctx.master.addons.remove(chain)  # what a script reload does
        assert ("first", "done") in log
        assert tctx.master.addons.get("first") is None
        again = Chain([Recorder("first", log)])
        tctx.master.addons.add(again)
        assert tctx.master.addons.get("first") is again.members[0]


def test_a_member_name_already_taken_is_refused_as_mitmproxy_refuses_it():
    with taddons.context(Recorder("first", [])) as tctx:
        with pytest.raises(exceptions.AddonManagerError, match="first"):
            tctx.master.addons.add(Chain([Recorder("first", [])]))


def test_shutdown_runs_every_members_done_once():
    log = []
    with taddons.context(Chain([Recorder("first", log), Recorder("second", log)])) as tctx:
        tctx.master.addons.trigger(hooks.DoneHook())
        tctx.master.addons.trigger(hooks.DoneHook())
        assert [entry for entry in log if entry[1] == "done"] == [("first", "done"), ("second", "done")]


class WaitsSometimes:
    """A plain hook that returns an awaitable only when it must wait (as the cname addon does)."""

    name = "waits"

    def __init__(self, log, fail_after_wait=False):
        self.log, self.fail_after_wait = log, fail_after_wait

    def request(self, flow):
        self.log.append(("waits", "start"))
        if flow.request.path.startswith("/now"):
            return None
        return self._wait(flow)

    async def _wait(self, flow):
        import asyncio

        await asyncio.sleep(0)
        flow.request.headers["x-waited"] = "1"
        self.log.append(("waits", "end"))
        if self.fail_after_wait:
            raise RuntimeError("failed after waiting")


@pytest.mark.parametrize("fail_after_wait", [False, True])
async def test_a_member_that_must_wait_is_awaited_before_the_next_one_and_stays_guarded(fail_after_wait):
    from proxy_addons.safety import ERRORS_KEY
    from proxy_addons.safety import Safety

    log = []
    guard = Safety()
    members = [guard, *(guard.guard(addon) for addon in (Recorder("first", log), WaitsSometimes(log, fail_after_wait),
                                                         Recorder("second", log)))]
    with taddons.context(Chain(members), TopLevel(log)) as tctx:
        for path in ("/now", "/later"):
            log.clear()
            flow = tflow.tflow()
            flow.request.path = path
            await tctx.master.addons.trigger_event(HttpRequestHook(flow))
            waited = path == "/later"
            assert log == [("first", "request"), ("waits", "start"), *([("waits", "end")] if waited else []),
                           ("second", "request"), ("toplevel", "request")]
            # a failure after the wait is undone (the header it set is gone) and noted on the flow
            assert ("x-waited" in flow.request.headers) == (waited and not fail_after_wait)
            assert (ERRORS_KEY in flow.metadata) == (waited and fail_after_wait)
