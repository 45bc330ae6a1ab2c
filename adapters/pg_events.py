"""The PostgreSQL event recorder: the log's table lock is held inside the database only.

Every insert into the event log takes the log table's EXCLUSIVE lock, so that events are committed
in the order of their ids: a follower tailing the log (projections, the scheduler) never passes an id
that a slower transaction fills in later. The library's recorder (eventsourcing 9.5) takes that lock
in a transaction the client drives: LOCK, INSERT, then COMMIT once the client has read the new ids.
Between the two the lock waits for the client: a network round trip, and a free turn of a busy
worker's GIL. Under the load benchmark every command held it about 10 ms and a dozen commands
queued behind it (``pg_stat_activity``: one session ``idle in transaction`` after its INSERT, the
others waiting on the lock), so commands took 300 ms for 5 ms of work.

Here the same lock, notification and insert run in one function of the database
(``cpam_insert_<table>``), called as one statement in autocommit: the server takes the lock,
inserts, commits and releases it without waiting for anyone. What is stored, the ids, the ordering
guarantee and the errors (a duplicate version is the library's ``IntegrityError``) are unchanged.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from eventsourcing.persistence import InterfaceError, OperationalError, StoredEvent
from eventsourcing.postgres import PostgresApplicationRecorder, PostgresDatastore
from eventsourcing.utils import retry
from psycopg.rows import tuple_row
from psycopg.sql import SQL, Composed, Identifier, Literal


class OneStatementRecorder(PostgresApplicationRecorder):
    """The library's application recorder, inserting events with one call of a database function."""

    def __init__(self, datastore: PostgresDatastore, *, events_table_name: str = "stored_events") -> None:
        super().__init__(datastore, events_table_name=events_table_name)
        self.insert_function_name = f"cpam_insert_{events_table_name}"
        self.check_identifier_length(self.insert_function_name)
        names = {
            "schema": Identifier(datastore.schema),
            "table": Identifier(events_table_name),
            "function": Identifier(self.insert_function_name),
            "id_type": Identifier(datastore.originator_id_type),
            "channel": Identifier(self.channel_name),
        }
        # The output columns are not named like the table's: PL/pgSQL would find them ambiguous.
        self.sql_create_statements.append(
            SQL(
                "CREATE OR REPLACE FUNCTION {schema}.{function}("
                "ids {id_type}[], versions bigint[], topics text[], states bytea[]) "
                "RETURNS TABLE (o_id {id_type}, o_version bigint, n_id bigint) "
                "LANGUAGE plpgsql AS $BODY$ "
                "BEGIN "
                "SET LOCAL lock_timeout = '{lock_timeout}s'; "
                "LOCK TABLE {schema}.{table} IN EXCLUSIVE MODE; "
                "NOTIFY {channel}; "
                "RETURN QUERY INSERT INTO {schema}.{table} AS t (originator_id, originator_version, topic, state) "
                "SELECT e.i, e.v, e.t, e.s FROM unnest(ids, versions, topics, states) "
                "WITH ORDINALITY AS e(i, v, t, s, n) ORDER BY e.n "
                "RETURNING t.originator_id, t.originator_version, t.notification_id; "
                "END; $BODY$"
            ).format(lock_timeout=datastore.lock_timeout, **names)
        )
        # The log's head, the state at a position and whether an event of given topics follows it:
        # one statement, so one snapshot of the log (``log_at``). The first id after the position, not
        # EXISTS: the statement is prepared, and a generic plan of EXISTS scanned the whole table.
        self.log_at_query = SQL(
            "SELECT (SELECT MAX(notification_id) FROM {schema}.{table}), "
            "(SELECT state FROM {schema}.{table} WHERE notification_id = %(position)s), "
            "(SELECT notification_id FROM {schema}.{table} WHERE notification_id > %(position)s "
            "AND topic = ANY({topics}) ORDER BY notification_id LIMIT 1) IS NOT NULL"
        )
        self._names = names
        # Statements rendered once: psycopg otherwise composes them, and dumps the topics, at each call.
        self._log_at: dict[tuple[str, ...], bytes] = {}
        self._insert_call: bytes | None = None
        self.insert_call = SQL(
            "SELECT o_id, o_version, n_id FROM {schema}.{function}"
            "(%s::{id_type}[], %s::bigint[], %s::text[], %s::bytea[])"
        ).format(**names)

    def _create_table(self, curs: Any) -> None:
        """One process at a time creates or replaces the log's tables, index and functions in this
        schema: processes starting together on PostgreSQL would otherwise race on ``CREATE OR REPLACE
        FUNCTION`` (``tuple concurrently updated``) and on ``CREATE TABLE IF NOT EXISTS``."""
        curs.execute("SELECT pg_advisory_xact_lock(hashtext(%s))", (f"{self.datastore.schema}.events_ddl",))
        super()._create_table(curs)

    def insert_events(self, stored_events: Sequence[StoredEvent], **kwargs: Any) -> Sequence[int] | None:
        """The events' notification ids, in the order given. The application passes ``tracking=None``;
        a call with anything more (a process recorder's tracking) takes the library's own way."""
        if any(value is not None for value in kwargs.values()):
            return super().insert_events(stored_events, **kwargs)
        if not stored_events:
            return []
        return self._insert_in_one_statement(stored_events)

    @retry((InterfaceError, OperationalError), max_attempts=10, wait=0.2)  # as the library's insert
    def _insert_in_one_statement(self, stored_events: Sequence[StoredEvent]) -> list[int]:
        params = (
            [e.originator_id for e in stored_events],
            [e.originator_version for e in stored_events],
            [e.topic for e in stored_events],
            [e.state for e in stored_events],
        )
        with self.datastore.get_connection() as conn, conn.cursor() as curs:
            if not conn.autocommit:  # the library's pool connections are: one statement, one transaction
                raise RuntimeError("the event recorder needs connections in autocommit")
            if self._insert_call is None:
                self._insert_call = self.insert_call.as_bytes(conn)
            curs.execute(self._insert_call, params, prepare=True)
            ids = {(row["o_id"], row["o_version"]): row["n_id"] for row in curs.fetchall()}
        return [ids[(e.originator_id, e.originator_version)] for e in stored_events]

    def log_at_statement(self, topics: Sequence[str]) -> Composed:
        """``log_at``'s statement for these topics (a constant of the statement, not a parameter)."""
        return self.log_at_query.format(topics=Literal(list(topics)), **self._names)

    @retry((InterfaceError, OperationalError), max_attempts=10, wait=0.2)  # as the library's selects
    def log_at(self, position: int, topics: Sequence[str]) -> tuple[int, bytes | None, bool]:
        """The log's head, the stored state at ``position`` (None if none) and whether an event of
        ``topics`` comes after it, from one statement: what a read model's freshness needs, where
        the library's methods take three queries (``adapters.http.read_models``)."""
        with self.datastore.get_connection() as conn, conn.cursor(row_factory=tuple_row) as curs:
            statement = self._log_at.get(key := tuple(topics))
            if statement is None:
                statement = self._log_at[key] = self.log_at_statement(topics).as_bytes(conn)
            curs.execute(statement, {"position": position}, prepare=True)
            head, state, behind = curs.fetchone() or (None, None, False)
        return int(head or 0), None if state is None else bytes(state), bool(behind)
