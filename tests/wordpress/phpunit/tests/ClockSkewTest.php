<?php
/**
 * A 401 that is a clock skew: told apart from a wrong secret, retried, explained in EN and FR.
 */
class ClockSkewTest extends Farewell_Test_Case {

	public function test_the_sidecars_clock_skew_answer_is_retried_and_explained() {
		$row = $this->queue_event();
		$this->fake_sidecar( array( array( 401, '{"error":"invalid_signature","reason":"clock_skew","clock_skew_seconds":-362,"tolerance_seconds":300,"message":"the sender\'s clock is 6 min 2 s behind the sidecar\'s; check NTP on both servers"}' ) ) );
		Farewell_Bridge_Dispatcher::deliver_ids( array( (int) $row['id'] ), 3.0 );
		$after = Farewell_Bridge_Outbox::get( (int) $row['id'] );
		$this->assertSame( 'pending', $after['status'] );
		$this->assertStringContainsString( 'Your server\'s clock differs from the sidecar\'s by about 6 minutes: this server is behind.', $after['last_error'] );
		$this->assertStringContainsString( 'NTP', $after['last_error'] );
		$this->assertSame( -362, Farewell_Bridge_Clock::current()['seconds'] );

		wp_set_current_user( $this->user( 'administrator' ) );
		ob_start();
		Farewell_Bridge_Admin::render_page();
		$html = ob_get_clean();
		$this->assertStringContainsString( 'farewell-bridge-clock-skew', $html );
	}

	public function test_an_older_sidecar_s_date_header_tells_the_skew() {
		$response = array(
			'headers'  => array( 'date' => gmdate( 'D, d M Y H:i:s', time() + 400 ) . ' GMT' ),
			'body'     => '{"error":"invalid_signature"}',
			'response' => array( 'code' => 401 ),
		);
		$result = Farewell_Bridge_Client::interpret( $response );
		$this->assertSame( Farewell_Bridge_Client::RETRY, $result['kind'] );
		$this->assertSame( 'clock_skew', $result['error'] );
		$this->assertStringContainsString( 'about 7 minutes: this server is behind', $result['message'] );
	}

	public function test_a_wrong_secret_with_clocks_in_sync_is_still_a_dead_401() {
		$response = array(
			'headers'  => array( 'date' => gmdate( 'D, d M Y H:i:s' ) . ' GMT' ),
			'body'     => '{"error":"invalid_signature"}',
			'response' => array( 'code' => 401 ),
		);
		$result = Farewell_Bridge_Client::interpret( $response );
		$this->assertSame( Farewell_Bridge_Client::PERMANENT, $result['kind'] );
		$this->assertStringContainsString( 'secret', $result['message'] );
	}

	public function test_the_message_is_translated_into_french() {
		$message = $this->in_french( function () {
			return Farewell_Bridge_Clock::message( 3 * HOUR_IN_SECONDS );
		} );
		$this->assertStringContainsString( '3 heures', $message );
		$this->assertStringContainsString( 'NTP', $message );
		$this->assertStringNotContainsString( 'clock', $message );
	}

	public function test_a_success_clears_the_notice() {
		update_option( Farewell_Bridge_Clock::OPTION, array( 'seconds' => 400, 'at' => time() ) );
		$row = $this->queue_event();
		$this->fake_sidecar( array( 202 ) );
		Farewell_Bridge_Dispatcher::deliver_ids( array( (int) $row['id'] ), 3.0 );
		$this->assertNull( Farewell_Bridge_Clock::current() );
	}

	public function test_a_cron_run_starts_no_delivery_past_its_deadline() {
		$row = $this->queue_event();
		$this->fake_sidecar( array( 202 ) );
		$done = Farewell_Bridge_Dispatcher::deliver_ids( array( (int) $row['id'] ), 3.0, microtime( true ) - 1 );
		$this->assertTrue( $done['halted'] );
		$this->assertSame( array(), $this->requests );
		$this->assertSame( 'pending', Farewell_Bridge_Outbox::get( (int) $row['id'] )['status'] );
	}
}
