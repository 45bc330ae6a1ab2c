"""The FastAPI application: ``create_app(settings, clock)`` puts the routes, error handlers and
middleware around the services the composition root builds for one configuration.

``create_app_from_env`` is the import-string factory uvicorn uses when it runs several workers:
each worker process builds its own application from the ``CONVENTIONS_`` environment.
"""

from __future__ import annotations

import re
import time
import uuid
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from datetime import date
from typing import Any

import anyio.to_thread
import structlog
from fastapi import APIRouter, FastAPI, Request, Response
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.openapi.utils import get_openapi
from fastapi.responses import HTMLResponse
from fastapi.staticfiles import StaticFiles
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.routing import Match, Mount, Router
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from adapters.composition import build_services
from adapters.http import errors
from adapters.http.errors import PROBLEM_JSON
from adapters.http.routes_conventions import router as conventions_router
from adapters.http.routes_ops import router as ops_router
from adapters.http.routes_reports import router as reports_router
from adapters.http.services import Services
from adapters.settings import Settings
from adapters.users import build_user_store
from adapters.web import install as install_web

DESCRIPTION = """\
API du back office des conventions d'aide à l'emploi d'assistant médical (CPAM).

* **Authentification** : `Authorization: Bearer <jeton>` (jeton créé par `conventions users add`).
* **Écritures sûres** : `Idempotency-Key` sur chaque POST ; `If-Match: "<version>"` (l'ETag lu) sur les commandes.
* **Erreurs** : `application/problem+json` avec un `code` stable ; 422 nomme chaque champ invalide.

Voir `docs/api.md`.
"""

MAX_BODY_BYTES = 256 * 1024  # the largest command is a few hundred bytes: refuse floods early (413)
TOO_LARGE = f"Corps de requête limité à {MAX_BODY_BYTES // 1024} Kio."
_REQUEST_ID = re.compile(r"[A-Za-z0-9._:-]{1,128}")
_CONVENTION_PATH = re.compile(r"/conventions/([^/]+)(?:/.*)?")
log = structlog.get_logger("http")


