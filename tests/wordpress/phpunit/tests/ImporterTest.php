<?php
/**
 * The history import's engine (Farewell_Bridge_Importer) with a stand-in reader: bounded steps,
 * resumable after a crash, importing twice adds nothing, imported rows are marked and sent after
 * live ones, and the import stops adding rows while its backlog waits. The real MemberPress
 * reader runs in tests/wordpress/test_real_memberpress_import.py.
 */

/** A membership plugin's history: subscription n (1..$count) was created, then cancelled. */
class Farewell_Test_History_Source implements Farewell_Bridge_History_Source {

	public $count;
	public $calls = 0;
	/** @var int|null Throws once when asked for the batch after this cursor (a crash mid-way). */
	public $crash_after = null;

	public function __construct( $count ) {
		$this->count = $count;
	}

	public function slug() {
		return 'memberpress';
	}

	public function available() {
		return true;
	}

	public function summary( $since ) {
		return array(
			'subscriptions' => $this->count,
			'cancelled'     => $this->count,
		);
	}

	public function events( $cursor, $limit, $since ) {
		++$this->calls;
		$from = (int) $cursor;
		if ( null !== $this->crash_after && $from === $this->crash_after ) {
			$this->crash_after = null;
			throw new RuntimeException( 'PHP died here' );
		}
		$out = array();
		$to  = min( $this->count, $from + $limit );
		for ( $n = $from + 1; $n <= $to; $n++ ) {
			foreach ( array( 'subscription.created' => 1000, 'subscription.cancelled' => 2000 ) as $type => $offset ) {
				Farewell_Bridge_Event_Factory::reset();
				$event = Farewell_Bridge_Event_Factory::build(
					'memberpress',
					$type,
					1,
					Farewell_Bridge_Event_Factory::subscription( array( 'id' => (string) $n, 'plan_name' => 'Gold' ) ),
					array(
						'occurred_at'  => 1600000000 + $n * 10 + $offset,
						'initiated_by' => 'system',
					)
				);
				$out[] = array(
					'webhook_id' => $event['webhook_id'],
					'type'       => $type,
					'payload'    => wp_json_encode( $event['payload'], JSON_UNESCAPED_SLASHES | JSON_UNESCAPED_UNICODE ),
				);
			}
		}
		return array(
			'events' => $out,
			'cursor' => $to >= $this->count ? null : (string) $to,
		);
	}
}

class ImporterTest extends Farewell_Test_Case {

	/** @var Farewell_Test_History_Source */
	private $reader;

	protected function setUp(): void {
		parent::setUp();
		delete_option( Farewell_Bridge_Importer::STATE_OPTION );
		wp_clear_scheduled_hook( Farewell_Bridge_Importer::CRON_HOOK );
		$this->reader = new Farewell_Test_History_Source( 120 );
		$this->add_filter(
			'farewell_bridge_history_sources',
			function () {
				return array( 'memberpress' => $this->reader );
			}
		);
		wp_set_current_user( 1 ); // The member's user: an administrator, with an email.
	}

	protected function tearDown(): void {
		delete_option( Farewell_Bridge_Importer::STATE_OPTION );
		wp_clear_scheduled_hook( Farewell_Bridge_Importer::CRON_HOOK );
		parent::tearDown();
	}

	/** Runs steps until the import is done (at most $max). */
	private function run_to_end( $max = 100 ) {
		for ( $i = 0; $i < $max; $i++ ) {
			$state = Farewell_Bridge_Importer::step();
			if ( 'running' !== $state['status'] ) {
				return $state;
			}
		}
		$this->fail( 'The import did not end' );
	}

