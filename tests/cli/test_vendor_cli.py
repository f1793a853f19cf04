"""`whoknows vendor add|list|show|forget` through the real command group."""

import json
import os
import pty
import select
import subprocess
import sys
from pathlib import Path

import pytest

from cli_runner import ok, run
from whoknows.ledger import json_text, open_ledger


def _observe(domain, kind, subject, count, detail=None):
    with open_ledger() as ledger:
        vendor_id = ledger.vendor_id(domain, create=True)
        with ledger.write() as db:
            db.execute(
                "INSERT INTO observations (vendor_id, kind, subject, detail, count, first_seen, last_seen) "
                "VALUES (?, ?, ?, ?, ?, '2024-01-01T00:00:00Z', '2024-01-02T00:00:00Z')",
                (vendor_id, kind, subject, json_text(detail), count))


def _alias(domain, address, state="active"):
    # What the alias module does: a row in the aliases table. `vendor show` reads the table itself.
    with open_ledger() as ledger:
        vendor_id = ledger.vendor_id(domain, create=True)
        with ledger.write() as db:
            db.execute("INSERT INTO aliases (vendor_id, address, created_at, state) VALUES "
                       "(?, ?, '2024-01-01T00:00:00Z', ?)", (vendor_id, address, state))


def test_add_takes_a_url_host_or_domain_and_names_the_vendor_by_its_domain():
    assert ok("vendor", "add", "https://www.shop.example/cart?x=1").stdout == "added shop.example\n"
    assert ok("vendor", "add", "login.shop.example").stdout == "updated shop.example\n"
    assert [v["vendor"] for v in json.loads(ok("vendor", "list", "--json").stdout)] == ["shop.example"]


def test_add_shows_the_company_directory_and_the_users_overrides_win():
    result = ok("vendor", "add", "zalando.de", "--company", "Zalando (mine)", "--name", "Z")
    assert result.stdout == "added zalando.de (Zalando (mine), datenschutz@zalando.de)\n"
    shown = json.loads(ok("vendor", "show", "zalando.de", "--json").stdout)
    assert shown["name"] == "Z"
    assert shown["company"]["name"] == "Zalando (mine)"
    assert shown["company"]["sources"]["name"] == "you"
    assert "Berlin" in shown["company"]["address"]


@pytest.mark.parametrize("text, message", [
    ("127.0.0.1", "127.0.0.1 is an IP address; a vendor is named by its domain"),
    ("http://[::1]:8080/", "::1 is an IP address; a vendor is named by its domain"),
    ("localhost", "localhost is this machine, not a vendor"),
    ("co.uk", "co.uk is a public suffix or a bare top-level name, not a vendor's domain"),
])
def test_add_rejects_what_is_not_a_vendor_with_exit_2(text, message):
    result = run("vendor", "add", text)
    assert result.exit_code == 2
    assert result.stderr == f"whoknows: error: {message}\n"
    with open_ledger() as ledger:
        assert ledger.query("SELECT count(*) FROM vendors")[0][0] == 0


def test_list_shows_counts_per_vendor():
    ok("tell", "b.example", "name=Ana", "phone=+34600111222")
    _alias("b.example", "me+b@mail.example")
    _observe("b.example", "third-party", "tracker.example", 3)
    ok("vendor", "add", "a.example", "--name", "Shop A")
    rows = json.loads(ok("vendor", "list", "--json").stdout)
    assert [(r["vendor"], r["name"], r["aliases"], r["disclosures"], r["third_parties"]) for r in rows] == [
        ("a.example", "Shop A", 0, 0, 0), ("b.example", None, 1, 2, 1)]
    table = ok("vendor", "list").stdout
    assert "a.example" in table and "Shop A" in table and "third parties" in table


def test_list_of_an_empty_ledger():
    assert ok("vendor", "list").stdout == "(vendors: none)\n"
    assert json.loads(ok("vendor", "list", "--json").stdout) == []


