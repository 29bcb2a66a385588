<?php
/**
 * POST /wp-json/farewell/v1/coupons: a one-time renewal coupon in the membership plugin the
 * subscription comes from (docs/PROTOCOL.md, "Sidecar → bridge").
 *
 * - MemberPress: a `memberpresscoupon` post through MeprCoupon (percent, usage_amount, expires_on,
 *   valid_products = the plan). MemberPress cannot limit a coupon to one email.
 * - Paid Memberships Pro: a row of $wpdb->pmpro_discount_codes (uses, starts, expires) and its
 *   level prices in $wpdb->pmpro_discount_codes_levels (PMPro codes set prices, not percents:
 *   the level's prices minus the percent). PMPro cannot limit a code to one email either.
 * - WooCommerce (Subscriptions): WC_Coupon, percent, usage limit, one use per customer, limited
 *   to the member's email and to the plan's product.
 * - Restrict Content, or a source whose plugin is not active: 501 coupons_unsupported.
 *
 * @package Farewell_Bridge
 */

if ( ! defined( 'ABSPATH' ) ) {
	exit;
}

/**
 * The coupons route.
 */
class Farewell_Bridge_Rest_Coupons {

	const ROUTE = 'coupons';
	// Codes: a recognisable prefix and characters nobody misreads (no 0/O, 1/I/L).
	const CODE_PREFIX   = 'FAREWELL-';
	const CODE_LENGTH   = 8;
	const AMBIGUOUS     = '/[^A-HJKMNP-Z2-9]/';
	const MAX_DAYS      = 730;
	const MAX_USE_LIMIT = 100;

