<?php
/**
 * Standard Webhooks signatures: the test vector of docs/PROTOCOL.md, verification rules.
 */
class SignerTest extends Farewell_Test_Case {

	const VECTOR_ID        = 'msg_p5jXN8AQM9LWM0D4loKWxJek';
	const VECTOR_TIMESTAMP = 1614265330;
	const VECTOR_BODY      = '{"test": 2432232314}';
	const VECTOR_SIGNATURE = 'v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=';

	public function test_signs_the_protocol_test_vector() {
		$signer = new Farewell_Bridge_Signer( self::SECRET );
		$this->assertSame( self::VECTOR_SIGNATURE, $signer->sign( self::VECTOR_ID, self::VECTOR_TIMESTAMP, self::VECTOR_BODY ) );
	}

	public function test_headers_carry_id_timestamp_and_signature() {
		$headers = ( new Farewell_Bridge_Signer( self::SECRET ) )->headers( self::VECTOR_ID, self::VECTOR_TIMESTAMP, self::VECTOR_BODY );
		$this->assertSame(
			array(
				'webhook-id'        => self::VECTOR_ID,
				'webhook-timestamp' => '1614265330',
				'webhook-signature' => self::VECTOR_SIGNATURE,
			),
			$headers
		);
	}

	public function test_verifies_the_vector_within_tolerance_and_in_a_list() {
		$signer = new Farewell_Bridge_Signer( self::SECRET );
		$this->assertTrue( $signer->verify( self::VECTOR_ID, self::VECTOR_TIMESTAMP, self::VECTOR_BODY, self::VECTOR_SIGNATURE, self::VECTOR_TIMESTAMP + 299 ) );
		$this->assertTrue( $signer->verify( self::VECTOR_ID, self::VECTOR_TIMESTAMP, self::VECTOR_BODY, 'v1,bm9wZQ== ' . self::VECTOR_SIGNATURE, self::VECTOR_TIMESTAMP ) );
	}

	public function test_refuses_tampering_stale_and_future_timestamps_and_other_secrets() {
		$signer = new Farewell_Bridge_Signer( self::SECRET );
		$this->assertFalse( $signer->verify( self::VECTOR_ID, self::VECTOR_TIMESTAMP, '{"test": 2432232315}', self::VECTOR_SIGNATURE, self::VECTOR_TIMESTAMP ) );
		$this->assertFalse( $signer->verify( 'msg_other', self::VECTOR_TIMESTAMP, self::VECTOR_BODY, self::VECTOR_SIGNATURE, self::VECTOR_TIMESTAMP ) );
		$this->assertFalse( $signer->verify( self::VECTOR_ID, self::VECTOR_TIMESTAMP, self::VECTOR_BODY, self::VECTOR_SIGNATURE, self::VECTOR_TIMESTAMP + 301 ) );
		$this->assertFalse( $signer->verify( self::VECTOR_ID, self::VECTOR_TIMESTAMP, self::VECTOR_BODY, self::VECTOR_SIGNATURE, self::VECTOR_TIMESTAMP - 301 ) );
		$other = new Farewell_Bridge_Signer( 'whsec_' . base64_encode( str_repeat( 'k', 32 ) ) );
		$this->assertFalse( $other->verify( self::VECTOR_ID, self::VECTOR_TIMESTAMP, self::VECTOR_BODY, self::VECTOR_SIGNATURE, self::VECTOR_TIMESTAMP ) );
	}

	/** The route-bound vector of docs/PROTOCOL.md (tests/test_signing.py checks the same). */
	public function test_signs_the_route_bound_protocol_vector() {
		$scope = Farewell_Bridge_Signer::scope( 'post', '/v1/sites/site_3kq9x2m7c4ha/privacy/erase?ignored=1' );
		$this->assertSame( 'POST /v1/sites/site_3kq9x2m7c4ha/privacy/erase', $scope );
		$this->assertSame( 'fw2,W8i48MsyB67h6uCnhzksksYMPyOYSn9/ekX2nZWQTaM=', ( new Farewell_Bridge_Signer( self::SECRET ) )->sign( self::VECTOR_ID, self::VECTOR_TIMESTAMP, '{"email":"ana@example.org"}', $scope ) );
	}

