"""`whoknows check URL`: the decision the proxy would make, from small lists written here."""

import json

import pytest

from cli_runner import run
from whoknows.filters import engine_cache, subscriptions

MINE = """\
! Title: check test list
||tracker.test^
@@||tracker.test/consent.js$script
||ads.test/ga.js$script,redirect=noop.js
$removeparam=utm_source
||cdn.test^$third-party
"""


@pytest.fixture(autouse=True)
def my_list(tmp_path):
    path = tmp_path / "mine.txt"
    path.write_text(MINE)
    subscriptions.add_subscription(str(path), name="mine")
    return path


def check_json(*args) -> dict:
    result = run("check", *args, "--json")
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def details(result) -> list[list[str]]:
    """The indented `label  value` lines after the verdict, split into words."""
    return [line.split() for line in result.stdout.splitlines()[1:]]


def test_block_names_the_filter_and_the_list():
    result = run("check", "https://tracker.test/pixel.gif", "--type", "image")

    assert result.exit_code == 0
    assert result.stdout.splitlines()[0] == "block  https://tracker.test/pixel.gif"
    assert ["filter", "||tracker.test^"] in details(result)
    assert ["list", "mine"] in details(result)
    assert ["type", "image"] in details(result)
    assert ["from", "(no", "known", "source", "page)"] in details(result)


def test_the_builtin_list_names_the_company():
    decision = check_json("https://www.google-analytics.com/collect?v=1", "--type", "image", "--from", "shop.test")

    assert (decision["decision"], decision["list"], decision["owner"]) == ("block", "builtin", "Google")


def test_allow_says_nothing_matched():
    result = run("check", "https://example.test/page", "--from", "example.test")

    assert result.stdout.splitlines()[0] == "allow  https://example.test/page"
    assert ["why", "no", "filter", "matched"] in details(result)


def test_exception():
    decision = check_json("https://tracker.test/consent.js", "--type", "script")

    assert (decision["decision"], decision["filter"], decision["list"]) == (
        "exception", "@@||tracker.test/consent.js$script", "mine",
    )


def test_redirect_shows_the_resource():
    result = run("check", "https://ads.test/ga.js", "--type", "script")

    assert result.stdout.splitlines()[0] == "redirect  https://ads.test/ga.js"
    assert ["redirect", "noop.js"] in details(result)
    assert ["filter", "||ads.test/ga.js$script,redirect=noop.js"] in details(result)


def test_removeparam_shows_the_stripped_url():
    result = run("check", "https://shop.test/item?id=7&utm_source=mail")

    assert result.stdout.splitlines()[0] == "removeparam  https://shop.test/item?id=7&utm_source=mail"
    assert ["clean", "URL", "https://shop.test/item?id=7"] in details(result)
    assert ["removed", "utm_source"] in details(result)


def test_builtin_tracking_parameters_are_stripped_as_the_proxy_does():
    result = run("check", "https://shop.test/item?id=7&fbclid=abc&gclid=x#top")

    assert result.stdout.splitlines()[0] == "removeparam  https://shop.test/item?id=7&fbclid=abc&gclid=x#top"
    assert ["clean", "URL", "https://shop.test/item?id=7#top"] in details(result)
    assert ["removed", "fbclid,", "gclid"] in details(result)
    assert ["why", "built-in", "tracking", "parameters"] in details(result)


def test_a_blocked_request_is_not_reported_as_cleaned():
    decision = check_json("https://tracker.test/p?utm_source=x", "--type", "image")

    assert (decision["decision"], decision["clean_url"], decision["removed_params"]) == ("block", None, [])


def test_from_decides_third_party_filters():
    third = check_json("https://cdn.test/lib.js", "--type", "script", "--from", "news.test")
    first = check_json("https://cdn.test/lib.js", "--type", "script", "--from", "https://www.cdn.test/")
    unknown = check_json("https://cdn.test/lib.js", "--type", "script")

    assert (third["decision"], third["from"]) == ("block", "https://news.test/")
    assert first["decision"] == "allow"
    assert unknown["from"] is None


def test_json_shape():
    decision = check_json("https://shop.test/?utm_source=x", "--type", "document")

    assert decision == {
        "url": "https://shop.test/?utm_source=x",
        "from": None,
        "type": "document",
        "decision": "removeparam",
        "action": decision["action"],
        "filter": "$removeparam=utm_source",
        "list": "mine",
        "important": False,
        "redirect": None,
        "clean_url": "https://shop.test/",
        "removed_params": ["utm_source"],
        "owner": None,
        "verdict": "rewrite",
        "parts": decision["parts"],
        "category": None,
        "canonical_names": [],
        "uncloaked_as": None,
        "cname_note": None,
    }
    assert decision["action"] in ("allow", "exception")
    assert [part["part"] for part in decision["parts"]] == [
        "site", "filter", "params", "cookies", "referer", "leaks", "identifiers"]
    assert all(part["reason"] for part in decision["parts"])


