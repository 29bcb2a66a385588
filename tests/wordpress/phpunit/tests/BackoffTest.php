<?php
/**
 * Exponential backoff with jitter: bounds, cap, spread.
 */
class BackoffTest extends Farewell_Test_Case {

	public function test_each_delay_lies_between_half_and_all_of_the_exponential_step() {
		for ( $attempt = 1; $attempt <= 40; $attempt++ ) {
			$step = min( Farewell_Bridge_Outbox::BACKOFF_CAP_SECONDS, Farewell_Bridge_Outbox::BACKOFF_BASE_SECONDS * pow( 2, min( $attempt - 1, 30 ) ) );
			for ( $i = 0; $i < 20; $i++ ) {
				$delay = Farewell_Bridge_Outbox::backoff_delay( $attempt );
				$this->assertGreaterThanOrEqual( intdiv( (int) $step, 2 ), $delay, "attempt $attempt" );
				$this->assertLessThanOrEqual( $step, $delay, "attempt $attempt" );
			}
		}
	}

	public function test_delays_grow_then_stop_at_the_cap() {
		$this->assertLessThanOrEqual( 15, Farewell_Bridge_Outbox::backoff_delay( 1 ) );
		$this->assertGreaterThanOrEqual( 60, Farewell_Bridge_Outbox::backoff_delay( 4 ) );
		$this->assertLessThanOrEqual( 6 * HOUR_IN_SECONDS, Farewell_Bridge_Outbox::backoff_delay( 1000 ) );
		$this->assertGreaterThanOrEqual( 3 * HOUR_IN_SECONDS, Farewell_Bridge_Outbox::backoff_delay( 1000 ) );
	}

	public function test_jitter_spreads_retries() {
		$seen = array();
		for ( $i = 0; $i < 50; $i++ ) {
			$seen[ Farewell_Bridge_Outbox::backoff_delay( 8 ) ] = true;
		}
		$this->assertGreaterThan( 10, count( $seen ), 'fifty rows failing together do not all retry at the same second' );
	}

	public function test_a_row_is_retried_a_few_dozen_times_within_three_days() {
		$elapsed  = 0;
		$attempts = 0;
		while ( $elapsed < Farewell_Bridge_Outbox::MAX_RETRY_SECONDS ) {
			++$attempts;
			$elapsed += Farewell_Bridge_Outbox::backoff_delay( $attempts );
		}
		$this->assertGreaterThanOrEqual( 18, $attempts );
		$this->assertLessThanOrEqual( 40, $attempts );
	}
}
