<?php
/**
 * Delivery: takes due outbox rows, signs them afresh and sends them, never on the member's
 * request path.
 *
 * - On `shutdown`, rows inserted during this request are delivered after the response is
 *   finished (fastcgi_finish_request() / litespeed_finish_request()), a few rows at most, with
 *   a 3-second timeout. Where the response cannot be finished early (mod_php, `php -S`), the
 *   request instead hands the rows to a loopback request to admin-ajax.php that it does not
 *   wait for (see spawn_loopback()), so the member never waits for the sidecar.
 * - In PHP's command line (WP-CLI, a system cron running `php wp-cron.php`, a queue worker) no
 *   person waits for the output: the rows of the process are delivered in the process itself
 *   before it exits, with the cron timeout and deadline (deliver_in_process()). A loopback from
 *   there would reach the site only if the command line can see it under its public URL, which
 *   it often cannot: the cancel then waited a minute for cron.
 * - Whether loopbacks reach the site is recorded (spawn_loopback() and its handler,
 *   action_wp_ajax_farewell_bridge_deliver()): a connection that fails, or hand-overs that no
 *   handler ever answers (basic auth, a host that blocks requests to itself, a private host
 *   name), stop the hand-overs and leave the rows to cron; one hand-over every
 *   LOOPBACK_RETRY_SECONDS tries again, and Site Health says so.
 * - A WP-Cron event every minute retries due rows, oldest first, in bounded batches, within a time
 *   budget below max_execution_time and with memory that does not grow with the backlog.
 * - Several due rows go in one request to the sidecar's batch route (up to its 500 events and
 *   1 MiB), each row's answer recorded as a single send's would be; one row goes alone on the
 *   single route. An older sidecar without the batch route is remembered for NO_BATCH_SECONDS
 *   and the rows go one by one meanwhile (send_chunk()).
 * - One delivery after a response at a time, site-wide (a MySQL GET_LOCK taken without waiting):
 *   other requests leave their rows to the running one (or to cron), so concurrent cancellations
 *   never tie up several PHP workers on a slow sidecar.
 * - A circuit breaker: when an attempt fails for a temporary reason (network error, timeout,
 *   408/429/5xx), deliveries from members' requests stop for CIRCUIT_SECONDS and the current
 *   batch stops too. Without it a black-holed sidecar would hold one PHP worker for 3 s after
 *   every cancellation and could exhaust the pool; with it at most one attempt per
 *   CIRCUIT_SECONDS waits on a dead sidecar, and cron (which ignores the circuit) probes it.
 *
 * @package Farewell_Bridge
 */

if ( ! defined( 'ABSPATH' ) ) {
	exit;
}

/**
 * Sends outbox rows to the sidecar.
 */
class Farewell_Bridge_Dispatcher {

	const CRON_HOOK       = 'farewell_bridge_deliver';
	const CRON_SCHEDULE   = 'farewell_bridge_every_minute';
	const LOOPBACK_ACTION = 'farewell_bridge_deliver';

	/** Rows delivered on shutdown at most. */
	const SHUTDOWN_BATCH = 5;
	/** Total timeout of one request on shutdown / loopback. */
	const SHUTDOWN_TIMEOUT = 3.0;
	/** Rows per cron batch. */
	const CRON_BATCH = 20;
	/** Total timeout of one request from cron. */
	const CRON_TIMEOUT = 5.0;
	/** Total timeout of a batch of more than SHUTDOWN_BATCH rows (one transaction on the sidecar), within the deadline. */
	const BATCH_TIMEOUT = 15.0;
	/** After an older sidecar answered that it has no batch route, rows go one by one this long before it is asked again. */
	const NO_BATCH_SECONDS = HOUR_IN_SECONDS;
	const BATCH_OPTION     = 'farewell_bridge_no_batch_until';
	/** Stop starting new rows after this many seconds in one cron run (less under a max_execution_time). */
	const CRON_BUDGET_SECONDS = 25;
	/** A cron run stops when the process uses more than this share of its memory_limit. */
	const MEMORY_SHARE = 0.8;
	/** How long deliveries from members' requests pause after a temporary failure. */
	const CIRCUIT_SECONDS = 30;
	const CIRCUIT_OPTION  = 'farewell_bridge_circuit_until';
	/** Late on `shutdown`, so that finishing the response cuts no other plugin's output short. */
	const SHUTDOWN_PRIORITY = 1000;
	/** What is known of loopback requests: see loopback_state(). */
	const LOOPBACK_OPTION = 'farewell_bridge_loopback';
	/** A hand-over no handler has answered after this long means loopbacks do not reach the site. */
	const LOOPBACK_GRACE_SECONDS = 120;
	/** While loopbacks fail, one hand-over is tried again this often (they may work again). */
	const LOOPBACK_RETRY_SECONDS = 600;

	/**
	 * Ids of rows inserted during this request.
	 *
	 * @var int[]
	 */
	private static $inserted = array();

	/**
	 * Whether this process holds the lock.
	 *
	 * @var bool
	 */
	private static $holding = false;

	/**
	 * Whether this request's response was ended (finish_response()).
	 *
	 * @var bool
	 */
	private static $ended = false;

