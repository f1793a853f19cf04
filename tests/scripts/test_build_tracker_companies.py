"""scripts/build_tracker_companies.py: the merge rules, the shipped file's completeness, its notice."""

import gzip
import importlib.util
import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

from whoknows import tracker_companies
from whoknows.directory import tracker_owners
from whoknows.tracker_companies import normalised_name

REPO = Path(__file__).resolve().parents[2]
SCRIPT = REPO / "scripts" / "build_tracker_companies.py"
DATA_DIR = tracker_companies.DATA_FILE.parent


@pytest.fixture
def build_module(monkeypatch):
    spec = importlib.util.spec_from_file_location("build_tracker_companies", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    monkeypatch.setitem(sys.modules, spec.name, module)  # dataclasses look their module up
    spec.loader.exec_module(module)
    return module


@pytest.fixture
def trackers(shared_data) -> Path:
    return shared_data / "trackers"


def _shipped() -> dict:
    return json.loads(gzip.decompress(tracker_companies.DATA_FILE.read_bytes()))


def _write_sources(folder: Path, adguard_companies: dict, adguard_trackers: dict, domains: dict,
                   entities: dict, services: dict | None = None) -> Path:
    folder.mkdir()
    (folder / "adguard-companiesdb-companies.json").write_text(json.dumps({"companies": adguard_companies}))
    (folder / "adguard-companiesdb-trackers.json").write_text(json.dumps({
        "categories": {"4": "advertising", "6": "site_analytics", "11": "unknown"},
        "trackers": adguard_trackers,
        "trackerDomains": domains,
    }))
    (folder / "disconnect-entities-2020-06-17.json").write_text(json.dumps(entities))
    (folder / "disconnect-services-2020-06-17.json").write_text(json.dumps({"categories": services or {}}))
    return folder


EMPTY_DIRECTORY = {"fields": ["slug", "name", "email", "webform"], "companies": [], "index": {}}


def _company_of(document: dict, domain: str) -> str:
    return document["companies"][document["domains"][domain][0]][0]


def _category_of(document: dict, domain: str) -> str:
    return document["categories"][document["domains"][domain][1]]


def test_merge_rules_on_small_sources(build_module, tmp_path):
    folder = _write_sources(
        tmp_path / "trackers",
        adguard_companies={
            "acme": {"name": "Acme Inc.", "websiteUrl": "https://www.acme.example/"},
            "bigco": {"name": "BigCo", "websiteUrl": "https://bigco.example/"},
        },
        adguard_trackers={
            "acme_ads": {"name": "Acme Ads", "categoryId": 4, "url": None, "companyId": "acme"},
            "bigco_stats": {"name": "BigCo Stats", "categoryId": 6, "url": None, "companyId": "bigco"},
            "lonely": {"name": "Lonely Pixel", "categoryId": 4, "url": "https://lonely.example/", "companyId": None},
        },
        domains={"acme-ads.example": "acme_ads", "stats.bigco.example": "bigco_stats",
                 "lonely.example": "lonely"},
        entities={
            # Same company as AdGuard's "Acme Inc." by normalised name; it also claims a domain
            # AdGuard gives to BigCo, and adds one AdGuard lacks.
            "ACME": {"properties": ["acme.example", "acmevideo.example"],
                     "resources": ["acme-ads.example", "stats.bigco.example", "acmepixel.example"]},
            # Matched by website: BigCo's home page is one of its properties.
            "Big Company Holdings": {"properties": ["bigco.example"], "resources": ["bigco-cdn.example"]},
            "Nobody Else": {"properties": ["nobody.example"], "resources": ["nobody-track.example"]},
        },
        services={"Analytics": [{"ACME": {"http://acme.example/": ["acmepixel.example"]}}]},
    )
    owners = {"acme-ads.example": "Acme", "sub.acmepixel.example": "Acme", "newtracker.example": "Newco",
              "bigco-cdn.example": "Someone Else (Acme)"}
    directory = {"fields": ["slug", "name", "email", "webform"],
                 "companies": [["acme-de", "Acme GmbH", "privacy@acme.example", None]],
                 "index": {"acmevideo.example": 0}}
    document, stats = build_module.build(folder, owners, directory)

    assert _company_of(document, "acme-ads.example") == "acme"
    assert _company_of(document, "stats.bigco.example") == "bigco"  # in both sources: AdGuard wins
    assert _company_of(document, "acmepixel.example") == "acme"  # Disconnect adds what AdGuard lacks
    assert _category_of(document, "acmepixel.example") == "site_analytics"  # from Disconnect's services
    assert _company_of(document, "bigco-cdn.example") == "acme"  # the built-in owner's parent wins
    assert _company_of(document, "sub.acmepixel.example") == "acme"
    assert _category_of(document, "sub.acmepixel.example") == "site_analytics"  # its parent's category
    assert _company_of(document, "lonely.example") == "tracker:lonely"  # a tracker with no company
    assert _company_of(document, "nobody-track.example") == "disconnect:nobodyelse"
    assert _company_of(document, "newtracker.example") == "builtin:newco"
    assert stats.entities_by_name == 1 and stats.entities_by_website == 1 and stats.entities_own == 1
    assert stats.disconnect_domains_overridden == ["stats.bigco.example"]

    rows = {row[0]: dict(zip(document["fields"], row)) for row in document["companies"]}
    assert rows["acme"]["sites"] == ["acme.example", "acmevideo.example"]
    assert rows["bigco"]["sites"] == ["bigco.example"]
    assert rows["acme"]["privacy_contact"] == "privacy@acme.example"  # found through one of its sites
    assert rows["acme"]["directory_domain"] == "acmevideo.example"
    # AdGuard's name, not Disconnect's spelling, shown without its legal form; letters address
    # the directory's entity, whose privacy contact they go to
    assert rows["acme"]["name"] == "Acme" and rows["acme"]["legal_name"] == "Acme GmbH"
    assert rows["bigco"]["legal_name"] is None  # "BigCo": nothing more to say
    assert document["sites"]["nobody.example"] == list(rows).index("disconnect:nobodyelse")


def test_a_site_that_is_also_a_tracker_domain_follows_the_domain_table(build_module, tmp_path):
    # AdGuard has two companies for one group (as for Facebook / Meta): Disconnect's entity matches
    # the one by name, but the site's own domain belongs to the other; both lookups must agree.
    folder = _write_sources(
        tmp_path / "trackers",
        adguard_companies={"face": {"name": "Face", "websiteUrl": "https://face.example/"},
                           "parent": {"name": "Parent Platforms", "websiteUrl": "https://parent.example/"}},
        adguard_trackers={"face_pixel": {"name": "Face Pixel", "categoryId": 4, "url": None,
                                         "companyId": "parent"}},
        domains={"face.example": "face_pixel"},
        entities={"Face": {"properties": ["face.example", "facegram.example"], "resources": ["face.example"]}},
    )
    document, _ = build_module.build(folder, {}, EMPTY_DIRECTORY)
    ids = [row[0] for row in document["companies"]]
    assert ids[document["sites"]["face.example"]] == "parent" == _company_of(document, "face.example")
    assert ids[document["sites"]["facegram.example"]] == "face"


def test_a_website_shared_by_two_companies_is_nobodys_site(build_module, tmp_path):
    folder = _write_sources(
        tmp_path / "trackers",
        adguard_companies={"one": {"name": "One", "websiteUrl": "https://hosting.example/one"},
                           "two": {"name": "Two", "websiteUrl": "https://hosting.example/two"}},
        adguard_trackers={"t1": {"name": "T1", "categoryId": 4, "url": None, "companyId": "one"},
                          "t2": {"name": "T2", "categoryId": 4, "url": None, "companyId": "two"}},
        domains={"one.example": "t1", "two.example": "t2"},
        entities={},
    )
    document, stats = build_module.build(folder, {}, EMPTY_DIRECTORY)
    assert "hosting.example" not in document["sites"] and stats.shared_websites == ["hosting.example"]


def test_bad_input_is_a_clear_error_and_keeps_the_old_output(tmp_path):
    folder = tmp_path / "trackers"
    folder.mkdir()
    (folder / "adguard-companiesdb-trackers.json").write_text("{not json")
    output = tmp_path / "out.json.gz"
    output.write_bytes(b"previous build")
    result = subprocess.run(
        [sys.executable, str(SCRIPT), "--trackers", str(folder), "--output", str(output)],
        capture_output=True, text=True, timeout=60,
    )
    assert result.returncode == 1
    assert "adguard-companiesdb-trackers.json is not JSON" in result.stderr
    assert "Traceback" not in result.stderr
    assert output.read_bytes() == b"previous build"


def test_the_build_is_reproducible_and_the_shipped_file_is_current(trackers, tmp_path):
    outputs = [tmp_path / "first.json.gz", tmp_path / "second.json.gz"]
    for output in outputs:
        subprocess.run(
            [sys.executable, str(SCRIPT), "--trackers", str(trackers), "--output", str(output), "--quiet"],
            check=True, timeout=120,
        )
    assert outputs[0].read_bytes() == outputs[1].read_bytes()
    # The committed file is what the script makes today: rebuild it after changing the script.
    assert outputs[0].read_bytes() == tracker_companies.DATA_FILE.read_bytes()
    assert tracker_companies.DATA_FILE.stat().st_size < 300_000


def test_every_source_domain_is_shipped_and_maps_to_a_company_that_exists(trackers):
    document = _shipped()
    adguard = json.loads((trackers / "adguard-companiesdb-trackers.json").read_text())["trackerDomains"]
    entities = json.loads((trackers / "disconnect-entities-2020-06-17.json").read_text())
    disconnect = {domain for entity in entities.values() for domain in entity["resources"]}
    expected = set(adguard) | disconnect | set(tracker_owners())
    assert set(document["domains"]) == expected
    rows = len(document["companies"])
    assert all(0 <= row < rows for row, _ in document["domains"].values())
    assert all(0 <= category < len(document["categories"]) for _, category in document["domains"].values())
    assert all(0 <= row < rows for row in document["sites"].values())
    # No company without a domain or a site, and ids are unique.
    used = {row for row, _ in document["domains"].values()} | set(document["sites"].values())
    assert used == set(range(rows))
    assert len({row[0] for row in document["companies"]}) == rows
    # Every property Disconnect lists is somebody's site.
    assert {site for entity in entities.values() for site in entity["properties"]} <= set(document["sites"])


def test_built_in_list_domains_go_to_their_built_in_owner():
    document = _shipped()
    companies = document["companies"]
    names_in_data = {normalised_name(row[1]) for row in companies} | {row[0] for row in companies}
    domains_of: dict[str, list[str]] = {}
    for domain, owner in tracker_owners().items():
        domains_of.setdefault(owner, []).append(domain)
    for owner, domains in domains_of.items():
        rows = {document["domains"][domain][0] for domain in domains}
        assert len(rows) == 1, (owner, [companies[row][0] for row in rows])  # one owner, one company
        company_id, name = companies[rows.pop()][:2]
        inner = re.match(r"^(.*?)\s*\((.*)\)$", owner)
        names = {normalised_name(owner)} | ({normalised_name(part) for part in inner.groups()} if inner else set())
        if names & names_in_data:
            # By name ("Google"), or by id ("meta" is AdGuard's "Meta Platforms").
            assert {normalised_name(name), company_id.split(":")[-1]} & names, (owner, name)


def test_readme_and_notice_credit_both_sources_with_the_real_counts():
    document = _shipped()
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    paragraph = readme[readme.index("The tracker company data"):]
    paragraph = paragraph.split("\n\n")[0]
    assert f"{len(document['domains']):,} tracker domains" in paragraph
    assert f"{len(document['sites']):,} first-party sites" in paragraph
    assert f"{len(document['companies']):,} companies" in paragraph
    assert f"{sum(1 for row in document['companies'] if row[4] or row[5]):,} of them with a privacy contact" in paragraph
    assert "CC BY-SA 4.0" in paragraph and "GPL-3.0-or-later" in paragraph

    notice = (DATA_DIR / "tracker-companies.NOTICE").read_text(encoding="utf-8")
    for needle in ("AdGuard companiesdb", "CC BY-SA 4.0", "Disconnect", "GPL", "b1eac78",
                   "tracker-companies.LICENSE-CC-BY-SA-4.0.txt", "tracker-companies.LICENSE-GPL-3.0.txt"):
        assert needle in notice
    assert {source["licence"] for source in document["sources"]} >= {"CC-BY-SA-4.0", "GPL-3.0-or-later"}


def test_the_licence_texts_ship_beside_the_data(trackers):
    assert (DATA_DIR / "tracker-companies.LICENSE-CC-BY-SA-4.0.txt").read_bytes() == (
        trackers / "adguard-companiesdb-LICENSE.txt").read_bytes()
    assert (DATA_DIR / "tracker-companies.LICENSE-GPL-3.0.txt").read_bytes() == (
        trackers / "disconnect-LICENSE-GPL-3.0.txt").read_bytes()


def test_one_company_one_entry_one_name(build_module, tmp_path):
    # The rules that keep one company from showing up twice (see the script's docstring).
    folder = _write_sources(
        tmp_path / "trackers",
        adguard_companies={
            "rhythm": {"name": "Rhythm", "websiteUrl": "https://www.rhythm.example/"},
            "rythm": {"name": "Rhythm, LLC", "websiteUrl": "https://rhythm.example/about"},  # one company
            "webstat": {"name": "WebStat", "websiteUrl": "https://webstat.example/"},
            "web.stat": {"name": "Web.Stat", "websiteUrl": "https://web-stat.example/"},  # another one
            "holding": {"name": "Holding Publications, Inc.", "websiteUrl": "https://holding.example/"},
            "portal": {"name": "Portal SA", "websiteUrl": "https://portal.example/"},
            "dance": {"name": "Dance Ltd.", "websiteUrl": "https://dance.example/"},
        },
        adguard_trackers={
            "r1": {"name": "R1", "categoryId": 4, "url": None, "companyId": "rhythm"},
            "r2": {"name": "R2", "categoryId": 4, "url": None, "companyId": "rythm"},
            "w1": {"name": "W1", "categoryId": 6, "url": None, "companyId": "webstat"},
            "w2": {"name": "W2", "categoryId": 6, "url": None, "companyId": "web.stat"},
            "forum": {"name": "Forum", "categoryId": 4, "url": "https://forum.example/", "companyId": "holding"},
            "portal_stats": {"name": "portal", "categoryId": 6, "url": "https://portal.example/", "companyId": None},
            "tok": {"name": "Tok Analytics", "categoryId": 6, "url": "https://analytics.tok.example/",
                    "companyId": "dance"},
        },
        domains={"r1.example": "r1", "r2.example": "r2", "w1.example": "w1", "w2.example": "w2",
                 "forum.example": "forum", "forumstatic.example": "forum", "stats.portal.example": "portal_stats",
                 "analytics.tok.example": "tok"},
        # Disconnect has the forum as an entity of its own, spelled in lowercase.
        entities={"forum": {"properties": ["forum.example"], "resources": ["forum.example"]}},
    )
    # ... and so does the built-in list, with no parent in its owner line.
    owners = {"ads.forum.example": "Forum"}
    document, stats = build_module.build(folder, owners, EMPTY_DIRECTORY)
    rows = {row[0]: dict(zip(document["fields"], row)) for row in document["companies"]}

    # Same normalised name, same website: one company, the most trusted id and its name.
    assert _company_of(document, "r1.example") == _company_of(document, "r2.example") == "rhythm"
    assert "rythm" not in rows and rows["rhythm"]["name"] == "Rhythm"
    # Same name, different websites: two companies.
    assert _company_of(document, "w1.example") == "webstat" and _company_of(document, "w2.example") == "web.stat"
    # A tracker with no company id whose website is a company's: that company.
    assert _company_of(document, "stats.portal.example") == "portal"
    # Two sources say the forum stands alone: all its domains are one company, named as the
    # sources capitalise it, and its site follows.
    forum = {_company_of(document, d) for d in ("forum.example", "forumstatic.example", "ads.forum.example")}
    assert forum == {"disconnect:forum"} and rows["disconnect:forum"]["name"] == "Forum"
    assert rows["holding"]["sites"] == ["holding.example"]  # AdGuard's parent keeps only its own site
    assert document["sites"]["forum.example"] == list(rows).index("disconnect:forum")
    # A tracker's home page on a domain of its own is its company's site.
    assert document["sites"]["tok.example"] == list(rows).index("dance")
    assert len(stats.merged) == 2 and stats.renamed == ["'forum' -> 'Forum'"]
    # Names are shown without their legal form, which the legal name keeps.
    assert (rows["dance"]["name"], rows["dance"]["legal_name"]) == ("Dance", "Dance Ltd.")
    assert (rows["portal"]["name"], rows["portal"]["legal_name"]) == ("Portal", "Portal SA")


def test_companies_whose_home_pages_share_a_domain_are_one(build_module, tmp_path):
    folder = _write_sources(
        tmp_path / "trackers",
        adguard_companies={
            "buyer": {"name": "Buyer Project, Limited", "websiteUrl": "http://buyer.example"},
            "bought": {"name": "Bought Network", "websiteUrl": "http://www.buyer.example/"},  # points at its buyer
            "division": {"name": "Ads Division", "websiteUrl": "http://ads.buyer.example/"},
            "hosting": {"name": "Hosting", "websiteUrl": "https://hosting.example/"},
            "project": {"name": "Project", "websiteUrl": "https://hosting.example/someone/project"},  # a page on it
        },
        adguard_trackers={
            "b1": {"name": "B1", "categoryId": 4, "url": None, "companyId": "buyer"},
            "b2": {"name": "B2", "categoryId": 4, "url": None, "companyId": "bought"},
            "b3": {"name": "B3", "categoryId": 4, "url": None, "companyId": "division"},
            "h1": {"name": "H1", "categoryId": 4, "url": None, "companyId": "hosting"},
            "p1": {"name": "P1", "categoryId": 4, "url": None, "companyId": "project"},
            "shop": {"name": "shop.example", "categoryId": 4, "url": "https://shop.example/", "companyId": None},
        },
        domains={"b1.example": "b1", "b1b.example": "b1", "b2.example": "b2", "b3.example": "b3",
                 "h1.example": "h1", "p1.example": "p1", "px.shop.example": "shop"},
        entities={"Shop": {"properties": ["shop.example"], "resources": ["shop-cdn.example", "shop-px.example"]}},
    )
    document, _ = build_module.build(folder, {}, EMPTY_DIRECTORY)
    rows = {row[0]: dict(zip(document["fields"], row)) for row in document["companies"]}
    # The one holding most domains stays, named as shown without its legal form.
    assert {_company_of(document, d) for d in ("b1.example", "b2.example", "b3.example")} == {"buyer"}
    assert rows["buyer"]["name"] == "Buyer Project" and "bought" not in rows and "division" not in rows
    assert _company_of(document, "p1.example") == "project"  # a project page on a hosting site stays apart
    # A tracker named by its domain merges with the entity of that site and takes its name.
    shop = {_company_of(document, d) for d in ("px.shop.example", "shop-cdn.example")}
    assert len(shop) == 1 and rows[shop.pop()]["name"] == "Shop"
