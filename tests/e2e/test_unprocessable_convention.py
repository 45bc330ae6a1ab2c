"""The finding end to end: one convention made unprocessable by an amendment accepted before the
domain refused it (THIRD from 2023-03-18 on a convention effective 2025-03-01) must stop neither
the nightly run (``tick``, ``scheduler --once``) nor the reads (``dashboard``, ``GET /dashboard``,
``due``, ``GET /work-queue``, ``list``) of everyone else; it is named wherever it is left out.
"""

from __future__ import annotations

import json
import warnings
from datetime import date
from pathlib import Path
from typing import Any
from uuid import UUID

import pytest
from typer.testing import CliRunner

from adapters.cli import app as cli
from adapters.composition import build_app
from adapters.settings import Settings
from tests.conftest import FixedClock
from tests.integration.test_isolation import make_unprocessable, sign

with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    from fastapi.testclient import TestClient

TODAY = date(2026, 4, 30)
runner = CliRunner()


def invoke(*args: str, code: int = 0) -> Any:
    result = runner.invoke(cli, list(args))
    assert result.exit_code == code, (args, result.stdout, result.stderr)
    return result


@pytest.fixture
def data(store_in_env: Settings) -> tuple[Path, list[UUID]]:
    """Four conventions (on each store); C-1 (CPAM 281) unprocessable, C-3 in CPAM 751."""
    settings = store_in_env
    app = build_app(settings, clock=lambda: TODAY)
    ids = [sign(app, 0), sign(app, 1), sign(app, 2), sign(app, 3, cpam="751")]
    make_unprocessable(app, ids[1])
    return settings.data_dir, ids


def test_unprocessable_convention_stops_no_one(data: tuple[Path, list[UUID]], tmp_path: Path) -> None:
    data_dir, (a, bad, c, d) = data
    dd = ["--data-dir", str(data_dir)]

    # The nightly run (the tick command): everyone else recorded, the bad one named, exit 1 at the end.
    result = invoke("tick", "--today", TODAY.isoformat(), *dd, code=1)
    assert result.stdout.strip() == (
        "4 convention(s) examinée(s) : 18 événement(s) enregistré(s) sur 3 convention(s), 1 non traitée(s)."
    )
    assert f"error[option_not_offered]: convention C-1 ({bad}) non traitée" in result.stderr
    assert "Traceback" not in result.output
    shown = {cid: json.loads(invoke("show", str(cid), "--json", *dd).stdout) for cid in (a, bad, c, d)}
    assert [shown[cid]["contract_year"] for cid in (a, bad, c, d)] == [2, 0, 2, 2]
    history = json.loads(invoke("history", str(a), "--json", *dd).stdout)
    assert {e["command_id"] for e in history[1:]} == {f"due:{TODAY}"}  # deterministic, as the scheduler's
    again = json.loads(invoke("tick", "--today", TODAY.isoformat(), "--json", *dd, code=1).stdout)
    assert (again["events"], [f["number"] for f in again["failures"]]) == (0, ["C-1"])  # idempotent, still named

    # The work queue: an alert for an operator, in the CLI and for the CPAM's operators only.
    queue = json.loads(invoke("due", "--today", TODAY.isoformat(), "--json", *dd).stdout)
    failures = [i for i in queue["items"] if i["kind"] == "nightly_failure"]
    assert [(i["convention_id"], i["number"], i["cpam"], i["overdue"]) for i in failures] == [
        (str(bad), "C-1", "281", True)
    ]
    assert "option_not_offered" in failures[0]["message"]
    scoped = json.loads(invoke("due", "--today", TODAY.isoformat(), "--cpam", "751", "--json", *dd).stdout)
    assert not any(i["kind"] == "nightly_failure" for i in scoped["items"]) and scoped["items"]

    # The dashboard: the others' figures, and the one it could not compute named.
    dash = json.loads(invoke("dashboard", "--today", TODAY.isoformat(), "--json", *dd).stdout)
    assert {(f["cpam_code"], f["year"]) for f in dash["forecast"]} >= {("281", 2026), ("751", 2026)}
    assert all(2026 <= f["year"] <= 2030 for f in dash["forecast"])
    assert [(u["id"], u["number"], u["code"]) for u in dash["unprocessable"]] == [
        (str(bad), "C-1", "option_not_offered")
    ]
    text = invoke("dashboard", "--today", TODAY.isoformat(), *dd).stdout
    assert "Attention : convention C-1 (CPAM 281) non calculée, absente de la prévision" in text
    assert "Traceback" not in text

    # The list: everyone.
    listed = json.loads(invoke("list", "--json", *dd).stdout)
    assert listed["total"] == 4 and {i["number"] for i in listed["items"]} == {"C-0", "C-1", "C-2", "C-3"}

    # The scheduler process, once: the same run, exit 1 naming it in its log.
    once = invoke("scheduler", "--once", "--today", "2026-05-31", *dd, code=1)
    assert "due.failed" in once.stderr and "C-1" in once.stderr

    # The HTTP API on the same store: 200 with the others' figures, the unprocessable one named.
    from adapters.http.app import create_app

    api = create_app(Settings(), FixedClock(TODAY))  # the store of the environment (store_in_env)
    users = api.state.services.users
    admin, op751 = users.add("admin", "admin", [])[1], users.add("op751", "operator", ["751"])[1]
    client = TestClient(api)
    board = client.get("/dashboard", headers={"Authorization": f"Bearer {admin}"})
    assert board.status_code == 200, board.text
    body = board.json()
    assert [(u["id"], u["number"], u["code"]) for u in body["unprocessable"]] == [
        (str(bad), "C-1", "option_not_offered")
    ]
    assert {f["cpam_code"] for f in body["forecast"]} == {"281", "751"}
    scoped_board = client.get("/dashboard", headers={"Authorization": f"Bearer {op751}"}).json()
    assert scoped_board["unprocessable"] == [] and {f["cpam_code"] for f in scoped_board["forecast"]} == {"751"}
    work = client.get("/work-queue", headers={"Authorization": f"Bearer {admin}"})
    assert work.status_code == 200, work.text
    assert [(i["number"], i["cpam_code"]) for i in work.json()["items"] if i["kind"] == "nightly_failure"] == [
        ("C-1", "281")
    ]
