"""whoknows.authorities: country codes, your country as a setting, your authority."""

import pytest

from whoknows import authorities
from whoknows.errors import InputError, WhoknowsError
from whoknows.ledger import open_ledger


@pytest.mark.parametrize("text, code", [("es", "ES"), (" de ", "DE"), ("EL", "GR"), ("gr", "GR"), ("no", "NO")])
def test_country_codes_are_read_leniently(text, code):
    assert authorities.country_code(text) == code


@pytest.mark.parametrize("text", ["", "GB", "CH", "E", "ESP", "Spain"])
def test_other_codes_are_refused_with_the_list(text):
    with pytest.raises(InputError, match="is not an EU/EEA country code; use one of AT \\(Austria\\)"):
        authorities.country_code(text)


def test_your_authority_follows_the_setting(whoknows_home):
    with open_ledger() as ledger:
        with pytest.raises(WhoknowsError, match="your country is not set"):
            authorities.your_authority(ledger)
        assert authorities.set_country(ledger, "it") == "IT"
        assert authorities.get_country(ledger) == "IT"
        italy = authorities.your_authority(ledger)
        assert (italy.country, italy.email, italy.contact) == ("IT", "protocollo@gpdp.it", "protocollo@gpdp.it")
        authorities.clear_country(ledger)
        assert authorities.get_country(ledger) is None
