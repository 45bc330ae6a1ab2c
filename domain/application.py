"""``ConventionsApp``: the application service every adapter calls.

Each command loads the convention, lets it decide, and saves its events together with a command
receipt in one transaction: a retried command id returns the first result and writes nothing; a
concurrent writer makes the save fail and surfaces as ``ConcurrentModification``; a caller's
stale ``expected_version`` is refused before anything is decided (``StaleVersion``).

The store is chosen by the ``env`` given by the composition root (``PERSISTENCE_MODULE``...):
in-memory (POPO) for unit tests, SQLite by default, PostgreSQL in production; so is the storage
format (``MAPPER_TOPIC``, ``TRANSCODER_TOPIC``: ``adapters.persistence``). Readers of the log (read
models, scheduler, HTTP) go through the query methods below, never through the library's
recorder, mapper or event store: the log is paged through here only.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field, replace
from datetime import date
from typing import Any
from uuid import UUID, uuid4

import orjson
from eventsourcing.application import AggregateNotFoundError, Application, Repository
from eventsourcing.persistence import EventStore, IntegrityError, Mapper, Notification
from eventsourcing.utils import resolve_topic

from domain import events as ev
from domain.commands import (
    AssistantLeft,
    ChangeOption,
    Command,
    CommandT,
    CompleteTraining,
    ConventionCommand,
    DeclareSecretaryHired,
    Hire,
    HoldReview,
    PolicyChoices,
    Reactivate,
    RecordAttainment,
    RecordPayment,
    ReplaceAssistant,
    SetObjective,
    Sign,
    Suspend,
    Terminate,
)
from domain.convention import CommandMeta, Convention
from domain.errors import (
    ConcurrentModification,
    DomainError,
    ErrorKind,
    ForbiddenTransition,
    IdempotencyKeyReused,
    InvalidInput,
    NotEligible,
    NotFound,
    StaleVersion,
)
from domain.identifiers import command_receipt_id, convention_id, doctor_registration_id
from domain.receipts import CommandReceipt, DoctorRegistration
from domain.snapshot import ConventionSnapshot
from domain.text import NAME_MAX, REASON_MAX, check_text
from domain.values import Policies

Clock = Callable[[], date]
_log = logging.getLogger(__name__)


def _build(model: type[CommandT], meta: CommandMeta, **fields: Any) -> CommandT:
    """A command from Python keyword arguments (tests, the simulator, the scheduler). Code is not an
    operator: its values reach the rules as given, and the aggregate refuses what breaks them with its
    own codes. Operator input (HTTP, CLI, forms) is validated against the model by its entry point."""
    fields = {"reason": meta.reason, **fields}
    known = model.model_fields
    if unknown := set(fields) - set(known):
        raise TypeError(f"{model.intention}() got unexpected arguments: {', '.join(sorted(unknown))}")
    if missing := [name for name, f in known.items() if f.is_required() and name not in fields]:
        raise TypeError(f"{model.intention}() missing arguments: {', '.join(missing)}")
    return model.model_construct(**fields)


def _intention(model: type[Command]) -> Callable[..., dict[str, Any]]:
    """``app.<intention>(conv_id, meta, **fields)``: the model's fields as keyword arguments."""
    if model is Sign:

        def sign(self: ConventionsApp, meta: CommandMeta, *, policies: Any = None, **fields: Any) -> dict[str, Any]:
            if isinstance(policies, Policies):
                policies = PolicyChoices.from_policies(policies)
            elif isinstance(policies, dict):
                policies = PolicyChoices(**policies)
            return self.handle(_build(Sign, meta, policies=policies, **fields), meta)

        sign.__doc__ = Sign.__doc__
        return sign

    def method(
        self: ConventionsApp, conv_id: UUID, meta: CommandMeta, *, expected_version: int | None = None, **fields: Any
    ) -> dict[str, Any]:
        return self.handle(_build(model, meta, **fields), meta, conv_id, expected_version)

    method.__name__ = method.__qualname__ = model.intention
    method.__doc__ = model.__doc__
    return method


def _replay(aggregate: Any, events: Iterable[Any]) -> Any:
    """The library's ``project_aggregate`` without its ``assert`` that each event satisfies a runtime
    Protocol: such an ``isinstance`` walks the Protocol's attributes, about 4 % of an API worker's
    time under load, to check what every stored event of this application is (it has ``mutate``)."""
    for event in events:
        aggregate = event.mutate(aggregate)
    return aggregate


