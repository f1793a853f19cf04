"""A request's type, source and party, read from its headers the way a proxy sees them."""

import pytest

from whoknows.filters import FilterEngine, RequestContext, request_context


@pytest.mark.parametrize(
    "dest, expected",
    [
        ("script", "script"),
        ("image", "image"),
        ("style", "stylesheet"),
        ("iframe", "subdocument"),
        ("frame", "subdocument"),
        ("document", "document"),
        ("font", "font"),
        ("audio", "media"),
        ("video", "media"),
        ("track", "media"),
        ("empty", "xmlhttprequest"),
        ("object", "object"),
        ("embed", "object"),
        ("report", "ping"),
        ("worker", "script"),
        ("manifest", "other"),
        ("something-new", "other"),
    ],
)
def test_type_from_sec_fetch_dest(dest, expected):
    # Sec-Fetch-Dest wins over Accept and over the URL's extension
    headers = {"sec-fetch-dest": dest, "accept": "text/css"}
    assert request_context("https://cdn.example/file.png", headers).type == expected


def test_beacons_and_websockets():
    assert request_context("https://t.example/", {"sec-fetch-dest": "empty", "ping-to": "x"}).type == "ping"
    assert request_context("https://t.example/", {"sec-fetch-dest": "empty", "content-type": "text/ping"}).type == "ping"
    assert request_context("wss://t.example/", {"upgrade": "websocket", "sec-fetch-dest": "empty"}).type == "websocket"


@pytest.mark.parametrize(
    "accept, expected",
    [
        ("text/css,*/*;q=0.1", "stylesheet"),
        ("image/avif,image/webp,*/*", "image"),
        ("text/html,application/xhtml+xml", "document"),
        ("application/json", "xmlhttprequest"),
        ("video/webm", "media"),
    ],
)
def test_type_from_accept_without_sec_fetch(accept, expected):
    assert request_context("https://cdn.example/x", {"Accept": accept}).type == expected


@pytest.mark.parametrize(
    "url, expected",
    [
        ("https://cdn.example/app.js?v=1", "script"),
        ("https://cdn.example/site.CSS", "stylesheet"),
        ("https://cdn.example/p.gif#x", "image"),
        ("https://cdn.example/f.woff2", "font"),
        ("https://cdn.example/v.mp4", "media"),
        ("https://cdn.example/", "other"),
        ("https://cdn.example.js", "other"),  # the host is not a file name
    ],
)
def test_type_from_the_url_extension_last(url, expected):
    assert request_context(url, {"accept": "*/*"}).type == expected


def test_source_from_referer_then_origin():
    assert request_context("https://t.example/", {"Referer": "https://news.example/a"}).source == "https://news.example/a"
    assert request_context("https://t.example/", {"origin": "https://news.example"}).source == "https://news.example"
    assert request_context("https://t.example/", {"origin": "null"}).source is None
    assert request_context("https://t.example/", {}).source is None


@pytest.mark.parametrize(
    "site, expected", [("same-origin", False), ("same-site", False), ("none", False), ("cross-site", True)]
)
def test_party_from_sec_fetch_site(site, expected):
    # Sec-Fetch-Site wins over what the domains would say
    headers = {"sec-fetch-site": site, "referer": "https://t.example/"}
    assert request_context("https://t.example/x", headers).third_party is expected


def test_a_document_is_first_party_whoever_linked_to_it():
    headers = {"sec-fetch-dest": "document", "sec-fetch-site": "cross-site", "referer": "https://news.example/"}
    assert request_context("https://tracker.example/landing", headers) == RequestContext(
        "document", "https://news.example/", False
    )


def test_party_from_domains_without_sec_fetch_site():
    assert request_context("https://cdn.news.example/x", {"referer": "https://www.news.example/"}).third_party is False
    assert request_context("https://t.example/x", {"referer": "https://news.example/"}).third_party is True
    assert request_context("https://t.example/x", {}).third_party is None


def test_context_feeds_the_engine():
    engine = FilterEngine()
    engine.add_list("||t.example^$script,third-party", "test")
    headers = {"sec-fetch-dest": "script", "sec-fetch-site": "cross-site", "referer": "https://news.example/"}
    context = request_context("https://t.example/t.js", headers)
    assert context == RequestContext("script", "https://news.example/", True)
    assert engine.match("https://t.example/t.js", context.type, context.source, context.third_party).action == "block"
