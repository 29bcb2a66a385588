<?php
/**
 * Rate limits of the public survey route: a shared counter per (scope + hashed IP, window), 429
 * with Retry-After for JSON, the plain form sent back with what the member typed, unknown
 * tokens refused, old counters pruned.
 */
class RateLimitTest extends Farewell_Test_Case {

	protected function setUp(): void {
		parent::setUp();
		Farewell_Bridge_Survey::flush_cache();
		Farewell_Bridge_Survey_Form::reset();
		$_SERVER['REMOTE_ADDR'] = '203.0.113.7';
		unset( $_SERVER['HTTP_X_FORWARDED_FOR'] );
	}

	protected function tearDown(): void {
		unset( $_SERVER['REMOTE_ADDR'], $_SERVER['HTTP_X_FORWARDED_FOR'], $_GET['farewell_survey_wait'] );
		parent::tearDown();
	}

	private function rest( array $params, $form = false ) {
		$request = new WP_REST_Request( 'POST', '/farewell/v1/survey' );
		if ( $form ) {
			$request->set_header( 'Content-Type', 'application/x-www-form-urlencoded' );
			$request->set_body_params( $params );
		} else {
			$request->set_header( 'Content-Type', 'application/json' );
			$request->set_body( wp_json_encode( $params ) );
		}
		$response = rest_do_request( $request );
		return apply_filters( 'rest_post_dispatch', rest_ensure_response( $response ), rest_get_server(), $request );
	}

	private function shown( $token ) {
		set_transient( Farewell_Bridge_Survey::TOKEN_SEEN_PREFIX . Farewell_Bridge_Survey::token_hash( $token ), 1, 60 );
	}

	public function test_the_table_is_created_by_the_schema_upgrade_with_its_version() {
		global $wpdb;
		$this->assertSame( Farewell_Bridge_Rate_Limit::table(), $wpdb->get_var( $wpdb->prepare( 'SHOW TABLES LIKE %s', Farewell_Bridge_Rate_Limit::table() ) ) );
		$this->assertSame( Farewell_Bridge_Rate_Limit::SCHEMA_VERSION, (int) get_option( Farewell_Bridge_Rate_Limit::SCHEMA_OPTION ) );
		$this->assertNotFalse( wp_next_scheduled( Farewell_Bridge_Rate_Limit::PRUNE_HOOK ) );
	}

	public function test_hits_count_per_scope_and_address_and_the_address_is_never_stored() {
		global $wpdb;
		$now = 1800000000; // The start of a window.
		for ( $i = 1; $i <= 10; $i++ ) {
			$hit = Farewell_Bridge_Rate_Limit::hit( 'survey_submit', $now + 5 );
			$this->assertTrue( $hit['allowed'] );
			$this->assertSame( $i, $hit['hits'] );
		}
		$refused = Farewell_Bridge_Rate_Limit::hit( 'survey_submit', $now + 5 );
		$this->assertFalse( $refused['allowed'] );
		$this->assertSame( 595, $refused['retry_after'] );
		$this->assertTrue( Farewell_Bridge_Rate_Limit::hit( 'survey_lookup', $now + 5 )['allowed'], 'another scope counts apart' );
		$this->assertTrue( Farewell_Bridge_Rate_Limit::hit( 'survey_submit', $now + 600 )['allowed'], 'the next window starts afresh' );

		$_SERVER['HTTP_X_FORWARDED_FOR'] = '198.51.100.9';
		$this->assertFalse( Farewell_Bridge_Rate_Limit::hit( 'survey_submit', $now + 6 )['allowed'], 'X-Forwarded-For is not trusted' );
		$_SERVER['REMOTE_ADDR'] = '198.51.100.9';
		$this->assertTrue( Farewell_Bridge_Rate_Limit::hit( 'survey_submit', $now + 6 )['allowed'], 'another address has its own bucket' );

		$buckets = $wpdb->get_col( 'SELECT bucket FROM ' . Farewell_Bridge_Rate_Limit::table() );
		$this->assertNotEmpty( $buckets );
		foreach ( $buckets as $bucket ) {
			$this->assertStringNotContainsString( '203.0.113.7', $bucket );
			$this->assertMatchesRegularExpression( '/^survey_(submit|lookup):[0-9a-f]{40}$/', $bucket );
		}
	}

	public function test_a_documented_filter_may_name_the_client_behind_a_proxy() {
		$this->add_filter(
			'farewell_bridge_client_ip',
			function () {
				return '192.0.2.1';
			}
		);
		$this->assertSame( '192.0.2.1', Farewell_Bridge_Rate_Limit::client_ip() );
	}

	public function test_old_windows_are_pruned() {
		global $wpdb;
		$now = 1800000000;
		Farewell_Bridge_Rate_Limit::hit( 'survey_submit', $now - 1300 );
		Farewell_Bridge_Rate_Limit::hit( 'survey_submit', $now );
		$this->assertSame( 1, Farewell_Bridge_Rate_Limit::prune( $now ) );
		$this->assertSame( '1', $wpdb->get_var( 'SELECT COUNT(*) FROM ' . Farewell_Bridge_Rate_Limit::table() ) );
	}

