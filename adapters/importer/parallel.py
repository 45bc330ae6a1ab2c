"""Deciding and storing the rows in worker processes (``conventions import --workers N``).

Deciding a row (about 36 commands) is the import's main cost, and once the file is checked the rows
are independent: a CPAM + number, or an RPPS, is on one row at most (``run._duplicates``). So each
of N forked workers opens its own application on the same store (``open_app``) and decides every
N-th row; the parent keeps the report, in the file's order.

All-or-nothing holds across processes: a worker decides its whole share and stores nothing, sends
its outcomes, then waits; only when every worker has sent them does the parent say ``store`` (no row
refused, or ``--skip-invalid``) or ``stop``. Then each worker saves its own decided rows, the way
the single process does (``steps.store_rows``: batches, a conflicting batch retried row by row), so
every row is one transaction and its events are the ones one process would have stored; only their
order in the log interleaves. A worker that fails while deciding stops them all before anything is
stored; the error is raised here (``WorkerFailed``).

Workers are started with ``fork`` (they inherit the checked rows, nothing to send them): POSIX only;
elsewhere, or on an in-memory store (a fork would save into its own copy), one process does it all.
"""

from __future__ import annotations

import multiprocessing
import sys
import traceback
from collections.abc import Callable
from multiprocessing.connection import Connection, wait
from typing import TYPE_CHECKING, Any

from adapters.importer.plan import RowError, RowPlan
from adapters.importer.steps import decide, store_rows
from domain.application import ConventionsApp, Decided

if TYPE_CHECKING:
    from adapters.importer.run import Progress, Report

TELL_EVERY = 25  # rows between two progress messages of a worker
IMPORTED, ALREADY, REFUSED = "imported", "already", "refused"


class WorkerFailed(RuntimeError):
    """A worker process failed (its traceback is the message); nothing stored if it was deciding."""


def workers_for(app: ConventionsApp, open_app: Callable[[], ConventionsApp] | None, wanted: int, rows: int) -> int:
    """How many workers to start: at most one per row; 1 (this process) when they cannot share the store."""
    if wanted <= 1 or open_app is None or "fork" not in multiprocessing.get_all_start_methods():
        return 1
    if type(app.recorder).__module__.startswith("eventsourcing.popo"):
        return 1
    return max(1, min(wanted, rows))


def decide_and_store(
    open_app: Callable[[], ConventionsApp],
    plans: list[RowPlan],
    report: Report,
    progress: Progress,
    *,
    workers: int,
    may_store: Callable[[], bool],
) -> None:
    """The rules, then (when ``may_store()`` once every row is decided) the store, by ``workers``
    processes; ``report`` gets the outcomes in the plans' order."""
    context = multiprocessing.get_context("fork")
    sys.stdout.flush(), sys.stderr.flush()  # a child must not write what the parent had buffered
    pipes: list[Connection] = []
    processes = []
    for k in range(workers):
        parent_end, child_end = context.Pipe()
        share = list(range(k, len(plans), workers))
        process = context.Process(target=_work, args=(child_end, open_app, plans, share), daemon=True)
        process.start()
        child_end.close()
        pipes.append(parent_end)
        processes.append(process)
    storing = False
    try:
        progress.phase("Règles métier", len(plans))
        outcomes: dict[int, tuple[str, RowError | None]] = {}
        for payload in _gather(pipes, "decided", progress).values():
            outcomes.update(payload)
        for index in sorted(outcomes):
            _tell(report, plans[index], *outcomes[index])
        store = may_store()
        for pipe in pipes:
            pipe.send("store" if store else "stop")
        storing = store
        if store:
            progress.phase("Enregistrement", len(report.imported))
            for failed in _gather(pipes, "stored", progress).values():
                for index, error in failed:
                    report.imported.remove(plans[index])
                    report.errors.append(error)
            report.stored = bool(report.imported)
    except BaseException:
        for process in processes if not storing else ():  # ours, by their handle: a decider has stored nothing
            if process.is_alive():
                process.terminate()
        raise
    finally:
        for process in processes:
            process.join()


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
                raise WorkerFailed(payload)
            else:
                assert message == kind, (message, kind)
                got[pipe] = payload
                waiting.discard(pipe)
    return got


def _work(pipe: Connection, open_app: Callable[[], ConventionsApp], plans: list[RowPlan], share: list[int]) -> None:
    """A worker: decide every row of ``share``, report, wait for the verdict, store on ``store``."""
    try:
        app = open_app()
        decided: list[tuple[RowPlan, Decided]] = []
        outcomes: dict[int, tuple[str, RowError | None]] = {}
        for n, index in enumerate(share, 1):
            outcome = decide(app, plans[index])
            if isinstance(outcome, RowError):
                outcomes[index] = (REFUSED, outcome)
            elif outcome is None:
                outcomes[index] = (ALREADY, None)
            else:
                outcomes[index] = (IMPORTED, None)
                decided.append((plans[index], outcome))
            if n % TELL_EVERY == 0:
                pipe.send(("advance", TELL_EVERY))
        pipe.send(("advance", len(share) % TELL_EVERY))
        pipe.send(("decided", outcomes))
        if pipe.recv() != "store":
            return
        where = {id(plans[index]): index for index in share}
        failed = store_rows(app, decided, lambda k: pipe.send(("advance", k)))
        pipe.send(("stored", [(where[id(plan)], error) for plan, error in failed]))
    except BaseException:  # noqa: BLE001 - told to the parent, which raises it
        pipe.send(("failed", traceback.format_exc()))
