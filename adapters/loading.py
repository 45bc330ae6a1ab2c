"""Loading a convention in one query: its latest snapshot, the events after it, and what a command
needs besides.

The library's repository (eventsourcing 9.5) asks the database twice for each load: the latest
snapshot, then the events after that snapshot's version. A command asked twice more: its receipt
(was it run already?) before, and the chain link of the convention's last event when saving. Each
query costs a round trip and, in the interpreter, about 85 µs of connection pool, statement building
and row mapping; under load each round trip also makes the request's thread win the interpreter back
from the others (``docs/benchmarks.md``).

``OneQueryRepository`` asks once: the snapshot (kind 0), the events from its version on (kind 1) and,
for a command, its receipt's events (kind 2, ``get_with``) come back from one statement. The last
event's stored link goes to the event store (``ChainedEventStore.remember``), which the save then
chains to. What is rebuilt is unchanged: a snapshot today's code cannot use (another release's,
unreadable) is skipped and the events are replayed from the start, as the library's way does
(``adapters.snapshots``). The composition root chooses it for the SQLite and PostgreSQL stores with
snapshots on (``REPOSITORY_TOPIC``); the in-memory store, or snapshots off, keep the library's.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from itertools import chain
from typing import Any
from uuid import UUID

from eventsourcing.application import AggregateNotFoundError, ProjectorFunction, Repository
from eventsourcing.persistence import InterfaceError, OperationalError, StoredEvent
from eventsourcing.utils import retry

from adapters.chain import CHAINED_TOPICS
from adapters.persistence import ChainedEventStore
from adapters.snapshots import SnapshotStore
from domain.events import CHAIN_KEY

# Kind 0: the latest snapshot at or before the version asked. Kind 1: the events from the snapshot's
# version on, in order (the one at that version is not replayed: its chain link is what the next save
# chains to). Kind 2 (``also``): every event of another aggregate, e.g. the command's receipt.
_SELECT = (
    "WITH s AS (SELECT originator_version, topic, state FROM {snapshots} WHERE originator_id = {p}{upto} "
    "ORDER BY originator_version DESC LIMIT 1) "
    "SELECT 0, originator_version, topic, state FROM s "
    "UNION ALL "
    "SELECT 1, originator_version, topic, state FROM {events} WHERE originator_id = {p}"
    " AND originator_version >= COALESCE((SELECT originator_version FROM s), 0){upto} "
    "{also}"
    "ORDER BY 1, 2"
)
_ALSO = "UNION ALL SELECT 2, originator_version, topic, state FROM {events} WHERE originator_id = {p} "

Row = tuple[int, int, str, bytes]
Select = Callable[[UUID, "int | None", "UUID | None"], Sequence[Row]]


def select_statement(snapshots: str, events: str, placeholder: str, upto: bool, also: bool) -> str:
    """The one statement, on these (quoted) tables; its parameters: the id, then (``upto``) the
    version asked, once per table, then (``also``) the other aggregate's id."""
    limit = f" AND originator_version <= {placeholder}" if upto else ""
    other = _ALSO.format(events=events, p=placeholder) if also else ""
    return _SELECT.format(snapshots=snapshots, events=events, p=placeholder, upto=limit, also=other)


def parameters(key: Any, version: int | None, other: Any | None) -> tuple[Any, ...]:
    params = (key, key) if version is None else (key, version, key, version)
    return params if other is None else (*params, other)