class RequestContext:
    """Pure ASGI middleware: a request id (``X-Request-ID`` or generated) bound to the logs and
    echoed back, and one JSON log line per request with its status and duration."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = dict(scope.get("headers") or [])
        header = headers.get(b"x-request-id", b"").decode("latin-1")
        request_id = header if _REQUEST_ID.fullmatch(header) else str(uuid.uuid4())
        scope.setdefault("state", {})["request_id"] = request_id
        structlog.contextvars.clear_contextvars()
        structlog.contextvars.bind_contextvars(request_id=request_id)
        status = 500
        started = time.perf_counter()
        declared = headers.get(b"content-length", b"0")
        if not declared.isdigit() or int(declared) > MAX_BODY_BYTES:
            response = errors.problem(
                413, "body_too_large", TOO_LARGE, headers={"X-Request-ID": request_id}
            )  # refused before reading a byte
            await response(scope, receive, send)
            return
        received = 0

        async def limited_receive() -> Message:
            """A body sent without (or lying about) its length is cut at the same limit."""
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > MAX_BODY_BYTES:
                    raise StarletteHTTPException(413, TOO_LARGE)
            return message

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                message.setdefault("headers", [])
                message["headers"] = [*message["headers"], (b"x-request-id", request_id.encode())]
            await send(message)

        try:
            await self.app(scope, limited_receive, send_with_id)
        finally:
            log.info(
                "request",
                request_id=request_id,
                method=scope.get("method"),
                path=scope.get("path"),
                status=status,
                duration_ms=round((time.perf_counter() - started) * 1000, 1),
                actor=scope["state"].get("actor"),
            )
            structlog.contextvars.clear_contextvars()


class Methods:
    """Pure ASGI middleware: what each route allows, answered the same way everywhere.

    ``OPTIONS`` answers 204 with ``Allow``; on a convention's resources it first asks the
    convention's GET, so an unknown or out-of-scope convention is the same 401/404 as everywhere
    (nothing says another CPAM's convention exists). ``HEAD`` on a GET route answers exactly like
    GET (status, headers, authentication) without the body; any other method the route does not
    take is a 405 problem with ``Allow``. Paths no route knows go on to the 404."""

    METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE")

    def __init__(self, app: ASGIApp, router: Router) -> None:
        self.app = app
        self.router = router

    def allowed(self, scope: Scope) -> list[str] | None:
        """The methods the path takes (empty: no route knows it; None: a mount decides)."""
        allowed = []
        for method in self.METHODS:
            for route in self.router.routes:
                match, _ = route.matches({**scope, "method": method})
                if match is Match.FULL:
                    if isinstance(route, Mount):
                        return None
                    allowed.append(method)
                    break
        if "GET" in allowed:
            allowed.insert(1, "HEAD")
        return [*allowed, "OPTIONS"] if allowed else []

    async def options(self, scope: Scope, receive: Receive, send: Send, allow: dict[str, str], cid: str | None) -> None:
        if cid is not None:  # the convention must exist for the caller, as its GET says
            path = f"/conventions/{cid}"
            probe = {**scope, "method": "GET", "path": path, "raw_path": path.encode(), "query_string": b""}
            found = False

            async def unless_found(message: Message) -> None:
                nonlocal found
                if message["type"] == "http.response.start":
                    found = message["status"] == 200
                if not found:
                    await send(message)

            await self.app(probe, receive, unless_found)
            if not found:
                return
        await Response(status_code=204, headers=allow)(scope, receive, send)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        method = scope["method"]
        if method not in ("HEAD", "OPTIONS"):
            await self.unless_refused(scope, receive, send)
            return
        allowed = self.allowed(scope)
        if not allowed:
            await self.app(scope, receive, send)
            return
        allow = {"Allow": ", ".join(allowed)}
        if method == "OPTIONS":
            convention = _CONVENTION_PATH.match(scope["path"])
            await self.options(scope, receive, send, allow, convention and convention.group(1))
        elif "HEAD" in allowed:
            await self.app({**scope, "method": "GET"}, receive, _without_body(send))
        else:
            await self.refuse(scope, receive, _without_body(send), allow)

    async def unless_refused(self, scope: Scope, receive: Receive, send: Send) -> None:
        """The request goes to the router as it is (the usual case costs nothing more); only when
        the router refuses the method (405: the path exists) is the answer replaced by the problem
        listing every method the path takes. Matching each request against the routes beforehand
        cost FastAPI's included routers a walk of every route on every request."""
        refused: list[Message] = []

        async def unless_405(message: Message) -> None:
            if refused or message["type"] == "http.response.start" and message["status"] == 405:
                refused.append(message)
            else:
                await send(message)

        await self.app(scope, receive, unless_405)
        if not refused:
            return
        allowed = self.allowed(scope)
        if not allowed:  # a mount's own 405 (or no route after all): its answer, as it was
            for message in refused:
                await send(message)
            return
        await self.refuse(scope, receive, send, {"Allow": ", ".join(allowed)})

    async def refuse(self, scope: Scope, receive: Receive, send: Send, allow: dict[str, str]) -> None:
        """The 405 problem, with every method the path takes."""
        detail = f"Méthode {scope['method'][:20]} non permise ici ; permises : {allow['Allow']}."
        response = errors.problem(405, "method_not_allowed", detail, request=Request(scope), headers=allow)
        await response(scope, receive, send)


def _without_body(send: Send) -> Send:
    """The GET answer, headers included (Content-Length too, as RFC 9110 allows), body dropped."""

    async def head(message: Message) -> None:
        if message["type"] == "http.response.body":
            if message.get("more_body", False):
                return
            message = {"type": "http.response.body", "body": b"", "more_body": False}
        await send(message)

    return head


def create_app(
    settings: Settings | None = None, clock: Callable[[], date] | None = None, *, services: Services | None = None
) -> FastAPI:
    """The API on one configuration: routes, error handlers and middleware around the services the
    composition root builds (``build_services``), or around the ``services`` given."""
    settings = settings or Settings()
    svc = services or build_services(settings, clock)
    api = FastAPI(
        title="CPAM conventions — assistant médical",
        version="1.0.0",
        description=DESCRIPTION,
        docs_url=None,
        openapi_url="/openapi.json",
        redoc_url=None,
    )
    api.state.services = svc
    api.state.settings = settings
    errors.install(api)
    for router in (ops_router, conventions_router, reports_router):
        _add_routes(api, router)
    _serve_docs(api)
    install_web(api, settings)
    api.add_middleware(Methods, router=api.router)
    api.add_middleware(RequestContext)
    api.openapi = lambda: _openapi(api)  # type: ignore[method-assign]
    return api


def _add_routes(api: FastAPI, router: APIRouter) -> None:
    """The router's routes on the app's own router rather than included: FastAPI 0.165 matches an
    included router's routes one context at a time, twice per request (about 5 % of a worker's time
    under load). Our routers have no prefix, dependencies or tags of their own to carry over."""
    if router.prefix or router.dependencies:
        raise ValueError("a router with a prefix or dependencies must be included, not added")
    api.router.routes.extend(router.routes)


def create_app_from_env() -> FastAPI:
    """Factory for ``uvicorn --factory`` (several workers): settings from the environment."""
    from adapters.logging import configure_logging

    settings = Settings()
    configure_logging(settings.log_format, settings.log_level)
    return create_served_app(settings)


def create_served_app(settings: Settings) -> FastAPI:
    """The app ``conventions serve`` runs: one that remembers the tokens it saw, until the users
    table changes (PostgreSQL, ``adapters.token_cache``), and runs at most ``http_threads`` requests'
    blocking work at once. Its listening thread and connection live as long as the process: apps
    built for a while (tests, scripts) do without."""
    api = create_app(settings, services=build_services(settings, users=build_user_store(settings, cache=True)))
    _limit_threads(api, settings.http_threads)
    return api


def _limit_threads(api: FastAPI, threads: int) -> None:
    """At most ``threads`` requests in worker threads at once (anyio's limiter, 40 by default); the
    others wait for a free one in arrival order. Each request waits on the database several times,
    and each time it must then win the interpreter back from every other thread: under 50 clients,
    40 threads per process made that a lottery; with 4 the benchmark's p99 was a quarter lower
    (docs/benchmarks.md)."""
    started = api.router.lifespan_context

    @asynccontextmanager
    async def lifespan(app: Any) -> AsyncIterator[Any]:
        anyio.to_thread.current_default_thread_limiter().total_tokens = threads  # this event loop's
        async with started(app) as state:
            yield state

    api.router.lifespan_context = lifespan


def _serve_docs(api: FastAPI) -> None:
    """The interactive page at /docs, with Swagger UI served from the package, not from a CDN
    (back-office networks and these machines have no internet access)."""
    try:
        from swagger_ui_bundle import swagger_ui_path
    except ImportError:  # pragma: no cover - the dependency is declared; fall back to FastAPI's CDN page
        swagger_ui_path = None
    static = "/docs/static"
    if swagger_ui_path is not None:
        api.mount(static, StaticFiles(directory=str(swagger_ui_path)), name="swagger-ui")
    assets = (
        {"swagger_js_url": f"{static}/swagger-ui-bundle.js", "swagger_css_url": f"{static}/swagger-ui.css",
         "swagger_favicon_url": f"{static}/favicon-32x32.png"}
        if swagger_ui_path is not None
        else {}
    )  # fmt: skip

    @api.get("/docs", include_in_schema=False)
    def docs() -> HTMLResponse:
        return get_swagger_ui_html(openapi_url="/openapi.json", title=f"{api.title} — documentation", **assets)


def _openapi(api: FastAPI) -> dict[str, Any]:
    """FastAPI's document, with error responses typed as ``application/problem+json``."""
    if api.openapi_schema:
        return api.openapi_schema
    schema = get_openapi(title=api.title, version=api.version, description=api.description, routes=api.routes)
    problem_ref = "#/components/schemas/Problem"
    for path in schema.get("paths", {}).values():
        for operation in path.values():
            for response in operation.get("responses", {}).values():
                content = response.get("content", {})
                plain = content.get("application/json", {})
                if plain.get("schema", {}).get("$ref") == problem_ref:
                    content[PROBLEM_JSON] = content.pop("application/json")
    api.openapi_schema = schema
    return schema
