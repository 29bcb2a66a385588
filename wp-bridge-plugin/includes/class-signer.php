<?php
/**
 * Standard Webhooks v1 signatures (see docs/PROTOCOL.md).
 *
 * @package Farewell_Bridge
 */

if ( ! defined( 'ABSPATH' ) ) {
	exit;
}

/**
 * Signs and verifies "{id}.{timestamp}.{raw body}" with HMAC-SHA256.
 */
class Farewell_Bridge_Signer {

	/**
	 * The secret, whsec_ + base64.
	 *
	 * @var string
	 */
	private $secret;

	/**
	 * Constructor.
	 *
	 * @param string $secret A whsec_ secret.
	 */
	public function __construct( $secret ) {
		$this->secret = (string) $secret;
	}

	/**
	 * The HMAC key: the decoded bytes after "whsec_".
	 *
	 * @return string
	 */
	private function key() {
		$encoded = 0 === strpos( $this->secret, 'whsec_' ) ? substr( $this->secret, 6 ) : $this->secret;
		$key     = base64_decode( $encoded, true ); // phpcs:ignore WordPress.PHP.DiscouragedPHPFunctions.obfuscation_base64_decode
		return false === $key ? '' : $key;
	}

	/**
	 * The signature header value for one message.
	 *
	 * @param string $webhook_id Message id.
	 * @param int    $timestamp  Unix seconds.
	 * @param string $body       Raw body, exactly as sent.
	 * @return string "v1,<base64>"
	 */
	public function sign( $webhook_id, $timestamp, $body ) {
		$mac = hash_hmac( 'sha256', $webhook_id . '.' . (int) $timestamp . '.' . $body, $this->key(), true );
		return 'v1,' . base64_encode( $mac ); // phpcs:ignore WordPress.PHP.DiscouragedPHPFunctions.obfuscation_base64_encode
	}

	/**
	 * The three headers of a signed request.
	 *
	 * @param string $webhook_id Message id.
	 * @param int    $timestamp  Unix seconds.
	 * @param string $body       Raw body.
	 * @return array<string,string>
	 */
	public function headers( $webhook_id, $timestamp, $body ) {
		return array(
			'webhook-id'        => $webhook_id,
			'webhook-timestamp' => (string) (int) $timestamp,
			'webhook-signature' => $this->sign( $webhook_id, $timestamp, $body ),
		);
	}

	/**
	 * Verifies a signature header (space-separated list) in constant time.
	 *
	 * @param string   $webhook_id Message id.
	 * @param int      $timestamp  Unix seconds from the header.
	 * @param string   $body       Raw body.
	 * @param string   $header     webhook-signature header.
	 * @param int|null $now        Current time (for tests); null = time().
	 * @param int      $tolerance  Allowed clock difference in seconds, both ways.
	 * @return bool
	 */
	public function verify( $webhook_id, $timestamp, $body, $header, $now = null, $tolerance = 300 ) {
		$now = null === $now ? time() : (int) $now;
		if ( ! is_numeric( $timestamp ) || abs( $now - (int) $timestamp ) > $tolerance ) {
			return false;
		}
		$expected = $this->sign( $webhook_id, (int) $timestamp, $body );
		foreach ( preg_split( '/\s+/', trim( (string) $header ) ) as $candidate ) {
			if ( '' !== $candidate && hash_equals( $expected, $candidate ) ) {
				return true;
			}
		}
		return false;
	}
}
