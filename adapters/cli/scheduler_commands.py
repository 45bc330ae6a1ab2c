"""CLI commands of the scheduler capability: ``scheduler``, ``simulate``, ``due``."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Annotated, Any

import typer

from adapters.cli import formatting as fmt
from adapters.cli.common import DATE_FORMATS, DataDir, Json, closing, closing_runner, print_json, settings_for
from adapters.composition import build_app, build_catch_up, build_nightly_job, build_projections, build_scheduler_lock
from adapters.logging import configure_logging


def _date(name: str, help_: str) -> typer.models.OptionInfo:
    return typer.Option(name, formats=DATE_FORMATS, help=help_)


def register(app: typer.Typer) -> None:
    """Add this module's commands to ``app``, in the order ``--help`` lists them."""
    app.command("scheduler")(scheduler_)
    app.command()(simulate)
    app.command()(due)


def scheduler_(
    at: Annotated[str, typer.Option("--at", help="Heure du passage nocturne (HH:MM, fuseau des réglages).")] = "02:30",
    poll: Annotated[float, typer.Option("--poll", help="Secondes entre deux essais du verrou en attente.")] = 30.0,
    once: Annotated[bool, typer.Option("--once", help="Un seul passage de rattrapage, puis sortie.")] = False,
    today: Annotated[datetime | None, _date("--today", "Date du jour imposée (démonstration, tests).")] = None,
    data_dir: DataDir = None,
) -> None:
    """Long-running scheduler: catch up at start-up, then every night; one per deployment."""
    from scheduler.process import SchedulerProcess

    settings = settings_for(data_dir)
    configure_logging(settings.log_format, settings.log_level)
    fixed = today.date() if today else None
    process = SchedulerProcess(
        lambda: build_nightly_job(settings), build_scheduler_lock(settings), lazy=True,
        timezone=settings.timezone, at=at, poll_seconds=poll, today=(lambda: fixed) if fixed else None,
    )  # fmt: skip
    raise typer.Exit(process.serve(once=once))


def simulate(
    from_: Annotated[datetime, _date("--from", "Premier jour simulé.")],
    to: Annotated[datetime, _date("--to", "Dernier jour simulé.")],
    conventions: Annotated[int, typer.Option("--conventions", help="Conventions à signer.")] = 200,
    seed: Annotated[int, typer.Option("--seed", help="Graine : même graine, même portefeuille.")] = 1,
    actor: Annotated[str, typer.Option("--actor", help="Auteur des actions d'opérateur simulées.")] = "simulateur",
    reason: Annotated[str, typer.Option("--reason", help="Motif (suivi du nom de l'action).")] = "simulation",
    data_dir: DataDir = None,
    as_json: Json = False,
) -> None:
    """Build (or extend) a realistic portfolio and let virtual time run day by day."""
    from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

    from adapters.simulation import Simulator

    settings = settings_for(data_dir)
    configure_logging(settings.log_format, "WARNING" if settings.log_level.upper() == "INFO" else settings.log_level)
    start, end = from_.date(), to.date()
    if end < start:
        typer.echo("error[invalid_dates]: --to doit suivre --from.", err=True)
        raise typer.Exit(1)
    app_ = closing(build_app(settings))
    read_models = closing_runner(build_projections(settings, app_))
    # What the store holds before: the report counts commands the simulator ran, and on a re-run
    # every command is a retry that returns its first result; only the log says what is new.
    head, conventions_before = read_models.head(), _count(app_.convention_ids())
    sim = Simulator(app_, seed=seed, start=start, end=end, conventions=conventions, actor=actor, reason=reason,
                    read_models=read_models.catch_up)  # fmt: skip
    columns = (TextColumn("{task.description}"), BarColumn(), TextColumn("{task.fields[day]}"), TimeElapsedColumn())
    with Progress(*columns, disable=as_json, transient=False) as progress:
        task = progress.add_task("simulation", total=(end - start).days + 1, day="")
        report = sim.run(progress=lambda day: progress.update(task, advance=1, day=day.isoformat()))
    data = report.as_dict()
    data["recorded"] = {
        "events": read_models.head() - head,
        "conventions": _count(app_.convention_ids()) - conventions_before,
    }
    if as_json:
        print_json(data)
        return
    for line in simulation_summary(data):
        typer.echo(line)


