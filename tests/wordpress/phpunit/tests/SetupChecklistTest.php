<?php
/**
 * Farewell → Set-up: each step read from the site's real state, the connection test that marks
 * its step done (and only for the settings it tested), and the page's guard and escaping.
 */
class SetupChecklistTest extends Farewell_Test_Case {

	private $made = array();

	private $hidden = array();

	protected function setUp(): void {
		parent::setUp();
		delete_option( Farewell_Bridge_Setup_Checklist::TESTED_OPTION );
		delete_option( Farewell_Bridge_Importer::STATE_OPTION );
		delete_transient( Farewell_Bridge_Setup_Checklist::DIGEST_TRANSIENT );
		global $wpdb;
		$wpdb->query( 'DELETE FROM ' . Farewell_Bridge_Request_Log::table() );
	}

	protected function tearDown(): void {
		foreach ( $this->made as $id ) {
			wp_delete_post( $id, true );
		}
		foreach ( $this->hidden as $id ) {
			wp_update_post( array( 'ID' => $id, 'post_status' => 'publish' ) );
		}
		$this->hidden = array();
		delete_option( Farewell_Bridge_Setup_Checklist::TESTED_OPTION );
		delete_option( Farewell_Bridge_Importer::STATE_OPTION );
		delete_transient( Farewell_Bridge_Setup_Checklist::DIGEST_TRANSIENT );
		parent::tearDown();
	}

	/** Drafts every published page holding the survey (other tests' pages included), until tearDown. */
	private function hide_survey_pages() {
		foreach ( Farewell_Bridge_Setup_Checklist::survey_pages() as $page ) {
			wp_update_post( array( 'ID' => $page->ID, 'post_status' => 'draft' ) );
			$this->hidden[] = (int) $page->ID;
		}
	}

	/** @return array<string,array> The steps by id. */
	private function steps() {
		$out = array();
		foreach ( Farewell_Bridge_Setup_Checklist::steps() as $step ) {
			$out[ $step['id'] ] = $step;
		}
		return $out;
	}

	private function test_connection( $status ) {
		$this->fake_sidecar( array( array( $status, '{"status":"ok","site_id":"site_test","site_name":"Test"}' ), 200 ) );
		wp_set_current_user( $this->user( 'administrator' ) );
		return $this->call_admin_action(
			'farewell_bridge_test_connection',
			array(
				'farewell_return' => 'setup',
				'_wpnonce'        => wp_create_nonce( 'farewell_bridge_test_connection' ),
			)
		);
	}

	public function test_a_fresh_site_without_settings_has_connect_and_test_to_do() {
		$this->fake_sidecar( array( 200 ) );
		update_option( Farewell_Bridge_Settings::OPTION, Farewell_Bridge_Settings::defaults() );
		update_option( Farewell_Bridge_Settings::SECRET_OPTION, '' );
		$steps = $this->steps();
		$this->assertSame( array( 'connect', 'test', 'membership', 'survey', 'digest', 'import', 'mail', 'sample' ), array_keys( $steps ) );
		$this->assertSame( 'todo', $steps['connect']['status'] );
		$this->assertSame( 'todo', $steps['test']['status'] );
		$this->assertNull( $steps['test']['link'], 'nothing to test before the connection is entered' );
		$this->assertNull( $steps['digest']['form'], 'no dashboard to open before the connection is entered' );
		$this->assertNull( $steps['sample']['form'], 'no sample to ask for before the connection is entered' );
		$this->assertSame( array(), $this->requests, 'nothing asked of a sidecar that is not set' );
		$this->assertFalse( Farewell_Bridge_Setup_Checklist::complete( Farewell_Bridge_Setup_Checklist::steps() ) );
	}

	public function test_a_successful_test_marks_the_test_and_digest_steps_done_and_comes_back_to_the_checklist() {
		$steps = $this->steps();
		$this->assertSame( 'done', $steps['connect']['status'] );
		$this->assertSame( 'todo', $steps['test']['status'] );
		$this->assertStringContainsString( 'farewell_return=setup', $steps['test']['link']['url'] );

		$result = $this->test_connection( 200 );
		$this->assertInstanceOf( Farewell_Test_Redirect::class, $result );
		$this->assertStringContainsString( 'admin.php?page=farewell-setup', $result->getMessage() );

		$steps = $this->steps();
		$this->assertSame( 'done', $steps['test']['status'] );
		$this->assertSame( 'done', $steps['digest']['status'] );
		$this->assertStringContainsString( get_option( 'admin_email' ), $steps['digest']['detail'] );
	}

