<?php
/**
 * The PHPMailer the mail route sends with: WordPress's own class (WP_PHPMailer from 6.8,
 * PHPMailer before), except that the sidecar's list headers are written as they are.
 *
 * PHPMailer passes every custom header through encodeHeader(), which writes an ASCII value longer
 * than 50 characters as RFC 2047 encoded words when WordPress sends with PHP's mail() (its
 * default): `List-Unsubscribe: =?us-ascii?Q?=3Chttps=3A//…?=`. Encoded words are not allowed there
 * (RFC 2369 wants `<URI>`s), so mailbox providers would offer no one-click unsubscribe (RFC 8058).
 * The values are checked by the route first (one line of printable ASCII that fits a 998-octet
 * line), so writing them as they are cannot inject a header.
 *
 * @package Farewell_Bridge
 */

if ( ! defined( 'ABSPATH' ) ) {
	exit;
}

// Loaded as wp_mail() loads them (it does so only when it creates its own mailer).
if ( ! class_exists( 'PHPMailer\\PHPMailer\\PHPMailer' ) ) {
	require_once ABSPATH . WPINC . '/PHPMailer/PHPMailer.php';
	require_once ABSPATH . WPINC . '/PHPMailer/SMTP.php';
	require_once ABSPATH . WPINC . '/PHPMailer/Exception.php';
}
if ( ! class_exists( 'WP_PHPMailer' ) && is_readable( ABSPATH . WPINC . '/class-wp-phpmailer.php' ) ) {
	require_once ABSPATH . WPINC . '/class-wp-phpmailer.php';
}

// The parent is the class wp_mail() itself would use, so errors read as WordPress's own.
if ( class_exists( 'WP_PHPMailer' ) ) {
	/** WordPress 6.8 and later. */
	abstract class Farewell_Bridge_Mailer_Base extends WP_PHPMailer {} // phpcs:ignore Generic.Files.OneObjectStructurePerFile.MultipleFound
} else {
	/** WordPress 6.1 to 6.7. */
	abstract class Farewell_Bridge_Mailer_Base extends PHPMailer\PHPMailer\PHPMailer {} // phpcs:ignore Generic.Files.OneObjectStructurePerFile.MultipleFound
}

/**
 * A PHPMailer that writes the listed header values unencoded.
 */
class Farewell_Bridge_Mailer extends Farewell_Bridge_Mailer_Base { // phpcs:ignore Generic.Files.OneObjectStructurePerFile.MultipleFound

	/**
	 * Header values to write as they are (set by the mail route for its own message).
	 *
	 * @var string[]
	 */
	public $as_is = array();

	/**
	 * PHPMailer's encoding of a header value, except for the values in $as_is.
	 *
	 * @param string $str      The value (already trimmed by PHPMailer).
	 * @param string $position 'text', 'phrase' or 'comment'.
	 * @return string
	 */
	public function encodeHeader( $str, $position = 'text' ) { // phpcs:ignore WordPress.NamingConventions.ValidFunctionName.MethodNameInvalid -- PHPMailer's method.
		if ( 'text' === $position && in_array( $str, $this->as_is, true ) ) {
			return $str;
		}
		return parent::encodeHeader( $str, $position );
	}
}
