"""Value types of the glossary: options, tiers, statuses, policies."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import ROUND_HALF_UP, Decimal
from enum import StrEnum

from pydantic import BaseModel, ConfigDict


class Option(StrEnum):
    """Funded working time (ETP)."""

    THIRD = "THIRD"
    HALF = "HALF"
    FULL = "FULL"

    @property
    def fte(self) -> Decimal:
        return {"THIRD": Decimal("0.33"), "HALF": Decimal("0.5"), "FULL": Decimal("1")}[self.value]


class Tier(StrEnum):
    BASE = "BASE"
    RAISED = "RAISED"
    MAX = "MAX"


class Status(StrEnum):
    ACTIVE = "active"
    SUSPENDED = "suspended"
    TERMINATED = "terminated"


class Modulation(StrEnum):
    PROPORTIONAL = "proportional"
    STEPS = "steps"


class Profile(StrEnum):
    NURSE = "nurse"
    CARE_AIDE = "care_aide"
    CHILDCARE_AIDE = "childcare_aide"
    SECRETARY = "secretary"
    OTHER = "other"

    @property
    def training(self) -> str:
        """R12: care profiles take the adaptation course (FAE), others the full CQP."""
        return "FAE" if self in (Profile.NURSE, Profile.CARE_AIDE, Profile.CHILDCARE_AIDE) else "CQP"


class SuspensionGround(StrEnum):
    LONG_ABSENCE = "long_absence"
    REPLACEMENT_DIFFICULTY = "replacement_difficulty"


class TerminatedBy(StrEnum):
    DOCTOR = "doctor"
    CPAM = "cpam"


class InstalmentKind(StrEnum):
    FULL = "full"
    ADVANCE = "advance"
    BALANCE = "balance"
    SETTLEMENT = "settlement"


SPECIALTIES = (
    "general_practice", "radiology", "radiotherapy", "stomatology", "anaesthesia", "pathology",
    "nuclear_medicine", "surgery", "ent", "gynaecology", "paediatrics", "cardiology",
    "dermatology", "psychiatry", "other",
)  # fmt: skip


class Policies(BaseModel):
    """The policies in force, recorded on the convention at signature so replay never drifts.

    Defaults are those of RULES.md for rules marked *unconfirmed*.
    """

    model_config = ConfigDict(frozen=True)

    modulation: Modulation = Modulation.PROPORTIONAL  # R4
    pause_clock: bool = True  # R16
    review_grace_days: int = 30  # R11
    training_deadline_years: int = 2  # R12
    termination_notice_months: int = 2  # R17
    balance_payment_days: int = 30  # R23: a year-3+ balance is payable within this many days of falling due


class AlertPolicy(BaseModel):
    """When the work queue shows what an operator must act on, and when it becomes late: the back
    office's policy, one value the read models read. A review's grace is the convention's own
    (``Policies.review_grace_days``, recorded at signature, R11)."""

    model_config = ConfigDict(frozen=True)

    no_assistant_months: int = 3  # R12: no assistant hired this long after the effective date
    training_warning: timedelta = timedelta(days=60)  # shown this long before the training deadline (R12)
    end_of_term_warning: timedelta = timedelta(days=90)  # shown this long before a 5-year term ends (R10, R26)

    def overdue_from(self, due: date, grace_days: int = 0) -> date:
        """The first day an item due on ``due`` is late: once its ``grace_days`` have passed."""
        return due + timedelta(days=grace_days + 1)


ALERT_POLICY = AlertPolicy()

CENT = Decimal("0.01")


def to_cents(value: Decimal) -> Decimal:
    """Money is exact to the cent, rounded half-up (R4)."""
    return value.quantize(CENT, rounding=ROUND_HALF_UP)
