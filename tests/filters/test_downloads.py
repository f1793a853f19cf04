"""`lists update` against a loopback server: conditional GETs, bad downloads, and being offline."""

import pytest

from whoknows.errors import InputError, NotFoundError
from whoknows.filters import downloads, engine_cache, subscriptions

GOOD = "! Title: Test privacy\n||tracker.test^\n||pixel.test/collect$image\n"
NEWER = GOOD + "||beacon.test^\n"
ETAG = '"v1"'
DATE = "Fri, 20 Nov 2026 10:00:00 GMT"


def subscribe(url: str, name: str = "test") -> subscriptions.Subscription:
    """Only the test list: the default subscriptions would point at the real network."""
    for default in ("EasyPrivacy", "uBO-Privacy"):
        subscriptions.remove_subscription(default)
    return subscriptions.add_subscription(url, name=name)


def subscription(name: str) -> subscriptions.Subscription:
    return subscriptions.find(subscriptions.read_subscriptions(), name)


def only(results):
    (result,) = results
    return result


def test_download_then_not_modified_keeps_the_copy_without_a_second_body(list_server):
    url = list_server.serve("/list.txt", GOOD, etag=ETAG, last_modified=DATE)
    subscribe(url)

    first = only(downloads.update_lists())

    assert (first.status, first.stats["filters_used"]) == ("updated", 2)
    copy = subscriptions.lists_dir() / "test.txt"
    assert copy.read_text() == GOOD
    sub = subscription("test")
    assert (sub.etag, sub.last_modified, sub.last_error) == (ETAG, DATE, None)
    assert engine_cache.load_engine().match("https://tracker.test/x.js").action == "block"
    stamp = copy.stat().st_mtime_ns

    second = only(downloads.update_lists(["test"]))

    assert second.status == "not-modified"
    asked = list_server.requests_for("/list.txt")[-1]
    assert (asked.headers["if-none-match"], asked.headers["if-modified-since"]) == (ETAG, DATE)
    assert (asked.status, asked.body_bytes) == (304, 0)
    assert copy.stat().st_mtime_ns == stamp
    assert copy.read_text() == GOOD
    assert sorted(p.name for p in subscriptions.lists_dir().iterdir()) == ["test.txt"], "no temp files left"


def test_a_changed_list_replaces_the_copy(list_server):
    url = list_server.serve("/list.txt", GOOD, etag=ETAG)
    subscribe(url)
    downloads.update_lists()
    list_server.serve("/list.txt", NEWER, etag='"v2"')

    result = only(downloads.update_lists())

    assert (result.status, result.stats["filters_used"]) == ("updated", 3)
    assert subscription("test").etag == '"v2"'
    assert engine_cache.load_engine().match("https://beacon.test/b").action == "block"


def test_a_server_error_keeps_the_last_good_copy_and_records_the_error(list_server):
    url = list_server.serve("/list.txt", GOOD, etag=ETAG)
    subscribe(url)
    downloads.update_lists()
    downloaded = subscription("test").downloaded
    list_server.serve("/list.txt", "oops", status=500)

    result = only(downloads.update_lists())

    day = subscriptions.local_date(downloaded)
    assert result.status == "failed"
    assert result.message == f"cannot download test ({url}): HTTP 500 Internal Server Error; keeping the copy from {day}"
    sub = subscription("test")
    assert sub.last_error == result.message
    assert sub.downloaded == downloaded
    assert (subscriptions.lists_dir() / "test.txt").read_text() == GOOD
    assert engine_cache.load_engine().match("https://tracker.test/x.js").action == "block"


def test_an_html_page_is_rejected(list_server):
    url = list_server.serve("/list.txt", GOOD)
    subscribe(url)
    downloads.update_lists()
    portal = "<!DOCTYPE html>\n<html><head><title>Sign in to Wi-Fi</title></head><body>||x.test^</body></html>"
    list_server.serve("/list.txt", portal, content_type="text/html")

    result = only(downloads.update_lists())

    assert result.status == "failed"
    assert "the server sent an HTML page, not a filter list; keeping the copy from" in result.message
    assert (subscriptions.lists_dir() / "test.txt").read_text() == GOOD


def test_a_download_without_usable_filters_is_rejected(list_server):
    url = list_server.serve("/list.txt", "! Title: empty\n! nothing here\n")
    subscribe(url)

    result = only(downloads.update_lists())

    assert result.status == "failed"
    assert "no usable filters" in result.message and result.message.endswith("; no copy yet")
    assert not (subscriptions.lists_dir() / "test.txt").exists()
    assert "test" not in engine_cache.load_engine().lists


