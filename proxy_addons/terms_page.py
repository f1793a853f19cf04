"""The public text of the personal terms, served by the proxy itself at `http://whoknows.proxy/personal-terms/...`.

The `Personal-Terms` request header (`proxy_addons.personal_terms`) points at
`http://whoknows.proxy/personal-terms/TERM/VERSION`; this addon answers that URL with the term's
machine-readable copy (JSON-LD, `whoknows.personal_terms.term_document`), and
`http://whoknows.proxy/personal-terms` with the list of every term whoknows ships. Never forwarded
upstream. What it serves is fixed public text (the data file shipped with whoknows): not which terms
the person proffers, nothing from the ledger, nothing a page could learn about the person from it.
So any page may read it (`Access-Control-Allow-Origin: *`), and every other path under it is a 404.

First in the chain, before `pac`, which answers the rest of `whoknows.proxy` with a 404.
"""

from __future__ import annotations

import json

from mitmproxy import http

from proxy_addons import PROXY_HOST
from whoknows.personal_terms import TERMS_PATH
from whoknows.personal_terms import document_for_path

JSON_LD = "application/ld+json; charset=utf-8"
_HEADERS = {"access-control-allow-origin": "*", "x-content-type-options": "nosniff",
            "cache-control": "public, max-age=86400"}


class TermsPage:
    name = "whoknows_terms_page"

    def requestheaders(self, flow: http.HTTPFlow) -> None:
        request = flow.request
        if request.host != PROXY_HOST or flow.response is not None:
            return
        path = request.path.partition("?")[0]
        if path != TERMS_PATH and not path.startswith(TERMS_PATH + "/"):
            return  # the PAC file, or nothing (pac answers)
        document = document_for_path(path) if request.method in ("GET", "HEAD") else None
        if document is None:
            flow.response = http.Response.make(
                404, f"whoknows proxy: no such personal term; the list is at {TERMS_PATH}\n",
                {"content-type": "text/plain; charset=utf-8", "x-content-type-options": "nosniff"})
            return
        body = json.dumps(document, ensure_ascii=False, indent=2).encode("utf-8") + b"\n"
        flow.response = http.Response.make(200, body, {"content-type": JSON_LD, **_HEADERS})
