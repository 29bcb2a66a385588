<?php
/**
 * The exit survey: where the definition comes from, the reason order, how answers are checked
 * and capped, who may send one, and the outbox row it becomes.
 */
class SurveyTest extends Farewell_Test_Case {

	protected function setUp(): void {
		parent::setUp();
		Farewell_Bridge_Survey::flush_cache();
		Farewell_Bridge_Survey_Form::reset();
		unset( $GLOBALS['wp_rest_auth_cookie'] );
		$_REQUEST = array();
	}

	protected function tearDown(): void {
		Farewell_Bridge_Survey::flush_cache();
		unset( $GLOBALS['wp_rest_auth_cookie'] );
		$_REQUEST = array();
		parent::tearDown();
	}

	/** The sidecar's answer for a definition (version, language, a short list of reasons). */
	private function definition_body( $version = 2, $language = 'fr', array $extra = array() ) {
		return wp_json_encode(
			array_merge(
				array(
					'version'    => $version,
					'language'   => $language,
					'definition' => array(
						'title'           => 'Titre v' . $version,
						'reasons'         => array(
							array( 'code' => 'too_expensive', 'label' => 'Trop cher' ),
							array(
								'code'      => 'unused',
								'label'     => 'Pas utilisé',
								'follow_up' => array(
									'type'    => 'choice',
									'label'   => 'Pourquoi ?',
									'choices' => array( array( 'code' => 'no_time', 'label' => 'Pas le temps' ) ),
								),
							),
							array( 'code' => 'other', 'label' => 'Autre' ),
						),
						'shuffle_reasons' => true,
						'pinned_last'     => array( 'other' ),
						'limits'          => array( 'comment' => 5000, 'follow_up' => 1000, 'contact' => 200 ),
						'thanks'          => 'Merci',
					),
				),
				$extra
			)
		);
	}

	private function autoload_of( $option ) {
		global $wpdb;
		return $wpdb->get_var( $wpdb->prepare( "SELECT autoload FROM {$wpdb->options} WHERE option_name = %s", $option ) );
	}

	// --- the definition --------------------------------------------------------------------

	public function test_the_definition_is_fetched_signed_then_served_from_the_cache() {
		$this->fake_sidecar( array( array( 200, $this->definition_body() ) ) );
		$first = Farewell_Bridge_Survey::definition( 'fr_FR' );
		$this->assertSame( 'sidecar', $first['origin'] );
		$this->assertSame( 2, $first['version'] );
		$this->assertCount( 1, $this->requests );
		$this->assertStringContainsString( '/v1/sites/site_test/survey?locale=fr_FR', $this->requests[0]['url'] );
		$this->assertArrayHasKey( 'webhook-signature', $this->requests[0]['headers'] );
		$this->assertLessThanOrEqual( 2.0, $this->requests[0]['timeout'] );

		$second = Farewell_Bridge_Survey::definition( 'fr_CA' );
		$this->assertSame( 'cache', $second['origin'] );
		$this->assertSame( 'Titre v2', $second['definition']['title'] );
		$this->assertCount( 1, $this->requests, 'no second request while the cache is warm' );
		$this->assertContains( $this->autoload_of( Farewell_Bridge_Survey::LAST_KNOWN_PREFIX . 'fr' ), array( 'no', 'off' ) );
	}

	public function test_with_the_sidecar_down_and_nothing_cached_the_bundled_default_renders() {
		$this->fake_sidecar( array( new WP_Error( 'http_request_failed', 'cURL error 7: Failed to connect' ) ) );
		$entry = Farewell_Bridge_Survey::definition( 'fr_FR' );
		$this->assertSame( 'bundled', $entry['origin'] );
		$this->assertSame( 1, $entry['version'] );
		$this->assertSame( 'Avant de partir', $entry['definition']['title'] );
		$this->assertCount( 9, $entry['definition']['reasons'] );

		$english = Farewell_Bridge_Survey::definition( 'de_DE' ); // Neither English nor French: the site's (en_US).
		$this->assertSame( 'Before you go', $english['definition']['title'] );
		$this->assertCount( 1, $this->requests, 'a failed fetch holds the next ones back for a minute' );
	}

	public function test_when_the_cache_expires_and_the_sidecar_is_down_the_last_known_definition_is_used() {
		$this->fake_sidecar( array( array( 200, $this->definition_body( 3 ) ), new WP_Error( 'http_request_failed', 'cURL error 28: timed out' ) ) );
		Farewell_Bridge_Survey::definition( 'fr_FR' );
		delete_transient( Farewell_Bridge_Survey::CACHE_PREFIX . 'fr' );
		$entry = Farewell_Bridge_Survey::definition( 'fr_FR' );
		$this->assertSame( 'last-known', $entry['origin'] );
		$this->assertSame( 3, $entry['version'] );
	}

