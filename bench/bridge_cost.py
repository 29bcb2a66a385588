"""The bridge's cost to a member's cancel request, in real WordPress with the real MemberPress.

python -m bench.bridge_cost [--server php-s|nginx-fpm|apache ...] [--requests 60] [--small]
                            [--before DIR] [--queries N] [--gap SECONDS]

Per server (php -S, nginx + PHP-FPM, Apache + mod_php: Debian's packages, run as the tests run
them, tests/wordpress/site.py), three WordPress 6.8 sites on one throw-away MariaDB, each with
MemberPress 1.12.11 itself (tests/wordpress/real_plugins.py; the archive from
../shared/wordpress-plugins or $FAREWELL_TEST_PLUGINS): the bridge deactivated, the bridge with
the sidecar up (the real `python -m sidecar serve`), and the bridge with the sidecar black-holed
(a socket that accepts and never answers). Members cancel on MemberPress's own account page
(`?action=cancel&sub=ID`, signed in), as a member does. Requests alternate across the three sites,
in an order that turns every round, so that machine noise falls on all of them alike; a few
account-page loads per site first warm PHP's opcache. Prints the median and p90 of each and the
ratios to the bridge-less site of the same server; appends a JSON line to
bench/results/bridge_cost.jsonl. A measurement, never a test assertion.

--before DIR: DIR/wp-bridge-plugin is the bridge of another commit (`git archive COMMIT
wp-bridge-plugin | tar -x -C DIR`); two more sites run it (sidecar up, on a sidecar of its own,
and black-holed), in the same alternation, so that a change of a few per cent is measured against
the same moments of machine noise rather than against another run's.

--queries N: N more cancels per bridge site, each asking a must-use plugin (on every site, inert
unless asked) to keep WordPress's SAVEQUERIES log: the queries whose call stack passes through the
bridge, before `shutdown` and in it (the member waits for both under mod_php and php -S; under
PHP-FPM for those before the bridge's fastcgi_finish_request() only), counted per cancel. Counts,
not times: the same on a busy machine as on a quiet one.

Each cancel's predecessor in the alternation is kept: a cancel that follows a sidecar-up one meets
that site's work after its response (PHP-FPM's delivery after fastcgi_finish_request(), mod_php's
loopback booting WordPress in another child, the sidecar storing and applying the event) on the
same two cores; the medians per predecessor show what that costs the next request (issue 15: it
was the black-holed site's excess). --gap S waits S seconds before each cancel, so that no cancel
meets the previous one's after-response work: the clean experiment beside the default (none).
"""

from __future__ import annotations

import argparse
import functools
import json
import os
import statistics
import tempfile
import time
from pathlib import Path

from tests.support.black_hole import BlackHole
from tests.support.mariadb import MariaDB
from tests.support.sidecar import SidecarProcess
from tests.wordpress.real_plugins import REAL_PLUGINS, install_real_plugin
from tests.wordpress.site import (
    SERVERS,
    DatabaseInfo,
    WordPressSite,
    ensure_wordpress,
    free_port,
    world_readable_root,
)

from . import results

