"""Ingest: signed events per second into MariaDB through gunicorn (2 workers), side by side in one
run with two bare Flask apps on the same server (bench/bare_app.py): one that verifies and stores
nothing, and the floor of any durable receiver, one that stores each body with one INSERT on the
same MariaDB. All three are loaded by wrk from a second process.

python -m bench.ingest [--seconds 10] [--connections 16] [--jobs 1] [--small]
python -m bench.ingest --batch [--seconds 10] [--connections 4] [--small]

Every request of the sidecar's run is a new event (its own webhook-id, signed just before the
run), so what is measured is verify + validate + one insert per event, not deduplication. A jobs
process applies the events meanwhile, as in production; how long each waited between its 202
and its apply (p50, p99, max) is read from the events table once all are applied; ``--jobs N``
runs N jobs processes side by side (their appliers claim different events). Prints
requests/s and p99 for each and the ratios; appends a JSON line to bench/results/ingest.jsonl.
A measurement, never a test assertion.

``--batch``: events per second through POST …/events/batch (500 new events per request, signed
with fw2 beforehand, sent back to back by ``--connections`` keep-alive clients), beside the same
floor app (one INSERT per single-event request, loaded by wrk as above) in the same run; no jobs
process meanwhile, so the ingest is measured alone. Then a jobs process applies what was stored,
and how long that took is printed too. Appends to bench/results/ingest_batch.jsonl.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from datetime import datetime, timezone
from pathlib import Path

import sqlalchemy as sa

from sidecar import db
from sidecar.domain.sites import create_site
from sidecar.signing import sign
from sidecar.storage.tables import events
from tests.support.mariadb import MariaDB
from tests.support.net import free_port, wait_for_http

from . import results
from .bare_app import BODIES

ROOT = Path(__file__).resolve().parents[1]
LUA = Path(__file__).parent / "wrk_presigned.lua"
WRK_THREADS = 2


def _lua_string(text: str) -> str:
    return "'" + text.replace("\\", "\\\\").replace("'", "\\'").replace("\n", "\\n") + "'"


def write_presigned(path: Path, site_id: str, secret: str, count: int) -> None:
    """``count`` distinct cancellation events, signed now, as a Lua table for wrk."""
    now = datetime.now(timezone.utc)
    lines = [f"return {{path = {_lua_string(f'/v1/sites/{site_id}/events')}, requests = {{"]
    for n in range(count):
        body = json.dumps({
            "type": "subscription.cancelled", "occurred_at": now.isoformat(), "source": "test",
            "initiated_by": "member",
            "member": {"id": str(n), "email": f"member{n}@example.org", "first_name": "Zoë", "locale": "fr_FR"},
            "subscription": {"id": f"sub_{n}", "plan_name": "Or", "amount": "29.00", "currency": "EUR",
                             "interval": "month"},
        }, ensure_ascii=False)
        headers = {"Content-Type": "application/json", **sign(secret, f"bench_{uuid.uuid4().hex}", body, now)}
        header_lua = ", ".join(f"[{_lua_string(k)}] = {_lua_string(v)}" for k, v in headers.items())
        lines.append(f"{{headers = {{{header_lua}}}, body = {_lua_string(body)}}},")
    lines.append("}}")
    path.write_text("\n".join(lines))


def run_wrk(url: str, requests_file: Path, seconds: float, connections: int) -> dict:
    env = {**os.environ, "FAREWELL_BENCH_REQUESTS": str(requests_file), "FAREWELL_BENCH_THREADS": str(WRK_THREADS)}
    out = subprocess.run(
        ["wrk", f"-t{WRK_THREADS}", f"-c{connections}", f"-d{seconds:g}s", "--latency", "-s", str(LUA), url],
        env=env, capture_output=True, text=True, check=True,
    ).stdout
    rate = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
    total = int(re.search(r"(\d+) requests in", out).group(1))
    p99 = re.search(r"99%\s+([\d.]+)(us|ms|s)\b", out)
    p99_ms = float(p99.group(1)) * {"us": 0.001, "ms": 1, "s": 1000}[p99.group(2)]
    non_2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    return {"requests_per_second": rate, "requests": total, "p99_ms": round(p99_ms, 2),
            "non_2xx": int(non_2xx.group(1)) if non_2xx else 0}


def gunicorn(app_spec: str, port: int, env: dict, log: Path, workers: int = 2) -> subprocess.Popen:
    with open(log, "ab") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", "gunicorn", "--workers", str(workers), "--bind", f"127.0.0.1:{port}", app_spec],
            cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT,
        )
    wait_for_http(f"http://127.0.0.1:{port}/", process=process)
    wait_until_loaded(process.pid, workers)
    return process


def _cpu_ticks(pid: int) -> int:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return int(fields[11]) + int(fields[12])  # utime + stime


def _children(pid: int) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1]) == pid:
                    found.append(int(entry.name))
            except (OSError, ValueError, IndexError):
                pass
    return found


def wait_until_loaded(pid: int, workers: int, quiet: float = 0.5, timeout: float = 60) -> None:
    """Until all ``workers`` of the server are forked and its processes have used no CPU for
    ``quiet`` seconds. wait_for_http returns when one worker answers, while the other may still be
    loading its app: the sidecar's create_app imports for about a second of CPU (matplotlib, for
    the digest's chart), the bare apps' a fraction of it, so a run started then timed one app's
    start-up beside its requests and not the other's. Every app is measured loaded."""
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        pids = [pid, *sorted(_children(pid))]
        try:
            ticks = sum(_cpu_ticks(p) for p in pids)
        except OSError:  # a worker exited meanwhile: look again
            last = None
            continue
        if last == (pids, ticks) and len(pids) > workers:
            return
        last = (pids, ticks)
        time.sleep(quiet)


