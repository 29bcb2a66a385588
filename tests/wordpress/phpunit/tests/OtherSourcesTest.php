<?php
/**
 * Paid Memberships Pro, WooCommerce Subscriptions and Restrict Content -> normalized events.
 */
class OtherSourcesTest extends Farewell_Test_Case {

	private function of_type( $type ) {
		return array_values(
			array_filter(
				$this->payloads(),
				function ( $p ) use ( $type ) {
					return $p['type'] === $type;
				}
			)
		);
	}

	protected function tearDown(): void {
		update_option( 'timezone_string', '' ); // The PMPro date tests set one.
		parent::tearDown();
	}

	public function test_every_source_is_active_when_its_plugin_is() {
		$this->assertEqualsCanonicalizing(
			array( 'memberpress', 'paidmembershipspro', 'woocommerce-subscriptions', 'restrict-content' ),
			Farewell_Bridge_Plugin::instance()->active_source_slugs()
		);
	}

	public function test_pmpro_cancel_with_time_left_reports_the_end_date_and_later_expiry_once() {
		global $pmpro_currency;
		$pmpro_currency = 'USD';
		farewell_test_pmpro_level( 3, 'Gold', '19.90', 1, 'Month' );
		$user = $this->user();
		farewell_test_pmpro_give_level( $user, 3 );
		$next = time() + 10 * DAY_IN_SECONDS;
		farewell_test_pmpro_cancel_page( $user, 3, $next );

		$cancelled = $this->of_type( 'subscription.cancelled' );
		$this->assertCount( 1, $cancelled );
		$sub = $cancelled[0]['subscription'];
		$this->assert_subscription_fields( array( 'id', 'plan_id', 'plan_name', 'amount', 'currency', 'interval', 'status', 'started_at', 'access_ends_at' ), $sub );
		$this->assertSame( $user . '-3', $sub['id'] );
		$this->assertSame( 'Gold', $sub['plan_name'] );
		$this->assertSame( '19.90', $sub['amount'] );
		$this->assertSame( 'USD', $sub['currency'] );
		$this->assertSame( 'month', $sub['interval'] );
		$this->assertSame( gmdate( 'Y-m-d\TH:i:s\Z', $next ), $sub['access_ends_at'] );
		$this->assertCount( 1, $this->of_type( 'subscription.created' ) );

		Farewell_Bridge_Event_Factory::reset(); // The expiry runs later, in another request.
		farewell_test_pmpro_expire( $user, 3 );
		$this->assertCount( 1, $this->of_type( 'subscription.expired' ) );
		$this->assertCount( 1, $this->of_type( 'subscription.cancelled' ), 'the removal at expiry is not a second cancellation' );
	}

	/**
	 * Like pmpro_changeMembershipLevel( $new, $user ) in PMPro 3.8.4: the before hook with the
	 * member's levels, the old level's row set to "changed" with no hook of its own, the new row,
	 * then the after hook.
	 */
	private function pmpro_change_level( $user, $from, $to ) {
		global $wpdb;
		do_action( 'pmpro_before_change_membership_level', $to, $user, pmpro_getMembershipLevelsForUser( $user ), null );
		$wpdb->update(
			$wpdb->pmpro_memberships_users,
			array( 'status' => 'changed', 'enddate' => current_time( 'mysql' ) ),
			array( 'user_id' => $user, 'membership_id' => $from, 'status' => 'active' )
		);
		farewell_test_pmpro_give_level( $user, $to );
	}

	public function test_pmpro_change_of_level_names_the_level_it_replaces() {
		farewell_test_pmpro_level( 8, 'Basic', '5.00' );
		farewell_test_pmpro_level( 9, 'Premium', '15.00' );
		$user = $this->user();
		farewell_test_pmpro_give_level( $user, 8 );
		$this->pmpro_change_level( $user, 8, 9 );

		$this->assertSame( array( 'subscription.created', 'subscription.created' ), wp_list_pluck( $this->payloads(), 'type' ) );
		$created = $this->of_type( 'subscription.created' );
		$this->assertArrayNotHasKey( 'replaces', $created[0]['subscription'] );
		$this->assertSame( $user . '-9', $created[1]['subscription']['id'] );
		// The sidecar ends the old level's subscription as replaced: not active, no churn (task 13y).
		$this->assertSame( $user . '-8', $created[1]['subscription']['replaces'] );
	}

