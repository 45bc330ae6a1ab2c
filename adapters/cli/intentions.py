"""One CLI command per command model, generated from ``domain.commands.COMMANDS``.

Each field of a model becomes an option (``--field-name``, or the short spelling operators already
use, in ``OPTION_NAMES``); the options every write shares (``--data-dir``, ``--actor``, ``--reason``,
``--command-id``, ``--json``) are declared once in ``adapters.cli.common``. The values are checked
by the model itself (a malformed value exits 1 with ``error[invalid_<field>]``, nothing recorded),
then ``ConventionsApp.handle`` decides. A new command model gets its command here with no code.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from enum import Enum, StrEnum
from types import NoneType, UnionType
from typing import Annotated, Any, Literal, Union, get_args, get_origin

import typer
from pydantic import BaseModel, ValidationError
from pydantic.fields import FieldInfo

from adapters.cli.common import (
    DATE_FORMATS,
    Actor,
    CommandId,
    DataDir,
    Json,
    Reason,
    echo_result,
    fail,
    meta,
    open_app,
    parse_id,
    run,
    usage_error,
)
from domain import commands as c
from domain.commands import COMMANDS, Command, ConventionCommand, invalid_command

# How operators spell some fields on the command line (every other field is --field-name).
OPTION_NAMES = {
    "hired_on": "--date", "left_on": "--date", "paid_on": "--date", "on": "--date",
    "completed_on": "--completed", "held_on": "--held", "from_date": "--from",
    "cpam_code": "--cpam", "doctor_name": "--name", "initial_patients": "--patients",
    "observed_patients": "--patients", "target_patients": "--target", "signed_on": "--signed",
    "effective_from": "--effective", "aged_65_or_more": "--aged-65", "employer_siret": "--siret",
    "was_practice_secretary": "--was-secretary",
}  # fmt: skip

Message = Callable[[dict[str, Any], Command], str]


def _recorded(what: str) -> Message:
    return lambda result, _command: f"{what} (version {result['version']})"


def _paid(result: dict[str, Any], _command: Command) -> str:
    msg = "paiement enregistré" if result["recorded"] else "déjà payé : rien de nouveau"
    return f"{msg} (version {result['version']})"


def _terminated(result: dict[str, Any], _command: Command) -> str:
    value = result["value"]
    return "résiliation enregistrée" + ("" if value in (None, "0") else f" ; solde de l'année : {value} €")


@dataclass(frozen=True)
class Switch:
    """A flag that turns one command into another with the same options (``hire --replace``)."""

    flag: str
    to: type[Command]
    help: str
    excludes: dict[str, str] = field(default_factory=dict)  # option -> error code when both are given


@dataclass(frozen=True)
class Spelling:
    """How a command model reads on the command line: its name, what it prints, an optional switch."""

    name: str
    message: Message
    switch: Switch | None = None


CLI: dict[type[Command], Spelling] = {
    c.Sign: Spelling("sign", lambda result, _c: result["id"]),
    c.Hire: Spelling(
        "hire",
        _recorded("embauche enregistrée"),
        Switch(
            "--replace",
            c.ReplaceAssistant,
            "Remplace l'assistant en poste.",
            {"--was-secretary": "replace_or_secretary"},
        ),
    ),  # fmt: skip
    c.DeclareSecretaryHired: Spelling("secretary", _recorded("nouvelle secrétaire enregistrée")),
    c.ReplaceAssistant: Spelling("replace", _recorded("embauche enregistrée")),
    c.AssistantLeft: Spelling("leave", _recorded("départ enregistré")),
    c.CompleteTraining: Spelling("train", _recorded("formation enregistrée")),
    c.SetObjective: Spelling("objective", _recorded("objectif enregistré")),
    c.RecordAttainment: Spelling(
        "attainment",
        lambda r, cmd: f"atteinte de l'année {cmd.year} : {Decimal(r['value']):.2%}",  # type: ignore[attr-defined]
    ),
    c.RecordPayment: Spelling("pay", _paid),
    c.Suspend: Spelling("suspend", _recorded("suspension enregistrée")),
    c.Reactivate: Spelling("reactivate", _recorded("réactivation enregistrée")),
    c.HoldReview: Spelling("review", lambda r, _c: f"point du {r['value']} tenu (version {r['version']})"),
    c.ChangeOption: Spelling("change-option", _recorded("option modifiée")),
    c.Terminate: Spelling("terminate", _terminated),
    c.RecordDue: Spelling(
        "record-due", lambda r, _c: f"{r['recorded']} événement(s) échu(s) enregistré(s) (version {r['version']})"
    ),  # fmt: skip
}


def spelling(command: type[Command]) -> Spelling:
    """The command's CLI spelling; a model not listed still gets a command, named after its intention."""
    return CLI.get(command) or Spelling(command.intention.replace("_", "-"), _recorded(f"{command.label} : fait"))


