"""The aid simulator: what a convention would receive, year by year (R2-R4)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal

from domain.amounts import attainment as r5_attainment
from domain.amounts import modulated_amount
from domain.calendar import plain_anniversary
from domain.errors import InvalidInput, NotEligible
from domain.regimes import THIRD_CLOSED_ON, tier_amount
from domain.values import Modulation, Option, Tier


def estimate(
    *,
    option: Option,
    tier: Tier,
    effective: date,
    years: int = 5,
    attainment: Decimal | None = None,
    modulation: Modulation = Modulation.PROPORTIONAL,
) -> list[dict[str, object]]:
    """Amounts of years 1..``years``; ``attainment`` applies to years 3+ (else full), capped to
    [0, 1] like R5 caps it (see ``estimated_attainment``, which says when it was)."""
    option, tier, modulation = Option(option), Tier(tier), Modulation(modulation)
    if not 1 <= years <= 50:
        raise InvalidInput("invalid_years", "Le nombre d'années doit être entre 1 et 50.", "years")
    if attainment is not None:
        attainment = _capped(_finite(attainment))
    if option is Option.THIRD and effective >= THIRD_CLOSED_ON:
        raise NotEligible(
            "third_option_closed",
            f"L'option 1/3 ETP ne peut être signée avec effet au {effective:%d/%m/%Y} "
            f"(fermée depuis le {THIRD_CLOSED_ON:%d/%m/%Y}).",
            "option",
        )
    out = []
    for n in range(1, years + 1):
        start = plain_anniversary(effective, n - 1)
        end = plain_anniversary(effective, n) - timedelta(days=1)
        regime, full = tier_amount(option, tier, n, start)
        amount = modulated_amount(full, n, modulation, attainment)
        out.append({"year": n, "start": start, "end": end, "regime": regime, "amount": amount})
    return out


@dataclass(frozen=True)
class EstimatedAttainment:
    """The attainment the simulator applies to years 3+, and where it comes from: a fraction as
    given (``given``, capped to [0, 1] by R5 when outside) or the patient counts (R5 computed)."""

    value: Decimal
    given: Decimal | None = None
    initial: int | None = None
    target: int | None = None
    observed: int | None = None

    @property
    def capped(self) -> bool:
        return self.given is not None and self.given != self.value

    @property
    def from_counts(self) -> bool:
        return self.observed is not None


def estimated_attainment(
    *,
    fraction: Decimal | None = None,
    initial: int | None = None,
    target: int | None = None,
    observed: int | None = None,
) -> EstimatedAttainment | None:
    """The attainment for ``estimate``: a fraction, or the three patient counts (initial, target,
    observed) from which R5 computes it, like the convention does; not both. None: full."""
    counts = (initial, target, observed)
    if fraction is not None and any(c is not None for c in counts):
        raise InvalidInput(
            "attainment_or_counts",
            "Donner l'atteinte ou les effectifs de patientèle (initial, objectif, observé), pas les deux.",
            "attainment",
        )
    if fraction is not None:
        given = _finite(fraction)
        return EstimatedAttainment(value=_capped(given), given=given)
    if all(c is None for c in counts):
        return None
    if any(c is None for c in counts):
        raise InvalidInput(
            "incomplete_counts",
            "Pour calculer l'atteinte, donner les trois effectifs : initial, objectif et observé.",
            "patients",
        )
    if any(c < 0 for c in counts):  # type: ignore[operator]
        raise InvalidInput("invalid_patients", "Un effectif de patientèle n'est pas négatif.", "patients")
    value = r5_attainment(initial, target, observed)  # type: ignore[arg-type]
    return EstimatedAttainment(value=value, initial=initial, target=target, observed=observed)


def _finite(value: Decimal) -> Decimal:
    if not value.is_finite():
        raise InvalidInput("invalid_attainment", "L'atteinte est un nombre (une fraction, ex. 0.4).", "attainment")
    return value


def _capped(value: Decimal) -> Decimal:
    """R5: attainment lies in [0, 1]."""
    return max(Decimal(0), min(Decimal(1), value))
