"""Findings of the "trust first" review: dates that make sense (R21, R22), text hygiene (R29),
idempotency fingerprints, THIRD closed by the signature date (R1/R8), the balance due date (R23)
and A7-2019 year 1 (R24). Each test is named after the rule or the finding."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Any
from uuid import UUID

import pytest

from domain import events as ev
from domain.application import ConventionsApp
from domain.convention import CommandMeta
from domain.errors import DomainError, ForbiddenTransition, IdempotencyKeyReused, InvalidInput
from domain.values import Option, Profile
from tests.conftest import FixedClock
from tests.helpers import with_a_nurse
from tests.unit.test_convention import instalments, sign, versions

D = Decimal


def refused(call: Any, code: str, field: str | None = None) -> DomainError:
    with pytest.raises(DomainError) as err:
        call()
    assert err.value.code == code, err.value
    if field is not None:
        assert err.value.field == field
    return err.value


# ---------------------------------------------------------------- R21: an option change that poisoned the books
def test_r21_an_option_change_before_the_effective_date_is_refused_and_nothing_is_stored(
    app: ConventionsApp, meta: CommandMeta
) -> None:
    cid = sign(app, meta)  # effective 2025-03-01, no year started yet
    before = versions(app, cid)
    for day in (date(2023, 3, 18), date(1950, 1, 1)):
        error = refused(
            lambda d=day: app.change_option(cid, meta, option=Option.THIRD, from_date=d), "date_before_effective"
        )
        assert error.field == "from" and "01/03/2025" in error.message
    assert versions(app, cid) == before
    assert app.tick(meta, today=date(2026, 3, 1))["events"] > 0  # the nightly run still records


def test_r1_an_option_change_to_third_is_refused_on_a_convention_signed_after_its_closure(
    app: ConventionsApp, meta: CommandMeta
) -> None:
    cid = sign(app, meta)
    refused(
        lambda: app.change_option(cid, meta, option=Option.THIRD, from_date=date(2026, 3, 1)), "third_option_closed"
    )


def test_r21_an_option_change_dated_before_a_recorded_one_is_refused(app: ConventionsApp, meta: CommandMeta) -> None:
    cid = sign(app, meta)
    app.change_option(cid, meta, option=Option.HALF, from_date=date(2027, 3, 1))
    refused(
        lambda: app.change_option(cid, meta, option=Option.HALF, from_date=date(2026, 3, 1)),
        "option_change_before_recorded_change",
    )


def test_r21_option_changes_apply_by_date_not_in_recorded_order(app: ConventionsApp, meta: CommandMeta) -> None:
    """A store written before the fix may hold changes recorded out of date order: they apply by date."""
    cid = sign(app, meta)
    conv = app.get(cid)
    conv._trigger(ev.OptionChanged, meta, date(2028, 3, 1), option=Option.FULL)  # bypasses today's checks
    conv._trigger(ev.OptionChanged, meta, date(2026, 3, 1), option=Option.HALF)
    app.save(conv)
    conv = app.get(cid)
    assert conv.option_on(date(2025, 6, 1)) is Option.FULL
    assert conv.option_on(date(2027, 1, 1)) is Option.HALF
    assert conv.option_on(date(2029, 1, 1)) is Option.FULL


# ---------------------------------------------------------------- R21: facts are not dated after today
@pytest.fixture
def at_2026_06_30(clock: FixedClock) -> FixedClock:
    clock.today = date(2026, 6, 30)
    return clock


def test_r21_a_fact_dated_after_today_is_refused_and_names_the_field(
    app: ConventionsApp, meta: CommandMeta, at_2026_06_30: FixedClock
) -> None:
    cid = sign(app, meta)
    tomorrow = date(2026, 7, 1)
    refused(lambda: app.hire(cid, meta, hired_on=tomorrow, fte=D(1), profile=Profile.NURSE), "date_in_future", "date")
    app.hire(cid, meta, hired_on=date(2025, 3, 1), fte=D(1), profile=Profile.NURSE)
    refused(lambda: app.complete_training(cid, meta, completed_on=tomorrow), "date_in_future", "date")
    refused(lambda: app.hold_review(cid, meta, held_on=tomorrow), "date_in_future", "held")
    refused(lambda: app.assistant_left(cid, meta, left_on=tomorrow), "date_in_future", "date")
    refused(
        lambda: app.suspend(cid, meta, from_date=date(2026, 6, 1), ground="long_absence", agreement_date=tomorrow),
        "date_in_future",
        "agreement_date",
    )
    app.record_due(cid, meta, today=date(2026, 6, 30))
    refused(
        lambda: app.record_payment(cid, meta, instalment="y1-full", paid_on=tomorrow, reference="VIR-1"),
        "date_in_future",
        "date",
    )
    refused(
        lambda: sign(app, meta, number="C-2", rpps="10000000017", signed_on=tomorrow, effective_from=tomorrow),
        "date_in_future",
        "signed",
    )


def test_r21_the_patients_observed_are_not_dated_after_today(app: ConventionsApp, meta: CommandMeta) -> None:
    cid = sign(app, meta)
    app.record_due(cid, meta, today=date(2028, 3, 1))
    refused(
        lambda: app.record_attainment(cid, meta, year=3, observed_patients=1100, on=date(2031, 1, 2)),
        "date_in_future",
        "date",
    )


def test_r21_a_termination_may_be_dated_ahead_within_the_term(
    app: ConventionsApp, meta: CommandMeta, at_2026_06_30: FixedClock
) -> None:
    cid = sign(app, meta)
    app.terminate(cid, meta, on=date(2026, 12, 31), by="cpam", ground="déménagement")
    assert app.get(cid).terminated_on == date(2026, 12, 31)


def test_r21_nothing_is_dated_after_the_end_of_the_current_term(
    app: ConventionsApp, meta: CommandMeta, at_2026_06_30: FixedClock
) -> None:
    cid = sign(app, meta)  # term 1 ends on 2030-03-01
    error = refused(
        lambda: app.suspend(
            cid, meta, from_date=date(2030, 3, 2), ground="long_absence", agreement_date=date(2026, 6, 1)
        ),
        "date_after_term",
        "from",
    )
    assert "01/03/2030" in error.message
    refused(lambda: app.terminate(cid, meta, on=date(2031, 1, 1), by="cpam", ground="x"), "date_after_term", "date")
    refused(
        lambda: app.change_option(cid, meta, option=Option.HALF, from_date=date(2030, 3, 2)), "date_after_term", "from"
    )


def test_r21_an_effective_date_at_most_a_year_after_the_signature(app: ConventionsApp, meta: CommandMeta) -> None:
    refused(
        lambda: sign(app, meta, signed_on=date(2025, 2, 1), effective_from=date(2026, 2, 3)),
        "invalid_effective_date",
        "effective",
    )
    sign(app, meta, signed_on=date(2025, 2, 1), effective_from=date(2026, 2, 1))


def test_r21_nothing_is_dated_before_the_effective_date(app: ConventionsApp, meta: CommandMeta) -> None:
    cid = sign(app, meta)
    refused(
        lambda: app.suspend(
            cid, meta, from_date=date(2025, 2, 1), ground="long_absence", agreement_date=date(2025, 2, 1)
        ),
        "invalid_date",
        "from",
    )
    refused(lambda: app.hold_review(cid, meta, held_on=date(2025, 2, 28)), "invalid_date", "held")
    refused(lambda: app.terminate(cid, meta, on=date(2025, 2, 15), by="cpam", ground="x"), "date_before_effective")


# ---------------------------------------------------------------- R22: termination and what follows it
@pytest.mark.parametrize(
    ("record", "what"),
    [
        (lambda app, cid, m: app.suspend(cid, m, from_date=date(2026, 5, 1), ground="long_absence",
                                         agreement_date=date(2026, 5, 2)), "suspension"),
        (lambda app, cid, m: app.hire(cid, m, hired_on=date(2026, 5, 1), fte=D(1), profile="nurse"), "embauche"),
        (lambda app, cid, m: app.hold_review(cid, m, held_on=date(2026, 5, 1)), "point semestriel"),
    ],
)  # fmt: skip
def test_r22_a_termination_is_not_dated_before_an_event_already_recorded(
    app: ConventionsApp, meta: CommandMeta, at_2026_06_30: FixedClock, record: Any, what: str
) -> None:
    cid = sign(app, meta, effective_from=date(2025, 2, 1))
    app.record_due(cid, meta, today=date(2026, 1, 31))
    record(app, cid, meta)
    before = versions(app, cid)
    error = refused(
        lambda: app.terminate(cid, meta, on=date(2026, 4, 1), by="cpam", ground="x"),
        "termination_before_recorded_event",
    )
    assert what in error.message and "01/05/2026" in error.message
    assert versions(app, cid) == before
    app.terminate(cid, meta, on=date(2026, 5, 2), by="cpam", ground="x")


def test_r22_after_termination_ended_years_settle_and_everything_else_is_refused(
    app: ConventionsApp, meta: CommandMeta
) -> None:
    cid = sign(app, meta)
    app.record_due(cid, meta, today=date(2028, 3, 1))  # years 1-3 started
    app.terminate(cid, meta, on=date(2028, 6, 1), by="cpam", ground="déménagement")
    app.record_due(cid, meta, today=date(2030, 1, 1))
    # allowed: the payment of an instalment that fell due, even after the termination date
    app.record_payment(cid, meta, instalment="y2-full", paid_on=date(2028, 7, 1), reference="VIR-2")
    # refused: anything that is not the settlement of what came before
    refused(lambda: app.hold_review(cid, meta, held_on=date(2028, 7, 1)), "terminated")
    refused(lambda: app.hire(cid, meta, hired_on=date(2028, 7, 1), fte=D(1), profile="nurse"), "terminated")
    refused(lambda: app.record_attainment(cid, meta, year=4, observed_patients=1100, on=date(2029, 3, 2)), "terminated")


def test_r22_attainment_of_a_year_ended_before_the_termination_may_still_be_recorded(
    app: ConventionsApp, meta: CommandMeta
) -> None:
    cid = sign(app, meta)
    app.record_due(cid, meta, today=date(2028, 3, 1))  # year 3 started 2027-03-01, ended 2028-02-29
    app.terminate(cid, meta, on=date(2028, 6, 1), by="cpam", ground="déménagement")
    assert app.record_attainment(cid, meta, year=3, observed_patients=1200, on=date(2028, 7, 1))["value"] == "1"


# ---------------------------------------------------------------- R29: text fields
@pytest.mark.parametrize(
    ("name", "why"),
    [
        ("Martin\x1b[31m", "terminal escape"),
        ("Martin\r\nDupont", "line break in a name"),
        ("Martin\u202eniT", "bidi override"),
        ("\u200b\u200b", "invisible only"),
        ("M" * 201, "too long"),
    ],
)
def test_r29_a_doctor_name_that_is_not_printable_text_is_refused(
    app: ConventionsApp, meta: CommandMeta, name: str, why: str
) -> None:
    refused(lambda: sign(app, meta, doctor_name=name), "invalid_text", "name")
    assert list(app.convention_ids()) == []


def test_r29_reasons_notes_references_and_grounds_are_checked(app: ConventionsApp, meta: CommandMeta) -> None:
    cid = sign(app, meta)
    from dataclasses import replace

    refused(
        lambda: app.hold_review(cid, replace(meta, reason="ok\x07"), held_on=date(2025, 9, 1)), "invalid_text", "reason"
    )
    refused(lambda: app.hold_review(cid, meta, held_on=date(2025, 9, 1), notes="a\u2066b"), "invalid_text", "notes")
    refused(lambda: app.hold_review(cid, meta, held_on=date(2025, 9, 1), notes="x" * 501), "invalid_text", "notes")
    app.hold_review(cid, meta, held_on=date(2025, 9, 1), notes="Ligne 1\r\nLigne 2")  # notes may span lines
    assert app.get(cid).reviews[date(2025, 9, 1)].notes == "Ligne 1\nLigne 2"
    app.record_due(cid, meta, today=date(2025, 3, 1))
    refused(
        lambda: app.record_payment(cid, meta, instalment="y1-full", paid_on=date(2025, 3, 2), reference="VIR\n2"),
        "invalid_text",
        "reference",
    )
    refused(
        lambda: app.terminate(cid, meta, on=date(2025, 12, 1), by="cpam", ground="\u200e"), "invalid_text", "ground"
    )


# ---------------------------------------------------------------- idempotency
def test_an_idempotency_key_reused_with_another_reason_is_refused(app: ConventionsApp, meta: CommandMeta) -> None:
    from dataclasses import replace

    cid = sign(app, meta)
    first = replace(meta, command_id="k-1", reason="point tenu")
    app.hold_review(cid, first, held_on=date(2025, 9, 1))
    assert app.hold_review(cid, first, held_on=date(2025, 9, 1))["recorded"] == 1  # an identical retry: replayed
    with pytest.raises(IdempotencyKeyReused):
        app.hold_review(cid, replace(first, reason="autre motif"), held_on=date(2025, 9, 1))


# ---------------------------------------------------------------- R1/R8: THIRD closed by the signature date
def test_r8_a_third_signed_before_may_2023_with_a_later_effective_date_is_legitimate(
    app: ConventionsApp, meta: CommandMeta
) -> None:
    cid = sign(app, meta, option="THIRD", signed_on=date(2023, 4, 28), effective_from=date(2023, 7, 1))
    app.record_due(cid, meta, today=date(2023, 7, 1))
    assert app.get(cid).years[1].full_amount == D(12000)  # A7-2019 THIRD year 1


def test_r8_a_third_signed_from_may_2023_is_refused_whatever_its_effective_date(
    app: ConventionsApp, meta: CommandMeta
) -> None:
    refused(
        lambda: sign(app, meta, option="THIRD", signed_on=date(2023, 5, 1), effective_from=date(2023, 4, 1)),
        "third_option_closed",
        "option",
    )


# ---------------------------------------------------------------- R23: the balance due date
def test_r23_a_balance_is_never_due_before_the_attainment_is_recorded(app: ConventionsApp, meta: CommandMeta) -> None:
    cid = sign(app, meta)
    app.record_due(cid, meta, today=date(2028, 6, 30))  # year 3 ended on 2028-02-29: no attainment yet
    assert "y3-balance" not in instalments(app, cid)
    app.record_attainment(cid, meta, year=3, observed_patients=1200, on=date(2028, 7, 1))
    app.record_due(cid, meta, today=date(2028, 7, 1))
    fell_due, payable_by, amount = instalments(app, cid)["y3-balance"]
    assert (fell_due, payable_by, amount) == (date(2028, 7, 1), date(2028, 7, 31), "11000.00")


# ---------------------------------------------------------------- R24: A7-2019 year 1 follows the hire
A7_2023 = {"signed_on": date(2022, 12, 1), "effective_from": date(2023, 1, 1)}  # an A7-2019 convention's dates


def test_r24_a7_seventy_percent_when_the_hire_precedes_the_effective_date(
    app: ConventionsApp, meta: CommandMeta
) -> None:
    cid = with_a_nurse(app, meta, hired_on=date(2022, 12, 15), due_by=date(2023, 2, 1), **A7_2023)
    assert instalments(app, cid)["y1-advance"] == (date(2023, 1, 1), date(2023, 1, 16), "25200.00")


def test_r24_an_a7_year_one_termination_with_no_hire_settles_on_zero(app: ConventionsApp, meta: CommandMeta) -> None:
    cid = sign(app, meta, **A7_2023)
    app.record_due(cid, meta, today=date(2023, 6, 1))
    result = app.terminate(cid, meta, on=date(2023, 7, 1), by="cpam", ground="pas d'embauche")
    assert D(result["value"]) == 0
    assert not [i for i in app.get(cid).instalments.values() if i.kind == "settlement"]


def test_r24_an_a7_year_one_termination_after_a_hire_settles_pro_rata(app: ConventionsApp, meta: CommandMeta) -> None:
    cid = with_a_nurse(app, meta, hired_on=date(2023, 1, 1), due_by=date(2023, 6, 1), **A7_2023)
    result = app.terminate(cid, meta, on=date(2023, 7, 1), by="cpam", ground="déménagement")
    assert D(result["value"]) > 0


def test_forbidden_transitions_store_nothing(app: ConventionsApp, meta: CommandMeta) -> None:
    cid: UUID = sign(app, meta)
    before = versions(app, cid)
    with pytest.raises((ForbiddenTransition, InvalidInput)):
        app.change_option(cid, meta, option=Option.THIRD, from_date=date(2023, 3, 18))
    assert versions(app, cid) == before


# ---------------------------------------------------------------- R20: which patient count
@pytest.mark.parametrize(("specialty", "measure"), [("general_practice", "pmt"), ("cardiology", "file_active")])
def test_r20_the_patient_measure_follows_the_specialty_and_is_shown(
    app: ConventionsApp, meta: CommandMeta, specialty: str, measure: str
) -> None:
    from domain.views import convention_view

    cid = sign(app, meta, specialty=specialty)
    patients = convention_view(app.get(cid))["patients"]
    assert patients["measure"] == measure
    assert patients["measure_label"] == ("patientèle médecin traitant" if measure == "pmt" else "file active")


# ---------------------------------------------------------------- R27: objectives by default
@pytest.mark.parametrize(
    ("over", "target", "basis"),
    [
        ({"percentile": 96, "initial_patients": 1500}, 1425, "max_tolerance"),
        ({"aged_65_or_more": True, "initial_patients": 1000}, 900, "age_tolerance"),
        ({"aged_65_or_more": True, "percentile": 97, "initial_patients": 1000}, 900, "age_tolerance"),
        ({"newly_installed": True, "percentile": 10, "initial_patients": 300}, 1045, "newly_installed_p50"),
        ({"target_patients": 1200}, 1200, "given"),
    ],
)
def test_r27_the_objective_is_derived_by_default_and_its_reason_recorded(
    app: ConventionsApp, meta: CommandMeta, over: dict[str, Any], target: int, basis: str
) -> None:
    fields = {"target_patients": None, **over}
    conv = app.get(sign(app, meta, **fields))
    assert (conv.target_patients, conv.objective_basis.value) == (target, basis)
    assert conv.objective_reason
    signed = app.history(conv.id)[0]
    assert (signed.target_patients, signed.objective_basis.value) == (target, basis)


def test_r27_other_doctors_must_be_given_an_objective(app: ConventionsApp, meta: CommandMeta) -> None:
    refused(lambda: sign(app, meta, target_patients=None), "target_required", "target")
    refused(
        lambda: sign(app, meta, target_patients=None, newly_installed=True, specialty="cardiology"), "target_required"
    )


def test_a_signed_event_stored_before_r20_r27_is_upcast_on_read(app: ConventionsApp, meta: CommandMeta) -> None:
    """Events are forever: a version-1 Signed (no measure, no objective basis, no balance delay) still loads."""
    from domain.events import upcast

    cid = sign(app, meta, specialty="cardiology")
    state = app.history(cid)[0].model_dump(mode="json")
    for key in ("patient_measure", "aged_65_or_more", "objective_basis", "objective_reason"):
        state.pop(key)
    state["policies"].pop("balance_payment_days")
    upcast(ev.Signed, state)  # no class_version: a version-1 state
    old = ev.Signed(**state)
    assert (old.patient_measure.value, old.objective_basis.value, old.policies.balance_payment_days) == (
        "file_active",
        "given",
        30,
    )


# ---------------------------------------------------------------- R28: the secretary turned assistant
def test_r28_a_secretary_turned_assistant_makes_a_new_secretary_due_within_six_months(
    app: ConventionsApp, meta: CommandMeta
) -> None:
    cid = sign(app, meta)
    app.hire(cid, meta, hired_on=date(2025, 3, 1), fte=D(1), profile=Profile.SECRETARY, was_practice_secretary=True)
    assert app.get(cid).secretary_due_by == date(2025, 9, 1)
    refused(lambda: app.declare_secretary_hired(cid, meta, hired_on=date(2025, 2, 1)), "invalid_date", "date")
    app.declare_secretary_hired(cid, meta, hired_on=date(2025, 5, 1))
    assert app.get(cid).secretary_due_by is None
    refused(lambda: app.declare_secretary_hired(cid, meta, hired_on=date(2025, 6, 1)), "no_secretary_to_replace")


def test_r28_no_secretary_is_due_when_the_assistant_was_not_the_practice_secretary(
    app: ConventionsApp, meta: CommandMeta
) -> None:
    cid = sign(app, meta)
    app.hire(cid, meta, hired_on=date(2025, 3, 1), fte=D(1), profile=Profile.SECRETARY)
    assert app.get(cid).secretary_due_by is None
    refused(lambda: app.declare_secretary_hired(cid, meta, hired_on=date(2025, 5, 1)), "no_secretary_to_replace")


# ---------------------------------------------------------------- stored data written before these rules
def poisoned(app: ConventionsApp, meta: CommandMeta) -> UUID:
    """The finding's convention, as a store written before the fix holds it: THIRD from 2023-03-18 on a
    convention effective 2025-03-01 (the command's checks bypassed)."""
    cid = sign(app, meta)
    conv = app.get(cid)
    conv._trigger(ev.OptionChanged, meta, date(2023, 3, 18), option=Option.THIRD)
    app.save(conv)
    return cid


def test_stored_data_that_breaks_the_rules_still_loads_and_the_audit_names_it(
    app: ConventionsApp, meta: CommandMeta
) -> None:
    from domain.audit import audit
    from domain.views import convention_view

    bad, good = poisoned(app, meta), sign(app, meta, number="C-2", rpps="10000000017")
    assert convention_view(app.get(bad))["number"] == "C-1"  # loads, replays and shows
    assert [e.originator_version for e in app.history(bad)] == [1, 2]
    codes = {f.code for f in audit(app.history(bad))}
    assert codes == {"date_before_effective", "unprocessable:option_not_offered"}
    assert audit(app.history(good)) == []
