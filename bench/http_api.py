"""HTTP API throughput and latency through a real uvicorn on 127.0.0.1 (not a test: prints figures).

Seeds N conventions (SQLite in a temporary directory, or PostgreSQL with --store postgres), serves
the API in this process (one uvicorn worker), then C client threads send, for a bounded time each:
GET /conventions/{id} (replay + view), GET /conventions (list read model), and POST
/conventions/{id}/objectives with an Idempotency-Key on distinct conventions (one event each).

    .venv/bin/python bench/http_api.py [--conventions 500] [--clients 8] [--seconds 5] [--store sqlite]
"""

# ruff: noqa: E402 - the sys.path fix below must run before the imports
from __future__ import annotations

import sys
from pathlib import Path

# Run as a script, bench/ comes first on sys.path, where projections.py would shadow the package.
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != Path(__file__).resolve().parent]

import argparse
import socket
import statistics
import tempfile
import threading
import time
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import date

import httpx
import uvicorn
from stdnum import luhn

from adapters.http.app import create_app
from adapters.logging import configure_logging
from adapters.settings import Settings
from domain.convention import CommandMeta


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _rpps(i: int) -> str:
    base = f"1{i:09d}"
    return base + luhn.calc_check_digit(base)


def _settings(store: str, tmp: Path) -> Settings:
    if store == "sqlite":
        return Settings(store="sqlite", data_dir=tmp)
    import psycopg

    schema = f"bench_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(host="127.0.0.1", user="postgres", dbname="test", autocommit=True) as conn:
        conn.execute(f"CREATE SCHEMA {schema}")
    return Settings(store="postgres", postgres_dbname="test", postgres_schema=schema, postgres_pool_size=10)


def _run(name: str, clients: int, seconds: float, call: Callable[[httpx.Client, int], httpx.Response], url: str,
         token: str) -> None:  # fmt: skip
    latencies: list[float] = []
    statuses: dict[int, int] = {}
    lock = threading.Lock()
    stop = time.monotonic() + seconds

    def worker(w: int) -> None:
        n = 0
        with httpx.Client(base_url=url, headers={"Authorization": f"Bearer {token}"}, timeout=30) as c:
            while time.monotonic() < stop:
                t0 = time.perf_counter()
                r = call(c, n * clients + w)  # distinct conventions across clients
                dt = time.perf_counter() - t0
                with lock:
                    latencies.append(dt)
                    statuses[r.status_code] = statuses.get(r.status_code, 0) + 1
                n += 1

    started = time.monotonic()
    with ThreadPoolExecutor(clients) as pool:
        list(pool.map(worker, range(clients)))
    elapsed = time.monotonic() - started
    q = statistics.quantiles(latencies, n=100)
    print(
        f"| {name} | {clients} | {len(latencies)} | {len(latencies) / elapsed:,.0f} | {q[49] * 1000:.1f} | "
        f"{q[94] * 1000:.1f} | {q[98] * 1000:.1f} | {statuses} |"
    )


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--conventions", type=int, default=500)
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--seconds", type=float, default=5)
    parser.add_argument("--store", choices=["sqlite", "postgres"], default="sqlite")
    args = parser.parse_args()
    configure_logging("json", "WARNING")  # no request lines: they would cost more than what is measured
    with tempfile.TemporaryDirectory() as tmp:
        settings = _settings(args.store, Path(tmp))
        api = create_app(settings, clock=lambda: date(2025, 6, 1))
        svc = api.state.services
        token = svc.users.add("bench", "admin")[1]
        meta = CommandMeta(actor="bench", reason="bench")
        t0 = time.perf_counter()
        ids = []
        for i in range(args.conventions):
            r = svc.app.sign(
                meta, number=f"B-{i:06d}", cpam_code=f"{281 + i % 5}", rpps=_rpps(i), doctor_name=f"Dr {i}",
                specialty="general_practice", sector=1, optam=False, ccam_share=None, newly_installed=False,
                option="FULL", percentile=50, initial_patients=1000, target_patients=1100,
                signed_on=date(2025, 2, 15), effective_from=date(2025, 3, 1),
            )  # fmt: skip
            ids.append(r["id"])
        svc.app.tick(meta, today=date(2025, 6, 1))
        print(f"seeded {len(ids)} conventions in {time.perf_counter() - t0:.1f} s ({args.store})")
        port = _free_port()
        server = uvicorn.Server(uvicorn.Config(api, host="127.0.0.1", port=port, log_level="warning"))
        thread = threading.Thread(target=server.run, daemon=True)
        thread.start()
        while not server.started:
            time.sleep(0.05)
        url = f"http://127.0.0.1:{port}"
        print("| request | clients | requests | req/s | p50 (ms) | p95 (ms) | p99 (ms) | statuses |")
        print("|---|---:|---:|---:|---:|---:|---:|---|")
        n = len(ids)
        _run("GET /conventions/{id}", args.clients, args.seconds, lambda c, i: c.get(f"/conventions/{ids[i % n]}"),
             url, token)  # fmt: skip
        _run("GET /conventions?per_page=50", args.clients, args.seconds,
             lambda c, i: c.get("/conventions", params={"page": 1 + i % 5, "per_page": 50}), url, token)  # fmt: skip
        _run(
            "POST /conventions/{id}/objectives", args.clients, args.seconds,
            lambda c, i: c.post(f"/conventions/{ids[i % n]}/objectives", headers={"Idempotency-Key": f"k{i}"},
                                json={"from_year": 3, "target_patients": 1000 + i % 500}),
            url, token,
        )  # fmt: skip
        server.should_exit = True
        thread.join(10)
        if settings.store == "postgres":
            import psycopg

            with psycopg.connect(host="127.0.0.1", user="postgres", dbname="test", autocommit=True) as conn:
                conn.execute(f"DROP SCHEMA {settings.postgres_schema} CASCADE")


if __name__ == "__main__":
    main()
