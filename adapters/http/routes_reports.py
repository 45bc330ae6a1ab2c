"""Portfolio reads (dashboard, ledger, work queue), limited to the caller's CPAMs, and the simulator."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Query

from adapters.http.auth import require
from adapters.http.read_models import LedgerQuery
from adapters.http.routes_conventions import READ_ERRORS
from adapters.http.schemas import Dashboard, Day, Estimate, Ledger, WorkQueue
from adapters.http.services import Services, services
from adapters.users import Permission, User
from domain.estimate import estimate as estimate_aid
from domain.values import Modulation, Option, Tier

router = APIRouter(tags=["portfolio"])
REPORT_ERRORS = {k: v for k, v in READ_ERRORS.items() if k != 404}


@router.get("/dashboard", response_model=Dashboard, responses=REPORT_ERRORS, summary="Tableau de bord du portefeuille")
def dashboard(user: User = Depends(require(Permission.REPORTS)), svc: Services = Depends(services)) -> dict[str, Any]:
    return svc.read_models.dashboard(user.scope(), svc.clock())


@router.get("/ledger", response_model=Ledger, responses=REPORT_ERRORS, summary="Grand livre des échéances")
def ledger(
    cpam: Annotated[str | None, Query(pattern=r"^\d{3}$")] = None,
    status: Literal["due", "paid", "cancelled"] | None = None,
    due_from: Day | None = None,
    due_to: Day | None = None,
    offset: Annotated[int, Query(ge=0, le=10_000_000)] = 0,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    user: User = Depends(require(Permission.REPORTS)),
    svc: Services = Depends(services),
) -> dict[str, Any]:
    query = LedgerQuery(cpam=cpam, status=status, due_from=due_from, due_to=due_to, offset=offset, limit=limit)
    total, items, totals = svc.read_models.ledger(user.scope(), query)
    return {"total": total, "offset": offset, "limit": limit, "items": items, "totals": totals}


@router.get("/work-queue", response_model=WorkQueue, responses=REPORT_ERRORS, summary="File de travail / calendrier")
def work_queue(
    horizon_days: Annotated[int, Query(ge=0, le=3660, description="Ce qui tombe d'ici N jours.")] = 30,
    overdue_only: bool = False,
    offset: Annotated[int, Query(ge=0, le=10_000_000)] = 0,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    user: User = Depends(require(Permission.REPORTS)),
    svc: Services = Depends(services),
) -> dict[str, Any]:
    today = svc.clock()
    total, items = svc.read_models.work_queue(
        user.scope(), today, today + timedelta(days=horizon_days), overdue_only, offset, limit
    )
    return {"total": total, "offset": offset, "limit": limit, "today": today, "items": items}


@router.get("/estimate", response_model=Estimate, responses=REPORT_ERRORS, summary="Simulateur de l'aide")
def estimate(
    option: Option,
    tier: Tier,
    effective: Day,
    years: Annotated[int, Query(ge=1, le=50)] = 5,
    attainment: Annotated[
        Decimal | None, Query(ge=0, le=1, max_digits=6, description="Atteinte (0-1) des années 3 et suivantes.")
    ] = None,
    modulation: Modulation = Modulation.PROPORTIONAL,
    user: User = Depends(require(Permission.READ)),
) -> dict[str, Any]:
    rows = estimate_aid(
        option=option, tier=tier, effective=effective, years=years, attainment=attainment, modulation=modulation
    )
    return {"option": option, "tier": tier, "effective": effective, "years": rows}
