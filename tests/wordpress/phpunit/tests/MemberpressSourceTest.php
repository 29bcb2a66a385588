<?php
/**
 * MemberPress events -> normalized events, with the fields taken from MemberPress's own objects.
 */
class MemberpressSourceTest extends Farewell_Test_Case {

	private $user;
	private $sub;

	protected function setUp(): void {
		parent::setUp();
		update_option( 'farewell_test_mepr_currency', 'EUR' );
		$this->user = $this->user( 'subscriber', 'Anaïs', 'fr_FR' );
		$product    = farewell_test_mepr_product( 'Or', '29.00', 'months' );
		$this->sub  = farewell_test_mepr_subscribe( $this->user, $product, '2026-12-03 09:00:00' );
		$this->end_of_request();
	}

	/**
	 * A transaction of the member's plan, stored with $fields (MemberPress fires its hooks on
	 * store()).
	 */
	private function transaction( array $fields ) {
		$txn             = new MeprTransaction();
		$txn->user_id    = $this->user;
		$txn->product_id = $this->sub->product_id;
		foreach ( $fields as $name => $value ) {
			$txn->$name = $value;
		}
		$txn->store();
		return $txn;
	}

	/** A paid transaction of the subscription, ending at $expires_at. */
	private function paid( $expires_at ) {
		return $this->transaction(
			array(
				'subscription_id' => $this->sub->id,
				'amount'          => '29.00',
				'status'          => 'complete',
				'expires_at'      => $expires_at,
			)
		);
	}

	/** A renewal payment of the subscription fails. */
	private function renewal_fails() {
		$this->transaction(
			array(
				'subscription_id' => $this->sub->id,
				'amount'          => '29.00',
			)
		)->fail();
	}

	/** What `shutdown` does for the source: starts and resumes wait for the end of the request. */
	private function end_of_request() {
		( new Farewell_Bridge_Source_Memberpress() )->flush();
	}

	private function types() {
		return array_map(
			function ( $p ) {
				return $p['type'];
			},
			$this->payloads()
		);
	}

	private function last_payload( $type ) {
		$matching = array_values(
			array_filter(
				$this->payloads(),
				function ( $p ) use ( $type ) {
					return $p['type'] === $type;
				}
			)
		);
		$this->assertCount( 1, $matching, "exactly one $type event" );
		return $matching[0];
	}

	public function test_subscription_created() {
		$event = $this->last_payload( 'subscription.created' );
		$this->assertSame( 'memberpress', $event['source'] );
		$this->assertSame( 'active', $event['subscription']['status'] );
	}

	public function test_cancellation_carries_member_plan_amount_currency_interval_and_access_end() {
		$this->sub->cancel();
		$event = $this->last_payload( 'subscription.cancelled' );
		$this->assertSame( 'memberpress', $event['source'] );
		$this->assertMatchesRegularExpression( '/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/', $event['occurred_at'] );
		$this->assertEqualsWithDelta( time(), strtotime( $event['occurred_at'] ), 5 );
		$user = get_userdata( $this->user );
		$this->assertSame(
			array(
				'id'         => (string) $this->user,
				'email'      => $user->user_email,
				'first_name' => 'Anaïs',
				'locale'     => 'fr_FR',
			),
			$event['member']
		);
		$sub = $event['subscription'];
		$this->assert_subscription_fields( array( 'id', 'plan_id', 'plan_name', 'amount', 'currency', 'interval', 'status', 'started_at', 'access_ends_at' ), $sub );
		$this->assertSame( (string) $this->sub->id, $sub['id'] );
		$this->assertSame( (string) $this->sub->product_id, $sub['plan_id'] );
		$this->assertSame( 'Or', $sub['plan_name'] );
		$this->assertSame( '29.00', $sub['amount'] );
		$this->assertSame( 'EUR', $sub['currency'] );
		$this->assertSame( 'month', $sub['interval'] );
		$this->assertSame( 'cancelled', $sub['status'] );
		$this->assertSame( '2026-12-03T09:00:00Z', $sub['access_ends_at'] );
		$this->assertArrayHasKey( 'started_at', $sub );
	}

