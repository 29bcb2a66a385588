<?php
/**
 * WooCommerce Subscriptions' history (Farewell_Bridge_History_Woocommerce_Subscriptions) against
 * the stand-in: the same subscription first lived through (the live source records its status
 * changes), then read back as the importer would.
 */
class HistoryWoocommerceTest extends Farewell_Test_Case {

	protected function setUp(): void {
		parent::setUp();
		Farewell_Test_WC_Store::$subscriptions = array();
	}

	protected function tearDown(): void {
		Farewell_Test_WC_Store::$subscriptions = array();
		delete_option( Farewell_Bridge_Importer::LIVE_SINCE_OPTION );
		parent::tearDown();
	}

	/** Says when the bridge started listening to WooCommerce Subscriptions. */
	private function live_since( $time ) {
		update_option( Farewell_Bridge_Importer::LIVE_SINCE_OPTION, array( 'woocommerce-subscriptions' => (int) $time ) );
	}

	private function subscription( $id, $user, $start ) {
		return new WC_Subscription(
			array(
				'id'             => $id,
				'customer_id'    => $user,
				'status'         => 'pending',
				'currency'       => 'CHF',
				'total'          => '15',
				'billing_period' => 'year',
				'dates'          => array( 'start' => gmdate( 'Y-m-d H:i:s', $start ) ),
				'items'          => array(
					array(
						'product_id' => 31,
						'name'       => 'Annual box',
					),
				),
			)
		);
	}

	/** All the reader gives, $limit subscriptions a call: array( events decoded with their id, calls ). */
	private function read( $limit = 50, $since = null ) {
		$reader = new Farewell_Bridge_History_Woocommerce_Subscriptions();
		$cursor = null;
		$out    = array();
		$calls  = 0;
		do {
			$batch = $reader->events( $cursor, $limit, $since );
			foreach ( $batch['events'] as $event ) {
				$payload               = json_decode( $event['payload'], true );
				$payload['webhook_id'] = $event['webhook_id'];
				$this->assertSame( $event['type'], $payload['type'] );
				$this->assertArrayNotHasKey( 'imported', $payload );
				$out[] = $payload;
			}
			$cursor = $batch['cursor'];
			++$calls;
		} while ( null !== $cursor && $calls < 100 );
		return array( $out, $calls );
	}

	/**
	 * A cancellation with time left, then the end of the prepaid time — with the dates WooCommerce
	 * Subscriptions stores for them (cancelled when it went to pending-cancel, end when it ends).
	 */
	private function cancel_then_end( $sub, $cancelled, $end ) {
		$sub->update_status( 'active' );
		$sub->update_dates(
			array(
				'cancelled' => gmdate( 'Y-m-d H:i:s', $cancelled ),
				'end'       => gmdate( 'Y-m-d H:i:s', $end ),
			)
		);
		$sub->update_status( 'pending-cancel' );
		$sub->update_status( 'cancelled' );
		$sub->save();
	}

	public function test_what_happened_before_go_live_comes_back_with_the_live_scheme_of_ids() {
		$user  = $this->user();
		$start = strtotime( '2025-03-01 09:00:00 UTC' );
		$this->cancel_then_end( $this->subscription( 501, $user, $start ), $start + 86400 * 200, $start + 86400 * 365 );
		$live = $this->payloads();
		$this->assertSame( array( 'subscription.created', 'subscription.cancelled', 'subscription.expired' ), wp_list_pluck( $live, 'type' ) );

		$this->live_since( time() + 86400 ); // Installed after all this: nothing was sent live.
		list( $imported ) = $this->read();
		$this->assertSame( array( 'subscription.created', 'subscription.cancelled', 'subscription.expired' ), wp_list_pluck( $imported, 'type' ) );
		$this->assertSame(
			array( '2025-03-01T09:00:00Z', gmdate( 'Y-m-d\TH:i:s\Z', $start + 86400 * 200 ), gmdate( 'Y-m-d\TH:i:s\Z', $start + 86400 * 365 ) ),
			wp_list_pluck( $imported, 'occurred_at' )
		);
		// The live source's marker of each status change, from the stored dates.
		$this->assertSame(
			array(
				Farewell_Bridge_Event_Factory::webhook_id( 'woocommerce-subscriptions', '501', 'subscription.created', 'pending>active@' . $start ),
				Farewell_Bridge_Event_Factory::webhook_id( 'woocommerce-subscriptions', '501', 'subscription.cancelled', 'active>pending-cancel@' . ( $start + 86400 * 200 ) ),
				Farewell_Bridge_Event_Factory::webhook_id( 'woocommerce-subscriptions', '501', 'subscription.expired', 'pending-cancel>cancelled@' . ( $start + 86400 * 365 ) ),
			),
			wp_list_pluck( $imported, 'webhook_id' )
		);
		foreach ( $imported as $i => $event ) {
			// WooCommerce Subscriptions keeps no author: "unknown" (docs/PROTOCOL.md); an expiry is the site's own.
			$this->assertSame( 'subscription.expired' === $event['type'] ? 'system' : 'unknown', $event['initiated_by'] );
			$this->assertSame( $live[ $i ]['member'], $event['member'] );
			foreach ( array( 'id', 'plan_id', 'plan_name', 'amount', 'currency', 'interval', 'started_at', 'access_ends_at' ) as $field ) {
				$this->assertSame( $live[ $i ]['subscription'][ $field ] ?? null, $event['subscription'][ $field ] ?? null, $field );
			}
		}
		$this->assertArrayNotHasKey( 'access_ends_at', $imported[0]['subscription'] ); // Not known when it started.
		$this->assertSame( array( 'active', 'cancelled', 'expired' ), array_column( array_column( $imported, 'subscription' ), 'status' ) );

		// Read twice: the same events, the same ids.
		$this->assertSame( $imported, $this->read()[0] );
	}

