"""``conventions import FILE``: conventions from a spreadsheet (docs/import-format.md).

Prints what happened (imported, already imported, refused lines with column, value and message),
writes the rejected rows (``--skip-invalid``) and, on request, every error (``--errors``). Exit 1
when the file is refused or, in the default all-or-nothing mode, when any row is: then nothing was
stored.
"""

from __future__ import annotations

import csv
import os
from pathlib import Path
from typing import Annotated, Any

import structlog
import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from adapters.cli import formatting as fmt
from adapters.cli.common import Actor, DataDir, Json, _os_user, open_app, print_json, run, stderr_is_tty
from adapters.importer import run as importer
from adapters.importer.columns import ERROR_COLUMN
from adapters.importer.parallel import WorkerFailed
from adapters.importer.reader import normalise
from domain.identifiers import convention_id

SHOWN_ERRORS = 50  # on screen; --errors FILE has them all


class _Bar(importer.Progress):
    """The import's phases as a rich progress bar on stderr (nothing when stderr is not a terminal)."""

    def __init__(self, progress: Progress) -> None:
        self.progress, self.task = progress, None

    def phase(self, name: str, total: int) -> None:
        self.task = self.progress.add_task(name, total=max(total, 1))

    def advance(self, n: int = 1) -> None:
        if self.task is not None:
            self.progress.advance(self.task, n)


def import_(
    file: Annotated[Path, typer.Argument(help="Fichier CSV (UTF-8) ou XLSX, une ligne par convention.")],
    all_or_nothing: Annotated[
        bool,
        typer.Option(
            "--all-or-nothing/--skip-invalid",
            help="Tout ou rien (défaut) ; --skip-invalid enregistre les lignes valides et écrit les autres "
            "dans le fichier des rejets.",
        ),
    ] = True,
    rejected: Annotated[
        Path | None, typer.Option("--rejected", help="Fichier des rejets (défaut : FICHIER.rejets.csv à côté).")
    ] = None,
    check: Annotated[bool, typer.Option("--check", help="Tout vérifier, ne rien enregistrer.")] = False,
    errors: Annotated[Path | None, typer.Option("--errors", help="Écrire toutes les erreurs dans ce CSV.")] = None,
    workers: Annotated[
        int,
        typer.Option(
            "--workers",
            min=1,
            help="Processus qui vérifient les règles et enregistrent (défaut : 2, ou 1 sur une machine à un "
            "cœur) ; 1 : tout dans ce processus.",
        ),
    ] = min(2, os.cpu_count() or 1),
    data_dir: DataDir = None,
    actor: Actor = None,
    as_json: Json = False,
) -> None:
    """Importer des conventions depuis un tableur : chaque ligne devient les commandes qu'un agent
    aurait saisies (signature, embauche, paiements, suspensions...), datées et idempotentes."""
    app = open_app(data_dir)
    columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn())
    console = Console(stderr=True)
    try:
        with Progress(*columns, console=console, disable=as_json or not stderr_is_tty()) as progress:
            report = run(lambda: importer.import_file(
                app, file, actor=f"import:{actor or _os_user()}", skip_invalid=not all_or_nothing, check=check,
                progress=_Bar(progress), workers=workers, open_app=lambda: open_app(data_dir),
            ))  # fmt: skip
    except WorkerFailed as error:
        structlog.get_logger("import").error("import.worker_failed", traceback=error.details)
        typer.echo(f"error[import_worker_failed]: {error} Relancer l'import : une ligne déjà enregistrée est "
                   "reconnue (« déjà importée »), les autres le sont alors.", err=True)  # fmt: skip
        raise typer.Exit(1) from None
    rejected_file = None
    if report.errors and not all_or_nothing and not check:
        rejected_file = rejected or file.with_name(f"{file.stem}.rejets.csv")
        _write_rejected(report, rejected_file)
    if errors is not None:
        _write_errors(report, errors)
    data = _summary(report, file, rejected_file, check, skip=not all_or_nothing)
    if as_json:
        print_json(data)
    else:
        _print(report, data)
    if report.errors and all_or_nothing:
        typer.echo(f"error[import_refused]: {data['verdict']}", err=True)
        raise typer.Exit(1)


