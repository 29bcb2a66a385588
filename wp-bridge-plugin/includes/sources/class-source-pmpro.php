<?php
/**
 * Paid Memberships Pro source (read against PMPro 3.8.4, strangerstudios/paid-memberships-pro).
 *
 * Where a membership ends or changes in PMPro, and what we report:
 * - The Cancel page (preheaders/cancel.php) fires `pmpro_cancel_processed( $user )` after its nonce
 *   check. When the next payment is in the future PMPro only sets an end date
 *   (pmpro_set_expiration_date()) and the level stays until then: reported now, as cancelled, with
 *   `access_ends_at` = that end date. Otherwise it removes the level (below).
 * - The payment service cancels (pmpro_handle_subscription_cancellation_at_gateway(), from the
 *   PayPal IPN, Stripe and Braintree webhooks…): PMPro marks its PMPro_Subscription cancelled
 *   and saves it, then either sets an end date — no hook at all follows — or removes the level.
 *   PMPro_Subscription::save() writes with REPLACE, so $wpdb->insert_id is set on every save and
 *   it fires `pmpro_added_subscription` even for an update (`pmpro_updated_subscription` only when
 *   the id comes back empty): we listen to both. So on `pmpro_updated_subscription` with status cancelled we look again at
 *   the end of the request (`shutdown`, before the dispatcher sends): a level still active with an
 *   end date is a cancellation.
 * - `pmpro_after_change_membership_level( 0, $user_id, $cancel_level_id )`: a level was removed
 *   now (the administrator, the gateway, an immediate cancel); a new level id > 0 is a new
 *   membership (checkout, a level given by the administrator). During an expiry PMPro calls it
 *   with 0 too: reported as expired instead (`pmpro_membership_{pre,post}_membership_expiry`).
 * - A change of level (the administrator's Change Membership Level, a checkout of another level):
 *   pmpro_changeMembershipLevel() fires `pmpro_before_change_membership_level( $new, $user_id,
 *   $old_levels )`, sets the old level's row to `changed` (`admin_changed`) with no hook of its own,
 *   then `pmpro_after_change_membership_level( $new, $user_id )`. The new level's created names the
 *   old one in `subscription.replaces` (the sidecar ends it as replaced, no churn): one of the levels
 *   the member had before whose newest row is now `changed`. The same level given again is no change.
 * - `pmpro_subscription_payment_failed( $order )`: a failed recurring payment.
 * - `pmpro_subscription_payment_completed( $order )`: a recurring payment went through
 *   (pmpro_handle_recurring_payment_succeeded_at_gateway(), from PayPal's IPN, Stripe's
 *   invoice.payment_succeeded…; the first payment completes the checkout instead), reported as
 *   `payment.succeeded` marked by the order. Not when no older order of the same subscription was
 *   paid: Stripe's first invoice, arriving before its checkout's own notification, completes the
 *   checkout's pending order through that same path.
 * We never use `pmpro_cancel_should_process` (it can stop a cancel).
 *
 * Dates: PMPro keeps memberships_users.startdate/enddate as wall-clock times of the site's time
 * zone (current_time( 'mysql' )) and expires a level when current_time() reaches its enddate; its
 * own getters return them as "local timestamps" (UNIX_TIMESTAMP(CONVERT_TZ(…))), off from true Unix
 * time by the site's UTC offset. So we read the row itself and convert it in the site's zone (with
 * the offset of that date, daylight saving included).
 *
 * The subscription id is "{user id}-{level id}", PMPro's unit of membership. An end is marked by
 * the memberships_users row it ends, so a notification seen twice (even in two requests) is one
 * event.
 *
 * @package Farewell_Bridge
 */

if ( ! defined( 'ABSPATH' ) ) {
	exit;
}

/**
 * Maps Paid Memberships Pro hooks to normalized events.
 */
class Farewell_Bridge_Source_Pmpro extends Farewell_Bridge_Source {

	/**
	 * Level ids being expired right now, by user.
	 *
	 * @var array<string,bool>
	 */
	private $expiring = array();

	/**
	 * "{user}-{level}" whose subscription was cancelled in this request, to look at on shutdown.
	 *
	 * @var array<string,int[]>
	 */
	private $pending = array();

