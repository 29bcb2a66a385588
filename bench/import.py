"""History import, end to end: a real MemberPress site's past subscriptions into the sidecar on MariaDB.

python -m bench.import [--subscriptions 2000] [--small] [--jobs N] [--no-cache] [--replicate-from 10000]

One throw-away MariaDB (tests/support/mariadb.py) holds both the WordPress 6.8 site (with the real
MemberPress 1.12.11, tests/wordpress/real_plugins.py; the archive from ../shared/wordpress-plugins
or $FAREWELL_TEST_PLUGINS) and the real sidecar's database (`python -m sidecar serve`, its applier
thread on). N past subscriptions, a third of them cancelled, spread over the last 24 months, are
seeded through MemberPress's own models (real_plugins.seed_memberpress_history: a PHP loop in one
request per 1,000), before the clock starts; the seeded database is kept as a mysqldump
(seed_cache_path(), $FAREWELL_BENCH_CACHE or the temp folder) and loaded again by the next run of
the same N and seeding code, so that a change can be measured several times. Then `wp farewell
import` (the real WP-CLI: the command line's Start, which runs the importer's steps and delivers
its outbox itself; a `--dry-run` just before it times the reading alone) and, from that Start, the
time until every event is applied and visible in the admin API: no event left
unapplied (GET /unapplied-events) and every cancellation listed by GET /cancellations. Prints
subscriptions/s and the time projected for 100,000 (issue 16's goal: ≤ 5 minutes); appends a JSON
line to bench/results/import.jsonl, with the command's own time per phase (FAREWELL_IMPORT_PROFILE,
Farewell_Bridge_Import_Profile). `--jobs N` adds N jobs processes (appliers) beside `serve`'s
applier thread, as the compose deployment runs them (JOBS_REPLICAS). A measurement, never a test
assertion.

`--replicate-from M` (e.g. `--subscriptions 100000 --replicate-from 10000`): the site is N/M copies of
a seeding through MemberPress's models, replicated in SQL — M subscriptions seeded as above (or
loaded from their cache), then copied N/M − 1 times with id offsets
(real_plugins.replicate_memberpress_history: users and usermeta with unique logins and emails,
MemberPress's subscriptions, transactions, events and members rows, every id that points to
another shifted alike; products, statuses and dates kept), because seeding 100,000 through the
models would take hours. Not the models' own seeding of N: each copy has the same dates and plans
as the original M. Before the clock, MemberPress's API is asked about a few copies
(real_plugins.check_memberpress_replica: their user, product, status, transactions, events) and
the run stops if they differ from their originals; the replicated database is cached like a
seeding (replica_cache_path()). Every run checks that the dry run counts N subscriptions and the
expected cancellations.
"""

from __future__ import annotations

import argparse
import hashlib
import inspect
import json
import os
import shutil
import subprocess
import tempfile
import time
import uuid
from datetime import datetime, timezone
from pathlib import Path

import requests

from tests.support.mariadb import MariaDB
from tests.support.sidecar import JobsProcess, SidecarProcess
from tests.wordpress.real_plugins import (REAL_PLUGINS, check_memberpress_replica, install_real_plugin,
                                         replicate_memberpress_history, seed_memberpress_history, unpack)
from tests.wordpress.site import DatabaseInfo, WordPressSite, ensure_wordpress, free_port, world_readable_root
from tests.wordpress.test_wp_cli_e2e import WP_CLI

from . import results

WORDPRESS = "6.8"
MEMBERPRESS = REAL_PLUGINS["memberpress"]
GOAL_SECONDS_FOR_100K = 300
SEED_CHUNK = 1000
PLANS = ("Or", "Argent", "Platine")


def history(count: int, now: datetime) -> list[dict]:
    """`count` subscriptions over the last 24 months; every third one cancelled 1 to 3 months after
    its start, its access ending a few weeks later."""
    subscriptions = []
    for i in range(count):
        index = now.year * 12 + now.month - 1 - (i % 24) - 4
        year, month = index // 12, index % 12 + 1
        row = {"login": f"past{i}", "plan": PLANS[i % 3], "start": f"{year:04d}-{month:02d}-{1 + i % 27:02d} 10:00:00",
               "expires": "2099-01-01 23:59:59"}
        if i % 3 == 0:
            later = index + 1 + i % 3
            cy, cm = later // 12, later % 12 + 1
            ey, em = (later + 1) // 12, (later + 1) % 12 + 1
            row.update(cancelled=f"{cy:04d}-{cm:02d}-15 08:00:00", expires=f"{ey:04d}-{em:02d}-05 23:59:59",
                       expired=None)
        subscriptions.append(row)
    return subscriptions


