<?php
/**
 * POST /farewell/v1/coupons: a one-time coupon in the membership plugin of the subscription
 * (the test-only stand-ins store them exactly where MemberPress, PMPro and WooCommerce do).
 */
class RestCouponsRouteTest extends Farewell_Rest_Test_Case {

	const CODE = '/^FAREWELL-[A-HJKMNP-Z2-9]{8}$/';

	public function test_memberpress_gets_a_one_time_percent_coupon_for_the_plan() {
		$product = farewell_test_mepr_product( 'Or', '29.00' );
		$other   = farewell_test_mepr_product( 'Argent', '19.00' );
		$body    = $this->coupon_body( 'memberpress', $product );
		list( $status, $answer ) = $this->post( 'coupons', $body );
		$this->assertSame( 201, $status );
		$this->assertMatchesRegularExpression( self::CODE, $answer['code'] );
		$this->assertSame( $body['expires_at'], $answer['expires_at'] );

		$coupon = MeprCoupon::get_one_from_code( $answer['code'] );
		$this->assertInstanceOf( MeprCoupon::class, $coupon );
		$this->assertSame( 'percent', $coupon->discount_type );
		$this->assertEquals( 20, $coupon->discount_amount );
		$this->assertEquals( 1, $coupon->usage_amount );
		$this->assertTrue( (bool) $coupon->should_expire );
		$this->assertEquals( strtotime( $body['expires_at'] ), $coupon->expires_on );
		$this->assertEquals( array( $product ), $coupon->valid_products );
		$this->assertTrue( $coupon->is_valid( $product ) );
		$this->assertFalse( $coupon->is_valid( $other ) );
		$this->assertStringContainsString( 'ana@example.org', get_post( $coupon->ID )->post_content );
	}

	public function test_memberpress_coupon_for_an_unknown_plan_is_valid_for_every_membership() {
		$a = farewell_test_mepr_product( 'Or', '29.00' );
		$b = farewell_test_mepr_product( 'Argent', '19.00' );
		list( $status, $answer ) = $this->post( 'coupons', $this->coupon_body( 'memberpress', '999999' ) );
		$this->assertSame( 201, $status );
		$coupon = MeprCoupon::get_one_from_code( $answer['code'] );
		$this->assertTrue( $coupon->is_valid( $a ) && $coupon->is_valid( $b ) );
	}

	public function test_a_retry_returns_the_coupon_already_created() {
		$product = farewell_test_mepr_product( 'Or', '29.00' );
		$body    = $this->coupon_body( 'memberpress', $product );
		$first   = $this->post( 'coupons', $body, array( 'id' => 'coupon_site_test_33' ) );
		$again   = $this->post( 'coupons', $body, array( 'id' => 'coupon_site_test_33' ) );
		$this->assertSame( 201, $first[0] );
		$this->assertSame( array( 200, $first[1] ), $again );
		$this->assertCount( 1, get_posts( array( 'post_type' => 'memberpresscoupon', 'post_status' => 'any', 'title' => $first[1]['code'], 'numberposts' => -1 ) ) );
		$this->assertNotSame( $first[1]['code'], $this->post( 'coupons', $body, array( 'id' => 'coupon_site_test_34' ) )[1]['code'] );
	}

	public function test_pmpro_gets_a_discount_code_with_the_level_prices_minus_the_percent() {
		global $wpdb;
		farewell_test_pmpro_level( 3, 'Gold', '30.00' );
		list( $status, $answer ) = $this->post( 'coupons', $this->coupon_body( 'paidmembershipspro', 3, array( 'usage_limit' => 2 ) ) );
		$this->assertSame( 201, $status, wp_json_encode( $answer ) );
		$this->assertMatchesRegularExpression( self::CODE, $answer['code'] );
		$code = $wpdb->get_row( $wpdb->prepare( "SELECT * FROM {$wpdb->pmpro_discount_codes} WHERE code = %s", $answer['code'] ), ARRAY_A ); // phpcs:ignore WordPress.DB.PreparedSQL.InterpolatedNotPrepared
		$this->assertSame( '2', (string) $code['uses'] );
		$this->assertSame( wp_date( 'Y-m-d' ), $code['starts'] );
		$this->assertSame( wp_date( 'Y-m-d', strtotime( $answer['expires_at'] ) ), $code['expires'] );
		$level = $wpdb->get_row( $wpdb->prepare( "SELECT * FROM {$wpdb->pmpro_discount_codes_levels} WHERE code_id = %d", $code['id'] ), ARRAY_A ); // phpcs:ignore WordPress.DB.PreparedSQL.InterpolatedNotPrepared
		$this->assertSame( '3', (string) $level['level_id'] );
		$this->assertEquals( 24.0, (float) $level['initial_payment'] );
		$this->assertEquals( 24.0, (float) $level['billing_amount'] );
		$this->assertSame( 'Month', $level['cycle_period'] );
	}

