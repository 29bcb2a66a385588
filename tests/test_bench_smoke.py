"""Every benchmark runs to the end at a tiny size, so bench/ cannot rot. No time is asserted:
figures come from full runs (`make bench`) and live in BENCHMARKS.md."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

SMOKE_RUNS = {
    "ingest": ["--small"],
    "dispatch": ["--emails", "40"],
    "digest": ["--small"],
    "memory": ["--small"],
    "bridge_cost": ["--small"],
}


@pytest.mark.slow
@pytest.mark.parametrize("name", sorted(SMOKE_RUNS))
def test_the_benchmark_runs_to_the_end(name, tmp_path):
    env = {**os.environ, "FAREWELL_BENCH_RESULTS": str(tmp_path)}
    result = subprocess.run([sys.executable, "-m", f"bench.{name}", *SMOKE_RUNS[name]], cwd=ROOT, env=env,
                            capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-4000:]
    assert result.stdout.strip(), "a benchmark prints its table"
    assert (tmp_path / f"{name}.jsonl").read_text().strip(), "and records its figures"
