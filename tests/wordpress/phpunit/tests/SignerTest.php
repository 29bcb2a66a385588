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

	public function test_an_empty_body_signs_id_and_timestamp_only() {
		$key      = base64_decode( substr( self::SECRET, 6 ) );
		$expected = 'v1,' . base64_encode( hash_hmac( 'sha256', 'ping_1.1700000000.', $key, true ) );
		$this->assertSame( $expected, ( new Farewell_Bridge_Signer( self::SECRET ) )->sign( 'ping_1', 1700000000, '' ) );
	}
}
