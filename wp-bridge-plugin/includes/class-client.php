<?php
/**
 * HTTP client for the sidecar: signs every request and turns failures into clear messages.
 *
 * Events (POST …/events) are signed with plain Standard Webhooks; every other request with a
 * signature bound to its method and path below the sidecar's base URL ("GET /v1/sites/{id}/ping"),
 * which the sidecar refuses on any other route (docs/PROTOCOL.md, "Signing a request").
 *
 * @package Farewell_Bridge
 */

if ( ! defined( 'ABSPATH' ) ) {
	exit;
}

/**
 * Sends signed requests to the configured sidecar.
 */
class Farewell_Bridge_Client {

	/**
	 * Result kinds, used by the outbox to decide what to do next.
	 */
	const DELIVERED = 'delivered';
	const RETRY     = 'retry';
	const PERMANENT = 'permanent';
	const GONE      = 'gone';

	/**
	 * The sidecar's caps for one POST …/events/batch (docs/PROTOCOL.md): events, and body bytes.
	 */
	const BATCH_MAX_EVENTS = 500;
	const BATCH_MAX_BYTES  = 1048576;

	/**
	 * Sidecar base URL.
	 *
	 * @var string
	 */
	private $base_url;

	/**
	 * Site id.
	 *
	 * @var string
	 */
	private $site_id;

	/**
	 * Signer.
	 *
	 * @var Farewell_Bridge_Signer
	 */
	private $signer;

	/**
	 * What is wrong with the secret ('' when it follows the rule).
	 *
	 * @var string
	 */
	private $secret_problem;

	/**
	 * Constructor.
	 *
	 * @param string $base_url Sidecar base URL.
	 * @param string $site_id  Site id.
	 * @param string $secret   whsec_ secret.
	 */
	public function __construct( $base_url, $site_id, $secret ) {
		$this->base_url       = untrailingslashit( (string) $base_url );
		$this->site_id        = (string) $site_id;
		$this->signer         = new Farewell_Bridge_Signer( $secret );
		$this->secret_problem = Farewell_Bridge_Signer::problem( $secret );
	}

	/**
	 * A client built from the effective settings.
	 *
	 * @return self
	 */
	public static function from_settings() {
		return new self( Farewell_Bridge_Settings::sidecar_url(), Farewell_Bridge_Settings::site_id(), Farewell_Bridge_Settings::secret() );
	}

	/**
	 * URL of a site route, e.g. "events" -> {base}/v1/sites/{site_id}/events.
	 *
	 * @param string $route Route below the site.
	 * @return string
	 */
	public function site_url( $route ) {
		return $this->base_url . $this->site_path( $route );
	}

	/**
	 * Path of a site route below the sidecar's base URL, e.g. "/v1/sites/{site_id}/events": what a
	 * route-bound signature covers (without the query string), whatever prefix a proxy strips.
	 *
	 * @param string $route Route below the site.
	 * @return string
	 */
	public function site_path( $route ) {
		return '/v1/sites/' . rawurlencode( $this->site_id ) . '/' . ltrim( $route, '/' );
	}

	/**
	 * Posts one event body (already JSON) with its webhook-id, signed now.
	 *
	 * @param string $webhook_id Idempotency key.
	 * @param string $body       Raw JSON body.
	 * @param float  $timeout    Total timeout in seconds.
	 * @return array See result().
	 */
	public function send_event( $webhook_id, $body, $timeout = 5.0 ) {
		return $this->request( 'POST', 'events', $webhook_id, $body, $timeout );
	}

	/**
	 * The bytes one outbox row adds to a batch body (its item and the comma before the next),
	 * so that the dispatcher can keep a batch under BATCH_MAX_BYTES before building it.
	 *
	 * @param string $webhook_id The row's webhook-id.
	 * @param string $payload    The row's JSON object, as stored.
	 * @return int
	 */
	public static function batch_item_bytes( $webhook_id, $payload ) {
		return strlen( self::batch_item( $webhook_id, $payload ) ) + 1;
	}

	/**
	 * The bytes of a batch body around its items.
	 *
	 * @return int
	 */
	public static function batch_overhead_bytes() {
		return strlen( '{"events":[]}' );
	}

	/**
	 * One item of a batch body. The stored payload goes in as it is (not decoded and encoded
	 * again): the sidecar stores and checks the same event the single route would have had.
	 *
	 * @param string $webhook_id The row's webhook-id.
	 * @param string $payload    The row's JSON object.
	 * @return string
	 */
	private static function batch_item( $webhook_id, $payload ) {
		return '{"webhook_id":' . wp_json_encode( (string) $webhook_id ) . ',"event":' . $payload . '}';
	}

