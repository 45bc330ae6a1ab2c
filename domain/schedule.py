"""The payment schedule of one contract year (R6), as a plan: what falls due, when, how much."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal

from domain.amounts import advance, modulated_amount
from domain.calendar import add_months
from domain.identifiers import instalment_id
from domain.values import InstalmentKind, Modulation, to_cents

A7_FIRST_SHARE = Decimal("0.70")  # A7-2019 year 1: 70 % 15 days after the hire, 30 % at anniversary 1
A7_FIRST_DELAY = timedelta(days=15)


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
    if year == 1 and regime == "A7-2019":
        first = to_cents(full * A7_FIRST_SHARE)
        falls = None if hired_on is None else max(hired_on, start)
        return [
            PlannedInstalment(
                instalment_id(1, "advance"), 1, InstalmentKind.ADVANCE, falls,
                None if falls is None else falls + A7_FIRST_DELAY, first,
                f"A7-2019 année 1 : 70 % de {full} € à 15 jours de l'embauche (ou de la prise d'effet)",
            ),
            PlannedInstalment(
                instalment_id(1, "balance"), 1, InstalmentKind.BALANCE, end, end, full - first,
                f"A7-2019 année 1 : solde de 30 % de {full} € à l'anniversaire",
            ),
        ]  # fmt: skip
    if year == 1:
        return [
            PlannedInstalment(
                instalment_id(1, "full"), 1, InstalmentKind.FULL, start, add_months(start, 1),
                full, f"{regime} année 1 : {full} € à un mois de la prise d'effet",
            )
        ]  # fmt: skip
    if year == 2:
        return [
            PlannedInstalment(
                instalment_id(2, "full"), 2, InstalmentKind.FULL, start, start, full,
                f"{regime} année 2 : {full} € à l'anniversaire 1",
            )
        ]  # fmt: skip
    adv = advance(full)
    balance_known = attainment is not None and end is not None and attainment_recorded_on is not None
    due = modulated_amount(full, year, modulation, attainment) if balance_known else None
    falls = max(end, attainment_recorded_on) if balance_known else None  # type: ignore[type-var]
    return [
        PlannedInstalment(
            instalment_id(year, "advance"), year, InstalmentKind.ADVANCE, start, start, adv,
            f"{regime} année {year} : avance de 50 % de {full} €",
        ),
        PlannedInstalment(
            instalment_id(year, "balance"), year, InstalmentKind.BALANCE,
            falls, None if falls is None else falls + timedelta(days=balance_payment_days),
            None if due is None else due - adv,
            "" if due is None else
            f"{regime} année {year} : {due} € dus (atteinte {attainment:.2%}, {modulation.value}) "
            f"moins l'avance de {adv} €",
        ),
    ]  # fmt: skip
