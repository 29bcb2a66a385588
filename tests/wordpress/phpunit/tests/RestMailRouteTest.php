<?php
/**
 * POST /farewell/v1/mail: signatures, idempotency by webhook-id, input checks, what wp_mail
 * sends, and how failures are answered (docs/PROTOCOL.md, "Sidecar → bridge").
 */
class RestMailRouteTest extends Farewell_Rest_Test_Case {

	const OTHER_SITE_SECRET = 'whsec_b3RoZXItc2l0ZS1zZWNyZXQtMjQtYnl0ZXMhIQ==';

	public function test_the_routes_are_registered_for_post_only() {
		$routes = rest_get_server()->get_routes();
		foreach ( array( '/farewell/v1/mail', '/farewell/v1/coupons' ) as $route ) {
			$this->assertArrayHasKey( $route, $routes );
			$this->assertSame( array( 'POST' => true ), $routes[ $route ][0]['methods'] );
		}
	}

	public function test_a_signed_request_sends_the_email_through_wp_mail() {
		$body = $this->mail_body();
		list( $status, $answer ) = $this->post( 'mail', $body );
		$this->assertSame( array( 200, array( 'status' => 'sent' ) ), array( $status, $answer ) );
		$this->assertCount( 1, $this->mailer->sent );
		$mime = $this->mailer->sent[0];
		$this->assertStringContainsString( 'Message-ID: ' . $body['message_id'], $mime );
		$this->assertStringContainsString( 'List-Unsubscribe: <https://sidecar.example/u/abc>', $mime );
		$this->assertStringContainsString( 'List-Unsubscribe-Post: List-Unsubscribe=One-Click', $mime );
		$this->assertStringContainsString( 'Auto-Submitted: auto-generated', $mime );
		$this->assertMatchesRegularExpression( '/^From: Le Club <farewell@club\.example\.org>/m', $mime );
		$this->assertMatchesRegularExpression( '/^Reply-To: =\?UTF-8\?[QB]\?.+\?= <aide@club\.example\.org>/m', $mime );
		$this->assertMatchesRegularExpression( '/^To: =\?UTF-8\?[QB]\?.+\?= <ana@example\.org>/m', $mime );
		$this->assertMatchesRegularExpression( '/^Subject: =\?UTF-8\?[QB]\?/m', $mime );
		$this->assertStringContainsString( 'multipart/alternative', $mime );
		$this->assertStringContainsString( 'Content-Type: text/plain; charset=UTF-8', $mime );
		$this->assertStringContainsString( 'Content-Type: text/html; charset=UTF-8', $mime );
	}

	public function test_an_image_the_html_shows_by_cid_is_embedded_beside_it() {
		$png  = "\x89PNG\r\n\x1a\n" . str_repeat( 'chart', 50 );
		$body = $this->mail_body(
			array(
				'html'          => '<p>Votre semaine</p><img src="cid:trend@farewell" alt="Graphique">',
				'inline_images' => array(
					array(
						'cid'          => 'trend@farewell',
						'content_type' => 'image/png',
						'filename'     => 'trend.png',
						'data'         => base64_encode( $png ), // phpcs:ignore WordPress.PHP.DiscouragedPHPFunctions.obfuscation_base64_encode
					),
				),
			)
		);
		$this->assertSame( 200, $this->post( 'mail', $body )[0] );
		$mime = $this->mailer->sent[0];
		$this->assertStringContainsString( 'multipart/related', $mime );
		$this->assertStringContainsString( 'Content-ID: <trend@farewell>', $mime );
		$this->assertStringContainsString( 'Content-Type: image/png; name=trend.png', $mime );
		// PHPMailer writes base64 in lines of 76 characters: the first line is the image's start.
		$this->assertStringContainsString( substr( base64_encode( $png ), 0, 76 ), $mime ); // phpcs:ignore WordPress.PHP.DiscouragedPHPFunctions.obfuscation_base64_encode

		// The next email of the site carries no image of ours.
		wp_mail( 'someone@example.org', 'Another email', 'Plain', array( 'From: Site <site@example.org>' ) );
		$this->assertStringNotContainsString( 'trend@farewell', $this->mailer->sent[1] );
	}

