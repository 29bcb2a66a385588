<?php
/**
 * Base for the sidecar → bridge route tests: signed requests dispatched through the real REST
 * server, an empty request log, and a PHPMailer whose postSend() records the MIME message
 * instead of talking to a server (or plays an SMTP refusal/outage).
 */

use PHPMailer\PHPMailer\Exception as PHPMailerException;
use PHPMailer\PHPMailer\PHPMailer;

if ( ! class_exists( 'PHPMailer\\PHPMailer\\PHPMailer', false ) ) {
	require_once ABSPATH . WPINC . '/PHPMailer/PHPMailer.php';
	require_once ABSPATH . WPINC . '/PHPMailer/SMTP.php';
	require_once ABSPATH . WPINC . '/PHPMailer/Exception.php';
}

/** Records what wp_mail would send; `mode` plays a server's answer. */
class Farewell_Test_Mailer extends PHPMailer {
	/** @var string[] MIME messages "sent". */
	public $sent = array();
	/** @var string ok, refuse (550 on RCPT), defer (450 on RCPT), down (cannot connect). */
	public $mode = 'ok';

	public function postSend() {
		if ( 'ok' === $this->mode ) {
			$this->sent[] = $this->getSentMIMEMessage();
			return true;
		}
		if ( 'down' === $this->mode ) {
			throw new PHPMailerException( $this->lang( 'smtp_connect_failed' ), self::STOP_CRITICAL );
		}
		// What PHPMailer's SMTP class logs at SMTPDebug 2 around a refused RCPT.
		$code = 'refuse' === $this->mode ? '550 5.1.1' : '450 4.2.0';
		$to   = $this->getToAddresses()[0][0];
		$this->edebug( "CLIENT -> SERVER: RCPT TO:<$to>\n" );
		$this->edebug( "SERVER -> CLIENT: $code Mailbox unavailable\n" );
		throw new PHPMailerException( $this->lang( 'recipients_failed' ) . $to . ': Mailbox unavailable', self::STOP_CONTINUE );
	}
}

abstract class Farewell_Rest_Test_Case extends Farewell_Test_Case {

	/** @var Farewell_Test_Mailer */
	protected $mailer;

	/** @var mixed The PHPMailer WordPress had. */
	private $saved_mailer;

	protected function setUp(): void {
		global $wpdb;
		parent::setUp();
		Farewell_Bridge_Request_Log::maybe_upgrade();
		$wpdb->query( 'DELETE FROM ' . Farewell_Bridge_Request_Log::table() ); // Not TRUNCATE, a DDL: see Farewell_Test_Case.
		$this->saved_mailer  = isset( $GLOBALS['phpmailer'] ) ? $GLOBALS['phpmailer'] : null;
		$this->mailer        = new Farewell_Test_Mailer( true );
		$GLOBALS['phpmailer'] = $this->mailer;
		// wp_mail() starts with isMail(): an SMTP plugin switches to SMTP in phpmailer_init.
		$this->add_filter(
			'phpmailer_init',
			static function ( $phpmailer ) {
				$phpmailer->isSMTP();
			}
		);
	}

	protected function tearDown(): void {
		$GLOBALS['phpmailer'] = $this->saved_mailer;
		parent::tearDown();
	}

	/**
	 * Dispatches a signed POST to /farewell/v1/$route as WordPress serves it (rest_post_dispatch
	 * included); returns array( status, decoded body ).
	 *
	 * Signed as the sidecar signs it: bound to POST /farewell/v1/$route. Options: id, time, secret,
	 * signed_body (sign another body), signed_for (sign for another route; null = plain Standard
	 * Webhooks, as a sidecar older than route binding), headers (sent as they are, unsigned),
	 * without (header names to leave out).
	 */
	protected function post( $route, $body, array $options = array() ) {
		$raw     = is_string( $body ) ? $body : wp_json_encode( $body );
		$id      = isset( $options['id'] ) ? $options['id'] : $route . '_' . bin2hex( random_bytes( 20 ) );
		$time    = isset( $options['time'] ) ? $options['time'] : time();
		$secret  = isset( $options['secret'] ) ? $options['secret'] : self::SECRET;
		$request = new WP_REST_Request( 'POST', '/farewell/v1/' . $route );
		$request->set_header( 'content-type', 'application/json' );
		$request->set_body( $raw );
		$for     = array_key_exists( 'signed_for', $options ) ? $options['signed_for'] : $route;
		$scope   = null === $for ? null : Farewell_Bridge_Signer::scope( 'POST', '/farewell/v1/' . $for );
		$signed  = isset( $options['signed_body'] ) ? $options['signed_body'] : $raw;
		$headers = isset( $options['headers'] ) ? $options['headers'] : ( new Farewell_Bridge_Signer( $secret ) )->headers( $id, $time, $signed, $scope );
		foreach ( $headers as $name => $value ) {
			if ( ! in_array( $name, isset( $options['without'] ) ? $options['without'] : array(), true ) ) {
				$request->set_header( $name, $value );
			}
		}
		$server   = rest_get_server();
		$response = rest_ensure_response( $server->dispatch( $request ) );
		$response = apply_filters( 'rest_post_dispatch', $response, $server, $request );
		return array( $response->get_status(), json_decode( wp_json_encode( $response->get_data() ), true ) );
	}

	/** A mail request body as the sidecar sends it. */
	protected function mail_body( array $changes = array() ) {
		return array_merge(
			array(
				'message_id' => '<farewell.site_test.' . wp_rand( 1, 1000000 ) . '@club.example.org>',
				'from'       => array( 'email' => 'farewell@club.example.org', 'name' => 'Le Club' ),
				'reply_to'   => array( 'email' => 'aide@club.example.org', 'name' => 'Équipe du Club' ),
				'to'         => array( array( 'email' => 'ana@example.org', 'name' => 'Anaïs Lefèvre' ) ),
				'subject'    => 'Merci, Anaïs : votre abonnement prend fin le 3 décembre',
				'text'       => "Bonjour Anaïs,\nmerci.",
				'html'       => '<!doctype html><p>Bonjour Anaïs,</p><p>merci.</p>',
				'headers'    => array(
					'List-Unsubscribe'      => '<https://sidecar.example/u/abc>',
					'List-Unsubscribe-Post' => 'List-Unsubscribe=One-Click',
					'Auto-Submitted'        => 'auto-generated',
				),
			),
			$changes
		);
	}

	/** A coupon request body as the sidecar sends it. */
	protected function coupon_body( $source, $plan_id, array $changes = array() ) {
		return array_merge(
			array(
				'member'       => array( 'id' => '42', 'email' => 'ana@example.org' ),
				'subscription' => array( 'id' => 'sub_7', 'source' => $source, 'plan_id' => (string) $plan_id ),
				'discount'     => array( 'type' => 'percent', 'percent' => 20 ),
				'usage_limit'  => 1,
				'expires_at'   => gmdate( 'Y-m-d\TH:i:s\Z', time() + 14 * DAY_IN_SECONDS ),
			),
			$changes
		);
	}
}
