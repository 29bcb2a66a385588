<?php
/**
 * Idempotency of the sidecar's signed requests (docs/PROTOCOL.md, "Sidecar → bridge").
 *
 * One row per webhook-id in {prefix}farewell_bridge_requests. A request first claims its id
 * (INSERT IGNORE under the primary key, so two concurrent retries cannot both do the work), then
 * either records the answer it gave (work done: replayed to every retry) or releases the claim
 * (nothing done: a retry tries again). Rows are kept 8 days (the contract asks for at least 7).
 *
 * @package Farewell_Bridge
 */

if ( ! defined( 'ABSPATH' ) ) {
	exit;
}

/**
 * Claims, answers and replays of sidecar requests.
 */
class Farewell_Bridge_Request_Log {

	use Farewell_Bridge_Owned_Table;

	const SCHEMA_VERSION = 1;
	const SCHEMA_OPTION  = 'farewell_bridge_requests_schema_version';
	const KEEP_SECONDS   = 8 * DAY_IN_SECONDS;
	// A claim older than this whose request never answered belongs to a dead PHP worker.
	const STALE_CLAIM_SECONDS = 300;

	/** Claimed: do the work. */
	const CLAIMED = 'claimed';
	/** Answered before: replay. */
	const ANSWERED = 'answered';
	/** Another request is doing the work right now. */
	const BUSY = 'busy';

	/**
	 * What this class keeps in WordPress, which uninstall.php removes (see Farewell_Bridge_Plugin::DATA_OWNERS).
	 *
	 * @return array See uninstall.php.
	 */
	public static function owned() {
		return array(
			'tables'  => array( self::table() ),
			'options' => array( self::SCHEMA_OPTION ),
		);
	}

	/**
	 * Table name.
	 *
	 * @return string
	 */
	public static function table() {
		global $wpdb;
		return $wpdb->prefix . 'farewell_bridge_requests';
	}

	/**
	 * The table's columns and keys, as dbDelta reads them (see Farewell_Bridge_Owned_Table::install()).
	 *
	 * @return string
	 */
	public static function columns() {
		return "  webhook_id varchar(191) NOT NULL,
  route varchar(32) NOT NULL DEFAULT '',
  status_code smallint(5) unsigned NOT NULL DEFAULT 0,
  answer text NULL,
  created_at datetime NOT NULL,
  PRIMARY KEY  (webhook_id),
  KEY created_at (created_at)";
	}

	/**
	 * Claims a webhook-id for one route.
	 *
	 * @param string $webhook_id Idempotency key.
	 * @param string $route      Route name (mail, coupons).
	 * @return array{0:string,1:int,2:array|null} array( CLAIMED|ANSWERED|BUSY, status, answer ).
	 */
	public static function claim( $webhook_id, $route ) {
		global $wpdb;
		self::maybe_upgrade();
		self::prune();
		$table = self::table();
		$now   = gmdate( 'Y-m-d H:i:s' );
		// phpcs:disable WordPress.DB.DirectDatabaseQuery,WordPress.DB.PreparedSQL.InterpolatedNotPrepared -- our own table.
		$inserted = $wpdb->query( $wpdb->prepare( "INSERT IGNORE INTO {$table} (webhook_id, route, status_code, answer, created_at) VALUES (%s, %s, 0, NULL, %s)", $webhook_id, $route, $now ) );
		if ( 1 === $inserted ) {
			return array( self::CLAIMED, 0, null );
		}
		if ( false === $inserted ) {
			throw new RuntimeException( 'cannot record the request: ' . $wpdb->last_error );
		}
		$row = $wpdb->get_row( $wpdb->prepare( "SELECT route, status_code, answer, created_at FROM {$table} WHERE webhook_id = %s", $webhook_id ), ARRAY_A );
		if ( ! $row ) {
			return self::claim( $webhook_id, $route ); // Pruned in between: claim again.
		}
		if ( (int) $row['status_code'] > 0 ) {
			$answer = json_decode( (string) $row['answer'], true );
			return array( self::ANSWERED, (int) $row['status_code'], is_array( $answer ) ? $answer : array() );
		}
		// Take over a claim abandoned by a worker that died mid-way (at-least-once, like the sidecar).
		$stale = gmdate( 'Y-m-d H:i:s', time() - self::STALE_CLAIM_SECONDS );
		$taken = $wpdb->query( $wpdb->prepare( "UPDATE {$table} SET created_at = %s WHERE webhook_id = %s AND status_code = 0 AND created_at < %s", $now, $webhook_id, $stale ) );
		// phpcs:enable
		return array( 1 === $taken ? self::CLAIMED : self::BUSY, 0, null );
	}

	/**
	 * Records the answer of a claimed request: every retry gets it back.
	 *
	 * @param string $webhook_id Idempotency key.
	 * @param int    $status     HTTP status given.
	 * @param array  $answer     JSON body given.
	 */
	public static function answer( $webhook_id, $status, array $answer ) {
		global $wpdb;
		$wpdb->update( self::table(), array( 'status_code' => (int) $status, 'answer' => wp_json_encode( $answer ) ), array( 'webhook_id' => $webhook_id ), array( '%d', '%s' ), array( '%s' ) ); // phpcs:ignore WordPress.DB.DirectDatabaseQuery
	}

	/**
	 * Releases a claim whose request did nothing: a retry will try again.
	 *
	 * @param string $webhook_id Idempotency key.
	 */
	public static function release( $webhook_id ) {
		global $wpdb;
		$wpdb->delete( self::table(), array( 'webhook_id' => $webhook_id, 'status_code' => 0 ), array( '%s', '%d' ) ); // phpcs:ignore WordPress.DB.DirectDatabaseQuery
	}

	/**
	 * Deletes rows past the retention (a few at a time, on the requests themselves).
	 */
	public static function prune() {
		global $wpdb;
		$table = self::table();
		$wpdb->query( $wpdb->prepare( "DELETE FROM {$table} WHERE created_at < %s LIMIT 100", gmdate( 'Y-m-d H:i:s', time() - self::KEEP_SECONDS ) ) ); // phpcs:ignore WordPress.DB.DirectDatabaseQuery,WordPress.DB.PreparedSQL.InterpolatedNotPrepared
	}
}
