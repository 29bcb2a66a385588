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
		$this->sub->expire();
		$this->assertSame( 'paused', $this->last_payload( 'subscription.paused' )['subscription']['status'] );
		$this->assertSame( 'active', $this->last_payload( 'subscription.resumed' )['subscription']['status'] );
		$this->assertSame( 'expired', $this->last_payload( 'subscription.expired' )['subscription']['status'] );
	}

	public function test_a_failed_recurring_payment_is_one_event_although_memberpress_records_two() {
		$txn                  = new MeprTransaction();
		$txn->user_id         = $this->user;
		$txn->product_id      = $this->sub->product_id;
		$txn->subscription_id = $this->sub->id;
		$txn->amount          = '29.00';
		$txn->store();
		$txn->fail();
		$event = $this->last_payload( 'payment.failed' );
		$this->assertSame( (string) $this->sub->id, $event['subscription']['id'] );
		$this->assertSame( '29.00', $event['subscription']['amount'] );
	}

	public function test_a_failed_one_time_payment_names_the_transaction() {
		$txn             = new MeprTransaction();
		$txn->user_id    = $this->user;
		$txn->product_id = $this->sub->product_id;
		$txn->amount     = '120.5';
		$txn->store();
		$txn->fail();
		$event = $this->last_payload( 'payment.failed' );
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
}
