"""The convention's events: its history. Released events are never edited in place.

Each event has an explicit, stable topic (``cpam.<Name>``), independent of the module
path, so moving code never orphans stored events. A change of shape is a new ``class_version``
with an ``upcast_vN_vN+1`` static method that rewrites the stored state (see docs/events.md).

Every event carries the business-effective date, the recording time (``timestamp``), the actor,
the reason, the command id and the request id.
"""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Any, ClassVar
from uuid import UUID

from eventsourcing.domain import CanInitAggregate, CanMutateAggregate
from eventsourcing.utils import register_topic
from pydantic import BaseModel, ConfigDict

from domain.objectives import ObjectiveBasis, PatientMeasure, patient_measure
from domain.values import (
    InstalmentKind,
    Option,
    Policies,
    Profile,
    Status,
    SuspensionGround,
    TerminatedBy,
    Tier,
)

TOPIC_PREFIX = "cpam."


class Event(BaseModel, CanMutateAggregate[UUID]):
    """Base of every convention event: the business date and who did what, why."""

    model_config = ConfigDict(frozen=True, extra="forbid")
    TOPIC: ClassVar[str] = ""
    class_version: ClassVar[int] = 1

    originator_id: UUID
    originator_version: int
    timestamp: datetime
    effective_date: date
    actor: str
    reason: str = ""
    command_id: str = ""
    request_id: str | None = None

    def _as_dict(self) -> dict[str, Any]:
        return dict(self)

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if cls.__name__ not in {"Event", "Created"}:
            cls.TOPIC = TOPIC_PREFIX + cls.__name__
            register_topic(cls.TOPIC, cls)

    def apply(self, aggregate: Any) -> None:
        aggregate.on(self)


class Signed(Event, CanInitAggregate[UUID]):
    """The convention was signed (R1, R8, R9); effective_date is the signature date.

    Version 2 records the patient measure (R20), where the objective comes from (R27) and the
    balance payment delay among the policies (R23)."""

    class_version: ClassVar[int] = 2

    originator_topic: str
    number: str
    cpam_code: str
    rpps: str
    am_number: str | None = None  # numéro AM (R19), when the CPAM records it
    doctor_name: str
    specialty: str
    sector: int
    optam: bool
    ccam_share: float | None
    newly_installed: bool
    mep: bool = False
    zip_area: bool = False
    option: Option
    percentile: int
    tier: Tier
    initial_patients: int
    target_patients: int
    effective_from: date
    dedicated_room: bool
    policies: Policies
    patient_measure: PatientMeasure
    aged_65_or_more: bool
    objective_basis: ObjectiveBasis
    objective_reason: str

    @staticmethod
    def upcast_v1_v2(state: dict[str, Any]) -> None:
        """Signed before R20/R23/R27: the measure follows the specialty, the objective was given by the
        operator, and the balance was payable under the default delay."""
        state["patient_measure"] = patient_measure(state["specialty"]).value
        state["aged_65_or_more"] = False
        state["objective_basis"] = ObjectiveBasis.GIVEN.value
        state["objective_reason"] = ""
        state["policies"] = {**state["policies"], "balance_payment_days": Policies().balance_payment_days}


class AssistantHired(Event):
    """R12: effective_date is the hire date; the training deadline follows the profile.

    Version 2 says whether the assistant was the practice's secretary (R28): a new secretary is then
    due within 6 months."""

    class_version: ClassVar[int] = 2

    fte: Decimal
    profile: Profile
    training: str
    training_deadline: date
    employer_siret: str | None = None
    replacement: bool = False
    was_practice_secretary: bool

    @staticmethod
    def upcast_v1_v2(state: dict[str, Any]) -> None:
        state["was_practice_secretary"] = False


class SecretaryHired(Event):
    """R28: the practice hired a new secretary (declared) after its secretary became the assistant."""


class AssistantLeft(Event):
    pass


class TrainingCompleted(Event):
    pass


class ObjectiveSet(Event):
    """The patient-count objective from contract year ``from_year`` on (R5)."""

    from_year: int
    target_patients: int


