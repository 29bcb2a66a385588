<?php
/**
 * Paid Memberships Pro's history (facts from PMPro 3.8.4), read from its own tables:
 * pmpro_memberships_users (one row per time a member held a level: PMPro inserts a row each time
 * it gives a level and never reuses one) and pmpro_subscriptions (when a payment subscription was
 * cancelled). tests/wordpress/test_history_pmpro.py runs the real plugin.
 *
 * What each memberships_users row gives, with the webhook-id the live source
 * (Farewell_Bridge_Source_Pmpro) gives the same occurrence — every live PMPro marker names the
 * row, so live and imported events of one occurrence always share their id:
 * - `subscription.created` at its startdate (marker `start-<row>`): a checkout, a level given by
 *   the administrator, the same level bought again (a new row; the old one becomes "changed" at
 *   that moment, and the new one keeps the old startdate: dated by the old row's end then).
 * - `subscription.cancelled` with time left (marker `end-<row>`): a payment subscription of that
 *   member and level was cancelled (its enddate, UTC) while the row still ran, before the row's own
 *   end — the Cancel page and the payment service's notice set an end date and cancel it, the
 *   level stays until then. Its access_ends_at is the row's enddate: that end date while the row
 *   runs or once it expired, the moment it was cut short when a removal or a new row overwrote it. (When PMPro removes a level it updates the row first and cancels the
 *   subscription after it, so a subscription cancelled at or after the row's end is that removal's,
 *   not a cancellation with time left. Only a payment service's handler saves the subscription
 *   cancelled a moment before it removes the level (status cancelled): GRACE allows for it there,
 *   so a cancellation with time left followed within GRACE seconds by a removal as "cancelled" is
 *   read as the removal alone. The dates are to the second: one followed in the same second by
 *   any end of the row — the level bought again, removed — is read as that end alone too.)
 * - `subscription.cancelled` when PMPro removed the level (statuses cancelled, admin_cancelled,
 *   inactive; marker `removed-<row>`), dated by the row's enddate, which PMPro sets to that moment.
 * - `subscription.expired` when PMPro's expiry removed it (status expired; marker `expired-<row>`).
 * - nothing for a row ended as changed/admin_changed: another level replaced it in the same
 *   request and the live source reports only that one's start. (PMPro's old profile screen also
 *   removes a level as admin_changed without the hook the live source hears: live and history
 *   agree in reporting nothing then.) That start names the other level's subscription it
 *   replaced in `subscription.replaces`, as the live source does: a row of another level of the
 *   member ended as changed/admin_changed within CHANGE_SECONDS of the new row's start (PMPro
 *   writes both with current_time() in the same request).
 * Not read back: failed payments (PMPro keeps no record of them that names the occurrence).
 *
 * Who: PMPro records it only in the status of a removed row. admin_cancelled is the
 * administrator's Edit Member; cancelled is what PMPro's Cancel page and its handler of a payment
 * service's cancellation write — the member's decision, at the site or at PayPal/Stripe — so
 * `member`; inactive (a level deleted, the REST API, an integration) is `unknown`, the protocol's
 * "not recorded", as is a start (a checkout or an administrator's). A cancellation with time left
 * leaves no status behind: `member` too, as PMPro itself only takes that path from its Cancel page
 * and a payment service's notice (an administrator's end date on Edit Member is the exception this
 * cannot tell). The live event says who for certain; when it was sent, the sidecar keeps it and
 * ignores the imported copy.
 *
 * Dates: memberships_users.startdate/enddate are wall-clock times of the site's time zone
 * (converted as the live source does, Farewell_Bridge_Source_Pmpro::local_date());
 * pmpro_subscriptions dates are UTC (PMPro_Subscription::save() writes gmdate()).
 *
 * @package Farewell_Bridge
 */

if ( ! defined( 'ABSPATH' ) ) {
	exit;
}

/**
 * Paid Memberships Pro's past memberships as events.
 */
class Farewell_Bridge_History_Pmpro extends Farewell_Bridge_History_Source_Base {

	/** The live source's slug. */
	const SLUG = 'paidmembershipspro';

