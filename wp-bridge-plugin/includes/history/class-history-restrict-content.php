<?php
/**
 * Restrict Content's history (facts from Restrict Content 3.2.26), read from its memberships
 * table, through its own RCP_Membership objects, and its log table (rcp_logs, written since 3.4:
 * "membership_expired" from the expiry hook, "membership_renewed" at the end of renew()).
 * tests/wordpress/test_history_restrict_content.py runs the real plugin.
 *
 * What each membership gives, as the live source (Farewell_Bridge_Source_Restrict_Content) would:
 * - `subscription.created` when it was activated (activated_date, set by activate() just before
 *   the status change; created_date for one inserted active, by an administrator).
 *   When RCP disabled another membership of the member that still gave access as it activated
 *   this one (a change of level, an upgrade: its date_modified within GRACE of the activation),
 *   the start names it in `subscription.replaces`, as the live source does.
 * - `subscription.cancelled` at its cancellation_date (set with the status by set_status()); RCP
 *   keeps only the latest. Not for a disabled membership cancelled as it was disabled (disable()
 *   stops the billing after it disables, and the live source reports the deletion, or the
 *   replacement, instead).
 * - `subscription.expired` at each "membership_expired" log; and for a membership deleted or
 *   replaced (disabled) while it still gave access and no later membership of the member took
 *   over, at the moment it was disabled (date_modified: nothing changes a disabled membership).
 * - `subscription.resumed` at the first "membership_renewed" log after an expiry or the
 *   cancellation, when the membership is active again.
 * Who: RCP does not record who started, cancelled or renewed a membership: `unknown`, the
 * protocol's "not recorded"; an expiry is `system`. Failed payments are not read back (RCP keeps
 * no record naming the occurrence).
 *
 * Webhook-ids: every live Restrict Content event is marked by the second it was recorded (the
 * factory's "t<Unix second>"; "disabled@<second>" for a deletion), which no table keeps exactly.
 * The reader uses the second RCP wrote with the change (the same one in the common case, so a
 * re-import gives the same ids), and reads back only what happened before the bridge listened to
 * Restrict Content (Farewell_Bridge_Importer::live_since()): what happened since was sent live,
 * so an occurrence is never counted twice, but one sent live is not guaranteed the same id.
 *
 * Dates: RCP writes created_date, activated_date, cancellation_date, expiration_date and
 * renewed_date on the site's wall clock (current_time( 'mysql' )); BerlinDB writes date_modified
 * and the logs' date_created in UTC (gmdate()).
 *
 * @package Farewell_Bridge
 */

if ( ! defined( 'ABSPATH' ) ) {
	exit;
}

/**
 * Restrict Content's past memberships as events.
 */
class Farewell_Bridge_History_Restrict_Content extends Farewell_Bridge_History_Source_Base {

	/** The live source's slug. */
	const SLUG = 'restrict-content';

	/** Seconds within which two of RCP's writes belong to one change (disable(), then its cancellation). */
	const GRACE = 5;

	/** Statuses of a membership that gave access at some point. */
	const STARTED = array( 'active', 'cancelled', 'expired' );

	/**
	 * {@inheritDoc}
	 */
	public function available() {
		// Its tables appear on the first admin page load after activation, not before.
		return function_exists( 'rcp_get_membership' ) && class_exists( 'RCP_Membership' ) && self::table_exists( self::table( 'memberships' ) );
	}

	/**
	 * One of RCP's tables (BerlinDB names them on $wpdb).
	 *
	 * @param string $name memberships or logs.
	 * @return string
	 */
	private static function table( $name ) {
		global $wpdb;
		$key = 'rcp_' . $name;
		return ! empty( $wpdb->$key ) ? (string) $wpdb->$key : $wpdb->prefix . $key;
	}

	/**
	 * A wall-clock date of RCP as Unix seconds, or null.
	 *
	 * @param mixed $value Stored value.
	 * @return int|null
	 */
	private static function local_time( $value ) {
		return Farewell_Bridge_Source_Restrict_Content::local_timestamp( is_string( $value ) ? $value : null );
	}

