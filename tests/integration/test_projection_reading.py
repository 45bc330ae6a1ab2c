"""How the runner reads the log: its SQLite reader and its decoder give what the library gives.

Both exist for speed (docs/benchmarks.md); these tests are what makes them safe: a library upgrade
that changed its table, or an event field type the decoder converts wrongly, fails here.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from uuid import UUID, uuid4

import pytest
from eventsourcing.cipher import AESCipher
from pydantic import field_validator

from adapters.audit import anchor_chains
from adapters.composition import build_app, event_store_env
from adapters.persistence import OrjsonTranscoder, PydanticMapper
from adapters.settings import Settings
from adapters.simulation import Simulator
from domain import events as ev
from domain.application import ConventionsApp
from domain.convention import CommandMeta
from domain.errors import DomainError
from domain.values import Option, Profile
from projections.engine.decode import TrustedDecoder
from projections.engine.log import RecorderLog, SqliteLog
from projections.engine.runner import TOPICS
from tests.helpers import Upcasted, sign


@pytest.fixture(scope="module")
def simulated(tmp_path_factory: pytest.TempPathFactory) -> ConventionsApp:
    """A SQLite portfolio with every kind of convention event."""
    settings = Settings(store="sqlite", data_dir=tmp_path_factory.mktemp("log"))
    app = build_app(settings)
    Simulator(app, seed=3, start=date(2019, 1, 1), end=date(2026, 6, 30), conventions=60).run()
    done = set()  # the amendments and declarations the simulator never makes
    for cid in app.convention_ids():
        conv = app.get(cid)
        meta = CommandMeta(actor="test", reason="avenant", command_id=f"t-{cid}")
        try:
            if "objective" not in done:
                year = conv.contract_year + 1
                app.set_objective(cid, meta, from_year=year, target_patients=1500, on=date(2026, 6, 1))
                done.add("objective")
            elif "option" not in done:
                option = Option.HALF if conv.option is Option.FULL else Option.FULL
                app.change_option(cid, meta, option=option, from_date=date(2026, 6, 1))
                done.add("option")
            elif "secretary" not in done and conv.status.value == "active":  # R28: the simulator never declares
                if conv.assistant is not None:
                    app.assistant_left(cid, CommandMeta(actor="test", reason="départ"), left_on=date(2026, 5, 31))
                app.hire(cid, meta, hired_on=date(2026, 6, 1), fte=Decimal(1), profile=Profile.SECRETARY,
                         was_practice_secretary=True)  # fmt: skip
                app.declare_secretary_hired(cid, CommandMeta(actor="test", reason="R28"), hired_on=date(2026, 7, 1))
                done.add("secretary")
        except DomainError:
            continue
    # ChainAnchored: a convention written before the hash chain (the library's store), then anchored
    legacy = ConventionsApp(env={k: v for k, v in event_store_env(settings).items() if k != "EVENT_STORE_TOPIC"})
    sign(legacy, CommandMeta(actor="test"), number="C-AVANT-CHAINE", rpps="10000000017")
    assert anchor_chains(app, CommandMeta(actor="test"), settings)["anchored"] == 1
    app.settings = settings  # type: ignore[attr-defined]
    return app


def test_the_simulated_log_has_every_event_class(simulated: ConventionsApp) -> None:
    topics = {n.topic for n in simulated.recorder.select_notifications(1, 1_000_000)}
    assert {cls.TOPIC for cls in ev.CONVENTION_EVENTS} <= topics


def test_the_sqlite_reader_gives_the_library_rows(simulated: ConventionsApp) -> None:
    log = SqliteLog(str(simulated.settings.events_sqlite_path()), simulated.recorder.events_table_name)
    library = RecorderLog(simulated.recorder)
    head = library.head()
    assert log.head() == head > 100
    for start, limit, stop, topics in [(1, 10_000, None, []), (1, 37, None, TOPICS), (50, 500, head - 20, TOPICS),
                                       (head - 400, 100, None, [ev.ReviewDue.TOPIC, ev.Signed.TOPIC])]:  # fmt: skip
        ours = log.read(start, limit, stop, topics)
        theirs = library.read(start, limit, stop, topics)
        assert ours and [(i, str(o), v, t, bytes(s)) for i, o, v, t, s in theirs] == [
            (i, str(UUID(o)), v, t, s) for i, o, v, t, s in ours
        ]
    log.close()


def test_the_decoder_gives_the_mapper_events(simulated: ConventionsApp) -> None:
    """Every stored event, with its originator id as text (SQLite reader) or as UUID (library)."""
    decode = TrustedDecoder(simulated.mapper)
    rows = simulated.recorder.select_notifications(1, 1_000_000, topics=TOPICS)
    seen = set()
    for n in rows:
        expected = simulated.mapper.to_domain_event(n)
        for oid in (n.originator_id, str(n.originator_id), n.originator_id.hex):
            event = decode(oid, n.originator_version, n.topic, n.state)  # text: hyphenated, or hex as stored
            assert type(event) is type(expected)
            assert event == expected, n.topic
            assert event.model_dump(mode="json") == expected.model_dump(mode="json")
        seen.add(type(expected))
    assert seen == set(ev.CONVENTION_EVENTS)
    assert all(decode._builders[cls.TOPIC] for cls in ev.CONVENTION_EVENTS)  # none falls back to the mapper


def test_the_decoder_fills_the_defaults_of_older_states() -> None:
    """An event stored before a field with a default existed decodes with the default, like the mapper."""
    mapper = PydanticMapper(transcoder=OrjsonTranscoder())
    event = ev.ReviewHeld(originator_id=uuid4(), originator_version=3, timestamp="2026-01-02T03:04:05Z",
                          effective_date=date(2026, 1, 5), actor="a", due_date=date(2026, 1, 1))  # fmt: skip
    stored = mapper.to_stored_event(event)
    old = stored.state.replace(b',"notes":""', b"").replace(b',"request_id":null', b"")
    assert b"notes" not in old and b"request_id" not in old
    decoded = TrustedDecoder(mapper)(event.originator_id, 3, stored.topic, old)
    assert (
        decoded
        == event
        == mapper.to_domain_event(
            stored._replace(state=old)
            if hasattr(stored, "_replace")
            else type(stored)(stored.originator_id, 3, stored.topic, old)
        )
    )


def test_the_decoder_decrypts_an_encrypted_store(tmp_path) -> None:  # noqa: ANN001
    key = AESCipher.create_key(16)
    app = build_app(Settings(store="sqlite", data_dir=tmp_path, cipher_key=key))
    Simulator(app, seed=4, start=date(2024, 1, 1), end=date(2025, 1, 1), conventions=3).run()
    decode = TrustedDecoder(app.mapper)
    rows = app.recorder.select_notifications(1, 10_000, topics=TOPICS)
    assert rows and all(b"Docteur" not in n.state for n in rows)
    assert [decode(n.originator_id, n.originator_version, n.topic, n.state) for n in rows] == [
        app.mapper.to_domain_event(n) for n in rows
    ]


def test_the_decoder_upcasts_like_the_mapper() -> None:
    mapper = PydanticMapper(transcoder=OrjsonTranscoder())
    v1 = b'{"timestamp":"2024-01-01T00:00:00Z","effective_date":"2024-01-01","actor":"x"}'
    oid = uuid4()
    decoded = TrustedDecoder(mapper)(str(oid), 1, Upcasted.TOPIC, v1)
    assert decoded.ground == "non renseigné" and decoded.originator_id == oid


def test_an_encrypted_store_is_projected_and_verified(tmp_path) -> None:  # noqa: ANN001
    """CONVENTIONS_CIPHER_KEY: the events are unreadable at rest, the read models still answer."""
    from adapters.composition import build_projections
    from projections import conventions_list, history

    settings = Settings(store="sqlite", data_dir=tmp_path, cipher_key=AESCipher.create_key(16))
    app = build_app(settings)
    Simulator(app, seed=5, start=date(2024, 1, 1), end=date(2025, 6, 30), conventions=6).run()
    runner = build_projections(settings, app=app)
    assert runner.catch_up() > 50
    found = conventions_list.search(runner.store)
    assert found["total"] == len(list(app.convention_ids())) >= 5
    first = found["items"][0]["convention_id"]
    lines = history.timeline(runner.store, first)
    assert lines[0]["event_type"] == "Signed" and "signature de la convention" in lines[0]["sentence"]
    assert runner.verify() == []


class Normalised(ev.Event):
    """A stand-in for an event whose validator transforms a value: the decoder must not skip it."""

    ground: str

    @field_validator("ground")
    @classmethod
    def _upper(cls, value: str) -> str:
        return value.upper()


def test_a_class_with_validators_is_decoded_by_the_mapper() -> None:
    mapper = PydanticMapper(transcoder=OrjsonTranscoder())
    state = b'{"timestamp":"2024-01-01T00:00:00Z","effective_date":"2024-01-01","actor":"x","ground":"abc"}'
    decode = TrustedDecoder(mapper)
    assert decode(str(uuid4()), 1, Normalised.TOPIC, state).ground == "ABC"
    assert decode._builders[Normalised.TOPIC] is False