	public function test_a_refused_signature_leaves_the_test_to_do() {
		$this->test_connection( 401 );
		$this->assertSame( 'todo', $this->steps()['test']['status'] );
		$this->assertSame( 0, Farewell_Bridge_Setup_Checklist::tested_at() );
	}

	public function test_new_settings_ask_for_a_new_test() {
		Farewell_Bridge_Setup_Checklist::note_tested();
		$this->assertGreaterThan( 0, Farewell_Bridge_Setup_Checklist::tested_at() );

		update_option( Farewell_Bridge_Settings::SECRET_OPTION, 'whsec_' . base64_encode( str_repeat( 'k', 32 ) ) );
		$this->assertSame( 0, Farewell_Bridge_Setup_Checklist::tested_at(), 'another secret was never tested' );
		update_option( Farewell_Bridge_Settings::SECRET_OPTION, self::SECRET );
		$this->assertGreaterThan( 0, Farewell_Bridge_Setup_Checklist::tested_at() );

		update_option( Farewell_Bridge_Settings::OPTION, array_merge( Farewell_Bridge_Settings::stored(), array( 'site_id' => 'site_other' ) ) );
		$this->assertSame( 'todo', $this->steps()['test']['status'] );
	}

	public function test_constants_in_wp_config_are_named() {
		$steps = Farewell_Bridge_Setup_Checklist::build( $this->state( array( 'locked' => array( 'sidecar_url', 'secret' ) ) ) );
		$this->assertStringContainsString( 'Defined in wp-config.php: FAREWELL_SIDECAR_URL, FAREWELL_SECRET.', $steps[0]['detail'] );
	}

	public function test_an_unusable_secret_is_said_in_the_connect_step() {
		// A filter, as a site may set it: the settings' own sanitizer (registered once admin_init ran)
		// keeps a bad secret out of the option.
		$this->add_filter(
			'pre_option_' . Farewell_Bridge_Settings::SECRET_OPTION,
			function () {
				return 'whsec_short';
			}
		);
		$step = $this->steps()['connect'];
		$this->assertSame( 'todo', $step['status'] );
		$this->assertStringContainsString( 'The saved secret cannot be used.', $step['detail'] );
	}

	public function test_membership_plugins_found_and_those_not_supported() {
		$this->assertSame(
			array( 'Ultimate Member', 'Paid Member Subscriptions' ),
			Farewell_Bridge_Setup_Checklist::unsupported_plugins( array( 'ultimate-member/ultimate-member.php', 'akismet/akismet.php', 'paid-member-subscriptions/index.php', 'memberpress/memberpress.php' ) )
		);
		$none = Farewell_Bridge_Setup_Checklist::build( $this->state( array( 'unsupported' => array( 'Ultimate Member' ) ) ) )[2];
		$this->assertSame( 'todo', $none['status'] );
		$this->assertStringContainsString( 'Not supported, their cancellations do not reach Farewell: Ultimate Member.', $none['detail'] );
		$found = Farewell_Bridge_Setup_Checklist::build( $this->state( array( 'sources' => array( 'memberpress' ) ) ) )[2];
		$this->assertSame( 'done', $found['status'] );
		$this->assertStringContainsString( 'Farewell listens to: MemberPress.', $found['detail'] );
	}

	public function test_the_survey_step_follows_the_survey_page() {
		$id = Farewell_Bridge_Survey_Form::ensure_page();
		$this->assertGreaterThan( 0, $id );
		$step = $this->steps()['survey'];
		$this->assertSame( 'done', $step['status'] );
		$this->assertStringStartsWith( get_permalink( $id ), $step['link']['url'] );
		$this->assertStringContainsString( 'farewell_survey_preview=', $step['link']['url'] );

		$this->hide_survey_pages();
		$this->assertSame( 'todo', $this->steps()['survey']['status'], 'a draft shows nothing to a member' );

		$other        = wp_insert_post( array( 'post_type' => 'page', 'post_status' => 'publish', 'post_title' => 'Leaving?', 'post_content' => '<p>Tell us</p>[farewell_survey]' ) );
		$this->made[] = $other;
		$step         = $this->steps()['survey'];
		$this->assertSame( 'done', $step['status'] );
		$this->assertStringStartsWith( get_permalink( $other ), $step['link']['url'] );
	}

	public function test_the_import_step_is_done_once_an_import_finished() {
		$this->assertSame( 'todo', $this->steps()['import']['status'] );
		update_option( Farewell_Bridge_Importer::STATE_OPTION, array( 'status' => 'running', 'since' => null, 'sources' => array() ) );
		$this->assertSame( 'todo', $this->steps()['import']['status'] );
		update_option( Farewell_Bridge_Importer::STATE_OPTION, array( 'status' => 'done', 'since' => null, 'sources' => array() ) );
		$this->assertSame( 'done', $this->steps()['import']['status'] );
	}

