<?php
/**
 * Rate limits of the bridge's public doors (the survey's REST route and email-link look-ups),
 * counted in one table that every PHP process shares.
 *
 * One row per (bucket, window): bucket = scope + a keyed hash of the client's IP address (the
 * address itself is never stored); window = the start of a fixed window of WINDOW seconds. A hit
 * is one atomic `INSERT … ON DUPLICATE KEY UPDATE hits = hits + 1`, which also returns the new
 * count (LAST_INSERT_ID(expr)), so two processes never both see the last allowed hit. Old rows
 * are pruned by an hourly cron event.
 *
 * The client is REMOTE_ADDR. Behind a reverse proxy, every visitor shares the proxy's address:
 * use the `farewell_bridge_client_ip` filter to return the address the proxy reports (only when
 * the proxy overwrites that header, or visitors could choose their own bucket).
 *
 * @package Farewell_Bridge
 */

if ( ! defined( 'ABSPATH' ) ) {
	exit;
}

/**
 * Fixed-window counters per scope and client.
 */
class Farewell_Bridge_Rate_Limit {

	use Farewell_Bridge_Owned_Table;

	const SCHEMA_VERSION = 1;
	const SCHEMA_OPTION  = 'farewell_bridge_rate_limit_schema_version';
	const PRUNE_HOOK     = 'farewell_bridge_prune_rate_limits';

	/** Window length in seconds. */
	const WINDOW = 600;

	/**
	 * Hits allowed per client and window, by scope (filter `farewell_bridge_rate_limit`).
	 * A member answers once, maybe twice; a link is opened a few times.
	 *
	 * @var array<string,int>
	 */
	const LIMITS = array(
		'survey_submit' => 10,
		'survey_lookup' => 30,
	);

	/**
	 * What this class keeps in WordPress, which uninstall.php removes (see Farewell_Bridge_Plugin::DATA_OWNERS).
	 *
	 * @return array See uninstall.php.
	 */
	public static function owned() {
		return array(
			'tables'     => array( self::table() ),
			'options'    => array( self::SCHEMA_OPTION ),
			'cron_hooks' => array( self::PRUNE_HOOK ),
		);
	}

	/**
	 * Table name.
	 *
	 * @return string
	 */
	public static function table() {
		global $wpdb;
		return $wpdb->prefix . 'farewell_rate_limits';
	}

	/**
	 * The table's columns and keys, as dbDelta reads them (see Farewell_Bridge_Owned_Table::install()).
	 *
	 * @return string
	 */
	public static function columns() {
		return "  bucket varchar(64) NOT NULL,
  window_start int(10) unsigned NOT NULL,
  hits int(10) unsigned NOT NULL DEFAULT 0,
  PRIMARY KEY  (bucket,window_start),
  KEY window_start (window_start)";
	}

	/**
	 * The client's address: REMOTE_ADDR unless a documented filter says otherwise.
	 *
	 * @return string
	 */
	public static function client_ip() {
		$ip = isset( $_SERVER['REMOTE_ADDR'] ) ? sanitize_text_field( wp_unslash( $_SERVER['REMOTE_ADDR'] ) ) : '';
		/**
		 * Filters the address rate limits count by. The default is REMOTE_ADDR; X-Forwarded-For
		 * and the like are NOT trusted, since any visitor can send them. Behind a reverse proxy
		 * that overwrites such a header, return the address it reports.
		 *
		 * @param string $ip REMOTE_ADDR.
		 */
		return (string) apply_filters( 'farewell_bridge_client_ip', $ip );
	}

	/**
	 * The bucket of a scope and client: the address is hashed with a key of this site.
	 *
	 * @param string $scope Scope.
	 * @param string $ip    Address.
	 * @return string At most 64 characters.
	 */
	public static function bucket( $scope, $ip ) {
		return substr( $scope, 0, 23 ) . ':' . substr( hash_hmac( 'sha256', (string) $ip, wp_salt( 'nonce' ) ), 0, 40 );
	}

