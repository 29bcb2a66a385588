<?php
/**
 * `wp farewell`: the bridge from the command line, for hosts and scripts that have no browser.
 *
 * The same operations as Settings → Farewell (test connection, retry, deliver now) plus a status
 * report. Registered in Farewell_Bridge_Plugin only when WP-CLI runs. Exit codes follow WP-CLI:
 * WP_CLI::error() exits 1, anything else 0. The secret is never printed, only where it comes from.
 *
 * @package Farewell_Bridge
 */

if ( ! defined( 'ABSPATH' ) ) {
	exit;
}

/**
 * Checks and operates the Farewell Bridge: its connection to the sidecar and its outbox.
 */
class Farewell_Bridge_Cli {

	/** Timeout of the signed ping of `status` and `test`, as on the settings page. */
	const PING_TIMEOUT = 5.0;

	/**
	 * Shows whether the bridge is configured and where from, the sidecar's answer to a signed ping, the outbox counts, the oldest waiting event and the last error. Never the secret.
	 *
	 * ## OPTIONS
	 *
	 * [--format=<format>]
	 * : Output format.
	 * ---
	 * default: table
	 * options:
	 *   - table
	 *   - json
	 * ---
	 *
	 * ## EXAMPLES
	 *
	 *     wp farewell status
	 *     wp farewell status --format=json
	 *
	 * @param array $args       Positional arguments.
	 * @param array $assoc_args Options.
	 */
	public function status( $args, $assoc_args ) {
		$report = self::report();
		if ( 'json' === \WP_CLI\Utils\get_flag_value( $assoc_args, 'format', 'table' ) ) {
			WP_CLI::line( (string) wp_json_encode( $report, JSON_PRETTY_PRINT | JSON_UNESCAPED_SLASHES | JSON_UNESCAPED_UNICODE ) );
			return;
		}
		$none  = __( '(none)', 'farewell-bridge' );
		$rows  = array();
		$add   = static function ( $field, $value ) use ( &$rows ) {
			$rows[] = array(
				'field' => $field,
				'value' => $value,
			);
		};
		$where = array(
			'constant' => __( 'constant in wp-config.php', 'farewell-bridge' ),
			'option'   => __( 'settings page', 'farewell-bridge' ),
			'none'     => __( 'not set', 'farewell-bridge' ),
		);
		$add( __( 'Configured', 'farewell-bridge' ), $report['configured'] ? __( 'yes', 'farewell-bridge' ) : __( 'no', 'farewell-bridge' ) );
		$add( __( 'Sidecar URL', 'farewell-bridge' ), ( '' !== $report['sidecar_url'] ? $report['sidecar_url'] : $none ) . ' — ' . $where[ $report['sources']['sidecar_url'] ] );
		$add( __( 'Site id', 'farewell-bridge' ), ( '' !== $report['site_id'] ? $report['site_id'] : $none ) . ' — ' . $where[ $report['sources']['site_id'] ] );
		$add( __( 'Secret', 'farewell-bridge' ), $where[ $report['sources']['secret'] ] . ( '' !== $report['secret_error'] ? ' — ' . $report['secret_error'] : '' ) );
		$add( __( 'Sidecar', 'farewell-bridge' ), $report['ping']['message'] );
		foreach ( $report['outbox'] as $status => $count ) {
			/* translators: %s: an outbox status (pending, delivered, dead). */
			$add( sprintf( __( 'Outbox: %s', 'farewell-bridge' ), $status ), (string) $count );
		}
		$oldest = $report['oldest_pending'];
		/* translators: 1: row id, 2: creation time (UTC), 3: number of attempts. */
		$add( __( 'Oldest waiting event', 'farewell-bridge' ), null === $oldest ? $none : sprintf( __( '#%1$d, created %2$s UTC, %3$d attempt(s)', 'farewell-bridge' ), $oldest['id'], $oldest['created_at'], $oldest['attempts'] ) );
		$error = $report['last_error'];
		/* translators: 1: row id, 2: time (UTC), 3: error message. */
		$add( __( 'Last error', 'farewell-bridge' ), null === $error ? $none : sprintf( __( '#%1$d at %2$s UTC: %3$s', 'farewell-bridge' ), $error['id'], $error['updated_at'], $error['message'] ) );
		if ( null !== $report['paused'] ) {
			$add( __( 'Delivery paused', 'farewell-bridge' ), $report['paused'] );
		}
		if ( '' !== $report['loopback_problem'] ) {
			$add( __( 'Loopback requests', 'farewell-bridge' ), $report['loopback_problem'] );
		}
		\WP_CLI\Utils\format_items( 'table', $rows, array( 'field', 'value' ) );
	}