class ConventionsApp(Application[UUID]):
    """Intention-revealing commands and queries over the conventions' event store."""

    name = "conventions"
    snapshot_class = ConventionSnapshot

    def __init__(self, env: dict[str, str] | None = None, clock: Clock | None = None) -> None:
        super().__init__(env)
        self.clock: Clock = clock or date.today
        # Snapshots (docs/events.md): every ``SNAPSHOTTING_INTERVAL`` versions of a convention, when the
        # composition root enabled them (``IS_SNAPSHOTTING_ENABLED``); an instance's interval, from settings.
        interval = int(self.env.get("SNAPSHOTTING_INTERVAL") or 0)
        self.snapshotting_intervals = {Convention: interval} if self.snapshots is not None and interval > 0 else {}
        self._presnapped: dict[tuple[UUID, int], Any] = {}  # snapshots ``save_decided`` writes itself

    def construct_mapper(self) -> Mapper[UUID]:
        """The storage format is persistence, chosen by the composition root (``MAPPER_TOPIC``,
        ``TRANSCODER_TOPIC``): without it the library's default mapper would write these pydantic
        events in another format, so the application refuses to start instead."""
        if not self.env.get("MAPPER_TOPIC"):
            raise RuntimeError(
                "ConventionsApp needs MAPPER_TOPIC and TRANSCODER_TOPIC in its env: build it with "
                "adapters.composition.build_app."
            )
        return super().construct_mapper()

    def construct_event_store(self) -> EventStore[UUID]:
        """The event store the composition root chose (``EVENT_STORE_TOPIC``: the persistence adapter's
        store, which chains each convention event to the one before it for tamper evidence,
        docs/audit.md); the library's own store without it (a store written as before the chain)."""
        topic = self.env.get("EVENT_STORE_TOPIC")
        if not topic:
            return super().construct_event_store()
        store: EventStore[UUID] = resolve_topic(topic)(mapper=self.mapper, recorder=self.recorder)
        return store

    def construct_repository(self) -> Repository[UUID]:
        """The repository the composition root chose (``REPOSITORY_TOPIC``: one that loads a convention's
        snapshot and later events in one query, ``adapters.loading``); the library's without it."""
        topic = self.env.get("REPOSITORY_TOPIC")
        if not topic:
            return super().construct_repository()
        repository: Repository[UUID] = resolve_topic(topic)(event_store=self.events, snapshot_store=self.snapshots)
        return repository

    def construct_snapshot_store(self) -> EventStore[UUID]:
        """The snapshot store the composition root chose (``SNAPSHOT_STORE_TOPIC``: one that hands out
        only the snapshots today's code can read, ``adapters.snapshots``), in its own table, written
        by the same mapper as the events (so encrypted like them). Without it snapshots would be read
        blindly: refused."""
        topic = self.env.get("SNAPSHOT_STORE_TOPIC")
        if not topic:
            raise RuntimeError(
                "ConventionsApp snapshots need SNAPSHOT_STORE_TOPIC: build it with adapters.composition."
            )
        recorder = self.factory.aggregate_recorder(purpose="snapshots")
        store: EventStore[UUID] = resolve_topic(topic)(mapper=self.mapper, recorder=recorder)
        return store

    def take_snapshot(self, aggregate_id: UUID, version: int | None = None, **kwargs: Any) -> None:
        """The library's, called after a save that reached a multiple of the interval. A snapshot is
        a cache: the command's events are saved already, so failing to write it fails nothing (the
        convention is replayed a little longer until the next one)."""
        if (aggregate_id, version) in self._presnapped:
            return  # taken from the decided events, written after the save (``save_decided``)
        try:
            super().take_snapshot(aggregate_id, version, **kwargs)
        except Exception as error:  # noqa: BLE001 - a missed cache entry is never the command's failure
            _log.warning("snapshot of %s v%s not written: %r", aggregate_id, version, error)

    # ================================================================== commands
    def handle(
        self,
        command: Command,
        meta: CommandMeta,
        convention_id: UUID | None = None,
        expected_version: int | None = None,
    ) -> dict[str, Any]:
        """The one entry of every operator intention: ``command`` is the model (``domain.commands``),
        ``meta`` who acts under which command id; the command's reason is recorded as is. Returns
        ``{"id", "version", "recorded", "value"}`` (``{"id", "version"}`` for a signature)."""
        meta = replace(meta, reason=command.reason)
        if isinstance(command, Sign):
            return self._sign(command, meta)
        if convention_id is None:
            raise InvalidInput("convention_required", "Préciser la convention visée.", "id")
        assert isinstance(command, ConventionCommand)
        return self._command(command, convention_id, meta, expected_version)

    # The intention-revealing methods of pyeventsourcing's style, each one line over ``handle``:
    # ``app.hire(conv_id, meta, hired_on=..., fte=..., profile=...)``. The meta's reason is the command's.
    sign = _intention(Sign)
    hire = _intention(Hire)
    declare_secretary_hired = _intention(DeclareSecretaryHired)
    replace_assistant = _intention(ReplaceAssistant)
    assistant_left = _intention(AssistantLeft)
    complete_training = _intention(CompleteTraining)
    set_objective = _intention(SetObjective)
    record_attainment = _intention(RecordAttainment)
    record_payment = _intention(RecordPayment)
    suspend = _intention(Suspend)
    reactivate = _intention(Reactivate)
    hold_review = _intention(HoldReview)
    change_option = _intention(ChangeOption)
    terminate = _intention(Terminate)

    def _sign(self, command: Sign, meta: CommandMeta) -> dict[str, Any]:
        """Sign a convention; the doctor may hold only one active convention (R8)."""
        meta = self._prepare(meta)
        fp = _sign_fingerprint(command, meta)
        if (first := self._first_result(meta.command_id, fp)) is not None:
            return first
        conv, registration = self._new_convention(command, meta)
        result = {"id": str(conv.id), "version": conv.version}
        return self._save(meta.command_id, fp, result, conv, registration)

    def _new_convention(self, command: Sign, meta: CommandMeta) -> tuple[Convention, DoctorRegistration]:
        """The signature decided, not saved: the convention and the doctor's registration (R8)."""
        conv = Convention.sign(meta, policies=command.chosen_policies(), **command.arguments())
        if conv.id in self.repository:
            raise ForbiddenTransition(
                "convention_exists",
                f"La convention n° {conv.number} de la CPAM {conv.cpam_code} existe déjà.",
            )
        registration = self._registration(conv.rpps, meta)
        if registration.active_convention is not None:
            raise NotEligible(
                "doctor_has_active_convention",
                f"Le médecin (RPPS {conv.rpps}) détient déjà une convention active : elle doit être résiliée "
                "avant une nouvelle signature.",
                "rpps",
            )
        registration.set_active(conv.id, self._event_meta(meta))
        return conv, registration

    def _decide(self, command: ConventionCommand, conv: Convention, meta: CommandMeta) -> tuple[Any, list[Any]]:
        """The convention decides; a termination also frees the doctor for a new signature (R17)."""
        outcome = command.apply_to(conv, meta)
        if not isinstance(command, Terminate):
            return outcome, []
        registration = self._registration(conv.rpps, meta)
        if registration.active_convention == conv.id:
            registration.set_active(None, self._event_meta(meta))
        return outcome, [registration]

    # ================================================================== several commands, one transaction
    def decide_all(self, steps: Sequence[tuple[Command, CommandMeta]], convention_id: UUID | None = None) -> Decided:
        """Decide ``steps`` one after the other on one convention, each exactly as ``handle`` would
        (same rules, fingerprints, receipts and results), without saving: ``save_decided`` then saves
        them in one transaction, so the convention gets every command or none. The first step may be
        the convention's ``Sign``. A step whose receipt exists is not decided again (its first result
        stands); after a signature decided here, the later steps' receipts are not looked up (the
        convention is new: a reused command id would still fail the save, whose receipts are
        unique). Nor are they issued: saved in one transaction with the signature, those steps are
        retried only with it, and the signature's receipt answers for them all (a bulk import's row
        saves a third of the events it would otherwise). The first refusal stops the sequence:
        ``Decided.refused`` names the step."""
        decided = Decided(convention=None if convention_id is None else self._get(convention_id))
        for index, (command, meta) in enumerate(steps):
            try:
                decided.results.append(self._decide_step(command, self._prepare(replace(meta, reason=command.reason)),
                                                         decided))  # fmt: skip
            except DomainError as error:
                decided.refused = (index, error)
                return decided
        return decided

    def _decide_step(self, command: Command, meta: CommandMeta, decided: Decided) -> dict[str, Any]:
        if isinstance(command, Sign):
            fp = _sign_fingerprint(command, meta)
            if (first := self._first_result(meta.command_id, fp)) is not None:
                decided.convention = self._get(UUID(first["id"]))
                return first
            decided.convention, registration = self._new_convention(command, meta)
            decided.others[registration.id] = registration
            decided.signed = True
            result: dict[str, Any] = {"id": str(decided.convention.id), "version": decided.convention.version}
        else:
            conv = decided.convention
            if conv is None:
                raise InvalidInput("convention_required", "Préciser la convention visée.", "id")
            assert isinstance(command, ConventionCommand)
            fp = "" if decided.signed else _command_fingerprint(command, conv.id, meta)
            if not decided.signed and (first := self._first_result(meta.command_id, fp)) is not None:
                return first
            before = conv.version
            outcome, others = self._decide(command, conv, meta)
            for other in others:
                if decided.others.setdefault(other.id, other) is not other:
                    raise ConcurrentModification(
                        "concurrent_modification", "Deux commandes de la suite modifient le même dossier."
                    )
            result = {"id": str(conv.id), "version": conv.version, "recorded": conv.version - before,
                      "value": _jsonable(outcome)}  # fmt: skip
            if decided.signed:  # saved with the signature or not at all: its receipt answers a retry
                return result
        decided.receipts.append(self._receipt(meta.command_id, fp, result))
        return result

    def save_decided(self, *decided: Decided) -> None:
        """Save what ``decide_all`` decided, for one or several conventions, in one transaction.
        Someone else's write in between fails it whole (``ConcurrentModification``): nothing saved.
        The snapshots of the conventions signed here are taken from their decided events and written
        together after the save (``_presnapped``), instead of one re-read and one transaction each."""
        aggregates: list[Any] = []
        for d in decided:
            if d.refused is not None:
                raise ValueError("a refused sequence is not saved")
            aggregates += ([d.convention] if d.convention is not None else []) + list(d.others.values()) + d.receipts
        snapshots = self._presnapped_of([d.convention for d in decided if d.convention is not None])
        self._presnapped.update(snapshots)
        try:
            self.save(*aggregates)
        except IntegrityError:
            raise ConcurrentModification(
                "concurrent_modification",
                "Une convention ou un médecin a été modifié pendant l'enregistrement : relancer.",
            ) from None
        finally:
            for key in snapshots:
                self._presnapped.pop(key, None)
        if snapshots and self.snapshots is not None:
            try:
                self.snapshots.put(list(snapshots.values()))
            except Exception as error:  # noqa: BLE001 - a cache: the events are saved (see take_snapshot)
                _log.warning("%d snapshots not written: %r", len(snapshots), error)

    def _presnapped_of(self, conventions: list[Convention]) -> dict[tuple[UUID, int], Any]:
        """The snapshots the library would take when saving these new conventions (a version multiple
        of the interval), each from a replay of the convention's pending events up to that version:
        the state the library would replay from the store once they are saved."""
        interval = self.snapshotting_intervals.get(Convention)
        taken: dict[tuple[UUID, int], Any] = {}
        for conv in conventions if interval else ():
            pending = conv.pending_events
            if not pending or pending[0].originator_version != 1:
                continue  # an older convention: the library snapshots it from the store
            for event in pending:
                if event.originator_version % interval == 0:
                    state = None
                    for earlier in pending[: event.originator_version]:  # ``project_aggregate`` less its
                        state = earlier.mutate(state)  # protocol check, a third of the time
                    taken[(conv.id, event.originator_version)] = self.snapshot_class.take(state)
        return taken

    def record_due(self, conv_id: UUID, meta: CommandMeta, *, today: date) -> int:
        """Record what fell due on one convention up to ``today``. Idempotent by nature, so no
        receipt: a concurrent write is retried on fresh state."""
        meta = _with_command_id(meta)
        for attempt in range(3):
            conv = self._get(conv_id)
            count = conv.record_due(meta, today=today)
            if not count:
                return 0
            try:
                self.save(conv)
                return count
            except IntegrityError:
                if attempt == 2:
                    raise ConcurrentModification(
                        "concurrent_modification",
                        "La convention a été modifiée pendant l'échéancement ; relancer.",
                    ) from None
        return 0  # pragma: no cover

    def tick(
        self,
        meta: CommandMeta,
        *,
        today: date,
        ids: list[UUID] | None = None,
        progress: Callable[[int], None] | None = None,
    ) -> dict[str, int]:
        """Record what fell due up to ``today`` on the given conventions (default: all)."""
        meta = _with_command_id(meta)
        conventions = events = 0
        for cid in ids if ids is not None else self.convention_ids():
            n = self.record_due(cid, meta, today=today)
            conventions += 1 if n else 0
            events += n
            if progress:
                progress(1)
        return {"conventions": conventions, "events": events}

    # ================================================================== queries
    def get(self, conv_id: UUID, *, version: int | None = None, as_of: date | None = None) -> Convention:
        """The convention now, at a version (audit replay) or as of a business date."""
        if as_of is not None:
            stored = list(self.events.get(conv_id))
            if not stored or not isinstance(stored[0], ev.Signed):
                raise _unknown(conv_id)
            if stored[0].effective_date > as_of:
                raise NotFound(
                    "not_yet_signed", f"La convention n'était pas encore signée au {as_of:%d/%m/%Y}.", "as_of"
                )
            return Convention.replay([e for e in stored if e.effective_date <= as_of])
        if version is not None and version < 1:
            raise NotFound("unknown_version", "Les versions commencent à 1.", "version")
        conv = self._get(conv_id, version)
        if version is not None and conv.version != version:
            raise NotFound("unknown_version", f"La convention n'a que {conv.version} versions.", "version")
        return conv

    def history(self, conv_id: UUID) -> list[ev.Event]:
        events = list(self.events.get(conv_id))
        if not events:
            raise _unknown(conv_id)
        return events  # type: ignore[return-value]

    def convention_ids(self, page: int = 1000) -> Iterator[UUID]:
        """Every convention, in signature order, read from the notification log."""
        for rows in self._pages(0, [ev.Signed.TOPIC], page):
            for n in rows:
                yield n.originator_id

    def signature(self, conv_id: UUID) -> ev.Signed | None:
        """The convention's first event (None: no such convention). One event read, no replay."""
        first = next(iter(self.events.get(conv_id, limit=1)), None)
        return first if isinstance(first, ev.Signed) else None

    def cpam_of(self, conv_id: UUID) -> str | None:
        """The CPAM a convention belongs to (fixed at signature), or None when there is no such convention."""
        signed = self.signature(conv_id)
        return None if signed is None else signed.cpam_code

    def find(self, cpam_code: str, number: str) -> UUID:
        cid = convention_id(cpam_code, number)
        if cid not in self.repository:
            raise _unknown(cid)
        return cid

    # ================================================================== the log
    def head(self) -> int:
        """The last notification id recorded (0 while the log is empty)."""
        return int(self.recorder.max_notification_id() or 0)

    def read_log(
        self, after: int, limit: int, topics: Sequence[str] = (), *, until: int | None = None
    ) -> list[tuple[int, ev.Event]]:
        """Up to ``limit`` (notification id, event) with ``after < id <= until``, by id; ``topics``:
        only events of these classes (all when empty). Ids may have gaps (PostgreSQL)."""
        return [(n.id, self.mapper.to_domain_event(n)) for n in self._select(after, limit, topics, until)]

    def log_after(
        self, after: int = 0, topics: Sequence[str] = (), *, page: int = 1000
    ) -> Iterator[tuple[int, ev.Event]]:
        """Every (notification id, event) recorded after ``after``, read ``page`` at a time."""
        for rows in self._pages(after, topics, page):
            for n in rows:
                yield n.id, self.mapper.to_domain_event(n)

    def read_stored(
        self, after: int, limit: int, topics: Sequence[str] = (), *, until: int | None = None
    ) -> list[tuple[int, UUID, int, str, bytes]]:
        """Like ``read_log``, but the rows as stored: (id, originator id, version, topic, state), the
        state maybe encrypted and compressed. For readers that decode the log themselves, faster
        than the mapper (the projections' trusted decoder, with ``stored_mapper``)."""
        rows = self._select(after, limit, topics, until)
        return [(n.id, n.originator_id, n.originator_version, n.topic, n.state) for n in rows]

    def stored_mapper(self) -> Mapper[UUID]:
        """How stored rows become events (the mapper the composition root chose): what a reader of
        ``read_stored`` decodes with."""
        return self.mapper

    def _select(self, after: int, limit: int, topics: Sequence[str], until: int | None) -> Sequence[Notification]:
        return self.recorder.select_notifications(after + 1, limit, stop=until, topics=topics, inclusive_of_start=True)

    def _pages(self, after: int, topics: Sequence[str], page: int) -> Iterator[Sequence[Notification]]:
        """The log after ``after``, a page at a time, until a short page (the end, for now)."""
        while True:
            rows = self._select(after, page, topics, None)
            if rows:
                yield rows
            if len(rows) < page:
                return
            after = rows[-1].id

    # ================================================================== plumbing
    def _command(
        self, command: ConventionCommand, conv_id: UUID, meta: CommandMeta, expected_version: int | None
    ) -> dict[str, Any]:
        meta = self._prepare(meta)
        fp = _command_fingerprint(command, conv_id, meta)
        conv, receipt = self._load_for(conv_id, meta.command_id)
        if (first := self._result_of(receipt, meta.command_id, fp)) is not None:
            return first
        if conv is None:
            raise _unknown(conv_id)
        before = conv.version
        stale = None
        if expected_version is not None and before != expected_version:
            stale = StaleVersion(
                "stale_version",
                f"La convention est en version {before}, pas {expected_version} : recharger avant de modifier.",
            )
        try:
            # The command is decided before the version is compared: a request invalid in itself is
            # refused as such (422) whatever the caller's version; any other outcome on a stale
            # version is the stale version (412), since the caller decided on another state.
            outcome, others = self._decide(command, conv, meta)
        except DomainError as error:
            # An identical retry may have been saved between our receipt check and our read.
            if (first := self._first_result(meta.command_id, fp)) is not None:
                return first
            if stale is not None and error.kind is not ErrorKind.INVALID:
                raise stale from None
            raise
        if stale is not None:
            raise stale
        result = {
            "id": str(conv.id),
            "version": before + len(conv.pending_events),
            "recorded": len(conv.pending_events),
            "value": _jsonable(outcome),
        }
        return self._save(meta.command_id, fp, result, conv, *others)

    def _save(self, command_id: str, fp: str, result: dict[str, Any], *aggregates: Any) -> dict[str, Any]:
        """Save the events with the command's receipt; returns the result that stands: ours, or
        the first one when an identical retry won the race."""
        try:
            self.save(*aggregates, self._receipt(command_id, fp, result))
        except IntegrityError:
            if (first := self._first_result(command_id, fp)) is not None:
                return first  # a retry of ours won the race: the first result stands
            raise ConcurrentModification(
                "concurrent_modification",
                "La convention a été modifiée par quelqu'un d'autre entre-temps : recharger et recommencer.",
            ) from None
        return result

    def _receipt(self, command_id: str, fp: str, result: dict[str, Any]) -> CommandReceipt:
        """The receipt saved with a command's events: a retry with its id finds the first result."""
        return CommandReceipt.issue(
            command_id=command_id, fingerprint=fp, result=result,
            event_meta=self._event_meta(CommandMeta(actor="system", command_id=command_id)),
        )  # fmt: skip

    def _load_for(self, conv_id: UUID, command_id: str) -> tuple[Convention | None, CommandReceipt | None]:
        """The convention (None if unknown) and the command's receipt (None if not run yet): in one
        query when the composition root's repository offers it (``get_with``), else in two."""
        receipt_id = command_receipt_id(command_id)
        get_with = getattr(self.repository, "get_with", None)
        if get_with is None:
            receipt = _replay(None, self.events.get(receipt_id))
            try:
                return self._get(conv_id), receipt
            except NotFound:
                return None, receipt
        conv, receipt_events = get_with(conv_id, receipt_id, _replay)
        return (conv if isinstance(conv, Convention) else None), _replay(None, receipt_events)

    def _first_result(self, command_id: str, fp: str) -> dict[str, Any] | None:
        try:
            receipt: CommandReceipt = self._never_snapshotted(command_receipt_id(command_id))
        except AggregateNotFoundError:
            return None
        return self._result_of(receipt, command_id, fp)

    def _result_of(self, receipt: CommandReceipt | None, command_id: str, fp: str) -> dict[str, Any] | None:
        """The first result of the command ``receipt`` records (None: not run yet); refused when the
        command id was used for another command."""
        if receipt is None:
            return None
        if receipt.fingerprint != fp:
            raise IdempotencyKeyReused(
                "idempotency_key_reused",
                f"L'identifiant de commande « {command_id} » a déjà servi pour une autre commande.",
                "command_id",
            )
        return receipt.result

    def _prepare(self, meta: CommandMeta) -> CommandMeta:
        """An operator's command as the domain needs it: a command id, today's date on the
        application's clock (R21), and who/why as printable text (R29)."""
        return replace(
            meta,
            command_id=meta.command_id or str(uuid4()),
            today=meta.today or self.clock(),
            actor=check_text(meta.actor, "actor", "Auteur", max_length=NAME_MAX, required=True),
            reason=check_text(meta.reason, "reason", "Motif", max_length=REASON_MAX, required=False, multiline=True),
        )

    def _registration(self, rpps: str, meta: CommandMeta) -> DoctorRegistration:
        try:
            return self._never_snapshotted(doctor_registration_id(rpps))
        except AggregateNotFoundError:
            return DoctorRegistration.open(rpps, self._event_meta(meta))

    def _never_snapshotted(self, aggregate_id: UUID) -> Any:
        """A receipt or a doctor's registration: only conventions are snapshotted, so their events
        alone, in one query, where the repository would ask the snapshots first (two queries)."""
        aggregate = _replay(None, self.events.get(aggregate_id))
        if aggregate is None:
            raise AggregateNotFoundError(aggregate_id)
        return aggregate

    def _get(self, conv_id: UUID, version: int | None = None) -> Convention:
        try:
            agg = self.repository.get(conv_id, version=version, projector_func=_replay)
        except AggregateNotFoundError:
            raise _unknown(conv_id) from None
        if not isinstance(agg, Convention):
            raise _unknown(conv_id)
        return agg

    def _event_meta(self, meta: CommandMeta) -> dict[str, Any]:
        return {
            "effective_date": self.clock(), "actor": meta.actor, "reason": meta.reason,
            "command_id": meta.command_id, "request_id": meta.request_id,
        }  # fmt: skip


