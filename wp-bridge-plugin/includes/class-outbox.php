<?php
/**
 * The durable outbox: one table row per event, and every status transition in one place.
 *
 * Statuses and transitions (nothing else moves a row):
 *
 *   pending   --2xx-->                         delivered   (purged after DELIVERED_KEEP_DAYS)
 *   pending   --408/429/5xx/network-->         pending     (attempts+1, next attempt after backoff)
 *   pending   --401 with a clock skew-->       pending     (the same: NTP may fix it, Farewell_Bridge_Clock)
 *   pending   --other 4xx, or 3 days of failures--> dead   (error kept and shown in the admin)
 *   pending   --410-->                         pending     (and delivery is paused site-wide)
 *   dead      --admin "retry"-->               pending     (due now, attempts reset)
 *
 * Times are stored in UTC ("Y-m-d H:i:s") and compared with values computed in PHP, never with
 * the database's NOW(), so the database time zone does not matter.
 *
 * @package Farewell_Bridge
 */

if ( ! defined( 'ABSPATH' ) ) {
	exit;
}

/**
 * Storage and state machine of outbox rows.
 */
class Farewell_Bridge_Outbox {

	use Farewell_Bridge_Owned_Table;

	const STATUS_PENDING   = 'pending';
	const STATUS_DELIVERED = 'delivered';
	const STATUS_DEAD      = 'dead';

	const SCHEMA_VERSION        = 2; // 2: the `imported` column (history import, sent after live rows).
	const SCHEMA_OPTION         = 'farewell_bridge_schema_version';
	const PAUSED_OPTION         = 'farewell_bridge_paused';
	const LAST_DELIVERY_OPTION  = 'farewell_bridge_last_delivery';
	const INSERT_FAILURE_OPTION = 'farewell_bridge_insert_failures';

	/** Retry for at most this long after the row was created, then mark it dead. */
	const MAX_RETRY_SECONDS = 259200; // 3 days.
	/** First retry delay; doubles with every attempt. */
	const BACKOFF_BASE_SECONDS = 15;
	/** Longest delay between two attempts. */
	const BACKOFF_CAP_SECONDS = 21600; // 6 hours.
	/** How long a claim protects a row from a concurrent worker. */
	const LOCK_SECONDS = 120;
	/** How long delivered rows are kept for the admin panel. */
	const DELIVERED_KEEP_DAYS = 7;
	/**
	 * insert_many(): payload bytes per INSERT statement, well under MySQL's smallest
	 * max_allowed_packet of 1 MiB once escaped and quoted (up to twice the bytes for a payload
	 * all quotes and backslashes, which wpdb escapes).
	 */
	const MANY_BYTES = 262144;
	/** insert_many(): rows per INSERT statement at most. */
	const MANY_ROWS = 500;
	/**
	 * claim_rows(): rows claimed and read together at most. Their payloads (up to 64 KiB each)
	 * are held at once: 16 of the largest are 1 MiB, where a drain of 500 small rows takes 32
	 * statements instead of 1,000.
	 */
	const CLAIM_GROUP = 16;

	/**
	 * What this class keeps in WordPress, which uninstall.php removes (see Farewell_Bridge_Plugin::DATA_OWNERS).
	 *
	 * @return array See uninstall.php.
	 */
	public static function owned() {
		return array(
			'tables'  => array( self::table() ),
			'options' => array( self::SCHEMA_OPTION, self::PAUSED_OPTION, self::LAST_DELIVERY_OPTION, self::INSERT_FAILURE_OPTION ),
		);
	}

	/**
	 * Table name with the site's prefix.
	 *
	 * @return string
	 */
	public static function table() {
		global $wpdb;
		return $wpdb->prefix . 'farewell_outbox';
	}

	/**
	 * Current UTC time as a DATETIME string.
	 *
	 * @param int $offset Seconds to add.
	 * @return string
	 */
	public static function now( $offset = 0 ) {
		return gmdate( 'Y-m-d H:i:s', time() + (int) $offset );
	}