	/**
	 * Sends a signed ping to the sidecar, like the settings page's "Test connection".
	 *
	 * ## EXAMPLES
	 *
	 *     wp farewell test
	 *
	 * @param array $args       Positional arguments.
	 * @param array $assoc_args Options.
	 */
	public function test( $args, $assoc_args ) {
		self::require_configured();
		$result = Farewell_Bridge_Client::from_settings()->ping( self::PING_TIMEOUT );
		Farewell_Bridge_Clock::note( $result );
		if ( Farewell_Bridge_Client::DELIVERED !== $result['kind'] ) {
			WP_CLI::error( $result['message'] );
		}
		Farewell_Bridge_Site_Info::report();
		WP_CLI::success( self::connected_message( $result ) );
	}

	/**
	 * Delivers every waiting event now, oldest first, with a progress bar. Stops at the first temporary failure (the sidecar is down or slow) and says why; the rest waits for cron.
	 *
	 * ## EXAMPLES
	 *
	 *     wp farewell deliver
	 *
	 * @param array $args       Positional arguments.
	 * @param array $assoc_args Options.
	 */
	public function deliver( $args, $assoc_args ) {
		self::require_configured();
		$paused = Farewell_Bridge_Outbox::paused();
		if ( null !== $paused ) {
			/* translators: %s: why delivery is paused. */
			WP_CLI::error( sprintf( __( 'Delivery is paused: %s Resume it on Settings → Farewell.', 'farewell-bridge' ), $paused['reason'] ) );
		}
		Farewell_Bridge_Outbox::make_pending_due();
		$counts = Farewell_Bridge_Outbox::counts();
		$total  = $counts[ Farewell_Bridge_Outbox::STATUS_PENDING ];
		if ( 0 === $total ) {
			WP_CLI::success( __( 'Nothing to deliver: the outbox holds no waiting event.', 'farewell-bridge' ) );
			return;
		}
		$done     = array(
			Farewell_Bridge_Outbox::STATUS_DELIVERED => 0,
			Farewell_Bridge_Outbox::STATUS_PENDING   => 0,
			Farewell_Bridge_Outbox::STATUS_DEAD      => 0,
		);
		$progress = \WP_CLI\Utils\make_progress_bar( __( 'Delivering to the sidecar', 'farewell-bridge' ), $total );
		$failure  = '';
		$seen     = array();
		while ( '' === $failure ) {
			$ids = array_diff( Farewell_Bridge_Outbox::due_ids( Farewell_Bridge_Dispatcher::CRON_BATCH ), $seen );
			if ( empty( $ids ) ) {
				break;
			}
			foreach ( $ids as $id ) {
				$seen[] = $id;
				// One row at a time: the reason of a temporary failure is that row's error.
				$result = Farewell_Bridge_Dispatcher::deliver_ids( array( $id ), Farewell_Bridge_Dispatcher::CRON_TIMEOUT );
				foreach ( array_keys( $done ) as $status ) {
					$done[ $status ] += $result[ $status ];
				}
				$progress->tick();
				if ( $result['halted'] ) {
					$row     = Farewell_Bridge_Outbox::get( $id );
					$failure = null !== $row && '' !== (string) $row['last_error'] ? (string) $row['last_error'] : __( 'The sidecar did not accept the event.', 'farewell-bridge' );
					break;
				}
			}
		}
		$progress->finish();
		/* translators: 1: delivered events, 2: events still pending, 3: dead events. */
		$summary = sprintf( __( 'Delivered: %1$d. Still pending: %2$d. Dead: %3$d.', 'farewell-bridge' ), $done['delivered'], $done['pending'], $done['dead'] );
		if ( '' !== $failure ) {
			/* translators: 1: the reason, 2: the counts so far. */
			WP_CLI::error( sprintf( __( 'Stopped at a temporary failure: %1$s The rest waits for cron. %2$s', 'farewell-bridge' ), $failure, $summary ) );
		}
		if ( $done['dead'] > 0 ) {
			WP_CLI::warning( __( 'Some events were refused by the sidecar for good: see "wp farewell status" for the last error, then "wp farewell retry".', 'farewell-bridge' ) );
		}
		WP_CLI::success( $summary );
	}

