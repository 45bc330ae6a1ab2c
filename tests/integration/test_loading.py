"""A convention loads in one query on the real stores (``adapters.loading``, R26: long histories):
its latest snapshot and the events after it come back together, and what is rebuilt is its full
replay, at the latest version or at an earlier one; a snapshot that cannot be read is skipped and
the events are replayed from the start, as the library's repository does."""

from __future__ import annotations

import logging
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any
from uuid import UUID

import pytest

from adapters.audit import run_audit
from adapters.composition import build_app
from adapters.loading import OneQueryRepository
from adapters.settings import Settings
from domain.application import ConventionsApp
from domain.convention import CommandMeta
from tests.helpers import sign, traced, wire_messages
from tests.histories import replayed, state_of

META = CommandMeta(actor="load.test", reason="test")
INTERVAL = 5


@pytest.fixture
def store(store_settings: Settings) -> Settings:
    return store_settings.model_copy(update={"snapshot_interval": INTERVAL})


@pytest.fixture
def app(store: Settings) -> Iterator[ConventionsApp]:
    app = build_app(store, clock=lambda: date(2031, 1, 1))
    assert isinstance(app.repository, OneQueryRepository), type(app.repository)  # what the deployment uses
    yield app
    app.close()


def _history(app: ConventionsApp) -> tuple[UUID, int]:
    """A convention with snapshots and events after the latest one; its id and that snapshot's version."""
    cid = sign(app, META)
    app.hire(cid, META, hired_on=date(2025, 3, 1), fte=Decimal(1), profile="nurse")
    app.record_due(cid, META, today=date(2028, 6, 1))
    app.record_payment(cid, META, instalment="y1-full", paid_on=date(2025, 3, 20), reference="VIR-1")
    latest = max(s.originator_version for s in app.snapshots.get(cid))
    assert app.get(cid).version > latest + 1
    return cid, latest