	public function test_pmpro_the_same_level_given_again_replaces_nothing() {
		farewell_test_pmpro_level( 8, 'Basic', '5.00' );
		$user = $this->user();
		farewell_test_pmpro_give_level( $user, 8 );
		Farewell_Bridge_Event_Factory::reset(); // Given again later, in another request.
		$this->pmpro_change_level( $user, 8, 8 );
		foreach ( $this->of_type( 'subscription.created' ) as $created ) {
			$this->assertArrayNotHasKey( 'replaces', $created['subscription'] );
		}
	}

	public function test_pmpro_immediate_cancel_is_one_event_from_two_hooks() {
		farewell_test_pmpro_level( 4, 'Silver', '5.00', 1, 'Week' );
		$user = $this->user();
		farewell_test_pmpro_give_level( $user, 4 );
		farewell_test_pmpro_cancel_page( $user, 4, 0 );
		$cancelled = $this->of_type( 'subscription.cancelled' );
		$this->assertCount( 1, $cancelled );
		$this->assertSame( 'week', $cancelled[0]['subscription']['interval'] );
	}

	public function test_pmpro_dates_are_the_sites_wall_clock_read_in_its_time_zone() {
		// PMPro writes startdate with current_time( 'mysql' ) and the Cancel page's end date with
		// date( 'Y-m-d H:i:s', … ); its getters return "local timestamps", off by the UTC offset.
		update_option( 'timezone_string', 'Europe/Paris' );
		farewell_test_pmpro_level( 6, 'Paris', '12.00', 1, 'Month' );
		$user   = $this->user();
		$before = time();
		farewell_test_pmpro_give_level( $user, 6 );
		$created = $this->of_type( 'subscription.created' )[0]['subscription'];
		$started = strtotime( $created['started_at'] );
		$this->assertGreaterThanOrEqual( $before - 1, $started );
		$this->assertLessThanOrEqual( time(), $started );

		$next = time() + 10 * DAY_IN_SECONDS;
		farewell_test_pmpro_cancel_page( $user, 6, $next );
		$stored = new DateTimeImmutable( gmdate( 'Y-m-d H:i:s', $next ), new DateTimeZone( 'Europe/Paris' ) );
		$sub    = $this->of_type( 'subscription.cancelled' )[0]['subscription'];
		$this->assertSame( gmdate( 'Y-m-d\TH:i:s\Z', $stored->getTimestamp() ), $sub['access_ends_at'] );
		$this->assertSame( $created['started_at'], $sub['started_at'] );
	}

	public function test_pmpro_local_dates_across_daylight_saving_and_empty_values() {
		update_option( 'timezone_string', 'Europe/Paris' );
		$this->assertSame( '2026-10-25T02:30:00Z', Farewell_Bridge_Source_Pmpro::local_date( '2026-10-25 03:30:00' ) );
		$this->assertSame( '2026-10-24T23:30:00Z', Farewell_Bridge_Source_Pmpro::local_date( '2026-10-25 01:30:00' ) );
		update_option( 'timezone_string', 'America/New_York' );
		$this->assertSame( '2026-11-01T04:30:00Z', Farewell_Bridge_Source_Pmpro::local_date( '2026-11-01 00:30:00' ) );
		$this->assertSame( '2026-11-01T08:30:00Z', Farewell_Bridge_Source_Pmpro::local_date( '2026-11-01 03:30:00' ) );
		foreach ( array( null, '', '0000-00-00 00:00:00', '1000-01-01 00:00:00', 'soon', 1790000000 ) as $empty ) {
			$this->assertNull( Farewell_Bridge_Source_Pmpro::local_date( $empty ) );
		}
	}

	public function test_pmpro_gateway_cancel_with_time_left_is_reported_once() {
		// pmpro_handle_subscription_cancellation_at_gateway(): the subscription is saved as
		// cancelled, then only an end date is set — no hook follows; reported on shutdown.
		farewell_test_pmpro_level( 7, 'Gateway', '20.00', 1, 'Year' );
		$user = $this->user();
		farewell_test_pmpro_give_level( $user, 7 );
		$source = new Farewell_Bridge_Source_Pmpro();
		$source->action_pmpro_updated_subscription( new PMPro_Subscription( $user, 7, 'cancelled' ) );
		$next = time() + 30 * DAY_IN_SECONDS;
		farewell_test_pmpro_set_enddate( $user, 7, $next );
		$this->assertCount( 0, $this->of_type( 'subscription.cancelled' ) );
		$source->action_shutdown();
		$cancelled = $this->of_type( 'subscription.cancelled' );
		$this->assertCount( 1, $cancelled );
		$this->assertSame( gmdate( 'Y-m-d\TH:i:s\Z', $next ), $cancelled[0]['subscription']['access_ends_at'] );
		$this->assertSame( 'year', $cancelled[0]['subscription']['interval'] );

		// The cancelled subscription saved again later (another request): nothing new.
		Farewell_Bridge_Event_Factory::reset();
		$rows = count( $this->rows() );
		$source->action_pmpro_updated_subscription( new PMPro_Subscription( $user, 7, 'cancelled' ) );
		$source->action_shutdown();
		$this->assertCount( $rows, $this->rows() );

		// An active subscription saved, or a cancelled one whose level is gone: nothing.
		$source->action_pmpro_updated_subscription( new PMPro_Subscription( $user, 7, 'active' ) );
		$source->action_shutdown();
		$this->assertCount( $rows, $this->rows() );
	}

