<?php
/**
 * POST /wp-json/farewell/v1/mail: sends one email rendered by the sidecar with wp_mail, so a site
 * whose WordPress already sends mail (an SMTP plugin, a provider) needs nothing else.
 *
 * The HTML is the body and the text its plain alternative (PHPMailer AltBody), with the sidecar's
 * Message-ID and its List-Unsubscribe / List-Unsubscribe-Post / Auto-Submitted headers, set in a
 * one-off phpmailer_init hook removed right after, and written as they are (Farewell_Bridge_Mailer).
 * A recipient refused for good (5xx on RCPT) answers 422 recipient_refused; any other failure 502
 * mail_failed, which the sidecar retries.
 *
 * @package Farewell_Bridge
 */

if ( ! defined( 'ABSPATH' ) ) {
	exit;
}

/**
 * The mail route.
 */
class Farewell_Bridge_Rest_Mail {

	const ROUTE           = 'mail';
	const MAX_RECIPIENTS  = 10;
	const MAX_SUBJECT     = 998;
	const MAX_NAME        = 200;
	const MAX_LINE        = 998;
	const MAX_TEXT_BYTES  = 262144;
	const MAX_HTML_BYTES  = 786432;
	const ALLOWED_HEADERS = array( 'List-Unsubscribe', 'List-Unsubscribe-Post', 'Auto-Submitted' );
	const MAX_IMAGES      = 4;
	const MAX_IMAGE_BYTES = 262144;
	const IMAGE_TYPES     = array( 'image/png', 'image/jpeg', 'image/gif' );

	/**
	 * The message being sent (read by the one-off phpmailer_init hook).
	 *
	 * @var array|null
	 */
	private static $current = null;

	/**
	 * SMTP lines seen while sending (to tell a refused recipient from an outage).
	 *
	 * @var string[]
	 */
	private static $smtp_lines = array();

	/**
	 * The wp_mail_failed error of the current send.
	 *
	 * @var WP_Error|null
	 */
	private static $failure = null;

	/**
	 * Route callback.
	 *
	 * @param WP_REST_Request $request Request (signature already verified).
	 * @return WP_REST_Response
	 */
	public static function handle( WP_REST_Request $request ) {
		$body = Farewell_Bridge_Rest::json_body( $request );
		if ( null === $body ) {
			return Farewell_Bridge_Rest::error( 422, 'invalid_request', __( 'The body must be a JSON object.', 'farewell-bridge' ) );
		}
		$message = self::validate( $body );
		if ( is_wp_error( $message ) ) {
			return Farewell_Bridge_Rest::error( 422, $message->get_error_code(), $message->get_error_message() );
		}
		return Farewell_Bridge_Rest::once(
			$request,
			self::ROUTE,
			static function () use ( $message ) {
				return self::send( $message );
			},
			static function ( $status, $answer ) {
				// Sent before: the same email is not sent twice.
				return new WP_REST_Response( array( 'status' => 'duplicate' ), 200 );
			}
		);
	}

