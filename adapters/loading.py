"""Loading a convention in one query: its latest snapshot and the events after it, together.

The library's repository (eventsourcing 9.5) asks the database twice for each load: the latest
snapshot, then the events after that snapshot's version. Every read of a convention and every
command on it loads it, and each query costs a round trip plus, in the interpreter, about 85 µs of
connection pool, statement building and row mapping: half of what a load costs when the convention
has few events since its snapshot (``docs/benchmarks.md``).

``OneQueryRepository`` asks once: the snapshot (kind 0) and the events after it (kind 1) come back
from one statement. What is rebuilt is unchanged: a snapshot today's code cannot use (another
release's, unreadable) is skipped and the events are replayed from the start, as the library's way
does (``adapters.snapshots``). The composition root chooses it for the
SQLite and PostgreSQL stores (``REPOSITORY_TOPIC``); the in-memory store keeps the library's.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from itertools import chain
from typing import Any
from uuid import UUID

from eventsourcing.application import AggregateNotFoundError, ProjectorFunction, Repository
from eventsourcing.persistence import InterfaceError, OperationalError, StoredEvent
from eventsourcing.utils import retry

from adapters.snapshots import SnapshotStore

# Kind 0: the latest snapshot at or before the version asked; kind 1: the events after it, in order.
_SELECT = (
    "WITH s AS (SELECT originator_version, topic, state FROM {snapshots} WHERE originator_id = {p}{upto} "
    "ORDER BY originator_version DESC LIMIT 1) "
    "SELECT 0, originator_version, topic, state FROM s "
    "UNION ALL "
    "SELECT 1, originator_version, topic, state FROM {events} WHERE originator_id = {p}"
    " AND originator_version > COALESCE((SELECT originator_version FROM s), 0){upto} "
    "ORDER BY 1, 2"
)


def select_statement(snapshots: str, events: str, placeholder: str, upto: bool) -> str:
    """The one statement, on these (quoted) tables; its parameters: the id, then (``upto``) the
    version asked, once per table."""
    limit = f" AND originator_version <= {placeholder}" if upto else ""
    return _SELECT.format(snapshots=snapshots, events=events, p=placeholder, upto=limit)


class OneQueryRepository(Repository[UUID]):
    """The library's repository, reconstructing an aggregate from one query of both tables."""

    snapshot_store: SnapshotStore | None

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._select: Callable[[UUID, int | None], Sequence[tuple[int, int, str, bytes]]] | None = None
        if self.snapshot_store is not None:
            self._select = _selector(self.event_store.recorder, self.snapshot_store.recorder)

    def _reconstruct_aggregate(
        self, aggregate_id: UUID, version: int | None, projector_func: ProjectorFunction[Any, Any]
    ) -> Any:
        if self._select is None or self.snapshot_store is None:
            return super()._reconstruct_aggregate(aggregate_id, version, projector_func)
        rows = self._select(aggregate_id, version)
        snapshots = []
        if rows and rows[0][0] == 0:
            kind, at, topic, state = rows[0]
            snapshot = self.snapshot_store.usable(StoredEvent(aggregate_id, at, topic, state))
            if snapshot is None:  # skipped (and logged), as the library's way does: every event replayed
                return self._replayed(
                    aggregate_id, version, projector_func, self.event_store.get(aggregate_id, lte=version)
                )
            snapshots.append(snapshot)
        decode = self.event_store.mapper.to_domain_event
        events = (decode(StoredEvent(aggregate_id, at, topic, state)) for kind, at, topic, state in rows if kind)
        return self._replayed(aggregate_id, version, projector_func, chain(snapshots, events))

    @staticmethod
    def _replayed(aggregate_id: UUID, version: int | None, projector_func: ProjectorFunction[Any, Any],
                  events: Iterable[Any]) -> Any:  # fmt: skip
        aggregate = projector_func(None, events)
        if aggregate is None:
            raise AggregateNotFoundError(f"Aggregate {aggregate_id!r} version {version!r} not found.")
        return aggregate


def _selector(events: Any, snapshots: Any) -> Callable[[UUID, int | None], Sequence[tuple[int, int, str, bytes]]]:
    """The query on this store's two tables (the same database: one datastore for both)."""
    if hasattr(events.datastore, "schema"):  # PostgreSQL
        return _postgres(events, snapshots)
    return _sqlite(events, snapshots)


def _postgres(events: Any, snapshots: Any) -> Callable[[UUID, int | None], Sequence[tuple[int, int, str, bytes]]]:
    from psycopg.rows import tuple_row

    datastore = events.datastore

    def table(name: str) -> str:
        return f'"{datastore.schema}"."{name}"' if datastore.schema else f'"{name}"'

    statements = {
        upto: select_statement(table(snapshots.events_table_name), table(events.events_table_name), "%s", upto).encode()
        for upto in (False, True)
    }

    @retry((InterfaceError, OperationalError), max_attempts=10, wait=0.2)  # as the library's selects
    def select(originator_id: UUID, version: int | None) -> list[tuple[int, int, str, bytes]]:
        params = (originator_id, originator_id) if version is None else (originator_id, version, originator_id, version)
        with datastore.get_connection() as conn, conn.cursor(row_factory=tuple_row) as curs:
            curs.execute(statements[version is not None], params, prepare=True)
            return [(kind, at, topic, bytes(state)) for kind, at, topic, state in curs.fetchall()]

    return select


def _sqlite(events: Any, snapshots: Any) -> Callable[[UUID, int | None], Sequence[tuple[int, int, str, bytes]]]:
    datastore = events.datastore
    statements = {
        upto: select_statement(snapshots.events_table_name, events.events_table_name, "?", upto)
        for upto in (False, True)
    }

    def select(originator_id: UUID, version: int | None) -> list[tuple[int, int, str, bytes]]:
        key = originator_id.hex  # how the library's SQLite recorder stores ids
        params = (key, key) if version is None else (key, version, key, version)
        with datastore.transaction(commit=False) as curs:
            curs.execute(statements[version is not None], params)
            return [(row[0], row[1], row[2], row[3]) for row in curs.fetchall()]

    return select
