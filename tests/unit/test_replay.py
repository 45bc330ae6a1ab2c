"""The policy impact by replay (issue 12): a convention's recorded facts under another policy.

Rules cited: R4 (modulation: proportional or steps), R6 (year-3+ advance and balance, indu), R16 and
R25 (the clock stops while suspended), R17 (pro-rata settlement), R23 (a balance falls due with
the attainment), worked case 9 (a suspension of 123 days moves anniversary 2).
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Any

import pytest

from domain.application import ConventionsApp
from domain.convention import CommandMeta
from domain.errors import InvalidInput
from domain.impact import Figures, ledger, outcome, payments_of
from domain.replay import as_recorded, owed, remodulated, replay
from domain.replay_policies import parse_policies, policies_under
from domain.values import Modulation, SuspensionGround, TerminatedBy
from tests.conftest import FixedClock
from tests.helpers import with_a_nurse

D = Decimal


def amounts(instalments: list[Any]) -> dict[str, Decimal]:
    return {iid: amount for iid, amount, _ in instalments}


@pytest.fixture
def year_3_at_60(app: ConventionsApp, meta: CommandMeta, clock: FixedClock) -> list[Any]:
    """FULL, BASE, effective 2025-03-01, initial 1 000, target 1 200 (R5); year 3 (2027-03-01 to
    2028-02-29, 22 000 EUR under C-2024) reaches 60 %: 1 120 patients; everything due is paid."""
    clock.today = date(2028, 6, 30)
    cid = with_a_nurse(app, meta, hired_on=date(2025, 3, 1), due_by=date(2028, 3, 10))
    assert app.record_attainment(cid, meta, year=3, observed_patients=1120, on=date(2028, 3, 10))["value"] == "0.6"
    app.record_due(cid, meta, today=date(2028, 3, 10))
    conv = app.get(cid)
    for inst in list(conv.instalments.values()):
        app.record_payment(cid, meta, instalment=inst.instalment_id, paid_on=date(2028, 3, 20), reference="VIR")
    return app.history(cid)


def test_attainment_60_percent_in_year_3_under_steps_pays_the_50_percent_step(year_3_at_60: list[Any]) -> None:
    events, today = year_3_at_60, date(2028, 6, 30)
    recorded = amounts(as_recorded(events, today))
    # R4 proportional (recorded): 22 000 x 0.60 = 13 200 due; R6: advance 11 000, balance + 2 200
    assert recorded["y3-advance"] == D("11000.00") and recorded["y3-balance"] == D("2200.00")
    steps = policies_under(events[0].policies, parse_policies(["modulation=steps"]))
    replayed = amounts(owed(replay(events, steps, today)))
    # R4 steps: 60 % is at the 50 % step: 11 000 due, the advance already covers it: balance 0
    assert replayed["y3-advance"] == D("11000.00") and replayed["y3-balance"] == D("0.00")
    assert {k: v for k, v in replayed.items() if k != "y3-balance"} == {
        k: v for k, v in recorded.items() if k != "y3-balance"
    }  # years 1, 2 and the advances do not depend on the modulation (R4, R6)
    o = outcome(events, parse_policies(["modulation=steps"]), today)
    assert o.rerun and o.changed
    balance_year = 2028  # fell due with the attainment, 2028-03-10, payable by 2028-04-09 (R23)
    assert o.replayed[balance_year].due == o.actual[balance_year].due - D("2200.00")
    # what was paid stays paid: the 2 200 paid on the balance is now beyond what was due, to recover
    assert o.replayed[balance_year].paid == o.actual[balance_year].paid
    assert o.replayed[balance_year].to_recover - o.actual[balance_year].to_recover == D("2200.00")


def test_the_cheap_path_for_a_modulation_gives_what_the_full_replay_gives(year_3_at_60: list[Any]) -> None:
    events, today = year_3_at_60, date(2028, 6, 30)
    for modulation in Modulation:
        policies = policies_under(events[0].policies, {"modulation": modulation})
        assert amounts(remodulated(events, policies, today)) == amounts(owed(replay(events, policies, today)))


def test_a_replay_under_the_recorded_policies_gives_back_the_recorded_figures(
    app: ConventionsApp, meta: CommandMeta, clock: FixedClock
) -> None:
    clock.today = date(2028, 6, 30)
    cid = with_a_nurse(app, meta, hired_on=date(2025, 3, 1), due_by=date(2026, 4, 1))
    for inst in ("y1-full", "y2-full"):
        app.record_payment(cid, meta, instalment=inst, paid_on=date(2026, 3, 20), reference="VIR")
    app.suspend(cid, meta, from_date=date(2026, 5, 1), ground=SuspensionGround.LONG_ABSENCE,
                agreement_date=date(2026, 5, 3))  # fmt: skip
    app.reactivate(cid, meta, from_date=date(2026, 9, 1))
    app.record_due(cid, meta, today=date(2027, 9, 1))
    app.terminate(cid, meta, on=date(2027, 12, 31), by=TerminatedBy.CPAM, ground="déménagement")
    events = app.history(cid)
    today = clock.today
    assert amounts(owed(replay(events, events[0].policies, today))) == amounts(as_recorded(events, today))
    o = outcome(events, {}, today, force=True)
    assert o.rerun and not o.changed


def test_pause_clock_off_moves_the_anniversaries_back_and_what_fell_due(
    app: ConventionsApp, meta: CommandMeta, clock: FixedClock
) -> None:
    clock.today = date(2027, 5, 1)
    cid = with_a_nurse(app, meta, hired_on=date(2025, 3, 1), due_by=date(2026, 4, 1))
    app.suspend(cid, meta, from_date=date(2026, 5, 1), ground=SuspensionGround.LONG_ABSENCE,
                agreement_date=date(2026, 5, 3))  # fmt: skip
    app.reactivate(cid, meta, from_date=date(2026, 8, 31))  # 122 days
    app.record_due(cid, meta, today=clock.today)
    events, today = app.history(cid), clock.today
    on = replay(events, events[0].policies, today)
    off = replay(events, policies_under(events[0].policies, parse_policies(["pause_clock=off"])), today)
    assert on.anniversary(2) == date(2027, 7, 1)  # R16: moved by the days suspended (worked case 9)
    assert off.anniversary(2) == date(2027, 3, 1)  # the clock did not stop: plain anniversary
    assert "y3-advance" not in on.instalments  # year 3 starts 2027-07-01, after today
    assert off.instalments["y3-advance"].amount == D("11000.00")  # R6: 50 % of 22 000 at 2027-03-01
    o = outcome(events, parse_policies(["pause_clock=off"]), today)
    assert 2027 not in o.actual and o.replayed[2027].due == D("11000.00")
    assert outcome(events, parse_policies(["pause_clock=on"]), today).rerun is False  # nothing to change


def test_policies_that_cannot_change_a_history_are_not_replayed(year_3_at_60: list[Any]) -> None:
    events, today = year_3_at_60, date(2028, 6, 30)
    # never suspended: the clock's pause moves nothing (R16)
    o = outcome(events, parse_policies(["pause_clock=off"]), today)
    assert not o.rerun and not o.changed and o.replayed == o.actual


def test_the_ledger_counts_what_was_paid_beyond_an_instalment_as_to_recover() -> None:
    instalments = [("y3-advance", D("11000.00"), date(2027, 3, 1)), ("y3-balance", D("-1000.00"), date(2028, 4, 1))]
    paid = payments_of([])  # none recorded
    assert ledger(instalments, paid)[2028] == Figures(to_recover=D("1000.00"))
    from domain.impact import Payment

    years = ledger(instalments, [Payment("y3-advance", D("11000.00"), date(2027, 3, 5)),
                                 Payment("y3-balance", D("2200.00"), date(2028, 4, 2))])  # fmt: skip
    assert years[2027] == Figures(due=D("11000.00"), paid=D("11000.00"))
    # the balance comes to -1 000 (an indu, R6) and 2 200 were paid on it: 3 200 to recover
    assert years[2028] == Figures(to_recover=D("3200.00"), paid=D("2200.00"))


@pytest.mark.parametrize(
    ("texts", "code"),
    [
        (["colour=blue"], "unknown_policy"),
        (["modulation=cubic"], "invalid_policy"),
        (["pause_clock=maybe"], "invalid_policy"),
        (["modulation"], "invalid_policy"),
        (["modulation=steps", "modulation=proportional"], "duplicate_policy"),
        (["review_grace_days=10"], "unknown_policy"),  # not chosen at signature: not a replay's to change
    ],
)
def test_a_policy_the_signature_would_refuse_is_refused_with_its_code(texts: list[str], code: str) -> None:
    with pytest.raises(InvalidInput) as refused:
        parse_policies(texts)
    assert refused.value.code == code and refused.value.message


def test_policies_are_written_as_an_operator_writes_them() -> None:
    assert parse_policies(["modulation=STEPS", "pause-clock=off"]) == {
        "modulation": Modulation.STEPS,
        "pause_clock": False,
    }
    assert parse_policies(["pause_clock=oui"]) == {"pause_clock": True}