	/**
	 * Posts several outbox rows in one request to …/events/batch, signed with the route-bound
	 * scheme for that route (docs/PROTOCOL.md, "POST …/events/batch"). The caller keeps the batch
	 * within BATCH_MAX_EVENTS and BATCH_MAX_BYTES and sends only rows whose payload is a JSON object.
	 *
	 * @param array[] $items   Each array( 'webhook_id' => string, 'payload' => raw JSON object ).
	 * @param float   $timeout Total timeout in seconds.
	 * @return array The request's result (see result()) with 'results': one result per item, in
	 *               order, when the sidecar answered each (accepted and duplicate are DELIVERED with
	 *               the single route's 202 and 200, invalid is PERMANENT with the single route's 400
	 *               message), else null; 'unsupported': the sidecar has no batch route (an older
	 *               one); 'resend_singly': the sidecar refused the batch as a whole for its shape or
	 *               size, not for any event in it.
	 */
	public function send_batch( array $items, $timeout = 10.0 ) {
		Farewell_Bridge_Import_Profile::start( 'batch_body' );
		$parts = array();
		foreach ( $items as $item ) {
			$parts[] = self::batch_item( $item['webhook_id'], $item['payload'] );
		}
		$body   = '{"events":[' . implode( ',', $parts ) . ']}';
		$parts  = null;
		Farewell_Bridge_Import_Profile::stop( 'batch_body' );
		$result = $this->request( 'POST', 'events/batch', 'fwb_batch_' . wp_generate_uuid4(), $body, $timeout );

		$result['results']       = null;
		$result['unsupported']   = false;
		$result['resend_singly'] = false;
		if ( self::DELIVERED === $result['kind'] ) {
			Farewell_Bridge_Import_Profile::start( 'batch_answer' );
			$results = self::batch_results( $result['body'], $items );
			Farewell_Bridge_Import_Profile::stop( 'batch_answer' );
			if ( null === $results ) {
				// Some events may be stored, some not: sending them all again later is safe (each is
				// stored once per webhook-id), marking them delivered is not.
				/* translators: %d: HTTP status code. */
				return array_merge( $result, self::result( self::RETRY, $result['status'], 'invalid_batch_answer', sprintf( __( 'The sidecar\'s answer to a batch of events could not be read (HTTP %d). They will be sent again.', 'farewell-bridge' ), $result['status'] ), $result['body'] ) );
			}
			$result['results'] = $results;
			return $result;
		}
		$code = is_array( $result['body'] ) && isset( $result['body']['error'] ) && is_string( $result['body']['error'] ) ? $result['body']['error'] : '';
		// A sidecar older than the route answers 404 not_found (405 behind some routers); a 404
		// for this site id says unknown_site, as the single route would.
		$result['unsupported'] = 405 === $result['status'] || ( 404 === $result['status'] && 'unknown_site' !== $code );
		// 413 (too_large, too_many_events), 415, 400 invalid_batch / invalid_json: the batch as
		// built was refused, none of its events was judged; one by one each gets its own answer.
		$result['resend_singly'] = in_array( $result['status'], array( 400, 413, 415 ), true );
		return $result;
	}

	/**
	 * The per-item results of a batch answer, or null when they do not answer these items
	 * one for one, in order.
	 *
	 * @param mixed   $body  Decoded answer.
	 * @param array[] $items The items sent.
	 * @return array[]|null
	 */
	private static function batch_results( $body, array $items ) {
		if ( ! is_array( $body ) || ! isset( $body['results'] ) || ! is_array( $body['results'] ) || count( $body['results'] ) !== count( $items ) ) {
			return null;
		}
		$results = array();
		foreach ( array_values( $items ) as $i => $item ) {
			$answer = isset( $body['results'][ $i ] ) && is_array( $body['results'][ $i ] ) ? $body['results'][ $i ] : array();
			$id     = isset( $answer['webhook_id'] ) ? $answer['webhook_id'] : null;
			$status = isset( $answer['status'] ) ? $answer['status'] : '';
			if ( (string) $item['webhook_id'] !== $id ) {
				return null;
			}
			if ( 'accepted' === $status || 'duplicate' === $status ) {
				$results[] = self::result( self::DELIVERED, 'accepted' === $status ? 202 : 200, '', '', array( 'status' => $status ) );
			} elseif ( 'invalid' === $status ) {
				$fields = isset( $answer['fields'] ) && is_array( $answer['fields'] ) ? $answer['fields'] : array();
				$pairs  = array();
				foreach ( $fields as $field => $why ) {
					$pairs[] = $field . ': ' . ( is_scalar( $why ) ? $why : wp_json_encode( $why ) );
				}
				$detail = 'invalid_event' . ( empty( $pairs ) ? '' : ' (' . implode( '; ', $pairs ) . ')' );
				// The single route's 400 and message, so the admin reads the same whichever way it went.
				/* translators: 1: HTTP status code, 2: error detail from the sidecar. */
				$results[] = self::result( self::PERMANENT, 400, 'invalid_event', sprintf( __( 'The sidecar rejected the request (HTTP %1$d): %2$s', 'farewell-bridge' ), 400, $detail ), $answer );
			} else {
				return null;
			}
		}
		return $results;
	}

