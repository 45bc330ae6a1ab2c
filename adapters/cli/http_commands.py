"""CLI commands of the http capability: ``serve`` and ``users add/list/revoke``."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from adapters.cli import formatting as fmt
from adapters.cli.common import DataDir, Json, closing, print_json, run, settings_for

users_app = typer.Typer(help="Utilisateurs de l'API (jetons, rôles, CPAM).", no_args_is_help=True)


def register(app: typer.Typer) -> None:
    """Add this module's commands to ``app``."""
    app.command()(serve)
    app.add_typer(users_app, name="users")


def serve(
    host: Annotated[str | None, typer.Option("--host", help="Défaut : CONVENTIONS_HTTP_HOST.")] = None,
    port: Annotated[int | None, typer.Option("--port", help="Défaut : CONVENTIONS_HTTP_PORT.")] = None,
    workers: Annotated[int | None, typer.Option("--workers", help="Défaut : CONVENTIONS_HTTP_WORKERS.")] = None,
    data_dir: DataDir = None,
) -> None:
    """Serve the HTTP API (OpenAPI at /openapi.json, interactive docs at /docs).

    With ``CONVENTIONS_PROJECTIONS=inline`` (the default on SQLite) this process also runs the
    projection follower in a thread; with ``follower`` (the default on PostgreSQL) it only reads, and
    ``conventions project --follow`` runs beside it (docs/processes.md)."""
    from adapters.logging import configure_logging

    settings = settings_for(data_dir)
    host = host or settings.http_host
    port = port or settings.http_port
    workers = workers or settings.http_workers
    configure_logging(settings.log_format, settings.log_level)
    follower = _inline_follower(settings)
    log_config = None  # keep our structlog handlers: uvicorn's loggers go through them
    try:
        _run(settings, host, port, workers, data_dir, log_config)
    finally:
        if follower is not None:
            follower.stop.set()


def _inline_follower(settings: Any) -> Any:
    """On the embedded default, the projection follower in a thread of ``serve`` (one process is a
    whole deployment); it takes the same lock as ``conventions project --follow``, so one follows."""
    if settings.projections_mode() != "inline" or settings.store == "memory":
        return None  # memory: each process has its own store; requests catch up inline
    from adapters.composition import build_projections, build_scheduler_lock
    from adapters.projection_follower import Follower, plans_ahead

    follower = Follower(lambda: build_projections(settings), build_scheduler_lock(settings, "projections"),
                        idle=plans_ahead(settings))  # fmt: skip
    follower.start_thread()
    return follower


def _run(settings: Any, host: str, port: int, workers: int, data_dir: Path | None, log_config: Any) -> None:
    import os

    import uvicorn

    if workers > 1:
        if not settings.web_secret:
            typer.echo(
                "warning[web_secret_missing]: sans CONVENTIONS_WEB_SECRET, chaque processus signe ses sessions "
                "avec sa propre clé : les opérateurs seront déconnectés d'une requête à l'autre.",
                err=True,
            )
        if data_dir is not None:
            os.environ["CONVENTIONS_DATA_DIR"] = str(Path(data_dir))
        uvicorn.run(
            "adapters.http.app:create_app_from_env", factory=True, host=host, port=port, workers=workers,
            log_config=log_config, access_log=False,
        )  # fmt: skip
    else:
        from adapters.http.app import create_served_app

        uvicorn.run(create_served_app(settings), host=host, port=port, log_config=log_config, access_log=False)


def _store(data_dir: Path | None):  # noqa: ANN202 - the store type is internal
    from adapters.users import build_user_store

    return closing(build_user_store(settings_for(data_dir)))


@users_app.command("add")
def users_add(
    name: Annotated[str, typer.Argument(help="Identifiant (minuscules), enregistré comme acteur des événements.")],
    role: Annotated[str, typer.Option("--role", help="operator | auditor | manager | admin")],
    cpam: Annotated[list[str] | None, typer.Option("--cpam", help="CPAM visible(s) ; répéter l'option.")] = None,
    data_dir: DataDir = None,
    as_json: Json = False,
) -> None:
    """Create a user and print its token, once: only its hash is stored."""
    user, token = run(lambda: _store(data_dir).add(name, role, cpam or []))
    if as_json:
        print_json({**user.as_dict(), "token": token})
        return
    scope = ", ".join(sorted(user.cpams)) or "toutes les CPAM"
    typer.echo(f"Utilisateur {user.name} ({user.role.value} ; {scope}) créé. Jeton, affiché une seule fois :", err=True)
    typer.echo(token)


@users_app.command("list")
def users_list(
    all_: Annotated[bool, typer.Option("--all", help="Inclure les utilisateurs révoqués.")] = False,
    data_dir: DataDir = None,
    as_json: Json = False,
) -> None:
    """List users (never their tokens)."""
    users = run(lambda: _store(data_dir).list(include_revoked=all_))
    if as_json:
        print_json([u.as_dict() for u in users])
        return
    t = fmt.table(fmt.key("nom"), fmt.key("rôle"), fmt.text("CPAM"), fmt.key("créé le"), fmt.key("révoqué le"))
    for u in users:
        t.add_row(u.name, fmt.label("role", u.role), ", ".join(sorted(u.cpams)) or "toutes",
                  fmt.fr_date(u.created_at), fmt.fr_date(u.revoked_at) if u.revoked_at else "")  # fmt: skip
    fmt.console().print(t)


@users_app.command("revoke")
def users_revoke(name: Annotated[str, typer.Argument()], data_dir: DataDir = None, as_json: Json = False) -> None:
    """Revoke a user's token: its next request gets 401."""
    user = run(lambda: _store(data_dir).revoke(name))
    if as_json:
        print_json(user.as_dict())
    else:
        typer.echo(f"Utilisateur {user.name} révoqué.")
