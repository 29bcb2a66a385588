<?php
/**
 * What the sidecar → bridge routes (/mail, /coupons) take as a signature: only one made with a
 * usable secret, for that route (docs/PROTOCOL.md, "Signing a request").
 *
 * The attack these refuse: a FAREWELL_SECRET that does not decode (a "whsec_<paste here>"
 * placeholder, a bare "whsec_", a base64url form) used to become an empty HMAC key, so anyone
 * could sign requests to /mail (an open relay with any From) and /coupons (90 %-off coupons).
 */
class RestSigningTest extends Farewell_Rest_Test_Case {

	/**
	 * Secrets that break the rule, as they end up in wp-config.php.
	 *
	 * @return array
	 */
	public function unusable_secrets() {
		return array(
			'a placeholder'       => array( 'whsec_<paste here>' ),
			'a bare prefix'       => array( 'whsec_' ),
			'a base64url form'    => array( 'whsec_' . rtrim( strtr( base64_encode( str_repeat( "\xfb\xff", 16 ) ), '+/', '-_' ), '=' ) ), // phpcs:ignore WordPress.PHP.DiscouragedPHPFunctions.obfuscation_base64_encode
			'a short secret'      => array( 'whsec_' . base64_encode( 'sixteen bytes!!!' ) ), // phpcs:ignore WordPress.PHP.DiscouragedPHPFunctions.obfuscation_base64_encode
		);
	}

	/**
	 * Headers an attacker makes with the key the bridge used to take from the secret (empty when
	 * it does not decode, the few bytes of a short one), in both schemes, for POST /farewell/v1/$route.
	 */
	private function forged_headers( $secret, $route, $raw ) {
		$key       = base64_decode( substr( $secret, 6 ), true ); // phpcs:ignore WordPress.PHP.DiscouragedPHPFunctions.obfuscation_base64_decode -- as the bridge used to decode it.
		$key       = false === $key ? '' : $key;
		$id        = 'attack_' . bin2hex( random_bytes( 8 ) );
		$timestamp = time();
		$v1        = 'v1,' . base64_encode( hash_hmac( 'sha256', "$id.$timestamp.$raw", $key, true ) ); // phpcs:ignore WordPress.PHP.DiscouragedPHPFunctions.obfuscation_base64_encode
		$fw2       = 'fw2,' . base64_encode( hash_hmac( 'sha256', "$id.$timestamp.POST /farewell/v1/$route\n$raw", $key, true ) ); // phpcs:ignore WordPress.PHP.DiscouragedPHPFunctions.obfuscation_base64_encode
		return array(
			'webhook-id'        => $id,
			'webhook-timestamp' => (string) $timestamp,
			'webhook-signature' => "$v1 $fw2",
		);
	}

	/**
	 * The attack on both routes: refused with 503 (a misconfiguration, not a forgery), nothing sent
	 * or created.
	 */
	private function assert_both_routes_refuse_requests_signed_with( $secret, $error ) {
		$coupons = $this->coupon_count();
		$product = farewell_test_mepr_product( 'Or', '29.00' );
		$bodies  = array(
			'mail'    => wp_json_encode( $this->mail_body( array( 'from' => array( 'email' => 'ceo@bank.example', 'name' => 'CEO' ) ) ) ),
			'coupons' => wp_json_encode( $this->coupon_body( 'memberpress', $product, array( 'discount' => array( 'type' => 'percent', 'percent' => 90 ) ) ) ),
		);
		foreach ( $bodies as $route => $raw ) {
			list( $status, $answer ) = $this->post( $route, $raw, array( 'headers' => $this->forged_headers( $secret, $route, $raw ) ) );
			$this->assertSame( array( 503, $error ), array( $status, isset( $answer['error'] ) ? $answer['error'] : $answer ), $route );
		}
		$this->assertCount( 0, $this->mailer->sent );
		$this->assertSame( $coupons, $this->coupon_count() );
	}

	/** MemberPress coupons in the database (other tests' stay). */
	private function coupon_count() {
		return count( get_posts( array( 'post_type' => 'memberpresscoupon', 'post_status' => 'any', 'numberposts' => -1, 'fields' => 'ids' ) ) );
	}

