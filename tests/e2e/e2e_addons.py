"""Test addons a proxy under test can load (`start_proxy(addons=("e2e_addons:Name",))`)."""

from whoknows.sites import site_of

TRACKER_SITES = frozenset({"tracker.test"})


class MarkTrackers:
    """Stands in for the blocking addon's mark on tracker requests (set before the whoknows addons)."""

    name = "e2e_mark_trackers"

    def requestheaders(self, flow):
        if site_of(flow.request.host) in TRACKER_SITES:
            flow.metadata["whoknows.tracker"] = True


class Crashing:
    """A buggy addon: half-rewrites every request, then raises."""

    name = "e2e_crashing"

    def request(self, flow):
        flow.request.headers["sec-gpc"] = "crashed"
        flow.request.path = "/crashed"
        raise RuntimeError("e2e: deliberate bug")


# Test doubles of known companies' tracker domains (issue 12): in the proxy under test, hosts under
# the test sites are attributed as the shipped data attributes the real ones. The sealed network
# resolves only `*.test`, so the real names cannot be used; the companies, their names and
# categories are the shipped data's own.
COMPANY_DOUBLES = {
    "ga.tracker.test": "www.google-analytics.com",  # Google, site_analytics
    "ads.tracker.test": "stats.g.doubleclick.net",  # Google, advertising
    "px.cdn.test": "connect.facebook.net",  # Meta Platforms, advertising
    "tracker-cdn.test": "omtrdc.net",  # Adobe, site_analytics (a CNAME-cloaking vendor)
}


class CompanyDoubles:
    """Adds `COMPANY_DOUBLES` to the tracker data of this process (before any request)."""

    name = "e2e_company_doubles"

    def __init__(self) -> None:
        from whoknows import tracker_companies

        data = tracker_companies._data()
        for double, real in COMPANY_DOUBLES.items():
            data.domains[double] = data.domains[tracker_companies.tracker_domain(real).domain]