	public function test_an_import_queues_every_event_once_marked_as_imported_and_a_second_adds_nothing() {
		$state = Farewell_Bridge_Importer::start();
		$this->assertSame( 'running', $state['status'] );
		$this->assertNotFalse( wp_next_scheduled( Farewell_Bridge_Importer::CRON_HOOK ) );
		$state = $this->run_to_end();
		$this->assertSame( 'done', $state['status'] );
		$rows = $this->rows();
		$this->assertCount( 240, $rows );
		foreach ( $rows as $row ) {
			$this->assertSame( '1', $row['imported'] );
			$this->assertStringEndsWith( ',"imported":true}', $row['payload'] );
			$this->assertTrue( json_decode( $row['payload'], true )['imported'] );
		}
		// Oldest first: subscription 1's events come before subscription 120's.
		$this->assertSame( '1', json_decode( $rows[0]['payload'], true )['subscription']['id'] );
		$this->assertSame( '120', json_decode( $rows[239]['payload'], true )['subscription']['id'] );
		$progress = Farewell_Bridge_Importer::progress();
		$this->assertSame( 240, $progress['totals']['queued'] );
		$this->assertSame( 120, $progress['totals']['read'] );

		// Again: every webhook-id is known.
		Farewell_Bridge_Importer::start();
		$state = $this->run_to_end();
		$this->assertCount( 240, $this->rows() );
		$this->assertSame( 0, $state['sources']['memberpress']['queued'] );
		$this->assertSame( 240, $state['sources']['memberpress']['known'] );
	}

	public function test_an_imported_event_has_the_bytes_of_the_live_one_plus_the_marker() {
		$live = $this->reader->events( null, 1, null )['events'][0];
		$this->assertSame( substr( $live['payload'], 0, -1 ) . ',"imported":true}', Farewell_Bridge_Importer::mark( $live['payload'] ) );
		// The live event recorded first: the import finds its webhook-id and adds nothing for it.
		Farewell_Bridge_Outbox::insert( $live['webhook_id'], $live['type'], $live['payload'] );
		Farewell_Bridge_Importer::start();
		$state = $this->run_to_end();
		$this->assertSame( 1, $state['sources']['memberpress']['known'] );
		$this->assertCount( 240, $this->rows() );
	}

	public function test_an_import_interrupted_mid_way_goes_on_from_where_it_stopped() {
		$this->reader->crash_after = 50; // The second batch of 50 subscriptions dies.
		Farewell_Bridge_Importer::start();
		try {
			Farewell_Bridge_Importer::step();
			$this->fail( 'The stand-in should have crashed' );
		} catch ( RuntimeException $e ) {
			$this->assertSame( 'PHP died here', $e->getMessage() );
		}
		$saved = Farewell_Bridge_Importer::state();
		$this->assertSame( 'running', $saved['status'] );
		$this->assertSame( '50', $saved['sources']['memberpress']['cursor'] );
		$this->assertCount( 100, $this->rows() );
		$calls = $this->reader->calls;
		$state = $this->run_to_end();
		$this->assertSame( 'done', $state['status'] );
		$this->assertCount( 240, $this->rows() );
		$this->assertSame( 2, $this->reader->calls - $calls, 'the first batch is not read again' );
	}

	/** The SQL statements run while $callback runs that match $pattern. */
	private function statements( $pattern, callable $callback ) {
		$seen = array();
		$spy  = function ( $query ) use ( &$seen, $pattern ) {
			if ( preg_match( $pattern, $query ) ) {
				$seen[] = $query;
			}
			return $query;
		};
		add_filter( 'query', $spy );
		try {
			$callback();
		} finally {
			remove_filter( 'query', $spy );
		}
		return $seen;
	}

	public function test_a_step_queues_each_batch_of_the_reader_in_one_insert() {
		Farewell_Bridge_Importer::start();
		$inserts = $this->statements(
			'/^\s*INSERT\b.*' . preg_quote( Farewell_Bridge_Outbox::table(), '/' ) . '/s',
			function () {
				Farewell_Bridge_Importer::step();
			}
		);
		$this->assertCount( 240, $this->rows() );
		// 120 subscriptions read 50 at a time: three batches, one INSERT each (240 before).
		$this->assertCount( 3, $inserts );
		$this->assertSame( 240, Farewell_Bridge_Importer::state()['sources']['memberpress']['queued'] );
	}