	public function test_an_unusable_answer_from_the_sidecar_is_not_cached() {
		$this->fake_sidecar( array( array( 200, '{"version": 2, "language": "fr", "definition": "nope"}' ) ) );
		$this->assertSame( 'bundled', Farewell_Bridge_Survey::definition( 'fr_FR' )['origin'] );
		$this->assertFalse( get_transient( Farewell_Bridge_Survey::CACHE_PREFIX . 'fr' ) );
	}

	// --- the reason order ------------------------------------------------------------------

	public function test_reasons_are_shuffled_per_member_stably_with_other_last() {
		$definition = Farewell_Bridge_Survey::bundled( 'en' )['definition'];
		$codes      = function ( $seed ) use ( &$definition ) {
			return wp_list_pluck( Farewell_Bridge_Survey::ordered_reasons( $definition, $seed ), 'code' );
		};
		$this->assertSame( $codes( 'member:42' ), $codes( 'member:42' ), 'stable for one member' );
		$orders = array();
		$firsts = array();
		for ( $i = 1; $i <= 20; $i++ ) {
			$order = $codes( 'member:' . $i );
			$this->assertSame( 'other', end( $order ) );
			$this->assertCount( 9, $order );
			$orders[ implode( ',', $order ) ] = true;
			$firsts[ $order[0] ]               = true;
		}
		$this->assertGreaterThan( 10, count( $orders ), 'different members see different orders' );
		$this->assertGreaterThan( 3, count( $firsts ), 'no reason is always first' );

		$definition['shuffle_reasons'] = false;
		$this->assertSame( wp_list_pluck( $definition['reasons'], 'code' ), $codes( 'member:7' ) );
	}

	// --- checking an answer ----------------------------------------------------------------

	public function test_answers_are_checked_against_the_version_answered() {
		$bad_reason = Farewell_Bridge_Survey::check( array( 'version' => 1, 'locale' => 'fr_FR', 'reason' => 'bored' ) );
		$this->assertInstanceOf( WP_Error::class, $bad_reason );
		$this->assertArrayHasKey( 'reason', $bad_reason->get_error_data()['fields'] );

		$bad_choice = Farewell_Bridge_Survey::check(
			array(
				'version'   => 1,
				'reason'    => 'unused',
				'follow_up' => array( 'unused' => 'lazy' ),
			)
		);
		$this->assertInstanceOf( WP_Error::class, $bad_choice );
		$this->assertArrayHasKey( 'follow_up', $bad_choice->get_error_data()['fields'] );

		$good = Farewell_Bridge_Survey::check(
			array(
				'version'   => '1',
				'locale'    => 'fr_FR',
				'reason'    => 'unused',
				'follow_up' => array(
					'unused'        => 'no_time',
					'too_expensive' => 'ignored: not the chosen reason',
				),
			)
		);
		$this->assertSame(
			array(
				'version'           => 1,
				'locale'            => 'fr_FR',
				'reason'            => 'unused',
				'follow_up'         => 'no_time',
				'contact_requested' => false,
			),
			$good
		);
	}

	public function test_every_field_is_optional() {
		$this->assertSame( array( 'version', 'locale', 'contact_requested' ), array_keys( Farewell_Bridge_Survey::check( array() ) ) );
	}

	public function test_text_is_capped_and_control_characters_are_stripped() {
		$answer = Farewell_Bridge_Survey::check(
			array(
				'version'           => 1,
				'reason'            => 'missing_features',
				'follow_up'         => array( 'missing_features' => str_repeat( 'é', 1200 ) ),
				'comment'           => "  <b>Trop</b>\x00\x07 cher\r\nvraiment\x1b " . str_repeat( 'x', 6000 ),
				'contact_requested' => '1',
				'contact'           => str_repeat( '0', 300 ),
			)
		);
		$this->assertSame( 1000, mb_strlen( $answer['follow_up'] ) );
		$this->assertSame( 5000, mb_strlen( $answer['comment'] ) );
		$this->assertStringStartsWith( "<b>Trop</b> cher\nvraiment x", $answer['comment'], 'HTML kept as text, controls gone' );
		$this->assertSame( 200, strlen( $answer['contact'] ) );
		$this->assertTrue( $answer['contact_requested'] );
	}

	// --- who may answer --------------------------------------------------------------------

