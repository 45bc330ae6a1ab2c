"""The Convention aggregate through ConventionsApp, on the in-memory store: lifecycle rules."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from decimal import Decimal
from typing import Any
from uuid import UUID

import pytest

from domain.application import ConventionsApp
from domain.convention import CommandMeta
from domain.errors import (
    ConcurrentModification,
    ForbiddenTransition,
    IdempotencyKeyReused,
    InvalidInput,
    NotEligible,
    NotFound,
    StaleVersion,
)
from domain.values import Modulation, Policies
from tests.helpers import sign, with_a_nurse  # the standard convention (C-1, RPPS[0]); sign is used elsewhere too

D = Decimal
RPPS = ["10000000009", "10000000017", "10000000025", "10000000033"]


def instalments(app: ConventionsApp, cid: UUID) -> dict[str, tuple[date, date, str]]:
    conv = app.get(cid)
    return {i.instalment_id: (i.fell_due_on, i.due_date, str(i.amount)) for i in conv.instalments.values()}


def versions(app: ConventionsApp, cid: UUID) -> int:
    return len(app.history(cid))


def signed_and_a_hire(app: ConventionsApp, command_id: str) -> tuple[UUID, Callable[[], dict[str, Any]]]:
    """A convention, and one hire under ``command_id``: each call sends the very same command again."""
    m = CommandMeta(actor="a", command_id=command_id)
    cid = sign(app, CommandMeta(actor="a"))
    return cid, lambda: app.hire(cid, m, hired_on=date(2025, 3, 1), fte=D(1), profile="nurse")


# ---------------------------------------------------------------- worked cases
def test_case_1_and_r6_schedule_full_base(app: ConventionsApp, meta: CommandMeta) -> None:
    cid = sign(app, meta)
    app.record_due(cid, meta, today=date(2027, 3, 1))
    assert instalments(app, cid) == {
        "y1-full": (date(2025, 3, 1), date(2025, 4, 1), "38000.00"),  # R6: one month after the effective date
        "y2-full": (date(2026, 3, 1), date(2026, 3, 1), "28000.00"),  # at anniversary 1
        "y3-advance": (date(2027, 3, 1), date(2027, 3, 1), "11000.00"),  # 50 % of 22 000 at the start of year 3
    }
    assert [y.regime for y in app.get(cid).years.values()] == ["C-2024"] * 3


def test_case_3_max_every_year(app: ConventionsApp, meta: CommandMeta) -> None:
    cid = sign(app, meta, percentile=97, effective_from=date(2025, 1, 10), signed_on=date(2025, 1, 2))
    app.record_due(cid, meta, today=date(2029, 1, 10))
    conv = app.get(cid)
    assert [str(y.full_amount) for y in conv.years.values()] == ["38000"] * 5


def test_case_4_a7_then_c2024_with_the_a7_year_one_schedule(app: ConventionsApp, meta: CommandMeta) -> None:
    cid = sign(app, meta, option="HALF", signed_on=date(2023, 8, 1), effective_from=date(2023, 9, 1))
    app.hire(cid, meta, hired_on=date(2023, 10, 2), fte=D("0.5"), profile="secretary")
    app.record_due(cid, meta, today=date(2024, 9, 1))
    conv = app.get(cid)
    assert [(y.regime, str(y.full_amount)) for y in conv.years.values()] == [("A7-2019", "18000"), ("C-2024", "14000")]
    assert instalments(app, cid) == {
        "y1-advance": (date(2023, 10, 2), date(2023, 10, 17), "12600.00"),  # 70 % 15 days after the hire
        "y1-balance": (date(2024, 9, 1), date(2024, 9, 1), "5400.00"),  # 30 % at anniversary 1
        "y2-full": (date(2024, 9, 1), date(2024, 9, 1), "14000.00"),
    }


def test_case_5_balance_to_recover(app: ConventionsApp, meta: CommandMeta) -> None:
    cid = sign(app, meta)
    app.record_due(cid, meta, today=date(2027, 3, 1))
    app.record_payment(cid, meta, instalment="y3-advance", paid_on=date(2027, 3, 5), reference="VIR-1")
    att = app.record_attainment(cid, meta, year=3, observed_patients=1080, on=date(2028, 3, 10))
    assert att["value"] == "0.4"
    app.record_due(cid, meta, today=date(2028, 3, 10))
    # R23: the balance falls due when the attainment is recorded, payable within 30 days
    assert instalments(app, cid)["y3-balance"] == (date(2028, 3, 10), date(2028, 4, 9), "-2200.00")


def test_steps_policy_is_recorded_at_signature_and_used(app: ConventionsApp, meta: CommandMeta) -> None:
    cid = sign(app, meta, policies=Policies(modulation=Modulation.STEPS))
    app.record_due(cid, meta, today=date(2028, 3, 1))
    app.record_attainment(cid, meta, year=3, observed_patients=1160, on=date(2028, 3, 1))  # 80 % -> 75 %
    app.record_due(cid, meta, today=date(2028, 3, 1))
    assert instalments(app, cid)["y3-balance"][2] == "5500.00"  # 16 500 - 11 000


def test_case_6_new_third_convention_rejected(app: ConventionsApp, meta: CommandMeta) -> None:
    with pytest.raises(NotEligible) as err:
        sign(app, meta, option="THIRD", signed_on=date(2023, 6, 1), effective_from=date(2023, 6, 1))
    assert err.value.code == "third_option_closed"
    assert list(app.convention_ids()) == []


def test_case_7_radiologist_rejected_naming_the_specialty(app: ConventionsApp, meta: CommandMeta) -> None:
    with pytest.raises(NotEligible, match="radiologie"):
        sign(app, meta, specialty="radiology")
    assert list(app.convention_ids()) == []


def test_case_8_and_r11_reviews(app: ConventionsApp, meta: CommandMeta) -> None:
    cid = sign(app, meta, signed_on=date(2025, 1, 2), effective_from=date(2025, 1, 15))
    app.record_due(cid, meta, today=date(2026, 7, 15))
    assert sorted(app.get(cid).reviews) == [date(2025, 7, 15), date(2026, 1, 15), date(2026, 7, 15)]
    held = app.hold_review(cid, meta, held_on=date(2025, 7, 20), notes="RAS")
    assert held["value"] == "2025-07-15"
    assert app.get(cid).reviews[date(2025, 7, 15)].held_on == date(2025, 7, 20)


def test_case_9_and_r16_suspension_moves_anniversaries_and_instalments(app: ConventionsApp, meta: CommandMeta) -> None:
    cid = sign(app, meta)
    app.record_due(cid, meta, today=date(2026, 4, 30))
    app.suspend(cid, meta, from_date=date(2026, 5, 1), ground="long_absence", agreement_date=date(2026, 5, 3))
    assert app.get(cid).anniversary(2) is None  # unknown while suspended
    app.record_due(cid, meta, today=date(2027, 6, 1))
    assert app.get(cid).contract_year == 2  # the year does not turn while suspended...
    app.reactivate(cid, meta, from_date=date(2026, 9, 1))
    conv = app.get(cid)
    assert conv.anniversary(2) == date(2027, 7, 2)  # 2027-03-01 + 123 days
    app.record_due(cid, meta, today=date(2027, 7, 2))
    assert instalments(app, cid)["y3-advance"][0] == date(2027, 7, 2)
    # R11: reviews keep to calendar time, suspended or not
    assert date(2026, 9, 1) in app.get(cid).reviews and date(2027, 3, 1) in app.get(cid).reviews


# ---------------------------------------------------------------- R7 payments
def test_r7_a_payment_is_recorded_once(app: ConventionsApp, meta: CommandMeta) -> None:
    cid = sign(app, meta)
    app.record_due(cid, meta, today=date(2025, 3, 1))
    first = app.record_payment(cid, meta, instalment="y1-full", paid_on=date(2025, 3, 20), reference="VIR-1")
    before = versions(app, cid)
    again = app.record_payment(cid, meta, instalment="y1-full", paid_on=date(2025, 3, 21), reference="VIR-2")
    assert first["recorded"] == 1 and again["recorded"] == 0
    assert versions(app, cid) == before
    inst = app.get(cid).instalments["y1-full"]
    assert (inst.status, inst.paid_on, inst.payment_reference) == ("paid", date(2025, 3, 20), "VIR-1")


def test_r7_unknown_instalment(app: ConventionsApp, meta: CommandMeta) -> None:
    cid = sign(app, meta)
    with pytest.raises(NotFound) as err:
        app.record_payment(cid, meta, instalment="y9-full", paid_on=date(2025, 3, 20), reference="VIR-1")
    assert err.value.code == "unknown_instalment"


# ---------------------------------------------------------------- R8 one active convention per doctor
def test_r8_a_doctor_holds_one_active_convention(app: ConventionsApp, meta: CommandMeta) -> None:
    cid = sign(app, meta)
    with pytest.raises(NotEligible) as err:
        sign(app, meta, number="C-2")
    assert err.value.code == "doctor_has_active_convention"
    app.terminate(cid, meta, on=date(2026, 1, 1), by="cpam", ground="changement de spécialité")
    sign(app, meta, number="C-2", signed_on=date(2026, 1, 5), effective_from=date(2026, 2, 1), newly_installed=True)


def test_same_number_twice_is_a_conflict(app: ConventionsApp, meta: CommandMeta) -> None:
    sign(app, meta)
    with pytest.raises(ForbiddenTransition) as err:
        sign(app, meta, rpps=RPPS[1])
    assert err.value.code == "convention_exists"


# ---------------------------------------------------------------- R10 renewal
def test_r10_tacit_renewal_at_the_end_of_term(app: ConventionsApp, meta: CommandMeta) -> None:
    cid = sign(app, meta)
    app.record_due(cid, meta, today=date(2031, 3, 1))
    conv = app.get(cid)
    assert conv.renewals == {2}
    assert conv.contract_year == 7
    assert [str(conv.years[n].full_amount) for n in (6, 7)] == ["22000", "22000"]
    renewed = [e for e in app.history(cid) if type(e).__name__ == "Renewed"]
    assert [(e.effective_date, e.term) for e in renewed] == [(date(2030, 3, 1), 2)]


# ---------------------------------------------------------------- R12 assistant
def test_r12_hire_replacement_and_training(app: ConventionsApp, meta: CommandMeta) -> None:
    cid = sign(app, meta)
    app.hire(cid, meta, hired_on=date(2025, 3, 1), fte=D("1"), profile="care_aide", employer_siret="73282932000074")
    conv = app.get(cid)
    assert (conv.assistant.training, conv.assistant.training_deadline) == ("FAE", date(2027, 3, 1))
    with pytest.raises(ForbiddenTransition):
        app.hire(cid, meta, hired_on=date(2025, 4, 1), fte=D("1"), profile="nurse")
    app.replace_assistant(cid, meta, on=date(2025, 9, 1), fte=D("1"), profile="secretary")
    conv = app.get(cid)
    assert (conv.assistant.profile.value, conv.assistant.training) == ("secretary", "CQP")
    assert len(conv.assistants) == 2 and conv.assistants[0].left_on == date(2025, 9, 1)
    app.complete_training(cid, meta, completed_on=date(2026, 6, 1))
    assert app.get(cid).assistant.trained_on == date(2026, 6, 1)


def test_r12_bad_siret_is_refused_with_nothing_recorded(app: ConventionsApp, meta: CommandMeta) -> None:
    cid = sign(app, meta)
    with pytest.raises(InvalidInput) as err:
        app.hire(cid, meta, hired_on=date(2025, 3, 1), fte=D("1"), profile="nurse", employer_siret="123")
    assert err.value.field == "siret"
    assert versions(app, cid) == 1


# ---------------------------------------------------------------- R13-R15 transitions
def test_r15_forbidden_transitions_record_nothing(app: ConventionsApp, meta: CommandMeta) -> None:
    cid = sign(app, meta)
    with pytest.raises(ForbiddenTransition) as err:
        app.reactivate(cid, meta, from_date=date(2025, 6, 1))
    assert err.value.code == "not_suspended"
    app.suspend(cid, meta, from_date=date(2025, 6, 1), ground="replacement_difficulty", agreement_date=date(2025, 6, 2))
    with pytest.raises(ForbiddenTransition) as err:
        app.suspend(cid, meta, from_date=date(2025, 7, 1), ground="long_absence", agreement_date=date(2025, 7, 1))
    assert err.value.code == "already_suspended"
    app.terminate(cid, meta, on=date(2025, 9, 1), by="cpam", ground="déménagement")
    n = versions(app, cid)
    for command in (
        lambda: app.reactivate(cid, meta, from_date=date(2025, 10, 1)),
        lambda: app.hold_review(cid, meta, held_on=date(2025, 10, 1)),
        lambda: app.hire(cid, meta, hired_on=date(2025, 10, 1), fte=D(1), profile="nurse"),
        lambda: app.terminate(cid, meta, on=date(2025, 10, 1), by="cpam", ground="x"),
    ):
        with pytest.raises(ForbiddenTransition) as err:
            command()
        assert err.value.code == "terminated"
    assert versions(app, cid) == n


# ---------------------------------------------------------------- R17 termination
def test_r17_termination_settles_the_year_pro_rata(app: ConventionsApp, meta: CommandMeta) -> None:
    cid = sign(app, meta)
    app.record_due(cid, meta, today=date(2027, 3, 1))
    app.record_payment(cid, meta, instalment="y3-advance", paid_on=date(2027, 3, 3), reference="VIR-3")
    result = app.terminate(cid, meta, on=date(2027, 9, 1), by="cpam", ground="déménagement")
    # 22 000 x 184 / 366 days (2027-03-01 .. 2028-03-01 holds 29 February) = 11 060.11; paid 11 000
    assert result["value"] == "60.11"
    conv = app.get(cid)
    assert conv.status.value == "terminated"
    assert conv.instalments["y3-settlement"].amount == D("60.11")
    app.record_due(cid, meta, today=date(2030, 1, 1))
    assert app.get(cid).contract_year == 3  # nothing falls due after the termination
    assert max(app.get(cid).reviews) < date(2027, 9, 1)


def test_r17_negative_settlement_is_to_recover_and_unpaid_instalments_are_cancelled(
    app: ConventionsApp, meta: CommandMeta
) -> None:
    cid = sign(app, meta)
    app.record_due(cid, meta, today=date(2025, 3, 1))
    app.record_payment(cid, meta, instalment="y1-full", paid_on=date(2025, 3, 20), reference="VIR-1")
    app.terminate(cid, meta, on=date(2025, 9, 1), by="cpam", ground="déménagement")
    # 38 000 x 184 / 365 = 19 156.16 due; 38 000 paid
    assert app.get(cid).instalments["y1-settlement"].amount == D("-18843.84")


def test_r17_unpaid_instalments_of_the_year_give_way_to_the_settlement(app: ConventionsApp, meta: CommandMeta) -> None:
    cid = sign(app, meta)
    app.record_due(cid, meta, today=date(2026, 3, 1))
    app.terminate(cid, meta, on=date(2026, 4, 1), by="cpam", ground="déménagement")
    conv = app.get(cid)
    assert conv.instalments["y2-full"].status == "cancelled"
    assert conv.instalments["y1-full"].status == "due"  # an earlier year is still owed
    assert conv.instalments["y2-settlement"].amount == D("2378.08")  # 28 000 x 31 / 365
    with pytest.raises(ForbiddenTransition):
        app.record_payment(cid, meta, instalment="y2-full", paid_on=date(2026, 4, 2), reference="VIR")
    app.record_payment(cid, meta, instalment="y2-settlement", paid_on=date(2026, 4, 2), reference="VIR")


def test_r17_doctor_needs_two_months_notice(app: ConventionsApp, meta: CommandMeta) -> None:
    cid = sign(app, meta)
    with pytest.raises(InvalidInput) as err:
        app.terminate(cid, meta, on=date(2025, 10, 1), by="doctor", ground="retraite", letter_date=date(2025, 8, 15))
    assert err.value.code == "notice_too_short"
    with pytest.raises(InvalidInput) as err:
        app.terminate(cid, meta, on=date(2025, 10, 1), by="doctor", ground="retraite")
    assert err.value.code == "letter_required"
    assert versions(app, cid) == 1
    app.terminate(cid, meta, on=date(2025, 10, 15), by="doctor", ground="retraite", letter_date=date(2025, 8, 15))


# ---------------------------------------------------------------- application guarantees
def test_a_retried_command_returns_the_first_result_and_writes_nothing(app: ConventionsApp, meta: CommandMeta) -> None:
    cid = sign(app, meta)
    m = CommandMeta(actor="a", command_id="cmd-1")
    first = app.hire(cid, m, hired_on=date(2025, 3, 1), fte=D(1), profile="nurse")
    n = versions(app, cid)
    assert app.hire(cid, m, hired_on=date(2025, 3, 1), fte=D(1), profile="nurse") == first
    assert versions(app, cid) == n
    with pytest.raises(IdempotencyKeyReused):
        app.hire(cid, m, hired_on=date(2025, 3, 2), fte=D(1), profile="nurse")


def test_a_retried_signature_returns_the_same_id(app: ConventionsApp) -> None:
    m = CommandMeta(actor="a", command_id="sign-1")
    assert sign(app, m) == sign(app, m)


def test_stale_expected_version_is_refused(app: ConventionsApp, meta: CommandMeta) -> None:
    cid = sign(app, meta)
    with pytest.raises(StaleVersion):
        app.hire(cid, meta, hired_on=date(2025, 3, 1), fte=D(1), profile="nurse", expected_version=7)
    app.hire(cid, meta, hired_on=date(2025, 3, 1), fte=D(1), profile="nurse", expected_version=1)


def test_concurrent_writers_cannot_both_win(
    app: ConventionsApp, meta: CommandMeta, monkeypatch: pytest.MonkeyPatch
) -> None:
    cid = sign(app, meta)
    # Simulate another operator saving between our read and our write.
    real_load = app._load_for

    def load_then_race(conv_id: UUID, command_id: str):  # noqa: ANN202
        loaded = real_load(conv_id, command_id)
        monkeypatch.setattr(app, "_load_for", real_load)
        app.suspend(cid, meta, from_date=date(2025, 6, 1), ground="long_absence", agreement_date=date(2025, 6, 1))
        return loaded

    monkeypatch.setattr(app, "_load_for", load_then_race)
    with pytest.raises(ConcurrentModification):
        app.hire(cid, meta, hired_on=date(2025, 3, 1), fte=D(1), profile="nurse")
    assert [type(e).__name__ for e in app.history(cid)] == ["Signed", "Suspended"]


def test_every_event_carries_its_metadata(app: ConventionsApp) -> None:
    m = CommandMeta(actor="alice", reason="dossier complet", command_id="c-42", request_id="req-9")
    cid = sign(app, m)
    (event,) = app.history(cid)
    assert (event.actor, event.reason, event.command_id, event.request_id) == (
        "alice",
        "dossier complet",
        "c-42",
        "req-9",
    )
    assert event.effective_date == date(2025, 2, 1) and event.timestamp.tzinfo is not None


def test_state_at_a_version_and_as_of_a_date(app: ConventionsApp, meta: CommandMeta) -> None:
    cid = sign(app, meta)
    app.record_due(cid, meta, today=date(2027, 3, 1))
    app.suspend(cid, meta, from_date=date(2027, 5, 1), ground="long_absence", agreement_date=date(2027, 5, 1))
    assert app.get(cid, version=1).contract_year == 0
    as_of = app.get(cid, as_of=date(2026, 6, 1))
    assert (as_of.contract_year, as_of.status.value) == (2, "active")
    assert app.get(cid, as_of=date(2027, 6, 1)).status.value == "suspended"
    with pytest.raises(NotFound):
        app.get(cid, as_of=date(2025, 1, 1))
    with pytest.raises(NotFound):
        app.get(cid, version=999)


def test_unknown_convention(app: ConventionsApp, meta: CommandMeta) -> None:
    with pytest.raises(NotFound) as err:
        app.hire(UUID(int=1), meta, hired_on=date(2025, 3, 1), fte=D(1), profile="nurse")
    assert err.value.code == "unknown_convention"


def test_record_due_is_idempotent(app: ConventionsApp, meta: CommandMeta) -> None:
    cid = sign(app, meta)
    assert app.record_due(cid, meta, today=date(2027, 3, 1)) > 0
    n = versions(app, cid)
    assert app.record_due(cid, meta, today=date(2027, 3, 1)) == 0
    assert versions(app, cid) == n


def test_next_due_on_matches_the_calendar_state(app: ConventionsApp, meta: CommandMeta) -> None:
    from domain.due import CalendarState

    cid = sign(app, meta)
    app.record_due(cid, meta, today=date(2027, 3, 1))
    events = app.history(cid)
    state = CalendarState.from_signed(events[0])  # type: ignore[arg-type]
    for e in events[1:]:
        state.apply(e)
    assert state.next_due_on() == app.get(cid).next_due_on() == date(2027, 9, 1)


def test_r11_a_review_cannot_be_held_long_before_it_falls_due(app: ConventionsApp, meta: CommandMeta) -> None:
    cid = sign(app, meta, signed_on=date(2025, 1, 2), effective_from=date(2025, 1, 15))
    with pytest.raises(ForbiddenTransition) as err:
        app.hold_review(cid, meta, held_on=date(2025, 3, 1))  # due 2025-07-15
    assert err.value.code == "review_not_due"
    assert app.hold_review(cid, meta, held_on=date(2025, 6, 1))["value"] == "2025-07-15"
    app.record_due(cid, meta, today=date(2025, 7, 15))
    assert app.get(cid).reviews[date(2025, 7, 15)].k == 1  # raised once, already held


def test_r18_second_assistant_eligibility_is_shown(app: ConventionsApp, meta: CommandMeta) -> None:
    from domain.views import convention_view

    cid = sign(app, meta, zip_area=True)
    app.record_due(cid, meta, today=date(2028, 3, 1))
    app.record_attainment(cid, meta, year=3, observed_patients=1250, on=date(2028, 3, 1))
    assert convention_view(app.get(cid))["second_assistant"] == {"refusals": [], "eligible": True}
    early = convention_view(app.get(cid, version=3))["second_assistant"]
    assert early["eligible"] is False and "à partir de la 3e année du contrat" in early["refusals"]


def test_r6_a7_first_instalment_when_the_assistant_was_hired_before_the_effective_date(
    app: ConventionsApp, meta: CommandMeta
) -> None:
    cid = with_a_nurse(
        app, meta, hired_on=date(2023, 8, 10), fte=D("0.5"), due_by=date(2023, 9, 1),
        option="HALF", signed_on=date(2023, 8, 1), effective_from=date(2023, 9, 1),
    )  # fmt: skip
    assert instalments(app, cid)["y1-advance"] == (date(2023, 9, 1), date(2023, 9, 16), "12600.00")


def test_a_retry_saved_between_our_check_and_our_read_gives_the_first_result(
    app: ConventionsApp, monkeypatch: pytest.MonkeyPatch
) -> None:
    cid, hire = signed_and_a_hire(app, "race-1")
    # The first attempt finds no receipt, then the same command wins the race before it reads the
    # convention (a store that reads both apart, as this in-memory one does: see ``_load_for``).
    real_get = app._get
    calls: dict[str, Any] = {}

    def race_then_get(conv_id: UUID, version: int | None = None):  # noqa: ANN202
        monkeypatch.setattr(app, "_get", real_get)
        calls["winner"] = hire()
        return real_get(conv_id, version)  # the loser reads version 2 and decides on it

    monkeypatch.setattr(app, "_get", race_then_get)
    loser = hire()
    assert loser == calls["winner"] == {"id": str(cid), "version": 2, "recorded": 1, "value": None}
    assert len(app.history(cid)) == 2


def test_identical_retries_racing_on_the_same_version_both_return_the_first_result(
    app: ConventionsApp, monkeypatch: pytest.MonkeyPatch
) -> None:
    cid, hire = signed_and_a_hire(app, "race-2")
    real_load = app._load_for
    seen: dict[str, Any] = {}

    def load_then_race(conv_id: UUID, command_id: str):  # noqa: ANN202
        loaded = real_load(conv_id, command_id)  # both attempts read version 1 and no receipt...
        monkeypatch.setattr(app, "_load_for", real_load)
        seen["winner"] = hire()
        return loaded  # ...and the loser decides on it, then fails to save

    monkeypatch.setattr(app, "_load_for", load_then_race)
    loser = hire()
    assert loser == seen["winner"] == {"id": str(cid), "version": 2, "recorded": 1, "value": None}
    assert len(app.history(cid)) == 2


def test_as_of_before_the_signature_is_not_yet_signed_even_with_earlier_dated_events(
    app: ConventionsApp, meta: CommandMeta
) -> None:
    cid = with_a_nurse(
        app, meta, hired_on=date(2025, 2, 1), due_by=date(2025, 3, 20),
        signed_on=date(2025, 3, 15), effective_from=date(2025, 3, 1),
    )  # fmt: skip
    for day in (date(2025, 2, 10), date(2025, 3, 5)):  # a hire and a year start precede the signature
        with pytest.raises(NotFound) as err:
            app.get(cid, as_of=day)
        assert err.value.code == "not_yet_signed"
    assert app.get(cid, as_of=date(2025, 3, 15)).contract_year == 1
    with pytest.raises(InvalidInput):
        app.set_objective(cid, meta, from_year=3, target_patients=1300, on=date(1990, 1, 1))


def test_a_retry_on_another_day_without_a_date_is_the_same_command(app: ConventionsApp, clock: Any) -> None:
    cid = sign(app, CommandMeta(actor="a"))
    m = CommandMeta(actor="a", command_id="obj-1")
    clock.today = date(2025, 6, 1)
    first = app.set_objective(cid, m, from_year=3, target_patients=1300)
    clock.today = date(2025, 6, 2)
    assert app.set_objective(cid, m, from_year=3, target_patients=1300) == first
    assert [e.effective_date for e in app.history(cid)][-1] == date(2025, 6, 1)


def test_a_payment_cannot_predate_its_instalment(app: ConventionsApp, meta: CommandMeta) -> None:
    cid = sign(app, meta)
    app.record_due(cid, meta, today=date(2026, 3, 1))
    with pytest.raises(InvalidInput) as err:
        app.record_payment(cid, meta, instalment="y2-full", paid_on=date(2026, 2, 1), reference="VIR")
    assert err.value.field == "date"


def test_the_option_shown_for_a_date_is_that_of_its_contract_year(app: ConventionsApp, meta: CommandMeta) -> None:
    from domain.views import convention_view

    cid = sign(app, meta)
    app.record_due(cid, meta, today=date(2025, 3, 1))
    app.change_option(cid, meta, option="HALF", from_date=date(2025, 7, 1))
    conv = app.get(cid)
    assert convention_view(conv, date(2025, 8, 1))["option"] == "FULL"  # year 1 keeps its option
    assert convention_view(conv, date(2026, 3, 1))["option"] == "HALF"  # from year 2
    app.record_due(cid, meta, today=date(2026, 3, 1))
    assert convention_view(app.get(cid))["option"] == "HALF"


def test_r19_identifiers_take_ascii_digits_only(app: ConventionsApp, meta: CommandMeta) -> None:
    with pytest.raises(InvalidInput) as err:
        sign(app, meta, cpam_code="٢٨١")
    assert err.value.field == "cpam_code"


def test_r19_numero_am_is_checked_when_given(app: ConventionsApp, meta: CommandMeta) -> None:
    with pytest.raises(InvalidInput) as err:
        sign(app, meta, am_number="12345")
    assert err.value.field == "am_number"
    cid = sign(app, meta, am_number="281234567")
    assert app.get(cid).am_number == "281234567"