def server_cpu_seconds(process: subprocess.Popen) -> float:
    """CPU time (user + system) of a gunicorn server and its workers so far, from /proc."""
    ticks = 0
    for pid in (process.pid, *_children(process.pid)):
        try:
            ticks += _cpu_ticks(pid)
        except OSError:  # a worker exited meanwhile
            pass
    return ticks / os.sysconf("SC_CLK_TCK")


def run_wrk_counting_cpu(process: subprocess.Popen, url: str, requests_file: Path, seconds: float,
                         connections: int) -> dict:
    """run_wrk, and the server's CPU per request over it (``server_cpu_ms_per_request``): a count
    that the machine's load moves far less than requests/s (the CPU a request costs, not how much
    of the cores the server got)."""
    before = server_cpu_seconds(process)
    result = run_wrk(url, requests_file, seconds, connections)
    used = server_cpu_seconds(process) - before
    result["server_cpu_ms_per_request"] = round(used * 1000 / result["requests"], 3) if result["requests"] else None
    return result


def stop(process: subprocess.Popen) -> None:
    process.terminate()
    process.wait(timeout=30)


def measure(seconds: float, connections: int, presigned: int, work: Path, jobs_count: int = 1) -> dict:
    mariadb = MariaDB(work / "mariadb").start()
    try:
        url = mariadb.create_database("bench_ingest")
        engine = db.create_engine(url)
        db.migrate(engine)
        site = create_site(engine, "https://bench.example.org", "Bench")
        requests_file = work / "presigned.lua"
        write_presigned(requests_file, site["id"], site["secret"], presigned)
        env = {**os.environ, "FAREWELL_DATABASE_URL": url, "FAREWELL_DATA_DIR": str(work / "data"),
               "FAREWELL_SECRET_KEY": "bench-secret-key-0123456789"}
        BODIES.create(engine)
        # Started first, so that it is up (imports, migration) well before the sidecar's run; it
        # only polls an empty table meanwhile.
        jobs = [jobs_process(env, work / f"jobs{n}.log") for n in range(jobs_count)]
        try:
            bare_port, store_port, sidecar_port = free_port(), free_port(), free_port()
            bare = gunicorn("bench.bare_app:app", bare_port, env, work / "bare.log")
            try:
                bare_result = run_wrk(f"http://127.0.0.1:{bare_port}", requests_file, seconds, connections)
            finally:
                stop(bare)
            store = gunicorn("bench.bare_app:store_app", store_port, env, work / "store.log")
            try:
                store_result = run_wrk_counting_cpu(store, f"http://127.0.0.1:{store_port}", requests_file, seconds,
                                                    connections)
            finally:
                stop(store)
            with engine.connect() as conn:
                store_result["bodies_stored"] = conn.execute(
                    sa.select(sa.func.count()).select_from(BODIES)).scalar_one()
            sidecar = gunicorn("sidecar:create_app()", sidecar_port, env, work / "sidecar.log")
            try:
                sidecar_result = run_wrk_counting_cpu(sidecar, f"http://127.0.0.1:{sidecar_port}", requests_file,
                                                      seconds, connections)
            finally:
                stop(sidecar)
            sidecar_result.update(apply_lag(engine))
        finally:
            for process in jobs:
                stop(process)
        engine.dispose()
    finally:
        mariadb.stop()
    if sidecar_result["requests"] > presigned:
        sidecar_result["note"] = "ran out of pre-signed requests: later ones were duplicates"
    rate = sidecar_result["requests_per_second"]
    return {"bare_flask": bare_result, "bare_flask_one_insert": store_result, "sidecar_mariadb": sidecar_result,
            "ratio": round(rate / bare_result["requests_per_second"], 3),
            "ratio_to_one_insert": round(rate / store_result["requests_per_second"], 3)}