	private function rest( array $params, $content_type = 'application/json' ) {
		$request = new WP_REST_Request( 'POST', '/farewell/v1/survey' );
		if ( 'application/json' === $content_type ) {
			$request->set_header( 'Content-Type', 'application/json' );
			$request->set_body( wp_json_encode( $params ) );
		} else {
			$request->set_header( 'Content-Type', 'application/x-www-form-urlencoded' );
			$request->set_body_params( $params );
		}
		return rest_do_request( $request );
	}

	/** The survey page showed this email link while the sidecar could not be asked. */
	private function shown( $token ) {
		set_transient( Farewell_Bridge_Survey::TOKEN_SEEN_PREFIX . Farewell_Bridge_Survey::token_hash( $token ), 1, 60 );
	}

	/** What WordPress does with a cookie-authenticated REST request before routing it. */
	private function cookie_check( $nonce ) {
		$GLOBALS['wp_rest_auth_cookie'] = true;
		$_REQUEST                       = null === $nonce ? array() : array( '_wpnonce' => $nonce );
		return @rest_cookie_check_errors( null ); // phpcs:ignore WordPress.PHP.NoSilencedErrors -- it sends a refreshed nonce header, after PHPUnit's output.
	}

	public function test_a_signed_out_visitor_without_a_token_is_refused() {
		$response = $this->rest( array( 'reason' => 'other' ) );
		$this->assertSame( 401, $response->get_status() );
		$this->assertSame( array(), $this->rows() );
	}

	public function test_a_signed_in_member_without_the_rest_nonce_is_refused() {
		wp_set_current_user( $this->user() );
		$this->cookie_check( null );
		$this->assertSame( 0, get_current_user_id(), 'WordPress signs the request out' );
		$this->assertSame( 401, $this->rest( array( 'reason' => 'other' ) )->get_status() );
		$this->assertSame( array(), $this->rows() );
	}

	public function test_a_signed_in_member_with_the_nonce_answers_for_their_own_cancel() {
		$user = $this->user( 'subscriber', 'Ana', 'fr_FR' );
		wp_set_current_user( $user );
		update_user_meta(
			$user,
			Farewell_Bridge_Survey::PENDING_META,
			array(
				'subscription_id' => '31',
				'source'          => 'memberpress',
				'at'              => time(),
				'shown'           => true,
			)
		);
		$this->assertTrue( $this->cookie_check( wp_create_nonce( 'wp_rest' ) ) );
		$this->assertSame( $user, get_current_user_id() );

		$answer   = array(
			'version'   => 1,
			'locale'    => 'fr_FR',
			'reason'    => 'switched_service',
			'follow_up' => array( 'switched_service' => 'Un concurrent' ),
			'comment'   => 'Au revoir',
			'answer_id' => 'a1b2c3d4-0000-4000-8000-000000000001',
		);
		$response = $this->rest( $answer );
		$this->assertSame( 201, $response->get_status(), wp_json_encode( $response->get_data() ) );
		$this->assertSame( 'recorded', $response->get_data()['status'] );

		$this->assertSame( 201, $this->rest( $answer )->get_status(), 'the same form sent twice' );
		$rows = $this->rows();
		$this->assertCount( 1, $rows, 'is one event' );
		$this->assertSame( 'survey.submitted', $rows[0]['event_type'] );
		$this->assertSame( 'pending', $rows[0]['status'] );
		$this->assertSame( Farewell_Bridge_Survey::webhook_id( 'user:' . $user, $answer['answer_id'] ), $rows[0]['webhook_id'] );
		$payload = json_decode( $rows[0]['payload'], true );
		$this->assertSame( 'memberpress', $payload['source'] );
		$this->assertSame( 'member', $payload['initiated_by'] );
		$this->assertSame( (string) $user, $payload['member']['id'] );
		$this->assertSame(
			array(
				'version'           => 1,
				'locale'            => 'fr_FR',
				'reason'            => 'switched_service',
				'follow_up'         => 'Un concurrent',
				'comment'           => 'Au revoir',
				'contact_requested' => false,
				'subscription_id'   => '31',
			),
			$payload['survey']
		);
		$this->assertMatchesRegularExpression( '/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/', $payload['occurred_at'] );
		$this->assertTrue( Farewell_Bridge_Survey::answerable( $user )['answered'], 'answered: the survey no longer shows by itself' );

		$this->rest( array_merge( $answer, array( 'answer_id' => 'a1b2c3d4-0000-4000-8000-000000000002' ) ) );
		$this->assertCount( 2, $this->rows(), 'a new answer (which replaces the first in the sidecar) is a new event' );
	}