WORDPRESS = "6.8"  # MemberPress 1.12.11 requires WordPress 6.5
MEMBERPRESS = REAL_PLUGINS["memberpress"]
CANCELLED = "Your subscription was successfully cancelled."
MODES = ("no bridge", "sidecar up", "sidecar black-holed")
BEFORE_MODES = ("sidecar up (before)", "sidecar black-holed (before)")
# Issue 15's goals, as ratios to the bridge-less site: (sidecar up, black-holed). php -S has none
# (no host runs it); the old ≤ 1.05× is shown for it.
GOALS = {"php-s": (1.05, 1.05), "nginx-fpm": (1.02, 1.05), "apache": (1.05, 1.10)}
WARM_UP_LOADS = 5
PROFILE_HEADER = "X-Farewell-Profile"
# Installed on every site (see --queries); does nothing unless the request carries the header.
PROFILE_MU_PLUGIN = r"""<?php
// bench.bridge_cost --queries: the queries of a request that asks for it, with their callers.
if ( empty( $_SERVER['HTTP_X_FAREWELL_PROFILE'] ) ) {
	return;
}
define( 'SAVEQUERIES', true );
add_action( 'shutdown', function () {
	$GLOBALS['farewell_bench_shutdown_at'] = count( (array) $GLOBALS['wpdb']->queries );
}, PHP_INT_MIN );
add_action( 'shutdown', function () {
	$bridge = array();
	foreach ( (array) $GLOBALS['wpdb']->queries as $i => $q ) {
		if ( false !== strpos( $q[2], 'Farewell_Bridge' ) ) {
			$bridge[] = array( 'sql' => substr( preg_replace( '/\s+/', ' ', $q[0] ), 0, 160 ), 'ms' => round( $q[1] * 1000, 3 ),
				'in_shutdown' => $i >= $GLOBALS['farewell_bench_shutdown_at'] );
		}
	}
	$line = array( 'uri' => $_SERVER['REQUEST_URI'], 'queries' => count( (array) $GLOBALS['wpdb']->queries ),
		'bridge' => $bridge );
	$file = dirname( ABSPATH ) . '/bench-profile.jsonl';
	file_put_contents( $file, wp_json_encode( $line ) . "\n", FILE_APPEND | LOCK_EX );
}, PHP_INT_MAX );
"""
TIMING_HEADER = "X-Farewell-Timing"
# Installed on every site (see --timing); does nothing unless the request carries the header.
# hrtime() (monotonic) around the bridge's loading and each of its hooks, and the request's time on
# the member's clock: from this plugin's loading (the first file WordPress runs after its own
# start-up) to `shutdown`'s first callback, before the bridge ends the response there under
# PHP-FPM; and the CPU time the worker used meanwhile (getrusage), which a busy machine does not
# lengthen as it does the wall time. No SAVEQUERIES: it would cost every query.
TIMING_MU_PLUGIN = r"""<?php
// bench.bridge_cost --timing: where a cancel request's PHP time goes, the bridge's part apart.
if ( empty( $_SERVER['HTTP_X_FAREWELL_TIMING'] ) ) {
	return;
}
function farewell_bench_cpu() {
	$u = getrusage();
	return ( $u['ru_utime.tv_sec'] + $u['ru_stime.tv_sec'] ) * 1e3 + ( $u['ru_utime.tv_usec'] + $u['ru_stime.tv_usec'] ) / 1e3;
}
$GLOBALS['farewell_bench'] = array( 'mu_at' => hrtime( true ), 'mu_cpu' => farewell_bench_cpu(), 'before_mu_ms' => ( microtime( true ) - $_SERVER['REQUEST_TIME_FLOAT'] ) * 1e3, 'hooks' => array(), 'plugins' => array(), 'plugins_from' => hrtime( true ), 'depth' => 0, 'on_clock_ms' => 0.0, 'in_shutdown_ms' => 0.0 );
// The bridge's file is included right after WordPress reads the active plugins (it sorts first):
// from that read to its `plugin_loaded` is its loading.
add_filter( 'option_active_plugins', function ( $value ) {
	if ( ! did_action( 'plugins_loaded' ) ) {
		$GLOBALS['farewell_bench']['plugins_from'] = hrtime( true );
	}
	return $value;
}, PHP_INT_MAX );
add_action( 'plugin_loaded', function ( $plugin ) {
	$now = hrtime( true );
	$GLOBALS['farewell_bench']['plugins'][ basename( dirname( $plugin ) ) ] = ( $now - $GLOBALS['farewell_bench']['plugins_from'] ) / 1e6;
	farewell_bench_wrap();
	$GLOBALS['farewell_bench']['plugins_from'] = hrtime( true );
} );
// Each of the bridge's callbacks, wherever registered, timed on every call (by hook and callback).
function farewell_bench_wrap() {
	foreach ( $GLOBALS['wp_filter'] as $hook => $wp_hook ) {
		foreach ( $wp_hook->callbacks as $priority => $callbacks ) {
			foreach ( $callbacks as $key => $callback ) {
				$function = $callback['function'];
				$owner    = is_array( $function ) ? ( is_object( $function[0] ) ? get_class( $function[0] ) : (string) $function[0] ) : ( is_string( $function ) ? $function : '' );
				$method   = is_array( $function ) ? $function[1] : '';
				if ( $function instanceof Closure ) { // The sources' handlers: Farewell_Bridge_Plugin::guarded().
					$reflection = new ReflectionFunction( $function );
					$scope      = $reflection->getClosureScopeClass();
					$statics    = $reflection->getStaticVariables();
					$owner      = $scope ? $scope->getName() : '';
					$method     = isset( $statics['source'], $statics['method'] ) && is_object( $statics['source'] ) ? get_class( $statics['source'] ) . '::' . $statics['method'] : 'closure';
				}
				if ( 0 !== strpos( $owner, 'Farewell_Bridge' ) ) {
					continue;
				}
				$name = $hook . ' ' . $owner . '::' . $method;
				$wp_hook->callbacks[ $priority ][ $key ]['function'] = function ( ...$args ) use ( $function, $name, $hook ) {
					$started = hrtime( true );
					$outer   = 0 === $GLOBALS['farewell_bench']['depth']++;
					try {
						return call_user_func_array( $function, $args );
					} finally {
						--$GLOBALS['farewell_bench']['depth'];
						$spent = ( hrtime( true ) - $started ) / 1e6;
						$entry = isset( $GLOBALS['farewell_bench']['hooks'][ $name ] ) ? $GLOBALS['farewell_bench']['hooks'][ $name ] : array( 'calls' => 0, 'ms' => 0.0 );
						$GLOBALS['farewell_bench']['hooks'][ $name ] = array( 'calls' => $entry['calls'] + 1, 'ms' => $entry['ms'] + $spent );
						if ( $outer ) { // A bridge hook inside another (the survey's in the source's) counts once.
							$GLOBALS['farewell_bench'][ 'shutdown' === $hook ? 'in_shutdown_ms' : 'on_clock_ms' ] += $spent;
						}
					}
				};
			}
		}
	}
}
foreach ( array( 'plugins_loaded' => PHP_INT_MAX, 'init' => PHP_INT_MAX, 'wp_loaded' => PHP_INT_MIN, 'wp' => PHP_INT_MIN ) as $hook => $priority ) {
	add_action( $hook, 'farewell_bench_wrap', $priority );
}
add_action( 'shutdown', function () { // The member's clock stops in the bridge's shutdown hook under PHP-FPM.
	$GLOBALS['farewell_bench']['request_ms'] = ( hrtime( true ) - $GLOBALS['farewell_bench']['mu_at'] ) / 1e6;
	$GLOBALS['farewell_bench']['cpu_ms']     = farewell_bench_cpu() - $GLOBALS['farewell_bench']['mu_cpu'];
}, PHP_INT_MIN );
add_action( 'shutdown', function () {
	$b = $GLOBALS['farewell_bench'];
	$line = array( 'uri' => $_SERVER['REQUEST_URI'], 'before_mu_ms' => round( $b['before_mu_ms'], 3 ),
		'request_ms' => round( $b['request_ms'], 3 ), 'cpu_ms' => round( $b['cpu_ms'], 3 ),
		'bridge_load_ms' => isset( $b['plugins']['farewell-bridge'] ) ? round( $b['plugins']['farewell-bridge'], 3 ) : null,
		'on_clock_ms' => round( $b['on_clock_ms'], 3 ), 'in_shutdown_ms' => round( $b['in_shutdown_ms'], 3 ), 'hooks' => $b['hooks'] );
	file_put_contents( dirname( ABSPATH ) . '/bench-timing.jsonl', wp_json_encode( $line ) . "\n", FILE_APPEND | LOCK_EX );
}, PHP_INT_MAX );
"""


