"""The nightly job (``run_due``): idempotent, catches up with the right dates, survives a crash."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, timedelta
from decimal import Decimal
from typing import Any
from uuid import UUID, uuid4

import orjson
import pytest

from domain import events as ev
from domain.application import ConventionsApp
from domain.convention import CommandMeta
from scheduler.due_index import MemoryDueIndex
from scheduler.jobs import NightlyJob, RunReport, run_due, scheduler_meta
from tests import helpers
from tests.conftest import FixedClock

META_KEYS = {"originator_id", "originator_version", "timestamp", "actor", "reason", "command_id", "request_id"}
RPPS = ["10000000009", "10000000017", "10000000025", "10000000033", "10000000041", "10000000058"]


def sign(app: ConventionsApp, meta: CommandMeta, i: int, **over: Any) -> UUID:
    """The standard convention as the i-th doctor's, signed in January 2023."""
    dated = {"signed_on": date(2023, 1, 10), "effective_from": date(2023, 2, 1)}
    return helpers.sign(app, meta, number=f"J-{i}", rpps=RPPS[i], doctor_name=f"Docteur {i}", **{**dated, **over})


def fingerprint(e: ev.Event) -> tuple[str, str, bytes]:
    """(type, effective date, payload without metadata): what must not depend on when we tick."""
    payload = {k: v for k, v in e.model_dump(mode="json").items() if k not in META_KEYS}
    return (str(e.originator_id), type(e).__name__, orjson.dumps(payload, option=orjson.OPT_SORT_KEYS))


def all_events(app: ConventionsApp, ids: list[UUID]) -> list[tuple[str, str, bytes]]:
    return sorted(fingerprint(e) for cid in ids for e in app.history(cid))


# A few conventions with suspensions, hires, attainments, a termination: operator actions by date.
def scenario(app: ConventionsApp, meta: CommandMeta) -> tuple[list[UUID], dict[date, list[Callable[[], Any]]]]:
    ids = [
        sign(app, meta, 0),
        sign(app, meta, 1, option="HALF", percentile=92, effective_from=date(2023, 1, 31)),
        sign(app, meta, 2, percentile=97, initial_patients=1500, target_patients=1425,
             signed_on=date(2022, 12, 1), effective_from=date(2023, 2, 28)),  # A7-2019 year 1, MAX
        sign(app, meta, 3, effective_from=date(2024, 2, 29), signed_on=date(2024, 2, 1)),
    ]  # fmt: skip
    a, b, c, d = ids
    actions: dict[date, list[Callable[[], Any]]] = {}

    def at(day: date, fn: Callable[..., Any], cid: UUID, **kw: Any) -> None:
        actions.setdefault(day, []).append(lambda: fn(cid, meta, **kw))

    def suspend(day: date, cid: UUID, from_date: date, ground: str) -> None:
        """Recorded the day the doctor agreed, never before (R21)."""
        at(day, app.suspend, cid, from_date=from_date, ground=ground, agreement_date=day)

    at(date(2023, 2, 15), app.hire, a, hired_on=date(2023, 2, 15), fte=Decimal(1), profile="nurse")
    at(date(2023, 6, 1), app.hire, c, hired_on=date(2023, 6, 1), fte=Decimal(1), profile="secretary")
    suspend(date(2024, 5, 3), a, from_date=date(2024, 5, 1), ground="long_absence")  # recorded once agreed: R21
    at(date(2024, 9, 1), app.reactivate, a, from_date=date(2024, 9, 1))
    suspend(date(2025, 2, 1), b, from_date=date(2025, 1, 31), ground="replacement_difficulty")  # the day year 3 starts
    at(date(2025, 7, 15), app.reactivate, b, from_date=date(2025, 7, 15))
    suspend(date(2026, 6, 1), b, from_date=date(2026, 6, 1), ground="long_absence")
    at(date(2026, 10, 1), app.reactivate, b, from_date=date(2026, 10, 1))
    at(date(2026, 4, 10), app.record_attainment, c, year=3, observed_patients=1400, on=date(2026, 4, 10))
    at(date(2026, 10, 20), app.record_attainment, a, year=3, observed_patients=1150, on=date(2026, 10, 20))
    at(date(2027, 5, 2), app.terminate, d, on=date(2027, 5, 2), by="cpam", ground="Déménagement")
    return ids, actions


