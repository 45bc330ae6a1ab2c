"""Snapshots on the real stores (SQLite, PostgreSQL): a convention loaded from its snapshots is its full
replay (R26: long histories, random command sequences); ``conventions verify`` still passes on a store
with snapshots (they are not events: not in the log, not chained); with ``CONVENTIONS_CIPHER_KEY`` a
snapshot is encrypted like the events (no personal field in clear in the snapshots table); a snapshot
of another release is ignored."""

from __future__ import annotations

import json
import sqlite3
from datetime import date
from decimal import Decimal
from typing import Any
from uuid import UUID

import pytest
from eventsourcing.cipher import AESCipher
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from adapters.audit import run_audit
from adapters.composition import build_app
from adapters.settings import Settings
from adapters.snapshots import drop_snapshots
from domain.application import ConventionsApp
from domain.convention import CommandMeta
from domain.snapshot import ConventionSnapshot
from tests.helpers import cli_invoker, sign
from tests.histories import replayed, state_of, write_history
from tests.unit.test_properties import steps

META = CommandMeta(actor="snap.test", reason="test")
INTERVAL = 4


@pytest.fixture
def store(store_settings: Settings) -> Settings:
    return store_settings.model_copy(update={"snapshot_interval": INTERVAL})


def _app(settings: Settings) -> ConventionsApp:
    return build_app(settings, clock=lambda: date(2031, 1, 1))


def _history(app: ConventionsApp, **terms: Any) -> UUID:
    cid = sign(app, META, **terms)
    app.hire(cid, META, hired_on=date(2025, 3, 1), fte=Decimal(1), profile="nurse")
    app.record_due(cid, META, today=date(2028, 6, 1))
    app.record_payment(cid, META, instalment="y1-full", paid_on=date(2025, 3, 20), reference="VIR-1")
    return cid


def _snapshot_rows(settings: Settings) -> list[bytes]:
    """The snapshots table's payloads, as someone with database access reads them."""
    if settings.store == "sqlite":
        with sqlite3.connect(settings.events_sqlite_path()) as con:
            return [bytes(r[0]) for r in con.execute("SELECT state FROM stored_snapshots")]
    import psycopg

    with psycopg.connect(host=settings.postgres_host, port=settings.postgres_port, user=settings.postgres_user,
                         dbname=settings.postgres_dbname) as con:  # fmt: skip
        rows = con.execute(f"SELECT state FROM {settings.postgres_schema}.conventions_snapshots").fetchall()
        return [bytes(r[0]) for r in rows]


@settings(
    max_examples=8, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow]
)
@given(steps=steps, effective=st.dates(min_value=date(2022, 1, 1), max_value=date(2026, 12, 31)))
def test_loaded_from_snapshots_a_convention_is_its_full_replay(
    store: Settings, steps: list[tuple[str, int, int]], effective: date
) -> None:
    app = _app(store)
    try:
        cid = write_history(app, steps, effective)  # each step loaded through the snapshots, then saved
        assert state_of(app.get(cid)) == state_of(replayed(app, cid))
        taken = [s.originator_version for s in app.snapshots.get(cid)]
        assert taken == list(range(INTERVAL, app.get(cid).version + 1, INTERVAL))
        for version in {1, *taken, *(v - 1 for v in taken)}:
            assert state_of(app.get(cid, version=version)) == state_of(replayed(app, cid, version))
    finally:
        app.close()


def test_as_of_reads_before_the_snapshots_replay_the_events_to_the_date(store: Settings) -> None:
    app = _app(store)
    cid = _history(app)
    assert len(list(app.snapshots.get(cid))) >= 3
    for day in (date(2025, 2, 1), date(2025, 6, 1), date(2026, 6, 1), date(2028, 6, 1)):
        expected = [e for e in app.history(cid) if e.effective_date <= day]
        assert state_of(app.get(cid, as_of=day)) == state_of(replayed_from(expected))
    assert [e.originator_version for e in app.history(cid)] == list(range(1, app.get(cid).version + 1))
    app.close()


def replayed_from(events: list[Any]) -> Any:
    from domain.convention import Convention

    return Convention.replay(events)


def test_conventions_verify_passes_on_a_store_with_snapshots(store: Settings) -> None:
    app = _app(store)
    cid = _history(app)
    app.terminate(cid, META, on=date(2028, 7, 1), by="cpam", ground="test")
    assert len(list(app.snapshots.get(cid))) >= 5
    app.close()
    report = run_audit(store, ("books", "chain", "rules"))
    assert report.ok, report.findings
    assert [(c.id, c.covered_from) for c in report.coverage] == [(str(cid), 1)]