	public function test_pmpro_failed_payment() {
		farewell_test_pmpro_level( 5, 'Bronze', '9.00' );
		$user                 = $this->user();
		$order                = new MemberOrder();
		$order->id            = 77;
		$order->user_id       = $user;
		$order->membership_id = 5;
		$order->total         = '9';
		do_action( 'pmpro_subscription_payment_failed', $order );
		$failed = $this->of_type( 'payment.failed' );
		$this->assertCount( 1, $failed );
		$this->assertSame( '9.00', $failed[0]['subscription']['amount'] );
	}

	private function wc_subscription( $user, $status ) {
		return new WC_Subscription(
			array(
				'id'             => 501,
				'customer_id'    => $user,
				'status'         => $status,
				'currency'       => 'CHF',
				'total'          => '15',
				'billing_period' => 'year',
				'dates'          => array(
					'start'        => '2026-01-01 10:00:00',
					'next_payment' => '2027-01-01 10:00:00',
				),
				'items'          => array(
					array(
						'product_id' => 31,
						'name'       => 'Annual box',
					),
				),
			)
		);
	}

	public function test_woocommerce_pending_cancel_is_the_cancellation_and_its_end_is_the_expiry() {
		$user = $this->user();
		$sub  = $this->wc_subscription( $user, 'pending' );
		$sub->update_status( 'active' );
		$sub->update_status( 'pending-cancel' );
		$sub->update_dates( array( 'end' => '2027-01-01 10:00:00' ) );
		$sub->update_status( 'cancelled' );

		$this->assertSame( array( 'subscription.created', 'subscription.cancelled', 'subscription.expired' ), wp_list_pluck( $this->payloads(), 'type' ) );
		$cancel = $this->of_type( 'subscription.cancelled' )[0]['subscription'];
		$this->assert_subscription_fields( array( 'id', 'plan_id', 'plan_name', 'amount', 'currency', 'interval', 'status', 'started_at', 'access_ends_at' ), $cancel );
		$this->assertSame( '501', $cancel['id'] );
		$this->assertSame( '31', $cancel['plan_id'] );
		$this->assertSame( 'Annual box', $cancel['plan_name'] );
		$this->assertSame( '15.00', $cancel['amount'] );
		$this->assertSame( 'CHF', $cancel['currency'] );
		$this->assertSame( 'year', $cancel['interval'] );
		$this->assertSame( 'cancelled', $cancel['status'] );
		$this->assertSame( '2027-01-01T10:00:00Z', $cancel['access_ends_at'] );
		$this->assertSame( '2026-01-01T10:00:00Z', $cancel['started_at'] );
	}

	public function test_woocommerce_on_hold_resume_and_failed_renewal() {
		$user = $this->user();
		$sub  = $this->wc_subscription( $user, 'active' );
		$sub->payment_failed( 9001 );
		$sub->update_status( 'active' );
		$sub->update_status( 'cancelled' );
		$sub->update_status( 'expired' );
		$this->assertSame(
			array( 'subscription.paused', 'payment.failed', 'subscription.resumed', 'subscription.cancelled', 'subscription.expired' ),
			wp_list_pluck( $this->payloads(), 'type' )
		);
	}

