<?php
/**
 * Base class: an empty outbox, known settings, no leftover hooks, and helpers to fake the
 * sidecar's HTTP answers (pre_http_request) and catch wp_die()/redirects as exceptions.
 */

use PHPUnit\Framework\TestCase;

/** Thrown instead of wp_die(). */
class Farewell_Test_Die extends Exception {
	public $status;

	public function __construct( $message, $status ) {
		parent::__construct( (string) $message );
		$this->status = (int) $status;
	}
}

/** Thrown instead of redirecting. */
class Farewell_Test_Redirect extends Exception {
}

abstract class Farewell_Test_Case extends TestCase {

	const SECRET = 'whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw';

	/** @var array[] Requests seen by the fake sidecar. */
	protected $requests = array();

	/** @var array Callbacks added by a test, removed in tearDown. */
	private $added = array();

	protected function setUp(): void {
		global $wpdb;
		parent::setUp();
		// DELETE, not TRUNCATE: TRUNCATE recreates the table (DDL, about 14 ms on the test MariaDB
		// against 2 ms), twice per test for 300-odd tests on each WordPress version. No test relies on
		// the ids starting again at 1.
		$wpdb->query( 'DELETE FROM ' . Farewell_Bridge_Outbox::table() );
		$wpdb->query( 'DELETE FROM ' . Farewell_Bridge_Rate_Limit::table() );
		foreach ( array( Farewell_Bridge_Clock::OPTION, Farewell_Bridge_Outbox::PAUSED_OPTION, Farewell_Bridge_Outbox::LAST_DELIVERY_OPTION, Farewell_Bridge_Dispatcher::CIRCUIT_OPTION, 'farewell_test_meprsubscription', 'farewell_test_meprtransaction', 'farewell_test_meprevent', 'farewell_test_pmpro_memberships' ) as $option ) {
			delete_option( $option );
		}
		update_option(
			Farewell_Bridge_Settings::OPTION,
			array(
				'sidecar_url' => 'http://127.0.0.1:9',
				'site_id'     => 'site_test',
				'delete_data' => false,
			)
		);
		Farewell_Bridge_Settings::ensure_secret_option();
		update_option( Farewell_Bridge_Settings::SECRET_OPTION, self::SECRET );
		Farewell_Bridge_Event_Factory::reset();
		Farewell_Bridge_Source_Memberpress::reset();
		Farewell_Bridge_Dispatcher::forget();
		wp_set_current_user( 0 );
		$this->requests = array();
		$this->add_filter( 'wp_die_handler', function () {
			return function ( $message, $title = '', $args = array() ) {
				$status = is_array( $args ) && isset( $args['response'] ) ? $args['response'] : 500;
				if ( is_wp_error( $message ) ) {
					$message = $message->get_error_message();
				}
				throw new Farewell_Test_Die( is_string( $message ) ? $message : '', $status );
			};
		} );
		$this->add_filter( 'wp_redirect', function ( $location ) {
			throw new Farewell_Test_Redirect( $location );
		} );
	}

	protected function tearDown(): void {
		foreach ( $this->added as $hook ) {
			remove_filter( $hook[0], $hook[1], $hook[2] );
		}
		$this->added = array();
		Farewell_Bridge_Dispatcher::forget();
		wp_set_current_user( 0 );
		parent::tearDown();
	}

	/** add_filter that is undone after the test. */
	protected function add_filter( $hook, $callback, $priority = 10, $args = 1 ) {
		add_filter( $hook, $callback, $priority, $args );
		$this->added[] = array( $hook, $callback, $priority );
	}

