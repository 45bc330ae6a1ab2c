"""Benchmark of ``conventions verify`` on a portfolio (docs/benchmarks.md): prints figures, asserts nothing.

    python bench/verify.py --data-dir COPY_OF_A_PORTFOLIO [--anchor] [--parts books,chain,rules] [--workers 2]

Work on a copy: ``--anchor`` writes (the upgrade of a store written before the chain). Wall time and
the CPU time of this process and its workers are printed per step, with the machine's load average.
"""

# ruff: noqa: E402 - the sys.path fix below must run before the imports
from __future__ import annotations

import argparse
import os
import resource
import sys
import time
from pathlib import Path

# Run as a script, bench/ comes first on sys.path, where projections.py would shadow the package.
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != Path(__file__).resolve().parent]

from adapters.audit import anchor_chains, run_audit
from adapters.composition import build_app
from adapters.settings import Settings
from domain.convention import CommandMeta


def _cpu() -> float:
    own, children = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


def _step(label: str, fn):  # noqa: ANN001, ANN202 - a bench helper
    load, wall, cpu = os.getloadavg()[0], time.perf_counter(), _cpu()
    result = fn()
    print(f"{label}: {time.perf_counter() - wall:.1f} s wall, {_cpu() - cpu:.1f} s CPU, load {load:.1f}", flush=True)
    return result


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--data-dir", type=Path, required=True)
    parser.add_argument("--anchor", action="store_true")
    parser.add_argument("--parts", default="books,chain,rules")
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args()
    settings = Settings(store="sqlite", data_dir=args.data_dir)
    if args.anchor:
        app = build_app(settings)
        counts = _step("anchor", lambda: anchor_chains(app, CommandMeta(actor="bench"), settings))
        print(f"  {counts}")
    parts = tuple(args.parts.split(","))
    report = _step(f"verify {','.join(parts)} (workers {args.workers})",
                   lambda: run_audit(settings, parts, workers=args.workers))  # fmt: skip
    t = report.totals
    print(
        f"  {report.conventions} conventions, {t.events} events, {t.instalments} instalments, {t.payments} "
        f"payments, {len(report.findings)} findings, {len(report.differences)} differences, {report.seconds}"
    )
    print(
        f"  peak RSS {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024} MB (this process), "
        f"{resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss // 1024} MB (largest worker)"
    )


if __name__ == "__main__":
    main()