	/**
	 * {@inheritDoc}
	 */
	public function summary( $since ) {
		global $wpdb;
		$table    = self::table( 'memberships' );
		$after    = null === $since ? '1971-01-01 00:00:00' : wp_date( 'Y-m-d H:i:s', (int) $since, wp_timezone() );
		$statuses = "'" . implode( "','", self::STARTED ) . "'";
		// phpcs:disable WordPress.DB.PreparedSQL.InterpolatedNotPrepared,WordPress.DB.DirectDatabaseQuery -- RCP's own table; constants only.
		$all       = (int) $wpdb->get_var( $wpdb->prepare( "SELECT COUNT(*) FROM {$table} WHERE (status IN ({$statuses}) OR activated_date IS NOT NULL) AND (created_date >= %s OR expiration_date >= %s)", $after, $after ) );
		$cancelled = (int) $wpdb->get_var( $wpdb->prepare( "SELECT COUNT(*) FROM {$table} WHERE cancellation_date >= %s", $after ) );
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
		$rows  = self::rows_after( self::table( 'memberships' ), 'id, user_id, status, activated_date, created_date, cancellation_date, disabled, date_modified', $cursor, $limit );
		if ( empty( $rows ) ) {
			return self::answer( array(), 0, $limit, null );
		}
		$ids   = array_map( 'intval', wp_list_pluck( $rows, 'id' ) );
		$logs  = self::logs( $ids );
		$later = self::later_memberships( $rows );
		$gone  = self::disabled_memberships( $rows );
		$live  = self::live_since();

		$planned = array();
		foreach ( $rows as $row ) {
			$id = (int) $row->id;
			foreach ( self::occurrences( $row, isset( $logs[ $id ] ) ? $logs[ $id ] : array(), ! empty( $later[ $id ] ) ) as $occurrence ) {
				// What happened since go-live was sent live (see the class comment).
				if ( self::wanted( $occurrence['at'], $since, $live ) ) {
					$planned[] = array( $id, $occurrence );
				}
			}
		}

		$source = new Farewell_Bridge_Source_Restrict_Content();
		$out    = array();
		foreach ( self::oldest_first( $planned ) as $item ) {
			list( $id, $occurrence ) = $item;
			$membership              = rcp_get_membership( $id );
			if ( ! is_object( $membership ) ) {
				continue;
			}
			$subscription = $source->subscription( $membership, $occurrence['type'], $occurrence['at'] );
			if ( in_array( $occurrence['type'], array( 'subscription.created', 'subscription.resumed' ), true ) ) {
				$subscription['status'] = 'active'; // As it was then, whatever it is now.
			}
			if ( 'subscription.created' === $occurrence['type'] ) {
				$old = self::replaced_at_activation( $gone, (int) $membership->get_user_id(), $id, $occurrence['at'] );
				if ( null !== $old ) {
					$subscription['replaces'] = (string) $old;
				}
			}
			$options = array(
				'occurred_at'  => $occurrence['at'],
				'initiated_by' => self::not_recorded_by( $occurrence['type'] ),
			);
			if ( isset( $occurrence['marker'] ) ) {
				$options['marker'] = $occurrence['marker'];
			}
			$event = self::event( $occurrence['type'], (int) $membership->get_user_id(), $subscription, $options );
			if ( null !== $event ) {
				$out[] = $event;
			}
		}
		return self::answer( $out, count( $rows ), $limit, end( $ids ) );
	}

	/**
	 * What happened to one membership: list of array( type, at (Unix), order, marker? ).
	 *
	 * @param object $row      Its row.
	 * @param array  $logs     Its logs, oldest first: array( type, Unix time ).
	 * @param bool   $replaced Whether a later membership of the member exists.
	 * @return array[]
	 */
	private static function occurrences( $row, array $logs, $replaced ) {
		$status    = (string) $row->status;
		$activated = self::local_time( $row->activated_date );
		$out       = array();
		if ( null === $activated && in_array( $status, self::STARTED, true ) ) {
			$activated = self::local_time( $row->created_date ); // Inserted active.
		}
		if ( null === $activated ) {
			return $out; // Never gave access.
		}
		$out[] = array(
			'type'  => 'subscription.created',
			'at'    => $activated,
			'order' => 0,
		);

		// Ends, oldest first: each expiry RCP logged, and the (latest) cancellation.
		$ends = array();
		foreach ( $logs as $log ) {
			if ( 'membership_expired' === $log[0] ) {
				$ends[] = array( 'subscription.expired', $log[1] );
			}
		}
		$cancelled = self::local_time( $row->cancellation_date );
		$modified  = self::utc_time( $row->date_modified );
		if ( null !== $cancelled && ! empty( $row->disabled ) && null !== $modified && $cancelled >= $modified - self::GRACE ) {
			// disable() stops the billing after it disables: that cancellation is the deletion's
			// or the replacement's, which the live source reports as such (or not at all).
			$cancelled = null;
		}
		if ( null !== $cancelled ) {
			$ends[] = array( 'subscription.cancelled', $cancelled );
		}
		usort(
			$ends,
			static function ( $a, $b ) {
				// A cancellation before an expiry of the same second (cancelled, then expired).
				return array( $a[1], 'subscription.expired' === $a[0] ) <=> array( $b[1], 'subscription.expired' === $b[0] );
			}
		);
		foreach ( $ends as $i => $end ) {
			$out[] = array(
				'type'  => $end[0],
				'at'    => $end[1],
				'order' => 1,
			);
			// Given access again: the first renewal after this end and before the next one.
			$next = isset( $ends[ $i + 1 ] ) ? $ends[ $i + 1 ][1] : null;
			foreach ( $logs as $log ) {
				if ( 'membership_renewed' === $log[0] && $log[1] >= $end[1] && ( null === $next || $log[1] < $next ) ) {
					if ( null !== $next || 'active' === $status ) {
						$out[] = array(
							'type'  => 'subscription.resumed',
							'at'    => $log[1],
							'order' => 2,
						);
					}
					break;
				}
			}
		}

		// Deleted, or replaced, while it gave access: an expiry then, unless another membership took over.
		if ( ! empty( $row->disabled ) && ! $replaced && in_array( $status, array( 'active', 'cancelled' ), true ) && null !== $modified ) {
			$out[] = array(
				'type'   => 'subscription.expired',
				'at'     => $modified,
				'order'  => 3,
				'marker' => 'disabled@' . $modified,
			);
		}
		return $out;
	}

