"""The aid simulator: what a convention would receive, year by year (R2-R4)."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal

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
    """Amounts of years 1..``years``; ``attainment`` (0-1) applies to years 3+ (else full)."""
    option, tier, modulation = Option(option), Tier(tier), Modulation(modulation)
    if not 1 <= years <= 50:
        raise InvalidInput("invalid_years", "Le nombre d'années doit être entre 1 et 50.", "years")
    if attainment is not None and not Decimal(0) <= attainment <= Decimal(1):
        raise InvalidInput("invalid_attainment", "L'atteinte est une fraction entre 0 et 1.", "attainment")
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
