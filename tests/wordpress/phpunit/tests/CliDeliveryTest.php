<?php
/**
 * Delivery where no person waits (PHP's command line: in the process, never a loopback), and the
 * loopback hand-over noticing when loopbacks cannot reach the site (then cron delivers, Site Health
 * says so).
 */
class CliDeliveryTest extends Farewell_Test_Case {

	/** @var resource|null A listening socket standing in for the web server. */
	private $server = null;

	/** @var string host:port where admin-ajax.php (the loopback's target) is, '' for the site's own. */
	private $address = '';

	protected function setUp(): void {
		parent::setUp();
		delete_option( Farewell_Bridge_Dispatcher::LOOPBACK_OPTION );
		// On time, whenever this test runs in the suite: "delivery is running" then only depends on loopbacks.
		Farewell_Bridge_Dispatcher::unschedule();
		Farewell_Bridge_Dispatcher::ensure_scheduled();
		$this->add_filter(
			'admin_url',
			function ( $url ) {
				return '' === $this->address ? $url : preg_replace( '#^https?://[^/]+#', 'http://' . $this->address, $url );
			}
		);
	}

	protected function tearDown(): void {
		if ( is_resource( $this->server ) ) {
			fclose( $this->server );
		}
		delete_option( Farewell_Bridge_Dispatcher::LOOPBACK_OPTION );
		parent::tearDown();
	}

	/** Points admin-ajax.php (the loopback's target) at $address. */
	private function loopback_to( $address ) {
		$this->address = $address;
	}

	/** A listening socket; its address. */
	private function listen() {
		$this->server = stream_socket_server( 'tcp://127.0.0.1:0', $errno, $errstr );
		$this->assertNotFalse( $this->server, $errstr );
		return stream_socket_get_name( $this->server, false );
	}

	/** Whether a loopback connection arrives at the listening socket within a short wait. */
	private function loopback_arrived() {
		$conn = @stream_socket_accept( $this->server, 0.3 );
		if ( false === $conn ) {
			return false;
		}
		fclose( $conn );
		return true;
	}

	/** An address where nothing listens. */
	private function closed_address() {
		$socket  = stream_socket_server( 'tcp://127.0.0.1:0' );
		$address = stream_socket_get_name( $socket, false );
		fclose( $socket );
		return $address;
	}

	public function test_the_command_line_delivers_every_row_of_the_process_itself_before_it_exits() {
		$this->add_filter( 'farewell_bridge_in_cli', '__return_true' );
		$this->loopback_to( $this->listen() );
		$this->fake_sidecar( array_fill( 0, 7, 202 ) );
		for ( $i = 0; $i < 7; $i++ ) {
			$this->queue_event( 'cli' . $i ); // More than a web request's SHUTDOWN_BATCH.
		}
		Farewell_Bridge_Dispatcher::action_shutdown();
		$this->assertCount( 1, $this->requests, 'every row of the process, sent by the process in one batch' );
		$this->assertCount( 7, json_decode( $this->requests[0]['body'], true )['events'] );
		$this->assertSame( array( 'delivered' ), array_values( array_unique( wp_list_pluck( $this->rows(), 'status' ) ) ) );
		$this->assertLessThanOrEqual( Farewell_Bridge_Dispatcher::BATCH_TIMEOUT, $this->requests[0]['timeout'] );
		$this->assertFalse( $this->loopback_arrived(), 'never a loopback from the command line' );
		$this->assertSame( array(), Farewell_Bridge_Dispatcher::remembered() );
	}

	public function test_in_the_command_line_a_temporary_failure_leaves_the_rest_to_cron() {
		$this->add_filter( 'farewell_bridge_in_cli', '__return_true' );
		$this->fake_sidecar( array( new WP_Error( 'http_request_failed', 'cURL error 7: Failed to connect to 127.0.0.1 port 9: Connection refused' ) ) );
		$this->queue_event( 'a' );
		$this->queue_event( 'b' );
		Farewell_Bridge_Dispatcher::action_shutdown();
		$this->assertCount( 1, $this->requests );
		$this->assertSame( array( '1', '1' ), wp_list_pluck( $this->rows(), 'attempts' ), 'both were in the batch that failed' );
		$this->assertSame( array( 'pending', 'pending' ), wp_list_pluck( $this->rows(), 'status' ) );
	}