	public function test_woocommerce_renewal_paid_is_payment_succeeded_and_the_first_payment_is_not() {
		$user = $this->user();
		$sub  = $this->wc_subscription( $user, 'pending' );
		$sub->payment_complete( 8000, false ); // The parent order: the subscription starts.
		$this->assertSame( array( 'subscription.created' ), wp_list_pluck( $this->payloads(), 'type' ) );

		$sub->payment_failed( 8001 );
		Farewell_Bridge_Event_Factory::reset(); // The retry is paid in another request…
		$sub->payment_complete( 8001 );
		Farewell_Bridge_Event_Factory::reset(); // … and notified again in a third.
		$sub->payment_complete( 8001 );
		$this->assertSame(
			array( 'subscription.created', 'subscription.paused', 'payment.failed', 'subscription.resumed', 'payment.succeeded' ),
			wp_list_pluck( $this->payloads(), 'type' )
		);
		$paid = $this->of_type( 'payment.succeeded' )[0];
		$this->assertSame( 'woocommerce-subscriptions', $paid['source'] );
		$this->assertSame( (string) $user, $paid['member']['id'] );
		$this->assert_subscription_fields( array( 'id', 'plan_id', 'plan_name', 'amount', 'currency', 'interval', 'status', 'started_at' ), $paid['subscription'] );
		$this->assertSame( array( '501', 'active', '15.00', 'CHF', 'year' ), array( $paid['subscription']['id'], $paid['subscription']['status'], $paid['subscription']['amount'], $paid['subscription']['currency'], $paid['subscription']['interval'] ) );
		$rows = wp_list_pluck( $this->rows(), 'webhook_id', 'event_type' );
		$this->assertSame( Farewell_Bridge_Event_Factory::webhook_id( 'woocommerce-subscriptions', '501', 'payment.succeeded', 'order-8001' ), $rows['payment.succeeded'] );

		// The next renewal, a year later: its own order, its own event.
		Farewell_Bridge_Event_Factory::reset();
		$sub->payment_complete( 8002 );
		$this->assertCount( 2, $this->of_type( 'payment.succeeded' ) );
		$this->assertCount( 1, $this->of_type( 'subscription.resumed' ) );
	}

	public function test_restrict_content_cancel_is_one_event_and_keeps_access_until_expiry() {
		$user       = $this->user();
		$membership = new RCP_Membership(
			array(
				'id'               => 61,
				'user_id'          => $user,
				'object_id'        => 2,
				'level_name'       => 'Premium',
				'recurring_amount' => '99.9',
				'status'           => 'active',
				'expiration_date'  => '2027-03-01 23:59:59',
			)
		);
		$membership->cancel();
		$membership->set_status( 'expired' );
		$membership->set_status( 'active' );

		$this->assertSame( array( 'subscription.cancelled', 'subscription.expired', 'subscription.resumed' ), wp_list_pluck( $this->payloads(), 'type' ) );
		$cancel = $this->of_type( 'subscription.cancelled' )[0]['subscription'];
		$this->assertSame( '61', $cancel['id'] );
		$this->assertSame( 'Premium', $cancel['plan_name'] );
		$this->assertSame( '99.90', $cancel['amount'] );
		$this->assertSame( 'GBP', $cancel['currency'] );
		$this->assertSame( 'year', $cancel['interval'] );
		$this->assertSame( '2027-03-01T23:59:59Z', $cancel['access_ends_at'] );
	}

	public function test_restrict_content_new_membership_and_failed_payment() {
		$user       = $this->user();
		$membership = new RCP_Membership(
			array(
				'id'               => 62,
				'user_id'          => $user,
				'object_id'        => 3,
				'level_name'       => 'Forever',
				'recurring_amount' => '0',
				'currency'         => 'EUR',
			)
		);
		$membership->set_status( 'active' );
		do_action( 'rcp_recurring_payment_failed', get_userdata( $user ), new Farewell_Test_RCP_Gateway( $membership ) );
		$types = wp_list_pluck( $this->payloads(), 'type' );
		$this->assertSame( array( 'subscription.created', 'payment.failed' ), $types );
		$this->assertSame( 'lifetime', $this->payloads()[0]['subscription']['interval'] );
		$this->assertSame( 'EUR', $this->payloads()[0]['subscription']['currency'] );
	}

	public function test_restrict_content_dates_are_read_in_the_site_time_zone() {
		// Restrict Content writes current_time( 'mysql' ): wall-clock figures of the site's zone.
		update_option( 'timezone_string', 'Europe/Paris' );
		try {
			$user       = $this->user();
			$membership = new RCP_Membership(
				array(
					'id'               => 63,
					'user_id'          => $user,
					'object_id'        => 1,
					'level_name'       => 'Mensuel',
					'recurring_amount' => '12',
					'created_date'     => '2026-01-15 10:00:00', // CET, +1.
					'expiration_date'  => '2026-07-15 23:59:59', // CEST, +2.
				)
			);
			$membership->set_status( 'active' );
			$sub = $this->of_type( 'subscription.created' )[0]['subscription'];
			$this->assert_subscription_fields( array( 'id', 'plan_id', 'plan_name', 'amount', 'currency', 'interval', 'status', 'started_at', 'access_ends_at' ), $sub );
			$this->assertSame( '2026-01-15T09:00:00Z', $sub['started_at'] );
			$this->assertSame( '2026-07-15T21:59:59Z', $sub['access_ends_at'] );
		} finally {
			update_option( 'timezone_string', '' );
		}
	}