	/**
	 * Imports the membership plugins' history (subscriptions started, cancelled, expired, resumed) into the sidecar, oldest first, with a progress bar: the same bounded steps as Farewell → Import history, run here to the end, each followed by sending what it queued. Imported events plan no email. Resumes an interrupted import; importing again adds nothing.
	 *
	 * ## OPTIONS
	 *
	 * [--since=<date>]
	 * : Leave out what happened before this day (YYYY-MM-DD, UTC).
	 *
	 * [--source=<source>]
	 * : Only this membership plugin (memberpress, paidmembershipspro, restrict-content, woocommerce-subscriptions).
	 *
	 * [--dry-run]
	 * : Count what would be imported; write and send nothing.
	 *
	 * ## EXAMPLES
	 *
	 *     wp farewell import
	 *     wp farewell import --since=2024-01-01 --source=memberpress --dry-run
	 *
	 * @param array $args       Positional arguments.
	 * @param array $assoc_args Options.
	 */
	public function import( $args, $assoc_args ) {
		if ( isset( $_SERVER['REQUEST_TIME_FLOAT'] ) ) {
			Farewell_Bridge_Import_Profile::add( 'boot', microtime( true ) - (float) $_SERVER['REQUEST_TIME_FLOAT'] );
		}
		$since = null;
		$text  = (string) \WP_CLI\Utils\get_flag_value( $assoc_args, 'since', '' );
		if ( '' !== $text ) {
			$date = DateTimeImmutable::createFromFormat( '!Y-m-d', $text, new DateTimeZone( 'UTC' ) );
			if ( false === $date || $date->format( 'Y-m-d' ) !== $text ) {
				/* translators: %s: what was typed. */
				WP_CLI::error( sprintf( __( '--since must be a day such as 2024-01-01, not "%s".', 'farewell-bridge' ), $text ) );
			}
			$since = $date->getTimestamp();
		}
		$only = \WP_CLI\Utils\get_flag_value( $assoc_args, 'source', null );
		$only = null === $only ? null : (string) $only;
		$dry  = (bool) \WP_CLI\Utils\get_flag_value( $assoc_args, 'dry-run', false );
		if ( $dry ) {
			self::import_dry_run( $since, $only );
			self::log_profile();
			return;
		}
		self::require_configured();
		$paused = Farewell_Bridge_Outbox::paused();
		if ( null !== $paused ) {
			/* translators: %s: why delivery is paused. */
			WP_CLI::error( sprintf( __( 'Delivery is paused: %s Resume it on Settings → Farewell.', 'farewell-bridge' ), $paused['reason'] ) );
		}
		$before = Farewell_Bridge_Importer::state();
		$state  = Farewell_Bridge_Importer::start( $since, $only );
		if ( is_wp_error( $state ) ) {
			WP_CLI::error( $state->get_error_message() );
		}
		if ( 'running' === $before['status'] ) {
			WP_CLI::log( __( 'Resuming the import that was started before (with its own --since and --source).', 'farewell-bridge' ) );
		}
		$total = 0;
		$read  = 0;
		foreach ( $state['sources'] as $progress ) {
			$total += (int) $progress['subscriptions'];
			$read  += (int) $progress['read'];
		}
		$bar     = \WP_CLI\Utils\make_progress_bar( __( 'Importing history', 'farewell-bridge' ), max( 1, $total ) );
		$sent    = 0;
		$failure = '';
		$bar->tick( $read ); // A resumed import: what was read before.
		$idle = 0;
		$last = null; // Where the readers stood after the previous step.
		while ( 'running' === $state['status'] && '' === $failure ) {
			Farewell_Bridge_Import_Profile::start( 'step' );
			$state = Farewell_Bridge_Importer::step(
				null,
				array(
					'deadline'       => microtime( true ) + Farewell_Bridge_Importer::STEP_SECONDS,
					'ignore_backlog' => true, // Sent right below, before the next step.
					// A full batch is sent as soon as it is queued: the sidecar applies it while
					// the next one is read (a whole step's rows at once left it idle meanwhile).
					'queue_limit'    => Farewell_Bridge_Dispatcher::drain_size(),
				)
			);
			Farewell_Bridge_Import_Profile::stop( 'step' );
			if ( ! empty( $state['error'] ) ) {
				$failure = (string) $state['error'];
				break;
			}
			$now = 0;
			foreach ( $state['sources'] as $progress ) {
				$now += (int) $progress['read'];
			}
			$bar->tick( max( 0, $now - $read ) );
			// A step that read nothing: another one holds the lock (cron, the admin page), or
			// memory is short. Wait for the other; give up after a minute of nothing.
			$where = wp_json_encode( wp_list_pluck( $state['sources'], 'cursor' ) );
			$idle  = $where === $last && 'running' === $state['status'] ? $idle + 1 : 0;
			$last  = $where;
			if ( $idle >= 60 ) {
				$failure = __( 'The import made no progress for a minute (another import step running, or PHP short of memory).', 'farewell-bridge' );
				break;
			}
			if ( $idle > 0 ) {
				sleep( 1 );
			}
			$read     = $now;
			Farewell_Bridge_Import_Profile::start( 'deliver' );
			// While reading goes on, full batches only: the rest rides with the next step's rows.
			$delivery = self::deliver_backlog( 'running' !== $state['status'] );
			Farewell_Bridge_Import_Profile::stop( 'deliver' );
			$sent    += $delivery['delivered'];
			$failure  = $delivery['failure'];
		}
		$bar->finish();
		self::log_profile();
		$totals = Farewell_Bridge_Importer::progress()['totals'];
		/* translators: 1: events added to the outbox, 2: events already known, 3: events sent now. */
		$summary = sprintf( __( 'Events queued: %1$d (already known: %2$d). Sent now: %3$d.', 'farewell-bridge' ), $totals['queued'], $totals['known'], $sent );
		if ( '' !== $failure ) {
			/* translators: 1: the reason, 2: the counts so far. */
			WP_CLI::error( sprintf( __( 'Stopped: %1$s Run the command again to go on; cron sends what is queued. %2$s', 'farewell-bridge' ), $failure, $summary ) );
		}
		WP_CLI::success( $summary );
	}

