"""The shortcuts through mitmproxy's internals, in one place: a mitmproxy upgrade touches only this.

Why (speed only): mitmproxy's `Headers` decodes every field on each `get`, `get_all`, set or `del`,
and `Response.make` type-checks every field of its data class. On the request path of every
request that costs tens of microseconds an addon (a proxy sees thousands of requests a minute),
so the addons read and write the raw `Headers.fields` (a tuple of `(name, value)` bytes pairs)
through these functions, which give exactly the answers of mitmproxy's own API:
- names compare by `bytes.lower()`, as `Headers` compares them; values decode as `Headers`
  decodes them (UTF-8, undecodable bytes as lone surrogates: `surrogateescape`);
- `Headers.get` folds repeated fields with ", ".

`message_state` and `restore_message` snapshot what a hook could change of a request or response
(the guard, `safety`, puts it back when a hook fails) from the message's data attributes.

`fresh_response` builds the `Response` that `Response.make` builds, without its validation, only
while `FAST_RESPONSES` says mitmproxy's classes still have the layout it was written for (checked
at import, against the real `Response.make`); else callers use `Response.make`.

`HookTable` is mitmproxy's `AddonManager` with a table of which addons have which hook: mitmproxy
walks every addon (and its children) for every event, with a `safecall` context and a look-up per
addon, although most addons have few hooks; a page load through the proxy fires ~250 events, ~17
top-level addons each, and after each flow event an `update` event, which no addon here has (the
table's `handle_lifecycle` sends it only when one has). The table
is rebuilt after every change to the addons (`register`, `add`, `remove`, `clear`, a new `chain`)
and on `forget_hooks()` (an addon that rebinds its hooks, `chain.Chain`). What each hook sees is
unchanged: the same order, an error in one top-level addon logged as `safecall` logs it and the
event going on to the next, `AddonHalt` ending the event.

tests/proxy_addons/test_mitmproxy_shortcuts.py checks every function against mitmproxy's own
types: when an upgrade changes what they do, that file fails, and this module is what to change.
"""

from __future__ import annotations

import inspect
import time
import types
from typing import Any

from mitmproxy import addonmanager
from mitmproxy import exceptions
from mitmproxy import flow
from mitmproxy import hooks
from mitmproxy import http
from mitmproxy.net.http import status_codes

from whoknows.filters.request_type import LowercaseHeaders

Fields = tuple[tuple[bytes, bytes], ...]


def has_field(fields: Fields, name: bytes) -> bool:
    """Whether a field named `name` (lowercase) is there: `name in headers`."""
    # A loop, not any() over a generator (speed only: half the time; two calls a request).
    for raw_name, _ in fields:
        if raw_name.lower() == name:
            return True
    return False


def values_of(fields: Fields, name: bytes) -> list[str]:
    """Every value of the fields named `name` (lowercase), in order: `headers.get_all(name)`."""
    return [value.decode("utf-8", "surrogateescape") for raw_name, value in fields if raw_name.lower() == name]


def raw_values_of(fields: Fields, name: bytes) -> list[bytes]:
    """The raw bytes of every field named `name` (lowercase), in order."""
    return [value for raw_name, value in fields if raw_name.lower() == name]


def folded_value(fields: Fields, name: bytes) -> str | None:
    """The fields named `name` (lowercase) folded with ", ", None when there is none: `headers.get(name)`."""
    values = values_of(fields, name)
    return ", ".join(values) if values else None


def without_fields(fields: Fields, name: bytes) -> Fields:
    """`fields` less every field named `name` (lowercase): what `del headers[name]` leaves."""
    return tuple(field for field in fields if field[0].lower() != name)


def with_fields_set(fields: Fields, values: dict[bytes, bytes | None]) -> Fields:
    """`fields` as `headers[name] = value` (or `del headers[name]` for None) for each of `values`,
    in order, would leave them: the first field of a name keeps its place and spelling and takes the
    value, later ones go; an absent name is appended. Names in `values` are lowercase."""
    pending = dict(values)
    new_fields = []
    for field in fields:
        name = field[0].lower()
        if name not in values:
            new_fields.append(field)
        elif name in pending:
            value = pending.pop(name)
            if value is not None:
                new_fields.append((field[0], value))
    new_fields.extend((name, value) for name, value in pending.items() if value is not None)
    return tuple(new_fields)