END = date(2029, 1, 31)  # six years after the first effective date, past the tacit renewal (R10)


def nightly_job(app: ConventionsApp, source: str) -> Callable[[date], RunReport]:
    """The job on a due source: the in-process index, or the calendar read model (production)."""
    from adapters.composition import build_nightly_job
    from adapters.settings import Settings

    if source == "calendar":
        return build_nightly_job(Settings(store="memory"), app)
    index = MemoryDueIndex(app)
    return NightlyJob(app, index.find_due, index.catch_up)


@pytest.mark.parametrize("source", ["index", "calendar"])
def test_ticking_every_day_records_the_same_events_as_one_tick_at_the_end(clock: FixedClock, source: str) -> None:
    from adapters.composition import build_app
    from adapters.settings import Settings

    meta = CommandMeta(actor="operateur.test", reason="test")
    daily, once = (build_app(Settings(store="memory"), clock=clock) for _ in range(2))
    ids, actions = scenario(daily, meta)
    job = nightly_job(daily, source)
    day = date(2023, 1, 1)
    runs = 0
    while day <= END:
        clock.today = day
        runs += job(day).conventions
        for action in actions.get(day, []):
            action()
        day += timedelta(days=1)

    ids2, actions2 = scenario(once, meta)
    assert ids2 == ids
    for day in sorted(actions2):
        clock.today = day
        for action in actions2[day]:
            action()
    clock.today = END
    report = nightly_job(once, source)(END)

    assert runs > 40 and report.events > 80
    assert set(report.by_type) == {"InstalmentCancelled", "InstalmentDue", "Renewed", "ReviewDue", "YearStarted"}
    assert all_events(daily, ids[:3]) == all_events(once, ids[:3])
    # The terminated convention too: ticking daily recorded the year-4 advance on 2027-02-28, which
    # the termination of 2027-05-02 cancelled; a single late tick records the same pair.
    assert all_events(daily, ids[3:]) == all_events(once, ids[3:])
    events = all_events(once, ids[3:])
    assert [orjson.loads(p)["instalment_id"] for _, t, p in events if t == "InstalmentCancelled"] == ["y4-advance"]
    # and renewal, shifted anniversaries and the settlement are in there
    kinds = {(t, orjson.loads(p).get("instalment_id")) for _, t, p in all_events(once, ids)}
    assert ("Renewed", None) in kinds and ("InstalmentDue", "y4-settlement") in kinds


def test_a_second_run_records_nothing(app: ConventionsApp, meta: CommandMeta) -> None:
    ids = [sign(app, meta, i) for i in range(3)]
    index = MemoryDueIndex(app)
    first = run_due(app, index.find_due, date(2026, 3, 1), catch_up=index.catch_up)
    versions = {cid: app.get(cid).version for cid in ids}
    second = run_due(app, index.find_due, date(2026, 3, 1), catch_up=index.catch_up)
    # each: years 1-4, instalments y1-full, y2-full, y3-advance, y4-advance, six reviews
    assert first.conventions == 3 and first.events == 3 * 14
    assert first.by_type == {"InstalmentDue": 12, "ReviewDue": 18, "YearStarted": 12}
    assert second.found == 0 and second.events == 0
    assert {cid: app.get(cid).version for cid in ids} == versions
    # even when the source names them again (a stale read model), nothing is recorded
    third = run_due(app, lambda _day: ids, date(2026, 3, 1))
    assert third.found == 3 and third.events == 0 and third.conventions == 0