@dataclass
class Decided:
    """Commands decided on one convention by ``ConventionsApp.decide_all``, not yet saved."""

    convention: Convention | None = None
    others: dict[UUID, Any] = field(default_factory=dict)  # a doctor's registration (R8)
    receipts: list[CommandReceipt] = field(default_factory=list)
    results: list[dict[str, Any]] = field(default_factory=list)
    refused: tuple[int, DomainError] | None = None  # the step refused, and why
    signed: bool = False  # the convention is signed by these steps: none of them was carried out before

    @property
    def new(self) -> bool:
        """Something to save: at least one step was not carried out before."""
        return bool(self.receipts)


def _unknown(conv_id: UUID) -> NotFound:
    return NotFound("unknown_convention", f"Convention {conv_id} inconnue.", "id")


def _with_command_id(meta: CommandMeta) -> CommandMeta:
    return meta if meta.command_id else replace(meta, command_id=str(uuid4()))


def _jsonable(value: Any) -> Any:
    return orjson.loads(orjson.dumps(value, default=str))


def _sign_fingerprint(command: Sign, meta: CommandMeta) -> str:
    policies = command.chosen_policies()
    return _fingerprint(
        "sign", meta.reason, command.arguments(), policies.model_dump(mode="json") if policies else None
    )


def _command_fingerprint(command: ConventionCommand, conv_id: UUID, meta: CommandMeta) -> str:
    return _fingerprint(command.intention, str(conv_id), meta.reason, command.arguments())


def _fingerprint(*parts: Any) -> str:
    data = orjson.dumps(parts, default=str, option=orjson.OPT_SORT_KEYS)
    return hashlib.sha256(data).hexdigest()
