<?php
/**
 * Draining the outbox through the sidecar's batch route (issue 16): several due rows in one
 * signed request within the sidecar's caps, each row's answer recorded as a single send's would
 * be, the old sidecar without the route remembered, one row alone on the single route.
 */
class BatchDeliveryTest extends Farewell_Test_Case {

	protected function setUp(): void {
		parent::setUp();
		delete_option( Farewell_Bridge_Dispatcher::BATCH_OPTION );
	}

	protected function tearDown(): void {
		delete_option( Farewell_Bridge_Dispatcher::BATCH_OPTION );
		parent::tearDown();
	}

	/** Inserts $n rows straight into the outbox; their ids. */
	private function insert_rows( $n, $prefix = 'fwb_b_', $imported = false, $pad = 0 ) {
		$ids = array();
		for ( $i = 0; $i < $n; $i++ ) {
			$payload = wp_json_encode(
				array(
					'type'   => 'member.updated',
					'n'      => $i,
					'filler' => str_repeat( 'x', $pad ),
				)
			);
			$ids[]   = Farewell_Bridge_Outbox::insert( sprintf( '%s%05d', $prefix, $i ), 'member.updated', $payload, $imported );
		}
		return $ids;
	}

	/**
	 * Answers batch requests with $answer( array $items ) → array( status, body ) and single
	 * requests with 202, recording each request.
	 */
	private function fake_batch_sidecar( callable $answer ) {
		$this->add_filter(
			'pre_http_request',
			function ( $pre, $args, $url ) use ( $answer ) {
				$this->requests[] = array(
					'url'     => $url,
					'headers' => $args['headers'],
					'body'    => $args['body'],
					'timeout' => $args['timeout'],
				);
				if ( '/events/batch' === substr( $url, -13 ) ) {
					$reply = $answer( json_decode( $args['body'], true )['events'] );
				} else {
					$reply = array( 202, '{"status":"accepted"}' );
				}
				if ( is_wp_error( $reply ) ) {
					return $reply;
				}
				return array(
					'headers'  => array( 'content-type' => 'application/json' ),
					'body'     => is_string( $reply[1] ) ? $reply[1] : wp_json_encode( $reply[1] ),
					'response' => array(
						'code'    => $reply[0],
						'message' => get_status_header_desc( $reply[0] ),
					),
					'cookies'  => array(),
					'filename' => null,
				);
			},
			10,
			3
		);
	}

	/** Requests to the batch route, and to the single route. */
	private function routes() {
		return array_map(
			function ( $request ) {
				return '/events/batch' === substr( $request['url'], -13 ) ? 'batch' : 'single';
			},
			$this->requests
		);
	}

	private function statuses() {
		return wp_list_pluck( $this->rows(), 'status' );
	}

	public function test_several_due_rows_go_in_one_signed_batch_and_each_answer_is_recorded() {
		$ids = $this->insert_rows( 4 );
		$this->fake_batch_sidecar(
			function ( $items ) {
				$results = array();
				foreach ( $items as $i => $item ) {
					$results[] = array(
						'webhook_id' => $item['webhook_id'],
						'status'     => 1 === $i ? 'duplicate' : 'accepted',
					);
				}
				return array( 200, array( 'results' => $results ) );
			}
		);
		$done = Farewell_Bridge_Dispatcher::deliver_ids( $ids, 3.0 );
		$this->assertSame( 4, $done['delivered'] );
		$this->assertFalse( $done['halted'] );
		$this->assertSame( array( 'batch' ), $this->routes(), 'one request for the four rows' );

		$request = $this->requests[0];
		$this->assertSame( 'http://127.0.0.1:9/v1/sites/site_test/events/batch', $request['url'] );
		$rows  = $this->rows();
		$items = json_decode( $request['body'], true )['events'];
		$this->assertSame( wp_list_pluck( $rows, 'webhook_id' ), wp_list_pluck( $items, 'webhook_id' ), 'oldest first, each with its own webhook-id' );
		foreach ( $rows as $i => $row ) {
			$this->assertSame( json_decode( $row['payload'], true ), $items[ $i ]['event'], 'the stored event, as it is' );
		}
		// Scheme 2, bound to this route; the request's own webhook-id is none of the events'.
		$signer = new Farewell_Bridge_Signer( self::SECRET );
		$scope  = Farewell_Bridge_Signer::scope( 'POST', '/v1/sites/site_test/events/batch' );
		$this->assertStringStartsWith( 'fw2,', $request['headers']['webhook-signature'] );
		$this->assertTrue( $signer->verify( $request['headers']['webhook-id'], $request['headers']['webhook-timestamp'], $request['body'], $request['headers']['webhook-signature'], null, 300, $scope ) );
		$this->assertFalse( $signer->verify( $request['headers']['webhook-id'], $request['headers']['webhook-timestamp'], $request['body'], $request['headers']['webhook-signature'], null, 300, Farewell_Bridge_Signer::scope( 'POST', '/v1/sites/site_test/events' ) ) );
		$this->assertNotContains( $request['headers']['webhook-id'], wp_list_pluck( $rows, 'webhook_id' ) );

		$this->assertSame( array( 'delivered', 'delivered', 'delivered', 'delivered' ), wp_list_pluck( $rows, 'status' ) );
		$this->assertSame( array( '202', '200', '202', '202' ), wp_list_pluck( $rows, 'last_status' ), 'as the single route would have answered each' );
		$this->assertSame( array( '1', '1', '1', '1' ), wp_list_pluck( $rows, 'attempts' ) );
		foreach ( $rows as $row ) {
			$this->assertNotNull( $row['delivered_at'] );
			$this->assertNull( $row['locked_until'] );
		}
	}

