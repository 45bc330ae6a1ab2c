"""One convention whose stored events the rules cannot handle never stops the others.

The finding: an amendment to THIRD dated 2023-03-18 was accepted on a convention effective
2025-03-01 (before the domain refused it). Recording its year 1 raises ``option_not_offered``
(the C-2024 regime offers no THIRD), and so did the dashboard's forecast, for every user of its
CPAM, and the nightly run stopped at it. Such a store is written here on purpose, bypassing the
command's checks, as a store written before the fix.
"""

from __future__ import annotations

from datetime import date
from typing import Any
from uuid import UUID

import pytest

from adapters.composition import build_app, build_projection_store
from adapters.settings import Settings
from domain import events as ev
from domain.application import ConventionsApp
from domain.convention import CommandMeta
from domain.values import Option
from projections import all_models, calendar, portfolio
from projections.calendar import NightlyFailures
from projections.engine.runner import Runner
from scheduler.jobs import NightlyJob, run_due, scheduler_meta
from tests.conftest import FixedClock

META = CommandMeta(actor="operateur.test", reason="test")
RPPS = ["10000000009", "10000000017", "10000000025", "10000000033"]
TODAY = date(2026, 4, 30)


def sign(app: ConventionsApp, i: int, *, effective: date = date(2025, 3, 1), cpam: str = "281") -> UUID:
    return UUID(app.sign(
        META, number=f"C-{i}", cpam_code=cpam, rpps=RPPS[i], doctor_name=f"Docteur {i}",
        specialty="general_practice", sector=1, optam=False, ccam_share=None, newly_installed=False,
        option="FULL", percentile=50, initial_patients=1000, target_patients=1200,
        signed_on=date(effective.year, effective.month, 1), effective_from=effective,
    )["id"])  # fmt: skip


def store_option_changed(app: ConventionsApp, cid: UUID, option: Option, on: date) -> None:
    """Append an amendment as a store written before the domain's fix holds it: the command's
    checks bypassed, the event triggered on the aggregate and saved."""
    conv = app.repository.get(cid)
    conv._trigger(ev.OptionChanged, CommandMeta(actor="operateur.ancien", reason="avenant", command_id="old"), on,
                  option=option)  # fmt: skip
    app.save(conv)


def make_unprocessable(app: ConventionsApp, cid: UUID) -> None:
    store_option_changed(app, cid, Option.THIRD, date(2023, 3, 18))


@pytest.fixture
def portfolio_of_three(clock: FixedClock) -> tuple[ConventionsApp, list[UUID]]:
    """C-0, C-1 (made unprocessable, CPAM 281) and C-2 (CPAM 751), all effective 2025-03-01."""
    clock.today = TODAY
    app = build_app(Settings(store="memory"), clock=clock)
    ids = [sign(app, 0), sign(app, 1), sign(app, 2, cpam="751")]
    make_unprocessable(app, ids[1])
    return app, ids


def runner_for(app: ConventionsApp) -> Runner:
    return Runner(app, build_projection_store(Settings(store="memory")), all_models())


def test_the_stored_bad_amendment_reproduces_the_finding(portfolio_of_three: Any) -> None:
    app, (_, bad, _) = portfolio_of_three
    assert app.get(bad).option_on(date(2025, 3, 1)) is Option.THIRD  # it loads...
    with pytest.raises(Exception, match="option_not_offered"):  # ...but its year 1 cannot be recorded
        app.record_due(bad, META, today=TODAY)


