"""CLI commands on conventions: the intentions (generated in ``intentions``), estimate, tick, show, history."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal, InvalidOperation
from typing import Annotated, Any

import typer
from rich.console import Console

from adapters.cli import formatting as fmt
from adapters.cli import intentions
from adapters.cli.common import (
    DATE_FORMATS,
    Actor,
    DataDir,
    Json,
    Reason,
    echo_result,
    open_app,
    parse_id,
    print_json,
    run,
    to_date,
    usage_error,
)
from domain.errors import InvalidInput
from domain.estimate import EstimatedAttainment, estimated_attainment
from domain.estimate import estimate as estimate_aid
from domain.values import Modulation, Option, Tier
from domain.views import convention_view, event_view, read_day


def _date_opt(name: str, help_: str) -> typer.models.OptionInfo:
    return typer.Option(name, formats=DATE_FORMATS, help=help_)


def _decimal(value: str, field: str) -> Decimal:
    try:
        return Decimal(value)
    except InvalidOperation:
        raise InvalidInput("invalid_number", f"« {value} » n'est pas un nombre.", field) from None


def estimate(
    option: Annotated[Option, typer.Option("--option", case_sensitive=False)],
    tier: Annotated[Tier, typer.Option("--tier", case_sensitive=False)],
    effective: Annotated[datetime, _date_opt("--effective", "Date de prise d'effet.")],
    years: Annotated[int, typer.Option("--years")] = 5,
    attainment: Annotated[
        str | None, typer.Option("--attainment", help="Atteinte des années 3+ (fraction, plafonnée à 0-1).")
    ] = None,
    patients: Annotated[int | None, typer.Option("--patients", help="Patientèle initiale (à la signature).")] = None,
    target: Annotated[int | None, typer.Option("--target", help="Objectif de patientèle.")] = None,
    observed: Annotated[int | None, typer.Option("--observed", help="Patientèle observée.")] = None,
    modulation: Annotated[Modulation, typer.Option("--modulation")] = Modulation.PROPORTIONAL,
    as_json: Json = False,
) -> None:
    """The aid simulator (R2-R5): amounts year by year, at full attainment unless --attainment or
    the patient counts (--patients, --target, --observed) say otherwise."""
    att = run(lambda: estimated_attainment(
        fraction=None if attainment is None else _decimal(attainment, "attainment"),
        initial=patients, target=target, observed=observed,
    ))  # fmt: skip
    rows = run(
        lambda: estimate_aid(
            option=option, tier=tier, effective=effective.date(), years=years,
            attainment=None if att is None else att.value, modulation=modulation,
        )
    )  # fmt: skip
    if as_json:
        print_json({"attainment": _attainment_json(att), "years": rows})
        return
    t = fmt.table(fmt.num("année"), fmt.key("du"), fmt.key("au"), fmt.key("régime"), fmt.num("montant"),
                  title=f"Aide estimée : option {option.value}, palier {tier.value}", footer=True)  # fmt: skip
    for r in rows:
        t.add_row(str(r["year"]), fmt.fr_date(r["start"]), fmt.fr_date(r["end"]), str(r["regime"]),
                  fmt.euros(r["amount"]))  # fmt: skip
    t.columns[0].footer = "total"
    t.columns[4].footer = fmt.euros(sum((r["amount"] for r in rows), Decimal(0)))
    console = fmt.console()
    console.print(t)
    console.print(_attainment_note(att, modulation))


def tick(
    today: Annotated[datetime, _date_opt("--today", "Enregistrer ce qui est échu jusqu'à cette date.")],
    data_dir: DataDir = None,
    actor: Actor = None,
    reason: Reason = "",
    as_json: Json = False,
) -> None:
    """Record what fell due on every convention up to a date. Idempotent (command id due:<today>).

    A convention that cannot be processed is skipped, named on stderr and recorded for the work
    queue (kind nightly_failure); the others are processed; the exit code is then 1.
    """
    from dataclasses import replace

    from rich.progress import Progress

    from adapters.cli.common import settings_for, stderr_is_tty
    from adapters.composition import build_projection_store
    from adapters.logging import configure_logging
    from projections.calendar import NightlyFailures
    from scheduler.jobs import run_due, scheduler_meta

    settings = settings_for(data_dir)
    configure_logging(settings.log_format, "WARNING" if settings.log_level.upper() == "INFO" else settings.log_level)
    app, day = open_app(data_dir), today.date()
    m = scheduler_meta(day, actor or "scheduler")  # the nightly job's command id: due:<today>
    m = replace(m, reason=reason) if reason else m
    store = build_projection_store(settings)
    try:
        console = Console(stderr=True)
        with Progress(console=console, transient=True, disable=as_json or not stderr_is_tty()) as progress:
            task = progress.add_task("échéancier", total=None)
            report = run(lambda: run_due(
                app, lambda _day: list(app.convention_ids()), day, m,
                progress=lambda n: progress.advance(task, n), failures=NightlyFailures(store),
            ))  # fmt: skip
    finally:
        store.close()
    data = report.as_dict()
    del data["seconds"]
    echo_result(
        data, as_json,
        f"{report.found} convention(s) examinée(s) : {report.events} événement(s) enregistré(s) sur "
        f"{report.conventions} convention(s), {len(report.failures)} non traitée(s).",
    )  # fmt: skip
    for f in report.failures:
        typer.echo(f"error[{f.code}]: convention {f.number or f.convention_id} ({f.convention_id}) non traitée : "
                   f"{f.message}", err=True)  # fmt: skip
    if report.failures:
        raise typer.Exit(1)


def show(
    convention: Annotated[str, typer.Argument()],
    as_of: Annotated[datetime | None, _date_opt("--as-of", "État au vu des événements effectifs à cette date.")] = None,
    version: Annotated[int | None, typer.Option("--version", help="État à cette version.")] = None,
    data_dir: DataDir = None,
    as_json: Json = False,
) -> None:
    """The convention's state: now, at a version, or as of a date (not both)."""
    if as_of is not None and version is not None:
        usage_error("as_of_or_version", "Donner --as-of ou --version, pas les deux.")
    app, cid = open_app(data_dir), parse_id(convention)
    conv = run(lambda: app.get(cid, version=version, as_of=to_date(as_of)))
    view = convention_view(conv, read_day(app.clock(), as_of=to_date(as_of), version=version))  # as over HTTP
    if as_json:
        print_json(view)
        return
    _print_view(view)


