"""How events become stored bytes and back: pydantic JSON, orjson, upcasting on read.

Persistence, not domain: the composition root selects these classes through the library's
environment (``MAPPER_TOPIC``, ``TRANSCODER_TOPIC``, see ``mapper_env``), so the application service
never imports them.

Stored state is ``model_dump(mode="json")`` less the id and version, plus ``class_version`` when
above 1. On read, the event class's ``upcast_vN_vN+1`` static methods (``domain.events.upcast``)
rewrite older states before validation, so an event released years ago still rebuilds today's state.
"""

from __future__ import annotations

from typing import Any

import orjson
from eventsourcing.persistence import Mapper, StoredEvent, Transcoder
from eventsourcing.utils import get_topic, resolve_topic

from domain.events import upcast


class OrjsonTranscoder(Transcoder):
    # The functions themselves, not methods calling them: a reader that decodes a whole log
    # (projections.engine.decode) calls ``transcoder.decode`` once per event.
    encode = staticmethod(orjson.dumps)
    decode = staticmethod(orjson.loads)


class PydanticMapper(Mapper):
    def to_stored_event(self, domain_event: Any) -> StoredEvent:
        topic = get_topic(type(domain_event))
        state = domain_event.model_dump(mode="json", exclude={"originator_id", "originator_version"})
        class_version = getattr(type(domain_event), "class_version", 1)
        if class_version > 1:
            state["class_version"] = class_version
        data = self.transcoder.encode(state)
        if self.compressor:
            data = self.compressor.compress(data)
        if self.cipher:
            data = self.cipher.encrypt(data)
        return StoredEvent(
            originator_id=domain_event.originator_id,
            originator_version=domain_event.originator_version,
            topic=topic,
            state=data,
        )

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


def mapper_env() -> dict[str, str]:
    """The library's environment keys that make an application store events with this mapper."""
    return {"MAPPER_TOPIC": get_topic(PydanticMapper), "TRANSCODER_TOPIC": get_topic(OrjsonTranscoder)}
