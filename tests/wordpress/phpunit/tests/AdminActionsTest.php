<?php
/**
 * Every admin action: capability, nonce, effect.
 */
class AdminActionsTest extends Farewell_Test_Case {

	/** @return array[] */
	public function actions() {
		$out = array();
		foreach ( array_keys( Farewell_Bridge_Admin::ACTIONS ) as $action ) {
			$out[ $action ] = array( $action );
		}
		return $out;
	}

	/**
	 * @dataProvider actions
	 */
	public function test_a_subscriber_is_refused_even_with_a_valid_nonce( $action ) {
		wp_set_current_user( $this->user( 'subscriber' ) );
		$result = $this->call_admin_action( $action, array( '_wpnonce' => wp_create_nonce( $action ) ) );
		$this->assertInstanceOf( Farewell_Test_Die::class, $result );
		$this->assertSame( 403, $result->status );
	}

	/**
	 * @dataProvider actions
	 */
	public function test_an_administrator_without_a_valid_nonce_is_refused( $action ) {
		wp_set_current_user( $this->user( 'administrator' ) );
		$result = $this->call_admin_action( $action, array( '_wpnonce' => 'forged' ) );
		$this->assertInstanceOf( Farewell_Test_Die::class, $result );
		$this->assertSame( 403, $result->status );
	}

	public function test_the_settings_page_refuses_a_subscriber() {
		wp_set_current_user( $this->user( 'subscriber' ) );
		$this->expectException( Farewell_Test_Die::class );
		Farewell_Bridge_Admin::render_page();
	}

	public function test_retry_all_dead_requeues_and_delivers() {
		$row = $this->queue_event();
		$this->fake_sidecar( array( 401, 202 ) );
		Farewell_Bridge_Dispatcher::deliver_ids( array( (int) $row['id'] ), 3.0 );
		$this->assertSame( 'dead', Farewell_Bridge_Outbox::get( (int) $row['id'] )['status'] );

		$admin = $this->user( 'administrator' );
		wp_set_current_user( $admin );
		$result = $this->call_admin_action( 'farewell_bridge_retry_dead', array( '_wpnonce' => wp_create_nonce( 'farewell_bridge_retry_dead' ) ) );
		$this->assertInstanceOf( Farewell_Test_Redirect::class, $result );
		$this->assertStringContainsString( 'options-general.php?page=farewell-bridge', $result->getMessage() );
		$this->assertSame( 'delivered', Farewell_Bridge_Outbox::get( (int) $row['id'] )['status'] );
		$notice = Farewell_Bridge_Admin::take_notice();
		$this->assertSame( 'success', $notice['type'] );
	}

	public function test_retry_one_dead_row() {
		$row   = $this->queue_event( 'one' );
		$other = $this->queue_event( 'other' );
		$this->fake_sidecar( array( array( 404, '{"error":"unknown_site"}' ), 202 ) ); // Both dead, in one batch.
		Farewell_Bridge_Dispatcher::deliver_ids( array( (int) $row['id'], (int) $other['id'] ), 3.0 );
		wp_set_current_user( $this->user( 'administrator' ) );
		$this->call_admin_action(
			'farewell_bridge_retry_row',
			array(
				'id'       => (string) $row['id'],
				'_wpnonce' => wp_create_nonce( 'farewell_bridge_retry_row' ),
			)
		);
		$this->assertSame( 'delivered', Farewell_Bridge_Outbox::get( (int) $row['id'] )['status'] );
		$this->assertSame( 'dead', Farewell_Bridge_Outbox::get( (int) $other['id'] )['status'] );
	}

	public function test_resume_after_a_410() {
		Farewell_Bridge_Outbox::pause( 'gone' );
		wp_set_current_user( $this->user( 'administrator' ) );
		$this->call_admin_action( 'farewell_bridge_resume', array( '_wpnonce' => wp_create_nonce( 'farewell_bridge_resume' ) ) );
		$this->assertNull( Farewell_Bridge_Outbox::paused() );
	}