	/** The member's own cancel, recorded as the bridge records it, $ago seconds ago. */
	private function cancelled( $user, $ago = 0, $subscription = 'sub_9', $source = 'paidmembershipspro' ) {
		Farewell_Bridge_Survey::action_farewell_bridge_event_recorded(
			array(
				'type'         => 'subscription.cancelled',
				'source'       => $source,
				'initiated_by' => 'member',
				'member'       => array(
					'id'    => (string) $user,
					'email' => 'member@example.org',
				),
				'subscription' => array( 'id' => $subscription ),
			)
		);
		$kept          = get_user_meta( $user, Farewell_Bridge_Survey::PENDING_META, true );
		$kept[0]['at'] = time() - $ago;
		update_user_meta( $user, Farewell_Bridge_Survey::PENDING_META, $kept );
	}

	/**
	 * The member's own web request on PHP-FPM (see RequestPathCostTest): cancels as the bridge
	 * records them, the cookie each sets kept here as a browser would keep it.
	 */
	private function on_php_fpm( $user ) {
		wp_set_current_user( $user );
		$this->add_filter( 'farewell_bridge_is_system', '__return_false' );
		$this->add_filter( 'farewell_bridge_can_end_response', '__return_true' );
		$this->cookies = array();
		$this->add_filter(
			'farewell_bridge_send_survey_cookie',
			function ( $sent, $value, $expires ) {
				$this->cookies[] = array( $value, $expires );
				return true;
			},
			10,
			3
		);
	}

	/** @var array[] The survey cookies sent, [value, expires]. */
	private $cookies = array();

	/** The member's own cancel, recorded as the bridge records it in their request. */
	private function own_cancel( $user, $subscription ) {
		Farewell_Bridge_Survey::action_farewell_bridge_event_recorded(
			array(
				'type'         => 'subscription.cancelled',
				'source'       => 'memberpress',
				'initiated_by' => 'member',
				'member'       => array(
					'id'    => (string) $user,
					'email' => 'member@example.org',
				),
				'subscription' => array( 'id' => $subscription ),
			)
		);
		$cookie = end( $this->cookies );
		return $cookie ? $cookie[0] : null;
	}

	/** The member's next page: the survey shows by itself when it did before, and is then marked shown. */
	private function next_page_shows_the_survey( $user, $cookie ) {
		if ( null === $cookie ) {
			unset( $_COOKIE[ Farewell_Bridge_Survey::COOKIE ] );
		} else {
			$_COOKIE[ Farewell_Bridge_Survey::COOKIE ] = $cookie;
		}
		$pending = Farewell_Bridge_Survey::pending( $user );
		$shows   = null !== $pending && ! $pending['shown'];
		if ( $shows ) {
			Farewell_Bridge_Survey::mark_shown( $user );
		}
		unset( $_COOKIE[ Farewell_Bridge_Survey::COOKIE ] );
		return $shows;
	}

	public function test_on_php_fpm_the_next_page_shows_the_survey_once_whichever_comes_first_the_cookie_or_the_meta() {
		$ana = $this->user( 'subscriber', 'Ana' );
		$this->on_php_fpm( $ana );

		// The next page before the cancel request has written its meta: the cookie shows it…
		$cookie = $this->own_cancel( $ana, '41' );
		$this->assertSame( array(), get_user_meta( $ana, Farewell_Bridge_Survey::PENDING_META ) );
		$this->assertTrue( $this->next_page_shows_the_survey( $ana, $cookie ) );
		$this->assertSame( array( '', true ), array( end( $this->cookies )[0], end( $this->cookies )[1] < time() ), 'read once, then cleared' );
		// …and the meta written afterwards does not make it show again, nor forget it was shown.
		Farewell_Bridge_Survey::action_shutdown();
		$this->assertFalse( $this->next_page_shows_the_survey( $ana, null ) );
		$this->assertFalse( $this->next_page_shows_the_survey( $ana, $cookie ), 'a cookie kept by the browser' );
		$this->assertSame( '41', Farewell_Bridge_Survey::answerable( $ana )['subscription_id'] );

		// The meta first (the usual order): the same, once.
		$cookie = $this->own_cancel( $ana, '42' );
		Farewell_Bridge_Survey::action_shutdown();
		$this->assertTrue( $this->next_page_shows_the_survey( $ana, $cookie ) );
		$this->assertFalse( $this->next_page_shows_the_survey( $ana, $cookie ) );
		// On another device (no cookie), after the meta was written: as before.
		$cookie = $this->own_cancel( $ana, '43' );
		Farewell_Bridge_Survey::action_shutdown();
		$this->assertTrue( $this->next_page_shows_the_survey( $ana, null ) );
		$this->assertFalse( $this->next_page_shows_the_survey( $ana, $cookie ) );
		$this->assertSame( array( '43', '42', '41' ), wp_list_pluck( Farewell_Bridge_Survey::cancellations( $ana ), 'subscription_id' ) );
	}

