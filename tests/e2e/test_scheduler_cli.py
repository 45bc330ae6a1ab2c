"""The scheduler's CLI: ``simulate``, ``due --json`` (the work queue), ``scheduler --once``."""

from __future__ import annotations

import json
from datetime import date, timedelta
from decimal import Decimal
from uuid import UUID

from typer.testing import CliRunner

from adapters.cli import app as cli
from adapters.composition import build_app, build_nightly_job
from adapters.settings import Settings
from domain.convention import CommandMeta

runner = CliRunner()
META = CommandMeta(actor="operateur.test", reason="test")


def invoke(*args: str) -> str:
    result = runner.invoke(cli, list(args), catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return result.stdout


def sign(app, number: str, rpps: str, effective: date) -> UUID:  # noqa: ANN001
    return UUID(app.sign(
        META, number=number, cpam_code="281" if number.endswith("1") else "751", rpps=rpps,
        doctor_name="Martin", specialty="general_practice", sector=1, optam=False, ccam_share=None,
        newly_installed=False, option="FULL", percentile=50, initial_patients=1000, target_patients=1200,
        signed_on=effective, effective_from=effective,
    )["id"])  # fmt: skip


def test_due_lists_the_alerts_an_operator_must_act_on(store_in_env: Settings) -> None:
    settings = store_in_env
    app = build_app(settings)
    a = sign(app, "Q-1", "10000000009", date(2024, 1, 1))  # never hires
    b = sign(app, "Q-2", "10000000017", date(2024, 1, 1))
    app.hire(b, META, hired_on=date(2024, 1, 10), fte=Decimal(1), profile="secretary")
    job = build_nightly_job(settings, app)
    today = date(2026, 1, 5)  # training deadline of b on 2026-01-10: five days ahead
    first = job(today)
    assert first.conventions == 2 and first.events > 0 and not first.failures
    assert job(today).events == 0  # twice: nothing more
    app.hold_review(b, META, held_on=date(2024, 7, 5))

    out = json.loads(invoke("due", "--today", today.isoformat(), "--json", "--data-dir", str(settings.data_dir)))
    assert out["today"] == "2026-01-05" and out["count"] == len(out["items"])
    kinds = {(UUID(i["convention_id"]), i["kind"], i["overdue"]) for i in out["items"]}
    assert (a, "no_assistant", True) in kinds
    assert (b, "training_deadline", False) in kinds  # approaching (60 days)
    assert (a, "review", True) in kinds  # reviews of 2024-07-01... never held: overdue
    # R4: years 1 and 2 (ended 2025-01-01, 2026-01-01) are paid in full: no attainment to ask for
    assert not any(k == "attainment_missing" for _, k, _ in kinds)
    assert not any(k == "no_assistant" for cid, k, _ in kinds if cid == b)
    assert all(i["message"].startswith("Convention Q-") for i in out["items"])

    later = json.loads(invoke("due", "--today", "2026-02-01", "--json", "--data-dir", str(settings.data_dir)))
    assert (str(b), "training_deadline", True) in {
        (i["convention_id"], i["kind"], i["overdue"]) for i in later["items"]
    }

    scoped = json.loads(invoke("due", "--today", today.isoformat(), "--cpam", "281", "--json",
                               "--data-dir", str(settings.data_dir)))  # fmt: skip
    assert {i["cpam"] for i in scoped["items"]} == {"281"} and scoped["count"] < out["count"]
    assert "À traiter" in invoke("due", "--today", today.isoformat(), "--data-dir", str(settings.data_dir))


def test_simulate_then_the_scheduler_catches_up_once(store_in_env: Settings) -> None:
    data = str(store_in_env.data_dir)
    out = json.loads(invoke("simulate", "--from", "2024-01-01", "--to", "2024-12-31", "--conventions", "8",
                            "--seed", "4", "--json", "--data-dir", data))  # fmt: skip
    assert out["signed"] == 8 and out["days"] == 366 and out["due_events"] > 0
    again = json.loads(invoke("simulate", "--from", "2024-01-01", "--to", "2024-12-31", "--conventions", "8",
                              "--seed", "4", "--json", "--data-dir", data))  # fmt: skip
    assert again["due_events"] == 0 and again["signed"] == 8  # the first results, nothing written
    # ten weeks later the scheduler catches up what fell due meanwhile (reviews, years 2), once
    day = (date(2024, 12, 31) + timedelta(days=70)).isoformat()
    result = runner.invoke(cli, ["scheduler", "--once", "--today", day, "--data-dir", data], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    app = build_app(store_in_env)

    def recorded_by_the_run() -> int:
        return sum(1 for cid in app.convention_ids() for e in app.history(cid) if e.command_id == f"due:{day}")

    n = recorded_by_the_run()
    assert n > 0
    second = runner.invoke(cli, ["scheduler", "--once", "--today", day, "--data-dir", data], catch_exceptions=False)
    assert second.exit_code == 0 and recorded_by_the_run() == n
    queue = json.loads(invoke("due", "--today", day, "--json", "--data-dir", data))
    assert queue["count"] == len(queue["items"]) > 0 and all("convention_id" in i for i in queue["items"])


def test_simulate_records_the_given_actor_and_reason(store_in_env: Settings) -> None:
    data = str(store_in_env.data_dir)
    args = ["simulate", "--from", "2024-01-01", "--to", "2024-02-29", "--conventions", "3", "--seed", "5",
            "--actor", "bob", "--reason", "essai", "--data-dir", data]  # fmt: skip
    assert CliRunner().invoke(cli, args, catch_exceptions=False).exit_code == 0
    app = build_app(store_in_env)
    events = [e for cid in app.convention_ids() for e in app.history(cid)]
    operator = {(e.actor, e.reason.split(" : ")[0]) for e in events if e.actor != "scheduler"}
    assert operator == {("bob", "essai")} and len(events) > 3
