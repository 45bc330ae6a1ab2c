"""Benchmark (not a test): a nightly run over a 100 000-convention portfolio, 0.1 % / 1 % / 10 % due.

Measures the scheduler's own work (catching the read models up, asking the calendar read model
what is due, counting what was recorded) apart from the commands it records (``record_due``),
and shows that it grows with what is due, not with the portfolio.

How the portfolio is built: the K conventions that have something due tonight are real (signed
through the app, ticked up to yesterday, projected); the other 100 000 - K exist only as rows of
the calendar read model, inserted directly with a next due date in the coming six months (building
100 000 conventions through the app would take minutes and change nothing to what is measured:
the scheduler only ever touches the rows the index says are due).

    .venv/bin/python bench/scheduler.py                 # SQLite, 100 000 conventions
    .venv/bin/python bench/scheduler.py --store postgres # a fresh schema in database "test"
    .venv/bin/python bench/scheduler.py --total 20000    # quicker
"""

# ruff: noqa: E402 - the sys.path fix below must run before the imports
from __future__ import annotations

import sys
from pathlib import Path

# Run as a script, bench/ comes first on sys.path, where scheduler.py (this file) and
# projections.py would shadow the packages of the same names.
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != Path(__file__).resolve().parent]

import argparse
import platform
import random
import statistics
import tempfile
import time
import uuid
from datetime import date, timedelta

from dateutil.relativedelta import relativedelta

from adapters.composition import build_app, build_projections
from adapters.settings import Settings
from adapters.simulation import rpps_for
from domain.convention import CommandMeta
from projections.calendar import CONVENTIONS, Calendar, conventions_due
from scheduler.jobs import NightlyJob

TODAY = date(2026, 6, 15)
META = CommandMeta(actor="bench", reason="bench")


def settings_for(store: str, root: Path) -> tuple[Settings, str | None]:
    if store == "sqlite":
        return Settings(store="sqlite", data_dir=root), None
    import psycopg

    schema = f"bench_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(host="127.0.0.1", user="postgres", dbname="test", autocommit=True) as conn:
        conn.execute(f"CREATE SCHEMA {schema}")
    return Settings(store="postgres", postgres_dbname="test", postgres_schema=schema, data_dir=root), schema


def drop_schema(schema: str | None) -> None:
    if schema:
        import psycopg

        with psycopg.connect(host="127.0.0.1", user="postgres", dbname="test", autocommit=True) as conn:
            conn.execute(f"DROP SCHEMA {schema} CASCADE")


def build(settings: Settings, total: int, due: int) -> tuple[object, object, float]:
    """K real conventions due tonight (review 1 falls due today), the rest as calendar rows."""
    app = build_app(settings)
    rng = random.Random(due)
    effective = TODAY - relativedelta(months=6)
    t = time.perf_counter()
    ids = []
    for i in range(due):
        ids.append(uuid.UUID(app.sign(
            META, number=f"B-{i:06d}", cpam_code=rng.choice(["281", "751", "691", "131", "330", "590"]),
            rpps=rpps_for(rng), doctor_name="Bench", specialty="general_practice", sector=1, optam=False,
            ccam_share=None, newly_installed=False, option="FULL", percentile=50, initial_patients=1000,
            target_patients=1200, signed_on=effective, effective_from=effective,
        )["id"]))  # fmt: skip
        app.record_due(ids[-1], META, today=TODAY - timedelta(days=1))
    runner = build_projections(settings, app)
    runner.catch_up()
    with runner.store.transaction() as tx:
        runner.store.resolve(tx, Calendar.name, Calendar.tables)
        rows = [
            (str(uuid.UUID(int=rng.getrandbits(128))), f"X-{i:06d}", "751", "active",
             (TODAY + timedelta(days=rng.randint(1, 180))).isoformat(), 0, "{}")
            for i in range(total - due)
        ]  # fmt: skip
        tx.upsert(CONVENTIONS, rows)
    return app, runner, time.perf_counter() - t


def measure(store: str, total: int, share: float) -> dict[str, float]:
    due = max(1, round(total * share))
    with tempfile.TemporaryDirectory() as root:
        settings, schema = settings_for(store, Path(root))
        try:
            app, runner, built = build(settings, total, due)
            finds = []
            for _ in range(5):
                t = time.perf_counter()
                found = conventions_due(runner.store, TODAY)  # type: ignore[attr-defined]
                finds.append(time.perf_counter() - t)
            assert len(found) == due, (len(found), due)
            job = NightlyJob(app, lambda d: conventions_due(runner.store, d), runner.catch_up)  # type: ignore[arg-type,attr-defined]
            report = job(TODAY)
            assert report.conventions == due and report.events == due, report.as_dict()
            again = job(TODAY)
            assert again.events == 0
        finally:
            drop_schema(schema)
    return {
        "due": due, "built_s": built, "find_s": statistics.median(finds), "catch_up_s": report.seconds_catch_up,
        "record_s": report.seconds_record, "scheduler_s": report.seconds_scheduler, "total_s": report.seconds_total,
        "again_s": again.seconds_total,
    }  # fmt: skip


def machine() -> str:
    import os

    cpu = next((line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                if line.startswith("model name")), platform.processor())  # fmt: skip
    ram = int(Path("/proc/meminfo").read_text().split()[1]) // 1024 // 1024
    return f"{os.cpu_count()} cores, {ram} GiB RAM, {cpu}, Python {platform.python_version()}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--store", choices=["sqlite", "postgres"], default="sqlite")
    parser.add_argument("--total", type=int, default=100_000)
    parser.add_argument("--shares", default="0.001,0.01,0.1")
    args = parser.parse_args()
    print(f"# scheduler benchmark, {date.today()}, {machine()}")
    print(f"# store {args.store}, portfolio {args.total} conventions, nightly run of {TODAY}")
    head = (
        f"{'due':>7} {'share':>6} | {'find (ms)':>9} {'catch-up (ms)':>13} {'scheduler (ms)':>14} "
        f"{'record (s)':>10} {'total (s)':>9} | {'due/s recorded':>14} {'sched. µs/due':>13} {'rerun (ms)':>10}"
    )
    print(head)
    print("-" * len(head))
    for share in (float(s) for s in args.shares.split(",")):
        r = measure(args.store, args.total, share)
        print(
            f"{r['due']:>7} {share:>6.1%} | {r['find_s'] * 1e3:>9.1f} {r['catch_up_s'] * 1e3:>13.1f} "
            f"{r['scheduler_s'] * 1e3:>14.1f} {r['record_s']:>10.2f} {r['total_s']:>9.2f} | "
            f"{r['due'] / r['record_s']:>14.0f} {r['scheduler_s'] / r['due'] * 1e6:>13.0f} {r['again_s'] * 1e3:>10.1f}",
            flush=True,
        )
    print(
        "# find: conventions_due over the calendar table (median of 5); catch-up: the read models before and "
        "after the run (the 'after' applies what the run recorded); scheduler = total - record."
    )


if __name__ == "__main__":
    main()
