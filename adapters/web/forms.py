"""One form renderer for every command model: the fields of a pydantic model (``domain.commands``)
become form fields, a submitted form becomes the model, and every refusal lands next to the field
that caused it.

Nothing here knows a particular intention: a new command model gets its form for free. The only
per-domain knowledge is how to say things in French (choice labels, pydantic's error types) and
``DOMAIN_FIELDS``, the few names the aggregate gives a field that differ from the model's.
"""

from __future__ import annotations

import re
import types
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from enum import Enum
from typing import Any, Literal, Union, get_args, get_origin

from pydantic import BaseModel, ValidationError
from pydantic.fields import FieldInfo

from domain.errors import DomainError

CHOICE_LABELS: dict[str, str] = {
    # options and tiers (R2, R3)
    "THIRD": "1/3 ETP", "HALF": "1/2 ETP", "FULL": "1 ETP (temps plein)",
    "BASE": "Base", "RAISED": "Majoré", "MAX": "Maximal",
    # specialties
    "general_practice": "Médecine générale", "radiology": "Radiologie", "radiotherapy": "Radiothérapie",
    "stomatology": "Stomatologie", "anaesthesia": "Anesthésie", "pathology": "Anatomie pathologique",
    "nuclear_medicine": "Médecine nucléaire", "surgery": "Chirurgie", "ent": "ORL", "gynaecology": "Gynécologie",
    "paediatrics": "Pédiatrie", "cardiology": "Cardiologie", "dermatology": "Dermatologie",
    "psychiatry": "Psychiatrie", "other": "Autre",
    # assistant profiles
    "nurse": "Infirmier ou infirmière", "care_aide": "Aide-soignant(e)", "childcare_aide": "Auxiliaire de puériculture",
    "secretary": "Secrétaire",
    # suspension grounds, termination, modulation
    "long_absence": "Absence longue de l'assistant", "replacement_difficulty": "Difficulté de remplacement",
    "doctor": "Le médecin", "cpam": "La CPAM",
    "proportional": "Proportionnelle", "steps": "Par paliers",
    "1": "Secteur 1", "2": "Secteur 2", "3": "Secteur 3",
}  # fmt: skip

# The aggregate's name for a field -> the model fields it may mean (the first the model has wins).
DOMAIN_FIELDS: dict[str, tuple[str, ...]] = {
    "siret": ("employer_siret",),
    "name": ("doctor_name",),
    "patients": ("initial_patients", "observed_patients", "target_patients"),
    "target": ("target_patients",),
    "effective": ("effective_from",),
    "from": ("from_date", "from_year"),
    "held": ("held_on",),
    "year": ("year", "from_year"),
    "date": ("on", "from_date", "hired_on", "left_on", "completed_on", "held_on", "paid_on", "until", "signed_on"),
}  # fmt: skip

MESSAGES: dict[str, str] = {
    "missing": "Champ obligatoire.",
    "string_too_short": "Champ obligatoire.",
    "string_too_long": "{max_length} caractères au plus.",
    "int_type": "Nombre entier attendu.",
    "int_parsing": "Nombre entier attendu.",
    "int_from_float": "Nombre entier attendu.",
    "float_type": "Nombre attendu (ex. 12,5).",
    "float_parsing": "Nombre attendu (ex. 12,5).",
    "greater_than_equal": "Au moins {ge}.",
    "less_than_equal": "Au plus {le}.",
    "greater_than": "Doit dépasser {gt}.",
    "less_than": "Doit être inférieur à {lt}.",
    "literal_error": "Choisir une valeur de la liste.",
    "enum": "Choisir une valeur de la liste.",
    "decimal_type": "Nombre décimal attendu (ex. 0,5).",
    "decimal_parsing": "Nombre décimal attendu (ex. 0,5).",
    "decimal_max_places": "{decimal_places} décimales au plus.",
    "decimal_max_digits": "Trop de chiffres.",
    "date_type": "Date attendue (JJ/MM/AAAA).",
    "date_from_datetime_parsing": "Date attendue (JJ/MM/AAAA).",
    "bool_type": "Case à cocher attendue.",
    "extra_forbidden": "Champ inconnu.",
}
_FR_DAY = re.compile(r"([0-9]{1,2})/([0-9]{1,2})/([0-9]{4})")
_INT = re.compile(r"-?[0-9]{1,12}")


