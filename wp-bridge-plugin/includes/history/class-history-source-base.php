<?php
/**
 * What the history readers (includes/history/class-history-<slug>.php) share: their slug, the
 * check that a membership plugin's table exists, when the bridge began listening to the source,
 * the order of a call's occurrences, one occurrence built as the live source builds it, and the
 * answer of a call with its cursor. What a plugin's past means stays in each reader.
 *
 * Named Farewell_Bridge_History_Source_Base (class-history-source-base.php), not after the
 * interface: Farewell_Bridge_History_Source stays the contract the importer checks, which a reader
 * may fulfil without this class (ImporterTest's stand-in does).
 *
 * @package Farewell_Bridge
 */

if ( ! defined( 'ABSPATH' ) ) {
	exit;
}

/**
 * A history reader's common parts.
 */
abstract class Farewell_Bridge_History_Source_Base implements Farewell_Bridge_History_Source {

	/** The live source's slug: each reader sets its own. */
	const SLUG = '';

	/**
	 * {@inheritDoc}
	 */
	public function slug() {
		return static::SLUG;
	}

	/**
	 * Whether this table exists. A plugin's classes can be loaded while its tables are not there
	 * yet (some create them on the first admin page load) or any more: no history then, and no
	 * query on a missing table.
	 *
	 * @param string $table Full table name.
	 * @return bool
	 */
	protected static function table_exists( $table ) {
		global $wpdb;
		return $table === $wpdb->get_var( $wpdb->prepare( 'SHOW TABLES LIKE %s', $wpdb->esc_like( $table ) ) ); // phpcs:ignore WordPress.DB.DirectDatabaseQuery
	}

	/**
	 * A plugin's rows after the cursor (the last id read; none to start), by id, at most $limit:
	 * a call reads a bounded slice of the table, never all of it, and resumes where it stopped.
	 *
	 * @param string          $table   Full table name (the plugin's own).
	 * @param string          $columns Columns to read (constants of the reader), with id.
	 * @param string|int|null $cursor  The previous call's cursor.
	 * @param int             $limit   At most this many rows.
	 * @return object[]
	 */
	protected static function rows_after( $table, $columns, $cursor, $limit ) {
		global $wpdb;
		// phpcs:ignore WordPress.DB.PreparedSQL.InterpolatedNotPrepared,WordPress.DB.DirectDatabaseQuery -- the plugin's own table; the reader's constants.
		return (array) $wpdb->get_results( $wpdb->prepare( "SELECT {$columns} FROM {$table} WHERE id > %d ORDER BY id ASC LIMIT %d", max( 0, (int) $cursor ), (int) $limit ) );
	}

	/**
	 * When the bridge began listening to this source (Farewell_Bridge_Importer::live_since()):
	 * what happened since was sent live. Null when it never did.
	 *
	 * @return int|null
	 */
	protected static function live_since() {
		return class_exists( 'Farewell_Bridge_Importer' ) ? Farewell_Bridge_Importer::live_since( static::SLUG ) : null;
	}

	/**
	 * Whether an occurrence is read back: not before $since, and before go-live ($live) when it is
	 * one whose live id the reader cannot rebuild for certain.
	 *
	 * @param int      $at    Unix seconds.
	 * @param int|null $since The import's since, or null.
	 * @param int|null $live  live_since(), or null to read back whatever happened.
	 * @return bool
	 */
	protected static function wanted( $at, $since, $live = null ) {
		return ( null === $since || $at >= (int) $since ) && ( null === $live || $at < $live );
	}

	/**
	 * A call's occurrences oldest first. Each item is array( subscription id, occurrence with its
	 * 'at' and 'order', … ); the id then the order break ties, as PHP 7.4's usort is not stable
	 * and a re-import must give the same order.
	 *
	 * @param array[] $planned The call's occurrences.
	 * @return array[]
	 */
	protected static function oldest_first( array $planned ) {
		usort(
			$planned,
			static function ( $a, $b ) {
				return array( $a[1]['at'], $a[0], $a[1]['order'] ) <=> array( $b[1]['at'], $b[0], $b[1]['order'] );
			}
		);
		return $planned;
	}

	/**
	 * One occurrence as the importer queues it, built by Farewell_Bridge_Event_Factory as the
	 * live source builds it (same webhook-id); null for a member who cannot be identified (no
	 * user, no email), skipped as live.
	 *
	 * @param string $type         Event type.
	 * @param int    $user_id      WordPress user.
	 * @param array  $subscription The subscription as it was then.
	 * @param array  $options      build()'s options: occurred_at, initiated_by, marker.
	 * @return array{webhook_id:string,type:string,payload:string}|null
	 */
	protected static function event( $type, $user_id, array $subscription, array $options ) {
		// Within one request the factory gives the same (source, object, type) the id it computed
		// first: two occurrences of one type (two expiries, two cancellations) would be one event.
		Farewell_Bridge_Event_Factory::reset();
		$event = Farewell_Bridge_Event_Factory::build( static::SLUG, $type, (int) $user_id, $subscription, $options );
		if ( null === $event ) {
			return null;
		}
		return array(
			'webhook_id' => $event['webhook_id'],
			'type'       => $event['type'],
			'payload'    => (string) wp_json_encode( $event['payload'], JSON_UNESCAPED_SLASHES | JSON_UNESCAPED_UNICODE ),
		);
	}

	/**
	 * Who did it, for an occurrence whose author the membership plugin did not record: an expiry
	 * is the site's own doing (`system`), anything else `unknown` (docs/PROTOCOL.md), so that the
	 * owner's 24 months count a member's own cancellation neither as theirs nor as someone else's.
	 *
	 * @param string $type Event type.
	 * @return string
	 */
	protected static function not_recorded_by( $type ) {
		return 'subscription.expired' === $type ? 'system' : 'unknown';
	}

	/**
	 * A call's answer: its events, and where the next call starts (null once a call read fewer
	 * than its limit: nothing is left).
	 *
	 * @param array[]         $events Its events (event()'s answers).
	 * @param int             $read   How many subscriptions it read.
	 * @param int             $limit  The call's limit.
	 * @param string|int|null $next   The resume point after the last one read.
	 * @return array{events:array,cursor:string|null}
	 */
	protected static function answer( array $events, $read, $limit, $next ) {
		return array(
			'events' => $events,
			'cursor' => $read < $limit ? null : (string) $next,
		);
	}

	/**
	 * A UTC "Y-m-d H:i:s" date (a plugin's or BerlinDB's gmdate()) as Unix seconds; null for none
	 * (empty, zero dates, before 1971).
	 *
	 * @param mixed $value Stored value.
	 * @return int|null
	 */
	protected static function utc_time( $value ) {
		$date = is_string( $value ) && (int) substr( $value, 0, 4 ) >= 1971 ? Farewell_Bridge_Event_Factory::rfc3339( substr( $value, 0, 19 ) ) : null;
		return null === $date ? null : (int) strtotime( $date );
	}
}