	public function test_json_clients_get_429_with_retry_after_and_nothing_is_queued() {
		$token = 'WyJzaXRlX3Rlc3QiLDIwXQ.gggggg.hhhhhhhhhhhhhhhhhhhhhhhhhhh';
		$this->shown( $token );
		for ( $i = 0; $i < 10; $i++ ) {
			$this->assertSame( 201, $this->rest( array( 'token' => $token, 'answer_id' => 'answer-' . $i . '-xxxxxx' ) )->get_status() );
		}
		$response = $this->rest( array( 'token' => $token, 'answer_id' => 'answer-11-xxxxxx' ) );
		$this->assertSame( 429, $response->get_status() );
		$retry_after = (int) $response->get_headers()['Retry-After'];
		$this->assertGreaterThan( 0, $retry_after );
		$this->assertLessThanOrEqual( 600, $retry_after );
		$this->assertSame( 'farewell_rate_limited', $response->get_data()['code'] );
		$this->assertCount( 10, $this->rows() );
	}

	public function test_the_plain_form_goes_back_to_its_page_which_says_when_to_retry_and_keeps_the_answers() {
		$this->add_filter( 'farewell_bridge_rate_limit', function () {
			return 1;
		} );
		$member = $this->user( 'subscriber' );
		Farewell_Bridge_Survey::action_farewell_bridge_event_recorded( // A member answers about their own cancel only.
			array(
				'type'         => 'subscription.cancelled',
				'source'       => 'memberpress',
				'initiated_by' => 'member',
				'member'       => array(
					'id'    => (string) $member,
					'email' => 'ana@example.org',
				),
				'subscription' => array( 'id' => '31' ),
			)
		);
		wp_set_current_user( $member );
		$this->assertSame( 303, $this->rest( array( 'reason' => 'other', 'return_to' => '/?page_id=3' ), true )->get_status() );
		$fields   = array(
			'reason'            => 'too_expensive',
			'follow_up'         => array( 'too_expensive' => '15 € <b>par mois</b>' ),
			'comment'           => "Trop cher pour moi.\nMerci <script>x</script>",
			'contact_requested' => '1',
			'contact'           => 'ana@example.org',
			'return_to'         => '/?page_id=3',
		);
		$response = $this->rest( $fields, true );
		$this->assertSame( 303, $response->get_status() );
		$location = $response->get_headers()['Location'];
		$this->assertStringStartsWith( home_url( '/?page_id=3' ), $location );
		$this->assertStringContainsString( 'farewell_survey_wait=1', $location );
		$this->assertNotEmpty( $response->get_headers()['Retry-After'] );
		$this->assertCount( 1, $this->rows(), 'the refused answer is not queued' );

		$_GET['farewell_survey_wait'] = '1';
		$html = Farewell_Bridge_Survey_Form::render();
		$this->assertStringContainsString( 'Too many attempts from your connection. Please try again in', $html );
		$this->assertStringContainsString( 'Your answers are still below.', $html );
		$this->assertMatchesRegularExpression( '/value="too_expensive"\s+checked/', $html );
		$this->assertStringContainsString( 'value="15 € &lt;b&gt;par mois&lt;/b&gt;"', $html );
		$this->assertStringContainsString( "Trop cher pour moi.\nMerci &lt;script&gt;x&lt;/script&gt;</textarea>", $html );
		$this->assertMatchesRegularExpression( '/id="farewell-contact-requested" value="1"\s+checked/', $html );

		Farewell_Bridge_Survey_Form::reset();
		$this->assertStringNotContainsString( 'Trop cher pour moi', Farewell_Bridge_Survey_Form::render(), 'the kept answer is shown once' );
	}

	public function test_the_polite_message_is_french_for_a_french_member() {
		$message = $this->in_french( function () {
			return Farewell_Bridge_Rate_Limit::message( 301 );
		} );
		$this->assertStringContainsString( '6 minutes', $message );
		$this->assertStringContainsString( 'Trop de tentatives', $message );
	}

	public function test_a_token_this_site_never_showed_cannot_queue_an_answer() {
		$made_up = 'WyJzaXRlX3Rlc3QiLDk5XQ.zzzzzz.yyyyyyyyyyyyyyyyyyyyyyyyyyy';
		$response = $this->rest( array( 'token' => $made_up, 'comment' => 'spam' ) );
		$this->assertSame( 403, $response->get_status() );
		$this->assertSame( array(), $this->rows() );
	}

	public function test_email_link_look_ups_are_rate_limited_too_and_ask_the_sidecar_nothing_more() {
		$this->add_filter( 'farewell_bridge_rate_limit', function ( $limit, $scope ) {
			return 'survey_lookup' === $scope ? 2 : $limit;
		}, 10, 2 );
		$this->fake_sidecar( array( array( 200, '{"version":1,"language":"en","definition":{"reasons":[]},"token":{"status":"invalid"}}' ) ) );
		$_GET['farewell_survey'] = 'WyJzaXRlX3Rlc3QiLDk4XQ.zzzzzz.yyyyyyyyyyyyyyyyyyyyyyyyyyy';
		try {
			for ( $i = 0; $i < 3; $i++ ) {
				Farewell_Bridge_Survey_Form::reset();
				$html = Farewell_Bridge_Survey_Form::render();
			}
		} finally {
			unset( $_GET['farewell_survey'] );
		}
		$this->assertCount( 2, $this->requests );
		$this->assertStringContainsString( 'Too many attempts from your connection.', $html );
	}
}