	/**
	 * The table's columns and keys, as dbDelta reads them (see Farewell_Bridge_Owned_Table::install()).
	 *
	 * @return string
	 */
	public static function columns() {
		return "  id bigint(20) unsigned NOT NULL AUTO_INCREMENT,
  webhook_id varchar(191) NOT NULL,
  event_type varchar(64) NOT NULL DEFAULT '',
  payload longtext NOT NULL,
  status varchar(20) NOT NULL DEFAULT 'pending',
  attempts int(10) unsigned NOT NULL DEFAULT 0,
  next_attempt_at datetime NOT NULL,
  locked_until datetime NULL DEFAULT NULL,
  last_status smallint(5) unsigned NULL DEFAULT NULL,
  last_error text NULL,
  created_at datetime NOT NULL,
  updated_at datetime NOT NULL,
  delivered_at datetime NULL DEFAULT NULL,
  imported tinyint(1) unsigned NOT NULL DEFAULT 0,
  PRIMARY KEY  (id),
  UNIQUE KEY webhook_id (webhook_id),
  KEY status_next (status,next_attempt_at),
  KEY delivered_at (delivered_at),
  KEY imported_status (imported,status)";
	}

	/**
	 * Inserts an event; a second insert with the same webhook-id does nothing.
	 *
	 * @param string $webhook_id Idempotency key.
	 * @param string $event_type Event type, for the admin panel.
	 * @param string $payload    JSON body exactly as it will be sent.
	 * @param bool   $imported   History read back by Farewell_Bridge_Importer: delivered after every
	 *                           live row that is due (claimable_ids()).
	 * @return int|false New row id, 0 when the webhook-id already existed, false on a database error.
	 */
	public static function insert( $webhook_id, $event_type, $payload, $imported = false ) {
		global $wpdb;
		$now      = self::now();
		$table    = self::table();
		$suppress = $wpdb->suppress_errors( true ); // Never print a database error into the member's page.
		$result   = $wpdb->query(
			$wpdb->prepare(
				"INSERT IGNORE INTO {$table} (webhook_id, event_type, payload, status, attempts, next_attempt_at, created_at, updated_at, imported) VALUES (%s, %s, %s, %s, 0, %s, %s, %s, %d)", // phpcs:ignore WordPress.DB.PreparedSQL.InterpolatedNotPrepared
				$webhook_id,
				$event_type,
				$payload,
				self::STATUS_PENDING,
				$now,
				$now,
				$now,
				$imported ? 1 : 0
			)
		);
		$wpdb->suppress_errors( $suppress );
		if ( false === $result ) {
			update_option( self::INSERT_FAILURE_OPTION, (int) get_option( self::INSERT_FAILURE_OPTION, 0 ) + 1, false );
			return false;
		}
		return 1 === (int) $result ? (int) $wpdb->insert_id : 0;
	}

	/**
	 * Inserts several events with one INSERT per MANY_BYTES of payloads (the history import's
	 * rows, a reader's batch at a time): what insert() does row by row, in one statement, so that
	 * the rows of a chunk are all stored or, when the database refuses the statement, none is.
	 * A webhook-id the outbox holds already (or twice in the list) is ignored, as by insert().
	 *
	 * @param array[] $events   Each with webhook_id, type, payload (as insert() takes them).
	 * @param bool    $imported See insert().
	 * @return array|false added (rows inserted), known (webhook-ids already there); false when the
	 *                     database refused a chunk (the chunks before it are stored).
	 */
	public static function insert_many( array $events, $imported = false ) {
		global $wpdb;
		$added = 0;
		$known = 0;
		$chunk = array();
		$bytes = 0;
		$last  = count( $events ) - 1;
		foreach ( array_values( $events ) as $i => $event ) {
			$chunk[] = $event;
			$bytes  += strlen( (string) $event['payload'] ) + strlen( (string) $event['webhook_id'] );
			if ( $i < $last && $bytes < self::MANY_BYTES && count( $chunk ) < self::MANY_ROWS ) {
				continue;
			}
			$result = self::insert_chunk( $chunk, $imported );
			if ( false === $result ) {
				update_option( self::INSERT_FAILURE_OPTION, (int) get_option( self::INSERT_FAILURE_OPTION, 0 ) + 1, false );
				return false;
			}
			$added += $result;
			$known += count( $chunk ) - $result;
			$chunk  = array();
			$bytes  = 0;
		}
		return array(
			'added' => $added,
			'known' => $known,
		);
	}

