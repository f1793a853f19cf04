"""Tracker filtering: uBlock Origin / Adblock Plus network filters, in pure Python.

    engine = FilterEngine()
    engine.add_list(text, "easyprivacy")
    engine.match("https://tracker.example/p.gif", "image", source="https://shop.example/")

`parser` turns list lines into plain records, `engine` indexes and matches them, `request_type`
reads a request's type, source and party from its headers, `resources` serves `$redirect` targets.
The lists: `subscriptions` (which lists, where their copies live), `downloads` (`lists update`),
`engine_cache` (the engine for the subscribed lists, loaded from its cache when still valid) and
`compiled` (the cache file's format). No mitmproxy here: the proxy addon is a thin caller.
"""

from .engine import Decision, FilterEngine, ListStats
from .request_type import RequestContext, request_context
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
