<?php
/**
 * A secret that breaks the rule (whsec_ + base64 of at least 24 bytes) stops the bridge cleanly:
 * nothing is signed or sent, the outbox keeps every event, and the settings page, "Test
 * connection" and Site Health say why, in English and in French. And what the bridge signs: its
 * events plain Standard Webhooks, everything else bound to its route.
 */
class SecretRuleTest extends Farewell_Test_Case {

	const PLACEHOLDER = 'whsec_<paste here>';

	/** The secret option reads as $secret, as a filter (or a write past the form) could make it. */
	private function secret_reads( $secret ) {
		$this->add_filter(
			'pre_option_' . Farewell_Bridge_Settings::SECRET_OPTION,
			static function () use ( $secret ) {
				return $secret;
			}
		);
	}

	public function test_with_an_unusable_secret_the_outbox_sends_nothing_and_keeps_every_event() {
		$this->secret_reads( self::PLACEHOLDER );
		$this->fake_sidecar( array( 202 ) );
		$row = $this->queue_event( 'kept' );
		Farewell_Bridge_Dispatcher::action_farewell_bridge_deliver();
		Farewell_Bridge_Dispatcher::deliver_ids( array( (int) $row['id'] ), 1.0 );
		$this->assertSame( array(), $this->requests );
		$this->assertSame( array( Farewell_Bridge_Outbox::STATUS_PENDING ), array_column( $this->rows(), 'status' ) );
		$this->assertFalse( Farewell_Bridge_Settings::is_configured() );

		// Fixed, the event goes out as it was.
		remove_all_filters( 'pre_option_' . Farewell_Bridge_Settings::SECRET_OPTION );
		Farewell_Bridge_Dispatcher::action_farewell_bridge_deliver();
		$this->assertCount( 1, $this->requests );
		$this->assertSame( array( Farewell_Bridge_Outbox::STATUS_DELIVERED ), array_column( $this->rows(), 'status' ) );
	}

	public function test_the_client_never_signs_with_an_unusable_secret() {
		$this->fake_sidecar( array( 200 ) );
		$client = new Farewell_Bridge_Client( 'http://127.0.0.1:9', 'site_test', 'whsec_' );
		$result = $client->ping( 1.0 );
		$this->assertSame( array( Farewell_Bridge_Client::RETRY, 'invalid_secret' ), array( $result['kind'], $result['error'] ) );
		$this->assertSame( array(), $this->requests );
	}

	public function test_the_settings_page_and_test_connection_say_why_in_english_and_french() {
		$this->secret_reads( 'whsec_' . base64_encode( 'short key' ) ); // phpcs:ignore WordPress.PHP.DiscouragedPHPFunctions.obfuscation_base64_encode
		$this->fake_sidecar( array( 200 ) );
		wp_set_current_user( $this->user( 'administrator' ) );
		$page = function () {
			ob_start();
			Farewell_Bridge_Admin::render_page();
			return ob_get_clean();
		};
		$html = $page();
		$this->assertStringContainsString( 'farewell-bridge-secret-error', $html );
		$this->assertStringContainsString( 'The saved secret cannot be used. The secret is too short: it must decode to at least 24 bytes.', $html );
		$this->assertStringContainsString( 'events wait in the outbox', $html );
		$french = $this->in_french( $page );
		$this->assertStringContainsString( 'Le secret enregistré ne peut pas servir.', $french );

		$result = $this->call_admin_action( 'farewell_bridge_test_connection', array( '_wpnonce' => wp_create_nonce( 'farewell_bridge_test_connection' ) ) );
		$this->assertInstanceOf( Farewell_Test_Redirect::class, $result );
		$notice = Farewell_Bridge_Admin::take_notice();
		$this->assertSame( 'error', $notice['type'] );
		$this->assertStringContainsString( 'too short', $notice['message'] );
		$this->assertSame( array(), $this->requests, 'nothing is sent with it' );
	}

	/**
	 * @runInSeparateProcess
	 * @preserveGlobalState disabled
	 */
	public function test_a_placeholder_in_wp_config_is_named_as_such() {
		define( 'FAREWELL_SECRET', self::PLACEHOLDER );
		$this->assertStringStartsWith( 'The secret set by FAREWELL_SECRET in wp-config.php cannot be used. The text after whsec_ is not base64', Farewell_Bridge_Settings::secret_error() );
		$this->assertStringStartsWith( 'Le secret défini par FAREWELL_SECRET dans wp-config.php ne peut pas servir.', $this->in_french( array( 'Farewell_Bridge_Settings', 'secret_error' ) ) );
	}