	public function test_a_batch_the_database_refuses_is_stored_not_at_all_and_read_again() {
		Farewell_Bridge_Importer::start();
		// The database refuses the second INSERT into the outbox.
		$inserts = 0;
		$this->add_filter(
			'query',
			function ( $query ) use ( &$inserts ) {
				if ( 0 === strpos( $query, 'INSERT IGNORE INTO ' . Farewell_Bridge_Outbox::table() ) && 2 === ++$inserts ) {
					return 'INSERT IGNORE INTO ' . Farewell_Bridge_Outbox::table() . ' (no_such_column) VALUES (1)';
				}
				return $query;
			}
		);
		$state = Farewell_Bridge_Importer::step();
		$this->assertNotEmpty( $state['error'] );
		$this->assertCount( 100, $this->rows(), 'the first batch stored, nothing of the second' );
		$this->assertSame( '50', Farewell_Bridge_Importer::state()['sources']['memberpress']['cursor'] );
		remove_all_filters( 'query' );
		$state = $this->run_to_end();
		$this->assertSame( 'done', $state['status'] );
		$this->assertCount( 240, $this->rows() );
	}

	public function test_a_step_with_a_queue_limit_ends_after_the_batch_that_reaches_it() {
		Farewell_Bridge_Importer::start();
		$state = Farewell_Bridge_Importer::step( null, array( 'queue_limit' => 150 ) );
		$this->assertSame( 'running', $state['status'] );
		$this->assertCount( 200, $this->rows(), 'two batches of 50 subscriptions (100 rows each), then the limit' );
		$this->assertSame( '100', $state['sources']['memberpress']['cursor'] );
		$state = Farewell_Bridge_Importer::step( null, array( 'queue_limit' => 150 ) );
		$this->assertSame( 'done', $state['status'] );
		$this->assertCount( 240, $this->rows() );
	}

	public function test_a_step_adds_nothing_while_the_imported_backlog_waits() {
		$this->add_filter(
			'farewell_bridge_import_backlog',
			function () {
				return 30;
			}
		);
		Farewell_Bridge_Importer::start();
		$state = Farewell_Bridge_Importer::step();
		$this->assertTrue( $state['waiting'] );
		$this->assertSame( 'running', $state['status'] );
		$this->assertCount( 100, $this->rows(), 'one batch of 50 subscriptions, then the backlog was full' );
		$state = Farewell_Bridge_Importer::step();
		$this->assertCount( 100, $this->rows() );
		// The sidecar takes them: the next step goes on.
		$this->fake_sidecar( array( 202 ) );
		Farewell_Bridge_Dispatcher::action_farewell_bridge_deliver();
		$this->assertSame( 0, Farewell_Bridge_Importer::backlog() );
		Farewell_Bridge_Importer::step();
		$this->assertCount( 200, $this->rows() );
	}

	public function test_live_rows_are_sent_before_the_imported_backlog() {
		Farewell_Bridge_Importer::start();
		Farewell_Bridge_Importer::step();
		$live = Farewell_Bridge_Outbox::insert( 'fwb_live', 'subscription.cancelled', '{"type":"subscription.cancelled"}' );
		$due  = Farewell_Bridge_Outbox::due_ids( 3 );
		$this->assertSame( $live, $due[0] );
		$this->fake_sidecar( array( 202 ) );
		Farewell_Bridge_Dispatcher::deliver_ids( Farewell_Bridge_Outbox::due_ids( 2 ), 3.0 );
		$this->assertSame( 'fwb_live', json_decode( $this->requests[0]['body'], true )['events'][0]['webhook_id'] );
	}

