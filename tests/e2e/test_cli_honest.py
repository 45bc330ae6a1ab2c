"""Honest answers to operators: refusals instead of silent guesses, French tables that fit 80
columns, summaries that say what happened. Each test is named after the finding it settles."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from typer.testing import CliRunner

from adapters.cli import app as cli
from adapters.cli.formatting import NNBSP

RUNNER = CliRunner()
S = NNBSP
ISO_DATE = re.compile(r"\b\d{4}-\d{2}-\d{2}\b")

SIGN = [
    "sign", "--number", "C-2025-001", "--cpam", "281", "--rpps", "10000000009", "--name", "Martin",
    "--specialty", "general_practice", "--sector", "1", "--option", "FULL", "--percentile", "50",
    "--patients", "1000", "--target", "1200", "--signed", "2025-02-01", "--effective", "2025-03-01",
]  # fmt: skip


@pytest.fixture
def cli_env(tmp_path: Path) -> dict[str, str]:
    # Facts up to 2029 are recorded: the application's today must not be before them.
    return {"CONVENTIONS_DATA_DIR": str(tmp_path / "data"), "CONVENTIONS_TODAY": "2029-06-30", "COLUMNS": "80"}


@pytest.fixture
def run(cli_env: dict[str, str]):  # noqa: ANN201
    def invoke(*args: str, code: int = 0) -> str:
        result = RUNNER.invoke(cli, list(args), env=cli_env)
        assert result.exit_code == code, (args, result.stdout, result.stderr)
        return result.stdout if code == 0 else result.stderr

    return invoke


@pytest.fixture
def convention(run) -> str:  # noqa: ANN001
    """A convention with a paid year, a suspension, a reactivation and a termination."""
    cid = run(*SIGN).strip()
    run("hire", cid, "--date", "2025-03-01", "--fte", "1", "--profile", "nurse")
    run("tick", "--today", "2026-04-30")
    run("pay", cid, "--instalment", "y1-full", "--date", "2025-03-20", "--reference", "VIR-1")
    run("suspend", cid, "--from", "2026-05-01", "--ground", "long_absence", "--agreement-date", "2026-05-03")
    run("reactivate", cid, "--from", "2026-09-01")
    run("terminate", cid, "--date", "2027-01-01", "--by", "cpam", "--ground", "déménagement")
    return cid


def fits_80_columns(out: str) -> None:
    assert "…" not in out, out  # nothing cut
    assert max(len(line) for line in out.splitlines()) <= 80, out


# ---------------------------------------------------------------- show --as-of with --version


def test_show_refuses_as_of_together_with_version(run, convention: str) -> None:  # noqa: ANN001
    """It used to answer at the version and ignore the date, silently; the API refuses it too."""
    err = run("show", convention, "--as-of", "2026-06-01", "--version", "3", code=2)
    assert "error[as_of_or_version]" in err and "--as-of" in err and "--version" in err
    assert json.loads(run("show", convention, "--version", "1", "--json"))["version"] == 1
    assert json.loads(run("show", convention, "--as-of", "2026-06-01", "--json"))["status"] == "suspended"


# ---------------------------------------------------------------- estimate


def test_estimate_accepts_an_attainment_above_one_and_says_it_is_capped(run) -> None:  # noqa: ANN001
    args = ["estimate", "--option", "FULL", "--tier", "BASE", "--effective", "2025-03-01", "--years", "3"]
    capped = json.loads(run(*args, "--attainment", "1.3", "--json"))
    assert capped["attainment"] == {"value": "1.00", "given": "1.30", "capped": True, "patients": None}
    assert [y["amount"] for y in capped["years"]] == ["38000.00", "28000.00", "22000.00"]
    out = run(*args, "--attainment", "1.3")
    assert "plafonnée à 100" in out and f"22{S}000,00{S}€" in out


def test_estimate_computes_attainment_from_patient_counts(run) -> None:  # noqa: ANN001
    """Like ameli's simulator: initial, target and observed patients; R5 computes 40 %."""
    args = ["estimate", "--option", "FULL", "--tier", "BASE", "--effective", "2025-03-01", "--years", "3"]
    out = json.loads(run(*args, "--patients", "1000", "--target", "1200", "--observed", "1080", "--json"))
    assert out["attainment"]["value"] == "0.40" and out["attainment"]["capped"] is False
    assert out["attainment"]["patients"] == {"initial": 1000, "target": 1200, "observed": 1080}
    assert out["years"][2]["amount"] == "8800.00"
    assert out["years"] == json.loads(run(*args, "--attainment", "0.4", "--json"))["years"]
    maintain = json.loads(run(*args, "--patients", "1000", "--target", "1000", "--observed", "800", "--json"))
    assert maintain["attainment"]["value"] == "0.80" and maintain["years"][2]["amount"] == "17600.00"
    table = run(*args, "--patients", "1000", "--target", "1200", "--observed", "1080")
    assert f"40{S}%" in table and f"8{S}800,00{S}€" in table and "01/03/2027" in table
    fits_80_columns(table)


def test_estimate_refuses_attainment_and_patient_counts_together(run) -> None:  # noqa: ANN001
    args = ["estimate", "--option", "FULL", "--tier", "BASE", "--effective", "2025-03-01"]
    err = run(*args, "--attainment", "0.5", "--patients", "1000", "--target", "1200", "--observed", "1100", code=1)
    assert "error[attainment_or_counts]" in err
    assert "error[incomplete_counts]" in run(*args, "--patients", "1000", "--target", "1200", code=1)


# ---------------------------------------------------------------- tables at 80 columns


def test_show_table_is_french_and_fits_80_columns(run, convention: str) -> None:  # noqa: ANN001
    out = run("show", convention)
    fits_80_columns(out)
    assert "C-2025-001" in out and "10000000009" in out and "résilié" in out
    assert f"38{S}000,00{S}€" in out and "01/03/2025" in out and "intégral" in out
    assert "payé le" in out and "20/03/2025" in out  # y1-full paid on 2025-03-20
    assert "total" in out and "Réglé" in out
    assert not ISO_DATE.search(out), out
    assert "terminated" not in out and "paid" not in out


def test_history_table_names_events_in_french_and_fits_80_columns(run, convention: str) -> None:  # noqa: ANN001
    out = run("history", convention)
    fits_80_columns(out)
    for word in ("signature", "embauche", "paiement", "suspension", "réactivation", "résiliation"):
        assert word in out, word
    assert "Signed" not in out and "PaymentRecorded" not in out
    assert "01/03/2025" in out and not ISO_DATE.search(out)
    history = json.loads(run("history", convention, "--json"))  # machines keep the codes and ISO dates
    assert history[0]["type"] == "Signed" and history[0]["effective_date"] == "2025-02-01"
