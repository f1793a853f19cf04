"""Personal terms: the shipped terms, the header the proxy sends, agreement parsing, what is chosen."""

import json

import pytest

from whoknows import personal_terms
from whoknows.errors import InputError, NotFoundError
from whoknows.ledger import open_ledger
from whoknows.personal_terms import ProfferedTerms, agreed_terms, find_term, header_value, shipped_terms

NOSTALKING = find_term("nostalking")


def test_the_no_stalking_term_ships_in_english_and_spanish():
    assert NOSTALKING.key == "nostalking/1"
    assert "do not track me beyond this site" in NOSTALKING.summary["en"]
    assert "no me rastree fuera de este sitio" in NOSTALKING.summary["es"]
    assert find_term("NoStalking/1") == NOSTALKING
    with pytest.raises(InputError, match="nostalking/1"):
        find_term("nostalking/9")


def test_the_header_is_a_structured_field_list_naming_term_version_and_url():
    assert header_value([NOSTALKING]) == (
        'nostalking;v=1;url="http://whoknows.proxy/personal-terms/nostalking/1"')
    assert header_value([]) == ""


def test_the_terms_url_is_on_the_name_the_proxy_answers_itself():
    from proxy_addons import PROXY_HOST

    assert personal_terms.TERMS_HOST == PROXY_HOST
    assert personal_terms.term_url(NOSTALKING).startswith(f"http://{PROXY_HOST}/")


@pytest.mark.parametrize("value", [
    "nostalking;v=1", "nostalking; v=1", '"nostalking";v=1', "other, nostalking;v=1;by=\"legal\"",
    b"nostalking;v=1", "  nostalking;v=1  ",
])
def test_a_clear_agreement_is_read(value):
    assert agreed_terms(value, [NOSTALKING]) == (NOSTALKING,)


@pytest.mark.parametrize("value", [
    None, "", "nostalking", "nostalking;v=2", "nostalking;v=\"1\"", "nostalking;v=?1", "nostalking;v=1.0",
    "yes", "nostalking;v=1,", ";;;", "nostalking;;v=1", "(nostalking);v=1", "nostalking;v=1 garbage",
    b"nostalking;v=1\xff", "nostalking;v=1, " + "x" * 2000, "\x00nostalking;v=1",
])
def test_a_malformed_or_other_statement_agrees_to_nothing(value):
    assert agreed_terms(value, [NOSTALKING]) == ()


def test_agreement_counts_only_for_terms_that_were_offered():
    assert agreed_terms("nostalking;v=1", []) == ()


def test_the_document_is_json_ld_with_the_text_and_how_to_agree():
    document = personal_terms.document_for_path("/personal-terms/nostalking/1")
    assert document["@id"] == "http://whoknows.proxy/personal-terms/nostalking/1"
    assert document["identifier"] == "nostalking" and document["version"] == 1
    assert "Do not share, sell or disclose my data" in document["text"]
    assert document["workTranslation"][0]["inLanguage"] == "es"
    assert document["howToAgree"]["responseHeader"] == "Personal-Terms-Agreed: nostalking;v=1"
    json.dumps(document)  # serialisable as it is
    listing = personal_terms.document_for_path("/personal-terms")
    assert [item["identifier"] for item in listing["itemListElement"]] == [t.id for t in shipped_terms()]
    for path in ("/personal-terms/nostalking/2", "/personal-terms/../ledger.db", "/personal-terms/nostalking",
                 "/personal-terms/nostalking/1/x", "/personal-termsx"):
        assert personal_terms.document_for_path(path) is None, path


def test_offer_and_withdraw_are_kept_in_the_ledger_settings(whoknows_home):
    with open_ledger() as ledger:
        assert personal_terms.proffered(ledger) == ()
        assert personal_terms.offer(ledger, "nostalking") == (NOSTALKING, True)
        assert personal_terms.offer(ledger, "nostalking/1") == (NOSTALKING, False)
        assert personal_terms.proffered(ledger) == (NOSTALKING,)
        assert json.loads(ledger.get_setting(personal_terms.PROFFERED_SETTING)) == ["nostalking/1"]
        assert personal_terms.withdraw(ledger, "nostalking") == (NOSTALKING,)
        assert personal_terms.proffered(ledger) == ()
        with pytest.raises(NotFoundError):
            personal_terms.withdraw(ledger, "nostalking")
        assert personal_terms.withdraw(ledger) == ()


def test_a_broken_setting_proffers_nothing_rather_than_failing(whoknows_home):
    with open_ledger() as ledger:
        ledger.set_setting(personal_terms.PROFFERED_SETTING, "{not json")
        assert personal_terms.proffered(ledger) == ()
        ledger.set_setting(personal_terms.PROFFERED_SETTING, '["nostalking/1", "gone/7", 3]')
        assert personal_terms.proffered(ledger) == (NOSTALKING,)


def test_the_proxy_view_follows_a_change_made_by_another_connection(whoknows_home):
    now = [0.0]
    view = ProfferedTerms(open_ledger, clock=lambda: now[0])
    assert view.current() == ((), "")
    with open_ledger() as other:
        personal_terms.offer(other, "nostalking")
    assert view.current() == ((), "")  # not re-read within the second
    now[0] += personal_terms.REFRESH_SECONDS
    assert view.current() == ((NOSTALKING,), header_value([NOSTALKING]))
    view.close()


def test_the_proxy_view_keeps_none_when_the_ledger_cannot_be_opened(tmp_path):
    def broken():
        raise OSError("no ledger here")

    view = ProfferedTerms(broken)
    assert view.current() == ((), "")
