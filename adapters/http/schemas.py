"""Request and response bodies of the HTTP API: pydantic models with examples.

A command's body is its command model (``domain.commands``), whose types (``domain.fields``) are
strict the way JSON must be: an integer is a JSON integer (not ``"12"``, ``12.0`` or ``true``), a date
a ``"YYYY-MM-DD"`` string, dates bounded 1950-2199, free text storable. Query parameters are as
strict. Amounts answered are decimal strings with two places ("38000.00"). Every bound is a 422
naming the field, never a 500.
"""

from __future__ import annotations

import re
from datetime import date, datetime
from decimal import Decimal
from typing import Annotated, Any, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, PlainSerializer
from pydantic_core import PydanticCustomError

from domain.commands import COMMANDS, Command
from domain.fields import DECIMAL_IN, Day, Text
from domain.values import Option, Tier

__all__ = ["DECIMAL_IN", "QUERY_INT", "Day", "QueryBool", "Text"]

_QUERY_INT = re.compile(r"-?[0-9]{1,12}")


def _query_int(value: Any) -> Any:
    """A query integer is digits only: ``1.0``, ``1e3`` or `` 1`` are refused."""
    if value is None or type(value) is int or (isinstance(value, str) and _QUERY_INT.fullmatch(value)):
        return value
    raise PydanticCustomError("int_type", "Entier attendu (chiffres seulement, ex. 12).")


def _query_bool(value: Any) -> Any:
    if value is None or type(value) is bool:
        return value
    if value in ("true", "false"):
        return value == "true"
    raise PydanticCustomError("bool_type", "Booléen attendu : true ou false.")


def _money(value: Decimal) -> str:
    return f"{value:.2f}"


QUERY_INT = BeforeValidator(_query_int)
QueryBool = Annotated[bool, BeforeValidator(_query_bool)]
Money = Annotated[Decimal, PlainSerializer(_money, return_type=str, when_used="always")]


# ----------------------------------------------------------------------------- problems
class FieldError(BaseModel):
    field: str = Field(examples=["hired_on"])
    code: str = Field(examples=["invalid_date"])
    message: str = Field(examples=["Input should be a valid date"])


class Problem(BaseModel):
    """RFC 9457 problem details, with the domain's stable error code."""

    type: str = Field(examples=["https://cpam-conventions.invalid/problems/already_suspended"])
    title: str = Field(examples=["Conflict"])
    status: int = Field(examples=[409])
    detail: str = Field(examples=["La convention est déjà suspendue."])
    code: str = Field(examples=["already_suspended"])
    errors: list[FieldError] = Field(default_factory=list)
    request_id: str | None = None


# ----------------------------------------------------------------------------- commands
def request_body(command: type[Command]) -> type[Command]:
    """The HTTP body of an intention: the command model itself, named ``<Model>Request`` in OpenAPI."""
    return type(f"{command.__name__}Request", (command,), {"__doc__": command.__doc__, "__module__": __name__})


Body = Command  # every request body is a command model
REQUEST_BODIES: dict[type[Command], type[Command]] = {command: request_body(command) for command in COMMANDS}
globals().update({body.__name__: body for body in REQUEST_BODIES.values()})  # SignRequest, HireRequest...


class CommandResult(BaseModel):
    """What a command did. A replay of the same Idempotency-Key returns exactly this again."""

    model_config = ConfigDict(
        json_schema_extra={"examples": [{"id": "0b8e...", "version": 4, "recorded": 1, "value": None}]}
    )
    id: str
    version: int = Field(description="The convention's version after the command (also the ETag).")
    recorded: int = Field(description="Events recorded by this command (0: nothing new, e.g. already paid).")
    value: Any = Field(default=None, description="The command's answer (attainment, settlement, review date).")


# ----------------------------------------------------------------------------- convention state
class Doctor(BaseModel):
    rpps: str
    am_number: str | None = None
    name: str
    specialty: str
    sector: int
    optam: bool
    newly_installed: bool
    mep: bool
    zip_area: bool