def lowercase_map(headers: http.Headers) -> LowercaseHeaders:
    """The headers as a dict keyed by lowercase name, each value as `headers.get(name)` gives it,
    in one pass over the fields (a lookup in it never decodes anything again)."""
    mapped = LowercaseHeaders()
    for raw_name, raw_value in headers.fields:
        name = raw_name.lower().decode("utf-8", "surrogateescape")
        value = raw_value.decode("utf-8", "surrogateescape")
        mapped[name] = f"{mapped[name]}, {value}" if name in mapped else value
    return mapped


def response_fields(status: int, body: bytes, headers: dict[str, str]) -> Fields:
    """The header fields `Response.make(status, body, headers)` lays out (the given headers, then
    content-length): computed once for an answer given many times."""
    return http.Response.make(status, body, headers).headers.fields


def fresh_response(status: int, body: bytes, fields: Fields) -> http.Response:
    """A new `Response` equal to `Response.make(status, body, fields)`, without its validation
    (the values are the caller's and valid). Use only while `FAST_RESPONSES` is True."""
    headers = object.__new__(http.Headers)
    headers.fields = fields
    data = object.__new__(http.ResponseData)
    started = time.time()
    vars(data).update(http_version=b"HTTP/1.1", headers=headers, content=body, trailers=None,
                      timestamp_start=started, timestamp_end=time.time(), status_code=status,
                      reason=status_codes.RESPONSES.get(status, "").encode())
    response = object.__new__(http.Response)
    response.data = data
    return response


def _fresh_responses_match() -> bool:
    """Whether `message_state` and `restore_message` snapshot what a hook could change of a request or response
(the guard, `safety`, puts it back when a hook fails) from the message's data attributes.

`fresh_response` builds what `Response.make` builds with this mitmproxy."""
    fields = ((b"content-type", b"text/plain"), (b"content-length", b"2"))
    made, fresh = http.Response.make(403, b"no", fields), fresh_response(403, b"no", fields)
    return (vars(made).keys() == vars(fresh).keys() == {"data"}
            and vars(http.Headers()).keys() == {"fields"}
            and vars(made.data).keys() == vars(fresh.data).keys()
            and {k: v for k, v in vars(made.data).items() if not k.startswith("timestamp_")}
            == {k: v for k, v in vars(fresh.data).items() if not k.startswith("timestamp_")})


FAST_RESPONSES = _fresh_responses_match()


def message_state(message: Any) -> Any:
    """What a hook could change of a request or response (or any object with `get_state`), for
    `restore_message` to put back: as `get_state()`/`set_state()` would, at a fraction of the cost."""
    if type(message) in _HTTP_MESSAGES:
        # Why (speed only): every guarded hook call snapshots, ten a request. The message's data
        # attributes (a shallow copy: bytes, numbers, the Headers objects) and the headers' and
        # trailers' field tuples are all a hook can change; `get_state()` costs more.
        attrs = vars(message.data).copy()
        trailers = attrs["trailers"]
        return attrs, attrs["headers"].fields, trailers.fields if trailers is not None else None
    return message.get_state() if message is not None and hasattr(message, "get_state") else None


def restore_message(message: Any, state: Any) -> None:
    if type(message) in _HTTP_MESSAGES:
        attrs, header_fields, trailer_fields = state
        vars(message.data).update(attrs)  # the same Headers objects again ...
        attrs["headers"].fields = header_fields  # ... with their fields as they were
        if trailer_fields is not None:
            attrs["trailers"].fields = trailer_fields
    else:
        message.set_state(state)


_HTTP_MESSAGES = frozenset({http.Request, http.Response})


