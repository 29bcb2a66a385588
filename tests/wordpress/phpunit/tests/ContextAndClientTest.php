<?php
/**
 * Who initiated an event; how the client reads the sidecar's answers; value formats.
 */
class ContextAndClientTest extends Farewell_Test_Case {

	public function test_initiated_by_rules() {
		$this->assertSame( 'system', Farewell_Bridge_Context::decide( true, 0, 7 ) );
		$this->assertSame( 'system', Farewell_Bridge_Context::decide( true, 7, 7 ) );
		$this->assertSame( 'member', Farewell_Bridge_Context::decide( false, 7, 7 ) );
		$this->assertSame( 'admin', Farewell_Bridge_Context::decide( false, 1, 7 ) );
		$this->assertSame( 'gateway', Farewell_Bridge_Context::decide( false, 0, 7 ) );
	}

	public function test_command_line_runs_count_as_system() {
		$this->assertSame( 'system', Farewell_Bridge_Context::initiated_by( 7 ) );
	}

	/** @return array[] */
	public function answers() {
		return array(
			array( 202, Farewell_Bridge_Client::DELIVERED ),
			array( 200, Farewell_Bridge_Client::DELIVERED ),
			array( 408, Farewell_Bridge_Client::RETRY ),
			array( 429, Farewell_Bridge_Client::RETRY ),
			array( 500, Farewell_Bridge_Client::RETRY ),
			array( 502, Farewell_Bridge_Client::RETRY ),
			array( 400, Farewell_Bridge_Client::PERMANENT ),
			array( 401, Farewell_Bridge_Client::PERMANENT ),
			array( 403, Farewell_Bridge_Client::PERMANENT ),
			array( 404, Farewell_Bridge_Client::PERMANENT ),
			array( 410, Farewell_Bridge_Client::GONE ),
			array( 415, Farewell_Bridge_Client::PERMANENT ),
		);
	}

	/**
	 * @dataProvider answers
	 */
	public function test_status_codes_map_to_what_the_outbox_does( $status, $kind ) {
		$result = Farewell_Bridge_Client::interpret(
			array(
				'response' => array( 'code' => $status ),
				'body'     => '{}',
				'headers'  => array(),
			)
		);
		$this->assertSame( $kind, $result['kind'] );
		if ( Farewell_Bridge_Client::DELIVERED !== $kind ) {
			$this->assertNotSame( '', $result['message'] );
		}
	}

	public function test_formats() {
		$this->assertSame( '29.00', Farewell_Bridge_Event_Factory::amount( 29 ) );
		$this->assertSame( '9.99', Farewell_Bridge_Event_Factory::amount( '9.9900' ) );
		$this->assertSame( '0.1234', Farewell_Bridge_Event_Factory::amount( '0.1234' ) );
		$this->assertNull( Farewell_Bridge_Event_Factory::amount( '' ) );
		$this->assertSame( '2026-12-03T09:00:00Z', Farewell_Bridge_Event_Factory::rfc3339( '2026-12-03 09:00:00' ) );
		$this->assertSame( '2026-12-03T08:00:00Z', Farewell_Bridge_Event_Factory::rfc3339( '2026-12-03T09:00:00+01:00' ) );
		$this->assertNull( Farewell_Bridge_Event_Factory::rfc3339( '0000-00-00 00:00:00' ) );
		$this->assertSame( 'month', Farewell_Bridge_Event_Factory::interval( 'Month' ) );
		$this->assertSame( 'year', Farewell_Bridge_Event_Factory::interval( 'years' ) );
		$this->assertNull( Farewell_Bridge_Event_Factory::interval( 'fortnight' ) );
		$this->assertSame( 'EUR', Farewell_Bridge_Event_Factory::currency( 'eur' ) );
		$this->assertNull( Farewell_Bridge_Event_Factory::currency( '€' ) );
	}

	public function test_the_configured_sidecar_host_and_port_are_allowed_for_safe_requests_only() {
		update_option(
			Farewell_Bridge_Settings::OPTION,
			array(
				'sidecar_url' => 'http://10.0.0.5:8000',
				'site_id'     => 'site_test',
			)
		);
		$this->assertNotFalse( wp_http_validate_url( 'http://10.0.0.5:8000/v1/sites/site_test/events' ) );
		$this->assertFalse( wp_http_validate_url( 'http://10.0.0.6:8000/' ), 'other private hosts stay refused' );
		$this->assertFalse( wp_http_validate_url( 'http://10.0.0.5:9999/' ), 'other ports stay refused' );
	}

	public function test_the_cron_event_runs_every_minute() {
		$this->assertNotFalse( wp_next_scheduled( Farewell_Bridge_Dispatcher::CRON_HOOK ) );
		$this->assertSame( Farewell_Bridge_Dispatcher::CRON_SCHEDULE, wp_get_schedule( Farewell_Bridge_Dispatcher::CRON_HOOK ) );
		$this->assertSame( 60, wp_get_schedules()[ Farewell_Bridge_Dispatcher::CRON_SCHEDULE ]['interval'] );
	}
}
