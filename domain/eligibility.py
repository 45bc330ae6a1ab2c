"""Eligibility at signature (R8, R9) and for a second assistant (R18)."""

from __future__ import annotations

from datetime import date

from domain.errors import InvalidInput, NotEligible
from domain.regimes import THIRD_CLOSED_ON
from domain.values import SPECIALTIES, Option

EXCLUDED_SPECIALTIES = {
    "radiology": "radiologie",
    "radiotherapy": "radiothérapie",
    "stomatology": "stomatologie",
    "anaesthesia": "anesthésie",
    "pathology": "anatomo-cytopathologie (ACP)",
    "nuclear_medicine": "médecine nucléaire",
}
TECHNICAL_SPECIALTIES = {"surgery": "chirurgie", "ent": "ORL", "gynaecology": "gynécologie"}
TECHNICAL_FEES_LIMIT = 20  # per cent of fees over the past 12 months
MIN_PERCENTILE = 30


def check_signature_eligibility(
    *,
    specialty: str,
    sector: int,
    optam: bool,
    ccam_share: float | None,
    newly_installed: bool,
    percentile: int,
    option: Option,
    signed_on: date,
    dedicated_room: bool,
) -> None:
    """Raise NotEligible with a reason the operator can read, or return quietly."""
    if specialty not in SPECIALTIES:
        raise InvalidInput(
            "invalid_specialty",
            f"Spécialité « {specialty} » inconnue ; attendu : {', '.join(SPECIALTIES)}.",
            "specialty",
        )
    if sector not in (1, 2, 3):
        raise InvalidInput("invalid_sector", "Le secteur doit être 1, 2 ou 3.", "sector")
    if sector == 3:
        raise NotEligible("ineligible_sector", "Les médecins de secteur 3 ne sont pas éligibles.", "sector")
    if sector == 2 and not optam:
        raise NotEligible(
            "ineligible_sector",
            "Secteur 2 sans adhésion à l'OPTAM ou l'OPTAM-ACO : non éligible.",
            "optam",
        )
    if specialty in EXCLUDED_SPECIALTIES:
        raise NotEligible(
            "ineligible_specialty",
            f"La spécialité {EXCLUDED_SPECIALTIES[specialty]} est exclue du dispositif.",
            "specialty",
        )
    if specialty in TECHNICAL_SPECIALTIES:
        if ccam_share is None:
            raise InvalidInput(
                "ccam_share_required",
                f"Pour la spécialité {TECHNICAL_SPECIALTIES[specialty]}, indiquer la part des "
                "actes techniques (CCAM) dans les honoraires des 12 derniers mois.",
                "ccam_share",
            )
        if ccam_share >= TECHNICAL_FEES_LIMIT:
            raise NotEligible(
                "ineligible_technical_fees",
                f"{TECHNICAL_SPECIALTIES[specialty].capitalize()} avec {ccam_share:g} % d'actes "
                f"techniques (CCAM) : non éligible au-delà de {TECHNICAL_FEES_LIMIT} %.",
                "ccam_share",
            )
    if ccam_share is not None and not 0 <= ccam_share <= 100:
        raise InvalidInput("invalid_ccam_share", "La part CCAM est un pourcentage (0-100).", "ccam_share")
    if percentile < MIN_PERCENTILE and not newly_installed:
        raise NotEligible(
            "ineligible_patient_count",
            f"Patientèle au percentile {percentile}, sous le P{MIN_PERCENTILE} : non éligible "
            "(sauf médecin nouvellement installé).",
            "percentile",
        )
    if option is Option.THIRD and signed_on >= THIRD_CLOSED_ON:  # R1/R8: the signature date decides
        raise NotEligible(
            "third_option_closed",
            f"L'option 1/3 ETP ne peut plus être souscrite depuis le {THIRD_CLOSED_ON:%d/%m/%Y} "
            f"(signature du {signed_on:%d/%m/%Y}).",
            "option",
        )
    if not dedicated_room:
        raise NotEligible(
            "dedicated_room_required",
            "Un local dédié et équipé pour l'assistant médical est requis.",
            "dedicated_room",
        )


def second_assistant_refusals(
    *, specialty: str, mep: bool, option: Option, contract_year: int, objectives_met: bool, zip_area: bool
) -> list[str]:
    """R18: the reasons a second assistant cannot be funded (empty list: eligible)."""
    reasons = []
    if specialty != "general_practice" or mep:
        reasons.append("réservé aux médecins généralistes (hors MEP)")
    if option is not Option.FULL:
        reasons.append("l'option en cours doit être 1 ETP")
    if contract_year < 3:
        reasons.append("à partir de la 3e année du contrat")
    if not objectives_met:
        reasons.append("les objectifs doivent être atteints")
    if not zip_area:
        reasons.append("le cabinet doit être en zone d'intervention prioritaire (ZIP)")
    return reasons