	public function test_the_mail_step_counts_the_emails_sent_through_wordpress_and_never_blocks() {
		$this->assertStringContainsString( 'No email went through WordPress', $this->steps()['mail']['detail'] );
		foreach ( array( 'msg_a' => 200, 'msg_b' => 200, 'msg_c' => 502 ) as $id => $status ) {
			Farewell_Bridge_Request_Log::claim( $id, 'mail' );
			Farewell_Bridge_Request_Log::answer( $id, $status, array() );
		}
		Farewell_Bridge_Request_Log::claim( 'cpn_a', 'coupons' );
		Farewell_Bridge_Request_Log::answer( 'cpn_a', 200, array() );
		$step = $this->steps()['mail'];
		$this->assertSame( 'info', $step['status'] );
		$this->assertStringContainsString( 'The sidecar sent 2 emails through WordPress', $step['detail'] );

		$all_done = array_map(
			function ( $step ) {
				return 'info' === $step['status'] ? $step : array_merge( $step, array( 'status' => 'done' ) );
			},
			Farewell_Bridge_Setup_Checklist::steps()
		);
		$this->assertTrue( Farewell_Bridge_Setup_Checklist::complete( $all_done ) );
	}

	/** The survey rendered for this request, with these query arguments. */
	private function survey_with( array $get ) {
		$_GET = $get;
		try {
			Farewell_Bridge_Survey_Form::reset();
			return Farewell_Bridge_Survey_Form::render();
		} finally {
			$_GET = array();
		}
	}

	public function test_the_survey_link_previews_the_form_for_an_administrator_only_and_cannot_record_an_answer() {
		Farewell_Bridge_Survey::flush_cache(); // The bundled survey: no definition left by another test.
		$admin = $this->user( 'administrator' );
		wp_set_current_user( $admin );
		$url   = Farewell_Bridge_Survey_Form::preview_url( home_url( '/farewell-survey/' ) );
		parse_str( (string) wp_parse_url( $url, PHP_URL_QUERY ), $query );
		$html = $this->survey_with( $query );
		$this->assertStringContainsString( 'farewell-survey-preview-notice', $html );
		$this->assertStringContainsString( 'name="reason"', $html, 'the form itself, with its reasons' );
		$this->assertStringNotContainsString( 'name="_wpnonce"', $html, 'without the REST nonce the route refuses the answer' );

		$this->assertStringNotContainsString( 'name="reason"', $this->survey_with( array( 'farewell_survey_preview' => 'forged' ) ) );
		$subscriber = $this->user( 'subscriber' );
		wp_set_current_user( $subscriber );
		$query['farewell_survey_preview'] = wp_create_nonce( Farewell_Bridge_Survey_Form::PREVIEW_ACTION );
		$this->assertStringNotContainsString( 'name="reason"', $this->survey_with( $query ), 'a member has no preview' );
	}

	public function test_a_subscriber_is_refused_the_page() {
		wp_set_current_user( $this->user( 'subscriber' ) );
		$this->expectException( Farewell_Test_Die::class );
		Farewell_Bridge_Setup_Checklist::render_page();
	}

	public function test_the_page_escapes_what_it_shows_and_collapses_done_steps() {
		$this->hide_survey_pages();
		// An administrator may put markup in a title (unfiltered_html): the page must not run it.
		wp_set_current_user( $this->user( 'administrator' ) );
		$other        = wp_insert_post( array( 'post_type' => 'page', 'post_status' => 'publish', 'post_title' => 'Bye <img src=x onerror=alert(1)>', 'post_content' => '[farewell_survey]' ) );
		$this->made[] = $other;
		$this->assertStringContainsString( '<img', get_post( $other )->post_title );
		ob_start();
		try {
			Farewell_Bridge_Setup_Checklist::render_page();
		} finally {
			$html = (string) ob_get_clean();
		}
		$this->assertStringContainsString( 'Bye &lt;img', $html );
		$this->assertStringNotContainsString( '<img src=x', $html );
		$this->assertMatchesRegularExpression( '/data-step="connect" data-status="done">\s*<details >/', $html );
		$this->assertMatchesRegularExpression( '/data-step="test" data-status="todo">\s*<details open>/', $html );
		$this->assertStringContainsString( 'name="_wpnonce"', $html, 'the dashboard button carries its nonce' );
	}