	/**
	 * With FAREWELL_IMPORT_PROFILE set: one line of where the command's time went (per phase, as
	 * JSON, for bench/import.py), with the whole process's time so far.
	 */
	private static function log_profile() {
		if ( ! Farewell_Bridge_Import_Profile::on() ) {
			return;
		}
		if ( isset( $_SERVER['REQUEST_TIME_FLOAT'] ) ) {
			Farewell_Bridge_Import_Profile::add( 'total', microtime( true ) - (float) $_SERVER['REQUEST_TIME_FLOAT'] );
		}
		WP_CLI::log( 'FAREWELL_IMPORT_PROFILE ' . wp_json_encode( Farewell_Bridge_Import_Profile::report() ) );
	}

	/**
	 * `wp farewell import --dry-run`: reads everything, counts, writes nothing.
	 *
	 * @param int|null    $since Unix seconds or null.
	 * @param string|null $only  A source's slug or null.
	 */
	private static function import_dry_run( $since, $only ) {
		$state = Farewell_Bridge_Importer::plan( $since, $only );
		if ( is_wp_error( $state ) ) {
			WP_CLI::error( $state->get_error_message() );
		}
		while ( 'running' === $state['status'] ) {
			$before = wp_json_encode( wp_list_pluck( $state['sources'], 'cursor' ) );
			$state  = Farewell_Bridge_Importer::step(
				$state,
				array(
					'dry'      => true,
					'deadline' => microtime( true ) + Farewell_Bridge_Importer::STEP_SECONDS,
				)
			);
			if ( 'running' === $state['status'] && wp_json_encode( wp_list_pluck( $state['sources'], 'cursor' ) ) === $before ) {
				WP_CLI::error( __( 'The dry run could not go on: PHP is short of memory.', 'farewell-bridge' ) );
			}
		}
		$rows = array();
		foreach ( $state['sources'] as $slug => $progress ) {
			$rows[] = array(
				'source'        => $slug,
				'subscriptions' => $progress['subscriptions'],
				'cancelled'     => $progress['cancelled'],
				'events'        => $progress['queued'],
			);
		}
		\WP_CLI\Utils\format_items( 'table', $rows, array( 'source', 'subscriptions', 'cancelled', 'events' ) );
		WP_CLI::success( __( 'Dry run: nothing was written or sent.', 'farewell-bridge' ) );
	}