	/**
	 * Checks and normalizes the request body.
	 *
	 * @param array $body Decoded body.
	 * @return array|WP_Error The message, or an error whose code is the answer's "error".
	 */
	public static function validate( array $body ) {
		$invalid = static function ( $text ) {
			return new WP_Error( 'invalid_request', $text );
		};
		$message_id = isset( $body['message_id'] ) && is_string( $body['message_id'] ) ? $body['message_id'] : '';
		if ( ! preg_match( '/^<[\x21-\x3b\x3d\x3f-\x7e]{1,200}@[A-Za-z0-9.\-\[\]:]{1,200}>$/', $message_id ) || strlen( $message_id ) > 250 ) {
			return $invalid( __( 'message_id must look like <local@domain>.', 'farewell-bridge' ) );
		}
		$from = self::address( isset( $body['from'] ) ? $body['from'] : null );
		if ( null === $from ) {
			return $invalid( __( 'from must be {"email", "name"} with a valid address.', 'farewell-bridge' ) );
		}
		$reply_to = null;
		if ( isset( $body['reply_to'] ) ) {
			$reply_to = self::address( $body['reply_to'] );
			if ( null === $reply_to ) {
				return $invalid( __( 'reply_to must be null or {"email", "name"} with a valid address.', 'farewell-bridge' ) );
			}
		}
		if ( empty( $body['to'] ) || ! is_array( $body['to'] ) || count( $body['to'] ) > self::MAX_RECIPIENTS ) {
			return $invalid( __( 'to must list 1 to 10 recipients.', 'farewell-bridge' ) );
		}
		$to = array();
		foreach ( $body['to'] as $recipient ) {
			$address = self::address( $recipient );
			if ( null === $address ) {
				$shown = is_array( $recipient ) && isset( $recipient['email'] ) && is_string( $recipient['email'] ) ? $recipient['email'] : '';
				/* translators: %s: an email address */
				return new WP_Error( 'recipient_refused', sprintf( __( 'Invalid recipient address: %s', 'farewell-bridge' ), substr( $shown, 0, 254 ) ) );
			}
			$to[] = $address;
		}
		$subject = isset( $body['subject'] ) && is_string( $body['subject'] ) ? $body['subject'] : '';
		if ( '' === trim( $subject ) || self::has_line_break( $subject ) || strlen( $subject ) > self::MAX_SUBJECT || ! self::is_utf8( $subject ) ) {
			return $invalid( __( 'subject must be one line of UTF-8 text (at most 998 bytes).', 'farewell-bridge' ) );
		}
		$text = isset( $body['text'] ) && is_string( $body['text'] ) ? $body['text'] : '';
		$html = isset( $body['html'] ) && is_string( $body['html'] ) ? $body['html'] : '';
		if ( ( '' === $text && '' === $html ) || strlen( $text ) > self::MAX_TEXT_BYTES || strlen( $html ) > self::MAX_HTML_BYTES || ! self::is_utf8( $text . $html ) ) {
			return $invalid( __( 'text and html must be UTF-8, not both empty, and small enough.', 'farewell-bridge' ) );
		}
		$headers = array();
		if ( isset( $body['headers'] ) ) {
			if ( ! is_array( $body['headers'] ) ) {
				return $invalid( __( 'headers must be an object.', 'farewell-bridge' ) );
			}
			foreach ( $body['headers'] as $name => $value ) {
				$known = null;
				foreach ( self::ALLOWED_HEADERS as $allowed ) {
					if ( 0 === strcasecmp( $allowed, (string) $name ) ) {
						$known = $allowed;
					}
				}
				// One line of printable ASCII that fits RFC 5322's 998 octets: written as it is.
				$value = is_string( $value ) ? trim( $value ) : $value;
				if ( null === $known || ! is_string( $value ) || '' === $value || self::has_line_break( $value ) || strlen( $known . ': ' . $value ) > self::MAX_LINE || preg_match( '/[^\x20-\x7e]/', $value ) ) {
					/* translators: %s: a header name */
					return $invalid( sprintf( __( 'Header %s is not allowed or not one line of ASCII text.', 'farewell-bridge' ), substr( (string) $name, 0, 64 ) ) );
				}
				$headers[ $known ] = $value;
			}
		}
		$images = self::inline_images( isset( $body['inline_images'] ) ? $body['inline_images'] : array(), $html );
		if ( is_wp_error( $images ) ) {
			return $images;
		}
		return array(
			'message_id' => $message_id,
			'from'       => $from,
			'reply_to'   => $reply_to,
			'to'         => $to,
			'subject'    => $subject,
			'text'       => $text,
			'html'       => $html,
			'headers'    => $headers,
			'images'     => $images,
		);
	}

