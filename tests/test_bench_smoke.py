"""Every benchmark runs to the end at a tiny size, so bench/ cannot rot. No time is asserted:
figures come from full runs (`make bench`) and live in BENCHMARKS.md."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from bench.memory import ProcessGone, rss_kib

ROOT = Path(__file__).resolve().parents[1]

SMOKE_RUNS = {
    "ingest": ["--small"],
    "ingest_batch": ["--small", "--batch"],
    "dispatch": ["--emails", "40"],
    "digest": ["--small"],
    "holdout": ["--small"],
    # Smaller than its --small (2,000 of each, 30 s of CI's suite): a smoke run only has to go through
    # every step, and each process is still read after its 1,000th event or email and at the end,
    # the two readings the bench compares.
    "memory": ["--events", "1200", "--emails", "1200"],
    # Apache + mod_php: the real server whose hand-over (a loopback request) has the most parts.
    "bridge_cost": ["--small", "--server", "apache", "--queries", "2"],
    "import": ["--small"],  # 30 past subscriptions of the real MemberPress, imported into MariaDB
}


@pytest.mark.slow
@pytest.mark.parametrize("name", sorted(SMOKE_RUNS))
def test_the_benchmark_runs_to_the_end(name, tmp_path):
    env = {**os.environ, "FAREWELL_BENCH_RESULTS": str(tmp_path)}
    if name in ("bridge_cost", "import"):  # the real MemberPress, which only ../shared holds
        from tests.wordpress.real_plugins import REAL_PLUGINS

        REAL_PLUGINS["memberpress"].skip_unless_available()
    module = name.removesuffix("_batch")  # ingest_batch: bench.ingest --batch, recorded as ingest_batch
    result = subprocess.run([sys.executable, "-m", f"bench.{module}", *SMOKE_RUNS[name]], cwd=ROOT, env=env,
                            capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-4000:]
    assert result.stdout.strip(), "a benchmark prints its table"
    assert (tmp_path / f"{name}.jsonl").read_text().strip(), "and records its figures"


def test_memory_is_read_from_a_running_process_and_a_clear_error_once_it_has_exited():
    child = subprocess.Popen([sys.executable, "-c", "import sys; sys.stdin.read()"], stdin=subprocess.PIPE)
    try:
        assert rss_kib(child.pid) > 0
    finally:
        child.stdin.close()
    # Exited and not waited for yet (WNOWAIT blocks until it has exited, and leaves it unreaped): a
    # zombie, still in /proc with no memory to read. The jobs process of bench/memory.py is in this
    # state between its exit and the bench's next poll(); the bench used to stop there with "no VmRSS".
    os.waitid(os.P_PID, child.pid, os.WEXITED | os.WNOWAIT)
    with pytest.raises(ProcessGone, match=f"process {child.pid} has exited"):
        rss_kib(child.pid)
    child.wait(timeout=60)
    with pytest.raises(ProcessGone, match=f"process {child.pid} has exited"):
        rss_kib(child.pid)
