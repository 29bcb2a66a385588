<?php
/**
 * The history import: the membership plugins' past, read back by the readers of
 * includes/history/ (Farewell_Bridge_History_Source) and written into the outbox as imported
 * events (`"imported": true`, docs/PROTOCOL.md), which the sidecar keeps and counts but acts on
 * never: no email, no contact request, no alert, no win-back credit.
 *
 * - Bounded steps: a step reads BATCH subscriptions at a time until its deadline (well under
 *   max_execution_time) or until memory gets tight, and saves where each source stopped (the
 *   readers' cursors) after every batch, in STATE_OPTION. An interrupted import (a crash, a
 *   timeout, a deploy) goes on from there: what the lost batch had written is in the outbox
 *   already, and the outbox ignores a webhook-id it holds (the sidecar one it has seen).
 * - Steps run from WP-Cron (CRON_HOOK, one single event after another while the import runs),
 *   from the admin page's AJAX poll (AJAX_ACTION) and, to the end, from `wp farewell import`.
 * - Live first: imported rows are marked in the outbox, and the dispatcher takes due live rows
 *   before them. A step adds nothing while BACKLOG imported rows wait, so 100,000 subscriptions
 *   never mean 300,000 rows at once: the import advances as fast as the sidecar takes it.
 * - Oldest first within each source (the readers go by subscription id), one source after the other.
 *
 * @package Farewell_Bridge
 */

if ( ! defined( 'ABSPATH' ) ) {
	exit;
}

/**
 * Runs the history import in bounded, resumable steps.
 */
class Farewell_Bridge_Importer {

	/** Progress of the current or last import (see state()). Not autoloaded. */
	const STATE_OPTION = 'farewell_bridge_import';
	/** When the bridge started listening to each source, slug => Unix seconds (live_since()). */
	const LIVE_SINCE_OPTION = 'farewell_bridge_live_since';
	/** WP-Cron event of the next step. */
	const CRON_HOOK = 'farewell_bridge_import_step';
	/** admin-ajax action: one step, then the progress as JSON. */
	const AJAX_ACTION = 'farewell_bridge_import_step';
	/** admin-post action: starts an import. */
	const START_ACTION = 'farewell_bridge_import_start';

	/** The readers, one per membership plugin (includes/history/). */
	const SOURCES = array(
		'Farewell_Bridge_History_Memberpress',
		'Farewell_Bridge_History_Pmpro',
		'Farewell_Bridge_History_Restrict_Content',
		'Farewell_Bridge_History_Woocommerce_Subscriptions',
	);

	/** Subscriptions read per call of a reader. */
	const BATCH = 50;
	/** Imported rows that may wait in the outbox before a step adds more. */
	const BACKLOG = 1000;
	/** A step stops reading after this long (less under a short max_execution_time). */
	const STEP_SECONDS = 15;
	/** Seconds between two cron steps while the outbox drains. */
	const CRON_INTERVAL = 60;

	/**
	 * What this class keeps in WordPress, which uninstall.php removes (see Farewell_Bridge_Plugin::DATA_OWNERS).
	 *
	 * @return array See uninstall.php.
	 */
	public static function owned() {
		return array(
			'options'    => array( self::STATE_OPTION, self::LIVE_SINCE_OPTION ),
			'cron_hooks' => array( self::CRON_HOOK ),
		);
	}

	/**
	 * Notes when the bridge started listening to a source (kept once). Before then an occurrence
	 * is only known from the membership plugin's own records; since then the live event was sent.
	 * A site that ran an older bridge before this option existed dates it from the oldest row
	 * still in its outbox, when that is older.
	 *
	 * @param string $slug Source slug.
	 */
	public static function note_live( $slug ) {
		$known = get_option( self::LIVE_SINCE_OPTION, array() );
		$known = is_array( $known ) ? $known : array();
		if ( isset( $known[ $slug ] ) ) {
			return;
		}
		global $wpdb;
		$table  = Farewell_Bridge_Outbox::table();
		$oldest = $wpdb->get_var( "SELECT MIN(created_at) FROM {$table}" ); // phpcs:ignore WordPress.DB.PreparedSQL.InterpolatedNotPrepared,WordPress.DB.DirectDatabaseQuery
		$since  = time();
		if ( is_string( $oldest ) && '' !== $oldest ) {
			$since = min( $since, (int) strtotime( $oldest . ' UTC' ) );
		}
		$known[ $slug ] = $since;
		update_option( self::LIVE_SINCE_OPTION, $known, true );
	}

