"""CLI commands on conventions: the operator's intentions, the simulator, show and history."""

from __future__ import annotations

import sys
from datetime import datetime
from decimal import Decimal, InvalidOperation
from enum import StrEnum
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from adapters.cli.common import (
    DATE_FORMATS,
    Actor,
    CommandId,
    DataDir,
    Json,
    Reason,
    echo_result,
    meta,
    open_app,
    parse_id,
    print_json,
    run,
    to_date,
)
from domain.errors import InvalidInput
from domain.estimate import estimate as estimate_aid
from domain.values import SPECIALTIES, Modulation, Option, Policies, Profile, SuspensionGround, TerminatedBy, Tier
from domain.views import convention_view, event_view


def _date_opt(name: str, help_: str) -> typer.models.OptionInfo:
    return typer.Option(name, formats=DATE_FORMATS, help=help_)


Date = Annotated[datetime, _date_opt("--date", "Date (AAAA-MM-JJ).")]
Sector = StrEnum("Sector", {"1": "1", "2": "2", "3": "3"})  # type: ignore[misc]
Specialty = StrEnum("Specialty", {s: s for s in SPECIALTIES})  # type: ignore[misc]


def _decimal(value: str, field: str) -> Decimal:
    try:
        return Decimal(value)
    except InvalidOperation:
        raise InvalidInput("invalid_number", f"« {value} » n'est pas un nombre.", field) from None


