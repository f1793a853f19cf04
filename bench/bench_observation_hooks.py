"""The observation and company-sightings hooks, per call, for three request shapes.

    python bench/bench_observation_hooks.py [TREE]

TREE (default: this checkout) is a whoknows source tree; run it for two trees one after the other
(e.g. a `git worktree add --detach ../base COMMIT`) to compare: the numbers are the minimum of 7
rounds of 20,000 calls of one hook on one prepared flow (the real addons, after the real context,
blocking and cookie addons; a made-up response), so per-call costs of a few hundred nanoseconds
show through a busy machine's noise. Not a goal of its own: it checks that what issue 13's
visibility work added (the list that blocked a third party, CNAME-cloaked hosts) costs a dict
look-up on the request path and no more.
"""
import os, sys, tempfile, timeit
from pathlib import Path
tree = str(Path(sys.argv[1] if len(sys.argv) > 1 else Path(__file__).resolve().parents[1]).resolve())
sys.path.insert(0, tree)
os.environ["WHOKNOWS_HOME"] = tempfile.mkdtemp()
from mitmproxy import http
from mitmproxy.test import taddons, tflow
from proxy_addons.blocking import Blocking
from proxy_addons.company_sightings import CompanySightingsAddon
from proxy_addons.context import Context
from proxy_addons.cookies import Cookies
from proxy_addons.observation import Observation
from whoknows.filters import FilterEngine
from whoknows.ledger import open_ledger
from whoknows.site_settings import SiteSettingsStore
assert sys.modules["proxy_addons.observation"].__file__.startswith(tree)

def req(url, page, dest="image", site="cross-site"):
    return tflow.tflow(req=http.Request.make("GET", url, headers={"sec-fetch-dest": dest, "sec-fetch-site": site, "referer": page}))

ledger = open_ledger()
engine = FilterEngine(); engine.add_list("||doubleclick.net^\n", "test")
ctxa, block, cookies, obs, sight = Context(SiteSettingsStore(ledger)), Blocking(engine), Cookies(), Observation(), CompanySightingsAddon()
addons = [ctxa, block, cookies, obs, sight]
with taddons.context(*addons):
    flows = {"allowed 3p": req("https://www.google-analytics.com/g/collect?v=2", "https://shop.test/"),
             "blocked 3p": req("https://stats.g.doubleclick.net/j/collect", "https://shop.test/"),
             "first party": req("https://www.shop.test/app.js", "https://shop.test/", "script", "same-site")}
    for f in flows.values():
        for h in ("requestheaders", "request"):
            for a in addons:
                if hasattr(a, h): getattr(a, h)(f)
        if f.response is None:
            f.response = http.Response.make(200, b"", [(b"set-cookie", b"a=1; Max-Age=60")])
        for a in addons:
            if hasattr(a, "responseheaders"): a.responseheaders(f)
    for name, f in flows.items():
        out = []
        for label, fn in (("observation.request", obs.request), ("sightings.request", sight.request),
                          ("sightings.responseheaders", sight.responseheaders)):
            n = 20000
            best = min(timeit.repeat(lambda: fn(f), number=n, repeat=7)) / n * 1e6
            out.append(f"{label} {best:.2f}")
        print(f"{name:12} " + "  ".join(out) + "  (us per call)")
