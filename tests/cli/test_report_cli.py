"""`whoknows report`: where it writes, with what mode, and what --json says."""

import json
import stat

import pytest
from click.testing import CliRunner

from cli.main import cli
from whoknows.company_sightings import CompanySightings, write_batch
from whoknows.ledger import open_ledger
from whoknows.report import default_path


@pytest.fixture
def ledger(whoknows_home):
    sightings = CompanySightings()
    sightings.request("shop.example", "www.google-analytics.com", blocked=False)
    sightings.request("shop.example", "connect.facebook.net", blocked=True)
    sightings.request("news.example", "www.google-analytics.com", blocked=True)
    with open_ledger() as opened:
        write_batch(opened, sightings.take())


def test_report_command_writes_0600_to_the_data_directory_by_default(ledger, tmp_path):
    runner = CliRunner()
    done = runner.invoke(cli, ["report"])
    assert done.exit_code == 0, done.output
    assert f"wrote {default_path()}" in done.stdout
    assert stat.S_IMODE(default_path().stat().st_mode) == 0o600
    out = tmp_path / "who.html"
    done = runner.invoke(cli, ["report", "--out", str(out), "--json"])
    assert done.exit_code == 0, done.output
    assert json.loads(done.stdout) == {"path": str(out), "companies": 2, "sites": 2, "drawn": {"nodes": 4, "edges": 3}}
    assert stat.S_IMODE(out.stat().st_mode) == 0o600
    refused = runner.invoke(cli, ["report", "--out", str(tmp_path)])
    assert refused.exit_code == 2 and "is a directory" in refused.stderr