	/**
	 * Source slug => creating method; sources without coupons are absent.
	 *
	 * @var array<string,string>
	 */
	const CREATORS = array(
		'memberpress'               => 'create_memberpress',
		'paidmembershipspro'        => 'create_pmpro',
		'woocommerce-subscriptions' => 'create_woocommerce',
	);

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
		$offer = self::validate( $body );
		if ( is_wp_error( $offer ) ) {
			return Farewell_Bridge_Rest::error( 422, 'invalid_request', $offer->get_error_message() );
		}
		if ( ! self::supports( $offer['source'] ) ) {
			return Farewell_Bridge_Rest::error( 501, 'coupons_unsupported' );
		}
		return Farewell_Bridge_Rest::once(
			$request,
			self::ROUTE,
			static function () use ( $offer ) {
				$method = self::CREATORS[ $offer['source'] ];
				$code   = self::$method( $offer );
				if ( is_wp_error( $code ) ) {
					return array( 422, array( 'error' => 'invalid_request', 'message' => $code->get_error_message() ), false );
				}
				return array(
					201,
					array(
						'code'       => $code,
						'expires_at' => gmdate( 'Y-m-d\TH:i:s\Z', $offer['expires'] ),
					),
					true,
				);
			},
			static function ( $status, $answer ) {
				// Created before for this webhook-id: the same coupon.
				return new WP_REST_Response( $answer, 200 );
			}
		);
	}

	/**
	 * Whether the subscription's source has coupons and its plugin is active here.
	 *
	 * @param string $source Source slug.
	 * @return bool
	 */
	public static function supports( $source ) {
		if ( ! isset( self::CREATORS[ $source ] ) ) {
			return false;
		}
		$plugin = Farewell_Bridge_Plugin::instance();
		if ( ! $plugin || ! in_array( $source, $plugin->active_source_slugs(), true ) ) {
			return false;
		}
		switch ( $source ) {
			case 'memberpress':
				return class_exists( 'MeprCoupon' );
			case 'paidmembershipspro':
				global $wpdb;
				return ! empty( $wpdb->pmpro_discount_codes ) && ! empty( $wpdb->pmpro_discount_codes_levels ) && function_exists( 'pmpro_getLevel' );
			case 'woocommerce-subscriptions':
				return class_exists( 'WC_Coupon' ) && function_exists( 'wc_get_coupon_id_by_code' );
		}
		return false;
	}

	/**
	 * Checks the request body.
	 *
	 * @param array $body Decoded body.
	 * @return array|WP_Error
	 */
	public static function validate( array $body ) {
		$member       = isset( $body['member'] ) && is_array( $body['member'] ) ? $body['member'] : array();
		$subscription = isset( $body['subscription'] ) && is_array( $body['subscription'] ) ? $body['subscription'] : array();
		$discount     = isset( $body['discount'] ) && is_array( $body['discount'] ) ? $body['discount'] : array();
		$email        = isset( $member['email'] ) && is_string( $member['email'] ) ? trim( $member['email'] ) : '';
		if ( '' === $email || strlen( $email ) > 254 || ! is_email( $email ) ) {
			return new WP_Error( 'invalid_request', __( 'member.email must be a valid address.', 'farewell-bridge' ) );
		}
		$source = isset( $subscription['source'] ) && is_string( $subscription['source'] ) ? $subscription['source'] : '';
		if ( ! preg_match( '/^[a-z0-9-]{1,64}$/', $source ) ) {
			return new WP_Error( 'invalid_request', __( 'subscription.source is missing.', 'farewell-bridge' ) );
		}
		$plan_id = isset( $subscription['plan_id'] ) && ( is_string( $subscription['plan_id'] ) || is_int( $subscription['plan_id'] ) ) ? (string) $subscription['plan_id'] : '';
		if ( '' !== $plan_id && ! preg_match( '/^[A-Za-z0-9_.:-]{1,64}$/', $plan_id ) ) {
			return new WP_Error( 'invalid_request', __( 'subscription.plan_id is not a plan id.', 'farewell-bridge' ) );
		}
		if ( ! isset( $discount['type'] ) || 'percent' !== $discount['type'] ) {
			return new WP_Error( 'invalid_request', __( 'Only percent discounts are supported.', 'farewell-bridge' ) );
		}
		$percent = isset( $discount['percent'] ) ? $discount['percent'] : null;
		if ( ! is_int( $percent ) || $percent < 1 || $percent > 90 ) {
			return new WP_Error( 'invalid_request', __( 'discount.percent must be a whole number from 1 to 90.', 'farewell-bridge' ) );
		}
		$uses = isset( $body['usage_limit'] ) ? $body['usage_limit'] : 1;
		if ( ! is_int( $uses ) || $uses < 1 || $uses > self::MAX_USE_LIMIT ) {
			return new WP_Error( 'invalid_request', __( 'usage_limit must be a whole number from 1 to 100.', 'farewell-bridge' ) );
		}
		$expires = isset( $body['expires_at'] ) && is_string( $body['expires_at'] ) ? self::parse_time( $body['expires_at'] ) : null;
		if ( null === $expires || $expires <= time() || $expires > time() + self::MAX_DAYS * DAY_IN_SECONDS ) {
			return new WP_Error( 'invalid_request', __( 'expires_at must be an RFC 3339 time in the future, within two years.', 'farewell-bridge' ) );
		}
		return array(
			'email'     => $email,
			'member_id' => isset( $member['id'] ) && is_scalar( $member['id'] ) ? substr( (string) $member['id'], 0, 64 ) : '',
			'source'    => $source,
			'plan_id'   => $plan_id,
			'percent'   => $percent,
			'uses'      => $uses,
			'expires'   => $expires,
		);
	}

	/**
	 * Unix time of an RFC 3339 timestamp with a zone ("Z" or ±hh:mm), or null.
	 *
	 * @param string $value Timestamp.
	 * @return int|null
	 */
	private static function parse_time( $value ) {
		if ( ! preg_match( '/^\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}:\d{2}(\.\d{1,9})?([Zz]|[+-]\d{2}:\d{2})$/', $value ) ) {
			return null;
		}
		try {
			$time = new DateTimeImmutable( $value );
		} catch ( Exception $e ) {
			return null;
		}
		return $time->getTimestamp();
	}

	/**
	 * A new code: FAREWELL- and 8 unambiguous characters from wp_generate_password.
	 *
	 * @return string
	 */
	public static function generate_code() {
		$chars = '';
		while ( strlen( $chars ) < self::CODE_LENGTH ) {
			$chars .= preg_replace( self::AMBIGUOUS, '', strtoupper( wp_generate_password( 32, false, false ) ) );
		}
		return self::CODE_PREFIX . substr( $chars, 0, self::CODE_LENGTH );
	}

	/**
	 * A code that $exists() says is free.
	 *
	 * @param callable $exists function( string $code ): bool.
	 * @return string|WP_Error
	 */
	private static function free_code( callable $exists ) {
		for ( $i = 0; $i < 5; $i++ ) {
			$code = self::generate_code();
			if ( ! $exists( $code ) ) {
				return $code;
			}
		}
		return new WP_Error( 'invalid_request', __( 'Could not find a free coupon code.', 'farewell-bridge' ) );
	}

	/**
	 * The description stored with a coupon (seen by the site's staff).
	 *
	 * @param array $offer Offer.
	 * @return string
	 */
	private static function description( array $offer ) {
		/* translators: 1: discount percent, 2: member's email */
		return sprintf( __( 'Farewell: one-time %1$d%% renewal offer for %2$s', 'farewell-bridge' ), $offer['percent'], $offer['email'] );
	}

	/**
	 * MemberPress: a MeprCoupon, valid for the plan's membership (all memberships when the plan
	 * is unknown: an empty valid_products list would make the coupon valid for none).
	 *
	 * @param array $offer Offer.
	 * @return string|WP_Error
	 */
	public static function create_memberpress( array $offer ) {
		$code = self::free_code(
			static function ( $code ) {
				return false !== MeprCoupon::get_one_from_code( $code, true );
			}
		);
		if ( is_wp_error( $code ) ) {
			return $code;
		}
		$product = '' !== $offer['plan_id'] && ctype_digit( $offer['plan_id'] ) ? get_post( (int) $offer['plan_id'] ) : null;
		if ( $product && 'memberpressproduct' === $product->post_type ) {
			$products = array( (int) $product->ID );
		} else {
			$products = array_map( 'intval', get_posts( array( 'post_type' => 'memberpressproduct', 'post_status' => 'publish', 'numberposts' => -1, 'fields' => 'ids' ) ) );
		}
		$coupon                  = new MeprCoupon();
		$coupon->post_title      = $code;
		$coupon->post_content    = self::description( $offer );
		$coupon->post_status     = 'publish';
		$coupon->discount_type   = 'percent';
		$coupon->discount_mode   = 'standard';
		$coupon->discount_amount = $offer['percent'];
		$coupon->usage_amount    = $offer['uses'];
		$coupon->should_expire   = true;
		$coupon->expires_on      = $offer['expires'];
		$coupon->valid_products  = $products;
		$coupon->store();
		return $code;
	}

	/**
	 * Paid Memberships Pro: a discount code for the member's level, its prices the level's minus
	 * the percent.
	 *
	 * @param array $offer Offer.
	 * @return string|WP_Error
	 */
	public static function create_pmpro( array $offer ) {
		global $wpdb;
		$level = ctype_digit( $offer['plan_id'] ) ? pmpro_getLevel( (int) $offer['plan_id'] ) : false;
		if ( ! $level ) {
			return new WP_Error( 'invalid_request', __( 'subscription.plan_id is not a membership level of this site.', 'farewell-bridge' ) );
		}
		$codes = $wpdb->pmpro_discount_codes;
		$code  = self::free_code(
			static function ( $code ) use ( $wpdb, $codes ) {
				return null !== $wpdb->get_var( $wpdb->prepare( "SELECT id FROM {$codes} WHERE code = %s", $code ) ); // phpcs:ignore WordPress.DB.DirectDatabaseQuery,WordPress.DB.PreparedSQL.InterpolatedNotPrepared
			}
		);
		if ( is_wp_error( $code ) ) {
			return $code;
		}
		// PMPro compares starts/expires with the site's local date.
		$zone     = wp_timezone();
		$starts   = ( new DateTimeImmutable( '@' . time() ) )->setTimezone( $zone )->format( 'Y-m-d' );
		$expires  = ( new DateTimeImmutable( '@' . $offer['expires'] ) )->setTimezone( $zone )->format( 'Y-m-d' );
		$factor   = ( 100 - $offer['percent'] ) / 100;
		$inserted = $wpdb->insert( $codes, array( 'code' => $code, 'starts' => $starts, 'expires' => $expires, 'uses' => $offer['uses'] ), array( '%s', '%s', '%s', '%d' ) ); // phpcs:ignore WordPress.DB.DirectDatabaseQuery
		if ( ! $inserted ) {
			throw new RuntimeException( 'cannot insert the PMPro discount code: ' . $wpdb->last_error );
		}
		$code_id = (int) $wpdb->insert_id;
		$row     = array(
			'code_id'           => $code_id,
			'level_id'          => (int) $level->id,
			'initial_payment'   => round( (float) $level->initial_payment * $factor, 2 ),
			'billing_amount'    => round( (float) $level->billing_amount * $factor, 2 ),
			'cycle_number'      => (int) $level->cycle_number,
			'cycle_period'      => in_array( $level->cycle_period, array( 'Day', 'Week', 'Month', 'Year' ), true ) ? $level->cycle_period : 'Month',
			'billing_limit'     => isset( $level->billing_limit ) ? (int) $level->billing_limit : 0,
			'trial_amount'      => 0,
			'trial_limit'       => 0,
			'expiration_number' => isset( $level->expiration_number ) ? (int) $level->expiration_number : 0,
			'expiration_period' => ! empty( $level->expiration_period ) ? $level->expiration_period : 'Day',
		);
		if ( ! $wpdb->insert( $wpdb->pmpro_discount_codes_levels, $row, array( '%d', '%d', '%f', '%f', '%d', '%s', '%d', '%f', '%d', '%d', '%s' ) ) ) { // phpcs:ignore WordPress.DB.DirectDatabaseQuery
			$wpdb->delete( $codes, array( 'id' => $code_id ), array( '%d' ) ); // phpcs:ignore WordPress.DB.DirectDatabaseQuery
			throw new RuntimeException( 'cannot insert the PMPro discount code level: ' . $wpdb->last_error );
		}
		return $code;
	}

	/**
	 * WooCommerce: a percent coupon for the member's email only, one use per customer, limited to
	 * the plan's product when it is one.
	 *
	 * @param array $offer Offer.
	 * @return string|WP_Error
	 */
	public static function create_woocommerce( array $offer ) {
		$code = self::free_code(
			static function ( $code ) {
				return (bool) wc_get_coupon_id_by_code( $code );
			}
		);
		if ( is_wp_error( $code ) ) {
			return $code;
		}
		$coupon = new WC_Coupon();
		$coupon->set_code( $code );
		$coupon->set_description( self::description( $offer ) );
		$coupon->set_discount_type( 'percent' );
		$coupon->set_amount( $offer['percent'] );
		$coupon->set_usage_limit( $offer['uses'] );
		$coupon->set_usage_limit_per_user( 1 );
		$coupon->set_individual_use( true );
		$coupon->set_email_restrictions( array( $offer['email'] ) );
		$coupon->set_date_expires( $offer['expires'] );
		if ( ctype_digit( $offer['plan_id'] ) && 'product' === get_post_type( (int) $offer['plan_id'] ) ) {
			$coupon->set_product_ids( array( (int) $offer['plan_id'] ) );
		}
		$coupon->save();
		return $code;
	}
}
