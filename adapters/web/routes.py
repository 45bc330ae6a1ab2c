"""The pages operators, managers and auditors read: sign-in, conventions, one convention,
the work queue, the dashboard and the simulator. Writes are in ``routes_forms``."""

from __future__ import annotations

import re
from datetime import date
from decimal import Decimal
from typing import Annotated, Any
from uuid import UUID

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from pydantic import BaseModel, Field, TypeAdapter, ValidationError

from adapters.http.auth import ScopeGuard
from adapters.http.read_models import ListQuery, narrow
from adapters.users import Permission
from adapters.web import forms
from adapters.web.pages import PREFIX, PageError, checked_form, page, redirect, services, signed_in, state
from adapters.web.render import dashboard_charts
from adapters.web.session import authenticate
from domain.commands import COMMANDS, Sign
from domain.errors import DomainError, NotFound
from domain.estimate import estimate, estimated_attainment
from domain.fields import MAX_DAY, MIN_DAY, Day
from domain.values import Modulation, Option, Status, Tier
from domain.views import convention_view, read_day

router = APIRouter(prefix=PREFIX, include_in_schema=False)
PER_PAGE = 25
SORTS = {"number": "Numéro", "cpam": "CPAM", "name": "Médecin", "status": "Statut", "effective": "Prise d'effet",
         "-effective": "Prise d'effet (récentes d'abord)", "year": "Année de contrat"}  # fmt: skip
# What clears a work-queue line: the action (command resource) it links to.
KIND_ACTIONS = {
    "no_assistant": "hires", "training_deadline": "trainings", "review": "reviews",
    "attainment_missing": "attainments", "balance_waiting": "attainments", "secretary_replacement": "secretaries",
    "nightly_failure": "dues",
}  # fmt: skip
ACTIONS = [c for c in COMMANDS if c is not Sign]
_YEAR = re.compile(r"année (\d{1,3})")


def action_link(item: dict[str, Any]) -> str | None:
    """The form that clears a work-queue line; an attainment's year pre-filled (it is in the message)."""
    resource = KIND_ACTIONS.get(item["kind"])
    if resource is None:
        return None
    link = f"{PREFIX}/conventions/{item['convention_id']}/{resource}"
    year = _YEAR.search(item["message"]) if resource == "attainments" else None
    return f"{link}?year={year.group(1)}" if year else link


@router.get("")
@router.get("/")
def home() -> RedirectResponse:
    return redirect("/conventions")


# ----------------------------------------------------------------------------- sign-in
@router.get("/connexion")
def sign_in_page(request: Request, suite: str = "") -> HTMLResponse:
    return _sign_in_form(request, 200, _safe_back(suite), "", "")


def _sign_in_form(request: Request, status: int, back: str, error: str, name: str) -> HTMLResponse:
    sessions = state(request).sessions
    token, signed = sessions.sign_in_token()
    response = page(request, "signin.html", None, status=status, suite=back, error=error, name=name, token=token)
    sessions.remember_sign_in_token(request, response, signed)
    return response


@router.post("/connexion")
async def sign_in(request: Request) -> Response:
    form = await request.form()
    name, token = str(form.get("name") or ""), str(form.get("token") or "")
    back = _safe_back(str(form.get("suite") or ""))
    sessions = state(request).sessions
    if not sessions.sign_in_token_ok(request, str(form.get("csrf") or "")):
        return _sign_in_form(request, 403, back, "Formulaire périmé ou refusé : recommencez.", name[:64])
    user = authenticate(services(request).users, name, token)
    if user is None:
        return _sign_in_form(request, 401, back, "Nom ou jeton inconnu, ou jeton révoqué.", name[:64])
    response = RedirectResponse(back or PREFIX + "/conventions", status_code=303)
    sessions.sign_in(request, response, user, token)
    return response


@router.post("/deconnexion")
async def sign_out(request: Request) -> Response:
    session = signed_in(request)
    await checked_form(request, session)
    response = redirect("/connexion")
    state(request).sessions.sign_out(response)
    return response