	public function test_cron_runs_the_steps_and_schedules_the_next_while_the_import_runs() {
		$this->add_filter(
			'farewell_bridge_import_backlog',
			function () {
				return 30;
			}
		);
		Farewell_Bridge_Importer::start();
		wp_clear_scheduled_hook( Farewell_Bridge_Importer::CRON_HOOK );
		do_action( Farewell_Bridge_Importer::CRON_HOOK );
		$this->assertCount( 100, $this->rows() );
		$next = wp_next_scheduled( Farewell_Bridge_Importer::CRON_HOOK );
		$this->assertGreaterThanOrEqual( time() + Farewell_Bridge_Importer::CRON_INTERVAL - 5, $next, 'waiting for the outbox: a minute later' );
		// Once the sidecar took the backlog, cron goes on to the end and schedules nothing more.
		$this->remove_filters_for_backlog();
		wp_clear_scheduled_hook( Farewell_Bridge_Importer::CRON_HOOK );
		for ( $i = 0; $i < 20 && 'running' === Farewell_Bridge_Importer::state()['status']; $i++ ) {
			do_action( Farewell_Bridge_Importer::CRON_HOOK );
			wp_clear_scheduled_hook( Farewell_Bridge_Importer::CRON_HOOK );
		}
		$this->assertSame( 'done', Farewell_Bridge_Importer::state()['status'] );
		$this->assertCount( 240, $this->rows() );
		do_action( Farewell_Bridge_Importer::CRON_HOOK );
		$this->assertFalse( wp_next_scheduled( Farewell_Bridge_Importer::CRON_HOOK ) );
	}

	private function remove_filters_for_backlog() {
		remove_all_filters( 'farewell_bridge_import_backlog' );
	}

	public function test_a_dry_run_counts_and_writes_nothing() {
		$state = Farewell_Bridge_Importer::plan();
		while ( 'running' === $state['status'] ) {
			$state = Farewell_Bridge_Importer::step( $state, array( 'dry' => true ) );
		}
		$this->assertSame( 240, $state['sources']['memberpress']['queued'] );
		$this->assertCount( 0, $this->rows() );
		$this->assertSame( 'idle', Farewell_Bridge_Importer::state()['status'] );
	}

	public function test_an_older_outbox_table_gains_the_imported_column() {
		global $wpdb;
		$table = Farewell_Bridge_Outbox::table();
		$wpdb->query( "ALTER TABLE {$table} DROP INDEX imported_status, DROP COLUMN imported" );
		update_option( Farewell_Bridge_Outbox::SCHEMA_OPTION, 1 );
		Farewell_Bridge_Outbox::maybe_upgrade();
		$this->assertSame( 'imported', $wpdb->get_var( "SHOW COLUMNS FROM {$table} LIKE 'imported'" ) );
		$this->assertSame( Farewell_Bridge_Outbox::SCHEMA_VERSION, (int) get_option( Farewell_Bridge_Outbox::SCHEMA_OPTION ) );
	}

	public function test_the_page_poll_needs_the_nonce_and_the_capability() {
		Farewell_Bridge_Importer::start();
		wp_set_current_user( $this->user( 'subscriber' ) );
		$_REQUEST['_ajax_nonce'] = wp_create_nonce( Farewell_Bridge_Importer::AJAX_ACTION );
		try {
			Farewell_Bridge_Importer::action_wp_ajax_farewell_bridge_import_step();
			$this->fail( 'A subscriber ran an import step' );
		} catch ( Farewell_Test_Die $e ) {
			$this->assertSame( 403, $e->status );
			$this->assertCount( 0, $this->rows() );
		} finally {
			unset( $_REQUEST['_ajax_nonce'] );
		}
	}

	public function test_the_page_poll_runs_a_step_answers_the_progress_and_leaves_cron_scheduled() {
		Farewell_Bridge_Importer::start();
		wp_clear_scheduled_hook( Farewell_Bridge_Importer::CRON_HOOK ); // Lost, as by a deactivation.
		wp_set_current_user( $this->user( 'administrator' ) );
		$_REQUEST['_ajax_nonce'] = wp_create_nonce( Farewell_Bridge_Importer::AJAX_ACTION );
		$this->add_filter( 'wp_doing_ajax', '__return_true' );
		$this->add_filter(
			'wp_die_ajax_handler',
			function () {
				return function () {
					throw new Farewell_Test_Die( '', 200 );
				};
			}
		);
		$this->add_filter(
			'farewell_bridge_import_backlog',
			function () {
				return 30;
			}
		);
		ob_start();
		try {
			Farewell_Bridge_Importer::action_wp_ajax_farewell_bridge_import_step();
			$this->fail( 'The poll did not answer' );
		} catch ( Farewell_Test_Die $e ) {
			$answer = json_decode( (string) ob_get_contents(), true );
		} finally {
			ob_end_clean();
			unset( $_REQUEST['_ajax_nonce'] );
		}
		$this->assertTrue( $answer['success'] );
		$this->assertSame( 'running', $answer['data']['status'] );
		$this->assertSame( 100, $answer['data']['totals']['queued'] );
		$this->assertSame( 100, $answer['data']['waiting'] );
		$this->assertNotFalse( wp_next_scheduled( Farewell_Bridge_Importer::CRON_HOOK ) );
	}

