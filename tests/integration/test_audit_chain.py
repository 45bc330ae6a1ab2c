"""Tamper evidence: a stored convention event edited, deleted or moved in the database is named by
``conventions verify`` (convention and version), on SQLite and PostgreSQL; a store written before
the chain is anchored by the upgrade and then verifies, saying from which version it is covered."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date
from decimal import Decimal
from typing import Any
from uuid import UUID

import orjson
import pytest
from typer.testing import CliRunner

from adapters.audit import anchor_chains, run_audit
from adapters.cli import app as cli
from adapters.composition import build_app, event_store_env
from adapters.settings import Settings
from domain.application import ConventionsApp
from domain.convention import CommandMeta
from tests.helpers import sign

META = CommandMeta(actor="audit.test", reason="test")
PARTS = ("books", "chain", "rules")


@pytest.fixture(params=["sqlite", "postgres"])
def settings(request: pytest.FixtureRequest) -> Settings:
    name = "sqlite_settings" if request.param == "sqlite" else "pg_settings"
    return request.getfixturevalue(name)


def _history(app: ConventionsApp) -> UUID:
    """A convention with a nurse, two years ticked and the first instalment paid: 9 events or so."""
    cid = sign(app, META)
    app.hire(cid, META, hired_on=date(2025, 3, 1), fte=Decimal(1), profile="nurse")
    app.record_due(cid, META, today=date(2026, 3, 31))
    app.record_payment(cid, META, instalment="y1-full", paid_on=date(2025, 3, 20), reference="VIR-1")
    return cid


def _app(settings: Settings, *, chained: bool = True) -> ConventionsApp:
    """The application; ``chained=False``: as released before the chain (the library's event store)."""
    if chained:
        return build_app(settings, clock=lambda: date(2026, 11, 30))
    env = {k: v for k, v in event_store_env(settings).items() if k != "EVENT_STORE_TOPIC"}
    return ConventionsApp(env=env, clock=lambda: date(2026, 11, 30))


@contextmanager
def _db(settings: Settings) -> Iterator[tuple[Any, str, str]]:
    """(connection, events table, placeholder) of the store, as an intruder with database access sees it."""
    if settings.store == "sqlite":
        con = sqlite3.connect(settings.events_sqlite_path())
        try:
            yield con, "stored_events", "?"
            con.commit()
        finally:
            con.close()
        return
    import psycopg

    with psycopg.connect(host=settings.postgres_host, port=settings.postgres_port, user=settings.postgres_user,
                         dbname=settings.postgres_dbname, autocommit=True) as con:  # fmt: skip
        yield con, f"{settings.postgres_schema}.conventions_events", "%s"


def _key(settings: Settings, cid: UUID) -> Any:
    return cid.hex if settings.store == "sqlite" else cid


def _state(settings: Settings, cid: UUID, version: int) -> bytes:
    with _db(settings) as (con, table, p):
        (state,) = con.execute(
            f"SELECT state FROM {table} WHERE originator_id = {p} AND originator_version = {p}",
            (_key(settings, cid), version),
        ).fetchone()
    return bytes(state)


def _set_state(settings: Settings, cid: UUID, version: int, state: bytes) -> None:
    with _db(settings) as (con, table, p):
        con.execute(f"UPDATE {table} SET state = {p} WHERE originator_id = {p} AND originator_version = {p}",
                    (state, _key(settings, cid), version))  # fmt: skip


def _version_of(app: ConventionsApp, cid: UUID, kind: str) -> int:
    return next(e.originator_version for e in app.history(cid) if type(e).__name__ == kind)


def _found(settings: Settings, parts: tuple[str, ...] = PARTS) -> set[tuple[str, str, str | None, int | None]]:
    report = run_audit(settings, parts)
    return {(f.part, f.code, f.id, f.version) for f in report.findings}


def test_a_clean_history_verifies_covered_from_version_1(settings: Settings) -> None:
    cid = _history(_app(settings))
    report = run_audit(settings, PARTS)
    assert report.ok, report.findings
    assert [(c.id, c.covered_from, c.anchored_at) for c in report.coverage] == [(str(cid), 1, None)]
    assert report.totals.payments == 1 and report.totals.paid == Decimal("38000.00")  # C-2024, FULL, year 1


def test_an_edited_event_is_named_with_its_version(settings: Settings) -> None:
    app = _app(settings)
    cid = _history(app)
    v = _version_of(app, cid, "PaymentRecorded")
    state = orjson.loads(_state(settings, cid, v))
    state["amount"] = "3600.00"  # the intruder lowers a payment
    _set_state(settings, cid, v, orjson.dumps(state))
    found = _found(settings)
    assert ("chain", "chain_broken", str(cid), v) in found
    assert ("books", "payment_amount_differs", str(cid), v) in found
    assert {f[3] for f in found if f[0] == "chain"} == {v}  # named alone, not every event after it


def test_an_edit_that_keeps_the_books_right_is_still_named(settings: Settings) -> None:
    app = _app(settings)
    cid = _history(app)
    v = _version_of(app, cid, "PaymentRecorded")
    state = orjson.loads(_state(settings, cid, v))
    state["payment_reference"] = "VIR-AUTRE"
    _set_state(settings, cid, v, orjson.dumps(state))
    assert _found(settings) == {("chain", "chain_broken", str(cid), v)}


def test_a_deleted_event_is_named(settings: Settings) -> None:
    app = _app(settings)
    cid = _history(app)
    v = _version_of(app, cid, "AssistantHired")
    with _db(settings) as (con, table, p):
        con.execute(f"DELETE FROM {table} WHERE originator_id = {p} AND originator_version = {p}",
                    (_key(settings, cid), v))  # fmt: skip
    found = _found(settings)
    assert ("books", "version_gap", str(cid), v + 1) in found  # "version v missing before v + 1"
    assert ("chain", "chain_broken", str(cid), v + 1) in found


def test_two_swapped_events_are_both_named(settings: Settings) -> None:
    app = _app(settings)
    cid = _history(app)
    a, b = 3, 4
    first, second = _state(settings, cid, a), _state(settings, cid, b)
    _set_state(settings, cid, a, second)
    _set_state(settings, cid, b, first)
    chain = {f[3] for f in _found(settings, ("chain",)) if f[:3] == ("chain", "chain_broken", str(cid))}
    assert chain == {a, b, b + 1}  # both, and the one after them: the link it follows moved with its event


def test_an_old_store_is_anchored_then_verifies_saying_from_where(settings: Settings) -> None:
    old = _app(settings, chained=False)
    cid = _history(old)
    before = old.get(cid)
    assert ("chain", "chain_not_covered", str(cid), None) in _found(settings)
    app = _app(settings)
    counts = anchor_chains(app, META, settings)
    assert counts == {"conventions": 1, "anchored": 1, "already_covered": 0}
    assert anchor_chains(app, META, settings)["anchored"] == 0  # idempotent
    anchored_at = before.version + 1
    report = run_audit(settings, PARTS)
    assert report.ok, report.findings
    assert [(c.covered_from, c.anchored_at) for c in report.coverage] == [(anchored_at, anchored_at)]
    after = app.get(cid)  # the same state, one version more
    assert (after.version, after.instalments, after.years) == (anchored_at, before.instalments, before.years)
    app.record_payment(cid, META, instalment="y2-full", paid_on=date(2026, 3, 20), reference="VIR-2")
    assert run_audit(settings, PARTS).ok  # chained after the anchor
    state = orjson.loads(_state(settings, cid, 2))  # an event written before the anchor, edited after it
    state["fte"] = "0.5"
    _set_state(settings, cid, 2, orjson.dumps(state))
    assert ("chain", "anchor_mismatch", str(cid), anchored_at) in _found(settings)


def test_the_cli_names_the_convention_and_the_version(sqlite_settings: Settings) -> None:
    app = _app(sqlite_settings)
    cid = _history(app)
    env = {"CONVENTIONS_DATA_DIR": str(sqlite_settings.data_dir), "CONVENTIONS_TODAY": "2026-11-30"}
    runner = CliRunner()
    clean = runner.invoke(cli, ["verify", "--workers", "1"], env=env)
    assert clean.exit_code == 0, clean.stdout
    assert "Aucun constat" in clean.stdout and "1 couverte(s) depuis la version 1" in clean.stdout
    v = _version_of(app, cid, "YearStarted")
    state = orjson.loads(_state(sqlite_settings, cid, v))
    state["full_amount"] = "99000"
    _set_state(sqlite_settings, cid, v, orjson.dumps(state))
    text = runner.invoke(cli, ["verify", "--books", "--chain", "--workers", "1"], env=env)
    assert text.exit_code == 1
    assert f"C-1 {cid} version {v} [chain:chain_broken]" in text.stdout
    assert f"C-1 {cid} version {v} [books:year_differs]" in text.stdout
    out = json.loads(runner.invoke(cli, ["verify", "--chain", "--json", "--workers", "1"], env=env).stdout)
    assert not out["ok"] and out["parts"] == ["chain"]
    assert [(f["id"], f["number"], f["version"], f["code"]) for f in out["findings"]] == [
        (str(cid), None, v, "chain_broken")  # the chain alone does not replay: no number
    ]
