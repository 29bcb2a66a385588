<?php
/**
 * Builds normalized events (docs/PROTOCOL.md) and records them in the outbox.
 *
 * webhook-id = "fwb_" + sha256(source | object id | event type | occurrence marker), cut to 48
 * hex characters. The marker is the source's own identity of the occurrence when it has one
 * (the MemberPress event row id, the failed transaction id, the WooCommerce transition…), or the
 * second at which it happened. Within one request, the same (source, object, type) always gets
 * the id computed first, so a hook that fires twice — or two hooks reporting the same thing —
 * produce a single outbox row (the insert ignores a duplicate webhook-id).
 *
 * @package Farewell_Bridge
 */

if ( ! defined( 'ABSPATH' ) ) {
	exit;
}

/**
 * Normalized event builder.
 */
class Farewell_Bridge_Event_Factory {

	const TYPES = array(
		'subscription.created',
		'subscription.cancelled',
		'subscription.paused',
		'subscription.resumed',
		'subscription.expired',
		'payment.failed',
		'payment.succeeded',
		'member.updated',
	);

	/** The sidecar's limit on one event's body (docs/PROTOCOL.md): see body(). */
	const MAX_BODY_BYTES = 65536;

	/**
	 * webhook-ids already computed in this request, by source|object|type.
	 *
	 * @var array<string,string>
	 */
	private static $seen = array();

	/**
	 * Forgets the per-request memory (tests).
	 */
	public static function reset() {
		self::$seen = array();
	}

	/**
	 * The deterministic webhook-id of one occurrence.
	 *
	 * @param string $source    Source slug.
	 * @param string $object_id Object id within the source.
	 * @param string $type      Event type.
	 * @param string $marker    Occurrence marker.
	 * @return string
	 */
	public static function webhook_id( $source, $object_id, $type, $marker ) {
		return 'fwb_' . substr( hash( 'sha256', implode( '|', array( $source, (string) $object_id, $type, (string) $marker ) ) ), 0, 48 );
	}

	/**
	 * Builds one event.
	 *
	 * @param string     $source       memberpress, paidmembershipspro, woocommerce-subscriptions, restrict-content.
	 * @param string     $type         One of TYPES.
	 * @param int        $user_id      The member's WordPress user id.
	 * @param array|null $subscription Subscription fields (see PROTOCOL.md); null values are dropped.
	 * @param array      $options      object_id, marker, occurred_at (Unix seconds), initiated_by.
	 * @return array|null {webhook_id, type, payload} or null when the member cannot be identified.
	 */
	public static function build( $source, $type, $user_id, $subscription = null, array $options = array() ) {
		if ( ! in_array( $type, self::TYPES, true ) ) {
			return null;
		}
		$member = self::member( (int) $user_id );
		if ( null === $member ) {
			return null;
		}
		$occurred = isset( $options['occurred_at'] ) ? (int) $options['occurred_at'] : time();

		$payload = array(
			'type'         => $type,
			'occurred_at'  => self::rfc3339( $occurred ),
			'source'       => $source,
			'initiated_by' => isset( $options['initiated_by'] ) ? (string) $options['initiated_by'] : Farewell_Bridge_Context::initiated_by( (int) $user_id ),
			'member'       => $member,
		);
		if ( is_array( $subscription ) ) {
			$payload['subscription'] = self::clean( $subscription );
		}

		$object_id = isset( $options['object_id'] ) ? (string) $options['object_id'] : ( isset( $subscription['id'] ) ? (string) $subscription['id'] : 'user-' . (int) $user_id );
		$key       = $source . '|' . $object_id . '|' . $type;
		if ( isset( self::$seen[ $key ] ) ) {
			$webhook_id = self::$seen[ $key ];
		} else {
			$marker             = isset( $options['marker'] ) && '' !== (string) $options['marker'] ? (string) $options['marker'] : 't' . $occurred;
			$webhook_id         = self::webhook_id( $source, $object_id, $type, $marker );
			self::$seen[ $key ] = $webhook_id;
		}

		/**
		 * Filters the normalized event before it is stored in the outbox.
		 *
		 * @param array  $payload    The event.
		 * @param string $webhook_id Its webhook-id.
		 */
		$payload = apply_filters( 'farewell_bridge_event', $payload, $webhook_id );

		return array(
			'webhook_id' => $webhook_id,
			'type'       => $type,
			'payload'    => $payload,
		);
	}

