"""The built-in tracker list: its syntax, its owner groups, and who `tracker_owner` names."""

import re

import adblock
import pytest

from whoknows import directory, tracker_companies
from whoknows.directory import tracker_owner, tracker_owners

LIST_TEXT = directory.TRACKERS_FILE.read_text(encoding="utf-8")

# The only filter forms the list uses: `||host^`, `||host/path` or `||host/path^`, each optionally
# with `$third-party`. Anything else is a typo (or a form the list should not need).
FILTER = re.compile(
    r"^\|\|(?P<host>[a-z0-9](?:[a-z0-9-]*[a-z0-9])?(?:\.[a-z0-9](?:[a-z0-9-]*[a-z0-9])?)+)"
    r"(?P<path>/[a-z0-9._/-]*)?\^?(?:\$third-party)?$"
)
OWNER = re.compile(r"^! owner: (?P<owner>\S(?:.*\S)?)$")


def _groups() -> dict[str, list[str]]:
    """{owner: [filter lines]} as the list is written."""
    groups: dict[str, list[str]] = {}
    owner = None
    for line in LIST_TEXT.splitlines():
        if match := OWNER.match(line):
            owner = match["owner"]
            assert owner not in groups, f"owner {owner!r} has two groups"
            groups[owner] = []
        elif line and not line.startswith("!"):
            assert owner is not None, f"{line!r} comes before the first owner line"
            groups[owner].append(line)
    return groups


def _filters() -> list[str]:
    return [line for line in LIST_TEXT.splitlines() if line and not line.startswith("!")]


def test_every_line_is_a_comment_or_a_network_filter_of_the_known_forms():
    filters = _filters()
    assert 100 <= len(filters) <= 250
    bad = [line for line in filters if not FILTER.match(line)]
    assert bad == []
    assert len(set(filters)) == len(filters), "duplicate filters"
    assert LIST_TEXT.startswith("! Title: whoknows built-in tracker list\n")
    assert "! License: GPL-3.0-or-later" in LIST_TEXT


def test_the_test_tracker_is_not_shipped():
    assert "tracker.test" not in LIST_TEXT
    assert not any(FILTER.match(line)["host"].endswith(".test") for line in _filters())


def test_every_filter_has_an_owner_and_the_mapping_is_the_list():
    groups = _groups()
    assert [owner for owner, lines in groups.items() if not lines] == []
    owners_of: dict[str, set[str]] = {}
    for owner, lines in groups.items():
        for line in lines:
            owners_of.setdefault(FILTER.match(line)["host"], set()).add(owner)
    assert {host: owners for host, owners in owners_of.items() if len(owners) > 1} == {}
    # The owner mapping holds exactly the list's hosts (and every host of the list is in it).
    assert tracker_owners() == {host: owners.pop() for host, owners in owners_of.items()}


@pytest.mark.parametrize(
    "host, owner",
    [
        ("www.google-analytics.com", 'Google'),
        ("region1.analytics.google.com", 'Google'),
        ("www.googletagmanager.com", 'Google'),
        ("stats.g.doubleclick.net", 'Google'),
        ("pagead2.googlesyndication.com", 'Google'),
        ("connect.facebook.net", 'Meta Platforms'),
        ("www.facebook.com", 'Meta Platforms'),
        ("y.clarity.ms", 'Microsoft'),
        ("bat.bing.com", 'Microsoft'),
        ("aax-eu.amazon-adsystem.com", 'Amazon'),
        ("analytics.tiktok.com", 'ByteDance'),
        ("snap.licdn.com", 'Microsoft'),
        ("px.ads.linkedin.com", 'Microsoft'),
        ("static.ads-twitter.com", 'X (formerly Twitter)'),
        ("static.hotjar.com", 'Hotjar'),
        ("cdn.segment.com", 'Segment'),
        ("api-js.mixpanel.com", 'Mixpanel'),
        ("api2.amplitude.com", 'Amplitude'),
        ("js.hs-scripts.com", 'HubSpot'),
        ("static.criteo.net", 'Criteo'),
        ("cdn.taboola.com", 'Taboola'),
        ("widgets.outbrain.com", 'Teads'),
        ("pixel.quantserve.com", 'Quantcast International'),
        ("metrics.sc.omtrdc.net", 'Adobe'),
        ("mc.yandex.ru", 'Yandex'),
        ("tr.snapchat.com", 'Snap'),
        ("ct.pinterest.com", 'Pinterest'),
        ("alb.reddit.com", 'Reddit'),
        ("api2.branch.io", 'Branch'),
        ("t.appsflyer.com", 'AppsFlyer'),
        ("app.adjust.com", 'Adjust'),
        ("bam.nr-data.net", 'New Relic'),
        ("static.chartbeat.com", 'ChartBeat'),
        ("sb.scorecardresearch.com", 'comScore'),
        ("A.B.DoubleClick.NET.", 'Google'),
        ("https://ssl.google-analytics.com/ga.js", 'Google'),
    ],
)
def test_tracker_owner_checks_the_host_and_each_parent(host, owner):
    # The one name whoknows shows for a company: the tracker data's (issue 12), also for the
    # built-in list's hosts (whose `! owner:` names are the list's grouping, not what is shown).
    assert tracker_owner(host) == owner


