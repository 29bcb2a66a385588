<?php
/**
 * The outbox state machine, driven by the sidecar's answers (faked with pre_http_request).
 */
class OutboxTest extends Farewell_Test_Case {

	private function deliver( $row ) {
		return Farewell_Bridge_Dispatcher::deliver_ids( array( (int) $row['id'] ), 3.0 );
	}

	private function reload( $row ) {
		return Farewell_Bridge_Outbox::get( (int) $row['id'] );
	}

	/** @return array[] */
	public function delivered_answers() {
		return array(
			'202 accepted'  => array( array( 202, '{"status":"accepted"}' ) ),
			'200 duplicate' => array( array( 200, '{"status":"duplicate"}' ) ),
		);
	}

	/**
	 * @dataProvider delivered_answers
	 */
	public function test_a_2xx_marks_the_row_delivered( $answer ) {
		$row = $this->queue_event();
		$this->fake_sidecar( array( $answer ) );
		$this->deliver( $row );
		$after = $this->reload( $row );
		$this->assertSame( 'delivered', $after['status'] );
		$this->assertSame( '1', $after['attempts'] );
		$this->assertNotNull( $after['delivered_at'] );
		$this->assertNull( $after['last_error'] );
		$this->assertGreaterThan( 0, (int) get_option( Farewell_Bridge_Outbox::LAST_DELIVERY_OPTION ) );
	}

	public function test_the_request_is_a_signed_post_of_the_stored_body() {
		$row = $this->queue_event();
		$this->fake_sidecar( array( 202 ) );
		$this->deliver( $row );
		$this->assertCount( 1, $this->requests );
		$request = $this->requests[0];
		$this->assertSame( 'http://127.0.0.1:9/v1/sites/site_test/events', $request['url'] );
		$this->assertSame( 'POST', $request['method'] );
		$this->assertSame( $row['payload'], $request['body'] );
		$this->assertSame( 'application/json', $request['headers']['Content-Type'] );
		$this->assertSame( $row['webhook_id'], $request['headers']['webhook-id'] );
		$this->assertLessThanOrEqual( 3.0, $request['timeout'] );
		$signer = new Farewell_Bridge_Signer( self::SECRET );
		$this->assertTrue( $signer->verify( $request['headers']['webhook-id'], $request['headers']['webhook-timestamp'], $request['body'], $request['headers']['webhook-signature'] ) );
	}

	/** @return array[] */
	public function temporary_answers() {
		return array(
			'408'     => array( 408 ),
			'429'     => array( 429 ),
			'500'     => array( 500 ),
			'503'     => array( array( 503, '{"error":"unavailable"}' ) ),
			'refused' => array( new WP_Error( 'http_request_failed', 'cURL error 7: Failed to connect to 127.0.0.1 port 9: Connection refused' ) ),
			'timeout' => array( new WP_Error( 'http_request_failed', 'cURL error 28: Operation timed out after 3001 milliseconds with 0 bytes received' ) ),
		);
	}

	/**
	 * @dataProvider temporary_answers
	 */
	public function test_temporary_failures_are_retried_later_with_backoff( $answer ) {
		$row = $this->queue_event();
		$this->fake_sidecar( array( $answer ) );
		$this->deliver( $row );
		$after = $this->reload( $row );
		$this->assertSame( 'pending', $after['status'] );
		$this->assertSame( '1', $after['attempts'] );
		$this->assertNotEmpty( $after['last_error'] );
		$this->assertNull( $after['locked_until'] );
		$delay = strtotime( $after['next_attempt_at'] . ' UTC' ) - time();
		$this->assertGreaterThanOrEqual( 6, $delay );
		$this->assertLessThanOrEqual( 15, $delay );
		$this->assertSame( array(), Farewell_Bridge_Outbox::due_ids( 10 ), 'not due again before its backoff' );
	}

