"""The one "what falls due" rule (``domain.due.next_due``) and the schedule and calendar helpers it
shares with the read models, as pure functions over small values."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from pydantic import ValidationError

from domain.calendar import Pause, contract_years
from domain.convention import CommandMeta, Convention
from domain.due import CalendarState, Due, DueKind, due_items, next_due
from domain.schedule import Timing, YearInstalment, attainment_balance, falls_due, year_instalments, year_timing
from domain.values import ALERT_POLICY, InstalmentKind

EFFECTIVE = date(2025, 3, 1)
META = CommandMeta(actor="test")


def state(**over: object) -> CalendarState:
    return CalendarState(effective_from=EFFECTIVE, **over)  # type: ignore[arg-type]


# ---------------------------------------------------------------- the schedule: what a year pays, and when
def test_year_instalments_say_what_each_year_pays_and_what_makes_it_fall_due() -> None:
    assert year_instalments(1, "A7-2019") == (
        YearInstalment("y1-advance", 1, InstalmentKind.ADVANCE, Timing.HIRE),
        YearInstalment("y1-balance", 1, InstalmentKind.BALANCE, Timing.ANNIVERSARY),
    )  # R24
    assert year_instalments(1, "C-2024") == (YearInstalment("y1-full", 1, InstalmentKind.FULL, Timing.START),)
    assert (
        year_instalments(2, "A7-2019")
        == year_instalments(2)
        == (YearInstalment("y2-full", 2, InstalmentKind.FULL, Timing.START),)
    )  # the regime changes year 1 only
    assert year_instalments(3) == (
        YearInstalment("y3-advance", 3, InstalmentKind.ADVANCE, Timing.START),
        YearInstalment("y3-balance", 3, InstalmentKind.BALANCE, Timing.ATTAINMENT),
    )  # R6, R23
    assert [attainment_balance(y) for y in (1, 2, 3, 7)] == [None, None, "y3-balance", "y7-balance"]


def test_falls_due_by_timing() -> None:
    start, end = date(2027, 3, 1), date(2028, 3, 1)
    at = {"start": start, "end": end}
    assert falls_due(Timing.START, **at, hired_on=None, attainment_recorded_on=None) == start
    assert falls_due(Timing.HIRE, **at, hired_on=None, attainment_recorded_on=None) is None  # no hire yet
    assert falls_due(Timing.HIRE, **at, hired_on=date(2027, 1, 5), attainment_recorded_on=None) == start
    assert falls_due(Timing.HIRE, **at, hired_on=date(2027, 4, 5), attainment_recorded_on=None) == date(2027, 4, 5)
    assert falls_due(Timing.ANNIVERSARY, **at, hired_on=None, attainment_recorded_on=None) == end
    assert falls_due(Timing.ATTAINMENT, **at, hired_on=None, attainment_recorded_on=None) is None
    late = date(2028, 5, 2)
    assert falls_due(Timing.ATTAINMENT, **at, hired_on=None, attainment_recorded_on=late) == late
    assert falls_due(Timing.ATTAINMENT, **at, hired_on=None, attainment_recorded_on=date(2028, 1, 2)) == end
    assert falls_due(Timing.ATTAINMENT, start=start, end=None, hired_on=None, attainment_recorded_on=late) is None


def test_year_timing_pairs_each_instalment_with_its_date() -> None:
    timed = year_timing(3, "C-2024", start=date(2027, 3, 1), end=date(2028, 3, 1), hired_on=None,
                        attainment_recorded_on=None)  # fmt: skip
    assert [(i.instalment_id, on) for i, on in timed] == [("y3-advance", date(2027, 3, 1)), ("y3-balance", None)]


# ---------------------------------------------------------------- the calendar's walk of contract years
def test_contract_years_take_recorded_starts_and_stop_where_an_open_suspension_hides_the_next() -> None:
    walk = contract_years(EFFECTIVE)
    assert [next(walk) for _ in range(2)] == [
        (1, EFFECTIVE, date(2026, 3, 1)),
        (2, date(2026, 3, 1), date(2027, 3, 1)),
    ]
    paused = list(contract_years(EFFECTIVE, [Pause(date(2025, 9, 1), date(2025, 9, 11)), Pause(date(2026, 6, 1))]))
    assert paused == [(1, EFFECTIVE, date(2026, 3, 11)), (2, date(2026, 3, 11), None)]  # R16
    recorded = list(contract_years(EFFECTIVE, [Pause(date(2026, 6, 1))], starts={2: date(2026, 3, 1)}))
    assert recorded == [(1, EFFECTIVE, date(2026, 3, 1)), (2, date(2026, 3, 1), None)]


# ---------------------------------------------------------------- the rule
def test_a_new_convention_starts_its_first_year_on_the_effective_date() -> None:
    assert next_due(state()) == Due(EFFECTIVE, DueKind.YEAR, 1)
    assert next_due(state(), until=EFFECTIVE - timedelta(days=1)) is None  # nothing due yet
    assert state().next_due_on() == EFFECTIVE


def test_same_day_items_come_in_record_order() -> None:
    # Anniversary 1 is also review 2's date: the year starts first, then its instalment, then the review.
    s = state(years_started=1, first_regime="C-2024", reviews_raised=1, instalments={"y1-full"})
    assert [(d.kind, d.on) for d in due_items(s)] == [
        (DueKind.YEAR, date(2026, 3, 1)),
        (DueKind.REVIEW, date(2026, 3, 1)),
    ]
    assert next_due(s) == Due(date(2026, 3, 1), DueKind.YEAR, 2)
    s.years_started = 2
    assert next_due(s) == Due(date(2026, 3, 1), DueKind.INSTALMENT, 2, "y2-full")
    s.instalments.add("y2-full")
    assert next_due(s) == Due(date(2026, 3, 1), DueKind.REVIEW, 2)


def test_every_fifth_year_opens_a_term_renewed_first() -> None:
    done = {f"y{y}-{k}" for y in range(1, 6) for k in ("full", "advance", "balance")}
    s = state(years_started=5, first_regime="C-2024", reviews_raised=10, instalments=done,
              attainments={y: date(2025 + y, 3, 1) for y in range(3, 6)})  # fmt: skip
    assert next_due(s) == Due(date(2030, 3, 1), DueKind.RENEWAL, 2)  # R26
    s.term = 2
    assert next_due(s) == Due(date(2030, 3, 1), DueKind.YEAR, 6)


def test_a_balance_falls_due_with_its_attainment_and_an_a7_advance_with_the_hire() -> None:
    s = state(years_started=3, first_regime="A7-2019", reviews_raised=6,
              instalments={"y1-balance", "y2-full", "y3-advance"})  # fmt: skip
    assert next_due(s) == Due(date(2028, 3, 1), DueKind.YEAR, 4)  # no hire, no attainment: neither is due
    s.first_hired_on = date(2027, 2, 1)
    assert next_due(s) == Due(date(2027, 2, 1), DueKind.INSTALMENT, 1, "y1-advance")  # R24
    s.instalments.add("y1-advance")
    s.attainments[3] = date(2028, 1, 15)  # recorded before the anniversary: due at the anniversary (R23)...
    assert due_items(s)[1] == Due(date(2028, 3, 1), DueKind.INSTALMENT, 3, "y3-balance")
    assert next_due(s) == Due(date(2028, 3, 1), DueKind.YEAR, 4)  # ...after the year that starts that day
    s.years_started, s.attainments[3] = 4, date(2028, 5, 2)
    s.instalments.add("y4-advance")
    assert next_due(s) == Due(date(2028, 5, 2), DueKind.INSTALMENT, 3, "y3-balance")  # recorded later: then


def test_after_a_termination_only_what_fell_due_before_it() -> None:
    s = state(years_started=1, first_regime="A7-2019", reviews_raised=1, terminated_on=date(2025, 10, 1))
    assert s.settled_year() == 1
    assert next_due(s) is None  # no year 2, no review 2, no balance: the settlement replaces them (R17)
    s.first_hired_on = date(2025, 9, 1)  # the advance fell due before: recorded, then cancelled
    assert next_due(s) == Due(date(2025, 9, 1), DueKind.INSTALMENT, 1, "y1-advance")
    s.first_hired_on = date(2025, 10, 1)
    assert next_due(s) is None


def test_an_open_suspension_hides_the_next_year_not_the_reviews() -> None:
    s = state(years_started=1, first_regime="C-2024", reviews_raised=1, instalments={"y1-full"},
              pauses=[Pause(date(2025, 12, 1))])  # fmt: skip
    assert next_due(s) == Due(date(2026, 3, 1), DueKind.REVIEW, 2)  # R11: calendar time
    s.reviews_raised = 9
    assert [d.kind for d in due_items(s)] == [DueKind.REVIEW]


def test_the_aggregate_records_what_the_rule_says_in_its_order() -> None:
    conv = Convention.sign(
        META, number="C-1", cpam_code="281", rpps="10000000009", doctor_name="Martin", specialty="general_practice",
        sector=1, optam=False, ccam_share=None, newly_installed=False, option="FULL", percentile=50,
        initial_patients=1000, target_patients=1200, signed_on=date(2025, 2, 1), effective_from=EFFECTIVE,
    )  # fmt: skip
    conv.collect_events()
    expected = []
    shadow = conv.due_state()
    while (due := next_due(shadow, date(2030, 6, 1))) is not None:
        expected.append((due.on, due.kind, due.number))
        if due.kind is DueKind.RENEWAL:
            shadow.term = due.number
        elif due.kind is DueKind.YEAR:
            shadow.years_started, shadow.first_regime = due.number, shadow.first_regime or "C-2024"
        elif due.kind is DueKind.INSTALMENT:
            shadow.instalments.add(due.instalment_id or "")
        else:
            shadow.reviews_raised = due.number
    conv.record_due(META, today=date(2030, 6, 1))
    kinds = {"Renewed": DueKind.RENEWAL, "YearStarted": DueKind.YEAR, "InstalmentDue": DueKind.INSTALMENT,
             "ReviewDue": DueKind.REVIEW}  # fmt: skip
    recorded = [(e.effective_date, kinds[type(e).__name__], getattr(e, "term", None) or getattr(e, "k", None)
                 or e.year) for e in conv.collect_events()]  # type: ignore[attr-defined]  # fmt: skip
    assert recorded == expected
    assert conv.due_state() == shadow
    assert DueKind.RENEWAL in {k for _, k, _ in expected}


# ---------------------------------------------------------------- alert policy
def test_the_alert_policy_is_one_frozen_domain_value() -> None:
    assert (ALERT_POLICY.no_assistant_months, ALERT_POLICY.training_warning, ALERT_POLICY.end_of_term_warning) == (
        3, timedelta(days=60), timedelta(days=90),
    )  # fmt: skip
    assert ALERT_POLICY.overdue_from(date(2026, 3, 1)) == date(2026, 3, 2)  # late the day after
    assert ALERT_POLICY.overdue_from(date(2026, 3, 1), 30) == date(2026, 4, 1)  # after 30 days of grace (R11)
    with pytest.raises(ValidationError):
        ALERT_POLICY.no_assistant_months = 4  # type: ignore[misc]
