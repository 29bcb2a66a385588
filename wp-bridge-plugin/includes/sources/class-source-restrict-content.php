<?php
/**
 * Restrict Content (Pro) source.
 *
 * - `rcp_membership_post_cancel( $membership_id, $membership )`: cancelled; a cancelled
 *   membership keeps access until its expiration date (access_ends_at).
 * - `rcp_transition_membership_status( $old, $new, $membership_id )`: expired; pending -> active
 *   is created; cancelled/expired -> active is resumed; -> cancelled is a cancellation too (the
 *   same request's post_cancel then gives the same webhook-id, hence one event).
 * - `rcp_recurring_payment_failed( $member, $gateway )`: payment.failed, using the gateway's
 *   membership when it has one.
 *
 * @package Farewell_Bridge
 */

if ( ! defined( 'ABSPATH' ) ) {
	exit;
}

/**
 * Maps Restrict Content hooks to normalized events.
 */
class Farewell_Bridge_Source_Restrict_Content extends Farewell_Bridge_Source {

	/**
	 * {@inheritDoc}
	 */
	public function slug() {
		return 'restrict-content';
	}

	/**
	 * {@inheritDoc}
	 */
	public function is_available() {
		return function_exists( 'rcp_get_membership' );
	}

	/**
	 * {@inheritDoc}
	 */
	public function hooks() {
		return array(
			array( 'rcp_membership_post_cancel', 'on_post_cancel', 2 ),
			array( 'rcp_transition_membership_status', 'on_transition', 3 ),
			array( 'rcp_recurring_payment_failed', 'on_payment_failed', 2 ),
		);
	}

	/**
	 * A membership was cancelled.
	 *
	 * @param int            $membership_id Membership id.
	 * @param RCP_Membership $membership    Membership.
	 */
	public function on_post_cancel( $membership_id, $membership = null ) {
		if ( ! is_object( $membership ) ) {
			$membership = rcp_get_membership( (int) $membership_id );
		}
		$this->emit( 'subscription.cancelled', $membership );
	}

	/**
	 * A status transition.
	 *
	 * @param string $old           Old status.
	 * @param string $new           New status.
	 * @param int    $membership_id Membership id.
	 */
	public function on_transition( $old, $new, $membership_id ) {
		$type = null;
		if ( 'expired' === $new ) {
			$type = 'subscription.expired';
		} elseif ( 'cancelled' === $new ) {
			$type = 'subscription.cancelled';
		} elseif ( 'active' === $new && 'pending' === $old ) {
			$type = 'subscription.created';
		} elseif ( 'active' === $new && in_array( $old, array( 'cancelled', 'expired' ), true ) ) {
			$type = 'subscription.resumed';
		}
		if ( null === $type ) {
			return;
		}
		$this->emit( $type, rcp_get_membership( (int) $membership_id ) );
	}

	/**
	 * A recurring payment failed.
	 *
	 * @param object $member  RCP_Member (a WP_User).
	 * @param object $gateway RCP_Payment_Gateway.
	 */
	public function on_payment_failed( $member, $gateway = null ) {
		$membership = self::prop( $gateway, 'membership' );
		if ( is_object( $membership ) ) {
			$this->emit( 'payment.failed', $membership, array( 'marker' => 'pf@' . time() ) );
		}
	}

	/**
	 * Records one event about a membership.
	 *
	 * @param string $type       Event type.
	 * @param object $membership RCP_Membership.
	 * @param array  $options    Options.
	 */
	private function emit( $type, $membership, array $options = array() ) {
		if ( ! is_object( $membership ) ) {
			return;
		}
		$this->record( $type, (int) self::call( $membership, 'get_user_id' ), $this->subscription( $membership, $type ), $options );
	}

	/**
	 * The protocol's subscription object.
	 *
	 * @param RCP_Membership $membership Membership.
	 * @param string         $type       Event type.
	 * @return array
	 */
	private function subscription( $membership, $type ) {
		$status_map = array(
			'pending'   => 'pending',
			'active'    => 'active',
			'cancelled' => 'cancelled',
			'expired'   => 'expired',
		);
		$status     = (string) self::call( $membership, 'get_status' );
		$status     = isset( $status_map[ $status ] ) ? $status_map[ $status ] : null;
		if ( 'subscription.expired' === $type ) {
			$status = 'expired';
		} elseif ( 'subscription.cancelled' === $type ) {
			$status = 'cancelled';
		}

		$level_id = (int) self::call( $membership, 'get_object_id' );
		$interval = null;
		if ( $level_id > 0 && function_exists( 'rcp_get_membership_level' ) ) {
			$level = rcp_get_membership_level( $level_id );
			if ( is_object( $level ) ) {
				$interval = 0 === (int) self::call( $level, 'get_duration' ) ? 'lifetime' : Farewell_Bridge_Event_Factory::interval( (string) self::call( $level, 'get_duration_unit' ) );
			}
		}

		$currency = self::call( $membership, 'get_currency' );
		if ( empty( $currency ) && function_exists( 'rcp_get_currency' ) ) {
			$currency = rcp_get_currency();
		}

		$expires = self::call( $membership, 'get_expiration_date', array( false ) );
		if ( 'none' === $expires ) {
			$expires = null;
		}

		return array(
			'id'             => (string) self::call( $membership, 'get_id' ),
			'plan_id'        => $level_id > 0 ? (string) $level_id : null,
			'plan_name'      => self::call( $membership, 'get_membership_level_name' ),
			'amount'         => Farewell_Bridge_Event_Factory::amount( self::call( $membership, 'get_recurring_amount' ) ),
			'currency'       => Farewell_Bridge_Event_Factory::currency( $currency ),
			'interval'       => $interval,
			'status'         => $status,
			'started_at'     => Farewell_Bridge_Event_Factory::rfc3339( self::call( $membership, 'get_created_date', array( false ) ) ),
			'access_ends_at' => Farewell_Bridge_Event_Factory::rfc3339( $expires ),
		);
	}
}