	/**
	 * @dataProvider unusable_secrets
	 * @runInSeparateProcess
	 * @preserveGlobalState disabled
	 */
	public function test_a_farewell_secret_constant_that_breaks_the_rule_signs_nothing_and_lets_nothing_in( $secret ) {
		define( 'FAREWELL_SECRET', $secret );
		$this->assert_both_routes_refuse_requests_signed_with( $secret, 'invalid_secret' );
		// Nor is a request signed with the secret's text taken for anything: there is no key.
		list( $status ) = $this->post( 'mail', $this->mail_body(), array( 'secret' => self::SECRET ) );
		$this->assertSame( 503, $status );
		$this->assertFalse( Farewell_Bridge_Settings::is_configured() );
	}

	/**
	 * @dataProvider unusable_secrets
	 */
	public function test_an_option_or_a_filter_that_breaks_the_rule_is_refused_the_same_way( $secret ) {
		// What a filter on the option (or a direct database write, past the form's check) returns.
		$this->add_filter(
			'pre_option_' . Farewell_Bridge_Settings::SECRET_OPTION,
			static function () use ( $secret ) {
				return $secret;
			}
		);
		$this->assert_both_routes_refuse_requests_signed_with( $secret, 'invalid_secret' );
	}

	public function test_a_request_signed_for_one_route_is_refused_by_the_other() {
		$coupons = $this->coupon_count();
		$product = farewell_test_mepr_product( 'Or', '29.00' );
		$coupon  = $this->coupon_body( 'memberpress', $product );
		list( $status, $answer ) = $this->post( 'coupons', $coupon, array( 'signed_for' => 'mail' ) );
		$this->assertSame( array( 401, 'invalid_signature', 'fw2' ), array( $status, $answer['error'], $answer['signature_scheme'] ) );
		list( $status, $answer ) = $this->post( 'mail', $this->mail_body(), array( 'signed_for' => 'coupons' ) );
		$this->assertSame( array( 401, 'invalid_signature' ), array( $status, $answer['error'] ) );
		$this->assertCount( 0, $this->mailer->sent );
		$this->assertSame( $coupons, $this->coupon_count() );
		// Signed for itself, each goes through.
		$this->assertSame( 201, $this->post( 'coupons', $coupon )[0] );
		$this->assertSame( 200, $this->post( 'mail', $this->mail_body() )[0] );
	}

	public function test_the_signature_covers_the_registered_route_whatever_the_case_of_the_path_asked_for() {
		// WordPress matches routes case-insensitively; the signature is checked against the route itself.
		$raw     = wp_json_encode( $this->mail_body() );
		$request = new WP_REST_Request( 'POST', '/FAREWELL/V1/MAIL' );
		$request->set_header( 'content-type', 'application/json' );
		$request->set_body( $raw );
		foreach ( ( new Farewell_Bridge_Signer( self::SECRET ) )->headers( 'mail_case', time(), $raw, Farewell_Bridge_Signer::scope( 'POST', '/farewell/v1/mail' ) ) as $name => $value ) {
			$request->set_header( $name, $value );
		}
		$this->assertSame( 200, rest_get_server()->dispatch( $request )->get_status() );
	}

	public function test_a_sidecar_signing_with_plain_standard_webhooks_is_told_to_update() {
		list( $status, $answer ) = $this->post( 'mail', $this->mail_body(), array( 'signed_for' => null ) );
		$this->assertSame( array( 426, 'signature_scheme_outdated' ), array( $status, $answer['error'] ) );
		$this->assertStringContainsString( 'update the Farewell sidecar', $answer['message'] );
		$this->assertCount( 0, $this->mailer->sent );
		// A made-up Standard Webhooks signature is not "outdated": a plain refusal.
		$forged = array(
			'webhook-id'        => 'mail_forged',
			'webhook-timestamp' => (string) time(),
			'webhook-signature' => 'v1,' . str_repeat( 'A', 43 ) . '=',
		);
		list( $status, $answer ) = $this->post( 'mail', $this->mail_body(), array( 'headers' => $forged ) );
		$this->assertSame( array( 401, 'invalid_signature' ), array( $status, $answer['error'] ) );
	}
}