	public function test_an_inline_image_that_the_html_does_not_use_or_is_not_an_image_is_refused() {
		$image = array(
			'cid'          => 'trend@farewell',
			'content_type' => 'image/png',
			'filename'     => 'trend.png',
			'data'         => base64_encode( 'png bytes' ), // phpcs:ignore WordPress.PHP.DiscouragedPHPFunctions.obfuscation_base64_encode
		);
		foreach ( array(
			array( 'html' => '<p>no image here</p>' ),
			array( 'content_type' => 'text/html' ),
			array( 'data' => 'not base64 !!' ),
			array( 'cid' => "trend@farewell\r\nBcc: x@example.org" ),
		) as $change ) {
			$html   = isset( $change['html'] ) ? $change['html'] : '<img src="cid:trend@farewell">';
			$bad    = array_merge( $image, array_diff_key( $change, array( 'html' => 1 ) ) );
			$answer = $this->post( 'mail', $this->mail_body( array( 'html' => $html, 'inline_images' => array( $bad ) ) ) );
			$this->assertSame( array( 422, 'invalid_request' ), array( $answer[0], $answer[1]['error'] ), wp_json_encode( $change ) );
		}
		$this->assertCount( 0, $this->mailer->sent );
	}

	public function test_our_message_id_and_debug_settings_do_not_leak_into_the_next_wp_mail() {
		$this->post( 'mail', $this->mail_body() );
		$this->assertSame( '', $this->mailer->MessageID ); // phpcs:ignore WordPress.NamingConventions.ValidVariableName.UsedPropertyNotSnakeCase
		$this->assertSame( 0, $this->mailer->SMTPDebug ); // phpcs:ignore WordPress.NamingConventions.ValidVariableName.UsedPropertyNotSnakeCase
		$this->assertFalse( has_action( 'phpmailer_init', array( 'Farewell_Bridge_Rest_Mail', 'action_phpmailer_init' ) ) );
		wp_mail( 'someone@example.org', 'Another email', 'Plain', array( 'From: Site <site@example.org>' ) );
		$this->assertStringNotContainsString( 'farewell.site_test', $this->mailer->sent[1] );
		$this->assertStringNotContainsString( 'List-Unsubscribe', $this->mailer->sent[1] );
	}

	public function test_a_retry_with_the_same_webhook_id_is_a_duplicate_and_sends_nothing() {
		$body = $this->mail_body();
		$this->assertSame( 200, $this->post( 'mail', $body, array( 'id' => 'mail_' . str_repeat( 'a', 40 ) ) )[0] );
		list( $status, $answer ) = $this->post( 'mail', $body, array( 'id' => 'mail_' . str_repeat( 'a', 40 ) ) );
		$this->assertSame( array( 200, array( 'status' => 'duplicate' ) ), array( $status, $answer ) );
		$this->assertCount( 1, $this->mailer->sent );
		// Another email (another id) is sent.
		$this->assertSame( 'sent', $this->post( 'mail', $body, array( 'id' => 'mail_' . str_repeat( 'b', 40 ) ) )[1]['status'] );
		$this->assertCount( 2, $this->mailer->sent );
	}

	public function test_a_failed_send_is_not_remembered_so_the_retry_sends() {
		$id                 = 'mail_' . str_repeat( 'c', 40 );
		$this->mailer->mode = 'down';
		list( $status, $answer ) = $this->post( 'mail', $this->mail_body(), array( 'id' => $id ) );
		$this->assertSame( 502, $status );
		$this->assertSame( 'mail_failed', $answer['error'] );
		$this->mailer->mode = 'ok';
		$this->assertSame( array( 200, array( 'status' => 'sent' ) ), $this->post( 'mail', $this->mail_body(), array( 'id' => $id ) ) );
	}

