"""What every page shares: who is signed in (and may they), the page response with its security
headers and freshness line, and the two ways a page ends early (to the sign-in, or an error page)."""

from __future__ import annotations

import threading
from collections import OrderedDict
from dataclasses import dataclass, field
from datetime import date
from typing import Any
from urllib.parse import quote

from fastapi import FastAPI, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.templating import Jinja2Templates

from adapters.http.read_models import ProjectionReadModels
from adapters.http.services import Services
from adapters.users import Permission
from adapters.web.render import freshness_text
from adapters.web.session import Session, Sessions, same

PREFIX = "/web"
HEADERS = {
    "Cache-Control": "no-store",
    "Content-Security-Policy": "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; "
    "form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
}
NAV = (
    ("conventions", "Conventions", "/conventions", Permission.READ),
    ("queue", "À traiter", "/a-traiter", Permission.REPORTS),
    ("dashboard", "Tableau de bord", "/tableau-de-bord", Permission.REPORTS),
    ("simulator", "Simulateur", "/simulateur", Permission.READ),
)


class DashboardCache:
    """The portfolio read model's answer depends only on the log (head and read-model position),
    the CPAMs and the day: the dashboard page reuses its last answers while nothing new was
    recorded and the read models have not moved (a computed answer reads every convention's row)."""

    def __init__(self, size: int = 32) -> None:
        self.size = size
        self._answers: OrderedDict[tuple[Any, ...], dict[str, Any]] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, read_models: ProjectionReadModels, scope: frozenset[str] | None, today: date) -> dict[str, Any]:
        now = read_models.freshness()
        key = (scope, today)
        with self._lock:
            kept = self._answers.get(key)
        if kept is not None and _log_mark(kept["freshness"]) == _log_mark(now):
            return kept
        answer = read_models.dashboard(scope, today)
        with self._lock:
            self._answers[key] = answer
            self._answers.move_to_end(key)
            while len(self._answers) > self.size:
                self._answers.popitem(last=False)
        return answer


def _log_mark(freshness: dict[str, Any]) -> tuple[int, int]:
    """Where the log and the read models stood: the same mark, the same answer."""
    return freshness["head"], freshness["position"]


@dataclass
class WebState:
    sessions: Sessions
    templates: Jinja2Templates
    timezone: str
    dashboards: DashboardCache = field(default_factory=DashboardCache)


class SignInRequired(Exception):
    def __init__(self, back: str) -> None:
        self.back = back


class PageError(Exception):
    """An error page: 403 (role), 404 (unknown or another CPAM's convention), 400..."""

    def __init__(self, status: int, title: str, message: str) -> None:
        super().__init__(message)
        self.status, self.title, self.message = status, title, message


def state(request: Request) -> WebState:
    return request.app.state.web


def services(request: Request) -> Services:
    return request.app.state.services


def signed_in(request: Request, permission: Permission = Permission.READ) -> Session:
    """The signed-in user, who must hold ``permission``; else to the sign-in page, or a 403."""
    session = state(request).sessions.current(request, services(request).users)
    if session is None:
        back = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        raise SignInRequired(back)
    request.state.actor = session.user.name  # in the request's log line, as for the API
    if not session.user.can(permission):
        raise PageError(403, "Action non permise", f"Votre rôle ({session.user.role.value}) ne permet pas cette page.")
    return session


async def checked_form(request: Request, session: Session) -> Any:
    """A POSTed form whose CSRF token is the session's (403 otherwise: nothing is done)."""
    form = await request.form()
    if not same(session.csrf, str(form.get("csrf") or "")):
        message = "Jeton de sécurité absent ou périmé : rouvrez la page et recommencez."
        raise PageError(403, "Formulaire refusé", message)
    return form


def page(
    request: Request, template: str, session: Session | None, *, status: int = 200, nav: str = "", **context: Any
) -> HTMLResponse:
    """A page: the template with the user, its CSRF token, the menu it may see and the freshness line."""
    user = session.user if session else None
    menu = [(key, text, PREFIX + path, key == nav) for key, text, path, perm in NAV if user and user.can(perm)]
    values = {
        "user": user, "csrf": session.csrf if session else "", "menu": menu, "prefix": PREFIX,
        "can_write": bool(user and user.can(Permission.WRITE)),
        "can_history": bool(user and user.can(Permission.HISTORY)),
        "freshness_line": freshness_text(context.get("freshness"), state(request).timezone), **context,
    }  # fmt: skip
    response = state(request).templates.TemplateResponse(request, template, values, status_code=status)
    response.headers.update(HEADERS)
    return response


def redirect(path: str) -> RedirectResponse:
    return RedirectResponse(PREFIX + path, status_code=303, headers={"Cache-Control": "no-store"})


def install_handlers(api: FastAPI) -> None:
    """Pages end early as pages: to the sign-in form, or an error page in the same layout."""

    async def to_sign_in(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, SignInRequired)
        return redirect(f"/connexion?suite={quote(exc.back, safe='')}")

    async def error_page(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, PageError)
        session = state(request).sessions.current(request, services(request).users)
        return page(request, "error.html", session, status=exc.status, title=exc.title, message=exc.message)

    api.add_exception_handler(SignInRequired, to_sign_in)
    api.add_exception_handler(PageError, error_page)
    api.state.error_page = unavailable_page


def unavailable_page(request: Request, status: int, message: str, headers: dict[str, str]) -> Response:
    """The page when the data cannot be read now (database away, read models not built yet): in the
    site's layout, without the user's menu (finding the user would need the unavailable store)."""
    response = page(request, "error.html", None, status=status, title="Service momentanément indisponible",
                    message=message + " Réessayer dans quelques instants.")  # fmt: skip
    response.headers.update(headers)
    return response