	/**
	 * Signed GET /ping, the "Test connection" button.
	 *
	 * @param float $timeout Timeout in seconds.
	 * @return array See result().
	 */
	public function ping( $timeout = 5.0 ) {
		return $this->request( 'GET', 'ping', 'fwb_ping_' . wp_generate_uuid4(), '', $timeout );
	}

	/**
	 * Signed JSON POST to a site route with a fresh webhook-id (privacy requests).
	 *
	 * @param string $route   Route below the site, e.g. "privacy/export".
	 * @param array  $payload Data to encode.
	 * @param float  $timeout Timeout in seconds.
	 * @return array See result().
	 */
	public function post_json( $route, array $payload, $timeout = 10.0 ) {
		$body = wp_json_encode( $payload );
		return $this->request( 'POST', $route, 'fwb_req_' . wp_generate_uuid4(), (string) $body, $timeout );
	}

	/**
	 * Sends one signed request.
	 *
	 * @param string $method     HTTP method.
	 * @param string $route      Route below the site.
	 * @param string $webhook_id webhook-id header.
	 * @param string $body       Raw body.
	 * @param float  $timeout    Timeout in seconds.
	 * @return array{kind:string,status:int,error:string,message:string,body:mixed}
	 */
	public function request( $method, $route, $webhook_id, $body, $timeout ) {
		if ( '' === $this->base_url || '' === $this->site_id ) {
			return self::result( self::PERMANENT, 0, 'not_configured', __( 'The bridge is not configured: set the sidecar URL, site id and secret in Settings → Farewell.', 'farewell-bridge' ) );
		}
		if ( ! $this->signer->is_usable() ) {
			// Nothing is signed with a secret that breaks the rule; a retry later finds it fixed.
			return self::result( self::RETRY, 0, 'invalid_secret', Farewell_Bridge_Signer::explain( $this->secret_problem ) );
		}
		// The outbox's events stay plain Standard Webhooks; every other request is bound to its route.
		$scope                   = ( 'POST' === $method && 'events' === $route ) ? null : Farewell_Bridge_Signer::scope( $method, $this->site_path( $route ) );
		Farewell_Bridge_Import_Profile::start( 'sign' );
		$headers                 = $this->signer->headers( $webhook_id, time(), $body, $scope );
		Farewell_Bridge_Import_Profile::stop( 'sign' );
		$headers['Content-Type'] = 'application/json';
		$headers['Accept']       = 'application/json';

		$url = $this->site_url( $route );
		// Give up connecting after 2 s (or the whole timeout when shorter); cURL only.
		$connect_ms = (int) min( 2000, $timeout * 1000 );
		$connect    = static function ( $handle, $args, $request_url ) use ( $url, $connect_ms ) {
			if ( $request_url === $url && defined( 'CURLOPT_CONNECTTIMEOUT_MS' ) ) {
				curl_setopt( $handle, CURLOPT_CONNECTTIMEOUT_MS, $connect_ms ); // phpcs:ignore WordPress.WP.AlternativeFunctions.curl_curl_setopt
			}
		};
		add_action( 'http_api_curl', $connect, 10, 3 );
		Farewell_Bridge_Import_Profile::start( 'http' );
		$response = wp_safe_remote_request(
			$url,
			array(
				'method'      => $method,
				'headers'     => $headers,
				'body'        => 'GET' === $method ? null : $body,
				'timeout'     => $timeout,
				'redirection' => 0,
				'user-agent'  => 'FarewellBridge/' . ( defined( 'FAREWELL_BRIDGE_VERSION' ) ? FAREWELL_BRIDGE_VERSION : '0' ) . '; ' . home_url( '/' ),
			)
		);
		Farewell_Bridge_Import_Profile::stop( 'http' );
		remove_action( 'http_api_curl', $connect, 10 );
		if ( is_wp_error( $response ) && self::is_unresolvable( $this->base_url ) ) {
			// wp_safe_remote_request() reports a host that does not resolve as "not a valid URL".
			$response = new WP_Error( 'http_request_failed', 'cURL error 6: Could not resolve host' );
		}
		return self::interpret( $response, null !== $scope );
	}