	/**
	 * What this class keeps in WordPress, which uninstall.php removes (see Farewell_Bridge_Plugin::DATA_OWNERS).
	 *
	 * @return array See uninstall.php.
	 */
	public static function owned() {
		return array(
			'options'    => array( self::CIRCUIT_OPTION, self::LOOPBACK_OPTION, self::BATCH_OPTION ),
			'cron_hooks' => array( self::CRON_HOOK ),
		);
	}

	/**
	 * Remembers a row inserted during this request, for delivery on shutdown.
	 *
	 * @param int $id Row id.
	 */
	public static function remember( $id ) {
		self::$inserted[] = (int) $id;
	}

	/**
	 * Ids remembered in this request.
	 *
	 * @return int[]
	 */
	public static function remembered() {
		return self::$inserted;
	}

	/**
	 * Forgets the remembered rows (tests, and after delivery).
	 */
	public static function forget() {
		self::$inserted = array();
	}

	/**
	 * Adds the every-minute schedule. Hooked on cron_schedules.
	 *
	 * @param array $schedules Schedules.
	 * @return array
	 */
	public static function filter_cron_schedules( $schedules ) {
		$schedules[ self::CRON_SCHEDULE ] = array(
			'interval' => MINUTE_IN_SECONDS,
			'display'  => __( 'Every minute (Farewell Bridge)', 'farewell-bridge' ),
		);
		return $schedules;
	}

	/**
	 * Schedules the cron event when it is missing.
	 */
	public static function ensure_scheduled() {
		if ( ! wp_next_scheduled( self::CRON_HOOK ) ) {
			wp_schedule_event( time() + MINUTE_IN_SECONDS, self::CRON_SCHEDULE, self::CRON_HOOK );
		}
	}

	/**
	 * Removes the cron event (deactivation).
	 */
	public static function unschedule() {
		wp_clear_scheduled_hook( self::CRON_HOOK );
	}

	/**
	 * Whether delivery can run at all.
	 *
	 * @return bool
	 */
	public static function can_deliver() {
		return Farewell_Bridge_Settings::is_configured() && null === Farewell_Bridge_Outbox::paused();
	}

	/**
	 * Whether deliveries from members' requests are paused after a temporary failure. A pause
	 * set further ahead than CIRCUIT_SECONDS was written by a clock that has since gone back (an
	 * NTP correction): it no longer counts, or it could stop these deliveries for as long.
	 *
	 * @return bool
	 */
	public static function circuit_open() {
		$until = (int) get_option( self::CIRCUIT_OPTION, 0 );
		return $until > time() && $until <= time() + self::CIRCUIT_SECONDS;
	}

	/**
	 * Delivers the given rows, each only if this worker can claim it: several together through
	 * the batch route, in batches within the sidecar's caps by count and by bytes, in the order
	 * given (the outbox's: live rows first), or one by one. Stops at the first temporary failure
	 * (the sidecar is probably unreachable: the others would wait too), at a 410, and once
	 * $deadline has passed (no request is started that could outlast it; rows claimed for a batch
	 * that is not sent are released at once).
	 *
	 * @param int[]      $ids      Row ids.
	 * @param float      $timeout  Per-request timeout.
	 * @param float|null $deadline microtime(true) after which no new row is started; null for none.
	 * @return array Counts per resulting status, and 'halted' => whether it stopped early.
	 */
	public static function deliver_ids( array $ids, $timeout, $deadline = null ) {
		$done = array(
			Farewell_Bridge_Outbox::STATUS_DELIVERED => 0,
			Farewell_Bridge_Outbox::STATUS_PENDING   => 0,
			Farewell_Bridge_Outbox::STATUS_DEAD      => 0,
			'halted'                                 => false,
		);
		if ( ! self::can_deliver() ) {
			return $done;
		}
		$client   = Farewell_Bridge_Client::from_settings();
		$batching = count( $ids ) > 1 && self::batch_route_usable();
		$chunk    = array(); // Claimed rows that go together in the next batch.
		$bytes    = Farewell_Bridge_Client::batch_overhead_bytes();
		$queue    = array_values( $ids );
		$claimed  = array(); // Rows claimed a group at a time (Outbox::claim_rows()), not yet taken.
		while ( ! empty( $claimed ) || ! empty( $queue ) ) {
			if ( null !== $deadline && ( $deadline - microtime( true ) < 1.0 || self::memory_tight() ) ) {
				$done['halted'] = true;
				break;
			}
			if ( empty( $claimed ) ) {
				// Rows another worker has, or no longer pending, are not among them.
				$claimed = Farewell_Bridge_Outbox::claim_rows( array_splice( $queue, 0, Farewell_Bridge_Outbox::CLAIM_GROUP ) );
				continue;
			}
			$row = array_shift( $claimed );
			if ( ! $batching || ! is_object( json_decode( $row['payload'] ) ) ) {
				// Alone on the single route: a payload that is not a JSON object would make the
				// batch's body unreadable, and the sidecar answers for it alone this way.
				if ( self::send_one( $client, $row, $timeout, $deadline, $done ) ) {
					break;
				}
				continue;
			}
			$size = Farewell_Bridge_Client::batch_item_bytes( $row['webhook_id'], $row['payload'] );
			if ( ! empty( $chunk ) && ( count( $chunk ) >= Farewell_Bridge_Client::BATCH_MAX_EVENTS || $bytes + $size > Farewell_Bridge_Client::BATCH_MAX_BYTES ) ) {
				$halted   = self::send_chunk( $client, $chunk, $timeout, $deadline, $done );
				$chunk    = array();
				$bytes    = Farewell_Bridge_Client::batch_overhead_bytes();
				$batching = self::batch_route_usable();
				if ( $halted ) {
					Farewell_Bridge_Outbox::release( array( (int) $row['id'] ) );
					break;
				}
				if ( ! $batching ) {
					if ( self::send_one( $client, $row, $timeout, $deadline, $done ) ) {
						break;
					}
					continue;
				}
			}
			$chunk[] = $row;
			$bytes  += $size;
		}
		if ( ! empty( $claimed ) ) {
			// Claimed but not reached (time is up, or delivery stopped): due again at once.
			Farewell_Bridge_Outbox::release( array_map( 'intval', wp_list_pluck( $claimed, 'id' ) ) );
		}
		if ( ! empty( $chunk ) ) {
			if ( $done['halted'] ) {
				// Claimed but not sent (time or memory is up): due again for the next run at once.
				Farewell_Bridge_Outbox::release( array_map( 'intval', wp_list_pluck( $chunk, 'id' ) ) );
			} else {
				self::send_chunk( $client, $chunk, $timeout, $deadline, $done );
			}
		}
		return $done;
	}