def test_nightly_run_skips_the_unprocessable_convention_records_the_others_and_alerts_an_operator(
    portfolio_of_three: Any,
) -> None:
    app, (a, bad, c) = portfolio_of_three
    runner = runner_for(app)
    runner.catch_up()
    job = NightlyJob(app, lambda day: calendar.conventions_due(runner.store, day), runner.catch_up)
    assert job.failures is not None  # the runner's projection store, the one the work queue reads

    report = job(TODAY)
    assert (report.found, report.conventions) == (3, 2) and report.events > 0
    assert [(f.convention_id, f.number, f.code) for f in report.failures] == [(bad, "C-1", "option_not_offered")]
    assert report.as_dict()["failures"][0]["message"].startswith("L'option THIRD n'est pas proposée")
    assert app.get(a).years and app.get(c).years and not app.get(bad).years  # the others are done
    assert {e.command_id for e in app.history(a)[1:]} == {"due:2026-04-30"}

    queue = calendar.work_queue(runner.store, TODAY)
    alert = next(i for i in queue if i["kind"] == "nightly_failure")
    assert (alert["convention_id"], alert["number"], alert["cpam"], alert["overdue"]) == (bad, "C-1", "281", True)
    assert "option_not_offered" in alert["message"] and "depuis le 30/04/2026" in alert["message"]
    assert [i["kind"] for i in queue if i["number"] == "C-1"] == ["no_assistant", "nightly_failure"]  # by date
    assert [i for i in calendar.work_queue(runner.store, TODAY, {"751"}) if i["kind"] == "nightly_failure"] == []
    assert not any(i["kind"] == "nightly_failure" for i in calendar.work_queue(runner.store, date(2026, 4, 29)))

    # The next run retries it (the calendar need not name it), still fails, and says since when.
    again = run_due(app, lambda _day: [], date(2026, 5, 1), failures=NightlyFailures(runner.store))
    assert [f.convention_id for f in again.failures] == [bad] and again.found == 1
    alert = next(i for i in calendar.work_queue(runner.store, date(2026, 5, 1)) if i["kind"] == "nightly_failure")
    assert "depuis le 30/04/2026 (2 passage(s), dernier le 01/05/2026)" in alert["message"]

    # Corrected (an amendment back to FULL before its first year): the next run processes it and clears the alert.
    store_option_changed(app, bad, Option.FULL, date(2023, 3, 19))
    fixed = job(date(2026, 5, 1))
    assert not fixed.failures and app.get(bad).years
    assert NightlyFailures(runner.store).ids() == []
    assert not any(i["kind"] == "nightly_failure" for i in calendar.work_queue(runner.store, date(2026, 5, 1)))
    runner.store.close()


class FailsOn:
    """The app, except that ``record_due`` raises ``error`` for one convention."""

    def __init__(self, app: ConventionsApp, bad: UUID, error: Exception) -> None:
        self.app, self.bad, self.error = app, bad, error

    def __getattr__(self, name: str) -> Any:
        return getattr(self.app, name)

    def record_due(self, conv_id: UUID, *args: Any, **kw: Any) -> int:
        if conv_id == self.bad:
            raise self.error
        return self.app.record_due(conv_id, *args, **kw)


@pytest.mark.parametrize("error", [KeyError("y1"), ValueError("date hors calendrier"), AssertionError("invariant")])
def test_nightly_run_isolates_a_convention_whose_facts_break_the_rules_not_only_refusals(
    clock: FixedClock, error: Exception
) -> None:
    clock.today = TODAY
    app = build_app(Settings(store="memory"), clock=clock)
    ids = [sign(app, i) for i in range(3)]
    store = build_projection_store(Settings(store="memory"))
    report = run_due(FailsOn(app, ids[1], error), lambda _d: ids, TODAY, failures=NightlyFailures(store))  # type: ignore[arg-type]
    assert report.conventions == 2 and [(f.convention_id, f.code) for f in report.failures] == [
        (ids[1], type(error).__name__)
    ]
    assert NightlyFailures(store).ids() == [ids[1]]
    store.close()


def test_dashboard_forecast_shows_the_others_and_names_the_convention_it_cannot_compute(
    portfolio_of_three: Any, clock: FixedClock
) -> None:
    app, (a, bad, c) = portfolio_of_three
    reference = build_app(Settings(store="memory"), clock=clock)  # the same portfolio without the bad one
    assert [sign(reference, 0), sign(reference, 2, cpam="751")] == [a, c]
    for each in (app, reference):
        run_due(each, lambda _d, each=each: list(each.convention_ids()), TODAY, scheduler_meta(TODAY))
    runner, expected = runner_for(app), runner_for(reference)
    runner.catch_up()
    expected.catch_up()

    board = portfolio.dashboard(runner.store, TODAY)
    wanted = portfolio.dashboard(expected.store, TODAY)
    assert board["forecast"] == wanted["forecast"] and board["forecast"]
    assert {f["cpam_code"] for f in board["forecast"]} == {"281", "751"}
    assert board["arrears"] == wanted["arrears"]
    assert board["unprocessable"] == [{
        "id": str(bad), "number": "C-1", "cpam_code": "281", "code": "option_not_offered",
        "message": "L'option THIRD n'est pas proposée en année 1 du régime C-2024.",
    }]  # fmt: skip
    assert sum(r["count"] for r in board["conventions"]) == 3  # still counted where nothing is computed
    assert portfolio.dashboard(runner.store, TODAY, {"751"})["unprocessable"] == []  # scoped like the rest
    assert not any(f["year"] == 0 for f in board["forecast"])  # arrears are their own figure, not "year 0"
    with pytest.raises(Exception, match="option_not_offered"):
        portfolio.forecast([_state(runner, bad)], TODAY)  # the plain function still raises: dashboard isolates
    runner.store.close()
    expected.store.close()


