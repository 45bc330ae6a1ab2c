"""``/conventions``: the list, signature, a convention's state, history and instalments, and one
POST sub-resource per operator intention. Same resources as the future operator web pages."""

from __future__ import annotations

from typing import Annotated, Any, Literal
from uuid import UUID

from annotated_types import Interval
from fastapi import APIRouter, Depends, Path, Query, Request, Response
from fastapi.responses import JSONResponse

from adapters.http.auth import require
from adapters.http.errors import ApiError
from adapters.http.read_models import ListQuery
from adapters.http.schemas import (
    QUERY_INT,
    AmendmentRequest,
    AttainmentRequest,
    CommandResult,
    ConventionList,
    ConventionState,
    Day,
    DepartureRequest,
    HireRequest,
    History,
    Instalments,
    ObjectiveRequest,
    PaymentRequest,
    Problem,
    ReactivationRequest,
    ReplacementRequest,
    ReviewRequest,
    SecretaryRequest,
    SignRequest,
    SuspensionRequest,
    TerminationRequest,
    Text,
    Timeline,
    TrainingRequest,
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
from domain.convention import CommandMeta
from domain.values import Option, Policies, Status, Tier
from domain.views import convention_view, event_view

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


def _command_doc(summary: str) -> dict[str, Any]:
    return {
        "summary": summary,
        "response_model": CommandResult,
        "responses": {200: {"headers": ETAG_HEADER}, **COMMAND_ERRORS},
    }


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
    response: Response,
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
) -> dict[str, Any]:
    query = ListQuery(
        q=q, cpam=cpam, status=status and status.value, option=option and option.value, tier=tier and tier.value,
        contract_year=contract_year, sort=sort, page=page, per_page=per_page,
    )  # fmt: skip
    return fresh(response, svc.read_models.conventions(user.scope(), query))


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
    today = as_of or (svc.clock() if version is None else None)
    view = ConventionState.model_validate(convention_view(conv, today)).dump()
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
    response: Response,
    user: User = Depends(require(Permission.HISTORY)),
    svc: Services = Depends(services),
) -> dict[str, Any]:
    svc.scope.check(user, convention_id)
    return fresh(response, svc.read_models.timeline(convention_id))


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
@router.post(
    "/conventions",
    status_code=201,
    response_model=CommandResult,
    responses={
        201: {"headers": {**ETAG_HEADER, "Location": {"schema": {"type": "string"}}}},
        **{k: v for k, v in COMMAND_ERRORS.items() if k != 404},
    },
    summary="Signer une convention",
)
def sign(body: SignRequest, request: Request, ctx: CommandContext = Depends(command_context)) -> JSONResponse:
    ctx.expected_version  # noqa: B018 - an unusable If-Match is a 412, after the body's 422
    if not ctx.user.sees(body.cpam_code):
        raise ApiError(403, "cpam_not_allowed", f"Vous n'êtes pas habilité pour la CPAM {body.cpam_code}.")
    fields = body.model_dump(exclude={"reason", "policies"})
    policies = Policies(**body.policies.model_dump()) if body.policies else None
    meta: CommandMeta = ctx.meta(body.reason or "signature")
    result = ctx.services.app.sign(meta, policies=policies, **fields)  # refusals name no other CPAM's contract
    return command_response(result, 201, location=f"/conventions/{result['id']}")


# ----------------------------------------------------------------------------- commands
@router.post("/conventions/{convention_id}/hires", **_command_doc("Embauche de l'assistant"))
def hire(convention_id: ConventionId, body: HireRequest, ctx: CommandContext = Depends(command_context)) -> Any:
    return ctx.run(convention_id, body.reason or "embauche", lambda app, m, v: app.hire(
        convention_id, m, hired_on=body.hired_on, fte=body.fte, profile=body.profile,
        employer_siret=body.employer_siret, was_practice_secretary=body.was_practice_secretary,
        expected_version=v))  # fmt: skip


@router.post("/conventions/{convention_id}/secretaries", **_command_doc("Nouvelle secrétaire du cabinet (R28)"))
def secretary(
    convention_id: ConventionId, body: SecretaryRequest, ctx: CommandContext = Depends(command_context)
) -> Any:
    return ctx.run(convention_id, body.reason or "nouvelle secrétaire", lambda app, m, v: app.declare_secretary_hired(
        convention_id, m, hired_on=body.hired_on, expected_version=v))  # fmt: skip


@router.post("/conventions/{convention_id}/replacements", **_command_doc("Remplacement de l'assistant"))
def replace_assistant(
    convention_id: ConventionId, body: ReplacementRequest, ctx: CommandContext = Depends(command_context)
) -> Any:
    return ctx.run(convention_id, body.reason or "remplacement de l'assistant", lambda app, m, v: app.replace_assistant(
        convention_id, m, on=body.on, fte=body.fte, profile=body.profile, employer_siret=body.employer_siret,
        expected_version=v))  # fmt: skip


