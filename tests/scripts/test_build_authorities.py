"""scripts/build_authorities.py: the shipped table is what the script writes, and it is complete."""

import importlib.util
import re
import sys
from pathlib import Path

import pytest

from whoknows import authorities

REPO = Path(__file__).resolve().parents[2]
SCRIPT = REPO / "scripts" / "build_authorities.py"
# The 27 EU member states and the 3 EEA EFTA states, written out here rather than taken from the code.
EU = {"AT", "BE", "BG", "CY", "CZ", "DE", "DK", "EE", "ES", "FI", "FR", "GR", "HR", "HU", "IE", "IT", "LT", "LU",
      "LV", "MT", "NL", "PL", "PT", "RO", "SE", "SI", "SK"}
EEA = {"IS", "LI", "NO"}


@pytest.fixture
def build_module(monkeypatch):
    spec = importlib.util.spec_from_file_location("build_authorities", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    monkeypatch.setitem(sys.modules, spec.name, module)
    spec.loader.exec_module(module)
    return module


def test_the_shipped_file_is_what_the_script_writes(build_module, tmp_path):
    out = tmp_path / "authorities.json.gz"
    assert build_module.main(["--output", str(out)]) == 0
    assert out.read_bytes() == authorities.DATA_FILE.read_bytes(), "run scripts/build_authorities.py"


def test_every_eu_and_eea_country_is_there_once(build_module):
    countries = [entry[0] for entry in build_module.AUTHORITIES]
    assert len(EU) == 27 and len(countries) == len(set(countries))
    assert set(countries) == EU | EEA == set(authorities.all_authorities()) == set(authorities.COUNTRIES)


def test_every_authority_can_be_reached_and_names_its_source():
    assert "edpb.europa.eu" in authorities.source()
    for country, authority in authorities.all_authorities().items():
        assert authority.name and authority.own_name, country
        assert re.fullmatch(r"https://[a-z0-9.-]+\.[a-z]{2,}(/[^\s]*)?", authority.web), country
        assert authority.contact in (authority.email, authority.web)
        if authority.email is not None:
            assert re.fullmatch(r"[a-z0-9._-]+@[a-z0-9.-]+\.[a-z]{2,}", authority.email), country
        if authority.address is not None:
            assert len(authority.address) >= 2 and all(line.strip() for line in authority.address), country
    # the ones that take complaints only through their form have no email, by design
    for country in ("FR", "IE", "NL", "ES"):
        assert authorities.authority_for(country).email is None


def test_a_duplicate_country_is_refused_by_the_build(build_module, monkeypatch):
    monkeypatch.setattr(build_module, "AUTHORITIES", build_module.AUTHORITIES + build_module.AUTHORITIES[:1])
    with pytest.raises(ValueError, match="AT is listed twice"):
        build_module.build()
