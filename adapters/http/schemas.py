"""Request and response bodies of the HTTP API: pydantic models with examples.

JSON types are strict: an integer field takes a JSON integer (not ``"12"``, ``12.0`` or ``true``), a
boolean a JSON boolean, a date a ``"YYYY-MM-DD"`` string only (not a number, which lax parsing would
read as seconds since 1970); amounts taken as input (``fte``) are a JSON number or a plain decimal
string (``0.5`` or ``"0.5"``). Dates are bounded (1950-2199) so no client input can overflow the
calendar rules; amounts answered are decimal strings with two places ("38000.00"); free text
refuses NUL and lone surrogates, which no store could keep. Every bound here is a 422 naming the
field, never a 500.
"""

from __future__ import annotations

import re
from datetime import date, datetime
from decimal import Decimal
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, Field, PlainSerializer, StrictBool
from pydantic_core import PydanticCustomError

from domain.values import SPECIALTIES, Modulation, Option, Profile, SuspensionGround, TerminatedBy, Tier

MIN_DAY = date(1950, 1, 1)
MAX_DAY = date(2199, 12, 31)
_ISO_DAY = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")
_DECIMAL = re.compile(r"-?[0-9]{1,12}(\.[0-9]{1,12})?")
_QUERY_INT = re.compile(r"-?[0-9]{1,12}")


def _kind(value: Any) -> str:
    """How a JSON value is named in messages."""
    return {bool: "un booléen", int: "un entier", float: "un nombre", str: "une chaîne", type(None): "null"}.get(
        type(value), "un objet ou une liste"
    )


def _iso_day(value: Any) -> Any:
    """Only ``YYYY-MM-DD``: a number (``0``, read as 1970-01-01) or a date-time is refused."""
    if (isinstance(value, date) and not isinstance(value, datetime)) or (
        isinstance(value, str) and _ISO_DAY.fullmatch(value)
    ):
        return value
    raise PydanticCustomError("date_type", "Date attendue au format AAAA-MM-JJ, reçu {kind}.", {"kind": _kind(value)})


def _day_in_range(value: date) -> date:
    if not MIN_DAY <= value <= MAX_DAY:
        raise ValueError(f"date hors limites ({MIN_DAY.isoformat()} .. {MAX_DAY.isoformat()})")
    return value


def _json_int(value: Any) -> Any:
    if type(value) is int:
        return value
    raise PydanticCustomError("int_type", "Entier JSON attendu (ex. 12), reçu {kind}.", {"kind": _kind(value)})


def _decimal_in(value: Any) -> Any:
    """A JSON number or a plain decimal string (``"0.5"``): no boolean, exponent, sign or blank."""
    if (
        type(value) in (int, float)
        or isinstance(value, Decimal)
        or (isinstance(value, str) and _DECIMAL.fullmatch(value))
    ):
        return value
    raise PydanticCustomError(
        "decimal_type",
        'Nombre JSON ou chaîne décimale attendu (ex. 0.5 ou "0.5"), reçu {kind}.',
        {"kind": _kind(value)},
    )


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


def _storable(value: str) -> str:
    if "\x00" in value:
        raise ValueError("caractère NUL interdit")
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise ValueError("texte non représentable en UTF-8") from None
    return value


def _money(value: Decimal) -> str:
    return f"{value:.2f}"


QUERY_INT = BeforeValidator(_query_int)
DECIMAL_IN = BeforeValidator(_decimal_in)
DAY_SCHEMA = {
    "pattern": f"^{_ISO_DAY.pattern}$",
    "formatMinimum": MIN_DAY.isoformat(),
    "formatMaximum": MAX_DAY.isoformat(),
}
Day = Annotated[
    date,
    BeforeValidator(_iso_day),
    AfterValidator(_day_in_range),
    Field(
        examples=["2025-03-01"],
        description=f"Date AAAA-MM-JJ entre {MIN_DAY.isoformat()} et {MAX_DAY.isoformat()}.",
        json_schema_extra=DAY_SCHEMA,
    ),
]
QueryBool = Annotated[bool, BeforeValidator(_query_bool)]
Text = Annotated[str, AfterValidator(_storable)]
Money = Annotated[Decimal, PlainSerializer(_money, return_type=str, when_used="always")]
Reason = Annotated[Text, Field(max_length=1000, description="Pourquoi : enregistré sur chaque événement.")]
Specialty = Literal[SPECIALTIES]  # type: ignore[valid-type]
Patients = Annotated[int, Field(strict=True, ge=0, le=1_000_000)]  # strict: a JSON integer, not "12" or 12.0
ContractYear = Annotated[int, Field(strict=True, ge=1, le=100)]
Siret = Annotated[str, Field(pattern=r"^[0-9]{14}$", description="SIRET du groupement employeur (R19).")]
Fte = Annotated[
    Decimal,
    Field(gt=0, le=2, max_digits=5, decimal_places=3),
    DECIMAL_IN,
    Field(
        examples=["0.5"],
        description='Nombre JSON ou chaîne décimale (0.5 ou "0.5"), 0 < ETP ≤ 2, trois décimales au plus.',
        json_schema_extra={
            "anyOf": [
                {"type": "number", "exclusiveMinimum": 0, "maximum": 2},
                {"type": "string", "pattern": f"^{_DECIMAL.pattern}$"},
            ]
        },
    ),
]


