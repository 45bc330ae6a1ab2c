"""What every read model shares: the batch interface and a cache of per-convention state.

A read model receives a whole batch of events inside the runner's transaction, keeps the state
it needs per convention in memory while the batch runs, and writes its rows with a few
``executemany`` at the end of the batch. Its per-convention state is also stored (JSON column), so
a cache miss, a restart or another process resumes from what is committed, never from memory.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import date
from decimal import Decimal
from typing import Any, ClassVar, Generic, TypeVar

import orjson

from domain.events import Event
from projections.engine.privacy import Sealer
from projections.engine.store import Table, Tx

# (notification id, event, convention id as text, the event's stored JSON state as text)
Item = tuple[int, Event, str, str]
S = TypeVar("S")  # what a stateful read model keeps per convention

# Conventions per read model kept in memory between batches (about 12 KB each for the five models):
# beyond, the oldest half is dropped (their rows are written first) and re-read when needed again.
MAX_CACHED = 25_000
FLUSH_ROWS = 2_000  # rows per statement when a read model writes its per-convention rows


def evict(cache: dict[str, Any]) -> None:
    """Keep the newer half of a cache (dicts keep insertion order: the oldest entries go)."""
    for key in list(cache)[: len(cache) - MAX_CACHED // 2]:
        del cache[key]


def cents(amount: Decimal) -> int:
    """Money is stored as integer cents: exact, and summed alike by SQLite and PostgreSQL."""
    return int(amount * 100)


def euros(value: int | None) -> Decimal:
    return Decimal(int(value or 0)) / 100


def iso(day: date | None) -> str | None:
    return None if day is None else day.isoformat()


class ReadModel:
    """Base of the read models. Subclasses set ``name`` and ``tables`` and implement ``apply``."""

    name: ClassVar[str]
    tables: ClassVar[tuple[Table, ...]]
    # Tables earlier releases had and this one dropped: removed with the generation that holds them.
    retired: ClassVar[tuple[str, ...]] = ()
    # Set by the runner while it fills a generation nobody reads yet (rebuild, verify): per-convention
    # rows may then be written once, at the end of the catch-up, instead of after every batch.
    deferred: bool = False
    # Set by the runner from its store: seals the personal values this read model writes (None: clear).
    sealer: Sealer | None = None

    @classmethod
    def every_table(cls) -> tuple[Table, ...]:
        """This release's tables and the retired ones (by name: enough to drop them)."""
        return (*cls.tables, *(Table(name, (), ()) for name in cls.retired))

    def reset(self, *, empty: bool) -> None:
        """Forget in-memory state (after a rollback, or when another process moved the position).

        ``empty``: the tables are known to be empty (a fresh generation), so misses need no query.
        """

    def apply(self, tx: Tx, items: Sequence[Item]) -> None:
        raise NotImplementedError

    def finish(self, tx: Tx, caught_up: bool) -> None:
        """End of a batch, still in its transaction. ``caught_up``: no more events after it."""


class StatefulModel(ReadModel, Generic[S]):
    """A read model with one state per convention, kept in ``main`` (column ``state``).

    The state is a dict read back from its JSON; a model that keeps typed states (the calendar)
    says which columns to read back (``state_columns``), how to decode them (``decode``) and how to
    write a part of its rows (``write``)."""

    main: ClassVar[Table]
    state_columns: ClassVar[str] = "state"  # read back after ``convention_id`` on a cache miss

    def __init__(self) -> None:
        self.reset(empty=False)

    def reset(self, *, empty: bool) -> None:
        self.cache: dict[str, S] = {}
        self.complete = empty
        self.touched: set[str] = set()

    def load(self, tx: Tx, ids: Iterable[str]) -> None:
        """Bring the states of ``ids`` into the cache (one query for the misses).

        ``ids`` may be a generator: it is not even iterated once the cache is known complete."""
        if self.complete:
            return
        missing = {i for i in ids if i not in self.cache}
        if missing:
            columns = f"convention_id, {self.state_columns}"
            for cid, *stored in tx.select_in(self.main, "convention_id", sorted(missing), columns):
                self.cache[cid] = self.decode(*stored)

    def decode(self, state: str, *more: Any) -> S:
        """The state of one convention from the columns ``state_columns`` read back."""
        return orjson.loads(state)  # type: ignore[no-any-return]

    def state(self, cid: str) -> S | None:
        st = self.cache.get(cid)
        if st is not None:
            self.touched.add(cid)
        return st

    def create(self, cid: str, st: S) -> S:
        self.cache[cid] = st
        self.touched.add(cid)
        return st

    def row(self, cid: str, st: S) -> tuple[Any, ...]:
        raise NotImplementedError

    def finish(self, tx: Tx, caught_up: bool) -> None:
        if caught_up or not self.deferred or len(self.cache) > MAX_CACHED:
            self.flush(tx)

    def flush(self, tx: Tx) -> None:
        ids = sorted(self.touched)
        for i in range(0, len(ids), FLUSH_ROWS):  # the end of a rebuild writes every convention: in parts
            self.write(tx, ids[i : i + FLUSH_ROWS])
        self.touched = set()
        if len(self.cache) > MAX_CACHED:
            evict(self.cache)
            self.complete = False

    def write(self, tx: Tx, ids: list[str]) -> None:
        """Write the rows of ``ids`` (at most ``FLUSH_ROWS`` of them)."""
        tx.upsert(self.main, [self.row(cid, self.cache[cid]) for cid in ids])