	public function test_on_php_fpm_the_page_the_cancel_request_draws_shows_the_survey_as_before() {
		$ana = $this->user( 'subscriber', 'Ana' );
		$this->on_php_fpm( $ana );
		$this->own_cancel( $ana, '45' );
		$this->own_cancel( $ana, '46' );
		// The meta is written after the response, but the page this request draws (PMPro confirms
		// the cancel on it) shows the survey as it did when the meta was written at once.
		$this->assertSame( array(), get_user_meta( $ana, Farewell_Bridge_Survey::PENDING_META ) );
		$pending = Farewell_Bridge_Survey::pending( $ana );
		$this->assertSame( array( '46', false ), array( $pending['subscription_id'], $pending['shown'] ) );
		Farewell_Bridge_Survey::mark_shown( $ana );
		Farewell_Bridge_Survey::action_shutdown();
		// Both cancels kept, and the survey shown once: the write after the response keeps the mark.
		$kept = array_column( Farewell_Bridge_Survey::cancellations( $ana ), 'shown', 'subscription_id' );
		ksort( $kept );
		$this->assertSame( array( 45 => false, 46 => true ), $kept );
		$this->assertFalse( $this->next_page_shows_the_survey( $ana, null ) );
	}

	public function test_on_php_fpm_a_cancel_after_the_page_began_writes_the_meta_after_the_response_too() {
		$ana = $this->user( 'subscriber', 'Ana' );
		$this->on_php_fpm( $ana );
		// MemberPress's ReadyLaunch account page prints itself before it cancels: no cookie can
		// be sent, and the meta is still written after the response, not on the member's clock.
		$this->add_filter( 'farewell_bridge_send_survey_cookie', '__return_false', 20 );
		$this->own_cancel( $ana, '47' );
		$this->assertSame( array(), get_user_meta( $ana, Farewell_Bridge_Survey::PENDING_META ) );
		// A next page that came before the write (another request: this one's deferred cancels
		// are not in it): no survey yet, and nothing written by it…
		$deferred = new ReflectionProperty( 'Farewell_Bridge_Survey', 'deferred' );
		$deferred->setAccessible( true );
		$held = $deferred->getValue();
		$deferred->setValue( null, array() );
		$this->assertFalse( $this->next_page_shows_the_survey( $ana, null ) );
		$deferred->setValue( null, $held );
		Farewell_Bridge_Survey::action_shutdown();
		// …so the page after it shows the survey, once.
		$this->assertTrue( $this->next_page_shows_the_survey( $ana, null ) );
		$this->assertFalse( $this->next_page_shows_the_survey( $ana, null ) );

		// The usual order, the write first: the next page shows it, once.
		$this->own_cancel( $ana, '48' );
		Farewell_Bridge_Survey::action_shutdown();
		$this->assertTrue( $this->next_page_shows_the_survey( $ana, null ) );
		$this->assertFalse( $this->next_page_shows_the_survey( $ana, null ) );
		$this->assertSame( array( '48', '47' ), wp_list_pluck( Farewell_Bridge_Survey::cancellations( $ana ), 'subscription_id' ) );
	}

	public function test_a_survey_cookie_that_is_not_the_members_own_recent_one_is_ignored_and_cleared() {
		$ana = $this->user( 'subscriber', 'Ana' );
		$bob = $this->user( 'subscriber', 'Bob' );
		$this->on_php_fpm( $bob );
		$bobs = $this->own_cancel( $bob, '51' );
		wp_set_current_user( $ana );
		$sent   = count( $this->cookies );
		$forged = substr( $bobs, 0, -1 ) . ( '0' === substr( $bobs, -1 ) ? '1' : '0' );
		foreach ( array( $bobs, $forged, 'x', str_repeat( 'a', 600 ) . '.b' ) as $cookie ) {
			$this->assertFalse( $this->next_page_shows_the_survey( $ana, $cookie ) );
		}
		$this->assertSame( array(), Farewell_Bridge_Survey::cancellations( $ana ) );
		$this->assertCount( $sent + 4, $this->cookies, 'each cleared' );
		$this->assertSame( array( '' ), array_unique( array_column( array_slice( $this->cookies, $sent ), 0 ) ) );
	}

