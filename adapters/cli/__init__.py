"""The ``conventions`` command line. Each module registers its commands on the one Typer app."""

from __future__ import annotations

import typer

from adapters.cli import (
    audit_commands,
    convention_commands,
    export_commands,
    http_commands,
    import_commands,
    init_commands,
    projection_commands,
    replay_commands,
    scheduler_commands,
    snapshot_commands,
)

app = typer.Typer(
    name="conventions",
    help="Back office des conventions d'aide à l'emploi d'assistant médical (CPAM).",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)

for module in (
    convention_commands,
    projection_commands,
    scheduler_commands,
    http_commands,
    import_commands,
    export_commands,
    audit_commands,
    replay_commands,
    snapshot_commands,
    init_commands,
):
    module.register(app)


def main() -> None:
    app()