def test_an_unknown_type_lists_the_known_ones():
    result = run("check", "https://tracker.test/x", "--type", "gif")

    assert result.exit_code == 2
    assert result.stderr.startswith("whoknows: error: unknown request type 'gif'; use one of: ")
    assert "script" in result.stderr and "image" in result.stderr


@pytest.mark.parametrize(
    "args, message",
    [
        (["tracker.test/x"], "URL must be an http(s) URL like https://example.com/path, got 'tracker.test/x'"),
        (["ftp://tracker.test/x"], "URL must be an http(s) URL"),
        (["https:///nohost"], "URL 'https:///nohost' has no host name"),
        (["https://tracker.test:http/"], "is not a valid URL"),
        (["https://tracker.test/", "--from", "mailto:x@y.test"], "--from takes a site (example.com) or an http(s) URL"),
        (["https://tracker.test/", "--from", "ftp://news.test/"], "--from must be an http(s) URL"),
        (["https://bad host.test/"], "invalid host name 'bad host.test'"),
    ],
)
def test_a_bad_url_is_a_usage_error(args, message):
    result = run("check", *args)

    assert result.exit_code == 2
    assert result.stderr.startswith("whoknows: error: ") and message in result.stderr
    assert result.stderr.count("\n") == 1


def test_check_uses_the_same_cached_engine_as_the_proxy(whoknows_home):
    run("check", "https://tracker.test/x")
    (cache,) = whoknows_home.glob("engine.*.cache")
    stamp = cache.stat().st_mtime_ns

    assert run("check", "https://tracker.test/x").exit_code == 0
    assert engine_cache.open_engine().from_cache
    assert cache.stat().st_mtime_ns == stamp


def test_a_paused_site_says_pass_with_the_reason_as_the_proxy_lets_it_through():
    from whoknows.ledger import open_ledger
    from whoknows.site_settings import SiteSettingsStore

    with open_ledger() as ledger:
        SiteSettingsStore(ledger).set_paused("news.test", True)

    result = run("check", "https://tracker.test/pixel.gif", "--from", "news.test", "--type", "image")
    decision = check_json("https://tracker.test/pixel.gif", "--from", "news.test", "--type", "image")

    assert result.stdout.splitlines()[0] == "pass  https://tracker.test/pixel.gif"
    assert "protection is paused on news.test" in result.stdout
    assert decision["verdict"] == "pass"
    site = decision["parts"][0]
    assert (site["part"], site["action"]) == ("site", "paused")
    # elsewhere the same request is still blocked
    assert check_json("https://tracker.test/pixel.gif", "--from", "shop.test", "--type", "image")["decision"] == "block"


def test_an_allowed_third_party_is_not_blocked_and_keeps_its_cookies():
    from whoknows.ledger import open_ledger
    from whoknows.site_settings import SiteSettingsStore

    with open_ledger() as ledger:
        SiteSettingsStore(ledger).allow_third_party("shop.test", "tracker.test")

    decision = check_json("https://tracker.test/login.js", "--from", "shop.test", "--type", "script")

    parts = {part["part"]: part for part in decision["parts"]}
    assert decision["verdict"] == "pass"
    assert parts["site"]["action"] == "allowed-3p" and "allow-3p" in parts["site"]["reason"]
    assert parts["cookies"]["action"] == "allow"


def test_your_email_in_a_third_party_url_is_stopped_and_the_part_says_why():
    from whoknows.ledger import open_ledger
    from whoknows.me import add_value

    with open_ledger() as ledger:
        add_value(ledger, "email", "alice.smith@example.org")

    decision = check_json("https://px.unlisted.test/c?em=alice.smith%40example.org&v=1",
                          "--from", "shop.test", "--type", "image")
    own = check_json("https://shop.test/account?em=alice.smith%40example.org", "--from", "shop.test",
                     "--type", "xhr")

    leaks = {part["part"]: part for part in decision["parts"]}["leaks"]
    assert (decision["decision"], decision["verdict"], leaks["action"]) == ("block", "block", "block")
    assert "email" in leaks["reason"] and "unlisted.test" in leaks["reason"]
    assert {part["part"]: part for part in own["parts"]}["leaks"]["action"] == "disclosure"
    assert own["verdict"] != "block"


def test_the_default_cookie_mode_is_the_cookie_part_of_a_site_without_its_own():
    assert run("site", "cookies", "--default", "cap:30").exit_code == 0

    decision = check_json("https://shop.test/", "--type", "document")

    cookies = {part["part"]: part for part in decision["parts"]}["cookies"]
    assert cookies["action"] == "cap:30" and "default cookie mode" in cookies["reason"]
