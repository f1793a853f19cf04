"""The shipped company directory: lookups by URL, host and domain, shared ownership, the build."""

import gzip
import importlib.util
import json
import subprocess
import sys
from pathlib import Path

import pytest

from whoknows import directory
from whoknows.directory import Company, lookup, same_company
from whoknows.errors import InputError

REPO = Path(__file__).resolve().parents[1]
SCRIPT = REPO / "scripts" / "build_company_directory.py"


@pytest.fixture
def records(shared_data) -> dict[str, dict]:
    """The source records by slug, read from ../shared (what the shipped file was built from)."""
    path = shared_data / "companies" / "datenanfragen-companies.jsonl"
    return {r["slug"]: r for r in map(json.loads, path.read_text(encoding="utf-8").splitlines())}


@pytest.fixture
def build_module(monkeypatch):
    spec = importlib.util.spec_from_file_location("build_company_directory", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    monkeypatch.setitem(sys.modules, spec.name, module)  # dataclasses look their module up
    spec.loader.exec_module(module)
    return module


def _shipped() -> dict:
    return json.loads(gzip.decompress(directory.COMPANIES_FILE.read_bytes()))


@pytest.mark.parametrize(
    "text",
    [
        "https://www.123greetings.com/privacy_policy.html?lang=en#top",
        "http://123greetings.com",
        "www.123greetings.com",
        "WWW.123Greetings.COM.",
        "cards.123greetings.com:8443/path",
        "123greetings.com",
    ],
)
def test_lookup_finds_the_record_by_url_host_or_domain(records, text):
    record = records["123greetings"]
    assert lookup(text) == Company(
        name=record["name"],
        privacy_contact=record["email"],
        address=record["address"],
        countries=tuple(record["relevant-countries"]),
        categories=tuple(record["categories"]),
        domains=("123greetings.com",),
        webform=None,
        slug="123greetings",
    )


def test_lookup_finds_a_company_by_a_domain_it_runs(records):
    # The record's `runs` names datarequests.org and pedidodedados.org beside its own web site.
    assert "datarequests.org" in records["datenanfragen"]["runs"]
    company = lookup("https://www.datarequests.org/generator")
    assert company is not None
    assert company.name == records["datenanfragen"]["name"]
    assert {"datenanfragen.de", "datarequests.org", "pedidodedados.org"} <= set(company.domains)


def test_unknown_domains_are_none_and_non_domains_are_input_errors():
    assert lookup("no-such-company-here-zq.com") is None
    assert lookup("https://shop.example/cart") is None
    for text in ["", "   ", "192.168.1.1", "co.uk", "localhost"]:
        with pytest.raises(InputError):
            lookup(text)


def test_same_company_across_the_domains_of_one_record(records):
    assert same_company("https://www.datenanfragen.de/", "mail.datarequests.org")
    assert same_company("demandetesdonnees.fr", "solicituddedatos.es")
    assert not same_company("datenanfragen.de", "123greetings.com")
    # Amazon's shops are separate legal entities in the source: mail from amazon.fr is not amazon.de.
    assert not same_company("amazon.de", "amazon.fr")
    assert not same_company("datenanfragen.de", "no-such-company-here-zq.com")
    assert not same_company("no-such-company-here-zq.com", "no-such-company-here-zq.com")
    assert not same_company("10.0.0.1", "10.0.0.1")
    assert not same_company("", "datenanfragen.de")


def test_companies_on_subdomains_of_a_shared_domain(records):
    # Each police headquarters in North Rhine-Westphalia has a subdomain of polizei.nrw: the
    # subdomain finds it, the shared domain itself belongs to none of them.
    bochum = lookup("https://www.bochum.polizei.nrw/artikel/kontakt")
    assert bochum is not None and bochum.name == records["polizeipraesidium-bochum"]["name"]
    assert bochum.domains == ("bochum.polizei.nrw",)
    assert lookup("polizei.nrw") is None
    assert lookup("unknown-town.polizei.nrw") is None
    assert not same_company("bochum.polizei.nrw", "essen.polizei.nrw")


def test_every_listed_domain_leads_back_to_its_company():
    shipped = _shipped()
    assert len(shipped["companies"]) > 2500
    for row in shipped["companies"]:
        company = lookup(row[shipped["fields"].index("domains")][0])
        assert company is not None and company.slug == row[0]
        for domain in company.domains:
            assert lookup(domain) == company, domain


def test_build_resolves_duplicate_claims(build_module):
    def record(slug, quality="verified", web=None, runs=None):
        return json.dumps({"slug": slug, "name": slug.title(), "quality": quality, "address": "A\nB",
                           "relevant-countries": ["de"], "web": web, "runs": runs})

    lines = [
        # Same home page: the better-quality record wins, whatever the order.
        record("scraped-co", "scraped", web="https://www.samehome.de/"),
        record("checked-co", "verified", web="https://samehome.de"),
        # A home page beats a page of the site, which beats a service named in `runs`.
        record("group-office", web="https://www.group.de/about/office"),
        record("group", web="https://group.de/"),
        record("reseller", runs=["Group shop (www.group.de)", "Old shop (oldshop.de) (formerly)"]),
        # Two pages of one site and nobody on the home page: no owner for the site.
        record("office-a", web="https://offices.org/a/"),
        record("office-b", web="https://offices.org/b/"),
        # A service on someone else's subdomain claims that host only.
        record("cards-co", runs=["Gift cards (cards.bigshop.fr)"]),
        record("no-domain", runs=["Brand Name Ltd.", "WEB.Cent Bonus"]),
    ]
    document, stats = build_module.build(lines)
    slug_of = {key: document["companies"][row][0] for key, row in document["index"].items()}
    assert slug_of["samehome.de"] == "checked-co"
    assert slug_of["group.de"] == "group"
    assert "offices.org" not in slug_of and "offices.org" in stats.ambiguous_keys
    assert slug_of["cards.bigshop.fr"] == "cards-co" and "bigshop.fr" not in slug_of
    assert "oldshop.de" not in slug_of and stats.runs_former == 1
    assert stats.runs_not_domains == 1  # WEB.Cent looks like a domain but .cent is no suffix
    assert stats.without_domain == 1
    kept = {row[0] for row in document["companies"]}
    assert kept == {"checked-co", "group", "cards-co"}


def test_the_build_is_reproducible_and_the_shipped_file_is_current(shared_data, tmp_path):
    source = shared_data / "companies" / "datenanfragen-companies.jsonl"
    outputs = [tmp_path / "first.json.gz", tmp_path / "second.json.gz"]
    for output in outputs:
        subprocess.run(
            [sys.executable, str(SCRIPT), "--input", str(source), "--output", str(output), "--quiet"],
            check=True, timeout=120,
        )
    assert outputs[0].read_bytes() == outputs[1].read_bytes()
    # The committed file is what the script makes today: rebuild it after changing the script.
    assert outputs[0].read_bytes() == directory.COMPANIES_FILE.read_bytes()
    assert directory.COMPANIES_FILE.stat().st_size < 400_000


def test_the_notice_names_source_and_licence():
    notice = (directory.DATA_DIR / "companies.NOTICE").read_text(encoding="utf-8")
    assert "datenanfragen" in notice and "CC0 1.0" in notice and "21 July 2026" in notice
    assert _shipped()["source"]["licence"] == "CC0-1.0"