	public function test_restrict_content_membership_added_active_is_created() {
		// RCP's insertion passes "new" as the old status (an administrator adding an active membership).
		$user = $this->user();
		new RCP_Membership( array( 'id' => 64, 'user_id' => $user, 'object_id' => 1, 'status' => 'active' ) );
		do_action( 'rcp_transition_membership_status', 'new', 'active', 64 );
		do_action( 'rcp_transition_membership_status', 'new', 'pending', 64 );
		$this->assertSame( array( 'subscription.created' ), wp_list_pluck( $this->payloads(), 'type' ) );
	}

	public function test_restrict_content_deleted_membership_is_one_expiry_now() {
		$user       = $this->user();
		$source     = new Farewell_Bridge_Source_Restrict_Content();
		$membership = new RCP_Membership(
			array( 'id' => 65, 'user_id' => $user, 'object_id' => 1, 'status' => 'active', 'expiration_date' => gmdate( 'Y-m-d H:i:s', time() + 20 * DAY_IN_SECONDS ) )
		);
		$this->add_filter( 'rcp_membership_post_disable', array( $source, 'action_rcp_membership_post_disable' ), 10, 2 );
		$this->add_filter( 'rcp_transition_membership_status', array( $source, 'action_rcp_transition_membership_status' ), 10, 3 );
		$membership->disable();
		$membership->cancel(); // disable() stops the billing after disabling: not a cancellation.
		$source->action_shutdown();

		$types = array_unique( wp_list_pluck( $this->payloads(), 'type' ) );
		$this->assertSame( array( 'subscription.expired' ), array_values( $types ) );
		$expired = $this->of_type( 'subscription.expired' )[0];
		$this->assertSame( $expired['occurred_at'], $expired['subscription']['access_ends_at'] );
	}

	public function test_restrict_content_replaced_membership_is_only_the_new_start() {
		$user   = $this->user();
		$source = new Farewell_Bridge_Source_Restrict_Content();
		$old    = new RCP_Membership( array( 'id' => 66, 'user_id' => $user, 'object_id' => 1, 'status' => 'active' ) );
		new RCP_Membership( array( 'id' => 67, 'user_id' => $user, 'object_id' => 2, 'status' => 'active' ) );
		$old->disable(); // The registered source sees it too: its flush is not run here.
		$source->action_rcp_membership_post_disable( 66, $old );
		$source->action_rcp_transition_membership_status( 'pending', 'active', 67 );
		$source->action_shutdown();
		$this->assertSame( array( 'subscription.created' ), wp_list_pluck( $this->payloads(), 'type' ) );
		$this->assertSame( '67', $this->payloads()[0]['subscription']['id'] );
		// The sidecar ends the old one as replaced: not active, and no churn (task 13y).
		$this->assertSame( '66', $this->payloads()[0]['subscription']['replaces'] );
	}

	public function test_restrict_content_a_start_that_replaces_nothing_names_nothing() {
		$user = $this->user();
		new RCP_Membership( array( 'id' => 68, 'user_id' => $user, 'object_id' => 1, 'status' => 'active' ) );
		do_action( 'rcp_transition_membership_status', 'pending', 'active', 68 );
		$this->assertArrayNotHasKey( 'replaces', $this->payloads()[0]['subscription'] );
	}

	public function test_restrict_content_failure_notification_sent_twice_is_one_event() {
		$user       = $this->user();
		$membership = new RCP_Membership( array( 'id' => 68, 'user_id' => $user, 'object_id' => 1, 'status' => 'active' ) );
		do_action( 'rcp_recurring_payment_failed', get_userdata( $user ), new Farewell_Test_RCP_Gateway( $membership, 'evt_1' ) );
		Farewell_Bridge_Event_Factory::reset(); // The retry is another request, seconds later.
		sleep( 1 );
		do_action( 'rcp_recurring_payment_failed', get_userdata( $user ), new Farewell_Test_RCP_Gateway( $membership, 'evt_1' ) );
		$this->assertCount( 1, $this->of_type( 'payment.failed' ) );
	}
}
