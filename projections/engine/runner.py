"""The projection runner: reads the notification log in batches and feeds the read models.

Each batch is one transaction on the projection database: every read model's rows *and* its
position (the last notification id applied) are written together, so a crash at any point, even
``kill -9`` in the middle of a batch, leaves either the whole batch or none of it. Positions are
notification ids, compared with ``>``: gaps in ids (PostgreSQL) are harmless.

Works by polling on SQLite (eventsourcing 9.5 has no SQLite subscription) and identically on
PostgreSQL. Only convention events are read (a topic filter in the query): command receipts and
doctor registrations live in the same log but no read model needs them.
"""

from __future__ import annotations

import gc
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any
from uuid import UUID

import orjson

from domain.events import CONVENTION_EVENTS, Event
from projections.base import Item, ReadModel
from projections.engine.decode import TrustedDecoder
from projections.engine.log import AppLog, Log
from projections.engine.privacy import Sealer, stored_form
from projections.engine.store import ProjectionStore, Tx, physical
from projections.engine.write_behind import Direct, WriteBehind

TOPICS = [cls.TOPIC for cls in CONVENTION_EVENTS]
BATCH = 500
ABANDONED_AFTER = 120.0  # seconds without progress after which a non-live generation is dropped

Writes = Direct | WriteBehind
Progress = Callable[[int, int], None]  # (events applied in this batch, position reached)


@dataclass
class Target:
    """A read model writing into one generation of its tables."""

    model: ReadModel
    generation: int
    expected: int | None = None  # the position this process last committed (None: unknown)
    pending: int | None = None  # the position the open transaction will commit


@dataclass(frozen=True)
class Difference:
    projection: str
    table: str
    key: tuple[Any, ...]
    live: tuple[Any, ...] | None
    fresh: tuple[Any, ...] | None


