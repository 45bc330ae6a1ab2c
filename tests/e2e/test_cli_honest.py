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
from tests.helpers import cli_invoker

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
    return cli_invoker(cli_env)


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


# ---------------------------------------------------------------- list


def test_list_refuses_an_unknown_status_instead_of_listing_nothing(run, convention: str) -> None:  # noqa: ANN001
    err = run("list", "--status", "actf", code=2)
    assert "error[invalid_status]" in err and "active, suspended, terminated" in err and "actif" in err
    assert "error[invalid_option]" in run("list", "--option", "TWO", code=2)
    assert "error[invalid_tier]" in run("list", "--tier", "TOP", code=2)
    assert "error[invalid_sort]" in run("list", "--sort", "colour", code=2)
    # French words (any case, with or without accents) mean the codes
    assert json.loads(run("list", "--status", "résilié", "--json"))["total"] == 1
    assert json.loads(run("list", "--status", "RESILIE", "--json"))["total"] == 1
    assert json.loads(run("list", "--status", "terminated", "--option", "full", "--json"))["total"] == 1
    assert json.loads(run("list", "--status", "actif", "--json"))["total"] == 0


def test_list_json_items_are_shaped_like_the_api_items(run, convention: str) -> None:  # noqa: ANN001
    from projections.conventions_list import COLUMNS

    (item,) = json.loads(run("list", "--json"))["items"]
    assert item["id"] == convention and "convention_id" not in item
    assert list(item) == ["id", *(c for c in COLUMNS if c != "convention_id")]  # the API's order too


def test_list_table_is_french_and_fits_80_columns(run, convention: str) -> None:  # noqa: ANN001
    out = run("list")
    fits_80_columns(out)
    assert "C-2025-001" in out and "10000000009" in out and "résilié" in out and "01/03/2025" in out
    assert not ISO_DATE.search(out)


# ---------------------------------------------------------------- simulate, dashboard, due, users


@pytest.fixture(scope="module")
def simulated(tmp_path_factory: pytest.TempPathFactory) -> tuple[dict[str, str], dict, list[str]]:
    """A small simulated portfolio (years 3+ reached), simulated twice: the second run is a re-run."""
    env = {"CONVENTIONS_DATA_DIR": str(tmp_path_factory.mktemp("sim") / "data"), "CONVENTIONS_TODAY": "2026-11-30",
           "COLUMNS": "80"}  # fmt: skip
    args = ["simulate", "--from", "2023-01-01", "--to", "2026-11-30", "--conventions", "12", "--seed", "2"]
    first = RUNNER.invoke(cli, [*args, "--json"], env=env)
    assert first.exit_code == 0, first.output
    again = RUNNER.invoke(cli, args, env=env)
    assert again.exit_code == 0, again.output
    return env, json.loads(first.stdout), again.stdout.splitlines()


def test_simulate_rerun_says_nothing_new_was_signed(simulated) -> None:  # noqa: ANN001
    """A re-run's commands are retries answering their first result: the summary says what the log
    gained (nothing), not "12 signed"."""
    env, first, again = simulated
    assert first["recorded"]["conventions"] == 12 and first["recorded"]["events"] > first["due_events"] > 0
    text = "\n".join(again)
    assert "Rien de nouveau" in text and "12 convention(s) signée(s)" not in text
    args = ["simulate", "--from", "2023-01-01", "--to", "2026-11-30", "--conventions", "12", "--seed", "2", "--json"]
    rerun = json.loads(RUNNER.invoke(cli, args, env=env).stdout)
    assert rerun["recorded"] == {"events": 0, "conventions": 0}
    assert max(len(line) for line in again) <= 80


def test_simulate_prints_refusals_as_lines_not_a_python_dict() -> None:
    from adapters.cli.scheduler_commands import simulation_summary

    data = {"from": "2023-01-01", "to": "2023-12-31", "days": 365, "actions": {"hire": 3}, "seconds": 1.5,
            "refused": {"not_suspended": 2, "already_held": 1}, "due_events": 4, "due_failures": 0,
            "recorded": {"events": 20, "conventions": 2}}  # fmt: skip
    lines = simulation_summary(data)
    assert "  already_held: 1" in lines and "  not_suspended: 2" in lines
    assert not any("{" in line or "}" in line for line in lines)
    assert "2 convention(s) signée(s), 3 action(s) d'opérateur ;" in lines


def test_dashboard_tables_are_french_with_totals_and_fit_80_columns(simulated) -> None:  # noqa: ANN001
    env, _, _ = simulated
    result = RUNNER.invoke(cli, ["dashboard", "--today", "2026-11-30"], env=env)
    assert result.exit_code == 0, result.output
    out = result.stdout
    fits_80_columns(out)
    assert "30/11/2026" in out and not ISO_DATE.search(out)
    assert "actif" in out and "active" not in out
    assert re.search(rf"total 2025 +[\d{S}]+,\d\d{S}€", out), out  # a subtotal per calendar year
    assert re.search(rf"^total +[\d{S}]+,\d\d{S}€", out, re.M), out  # and a grand total
    assert "year 0" not in out and not re.search(r"^0 ", out, re.M)  # arrears are named, not year 0
    header = next(line for line in out.splitlines() if "0-24 %" in line.replace(S, " "))
    assert re.search(r"0-24 %.*25-49 %.*50-74 %.*75-99 %.*100 %", header.replace(S, " ")), header
    dash = json.loads(RUNNER.invoke(cli, ["dashboard", "--today", "2026-11-30", "--json"], env=env).stdout)
    assert dash["today"] == "2026-11-30" and all("." in m["due"] for m in dash["money"])  # machines: plain


def test_due_table_is_french_and_fits_80_columns(simulated) -> None:  # noqa: ANN001
    env, _, _ = simulated
    out = RUNNER.invoke(cli, ["due", "--today", "2026-11-30"], env=env).stdout
    queue = json.loads(RUNNER.invoke(cli, ["due", "--today", "2026-11-30", "--json"], env=env).stdout)
    assert queue["items"], "the simulated portfolio has work to do"
    fits_80_columns(out)
    assert all(i["number"] in out for i in queue["items"])  # whole numbers
    kinds = {i["kind"] for i in queue["items"]}
    assert not any(re.search(rf"\b{k}\b", out) for k in kinds if "_" in k), out  # French words, not codes
    assert "à traiter" in out and not ISO_DATE.search(out)


def test_users_list_table_is_french(run) -> None:  # noqa: ANN001
    run("users", "add", "alice", "--role", "operator", "--cpam", "281")
    out = run("users", "list")
    fits_80_columns(out)
    assert "opérateur" in out and "operator" not in out and re.search(r"\d\d/\d\d/\d{4}", out)
