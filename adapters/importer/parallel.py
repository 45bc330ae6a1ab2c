"""Reading, deciding and storing the rows in worker processes (``conventions import --workers N``).

Deciding a row (about 36 commands) is the import's main cost, and the rows are independent once the
file's duplicates are refused (a CPAM + number, or an RPPS, on one row at most). So each of N forked
workers opens its own application on the same store (``open_app``) and takes every N-th row: it
reads it into its commands (``plan_row``) and sends back its CPAM, number and errors; the parent
refuses the file's duplicates (``steps.checked``) and keeps the report, in the file's order.

All-or-nothing holds across processes: with a row refused by its form, the parent stops the workers
(unless ``--skip-invalid``); otherwise each worker decides its whole share, stores nothing, sends its
outcomes, then waits; only when every worker has sent them does the parent say ``store`` (no row
refused, or ``--skip-invalid``) or ``stop``. Then each worker saves its own decided rows the way the
single process does (``steps.store_rows``: batches, a conflicting batch retried row by row), so every
row is one transaction and its events are the ones one process would have stored; only their order
in the log interleaves. A worker that fails before the verdict stops them all with nothing stored;
the error is raised here (``WorkerFailed``).

Workers are started with ``fork`` (they inherit the file's rows, nothing to send them): POSIX only;
elsewhere, or on an in-memory store (a fork would save into its own copy), one process does it all.
"""

from __future__ import annotations

import multiprocessing
import sys
import traceback
from collections.abc import Callable, Iterator
from multiprocessing.connection import Connection, wait
from typing import TYPE_CHECKING, Any

from adapters.importer.plan import Context, RowError, RowPlan, plan_row
from adapters.importer.reader import Row
from adapters.importer.steps import checked, decide, store_rows
from domain.application import ConventionsApp, Decided

if TYPE_CHECKING:
    from adapters.importer.run import Progress, Report

TELL_EVERY = 25  # rows between two progress messages of a worker
IMPORTED, ALREADY, REFUSED = "imported", "already", "refused"


class WorkerFailed(RuntimeError):
    """A worker process failed; nothing stored if it was deciding. The message is the worker's error
    (its last traceback line); ``details`` the whole traceback, for the logs."""

    def __init__(self, message: str, details: str = "") -> None:
        super().__init__(message)
        self.details = details


def workers_for(app: ConventionsApp, open_app: Callable[[], ConventionsApp] | None, wanted: int, rows: int) -> int:
    """How many workers to start: at most one per row; 1 (this process) when they cannot share the store."""
    if wanted <= 1 or open_app is None or "fork" not in multiprocessing.get_all_start_methods():
        return 1
    if type(app.recorder).__module__.startswith("eventsourcing.popo"):
        return 1
    return max(1, min(wanted, rows))


def import_rows(
    open_app: Callable[[], ConventionsApp],
    ctx: Context,
    report: Report,
    progress: Progress,
    *,
    workers: int,
    skip_invalid: bool,
    may_store: Callable[[], bool],
) -> None:
    """The file's rows (``report.table``) read, decided and, when ``may_store()`` once every row is
    decided, stored by ``workers`` processes; ``report`` gets the outcomes in the file's order."""
    rows = report.table.rows
    context = multiprocessing.get_context("fork")
    sys.stdout.flush(), sys.stderr.flush()  # a child must not write what the parent had buffered
    pipes: list[Connection] = []
    processes = []
    for k in range(workers):
        parent_end, child_end = context.Pipe()
        share = list(range(k, len(rows), workers))
        process = context.Process(target=_work, args=(child_end, open_app, rows, ctx, share), daemon=True)
        process.start()
        child_end.close()
        pipes.append(parent_end)
        processes.append(process)
    storing = False
    try:
        plans = _checked(pipes, report, progress)
        if report.errors and not skip_invalid:
            _tell_all(pipes, ("stop", None))
            return
        report.rules_checked = True
        _tell_all(pipes, ("decide", {i for i, plan in enumerate(plans) if plan.errors}))
        _decided(pipes, plans, report, progress)
        storing = may_store()
        _tell_all(pipes, ("store" if storing else "stop", None))
        if storing:
            progress.phase("Enregistrement", len(report.imported))
            for failed in _gather(pipes, "stored", progress).values():
                for index, error in failed:
                    report.imported.remove(plans[index])
                    report.errors.append(error)
            report.stored = bool(report.imported)
    except BaseException:
        for process in processes if not storing else ():  # ours, by their handle: nothing stored yet
            if process.is_alive():
                process.terminate()
        raise
    finally:
        for process in processes:
            process.join()