	/**
	 * Builds an event and inserts it into the outbox (never sends it here).
	 *
	 * @param string     $source       Source slug.
	 * @param string     $type         Event type.
	 * @param int        $user_id      Member's user id.
	 * @param array|null $subscription Subscription fields.
	 * @param array      $options      See build().
	 * @return string|null The webhook-id, or null when nothing could be recorded.
	 */
	public static function record( $source, $type, $user_id, $subscription = null, array $options = array() ) {
		$event = self::build( $source, $type, $user_id, $subscription, $options );
		if ( null === $event || ! is_array( $event['payload'] ) ) {
			error_log( sprintf( 'Farewell Bridge: %s %s for user %d not recorded (unknown type or user without email).', $source, $type, (int) $user_id ) ); // phpcs:ignore WordPress.PHP.DevelopmentFunctions.error_log_error_log
			return null;
		}
		$body = self::body( $event['payload'] );
		$id   = Farewell_Bridge_Outbox::insert( $event['webhook_id'], $event['type'], $body );
		if ( false === $id ) {
			error_log( sprintf( 'Farewell Bridge: could not store %s (%s) in the outbox table.', $event['webhook_id'], $event['type'] ) ); // phpcs:ignore WordPress.PHP.DevelopmentFunctions.error_log_error_log
			return null;
		}
		if ( $id > 0 ) {
			Farewell_Bridge_Dispatcher::remember( $id );

			/**
			 * Fires once an event is stored in the outbox (not for a duplicate).
			 *
			 * @param array  $payload    The event.
			 * @param string $webhook_id Its webhook-id.
			 */
			do_action( 'farewell_bridge_event_recorded', $event['payload'], $event['webhook_id'] );
		}
		return $event['webhook_id'];
	}

	/**
	 * The JSON an event is stored, signed and sent as: ASCII only, any other character as a `\u`
	 * escape. Every JSON reader decodes it to the same document as the UTF-8 text, and the bytes
	 * stored are the bytes signed and sent (docs/PROTOCOL.md). Why: wpdb checks every query that
	 * is not pure ASCII against its table's charset, and the first such query of a request on a
	 * table costs a `SHOW FULL COLUMNS` round trip, on the member's cancel (bench.bridge_cost:
	 * "Anaïs" did). Escapes take 6 bytes per character (12 beyond the BMP) where UTF-8 takes 2
	 * to 4: when they would pass the sidecar's 64 KiB per event (a filtered event), the shorter
	 * UTF-8 text is kept.
	 *
	 * @param mixed $payload The event (an array, unless a filter made it something else).
	 * @return string
	 */
	public static function body( $payload ) {
		$body = (string) wp_json_encode( $payload, JSON_UNESCAPED_SLASHES );
		if ( strlen( $body ) > self::MAX_BODY_BYTES ) {
			$utf8 = (string) wp_json_encode( $payload, JSON_UNESCAPED_SLASHES | JSON_UNESCAPED_UNICODE );
			$body = strlen( $utf8 ) < strlen( $body ) ? $utf8 : $body;
		}
		return $body;
	}

	/**
	 * The protocol's `subscription` object (docs/PROTOCOL.md). Every source builds it here, so its
	 * fields, their order and their formats are written once; each source only says where its
	 * membership plugin keeps each one. A field missing or null is left out of the event (build()
	 * drops empty values).
	 *
	 * @param array $fields id, plan_id, plan_name and status as the protocol says them; amount (a
	 *                      number, see amount()); currency (a code, see currency()); interval (the
	 *                      source's period word or "lifetime", see interval()); started_at and
	 *                      access_ends_at (Unix seconds or a UTC date, see rfc3339()).
	 * @return array
	 */
	public static function subscription( array $fields ) {
		$field = static function ( $key ) use ( $fields ) {
			return isset( $fields[ $key ] ) ? $fields[ $key ] : null;
		};
		return array(
			'id'             => $field( 'id' ),
			'plan_id'        => $field( 'plan_id' ),
			'plan_name'      => $field( 'plan_name' ),
			'amount'         => self::amount( $field( 'amount' ) ),
			'currency'       => self::currency( $field( 'currency' ) ),
			'interval'       => self::interval( $field( 'interval' ) ),
			'status'         => $field( 'status' ),
			'started_at'     => self::rfc3339( $field( 'started_at' ) ),
			'access_ends_at' => self::rfc3339( $field( 'access_ends_at' ) ),
		);
	}

	/**
	 * The member object of an event.
	 *
	 * @param int $user_id User id.
	 * @return array|null
	 */
	public static function member( $user_id ) {
		$user = $user_id > 0 ? get_userdata( $user_id ) : false;
		if ( ! $user || '' === (string) $user->user_email ) {
			return null;
		}
		$member     = array(
			'id'    => (string) $user->ID,
			'email' => (string) $user->user_email,
		);
		$first_name = self::one_line( get_user_meta( $user->ID, 'first_name', true ) );
		if ( '' !== $first_name ) {
			$member['first_name'] = mb_substr( $first_name, 0, 200 );
		}
		$locale = get_user_locale( $user->ID );
		if ( '' !== (string) $locale ) {
			$member['locale'] = (string) $locale;
		}
		return $member;
	}