def build_site(mariadb: MariaDB, server: str, name: str, constants: dict, bridge: bool,
               plugin_source: Path | None = None) -> WordPressSite:
    """A WordPress 6.8 site served by `server` with MemberPress set up as a site owner would (the
    bridge from `plugin_source` if given, else this tree's)."""
    mariadb.create_database(name)
    extra = {"plugin_source": plugin_source} if plugin_source is not None else {}
    site = WordPressSite(wp_source=ensure_wordpress(WORDPRESS), root=world_readable_root(f"bench-{name}-"),
                         db=DatabaseInfo(mariadb.host, mariadb.port, name, mariadb.user, mariadb.password),
                         port=free_port(), constants=constants, bridge=bridge, server=server, **extra)
    try:
        site.build()
        (site.docroot / "wp-content" / "mu-plugins" / "farewell-bench-profile.php").write_text(PROFILE_MU_PLUGIN)
        (site.docroot / "wp-content" / "mu-plugins" / "farewell-bench-timing.php").write_text(TIMING_MU_PLUGIN)
        site.start()
        site.memberpress = install_real_plugin(MEMBERPRESS, site)
        site._hand_over()  # MemberPress's files too belong to the workers' user, as on a host
    except BaseException:
        site.cleanup()
        raise
    return site


def make_members(site: WordPressSite, count: int) -> list[dict]:
    """Members with an active MemberPress subscription ("Argent", offline payment), made with
    MemberPress's own checkout steps in one CLI request; the bridge's outbox is emptied and its
    circuit closed afterwards, so every site starts the measurement alike."""
    facts = site.memberpress
    members = site.wp_json(f"""
        $out = array();
        for ($m = 0; $m < {count}; $m++) {{
            $login = 'bench' . $m . '_' . wp_generate_password(6, false, false);
            $id = wp_insert_user(array('user_login' => $login, 'user_pass' => $login . '-pw',
                'user_email' => $login . '@example.org', 'first_name' => 'Anaïs', 'locale' => 'fr_FR'));
            if (is_wp_error($id)) {{ throw new Exception($id->get_error_message()); }}
            wp_set_current_user($id);
            list($txn, $sub) = MeprCheckoutCtrl::prepare_transaction(new MeprProduct({facts['plans']['Argent']}), 0,
                $id, '{facts['offline']}');
            MeprOptions::fetch()->payment_method('{facts['offline']}')->process_payment_form($txn);
            $out[] = array('login' => $login, 'password' => $login . '-pw', 'subscription' => (int) $sub->id);
        }}
        return $out;
    """, timeout=600)
    site.wp_eval("""
        if (class_exists('Farewell_Bridge_Outbox')) {
            global $wpdb;
            $wpdb->query('DELETE FROM ' . Farewell_Bridge_Outbox::table());
            delete_option(Farewell_Bridge_Dispatcher::CIRCUIT_OPTION);
        }
    """)
    return members