	public function test_site_health_says_why_in_english_and_french() {
		$tests = apply_filters( 'site_status_tests', array( 'direct' => array() ) );
		$this->assertSame( array( 'Farewell_Bridge_Site_Health', 'test_secret' ), $tests['direct'][ Farewell_Bridge_Site_Health::TEST ]['test'] );

		$this->assertSame( 'good', Farewell_Bridge_Site_Health::test_secret()['status'] );

		$this->secret_reads( self::PLACEHOLDER );
		$result = Farewell_Bridge_Site_Health::test_secret();
		$this->assertSame( array( 'critical', Farewell_Bridge_Site_Health::TEST ), array( $result['status'], $result['test'] ) );
		$this->assertStringContainsString( 'not base64', $result['description'] );
		$this->assertStringContainsString( 'options-general.php?page=farewell-bridge', $result['actions'] );
		$french = $this->in_french( array( 'Farewell_Bridge_Site_Health', 'test_secret' ) );
		$this->assertStringContainsString( 'secret', $french['label'] );
		$this->assertNotSame( $result['label'], $french['label'] );
		$this->assertStringContainsString( 'ne peut pas servir', $french['description'] );

		remove_all_filters( 'pre_option_' . Farewell_Bridge_Settings::SECRET_OPTION );
		update_option( Farewell_Bridge_Settings::OPTION, array_merge( Farewell_Bridge_Settings::stored(), array( 'site_id' => '' ) ) );
		$this->assertSame( 'recommended', Farewell_Bridge_Site_Health::test_secret()['status'] );
	}

	public function test_events_are_plain_standard_webhooks_and_every_other_request_is_bound_to_its_route() {
		$this->fake_sidecar( array( 202 ) );
		$client = Farewell_Bridge_Client::from_settings();
		$client->send_event( 'evt_1', '{"type":"x"}', 1.0 );
		$client->request( 'GET', 'survey?locale=fr_FR&token=abc', 'fwb_survey_1', '', 1.0 );
		$client->post_json( 'privacy/erase', array( 'email' => 'ana@example.org' ), 1.0 );
		$signer = new Farewell_Bridge_Signer( self::SECRET );
		list( $event, $survey, $erase ) = $this->requests;
		$verify = static function ( $request, $scope ) use ( $signer ) {
			$headers = $request['headers'];
			return $signer->verify( $headers['webhook-id'], $headers['webhook-timestamp'], (string) $request['body'], $headers['webhook-signature'], null, 300, $scope );
		};
		$this->assertStringStartsWith( 'v1,', $event['headers']['webhook-signature'] );
		$this->assertTrue( $verify( $event, null ) );
		$this->assertStringStartsWith( 'fw2,', $survey['headers']['webhook-signature'] );
		$this->assertSame( 'http://127.0.0.1:9/v1/sites/site_test/survey?locale=fr_FR&token=abc', $survey['url'] );
		$this->assertTrue( $verify( $survey, 'GET /v1/sites/site_test/survey' ), 'the query string is not signed' );
		$this->assertTrue( $verify( $erase, 'POST /v1/sites/site_test/privacy/erase' ) );
		$this->assertFalse( $verify( $erase, 'POST /v1/sites/site_test/privacy/export' ) );
	}

	public function test_an_older_or_newer_sidecar_is_named_in_the_error() {
		$answer = function ( $status, $body ) {
			return array(
				'headers'  => array(),
				'body'     => $body,
				'response' => array( 'code' => $status ),
			);
		};
		$older = Farewell_Bridge_Client::interpret( $answer( 401, '{"error":"invalid_signature"}' ), true );
		$this->assertSame( 'invalid_signature', $older['error'] );
		$this->assertStringContainsString( 'older than this plugin. Update the Farewell sidecar', $older['message'] );
		$wrong = Farewell_Bridge_Client::interpret( $answer( 401, '{"error":"invalid_signature","signature_scheme":"fw2"}' ), true );
		$this->assertStringContainsString( 'the secret is wrong', $wrong['message'] );
		$newer = Farewell_Bridge_Client::interpret( $answer( 426, '{"error":"signature_scheme_outdated","message":"update"}' ), true );
		$this->assertSame( array( Farewell_Bridge_Client::PERMANENT, 'signature_scheme_outdated' ), array( $newer['kind'], $newer['error'] ) );
		$this->assertStringContainsString( 'update the Farewell Bridge plugin', $newer['message'] );
		$this->assertStringContainsString( 'mettez à jour', $this->in_french( static function () use ( $answer ) {
			return Farewell_Bridge_Client::interpret( $answer( 426, '{"error":"signature_scheme_outdated"}' ), true )['message'];
		} ) );
	}
}