	public function test_pause_resume_and_expiry() {
		$this->sub->suspend();
		$this->sub->resume();
		$this->end_of_request();
		$this->sub->expire();
		$this->assertSame( 'paused', $this->last_payload( 'subscription.paused' )['subscription']['status'] );
		$this->assertSame( 'active', $this->last_payload( 'subscription.resumed' )['subscription']['status'] );
		$this->assertSame( 'expired', $this->last_payload( 'subscription.expired' )['subscription']['status'] );
	}

	public function test_a_failed_recurring_payment_is_one_event_although_memberpress_records_two() {
		$this->renewal_fails();
		$event = $this->last_payload( 'payment.failed' );
		$this->assertSame( (string) $this->sub->id, $event['subscription']['id'] );
		$this->assertSame( '29.00', $event['subscription']['amount'] );
	}

	public function test_a_failed_one_time_payment_names_the_transaction() {
		$txn = $this->transaction( array( 'amount' => '120.5' ) ); // No subscription: a one-time payment.
		$txn->fail();
		$event = $this->last_payload( 'payment.failed' );
		$this->assert_subscription_fields( array( 'id', 'plan_id', 'plan_name', 'amount', 'currency' ), $event['subscription'] );
		$this->assertSame( 'txn-' . $txn->id, $event['subscription']['id'] );
		$this->assertSame( '120.50', $event['subscription']['amount'] );
		$this->assertSame( 'Or', $event['subscription']['plan_name'] );
	}

	public function test_member_account_updated() {
		MeprEvent::record( 'member-account-updated', new MeprUser( $this->user ) );
		$event = $this->last_payload( 'member.updated' );
		$this->assertSame( (string) $this->user, $event['member']['id'] );
		$this->assertArrayNotHasKey( 'subscription', $event );
	}

	public function test_currency_is_omitted_when_memberpress_has_none() {
		update_option( 'farewell_test_mepr_currency', '' );
		$this->sub->cancel();
		$this->assertArrayNotHasKey( 'currency', $this->last_payload( 'subscription.cancelled' )['subscription'] );
	}

	public function test_an_exception_in_our_handler_never_reaches_memberpress() {
		$this->add_filter(
			'farewell_bridge_event',
			function () {
				throw new RuntimeException( 'boom inside the bridge' );
			}
		);
		$log = ini_get( 'error_log' );
		ini_set( 'error_log', '/dev/null' );
		try {
			$this->sub->cancel(); // Would throw into MemberPress if our handler were not guarded.
		} finally {
			ini_set( 'error_log', $log );
		}
		$this->assertSame( 'cancelled', ( new MeprSubscription( $this->sub->id ) )->status );
	}

	public function test_a_database_failure_is_counted_and_shown_never_printed_or_thrown() {
		global $wpdb;
		$table  = Farewell_Bridge_Outbox::table();
		$before = (int) get_option( Farewell_Bridge_Outbox::INSERT_FAILURE_OPTION, 0 );
		$log    = ini_get( 'error_log' );
		ini_set( 'error_log', '/dev/null' );
		$wpdb->query( "RENAME TABLE {$table} TO {$table}_away" );
		$shown = $wpdb->show_errors( true ); // As on a site with WP_DEBUG_DISPLAY.
		try {
			$this->sub->cancel(); // beStrictAboutOutputDuringTests fails the test if anything is printed.
		} finally {
			$wpdb->show_errors( $shown );
			$wpdb->query( "RENAME TABLE {$table}_away TO {$table}" );
			ini_set( 'error_log', $log );
		}
		$this->assertSame( 'cancelled', ( new MeprSubscription( $this->sub->id ) )->status );
		$this->assertSame( $before + 1, (int) get_option( Farewell_Bridge_Outbox::INSERT_FAILURE_OPTION ) );

		wp_set_current_user( $this->user( 'administrator' ) );
		ob_start();
		Farewell_Bridge_Admin::render_page();
		$html = ob_get_clean();
		$this->assertStringContainsString( 'could not be stored in the outbox table', $html );
	}

