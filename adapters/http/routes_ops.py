"""Liveness and readiness, without authentication (for load balancers and orchestrators)."""

from __future__ import annotations

from fastapi import APIRouter, Depends
from fastapi.responses import JSONResponse, Response

from adapters.http.schemas import Health, Ready
from adapters.http.services import Services, services

router = APIRouter(tags=["operations"])


@router.get("/health", response_model=Health, summary="Le processus répond")
async def health() -> dict[str, str]:
    """On the event loop, not in a worker thread: the answer stays immediate while every thread
    waits for a database that is away (``CONVENTIONS_HTTP_THREADS``)."""
    return {"status": "ok"}


@router.get("/ping", status_code=204, response_class=Response, summary="Rien : le plafond de la pile HTTP")
def ping() -> Response:
    """Answers 204 without touching the store or the token: what the HTTP stack alone costs
    (uvicorn, middleware, routing), the ceiling ``bench/load.py`` measures the API against."""
    return Response(status_code=204)


@router.get(
    "/ready",
    response_model=Ready,
    responses={
        503: {
            "model": Ready,
            "description": "Stockage injoignable, modèles de lecture pas encore construits par le suiveur, ou en "
            "retard de plus de CONVENTIONS_READY_MAX_LAG événements (le retard est dans le corps).",
        }
    },
    summary="Stockage joignable, modèles de lecture à jour",
)
def ready(svc: Services = Depends(services)) -> JSONResponse:
    """Ready when the store answers and the read models are at most ``ready_max_lag`` events behind:
    a process whose lists would be far behind the log is taken out of the load balancer. With a
    projection follower (``CONVENTIONS_PROJECTIONS=follower``), read models it has not built yet are
    not ready either: their lists would be empty."""
    try:
        last = svc.app.head() or None  # null while the log is empty
        svc.users.ping()
    except Exception as error:  # noqa: BLE001 - any failure means "not ready"
        body = Ready(status="not_ready", store=f"unreachable: {type(error).__name__}")
        return JSONResponse(body.model_dump(mode="json"), status_code=503)
    freshness = svc.read_models.freshness()
    behind = freshness["lag"] > svc.ready_max_lag or bool(svc.read_models.unbuilt())
    body = Ready(
        status="not_ready" if behind else "ready", store="ok", last_notification_id=last, lag=freshness["lag"],
        max_lag=svc.ready_max_lag, freshness=freshness, projections=svc.read_models.lag(),
    )  # fmt: skip
    return JSONResponse(body.model_dump(mode="json"), status_code=503 if behind else 200)