	/**
	 * The timeout of one request: $timeout, never past $deadline.
	 *
	 * @param float      $timeout  Timeout in seconds.
	 * @param float|null $deadline microtime(true) value, or null.
	 * @return float
	 */
	private static function request_timeout( $timeout, $deadline ) {
		return null === $deadline ? (float) $timeout : min( (float) $timeout, max( 1.0, $deadline - microtime( true ) ) );
	}

	/**
	 * Sends one claimed row on the single route and records the answer.
	 *
	 * @param Farewell_Bridge_Client $client   Client.
	 * @param array                  $row      The claimed row.
	 * @param float                  $timeout  Timeout in seconds.
	 * @param float|null             $deadline See deliver_ids().
	 * @param array                  $done     Counts, updated.
	 * @return bool Whether delivery must stop here (see after_result()).
	 */
	private static function send_one( Farewell_Bridge_Client $client, array $row, $timeout, $deadline, array &$done ) {
		$result = $client->send_event( $row['webhook_id'], $row['payload'], self::request_timeout( $timeout, $deadline ) );
		unset( $row['payload'] ); // Up to 64 KiB each: nothing of it is kept past this row.
		$status = Farewell_Bridge_Outbox::record_attempt( $row, $result );
		Farewell_Bridge_Clock::note( $result );
		++$done[ $status ];
		return self::after_result( $result, $done );
	}

	/**
	 * What an answer means for the rest of the delivery: a temporary failure opens the circuit
	 * and stops it (the sidecar is probably unreachable: the other rows would wait too), a 410
	 * stops it, a success closes the circuit.
	 *
	 * @param array $result A Farewell_Bridge_Client result.
	 * @param array $done   Counts; 'halted' is set here.
	 * @return bool Whether delivery must stop.
	 */
	private static function after_result( array $result, array &$done ) {
		if ( Farewell_Bridge_Client::RETRY === $result['kind'] ) {
			update_option( self::CIRCUIT_OPTION, time() + self::CIRCUIT_SECONDS, false );
			$done['halted'] = true;
			return true;
		}
		if ( Farewell_Bridge_Client::GONE === $result['kind'] ) {
			$done['halted'] = true;
			return true;
		}
		if ( Farewell_Bridge_Client::DELIVERED === $result['kind'] && false !== get_option( self::CIRCUIT_OPTION, false ) ) {
			delete_option( self::CIRCUIT_OPTION );
		}
		return false;
	}