	/**
	 * The limit of a scope.
	 *
	 * @param string $scope Scope.
	 * @return int Hits per window; 0 = unlimited.
	 */
	public static function limit( $scope ) {
		$limit = isset( self::LIMITS[ $scope ] ) ? self::LIMITS[ $scope ] : 10;
		/**
		 * Filters the hits one client may make in a scope per 10-minute window (0: no limit).
		 *
		 * @param int    $limit Hits per window.
		 * @param string $scope survey_submit or survey_lookup.
		 */
		return max( 0, (int) apply_filters( 'farewell_bridge_rate_limit', $limit, $scope ) );
	}

	/**
	 * Counts one hit of this client in a scope.
	 *
	 * @param string   $scope Scope (survey_submit, survey_lookup).
	 * @param int|null $now   Unix time (tests); null = now.
	 * @return array{allowed:bool,hits:int,limit:int,retry_after:int} retry_after: seconds to the
	 *         next window when refused, 0 otherwise. A database error lets the hit through: a
	 *         broken counter must not lock members out.
	 */
	public static function hit( $scope, $now = null ) {
		global $wpdb;
		$now    = null === $now ? time() : (int) $now;
		$limit  = self::limit( $scope );
		$window = $now - ( $now % self::WINDOW );
		$answer = array(
			'allowed'     => true,
			'hits'        => 0,
			'limit'       => $limit,
			'retry_after' => 0,
		);
		if ( 0 === $limit ) {
			return $answer;
		}
		$table    = self::table();
		$suppress = $wpdb->suppress_errors( true );
		$done     = $wpdb->query(
			$wpdb->prepare(
				"INSERT INTO {$table} (bucket, window_start, hits) VALUES (%s, %d, LAST_INSERT_ID(1)) ON DUPLICATE KEY UPDATE hits = LAST_INSERT_ID(hits + 1)", // phpcs:ignore WordPress.DB.PreparedSQL.InterpolatedNotPrepared
				self::bucket( $scope, self::client_ip() ),
				$window
			)
		);
		$hits     = false === $done ? 0 : (int) $wpdb->get_var( 'SELECT LAST_INSERT_ID()' );
		$wpdb->suppress_errors( $suppress );
		$answer['hits'] = $hits;
		if ( $hits > $limit ) {
			$answer['allowed']     = false;
			$answer['retry_after'] = max( 1, $window + self::WINDOW - $now );
		}
		return $answer;
	}

	/**
	 * "Please wait about N minutes", translated, for a refused hit.
	 *
	 * @param int $retry_after Seconds.
	 * @return string
	 */
	public static function message( $retry_after ) {
		$minutes = max( 1, (int) ceil( $retry_after / MINUTE_IN_SECONDS ) );
		/* translators: %d: number of minutes. */
		return sprintf( _n( 'Too many attempts from your connection. Please try again in %d minute.', 'Too many attempts from your connection. Please try again in %d minutes.', $minutes, 'farewell-bridge' ), $minutes );
	}

	/**
	 * Schedules the hourly prune when it is missing. Hooked on init.
	 */
	public static function ensure_scheduled() {
		if ( ! wp_next_scheduled( self::PRUNE_HOOK ) ) {
			wp_schedule_event( time() + HOUR_IN_SECONDS, 'hourly', self::PRUNE_HOOK );
		}
	}

	/**
	 * The hourly prune cron event (PRUNE_HOOK).
	 */
	public static function action_farewell_bridge_prune_rate_limits() {
		self::prune();
	}

	/**
	 * Deletes the counters of windows that are over (the prune cron event).
	 *
	 * @param int|null $now Unix time (tests); null = now.
	 * @return int Rows deleted.
	 */
	public static function prune( $now = null ) {
		global $wpdb;
		$now   = null === $now ? time() : (int) $now;
		$table = self::table();
		return (int) $wpdb->query( $wpdb->prepare( "DELETE FROM {$table} WHERE window_start < %d", $now - self::WINDOW ) ); // phpcs:ignore WordPress.DB.PreparedSQL.InterpolatedNotPrepared
	}
}