def test_a_cloaked_first_party_host_is_blocked_as_its_canonical_name():
    args = ("https://metrics.shop.test/p.gif?uid=1", "--from", "shop.test", "--type", "image",
            "--cname", "shop.test.tracker.test")
    decision = check_json(*args)
    assert (decision["decision"], decision["filter"], decision["uncloaked_as"]) == (
        "block", "||tracker.test^", "shop.test.tracker.test")
    result = run("check", *args)
    assert result.stdout.splitlines()[0] == "block  https://metrics.shop.test/p.gif?uid=1"
    assert ["uncloaked", "blocked", "as", "shop.test.tracker.test"] in details(result)
    assert ["cname", "shop.test.tracker.test"] in details(result)


def test_a_canonical_name_is_not_looked_at_for_a_third_party_or_when_nothing_lists_it():
    third_party = check_json("https://metrics.other.test/p.gif", "--from", "shop.test", "--type", "image",
                             "--cname", "x.tracker.test")
    assert third_party["decision"] == "allow" and third_party["cname_note"].startswith("not uncloaked")
    unlisted = check_json("https://metrics.shop.test/p.gif", "--from", "shop.test", "--type", "image",
                          "--cname", "edge.unlisted.test")
    assert unlisted["decision"] == "allow" and unlisted["uncloaked_as"] is None
    assert "no filter matches" in unlisted["cname_note"]


def test_a_bad_canonical_name_is_a_one_line_error():
    result = run("check", "https://metrics.shop.test/", "--cname", "not a host")
    assert result.exit_code == 2 and "--cname takes a host name" in result.stderr


def test_check_names_the_company_and_category_behind_a_tracker():
    decision = check_json("https://www.google-analytics.com/g/collect", "--from", "shop.example")
    assert (decision["owner"], decision["category"]) == ("Google", "site_analytics")
    decision = check_json("https://connect.facebook.net/en_US/fbevents.js", "--from", "shop.example")
    assert (decision["owner"], decision["category"]) == ("Meta Platforms", "advertising")
    shown = run("check", "https://www.google-analytics.com/g/collect", "--from", "shop.example").stdout
    assert "owner      Google" in shown and "category   site_analytics" in shown


def test_at_least_95_percent_of_the_shipped_tracker_domains_resolve_to_their_company_through_check():
    # What `check` prints as owner and category (its `attribution`), for a subdomain of every domain
    # the shipped data holds, against the data's own company and category for that domain.
    from cli.check import attribution
    from whoknows import tracker_companies

    data = tracker_companies._data()
    wrong = []
    for domain, packed in data.domains.items():
        row, category = divmod(packed, tracker_companies.CATEGORY_SLOTS)
        expected = {"owner": data.company(row).name, "category": data.categories[category]}
        if attribution(f"https://px.{domain}/collect?v=1") != expected:
            wrong.append(domain)
    assert len(data.domains) > 6000
    assert len(wrong) / len(data.domains) <= 0.05, wrong[:20]


def test_a_pages_cname_exception_is_named_when_it_keeps_an_uncloaked_request(tmp_path):
    unbreak = tmp_path / "unbreak.txt"
    unbreak.write_text("! Title: unbreak\n@@||exempt.test^$cname\n")
    subscriptions.add_subscription(str(unbreak), name="unbreak")
    decision = check_json("https://metrics.exempt.test/p.gif", "--from", "exempt.test", "--type", "image",
                          "--cname", "x.tracker.test")
    assert decision["decision"] == "allow"
    assert decision["cname_note"] == "uncloaked, not blocked: the page is exempt (@@||exempt.test^$cname)"


def test_a_body_given_with_data_is_searched_and_a_third_party_that_took_an_id_is_blocked_on_that_site():
    from whoknows.leak_records import PendingLeaks
    from whoknows.leak_records import SharedIdKey
    from whoknows.leak_records import write_batch
    from whoknows.ledger import open_ledger
    from whoknows.me import add_value

    with open_ledger() as ledger:
        add_value(ledger, "email", "alice.smith@example.org")
        pending = PendingLeaks()
        pending.record([(SharedIdKey("shop.test", "visitor_id", "analytics.test", "t.analytics.test", "strip"), {})])
        write_batch(ledger, pending.take())

    posted = check_json("https://api.unlisted.test/t", "--from", "shop.test", "--type", "xhr", "--method", "POST",
                        "--data", '{"user": {"email": "alice.smith@example.org"}}',
                        "--content-type", "application/json")
    learned = check_json("https://t.analytics.test/hit", "--from", "shop.test", "--type", "image")
    elsewhere = check_json("https://t.analytics.test/hit", "--from", "news.test", "--type", "image")

    leaks = {part["part"]: part for part in posted["parts"]}["leaks"]
    assert (posted["verdict"], leaks["action"]) == ("block", "block") and "body" in leaks["reason"]
    filtered = {part["part"]: part for part in learned["parts"]}["filter"]
    assert learned["decision"] == "block" and learned["list"] == "whoknows"
    assert "shop.test's identifier cookie visitor_id" in filtered["reason"]
    assert elsewhere["decision"] == "allow"