	/** Posts the Start form; returns the Farewell_Test_Die or Farewell_Test_Redirect it ended with. */
	private function press_start( $nonce, $since = '' ) {
		$_POST    = array( 'since' => $since, '_wpnonce' => $nonce );
		$_REQUEST = $_POST;
		try {
			do_action( 'admin_post_' . Farewell_Bridge_Importer::START_ACTION );
		} catch ( Farewell_Test_Die $e ) {
			return $e;
		} catch ( Farewell_Test_Redirect $e ) {
			return $e;
		} finally {
			$_POST    = array();
			$_REQUEST = array();
		}
		$this->fail( 'Start neither redirected nor died' );
	}

	public function test_start_needs_the_capability_and_the_nonce_and_a_real_day() {
		wp_set_current_user( $this->user( 'subscriber' ) );
		$refused = $this->press_start( wp_create_nonce( Farewell_Bridge_Importer::START_ACTION ) );
		$this->assertInstanceOf( Farewell_Test_Die::class, $refused );
		$this->assertSame( 403, $refused->status );
		wp_set_current_user( $this->user( 'administrator' ) );
		$forged = $this->press_start( 'forged' );
		$this->assertInstanceOf( Farewell_Test_Die::class, $forged );
		$this->assertSame( 'idle', Farewell_Bridge_Importer::state()['status'] );

		$bad = $this->press_start( wp_create_nonce( Farewell_Bridge_Importer::START_ACTION ), '2024-02-30' );
		$this->assertInstanceOf( Farewell_Test_Redirect::class, $bad );
		$this->assertStringContainsString( 'farewell_import_error=since', $bad->getMessage() );
		$this->assertSame( 'idle', Farewell_Bridge_Importer::state()['status'] );

		$started = $this->press_start( wp_create_nonce( Farewell_Bridge_Importer::START_ACTION ), '2024-01-01' );
		$this->assertInstanceOf( Farewell_Test_Redirect::class, $started );
		$this->assertStringContainsString( 'page=farewell-import', $started->getMessage() );
		$this->assertStringNotContainsString( 'error', $started->getMessage() );
		$state = Farewell_Bridge_Importer::state();
		$this->assertSame( 'running', $state['status'] );
		$this->assertSame( 1704067200, $state['since'] );
	}

	public function test_the_page_says_what_it_found_and_shows_the_progress() {
		wp_set_current_user( $this->user( 'subscriber' ) );
		try {
			Farewell_Bridge_Import_Page::render_page();
			$this->fail( 'A subscriber saw the import page' );
		} catch ( Farewell_Test_Die $e ) {
			$this->assertSame( 403, $e->status );
		}
		wp_set_current_user( $this->user( 'administrator' ) );
		ob_start();
		Farewell_Bridge_Import_Page::render_page();
		$idle = ob_get_clean();
		$this->assertStringContainsString( 'MemberPress: 120 subscriptions, 120 cancelled', $idle );
		$this->assertStringContainsString( 'name="action" value="' . Farewell_Bridge_Importer::START_ACTION . '"', $idle );
		$this->assertStringContainsString( 'name="_wpnonce"', $idle );

		Farewell_Bridge_Importer::start();
		$this->run_to_end();
		ob_start();
		Farewell_Bridge_Import_Page::render_page();
		$done = ob_get_clean();
		$this->assertStringContainsString( 'Import finished.', $done );
		$this->assertMatchesRegularExpression( '/data-farewell-import="queued">240</', $done );
	}
}
