"""The payment schedule of one contract year (R6), as a plan: what falls due, when, how much.

What a year pays and what makes each instalment fall due is said once, here
(``year_instalments``, ``falls_due``): the aggregate's ``record_due`` (through ``domain.due``), the
calendar read model and the dashboard forecast all read it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal
from enum import StrEnum
from functools import lru_cache

from domain.amounts import FIRST_MODULATED_YEAR, advance, modulated_amount
from domain.calendar import add_months
from domain.identifiers import instalment_id
from domain.values import InstalmentKind, Modulation, to_cents

A7_2019 = "A7-2019"  # the regime whose year 1 is paid after the hire (R24)
A7_FIRST_SHARE = Decimal("0.70")  # A7-2019 year 1: 70 % 15 days after the hire, 30 % at anniversary 1
A7_FIRST_DELAY = timedelta(days=15)


class Timing(StrEnum):
    """What makes an instalment fall due."""

    START = "start"  # the day its year starts
    HIRE = "hire"  # the first hire, not before its year starts (A7-2019 year 1, R24)
    ANNIVERSARY = "anniversary"  # the anniversary that ends its year
    ATTAINMENT = "attainment"  # its year's attainment recorded, not before that anniversary (R23)


@dataclass(frozen=True)
class YearInstalment:
    """One instalment of a contract year, before any date or amount is known."""

    instalment_id: str
    year: int
    kind: InstalmentKind
    timing: Timing


@lru_cache(maxsize=1024)
def year_instalments(year: int, regime: str | None = None) -> tuple[YearInstalment, ...]:
    """The instalments of contract year ``year``, in schedule order (R6).

    ``regime`` matters for year 1 only (A7-2019 pays it after the hire): None for a later year.
    Memoised: a pure function of two small values that every tick and read model asks."""
    if year == 1 and regime == A7_2019:
        return (
            YearInstalment(instalment_id(1, InstalmentKind.ADVANCE), 1, InstalmentKind.ADVANCE, Timing.HIRE),
            YearInstalment(instalment_id(1, InstalmentKind.BALANCE), 1, InstalmentKind.BALANCE, Timing.ANNIVERSARY),
        )
    if year < FIRST_MODULATED_YEAR:
        return (YearInstalment(instalment_id(year, InstalmentKind.FULL), year, InstalmentKind.FULL, Timing.START),)
    return (
        YearInstalment(instalment_id(year, InstalmentKind.ADVANCE), year, InstalmentKind.ADVANCE, Timing.START),
        YearInstalment(instalment_id(year, InstalmentKind.BALANCE), year, InstalmentKind.BALANCE, Timing.ATTAINMENT),
    )


@lru_cache(maxsize=1024)
def year_instalment_ids(year: int, regime: str | None = None) -> frozenset[str]:
    """The ids of ``year_instalments``: a year whose ids are all recorded has nothing left to fall due."""
    return frozenset(i.instalment_id for i in year_instalments(year, regime))


def attainment_balance(year: int) -> str | None:
    """The instalment of ``year`` that waits for the year's attainment (R23), if any."""
    return next((i.instalment_id for i in year_instalments(year) if i.timing is Timing.ATTAINMENT), None)


def falls_due(
    timing: Timing,
    *,
    start: date | None,
    end: date | None,
    hired_on: date | None,
    attainment_recorded_on: date | None,
) -> date | None:
    """The day an instalment timed by ``timing`` falls due; None while not known (no hire yet, no
    attainment yet, an anniversary hidden by an open suspension). ``end``: the anniversary that
    ends the year."""
    if timing is Timing.START:
        return start
    if timing is Timing.HIRE:
        return None if hired_on is None or start is None else max(hired_on, start)
    if timing is Timing.ANNIVERSARY:
        return end
    return None if end is None or attainment_recorded_on is None else max(end, attainment_recorded_on)


def year_timing(
    year: int,
    regime: str | None,
    *,
    start: date | None,
    end: date | None,
    hired_on: date | None,
    attainment_recorded_on: date | None,
) -> tuple[tuple[YearInstalment, date | None], ...]:
    """Each instalment of contract year ``year`` with the day it falls due (None: not known yet)."""
    return tuple(
        (i, falls_due(i.timing, start=start, end=end, hired_on=hired_on, attainment_recorded_on=attainment_recorded_on))
        for i in year_instalments(year, regime if year == 1 else None)
    )


@dataclass(frozen=True)
class PlannedInstalment:
    instalment_id: str
    year: int
    kind: InstalmentKind
    falls_due: date | None  # None: not known yet (no hire, no attainment, open suspension)
    due_date: date | None
    amount: Decimal | None
    basis: str


def plan_year(
    *,
    year: int,
    start: date,
    end: date | None,
    regime: str,
    full_amount: Decimal,
    hired_on: date | None,
    attainment: Decimal | None,
    attainment_recorded_on: date | None,
    modulation: Modulation,
    balance_payment_days: int = 30,
) -> list[PlannedInstalment]:
    """Instalments of contract year ``year`` (``end`` is the next anniversary, None if unknown).

    R23: a year-3+ balance falls due when the attainment is recorded (never before the anniversary
    that ends its year) and is payable within ``balance_payment_days`` of that day."""
    full = to_cents(full_amount)
    timed = year_timing(
        year, regime, start=start, end=end, hired_on=hired_on,
        attainment_recorded_on=attainment_recorded_on if attainment is not None else None,
    )  # fmt: skip
    if year == 1 and regime == A7_2019:
        (advance_, falls), (balance, end_) = timed
        first = to_cents(full * A7_FIRST_SHARE)
        return [
            PlannedInstalment(
                advance_.instalment_id, 1, advance_.kind, falls, None if falls is None else falls + A7_FIRST_DELAY,
                first, f"A7-2019 année 1 : 70 % de {full} € à 15 jours de l'embauche (ou de la prise d'effet)",
            ),
            PlannedInstalment(
                balance.instalment_id, 1, balance.kind, end_, end_, full - first,
                f"A7-2019 année 1 : solde de 30 % de {full} € à l'anniversaire",
            ),
        ]  # fmt: skip
    if year < FIRST_MODULATED_YEAR:
        ((only, falls),) = timed
        due_date, basis = (
            (add_months(start, 1), f"{regime} année 1 : {full} € à un mois de la prise d'effet") if year == 1
            else (start, f"{regime} année 2 : {full} € à l'anniversaire 1")
        )  # fmt: skip
        return [PlannedInstalment(only.instalment_id, year, only.kind, falls, due_date, full, basis)]
    (advance_, start_), (balance, falls) = timed
    adv = advance(full)
    due = None if falls is None else modulated_amount(full, year, modulation, attainment)
    return [
        PlannedInstalment(
            advance_.instalment_id, year, advance_.kind, start_, start_, adv,
            f"{regime} année {year} : avance de 50 % de {full} €",
        ),
        PlannedInstalment(
            balance.instalment_id, year, balance.kind,
            falls, None if falls is None else falls + timedelta(days=balance_payment_days),
            None if due is None else due - adv,
            "" if due is None else
            f"{regime} année {year} : {due} € dus (atteinte {attainment:.2%}, {modulation.value}) "
            f"moins l'avance de {adv} €",
        ),
    ]  # fmt: skip
