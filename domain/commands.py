"""Commands as data: one frozen model per operator intention, defined once.

A command model is what an operator asks for, nothing more: the HTTP body *is* the model, the CLI
builds its options from its fields, the web forms render from it. ``ConventionsApp.handle`` takes
a model, fingerprints it (the model itself, reason included) for idempotence, and lets the
convention decide: the rules (R1-R29) stay in the aggregate, the model only says what a
well-formed request is. Adding an intention = a model here (listed in ``COMMANDS``), its rule and
its event in the aggregate; every entry point follows from ``COMMANDS``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Any, ClassVar, TypeVar

from pydantic import BaseModel, ConfigDict, Field, StrictBool, ValidationError

from domain.errors import InvalidInput
from domain.fields import ContractYear, Day, Fte, Patients, Reason, Sector, Siret, Specialty, Text
from domain.values import Modulation, Option, Policies, Profile, SuspensionGround, TerminatedBy

if TYPE_CHECKING:
    from domain.convention import CommandMeta, Convention


class Command(BaseModel):
    """One intention. Unknown fields are refused: a typo is an error, not a silently ignored value."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    intention: ClassVar[str]  # the aggregate's (and the application's) method that decides it
    label: ClassVar[str]  # what an operator calls it
    default_reason: ClassVar[str]  # the reason recorded when the operator gives none
    resource: ClassVar[str]  # what the intention records, as a collection (HTTP, pages)

    reason: Reason = ""

    def __init_subclass__(
        cls,
        *,
        intention: str = "",
        label: str = "",
        default_reason: str = "",
        resource: str = "",
        example: dict[str, Any] | None = None,
        **kwargs: Any,
    ) -> None:
        """``class Hire(ConventionCommand, intention="hire", label=..., default_reason=..., resource=...)``:
        what names the intention, said once in its header; ``example`` is the documented request."""
        super().__init_subclass__(**kwargs)
        for name, value in (("intention", intention), ("label", label), ("default_reason", default_reason),
                            ("resource", resource)):  # fmt: skip
            if value:
                setattr(cls, name, value)
        if example is not None:
            cls.model_config = {**cls.model_config, "json_schema_extra": {"examples": [example]}}

    def arguments(self) -> dict[str, Any]:
        """The fields the rule takes (everything but the reason, which goes on every event)."""
        return {name: getattr(self, name) for name in type(self).model_fields if name != "reason"}

    def with_default_reason(self) -> Command:
        """The command as recorded: an empty reason becomes the intention's default."""
        return self if self.reason else self.model_copy(update={"reason": self.default_reason})


class ConventionCommand(Command):
    """An intention on an existing convention: the aggregate's method of the same name decides."""

    def apply_to(self, conv: Convention, meta: CommandMeta) -> Any:
        return getattr(conv, self.intention)(meta, **self.arguments())


CommandT = TypeVar("CommandT", bound=Command)


def invalid_command(error: ValidationError) -> InvalidInput:
    """A malformed command as a domain refusal: ``invalid_<field>`` naming the first bad field."""
    first = error.errors()[0]
    field = ".".join(str(part) for part in first["loc"]) or "command"
    return InvalidInput(f"invalid_{field.split('.')[0]}", f"Champ « {field} » : {first['msg']}", field)


# ----------------------------------------------------------------------------- signature
class PolicyChoices(BaseModel):
    """The *unconfirmed* policies chosen at signature (R4, R16); the others take their defaults."""

    model_config = ConfigDict(frozen=True, extra="forbid")
    modulation: Modulation = Field(default=Modulation.PROPORTIONAL, description="Modulation de l'aide (R4).")
    pause_clock: StrictBool = Field(default=True, description="Suspension : l'horloge du contrat s'arrête (R16).")

    def policies(self) -> Policies:
        return Policies(modulation=self.modulation, pause_clock=self.pause_clock)

    @classmethod
    def from_policies(cls, policies: Policies) -> PolicyChoices:
        """The choices of a full ``Policies``; the other policies cannot be chosen per convention."""
        choices = cls(modulation=policies.modulation, pause_clock=policies.pause_clock)
        if choices.policies() != policies:
            raise InvalidInput(
                "policies_not_chosen_at_signature",
                "Seules la modulation et la pause de l'horloge se choisissent à la signature.",
                "policies",
            )
        return choices


