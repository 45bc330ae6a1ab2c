"""Every shell example of README.md and docs/*.md runs, as written, with the installed CLI.

The ```sh blocks of one page run in order in one bash session (``set -euo pipefail``: a failing
command, an unset variable or a failing stage of a pipe fails the page), in a fresh directory with
a fresh data dir, ``conventions`` being this environment's CLI. Pages that call the HTTP API get a
``conventions serve`` on the same data dir and a free port of 127.0.0.1, waited for on /health,
and ``http://127.0.0.1:8000`` points there. ``curl`` fails on an HTTP error (``--fail-with-body``),
so a refused request fails the page with the problem document.

Commands that run until stopped or take minutes are listed in ``EXCLUDED`` with the reason; every
entry must still match a line of the docs.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.helpers import free_port, wait_healthy

ROOT = Path(__file__).resolve().parents[2]
PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
BIN = Path(sys.executable).parent  # the installed ``conventions`` command lives beside this python
DOC_URL = "http://127.0.0.1:8000"

EXCLUDED = {  # a command (comment removed) matching the pattern in full is not run, for this reason
    r"make run": "sets up .venv and runs the one-minute demo (scripts/demo.sh)",
    r"make test": "runs this very test suite",
    r"conventions serve( .*)?": "serves until stopped: the test serves the page's data dir itself",
    r"conventions scheduler( --at \S+)?": "runs until stopped: tests/integration/test_scheduler_process.py runs it",
    r"conventions simulate --from 2023-01-01 --to 2026-11-30 .*": (
        "the README's portfolio simulation takes tens of seconds; docs/scheduler.md runs a shorter one"
    ),
    r"\.venv/bin/python bench/\S+": "a benchmark: minutes of work, figures in docs/benchmarks.md",
}


@dataclass
class Block:
    page: Path
    line: int  # of the opening fence
    text: str


def sh_blocks(page: Path) -> list[Block]:
    text = page.read_text()
    return [
        Block(page, text.count("\n", 0, m.start()) + 1, m.group(1))
        for m in re.finditer(r"^```sh\n(.*?)^```$", text, re.S | re.M)
    ]


def command_of(line: str) -> str:
    """The command of a line, without its trailing comment."""
    return re.sub(r"\s+#\s.*$", "", line).strip()


def exclusion(line: str) -> str | None:
    command = command_of(line)
    return next((reason for pattern, reason in EXCLUDED.items() if re.fullmatch(pattern, command)), None)


def script_of(blocks: list[Block], url: str) -> str:
    lines = ["set -euo pipefail", "PS4='+ ${BASH_SOURCE##*/}:${LINENO}: '", "set -x"]
    for block in blocks:
        lines.append(f"# --- {block.page.relative_to(ROOT)}:{block.line}")
        for line in block.text.splitlines():
            reason = exclusion(line)
            lines.append(f": excluded, {reason!r}" if reason else line.replace(DOC_URL, url))
    return "\n".join(lines) + "\n"


def curl_failing_on_http_errors(bin_dir: Path) -> None:
    real = shutil.which("curl")
    assert real, "curl is needed to run the HTTP examples"
    shim = bin_dir / "curl"
    shim.write_text(f'#!/bin/sh\nexec {real} --fail-with-body --silent --show-error "$@"\n')
    shim.chmod(0o755)


PAGES_WITH_EXAMPLES = [p for p in PAGES if sh_blocks(p)]


@pytest.mark.parametrize("page", PAGES_WITH_EXAMPLES, ids=lambda p: str(p.relative_to(ROOT)))
def test_the_examples_of_the_page_run(page: Path, tmp_path: Path) -> None:
    blocks = sh_blocks(page)
    work, shims = tmp_path / "work", tmp_path / "bin"
    work.mkdir()
    shims.mkdir()
    curl_failing_on_http_errors(shims)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("CONVENTIONS_", "PG"))}
    env.update(
        PATH=f"{shims}{os.pathsep}{BIN}{os.pathsep}{env.get('PATH', '')}",
        CONVENTIONS_DATA_DIR=str(work / "data"),
        CONVENTIONS_LOG_FORMAT="json",
    )
    server = None
    url = DOC_URL
    if any(DOC_URL in b.text for b in blocks):
        port = free_port()
        url = f"http://127.0.0.1:{port}"
        server = subprocess.Popen(
            [str(BIN / "conventions"), "serve", "--port", str(port)],
            cwd=work, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
        )  # fmt: skip
        wait_healthy(
            server, url, f"conventions serve to answer {url}/health",
            lambda: f"the server exited: {server.stderr.read().decode() if server.stderr else ''}", interval=0.05,
        )  # fmt: skip
    script = script_of(blocks, url)
    (tmp_path / "examples.sh").write_text(script)
    try:
        done = subprocess.run(
            ["bash", str(tmp_path / "examples.sh")], cwd=work, env=env, capture_output=True, text=True, timeout=300
        )
    finally:
        if server is not None:
            server.terminate()
            server.wait(timeout=20)
    assert done.returncode == 0, (
        f"an example of {page.relative_to(ROOT)} failed (exit {done.returncode}).\n"
        f"--- script\n{numbered(script)}\n--- stdout\n{done.stdout[-4000:]}\n--- stderr (trace)\n{done.stderr[-6000:]}"
    )


def numbered(script: str) -> str:
    return "\n".join(f"{n:3} {line}" for n, line in enumerate(script.splitlines(), 1))


def test_every_exclusion_still_matches_an_example() -> None:
    commands = [command_of(line) for page in PAGES for b in sh_blocks(page) for line in b.text.splitlines()]
    stale = [p for p in EXCLUDED if not any(re.fullmatch(p, c) for c in commands)]
    assert not stale, f"exclusions matching no example any more (remove them): {stale}"


def test_pages_have_examples_and_no_placeholder_tools() -> None:
    """The examples are found (a renamed fence would silently skip them), and they use nothing a
    user's machine may lack (``uuidgen`` is not installed everywhere)."""
    names = {p.relative_to(ROOT).as_posix() for p in PAGES_WITH_EXAMPLES}
    assert {"README.md", "docs/api.md", "docs/scheduler.md"} <= names
    for page in PAGES:
        for block in sh_blocks(page):
            assert "uuidgen" not in block.text, f"{page.name}:{block.line}"
