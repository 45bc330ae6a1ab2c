"""CLI commands on conventions: the operator's intentions, the simulator, show and history."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal, InvalidOperation
from enum import StrEnum
from typing import Annotated, Any

import typer
from rich.console import Console

from adapters.cli import formatting as fmt
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
    usage_error,
)
from domain.errors import InvalidInput
from domain.estimate import EstimatedAttainment, estimated_attainment
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
        attainment: Annotated[
            str | None, typer.Option("--attainment", help="Atteinte des années 3+ (fraction, plafonnée à 0-1).")
        ] = None,
        patients: Annotated[
            int | None, typer.Option("--patients", help="Patientèle initiale (à la signature).")
        ] = None,
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
        patients: Annotated[
            int,
            typer.Option(
                "--patients",
                help="Patientèle à la signature (médecin traitant pour un généraliste, "
                "file active pour les autres spécialités, R20).",
            ),
        ],
        signed: Annotated[datetime, _date_opt("--signed", "Date de signature.")],
        effective: Annotated[datetime, _date_opt("--effective", "Date de prise d'effet.")],
        target: Annotated[
            int | None,
            typer.Option(
                "--target",
                help="Objectif de patientèle ; sans lui, déduit quand la règle le "
                "permet (P95+, 65 ans ou plus, généraliste nouvellement installé : R27).",
            ),
        ] = None,
        optam: Annotated[bool, typer.Option("--optam", help="Adhérent OPTAM / OPTAM-ACO.")] = False,
        ccam_share: Annotated[float | None, typer.Option("--ccam-share", help="Part CCAM (%).")] = None,
        newly_installed: Annotated[bool, typer.Option("--newly-installed")] = False,
        mep: Annotated[bool, typer.Option("--mep", help="Médecin à exercice particulier.")] = False,
        am_number: Annotated[str | None, typer.Option("--am-number", help="Numéro AM (9 chiffres).")] = None,
        zip_area: Annotated[bool, typer.Option("--zip-area", help="Cabinet en ZIP.")] = False,
        aged_65: Annotated[bool, typer.Option("--aged-65", help="Médecin de 65 ans ou plus (R27).")] = False,
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
                mep=mep, zip_area=zip_area, am_number=am_number, aged_65_or_more=aged_65,
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
        was_secretary: Annotated[
            bool, typer.Option("--was-secretary", help="L'assistant était la secrétaire du cabinet (R28).")
        ] = False,
        data_dir: DataDir = None,
        actor: Actor = None,
        reason: Reason = "",
        command_id: CommandId = None,
        as_json: Json = False,
    ) -> None:
        """Record the assistant's hire (R12), or a replacement with --replace."""
        app, cid = open_app(data_dir), parse_id(convention)
        m = meta(actor, reason or ("remplacement de l'assistant" if replace else "embauche"), command_id)
        if replace and was_secretary:
            usage_error("replace_or_secretary", "--was-secretary ne s'applique qu'à une première embauche.")
        if replace:
            result = run(lambda: app.replace_assistant(
                cid, m, on=date_.date(), fte=_decimal(fte, "fte"), profile=profile, employer_siret=siret))  # fmt: skip
        else:
            result = run(lambda: app.hire(
                cid, m, hired_on=date_.date(), fte=_decimal(fte, "fte"), profile=profile,
                employer_siret=siret, was_practice_secretary=was_secretary))  # fmt: skip
        echo_result(result, as_json, f"embauche enregistrée (version {result['version']})")

    @app.command()
    def secretary(
        convention: Annotated[str, typer.Argument()],
        date_: Date,
        data_dir: DataDir = None,
        actor: Actor = None,
        reason: Reason = "",
        command_id: CommandId = None,
        as_json: Json = False,
    ) -> None:
        """Declare the new secretary of the practice, when the assistant was its secretary (R28)."""
        app, cid = open_app(data_dir), parse_id(convention)
        m = meta(actor, reason or "nouvelle secrétaire", command_id)
        result = run(lambda: app.declare_secretary_hired(cid, m, hired_on=date_.date()))
        echo_result(result, as_json, f"nouvelle secrétaire enregistrée (version {result['version']})")

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
        """The convention's state: now, at a version, or as of a date (not both)."""
        if as_of is not None and version is not None:
            usage_error("as_of_or_version", "Donner --as-of ou --version, pas les deux.")
        app, cid = open_app(data_dir), parse_id(convention)
        conv = run(lambda: app.get(cid, version=version, as_of=to_date(as_of)))
        # The option of the year in which that day falls, as the API shows it (none at a bare version).
        today = to_date(as_of) or (app.clock() if version is None else None)
        view = convention_view(conv, today)
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
        t = fmt.table(fmt.num("v"), fmt.text("événement"), fmt.key("effet"), fmt.key("enregistré (UTC)"),
                      fmt.text("par"), fmt.text("motif"))  # fmt: skip
        for e in events:
            t.add_row(
                str(e["version"]), fmt.label("event", e["type"]), fmt.fr_date(e["effective_date"]),
                fmt.fr_datetime(e["recorded_at"]), e["actor"], e["reason"],
            )  # fmt: skip
        fmt.console().print(t)


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
