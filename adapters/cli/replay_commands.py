"""CLI command of the policy impact (issue 12): ``conventions replay --policy modulation=steps``.

Replays every convention's recorded facts under other policies, in memory (``adapters.impact``), and
prints what would have been due and to recover per CPAM and calendar year against what was.
Nothing is written: neither events nor read models.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Annotated

import typer

from adapters.cli import formatting as fmt
from adapters.cli.common import DataDir, Json, print_json, settings_for, usage_error
from adapters.composition import build_clock
from adapters.impact import Impact, impact, scoped
from domain.errors import DomainError
from domain.impact import Figures
from domain.replay_policies import accepted_values, parse_policies, policy_names

Policy = Annotated[
    list[str] | None,
    typer.Option(
        "--policy",
        help="nom=valeur, répétable : "
        + " ; ".join(f"{n}={'|'.join(accepted_values(n))}" for n in policy_names())
        + " (les autres politiques restent celles de chaque convention).",
    ),
]
Cpams = Annotated[list[str] | None, typer.Option("--cpam", help="Code CPAM (répétable ; défaut : toutes).")]
Workers = Annotated[int, typer.Option("--workers", min=1, max=16, help="Processus de calcul (défaut : 2).")]


def register(app: typer.Typer) -> None:
    app.command("replay")(replay)


def replay(
    policy: Policy = None,
    cpam: Cpams = None,
    workers: Workers = 2,
    data_dir: DataDir = None,
    as_json: Json = False,
) -> None:
    """Impact d'une politique : rejouer les faits enregistrés de chaque convention sous une autre
    politique (en mémoire, rien n'est écrit) et comparer, par CPAM et année civile, ce qui aurait été
    dû et à récupérer à ce qui l'a été."""
    if not policy:
        usage_error("policy_required", "Préciser au moins une politique : --policy modulation=steps.")
    try:
        chosen = parse_policies(policy or [])
    except DomainError as error:
        usage_error(error.code, error.message)
        raise  # unreachable: usage_error exits
    for code in cpam or []:
        if not (len(code) == 3 and code.isdigit()):
            usage_error("invalid_cpam", f"--cpam « {code} » : code CPAM de 3 chiffres attendu.")
    settings = settings_for(data_dir)
    result = impact(settings, chosen, build_clock(settings)(), scoped(cpam), workers=workers)
    if as_json:
        print_json(result.as_json())
    else:
        print_impact(result)


def describe(policies: dict[str, object]) -> str:
    return ", ".join(f"{name}={getattr(v, 'value', v) if not isinstance(v, bool) else ('on' if v else 'off')}"
                     for name, v in policies.items())  # fmt: skip


def print_impact(result: Impact) -> None:
    """The report: per CPAM and year, recorded / under the policy / difference, then the totals."""
    console = fmt.console()
    title = (
        f"Impact de {describe(result.policies)} au {fmt.fr_date(result.today)} (journal à l'événement {result.head})"
    )
    t = fmt.table(
        fmt.key("CPAM"), fmt.key("année"), fmt.num("dû"), fmt.num("dû (politique)"), fmt.num("écart"),
        fmt.num("à récupérer"), fmt.num("à récupérer (politique)"), fmt.num("écart"), fmt.num("payé"),
        fmt.num("récupéré"), title=title, footer=True,
    )  # fmt: skip
    rows = result.rows()
    for n, cpam in enumerate(result.cpams()):
        if n:
            t.add_section()
        for r in (r for r in rows if r["cpam_code"] == cpam):
            t.add_row(cpam, str(r["year"]), *_cells(r["actual"], r["replayed"]))
        if sum(1 for r in rows if r["cpam_code"] == cpam) > 1:
            totals = result.totals(cpam)
            t.add_row(f"total {cpam}", "", *_cells(totals["actual"], totals["replayed"]), style="bold")
    totals = result.totals()
    for i, cell in enumerate(["total", "", *_cells(totals["actual"], totals["replayed"])]):
        t.columns[i].footer = cell
    console.print(t)
    console.print(
        f"{fmt.number(result.conventions)} conventions ; {fmt.number(result.rerun)} rejouées (la politique ne "
        f"peut rien changer aux autres) ; {fmt.number(result.changed)} dont les montants changent ; "
        f"calculé en {result.seconds:.1f} s.",
        soft_wrap=True, highlight=False,
    )  # fmt: skip
    for u in result.unreplayable:
        console.print(
            f"Attention : convention {u['number'] or u['id']} (CPAM {u['cpam_code']}) non rejouée, absente des "
            f"chiffres : {u['message']} [{u['code']}]",
            style="yellow", soft_wrap=True, markup=False, highlight=False,
        )  # fmt: skip


def _cells(actual: Figures, replayed: Figures) -> list[str]:
    def signed(value: Decimal) -> str:
        return ("+" if value > 0 else "") + fmt.euros(value)

    return [
        fmt.euros(actual.due), fmt.euros(replayed.due), signed(replayed.due - actual.due),
        fmt.euros(actual.to_recover), fmt.euros(replayed.to_recover), signed(replayed.to_recover - actual.to_recover),
        fmt.euros(actual.paid), fmt.euros(actual.recovered),
    ]  # fmt: skip
