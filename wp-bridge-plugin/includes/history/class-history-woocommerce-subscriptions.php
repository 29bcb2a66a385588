<?php
/**
 * WooCommerce Subscriptions' history, read through its documented API: wcs_get_subscriptions()
 * (oldest first by ID, a page at a time) and each WC_Subscription's getters — get_status() and
 * get_date() of "start", "cancelled" (set when it went to pending-cancel or cancelled) and "end"
 * (GMT). Written from that documentation and tested against the stand-in of
 * tests/wordpress/fixtures/farewell-test-sources (no public snapshot of the plugin is available
 * here), in tests/wordpress/phpunit/tests/HistoryWoocommerceTest.php.
 *
 * What each subscription gives, as the live source (Farewell_Bridge_Source_Woocommerce_Subscriptions)
 * would from its status changes:
 * - `subscription.created` at its start, unless it is still pending (never paid);
 * - pending-cancel: `subscription.cancelled` at its cancelled date (prepaid time remains);
 * - cancelled with an end after its cancelled date: it went through pending-cancel — the
 *   cancellation then, and `subscription.expired` at its end (the prepaid time ran out);
 *   otherwise one `subscription.cancelled` at its cancelled date;
 * - expired: `subscription.expired` at its end.
 * Not read back: pauses and resumes (on-hold keeps no date), earlier cancellations undone by a
 * resume (WooCommerce keeps one cancelled date), failed renewals. Who: not recorded: `unknown` (an expiry: `system`).
 *
 * Webhook-ids: the live source marks a change "<old status>><new status>@<Unix second>". The
 * reader derives the same from the stored date and the transition the status implies (the
 * prior status assumed active), and reads back only what happened before the bridge listened
 * to WooCommerce Subscriptions (Farewell_Bridge_Importer::live_since()): what happened since was
 * sent live, so nothing is counted twice, but a live event is not guaranteed the same id.
 *
 * The cursor is the number of subscriptions already read (wcs_get_subscriptions() pages by
 * offset, not by id): a subscription deleted during an import may let one later subscription be
 * skipped; one added is read at the end, as ids only grow.
 *
 * @package Farewell_Bridge
 */

if ( ! defined( 'ABSPATH' ) ) {
	exit;
}

/**
 * WooCommerce Subscriptions' past subscriptions as events.
 */
class Farewell_Bridge_History_Woocommerce_Subscriptions extends Farewell_Bridge_History_Source_Base {

	/** The live source's slug. */
	const SLUG = 'woocommerce-subscriptions';

	/** Seconds between a cancelled date and an end that belong to one immediate cancellation. */
	const GRACE = 60;

	/** Statuses of a subscription that was active at some point. */
	const STARTED = array( 'active', 'on-hold', 'pending-cancel', 'cancelled', 'expired' );

	/**
	 * {@inheritDoc}
	 */
	public function available() {
		return class_exists( 'WC_Subscription' ) && function_exists( 'wcs_get_subscriptions' );
	}

	/**
	 * One page of subscriptions, oldest first.
	 *
	 * @param int          $offset   Subscriptions to skip.
	 * @param int          $per_page Page size (-1: all, for counts of ids only).
	 * @param string|array $status   WooCommerce Subscriptions statuses, or 'any'.
	 * @return WC_Subscription[]
	 */
	private static function page( $offset, $per_page, $status = 'any' ) {
		return (array) wcs_get_subscriptions(
			array(
				'subscriptions_per_page' => $per_page,
				'offset'                 => $offset,
				'orderby'                => 'ID',
				'order'                  => 'ASC',
				'subscription_status'    => $status,
			)
		);
	}

	/**
	 * A GMT date of WooCommerce Subscriptions as Unix seconds, or null.
	 *
	 * @param mixed $value get_date()'s answer.
	 * @return int|null
	 */
	private static function time_of( $value ) {
		$date = Farewell_Bridge_Event_Factory::rfc3339( $value );
		return null === $date ? null : (int) strtotime( $date );
	}

	/**
	 * {@inheritDoc}
	 */
	public function summary( $since ) {
		if ( function_exists( 'wc_get_orders' ) ) {
			// WooCommerce's own count (one COUNT query, with or without HPOS): subscriptions by
			// their creation date, cancellations among them; close enough for the page.
			$count = static function ( array $statuses ) use ( $since ) {
				$args = array(
					'type'     => 'shop_subscription',
					'status'   => $statuses,
					'limit'    => 1,
					'return'   => 'ids',
					'paginate' => true,
				);
				if ( null !== $since ) {
					$args['date_created'] = '>=' . (int) $since;
				}
				$found = wc_get_orders( $args );
				return is_object( $found ) && isset( $found->total ) ? (int) $found->total : 0;
			};
			return array(
				'subscriptions' => $count( array( 'wc-active', 'wc-on-hold', 'wc-pending-cancel', 'wc-cancelled', 'wc-expired' ) ),
				'cancelled'     => $count( array( 'wc-pending-cancel', 'wc-cancelled' ) ),
			);
		}
		$all       = 0;
		$cancelled = 0;
		$offset    = 0;
		do {
			// Without wc_get_orders(): counted a page at a time (200 objects at most in memory).
			$page = self::page( $offset, 200 );
			foreach ( $page as $sub ) {
				foreach ( self::occurrences( $sub ) as $occurrence ) {
					if ( null !== $since && $occurrence['at'] < (int) $since ) {
						continue;
					}
					if ( 'subscription.created' === $occurrence['type'] ) {
						++$all;
					} elseif ( 'subscription.cancelled' === $occurrence['type'] ) {
						++$cancelled;
					}
				}
			}
			$offset += count( $page );
		} while ( count( $page ) >= 200 );
		return array(
			'subscriptions' => $all,
			'cancelled'     => $cancelled,
		);
	}

