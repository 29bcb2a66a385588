<?php
/**
 * What the bridge costs a member's cancel request (issue 15, bench.bridge_cost), counted in
 * queries rather than timed: the event stored as ASCII JSON (no charset check of the outbox
 * table), the delivery checks' options read in one query on `shutdown`, the loopback state
 * written only when it says something new. Each behaviour they could have broken is checked too.
 */
class RequestPathCostTest extends Farewell_Test_Case {

	/** @var string[] Queries seen by the 'query' filter while recording. */
	private $queries = array();

	/** @var resource|null A listening socket standing in for admin-ajax.php (the loopback's target). */
	private $server = null;

	protected function setUp(): void {
		parent::setUp();
		delete_option( Farewell_Bridge_Dispatcher::LOOPBACK_OPTION );
		delete_option( Farewell_Bridge_Dispatcher::BATCH_OPTION );
		$this->add_filter(
			'query',
			function ( $query ) {
				$this->queries[] = $query;
				return $query;
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

	/** The queries seen since the last call that match $pattern. */
	private function seen( $pattern ) {
		$seen          = preg_grep( $pattern, $this->queries );
		$this->queries = array();
		return array_values( $seen );
	}

	/** As at the start of a request: wpdb knows no table's charset yet. */
	private function forget_table_charsets() {
		global $wpdb;
		foreach ( array( 'table_charset', 'col_meta' ) as $name ) {
			$property = new ReflectionProperty( 'wpdb', $name );
			$property->setAccessible( true );
			$property->setValue( $wpdb, array() );
		}
	}

	/** As at the start of a request: none of the bridge's non-autoloaded options is cached. */
	private function forget_cached_options() {
		$names = array( Farewell_Bridge_Settings::SECRET_OPTION, Farewell_Bridge_Outbox::PAUSED_OPTION, Farewell_Bridge_Outbox::LAST_DELIVERY_OPTION, Farewell_Bridge_Clock::OPTION, Farewell_Bridge_Dispatcher::CIRCUIT_OPTION, Farewell_Bridge_Dispatcher::LOOPBACK_OPTION, Farewell_Bridge_Dispatcher::BATCH_OPTION );
		foreach ( $names as $name ) {
			wp_cache_delete( $name, 'options' );
		}
		$notoptions = wp_cache_get( 'notoptions', 'options' );
		if ( is_array( $notoptions ) ) {
			wp_cache_set( 'notoptions', array_diff_key( $notoptions, array_flip( $names ) ), 'options' );
		}
	}

	/** Points admin-ajax.php at a listening socket; loopbacks are handed over there. */
	private function loopbacks_to_a_socket() {
		$this->server = stream_socket_server( 'tcp://127.0.0.1:0', $errno, $errstr );
		$this->assertNotFalse( $this->server, $errstr );
		$address = stream_socket_get_name( $this->server, false );
		$this->add_filter(
			'admin_url',
			function ( $url ) use ( $address ) {
				return preg_replace( '#^https?://[^/]+#', 'http://' . $address, $url );
			}
		);
		$this->add_filter( 'farewell_bridge_in_cli', '__return_false' ); // A web request without fastcgi_finish_request(): mod_php.
	}

	/** Accepts and closes the hand-overs waiting at the socket; how many there were. */
	private function hand_overs() {
		$count = 0;
		while ( false !== ( $conn = @stream_socket_accept( $this->server, 0.2 ) ) ) { // phpcs:ignore WordPress.PHP.NoSilencedErrors.Discouraged
			fclose( $conn );
			++$count;
		}
		return $count;
	}

	/** Runs the loopback handler for a row, as admin-ajax.php would. */
	private function loopback_arrives( array $row ) {
		$_POST = array(
			'ids'   => (string) $row['id'],
			'token' => Farewell_Bridge_Dispatcher::loopback_token( (string) $row['id'] ),
		);
		try {
			Farewell_Bridge_Dispatcher::action_wp_ajax_farewell_bridge_deliver();
			$this->fail( 'the handler did not answer' );
		} catch ( Farewell_Test_Die $e ) {
			$this->assertSame( 200, $e->status );
		} finally {
			$_POST = array();
		}
	}

	/** One cancel by a member whose name is not ASCII; its row. */
	private function cancel( $marker, $first_name = 'Anaïs' ) {
		$user = $this->user( 'subscriber', $first_name );
		Farewell_Bridge_Event_Factory::record( 'memberpress', 'subscription.cancelled', $user, Farewell_Bridge_Event_Factory::subscription( array( 'id' => 'sub-' . $marker, 'plan_name' => 'Or — été' ) ), array( 'marker' => $marker ) );
		$rows = $this->rows();
		return end( $rows );
	}

	public function test_an_event_is_stored_as_ascii_json_that_reads_as_the_same_document_and_is_signed_as_sent() {
		global $wpdb;
		$this->forget_table_charsets();
		$this->queries = array();
		$row           = $this->cancel( 'ascii', 'Anaïs « Zoë » 李 🌿' );
		$this->assertSame( array(), $this->seen( '/SHOW FULL COLUMNS FROM `?' . preg_quote( Farewell_Bridge_Outbox::table(), '/' ) . '/' ), 'the outbox INSERT is ASCII: wpdb does not read the table\'s charset' );

		$this->assertMatchesRegularExpression( '/^[\x20-\x7e]+$/', $row['payload'] );
		$document = json_decode( $row['payload'], true );
		$this->assertSame( 'Anaïs « Zoë » 李 🌿', $document['member']['first_name'] );
		$this->assertSame( 'Or — été', $document['subscription']['plan_name'] );
		// The same document as the UTF-8 text: the same keys in the same order, the same values.
		$utf8 = wp_json_encode( $document, JSON_UNESCAPED_SLASHES | JSON_UNESCAPED_UNICODE );
		$this->assertSame( json_decode( $utf8, true ), $document );
		$this->assertSame( $row['payload'], Farewell_Bridge_Event_Factory::body( json_decode( $utf8, true ) ) );

		// The bytes stored are the bytes sent and signed.
		$this->fake_sidecar( array( 202 ) );
		Farewell_Bridge_Dispatcher::deliver_ids( array( (int) $row['id'] ), 3.0 );
		$this->assertCount( 1, $this->requests );
		$sent = $this->requests[0];
		$this->assertSame( $row['payload'], $sent['body'] );
		$signer = new Farewell_Bridge_Signer( self::SECRET );
		$this->assertTrue( $signer->verify( $row['webhook_id'], (int) $sent['headers']['webhook-timestamp'], $sent['body'], $sent['headers']['webhook-signature'] ) );
		$this->assertSame( 'delivered', $this->reload_status( $row ) );
	}

	public function test_an_event_whose_escapes_would_pass_the_sidecars_limit_is_kept_as_utf8() {
		$this->add_filter(
			'farewell_bridge_event',
			function ( $payload ) {
				$payload['note'] = str_repeat( 'é', 20000 ); // 40,000 bytes of UTF-8, 120,000 escaped.
				return $payload;
			}
		);
		$row = $this->cancel( 'long' );
		$this->assertLessThan( Farewell_Bridge_Event_Factory::MAX_BODY_BYTES, strlen( $row['payload'] ) );
		$this->assertSame( str_repeat( 'é', 20000 ), json_decode( $row['payload'], true )['note'] );
	}

	public function test_the_shutdown_reads_the_delivery_checks_options_in_one_query() {
		global $wpdb;
		$this->loopbacks_to_a_socket();
		$this->cancel( 'one-query' );
		$this->forget_cached_options();
		$this->queries = array();
		Farewell_Bridge_Dispatcher::action_shutdown();
		$this->assertSame( 1, $this->hand_overs(), 'handed over to a loopback, as before' );
		$reads = $this->seen( '/^\s*SELECT .* FROM `?' . preg_quote( $wpdb->options, '/' ) . '\b/i' );
		$this->assertCount( 1, $reads, implode( "\n", $reads ) );

		// Paused, the circuit open: still read in that one query, and nothing is handed over.
		foreach ( array( Farewell_Bridge_Dispatcher::CIRCUIT_OPTION => time() + 10, Farewell_Bridge_Outbox::PAUSED_OPTION => array( 'since' => time(), 'reason' => 'gone' ) ) as $name => $value ) {
			update_option( $name, $value, false );
			$this->cancel( 'closed-' . $name );
			$this->forget_cached_options();
			$this->queries = array();
			Farewell_Bridge_Dispatcher::action_shutdown();
			$this->assertCount( 1, $this->seen( '/^\s*SELECT .* FROM `?' . preg_quote( $wpdb->options, '/' ) . '\b/i' ) );
			$this->assertSame( 0, $this->hand_overs(), $name . ' leaves the row to cron' );
			delete_option( $name );
		}
		$this->assertSame( array( 'pending', 'pending', 'pending' ), wp_list_pluck( $this->rows(), 'status' ), 'nothing lost: cron delivers them' );
	}

	public function test_the_loopback_state_is_written_when_it_changes_not_on_every_cancel() {
		$this->loopbacks_to_a_socket();
		$this->fake_sidecar( array( 202 ) );
		$writes = function () {
			return count( $this->seen( '/^\s*(UPDATE|INSERT).*' . Farewell_Bridge_Dispatcher::LOOPBACK_OPTION . '/is' ) );
		};

		// The first hand-over is awaited, its handler's arrival recorded: two writes.
		$row = $this->cancel( 'first' );
		Farewell_Bridge_Dispatcher::action_shutdown();
		$this->assertSame( 1, $this->hand_overs() );
		$this->assertGreaterThan( 0, Farewell_Bridge_Dispatcher::loopback_state()['sent'] );
		$this->loopback_arrives( $row );
		$this->assertSame( 0, Farewell_Bridge_Dispatcher::loopback_state()['sent'] );
		$this->assertGreaterThan( 0, Farewell_Bridge_Dispatcher::loopback_state()['ok'] );
		$this->assertSame( 2, $writes() );

		// Five more cancels within the minute, each handed over and arriving: nothing new to write.
		for ( $i = 0; $i < 5; $i++ ) {
			$row = $this->cancel( 'more-' . $i );
			Farewell_Bridge_Dispatcher::action_shutdown();
			$this->assertSame( 1, $this->hand_overs() );
			$this->loopback_arrives( $row );
		}
		$this->assertSame( 0, $writes() );
		$this->assertSame( 6, count( wp_list_filter( $this->rows(), array( 'status' => 'delivered' ) ) ) );

		// A minute after the last arrival, a hand-over is awaited again and its arrival recorded.
		$state       = Farewell_Bridge_Dispatcher::loopback_state();
		$state['ok'] = time() - MINUTE_IN_SECONDS;
		update_option( Farewell_Bridge_Dispatcher::LOOPBACK_OPTION, $state, false );
		$this->queries = array();
		$row           = $this->cancel( 'a-minute-later' );
		Farewell_Bridge_Dispatcher::action_shutdown();
		$this->assertSame( 1, $this->hand_overs() );
		$sent = Farewell_Bridge_Dispatcher::loopback_state()['sent'];
		$this->assertGreaterThan( 0, $sent );
		$this->assertSame( 1, $writes() );

		// Never answered (the host now blocks loopbacks): noticed after the grace period, as before.
		$state         = Farewell_Bridge_Dispatcher::loopback_state();
		$state['sent'] = time() - Farewell_Bridge_Dispatcher::LOOPBACK_GRACE_SECONDS - 1;
		update_option( Farewell_Bridge_Dispatcher::LOOPBACK_OPTION, $state, false );
		$this->assertStringContainsString( 'never arrived', Farewell_Bridge_Dispatcher::loopback_problem() );

		// A hand-over that cannot connect is written at once, however recent the last arrival.
		$this->loopback_arrives( $row );
		$this->assertSame( '', Farewell_Bridge_Dispatcher::loopback_problem() );
		$state       = Farewell_Bridge_Dispatcher::loopback_state();
		$state['ok'] = time() - 10; // Seconds apart: a failure in the arrival's own second does not count.
		update_option( Farewell_Bridge_Dispatcher::LOOPBACK_OPTION, $state, false );
		fclose( $this->server );
		$this->queries = array();
		$this->cancel( 'refused' );
		Farewell_Bridge_Dispatcher::action_shutdown();
		$this->assertStringContainsString( 'could not connect', Farewell_Bridge_Dispatcher::loopback_problem() );
		$this->assertSame( 1, $writes() );
	}

	public function test_a_members_own_cancel_under_php_fpm_writes_no_user_meta_before_the_response_ends() {
		global $wpdb;
		$member = $this->user( 'subscriber', 'Anaïs' );
		wp_set_current_user( $member );
		// The member's own web request on PHP-FPM (PHPUnit is a command line without fastcgi_finish_request()).
		$this->add_filter( 'farewell_bridge_is_system', '__return_false' );
		$this->add_filter( 'farewell_bridge_can_end_response', '__return_true' );
		$cookies = array();
		$this->add_filter(
			'farewell_bridge_send_survey_cookie',
			function ( $sent, $value, $expires ) use ( &$cookies ) {
				$cookies[] = array( $value, $expires );
				return true;
			},
			10,
			3
		);
		$this->forget_table_charsets();
		get_user_meta( $member ); // Read by WordPress for the signed-in member before any plugin runs.
		$this->queries = array();
		$before        = time();
		Farewell_Bridge_Event_Factory::record( 'memberpress', 'subscription.cancelled', $member, Farewell_Bridge_Event_Factory::subscription( array( 'id' => 'sub-fpm' ) ) );
		$this->assertSame( array(), $this->seen( '/' . preg_quote( $wpdb->usermeta, '/' ) . '/' ), 'the survey\'s mark is not written on the member\'s clock' );
		$rows = $this->rows();
		$this->assertSame( 'member', json_decode( end( $rows )['payload'], true )['initiated_by'] );
		$this->assertCount( 1, $cookies, 'a signed cookie tells the member\'s next page instead' );
		$this->assertGreaterThanOrEqual( $before + Farewell_Bridge_Survey::PENDING_SECONDS, $cookies[0][1] );
		$this->assertSame( array(), get_user_meta( $member, Farewell_Bridge_Survey::PENDING_META ) );

		// On `shutdown`, once the response is ended, before the delivery: the durable mark.
		Farewell_Bridge_Survey::action_shutdown();
		$this->assertCount( 1, $this->seen( '/^INSERT INTO `' . preg_quote( $wpdb->usermeta, '/' ) . '`/' ), 'written there, off the clock' );
		$pending = Farewell_Bridge_Survey::pending( $member );
		$this->assertSame( 'sub-fpm', $pending['subscription_id'] );
		$this->assertFalse( $pending['shown'] );
	}

	public function test_where_the_mark_stays_on_the_clock_a_first_cancel_inserts_it_without_looking_for_a_row() {
		global $wpdb;
		$member = $this->user( 'subscriber', 'Anaïs' );
		wp_set_current_user( $member );
		// The member's own web request under mod_php or php -S: no response ended early.
		$this->add_filter( 'farewell_bridge_is_system', '__return_false' );
		$this->add_filter( 'farewell_bridge_can_end_response', '__return_false' );
		$usermeta = '/' . preg_quote( $wpdb->usermeta, '/' ) . '/';
		get_user_meta( $member ); // Read by WordPress for the signed-in member before any plugin runs.
		$this->forget_table_charsets();
		$this->queries = array();
		Farewell_Bridge_Event_Factory::record( 'memberpress', 'subscription.cancelled', $member, Farewell_Bridge_Event_Factory::subscription( array( 'id' => 'sub-1' ) ) );
		$seen = $this->seen( $usermeta );
		$this->assertCount( 2, $seen, implode( "\n", $seen ) ); // wpdb's column check, the INSERT.
		$this->assertSame( 0, count( preg_grep( '/^SELECT umeta_id/', $seen ) ) );
		$this->assertSame( array( 'sub-1' ), wp_list_pluck( Farewell_Bridge_Survey::cancellations( $member ), 'subscription_id' ) );

		// A second cancel finds the mark: updated in place, one row still, both cancels kept.
		get_user_meta( $member );
		$this->queries = array();
		Farewell_Bridge_Event_Factory::record( 'memberpress', 'subscription.cancelled', $member, Farewell_Bridge_Event_Factory::subscription( array( 'id' => 'sub-2' ) ) );
		$this->assertCount( 1, preg_grep( '/^UPDATE/', $this->seen( $usermeta ) ) );
		$this->assertCount( 1, get_user_meta( $member, Farewell_Bridge_Survey::PENDING_META ) );
		$pending = Farewell_Bridge_Survey::pending( $member );
		$this->assertSame( array( 'sub-2', false ), array( $pending['subscription_id'], $pending['shown'] ) );
		$this->assertSame( array( 'sub-2', 'sub-1' ), wp_list_pluck( Farewell_Bridge_Survey::cancellations( $member ), 'subscription_id' ) );
	}

	/** A row's status now. */
	private function reload_status( array $row ) {
		return Farewell_Bridge_Outbox::get( (int) $row['id'] )['status'];
	}
}
