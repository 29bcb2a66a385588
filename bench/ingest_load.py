"""Ingest throughput: signed events per second into the real server, load from a second process.

python -m bench.ingest_load [--seconds 10] [--concurrency 8] [--backend sqlite|mariadb|both]

Starts `python -m sidecar serve` (waitress) on a throw-away database, then a separate load process
posting unique signed events over keep-alive connections. Prints requests/s and latency percentiles
and appends a JSON line to bench/results/ingest_load.jsonl. A measurement, never a test assertion.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import platform
import statistics
import tempfile
import threading
import time
import uuid
from datetime import datetime, timezone
from pathlib import Path

import requests

from sidecar.signing import sign
from tests.support.mariadb import MariaDB
from tests.support.sidecar import SidecarProcess

RESULTS = Path(__file__).parent / "results"


def _event(n: int) -> str:
    return json.dumps({
        "type": "subscription.cancelled", "occurred_at": datetime.now(timezone.utc).isoformat(),
        "source": "test", "initiated_by": "member",
        "member": {"id": str(n), "email": f"m{n}@example.org", "first_name": "Zoë", "locale": "fr_FR"},
        "subscription": {"id": f"sub_{n}", "plan_name": "Or", "amount": "29.00", "currency": "EUR",
                         "interval": "month"},
    })


def _load(url: str, site_id: str, secret: str, seconds: float, concurrency: int, queue) -> None:
    latencies: list[float] = []
    statuses: dict[int, int] = {}
    lock = threading.Lock()
    deadline = time.monotonic() + seconds

    def worker():
        session = requests.Session()
        local, codes = [], {}
        while time.monotonic() < deadline:
            n = uuid.uuid4().int % 10_000_000
            body = _event(n)
            headers = {"Content-Type": "application/json", **sign(secret, f"msg_{uuid.uuid4().hex}", body)}
            started = time.perf_counter()
            response = session.post(f"{url}/v1/sites/{site_id}/events", data=body.encode(), headers=headers)
            local.append(time.perf_counter() - started)
            codes[response.status_code] = codes.get(response.status_code, 0) + 1
        with lock:
            latencies.extend(local)
            for code, count in codes.items():
                statuses[code] = statuses.get(code, 0) + count

    threads = [threading.Thread(target=worker) for _ in range(concurrency)]
    started = time.monotonic()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    elapsed = time.monotonic() - started
    queue.put({"requests": len(latencies), "elapsed": elapsed, "statuses": statuses, "latencies": latencies})


def measure(database_url: str, data_dir: Path, seconds: float, concurrency: int) -> dict:
    server = SidecarProcess(database_url, data_dir).start()
    try:
        queue = multiprocessing.get_context("spawn").Queue()
        load = multiprocessing.get_context("spawn").Process(
            target=_load, args=(server.url, server.site_id, server.secret, seconds, concurrency, queue))
        load.start()
        result = queue.get(timeout=seconds + 120)
        load.join()
    finally:
        server.stop()
    latencies = sorted(result["latencies"])
    pick = lambda q: latencies[min(len(latencies) - 1, int(q * len(latencies)))] * 1000  # noqa: E731
    return {
        "requests_per_second": round(result["requests"] / result["elapsed"], 1),
        "p50_ms": round(pick(0.50), 2), "p99_ms": round(pick(0.99), 2),
        "mean_ms": round(statistics.fmean(latencies) * 1000, 2) if latencies else None,
        "requests": result["requests"], "statuses": result["statuses"],
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=float, default=10)
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--backend", choices=["sqlite", "mariadb", "both"], default="both")
    args = parser.parse_args()
    rows = {}
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        if args.backend in ("sqlite", "both"):
            rows["sqlite"] = measure(f"sqlite:///{tmp / 'sqlite' / 'farewell.db'}", tmp / "sqlite",
                                     args.seconds, args.concurrency)
        if args.backend in ("mariadb", "both"):
            server = MariaDB(tmp / "mariadb").start()
            try:
                rows["mariadb"] = measure(server.create_database("bench"), tmp / "mdb", args.seconds, args.concurrency)
            finally:
                server.stop()
    print(f"{'backend':<10}{'req/s':>10}{'p50 ms':>10}{'p99 ms':>10}  statuses")
    for backend, row in rows.items():
        print(f"{backend:<10}{row['requests_per_second']:>10}{row['p50_ms']:>10}{row['p99_ms']:>10}  {row['statuses']}")
    RESULTS.mkdir(exist_ok=True)
    with open(RESULTS / "ingest_load.jsonl", "a") as out:
        out.write(json.dumps({"at": datetime.now(timezone.utc).isoformat(), "machine": platform.node(),
                              "cpus": multiprocessing.cpu_count(), "server": "waitress 8 threads",
                              "concurrency": args.concurrency, "seconds": args.seconds, "results": rows}) + "\n")


if __name__ == "__main__":
    main()