def history(
    convention: Annotated[str, typer.Argument()],
    data_dir: DataDir = None,
    as_json: Json = False,
) -> None:
    """Every event of the convention, in order: what, when effective, when recorded, who, why."""
    app, cid = open_app(data_dir), parse_id(convention)
    events = [event_view(e) for e in run(lambda: app.history(cid))]
    if as_json:
        print_json(events)
        return
    t = fmt.table(fmt.num("v"), fmt.text("événement"), fmt.key("effet"), fmt.key("enregistré (UTC)"),
                  fmt.text("par"), fmt.text("motif"))  # fmt: skip
    for e in events:
        t.add_row(
            str(e["version"]), fmt.label("event", e["type"]), fmt.fr_date(e["effective_date"]),
            fmt.fr_datetime(e["recorded_at"]), e["actor"], e["reason"],
        )  # fmt: skip
    fmt.console().print(t)


def register(app: typer.Typer) -> None:
    """The intentions (one command per command model), then the reads and the nightly tick."""
    intentions.register(app)
    for command in (estimate, tick, show, history):
        app.command()(command)


def _attainment_json(att: EstimatedAttainment | None) -> dict[str, Any] | None:
    if att is None:
        return None
    counts = {"initial": att.initial, "target": att.target, "observed": att.observed}
    return {
        "value": att.value,
        "given": att.given,
        "capped": att.capped,
        "patients": counts if att.from_counts else None,
    }


