"""Conformance with adblock-rust's request set: each filter, loaded alone, matches its requests.

Every pair the engine does not match is listed, with its reason, in
tests/data/filters/conformance-exceptions.json; the test fails if a pair stops matching (a
regression) and also if a listed pair starts matching (the file must stay honest).
"""

import json
from pathlib import Path

from whoknows.filters import FilterEngine

EXCEPTIONS = Path(__file__).resolve().parents[1] / "data" / "filters" / "conformance-exceptions.json"


def matches_alone(filter_text: str, url: str, source: str, type: str) -> bool:
    engine = FilterEngine()
    stats = engine.add_list(filter_text, "alone")
    if filter_text.startswith("@@"):
        # an exception alone decides nothing (nothing is blocked): ask which filters match instead
        return any(role == "exception" for role, _, _ in engine.explain(url, type, source))
    assert stats.filters_used <= 1
    return engine.match(url, type, source).action in ("block", "redirect")


def test_each_filter_alone_matches_its_requests(shared_data):
    requests = json.loads((shared_data / "requests/adblock-rust-matching-requests.json").read_text())
    pairs = failed = 0
    failing: set[tuple[str, str, str, str]] = set()
    for request in requests:
        for filter_text in request["filters"]:
            pairs += 1
            if not matches_alone(filter_text, request["url"], request["sourceUrl"], request["type"]):
                failed += 1
                failing.add((request["url"], request["sourceUrl"], request["type"], filter_text))
    assert pairs > 9000
    listed = json.loads(EXCEPTIONS.read_text())["pairs"]
    assert all(entry["reason"].strip() for entry in listed)
    expected = {(e["url"], e["sourceUrl"], e["type"], e["filter"]) for e in listed}
    assert failing - expected == set(), "newly failing pairs (regressions)"
    assert expected - failing == set(), "listed pairs that now match: remove them from the file"
    assert 1 - failed / pairs >= 0.99