	/** The sidecar's answer to GET …/digest/settings, with some fields replaced. */
	private function digest_settings( array $over = array() ) {
		return (string) wp_json_encode(
			array_merge(
				array(
					'recipients'            => array( 'owner@example.org', 'partner@example.org' ),
					'recipients_customised' => true,
					'wordpress_admin_email' => 'owner@example.org',
					'weekday'               => 1,
					'hour'                  => 8,
					'transport'             => array(
						'kind'     => 'smtp',
						'host'     => 'mail.example.org',
						'port'     => 587,
						'security' => 'starttls',
					),
				),
				$over
			)
		);
	}

	public function test_the_digest_and_mail_steps_show_what_the_sidecar_says_and_ask_it_once_a_minute() {
		$this->fake_sidecar( array( array( 200, $this->digest_settings() ) ) );
		$steps = $this->steps();
		$this->assertSame( 'done', $steps['digest']['status'] );
		$this->assertStringContainsString( 'The weekly digest goes to owner@example.org, partner@example.org.', $steps['digest']['detail'] );
		$this->assertStringContainsString( 'You chose these recipients in the dashboard', $steps['digest']['detail'] );
		$this->assertSame( 'info', $steps['mail']['status'] );
		$this->assertStringContainsString( 'through the SMTP server mail.example.org, port 587.', $steps['mail']['detail'] );
		$this->assertCount( 1, $this->requests );
		$this->assertSame( 'GET', $this->requests[0]['method'] );
		$this->assertStringEndsWith( '/v1/sites/site_test/digest/settings', $this->requests[0]['url'] );
		$this->assertStringStartsWith( 'fw2,', $this->requests[0]['headers']['webhook-signature'], 'signed for its route' );

		$this->steps();
		$this->assertCount( 1, $this->requests, 'the answer is kept a minute' );
		Farewell_Bridge_Setup_Checklist::note_tested();
		$this->steps();
		$this->assertCount( 2, $this->requests, 'a new connection test asks again' );
	}

	public function test_no_recipient_and_a_mail_folder_are_steps_to_do() {
		$this->fake_sidecar(
			array(
				array(
					200,
					$this->digest_settings(
						array(
							'recipients'            => array(),
							'recipients_customised' => false,
							'transport'             => array( 'kind' => 'folder' ),
						)
					),
				),
			)
		);
		$steps = $this->steps();
		$this->assertSame( 'todo', $steps['digest']['status'] );
		$this->assertStringContainsString( 'Nobody receives the weekly digest yet', $steps['digest']['detail'] );
		$this->assertSame( 'todo', $steps['mail']['status'] );
		$this->assertStringContainsString( 'none reaches anybody', $steps['mail']['detail'] );
	}

	public function test_an_unreachable_sidecar_is_said_and_the_checklist_still_renders() {
		$this->fake_sidecar( array( new WP_Error( 'http_request_failed', 'cURL error 7: Failed to connect to 127.0.0.1 port 9' ) ) );
		Farewell_Bridge_Setup_Checklist::note_tested();
		wp_set_current_user( $this->user( 'administrator' ) );
		ob_start();
		try {
			Farewell_Bridge_Setup_Checklist::render_page();
		} finally {
			$html = (string) ob_get_clean();
		}
		$this->assertStringContainsString( 'The sidecar could not be asked: The connection to the sidecar was refused', $html );
		$this->assertStringContainsString( 'data-step="digest" data-status="done"', $html, 'what the bridge told the sidecar, still' );
		$this->assertStringContainsString( 'data-step="sample"', $html );
		$this->assertStringContainsString( 'value="' . Farewell_Bridge_Setup_Checklist::SAMPLE_ACTION . '"', $html );
		$asked = count( $this->requests );
		$again = Farewell_Bridge_Setup_Checklist::sidecar_digest();
		$this->assertStringContainsString( 'The connection to the sidecar was refused', $again['error'] );
		$this->assertCount( $asked, $this->requests, 'a failure is kept a minute too: no page waits for the timeout each time' );
		Farewell_Bridge_Setup_Checklist::note_tested();
		Farewell_Bridge_Setup_Checklist::sidecar_digest();
		$this->assertCount( $asked + 1, $this->requests, 'a new connection test asks again' );
	}

