"""Who sees what: the CPAM scope of a read, the access-control rule of every query.

A caller sees the conventions of its CPAMs. ``None`` is every CPAM (an administrator, a user
without CPAMs, the CLI); an empty scope sees nothing. A convention outside the scope does not
exist for the caller: lists, counts, dashboards and the work queue leave it out.
"""

from __future__ import annotations

from collections.abc import Collection
from typing import Any

Scope = Collection[str] | None


def sees(scope: Scope, cpam_code: str | None) -> bool:
    """Whether a convention of ``cpam_code`` is visible (one of unknown CPAM only to those who see all)."""
    return scope is None or cpam_code in scope


def narrow(scope: Scope, cpam: str | None) -> Scope:
    """The caller's CPAMs, narrowed to the one asked for (empty when it is out of scope)."""
    if cpam is None:
        return scope
    return frozenset({cpam}) if sees(scope, cpam) else frozenset()


def scope_condition(scope: Scope, column: str, params: list[Any]) -> str | None:
    """The SQL condition keeping the rows whose ``column`` is in the scope, its values appended to
    ``params``; None when the scope is every CPAM (no condition)."""
    if scope is None:
        return None
    values = sorted(scope)
    params.extend(values)
    return f"{column} IN ({', '.join('?' * len(values))})" if values else "1 = 0"