def seed_cache_path(count: int, now: datetime) -> Path:
    """Where the seeded WordPress database of this N is kept between runs: a mysqldump keyed by N,
    the month (history() dates from it), MemberPress's archive and the code that seeds (history()
    and seed_memberpress_history()), so that a change to any of them seeds again. Seeding takes
    minutes per 1,000 subscriptions; the clock starts after it either way."""
    key = hashlib.sha256("\n".join([
        str(count), now.strftime("%Y-%m"), MEMBERPRESS.archive_path().name,
        str(MEMBERPRESS.archive_path().stat().st_size),
        inspect.getsource(history), inspect.getsource(seed_memberpress_history), inspect.getsource(install_real_plugin),
    ]).encode()).hexdigest()[:16]
    base = Path(os.environ.get("FAREWELL_BENCH_CACHE") or Path(tempfile.gettempdir()) / "farewell-bench-cache")
    return base / f"import-{count}-{key}.sql"


def replica_cache_path(count: int, replicate_from: int, now: datetime) -> Path:
    """Where the replicated database of N = count is kept: keyed by the seeding it copies (its own
    cache key) and the code that copies it."""
    key = hashlib.sha256("\n".join([
        seed_cache_path(replicate_from, now).name, str(count), inspect.getsource(replicate_memberpress_history),
    ]).encode()).hexdigest()[:16]
    return seed_cache_path(replicate_from, now).parent / f"import-{count}-replicated-from-{replicate_from}-{key}.sql"


def _client(mariadb: MariaDB, tool: str, *args: str) -> list[str]:
    """mariadb or mariadb-dump on the throw-away server's socket."""
    return [shutil.which(tool) or f"/usr/bin/{tool}", "--no-defaults", f"--socket={mariadb.socket}", "-uroot", *args]


def admin_get(sidecar: SidecarProcess, path: str, **params) -> dict:
    """The admin API as an operator's script calls it (no waiting for the applier: that is measured)."""
    response = requests.get(f"{sidecar.url}/v1/sites/{sidecar.site_id}{path}", params=params, timeout=60,
                            headers={"Authorization": f"Bearer {sidecar.admin_token}"})
    response.raise_for_status()
    return response.json()


def visible_cancellations(sidecar: SidecarProcess) -> int:
    total, cursor = 0, None
    while True:
        page = admin_get(sidecar, "/cancellations", limit="500", **({"cursor": cursor} if cursor else {}))
        total += len(page["items"])
        cursor = page.get("next_cursor")
        if not cursor:
            return total


