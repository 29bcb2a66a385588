<?php
/**
 * The "Farewell" menu of wp-admin: this week's headline figures, fetched from the sidecar with a
 * signed request and cached briefly, and the "Open dashboard" button, which signs the admin in to
 * the sidecar's dashboard with a single-use, 60-second token (docs/PROTOCOL.md, "Signing in to
 * the dashboard").
 *
 * @package Farewell_Bridge
 */

if ( ! defined( 'ABSPATH' ) ) {
	exit;
}

/**
 * The Farewell menu page and the sign-in to the dashboard.
 */
class Farewell_Bridge_Dashboard_Menu {

	const CAPABILITY  = 'manage_options';
	const PAGE        = 'farewell';
	const OPEN_ACTION = 'farewell_bridge_open_dashboard';
	const TRANSIENT   = 'farewell_bridge_summary';
	const CACHE_TTL   = 300;
	const TOKEN_TTL   = 60;

	/**
	 * What this class keeps in WordPress, which uninstall.php removes (see Farewell_Bridge_Plugin::DATA_OWNERS).
	 *
	 * @return array See uninstall.php.
	 */
	public static function owned() {
		return array(
			'transients' => array( self::TRANSIENT ),
		);
	}

	/**
	 * Adds the top-level Farewell menu. Hooked on admin_menu.
	 */
	public static function action_admin_menu() {
		$hook = add_menu_page(
			__( 'Farewell', 'farewell-bridge' ),
			__( 'Farewell', 'farewell-bridge' ),
			self::CAPABILITY,
			self::PAGE,
			array( __CLASS__, 'render_page' ),
			'dashicons-chart-bar',
			58
		);
		if ( $hook ) {
			// The page opens on the set-up checklist until every step is done.
			add_action( 'load-' . $hook, array( 'Farewell_Bridge_Setup_Checklist', 'enqueue' ) );
		}
	}

	/**
	 * This week's figures from the sidecar, cached for a few minutes; an error array when the
	 * sidecar cannot be reached (the page still renders).
	 *
	 * @return array{figures:array|null,error:string}
	 */
	public static function summary() {
		$cached = get_transient( self::TRANSIENT );
		if ( is_array( $cached ) ) {
			return array(
				'figures' => $cached,
				'error'   => '',
			);
		}
		if ( ! Farewell_Bridge_Settings::is_configured() ) {
			return array(
				'figures' => null,
				'error'   => __( 'The bridge is not configured: set the sidecar URL, site id and secret in Settings → Farewell.', 'farewell-bridge' ),
			);
		}
		$result = Farewell_Bridge_Client::from_settings()->request( 'GET', 'summary', 'fwb_summary_' . wp_generate_uuid4(), '', 3.0 );
		if ( Farewell_Bridge_Client::DELIVERED !== $result['kind'] || ! is_array( $result['body'] ) ) {
			return array(
				'figures' => null,
				'error'   => '' !== $result['message'] ? $result['message'] : __( 'The sidecar sent an answer the bridge does not understand.', 'farewell-bridge' ),
			);
		}
		set_transient( self::TRANSIENT, $result['body'], self::CACHE_TTL );
		return array(
			'figures' => $result['body'],
			'error'   => '',
		);
	}

	/**
	 * Renders the Farewell page.
	 */
	public static function render_page() {
		if ( ! current_user_can( self::CAPABILITY ) ) {
			wp_die( esc_html__( 'Sorry, you are not allowed to manage Farewell Bridge.', 'farewell-bridge' ), 403 );
		}
		$summary = self::summary();
		$view    = array(
			'figures'    => $summary['figures'],
			'error'      => $summary['error'],
			'configured' => Farewell_Bridge_Settings::is_configured(),
			'steps'      => Farewell_Bridge_Setup_Checklist::steps(),
			'notice'     => null,
		);
		require FAREWELL_BRIDGE_DIR . '/admin/views/dashboard-menu.php';
	}

