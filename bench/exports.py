"""Benchmark (not a test): the finance exports (``conventions export``) of each kind in CSV and XLSX.

    .venv/bin/python bench/exports.py --data-dir /work/bench20k/data          # a generated portfolio
    .venv/bin/python bench/exports.py --data-dir DIR --in-place --repeat 3    # DIR is yours to write

The data directory is copied to a temporary one first (catching up the read models writes
``projections.sqlite`` beside the events), unless ``--in-place``. The read models are caught up
once (timed apart), then each export is written ``--repeat`` times to a file; the fastest and the
mean time, the rows and the file size are printed per kind and format. Exports read the read
models, not the log: the catch-up is what a first export after many events costs on top.
"""

from __future__ import annotations

import argparse
import resource
import shutil
import statistics
import sys
import tempfile
import time
from datetime import date
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from adapters.composition import build_projections  # noqa: E402
from adapters.exports.sheets import KINDS, build  # noqa: E402
from adapters.exports.writers import FORMATS, write_file  # noqa: E402
from adapters.settings import Settings  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", type=Path, required=True, help="a data directory with events.sqlite")
    parser.add_argument("--in-place", action="store_true", help="write projections into --data-dir itself")
    parser.add_argument("--repeat", type=int, default=2)
    parser.add_argument("--today", type=date.fromisoformat, default=date(2026, 12, 31), help="the work queue's day")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-exports-") as tmp:
        data = args.data_dir
        if not args.in_place:
            started = time.perf_counter()
            data = Path(tmp) / "data"
            shutil.copytree(args.data_dir, data)
            print(f"copied {args.data_dir} in {time.perf_counter() - started:.1f} s", flush=True)
        run(data, Path(tmp), args.repeat, args.today)


def run(data: Path, out_dir: Path, repeat: int, today: date) -> None:
    runner = build_projections(Settings(store="sqlite", data_dir=data))
    started = time.perf_counter()
    applied = runner.catch_up()
    print(f"catch-up: {applied} events applied in {time.perf_counter() - started:.1f} s", flush=True)
    print(f"{'kind':12} {'format':6} {'rows':>8} {'size (MB)':>9} {'best (s)':>9} {'mean (s)':>9} {'rows/s':>8}")
    for kind in KINDS:
        for fmt in FORMATS:
            out = out_dir / f"{kind}.{fmt}"
            times, rows = [], 0
            for _ in range(repeat):
                started = time.perf_counter()
                sheet = build(kind, runner.store, today=today)
                rows = write_file(sheet, fmt, out)
                times.append(time.perf_counter() - started)
            best = min(times)
            print(
                f"{kind:12} {fmt:6} {rows:>8} {out.stat().st_size / 1e6:>9.1f} {best:>9.2f} "
                f"{statistics.mean(times):>9.2f} {rows / best:>8.0f}",
                flush=True,
            )
    print(f"peak memory (ru_maxrss): {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MB")


if __name__ == "__main__":
    main()