	/**
	 * Answers every HTTP request with the next of $answers (status int, or WP_Error, or
	 * array(status, body)), the last one repeating. Records each request. A 2xx status alone
	 * answers a batch (…/events/batch) with one result per item: 202 accepted, 200 duplicate.
	 */
	protected function fake_sidecar( array $answers ) {
		$this->add_filter(
			'pre_http_request',
			function ( $pre, $args, $url ) use ( &$answers ) {
				$this->requests[] = array(
					'url'     => $url,
					'method'  => isset( $args['method'] ) ? $args['method'] : 'GET',
					'headers' => $args['headers'],
					'body'    => $args['body'],
					'timeout' => $args['timeout'],
				);
				$answer = count( $answers ) > 1 ? array_shift( $answers ) : $answers[0];
				if ( is_wp_error( $answer ) ) {
					return $answer;
				}
				$status = is_array( $answer ) ? $answer[0] : $answer;
				$body   = is_array( $answer ) ? $answer[1] : ( $status < 300 ? '{"status":"accepted"}' : '{"error":"x"}' );
				if ( ! is_array( $answer ) && $status < 300 && '/events/batch' === substr( $url, -13 ) ) {
					// A batch answered as the sidecar would: one result per item, each like the status.
					$results = array();
					foreach ( json_decode( $args['body'], true )['events'] as $item ) {
						$results[] = array(
							'webhook_id' => $item['webhook_id'],
							'status'     => 200 === $status ? 'duplicate' : 'accepted',
						);
					}
					$body = wp_json_encode( array( 'results' => $results ) );
				}
				return array(
					'headers'  => array( 'content-type' => 'application/json' ),
					'body'     => $body,
					'response' => array(
						'code'    => $status,
						'message' => get_status_header_desc( $status ),
					),
					'cookies'  => array(),
					'filename' => null,
				);
			},
			10,
			3
		);
	}

	/** All outbox rows, oldest first. */
	protected function rows() {
		global $wpdb;
		return $wpdb->get_results( 'SELECT * FROM ' . Farewell_Bridge_Outbox::table() . ' ORDER BY id', ARRAY_A );
	}

	/** Payloads of all rows, decoded. */
	protected function payloads() {
		return array_map(
			function ( $row ) {
				return json_decode( $row['payload'], true );
			},
			$this->rows()
		);
	}

	/**
	 * Asserts that an event's subscription object has exactly these fields, in the order of
	 * docs/PROTOCOL.md (the bytes of the event's JSON depend on it).
	 */
	protected function assert_subscription_fields( array $fields, array $subscription ) {
		$order = array( 'id', 'plan_id', 'plan_name', 'amount', 'currency', 'interval', 'status', 'started_at', 'access_ends_at' );
		$this->assertSame( array_values( array_intersect( $order, $fields ) ), array_keys( $subscription ) );
	}

	/** A user with a role, email and first name. */
	protected function user( $role = 'subscriber', $first_name = 'Ana', $locale = '' ) {
		$login = 'u' . wp_generate_password( 10, false );
		$id    = wp_insert_user(
			array(
				'user_login' => $login,
				'user_pass'  => wp_generate_password(),
				'user_email' => $login . '@example.org',
				'first_name' => $first_name,
				'role'       => $role,
				'locale'     => $locale,
			)
		);
		$this->assertIsInt( $id );
		return $id;
	}

	/** Queues one event row directly through the factory. */
	protected function queue_event( $marker = 'm1' ) {
		$user = $this->user();
		Farewell_Bridge_Event_Factory::record( 'memberpress', 'subscription.cancelled', $user, array( 'id' => 'sub-' . $marker ), array( 'marker' => $marker ) );
		$rows = $this->rows();
		return end( $rows );
	}

	/** Runs $callback with WordPress and the plugin switched to French. */
	protected function in_french( callable $callback ) {
		// No French WordPress core files are installed on the test site; declare fr_FR available.
		$available = function ( $languages ) {
			return array_merge( (array) $languages, array( 'fr_FR' ) );
		};
		add_filter( 'get_available_languages', $available );
		$original                      = $GLOBALS['wp_locale_switcher'];
		$GLOBALS['wp_locale_switcher'] = new WP_Locale_Switcher();
		$GLOBALS['wp_locale_switcher']->init();
		try {
			$this->assertTrue( switch_to_locale( 'fr_FR' ) );
			load_plugin_textdomain( 'farewell-bridge', false, 'farewell-bridge/languages' );
			return $callback();
		} finally {
			restore_previous_locale();
			$GLOBALS['wp_locale_switcher'] = $original;
			remove_filter( 'get_available_languages', $available );
		}
	}

	/** Calls an admin-post handler and returns what stopped it (die or redirect). */
	protected function call_admin_action( $action, array $get = array() ) {
		$_GET     = $get;
		$_REQUEST = $get;
		try {
			do_action( 'admin_post_' . $action );
		} catch ( Farewell_Test_Die $e ) {
			return $e;
		} catch ( Farewell_Test_Redirect $e ) {
			return $e;
		} finally {
			$_GET     = array();
			$_REQUEST = array();
		}
		$this->fail( "admin_post_$action neither redirected nor died" );
	}
}
