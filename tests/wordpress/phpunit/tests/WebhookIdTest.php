<?php
/**
 * Deterministic webhook-ids: one occurrence, one id, one outbox row.
 */
class WebhookIdTest extends Farewell_Test_Case {

	public function test_same_occurrence_gives_the_same_id_and_others_differ() {
		$a = Farewell_Bridge_Event_Factory::webhook_id( 'memberpress', '7', 'subscription.cancelled', 'evt-12' );
		$this->assertSame( $a, Farewell_Bridge_Event_Factory::webhook_id( 'memberpress', '7', 'subscription.cancelled', 'evt-12' ) );
		$this->assertNotSame( $a, Farewell_Bridge_Event_Factory::webhook_id( 'memberpress', '7', 'subscription.cancelled', 'evt-13' ) );
		$this->assertNotSame( $a, Farewell_Bridge_Event_Factory::webhook_id( 'memberpress', '8', 'subscription.cancelled', 'evt-12' ) );
		$this->assertNotSame( $a, Farewell_Bridge_Event_Factory::webhook_id( 'memberpress', '7', 'subscription.paused', 'evt-12' ) );
		$this->assertNotSame( $a, Farewell_Bridge_Event_Factory::webhook_id( 'paidmembershipspro', '7', 'subscription.cancelled', 'evt-12' ) );
		$this->assertMatchesRegularExpression( '/^fwb_[0-9a-f]{48}$/', $a );
	}

	public function test_a_memberpress_hook_fired_in_both_spellings_gives_one_row() {
		$user    = $this->user();
		$product = farewell_test_mepr_product( 'Gold', '29.00' );
		$sub     = farewell_test_mepr_subscribe( $user, $product );
		$before  = array( did_action( 'mepr-event-subscription-stopped' ), did_action( 'mepr_event_subscription_stopped' ) );
		$sub->cancel();
		// MemberPress really fired both spellings...
		$this->assertSame( $before[0] + 1, did_action( 'mepr-event-subscription-stopped' ) );
		$this->assertSame( $before[1] + 1, did_action( 'mepr_event_subscription_stopped' ) );
		// ...and the outbox holds one cancellation.
		$types = wp_list_pluck( $this->rows(), 'event_type' );
		$this->assertSame( array( 'subscription.created', 'subscription.cancelled' ), $types );
	}

	public function test_the_same_hook_fired_twice_is_stored_once() {
		$user    = $this->user();
		$product = farewell_test_mepr_product( 'Gold', '29.00' );
		$sub     = farewell_test_mepr_subscribe( $user, $product );
		$event   = new MeprEvent();
		$event->event       = 'subscription-expired';
		$event->evt_id      = $sub->id;
		$event->evt_id_type = 'subscriptions';
		$event->id          = 99;
		do_action( 'mepr_event_subscription_expired', $event );
		Farewell_Bridge_Event_Factory::reset(); // Even across requests, the event row id decides.
		do_action( 'mepr_event_subscription_expired', $event );
		$this->assertSame( 1, count( wp_list_filter( $this->rows(), array( 'event_type' => 'subscription.expired' ) ) ) );
	}

	public function test_insert_ignores_a_duplicate_webhook_id() {
		$this->assertGreaterThan( 0, Farewell_Bridge_Outbox::insert( 'fwb_dup', 'subscription.cancelled', '{}' ) );
		$this->assertSame( 0, Farewell_Bridge_Outbox::insert( 'fwb_dup', 'subscription.cancelled', '{"other":1}' ) );
		$this->assertCount( 1, $this->rows() );
		$this->assertSame( '{}', $this->rows()[0]['payload'] );
	}
}
