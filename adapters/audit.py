"""The audit that proves the books: one read of the log, every convention replayed and checked.

``run_audit`` reads the conventions' events once, in log order, and hands each stored event to
its convention's checkers: the hash chain over the stored state (``adapters.chain``), the books
(``domain.books``: every amount and date recomputed from the rules recorded on the convention) and
the rules audit (``domain.audit``). The projections' check (``Runner.verify``: a fresh replay of
every read model compared with the live tables) is a part of its own. With ``workers`` > 1 the
conventions are split between processes by id (each reads the log, and checks its share), and the
projections' replay runs in a process of its own meanwhile. See docs/audit.md.
"""

from __future__ import annotations

import multiprocessing
import time
import zlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from uuid import UUID

from adapters.chain import CHAINED_TOPICS, StreamChain
from adapters.composition import build_app, build_projections
from adapters.settings import Settings
from domain import events as ev
from domain.application import ConventionsApp
from domain.audit import RulesAudit
from domain.books import ConventionBooks, Totals
from domain.convention import CommandMeta
from projections.engine.decode import TrustedDecoder
from projections.engine.log import AppLog, Log, SqliteLog

PARTS = ("books", "chain", "rules", "projections")
PAGE = 5000
TOPICS = sorted(CHAINED_TOPICS)


@dataclass
class Found:
    """One finding, with where it is: the part that found it, the convention, the version."""

    part: str
    code: str
    message: str
    id: str | None = None
    number: str | None = None
    version: int | None = None


@dataclass
class Coverage:
    """From which version a convention's chain covers it (None: not covered at all)."""

    id: str
    number: str | None
    covered_from: int | None
    anchored_at: int | None


@dataclass
class AuditReport:
    parts: tuple[str, ...]
    conventions: int = 0
    totals: Totals = field(default_factory=Totals)
    findings: list[Found] = field(default_factory=list)
    coverage: list[Coverage] = field(default_factory=list)
    differences: list[dict[str, Any]] = field(default_factory=list)
    seconds: dict[str, float] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return not self.findings and not self.differences

    def merge(self, other: AuditReport) -> None:
        self.conventions += other.conventions
        self.totals.add(other.totals)
        self.findings += other.findings
        self.coverage += other.coverage


def run_audit(
    settings: Settings, parts: tuple[str, ...] = PARTS, *, workers: int = 1, app: ConventionsApp | None = None
) -> AuditReport:
    """The whole audit (or ``parts`` of it) of the store ``settings`` names. ``workers`` > 1 splits it
    between processes (not for the in-memory store: ``app`` is then the one to read)."""
    report = AuditReport(parts=parts)
    started = time.perf_counter()
    log_parts = tuple(p for p in parts if p != "projections")
    parallel = workers > 1 and settings.store != "memory"
    pool = multiprocessing.get_context("spawn").Pool(workers) if parallel else None
    try:
        pending_projections = None
        if "projections" in parts and pool is not None:
            pending_projections = pool.apply_async(_projections, (settings,))
        if log_parts:
            shares = max(1, workers - (1 if pending_projections else 0))
            if pool is not None and shares > 1:
                for r in pool.starmap(_log_share, [(settings, log_parts, i, shares) for i in range(shares)]):
                    report.merge(r)
            else:
                report.merge(_log_share(settings, log_parts, 0, 1, app))
            report.seconds["log"] = round(time.perf_counter() - started, 2)
        if "projections" in parts:
            diffs, seconds = pending_projections.get() if pending_projections else _projections(settings, app)
            report.differences, report.seconds["projections"] = diffs, seconds
    finally:
        if pool is not None:
            pool.close()
            pool.join()
    report.findings.sort(key=lambda f: (f.number or "", f.id or "", f.version or 0, f.part))
    report.coverage.sort(key=lambda c: (c.number or "", c.id))
    report.seconds["total"] = round(time.perf_counter() - started, 2)
    return report


def _projections(settings: Settings, app: ConventionsApp | None = None) -> tuple[list[dict[str, Any]], float]:
    started = time.perf_counter()
    runner = build_projections(settings, app)
    diffs = [d.__dict__ for d in runner.verify()]
    return diffs, round(time.perf_counter() - started, 2)


class _Convention:
    """What the audit keeps of one convention while the log goes by."""

    __slots__ = ("books", "rules", "chain")

    def __init__(self, parts: tuple[str, ...]) -> None:
        self.books = ConventionBooks() if "books" in parts or "rules" in parts else None
        self.rules = RulesAudit() if "rules" in parts else None
        self.chain = StreamChain() if "chain" in parts else None