def register(app: typer.Typer) -> None:  # noqa: C901 - one nested function per command
    @app.command()
    def estimate(
        option: Annotated[Option, typer.Option("--option", case_sensitive=False)],
        tier: Annotated[Tier, typer.Option("--tier", case_sensitive=False)],
        effective: Annotated[datetime, _date_opt("--effective", "Date de prise d'effet.")],
        years: Annotated[int, typer.Option("--years")] = 5,
        attainment: Annotated[str | None, typer.Option("--attainment", help="Fraction 0-1, années 3+.")] = None,
        modulation: Annotated[Modulation, typer.Option("--modulation")] = Modulation.PROPORTIONAL,
        as_json: Json = False,
    ) -> None:
        """The aid simulator (R2-R4): amounts year by year, at full attainment by default."""
        rows = run(
            lambda: estimate_aid(
                option=option, tier=tier, effective=effective.date(), years=years,
                attainment=None if attainment is None else _decimal(attainment, "attainment"),
                modulation=modulation,
            )
        )  # fmt: skip
        if as_json:
            print_json({"years": rows})
            return
        table = Table("année", "du", "au", "régime", "montant (€)", title=f"{option.value} {tier.value}")
        for r in rows:
            table.add_row(str(r["year"]), str(r["start"]), str(r["end"]), str(r["regime"]), f"{r['amount']:.2f}")
        _console().print(table)

    @app.command()
    def sign(
        number: Annotated[str, typer.Option("--number", help="Numéro de convention.")],
        cpam: Annotated[str, typer.Option("--cpam", help="Code CPAM (3 chiffres).")],
        rpps: Annotated[str, typer.Option("--rpps")],
        name: Annotated[str, typer.Option("--name", help="Nom du médecin.")],
        specialty: Annotated[Specialty, typer.Option("--specialty")],
        sector: Annotated[Sector, typer.Option("--sector")],
        option: Annotated[Option, typer.Option("--option", case_sensitive=False)],
        percentile: Annotated[int, typer.Option("--percentile", help="Rang national 0-100.")],
        patients: Annotated[int, typer.Option("--patients", help="Patientèle médecin traitant à la signature.")],
        target: Annotated[int, typer.Option("--target", help="Objectif de patientèle.")],
        signed: Annotated[datetime, _date_opt("--signed", "Date de signature.")],
        effective: Annotated[datetime, _date_opt("--effective", "Date de prise d'effet.")],
        optam: Annotated[bool, typer.Option("--optam", help="Adhérent OPTAM / OPTAM-ACO.")] = False,
        ccam_share: Annotated[float | None, typer.Option("--ccam-share", help="Part CCAM (%).")] = None,
        newly_installed: Annotated[bool, typer.Option("--newly-installed")] = False,
        mep: Annotated[bool, typer.Option("--mep", help="Médecin à exercice particulier.")] = False,
        am_number: Annotated[str | None, typer.Option("--am-number", help="Numéro AM (9 chiffres).")] = None,
        zip_area: Annotated[bool, typer.Option("--zip-area", help="Cabinet en ZIP.")] = False,
        dedicated_room: Annotated[bool, typer.Option("--dedicated-room/--no-dedicated-room")] = True,
        modulation: Annotated[Modulation, typer.Option("--modulation")] = Modulation.PROPORTIONAL,
        pause_clock: Annotated[bool, typer.Option("--pause-clock/--no-pause-clock")] = True,
        data_dir: DataDir = None,
        actor: Actor = None,
        reason: Reason = "",
        command_id: CommandId = None,
        as_json: Json = False,
    ) -> None:
        """Sign a convention (R8, R9, R19 checked); prints its id."""
        app = open_app(data_dir)
        result = run(
            lambda: app.sign(
                meta(actor, reason or "signature", command_id),
                policies=Policies(modulation=modulation, pause_clock=pause_clock),
                number=number, cpam_code=cpam, rpps=rpps, doctor_name=name, specialty=specialty.value,
                sector=int(sector.value), optam=optam, ccam_share=ccam_share, newly_installed=newly_installed,
                option=option, percentile=percentile, initial_patients=patients, target_patients=target,
                signed_on=signed.date(), effective_from=effective.date(), dedicated_room=dedicated_room,
                mep=mep, zip_area=zip_area, am_number=am_number,
            )
        )  # fmt: skip
        echo_result({"id": result["id"]}, as_json, result["id"])

    @app.command()
    def hire(
        convention: Annotated[str, typer.Argument(help="Id de la convention.")],
        date_: Date,
        fte: Annotated[str, typer.Option("--fte", help="Temps de travail en ETP (ex. 0.5).")],
        profile: Annotated[Profile, typer.Option("--profile")],
        siret: Annotated[str | None, typer.Option("--siret", help="SIRET du groupement employeur.")] = None,
        replace: Annotated[bool, typer.Option("--replace", help="Remplace l'assistant en poste.")] = False,
        data_dir: DataDir = None,
        actor: Actor = None,
        reason: Reason = "",
        command_id: CommandId = None,
        as_json: Json = False,
    ) -> None:
        """Record the assistant's hire (R12), or a replacement with --replace."""
        app, cid = open_app(data_dir), parse_id(convention)
        m = meta(actor, reason or ("remplacement de l'assistant" if replace else "embauche"), command_id)
        if replace:
            result = run(lambda: app.replace_assistant(
                cid, m, on=date_.date(), fte=_decimal(fte, "fte"), profile=profile, employer_siret=siret))  # fmt: skip
        else:
            result = run(lambda: app.hire(
                cid, m, hired_on=date_.date(), fte=_decimal(fte, "fte"), profile=profile,
                employer_siret=siret))  # fmt: skip
        echo_result(result, as_json, f"embauche enregistrée (version {result['version']})")

    @app.command()
    def leave(
        convention: Annotated[str, typer.Argument()],
        date_: Date,
        data_dir: DataDir = None,
        actor: Actor = None,
        reason: Reason = "",
        command_id: CommandId = None,
        as_json: Json = False,
    ) -> None:
        """Record the assistant's departure."""
        app, cid = open_app(data_dir), parse_id(convention)
        result = run(lambda: app.assistant_left(cid, meta(actor, reason or "départ", command_id), left_on=date_.date()))
        echo_result(result, as_json, f"départ enregistré (version {result['version']})")

    @app.command()
    def train(
        convention: Annotated[str, typer.Argument()],
        completed: Annotated[datetime, _date_opt("--completed", "Date de fin de formation.")],
        data_dir: DataDir = None,
        actor: Actor = None,
        reason: Reason = "",
        command_id: CommandId = None,
        as_json: Json = False,
    ) -> None:
        """Record the assistant's training completed (R12)."""
        app, cid = open_app(data_dir), parse_id(convention)
        result = run(lambda: app.complete_training(
            cid, meta(actor, reason or "formation achevée", command_id), completed_on=completed.date()))  # fmt: skip
        echo_result(result, as_json, f"formation enregistrée (version {result['version']})")

    @app.command()
    def objective(
        convention: Annotated[str, typer.Argument()],
        from_year: Annotated[int, typer.Option("--from-year")],
        target: Annotated[int, typer.Option("--target")],
        date_: Annotated[datetime | None, _date_opt("--date", "Date de l'avenant (défaut : aujourd'hui).")] = None,
        data_dir: DataDir = None,
        actor: Actor = None,
        reason: Reason = "",
        command_id: CommandId = None,
        as_json: Json = False,
    ) -> None:
        """Set the patient-count objective from a contract year on (R5)."""
        app, cid = open_app(data_dir), parse_id(convention)
        result = run(lambda: app.set_objective(
            cid, meta(actor, reason or "objectif", command_id), from_year=from_year, target_patients=target,
            on=to_date(date_)))  # fmt: skip
        echo_result(result, as_json, f"objectif enregistré (version {result['version']})")

    @app.command()
    def attainment(
        convention: Annotated[str, typer.Argument()],
        year: Annotated[int, typer.Option("--year")],
        patients: Annotated[int, typer.Option("--patients", help="Patientèle observée en fin d'année.")],
        date_: Annotated[datetime | None, _date_opt("--date", "Date du constat (défaut : aujourd'hui).")] = None,
        data_dir: DataDir = None,
        actor: Actor = None,
        reason: Reason = "",
        command_id: CommandId = None,
        as_json: Json = False,
    ) -> None:
        """Record the patient count at the end of a contract year (R5)."""
        app, cid = open_app(data_dir), parse_id(convention)
        result = run(lambda: app.record_attainment(
            cid, meta(actor, reason or "atteinte des objectifs", command_id), year=year,
            observed_patients=patients, on=to_date(date_)))  # fmt: skip
        echo_result(result, as_json, f"atteinte de l'année {year} : {Decimal(result['value']):.2%}")

    @app.command()
    def suspend(
        convention: Annotated[str, typer.Argument()],
        from_: Annotated[datetime, _date_opt("--from", "Début de la suspension.")],
        ground: Annotated[SuspensionGround, typer.Option("--ground")],
        agreement_date: Annotated[datetime, _date_opt("--agreement-date", "Accord écrit du médecin.")],
        data_dir: DataDir = None,
        actor: Actor = None,
        reason: Reason = "",
        command_id: CommandId = None,
        as_json: Json = False,
    ) -> None:
        """Suspend the convention by amendment (R13); the contract clock pauses (R16)."""
        app, cid = open_app(data_dir), parse_id(convention)
        result = run(lambda: app.suspend(
            cid, meta(actor, reason or "suspension", command_id), from_date=from_.date(), ground=ground,
            agreement_date=agreement_date.date()))  # fmt: skip
        echo_result(result, as_json, f"suspension enregistrée (version {result['version']})")

    @app.command()
    def reactivate(
        convention: Annotated[str, typer.Argument()],
        from_: Annotated[datetime, _date_opt("--from", "Date de reprise.")],
        data_dir: DataDir = None,
        actor: Actor = None,
        reason: Reason = "",
        command_id: CommandId = None,
        as_json: Json = False,
    ) -> None:
        """Reactivate a suspended convention (R14), with no penalty."""
        app, cid = open_app(data_dir), parse_id(convention)
        result = run(
            lambda: app.reactivate(cid, meta(actor, reason or "réactivation", command_id), from_date=from_.date())
        )
        echo_result(result, as_json, f"réactivation enregistrée (version {result['version']})")

    @app.command()
    def review(
        convention: Annotated[str, typer.Argument()],
        held: Annotated[datetime, _date_opt("--held", "Date du point semestriel.")],
        notes: Annotated[str, typer.Option("--notes")] = "",
        data_dir: DataDir = None,
        actor: Actor = None,
        reason: Reason = "",
        command_id: CommandId = None,
        as_json: Json = False,
    ) -> None:
        """Record the six-month review held (R11)."""
        app, cid = open_app(data_dir), parse_id(convention)
        result = run(lambda: app.hold_review(
            cid, meta(actor, reason or "point semestriel", command_id), held_on=held.date(), notes=notes))  # fmt: skip
        echo_result(result, as_json, f"point du {result['value']} tenu (version {result['version']})")

    @app.command()
    def pay(
        convention: Annotated[str, typer.Argument()],
        instalment: Annotated[str, typer.Option("--instalment", help="Échéance, ex. y1-full, y3-balance.")],
        date_: Date,
        reference: Annotated[str, typer.Option("--reference", help="Référence du virement.")],
        data_dir: DataDir = None,
        actor: Actor = None,
        reason: Reason = "",
        command_id: CommandId = None,
        as_json: Json = False,
    ) -> None:
        """Record an instalment paid, or an indu recovered (R7: once only)."""
        app, cid = open_app(data_dir), parse_id(convention)
        result = run(lambda: app.record_payment(
            cid, meta(actor, reason or "paiement", command_id), instalment=instalment, paid_on=date_.date(),
            reference=reference))  # fmt: skip
        msg = "paiement enregistré" if result["recorded"] else "déjà payé : rien de nouveau"
        echo_result(result, as_json, f"{msg} (version {result['version']})")

    @app.command("change-option")
    def change_option(
        convention: Annotated[str, typer.Argument()],
        option: Annotated[Option, typer.Option("--option", case_sensitive=False)],
        from_: Annotated[datetime, _date_opt("--from", "Années commençant à partir de cette date.")],
        data_dir: DataDir = None,
        actor: Actor = None,
        reason: Reason = "",
        command_id: CommandId = None,
        as_json: Json = False,
    ) -> None:
        """Change the option by amendment, for the contract years starting from a date."""
        app, cid = open_app(data_dir), parse_id(convention)
        result = run(lambda: app.change_option(
            cid, meta(actor, reason or "avenant : changement d'option", command_id), option=option,
            from_date=from_.date()))  # fmt: skip
        echo_result(result, as_json, f"option modifiée (version {result['version']})")

    @app.command()
    def terminate(
        convention: Annotated[str, typer.Argument()],
        date_: Date,
        by: Annotated[TerminatedBy, typer.Option("--by")],
        ground: Annotated[str, typer.Option("--ground", help="Motif.")],
        letter_date: Annotated[
            datetime | None, _date_opt("--letter-date", "Date du courrier recommandé (médecin).")
        ] = None,
        data_dir: DataDir = None,
        actor: Actor = None,
        reason: Reason = "",
        command_id: CommandId = None,
        as_json: Json = False,
    ) -> None:
        """Terminate (R17): the current year is settled pro rata temporis."""
        app, cid = open_app(data_dir), parse_id(convention)
        result = run(lambda: app.terminate(
            cid, meta(actor, reason or "résiliation", command_id), on=date_.date(), by=by, ground=ground,
            letter_date=to_date(letter_date)))  # fmt: skip
        value = result["value"]
        msg = "résiliation enregistrée" + ("" if value in (None, "0") else f" ; solde de l'année : {value} €")
        echo_result(result, as_json, msg)

    @app.command()
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
        configure_logging(
            settings.log_format, "WARNING" if settings.log_level.upper() == "INFO" else settings.log_level
        )
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

    @app.command()
    def show(
        convention: Annotated[str, typer.Argument()],
        as_of: Annotated[
            datetime | None, _date_opt("--as-of", "État au vu des événements effectifs à cette date.")
        ] = None,
        version: Annotated[int | None, typer.Option("--version", help="État à cette version.")] = None,
        data_dir: DataDir = None,
        as_json: Json = False,
    ) -> None:
        """The convention's state: now, at a version, or as of a date."""
        app, cid = open_app(data_dir), parse_id(convention)
        conv = run(lambda: app.get(cid, version=version, as_of=to_date(as_of)))
        view = convention_view(conv)
        if as_json:
            print_json(view)
            return
        _print_view(view)

    @app.command()
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
        table = Table("v", "événement", "effet", "enregistré", "par", "motif")
        for e in events:
            table.add_row(
                str(e["version"]), e["type"], str(e["effective_date"]), f"{e['recorded_at']:%Y-%m-%d %H:%M}",
                e["actor"], e["reason"],
            )  # fmt: skip
        _console().print(table)


