<?php
/**
 * Signatures between the bridge and the sidecar (see docs/PROTOCOL.md, "Signing a request").
 *
 * Two schemes, told apart by the tag before each signature in webhook-signature:
 * - "v1", Standard Webhooks: HMAC-SHA256 of "{id}.{timestamp}.{body}". Only the sidecar's events
 *   route takes it (the outbox's deliveries).
 * - "fw2", bound to a route: HMAC-SHA256 of "{id}.{timestamp}.{METHOD} {path}\n{body}". Every other
 *   signed request, both ways, so that a request captured on one route is refused on every other
 *   (a privacy export replayed as an erasure, a mail request replayed as a coupon).
 *
 * The secret follows one rule wherever it comes from (wp-config.php, the option, a filter), the
 * same as the sidecar's: "whsec_" then standard base64 (+ and /, padding optional) of at least 24
 * bytes. A secret that breaks it never signs and never verifies: decoded leniently, a pasted
 * placeholder becomes an empty HMAC key that anyone can sign with.
 *
 * @package Farewell_Bridge
 */

if ( ! defined( 'ABSPATH' ) ) {
	exit;
}

/**
 * Signs and verifies requests with the site's secret.
 */
class Farewell_Bridge_Signer {

	const PREFIX            = 'whsec_';
	const MIN_KEY_BYTES     = 24;
	const MAX_SECRET_LENGTH = 256;
	const STANDARD_WEBHOOKS = 'v1';
	const ROUTE_BOUND       = 'fw2';

	/**
	 * What is wrong with a secret, as a short code.
	 */
	const MISSING    = 'missing';
	const NO_PREFIX  = 'prefix';
	const BASE64URL  = 'base64url';
	const NOT_BASE64 = 'not_base64';
	const TOO_SHORT  = 'too_short';
	const TOO_LONG   = 'too_long';

	/**
	 * The HMAC key (the decoded bytes after "whsec_"), or null when the secret breaks the rule.
	 *
	 * @var string|null
	 */
	private $key;

	/**
	 * Constructor.
	 *
	 * @param string $secret A whsec_ secret.
	 */
	public function __construct( $secret ) {
		$this->key = self::key_of( $secret );
	}

	/**
	 * What is wrong with a secret, or '' when it follows the rule.
	 *
	 * @param mixed $secret The secret.
	 * @return string One of the constants above, or ''.
	 */
	public static function problem( $secret ) {
		if ( ! is_string( $secret ) || '' === $secret ) {
			return self::MISSING;
		}
		if ( 0 !== strpos( $secret, self::PREFIX ) ) {
			return self::NO_PREFIX;
		}
		if ( strlen( $secret ) > self::MAX_SECRET_LENGTH ) {
			return self::TOO_LONG;
		}
		$text = (string) substr( $secret, strlen( self::PREFIX ) );
		if ( ! preg_match( '#^[A-Za-z0-9+/]*={0,2}$#D', $text ) ) {
			return preg_match( '/^[A-Za-z0-9_-]*={0,2}$/D', $text ) ? self::BASE64URL : self::NOT_BASE64;
		}
		$digits = rtrim( $text, '=' );
		if ( 1 === strlen( $digits ) % 4 || ( strlen( $digits ) !== strlen( $text ) && 0 !== strlen( $text ) % 4 ) ) {
			return self::NOT_BASE64;
		}
		$key = base64_decode( $digits, true ); // phpcs:ignore WordPress.PHP.DiscouragedPHPFunctions.obfuscation_base64_decode -- the secret's bytes.
		if ( false === $key || strlen( $key ) < self::MIN_KEY_BYTES ) {
			return self::TOO_SHORT;
		}
		return '';
	}

	/**
	 * Why a secret cannot be used, in a sentence for the admin; '' when it can.
	 *
	 * @param string $problem A code from problem().
	 * @return string
	 */
	public static function explain( $problem ) {
		switch ( $problem ) {
			case '':
				return '';
			case self::MISSING:
				return __( 'There is no secret.', 'farewell-bridge' );
			case self::NO_PREFIX:
				return __( 'The secret does not start with whsec_.', 'farewell-bridge' );
			case self::BASE64URL:
				return __( 'The text after whsec_ uses - or _ (base64url): paste the secret exactly as "python -m sidecar sites add" printed it, with + and /.', 'farewell-bridge' );
			case self::TOO_SHORT:
				/* translators: %d: the minimum number of bytes. */
				return sprintf( __( 'The secret is too short: it must decode to at least %d bytes. Paste the whole secret printed by the sidecar.', 'farewell-bridge' ), self::MIN_KEY_BYTES );
			case self::TOO_LONG:
				return __( 'The secret is too long to be one the sidecar printed.', 'farewell-bridge' );
			default:
				return __( 'The text after whsec_ is not base64: was a placeholder left in place of the secret?', 'farewell-bridge' );
		}
	}

