"""Load benchmark of the served API (not a test: prints figures): ``conventions serve`` with several
workers on a fresh store, a simulated portfolio, then many concurrent clients for a fixed time.

What it does, in order:

1. a fresh store (PostgreSQL: a new schema of database ``test`` on 127.0.0.1, dropped at the end;
   SQLite: a temporary directory), seeded by ``conventions simulate`` (three years of operators and
   nightly jobs up to yesterday), and one operator per CPAM (``conventions users add``);
2. ``conventions serve --workers W`` on 127.0.0.1, request lines logged (JSON) to a file; on
   PostgreSQL also the projection follower (``conventions project --follow``) a deployment runs beside
   it, counted as the server's CPU; measuring starts once ``/ready`` reports no lag;
3. the ceiling: the same clients on ``GET /ping`` (no store, no token: the HTTP stack alone);
4. the load: each client loops on a realistic mix, 70 % reads (25 % lists ``GET /conventions``,
   30 % ``GET /conventions/{id}``, 15 % ``GET /dashboard``) and 30 % commands on the convention it
   read last (objectives, six-month reviews, payments of a due instalment, dues), each with a fresh
   ``Idempotency-Key`` and the read ``ETag`` as ``If-Match``; a 503 with ``Retry-After`` or a
   transport error is retried with the same key; 409 and 412 are normal outcomes, counted apart;
5. the proof: every acknowledged (2xx) command has exactly one receipt and exactly ``recorded``
   events carrying its command id, a refused one none; then ``conventions verify`` on the store.

The readable table goes to stderr, the JSON summary to stdout.

    PYTHONPATH=. .venv/bin/python bench/load.py [--clients 50] [--seconds 60] [--workers 2]
        [--conventions 1000] [--store postgres|sqlite] [--keep] [--reuse SCHEMA] [--mix list:25,...]

``--keep`` leaves the store (its name is in the summary); ``--reuse`` loads it again without seeding
(new users each run), and keeps it: drop it yourself. ``--mix`` changes the shares, e.g.
``convention:70,command:30`` leaves the read models (lists, dashboard) out.
"""

# ruff: noqa: E402 - the sys.path fix below must run before the imports
from __future__ import annotations

import sys
from pathlib import Path

# Run as a script, bench/ comes first on sys.path, where projections.py would shadow the package.
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != Path(__file__).resolve().parent]

import argparse
import json
import os
import random
import resource
import secrets
import shutil
import signal
import socket
import statistics
import subprocess
import tempfile
import threading
import time
import uuid
from collections import Counter, defaultdict
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any

import httpx

from adapters.composition import build_app
from adapters.settings import Settings
from adapters.simulation import CPAMS
from domain import events as ev
from domain.convention import EARLY_REVIEW_DAYS
from domain.receipts import ActiveConventionSet, DoctorRegistered, ReceiptIssued

CLI = [sys.executable, "-c", "from adapters.cli import main; main()"]
MIX = "list:25,convention:30,dashboard:15,command:30"  # 70 % reads, 30 % commands
COMMANDS = (("objective", 0.4), ("review", 0.2), ("payment", 0.2), ("dues", 0.2))
MAX_ATTEMPTS = 5


