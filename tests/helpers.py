"""Set-up the test modules share: a standard signature, the CLI as an operator runs it, a server
waited for on /health, a stand-in for an event that gained a field, and what a PostgreSQL
connection sent, read from libpq's own trace.

Only set-up lives here; what each test asserts stays in the test.
"""

from __future__ import annotations

import socket
import subprocess
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any, ClassVar
from uuid import UUID

import httpx

from domain import events as ev
from domain.application import ConventionsApp
from domain.convention import CommandMeta
from tests.waiting import wait_until

# ---------------------------------------------------------------- the domain
TERMS: dict[str, Any] = {
    "number": "C-1", "cpam_code": "281", "rpps": "10000000009", "doctor_name": "Martin",
    "specialty": "general_practice", "sector": 1, "optam": False, "ccam_share": None,
    "newly_installed": False, "option": "FULL", "percentile": 50, "initial_patients": 1000,
    "target_patients": 1200, "signed_on": date(2025, 2, 1), "effective_from": date(2025, 3, 1),
}  # fmt: skip
"""A general practitioner of CPAM 281 on FULL, signed 2025-02-01, effective 2025-03-01."""


def sign(app: ConventionsApp, meta: CommandMeta, **over: Any) -> UUID:
    """Sign the standard convention (``TERMS``), ``over`` replacing any of its terms."""
    return UUID(app.sign(meta, **{**TERMS, **over})["id"])


def with_a_nurse(
    app: ConventionsApp, meta: CommandMeta, *, hired_on: date, due_by: date, fte: Decimal = Decimal(1), **terms: Any
) -> UUID:
    """The standard convention (``terms`` replacing any of its own) with a nurse hired on ``hired_on``,
    and what fell due by ``due_by`` recorded."""
    cid = sign(app, meta, **terms)
    app.hire(cid, meta, hired_on=hired_on, fte=fte, profile="nurse")
    app.record_due(cid, meta, today=due_by)
    return cid


class Upcasted(ev.Event):
    """A stand-in for a released event that gained a field in version 2."""

    class_version: ClassVar[int] = 2
    ground: str

    @staticmethod
    def upcast_v1_v2(state: dict[str, Any]) -> None:
        state["ground"] = "non renseigné"


# ---------------------------------------------------------------- the command line
def cli_invoker(env: dict[str, str]) -> Callable[..., str]:
    """``invoke(*args, code=0)``: run the CLI in ``env``, check its exit code, and return its
    stdout (or its stderr when a failure is expected)."""
    from typer.testing import CliRunner

    from adapters.cli import app as cli

    runner = CliRunner()

    def invoke(*args: str, code: int = 0) -> str:
        result = runner.invoke(cli, list(args), env=env)
        assert result.exit_code == code, (args, result.stdout, result.stderr)
        return result.stdout if code == 0 else result.stderr

    return invoke


# ---------------------------------------------------------------- a served API
def free_port() -> int:
    """A TCP port of 127.0.0.1 nobody listens on (the OS picks it)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_healthy(
    server: subprocess.Popen[bytes], url: str, what: str, exited: Callable[[], str], interval: float
) -> None:
    """Wait until the ``server`` process answers ``url``/health, failing at once (with ``exited()``)
    if it stops first."""

    def healthy() -> bool:
        assert server.poll() is None, exited()
        try:
            return httpx.get(f"{url}/health", timeout=1).status_code == 200
        except httpx.TransportError:
            return False

    wait_until(healthy, what, interval=interval)


# ---------------------------------------------------------------- PostgreSQL's wire
@contextmanager
def traced(trace: Path) -> Iterator[Callable[[Any], None]]:
    """``trace(conn)`` makes libpq write everything ``conn`` sends and receives to the file ``trace``
    until the block ends (read it with ``sent_statements``)."""
    connections: list[Any] = []
    with trace.open("w") as out:

        def trace_connection(conn: Any) -> None:
            conn.pgconn.trace(out.fileno())
            connections.append(conn)

        try:
            yield trace_connection
        finally:
            for conn in connections:
                if not conn.closed:
                    conn.pgconn.untrace()
            out.flush()


def wire_messages(trace: Path) -> list[tuple[str, str, str]]:
    """Each message of libpq's trace: (``F`` sent or ``B`` received, its type, the rest of the line).
    A line is ``[timestamp] direction length type [content]``, tab-separated."""
    messages = []
    for line in trace.read_text().splitlines():
        fields = line.split("\t")
        if fields[0] not in ("F", "B"):
            fields = fields[1:]  # the timestamp
        if len(fields) >= 3:
            messages.append((fields[0], fields[2], "\t".join(fields[3:]).strip()))
    return messages


def sent_statements(trace: Path) -> list[str]:
    """The statements (simple ``Query`` or prepared ``Parse``) the client sent, in libpq's trace."""
    return [
        content for direction, kind, content in wire_messages(trace) if direction == "F" and kind in ("Query", "Parse")
    ]
