"""Every shortcut through mitmproxy's internals gives what mitmproxy's own API gives.

Against the installed mitmproxy's real `Headers`, `Response.make`, `Request`/`Response` state: when
an upgrade changes what its API answers, these fail and `proxy_addons/mitmproxy_shortcuts.py` is the
one place to change. Header fields are generated (hypothesis) with the cases the shortcuts must
get right: names in any case, repeated names, bytes that are not UTF-8.
"""

from hypothesis import given, settings
from hypothesis import strategies as st
from mitmproxy import http
from mitmproxy.test import tflow, tutils

from proxy_addons import mitmproxy_shortcuts as shortcuts

NAMES = [b"cookie", b"Cookie", b"COOKIE", b"set-cookie", b"Set-Cookie", b"referer", b"Referer",
         b"content-type", b"Content-Type", b"x-other", b"sec-gpc", b"DNT", b"\xc3\x84-odd"]
VALUES = st.one_of(
    st.sampled_from([b"a=1", b"", b"text/html; charset=utf-8", b" spaced ", b"caf\xc3\xa9", b"\xff\xfe bad",
                     b"https://shop.test/page"]),
    st.binary(max_size=12).filter(lambda v: b"\r" not in v and b"\n" not in v),
)
FIELDS = st.lists(st.tuples(st.sampled_from(NAMES), VALUES), max_size=8).map(tuple)
LOOKED_UP = [b"cookie", b"set-cookie", b"referer", b"content-type", b"x-other", b"absent"]


def _headers(fields) -> http.Headers:
    return http.Headers(fields)


@settings(max_examples=300, deadline=None)
@given(FIELDS)
def test_reads_answer_as_headers_get_get_all_and_in_do(fields):
    headers = _headers(fields)
    for name in LOOKED_UP:
        text = name.decode()
        assert shortcuts.values_of(fields, name) == headers.get_all(text)
        assert shortcuts.folded_value(fields, name) == headers.get(text)
        assert shortcuts.has_field(fields, name) == (text in headers)
        assert [v.decode("utf-8", "surrogateescape") for v in shortcuts.raw_values_of(fields, name)] == \
            headers.get_all(text)


@settings(max_examples=300, deadline=None)
@given(FIELDS)
def test_the_lowercase_map_answers_as_headers_get(fields):
    headers = _headers(fields)
    mapped = shortcuts.lowercase_map(headers)
    # keys lowercased as `Headers` compares names: ASCII letters only (bytes.lower())
    for name in {*(n.lower().decode("utf-8", "surrogateescape") for n, _ in fields), "absent"}:
        assert mapped.get(name) == headers.get(name)
    assert all(key.encode("utf-8", "surrogateescape").lower() == key.encode("utf-8", "surrogateescape")
               for key in mapped)


@settings(max_examples=300, deadline=None)
@given(FIELDS)
def test_removing_fields_leaves_what_del_leaves(fields):
    for name in LOOKED_UP:
        headers = _headers(fields)
        if name.decode() in headers:
            del headers[name.decode()]
        assert shortcuts.without_fields(fields, name) == headers.fields


@settings(max_examples=300, deadline=None)
@given(FIELDS, st.dictionaries(st.sampled_from([b"sec-gpc", b"dnt", b"referer", b"cookie"]),
                               st.one_of(st.none(), st.sampled_from([b"1", b"https://shop.test/"])), max_size=4))
def test_setting_fields_leaves_what_setitem_and_del_leave(fields, values):
    headers = _headers(fields)
    for name, value in values.items():
        if value is None:
            if name.decode() in headers:
                del headers[name.decode()]
        else:
            headers[name.decode()] = value.decode()
    assert shortcuts.with_fields_set(fields, values) == headers.fields


def test_fresh_responses_are_what_response_make_makes_with_this_mitmproxy():
    assert shortcuts.FAST_RESPONSES  # else the blocking addon falls back to Response.make (slower)
    for status, body, given_headers in [(200, b"GIF89a", {"content-type": "image/gif"}), (204, b"", {}),
                                        (403, b"", {"content-type": "text/plain; charset=utf-8"})]:
        fields = shortcuts.response_fields(status, body, given_headers)
        made = http.Response.make(status, body, given_headers)
        fresh = shortcuts.fresh_response(status, body, fields)
        assert fields == made.headers.fields
        assert (fresh.status_code, fresh.reason, fresh.http_version, fresh.content, fresh.headers.fields,
                fresh.trailers) == (made.status_code, made.reason, made.http_version, made.content,
                                    made.headers.fields, made.trailers)
        assert fresh.timestamp_start <= fresh.timestamp_end
        fresh.headers["x-more"] = "1"  # its own objects: changing one answer changes no other
        assert "x-more" not in shortcuts.fresh_response(status, body, fields).headers


