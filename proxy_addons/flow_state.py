"""The per-flow state whoknows addons share: every `flow.metadata` key, who writes it, who reads it.

One place names them, so "who sets this, who relies on it" has one answer. Values are written
once per flow, or replaced by a new object, never mutated: the safety guard
(`proxy_addons.safety`) restores a failed addon's metadata by shallow copy.

| key                | holds                                         | written by        | read by                                  |
|--------------------|-----------------------------------------------|-------------------|------------------------------------------|
| CONTEXT            | `context.FlowContext` (the request described, | context (or the   | blocking, params, cookies, signals,      |
|                    | its page site's settings)                     | first reader,     | leaks, observation                       |
|                    |                                               | `ensure_context`) |                                          |
| CANONICAL_NAMES    | the names the request's host is an alias of   | cname             | blocking, observation,                   |
|                    | (its CNAME chain), for a first-party subdomain|                   | company_sightings                        |
| FILTER             | `whoknows.filters.Decision` (the lists', or a | blocking          | params, leaks, observation,              |
|                    | block for a tracker the proxy learned of)     |                   | company_sightings                        |
| TRACKER            | True: a block filter matched, or the host is  | blocking          | cookies, signals, frames, observation    |
|                    | a tracker the proxy learned of on this site   |                   |                                          |
| REMOVED_PARAMS     | tracking parameter names the params addon     | params            | observation                              |
|                    | took off the URL                              |                   |                                          |
| COOKIES            | `cookies.CookieDecision`                      | cookies           | frames, observation, company_sightings   |
| LEAKS_SCANNED      | True: the leak scanner searched this request  | leaks             | leaks                                    |
| LEAKS_FOUND        | [`whoknows.leak_records.FoundValue`]: the     | leaks             | company_sightings                        |
|                    | user's values that left with this request     |                   |                                          |
| LEAK_VERDICT       | `whoknows.decision.LeakPart` of a request     | leaks             | observation, tests                       |
|                    | carrying the user's values                    |                   |                                          |
| TERMS_OFFERED      | the personal terms this request carried       | personal_terms    | personal_terms (at the response)         |
| ADDON_ERRORS       | the errors addons raised on this flow         | safety            | tests                                    |
"""

from __future__ import annotations

CONTEXT = "whoknows.context"
CANONICAL_NAMES = "whoknows.canonical_names"
FILTER = "whoknows.filter_decision"
TRACKER = "whoknows.tracker"
REMOVED_PARAMS = "whoknows.removed_params"
COOKIES = "whoknows.cookies"
LEAKS_SCANNED = "whoknows.leaks_scanned"
LEAKS_FOUND = "whoknows.leaks_found"
LEAK_VERDICT = "whoknows.leak_verdict"
TERMS_OFFERED = "whoknows.terms_offered"
ADDON_ERRORS = "whoknows.addon_errors"

ALL = (CONTEXT, CANONICAL_NAMES, FILTER, TRACKER, REMOVED_PARAMS, COOKIES, LEAKS_SCANNED, LEAKS_FOUND,
       LEAK_VERDICT, TERMS_OFFERED, ADDON_ERRORS)