	/**
	 * When the bridge started listening to a source, or null if it never did.
	 *
	 * @param string $slug Source slug.
	 * @return int|null
	 */
	public static function live_since( $slug ) {
		$known = get_option( self::LIVE_SINCE_OPTION, array() );
		return is_array( $known ) && isset( $known[ $slug ] ) ? (int) $known[ $slug ] : null;
	}

	/**
	 * The readers whose membership plugin is active, slug => reader.
	 *
	 * @return Farewell_Bridge_History_Source[]
	 */
	public static function sources() {
		$out = array();
		foreach ( self::SOURCES as $class ) {
			if ( ! class_exists( $class ) ) {
				continue; // A reader not written yet.
			}
			$reader = new $class();
			if ( $reader instanceof Farewell_Bridge_History_Source && $reader->available() ) {
				$out[ $reader->slug() ] = $reader;
			}
		}
		/**
		 * Filters the history readers of the active membership plugins (a site's own plugin may
		 * add one; the engine's tests add a stand-in).
		 *
		 * @param Farewell_Bridge_History_Source[] $out slug => reader.
		 */
		$out = (array) apply_filters( 'farewell_bridge_history_sources', $out );
		return array_filter(
			$out,
			static function ( $reader ) {
				return $reader instanceof Farewell_Bridge_History_Source;
			}
		);
	}

	/**
	 * What each active source holds, for the admin page: slug => {subscriptions, cancelled}.
	 *
	 * @param int|null $since Unix seconds or null.
	 * @return array<string,array>
	 */
	public static function summaries( $since = null ) {
		$out = array();
		foreach ( self::sources() as $slug => $reader ) {
			$out[ $slug ] = $reader->summary( $since );
		}
		return $out;
	}

	/**
	 * The saved progress: status (idle, running, done), since, started_at, finished_at, and per
	 * source: cursor, done, subscriptions (found at the start), read (about how many read),
	 * queued (rows added), known (already in the outbox).
	 *
	 * @return array
	 */
	public static function state() {
		$state = get_option( self::STATE_OPTION, array() );
		if ( ! is_array( $state ) || empty( $state['status'] ) ) {
			return array(
				'status'  => 'idle',
				'since'   => null,
				'sources' => array(),
			);
		}
		return $state;
	}

	/**
	 * A fresh import's state (not saved).
	 *
	 * @param int|null    $since Unix seconds: leave out what happened before; null for everything.
	 * @param string|null $only  One source's slug, or null for every active source.
	 * @return array|WP_Error
	 */
	public static function plan( $since = null, $only = null ) {
		$sources = self::sources();
		if ( null !== $only ) {
			if ( ! isset( $sources[ $only ] ) ) {
				/* translators: %s: a source name such as memberpress. */
				return new WP_Error( 'farewell_import_source', sprintf( __( 'No active membership plugin called "%s" to import from.', 'farewell-bridge' ), $only ) );
			}
			$sources = array( $only => $sources[ $only ] );
		}
		if ( empty( $sources ) ) {
			return new WP_Error( 'farewell_import_source', __( 'No active membership plugin to import from.', 'farewell-bridge' ) );
		}
		$state = array(
			'status'      => 'running',
			'since'       => null === $since ? null : (int) $since,
			'started_at'  => time(),
			'finished_at' => null,
			'sources'     => array(),
		);
		foreach ( $sources as $slug => $reader ) {
			$summary                  = $reader->summary( $state['since'] );
			$state['sources'][ $slug ] = array(
				'cursor'        => null,
				'done'          => false,
				'subscriptions' => (int) $summary['subscriptions'],
				'cancelled'     => (int) $summary['cancelled'],
				'read'          => 0,
				'queued'        => 0,
				'known'         => 0,
			);
		}
		return $state;
	}