	public function test_nothing_is_sent_on_the_hook_itself() {
		$this->fake_sidecar( array( 202 ) );
		$this->sub->cancel();
		$this->assertSame( array(), $this->requests, 'no HTTP request during the hook' );
		$this->assertNotEmpty( Farewell_Bridge_Dispatcher::remembered(), 'the row waits for shutdown' );
	}

	public function test_which_status_changes_are_events() {
		$cases = array(
			array( 'pending', 'active', false, 'subscription.created' ),
			array( 'active', 'cancelled', false, 'subscription.cancelled' ),
			array( 'suspended', 'cancelled', false, 'subscription.cancelled' ),
			array( 'active', 'suspended', false, 'subscription.paused' ),
			array( 'suspended', 'active', false, 'subscription.resumed' ),
			array( 'cancelled', 'active', false, 'subscription.resumed' ),
			array( 'active', 'active', false, null ),           // Saved unchanged: MemberPress fires on every save.
			array( 'cancelled', 'cancelled', false, null ),
			array( 'pending', 'pending', false, null ),
			array( 'pending', 'cancelled', false, null ),       // The first payment failed: never had access.
			array( 'active', 'cancelled', true, null ),         // Upgrade or last payment of a plan ($_REQUEST['silent']).
			array( 'active', 'pending', false, null ),
			array( 'cancelled', 'suspended', false, null ),
		);
		foreach ( $cases as $case ) {
			$this->assertSame( $case[3], Farewell_Bridge_Source_Memberpress::transition_type( $case[0], $case[1], $case[2] ), implode( ' -> ', $case ) );
		}
	}

	public function test_a_pending_subscription_starts_when_it_becomes_active_and_only_once() {
		$sub             = new MeprSubscription();
		$sub->user_id    = $this->user;
		$sub->product_id = $this->sub->product_id;
		$sub->price      = '29.00';
		$sub->status     = MeprSubscription::$pending_str;
		$sub->store(); // A checkout, before the payment.
		$this->end_of_request();
		$this->assertSame( array( 'subscription.created' ), $this->types(), 'only the setUp subscription' );

		$sub->status = MeprSubscription::$active_str;
		$sub->store();
		$sub->store();
		$this->end_of_request();
		$created = array_values(
			array_filter(
				$this->payloads(),
				function ( $p ) use ( $sub ) {
					return (string) $sub->id === $p['subscription']['id'];
				}
			)
		);
		$this->assertCount( 1, $created );
		$this->assertSame( 'subscription.created', $created[0]['type'] );
		$this->assertSame( 'active', $created[0]['subscription']['status'] );
	}

	public function test_cancelled_again_after_a_resume_is_a_second_cancellation() {
		$this->sub->cancel();
		$this->sub->resume();
		$this->end_of_request();
		// The second cancel comes in another request, and not within the same second (the
		// webhook-id of a status change is made from its second).
		Farewell_Bridge_Event_Factory::reset();
		for ( $now = time(); time() === $now; ) {
			usleep( 50000 );
		}
		$this->sub->cancel();
		$this->assertSame( array( 'subscription.created', 'subscription.cancelled', 'subscription.resumed', 'subscription.cancelled' ), $this->types() );
	}

	public function test_a_silent_cancel_is_no_cancellation() {
		$_REQUEST['silent'] = true;
		try {
			$this->sub->cancel();
		} finally {
			unset( $_REQUEST['silent'] );
		}
		$this->assertSame( array( 'subscription.created' ), $this->types() );
	}