	public function test_a_host_that_does_not_resolve_is_retried_not_dead() {
		update_option(
			Farewell_Bridge_Settings::OPTION,
			array(
				'sidecar_url' => 'http://farewell.invalid', // RFC 6761: never resolves.
				'site_id'     => 'site_test',
			)
		);
		$row = $this->queue_event();
		$this->deliver( $row ); // A real request: no fake answer.
		$after = $this->reload( $row );
		$this->assertSame( 'pending', $after['status'] );
		$this->assertStringContainsString( 'DNS', $after['last_error'] );
	}

	/** @return array[] */
	public function permanent_answers() {
		return array(
			'401' => array( 401, 'secret' ),
			'404' => array( 404, 'site id' ),
			'400' => array( array( 400, '{"error":"invalid_event","fields":{"member.email":"must be an email address"}}' ), 'member.email' ),
			'413' => array( 413, 'HTTP 413' ),
		);
	}

	/**
	 * @dataProvider permanent_answers
	 */
	public function test_other_4xx_mark_the_row_dead_with_a_readable_error( $answer, $words ) {
		$row = $this->queue_event();
		$this->fake_sidecar( array( $answer ) );
		$this->deliver( $row );
		$after = $this->reload( $row );
		$this->assertSame( 'dead', $after['status'] );
		$this->assertStringContainsString( $words, $after['last_error'] );
		$this->assertSame( $after['last_error'], Farewell_Bridge_Outbox::last_error()['last_error'] );
	}

	public function test_a_temporary_failure_stops_the_batch_and_pauses_deliveries_from_members_requests() {
		$rows = array( $this->queue_event( 'a' ), $this->queue_event( 'b' ), $this->queue_event( 'c' ) );
		$this->fake_sidecar( array( new WP_Error( 'http_request_failed', 'cURL error 28: Operation timed out after 3000 milliseconds' ), 202 ) );
		$done = Farewell_Bridge_Dispatcher::deliver_ids( wp_list_pluck( $rows, 'id' ), 3.0 );
		$this->assertTrue( $done['halted'] );
		$this->assertCount( 1, $this->requests, 'the rows went in one batch, and nothing more waits for a dead sidecar' );
		$this->assertTrue( Farewell_Bridge_Dispatcher::circuit_open() );
		$this->assertSame( '1', $this->reload( $rows[1] )['attempts'] );

		// A member cancels meanwhile: nothing is attempted from their request.
		Farewell_Bridge_Dispatcher::forget();
		$this->add_filter( 'farewell_bridge_use_loopback', '__return_false' );
		$this->add_filter( 'farewell_bridge_in_cli', '__return_false' );
		$this->queue_event( 'd' );
		Farewell_Bridge_Dispatcher::action_shutdown();
		$this->assertCount( 1, $this->requests );

		// Cron ignores the circuit: it is what finds the sidecar back, and closes the circuit.
		Farewell_Bridge_Dispatcher::action_farewell_bridge_deliver();
		$this->assertFalse( Farewell_Bridge_Dispatcher::circuit_open() );
		$statuses = wp_list_pluck( $this->rows(), 'status' );
		$this->assertSame( array( 'pending', 'pending', 'pending', 'delivered' ), $statuses, 'the failed batch\'s rows wait for their backoff' );
	}

