"""The reads behind the list, dashboard, ledger, work queue and timeline: the projections' queries
(issue 3), limited to the caller's CPAMs.

The projection store holds one connection, so every access goes through one lock. Who writes the
read models is a setting (``CONVENTIONS_PROJECTIONS``, docs/processes.md):

- ``follower`` (the default on PostgreSQL): the API only reads; the deployment's one projection
  follower (``conventions project --follow``) writes. A list shows a command's effect once the
  follower has applied it (``freshness`` says how far it is), and ``/ready`` answers 503 while the
  read models are far behind or not built yet.
- ``inline`` (the default on the embedded SQLite store): ``serve`` runs the follower in a thread,
  and before a read the read models are also caught up here when only a little behind (a command's
  effect shows in the next list); far behind is left to the follower thread, so a burst or a fresh
  deployment never stalls a request behind a full rebuild, and never leaves the lists frozen.

Every read says how fresh it is (``freshness``): the notification id the slowest read model has
reached, the log's head, the lag between them, and when the last event applied was recorded.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager, nullcontext
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any
from uuid import UUID

from adapters.http.errors import ApiError
from projections import calendar, conventions_list, history, ledger, portfolio
from projections.engine.runner import TOPICS, Runner
from projections.engine.store import ProjectionStore
from projections.scope import narrow

Scope = frozenset[str] | None
INLINE_CATCH_UP = 5_000  # events: beyond, the follower catches up, reads may be stale
NOT_BUILT = (
    "Les vues (listes, tableaux de bord) ne sont pas encore construites : le suiveur des projections "
    "(conventions project --follow) les construit ; réessayer dans un moment."
)


@dataclass(frozen=True)
class PagedQuery:
    """What the list and the ledger both take: one CPAM (within the caller's), a status, a page."""

    cpam: str | None = None
    status: str | None = None
    page: int = 1
    per_page: int = 50


@dataclass(frozen=True)
class ListQuery(PagedQuery):
    q: str | None = None
    option: str | None = None
    tier: str | None = None
    contract_year: int | None = None
    sort: str = "number"


@dataclass(frozen=True)
class LedgerQuery(PagedQuery):
    year: int | None = None
    due_from: date | None = None
    due_to: date | None = None
    per_page: int = 100


def page_of(rows: list[Any], page: int, per_page: int) -> list[Any]:
    return rows[(page - 1) * per_page : page * per_page]


class ProjectionReadModels:
    """Queries on the projection tables, for one API process."""

    def __init__(self, runner: Runner, inline_catch_up: int = INLINE_CATCH_UP, *, catch_up: bool = True) -> None:
        """``catch_up``: False when a follower process alone writes the read models (the API reads)."""
        self.runner = runner
        self.store = runner.store
        self.inline_catch_up = inline_catch_up if catch_up else 0
        self.catch_up = catch_up
        # One connection, one request at a time; a follower writing and a pool to read from: at once.
        parallel = not catch_up and self.store.readers is not None
        self._lock: AbstractContextManager[Any] = nullcontext() if parallel else threading.Lock()
        self._as_of: tuple[int, datetime | None] = (0, None)

    @contextmanager
    def _read(self) -> Iterator[dict[str, Any]]:
        """What every read model answer runs in: the lock, and its freshness. Reading only (a
        follower writes), the positions and the rows are one transaction (``ProjectionStore.
        one_reading``); catching up inline writes first, so each query has its own."""
        with self._lock, nullcontext() if self.catch_up else self.store.one_reading():
            yield self._fresh()

    def _fresh(self) -> dict[str, Any]:
        """Catch up when only a little behind; the freshness of what will be read."""
        log_at = getattr(self.runner.app.recorder, "log_at", None)
        if not self.catch_up and log_at is not None:
            return self._fresh_from_one_query(log_at)
        head = self.runner.head()
        positions = self.runner.positions(head)
        behind = head - self.runner.slowest(positions)
        missing = len(positions) < len(self.runner.models)
        if self.catch_up and (missing or 0 < behind <= self.inline_catch_up):
            self.runner.catch_up(until=head)
            positions = self.runner.positions()
        elif missing:
            raise ApiError(503, "read_models_not_built", NOT_BUILT)
        return self._freshness(positions, head)

    def _fresh_from_one_query(
        self, log_at: Callable[[int, Sequence[str]], tuple[int, bytes | None, bool]]
    ) -> dict[str, Any]:
        """The freshness when a follower writes the read models and the log answers ``log_at``
        (PostgreSQL, ``adapters.pg_events``): the positions, then the log's head, the time of the
        event at the slowest position and whether an event the read models apply follows it, in
        one query. The same figures as ``_freshness``: it took three queries, and under load each
        round trip cost the request's thread a turn of the interpreter (``docs/benchmarks.md``)."""
        positions = self.runner.positions(head=0)  # the head is read after them: it cannot be behind
        if len(positions) < len(self.runner.models):
            raise ApiError(503, "read_models_not_built", NOT_BUILT)
        position = self.runner.slowest(positions)
        head, state, behind = log_at(position, TOPICS)
        return {
            "as_of": self._recorded_at(position, state),
            "position": position,
            "head": head,
            "lag": self.runner.lag(position, head, applied_after=behind),
        }

    def _freshness(self, positions: dict[str, dict[str, Any]], head: int) -> dict[str, Any]:
        position = self.runner.slowest(positions)
        return {
            "as_of": self._recorded_at(position),
            "position": position,
            "head": head,
            "lag": self.runner.lag(position, head),
        }

    def _recorded_at(self, position: int, stored: bytes | None = None) -> datetime | None:
        """When the notification at ``position`` (an id the runner reached: one that exists) was
        recorded, from its ``stored`` state when the caller read it already, else from the log;
        remembered for the last position asked."""
        if position <= 0:
            return None
        known = self._as_of  # one read: other threads may replace it
        if known[0] != position:
            if stored is not None:
                at = self.runner.app.mapper.stored_state(stored).get("timestamp")
                recorded = datetime.fromisoformat(at) if at else None
            else:
                rows = self.runner.app.read_log(position - 1, 1, until=position)
                recorded = getattr(rows[0][1], "timestamp", None) if rows else None
            self._as_of = known = (position, recorded)
        return known[1]

    def unbuilt(self) -> list[str]:
        """The read models without live tables yet, when a follower alone builds them (else [])."""
        if self.catch_up:
            return []
        with self._lock:
            built = self.runner.positions()
        return [m.name for m in self.runner.models if m.name not in built]

    def freshness(self) -> dict[str, Any]:
        """How fresh the read models are now, without catching them up (``/ready``)."""
        with self._lock:
            head = self.runner.head()
            return self._freshness(self.runner.positions(head), head)

    def conventions(self, scope: Scope, query: ListQuery) -> dict[str, Any]:
        with self._read() as freshness:
            result = conventions_list.search(
                self.store, q=query.q, cpams=narrow(scope, query.cpam), status=query.status, option=query.option,
                tier=query.tier, contract_year=query.contract_year, sort=query.sort.lstrip("-"),
                descending=query.sort.startswith("-"), page=query.page, per_page=query.per_page,
            )  # fmt: skip
        result["items"] = [{"id": r.pop("convention_id"), **r} for r in result["items"]]
        return {**result, "freshness": freshness}

    def dashboard(self, scope: Scope, today: date) -> dict[str, Any]:
        with self._read() as freshness:
            data = portfolio.dashboard(self.store, today, scope, remember=self.catch_up)
        return {"cpams": None if scope is None else sorted(scope), **data, "freshness": freshness}

    def ledger(self, scope: Scope, query: LedgerQuery) -> dict[str, Any]:
        cpams = narrow(scope, query.cpam)
        with self._read() as freshness:
            rows = ledger.instalments(
                self.store, cpams=cpams, year=query.year, status=query.status, due_from=query.due_from,
                due_to=query.due_to,
            )  # fmt: skip
            totals = ledger.monthly_totals(self.store, cpams=cpams)
        return {
            "total": len(rows), "page": query.page, "per_page": query.per_page,
            "items": page_of(rows, query.page, query.per_page), "totals": totals, "freshness": freshness,
        }  # fmt: skip

    def work_queue(
        self, scope: Scope, today: date, overdue_only: bool, page: int, per_page: int, kind: str | None = None
    ) -> dict[str, Any]:
        """One page of the work queue (filtered and paged by the database), and how many items in all."""
        with self._read() as freshness:
            total, items = calendar.work_queue_page(
                self.store, today, scope, overdue_only=overdue_only, kind=kind, page=page, per_page=per_page
            )
        items = [
            {"convention_id": str(i["convention_id"]), "number": i["number"], "cpam_code": i["cpam"],
             "kind": i["kind"], "date": i["date"], "overdue": i["overdue"], "message": i["message"]}
            for i in items
        ]  # fmt: skip
        return {
            "today": today, "total": total, "page": page, "per_page": per_page, "items": items, "freshness": freshness,
        }  # fmt: skip

    @contextmanager
    def reading(self) -> Iterator[tuple[ProjectionStore, dict[str, Any]]]:
        """The store and its freshness, caught up like every read, for queries of the caller's own
        (the finance exports) run while this block holds the lock."""
        with self._lock:
            yield self.store, self._fresh()

    def timeline(self, convention_id: UUID) -> dict[str, Any]:
        with self._read() as freshness:
            lines = history.timeline(self.store, convention_id)
        return {"id": str(convention_id), "lines": lines, "freshness": freshness}

    def lag(self) -> dict[str, Any]:
        with self._lock:
            return self.runner.positions()
