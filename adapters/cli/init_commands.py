"""``conventions init``: create or upgrade everything a deployment stores, before its processes start.

One command for a new or upgraded deployment (docs/deployment.md): the PostgreSQL schema named by
``CONVENTIONS_DATABASE_URL``, the event tables of the library, the users table, the read models
(built when missing, rebuilt beside the old ones when a release changed their columns, then caught
up with the log) and the scheduler's table. Every step is "create if missing", so a second run
changes nothing and says so. Running it once before starting the API workers, the follower and the
scheduler also spares them racing on ``CREATE TABLE`` (which can fail on PostgreSQL).

Every command also checks the settings first (``check_settings``): a bad ``CONVENTIONS_*`` value
is one ``error[invalid_settings]`` line, without the password, instead of a traceback.
"""

from __future__ import annotations

import sqlite3
from dataclasses import asdict, dataclass, field

import typer
from pydantic import ValidationError

from adapters.cli.common import DataDir, Json, closing, closing_runner, print_json, settings_for, usage_error
from adapters.settings import Settings


def register(app: typer.Typer) -> None:
    app.callback()(check_settings)
    app.command()(init)


def check_settings() -> None:
    # No docstring: Typer would show it as the help of ``conventions`` itself.
    try:
        Settings()
    except ValidationError as error:
        usage_error("invalid_settings", settings_errors(error))


def settings_errors(error: ValidationError) -> str:
    """The validation errors as an operator reads them: the setting's variable, then why (the
    settings hide their input in errors, so a password never appears)."""
    lines = []
    for item in error.errors():
        message = str(item["msg"]).removeprefix("Value error, ")
        where = ".".join(str(part) for part in item["loc"])
        lines.append(f"CONVENTIONS_{where.upper()} : {message}" if where else message)
    return " ; ".join(lines)


@dataclass
class InitReport:
    """What ``init`` found and did."""

    database: str
    schema_created: bool = False
    tables_created: list[str] = field(default_factory=list)
    tables_present: list[str] = field(default_factory=list)
    read_models: dict[str, str] = field(default_factory=dict)  # name -> built | rebuilt | present
    events_applied: int = 0
    scheduler_lock: str = ""

    @property
    def changed(self) -> bool:
        return bool(self.schema_created or self.tables_created or self.events_applied) or any(
            state != "present" for state in self.read_models.values()
        )


def initialise(settings: Settings) -> InitReport:
    """Create what is missing in the store ``settings`` names, upgrade the read models; idempotent."""
    from adapters.composition import build_app, build_projections, build_scheduler_lock
    from adapters.users import build_user_store
    from projections.calendar import NightlyFailures

    report = InitReport(settings.database())
    if settings.store == "postgres" and settings.postgres_schema:
        report.schema_created = _create_schema(settings)
    before = _tables(settings)
    app = closing(build_app(settings))  # the library creates the event tables it lacks
    build_user_store(settings).close()  # the users table
    runner = closing_runner(build_projections(settings, app))
    try:
        store = runner.store
        with store.reading() as tx:
            had = {m.name: store.live_generation(tx, m.name) for m in runner.models}
        current = set(runner.positions())  # live tables with this release's columns
        runner.ensure_live()  # builds what is missing, rebuilds beside what has other columns
        report.events_applied = runner.catch_up()
        for m in runner.models:
            report.read_models[m.name] = (
                "built" if had[m.name] is None else "present" if m.name in current else "rebuilt"
            )
        NightlyFailures(store).ids()  # the scheduler's table of failed conventions, created when missing
    finally:
        runner.store.close()
        app.close()
    report.scheduler_lock = build_scheduler_lock(settings).description
    after = _tables(settings)
    report.tables_created = sorted(after - before)
    report.tables_present = sorted(after & before)
    return report


def _create_schema(settings: Settings) -> bool:
    """``CREATE SCHEMA IF NOT EXISTS``; True when it was missing."""
    import psycopg

    with psycopg.connect(autocommit=True, **settings.postgres_connect_kwargs(search_path=False)) as conn:
        exists = conn.execute(
            "SELECT 1 FROM information_schema.schemata WHERE schema_name = %s", (settings.postgres_schema,)
        ).fetchone()
        conn.execute(f"CREATE SCHEMA IF NOT EXISTS {settings.postgres_schema}")  # a checked name (SCHEMA_NAME)
    return exists is None


def _tables(settings: Settings) -> set[str]:
    """The tables of the store: of the PostgreSQL schema, or of the three SQLite files."""
    if settings.store == "memory":
        return set()
    if settings.store == "postgres":
        import psycopg

        with psycopg.connect(**settings.postgres_connect_kwargs(search_path=False)) as conn:
            rows = conn.execute(
                "SELECT table_name FROM information_schema.tables WHERE table_schema = %s",
                (settings.postgres_schema or "public",),
            ).fetchall()
        return {r[0] for r in rows}
    found: set[str] = set()
    for name in ("events.sqlite", "projections.sqlite", "users.sqlite"):
        path = settings.data_dir / name
        if path.exists():
            with sqlite3.connect(path) as conn:
                found |= {f"{name}:{r[0]}" for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")}
            conn.close()
    return found


STATES = {"built": "construite", "rebuilt": "reconstruite (colonnes changées)", "present": "à jour"}


def init(data_dir: DataDir = None, as_json: Json = False) -> None:
    """Créer ou mettre à niveau le stockage (schéma, événements, vues, utilisateurs) ; rejouable sans effet."""
    report = initialise(settings_for(data_dir))
    if as_json:
        print_json({**asdict(report), "changed": report.changed})
        return
    _print(report)


def _print(report: InitReport) -> None:
    typer.echo(f"Base : {report.database}")
    if report.schema_created:
        typer.echo("  schéma créé")
    created = ", ".join(report.tables_created) or "aucune"
    typer.echo(f"  tables créées : {created} ; déjà présentes : {len(report.tables_present)}")
    for name, state in report.read_models.items():
        typer.echo(f"  vue {name} : {STATES[state]}")
    typer.echo(f"  événements appliqués aux vues : {report.events_applied}")
    typer.echo(f"  verrou de l'ordonnanceur : {report.scheduler_lock}")
    typer.echo("Terminé." if report.changed else "Rien à faire : le stockage était déjà à jour.")
