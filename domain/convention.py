"""The ``Convention`` aggregate: one doctor, one CPAM, one aid contract.

Command methods check the rules and record events; ``_when_<Event>`` methods evolve the state and
are the only place state changes, so a replay rebuilds exactly what was computed. A refused
command raises a ``DomainError`` before recording anything.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal
from typing import Any
from uuid import UUID

from eventsourcing.domain import BaseAggregate

from domain import events as ev
from domain.amounts import attainment as compute_attainment
from domain.amounts import modulated_amount, pro_rata
from domain.calendar import (
    TERM_YEARS,
    Pause,
    add_months,
    add_years,
    anniversary,
    contract_year_on,
    end_of_term,
    plain_anniversary,
    review_date,
)
from domain.due import CalendarState, Due, DueKind, due_items, next_due
from domain.eligibility import check_signature_eligibility, second_assistant_refusals
from domain.errors import ForbiddenTransition, InvalidInput, NotFound
from domain.identifiers import (
    check_am_number,
    check_contract_number,
    check_cpam_code,
    check_rpps,
    check_siret,
    convention_id,
    instalment_id,
)
from domain.objectives import ObjectiveBasis, default_objective, patient_measure
from domain.regimes import TABLE_VERSION, THIRD_CLOSED_ON, tier_amount, tier_for_percentile
from domain.schedule import PlannedInstalment, plan_year
from domain.text import NAME_MAX, REASON_MAX, check_text
from domain.values import (
    InstalmentKind,
    Option,
    Policies,
    Profile,
    Status,
    SuspensionGround,
    TerminatedBy,
    Tier,
    to_cents,
)

EARLY_REVIEW_DAYS = 60  # a review may be held up to two months before it falls due
SECRETARY_DELAY_MONTHS = 6  # R28: a new secretary within 6 months when the secretary became the assistant


@dataclass(frozen=True)
class CommandMeta:
    """Who acts, why, and under which command id: copied onto every event recorded."""

    actor: str
    reason: str = ""
    command_id: str = ""
    request_id: str | None = None
    today: date | None = None  # the application's clock: facts are not dated after it (R21)


@dataclass
class Instalment:
    instalment_id: str
    year: int
    kind: InstalmentKind
    fell_due_on: date
    due_date: date
    amount: Decimal
    basis: str = ""
    status: str = "due"  # due | paid | cancelled
    paid_on: date | None = None
    payment_reference: str | None = None


@dataclass
class Year:
    year: int
    start: date
    regime: str
    option: Option
    tier: Tier
    full_amount: Decimal


@dataclass
class Review:
    due_date: date
    k: int | None = None  # set when the review fell due (ReviewDue)
    held_on: date | None = None
    notes: str = ""


@dataclass
class Assistant:
    hired_on: date
    fte: Decimal
    profile: Profile
    training: str
    training_deadline: date
    employer_siret: str | None = None
    left_on: date | None = None
    trained_on: date | None = None
    was_practice_secretary: bool = False
    secretary_hired_on: date | None = None  # R28


@dataclass
class Attainment:
    year: int
    observed_patients: int
    target_patients: int
    attainment: Decimal
    recorded_on: date


class Convention(BaseAggregate[UUID]):
    """An assistant-médical aid convention (see RULES.md for R1-R19)."""

    TOPIC = "cpam.convention.Convention"

    # ------------------------------------------------------------------ signature
    @classmethod
    def sign(
        cls,
        meta: CommandMeta,
        *,
        number: str,
        cpam_code: str,
        rpps: str,
        doctor_name: str,
        specialty: str,
        sector: int,
        optam: bool,
        ccam_share: float | None,
        newly_installed: bool,
        option: Option,
        percentile: int,
        initial_patients: int,
        target_patients: int | None,
        signed_on: date,
        effective_from: date,
        dedicated_room: bool = True,
        mep: bool = False,
        zip_area: bool = False,
        am_number: str | None = None,
        aged_65_or_more: bool = False,
        policies: Policies | None = None,
    ) -> Convention:
        """Sign a convention after the identifier (R19) and eligibility (R8, R9) checks. Without a
        ``target_patients`` the objective is derived where the rules allow it (R27)."""
        number = check_contract_number(number)
        cpam_code = check_cpam_code(cpam_code)
        rpps = check_rpps(rpps)
        am_number = check_am_number(am_number) if am_number else None
        doctor_name = check_text(doctor_name, "name", "Nom du médecin", max_length=NAME_MAX, required=True)
        _not_after_today(meta, signed_on, "signed", "La signature")
        if (effective_from - signed_on).days > 366:
            raise InvalidInput(
                "invalid_effective_date",
                f"La prise d'effet ne peut suivre la signature de plus d'un an (au plus tard le "
                f"{add_years(signed_on, 1):%d/%m/%Y}).",
                "effective",
            )
        option = Option(option)
        if initial_patients < 0:
            raise InvalidInput("invalid_patients", "La patientèle initiale ne peut être négative.", "patients")
        tier = tier_for_percentile(percentile)
        if target_patients is None:
            target_patients, basis, objective_reason = default_objective(
                tier=tier, initial=initial_patients, aged_65_or_more=aged_65_or_more,
                newly_installed=newly_installed, specialty=specialty,
            )  # fmt: skip
        else:
            basis, objective_reason = ObjectiveBasis.GIVEN, "objectif indiqué à la signature"
        if target_patients < 0:
            raise InvalidInput("invalid_target", "L'objectif ne peut être négatif.", "target")
        check_signature_eligibility(
            specialty=specialty, sector=sector, optam=optam, ccam_share=ccam_share,
            newly_installed=newly_installed, percentile=percentile, option=option,
            signed_on=signed_on, dedicated_room=dedicated_room,
        )  # fmt: skip
        if effective_from < signed_on and (signed_on - effective_from).days > 366:
            raise InvalidInput(
                "invalid_effective_date",
                "La prise d'effet ne peut précéder la signature de plus d'un an.",
                "effective",
            )
        tier_amount(option, tier, 1, effective_from)  # the option must be offered (R3)
        return cls._create(
            ev.Signed,
            id=convention_id(cpam_code, number),
            effective_date=signed_on,
            **_meta(meta),
            number=number, cpam_code=cpam_code, rpps=rpps, am_number=am_number, doctor_name=doctor_name,
            specialty=specialty, sector=sector, optam=optam, ccam_share=ccam_share,
            newly_installed=newly_installed, mep=mep, zip_area=zip_area, option=option,
            percentile=percentile, tier=tier, initial_patients=initial_patients,
            target_patients=target_patients, effective_from=effective_from,
            dedicated_room=dedicated_room, policies=policies or Policies(),
            patient_measure=patient_measure(specialty), aged_65_or_more=aged_65_or_more,
            objective_basis=basis, objective_reason=objective_reason,
        )  # fmt: skip

    # ------------------------------------------------------------------ assistant (R12)
    def hire(
        self,
        meta: CommandMeta,
        *,
        hired_on: date,
        fte: Decimal,
        profile: Profile,
        employer_siret: str | None = None,
        was_practice_secretary: bool = False,
    ) -> None:
        self._refuse_if_terminated()
        if self.assistant is not None:
            raise ForbiddenTransition(
                "assistant_in_post",
                "Un assistant est déjà en poste : enregistrer son départ ou un remplacement.",
            )
        self._check_fact_date(meta, hired_on, "date", "L'embauche", before_effective=True)
        self._record_hire(meta, hired_on, fte, profile, employer_siret, replacement=False,
                          was_practice_secretary=was_practice_secretary)  # fmt: skip

    def replace_assistant(
        self,
        meta: CommandMeta,
        *,
        on: date,
        fte: Decimal,
        profile: Profile,
        employer_siret: str | None = None,
    ) -> None:
        """R12: a new assistant replaces the one in post; the convention and its money stay."""
        self._refuse_if_terminated()
        if self.assistant is None:
            raise ForbiddenTransition("no_assistant", "Aucun assistant en poste à remplacer.")
        self._check_left_on(on)
        self._check_fact_date(meta, on, "date", "Le remplacement")
        self._validate_hire(on, fte, employer_siret)
        self._trigger(ev.AssistantLeft, meta, on)
        self._record_hire(meta, on, fte, profile, employer_siret, replacement=True)

    def assistant_left(self, meta: CommandMeta, *, left_on: date) -> None:
        self._refuse_if_terminated()
        if self.assistant is None:
            raise ForbiddenTransition("no_assistant", "Aucun assistant en poste.")
        self._check_left_on(left_on)
        self._check_fact_date(meta, left_on, "date", "Le départ de l'assistant")
        self._trigger(ev.AssistantLeft, meta, left_on)

    def complete_training(self, meta: CommandMeta, *, completed_on: date) -> None:
        self._refuse_if_terminated()
        if self.assistant is None:
            raise ForbiddenTransition("no_assistant", "Aucun assistant en poste.")
        if self.assistant.trained_on is not None:
            raise ForbiddenTransition("training_already_completed", "La formation de l'assistant est déjà enregistrée.")
        if completed_on < self.assistant.hired_on:
            raise InvalidInput("invalid_date", "La formation ne peut être achevée avant l'embauche.", "date")
        self._check_fact_date(meta, completed_on, "date", "La fin de formation", before_effective=True)
        self._trigger(ev.TrainingCompleted, meta, completed_on)

    def declare_secretary_hired(self, meta: CommandMeta, *, hired_on: date) -> None:
        """R28: the practice's secretary became the assistant; the new secretary is now hired."""
        self._refuse_if_terminated()
        due = self.secretary_due_by
        if due is None:
            raise ForbiddenTransition(
                "no_secretary_to_replace",
                "Aucun remplacement de secrétaire attendu : l'assistant n'était pas la secrétaire du cabinet, "
                "ou son remplacement est déjà déclaré.",
            )
        start = next(a.hired_on for a in reversed(self.assistants) if a.was_practice_secretary)
        if hired_on < start:
            raise InvalidInput(
                "invalid_date",
                f"La nouvelle secrétaire ne peut être embauchée avant l'assistant ({start:%d/%m/%Y}).",
                "date",
            )
        self._check_fact_date(meta, hired_on, "date", "L'embauche de la secrétaire", before_effective=True)
        self._trigger(ev.SecretaryHired, meta, hired_on)

    @property
    def secretary_due_by(self) -> date | None:
        """R28: when the assistant was the practice's secretary, the date by which a new secretary is
        due (6 months after the hire), until one is declared."""
        for a in reversed(self.assistants):
            if a.was_practice_secretary and a.secretary_hired_on is None:
                return add_months(a.hired_on, SECRETARY_DELAY_MONTHS)
        return None

    def _record_hire(
        self,
        meta: CommandMeta,
        hired_on: date,
        fte: Decimal,
        profile: Profile,
        siret: str | None,
        *,
        replacement: bool,
        was_practice_secretary: bool = False,
    ) -> None:
        fte = self._validate_hire(hired_on, fte, siret)
        profile = Profile(profile)
        self._trigger(
            ev.AssistantHired, meta, hired_on,
            fte=fte, profile=profile, training=profile.training,
            training_deadline=add_years(hired_on, self.policies.training_deadline_years),
            employer_siret=check_siret(siret) if siret else None, replacement=replacement,
            was_practice_secretary=was_practice_secretary,
        )  # fmt: skip

    def _validate_hire(self, hired_on: date, fte: Decimal, siret: str | None) -> Decimal:
        fte = Decimal(str(fte))
        if not Decimal(0) < fte <= Decimal(2):
            raise InvalidInput("invalid_fte", "Le temps de travail (ETP) doit être entre 0 et 2.", "fte")
        if (self.signed_on - hired_on).days > 366:
            raise InvalidInput("invalid_date", "Embauche antérieure de plus d'un an à la signature.", "date")
        if siret:
            check_siret(siret)
        return fte

    def _check_left_on(self, left_on: date) -> None:
        assert self.assistant is not None
        if left_on < self.assistant.hired_on:
            raise InvalidInput("invalid_date", "Le départ ne peut précéder l'embauche de l'assistant.", "date")

    # ------------------------------------------------------------------ objectives (R5)
    def set_objective(self, meta: CommandMeta, *, from_year: int, target_patients: int, on: date) -> None:
        self._refuse_if_terminated()
        _check_count(from_year, target_patients, "invalid_target", "L'objectif ne peut être négatif.", "target")
        if from_year in self.attainments:
            raise ForbiddenTransition(
                "attainment_already_recorded",
                f"L'atteinte de l'année {from_year} est déjà enregistrée : objectif figé.",
            )
        if on < self.signed_on:
            raise InvalidInput("invalid_date", "Avenant antérieur à la signature de la convention.", "on")
        self._check_fact_date(meta, on, "on", "L'avenant", before_effective=True)
        self._trigger(ev.ObjectiveSet, meta, on, from_year=from_year, target_patients=target_patients)

    def record_attainment(self, meta: CommandMeta, *, year: int, observed_patients: int, on: date) -> Decimal:
        """R5: record the patients observed at the end of ``year``; returns the attainment."""
        _check_count(year, observed_patients, "invalid_patients", "Le nombre de patients ne peut être négatif.",
                     "patients")  # fmt: skip
        if year in self.attainments:
            raise ForbiddenTransition(
                "attainment_already_recorded", f"L'atteinte de l'année {year} est déjà enregistrée."
            )
        end = self.anniversary(year)
        if end is None or end > on:
            raise ForbiddenTransition(
                "year_not_ended",
                f"L'année {year} n'est pas terminée"
                + (f" (elle s'achève le {end:%d/%m/%Y})." if end else " (convention suspendue)."),
            )
        if self.status is Status.TERMINATED and self.terminated_on and end > self.terminated_on:
            raise ForbiddenTransition("terminated", f"La convention a été résiliée avant la fin de l'année {year}.")
        _not_after_today(meta, on, "date", "Le relevé de patientèle")
        target = self.target_for_year(year)
        att = compute_attainment(self.initial_patients, target, observed_patients)
        self._trigger(
            ev.AttainmentRecorded, meta, on, year=year, observed_patients=observed_patients,
            initial_patients=self.initial_patients, target_patients=target, attainment=att,
        )  # fmt: skip
        return att

    def target_for_year(self, year: int) -> int:
        chosen = [t for y, t in sorted(self.targets.items()) if y <= year]
        return chosen[-1] if chosen else self.target_patients

    # ------------------------------------------------------------------ payments (R7)
    def record_payment(self, meta: CommandMeta, *, instalment: str, paid_on: date, reference: str) -> bool:
        """Record a payment once. Returns False (nothing recorded) when already paid (R7)."""
        inst = self.instalments.get(instalment)
        if inst is None:
            known = ", ".join(i for i, x in self.instalments.items() if x.status == "due") or "aucune"
            raise NotFound(
                "unknown_instalment",
                f"Échéance « {instalment} » inconnue ou pas encore échue (échéances dues : {known}).",
                "instalment",
            )
        if inst.status == "paid":
            return False
        if inst.status == "cancelled":
            raise ForbiddenTransition(
                "instalment_cancelled", f"L'échéance {instalment} a été annulée par la résiliation."
            )
        if not reference.strip():
            raise InvalidInput("invalid_reference", "La référence du paiement est obligatoire.", "reference")
        reference = check_text(reference, "reference", "Référence du paiement", max_length=NAME_MAX, required=True)
        _not_after_today(meta, paid_on, "date", "Le paiement")
        if paid_on < inst.fell_due_on:
            raise InvalidInput(
                "invalid_date",
                f"L'échéance {instalment} est échue le {inst.fell_due_on:%d/%m/%Y} : un paiement ne peut être "
                "daté d'avant.",
                "date",
            )
        self._trigger(
            ev.PaymentRecorded, meta, paid_on,
            instalment_id=instalment, amount=inst.amount, payment_reference=reference,
        )  # fmt: skip
        return True

    # ------------------------------------------------------------------ suspension (R13-R16)
    def suspend(self, meta: CommandMeta, *, from_date: date, ground: SuspensionGround, agreement_date: date) -> None:
        self._refuse_if_terminated()
        if self.status is Status.SUSPENDED:
            raise ForbiddenTransition("already_suspended", "La convention est déjà suspendue.")
        if from_date < self.effective_from:
            raise InvalidInput("invalid_date", "La suspension ne peut précéder la prise d'effet.", "from")
        if self.pauses and from_date < (self.pauses[-1].end or from_date):
            raise InvalidInput("invalid_date", "La suspension ne peut précéder la dernière réactivation.", "from")
        last_start = max((y.start for y in self.years.values()), default=None)
        if last_start is not None and from_date < last_start:
            raise ForbiddenTransition(
                "suspension_before_recorded_year",
                f"L'année de contrat en cours a déjà débuté le {last_start:%d/%m/%Y} : une "
                "suspension ne peut commencer avant.",
            )
        self._check_date(meta, from_date, "from", "La suspension")
        _not_after_today(meta, agreement_date, "agreement_date", "L'accord écrit du médecin")
        self._trigger(ev.Suspended, meta, from_date, ground=SuspensionGround(ground), agreement_date=agreement_date)

    def reactivate(self, meta: CommandMeta, *, from_date: date) -> None:
        self._refuse_if_terminated()
        if self.status is not Status.SUSPENDED:
            raise ForbiddenTransition("not_suspended", "La convention n'est pas suspendue.")
        start = self.pauses[-1].start
        if from_date <= start:
            raise InvalidInput(
                "invalid_date",
                f"La réactivation doit suivre le début de la suspension ({start:%d/%m/%Y}).",
                "from",
            )
        self._check_date(meta, from_date, "from", "La réactivation")
        self._trigger(ev.Reactivated, meta, from_date, suspended_days=(from_date - start).days)

    # ------------------------------------------------------------------ reviews (R11)
    def hold_review(self, meta: CommandMeta, *, held_on: date, notes: str = "") -> date:
        """Record the next review not yet held; returns its due date."""
        self._refuse_if_terminated()
        if held_on < self.effective_from:
            raise InvalidInput("invalid_date", "Point de suivi antérieur à la prise d'effet.", "held")
        due = self.next_review_to_hold()
        if held_on < due - timedelta(days=EARLY_REVIEW_DAYS):
            raise ForbiddenTransition(
                "review_not_due",
                f"Le prochain point semestriel est dû le {due:%d/%m/%Y} : il ne peut être tenu plus de "
                f"{EARLY_REVIEW_DAYS} jours avant.",
            )
        notes = check_text(notes, "notes", "Notes du point", max_length=REASON_MAX, required=False, multiline=True)
        self._check_fact_date(meta, held_on, "held", "Le point semestriel")
        self._trigger(ev.ReviewHeld, meta, held_on, due_date=due, notes=notes)
        return due

    def next_review_to_hold(self) -> date:
        pending = sorted(d for d, r in self.reviews.items() if r.held_on is None)
        if pending:
            return pending[0]
        k = 1
        while review_date(self.effective_from, k) in self.reviews:
            k += 1
        return review_date(self.effective_from, k)

    # ------------------------------------------------------------------ option change
    def change_option(self, meta: CommandMeta, *, option: Option, from_date: date) -> None:
        """Amendment: the new option applies to contract years starting from ``from_date``."""
        self._refuse_if_terminated()
        option = Option(option)
        self._check_date(meta, from_date, "from", "L'avenant")
        if option is Option.THIRD and self.signed_on >= THIRD_CLOSED_ON:
            raise ForbiddenTransition(
                "third_option_closed",
                "L'option 1/3 ETP est réservée aux conventions signées avant le 01/05/2023.",
            )
        if option is self.option_on(from_date):
            raise ForbiddenTransition("same_option", f"L'option {option.value} est déjà en vigueur.")
        last_start = max((y.start for y in self.years.values()), default=None)
        if last_start is not None and from_date <= last_start:
            raise ForbiddenTransition(
                "option_change_in_started_year",
                f"L'année débutée le {last_start:%d/%m/%Y} garde son option : choisir une date ultérieure.",
            )
        later = [d for d, _ in self.option_changes if d > from_date]
        if later:
            raise ForbiddenTransition(
                "option_change_before_recorded_change",
                f"Un avenant d'option prend déjà effet le {max(later):%d/%m/%Y} : un nouvel avenant ne peut "
                "prendre effet avant.",
            )
        # The option must be offered for the first year it applies to (R3): in C-2024 no year 1 in THIRD.
        year = contract_year_on(self.effective_from, from_date, self.pauses, self.policies.pause_clock)
        start = self.year_start(year)
        if start is not None and start < from_date:
            year, start = year + 1, self.year_start(year + 1)
        tier_amount(option, self.tier, year, start or from_date)
        self._trigger(ev.OptionChanged, meta, from_date, option=option)

    def option_of_year_on(self, day: date) -> Option:
        """The option of the contract year in which ``day`` falls (a change applies from the next year)."""
        n = contract_year_on(self.effective_from, day, self.pauses, self.policies.pause_clock)
        if n in self.years:
            return self.years[n].option
        return self.option_on(self.year_start(max(n, 1)) or self.effective_from)

    def option_on(self, day: date) -> Option:
        """The option in force on ``day``: changes apply by their date (the latest dated on or before
        ``day`` wins; on the same date, the one recorded last)."""
        current = self.option
        for start, option in sorted(self.option_changes, key=lambda change: change[0]):
            if start <= day:
                current = option
        return current

    # ------------------------------------------------------------------ termination (R17)
    def terminate(
        self,
        meta: CommandMeta,
        *,
        on: date,
        by: TerminatedBy,
        ground: str,
        letter_date: date | None = None,
    ) -> Decimal | None:
        """End the convention on ``on``; settles the current year pro rata. Returns the settlement."""
        self._refuse_if_terminated()
        by = TerminatedBy(by)
        if not ground.strip():
            raise InvalidInput("invalid_ground", "Le motif de résiliation est obligatoire.", "ground")
        ground = check_text(ground, "ground", "Motif de résiliation", max_length=REASON_MAX, required=True)
        if on < self.signed_on:
            raise InvalidInput("invalid_date", "Résiliation antérieure à la signature.", "date")
        self._check_date(meta, on, "date", "La résiliation")  # may be dated ahead, within the term (R21)
        if letter_date is not None:
            _not_after_today(meta, letter_date, "letter_date", "Le courrier de résiliation")
        if by is TerminatedBy.DOCTOR:
            if letter_date is None:
                raise InvalidInput(
                    "letter_required",
                    "Résiliation par le médecin : la date du courrier recommandé est requise.",
                    "letter_date",
                )
            earliest = add_months(letter_date, self.policies.termination_notice_months)
            if on < earliest:
                raise InvalidInput(
                    "notice_too_short",
                    f"Préavis de {self.policies.termination_notice_months} mois : résiliation au plus "
                    f"tôt le {earliest:%d/%m/%Y} pour un courrier du {letter_date:%d/%m/%Y}.",
                    "date",
                )
        later = [y.year for y in self.years.values() if y.start > on]
        if later:
            raise ForbiddenTransition(
                "termination_before_recorded_year",
                f"L'année {min(later)} a déjà débuté : la résiliation ne peut la précéder.",
            )
        recorded = [(day, what) for day, what in self.recorded_facts() if day > on]
        if recorded:
            day, what = max(recorded)
            raise ForbiddenTransition(
                "termination_before_recorded_event",
                f"{what} est enregistré(e) au {day:%d/%m/%Y} : la résiliation ne peut être datée d'avant (R22).",
            )
        settlement = self._settlement(on)
        year = contract_year_on(self.effective_from, on, self.pauses, self.policies.pause_clock)
        for inst in list(self.instalments.values()):
            if inst.year == year and inst.status == "due":
                self._trigger(ev.InstalmentCancelled, meta, on, instalment_id=inst.instalment_id)
        if settlement is not None and settlement[0] != 0:
            amount, basis = settlement
            self._trigger(
                ev.InstalmentDue, meta, on, instalment_id=instalment_id(year, "settlement"),
                year=year, kind=InstalmentKind.SETTLEMENT, due_date=add_months(on, 1),
                amount=amount, basis=basis,
            )  # fmt: skip
        self._trigger(ev.Terminated, meta, on, by=by, ground=ground.strip(), letter_date=letter_date)
        return None if settlement is None else settlement[0]

    def _settlement(self, on: date) -> tuple[Decimal, str] | None:
        """R17: due = year amount x days elapsed / days in year; settlement = due - paid."""
        year = contract_year_on(self.effective_from, on, self.pauses, self.policies.pause_clock)
        if year == 0:
            return None
        start = self.year_start(year)
        assert start is not None
        full = self.full_amount(year, start)
        att = self.attainments.get(year)
        amount = modulated_amount(full, year, self.policies.modulation, att.attainment if att else None)
        if year == 1 and self.years.get(1) and self.years[1].regime == "A7-2019" and self.first_hired_on is None:
            amount = Decimal(0)  # R24: in A7-2019 year 1 the aid follows the hire: none, nothing due
        # With the clock paused, the suspended days count neither as elapsed nor in the year.
        plain_start = plain_anniversary(self.effective_from, year - 1)
        days_in_year = (plain_anniversary(self.effective_from, year) - plain_start).days
        elapsed_end = plain_start + (on - start) - _overlap(self.pauses, start, on, self.policies.pause_clock)
        due = pro_rata(amount, plain_start, plain_start + timedelta(days=days_in_year), elapsed_end)
        paid = sum(
            (i.amount for i in self.instalments.values() if i.year == year and i.status == "paid"),
            Decimal(0),
        )
        settlement = to_cents(due - paid)
        elapsed = (elapsed_end - plain_start).days
        return settlement, (
            f"Année {year} : {amount} € x {elapsed}/{days_in_year} jours = {due} € dus, {to_cents(paid)} € déjà versés"
        )

    # ------------------------------------------------------------------ dates that make sense (R21, R22)
    def current_term_end(self, today: date | None = None) -> date | None:
        """The end of the current 5-year term (R10): the latest term recorded, or the one ``today``
        falls in (renewal is tacit, R26). None while an open suspension hides it."""
        term = max(self.renewals, default=1)
        if today is not None:
            year = contract_year_on(self.effective_from, today, self.pauses, self.policies.pause_clock)
            term = max(term, (max(year, 1) - 1) // TERM_YEARS + 1)
        return end_of_term(self.effective_from, term, self.pauses, self.policies.pause_clock)

    def _check_date(
        self, meta: CommandMeta, day: date, field_: str, label: str, *, before_effective: bool = False
    ) -> None:
        """R21: a business date not before the effective date (unless ``before_effective``) and not
        after the end of the current term."""
        if not before_effective and day < self.effective_from:
            raise InvalidInput(
                "date_before_effective",
                f"{label} : le {day:%d/%m/%Y} précède la prise d'effet ({self.effective_from:%d/%m/%Y}).",
                field_,
            )
        end = self.current_term_end(meta.today)
        if end is not None and day > end:
            raise InvalidInput(
                "date_after_term",
                f"{label} : le {day:%d/%m/%Y} suit la fin de la période de 5 ans en cours ({end:%d/%m/%Y}).",
                field_,
            )

    def _check_fact_date(
        self, meta: CommandMeta, day: date, field_: str, label: str, *, before_effective: bool = False
    ) -> None:
        """A fact (hire, review held, training...): R21's bounds, and not after today."""
        self._check_date(meta, day, field_, label, before_effective=before_effective)
        _not_after_today(meta, day, field_, label)

    def recorded_facts(self) -> list[tuple[date, str]]:
        """Business dates a termination may not precede (R22)."""
        out: list[tuple[date, str]] = []
        for p in self.pauses:
            out.append((p.start, "Une suspension"))
            if p.end is not None:
                out.append((p.end, "Une réactivation"))
        for a in self.assistants:
            out.append((a.hired_on, "Une embauche"))
            if a.left_on is not None:
                out.append((a.left_on, "Un départ d'assistant"))
            if a.trained_on is not None:
                out.append((a.trained_on, "Une formation"))
        out += [(r.held_on, "Un point semestriel") for r in self.reviews.values() if r.held_on is not None]
        out += [(d, "Un avenant d'option") for d, _ in self.option_changes]
        return out

    # ------------------------------------------------------------------ what falls due
    def record_due(self, meta: CommandMeta, *, today: date) -> int:
        """Record everything that fell due up to ``today``, each on the date it fell due.

        What falls due and when is ``domain.due.next_due`` (the rule the calendar read model
        shares); here, what the rules compute for it (amounts, regime) and the events. Idempotent:
        what is already recorded is never recorded again, so ticking every day or once at the end
        records the same events with the same dates (an instalment of the year a termination
        settled is recorded then cancelled either way).
        """
        count = 0
        while (due := next_due(self.due_state(), today)) is not None:
            event, fields = self._due_event(due)
            self._trigger(event, meta, due.on, **fields)
            if due.kind is DueKind.INSTALMENT and due.number == self.settled_year():
                assert self.terminated_on is not None  # the settlement replaces it (R17)
                self._trigger(ev.InstalmentCancelled, meta, self.terminated_on, instalment_id=due.instalment_id)
            count += 1
        return count

    def next_due_on(self) -> date | None:
        """The earliest date on which ``record_due`` would record something (None: nothing).

        What it would record is computed too, so a convention the rules cannot tick (an option its
        regime does not offer) raises here as ``record_due`` would: the audit relies on it."""
        state = self.due_state()
        for item in due_items(state):
            self._due_event(item)
        due = next_due(state)
        return None if due is None else due.on

    def due_state(self) -> CalendarState:
        """What ``domain.due.next_due`` needs of this convention: the state the calendar read model
        keeps of it from its events."""
        return CalendarState(
            effective_from=self.effective_from, pause_clock=self.policies.pause_clock, pauses=list(self.pauses),
            years_started=self.contract_year, first_regime=self.years[1].regime if 1 in self.years else None,
            reviews_raised=self.reviews_raised, first_hired_on=self.first_hired_on,
            attainments={year: a.recorded_on for year, a in self.attainments.items()},
            instalments=set(self.instalments), terminated_on=self.terminated_on, term=max(self.renewals, default=1),
        )  # fmt: skip

    def _due_event(self, due: Due) -> tuple[type[ev.Event], dict[str, Any]]:
        """The event that records ``due``, with what the rules compute for it."""
        if due.kind is DueKind.RENEWAL:
            return ev.Renewed, {"term": due.number}
        if due.kind is DueKind.REVIEW:
            return ev.ReviewDue, {"k": due.number}
        if due.kind is DueKind.YEAR:
            option = self.option_on(due.on)
            regime, amount = tier_amount(option, self.tier, due.number, due.on)
            return ev.YearStarted, {
                "year": due.number, "regime": regime, "table_version": TABLE_VERSION, "option": option,
                "tier": self.tier, "full_amount": amount,
            }  # fmt: skip
        p = next(p for p in self._plan(self.years[due.number]) if p.instalment_id == due.instalment_id)
        return ev.InstalmentDue, {
            "instalment_id": p.instalment_id, "year": p.year, "kind": p.kind, "due_date": p.due_date,
            "amount": p.amount, "basis": p.basis,
        }  # fmt: skip

    def planned_instalments(self) -> list[PlannedInstalment]:
        """The schedule of every started year. Of the year a termination settled, only what fell due
        before the termination: it is recorded then cancelled, as a daily tick would have done."""
        out: list[PlannedInstalment] = []
        settled_year = self.settled_year()
        for y in self.years.values():
            planned = self._plan(y)
            if y.year == settled_year:
                assert self.terminated_on is not None
                planned = [p for p in planned if p.falls_due is not None and p.falls_due < self.terminated_on]
            out.extend(planned)
        return out

    def _plan(self, y: Year) -> list[PlannedInstalment]:
        att = self.attainments.get(y.year)
        return plan_year(
            year=y.year, start=y.start, end=self.anniversary(y.year), regime=y.regime,
            full_amount=y.full_amount, hired_on=self.first_hired_on,
            attainment=att.attainment if att else None,
            attainment_recorded_on=att.recorded_on if att else None,
            modulation=self.policies.modulation, balance_payment_days=self.policies.balance_payment_days,
        )  # fmt: skip

    def settled_year(self) -> int | None:
        """The contract year a termination settled pro rata (R17), if any."""
        if self.terminated_on is None:
            return None
        return contract_year_on(self.effective_from, self.terminated_on, self.pauses, self.policies.pause_clock)

    # ------------------------------------------------------------------ calendar queries
    def anniversary(self, n: int) -> date | None:
        """Anniversary n (end of year n), moved by suspensions (R16); None while unknown."""
        return anniversary(self.effective_from, n, self.pauses, self.policies.pause_clock)

    def year_start(self, n: int) -> date | None:
        return self.effective_from if n == 1 else self.anniversary(n - 1)

    def full_amount(self, n: int, start: date) -> Decimal:
        if n in self.years:
            return self.years[n].full_amount
        return tier_amount(self.option_on(start), self.tier, n, start)[1]

    def _refuse_if_terminated(self) -> None:
        if self.status is Status.TERMINATED:
            raise ForbiddenTransition(
                "terminated",
                f"La convention {self.number} est résiliée depuis le {self.terminated_on:%d/%m/%Y} : "
                "aucune modification possible.",
            )

    def second_assistant_refusals(self, on: date) -> list[str]:
        last = self.attainments[max(self.attainments)] if self.attainments else None
        return second_assistant_refusals(
            specialty=self.specialty, mep=self.mep, option=self.option_on(on),
            contract_year=contract_year_on(self.effective_from, on, self.pauses, self.policies.pause_clock),
            objectives_met=last is not None and last.attainment >= 1, zip_area=self.zip_area,
        )  # fmt: skip

    @property
    def contract_year(self) -> int:
        """The latest contract year recorded as started (0 before the first tick)."""
        return max(self.years, default=0)

    @property
    def first_hired_on(self) -> date | None:
        return self.assistants[0].hired_on if self.assistants else None

    # ------------------------------------------------------------------ event plumbing
    @classmethod
    def replay(cls, events: list[ev.Event]) -> Convention:
        """Rebuild from a selection of events (e.g. those effective up to a date), skipping
        the version check that a partial selection could not pass."""
        agg: Convention | None = None
        for e in events:
            if agg is None:
                agg = e.mutate(None)  # type: ignore[assignment]
            else:
                e.apply(agg)
                agg.version = e.originator_version
                agg.modified_on = e.timestamp
        assert agg is not None
        return agg

    def _trigger(self, cls: type[ev.Event], meta: CommandMeta, effective_date: date, **kw: Any) -> None:
        self.trigger_event(cls, effective_date=effective_date, **_meta(meta), **kw)

    def on(self, event: ev.Event) -> None:
        getattr(self, f"_when_{type(event).__name__}")(event)
        if (status := ev.STATUS_AFTER.get(type(event))) is not None:
            self.status = status

    def _when_Signed(self, e: ev.Signed) -> None:  # noqa: N802 - one handler per event name
        self.number = e.number
        self.cpam_code = e.cpam_code
        self.rpps = e.rpps
        self.am_number = e.am_number
        self.doctor_name = e.doctor_name
        self.specialty = e.specialty
        self.sector = e.sector
        self.optam = e.optam
        self.ccam_share = e.ccam_share
        self.newly_installed = e.newly_installed
        self.mep = e.mep
        self.zip_area = e.zip_area
        self.option = e.option
        self.option_changes: list[tuple[date, Option]] = []
        self.percentile = e.percentile
        self.tier = e.tier
        self.initial_patients = e.initial_patients
        self.target_patients = e.target_patients
        self.patient_measure = e.patient_measure
        self.aged_65_or_more = e.aged_65_or_more
        self.objective_basis = e.objective_basis
        self.objective_reason = e.objective_reason
        self.targets: dict[int, int] = {}
        self.signed_on = e.effective_date
        self.effective_from = e.effective_from
        self.dedicated_room = e.dedicated_room
        self.policies = e.policies
        self.status: Status  # set by ``on``, as after every event that changes it (ev.STATUS_AFTER)
        self.pauses: list[Pause] = []
        self.terminated_on: date | None = None
        self.terminated_by: TerminatedBy | None = None
        self.termination_ground: str | None = None
        self.assistants: list[Assistant] = []
        self.years: dict[int, Year] = {}
        self.renewals: set[int] = set()
        self.instalments: dict[str, Instalment] = {}
        self.attainments: dict[int, Attainment] = {}
        self.reviews: dict[date, Review] = {}
        self.reviews_raised = 0

    @property
    def assistant(self) -> Assistant | None:
        """The assistant in post, if any."""
        if self.assistants and self.assistants[-1].left_on is None:
            return self.assistants[-1]
        return None

    def _when_AssistantHired(self, e: ev.AssistantHired) -> None:  # noqa: N802
        self.assistants.append(
            Assistant(
                e.effective_date, e.fte, e.profile, e.training, e.training_deadline, e.employer_siret,
                was_practice_secretary=e.was_practice_secretary,
            )
        )  # fmt: skip

    def _when_SecretaryHired(self, e: ev.SecretaryHired) -> None:  # noqa: N802
        for a in reversed(self.assistants):
            if a.was_practice_secretary and a.secretary_hired_on is None:
                a.secretary_hired_on = e.effective_date
                return

    def _when_AssistantLeft(self, e: ev.AssistantLeft) -> None:  # noqa: N802
        if self.assistants:
            self.assistants[-1].left_on = e.effective_date

    def _when_TrainingCompleted(self, e: ev.TrainingCompleted) -> None:  # noqa: N802
        if self.assistants:
            self.assistants[-1].trained_on = e.effective_date

    def _when_ObjectiveSet(self, e: ev.ObjectiveSet) -> None:  # noqa: N802
        self.targets[e.from_year] = e.target_patients

    def _when_AttainmentRecorded(self, e: ev.AttainmentRecorded) -> None:  # noqa: N802
        self.attainments[e.year] = Attainment(
            e.year, e.observed_patients, e.target_patients, e.attainment, e.effective_date
        )

    def _when_YearStarted(self, e: ev.YearStarted) -> None:  # noqa: N802
        self.years[e.year] = Year(e.year, e.effective_date, e.regime, e.option, e.tier, e.full_amount)

    def _when_InstalmentDue(self, e: ev.InstalmentDue) -> None:  # noqa: N802
        self.instalments[e.instalment_id] = Instalment(
            e.instalment_id, e.year, e.kind, e.effective_date, e.due_date, e.amount, e.basis
        )

    def _when_InstalmentCancelled(self, e: ev.InstalmentCancelled) -> None:  # noqa: N802
        if e.instalment_id in self.instalments:
            self.instalments[e.instalment_id].status = "cancelled"

    def _when_PaymentRecorded(self, e: ev.PaymentRecorded) -> None:  # noqa: N802
        inst = self.instalments.get(e.instalment_id)
        if inst is not None:
            inst.status = "paid"
            inst.paid_on = e.effective_date
            inst.payment_reference = e.payment_reference

    def _when_Suspended(self, e: ev.Suspended) -> None:  # noqa: N802
        self.pauses.append(Pause(e.effective_date))

    def _when_Reactivated(self, e: ev.Reactivated) -> None:  # noqa: N802
        if self.pauses:
            self.pauses[-1] = Pause(self.pauses[-1].start, e.effective_date)

    def _when_ReviewDue(self, e: ev.ReviewDue) -> None:  # noqa: N802
        review = self.reviews.setdefault(e.effective_date, Review(e.effective_date))
        review.k = e.k
        self.reviews_raised = max(self.reviews_raised, e.k)

    def _when_ReviewHeld(self, e: ev.ReviewHeld) -> None:  # noqa: N802
        review = self.reviews.setdefault(e.due_date, Review(e.due_date))
        review.held_on = e.effective_date
        review.notes = e.notes

    def _when_Renewed(self, e: ev.Renewed) -> None:  # noqa: N802
        self.renewals.add(e.term)

    def _when_OptionChanged(self, e: ev.OptionChanged) -> None:  # noqa: N802
        self.option_changes.append((e.effective_date, e.option))

    def _when_Terminated(self, e: ev.Terminated) -> None:  # noqa: N802
        self.terminated_on = e.effective_date
        self.terminated_by = e.by
        self.termination_ground = e.ground

    def _when_ChainAnchored(self, e: ev.ChainAnchored) -> None:  # noqa: N802 - the store's tamper evidence only
        pass


def _check_count(year: int, patients: int, code: str, message: str, field: str) -> None:
    """A contract year starts at 1 and a patient count is never negative (R5)."""
    if year < 1:
        raise InvalidInput("invalid_year", "L'année de contrat commence à 1.", "year")
    if patients < 0:
        raise InvalidInput(code, message, field)


def _not_after_today(meta: CommandMeta, day: date, field_: str, label: str) -> None:
    """R21: a fact is not dated after the application's today (real or virtual)."""
    if meta.today is not None and day > meta.today:
        raise InvalidInput(
            "date_in_future",
            f"{label} : le {day:%d/%m/%Y} est postérieur à aujourd'hui ({meta.today:%d/%m/%Y}).",
            field_,
        )


def _meta(meta: CommandMeta) -> dict[str, Any]:
    return {
        "actor": meta.actor,
        "reason": meta.reason,
        "command_id": meta.command_id,
        "request_id": meta.request_id,
    }


def _overlap(pauses: list[Pause], start: date, end: date, pause_clock: bool) -> timedelta:
    """Days of [start, end) spent suspended (an open suspension runs to ``end``)."""
    if not pause_clock:
        return timedelta(0)
    total = 0
    for p in pauses:
        lo = max(p.start, start)
        hi = min(p.end or end, end)
        if hi > lo:
            total += (hi - lo).days
    return timedelta(days=total)
