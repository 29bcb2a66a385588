<?php
/**
 * Clock trouble between WordPress and the sidecar.
 *
 * Every request is signed with this server's time() and the sidecar refuses a timestamp more
 * than 300 s from its own clock (docs/PROTOCOL.md). When the two clocks drift apart (no NTP on
 * one server) every delivery fails with a 401 that looks like a wrong secret. This class tells
 * the two apart and says which one it is:
 *
 * - the sidecar's 401 body says `"reason": "clock_skew"` with `clock_skew_seconds` (the
 *   sender's clock minus the sidecar's) once it has checked the signature with the secret;
 * - an older sidecar says only `invalid_signature`: then the `Date` header of its answer tells
 *   how far apart the clocks are (to the second, which is plenty against a 300 s window).
 *
 * A clock-skew refusal is retried like a temporary failure, not marked dead: the clock is
 * usually fixed by NTP without anyone touching WordPress, and the rows are then sent without an
 * admin having to press "retry". Nothing is lost either way; rows still die after the outbox's
 * 3 days of retries, and the admin panel shows the skew meanwhile.
 *
 * @package Farewell_Bridge
 */

if ( ! defined( 'ABSPATH' ) ) {
	exit;
}

/**
 * Detects, remembers and explains a clock skew with the sidecar.
 */
class Farewell_Bridge_Clock {

	/** Error code of a clock-skew result. */
	const ERROR = 'clock_skew';
	/** The sidecar's window, in seconds either side. */
	const TOLERANCE = 300;
	/** Non-autoloaded option: the last skew seen, array( seconds, at ). */
	const OPTION = 'farewell_bridge_clock_skew';

	/**
	 * What this class keeps in WordPress, which uninstall.php removes (see Farewell_Bridge_Plugin::DATA_OWNERS).
	 *
	 * @return array See uninstall.php.
	 */
	public static function owned() {
		return array(
			'options' => array( self::OPTION ),
		);
	}

	/**
	 * The skew a 401 answer reveals (this server's clock minus the sidecar's), or null.
	 *
	 * @param mixed $decoded  Decoded JSON body of the answer.
	 * @param mixed $response The wp_remote_* response (for its Date header).
	 * @param int   $now      This server's time when the answer arrived.
	 * @return int|null Seconds, negative when this server is behind.
	 */
	public static function skew_from_401( $decoded, $response, $now ) {
		if ( is_array( $decoded ) && isset( $decoded['reason'], $decoded['clock_skew_seconds'] )
			&& self::ERROR === $decoded['reason'] && is_numeric( $decoded['clock_skew_seconds'] ) ) {
			return (int) $decoded['clock_skew_seconds'];
		}
		$date = is_array( $response ) ? wp_remote_retrieve_header( $response, 'date' ) : '';
		$date = is_array( $date ) ? (string) reset( $date ) : (string) $date;
		$then = '' !== $date ? strtotime( $date ) : false;
		if ( false === $then ) {
			return null;
		}
		$skew = (int) $now - (int) $then;
		// The Date header has whole seconds: one more second keeps a 300 s skew, which the
		// sidecar still accepts, from passing for clock trouble.
		return abs( $skew ) > self::TOLERANCE + 1 ? $skew : null;
	}

	/**
	 * "Your server's clock differs from the sidecar's by about 6 minutes…", translated.
	 *
	 * @param int $seconds This server's clock minus the sidecar's.
	 * @return string
	 */
	public static function message( $seconds ) {
		$seconds = (int) $seconds;
		$size    = abs( $seconds );
		if ( $size >= 2 * HOUR_IN_SECONDS ) {
			$hours = (int) round( $size / HOUR_IN_SECONDS );
			/* translators: %d: number of hours. */
			$about = sprintf( _n( '%d hour', '%d hours', $hours, 'farewell-bridge' ), $hours );
		} else {
			$minutes = max( 1, (int) round( $size / MINUTE_IN_SECONDS ) );
			/* translators: %d: number of minutes. */
			$about = sprintf( _n( '%d minute', '%d minutes', $minutes, 'farewell-bridge' ), $minutes );
		}
		if ( $seconds < 0 ) {
			/* translators: %s: a duration such as "6 minutes". */
			$text = __( 'Your server\'s clock differs from the sidecar\'s by about %s: this server is behind.', 'farewell-bridge' );
		} else {
			/* translators: %s: a duration such as "6 minutes". */
			$text = __( 'Your server\'s clock differs from the sidecar\'s by about %s: this server is ahead.', 'farewell-bridge' );
		}
		return sprintf( $text, $about ) . ' ' . __( 'The sidecar accepts signed requests only within 5 minutes of its own clock: turn on time synchronisation (NTP) on both servers. Nothing is lost: events wait in the outbox and are sent once the clocks agree.', 'farewell-bridge' );
	}

	/**
	 * Remembers or forgets the skew after a request to the sidecar.
	 *
	 * @param array $result A Farewell_Bridge_Client result.
	 */
	public static function note( array $result ) {
		if ( self::ERROR === $result['error'] && isset( $result['body']['clock_skew_seconds'] ) ) {
			update_option(
				self::OPTION,
				array(
					'seconds' => (int) $result['body']['clock_skew_seconds'],
					'at'      => time(),
				),
				false
			);
		} elseif ( Farewell_Bridge_Client::DELIVERED === $result['kind'] && false !== get_option( self::OPTION, false ) ) {
			delete_option( self::OPTION );
		}
	}

	/**
	 * The skew last seen and not yet cleared by a successful request, or null.
	 *
	 * @return array{seconds:int,at:int}|null
	 */
	public static function current() {
		$seen = get_option( self::OPTION, null );
		return is_array( $seen ) && isset( $seen['seconds'], $seen['at'] ) ? $seen : null;
	}
}