def jobs_process(env: dict, log: Path) -> subprocess.Popen:
    """The jobs process that applies the events as they come (its dispatcher finds nothing due)."""
    with open(log, "ab") as out:
        return subprocess.Popen([sys.executable, "-m", "jobs"], cwd=ROOT, env=env, stdout=out,
                                stderr=subprocess.STDOUT)


def apply_lag(engine, timeout: float = 300) -> dict:
    """Once every stored event is applied (bounded wait): how many were stored, and how long each
    waited from its 202 (received_at) to its apply (applied_at)."""
    deadline = time.monotonic() + timeout
    while True:
        with engine.connect() as conn:
            stored, waiting = conn.execute(sa.select(sa.func.count(), sa.func.count() - sa.func.count(
                events.c.applied_at)).select_from(events)).one()
        if waiting == 0 or time.monotonic() > deadline:
            break
        time.sleep(0.2)
    with engine.connect() as conn:
        times = conn.execute(sa.select(events.c.received_at, events.c.applied_at)
                             .where(events.c.applied_at.is_not(None))).all()
    lags = sorted((applied - received).total_seconds() for received, applied in times)
    # The applier's rate over the run: events applied / from the first 202 to the last apply. Below
    # the rate the web workers accept, the lag grows through the run.
    span = (max(a for _, a in times) - min(r for r, _ in times)).total_seconds() if times else 0
    def pick(q: float) -> float | None:
        return round(lags[min(len(lags) - 1, int(q * len(lags)))] * 1000, 1) if lags else None

    return {"events_stored": stored, "events_unapplied_at_end": waiting, "apply_lag_p50_ms": pick(0.5),
            "apply_lag_p99_ms": pick(0.99), "apply_lag_max_ms": pick(1.0),
            "applied_per_second": round(len(times) / span, 1) if span > 0 else None}


BATCH_SIZE = 500


def _event(n: int, at: datetime) -> dict:
    return {
        "type": "subscription.cancelled", "occurred_at": at.isoformat(), "source": "test", "initiated_by": "member",
        "member": {"id": str(n), "email": f"member{n}@example.org", "first_name": "Zoë", "locale": "fr_FR"},
        "subscription": {"id": f"sub_{n}", "plan_name": "Or", "amount": "29.00", "currency": "EUR",
                         "interval": "month"},
    }


def presign_batches(site_id: str, secret: str, count: int) -> tuple[str, list[tuple[dict, bytes]]]:
    """``count`` batches of BATCH_SIZE distinct events, each signed now with fw2 for the batch route."""
    now = datetime.now(timezone.utc)
    path = f"/v1/sites/{site_id}/events/batch"
    batches = []
    for b in range(count):
        items = [{"webhook_id": f"bench_{uuid.uuid4().hex}", "event": _event(b * BATCH_SIZE + n, now)}
                 for n in range(BATCH_SIZE)]
        body = json.dumps({"events": items}, ensure_ascii=False)
        headers = {"Content-Type": "application/json",
                   **sign(secret, f"batch_{uuid.uuid4().hex}", body, now, method="POST", path=path)}
        batches.append((headers, body.encode("utf-8")))
    return path, batches


