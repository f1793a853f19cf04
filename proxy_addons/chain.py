"""The whoknows addons as one mitmproxy addon that hands each event to them itself.

    master.addons.add(Chain([addon_a, addon_b, ...]))

Why (speed only): mitmproxy hands every event (eight a request, counting `update`) to every addon
it knows of in the chain: per top-level addon a `safecall` context manager and a walk of its
children; per child an attribute test for `addons`, a look-up of the hook, and a fresh
`event.args()` list for each hook it calls. For the whoknows addons that was ~35 us a request
(bench/bench_proxy_chain.py), as much as three of the addons' own hooks. A `Chain` receives each
event once and calls, in order, only the hooks its members have, looked up once at load.

Its members are still real mitmproxy addons: `load` registers each with `AddonManager.register`
(mitmproxy's API for addons that manage addons), so they declare options, are found by name
(`ctx.master.addons.get("whoknows_observation")`) and have their commands, as top-level addons do.
They are kept out of an `addons` attribute, so that mitmproxy does not also walk them. `done`
unregisters them (which runs their `done` hooks), so that a reloaded script can register them again.

Errors: the members' hooks are guarded by `safety.Safety` (see `whoknows_addons()`; the chain does
their guarding inline, `safety.in_order`); what a hook raises on purpose (`AddonHalt`,
`OptionsError`) goes to mitmproxy as from a top-level addon.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from collections.abc import Sequence
from typing import Any

import mitmproxy.addons  # noqa: F401  (defines, through the proxy layers, every hook name)
from mitmproxy import ctx
from mitmproxy import hooks

from proxy_addons.mitmproxy_shortcuts import forget_hooks
from proxy_addons.safety import addon_name
from proxy_addons.safety import in_order

# `load` is the Chain's own (it registers the members, which loads them); `done` too (see below).
_OWN_HOOKS = frozenset({"load", "done"})


class Chain:
    """Members in order; each event reaches their hooks in that order."""

    name = "whoknows_chain"

    def __init__(self, members: Sequence[Any]) -> None:
        self.members = list(members)
        self._registered: list[Any] = []

    def load(self, loader) -> None:
        manager = ctx.master.addons
        for member in self.members:
            manager.register(member)
            self._registered.append(member)
        self.bind_hooks()

    def bind_hooks(self) -> None:
        """Look up the members' hooks (again, after one of them was replaced: a benchmark's timer)."""
        for hook in hooks.all_hooks.keys() - _OWN_HOOKS:
            calls = [call for member in self.members
                     if callable(call := getattr(member, hook, None)) and not inspect.ismodule(call)]
            if calls:
                setattr(self, hook, _dispatcher(hook, calls))
            else:
                self.__dict__.pop(hook, None)
        forget_hooks(ctx.master.addons)

    def done(self) -> None:
        # `remove` unregisters each member and runs its `done` hook: in member order, as mitmproxy
        # runs `done` along its chain. Members already removed (by their owner) are skipped.
        manager = ctx.master.addons
        registered, self._registered = self._registered, []
        for member in registered:
            if manager.get(addon_name(member)) is member:
                manager.remove(member)


def _dispatcher(hook: str, calls: list[Callable]) -> Callable:
    """One function that calls each of `calls` with the event's arguments, awaiting what needs it."""
    if len(calls) == 1 and getattr(calls[0], "_whoknows_guarded", None) is None:
        return calls[0]
    return in_order(hook, calls)
