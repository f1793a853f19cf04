"""`whoknows lists`, `lists add`, `lists remove`: what the user sees (no network involved)."""

import json
import random

import pytest

from cli_runner import run

ROW_KEYS = {
    "name", "kind", "url", "file", "in_use", "lines", "filters_used", "skipped",
    "downloaded", "last_update", "last_attempt", "last_error", "etag", "last_modified",
}


def listing() -> dict[str, dict]:
    result = run("lists", "--json")
    assert result.exit_code == 0, result.output
    return {row["name"]: row for row in json.loads(result.stdout)}


def test_fresh_install_lists_the_builtin_list_in_use_and_the_defaults_not_yet_downloaded():
    rows = listing()

    assert list(rows) == ["builtin", "EasyPrivacy", "uBO-Privacy"]
    assert all(set(row) == ROW_KEYS for row in rows.values())
    assert rows["builtin"]["in_use"] and rows["builtin"]["filters_used"] > 0
    assert rows["builtin"]["file"].endswith("whoknows/data/builtin-trackers.txt")
    ep = rows["EasyPrivacy"]
    assert (ep["kind"], ep["url"], ep["in_use"], ep["filters_used"], ep["last_update"]) == (
        "url", "https://easylist.to/easylist/easyprivacy.txt", False, None, None,
    )


def test_the_table_says_how_to_download_the_defaults():
    result = run("lists")

    assert result.exit_code == 0
    assert "EasyPrivacy" in result.stdout and "whoknows lists update" in result.stdout


def test_adding_a_local_file_shows_its_filters_and_skipped_lines(tmp_path):
    mine = tmp_path / "my-blocks.txt"
    mine.write_text("||tracker.test^\n@@||tracker.test/ok.js\nexample.com##.ad\n")

    added = run("lists", "add", str(mine), "--name", "mine")

    assert added.exit_code == 0, added.output
    assert added.stdout == f"added mine ({mine}): 2 filters; re-read when it changes\n"
    row = listing()["mine"]
    assert (row["kind"], row["file"], row["filters_used"], row["in_use"]) == ("file", str(mine), 2, True)
    assert sum(row["skipped"].values()) == 1, "the cosmetic filter is skipped, with its reason"


def test_adding_a_url_only_subscribes(whoknows_home):
    added = run("lists", "add", "https://lists.example/extra.txt")

    assert added.exit_code == 0
    assert added.stdout == (
        "subscribed to extra (https://lists.example/extra.txt); download it with: whoknows lists update extra\n"
    )
    assert not (whoknows_home / "lists").exists() or not any((whoknows_home / "lists").iterdir())
    assert listing()["extra"]["in_use"] is False


def test_a_bad_url_is_a_usage_error_on_one_line():
    result = run("lists", "add", "ftp://lists.example/x.txt")

    assert result.exit_code == 2
    assert result.stderr.startswith("whoknows: error: cannot subscribe to 'ftp://lists.example/x.txt'")
    assert result.stderr.count("\n") == 1
    assert "x" not in listing()


def test_a_path_that_is_neither_file_nor_url(tmp_path):
    result = run("lists", "add", str(tmp_path / "missing.txt"))

    assert result.exit_code == 2
    assert "no such file" in result.stderr and "not an http(s) URL" in result.stderr


@pytest.mark.parametrize("name, content, why", [
    ("random.bin", bytes(random.Random(16).randrange(256) for _ in range(5000)), "it is binary data, not text"),
    ("image.png", b"\x89PNG\r\n\x1a\n" + b"\x00" * 200 + b"||tracker.test^\n", "it is binary data, not text"),
    ("inbox.mbox", b"".join(b"From news@shop.test Mon Mar  4 10:00:00 2024\nFrom: Shop <news@shop.test>\n"
                            b"To: me@mail.test\nSubject: offer %d\n\nBuy now, it is cheap.\n\n" % n for n in range(3)),
     "only 0 of its 15 lines look like filters"),
])
def test_a_file_that_is_not_a_filter_list_is_refused_naming_it(tmp_path, name, content, why):
    path = tmp_path / name
    path.write_bytes(content)

    result = run("lists", "add", str(path))

    assert result.exit_code == 2
    assert result.stderr.startswith(f"whoknows: error: {path} is not a filter list: {why}")
    assert result.stderr.count("\n") == 1
    assert path.stem not in listing()


def test_a_list_with_a_few_odd_lines_is_still_a_list_and_counts_them_as_skipped(tmp_path):
    mine = tmp_path / "mine.txt"
    mine.write_bytes(b"||tracker.test^\n||pixel.test^$image\nthis line is prose\n||ads.test^\n\xff\xfe\n")

    added = run("lists", "add", str(mine))

    assert added.exit_code == 0, added.output
    row = listing()["mine"]
    assert (row["filters_used"], sum(row["skipped"].values())) == (4, 1)  # counted as before


def test_removing_lists_and_the_builtin_one():
    removed = run("lists", "remove", "easyprivacy")
    off = run("lists", "remove", "builtin")

    assert (removed.exit_code, removed.stdout) == (0, "removed EasyPrivacy (https://easylist.to/easylist/easyprivacy.txt)\n")
    assert off.exit_code == 0 and "lists add builtin" in off.stdout
    assert list(listing()) == ["uBO-Privacy"]

    assert run("lists", "add", "builtin").exit_code == 0
    assert list(listing()) == ["builtin", "uBO-Privacy"]


def test_removing_an_unknown_list_exits_1():
    result = run("lists", "remove", "nope")

    assert result.exit_code == 1
    assert result.stderr == (
        "whoknows: error: no subscribed list is named 'nope' (subscribed: builtin, EasyPrivacy, uBO-Privacy)\n"
    )
