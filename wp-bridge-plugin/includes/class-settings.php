<?php
/**
 * Configuration: options, wp-config.php constants that override them, and sanitization.
 *
 * Options:
 * - farewell_bridge_settings (autoloaded array): sidecar_url, site_id, delete_data.
 * - farewell_bridge_secret (NOT autoloaded string): the site's whsec_ secret.
 * Constants FAREWELL_SIDECAR_URL, FAREWELL_SITE_ID and FAREWELL_SECRET take precedence and lock
 * the matching field on the settings page.
 *
 * The secret follows one rule wherever it comes from (the constant, the option, or a filter on the
 * option such as pre_option_farewell_bridge_secret): Farewell_Bridge_Signer::problem(), the same
 * as the settings form's and the sidecar's. A secret that breaks it leaves the bridge unconfigured:
 * nothing is signed with it, the sidecar's routes answer 503 and the admin screen and Site Health
 * say why.
 *
 * @package Farewell_Bridge
 */

if ( ! defined( 'ABSPATH' ) ) {
	exit;
}

/**
 * Reads and sanitizes the bridge configuration.
 */
class Farewell_Bridge_Settings {

	const OPTION        = 'farewell_bridge_settings';
	const SECRET_OPTION = 'farewell_bridge_secret';
	const GROUP         = 'farewell_bridge';
	const PAGE          = 'farewell-bridge';

	/**
	 * Field name => constant that overrides it.
	 *
	 * @var array<string,string>
	 */
	private static $constants = array(
		'sidecar_url' => 'FAREWELL_SIDECAR_URL',
		'site_id'     => 'FAREWELL_SITE_ID',
		'secret'      => 'FAREWELL_SECRET',
	);

	/**
	 * Whether ensure_secret_option() is adding the option (add_option() sanitizes it again).
	 *
	 * @var bool
	 */
	private static $adding_secret = false;

	/**
	 * What this class keeps in WordPress, which uninstall.php removes (see Farewell_Bridge_Plugin::DATA_OWNERS).
	 *
	 * @return array See uninstall.php.
	 */
	public static function owned() {
		return array(
			'options' => array( self::OPTION, self::SECRET_OPTION ),
		);
	}

	/**
	 * Creates the secret option without autoload so it is never loaded on every request.
	 */
	public static function ensure_secret_option() {
		if ( self::$adding_secret || false !== get_option( self::SECRET_OPTION, false ) ) {
			return;
		}
		self::$adding_secret = true;
		try {
			add_option( self::SECRET_OPTION, '', '', 'no' );
		} finally {
			self::$adding_secret = false;
		}
	}

	/**
	 * Registers the settings with the Settings API.
	 */
	public static function action_admin_init() {
		register_setting(
			self::GROUP,
			self::OPTION,
			array(
				'type'              => 'array',
				'sanitize_callback' => array( __CLASS__, 'sanitize_settings' ),
				'default'           => self::defaults(),
				'show_in_rest'      => false,
			)
		);
		register_setting(
			self::GROUP,
			self::SECRET_OPTION,
			array(
				'type'              => 'string',
				'sanitize_callback' => array( __CLASS__, 'sanitize_secret' ),
				// No 'default': WordPress treats an option equal to its registered default as
				// missing and re-adds it with autoload on.
				'show_in_rest'      => false,
			)
		);
	}

	/**
	 * Default values of the settings array.
	 *
	 * @return array
	 */
	public static function defaults() {
		return array(
			'sidecar_url' => '',
			'site_id'     => '',
			'delete_data' => false,
		);
	}

	/**
	 * The stored settings array merged over defaults.
	 *
	 * @return array
	 */
	public static function stored() {
		$stored = get_option( self::OPTION, array() );
		if ( ! is_array( $stored ) ) {
			$stored = array();
		}
		return array_merge( self::defaults(), $stored );
	}

	/**
	 * Whether a field is locked by a constant in wp-config.php.
	 *
	 * @param string $field sidecar_url, site_id or secret.
	 * @return bool
	 */
	public static function is_locked( $field ) {
		return isset( self::$constants[ $field ] ) && defined( self::$constants[ $field ] );
	}

	/**
	 * The effective sidecar base URL, without a trailing slash.
	 *
	 * @return string
	 */
	public static function sidecar_url() {
		$url = self::is_locked( 'sidecar_url' ) ? (string) constant( 'FAREWELL_SIDECAR_URL' ) : (string) self::stored()['sidecar_url'];
		return untrailingslashit( trim( $url ) );
	}

	/**
	 * The effective site id.
	 *
	 * @return string
	 */
	public static function site_id() {
		return trim( self::is_locked( 'site_id' ) ? (string) constant( 'FAREWELL_SITE_ID' ) : (string) self::stored()['site_id'] );
	}

	/**
	 * The effective secret (never print it).
	 *
	 * @return string
	 */
	public static function secret() {
		if ( self::is_locked( 'secret' ) ) {
			return trim( (string) constant( 'FAREWELL_SECRET' ) );
		}
		return trim( (string) get_option( self::SECRET_OPTION, '' ) );
	}

	/**
	 * Whether the admin opted in to deleting all data on uninstall.
	 *
	 * @return bool
	 */
	public static function delete_data_on_uninstall() {
		return ! empty( self::stored()['delete_data'] );
	}

	/**
	 * Whether URL and site id are present and the secret follows the rule.
	 *
	 * @return bool
	 */
	public static function is_configured() {
		return '' !== self::sidecar_url() && '' !== self::site_id() && '' === self::secret_problem();
	}

