"""CLI commands of the scheduler capability (registered on the one `conventions` app)."""

from __future__ import annotations

import typer


def register(app: typer.Typer) -> None:
    """Add this module's commands to ``app``."""
