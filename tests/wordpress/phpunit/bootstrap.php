<?php
/**
 * Loads the real WordPress test site named by FAREWELL_WP_LOAD (its wp-load.php), with the
 * Farewell Bridge plugin and the test-only sources plugin active, then the test base class.
 */

$farewell_wp_load = getenv( 'FAREWELL_WP_LOAD' );
if ( ! $farewell_wp_load || ! is_readable( $farewell_wp_load ) ) {
	fwrite( STDERR, "FAREWELL_WP_LOAD must name the wp-load.php of a test site built by tests/wordpress/site.py\n" );
	exit( 1 );
}

$farewell_url              = getenv( 'FAREWELL_WP_URL' ) ? getenv( 'FAREWELL_WP_URL' ) : 'http://127.0.0.1';
$farewell_parts            = parse_url( $farewell_url );
$_SERVER['HTTP_HOST']      = $farewell_parts['host'] . ( isset( $farewell_parts['port'] ) ? ':' . $farewell_parts['port'] : '' );
$_SERVER['SERVER_NAME']    = $farewell_parts['host'];
$_SERVER['REQUEST_URI']    = '/';
$_SERVER['REQUEST_METHOD'] = 'GET';

require $farewell_wp_load;
require_once ABSPATH . 'wp-admin/includes/plugin.php';
require_once ABSPATH . 'wp-admin/includes/admin.php';

if ( ! class_exists( 'Farewell_Bridge_Plugin' ) || ! class_exists( 'MeprEvent' ) ) {
	fwrite( STDERR, "The Farewell Bridge plugin and farewell-test-sources must be active on the test site\n" );
	exit( 1 );
}

require __DIR__ . '/class-farewell-test-case.php';
require __DIR__ . '/class-farewell-rest-test-case.php';