class Body(BaseModel):
    """Request bodies refuse unknown fields: a typo is a 422, not a silently ignored value."""

    model_config = ConfigDict(extra="forbid")
    reason: Reason = ""


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
class PoliciesIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    modulation: Modulation = Modulation.PROPORTIONAL
    pause_clock: StrictBool = True


class SignRequest(Body):
    """Signature of a convention (R1, R8, R9, R19 are checked by the domain)."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "number": "2025-0001", "cpam_code": "281", "rpps": "10000000009", "doctor_name": "Dr Martin",
                    "specialty": "general_practice", "sector": 1, "option": "FULL", "percentile": 50,
                    "initial_patients": 1000, "target_patients": 1100, "signed_on": "2025-02-15",
                    "effective_from": "2025-03-01", "reason": "signature",
                }
            ]
        },
    )  # fmt: skip
    number: Annotated[Text, Field(min_length=1, max_length=40)]
    cpam_code: Annotated[str, Field(pattern=r"^[0-9]{3}$")]
    rpps: Annotated[str, Field(pattern=r"^[0-9]{11}$")]
    am_number: Annotated[str | None, Field(pattern=r"^[0-9]{9}$", description="Numéro AM (R19).")] = None
    doctor_name: Annotated[Text, Field(min_length=1, max_length=200)]
    specialty: Specialty
    sector: Annotated[Literal[1, 2, 3], BeforeValidator(_json_int)]  # not true, 1.0 or "1"
    optam: StrictBool = False
    ccam_share: Annotated[float | None, Field(strict=True, ge=0, le=100, allow_inf_nan=False)] = None
    newly_installed: StrictBool = False
    mep: StrictBool = False
    zip_area: StrictBool = False
    option: Option
    percentile: Annotated[int, Field(strict=True, ge=0, le=100)]
    initial_patients: Patients
    target_patients: Patients | None = Field(
        default=None,
        description="Objectif ; sans lui, déduit quand la règle le permet (P95+, 65 ans ou plus, généraliste "
        "nouvellement installé : R27), sinon 422 target_required.",
    )
    aged_65_or_more: StrictBool = False
    signed_on: Day
    effective_from: Day
    dedicated_room: StrictBool = True
    policies: PoliciesIn | None = None


class HireRequest(Body):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={"examples": [{"hired_on": "2025-03-01", "fte": "1", "profile": "nurse"}]},
    )
    hired_on: Day
    fte: Fte
    profile: Profile
    employer_siret: Siret | None = None
    was_practice_secretary: StrictBool = Field(
        default=False, description="R28 : l'assistant était la secrétaire du cabinet (nouvelle secrétaire sous 6 mois)."
    )


class SecretaryRequest(Body):
    """R28: the practice hired a new secretary after its secretary became the assistant."""

    hired_on: Day


class ReplacementRequest(Body):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={"examples": [{"on": "2026-01-05", "fte": "1", "profile": "secretary"}]},
    )
    on: Day
    fte: Fte
    profile: Profile
    employer_siret: Siret | None = None


class DepartureRequest(Body):
    left_on: Day


class TrainingRequest(Body):
    completed_on: Day


class ObjectiveRequest(Body):
    from_year: ContractYear
    target_patients: Patients
    on: Day | None = Field(default=None, description="Date de l'avenant (défaut : aujourd'hui).")


class AttainmentRequest(Body):
    model_config = ConfigDict(
        extra="forbid", json_schema_extra={"examples": [{"year": 3, "observed_patients": 1080, "on": "2028-03-02"}]}
    )
    year: ContractYear
    observed_patients: Patients
    on: Day | None = Field(default=None, description="Date du constat (défaut : aujourd'hui).")


class PaymentRequest(Body):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={"examples": [{"instalment": "y1-full", "paid_on": "2025-03-20", "reference": "VIR-0001"}]},
    )
    instalment: Annotated[str, Field(pattern=r"^y[0-9]{1,3}-(full|advance|balance|settlement)$", examples=["y1-full"])]
    paid_on: Day
    reference: Annotated[Text, Field(min_length=1, max_length=100)]


class SuspensionRequest(Body):
    from_date: Day
    ground: SuspensionGround
    agreement_date: Day


class ReactivationRequest(Body):
    from_date: Day


class ReviewRequest(Body):
    held_on: Day
    notes: Annotated[Text, Field(max_length=5000)] = ""


class AmendmentRequest(Body):
    """An amendment changing the option for the contract years starting from ``from_date``."""

    option: Option
    from_date: Day


class TerminationRequest(Body):
    on: Day
    by: TerminatedBy
    ground: Annotated[Text, Field(min_length=1, max_length=500)]
    letter_date: Day | None = None


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