@router.post("/conventions/{convention_id}/departures", **_command_doc("Départ de l'assistant"))
def departure(
    convention_id: ConventionId, body: DepartureRequest, ctx: CommandContext = Depends(command_context)
) -> Any:
    return ctx.run(convention_id, body.reason or "départ", lambda app, m, v: app.assistant_left(
        convention_id, m, left_on=body.left_on, expected_version=v))  # fmt: skip


@router.post("/conventions/{convention_id}/trainings", **_command_doc("Formation de l'assistant achevée"))
def training(convention_id: ConventionId, body: TrainingRequest, ctx: CommandContext = Depends(command_context)) -> Any:
    return ctx.run(convention_id, body.reason or "formation achevée", lambda app, m, v: app.complete_training(
        convention_id, m, completed_on=body.completed_on, expected_version=v))  # fmt: skip


@router.post("/conventions/{convention_id}/objectives", **_command_doc("Objectif de patientèle"))
def objective(
    convention_id: ConventionId, body: ObjectiveRequest, ctx: CommandContext = Depends(command_context)
) -> Any:
    return ctx.run(convention_id, body.reason or "objectif", lambda app, m, v: app.set_objective(
        convention_id, m, from_year=body.from_year, target_patients=body.target_patients, on=body.on,
        expected_version=v))  # fmt: skip


@router.post("/conventions/{convention_id}/attainments", **_command_doc("Atteinte des objectifs d'une année"))
def attainment(
    convention_id: ConventionId, body: AttainmentRequest, ctx: CommandContext = Depends(command_context)
) -> Any:
    return ctx.run(convention_id, body.reason or "atteinte des objectifs", lambda app, m, v: app.record_attainment(
        convention_id, m, year=body.year, observed_patients=body.observed_patients, on=body.on,
        expected_version=v))  # fmt: skip


@router.post("/conventions/{convention_id}/payments", **_command_doc("Paiement d'une échéance (une seule fois)"))
def payment(convention_id: ConventionId, body: PaymentRequest, ctx: CommandContext = Depends(command_context)) -> Any:
    return ctx.run(convention_id, body.reason or "paiement", lambda app, m, v: app.record_payment(
        convention_id, m, instalment=body.instalment, paid_on=body.paid_on, reference=body.reference,
        expected_version=v))  # fmt: skip


@router.post("/conventions/{convention_id}/suspensions", **_command_doc("Suspension (avenant)"))
def suspension(
    convention_id: ConventionId, body: SuspensionRequest, ctx: CommandContext = Depends(command_context)
) -> Any:
    return ctx.run(convention_id, body.reason or "suspension", lambda app, m, v: app.suspend(
        convention_id, m, from_date=body.from_date, ground=body.ground, agreement_date=body.agreement_date,
        expected_version=v))  # fmt: skip


@router.post("/conventions/{convention_id}/reactivations", **_command_doc("Réactivation (avenant)"))
def reactivation(
    convention_id: ConventionId, body: ReactivationRequest, ctx: CommandContext = Depends(command_context)
) -> Any:
    return ctx.run(convention_id, body.reason or "réactivation", lambda app, m, v: app.reactivate(
        convention_id, m, from_date=body.from_date, expected_version=v))  # fmt: skip


@router.post("/conventions/{convention_id}/reviews", **_command_doc("Point semestriel tenu"))
def review(convention_id: ConventionId, body: ReviewRequest, ctx: CommandContext = Depends(command_context)) -> Any:
    return ctx.run(convention_id, body.reason or "point semestriel", lambda app, m, v: app.hold_review(
        convention_id, m, held_on=body.held_on, notes=body.notes, expected_version=v))  # fmt: skip


@router.post("/conventions/{convention_id}/amendments", **_command_doc("Avenant : changement d'option"))
def amendment(
    convention_id: ConventionId, body: AmendmentRequest, ctx: CommandContext = Depends(command_context)
) -> Any:
    return ctx.run(convention_id, body.reason or "avenant : changement d'option", lambda app, m, v: app.change_option(
        convention_id, m, option=body.option, from_date=body.from_date, expected_version=v))  # fmt: skip


@router.post("/conventions/{convention_id}/terminations", **_command_doc("Résiliation (solde pro rata)"))
def termination(
    convention_id: ConventionId, body: TerminationRequest, ctx: CommandContext = Depends(command_context)
) -> Any:
    return ctx.run(convention_id, body.reason or "résiliation", lambda app, m, v: app.terminate(
        convention_id, m, on=body.on, by=body.by, ground=body.ground, letter_date=body.letter_date,
        expected_version=v))  # fmt: skip