	public function test_a_route_bound_signature_verifies_for_its_route_only() {
		$signer = new Farewell_Bridge_Signer( self::SECRET );
		$mail   = Farewell_Bridge_Signer::scope( 'POST', '/farewell/v1/mail' );
		$header = $signer->sign( 'm1', self::VECTOR_TIMESTAMP, '{}', $mail );
		$this->assertTrue( $signer->verify( 'm1', self::VECTOR_TIMESTAMP, '{}', $header, self::VECTOR_TIMESTAMP, 300, $mail ) );
		$this->assertFalse( $signer->verify( 'm1', self::VECTOR_TIMESTAMP, '{}', $header, self::VECTOR_TIMESTAMP, 300, Farewell_Bridge_Signer::scope( 'POST', '/farewell/v1/coupons' ) ) );
		$this->assertFalse( $signer->verify( 'm1', self::VECTOR_TIMESTAMP, '{}', $header, self::VECTOR_TIMESTAMP, 300, Farewell_Bridge_Signer::scope( 'GET', '/farewell/v1/mail' ) ) );
		$this->assertFalse( $signer->verify( 'm1', self::VECTOR_TIMESTAMP, '{}', $header, self::VECTOR_TIMESTAMP ), 'nor is it a Standard Webhooks signature' );
		$this->assertFalse( $signer->verify( self::VECTOR_ID, self::VECTOR_TIMESTAMP, self::VECTOR_BODY, self::VECTOR_SIGNATURE, self::VECTOR_TIMESTAMP, 300, $mail ), 'nor a Standard Webhooks one a bound one' );
	}

	/**
	 * One rule for every secret (tests/test_signing.py has the same cases for the sidecar).
	 *
	 * @return array
	 */
	public function secrets_and_problems() {
		// phpcs:disable WordPress.PHP.DiscouragedPHPFunctions.obfuscation_base64_encode
		return array(
			'none'             => array( '', Farewell_Bridge_Signer::MISSING ),
			'no prefix'        => array( 'MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw', Farewell_Bridge_Signer::NO_PREFIX ),
			'a bare prefix'    => array( 'whsec_', Farewell_Bridge_Signer::TOO_SHORT ),
			'a placeholder'    => array( 'whsec_<paste here>', Farewell_Bridge_Signer::NOT_BASE64 ),
			'short'            => array( 'whsec_' . base64_encode( 'short key' ), Farewell_Bridge_Signer::TOO_SHORT ),
			'base64url'        => array( 'whsec_' . strtr( base64_encode( str_repeat( "ûÿ", 16 ) ), '+/', '-_' ), Farewell_Bridge_Signer::BASE64URL ),
			'a space inside'   => array( 'whsec_ ' . base64_encode( str_repeat( 'k', 32 ) ), Farewell_Bridge_Signer::NOT_BASE64 ),
			'a character lost' => array( 'whsec_' . substr( base64_encode( str_repeat( 'k', 32 ) ), 0, -3 ), Farewell_Bridge_Signer::NOT_BASE64 ),
			'too long'         => array( 'whsec_' . base64_encode( str_repeat( 'k', 300 ) ), Farewell_Bridge_Signer::TOO_LONG ),
			'the vector'       => array( self::SECRET, '' ),
			'unpadded'         => array( rtrim( 'whsec_' . base64_encode( str_repeat( 'k', 32 ) ), '=' ), '' ),
		);
		// phpcs:enable
	}

	/**
	 * @dataProvider secrets_and_problems
	 */
	public function test_a_secret_that_breaks_the_rule_neither_signs_nor_verifies( $secret, $problem ) {
		$this->assertSame( $problem, Farewell_Bridge_Signer::problem( $secret ) );
		$this->assertSame( '' === $problem, Farewell_Bridge_Settings::is_valid_secret( $secret ) );
		$signer = new Farewell_Bridge_Signer( $secret );
		$this->assertSame( '' === $problem, $signer->is_usable() );
		if ( '' === $problem ) {
			return;
		}
		$this->assertNotSame( '', Farewell_Bridge_Signer::explain( $problem ) );
		$empty_key = 'v1,' . base64_encode( hash_hmac( 'sha256', 'm1.' . self::VECTOR_TIMESTAMP . '.{}', '', true ) ); // phpcs:ignore WordPress.PHP.DiscouragedPHPFunctions.obfuscation_base64_encode
		$this->assertFalse( $signer->verify( 'm1', self::VECTOR_TIMESTAMP, '{}', $empty_key, self::VECTOR_TIMESTAMP ) );
		$this->expectException( DomainException::class );
		$signer->sign( 'm1', self::VECTOR_TIMESTAMP, '{}' );
	}

	public function test_an_empty_body_signs_id_and_timestamp_only() {
		$key      = base64_decode( substr( self::SECRET, 6 ) );
		$expected = 'v1,' . base64_encode( hash_hmac( 'sha256', 'ping_1.1700000000.', $key, true ) );
		$this->assertSame( $expected, ( new Farewell_Bridge_Signer( self::SECRET ) )->sign( 'ping_1', 1700000000, '' ) );
	}
}
