<?php
/**
 * Tells the sidecar about this WordPress site: today, the administration email address, which
 * the weekly digest goes to until the owner chooses recipients in the dashboard.
 *
 * Best effort and never on a member's request: sent after a successful "Test connection", and
 * from a one-off cron event when the admin email changes.
 *
 * @package Farewell_Bridge
 */

if ( ! defined( 'ABSPATH' ) ) {
	exit;
}

/**
 * Site information for the sidecar.
 */
class Farewell_Bridge_Site_Info {

	const CRON_HOOK = 'farewell_bridge_report_site_info';

	/**
	 * What this class keeps in WordPress, which uninstall.php removes (see Farewell_Bridge_Plugin::DATA_OWNERS).
	 *
	 * @return array See uninstall.php.
	 */
	public static function owned() {
		return array(
			'cron_hooks' => array( self::CRON_HOOK ),
		);
	}

	/**
	 * Sends the site information now (signed POST /site-info).
	 *
	 * @return bool Whether the sidecar stored it.
	 */
	public static function report() {
		if ( ! Farewell_Bridge_Settings::is_configured() ) {
			return false;
		}
		$email = (string) get_option( 'admin_email' );
		if ( ! is_email( $email ) ) {
			return false;
		}
		$result = Farewell_Bridge_Client::from_settings()->post_json( 'site-info', array( 'admin_email' => $email ), 5.0 );
		return Farewell_Bridge_Client::DELIVERED === $result['kind'];
	}

	/**
	 * The cron event scheduled below.
	 */
	public static function action_farewell_bridge_report_site_info() {
		self::report();
	}

	/**
	 * Hooked on update_option_admin_email: report from cron, so saving General Settings never
	 * waits for the sidecar.
	 */
	public static function action_update_option_admin_email() {
		if ( ! wp_next_scheduled( self::CRON_HOOK ) ) {
			wp_schedule_single_event( time(), self::CRON_HOOK );
		}
	}
}