def test_a_long_list_shows_a_page_and_says_how_to_see_all():
    with open_ledger() as ledger, ledger.write() as db:
        db.executemany("INSERT INTO vendors (domain, created_at) VALUES (?, '2024-01-01T00:00:00Z')",
                       [(f"v{n:03}.example",) for n in range(130)])
    result = ok("vendor", "list")
    assert "v049.example" in result.stdout and "v050.example" not in result.stdout
    assert result.stderr == "50 of 130 vendors shown; --limit 0 shows all, --offset N skips\n"
    assert "v129.example" in ok("vendor", "list", "--limit", "0").stdout
    assert len(json.loads(ok("vendor", "list", "--json").stdout)) == 130
    page = json.loads(ok("vendor", "list", "--json", "--limit", "5", "--offset", "125").stdout)
    assert [r["vendor"] for r in page] == [f"v{n}.example" for n in range(125, 130)]


def test_show_is_the_whole_record():
    ok("vendor", "add", "zalando.de", "--privacy-contact", "me-only@zalando.de")
    ok("tell", "zalando.de", "phone=+34 600 111 222", "address=Calle Mayor 1, Madrid")
    with open_ledger() as ledger:
        from whoknows.disclosures import record_disclosures
        record_disclosures(ledger, "zalando.de", [("email", "ana@example.com")], source="form",
                           evidence={"url": "https://zalando.de/signup", "field": "email"})
    _alias("zalando.de", "me+zalando.de.abc@mail.example")
    _alias("zalando.de", "me+old@mail.example", state="retired")
    ok("prefs", "zalando.de", "--no-marketing", "--channel", "post")
    for n in range(13):
        _observe("zalando.de", "third-party", f"t{n:02}.example", 100 - n, {"blocked": 100 - n})
    _observe("zalando.de", "cookie", "_ga", 4)
    out = ok("vendor", "show", "zalando.de").stdout
    for expected in (
        "zalando.de", "Zalando SE  [directory]", "me-only@zalando.de  [your entry]", "Berlin",
        "me+zalando.de.abc@mail.example", "me+old@mail.example", "retired",
        "Calle Mayor 1, Madrid", "url=https://zalando.de/signup, field=email", "form",
        "preferences: marketing: no; channels: post",
        "third parties: 13 distinct", "t00.example", "... and 3 more (--json lists all)",
        "cookies: 1 distinct, seen 4 times", "tracking parameters: none seen",
    ):
        assert expected in out, expected
    assert "t12.example" not in out  # the 13th most frequent is summarised away
    record = json.loads(ok("vendor", "show", "zalando.de", "--json").stdout)
    assert len(record["observations"]["third_parties"]["top"]) == 13
    assert {a["address"] for a in record["aliases"]} == {"me+zalando.de.abc@mail.example", "me+old@mail.example"}


def test_a_sales_contact_is_recorded_changed_shown_and_cleared_and_the_directory_never_supplies_one():
    added = ok("vendor", "add", "zalando.de", "--sales-contact", "mailto:service@zalando.de")
    assert added.stdout == "added zalando.de (Zalando SE, datenschutz@zalando.de, sales service@zalando.de)\n"
    shown = ok("vendor", "show", "zalando.de").stdout
    assert "  privacy contact: datenschutz@zalando.de  [directory]\n" in shown
    assert "  sales contact: service@zalando.de  [your entry]\n" in shown
    company = json.loads(ok("vendor", "show", "zalando.de", "--json").stdout)["company"]
    assert (company["sales_contact"], company["sources"]["sales_contact"]) == ("service@zalando.de", "you")
    assert company["privacy_contact"] == "datenschutz@zalando.de"  # the two are kept apart

    # an existing vendor: `vendor add` again changes it and leaves the rest as it was
    ok("vendor", "add", "zalando.de", "--name", "Z")
    assert json.loads(ok("vendor", "show", "zalando.de", "--json").stdout)["company"]["sales_contact"] == (
        "service@zalando.de")
    changed = json.loads(ok("vendor", "add", "zalando.de", "--sales-contact", "kunden@zalando.de", "--json").stdout)
    assert (changed["new"], changed["company"]["sales_contact"]) == (False, "kunden@zalando.de")

    ok("vendor", "add", "zalando.de", "--sales-contact", "")  # '' clears it, as for every override
    record = json.loads(ok("vendor", "show", "zalando.de", "--json").stdout)
    assert record["company"]["sales_contact"] is None and "sales_contact" not in record["company"]["sources"]
    assert record["name"] == "Z"
    assert ("  sales contact: none recorded ('whoknows vendor add zalando.de --sales-contact ADDRESS' "
            "for 'whoknows intent new')\n") in ok("vendor", "show", "zalando.de").stdout


