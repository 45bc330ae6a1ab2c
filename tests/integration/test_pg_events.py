"""The PostgreSQL event recorder (``adapters.pg_events``): a save is one statement that the database
runs and commits by itself, under the log's table lock, so no writer holds that lock while it waits
for a client; ids come back in the order given; a duplicate version stores nothing."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import psycopg
import pytest
from eventsourcing.persistence import IntegrityError, StoredEvent

from adapters.composition import build_app
from adapters.pg_events import OneStatementRecorder
from adapters.settings import Settings
from domain.application import ConventionsApp
from tests.conftest import PG
from tests.helpers import sent_statements, traced
from tests.waiting import wait_until

pytestmark = pytest.mark.postgres


@pytest.fixture
def app(pg_settings: Settings) -> Iterator[ConventionsApp]:
    app = build_app(pg_settings)
    yield app
    app.close()


def events(oid: uuid.UUID, *versions: int) -> list[StoredEvent]:
    return [StoredEvent(oid, v, "tests.Stored", f'{{"v": {v}}}'.encode()) for v in versions]


def waiting(observer: psycopg.Connection, sql: str, params: tuple[Any, ...], started: Future[Any]) -> bool:
    """Whether the database shows the ``started`` work waiting (``sql`` finds a row), or it ended."""
    return bool(observer.execute(sql, params).fetchall()) or started.done()


def recorder_of(app: ConventionsApp) -> OneStatementRecorder:
    assert isinstance(app.recorder, OneStatementRecorder), type(app.recorder)  # what the deployment uses
    return app.recorder


def test_a_save_is_one_statement_without_begin_or_commit(
    app: ConventionsApp, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    recorder = recorder_of(app)
    taken = recorder.datastore.get_connection
    with traced(tmp_path / "trace") as trace:

        @contextmanager
        def tracing() -> Iterator[Any]:
            with taken() as conn:
                trace(conn)
                yield conn

        monkeypatch.setattr(recorder.datastore, "get_connection", tracing)
        recorder.insert_events(events(uuid.uuid4(), 1, 2))
        monkeypatch.undo()
    sent = sent_statements(tmp_path / "trace")
    assert len(sent) == 1, sent
    assert recorder.insert_function_name in sent[0], sent
    assert not any(word in s for s in sent for word in ("BEGIN", "COMMIT", "LOCK")), sent


def test_a_save_waits_for_a_transaction_inserting_and_then_takes_the_next_ids(
    app: ConventionsApp, pg_schema: str
) -> None:
    """The lock keeps commit order equal to id order: while another transaction may still insert
    (it holds ROW EXCLUSIVE, as any INSERT does, which a bare INSERT would not wait for), a save
    waits for it to end."""
    recorder = recorder_of(app)
    before = recorder.max_notification_id() or 0
    with psycopg.connect(**PG) as holder, psycopg.connect(**PG, autocommit=True) as observer:
        holder.execute(f'LOCK TABLE "{pg_schema}".conventions_events IN ROW EXCLUSIVE MODE')  # a writer
        with ThreadPoolExecutor(1) as pool:
            saving = pool.submit(recorder.insert_events, events(uuid.uuid4(), 1, 2, 3))
            waits = "SELECT 1 FROM pg_stat_activity WHERE wait_event_type = 'Lock' AND query LIKE %s"
            wait_until(lambda: waiting(observer, waits, (f"%{recorder.insert_function_name}%",), saving),
                       "the save waiting for the log's lock")  # fmt: skip
            assert not saving.done(), saving.result()
            holder.rollback()  # the other writer commits (nothing, here): the lock is free
            ids = saving.result()
    assert list(ids) == sorted(ids) and ids[0] > before and len(set(ids)) == 3, ids


def test_ids_come_back_in_the_order_given_and_match_the_log(app: ConventionsApp) -> None:
    recorder = recorder_of(app)
    a, b = uuid.uuid4(), uuid.uuid4()
    given = [*events(a, 1), *events(b, 1), *events(a, 2), *events(b, 2)]
    ids = recorder.insert_events(given)
    assert ids is not None and len(ids) == 4
    logged = {n.id: (n.originator_id, n.originator_version) for n in recorder.select_notifications(ids[0], 10)}
    assert [logged[i] for i in ids] == [(e.originator_id, e.originator_version) for e in given]


def test_a_duplicate_version_is_an_integrity_error_and_stores_nothing(app: ConventionsApp) -> None:
    """What the application turns into a concurrent modification (409): the batch is all or nothing."""
    recorder = recorder_of(app)
    oid = uuid.uuid4()
    recorder.insert_events(events(oid, 1))
    with pytest.raises(IntegrityError):
        recorder.insert_events([*events(uuid.uuid4(), 1), *events(oid, 2, 1)])
    assert [e.originator_version for e in recorder.select_events(oid)] == [1]
    assert recorder.insert_events(events(oid, 2)) is not None  # and the connection is usable again


def test_processes_starting_together_create_the_log_one_at_a_time(pg_settings: Settings, pg_schema: str) -> None:
    """While another process holds the schema's DDL lock, a new one waits before creating anything."""
    with psycopg.connect(**PG) as holder, psycopg.connect(**PG, autocommit=True) as observer:
        holder.execute("SELECT pg_advisory_xact_lock(hashtext(%s))", (f"{pg_schema}.events_ddl",))
        with ThreadPoolExecutor(1) as pool:
            starting = pool.submit(build_app, pg_settings)
            waits = (
                "SELECT 1 FROM pg_locks WHERE locktype = 'advisory' AND NOT granted AND database = "
                "(SELECT oid FROM pg_database WHERE datname = current_database())"
            )
            wait_until(lambda: waiting(observer, waits, (), starting), "the new process waiting for the DDL lock")
            assert not starting.done(), starting.result()
            holder.rollback()
            started = starting.result()
    assert isinstance(started.recorder, OneStatementRecorder)
    started.close()