	/**
	 * One multi-row INSERT IGNORE of insert_many().
	 *
	 * @param array[] $chunk    Events.
	 * @param bool    $imported See insert().
	 * @return int|false Rows inserted, or false on a database error.
	 */
	private static function insert_chunk( array $chunk, $imported ) {
		global $wpdb;
		$now    = self::now();
		$table  = self::table();
		$rows   = array();
		$values = array();
		foreach ( $chunk as $event ) {
			$rows[] = '(%s, %s, %s, %s, 0, %s, %s, %s, %d)';
			array_push( $values, (string) $event['webhook_id'], (string) $event['type'], (string) $event['payload'], self::STATUS_PENDING, $now, $now, $now, $imported ? 1 : 0 );
		}
		$suppress = $wpdb->suppress_errors( true ); // As insert(): no database error printed into a page.
		$result   = $wpdb->query( $wpdb->prepare( "INSERT IGNORE INTO {$table} (webhook_id, event_type, payload, status, attempts, next_attempt_at, created_at, updated_at, imported) VALUES " . implode( ', ', $rows ), $values ) ); // phpcs:ignore WordPress.DB.PreparedSQL.InterpolatedNotPrepared,WordPress.DB.PreparedSQL.NotPrepared -- placeholders only.
		$wpdb->suppress_errors( $suppress );
		return false === $result ? false : (int) $result;
	}

	/**
	 * Claims one pending row for this worker. Safe against a concurrent cron run and
	 * shutdown delivery: only the UPDATE that changes the row wins.
	 *
	 * @param int $id Row id.
	 * @return bool Whether this worker owns the row until the lock expires.
	 */
	public static function claim( $id ) {
		Farewell_Bridge_Import_Profile::start( 'claim' );
		global $wpdb;
		$now   = self::now();
		$table = self::table();
		$rows  = $wpdb->query(
			$wpdb->prepare(
				"UPDATE {$table} SET locked_until = %s WHERE id = %d AND status = %s AND (locked_until IS NULL OR locked_until < %s)", // phpcs:ignore WordPress.DB.PreparedSQL.InterpolatedNotPrepared
				self::now( self::LOCK_SECONDS ),
				(int) $id,
				self::STATUS_PENDING,
				$now
			)
		);
		Farewell_Bridge_Import_Profile::stop( 'claim' );
		return 1 === (int) $rows;
	}

	/**
	 * Claims several pending rows for this worker and reads them: what claim() then get() do row
	 * by row (two statements each, the larger part of a drain's own time), in one transaction of
	 * three statements. The rows this worker can claim are read with FOR UPDATE, so that a
	 * concurrent claim of the same rows waits for this one's commit, then finds them locked.
	 * (Were the table not InnoDB, two workers could both send a row: the sidecar stores a
	 * webhook-id once and answers the second "duplicate", which is recorded as delivered.)
	 *
	 * @param int[] $ids Row ids (at most CLAIM_GROUP: their payloads are held in memory).
	 * @return array[] The claimed rows, in the order of $ids; rows another worker holds, or no
	 *                 longer pending, are left out.
	 */
	public static function claim_rows( array $ids ) {
		global $wpdb;
		$ids = array_values( array_unique( array_map( 'intval', $ids ) ) );
		if ( empty( $ids ) ) {
			return array();
		}
		if ( 1 === count( $ids ) ) {
			// A member's request hands over a row or two: no transaction of ours in their request.
			$row = self::claim( $ids[0] ) ? self::get( $ids[0] ) : null;
			return null === $row ? array() : array( $row );
		}
		Farewell_Bridge_Import_Profile::start( 'claim' );
		$table = self::table();
		$now   = self::now();
		$list  = implode( ',', $ids ); // Integers only.
		$wpdb->query( 'START TRANSACTION' );
		$free = array_map( 'intval', (array) $wpdb->get_col( $wpdb->prepare( "SELECT id FROM {$table} WHERE id IN ({$list}) AND status = %s AND (locked_until IS NULL OR locked_until < %s) FOR UPDATE", self::STATUS_PENDING, $now ) ) ); // phpcs:ignore WordPress.DB.PreparedSQL.InterpolatedNotPrepared
		if ( ! empty( $free ) ) {
			$mine = implode( ',', $free ); // Integers only.
			$wpdb->query( $wpdb->prepare( "UPDATE {$table} SET locked_until = %s WHERE id IN ({$mine})", self::now( self::LOCK_SECONDS ) ) ); // phpcs:ignore WordPress.DB.PreparedSQL.InterpolatedNotPrepared
		}
		$wpdb->query( 'COMMIT' );
		Farewell_Bridge_Import_Profile::stop( 'claim' );
		if ( empty( $free ) ) {
			return array();
		}
		Farewell_Bridge_Import_Profile::start( 'get_row' );
		$rows = (array) $wpdb->get_results( "SELECT * FROM {$table} WHERE id IN ({$mine})", ARRAY_A ); // phpcs:ignore WordPress.DB.PreparedSQL.InterpolatedNotPrepared,WordPress.DB.PreparedSQL.NotPrepared -- integers only.
		Farewell_Bridge_Import_Profile::stop( 'get_row' );
		$by_id = array();
		foreach ( $rows as $row ) {
			$by_id[ (int) $row['id'] ] = $row;
		}
		$out = array();
		foreach ( $ids as $id ) { // In the caller's order (the outbox's: live rows first).
			if ( isset( $by_id[ $id ] ) ) {
				$out[] = $by_id[ $id ];
			}
		}
		return $out;
	}

