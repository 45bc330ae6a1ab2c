"""The dashboard's forecast and review counts, kept as counters and per-convention plans (issue 11:
a dashboard under 300 ms on 20 000 conventions), answer what the rules say, and the schema change
that brought them rebuilds a read model written by an earlier release."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import orjson

from adapters.composition import build_app, build_projection_store
from adapters.settings import Settings
from domain.convention import CommandMeta
from domain.values import Profile
from projections import all_models, portfolio
from projections.engine.runner import Runner
from projections.engine.store import Table, physical
from tests.integration.test_projection_models import build_portfolio, sign

TODAY = date(2026, 6, 30)
M = CommandMeta(actor="agent.durand", reason="test")


def _states(runner: Runner) -> list[dict]:
    with runner.store.reading_live(portfolio.Portfolio) as tx:
        rows = tx.fetchall(f"SELECT state FROM {tx.t(portfolio.CONVENTIONS.name)} ORDER BY convention_id")
    return [orjson.loads(state) for (state,) in rows]


def _kept(runner: Runner) -> dict[str, int | None]:
    with runner.store.reading_live(portfolio.Portfolio) as tx:
        return dict(tx.fetchall(f"SELECT convention_id, plan_year FROM {tx.t(portfolio.CONVENTIONS.name)}"))


def test_forecast_computed_then_kept_equals_the_rules(built) -> None:  # noqa: ANN001
    """R3-R6: the forecast from the kept plans and counters equals the plain function over the states,
    on the first view (plans computed), the next (plans kept) and after a new fact (one recomputed)."""
    app, runner, ids = built
    expected = portfolio.forecast(_states(runner), TODAY)
    assert expected, "the scripted portfolio has aid still to pay"
    assert set(_kept(runner).values()) == {None, portfolio.NO_PLAN}  # written empty by the read model
    first = portfolio.dashboard(runner.store, TODAY)
    assert first["forecast"] == expected
    kept = _kept(runner)
    assert kept[str(ids["terminated"])] == portfolio.NO_PLAN
    assert {y for cid, y in kept.items() if cid != str(ids["terminated"])} == {2026}
    assert portfolio.dashboard(runner.store, TODAY)["forecast"] == expected

    app.clock.today = date(2026, 7, 1)
    app.terminate(ids["max"], M, on=date(2026, 7, 1), by="cpam", ground="départ")
    runner.catch_up()
    assert _kept(runner)[str(ids["max"])] == portfolio.NO_PLAN
    app.hire(ids["no_assistant"], M, hired_on=date(2026, 7, 1), fte=Decimal(1), profile=Profile.NURSE)
    runner.catch_up()
    assert _kept(runner)[str(ids["no_assistant"])] is None  # emptied: its state changed
    after = portfolio.dashboard(runner.store, date(2026, 7, 1))
    assert after["forecast"] == portfolio.forecast(_states(runner), date(2026, 7, 1))
    assert after["forecast"] != expected
    assert _kept(runner)[str(ids["no_assistant"])] == 2026


def test_a_new_year_plans_again(built) -> None:  # noqa: ANN001
    """Plans are kept for one first year: the next calendar year's dashboard computes them again."""
    app, runner, ids = built
    portfolio.dashboard(runner.store, TODAY)
    next_year = date(2027, 1, 2)
    app.clock.today = next_year
    app.tick(M, today=next_year)
    runner.catch_up()
    answer = portfolio.dashboard(runner.store, next_year)
    assert answer["forecast"] == portfolio.forecast(_states(runner), next_year)
    assert {f["year"] for f in answer["forecast"]} <= set(range(2027, 2032))
    assert set(_kept(runner).values()) <= {2027, portfolio.NO_PLAN}


def test_a_plan_is_not_kept_for_a_state_that_moved_on(built) -> None:  # noqa: ANN001
    """A dashboard computing a plan while the read model applies a new event must not keep a plan
    of the old state: the plan is written only on the row whose state it was computed from."""
    app, runner, ids = built
    cid = str(ids["full"])
    with runner.store.reading_live(portfolio.Portfolio) as tx:
        (old,) = tx.fetchall(f"SELECT state FROM {tx.t(portfolio.CONVENTIONS.name)} WHERE convention_id = ?", [cid])
    plans, _ = portfolio._plans([(cid, old[0])], TODAY.year)
    app.clock.today = date(2026, 7, 1)
    app.hold_review(ids["full"], M, held_on=date(2026, 7, 1))
    runner.catch_up()
    portfolio._remember(runner.store, TODAY.year, plans)
    assert _kept(runner)[cid] is None


