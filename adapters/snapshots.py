"""The snapshot store: the library's, handing out only the snapshots today's code can use.

Snapshots live in their own table (SQLite ``stored_snapshots``, PostgreSQL ``conventions_snapshots``),
written by the same mapper as the events: encrypted with ``CONVENTIONS_CIPHER_KEY`` like them, never
chained (the hash chain covers events only: a snapshot is a cache, deleting one loses nothing).

The repository asks for the latest snapshot at or before a version. One that cannot be read (written
by a release whose convention state had another shape, ``domain.snapshot``, or unreadable for any
other reason) is skipped: the convention is then replayed from its events, which is always right.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from typing import Any
from uuid import UUID

from eventsourcing.persistence import EventStore, StoredEvent

_log = logging.getLogger(__name__)


class SnapshotStore(EventStore[UUID]):
    """``get`` yields the usable snapshots only (``usable``); ``put`` is the library's."""

    def get(
        self,
        originator_id: UUID,
        *,
        gt: int | None = None,
        lte: int | None = None,
        desc: bool = False,
        limit: int | None = None,
    ) -> Iterator[Any]:
        rows = self.recorder.select_events(originator_id, gt=gt, lte=lte, desc=desc, limit=limit)
        for row in rows:
            if (snapshot := self.usable(row)) is not None:
                yield snapshot

    def usable(self, row: StoredEvent) -> Any | None:
        """The snapshot stored in ``row``, or None (logged) when today's code cannot use it."""
        try:
            snapshot = self.mapper.to_domain_event(row)
        except Exception as error:  # noqa: BLE001 - a cache that cannot be read is only skipped
            _log.warning("snapshot %s v%s unreadable, replaying events: %r", row.originator_id,
                         row.originator_version, error)  # fmt: skip
            return None
        if not getattr(snapshot, "usable", True):
            _log.info("snapshot %s v%s written by another release, replaying events", row.originator_id,
                      row.originator_version)  # fmt: skip
            return None
        return snapshot


def drop_snapshots(recorder: Any) -> int:
    """Delete every snapshot (``conventions snapshots drop``): always safe, the next loads replay the
    events and the next saves write new snapshots. Returns how many were deleted."""
    table = recorder.events_table_name
    with recorder.datastore.transaction(commit=True) as cursor:
        if hasattr(recorder.datastore, "schema"):  # PostgreSQL: the table in its schema
            from psycopg import sql

            statement: Any = sql.SQL("DELETE FROM {}.{}").format(
                sql.Identifier(recorder.datastore.schema), sql.Identifier(table)
            )
        else:
            statement = f"DELETE FROM {table}"  # SQLite: the library's fixed table name  # noqa: S608
        cursor.execute(statement)
        return int(getattr(cursor, "sqlite_cursor", cursor).rowcount or 0)  # SQLite: the library wraps its cursor
