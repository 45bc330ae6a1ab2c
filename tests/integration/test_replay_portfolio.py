"""The replay checked convention by convention on a simulated portfolio (issue 12): under the
recorded policies it gives back exactly the recorded instalments, and the cheap path for a change of
modulation gives what the full replay gives. Then the report's figures add up."""

from __future__ import annotations

from datetime import date

import pytest

from adapters.composition import build_app
from adapters.impact import impact
from adapters.settings import Settings
from adapters.simulation import Simulator
from domain.application import ConventionsApp
from domain.impact import ledger, payments_of
from domain.replay import as_recorded, owed, remodulated, replay
from domain.replay_policies import parse_policies, policies_under

TODAY = date(2027, 12, 31)


@pytest.fixture(scope="module")
def portfolio() -> ConventionsApp:
    app = build_app(Settings(store="memory"), clock=lambda: TODAY)
    report = Simulator(app, seed=4, start=date(2023, 1, 1), end=TODAY, conventions=40).run()
    assert report.signed == 40 and report.actions["attainment"] > 10 and report.actions["suspend"] >= 1
    return app


def figures(instalments: list, payments: list) -> dict:
    return {y: f.as_tuple() for y, f in ledger(instalments, payments).items() if any(f.as_tuple())}


def test_every_convention_replays_to_its_recorded_figures(portfolio: ConventionsApp) -> None:
    for cid in portfolio.convention_ids():
        events = portfolio.history(cid)
        paid = payments_of(events)
        recorded = as_recorded(events, TODAY)
        assert figures(owed(replay(events, events[0].policies, TODAY)), paid) == figures(recorded, paid), cid
        steps = policies_under(events[0].policies, parse_policies(["modulation=steps"]))
        full = owed(replay(events, steps, TODAY))
        assert figures(remodulated(events, steps, TODAY), paid) == figures(full, paid), cid


def test_the_report_adds_up(portfolio: ConventionsApp) -> None:
    result = impact(None, parse_policies(["modulation=steps"]), TODAY, app=portfolio, workers=1)
    assert result.conventions == 40 and result.unreplayable == [] and 0 < result.changed <= result.rerun < 40
    totals = result.totals()
    assert totals["replayed"].paid == totals["actual"].paid  # payments are facts
    assert totals["difference"].due < 0 < totals["difference"].to_recover  # steps pay less below 100 %
    per_cpam = [result.totals(c)["difference"].due for c in result.cpams()]
    assert sum(per_cpam) == totals["difference"].due


def test_on_postgresql_two_workers_give_the_figures_of_one(pg_settings: Settings) -> None:
    from tests.integration.test_projection_models import build_portfolio

    today = date(2026, 6, 30)
    build_portfolio(build_app(pg_settings, clock=lambda: today))
    chosen = parse_policies(["modulation=steps", "pause_clock=off"])
    one, two = (impact(pg_settings, chosen, today, workers=n).as_json() for n in (1, 2))
    assert one["conventions"]["total"] == 6 and one["conventions"]["changed"] >= 1
    assert {k: v for k, v in one.items() if k != "seconds"} == {k: v for k, v in two.items() if k != "seconds"}
