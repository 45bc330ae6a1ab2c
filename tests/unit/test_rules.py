"""The pure rules of RULES.md, one test (or more) per rule id, with no store at all."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest

from domain.amounts import advance, attainment, modulated_amount, modulation_factor, pro_rata
from domain.calendar import Pause, anniversary, contract_year_on, review_date, reviews_until, year_bounds
from domain.eligibility import check_signature_eligibility, second_assistant_refusals
from domain.errors import InvalidInput, NotEligible
from domain.estimate import estimate
from domain.identifiers import check_am_number, check_cpam_code, check_rpps, check_siret, convention_id
from domain.regimes import regime_for, tier_amount, tier_for_percentile
from domain.values import Modulation, Option, Profile, Tier

D = Decimal


# ---------------------------------------------------------------- R1 tiers
@pytest.mark.parametrize(
    ("percentile", "tier"),
    [(0, Tier.BASE), (30, Tier.BASE), (89, Tier.BASE), (90, Tier.RAISED), (94, Tier.RAISED), (95, Tier.MAX),
     (100, Tier.MAX)],
)  # fmt: skip
def test_r1_tier_from_percentile(percentile: int, tier: Tier) -> None:
    assert tier_for_percentile(percentile) is tier


@pytest.mark.parametrize("percentile", [-1, 101])
def test_r1_percentile_out_of_range_is_refused(percentile: int) -> None:
    with pytest.raises(InvalidInput) as err:
        tier_for_percentile(percentile)
    assert err.value.code == "invalid_percentile"


# ---------------------------------------------------------------- R2 contract years
def test_r2_year_one_runs_to_the_day_before_the_anniversary() -> None:
    assert year_bounds(date(2025, 3, 1), 1) == (date(2025, 3, 1), date(2026, 2, 28))
    assert year_bounds(date(2025, 3, 1), 3) == (date(2027, 3, 1), date(2028, 2, 29))


def test_r2_29_february_anniversaries_are_counted_from_the_effective_date_not_chained() -> None:
    eff = date(2024, 2, 29)
    assert anniversary(eff, 1) == date(2025, 2, 28)
    assert anniversary(eff, 3) == date(2027, 2, 28)
    assert anniversary(eff, 4) == date(2028, 2, 29)  # leap year again: back on the 29th


def test_r2_contract_year_on_a_date() -> None:
    eff = date(2025, 3, 1)
    assert contract_year_on(eff, date(2025, 2, 28)) == 0
    assert contract_year_on(eff, date(2025, 3, 1)) == 1
    assert contract_year_on(eff, date(2026, 2, 28)) == 1
    assert contract_year_on(eff, date(2026, 3, 1)) == 2


# ---------------------------------------------------------------- R3 regimes and amounts
AMOUNTS = {
    # regime: option: (y1, y2, y3 BASE, y3 RAISED, MAX)
    "A7-2019": {
        Option.THIRD: (12000, 9000, 7000, 8350, 12000),
        Option.HALF: (18000, 13500, 10500, 12500, 18000),
        Option.FULL: (36000, 27000, 21000, 25000, 36000),
    },
    "C-2024": {
        Option.THIRD: (None, 9450, 7350, 8767, 12600),
        Option.HALF: (19000, 14000, 11000, 13000, 19000),
        Option.FULL: (38000, 28000, 22000, 26000, 38000),
    },
}
STARTS = {"A7-2019": date(2023, 1, 10), "C-2024": date(2025, 1, 10)}


@pytest.mark.parametrize("regime", AMOUNTS)
@pytest.mark.parametrize("option", list(Option))
@pytest.mark.parametrize("tier", list(Tier))
@pytest.mark.parametrize("year", [1, 2, 3, 4, 5, 7])
def test_r3_amount_table(regime: str, option: Option, tier: Tier, year: int) -> None:
    y1, y2, base, raised, mx = AMOUNTS[regime][option]
    expected = mx if tier is Tier.MAX else {1: y1, 2: y2}.get(year, raised if tier is Tier.RAISED else base)
    if expected is None:
        with pytest.raises(InvalidInput):
            tier_amount(option, tier, year, STARTS[regime])
        return
    assert tier_amount(option, tier, year, STARTS[regime]) == (regime, D(expected))


def test_r3_regime_chosen_by_the_date_the_year_starts() -> None:
    assert regime_for(date(2024, 6, 21)).code == "A7-2019"
    assert regime_for(date(2024, 6, 22)).code == "C-2024"


def test_r3_max_gets_the_maximum_in_years_1_and_2() -> None:
    assert tier_amount(Option.FULL, Tier.MAX, 1, date(2025, 1, 10))[1] == D(38000)
    assert tier_amount(Option.FULL, Tier.MAX, 2, date(2026, 1, 10))[1] == D(38000)


# ---------------------------------------------------------------- R4 modulation
def test_r4_years_one_and_two_are_paid_in_full_whatever_the_attainment() -> None:
    assert modulated_amount(D(38000), 1, Modulation.PROPORTIONAL, D(0)) == D("38000.00")
    assert modulated_amount(D(28000), 2, Modulation.STEPS, D(0)) == D("28000.00")


def test_r4_proportional_policy() -> None:
    assert modulated_amount(D(22000), 3, Modulation.PROPORTIONAL, D("0.4")) == D("8800.00")
    assert modulated_amount(D(22000), 3, Modulation.PROPORTIONAL, D("1.5")) == D("22000.00")
    assert modulated_amount(D(7350), 4, Modulation.PROPORTIONAL, D(1) / D(3)) == D("2450.00")


@pytest.mark.parametrize(
    ("att", "factor"),
    [("1", "1"), ("0.99", "0.75"), ("0.75", "0.75"), ("0.74", "0.5"), ("0.5", "0.5"), ("0.49", "0"), ("0", "0")],
)
def test_r4_steps_policy(att: str, factor: str) -> None:
    assert modulation_factor(Modulation.STEPS, D(att)) == D(factor)


def test_r4_money_is_rounded_half_up_to_the_cent() -> None:
    assert modulated_amount(D("8767"), 3, Modulation.PROPORTIONAL, D("0.5")) == D("4383.50")
    assert modulated_amount(D("0.05"), 3, Modulation.PROPORTIONAL, D("0.5")) == D("0.03")


# ---------------------------------------------------------------- R5 attainment
def test_r5_attainment_of_growth() -> None:
    assert attainment(1000, 1200, 1080) == D("0.4")
    assert attainment(1000, 1200, 1300) == D(1)
    assert attainment(1000, 1200, 900) == D(0)


def test_r5_maintain_objective() -> None:
    assert attainment(1500, 1425, 1430) == D(1)  # MAX doctor may lose 5 %
    assert attainment(1500, 1425, 1140) == D("0.8")
    assert attainment(1500, 1500, 1500) == D(1)


# ---------------------------------------------------------------- R6 advance
def test_r6_advance_is_half_the_tier_amount() -> None:
    assert advance(D(22000)) == D("11000.00")
    assert advance(D(8767)) == D("4383.50")


# ---------------------------------------------------------------- R8 / R9 eligibility
def _eligibility(**over: object) -> None:
    args: dict[str, object] = {
        "specialty": "general_practice", "sector": 1, "optam": False, "ccam_share": None,
        "newly_installed": False, "percentile": 50, "option": Option.FULL, "signed_on": date(2025, 2, 1),
        "dedicated_room": True,
    }  # fmt: skip
    args.update(over)
    check_signature_eligibility(**args)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("over", "code"),
    [
        ({"sector": 3}, "ineligible_sector"),
        ({"sector": 2, "optam": False}, "ineligible_sector"),
        ({"specialty": "radiology"}, "ineligible_specialty"),
        ({"specialty": "radiotherapy"}, "ineligible_specialty"),
        ({"specialty": "stomatology"}, "ineligible_specialty"),
        ({"specialty": "anaesthesia"}, "ineligible_specialty"),
        ({"specialty": "pathology"}, "ineligible_specialty"),
        ({"specialty": "nuclear_medicine"}, "ineligible_specialty"),
        ({"specialty": "surgery", "ccam_share": 20}, "ineligible_technical_fees"),
        ({"specialty": "ent", "ccam_share": 35.5}, "ineligible_technical_fees"),
        ({"specialty": "gynaecology", "ccam_share": 20.0}, "ineligible_technical_fees"),
        ({"percentile": 29}, "ineligible_patient_count"),
        ({"option": Option.THIRD, "signed_on": date(2023, 6, 1)}, "third_option_closed"),
        ({"dedicated_room": False}, "dedicated_room_required"),
    ],
)
def test_r8_r9_refusals_name_the_reason(over: dict[str, object], code: str) -> None:
    with pytest.raises(NotEligible) as err:
        _eligibility(**over)
    assert err.value.code == code
    assert err.value.message


@pytest.mark.parametrize(
    "over",
    [
        {},
        {"sector": 2, "optam": True},
        {"specialty": "surgery", "ccam_share": 19.9},
        {"percentile": 10, "newly_installed": True},
        {"option": Option.THIRD, "signed_on": date(2023, 4, 1)},
    ],
)
def test_r8_eligible_cases(over: dict[str, object]) -> None:
    _eligibility(**over)


def test_r8_radiologist_refusal_names_the_specialty() -> None:
    with pytest.raises(NotEligible, match="radiologie"):
        _eligibility(specialty="radiology")


def test_r8_technical_specialty_needs_the_ccam_share() -> None:
    with pytest.raises(InvalidInput) as err:
        _eligibility(specialty="surgery")
    assert err.value.field == "ccam_share"


# ---------------------------------------------------------------- R11 reviews
def test_r11_reviews_every_six_months_from_the_effective_date() -> None:
    assert [d for _, d in reviews_until(date(2025, 1, 15), date(2026, 7, 15))] == [
        date(2025, 7, 15), date(2026, 1, 15), date(2026, 7, 15),
    ]  # fmt: skip


def test_r11_month_end_reviews_fall_on_the_last_day() -> None:
    assert review_date(date(2025, 8, 31), 1) == date(2026, 2, 28)
    assert review_date(date(2027, 8, 31), 1) == date(2028, 2, 29)
    assert review_date(date(2025, 8, 31), 2) == date(2026, 8, 31)  # counted from the effective date


# ---------------------------------------------------------------- R12 training
def test_r12_training_follows_the_profile() -> None:
    assert {p: p.training for p in Profile} == {
        Profile.NURSE: "FAE", Profile.CARE_AIDE: "FAE", Profile.CHILDCARE_AIDE: "FAE",
        Profile.SECRETARY: "CQP", Profile.OTHER: "CQP",
    }  # fmt: skip


# ---------------------------------------------------------------- R16 clock pause
def test_r16_anniversaries_move_by_the_suspended_days() -> None:
    eff = date(2025, 3, 1)
    pauses = [Pause(date(2026, 5, 1), date(2026, 9, 1))]  # 123 days
    assert anniversary(eff, 1, pauses) == date(2026, 3, 1)  # before the suspension: unchanged
    assert anniversary(eff, 2, pauses) == date(2027, 7, 2)
    assert anniversary(eff, 2, pauses, pause_clock=False) == date(2027, 3, 1)


def test_r16_open_suspension_leaves_the_next_anniversary_unknown() -> None:
    assert anniversary(date(2025, 3, 1), 2, [Pause(date(2026, 5, 1))]) is None


def test_r16_suspension_spanning_an_anniversary_moves_it_past_the_reactivation() -> None:
    eff = date(2025, 3, 1)
    pauses = [Pause(date(2026, 2, 1), date(2026, 4, 1))]  # 59 days, across anniversary 1
    assert anniversary(eff, 1, pauses) == date(2026, 4, 29)
    assert contract_year_on(eff, date(2026, 4, 28), pauses) == 1


# ---------------------------------------------------------------- R17 pro rata
def test_r17_pro_rata_to_the_cent() -> None:
    assert pro_rata(D(22000), date(2028, 3, 1), date(2029, 3, 1), date(2028, 9, 1)) == D("11090.41")  # 22000 x 184/365
    assert pro_rata(D(38000), date(2025, 3, 1), date(2026, 3, 1), date(2025, 3, 1)) == D("0.00")


# ---------------------------------------------------------------- R18 second assistant
def test_r18_second_assistant_conditions() -> None:
    ok = {"specialty": "general_practice", "mep": False, "option": Option.FULL, "contract_year": 3,
          "objectives_met": True, "zip_area": True}  # fmt: skip
    assert second_assistant_refusals(**ok) == []  # type: ignore[arg-type]
    for key, value in [("specialty", "cardiology"), ("mep", True), ("option", Option.HALF), ("contract_year", 2),
                       ("objectives_met", False), ("zip_area", False)]:  # fmt: skip
        assert len(second_assistant_refusals(**{**ok, key: value})) == 1  # type: ignore[arg-type]


# ---------------------------------------------------------------- R19 identifiers
def test_r19_rpps_luhn() -> None:
    assert check_rpps("10000000009") == "10000000009"
    for bad in ["10000000008", "1000000000", "1000000000a", ""]:
        with pytest.raises(InvalidInput) as err:
            check_rpps(bad)
        assert err.value.field == "rpps"


def test_r19_siret_am_cpam() -> None:
    assert check_siret("73282932000074") == "73282932000074"
    with pytest.raises(InvalidInput, match="SIRET"):
        check_siret("73282932000075")
    assert check_am_number("123456789") == "123456789"
    with pytest.raises(InvalidInput, match="AM"):
        check_am_number("12345678")
    assert check_cpam_code("281") == "281"
    with pytest.raises(InvalidInput, match="CPAM"):
        check_cpam_code("28")


def test_deterministic_convention_id() -> None:
    assert convention_id("281", "C-1") == convention_id("281", "C-1") != convention_id("751", "C-1")


# ---------------------------------------------------------------- the simulator (worked cases 1-5)
def _amounts(**kw: object) -> list[tuple[int, str, str, str]]:
    return [(r["year"], str(r["start"]), r["regime"], str(r["amount"])) for r in estimate(**kw)]  # type: ignore[arg-type]


def test_case_1_full_base() -> None:
    rows = _amounts(option=Option.FULL, tier=Tier.BASE, effective=date(2025, 3, 1), years=3)
    assert rows == [
        (1, "2025-03-01", "C-2024", "38000.00"),
        (2, "2026-03-01", "C-2024", "28000.00"),
        (3, "2027-03-01", "C-2024", "22000.00"),
    ]
    assert estimate(option=Option.FULL, tier=Tier.BASE, effective=date(2025, 3, 1))[0]["end"] == date(2026, 2, 28)


def test_case_2_half_raised() -> None:
    rows = _amounts(option=Option.HALF, tier=Tier.RAISED, effective=date(2025, 3, 1), years=3)
    assert [r[3] for r in rows] == ["19000.00", "14000.00", "13000.00"]


def test_case_3_full_max_every_year() -> None:
    rows = _amounts(option=Option.FULL, tier=Tier.MAX, effective=date(2025, 1, 10), years=5)
    assert [r[3] for r in rows] == ["38000.00"] * 5


def test_case_4_regime_change_at_the_anniversary() -> None:
    rows = _amounts(option=Option.HALF, tier=Tier.BASE, effective=date(2023, 9, 1), years=2)
    assert rows == [(1, "2023-09-01", "A7-2019", "18000.00"), (2, "2024-09-01", "C-2024", "14000.00")]


def test_case_5_attainment_40_percent() -> None:
    rows = estimate(option=Option.FULL, tier=Tier.BASE, effective=date(2025, 3, 1), years=3, attainment=D("0.4"))
    assert rows[2]["amount"] == D("8800.00")
    steps = estimate(
        option=Option.FULL, tier=Tier.BASE, effective=date(2025, 3, 1), years=3, attainment=D("0.4"),
        modulation=Modulation.STEPS,
    )  # fmt: skip
    assert steps[2]["amount"] == D("0.00")


def test_case_6_estimate_refuses_a_third_option_after_may_2023() -> None:
    with pytest.raises(NotEligible):
        estimate(option=Option.THIRD, tier=Tier.BASE, effective=date(2023, 6, 1))