	/**
	 * The HMAC key of a secret, or null when it breaks the rule.
	 *
	 * @param mixed $secret The secret.
	 * @return string|null
	 */
	private static function key_of( $secret ) {
		if ( '' !== self::problem( $secret ) ) {
			return null;
		}
		return base64_decode( rtrim( substr( $secret, strlen( self::PREFIX ) ), '=' ), true ); // phpcs:ignore WordPress.PHP.DiscouragedPHPFunctions.obfuscation_base64_decode -- the secret's bytes.
	}

	/**
	 * Whether this signer has a key it may sign and verify with.
	 *
	 * @return bool
	 */
	public function is_usable() {
		return null !== $this->key;
	}

	/**
	 * The "METHOD path" a route-bound signature covers (the query string is not part of it).
	 *
	 * @param string $method HTTP method.
	 * @param string $path   Path: the sidecar's route path, or the bridge's REST route.
	 * @return string
	 * @throws InvalidArgumentException When the method or path could not be signed unambiguously.
	 */
	public static function scope( $method, $path ) {
		$method = strtoupper( (string) $method );
		$path   = explode( '?', (string) $path, 2 )[0];
		if ( ! preg_match( '/^[A-Z]{1,16}$/D', $method ) || ! preg_match( '#^/[\x21-\x7e]{0,2000}$#D', $path ) ) {
			throw new InvalidArgumentException( 'Farewell Bridge: not a method and path that can be signed.' );
		}
		return $method . ' ' . $path;
	}

	/**
	 * The signature header value for one message: Standard Webhooks "v1,…" without a scope,
	 * route-bound "fw2,…" with one.
	 *
	 * @param string      $webhook_id Message id.
	 * @param int         $timestamp  Unix seconds.
	 * @param string      $body       Raw body, exactly as sent.
	 * @param string|null $scope      scope( method, path ), or null for Standard Webhooks.
	 * @return string
	 * @throws DomainException When the secret breaks the rule: nothing is signed with it.
	 */
	public function sign( $webhook_id, $timestamp, $body, $scope = null ) {
		if ( null === $this->key ) {
			throw new DomainException( 'Farewell Bridge: the secret is not a valid whsec_ secret; refusing to sign.' );
		}
		$tag = null === $scope ? self::STANDARD_WEBHOOKS : self::ROUTE_BOUND;
		return $tag . ',' . base64_encode( $this->mac( $webhook_id, (int) $timestamp, $body, $scope ) ); // phpcs:ignore WordPress.PHP.DiscouragedPHPFunctions.obfuscation_base64_encode
	}

	/**
	 * The three headers of a signed request.
	 *
	 * @param string      $webhook_id Message id.
	 * @param int         $timestamp  Unix seconds.
	 * @param string      $body       Raw body.
	 * @param string|null $scope      scope( method, path ), or null for Standard Webhooks.
	 * @return array<string,string>
	 * @throws DomainException When the secret breaks the rule.
	 */
	public function headers( $webhook_id, $timestamp, $body, $scope = null ) {
		return array(
			'webhook-id'        => $webhook_id,
			'webhook-timestamp' => (string) (int) $timestamp,
			'webhook-signature' => $this->sign( $webhook_id, $timestamp, $body, $scope ),
		);
	}

	/**
	 * Verifies a signature header (space-separated list) in constant time: only signatures of the
	 * scheme asked for count ("fw2" for that scope, or "v1" without one). Never true without a key.
	 *
	 * @param string      $webhook_id Message id.
	 * @param int         $timestamp  Unix seconds from the header.
	 * @param string      $body       Raw body.
	 * @param string      $header     webhook-signature header.
	 * @param int|null    $now        Current time (for tests); null = time().
	 * @param int         $tolerance  Allowed clock difference in seconds, both ways.
	 * @param string|null $scope      scope( method, path ), or null for Standard Webhooks.
	 * @return bool
	 */
	public function verify( $webhook_id, $timestamp, $body, $header, $now = null, $tolerance = 300, $scope = null ) {
		$now = null === $now ? time() : (int) $now;
		if ( null === $this->key || ! is_numeric( $timestamp ) || abs( $now - (int) $timestamp ) > $tolerance ) {
			return false;
		}
		$expected = $this->sign( $webhook_id, (int) $timestamp, $body, $scope );
		foreach ( preg_split( '/\s+/', trim( (string) $header ) ) as $candidate ) {
			if ( '' !== $candidate && hash_equals( $expected, $candidate ) ) {
				return true;
			}
		}
		return false;
	}

	/**
	 * HMAC-SHA256 of the signed content.
	 *
	 * @param string      $webhook_id Message id.
	 * @param int         $timestamp  Unix seconds.
	 * @param string      $body       Raw body.
	 * @param string|null $scope      "METHOD path", or null for Standard Webhooks.
	 * @return string Raw bytes.
	 */
	private function mac( $webhook_id, $timestamp, $body, $scope ) {
		$content = $webhook_id . '.' . $timestamp . '.' . ( null === $scope ? '' : $scope . "\n" ) . $body;
		return hash_hmac( 'sha256', $content, $this->key, true );
	}
}