	/**
	 * Ids of pending rows that are due and not locked, oldest first.
	 *
	 * @param int $limit Maximum number.
	 * @return int[]
	 */
	public static function due_ids( $limit ) {
		return self::claimable_ids( $limit, null );
	}

	/**
	 * Ids of rows created in the last minute and never attempted (handed over by concurrent
	 * requests), oldest first. Older backlog is cron's work.
	 *
	 * @param int $limit Maximum number.
	 * @return int[]
	 */
	public static function fresh_ids( $limit ) {
		return self::claimable_ids( $limit, self::now( -MINUTE_IN_SECONDS ) );
	}

	/**
	 * Pending, due, unlocked rows, live ones first (a member's cancel waits behind no imported
	 * history), then oldest first; only never-attempted rows created since $created_since when it
	 * is given.
	 *
	 * @param int         $limit         Maximum number.
	 * @param string|null $created_since MySQL datetime, or null for every age.
	 * @return int[]
	 */
	private static function claimable_ids( $limit, $created_since ) {
		global $wpdb;
		$now   = self::now();
		$table = self::table();
		$fresh = '';
		$args  = array( self::STATUS_PENDING );
		if ( null !== $created_since ) {
			$fresh  = ' AND attempts = 0 AND created_at >= %s';
			$args[] = $created_since;
		}
		array_push( $args, $now, $now, max( 1, (int) $limit ) );
		$ids = $wpdb->get_col(
			$wpdb->prepare(
				"SELECT id FROM {$table} WHERE status = %s{$fresh} AND next_attempt_at <= %s AND (locked_until IS NULL OR locked_until < %s) ORDER BY imported ASC, id ASC LIMIT %d", // phpcs:ignore WordPress.DB.PreparedSQL.InterpolatedNotPrepared
				$args
			)
		);
		return array_map( 'intval', (array) $ids );
	}

	/**
	 * One row as an associative array.
	 *
	 * @param int $id Row id.
	 * @return array|null
	 */
	public static function get( $id ) {
		global $wpdb;
		Farewell_Bridge_Import_Profile::start( 'get_row' );
		$table = self::table();
		$row   = $wpdb->get_row( $wpdb->prepare( "SELECT * FROM {$table} WHERE id = %d", (int) $id ), ARRAY_A ); // phpcs:ignore WordPress.DB.PreparedSQL.InterpolatedNotPrepared
		Farewell_Bridge_Import_Profile::stop( 'get_row' );
		return is_array( $row ) ? $row : null;
	}

	/**
	 * One row by webhook-id.
	 *
	 * @param string $webhook_id webhook-id.
	 * @return array|null
	 */
	public static function get_by_webhook_id( $webhook_id ) {
		global $wpdb;
		$table = self::table();
		$row   = $wpdb->get_row( $wpdb->prepare( "SELECT * FROM {$table} WHERE webhook_id = %s", (string) $webhook_id ), ARRAY_A ); // phpcs:ignore WordPress.DB.PreparedSQL.InterpolatedNotPrepared
		return is_array( $row ) ? $row : null;
	}