	/**
	 * Sends claimed rows in one batch and records each row's result as a single send of it
	 * would have been recorded: accepted or duplicate → delivered, invalid → dead with the
	 * sidecar's fields. When the batch as a whole fails for a temporary reason (network, timeout,
	 * 408/429/5xx), every row of it was in flight: each counts its attempt and waits its own
	 * backoff, and delivery stops as after a single send. A whole-batch 401/404/410/426 is what
	 * each row would have had. An older sidecar without the route (404 not_found, 405) is
	 * remembered for NO_BATCH_SECONDS, and these rows go one by one now, as do the rows of a batch
	 * refused for its shape or size (400, 413, 415). One row goes on the single route.
	 *
	 * @param Farewell_Bridge_Client $client   Client.
	 * @param array[]                $rows     Claimed rows, with their payloads.
	 * @param float                  $timeout  Timeout of a single send.
	 * @param float|null             $deadline See deliver_ids().
	 * @param array                  $done     Counts, updated.
	 * @return bool Whether delivery must stop.
	 */
	private static function send_chunk( Farewell_Bridge_Client $client, array $rows, $timeout, $deadline, array &$done ) {
		$rows = array_values( $rows );
		if ( 1 === count( $rows ) ) {
			return self::send_one( $client, $rows[0], $timeout, $deadline, $done );
		}
		if ( null !== $deadline && $deadline - microtime( true ) < 1.0 ) {
			Farewell_Bridge_Outbox::release( array_map( 'intval', wp_list_pluck( $rows, 'id' ) ) );
			$done['halted'] = true;
			return true;
		}
		// The sidecar stores a whole batch in one transaction: a full one may take longer than
		// one event, and a timeout would send it all again. The few rows of a member's request
		// keep their short timeout.
		$wait  = count( $rows ) > self::SHUTDOWN_BATCH ? max( (float) $timeout, self::BATCH_TIMEOUT ) : (float) $timeout;
		$items = array();
		foreach ( $rows as $row ) {
			$items[] = array(
				'webhook_id' => $row['webhook_id'],
				'payload'    => $row['payload'],
			);
		}
		$result = $client->send_batch( $items, self::request_timeout( $wait, $deadline ) );
		$items  = null;
		Farewell_Bridge_Clock::note( $result );

		if ( null !== $result['results'] ) {
			$delivered = array(); // HTTP status of the single route (202, 200) => row ids.
			foreach ( $rows as $i => $row ) {
				$answer = $result['results'][ $i ];
				if ( Farewell_Bridge_Client::DELIVERED === $answer['kind'] ) {
					$delivered[ $answer['status'] ][] = (int) $row['id'];
					continue;
				}
				unset( $row['payload'] );
				++$done[ Farewell_Bridge_Outbox::record_attempt( $row, $answer ) ];
			}
			foreach ( $delivered as $status => $ids ) {
				$done[ Farewell_Bridge_Outbox::STATUS_DELIVERED ] += Farewell_Bridge_Outbox::record_delivered( $ids, $status );
			}
			return self::after_result( $result, $done );
		}
		if ( $result['unsupported'] || $result['resend_singly'] ) {
			if ( $result['unsupported'] ) {
				update_option( self::BATCH_OPTION, time() + self::NO_BATCH_SECONDS, false );
			}
			foreach ( $rows as $i => $row ) {
				$stop = null !== $deadline && $deadline - microtime( true ) < 1.0;
				if ( $stop || self::send_one( $client, $row, $timeout, $deadline, $done ) ) {
					Farewell_Bridge_Outbox::release( array_map( 'intval', wp_list_pluck( array_slice( $rows, $stop ? $i : $i + 1 ), 'id' ) ) );
					$done['halted'] = true;
					return true;
				}
			}
			return false;
		}
		foreach ( $rows as $row ) {
			unset( $row['payload'] );
			++$done[ Farewell_Bridge_Outbox::record_attempt( $row, $result ) ];
		}
		return self::after_result( $result, $done );
	}

	/**
	 * Whether to send several due rows through the batch route: yes unless the sidecar answered
	 * lately that it has none (an older one). A mark set further ahead than NO_BATCH_SECONDS was
	 * written by a clock that has since gone back: it no longer counts.
	 *
	 * @return bool
	 */
	public static function batch_route_usable() {
		$until = (int) get_option( self::BATCH_OPTION, 0 );
		return ! ( $until > time() && $until <= time() + self::NO_BATCH_SECONDS );
	}

	/**
	 * How many due rows one drain step takes: a full batch when the sidecar takes batches, else
	 * CRON_BATCH rows sent one by one.
	 *
	 * @return int
	 */
	public static function drain_size() {
		return self::batch_route_usable() ? Farewell_Bridge_Client::BATCH_MAX_EVENTS : self::CRON_BATCH;
	}

	/**
	 * When one cron run stops starting deliveries (a microtime): CRON_BUDGET_SECONDS from now,
	 * or sooner under a max_execution_time: half the limit, counted from the start of the PHP
	 * request, so that the run ends on its own well before PHP would kill it (the other half
	 * covers WordPress's start-up, the other cron events of the request and the request in
	 * flight). The backlog waits for the next run, oldest first.
	 *
	 * @return float
	 */
	public static function cron_deadline() {
		$now      = microtime( true );
		$deadline = $now + self::CRON_BUDGET_SECONDS;
		$limit    = (int) ini_get( 'max_execution_time' );
		if ( $limit > 0 ) {
			$started  = isset( $_SERVER['REQUEST_TIME_FLOAT'] ) ? min( $now, (float) $_SERVER['REQUEST_TIME_FLOAT'] ) : $now;
			$deadline = min( $deadline, $started + max( 1.0, $limit / 2 ) );
		}
		/**
		 * Filters when a cron run stops starting outbox deliveries.
		 *
		 * @param float $deadline A microtime(true) value.
		 */
		return (float) apply_filters( 'farewell_bridge_cron_deadline', $deadline );
	}

	/**
	 * Whether this process uses more than MEMORY_SHARE of its memory_limit: then a cron run
	 * stops and leaves the rest for the next one rather than risk a fatal error.
	 *
	 * @return bool
	 */
	public static function memory_tight() {
		$limit = wp_convert_hr_to_bytes( (string) ini_get( 'memory_limit' ) );
		return $limit > 0 && memory_get_usage() > $limit * self::MEMORY_SHARE;
	}

