"""Regimes and amounts (R1, R3) as versioned data: the next convention adds a row.

A regime applies to the contract years *starting* on or after its start date. Rows are never
edited once a year has been computed with them: a change is a new regime.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from domain.errors import InvalidInput
from domain.values import Option, Tier

# Table version: bump when a row is added. Recorded on each YearStarted event.
TABLE_VERSION = "2024-06"


@dataclass(frozen=True)
class Regime:
    code: str
    starts: date
    # option -> (year 1, year 2, year 3+ BASE, year 3+ RAISED, MAX every year); None: not offered
    amounts: dict[Option, tuple[Decimal | None, ...]]


def _d(*values: int | None) -> tuple[Decimal | None, ...]:
    return tuple(None if v is None else Decimal(v) for v in values)


REGIMES: tuple[Regime, ...] = (
    Regime(
        "A7-2019",
        date(2019, 1, 1),
        {
            Option.THIRD: _d(12000, 9000, 7000, 8350, 12000),
            Option.HALF: _d(18000, 13500, 10500, 12500, 18000),
            Option.FULL: _d(36000, 27000, 21000, 25000, 36000),
        },
    ),
    Regime(
        "C-2024",
        date(2024, 6, 22),
        {
            Option.THIRD: _d(None, 9450, 7350, 8767, 12600),
            Option.HALF: _d(19000, 14000, 11000, 13000, 19000),
            Option.FULL: _d(38000, 28000, 22000, 26000, 38000),
        },
    ),
)

THIRD_CLOSED_ON = date(2023, 5, 1)  # R1/R8: no new THIRD convention from this date


def regime_for(year_start: date) -> Regime:
    """The regime of a contract year is chosen by the date the year starts (R3)."""
    chosen = None
    for regime in REGIMES:
        if regime.starts <= year_start:
            chosen = regime
    if chosen is None:
        raise InvalidInput("no_regime", f"Aucun régime d'aide ne couvre une année commençant le {year_start}.")
    return chosen


def tier_for_percentile(percentile: int) -> Tier:
    """R1: BASE below P90, RAISED from P90 to P94, MAX from P95."""
    if not 0 <= percentile <= 100:
        raise InvalidInput("invalid_percentile", "Le percentile doit être entre 0 et 100.", "percentile")
    if percentile >= 95:
        return Tier.MAX
    if percentile >= 90:
        return Tier.RAISED
    return Tier.BASE


def tier_amount(option: Option, tier: Tier, year: int, year_start: date) -> tuple[str, Decimal]:
    """The full (unmodulated) amount of contract year ``year``: (regime code, amount)."""
    regime = regime_for(year_start)
    row = regime.amounts[option]
    if tier is Tier.MAX:
        amount = row[4]
    elif year == 1:
        amount = row[0]
    elif year == 2:
        amount = row[1]
    else:
        amount = row[3] if tier is Tier.RAISED else row[2]
    if amount is None:
        raise InvalidInput(
            "option_not_offered",
            f"L'option {option.value} n'est pas proposée en année {year} du régime {regime.code}.",
            "option",
        )
    return regime.code, amount