	/**
	 * The delay before the next attempt: exponential, capped, with "equal jitter"
	 * (uniform between half the delay and the full delay).
	 *
	 * @param int $attempts Failed attempts so far (1 after the first failure).
	 * @return int Seconds.
	 */
	public static function backoff_delay( $attempts ) {
		$attempts = max( 1, (int) $attempts );
		$exponent = min( $attempts - 1, 30 );
		$delay    = (int) min( self::BACKOFF_CAP_SECONDS, self::BACKOFF_BASE_SECONDS * pow( 2, $exponent ) );
		$half     = intdiv( $delay, 2 );
		return $half + wp_rand( 0, $delay - $half );
	}

	/**
	 * Applies the result of one delivery attempt to a claimed row: the state machine.
	 *
	 * @param array $row    The row (as read before the attempt).
	 * @param array $result A Farewell_Bridge_Client result.
	 * @return string The row's new status.
	 */
	public static function record_attempt( array $row, array $result ) {
		$id       = (int) $row['id'];
		$attempts = (int) $row['attempts'] + 1;
		$status   = (int) $result['status'];
		$message  = (string) $result['message'];

		switch ( $result['kind'] ) {
			case Farewell_Bridge_Client::DELIVERED:
				self::update(
					$id,
					array(
						'status'       => self::STATUS_DELIVERED,
						'attempts'     => $attempts,
						'last_status'  => $status,
						'last_error'   => null,
						'delivered_at' => self::now(),
						'locked_until' => null,
					)
				);
				update_option( self::LAST_DELIVERY_OPTION, time(), false );
				return self::STATUS_DELIVERED;

			case Farewell_Bridge_Client::PERMANENT:
				self::update(
					$id,
					array(
						'status'       => self::STATUS_DEAD,
						'attempts'     => $attempts,
						'last_status'  => $status ? $status : null,
						'last_error'   => $message,
						'locked_until' => null,
					)
				);
				return self::STATUS_DEAD;

			case Farewell_Bridge_Client::GONE:
				self::pause( $message );
				self::update(
					$id,
					array(
						'attempts'        => $attempts,
						'last_status'     => $status,
						'last_error'      => $message,
						'next_attempt_at' => self::now(),
						'locked_until'    => null,
					)
				);
				return self::STATUS_PENDING;

			default: // Retry.
				$age = time() - (int) strtotime( $row['created_at'] . ' UTC' );
				if ( $age >= self::MAX_RETRY_SECONDS ) {
					self::update(
						$id,
						array(
							'status'       => self::STATUS_DEAD,
							'attempts'     => $attempts,
							'last_status'  => $status ? $status : null,
							/* translators: %s: the last error message. */
							'last_error'   => sprintf( __( 'Gave up after 3 days of failed attempts. Last error: %s', 'farewell-bridge' ), $message ),
							'locked_until' => null,
						)
					);
					return self::STATUS_DEAD;
				}
				self::update(
					$id,
					array(
						'attempts'        => $attempts,
						'last_status'     => $status ? $status : null,
						'last_error'      => $message,
						'next_attempt_at' => self::now( self::backoff_delay( $attempts ) ),
						'locked_until'    => null,
					)
				);
				return self::STATUS_PENDING;
		}
	}

	/**
	 * Records claimed rows the sidecar took in one batch, with one UPDATE: what record_attempt()
	 * writes for a DELIVERED result, row by row.
	 *
	 * @param int[] $ids    Claimed row ids.
	 * @param int   $status The single route's HTTP status for them (202 accepted, 200 duplicate).
	 * @return int Rows recorded.
	 */
	public static function record_delivered( array $ids, $status ) {
		global $wpdb;
		$ids = array_values( array_unique( array_map( 'intval', $ids ) ) );
		if ( empty( $ids ) ) {
			return 0;
		}
		$table = self::table();
		$now   = self::now();
		$list  = implode( ',', $ids ); // Integers only.
		Farewell_Bridge_Import_Profile::start( 'mark_delivered' );
		$wpdb->query( $wpdb->prepare( "UPDATE {$table} SET status = %s, attempts = attempts + 1, last_status = %d, last_error = NULL, delivered_at = %s, locked_until = NULL, updated_at = %s WHERE id IN ({$list})", self::STATUS_DELIVERED, (int) $status, $now, $now ) ); // phpcs:ignore WordPress.DB.PreparedSQL.InterpolatedNotPrepared
		update_option( self::LAST_DELIVERY_OPTION, time(), false );
		Farewell_Bridge_Import_Profile::stop( 'mark_delivered' );
		return count( $ids );
	}