	/**
	 * {@inheritDoc}
	 */
	public function events( $cursor, $limit, $since ) {
		$offset = max( 0, (int) $cursor );
		$limit  = max( 1, (int) $limit );
		$page   = self::page( $offset, $limit );
		$live   = self::live_since();
		$source = new Farewell_Bridge_Source_Woocommerce_Subscriptions();

		$planned = array();
		foreach ( $page as $sub ) {
			foreach ( self::occurrences( $sub ) as $occurrence ) {
				// What happened since go-live was sent live (see the class comment).
				if ( self::wanted( $occurrence['at'], $since, $live ) ) {
					$planned[] = array( (int) $sub->get_id(), $occurrence, $sub );
				}
			}
		}

		$out = array();
		foreach ( self::oldest_first( $planned ) as $item ) {
			list( , $occurrence, $sub ) = $item;
			$subscription               = $source->subscription( $sub, $occurrence['type'] );
			if ( 'subscription.created' === $occurrence['type'] ) {
				$subscription['status'] = 'active'; // As it was then.
				if ( 'active' !== $sub->get_status() ) {
					unset( $subscription['access_ends_at'] ); // Its end came with the cancellation or expiry, after it started.
				}
			} elseif ( 'subscription.cancelled' === $occurrence['type'] ) {
				$subscription['status'] = 'cancelled';
			}
			$event = self::event(
				$occurrence['type'],
				(int) $sub->get_user_id(),
				$subscription,
				array(
					'marker'       => $occurrence['marker'],
					'occurred_at'  => $occurrence['at'],
					'initiated_by' => self::not_recorded_by( $occurrence['type'] ),
				)
			);
			if ( null !== $event ) {
				$out[] = $event;
			}
		}
		return self::answer( $out, count( $page ), $limit, $offset + count( $page ) );
	}

	/**
	 * What happened to one subscription: list of array( type, at, marker, order ), with the live
	 * source's markers for the transitions its status implies.
	 *
	 * @param WC_Subscription $sub Subscription.
	 * @return array[]
	 */
	private static function occurrences( $sub ) {
		$status    = (string) $sub->get_status();
		$start     = self::time_of( $sub->get_date( 'start' ) );
		$cancelled = self::time_of( $sub->get_date( 'cancelled' ) );
		$end       = self::time_of( $sub->get_date( 'end' ) );
		$out       = array();
		if ( ! in_array( $status, self::STARTED, true ) || null === $start ) {
			return $out; // Pending (never paid), trashed, or without a start.
		}
		$out[] = self::occurrence( 'subscription.created', $start, 'pending', 'active', 0 );
		if ( 'pending-cancel' === $status && null !== $cancelled ) {
			$out[] = self::occurrence( 'subscription.cancelled', $cancelled, 'active', 'pending-cancel', 1 );
		} elseif ( 'cancelled' === $status && null !== $cancelled ) {
			if ( null !== $end && $end > $cancelled + self::GRACE ) {
				$out[] = self::occurrence( 'subscription.cancelled', $cancelled, 'active', 'pending-cancel', 1 );
				$out[] = self::occurrence( 'subscription.expired', $end, 'pending-cancel', 'cancelled', 2 );
			} else {
				$out[] = self::occurrence( 'subscription.cancelled', $cancelled, 'active', 'cancelled', 1 );
			}
		} elseif ( 'expired' === $status && null !== $end ) {
			$out[] = self::occurrence( 'subscription.expired', $end, 'active', 'expired', 2 );
		}
		return $out;
	}

	/**
	 * One occurrence, marked as the live source marks the status change.
	 *
	 * @param string $type  Event type.
	 * @param int    $at    Unix seconds.
	 * @param string $old   Status before.
	 * @param string $new   Status after.
	 * @param int    $order Order among one subscription's occurrences of the same second.
	 * @return array
	 */
	private static function occurrence( $type, $at, $old, $new, $order ) {
		return array(
			'type'   => $type,
			'at'     => $at,
			'marker' => $old . '>' . $new . '@' . $at,
			'order'  => $order,
		);
	}
}
