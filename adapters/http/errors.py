"""Every refusal as ``application/problem+json`` (RFC 9457) with a stable code.

Domain errors map by kind (422, 404, 409, 412, 403); FastAPI's request-validation errors are
remapped so each invalid field is named; anything unexpected is a 500 problem without details
(the traceback goes to the log only), except the database being unreachable, which is a 503 with
``Retry-After`` (the client may retry; the service recovers by itself when the database is back).
A client never sees a stack trace or an HTML page.
"""

from __future__ import annotations

from typing import Any

import structlog
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from starlette.exceptions import HTTPException as StarletteHTTPException

from adapters.http.schemas import FieldError, Problem
from domain.errors import DomainError, ErrorKind

PROBLEM_JSON = "application/problem+json"
PROBLEM_BASE = "https://cpam-conventions.invalid/problems/"

STATUS_OF_KIND = {
    ErrorKind.INVALID: 422,
    ErrorKind.NOT_FOUND: 404,
    ErrorKind.CONFLICT: 409,
    ErrorKind.STALE: 412,
    ErrorKind.FORBIDDEN: 403,
}
TITLES = {
    400: "Bad Request",
    401: "Unauthorized",
    403: "Forbidden",
    404: "Not Found",
    405: "Method Not Allowed",
    409: "Conflict",
    412: "Precondition Failed",
    413: "Content Too Large",
    415: "Unsupported Media Type",
    422: "Unprocessable Content",
    500: "Internal Server Error",
    503: "Service Unavailable",
}

log = structlog.get_logger("http")


class ApiError(Exception):
    """A refusal raised by the HTTP layer itself (authentication, permissions, headers)."""

    def __init__(self, status: int, code: str, detail: str, field: str | None = None) -> None:
        super().__init__(detail)
        self.status, self.code, self.detail, self.field = status, code, detail, field


def problem(
    status: int,
    code: str,
    detail: str,
    errors: list[FieldError] | None = None,
    request: Request | None = None,
    headers: dict[str, str] | None = None,
) -> JSONResponse:
    body = Problem(
        type=PROBLEM_BASE + code,
        title=TITLES.get(status, "Error"),
        status=status,
        detail=detail,
        code=code,
        errors=errors or [],
        request_id=_request_id(request),
    )
    return JSONResponse(body.model_dump(mode="json"), status_code=status, media_type=PROBLEM_JSON, headers=headers)


def _request_id(request: Request | None) -> str | None:
    if request is None:
        return None
    return getattr(request.state, "request_id", None)


def _field_errors(field: str | None, code: str, message: str) -> list[FieldError]:
    return [FieldError(field=field, code=code, message=message)] if field else []


async def on_domain_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, DomainError)
    status = STATUS_OF_KIND.get(exc.kind, 422)
    errors = _field_errors(exc.field, exc.code, exc.message) if status == 422 else []
    return problem(status, exc.code, exc.message, errors, request)


def _as_page(request: Request, status: int, detail: str, headers: dict[str, str] | None = None) -> Response | None:
    """A web page's unavailability as a page of the site, not JSON: the web adapter installs
    ``app.state.error_page`` and its pages live under ``/web``."""
    render = getattr(request.app.state, "error_page", None)
    if render is None or not request.url.path.startswith("/web"):
        return None
    response: Response = render(request, status, detail, headers or {})
    return response


async def on_api_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, ApiError)
    if exc.status >= 500 and (page := _as_page(request, exc.status, exc.detail)) is not None:
        return page
    headers = {"WWW-Authenticate": 'Bearer realm="conventions"'} if exc.status == 401 else None
    errors = _field_errors(exc.field, exc.code, exc.detail) if exc.status == 422 else []
    return problem(exc.status, exc.code, exc.detail, errors, request, headers)


def _loc(loc: tuple[Any, ...] | list[Any]) -> str:
    """("body", "policies", "modulation") -> "policies.modulation"; ("header", "if-match") -> "If-Match"."""
    parts = [str(p) for p in loc]
    if parts and parts[0] in {"body", "query", "path", "header", "cookie"}:
        where, parts = parts[0], parts[1:]
        if where == "header":
            return "-".join(w.capitalize() for w in "-".join(parts).replace("_", "-").split("-"))
    return ".".join(parts) or "body"


async def on_validation_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    errors = [
        FieldError(field=_loc(e.get("loc", ())), code=str(e.get("type", "invalid")), message=str(e.get("msg", "")))
        for e in exc.errors()
    ]
    fields = ", ".join(dict.fromkeys(e.field for e in errors))
    return problem(422, "invalid_request", f"Requête invalide : {fields}.", errors, request)


async def on_http_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)
    if exc.status_code == 400:  # a body that cannot be decoded at all: invalid input like any other
        message = "Corps de requête illisible (JSON UTF-8 attendu)."
        return problem(422, "invalid_body", message, _field_errors("body", "invalid_body", message), request)
    code = {404: "not_found", 405: "method_not_allowed", 413: "body_too_large"}.get(
        exc.status_code, f"http_{exc.status_code}"
    )
    detail = exc.detail if isinstance(exc.detail, str) else TITLES.get(exc.status_code, "Error")
    return problem(exc.status_code, code, detail, request=request, headers=getattr(exc, "headers", None))


STORE_UNAVAILABLE = (
    "Base de données injoignable pour le moment : réessayer avec la même Idempotency-Key (une commande "
    "déjà enregistrée n'est pas refaite)."
)
RETRY_AFTER = "5"


def unavailable_kinds() -> tuple[type[Exception], ...]:
    """The exceptions that say the database cannot be reached (psycopg's, eventsourcing's)."""
    import psycopg
    from eventsourcing import persistence

    return psycopg.OperationalError, psycopg.InterfaceError, persistence.OperationalError, persistence.InterfaceError


def store_unavailable(exc: BaseException) -> bool:
    """Whether ``exc`` (or what caused it) says the database cannot be reached: a lost or refused
    connection, a pool with no connection to give. Never a constraint or a programming error."""
    kinds = unavailable_kinds()
    seen: BaseException | None = exc
    for _ in range(5):
        if seen is None:
            return False
        if isinstance(seen, kinds):
            return True
        seen = seen.__cause__ or seen.__context__
    return False


async def on_store_unavailable(request: Request, exc: Exception) -> Response:
    log.warning("store_unavailable", error=f"{type(exc).__name__}: {exc}"[:300])
    if (page := _as_page(request, 503, STORE_UNAVAILABLE, {"Retry-After": RETRY_AFTER})) is not None:
        return page
    return problem(503, "store_unavailable", STORE_UNAVAILABLE, request=request, headers={"Retry-After": RETRY_AFTER})


async def on_unexpected(request: Request, exc: Exception) -> Response:
    if store_unavailable(exc):  # wrapped in another exception on its way up
        return await on_store_unavailable(request, exc)
    log.error("unexpected_error", exc_info=exc)
    return problem(500, "internal_error", "Erreur interne ; l'incident est journalisé.", request=request)


def install(app: FastAPI) -> None:
    app.add_exception_handler(DomainError, on_domain_error)
    app.add_exception_handler(ApiError, on_api_error)
    app.add_exception_handler(RequestValidationError, on_validation_error)
    app.add_exception_handler(StarletteHTTPException, on_http_error)
    for kind in unavailable_kinds():  # answered here, like a refusal: no traceback, the right status logged
        app.add_exception_handler(kind, on_store_unavailable)
    app.add_exception_handler(Exception, on_unexpected)