@contextmanager
def statements_run(app: ConventionsApp, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[list[str]]:
    """The statements the store executes in the block (SQLite: its trace; PostgreSQL: each Execute
    or simple Query message libpq sends, a prepared statement's name standing for its text)."""
    datastore = app.recorder.datastore
    taken = datastore.get_connection
    executed: list[str] = []
    if hasattr(datastore, "schema"):
        with traced(tmp_path / "trace") as trace:

            @contextmanager
            def tracing_pg(*args: Any, **kwargs: Any) -> Iterator[Any]:
                with taken(*args, **kwargs) as conn:
                    trace(conn)
                    yield conn

            monkeypatch.setattr(datastore, "get_connection", tracing_pg)
            yield executed
            monkeypatch.undo()
        sent = [m for m in wire_messages(tmp_path / "trace") if m[0] == "F" and m[1] in ("Execute", "Query")]
        executed.extend(content for _, _, content in sent)
        return

    @contextmanager
    def tracing_sqlite(*args: Any, **kwargs: Any) -> Iterator[Any]:
        with taken(*args, **kwargs) as conn:
            raw: sqlite3.Connection = conn._sqlite_conn
            raw.set_trace_callback(executed.append)
            try:
                yield conn
            finally:
                raw.set_trace_callback(None)

    monkeypatch.setattr(datastore, "get_connection", tracing_sqlite)
    yield executed
    monkeypatch.undo()


def _selects(executed: list[str]) -> list[str]:
    """The statements that read (SQLite traces its BEGIN and COMMIT as well)."""
    return [s for s in executed if s.split()[0].upper() not in ("BEGIN", "COMMIT", "ROLLBACK")]


@pytest.mark.parametrize("after_the_snapshot", [None, 1, 0, -1])
def test_a_convention_loads_in_one_query_as_its_full_replay(
    app: ConventionsApp, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, after_the_snapshot: int | None
) -> None:
    """The latest version, and earlier ones after, at and before the latest snapshot: one query each."""
    cid, snapshot = _history(app)
    version = None if after_the_snapshot is None else snapshot + after_the_snapshot
    with statements_run(app, tmp_path, monkeypatch) as executed:
        loaded = app.get(cid, version=version)
    assert len(_selects(executed)) == 1, executed
    assert loaded.version == (version or app.get(cid).version)
    assert state_of(loaded) == state_of(replayed(app, cid, version))


def test_the_control_the_librarys_repository_asks_twice(
    store: Settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """What the count above would show without ``REPOSITORY_TOPIC``: the snapshot, then the events."""
    monkeypatch.setattr("adapters.composition.ONE_QUERY_REPOSITORY", "")
    app = build_app(store, clock=lambda: date(2031, 1, 1))
    assert not isinstance(app.repository, OneQueryRepository)
    cid, _ = _history(app)
    with statements_run(app, tmp_path, monkeypatch) as executed:
        app.get(cid)
    assert len(_selects(executed)) == 2, executed
    app.close()


def test_an_unreadable_snapshot_is_skipped_and_the_events_replayed(
    app: ConventionsApp, store: Settings, caplog: pytest.LogCaptureFixture
) -> None:
    cid, _ = _history(app)
    _overwrite_snapshots(store, b"not a snapshot")
    with caplog.at_level(logging.WARNING, logger="adapters.snapshots"):
        loaded = app.get(cid)
    assert state_of(loaded) == state_of(replayed(app, cid))
    assert [r.getMessage() for r in caplog.records if "unreadable" in r.getMessage()], caplog.records


def _overwrite_snapshots(settings: Settings, state: bytes) -> None:
    if settings.store == "sqlite":
        with sqlite3.connect(settings.events_sqlite_path()) as con:
            con.execute("UPDATE stored_snapshots SET state = ?", (state,))
        return
    import psycopg

    with psycopg.connect(host=settings.postgres_host, port=settings.postgres_port, user=settings.postgres_user,
                         dbname=settings.postgres_dbname, autocommit=True) as con:  # fmt: skip
        con.execute(f"UPDATE {settings.postgres_schema}.conventions_snapshots SET state = %s", (state,))


def test_a_command_reads_the_store_once_then_saves(
    app: ConventionsApp, store: Settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Its receipt (not run yet), the convention and its last event's chain link come back from the
    load's one query; the save is the other statement. The chain it extends still verifies."""
    cid, _ = _history(app)
    meta = CommandMeta(actor="load.test", reason="test", command_id="left-1")
    with statements_run(app, tmp_path, monkeypatch) as executed:
        first = app.assistant_left(cid, meta, left_on=date(2025, 6, 1))
    reads = [s for s in _selects(executed) if not s.upper().startswith("INSERT")]
    if store.store == "postgres":
        assert len(executed) == 2, executed  # the load, and the insert function (adapters.pg_events)
    else:
        assert len(reads) == 1 and reads[0].startswith("WITH"), executed
    assert first["recorded"] == 1
    assert app.assistant_left(cid, meta, left_on=date(2025, 6, 1)) == first  # the retry: the first result
    assert len(app.history(cid)) == first["version"]
    app.close()
    report = run_audit(store, ("books", "chain"))
    assert report.ok, report.findings


def test_with_snapshots_off_the_librarys_repository_loads(store: Settings) -> None:
    """No snapshots table to read (``CONVENTIONS_SNAPSHOT_INTERVAL=0``): the library's repository,
    and a command and its retry still go through ``ConventionsApp._load_for``'s two reads."""
    app = build_app(store.model_copy(update={"snapshot_interval": 0}), clock=lambda: date(2031, 1, 1))
    assert not isinstance(app.repository, OneQueryRepository)
    cid = sign(app, META)
    meta = CommandMeta(actor="load.test", reason="test", command_id="hire-1")
    first = app.hire(cid, meta, hired_on=date(2025, 3, 1), fte=Decimal(1), profile="nurse")
    assert app.hire(cid, meta, hired_on=date(2025, 3, 1), fte=Decimal(1), profile="nurse") == first
    assert len(app.history(cid)) == first["version"] == 2
    app.close()