def _summary(
    report: importer.Report, file: Path, rejected_file: Path | None, check: bool, *, skip: bool
) -> dict[str, Any]:
    def conv(plan: Any) -> dict[str, Any]:
        cid = convention_id(plan.cpam, plan.number)
        return {"line": plan.row.line, "cpam": plan.cpam, "number": plan.number, "id": str(cid)}

    lines = report.rejected_lines
    if not lines:
        verdict = "fichier valide : rien enregistré (--check)." if check else "import terminé."
    elif skip and not check:
        verdict = f"{len(lines)} ligne(s) refusée(s), {len(report.imported)} convention(s) enregistrée(s)."
    else:
        verdict = f"{len(lines)} ligne(s) refusée(s) : rien n'a été enregistré."
    if lines and not report.rules_checked:
        verdict += " Les règles métier seront vérifiées une fois ces lignes corrigées."
    if lines and not skip and not check:
        verdict += " Corriger le fichier, ou --skip-invalid pour enregistrer les lignes valides."
    return {
        "file": str(file), "rows": len(report.table.rows), "check": check, "stored": report.stored,
        "imported": [conv(p) for p in report.imported] if report.stored or check else [],
        "already_imported": [conv(p) for p in report.already],
        "rejected_lines": lines, "rules_checked": report.rules_checked,
        "errors": [e.__dict__ for e in report.errors], "rejected_file": str(rejected_file) if rejected_file else None,
        "verdict": verdict,
    }  # fmt: skip


def _print(report: importer.Report, data: dict[str, Any]) -> None:
    out = fmt.console()
    imported = len(data["imported"])
    out.print(f"Fichier {data['file']} : {data['rows']} ligne(s).")
    label = "valides (rien enregistré)" if data["check"] else "importées"
    out.print(f"  {label} : {imported}")
    if data["already_imported"]:
        shown = ", ".join(str(c["line"]) for c in data["already_imported"][:20])
        out.print(f"  déjà importées : {len(data['already_imported'])} (lignes {shown}) : rien de nouveau")
    out.print(f"  refusées : {len(data['rejected_lines'])}")
    if report.errors:
        t = fmt.table(fmt.num("ligne"), fmt.key("colonne"), fmt.text("valeur"), fmt.text("erreur"),
                      title="Lignes refusées")  # fmt: skip
        for e in report.errors[:SHOWN_ERRORS]:
            t.add_row(str(e.line), e.column, e.value, e.message)
        out.print(t)
        if len(report.errors) > SHOWN_ERRORS:
            out.print(f"… et {len(report.errors) - SHOWN_ERRORS} autre(s) erreur(s) (--errors FICHIER : toutes).")
    if data["rejected_file"]:
        out.print(f"Lignes refusées écrites dans {data['rejected_file']} (colonne « {ERROR_COLUMN} ») : les "
                  "corriger puis importer ce fichier.")  # fmt: skip
    out.print(data["verdict"])


def _write_rejected(report: importer.Report, path: Path) -> None:
    """The rejected rows as written, plus ``erreur``: fix them, import this file again."""
    keep = [i for i, h in enumerate(report.table.header) if normalise(h) != ERROR_COLUMN]
    with path.open("w", encoding="utf-8-sig", newline="") as f:
        writer = csv.writer(f, delimiter=report.table.delimiter)
        writer.writerow([report.table.header[i] for i in keep] + [ERROR_COLUMN])
        for row, message in report.rejected_rows():
            writer.writerow([row.raw[i] if i < len(row.raw) else "" for i in keep] + [message])


def _write_errors(report: importer.Report, path: Path) -> None:
    with path.open("w", encoding="utf-8-sig", newline="") as f:
        writer = csv.writer(f, delimiter=";")
        writer.writerow(["ligne", "colonne", "valeur", "erreur"])
        for e in report.errors:
            writer.writerow([e.line, e.column, e.value, e.message])


def register(app: typer.Typer) -> None:
    app.command("import")(import_)