class AssistantOut(BaseModel):
    hired_on: date
    fte: Decimal
    profile: str
    training: str
    training_deadline: date
    trained_on: date | None
    employer_siret: str | None
    was_practice_secretary: bool
    secretary_due_by: date | None = Field(description="R28: nouvelle secrétaire à embaucher avant cette date.")


class YearOut(BaseModel):
    year: int
    start: date
    regime: str
    option: str
    full_amount: Money


class AttainmentOut(BaseModel):
    year: int
    observed_patients: int
    target_patients: int
    attainment: Decimal
    recorded_on: date


class InstalmentOut(BaseModel):
    id: str = Field(examples=["y3-balance"])
    year: int
    kind: str = Field(examples=["balance"])
    fell_due_on: date
    due_date: date
    amount: Money = Field(description="Negative: an amount to recover (indu).")
    status: str = Field(examples=["due"])
    paid_on: date | None
    payment_reference: str | None
    basis: str


class ReviewOut(BaseModel):
    k: int | None
    due_date: date
    held_on: date | None
    notes: str


class SuspensionOut(BaseModel):
    model_config = ConfigDict(populate_by_name=True)
    from_: date = Field(alias="from")
    to: date | None
    days: int | None


class PatientCounts(BaseModel):
    measure: str = Field(description="R20: pmt (patientèle médecin traitant, généralistes) ou file_active.")
    measure_label: str
    initial: int
    target: int
    objective_basis: str = Field(description="R27: given, max_tolerance, age_tolerance ou newly_installed_p50.")
    objective_reason: str


class SecondAssistantOut(BaseModel):
    """R18: whether a second assistant could be funded, and the reasons it could not."""

    eligible: bool
    refusals: list[str]


class ConventionState(BaseModel):
    """A convention as an operator reads it (``domain.views.convention_view``)."""

    model_config = ConfigDict(populate_by_name=True)
    id: str
    version: int
    number: str
    cpam_code: str
    status: str = Field(examples=["active"])
    doctor: Doctor
    option: str
    tier: str
    percentile: int
    signed_on: date
    effective_date: date
    contract_year: int
    anniversaries: list[date | None]
    end_of_term: date | None
    policies: dict[str, Any]
    patients: PatientCounts
    assistant: AssistantOut | None
    years: list[YearOut]
    attainments: list[AttainmentOut]
    instalments: list[InstalmentOut]
    reviews: list[ReviewOut]
    suspensions: list[SuspensionOut]
    second_assistant: SecondAssistantOut
    terminated_on: date | None
    terminated_by: str | None
    termination_ground: str | None

    def dump(self) -> dict[str, Any]:
        return self.model_dump(mode="json", by_alias=True)


class HistoryEntry(BaseModel):
    version: int
    type: str = Field(examples=["AssistantHired"])
    effective_date: date
    recorded_at: datetime
    actor: str
    reason: str
    command_id: str
    request_id: str | None
    data: dict[str, Any]


class History(BaseModel):
    id: str
    events: list[HistoryEntry]


class Instalments(BaseModel):
    id: str
    version: int
    instalments: list[InstalmentOut]


# ----------------------------------------------------------------------------- reads
class EstimateYear(BaseModel):
    year: int
    start: date
    end: date
    regime: str = Field(examples=["C-2024"])
    amount: Money = Field(examples=["38000.00"])


class Estimate(BaseModel):
    option: Option
    tier: Tier
    effective: date
    years: list[EstimateYear]


class ConventionRow(BaseModel):
    """One line of the conventions list read model."""

    model_config = ConfigDict(extra="allow")
    id: str
    number: str
    cpam_code: str
    rpps: str
    doctor_name: str
    specialty: str
    status: str = Field(examples=["active"])
    option: str
    tier: str
    contract_year: int
    effective_from: date
    signed_on: date
    assistant_fte: str | None = None
    suspended_since: date | None = None
    terminated_on: date | None = None
    version: int


