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

	public function test_pmpro_immediate_cancel_is_one_event_from_two_hooks() {
		farewell_test_pmpro_level( 4, 'Silver', '5.00', 1, 'Week' );
		$user = $this->user();
		farewell_test_pmpro_give_level( $user, 4 );
		farewell_test_pmpro_cancel_page( $user, 4, 0 );
		$cancelled = $this->of_type( 'subscription.cancelled' );
		$this->assertCount( 1, $cancelled );
		$this->assertSame( 'week', $cancelled[0]['subscription']['interval'] );
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
}
