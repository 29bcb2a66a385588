<?php
/**
 * Settings sanitization, the secret's storage and display, and wp-config.php constants.
 */
class SettingsTest extends Farewell_Test_Case {

	protected function setUp(): void {
		parent::setUp();
		global $wp_settings_errors;
		$wp_settings_errors = array();
	}

	private function errors() {
		return wp_list_pluck( get_settings_errors( Farewell_Bridge_Settings::OPTION ), 'code' );
	}

	public function test_valid_values_are_kept_cleaned() {
		$clean = Farewell_Bridge_Settings::sanitize_settings(
			array(
				'sidecar_url' => ' https://farewell.example.org/ ',
				'site_id'     => 'site_3kq9x2m7c4ha',
				'delete_data' => '1',
			)
		);
		$this->assertSame(
			array(
				'sidecar_url' => 'https://farewell.example.org',
				'site_id'     => 'site_3kq9x2m7c4ha',
				'delete_data' => true,
			),
			$clean
		);
		$this->assertSame( array(), $this->errors() );
	}

	public function test_invalid_values_are_refused_with_a_message_and_the_old_ones_kept() {
		$clean = Farewell_Bridge_Settings::sanitize_settings(
			array(
				'sidecar_url' => 'javascript:alert(1)',
				'site_id'     => 'site id!',
			)
		);
		$this->assertSame( 'http://127.0.0.1:9', $clean['sidecar_url'] );
		$this->assertSame( 'site_test', $clean['site_id'] );
		$this->assertFalse( $clean['delete_data'] );
		$this->assertEqualsCanonicalizing( array( 'farewell_bridge_url', 'farewell_bridge_site_id' ), $this->errors() );
	}

	public function test_an_empty_secret_field_keeps_the_stored_secret() {
		$this->assertSame( self::SECRET, Farewell_Bridge_Settings::sanitize_secret( '' ) );
		$this->assertSame( self::SECRET, Farewell_Bridge_Settings::sanitize_secret( null ) );
	}

	public function test_a_new_valid_secret_replaces_it_and_a_malformed_one_is_refused() {
		$new = 'whsec_' . base64_encode( random_bytes( 32 ) );
		$this->assertSame( $new, Farewell_Bridge_Settings::sanitize_secret( $new ) );
		$this->assertSame( self::SECRET, Farewell_Bridge_Settings::sanitize_secret( 'not-a-secret' ) );
		$this->assertSame( self::SECRET, Farewell_Bridge_Settings::sanitize_secret( 'whsec_' . base64_encode( 'short' ) ) );
		$this->assertSame( array( 'farewell_bridge_secret', 'farewell_bridge_secret' ), $this->errors() );
	}

	public function test_a_base64url_secret_is_refused_with_the_reason() {
		$url = 'whsec_' . strtr( base64_encode( str_repeat( "\xfb\xff", 16 ) ), '+/', '-_' ); // phpcs:ignore WordPress.PHP.DiscouragedPHPFunctions.obfuscation_base64_encode
		$this->assertSame( self::SECRET, Farewell_Bridge_Settings::sanitize_secret( $url ) );
		$messages = wp_list_pluck( get_settings_errors( Farewell_Bridge_Settings::OPTION ), 'message' );
		$this->assertCount( 1, $messages );
		$this->assertStringContainsString( 'base64url', $messages[0] );
	}

	public function test_the_secret_is_not_autoloaded_and_shown_masked() {
		global $wpdb;
		$autoload = $wpdb->get_var( $wpdb->prepare( "SELECT autoload FROM {$wpdb->options} WHERE option_name = %s", Farewell_Bridge_Settings::SECRET_OPTION ) );
		$this->assertContains( $autoload, array( 'no', 'off' ) );
		$this->assertSame( 'whsec_…LaSw', Farewell_Bridge_Settings::mask_secret( self::SECRET ) );
		$this->assertSame( '', Farewell_Bridge_Settings::mask_secret( '' ) );
	}

	public function test_saving_through_options_php_keeps_the_secret_out_of_autoload() {
		global $wpdb;
		Farewell_Bridge_Settings::action_admin_init(); // As on admin_init, before options.php saves.
		delete_option( Farewell_Bridge_Settings::SECRET_OPTION );
		$new = 'whsec_' . base64_encode( random_bytes( 32 ) );
		update_option( Farewell_Bridge_Settings::SECRET_OPTION, $new ); // What options.php does, through sanitize_secret().
		$this->assertSame( $new, get_option( Farewell_Bridge_Settings::SECRET_OPTION ) );
		$autoload = $wpdb->get_var( $wpdb->prepare( "SELECT autoload FROM {$wpdb->options} WHERE option_name = %s", Farewell_Bridge_Settings::SECRET_OPTION ) );
		$this->assertContains( $autoload, array( 'no', 'off' ) );
	}

	public function test_the_settings_page_never_prints_the_secret() {
		$admin = $this->user( 'administrator' );
		wp_set_current_user( $admin );
		ob_start();
		Farewell_Bridge_Admin::render_page();
		$html = ob_get_clean();
		$this->assertStringNotContainsString( substr( self::SECRET, 6 ), $html );
		$this->assertStringContainsString( 'whsec_…LaSw', $html );
		$this->assertStringContainsString( 'http://127.0.0.1:9', $html );
		$this->assertStringNotContainsString( 'disabled', $this->field( $html, 'farewell-bridge-url' ) );
	}

	/** The <input> tag with this id. */
	protected function field( $html, $id ) {
		$this->assertSame( 1, preg_match( '/<input[^>]*id="' . preg_quote( $id, '/' ) . '"[^>]*>/s', $html, $m ), "field $id" );
		return $m[0];
	}

	/**
	 * @runInSeparateProcess
	 * @preserveGlobalState disabled
	 */
	public function test_wp_config_constants_take_precedence_and_lock_the_fields() {
		define( 'FAREWELL_SIDECAR_URL', 'https://from-config.example.org' );
		define( 'FAREWELL_SITE_ID', 'site_from_config' );
		define( 'FAREWELL_SECRET', 'whsec_' . base64_encode( str_repeat( 'c', 32 ) ) );
		$this->assertSame( 'https://from-config.example.org', Farewell_Bridge_Settings::sidecar_url() );
		$this->assertSame( 'site_from_config', Farewell_Bridge_Settings::site_id() );
		$this->assertSame( FAREWELL_SECRET, Farewell_Bridge_Settings::secret() );

		// A submitted form cannot change locked values.
		$clean = Farewell_Bridge_Settings::sanitize_settings(
			array(
				'sidecar_url' => 'https://other.example.org',
				'site_id'     => 'other',
			)
		);
		$this->assertSame( 'http://127.0.0.1:9', $clean['sidecar_url'] );
		$this->assertSame( 'site_test', $clean['site_id'] );
		$this->assertSame( self::SECRET, Farewell_Bridge_Settings::sanitize_secret( 'whsec_' . base64_encode( str_repeat( 'd', 32 ) ) ) );

		wp_set_current_user( $this->user( 'administrator' ) );
		ob_start();
		Farewell_Bridge_Admin::render_page();
		$html = ob_get_clean();
		foreach ( array( 'farewell-bridge-url', 'farewell-bridge-site-id', 'farewell-bridge-secret' ) as $id ) {
			$this->assertStringContainsString( "disabled='disabled'", $this->field( $html, $id ), $id );
		}
		$this->assertStringContainsString( 'FAREWELL_SECRET', $html );
		$this->assertStringNotContainsString( base64_encode( str_repeat( 'c', 32 ) ), $html );
	}
}
