"""Who is calling, and may they? Bearer tokens checked against the user store, roles, CPAM scope.

A convention outside the caller's CPAMs does not exist for the caller: reads and commands on it
answer the very same 404 as an unknown id, and lists, counts and dashboards leave it out.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from uuid import UUID

import structlog
from fastapi import Request, Security
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from starlette.concurrency import run_in_threadpool

from adapters.http.errors import ApiError
from adapters.users import Permission, User
from domain.application import ConventionsApp
from domain.errors import NotFound

bearer = HTTPBearer(
    auto_error=False,
    scheme_name="bearer",
    description="Jeton personnel créé par `conventions users add NOM --role RÔLE --cpam CODE`.",
)


async def current_user(request: Request, credentials: HTTPAuthorizationCredentials | None) -> User:
    """The token's user; 401 when the token is missing, unknown or revoked. A token this process saw
    lately, with no change to the users since, is answered here (``UserStore.cached``); otherwise
    the store is asked in a worker thread."""
    if credentials is None or not credentials.credentials:
        raise ApiError(401, "missing_token", "Authentification requise : en-tête « Authorization: Bearer <jeton> ».")
    users = request.app.state.services.users
    user = users.cached(credentials.credentials)
    if user is None:
        user = await run_in_threadpool(users.authenticate, credentials.credentials)
    if user is None:
        raise ApiError(401, "invalid_token", "Jeton inconnu ou révoqué.")
    request.state.actor = user.name
    structlog.contextvars.bind_contextvars(actor=user.name)
    return user


def require(permission: Permission) -> Callable[..., Awaitable[User]]:
    """A dependency: the caller, provided its role grants ``permission`` (else 403). One dependency
    over the bearer scheme, the user found inside it (``current_user``): each level of FastAPI's
    dependency solving cost about 20 µs of a worker's time per request (py-spy under load)."""

    async def dependency(  # async: FastAPI gives it no thread (current_user hops only to ask the store)
        request: Request, credentials: HTTPAuthorizationCredentials | None = Security(bearer)
    ) -> User:
        user = await current_user(request, credentials)
        if not user.can(permission):
            raise ApiError(
                403, "forbidden_role", f"Le rôle « {user.role.value} » ne permet pas cette action ({permission.value})."
            )
        return user

    dependency.__name__ = f"require_{permission.value}"
    return dependency


def unknown(conv_id: UUID) -> NotFound:
    """Exactly the domain's answer for an unknown id, so out-of-scope ids reveal nothing."""
    return NotFound("unknown_convention", f"Convention {conv_id} inconnue.", "id")


class ScopeGuard:
    """The CPAM of each convention (fixed at signature, so cached) checked against the caller's CPAMs."""

    def __init__(self, app: ConventionsApp, cache_size: int = 100_000) -> None:
        self.app = app
        self._cpams: dict[UUID, str] = {}
        self._cache_size = cache_size

    def cpam_of(self, conv_id: UUID) -> str | None:
        if (code := self._cpams.get(conv_id)) is not None:
            return code
        code = self.app.cpam_of(conv_id)
        if code is None:
            return None
        if len(self._cpams) >= self._cache_size:
            self._cpams.clear()
        self._cpams[conv_id] = code
        return code

    def check(self, user: User, conv_id: UUID) -> str:
        """The convention's CPAM, or the unknown-convention 404 when the caller may not see it."""
        code = self.cpam_of(conv_id)
        if code is None or not user.sees(code):
            raise unknown(conv_id)
        return code