def _checked(pipes: list[Connection], report: Report, progress: Progress) -> list[RowPlan]:
    """Every row as read by the workers (their commands stay there), the file's duplicates refused:
    a plan per row, in the file's order, its errors in ``report.errors``."""
    rows = report.table.rows
    progress.phase("Vérification des lignes", len(rows))
    plans: list[RowPlan] = [RowPlan(row) for row in rows]
    for payload in _gather(pipes, "read", progress).values():
        for index, cpam, number, errors in payload:
            plans[index].cpam, plans[index].number, plans[index].errors = cpam, number, errors
    checked(plans, report.errors)
    return plans


def _decided(pipes: list[Connection], plans: list[RowPlan], report: Report, progress: Progress) -> None:
    progress.phase("Règles métier", sum(1 for plan in plans if not plan.errors))
    outcomes: dict[int, tuple[str, RowError | None]] = {}
    for payload in _gather(pipes, "decided", progress).values():
        outcomes.update(payload)
    for index in sorted(outcomes):
        _tell(report, plans[index], *outcomes[index])


def _tell_all(pipes: list[Connection], message: tuple[str, Any]) -> None:
    for pipe in pipes:
        pipe.send(message)


def _tell(report: Report, plan: RowPlan, kind: str, error: RowError | None) -> None:
    if kind == IMPORTED:
        report.imported.append(plan)
    elif kind == ALREADY:
        report.already.append(plan)
    else:
        assert error is not None
        report.errors.append(error)


def _gather(pipes: list[Connection], kind: str, progress: Progress) -> dict[Connection, Any]:
    """Every worker's ``kind`` message, the progress messages before them passed on to ``progress``."""
    waiting, got = set(pipes), dict[Connection, Any]()
    while waiting:
        for pipe in wait(list(waiting)):
            assert isinstance(pipe, Connection)
            try:
                message, payload = pipe.recv()
            except EOFError:
                raise WorkerFailed("un processus de l'import s'est arrêté sans rendre compte.") from None
            if message == "advance":
                progress.advance(payload)
            elif message == "failed":
                last = next((line for line in reversed(payload.splitlines()) if line.strip()), payload)
                raise WorkerFailed(last.strip(), payload)
            else:
                assert message == kind, (message, kind)
                got[pipe] = payload
                waiting.discard(pipe)
    return got


def _work(
    pipe: Connection, open_app: Callable[[], ConventionsApp], rows: list[Row], ctx: Context, share: list[int]
) -> None:
    """A worker: read every row of ``share``, report; decide those the parent keeps, report; store on
    the parent's ``store``."""
    try:
        app = open_app()
        plans = {index: plan_row(rows[index], ctx) for index in _told(pipe, share)}
        pipe.send(("read", [(i, plan.cpam, plan.number, plan.errors) for i, plan in plans.items()]))
        order, refused = pipe.recv()
        if order != "decide":
            return
        mine = [i for i in share if i not in refused]
        decided: list[tuple[RowPlan, Decided]] = []
        outcomes: dict[int, tuple[str, RowError | None]] = {}
        for index in _told(pipe, mine):
            outcome = decide(app, plans[index])
            if isinstance(outcome, RowError):
                outcomes[index] = (REFUSED, outcome)
            elif outcome is None:
                outcomes[index] = (ALREADY, None)
            else:
                outcomes[index] = (IMPORTED, None)
                decided.append((plans[index], outcome))
        pipe.send(("decided", outcomes))
        if pipe.recv()[0] != "store":
            return
        where = {id(plans[index]): index for index in mine}
        failed = store_rows(app, decided, lambda k: pipe.send(("advance", k)))
        pipe.send(("stored", [(where[id(plan)], error) for plan, error in failed]))
    except BaseException:  # noqa: BLE001 - told to the parent, which raises it
        pipe.send(("failed", traceback.format_exc()))


def _told(pipe: Connection, indexes: list[int]) -> Iterator[int]:
    """``indexes``, telling the parent every ``TELL_EVERY`` of them (its progress bar)."""
    for n, index in enumerate(indexes, 1):
        yield index
        if n % TELL_EVERY == 0:
            pipe.send(("advance", TELL_EVERY))
    pipe.send(("advance", len(indexes) % TELL_EVERY))