@dataclass
class FieldSpec:
    """One form field, as the template draws it."""

    name: str  # the form's name: ``policies.modulation`` for a nested field
    label: str
    kind: str  # text, textarea, int, decimal, date, select, checkbox, group
    required: bool
    hint: str = ""
    choices: list[tuple[str, str]] = field(default_factory=list)
    default: Any = None
    max_length: int | None = None
    integers: bool = False  # a choice among whole numbers (a sector): sent to the model as a number
    children: list[FieldSpec] = field(default_factory=list)


def _without_none(annotation: Any) -> tuple[Any, bool]:
    """``X | None`` -> (X, True)."""
    if get_origin(annotation) in (Union, types.UnionType):
        args = [a for a in get_args(annotation) if a is not type(None)]
        if len(args) == 1:
            return args[0], True
    return annotation, False


def _base(annotation: Any) -> Any:
    while hasattr(annotation, "__metadata__"):  # Annotated inside a union
        annotation = get_args(annotation)[0]
    return annotation


def _kind(annotation: Any, info: FieldInfo) -> tuple[str, list[tuple[str, str]]]:
    if get_origin(annotation) is Literal:
        values = [str(v) for v in get_args(annotation)]
        return "select", [(v, CHOICE_LABELS.get(v, v)) for v in values]
    if isinstance(annotation, type):
        if issubclass(annotation, bool):
            return "checkbox", []
        if issubclass(annotation, Enum):
            return "select", [(str(m.value), CHOICE_LABELS.get(str(m.value), str(m.value))) for m in annotation]
        if issubclass(annotation, BaseModel):
            return "group", []
        if issubclass(annotation, date):
            return "date", []
        if issubclass(annotation, Decimal | float):
            return "decimal", []
        if issubclass(annotation, int):
            return "int", []
    return ("textarea" if (_max_length(info) or 0) > 200 else "text"), []


def _max_length(info: FieldInfo) -> int | None:
    return next((m.max_length for m in info.metadata if getattr(m, "max_length", None)), None)


def label_and_hint(name: str, info: FieldInfo) -> tuple[str, str]:
    """The label is the description's first clause; the rest of it is the hint."""
    if name == "reason":
        return "Motif", "Enregistré sur chaque événement ; le motif par défaut de l'action sinon."
    text = (info.description or name.replace("_", " ").capitalize()).strip()
    cut = min((i for i in (text.find(" ("), text.find(" ;")) if i > 0), default=len(text))
    if cut < 8:  # "R28 : l'assistant était..." : the clause is a rule's name, the sentence is the label
        cut = len(text)
    label = text[:cut].rstrip(".")
    hint = text[cut:].strip(" ;:.").strip()
    hint = hint[1:-1] if hint.startswith("(") and hint.endswith(")") else hint
    return label, hint


def specs(model: type[BaseModel], prefix: str = "") -> list[FieldSpec]:
    """The form of a model: one spec per field, in the model's order (the reason last)."""
    out = []
    names = [n for n in model.model_fields if n != "reason"] + (["reason"] if "reason" in model.model_fields else [])
    for name in names:
        info = model.model_fields[name]
        annotation, optional = _without_none(info.annotation)
        annotation = _base(annotation)
        kind, choices = _kind(annotation, info)
        label, hint = label_and_hint(name, info)
        default = None if info.is_required() else info.get_default(call_default_factory=True)
        spec = FieldSpec(
            name=prefix + name, label=label if name != "policies" else "Politiques choisies à la signature",
            kind=kind, required=info.is_required() and kind != "checkbox", hint=hint, choices=choices,
            default=getattr(default, "value", default), max_length=_max_length(info),
            integers=get_origin(annotation) is Literal and all(type(v) is int for v in get_args(annotation)),
        )  # fmt: skip
        if kind == "group":
            spec.children = specs(annotation, prefix=f"{prefix}{name}.")
        elif kind == "select" and optional:
            spec.choices = [("", "—"), *choices]
        out.append(spec)
    return out


def typed_value(spec: FieldSpec, raw: str) -> Any:
    """A submitted text as the model's strict types want it; left as text when it cannot be, so
    the model's own refusal names the field."""
    raw = raw.strip()
    if spec.kind == "int" and _INT.fullmatch(raw.replace(" ", "").replace("\u202f", "")):
        return int(raw.replace(" ", "").replace("\u202f", ""))
    if spec.kind == "decimal":
        text = raw.replace(",", ".").replace(" ", "").replace("\u202f", "")
        try:
            return float(text) if spec.name.endswith("share") else text
        except ValueError:
            return text
    if spec.kind == "date" and (m := _FR_DAY.fullmatch(raw)):
        return f"{m.group(3)}-{int(m.group(2)):02d}-{int(m.group(1)):02d}"
    if spec.kind == "select" and spec.integers and raw.isdigit():
        return int(raw)
    return raw


