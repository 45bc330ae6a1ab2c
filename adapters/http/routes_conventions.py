"""``/conventions``: the list, signature, a convention's state, history and instalments, and one
POST sub-resource per operator intention. Same resources as the future operator web pages."""

from __future__ import annotations

from typing import Annotated, Any, Literal
from uuid import UUID

from annotated_types import Interval
from fastapi import APIRouter, Depends, Path, Query, Response
from fastapi.responses import JSONResponse

from adapters.http.auth import require
from adapters.http.errors import ApiError
from adapters.http.read_models import ListQuery
from adapters.http.schemas import (
    QUERY_INT,
    REQUEST_BODIES,
    CommandResult,
    ConventionList,
    ConventionState,
    Day,
    History,
    Instalments,
    Problem,
    Text,
    Timeline,
)
from adapters.http.services import (
    FRESHNESS_HEADERS,
    CommandContext,
    Services,
    command_context,
    command_response,
    etag,
    fresh,
    services,
)
from adapters.users import Permission, User
from domain.commands import COMMANDS, Command, Sign
from domain.values import Option, Status, Tier
from domain.views import convention_view, event_view, read_day

router = APIRouter(tags=["conventions"])

ConventionId = Annotated[UUID, Path(description="Id de la convention (UUID, dérivé de la CPAM et du numéro).")]

READ_ERRORS: dict[int | str, dict[str, Any]] = {
    401: {"model": Problem, "description": "Jeton absent, inconnu ou révoqué."},
    403: {"model": Problem, "description": "Rôle insuffisant."},
    404: {"model": Problem, "description": "Convention inconnue (ou hors des CPAM de l'appelant)."},
    422: {"model": Problem, "description": "Paramètre invalide : chaque champ fautif est nommé."},
}
COMMAND_ERRORS: dict[int | str, dict[str, Any]] = {
    **READ_ERRORS,
    409: {"model": Problem, "description": "Transition interdite ou modification concurrente : rien n'est écrit."},
    412: {"model": Problem, "description": "If-Match périmé : la convention a changé ; rien n'est écrit."},
    422: {
        "model": Problem,
        "description": "Entrée invalide, ou Idempotency-Key déjà utilisée pour une autre commande.",
    },
}
ETAG_HEADER = {"ETag": {"description": 'La version de la convention, ex. "4".', "schema": {"type": "string"}}}


# ----------------------------------------------------------------------------- reads
SORTS = ["number", "cpam", "name", "status", "option", "tier", "year", "effective", "signed"]
Sort = Literal[tuple(SORTS + [f"-{s}" for s in SORTS])]  # type: ignore[valid-type]


@router.get(
    "/conventions",
    response_model=ConventionList,
    responses={200: {"headers": FRESHNESS_HEADERS}, **READ_ERRORS},
    summary="Liste des conventions",
)
def list_conventions(
    q: Annotated[Text | None, Query(max_length=100, description="Début du numéro, RPPS, ou partie du nom.")] = None,
    cpam: Annotated[str | None, Query(pattern=r"^\d{3}$")] = None,
    status: Status | None = None,
    option: Option | None = None,
    tier: Tier | None = None,
    contract_year: Annotated[int | None, Interval(ge=0, le=100), QUERY_INT, Query()] = None,
    sort: Annotated[Sort, Query(description="Colonne de tri ; préfixe « - » : décroissant.")] = "number",
    page: Annotated[int, Interval(ge=1, le=100_000), QUERY_INT, Query()] = 1,
    per_page: Annotated[int, Interval(ge=1, le=500), QUERY_INT, Query()] = 50,
    user: User = Depends(require(Permission.READ)),
    svc: Services = Depends(services),
) -> Response:
    query = ListQuery(
        q=q, cpam=cpam, status=status and status.value, option=option and option.value, tier=tier and tier.value,
        contract_year=contract_year, sort=sort, page=page, per_page=per_page,
    )  # fmt: skip
    return fresh(ConventionList, svc.read_models.conventions(user.scope(), query))