def _log_share(
    settings: Settings, parts: tuple[str, ...], share: int, shares: int, app: ConventionsApp | None = None
) -> AuditReport:
    """The conventions of share ``share`` (of ``shares``, by a checksum of their id) checked from one
    read of the log."""
    app = app or build_app(settings)
    mapper = app.stored_mapper()
    decode = TrustedDecoder(mapper)
    seen: dict[Any, _Convention] = {}
    unreadable: list[Found] = []
    for _, oid, version, topic, data in _rows(_log(settings, app)):
        if shares > 1 and zlib.crc32(str(oid).encode()) % shares != share:
            continue
        conv = seen.get(oid)
        if conv is None:
            conv = seen[oid] = _Convention(parts)
        try:
            if conv.chain is not None:
                conv.chain.add(version, topic, oid, mapper.stored_state(data))  # type: ignore[attr-defined]
            if conv.books is not None:
                event = decode(oid, version, topic, data)
                conv.books.add(event)
                if conv.rules is not None:
                    conv.rules.add(event)
        except Exception as error:  # noqa: BLE001 - an unreadable event is a finding, not the end of the audit
            unreadable.append(Found("log", "unreadable", f"Événement illisible ({type(error).__name__}).",
                                    _uuid_text(oid), None, version))  # fmt: skip
    report = AuditReport(parts=parts, findings=unreadable)
    for oid, conv in seen.items():
        _finish(report, _uuid_text(oid), conv)
    return report


def _finish(report: AuditReport, cid: str, conv: _Convention) -> None:
    books = conv.books
    replayed = books.conv if books is not None else None
    number = replayed.number if replayed is not None else None
    report.conventions += 1
    found: list[Found] = []
    if books is not None:
        report.totals.add(books.totals)
        if "books" in report.parts:
            found += [Found("books", f.code, f.message, cid, number, f.version) for f in books.findings]
        if conv.rules is not None and replayed is not None:
            found += [Found("rules", f.code, f.message, cid, number, f.version) for f in conv.rules.finish(replayed)]
    if conv.chain is not None:
        chain = conv.chain
        found += [Found("chain", f.code, f.message, cid, number, f.version) for f in chain.findings]
        report.coverage.append(Coverage(cid, number, chain.covered_from, chain.anchored))
        if chain.covered_from is None:
            found.append(Found("chain", "chain_not_covered", "Historique écrit avant la chaîne d'intégrité et pas "
                               "encore ancré : lancer « conventions chain anchor ».", cid, number, None))  # fmt: skip
    report.findings += found


def _rows(log: Log) -> Iterator[tuple[int, Any, int, str, bytes]]:
    start, head = 1, log.head()
    while start <= head:
        rows = log.read(start, PAGE, head, TOPICS)
        if not rows:
            return
        yield from rows
        start = rows[-1][0] + 1


def _log(settings: Settings, app: ConventionsApp) -> Log:
    """The SQLite events file read directly (the projections' fast reader), else through the app."""
    if settings.store == "sqlite":
        return SqliteLog(str(settings.events_sqlite_path()))
    return AppLog(app)


def _uuid_text(oid: Any) -> str:
    return str(oid if isinstance(oid, UUID) else UUID(oid))


# ---------------------------------------------------------------------------------------- the upgrade
def anchor_chains(
    app: ConventionsApp, meta: CommandMeta, settings: Settings, progress: Callable[[int], None] | None = None
) -> dict[str, int]:
    """Anchor every convention whose latest stored event has no link (a history written before the
    chain): a ``ChainAnchored`` event records the hash of its history so far, and is itself chained
    to it. Idempotent: a convention already covered is left alone. Returns the counts."""
    mapper = app.stored_mapper()
    heads: dict[Any, tuple[StreamChain, bool]] = {}
    for _, oid, version, topic, data in _rows(_log(settings, app)):
        state = mapper.stored_state(data)  # type: ignore[attr-defined]
        linked = ev.CHAIN_KEY in state
        chain = heads[oid][0] if oid in heads else StreamChain()
        chain.add(version, topic, oid, state)
        heads[oid] = (chain, linked)
    todo = [(oid, chain) for oid, (chain, linked) in heads.items() if not linked]
    now, today = datetime.now(UTC), app.clock()
    anchored = 0
    for i in range(0, len(todo), 500):
        batch = [
            ev.ChainAnchored(
                originator_id=oid if isinstance(oid, UUID) else UUID(oid),
                originator_version=chain.version + 1,
                timestamp=now,
                effective_date=today,
                actor=meta.actor,
                reason=meta.reason or "ancrage de la chaîne",
                command_id=meta.command_id,
                history_hash=chain.head,
                versions=chain.version,
            )  # fmt: skip
            for oid, chain in todo[i : i + 500]
        ]
        anchored += _save_anchors(app, batch)
        if progress:
            progress(len(batch))
    return {"conventions": len(heads), "anchored": anchored, "already_covered": len(heads) - len(todo)}


def _save_anchors(app: ConventionsApp, batch: list[ev.ChainAnchored]) -> int:
    """Save a batch in one transaction; when a convention changed meanwhile (its new event chained
    itself to the history), each is saved alone and the ones that changed are left as they are."""
    from eventsourcing.persistence import IntegrityError

    try:
        app.save(*batch)
        return len(batch)
    except IntegrityError:
        saved = 0
        for e in batch:
            try:
                app.save(e)
                saved += 1
            except IntegrityError:
                continue
        return saved
