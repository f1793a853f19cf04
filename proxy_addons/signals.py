"""Privacy signals on every request: Global Privacy Control, Do Not Track, and a shorter Referer.

- `Sec-GPC: 1` always (GPC is a legal opt-out signal in several jurisdictions).
- `DNT: 1` unless `whoknows_dnt` is off.
- Referer (`whoknows_referer`; the core's referer part, `whoknows.decision.referer_part`, what
  `whoknows check` runs too): "trim" (default) cuts a cross-site Referer to the origin of the page
  (sites are registrable domains, `whoknows.sites.site_of`) and drops it on requests the blocking
  addon marked as tracker requests (`flow.metadata[flow_state.TRACKER]`); "strip" drops every
  cross-site Referer; "keep" leaves it alone. Same-site Referers are never touched.

Requests the proxy answers itself (a response is already set) are left alone. In the addon chain
this comes after the blocking addon, so that the tracker mark is there when this runs. At
`requestheaders`, before a streamed request's headers leave (`proxy_addons.streaming`).
"""

from __future__ import annotations

from mitmproxy import ctx
from mitmproxy import exceptions
from mitmproxy import http

from proxy_addons import flow_state
from proxy_addons.mitmproxy_shortcuts import folded_value
from proxy_addons.mitmproxy_shortcuts import with_fields_set
from whoknows.decision import REFERER_POLICIES
from whoknows.decision import referer_part

TRACKER_KEY = flow_state.TRACKER


class Signals:
    name = "whoknows_signals"
    dnt, referer_policy = True, "trim"  # the options' defaults, until `configure`

    def load(self, loader) -> None:
        loader.add_option("whoknows_dnt", bool, True,
                          "Send 'DNT: 1' (Do Not Track) with every request, besides 'Sec-GPC: 1'.")
        loader.add_option("whoknows_referer", str, "trim",
                          "Referer policy: 'trim' cuts cross-site Referers to the page's origin and "
                          "drops them on tracker requests; 'strip' drops every cross-site Referer; "
                          "'keep' leaves Referers alone.",
                          choices=REFERER_POLICIES)

    def configure(self, updated: set[str]) -> None:
        if "whoknows_referer" in updated and ctx.options.whoknows_referer not in REFERER_POLICIES:
            raise exceptions.OptionsError(
                f"whoknows_referer must be one of {', '.join(REFERER_POLICIES)}; "
                f"got {ctx.options.whoknows_referer!r}")
        # Kept here (speed only): reading an option copies its value (`copy.deepcopy`), ~1 us.
        self.dnt, self.referer_policy = ctx.options.whoknows_dnt, ctx.options.whoknows_referer

    def requestheaders(self, flow: http.HTTPFlow) -> None:
        # requestheaders, not request: a streamed request's headers leave right after this hook.
        if flow.response is not None:
            return
        # Why (speed only): mitmproxy's `Headers` decodes every field on each get/set/del; here the
        # raw fields are read once and written once, with `Headers.__setitem__`'s results.
        headers = flow.request.headers
        fields = headers.fields
        values: dict[bytes, bytes | None] = {b"sec-gpc": b"1"}
        if self.dnt:
            values[b"dnt"] = b"1"
        referer = folded_value(fields, b"referer")
        if referer is not None:
            new = referer_part(referer, flow.request.host, self.referer_policy,
                               bool(flow.metadata.get(TRACKER_KEY))).referer
            if new is None:
                values[b"referer"] = None
            elif new != referer:
                values[b"referer"] = new.encode("utf-8", "surrogateescape")
        headers.fields = with_fields_set(fields, values)