	public function test_a_cancel_not_made_in_the_members_own_request_writes_the_meta_at_once_without_a_cookie() {
		$ana   = $this->user( 'subscriber', 'Ana' );
		$admin = $this->user( 'administrator', 'Root' );
		$this->on_php_fpm( $ana );
		wp_set_current_user( $admin ); // An administrator's request (the bridge records it as the member's own only when it is).
		$this->own_cancel( $ana, '61' );
		$this->assertSame( array(), $this->cookies );
		$this->assertSame( '61', Farewell_Bridge_Survey::answerable( $ana )['subscription_id'] );
		// mod_php, php -S: as before.
		$this->add_filter( 'farewell_bridge_can_end_response', '__return_false', 20 );
		wp_set_current_user( $ana );
		$this->own_cancel( $ana, '62' );
		$this->assertSame( array(), $this->cookies );
		$this->assertSame( '62', Farewell_Bridge_Survey::answerable( $ana )['subscription_id'] );
		$this->assertFalse( Farewell_Bridge_Survey::answerable( $ana )['shown'] );
	}

	public function test_a_signed_in_user_who_never_cancelled_can_neither_answer_nor_see_a_form() {
		$eve = $this->user( 'subscriber', 'Eve' );
		wp_set_current_user( $eve );
		$this->assertTrue( $this->cookie_check( wp_create_nonce( 'wp_rest' ) ) );
		for ( $i = 1; $i <= 3; $i++ ) {
			$response = $this->rest(
				array(
					'reason'            => 'other',
					'contact_requested' => true,
					'contact'           => 'eve@example.org',
					'answer_id'         => 'e1b2c3d4-0000-4000-8000-00000000000' . $i,
				)
			);
			$this->assertSame( 403, $response->get_status() );
			$this->assertSame( 'farewell_survey_none', $response->get_data()['code'] );
		}
		$this->assertSame( array(), $this->rows(), 'nothing queued, so nothing reaches the owner' );

		$html = Farewell_Bridge_Survey_Form::render();
		$this->assertStringNotContainsString( 'name="reason"', $html );
		$this->assertStringContainsString( 'There is no recent cancellation on your account', $html );
	}

	public function test_a_member_answers_about_their_latest_cancel_as_often_as_they_like_for_ninety_days() {
		$ana = $this->user( 'subscriber', 'Ana' );
		$this->cancelled( $ana, 30 * DAY_IN_SECONDS, 'sub_8', 'memberpress' );
		// Two hours ago, so past the page after the cancel: answered from the survey page, signed in.
		$this->cancelled( $ana, 2 * HOUR_IN_SECONDS );
		wp_set_current_user( $ana );
		$this->assertTrue( $this->cookie_check( wp_create_nonce( 'wp_rest' ) ) );
		$this->assertNull( Farewell_Bridge_Survey::pending( $ana ), 'it no longer shows by itself' );
		$this->assertStringContainsString( 'name="reason"', Farewell_Bridge_Survey_Form::render() );

		foreach ( array( 1, 2 ) as $n ) {
			$response = $this->rest(
				array(
					'reason'    => 'other',
					'answer_id' => 'a9b2c3d4-0000-4000-8000-00000000000' . $n,
				)
			);
			$this->assertSame( 201, $response->get_status(), wp_json_encode( $response->get_data() ) );
		}
		$payloads = $this->payloads();
		$this->assertCount( 2, $payloads, 'two answers about one cancellation: the sidecar keeps the latest' );
		foreach ( $payloads as $payload ) {
			$this->assertSame( 'sub_9', $payload['survey']['subscription_id'], 'about the latest cancel' );
			$this->assertSame( 'paidmembershipspro', $payload['source'] );
		}
		Farewell_Bridge_Survey_Form::reset();
		$this->assertStringContainsString( 'You have already answered.', Farewell_Bridge_Survey_Form::render() );

		$kept = get_user_meta( $ana, Farewell_Bridge_Survey::PENDING_META, true );
		foreach ( $kept as $i => $entry ) {
			$kept[ $i ]['at'] = time() - 91 * DAY_IN_SECONDS;
		}
		update_user_meta( $ana, Farewell_Bridge_Survey::PENDING_META, $kept );
		$this->assertSame( 403, $this->rest( array( 'answer_id' => 'a9b2c3d4-0000-4000-8000-000000000003' ) )->get_status() );
		$this->assertCount( 2, $this->rows(), 'after ninety days, only the email link could answer' );
	}

