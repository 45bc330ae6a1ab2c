"""The CLI as an operator uses it, on SQLite (a temporary data directory) and on PostgreSQL (a schema)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.helpers import cli_invoker


@pytest.fixture
def run(store_env: dict[str, str]):  # noqa: ANN201
    # a virtual today after the scripted facts (R21: none is dated after today)
    return cli_invoker({**store_env, "CONVENTIONS_TODAY": "2029-01-02"})


SQLITE_ONLY = pytest.mark.parametrize("store_settings", ["sqlite"], indirect=True)
"""For the simulator (``estimate``), which reads no store: once is enough."""


def history_len(run, cid: str) -> int:  # noqa: ANN001
    return len(json.loads(run("history", cid, "--json")))


SIGN = [
    "sign", "--number", "C-2025-001", "--cpam", "281", "--rpps", "10000000009", "--name", "Martin",
    "--specialty", "general_practice", "--sector", "1", "--option", "FULL", "--percentile", "50",
    "--patients", "1000", "--target", "1200", "--signed", "2025-02-01", "--effective", "2025-03-01",
    "--actor", "alice", "--reason", "dossier complet",
]  # fmt: skip

AMOUNTS = {
    ("A7", "THIRD"): (12000, 9000, 7000, 8350, 12000),
    ("A7", "HALF"): (18000, 13500, 10500, 12500, 18000),
    ("A7", "FULL"): (36000, 27000, 21000, 25000, 36000),
    ("C", "HALF"): (19000, 14000, 11000, 13000, 19000),
    ("C", "FULL"): (38000, 28000, 22000, 26000, 38000),
}


@SQLITE_ONLY
@pytest.mark.parametrize("tier", ["BASE", "RAISED", "MAX"])
@pytest.mark.parametrize(("regime", "option"), list(AMOUNTS))
def test_estimate_reproduces_the_amounts_table(run, regime: str, option: str, tier: str) -> None:  # noqa: ANN001
    """R3: every option, tier, regime and year. A7 years need a convention that started (and so
    stays in A7) before 2024-06-22: years starting 2019-2023 for an effective date in 2019."""
    effective = "2019-01-10" if regime == "A7" else "2024-07-01"
    out = json.loads(
        run("estimate", "--option", option, "--tier", tier, "--effective", effective, "--years", "4", "--json")
    )
    y1, y2, base, raised, mx = AMOUNTS[(regime, option)]
    expected = [mx] * 4 if tier == "MAX" else [y1, y2, raised if tier == "RAISED" else base] * 1
    if tier != "MAX":
        expected.append(expected[-1])
    assert [r["amount"] for r in out["years"]] == [f"{a}.00" for a in expected]
    assert {r["regime"] for r in out["years"]} == {"A7-2019" if regime == "A7" else "C-2024"}


@SQLITE_ONLY
@pytest.mark.parametrize(("tier", "year3"), [("BASE", "7350.00"), ("RAISED", "8767.00"), ("MAX", "12600.00")])
def test_estimate_third_moves_to_c2024_at_the_anniversary(run, tier: str, year3: str) -> None:  # noqa: ANN001
    """R3: a THIRD convention (signable before 2023-05-01) gets C-2024 amounts for years starting
    on or after 2024-06-22 (its 9 450 year-2 amount needs a year 2 starting then: unreachable)."""
    out = json.loads(run("estimate", "--option", "THIRD", "--tier", tier, "--effective", "2022-07-01", "--json"))
    assert [r["regime"] for r in out["years"][:3]] == ["A7-2019", "A7-2019", "C-2024"]
    assert out["years"][2]["amount"] == year3


@SQLITE_ONLY
def test_estimate_attainment_and_refusal(run) -> None:  # noqa: ANN001
    out = json.loads(run("estimate", "--option", "FULL", "--tier", "BASE", "--effective", "2025-03-01",
                         "--attainment", "0.4", "--years", "3", "--json"))  # fmt: skip
    assert out["years"][0] == {"year": 1, "start": "2025-03-01", "end": "2026-02-28", "regime": "C-2024",
                               "amount": "38000.00"}  # fmt: skip
    assert out["years"][2]["amount"] == "8800.00"
    err = run("estimate", "--option", "THIRD", "--tier", "BASE", "--effective", "2023-06-01", code=1)
    assert "third_option_closed" in err


def test_scripted_lifecycle(run) -> None:  # noqa: ANN001
    cid = json.loads(run(*SIGN, "--json"))["id"]
    run("hire", cid, "--date", "2025-03-01", "--fte", "1", "--profile", "nurse")
    run("tick", "--today", "2026-04-30")
    run("pay", cid, "--instalment", "y1-full", "--date", "2025-03-20", "--reference", "VIR-1")
    run("suspend", cid, "--from", "2026-05-01", "--ground", "long_absence", "--agreement-date", "2026-05-03")
    run("reactivate", cid, "--from", "2026-09-01")
    run("tick", "--today", "2028-07-10")
    run("attainment", cid, "--year", "3", "--patients", "1080", "--date", "2028-07-10")
    run("tick", "--today", "2028-07-10")
    run("review", cid, "--held", "2025-09-10", "--notes", "RAS")
    state = json.loads(run("show", cid, "--json"))
    assert state["status"] == "active" and state["option"] == "FULL" and state["tier"] == "BASE"
    assert state["effective_date"] == "2025-03-01"
    # case 9: anniversary 2 moves from 2027-03-01 to 2027-07-02 after 123 suspended days
    assert state["anniversaries"][:4] == ["2025-03-01", "2026-03-01", "2027-07-02", "2028-07-02"]
    assert state["contract_year"] == 4
    inst = {i["id"]: i for i in state["instalments"]}
    assert (inst["y1-full"]["amount"], inst["y1-full"]["status"], inst["y1-full"]["due_date"]) == (
        "38000.00",
        "paid",
        "2025-04-01",
    )
    assert (inst["y3-advance"]["amount"], inst["y3-advance"]["due_date"]) == ("11000.00", "2027-07-02")
    # case 5: 40 % attainment -> 8 800 due, 11 000 advanced, 2 200 to recover
    assert (inst["y3-balance"]["amount"], inst["y3-balance"]["kind"]) == ("-2200.00", "balance")
    assert state["reviews"][0] == {"k": 1, "due_date": "2025-09-01", "held_on": "2025-09-10", "notes": "RAS"}
    out = json.loads(
        run("terminate", cid, "--date", "2029-01-01", "--by", "cpam", "--ground", "déménagement", "--json")
    )
    assert out["value"] == "11030.14"  # 22 000 x 183 / 365, nothing paid yet for year 4
    assert json.loads(run("show", cid, "--json"))["status"] == "terminated"
    history = json.loads(run("history", cid, "--json"))
    assert (
        history[0]["type"] == "Signed" and history[0]["actor"] == "alice" and history[0]["reason"] == "dossier complet"
    )
    assert {"type", "effective_date", "recorded_at", "actor", "reason"} <= set(history[0])
    assert history[-1]["type"] == "Terminated"
    # state as of a date and at a version (audit replay)
    assert json.loads(run("show", cid, "--as-of", "2026-06-01", "--json"))["status"] == "suspended"
    assert json.loads(run("show", cid, "--version", "1", "--json"))["contract_year"] == 0


def test_bad_input_exits_1_with_a_clear_message_and_records_nothing(run) -> None:  # noqa: ANN001
    cid = json.loads(run(*SIGN, "--json"))["id"]
    n = history_len(run, cid)
    bad_rpps = [*SIGN]
    bad_rpps[bad_rpps.index("10000000009")] = "10000000008"
    bad_rpps[bad_rpps.index("C-2025-001")] = "C-2025-002"
    assert "error[invalid_rpps]" in run(*bad_rpps, code=1)
    radiologist = [*SIGN]
    radiologist[radiologist.index("general_practice")] = "radiology"
    radiologist[radiologist.index("C-2025-001")] = "C-2025-003"
    radiologist[radiologist.index("10000000009")] = "10000000017"
    assert "radiologie" in run(*radiologist, code=1)
    assert "error[unknown_convention]" in run("show", "00000000-0000-0000-0000-000000000001", code=1)
    assert "error[not_suspended]" in run("reactivate", cid, "--from", "2025-06-01", code=1)
    assert history_len(run, cid) == n
    assert "C-2025-00" not in run("tick", "--today", "2025-01-01")  # only one convention exists


def test_usage_errors_exit_2(run) -> None:  # noqa: ANN001
    run("estimate", "--option", "FULL", "--tier", "BASE", "--effective", "01/03/2025", code=2)
    run("sign", "--number", "X", code=2)


def test_retried_command_id_changes_nothing(run) -> None:  # noqa: ANN001
    cid = json.loads(run(*SIGN, "--command-id", "s-1", "--json"))["id"]
    assert json.loads(run(*SIGN, "--command-id", "s-1", "--json"))["id"] == cid
    run("hire", cid, "--date", "2025-03-01", "--fte", "1", "--profile", "nurse", "--command-id", "h-1")
    n = history_len(run, cid)
    run("hire", cid, "--date", "2025-03-01", "--fte", "1", "--profile", "nurse", "--command-id", "h-1")
    assert history_len(run, cid) == n


def test_the_installed_console_script_runs(tmp_path: Path) -> None:
    exe = Path(sys.executable).with_name("conventions")
    env = {**os.environ, "CONVENTIONS_DATA_DIR": str(tmp_path)}
    out = subprocess.run([str(exe), *SIGN, "--json"], env=env, capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    cid = json.loads(out.stdout)["id"]
    out = subprocess.run([str(exe), "show", cid, "--json"], env=env, capture_output=True, text=True, timeout=60)
    assert json.loads(out.stdout)["number"] == "C-2025-001"
    assert (tmp_path / "events.sqlite").exists()
