<?php
/**
 * The sidecar → bridge REST routes (docs/PROTOCOL.md, "Sidecar → bridge"):
 * POST /wp-json/farewell/v1/mail and POST /wp-json/farewell/v1/coupons.
 *
 * Both are signed like the bridge's own requests (the site's secret, ±300 s) with signatures bound
 * to the route ("fw2": POST and the canonical REST route, e.g. "POST /farewell/v1/mail", the same
 * whether the request came as /wp-json/… or ?rest_route=…), so a request signed for one route is
 * refused by the other. They are verified over the raw body in the permission callback, and
 * idempotent by webhook-id (Farewell_Bridge_Request_Log). Errors are answered as
 * {"error": code, "message": text}.
 *
 * A bridge without a usable secret answers 503 (a misconfiguration to fix here, not a forgery),
 * and a sidecar that still signs with plain Standard Webhooks 426 signature_scheme_outdated.
 *
 * @package Farewell_Bridge
 */

if ( ! defined( 'ABSPATH' ) ) {
	exit;
}

/**
 * Registers the routes, verifies signatures, runs each request once.
 */
class Farewell_Bridge_Rest {

	const REST_NAMESPACE = 'farewell/v1';
	const MAX_BODY_BYTES = 1048576;
	const TOLERANCE      = 300;

	/**
	 * Route => handler class.
	 *
	 * @var array<string,string>
	 */
	const ROUTES = array(
		'mail'    => 'Farewell_Bridge_Rest_Mail',
		'coupons' => 'Farewell_Bridge_Rest_Coupons',
	);

	/**
	 * Registers the routes (on rest_api_init).
	 */
	public static function action_rest_api_init() {
		foreach ( self::ROUTES as $route => $handler ) {
			register_rest_route(
				self::REST_NAMESPACE,
				'/' . $route,
				array(
					'methods'             => 'POST',
					'callback'            => array( $handler, 'handle' ),
					// Each route checks signatures made for itself: the route is the registered one,
					// not the path asked for (WordPress matches routes case-insensitively).
					'permission_callback' => static function ( WP_REST_Request $request ) use ( $route ) {
						return self::verify_request( $request, $route );
					},
				)
			);
		}
	}

	/**
	 * The canonical REST route a signature for this route is bound to, e.g. "/farewell/v1/mail".
	 *
	 * @param string $route Route name.
	 * @return string
	 */
	public static function signed_path( $route ) {
		return '/' . self::REST_NAMESPACE . '/' . $route;
	}

	/**
	 * Permission callback: the bridge is configured with a usable secret, and the request is signed
	 * for this route with it over the raw body, within 300 s of this server's clock.
	 *
	 * @param WP_REST_Request $request Request.
	 * @param string          $route   Route name (a key of ROUTES).
	 * @return true|WP_Error
	 */
	public static function verify_request( WP_REST_Request $request, $route ) {
		if ( '' === Farewell_Bridge_Settings::secret() || '' === Farewell_Bridge_Settings::site_id() ) {
			return new WP_Error( 'not_configured', __( 'The Farewell bridge is not configured on this site.', 'farewell-bridge' ), array( 'status' => 503 ) );
		}
		if ( '' !== Farewell_Bridge_Settings::secret_problem() ) {
			// Never verify with it: a placeholder decodes to an empty key anyone can sign with.
			return new WP_Error( 'invalid_secret', __( 'The Farewell bridge\'s secret on this site cannot be used; its administrator must fix it in Settings → Farewell.', 'farewell-bridge' ), array( 'status' => 503 ) );
		}
		$body = (string) $request->get_body();
		if ( strlen( $body ) > self::MAX_BODY_BYTES ) {
			return new WP_Error( 'too_large', __( 'The request body is larger than 1 MiB.', 'farewell-bridge' ), array( 'status' => 413 ) );
		}
		$id        = (string) $request->get_header( 'webhook_id' );
		$timestamp = (string) $request->get_header( 'webhook_timestamp' );
		$signature = (string) $request->get_header( 'webhook_signature' );
		$signer    = new Farewell_Bridge_Signer( Farewell_Bridge_Settings::secret() );
		$scope     = Farewell_Bridge_Signer::scope( 'POST', self::signed_path( $route ) );
		$complete  = '' !== $id && strlen( $id ) <= 191 && ctype_digit( $timestamp ) && '' !== $signature;
		if ( $complete && $signer->verify( $id, (int) $timestamp, $body, $signature, null, self::TOLERANCE, $scope ) ) {
			return true;
		}
		if ( $complete && $signer->verify( $id, (int) $timestamp, $body, $signature, null, self::TOLERANCE ) ) {
			// A genuine Standard Webhooks signature: the sidecar predates route-bound signatures.
			return new WP_Error(
				'signature_scheme_outdated',
				__( 'This bridge takes signatures bound to the route (fw2, docs/PROTOCOL.md): update the Farewell sidecar.', 'farewell-bridge' ),
				array(
					'status'           => 426,
					'signature_scheme' => Farewell_Bridge_Signer::ROUTE_BOUND,
				)
			);
		}
		return new WP_Error(
			'invalid_signature',
			__( 'The request is not signed with this site\'s secret, or its timestamp is too far from this server\'s clock.', 'farewell-bridge' ),
			array(
				'status'           => 401,
				// Named so a sidecar can tell "wrong secret" from "this bridge is older than me".
				'signature_scheme' => Farewell_Bridge_Signer::ROUTE_BOUND,
			)
		);
	}