def test_a_messages_state_restored_undoes_what_a_hook_changed():
    for message in (tutils.treq(), tutils.tresp()):
        before = message.get_state()
        state = shortcuts.message_state(message)
        message.headers["x-added"] = "1"
        del message.headers["content-length"]
        message.content = b"changed"
        message.http_version = "HTTP/2.0"
        if isinstance(message, http.Request):
            message.url = "https://elsewhere.test/x"
        else:
            message.status_code = 500
        shortcuts.restore_message(message, state)
        assert message.get_state() == before


def test_state_of_anything_else_goes_through_get_state():
    flow = tflow.tflow()
    assert shortcuts.message_state(None) is None
    assert shortcuts.message_state(flow.client_conn) == flow.client_conn.get_state()


# --- HookTable: the same hook calls as mitmproxy's AddonManager, fewer look-ups -----------------

import traceback  # noqa: E402

import pytest  # noqa: E402
from mitmproxy import exceptions  # noqa: E402
from mitmproxy import hooks  # noqa: E402
from mitmproxy import options  # noqa: E402
from mitmproxy.master import Master  # noqa: E402
from mitmproxy.proxy import server_hooks  # noqa: E402

from proxy_addons.chain import Chain  # noqa: E402


class Recorder:
    """An addon that notes each hook call in a shared log; `halt`/`fail` on the named hooks."""

    def __init__(self, name, log, *, hooks_=("request", "response", "server_connected"), children=(),
                 halt=(), fail=(), asynchronous=()):
        self.name, self.log, self.addons = name, log, list(children)
        for hook in hooks_:
            setattr(self, hook, self._make(hook, hook in halt, hook in fail, hook in asynchronous))

    def _make(self, hook, halt, fail, asynchronous):
        def call(*args):
            self.log.append((self.name, hook, len(args)))
            if fail:
                raise ValueError(f"{self.name} failed on purpose")
            if halt:
                raise exceptions.AddonHalt()

        async def call_async(*args):
            call(*args)

        return call_async if asynchronous else call


def _addons(log):
    return [Recorder("plain", log),
            Recorder("parent", log, hooks_=("request",),
                     children=[Recorder("child", log, hooks_=("request", "server_connected"))]),
            Recorder("none", log, hooks_=()),
            Recorder("failing", log, fail=("response",)),
            Recorder("async", log, asynchronous=("request", "response")),
            Recorder("halting", log, halt=("server_connected",)),
            Recorder("after-halt", log)]


def _events():
    flow = tflow.tflow(resp=True)
    data = server_hooks.ServerConnectionHookData(server=flow.server_conn, client=flow.client_conn)
    from mitmproxy.proxy.layers import http as http_layers
    return [http_layers.HttpRequestHook(flow), http_layers.HttpResponseHook(flow),
            server_hooks.ServerConnectedHook(data), http_layers.HttpRequestHook(flow),
            hooks.UpdateHook([flow]), http_layers.HttpRequestHook(flow)]


async def _run(table: bool, change=None) -> list:
    log: list = []
    master = Master(options.Options())
    if table:
        shortcuts.use_hook_table(master)
    master.addons.add(*_addons(log))
    for number, event in enumerate(_events()):
        await master.addons.trigger_event(event)
        log.append(("after event", number, 0))
        if change:
            change(number, master, log)
    return log


async def test_the_hook_table_makes_the_same_calls_in_the_same_order_as_mitmproxy(caplog):
    def errors():  # what the log shows: logger, message, the exception and its raising frame
        return [(r.name, r.getMessage(), r.exc_info[0], r.exc_info[2].tb_frame.f_code.co_name,
                 traceback.extract_tb(r.exc_info[2])[-1].name)
                for r in caplog.records if "failed on purpose" in r.getMessage()]

    mitmproxy_calls = await _run(table=False)
    mitmproxy_errors = errors()
    caplog.clear()
    table_calls = await _run(table=True)
    table_errors = errors()
    assert table_calls == mitmproxy_calls
    # children after their parent, an async hook awaited, a failing hook logged and the next addon
    # still called, `AddonHalt` ending the event before the addons after it
    assert ("child", "request", 1) in table_calls and ("async", "response", 1) in table_calls
    assert ("after-halt", "response", 1) in table_calls
    assert ("after-halt", "server_connected", 1) not in table_calls
    assert len(table_errors) == len(mitmproxy_errors) == 1
    assert table_errors == mitmproxy_errors
    assert table_errors[0][0] == "mitmproxy.addonmanager"