# ----------------------------------------------------------------------------- options from fields
@dataclass(frozen=True)
class Opt:
    """One option: its parameter, and how its value goes into the command's fields."""

    param: inspect.Parameter
    path: tuple[str, ...]  # ("policies", "modulation") for a nested model's field
    option: str
    convert: Callable[[Any], Any]


def _plain(annotation: Any) -> tuple[Any, bool]:
    """``X | None`` -> (X, True); ``Annotated[X, ...]`` -> X."""
    while get_origin(annotation) is Annotated:
        annotation = get_args(annotation)[0]
    if get_origin(annotation) in (Union, UnionType):
        args = [a for a in get_args(annotation) if a is not NoneType]
        if len(args) == 1:
            return _plain(args[0])[0], True
    return annotation, False


def _cli_type(annotation: Any) -> tuple[Any, Callable[[Any], Any], dict[str, Any]]:
    """The type Typer parses, how its value becomes the field's, and extra Option arguments."""
    if annotation is date:
        return datetime, lambda v: v.date(), {"formats": DATE_FORMATS}
    if annotation is Decimal:
        return str, lambda v: v, {}  # the model parses it (a number as text)
    if get_origin(annotation) is Literal:
        values = get_args(annotation)
        choices = StrEnum("Choice", {str(v): str(v) for v in values})  # type: ignore[misc]
        by_text = {str(v): v for v in values}
        return choices, lambda v: by_text[v.value], {}
    if isinstance(annotation, type) and issubclass(annotation, Enum):
        return annotation, lambda v: v, {"case_sensitive": False}
    return annotation, lambda v: v, {}


def _option(name: str, info: FieldInfo, path: tuple[str, ...]) -> Opt:
    annotation, optional = _plain(info.annotation)
    option = OPTION_NAMES.get(name, "--" + name.replace("_", "-"))
    cli_type, convert, extra = _cli_type(annotation)
    required = info.is_required()
    default = inspect.Parameter.empty if required else info.default
    decl = option
    if annotation is bool and default is True:
        decl = f"{option}/--no-{option[2:]}"
    param_type = cli_type if required or not optional else cli_type | None
    param = inspect.Parameter(
        "_".join(path),
        inspect.Parameter.KEYWORD_ONLY,
        default=default,
        annotation=Annotated[param_type, typer.Option(decl, help=info.description, **extra)],
    )
    return Opt(param, path, option, lambda v: None if v is None else convert(v))


def options(command: type[Command]) -> list[Opt]:
    """The options of a command model's fields (a nested model's fields are options too)."""
    result: list[Opt] = []
    for name, info in command.model_fields.items():
        if name == "reason":
            continue
        nested, _ = _plain(info.annotation)
        if isinstance(nested, type) and issubclass(nested, BaseModel):
            result += [_option(sub, subinfo, (name, sub)) for sub, subinfo in nested.model_fields.items()]
        else:
            result.append(_option(name, info, (name,)))
    return result