	/**
	 * The level ids each user had when a change of level began (pmpro_before_change_membership_level).
	 *
	 * @var array<int,int[]>
	 */
	private $changing = array();

	/**
	 * {@inheritDoc}
	 */
	public function slug() {
		return 'paidmembershipspro';
	}

	/**
	 * {@inheritDoc}
	 */
	public function is_available() {
		return defined( 'PMPRO_VERSION' );
	}

	/**
	 * {@inheritDoc}
	 */
	public function hooks() {
		return array(
			array( 'pmpro_cancel_processed', 'action_pmpro_cancel_processed', 1 ),
			array( 'pmpro_before_change_membership_level', 'action_pmpro_before_change_membership_level', 3 ),
			array( 'pmpro_after_change_membership_level', 'action_pmpro_after_change_membership_level', 3 ),
			array( 'pmpro_membership_pre_membership_expiry', 'action_pmpro_membership_pre_membership_expiry', 2 ),
			array( 'pmpro_membership_post_membership_expiry', 'action_pmpro_membership_post_membership_expiry', 2 ),
			array( 'pmpro_subscription_payment_failed', 'action_pmpro_subscription_payment_failed', 1 ),
			array( 'pmpro_subscription_payment_completed', 'action_pmpro_subscription_payment_completed', 1 ),
			array( 'pmpro_added_subscription', 'action_pmpro_added_subscription', 1 ),
			array( 'pmpro_updated_subscription', 'action_pmpro_updated_subscription', 1 ),
			array( 'shutdown', 'action_shutdown', 0 ),
		);
	}

	/**
	 * The member cancelled on the Cancel page.
	 *
	 * @param WP_User $user The member.
	 */
	public function action_pmpro_cancel_processed( $user ) {
		$user_id = (int) self::prop( $user, 'ID' );
		if ( $user_id <= 0 ) {
			return;
		}
		foreach ( $this->requested_level_ids( $user_id ) as $level_id ) {
			$this->report_end_date( $user_id, $level_id );
		}
	}

	/**
	 * A PMPro_Subscription was saved: PMPro fires this one for an update too (see the class
	 * comment), so it is handled as pmpro_updated_subscription.
	 *
	 * @param object $subscription PMPro_Subscription.
	 */
	public function action_pmpro_added_subscription( $subscription ) {
		$this->action_pmpro_updated_subscription( $subscription );
	}

	/**
	 * A PMPro_Subscription was saved (pmpro_added_subscription or pmpro_updated_subscription):
	 * when it is cancelled, look at the membership on shutdown.
	 *
	 * @param object $subscription PMPro_Subscription.
	 */
	public function action_pmpro_updated_subscription( $subscription ) {
		$status = self::call( $subscription, 'get_status' );
		if ( null === $status ) {
			$status = self::prop( $subscription, 'status' );
		}
		if ( 'cancelled' !== $status ) {
			return;
		}
		$user_id  = (int) self::call( $subscription, 'get_user_id' );
		$level_id = (int) self::call( $subscription, 'get_membership_level_id' );
		if ( $user_id > 0 && $level_id > 0 ) {
			$this->pending[ $user_id . '-' . $level_id ] = array( $user_id, $level_id );
		}
	}

	/**
	 * End of the request: a cancelled subscription whose level is still active with an end date
	 * was cancelled with time left (what the gateway path does without any further hook).
	 */
	public function action_shutdown() {
		$pending       = $this->pending;
		$this->pending = array();
		foreach ( $pending as $pair ) {
			$this->report_end_date( $pair[0], $pair[1] );
		}
	}

	/**
	 * Reports a cancellation with time left: the level is active and has an end date.
	 *
	 * @param int $user_id  User id.
	 * @param int $level_id Level id.
	 */
	private function report_end_date( $user_id, $level_id ) {
		$row = $this->membership_row( $user_id, $level_id, true );
		if ( null === $row || null === self::local_date( $row->enddate ) ) {
			return; // Removed now (reported by action_pmpro_after_change_membership_level) or not ending: nothing to add.
		}
		$this->record(
			'subscription.cancelled',
			$user_id,
			$this->subscription( $user_id, $level_id, 'cancelled', $row ),
			array( 'marker' => 'end-' . (int) $row->id )
		);
	}