	/**
	 * Cron: retries due rows in bounded batches, oldest first, until cron_deadline();
	 * purges old delivered rows. Memory stays flat whatever the backlog: one batch of ids at a
	 * time, one row's payload at a time.
	 *
	 * @return array<string,int> Counts per resulting status.
	 */
	public static function action_farewell_bridge_deliver() {
		$totals = array(
			Farewell_Bridge_Outbox::STATUS_DELIVERED => 0,
			Farewell_Bridge_Outbox::STATUS_PENDING   => 0,
			Farewell_Bridge_Outbox::STATUS_DEAD      => 0,
		);
		try {
			Farewell_Bridge_Outbox::purge_delivered();
			$deadline = self::cron_deadline();
			while ( self::can_deliver() && microtime( true ) < $deadline ) {
				$ids = Farewell_Bridge_Outbox::due_ids( self::drain_size() );
				if ( empty( $ids ) ) {
					break;
				}
				$done = self::deliver_ids( $ids, self::CRON_TIMEOUT, $deadline );
				foreach ( array_keys( $totals ) as $status ) {
					$totals[ $status ] += $done[ $status ];
				}
				if ( $done['halted'] || 0 === $done['delivered'] + $done['pending'] + $done['dead'] ) {
					break; // The sidecar is failing, time or memory is up, or everything was claimed by someone else.
				}
			}
		} catch ( Throwable $e ) {
			self::log( $e );
		}
		return $totals;
	}

	/**
	 * Shutdown: deliver what this request inserted, after the response has been sent.
	 */
	public static function action_shutdown() {
		if ( self::in_cli() ) {
			self::deliver_in_process();
			return;
		}
		$ids = array_slice( array_unique( self::$inserted ), 0, self::SHUTDOWN_BATCH );
		self::forget();
		if ( empty( $ids ) ) {
			return;
		}
		try {
			// Where the server can end the member's response here, it does so first, whatever
			// follows: the checks below, a delivery, or nothing (circuit open, delivery paused:
			// cron delivers). The member then never waits for those checks nor for PHP's own
			// teardown; before, with the circuit open, they did (bench.bridge_cost: PHP-FPM
			// with the sidecar black-holed at 1.10x, up at 1.01x).
			$finished = self::finish_response();
			self::prime_options();
			if ( ! self::can_deliver() || self::circuit_open() ) {
				return; // Cron delivers them.
			}
			if ( ! $finished && apply_filters( 'farewell_bridge_use_loopback', true ) ) {
				if ( ! self::delivery_busy() && self::loopback_worth_trying() ) {
					self::spawn_loopback( $ids );
				}
				return;
			}
			self::deliver_after_response( $ids );
		} catch ( Throwable $e ) {
			self::log( $e );
		}
	}

	/**
	 * Reads the options the delivery checks read (the secret, the pause, the circuit, the
	 * loopback state, the batch route's mark, the last delivery and clock skew that a delivery
	 * writes) in one query, where each get_option() of a non-autoloaded option, found or not,
	 * would be a query of its own: three to five round trips on the member's clock under mod_php,
	 * one now. They stay non-autoloaded: they are read only after a request recorded an event
	 * (or in the loopback and cron), not on every page of the site. With a persistent object
	 * cache they are already there and nothing is read.
	 */
	public static function prime_options() {
		$names = array(
			Farewell_Bridge_Settings::SECRET_OPTION,
			Farewell_Bridge_Outbox::PAUSED_OPTION,
			Farewell_Bridge_Outbox::LAST_DELIVERY_OPTION,
			Farewell_Bridge_Clock::OPTION,
			self::CIRCUIT_OPTION,
			self::LOOPBACK_OPTION,
			self::BATCH_OPTION,
		);
		if ( function_exists( 'wp_prime_option_caches' ) ) {
			wp_prime_option_caches( $names ); // WordPress 6.4 and later.
			return;
		}
		// WordPress 6.1 to 6.3: what wp_prime_option_caches() does.
		global $wpdb;
		$alloptions = wp_load_alloptions();
		$notoptions = wp_cache_get( 'notoptions', 'options' );
		$notoptions = is_array( $notoptions ) ? $notoptions : array();
		$missing    = array();
		foreach ( $names as $name ) {
			if ( ! isset( $alloptions[ $name ] ) && ! isset( $notoptions[ $name ] ) && false === wp_cache_get( $name, 'options' ) ) {
				$missing[] = $name;
			}
		}
		if ( empty( $missing ) ) {
			return;
		}
		$rows = $wpdb->get_results( $wpdb->prepare( "SELECT option_name, option_value FROM {$wpdb->options} WHERE option_name IN (" . implode( ',', array_fill( 0, count( $missing ), '%s' ) ) . ')', $missing ) ); // phpcs:ignore WordPress.DB.PreparedSQL.InterpolatedNotPrepared,WordPress.DB.PreparedSQL.NotPrepared -- placeholders only.
		$found = array();
		foreach ( (array) $rows as $row ) {
			// Raw, as WordPress caches an option: get_option() unserializes it.
			wp_cache_add( $row->option_name, $row->option_value, 'options' );
			$found[ $row->option_name ] = true;
		}
		$absent = array_diff( $missing, array_keys( $found ) );
		if ( ! empty( $absent ) ) {
			wp_cache_set( 'notoptions', array_merge( $notoptions, array_fill_keys( $absent, true ) ), 'options' );
		}
	}

	/**
	 * Ends the response to the client where the server allows it (PHP-FPM, LiteSpeed); PHP goes
	 * on with the rest of the request.
	 *
	 * @return bool Whether the response was ended here.
	 */
	private static function finish_response() {
		if ( self::$ended ) {
			return true;
		}
		if ( function_exists( 'fastcgi_finish_request' ) ) {
			fastcgi_finish_request();
			self::$ended = true;
		} elseif ( function_exists( 'litespeed_finish_request' ) ) {
			litespeed_finish_request();
			self::$ended = true;
		}
		return self::$ended;
	}