	public function test_one_due_row_goes_on_the_single_route() {
		$ids = $this->insert_rows( 1 );
		$this->fake_batch_sidecar(
			function () {
				$this->fail( 'no batch for one row' );
			}
		);
		Farewell_Bridge_Dispatcher::action_farewell_bridge_deliver();
		$this->assertSame( array( 'single' ), $this->routes() );
		$this->assertSame( 'http://127.0.0.1:9/v1/sites/site_test/events', $this->requests[0]['url'] );
		$this->assertSame( array( 'delivered' ), $this->statuses() );
	}

	public function test_an_invalid_event_is_dead_with_its_fields_and_refuses_none_of_the_others() {
		$ids = $this->insert_rows( 3 );
		$this->fake_batch_sidecar(
			function ( $items ) {
				return array(
					200,
					array(
						'results' => array(
							array(
								'webhook_id' => $items[0]['webhook_id'],
								'status'     => 'accepted',
							),
							array(
								'webhook_id' => $items[1]['webhook_id'],
								'status'     => 'invalid',
								'fields'     => array( 'member.email' => 'must be an email address' ),
							),
							array(
								'webhook_id' => $items[2]['webhook_id'],
								'status'     => 'accepted',
							),
						),
					),
				);
			}
		);
		$done = Farewell_Bridge_Dispatcher::deliver_ids( $ids, 3.0 );
		$this->assertSame( 2, $done['delivered'] );
		$this->assertSame( 1, $done['dead'] );
		$this->assertFalse( $done['halted'] );
		$this->assertSame( array( 'delivered', 'dead', 'delivered' ), $this->statuses() );
		$dead = $this->rows()[1];
		$this->assertSame( '400', $dead['last_status'] );
		$this->assertSame( '1', $dead['attempts'] );
		// The words a single send's 400 leaves, so the admin reads the same whichever way it went.
		$this->assertSame( 'The sidecar rejected the request (HTTP 400): invalid_event (member.email: must be an email address)', $dead['last_error'] );
		$this->assertFalse( Farewell_Bridge_Dispatcher::circuit_open() );
	}

	/** @return array[] */
	public function temporary_answers() {
		return array(
			'503'     => array( array( 503, '{"error":"unavailable"}' ) ),
			'500'     => array( array( 500, '{"error":"internal"}' ) ),
			'429'     => array( array( 429, '{"error":"rate_limited"}' ) ),
			'timeout' => array( new WP_Error( 'http_request_failed', 'cURL error 28: Operation timed out after 15000 milliseconds with 0 bytes received' ) ),
			'refused' => array( new WP_Error( 'http_request_failed', 'cURL error 7: Failed to connect to 127.0.0.1 port 9: Connection refused' ) ),
		);
	}