	/**
	 * Gives claimed rows back without an attempt (claimed for a batch that was not sent): due
	 * again at once, for this worker or another.
	 *
	 * @param int[] $ids Row ids.
	 */
	public static function release( array $ids ) {
		global $wpdb;
		$ids = array_values( array_unique( array_map( 'intval', $ids ) ) );
		if ( empty( $ids ) ) {
			return;
		}
		$table = self::table();
		$list  = implode( ',', $ids ); // Integers only.
		$wpdb->query( $wpdb->prepare( "UPDATE {$table} SET locked_until = NULL WHERE status = %s AND id IN ({$list})", self::STATUS_PENDING ) ); // phpcs:ignore WordPress.DB.PreparedSQL.InterpolatedNotPrepared
	}

	/**
	 * Moves dead rows back to pending, due now (the admin's "retry").
	 *
	 * @param int|null $id One row, or null for every dead row.
	 * @return int Rows moved.
	 */
	public static function retry_dead( $id = null ) {
		global $wpdb;
		$table = self::table();
		$now   = self::now();
		if ( null === $id ) {
			$sql = $wpdb->prepare( "UPDATE {$table} SET status = %s, attempts = 0, next_attempt_at = %s, locked_until = NULL, updated_at = %s WHERE status = %s", self::STATUS_PENDING, $now, $now, self::STATUS_DEAD ); // phpcs:ignore WordPress.DB.PreparedSQL.InterpolatedNotPrepared
		} else {
			$sql = $wpdb->prepare( "UPDATE {$table} SET status = %s, attempts = 0, next_attempt_at = %s, locked_until = NULL, updated_at = %s WHERE status = %s AND id = %d", self::STATUS_PENDING, $now, $now, self::STATUS_DEAD, (int) $id ); // phpcs:ignore WordPress.DB.PreparedSQL.InterpolatedNotPrepared
		}
		return (int) $wpdb->query( $sql ); // phpcs:ignore WordPress.DB.PreparedSQL.NotPrepared -- prepared above.
	}

	/**
	 * Makes every pending row due now (the admin's "retry now").
	 *
	 * @return int Rows changed.
	 */
	public static function make_pending_due() {
		global $wpdb;
		$table = self::table();
		$now   = self::now();
		return (int) $wpdb->query( $wpdb->prepare( "UPDATE {$table} SET next_attempt_at = %s, updated_at = %s WHERE status = %s AND next_attempt_at > %s", $now, $now, self::STATUS_PENDING, $now ) ); // phpcs:ignore WordPress.DB.PreparedSQL.InterpolatedNotPrepared
	}

	/**
	 * Deletes delivered rows older than the retention period.
	 *
	 * @return int Rows deleted.
	 */
	public static function purge_delivered() {
		global $wpdb;
		$table = self::table();
		return (int) $wpdb->query( $wpdb->prepare( "DELETE FROM {$table} WHERE status = %s AND delivered_at < %s", self::STATUS_DELIVERED, self::now( -DAY_IN_SECONDS * self::DELIVERED_KEEP_DAYS ) ) ); // phpcs:ignore WordPress.DB.PreparedSQL.InterpolatedNotPrepared
	}

	/**
	 * Row counts per status.
	 *
	 * @return array<string,int>
	 */
	public static function counts() {
		global $wpdb;
		$table  = self::table();
		$counts = array(
			self::STATUS_PENDING   => 0,
			self::STATUS_DELIVERED => 0,
			self::STATUS_DEAD      => 0,
		);
		$rows   = $wpdb->get_results( $wpdb->prepare( "SELECT status, COUNT(*) AS n FROM {$table} WHERE status IN (%s, %s, %s) GROUP BY status", self::STATUS_PENDING, self::STATUS_DELIVERED, self::STATUS_DEAD ), ARRAY_A ); // phpcs:ignore WordPress.DB.PreparedSQL.InterpolatedNotPrepared
		foreach ( (array) $rows as $row ) {
			$counts[ $row['status'] ] = (int) $row['n'];
		}
		return $counts;
	}

