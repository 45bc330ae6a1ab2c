"""``conventions snapshots``: check the snapshots against a replay of the events, or drop them all.

Snapshots are a cache of each convention's state every ``CONVENTIONS_SNAPSHOT_INTERVAL`` versions
(docs/events.md): deleting them loses nothing, checking them says whether one differs from what its
events build (a bug, or an edit in the database: the hash chain covers events, not snapshots).
"""

from __future__ import annotations

from typing import Any

import typer

from adapters.cli.common import DataDir, Json, open_app, print_json
from adapters.snapshots import drop_snapshots
from domain.application import ConventionsApp
from domain.convention import Convention
from domain.snapshot import ConventionState

snapshots = typer.Typer(help="Instantanés des conventions (un cache : on peut toujours les supprimer).")


def register(app: typer.Typer) -> None:
    app.add_typer(snapshots, name="snapshots")


@snapshots.command("check")
def check(data_dir: DataDir = None, as_json: Json = False) -> None:
    """Comparer chaque instantané utilisable à l'état que ses événements reconstruisent ; code 1 si l'un diffère."""
    app = open_app(data_dir)
    try:
        if app.snapshots is None:
            typer.echo("Instantanés désactivés (CONVENTIONS_SNAPSHOT_INTERVAL=0).")
            return
        result = _check(app)
    finally:
        app.close()
    if as_json:
        print_json(result)
    else:
        typer.echo(f"{result['snapshots']} instantanés de {result['conventions']} conventions contrôlés ; "
                   f"{len(result['differ'])} diffèrent des événements.")  # fmt: skip
        for d in result["differ"]:
            typer.echo(
                f"  convention {d['id']} version {d['version']} : à supprimer (conventions snapshots drop)", err=True
            )
    if result["differ"]:
        raise typer.Exit(1)


def _check(app: ConventionsApp) -> dict[str, Any]:
    """Each usable snapshot against the replay of its convention's events up to its version."""
    assert app.snapshots is not None
    result: dict[str, Any] = {"conventions": 0, "snapshots": 0, "differ": []}
    for cid in app.convention_ids():
        result["conventions"] += 1
        for snap in app.snapshots.get(cid):
            result["snapshots"] += 1
            replayed = Convention.replay(list(app.events.get(cid, lte=snap.originator_version)))  # type: ignore[arg-type]
            if ConventionState.of(replayed).model_dump(mode="json") != snap.state:
                result["differ"].append({"id": str(cid), "version": snap.originator_version})
    return result


@snapshots.command("drop")
def drop(data_dir: DataDir = None, as_json: Json = False) -> None:
    """Supprimer tous les instantanés : les prochains chargements rejouent les événements, puis de nouveaux
    instantanés s'écrivent au fil des commandes."""
    app = open_app(data_dir)
    try:
        if app.snapshots is None:
            typer.echo("Instantanés désactivés (CONVENTIONS_SNAPSHOT_INTERVAL=0) : rien à supprimer ici.")
            return
        count = drop_snapshots(app.snapshots.recorder)
    finally:
        app.close()
    if as_json:
        print_json({"dropped": count})
    else:
        typer.echo(f"{count} instantanés supprimés.")
