"""The hash chain that makes a convention's stored history tamper-evident (docs/audit.md).

Each convention event is stored with a link: ``link = sha256(previous link + canonical content)``,
the content being the convention id, the version, the topic and the state exactly as stored (less
the link itself), serialised as sorted-key JSON. Version 1 chains to ``GENESIS``. The link lives
in the stored record, beside the state (``domain.events.CHAIN_KEY``), never in an event class: no
released class changes, and replay ignores it.

The chain is computed over the content, not over the bytes at rest: with ``CONVENTIONS_CIPHER_KEY``
the state is encrypted with a random nonce (the same content gives other bytes), and a key rotation
re-encrypts without breaking the chain. The link is encrypted with the state it belongs to.

Pure functions over stored states (no I/O): the event store writes links with them
(``adapters.persistence.ChainedEventStore``), ``conventions verify`` checks them (``StreamChain``).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from typing import Any
from uuid import UUID

import orjson

from domain.events import CHAIN_KEY, CONVENTION_EVENTS

GENESIS = "0" * 64
CHAINED_TOPICS = frozenset(cls.TOPIC for cls in CONVENTION_EVENTS)  # the conventions' streams only
ANCHOR_TOPIC = "cpam.ChainAnchored"


def id_text(originator_id: UUID | str) -> str:
    """The convention id as hashed: 32 lowercase hex digits (how SQLite stores it)."""
    return originator_id.hex if isinstance(originator_id, UUID) else originator_id.replace("-", "").lower()


def link(previous: str, originator_id: UUID | str, version: int, topic: str, state: dict[str, Any]) -> str:
    """The link of one stored event: its content (``state`` without its own link) chained to ``previous``."""
    content = orjson.dumps([id_text(originator_id), version, topic, state], option=orjson.OPT_SORT_KEYS)
    return hashlib.sha256(previous.encode() + content).hexdigest()


@dataclass(frozen=True)
class ChainFinding:
    code: str
    message: str
    version: int


@dataclass
class StreamChain:
    """One convention's chain, walked version by version in stored order.

    ``head`` is the link of the last event seen: the stored one when the event has one, else the
    one computed (an event written before the chain existed). After a broken link the walk goes on
    from the stored link, so an edited event is named alone, not every event after it."""

    head: str = GENESIS
    version: int = 0
    covered_from: int | None = None  # the first version stored with its link
    anchored: int | None = None  # the version of the ChainAnchored event, if any
    findings: list[ChainFinding] = field(default_factory=list)

    def add(self, version: int, topic: str, originator_id: UUID | str, state: dict[str, Any]) -> None:
        """The next stored event (``state`` as stored, its link included: it is removed)."""
        stored = state.pop(CHAIN_KEY, None)
        computed = link(self.head, originator_id, version, topic, state)
        previous = self.version
        self.version = version
        if stored is None:
            if self.covered_from is not None:
                self.findings.append(ChainFinding(
                    "chain_missing", f"Version {version} enregistrée sans maillon alors que la chaîne couvre la "
                    f"convention depuis la version {self.covered_from} : événement inséré hors de l'application.",
                    version,
                ))  # fmt: skip
            self.head = computed
            return
        if self.covered_from is None:
            self.covered_from = version
        mismatched = topic == ANCHOR_TOPIC and not self._anchor(version, state)  # named once, as the anchor
        if stored != computed and not mismatched:
            self.findings.append(ChainFinding("chain_broken", self._broken(version, previous), version))
        self.head = stored

    def _anchor(self, version: int, state: dict[str, Any]) -> bool:
        """Whether the anchor still matches the history before it (a finding when not)."""
        self.anchored = version
        if state.get("history_hash") == self.head and state.get("versions") == version - 1:
            return True
        self.findings.append(ChainFinding(
            "anchor_mismatch", f"L'ancrage (version {version}) ne correspond plus à l'historique des versions 1 à "
            f"{version - 1} : un événement antérieur à l'ancrage a été modifié, supprimé ou déplacé.", version,
        ))  # fmt: skip
        return False

    def _broken(self, version: int, previous: int) -> str:
        if previous != version - 1:
            return (f"Maillon rompu à la version {version} : la version précédente enregistrée est la "
                    f"{previous} (événement supprimé ?).")  # fmt: skip
        return (f"Maillon rompu à la version {version} : son contenu (ou la place d'un événement qui le précède) "
                "a été modifié après son enregistrement.")  # fmt: skip
