"""Snapshots are a cache (R26: conventions live 10 years and more, a command must not replay them all):
a convention loaded from its latest snapshot plus the events after it is the convention a full replay
builds; a snapshot written by another release (another state fingerprint), or one that does not
read, is ignored and the events are replayed; a failed snapshot never fails the command. In memory;
the same on SQLite and PostgreSQL in tests/integration/test_snapshots.py."""

from __future__ import annotations

import inspect
from dataclasses import replace
from datetime import date
from decimal import Decimal
from typing import Any
from uuid import UUID

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from adapters.composition import build_app, event_store_env
from adapters.settings import Settings
from domain import snapshot as snap
from domain.application import ConventionsApp
from domain.convention import CommandMeta, Convention
from domain.snapshot import STATE_FINGERPRINT, ConventionSnapshot, ConventionState
from tests.conftest import FixedClock
from tests.histories import replayed, state_of, write_history
from tests.unit.test_properties import steps

META = CommandMeta(actor="snap.test", reason="test")
INTERVAL = 3


def _app(interval: int = INTERVAL) -> ConventionsApp:
    return build_app(Settings(store="memory", snapshot_interval=interval), clock=FixedClock(date(2031, 1, 1)))


def _long_history(app: ConventionsApp) -> UUID:
    """The standard convention with a nurse and five years ticked: 25 events or so."""
    from tests.helpers import sign

    cid = sign(app, META)
    app.hire(cid, META, hired_on=date(2025, 3, 1), fte=Decimal(1), profile="nurse")
    app.record_due(cid, META, today=date(2030, 6, 1))
    app.record_payment(cid, META, instalment="y1-full", paid_on=date(2025, 3, 20), reference="VIR-1")
    return cid


def _events_read_from(app: ConventionsApp, cid: UUID) -> int:
    """The first version the repository reads from the events when loading ``cid``: 1 means a full
    replay, more means it started from a snapshot."""
    seen: list[int | None] = []
    original = app.repository.event_store.get

    def spy(originator_id: UUID, **kw: Any) -> Any:
        seen.append(kw.get("gt"))
        return original(originator_id, **kw)

    app.repository.event_store.get = spy  # type: ignore[method-assign]
    try:
        app.get(cid)
    finally:
        app.repository.event_store.get = original  # type: ignore[method-assign]
    return (seen[0] or 0) + 1


# ---------------------------------------------------------------- equal to a full replay
@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(steps=steps, effective=st.dates(min_value=date(2022, 1, 1), max_value=date(2026, 12, 31)))
def test_a_convention_loaded_from_snapshots_is_the_full_replay(
    steps: list[tuple[str, int, int]], effective: date
) -> None:
    app = _app()
    cid = write_history(app, steps, effective)
    events = app.history(cid)
    assert state_of(app.get(cid)) == state_of(replayed(app, cid))
    taken = [s.originator_version for s in app.snapshots.get(cid)]
    assert taken == [v for v in range(1, len(events) + 1) if v % INTERVAL == 0]  # every 3 versions, no gap
    for version in {1, *taken, *(v + 1 for v in taken if v < len(events))}:  # at, and just after, each snapshot
        assert state_of(app.get(cid, version=version)) == state_of(replayed(app, cid, version))


def test_a_command_loads_from_the_latest_snapshot() -> None:
    app = _app()
    cid = _long_history(app)
    version = app.get(cid).version
    assert _events_read_from(app, cid) == version // INTERVAL * INTERVAL + 1
    off = _app(interval=0)
    assert _events_read_from(off, _long_history(off)) == 1  # 0: no snapshot, every load replays all


def test_as_of_and_version_reads_before_the_latest_snapshot_are_unchanged() -> None:
    app = _app()
    cid = _long_history(app)
    latest = max(s.originator_version for s in app.snapshots.get(cid))
    assert latest > 10
    for version in (1, 2, latest - 1, latest):
        assert state_of(app.get(cid, version=version)) == state_of(replayed(app, cid, version))
    as_of = app.get(cid, as_of=date(2026, 1, 1))  # R26's history to a date: events up to it, whatever snapshots say
    assert sorted(as_of.years) == [1] and sorted(app.get(cid, version=latest).years) == [1, 2, 3, 4, 5, 6]
    expected = Convention.replay([e for e in app.history(cid) if e.effective_date <= date(2026, 1, 1)])
    assert state_of(as_of) == state_of(expected)
    assert len(app.history(cid)) == app.get(cid).version  # history is the events, never a snapshot


# ---------------------------------------------------------------- a snapshot from another release
def _crafted(
    conv: Convention, *, version: int, fingerprint: str = STATE_FINGERPRINT, **state: Any
) -> ConventionSnapshot:
    taken = ConventionSnapshot.take(conv)
    return ConventionSnapshot(**{**taken.model_dump(), "originator_version": version, "fingerprint": fingerprint,
                                 "state": {**taken.state, **state}})  # fmt: skip