	public function test_only_one_delivery_after_a_response_runs_at_a_time_and_it_takes_over_the_others() {
		global $wpdb;
		$other  = new wpdb( DB_USER, DB_PASSWORD, DB_NAME, DB_HOST ); // Another PHP process's connection.
		$lock   = 'farewell_bridge_' . md5( DB_NAME . '|' . $wpdb->prefix );
		$theirs = $this->queue_event( 'theirs' );
		$this->fake_sidecar( array( 202 ) );
		$this->assertFalse( Farewell_Bridge_Dispatcher::delivery_busy() );

		$this->assertSame( '1', $other->get_var( $other->prepare( 'SELECT GET_LOCK(%s, 0)', $lock ) ) );
		try {
			$this->assertTrue( Farewell_Bridge_Dispatcher::delivery_busy() );
			$this->assertFalse( Farewell_Bridge_Dispatcher::deliver_after_response( array( (int) $theirs['id'] ) ) );
			$this->assertSame( array(), $this->requests, 'a second delivery does not start' );
		} finally {
			$other->query( $other->prepare( 'SELECT RELEASE_LOCK(%s)', $lock ) );
			$other->close();
		}

		$mine = $this->queue_event( 'mine' );
		$this->assertTrue( Farewell_Bridge_Dispatcher::deliver_after_response( array( (int) $mine['id'] ) ) );
		$this->assertSame( 'delivered', $this->reload( $mine )['status'] );
		$this->assertSame( 'delivered', $this->reload( $theirs )['status'], 'the row left behind is taken over' );
		$this->assertSame( array( $mine['webhook_id'], $theirs['webhook_id'] ), wp_list_pluck( wp_list_pluck( $this->requests, 'headers' ), 'webhook-id' ) );
		$this->assertFalse( Farewell_Bridge_Dispatcher::delivery_busy(), 'released after use' );
	}

	public function test_410_pauses_delivery_until_resumed_and_keeps_the_row() {
		$first  = $this->queue_event( 'a' );
		$second = $this->queue_event( 'b' );
		$this->fake_sidecar( array( 410, 202 ) );
		Farewell_Bridge_Dispatcher::deliver_ids( array( (int) $first['id'], (int) $second['id'] ), 3.0 );
		$this->assertCount( 1, $this->requests, 'delivery stops at the 410' );
		$this->assertNotNull( Farewell_Bridge_Outbox::paused() );
		$this->assertSame( 'pending', $this->reload( $first )['status'] );
		$this->assertSame( 'pending', $this->reload( $second )['status'] );

		Farewell_Bridge_Dispatcher::action_farewell_bridge_deliver();
		$this->assertCount( 1, $this->requests, 'paused: cron sends nothing' );

		Farewell_Bridge_Outbox::resume();
		Farewell_Bridge_Dispatcher::action_farewell_bridge_deliver();
		$this->assertSame( 'delivered', $this->reload( $first )['status'] );
		$this->assertSame( 'delivered', $this->reload( $second )['status'] );
	}

	public function test_dead_rows_come_back_when_retried_and_then_deliver() {
		$row = $this->queue_event();
		$this->fake_sidecar( array( 401, 202 ) );
		$this->deliver( $row );
		$this->assertSame( 'dead', $this->reload( $row )['status'] );
		Farewell_Bridge_Dispatcher::action_farewell_bridge_deliver();
		$this->assertCount( 1, $this->requests, 'dead rows are not retried by cron' );

		$this->assertSame( 1, Farewell_Bridge_Outbox::retry_dead() );
		Farewell_Bridge_Dispatcher::action_farewell_bridge_deliver();
		$this->assertSame( 'delivered', $this->reload( $row )['status'] );
	}

	public function test_each_retry_is_signed_afresh_with_the_same_webhook_id() {
		$row = $this->queue_event();
		$this->fake_sidecar( array( 503, 202 ) );
		$this->deliver( $row );
		global $wpdb;
		// Pretend the backoff has passed, and sign "later" than the first attempt.
		$wpdb->query( $wpdb->prepare( 'UPDATE ' . Farewell_Bridge_Outbox::table() . ' SET next_attempt_at = %s WHERE id = %d', gmdate( 'Y-m-d H:i:s', time() - 1 ), $row['id'] ) );
		sleep( 1 );
		Farewell_Bridge_Dispatcher::action_farewell_bridge_deliver();
		$this->assertCount( 2, $this->requests );
		list( $first, $second ) = $this->requests;
		$this->assertSame( $first['headers']['webhook-id'], $second['headers']['webhook-id'] );
		$this->assertSame( $first['body'], $second['body'] );
		$this->assertGreaterThan( (int) $first['headers']['webhook-timestamp'], (int) $second['headers']['webhook-timestamp'] );
		$this->assertNotSame( $first['headers']['webhook-signature'], $second['headers']['webhook-signature'] );
		$this->assertSame( 'delivered', $this->reload( $row )['status'] );
	}