	/**
	 * Whether a request is for one of these routes.
	 *
	 * @param WP_REST_Request $request Request.
	 * @return bool
	 */
	public static function is_ours( $request ) {
		if ( ! $request instanceof WP_REST_Request ) {
			return false;
		}
		$route = untrailingslashit( (string) $request->get_route() );
		foreach ( array_keys( self::ROUTES ) as $name ) {
			if ( '/' . self::REST_NAMESPACE . '/' . $name === $route ) {
				return true;
			}
		}
		return false;
	}

	/**
	 * Filter rest_post_dispatch: WordPress's error shape {"code","message","data"} becomes the
	 * contract's {"error","message"} on these routes (signature refusals, bad JSON, wrong method…).
	 *
	 * @param WP_HTTP_Response $response Response.
	 * @param WP_REST_Server   $server   Server.
	 * @param WP_REST_Request  $request  Request.
	 * @return WP_HTTP_Response
	 */
	public static function filter_rest_post_dispatch( $response, $server, $request ) {
		if ( ! self::is_ours( $request ) || ! $response instanceof WP_HTTP_Response || $response->get_status() < 400 ) {
			return $response;
		}
		$data = $response->get_data();
		if ( is_array( $data ) && isset( $data['code'] ) && 'rest_invalid_json' === $data['code'] ) {
			// A body that is not JSON is a request that cannot be honoured, like any other.
			$data['code'] = 'invalid_request';
			$response->set_status( 422 );
		}
		if ( is_array( $data ) && isset( $data['code'] ) && ! isset( $data['error'] ) ) {
			$answer = array(
				'error'   => (string) $data['code'],
				'message' => isset( $data['message'] ) ? (string) $data['message'] : '',
			);
			if ( isset( $data['data']['signature_scheme'] ) && is_string( $data['data']['signature_scheme'] ) ) {
				$answer['signature_scheme'] = $data['data']['signature_scheme'];
			}
			$response->set_data( $answer );
		}
		return $response;
	}

	/**
	 * The JSON object of the raw body, or null.
	 *
	 * @param WP_REST_Request $request Request.
	 * @return array|null
	 */
	public static function json_body( WP_REST_Request $request ) {
		$value = json_decode( (string) $request->get_body(), true, 32 );
		return is_array( $value ) && ( array() === $value || array_keys( $value ) !== range( 0, count( $value ) - 1 ) ) ? $value : null;
	}

	/**
	 * An error answer.
	 *
	 * @param int    $status  HTTP status.
	 * @param string $error   Code.
	 * @param string $message Text.
	 * @return WP_REST_Response
	 */
	public static function error( $status, $error, $message = '' ) {
		$body = array( 'error' => $error );
		if ( '' !== $message ) {
			$body['message'] = substr( $message, 0, 1000 );
		}
		return new WP_REST_Response( $body, $status );
	}

	/**
	 * Runs $work once per webhook-id.
	 *
	 * $work returns array( status, body, done ): done = the work happened (the answer is kept and
	 * replayed to retries); otherwise the claim is released and a retry tries again. $replay turns
	 * a kept answer into the retry's answer.
	 *
	 * @param WP_REST_Request $request Request.
	 * @param string          $route   Route name.
	 * @param callable        $work    Does the work.
	 * @param callable        $replay  function( int $status, array $body ): WP_REST_Response.
	 * @return WP_REST_Response
	 */
	public static function once( WP_REST_Request $request, $route, callable $work, callable $replay ) {
		$id = (string) $request->get_header( 'webhook_id' );
		try {
			list( $state, $status, $answer ) = Farewell_Bridge_Request_Log::claim( $id, $route );
		} catch ( Throwable $e ) {
			Farewell_Bridge_Dispatcher::log( $e );
			return self::error( 503, 'unavailable', __( 'The bridge cannot record the request right now.', 'farewell-bridge' ) );
		}
		if ( Farewell_Bridge_Request_Log::ANSWERED === $state ) {
			return $replay( $status, $answer );
		}
		if ( Farewell_Bridge_Request_Log::BUSY === $state ) {
			return self::error( 409, 'in_progress', __( 'The same request is being handled; try again later.', 'farewell-bridge' ) );
		}
		try {
			list( $status, $body, $done ) = $work();
		} catch ( Throwable $e ) {
			Farewell_Bridge_Request_Log::release( $id );
			Farewell_Bridge_Dispatcher::log( $e );
			return self::error( 500, 'internal_error', __( 'The bridge failed to handle the request.', 'farewell-bridge' ) );
		}
		if ( $done ) {
			Farewell_Bridge_Request_Log::answer( $id, $status, $body );
		} else {
			Farewell_Bridge_Request_Log::release( $id );
		}
		return new WP_REST_Response( $body, $status );
	}
}
