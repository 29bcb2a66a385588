<?php
/**
 * MemberPress source (facts from MemberPress 1.12.11; tests/wordpress/test_real_memberpress.py runs
 * the real plugin).
 *
 * Status changes come from `mepr_subscription_transition_status( $old, $new, $sub )`, which
 * MeprSubscription::store() fires on every save (a new row counts as coming from `pending`). Not
 * from MemberPress's own events, because those miss ways a subscription starts or ends:
 * - `subscription-stopped` is recorded once per subscription (app/data/events.php): a member who
 *   cancels, is reactivated and cancels again only updates that row, and no hook we could use fires;
 * - the Subscriptions screen's status drop-down stores the status and records no event at all;
 * - `subscription-created` is recorded when the row is inserted, still `pending`: at checkout,
 *   before any payment (a PayPal checkout left unpaid stays pending for ever). We report
 *   `subscription.created` when the subscription first becomes active, that is when the member
 *   gets access.
 * A start or a resume is recorded at the end of the request (`shutdown`, before the bridge
 * delivers): MemberPress stores the status first and the transaction that sets the access end
 * after it (the offline gateway, PayPal's IPN handler). A cancel or a pause is recorded at once
 * (the survey may follow in the same request); what was put off is recorded first.
 * A cancel made while `$_REQUEST['silent']` is set is not reported: MemberPress sets it when it
 * cancels the old subscription of an upgrade or downgrade, and when a plan with a limited number
 * of payments has received them all — no one left.
 * An upgrade or downgrade (MeprTransaction/MeprSubscription::maybe_cancel_old_sub()) silently
 * cancels the member's old subscription of the group in the request where the new one becomes
 * active: the new one's start, recorded at the end of that request, names the old one in
 * `subscription.replaces`, so that the sidecar ends it as replaced (no longer active, no churn).
 *
 * Other events come from MeprEvent::store(), which fires `mepr_event_{event}` for new rows
 * (MemberPress fires every hook twice, with dashes and underscores: we listen to the underscore
 * spelling only): `subscription-expired` (its expiry cron, 12 hours or more after access ended,
 * for a cancelled subscription), `transaction-failed` / `recurring-transaction-failed` (recorded
 * both for one transaction: one event) and `member-account-updated`.
 * Deleting a subscription on the Subscriptions screen deletes its transactions, so MemberPress
 * stops granting access at once: reported as `subscription.expired` if it was granting access.
 *
 * A lapse: MemberPress grants access until the latest expiry of a subscription's paid or confirmed
 * transactions (MeprSubscription::expires_at), whatever its status. When a renewal never comes,
 * the subscription stays `active` and MemberPress records no subscription-expired (its
 * MeprEventsCtrl::txn_expired does so for cancelled subscriptions only). Its expiry cron
 * (MeprTransactionsCtrl::send_expired_txn_events, hourly) fires `mepr_transaction_expired( $txn,
 * $sub_status )` once per transaction, 12 hours to 2.5 days after it ran out: if the subscription
 * is active and none of its transactions covers now, its access has lapsed — reported once as
 * `subscription.expired`, dated when access ended. A renewal boundary that a newer transaction
 * covers is no lapse. A failed payment after which the gateway expired the transactions
 * (MeprSubscription::expire_txns(): access ends now) is a lapse at that moment, reported with the
 * failure; the cron then finds it already reported. We remember a reported lapse in the member's
 * meta (LAPSED_META), so that a later payment on that subscription that gives access again (a
 * late renewal, a retried payment) is reported once as `subscription.resumed`.
 *
 * A renewal: a transaction of a subscription stored as `complete` (`mepr_txn_transition_status`)
 * when the subscription already had a complete one, reported as `payment.succeeded`, marked by the
 * transaction id. That is MemberPress's own test for its `renewal-transaction-completed` event
 * (MeprUtils::send_transaction_receipt_notices(): txn_count > 1, counting this one), but that event
 * is recorded only on the gateways' receipt path: an administrator adding a payment on the
 * Transactions screen records none. The first payment is the start (`subscription.created`); with
 * a paid trial, the trial's payment is the first and the first full one counts as a renewal, as
 * MemberPress counts it.
 *
 * Dates: MemberPress stores every date as UTC "Y-m-d H:i:s" (MeprUtils::db_now(), gmdate), whatever
 * the site's time zone; "0000-00-00 00:00:00" is a lifetime (no end).
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
	 * MemberPress's filters between a subscription and its product's title (MeprHooks applies
	 * each under its dashed and underscored names): with none of them, the title is the post's.
	 */
	const PRODUCT_TITLE_FILTERS = array( 'mepr_subscription_product', 'mepr-subscription-product', 'mepr_get_model_attribute_post_title', 'mepr-get-model-attribute-post-title', 'mepr-get-model-attribute-post_title' );

	/**
	 * Product id => title, once keep_product_names() was called; null: read each time.
	 *
	 * @var array<int,string|null>|null
	 */
	private $product_names = null;

	/**
	 * Keeps each product's title once read, for this object's life: the history reader's batch
	 * asks for the same few products once per event, and a MeprProduct loads its post and all
	 * its settings each time. Live events read it each time (a title changed since is the one
	 * the member saw).
	 *
	 * @return $this
	 */
	public function keep_product_names() {
		$this->product_names = array();
		return $this;
	}

	/**
	 * MemberPress event => normalized type (see the class comment for status changes).
	 *
	 * @var array<string,string>
	 */
	const EVENTS = array(
		'subscription_expired'         => 'subscription.expired',
		'transaction_failed'           => 'payment.failed',
		'recurring_transaction_failed' => 'payment.failed',
		'member_account_updated'       => 'member.updated',
	);

	/**
	 * The access end of a subscription when one of its transactions failed, before MemberPress
	 * expired its transactions (MeprSubscription::expire_txns()), by subscription id.
	 *
	 * @var array<int,int|null>
	 */
	private static $expiry_before_failure = array();

	/**
	 * Starts and resumes waiting for the end of the request: array( sub id, type, user id, options ).
	 *
	 * @var array[]
	 */
	private static $deferred = array();

	/**
	 * Subscriptions that were granting access when their transactions were deleted, by id.
	 *
	 * @var array<int,bool>
	 */
	private static $had_access = array();

	/**
	 * The subscription each member's upgrade or downgrade silently cancelled in this request,
	 * user id => sub id, for the start of the one that replaces it (flush()).
	 *
	 * @var array<int,int>
	 */
	private static $silently_cancelled = array();

	/**
	 * User meta: the subscriptions of the member whose lapse was reported and not resumed since,
	 * sub id => when access ended (Unix seconds).
	 */
	const LAPSED_META = '_farewell_bridge_memberpress_lapsed';

	/**
	 * What this class keeps in WordPress, which uninstall.php removes (see Farewell_Bridge_Plugin::DATA_OWNERS).
	 *
	 * @return array See uninstall.php.
	 */
	public static function owned() {
		return array(
			'user_meta' => array( self::LAPSED_META ),
		);
	}

	/**
	 * Forgets what this request remembered, without recording it (tests).
	 */
	public static function reset() {
		self::$expiry_before_failure = array();
		self::$deferred              = array();
		self::$had_access            = array();
		self::$silently_cancelled    = array();
	}

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
		$hooks = array(
			array( 'mepr_subscription_transition_status', 'action_mepr_subscription_transition_status', 3 ),
			array( 'mepr_txn_transition_status', 'action_mepr_txn_transition_status', 3 ),
			array( 'mepr_txn_destroy', 'action_mepr_txn_destroy', 1 ),
			array( 'mepr_subscription_pre_delete', 'action_mepr_subscription_pre_delete', 1 ),
			array( 'mepr_transaction_expired', 'action_mepr_transaction_expired', 2 ),
			array( 'shutdown', 'action_shutdown', 0 ),
		);
		foreach ( array_keys( self::EVENTS ) as $event ) {
			$hooks[] = array( 'mepr_event_' . $event, 'action_mepr_event', 1 );
		}
		return $hooks;
	}

	/**
	 * The normalized type of a status change, or null when nothing changed for the member.
	 *
	 * @param string $old    Status before (a new subscription comes from `pending`).
	 * @param string $new    Status after.
	 * @param bool   $silent Whether MemberPress marked the change as no cancellation ($_REQUEST['silent']).
	 * @return string|null
	 */
	public static function transition_type( $old, $new, $silent = false ) {
		$old = (string) $old;
		$new = (string) $new;
		if ( $old === $new ) {
			return null; // MemberPress fires the hook on every save.
		}
		$had_access = in_array( $old, array( 'active', 'suspended' ), true );
		if ( 'active' === $new ) {
			return 'pending' === $old ? 'subscription.created' : ( in_array( $old, array( 'suspended', 'cancelled' ), true ) ? 'subscription.resumed' : null );
		}
		if ( 'suspended' === $new ) {
			return 'active' === $old ? 'subscription.paused' : null;
		}
		if ( 'cancelled' === $new ) {
			// From pending: the first payment never went through (the member never had access).
			return $had_access && ! $silent ? 'subscription.cancelled' : null;
		}
		return null;
	}

	/**
	 * A subscription's status changed (or was saved unchanged).
	 *
	 * @param string $old_status Status before.
	 * @param string $new_status Status after.
	 * @param object $sub        MeprSubscription, as stored.
	 */
	public function action_mepr_subscription_transition_status( $old_status, $new_status, $sub = null ) {
		if ( ! is_object( $sub ) || (int) self::prop( $sub, 'id' ) <= 0 ) {
			return;
		}
		// phpcs:ignore WordPress.Security.NonceVerification.Recommended -- MemberPress's own flag, only read.
		$silent = isset( $_REQUEST['silent'] ) && (bool) $_REQUEST['silent'];
		$type   = self::transition_type( $old_status, $new_status, $silent );
		if ( $silent && 'cancelled' === (string) $new_status && in_array( (string) $old_status, array( 'active', 'suspended' ), true ) ) {
			self::$silently_cancelled[ (int) self::prop( $sub, 'user_id' ) ] = (int) self::prop( $sub, 'id' );
		}
		if ( null === $type ) {
			return;
		}
		$user_id = (int) self::prop( $sub, 'user_id' );
		$options = array(
			'occurred_at'  => time(),
			'initiated_by' => Farewell_Bridge_Context::initiated_by( $user_id ),
		);
		if ( in_array( $type, array( 'subscription.created', 'subscription.resumed' ), true ) ) {
			if ( 'subscription.created' === $type ) {
				// A subscription starts once: saved active again later (an administrator's edit), same event.
				$options['marker'] = 'created';
			}
			self::$deferred[] = array( (int) self::prop( $sub, 'id' ), $type, $user_id, $options );
			return;
		}
		$this->flush();
		$this->record( $type, $user_id, $this->subscription( $sub, $type ), $options );
	}

	/**
	 * End of the request: what was put off is recorded.
	 */
	public function action_shutdown() {
		$this->flush();
	}

	/**
	 * Records the starts and resumes put off until now, with the subscription as it is now
	 * (at the end of the request, and before any other event so that they keep their order).
	 */
	public function flush() {
		$deferred       = self::$deferred;
		self::$deferred = array();
		$done           = array();
		foreach ( $deferred as $item ) {
			list( $sub_id, $type, $user_id, $options ) = $item;
			$sub = new MeprSubscription( $sub_id );
			if ( (int) self::prop( $sub, 'id' ) <= 0 ) {
				continue; // Deleted in the same request.
			}
			$lapsed = self::lapsed( $user_id, $sub_id );
			$ends   = self::prop( $sub, 'expires_at' );
			$grants = self::is_lifetime( $ends ) || self::timestamp( $ends ) > time();
			if ( ! empty( $options['after_lapse'] ) ) {
				unset( $options['after_lapse'] );
				// A payment on a subscription whose lapse we reported: a resume if it is still
				// active and that payment gives access again.
				if ( null === $lapsed || ! $grants || 'active' !== (string) self::prop( $sub, 'status' ) ) {
					continue;
				}
				$options['marker'] = 'after-lapse-' . $lapsed;
			}
			if ( isset( $done[ $sub_id . '|' . $type ] ) ) {
				continue; // A status change and a payment in one request: one resume.
			}
			$done[ $sub_id . '|' . $type ] = true;
			if ( null !== $lapsed && $grants ) {
				self::forget_lapse( $user_id, $sub_id );
			}
			$subscription           = $this->subscription( $sub, $type );
			$subscription['status'] = 'active';
			$replaced               = isset( self::$silently_cancelled[ $user_id ] ) ? self::$silently_cancelled[ $user_id ] : 0;
			if ( $replaced > 0 && $replaced !== (int) $sub_id ) {
				// An upgrade or downgrade: this one replaces the subscription it cancelled silently.
				$subscription['replaces'] = (string) $replaced;
				unset( self::$silently_cancelled[ $user_id ] );
			}
			$this->record( $type, $user_id, $subscription, $options );
		}
	}

	/**
	 * A transaction's status changed. Complete: a renewal is reported, and a payment on a lapsed
	 * subscription checked for a resume. Failed: remembers the subscription's access end, as
	 * MemberPress's gateways then expire all its transactions (access ends now), before recording
	 * the failure.
	 *
	 * @param string $old_status Status before.
	 * @param string $new_status Status after.
	 * @param object $txn        MeprTransaction.
	 */
	public function action_mepr_txn_transition_status( $old_status, $new_status, $txn = null ) {
		if ( (string) $old_status === (string) $new_status || ! is_object( $txn ) ) {
			return;
		}
		$sub_id = (int) self::prop( $txn, 'subscription_id' );
		if ( 'complete' === (string) $new_status && $sub_id > 0 ) {
			$this->on_completed_transaction( $txn, $sub_id );
			$user_id = (int) self::prop( $txn, 'user_id' );
			if ( null !== self::lapsed( $user_id, $sub_id ) ) {
				// Checked at the end of the request, once MemberPress has stored everything.
				self::$deferred[] = array(
					$sub_id,
					'subscription.resumed',
					$user_id,
					array(
						'occurred_at'  => time(),
						'initiated_by' => Farewell_Bridge_Context::initiated_by( $user_id ),
						'after_lapse'  => true,
					),
				);
			}
			return;
		}
		if ( 'failed' !== (string) $new_status ) {
			return;
		}
		if ( $sub_id > 0 && class_exists( 'MeprSubscription' ) && ! array_key_exists( $sub_id, self::$expiry_before_failure ) ) {
			self::$expiry_before_failure[ $sub_id ] = self::timestamp( self::prop( new MeprSubscription( $sub_id ), 'expires_at' ) );
		}
	}

	/**
	 * payment.succeeded when a complete transaction renews its subscription (see the class
	 * comment). Recorded at once, not put off like a start: MemberPress stored the transaction
	 * before firing the hook, so the subscription's access end already counts it, and a renewal
	 * needs nothing that comes later in the request.
	 *
	 * @param object $txn    MeprTransaction, as stored.
	 * @param int    $sub_id Its subscription id.
	 */
	private function on_completed_transaction( $txn, $sub_id ) {
		if ( ! class_exists( 'MeprSubscription' ) ) {
			return;
		}
		$sub = new MeprSubscription( $sub_id );
		// txn_count: the subscription's complete transactions, read from its table now.
		if ( (int) self::prop( $sub, 'id' ) <= 0 || (int) self::prop( $sub, 'txn_count' ) < 2 ) {
			return; // Its first payment: no renewal.
		}
		$this->record(
			'payment.succeeded',
			(int) self::prop( $txn, 'user_id' ),
			$this->subscription( $sub, 'payment.succeeded' ),
			array(
				'marker'      => 'txn-' . (int) self::prop( $txn, 'id' ),
				'occurred_at' => time(),
			)
		);
	}

	/**
	 * Before a transaction is deleted: whether it was granting access (for action_mepr_subscription_pre_delete).
	 *
	 * @param object $txn MeprTransaction.
	 */
	public function action_mepr_txn_destroy( $txn ) {
		$sub_id = (int) self::prop( $txn, 'subscription_id' );
		if ( $sub_id <= 0 || ! in_array( (string) self::prop( $txn, 'status' ), array( 'complete', 'confirmed' ), true ) ) {
			return;
		}
		$expires = (string) self::prop( $txn, 'expires_at' );
		if ( self::is_lifetime( $expires ) || self::timestamp( $expires ) > time() ) {
			self::$had_access[ $sub_id ] = true;
		}
	}

	/**
	 * A subscription is being deleted (its transactions already are): access ends now.
	 *
	 * @param int $sub_id Subscription id.
	 */
	public function action_mepr_subscription_pre_delete( $sub_id ) {
		$sub_id = (int) $sub_id;
		if ( empty( self::$had_access[ $sub_id ] ) || ! class_exists( 'MeprSubscription' ) ) {
			return;
		}
		unset( self::$had_access[ $sub_id ] );
		$this->flush();
		$sub = new MeprSubscription( $sub_id );
		if ( (int) self::prop( $sub, 'id' ) <= 0 ) {
			return;
		}
		$now          = time();
		$subscription = $this->subscription( $sub, 'subscription.expired', $now );
		$this->record( 'subscription.expired', (int) self::prop( $sub, 'user_id' ), $subscription, array( 'occurred_at' => $now ) );
	}

	/**
	 * MemberPress's expiry cron found a transaction run out (once per transaction): reports the
	 * lapse of an active subscription that no transaction covers any more.
	 *
	 * @param object $txn        MeprTransaction.
	 * @param string $sub_status The subscription's status ('none' for a one-time payment).
	 */
	public function action_mepr_transaction_expired( $txn, $sub_status = '' ) {
		$sub_id = (int) self::prop( $txn, 'subscription_id' );
		if ( $sub_id <= 0 || ! class_exists( 'MeprSubscription' ) ) {
			return;
		}
		$sub = new MeprSubscription( $sub_id );
		if ( (int) self::prop( $sub, 'id' ) <= 0 || 'active' !== (string) self::prop( $sub, 'status' ) ) {
			return; // A cancelled one: MemberPress records subscription-expired itself.
		}
		$ends = self::timestamp( self::prop( $sub, 'expires_at' ) );
		if ( null === $ends || $ends > time() ) {
			return; // A lifetime, or a renewal boundary that a newer transaction covers.
		}
		$this->flush();
		$this->report_lapse( $sub, $ends );
	}

	/**
	 * Reports that an active subscription's access ended at $ends, once per lapse.
	 *
	 * @param object $sub  MeprSubscription.
	 * @param int    $ends When MemberPress stopped granting access.
	 */
	private function report_lapse( $sub, $ends ) {
		$sub_id  = (int) self::prop( $sub, 'id' );
		$user_id = (int) self::prop( $sub, 'user_id' );
		if ( null !== self::lapsed( $user_id, $sub_id ) ) {
			return; // Already reported (with the failed payment, or by an earlier cron run).
		}
		$recorded = $this->record(
			'subscription.expired',
			$user_id,
			$this->subscription( $sub, 'subscription.expired', $ends ),
			array(
				'occurred_at'  => $ends,
				'initiated_by' => 'system',
				'marker'       => 'lapse-' . $ends,
			)
		);
		if ( null !== $recorded ) {
			$lapsed            = self::all_lapsed( $user_id );
			$lapsed[ $sub_id ] = $ends;
			update_user_meta( $user_id, self::LAPSED_META, $lapsed );
		}
	}

	/**
	 * When the reported lapse of a subscription ended its access, or null if none is open.
	 *
	 * @param int $user_id Member.
	 * @param int $sub_id  Subscription id.
	 * @return int|null
	 */
	private static function lapsed( $user_id, $sub_id ) {
		$lapsed = self::all_lapsed( $user_id );
		return isset( $lapsed[ (int) $sub_id ] ) ? (int) $lapsed[ (int) $sub_id ] : null;
	}

	/**
	 * The member's open lapses (LAPSED_META).
	 *
	 * @param int $user_id Member.
	 * @return array<int,int>
	 */
	private static function all_lapsed( $user_id ) {
		$lapsed = $user_id > 0 ? get_user_meta( (int) $user_id, self::LAPSED_META, true ) : array();
		return is_array( $lapsed ) ? $lapsed : array();
	}

	/**
	 * Forgets a subscription's lapse: it gave access again.
	 *
	 * @param int $user_id Member.
	 * @param int $sub_id  Subscription id.
	 */
	private static function forget_lapse( $user_id, $sub_id ) {
		$lapsed = self::all_lapsed( $user_id );
		unset( $lapsed[ (int) $sub_id ] );
		if ( empty( $lapsed ) ) {
			delete_user_meta( (int) $user_id, self::LAPSED_META );
		} else {
			update_user_meta( (int) $user_id, self::LAPSED_META, $lapsed );
		}
	}

	/**
	 * Handles one MeprEvent.
	 *
	 * @param object $event MeprEvent.
	 */
	public function action_mepr_event( $event ) {
		if ( ! is_object( $event ) ) {
			return;
		}
		$name = str_replace( '-', '_', (string) self::prop( $event, 'event' ) );
		if ( ! array_key_exists( $name, self::EVENTS ) ) {
			return;
		}
		$this->flush();
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
		if ( null !== self::lapsed( (int) self::prop( $data, 'user_id' ), (int) self::prop( $data, 'id' ) ) ) {
			// Cancelled after its access had lapsed (PayPal gives up after failed payments): that
			// end was reported when access ended.
			return;
		}
		$options = array( 'marker' => $marker );
		// MemberPress's cron records the expiry 12 hours or more after access ended: the event
		// happened when access ended.
		$ended = self::timestamp( self::prop( $data, 'expires_at' ) );
		if ( null !== $ended && $ended <= time() ) {
			$options['occurred_at'] = $ended;
		}
		$this->record( $type, (int) self::prop( $data, 'user_id' ), $this->subscription( $data, $type ), $options );
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
		$sub_id      = (int) self::prop( $txn, 'subscription_id' );
		$sub         = null;
		$now         = time();
		$access_ends = null;
		if ( $sub_id > 0 && class_exists( 'MeprSubscription' ) ) {
			$sub = new MeprSubscription( $sub_id );
		}
		if ( $sub && (int) self::prop( $sub, 'id' ) > 0 ) {
			$before      = array_key_exists( $sub_id, self::$expiry_before_failure ) ? self::$expiry_before_failure[ $sub_id ] : null;
			unset( self::$expiry_before_failure[ $sub_id ] );
			$after       = self::timestamp( self::prop( $sub, 'expires_at' ) );
			if ( null !== $before && null !== $after && $after < $before && $before > $now ) {
				// The gateway expired the transactions ("set 1 day in the past so it expires NOW").
				$access_ends = $now;
			}
			$subscription = $this->subscription( $sub, 'payment.failed', $access_ends );
		} else {
			$subscription = Farewell_Bridge_Event_Factory::subscription(
				array(
					'id'        => 'txn-' . (int) self::prop( $txn, 'id' ),
					'plan_id'   => self::prop( $txn, 'product_id' ),
					'plan_name' => $this->product_name( self::prop( $txn, 'product_id' ) ),
					'amount'    => self::prop( $txn, 'amount' ),
					'currency'  => $this->currency(),
				)
			);
		}
		$this->record(
			'payment.failed',
			(int) self::prop( $txn, 'user_id' ),
			$subscription,
			array(
				'marker'      => 'txn-' . (int) self::prop( $txn, 'id' ),
				'occurred_at' => $now,
			)
		);
		if ( $now === $access_ends && 'active' === (string) self::prop( $sub, 'status' ) ) {
			// Access ended with the failure and the subscription goes on: a lapse, reported now
			// and dated now; the expiry cron later sees the transactions MemberPress back-dated
			// by a day and finds this lapse already reported.
			$this->report_lapse( $sub, $now );
		}
	}

	/**
	 * The protocol's subscription object from a MeprSubscription — or from a row of MemberPress's
	 * subscriptions table with its `expires_at` worked out (Farewell_Bridge_History_Memberpress,
	 * whose imported events must carry the fields the live ones do).
	 *
	 * @param object   $sub         MeprSubscription, or a row with the same property names.
	 * @param string   $type        Event type (sets the status).
	 * @param int|null $access_ends When access ends, when known better than MemberPress's stored expiry.
	 * @return array
	 */
	public function subscription( $sub, $type, $access_ends = null ) {
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

		if ( null === $access_ends ) {
			// MeprSubscription::expires_at is the latest expiry of its paid or confirmed
			// transactions; false while pending or after a refund.
			$expires = self::prop( $sub, 'expires_at' );
			if ( empty( $expires ) ) {
				$expires = self::prop( self::call( $sub, 'latest_txn' ), 'expires_at' );
			}
			$access_ends = self::is_lifetime( $expires ) ? null : self::timestamp( $expires );
		}

		return Farewell_Bridge_Event_Factory::subscription(
			array(
				'id'             => (string) (int) self::prop( $sub, 'id' ),
				'plan_id'        => self::prop( $sub, 'product_id' ),
				'plan_name'      => $this->product_name( self::prop( $sub, 'product_id' ), $sub ),
				'amount'         => self::prop( $sub, 'price' ),
				'currency'       => $this->currency(),
				'interval'       => self::prop( $sub, 'period_type' ),
				'status'         => $status,
				'started_at'     => self::timestamp( self::prop( $sub, 'created_at' ) ),
				'access_ends_at' => $access_ends,
			)
		);
	}

	/**
	 * A MemberPress date (UTC "Y-m-d H:i:s", or "Y-m-d\TH:i:sP" as some gateways set it before
	 * saving) as a Unix timestamp; null for empty, false, lifetime or unreadable values.
	 *
	 * @param mixed $value Date.
	 * @return int|null
	 */
	public static function timestamp( $value ) {
		if ( ! is_string( $value ) || '' === $value || self::is_lifetime( $value ) ) {
			return null;
		}
		$utc = Farewell_Bridge_Event_Factory::rfc3339( $value );
		return null === $utc ? null : (int) strtotime( $utc );
	}

	/**
	 * Whether a MemberPress expiry means "never" (MeprUtils::db_lifetime()).
	 *
	 * @param mixed $value Date.
	 * @return bool
	 */
	private static function is_lifetime( $value ) {
		return is_string( $value ) && 0 === strpos( $value, '0000-00-00' );
	}

	/**
	 * The membership's (product's) title.
	 *
	 * @param mixed       $product_id Product id.
	 * @param object|null $sub        Subscription, to use its product().
	 * @return string|null
	 */
	private function product_name( $product_id, $sub = null ) {
		$key = (int) $product_id;
		if ( null !== $this->product_names && $key > 0 && array_key_exists( $key, $this->product_names ) ) {
			return $this->product_names[ $key ];
		}
		$name = $this->load_product_name( $product_id, $sub );
		if ( null !== $this->product_names && $key > 0 ) {
			$this->product_names[ $key ] = $name;
		}
		return $name;
	}

	/**
	 * The membership's title, read (see product_name()).
	 *
	 * @param mixed       $product_id Product id.
	 * @param object|null $sub        Subscription, to use its product().
	 * @return string|null
	 */
	private function load_product_name( $product_id, $sub ) {
		// The title is all the event needs, and MemberPress's product is its post: get_post() is
		// one query, where MeprSubscription::product() (a MeprProduct) also reads every meta of
		// the product, a second query on the member's cancel (issue 15). A site that filters the
		// subscription's product or a model's title may answer another: then MemberPress is asked.
		$filtered = false;
		foreach ( self::PRODUCT_TITLE_FILTERS as $hook ) {
			$filtered = $filtered || has_filter( $hook );
		}
		$post = (int) $product_id > 0 && ! $filtered ? get_post( (int) $product_id ) : null;
		if ( $post instanceof WP_Post && 'memberpressproduct' === $post->post_type ) {
			return '' === $post->post_title ? null : (string) $post->post_title;
		}
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
	 * The store's currency code from MeprOptions, or null.
	 *
	 * @return string|null
	 */
	private function currency() {
		if ( class_exists( 'MeprOptions' ) && is_callable( array( 'MeprOptions', 'fetch' ) ) ) {
			return self::prop( MeprOptions::fetch(), 'currency_code' );
		}
		return null;
	}
}