	/**
	 * RCP's logs of these memberships (expiries and renewals), oldest first: id => list of
	 * array( type, Unix time ).
	 *
	 * @param int[] $ids Membership ids.
	 * @return array<int,array[]>
	 */
	private static function logs( array $ids ) {
		global $wpdb;
		$table = self::table( 'logs' );
		if ( ! self::table_exists( $table ) ) {
			return array(); // Before Restrict Content 3.4.
		}
		$in = implode( ',', array_map( 'intval', $ids ) );
		// phpcs:ignore WordPress.DB.PreparedSQL.InterpolatedNotPrepared,WordPress.DB.DirectDatabaseQuery,WordPress.DB.PreparedSQL.NotPrepared -- integers and constants only.
		$rows = $wpdb->get_results( "SELECT object_id, type, date_created FROM {$table} WHERE object_type = 'membership' AND object_id IN ({$in}) AND type IN ('membership_expired','membership_renewed') ORDER BY id ASC" );
		$out  = array();
		foreach ( (array) $rows as $row ) {
			$at = self::utc_time( $row->date_created );
			if ( null !== $at ) {
				$out[ (int) $row->object_id ][] = array( (string) $row->type, $at );
			}
		}
		return $out;
	}

	/**
	 * These members' disabled memberships that still gave access when RCP disabled them:
	 * user id => list of array( membership id, when disabled (Unix) ).
	 *
	 * @param object[] $rows Membership rows of the batch.
	 * @return array<int,array[]>
	 */
	private static function disabled_memberships( array $rows ) {
		global $wpdb;
		$table = self::table( 'memberships' );
		$in    = implode( ',', array_unique( array_map( 'intval', wp_list_pluck( $rows, 'user_id' ) ) ) );
		// phpcs:ignore WordPress.DB.PreparedSQL.InterpolatedNotPrepared,WordPress.DB.DirectDatabaseQuery,WordPress.DB.PreparedSQL.NotPrepared -- integers only.
		$found = $wpdb->get_results( "SELECT id, user_id, expiration_date, date_modified FROM {$table} WHERE user_id IN ({$in}) AND disabled = 1 AND status IN ('active','cancelled')" );
		$out   = array();
		foreach ( (array) $found as $row ) {
			$disabled = self::utc_time( $row->date_modified );
			$expires  = self::local_time( $row->expiration_date );
			if ( null !== $disabled && ( null === $expires || $expires >= $disabled ) ) {
				$out[ (int) $row->user_id ][] = array( (int) $row->id, $disabled );
			}
		}
		return $out;
	}

	/**
	 * The membership RCP disabled as it activated membership $id at $activated (see the class
	 * comment): the closest in time, or null.
	 *
	 * @param array<int,array[]> $gone      disabled_memberships() of the batch.
	 * @param int                $user_id   Member.
	 * @param int                $id        The activated membership.
	 * @param int                $activated When it was activated (Unix).
	 * @return int|null
	 */
	private static function replaced_at_activation( array $gone, $user_id, $id, $activated ) {
		$found = null;
		$gap   = self::GRACE + 1;
		foreach ( isset( $gone[ $user_id ] ) ? $gone[ $user_id ] : array() as $old ) {
			if ( $old[0] !== $id && abs( $old[1] - $activated ) < $gap ) {
				$gap   = abs( $old[1] - $activated );
				$found = $old[0];
			}
		}
		return $found;
	}

	/**
	 * Which of these memberships a later one of the same member followed (an upgrade, a change
	 * of level, a new registration): id => true.
	 *
	 * @param object[] $rows Membership rows.
	 * @return array<int,bool>
	 */
	private static function later_memberships( array $rows ) {
		global $wpdb;
		$table = self::table( 'memberships' );
		$users = array();
		foreach ( $rows as $row ) {
			if ( ! empty( $row->disabled ) ) {
				$users[ (int) $row->user_id ] = true;
			}
		}
		if ( empty( $users ) ) {
			return array();
		}
		$in = implode( ',', array_map( 'intval', array_keys( $users ) ) );
		// phpcs:ignore WordPress.DB.PreparedSQL.InterpolatedNotPrepared,WordPress.DB.DirectDatabaseQuery,WordPress.DB.PreparedSQL.NotPrepared -- integers only.
		$last = $wpdb->get_results( "SELECT user_id, MAX(id) AS last_id FROM {$table} WHERE user_id IN ({$in}) GROUP BY user_id", OBJECT_K );
		$out  = array();
		foreach ( $rows as $row ) {
			$user = (int) $row->user_id;
			if ( isset( $last[ $user ] ) && (int) $last[ $user ]->last_id > (int) $row->id ) {
				$out[ (int) $row->id ] = true;
			}
		}
		return $out;
	}
}
