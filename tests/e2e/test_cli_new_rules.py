"""The CLI side of R20, R27 and R28: the measure shown, the objective derived when not given, the
secretary turned assistant and the declaration of her replacement."""

from __future__ import annotations

import json

import pytest

from tests.helpers import cli_invoker

SIGN = [
    "sign", "--cpam", "281", "--name", "Martin", "--specialty", "general_practice", "--sector", "1",
    "--option", "FULL", "--patients", "1500", "--signed", "2025-02-01", "--effective", "2025-03-01", "--json",
]  # fmt: skip


@pytest.fixture
def run(store_env: dict[str, str]):  # noqa: ANN201
    return cli_invoker({**store_env, "CONVENTIONS_TODAY": "2025-12-31"})


def test_r27_sign_without_a_target_derives_it_or_asks_for_it(run) -> None:  # noqa: ANN001
    cid = json.loads(run(*SIGN, "--number", "C-1", "--rpps", "10000000009", "--percentile", "96"))["id"]
    patients = json.loads(run("show", cid, "--json"))["patients"]
    assert (patients["target"], patients["objective_basis"], patients["measure"]) == (1425, "max_tolerance", "pmt")
    assert "1500 x 0,95 = 1425" in patients["objective_reason"]
    err = run(*SIGN, "--number", "C-2", "--rpps", "10000000017", "--percentile", "50", code=1)
    assert "error[target_required]" in err
    old = json.loads(run(*SIGN, "--number", "C-3", "--rpps", "10000000025", "--percentile", "50", "--aged-65"))
    assert json.loads(run("show", old["id"], "--json"))["patients"]["target"] == 1350


def test_r28_hire_was_secretary_then_declare_the_new_secretary(run) -> None:  # noqa: ANN001
    cid = json.loads(run(*SIGN, "--number", "C-1", "--rpps", "10000000009", "--percentile", "96"))["id"]
    run("hire", cid, "--date", "2025-03-01", "--fte", "1", "--profile", "secretary", "--was-secretary")
    items = json.loads(run("due", "--today", "2025-12-31", "--json"))["items"]
    assert any(i["kind"] == "secretary_replacement" and i["overdue"] for i in items)
    assert "error[date_in_future]" in run("secretary", cid, "--date", "2026-01-05", code=1)
    run("secretary", cid, "--date", "2025-10-01")
    items = json.loads(run("due", "--today", "2025-12-31", "--json"))["items"]
    assert not any(i["kind"] == "secretary_replacement" for i in items)
    assert "error[replace_or_secretary]" in run(
        "hire", cid, "--date", "2025-10-02", "--fte", "1", "--profile", "nurse", "--replace", "--was-secretary", code=2
    )
