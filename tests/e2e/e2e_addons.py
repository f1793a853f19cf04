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
