<?php
/**
 * What `wp farewell status` reports (Farewell_Bridge_Cli::report(), also its --format=json), for
 * settings saved on the settings page and for a bridge not configured yet. Never the secret.
 */
class CliReportTest extends Farewell_Test_Case {

	public function test_settings_from_the_settings_page_are_named_as_such_and_the_secret_never_appears() {
		$this->fake_sidecar( array( array( 200, '{"site_name":"Club"}' ) ) );
		$row    = $this->queue_event( 'waiting' );
		$report = Farewell_Bridge_Cli::report();
		$this->assertTrue( $report['configured'] );
		$this->assertSame(
			array(
				'sidecar_url' => 'option',
				'site_id'     => 'option',
				'secret'      => 'option',
			),
			$report['sources']
		);
		$this->assertTrue( $report['ping']['ok'] );
		$this->assertSame( 'Connected: the sidecar knows this site as "Club".', $report['ping']['message'] );
		$this->assertSame( 'ping', basename( $this->requests[0]['url'] ) );
		$this->assertSame( 1, $report['outbox']['pending'] );
		$this->assertSame( (int) $row['id'], $report['oldest_pending']['id'] );
		$this->assertNull( $report['last_error'] );
		$json = wp_json_encode( $report );
		$this->assertStringNotContainsString( self::SECRET, $json );
		$this->assertStringNotContainsString( substr( self::SECRET, 6, 12 ), $json );
	}

	public function test_a_bridge_not_configured_says_so_and_pings_nothing() {
		update_option( Farewell_Bridge_Settings::SECRET_OPTION, '' );
		update_option( Farewell_Bridge_Settings::OPTION, array( 'sidecar_url' => '', 'site_id' => '', 'delete_data' => false ) );
		$this->fake_sidecar( array( 202 ) );
		$report = Farewell_Bridge_Cli::report();
		$this->assertFalse( $report['configured'] );
		$this->assertSame( array( 'sidecar_url' => 'none', 'site_id' => 'none', 'secret' => 'none' ), $report['sources'] );
		$this->assertFalse( $report['ping']['ok'] );
		$this->assertSame( 'not_configured', $report['ping']['kind'] );
		$this->assertSame( array(), $this->requests );
	}
}