def test_tracker_owner_matches_whole_labels_and_refuses_non_hosts():
    assert tracker_owner("notdoubleclick.net") is None
    assert tracker_owner("doubleclick.net.example") is None
    assert tracker_owner("shop.example") is None
    assert tracker_owner("192.0.2.1") is None
    assert tracker_owner("") is None


def test_tracker_owner_falls_back_to_the_company_directory():
    # adagio.io is neither in the built-in list nor in the tracker data; the directory knows the
    # company behind it.
    assert "adagio" not in LIST_TEXT
    assert tracker_companies.tracker_domain("adagio.io") is None and tracker_companies.site_owner("adagio.io") is None
    company = directory.lookup("adagio.io")
    assert company is not None and "ads" in company.categories
    assert tracker_owner("tags.adagio.io") == company.name


def test_tracker_owner_names_a_site_of_the_tracker_data_as_the_data_does():
    # 1plusx.com is a site of a company in the tracker data ("1plusX AG") and a directory record
    # ("1plusX GmbH"): whoknows shows one name for one company, the tracker data's.
    owner = tracker_companies.site_owner("1plusx.com")
    assert owner is not None and tracker_companies.tracker_domain("tags.1plusx.com") is None
    assert tracker_owner("tags.1plusx.com") == owner.name
    # tiktok.com is ByteDance's (AdGuard's TikTok Analytics tracker has its home page there):
    # the site and its pixel host name the same company.
    assert tracker_owner("www.tiktok.com") == tracker_owner("analytics.tiktok.com") == tracker_companies.company("bytedance_inc").name


def test_an_independent_filter_engine_accepts_every_line_and_blocks_what_the_list_says():
    # Brave's adblock-rust (a test dependency) as a second opinion on syntax and meaning, beside
    # whoknows's own engine (next test).
    filter_set = adblock.FilterSet(debug=True)
    filter_set.add_filter_list(LIST_TEXT)
    engine = adblock.Engine(filter_set)
    assert [line for line in _filters() if not engine.filter_exists(line)] == []

    def blocked(url, source, kind="script"):
        return engine.check_network_urls(url, source, kind).matched

    shop = "https://shop.example/"
    assert blocked("https://www.google-analytics.com/collect", shop, "xmlhttprequest")
    assert blocked("https://connect.facebook.net/en_US/fbevents.js", shop)
    assert blocked("https://www.facebook.com/tr?id=1&ev=PageView", shop, "image")
    assert blocked("https://t.co/i/adsct?txn_id=x", shop, "image")
    assert blocked("https://static.criteo.net/js/ld/ld.js", shop)
    # $third-party: the companies' own sites keep working, and so does everything unlisted.
    assert not blocked("https://www.criteo.com/wp-content/theme.css", "https://www.criteo.com/", "stylesheet")
    assert not blocked("https://www.facebook.com/tr?id=1", "https://www.facebook.com/", "image")
    assert not blocked("https://www.facebook.com/some.page", shop, "sub_frame")
    assert not blocked("https://s.pinimg.com/images/pin.png", shop, "image")
    assert not blocked("https://shop.example/app.js", shop)


def test_whoknows_filter_engine_uses_every_filter_and_blocks_trackers_from_other_sites():
    from whoknows.filters import FilterEngine

    engine = FilterEngine()
    stats = engine.add_list(LIST_TEXT, "builtin")
    # Nothing skipped but comments: every filter line is in use.
    assert set(stats.skipped) <= {"comment"}
    assert stats.filters_used == len(_filters())

    shop = "https://shop.example/"
    decision = engine.match("https://www.google-analytics.com/collect", "xhr", source=shop)
    assert (decision.action, decision.filter) == ("block", "||google-analytics.com^")
    assert tracker_owner("www.google-analytics.com") == "Google"  # what the proxy will report
    assert engine.match("https://connect.facebook.net/en_US/fbevents.js", "script", source=shop).action == "block"
    assert engine.match("https://www.facebook.com/tr?id=1&ev=PageView", "image", source=shop).action == "block"
    assert engine.match("https://www.facebook.com/tr?id=1", "image", source="https://www.facebook.com/").action == "allow"
    assert engine.match("https://www.criteo.com/theme.css", "stylesheet", source="https://www.criteo.com/").action == "allow"
    assert engine.match("https://shop.example/app.js", "script", source=shop).action == "allow"
