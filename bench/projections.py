"""Benchmark (not a test): rebuild of every read model against reading the log with the library alone.

    .venv/bin/python bench/projections.py                      # 20 000 conventions, >= 1 000 000 events
    .venv/bin/python bench/projections.py --conventions 2000   # smaller
    .venv/bin/python bench/projections.py --data-dir /tmp/b --keep   # reuse a generated portfolio

1. Generates a portfolio on SQLite with the application's own aggregate and ``save()``: signature, hire,
   then year after year (all conventions at each step, saved 200 at a time so that conventions
   interleave in the log): what fell due, payments, reviews held, attainments and balances, a few
   suspensions and terminations. Runs in a child process so its memory is not counted.
2. In a fresh child process, measures (a) reading the whole notification log as domain events with
   ``recorder.select_notifications`` + ``mapper.to_domain_event`` and (b) ``Runner.rebuild()`` of
   every read model (``--repeat`` times, a read after each), and prints both rates, their ratio (the
   fastest of each, and of the means) and the peak memory (ru_maxrss).
"""

from __future__ import annotations

import argparse
import gc
import json
import random
import resource
import subprocess
import sys
import tempfile
import threading
import time
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path

from stdnum import luhn

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from adapters.composition import build_app, build_projections  # noqa: E402
from adapters.settings import Settings  # noqa: E402
from domain.convention import CommandMeta, Convention  # noqa: E402
from domain.values import Option, Profile, SuspensionGround, TerminatedBy  # noqa: E402

META = CommandMeta(actor="bench", reason="portefeuille simulé", command_id="bench")
UNTIL = date(2026, 12, 31)


CIPHER_KEY: str | None = None  # --cipher-key: events encrypted, read models sealed (docs/privacy.md)


def bench_settings(data_dir: Path) -> Settings:
    return Settings(store="sqlite", data_dir=data_dir, cipher_key=CIPHER_KEY)


def rpps(n: int) -> str:
    body = f"2{n:09d}"
    return body + luhn.calc_check_digit(body)


def generate(data_dir: Path, conventions: int, events: int, seed: int = 7) -> int:
    """Build the portfolio; effective dates are spread so the log reaches about ``events``."""
    rng = random.Random(seed)
    app = build_app(bench_settings(data_dir), clock=lambda: UNTIL)
    per_conv = events / conventions
    years = (per_conv - 2) / 8.5  # about 8.5 events per contract year, 2 at signature
    first = date(2019, 1, 1)  # effective dates uniform from here, so the mean age is ``years``
    longest = (UNTIL - first).days
    span = int(min(longest, max(60, 2 * (longest - 365.25 * years))))
    convs: list[Convention] = []
    for n in range(conventions):
        eff = first + timedelta(days=rng.randrange(span))
        option = rng.choice([Option.HALF, Option.FULL, Option.FULL])
        conv = Convention.sign(
            META, number=f"N{n:06d}", cpam_code=rng.choice(["281", "751", "130", "692", "593", "331"]),
            rpps=rpps(n), doctor_name=f"Docteur {n}", specialty="general_practice", sector=1, optam=False,
            ccam_share=None, newly_installed=False, option=option, percentile=rng.choice([40, 60, 80, 91, 96]),
            initial_patients=900, target_patients=1100, signed_on=eff, effective_from=eff,
        )  # fmt: skip
        if rng.random() < 0.97:
            conv.hire(META, hired_on=eff + timedelta(days=rng.randrange(60)), fte=Decimal(1), profile=Profile.NURSE)
        convs.append(conv)
    _save(app, convs)
    total = len(convs) * (2 - 0.03)
    step = 0
    while True:
        touched = []
        for conv in convs:
            if conv.status.value == "terminated":
                continue
            start = conv.year_start(step + 1)
            if start is None or start > UNTIL:
                continue
            _year_step(conv, step + 1, start, rng)
            touched.append(conv)
        if not touched:
            break
        before = sum(len(c.pending_events) for c in touched)
        _save(app, touched)
        total += before
        step += 1
        print(f"  step {step}: {before} events ({len(touched)} conventions), log ~{int(total)}", file=sys.stderr)
    return app.recorder.max_notification_id() or 0