	/**
	 * Ends the member's response where the server can (see finish_response()), once: for work of
	 * this request that the member need not wait for (the survey's user meta) before the delivery.
	 *
	 * @return bool Whether the response is ended.
	 */
	public static function end_response() {
		return self::finish_response();
	}

	/**
	 * Whether this request's response can be ended before PHP finishes (PHP-FPM, LiteSpeed), so
	 * that work left for `shutdown` is off the member's clock; not on the command line, not under
	 * mod_php or `php -S`.
	 *
	 * @return bool
	 */
	public static function can_end_response() {
		/**
		 * Filters whether the bridge may leave work for after the response (tests of the PHP-FPM
		 * paths run in PHPUnit, a command line without fastcgi_finish_request()).
		 *
		 * @param bool $can Whether fastcgi_finish_request() or litespeed_finish_request() exists, outside the command line.
		 */
		return (bool) apply_filters( 'farewell_bridge_can_end_response', ! self::in_cli() && ( function_exists( 'fastcgi_finish_request' ) || function_exists( 'litespeed_finish_request' ) ) );
	}

	/**
	 * Whether this process is PHP's command line, where no person waits for the output (`php -S`
	 * is 'cli-server', a web server).
	 *
	 * @return bool
	 */
	public static function in_cli() {
		/**
		 * Filters whether the bridge treats this process as the command line (tests of the web
		 * paths run in PHPUnit, itself a command line).
		 *
		 * @param bool $cli Whether PHP_SAPI is 'cli' or WP-CLI runs.
		 */
		return (bool) apply_filters( 'farewell_bridge_in_cli', 'cli' === PHP_SAPI || ( defined( 'WP_CLI' ) && WP_CLI ) );
	}

	/**
	 * Command line: delivers every row this process inserted, here and now, before the process
	 * exits, oldest first, with the cron timeout and deadline; whatever is left after a temporary
	 * failure or past the deadline waits for cron. No lock: claim() already keeps a row from
	 * being sent twice, and no web worker is held. An open circuit (the sidecar failed moments
	 * ago) leaves the rows to cron, as a script cancelling in a loop would otherwise wait on a
	 * dead sidecar once per process.
	 *
	 * @return array Counts per resulting status (see deliver_ids()).
	 */
	public static function deliver_in_process() {
		$ids   = array_values( array_unique( self::$inserted ) );
		$total = array(
			Farewell_Bridge_Outbox::STATUS_DELIVERED => 0,
			Farewell_Bridge_Outbox::STATUS_PENDING   => 0,
			Farewell_Bridge_Outbox::STATUS_DEAD      => 0,
			'halted'                                 => false,
		);
		self::forget();
		if ( empty( $ids ) || ! self::can_deliver() || self::circuit_open() ) {
			return $total;
		}
		try {
			$deadline = self::cron_deadline();
			foreach ( array_chunk( $ids, self::drain_size() ) as $chunk ) {
				$done = self::deliver_ids( $chunk, self::CRON_TIMEOUT, $deadline );
				foreach ( array( Farewell_Bridge_Outbox::STATUS_DELIVERED, Farewell_Bridge_Outbox::STATUS_PENDING, Farewell_Bridge_Outbox::STATUS_DEAD ) as $status ) {
					$total[ $status ] += $done[ $status ];
				}
				if ( $done['halted'] ) {
					$total['halted'] = true;
					break;
				}
			}
		} catch ( Throwable $e ) {
			self::log( $e );
		}
		return $total;
	}

	/**
	 * What is known of loopback requests to this site: 'ok' (last time a handler ran), 'failed'
	 * (last time one could not be handed over), 'reason' (why), 'sent' (first hand-over not yet
	 * answered by a handler, 0 when none), 'tried' (last hand-over). Timestamps, 0 for never.
	 *
	 * @return array
	 */
	public static function loopback_state() {
		$state = get_option( self::LOOPBACK_OPTION, array() );
		$state = is_array( $state ) ? $state : array();
		foreach ( array( 'ok', 'failed', 'sent', 'tried' ) as $key ) {
			$state[ $key ] = isset( $state[ $key ] ) ? (int) $state[ $key ] : 0;
		}
		$state['reason'] = isset( $state['reason'] ) ? (string) $state['reason'] : '';
		return $state;
	}

	/**
	 * Stores the loopback state (not autoloaded: read only when a row is handed over).
	 *
	 * @param array $state See loopback_state().
	 */
	private static function save_loopback_state( array $state ) {
		update_option( self::LOOPBACK_OPTION, $state, false );
	}

	/**
	 * Why loopback requests do not reach this site, '' when they do (or nothing is known yet):
	 * the last hand-over could not connect, or one was never answered within LOOPBACK_GRACE_SECONDS.
	 *
	 * @return string
	 */
	public static function loopback_problem() {
		$state = self::loopback_state();
		if ( $state['failed'] > $state['ok'] ) {
			return '' !== $state['reason'] ? $state['reason'] : __( 'The loopback request could not be sent.', 'farewell-bridge' );
		}
		if ( $state['sent'] > 0 && time() - $state['sent'] > self::LOOPBACK_GRACE_SECONDS ) {
			return __( 'A loopback request was sent to admin-ajax.php but never arrived: the host may block requests from the site to itself, ask for a password (HTTP basic auth), or the site\'s address may not lead back to this server.', 'farewell-bridge' );
		}
		return '';
	}