def send_batches(port: int, path: str, batches: list, seconds: float, connections: int) -> dict:
    """Send the batches back to back from ``connections`` threads for ``seconds`` (each batch once);
    events/s counts the events the sidecar answered accepted."""
    lock = threading.Lock()
    queue = iter(batches)
    totals = {"requests": 0, "accepted": 0, "other": 0, "non_200": 0, "latencies": []}
    deadline = time.monotonic() + seconds

    def client() -> None:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
        while time.monotonic() < deadline:
            with lock:
                batch = next(queue, None)
            if batch is None:
                return
            started = time.monotonic()
            conn.request("POST", path, body=batch[1], headers=batch[0])
            response = conn.getresponse()
            answer = response.read()
            took = time.monotonic() - started
            statuses = [r["status"] for r in json.loads(answer)["results"]] if response.status == 200 else []
            with lock:
                totals["requests"] += 1
                totals["latencies"].append(took)
                totals["non_200"] += response.status != 200
                totals["accepted"] += statuses.count("accepted")
                totals["other"] += len(statuses) - statuses.count("accepted")

    started = time.monotonic()
    threads = [threading.Thread(target=client) for _ in range(connections)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    elapsed = time.monotonic() - started
    latencies = sorted(totals.pop("latencies"))
    p99 = latencies[min(len(latencies) - 1, int(0.99 * len(latencies)))] * 1000 if latencies else None
    return {**totals, "seconds": round(elapsed, 2), "events_per_second": round(totals["accepted"] / elapsed, 1),
            "requests_per_second": round(totals["requests"] / elapsed, 2),
            "p99_ms_per_batch": round(p99, 1) if p99 is not None else None,
            "ran_out_of_batches": totals["requests"] == len(batches)}


def wait_applied(engine, timeout: float = 600) -> dict:
    """How long until every stored event is applied (bounded), and so the applier's events/s."""
    started = time.monotonic()
    while True:
        with engine.connect() as conn:
            stored, waiting = conn.execute(sa.select(sa.func.count(), sa.func.count() - sa.func.count(
                events.c.applied_at)).select_from(events)).one()
        if waiting == 0 or time.monotonic() - started > timeout:
            break
        time.sleep(0.5)
    elapsed = time.monotonic() - started
    return {"events_stored": stored, "events_unapplied_at_end": waiting, "apply_seconds": round(elapsed, 1),
            "applied_per_second": round((stored - waiting) / elapsed, 1) if elapsed else None}


def measure_batch(seconds: float, connections: int, batch_count: int, presigned: int, work: Path) -> dict:
    mariadb = MariaDB(work / "mariadb").start()
    try:
        url = mariadb.create_database("bench_ingest")
        engine = db.create_engine(url)
        db.migrate(engine)
        site = create_site(engine, "https://bench.example.org", "Bench")
        requests_file = work / "presigned.lua"
        write_presigned(requests_file, site["id"], site["secret"], presigned)
        path, batches = presign_batches(site["id"], site["secret"], batch_count)
        env = {**os.environ, "FAREWELL_DATABASE_URL": url, "FAREWELL_DATA_DIR": str(work / "data"),
               "FAREWELL_SECRET_KEY": "bench-secret-key-0123456789"}
        BODIES.create(engine)
        store_port, sidecar_port = free_port(), free_port()
        store = gunicorn("bench.bare_app:store_app", store_port, env, work / "store.log")
        try:
            store_result = run_wrk(f"http://127.0.0.1:{store_port}", requests_file, seconds, 16)
        finally:
            stop(store)
        sidecar = gunicorn("sidecar:create_app()", sidecar_port, env, work / "sidecar.log")
        try:
            batch_result = send_batches(sidecar_port, path, batches, seconds, connections)
        finally:
            stop(sidecar)
        jobs = jobs_process(env, work / "jobs.log")
        try:
            batch_result.update(wait_applied(engine))
        finally:
            stop(jobs)
        engine.dispose()
    finally:
        mariadb.stop()
    return {"bare_flask_one_insert": store_result, "sidecar_batch_mariadb": batch_result,
            "ratio_to_one_insert": round(batch_result["events_per_second"] / store_result["requests_per_second"], 3)}


def main_batch(args) -> dict:
    seconds = 2 if args.small else args.seconds
    connections = args.connections or 4
    # Enough batches for ~6,000 events/s over the run; the bench says when it ran out.
    batch_count = 4 if args.small else max(8, int(seconds * 12))
    with tempfile.TemporaryDirectory() as tmp:
        row = measure_batch(seconds, connections, batch_count, 2_000 if args.small else 20_000, Path(tmp))
    floor, batch = row["bare_flask_one_insert"], row["sidecar_batch_mariadb"]
    print(f"{'MariaDB, gunicorn 2 workers':<40}{'events/s':>10}{'p99 ms':>10}")
    print(f"{'bare app, one INSERT per event (wrk)':<40}{floor['requests_per_second']:>10.1f}{floor['p99_ms']:>10.1f}")
    print(f"{f'sidecar batch of {BATCH_SIZE} ({connections} clients)':<40}{batch['events_per_second']:>10.1f}"
          f"{batch['p99_ms_per_batch'] or 0:>10.1f}  (per batch)")
    print(f"ratio batch / one-insert floor = {row['ratio_to_one_insert']} (goal: >= 1,700 events/s and the floor); "
          f"answers: {batch['accepted']} accepted, {batch['other']} other, {batch['non_200']} non-200"
          + ("; RAN OUT of pre-signed batches" if batch["ran_out_of_batches"] else ""))
    print(f"then applied by one jobs process: {batch['events_stored'] - batch['events_unapplied_at_end']} of "
          f"{batch['events_stored']} in {batch['apply_seconds']} s ({batch['applied_per_second']} events/s)")
    results.append("ingest_batch", {"seconds": seconds, "connections": connections, "batch_size": BATCH_SIZE, **row})
    return row


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(prog="python -m bench.ingest")
    parser.add_argument("--seconds", type=float, default=10)
    parser.add_argument("--connections", type=int, default=None, help="16 (wrk), 4 with --batch")
    parser.add_argument("--small", action="store_true", help="a 2-second smoke run (CI)")
    parser.add_argument("--jobs", type=int, default=1, help="jobs processes applying side by side")
    parser.add_argument("--batch", action="store_true", help="the batch route beside the one-insert floor")
    args = parser.parse_args(argv)
    if shutil.which("wrk") is None:
        raise SystemExit("wrk is missing: `make test` installs it (apt-get install wrk)")
    if args.batch:
        return main_batch(args)
    args.connections = args.connections or 16
    seconds = 2 if args.small else args.seconds
    presigned = 2_000 if args.small else 20_000
    load_before = os.getloadavg()[0]
    with tempfile.TemporaryDirectory() as tmp:
        row = measure(seconds, args.connections, presigned, Path(tmp), args.jobs)
    # The machine is shared: its load says how far the figures are from a quiet machine's.
    row["load_average"] = [round(load_before, 2), round(os.getloadavg()[0], 2)]
    row["code"] = results.commit()
    print(f"{'app (gunicorn, 2 workers)':<28}{'req/s':>10}{'p99 ms':>10}{'non-2xx':>9}")
    for name in ("bare_flask", "bare_flask_one_insert", "sidecar_mariadb"):
        r = row[name]
        print(f"{name:<28}{r['requests_per_second']:>10.1f}{r['p99_ms']:>10.1f}{r['non_2xx']:>9}")
    sidecar = row["sidecar_mariadb"]
    print(f"ratio sidecar / bare one-insert = {row['ratio_to_one_insert']} (goal >= 0.5); "
          f"sidecar / bare = {row['ratio']}")
    print(f"events stored: {sidecar['events_stored']}, unapplied at the end: {sidecar['events_unapplied_at_end']}; "
          f"202 to applied: p50 {sidecar['apply_lag_p50_ms']} ms, p99 {sidecar['apply_lag_p99_ms']} ms "
          f"(goal <= 2000), max {sidecar['apply_lag_max_ms']} ms; applied {sidecar['applied_per_second']} events/s")
    print(f"server CPU per request (gunicorn master + workers, /proc): one-insert "
          f"{row['bare_flask_one_insert']['server_cpu_ms_per_request']} ms, sidecar {sidecar['server_cpu_ms_per_request']} ms")
    print(f"load average (1 min) before / after: {row['load_average'][0]} / {row['load_average'][1]}")
    results.append("ingest", {"seconds": seconds, "connections": args.connections, "jobs": args.jobs, **row})
    return row


if __name__ == "__main__":
    main()
