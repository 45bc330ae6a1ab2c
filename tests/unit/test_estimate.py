"""The simulator's attainment (R5): a fraction capped to [0, 1], or computed from patient counts."""

from __future__ import annotations

from datetime import date
from decimal import Decimal as D

import pytest

from domain.errors import InvalidInput
from domain.estimate import estimate, estimated_attainment
from domain.values import Option, Tier


def test_attainment_above_one_is_capped_not_refused() -> None:
    """R5 caps attainment at 1: 1.3 pays like 1 and says it was capped."""
    att = estimated_attainment(fraction=D("1.3"))
    assert att is not None and att.value == 1 and att.given == D("1.3") and att.capped
    capped = estimate(option=Option.FULL, tier=Tier.BASE, effective=date(2025, 3, 1), years=3, attainment=D("1.3"))
    full = estimate(option=Option.FULL, tier=Tier.BASE, effective=date(2025, 3, 1), years=3)
    assert capped == full
    assert estimated_attainment(fraction=D("-0.2")).value == 0  # type: ignore[union-attr]
    assert not estimated_attainment(fraction=D("0.4")).capped  # type: ignore[union-attr]


@pytest.mark.parametrize(
    ("initial", "target", "observed", "expected"),
    [
        (1000, 1200, 1080, D("0.4")),  # growth: (1080 - 1000) / (1200 - 1000)
        (1000, 1200, 1300, D(1)),  # beyond the target: capped
        (1000, 1200, 900, D(0)),  # fewer patients than at signature
        (1000, 900, 950, D(1)),  # maintain: observed >= target
        (1000, 1000, 800, D("0.8")),  # maintain: observed / target
    ],
)
def test_attainment_from_patient_counts_follows_r5(initial: int, target: int, observed: int, expected: D) -> None:
    att = estimated_attainment(initial=initial, target=target, observed=observed)
    assert att is not None and att.value == expected and att.from_counts and not att.capped


def test_counts_and_fraction_together_or_incomplete_counts_are_refused() -> None:
    with pytest.raises(InvalidInput) as both:
        estimated_attainment(fraction=D("0.5"), initial=1000, target=1200, observed=1100)
    assert both.value.code == "attainment_or_counts"
    with pytest.raises(InvalidInput) as partial:
        estimated_attainment(initial=1000, target=1200)
    assert partial.value.code == "incomplete_counts"
    with pytest.raises(InvalidInput) as negative:
        estimated_attainment(initial=-1, target=1200, observed=1100)
    assert negative.value.code == "invalid_patients"
    with pytest.raises(InvalidInput) as nan:
        estimated_attainment(fraction=D("NaN"))
    assert nan.value.code == "invalid_attainment"
    assert estimated_attainment() is None