def measure(count: int, work: Path, jobs: int = 0, use_cache: bool = True, replicate_from: int = 0) -> dict:
    mariadb = MariaDB(work / "mariadb").start()
    sidecar = None
    site = None
    job_processes: list[JobsProcess] = []
    try:
        sidecar_url = mariadb.create_database("bench_import_sidecar")
        sidecar = SidecarProcess(sidecar_url, work / "sidecar").start()
        name = f"wp_{uuid.uuid4().hex[:12]}"
        mariadb.create_database(name)
        site = WordPressSite(wp_source=ensure_wordpress(WORDPRESS), root=world_readable_root("bench-import-"),
                             db=DatabaseInfo(mariadb.host, mariadb.port, name, mariadb.user, mariadb.password),
                             port=free_port(), constants={"FAREWELL_SIDECAR_URL": sidecar.url,
                                                          "FAREWELL_SITE_ID": sidecar.site_id,
                                                          "FAREWELL_SECRET": sidecar.secret})
        site.build()
        site.start()
        now = datetime.now(timezone.utc)
        seeding = time.monotonic()

        def load(dump_path: Path) -> None:
            # The site as seeded before: MemberPress's files, then its database (the bridge's
            # settings are constants in wp-config.php, this run's sidecar).
            unpack(MEMBERPRESS, site)
            with dump_path.open("rb") as dump:
                subprocess.run(_client(mariadb, "mariadb", name), stdin=dump, check=True, capture_output=True)

        def keep(dump_path: Path) -> None:
            dump_path.parent.mkdir(parents=True, exist_ok=True)
            partial = dump_path.with_suffix(".part")
            with partial.open("wb") as dump:
                subprocess.run(_client(mariadb, "mariadb-dump", "--single-transaction", name), stdout=dump, check=True)
            partial.replace(dump_path)

        def seed(n: int) -> str:
            cache = seed_cache_path(n, now) if use_cache else None
            if cache is not None and cache.is_file():
                load(cache)
                return "cache"
            setup = install_real_plugin(MEMBERPRESS, site)
            seeded = history(n, now)
            for start in range(0, n, SEED_CHUNK):
                seed_memberpress_history(site, setup, seeded[start:start + SEED_CHUNK], timeout=3600)
            if cache is not None:
                keep(cache)
            return "models"

        replica = None
        if replicate_from:
            copies = count // replicate_from
            cancelled = copies * sum(1 for s in history(replicate_from, now) if s.get("cancelled"))
            cache = replica_cache_path(count, replicate_from, now) if use_cache else None
            if cache is not None and cache.is_file():
                load(cache)
                seeded_from = (f"{copies} copies of {replicate_from} seeded through MemberPress's models, "
                               "replicated in SQL (cache)")
            else:
                base = seed(replicate_from)
                replica = replicate_memberpress_history(site, copies - 1)
                seeded_from = (f"{copies} copies of {replicate_from} seeded through MemberPress's models ({base}), "
                               "replicated in SQL")
                if replica["subscriptions"] != count:
                    raise RuntimeError(f"the replica has {replica['subscriptions']} subscriptions, not {count}")
                if cache is not None:
                    keep(cache)
            # MemberPress's own API about a few copies, before the clock (a cached replica too).
            if replica is None:
                replica = site.wp_json("return get_option('farewell_bench_replica');")
            problems = check_memberpress_replica(site, replica)
            if problems:
                raise RuntimeError("the replicated MemberPress site is not coherent:\n" + "\n".join(problems[:20]))
        else:
            cancelled = sum(1 for s in history(count, now) if s.get("cancelled"))
            seeded_from = seed(count)
        seeding = time.monotonic() - seeding
        # More appliers beside serve's thread, as the compose deployment runs them (JOBS_REPLICAS).
        # Imported events send no email: the mail URL is never used.
        job_processes += [JobsProcess(sidecar_url, work / f"jobs-{i}", "smtp://127.0.0.1:9").start()
                          for i in range(jobs)]

        phases: dict[str, dict] = {}

        def wp_farewell_import(*options: str) -> float:
            began = time.monotonic()
            # FAREWELL_IMPORT_PROFILE: the command prints where its time went, phase by phase
            # (Farewell_Bridge_Import_Profile; a bridge older than it prints nothing).
            run = subprocess.run(["php", str(WP_CLI), f"--path={site.docroot}", "--allow-root", "--no-color",
                                  "farewell", "import", *options], capture_output=True, text=True, timeout=7200,
                                 cwd=site.root, env={**os.environ, "FAREWELL_IMPORT_PROFILE": "1"})
            if run.returncode != 0:
                raise RuntimeError(f"wp farewell import failed:\n{run.stdout[-2000:]}\n{run.stderr[-2000:]}")
            counted = None
            for line in run.stdout.splitlines():
                if line.startswith("FAREWELL_IMPORT_PROFILE "):
                    phases["dry_run" if "--dry-run" in options else "command"] = json.loads(line.split(" ", 1)[1])
                # The dry run's table (source, subscriptions, cancelled, events): tab-separated
                # when the output is not a terminal, bordered with | when it is.
                cells = [cell.strip() for cell in line.strip().strip("|").replace("|", "\t").split("\t")]
                if cells[0] == "memberpress" and len(cells) == 4:
                    counted = (int(cells[1]), int(cells[2]))
            return time.monotonic() - began, counted

        # Reading alone first (a dry run reads every subscription and writes nothing), so that the
        # import's time splits into reading MemberPress and queuing + delivering + applying.
        dry_run, counted = wp_farewell_import("--dry-run")
        if counted != (count, cancelled):
            raise RuntimeError(f"the dry run counts {counted} (subscriptions, cancelled), not {(count, cancelled)}")
        started = time.monotonic()
        cli_done, _ = wp_farewell_import()
        while True:
            unapplied = admin_get(sidecar, "/unapplied-events")
            if unapplied["parked"]:
                raise RuntimeError(f"the sidecar parked imported events: {unapplied['items'][:3]}")
            if unapplied["pending"] == 0 and visible_cancellations(sidecar) == cancelled:
                break
            time.sleep(0.2)
        elapsed = time.monotonic() - started
        return {"subscriptions": count, "cancelled": cancelled, "seeding_s": round(seeding, 1),
                "seeded_from": seeded_from,
                "jobs_processes": jobs, "replicated_from": replicate_from or None,
                "dry_run_counted": {"subscriptions": counted[0], "cancelled": counted[1]},
                "dry_run_s": round(dry_run, 1), "import_command_s": round(cli_done, 1), "elapsed_s": round(elapsed, 1),
                "subscriptions_per_s": round(count / elapsed, 1), "phases": phases,
                "projected_100k_s": round(100_000 * elapsed / count)}
    finally:
        for process in job_processes:
            process.stop()
        if site is not None:
            site.cleanup()
        if sidecar is not None:
            sidecar.stop()
        mariadb.stop()


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(prog="python -m bench.import")
    parser.add_argument("--subscriptions", type=int, default=2000, help="past subscriptions to import")
    parser.add_argument("--small", action="store_true", help="a few subscriptions (CI smoke run)")
    parser.add_argument("--jobs", type=int, default=0,
                        help="jobs processes (appliers) beside serve's applier thread, as JOBS_REPLICAS deploys them")
    parser.add_argument("--replicate-from", type=int, default=0, metavar="M",
                        help="build the site from N/M copies of M subscriptions seeded through MemberPress's models, "
                             "replicated in SQL (seeding 100,000 through the models takes hours)")
    parser.add_argument("--no-cache", action="store_true",
                        help="seed through MemberPress's models even when a dump of the same seeding is cached")
    args = parser.parse_args(argv)
    count = 30 if args.small else args.subscriptions
    if args.replicate_from and (count % args.replicate_from or count <= args.replicate_from):
        parser.exit(2, f"--subscriptions ({count}) must be a multiple of --replicate-from "
                       f"({args.replicate_from}), larger\n")
    if not MEMBERPRESS.archive_path().is_file():
        parser.exit(2, f"MemberPress is missing: {MEMBERPRESS.archive_path()} (copy the archives listed in "
                       "../shared/wordpress-plugins/README.md, or set FAREWELL_TEST_PLUGINS)\n")
    load_before = os.getloadavg()
    with tempfile.TemporaryDirectory() as tmp:
        measured = measure(count, Path(tmp), jobs=args.jobs, use_cache=not args.no_cache,
                           replicate_from=args.replicate_from)
    row = {"wordpress": WORDPRESS, "plugin": "memberpress-1.12.11", "database": "MariaDB (throw-away)",
           "driver": "wp farewell import", "commit": results.commit(), **measured,
           "goal_100k_s": GOAL_SECONDS_FOR_100K,
           "load_average_before": [round(x, 2) for x in load_before],
           "load_average_after": [round(x, 2) for x in os.getloadavg()]}
    print(f"WordPress {WORDPRESS} + MemberPress 1.12.11 → sidecar on MariaDB; load average "
          f"{row['load_average_before'][0]} → {row['load_average_after'][0]}")
    print(f"{'subscriptions':>14}{'cancelled':>11}{'seeding s':>11}{'dry run s':>11}{'command s':>11}"
          f"{'applied s':>11}{'subs/s':>9}{'100k proj. s':>14}   goal")
    print(f"{count:>14}{measured['cancelled']:>11}{measured['seeding_s']:>11}{measured['dry_run_s']:>11}"
          f"{measured['import_command_s']:>11}"
          f"{measured['elapsed_s']:>11}{measured['subscriptions_per_s']:>9}{measured['projected_100k_s']:>14}"
          f"   <= {GOAL_SECONDS_FOR_100K}")
    results.append("import", row)
    return row


if __name__ == "__main__":
    main()