	/**
	 * A level is about to be given: remembers the levels the member has now (see the class comment).
	 *
	 * @param int   $level_id   New level id, 0 when levels are removed.
	 * @param int   $user_id    User id.
	 * @param array $old_levels The member's levels before the change.
	 */
	public function action_pmpro_before_change_membership_level( $level_id, $user_id, $old_levels = array() ) {
		if ( (int) $level_id <= 0 ) {
			return;
		}
		$ids = array();
		foreach ( (array) $old_levels as $level ) {
			$ids[] = (int) self::prop( $level, 'id' );
		}
		$this->changing[ (int) $user_id ] = array_values( array_filter( $ids ) );
	}

	/**
	 * The subscription id of the level a change to $level_id ended: one the member had before it
	 * whose newest row PMPro set to `changed` (or `admin_changed`), or null.
	 *
	 * @param int $user_id  User id.
	 * @param int $level_id The new level id.
	 * @return string|null
	 */
	private function replaced_by_change( $user_id, $level_id ) {
		if ( ! isset( $this->changing[ $user_id ] ) ) {
			return null;
		}
		$before = $this->changing[ $user_id ];
		unset( $this->changing[ $user_id ] );
		foreach ( $before as $old_level_id ) {
			if ( $old_level_id === $level_id ) {
				continue; // The same level again: the same subscription id, no change.
			}
			$row = $this->membership_row( $user_id, $old_level_id, false );
			if ( null !== $row && in_array( (string) $row->status, array( 'changed', 'admin_changed' ), true ) ) {
				return $user_id . '-' . $old_level_id;
			}
		}
		return null;
	}

	/**
	 * A level was given (> 0) or removed (0).
	 *
	 * @param int      $level_id        New level id, 0 when cancelled.
	 * @param int      $user_id         User id.
	 * @param int|null $cancel_level_id Removed level id.
	 */
	public function action_pmpro_after_change_membership_level( $level_id, $user_id, $cancel_level_id = null ) {
		$level_id = (int) $level_id;
		$user_id  = (int) $user_id;
		if ( $level_id > 0 ) {
			$row = $this->membership_row( $user_id, $level_id, true );
			$sub = $this->subscription( $user_id, $level_id, 'active', $row );
			$old = $this->replaced_by_change( $user_id, $level_id );
			if ( null !== $old ) {
				$sub['replaces'] = $old;
			}
			$this->record(
				'subscription.created',
				$user_id,
				$sub,
				null === $row ? array() : array( 'marker' => 'start-' . (int) $row->id )
			);
			return;
		}
		$cancel_level_id = (int) $cancel_level_id;
		if ( $cancel_level_id <= 0 || isset( $this->expiring[ $user_id . '-' . $cancel_level_id ] ) ) {
			return;
		}
		$row = $this->membership_row( $user_id, $cancel_level_id, false );
		$this->record(
			'subscription.cancelled',
			$user_id,
			$this->subscription( $user_id, $cancel_level_id, 'cancelled', $row ),
			null === $row ? array() : array( 'marker' => 'removed-' . (int) $row->id )
		);
	}

	/**
	 * Marks a level as expiring so the level removal that follows is not a cancellation.
	 *
	 * @param int $user_id  User id.
	 * @param int $level_id Level id.
	 */
	public function action_pmpro_membership_pre_membership_expiry( $user_id, $level_id ) {
		$this->expiring[ (int) $user_id . '-' . (int) $level_id ] = true;
	}

	/**
	 * The level expired.
	 *
	 * @param int $user_id  User id.
	 * @param int $level_id Level id.
	 */
	public function action_pmpro_membership_post_membership_expiry( $user_id, $level_id ) {
		unset( $this->expiring[ (int) $user_id . '-' . (int) $level_id ] );
		$row = $this->membership_row( (int) $user_id, (int) $level_id, false );
		$this->record(
			'subscription.expired',
			(int) $user_id,
			$this->subscription( (int) $user_id, (int) $level_id, 'expired', $row ),
			null === $row ? array() : array( 'marker' => 'expired-' . (int) $row->id )
		);
	}

