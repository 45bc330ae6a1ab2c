"""Which patient count measures a doctor (R20) and the objective when the operator gives none (R27).

The objective table of the national agreement is not public: only the cases below can be derived.
The derived objective is recorded at signature with its reason, so a replay years later says why.
"""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal
from enum import StrEnum

from domain.errors import InvalidInput
from domain.values import Tier

# R27: P50 of the national distribution, the objective of a newly installed doctor within 3 years.
P50_BY_SPECIALTY = {"general_practice": 1045}
MAX_TOLERANCE = Decimal("0.95")  # a MAX doctor (>= P95) may lose 5 %
AGE_TOLERANCE = Decimal("0.90")  # a doctor aged 65 or more may lose 10 %


class PatientMeasure(StrEnum):
    """R20: a GP is measured by the patientèle médecin traitant, other specialties by the file active."""

    PMT = "pmt"
    FILE_ACTIVE = "file_active"

    @property
    def label(self) -> str:
        return "patientèle médecin traitant" if self is PatientMeasure.PMT else "file active"


def patient_measure(specialty: str) -> PatientMeasure:
    return PatientMeasure.PMT if specialty == "general_practice" else PatientMeasure.FILE_ACTIVE


class ObjectiveBasis(StrEnum):
    """Where the contracted objective comes from (R27)."""

    GIVEN = "given"  # the operator gave it
    MAX_TOLERANCE = "max_tolerance"
    AGE_TOLERANCE = "age_tolerance"
    NEWLY_INSTALLED_P50 = "newly_installed_p50"


def default_objective(
    *, tier: Tier, initial: int, aged_65_or_more: bool, newly_installed: bool, specialty: str
) -> tuple[int, ObjectiveBasis, str]:
    """R27: (target, basis, reason in French) or ``InvalidInput`` when the objective must be given.

    A doctor both MAX and aged 65 or more gets the 10 % tolerance: both apply, the more lenient wins.
    """
    if aged_65_or_more:
        target = _times(initial, AGE_TOLERANCE)
        return (
            target,
            ObjectiveBasis.AGE_TOLERANCE,
            (f"médecin de 65 ans ou plus : maintien à 10 % près ({initial} x 0,90 = {target})"),
        )
    if tier is Tier.MAX:
        target = _times(initial, MAX_TOLERANCE)
        return (
            target,
            ObjectiveBasis.MAX_TOLERANCE,
            (f"médecin au-delà du P95 : maintien à 5 % près ({initial} x 0,95 = {target})"),
        )
    if newly_installed and specialty in P50_BY_SPECIALTY:
        target = P50_BY_SPECIALTY[specialty]
        return (
            target,
            ObjectiveBasis.NEWLY_INSTALLED_P50,
            (f"médecin nouvellement installé : atteindre le P50 de la spécialité ({target} patients) en 3 ans"),
        )
    raise InvalidInput(
        "target_required",
        "Objectif de patientèle à indiquer : il ne se déduit que pour un médecin au-delà du P95, de 65 ans "
        "ou plus, ou généraliste nouvellement installé.",
        "target",
    )


def _times(initial: int, factor: Decimal) -> int:
    return int((Decimal(initial) * factor).to_integral_value(rounding=ROUND_HALF_UP))