	/** @return array[] */
	public function ping_answers() {
		return array(
			'ok'      => array( array( 200, '{"status":"ok","site_id":"site_test","site_name":"Le Club"}' ), 'success', 'Le Club' ),
			'401'     => array( 401, 'error', 'secret' ),
			'404'     => array( 404, 'error', 'site id' ),
			'dns'     => array( new WP_Error( 'http_request_failed', 'cURL error 6: Could not resolve host: farewell.invalid' ), 'error', 'DNS' ),
			'refused' => array( new WP_Error( 'http_request_failed', 'cURL error 7: Failed to connect to 127.0.0.1 port 9: Connection refused' ), 'error', 'refused' ),
			'timeout' => array( new WP_Error( 'http_request_failed', 'cURL error 28: Operation timed out after 5000 milliseconds' ), 'error', 'timeout' ),
		);
	}

	/**
	 * @dataProvider ping_answers
	 */
	public function test_test_connection_explains_each_outcome( $answer, $type, $words ) {
		$this->fake_sidecar( array( $answer ) );
		wp_set_current_user( $this->user( 'administrator' ) );
		$result = $this->call_admin_action( 'farewell_bridge_test_connection', array( '_wpnonce' => wp_create_nonce( 'farewell_bridge_test_connection' ) ) );
		$this->assertInstanceOf( Farewell_Test_Redirect::class, $result );
		// A successful test also reports the admin email (the digest's default recipient); a failed one sends nothing more.
		$this->assertCount( 'success' === $type ? 2 : 1, $this->requests );
		$this->assertSame( 'GET', $this->requests[0]['method'] );
		$this->assertSame( 'http://127.0.0.1:9/v1/sites/site_test/ping', $this->requests[0]['url'] );
		$signer = new Farewell_Bridge_Signer( self::SECRET );
		$headers = $this->requests[0]['headers'];
		$ping    = Farewell_Bridge_Signer::scope( 'GET', '/v1/sites/site_test/ping' );
		$this->assertTrue( $signer->verify( $headers['webhook-id'], $headers['webhook-timestamp'], '', $headers['webhook-signature'], null, 300, $ping ), 'signed for GET ping with an empty body' );
		if ( 'success' === $type ) {
			$report = $this->requests[1];
			$this->assertSame( 'POST', $report['method'] );
			$this->assertSame( 'http://127.0.0.1:9/v1/sites/site_test/site-info', $report['url'] );
			$this->assertSame( array( 'admin_email' => get_option( 'admin_email' ) ), json_decode( $report['body'], true ) );
			$site_info = Farewell_Bridge_Signer::scope( 'POST', '/v1/sites/site_test/site-info' );
			$this->assertTrue( $signer->verify( $report['headers']['webhook-id'], $report['headers']['webhook-timestamp'], $report['body'], $report['headers']['webhook-signature'], null, 300, $site_info ) );
		}
		$notice = Farewell_Bridge_Admin::take_notice();
		$this->assertSame( $type, $notice['type'] );
		$this->assertStringContainsString( $words, $notice['message'] );
	}

	public function test_the_outbox_panel_shows_dead_rows_with_their_error_escaped() {
		$row = $this->queue_event();
		$this->fake_sidecar( array( array( 400, '{"error":"invalid_event","fields":{"member.email":"<b>bad</b>"}}' ) ) );
		Farewell_Bridge_Dispatcher::deliver_ids( array( (int) $row['id'] ), 3.0 );
		wp_set_current_user( $this->user( 'administrator' ) );
		ob_start();
		Farewell_Bridge_Admin::render_page();
		$html = ob_get_clean();
		$this->assertStringContainsString( 'Retry all dead events', $html );
		$this->assertStringContainsString( '&lt;b&gt;bad&lt;/b&gt;', $html );
		$this->assertStringNotContainsString( '<b>bad</b>', $html );
		$this->assertStringContainsString( 'action=farewell_bridge_retry_row', $html );
		$this->assertStringContainsString( '_wpnonce=', $html );
	}
}