	/**
	 * Starts an import (the admin page's Start button, `wp farewell import`): saves its plan and
	 * schedules the first cron step. A running import is resumed, not restarted.
	 *
	 * @param int|null    $since Unix seconds or null.
	 * @param string|null $only  One source's slug, or null.
	 * @return array|WP_Error The state.
	 */
	public static function start( $since = null, $only = null ) {
		$state = self::state();
		if ( 'running' !== $state['status'] ) {
			$state = self::plan( $since, $only );
			if ( is_wp_error( $state ) ) {
				return $state;
			}
			update_option( self::STATE_OPTION, $state, false );
		}
		self::schedule( 0 );
		return $state;
	}

	/**
	 * Schedules the next cron step, unless one is.
	 *
	 * @param int $delay Seconds from now.
	 */
	private static function schedule( $delay ) {
		if ( ! wp_next_scheduled( self::CRON_HOOK ) ) {
			wp_schedule_single_event( time() + max( 0, (int) $delay ), self::CRON_HOOK );
		}
	}

	/**
	 * When a step stops reading: STEP_SECONDS from now, or half of max_execution_time from the
	 * request's start when that comes first.
	 *
	 * @return float microtime(true).
	 */
	public static function deadline() {
		$now      = microtime( true );
		$deadline = $now + self::STEP_SECONDS;
		$limit    = (int) ini_get( 'max_execution_time' );
		if ( $limit > 0 ) {
			$started  = isset( $_SERVER['REQUEST_TIME_FLOAT'] ) ? min( $now, (float) $_SERVER['REQUEST_TIME_FLOAT'] ) : $now;
			$deadline = min( $deadline, $started + max( 1.0, $limit / 2 ) );
		}
		/**
		 * Filters when an import step stops reading.
		 *
		 * @param float $deadline A microtime(true) value.
		 */
		return (float) apply_filters( 'farewell_bridge_import_deadline', $deadline );
	}

	/**
	 * The event as the outbox keeps it: the reader's JSON with `"imported":true` added last (the
	 * same bytes as the live event otherwise).
	 *
	 * @param string $payload A JSON object.
	 * @return string
	 */
	public static function mark( $payload ) {
		$payload = rtrim( (string) $payload );
		return substr( $payload, 0, -1 ) . ( '{}' === $payload ? '' : ',' ) . '"imported":true}';
	}

	/**
	 * One step of an import: reads and queues until the deadline, memory gets tight, the imported
	 * backlog is full or every source is done; the state is saved after every batch (unless $dry).
	 *
	 * @param array|null $state    A state to advance (a dry run's), or null for the saved one.
	 * @param array      $options  deadline (microtime), dry (count only, write nothing),
	 *                             ignore_backlog (the command line delivers the backlog itself),
	 *                             queue_limit (stop after the batch that brings the rows this step
	 *                             added to this many: the command line sends a full batch to the
	 *                             sidecar as soon as it is queued, which applies it while the
	 *                             next is read, instead of waiting for a whole step's rows).
	 * @return array The state after the step; 'waiting' => true when the backlog stopped it.
	 */
	public static function step( $state = null, array $options = array() ) {
		$dry      = ! empty( $options['dry'] );
		$deadline = isset( $options['deadline'] ) ? (float) $options['deadline'] : self::deadline();
		$state    = null === $state ? self::state() : $state;
		if ( 'running' !== $state['status'] ) {
			return $state;
		}
		if ( ! $dry && ! self::lock() ) {
			$state['waiting'] = true; // Another step (cron, the page's poll) is running.
			return $state;
		}
		try {
			if ( ! $dry ) {
				$state = self::state(); // As the step before this one left it.
			}
			if ( 'running' === $state['status'] ) {
				$limit = isset( $options['queue_limit'] ) ? max( 1, (int) $options['queue_limit'] ) : PHP_INT_MAX;
				$state = self::advance( $state, $dry, $deadline, ! empty( $options['ignore_backlog'] ), $limit );
			}
		} finally {
			if ( ! $dry ) {
				self::unlock();
			}
		}
		return $state;
	}