	/**
	 * The images the HTML shows by cid: (the weekly digest's chart), checked and decoded.
	 *
	 * @param mixed  $value The request's inline_images.
	 * @param string $html  The HTML part.
	 * @return array|WP_Error
	 */
	private static function inline_images( $value, $html ) {
		$invalid = new WP_Error( 'invalid_request', __( 'inline_images must list at most 4 PNG, JPEG or GIF images of at most 256 KiB, each with a cid the HTML uses.', 'farewell-bridge' ) );
		if ( ! is_array( $value ) || count( $value ) > self::MAX_IMAGES ) {
			return $invalid;
		}
		$images = array();
		foreach ( $value as $image ) {
			if ( ! is_array( $image ) ) {
				return $invalid;
			}
			$cid  = isset( $image['cid'] ) && is_string( $image['cid'] ) ? $image['cid'] : '';
			$type = isset( $image['content_type'] ) && is_string( $image['content_type'] ) ? $image['content_type'] : '';
			$data = isset( $image['data'] ) && is_string( $image['data'] ) ? base64_decode( $image['data'], true ) : false; // phpcs:ignore WordPress.PHP.DiscouragedPHPFunctions.obfuscation_base64_decode -- the image's bytes.
			$name = isset( $image['filename'] ) && is_string( $image['filename'] ) ? sanitize_file_name( $image['filename'] ) : '';
			if ( ! preg_match( '/^[\x21-\x3b\x3d\x3f-\x7e]{1,200}$/', $cid ) || false === strpos( $html, 'cid:' . $cid ) || ! in_array( $type, self::IMAGE_TYPES, true ) || false === $data || '' === $data || strlen( $data ) > self::MAX_IMAGE_BYTES ) {
				return $invalid;
			}
			$images[] = array(
				'cid'          => $cid,
				'content_type' => $type,
				'filename'     => '' === $name ? 'image' : $name,
				'data'         => $data,
			);
		}
		return $images;
	}

	/**
	 * {"email", "name"} checked: a valid address, a one-line name (without the characters that
	 * would break an address list).
	 *
	 * @param mixed $value Value.
	 * @return array|null
	 */
	private static function address( $value ) {
		if ( ! is_array( $value ) || ! isset( $value['email'] ) || ! is_string( $value['email'] ) ) {
			return null;
		}
		$email = trim( $value['email'] );
		if ( strlen( $email ) > 254 || self::has_line_break( $email ) || ! is_email( $email ) ) {
			return null;
		}
		$name = isset( $value['name'] ) && is_string( $value['name'] ) ? $value['name'] : '';
		if ( self::has_line_break( $name ) || strlen( $name ) > self::MAX_NAME || ! self::is_utf8( $name ) ) {
			return null;
		}
		return array(
			'email' => $email,
			'name'  => trim( str_replace( array( '<', '>', '"', ',', ';' ), ' ', $name ) ),
		);
	}

	/**
	 * Whether a string holds CR, LF or NUL (header injection).
	 *
	 * @param string $value Value.
	 * @return bool
	 */
	private static function has_line_break( $value ) {
		return 1 === preg_match( '/[\r\n\0]/', $value );
	}

	/**
	 * Whether a string is valid UTF-8.
	 *
	 * @param string $value Value.
	 * @return bool
	 */
	private static function is_utf8( $value ) {
		return 1 === preg_match( '//u', $value );
	}