	public function test_a_circuit_set_by_a_clock_that_went_back_does_not_stay_open() {
		update_option( Farewell_Bridge_Dispatcher::CIRCUIT_OPTION, time() + Farewell_Bridge_Dispatcher::CIRCUIT_SECONDS, false );
		$this->assertTrue( Farewell_Bridge_Dispatcher::circuit_open() );
		update_option( Farewell_Bridge_Dispatcher::CIRCUIT_OPTION, time() + DAY_IN_SECONDS, false ); // Written a day ahead.
		$this->assertFalse( Farewell_Bridge_Dispatcher::circuit_open() );
		$this->add_filter( 'farewell_bridge_in_cli', '__return_true' );
		$this->fake_sidecar( array( 202 ) );
		$this->queue_event( 'after-ntp' );
		Farewell_Bridge_Dispatcher::action_shutdown();
		$this->assertCount( 1, $this->requests );
	}

	public function test_a_loopback_that_cannot_connect_is_noticed_left_to_cron_and_tried_again_later() {
		$this->add_filter( 'farewell_bridge_in_cli', '__return_false' );
		$this->fake_sidecar( array( 202, 202, 202 ) );
		$this->loopback_to( $this->closed_address() );
		$this->queue_event( 'a' );
		Farewell_Bridge_Dispatcher::action_shutdown();
		$this->assertStringContainsString( 'could not connect', Farewell_Bridge_Dispatcher::loopback_problem() );
		$this->assertSame( 'recommended', Farewell_Bridge_Site_Health::test_delivery()['status'] );
		$this->assertStringContainsString( 'WP-Cron', Farewell_Bridge_Site_Health::test_delivery()['description'] );

		// The next cancellations do not try: cron delivers them.
		$this->loopback_to( $this->listen() );
		$this->queue_event( 'b' );
		Farewell_Bridge_Dispatcher::action_shutdown();
		$this->assertFalse( $this->loopback_arrived() );
		$this->assertSame( array(), $this->requests );

		// LOOPBACK_RETRY_SECONDS later one hand-over is tried again; its handler clears the problem.
		$state          = Farewell_Bridge_Dispatcher::loopback_state();
		$state['tried'] = time() - Farewell_Bridge_Dispatcher::LOOPBACK_RETRY_SECONDS;
		update_option( Farewell_Bridge_Dispatcher::LOOPBACK_OPTION, $state, false );
		$row = $this->queue_event( 'c' );
		Farewell_Bridge_Dispatcher::action_shutdown();
		$this->assertTrue( $this->loopback_arrived() );
		$this->assertNotSame( '', Farewell_Bridge_Dispatcher::loopback_problem(), 'still a problem until a handler runs' );
		$_POST = array(
			'ids'   => (string) $row['id'],
			'token' => Farewell_Bridge_Dispatcher::loopback_token( (string) $row['id'] ),
		);
		try {
			Farewell_Bridge_Dispatcher::action_wp_ajax_farewell_bridge_deliver();
		} catch ( Farewell_Test_Die $e ) {
			$this->assertSame( 200, $e->status );
		} finally {
			$_POST = array();
		}
		$this->assertSame( '', Farewell_Bridge_Dispatcher::loopback_problem() );
		$this->assertSame( 'good', Farewell_Bridge_Site_Health::test_delivery()['status'] );
	}

	public function test_a_hand_over_no_handler_ever_answers_is_noticed() {
		$this->add_filter( 'farewell_bridge_in_cli', '__return_false' );
		$this->loopback_to( $this->listen() ); // Accepts, like a host that answers 401 or blocks the request.
		$this->queue_event( 'a' );
		Farewell_Bridge_Dispatcher::action_shutdown();
		$this->assertTrue( $this->loopback_arrived() );
		$this->assertSame( '', Farewell_Bridge_Dispatcher::loopback_problem(), 'a handler may still come' );

		$state         = Farewell_Bridge_Dispatcher::loopback_state();
		$state['sent'] = time() - Farewell_Bridge_Dispatcher::LOOPBACK_GRACE_SECONDS - 1;
		update_option( Farewell_Bridge_Dispatcher::LOOPBACK_OPTION, $state, false );
		$this->assertStringContainsString( 'never arrived', Farewell_Bridge_Dispatcher::loopback_problem() );
		$this->assertFalse( Farewell_Bridge_Dispatcher::loopback_worth_trying() );
		$this->assertSame( 'recommended', Farewell_Bridge_Site_Health::test_delivery()['status'] );
	}
}
