<?php
/**
 * MemberPress's history (facts from MemberPress 1.12.11), read from its own tables: each
 * subscription once, by id, with the transactions that gave access and the events MemberPress
 * recorded for it (tests/wordpress/test_real_memberpress_import.py runs the real plugin).
 *
 * What each subscription gives, with the webhook-id the live source
 * (Farewell_Bridge_Source_Memberpress) gives the same occurrence:
 * - `subscription.created` when one of its transactions was paid or confirmed (it gave access;
 *   a checkout left unpaid started nothing), dated by the first such transaction; marker
 *   `created`, as live.
 * - `subscription.cancelled` for a cancelled subscription that gave access, dated by MemberPress's
 *   `subscription-stopped` event (else by its last paid transaction: the Subscriptions screen's
 *   drop-down records no event). MemberPress does not record who cancelled: `initiated_by` is
 *   `unknown` (the protocol's "not recorded"), as for its pauses, resumes and starts; an expiry is
 *   `system`.
 * - `subscription.paused` / `subscription.resumed` from its `subscription-paused` /
 *   `subscription-resumed` events.
 * - `subscription.expired` for each `subscription-expired` event (marker `evt-<id>`, as live), and
 *   for an active subscription whose access ended (a renewal never came; marker `lapse-<end>`).
 * A cancel, pause or resume is dated to the second in the live event's id, and MemberPress
 * records its own event after sending its notices (seconds later): those that happened since the
 * bridge listened to MemberPress (Farewell_Bridge_Importer::live_since()) were sent live, and are
 * not read back, so that an occurrence is never counted twice.
 * Dates: MemberPress stores UTC "Y-m-d H:i:s" (MeprUtils::db_now()).
 *
 * @package Farewell_Bridge
 */

if ( ! defined( 'ABSPATH' ) ) {
	exit;
}

/**
 * MemberPress's past subscriptions as events.
 */
class Farewell_Bridge_History_Memberpress extends Farewell_Bridge_History_Source_Base {

	/** The live source's slug. */
	const SLUG = 'memberpress';

	/**
	 * MemberPress event => normalized type, for events dated by the second (see the class comment).
	 */
	const TIMED_EVENTS = array(
		'subscription-stopped' => 'subscription.cancelled',
		'subscription-paused'  => 'subscription.paused',
		'subscription-resumed' => 'subscription.resumed',
	);

	/**
	 * MemberPress's statuses of a subscription that gave access at some point.
	 */
	const STARTED_STATUSES = array( 'active', 'suspended', 'cancelled' );

	/**
	 * {@inheritDoc}
	 */
	public function available() {
		// Its tables are created on activation: a copy whose tables are gone has no history.
		return class_exists( 'MeprSubscription' ) && class_exists( 'MeprEvent' ) && self::table_exists( self::table( 'subscriptions' ) );
	}

	/**
	 * A MemberPress table's name.
	 *
	 * @param string $name subscriptions, transactions or events.
	 * @return string
	 */
	private static function table( $name ) {
		global $wpdb;
		return $wpdb->prefix . 'mepr_' . $name;
	}

	/**
	 * {@inheritDoc}
	 */
	public function summary( $since ) {
		global $wpdb;
		$subs     = self::table( 'subscriptions' );
		$events   = self::table( 'events' );
		$statuses = "'" . implode( "','", self::STARTED_STATUSES ) . "'";
		$after    = null === $since ? '1970-01-01 00:00:00' : gmdate( 'Y-m-d H:i:s', (int) $since );
		// phpcs:disable WordPress.DB.PreparedSQL.InterpolatedNotPrepared,WordPress.DB.DirectDatabaseQuery -- MemberPress's own tables.
		$all       = (int) $wpdb->get_var( $wpdb->prepare( "SELECT COUNT(*) FROM {$subs} WHERE status IN ({$statuses}) AND created_at >= %s", $after ) );
		$cancelled = (int) $wpdb->get_var(
			$wpdb->prepare(
				"SELECT COUNT(*) FROM {$subs} s WHERE s.status = 'cancelled' AND COALESCE((SELECT MAX(e.created_at) FROM {$events} e WHERE e.evt_id = s.id AND e.evt_id_type = 'subscriptions' AND e.event = 'subscription-stopped'), s.created_at) >= %s",
				$after
			)
		);
		// phpcs:enable
		return array(
			'subscriptions' => $all,
			'cancelled'     => $cancelled,
		);
	}

