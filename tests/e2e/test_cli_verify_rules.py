"""`conventions verify --rules`: a store written before the date rules (R21) still loads, and the
check names the convention and what breaks the rules."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path

from typer.testing import CliRunner

from adapters.cli import app as cli
from adapters.composition import build_app
from adapters.settings import Settings
from domain.convention import CommandMeta
from tests.unit.test_convention import sign
from tests.unit.test_trust_first import poisoned

RUNNER = CliRunner()
META = CommandMeta(actor="operateur.test", reason="test")


def test_verify_rules_names_a_convention_written_before_the_date_rules(tmp_path: Path) -> None:
    settings = Settings(store="sqlite", data_dir=tmp_path / "data")
    app = build_app(settings, clock=lambda: date(2026, 11, 30))
    sign(app, META, number="C-OK", rpps="10000000017")
    env = {"CONVENTIONS_DATA_DIR": str(settings.data_dir)}
    clean = RUNNER.invoke(cli, ["verify", "--rules"], env=env)
    assert clean.exit_code == 0 and "conformes" in clean.stdout
    bad = poisoned(app, META)  # number C-1
    out = RUNNER.invoke(cli, ["verify", "--rules", "--json"], env=env)
    assert out.exit_code == 1
    findings = json.loads(out.stdout)["findings"]
    assert {(f["number"], f["id"], f["code"]) for f in findings} == {
        ("C-1", str(bad), "date_before_effective"),
        ("C-1", str(bad), "unprocessable:option_not_offered"),
    }
    text = RUNNER.invoke(cli, ["verify", "--rules"], env=env)
    assert text.exit_code == 1 and "C-1" in text.stdout and "C-OK" not in text.stdout
    assert json.loads(RUNNER.invoke(cli, ["show", str(bad), "--json"], env=env).stdout)["number"] == "C-1"


def test_a_plain_verify_runs_the_whole_audit(tmp_path: Path) -> None:
    env = {"CONVENTIONS_DATA_DIR": str(tmp_path / "data")}
    whole = RUNNER.invoke(cli, ["verify", "--json", "--workers", "1"], env=env)
    assert whole.exit_code == 0 and json.loads(whole.stdout)["parts"] == ["books", "chain", "rules", "projections"]
    two = RUNNER.invoke(cli, ["verify", "--rules", "--projections", "--json", "--workers", "1"], env=env)
    assert two.exit_code == 0 and json.loads(two.stdout)["parts"] == ["rules", "projections"]