def test_a_sales_contact_that_is_not_an_email_address_is_one_line_and_changes_nothing():
    ok("vendor", "add", "shop.example", "--sales-contact", "sales@shop.example")
    result = run("vendor", "add", "shop.example", "--sales-contact", "call us", "--name", "Shop")
    assert result.exit_code == 2
    assert result.stderr == "whoknows: error: 'call us' is not an email address (--sales-contact)\n"
    record = json.loads(ok("vendor", "show", "shop.example", "--json").stdout)
    assert (record["name"], record["company"]["sales_contact"]) == (None, "sales@shop.example")
    assert run("vendor", "add", "new.example", "--sales-contact", "nope").exit_code == 2
    assert [v["vendor"] for v in json.loads(ok("vendor", "list", "--json").stdout)] == ["shop.example"]


def test_show_names_the_company_and_category_of_each_third_party():
    ok("vendor", "add", "shop.example")
    _observe("shop.example", "third-party", "google-analytics.com", 5, {"blocked": 5, "owner": "Google"})
    _observe("shop.example", "third-party", "facebook.net", 2, {"blocked": 2, "owner": "Meta"})  # an older name
    _observe("shop.example", "third-party", "cdn.test", 1, {"allowed": 1})
    record = json.loads(ok("vendor", "show", "shop.example", "--json").stdout)
    assert [(t["subject"], t["company"], t["category"]) for t in record["observations"]["third_parties"]["top"]] == [
        ("google-analytics.com", "Google", "site_analytics"),
        ("facebook.net", "Meta Platforms", "advertising"),
        ("cdn.test", None, None)]
    out = ok("vendor", "show", "shop.example").stdout
    assert "Google (site_analytics)" in out and "Meta Platforms (advertising)" in out


def test_show_of_a_site_a_tracker_company_owns_says_so():
    ok("vendor", "add", "www.youtube.com")
    record = json.loads(ok("vendor", "show", "youtube.com", "--json").stdout)
    company = record["company"]
    assert (company["owner"], company["name"], company["privacy_contact"]) == (
        "Google", "Google", "data-access-requests@google.com")
    assert company["sources"] == {"name": "tracker data", "privacy_contact": "tracker data"}
    out = ok("vendor", "show", "youtube.com").stdout
    assert "company: Google  [tracker data]" in out and "owned by: Google" in out
    # What the user says still wins over the data.
    ok("vendor", "add", "youtube.com", "--company", "Google Ireland Limited")
    company = json.loads(ok("vendor", "show", "youtube.com", "--json").stdout)["company"]
    assert (company["name"], company["owner"], company["sources"]["name"]) == ("Google Ireland Limited", "Google", "you")


