"""Error isolation for whoknows addons: a bug in one addon must not break browsing.

What mitmproxy 12.2 already does (`addonmanager.safecall`): an exception raised by any hook is
caught, logged with its traceback, and the event goes on to the next addon, so the flow is neither
killed nor stalled. What it does not do, and this module adds:

- Undo: the failing hook may have changed the flow half-way (removed some cookies, set a response
  and then crashed). The guard snapshots what a hook can change (request, response, error, metadata,
  liveness) and puts it back, so the flow passes exactly as if that addon were absent. A hook
  marked `observer` changes nothing but the metadata: only that is kept and put back.
- Log once: a bug in a per-request hook would otherwise print the same traceback for every
  request. The first error of each kind (addon, hook, exception type, raising line) is logged with
  its cause; repeats are counted and summed up once at shutdown.
- A note on the flow (`flow.metadata[flow_state.ADDON_ERRORS]`) so that later addons and tests can
  tell a flow went unprocessed.

`Safety.guard(addon)` wraps the addon's hooks in place (instance attributes shadow the methods), so
addon classes stay plain and unit-testable; `proxy_addons.whoknows_addons()` guards every addon.
`in_order` calls several addons' hooks for one event (the chain's dispatch), doing each one's
guard inline; a guarded hook alone is `in_order` with one step, so the guard exists once.
`load` and `configure` are not guarded: a failure there must stop startup or reject an option
(`OptionsError`), loudly.
"""

from __future__ import annotations

import functools
import inspect
import logging
import traceback
from collections import Counter
from collections.abc import Callable
from collections.abc import Sequence
from typing import Any

import mitmproxy.addons  # noqa: F401  (defines, through the proxy layers, every hook there is)
from mitmproxy import exceptions
from mitmproxy import flow as mflow
from mitmproxy import hooks
from mitmproxy import http

from proxy_addons import flow_state
from proxy_addons.mitmproxy_shortcuts import message_state
from proxy_addons.mitmproxy_shortcuts import restore_message

logger = logging.getLogger("whoknows.proxy")

ERRORS_KEY = flow_state.ADDON_ERRORS
UNGUARDED_HOOKS = frozenset({"load", "configure"})
# Raised on purpose, to be seen by mitmproxy: never swallow these.
PASS_THROUGH = (exceptions.AddonHalt, exceptions.OptionsError)

ErrorKey = tuple[str, str, str, str]


class FlowSnapshot:
    """What a hook can change on a flow, saved cheaply (headers are immutable tuples, bodies bytes)."""

    __slots__ = ("flow", "request", "request_state", "response", "response_state", "error",
                 "live", "intercepted", "metadata")

    def __init__(self, flow: mflow.Flow) -> None:
        self.flow = flow
        self.request = request = getattr(flow, "request", None)
        self.request_state = message_state(request)
        self.response = response = getattr(flow, "response", None)
        # Why (speed only): every guarded hook call snapshots, about twenty a request; most run
        # before there is a response.
        self.response_state = None if response is None else message_state(response)
        self.error = flow.error
        self.live = flow.live
        self.intercepted = flow.intercepted
        self.metadata = flow.metadata.copy()

    def restore(self) -> None:
        flow = self.flow
        for attr, obj, state in (("request", self.request, self.request_state),
                                 ("response", self.response, self.response_state)):
            if hasattr(flow, attr):
                setattr(flow, attr, obj)  # same object as before: the proxy layers keep theirs
                if obj is not None and state is not None:
                    restore_message(obj, state)
        flow.error = self.error
        flow.live = self.live
        flow.intercepted = self.intercepted
        flow.metadata = self.metadata


class MetadataSnapshot:
    """The snapshot of an observer hook (`observer`): it changes nothing of a flow but its metadata."""

    __slots__ = ("flow", "metadata")

    def __init__(self, flow: mflow.Flow) -> None:
        self.flow = flow
        self.metadata = flow.metadata.copy()

    def restore(self) -> None:
        self.flow.metadata = self.metadata


def observer(hook: Callable) -> Callable:
    """Mark an addon's hook as an observer: it reads the flow and changes nothing of it but
    `flow.metadata` (it counts, records, remembers). Its guard then puts back only the metadata
    when it fails. Why (speed only): a full snapshot costs ~0.6-1.1 us a hook call, ~20 calls a
    request, about half of them observers. tests/proxy_addons/test_safety.py runs every observer
    of the whoknows chain over requests of every kind and fails if one changes a message."""
    hook._whoknows_observer = True  # type: ignore[attr-defined]
    return hook


def addon_name(addon: Any) -> str:
    return getattr(addon, "name", type(addon).__name__.lower())


def _raising_line(exc: BaseException) -> str:
    frames = traceback.extract_tb(exc.__traceback__)
    if not frames:
        return "?"
    last = frames[-1]
    return f"{last.filename}:{last.lineno}"


def _describe(args: tuple) -> str:
    for arg in args:
        request = getattr(arg, "request", None)
        if request is not None and hasattr(request, "pretty_url"):
            return f" while handling {request.method} {request.pretty_url[:200]}"
    return ""


