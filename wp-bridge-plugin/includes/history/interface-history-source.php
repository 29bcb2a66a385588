<?php
/**
 * A membership plugin's past, read back for the history import (Farewell_Bridge_Importer).
 *
 * One implementation per membership plugin (includes/history/class-history-<slug>.php). It reads
 * the plugin's own tables or models and returns the events its live source
 * (includes/sources/class-source-<slug>.php) would have recorded when each thing happened: built
 * with Farewell_Bridge_Event_Factory, with the same webhook-ids (same source, object id, type and
 * occurrence marker), so an occurrence sent live and imported later, or imported twice, is one
 * event for the sidecar. The importer adds the `"imported": true` marker; a source does not.
 * Call Farewell_Bridge_Event_Factory::reset() before each build(): within one request the factory
 * gives the same (source, object, type) the id it computed first, which would merge two
 * occurrences of one subscription (two resumes, say) read in the same step.
 *
 * Classes: Farewell_Bridge_History_<Source> (Memberpress, Pmpro, Restrict_Content,
 * Woocommerce_Subscriptions), autoloaded from includes/history/, constructed without arguments;
 * Farewell_Bridge_Importer::SOURCES lists them.
 *
 * Bounded work: each call reads at most $limit subscriptions (by id ranges or LIMIT queries, never
 * all rows at once), so that a step stays within PHP's time and memory limits on a site with
 * 100,000 subscriptions.
 *
 * @package Farewell_Bridge
 */

if ( ! defined( 'ABSPATH' ) ) {
	exit;
}

/**
 * One membership plugin's history.
 */
interface Farewell_Bridge_History_Source {

	/**
	 * The source's name as events say it (`source`): memberpress, paidmembershipspro,
	 * restrict-content, woocommerce-subscriptions.
	 *
	 * @return string
	 */
	public function slug();

	/**
	 * Whether the membership plugin is active (its classes or tables can be read).
	 *
	 * @return bool
	 */
	public function available();

	/**
	 * What the import would find, for the admin page ("MemberPress: 1,284 subscriptions, 412
	 * cancelled since 2019"). Counted with SQL COUNT(*), not by loading rows.
	 *
	 * @param int|null $since Unix seconds: only subscriptions started or ended at or after it; null for all.
	 * @return array{subscriptions:int,cancelled:int}
	 */
	public function summary( $since );

	/**
	 * The next events of the history, oldest subscription first.
	 *
	 * @param string|null $cursor Where the previous call stopped (its 'cursor'); null to start.
	 * @param int         $limit  At most this many subscriptions read in this call (≥ 1).
	 * @param int|null    $since  Unix seconds: events that happened before it are left out; null for all.
	 * @return array{events:array<int,array{webhook_id:string,type:string,payload:string}>,cursor:string|null}
	 *         events: each built with Farewell_Bridge_Event_Factory::build() as the live source
	 *         would (payload: the event as JSON, wp_json_encode with JSON_UNESCAPED_SLASHES |
	 *         JSON_UNESCAPED_UNICODE, without the import marker), oldest first within the call;
	 *         cursor: an opaque resume point (a short string, kept in an option), null when done.
	 *         Members who cannot be identified (no user, no email) are skipped, as live.
	 */
	public function events( $cursor, $limit, $since );
}
