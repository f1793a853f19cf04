"""Subscriptions: the defaults, adding and removing lists, and the engine they build."""

import json

import pytest

from whoknows.errors import InputError, NotFoundError
from whoknows.filters import engine_cache, subscriptions


def write_list(path, *lines):
    path.write_text("! Title: test list\n" + "\n".join(lines) + "\n")
    return path


def test_a_fresh_install_subscribes_to_the_defaults_without_writing_anything(whoknows_home):
    subs = subscriptions.read_subscriptions()

    assert [(s.name, s.kind) for s in subs] == [("builtin", "builtin"), ("EasyPrivacy", "url"), ("uBO-Privacy", "url")]
    assert subs[1].url == "https://easylist.to/easylist/easyprivacy.txt"
    assert subs[2].url == "https://ublockorigin.github.io/uAssets/filters/privacy.txt"
    assert not (whoknows_home / "lists.json").exists()


def test_until_the_first_update_the_engine_uses_only_the_builtin_list():
    loaded = engine_cache.open_engine()

    assert list(loaded.engine.lists) == ["builtin"]
    assert loaded.engine.lists["builtin"].filters_used > 0
    assert loaded.warnings == []


def test_a_local_file_is_referenced_and_its_edits_apply(tmp_path):
    mine = write_list(tmp_path / "mine.txt", "||tracker.test^")

    sub = subscriptions.add_subscription(str(mine))

    assert (sub.name, sub.kind, sub.file) == ("mine", "file", str(mine))
    assert sub.stats["filters_used"] == 1
    engine = engine_cache.load_engine()
    assert engine.match("https://tracker.test/p.gif").action == "block"
    assert engine.match("https://other.test/p.gif").action == "allow"

    write_list(mine, "||other.test^")

    engine = engine_cache.load_engine()
    assert engine.match("https://tracker.test/p.gif").action == "allow"
    assert engine.match("https://other.test/p.gif").action == "block"
    assert not list((subscriptions.lists_dir()).iterdir()), "a local list is not copied into the data dir"


def test_subscriptions_are_saved_in_lists_json(whoknows_home, tmp_path):
    mine = write_list(tmp_path / "mine.txt", "||tracker.test^")
    subscriptions.add_subscription(str(mine), name="Mine")
    subscriptions.add_subscription("https://lists.example/filters/extra.min.txt")

    saved = json.loads((whoknows_home / "lists.json").read_text())

    assert saved["version"] == 1
    assert [entry["name"] for entry in saved["lists"]] == ["builtin", "EasyPrivacy", "uBO-Privacy", "Mine", "extra"]
    assert saved["lists"][3]["file"] == str(mine)
    assert saved["lists"][4]["url"] == "https://lists.example/filters/extra.min.txt"
    assert (whoknows_home / "lists.json").stat().st_mode & 0o777 == 0o600


@pytest.mark.parametrize(
    "url, message",
    [
        ("ftp://lists.example/list.txt", "only http:// and https://"),
        ("https://", "no host name"),
        ("https://lists.example:99999/list.txt", "not a valid URL"),
        ("file:///etc/hosts", "only http:// and https://"),
        ("https://me:s3cret@lists.example/private.txt", "user name or password"),
    ],
)
def test_a_bad_url_is_refused_and_nothing_changes(whoknows_home, url, message):
    with pytest.raises(InputError, match=message):
        subscriptions.add_subscription(url)

    assert not (whoknows_home / "lists.json").exists()


def test_a_missing_file_is_refused(tmp_path):
    with pytest.raises(InputError, match="no such file"):
        subscriptions.add_subscription(str(tmp_path / "nope.txt"))


def test_a_file_without_usable_filters_is_refused(whoknows_home, tmp_path):
    notes = tmp_path / "notes.txt"
    notes.write_text("! just a comment\n\n")

    with pytest.raises(InputError, match="no usable filters"):
        subscriptions.add_subscription(str(notes))

    assert not (whoknows_home / "lists.json").exists()


def test_names_and_sources_are_unique(tmp_path):
    mine = write_list(tmp_path / "mine.txt", "||tracker.test^")
    subscriptions.add_subscription(str(mine))

    with pytest.raises(InputError, match="already exists"):
        subscriptions.add_subscription("https://lists.example/mine.txt")
    with pytest.raises(InputError, match="already subscribed as 'mine'"):
        subscriptions.add_subscription(str(mine), name="again")
    with pytest.raises(InputError, match="already subscribed as 'EasyPrivacy'"):
        subscriptions.add_subscription("https://easylist.to/easylist/easyprivacy.txt", name="ep")
    with pytest.raises(InputError, match="not a usable list name"):
        subscriptions.add_subscription("https://lists.example/x.txt", name="has space")
    with pytest.raises(InputError, match="built-in list's name"):
        subscriptions.add_subscription("https://lists.example/x.txt", name="Builtin")


def test_removing_by_name_or_url(tmp_path):
    mine = write_list(tmp_path / "mine.txt", "||tracker.test^")
    subscriptions.add_subscription(str(mine))

    assert subscriptions.remove_subscription("MINE").name == "mine"
    assert subscriptions.remove_subscription("https://easylist.to/easylist/easyprivacy.txt").name == "EasyPrivacy"

    assert [s.name for s in subscriptions.read_subscriptions()] == ["builtin", "uBO-Privacy"]
    assert mine.exists(), "a user's own file is never deleted"
    assert engine_cache.load_engine().match("https://tracker.test/p.gif").action == "allow"


def test_removing_an_unknown_list_names_the_subscribed_ones():
    with pytest.raises(NotFoundError, match=r"no subscribed list is named 'nope' \(subscribed: builtin, EasyPrivacy, uBO-Privacy\)"):
        subscriptions.remove_subscription("nope")


def test_the_builtin_list_can_be_turned_off_and_on(tmp_path):
    builtin_hits = engine_cache.open_engine().engine.lists["builtin"].filters_used
    assert builtin_hits > 0

    subscriptions.remove_subscription("builtin")
    assert "builtin" not in engine_cache.open_engine().engine.lists

    subscriptions.add_subscription("builtin")
    assert subscriptions.read_subscriptions()[0].name == "builtin"
    assert engine_cache.open_engine().engine.lists["builtin"].filters_used == builtin_hits
    with pytest.raises(InputError, match="already on"):
        subscriptions.add_subscription("builtin")


def test_a_vanished_local_list_is_skipped_with_a_warning(tmp_path):
    mine = write_list(tmp_path / "mine.txt", "||tracker.test^")
    subscriptions.add_subscription(str(mine))
    mine.unlink()

    loaded = engine_cache.open_engine()

    assert "mine" not in loaded.engine.lists
    assert any(str(mine) in w and "missing" in w for w in loaded.warnings)


def test_damaged_metadata_is_a_clear_error(whoknows_home):
    from whoknows.errors import WhoknowsError

    whoknows_home.mkdir(exist_ok=True)
    (whoknows_home / "lists.json").write_text("{not json")

    with pytest.raises(WhoknowsError, match="lists.json is damaged"):
        subscriptions.read_subscriptions()
