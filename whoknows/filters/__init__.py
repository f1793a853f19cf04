"""Tracker filtering: uBlock Origin / Adblock Plus network filters, in pure Python.

    engine = FilterEngine()
    engine.add_list(text, "easyprivacy")
    engine.match("https://tracker.example/p.gif", "image", source="https://shop.example/")

`parser` turns list lines into plain records, `engine` indexes and matches them, `compiled` keeps
the built engine in a cache file, `resources` serves `$redirect` targets and `context` reads a
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