	/**
	 * What is wrong with the effective secret (a Farewell_Bridge_Signer code), '' when it is valid.
	 *
	 * @return string
	 */
	public static function secret_problem() {
		return Farewell_Bridge_Signer::problem( self::secret() );
	}

	/**
	 * Why the secret that is set cannot be used, in a sentence naming where it comes from; '' when
	 * it is valid or when no secret is set at all (the bridge is simply not configured yet).
	 *
	 * @return string
	 */
	public static function secret_error() {
		$problem = self::secret_problem();
		if ( '' === $problem || Farewell_Bridge_Signer::MISSING === $problem ) {
			return '';
		}
		$where = self::is_locked( 'secret' )
			/* translators: %s: the name of a wp-config.php constant. */
			? sprintf( __( 'The secret set by %s in wp-config.php cannot be used.', 'farewell-bridge' ), 'FAREWELL_SECRET' )
			: __( 'The saved secret cannot be used.', 'farewell-bridge' );
		return $where . ' ' . Farewell_Bridge_Signer::explain( $problem ) . ' ' . __( 'Until it is fixed, nothing is sent to the sidecar (events wait in the outbox) and the sidecar\'s requests to this site are refused.', 'farewell-bridge' );
	}

	/**
	 * A secret shown safely: prefix, ellipsis, last four characters.
	 *
	 * @param string $secret The secret.
	 * @return string Empty when there is no secret.
	 */
	public static function mask_secret( $secret ) {
		$secret = (string) $secret;
		if ( '' === $secret ) {
			return '';
		}
		if ( strlen( $secret ) <= 10 ) {
			return '…';
		}
		return 'whsec_…' . substr( $secret, -4 );
	}

	/**
	 * Whether a URL is acceptable as the sidecar base URL.
	 *
	 * @param string $url URL.
	 * @return bool
	 */
	public static function is_valid_url( $url ) {
		$parts = wp_parse_url( $url );
		return is_array( $parts ) && isset( $parts['scheme'], $parts['host'] ) && in_array( strtolower( $parts['scheme'] ), array( 'http', 'https' ), true );
	}

	/**
	 * Whether a site id has the shape the sidecar issues.
	 *
	 * @param string $site_id Site id.
	 * @return bool
	 */
	public static function is_valid_site_id( $site_id ) {
		return 1 === preg_match( '/^[A-Za-z0-9_-]{1,64}$/', (string) $site_id );
	}

	/**
	 * Whether a secret follows the rule (whsec_ + standard base64 of at least 24 bytes; see
	 * Farewell_Bridge_Signer::problem(), the one place it is written).
	 *
	 * @param string $secret Secret.
	 * @return bool
	 */
	public static function is_valid_secret( $secret ) {
		return '' === Farewell_Bridge_Signer::problem( (string) $secret );
	}

	/**
	 * Sanitizes the settings array submitted from the settings page.
	 *
	 * Invalid values are reported with add_settings_error() and the stored value is kept.
	 * Fields locked by a constant keep their stored value.
	 *
	 * @param mixed $input Submitted value.
	 * @return array
	 */
	public static function sanitize_settings( $input ) {
		$old   = self::stored();
		$input = is_array( $input ) ? $input : array();
		$clean = $old;

		if ( ! self::is_locked( 'sidecar_url' ) && isset( $input['sidecar_url'] ) ) {
			$url = untrailingslashit( esc_url_raw( trim( wp_unslash( (string) $input['sidecar_url'] ) ), array( 'http', 'https' ) ) );
			if ( '' === trim( (string) $input['sidecar_url'] ) ) {
				$clean['sidecar_url'] = '';
			} elseif ( self::is_valid_url( $url ) ) {
				$clean['sidecar_url'] = $url;
			} else {
				add_settings_error( self::OPTION, 'farewell_bridge_url', __( 'The sidecar URL must start with http:// or https://. The previous value was kept.', 'farewell-bridge' ) );
			}
		}

		if ( ! self::is_locked( 'site_id' ) && isset( $input['site_id'] ) ) {
			$site_id = sanitize_text_field( wp_unslash( (string) $input['site_id'] ) );
			if ( '' === $site_id || self::is_valid_site_id( $site_id ) ) {
				$clean['site_id'] = $site_id;
			} else {
				add_settings_error( self::OPTION, 'farewell_bridge_site_id', __( 'The site id may only contain letters, digits, "-" and "_" (at most 64). The previous value was kept.', 'farewell-bridge' ) );
			}
		}

		$clean['delete_data'] = ! empty( $input['delete_data'] );

		return array(
			'sidecar_url' => (string) $clean['sidecar_url'],
			'site_id'     => (string) $clean['site_id'],
			'delete_data' => (bool) $clean['delete_data'],
		);
	}

	/**
	 * Sanitizes the submitted secret: empty keeps the stored secret, invalid keeps it too.
	 *
	 * @param mixed $input Submitted value.
	 * @return string
	 */
	public static function sanitize_secret( $input ) {
		self::ensure_secret_option();
		$old = (string) get_option( self::SECRET_OPTION, '' );
		if ( self::is_locked( 'secret' ) || null === $input ) {
			return $old;
		}
		$secret = trim( sanitize_text_field( wp_unslash( (string) $input ) ) );
		if ( '' === $secret ) {
			return $old;
		}
		if ( ! self::is_valid_secret( $secret ) ) {
			add_settings_error( self::OPTION, 'farewell_bridge_secret', __( 'The secret must look like whsec_ followed by base64 text, as printed by "python -m sidecar sites add". The previous secret was kept.', 'farewell-bridge' ) . ' ' . Farewell_Bridge_Signer::explain( Farewell_Bridge_Signer::problem( $secret ) ) );
			return $old;
		}
		return $secret;
	}
}
