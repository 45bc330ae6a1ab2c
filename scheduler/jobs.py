"""The nightly job as a plain, idempotent function: ``run_due``.

It asks an injected source which conventions have something due up to ``today`` (the calendar
read model in production), and lets each convention record what fell due, each item on the date
it fell due (``ConventionsApp.record_due``). The aggregate never records an item twice, so a
second run records nothing, and a run after days of downtime records the missed items with their
own dates. Each convention is saved in its own transaction: a crash in the middle leaves the
conventions done so far done, and the next run does the rest.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import date
from typing import Any
from uuid import UUID

import structlog
from eventsourcing.persistence import PersistenceError

from domain import events as ev
from domain.application import ConventionsApp
from domain.convention import CommandMeta
from domain.errors import DomainError
from projections.calendar import NightlyFailures, describe_error
from projections.engine.store import ProjectionStore

FindDue = Callable[[date], Iterable[UUID]]
"""Which conventions have something due on or before a date (must never miss one)."""

CatchUp = Callable[[], Any]
"""Bring the read models up to the end of the event log."""

# What the scheduler records; everything else is an operator's doing.
# What record_due may record (an instalment of a year a termination settled is recorded, then cancelled).
SCHEDULED_TOPICS = [
    ev.YearStarted.TOPIC, ev.InstalmentDue.TOPIC, ev.InstalmentCancelled.TOPIC, ev.ReviewDue.TOPIC, ev.Renewed.TOPIC,
]  # fmt: skip

# What one convention's stored facts can make the rules raise: the convention is skipped, its
# failure logged, reported and recorded for an operator, and the run goes on. A refusal of the
# domain (``DomainError``, a ``ValueError``), a fact the rules have no answer for (``LookupError``,
# ``TypeError``, ``ArithmeticError``, ``AttributeError``), a broken invariant (``AssertionError``).
# Anything else (the store unreachable, a crash) ends the run: the next run resumes.
CONVENTION_ERRORS: tuple[type[Exception], ...] = (
    ValueError, LookupError, TypeError, ArithmeticError, AttributeError, AssertionError,
)  # fmt: skip

log = structlog.get_logger()


@dataclass
class ConventionFailure:
    """A convention a run could not process: skipped, the others go on."""

    convention_id: UUID
    code: str
    message: str
    number: str | None = None  # the convention's number, when its signature can be read


@dataclass
class RunReport:
    """What one run did, for the logs and for the operator."""

    today: date
    found: int = 0  # conventions the source said were due
    conventions: int = 0  # conventions on which something was recorded
    events: int = 0
    by_type: dict[str, int] = field(default_factory=dict)
    failures: list[ConventionFailure] = field(default_factory=list)
    seconds_catch_up: float = 0.0
    seconds_find: float = 0.0
    seconds_record: float = 0.0
    seconds_total: float = 0.0
    stopped: bool = False  # asked to stop before the end: the next run does the rest

    @property
    def seconds_scheduler(self) -> float:
        """The scheduler's own work: everything but the commands it records."""
        return self.seconds_total - self.seconds_record

    def as_dict(self) -> dict[str, Any]:
        return {
            "today": self.today.isoformat(),
            "found": self.found,
            "conventions": self.conventions,
            "events": self.events,
            "by_type": dict(self.by_type),
            "stopped": self.stopped,
            "failures": [
                {"convention_id": str(f.convention_id), "number": f.number, "code": f.code, "message": f.message}
                for f in self.failures
            ],
            "seconds": {
                "total": round(self.seconds_total, 4),
                "catch_up": round(self.seconds_catch_up, 4),
                "find": round(self.seconds_find, 4),
                "record": round(self.seconds_record, 4),
                "scheduler": round(self.seconds_scheduler, 4),
            },
        }


def scheduler_meta(today: date, actor: str = "scheduler") -> CommandMeta:
    """The scheduler's identity on the events it records; the command id names the run's date."""
    return CommandMeta(actor=actor, reason="échéancier", command_id=f"due:{today.isoformat()}")