	/**
	 * {@inheritDoc}
	 */
	public function events( $cursor, $limit, $since ) {
		$limit = max( 1, (int) $limit );
		Farewell_Bridge_Import_Profile::start( 'read_sql' );
		$rows = self::rows_after( self::table( 'subscriptions' ), 'id, user_id, product_id, price, period_type, status, created_at', $cursor, $limit );
		if ( empty( $rows ) ) {
			return self::answer( array(), 0, $limit, null );
		}
		$ids     = array_map( 'intval', wp_list_pluck( $rows, 'id' ) );
		$access  = self::access( $ids );
		$history = self::recorded( $ids );
		$live    = self::live_since();
		Farewell_Bridge_Import_Profile::stop( 'read_sql' );
		Farewell_Bridge_Import_Profile::start( 'build' );
		// The batch's members and their meta in two queries, not two per member (get_userdata()
		// and get_user_meta() below then read WordPress's cache).
		cache_users( array_values( array_unique( array_map( 'intval', wp_list_pluck( $rows, 'user_id' ) ) ) ) );
		$source = ( new Farewell_Bridge_Source_Memberpress() )->keep_product_names();
		$out    = array();
		foreach ( $rows as $row ) {
			$id = (int) $row->id;
			if ( ! isset( $access[ $id ] ) ) {
				continue; // Never paid: it never started.
			}
			$row->expires_at = $access[ $id ]['expires_at'];
			$planned         = self::occurrences( $row, $access[ $id ], isset( $history[ $id ] ) ? $history[ $id ] : array(), $live );
			foreach ( $planned as $occurrence ) {
				list( $type, $at, $options, $access_ends ) = $occurrence;
				if ( ! self::wanted( $at, $since ) ) {
					continue;
				}
				$event = self::event(
					$type,
					(int) $row->user_id,
					$source->subscription( $row, $type, $access_ends ),
					$options + array(
						'occurred_at'  => $at,
						'initiated_by' => self::not_recorded_by( $type ),
					)
				);
				if ( null !== $event ) {
					$out[] = $event;
				}
			}
		}
		Farewell_Bridge_Import_Profile::stop( 'build' );
		return self::answer( $out, count( $rows ), $limit, end( $ids ) );
	}

	/**
	 * What happened to one subscription, oldest first: list of array( type, Unix time, build()
	 * options, access end or null for MemberPress's stored one ).
	 *
	 * @param object   $row        Subscription row, with expires_at.
	 * @param array    $access     first_paid (Unix), expires_at (MemberPress's value).
	 * @param array    $recorded   MemberPress's events for it: array( id, event, Unix time ).
	 * @param int|null $live_since When the bridge started listening to MemberPress.
	 * @return array[]
	 */
	private static function occurrences( $row, array $access, array $recorded, $live_since ) {
		$now    = time();
		$ends   = Farewell_Bridge_Source_Memberpress::timestamp( $row->expires_at );
		$status = (string) $row->status;
		$out    = array();
		if ( in_array( $status, self::STARTED_STATUSES, true ) ) {
			$out[] = array( 'subscription.created', $access['first_paid'], array( 'marker' => 'created' ), null );
		}
		$stopped = false;
		foreach ( $recorded as $event ) {
			list( $event_id, $name, $at ) = $event;
			if ( 'subscription-expired' === $name ) {
				// Dated when access ended, as live (MemberPress's cron records it hours later).
				$when  = null !== $ends && $ends <= $at ? $ends : $at;
				$out[] = array( 'subscription.expired', $when, array( 'marker' => 'evt-' . $event_id ), null );
				continue;
			}
			if ( ! isset( self::TIMED_EVENTS[ $name ] ) ) {
				continue;
			}
			if ( 'subscription-stopped' === $name ) {
				if ( 'cancelled' !== $status ) {
					continue; // Reactivated since: MemberPress keeps one such event per subscription.
				}
				$stopped = true;
			}
			if ( null === $live_since || $at < $live_since ) {
				$out[] = array( self::TIMED_EVENTS[ $name ], $at, array(), null );
			}
		}
		if ( 'cancelled' === $status && ! $stopped ) {
			// Cancelled on the Subscriptions screen, which records no event: after its last payment.
			$at = $access['last_paid'];
			if ( null === $live_since || $at < $live_since ) {
				$out[] = array( 'subscription.cancelled', $at, array(), null );
			}
		}
		if ( 'active' === $status && null !== $ends && $ends <= $now ) {
			// A renewal never came: its access lapsed (reported live once MemberPress's cron sees it).
			$out[] = array( 'subscription.expired', $ends, array( 'marker' => 'lapse-' . $ends ), $ends );
		}
		usort(
			$out,
			static function ( $a, $b ) {
				return $a[1] - $b[1];
			}
		);
		return $out;
	}