	public function test_an_upgrade_names_the_subscription_it_cancelled_silently() {
		// MemberPress's upgrade: the new subscription becomes active and, in the same request,
		// maybe_cancel_old_sub() cancels the old one with $_REQUEST['silent'] set.
		$product         = farewell_test_mepr_product( 'Platine', '49.00', 'months' );
		$new             = new MeprSubscription();
		$new->user_id    = $this->user;
		$new->product_id = $product;
		$new->price      = '49.00';
		$new->status     = MeprSubscription::$active_str;
		$new->store();
		$_REQUEST['silent'] = true;
		try {
			$this->sub->cancel();
		} finally {
			unset( $_REQUEST['silent'] );
		}
		$this->end_of_request();

		$this->assertSame( array( 'subscription.created', 'subscription.created' ), $this->types() );
		$started = $this->payloads()[1]['subscription'];
		$this->assertSame( (string) $new->id, $started['id'] );
		// The sidecar ends the old one as replaced: not active, no churn (task 13y).
		$this->assertSame( (string) $this->sub->id, $started['replaces'] );
		$this->assertArrayNotHasKey( 'replaces', $this->payloads()[0]['subscription'] );
	}

	public function test_a_start_in_a_request_without_a_silent_cancel_replaces_nothing() {
		$new          = new MeprSubscription();
		$new->user_id = $this->user;
		$new->status  = MeprSubscription::$active_str;
		$new->store();
		$this->end_of_request();
		$this->assertArrayNotHasKey( 'replaces', $this->payloads()[1]['subscription'] );
	}

	public function test_deleting_a_subscription_that_grants_access_ends_it_now() {
		$this->paid( gmdate( 'Y-m-d H:i:s', time() + 10 * DAY_IN_SECONDS ) );
		$this->sub->destroy();
		$event = $this->last_payload( 'subscription.expired' );
		$this->assertSame( 'expired', $event['subscription']['status'] );
		$this->assertSame( $event['occurred_at'], $event['subscription']['access_ends_at'] );
	}

	public function test_deleting_a_subscription_whose_access_had_ended_gives_nothing() {
		$this->paid( gmdate( 'Y-m-d H:i:s', time() - DAY_IN_SECONDS ) );
		$this->sub->destroy();
		$this->assertSame( array( 'subscription.created' ), $this->types() );
	}

	public function test_a_failed_payment_that_ends_access_says_access_ends_now() {
		$this->sub->expires_at = gmdate( 'Y-m-d H:i:s', time() + 20 * DAY_IN_SECONDS );
		$this->sub->store();
		$this->renewal_fails();
		$event = $this->last_payload( 'payment.failed' );
		$this->assertSame( $event['occurred_at'], $event['subscription']['access_ends_at'] );
	}

	public function test_the_expiry_happened_when_access_ended() {
		// MemberPress's cron records the expiry 12 hours or more after the end.
		$this->sub->expires_at = gmdate( 'Y-m-d H:i:s', time() - 13 * HOUR_IN_SECONDS );
		$this->sub->store();
		$this->sub->cancel();
		$this->sub->expire();
		$event = $this->last_payload( 'subscription.expired' );
		$this->assertSame( gmdate( 'Y-m-d\TH:i:s\Z', strtotime( $this->sub->expires_at . ' UTC' ) ), $event['occurred_at'] );
		$this->assertSame( $event['occurred_at'], $event['subscription']['access_ends_at'] );
	}

	private function count_of( $type ) {
		return count( array_keys( $this->types(), $type, true ) );
	}