def test_show_has_the_mail_leak_evidence_that_knows_alias_has(tmp_path):
    alias = "me+shop.example.abc@mail.example"
    _alias("shop.example", alias)
    assert "mail to its aliases: none scanned" in ok("vendor", "show", "shop.example").stdout
    for n, sender in enumerate(("orders@shop.example", "win@spam.example")):
        (tmp_path / f"{n}.eml").write_bytes(
            f"From: {sender}\nTo: {alias}\nDate: Sat, 09 Mar 2024 08:00:00 +0000\nMessage-ID: <{n}@x>\n\nx\n".encode())
    ok("mail", "scan", str(tmp_path / "0.eml"), str(tmp_path / "1.eml"))
    [holder] = [h for h in json.loads(ok("knows", "alias", alias, "--json").stdout) if h["source"] == "mail"]
    assert holder["vendor"] == "spam.example"
    out = ok("vendor", "show", "shop.example").stdout
    assert f"mail to {alias}: 2 messages, 1 from it, 1 from others" in out
    assert (f"it shared or leaked this alias: mail from spam.example since 2024-03-09 "
            f"('whoknows knows alias {alias}')") in out
    [mail] = json.loads(ok("vendor", "show", "shop.example", "--json").stdout)["alias_mail"]
    assert (mail["alias"], mail["foreign_senders"], mail["first_foreign"]) == (
        alias, ["spam.example"], "2024-03-09T08:00:00Z")


@pytest.mark.parametrize("command", [["vendor", "show"], ["vendor", "forget", "--yes"]])
def test_an_unknown_vendor_is_exit_1_in_one_line(command):
    result = run(*command, "example.com")
    assert result.exit_code == 1
    assert result.stderr == "whoknows: error: no vendor example.com in the ledger\n"
    assert result.stdout == ""


def test_forget_with_yes_removes_the_vendor_and_everything_linked():
    ok("tell", "shop.example", "name=Ana", "phone=+34600111222")
    ok("tell", "keep.example", "name=Ana")
    _alias("shop.example", "me+shop@mail.example")
    _observe("shop.example", "cookie", "sid", 1)
    ok("prefs", "shop.example", "--no-marketing")
    from whoknows.company_sightings import CompanySightings, write_batch

    sightings = CompanySightings(clock=lambda: 1_780_000_000.0)
    sightings.request("shop.example", "www.google-analytics.com", blocked=False)
    sightings.request("shop.example", "connect.facebook.net", blocked=True)
    with open_ledger() as ledger:
        write_batch(ledger, sightings.take())
    result = ok("vendor", "forget", "https://shop.example/", "--yes")
    assert result.stdout == (
        "forgot shop.example and 1 alias, 2 disclosures, 1 preferences, 1 observation, 2 company sightings\n")
    with open_ledger() as ledger:
        assert [r[0] for r in ledger.query("SELECT domain FROM vendors")] == ["keep.example"]
        for table in ("aliases", "preferences", "observations", "company_sightings"):
            assert ledger.query(f"SELECT count(*) FROM {table}")[0][0] == 0
        assert ledger.query("SELECT count(*) FROM disclosures")[0][0] == 1


def test_forget_without_yes_and_without_a_terminal_refuses_and_keeps_everything():
    ok("tell", "shop.example", "name=Ana")
    result = run("vendor", "forget", "shop.example", input="y\n")
    assert result.exit_code == 2
    assert result.stderr == ("whoknows: error: forgetting shop.example needs confirmation and there is "
                             "no terminal to ask: pass --yes\n")
    with open_ledger() as ledger:
        assert ledger.query("SELECT count(*) FROM disclosures")[0][0] == 1


def _forget_on_a_terminal(answer: bytes) -> tuple[int, str]:
    """Run `whoknows vendor forget` as a real process on a pseudo-terminal and answer its question."""
    master, slave = pty.openpty()
    proc = subprocess.Popen([str(Path(sys.executable).with_name("whoknows")), "vendor", "forget", "shop.example"],
                            stdin=slave, stdout=slave, stderr=slave, close_fds=True)
    os.close(slave)
    output = b""
    try:
        while b"[y/N]" not in output:
            ready, _, _ = select.select([master], [], [], 30)
            assert ready, f"no prompt; got {output!r}"
            output += os.read(master, 1024)
        os.write(master, answer)
        while True:
            ready, _, _ = select.select([master], [], [], 30)
            if not ready:
                break
            try:
                chunk = os.read(master, 1024)
            except OSError:  # the process exited and closed the terminal
                break
            if not chunk:
                break
            output += chunk
        return proc.wait(timeout=30), output.decode()
    finally:
        os.close(master)
        if proc.poll() is None:
            proc.kill()
            proc.wait()


