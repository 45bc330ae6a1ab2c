"""Benchmark (not a test): ``conventions import`` of N generated rows into a fresh SQLite data dir.

The rows are realistic (``adapters.importer.sample``: signature, hire, training, some suspensions,
attainments from year 3, every instalment fallen due paid), generated before the clock starts.
The import is timed as a whole and per phase (form, rules, store), through ``import_file``, the
function the CLI calls (no progress bar), with each number of worker processes asked for, each
into its own fresh data dir (``--workers 1 2``: one process, then two; default: 1 and 2).

    .venv/bin/python bench/import.py                        # 10 000 rows, 1 then 2 workers
    .venv/bin/python bench/import.py --rows 2000 --workers 2
    .venv/bin/python bench/import.py --csv /tmp/rows.csv    # the generated file kept for the next run
"""

# ruff: noqa: E402 - the sys.path fix below must run before the imports
from __future__ import annotations

import sys
from pathlib import Path

sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != Path(__file__).resolve().parent]

import argparse
import csv
import os
import platform
import resource
import tempfile
import time
from datetime import date

from adapters.composition import build_app
from adapters.importer import run as importer
from adapters.importer import sample
from adapters.settings import Settings

TODAY = date(2026, 11, 30)


class Phases(importer.Progress):
    """Times each phase of the import."""

    def __init__(self) -> None:
        self.marks: list[tuple[str, float]] = []

    def phase(self, name: str, total: int) -> None:
        self.marks.append((name, time.perf_counter()))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=10_000)
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--csv", type=Path, help="the generated rows: read when it exists, else written there")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        path = args.csv or Path(tmp) / "conventions.csv"
        if not path.exists():
            write_rows(path, args.rows)
        print(f"python {platform.python_version()}, {os.cpu_count()} cores, {path}")
        for n, workers in enumerate(args.workers):
            run(path, Path(tmp) / f"data{n}", workers, args.rows)


def write_rows(path: Path, n: int) -> None:
    generating = build_app(Settings(store="memory"), clock=lambda: TODAY)
    rows = sample.generate(n, TODAY, seed=7, app=generating)
    with path.open("w", encoding="utf-8", newline="") as f:
        writer = csv.writer(f, delimiter=";")
        writer.writerow(sample.header())
        writer.writerows([[r[h] for h in sample.header()] for r in rows])


def run(path: Path, data: Path, workers: int, rows: int) -> None:
    """One import into a fresh data dir, timed, with the load average before and after."""
    settings = Settings(data_dir=data)
    app = build_app(settings, clock=lambda: TODAY)
    phases = Phases()
    load = os.getloadavg()[0]
    cpu = _cpu()
    start = time.perf_counter()
    report = importer.import_file(
        app, path, actor="import:bench", progress=phases, workers=workers,
        open_app=lambda: build_app(settings, clock=lambda: TODAY),
    )  # fmt: skip
    end = time.perf_counter()
    assert not report.errors and len(report.imported) == rows, report.errors[:3]
    total, events, cpu = end - start, app.head(), _cpu() - cpu
    print(f"{workers} worker(s), load {load:.1f} -> {os.getloadavg()[0]:.1f}: {rows} rows, {events} events stored "
          f"(receipts included) in {total:.1f} s: {rows / total:.0f} rows/s")  # fmt: skip
    print(f"  CPU (workers included): {cpu:.1f} s")
    marks = [*phases.marks, ("end", end)]
    for (name, t0), (_, t1) in zip(marks, marks[1:], strict=False):
        print(f"  {name:<26} {t1 - t0:6.1f} s")


def _cpu() -> float:
    """CPU seconds of this process and of its ended children (the workers, once joined)."""
    own, children = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


if __name__ == "__main__":
    main()
