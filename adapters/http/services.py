"""What the routes share: the application, users, scope guard, read models, clock; and the
command runner that turns headers into safe writes (Idempotency-Key, If-Match, request id).

Order of the checks on a command: authentication and role, the body (422), the convention's
existence for the caller (404), then If-Match (412). A request that is invalid in itself is a 422
whatever its If-Match: the application decides the command before it compares versions.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from typing import Annotated, Any
from uuid import UUID

from fastapi import Depends, Header, Request, Response
from fastapi.responses import JSONResponse
from pydantic import BaseModel

from adapters.http.auth import ScopeGuard, require
from adapters.http.errors import ApiError
from adapters.http.read_models import ProjectionReadModels
from adapters.http.schemas import CommandResult, Freshness
from adapters.users import Permission, User, UserStore
from domain.application import ConventionsApp
from domain.commands import Command
from domain.convention import CommandMeta


@dataclass
class Services:
    app: ConventionsApp
    users: UserStore
    scope: ScopeGuard
    read_models: ProjectionReadModels
    clock: Callable[[], date]
    ready_max_lag: int = 1000


async def services(request: Request) -> Services:
    """The services (a dependency). Dependencies without I/O are ``async``: FastAPI runs a plain
    ``def`` dependency in a worker thread, and each such hop cost about as much CPU as the work of a
    simple read (py-spy under load: a third of a convention's GET in thread hand-overs)."""
    return request.app.state.services


def request_id(request: Request) -> str | None:
    return getattr(request.state, "request_id", None)


FRESHNESS_HEADERS = {
    "X-Data-As-Of": {
        "description": "Heure d'enregistrement (UTC, ISO 8601) du dernier événement pris en compte par les "
        "modèles de lecture ; absent tant qu'il n'y en a aucun.",
        "schema": {"type": "string", "format": "date-time"},
    },
    "X-Data-Lag": {
        "description": "Événements enregistrés mais pas encore pris en compte (0 : à jour).",
        "schema": {"type": "string", "pattern": "^[0-9]+$"},
    },
}


def fresh(model: type[BaseModel], body: dict[str, Any]) -> Response:
    """A read model's answer as its ``model`` says it (validated, then JSON), its ``freshness``
    copied into the headers. Built here, in the request's thread, rather than returned for FastAPI to
    validate: FastAPI would hand a plain ``def`` route's answer to another worker thread to do it."""
    view = model.model_validate(body)
    freshness = Freshness.model_validate(body["freshness"]).model_dump(mode="json")  # as the body says it
    headers = {"X-Data-Lag": str(freshness["lag"])}
    if freshness["as_of"] is not None:
        headers["X-Data-As-Of"] = freshness["as_of"]
    return Response(view.model_dump_json(by_alias=True), media_type="application/json", headers=headers)


def etag(version: int) -> str:
    return f'"{version}"'


_ETAG = re.compile(r'^(?:W/)?"?(\d{1,9})"?$')


def parse_if_match(value: str | None) -> int | None:
    """``"5"`` (or ``W/"5"``, ``5``) -> 5; ``*`` or absent -> no precondition.

    An ETag this API never issues can match no version: 412, as RFC 9110 says.
    """
    if value is None or value.strip() == "*":
        return None
    match = _ETAG.fullmatch(value.strip())
    if match is None or int(match.group(1)) < 1:
        raise ApiError(412, "invalid_if_match", f'If-Match « {value[:40]} » : ETag attendu de la forme "5".')
    return int(match.group(1))


IdempotencyKey = Annotated[
    str | None,
    Header(
        alias="Idempotency-Key",
        pattern=r"^[!-~]{1,200}$",
        description="Clé unique par opération (ex. un UUID). Rejouer la même clé avec le même corps renvoie "
        "la première réponse sans rien écrire ; la même clé avec un autre corps est refusée (422).",
        examples=["5f0c6d1e-3a57-4a59-9a1a-0f3f6c9e2b11"],
    ),
]
IfMatch = Annotated[
    str | None,
    Header(
        alias="If-Match",
        max_length=100,
        description='La version lue (ETag, ex. "4") : si la convention a changé depuis, 412 et rien n\'est écrit.',
        examples=['"4"'],
    ),
]


@dataclass
class CommandContext:
    """One write: who, under which command id, against which version (If-Match, read lazily so
    that the body is validated first)."""

    services: Services
    user: User
    command_id: str
    if_match: str | None
    request_id: str | None

    @property
    def expected_version(self) -> int | None:
        return parse_if_match(self.if_match)

    def meta(self) -> CommandMeta:
        """Who acts (the credential's user), under which command id; the reason is the command's."""
        return CommandMeta(actor=self.user.name, command_id=self.command_id, request_id=self.request_id)

    def run(self, conv_id: UUID, command: Command) -> JSONResponse:
        """Check the convention exists for the caller, run the command, answer with its ETag."""
        self.services.scope.check(self.user, conv_id)
        expected = self.expected_version
        # invalid in itself: 422 even when stale (the application decides before comparing versions)
        result = self.services.app.handle(command.with_default_reason(), self.meta(), conv_id, expected)
        return command_response(result, 200)


async def command_context(
    request: Request,
    idempotency_key: IdempotencyKey = None,
    if_match: IfMatch = None,
    user: User = Depends(require(Permission.WRITE)),
    svc: Services = Depends(services),
) -> CommandContext:
    # The key is the user's own: two users can never collide, nor replay each other's results.
    command_id = f"http:{user.name}:{idempotency_key}" if idempotency_key else ""
    return CommandContext(svc, user, command_id, if_match, request_id(request))


def command_response(result: dict[str, Any], status: int, location: str | None = None) -> JSONResponse:
    """The same result (first or replayed) always gives the same status, body and ETag."""
    body = CommandResult(
        id=result["id"],
        version=result["version"],
        recorded=result.get("recorded", result["version"]),
        value=result.get("value"),
    )
    headers = {"ETag": etag(body.version)}
    if location:
        headers["Location"] = location
    return JSONResponse(body.model_dump(mode="json"), status_code=status, headers=headers)