@router.get(
    "/conventions/{convention_id}",
    response_model=ConventionState,
    responses={200: {"headers": ETAG_HEADER}, **READ_ERRORS},
    summary="État d'une convention",
)
def get_convention(
    convention_id: ConventionId,
    as_of: Annotated[Day | None, Query(description="État au vu des événements effectifs à cette date.")] = None,
    version: Annotated[
        int | None, Interval(ge=1, le=1_000_000_000), QUERY_INT, Query(description="État à cette version.")
    ] = None,
    user: User = Depends(require(Permission.READ)),
    svc: Services = Depends(services),
) -> JSONResponse:
    if as_of is not None and version is not None:
        raise ApiError(422, "as_of_or_version", "Donner as_of ou version, pas les deux.", "as_of")
    svc.scope.check(user, convention_id)
    conv = svc.app.get(convention_id, version=version, as_of=as_of)
    view = ConventionState.model_validate(convention_view(conv, read_day(svc.clock(), as_of=as_of, version=version)))
    view = view.dump()
    return JSONResponse(view, headers={"ETag": etag(conv.version)})


@router.get(
    "/conventions/{convention_id}/history",
    response_model=History,
    responses=READ_ERRORS,
    summary="Historique (piste d'audit)",
)
def get_history(
    convention_id: ConventionId,
    user: User = Depends(require(Permission.HISTORY)),
    svc: Services = Depends(services),
) -> dict[str, Any]:
    svc.scope.check(user, convention_id)
    return {"id": str(convention_id), "events": [event_view(e) for e in svc.app.history(convention_id)]}


@router.get(
    "/conventions/{convention_id}/timeline",
    response_model=Timeline,
    responses={200: {"headers": FRESHNESS_HEADERS}, **READ_ERRORS},
    summary="Chronologie lisible (une phrase par événement)",
)
def get_timeline(
    convention_id: ConventionId,
    user: User = Depends(require(Permission.HISTORY)),
    svc: Services = Depends(services),
) -> Response:
    svc.scope.check(user, convention_id)
    return fresh(Timeline, svc.read_models.timeline(convention_id))


@router.get(
    "/conventions/{convention_id}/instalments",
    response_model=Instalments,
    responses={200: {"headers": ETAG_HEADER}, **READ_ERRORS},
    summary="Échéances d'une convention",
)
def get_instalments(
    convention_id: ConventionId,
    user: User = Depends(require(Permission.READ)),
    svc: Services = Depends(services),
) -> JSONResponse:
    svc.scope.check(user, convention_id)
    conv = svc.app.get(convention_id)
    view = ConventionState.model_validate(convention_view(conv, svc.clock())).dump()
    body = Instalments.model_validate(
        {"id": view["id"], "version": view["version"], "instalments": view["instalments"]}
    )
    return JSONResponse(body.model_dump(mode="json"), headers={"ETag": etag(conv.version)})


# ----------------------------------------------------------------------------- signature
SignBody = REQUEST_BODIES[Sign]


@router.post(
    "/conventions",
    status_code=201,
    response_model=CommandResult,
    responses={
        201: {"headers": {**ETAG_HEADER, "Location": {"schema": {"type": "string"}}}},
        **{k: v for k, v in COMMAND_ERRORS.items() if k != 404},
    },
    summary=Sign.label,
)
def sign(body: SignBody, ctx: CommandContext = Depends(command_context)) -> JSONResponse:  # type: ignore[valid-type]
    ctx.expected_version  # noqa: B018 - an unusable If-Match is a 412, after the body's 422
    if not ctx.user.sees(body.cpam_code):
        raise ApiError(403, "cpam_not_allowed", f"Vous n'êtes pas habilité pour la CPAM {body.cpam_code}.")
    result = ctx.services.app.handle(body.with_default_reason(), ctx.meta())  # names no other CPAM's contract
    return command_response(result, 201, location=f"/conventions/{result['id']}")


# ----------------------------------------------------------------------------- commands
def _command_route(command: type[Command]) -> None:
    """``POST /conventions/{id}/<resource>``: the body is the command model, the rest is shared."""
    body_type = REQUEST_BODIES[command]

    def endpoint(convention_id: UUID, body: Command, ctx: CommandContext) -> JSONResponse:
        return ctx.run(convention_id, body)

    endpoint.__name__ = endpoint.__qualname__ = command.intention
    endpoint.__annotations__ = {
        "convention_id": ConventionId, "body": body_type,
        "ctx": Annotated[CommandContext, Depends(command_context)], "return": JSONResponse,
    }  # fmt: skip
    router.post(
        f"/conventions/{{convention_id}}/{command.resource}",
        summary=command.label,
        description=command.__doc__,
        response_model=CommandResult,
        responses={200: {"headers": ETAG_HEADER}, **COMMAND_ERRORS},
    )(endpoint)


for _command in COMMANDS:
    if _command is not Sign:
        _command_route(_command)