	/**
	 * Whether to hand rows over to a loopback now: yes unless loopbacks are known not to reach
	 * the site, and then once every LOOPBACK_RETRY_SECONDS (they may work again).
	 *
	 * @return bool
	 */
	public static function loopback_worth_trying() {
		if ( '' === self::loopback_problem() ) {
			return true;
		}
		return time() - self::loopback_state()['tried'] >= self::LOOPBACK_RETRY_SECONDS;
	}

	/**
	 * Records a hand-over (handed over or not) in the loopback state, only when that tells
	 * something new: each write is an UPDATE on the member's clock where the response cannot be
	 * ended early (mod_php), and with loopbacks that work every cancel wrote the state twice (the
	 * hand-over marked as awaited, its handler clearing the mark). Nothing is written when an
	 * earlier hand-over is still awaited, nor when a handler arrived less than a minute ago (a
	 * loopback that just worked is known to work): a hand-over a minute or more after the last
	 * arrival is recorded, and its handler records its arrival (note_loopback_arrived()), so the
	 * state is written about twice a minute at most however many members cancel. Loopbacks that
	 * stop reaching the site are still noticed, at most a minute later (the first hand-over then
	 * recorded is never answered).
	 *
	 * @param bool   $handed Whether the request was written to the socket.
	 * @param string $reason Why not, when it was not.
	 */
	private static function note_hand_over( $handed, $reason = '' ) {
		$state = self::loopback_state();
		if ( $handed && '' === self::loopback_problem() ) {
			$since_ok = time() - $state['ok'];
			if ( 0 !== $state['sent'] || ( $since_ok >= 0 && $since_ok < MINUTE_IN_SECONDS ) ) {
				return; // Awaited already, or loopbacks arrived moments ago: nothing new to write.
			}
		}
		$state['tried'] = time();
		if ( $handed ) {
			if ( 0 === $state['sent'] ) {
				$state['sent'] = time();
			}
		} else {
			$state['failed'] = time();
			$state['reason'] = (string) $reason;
		}
		self::save_loopback_state( $state );
	}

	/**
	 * Records that a loopback handler runs: loopbacks reach the site. Written at most once a
	 * minute when nothing changed.
	 */
	private static function note_loopback_arrived() {
		$state = self::loopback_state();
		if ( 0 === $state['sent'] && $state['failed'] <= $state['ok'] && time() - $state['ok'] < MINUTE_IN_SECONDS ) {
			return;
		}
		$state['ok']     = time();
		$state['sent']   = 0;
		$state['failed'] = 0;
		$state['reason'] = '';
		self::save_loopback_state( $state );
	}

	/**
	 * Delivers rows of one request once the member has their answer. Only one such delivery runs
	 * at a time: a request that finds another one running leaves its rows to it. So the holder,
	 * after its own rows, also takes rows that were never attempted (a few rounds of at most
	 * SHUTDOWN_BATCH); whatever is still left goes with the next cron run.
	 *
	 * @param int[] $ids Row ids.
	 * @return bool Whether a delivery was attempted.
	 */
	public static function deliver_after_response( array $ids ) {
		for ( $round = 0; $round < 3 && ! empty( $ids ); $round++ ) {
			if ( self::circuit_open() || ! self::acquire_lock() ) {
				return $round > 0;
			}
			try {
				$done = self::deliver_ids( $ids, self::SHUTDOWN_TIMEOUT );
				$ids  = $done['halted'] ? array() : Farewell_Bridge_Outbox::fresh_ids( self::SHUTDOWN_BATCH );
			} finally {
				self::release_lock();
			}
		}
		return true;
	}

	/**
	 * Name of the site-wide delivery lock (MySQL locks are server-wide: include the site).
	 *
	 * @return string
	 */
	private static function lock_name() {
		global $wpdb;
		return 'farewell_bridge_' . md5( DB_NAME . '|' . $wpdb->prefix );
	}

	/**
	 * Takes the delivery lock without waiting. A database without GET_LOCK() counts as free.
	 *
	 * @return bool
	 */
	public static function acquire_lock() {
		global $wpdb;
		$got           = $wpdb->get_var( $wpdb->prepare( 'SELECT GET_LOCK(%s, 0)', self::lock_name() ) );
		self::$holding = '1' === (string) $got;
		return '0' !== (string) $got;
	}

	/**
	 * Releases the delivery lock (MySQL also releases it when the connection closes).
	 */
	public static function release_lock() {
		global $wpdb;
		if ( self::$holding ) {
			$wpdb->query( $wpdb->prepare( 'SELECT RELEASE_LOCK(%s)', self::lock_name() ) );
			self::$holding = false;
		}
	}

	/**
	 * Whether another process is delivering right now.
	 *
	 * @return bool
	 */
	public static function delivery_busy() {
		global $wpdb;
		return '0' === (string) $wpdb->get_var( $wpdb->prepare( 'SELECT IS_FREE_LOCK(%s)', self::lock_name() ) );
	}

	/**
	 * The token that authorizes a loopback delivery of these ids.
	 *
	 * @param string $ids Comma-separated ids.
	 * @return string
	 */
	public static function loopback_token( $ids ) {
		return hash_hmac( 'sha256', 'farewell-bridge-loopback|' . $ids, wp_salt( 'nonce' ) );
	}

