"""The per-flow state whoknows addons share: every `flow.metadata` key, who writes it, who reads it.

One place names them, so "who sets this, who relies on it" has one answer. Values are written
once per flow, or replaced by a new object, never mutated: the safety guard
(`proxy_addons.safety`) restores a failed addon's metadata by shallow copy.

| key                | holds                                         | written by        | read by                                  |
|--------------------|-----------------------------------------------|-------------------|------------------------------------------|
| CONTEXT            | `context.FlowContext` (the request described, | context (or the   | blocking, params, cookies, signals,      |
|                    | its page site's settings)                     | first reader,     | leaks, observation                       |
|                    |                                               | `ensure_context`) |                                          |
| FILTER             | `whoknows.filters.Decision` (the lists', or a | blocking          | params, leaks, observation               |
|                    | block for a tracker the proxy learned of)     |                   |                                          |
| TRACKER            | True: a block filter matched, or the host is  | blocking          | cookies, signals, observation            |
|                    | a tracker the proxy learned of on this site   |                   |                                          |
| REMOVED_PARAMS     | tracking parameter names the params addon     | params            | observation                              |
|                    | took off the URL                              |                   |                                          |
| COOKIES            | `cookies.CookieDecision`                      | cookies           | observation                              |
| LEAKS_SCANNED      | True: the leak scanner searched this request  | leaks             | leaks                                    |
| LEAK_VERDICT       | `whoknows.decision.LeakPart` of a request     | leaks             | observation, tests                       |
|                    | carrying the user's values                    |                   |                                          |
| ADDON_ERRORS       | the errors addons raised on this flow         | safety            | tests                                    |
"""

from __future__ import annotations

CONTEXT = "whoknows.context"
FILTER = "whoknows.filter_decision"
TRACKER = "whoknows.tracker"
REMOVED_PARAMS = "whoknows.removed_params"
COOKIES = "whoknows.cookies"
LEAKS_SCANNED = "whoknows.leaks_scanned"
LEAK_VERDICT = "whoknows.leak_verdict"
ADDON_ERRORS = "whoknows.addon_errors"

ALL = (CONTEXT, FILTER, TRACKER, REMOVED_PARAMS, COOKIES, LEAKS_SCANNED, LEAK_VERDICT, ADDON_ERRORS)
