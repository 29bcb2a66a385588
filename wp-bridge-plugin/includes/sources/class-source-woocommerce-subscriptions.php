<?php
/**
 * WooCommerce Subscriptions source.
 *
 * `woocommerce_subscription_status_updated( $subscription, $new, $old )` carries every status
 * change:
 *   -> pending-cancel  cancelled by the member or an admin; prepaid time remains (access_ends_at)
 *   -> cancelled       from pending-cancel: the prepaid time ended = expired; otherwise cancelled
 *   -> expired         expired
 *   -> on-hold         paused (suspended, e.g. awaiting a payment)
 *   -> active          from pending: created; from on-hold or pending-cancel: resumed
 * `woocommerce_subscription_renewal_payment_failed( $subscription, $order )` is payment.failed.
 * `woocommerce_subscription_renewal_payment_complete( $subscription, $order )` is payment.succeeded:
 * WC_Subscription::payment_complete() fires it after `woocommerce_subscription_payment_complete`
 * only when the last order is a renewal order (wcs_order_contains_renewal()), so never for the
 * parent order's first payment. Both payment events are marked by the renewal order.
 *
 * @package Farewell_Bridge
 */

if ( ! defined( 'ABSPATH' ) ) {
	exit;
}

/**
 * Maps WooCommerce Subscriptions hooks to normalized events.
 */
class Farewell_Bridge_Source_Woocommerce_Subscriptions extends Farewell_Bridge_Source {

	/**
	 * {@inheritDoc}
	 */
	public function slug() {
		return 'woocommerce-subscriptions';
	}

	/**
	 * {@inheritDoc}
	 */
	public function is_available() {
		return class_exists( 'WC_Subscription' );
	}

	/**
	 * {@inheritDoc}
	 */
	public function hooks() {
		return array(
			array( 'woocommerce_subscription_status_updated', 'action_woocommerce_subscription_status_updated', 3 ),
			array( 'woocommerce_subscription_renewal_payment_failed', 'action_woocommerce_subscription_renewal_payment_failed', 2 ),
			array( 'woocommerce_subscription_renewal_payment_complete', 'action_woocommerce_subscription_renewal_payment_complete', 2 ),
		);
	}

	/**
	 * The event type of a status transition, or null.
	 *
	 * @param string $new New status.
	 * @param string $old Old status.
	 * @return string|null
	 */
	public static function type_for( $new, $old ) {
		switch ( $new ) {
			case 'pending-cancel':
				return 'subscription.cancelled';
			case 'cancelled':
				return 'pending-cancel' === $old ? 'subscription.expired' : 'subscription.cancelled';
			case 'expired':
				return 'subscription.expired';
			case 'on-hold':
				return 'subscription.paused';
			case 'active':
				if ( 'pending' === $old || '' === $old ) {
					return 'subscription.created';
				}
				return in_array( $old, array( 'on-hold', 'pending-cancel' ), true ) ? 'subscription.resumed' : null;
		}
		return null;
	}

	/**
	 * A status change.
	 *
	 * @param WC_Subscription $subscription Subscription.
	 * @param string          $new          New status.
	 * @param string          $old          Old status.
	 */
	public function action_woocommerce_subscription_status_updated( $subscription, $new, $old ) {
		$type = self::type_for( (string) $new, (string) $old );
		if ( null === $type || ! is_object( $subscription ) ) {
			return;
		}
		$this->record(
			$type,
			(int) self::call( $subscription, 'get_user_id' ),
			$this->subscription( $subscription, $type ),
			array( 'marker' => $old . '>' . $new . '@' . time() )
		);
	}

	/**
	 * A renewal payment failed.
	 *
	 * @param WC_Subscription $subscription Subscription.
	 * @param WC_Order|null   $order        The failed renewal order.
	 */
	public function action_woocommerce_subscription_renewal_payment_failed( $subscription, $order = null ) {
		if ( ! is_object( $subscription ) ) {
			return;
		}
		$order_id = self::call( $order, 'get_id' );
		$this->record(
			'payment.failed',
			(int) self::call( $subscription, 'get_user_id' ),
			$this->subscription( $subscription, 'payment.failed' ),
			array( 'marker' => null !== $order_id ? 'order-' . (int) $order_id : '' )
		);
	}

	/**
	 * A renewal payment went through.
	 *
	 * @param WC_Subscription $subscription Subscription (already active again).
	 * @param WC_Order|null   $order        The paid renewal order.
	 */
	public function action_woocommerce_subscription_renewal_payment_complete( $subscription, $order = null ) {
		if ( ! is_object( $subscription ) ) {
			return;
		}
		$order_id = self::call( $order, 'get_id' );
		$this->record(
			'payment.succeeded',
			(int) self::call( $subscription, 'get_user_id' ),
			$this->subscription( $subscription, 'payment.succeeded' ),
			array( 'marker' => null !== $order_id ? 'order-' . (int) $order_id : '' )
		);
	}

	/**
	 * The protocol's subscription object — also for the history
	 * (Farewell_Bridge_History_Woocommerce_Subscriptions), whose imported events must carry the
	 * fields live ones do.
	 *
	 * @param WC_Subscription $sub  Subscription.
	 * @param string          $type Event type.
	 * @return array
	 */
	public function subscription( $sub, $type ) {
		$status_map = array(
			'pending'        => 'pending',
			'active'         => 'active',
			'on-hold'        => 'paused',
			'pending-cancel' => 'cancelled',
			'cancelled'      => 'cancelled',
			'expired'        => 'expired',
		);
		$status     = (string) self::call( $sub, 'get_status' );
		$status     = isset( $status_map[ $status ] ) ? $status_map[ $status ] : null;
		if ( 'subscription.expired' === $type ) {
			$status = 'expired';
		}

		$plan_id   = null;
		$plan_name = null;
		$items     = self::call( $sub, 'get_items' );
		if ( is_array( $items ) && ! empty( $items ) ) {
			$item      = reset( $items );
			$plan_id   = self::call( $item, 'get_product_id' );
			$plan_name = self::call( $item, 'get_name' );
		}

		$ends = self::call( $sub, 'get_date', array( 'end' ) );
		if ( empty( $ends ) && 'subscription.cancelled' === $type ) {
			$ends = self::call( $sub, 'get_date', array( 'next_payment' ) );
		}

		return Farewell_Bridge_Event_Factory::subscription(
			array(
				'id'             => (string) self::call( $sub, 'get_id' ),
				'plan_id'        => null !== $plan_id ? (string) $plan_id : null,
				'plan_name'      => $plan_name,
				'amount'         => self::call( $sub, 'get_total' ),
				'currency'       => self::call( $sub, 'get_currency' ),
				'interval'       => self::call( $sub, 'get_billing_period' ),
				'status'         => $status,
				'started_at'     => self::call( $sub, 'get_date', array( 'start' ) ),
				'access_ends_at' => $ends,
			)
		);
	}
}
