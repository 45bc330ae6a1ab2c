"""The operator's forms, one per command model, all drawn and read by ``forms``.

A form carries the convention's version as the page read it (the API's ``If-Match``) and its own
idempotency key, both hidden: submitting twice records once (the second submission gets the first
result), and a form opened on an older version is refused and says what changed since. Same
checks as the API, in the same order: signed in, role (403), CSRF (403), the convention in the
user's CPAMs (404), the model (refusals next to their fields), then the application decides.
"""

from __future__ import annotations

import re
import uuid
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response
from pydantic import ValidationError

from adapters.users import Permission
from adapters.web import forms
from adapters.web.pages import PREFIX, PageError, checked_form, page, redirect, services, signed_in
from adapters.web.routes import convention_or_404
from adapters.web.session import Session
from domain.commands import COMMANDS, Command, Sign
from domain.convention import CommandMeta
from domain.errors import DomainError, StaleVersion
from domain.views import convention_view
from projections.history import line

router = APIRouter(prefix=PREFIX, include_in_schema=False)
BY_RESOURCE = {c.resource: c for c in COMMANDS if c is not Sign}
_KEY = re.compile(r"[A-Za-z0-9-]{8,64}")


def _command(resource: str) -> type[Command]:
    if resource not in BY_RESOURCE:
        raise PageError(404, "Page introuvable", "Aucune action ne porte ce nom.")
    return BY_RESOURCE[resource]


def _form(
    request: Request, session: Session, model: type[Command], *, status: int = 200, values: dict[str, Any],
    errors: dict[str, str] | None = None, key: str | None = None, version: int | None = None,
    conv: dict[str, Any] | None = None, stale: list[dict[str, Any]] | None = None,
) -> HTMLResponse:  # fmt: skip
    """The form of ``model``, with what was typed and the refusals next to their fields."""
    specs = _specs(model, session)
    errors = errors or {}
    action = f"{PREFIX}/conventions/{conv['id']}/{model.resource}" if conv else f"{PREFIX}/conventions/nouvelle"
    return page(
        request, "form.html", session, status=status, nav="conventions", model=model, specs=specs, values=values,
        errors=errors, key=key or str(uuid.uuid4()), version=version, c=conv, stale=stale, action=action,
        first_error=forms.first_refused(specs, errors), freshness=None,
    )  # fmt: skip


def _specs(model: type[Command], session: Session) -> list[forms.FieldSpec]:
    """The model's form; a user attached to some CPAMs chooses the signature's CPAM among them."""
    specs = forms.specs(model)
    scope = session.user.scope()
    for spec in specs:
        if spec.name == "cpam_code" and scope is not None:
            spec.kind, spec.choices = "select", [(code, f"CPAM {code}") for code in sorted(scope)]
    return specs


def _meta(session: Session, form: Any, request: Request) -> CommandMeta:
    key = str(form.get("key") or "")
    if not _KEY.fullmatch(key):
        raise PageError(400, "Formulaire incomplet", "Clé du formulaire absente : rouvrez la page et recommencez.")
    return CommandMeta(actor=session.user.name, command_id=f"web:{session.user.name}:{key}",
                       request_id=getattr(request.state, "request_id", None))  # fmt: skip


# ----------------------------------------------------------------------------- signature
@router.get("/conventions/nouvelle")
def sign_form(request: Request) -> HTMLResponse:
    session = signed_in(request, Permission.WRITE)
    specs = _specs(Sign, session)
    values = forms.initial(specs, request.query_params)
    if not values.get("cpam_code") and session.user.scope():
        values["cpam_code"] = sorted(session.user.scope() or [])[0]
    return _form(request, session, Sign, values=values)


@router.post("/conventions/nouvelle")
async def sign(request: Request) -> Response:
    session = signed_in(request, Permission.WRITE)
    form = await checked_form(request, session)
    specs = _specs(Sign, session)
    typed = forms.submitted(specs, form)
    key = str(form.get("key") or "")
    meta = _meta(session, form, request)
    try:
        command = Sign.model_validate(forms.parse(specs, form))
    except ValidationError as error:
        return _form(request, session, Sign, status=422, values=typed, key=key,
                     errors=forms.validation_errors(Sign, error))  # fmt: skip
    if not session.user.sees(command.cpam_code):
        errors = {"cpam_code": f"Vous n'êtes pas habilité pour la CPAM {command.cpam_code}."}
        return _form(request, session, Sign, status=403, values=typed, key=key, errors=errors)
    try:
        result = services(request).app.handle(command.with_default_reason(), meta)
    except DomainError as error:
        return _form(request, session, Sign, status=_status(error), values=typed, key=key,
                     errors=_errors(Sign, error))  # fmt: skip
    return redirect(f"/conventions/{result['id']}?fait={Sign.resource}&v={result['version']}")


# ----------------------------------------------------------------------------- commands on a convention
@router.get("/conventions/{convention_id}/{resource}")
def command_form(request: Request, convention_id: str, resource: str) -> HTMLResponse:
    session = signed_in(request, Permission.WRITE)
    model = _command(resource)
    svc = services(request)
    cid = convention_or_404(svc.scope, session.user, convention_id)
    conv = svc.app.get(cid)
    specs = forms.specs(model)
    return _form(request, session, model, values=forms.initial(specs, request.query_params), version=conv.version,
                 conv=convention_view(conv, svc.clock()))  # fmt: skip


@router.post("/conventions/{convention_id}/{resource}")
async def command(request: Request, convention_id: str, resource: str) -> Response:
    session = signed_in(request, Permission.WRITE)
    model = _command(resource)
    form = await checked_form(request, session)
    svc = services(request)
    cid = convention_or_404(svc.scope, session.user, convention_id)
    specs = forms.specs(model)
    typed, key = forms.submitted(specs, form), str(form.get("key") or "")
    version = _version(form)
    meta = _meta(session, form, request)

    def again(status: int, errors: dict[str, str], **more: Any) -> HTMLResponse:
        conv = convention_view(svc.app.get(cid), svc.clock())
        return _form(request, session, model, status=status, values=typed, key=more.pop("key", key), errors=errors,
                     version=more.pop("version", version), conv=conv, **more)  # fmt: skip

    try:
        command = model.model_validate(forms.parse(specs, form))
    except ValidationError as error:
        return again(422, forms.validation_errors(model, error))
    try:
        result = svc.app.handle(command.with_default_reason(), meta, cid, version)
    except StaleVersion:
        history = svc.app.history(cid)
        changes = [line(e) for e in history[version or 0 :]]
        # a new key: the operator re-reads what changed, and a new submission is a new decision
        return again(409, {}, stale=changes, version=len(history), key=str(uuid.uuid4()))
    except DomainError as error:
        return again(_status(error), _errors(model, error))
    return redirect(f"/conventions/{cid}?fait={model.resource}&v={result['version']}")


def _version(form: Any) -> int | None:
    text = str(form.get("version") or "")
    return int(text) if text.isdigit() and 0 < int(text) < 1_000_000_000 else None


def _status(error: DomainError) -> int:
    # the convention exists (checked before): a "not found" here is about a value typed (an instalment...)
    return {"invalid": 422, "not_found": 422, "conflict": 409, "stale": 409, "forbidden": 403}[error.kind.value]


def _errors(model: type[Command], error: DomainError) -> dict[str, str]:
    """A domain refusal next to the field it is about, or above the form."""
    return {forms.domain_error_field(model, error) or "__all__": error.message}
