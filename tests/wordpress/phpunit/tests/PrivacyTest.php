<?php
/**
 * The personal-data exporter and eraser ask the sidecar, signed.
 */
class PrivacyTest extends Farewell_Test_Case {

	public function test_exporter_and_eraser_are_registered() {
		$exporters = apply_filters( 'wp_privacy_personal_data_exporters', array() );
		$erasers   = apply_filters( 'wp_privacy_personal_data_erasers', array() );
		$this->assertArrayHasKey( 'farewell-bridge', $exporters );
		$this->assertArrayHasKey( 'farewell-bridge', $erasers );
		$this->assertIsCallable( $exporters['farewell-bridge']['callback'] );
		$this->assertIsCallable( $erasers['farewell-bridge']['callback'] );
		$this->assertNotEmpty( $exporters['farewell-bridge']['exporter_friendly_name'] );
		$this->assertNotEmpty( $erasers['farewell-bridge']['eraser_friendly_name'] );
	}

	public function test_export_posts_the_email_signed_and_maps_groups() {
		$this->fake_sidecar(
			array(
				array(
					200,
					wp_json_encode(
						array(
							'data' => array(
								array(
									'group' => 'farewell-member',
									'label' => 'Farewell: member profile',
									'id'    => 'member-12',
									'items' => array(
										array(
											'name'  => 'Email',
											'value' => 'ana@example.org',
										),
									),
								),
							),
						)
					),
				),
			)
		);
		$result = Farewell_Bridge_Privacy::export( 'ana@example.org', 1 );
		$this->assertTrue( $result['done'] );
		$this->assertSame(
			array(
				array(
					'group_id'    => 'farewell-member',
					'group_label' => 'Farewell: member profile',
					'item_id'     => 'farewell-member-12',
					'data'        => array(
						array(
							'name'  => 'Email',
							'value' => 'ana@example.org',
						),
					),
				),
			),
			$result['data']
		);
		$request = $this->requests[0];
		$this->assertSame( 'http://127.0.0.1:9/v1/sites/site_test/privacy/export', $request['url'] );
		$this->assertSame( 'POST', $request['method'] );
		$this->assertSame( 'ana@example.org', json_decode( $request['body'], true )['email'] );
		$signer = new Farewell_Bridge_Signer( self::SECRET );
		$export = Farewell_Bridge_Signer::scope( 'POST', '/v1/sites/site_test/privacy/export' );
		$this->assertTrue( $signer->verify( $request['headers']['webhook-id'], $request['headers']['webhook-timestamp'], $request['body'], $request['headers']['webhook-signature'], null, 300, $export ) );
		// Signed for the export only: the same request is no erasure.
		$erase = Farewell_Bridge_Signer::scope( 'POST', '/v1/sites/site_test/privacy/erase' );
		$this->assertFalse( $signer->verify( $request['headers']['webhook-id'], $request['headers']['webhook-timestamp'], $request['body'], $request['headers']['webhook-signature'], null, 300, $erase ) );
	}

	public function test_erase_reports_removed_items() {
		$this->fake_sidecar( array( array( 200, '{"items_removed": 1}' ) ) );
		$result = Farewell_Bridge_Privacy::erase( 'ana@example.org', 1 );
		$this->assertTrue( $result['items_removed'] );
		$this->assertTrue( $result['done'] );
		$this->assertSame( 'http://127.0.0.1:9/v1/sites/site_test/privacy/erase', $this->requests[0]['url'] );

		$this->fake_sidecar( array( array( 200, '{"items_removed": 0}' ) ) );
		$this->assertFalse( Farewell_Bridge_Privacy::erase( 'nobody@example.org', 1 )['items_removed'] );
	}

	public function test_a_sidecar_failure_is_an_error_not_an_empty_answer() {
		$this->fake_sidecar( array( new WP_Error( 'http_request_failed', 'cURL error 7: Connection refused' ) ) );
		$this->assertInstanceOf( WP_Error::class, Farewell_Bridge_Privacy::export( 'ana@example.org', 1 ) );
		$this->assertInstanceOf( WP_Error::class, Farewell_Bridge_Privacy::erase( 'ana@example.org', 1 ) );
	}
}