	public function test_gives_up_after_three_days_as_dead_never_silently() {
		global $wpdb;
		$row = $this->queue_event();
		$wpdb->query( $wpdb->prepare( 'UPDATE ' . Farewell_Bridge_Outbox::table() . ' SET created_at = %s WHERE id = %d', gmdate( 'Y-m-d H:i:s', time() - 3 * DAY_IN_SECONDS - 60 ), $row['id'] ) );
		$this->fake_sidecar( array( 503 ) );
		$this->deliver( $row );
		$after = $this->reload( $row );
		$this->assertSame( 'dead', $after['status'] );
		$this->assertStringContainsString( '3 days', $after['last_error'] );
	}

	public function test_a_claimed_row_cannot_be_claimed_again_until_its_lock_expires() {
		global $wpdb;
		$row = $this->queue_event();
		$this->assertTrue( Farewell_Bridge_Outbox::claim( (int) $row['id'] ) );
		$this->assertFalse( Farewell_Bridge_Outbox::claim( (int) $row['id'] ), 'a second worker (cron vs shutdown) loses' );
		$this->assertSame( array(), Farewell_Bridge_Outbox::due_ids( 10 ) );
		$this->fake_sidecar( array( 202 ) );
		$this->deliver( $row );
		$this->assertSame( array(), $this->requests, 'a locked row is not sent twice' );

		$wpdb->query( $wpdb->prepare( 'UPDATE ' . Farewell_Bridge_Outbox::table() . ' SET locked_until = %s WHERE id = %d', gmdate( 'Y-m-d H:i:s', time() - 1 ), $row['id'] ) );
		$this->assertTrue( Farewell_Bridge_Outbox::claim( (int) $row['id'] ), 'a crashed worker\'s lock expires' );
	}

	public function test_cron_sends_oldest_first_in_bounded_batches() {
		for ( $i = 0; $i < 25; $i++ ) {
			Farewell_Bridge_Outbox::insert( 'fwb_batch_' . $i, 'subscription.cancelled', '{"n":' . $i . '}' );
		}
		$this->assertCount( Farewell_Bridge_Dispatcher::CRON_BATCH, Farewell_Bridge_Outbox::due_ids( Farewell_Bridge_Dispatcher::CRON_BATCH ) );
		$this->fake_sidecar( array( 202 ) );
		$totals = Farewell_Bridge_Dispatcher::action_farewell_bridge_deliver();
		$this->assertSame( 25, $totals['delivered'] );
		$this->assertCount( 1, $this->requests, 'one batch' );
		$sent = wp_list_pluck( json_decode( $this->requests[0]['body'], true )['events'], 'webhook_id' );
		$this->assertSame( 'fwb_batch_0', $sent[0] );
		$this->assertSame( 'fwb_batch_24', $sent[24] );
	}

	public function test_delivered_rows_are_kept_a_week_then_purged() {
		global $wpdb;
		$old = $this->queue_event( 'old' );
		$new = $this->queue_event( 'new' );
		$this->fake_sidecar( array( 202 ) );
		Farewell_Bridge_Dispatcher::action_farewell_bridge_deliver();
		$wpdb->query( $wpdb->prepare( 'UPDATE ' . Farewell_Bridge_Outbox::table() . ' SET delivered_at = %s WHERE id = %d', gmdate( 'Y-m-d H:i:s', time() - 8 * DAY_IN_SECONDS ), $old['id'] ) );
		Farewell_Bridge_Dispatcher::action_farewell_bridge_deliver();
		$this->assertNull( $this->reload( $old ) );
		$this->assertSame( 'delivered', $this->reload( $new )['status'] );
	}

