<?php
/**
 * The French translation loads the way WordPress loads it for a French site or user.
 */
class TranslationTest extends Farewell_Test_Case {

	public function test_french_strings_load_when_wordpress_switches_to_french() {
		// No French WordPress core files are installed on the test site; declare fr_FR available.
		$this->add_filter(
			'get_available_languages',
			function ( $languages ) {
				return array_merge( (array) $languages, array( 'fr_FR' ) );
			}
		);
		// The site's locale switcher read the available languages at load time: start a new one.
		$original                        = $GLOBALS['wp_locale_switcher'];
		$GLOBALS['wp_locale_switcher'] = new WP_Locale_Switcher();
		$GLOBALS['wp_locale_switcher']->init();
		try {
			$this->assertTrue( switch_to_locale( 'fr_FR' ) );
			load_plugin_textdomain( 'farewell-bridge', false, 'farewell-bridge/languages' ); // As on init.
			$this->assertSame( 'Tester la connexion', __( 'Test connection', 'farewell-bridge' ) );
			$this->assertSame( '3 événements remis en file.', sprintf( _n( '%d event queued again.', '%d events queued again.', 3, 'farewell-bridge' ), 3 ) );
			$this->assertSame( '1 événement remis en file.', sprintf( _n( '%d event queued again.', '%d events queued again.', 1, 'farewell-bridge' ), 1 ) );
		} finally {
			restore_previous_locale();
			$GLOBALS['wp_locale_switcher'] = $original;
		}
		$this->assertSame( 'Test connection', __( 'Test connection', 'farewell-bridge' ) );
	}
}