	/**
	 * Sends the message with wp_mail.
	 *
	 * @param array $message Validated message.
	 * @return array array( status, body, done ).
	 */
	public static function send( array $message ) {
		self::$current    = $message;
		self::$smtp_lines = array();
		self::$failure    = null;
		$to               = array();
		foreach ( $message['to'] as $recipient ) {
			$to[] = '' === $recipient['name'] ? $recipient['email'] : $recipient['name'] . ' <' . $recipient['email'] . '>';
		}
		$from    = $message['from'];
		$is_html = '' !== $message['html'];
		$headers = array(
			'Content-Type: ' . ( $is_html ? 'text/html' : 'text/plain' ) . '; charset=UTF-8',
			'From: ' . ( '' === $from['name'] ? $from['email'] : $from['name'] . ' <' . $from['email'] . '>' ),
		);
		// Last, so that SMTP plugins have configured PHPMailer first.
		add_action( 'phpmailer_init', array( __CLASS__, 'action_phpmailer_init' ), PHP_INT_MAX );
		add_action( 'wp_mail_failed', array( __CLASS__, 'action_wp_mail_failed' ) );
		$swapped = null;
		try {
			$swapped = self::use_own_mailer();
			$sent    = wp_mail( $to, $message['subject'], $is_html ? $message['html'] : $message['text'], $headers );
		} finally {
			remove_action( 'phpmailer_init', array( __CLASS__, 'action_phpmailer_init' ), PHP_INT_MAX );
			remove_action( 'wp_mail_failed', array( __CLASS__, 'action_wp_mail_failed' ) );
			self::restore_phpmailer();
			self::$current = null;
			if ( $swapped ) {
				$GLOBALS['phpmailer'] = $swapped[0]; // phpcs:ignore WordPress.WP.GlobalVariablesOverride.Prohibited -- put back what was there.
			}
		}
		if ( $sent ) {
			return array( 200, array( 'status' => 'sent' ), true );
		}
		$reason = self::$failure ? self::$failure->get_error_message() : __( 'wp_mail returned false.', 'farewell-bridge' );
		if ( self::recipient_refused() ) {
			return array( 422, array( 'error' => 'recipient_refused', 'message' => $reason ), false );
		}
		return array( 502, array( 'error' => 'mail_failed', 'message' => $reason ), false );
	}

	/**
	 * Puts a Farewell_Bridge_Mailer in WordPress's $phpmailer for this one wp_mail() call, unless
	 * a plugin has put its own PHPMailer class there (that plugin then sends, e.g. through an API
	 * that takes the headers as given). A fresh mailer is what wp_mail() starts from anyway: it
	 * resets the message and calls isMail(), and SMTP plugins configure it in phpmailer_init.
	 *
	 * @return array|null array( the previous $phpmailer ) to put back after, or null if unchanged.
	 */
	private static function use_own_mailer() {
		$previous = isset( $GLOBALS['phpmailer'] ) ? $GLOBALS['phpmailer'] : null;
		if ( is_object( $previous ) && ! in_array( get_class( $previous ), array( 'PHPMailer\PHPMailer\PHPMailer', 'WP_PHPMailer' ), true ) ) {
			return null;
		}
		$mailer = new Farewell_Bridge_Mailer( true );
		// As wp_mail() does when it creates its mailer (it skips this for one it is given).
		$mailer::$validator = static function ( $email ) {
			return (bool) is_email( $email );
		};
		$GLOBALS['phpmailer'] = $mailer; // phpcs:ignore WordPress.WP.GlobalVariablesOverride.Prohibited -- for this wp_mail() call only.
		return array( $previous );
	}

