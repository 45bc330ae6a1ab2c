"""Liveness and readiness, without authentication (for load balancers and orchestrators)."""

from __future__ import annotations

from fastapi import APIRouter, Depends
from fastapi.responses import JSONResponse

from adapters.http.schemas import Health, Ready
from adapters.http.services import Services, services

router = APIRouter(tags=["operations"])


@router.get("/health", response_model=Health, summary="Le processus répond")
def health() -> dict[str, str]:
    return {"status": "ok"}


@router.get(
    "/ready",
    response_model=Ready,
    responses={503: {"model": Ready, "description": "Stockage injoignable."}},
    summary="Stockage joignable, retard des projections",
)
def ready(svc: Services = Depends(services)) -> JSONResponse:
    try:
        last = svc.app.recorder.max_notification_id()
        svc.users.ping()
    except Exception as error:  # noqa: BLE001 - any failure means "not ready"
        body = Ready(status="not_ready", store=f"unreachable: {type(error).__name__}")
        return JSONResponse(body.model_dump(mode="json"), status_code=503)
    lag = svc.read_models.lag()
    return JSONResponse(Ready(status="ready", store="ok", last_notification_id=last, projections=lag).model_dump())