	/**
	 * Seconds a payment service's cancellation may precede the removal it causes: its handler
	 * saves the subscription cancelled, then removes the level in the same request.
	 */
	const GRACE = 5;

	/** Seconds between the old level's end (changed) and the new level's start of one change of level. */
	const CHANGE_SECONDS = 2;

	/** Row statuses of a level PMPro removed before its end, with who did it (see the class comment). */
	const REMOVED = array(
		'cancelled'       => 'member',
		'admin_cancelled' => 'admin',
		'inactive'        => 'unknown',
	);

	/**
	 * {@inheritDoc}
	 */
	public function available() {
		global $wpdb;
		if ( ! defined( 'PMPRO_VERSION' ) || empty( $wpdb->pmpro_memberships_users ) || empty( $wpdb->pmpro_subscriptions ) ) {
			return false;
		}
		// PMPro creates pmpro_subscriptions (3.0) on the first admin page load after an update.
		return self::table_exists( (string) $wpdb->pmpro_subscriptions );
	}

	/**
	 * A Unix time as the site's wall clock, as PMPro writes memberships_users dates.
	 *
	 * @param int $time Unix seconds.
	 * @return string
	 */
	private static function local( $time ) {
		return wp_date( 'Y-m-d H:i:s', (int) $time, wp_timezone() );
	}

	/**
	 * A memberships_users date (site's wall clock) as Unix seconds, or null for none.
	 *
	 * @param string|null $value Stored value.
	 * @return int|null
	 */
	private static function local_time( $value ) {
		$date = Farewell_Bridge_Source_Pmpro::local_date( $value );
		return null === $date ? null : (int) strtotime( $date );
	}

	/**
	 * {@inheritDoc}
	 */
	public function summary( $since ) {
		global $wpdb;
		$rows    = $wpdb->pmpro_memberships_users;
		$subs    = $wpdb->pmpro_subscriptions;
		$after   = null === $since ? '1971-01-01 00:00:00' : self::local( $since );
		$removed = "'" . implode( "','", array_keys( self::REMOVED ) ) . "'";
		// The subscriptions' UTC dates against the rows' wall clock: shifted by today's offset,
		// close enough for a count shown before the import.
		$offset = (int) wp_timezone()->getOffset( new DateTimeImmutable( 'now' ) );
		// phpcs:disable WordPress.DB.PreparedSQL.InterpolatedNotPrepared,WordPress.DB.DirectDatabaseQuery -- PMPro's own tables; constants only.
		$all       = (int) $wpdb->get_var( $wpdb->prepare( "SELECT COUNT(*) FROM {$rows} WHERE startdate >= %s OR enddate >= %s", $after, $after ) );
		$cancelled = (int) $wpdb->get_var(
			$wpdb->prepare(
				"SELECT COUNT(*) FROM {$rows} mu WHERE mu.enddate >= %s AND ( mu.status IN ({$removed}) OR EXISTS (
					SELECT 1 FROM {$subs} s WHERE s.user_id = mu.user_id AND s.membership_level_id = mu.membership_id AND s.status = 'cancelled'
					AND s.enddate >= DATE_SUB(mu.startdate, INTERVAL %d SECOND) AND s.enddate < DATE_SUB(mu.enddate, INTERVAL %d SECOND) ) )",
				$after,
				$offset,
				$offset + self::GRACE
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
		global $wpdb;
		$limit = max( 1, (int) $limit );
		$rows  = self::rows_after( $wpdb->pmpro_memberships_users, 'id, user_id, membership_id, status, initial_payment, billing_amount, cycle_number, cycle_period, startdate, enddate', $cursor, $limit );
		if ( empty( $rows ) ) {
			return self::answer( array(), 0, $limit, null );
		}
		$users   = array_map( 'intval', wp_list_pluck( $rows, 'user_id' ) );
		$cancels = self::cancelled_subscriptions( $users );
		$renewed = self::replaced_rows( $users );
		$source  = new Farewell_Bridge_Source_Pmpro();
		$planned = array();
		foreach ( $rows as $row ) {
			$key = (int) $row->user_id . '-' . (int) $row->membership_id;
			foreach ( self::occurrences( $row, isset( $cancels[ $key ] ) ? $cancels[ $key ] : array(), isset( $renewed[ $key ] ) ? $renewed[ $key ] : array() ) as $occurrence ) {
				if ( self::wanted( $occurrence['at'], $since ) ) {
					$planned[] = array( (int) $row->id, $occurrence, $row );
				}
			}
		}
		$out = array();
		foreach ( self::oldest_first( $planned ) as $item ) {
			list( , $occurrence, $row ) = $item;
			$subscription               = $source->subscription( (int) $row->user_id, (int) $row->membership_id, $occurrence['status'], $row );
			if ( array_key_exists( 'access_ends_at', $occurrence ) ) {
				$subscription['access_ends_at'] = $occurrence['access_ends_at'];
			}
			if ( 'subscription.created' === $occurrence['type'] ) {
				$old = self::level_changed_from( $renewed, (int) $row->user_id, (int) $row->membership_id, $occurrence['at'] );
				if ( null !== $old ) {
					$subscription['replaces'] = (int) $row->user_id . '-' . $old;
				}
			}
			$event = self::event(
				$occurrence['type'],
				(int) $row->user_id,
				$subscription,
				array(
					'marker'       => $occurrence['marker'],
					'occurred_at'  => $occurrence['at'],
					'initiated_by' => $occurrence['by'],
				)
			);
			if ( null !== $event ) {
				$out[] = $event;
			}
		}
		return self::answer( $out, count( $rows ), $limit, (int) end( $rows )->id );
	}