	/**
	 * @dataProvider temporary_answers
	 */
	public function test_a_batch_that_fails_for_a_temporary_reason_gives_each_row_its_attempt_and_backoff( $answer ) {
		$ids = $this->insert_rows( 30 );
		$this->fake_batch_sidecar(
			function () use ( $answer ) {
				return $answer;
			}
		);
		$totals = Farewell_Bridge_Dispatcher::action_farewell_bridge_deliver();
		$this->assertSame( array( 'batch' ), $this->routes(), 'one batch, then delivery stops' );
		$this->assertSame( 30, $totals['pending'] );
		$this->assertTrue( Farewell_Bridge_Dispatcher::circuit_open() );
		foreach ( $this->rows() as $row ) {
			$this->assertSame( 'pending', $row['status'] );
			$this->assertSame( '1', $row['attempts'] );
			$this->assertNull( $row['locked_until'] );
			$this->assertNotEmpty( $row['last_error'] );
			$delay = strtotime( $row['next_attempt_at'] . ' UTC' ) - time();
			$this->assertGreaterThanOrEqual( 6, $delay );
			$this->assertLessThanOrEqual( 15, $delay );
		}
		$this->assertSame( array(), Farewell_Bridge_Outbox::due_ids( 100 ), 'none due again before its backoff' );
		$this->assertTrue( Farewell_Bridge_Dispatcher::batch_route_usable(), 'a failure is not an older sidecar' );
	}

	public function test_an_answer_that_does_not_match_the_items_delivers_nothing_and_is_retried() {
		$ids = $this->insert_rows( 3 );
		$this->fake_batch_sidecar(
			function ( $items ) {
				// Two results for three items.
				return array(
					200,
					array(
						'results' => array(
							array(
								'webhook_id' => $items[0]['webhook_id'],
								'status'     => 'accepted',
							),
							array(
								'webhook_id' => $items[1]['webhook_id'],
								'status'     => 'accepted',
							),
						),
					),
				);
			}
		);
		$done = Farewell_Bridge_Dispatcher::deliver_ids( $ids, 3.0 );
		$this->assertTrue( $done['halted'] );
		$this->assertSame( array( 'pending', 'pending', 'pending' ), $this->statuses() );
		$this->assertStringContainsString( 'could not be read', $this->rows()[0]['last_error'] );
	}

	/** @return array[] */
	public function older_sidecar_answers() {
		return array(
			'404 not_found'   => array( array( 404, '{"error":"not_found","message":"no such route"}' ) ),
			'404 from a proxy' => array( array( 404, '<html>Not Found</html>' ) ),
			'405'             => array( array( 405, '{"error":"method_not_allowed"}' ) ),
		);
	}

	/**
	 * @dataProvider older_sidecar_answers
	 */
	public function test_an_older_sidecar_gets_the_rows_one_by_one_and_is_not_asked_again_for_a_while( $answer ) {
		$this->insert_rows( 6 );
		$this->fake_batch_sidecar(
			function () use ( $answer ) {
				return $answer;
			}
		);
		$totals = Farewell_Bridge_Dispatcher::action_farewell_bridge_deliver();
		$this->assertSame( 6, $totals['delivered'] );
		$this->assertSame( array( 'batch', 'single', 'single', 'single', 'single', 'single', 'single' ), $this->routes() );
		$this->assertSame( array_fill( 0, 6, 'delivered' ), $this->statuses() );
		$this->assertSame( array_fill( 0, 6, '1' ), wp_list_pluck( $this->rows(), 'attempts' ), 'the refused batch counts as no attempt' );
		$this->assertFalse( Farewell_Bridge_Dispatcher::batch_route_usable() );
		$this->assertSame( Farewell_Bridge_Dispatcher::CRON_BATCH, Farewell_Bridge_Dispatcher::drain_size() );

		// The next drains do not probe again.
		$this->requests = array();
		$this->insert_rows( 4, 'fwb_later_' );
		Farewell_Bridge_Dispatcher::action_farewell_bridge_deliver();
		$this->assertSame( array( 'single', 'single', 'single', 'single' ), $this->routes() );

		// After a while the sidecar may have been updated: it is asked again.
		update_option( Farewell_Bridge_Dispatcher::BATCH_OPTION, time() - 1, false );
		$this->assertTrue( Farewell_Bridge_Dispatcher::batch_route_usable() );
		// A mark written by a clock that has since gone back counts no more than the circuit's.
		update_option( Farewell_Bridge_Dispatcher::BATCH_OPTION, time() + 30 * DAY_IN_SECONDS, false );
		$this->assertTrue( Farewell_Bridge_Dispatcher::batch_route_usable() );
	}