	/**
	 * Imported rows per status (the history import's progress and its back-pressure).
	 *
	 * @return array<string,int> pending, delivered, dead.
	 */
	public static function imported_counts() {
		global $wpdb;
		$table  = self::table();
		$counts = array(
			self::STATUS_PENDING   => 0,
			self::STATUS_DELIVERED => 0,
			self::STATUS_DEAD      => 0,
		);
		$rows   = $wpdb->get_results( "SELECT status, COUNT(*) AS n FROM {$table} WHERE imported = 1 GROUP BY status", ARRAY_A ); // phpcs:ignore WordPress.DB.PreparedSQL.InterpolatedNotPrepared
		foreach ( (array) $rows as $row ) {
			if ( isset( $counts[ $row['status'] ] ) ) {
				$counts[ $row['status'] ] = (int) $row['n'];
			}
		}
		return $counts;
	}

	/**
	 * Latest rows of one status, newest first, for the admin panel.
	 *
	 * @param string $status A status constant.
	 * @param int    $limit  Maximum number.
	 * @return array[]
	 */
	public static function recent( $status, $limit = 20 ) {
		global $wpdb;
		$table = self::table();
		$rows  = $wpdb->get_results( $wpdb->prepare( "SELECT id, webhook_id, event_type, status, attempts, next_attempt_at, last_status, last_error, created_at, updated_at, delivered_at FROM {$table} WHERE status = %s ORDER BY id DESC LIMIT %d", $status, max( 1, (int) $limit ) ), ARRAY_A ); // phpcs:ignore WordPress.DB.PreparedSQL.InterpolatedNotPrepared
		return is_array( $rows ) ? $rows : array();
	}

	/**
	 * The oldest pending row (without its payload), for `wp farewell status` and Site Health.
	 *
	 * @return array|null
	 */
	public static function oldest_pending() {
		global $wpdb;
		$table = self::table();
		$row   = $wpdb->get_row( $wpdb->prepare( "SELECT id, event_type, attempts, next_attempt_at, last_error, created_at FROM {$table} WHERE status = %s ORDER BY id ASC LIMIT 1", self::STATUS_PENDING ), ARRAY_A ); // phpcs:ignore WordPress.DB.PreparedSQL.InterpolatedNotPrepared
		return is_array( $row ) ? $row : null;
	}

	/**
	 * The most recent error of a pending or dead row.
	 *
	 * @return array|null Row with last_error, updated_at.
	 */
	public static function last_error() {
		global $wpdb;
		$table = self::table();
		$row   = $wpdb->get_row( $wpdb->prepare( "SELECT id, last_error, last_status, updated_at FROM {$table} WHERE status IN (%s, %s) AND last_error IS NOT NULL ORDER BY updated_at DESC, id DESC LIMIT 1", self::STATUS_PENDING, self::STATUS_DEAD ), ARRAY_A ); // phpcs:ignore WordPress.DB.PreparedSQL.InterpolatedNotPrepared
		return is_array( $row ) ? $row : null;
	}

	/**
	 * Pauses delivery (after a 410).
	 *
	 * @param string $reason Message to show.
	 */
	public static function pause( $reason ) {
		update_option(
			self::PAUSED_OPTION,
			array(
				'since'  => time(),
				'reason' => (string) $reason,
			),
			false
		);
	}

	/**
	 * Resumes delivery.
	 */
	public static function resume() {
		delete_option( self::PAUSED_OPTION );
	}

	/**
	 * The pause record, or null when delivery runs.
	 *
	 * @return array|null
	 */
	public static function paused() {
		$paused = get_option( self::PAUSED_OPTION, null );
		return is_array( $paused ) ? $paused : null;
	}

	/**
	 * Updates columns of one row (and its updated_at).
	 *
	 * @param int   $id     Row id.
	 * @param array $fields Column => value (null allowed).
	 */
	private static function update( $id, array $fields ) {
		global $wpdb;
		$fields['updated_at'] = self::now();
		$sets                 = array();
		$values               = array();
		foreach ( $fields as $column => $value ) {
			if ( null === $value ) {
				$sets[] = "`{$column}` = NULL";
				continue;
			}
			$sets[]   = "`{$column}` = " . ( is_int( $value ) ? '%d' : '%s' );
			$values[] = $value;
		}
		$values[] = (int) $id;
		$table    = self::table();
		$wpdb->query( $wpdb->prepare( "UPDATE {$table} SET " . implode( ', ', $sets ) . ' WHERE id = %d', $values ) ); // phpcs:ignore WordPress.DB.PreparedSQL.InterpolatedNotPrepared,WordPress.DB.PreparedSQL.NotPrepared -- column names are fixed by this class.
	}
}