def _console() -> Console:
    """Full-width tables when printing to a pipe or a file (rich would assume 80 columns)."""
    return Console() if sys.stdout.isatty() else Console(width=160)


def _print_view(view: dict) -> None:
    console = _console()
    console.print(
        f"[bold]Convention {view['number']}[/bold] (CPAM {view['cpam_code']}) — {view['status']} — "
        f"{view['option']} {view['tier']} — année {view['contract_year']} — v{view['version']}"
    )
    doctor = view["doctor"]
    console.print(f"Médecin : {doctor['name']} (RPPS {doctor['rpps']}), effet le {view['effective_date']}")
    console.print("Anniversaires : " + ", ".join(str(a) for a in view["anniversaries"]))
    table = Table("échéance", "année", "type", "échue le", "à payer au", "montant (€)", "statut")
    for i in view["instalments"]:
        table.add_row(
            i["id"], str(i["year"]), i["kind"], str(i["fell_due_on"]), str(i["due_date"]), f"{i['amount']:.2f}",
            i["status"] + (f" ({i['paid_on']})" if i["paid_on"] else ""),
        )  # fmt: skip
    console.print(table)
    reviews = Table("point semestriel dû le", "tenu le")
    for r in view["reviews"]:
        reviews.add_row(str(r["due_date"]), str(r["held_on"] or "—"))
    console.print(reviews)