	public function test_pmpro_refuses_a_level_that_does_not_exist_and_keeps_nothing() {
		global $wpdb;
		list( $status, $answer ) = $this->post( 'coupons', $this->coupon_body( 'paidmembershipspro', 77 ), array( 'id' => 'coupon_site_test_77' ) );
		$this->assertSame( array( 422, 'invalid_request' ), array( $status, $answer['error'] ) );
		$this->assertSame( '0', (string) $wpdb->get_var( $wpdb->prepare( 'SELECT COUNT(*) FROM ' . Farewell_Bridge_Request_Log::table() . ' WHERE webhook_id = %s', 'coupon_site_test_77' ) ) ); // phpcs:ignore WordPress.DB.PreparedSQL.NotPrepared
	}

	public function test_woocommerce_gets_a_coupon_limited_to_the_members_email_and_one_use() {
		$product = wp_insert_post( array( 'post_type' => 'product', 'post_status' => 'publish', 'post_title' => 'Abonnement' ) );
		$body    = $this->coupon_body( 'woocommerce-subscriptions', $product );
		$body['member']['email'] = 'Ana@Example.org';
		list( $status, $answer ) = $this->post( 'coupons', $body );
		$this->assertSame( 201, $status, wp_json_encode( $answer ) );
		$coupon = new WC_Coupon( $answer['code'] );
		$this->assertGreaterThan( 0, $coupon->get_id() );
		$this->assertSame( 'percent', $coupon->get_discount_type() );
		$this->assertSame( '20', (string) $coupon->get_amount() );
		$this->assertSame( 1, $coupon->get_usage_limit() );
		$this->assertSame( 1, $coupon->get_usage_limit_per_user() );
		$this->assertTrue( $coupon->get_individual_use() );
		$this->assertSame( array( 'ana@example.org' ), array_values( $coupon->get_email_restrictions() ) );
		$this->assertSame( strtotime( $body['expires_at'] ), $coupon->get_date_expires() );
		$this->assertSame( array( $product ), array_values( $coupon->get_product_ids() ) );
	}

	public function test_restrict_content_and_unknown_sources_have_no_coupons() {
		foreach ( array( 'restrict-content', 'paid-member-subscriptions' ) as $source ) {
			list( $status, $answer ) = $this->post( 'coupons', $this->coupon_body( $source, 1 ) );
			$this->assertSame( array( 501, array( 'error' => 'coupons_unsupported' ) ), array( $status, $answer ), $source );
		}
	}

	public function test_a_source_whose_plugin_is_not_active_has_no_coupons() {
		$this->assertTrue( Farewell_Bridge_Rest_Coupons::supports( 'memberpress' ) );
		$this->assertFalse( Farewell_Bridge_Rest_Coupons::supports( 'restrict-content' ) );
		// Only the sources that started on plugins_loaded count.
		$this->assertSame( in_array( 'paidmembershipspro', Farewell_Bridge_Plugin::instance()->active_source_slugs(), true ), Farewell_Bridge_Rest_Coupons::supports( 'paidmembershipspro' ) );
	}

	/**
	 * @dataProvider invalid_changes
	 */
	public function test_requests_that_cannot_be_honoured_are_refused( $changes ) {
		$product = farewell_test_mepr_product( 'Or', '29.00' );
		$before  = count( get_posts( array( 'post_type' => 'memberpresscoupon', 'numberposts' => -1 ) ) );
		list( $status, $answer ) = $this->post( 'coupons', $this->coupon_body( 'memberpress', $product, $changes ) );
		$this->assertSame( array( 422, 'invalid_request' ), array( $status, $answer['error'] ) );
		$this->assertCount( $before, get_posts( array( 'post_type' => 'memberpresscoupon', 'numberposts' => -1 ) ) );
	}

	public function invalid_changes() {
		return array(
			'an amount discount (not supported yet)' => array( array( 'discount' => array( 'type' => 'amount', 'amount' => '5.00', 'currency' => 'EUR' ) ) ),
			'0 percent'                              => array( array( 'discount' => array( 'type' => 'percent', 'percent' => 0 ) ) ),
			'91 percent'                             => array( array( 'discount' => array( 'type' => 'percent', 'percent' => 91 ) ) ),
			'a percent as a string'                  => array( array( 'discount' => array( 'type' => 'percent', 'percent' => '20' ) ) ),
			'an expiry in the past'                  => array( array( 'expires_at' => '2020-01-01T00:00:00Z' ) ),
			'an expiry that is not RFC 3339'         => array( array( 'expires_at' => 'next tuesday' ) ),
			'no usage'                               => array( array( 'usage_limit' => 0 ) ),
			'an invalid email'                       => array( array( 'member' => array( 'id' => '42', 'email' => 'ana' ) ) ),
		);
	}

	public function test_coupons_refuse_bad_signatures_too() {
		$product = farewell_test_mepr_product( 'Or', '29.00' );
		list( $status, $answer ) = $this->post( 'coupons', $this->coupon_body( 'memberpress', $product ), array( 'time' => time() - 3600 ) );
		$this->assertSame( array( 401, 'invalid_signature' ), array( $status, $answer['error'] ) );
	}

	public function test_codes_avoid_ambiguous_characters() {
		for ( $i = 0; $i < 200; $i++ ) {
			$this->assertMatchesRegularExpression( self::CODE, Farewell_Bridge_Rest_Coupons::generate_code() );
		}
	}
}