	/**
	 * One-off phpmailer_init: the text alternative, the Message-ID, Reply-To and the list headers;
	 * on SMTP, a transcript of the server's replies to tell a refused recipient from an outage.
	 *
	 * @param PHPMailer\PHPMailer\PHPMailer $phpmailer Mailer.
	 */
	public static function action_phpmailer_init( $phpmailer ) {
		$message = self::$current;
		if ( null === $message ) {
			return;
		}
		if ( '' !== $message['html'] && '' !== $message['text'] ) {
			$phpmailer->AltBody = $message['text']; // phpcs:ignore WordPress.NamingConventions.ValidVariableName.UsedPropertyNotSnakeCase
		}
		$phpmailer->MessageID = $message['message_id']; // phpcs:ignore WordPress.NamingConventions.ValidVariableName.UsedPropertyNotSnakeCase
		if ( null !== $message['reply_to'] ) {
			$phpmailer->clearReplyTos();
			$phpmailer->addReplyTo( $message['reply_to']['email'], $message['reply_to']['name'] );
		}
		foreach ( $message['headers'] as $name => $value ) {
			$phpmailer->addCustomHeader( $name, $value );
		}
		if ( $phpmailer instanceof Farewell_Bridge_Mailer ) {
			$phpmailer->as_is = array_values( $message['headers'] );
		}
		if ( '' !== $message['html'] ) {
			foreach ( $message['images'] as $image ) {
				$phpmailer->addStringEmbeddedImage( $image['data'], $image['cid'], $image['filename'], 'base64', $image['content_type'], 'inline' );
			}
		}
		if ( 'smtp' === $phpmailer->Mailer ) { // phpcs:ignore WordPress.NamingConventions.ValidVariableName.UsedPropertyNotSnakeCase
			self::$current['saved_debug'] = array( $phpmailer->SMTPDebug, $phpmailer->Debugoutput ); // phpcs:ignore WordPress.NamingConventions.ValidVariableName.UsedPropertyNotSnakeCase
			$previous_level               = (int) $phpmailer->SMTPDebug; // phpcs:ignore WordPress.NamingConventions.ValidVariableName.UsedPropertyNotSnakeCase
			$previous_output              = $phpmailer->Debugoutput; // phpcs:ignore WordPress.NamingConventions.ValidVariableName.UsedPropertyNotSnakeCase
			$phpmailer->SMTPDebug         = max( 2, $previous_level ); // phpcs:ignore WordPress.NamingConventions.ValidVariableName.UsedPropertyNotSnakeCase
			$phpmailer->Debugoutput       = static function ( $line, $level ) use ( $previous_level, $previous_output ) { // phpcs:ignore WordPress.NamingConventions.ValidVariableName.UsedPropertyNotSnakeCase
				if ( 0 === strpos( $line, 'SERVER -> CLIENT: ' ) || 0 === strpos( $line, 'CLIENT -> SERVER: RCPT' ) ) {
					self::$smtp_lines[] = substr( trim( $line ), 0, 300 );
				}
				if ( $previous_level > 0 && $level <= $previous_level && is_callable( $previous_output ) ) {
					call_user_func( $previous_output, $line, $level );
				}
			};
		}
	}

	/**
	 * One-off wp_mail_failed: keeps the error.
	 *
	 * @param WP_Error $error Error.
	 */
	public static function action_wp_mail_failed( $error ) {
		if ( is_wp_error( $error ) ) {
			self::$failure = $error;
		}
	}

	/**
	 * Leaves WordPress's shared PHPMailer as other wp_mail calls expect it: no Message-ID of ours
	 * (wp_mail does not reset it), the SMTP debug settings as they were.
	 */
	private static function restore_phpmailer() {
		global $phpmailer;
		if ( ! is_object( $phpmailer ) ) {
			return;
		}
		$phpmailer->MessageID = ''; // phpcs:ignore WordPress.NamingConventions.ValidVariableName.UsedPropertyNotSnakeCase
		if ( is_array( self::$current ) && ! empty( self::$current['images'] ) ) {
			$phpmailer->clearAttachments(); // Our embedded images must not ride along with the next email.
		}
		if ( is_array( self::$current ) && isset( self::$current['saved_debug'] ) ) {
			list( $phpmailer->SMTPDebug, $phpmailer->Debugoutput ) = self::$current['saved_debug']; // phpcs:ignore WordPress.NamingConventions.ValidVariableName.UsedPropertyNotSnakeCase
		}
	}

	/**
	 * Whether the failure is a recipient refused for good: the SMTP server answered 5xx to RCPT,
	 * or PHPMailer found the recipient address invalid. Anything unknown is NOT a refusal (the
	 * sidecar retries it; a wrong refusal would stop emailing a real member).
	 *
	 * @return bool
	 */
	private static function recipient_refused() {
		$after_rcpt = false;
		foreach ( self::$smtp_lines as $line ) {
			if ( 0 === strpos( $line, 'CLIENT -> SERVER: RCPT' ) ) {
				$after_rcpt = true;
				continue;
			}
			if ( $after_rcpt && preg_match( '/^SERVER -> CLIENT: (\d)\d\d/', $line, $m ) ) {
				if ( '5' === $m[1] ) {
					return true;
				}
				$after_rcpt = false;
			}
		}
		// PHPMailer's "Invalid address:  (to): …": the address passed is_email but not PHPMailer.
		return self::$failure && 1 === preg_match( '/^Invalid address:\s+\((to|cc|bcc)\)/i', self::$failure->get_error_message() );
	}
}