def test_a_download_that_is_not_a_filter_list_is_rejected(list_server):
    url = list_server.serve("/list.txt", GOOD)
    subscribe(url)
    downloads.update_lists()
    mail = "".join(f"From: Shop <news@shop.test>\nSubject: offer {n}\n\nBuy now, it is cheap.\n\n" for n in range(20))
    list_server.serve("/list.txt", mail)

    result = only(downloads.update_lists())

    assert result.status == "failed"
    assert "the download is not a filter list: only 0 of its 60 lines look like filters" in result.message
    assert (subscriptions.lists_dir() / "test.txt").read_text() == GOOD  # the last good copy stays


def test_gzip_is_accepted_and_stored_decompressed(list_server):
    url = list_server.serve("/list.txt", NEWER, gzip=True)
    subscribe(url)

    assert only(downloads.update_lists()).status == "updated"

    assert list_server.requests_for("/list.txt")[0].headers["accept-encoding"] == "gzip"
    assert (subscriptions.lists_dir() / "test.txt").read_text() == NEWER


@pytest.mark.parametrize(
    "behaviour, reason",
    [
        ("reset", "connection reset by the server"),
        ("hang", "no answer within 0.5 s"),
        ("truncate", "the download was cut short"),
    ],
)
def test_a_broken_connection_fails_cleanly(list_server, behaviour, reason):
    url = list_server.serve("/list.txt", GOOD)
    subscribe(url)
    downloads.update_lists()
    list_server.serve("/list.txt", NEWER, behaviour=behaviour)

    result = only(downloads.update_lists(timeout=0.5))

    assert result.status == "failed"
    assert f": {reason}; keeping the copy from" in result.message
    assert (subscriptions.lists_dir() / "test.txt").read_text() == GOOD


def test_a_server_dripping_bytes_hits_the_overall_deadline(list_server, monkeypatch):
    monkeypatch.setattr(downloads, "DOWNLOAD_DEADLINE", 0.5)
    url = list_server.serve("/list.txt", GOOD * 10, behaviour="drip")
    subscribe(url)

    result = only(downloads.update_lists(timeout=0.4))

    assert result.status == "failed"
    assert "the download took longer than 0.5 s; no copy yet" in result.message


def test_offline_refused_and_unresolvable_are_one_line_each(closed_port):
    refused = f"http://127.0.0.1:{closed_port}/list.txt"
    subscribe(refused, "local")
    subscriptions.add_subscription("http://unresolvable.invalid/list.txt", name="nowhere")

    results = {r.name: r for r in downloads.update_lists(timeout=2)}

    assert results["local"].message == f"cannot download local ({refused}): connection refused; no copy yet"
    assert results["nowhere"].message == (
        "cannot download nowhere (http://unresolvable.invalid/list.txt): "
        "cannot resolve the host name (offline?); no copy yet"
    )
    assert all("\n" not in r.message for r in results.values())
    assert subscription("local").last_error == results["local"].message


def test_one_failing_list_does_not_stop_the_others(list_server):
    bad = list_server.serve("/bad.txt", "", status=503)
    good = list_server.serve("/good.txt", GOOD)
    subscribe(bad, "bad")
    subscriptions.add_subscription(good, name="good")

    results = [(r.name, r.status) for r in downloads.update_lists()]

    assert results == [("bad", "failed"), ("good", "updated")]
    assert engine_cache.load_engine().match("https://tracker.test/x.js").list == "good"


def test_naming_an_unknown_list_fails_before_any_download(list_server):
    subscribe(list_server.serve("/list.txt", GOOD))

    with pytest.raises(NotFoundError, match="'nope'"):
        downloads.update_lists(["test", "nope"])

    assert list_server.seen == []


def test_local_and_builtin_lists_are_not_downloaded(tmp_path):
    mine = tmp_path / "mine.txt"
    mine.write_text("||tracker.test^\n")
    subscriptions.add_subscription(str(mine))

    with pytest.raises(InputError, match="local file"):
        downloads.update_lists(["mine"])
    with pytest.raises(InputError, match="ships with whoknows"):
        downloads.update_lists(["builtin"])


def test_update_prebuilds_the_engine_cache_for_the_proxy(list_server):
    subscribe(list_server.serve("/list.txt", GOOD))

    downloads.update_lists()

    loaded = engine_cache.open_engine()
    assert loaded.from_cache
    assert loaded.engine.match("https://tracker.test/x.js").list == "test"


def test_the_same_bytes_again_leave_the_copy_and_the_cache_alone(list_server):
    subscribe(list_server.serve("/list.txt", GOOD))  # no ETag, no Last-Modified: always a full 200
    downloads.update_lists()
    copy = subscriptions.lists_dir() / "test.txt"
    stamp, key = copy.stat().st_mtime_ns, engine_cache.cache_key()

    result = only(downloads.update_lists())

    assert list_server.requests_for("/list.txt")[-1].body_bytes == len(GOOD)
    assert result.status == "not-modified"
    assert copy.stat().st_mtime_ns == stamp
    assert engine_cache.cache_key() == key

