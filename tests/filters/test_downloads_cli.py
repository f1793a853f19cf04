"""`whoknows lists update` as a user runs it: messages, exit status, JSON."""

import json

from click.testing import CliRunner

from cli.main import cli
from whoknows.filters import subscriptions

GOOD = "! Title: Test privacy\n||tracker.test^\n||pixel.test/collect$image\n"


def run(*args):
    return CliRunner().invoke(cli, list(args))


def only_test_lists(*pairs):
    for default in ("EasyPrivacy", "uBO-Privacy"):
        subscriptions.remove_subscription(default)
    for name, url in pairs:
        subscriptions.add_subscription(url, name=name)


def test_update_reports_each_list_and_exits_0(list_server):
    only_test_lists(("test", list_server.serve("/list.txt", GOOD, etag='"1"')))

    first = run("lists", "update")
    again = run("lists", "update", "test")

    assert (first.exit_code, first.stdout, first.stderr) == (0, "test: updated, 2 filters\n", "")
    assert (again.exit_code, again.stdout) == (0, "test: not modified\n")


def test_a_failed_list_exits_1_with_one_line_and_the_others_still_update(list_server, closed_port):
    offline = f"http://127.0.0.1:{closed_port}/easyprivacy.txt"
    only_test_lists(("EasyPrivacy", offline), ("good", list_server.serve("/good.txt", GOOD)))

    result = run("lists", "update", "--timeout", "2")

    assert result.exit_code == 1
    assert result.stdout == "good: updated, 2 filters\n"
    assert result.stderr == (
        f"whoknows: error: cannot download EasyPrivacy ({offline}): connection refused; no copy yet\n"
    )


def test_update_json_lists_every_result(list_server):
    only_test_lists(("test", list_server.serve("/list.txt", GOOD)), ("gone", list_server.url("/missing.txt")))

    result = run("lists", "update", "--json")

    assert result.exit_code == 1
    rows = json.loads(result.stdout)
    assert [(r["name"], r["status"]) for r in rows] == [("test", "updated"), ("gone", "failed")]
    assert rows[0]["stats"]["filters_used"] == 2
    assert "HTTP 404 Not Found; no copy yet" in rows[1]["message"]
    assert set(rows[0]) == {"name", "url", "status", "message", "stats"}


def test_the_listing_shows_the_download_and_its_error(list_server):
    only_test_lists(("test", list_server.serve("/list.txt", GOOD)))
    run("lists", "update")
    list_server.serve("/list.txt", "", status=500)
    run("lists", "update")

    rows = {r["name"]: r for r in json.loads(run("lists", "--json").stdout)}

    test = rows["test"]
    assert test["in_use"] is True and test["filters_used"] == 2
    assert "HTTP 500" in test["last_error"] and "keeping the copy from" in test["last_error"]
    assert test["downloaded"] and test["etag"] is None


def test_updating_an_unknown_list_is_an_error(list_server):
    only_test_lists(("test", list_server.serve("/list.txt", GOOD)))

    result = run("lists", "update", "nope")

    assert result.exit_code == 1
    assert result.stderr.startswith("whoknows: error: no subscribed list is named 'nope'")
    assert list_server.seen == []
