"""Benchmark (not a test): how long the operators' web pages take to render on the 20 000-convention
portfolio of ``bench/projections.py``.

    .venv/bin/python bench/web.py                                   # generates the portfolio first
    .venv/bin/python bench/web.py --data-dir /tmp/b --keep          # reuse a generated portfolio
    .venv/bin/python bench/web.py --conventions 2000 --events 100000   # smaller

The read models are caught up first (not timed); then each page is requested ``--repeat`` times
in-process (Starlette's TestClient: the whole server-side work — session, read models, domain,
templates — without a network), signed in as an admin (every CPAM) and as an operator of one
CPAM. Prints the median and the slowest time per page, in milliseconds. The dashboard is timed
twice: reused (nothing recorded between two views) and computed (its cache emptied before each).
"""

from __future__ import annotations

import json
import re
import statistics
import subprocess
import sys
import tempfile
import time
import warnings
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from adapters.http.app import create_app  # noqa: E402
from adapters.logging import configure_logging  # noqa: E402
from adapters.settings import Settings  # noqa: E402
from adapters.web.pages import DashboardCache  # noqa: E402
from bench.projections import portfolio_arguments  # noqa: E402

with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    from fastapi.testclient import TestClient  # noqa: E402


COLD = "dashboard, first view after a write (computed, not reused)"


def pages(client: TestClient) -> dict[str, str]:
    """The pages to time, with a convention of the signed-in user taken from the list."""
    listed = client.get("/web/conventions?sort=-effective").text
    cid = re.search(r'href="/web/conventions/([0-9a-f-]{36})"', listed).group(1)  # type: ignore[union-attr]
    return {
        "conventions (page 1)": "/web/conventions",
        "conventions (search by name)": "/web/conventions?q=docteur+1234",
        "conventions (status, sort, page 40)": "/web/conventions?status=active&sort=-effective&page=40",
        "convention (state, history)": f"/web/conventions/{cid}",
        "convention as of a date": f"/web/conventions/{cid}?etat_au=2024-06-30",
        "form (hire)": f"/web/conventions/{cid}/hires",
        "work queue": "/web/a-traiter",
        "work queue (overdue, page 3)": "/web/a-traiter?retard=1&page=3",
        "dashboard": "/web/tableau-de-bord",
        COLD: "/web/tableau-de-bord",
        "simulator": "/web/simulateur?option=FULL&tier=BASE&effective=2025-03-01&years=5&modulation=proportional",
    }


def sign_in(client: TestClient, name: str, token: str) -> None:
    form = client.get("/web/connexion").text
    csrf = re.search(r'name="csrf" value="([^"]+)"', form).group(1)  # type: ignore[union-attr]
    answer = client.post("/web/connexion", data={"name": name, "token": token, "csrf": csrf}, follow_redirects=False)
    assert answer.status_code == 303, answer.text


def measure(data_dir: Path, repeat: int) -> dict[str, dict[str, dict[str, float]]]:
    configure_logging("console", "WARNING")  # one log line per request would be timed too
    api = create_app(Settings(store="sqlite", data_dir=data_dir, log_level="WARNING"))
    svc = api.state.services
    started = time.perf_counter()
    svc.read_models.runner.catch_up()
    print(f"read models caught up in {time.perf_counter() - started:.1f} s", file=sys.stderr)
    out: dict[str, dict[str, dict[str, float]]] = {}
    for name, role, cpams in (("bench-admin", "admin", []), ("bench-op", "operator", ["281"])):
        for user in svc.users.list():
            if user.name == name:
                svc.users.revoke(name)
        token = svc.users.add(name, role, cpams)[1]
        client = TestClient(api)
        sign_in(client, name, token)
        timings: dict[str, dict[str, float]] = {}
        for page, path in pages(client).items():
            samples = []
            for _ in range(repeat):
                if page == COLD:
                    api.state.web.dashboards = DashboardCache()  # as if something had been recorded
                t0 = time.perf_counter()
                response = client.get(path)
                samples.append((time.perf_counter() - t0) * 1000)
                assert response.status_code == 200, (path, response.status_code)
            timings[page] = {"median_ms": round(statistics.median(samples), 1), "max_ms": round(max(samples), 1)}
        out[role] = timings
    return out


def main() -> None:
    parser = portfolio_arguments(__doc__)
    parser.add_argument("--repeat", type=int, default=20)
    args = parser.parse_args()
    data_dir = args.data_dir or Path(tempfile.mkdtemp(prefix="bench-web-"))
    events_file = Settings(store="sqlite", data_dir=data_dir).events_sqlite_path()
    if not (args.keep and events_file.exists()):
        events_file.unlink(missing_ok=True)
        print(f"Generating {args.conventions} conventions in {data_dir} ...", file=sys.stderr)
        generator = [
            sys.executable, str(ROOT / "bench" / "projections.py"), "--data-dir", str(data_dir), "--phase", "generate",
            "--conventions", str(args.conventions), "--events", str(args.events),
        ]  # fmt: skip
        subprocess.run(generator, check=True)
    result = measure(data_dir, args.repeat)
    print(json.dumps(result, indent=2, ensure_ascii=False))


if __name__ == "__main__":
    main()