	/**
	 * Takes the import's lock without waiting (a MySQL named lock, released with the connection
	 * if the process dies): one step at a time site-wide.
	 *
	 * @return bool
	 */
	private static function lock() {
		global $wpdb;
		return '1' === (string) $wpdb->get_var( $wpdb->prepare( 'SELECT GET_LOCK(%s, 0)', $wpdb->prefix . 'farewell_import' ) );
	}

	/**
	 * Releases the import's lock.
	 */
	private static function unlock() {
		global $wpdb;
		$wpdb->query( $wpdb->prepare( 'SELECT RELEASE_LOCK(%s)', $wpdb->prefix . 'farewell_import' ) );
	}

	/**
	 * The body of step(), under the lock.
	 *
	 * @param array $state          State.
	 * @param bool  $dry            Count only.
	 * @param float $deadline       microtime(true) after which no batch starts.
	 * @param bool  $ignore_backlog Whether to add rows whatever waits in the outbox.
	 * @param int   $queue_limit    Rows added after which the step ends (see step()).
	 * @return array
	 */
	private static function advance( array $state, $dry, $deadline, $ignore_backlog, $queue_limit = PHP_INT_MAX ) {
		$waiting = false;
		$queued  = 0; // Rows this step added.
		$readers = self::sources();
		foreach ( $state['sources'] as $slug => $progress ) {
			if ( $progress['done'] ) {
				continue;
			}
			if ( ! isset( $readers[ $slug ] ) ) {
				// Its plugin was deactivated meanwhile: nothing more can be read from it.
				$state['sources'][ $slug ]['done'] = true;
				continue;
			}
			while ( ! $state['sources'][ $slug ]['done'] ) {
				if ( microtime( true ) >= $deadline || Farewell_Bridge_Dispatcher::memory_tight() || $queued >= $queue_limit ) {
					break 2;
				}
				if ( ! $dry && ! $ignore_backlog && self::backlog() >= self::backlog_cap() ) {
					$waiting = true;
					break 2;
				}
				Farewell_Bridge_Import_Profile::start( 'read' );
				$batch = $readers[ $slug ]->events( $state['sources'][ $slug ]['cursor'], self::BATCH, $state['since'] );
				Farewell_Bridge_Import_Profile::stop( 'read' );
				Farewell_Bridge_Import_Profile::start( 'outbox_insert' );
				if ( $dry ) {
					$state['sources'][ $slug ]['queued'] += count( $batch['events'] );
				} else {
					$rows = array();
					foreach ( $batch['events'] as $event ) {
						$event['payload'] = self::mark( $event['payload'] );
						$rows[]           = $event;
					}
					// One INSERT for the batch's rows (one per row was a quarter of a step's
					// time): all stored, or none and the cursor stays before this batch.
					$added = Farewell_Bridge_Outbox::insert_many( $rows, true );
					$rows  = null;
					if ( false === $added ) {
						$state['error'] = __( 'The outbox table refused a row; the import will try again.', 'farewell-bridge' );
						break 2;
					}
					$state['sources'][ $slug ]['queued'] += $added['added'];
					$state['sources'][ $slug ]['known']  += $added['known'];
					$queued                              += $added['added'];
				}
				Farewell_Bridge_Import_Profile::stop( 'outbox_insert' );
				unset( $state['error'] );
				Farewell_Bridge_Import_Profile::start( 'state_save' );
				// WordPress caches every user and post it reads for the rest of the process: read
				// 100,000 members in one `wp farewell import` and that is hundreds of MB.
				if ( function_exists( 'wp_cache_flush_runtime' ) && wp_cache_supports( 'flush_runtime' ) ) {
					wp_cache_flush_runtime();
				}
				$cursor                              = $batch['cursor'];
				$state['sources'][ $slug ]['cursor'] = $cursor;
				$state['sources'][ $slug ]['done']   = null === $cursor;
				$state['sources'][ $slug ]['read']   = null === $cursor ? $state['sources'][ $slug ]['subscriptions'] : min( $state['sources'][ $slug ]['subscriptions'], $state['sources'][ $slug ]['read'] + self::BATCH );
				if ( ! $dry ) {
					update_option( self::STATE_OPTION, $state, false );
				}
				Farewell_Bridge_Import_Profile::stop( 'state_save' );
			}
		}
		$done = true;
		foreach ( $state['sources'] as $progress ) {
			$done = $done && $progress['done'];
		}
		if ( $done ) {
			$state['status']      = 'done';
			$state['finished_at'] = time();
		}
		if ( ! $dry ) {
			update_option( self::STATE_OPTION, $state, false );
		}
		$state['waiting'] = $waiting;
		return $state;
	}