# ---------------------------------------------------------------------------- the deployment
@dataclass
class Deployment:
    """The store, its environment for the CLI, and the server once started."""

    store: str
    schema: str
    data_dir: Path
    keep: bool
    env: dict[str, str] = field(default_factory=dict)
    server: subprocess.Popen[bytes] | None = None
    follower: subprocess.Popen[bytes] | None = None
    port: int = 0

    @classmethod
    def create(cls, store: str, keep: bool, reuse: str | None = None) -> Deployment:
        """A new schema (or directory); with ``reuse``, the one a ``--keep`` run left, kept again."""
        data_dir = Path(reuse if reuse and store == "sqlite" else tempfile.mkdtemp(prefix="load-"))
        schema = (reuse or f"load_{uuid.uuid4().hex[:10]}") if store == "postgres" else ""
        keep = keep or reuse is not None
        env = {**os.environ, "CONVENTIONS_STORE": store, "CONVENTIONS_DATA_DIR": str(data_dir),
               "CONVENTIONS_LOG_FORMAT": "json", "CONVENTIONS_WEB_SECRET": secrets.token_hex(16)}  # fmt: skip
        env.pop("CONVENTIONS_TODAY", None)  # real time: a live deployment
        if store == "postgres":
            import psycopg

            env |= {"CONVENTIONS_POSTGRES_DBNAME": "test", "CONVENTIONS_POSTGRES_SCHEMA": schema}
            with psycopg.connect(host="127.0.0.1", user="postgres", dbname="test", autocommit=True) as conn:
                conn.execute(f"CREATE SCHEMA IF NOT EXISTS {schema}")
        return cls(store, schema, data_dir, keep, env)

    def settings(self) -> Settings:
        if self.store == "postgres":
            return Settings(store="postgres", postgres_dbname="test", postgres_schema=self.schema,
                            data_dir=self.data_dir)  # fmt: skip
        return Settings(store="sqlite", data_dir=self.data_dir)

    def cli(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        return subprocess.run([*CLI, *args], env=self.env, capture_output=True, text=True, check=check)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def server_log(self) -> Path:
        return self.data_dir / "server.log"

    def serve(self, workers: int) -> None:
        """Start ``conventions serve`` and wait until ``/ready`` says 200 (or fail if it exits); on
        PostgreSQL (follower mode) the API only reads, so the deployment's projection follower is started beside it
        (``conventions project --follow``, docs/processes.md), as in production."""
        if self.settings().projections_mode() == "follower":
            follower_log = (self.data_dir / "follower.log").open("wb")
            self.follower = subprocess.Popen(
                [*CLI, "project", "--follow"], env={**self.env, "CONVENTIONS_LOG_LEVEL": "INFO"},
                stdout=follower_log, stderr=subprocess.STDOUT,
            )  # fmt: skip
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            self.port = s.getsockname()[1]
        log = self.server_log.open("wb")
        self.server = subprocess.Popen(
            [*CLI, "serve", "--port", str(self.port), "--workers", str(workers)],
            env={**self.env, "CONVENTIONS_LOG_LEVEL": "INFO"}, stdout=log, stderr=subprocess.STDOUT,
        )  # fmt: skip
        while True:
            if self.server.poll() is not None:
                raise SystemExit(f"serve exited ({self.server.returncode}): see {self.server_log}")
            try:
                ready = httpx.get(f"{self.url}/ready", timeout=2)
                # Ready, and the follower has nothing left to apply: its catch-up would weigh on /ping.
                if ready.status_code == 200 and ready.json()["lag"] == 0:
                    return
            except httpx.TransportError:
                pass
            time.sleep(0.2)  # polling for evidence, not a deadline

    def server_pids(self) -> list[int]:
        """The serve process and its workers (uvicorn's children), for their CPU time."""
        if self.server is None:
            return []
        pids = [self.server.pid] + ([self.follower.pid] if self.follower is not None else [])
        children = Path(f"/proc/{self.server.pid}/task/{self.server.pid}/children")
        if children.exists():
            pids += [int(p) for p in children.read_text().split()]
        return pids

    def stop(self) -> None:
        for process in (self.server, self.follower):
            if process is not None and process.poll() is None:
                process.send_signal(signal.SIGINT)
                try:
                    process.wait(30)
                except subprocess.TimeoutExpired:
                    process.kill()
                    process.wait()

    def drop(self) -> None:
        if self.keep:
            return
        if self.store == "postgres":
            import psycopg

            with psycopg.connect(host="127.0.0.1", user="postgres", dbname="test", autocommit=True) as conn:
                conn.execute(f"DROP SCHEMA {self.schema} CASCADE")
        shutil.rmtree(self.data_dir, ignore_errors=True)


def database_pids() -> list[int]:
    """Every PostgreSQL process of this machine (its backends, WAL writer, checkpointer...): the
    database's share of the server's work, counted apart."""
    pids = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if (entry / "comm").read_text().strip() in ("postgres", "postmaster"):
                    pids.append(int(entry.name))
            except OSError:
                continue
    return pids


def cpu_seconds(pids: list[int]) -> float:
    """User + system CPU time of these processes (Linux /proc), 0 for one that is gone."""
    tick = os.sysconf("SC_CLK_TCK")
    total = 0.0
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += (int(fields[11]) + int(fields[12])) / tick
    return total


# ---------------------------------------------------------------------------- seeding
def seed(dep: Deployment, conventions: int, today: date, reuse: bool) -> dict[str, Any]:
    """The portfolio (``conventions simulate``, three years up to yesterday; none when reusing a
    kept store), and one new operator per CPAM."""
    started = time.perf_counter()
    start, end = today - timedelta(days=3 * 365), today - timedelta(days=1)
    report = None
    if not reuse:
        sim = dep.cli("simulate", "--from", start.isoformat(), "--to", end.isoformat(), "--conventions",
                      str(conventions), "--json")  # fmt: skip
        report = json.loads(sim.stdout)
    tokens, users = {}, {}
    run_id = uuid.uuid4().hex[:6]
    for cpam, _ in CPAMS:
        users[cpam] = f"load{run_id}-op{cpam}"
        added = dep.cli("users", "add", users[cpam], "--role", "operator", "--cpam", cpam, "--json")
        tokens[cpam] = json.loads(added.stdout)["token"]
    app = build_app(dep.settings())
    by_cpam: dict[str, list[str]] = defaultdict(list)
    for _, signed in app.log_after(0, [ev.Signed.TOPIC]):
        by_cpam[signed.cpam_code].append(str(signed.originator_id))
    return {"seconds": round(time.perf_counter() - started, 1), "events": app.head(), "tokens": tokens, "users": users,
            "ids": dict(by_cpam), "simulation": report}  # fmt: skip


# ---------------------------------------------------------------------------- the clients
@dataclass
class Tally:
    """What all clients saw, under one lock."""

    latencies: dict[str, list[float]] = field(default_factory=lambda: defaultdict(list))
    statuses: dict[str, Counter[str]] = field(default_factory=lambda: defaultdict(Counter))
    retries: Counter[str] = field(default_factory=Counter)
    commands: list[dict[str, Any]] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def add(self, kind: str, seconds: float, status: str) -> None:
        with self.lock:
            self.latencies[kind].append(seconds)
            self.statuses[kind][status] += 1


def status_of(r: httpx.Response | None) -> str:
    """The status as counted: a 5xx says whether a client may retry it (503 with Retry-After)."""
    if r is None:
        return "transport_error"
    if r.status_code == 503 and "retry-after" in r.headers:
        return "503_retryable"
    return str(r.status_code)


class Client:
    """One operator's browser-less client: reads, then acts on what it read."""

    def __init__(self, url: str, user: str, token: str, ids: list[str], tally: Tally, rng: random.Random,
                 today: date) -> None:  # fmt: skip
        self.user = user
        self.http = httpx.Client(base_url=url, timeout=30, headers={"Authorization": f"Bearer {token}"})
        self.ids, self.tally, self.rng, self.today = ids, tally, rng, today
        self.read: tuple[str, str, dict[str, Any]] | None = None  # (id, etag, view) read last

    def request(self, kind: str, method: str, path: str, **kw: Any) -> httpx.Response | None:
        t0 = time.perf_counter()
        try:
            r: httpx.Response | None = self.http.request(method, path, **kw)
        except httpx.TransportError:
            r = None
        self.tally.add(kind, time.perf_counter() - t0, status_of(r))
        return r

    def step(self, mix: dict[str, float]) -> None:
        getattr(self, self.rng.choices(list(mix), list(mix.values()))[0])()

    def list(self) -> None:
        params: dict[str, Any] = {"page": self.rng.randint(1, 3), "per_page": 50}
        params |= self.rng.choice([{}, {"status": "active"}, {"sort": "-effective"}, {"q": self.rng.choice("BDLMR")}])
        self.request("list", "GET", "/conventions", params=params)

    def convention(self) -> None:
        cid = self.rng.choice(self.ids)
        r = self.request("convention", "GET", f"/conventions/{cid}")
        if r is not None and r.status_code == 200:
            self.read = (cid, r.headers["etag"], r.json())

    def dashboard(self) -> None:
        self.request("dashboard", "GET", "/dashboard")

    def command(self) -> None:
        if self.read is None:
            self.convention()  # an operator opens the convention before acting on it
            if self.read is None:
                return
        cid, etag, view = self.read
        name, resource_, body = self.choose(view)
        key = str(uuid.uuid4())
        headers = {"Idempotency-Key": key, "If-Match": etag}
        r: httpx.Response | None = None
        for attempt in range(MAX_ATTEMPTS):  # the same key: a retry cannot record twice
            if attempt:
                self.tally.retries[name] += 1
                time.sleep(min(float(r.headers["retry-after"]) if r is not None else 0.5, 5))
            r = self.request(f"command:{name}", "POST", f"/conventions/{cid}/{resource_}", json=body, headers=headers)
            if not (r is None or status_of(r) == "503_retryable"):
                break
        outcome = {"user": self.user, "key": key, "convention": cid, "command": name, "status": status_of(r)}
        if r is not None and r.is_success:
            outcome |= {"recorded": r.json()["recorded"], "version": r.json()["version"]}
            self.read = (cid, r.headers["etag"], view)
        elif r is not None and r.status_code in (409, 412):
            self.read = None  # reload before acting again
        with self.tally.lock:
            self.tally.commands.append(outcome)

    def choose(self, view: dict[str, Any]) -> tuple[str, str, dict[str, Any]]:
        """A command that makes sense on what was read; the domain may still refuse it (409)."""
        today = self.today.isoformat()
        due = [i["id"] for i in view["instalments"] if i["status"] == "due" and i["fell_due_on"] <= today]
        name = self.rng.choices([c for c, _ in COMMANDS], [w for _, w in COMMANDS])[0]
        if name == "payment" and due:
            return name, "payments", {"instalment": self.rng.choice(due), "paid_on": today,
                                      "reference": f"VIR-LOAD-{self.rng.randrange(10**6):06d}"}  # fmt: skip
        soon = (self.today + timedelta(days=EARLY_REVIEW_DAYS)).isoformat()
        if name == "review" and any(r["held_on"] is None and r["due_date"] <= soon for r in view["reviews"]):
            return name, "reviews", {"held_on": today, "notes": "Point semestriel (charge)"}
        if name == "dues":
            return name, "dues", {}
        year = min(max(view["contract_year"], 1) + 1, 100)
        target = max(view["patients"]["target"] + self.rng.randint(-50, 50), 1)
        return "objective", "objectives", {"from_year": year, "target_patients": target, "on": today}


def drive(url: str, seed_: dict[str, Any], clients: int, seconds: float, mix: dict[str, float] | None,
          today: date) -> Tally:  # fmt: skip
    """``clients`` threads for ``seconds``: the mix, or ``GET /ping`` alone (``mix`` None)."""
    tally = Tally()
    cpams = sorted(seed_["ids"])
    stop = time.monotonic() + seconds

    def run(i: int) -> None:
        cpam = cpams[i % len(cpams)]
        client = Client(
            url, seed_["users"][cpam], seed_["tokens"][cpam], seed_["ids"][cpam], tally, random.Random(i), today
        )
        with client.http:
            while time.monotonic() < stop:
                if mix is None:
                    client.request("ping", "GET", "/ping")
                else:
                    client.step(mix)

    with ThreadPoolExecutor(clients) as pool:
        list(pool.map(run, range(clients)))
    return tally


# ---------------------------------------------------------------------------- figures
def quantiles(samples: list[float]) -> dict[str, float]:
    if len(samples) < 2:
        return {"p50_ms": 0.0, "p95_ms": 0.0, "p99_ms": 0.0}
    q = statistics.quantiles(samples, n=100, method="inclusive")
    return {"p50_ms": round(q[49] * 1000, 1), "p95_ms": round(q[94] * 1000, 1), "p99_ms": round(q[98] * 1000, 1)}


def figures(tally: Tally, seconds: float) -> dict[str, Any]:
    """Per kind and overall: requests, req/s, latency quantiles, statuses."""
    kinds: dict[str, Any] = {}
    for kind in sorted(tally.latencies):
        samples = tally.latencies[kind]
        kinds[kind] = {"requests": len(samples), "rps": round(len(samples) / seconds, 1), **quantiles(samples),
                       "statuses": dict(sorted(tally.statuses[kind].items()))}  # fmt: skip
    every = [s for samples in tally.latencies.values() for s in samples]
    statuses: Counter[str] = sum(tally.statuses.values(), Counter())
    commands = [s for k, samples in tally.latencies.items() if k.startswith("command:") for s in samples]
    return {
        "kinds": kinds,
        "overall": {"requests": len(every), "rps": round(len(every) / seconds, 1), **quantiles(every),
                    "statuses": dict(sorted(statuses.items()))},
        "commands": {"requests": len(commands), "rps": round(len(commands) / seconds, 1), **quantiles(commands)},
        "errors": {
            "5xx_retryable": statuses["503_retryable"],
            "5xx_not_retryable": sum(n for s, n in statuses.items() if s[0] == "5" and s != "503_retryable"),
            "transport_errors": statuses["transport_error"],
            "conflicts_409": statuses["409"], "stale_412": statuses["412"],
            "other_4xx": sum(n for s, n in statuses.items() if s[0] == "4" and s not in ("409", "412")),
        },
        "retries": dict(tally.retries),
    }  # fmt: skip


def server_timings(log: Path, after: float) -> dict[str, Any]:
    """The server's own ``duration_ms`` per kind of path (structlog request lines since ``after``):
    what the client's latency adds on top is queueing and the client itself."""
    samples: dict[str, list[float]] = defaultdict(list)
    for line in log.read_text(errors="replace").splitlines():
        try:
            entry = json.loads(line)
        except ValueError:
            continue
        if entry.get("event") != "request" or _epoch(entry.get("timestamp")) < after:
            continue
        path, method = entry.get("path") or "", entry.get("method")
        kind = ("ping" if path == "/ping" else "dashboard" if path == "/dashboard" else "list" if path == "/conventions"
                else "command" if method == "POST" else "convention")  # fmt: skip
        samples[kind].append(entry["duration_ms"] / 1000)
    return {k: {"requests": len(v), **quantiles(v)} for k, v in sorted(samples.items())}


def _epoch(stamp: Any) -> float:
    from datetime import datetime

    try:
        return datetime.fromisoformat(str(stamp).replace("Z", "+00:00")).timestamp()
    except ValueError:
        return 0.0


# ---------------------------------------------------------------------------- the proof
def check_events(dep: Deployment, commands: list[dict[str, Any]], after: int) -> dict[str, Any]:
    """Every acknowledged command: one receipt and exactly ``recorded`` events with its command id,
    the last at the version it answered; every refused one: nothing. Read from the store itself."""
    receipts: Counter[str] = Counter()
    events: dict[str, list[ev.Event]] = defaultdict(list)
    app = build_app(dep.settings())
    for _, event in app.log_after(after):
        if isinstance(event, ReceiptIssued):
            receipts[event.command_id] += 1
        elif not isinstance(event, DoctorRegistered | ActiveConventionSet):  # the doctors' index, not a command's
            events[event.command_id].append(event)
    problems: list[dict[str, Any]] = []
    acknowledged = unknown = 0
    seen = set()
    for c in commands:
        command_id = f"http:{c['user']}:{c['key']}"  # what the API makes of the Idempotency-Key
        seen.add(command_id)
        got, rc = events.get(command_id, []), receipts[command_id]
        if c["status"][0] == "2":
            acknowledged += 1
            ok = rc == 1 and len(got) == c["recorded"] and all(str(e.originator_id) == c["convention"] for e in got)
            ok = ok and (not got or max(e.originator_version for e in got) == c["version"])
            if not ok:
                problems.append({**c, "receipts": rc, "events": len(got)})
        elif c["status"][0] == "4":
            if rc or got:
                problems.append({**c, "receipts": rc, "events": len(got)})
        else:
            unknown += 1  # no answer: either outcome is correct, the key makes a retry safe
    strays = [k for k in {*receipts, *events} if k.startswith("http:") and k not in seen]
    return {"acknowledged": acknowledged, "refused": len(commands) - acknowledged - unknown,
            "no_final_answer": unknown, "lost_or_doubled": len(problems), "problems": problems[:20],
            "stray_command_ids": len(strays), "events_checked": sum(map(len, events.values())),
            "ok": not problems and not strays}  # fmt: skip


def verify(dep: Deployment) -> dict[str, Any]:
    """``conventions verify --json``: books, chain, rules, projections on the store under load."""
    started = time.perf_counter()
    done = dep.cli("verify", "--json", check=False)
    try:
        report = json.loads(done.stdout)
    except ValueError:
        return {"ok": False, "exit": done.returncode, "error": done.stderr[-2000:]}
    return {"ok": report["ok"], "exit": done.returncode, "parts": report["parts"], "summary": report["summary"],
            "findings": len(report["findings"]), "first_findings": report["findings"][:5],
            "differences": report["differences"], "seconds": round(time.perf_counter() - started, 1)}  # fmt: skip


# ---------------------------------------------------------------------------- the run
def phase(dep: Deployment, seeded: dict[str, Any], args: argparse.Namespace, ping: bool) -> tuple[Tally, dict]:
    """One timed phase, with the CPU the server and this process spent and the server's timings."""
    pids = dep.server_pids()
    follower = [dep.follower.pid] if dep.follower is not None else []
    db_pids = database_pids() if dep.store == "postgres" else []
    cpu0, db0, follower0 = cpu_seconds(pids), cpu_seconds(db_pids), cpu_seconds(follower)
    own0, wall0, load0 = _own_cpu(), time.time(), os.getloadavg()[0]
    seconds = args.ping_seconds if ping else args.seconds
    tally = drive(dep.url, seeded, args.clients, seconds, None if ping else args.mix, date.today())
    wall = time.time() - wall0
    result = figures(tally, wall)
    server, database = cpu_seconds(pids) - cpu0, cpu_seconds(db_pids) - db0
    result |= {
        "seconds": round(wall, 1), "load_average": [round(load0, 2), round(os.getloadavg()[0], 2)],
        "cpu_seconds": {"server": round(server, 1), "of_which_follower": round(cpu_seconds(follower) - follower0, 1),
                        "database": round(database, 1), "client": round(_own_cpu() - own0, 1)},
        "cpu_ms_per_request": {"server": round(1000 * server / max(1, result["overall"]["requests"]), 2),
                               "database": round(1000 * database / max(1, result["overall"]["requests"]), 2)},
        "server_timings": server_timings(dep.server_log, wall0),
    }  # fmt: skip
    return tally, result


def _own_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def run(args: argparse.Namespace) -> dict[str, Any]:
    dep = Deployment.create(args.store, args.keep, args.reuse)
    summary: dict[str, Any] = {"store": args.store, "schema": dep.schema or None, "data_dir": str(dep.data_dir),
                               "clients": args.clients, "workers": args.workers, "cpus": os.cpu_count(),
                               "mix": args.mix, "reused": args.reuse is not None}  # fmt: skip
    try:
        print(f"seeding {args.conventions} conventions ({args.store} {dep.schema})...", file=sys.stderr)
        seeded = seed(dep, args.conventions, date.today(), args.reuse is not None)
        summary["seed"] = {"conventions": sum(map(len, seeded["ids"].values())), "events": seeded["events"],
                           "seconds": seeded["seconds"]}  # fmt: skip
        print(f"seeded: {summary['seed']}; serving with {args.workers} workers...", file=sys.stderr)
        dep.serve(args.workers)
        _, summary["ping"] = phase(dep, seeded, args, ping=True)
        head = build_app(dep.settings()).head()
        tally, summary["load"] = phase(dep, seeded, args, ping=False)
        dep.stop()
        summary["ratio_to_ping"] = {
            "all_requests": round(summary["load"]["overall"]["rps"] / summary["ping"]["overall"]["rps"], 3),
            "commands": round(summary["load"]["commands"]["rps"] / summary["ping"]["overall"]["rps"], 3),
        }
        summary["events"] = check_events(dep, tally.commands, head)
        summary["commands_by_outcome"] = dict(Counter(f"{c['command']} {c['status']}" for c in tally.commands))
        print("verifying the store (conventions verify)...", file=sys.stderr)
        summary["verify"] = verify(dep)
        summary["targets"] = targets(summary)
    finally:
        dep.stop()
        dep.drop()
    return summary


def targets(s: dict[str, Any]) -> dict[str, Any]:
    load = s["load"]
    return {
        "throughput_at_least_0.3x_ping": s["ratio_to_ping"]["all_requests"] >= 0.3,
        "p99_under_250ms": load["overall"]["p99_ms"] < 250,
        "no_unretryable_5xx": load["errors"]["5xx_not_retryable"] == 0,
        "no_lost_or_doubled_event": s["events"]["ok"],
        "verify_ok": s["verify"]["ok"],
    }


def table(s: dict[str, Any]) -> str:
    rows = ["| phase | kind | requests | req/s | p50 (ms) | p95 (ms) | p99 (ms) | statuses |",
            "|---|---|---:|---:|---:|---:|---:|---|"]  # fmt: skip
    for name in ("ping", "load"):
        p = s[name]
        for kind, k in [*p["kinds"].items(), ("all", p["overall"])]:
            statuses = ", ".join(f"{code}: {n}" for code, n in k["statuses"].items())
            rows.append(f"| {name} | {kind} | {k['requests']} | {k['rps']} | {k['p50_ms']} | {k['p95_ms']} | "
                        f"{k['p99_ms']} | {statuses} |")  # fmt: skip
    c = s["load"]["commands"]
    rows.append(f"| load | commands (all) | {c['requests']} | {c['rps']} | {c['p50_ms']} | {c['p95_ms']} | "
                f"{c['p99_ms']} | |")  # fmt: skip
    rows += ["", f"ratio to /ping: {s['ratio_to_ping']}", f"errors: {s['load']['errors']}",
             f"retries: {s['load']['retries']}",
             f"cpu: ping {s['ping']['cpu_seconds']}, load {s['load']['cpu_seconds']}",
             f"cpu ms per request: ping {s['ping']['cpu_ms_per_request']}, load {s['load']['cpu_ms_per_request']}",
             f"load average: ping {s['ping']['load_average']}, load {s['load']['load_average']}",
             f"server timings (load): {s['load']['server_timings']}",
             f"events: { {k: v for k, v in s['events'].items() if k != 'problems'} }",
             f"verify: ok={s['verify']['ok']} findings={s['verify'].get('findings')} ({s['verify'].get('seconds')} s)",
             f"targets: {s['targets']}"]  # fmt: skip
    return "\n".join(rows)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--clients", type=int, default=50)
    parser.add_argument("--seconds", type=float, default=60)
    parser.add_argument("--ping-seconds", type=float, default=None, help="default: --seconds")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--conventions", type=int, default=1000)
    parser.add_argument("--store", choices=["postgres", "sqlite"], default="postgres")
    parser.add_argument("--keep", action="store_true", help="keep the schema (or directory) for inspection")
    parser.add_argument("--reuse", metavar="SCHEMA_OR_DIR", help="load the store a --keep run left (no seeding)")
    parser.add_argument("--mix", default=MIX, help=f"kind:weight,... (default {MIX})")
    args = parser.parse_args()
    args.mix = {kind: float(weight) for kind, weight in (part.split(":") for part in args.mix.split(","))}
    if not set(args.mix) <= {"list", "convention", "dashboard", "command"}:
        parser.error("--mix: kinds are list, convention, dashboard, command")
    args.ping_seconds = args.ping_seconds or args.seconds
    summary = run(args)
    print(table(summary), file=sys.stderr)
    print(json.dumps(summary, default=str))


if __name__ == "__main__":
    main()
