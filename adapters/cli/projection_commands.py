"""CLI commands of the projection capability: project, rebuild, list, dashboard, verify --projections."""

from __future__ import annotations

import signal
import time
from collections import defaultdict
from collections.abc import Callable
from datetime import datetime
from decimal import Decimal
from typing import Annotated, Any

import typer
from rich.table import Table

from adapters.cli import formatting as fmt
from adapters.cli.common import DATE_FORMATS, DataDir, Json, choice, closing_runner, open_app, print_json, settings_for
from adapters.composition import build_clock, build_projections
from domain.values import Option, Status, Tier
from projections import conventions_list, portfolio

STATUS_WORDS = {word: code for code, word in fmt.LABELS["status"].items()}  # actif -> active, ...

Batch = Annotated[int, typer.Option("--batch-size", min=1, max=5000, help="Événements par transaction.")]
Cpams = Annotated[list[str] | None, typer.Option("--cpam", help="Code CPAM (répétable).")]


def _runner(data_dir: Any, batch_size: int = 500, *, catch_up: bool = False) -> Any:
    """The runner for a data directory, caught up with the log first when asked (read commands)."""
    runner = closing_runner(build_projections(settings_for(data_dir), batch_size=batch_size))
    if catch_up:
        runner.catch_up()
    return runner


def _progress(label: str, total: int, disable: bool) -> Any:
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    bar = Progress(
        TextColumn(label), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(), disable=disable, transient=False
    )
    return bar, bar.add_task(label, total=max(total, 1))


def register(app: typer.Typer) -> None:
    """Add this module's commands to ``app``, in the order ``--help`` lists them."""
    app.command()(project)
    app.command()(rebuild)
    app.command("list")(list_)
    app.command()(dashboard)
    app.command()(verify)


def project(
    follow: Annotated[
        bool,
        typer.Option("--follow", help="Suivre le journal en continu (un seul suiveur travaille ; un second attend)."),
    ] = False,
    poll: Annotated[float, typer.Option("--poll", min=0.05, max=1.0, help="Attente entre deux lectures (s).")] = 0.2,
    lock_poll: Annotated[
        float, typer.Option("--lock-poll", min=0.05, max=60.0, help="En attente : secondes entre essais du verrou.")
    ] = 1.0,
    batch_size: Batch = 500,
    data_dir: DataDir = None,
    as_json: Json = False,
) -> None:
    """Mettre les vues (read models) à jour depuis le journal des événements, une fois ou en continu."""
    if follow:
        _follow(data_dir, batch_size, poll, lock_poll)
        return
    runner = _runner(data_dir, batch_size)
    started = time.perf_counter()
    count = runner.catch_up()
    positions = runner.positions()
    if as_json:
        print_json({"applied": count, "seconds": round(time.perf_counter() - started, 3), "projections": positions})
        return
    typer.echo(f"{count} événements appliqués en {time.perf_counter() - started:.2f} s.")
    for name, p in positions.items():
        typer.echo(f"  {name:18} position {p['position']} / {p['head']} (génération {p['generation']})")


def _follow(data_dir: Any, batch_size: int, poll: float, lock_poll: float) -> None:
    """The deployment's projection follower: waits for the lock, then follows until SIGTERM or Ctrl-C."""
    from adapters.composition import build_scheduler_lock
    from adapters.logging import configure_logging
    from adapters.projection_follower import Follower, plans_ahead

    settings = settings_for(data_dir)
    configure_logging(settings.log_format, settings.log_level)
    follower = Follower(
        lambda: build_projections(settings, batch_size=batch_size), build_scheduler_lock(settings, "projections"),
        poll=poll, lock_poll=lock_poll, idle=plans_ahead(settings),
    )  # fmt: skip
    signal.signal(signal.SIGTERM, lambda *_: follower.stop.set())
    signal.signal(signal.SIGINT, lambda *_: follower.stop.set())
    follower.run()


def rebuild(
    name: Annotated[str | None, typer.Argument(help="Vue à reconstruire (défaut : toutes).")] = None,
    batch_size: Batch = 500,
    data_dir: DataDir = None,
    as_json: Json = False,
) -> None:
    """Reconstruire une vue (ou toutes) à côté des tables en service, puis basculer d'un coup."""
    runner = _runner(data_dir, batch_size)
    try:
        names = [runner.model(name).name] if name else None
    except KeyError as error:
        typer.echo(f"error[unknown_projection]: {error.args[0]}", err=True)
        raise typer.Exit(1) from None
    started = time.perf_counter()
    bar, task = _progress("reconstruction", runner.head(), as_json)
    with bar:
        generations = runner.rebuild(names, progress=lambda n, pos: bar.update(task, completed=pos))
    seconds = time.perf_counter() - started
    if as_json:
        print_json({"rebuilt": generations, "seconds": round(seconds, 3), "projections": runner.positions()})
    else:
        typer.echo(
            f"Reconstruit en {seconds:.2f} s : " + ", ".join(f"{n} (génération {g})" for n, g in generations.items())
        )