def account_url(site: WordPressSite) -> str:
    url = site.memberpress["account_url"]
    return url + ("&" if "?" in url else "?")


def cancel(session, site: WordPressSite, subscription: int, profile: bool = False, timing: bool = False) -> float:
    """The member's click on "Cancel" on MemberPress's account page; how long WordPress took."""
    started = time.perf_counter()
    headers = {PROFILE_HEADER: "1"} if profile else {TIMING_HEADER: "1"} if timing else None
    response = session.get(f"{account_url(site)}action=cancel&sub={subscription}", timeout=60, headers=headers)
    elapsed = time.perf_counter() - started
    if response.status_code != 200 or CANCELLED not in response.text:
        raise RuntimeError(f"the cancel of {subscription} on {site.url} answered {response.status_code}:\n"
                           f"{response.text[-1500:]}\n{site.logs_tail()}")
    return elapsed


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def measure_server(mariadb: MariaDB, server: str, count: int, work: Path, before: Path | None = None,
                   queries: int = 0, gap: float = 0.0, timing: int = 0
                   ) -> tuple[dict[str, list[float]], dict[str, dict], dict[str, list[str]], dict[str, dict]]:
    """Builds the three sites of one server (five with `before`), lets their members cancel
    alternately (`gap` seconds before each); the timings, the bridge's queries per cancel
    (`queries` profiled cancels), the mode of the cancel before each timed one, and where the PHP
    time of `timing` more cancels per site went (hrtime, see TIMING_MU_PLUGIN)."""
    tag = server.replace("-", "")
    hole = BlackHole()
    sidecar = SidecarProcess(mariadb.create_database(f"sidecar_{tag}"), work / f"sidecar-{tag}").start()
    sidecar_before = None
    sites: dict[str, WordPressSite] = {}
    try:
        sites["no bridge"] = build_site(mariadb, server, f"wp_{tag}_plain", {}, bridge=False)
        sites["sidecar up"] = build_site(mariadb, server, f"wp_{tag}_up", {
            "FAREWELL_SIDECAR_URL": sidecar.url, "FAREWELL_SITE_ID": sidecar.site_id,
            "FAREWELL_SECRET": sidecar.secret}, bridge=True)
        sites["sidecar black-holed"] = build_site(mariadb, server, f"wp_{tag}_hole", {
            "FAREWELL_SIDECAR_URL": hole.url, "FAREWELL_SITE_ID": "site_blackhole",
            "FAREWELL_SECRET": sidecar.secret}, bridge=True)
        if before is not None:
            sidecar_before = SidecarProcess(mariadb.create_database(f"sidecar_{tag}_before"),
                                            work / f"sidecar-{tag}-before").start()
            sites["sidecar up (before)"] = build_site(mariadb, server, f"wp_{tag}_up_before", {
                "FAREWELL_SIDECAR_URL": sidecar_before.url, "FAREWELL_SITE_ID": sidecar_before.site_id,
                "FAREWELL_SECRET": sidecar_before.secret}, bridge=True, plugin_source=before / "wp-bridge-plugin")
            sites["sidecar black-holed (before)"] = build_site(mariadb, server, f"wp_{tag}_hole_before", {
                "FAREWELL_SIDECAR_URL": hole.url, "FAREWELL_SITE_ID": "site_blackhole",
                "FAREWELL_SECRET": sidecar.secret}, bridge=True, plugin_source=before / "wp-bridge-plugin")
        modes = tuple(sites)
        members = {mode: make_members(site, count + (queries if mode != "no bridge" else 0) + timing)
                   for mode, site in sites.items()}
        sessions = {mode: [site.login(m["login"], m["password"]) for m in members[mode]]
                    for mode, site in sites.items()}
        for mode, site in sites.items():
            for _ in range(WARM_UP_LOADS):
                sessions[mode][0].get(site.memberpress["account_url"], timeout=60).raise_for_status()
        timings: dict[str, list[float]] = {mode: [] for mode in sites}
        after: dict[str, list[str]] = {mode: [] for mode in sites}
        previous = "warm-up"
        for i in range(count):
            shift = i % len(modes)
            order = modes[shift:] + modes[:shift]  # each mode first, second, ... in turn
            for mode in order:
                if gap:
                    time.sleep(gap)
                timings[mode].append(cancel(sessions[mode][i], sites[mode], members[mode][i]["subscription"]))
                after[mode].append(previous)
                previous = mode
        profiles = {}
        for mode in modes[1:] if queries else ():
            for i in range(count, count + queries):
                cancel(sessions[mode][i], sites[mode], members[mode][i]["subscription"], profile=True)
            profiles[mode] = bridge_queries(sites[mode])
        timed = {}
        if timing:
            for j in range(timing):
                shift = j % len(modes)
                for mode in modes[shift:] + modes[:shift]:
                    i = count + (queries if mode != "no bridge" else 0) + j
                    if gap:
                        time.sleep(gap)
                    cancel(sessions[mode][i], sites[mode], members[mode][i]["subscription"], timing=True)
            timed = {mode: php_time(site) for mode, site in sites.items()}
        for mode in ("sidecar up", "sidecar up (before)"):
            if mode in sites and sidecar_received(sites[mode]) < count + queries + timing:
                raise RuntimeError(f"the sidecar did not receive every cancel ({mode}): " + site_outbox(sites[mode]))
        return timings, profiles, after, timed
    finally:
        for site in sites.values():
            site.cleanup()
        sidecar.stop()
        if sidecar_before is not None:
            sidecar_before.stop()
        hole.close()


