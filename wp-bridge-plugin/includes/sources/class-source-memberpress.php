<?php
/**
 * MemberPress source.
 *
 * MemberPress fires every hook twice (dashes and underscores, see MeprHooks); we listen to the
 * underscore spelling only, on the per-event hooks `mepr_event_{event}` that MeprEvent::store()
 * fires for new event rows. Each receives one MeprEvent; get_data() gives the MeprSubscription,
 * MeprTransaction or MeprUser. The MeprEvent row id is the occurrence marker of the webhook-id.
 * We never filter `mepr_account_action` or `mepr_custom_cancel_link`: the cancel flow is theirs.
 *
 * @package Farewell_Bridge
 */

if ( ! defined( 'ABSPATH' ) ) {
	exit;
}

/**
 * Maps MemberPress events to normalized events.
 */
class Farewell_Bridge_Source_Memberpress extends Farewell_Bridge_Source {

	/**
	 * MemberPress event => normalized type.
	 *
	 * @var array<string,string>
	 */
	const EVENTS = array(
		'subscription_created'         => 'subscription.created',
		'subscription_stopped'         => 'subscription.cancelled',
		'subscription_paused'          => 'subscription.paused',
		'subscription_resumed'         => 'subscription.resumed',
		'subscription_expired'         => 'subscription.expired',
		'transaction_failed'           => 'payment.failed',
		'recurring_transaction_failed' => 'payment.failed',
		'member_account_updated'       => 'member.updated',
	);

	/**
	 * {@inheritDoc}
	 */
	public function slug() {
		return 'memberpress';
	}

	/**
	 * {@inheritDoc}
	 */
	public function is_available() {
		return class_exists( 'MeprEvent' );
	}

	/**
	 * {@inheritDoc}
	 */
	public function hooks() {
		$hooks = array();
		foreach ( array_keys( self::EVENTS ) as $event ) {
			$hooks[] = array( 'mepr_event_' . $event, 'on_event', 1 );
		}
		return $hooks;
	}

	/**
	 * Handles one MeprEvent.
	 *
	 * @param object $event MeprEvent.
	 */
	public function on_event( $event ) {
		if ( ! is_object( $event ) ) {
			return;
		}
		$name = str_replace( '-', '_', (string) self::prop( $event, 'event' ) );
		if ( ! array_key_exists( $name, self::EVENTS ) ) {
			return;
		}
		$type   = self::EVENTS[ $name ];
		$data   = self::call( $event, 'get_data' );
		$marker = 'evt-' . (int) self::prop( $event, 'id' );

		if ( 'member.updated' === $type ) {
			$user_id = (int) self::prop( $data, 'ID' );
			$this->record( $type, $user_id, null, array( 'object_id' => 'user-' . $user_id, 'marker' => $marker ) );
			return;
		}

		if ( 'payment.failed' === $type ) {
			$this->on_failed_transaction( $data );
			return;
		}

		if ( ! is_a( $data, 'MeprSubscription' ) ) {
			return;
		}
		$subscription = $this->subscription( $data, $type );
		$this->record( $type, (int) self::prop( $data, 'user_id' ), $subscription, array( 'marker' => $marker ) );
	}

	/**
	 * payment.failed from a MeprTransaction. Both transaction-failed and
	 * recurring-transaction-failed are recorded for the same transaction: the marker is the
	 * transaction id, so they give one event.
	 *
	 * @param object $txn MeprTransaction.
	 */
	private function on_failed_transaction( $txn ) {
		if ( ! is_object( $txn ) ) {
			return;
		}
		$sub_id = (int) self::prop( $txn, 'subscription_id' );
		$sub    = null;
		if ( $sub_id > 0 && class_exists( 'MeprSubscription' ) ) {
			$sub = new MeprSubscription( $sub_id );
		}
		if ( $sub && (int) self::prop( $sub, 'id' ) > 0 ) {
			$subscription = $this->subscription( $sub, 'payment.failed' );
		} else {
			$subscription = array(
				'id'        => 'txn-' . (int) self::prop( $txn, 'id' ),
				'plan_id'   => self::prop( $txn, 'product_id' ),
				'plan_name' => $this->product_name( self::prop( $txn, 'product_id' ) ),
				'amount'    => Farewell_Bridge_Event_Factory::amount( self::prop( $txn, 'amount' ) ),
				'currency'  => $this->currency(),
			);
		}
		$this->record(
			'payment.failed',
			(int) self::prop( $txn, 'user_id' ),
			$subscription,
			array( 'marker' => 'txn-' . (int) self::prop( $txn, 'id' ) )
		);
	}

	/**
	 * The protocol's subscription object from a MeprSubscription.
	 *
	 * @param object $sub  MeprSubscription.
	 * @param string $type Event type (sets the status).
	 * @return array
	 */
	private function subscription( $sub, $type ) {
		$status_map = array(
			'pending'   => 'pending',
			'active'    => 'active',
			'suspended' => 'paused',
			'cancelled' => 'cancelled',
		);
		$status     = (string) self::prop( $sub, 'status' );
		$status     = isset( $status_map[ $status ] ) ? $status_map[ $status ] : null;
		if ( 'subscription.expired' === $type ) {
			$status = 'expired';
		} elseif ( 'subscription.cancelled' === $type ) {
			$status = 'cancelled';
		}

		$expires = self::prop( $sub, 'expires_at' );
		if ( empty( $expires ) ) {
			$txn     = self::call( $sub, 'latest_txn' );
			$expires = self::prop( $txn, 'expires_at' );
		}

		return array(
			'id'             => (string) (int) self::prop( $sub, 'id' ),
			'plan_id'        => self::prop( $sub, 'product_id' ),
			'plan_name'      => $this->product_name( self::prop( $sub, 'product_id' ), $sub ),
			'amount'         => Farewell_Bridge_Event_Factory::amount( self::prop( $sub, 'price' ) ),
			'currency'       => $this->currency(),
			'interval'       => Farewell_Bridge_Event_Factory::interval( (string) self::prop( $sub, 'period_type' ) ),
			'status'         => $status,
			'started_at'     => Farewell_Bridge_Event_Factory::rfc3339( self::prop( $sub, 'created_at' ) ),
			'access_ends_at' => Farewell_Bridge_Event_Factory::rfc3339( $expires ),
		);
	}

	/**
	 * The membership's (product's) title.
	 *
	 * @param mixed       $product_id Product id.
	 * @param object|null $sub        Subscription, to use its product().
	 * @return string|null
	 */
	private function product_name( $product_id, $sub = null ) {
		$product = self::call( $sub, 'product' );
		if ( ! is_object( $product ) && (int) $product_id > 0 && class_exists( 'MeprProduct' ) ) {
			$product = new MeprProduct( (int) $product_id );
		}
		$title = self::prop( $product, 'post_title' );
		if ( null === $title && (int) $product_id > 0 ) {
			$title = get_the_title( (int) $product_id );
		}
		return null === $title || '' === $title ? null : (string) $title;
	}

	/**
	 * The store currency from MeprOptions, or null.
	 *
	 * @return string|null
	 */
	private function currency() {
		if ( class_exists( 'MeprOptions' ) && is_callable( array( 'MeprOptions', 'fetch' ) ) ) {
			$options = MeprOptions::fetch();
			return Farewell_Bridge_Event_Factory::currency( self::prop( $options, 'currency_code' ) );
		}
		return null;
	}
}