class Runner:
    """Catch up, follow, rebuild and verify the read models of one application."""

    def __init__(
        self,
        app: Any,
        store: ProjectionStore,
        models: Sequence[ReadModel],
        batch_size: int = BATCH,
        log: Log | None = None,
    ) -> None:
        self.app = app
        self.log: Log = log or AppLog(app)
        self.decode = TrustedDecoder(app.stored_mapper())
        self.store = store
        self.models = list(models)
        self.sealed = seal_like_the_log(store, self.decode.mapper)
        for m in self.models:
            m.sealer = store.sealer
        self.batch_size = batch_size
        self._live: list[Target] = []
        self._maybe_dirty = True
        self.timings: dict[str, float] = {}  # seconds spent per stage (read, decode, each model, commit)
        self.rebuilt_events = 0  # events applied by rebuilds, for ``catch_up``'s count
        self._ids: dict[Any, str] = {}  # originator id as read (UUID or stored text) -> str(UUID), cached
        self._current: set[tuple[str, int]] = set()  # (read model, generation) whose columns were checked

    def model(self, name: str) -> ReadModel:
        for m in self.models:
            if m.name == name:
                return m
        raise KeyError(f"unknown projection {name!r}; known: {', '.join(m.name for m in self.models)}")

    # ------------------------------------------------------------------ live tables
    def ensure_live(self, progress: Progress | None = None) -> list[Target]:
        """Target the live tables; read models that have none are first built like a rebuild
        (beside, then switched), which is several times faster than filling indexed live tables."""
        with self.store.reading() as tx:
            missing = [m.name for m in self.models if self._live_generation(tx, m) is None]
        if missing:
            self.rebuild(missing, progress=progress)
        with self.store.reading() as tx:
            targets = []
            for m in self.models:
                gen = self.store.live_generation(tx, m.name)
                if gen is None:
                    raise LookupError(f"projection {m.name} has no live tables")
                old = next((t for t in self._live if t.model is m and t.generation == gen), None)
                targets.append(old or Target(m, gen))
        self._live = targets
        return targets

    def head(self) -> int:
        return self.log.head()

    def positions(self, head: int | None = None) -> dict[str, dict[str, Any]]:
        """Per read model: live generation and position, plus the log's head (``head``: the caller
        just read it)."""
        head = self.head() if head is None else head
        with self.store.reading() as tx:
            out = {}
            every = self.store.every_generation(tx)
            for m in self.models:
                for gen, pos, live in every.get(m.name, ()):
                    if live and self._current_schema(tx, m, gen):
                        out[m.name] = {"generation": gen, "position": pos, "head": head, "lag": head - pos}
        return out

    def slowest(self, positions: dict[str, dict[str, Any]]) -> int:
        """The slowest read model's position in ``positions`` (0 while one has no tables yet)."""
        if len(positions) < len(self.models):
            return 0
        return min((p["position"] for p in positions.values()), default=0)

    def lag(self, position: int, head: int, applied_after: bool | None = None) -> int:
        """Notifications after ``position`` up to ``head``, or 0 when none of them is an event the
        read models apply: the log may end with command receipts and doctor registrations, which no
        read model reads, so the position never reaches the head and "behind" would be untrue.
        ``applied_after``: whether such an event follows, when the caller read it with the head."""
        lag = max(head - position, 0)
        if lag and position > 0:
            if applied_after is None:
                applied_after = bool(self.log.read(position + 1, 1, head, TOPICS))
            if not applied_after:
                return 0
        return lag

    def _live_generation(self, tx: Tx, model: ReadModel) -> int | None:
        """The live generation, or None when there is none or it was built by a release whose tables
        had other columns: such a read model is rebuilt (beside, then switched) like a missing one."""
        gen = self.store.live_generation(tx, model.name)
        return gen if gen is not None and self._current_schema(tx, model, gen) else None

    def _current_schema(self, tx: Tx, model: ReadModel, gen: int) -> bool:
        """Whether the generation's tables have this release's columns and were sealed with this
        key, or written in clear when there is none (checked once per process)."""
        if (model.name, gen) in self._current:
            return True
        if self.store.sealed_with(tx, model.name, gen) != self.store.fingerprint:
            return False  # written in clear before the key was set, or with another key: rebuilt
        if all(self.store.columns_of(tx, t, gen) == t.column_names for t in model.tables):
            self._current.add((model.name, gen))
            return True
        return False

    def catch_up(self, *, until: int | None = None, progress: Progress | None = None) -> int:
        """Apply every event recorded so far to the live read models; returns how many."""
        for attempt in range(3):
            built = self.rebuilt_events
            targets = self.ensure_live(progress)
            try:
                return self.rebuilt_events - built + self._catch_up(targets, until=until, progress=progress)
            except LookupError:  # a rebuild switched generations under us: target the new ones
                if attempt == 2:
                    raise
        return 0  # pragma: no cover

    def follow(
        self, *, poll: float = 0.2, stop: Callable[[], bool] = lambda: False, on_batch: Progress | None = None
    ) -> None:
        """Keep catching up until ``stop()``: new events show within ``poll`` + one batch."""
        while not stop():
            if self.catch_up(progress=on_batch) == 0:
                time.sleep(poll)

    # ------------------------------------------------------------------ batches
    def _catch_up(
        self, targets: list[Target], *, until: int | None, progress: Progress | None, writes: Writes | None = None
    ) -> int:
        """Batches until caught up. ``writes``: a rebuild's fresh generations, which this runner alone
        fills, written through ``store.writes_behind()``; their positions are known here."""
        total = 0
        while True:
            gc.disable()  # a batch allocates much and frees it by refcount: no need to scan the caches
            try:
                with writes.batch() if writes is not None else self.store.transaction() as tx:
                    n, caught_up = self._batch(tx, targets, until, progress, known=writes is not None)
                    began = time.perf_counter()
                self._clock("commit", began)
            finally:
                gc.enable()
            self._committed(targets)
            total += n
            if caught_up:
                return total

    def _batch(
        self, tx: Tx, targets: list[Target], until: int | None, progress: Progress | None, known: bool = False
    ) -> tuple[int, bool]:
        """One batch inside ``tx``: read, apply, write rows and positions. Returns (events, caught up).

        ``known``: the positions this process committed are trusted instead of read back."""
        try:
            positions = []
            for t in targets:
                if known and t.expected is not None:
                    pos = t.expected
                else:
                    pos = self.store.lock_position(tx, t.model.name, t.generation)
                if pos != t.expected:
                    t.model.reset(empty=pos == 0)  # another process moved it, or first batch here
                t.expected = None  # unknown until this transaction commits
                t.pending = pos
                positions.append(pos)
            start = min(positions)
            if until is not None and start >= until:
                return 0, True
            began = time.perf_counter()
            # Read before the select: ids become visible in order (SQLite serialises writers,
            # PostgreSQL locks the table per insert), so once caught up every convention event up to
            # ``head`` has been seen and the position may skip the receipts after the last one.
            head = self.head() if until is None else 0
            rows = self.log.read(start + 1, self.batch_size, until, TOPICS)
            began = self._clock("read", began)
            caught_up = len(rows) < self.batch_size or (until is not None and rows[-1][0] >= until)
            if not rows and not self._maybe_dirty and all(pos >= head for pos in positions):
                return 0, True
            to_event = self.decode
            plain = to_event.plain  # stored state is the JSON itself (no cipher, no compressor)
            sealed = self.sealed  # the history keeps the stored bytes as they are: encrypted
            items: list[Item] = []
            ids = self._ids
            for nid, oid, version, topic, data in rows:
                event = to_event(oid, version, topic, data)
                if isinstance(event, Event):
                    state = data.decode() if plain else stored_form(data) if sealed else _state_json(event)
                    if (cid := ids.get(oid)) is None:  # the read models' key: str(UUID)
                        if len(ids) > 100_000:
                            ids.clear()
                        cid = ids[oid] = str(oid) if oid.__class__ is not str else str(UUID(oid))
                    items.append((nid, event, cid, state))
            last = rows[-1][0] if rows else None
            if caught_up and head > (last or 0):
                last = head
            began = self._clock("decode", began)
            for t, pos in zip(targets, positions, strict=True):
                self._bind(tx, t)
                mine = items if pos == start else [it for it in items if it[0] > pos]
                if mine:
                    t.model.apply(tx, mine)
                t.model.finish(tx, caught_up)
                began = self._clock(t.model.name, began)
                if last is not None and last > pos:
                    self.store.set_position(tx, t.model.name, t.generation, last)
                    t.pending = last
            self._maybe_dirty = not caught_up
            if progress and rows:
                progress(len(rows), last or start)
            return len(rows), caught_up
        except BaseException:
            for t in targets:
                t.expected = None
                t.model.reset(empty=False)
            raise

    def _clock(self, stage: str, began: float) -> float:
        now = time.perf_counter()
        self.timings[stage] = self.timings.get(stage, 0.0) + now - began
        return now

    def _committed(self, targets: list[Target]) -> None:
        for t in targets:
            t.expected = t.pending

    def _bind(self, tx: Tx, target: Target) -> None:
        for table in target.model.tables:
            tx.tables[table.name] = physical(table, target.generation)

    # ------------------------------------------------------------------ rebuild and verify
    def rebuild(self, names: Sequence[str] | None = None, *, progress: Progress | None = None) -> dict[str, int]:
        """Rebuild read models beside the live tables, then switch to them in one transaction."""
        models = [self.model(n) for n in names] if names else self.models
        self._drop_abandoned(models)
        targets = self._fresh(models)
        with self.store.bulk(), _deferred(models):
            with self.store.writes_behind() as writes:
                self.rebuilt_events += self._catch_up(targets, until=None, progress=progress, writes=writes)
                began = time.perf_counter()
                writes.drain()
                self._clock("drain", began)
            self.timings["written_behind"] = self.timings.get("written_behind", 0.0) + writes.busy
            began = time.perf_counter()
            with self.store.transaction() as tx:
                for t in targets:
                    self.store.create_indexes(tx, t.generation, t.model.tables)
            began = self._clock("indexes", began)
        began = self._clock("checkpoint", began)
        while True:  # the last events and the switch, in one transaction
            with self.store.transaction() as tx:
                n, caught_up = self._batch(tx, targets, None, progress)
                self.rebuilt_events += n
                if caught_up:
                    for t in targets:
                        self.store.switch(tx, t.model.name, t.generation, t.model.every_table())
            self._committed(targets)
            if caught_up:
                break
        if self.store.sealer is not None:
            self.store.settle()  # the pages of a generation written in clear, zeroed in the file now
        self._live = []
        return {t.model.name: t.generation for t in targets}

    def _drop_abandoned(self, models: Sequence[ReadModel]) -> None:
        """Generations left by an interrupted rebuild or verify (never live, idle): drop them.

        A generation another process is still filling advances every batch and is left alone: both
        rebuilds then finish and the last switch wins (same rows either way).
        """
        with self.store.transaction() as tx:
            for m in models:
                for gen in self.store.idle_builds(tx, m.name, ABANDONED_AFTER):
                    self.store.drop_generation(tx, m.name, gen, m.tables)

    def _fresh(self, models: Sequence[ReadModel], *, scratch: bool = False) -> list[Target]:
        with self.store.transaction() as tx:
            create = self.store.create_generation
            targets = [
                Target(m, create(tx, m.name, m.tables, live=False, indexes=False, scratch=scratch)) for m in models
            ]
        for t in targets:
            t.model.reset(empty=True)
        return targets

    def verify(self, *, progress: Progress | None = None, limit: int = 1000) -> list[Difference]:
        """Replay everything into fresh tables and list every row that differs from the live ones.

        The read models at the same position (all of them, once caught up) are replayed together,
        from one read of the log, in the runner's own thread (not written behind, as a rebuild is:
        verify thereby checks a rebuild's rows against the plain path)."""
        self.catch_up()
        with self.store.reading() as tx:
            live = {m.name: (self.store.live_generation(tx, m.name), m) for m in self.models}
            until = {name: self.store.lock_position(tx, name, gen) for name, (gen, _) in live.items()}
        self._live = []
        diffs: list[Difference] = []
        together: dict[int, list[ReadModel]] = {}
        for name, (_, m) in live.items():
            together.setdefault(until[name], []).append(m)
        for position, models in sorted(together.items()):
            fresh = self._fresh(models, scratch=True)
            each = (lambda n, pos, k=len(models): progress(n * k, pos)) if progress else None  # per model
            try:
                with self.store.bulk(), _deferred(models):
                    self._catch_up(fresh, until=position, progress=each)
                with self.store.reading() as tx:
                    for t in fresh:
                        for table in t.model.tables:
                            a, b = physical(table, live[t.model.name][0]), physical(table, t.generation)
                            diffs.extend(_diff(tx, t.model.name, table, a, b, limit - len(diffs)))
            finally:
                with self.store.transaction() as tx:
                    for t in fresh:
                        self.store.drop_generation(tx, t.model.name, t.generation, t.model.tables)
                for m in models:
                    m.reset(empty=False)
        return diffs


