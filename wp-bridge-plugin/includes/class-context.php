<?php
/**
 * Who initiated what is happening in this request.
 *
 * Rules, in order:
 * 1. WP-Cron (wp_doing_cron()), WP-CLI, or any other command-line PHP -> "system".
 * 2. A logged-in user who is not the member (e.g. an admin in wp-admin) -> "admin".
 * 3. The logged-in member themselves -> "member" (their own front-end or profile request).
 * 4. Nobody logged in: a payment gateway's webhook/IPN (REST API, admin-ajax, or a listener URL
 *    such as MemberPress `?mepr-listener=`, PMPro `?pmpro-listener=` or WooCommerce `?wc-api=`),
 *    or anything else arriving without a session -> "gateway".
 * The result can be changed with the `farewell_bridge_initiated_by` filter.
 *
 * @package Farewell_Bridge
 */

if ( ! defined( 'ABSPATH' ) ) {
	exit;
}

/**
 * Request context helpers.
 */
class Farewell_Bridge_Context {

	/**
	 * Who initiated an event about a member.
	 *
	 * @param int $member_id The member's WordPress user id.
	 * @return string member, admin, gateway or system.
	 */
	public static function initiated_by( $member_id ) {
		$who = self::decide( self::is_system(), (int) get_current_user_id(), (int) $member_id );

		/**
		 * Filters who is recorded as having initiated an event.
		 *
		 * @param string $who       member, admin, gateway or system.
		 * @param int    $member_id The member's user id.
		 * @param bool   $listener  Whether the request looks like a gateway listener.
		 */
		$who = (string) apply_filters( 'farewell_bridge_initiated_by', $who, (int) $member_id, self::is_gateway_listener() );
		return in_array( $who, array( 'member', 'admin', 'gateway', 'system' ), true ) ? $who : 'system';
	}

	/**
	 * The rules above, as a pure function.
	 *
	 * @param bool $is_system       Cron, WP-CLI or command line.
	 * @param int  $current_user_id Logged-in user, 0 for none.
	 * @param int  $member_id       The member.
	 * @return string
	 */
	public static function decide( $is_system, $current_user_id, $member_id ) {
		if ( $is_system ) {
			return 'system';
		}
		if ( $current_user_id > 0 ) {
			return $current_user_id === $member_id ? 'member' : 'admin';
		}
		return 'gateway';
	}

	/**
	 * Whether this is cron, WP-CLI or another command-line run.
	 *
	 * @return bool
	 */
	public static function is_system() {
		/**
		 * Filters whether this run is cron, WP-CLI or the command line (tests of a member's own
		 * web request run in PHPUnit, itself a command line).
		 *
		 * @param bool $system Whether wp_doing_cron(), WP-CLI or PHP_SAPI 'cli'.
		 */
		return (bool) apply_filters( 'farewell_bridge_is_system', wp_doing_cron() || ( defined( 'WP_CLI' ) && WP_CLI ) || 'cli' === PHP_SAPI );
	}

	/**
	 * Whether the request looks like a payment gateway's notification.
	 *
	 * @return bool
	 */
	public static function is_gateway_listener() {
		// phpcs:disable WordPress.Security.NonceVerification.Recommended -- only checking presence.
		if ( isset( $_GET['mepr-listener'] ) || isset( $_GET['pmpro-listener'] ) || isset( $_GET['wc-api'] ) || isset( $_GET['listener'] ) ) {
			return true;
		}
		// phpcs:enable
		if ( wp_doing_ajax() || ( defined( 'REST_REQUEST' ) && REST_REQUEST ) ) {
			return 0 === (int) get_current_user_id();
		}
		return false;
	}
}