class Sign(
    Command,
    intention="sign",
    label="Signer une convention",
    default_reason="signature",
    resource="conventions",
    example={
        "number": "2025-0001", "cpam_code": "281", "rpps": "10000000009", "doctor_name": "Dr Martin",
        "specialty": "general_practice", "sector": 1, "option": "FULL", "percentile": 50,
        "initial_patients": 1000, "target_patients": 1100, "signed_on": "2025-02-15",
        "effective_from": "2025-03-01", "reason": "signature",
    },
):  # fmt: skip
    """Signature d'une convention (R1, R8, R9, R19 sont vérifiées par la convention)."""

    number: Annotated[Text, Field(min_length=1, max_length=40, description="Numéro de convention.")]
    cpam_code: Annotated[str, Field(pattern=r"^[0-9]{3}$", description="Code CPAM (3 chiffres).")]
    rpps: Annotated[str, Field(pattern=r"^[0-9]{11}$", description="Numéro RPPS du médecin (11 chiffres).")]
    am_number: Annotated[str | None, Field(pattern=r"^[0-9]{9}$", description="Numéro AM (9 chiffres, R19).")] = None
    doctor_name: Annotated[Text, Field(min_length=1, max_length=200, description="Nom du médecin.")]
    specialty: Annotated[Specialty, Field(description="Spécialité du médecin.")]
    sector: Annotated[Sector, Field(description="Secteur conventionnel (1, 2 ou 3).")]
    optam: StrictBool = Field(default=False, description="Adhérent OPTAM / OPTAM-ACO.")
    ccam_share: Annotated[
        float | None, Field(strict=True, ge=0, le=100, allow_inf_nan=False, description="Part CCAM (%).")
    ] = None
    newly_installed: StrictBool = Field(default=False, description="Nouvellement installé.")
    mep: StrictBool = Field(default=False, description="Médecin à exercice particulier.")
    zip_area: StrictBool = Field(default=False, description="Cabinet en zone d'intervention prioritaire (ZIP).")
    option: Annotated[Option, Field(description="Option de l'aide (R3).")]
    percentile: Annotated[int, Field(strict=True, ge=0, le=100, description="Rang national 0-100 (R2).")]
    initial_patients: Annotated[
        Patients,
        Field(
            description="Patientèle à la signature (médecin traitant pour un généraliste, file active pour les "
            "autres spécialités, R20)."
        ),
    ]
    target_patients: Patients | None = Field(
        default=None,
        description="Objectif ; sans lui, déduit quand la règle le permet (P95+, 65 ans ou plus, généraliste "
        "nouvellement installé : R27), sinon refus target_required.",
    )
    aged_65_or_more: StrictBool = Field(default=False, description="Médecin de 65 ans ou plus (R27).")
    signed_on: Annotated[Day, Field(description="Date de signature.")]
    effective_from: Annotated[Day, Field(description="Date de prise d'effet.")]
    dedicated_room: StrictBool = Field(default=True, description="Le cabinet dispose d'une pièce dédiée (R9).")
    policies: PolicyChoices | None = None

    def arguments(self) -> dict[str, Any]:
        return {k: v for k, v in super().arguments().items() if k != "policies"}

    def chosen_policies(self) -> Policies | None:
        return self.policies.policies() if self.policies else None


# ----------------------------------------------------------------------------- assistant (R12, R28)
class Hire(
    ConventionCommand,
    intention="hire",
    label="Embauche de l'assistant",
    default_reason="embauche",
    resource="hires",
    example={"hired_on": "2025-03-01", "fte": "1", "profile": "nurse"},
):
    """Embauche de l'assistant médical (R12)."""

    hired_on: Annotated[Day, Field(description="Date d'embauche.")]
    fte: Annotated[Fte, Field(description="Temps de travail en ETP (ex. 0.5).")]
    profile: Annotated[Profile, Field(description="Profil de l'assistant.")]
    employer_siret: Siret | None = Field(default=None, description="SIRET du groupement employeur (R19).")
    was_practice_secretary: StrictBool = Field(
        default=False, description="R28 : l'assistant était la secrétaire du cabinet (nouvelle secrétaire sous 6 mois)."
    )