def parse(form_specs: list[FieldSpec], form: Any) -> dict[str, Any]:
    """The model's input from a submitted form (a mapping of names to texts). A blank optional
    field is left out, so the model's default applies; a blank required one is missing."""
    values: dict[str, Any] = {}
    for spec in form_specs:
        key = spec.name.rsplit(".", 1)[-1]
        if spec.kind == "group":
            values[key] = parse(spec.children, form)
        elif spec.kind == "checkbox":
            values[key] = form.get(spec.name) is not None
        elif (raw := str(form.get(spec.name) or "").strip()) != "":
            values[key] = typed_value(spec, raw)
    return values


def submitted(form_specs: list[FieldSpec], form: Any) -> dict[str, Any]:
    """What the operator typed, by form name, to show again with the errors."""
    out: dict[str, Any] = {}
    for spec in form_specs:
        if spec.kind == "group":
            out.update(submitted(spec.children, form))
        elif spec.kind == "checkbox":
            out[spec.name] = form.get(spec.name) is not None
        else:
            out[spec.name] = str(form.get(spec.name) or "")
    return out


def initial(form_specs: list[FieldSpec], given: Any = None) -> dict[str, Any]:
    """The values a new form opens with: the model's defaults, then what the link gave (a work
    queue line pre-fills the year it is about)."""
    out: dict[str, Any] = {}
    for spec in form_specs:
        if spec.kind == "group":
            out.update(initial(spec.children, given))
        elif spec.kind == "checkbox":
            out[spec.name] = bool(spec.default)
        else:
            out[spec.name] = "" if spec.default is None else str(spec.default)
        if given is not None and spec.kind != "group" and given.get(spec.name):
            out[spec.name] = str(given.get(spec.name))[:200]
    return out


def first_refused(form_specs: list[FieldSpec], errors: dict[str, str]) -> str | None:
    """The first field, in the form's order, that was refused: it gets the focus."""
    for spec in form_specs:
        if spec.kind == "group":
            if (child := first_refused(spec.children, errors)) is not None:
                return child
        elif spec.name in errors:
            return spec.name
    return None


def french(error: dict[str, Any], description: str | None = None) -> str:
    """A pydantic error as an operator reads it."""
    kind = error["type"]
    context = error.get("ctx") or {}
    if kind == "string_pattern_mismatch":
        return f"Format invalide : {description.rstrip('.')}." if description else "Format invalide."
    if kind == "value_error":
        text = str(error["msg"]).removeprefix("Value error, ")
        return text[:1].upper() + text[1:] + ("" if text.endswith(".") else ".")
    if kind in MESSAGES:
        try:
            return MESSAGES[kind].format(**context)
        except (KeyError, IndexError):
            return MESSAGES[kind]
    return str(error["msg"])


def validation_errors(model: type[BaseModel], error: ValidationError) -> dict[str, str]:
    """Each invalid field's French message, by form name (``policies.modulation``)."""
    out: dict[str, str] = {}
    for item in error.errors():
        loc = [str(p) for p in item["loc"] if not str(p).isdigit()]
        name = ".".join(loc) or "__all__"
        info = _field_info(model, loc)
        out.setdefault(name, french(item, info.description if info else None))
    return out


def _field_info(model: type[BaseModel], loc: list[str]) -> FieldInfo | None:
    current: Any = model
    info = None
    for part in loc:
        fields = getattr(current, "model_fields", {})
        if part not in fields:
            return info
        info = fields[part]
        current = _base(_without_none(info.annotation)[0])
    return info


def domain_error_field(model: type[BaseModel], error: DomainError) -> str | None:
    """The model field a domain refusal is about: its own name when the model has it, else the
    first model field ``DOMAIN_FIELDS`` says it may mean; None to show it above the form."""
    name = error.field
    if not name:
        return None
    fields = model.model_fields
    if name in fields:
        return name
    return next((f for f in DOMAIN_FIELDS.get(name, ()) if f in fields), None)