def _state(runner: Runner, cid: UUID) -> dict[str, Any]:
    import orjson

    with runner.store.reading() as tx:
        runner.store.resolve(tx, portfolio.Portfolio.name, portfolio.Portfolio.tables)
        rows = tx.fetchall(f"SELECT state FROM {tx.t(portfolio.CONVENTIONS.name)} WHERE convention_id = ?", [str(cid)])
    return orjson.loads(rows[0][0])


def test_read_model_handlers_apply_the_unprocessable_conventions_events(portfolio_of_three: Any) -> None:
    """The projection runner does not die on it: every read model has all three conventions."""
    app, ids = portfolio_of_three
    runner = runner_for(app)
    runner.catch_up()
    assert all(p["position"] == p["head"] for p in runner.positions().values())
    from projections import conventions_list

    assert conventions_list.search(runner.store)["total"] == 3
    assert calendar.next_due(runner.store, ids[1])["next_due_on"] == date(2025, 3, 1)
    runner.store.close()


def test_calendar_keeps_the_others_when_one_conventions_dates_cannot_be_computed(
    portfolio_of_three: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    app, (a, bad, c) = portfolio_of_three
    alerts = calendar.Entry.alerts

    def broken(self: calendar.Entry) -> list[Any]:
        if self.number == "C-1":
            raise ValueError("année introuvable")
        return alerts(self)

    monkeypatch.setattr(calendar.Entry, "alerts", broken)
    runner = runner_for(app)
    runner.catch_up()  # does not raise
    queue = calendar.work_queue(runner.store, TODAY)
    assert {i["number"] for i in queue} == {"C-0", "C-2"}
    assert calendar.next_due(runner.store, bad)["recomputing"]  # left dirty...
    assert bad in calendar.conventions_due(runner.store, date(2020, 1, 1))  # ...so the nightly run tries it
    assert not calendar.next_due(runner.store, a)["recomputing"]
    runner.store.close()


def test_attainment_buckets_come_in_numeric_order(clock: FixedClock) -> None:
    clock.today = date(2026, 6, 30)
    app = build_app(Settings(store="memory"), clock=clock)
    effective = date(2023, 3, 1)
    ids = [sign(app, i, effective=effective) for i in range(4)]
    run_due(app, lambda _d: ids, date(2026, 3, 2))  # year 3 ended 2026-03-01
    for cid, patients in zip(ids, (1200, 1060, 1150, 1000), strict=True):  # 100 %, 30 %, 75 %, 0 %
        app.record_attainment(cid, META, year=3, observed_patients=patients, on=date(2026, 3, 10))
    runner = runner_for(app)
    runner.catch_up()
    board = portfolio.dashboard(runner.store, date(2026, 6, 30))
    assert [b["bucket"] for b in board["attainment_years_3_plus"]] == ["0-24 %", "25-49 %", "75-99 %", "100 %"]
    assert sum(b["count"] for b in board["attainment_years_3_plus"]) == 4
    runner.store.close()


def test_nightly_failures_are_recorded_and_shown_on_postgres(portfolio_of_three: Any, pg_settings: Settings) -> None:
    app, (_, bad, _) = portfolio_of_three
    runner = Runner(app, build_projection_store(pg_settings), all_models())
    runner.catch_up()
    assert calendar.work_queue(runner.store, TODAY)  # no failures table yet: the alerts alone
    report = NightlyJob(app, lambda day: calendar.conventions_due(runner.store, day), runner.catch_up)(TODAY)
    assert [f.number for f in report.failures] == ["C-1"] and report.conventions == 2
    items = [i for i in calendar.work_queue(runner.store, TODAY, {"281"}) if i["kind"] == "nightly_failure"]
    assert [(i["convention_id"], i["number"]) for i in items] == [(bad, "C-1")]
    runner.store.close()