class Safety:
    """The addon that owns error bookkeeping; add it to the chain and `guard` every other addon."""

    name = "whoknows_safety"

    def __init__(self) -> None:
        self.errors: Counter[ErrorKey] = Counter()

    def guard(self, addon: Any) -> Any:
        """Wrap `addon`'s hooks (and its sub-addons') in place; returns the addon. Idempotent.

        Hook names come from mitmproxy's registry, which fills as the modules defining hooks are
        imported: hence the import of `mitmproxy.addons` above (without it, `request` is unknown
        until the proxy layers happen to be imported, and would silently go unguarded)."""
        for name in hooks.all_hooks.keys() - UNGUARDED_HOOKS:
            func = getattr(addon, name, None)
            if callable(func) and getattr(func, "_whoknows_guarded", None) is None:
                setattr(addon, name, self._wrap(addon_name(addon), name, func))
        for child in getattr(addon, "addons", None) or ():
            self.guard(child)
        return addon

    def _wrap(self, owner: str, hook: str, func: Callable) -> Callable:
        snapshot = MetadataSnapshot if getattr(func, "_whoknows_observer", False) else FlowSnapshot
        step = (func, self, owner, snapshot)
        wrapper = functools.update_wrapper(_in_order(hook, (step,)), func)
        wrapper._whoknows_guarded = step  # type: ignore[attr-defined]  (`in_order` unwraps it)
        return wrapper

    def _failed(self, owner: str, hook: str, exc: Exception, args: tuple,
                snapshots: Sequence[FlowSnapshot | MetadataSnapshot]) -> None:
        for snapshot in snapshots:
            snapshot.restore()
            snapshot.flow.metadata.setdefault(ERRORS_KEY, []).append(
                f"{owner}.{hook}: {type(exc).__name__}")
        key = (owner, hook, type(exc).__qualname__, _raising_line(exc))
        self.errors[key] += 1
        if self.errors[key] == 1:
            logger.error(
                f"whoknows addon {owner} failed in {hook}{_describe(args)}: "
                f"{type(exc).__name__}: {exc}. The flow passes as if {owner} were not there; "
                "further errors like this one are counted, not logged.",
                exc_info=(type(exc), exc, exc.__traceback__),
            )

    def done(self) -> None:
        for (owner, hook, exc_type, where), count in sorted(self.errors.items()):
            if count > 1:
                logger.warning(f"whoknows addon {owner} failed in {hook} {count} times "
                               f"({exc_type} at {where})")


# A hook function, the guard it runs under (None: unguarded), its addon, the snapshot it needs.
Step = tuple[Callable, "Safety | None", str, type]


def in_order(hook: str, functions: Sequence[Callable]) -> Callable:
    """One function that calls `functions` (the `hook` functions of several addons) in order with
    the event's arguments, as mitmproxy calls an addon's children: a hook that returns an awaitable
    (an async hook) is awaited before the next is called (the function then returns an awaitable
    for the rest; else None). A function wrapped by `Safety.guard` is called with its guard done
    here, inline. Why (speed only): a chain of addons calls ~20 guarded hooks a request; the guard
    inline spares each a wrapper call and a list of snapshots."""
    return _in_order(hook, tuple(getattr(function, "_whoknows_guarded", None) or (function, None, "", FlowSnapshot)
                                 for function in functions))


def _in_order(hook: str, steps: tuple[Step, ...]) -> Callable:
    def call_in_order(*args):
        # Nearly every event is one HTTP flow's: snapshot it directly.
        flow = args[0] if len(args) == 1 and type(args[0]) is http.HTTPFlow else None
        for index, (function, safety, owner, take) in enumerate(steps):
            if safety is None:
                snapshots = ()
                result = function(*args)
            else:
                snapshots = (take(flow),) if flow is not None else _snapshot(args, take)
                try:
                    result = function(*args)
                except PASS_THROUGH:
                    raise
                except Exception as exc:
                    safety._failed(owner, hook, exc, args, snapshots)
                    continue
            if result is not None and inspect.isawaitable(result):
                return _finish_in_order(hook, steps, index, result, snapshots, args)
        return None

    return call_in_order


async def _finish_in_order(hook: str, steps: tuple[Step, ...], index: int, pending, snapshots, args: tuple) -> None:
    """Await the awaitable step `index` returned, then call the steps after it (awaiting as needed)."""
    for number in range(index, len(steps)):
        function, safety, owner, take = steps[number]
        if number > index:
            snapshots = _snapshot(args, take) if safety is not None else ()
        try:
            result = pending if number == index else function(*args)
            if result is not None and inspect.isawaitable(result):
                await result
        except PASS_THROUGH:
            raise
        except Exception as exc:
            if safety is None:
                raise
            safety._failed(owner, hook, exc, args, snapshots)


def _snapshot(args: tuple, take: type = FlowSnapshot) -> list:
    # Why (speed only): the exact-type test spares HTTP flows the slower ABC isinstance check.
    return [take(arg) for arg in args if type(arg) is http.HTTPFlow or isinstance(arg, mflow.Flow)]
