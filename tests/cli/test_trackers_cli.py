"""`whoknows trackers` and `check`'s explanation of a learned tracker (CliRunner, a real ledger)."""

import json
import os
import stat

from cli_runner import ok, printed, run
from whoknows.ledger import open_ledger
from whoknows.observations import CookieSeen, Flusher, Observations


def learn(third_party: str = "cdn.test", pages=("a.test", "b.test", "c.test")) -> None:
    observations = Observations()
    for page in pages:
        observations.cookie(page, CookieSeen("uid", third_party, True, 3600, None, True, False, "block"))
    assert Flusher(observations, open_ledger).flush()


def test_the_listing_names_the_sites_and_evidence_and_check_explains_the_block():
    assert "none" in printed("trackers")
    learn()
    listing = printed("trackers")
    assert "cdn.test" in listing and "a.test, b.test, c.test" in listing and "blocked" in listing
    [row] = json.loads(printed("trackers", "--json"))
    assert (row["domain"], row["state"], row["sites"], row["evidence"]) == (
        "cdn.test", "learned", ["a.test", "b.test", "c.test"], ["cookie"])
    result = json.loads(printed("check", "https://js.cdn.test/t.js", "--from", "d.test", "--type", "script", "--json"))
    assert result["decision"] == "block" and result["list"] == "whoknows"
    assert {"part": "filter", "action": "block",
            "reason": "learned: seen tracking on a.test, b.test, c.test"} in result["parts"]
    text = printed("check", "https://js.cdn.test/t.js", "--from", "d.test", "--type", "script")
    assert text.startswith("block  https://js.cdn.test/t.js")
    assert "learned: seen tracking on a.test, b.test, c.test" in text
    own = json.loads(printed("check", "https://cdn.test/", "--type", "document", "--json"))
    assert own["verdict"] == "pass"


def test_allow_then_forget_and_check_follows():
    learn()
    assert printed("trackers", "allow", "cdn.test").startswith("Let in: cdn.test")
    assert printed("trackers", "allow", "cdn.test").startswith("Already let in")
    result = json.loads(printed("check", "https://js.cdn.test/t.js", "--from", "d.test", "--type", "script", "--json"))
    assert result["verdict"] == "pass"
    parts = {part["part"]: part for part in result["parts"]}
    assert "let in by you" in parts["filter"]["reason"] and parts["cookies"]["action"] == "block"
    assert json.loads(printed("trackers", "--json"))[0]["state"] == "allowed"
    assert printed("trackers", "forget", "cdn.test") == "Forgotten: cdn.test (was allowed, seen tracking on a.test, b.test, c.test)\n"
    assert json.loads(printed("trackers", "--json")) == []
    assert json.loads(printed("trackers", "--all", "--json"))[0]["state"] == "forgotten"


def test_export_writes_json_or_a_filter_list_to_a_private_file(tmp_path):
    learn()
    learn("ok.test")
    ok("trackers", "allow", "ok.test")
    exported = json.loads(printed("trackers", "export"))
    assert [row["domain"] for row in exported] == ["cdn.test", "ok.test"]
    target = tmp_path / "learned.txt"
    result = ok("trackers", "export", "-o", str(target), "--format", "abp")
    assert result.stderr == f"Wrote 1 learned trackers to {target}\n"
    lines = target.read_text().splitlines()
    assert lines[0] == "[Adblock Plus 2.0]" and lines[-1] == "||cdn.test^$third-party" and "||ok.test" not in target.read_text()
    assert stat.S_IMODE(os.stat(target).st_mode) == 0o600


def test_bad_domains_and_forgetting_what_was_never_learned_are_one_line_errors():
    result = run("trackers", "forget", "nothing.test")
    assert result.exit_code != 0 and result.stderr.count("\n") == 1
    assert "nothing.test is not a learned tracker" in result.stderr
    result = run("trackers", "allow", "not a domain")
    assert result.exit_code != 0 and result.stderr.count("\n") == 1


def test_learned_trackers_travel_in_export_and_import(tmp_path):
    learn()
    ok("trackers", "allow", "cdn.test")
    backup = tmp_path / "ledger.json"
    ok("export", "-o", str(backup))
    document = json.loads(backup.read_text())
    assert document["learned_trackers"][0]["sites"] == ["a.test", "b.test", "c.test"]
    with open_ledger() as ledger:
        with ledger.write() as db:
            db.execute("DELETE FROM learned_trackers")
    ok("import", str(backup))
    [row] = json.loads(printed("trackers", "--json"))
    assert (row["domain"], row["state"]) == ("cdn.test", "allowed")