	/**
	 * What happened to one memberships_users row: list of array( type, at (Unix), marker, by,
	 * status, order, and access_ends_at when it differs from the row's enddate ).
	 *
	 * @param object $row      The row.
	 * @param int[]  $cancels  When this member's payment subscriptions of this level were cancelled (Unix, oldest first).
	 * @param int[]  $replaced This member's rows of this level that a new one replaced: row id => their end (Unix).
	 * @return array[]
	 */
	private static function occurrences( $row, array $cancels, array $replaced ) {
		$id     = (int) $row->id;
		$status = (string) $row->status;
		$start  = self::local_time( $row->startdate );
		$end    = self::local_time( $row->enddate );
		$out    = array();

		// Bought again while the level ran: PMPro keeps the old row's startdate for the new one
		// (pmpro_checkout_start_date_keep_startdate) and ends the old row as "changed" at the
		// moment it inserts the new one. That moment is when this row began.
		$began = $start;
		foreach ( $replaced as $old_id => $old_end ) {
			if ( $old_id < $id && null !== $began && $old_end >= $began ) {
				$began = $old_end;
			}
		}

		// Cancelled with time left: the first cancellation while the row ran, before its end (a
		// removal of PMPro's own cancels after it writes the end; a payment service's, with status
		// cancelled, a moment before).
		$with_time_left = null;
		$grace          = 'cancelled' === $status ? self::GRACE : 0;
		if ( null !== $began && null !== $end ) {
			foreach ( $cancels as $at ) {
				if ( $at >= $began && $at < $end - $grace ) {
					$with_time_left = $at;
					break;
				}
			}
		}

		if ( null !== $start ) {
			$created = array(
				'type'   => 'subscription.created',
				'at'     => $began,
				'marker' => 'start-' . $id,
				'by'     => self::not_recorded_by( 'subscription.created' ),
				'status' => 'active',
				'order'  => 0,
			);
			if ( null !== $with_time_left || ! in_array( $status, array( 'active', 'expired' ), true ) ) {
				// Its enddate now is when it was cut short, which the start did not know.
				$created['access_ends_at'] = null;
			}
			$out[] = $created;
		}
		if ( null !== $with_time_left ) {
			$out[] = array(
				'type'   => 'subscription.cancelled',
				'at'     => $with_time_left,
				'marker' => 'end-' . $id,
				'by'     => 'member',
				'status' => 'cancelled',
				'order'  => 1,
			);
		}
		if ( null !== $end && isset( self::REMOVED[ $status ] ) ) {
			$out[] = array(
				'type'   => 'subscription.cancelled',
				'at'     => $end,
				'marker' => 'removed-' . $id,
				'by'     => self::REMOVED[ $status ],
				'status' => 'cancelled',
				'order'  => 2,
			);
		} elseif ( null !== $end && 'expired' === $status ) {
			$out[] = array(
				'type'   => 'subscription.expired',
				'at'     => $end,
				'marker' => 'expired-' . $id,
				'by'     => 'system',
				'status' => 'expired',
				'order'  => 2,
			);
		}
		return $out;
	}