	/**
	 * Money per currency as text, e.g. "29,00 EUR · 12,50 USD".
	 *
	 * @param mixed $amounts Currency => decimal string.
	 * @return string
	 */
	public static function money( $amounts ) {
		if ( ! is_array( $amounts ) || empty( $amounts ) ) {
			return '–';
		}
		$parts = array();
		foreach ( $amounts as $currency => $amount ) {
			$parts[] = number_format_i18n( (float) $amount, 2 ) . ' ' . strtoupper( (string) $currency );
		}
		return implode( ' · ', $parts );
	}

	/**
	 * "Open dashboard": checks the capability and the nonce, then sends the admin's browser to
	 * the sidecar with a fresh sign-in token. Hooked on admin_post_farewell_bridge_open_dashboard.
	 */
	public static function action_admin_post_farewell_bridge_open_dashboard() {
		if ( ! current_user_can( self::CAPABILITY ) ) {
			wp_die( esc_html__( 'Sorry, you are not allowed to manage Farewell Bridge.', 'farewell-bridge' ), '', array( 'response' => 403 ) );
		}
		check_admin_referer( self::OPEN_ACTION );
		if ( ! Farewell_Bridge_Settings::is_configured() ) {
			wp_die( esc_html__( 'The bridge is not configured: set the sidecar URL, site id and secret in Settings → Farewell.', 'farewell-bridge' ), '', array( 'response' => 400 ) );
		}
		$url = Farewell_Bridge_Settings::sidecar_url() . '/admin/login?token=' . rawurlencode( self::mint_login_token( wp_get_current_user() ) );
		// The sidecar is another host, which wp_safe_redirect() refuses by design; the URL is built
		// from the configured sidecar address only.
		wp_redirect( $url, 303 ); // phpcs:ignore WordPress.Security.SafeRedirect.wp_redirect_wp_redirect
		exit;
	}

	/**
	 * A sign-in token for the dashboard: base64url(JSON payload) "." base64url(HMAC-SHA256 over
	 * "farewell-login." + the base64url payload, keyed with the secret's bytes).
	 *
	 * @param WP_User  $user The admin signing in.
	 * @param int|null $now  Unix time of issue (tests); null = now.
	 * @return string
	 */
	public static function mint_login_token( WP_User $user, $now = null ) {
		$now     = null === $now ? time() : (int) $now;
		$payload = array(
			'site_id'      => Farewell_Bridge_Settings::site_id(),
			'user_id'      => (int) $user->ID,
			'user_email'   => (string) $user->user_email,
			'display_name' => (string) $user->display_name,
			'locale'       => (string) get_user_locale( $user ),
			'iat'          => $now,
			'exp'          => $now + self::TOKEN_TTL,
			'nonce'        => bin2hex( random_bytes( 16 ) ),
		);
		$encoded = self::base64url( (string) wp_json_encode( $payload ) );
		$mac     = hash_hmac( 'sha256', 'farewell-login.' . $encoded, self::key( Farewell_Bridge_Settings::secret() ), true );
		return $encoded . '.' . self::base64url( $mac );
	}

	/**
	 * The HMAC key: the bytes of a whsec_ secret, as for signed requests.
	 *
	 * @param string $secret The secret.
	 * @return string
	 */
	private static function key( $secret ) {
		$encoded = 0 === strpos( $secret, 'whsec_' ) ? substr( $secret, 6 ) : $secret;
		$key     = base64_decode( $encoded, true ); // phpcs:ignore WordPress.PHP.DiscouragedPHPFunctions.obfuscation_base64_decode
		return false === $key ? '' : $key;
	}

	/**
	 * URL-safe base64 without padding.
	 *
	 * @param string $data Bytes.
	 * @return string
	 */
	private static function base64url( $data ) {
		return rtrim( strtr( base64_encode( $data ), '+/', '-_' ), '=' ); // phpcs:ignore WordPress.PHP.DiscouragedPHPFunctions.obfuscation_base64_encode
	}
}
