<?php
/**
 * Restrict Content (Pro) source.
 *
 * Facts of Restrict Content 3.2.26 this follows (core/includes/memberships/class-rcp-membership.php):
 * - Its dates are in the site's time zone: created_date is current_time( 'mysql' )
 *   (rcp_add_membership()), expiration_date is computed from current_time( 'timestamp' )
 *   (calculate_expiration()), and is_expired() compares it with the site's wall clock. They are
 *   converted from wp_timezone() to UTC here, never read as UTC.
 * - `rcp_transition_membership_status( $old, $new, $id )` fires on every status change, also on
 *   insertion, where $old is "new" (an administrator adding an active membership, the new
 *   membership of a level change): new/pending -> active is created; cancelled/expired -> active is
 *   resumed; active/cancelled -> expired is expired; active -> cancelled is a cancellation
 *   (cancel() and every other way go through it; `rcp_membership_post_cancel` adds nothing).
 *   pending -> expired/cancelled, expired -> cancelled and new -> anything but active changed
 *   nothing for the member.
 * - expire() sets the status to expired first and moves expiration_date to yesterday only then:
 *   an expiry's access_ends_at is the earlier of expiration_date and now (access ends at once).
 * - "Delete" on Restrict → Memberships, and RCP itself when a new membership replaces the old one,
 *   call disable(): access ends at once, the status stays, only `rcp_membership_post_disable`
 *   fires (after a cancellation when the gateway can stop the billing). That is an expiry now,
 *   unless another membership of the same member becomes active in the same request (a change of
 *   level, an upgrade): then the one event is that membership's created (or resumed), naming the
 *   disabled one in `subscription.replaces` so that the sidecar ends it as replaced, not churn —
 *   the one RCP says it was upgraded from (get_upgraded_from()) when several were disabled.
 *   RCP disables the old ones on `rcp_membership_pre_activate`, before the new one's transition.
 *   Hence the decision waits for the end of the request (`shutdown`, before the bridge delivers).
 * - `rcp_recurring_payment_failed( $member, $gateway )`: payment.failed, using the gateway's
 *   membership; the gateway's webhook_event_id (Stripe's event id) identifies the occurrence, so a
 *   notification sent again gives no second event.
 * - A renewal: a payment whose transaction_type is `renewal` stored as complete
 *   (`rcp_update_payment_status_complete( $payment_id )`, fired when RCP_Payments inserts it
 *   complete or updates it to complete), reported as `payment.succeeded` marked by the payment.
 *   Every renewal pays that way: the gateways' webhooks (which then also fire
 *   `rcp_webhook_recurring_payment_processed`), the administrator's "Add payment" with renewal
 *   on the membership screen and a member renewing on the registration page (a pending renewal
 *   payment completed), the last two without that webhook hook. The first payment is `new`.
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
	 * Disabled memberships that were granting access, waiting for the end of the request:
	 * membership id => array( user_id, subscription, initiated_by, occurred_at ).
	 *
	 * @var array<int,array>
	 */
	private $disabled = array();

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
			array( 'rcp_transition_membership_status', 'action_rcp_transition_membership_status', 3 ),
			array( 'rcp_recurring_payment_failed', 'action_rcp_recurring_payment_failed', 2 ),
			array( 'rcp_update_payment_status_complete', 'action_rcp_update_payment_status_complete', 1 ),
			array( 'rcp_membership_post_disable', 'action_rcp_membership_post_disable', 2 ),
			array( 'shutdown', 'action_shutdown', 0 ),
		);
	}

	/**
	 * A status transition.
	 *
	 * @param string $old           Old status ("new" when the membership is being inserted).
	 * @param string $new           New status.
	 * @param int    $membership_id Membership id.
	 */
	public function action_rcp_transition_membership_status( $old, $new, $membership_id ) {
		$type = null;
		if ( 'active' === $new && in_array( $old, array( 'new', 'pending' ), true ) ) {
			$type = 'subscription.created';
		} elseif ( 'active' === $new && in_array( $old, array( 'cancelled', 'expired' ), true ) ) {
			$type = 'subscription.resumed';
		} elseif ( 'expired' === $new && in_array( $old, array( 'active', 'cancelled' ), true ) ) {
			$type = 'subscription.expired';
		} elseif ( 'cancelled' === $new && 'active' === $old ) {
			$type = 'subscription.cancelled';
		}
		if ( null === $type ) {
			return;
		}
		$membership = rcp_get_membership( (int) $membership_id );
		if ( ! is_object( $membership ) ) {
			return;
		}
		$replaces = null;
		if ( 'subscription.created' === $type || 'subscription.resumed' === $type ) {
			// Another membership of this member gives access again: a disabled one was replaced.
			$user_id       = (int) self::call( $membership, 'get_user_id' );
			$upgraded_from = (int) self::call( $membership, 'get_upgraded_from' );
			foreach ( $this->disabled as $id => $ended ) {
				if ( $ended['user_id'] === $user_id && (int) $id !== (int) $membership_id ) {
					unset( $this->disabled[ $id ] );
					if ( null === $replaces || (int) $id === $upgraded_from ) {
						$replaces = (string) $id;
					}
				}
			}
		} elseif ( self::call( $membership, 'is_disabled' ) ) {
			return; // Deleted: reported as an expiry by action_rcp_membership_post_disable().
		}
		$this->emit( $type, $membership, array(), $replaces );
	}

	/**
	 * A membership was disabled ("deleted", or replaced by another one): access ends now.
	 *
	 * @param int            $membership_id Membership id.
	 * @param RCP_Membership $membership    Membership.
	 */
	public function action_rcp_membership_post_disable( $membership_id, $membership = null ) {
		if ( ! is_object( $membership ) ) {
			$membership = rcp_get_membership( (int) $membership_id );
		}
		if ( ! is_object( $membership ) || ! in_array( (string) self::call( $membership, 'get_status' ), array( 'active', 'cancelled' ), true ) ) {
			return; // Pending or already expired: nothing changes for the member.
		}
		$expires = self::local_timestamp( self::call( $membership, 'get_expiration_date', array( false ) ) );
		$now     = time();
		if ( null !== $expires && $expires < $now ) {
			return; // Its time was over already (RCP had not noticed yet): access ended then.
		}
		$user_id                                = (int) self::call( $membership, 'get_user_id' );
		$this->disabled[ (int) $membership_id ] = array(
			'user_id'      => $user_id,
			'subscription' => $this->subscription( $membership, 'subscription.expired', $now ),
			'initiated_by' => Farewell_Bridge_Context::initiated_by( $user_id ),
			'occurred_at'  => $now,
		);
	}

	/**
	 * End of the request: the disabled memberships no other one replaced are expiries.
	 */
	public function action_shutdown() {
		$disabled       = $this->disabled;
		$this->disabled = array();
		foreach ( $disabled as $ended ) {
			$this->record(
				'subscription.expired',
				$ended['user_id'],
				$ended['subscription'],
				array(
					'initiated_by' => $ended['initiated_by'],
					'occurred_at'  => $ended['occurred_at'],
					'marker'       => 'disabled@' . $ended['occurred_at'],
				)
			);
		}
	}

	/**
	 * A recurring payment failed.
	 *
	 * @param object $member  RCP_Member (a WP_User).
	 * @param object $gateway RCP_Payment_Gateway.
	 */
	public function action_rcp_recurring_payment_failed( $member, $gateway = null ) {
		$membership = self::prop( $gateway, 'membership' );
		if ( ! is_object( $membership ) ) {
			return;
		}
		$event_id = (string) self::prop( $gateway, 'webhook_event_id' );
		$this->emit( 'payment.failed', $membership, array( 'marker' => '' !== $event_id ? 'evt@' . $event_id : 'pf@' . time() ) );
	}

	/**
	 * A payment is complete: payment.succeeded when it renews its membership (see the class
	 * comment). RCP fires this hook after renewing the membership (its own rcp_complete_registration()
	 * runs before us on it), so the event carries the new expiration date.
	 *
	 * @param int $payment_id Payment id.
	 */
	public function action_rcp_update_payment_status_complete( $payment_id ) {
		if ( ! class_exists( 'RCP_Payments' ) ) {
			return;
		}
		$payments = new RCP_Payments();
		$payment  = $payments->get_payment( (int) $payment_id );
		if ( 'renewal' !== (string) self::prop( $payment, 'transaction_type' ) || (int) self::prop( $payment, 'membership_id' ) <= 0 ) {
			return;
		}
		$this->emit( 'payment.succeeded', rcp_get_membership( (int) self::prop( $payment, 'membership_id' ) ), array( 'marker' => 'payment-' . (int) $payment_id ) );
	}

	/**
	 * Records one event about a membership.
	 *
	 * @param string $type       Event type.
	 * @param object $membership RCP_Membership.
	 * @param array  $options    Options.
	 * @param string $replaces   The membership id this one replaces (a change of level), or null.
	 */
	private function emit( $type, $membership, array $options = array(), $replaces = null ) {
		if ( ! is_object( $membership ) ) {
			return;
		}
		$subscription = $this->subscription( $membership, $type, time() );
		if ( null !== $replaces ) {
			$subscription['replaces'] = (string) $replaces;
		}
		$this->record( $type, (int) self::call( $membership, 'get_user_id' ), $subscription, $options );
	}

	/**
	 * A Restrict Content date ("Y-m-d H:i:s" in the site's time zone) as a Unix timestamp.
	 *
	 * @param mixed $value Date, "none", empty.
	 * @return int|null
	 */
	public static function local_timestamp( $value ) {
		if ( ! is_string( $value ) || '' === $value || 'none' === $value || 0 === strpos( $value, '0000-00-00' ) ) {
			return null;
		}
		$date = date_create_immutable_from_format( 'Y-m-d H:i:s', substr( $value, 0, 19 ), wp_timezone() );
		return false === $date ? null : $date->getTimestamp();
	}

	/**
	 * The protocol's subscription object — also for the history (Farewell_Bridge_History_Restrict_Content),
	 * whose imported events must carry the fields live ones do.
	 *
	 * @param RCP_Membership $membership Membership.
	 * @param string         $type       Event type.
	 * @param int            $now        The event's moment.
	 * @return array
	 */
	public function subscription( $membership, $type, $now ) {
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
				$interval = 0 === (int) self::call( $level, 'get_duration' ) ? 'lifetime' : self::call( $level, 'get_duration_unit' );
			}
		}

		$currency = self::call( $membership, 'get_currency' );
		if ( empty( $currency ) && function_exists( 'rcp_get_currency' ) ) {
			$currency = rcp_get_currency();
		}

		$ends = self::local_timestamp( self::call( $membership, 'get_expiration_date', array( false ) ) );
		if ( 'subscription.expired' === $type && ( null === $ends || $ends > $now ) ) {
			$ends = $now; // Expired before its date (expire(), a refund, a deletion): access ends now.
		}

		return Farewell_Bridge_Event_Factory::subscription(
			array(
				'id'             => (string) self::call( $membership, 'get_id' ),
				'plan_id'        => $level_id > 0 ? (string) $level_id : null,
				'plan_name'      => self::call( $membership, 'get_membership_level_name' ),
				'amount'         => self::call( $membership, 'get_recurring_amount' ),
				'currency'       => $currency,
				'interval'       => $interval,
				'status'         => $status,
				'started_at'     => self::local_timestamp( self::call( $membership, 'get_created_date', array( false ) ) ),
				'access_ends_at' => $ends,
			)
		);
	}
}