def due(
    today: Annotated[datetime | None, _date("--today", "Date du jour (défaut : aujourd'hui, fuseau local).")] = None,
    cpam: Annotated[list[str] | None, typer.Option("--cpam", help="Code CPAM (répétable).")] = None,
    data_dir: DataDir = None,
    as_json: Json = False,
) -> None:
    """The operators' work queue: what fell due and the alerts to act on (calendar read model).

    Overdue items first, then by date: reviews to hold, attainment figures missing, no
    assistant 3 months after the effective date, training deadlines (60 days ahead, passed).
    """
    from zoneinfo import ZoneInfo

    from projections.calendar import work_queue

    settings = settings_for(data_dir)
    day = today.date() if today else (settings.today or datetime.now(ZoneInfo(settings.timezone)).date())
    runner = closing_runner(build_projections(settings))
    build_catch_up(settings, runner)()  # a fresh answer
    items = work_queue(runner.store, day, set(cpam) if cpam else None)
    if as_json:
        print_json({"today": day, "count": len(items), "items": items})
        return
    t = fmt.table(fmt.key("date"), fmt.key("CPAM"), fmt.key("convention"), fmt.text("quoi"), fmt.text("détail"),
                  title=f"À traiter au {fmt.fr_date(day)}")  # fmt: skip
    for item in items:
        prefix = f"Convention {item['number']} (CPAM {item['cpam']}) : "  # already in the row's columns
        message = item["message"].removeprefix(prefix)
        when = fmt.fr_date(item["date"]) + ("\nen retard" if item["overdue"] else "")
        t.add_row(when, item["cpam"], item["number"], fmt.label("alert", item["kind"]), message)
    fmt.console().print(t)
    overdue = sum(1 for i in items if i["overdue"])
    typer.echo(f"{len(items)} élément(s) à traiter, dont {overdue} en retard.")


def _count(items: Iterable[object]) -> int:
    return sum(1 for _ in items)


def simulation_summary(data: dict[str, Any]) -> list[str]:
    """What the simulation did, honestly: what the log gained, not what the commands answered (a
    re-run's commands are retries: they answer their first result and record nothing)."""
    recorded = data["recorded"]
    actions = sum(data["actions"].values())
    lines = [f"{data['days']} jours simulés, du {fmt.fr_date(data['from'])} au {fmt.fr_date(data['to'])}, "
             f"en {fmt.number(data['seconds'], 2)} s."]  # fmt: skip
    if recorded["events"] == 0:
        lines.append("Rien de nouveau : tout était déjà enregistré (même graine, même période) ;")
        lines.append(f"{fmt.number(actions)} action(s) d'opérateur rejouée(s) sans effet, aucune signature.")
    else:
        lines.append(
            f"{fmt.number(recorded['conventions'])} convention(s) signée(s), "
            f"{fmt.number(actions)} action(s) d'opérateur ;"
        )
        lines.append(
            f"{fmt.number(recorded['events'])} événement(s) enregistré(s), "
            f"dont {fmt.number(data['due_events'])} par le passage nocturne."
        )
    if data["due_failures"]:
        lines.append(f"{fmt.number(data['due_failures'])} échec(s) du passage nocturne (voir les journaux).")
    if data["refused"]:
        lines.append(f"Refus ({fmt.number(sum(data['refused'].values()))}) :")
        lines += [f"  {code}: {fmt.number(n)}" for code, n in sorted(data["refused"].items())]
    return lines
