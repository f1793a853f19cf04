"""Personal terms end to end: headless Chromium, the real proxy process, real test sites, the ledger.

With `nostalking` chosen before the proxy starts: every request a test site receives carries the
`Personal-Terms` header (the page and a third-party script alike); the terms URL in it answers with
the JSON-LD text, from the proxy itself; vendor.test answers with `Personal-Terms-Agreed` and
other.test publishes `/.well-known/personal-terms`, so both are recorded as agreeing (by header and
by the well-known file); cdn.test, a third party on vendor.test's pages, agrees too and binds
nobody; tracker.test is offered the terms and stays silent. What the ledger says is read back with
`whoknows vendor show` and `whoknows terms`, as a user would.
"""

import json

import pytest
from click.testing import CliRunner

from cli.main import cli
from e2e_browser import new_context
from whoknows import personal_terms
from whoknows.ledger import open_ledger

pytestmark = pytest.mark.slow

HEADER = 'nostalking;v=1;url="http://whoknows.proxy/personal-terms/nostalking/1"'
AGREED = [("Personal-Terms-Agreed", "nostalking;v=1")]
SHOP = """<!doctype html><html><head><title>shop</title><script src="https://cdn.test/lib.js"></script></head>
<body><h1>shop</h1></body></html>"""


def cli_json(*args):
    result = CliRunner().invoke(cli, [*args, "--json"])
    assert result.exit_code == 0, result.stderr
    return json.loads(result.stdout)


def test_terms_are_proffered_served_and_agreements_recorded(sites, browser, start_proxy, e2e_dir, monkeypatch):
    home = e2e_dir / "terms-proxy"
    home.mkdir(mode=0o700)
    monkeypatch.setenv("WHOKNOWS_HOME", str(home))
    with open_ledger() as ledger:
        personal_terms.offer(ledger, "nostalking")
    proxy = start_proxy(name="terms-proxy")
    sites["vendor.test"].page("/", SHOP, headers=AGREED)
    sites["cdn.test"].page("/lib.js", "window.libLoaded = true;", content_type="text/javascript", headers=AGREED)
    sites["other.test"].page("/.well-known/personal-terms", "nostalking;v=1\n", content_type="text/plain")
    sites["tracker.test"].page("/", "<!doctype html><title>silent</title>")
    context = new_context(browser, proxy.url)
    try:
        page = context.new_page()
        page.goto("https://vendor.test/")
        assert page.evaluate("window.libLoaded") is True
        assert sites["vendor.test"].wait_for("/").header_all("personal-terms") == [HEADER]
        assert sites["cdn.test"].wait_for("/lib.js").header("personal-terms") == HEADER  # third parties too
        page.goto("https://tracker.test/")
        assert sites["tracker.test"].wait_for("/").header("personal-terms") == HEADER
        page.goto("https://other.test/.well-known/personal-terms")
        assert sites["other.test"].wait_for("/.well-known/personal-terms").header("personal-terms") == HEADER

        response = page.goto("http://whoknows.proxy/personal-terms/nostalking/1")
        assert response.status == 200
        assert response.headers["content-type"].startswith("application/ld+json")
        document = json.loads(response.text())
        assert document["@id"] == "http://whoknows.proxy/personal-terms/nostalking/1"
        assert "Do not track me beyond your own site" in document["text"]
        assert page.goto("http://whoknows.proxy/personal-terms/nostalking/7").status == 404
    finally:
        context.close()
        assert proxy.stop() is not None, proxy.stderr()[-2000:]  # flushes the batch at shutdown
    assert "Traceback" not in proxy.stderr() and "personal terms" not in proxy.stderr(), proxy.stderr()[-2000:]

    def terms_of(site):
        return [(o["term"], o["version"], o["agreed_by"]) for o in cli_json("vendor", "show", site)["personal_terms"]]

    assert terms_of("vendor.test") == [("nostalking", 1, "header")]
    assert terms_of("other.test") == [("nostalking", 1, "well-known")]
    assert terms_of("tracker.test") == [("nostalking", 1, None)]
    result = CliRunner().invoke(cli, ["vendor", "show", "cdn.test"])  # a third party: offered to vendor.test
    assert "personal terms: offered" not in result.stdout
    [row] = cli_json("terms")
    assert (row["proffered"], row["vendors_offered"], row["vendors_agreed"]) == (True, 3, 2)


def test_the_terms_url_over_https_is_served_by_the_proxy_under_its_ca(proxy, page):
    """https://whoknows.proxy/personal-terms/... through the real proxy: the proxy answers it
    itself inside the tunnel (nothing upstream), with a certificate for whoknows.proxy from its own
    CA. Chromium trusts only that CA (e2e_browser), and the second client checks the certificate
    against the CA file and the name, as a program using the URL would."""
    url = "https://whoknows.proxy/personal-terms/nostalking/1"
    response = page.goto(url)
    assert response.status == 200
    assert response.headers["content-type"].startswith("application/ld+json")
    assert page.evaluate("location.protocol") == "https:"
    document = json.loads(response.text())
    assert document["@id"] == "http://whoknows.proxy/personal-terms/nostalking/1"  # the canonical name
    assert "Do not track me beyond your own site" in document["text"]

    answer = proxy.get(url)  # CONNECT, then TLS verified against the proxy's CA for whoknows.proxy
    assert answer.status == 200 and json.loads(answer.body) == document
    assert answer.headers["access-control-allow-origin"] == "*"
    listing = json.loads(proxy.get("https://whoknows.proxy/personal-terms").body)
    assert "http://whoknows.proxy/personal-terms/nostalking/1" in json.dumps(listing)
    assert proxy.get("https://whoknows.proxy/personal-terms/nostalking/7").status == 404
    assert "Traceback" not in proxy.stderr()