	/**
	 * For each subscription that a paid or confirmed transaction gave access: first_paid and
	 * last_paid (Unix seconds) and expires_at as MeprSubscription::expires_at says it (the latest
	 * expiry, "0000-00-00 00:00:00" when one is a lifetime).
	 *
	 * @param int[] $ids Subscription ids.
	 * @return array<int,array>
	 */
	private static function access( array $ids ) {
		global $wpdb;
		$txns = self::table( 'transactions' );
		$in   = implode( ',', array_map( 'intval', $ids ) );
		// phpcs:ignore WordPress.DB.PreparedSQL.InterpolatedNotPrepared,WordPress.DB.DirectDatabaseQuery,WordPress.DB.PreparedSQL.NotPrepared -- integers only.
		$rows = $wpdb->get_results( "SELECT subscription_id, MIN(created_at) AS first_paid, MAX(created_at) AS last_paid, MAX(expires_at) AS latest, SUM(expires_at IS NULL OR expires_at < '1970-01-02') AS lifetime FROM {$txns} WHERE subscription_id IN ({$in}) AND status IN ('complete','confirmed') GROUP BY subscription_id" );
		$out  = array();
		foreach ( (array) $rows as $row ) {
			$out[ (int) $row->subscription_id ] = array(
				'first_paid' => (int) Farewell_Bridge_Source_Memberpress::timestamp( $row->first_paid ),
				'last_paid'  => (int) Farewell_Bridge_Source_Memberpress::timestamp( $row->last_paid ),
				'expires_at' => (int) $row->lifetime > 0 ? '0000-00-00 00:00:00' : (string) $row->latest,
			);
		}
		return $out;
	}

	/**
	 * MemberPress's events for these subscriptions, oldest first: sub id => list of array( event
	 * id, event name, Unix time ).
	 *
	 * @param int[] $ids Subscription ids.
	 * @return array<int,array[]>
	 */
	private static function recorded( array $ids ) {
		global $wpdb;
		$events = self::table( 'events' );
		$in     = implode( ',', array_map( 'intval', $ids ) );
		$names  = "'" . implode( "','", array_merge( array_keys( self::TIMED_EVENTS ), array( 'subscription-expired' ) ) ) . "'";
		// phpcs:ignore WordPress.DB.PreparedSQL.InterpolatedNotPrepared,WordPress.DB.DirectDatabaseQuery,WordPress.DB.PreparedSQL.NotPrepared -- integers and constants only.
		$rows = $wpdb->get_results( "SELECT id, event, evt_id, created_at FROM {$events} WHERE evt_id_type = 'subscriptions' AND evt_id IN ({$in}) AND event IN ({$names}) ORDER BY id ASC" );
		$out  = array();
		foreach ( (array) $rows as $row ) {
			$at = Farewell_Bridge_Source_Memberpress::timestamp( $row->created_at );
			if ( null !== $at ) {
				$out[ (int) $row->evt_id ][] = array( (int) $row->id, (string) $row->event, $at );
			}
		}
		return $out;
	}
}