	public function test_an_smtp_5xx_on_rcpt_is_recipient_refused_and_a_4xx_is_mail_failed() {
		$this->mailer->mode      = 'refuse';
		list( $status, $answer ) = $this->post( 'mail', $this->mail_body() );
		$this->assertSame( 422, $status );
		$this->assertSame( 'recipient_refused', $answer['error'] );
		$this->assertStringContainsString( 'ana@example.org', $answer['message'] );

		$this->mailer->mode      = 'defer';
		list( $status, $answer ) = $this->post( 'mail', $this->mail_body() );
		$this->assertSame( 502, $status );
		$this->assertSame( 'mail_failed', $answer['error'] );
	}

	public function test_an_invalid_recipient_is_refused_without_sending() {
		list( $status, $answer ) = $this->post( 'mail', $this->mail_body( array( 'to' => array( array( 'email' => 'not an address', 'name' => '' ) ) ) ) );
		$this->assertSame( 422, $status );
		$this->assertSame( 'recipient_refused', $answer['error'] );
		$this->assertCount( 0, $this->mailer->sent );
	}

	/**
	 * @dataProvider invalid_bodies
	 */
	public function test_invalid_input_is_refused_without_sending( $changes ) {
		list( $status, $answer ) = $this->post( 'mail', $this->mail_body( $changes ) );
		$this->assertSame( 422, $status );
		$this->assertSame( 'invalid_request', $answer['error'] );
		$this->assertCount( 0, $this->mailer->sent );
	}

	public function invalid_bodies() {
		return array(
			'header injection in the subject'   => array( array( 'subject' => "Hello\r\nBcc: victim@example.org" ) ),
			'header injection in a header'      => array( array( 'headers' => array( 'List-Unsubscribe' => "<https://x>\nBcc: v@example.org" ) ) ),
			'a header that is not allowed'      => array( array( 'headers' => array( 'Bcc' => 'v@example.org' ) ) ),
			'a header longer than a line'       => array( array( 'headers' => array( 'List-Unsubscribe' => '<https://sidecar.example/u/' . str_repeat( 'a', 960 ) . '>' ) ) ),
			'a line break in the from name'     => array( array( 'from' => array( 'email' => 'farewell@club.example.org', 'name' => "Club\nBcc: v@example.org" ) ) ),
			'an invalid from address'           => array( array( 'from' => array( 'email' => 'nope', 'name' => '' ) ) ),
			'an invalid message id'             => array( array( 'message_id' => 'no-brackets@example.org' ) ),
			'no recipient'                      => array( array( 'to' => array() ) ),
			'too many recipients'               => array( array( 'to' => array_fill( 0, 11, array( 'email' => 'a@example.org', 'name' => '' ) ) ) ),
			'an empty message'                  => array( array( 'text' => '', 'html' => '' ) ),
			'an html part that is too large'    => array( array( 'html' => str_repeat( 'x', 786433 ) ) ),
			'a subject that is not a string'    => array( array( 'subject' => array( 'x' ) ) ),
		);
	}

	public function test_a_body_that_is_not_a_json_object_is_refused() {
		foreach ( array( 'not json', '[1,2]', '"a string"', "{\"subject\": \"caf\xe9\"}" ) as $raw ) {
			list( $status, $answer ) = $this->post( 'mail', $raw );
			$this->assertSame( 422, $status, $raw );
			$this->assertSame( 'invalid_request', $answer['error'] );
		}
	}

	public function test_a_bad_signature_is_refused() {
		list( $status, $answer ) = $this->post( 'mail', $this->mail_body(), array( 'signed_body' => '{"another":"body"}' ) );
		$this->assertSame( 401, $status );
		$this->assertSame( 'invalid_signature', $answer['error'] );
		$this->assertCount( 0, $this->mailer->sent );
	}

	public function test_a_stale_or_future_timestamp_is_refused() {
		foreach ( array( time() - 301, time() + 301 ) as $time ) {
			list( $status, $answer ) = $this->post( 'mail', $this->mail_body(), array( 'time' => $time ) );
			$this->assertSame( array( 401, 'invalid_signature' ), array( $status, $answer['error'] ) );
		}
		$this->assertSame( 200, $this->post( 'mail', $this->mail_body(), array( 'time' => time() - 250 ) )[0] );
	}

