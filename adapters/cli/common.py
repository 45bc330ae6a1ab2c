"""What every CLI command shares: options, the app for the chosen data directory, output, errors."""

from __future__ import annotations

import getpass
import json
import sys
import unicodedata
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from datetime import date, datetime
from decimal import Decimal
from enum import Enum
from pathlib import Path
from typing import Annotated, Any, TypeVar
from uuid import UUID

import click
import typer

from adapters.composition import build_app
from adapters.settings import Settings
from domain.application import ConventionsApp
from domain.convention import CommandMeta
from domain.errors import DomainError

DataDir = Annotated[
    Path | None,
    typer.Option("--data-dir", envvar="CONVENTIONS_DATA_DIR", help="Data directory (default ./data)."),
]
Actor = Annotated[str | None, typer.Option("--actor", help="Who acts (default: the OS user).")]
Reason = Annotated[str, typer.Option("--reason", help="Why (recorded on every event).")]
CommandId = Annotated[
    str | None, typer.Option("--command-id", help="Idempotency key: retrying the same id changes nothing.")
]
Json = Annotated[bool, typer.Option("--json", help="Print JSON.")]
DateOpt = typer.Option  # alias, for readability at call sites

DATE_FORMATS = ["%Y-%m-%d"]


def settings_for(data_dir: Path | None) -> Settings:
    settings = Settings()
    if data_dir is not None:
        settings = settings.model_copy(update={"data_dir": data_dir})
    return settings


def open_app(data_dir: Path | None) -> ConventionsApp:
    return closing(build_app(settings_for(data_dir)))


R = TypeVar("R")


def closing(resource: R, *more: Any) -> R:
    """Close ``resource`` (and ``more``) when the command ends, however it ends: a process that runs
    many commands (the tests, a shell embedding the CLI) keeps no database connection of each."""
    ctx = click.get_current_context(silent=True)
    if ctx is not None:
        for each in (resource, *more):
            ctx.call_on_close(each.close)  # type: ignore[attr-defined]
    return resource


def closing_runner(runner: R) -> R:
    """A projection runner: its application and its projection store closed when the command ends."""
    closing(runner.store, runner.app)  # type: ignore[attr-defined]
    return runner


def meta(actor: str | None, command_id: str | None = None) -> CommandMeta:
    """Who acts (default: the OS user) under which command id; the reason is the command's."""
    return CommandMeta(actor=actor or _os_user(), command_id=command_id or "")


def _os_user() -> str:
    try:
        return getpass.getuser()
    except Exception:  # noqa: BLE001 - no user database in some containers
        return "unknown"


def to_date(value: datetime | None) -> date | None:
    return None if value is None else value.date()


def parse_id(value: str) -> UUID:
    try:
        return UUID(value)
    except ValueError:
        fail(DomainError("invalid_id", f"Identifiant de convention « {value} » invalide (UUID attendu).", "id"))
        raise  # unreachable


def jsonable(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [jsonable(v) for v in value]
    if isinstance(value, date | datetime):
        return value.isoformat()
    if isinstance(value, Decimal):
        return f"{value:.2f}" if value == value.quantize(Decimal("0.01")) else str(value)
    if isinstance(value, UUID):
        return str(value)
    if isinstance(value, Enum):
        return value.value
    return value


def print_json(value: Any) -> None:
    typer.echo(json.dumps(jsonable(value), ensure_ascii=False, indent=2))


def fail(error: DomainError) -> None:
    typer.echo(f"error[{error.code}]: {error.message}", err=True)
    raise typer.Exit(1)


def usage_error(code: str, message: str) -> None:
    """A command line that cannot mean anything (options that exclude each other, an unknown
    value): ``error[code]`` on stderr, exit 2 like every usage error; nothing was read or written."""
    typer.echo(f"error[{code}]: {message}", err=True)
    raise typer.Exit(2)


def _fold(text: str) -> str:
    return "".join(c for c in unicodedata.normalize("NFKD", text.strip().casefold()) if not unicodedata.combining(c))


def choice(
    value: str | None, option: str, accepted: Sequence[str], aliases: Mapping[str, str] | None = None
) -> str | None:
    """``value`` as one of ``accepted`` (case and accents ignored; ``aliases``, e.g. French words,
    map to an accepted value). Anything else is a usage error listing what is accepted: an unknown
    value must not quietly match nothing."""
    if value is None:
        return None
    aliases = aliases or {}
    known = {_fold(a): a for a in accepted} | {_fold(k): v for k, v in aliases.items()}
    if _fold(value) in known:
        return known[_fold(value)]
    also = f" (ou {', '.join(aliases)})" if aliases else ""
    usage_error(
        f"invalid_{option.lstrip('-').replace('-', '_')}",
        f"{option} « {value} » inconnu ; valeurs acceptées : {', '.join(accepted)}{also}.",
    )
    raise AssertionError  # unreachable: usage_error exits


T = TypeVar("T")


@contextmanager
def domain_errors() -> Iterator[None]:
    """Domain refusals exit 1 with their code on stderr; nothing was recorded."""
    try:
        yield
    except DomainError as error:
        fail(error)


def run(fn: Callable[[], T]) -> T:
    with domain_errors():
        return fn()
    raise AssertionError  # pragma: no cover


def echo_result(result: dict[str, Any], as_json: bool, message: str) -> None:
    if as_json:
        print_json(result)
    else:
        typer.echo(message)


def stderr_is_tty() -> bool:
    return sys.stderr.isatty()