def run_due(
    app: ConventionsApp,
    find_due: FindDue,
    today: date,
    meta: CommandMeta | None = None,
    *,
    catch_up: CatchUp | None = None,
    progress: Callable[[int], None] | None = None,
    should_stop: Callable[[], bool] | None = None,
    failures: NightlyFailures | None = None,
) -> RunReport:
    """Record what fell due up to ``today`` on every convention the source names. Idempotent.

    The read models are caught up before asking what is due (so the answer is fresh) and after
    (so the work queue shows the run's effect). A convention that raises one of
    ``CONVENTION_ERRORS`` (a refusal, stored facts the rules cannot handle) is skipped: logged
    (``due.failed``), reported, and recorded in ``failures`` (the work queue's ``nightly_failure``
    alerts) when given; the run goes on with the others. The conventions ``failures`` lists are
    retried on every run, and a run that processes one clears its alert. Anything else (store
    unreachable) ends the run: the next run resumes where it stopped, and nothing is ever recorded
    twice. ``should_stop`` is checked between conventions (a process asked to stop leaves the rest
    to the next run).
    """
    meta = meta or scheduler_meta(today)
    report = RunReport(today=today)
    started = time.perf_counter()
    if catch_up is not None:
        t = time.perf_counter()
        catch_up()
        report.seconds_catch_up += time.perf_counter() - t
    t = time.perf_counter()
    failed_before = set(failures.ids()) if failures is not None else set()
    ids = list(dict.fromkeys([*find_due(today), *sorted(failed_before)]))  # de-duplicated, order kept
    report.seconds_find = time.perf_counter() - t
    report.found = len(ids)
    first_position = app.head()
    for conv_id in ids:
        if should_stop is not None and should_stop():
            report.stopped = True
            log.warning("due.run_interrupted", done=report.conventions, left=len(ids) - ids.index(conv_id))
            break
        t = time.perf_counter()
        try:
            n = app.record_due(conv_id, meta, today=today)
        except PersistenceError:
            raise  # the store, not this convention: the run ends, the next one resumes
        except (DomainError, *CONVENTION_ERRORS) as error:
            n = 0
            _skip(app, conv_id, error, report, failures)
        else:
            if conv_id in failed_before and failures is not None:
                failures.clear(conv_id)
                log.info("due.recovered", convention_id=str(conv_id))
        finally:
            report.seconds_record += time.perf_counter() - t
        if n:
            report.conventions += 1
            report.events += n
        if progress is not None:
            progress(1)
    if report.events:
        report.by_type = _recorded_by_type(app, first_position, meta.command_id)
    if catch_up is not None:
        t = time.perf_counter()
        catch_up()
        report.seconds_catch_up += time.perf_counter() - t
    report.seconds_total = time.perf_counter() - started
    return report


def _skip(
    app: ConventionsApp, conv_id: UUID, error: Exception, report: RunReport, failures: NightlyFailures | None
) -> None:
    """Log, report and record one convention the run could not process."""
    code, message = describe_error(error)
    failure = ConventionFailure(conv_id, code, message, _number(app, conv_id))
    report.failures.append(failure)
    unexpected = not isinstance(error, DomainError)  # a bug or bad data: the traceback helps
    log.warning("due.failed", convention_id=str(conv_id), number=failure.number, code=code, message=message,
                today=report.today.isoformat(), exc_info=unexpected)  # fmt: skip
    if failures is not None:
        failures.record(conv_id, code, message, report.today)


def _number(app: ConventionsApp, conv_id: UUID) -> str | None:
    """The convention's number, read from its first event (best effort: it may be what fails)."""
    try:
        signed = app.signature(conv_id)
    except Exception:  # noqa: BLE001 - only a label for the operator
        return None
    return None if signed is None else signed.number


def _recorded_by_type(app: ConventionsApp, after: int, command_id: str) -> dict[str, int]:
    """Count this run's events by type, reading only the log written since the run began."""
    counts: Counter[str] = Counter()
    for _, event in app.log_after(after, SCHEDULED_TOPICS):
        if event.command_id == command_id:
            counts[type(event).__name__] += 1
    return dict(sorted(counts.items()))


def log_report(report: RunReport, **context: Any) -> None:
    """One structured line per run: what fell due, how many, how long."""
    data = report.as_dict()
    log.info(
        "due.run",
        today=data["today"],
        found=report.found,
        conventions=report.conventions,
        events=report.events,
        by_type=data["by_type"],
        failures=len(report.failures),
        failed=[f.number or str(f.convention_id) for f in report.failures],
        stopped=report.stopped,
        seconds=data["seconds"],
        **context,
    )


@dataclass
class NightlyJob:
    """``run_due`` bound to one deployment's app and due source: what the process calls.

    ``failures``: where the conventions a run could not process are recorded for the work queue.
    When not given and ``catch_up`` is a projection runner's (as the composition root builds the
    job), the runner's projection store is used, the one the work queue reads.
    """

    app: ConventionsApp
    find_due: FindDue
    catch_up: CatchUp | None = None
    actor: str = "scheduler"
    should_stop: Callable[[], bool] | None = None
    failures: NightlyFailures | None = None

    def __post_init__(self) -> None:
        if self.failures is None:
            store = getattr(getattr(self.catch_up, "__self__", None), "store", None)
            if isinstance(store, ProjectionStore):
                self.failures = NightlyFailures(store)

    def __call__(self, today: date) -> RunReport:
        meta = scheduler_meta(today, self.actor)
        return run_due(
            self.app, self.find_due, today, meta, catch_up=self.catch_up, should_stop=self.should_stop,
            failures=self.failures,
        )  # fmt: skip
