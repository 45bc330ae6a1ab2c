"""Figures of the policy impact (issue 12): one convention's money per calendar year, as recorded and
as replayed under other policies (``domain.replay``).

``ledger`` turns instalments and payments into figures per calendar year: **due** (instalments with a
positive amount, by the year of their due date, as the dashboard counts them), **to recover** (the
rules' own indus by the year of their due date: a negative year-3+ balance R6, a negative settlement
R17; plus what was paid on an instalment beyond what it comes to, by the year of its last payment),
**paid** and **recovered** (payments and recoveries as recorded, by the year they were made: the same
under any policy).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from typing import Any
from uuid import UUID

from domain import events as ev
from domain.replay import Owed, as_recorded, money_to_record, replayed_instalments
from domain.replay_policies import policies_under, policy_matters

ZERO = Decimal(0)


@dataclass
class Figures:
    """Money of one calendar year, to the cent."""

    due: Decimal = ZERO
    to_recover: Decimal = ZERO
    paid: Decimal = ZERO
    recovered: Decimal = ZERO

    KEYS = ("due", "to_recover", "paid", "recovered")

    def add(self, other: Figures) -> None:
        self.due += other.due
        self.to_recover += other.to_recover
        self.paid += other.paid
        self.recovered += other.recovered

    def minus(self, other: Figures) -> Figures:
        return Figures(self.due - other.due, self.to_recover - other.to_recover, self.paid - other.paid,
                       self.recovered - other.recovered)  # fmt: skip

    def as_tuple(self) -> tuple[Decimal, Decimal, Decimal, Decimal]:
        return self.due, self.to_recover, self.paid, self.recovered


@dataclass(frozen=True)
class Payment:
    """A payment (or, negative, a recovery) as recorded: it stays what it was under any policy."""

    instalment_id: str
    amount: Decimal
    paid_on: date


def payments_of(events: Iterable[ev.Event]) -> list[Payment]:
    return [Payment(e.instalment_id, e.amount, e.effective_date) for e in events if type(e) is ev.PaymentRecorded]


def ledger(instalments: Iterable[Owed], payments: Iterable[Payment]) -> dict[int, Figures]:
    """Due, to recover, paid and recovered per calendar year (see the module's docstring)."""
    years: dict[int, Figures] = {}

    def year(day: date) -> Figures:
        return years.setdefault(day.year, Figures())

    amounts: dict[str, Decimal] = {}
    for iid, amount, due_date in instalments:
        amounts[iid] = amount
        if amount >= 0:
            year(due_date).due += amount
        else:
            year(due_date).to_recover -= amount
    paid: dict[str, tuple[Decimal, date]] = {}
    for p in payments:
        if p.amount >= 0:
            year(p.paid_on).paid += p.amount
            total, last = paid.get(p.instalment_id, (ZERO, p.paid_on))
            paid[p.instalment_id] = (total + p.amount, max(last, p.paid_on))
        else:
            year(p.paid_on).recovered -= p.amount
    for iid, (total, last) in paid.items():
        beyond = total - max(amounts.get(iid, ZERO), ZERO)
        if beyond > 0:  # paid beyond what the instalment comes to (or on one that is not due): to recover
            year(last).to_recover += beyond
    return years


@dataclass
class Outcome:
    """One convention's figures per calendar year, as recorded and as replayed."""

    convention_id: UUID
    number: str
    cpam_code: str
    actual: dict[int, Figures]
    replayed: dict[int, Figures]
    rerun: bool  # False: the chosen policies cannot change this history (``policy_matters``)
    changed: bool = field(init=False)

    def __post_init__(self) -> None:
        self.changed = _plain(self.actual) != _plain(self.replayed)


def _plain(years: dict[int, Figures]) -> dict[int, tuple[Decimal, ...]]:
    return {y: f.as_tuple() for y, f in years.items() if any(f.as_tuple())}


def needs_reviews(events: Sequence[ev.Event], chosen: Mapping[str, Any], today: date) -> bool:
    """Whether ``outcome`` goes through the aggregate for this history (a replay, or money left to
    record), which then needs the reviews raised (``ReviewDue``) not to raise them again. When it does
    not, a reader may leave them out: no amount depends on them (R11)."""
    signed = events[0]
    assert isinstance(signed, ev.Signed)
    policies = policies_under(signed.policies, chosen)
    return policy_matters(events, signed.policies, policies) or money_to_record(events, today)


def outcome(events: Sequence[ev.Event], chosen: Mapping[str, Any], today: date, *, force: bool = False) -> Outcome:
    """A convention's figures as recorded and under the ``chosen`` policies (``parse_policies``), up to
    ``today``. ``force``: replay even when the policies cannot change anything (a check of the replay
    itself). Raises when the history cannot be computed (the rules' ``DomainError``)."""
    signed = events[0]
    assert isinstance(signed, ev.Signed)
    payments = payments_of(events)
    actual = ledger(as_recorded(events, today), payments)
    policies = policies_under(signed.policies, chosen)
    rerun = force or policy_matters(events, signed.policies, policies)
    replayed = ledger(replayed_instalments(events, policies, today), payments) if rerun else actual
    return Outcome(signed.originator_id, signed.number, signed.cpam_code, actual, replayed, rerun)