def test_the_verify_command_passes_on_a_sqlite_store_with_snapshots(sqlite_settings: Settings) -> None:
    app = _app(sqlite_settings.model_copy(update={"snapshot_interval": INTERVAL}))
    _history(app)
    assert _snapshot_rows(sqlite_settings)
    app.close()
    env = {"CONVENTIONS_STORE": "sqlite", "CONVENTIONS_DATA_DIR": str(sqlite_settings.data_dir),
           "CONVENTIONS_SNAPSHOT_INTERVAL": str(INTERVAL)}  # fmt: skip
    report = json.loads(cli_invoker(env)("verify", "--books", "--chain", "--rules", "--workers", "1", "--json"))
    assert report["ok"] is True, report


@pytest.mark.parametrize("encrypted", [True, False])
def test_snapshots_are_encrypted_like_the_events(store: Settings, encrypted: bool) -> None:
    key = AESCipher.create_key(16) if encrypted else None
    settings = store.model_copy(update={"cipher_key": key})
    app = _app(settings)
    cid = _history(app, doctor_name="Bérénice Snapshotova", am_number="123456789")
    rows = _snapshot_rows(settings)
    assert len(rows) >= 3
    personal = (b"Snapshotova", b"10000000009", b"123456789", b"doctor_name")
    in_clear = {p for p in personal if any(p in row for row in rows)}
    assert in_clear == (set() if encrypted else set(personal))  # the control: without a key they are there
    assert app.get(cid).doctor_name == "Bérénice Snapshotova"  # and read back through the cipher
    assert state_of(app.get(cid)) == state_of(replayed(app, cid))
    app.close()


def test_a_snapshot_of_another_release_is_ignored(store: Settings) -> None:
    app = _app(store.model_copy(update={"snapshot_interval": 1000}))
    cid = _history(app)
    conv = app.get(cid)
    taken = ConventionSnapshot.take(conv)
    fields = taken.model_dump()
    app.snapshots.put([ConventionSnapshot(**{**fields, "originator_version": conv.version - 1,
                                             "state": {**taken.state, "doctor_name": "Altéré"}})])  # fmt: skip
    assert app.get(cid).doctor_name == "Altéré"  # control: a usable snapshot is what loads
    app.snapshots.put([ConventionSnapshot(**{**fields, "fingerprint": "0" * 16,
                                             "state": {**taken.state, "doctor_name": "Ancien"}})])  # fmt: skip
    assert state_of(app.get(cid)) == state_of(replayed(app, cid))
    app.close()


def test_dropping_the_snapshots_loses_nothing(store: Settings) -> None:
    app = _app(store)
    cid = _history(app)
    before = state_of(app.get(cid))
    count = len(_snapshot_rows(store))
    assert count >= 3 and drop_snapshots(app.snapshots.recorder) == count
    assert _snapshot_rows(store) == [] and list(app.snapshots.get(cid)) == []
    assert state_of(app.get(cid)) == before == state_of(replayed(app, cid))
    app.close()


def test_the_snapshots_command_checks_and_drops(sqlite_settings: Settings) -> None:
    settings = sqlite_settings.model_copy(update={"snapshot_interval": INTERVAL})
    app = _app(settings)
    cid = _history(app)
    app.close()
    count = len(_snapshot_rows(settings))
    env = {"CONVENTIONS_STORE": "sqlite", "CONVENTIONS_DATA_DIR": str(settings.data_dir),
           "CONVENTIONS_SNAPSHOT_INTERVAL": str(INTERVAL)}  # fmt: skip
    invoke = cli_invoker(env)
    assert json.loads(invoke("snapshots", "check", "--json")) == {"conventions": 1, "snapshots": count, "differ": []}
    with sqlite3.connect(settings.events_sqlite_path()) as con:  # someone edits a snapshot in the database
        (version, state) = con.execute("SELECT originator_version, state FROM stored_snapshots LIMIT 1").fetchone()
        edited = json.loads(state)
        edited["state"]["initial_patients"] = 1
        con.execute("UPDATE stored_snapshots SET state = ? WHERE originator_version = ?",
                    (json.dumps(edited).encode(), version))  # fmt: skip
    out = invoke("snapshots", "check", code=1)
    assert f"convention {cid} version {version}" in out
    assert invoke("snapshots", "drop") == f"{count} instantanés supprimés.\n"
    assert json.loads(invoke("snapshots", "check", "--json")) == {"conventions": 1, "snapshots": 0, "differ": []}