class HookTable(addonmanager.AddonManager):
    """`AddonManager` whose `trigger_event` calls only the addons that have the hook (see the module
    docstring). `use_hook_table(master)` turns a master's manager into one."""

    _hooks_for: dict[str, list[tuple] | None]
    _hooks_chain: tuple[int, int]

    def forget_hooks(self) -> None:
        self.__dict__.pop("_hooks_for", None)

    def _calls(self, name: str) -> list[tuple] | None:
        """Per top-level addon that has hook `name` (itself or a child), its hook functions in
        mitmproxy's order; None when an addon has a non-callable attribute of that name (mitmproxy's
        own `trigger_event` then reports it, on every event, as it always did)."""
        chain_key = (id(self.chain), len(self.chain))
        table = self.__dict__.get("_hooks_for")
        if table is None or self._hooks_chain != chain_key:
            table = self._hooks_for = {}
            self._hooks_chain = chain_key
        try:
            return table[name]
        except KeyError:
            pass
        calls: list[tuple] | None = []
        for top in self.chain:
            functions = []
            for addon in addonmanager.traverse([top]):
                function = getattr(addon, name, None)
                if not function or isinstance(function, types.ModuleType):
                    continue
                if not callable(function):
                    calls = None
                    break
                functions.append(function)
            if calls is None:
                break
            if functions:
                calls.append(tuple(functions))
        table[name] = calls
        return calls

    async def handle_lifecycle(self, event: hooks.Hook) -> None:
        """As mitmproxy's: the event, then an `update` event for its flow, if it is about one.
        Why (speed only): the `update` event is made and sent only when an addon has that hook
        (none of whoknows's or of the proxy's own: four events saved a request)."""
        calls = self._calls(event.name)
        if calls is None:
            return await super().handle_lifecycle(event)
        args = tuple(event.args())
        if calls:
            await self._call(calls, args)
        if args and isinstance(args[0], flow.Flow) and self._calls("update") != []:
            await self.trigger_event(hooks.UpdateHook([args[0]]))

    async def trigger_event(self, event: hooks.Hook) -> None:
        calls = self._calls(event.name)
        if calls is None:
            return await super().trigger_event(event)
        if calls:
            await self._call(calls, tuple(event.args()))

    async def _call(self, calls: list[tuple], args: tuple) -> None:
        # Why (speed only): mitmproxy builds the arguments again for every hook function (a
        # `dataclasses.fields` walk each), and enters a `safecall` context manager per top-level
        # addon (a generator each); a tuple built once and a plain `try` do the same.
        for functions in calls:
            try:
                for function in functions:
                    result = function(*args)
                    if result is not None and inspect.isawaitable(result):
                        await result
            except exceptions.AddonHalt:
                return
            except exceptions.OptionsError:
                raise  # as from `safecall`: out to whoever triggered the event
            except Exception as exc:
                _log_addon_error(exc)

    def register(self, addon):
        try:
            return super().register(addon)
        finally:
            self.forget_hooks()

    def add(self, *addons) -> None:
        try:
            super().add(*addons)
        finally:
            self.forget_hooks()

    def remove(self, addon) -> None:
        try:
            super().remove(addon)
        finally:
            self.forget_hooks()

    def clear(self) -> None:
        try:
            super().clear()
        finally:
            self.forget_hooks()


def _log_addon_error(exc: Exception) -> None:
    """What `addonmanager.safecall` logs for a hook that raised: its logger, message, and the
    traceback from the hook on (`trigger_event`'s own frame cut off, as `safecall` cuts mitmproxy's)."""
    traceback = exc.__traceback__
    addonmanager.logger.error(f"Addon error: {exc}", exc_info=(type(exc), exc, traceback.tb_next or traceback))


def use_hook_table(master) -> None:
    """Make `master.addons` a `HookTable` (same object, same addons; before or after they are added)."""
    if type(master.addons) is addonmanager.AddonManager:
        master.addons.__class__ = HookTable
        master.addons.forget_hooks()


def forget_hooks(manager) -> None:
    """Tell `manager` that an addon's hooks changed (nothing to do for mitmproxy's own manager)."""
    if isinstance(manager, HookTable):
        manager.forget_hooks()

