"""``conventions replay`` end to end on a SQLite data directory: the report, its JSON shape, the CPAM
scope, refusals (exit 2, nothing computed) and that nothing is written (log head, read models)."""

from __future__ import annotations

import json
import re
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from adapters.cli import app as cli
from adapters.composition import build_app, build_projections
from adapters.settings import Settings
from tests.integration.test_projection_models import build_portfolio

TODAY = "2026-06-30"
MONEY = re.compile(r"^-?\d+\.\d\d$")


@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    settings = Settings(store="sqlite", data_dir=tmp_path / "data")
    build_portfolio(build_app(settings, clock=lambda: date(2026, 6, 30)))  # year 3 of "full" at 25 %
    return settings.data_dir


def run(data_dir: Path, *args: str) -> Any:
    return CliRunner().invoke(cli, ["replay", "--data-dir", str(data_dir), *args], env={"CONVENTIONS_TODAY": TODAY})


def replayed(data_dir: Path, *args: str) -> dict[str, Any]:
    result = run(data_dir, *args, "--json")
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def test_the_json_report_per_cpam_and_year_with_amounts_to_the_cent(data_dir: Path) -> None:
    report = replayed(data_dir, "--policy", "modulation=steps", "--workers", "1")
    assert report["today"] == TODAY and report["policies"] == {"modulation": "steps"} and report["scope"] is None
    assert report["conventions"] == {"total": 6, "replayed": 1, "changed": 1, "unreplayable": 0}
    assert report["unreplayable"] == []
    assert {r["cpam_code"] for r in report["years"]} == {"130", "281", "751"}
    for row in report["years"]:
        assert set(row) == {"cpam_code", "year", "actual", "replayed", "difference"}
        for side in ("actual", "replayed", "difference"):
            assert set(row[side]) == {"due", "to_recover", "paid", "recovered"}
            assert all(MONEY.match(v) for v in row[side].values()), row
        assert Decimal(row["replayed"]["due"]) - Decimal(row["actual"]["due"]) == Decimal(row["difference"]["due"])
        assert row["actual"]["paid"] == row["replayed"]["paid"]  # what was paid stays what was paid
    # "full" (CPAM 281): year 3 at 25 % (1 050 of 1 000 -> 1 200, R5): proportional 5 500 due, steps nothing
    # (below the 50 % step, R4): the balance goes from -5 500 to -11 000 (R6), to recover in 2026
    row_2026 = next(r for r in report["years"] if (r["cpam_code"], r["year"]) == ("281", 2026))
    assert Decimal(row_2026["difference"]["to_recover"]) == Decimal("5500.00")
    assert report["totals"]["difference"]["to_recover"] == "5500.00"
    assert [c["cpam_code"] for c in report["cpams"]] == ["130", "281", "751"]


def test_two_workers_give_the_figures_of_one(data_dir: Path) -> None:
    one = replayed(data_dir, "--policy", "pause_clock=off", "--workers", "1")
    two = replayed(data_dir, "--policy", "pause_clock=off", "--workers", "2")
    assert {k: v for k, v in one.items() if k != "seconds"} == {k: v for k, v in two.items() if k != "seconds"}


def test_the_cpam_scope(data_dir: Path) -> None:
    report = replayed(data_dir, "--policy", "modulation=steps", "--cpam", "751")
    assert report["scope"] == ["751"] and report["conventions"]["total"] == 2
    assert {r["cpam_code"] for r in report["years"]} == {"751"}


def test_nothing_is_written(data_dir: Path) -> None:
    settings = Settings(store="sqlite", data_dir=data_dir)
    runner = build_projections(settings)
    runner.catch_up()
    positions, head = runner.positions(), build_app(settings).head()
    files = {p.name: p.read_bytes() for p in data_dir.iterdir() if p.suffix == ".sqlite"}
    report = replayed(data_dir, "--policy", "modulation=steps", "--policy", "pause_clock=off")
    assert report["head"] == head and report["conventions"]["changed"] >= 1
    assert build_app(settings).head() == head
    assert build_projections(settings).positions() == positions
    assert {p.name: p.read_bytes() for p in data_dir.iterdir() if p.suffix == ".sqlite"} == files


@pytest.mark.parametrize(
    ("args", "code"),
    [
        ([], "policy_required"),
        (["--policy", "colour=blue"], "unknown_policy"),
        (["--policy", "modulation=cubic"], "invalid_policy"),
        (["--policy", "pause_clock=peut-être"], "invalid_policy"),
        (["--policy", "modulation=steps", "--policy", "modulation=steps"], "duplicate_policy"),
        (["--policy", "modulation=steps", "--cpam", "28"], "invalid_cpam"),
    ],
)
def test_a_bad_policy_exits_2_and_computes_nothing(data_dir: Path, args: list[str], code: str) -> None:
    result = run(data_dir, *args)
    assert result.exit_code == 2, result.output
    assert result.stderr.startswith(f"error[{code}]: ") and result.stdout == ""


def test_the_table_for_people(data_dir: Path) -> None:
    result = run(data_dir, "--policy", "modulation=steps", "--workers", "1")
    assert result.exit_code == 0, result.output
    assert "Impact de modulation=steps au 30/06/2026" in result.stdout
    assert "6 conventions ; 1 rejouées" in result.stdout and "+5 500,00 €" in result.stdout.replace("\u202f", " ")
