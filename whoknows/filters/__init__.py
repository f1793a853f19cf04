"""Tracker filtering: uBlock Origin / Adblock Plus network filters, in pure Python.

    engine = FilterEngine()
    engine.add_list(text, "easyprivacy")
    engine.match("https://tracker.example/p.gif", "image", source="https://shop.example/")

`parser` turns list lines into plain records, `engine` indexes and matches them, `compiled` is the
format of the built engine's cache file and `engine_cache` builds the engine for the subscribed
lists (`subscriptions`) or loads it from that cache, `downloads` fetches the lists, `resources` serves `$redirect` targets and `context` reads a
request's type, source and party from its headers. No mitmproxy here: the proxy addon is a thin
caller.
"""

from .context import RequestContext, request_context
from .engine import Decision, FilterEngine, ListStats
from .resources import resource, resource_names

__all__ = [
    "Decision",
    "FilterEngine",
    "ListStats",
    "RequestContext",
    "request_context",
    "resource",
    "resource_names",
]