	public function test_someone_elses_cancel_or_one_by_an_admin_lets_no_one_answer() {
		$ana = $this->user( 'subscriber', 'Ana' );
		Farewell_Bridge_Survey::action_farewell_bridge_event_recorded(
			array(
				'type'         => 'subscription.cancelled',
				'source'       => 'memberpress',
				'initiated_by' => 'admin',
				'member'       => array(
					'id'    => (string) $ana,
					'email' => 'ana@example.org',
				),
				'subscription' => array( 'id' => '31' ),
			)
		);
		$this->assertNull( Farewell_Bridge_Survey::answerable( $ana ) );
		Farewell_Bridge_Survey::action_farewell_bridge_event_recorded(
			array(
				'type'         => 'subscription.cancelled',
				'source'       => 'memberpress',
				'initiated_by' => 'member',
				'member'       => array(
					'id'    => '999999',
					'email' => 'nobody@example.org',
				),
				'subscription' => array( 'id' => '32' ),
			)
		);
		$this->assertNull( Farewell_Bridge_Survey::answerable( 999999 ) );
	}

	public function test_one_line_fields_leave_the_site_on_one_line_and_comments_keep_their_lines() {
		$answer = Farewell_Bridge_Survey::check(
			array(
				'contact' => "ana@example.org\r\nBcc: eve@example.org\u{2028}\u{85}\t x",
				'comment' => "Deux\nlignes",
			)
		);
		$this->assertSame( 'ana@example.org Bcc: eve@example.org x', $answer['contact'] );
		$this->assertSame( "Deux\nlignes", $answer['comment'] );

		$ana = $this->user( 'subscriber', 'Ana' );
		update_user_meta( $ana, 'first_name', "Ana\r\nBcc: x\u{2029}y" ); // As a membership plugin may write it.
		$event = Farewell_Bridge_Event_Factory::build( 'memberpress', 'subscription.cancelled', $ana, array( 'id' => '5', 'plan_name' => "Or\n\tBcc: y" ) );
		$this->assertSame( 'Ana Bcc: x y', $event['payload']['member']['first_name'] );
		$this->assertSame( 'Or Bcc: y', $event['payload']['subscription']['plan_name'] );
	}

	public function test_a_subscriber_answering_with_someone_elses_token_answers_as_the_tokens_member() {
		$token = 'WyJzaXRlX3Rlc3QiLDE3XQ.aaaaaa.bbbbbbbbbbbbbbbbbbbbbbbbbbb';
		$this->fake_sidecar(
			array(
				array(
					200,
					$this->definition_body(
						1,
						'fr',
						array(
							'token'         => array( 'status' => 'valid' ),
							'answering_for' => array(
								'cancellation_id'  => 17,
								'member'           => array( 'id' => '42', 'email' => 'ana@example.org', 'first_name' => 'Ana', 'locale' => 'fr_FR' ),
								'subscription'     => array( 'id' => 'sub_7', 'source' => 'paidmembershipspro' ),
								'already_answered' => false,
							),
						)
					),
				),
			)
		);
		$status = Farewell_Bridge_Survey::token_status( $token, 'fr_FR' );
		$this->assertSame( 'valid', $status['status'] );
		$this->assertStringContainsString( 'token=' . rawurlencode( $token ), $this->requests[0]['url'] );

		$bob = $this->user( 'subscriber', 'Bob' );
		wp_set_current_user( $bob );
		$response = $this->rest(
			array(
				'token'     => $token,
				'version'   => 1,
				'reason'    => 'other',
				'answer_id' => 'b1b2c3d4-0000-4000-8000-000000000001',
			)
		);
		$this->assertSame( 201, $response->get_status(), wp_json_encode( $response->get_data() ) );
		$payload = json_decode( $this->rows()[0]['payload'], true );
		$this->assertSame( $token, $payload['survey']['token'] );
		$this->assertArrayNotHasKey( 'subscription_id', $payload['survey'] );
		$this->assertSame( '42', $payload['member']['id'], 'the token names the member, not the signed-in user' );
		$this->assertSame( 'paidmembershipspro', $payload['source'] );
	}

	public function test_a_signed_out_visitor_with_a_token_may_answer_and_a_malformed_token_is_refused() {
		$token = 'WyJzaXRlX3Rlc3QiLDE4XQ.cccccc.ddddddddddddddddddddddddddd';
		$this->shown( $token );
		$response = $this->rest( array( 'token' => $token, 'comment' => 'Sans compte' ) );
		$this->assertSame( 201, $response->get_status() );
		$payload = json_decode( $this->rows()[0]['payload'], true );
		$this->assertArrayNotHasKey( 'member', $payload, 'the sidecar finds the member from the token' );
		$this->assertSame( 'Sans compte', $payload['survey']['comment'] );

		$this->assertSame( 403, $this->rest( array( 'token' => '<script>', 'comment' => 'x' ) )->get_status() );
		$this->assertCount( 1, $this->rows() );
	}

