<?php
/**
 * Farewell → Import history: what the import would find per membership plugin, a Start button,
 * the progress (polled by admin/js/import.js, whose every poll also runs a short step) and a
 * summary at the end. The work itself is Farewell_Bridge_Importer's.
 *
 * @package Farewell_Bridge
 */

if ( ! defined( 'ABSPATH' ) ) {
	exit;
}

/**
 * The Import history admin page.
 */
class Farewell_Bridge_Import_Page {

	const CAPABILITY = 'manage_options';
	const PAGE       = 'farewell-import';
	const SCRIPT     = 'farewell-bridge-import';

	/**
	 * The membership plugins' names, by source slug.
	 *
	 * @return array<string,string>
	 */
	public static function source_names() {
		return array(
			'memberpress'               => 'MemberPress',
			'paidmembershipspro'        => 'Paid Memberships Pro',
			'restrict-content'          => 'Restrict Content',
			'woocommerce-subscriptions' => 'WooCommerce Subscriptions',
		);
	}

	/**
	 * Adds Farewell → Import history (after the Farewell menu exists). Hooked on admin_menu.
	 */
	public static function action_admin_menu() {
		$hook = add_submenu_page(
			Farewell_Bridge_Dashboard_Menu::PAGE,
			__( 'Import history', 'farewell-bridge' ),
			__( 'Import history', 'farewell-bridge' ),
			self::CAPABILITY,
			self::PAGE,
			array( __CLASS__, 'render_page' )
		);
		if ( $hook ) {
			add_action( 'load-' . $hook, array( __CLASS__, 'enqueue' ) );
		}
	}

	/**
	 * The page's script, with what it needs to poll.
	 */
	public static function enqueue() {
		wp_enqueue_script( self::SCRIPT, plugins_url( 'admin/js/import.js', FAREWELL_BRIDGE_FILE ), array(), FAREWELL_BRIDGE_VERSION, true );
		wp_localize_script(
			self::SCRIPT,
			'farewellImport',
			array(
				'url'    => admin_url( 'admin-ajax.php' ),
				'action' => Farewell_Bridge_Importer::AJAX_ACTION,
				'nonce'  => wp_create_nonce( Farewell_Bridge_Importer::AJAX_ACTION ),
				'done'   => __( 'Import finished.', 'farewell-bridge' ),
				'failed' => __( 'The progress could not be read; the import goes on through cron.', 'farewell-bridge' ),
			)
		);
	}

	/**
	 * URL of the page.
	 *
	 * @param array $args Extra query arguments.
	 * @return string
	 */
	public static function page_url( array $args = array() ) {
		return add_query_arg( array_merge( array( 'page' => self::PAGE ), $args ), admin_url( 'admin.php' ) );
	}

	/**
	 * admin-post: the Start button (or Resume). Checks the nonce and the capability, reads the
	 * optional day to start from, starts the import and goes back to the page.
	 */
	public static function action_admin_post_farewell_bridge_import_start() {
		if ( ! current_user_can( self::CAPABILITY ) ) {
			wp_die( esc_html__( 'You are not allowed to import history.', 'farewell-bridge' ), 403 );
		}
		check_admin_referer( Farewell_Bridge_Importer::START_ACTION );
		$text  = isset( $_POST['since'] ) ? sanitize_text_field( wp_unslash( $_POST['since'] ) ) : '';
		$since = null;
		if ( '' !== $text ) {
			$date = DateTimeImmutable::createFromFormat( '!Y-m-d', $text, new DateTimeZone( 'UTC' ) );
			if ( false === $date || $date->format( 'Y-m-d' ) !== $text ) {
				wp_safe_redirect( self::page_url( array( 'farewell_import_error' => 'since' ) ) );
				exit;
			}
			$since = $date->getTimestamp();
		}
		$state = Farewell_Bridge_Importer::start( $since );
		$args  = is_wp_error( $state ) ? array( 'farewell_import_error' => 'source' ) : array();
		wp_safe_redirect( self::page_url( $args ) );
		exit;
	}

	/**
	 * Renders the page.
	 */
	public static function render_page() {
		if ( ! current_user_can( self::CAPABILITY ) ) {
			wp_die( esc_html__( 'You are not allowed to import history.', 'farewell-bridge' ), 403 );
		}
		// phpcs:ignore WordPress.Security.NonceVerification.Recommended -- a message key, compared only.
		$error = isset( $_GET['farewell_import_error'] ) ? sanitize_key( wp_unslash( $_GET['farewell_import_error'] ) ) : '';
		$view  = array(
			'names'      => self::source_names(),
			'summaries'  => Farewell_Bridge_Importer::summaries(),
			'progress'   => Farewell_Bridge_Importer::progress(),
			'configured' => Farewell_Bridge_Settings::is_configured(),
			'error'      => $error,
		);
		require FAREWELL_BRIDGE_DIR . '/admin/views/import-page.php';
	}
}
