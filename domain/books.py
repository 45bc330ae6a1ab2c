"""The books of one convention, proved from its events (``conventions verify``, docs/audit.md).

The history is replayed event by event. Before each event is applied, what it records is compared
with what the rules give on the state just before it, the state ``record_due`` and the commands
decided on: a contract year's start (the anniversary moved by the suspensions, R2, R16), its regime
and amount (R3), each instalment's date, due date and amount (R6, R23, R24), the termination
settlement (R17), the attainment (R5), the review dates (R11). Payments must pay a recorded
instalment, once, for its amount (R7). Pure: no I/O, events in, findings out.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from typing import Any

from domain import events as ev
from domain.amounts import attainment as compute_attainment
from domain.audit import Finding
from domain.calendar import add_months, review_date
from domain.convention import Convention
from domain.due import Due, DueKind
from domain.errors import DomainError
from domain.values import InstalmentKind

CENT = Decimal("0.01")


@dataclass
class Totals:
    """What the books add up to (instalments not cancelled, payments), in euros."""

    events: int = 0
    instalments: int = 0
    payments: int = 0
    due: Decimal = field(default_factory=Decimal)
    paid: Decimal = field(default_factory=Decimal)

    def add(self, other: Totals) -> None:
        self.events += other.events
        self.instalments += other.instalments
        self.payments += other.payments
        self.due += other.due
        self.paid += other.paid


class ConventionBooks:
    """One convention's history, checked as it replays: ``add(event)`` in version order, then
    ``conv`` is the replayed convention and ``findings`` what does not add up."""

    def __init__(self) -> None:
        self.conv: Convention | None = None
        self.findings: list[Finding] = []
        self.totals = Totals()
        self._version = 0

    def add(self, e: ev.Event) -> None:
        v = e.originator_version
        if v != self._version + 1:
            missing = f"{self._version + 1}" + (f" à {v - 1}" if v - 1 > self._version + 1 else "")
            self._find("version_gap", f"Version(s) {missing} absente(s) avant la version {v}.", v)
        self._version = v
        self.totals.events += 1
        if self.conv is None:
            if not isinstance(e, ev.Signed):
                self._find(
                    "not_signed_first", f"L'historique commence par {type(e).__name__}, pas par la signature.", v
                )
                return
            self.conv = Convention.replay([e])
            return
        check = _CHECKS.get(type(e))
        if check is not None:
            try:
                check(self, self.conv, e)
            except DomainError as error:
                self._find(f"unprocessable:{error.code}", f"Règles inapplicables : {error.message}", v)
        e.apply(self.conv)
        self.conv.version = v

    def _find(self, code: str, message: str, version: int | None) -> None:
        self.findings.append(Finding(code, message, version))

    # ------------------------------------------------------------------ the calendar (R2, R3, R11, R16)
    def _year(self, conv: Convention, e: ev.YearStarted) -> None:
        n, v = e.year, e.originator_version
        if n != conv.contract_year + 1:
            self._find("year_out_of_order", f"Année {n} ouverte après l'année {conv.contract_year}.", v)
            return
        start = conv.year_start(n)
        if start != e.effective_date:
            self._find("anniversary_differs", f"Année {n} ouverte le {e.effective_date:%d/%m/%Y} ; compte tenu des "
                       f"suspensions elle commence le {_day(start)} (R2, R16).", v)  # fmt: skip
        _, fields = conv._due_event(Due(e.effective_date, DueKind.YEAR, n))
        recorded = {"regime": e.regime, "option": e.option, "tier": e.tier, "full_amount": e.full_amount}
        for name, value in recorded.items():
            if value != fields[name]:
                self._find("year_differs", f"Année {n} : {name} enregistré {_show(value)}, les règles donnent "
                           f"{_show(fields[name])} (R3).", v)  # fmt: skip
        self._cents(e.full_amount, f"montant de l'année {n}", v)

    def _review(self, conv: Convention, e: ev.ReviewDue) -> None:
        expected = review_date(conv.effective_from, e.k)
        if e.effective_date != expected:
            self._find("review_date_differs", f"Point n° {e.k} dû le {e.effective_date:%d/%m/%Y}, la règle donne le "
                       f"{expected:%d/%m/%Y} (R11).", e.originator_version)  # fmt: skip

    def _suspended(self, conv: Convention, e: ev.Suspended) -> None:
        if conv.pauses and conv.pauses[-1].end is None:
            self._find("suspended_twice", "Suspension enregistrée alors que la convention est déjà suspendue.",
                       e.originator_version)  # fmt: skip

    def _reactivated(self, conv: Convention, e: ev.Reactivated) -> None:
        v = e.originator_version
        if not conv.pauses or conv.pauses[-1].end is not None:
            self._find("reactivation_without_suspension", "Réactivation sans suspension en cours.", v)
            return
        days = (e.effective_date - conv.pauses[-1].start).days
        if e.suspended_days != days:
            self._find("suspended_days_differs", f"Réactivation : {e.suspended_days} jours de suspension "
                       f"enregistrés, {days} entre les dates (R14, R16).", v)  # fmt: skip

    def _attainment(self, conv: Convention, e: ev.AttainmentRecorded) -> None:
        target = conv.target_for_year(e.year)
        expected = compute_attainment(conv.initial_patients, target, e.observed_patients)
        if (e.target_patients, e.initial_patients, e.attainment) != (target, conv.initial_patients, expected):
            self._find("attainment_differs", f"Atteinte de l'année {e.year} enregistrée {e.attainment} (objectif "
                       f"{e.target_patients}), les règles donnent {expected} (objectif {target}) (R5).",
                       e.originator_version)  # fmt: skip

    # ------------------------------------------------------------------ money (R6, R7, R17, R23, R24)
    def _instalment(self, conv: Convention, e: ev.InstalmentDue) -> None:
        v, iid = e.originator_version, e.instalment_id
        self._cents(e.amount, f"échéance {iid}", v)
        if iid in conv.instalments:
            self._find("instalment_recorded_twice", f"Échéance {iid} enregistrée deux fois.", v)
            return
        self.totals.instalments += 1
        self.totals.due += e.amount
        if e.kind is InstalmentKind.SETTLEMENT:
            expected = conv._settlement(e.effective_date)
            amount, due_date = (None if expected is None else expected[0]), add_months(e.effective_date, 1)
            what = "solde de résiliation (R17)"
        elif e.year not in conv.years:
            self._find("instalment_of_unstarted_year", f"Échéance {iid} d'une année {e.year} non ouverte.", v)
            return
        else:
            planned = {p.instalment_id: p for p in conv._plan(conv.years[e.year])}
            p = planned.get(iid)
            if p is None:
                self._find("unknown_instalment_kind", f"Échéance {iid} : les règles ne prévoient pas cette échéance "
                           f"en année {e.year} (R6).", v)  # fmt: skip
                return
            amount, due_date, what = p.amount, p.due_date, "règles de l'année (R6, R23, R24)"
            if p.falls_due != e.effective_date:
                self._find("instalment_date_differs", f"Échéance {iid} échue le {e.effective_date:%d/%m/%Y}, les "
                           f"règles la font échoir le {_day(p.falls_due)}.", v)  # fmt: skip
        if amount != e.amount:
            self._find("instalment_amount_differs", f"Échéance {iid} : {e.amount} € enregistrés, {_show(amount)} € "
                       f"selon les {what}.", v)  # fmt: skip
        if due_date != e.due_date:
            self._find("instalment_due_date_differs", f"Échéance {iid} : date limite {e.due_date:%d/%m/%Y}, les "
                       f"règles donnent le {_day(due_date)}.", v)  # fmt: skip

    def _cancelled(self, conv: Convention, e: ev.InstalmentCancelled) -> None:
        inst = conv.instalments.get(e.instalment_id)
        v = e.originator_version
        if inst is None:
            self._find("cancel_without_instalment", f"Annulation de l'échéance {e.instalment_id}, jamais échue.", v)
        elif inst.status != "due":
            self._find("cancel_of_settled", f"Annulation de l'échéance {e.instalment_id}, déjà {inst.status}.", v)
        else:
            self.totals.due -= inst.amount

    def _payment(self, conv: Convention, e: ev.PaymentRecorded) -> None:
        v, iid = e.originator_version, e.instalment_id
        self._cents(e.amount, f"paiement de {iid}", v)
        self.totals.payments += 1
        self.totals.paid += e.amount
        inst = conv.instalments.get(iid)
        if inst is None:
            self._find("payment_without_instalment", f"Paiement de {e.amount} € sur l'échéance {iid}, jamais échue "
                       "(R7).", v)  # fmt: skip
            return
        if inst.status == "paid":
            self._find("instalment_paid_twice", f"Échéance {iid} payée deux fois (déjà le {_day(inst.paid_on)}, "
                       f"réf. {inst.payment_reference}) (R7).", v)  # fmt: skip
        elif inst.status == "cancelled":
            self._find("payment_of_cancelled", f"Paiement de l'échéance {iid}, annulée par la résiliation.", v)
        if e.amount != inst.amount:
            self._find("payment_amount_differs", f"Paiement de {e.amount} € sur l'échéance {iid} de "
                       f"{inst.amount} €.", v)  # fmt: skip
        if e.effective_date < inst.fell_due_on:
            self._find("payment_before_due", f"Paiement de {iid} le {e.effective_date:%d/%m/%Y}, avant son "
                       f"échéance du {inst.fell_due_on:%d/%m/%Y}.", v)  # fmt: skip

    def _cents(self, amount: Decimal, what: str, version: int) -> None:
        if amount != amount.quantize(CENT):
            self._find("not_to_the_cent", f"{what} : {amount} € n'est pas un montant au centime.", version)


_CHECKS: dict[type[ev.Event], Any] = {
    ev.YearStarted: ConventionBooks._year,
    ev.ReviewDue: ConventionBooks._review,
    ev.Suspended: ConventionBooks._suspended,
    ev.Reactivated: ConventionBooks._reactivated,
    ev.AttainmentRecorded: ConventionBooks._attainment,
    ev.InstalmentDue: ConventionBooks._instalment,
    ev.InstalmentCancelled: ConventionBooks._cancelled,
    ev.PaymentRecorded: ConventionBooks._payment,
}


def _day(day: date | None) -> str:
    return "(inconnu)" if day is None else f"{day:%d/%m/%Y}"


def _show(value: Any) -> str:
    return str(getattr(value, "value", value))


def check_books(events: list[ev.Event]) -> ConventionBooks:
    """One convention's whole history through the checks (tests, small stores)."""
    books = ConventionBooks()
    for e in events:
        books.add(e)
    return books