	public function test_another_sites_secret_is_refused() {
		list( $status, $answer ) = $this->post( 'mail', $this->mail_body(), array( 'secret' => self::OTHER_SITE_SECRET ) );
		$this->assertSame( array( 401, 'invalid_signature' ), array( $status, $answer['error'] ) );
		$this->assertCount( 0, $this->mailer->sent );
	}

	public function test_missing_signature_headers_are_refused() {
		foreach ( array( 'webhook-id', 'webhook-timestamp', 'webhook-signature' ) as $missing ) {
			list( $status, $answer ) = $this->post( 'mail', $this->mail_body(), array( 'without' => array( $missing ) ) );
			$this->assertSame( array( 401, 'invalid_signature' ), array( $status, $answer['error'] ), $missing );
		}
		$this->assertCount( 0, $this->mailer->sent );
	}

	public function test_an_unconfigured_bridge_refuses_everything() {
		update_option( Farewell_Bridge_Settings::SECRET_OPTION, '' );
		list( $status, $answer ) = $this->post( 'mail', $this->mail_body() );
		$this->assertSame( array( 503, 'not_configured' ), array( $status, $answer['error'] ) );
		$this->assertCount( 0, $this->mailer->sent );
	}

	public function test_a_refused_request_does_not_take_the_webhook_id() {
		$id = 'mail_' . str_repeat( 'd', 40 );
		$this->post( 'mail', $this->mail_body(), array( 'id' => $id, 'secret' => self::OTHER_SITE_SECRET ) );
		$this->assertSame( 'sent', $this->post( 'mail', $this->mail_body(), array( 'id' => $id ) )[1]['status'] );
	}

	public function test_a_claim_being_worked_on_answers_409_and_an_abandoned_one_is_taken_over() {
		global $wpdb;
		$id = 'mail_' . str_repeat( 'e', 40 );
		$wpdb->insert( Farewell_Bridge_Request_Log::table(), array( 'webhook_id' => $id, 'route' => 'mail', 'status_code' => 0, 'created_at' => gmdate( 'Y-m-d H:i:s' ) ) );
		list( $status, $answer ) = $this->post( 'mail', $this->mail_body(), array( 'id' => $id ) );
		$this->assertSame( array( 409, 'in_progress' ), array( $status, $answer['error'] ) );
		$this->assertCount( 0, $this->mailer->sent );

		$wpdb->update( Farewell_Bridge_Request_Log::table(), array( 'created_at' => gmdate( 'Y-m-d H:i:s', time() - 301 ) ), array( 'webhook_id' => $id ) );
		$this->assertSame( 'sent', $this->post( 'mail', $this->mail_body(), array( 'id' => $id ) )[1]['status'] );
	}

	public function test_answers_older_than_the_retention_are_pruned() {
		global $wpdb;
		$table = Farewell_Bridge_Request_Log::table();
		$wpdb->insert( $table, array( 'webhook_id' => 'mail_old', 'route' => 'mail', 'status_code' => 200, 'answer' => '{}', 'created_at' => gmdate( 'Y-m-d H:i:s', time() - 9 * DAY_IN_SECONDS ) ) );
		$wpdb->insert( $table, array( 'webhook_id' => 'mail_recent', 'route' => 'mail', 'status_code' => 200, 'answer' => '{}', 'created_at' => gmdate( 'Y-m-d H:i:s', time() - 7 * DAY_IN_SECONDS ) ) );
		$this->post( 'mail', $this->mail_body() );
		$ids = $wpdb->get_col( "SELECT webhook_id FROM {$table} ORDER BY webhook_id" ); // phpcs:ignore WordPress.DB.PreparedSQL.InterpolatedNotPrepared
		$this->assertNotContains( 'mail_old', $ids );
		$this->assertContains( 'mail_recent', $ids );
	}
}