@pytest.mark.parametrize("answer, code, kept", [(b"y\n", 0, 0), (b"n\n", 1, 1)])
def test_forget_asks_on_a_terminal(answer, code, kept):
    ok("tell", "shop.example", "name=Ana")
    returncode, output = _forget_on_a_terminal(answer)
    assert "Forget shop.example and 1 disclosure? [y/N]" in output
    assert returncode == code, output
    if code:
        assert "whoknows: error: aborted" in output
    with open_ledger() as ledger:
        assert ledger.query("SELECT count(*) FROM vendors")[0][0] == kept


def _learn(tracker: str, pages=("a.example", "b.example", "c.example")):
    """What the proxy records when `tracker` sets cookies as a third party on three sites, and the
    learning it does after a flush (`learned_trackers.relearn`)."""
    from whoknows.learned_trackers import relearn

    for page in pages:
        _observe(page, "cookie", f"wid@{tracker}", 1, {"name": "wid", "site": tracker, "third_party": True})
    with open_ledger() as ledger:
        assert relearn(ledger) == [tracker]


def test_show_says_a_vendor_is_a_learned_tracker_and_which_third_parties_are():
    _learn("widgets.example")
    _observe("shop.example", "third-party", "widgets.example", 2, {"blocked": 2, "blocked_by": "whoknows"})
    _observe("shop.example", "third-party", "cname-cdn.example", 1,
             {"blocked": 1, "blocked_by": "easylist", "cloaked_behind": "metrics.shop.example"})
    _observe("shop.example", "third-party", "cdn.example", 1, {"allowed": 1})
    # Not a vendor of yours (only a third party on their pages): the error says what whoknows knows.
    result = run("vendor", "show", "widgets.example")
    assert result.exit_code == 1 and result.stderr.count("\n") == 1
    assert "is a learned tracker, seen tracking on a.example, b.example, c.example" in result.stderr
    ok("vendor", "add", "widgets.example")
    record = json.loads(ok("vendor", "show", "widgets.example", "--json").stdout)
    assert (record["learned_tracker"]["state"], record["learned_tracker"]["sites"]) == (
        "learned", ["a.example", "b.example", "c.example"])
    out = ok("vendor", "show", "widgets.example").stdout
    assert "learned tracker, seen tracking on a.example, b.example, c.example: blocked on every site but its own" in out

    shop = json.loads(ok("vendor", "show", "shop.example", "--json").stdout)
    assert shop["learned_tracker"] is None
    parties = {t["subject"]: t for t in shop["observations"]["third_parties"]["top"]}
    assert parties["widgets.example"]["learned"] == {"state": "learned", "sites": ["a.example", "b.example", "c.example"]}
    assert parties["cdn.example"]["learned"] is None
    rows = {cells[1].strip(): cells[4] for cells in (line.split("│") for line in
                                                     ok("vendor", "show", "shop.example").stdout.splitlines())
            if len(cells) > 5}
    assert "learned tracker" in rows["widgets.example"] and "blocked by whoknows" in rows["widgets.example"]
    assert "behind metrics.shop.example (CNAME)" in rows["cname-cdn.example"]
    assert "learned" not in rows["cdn.example"]

    ok("trackers", "allow", "widgets.example")
    out = ok("vendor", "show", "widgets.example").stdout
    assert "let in by you ('whoknows trackers allow'), without cookies or Referer" in out
    assert "learned tracker, let in by you" in ok("vendor", "show", "shop.example").stdout
    ok("trackers", "forget", "widgets.example")
    assert json.loads(ok("vendor", "show", "widgets.example", "--json").stdout)["learned_tracker"] is None
