"""Portfolio reads (dashboard, ledger, work queue), limited to the caller's CPAMs, and the simulator."""

from __future__ import annotations

from decimal import Decimal
from typing import Annotated, Any, Literal

from annotated_types import Interval
from fastapi import APIRouter, Depends, Query, Response
from pydantic import Field

from adapters.http.auth import require
from adapters.http.read_models import LedgerQuery
from adapters.http.routes_conventions import READ_ERRORS
from adapters.http.schemas import DECIMAL_IN, QUERY_INT, Dashboard, Day, Estimate, Ledger, QueryBool, WorkQueue
from adapters.http.services import FRESHNESS_HEADERS, Services, fresh, services
from adapters.users import Permission, User
from domain.estimate import estimate as estimate_aid
from domain.values import Modulation, Option, Tier

router = APIRouter(tags=["portfolio"])
REPORT_ERRORS = {k: v for k, v in READ_ERRORS.items() if k != 404}
FRESH_REPORT = {200: {"headers": FRESHNESS_HEADERS}, **REPORT_ERRORS}
Page = Annotated[int, Interval(ge=1, le=100_000), QUERY_INT, Query()]
PerPage = Annotated[int, Interval(ge=1, le=1000), QUERY_INT, Query()]  # the reports' pages: up to 1000 rows
Reports = Annotated[User, Depends(require(Permission.REPORTS))]


@router.get("/dashboard", response_model=Dashboard, responses=FRESH_REPORT, summary="Tableau de bord du portefeuille")
def dashboard(user: Reports, svc: Services = Depends(services)) -> Response:
    return fresh(Dashboard, svc.read_models.dashboard(user.scope(), svc.clock()))


@router.get("/ledger", response_model=Ledger, responses=FRESH_REPORT, summary="Grand livre des échéances")
def ledger(
    cpam: Annotated[str | None, Query(pattern=r"^\d{3}$")] = None,
    status: Literal["due", "paid", "cancelled"] | None = None,
    year: Annotated[int | None, Interval(ge=1, le=100), QUERY_INT, Query(description="Année de contrat.")] = None,
    due_from: Day | None = None,
    due_to: Day | None = None,
    page: Page = 1,
    per_page: PerPage = 100,
    *,
    user: Reports,
    svc: Services = Depends(services),
) -> Response:
    query = LedgerQuery(
        cpam=cpam, status=status, year=year, due_from=due_from, due_to=due_to, page=page, per_page=per_page
    )
    return fresh(Ledger, svc.read_models.ledger(user.scope(), query))


@router.get("/work-queue", response_model=WorkQueue, responses=FRESH_REPORT, summary="File de travail")
def work_queue(
    overdue_only: Annotated[QueryBool, Query(description="true : seulement ce qui est en retard.")] = False,
    page: Page = 1,
    per_page: PerPage = 100,
    *,
    user: Reports,
    svc: Services = Depends(services),
) -> Response:
    """What operators must do, overdue first (reviews, attainments, balances, training, end of term)."""
    return fresh(WorkQueue, svc.read_models.work_queue(user.scope(), svc.clock(), overdue_only, page, per_page))


@router.get("/estimate", response_model=Estimate, responses=REPORT_ERRORS, summary="Simulateur de l'aide")
def estimate(
    option: Option,
    tier: Tier,
    effective: Day,
    years: Annotated[int, Interval(ge=1, le=50), QUERY_INT, Query()] = 5,
    attainment: Annotated[
        Decimal | None,
        Field(ge=0, le=1, max_digits=6),
        DECIMAL_IN,
        Query(description="Atteinte (0-1) des années 3 et suivantes."),
    ] = None,
    modulation: Modulation = Modulation.PROPORTIONAL,
    user: User = Depends(require(Permission.READ)),
) -> dict[str, Any]:
    rows = estimate_aid(
        option=option, tier=tier, effective=effective, years=years, attainment=attainment, modulation=modulation
    )
    return {"option": option, "tier": tier, "effective": effective, "years": rows}
