"""Attainment (R5), modulation (R4), the payment schedule (R6) and pro-rata settlement (R17)."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

from domain.values import Modulation, to_cents

FIRST_MODULATED_YEAR = 3  # R4: years 1 and 2 are paid in full whatever the patient count
ONE = Decimal(1)
ZERO = Decimal(0)


def attainment(initial: int, target: int, observed: int) -> Decimal:
    """R5: share of the contracted growth reached, capped to [0, 1].

    When the objective is to maintain (target <= initial), 1 when observed >= target, else
    observed / target.
    """
    if target <= initial:
        if observed >= target:
            return ONE
        return ZERO if target <= 0 else _clamp(Decimal(observed) / Decimal(target))
    return _clamp(Decimal(observed - initial) / Decimal(target - initial))


def _clamp(value: Decimal) -> Decimal:
    return max(ZERO, min(ONE, value))


def modulation_factor(policy: Modulation, att: Decimal) -> Decimal:
    """R4: ``proportional`` pays clamp(att); ``steps`` pays 100/75/50/0 %."""
    att = _clamp(att)
    if policy is Modulation.PROPORTIONAL:
        return att
    for threshold in (ONE, Decimal("0.75"), Decimal("0.5")):
        if att >= threshold:
            return threshold
    return ZERO


def modulated_amount(full: Decimal, year: int, policy: Modulation, att: Decimal | None) -> Decimal:
    """Years 1 and 2 are paid in full (R4); from year 3 the amount follows attainment."""
    if year < FIRST_MODULATED_YEAR or att is None:
        return to_cents(full)
    return to_cents(full * modulation_factor(policy, att))


def advance(full: Decimal) -> Decimal:
    """R6: the year-3+ advance is 50 % of the tier amount."""
    return to_cents(full / 2)


def pro_rata(year_amount: Decimal, year_start: date, year_end_exclusive: date, terminated_on: date) -> Decimal:
    """R17: year amount x elapsed days / days in the contract year, to the cent."""
    elapsed = max(0, (terminated_on - year_start).days)
    days = (year_end_exclusive - year_start).days
    return to_cents(year_amount * Decimal(elapsed) / Decimal(days))