	/**
	 * Sends every due row of the outbox (live ones first), as cron would, until none is left or a
	 * temporary failure stops it.
	 *
	 * @param bool $all Whether to send the last, partial batch too (else it waits for more rows).
	 * @return array delivered (int), failure (string, empty when none).
	 */
	private static function deliver_backlog( $all = true ) {
		$delivered = 0;
		while ( true ) {
			// A full batch per request where the sidecar takes batches (deliver_ids() splits it).
			Farewell_Bridge_Import_Profile::start( 'due_ids' );
			$size = Farewell_Bridge_Dispatcher::drain_size();
			$ids  = Farewell_Bridge_Outbox::due_ids( $size );
			Farewell_Bridge_Import_Profile::stop( 'due_ids' );
			if ( empty( $ids ) || ( ! $all && count( $ids ) < $size ) ) {
				break;
			}
			$done       = Farewell_Bridge_Dispatcher::deliver_ids( $ids, Farewell_Bridge_Dispatcher::CRON_TIMEOUT );
			$delivered += $done['delivered'];
			if ( $done['halted'] ) {
				$error = Farewell_Bridge_Outbox::last_error();
				return array(
					'delivered' => $delivered,
					'failure'   => null !== $error ? (string) $error['last_error'] : __( 'The sidecar did not accept the event.', 'farewell-bridge' ),
				);
			}
			if ( 0 === $done['delivered'] + $done['pending'] + $done['dead'] ) {
				break; // Everything due was claimed by another worker.
			}
		}
		return array(
			'delivered' => $delivered,
			'failure'   => '',
		);
	}

	/**
	 * Moves dead events back to the waiting queue, due now.
	 *
	 * ## OPTIONS
	 *
	 * [<id>...]
	 * : Ids of the dead events to retry (see the outbox on Settings → Farewell).
	 *
	 * [--all]
	 * : Retry every dead event.
	 *
	 * ## EXAMPLES
	 *
	 *     wp farewell retry 12 13
	 *     wp farewell retry --all
	 *
	 * @param array $args       Positional arguments.
	 * @param array $assoc_args Options.
	 */
	public function retry( $args, $assoc_args ) {
		$all = (bool) \WP_CLI\Utils\get_flag_value( $assoc_args, 'all', false );
		if ( $all === ! empty( $args ) ) {
			WP_CLI::error( __( 'Give the ids of dead events, or --all (not both).', 'farewell-bridge' ) );
		}
		if ( $all ) {
			$moved = Farewell_Bridge_Outbox::retry_dead( null );
		} else {
			$moved = 0;
			$wrong = array();
			foreach ( $args as $arg ) {
				$id = ctype_digit( (string) $arg ) ? (int) $arg : 0;
				if ( $id > 0 && 1 === Farewell_Bridge_Outbox::retry_dead( $id ) ) {
					++$moved;
				} else {
					$wrong[] = (string) $arg;
				}
			}
			if ( ! empty( $wrong ) ) {
				/* translators: %s: comma-separated ids. */
				$message = sprintf( __( 'Not a dead event: %s.', 'farewell-bridge' ), implode( ', ', array_map( 'sanitize_text_field', $wrong ) ) );
				if ( 0 === $moved ) {
					WP_CLI::error( $message );
				}
				WP_CLI::warning( $message );
			}
		}
		/* translators: %d: number of events. */
		WP_CLI::success( sprintf( _n( '%d event queued again.', '%d events queued again.', $moved, 'farewell-bridge' ), $moved ) . ' ' . __( 'Cron sends them within a minute, or run "wp farewell deliver" now.', 'farewell-bridge' ) );
	}

