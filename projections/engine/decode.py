"""Decoding the log for the read models: each field converted by its type, without re-validation.

Every stored event was validated by pydantic when it was recorded, and the upcasters bring an older
state to the current shape before anything reads it. Validating each of a million events again in a
rebuild costs more than every read model together (about 10 us of the mapper's 12 us per event,
docs/benchmarks.md). So the runner converts each field with the plain constructor its annotation
names (``date``, ``datetime``, ``Decimal``, ``UUID``, an enum, a nested model) and builds the event
the way pydantic's ``model_construct`` does. The same upcasters run first.

The mapper is the one the application stores with (``ConventionsApp.stored_mapper``): its
cipher, compressor and transcoder open the stored bytes. A class with a field type this module
does not know, or with validators (they may change values), is decoded by the mapper's validating path;
``tests/integration/test_projection_reading.py`` checks that every event class decodes equal to the mapper.
"""

from __future__ import annotations

import types
import typing
from collections.abc import Callable
from datetime import date, datetime
from decimal import Decimal
from enum import Enum
from typing import Any
from uuid import UUID

from eventsourcing.persistence import Mapper, StoredEvent
from eventsourcing.utils import resolve_topic
from pydantic import BaseModel

from domain.events import upcast

Convert = Callable[[Any], Any]
_setattr = object.__setattr__
_MISSING = object()


class Unsupported(TypeError):
    """A field type with no trusted converter: the class is decoded with validation instead."""


def _converter(annotation: Any) -> Convert | None:
    """The function turning a stored JSON value into the field's value (None: use it as it is)."""
    origin = typing.get_origin(annotation)
    if origin in (typing.Union, types.UnionType):
        args = [a for a in typing.get_args(annotation) if a is not type(None)]
        if len(args) != 1:
            raise Unsupported(annotation)
        inner = _converter(args[0])
        if inner is None:
            return None
        return lambda v: None if v is None else inner(v)
    if annotation in (str, int, bool):
        return None
    if annotation is float:
        return float
    if annotation is date:
        return date.fromisoformat
    if annotation is datetime:
        return datetime.fromisoformat
    if annotation is Decimal:
        return Decimal
    if annotation is UUID:
        return _uuid
    if isinstance(annotation, type) and issubclass(annotation, Enum):
        members = annotation._value2member_map_
        return members.__getitem__
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return _builder(annotation)
    raise Unsupported(annotation)


def _uuid(value: Any) -> UUID:
    return value if isinstance(value, UUID) else UUID(value)


_IMMUTABLE = (str, int, float, bool, Enum, date, Decimal, UUID, type(None))
ENVELOPE = {"originator_id": "originator_id", "originator_version": "version"}
# pydantic decorators that may change a value on the way in (serializers only act on the way out)
_TRANSFORMING = ("validators", "field_validators", "root_validators", "model_validators")


def _builder(cls: type[BaseModel], envelope: bool = False) -> Callable[..., Any]:
    """A function building an instance of ``cls`` from its JSON state, trusted.

    Its code is generated (as ``dataclasses`` does): one dict display with a converter call per
    field, which costs half of a loop over the fields. ``envelope``: the event's originator id and
    version are arguments (``build(state, originator_id, version)``), not keys of the state."""
    decorators = cls.__pydantic_decorators__
    if any(getattr(decorators, kind) for kind in _TRANSFORMING):
        raise Unsupported(f"{cls.__name__} has validators: its values may differ from the stored ones")
    env: dict[str, Any] = {"_M": _MISSING, "_new": object.__new__, "_cls": cls, "_set": _setattr,
                           "_names": frozenset(cls.model_fields)}  # fmt: skip
    parts = []
    for i, (name, info) in enumerate(cls.model_fields.items()):
        if envelope and name in ENVELOPE:
            parts.append(f"        {name!r}: {ENVELOPE[name]},")
            continue
        convert = _converter(info.annotation)
        if convert is not None:
            env[f"_c{i}"] = convert
        if info.is_required():
            value = f"_c{i}(state[{name!r}])" if convert else f"state[{name!r}]"
        else:
            if info.default_factory is None and isinstance(info.default, _IMMUTABLE):
                env[f"_d{i}"] = info.default
                default = f"_d{i}"
            else:
                env[f"_f{i}"] = lambda info=info: info.get_default(call_default_factory=True, validated_data={})
                default = f"_f{i}()"
            value = (
                f"(_c{i}(v) if (v := get({name!r}, _M)) is not _M else {default})"
                if convert
                else (f"get({name!r}, {default})" if default.startswith("_d") else
                      f"(v if (v := get({name!r}, _M)) is not _M else {default})")
            )  # fmt: skip
        parts.append(f"        {name!r}: {value},")
    source = "\n".join([
        "def build(state, originator_id, version):" if envelope else "def build(state):",
        "    get = state.get",
        "    values = {",
        *parts,
        "    }",
        "    obj = _new(_cls)",
        "    _set(obj, '__dict__', values)",
        "    _set(obj, '__pydantic_fields_set__', set(_names))",
        "    _set(obj, '__pydantic_extra__', None)",
        "    _set(obj, '__pydantic_private__', None)",
        "    return obj",
    ])  # fmt: skip
    exec(compile(source, f"<decode {cls.__name__}>", "exec"), env)  # noqa: S102 - generated from the model's fields
    return env["build"]


class TrustedDecoder:
    """Stored events to domain events, like ``mapper.to_domain_event`` but without validation."""

    def __init__(self, mapper: Mapper) -> None:
        self.mapper = mapper
        self.plain = mapper.cipher is None and mapper.compressor is None
        # orjson.loads itself with the application's transcoder (adapters.persistence.OrjsonTranscoder)
        self.loads = mapper.transcoder.decode
        # topic -> (class, builder, versioned), or False: decoded by the mapper
        self._builders: dict[str, tuple[type, Callable[..., Any], bool] | bool] = {}
        self._uuids: dict[str, UUID] = {}  # the log may give originator ids as text (engine.log)

    def __call__(self, originator_id: UUID | str, version: int, topic: str, data: bytes) -> Any:
        """The domain event of one stored event (``data`` as stored: maybe encrypted, compressed)."""
        entry = self._builders.get(topic)
        if entry is None:
            entry = self._builders[topic] = self._builder(topic)
        if originator_id.__class__ is str:
            uuid = self._uuids.get(originator_id)  # type: ignore[call-overload]
            if uuid is None:
                if len(self._uuids) > 100_000:
                    self._uuids.clear()
                uuid = self._uuids[originator_id] = UUID(originator_id)  # type: ignore[index, arg-type]
            originator_id = uuid
        if entry is False:
            return self.mapper.to_domain_event(StoredEvent(originator_id, version, topic, data))
        cls, build, versioned = entry
        if not self.plain:
            if self.mapper.cipher:
                data = self.mapper.cipher.decrypt(data)
            if self.mapper.compressor:
                data = self.mapper.compressor.decompress(data)
        state = self.loads(data)
        if versioned or "class_version" in state:
            upcast(cls, state)
        return build(state, originator_id, version)

    @staticmethod
    def _builder(topic: str) -> tuple[type, Callable[..., Any], bool] | bool:
        """(class, builder, versioned), or False: decoded by the mapper."""
        cls = resolve_topic(topic)
        if not (isinstance(cls, type) and issubclass(cls, BaseModel)) or cls.__pydantic_post_init__:
            return False
        if not ENVELOPE.keys() <= cls.model_fields.keys():
            return False
        try:
            return cls, _builder(cls, envelope=True), getattr(cls, "class_version", 1) > 1
        except Unsupported:
            return False