class Freshness(BaseModel):
    """How fresh a read model's answer is (also in the X-Data-As-Of and X-Data-Lag headers)."""

    as_of: datetime | None = Field(
        description="Recording time (UTC) of the last event the read models have applied; null: none yet.",
        examples=["2026-11-30T14:02:11.402311+00:00"],
    )
    position: int = Field(description="Notification id the slowest read model has reached.")
    head: int = Field(description="Last notification id recorded in the event store.")
    lag: int = Field(description="Notifications recorded but not yet applied (head - position).")


class Page(BaseModel):
    total: int = Field(description="Rows matching the filters (within the caller's CPAMs).")
    page: int
    per_page: int


class ConventionList(Page):
    items: list[ConventionRow]
    freshness: Freshness


class LedgerRow(BaseModel):
    model_config = ConfigDict(extra="allow")
    convention_id: str
    instalment_id: str = Field(examples=["y3-balance"])
    number: str
    cpam_code: str
    year: int
    kind: str
    fell_due_on: date
    due_date: date
    amount: Money = Field(description="Negative: an amount to recover (indu).")
    basis: str
    status: str = Field(examples=["paid"])
    paid_on: date | None = None
    paid_amount: Money | None = None
    payment_reference: str | None = None
    cancelled_on: date | None = None


class LedgerTotal(BaseModel):
    model_config = ConfigDict(extra="allow")
    cpam_code: str
    month: str = Field(examples=["2025-04"])
    due: Money
    to_recover: Money
    paid: Money
    recovered: Money


class Ledger(Page):
    items: list[LedgerRow]
    totals: list[LedgerTotal] = Field(description="Per CPAM and month (every page: the whole scope).")
    freshness: Freshness


class WorkItem(BaseModel):
    model_config = ConfigDict(extra="allow")
    convention_id: str
    number: str
    cpam_code: str
    kind: str = Field(examples=["review"])
    date: date
    overdue: bool
    message: str


class WorkQueue(Page):
    today: date
    items: list[WorkItem]
    freshness: Freshness


class CountRow(BaseModel):
    cpam_code: str
    status: str
    option: str
    tier: str
    count: int
    funded_etp: Decimal


class MoneyRow(BaseModel):
    cpam_code: str
    year: int
    due: Money
    to_recover: Money
    paid: Money
    recovered: Money


class ForecastRow(BaseModel):
    cpam_code: str
    year: int = Field(description="Calendar year; 0 = arrears (unpaid, due before this year).")
    amount: Money


class Dashboard(BaseModel):
    """The portfolio read model, limited to the caller's CPAMs."""

    model_config = ConfigDict(extra="allow")
    cpams: list[str] | None = Field(description="The CPAMs counted (null: all).")
    today: date
    conventions: list[CountRow]
    money: list[MoneyRow]
    reviews: list[dict[str, Any]]
    attainment_years_3_plus: list[dict[str, Any]]
    suspensions: list[dict[str, Any]]
    forecast: list[ForecastRow]
    freshness: Freshness


class TimelineLine(BaseModel):
    model_config = ConfigDict(extra="allow")
    version: int
    effective_date: date
    recorded_at: datetime
    actor: str
    reason: str
    command_id: str
    event_type: str = Field(examples=["AssistantHired"])
    sentence: str = Field(examples=["Le 01/03/2025, op281 a enregistré l'embauche..."])


class Timeline(BaseModel):
    id: str
    lines: list[TimelineLine]
    freshness: Freshness


class Health(BaseModel):
    status: Literal["ok"] = "ok"


class Ready(BaseModel):
    status: Literal["ready", "not_ready"]
    store: str
    last_notification_id: int | None = None
    lag: int | None = Field(default=None, description="Notifications the slowest read model has not applied yet.")
    max_lag: int | None = Field(default=None, description="Above this lag, not ready (CONVENTIONS_READY_MAX_LAG).")
    freshness: Freshness | None = None
    projections: dict[str, Any] | None = None