class AttainmentRecorded(Event):
    """R5: patients observed at the end of a contract year, and the attainment they give."""

    year: int
    observed_patients: int
    initial_patients: int
    target_patients: int
    attainment: Decimal


class YearStarted(Event):
    """Contract year ``year`` began on effective_date under ``regime`` (R2, R3)."""

    year: int
    regime: str
    table_version: str
    option: Option
    tier: Tier
    full_amount: Decimal


class InstalmentDue(Event):
    """An instalment fell due on effective_date; ``due_date`` is the latest payment date (R6).

    A negative amount is an amount to recover (indu).
    """

    instalment_id: str
    year: int
    kind: InstalmentKind
    due_date: date
    amount: Decimal
    basis: str = ""


class InstalmentCancelled(Event):
    """An unpaid instalment replaced by the termination settlement (R17)."""

    instalment_id: str


class PaymentRecorded(Event):
    """R7: an instalment paid (or an indu recovered), once."""

    instalment_id: str
    amount: Decimal
    payment_reference: str


class Suspended(Event):
    """R13: amendment suspending the convention from effective_date."""

    ground: SuspensionGround
    agreement_date: date


class Reactivated(Event):
    """R14: the convention runs again from effective_date, with no penalty."""

    suspended_days: int


class ReviewDue(Event):
    """R11: the k-th six-month review fell due on effective_date."""

    k: int


class ReviewHeld(Event):
    """R11: the review due on ``due_date`` was held on effective_date."""

    due_date: date
    notes: str = ""


class Renewed(Event):
    """R10: tacit renewal; term ``term`` starts on effective_date."""

    term: int


class OptionChanged(Event):
    """Amendment: the option for contract years starting on or after effective_date."""

    option: Option


class Terminated(Event):
    """R17: the convention ends on effective_date."""

    by: TerminatedBy
    ground: str
    letter_date: date | None = None


class ChainAnchored(Event):
    """Tamper evidence reached a history written before it: ``history_hash`` is the hash chain of
    versions 1 to ``versions`` as stored when the store was upgraded (``conventions chain anchor``,
    docs/audit.md). It changes nothing in the convention."""

    history_hash: str
    versions: int


CONVENTION_EVENTS: tuple[type[Event], ...] = (
    Signed, AssistantHired, AssistantLeft, TrainingCompleted, ObjectiveSet, AttainmentRecorded,
    YearStarted, InstalmentDue, InstalmentCancelled, PaymentRecorded, Suspended, Reactivated,
    ReviewDue, ReviewHeld, Renewed, OptionChanged, Terminated, SecretaryHired, ChainAnchored,
)  # fmt: skip

# The convention's status after the events that change it (every other event leaves it as it is):
# the one statement of that rule, read by the aggregate, the read models and the simulator.
STATUS_AFTER: dict[type[Event], Status] = {
    Signed: Status.ACTIVE, Suspended: Status.SUSPENDED, Reactivated: Status.ACTIVE, Terminated: Status.TERMINATED,
}  # fmt: skip


def status_after(kind: type[Event], status: str = "") -> str:
    """The status (a ``Status`` value, as text) after an event of class ``kind``, given the status
    before it: ``status_after(Signed)`` is ``"active"``, ``status_after(ReviewDue, s)`` is ``s``."""
    after = STATUS_AFTER.get(kind)
    return status if after is None else after.value


# The key under which the store keeps an event's link in the hash chain, beside its state (docs/audit.md).
# No event field can take it: pydantic field names never begin with an underscore.
CHAIN_KEY = "_chain"


def upcast(cls: type, state: dict[str, Any]) -> None:
    """Bring a stored state up to the class's current version, one ``upcast_vN_vN+1`` at a time,
    and drop the chain link the store keeps beside it (``CHAIN_KEY``): it is no field of the event.

    Every reader of stored events runs it before building the event: the storage mapper
    (``adapters.persistence``) and the projections' decoders."""
    state.pop(CHAIN_KEY, None)
    target = getattr(cls, "class_version", 1)
    version = state.pop("class_version", 1)
    while version < target:
        getattr(cls, f"upcast_v{version}_v{version + 1}")(state)
        version += 1
