"""How events become stored bytes and back: pydantic JSON, orjson, upcasting on read.

Persistence, not domain: the composition root selects these classes through the library's
environment (``MAPPER_TOPIC``, ``TRANSCODER_TOPIC``, see ``mapper_env``), so the application service
never imports them.

Stored state is ``model_dump(mode="json")`` less the id and version, plus ``class_version`` when
above 1, plus, for a convention event, its link in the hash chain (``_chain``, ``adapters.chain``):
``ChainedEventStore`` computes it when it saves. On read, the link is dropped and the event class's
``upcast_vN_vN+1`` static methods (``domain.events.upcast``) rewrite older states before
validation, so an event released years ago still rebuilds today's state.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any
from uuid import UUID

import orjson
from eventsourcing.persistence import EventStore, Mapper, Notification, Recording, StoredEvent, Transcoder
from eventsourcing.utils import get_topic, resolve_topic

from adapters.chain import ANCHOR_TOPIC, CHAINED_TOPICS, GENESIS, StreamChain, link
from domain.events import CHAIN_KEY, upcast


class OrjsonTranscoder(Transcoder):
    # The functions themselves, not methods calling them: a reader that decodes a whole log
    # (projections.engine.decode) calls ``transcoder.decode`` once per event.
    encode = staticmethod(orjson.dumps)
    decode = staticmethod(orjson.loads)


class PydanticMapper(Mapper):
    def to_stored_event(self, domain_event: Any) -> StoredEvent:
        return self.to_chained_event(domain_event, None)[0]

    def to_chained_event(self, domain_event: Any, previous: str | None) -> tuple[StoredEvent, str | None]:
        """The stored record and its link, chained to ``previous`` (the link of the event before it);
        no link when ``previous`` is None (``to_stored_event``: receipts, registrations)."""
        topic = get_topic(type(domain_event))
        state = domain_event.model_dump(mode="json", exclude={"originator_id", "originator_version"})
        class_version = getattr(type(domain_event), "class_version", 1)
        if class_version > 1:
            state["class_version"] = class_version
        chained = None
        if previous is not None:
            chained = state[CHAIN_KEY] = link(
                previous, domain_event.originator_id, domain_event.originator_version, topic, state
            )
        data = self.transcoder.encode(state)
        if self.compressor:
            data = self.compressor.compress(data)
        if self.cipher:
            data = self.cipher.encrypt(data)
        stored = StoredEvent(
            originator_id=domain_event.originator_id,
            originator_version=domain_event.originator_version,
            topic=topic,
            state=data,
        )
        return stored, chained

    def to_domain_event(self, stored_event: StoredEvent) -> Any:
        cls = resolve_topic(stored_event.topic)
        data = stored_event.state
        if self.cipher:
            data = self.cipher.decrypt(data)
        if self.compressor:
            data = self.compressor.decompress(data)
        state = self.transcoder.decode(data)
        upcast(cls, state)
        state["originator_id"] = stored_event.originator_id
        state["originator_version"] = stored_event.originator_version
        return cls(**state)

    def stored_state(self, data: bytes) -> dict[str, Any]:
        """A stored state as written (decrypted, decompressed, its chain link included)."""
        if self.cipher:
            data = self.cipher.decrypt(data)
        if self.compressor:
            data = self.compressor.decompress(data)
        return self.transcoder.decode(data)  # type: ignore[no-any-return]


class ChainedEventStore(EventStore[UUID]):
    """The library's event store, chaining each convention event to the one before it.

    The link of the event before the first one saved is the one a load of the convention just read
    (``remember``, ``adapters.loading``), else it is read from the store (one row by primary key,
    none for a new convention); a history written before the chain existed has none, so it is
    computed over that history as stored (``adapters.chain``): the first event saved then commits to
    it. Saving is otherwise the library's: same recorder, same transaction, same recordings."""

    mapper: PydanticMapper
    MAX_REMEMBERED = 100_000  # conventions whose last link is kept (about 200 bytes each)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._links: dict[UUID, tuple[int, str]] = {}

    def remember(self, originator_id: UUID, version: int, chained: str) -> None:
        """The stored link of a convention's event at ``version``, as a load read it: a save of the
        version after it chains to it without asking the store."""
        if len(self._links) >= self.MAX_REMEMBERED:
            self._links.clear()
        self._links[originator_id] = (version, chained)

    def put(self, domain_events: Sequence[Any], **kwargs: Any) -> list[Recording[UUID]]:
        heads: dict[UUID, tuple[int, str]] = {}
        stored_events = []
        for e in domain_events:
            if e.TOPIC not in CHAINED_TOPICS:
                stored_events.append(self.mapper.to_stored_event(e))
                continue
            oid, version = e.originator_id, e.originator_version
            head = heads.get(oid)
            if head and head[0] == version - 1:
                previous = head[1]
            elif e.TOPIC == ANCHOR_TOPIC:  # the upgrade read the history already: the anchor names its head
                previous = e.history_hash  # (verify recomputes it: a wrong one would be a finding)
            else:
                previous = self.link_before(oid, version)
            stored, chained = self.mapper.to_chained_event(e, previous)
            stored_events.append(stored)
            heads[oid] = (version, str(chained))
        ids = self.recorder.insert_events(stored_events, **kwargs)
        if not ids:
            return []
        return [
            Recording(d, Notification(s.originator_id, s.originator_version, s.topic, s.state, id=n))
            for d, s, n in zip(domain_events, stored_events, ids, strict=True)
        ]

    def link_before(self, originator_id: UUID, version: int) -> str:
        """The link of the stored event just before ``version`` (computed when written without one)."""
        if version <= 1:
            return GENESIS
        known = self._links.get(originator_id)
        if known is not None and known[0] == version - 1:
            return known[1]
        last = self.recorder.select_events(originator_id, lte=version - 1, desc=True, limit=1)
        if last:
            state = self.mapper.stored_state(last[0].state)
            if CHAIN_KEY in state:
                return str(state[CHAIN_KEY])
        chain = StreamChain()  # the walk ``conventions verify`` makes: both agree on every head
        for s in self.recorder.select_events(originator_id, lte=version - 1):
            chain.add(s.originator_version, s.topic, originator_id, self.mapper.stored_state(s.state))
        return chain.head


def mapper_env() -> dict[str, str]:
    """The library's environment keys that make an application store events with this mapper, chained
    (``EVENT_STORE_TOPIC``, read by ``ConventionsApp.construct_event_store``)."""
    return {
        "MAPPER_TOPIC": get_topic(PydanticMapper),
        "TRANSCODER_TOPIC": get_topic(OrjsonTranscoder),
        "EVENT_STORE_TOPIC": get_topic(ChainedEventStore),
    }