	public function test_an_unknown_site_is_not_taken_for_an_older_sidecar() {
		$ids = $this->insert_rows( 3 );
		$this->fake_batch_sidecar(
			function () {
				return array( 404, '{"error":"unknown_site"}' );
			}
		);
		Farewell_Bridge_Dispatcher::deliver_ids( $ids, 3.0 );
		$this->assertSame( array( 'batch' ), $this->routes() );
		$this->assertSame( array( 'dead', 'dead', 'dead' ), $this->statuses(), 'as a single send of each would have ended' );
		$this->assertStringContainsString( 'site id', $this->rows()[0]['last_error'] );
		$this->assertTrue( Farewell_Bridge_Dispatcher::batch_route_usable() );
	}

	public function test_410_on_a_batch_pauses_delivery_and_keeps_every_row() {
		$ids = $this->insert_rows( 3 );
		$this->fake_batch_sidecar(
			function () {
				return array( 410, '{"error":"gone"}' );
			}
		);
		$done = Farewell_Bridge_Dispatcher::deliver_ids( $ids, 3.0 );
		$this->assertTrue( $done['halted'] );
		$this->assertNotNull( Farewell_Bridge_Outbox::paused() );
		$this->assertSame( array( 'pending', 'pending', 'pending' ), $this->statuses() );
	}

	public function test_a_batch_refused_for_its_size_goes_one_by_one_and_nothing_is_dead() {
		$ids = $this->insert_rows( 3 );
		$this->fake_batch_sidecar(
			function () {
				return array( 413, '{"error":"too_many_events","max_events":2}' );
			}
		);
		$done = Farewell_Bridge_Dispatcher::deliver_ids( $ids, 3.0 );
		$this->assertSame( 3, $done['delivered'] );
		$this->assertSame( array( 'batch', 'single', 'single', 'single' ), $this->routes() );
		$this->assertSame( array( 'delivered', 'delivered', 'delivered' ), $this->statuses() );
		$this->assertTrue( Farewell_Bridge_Dispatcher::batch_route_usable(), 'the route exists' );
	}

	public function test_cron_drains_in_batches_bounded_by_count_and_bytes_live_rows_first() {
		$imported = $this->insert_rows( 30, 'fwb_imp_', true, 40000 ); // ~40 KB each: bytes bound the batch.
		$live     = $this->insert_rows( 1000, 'fwb_live_' );           // Inserted after, sent before.
		$this->fake_sidecar( array( 202 ) );
		$totals = Farewell_Bridge_Dispatcher::action_farewell_bridge_deliver();
		$this->assertSame( 1030, $totals['delivered'] );
		$this->assertSame( 1030, count( array_filter( $this->statuses(), function ( $s ) { return 'delivered' === $s; } ) ) );

		$sent = array();
		foreach ( $this->requests as $request ) {
			$this->assertStringEndsWith( '/events/batch', $request['url'] );
			$this->assertLessThanOrEqual( Farewell_Bridge_Client::BATCH_MAX_BYTES, strlen( $request['body'] ) );
			$items = json_decode( $request['body'], true )['events'];
			$this->assertLessThanOrEqual( Farewell_Bridge_Client::BATCH_MAX_EVENTS, count( $items ) );
			$sent = array_merge( $sent, wp_list_pluck( $items, 'webhook_id' ) );
		}
		$sizes = array_map(
			function ( $request ) {
				return count( json_decode( $request['body'], true )['events'] );
			},
			$this->requests
		);
		$this->assertSame( array( 500, 500 ), array_slice( $sizes, 0, 2 ), 'full batches by count' );
		$this->assertGreaterThanOrEqual( 2, count( $sizes ) - 2, 'the 1.2 MB of history needs more than one batch' );
		$expected = array();
		foreach ( array( 'fwb_live_' => 1000, 'fwb_imp_' => 30 ) as $prefix => $n ) {
			for ( $i = 0; $i < $n; $i++ ) {
				$expected[] = sprintf( '%s%05d', $prefix, $i );
			}
		}
		$this->assertSame( $expected, $sent, 'each row once, live rows first, then history, oldest first' );
	}