def logged_cancels(site: WordPressSite, log_name: str) -> list[dict]:
    """The cancel requests a must-use plugin of the bench logged in ``log_name`` (a JSON line each)."""
    lines = [json.loads(line) for line in (site.root / log_name).read_text().splitlines() if line]
    return [line for line in lines if "action=cancel" in line["uri"]]


def median_over(cancels: list[dict], pick) -> float:
    return round(statistics.median(pick(line) for line in cancels), 3)


def bridge_queries(site: WordPressSite) -> dict:
    """What the must-use plugin logged of the profiled cancels: the bridge's queries per cancel
    (median), before `shutdown` and in it (under PHP-FPM the bridge ends the response first thing
    there, so the member waits for the first only), and the statements of the last cancel."""
    cancels = logged_cancels(site, "bench-profile.jsonl")
    if not cancels:
        return {}
    median_of = functools.partial(median_over, cancels)

    return {"cancels": len(cancels),
            "before_shutdown": median_of(lambda c: sum(not q["in_shutdown"] for q in c["bridge"])),
            "in_shutdown": median_of(lambda c: sum(q["in_shutdown"] for q in c["bridge"])),
            "in_shutdown_ms": median_of(lambda c: round(sum(q["ms"] for q in c["bridge"] if q["in_shutdown"]), 3)),
            "before_shutdown_ms": median_of(
                lambda c: round(sum(q["ms"] for q in c["bridge"] if not q["in_shutdown"]), 3)),
            "all_queries": median_of(lambda c: c["queries"]),
            "last": [("S " if q["in_shutdown"] else "  ") + q["sql"] for q in cancels[-1]["bridge"]]}


