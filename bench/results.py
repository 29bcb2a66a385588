"""Where benchmark figures go: one JSON line per run in bench/results/<name>.jsonl, with the machine."""

from __future__ import annotations

import json
import os
import platform
import subprocess
from datetime import datetime, timezone
from pathlib import Path

DIRECTORY = Path(__file__).parent / "results"
REPO = Path(__file__).resolve().parents[1]


def append(name: str, row: dict) -> Path:
    # Smoke runs (tests/test_bench_smoke.py) write elsewhere so the history holds real runs only.
    directory = Path(os.environ.get("FAREWELL_BENCH_RESULTS") or DIRECTORY)
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / f"{name}.jsonl"
    record = {"at": datetime.now(timezone.utc).isoformat(timespec="seconds"), "machine": platform.node(),
              "cpus": os.cpu_count(), "python": platform.python_version(), **row}
    with open(path, "a") as out:
        out.write(json.dumps(record, default=str) + "\n")
    return path


def commit() -> str | None:
    """The commit measured: $FAREWELL_BENCH_COMMIT when run from an exported tree (`git archive`,
    so that other work in progress in the checkout cannot change what runs), else the checkout's
    (a worktree of an older commit, for a side-by-side run); None when neither says."""
    if os.environ.get("FAREWELL_BENCH_COMMIT"):
        return os.environ["FAREWELL_BENCH_COMMIT"]
    try:
        return subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=REPO, capture_output=True, text=True,
                              check=True, timeout=10).stdout.strip() or None
    except (OSError, subprocess.SubprocessError):
        return None