	/**
	 * A recurring payment failed.
	 *
	 * @param object $order MemberOrder.
	 */
	public function action_pmpro_subscription_payment_failed( $order ) {
		$user_id  = (int) self::prop( $order, 'user_id' );
		$level_id = (int) self::prop( $order, 'membership_id' );
		$sub      = $this->subscription( $user_id, $level_id, null, $this->membership_row( $user_id, $level_id, true ) );
		$total    = Farewell_Bridge_Event_Factory::amount( self::prop( $order, 'total' ) );
		if ( null !== $total && (float) $total > 0 ) {
			$sub['amount'] = $total;
		}
		$this->record( 'payment.failed', $user_id, $sub, array( 'marker' => 'order-' . (int) self::prop( $order, 'id' ) ) );
	}

	/**
	 * A recurring payment went through (see the class comment).
	 *
	 * @param object $order MemberOrder, saved as success.
	 */
	public function action_pmpro_subscription_payment_completed( $order ) {
		$user_id  = (int) self::prop( $order, 'user_id' );
		$level_id = (int) self::prop( $order, 'membership_id' );
		if ( $user_id <= 0 || $level_id <= 0 || ! $this->renews( $order ) ) {
			return;
		}
		$row   = $this->membership_row( $user_id, $level_id, true );
		$sub   = $this->subscription( $user_id, $level_id, null === $row ? null : 'active', $row );
		$total = Farewell_Bridge_Event_Factory::amount( self::prop( $order, 'total' ) );
		if ( null !== $total && (float) $total > 0 ) {
			$sub['amount'] = $total;
		}
		$this->record( 'payment.succeeded', $user_id, $sub, array( 'marker' => 'order-' . (int) self::prop( $order, 'id' ) ) );
	}

	/**
	 * Whether a paid order renews its subscription: an older order of the same payment-service
	 * subscription (PMPro's own key: subscription_transaction_id, gateway, environment) was paid.
	 * Without that key PMPro could not have found the subscription, so the hook's word is taken.
	 *
	 * @param object $order MemberOrder.
	 * @return bool
	 */
	private function renews( $order ) {
		global $wpdb;
		$profile = (string) self::prop( $order, 'subscription_transaction_id' );
		if ( '' === $profile || empty( $wpdb->pmpro_membership_orders ) ) {
			return true;
		}
		$table = $wpdb->pmpro_membership_orders;
		$sql   = "SELECT id FROM {$table} WHERE subscription_transaction_id = %s AND gateway = %s AND gateway_environment = %s AND id < %d AND status IN ('success', 'refunded') LIMIT 1";
		$older = $wpdb->get_var( $wpdb->prepare( $sql, $profile, (string) self::prop( $order, 'gateway' ), (string) self::prop( $order, 'gateway_environment' ), (int) self::prop( $order, 'id' ) ) ); // phpcs:ignore WordPress.DB.PreparedSQL.NotPrepared,WordPress.DB.DirectDatabaseQuery -- PMPro's own table name; one indexed read per renewal.
		return null !== $older;
	}

	/**
	 * Levels named in the Cancel page request (?levelstocancel=1+2 or "all", or ?level=).
	 *
	 * @param int $user_id User id.
	 * @return int[]
	 */
	private function requested_level_ids( $user_id ) {
		// phpcs:disable WordPress.Security.NonceVerification.Recommended -- PMPro verified its nonce before firing pmpro_cancel_processed.
		$raw = '';
		if ( isset( $_REQUEST['levelstocancel'] ) ) {
			$raw = sanitize_text_field( wp_unslash( $_REQUEST['levelstocancel'] ) );
		} elseif ( isset( $_REQUEST['level'] ) ) {
			$raw = sanitize_text_field( wp_unslash( $_REQUEST['level'] ) );
		}
		// phpcs:enable
		if ( 'all' === $raw || '' === $raw ) {
			$ids = array();
			if ( function_exists( 'pmpro_getMembershipLevelsForUser' ) ) {
				foreach ( (array) pmpro_getMembershipLevelsForUser( $user_id ) as $level ) {
					$ids[] = (int) self::prop( $level, 'id' );
				}
			}
			return array_values( array_filter( $ids ) );
		}
		return array_values( array_filter( array_map( 'intval', preg_split( '/[ +,]+/', $raw ) ) ) );
	}