	public function test_the_sample_button_asks_the_sidecar_to_send_to_the_admins_address_in_their_language() {
		$admin = $this->user( 'administrator', 'Ana', 'fr_FR' );
		wp_set_current_user( $admin );
		$email = get_userdata( $admin )->user_email;
		$this->fake_sidecar( array( array( 200, '{"status":"sent","week":"2026-W48","to":["' . $email . '"]}' ) ) );
		$result = $this->call_admin_action( Farewell_Bridge_Setup_Checklist::SAMPLE_ACTION, array( '_wpnonce' => wp_create_nonce( Farewell_Bridge_Setup_Checklist::SAMPLE_ACTION ) ) );
		$this->assertInstanceOf( Farewell_Test_Redirect::class, $result );
		$this->assertStringContainsString( 'admin.php?page=farewell-setup', $result->getMessage() );
		$this->assertCount( 1, $this->requests );
		$this->assertSame( 'POST', $this->requests[0]['method'] );
		$this->assertStringEndsWith( '/v1/sites/site_test/digest/sample', $this->requests[0]['url'] );
		$this->assertStringStartsWith( 'fw2,', $this->requests[0]['headers']['webhook-signature'] );
		$this->assertSame(
			array(
				'to'     => $email,
				'locale' => 'fr_FR',
			),
			json_decode( $this->requests[0]['body'], true )
		);
		$notice = Farewell_Bridge_Admin::take_notice();
		$this->assertSame( 'success', $notice['type'] );
		$this->assertSame( "A sample digest is on its way to $email.", $notice['message'] );
	}

	public function test_the_sidecars_refusals_of_a_sample_are_said_plainly() {
		wp_set_current_user( $this->user( 'administrator' ) );
		$nonce = array( '_wpnonce' => wp_create_nonce( Farewell_Bridge_Setup_Checklist::SAMPLE_ACTION ) );
		$this->fake_sidecar(
			array(
				array( 403, '{"error":"recipient_not_allowed","message":"x"}' ),
				array( 429, '{"error":"rate_limited","retry_after":241}' ),
				array( 503, '{"error":"mail_unavailable"}' ),
				array( 404, '{"error":"not_found"}' ),
			)
		);
		$said = array();
		foreach ( range( 1, 4 ) as $attempt ) {
			$this->call_admin_action( Farewell_Bridge_Setup_Checklist::SAMPLE_ACTION, $nonce );
			$notice = Farewell_Bridge_Admin::take_notice();
			$this->assertSame( 'error', $notice['type'] );
			$said[] = $notice['message'];
		}
		$this->assertStringContainsString( 'is not one of them', $said[0] );
		$this->assertStringContainsString( 'try again in 5 minutes', $said[1] );
		$this->assertStringContainsString( 'its mail server refused it or cannot be reached', $said[2] );
		$this->assertStringContainsString( 'update the Farewell sidecar', $said[3] );
	}

	public function test_the_sample_button_needs_the_capability_and_its_nonce() {
		$this->fake_sidecar( array( 200 ) );
		wp_set_current_user( $this->user( 'editor' ) );
		$refused = $this->call_admin_action( Farewell_Bridge_Setup_Checklist::SAMPLE_ACTION, array( '_wpnonce' => wp_create_nonce( Farewell_Bridge_Setup_Checklist::SAMPLE_ACTION ) ) );
		$this->assertInstanceOf( Farewell_Test_Die::class, $refused );
		$this->assertSame( 403, $refused->status );
		wp_set_current_user( $this->user( 'administrator' ) );
		$forged = $this->call_admin_action( Farewell_Bridge_Setup_Checklist::SAMPLE_ACTION, array( '_wpnonce' => wp_create_nonce( 'farewell_bridge_test_connection' ) ) );
		$this->assertInstanceOf( Farewell_Test_Die::class, $forged );
		$this->assertSame( array(), $this->requests, 'nothing was asked of the sidecar' );
	}

	public function test_the_new_steps_speak_french() {
		$this->fake_sidecar( array( array( 200, $this->digest_settings() ) ) );
		$steps = $this->in_french(
			function () {
				return $this->steps();
			}
		);
		$this->assertStringContainsString( 'owner@example.org, partner@example.org', $steps['digest']['detail'] );
		$this->assertStringNotContainsString( 'The weekly digest goes to', $steps['digest']['detail'] );
		$this->assertStringNotContainsString( 'Send me a sample digest now', $steps['sample']['form']['label'] );
	}

	/** A snapshot of a configured site, with some fields replaced. */
	private function state( array $over ) {
		return array_merge(
			array(
				'configured'    => true,
				'secret_error'  => '',
				'locked'        => array(),
				'sidecar_url'   => 'http://127.0.0.1:9',
				'site_id'       => 'site_test',
				'tested_at'     => 0,
				'last_delivery' => 0,
				'sources'       => array(),
				'unsupported'   => array(),
				'survey_pages'  => array(),
				'admin_email'   => 'owner@example.org',
				'import_status' => 'idle',
				'mails_via_wp'  => 0,
			),
			$over
		);
	}
}
