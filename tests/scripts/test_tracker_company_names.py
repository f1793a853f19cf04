"""One company, one entry, one name: `scripts/check_tracker_companies.py` over the shipped tracker data.

The check lists companies that are probably one (same privacy contact, same website, same
normalised name), tracker domains filed under another company than their site, and names written
all in lowercase. Some of what it lists is real (an acquired company keeps its own entry; two
firms called "Web-Stat" and "WebSTAT" on different websites); these tests hold the clear cases
at zero and pin what a user meets on the big platforms.
"""

import gzip
import importlib.util
import json
import subprocess
import sys
from pathlib import Path

import pytest

from whoknows import tracker_companies
from whoknows.directory import tracker_owner, tracker_owners
from whoknows.sites import site_of
from whoknows.tracker_companies import display_name, normalised_name, site_owner, tracker_domain

REPO = Path(__file__).resolve().parents[2]
SCRIPT = REPO / "scripts" / "check_tracker_companies.py"


@pytest.fixture(scope="module")
def check():
    spec = importlib.util.spec_from_file_location("check_tracker_companies", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def shipped() -> dict:
    return json.loads(gzip.decompress(tracker_companies.DATA_FILE.read_bytes()))


@pytest.fixture(scope="module")
def found(check, shipped) -> dict:
    return check.findings(shipped)


def _company(shipped: dict, company_id: str) -> dict:
    return next(dict(zip(shipped["fields"], row)) for row in shipped["companies"] if row[0] == company_id)


def _website_site(company: dict) -> str | None:
    return site_of(company["website"].split("://", 1)[-1].split("/", 1)[0]) if company["website"] else None


def test_no_two_companies_share_a_name_and_a_website(shipped, found):
    # Same normalised name on one website (or one without a website) is one company: the build
    # merges them ("RhythmOne" and "RhythmOne, LLC"). What is left has distinct websites.
    assert found["same_name"], "the check finds nothing: it cannot tell"
    for group in found["same_name"]:
        websites = [_website_site(_company(shipped, company_id)) for company_id in group]
        assert None not in websites and len(set(websites)) == len(websites), (group, websites)
    assert not set(map(tuple, found["same_name"])) & set(map(tuple, found["same_website"]))


def test_a_tracker_without_a_company_joins_the_company_of_its_website(shipped, found):
    for group in found["same_website"]:
        companies = [company_id for company_id in group if ":" not in company_id]
        pseudo = [company_id for company_id in group if company_id.startswith("tracker:")]
        assert not (pseudo and len(companies) == 1), group


def test_no_lowercase_name_that_a_source_capitalises(shared_data, found, shipped):
    # "reddit" (Disconnect) is "Reddit" (AdGuard's tracker, the built-in list): a name only stays
    # all lowercase when no source writes it otherwise ("1000mercis", "advmaker.ru").
    trackers = shared_data / "trackers"
    spellings = {tracker["name"] for tracker in json.loads(
        (trackers / "adguard-companiesdb-trackers.json").read_text())["trackers"].values()}
    spellings |= {c["name"] for c in json.loads(
        (trackers / "adguard-companiesdb-companies.json").read_text())["companies"].values()}
    spellings |= set(json.loads((trackers / "disconnect-entities-2020-06-17.json").read_text()))
    spellings |= set(tracker_owners().values())
    cased = {normalised_name(name) for name in spellings if display_name(name) != display_name(name).lower()}
    assert found["lowercase_names"], "the check finds nothing: it cannot tell"
    for company_id in found["lowercase_names"]:
        name = _company(shipped, company_id)["name"]
        assert normalised_name(name) not in cased, (company_id, name)


def test_every_reddit_domain_is_one_company_named_reddit():
    reddit = site_owner("reddit.com")
    assert reddit is not None and reddit.name == "Reddit"
    for host in ("reddit.com", "www.reddit.com", "alb.reddit.com", "redditstatic.com", "redditmedia.com", "redd.it"):
        assert tracker_domain(host).company == reddit, host
        assert tracker_owner(host) == "Reddit", host
    # its privacy contact comes with it, from the directory
    assert reddit.privacy_contact and reddit.privacy_contact.endswith("@reddit.com")


def test_tiktok_the_site_and_its_pixel_are_one_company():
    bytedance = tracker_domain("analytics.tiktok.com").company
    assert site_owner("www.tiktok.com") == bytedance
    assert tracker_domain("analytics-sg.tiktok.com").company == bytedance  # the built-in list's
    assert tracker_domain("tiktok.com") is None  # the site itself is a first party, not a tracker


def test_the_report_runs_and_counts_each_kind(check, found):
    result = subprocess.run([sys.executable, str(SCRIPT), "--json"], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert report["counts"] == {kind: len(found[kind]) for kind in check.KINDS}
    text = subprocess.run([sys.executable, str(SCRIPT), "--limit", "1"], capture_output=True, text=True,
                          timeout=120).stdout
    for kind in check.KINDS:
        assert f"{kind}: {len(found[kind])}" in text


def test_the_report_refuses_a_file_that_is_not_the_data(tmp_path):
    bad = tmp_path / "bad.json.gz"
    bad.write_bytes(b"not gzip")
    result = subprocess.run([sys.executable, str(SCRIPT), "--data", str(bad)], capture_output=True, text=True,
                            timeout=120)
    assert result.returncode == 1 and result.stderr.startswith("error: cannot read")
    assert "Traceback" not in result.stderr