def list_(
    q: Annotated[str | None, typer.Option("--search", "-q", help="Numéro, RPPS ou nom.")] = None,
    number: Annotated[str | None, typer.Option("--number")] = None,
    rpps: Annotated[str | None, typer.Option("--rpps")] = None,
    name: Annotated[str | None, typer.Option("--name")] = None,
    cpam: Cpams = None,
    status: Annotated[
        str | None, typer.Option("--status", help="active, suspended, terminated (ou actif, suspendu, résilié)")
    ] = None,
    option: Annotated[str | None, typer.Option("--option", help="THIRD, HALF, FULL")] = None,
    tier: Annotated[str | None, typer.Option("--tier", help="BASE, RAISED, MAX")] = None,
    year: Annotated[int | None, typer.Option("--year", help="Année de contrat.")] = None,
    sort: Annotated[str, typer.Option("--sort", help=", ".join(conventions_list.SORTS))] = "number",
    desc: Annotated[bool, typer.Option("--desc")] = False,
    page: Annotated[int, typer.Option("--page", min=1)] = 1,
    per_page: Annotated[int, typer.Option("--per-page", min=1, max=1000)] = 50,
    catch_up: Annotated[bool, typer.Option("--catch-up/--no-catch-up", help="Rattraper le journal avant.")] = True,
    data_dir: DataDir = None,
    as_json: Json = False,
) -> None:
    """Lister les conventions : recherche, filtres, tri et pages."""
    # Unknown values are refused before anything is read: they used to list nothing, silently.
    status = choice(status, "--status", [s.value for s in Status], STATUS_WORDS)
    option = choice(option, "--option", [o.value for o in Option])
    tier = choice(tier, "--tier", [t.value for t in Tier])
    sort = choice(sort, "--sort", list(conventions_list.SORTS)) or "number"
    runner = _runner(data_dir, catch_up=catch_up)
    result = conventions_list.search(
        runner.store, q=q, number=number, rpps=rpps, name=name, cpams=set(cpam) if cpam else None,
        status=status, option=option, tier=tier, contract_year=year, sort=sort, descending=desc, page=page,
        per_page=per_page,
    )  # fmt: skip
    # The API's item shape: "id", then the same keys.
    result["items"] = [{"id": r.pop("convention_id"), **r} for r in result["items"]]
    if as_json:
        print_json(result)
        return
    pages = -(-result["total"] // result["per_page"]) or 1
    t = fmt.table(fmt.key("numéro"), fmt.key("CPAM"), fmt.text("médecin, RPPS"), fmt.key("statut"),
                  fmt.key("formule"), fmt.num("année"), fmt.key("effet"),
                  title=f"{result['total']} convention(s) — page {result['page']} sur {pages}")  # fmt: skip
    for c in result["items"]:
        doctor = f"{c['doctor_name']}\n{c['rpps']}"
        t.add_row(c["number"], c["cpam_code"], doctor, fmt.status_label(c["status"]), f"{c['option']} {c['tier']}",
                  str(c["contract_year"]), fmt.fr_date(c["effective_from"]))  # fmt: skip
    fmt.console().print(t)


def dashboard(
    today: Annotated[datetime | None, typer.Option("--today", formats=DATE_FORMATS, help="Date du tableau.")] = None,
    cpam: Cpams = None,
    catch_up: Annotated[bool, typer.Option("--catch-up/--no-catch-up")] = True,
    data_dir: DataDir = None,
    as_json: Json = False,
) -> None:
    """Tableau de bord du portefeuille : effectifs, ETP, montants, points, atteintes, prévision."""
    runner = _runner(data_dir, catch_up=catch_up)
    day = today.date() if today else build_clock(settings_for(data_dir))()  # CONVENTIONS_TODAY, else real time
    dash = portfolio.dashboard(runner.store, day, set(cpam) if cpam else None)
    if as_json:
        print_json(dash)
        return
    _print_dashboard(dash)


def verify(
    projections: Annotated[bool, typer.Option("--projections", help="Rejouer tout et comparer aux vues.")] = False,
    rules: Annotated[
        bool, typer.Option("--rules", help="Signaler les historiques que les règles actuelles refuseraient.")
    ] = False,
    books: Annotated[
        bool, typer.Option("--books", help="Recalculer chaque échéance et contrôler les paiements (les comptes).")
    ] = False,
    chain: Annotated[bool, typer.Option("--chain", help="Contrôler la chaîne d'intégrité des événements.")] = False,
    workers: Annotated[
        int | None, typer.Option("--workers", min=1, max=16, help="Processus (défaut : 2 au plus, un par cœur).")
    ] = None,
    coverage: Annotated[
        bool, typer.Option("--coverage", help="Dire pour chaque convention depuis quelle version la chaîne la couvre.")
    ] = False,
    batch_size: Batch = 500,
    data_dir: DataDir = None,
    as_json: Json = False,
) -> None:
    """Auditer : sans option, tout (comptes, chaîne d'intégrité, règles, vues) ; les options choisissent
    les parties. Code de sortie 1 au moindre constat (docs/audit.md)."""
    from adapters.cli import audit_commands

    chosen = tuple(p for p, on in zip(audit_commands.PARTS, (books, chain, rules, projections), strict=True) if on)
    if chosen == ("rules",):
        _verify_rules(data_dir, as_json)
    elif chosen == ("projections",):
        _verify_projections(data_dir, batch_size, as_json)
    else:
        audit_commands.audit(data_dir, chosen or audit_commands.PARTS, workers=workers, as_json=as_json,
                             coverage=coverage)  # fmt: skip


def _verify_projections(data_dir: Any, batch_size: int, as_json: bool) -> None:
    """Replay the whole log beside the live tables and name every row that differs (exit 1 if any)."""
    runner = _runner(data_dir, batch_size)
    bar, task = _progress("vérification", runner.head() * len(runner.models), as_json)
    done = {"n": 0}

    def advance(n: int, pos: int) -> None:
        done["n"] += n
        bar.update(task, completed=done["n"])

    with bar:
        diffs = runner.verify(progress=advance)
    _verdict(
        {"ok": not diffs, "differences": [d.__dict__ for d in diffs]} if as_json else None,
        [f"{d.projection}.{d.table} {d.key}:\n  vue     : {d.live}\n  rejouée : {d.fresh}" for d in diffs],
        f"{len(diffs)} ligne(s) diffèrent.",
        "Vues conformes : un rejeu complet donne exactement les mêmes lignes.",
    )


def _verify_rules(data_dir: Any, as_json: bool) -> None:
    """Every convention's history through ``domain.audit``: stored data still loads, and what today's
    rules would refuse is named (exit 1 when anything is found)."""
    from domain.audit import audit

    app = open_app(data_dir)
    found = []
    for cid in app.convention_ids():
        events = app.history(cid)
        for f in audit(events):
            found.append({"id": str(cid), "number": events[0].number, "code": f.code, "message": f.message,
                          "version": f.version})  # fmt: skip
    lines = []
    for f in found:
        at = f" (version {f['version']})" if f["version"] else ""
        lines.append(f"{f['number']} {f['id']}{at} [{f['code']}] {f['message']}")
    _verdict(
        {"ok": not found, "findings": found} if as_json else None,
        lines,
        f"{len(found)} écart(s) aux règles.",
        "Historiques conformes aux règles en vigueur.",
    )


def _verdict(document: dict[str, Any] | None, findings: list[str], count: str, all_clear: str) -> None:
    """How both verifications answer: the JSON ``document`` when there is one (``--json``), else one
    line per finding and their ``count`` on stderr, or the all-clear; exit 1 whenever something was found."""
    if document is not None:
        print_json(document)
    elif findings:
        for line in findings:
            typer.echo(line)
        typer.echo(count, err=True)
    else:
        typer.echo(all_clear)
    if findings:
        raise typer.Exit(1)


def _print_dashboard(dash: dict[str, Any]) -> None:
    """The manager's dashboard: each table with its totals; amounts as operators write them."""
    console = fmt.console()
    console.print(f"[bold]Portefeuille au {fmt.fr_date(dash['today'])}[/bold]")
    rows = dash["conventions"]
    t = fmt.table(fmt.key("CPAM"), fmt.key("statut"), fmt.key("option"), fmt.key("palier"), fmt.num("conventions"),
                  fmt.num("ETP financés"), title="Conventions", footer=True)  # fmt: skip
    for c in rows:
        t.add_row(c["cpam_code"], fmt.status_label(c["status"]), c["option"], c["tier"], fmt.number(c["count"]),
                  fmt.number(c["funded_etp"], 2))  # fmt: skip
    _footer(t, "total", {4: fmt.number(sum(c["count"] for c in rows)),
                         5: fmt.number(sum((c["funded_etp"] for c in rows), Decimal(0)), 2)})  # fmt: skip
    console.print(t)

    money = ("due", "to_recover", "paid", "recovered")
    t = fmt.table(fmt.key("année"), fmt.key("CPAM"), fmt.num("dû"), fmt.num("à récupérer"), fmt.num("payé"),
                  fmt.num("récupéré"), title="Aide par année civile", footer=True)  # fmt: skip
    _by_year(t, dash["money"], str, lambda r: [fmt.euros(r[k]) for k in money])
    _footer(t, "total", {2 + i: fmt.euros(sum((m[k] for m in dash["money"]), Decimal(0))) for i, k in enumerate(money)})
    console.print(t)

    counts = ("held_on_time", "held_late", "overdue", "pending")
    t = fmt.table(fmt.key("CPAM"), fmt.num("tenus à temps"), fmt.num("tenus en retard"),
                  fmt.num("non tenus, en retard"), fmt.num("à venir"), title="Points semestriels",
                  footer=True)  # fmt: skip
    for r in dash["reviews"]:
        t.add_row(r["cpam_code"], *(fmt.number(r[k]) for k in counts))
    _footer(t, "total", {1 + i: fmt.number(sum(r[k] for r in dash["reviews"])) for i, k in enumerate(counts)})
    console.print(t)

    # One row per CPAM, the buckets in their order (the read model hands them in text order: "100 %" first).
    buckets = [label for _, _, label in portfolio.BUCKETS]
    per_cpam: dict[str, dict[str, int]] = defaultdict(dict)
    for a in dash["attainment_years_3_plus"]:
        per_cpam[a["cpam_code"]][a["bucket"]] = a["count"]
    t = fmt.table(fmt.key("CPAM"), *(fmt.num(b) for b in buckets), fmt.num("total"),
                  title="Atteinte des objectifs (années 3+)", footer=True)  # fmt: skip
    for cpam, n in sorted(per_cpam.items()):
        t.add_row(cpam, *(fmt.number(n.get(b, 0)) for b in buckets), fmt.number(sum(n.values())))
    _footer(t, "total", {1 + i: fmt.number(sum(n.get(b, 0) for n in per_cpam.values())) for i, b in enumerate(buckets)}
            | {len(buckets) + 1: fmt.number(sum(sum(n.values()) for n in per_cpam.values()))})  # fmt: skip
    console.print(t)
    console.print(f"Suspensions en cours : {len(dash['suspensions'])}")
    t = fmt.table(fmt.key("année"), fmt.key("CPAM"), fmt.num("reste à payer"), footer=True,
                  title="Prévision à atteinte complète")  # fmt: skip
    _by_year(t, dash["forecast"], str, lambda r: [fmt.euros(r["amount"])])
    _footer(t, "total", {2: fmt.euros(sum((f["amount"] for f in dash["forecast"]), Decimal(0)))})
    console.print(t)
    for a in dash.get("arrears", []):
        console.print(
            f"Arriérés CPAM {a['cpam_code']} (échéances impayées des années passées) : {fmt.euros(a['amount'])}"
        )
    for u in dash.get("unprocessable", []):  # soft_wrap: the line stays whole, for people and for grep
        console.print(
            f"Attention : convention {u['number'] or u['id']} (CPAM {u['cpam_code']}) non calculée, "
            f"absente de la prévision : {u['message']} [{u['code']}]",
            style="yellow", soft_wrap=True, markup=False, highlight=False,
        )  # fmt: skip


def _by_year(
    t: Table, rows: list[dict[str, Any]], year_label: Callable[[int], str], cells: Callable[[dict[str, Any]], list[str]]
) -> None:
    """Rows grouped by year, CPAMs in order, a subtotal per year over several CPAMs."""
    years: dict[int, list[dict[str, Any]]] = defaultdict(list)
    for r in rows:
        years[r["year"]].append(r)
    for n, (year, group) in enumerate(sorted(years.items())):
        if n:
            t.add_section()
        for r in sorted(group, key=lambda r: r["cpam_code"]):
            t.add_row(year_label(year), r["cpam_code"], *cells(r))
        if len(group) > 1:
            amounts = [k for k in group[0] if isinstance(group[0][k], Decimal)]
            total = {k: sum((r[k] for r in group), Decimal(0)) for k in amounts}
            t.add_row(f"total {year_label(year)}", "", *cells({**group[0], **total}), style="bold")


def _footer(t: Table, first: str, values: dict[int, str]) -> None:
    t.columns[0].footer = first
    for i, v in values.items():
        t.columns[i].footer = v