	/**
	 * Everything `status` shows, as plain data (also its JSON).
	 *
	 * @return array
	 */
	public static function report() {
		$source = static function ( $field, $value ) {
			if ( Farewell_Bridge_Settings::is_locked( $field ) ) {
				return 'constant';
			}
			return '' !== $value ? 'option' : 'none';
		};
		$oldest = Farewell_Bridge_Outbox::oldest_pending();
		$error  = Farewell_Bridge_Outbox::last_error();
		$paused = Farewell_Bridge_Outbox::paused();
		return array(
			'configured'       => Farewell_Bridge_Settings::is_configured(),
			'sidecar_url'      => Farewell_Bridge_Settings::sidecar_url(),
			'site_id'          => Farewell_Bridge_Settings::site_id(),
			'sources'          => array(
				'sidecar_url' => $source( 'sidecar_url', Farewell_Bridge_Settings::sidecar_url() ),
				'site_id'     => $source( 'site_id', Farewell_Bridge_Settings::site_id() ),
				'secret'      => $source( 'secret', Farewell_Bridge_Settings::secret() ),
			),
			'secret_error'     => Farewell_Bridge_Settings::secret_error(),
			'ping'             => self::ping(),
			'outbox'           => Farewell_Bridge_Outbox::counts(),
			'oldest_pending'   => null === $oldest ? null : array(
				'id'              => (int) $oldest['id'],
				'event_type'      => (string) $oldest['event_type'],
				'created_at'      => (string) $oldest['created_at'],
				'next_attempt_at' => (string) $oldest['next_attempt_at'],
				'attempts'        => (int) $oldest['attempts'],
			),
			'last_error'       => null === $error ? null : array(
				'id'         => (int) $error['id'],
				'status'     => null === $error['last_status'] ? null : (int) $error['last_status'],
				'message'    => (string) $error['last_error'],
				'updated_at' => (string) $error['updated_at'],
			),
			'paused'           => null === $paused ? null : (string) $paused['reason'],
			'loopback_problem' => Farewell_Bridge_Dispatcher::loopback_problem(),
		);
	}

	/**
	 * The sidecar's answer to a signed ping: ok, kind, HTTP status and a sentence.
	 *
	 * @return array
	 */
	private static function ping() {
		if ( ! Farewell_Bridge_Settings::is_configured() ) {
			return array(
				'ok'      => false,
				'kind'    => 'not_configured',
				'status'  => 0,
				'message' => '' !== Farewell_Bridge_Settings::secret_error() ? Farewell_Bridge_Settings::secret_error() : __( 'Not configured: set the sidecar URL, site id and secret first.', 'farewell-bridge' ),
			);
		}
		$result = Farewell_Bridge_Client::from_settings()->ping( self::PING_TIMEOUT );
		Farewell_Bridge_Clock::note( $result );
		$ok = Farewell_Bridge_Client::DELIVERED === $result['kind'];
		return array(
			'ok'      => $ok,
			'kind'    => (string) $result['kind'],
			'status'  => (int) $result['status'],
			'message' => $ok ? self::connected_message( $result ) : (string) $result['message'],
		);
	}

	/**
	 * The settings page's sentence for a successful ping.
	 *
	 * @param array $result A Farewell_Bridge_Client result.
	 * @return string
	 */
	private static function connected_message( array $result ) {
		$name = is_array( $result['body'] ) && isset( $result['body']['site_name'] ) ? (string) $result['body']['site_name'] : '';
		/* translators: %s: the site's name on the sidecar. */
		return '' !== $name ? sprintf( __( 'Connected: the sidecar knows this site as "%s".', 'farewell-bridge' ), $name ) : __( 'Connected: the sidecar accepted the signature.', 'farewell-bridge' );
	}

	/**
	 * Exits with an error (1) unless the bridge can sign its requests.
	 */
	private static function require_configured() {
		if ( '' !== Farewell_Bridge_Settings::secret_error() ) {
			WP_CLI::error( Farewell_Bridge_Settings::secret_error() );
		}
		if ( ! Farewell_Bridge_Settings::is_configured() ) {
			WP_CLI::error( __( 'Fill in the sidecar URL, site id and secret first.', 'farewell-bridge' ) );
		}
	}
}