	/**
	 * Imported rows waiting in the outbox.
	 *
	 * @return int
	 */
	public static function backlog() {
		$counts = Farewell_Bridge_Outbox::imported_counts();
		return $counts[ Farewell_Bridge_Outbox::STATUS_PENDING ];
	}

	/**
	 * How many imported rows may wait before a step adds more.
	 *
	 * @return int
	 */
	public static function backlog_cap() {
		/**
		 * Filters how many imported rows may wait in the outbox before the import adds more.
		 *
		 * @param int $cap Rows.
		 */
		return max( 1, (int) apply_filters( 'farewell_bridge_import_backlog', self::BACKLOG ) );
	}

	/**
	 * Cron: one step, then the next one while the import runs (sooner when it was not waiting
	 * for the outbox to drain).
	 */
	public static function action_farewell_bridge_import_step() {
		try {
			$state = self::step();
			if ( 'running' === $state['status'] ) {
				self::schedule( ! empty( $state['waiting'] ) ? self::CRON_INTERVAL : 5 );
			}
		} catch ( Throwable $e ) {
			Farewell_Bridge_Dispatcher::log( $e );
			self::schedule( self::CRON_INTERVAL );
		}
	}

	/**
	 * The progress the admin page shows: status, per source, and the totals of events queued,
	 * sent and waiting (sent: the imported rows the sidecar took; delivered rows are purged after
	 * a week, so a week-old import's "sent" counts only what is left).
	 *
	 * @return array
	 */
	public static function progress() {
		$state  = self::state();
		$counts = Farewell_Bridge_Outbox::imported_counts();
		$totals = array(
			'subscriptions' => 0,
			'read'          => 0,
			'queued'        => 0,
			'known'         => 0,
		);
		foreach ( $state['sources'] as $progress ) {
			foreach ( array_keys( $totals ) as $key ) {
				$totals[ $key ] += isset( $progress[ $key ] ) ? (int) $progress[ $key ] : 0;
			}
		}
		return array(
			'status'  => $state['status'],
			'since'   => $state['since'],
			'sources' => $state['sources'],
			'totals'  => $totals,
			'sent'    => $counts[ Farewell_Bridge_Outbox::STATUS_DELIVERED ],
			'waiting' => $counts[ Farewell_Bridge_Outbox::STATUS_PENDING ],
			'failed'  => $counts[ Farewell_Bridge_Outbox::STATUS_DEAD ],
			'error'   => isset( $state['error'] ) ? (string) $state['error'] : '',
		);
	}

	/**
	 * admin-ajax: the page's poll runs one short step (the import advances while the page is
	 * open, and through cron when it is not), then answers the progress.
	 */
	public static function action_wp_ajax_farewell_bridge_import_step() {
		check_ajax_referer( self::AJAX_ACTION );
		if ( ! current_user_can( 'manage_options' ) ) {
			wp_die( -1, 403 ); // As check_ajax_referer() answers a bad nonce.
		}
		$state = self::state();
		if ( 'running' === $state['status'] ) {
			$state = self::step( null, array( 'deadline' => min( self::deadline(), microtime( true ) + 5 ) ) );
		}
		if ( 'running' === $state['status'] ) {
			// Cron goes on once the page is closed (its event was lost if the plugin was
			// deactivated and activated again mid-way).
			self::schedule( self::CRON_INTERVAL );
		}
		wp_send_json_success( self::progress() );
	}
}
