"""The domain stays pure: no store module, even the library's (import-linter cannot name
sub-modules of an external package, so this test does)."""

from __future__ import annotations

import ast
from pathlib import Path

DOMAIN = Path(__file__).resolve().parents[2] / "domain"
FORBIDDEN = ("eventsourcing.sqlite", "eventsourcing.postgres", "eventsourcing.popo", "sqlite3", "psycopg")


def test_domain_imports_no_store_module() -> None:
    offenders = []
    for path in DOMAIN.glob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            names = []
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module:
                names = [node.module]
            offenders += [f"{path.name}: {n}" for n in names if n.startswith(FORBIDDEN)]
    assert offenders == []
    assert len(list(DOMAIN.glob("*.py"))) > 5  # the test really looked at the domain