def _safe_back(path: str) -> str:
    """Only a page of this site: never an address elsewhere (open redirect)."""
    return path if path.startswith(PREFIX + "/") and not path.startswith("//") and "\\" not in path else ""


# ----------------------------------------------------------------------------- conventions
@router.get("/conventions")
def conventions(
    request: Request, q: str = "", cpam: str = "", status: str = "", option: str = "", sort: str = "number",
    page_: Annotated[int, Query(alias="page")] = 1,
) -> HTMLResponse:  # fmt: skip
    session = signed_in(request)
    svc = services(request)
    query = ListQuery(
        q=q.strip()[:100] or None, cpam=cpam if cpam.isdigit() and len(cpam) == 3 else None,
        status=status if status in {s.value for s in Status} else None,
        option=option if option in {o.value for o in Option} else None,
        sort=sort if sort in SORTS else "number", page=max(1, min(page_, 100_000)), per_page=PER_PAGE,
    )  # fmt: skip
    result = svc.read_models.conventions(session.user.scope(), query)
    pages = max(1, -(-result["total"] // PER_PAGE))
    filters = {"q": q, "cpam": cpam, "status": status, "option": option, "sort": query.sort}
    return page(
        request, "conventions.html", session, nav="conventions", result=result, pages=pages, query=query,
        filters=filters, sorts=SORTS, cpams=_cpams(session.user.scope()), statuses=[s.value for s in Status],
        options=[o.value for o in Option], freshness=result["freshness"],
    )  # fmt: skip


def _cpams(scope: frozenset[str] | None) -> list[str]:
    return sorted(scope) if scope is not None else []


def convention_or_404(guard: ScopeGuard, user: Any, convention_id: str) -> UUID:
    """The id of a convention the user may see; the very same « not found » otherwise."""
    try:
        cid = UUID(convention_id)
        guard.check(user, cid)
    except (ValueError, NotFound):
        message = "Aucune convention de vos CPAM ne porte cet identifiant."
        raise PageError(404, "Convention introuvable", message) from None
    return cid


@router.get("/conventions/{convention_id}")
def convention(request: Request, convention_id: str, etat_au: str = "", fait: str = "", v: str = "") -> HTMLResponse:
    session = signed_in(request)
    svc = services(request)
    cid = convention_or_404(svc.scope, session.user, convention_id)
    as_of, as_of_error = _day(etat_au)
    current = svc.app.get(cid)
    try:
        conv = svc.app.get(cid, as_of=as_of) if as_of else current
    except NotFound as error:
        conv, as_of_error = current, error.message
        as_of = None
    view = convention_view(conv, read_day(svc.clock(), as_of=as_of))
    timeline = svc.read_models.timeline(cid) if session.user.can(Permission.HISTORY) else None
    freshness = timeline["freshness"] if timeline else svc.read_models.freshness()
    done = _done(svc.app, cid, session.user.name, fait, v, current.version)
    return page(
        request, "convention.html", session, nav="conventions", c=view, version=current.version, as_of=as_of,
        as_of_text=etat_au, as_of_error=as_of_error, timeline=timeline, freshness=freshness, actions=ACTIONS,
        done=done, today=svc.clock(),
    )  # fmt: skip


def _done(app: Any, cid: UUID, actor: str, resource: str, v: str, current: int) -> str:
    """The "recorded" banner's action, only when the event at ``version`` was recorded by this user
    (a link carrying ``?fait=`` alone, or someone else's, shows nothing)."""
    label = next((c.label for c in COMMANDS if c.resource == resource), "")
    version = int(v) if v.isdigit() and len(v) < 10 else 0
    if not label or not 1 <= version <= current:
        return ""
    return label if app.history(cid)[version - 1].actor == actor else ""


def _day(text: str) -> tuple[date | None, str]:
    if not text.strip():
        return None, ""
    value = forms.typed_value(forms.FieldSpec("as_of", "", "date", False), text)
    try:
        return TypeAdapter(Day).validate_python(value), ""  # the API's dates: 1950-2199, or refused
    except ValidationError:
        return None, f"Date attendue (JJ/MM/AAAA) entre le {MIN_DAY:%d/%m/%Y} et le {MAX_DAY:%d/%m/%Y}."


# ----------------------------------------------------------------------------- work queue
@router.get("/a-traiter")
def work_queue(
    request: Request, kind: str = "", cpam: str = "", retard: str = "", page_: Annotated[int, Query(alias="page")] = 1
) -> HTMLResponse:
    session = signed_in(request, Permission.REPORTS)
    svc = services(request)
    scope = narrow(session.user.scope(), cpam if cpam.isdigit() and len(cpam) == 3 else None)
    page_ = max(1, page_)
    result = svc.read_models.work_queue(scope, svc.clock(), bool(retard), page_, PER_PAGE, kind=kind or None)
    pages = max(1, -(-result["total"] // PER_PAGE))
    return page(
        request, "queue.html", session, nav="queue", items=result["items"],
        total=result["total"], page_number=page_, pages=pages, kinds=list(KIND_ACTIONS) + ["end_of_term"],
        link=action_link, filters={"kind": kind, "cpam": cpam, "retard": retard},
        cpams=_cpams(session.user.scope()), freshness=result["freshness"], today=result["today"],
    )  # fmt: skip


# ----------------------------------------------------------------------------- dashboard
@router.get("/tableau-de-bord")
def dashboard(request: Request) -> HTMLResponse:
    session = signed_in(request, Permission.REPORTS)
    svc = services(request)
    data = state(request).dashboards.get(svc.read_models, session.user.scope(), svc.clock())
    total = sum(row["count"] for row in data["conventions"])
    arrears = sum((Decimal(str(a["amount"])) for a in data["arrears"]), Decimal(0))
    return page(
        request, "dashboard.html", session, nav="dashboard", charts=dashboard_charts(data), total=total,
        suspended=len(data["suspensions"]), arrears=arrears, data=data, freshness=data["freshness"],
    )  # fmt: skip


# ----------------------------------------------------------------------------- simulator
class Simulation(BaseModel):
    """The simulator's question (R2-R5), rendered by the same form renderer as the commands."""

    option: Option = Field(description="Option de l'aide (R3).")
    tier: Tier = Field(description="Niveau d'aide selon le rang du médecin (R2).")
    effective: Day = Field(description="Date de prise d'effet.")
    years: int = Field(default=5, strict=True, ge=1, le=50, description="Nombre d'années à simuler.")
    attainment: Decimal | None = Field(
        default=None, ge=0, description="Atteinte des objectifs en années 3 et suivantes (fraction, ex. 0,8 ; "
        "vide : atteinte complète)."
    )  # fmt: skip
    modulation: Modulation = Field(default=Modulation.PROPORTIONAL, description="Modulation de l'aide (R4).")


@router.get("/simulateur")
def simulator(request: Request) -> HTMLResponse:
    session = signed_in(request)
    specs = forms.specs(Simulation)
    params = request.query_params
    values = forms.initial(specs, params)
    errors: dict[str, str] = {}
    rows: list[dict[str, Any]] = []
    if "option" in params:
        values = forms.submitted(specs, params)
        try:
            ask = Simulation.model_validate(forms.parse(specs, params))
            given = estimated_attainment(fraction=ask.attainment)
            rows = estimate(option=ask.option, tier=ask.tier, effective=ask.effective, years=ask.years,
                            attainment=given.value if given else None, modulation=ask.modulation)  # fmt: skip
        except ValidationError as error:
            errors = forms.validation_errors(Simulation, error)
        except DomainError as error:
            errors = {forms.domain_error_field(Simulation, error) or "__all__": error.message}
    total = sum((r["amount"] for r in rows), Decimal(0))
    return page(
        request, "simulator.html", session, nav="simulator", specs=specs, values=values, errors=errors, rows=rows,
        total=total, freshness=None,
    )  # fmt: skip
