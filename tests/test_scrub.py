"""Taking one value out of a request (whoknows.scrub) and nothing else."""

import json

from whoknows.scrub import scrub_request
from whoknows.scrub import scrub_url

SECRET = "s3cr3tvalue"


def carries(text: str) -> bool:
    return SECRET in text


def test_only_the_carrying_query_parameters_go_and_the_rest_stays_byte_for_byte():
    assert scrub_url(f"https://t.test/p?a=1&x={SECRET}&b=%20&y=pre{SECRET}#f", carries) == (
        "https://t.test/p?a=1&b=%20#f", ["x", "y"])
    assert scrub_url(f"https://t.test/p?x={SECRET}", carries) == ("https://t.test/p", ["x"])


def test_headers_cookies_form_and_json_are_scrubbed_and_said():
    scrubbed = scrub_request("https://t.test/", [("X-User", SECRET), ("Cookie", f"a=1; b={SECRET}"), ("Accept", "*/*")],
                             json.dumps({"k": [1, SECRET], "m": {"v": SECRET, "w": 2}}).encode(),
                             "application/json", carries)
    assert scrubbed.headers == [("X-User", None), ("Cookie", "a=1")]
    assert json.loads(scrubbed.body) == {"k": [1], "m": {"w": 2}}
    assert scrubbed.removed == ("header:x-user", "cookie:b", "body:$.k[1]", "body:$.m.v")


def test_what_cannot_be_taken_apart_is_none():
    assert scrub_request(f"https://t.test/{SECRET}/p", [], b"", None, carries) is None
    assert scrub_request("https://t.test/", [], f"plain {SECRET}".encode(), "text/plain", carries) is None
    assert scrub_request("https://t.test/", [("Host", SECRET)], b"", None, carries) is None