class DeclareSecretaryHired(
    ConventionCommand,
    intention="declare_secretary_hired",
    label="Nouvelle secrétaire du cabinet (R28)",
    default_reason="nouvelle secrétaire",
    resource="secretaries",
):
    """R28 : le cabinet a embauché une nouvelle secrétaire après que la sienne est devenue l'assistant."""

    hired_on: Annotated[Day, Field(description="Date d'embauche de la nouvelle secrétaire.")]


class ReplaceAssistant(
    ConventionCommand,
    intention="replace_assistant",
    label="Remplacement de l'assistant",
    default_reason="remplacement de l'assistant",
    resource="replacements",
    example={"on": "2026-01-05", "fte": "1", "profile": "secretary"},
):
    """Remplacement de l'assistant en poste : départ de l'un, embauche de l'autre le même jour."""

    on: Annotated[Day, Field(description="Date du remplacement.")]
    fte: Annotated[Fte, Field(description="Temps de travail du nouvel assistant en ETP.")]
    profile: Annotated[Profile, Field(description="Profil du nouvel assistant.")]
    employer_siret: Siret | None = Field(default=None, description="SIRET du groupement employeur (R19).")


class AssistantLeft(
    ConventionCommand,
    intention="assistant_left",
    label="Départ de l'assistant",
    default_reason="départ",
    resource="departures",
):
    """Départ de l'assistant."""

    left_on: Annotated[Day, Field(description="Date de départ.")]


class CompleteTraining(
    ConventionCommand,
    intention="complete_training",
    label="Formation de l'assistant achevée",
    default_reason="formation achevée",
    resource="trainings",
):
    """Formation de l'assistant achevée (R12)."""

    completed_on: Annotated[Day, Field(description="Date de fin de formation.")]


# ----------------------------------------------------------------------------- objectives (R5, R27)
class SetObjective(
    ConventionCommand,
    intention="set_objective",
    label="Objectif de patientèle",
    default_reason="objectif",
    resource="objectives",
):
    """Objectif de patientèle à partir d'une année de contrat (R5), par avenant."""

    from_year: Annotated[ContractYear, Field(description="Première année de contrat concernée.")]
    target_patients: Annotated[Patients, Field(description="Objectif de patientèle.")]
    on: Day | None = Field(default=None, description="Date de l'avenant (défaut : aujourd'hui).")

    def apply_to(self, conv: Convention, meta: CommandMeta) -> Any:
        # the fingerprint takes the date as sent: a retry on another day is still the same command
        return conv.set_objective(meta, from_year=self.from_year, target_patients=self.target_patients,
                                  on=self.on or meta.today)  # fmt: skip


class RecordAttainment(
    ConventionCommand,
    intention="record_attainment",
    label="Atteinte des objectifs d'une année",
    default_reason="atteinte des objectifs",
    resource="attainments",
    example={"year": 3, "observed_patients": 1080, "on": "2028-03-02"},
):
    """Patientèle observée en fin d'année de contrat : l'atteinte des objectifs (R5)."""

    year: Annotated[ContractYear, Field(description="Année de contrat.")]
    observed_patients: Annotated[Patients, Field(description="Patientèle observée en fin d'année.")]
    on: Day | None = Field(default=None, description="Date du constat (défaut : aujourd'hui).")

    def apply_to(self, conv: Convention, meta: CommandMeta) -> Any:
        return conv.record_attainment(meta, year=self.year, observed_patients=self.observed_patients,
                                      on=self.on or meta.today)  # fmt: skip


# ----------------------------------------------------------------------------- money (R6, R7)
class RecordPayment(
    ConventionCommand,
    intention="record_payment",
    label="Paiement d'une échéance (une seule fois)",
    default_reason="paiement",
    resource="payments",
    example={"instalment": "y1-full", "paid_on": "2025-03-20", "reference": "VIR-0001"},
):
    """Paiement d'une échéance, ou récupération d'un indu (R7 : une seule fois)."""

    instalment: Annotated[
        str,
        Field(
            pattern=r"^y[0-9]{1,3}-(full|advance|balance|settlement)$",
            examples=["y1-full"],
            description="Échéance, ex. y1-full, y3-balance.",
        ),
    ]
    paid_on: Annotated[Day, Field(description="Date du virement.")]
    reference: Annotated[Text, Field(min_length=1, max_length=100, description="Référence du virement.")]