	/**
	 * A single-line field (a first name, a plan name, a contact detail) on one line: each run of
	 * whitespace or control characters (Unicode's line and paragraph separators, NEL and the C1
	 * controls included) becomes one space, and the ends are trimmed. Such fields are shown on one
	 * line (an email's subject, the digest, a CSV cell), where a typed line break would forge a
	 * line of its own. The sidecar does the same on its side (sidecar/domain/events.py).
	 *
	 * @param mixed $text Text.
	 * @return string
	 */
	public static function one_line( $text ) {
		$text  = is_scalar( $text ) ? (string) $text : '';
		$clean = preg_replace( '/[\s\x00-\x1F\x7F\x{0080}-\x{009F}\x{2028}\x{2029}]+/u', ' ', $text );
		if ( null === $clean ) { // Not UTF-8: at least the ASCII line breaks and controls go.
			$clean = preg_replace( '/[\s\x00-\x1F\x7F]+/', ' ', $text );
		}
		return trim( (string) $clean );
	}

	/**
	 * RFC 3339 UTC ("Z") from a Unix timestamp or a "Y-m-d H:i:s" UTC string.
	 *
	 * @param int|string|null $value Value.
	 * @return string|null Null for empty, false, zero or unparseable dates.
	 */
	public static function rfc3339( $value ) {
		// false too: MemberPress's MeprSubscription::expires_at is false for a pending subscription,
		// and strtotime( ' UTC' ) would make it "now".
		if ( null === $value || false === $value || true === $value || '' === $value || 0 === $value || '0' === $value ) {
			return null;
		}
		if ( is_numeric( $value ) ) {
			$ts = (int) $value;
		} else {
			$text = (string) $value;
			if ( 0 === strpos( $text, '0000-00-00' ) ) {
				return null;
			}
			$has_zone = (bool) preg_match( '/(Z|[+-]\d{2}:?\d{2})$/i', $text );
			$ts       = strtotime( $has_zone ? $text : $text . ' UTC' );
			if ( false === $ts ) {
				return null;
			}
		}
		return $ts > 0 ? gmdate( 'Y-m-d\TH:i:s\Z', $ts ) : null;
	}

	/**
	 * A decimal string with two to four decimals ("29.00", "9.9900" -> "9.99").
	 *
	 * @param mixed $value Number.
	 * @return string|null
	 */
	public static function amount( $value ) {
		if ( null === $value || '' === $value || ! is_numeric( $value ) ) {
			return null;
		}
		$text = sprintf( '%.4F', (float) $value );
		$text = rtrim( $text, '0' );
		$dot  = strpos( $text, '.' );
		$decs = strlen( $text ) - $dot - 1;
		return $decs < 2 ? $text . str_repeat( '0', 2 - $decs ) : $text;
	}

	/**
	 * Maps a source's period word to the protocol's interval.
	 *
	 * @param string $period e.g. months, Month, year, weeks, lifetime.
	 * @return string|null
	 */
	public static function interval( $period ) {
		$period = strtolower( trim( (string) $period ) );
		$map    = array(
			'day'      => 'day',
			'days'     => 'day',
			'week'     => 'week',
			'weeks'    => 'week',
			'month'    => 'month',
			'months'   => 'month',
			'year'     => 'year',
			'years'    => 'year',
			'lifetime' => 'lifetime',
		);
		return isset( $map[ $period ] ) ? $map[ $period ] : null;
	}

	/**
	 * An upper-case ISO 4217 code, or null.
	 *
	 * @param mixed $code Currency code.
	 * @return string|null
	 */
	public static function currency( $code ) {
		$code = strtoupper( trim( (string) $code ) );
		return 1 === preg_match( '/^[A-Z]{3}$/', $code ) ? $code : null;
	}

	/**
	 * Drops null/empty values and casts ids to strings.
	 *
	 * @param array $subscription Fields.
	 * @return array
	 */
	private static function clean( array $subscription ) {
		$out = array();
		foreach ( $subscription as $key => $value ) {
			if ( null === $value || '' === $value ) {
				continue;
			}
			$out[ $key ] = in_array( $key, array( 'id', 'plan_id' ), true ) ? (string) $value : $value;
		}
		if ( isset( $out['plan_name'] ) ) {
			$out['plan_name'] = mb_substr( self::one_line( wp_strip_all_tags( (string) $out['plan_name'] ) ), 0, 200 );
		}
		return $out;
	}
}
