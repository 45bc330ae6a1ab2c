"""A command's latency against its convention's history length, with and without snapshots
(docs/benchmarks.md): prints figures, asserts nothing.

    python bench/history_length.py [--stores sqlite,postgres] [--lengths 10,100,1000] [--interval 20]
                                   [--conventions 30] [--rounds 6] [--stagger 20]

For each store and each mode (snapshots off, then every ``--interval`` versions), a fresh store holds,
for each length L, ``--conventions`` conventions: signed, a nurse hired, up to six years ticked (L >= 100),
then amendments (``ObjectiveSet``) up to L + (k mod ``--stagger``) events for the k-th, so the commands
timed fall at every distance from the last snapshot. The command timed is ``set_objective`` through
``ConventionsApp.handle`` (receipt check, load, decide, save with its receipt, snapshot when due), once
per convention per round, the lengths interleaved so that the machine's load weighs on all alike.
PostgreSQL: 127.0.0.1:5432 ``test``, a fresh schema, dropped at the end.
"""

# ruff: noqa: E402 - the sys.path fix below must run before the imports
from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date
from decimal import Decimal
from pathlib import Path
from uuid import UUID

# Run as a script, bench/ comes first on sys.path, where projections.py would shadow the package.
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != Path(__file__).resolve().parent]

from stdnum import luhn

from adapters.composition import build_app
from adapters.settings import Settings
from domain.application import ConventionsApp
from domain.convention import CommandMeta

TODAY = date(2031, 1, 1)
META = CommandMeta(actor="bench", reason="amendment", today=TODAY)
PG = {"host": "127.0.0.1", "port": 5432, "user": "postgres", "dbname": "test"}


def _rpps(n: int) -> str:
    body = f"1{n:09d}"
    return body + luhn.calc_check_digit(body)


@contextmanager
def _store(kind: str, interval: int) -> Iterator[Settings]:
    """A fresh store: a temporary SQLite directory, or a PostgreSQL schema dropped afterwards."""
    if kind == "sqlite":
        with tempfile.TemporaryDirectory(prefix="bench-history-") as tmp:
            yield Settings(store="sqlite", data_dir=Path(tmp), snapshot_interval=interval)
        return
    import psycopg

    schema = f"bench_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(autocommit=True, **PG) as con:
        con.execute(f"CREATE SCHEMA {schema}")
    try:
        yield Settings(store="postgres", postgres_host=PG["host"], postgres_port=PG["port"],
                       postgres_user=PG["user"], postgres_dbname=PG["dbname"], postgres_schema=schema,
                       postgres_pool_size=1, snapshot_interval=interval)  # fmt: skip
    finally:
        with psycopg.connect(autocommit=True, **PG) as con:
            con.execute(f"DROP SCHEMA {schema} CASCADE")


def _convention(app: ConventionsApp, k: int, events: int) -> UUID:
    """A convention of exactly ``events`` events (the filler saved in one transaction, not timed)."""
    terms = {
        "number": f"H-{events}-{k}", "cpam_code": "281", "rpps": _rpps(events * 1000 + k), "doctor_name": "Bench",
        "specialty": "general_practice", "sector": 1, "optam": False, "ccam_share": None, "newly_installed": False,
        "option": "FULL", "percentile": 50, "initial_patients": 1000, "target_patients": 1200,
        "signed_on": date(2025, 2, 1), "effective_from": date(2025, 3, 1),
    }  # fmt: skip
    cid = UUID(app.sign(META, **terms)["id"])
    app.hire(cid, META, hired_on=date(2025, 3, 1), fte=Decimal(1), profile="nurse")
    if events >= 100:
        app.record_due(cid, META, today=date(2030, 12, 31))
    conv = app.repository.get(cid)
    for i in range(events - conv.version):
        conv.set_objective(META, from_year=9, target_patients=1000 + i, on=date(2030, 12, 31))
    app.save(conv)
    assert app.repository.get(cid).version == events, (cid, events)
    return cid


def _time(app: ConventionsApp, ids: dict[int, list[UUID]], rounds: int) -> dict[int, list[float]]:
    """Milliseconds per command by history length: ``rounds`` commands on each convention, the lengths
    interleaved (one convention of each in turn) so that the machine's load weighs on all alike."""
    samples: dict[int, list[float]] = {length: [] for length in ids}
    for r in range(rounds):
        for batch in zip(*ids.values(), strict=True):
            for length, cid in zip(ids, batch, strict=True):
                started = time.perf_counter()
                app.set_objective(cid, META, from_year=10, target_patients=1100 + r, on=date(2030, 12, 31))
                samples[length].append((time.perf_counter() - started) * 1000)
    return samples


def _p95(samples: list[float]) -> float:
    return statistics.quantiles(samples, n=20)[-1]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--stores", default="sqlite,postgres")
    parser.add_argument("--lengths", default="10,100,1000")
    parser.add_argument("--interval", type=int, default=Settings().snapshot_interval)
    parser.add_argument("--conventions", type=int, default=30)
    parser.add_argument("--rounds", type=int, default=6)
    parser.add_argument("--stagger", type=int, default=20)
    args = parser.parse_args()
    lengths = [int(n) for n in args.lengths.split(",")]
    print(f"load average {os.getloadavg()[0]:.1f}; {args.conventions} conventions x {args.rounds} rounds per cell; "
          f"history L + (k mod {args.stagger}) events", flush=True)  # fmt: skip
    print("| store | snapshots | history (events) | median ms | p95 ms | vs shortest (median) |")
    print("|---|---|---:|---:|---:|---:|")
    for kind in args.stores.split(","):
        for interval in (0, args.interval):
            with _store(kind, interval) as settings:
                app = build_app(settings, clock=lambda: TODAY)
                ids = {n: [_convention(app, k, n + k % args.stagger) for k in range(args.conventions)] for n in lengths}
                samples = _time(app, ids, args.rounds)
                app.close()
            first = statistics.median(samples[lengths[0]])
            for length in lengths:
                median = statistics.median(samples[length])
                mode = f"every {interval}" if interval else "off"
                print(f"| {kind} | {mode} | {length}-{length + args.stagger - 1} | {median:.2f} | "
                      f"{_p95(samples[length]):.2f} | {median / first - 1:+.0%} |", flush=True)  # fmt: skip
    print(f"load average {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()
