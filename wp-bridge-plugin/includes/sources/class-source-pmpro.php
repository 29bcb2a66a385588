<?php
/**
 * Paid Memberships Pro source.
 *
 * - `pmpro_cancel_processed( $user )`: the member cancelled on the Cancel page (after its nonce
 *   check). When the next payment is in the future PMPro only sets an end date: the level stays
 *   until expiry, so we report the cancellation now with `access_ends_at` = that end date.
 * - `pmpro_after_change_membership_level( 0, $user_id, $cancel_level_id )`: a level was removed
 *   (admin, gateway, or an immediate cancel); a new level id > 0 means a new subscription.
 *   During an expiry PMPro also calls it with 0: that is reported as expired instead.
 * - `pmpro_membership_post_membership_expiry( $user_id, $level_id )`: the delayed removal.
 * - `pmpro_subscription_payment_failed( $order )`: a failed recurring payment.
 * We never use `pmpro_cancel_should_process` (it can stop a cancel).
 * The subscription id is "{user id}-{level id}", PMPro's unit of membership.
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
			array( 'pmpro_cancel_processed', 'on_cancel_processed', 1 ),
			array( 'pmpro_after_change_membership_level', 'on_change_level', 3 ),
			array( 'pmpro_membership_pre_membership_expiry', 'on_pre_expiry', 2 ),
			array( 'pmpro_membership_post_membership_expiry', 'on_post_expiry', 2 ),
			array( 'pmpro_subscription_payment_failed', 'on_payment_failed', 1 ),
		);
	}

	/**
	 * The member cancelled on the Cancel page.
	 *
	 * @param WP_User $user The member.
	 */
	public function on_cancel_processed( $user ) {
		$user_id = (int) self::prop( $user, 'ID' );
		if ( $user_id <= 0 ) {
			return;
		}
		foreach ( $this->requested_level_ids( $user_id ) as $level_id ) {
			$this->record( 'subscription.cancelled', $user_id, $this->subscription( $user_id, $level_id, 'cancelled' ) );
		}
	}

	/**
	 * A level was given (> 0) or removed (0).
	 *
	 * @param int      $level_id        New level id, 0 when cancelled.
	 * @param int      $user_id         User id.
	 * @param int|null $cancel_level_id Removed level id.
	 */
	public function on_change_level( $level_id, $user_id, $cancel_level_id = null ) {
		$level_id = (int) $level_id;
		$user_id  = (int) $user_id;
		if ( $level_id > 0 ) {
			$this->record( 'subscription.created', $user_id, $this->subscription( $user_id, $level_id, 'active' ) );
			return;
		}
		$cancel_level_id = (int) $cancel_level_id;
		if ( $cancel_level_id <= 0 || isset( $this->expiring[ $user_id . '-' . $cancel_level_id ] ) ) {
			return;
		}
		$this->record( 'subscription.cancelled', $user_id, $this->subscription( $user_id, $cancel_level_id, 'cancelled' ) );
	}

	/**
	 * Marks a level as expiring so the level removal that follows is not a cancellation.
	 *
	 * @param int $user_id  User id.
	 * @param int $level_id Level id.
	 */
	public function on_pre_expiry( $user_id, $level_id ) {
		$this->expiring[ (int) $user_id . '-' . (int) $level_id ] = true;
	}

	/**
	 * The level expired.
	 *
	 * @param int $user_id  User id.
	 * @param int $level_id Level id.
	 */
	public function on_post_expiry( $user_id, $level_id ) {
		unset( $this->expiring[ (int) $user_id . '-' . (int) $level_id ] );
		$this->record( 'subscription.expired', (int) $user_id, $this->subscription( (int) $user_id, (int) $level_id, 'expired' ) );
	}

	/**
	 * A recurring payment failed.
	 *
	 * @param object $order MemberOrder.
	 */
	public function on_payment_failed( $order ) {
		$user_id  = (int) self::prop( $order, 'user_id' );
		$level_id = (int) self::prop( $order, 'membership_id' );
		$sub      = $this->subscription( $user_id, $level_id, null );
		$total    = Farewell_Bridge_Event_Factory::amount( self::prop( $order, 'total' ) );
		if ( null !== $total ) {
			$sub['amount'] = $total;
		}
		$this->record( 'payment.failed', $user_id, $sub, array( 'marker' => 'order-' . (int) self::prop( $order, 'id' ) ) );
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
	 * The protocol's subscription object for a user's level.
	 *
	 * @param int         $user_id  User id.
	 * @param int         $level_id Level id.
	 * @param string|null $status   Status to report.
	 * @return array
	 */
	private function subscription( $user_id, $level_id, $status ) {
		global $pmpro_currency;
		$level = null;
		if ( function_exists( 'pmpro_getSpecificMembershipLevelForUser' ) ) {
			$level = pmpro_getSpecificMembershipLevelForUser( $user_id, $level_id );
		}
		$generic = function_exists( 'pmpro_getLevel' ) ? pmpro_getLevel( $level_id ) : null;
		$source  = is_object( $level ) ? $level : $generic;

		$billing  = self::prop( $source, 'billing_amount' );
		$cycle    = (int) self::prop( $source, 'cycle_number' );
		$interval = null;
		$amount   = null;
		if ( (float) $billing > 0 && $cycle > 0 ) {
			$amount   = Farewell_Bridge_Event_Factory::amount( $billing );
			$interval = Farewell_Bridge_Event_Factory::interval( (string) self::prop( $source, 'cycle_period' ) );
		} elseif ( null !== self::prop( $source, 'initial_payment' ) ) {
			$amount   = Farewell_Bridge_Event_Factory::amount( self::prop( $source, 'initial_payment' ) );
			$interval = empty( self::prop( $source, 'expiration_number' ) ) ? 'lifetime' : null;
		}

		return array(
			'id'             => $user_id . '-' . $level_id,
			'plan_id'        => (string) $level_id,
			'plan_name'      => self::prop( $source, 'name' ),
			'amount'         => $amount,
			'currency'       => Farewell_Bridge_Event_Factory::currency( is_string( $pmpro_currency ) ? $pmpro_currency : '' ),
			'interval'       => $interval,
			'status'         => $status,
			'started_at'     => Farewell_Bridge_Event_Factory::rfc3339( self::prop( $level, 'startdate' ) ),
			'access_ends_at' => Farewell_Bridge_Event_Factory::rfc3339( self::prop( $level, 'enddate' ) ),
		);
	}
}