def php_time(site: WordPressSite) -> dict:
    """What the timing must-use plugin logged of the timed cancels (medians, ms): the request on
    the member's clock (from the first plugin file to `shutdown`), its CPU time, the bridge's
    loading, its hooks before `shutdown` (on the member's clock; a hook run inside another, as the
    survey's inside the source's, counted once) and in it (under PHP-FPM after the response is
    ended), and each hook's, inclusive."""
    cancels = logged_cancels(site, "bench-timing.jsonl")
    if not cancels:
        return {}
    median_of = functools.partial(median_over, cancels)

    names = sorted({name for line in cancels for name in (line["hooks"] or {})})
    return {"cancels": len(cancels),
            "request_ms": median_of(lambda c: c["request_ms"]),
            "cpu_ms": median_of(lambda c: c["cpu_ms"]),
            "before_mu_ms": median_of(lambda c: c["before_mu_ms"]),
            "bridge_load_ms": median_of(lambda c: c["bridge_load_ms"] or 0.0),
            "bridge_hooks_on_clock_ms": median_of(lambda c: c["on_clock_ms"]),
            "bridge_on_clock_ms": median_of(lambda c: (c["bridge_load_ms"] or 0.0) + c["on_clock_ms"]),
            "bridge_hooks_in_shutdown_ms": median_of(lambda c: c["in_shutdown_ms"]),
            "hooks": {name: median_of(lambda c: (c["hooks"] or {}).get(name, {"ms": 0.0})["ms"]) for name in names}}