	public function test_the_plain_form_is_sent_back_to_its_page_with_a_303_and_never_off_site() {
		$token = 'WyJzaXRlX3Rlc3QiLDE5XQ.eeeeee.fffffffffffffffffffffffffff';
		$this->shown( $token );
		$response = $this->rest(
			array(
				'token'     => $token,
				'locale'    => 'fr_FR',
				'return_to' => '/?page_id=12',
			),
			'form'
		);
		$this->assertSame( 303, $response->get_status() );
		$location = $response->get_headers()['Location'];
		$this->assertStringStartsWith( home_url( '/?page_id=12' ), $location );
		$this->assertStringContainsString( 'farewell_survey_done=fr_FR', $location );

		$away = $this->rest(
			array(
				'token'     => $token,
				'return_to' => 'https://evil.example/',
			),
			'form'
		);
		$this->assertStringStartsWith( home_url( '/' ), $away->get_headers()['Location'] );
	}

	// --- rendering -------------------------------------------------------------------------

	/** Makes the main query the one WordPress would run for $query_vars (is_page() reads it). */
	private function visit( array $query_vars ) {
		$GLOBALS['wp_the_query'] = new WP_Query( $query_vars );
		$GLOBALS['wp_query']     = $GLOBALS['wp_the_query'];
	}

	public function test_the_survey_page_and_token_links_are_not_indexed_and_leak_no_referrer() {
		update_option( 'blog_public', '1' ); // Otherwise WordPress itself asks robots not to index.
		$main_query = array( $GLOBALS['wp_the_query'], $GLOBALS['wp_query'] );
		$this->visit( array( 'page_id' => Farewell_Bridge_Survey_Form::ensure_page() ) );
		$robots = apply_filters( 'wp_robots', array() );
		$this->assertTrue( $robots['noindex'] );
		$this->assertTrue( $robots['nofollow'] );
		ob_start();
		Farewell_Bridge_Survey_Form::action_wp_head();
		$this->assertStringContainsString( "content='strict-origin-when-cross-origin'", ob_get_clean() );

		$this->visit( array( 'post_type' => 'post' ) );
		$_GET['farewell_survey'] = 'a-token';
		$this->assertArrayHasKey( 'noindex', apply_filters( 'wp_robots', array() ) );
		unset( $_GET['farewell_survey'] );
		$this->assertArrayNotHasKey( 'noindex', apply_filters( 'wp_robots', array() ) );
		ob_start();
		Farewell_Bridge_Survey_Form::action_wp_head();
		$this->assertSame( '', ob_get_clean() );
		list( $GLOBALS['wp_the_query'], $GLOBALS['wp_query'] ) = $main_query;
	}

	public function test_the_form_escapes_labels_and_labels_every_field() {
		$body = json_decode( $this->definition_body( 4 ), true );
		$body['definition']['title']             = '<script>alert(1)</script>';
		$body['definition']['reasons'][0]['label'] = 'Trop "cher" & <i>rare</i>';
		$this->fake_sidecar( array( array( 200, wp_json_encode( $body ) ) ) );
		$ana = $this->user( 'subscriber', 'Ana', 'fr_FR' );
		$this->cancelled( $ana );
		wp_set_current_user( $ana );
		$html = Farewell_Bridge_Survey_Form::render();
		$this->assertStringNotContainsString( '<script>', $html );
		$this->assertStringContainsString( '&lt;script&gt;', $html );
		$this->assertStringContainsString( 'Trop &quot;cher&quot; &amp; &lt;i&gt;rare&lt;/i&gt;', $html );
		preg_match_all( '/<(?:input|textarea)\b[^>]*>/', $html, $fields );
		foreach ( $fields[0] as $field ) {
			if ( false !== strpos( $field, 'type="hidden"' ) ) {
				continue;
			}
			$this->assertMatchesRegularExpression( '/id="([^"]+)"/', $field );
			preg_match( '/id="([^"]+)"/', $field, $id );
			$this->assertStringContainsString( 'for="' . $id[1] . '"', $html, $field );
		}
		$this->assertStringContainsString( 'name="_wpnonce"', $html );
		$this->assertStringContainsString( 'maxlength="5000"', $html );
	}
}