def test_a_snapshot_of_another_release_is_ignored_and_the_events_replayed() -> None:
    app = _app(interval=1000)  # none written by the commands: the test writes them
    cid = _long_history(app)
    conv = app.get(cid)
    v = conv.version
    # Control: a usable snapshot is what loads (here one the test altered), so the next check can fail.
    app.snapshots.put([_crafted(conv, version=v - 1, doctor_name="Altéré")])
    assert app.get(cid).doctor_name == "Altéré"
    # A newer one written by a release whose state had another shape (a field gone, one since removed).
    old = _crafted(conv, version=v, fingerprint="0" * 16, doctor_name="Ancien", legacy_flag=True)
    old.state.pop("reviews_raised")
    app.snapshots.put([old])
    assert _events_read_from(app, cid) == 1
    assert state_of(app.get(cid)) == state_of(replayed(app, cid))
    # The next command saves as usual and, at its interval, writes a snapshot of today's shape.
    app.record_payment(cid, META, instalment="y2-full", paid_on=date(2026, 3, 20), reference="VIR-2")
    assert state_of(app.get(cid)) == state_of(replayed(app, cid))


def test_a_snapshot_that_does_not_read_is_ignored() -> None:
    app = _app(interval=1000)
    cid = _long_history(app)
    conv = app.get(cid)
    app.snapshots.put([_crafted(conv, version=conv.version - 1)])
    assert _events_read_from(app, cid) == conv.version  # control: the usable one is used
    # Same fingerprint, but a state today's ConventionState refuses: a bug or an edit in the database.
    good = _crafted(conv, version=conv.version)
    row = app.mapper.to_stored_event(good)
    state = app.mapper.transcoder.decode(row.state)
    state["state"]["years"] = "not a mapping"
    app.snapshots.recorder.insert_events([replace(row, state=app.mapper.transcoder.encode(state))])
    assert _events_read_from(app, cid) == 1
    assert state_of(app.get(cid)) == state_of(replayed(app, cid))


def test_the_fingerprint_changes_with_the_state_version_and_the_state_shape(monkeypatch: pytest.MonkeyPatch) -> None:
    assert snap._fingerprint() == STATE_FINGERPRINT  # stable within a release
    monkeypatch.setattr(snap, "STATE_VERSION", snap.STATE_VERSION + 1)
    assert snap._fingerprint() != STATE_FINGERPRINT
    monkeypatch.undo()
    monkeypatch.setitem(ConventionState.model_fields, "extra_field", ConventionState.model_fields["rpps"])
    ConventionState.model_rebuild(force=True)
    try:
        assert snap._fingerprint() != STATE_FINGERPRINT
    finally:
        monkeypatch.undo()
        ConventionState.model_rebuild(force=True)
    assert snap._fingerprint() == STATE_FINGERPRINT


# ---------------------------------------------------------------- the state declared is the aggregate's
def test_the_snapshot_state_declares_every_attribute_of_the_convention() -> None:
    app = _app(interval=0)
    cid = _long_history(app)
    app.suspend(cid, META, from_date=date(2030, 7, 1), ground="long_absence", agreement_date=date(2030, 7, 1))
    app.terminate(cid, META, on=date(2030, 8, 1), by="cpam", ground="test")
    attrs = set(vars(app.get(cid))) - {"_id", "_version", "_pending_events", "_created_on", "_modified_on"}
    assert attrs | {"created_on", "modified_on"} == set(ConventionState.model_fields)


# When this fails, a handler changed: if the state it builds from the same events changed, bump
# domain.snapshot.STATE_VERSION (older snapshots are then ignored); in any case update the digest here.
HANDLERS = "on", *sorted(n for n in vars(Convention) if n.startswith("_when_"))
HANDLERS_DIGEST = "9d5ed222"


def test_a_change_to_the_event_handlers_is_a_decision_about_the_snapshot_state_version() -> None:
    import hashlib

    source = "".join(inspect.getsource(getattr(Convention, n)) for n in HANDLERS)
    digest = hashlib.sha256(source.encode()).hexdigest()[:8]
    assert (digest, snap.STATE_VERSION) == (HANDLERS_DIGEST, 1), "handlers changed: see the comment above"


# ---------------------------------------------------------------- settings and failures
def test_the_interval_is_a_setting_and_zero_turns_snapshots_off() -> None:
    assert Settings().snapshot_interval == 20
    assert _app(interval=0).snapshots is None
    env = event_store_env(Settings(store="memory", snapshot_interval=50))
    assert (env["IS_SNAPSHOTTING_ENABLED"], env["SNAPSHOTTING_INTERVAL"]) == ("y", "50")
    assert _app(interval=50).snapshotting_intervals == {Convention: 50}
    with pytest.raises(ValueError):
        Settings(snapshot_interval=-1)


def test_the_application_refuses_snapshots_without_the_store_that_checks_them() -> None:
    env = {k: v for k, v in event_store_env(Settings(store="memory")).items() if k != "SNAPSHOT_STORE_TOPIC"}
    with pytest.raises(RuntimeError, match="SNAPSHOT_STORE_TOPIC"):
        ConventionsApp(env=env)


def test_a_snapshot_that_cannot_be_taken_fails_nothing(monkeypatch: pytest.MonkeyPatch) -> None:
    def broken(cls: type, conv: Convention) -> None:
        raise RuntimeError("disk full")

    monkeypatch.setattr(ConventionState, "of", classmethod(broken))
    app = _app()
    cid = _long_history(app)
    assert app.get(cid).version > INTERVAL and list(app.snapshots.get(cid)) == []
    assert state_of(app.get(cid)) == state_of(replayed(app, cid))