	public function test_shutdown_leaves_the_backlog_to_cron_and_does_nothing_when_unconfigured() {
		$this->fake_sidecar( array( 202 ) );
		global $wpdb;
		$backlog = Farewell_Bridge_Outbox::insert( 'fwb_earlier_request', 'subscription.cancelled', '{}' );
		$wpdb->query( $wpdb->prepare( 'UPDATE ' . Farewell_Bridge_Outbox::table() . ' SET created_at = %s WHERE id = %d', gmdate( 'Y-m-d H:i:s', time() - 600 ), $backlog ) );
		$this->add_filter( 'farewell_bridge_use_loopback', '__return_false' );
		$this->add_filter( 'farewell_bridge_in_cli', '__return_false' );
		$row = $this->queue_event();
		Farewell_Bridge_Dispatcher::action_shutdown();
		$this->assertCount( 1, $this->requests );
		$this->assertSame( $row['webhook_id'], $this->requests[0]['headers']['webhook-id'] );

		update_option( Farewell_Bridge_Settings::SECRET_OPTION, '' );
		$this->queue_event( 'unconfigured' );
		Farewell_Bridge_Dispatcher::action_shutdown();
		$this->assertCount( 1, $this->requests );
	}

	public function test_shutdown_without_fastcgi_hands_over_to_a_loopback_it_does_not_wait_for() {
		$this->assertFalse( function_exists( 'fastcgi_finish_request' ), 'php-cli, like php -S and mod_php, cannot finish a response early' );
		$server = stream_socket_server( 'tcp://127.0.0.1:0', $errno, $errstr );
		$this->assertNotFalse( $server, $errstr );
		$address = stream_socket_get_name( $server, false );
		$this->add_filter(
			'admin_url',
			function ( $url ) use ( $address ) {
				return preg_replace( '#^https?://[^/]+#', 'http://' . $address, $url );
			}
		);
		$this->fake_sidecar( array( 202 ) );
		$this->add_filter( 'farewell_bridge_in_cli', '__return_false' ); // A web request (PHPUnit is a command line).
		$row = $this->queue_event();

		$started = microtime( true );
		Farewell_Bridge_Dispatcher::action_shutdown(); // Nobody reads the request yet: it must not wait.
		$this->assertLessThan( 0.5, microtime( true ) - $started );
		$this->assertSame( array(), $this->requests, 'nothing is sent to the sidecar from the member\'s request' );

		$conn = stream_socket_accept( $server, 2 );
		$this->assertNotFalse( $conn );
		$request = stream_get_contents( $conn );
		fclose( $conn );
		fclose( $server );
		$this->assertStringStartsWith( 'POST /wp-admin/admin-ajax.php?action=farewell_bridge_deliver HTTP/1.1', $request );
		$body = substr( $request, strpos( $request, "\r\n\r\n" ) + 4 );
		parse_str( $body, $fields );
		$this->assertSame( (string) $row['id'], $fields['ids'] );
		$this->assertSame( Farewell_Bridge_Dispatcher::loopback_token( (string) $row['id'] ), $fields['token'] );
	}

	public function test_the_loopback_handler_delivers_only_with_a_valid_token() {
		$row = $this->queue_event();
		$this->fake_sidecar( array( 202 ) );
		$_POST = array(
			'ids'   => (string) $row['id'],
			'token' => 'forged',
		);
		try {
			Farewell_Bridge_Dispatcher::action_wp_ajax_farewell_bridge_deliver();
			$this->fail( 'no answer' );
		} catch ( Farewell_Test_Die $e ) {
			$this->assertSame( 403, $e->status );
		}
		$this->assertSame( 'pending', $this->reload( $row )['status'] );

		$_POST['token'] = Farewell_Bridge_Dispatcher::loopback_token( (string) $row['id'] );
		try {
			Farewell_Bridge_Dispatcher::action_wp_ajax_farewell_bridge_deliver();
		} catch ( Farewell_Test_Die $e ) {
			$this->assertSame( 200, $e->status );
		} finally {
			$_POST = array();
		}
		$this->assertSame( 'delivered', $this->reload( $row )['status'] );
	}
}