	/**
	 * Whether the URL's host name does not resolve (a DNS failure, which may be temporary).
	 *
	 * @param string $url URL.
	 * @return bool
	 */
	private static function is_unresolvable( $url ) {
		$host = wp_parse_url( $url, PHP_URL_HOST );
		if ( ! is_string( $host ) || '' === $host || filter_var( trim( $host, '[]' ), FILTER_VALIDATE_IP ) ) {
			return false;
		}
		return gethostbyname( $host ) === $host;
	}

	/**
	 * Maps a wp_remote_* answer to a result kind and a readable message.
	 *
	 * @param array|WP_Error $response Response.
	 * @param bool           $bound    Whether the request carried a route-bound signature.
	 * @return array
	 */
	public static function interpret( $response, $bound = false ) {
		if ( is_wp_error( $response ) ) {
			return self::network_error( $response );
		}
		$status  = (int) wp_remote_retrieve_response_code( $response );
		$raw     = (string) wp_remote_retrieve_body( $response );
		$decoded = json_decode( $raw, true );
		$code    = is_array( $decoded ) && isset( $decoded['error'] ) && is_string( $decoded['error'] ) ? $decoded['error'] : '';

		if ( $status >= 200 && $status < 300 ) {
			return self::result( self::DELIVERED, $status, '', '', $decoded );
		}
		if ( 401 === $status ) {
			$skew = Farewell_Bridge_Clock::skew_from_401( $decoded, $response, time() );
			if ( null !== $skew ) {
				// The secret is right (or unknown): the clocks are apart. Retried, see Farewell_Bridge_Clock.
				$body                       = is_array( $decoded ) ? $decoded : array();
				$body['clock_skew_seconds'] = $skew;
				return self::result( self::RETRY, $status, Farewell_Bridge_Clock::ERROR, Farewell_Bridge_Clock::message( $skew ), $body );
			}
			if ( $bound && ! ( is_array( $decoded ) && isset( $decoded['signature_scheme'] ) ) ) {
				// A sidecar that knows route-bound signatures names the scheme in its refusals.
				return self::result( self::PERMANENT, $status, 'invalid_signature', __( 'The sidecar refused the signature (401) without saying which scheme it expects: it is probably older than this plugin. Update the Farewell sidecar, or check the secret.', 'farewell-bridge' ), $decoded );
			}
			return self::result( self::PERMANENT, $status, 'invalid_signature', __( 'The sidecar refused the signature (401): the secret is wrong, or this server\'s clock is more than 5 minutes off.', 'farewell-bridge' ), $decoded );
		}
		if ( 426 === $status && 'signature_scheme_outdated' === $code ) {
			return self::result( self::PERMANENT, $status, $code, __( 'The sidecar says this plugin signs its requests the old way (426): update the Farewell Bridge plugin.', 'farewell-bridge' ), $decoded );
		}
		if ( 404 === $status ) {
			return self::result( self::PERMANENT, $status, 'unknown_site', __( 'The sidecar does not know this site id (404): check the site id and the sidecar URL.', 'farewell-bridge' ), $decoded );
		}
		if ( 410 === $status ) {
			return self::result( self::GONE, $status, 'gone', __( 'The sidecar says this site was removed (410). Delivery is paused until you resume it.', 'farewell-bridge' ), $decoded );
		}
		if ( 408 === $status || 429 === $status || $status >= 500 ) {
			/* translators: %d: HTTP status code. */
			return self::result( self::RETRY, $status, 'http_' . $status, sprintf( __( 'The sidecar is temporarily unavailable (HTTP %d). It will be retried.', 'farewell-bridge' ), $status ), $decoded );
		}
		$detail = '' !== $code ? $code : substr( wp_strip_all_tags( $raw ), 0, 200 );
		if ( 400 === $status && is_array( $decoded ) && isset( $decoded['fields'] ) && is_array( $decoded['fields'] ) ) {
			$pairs = array();
			foreach ( $decoded['fields'] as $field => $why ) {
				$pairs[] = $field . ': ' . ( is_scalar( $why ) ? $why : wp_json_encode( $why ) );
			}
			$detail .= ' (' . implode( '; ', $pairs ) . ')';
		}
		/* translators: 1: HTTP status code, 2: error detail from the sidecar. */
		return self::result( self::PERMANENT, $status, '' !== $code ? $code : 'http_' . $status, sprintf( __( 'The sidecar rejected the request (HTTP %1$d): %2$s', 'farewell-bridge' ), $status, $detail ), $decoded );
	}