def test_dashboard_reviews_and_attainments_match_the_aggregates(built) -> None:  # noqa: ANN001
    """R10: reviews held by their deadline or after, and those fallen due and not held (overdue past
    the deadline, pending before it), counted per CPAM as the aggregates say."""
    app, runner, ids = built
    dash = portfolio.dashboard(runner.store, TODAY)
    expected: dict[str, list[int]] = {}
    for cid in ids.values():
        c = app.get(cid)
        counts = expected.setdefault(c.cpam_code, [0, 0, 0, 0])
        grace = c.policies.review_grace_days
        for due, review in c.reviews.items():
            deadline = due.toordinal() + grace
            if review.held_on is not None:
                counts[0 if review.held_on.toordinal() <= deadline else 1] += 1
            elif c.status.value != "terminated" and due <= TODAY:
                counts[2 if deadline < TODAY.toordinal() else 3] += 1
    got = {r["cpam_code"]: [r["held_on_time"], r["held_late"], r["overdue"], r["pending"]] for r in dash["reviews"]}
    assert got == {c: v for c, v in expected.items() if any(v)}


def test_a_review_held_before_it_falls_due_is_never_open(clock) -> None:  # noqa: ANN001
    """R10: a review may be held up to 60 days early; when it then falls due it is already held."""
    clock.today = date(2023, 8, 20)
    app = build_app(Settings(store="memory"), clock=clock)
    cid = sign(app, M, 1, effective=date(2023, 3, 1))
    app.tick(M, today=date(2023, 8, 20))
    assert app.hold_review(cid, M, held_on=date(2023, 8, 20))["value"] == "2023-09-01"
    runner = Runner(app, build_projection_store(Settings(store="memory")), all_models(), batch_size=5)
    runner.catch_up()
    clock.today = date(2023, 10, 30)
    app.tick(M, today=date(2023, 10, 30))
    runner.catch_up()
    dash = portfolio.dashboard(runner.store, date(2023, 10, 30))
    assert dash["reviews"] == [{"cpam_code": "281", "held_on_time": 1, "held_late": 0, "overdue": 0, "pending": 0}]
    assert runner.verify() == []


def test_dashboard_figures_survive_a_verify_and_a_rebuild(built) -> None:  # noqa: ANN001
    """The kept plans are a cache: a replay (verify) does not compare them, a rebuild starts empty
    and the next dashboard answers the same."""
    app, runner, ids = built
    before = portfolio.dashboard(runner.store, TODAY)
    assert runner.verify() == []
    runner.rebuild(["portfolio"])
    assert set(_kept(runner).values()) == {None, portfolio.NO_PLAN}
    assert portfolio.dashboard(runner.store, TODAY) == before


def test_a_read_model_of_an_earlier_release_is_rebuilt(clock) -> None:  # noqa: ANN001
    """Tables whose columns differ from this release's (the portfolio before its counters) are rebuilt
    beside and switched, and the earlier release's tables are dropped with their generation."""
    clock.today = TODAY
    app = build_app(Settings(store="memory"), clock=clock)
    build_portfolio(app)
    store = build_projection_store(Settings(store="memory"))
    old_tables = (
        Table.of("pf_conventions", "convention_id TEXT NOT NULL, state TEXT NOT NULL", key="convention_id"),
        Table.of("pf_reviews", "convention_id TEXT NOT NULL, due_date TEXT NOT NULL", key="convention_id, due_date"),
    )
    with store.transaction() as tx:
        gen = store.create_generation(tx, "portfolio", old_tables, live=True)
    runner = Runner(app, store, all_models())
    assert "portfolio" not in runner.positions()  # not this release's columns: as if missing
    runner.catch_up()
    assert runner.positions()["portfolio"]["generation"] == gen + 1
    with store.reading() as tx:
        names = {r[0] for r in tx.fetchall("SELECT name FROM sqlite_master WHERE type = 'table'")}
    assert physical(old_tables[1], gen) not in names and physical(old_tables[0], gen) not in names
    assert portfolio.dashboard(store, TODAY)["forecast"] == portfolio.forecast(_states(runner), TODAY)


def test_the_follower_keeps_the_plans_when_the_log_is_quiet(built, tmp_path) -> None:  # noqa: ANN001
    """Where a follower alone writes the read models (the API only reads), dashboards compute what is
    missing without keeping it, and the follower keeps the plans when it has no event to apply."""
    from adapters.projection_follower import Follower
    from scheduler.lock import FileLock

    app, runner, ids = built
    expected = portfolio.dashboard(runner.store, TODAY, remember=False)
    assert set(_kept(runner).values()) == {None, portfolio.NO_PLAN}  # nothing written by that read
    kept: list[int] = []

    def idle(r: Runner) -> int:
        kept.append(portfolio.plan_ahead(r.store, TODAY))
        if kept[-1] == 0:
            follower.stop.set()  # evidence: every plan was kept, nothing left to do
        return kept[-1]

    follower = Follower(lambda: runner, FileLock(tmp_path / "projections.lock"), poll=0.01, idle=idle)
    follower.run()
    assert kept[0] == len(ids) - 1 and kept[-1] == 0  # every convention but the terminated one, once
    assert {y for y in _kept(runner).values()} == {2026, portfolio.NO_PLAN}
    assert portfolio.dashboard(runner.store, TODAY, remember=False) == expected