def _year_step(conv: Convention, n: int, start: date, rng: random.Random) -> None:
    """Contract year n: what fell due, payments, reviews held, the attainment of the year before."""
    today = min(start + timedelta(days=45), UNTIL)
    conv.record_due(META, today=today)
    if n > 3 and n - 1 not in conv.attainments and (end := conv.anniversary(n - 1)) and end <= today:
        conv.record_attainment(META, year=n - 1, observed_patients=rng.randrange(850, 1200), on=today)
        conv.record_due(META, today=today)
    for inst in list(conv.instalments.values()):
        if inst.status == "due" and inst.fell_due_on <= today:
            # not before it fell due (R19 review fixes), nor after its due date when possible
            paid_on = max(min(inst.due_date, today), inst.fell_due_on, conv.signed_on)
            conv.record_payment(
                META, instalment=inst.instalment_id, paid_on=paid_on, reference=f"VIR-{rng.randrange(10**8)}"
            )
    for due, review in sorted(conv.reviews.items()):
        if review.held_on is None and review.k is not None and rng.random() < 0.9:
            conv.hold_review(META, held_on=due + timedelta(days=rng.randrange(50)))
    r = rng.random()
    if r < 0.03 and conv.status.value == "active":
        conv.suspend(META, from_date=today + timedelta(days=10), ground=SuspensionGround.LONG_ABSENCE,
                     agreement_date=today + timedelta(days=12))  # fmt: skip
        conv.reactivate(META, from_date=today + timedelta(days=10 + rng.randrange(90, 200)))
    elif r < 0.04 and n >= 2:
        # not before a review already held (R22 refuses a termination dated before a recorded fact)
        held = max((rv.held_on for rv in conv.reviews.values() if rv.held_on is not None), default=today)
        on = max(today, held) + timedelta(days=30)
        conv.terminate(META, on=on, by=TerminatedBy.CPAM, ground="déménagement")


def _save(app, convs: list[Convention]) -> None:  # noqa: ANN001
    for i in range(0, len(convs), 200):
        chunk = [c for c in convs[i : i + 200] if c.pending_events]
        if chunk:
            app.save(*chunk)


def read_log(app) -> tuple[int, float, float]:  # noqa: ANN001
    """(a) The library alone: every notification as a domain event. Returns (events, wall s, CPU s)."""
    t0, c0 = time.perf_counter(), time.process_time()
    count, start = 0, 1
    while True:
        rows = app.recorder.select_notifications(start, 1000)
        for n in rows:
            app.mapper.to_domain_event(n)
        count += len(rows)
        if len(rows) < 1000:
            break
        start = rows[-1].id + 1
    return count, time.perf_counter() - t0, time.process_time() - c0


def measure(data_dir: Path, batch_size: int, profile: bool, repeat: int = 2) -> dict[str, float]:
    """(a), then (b) and (a) again, ``repeat`` times. This machine's speed changes from minute to
    minute (a shared host: the same read has taken 24 s and 35 s), and noise only ever slows a run
    down, so the ratio compares the fastest read with the fastest rebuild (as ``timeit`` does); every
    run's figures are printed too, and the ratio of the means."""
    settings = bench_settings(data_dir)
    app = build_app(settings)
    rss0 = _rss_mb()
    reads = [read_log(app)]
    count = reads[0][0]
    rss_read = _rss_mb()
    rebuilds: list[tuple[float, float]] = []
    for _ in range(repeat):
        # (b) rebuild every read model into a fresh projection database.
        for suffix in ("", "-wal", "-shm"):
            Path(f"{settings.projections_sqlite_path()}{suffix}").unlink(missing_ok=True)
        runner = build_projections(settings, app=app, batch_size=batch_size)
        t0, c0 = time.perf_counter(), time.process_time()
        if profile:
            import cProfile
            import pstats

            with cProfile.Profile() as prof:
                runner.rebuild()
            pstats.Stats(prof).sort_stats("cumulative").print_stats(40)
        else:
            runner.rebuild()
        rebuilds.append((time.perf_counter() - t0, time.process_time() - c0))
        runner.store.close()
        timings = runner.timings
        del runner  # its read models' state would slow the next read's garbage collections
        gc.collect()
        reads.append(read_log(app))
    rss_rebuild = _rss_mb()
    read_s, read_c = min(r[1] for r in reads), min(r[2] for r in reads)
    rebuild_s, rebuild_c = min(r[0] for r in rebuilds), min(r[1] for r in rebuilds)
    mean_read = sum(r[1] for r in reads) / len(reads)
    mean_rebuild = sum(r[0] for r in rebuilds) / len(rebuilds)
    latency = follow_latency(settings, app, batch_size)
    size_mb = settings.projections_sqlite_path().stat().st_size / 1e6
    return {
        "events": count, "conventions": sum(1 for _ in app.convention_ids()),
        "read_seconds": [round(r[1], 2) for r in reads], "read_events_per_s": round(count / read_s),
        "rebuild_seconds": [round(r[0], 2) for r in rebuilds], "rebuild_events_per_s": round(count / rebuild_s),
        "ratio": round(read_s / rebuild_s, 3), "ratio_of_means": round(mean_read / mean_rebuild, 3),
        "batch_size": batch_size,
        "read_cpu_seconds": [round(r[2], 2) for r in reads], "rebuild_cpu_seconds": [round(r[1], 2) for r in rebuilds],
        "ratio_cpu": round(read_c / rebuild_c, 3),
        "peak_rss_mb_start": round(rss0, 1), "peak_rss_mb_after_read": round(rss_read, 1),
        "peak_rss_mb_after_rebuild": round(rss_rebuild, 1), "projection_db_mb": round(size_mb, 1),
        "rebuild_us_per_event_last_run": {k: round(v / count * 1e6, 2) for k, v in sorted(timings.items())},
        "follow_latency_ms": latency,
    }  # fmt: skip


