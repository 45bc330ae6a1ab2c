"""Property-based: random operator command sequences on one convention (hypothesis).

Checks that the invariants hold after every step, that a refused command changes nothing, that
replaying the stored events gives the same state as the live aggregate, and that the compact
calendar state fed by events is the aggregate's own, and that what ``domain.due.next_due`` says
falls due next is what the aggregate records next.
"""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from adapters.composition import build_app
from adapters.settings import Settings
from domain.convention import CommandMeta, Convention
from domain.due import CalendarState, DueKind, next_due
from domain.errors import DomainError
from domain.values import Status
from domain.views import convention_view

EVENT_OF = {DueKind.RENEWAL: "Renewed", DueKind.YEAR: "YearStarted", DueKind.INSTALMENT: "InstalmentDue",
            DueKind.REVIEW: "ReviewDue"}  # fmt: skip
META = CommandMeta(actor="prop", reason="hypothesis", command_id="prop")

steps = st.lists(
    st.tuples(
        st.sampled_from(
            ["tick"] * 6 + ["hire"] * 2 + ["pay"] * 4 + ["attainment"] * 3 + ["review"] * 2 + ["reactivate"] * 2
            + ["leave", "replace", "train", "suspend", "reactivate", "reactivate", "option", "objective", "terminate"]
        ),
        st.integers(min_value=1, max_value=200),  # days to move forward first
        st.integers(min_value=0, max_value=2000),  # a free parameter (patients, year, index...)
    ),
    min_size=1,
    max_size=40,
)  # fmt: skip


def _sign(effective: date, percentile: int, option: str) -> Convention:
    return Convention.sign(
        META, number="P-1", cpam_code="281", rpps="10000000009", doctor_name="Prop", specialty="general_practice",
        sector=1, optam=False, ccam_share=None, newly_installed=False, option=option, percentile=percentile,
        initial_patients=1000, target_patients=1200, signed_on=effective - timedelta(days=10),
        effective_from=effective,
    )  # fmt: skip


def _apply(conv: Convention, action: str, today: date, p: int) -> None:
    if action == "tick":
        conv.record_due(META, today=today)
    elif action == "hire":
        conv.hire(META, hired_on=today, fte=Decimal("1"), profile=["nurse", "secretary"][p % 2])
    elif action == "leave":
        conv.assistant_left(META, left_on=today)
    elif action == "replace":
        conv.replace_assistant(META, on=today, fte=Decimal("0.5"), profile="care_aide")
    elif action == "train":
        conv.complete_training(META, completed_on=today)
    elif action == "suspend":
        conv.suspend(META, from_date=today, ground="long_absence", agreement_date=today)
    elif action == "reactivate":
        conv.reactivate(META, from_date=today)
    elif action == "review":
        conv.hold_review(META, held_on=today)
    elif action == "attainment":
        conv.record_attainment(META, year=1 + p % 8, observed_patients=800 + p // 3, on=today)
    elif action == "pay":
        due = sorted(i for i, x in conv.instalments.items() if x.status == "due")
        conv.record_payment(META, instalment=due[p % len(due)] if due else "y1-full", paid_on=today, reference=f"V{p}")
    elif action == "option":
        conv.change_option(META, option=["HALF", "FULL"][p % 2], from_date=today)
    elif action == "objective":
        conv.set_objective(META, from_year=1 + p % 6, target_patients=900 + p, on=today)
    elif action == "terminate":
        conv.terminate(META, on=today, by="cpam", ground="test")


def _invariants(conv: Convention) -> None:
    # contract years are consecutive and start on the calendar's anniversaries (R2, R16)
    assert sorted(conv.years) == list(range(1, len(conv.years) + 1))
    for n, y in conv.years.items():
        assert y.start == conv.year_start(n)
    # status follows the last transition (R13-R15)
    if conv.terminated_on is not None:
        assert conv.status is Status.TERMINATED
    elif conv.pauses and conv.pauses[-1].end is None:
        assert conv.status is Status.SUSPENDED
    else:
        assert conv.status is Status.ACTIVE
    # money: cents, paid ones carry a payment, nothing falls due after a termination (R6, R7, R17)
    for inst in conv.instalments.values():
        assert inst.amount == inst.amount.quantize(Decimal("0.01"))
        assert (inst.status == "paid") == (inst.paid_on is not None)
        if conv.terminated_on is not None and inst.kind.value != "settlement":
            settled_year = [y for y in conv.years.values() if y.start <= conv.terminated_on]
            assert inst.year <= max((y.year for y in settled_year), default=0)
    # reviews are raised in order, one per due date (R11)
    raised = sorted(r.k for r in conv.reviews.values() if r.k is not None)
    assert raised == list(range(1, len(raised) + 1))


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    steps=steps,
    effective=st.dates(min_value=date(2022, 1, 1), max_value=date(2026, 12, 31)),
    percentile=st.sampled_from([40, 92, 97]),
    option=st.sampled_from(["HALF", "FULL"]),
)
def test_random_command_sequences_keep_the_invariants_and_replay_identically(
    steps: list[tuple[str, int, int]], effective: date, percentile: int, option: str
) -> None:
    conv = _sign(effective, percentile, option)
    today = effective
    for action, forward, p in steps:
        today += timedelta(days=forward)
        before_view = convention_view(conv)
        before_pending = len(conv.pending_events)
        try:
            _apply(conv, action, today, p)
        except DomainError:
            # a refused command records nothing and changes nothing
            assert len(conv.pending_events) == before_pending
            assert convention_view(conv) == before_view
        _invariants(conv)
        # ticking again on the same day records nothing (idempotent)
        n = len(conv.pending_events)
        conv.record_due(META, today=today)
        if action == "tick":
            assert len(conv.pending_events) == n

    app = build_app(Settings(store="memory"))
    app.save(conv)
    replayed = app.get(conv.id)
    assert convention_view(replayed) == convention_view(conv)

    events = app.history(conv.id)
    state = CalendarState.from_signed(events[0])  # type: ignore[arg-type]
    for e in events[1:]:
        state.apply(e)
    assert state.next_due_on() == conv.next_due_on()
    assert state == conv.due_state()  # the state fed by events is the one the aggregate builds of itself

    # The rule's next item is what the aggregate records next, on that date.
    due = next_due(state)
    if due is not None:
        conv.record_due(META, today=due.on)
        first = conv.pending_events[0]
        assert (type(first).__name__, first.effective_date) == (EVENT_OF[due.kind], due.on)
        assert getattr(first, "instalment_id", None) == due.instalment_id
