"""The bridge's cost to a member's cancel request, in real WordPress.

python -m bench.bridge_cost [--requests 60] [--wordpress 6.8] [--small]

Three WordPress sites on one throw-away MariaDB, served by php -S: the bridge deactivated, the
bridge with the sidecar up (the real `python -m sidecar serve`), and the bridge with the sidecar
black-holed (a socket that accepts and never answers). Members cancel through the MemberPress
stand-in's front-end cancel; requests are interleaved across the three sites so that machine noise
falls on all of them alike. Prints the median and p90 of each and the ratios to the bridge-less
site; appends a JSON line to bench/results/bridge_cost.jsonl. A measurement, never a test assertion.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
from pathlib import Path

from tests.support.mariadb import MariaDB
from tests.support.sidecar import SidecarProcess
from tests.wordpress.site import DatabaseInfo, WordPressSite, ensure_wordpress, free_port
from tests.wordpress.test_bridge_e2e import BlackHole, cancel, make_members

from . import results


def build_site(mariadb: MariaDB, version: str, root: Path, name: str, constants: dict, bridge: bool) -> WordPressSite:
    mariadb.create_database(name)
    site = WordPressSite(wp_source=ensure_wordpress(version), root=root / name,
                         db=DatabaseInfo(mariadb.host, mariadb.port, name, mariadb.user, mariadb.password),
                         port=free_port(), constants=constants, bridge=bridge)
    site.build()
    site.start()
    return site


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(prog="python -m bench.bridge_cost")
    parser.add_argument("--requests", type=int, default=60, help="cancel requests per mode")
    parser.add_argument("--wordpress", default="6.8", choices=["6.1", "6.8"])
    parser.add_argument("--small", action="store_true", help="a few requests (CI smoke run)")
    args = parser.parse_args(argv)
    count = 4 if args.small else args.requests
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        mariadb = MariaDB(work / "mariadb").start()
        hole = BlackHole()
        sidecar = SidecarProcess(mariadb.create_database("sidecar"), work / "sidecar").start()
        sites = {}
        try:
            sites["no bridge"] = build_site(mariadb, args.wordpress, work, "wp_plain", {}, bridge=False)
            sites["sidecar up"] = build_site(mariadb, args.wordpress, work, "wp_up", {
                "FAREWELL_SIDECAR_URL": sidecar.url, "FAREWELL_SITE_ID": sidecar.site_id,
                "FAREWELL_SECRET": sidecar.secret}, bridge=True)
            sites["sidecar black-holed"] = build_site(mariadb, args.wordpress, work, "wp_hole", {
                "FAREWELL_SIDECAR_URL": hole.url, "FAREWELL_SITE_ID": "site_blackhole",
                "FAREWELL_SECRET": sidecar.secret}, bridge=True)
            members = {mode: make_members(site, count, 1) for mode, site in sites.items()}
            sessions = {mode: [site.login(m["login"], m["password"]) for m in members[mode]]
                        for mode, site in sites.items()}
            timings: dict[str, list[float]] = {mode: [] for mode in sites}
            for i in range(count):
                for mode, site in sites.items():
                    timings[mode].append(cancel(sessions[mode][i], site, members[mode][i]["subscriptions"][0]))
        finally:
            for site in sites.values():
                site.cleanup()
            sidecar.stop()
            hole.close()
            mariadb.stop()
    base = statistics.median(timings["no bridge"])
    row = {"wordpress": args.wordpress, "requests_per_mode": count, "modes": {
        mode: {"median_ms": round(statistics.median(t) * 1000, 1), "p90_ms": round(percentile(t, 0.9) * 1000, 1),
               "ratio_to_no_bridge": round(statistics.median(t) / base, 3)} for mode, t in timings.items()}}
    print(f"WordPress {args.wordpress}, {count} cancel requests per mode")
    print(f"{'mode':<22}{'median ms':>11}{'p90 ms':>9}{'ratio':>8}")
    for mode, r in row["modes"].items():
        print(f"{mode:<22}{r['median_ms']:>11}{r['p90_ms']:>9}{r['ratio_to_no_bridge']:>8}   (goal <= 1.05)")
    results.append("bridge_cost", row)
    return row


if __name__ == "__main__":
    main()