@contextmanager
def _deferred(models: Sequence[ReadModel]) -> Iterator[None]:
    for m in models:
        m.deferred = True
    try:
        yield
    finally:
        for m in models:
            m.deferred = False


def seal_like_the_log(store: ProjectionStore, mapper: Any) -> bool:
    """Give the store the sealer of the event store's key when it has none; whether the read
    models are sealed. A cipher in the log means sealed read models, whoever built the store."""
    if store.sealer is None:
        store.sealer = Sealer.for_cipher(mapper.cipher)
    if store.sealer is None:
        return False
    if not store.sealer.same_key(mapper.cipher) or mapper.compressor is not None:
        raise ValueError(
            "the read models are sealed with the event store's own key (CONVENTIONS_CIPHER_KEY), "
            "and its events must be encrypted with it, without a compressor"
        )
    return True


def _same_rows(tx: Tx, table: Any, live: str, fresh: str) -> bool:
    """SQLite's quick proof that two tables hold the same rows: as many rows each, and every row
    equal to the row of the same rowid (a one-to-one pairing, so the same rows, duplicates
    included). Both are written in log order, so the pairing holds whenever the rows are the same;
    when it does not (or on PostgreSQL) the rows are compared as sets (``EXCEPT``), which also names
    them. The quick proof costs one pass over the rowids; ``EXCEPT`` sorts both tables twice (13 s
    instead of 1 for the history of a million events)."""
    if tx.store.dialect != "sqlite":
        return False
    equal = " AND ".join(f"a.{c} IS b.{c}" for c in table.compared)
    (paired,) = tx.fetchall(f"SELECT count(*) FROM {live} a JOIN {fresh} b ON a.rowid = b.rowid WHERE {equal}")[0]
    (rows_live,) = tx.fetchall(f"SELECT count(*) FROM {live}")[0]
    (rows_fresh,) = tx.fetchall(f"SELECT count(*) FROM {fresh}")[0]
    return paired == rows_live == rows_fresh


