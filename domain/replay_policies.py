"""The policies a replay may change (issue 12): those a signature chooses, written and checked alike.

``PolicyChoices`` (the signature's model) lists them: the modulation of the aid (R4) and the pause of
the contract clock while suspended (R16), the rules the sources leave unconfirmed. An operator writes
them ``name=value`` (``modulation=steps``, ``pause_clock=off``); an unknown name, a value the policy
does not take, a policy given twice is refused with a code and a French message, nothing computed.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from enum import Enum
from typing import Any

from pydantic import ValidationError

from domain import events as ev
from domain.amounts import FIRST_MODULATED_YEAR
from domain.commands import PolicyChoices
from domain.errors import InvalidInput
from domain.values import Policies

# How an operator writes a yes/no policy on a command line or in a form (``pause_clock=off``).
SWITCH_WORDS = {"on": True, "off": False, "true": True, "false": False, "oui": True, "non": False,
                "yes": True, "no": False}  # fmt: skip


def policy_names() -> list[str]:
    """The policies a replay may change: those a signature chooses (``PolicyChoices``)."""
    return list(PolicyChoices.model_fields)


def accepted_values(name: str) -> list[str]:
    """How each value of policy ``name`` is written (``proportional, steps``; ``on, off``)."""
    annotation = PolicyChoices.model_fields[name].annotation
    if isinstance(annotation, type) and issubclass(annotation, Enum):
        return [str(member.value) for member in annotation]
    return ["on", "off"]


def parse_policies(texts: Sequence[str]) -> dict[str, Any]:
    """``["modulation=steps", "pause_clock=off"]`` as the policies they choose, checked by the model
    the signature checks them with (``PolicyChoices``). Refused with a code and a French message:
    ``invalid_policy`` (not ``name=value``, or a value the policy does not take), ``unknown_policy``,
    ``duplicate_policy``; nothing is computed then."""
    given: dict[str, str] = {}
    for text in texts:
        name, sep, value = (part.strip() for part in text.partition("="))
        name = name.replace("-", "_")
        if not sep or not name or not value:
            raise InvalidInput("invalid_policy", f"« {text} » : attendu nom=valeur, par exemple modulation=steps.",
                               "policy")  # fmt: skip
        if name not in PolicyChoices.model_fields:
            raise InvalidInput(
                "unknown_policy",
                f"Politique « {name} » inconnue ; politiques acceptées : {', '.join(policy_names())}.",
                "policy",
            )
        if name in given:
            raise InvalidInput("duplicate_policy", f"La politique « {name} » est donnée deux fois.", "policy")
        given[name] = value
    return choose_policies(given)


def choose_policies(given: Mapping[str, str]) -> dict[str, Any]:
    """Policy name -> value as written (``{"pause_clock": "off"}``) to the typed values they choose."""
    typed: dict[str, Any] = {}
    for name, value in given.items():
        words = accepted_values(name)
        typed[name] = SWITCH_WORDS.get(value.casefold(), value) if words == ["on", "off"] else value.casefold()
        try:
            PolicyChoices.model_validate({name: typed[name]})
        except ValidationError:
            raise InvalidInput(
                "invalid_policy",
                f"Politique « {name} » : valeur « {value} » refusée ; valeurs acceptées : {', '.join(words)}.",
                "policy",
            ) from None
    model = PolicyChoices.model_validate(typed)
    return {name: getattr(model, name) for name in typed}


def policies_under(recorded: Policies, chosen: Mapping[str, Any]) -> Policies:
    """The convention's policies with the chosen ones in place of those recorded at signature."""
    return recorded.model_copy(update=dict(chosen)) if chosen else recorded


def policy_matters(events: Sequence[ev.Event], recorded: Policies, replayed: Policies) -> bool:
    """Whether the rules can compute anything else for this history under ``replayed``.

    The modulation acts only on a year-3+ amount whose attainment is known (R4: ``modulated_amount``
    pays years without attainment in full); the clock's pause only moves anniversaries when the
    convention was suspended (R16, R25). A history these cannot touch gives back its own figures:
    it is not replayed (the figures are the same; replaying would only cost time)."""
    if replayed == recorded:
        return False
    others = {k for k in Policies.model_fields if getattr(recorded, k) != getattr(replayed, k)}
    if others - {"modulation", "pause_clock"}:
        return True
    if "modulation" in others and any(
        type(e) is ev.AttainmentRecorded and e.year >= FIRST_MODULATED_YEAR for e in events
    ):
        return True
    return "pause_clock" in others and any(type(e) is ev.Suspended for e in events)


def calendar_unchanged(events: Sequence[ev.Event], recorded: Policies, replayed: Policies) -> bool:
    """Whether the contract calendar (anniversaries, settled year) is the same under both policies:
    only the pause of the clock moves it, and only for a convention that was suspended (R16)."""
    return recorded.pause_clock == replayed.pause_clock or not any(type(e) is ev.Suspended for e in events)