def _values(opts: list[Opt], given: dict[str, Any]) -> dict[str, Any]:
    values: dict[str, Any] = {}
    for opt in opts:
        target = values
        for part in opt.path[:-1]:
            target = target.setdefault(part, {})
        target[opt.path[-1]] = opt.convert(given[opt.param.name])
    return values


def build(command: type[Command], values: dict[str, Any]) -> Command:
    """The model from the command line's values, checked like any operator input."""
    try:
        return command.model_validate(values).with_default_reason()
    except ValidationError as error:
        fail(invalid_command(error))
        raise  # unreachable: fail exits


def _switched(switch: Switch, opts: list[Opt], given: dict[str, Any]) -> tuple[type[Command], dict[str, Any]]:
    """The values of the command the switch turns to, taken option by option."""
    by_option = {opt.option: opt for opt in opts}
    for option, code in switch.excludes.items():
        if given.get(by_option[option].param.name):
            usage_error(code, f"{option} ne s'applique pas avec {switch.flag}.")
    target = {opt.option: opt for opt in options(switch.to)}
    values = {
        target[o].path[-1]: by_option[o].convert(given[by_option[o].param.name]) for o in target if o in by_option
    }
    return switch.to, values


# ----------------------------------------------------------------------------- registration
SHARED = [
    inspect.Parameter("data_dir", inspect.Parameter.KEYWORD_ONLY, default=None, annotation=DataDir),
    inspect.Parameter("actor", inspect.Parameter.KEYWORD_ONLY, default=None, annotation=Actor),
    inspect.Parameter("reason", inspect.Parameter.KEYWORD_ONLY, default="", annotation=Reason),
    inspect.Parameter("command_id", inspect.Parameter.KEYWORD_ONLY, default=None, annotation=CommandId),
    inspect.Parameter("as_json", inspect.Parameter.KEYWORD_ONLY, default=False, annotation=Json),
]
CONVENTION = inspect.Parameter(
    "convention", inspect.Parameter.KEYWORD_ONLY, annotation=Annotated[str, typer.Argument(help="Id de la convention.")]
)


def _switch_param(switch: Switch) -> inspect.Parameter:
    name = switch.flag.lstrip("-").replace("-", "_")
    return inspect.Parameter(name, inspect.Parameter.KEYWORD_ONLY, default=False,
                             annotation=Annotated[bool, typer.Option(switch.flag, help=switch.help)])  # fmt: skip


def cli_command(command: type[Command]) -> Callable[..., None]:
    """The Typer callback of one command model: parse, build the model, handle, print."""
    spell = spelling(command)
    opts = options(command)
    on_convention = issubclass(command, ConventionCommand)
    switch = spell.switch

    def callback(**given: Any) -> None:
        chosen, values = command, _values(opts, given)
        if switch is not None and given.pop(_switch_param(switch).name):
            chosen, values = _switched(switch, opts, given)
        model = build(chosen, {**values, "reason": given["reason"]})
        app = open_app(given["data_dir"])
        cid = parse_id(given["convention"]) if on_convention else None
        result = run(lambda: app.handle(model, meta(given["actor"], given["command_id"]), cid))
        echo_result({"id": result["id"]} if cid is None else result, given["as_json"], spell.message(result, model))

    params = ([CONVENTION] if on_convention else []) + [o.param for o in opts]
    params += ([_switch_param(switch)] if switch else []) + SHARED
    callback.__signature__ = inspect.Signature(params)  # type: ignore[attr-defined]
    callback.__annotations__ = {p.name: p.annotation for p in params} | {"return": None}
    callback.__doc__ = command.__doc__
    callback.__name__ = spell.name.replace("-", "_")
    return callback


def register(app: typer.Typer) -> None:
    """One command per command model."""
    for command in COMMANDS:
        app.command(spelling(command).name)(cli_command(command))