	public function test_a_row_claimed_for_the_next_batch_is_released_when_delivery_stops() {
		$ids = $this->insert_rows( Farewell_Bridge_Client::BATCH_MAX_EVENTS + 1 );
		$this->fake_batch_sidecar(
			function () {
				return array( 503, '{"error":"unavailable"}' );
			}
		);
		$done = Farewell_Bridge_Dispatcher::deliver_ids( $ids, 3.0 );
		$this->assertTrue( $done['halted'] );
		$this->assertSame( Farewell_Bridge_Client::BATCH_MAX_EVENTS, $done['pending'] );
		$this->assertCount( 1, $this->requests );
		$last = Farewell_Bridge_Outbox::get( (int) end( $ids ) );
		$this->assertSame( '0', $last['attempts'], 'not sent' );
		$this->assertNull( $last['locked_until'], 'not locked for two minutes either: due at once' );
		$this->assertSame( array( (int) end( $ids ) ), Farewell_Bridge_Outbox::due_ids( 10 ) );
	}

	public function test_a_drain_claims_and_reads_its_rows_a_group_at_a_time_and_skips_those_another_worker_holds() {
		global $wpdb;
		$ids = $this->insert_rows( 40 );
		// Another worker (cron, a member's request) holds two of them.
		$held = array( $ids[3], $ids[20] );
		$wpdb->query( $wpdb->prepare( 'UPDATE ' . Farewell_Bridge_Outbox::table() . ' SET locked_until = %s WHERE id IN (' . implode( ',', $held ) . ')', Farewell_Bridge_Outbox::now( 60 ) ) ); // phpcs:ignore
		$this->fake_sidecar( array( 202 ) );
		$table = Farewell_Bridge_Outbox::table();
		$seen  = array();
		$spy   = function ( $query ) use ( &$seen, $table ) {
			if ( false !== strpos( $query, $table ) && preg_match( '/^\s*(UPDATE|SELECT)\b/', $query ) ) {
				$seen[] = $query;
			}
			return $query;
		};
		add_filter( 'query', $spy );
		$done = Farewell_Bridge_Dispatcher::deliver_ids( $ids, 3.0 );
		remove_filter( 'query', $spy );
		$this->assertSame( 38, $done['delivered'] );
		$sent = wp_list_pluck( json_decode( $this->requests[0]['body'], true )['events'], 'webhook_id' );
		$this->assertCount( 38, $sent );
		$this->assertNotContains( 'fwb_b_00003', $sent );
		$this->assertNotContains( 'fwb_b_00020', $sent );
		foreach ( $held as $id ) {
			$row = Farewell_Bridge_Outbox::get( $id );
			$this->assertSame( 'pending', $row['status'] );
			$this->assertNotNull( $row['locked_until'], 'still the other worker\'s' );
		}
		// Claimed and read 16 rows at a time (Outbox::CLAIM_GROUP; three statements per group),
		// then one UPDATE marks them delivered: 10, not a claim and a read per row (81 before).
		$this->assertLessThanOrEqual( 10, count( $seen ), implode( "\n", $seen ) );
	}

	public function test_wp_farewell_import_sends_its_backlog_in_full_batches() {
		$this->insert_rows( 1200, 'fwb_imp_', true );
		$this->fake_sidecar( array( 202 ) );
		// What `wp farewell import` runs after each step of reading (private: WP-CLI's command).
		$deliver = new ReflectionMethod( 'Farewell_Bridge_Cli', 'deliver_backlog' );
		$deliver->setAccessible( true );
		$outcome = $deliver->invoke( null );
		$this->assertSame( 1200, $outcome['delivered'] );
		$this->assertSame( '', $outcome['failure'] );
		$this->assertSame( array( 'batch', 'batch', 'batch' ), $this->routes(), '500, 500 and 200, not 60 batches of CRON_BATCH' );
	}

	public function test_the_shutdown_delivery_of_a_few_rows_keeps_its_short_timeout() {
		$this->add_filter( 'farewell_bridge_use_loopback', '__return_false' );
		$this->add_filter( 'farewell_bridge_in_cli', '__return_false' );
		$this->fake_sidecar( array( 202 ) );
		$ids = $this->insert_rows( 3 );
		$this->assertTrue( Farewell_Bridge_Dispatcher::deliver_after_response( $ids ) );
		$this->assertSame( array( 'batch' ), $this->routes() );
		$this->assertLessThanOrEqual( Farewell_Bridge_Dispatcher::SHUTDOWN_TIMEOUT, $this->requests[0]['timeout'] );
		$this->assertSame( array( 'delivered', 'delivered', 'delivered' ), $this->statuses() );
	}
}
