"""Benchmark (not a test): the policy impact report (``conventions replay``) on a generated portfolio.

    .venv/bin/python bench/replay.py --data-dir /tmp/b --keep      # a portfolio bench/projections.py made
    .venv/bin/python bench/replay.py                               # generates 20 000 conventions first
    .venv/bin/python bench/replay.py --data-dir /tmp/b --keep --policy pause_clock=off --workers 1

For each scenario (default: ``modulation=steps``, then ``pause_clock=off``) it runs ``adapters.impact``
exactly as the command does, on the portfolio's last day (2026-12-31) unless ``--today`` says
otherwise, and prints the wall time, the conventions replayed and changed, the totals recorded and
under the policy, and checks that nothing was written (the log's head, the files of the data
directory). Target: under a minute on 2 cores for 20 000 conventions.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from datetime import date
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from adapters.composition import build_app  # noqa: E402
from adapters.impact import impact, money  # noqa: E402
from adapters.settings import Settings  # noqa: E402
from domain.replay_policies import parse_policies  # noqa: E402

SCENARIOS = [["modulation=steps"], ["pause_clock=off"]]


def files(data_dir: Path) -> dict[str, tuple[int, int]]:
    """Name -> (size, mtime in ns) of what the data directory holds (SQLite's -shm/-wal aside)."""
    return {p.name: (p.stat().st_size, p.stat().st_mtime_ns) for p in data_dir.iterdir()
            if not p.name.endswith(("-shm", "-wal"))}  # fmt: skip


def _cpu() -> float:
    """CPU seconds of this process and its (finished) workers: what the replay cost, however loaded the machine."""
    me, children = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return me.ru_utime + me.ru_stime + children.ru_utime + children.ru_stime


def run(data_dir: Path, policies: list[str], today: date, workers: int) -> dict[str, object]:
    settings = Settings(store="sqlite", data_dir=data_dir)
    before, head = files(data_dir), build_app(settings).head()
    load, cpu = os.getloadavg()[0], _cpu()
    started = time.perf_counter()
    result = impact(settings, parse_policies(policies), today, workers=workers)
    seconds = time.perf_counter() - started
    cpu = _cpu() - cpu
    assert build_app(settings).head() == head, "the replay wrote to the log"
    assert files(data_dir) == before, "the replay wrote to the data directory"
    return {
        "policies": policies, "workers": workers, "today": today.isoformat(), "events": head,
        "conventions": result.conventions, "replayed": result.rerun, "changed": result.changed,
        "unreplayable": len(result.unreplayable), "seconds": round(seconds, 1), "cpu_seconds": round(cpu, 1),
        "load_average_before": round(load, 2), "load_average_after": round(os.getloadavg()[0], 2),
        "conventions_per_s": round(result.conventions / seconds), "totals": {k: money(v) for k, v in
                                                                             result.totals().items()},
        "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024),
    }  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data-dir", type=Path)
    parser.add_argument("--keep", action="store_true", help="Reuse the events file if it exists.")
    parser.add_argument("--conventions", type=int, default=20_000)
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--today", type=date.fromisoformat, default=date(2026, 12, 31))
    parser.add_argument("--policy", action="append", help="A scenario of one policy (repeatable: one scenario).")
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args()
    data_dir = args.data_dir or Path(tempfile.mkdtemp(prefix="bench-replay-"))
    if not (args.keep and (data_dir / "events.sqlite").exists()):
        print(f"Generating {args.conventions} conventions in {data_dir} ...", file=sys.stderr)
        subprocess.run([sys.executable, str(ROOT / "bench" / "projections.py"), "--data-dir", str(data_dir),
                        "--phase", "generate", "--conventions", str(args.conventions), "--events", str(args.events)],
                       check=True)  # fmt: skip
    for policies in [args.policy] if args.policy else SCENARIOS:
        r = run(data_dir, policies, args.today, args.workers)
        print(json.dumps(r, indent=2))
        totals = r["totals"]
        print(
            f"\n{', '.join(policies)}: {r['conventions']:,} conventions ({r['events']:,} events) in {r['seconds']} s "
            f"with {r['workers']} worker(s) ({r['cpu_seconds']} s CPU, load average {r['load_average_before']} "
            f"before, {r['load_average_after']} after), {r['conventions_per_s']:,} conventions/s; "
            f"{r['replayed']:,} replayed, "
            f"{r['changed']:,} changed, {r['unreplayable']} not replayable; due {totals['actual']['due']} -> "
            f"{totals['replayed']['due']}, to recover {totals['actual']['to_recover']} -> "
            f"{totals['replayed']['to_recover']}; nothing written.\n",
            flush=True,
        )


if __name__ == "__main__":
    main()
