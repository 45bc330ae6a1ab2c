"""CLI command of the finance exports: ``conventions export KIND --format csv|xlsx --out FILE``."""

from __future__ import annotations

import os
import re
from datetime import datetime
from pathlib import Path
from typing import Annotated

import typer

from adapters.cli.common import (
    DATE_FORMATS,
    DataDir,
    Json,
    choice,
    closing_runner,
    fail,
    print_json,
    settings_for,
    usage_error,
)
from adapters.composition import build_clock, build_projections
from domain.errors import DomainError
from domain.fields import MAX_DAY, MIN_DAY

CPAM_CODE = re.compile(r"^[0-9]{3}$")
KIND_WORDS = {"grand-livre": "ledger", "a-traiter": "work-queue"}


def register(app: typer.Typer) -> None:
    app.command()(export)


def export(
    kind: Annotated[str, typer.Argument(help="conventions, ledger ou work-queue (ou grand-livre, a-traiter).")],
    out: Annotated[Path, typer.Option("--out", help="Fichier à écrire (remplacé d'un coup, jamais à moitié).")],
    fmt: Annotated[str | None, typer.Option("--format", help="csv ou xlsx (défaut : l'extension de --out).")] = None,
    cpam: Annotated[list[str] | None, typer.Option("--cpam", help="Code CPAM à 3 chiffres (répétable).")] = None,
    year: Annotated[int | None, typer.Option("--year", help="Année civile (voir docs/exports.md).")] = None,
    today: Annotated[
        datetime | None, typer.Option("--today", formats=DATE_FORMATS, help="Date de la file à traiter.")
    ] = None,
    data_dir: DataDir = None,
    as_json: Json = False,
) -> None:
    """Exporter pour la comptabilité : conventions, grand livre des échéances ou file à traiter (CSV ou XLSX)."""
    # Imported here: the sheets use the CLI's French labels (adapters.cli.formatting), whose package
    # imports this module.
    from adapters.exports.sheets import KINDS, build
    from adapters.exports.writers import FORMATS, write_file

    kind = choice(kind, "kind", list(KINDS), KIND_WORDS) or ""
    fmt = choice(fmt or _suffix_format(out), "--format", list(FORMATS)) or ""
    for code in cpam or []:
        if not CPAM_CODE.match(code):
            usage_error("invalid_cpam", f"Code CPAM « {code} » invalide : trois chiffres attendus (ex. 281).")
    if year is not None and not MIN_DAY.year <= year <= MAX_DAY.year:
        usage_error("invalid_year", f"Année {year} hors limites ({MIN_DAY.year}-{MAX_DAY.year}).")
    target = _writable(out)
    settings = settings_for(data_dir)
    runner = closing_runner(build_projections(settings))
    runner.catch_up()  # an export says what the log says now
    day = today.date() if today else build_clock(settings)()
    sheet = build(kind, runner.store, today=day, cpams=set(cpam) if cpam else None, year=year)
    try:
        count = write_file(sheet, fmt, target)
    except OSError as error:
        fail(DomainError("unwritable_out", f"Impossible d'écrire {out} : {error.strerror or error}.", "out"))
    if as_json:
        print_json({"kind": kind, "format": fmt, "out": str(target), "rows": count})
    else:
        typer.echo(f"{count} ligne(s) exportée(s) dans {target}.")


def _suffix_format(out: Path) -> str:
    suffix = out.suffix.lower().lstrip(".")
    if suffix not in ("csv", "xlsx"):
        usage_error("invalid_format", f"Format à préciser (--format csv ou xlsx) : « {out.name} ».")
    return suffix


def _writable(out: Path) -> Path:
    """``out`` when a file can be written there (checked before anything is read), else a refusal."""
    target = out.expanduser().absolute()
    if target.is_dir():
        fail(DomainError("unwritable_out", f"{out} est un répertoire : indiquer un nom de fichier.", "out"))
    if not target.parent.is_dir():
        fail(DomainError("unwritable_out", f"Le répertoire de {out} n'existe pas.", "out"))
    if not os.access(target.parent, os.W_OK | os.X_OK) or (target.exists() and not os.access(target, os.W_OK)):
        fail(DomainError("unwritable_out", f"Écriture refusée dans {out} (droits).", "out"))
    return target