	public function test_a_renewal_that_never_came_ends_access_once_and_a_late_payment_resumes_it() {
		// Still active: the renewal never arrived, and nobody cancelled.
		$ended                 = gmdate( 'Y-m-d H:i:s', time() - 13 * HOUR_IN_SECONDS );
		$this->sub->expires_at = $ended;
		$this->sub->store();
		$first = $this->paid( gmdate( 'Y-m-d H:i:s', time() - 40 * DAY_IN_SECONDS ) );
		$last  = $this->paid( $ended );
		$first->cron_expire();
		$last->cron_expire();
		$last->cron_expire(); // The cron again: MemberPress handles each transaction once.
		$event = $this->last_payload( 'subscription.expired' );
		$this->assertSame( 'system', $event['initiated_by'] );
		$this->assertSame( 'expired', $event['subscription']['status'] );
		$this->assertSame( gmdate( 'Y-m-d\TH:i:s\Z', strtotime( $ended . ' UTC' ) ), $event['occurred_at'] );
		$this->assertSame( $event['occurred_at'], $event['subscription']['access_ends_at'] );

		$renewed = gmdate( 'Y-m-d H:i:s', time() + 30 * DAY_IN_SECONDS );
		$late    = $this->paid( $renewed );
		$this->end_of_request();
		$late->store(); // Saved again: nothing changed for the member.
		$this->end_of_request();
		$resumed = $this->last_payload( 'subscription.resumed' );
		$this->assertSame( 'active', $resumed['subscription']['status'] );
		$this->assertSame( gmdate( 'Y-m-d\TH:i:s\Z', strtotime( $renewed . ' UTC' ) ), $resumed['subscription']['access_ends_at'] );
		$this->assertEqualsWithDelta( time(), strtotime( $resumed['occurred_at'] ), 5 );

		// The next renewal paid on time is no comeback, and a transaction running out at a renewal
		// boundary that a newer one covers is no lapse.
		$this->paid( gmdate( 'Y-m-d H:i:s', time() + 60 * DAY_IN_SECONDS ) );
		$this->end_of_request();
		$this->paid( gmdate( 'Y-m-d H:i:s', time() - 13 * HOUR_IN_SECONDS ) )->cron_expire();
		$this->end_of_request();
		$this->assertSame( array( 'subscription.created', 'subscription.expired', 'subscription.resumed' ), $this->types() );
	}

	public function test_a_failed_payment_that_ends_access_is_one_lapse_whatever_follows() {
		$this->sub->expires_at = gmdate( 'Y-m-d H:i:s', time() + 20 * DAY_IN_SECONDS );
		$this->sub->store();
		$this->renewal_fails();
		$failed  = $this->last_payload( 'payment.failed' );
		$expired = $this->last_payload( 'subscription.expired' );
		$this->assertSame( $failed['occurred_at'], $expired['occurred_at'] );
		$this->assertSame( $expired['occurred_at'], $expired['subscription']['access_ends_at'] );
		$this->assertSame( 'system', $expired['initiated_by'] );

		// The cron then finds the transactions MemberPress back-dated by a day.
		$this->sub  = new MeprSubscription( $this->sub->id );
		$back_dated = $this->paid( $this->sub->expires_at );
		$back_dated->cron_expire();
		// The payment service gives up: its cancel is reported, MemberPress's expiry of the
		// cancelled subscription is the lapse already reported.
		$this->sub->cancel();
		$this->sub->expire();
		$this->assertSame( 1, $this->count_of( 'subscription.expired' ) );
		$this->assertSame( 1, $this->count_of( 'subscription.cancelled' ) );
	}

	public function test_memberpress_dates_are_utc_whatever_the_site_zone() {
		update_option( 'timezone_string', 'Europe/Paris' ); // Summer time began at 01:00 UTC that night.
		try {
			$this->sub->created_at = '2026-03-28 23:30:00';
			$this->sub->expires_at = '2026-03-29 01:30:00';
			$this->sub->store();
			$this->sub->cancel();
		} finally {
			update_option( 'timezone_string', '' );
		}
		$sub = $this->last_payload( 'subscription.cancelled' )['subscription'];
		$this->assertSame( '2026-03-28T23:30:00Z', $sub['started_at'] );
		$this->assertSame( '2026-03-29T01:30:00Z', $sub['access_ends_at'] );
	}

	public function test_false_and_lifetime_are_no_dates() {
		// MeprSubscription::expires_at is false while pending; strtotime( ' UTC' ) is "now".
		$this->assertNull( Farewell_Bridge_Event_Factory::rfc3339( false ) );
		$this->assertNull( Farewell_Bridge_Source_Memberpress::timestamp( false ) );
		$this->assertNull( Farewell_Bridge_Source_Memberpress::timestamp( '0000-00-00 00:00:00' ) );
		$this->assertSame( 1700000000, Farewell_Bridge_Source_Memberpress::timestamp( '2023-11-14T22:13:20+00:00' ) );
		$this->assertSame( 1700000000, Farewell_Bridge_Source_Memberpress::timestamp( '2023-11-14 22:13:20' ) );
	}
}