# ----------------------------------------------------------------------------- suspension (R13-R16)
class Suspend(
    ConventionCommand,
    intention="suspend",
    label="Suspension (avenant)",
    default_reason="suspension",
    resource="suspensions",
):
    """Suspension par avenant pour absence longue de l'assistant (R13) ; l'horloge s'arrête (R16)."""

    from_date: Annotated[Day, Field(description="Début de la suspension.")]
    ground: Annotated[SuspensionGround, Field(description="Motif de l'absence de l'assistant.")]
    agreement_date: Annotated[Day, Field(description="Date de l'accord écrit du médecin.")]


class Reactivate(
    ConventionCommand,
    intention="reactivate",
    label="Réactivation (avenant)",
    default_reason="réactivation",
    resource="reactivations",
):
    """Réactivation d'une convention suspendue (R14), sans pénalité."""

    from_date: Annotated[Day, Field(description="Date de reprise.")]


# ----------------------------------------------------------------------------- follow-up (R11)
class HoldReview(
    ConventionCommand,
    intention="hold_review",
    label="Point semestriel tenu",
    default_reason="point semestriel",
    resource="reviews",
):
    """Point semestriel de suivi tenu (R11)."""

    held_on: Annotated[Day, Field(description="Date du point semestriel.")]
    notes: Annotated[Text, Field(max_length=5000, description="Compte rendu.")] = ""


# ----------------------------------------------------------------------------- amendments and end (R3, R17)
class ChangeOption(
    ConventionCommand,
    intention="change_option",
    label="Avenant : changement d'option",
    default_reason="avenant : changement d'option",
    resource="amendments",
):
    """Avenant changeant l'option pour les années de contrat commençant à partir d'une date."""

    option: Annotated[Option, Field(description="Nouvelle option (R3).")]
    from_date: Annotated[Day, Field(description="Années commençant à partir de cette date.")]


class Terminate(
    ConventionCommand,
    intention="terminate",
    label="Résiliation (solde pro rata)",
    default_reason="résiliation",
    resource="terminations",
):
    """Résiliation (R17) : l'année en cours est soldée pro rata temporis, le médecin peut signer à nouveau."""

    on: Annotated[Day, Field(description="Date d'effet de la résiliation.")]
    by: Annotated[TerminatedBy, Field(description="À l'initiative de la CPAM ou du médecin.")]
    ground: Annotated[Text, Field(min_length=1, max_length=500, description="Motif de la résiliation.")]
    letter_date: Day | None = Field(default=None, description="Date du courrier recommandé (médecin).")


# ----------------------------------------------------------------------------- time
class RecordDue(
    ConventionCommand,
    intention="record_due",
    label="Enregistrer ce qui est échu",
    default_reason="échéancier",
    resource="dues",
):
    """Enregistrer ce qui est échu sur la convention (échéances, points, années) jusqu'à une date.

    Idempotent par nature : le rejouer n'enregistre rien de plus ; le job de nuit le fait pour toutes.
    """

    until: Day | None = Field(default=None, description="Jusqu'à cette date (défaut : aujourd'hui).")

    def apply_to(self, conv: Convention, meta: CommandMeta) -> int:
        """The events recorded (0: nothing new), never beyond today (R21): ``meta.today`` is the
        application's clock, set before any command is decided."""
        today = meta.today
        if today is None:  # a caller that skipped the application: never guess "today" (R21)
            raise ValueError("RecordDue needs the application's today (CommandMeta.today)")
        until = self.until or today
        if until > today:
            raise InvalidInput(
                "date_in_future", f"Le {until:%d/%m/%Y} est après aujourd'hui ({today:%d/%m/%Y}).", "until"
            )
        return conv.record_due(meta, today=until)


COMMANDS: tuple[type[Command], ...] = (
    Sign, Hire, DeclareSecretaryHired, ReplaceAssistant, AssistantLeft, CompleteTraining, SetObjective,
    RecordAttainment, RecordPayment, Suspend, Reactivate, HoldReview, ChangeOption, Terminate, RecordDue,
)  # fmt: skip
"""Every intention, in the order an operator meets them: entry points are generated from this list."""