def follow_latency(settings: Settings, app, batch_size: int, samples: int = 10) -> dict[str, float]:  # noqa: ANN001
    """(c) With ``project --follow``'s loop running (poll 0.2 s), how long until a new convention is listed."""
    from adapters.composition import build_projection_store
    from projections.conventions_list import search

    follower = build_projections(settings, app=build_app(settings), batch_size=batch_size)
    follower.catch_up()
    stop = threading.Event()
    thread = threading.Thread(target=follower.follow, kwargs={"poll": 0.2, "stop": stop.is_set})
    thread.start()
    reader = build_projection_store(settings)
    delays = []
    run = random.randrange(10**6)  # fresh numbers each run: the benchmark may reuse its data directory
    try:
        for k in range(samples):
            day = date(2026, 1, 1) + timedelta(days=k)
            conv = Convention.sign(
                META, number=f"F{run:06d}-{k}", cpam_code="281", rpps=rpps(900_000_000 + k), doctor_name=f"Suivi {k}",
                specialty="general_practice", sector=1, optam=False, ccam_share=None, newly_installed=False,
                option=Option.FULL, percentile=50, initial_patients=900, target_patients=1100, signed_on=day,
                effective_from=day,
            )  # fmt: skip
            app.save(conv)
            written = time.perf_counter()
            while search(reader, number=f"F{run:06d}-{k}")["total"] == 0:
                time.sleep(0.002)
            delays.append(time.perf_counter() - written)
            time.sleep(0.05)
    finally:
        stop.set()
        thread.join()
    delays.sort()
    return {"median": round(delays[len(delays) // 2] * 1000, 1), "max": round(delays[-1] * 1000, 1)}


def _rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # kB on Linux


def portfolio_arguments(doc: str | None) -> argparse.ArgumentParser:
    """The options that say which generated portfolio to use (this benchmark's and bench/web.py's)."""
    parser = argparse.ArgumentParser(description=doc, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--conventions", type=int, default=20_000)
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--data-dir", type=Path)
    parser.add_argument("--keep", action="store_true", help="Reuse the events file if it exists.")
    return parser


def main() -> None:
    parser = portfolio_arguments(__doc__)
    parser.add_argument("--batch-size", type=int, default=500)
    parser.add_argument("--repeat", type=int, default=2, help="Rebuilds (each followed by a read of the log).")
    parser.add_argument("--profile", action="store_true")
    parser.add_argument("--phase", choices=["all", "generate", "measure"], default="all")
    parser.add_argument("--cipher-key", help="CONVENTIONS_CIPHER_KEY for both phases (a portfolio generated with it)")
    args = parser.parse_args()
    global CIPHER_KEY  # noqa: PLW0603 - the benchmark's one setting shared by its functions
    CIPHER_KEY = args.cipher_key
    data_dir = args.data_dir or Path(tempfile.mkdtemp(prefix="bench-projections-"))
    if args.phase == "generate":
        t0 = time.perf_counter()
        n = generate(data_dir, args.conventions, args.events)
        print(json.dumps({"generated_events": n, "seconds": round(time.perf_counter() - t0, 1)}))
        return
    if args.phase == "measure":
        print(json.dumps(measure(data_dir, args.batch_size, args.profile, args.repeat)))
        return
    me = [sys.executable, str(Path(__file__).resolve()), "--data-dir", str(data_dir)]
    if args.cipher_key:
        me += ["--cipher-key", args.cipher_key]
    events_file = bench_settings(data_dir).events_sqlite_path()
    if not (args.keep and events_file.exists()):
        events_file.unlink(missing_ok=True)
        print(f"Generating {args.conventions} conventions in {data_dir} ...", file=sys.stderr)
        cmd = [*me, "--phase", "generate", "--conventions", str(args.conventions), "--events", str(args.events)]
        out = subprocess.run(cmd, check=True, stdout=subprocess.PIPE)
        print(out.stdout.decode().strip(), file=sys.stderr)
    extra = ["--profile"] if args.profile else []
    out = subprocess.run([*me, "--phase", "measure", "--batch-size", str(args.batch_size), "--repeat", str(args.repeat),
                          *extra],
                         check=True, stdout=subprocess.PIPE)  # fmt: skip
    lines = out.stdout.decode().strip().splitlines()
    if args.profile:
        print("\n".join(lines[:-1]))
    result = json.loads(lines[-1])
    print(json.dumps(result, indent=2))
    print(
        f"\nread log (library alone): {result['read_events_per_s']:,} events/s; "
        f"rebuild of every read model: {result['rebuild_events_per_s']:,} events/s; "
        f"ratio {result['ratio']:.2f} (fastest of each; of the means: {result['ratio_of_means']:.2f}; CPU time: "
        f"{result['ratio_cpu']:.2f}, the rebuild writing in a second thread; target >= 0.5); "
        f"peak RSS {result['peak_rss_mb_after_rebuild']} MB "
        f"({result['events']:,} events, {result['conventions']:,} conventions); new event visible while "
        f"following in {result['follow_latency_ms']['median']} ms (median), {result['follow_latency_ms']['max']} ms max"
    )


if __name__ == "__main__":
    main()