	/**
	 * Maps a transport error (DNS, refused, timeout…) to a retryable result.
	 *
	 * @param WP_Error $error Error.
	 * @return array
	 */
	private static function network_error( WP_Error $error ) {
		$text = strtolower( $error->get_error_message() );
		if ( false !== strpos( $text, 'curl error 6:' ) || false !== strpos( $text, 'resolve host' ) || false !== strpos( $text, 'name or service not known' ) ) {
			return self::result( self::RETRY, 0, 'dns', __( 'The sidecar\'s host name cannot be resolved (DNS): check the sidecar URL.', 'farewell-bridge' ) );
		}
		if ( false !== strpos( $text, 'curl error 7:' ) || false !== strpos( $text, 'refused' ) || false !== strpos( $text, 'couldn\'t connect' ) || false !== strpos( $text, 'failed to connect' ) ) {
			return self::result( self::RETRY, 0, 'refused', __( 'The connection to the sidecar was refused: is it running, and are the host and port right?', 'farewell-bridge' ) );
		}
		if ( false !== strpos( $text, 'curl error 28:' ) || false !== strpos( $text, 'timed out' ) || false !== strpos( $text, 'timeout' ) ) {
			return self::result( self::RETRY, 0, 'timeout', __( 'The sidecar did not answer in time (timeout).', 'farewell-bridge' ) );
		}
		if ( 'http_request_failed' === $error->get_error_code() && false !== strpos( $text, 'a valid url was not provided' ) ) {
			return self::result( self::PERMANENT, 0, 'invalid_url', __( 'WordPress refused the sidecar URL: it must be http:// or https:// with a reachable host.', 'farewell-bridge' ) );
		}
		/* translators: %s: the transport error message. */
		return self::result( self::RETRY, 0, 'network', sprintf( __( 'Network error while contacting the sidecar: %s', 'farewell-bridge' ), $error->get_error_message() ) );
	}

	/**
	 * Builds a result array.
	 *
	 * @param string $kind    One of the kind constants.
	 * @param int    $status  HTTP status, 0 for none.
	 * @param string $error   Machine code.
	 * @param string $message Human, translated message.
	 * @param mixed  $body    Decoded body.
	 * @return array
	 */
	private static function result( $kind, $status, $error, $message, $body = null ) {
		return array(
			'kind'    => $kind,
			'status'  => (int) $status,
			'error'   => (string) $error,
			'message' => (string) $message,
			'body'    => $body,
		);
	}

	/**
	 * Lets wp_safe_remote_request() reach the configured sidecar host even on a private
	 * address (127.0.0.1, a Docker network) and a non-standard port, and nothing else.
	 * Hooked on http_request_host_is_external.
	 *
	 * @param bool   $external Current answer.
	 * @param string $host     Host being checked.
	 * @return bool
	 */
	public static function filter_http_request_host_is_external( $external, $host ) {
		$sidecar = wp_parse_url( Farewell_Bridge_Settings::sidecar_url() );
		if ( is_array( $sidecar ) && isset( $sidecar['host'] ) && strtolower( (string) $host ) === strtolower( $sidecar['host'] ) ) {
			return true;
		}
		return $external;
	}

	/**
	 * Allows the configured sidecar's port for that host only. Hooked on http_allowed_safe_ports.
	 *
	 * @param int[]  $ports Allowed ports.
	 * @param string $host  Host of the request.
	 * @return int[]
	 */
	public static function filter_http_allowed_safe_ports( $ports, $host = '' ) {
		$sidecar = wp_parse_url( Farewell_Bridge_Settings::sidecar_url() );
		if ( is_array( $sidecar ) && isset( $sidecar['host'], $sidecar['port'] ) && strtolower( (string) $host ) === strtolower( $sidecar['host'] ) ) {
			$ports   = (array) $ports;
			$ports[] = (int) $sidecar['port'];
		}
		return $ports;
	}
}
