"""Where benchmark figures go: one JSON line per run in bench/results/<name>.jsonl, with the machine."""

from __future__ import annotations

import json
import os
import platform
from datetime import datetime, timezone
from pathlib import Path

DIRECTORY = Path(__file__).parent / "results"


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
