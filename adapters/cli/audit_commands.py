"""CLI of the audit: ``conventions verify`` (the whole audit, or parts of it) and the upgrade that
anchors the hash chain on a store written before it, ``conventions chain anchor`` (docs/audit.md)."""

from __future__ import annotations

import os
from dataclasses import replace
from typing import Annotated, Any

import typer

from adapters.audit import PARTS, AuditReport, anchor_chains, run_audit
from adapters.cli.common import Actor, DataDir, Json, meta, open_app, print_json, settings_for
from domain.french import euros

chain_app = typer.Typer(help="Chaîne d'intégrité des historiques (preuve de non-altération).", no_args_is_help=True)


def register(app: typer.Typer) -> None:
    app.add_typer(chain_app, name="chain")


@chain_app.command("anchor")
def anchor(
    actor: Actor = None,
    reason: Annotated[str, typer.Option("--reason", help="Motif enregistré sur l'ancrage.")] = "",
    data_dir: DataDir = None,
    as_json: Json = False,
) -> None:
    """Ancrer la chaîne des conventions écrites avant elle (mise à niveau ; sans effet si déjà fait)."""
    app = open_app(data_dir)
    who = replace(meta(actor), reason=reason)
    counts = anchor_chains(app, who, settings_for(data_dir))
    if as_json:
        print_json(counts)
    else:
        typer.echo(
            f"{counts['anchored']} convention(s) ancrée(s), {counts['already_covered']} déjà couverte(s) "
            f"sur {counts['conventions']}."
        )


def audit(data_dir: Any, parts: tuple[str, ...], *, workers: int | None, as_json: bool, coverage: bool) -> None:
    """Run the audit's ``parts`` and answer: JSON, or a summary with one line per finding; exit 1 on any."""
    workers = workers or min(2, os.cpu_count() or 1)
    report = run_audit(settings_for(data_dir), parts, workers=workers)
    if as_json:
        print_json(report_json(report))
    else:
        _print(report, coverage)
    if not report.ok:
        raise typer.Exit(1)


def report_json(report: AuditReport) -> dict[str, Any]:
    """The JSON shape documented in docs/audit.md."""
    t = report.totals
    return {
        "ok": report.ok,
        "parts": list(report.parts),
        "summary": {
            "conventions": report.conventions, "events": t.events, "instalments": t.instalments,
            "payments": t.payments, "due": t.due, "paid": t.paid, "chain": _coverage_counts(report),
        },
        "findings": [f.__dict__ for f in report.findings],
        "coverage": [c.__dict__ for c in report.coverage],
        "differences": report.differences,
        "seconds": report.seconds,
    }  # fmt: skip


def _coverage_counts(report: AuditReport) -> dict[str, int] | None:
    if "chain" not in report.parts:
        return None
    from_first = sum(1 for c in report.coverage if c.covered_from == 1)
    uncovered = sum(1 for c in report.coverage if c.covered_from is None)
    return {"from_version_1": from_first, "from_a_later_version": len(report.coverage) - from_first - uncovered,
            "not_covered": uncovered}  # fmt: skip


def _print(report: AuditReport, coverage: bool) -> None:
    for f in report.findings:
        where = " ".join(x for x in (f.number, f.id) if x) or "journal"
        at = f" version {f.version}" if f.version else ""
        typer.echo(f"{where}{at} [{f.part}:{f.code}] {f.message}")
    for d in report.differences:
        typer.echo(f"[projections] {d['projection']}.{d['table']} {d['key']}:\n  vue     : {d['live']}\n"
                   f"  rejouée : {d['fresh']}")  # fmt: skip
    if coverage:
        for c in report.coverage:
            since = "non couverte" if c.covered_from is None else f"couverte depuis la version {c.covered_from}"
            anchored = f" (ancrée à la version {c.anchored_at})" if c.anchored_at else ""
            typer.echo(f"{c.number or ''} {c.id} : {since}{anchored}")
    t = report.totals
    parts = ", ".join(report.parts)
    typer.echo(f"Audit ({parts}) : {report.conventions} convention(s), {t.events} événement(s), {t.instalments} "
               f"échéance(s) pour {euros(t.due)}, {t.payments} paiement(s) pour {euros(t.paid)}.")  # fmt: skip
    if (counts := _coverage_counts(report)) is not None:
        typer.echo(
            f"Chaîne d'intégrité : {counts['from_version_1']} couverte(s) depuis la version 1, "
            f"{counts['from_a_later_version']} depuis leur ancrage, {counts['not_covered']} non couverte(s)."
        )
    if "projections" in report.parts:
        typer.echo(f"Vues : {len(report.differences)} ligne(s) diffèrent d'un rejeu complet.")
    count = len(report.findings) + len(report.differences)
    typer.echo(f"{count} constat(s) en {report.seconds.get('total', 0):.1f} s." if count else
               f"Aucun constat ({report.seconds.get('total', 0):.1f} s) : les comptes sont prouvés.")  # fmt: skip


__all__ = ["PARTS", "audit", "register"]