	/**
	 * The member's newest memberships_users row for a level, as PMPro stored it (dates in the
	 * site's time zone), or null. PMPro names its table on $wpdb (paid-memberships-pro.php).
	 *
	 * @param int  $user_id     User id.
	 * @param int  $level_id    Level id.
	 * @param bool $active_only Only the active row (a level being removed is no longer active).
	 * @return object|null
	 */
	private function membership_row( $user_id, $level_id, $active_only ) {
		global $wpdb;
		if ( empty( $wpdb->pmpro_memberships_users ) ) {
			return null;
		}
		$table = $wpdb->pmpro_memberships_users;
		$sql   = "SELECT id, status, initial_payment, billing_amount, cycle_number, cycle_period, startdate, enddate FROM {$table} WHERE user_id = %d AND membership_id = %d" . ( $active_only ? " AND status = 'active'" : '' ) . ' ORDER BY id DESC LIMIT 1';
		$row   = $wpdb->get_row( $wpdb->prepare( $sql, $user_id, $level_id ) ); // phpcs:ignore WordPress.DB.PreparedSQL.NotPrepared,WordPress.DB.DirectDatabaseQuery -- PMPro's own table name; read once per event.
		return is_object( $row ) ? $row : null;
	}

	/**
	 * RFC 3339 UTC of a PMPro memberships_users date ("Y-m-d H:i:s" in the site's time zone).
	 *
	 * @param string|null $value Stored value.
	 * @return string|null Null for an empty, zero or PMPro "no date" value.
	 */
	public static function local_date( $value ) {
		$text = is_string( $value ) ? trim( $value ) : '';
		if ( 1 !== preg_match( '/^(\d{4})-\d{2}-\d{2}( \d{2}:\d{2}(:\d{2})?)?$/', $text, $match ) || (int) $match[1] < 1971 ) {
			return null; // '', '0000-00-00 00:00:00', PMPro's magic '1000-01-01 00:00:00'.
		}
		try {
			$date = new DateTimeImmutable( $text, wp_timezone() );
		} catch ( Exception $e ) {
			return null;
		}
		return Farewell_Bridge_Event_Factory::rfc3339( $date->getTimestamp() );
	}

	/**
	 * The protocol's subscription object for a user's level — also for its history
	 * (Farewell_Bridge_History_Pmpro), whose imported events must carry the fields live ones do.
	 *
	 * @param int         $user_id  User id.
	 * @param int         $level_id Level id.
	 * @param string|null $status   Status to report.
	 * @param object|null $row      The member's memberships_users row (their own price and dates).
	 * @return array
	 */
	public function subscription( $user_id, $level_id, $status, $row = null ) {
		global $pmpro_currency;
		$level  = function_exists( 'pmpro_getLevel' ) ? pmpro_getLevel( $level_id ) : null;
		$source = is_object( $row ) ? $row : $level;

		$billing  = self::prop( $source, 'billing_amount' );
		$cycle    = (int) self::prop( $source, 'cycle_number' );
		$interval = null;
		$amount   = null;
		if ( (float) $billing > 0 && $cycle > 0 ) {
			$amount   = $billing;
			$interval = self::prop( $source, 'cycle_period' );
		} elseif ( null !== self::prop( $source, 'initial_payment' ) ) {
			$amount   = self::prop( $source, 'initial_payment' );
			$interval = empty( self::prop( $level, 'expiration_number' ) ) ? 'lifetime' : null;
		}

		return Farewell_Bridge_Event_Factory::subscription(
			array(
				'id'             => $user_id . '-' . $level_id,
				'plan_id'        => (string) $level_id,
				'plan_name'      => self::prop( $level, 'name' ),
				'amount'         => $amount,
				'currency'       => is_string( $pmpro_currency ) ? $pmpro_currency : null,
				'interval'       => $interval,
				'status'         => $status,
				'started_at'     => self::local_date( self::prop( $row, 'startdate' ) ),
				'access_ends_at' => self::local_date( self::prop( $row, 'enddate' ) ),
			)
		);
	}
}