def by_predecessor(times: list[float], before: list[str], base: float) -> dict[str, dict]:
    """The median's ratio to `base` of the cancels that followed each mode (and how many)."""
    groups: dict[str, list[float]] = {}
    for t, mode in zip(times, before):
        groups.setdefault(mode, []).append(t)
    return {mode: {"n": len(ts), "ratio": round(statistics.median(ts) / base, 3)}
            for mode, ts in sorted(groups.items())}


def sidecar_received(site: WordPressSite, timeout: float = 120) -> int:
    """How many cancellations the bridge delivered (cron runs for whatever waits), once all are."""
    deadline = time.monotonic() + timeout
    while True:
        left = int(site.wp_eval("""
            global $wpdb;
            echo (int) $wpdb->get_var("SELECT COUNT(*) FROM " . Farewell_Bridge_Outbox::table()
                . " WHERE status <> 'delivered'");
        """).strip() or 0)
        delivered = int(site.wp_eval("""
            global $wpdb;
            echo (int) $wpdb->get_var("SELECT COUNT(*) FROM " . Farewell_Bridge_Outbox::table()
                . " WHERE status = 'delivered' AND event_type = 'subscription.cancelled'");
        """).strip() or 0)
        if left == 0 or time.monotonic() > deadline:
            return delivered
        site.wp_eval("Farewell_Bridge_Outbox::make_pending_due(); define('DOING_CRON', true); "
                     "do_action('farewell_bridge_deliver');")
        time.sleep(0.5)