	public function test_what_happened_since_go_live_was_sent_live_and_is_not_read_again() {
		$user = $this->user();
		$now  = time();
		$this->live_since( $now - 10 );
		$this->cancel_then_end( $this->subscription( 502, $user, $now ), $now, $now + 86400 * 30 );
		$this->assertCount( 3, $this->payloads() ); // Sent live.
		$this->assertSame( array(), $this->read()[0] );
	}

	public function test_an_immediate_cancellation_an_expiry_and_a_pending_one_oldest_first_in_bounded_calls() {
		$user = $this->user();
		$t0   = strtotime( '2024-01-10 08:00:00 UTC' );
		$this->live_since( time() + 86400 );

		$cancelled = $this->subscription( 601, $user, $t0 + 86400 * 10 );
		$cancelled->update_status( 'active' );
		$cancelled->update_dates(
			array(
				'cancelled' => gmdate( 'Y-m-d H:i:s', $t0 + 86400 * 40 ),
				'end'       => gmdate( 'Y-m-d H:i:s', $t0 + 86400 * 40 ),
			)
		);
		$cancelled->update_status( 'cancelled' );
		$cancelled->save();

		$expired = $this->subscription( 602, $user, $t0 );
		$expired->update_status( 'active' );
		$expired->update_dates( array( 'end' => gmdate( 'Y-m-d H:i:s', $t0 + 86400 * 365 ) ) );
		$expired->update_status( 'expired' );
		$expired->save();

		$this->subscription( 603, $user, $t0 )->save(); // Never paid: nothing happened.

		list( $all, $calls ) = $this->read( 1 );
		$this->assertSame( 4, $calls ); // One subscription a call, and the last (empty) page.
		$this->assertSame(
			array( '601:subscription.created', '601:subscription.cancelled', '602:subscription.created', '602:subscription.expired' ),
			array_map(
				function ( $e ) {
					return $e['subscription']['id'] . ':' . $e['type'];
				},
				$all
			)
		);
		$this->assertSame(
			Farewell_Bridge_Event_Factory::webhook_id( 'woocommerce-subscriptions', '601', 'subscription.cancelled', 'active>cancelled@' . ( $t0 + 86400 * 40 ) ),
			$all[1]['webhook_id']
		);
		// All in one call: oldest first across subscriptions.
		list( $one ) = $this->read( 50 );
		$this->assertSame( array( '602', '601', '601', '602' ), array_column( array_column( $one, 'subscription' ), 'id' ) );

		// since: what happened before it is left out.
		list( $later ) = $this->read( 50, $t0 + 86400 * 20 );
		$this->assertSame( array( 'subscription.cancelled', 'subscription.expired' ), wp_list_pluck( $later, 'type' ) );

		$this->assertSame(
			array(
				'subscriptions' => 2,
				'cancelled'     => 1,
			),
			( new Farewell_Bridge_History_Woocommerce_Subscriptions() )->summary( null )
		);
	}
}