def _state_json(event: Event) -> str:
    """The event's state as the mapper stores it before encryption or compression."""
    state = event.model_dump(mode="json", exclude={"originator_id", "originator_version"})
    if (version := getattr(type(event), "class_version", 1)) > 1:
        state["class_version"] = version
    return orjson.dumps(state).decode()


def _diff(tx: Tx, name: str, table: Any, live: str, fresh: str, limit: int) -> list[Difference]:
    if limit <= 0 or _same_rows(tx, table, live, fresh):
        return []
    compared = table.compared
    cols = ", ".join(compared)
    only_live = tx.fetchall(f"SELECT {cols} FROM {live} EXCEPT SELECT {cols} FROM {fresh} LIMIT {limit}")
    only_fresh = tx.fetchall(f"SELECT {cols} FROM {fresh} EXCEPT SELECT {cols} FROM {live} LIMIT {limit}")
    idx = [compared.index(k) for k in table.key]
    by_key: dict[tuple[Any, ...], list[Any]] = {}
    for row in only_live:
        by_key.setdefault(tuple(row[i] for i in idx), [None, None])[0] = tuple(row)
    for row in only_fresh:
        by_key.setdefault(tuple(row[i] for i in idx), [None, None])[1] = tuple(row)
    return [Difference(name, table.name, k, v[0], v[1]) for k, v in sorted(by_key.items(), key=lambda kv: str(kv[0]))]