def _attainment_note(att: EstimatedAttainment | None, modulation: Modulation) -> str:
    """What the years 3+ assume, in words."""
    if att is None:
        return "Années 3 et suivantes à atteinte complète (100 %)."
    how = f"modulation {modulation.value}"
    if att.from_counts:
        return (
            f"Atteinte calculée (R5) : patientèle initiale {fmt.number(att.initial or 0)}, objectif "
            f"{fmt.number(att.target or 0)}, observée {fmt.number(att.observed or 0)}, soit "
            f"{fmt.percent(att.value)} ; appliquée aux années 3 et suivantes ({how})."
        )
    if att.capped:
        return (
            f"Atteinte donnée {att.given} plafonnée à {fmt.percent(att.value)} (R5 : entre 0 et 1) ; "
            f"appliquée aux années 3 et suivantes ({how})."
        )
    return f"Atteinte {fmt.percent(att.value)} appliquée aux années 3 et suivantes ({how})."


def _print_view(view: dict[str, Any]) -> None:
    """The convention as an operator reads it; every line short enough for 80 columns."""
    console = fmt.console()
    console.print(
        f"[bold]Convention {view['number']}[/bold] (CPAM {view['cpam_code']}) — {fmt.status_label(view['status'])}"
        f" — version {view['version']}"
    )
    console.print(f"Option {view['option']}, palier {view['tier']} ; année de contrat {view['contract_year']}")
    doctor = view["doctor"]
    console.print(f"Médecin : {doctor['name']} (RPPS {doctor['rpps']})")
    effective = fmt.fr_date(view["effective_date"])
    if view["terminated_on"] is not None:
        by = "par la CPAM" if view["terminated_by"] == "cpam" else "par le médecin"
        console.print(f"Effet le {effective} ; résiliée le {fmt.fr_date(view['terminated_on'])} {by}")
    else:
        console.print(f"Effet le {effective} ; fin de période le {fmt.fr_date(view['end_of_term'])}")
    console.print("Anniversaires : " + ", ".join(fmt.fr_date(a) for a in view["anniversaries"]))
    t = fmt.table(fmt.key("échéance"), fmt.key("type"), fmt.key("échue le"), fmt.key("à payer le"), fmt.num("montant"),
                  fmt.text("statut"), title="Échéances", footer=True)  # fmt: skip
    for i in view["instalments"]:
        t.add_row(
            i["id"], fmt.label("instalment_kind", i["kind"]), fmt.fr_date(i["fell_due_on"]), fmt.fr_date(i["due_date"]),
            fmt.euros(i["amount"]), fmt.instalment_status(i["status"], i["amount"], i["paid_on"]),
        )  # fmt: skip
    live = [i for i in view["instalments"] if i["status"] != "cancelled"]
    t.columns[0].footer = "total"
    t.columns[4].footer = fmt.euros(sum((i["amount"] for i in live), Decimal(0)))
    console.print(t)
    paid = sum((i["amount"] for i in live if i["status"] == "paid"), Decimal(0))
    due = [i["amount"] for i in live if i["status"] == "due"]
    to_pay, to_recover = sum((a for a in due if a > 0), Decimal(0)), -sum((a for a in due if a < 0), Decimal(0))
    console.print(f"Réglé : {fmt.euros(paid)} ; à payer : {fmt.euros(to_pay)} ; à récupérer : {fmt.euros(to_recover)}")
    reviews = fmt.table(fmt.key("point semestriel dû le"), fmt.key("tenu le"), fmt.text("notes"), title="Points")
    for r in view["reviews"]:
        reviews.add_row(fmt.fr_date(r["due_date"]), fmt.fr_date(r["held_on"]), r["notes"] or "")
    console.print(reviews)