	/**
	 * The level a member changed from when a row of $level_id began at $began: another level's row
	 * of theirs that PMPro ended as changed/admin_changed at that moment (the closest), or null.
	 *
	 * @param array<string,array<int,int>> $changed replaced_rows() of the batch's members.
	 * @param int                          $user_id  User id.
	 * @param int                          $level_id The new row's level.
	 * @param int                          $began    When the new row began (Unix).
	 * @return int|null
	 */
	private static function level_changed_from( array $changed, $user_id, $level_id, $began ) {
		$found = null;
		$gap   = self::CHANGE_SECONDS + 1;
		foreach ( $changed as $key => $ends ) {
			list( $user, $level ) = array_map( 'intval', explode( '-', $key ) );
			if ( $user !== $user_id || $level === $level_id ) {
				continue;
			}
			foreach ( $ends as $end ) {
				if ( abs( $end - $began ) < $gap ) {
					$gap   = abs( $end - $began );
					$found = $level;
				}
			}
		}
		return $found;
	}

	/**
	 * These members' rows that another row of the same level replaced (status changed or
	 * admin_changed): "user-level" => array( row id => end, Unix ), by id.
	 *
	 * @param int[] $user_ids Members of the batch.
	 * @return array<string,array<int,int>>
	 */
	private static function replaced_rows( array $user_ids ) {
		global $wpdb;
		$table = $wpdb->pmpro_memberships_users;
		$in    = implode( ',', array_unique( array_map( 'intval', $user_ids ) ) );
		// phpcs:ignore WordPress.DB.PreparedSQL.InterpolatedNotPrepared,WordPress.DB.DirectDatabaseQuery,WordPress.DB.PreparedSQL.NotPrepared -- integers only.
		$rows = $wpdb->get_results( "SELECT id, user_id, membership_id, enddate FROM {$table} WHERE user_id IN ({$in}) AND status IN ('changed','admin_changed') ORDER BY id ASC" );
		$out  = array();
		foreach ( (array) $rows as $row ) {
			$end = self::local_time( $row->enddate );
			if ( null !== $end ) {
				$out[ (int) $row->user_id . '-' . (int) $row->membership_id ][ (int) $row->id ] = $end;
			}
		}
		return $out;
	}

	/**
	 * When these members' payment subscriptions were cancelled: "user-level" => Unix times,
	 * oldest first. One query per batch, on the batch's members only.
	 *
	 * @param int[] $user_ids Members of the batch.
	 * @return array<string,int[]>
	 */
	private static function cancelled_subscriptions( array $user_ids ) {
		global $wpdb;
		$table = $wpdb->pmpro_subscriptions;
		$in    = implode( ',', array_unique( array_map( 'intval', $user_ids ) ) );
		// phpcs:ignore WordPress.DB.PreparedSQL.InterpolatedNotPrepared,WordPress.DB.DirectDatabaseQuery,WordPress.DB.PreparedSQL.NotPrepared -- integers only.
		$rows = $wpdb->get_results( "SELECT user_id, membership_level_id, enddate FROM {$table} WHERE user_id IN ({$in}) AND status = 'cancelled' ORDER BY enddate ASC, id ASC" );
		$out  = array();
		foreach ( (array) $rows as $row ) {
			$at = self::utc_time( $row->enddate );
			if ( null !== $at ) {
				$out[ (int) $row->user_id . '-' . (int) $row->membership_level_id ][] = $at;
			}
		}
		return $out;
	}
}