class OneQueryRepository(Repository[UUID]):
    """The library's repository, reconstructing an aggregate from one query of both tables."""

    snapshot_store: SnapshotStore
    event_store: ChainedEventStore

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if self.snapshot_store is None:  # the composition root chooses it only with snapshots on
            raise ValueError("OneQueryRepository reads the snapshots table: snapshots must be enabled")
        self._select = _selector(self.event_store.recorder, self.snapshot_store.recorder)

    def _reconstruct_aggregate(
        self, aggregate_id: UUID, version: int | None, projector_func: ProjectorFunction[Any, Any]
    ) -> Any:
        aggregate = self._rebuilt(aggregate_id, version, projector_func, self._select(aggregate_id, version, None))
        if aggregate is None:
            raise AggregateNotFoundError(f"Aggregate {aggregate_id!r} version {version!r} not found.")
        return aggregate

    def get_with(
        self, aggregate_id: UUID, other_id: UUID, projector_func: ProjectorFunction[Any, Any]
    ) -> tuple[Any | None, list[Any]]:
        """The aggregate now (None when it has no event) and every event of ``other_id``, from one
        query: a command's convention and its receipt (``ConventionsApp._command``)."""
        rows = self._select(aggregate_id, None, other_id)
        decode = self.event_store.mapper.to_domain_event
        others = [decode(StoredEvent(other_id, at, topic, state)) for kind, at, topic, state in rows if kind == 2]
        return self._rebuilt(aggregate_id, None, projector_func, [r for r in rows if r[0] != 2]), others

    def _rebuilt(
        self, aggregate_id: UUID, version: int | None, projector_func: ProjectorFunction[Any, Any], rows: Sequence[Row]
    ) -> Any | None:
        start, snapshots = 0, []
        if rows and rows[0][0] == 0:
            kind, start, topic, state = rows[0]
            snapshot = self.snapshot_store.usable(StoredEvent(aggregate_id, start, topic, state))
            if snapshot is None:  # skipped (and logged), as the library's way does: every event replayed
                return projector_func(None, self.event_store.get(aggregate_id, lte=version))
            snapshots.append(snapshot)
        events = [r for r in rows if r[0] == 1]
        if events:
            self._remember_link(aggregate_id, events[-1])
        decode = self.event_store.mapper.to_domain_event
        replayed = (decode(StoredEvent(aggregate_id, at, topic, state)) for _, at, topic, state in events if at > start)
        return projector_func(None, chain(snapshots, replayed))

    def _remember_link(self, aggregate_id: UUID, row: Row) -> None:
        """The chain link stored with the last event read, for the next save (none before the chain)."""
        _, at, topic, state = row
        if topic in CHAINED_TOPICS and (link := self.event_store.mapper.stored_state(state).get(CHAIN_KEY)):
            self.event_store.remember(aggregate_id, at, str(link))


def _selector(events: Any, snapshots: Any) -> Select:
    """The query on this store's two tables (the same database: one datastore for both)."""
    if hasattr(events.datastore, "schema"):  # PostgreSQL
        return _postgres(events, snapshots)
    return _sqlite(events, snapshots)


def _postgres(events: Any, snapshots: Any) -> Select:
    from psycopg.rows import tuple_row
    from psycopg.sql import Identifier

    datastore = events.datastore

    def table(name: str) -> str:
        return (Identifier(datastore.schema, name) if datastore.schema else Identifier(name)).as_string(None)

    tables = table(snapshots.events_table_name), table(events.events_table_name)
    statements = {
        (upto, also): select_statement(*tables, "%s", upto, also).encode()
        for upto in (False, True)
        for also in (False, True)
    }

    @retry((InterfaceError, OperationalError), max_attempts=10, wait=0.2)  # as the library's selects
    def select(originator_id: UUID, version: int | None, other_id: UUID | None) -> list[Row]:
        with datastore.get_connection() as conn, conn.cursor(row_factory=tuple_row) as curs:
            curs.execute(
                statements[version is not None, other_id is not None],
                parameters(originator_id, version, other_id),
                prepare=True,
            )
            return [(kind, at, topic, bytes(state)) for kind, at, topic, state in curs.fetchall()]

    return select


def _sqlite(events: Any, snapshots: Any) -> Select:
    datastore = events.datastore
    statements = {
        (upto, also): select_statement(snapshots.events_table_name, events.events_table_name, "?", upto, also)
        for upto in (False, True)
        for also in (False, True)
    }

    def select(originator_id: UUID, version: int | None, other_id: UUID | None) -> list[Row]:
        # The library's SQLite recorder stores ids as their hex text.
        params = parameters(originator_id.hex, version, None if other_id is None else other_id.hex)
        with datastore.transaction(commit=False) as curs:
            curs.execute(statements[version is not None, other_id is not None], params)
            return [(row[0], row[1], row[2], row[3]) for row in curs.fetchall()]

    return select
