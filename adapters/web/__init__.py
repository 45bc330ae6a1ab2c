"""The operators' web pages (issue 11): server-rendered pages over the same services as the API
(users, roles, CPAM scope, idempotency, versions), styled with the vendored DSFR stylesheet.

``install(api, settings)`` mounts them under ``/web`` with their static files; ``docs/web.md``
says what each page does.
"""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles

from adapters.settings import Settings
from adapters.web.pages import PREFIX, WebState, install_handlers
from adapters.web.render import templates
from adapters.web.session import Sessions

STATIC = Path(__file__).parent / "static"


def install(api: FastAPI, settings: Settings) -> None:
    """The pages, their static files (no CDN: a CPAM's network is closed) and their error pages."""
    from adapters.web import routes, routes_exports, routes_forms, routes_impact

    api.state.web = WebState(
        sessions=Sessions(settings.web_secret, settings.web_session_minutes, settings.web_secure_cookies),
        templates=templates(settings.timezone),
        timezone=settings.timezone,
    )
    api.include_router(routes_forms.router)  # /conventions/nouvelle before /conventions/{id}
    api.include_router(routes.router)
    api.include_router(routes_exports.router)
    api.include_router(routes_impact.router)  # /impact: the policy impact by replay (issue 12)
    api.mount(f"{PREFIX}/static", StaticFiles(directory=str(STATIC)), name="web-static")
    install_handlers(api)
