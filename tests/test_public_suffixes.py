"""whoknows.public_suffixes gives every host the registrable domain tldextract gives it.

The reference is tldextract itself, offline, on the same bundled snapshot: every rule of the list
(as a suffix, under one and two more labels, with `*` filled in and `!` exceptions), punycode
forms of the Unicode rules, the hosts of adblock-rust's 8,276 real requests and the company
directory's domains.
"""

import gzip
import json
import subprocess
import sys
from urllib.parse import urlsplit

import idna
import pytest
import tldextract

from whoknows import public_suffixes, sites
from whoknows.directory import COMPANIES_FILE


@pytest.fixture(scope="module")
def reference():
    extract = tldextract.TLDExtract(suffix_list_urls=(), cache_dir=None, include_psl_private_domains=True)

    def registrable(host: str) -> str | None:
        result = extract(host)
        if result.suffix:
            return result.top_domain_under_public_suffix or None
        labels = host.split(".")  # the default rule `*`, as sites applies it
        return ".".join(labels[-2:]) if len(labels) >= 2 else None

    return registrable


def _rules() -> list[str]:
    text = public_suffixes.snapshot_path().read_text(encoding="utf-8")
    return [m.group("suffix") for m in public_suffixes._RULE.finditer(text)]


def _hosts_for(rule: str) -> list[str]:
    base = rule.lstrip("!").replace("*", "wild")
    forms = [base]
    if not base.isascii():
        try:
            forms.append(idna.encode(base, uts46=True).decode("ascii"))
        except idna.IDNAError:
            pass
    return [host for form in forms for host in (form, f"shop.{form}", f"www.shop.{form}")]


def test_every_rule_of_the_list_agrees_with_tldextract(reference):
    rules = _rules()
    assert len(rules) > 9000  # the whole list was read, private part included
    assert "github.io" in rules and "*.ck" in rules and "!www.ck" in rules
    wrong = [(host, sites._registrable(host), reference(host))
             for rule in rules for host in _hosts_for(rule)
             if sites._registrable(host) != reference(host)]
    assert wrong == []


@pytest.mark.parametrize("host, expected", [
    ("www.shop.example.co.uk", "example.co.uk"),
    ("alice.github.io", "alice.github.io"),  # a private suffix
    ("a.b.ck", "a.b.ck"),  # *.ck: every label under ck is a suffix...
    ("www.ck", "www.ck"),  # ...but !www.ck
    ("b.ck", None),
    ("co.uk", None),
    ("a.vendor.test", "vendor.test"),  # not in the list: the default rule
    ("shop.xn--p1ai", "shop.xn--p1ai"),  # .рф, written in punycode
])
def test_known_cases(reference, host, expected):
    assert sites._registrable(host) == expected == reference(host)


def test_real_traffic_and_the_company_directory_agree_with_tldextract(reference, shared_data):
    requests = json.loads((shared_data / "requests/adblock-rust-matching-requests.json").read_text())
    hosts = {urlsplit(url).hostname for r in requests for url in (r["url"], r["sourceUrl"])} - {None, ""}
    with gzip.open(COMPANIES_FILE, "rt", encoding="utf-8") as handle:
        directory = json.load(handle)
    domains = set(directory["index"])
    checked = 0
    for host in sorted(hosts | domains):
        try:
            ascii_host = sites._to_ascii(host)
        except Exception:  # noqa: BLE001 -- not a host name: normalise_vendor refuses it before this
            continue
        if sites._is_ip(ascii_host):
            continue
        assert sites._registrable(ascii_host) == reference(ascii_host), ascii_host
        checked += 1
    assert checked > 1000


def test_reading_the_list_imports_neither_tldextract_nor_requests():
    script = ("import sys\nfrom whoknows.sites import site_of\nassert site_of('a.b.co.uk') == 'b.co.uk'\n"
              "print(sorted(m for m in ('tldextract', 'requests') if m in sys.modules))")
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=60)
    assert result.stdout.strip() == "[]", result.stderr