	/**
	 * Fires a request that delivers the rows in another PHP process, and does not wait for it.
	 *
	 * wp_remote_post( …, array( 'blocking' => false ) ) is not used: its cURL transport still
	 * waits for the answer for up to one second (cURL's minimum timeout), which would add that
	 * second to the member's request whenever the sidecar is slow. Instead the request is
	 * written to a socket that is closed at once; the handler ignores the closed connection.
	 * If the loopback cannot connect, nothing is lost: the cron event retries the rows.
	 *
	 * @param int[] $ids Row ids.
	 * @return bool Whether the request was handed over.
	 */
	public static function spawn_loopback( array $ids ) {
		$list  = implode( ',', array_map( 'intval', $ids ) );
		$url   = add_query_arg( 'action', self::LOOPBACK_ACTION, admin_url( 'admin-ajax.php' ) );
		$parts = wp_parse_url( $url );
		if ( ! is_array( $parts ) || empty( $parts['host'] ) ) {
			return false;
		}
		$https   = isset( $parts['scheme'] ) && 'https' === strtolower( $parts['scheme'] );
		$port    = isset( $parts['port'] ) ? (int) $parts['port'] : ( $https ? 443 : 80 );
		$context = stream_context_create(
			array(
				'ssl' => array(
					// A request to this same site, like spawn_cron()'s loopback.
					/** This filter is documented in wp-includes/class-wp-http-streams.php */
					'verify_peer'      => (bool) apply_filters( 'https_local_ssl_verify', false ),
					'verify_peer_name' => (bool) apply_filters( 'https_local_ssl_verify', false ),
				),
			)
		);
		$errno  = 0;
		$errstr = '';
		$socket = @stream_socket_client( ( $https ? 'ssl://' : 'tcp://' ) . $parts['host'] . ':' . $port, $errno, $errstr, 1, STREAM_CLIENT_CONNECT, $context ); // phpcs:ignore WordPress.PHP.NoSilencedErrors.Discouraged -- a failed loopback is handled by cron.
		if ( false === $socket ) {
			/* translators: 1: host and port, 2: the system's error message. */
			self::note_hand_over( false, sprintf( __( 'The loopback request to %1$s could not connect: %2$s', 'farewell-bridge' ), $parts['host'] . ':' . $port, '' !== (string) $errstr ? (string) $errstr : (string) $errno ) );
			return false;
		}
		$body    = http_build_query(
			array(
				'ids'   => $list,
				'token' => self::loopback_token( $list ),
			)
		);
		$path    = ( isset( $parts['path'] ) ? $parts['path'] : '/' ) . ( isset( $parts['query'] ) ? '?' . $parts['query'] : '' );
		$host    = $parts['host'] . ( isset( $parts['port'] ) ? ':' . $parts['port'] : '' );
		$request = "POST {$path} HTTP/1.1\r\nHost: {$host}\r\nUser-Agent: FarewellBridge-loopback\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: " . strlen( $body ) . "\r\nConnection: close\r\n\r\n" . $body;
		self::note_hand_over( true ); // Before writing: the handler may run before this process goes on.
		$written = fwrite( $socket, $request ); // phpcs:ignore WordPress.WP.AlternativeFunctions.file_system_operations_fwrite
		fclose( $socket ); // phpcs:ignore WordPress.WP.AlternativeFunctions.file_system_operations_fclose
		$handed = strlen( $request ) === $written;
		if ( ! $handed ) {
			self::note_hand_over( false, __( 'The loopback request could not be sent.', 'farewell-bridge' ) );
		}
		return $handed;
	}

	/**
	 * admin-ajax handler of the loopback (logged in or not): delivers the named rows.
	 * Harmless if called by anyone: it only delivers rows that are due to be delivered.
	 */
	public static function action_wp_ajax_farewell_bridge_deliver() {
		ignore_user_abort( true ); // The caller hangs up at once.
		// phpcs:disable WordPress.Security.NonceVerification.Missing -- authorized by an HMAC token, not a user session.
		$list  = isset( $_POST['ids'] ) ? sanitize_text_field( wp_unslash( $_POST['ids'] ) ) : '';
		$token = isset( $_POST['token'] ) ? sanitize_text_field( wp_unslash( $_POST['token'] ) ) : '';
		// phpcs:enable
		if ( '' === $list || ! hash_equals( self::loopback_token( $list ), $token ) ) {
			wp_die( '', '', array( 'response' => 403 ) );
		}
		$ids = array_slice( array_filter( array_map( 'intval', explode( ',', $list ) ) ), 0, self::SHUTDOWN_BATCH );
		try {
			self::prime_options();
			self::note_loopback_arrived();
			self::deliver_after_response( $ids );
		} catch ( Throwable $e ) {
			self::log( $e );
		}
		wp_die( '', '', array( 'response' => 200 ) );
	}

	/**
	 * Logs an unexpected error without ever throwing.
	 *
	 * @param Throwable $e Error.
	 */
	public static function log( $e ) {
		if ( function_exists( 'error_log' ) ) {
			error_log( 'Farewell Bridge: ' . get_class( $e ) . ': ' . $e->getMessage() . ' at ' . $e->getFile() . ':' . $e->getLine() ); // phpcs:ignore WordPress.PHP.DevelopmentFunctions.error_log_error_log
		}
	}
}