def site_outbox(site: WordPressSite) -> str:
    return site.wp_eval("""
        global $wpdb;
        echo wp_json_encode($wpdb->get_results('SELECT id, event_type, status, attempts, last_error FROM '
            . Farewell_Bridge_Outbox::table(), ARRAY_A));
    """)


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(prog="python -m bench.bridge_cost")
    parser.add_argument("--requests", type=int, default=60, help="cancel requests per mode and server")
    parser.add_argument("--server", action="append", choices=SERVERS,
                        help="a server to measure (repeatable); default: all three")
    parser.add_argument("--small", action="store_true", help="a few requests (CI smoke run)")
    parser.add_argument("--before", type=Path, help="a directory holding wp-bridge-plugin/ of the commit to "
                        "compare with: two more sites run it, in the same alternation")
    parser.add_argument("--queries", type=int, default=0, help="profiled cancels per bridge site: the bridge's "
                        "queries per cancel (SAVEQUERIES)")
    parser.add_argument("--timing", type=int, default=0, help="timed cancels per site after the others: where "
                        "the request's PHP time goes, the bridge's loading and hooks apart (hrtime)")
    parser.add_argument("--gap", type=float, default=0.0, help="seconds to wait before each cancel, so that none "
                        "meets the previous cancel's after-response work")
    args = parser.parse_args(argv)
    if args.before is not None and not (args.before / "wp-bridge-plugin" / "farewell-bridge.php").is_file():
        parser.exit(2, f"no wp-bridge-plugin/farewell-bridge.php in {args.before}\n")
    servers = args.server or list(SERVERS)
    count = 4 if args.small else args.requests
    if not MEMBERPRESS.archive_path().is_file():
        parser.exit(2, f"MemberPress is missing: {MEMBERPRESS.archive_path()} (copy the archives listed in "
                       "../shared/wordpress-plugins/README.md, or set FAREWELL_TEST_PLUGINS)\n")
    load_before = os.getloadavg()
    measured: dict[str, dict[str, list[float]]] = {}
    profiled: dict[str, dict[str, dict]] = {}
    predecessors: dict[str, dict[str, list[str]]] = {}
    php_times: dict[str, dict[str, dict]] = {}
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        mariadb = MariaDB(work / "mariadb").start()
        try:
            for server in servers:
                measured[server], profiled[server], predecessors[server], php_times[server] = measure_server(
                    mariadb, server, count, work, args.before, args.queries, args.gap, args.timing)
        finally:
            mariadb.stop()
    row = {"wordpress": WORDPRESS, "plugin": "memberpress-1.12.11", "commit": results.commit(),
           "requests_per_mode": count, "gap_s": args.gap, "load_average_before": [round(x, 2) for x in load_before],
           "load_average_after": [round(x, 2) for x in os.getloadavg()], "servers": {}}
    if args.before is not None:
        row["before"] = os.environ.get("FAREWELL_BENCH_BEFORE_COMMIT") or str(args.before)
    print(f"WordPress {WORDPRESS} + MemberPress 1.12.11, {count} cancels per mode, alternating"
          f"{f', {args.gap:g} s before each' if args.gap else ''}; "
          f"load average {row['load_average_before'][0]} → {row['load_average_after'][0]}")
    # The median's ratio is the figure; the lowest quartile's too, as the machine is shared and a
    # request that met other work's load spike weighs less there.
    print(f"{'server':<11}{'mode':<30}{'p25 ms':>8}{'median ms':>11}{'p90 ms':>9}{'ratio':>8}{'p25 ratio':>10}   goal")
    for server, timings in measured.items():
        base = statistics.median(timings["no bridge"])
        base_p25 = percentile(timings["no bridge"], 0.25)
        modes = {mode: {"p25_ms": round(percentile(t, 0.25) * 1000, 1),
                        "median_ms": round(statistics.median(t) * 1000, 1),
                        "p90_ms": round(percentile(t, 0.9) * 1000, 1),
                        "ratio_to_no_bridge": round(statistics.median(t) / base, 3),
                        "p25_ratio_to_no_bridge": round(percentile(t, 0.25) / base_p25, 3)}
                 for mode, t in timings.items()}
        row["servers"][server] = modes
        goals = dict(zip(MODES[1:], GOALS[server])) | dict(zip(BEFORE_MODES, GOALS[server]))
        for mode, r in modes.items():
            goal = f"<= {goals[mode]}" if mode in goals else ""
            print(f"{server:<11}{mode:<30}{r['p25_ms']:>8}{r['median_ms']:>11}{r['p90_ms']:>9}"
                  f"{r['ratio_to_no_bridge']:>8}{r['p25_ratio_to_no_bridge']:>10}   {goal}")
        for mode, r in modes.items():
            r["median_ratio_by_predecessor"] = by_predecessor(timings[mode], predecessors[server][mode], base)
            print(f"{'':<13}{mode + ' after:':<30}" + "; ".join(
                f"{before} {v['ratio']}x (n={v['n']})" for before, v in r["median_ratio_by_predecessor"].items()))
        for mode, profile in profiled.get(server, {}).items():
            modes[mode]["bridge_queries"] = profile
            if profile:
                print(f"{server:<11}{mode:<30}bridge queries per cancel: {profile['before_shutdown']:g} before "
                      f"shutdown ({profile['before_shutdown_ms']:g} ms), {profile['in_shutdown']:g} in it "
                      f"({profile['in_shutdown_ms']:g} ms); all queries {profile['all_queries']:g}")
                for sql in profile["last"]:
                    print(f"{'':<13}{sql}")
        for mode, t in php_times.get(server, {}).items():
            modes[mode]["php_time"] = t
            if t:
                print(f"{server:<11}{mode:<30}PHP time per cancel (median of {t['cancels']}, ms): request "
                      f"{t['request_ms']:g} (CPU {t['cpu_ms']:g}), the bridge on the clock {t['bridge_on_clock_ms']:g} "
                      f"(loading {t['bridge_load_ms']:g}, hooks {t['bridge_hooks_on_clock_ms']:g}), in shutdown "
                      f"{t['bridge_hooks_in_shutdown_ms']:g}")
                for name, ms in t["hooks"].items():
                    if ms:
                        print(f"{'':<13}{ms:>8.3f}  {name}")
    results.append("bridge_cost", row)
    return row


if __name__ == "__main__":
    main()