async def test_an_options_error_from_a_hook_reaches_the_caller_as_with_mitmproxy():
    class Refusing:
        name = "refusing"

        def request(self, flow):
            raise exceptions.OptionsError("refused on purpose")

    from mitmproxy.proxy.layers import http as http_layers

    for table in (False, True):
        master = Master(options.Options())
        if table:
            shortcuts.use_hook_table(master)
        master.addons.add(Refusing())
        with pytest.raises(exceptions.OptionsError, match="refused on purpose"):
            await master.addons.trigger_event(http_layers.HttpRequestHook(tflow.tflow()))


@pytest.mark.parametrize("update_hook", [False, True])
async def test_lifecycle_events_reach_the_same_hooks_as_with_mitmproxy_and_update_follows_a_flow(update_hook):
    """`handle_lifecycle` (what the proxy server calls): the event, then `update` for its flow;
    with an addon that has `update` it is called exactly as mitmproxy calls it."""
    from mitmproxy.proxy.layers import http as http_layers

    async def run(table: bool) -> list:
        log: list = []
        master = Master(options.Options())
        if table:
            shortcuts.use_hook_table(master)
        hooks_ = ("request", "update") if update_hook else ("request",)
        master.addons.add(Recorder("first", log, hooks_=hooks_), Recorder("halting", log, halt=("request",)),
                          Recorder("second", log, hooks_=hooks_))
        flow = tflow.tflow()
        data = server_hooks.ServerConnectionHookData(server=flow.server_conn, client=flow.client_conn)
        for event in (http_layers.HttpRequestHook(flow), server_hooks.ServerConnectedHook(data)):
            await master.addons.handle_lifecycle(event)
            log.append(("after event", event.name, 0))
        return log

    mitmproxy_calls, table_calls = await run(False), await run(True)
    assert table_calls == mitmproxy_calls
    # the halt ends `request` before "second", not the `update` after it; not a flow: no update
    assert ("second", "request", 1) not in table_calls
    assert (("first", "update", 1) in table_calls) == update_hook
    assert (("second", "update", 1) in table_calls) == update_hook
    assert table_calls.count(("first", "update", 1)) == (1 if update_hook else 0)


async def test_addons_added_or_removed_after_events_are_seen_or_not_from_the_next_event_on():
    def change(number, master, log):
        if number == 1:
            master.addons.add(Recorder("late", log))
            master.addons.remove(master.addons.get("plain"))
        elif number == 3:  # a parent that manages its children (as scripts do), alone
            parent = master.addons.get("parent")
            grandchild = Recorder("late-child", log, hooks_=("request",))
            parent.addons.append(grandchild)
            master.addons.register(grandchild)

    for table in (False, True):
        calls = await _run(table, change)
        last_event = calls[calls.index(("after event", 4, 0)) + 1:]
        names_in_last_request = [name for name, hook, _ in last_event if hook == "request"]
        assert "late" in names_in_last_request and "late-child" in names_in_last_request
        assert calls.count(("plain", "request", 1)) == 1  # before the change only
    assert await _run(True, change) == await _run(False, change)


async def test_a_chain_that_rebinds_its_hooks_is_called_with_the_new_ones():
    log: list = []
    master = Master(options.Options())
    shortcuts.use_hook_table(master)
    member = Recorder("member", log, hooks_=("request",))
    master.addons.add(Chain([member]))
    flow = tflow.tflow()
    from mitmproxy.proxy.layers import http as http_layers
    await master.addons.trigger_event(http_layers.HttpRequestHook(flow))
    member.request = lambda flow: log.append(("replaced", "request", 1))
    master.addons.get("whoknows_chain").bind_hooks()
    await master.addons.trigger_event(http_layers.HttpRequestHook(flow))
    assert log == [("member", "request", 1), ("replaced", "request", 1)]


async def test_an_attribute_named_like_a_hook_that_is_not_callable_is_reported_as_mitmproxy_does(caplog):
    class Odd:
        name = "odd"
        request = "not a function"

    master = Master(options.Options())
    shortcuts.use_hook_table(master)
    master.addons.add(Odd())
    from mitmproxy.proxy.layers import http as http_layers
    await master.addons.trigger_event(http_layers.HttpRequestHook(tflow.tflow()))
    assert any("not callable" in r.getMessage() for r in caplog.records)