def test_after_downtime_each_item_keeps_the_date_it_fell_due(app: ConventionsApp, meta: CommandMeta) -> None:
    cid = sign(app, meta, 0)
    job = NightlyJob(app, (index := MemoryDueIndex(app)).find_due, index.catch_up)
    job(date(2023, 2, 1))
    report = job(date(2024, 9, 30))  # nineteen months without a run
    recorded = [(type(e).__name__, e.effective_date) for e in app.history(cid) if e.command_id == "due:2024-09-30"]
    assert report.events == len(recorded) > 0
    assert ("ReviewDue", date(2023, 8, 1)) in recorded and ("ReviewDue", date(2024, 8, 1)) in recorded
    assert ("YearStarted", date(2024, 2, 1)) in recorded and ("InstalmentDue", date(2024, 2, 1)) in recorded
    assert all(d <= date(2024, 9, 30) for _, d in recorded)


def test_a_refused_convention_is_reported_and_the_run_goes_on(app: ConventionsApp, meta: CommandMeta) -> None:
    ids = [sign(app, meta, i) for i in range(2)]
    ghost = uuid4()
    report = run_due(app, lambda _day: [ids[0], ghost, ids[1]], date(2023, 3, 1))
    assert report.conventions == 2 and report.found == 3
    assert [(f.convention_id, f.code) for f in report.failures] == [(ghost, "unknown_convention")]
    assert report.as_dict()["failures"][0]["code"] == "unknown_convention"


class CrashAfter:
    """The app, except that ``record_due`` raises after ``k`` conventions (a crash mid-run)."""

    def __init__(self, app: ConventionsApp, k: int) -> None:
        self.app, self.k, self.calls = app, k, 0

    def __getattr__(self, name: str) -> Any:
        return getattr(self.app, name)

    def record_due(self, *args: Any, **kw: Any) -> int:
        if self.calls == self.k:
            raise RuntimeError("crash")
        self.calls += 1
        return self.app.record_due(*args, **kw)


def test_a_crash_in_the_middle_then_a_restart_records_each_item_once(clock: FixedClock) -> None:
    from adapters.composition import build_app
    from adapters.settings import Settings

    meta = CommandMeta(actor="operateur.test", reason="test")
    crashed, reference = (build_app(Settings(store="memory"), clock=clock) for _ in range(2))
    ids = [sign(crashed, meta, i) for i in range(5)]
    assert [sign(reference, meta, i) for i in range(5)] == ids
    today = date(2025, 6, 1)
    index = MemoryDueIndex(crashed)
    with pytest.raises(RuntimeError):
        run_due(CrashAfter(crashed, 3), index.find_due, today, catch_up=index.catch_up)  # type: ignore[arg-type]
    assert sum(1 for cid in ids if crashed.get(cid).years) == 3
    restart = MemoryDueIndex(crashed)  # a new process: a new index, from the log
    report = run_due(crashed, restart.find_due, today, catch_up=restart.catch_up)
    assert report.conventions == 2
    run_due(reference, lambda _d: ids, today)
    assert all_events(crashed, ids) == all_events(reference, ids)


def test_scheduler_meta_names_the_run() -> None:
    m = scheduler_meta(date(2026, 1, 2))
    assert (m.actor, m.command_id) == ("scheduler", "due:2026-01-02")


def test_a_run_asked_to_stop_leaves_the_rest_to_the_next_run(app: ConventionsApp, meta: CommandMeta) -> None:
    ids = [sign(app, meta, i) for i in range(4)]
    done: list[int] = []
    report = run_due(app, lambda _d: ids, date(2024, 3, 1), progress=done.append, should_stop=lambda: len(done) >= 2)
    assert report.stopped and report.conventions == 2 and report.as_dict()["stopped"] is True
    rest = run_due(app, lambda _d: ids, date(2024, 3, 1))
    assert not rest.stopped and rest.conventions == 2
