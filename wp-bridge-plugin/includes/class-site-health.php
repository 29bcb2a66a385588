<?php
/**
 * Tools → Site Health: whether the bridge can sign its requests. A secret that breaks the rule
 * (a placeholder left in wp-config.php, a truncated paste) stops every exchange with the sidecar;
 * Site Health is where a site's owner or host looks first, so it says so there too.
 *
 * It also says whether the sidecar answers a signed ping (an asynchronous test: the page does not
 * wait for it), whether events pile up or died in the outbox, and whether delivery runs at all
 * (WP-Cron's event is on time; loopback requests reach the site). The Info tab gets a Farewell
 * section, without the secret.
 *
 * @package Farewell_Bridge
 */

if ( ! defined( 'ABSPATH' ) ) {
	exit;
}

/**
 * The Site Health test of the bridge's configuration.
 */
class Farewell_Bridge_Site_Health {

	const TEST          = 'farewell_bridge_secret';
	const TEST_REACH    = 'farewell_bridge_reachable';
	const TEST_OUTBOX   = 'farewell_bridge_outbox';
	const TEST_DELIVERY = 'farewell_bridge_delivery';
	const REST_ROUTE    = '/site-health/reachable';

	/** A pending event older than this is a backlog worth telling the owner about. */
	const BACKLOG_SECONDS = 3600;
	/** The cron event overdue by more than this means WP-Cron does not run. */
	const CRON_LATE_SECONDS = 600;

	/**
	 * Adds the test. Hooked on site_status_tests.
	 *
	 * @param array $tests Site Health tests.
	 * @return array
	 */
	public static function filter_site_status_tests( $tests ) {
		$tests                         = is_array( $tests ) ? $tests : array();
		$tests['direct'][ self::TEST ] = array(
			'label' => __( 'Farewell Bridge configuration', 'farewell-bridge' ),
			'test'  => array( __CLASS__, 'test_secret' ),
		);
		$tests['direct'][ self::TEST_OUTBOX ]   = array(
			'label' => __( 'Farewell Bridge outbox', 'farewell-bridge' ),
			'test'  => array( __CLASS__, 'test_outbox' ),
		);
		$tests['direct'][ self::TEST_DELIVERY ] = array(
			'label' => __( 'Farewell Bridge delivery', 'farewell-bridge' ),
			'test'  => array( __CLASS__, 'test_delivery' ),
		);
		// The ping may take seconds: asynchronous, through a REST route of its own.
		$tests['async'][ self::TEST_REACH ] = array(
			'label'             => __( 'Farewell sidecar reachable', 'farewell-bridge' ),
			'test'              => rest_url( Farewell_Bridge_Rest::REST_NAMESPACE . self::REST_ROUTE ),
			'has_rest'          => true,
			'async_direct_test' => array( __CLASS__, 'test_reachable' ),
		);
		return $tests;
	}

	/**
	 * The REST route of the asynchronous test. Hooked on rest_api_init.
	 */
	public static function action_rest_api_init() {
		register_rest_route(
			Farewell_Bridge_Rest::REST_NAMESPACE,
			self::REST_ROUTE,
			array(
				'methods'             => 'GET',
				'callback'            => array( __CLASS__, 'test_reachable' ),
				'permission_callback' => static function () {
					return current_user_can( 'view_site_health_checks' );
				},
			)
		);
	}

	/**
	 * A result with the bridge's badge.
	 *
	 * @param string $test        Test id.
	 * @param string $status      good, recommended or critical.
	 * @param string $label       Headline.
	 * @param string $description Plain text (escaped here).
	 * @param string $action      Optional HTML of the actions (already escaped).
	 * @return array
	 */
	private static function result( $test, $status, $label, $description, $action = '' ) {
		$colors = array(
			'good'        => 'blue',
			'recommended' => 'orange',
			'critical'    => 'red',
		);
		return array(
			'label'       => $label,
			'status'      => $status,
			'badge'       => array(
				'label' => __( 'Farewell', 'farewell-bridge' ),
				'color' => $colors[ $status ],
			),
			'description' => '<p>' . esc_html( $description ) . '</p>',
			'actions'     => $action,
			'test'        => $test,
		);
	}

	/**
	 * A link to the settings page, for the actions of a result.
	 *
	 * @return string
	 */
	private static function settings_link() {
		return '<p><a href="' . esc_url( Farewell_Bridge_Admin::page_url() ) . '">' . esc_html__( 'Open Settings → Farewell', 'farewell-bridge' ) . '</a></p>';
	}

	/**
	 * Configured and reachable: the sidecar's answer to a signed ping.
	 *
	 * @return array
	 */
	public static function test_reachable() {
		if ( ! Farewell_Bridge_Settings::is_configured() ) {
			return self::result( self::TEST_REACH, 'recommended', __( 'The Farewell sidecar cannot be reached: the bridge is not configured', 'farewell-bridge' ), '' !== Farewell_Bridge_Settings::secret_error() ? Farewell_Bridge_Settings::secret_error() : __( 'Set the sidecar URL, site id and secret printed by "python -m sidecar sites add"; until then cancellations wait in the outbox.', 'farewell-bridge' ), self::settings_link() );
		}
		$result = Farewell_Bridge_Client::from_settings()->ping( 5.0 );
		Farewell_Bridge_Clock::note( $result );
		if ( Farewell_Bridge_Client::DELIVERED === $result['kind'] ) {
			/* translators: %s: the sidecar's URL. */
			return self::result( self::TEST_REACH, 'good', __( 'The Farewell sidecar answers', 'farewell-bridge' ), sprintf( __( 'The sidecar at %s accepted a signed request from this site.', 'farewell-bridge' ), Farewell_Bridge_Settings::sidecar_url() ) );
		}
		/* translators: %s: why the sidecar did not answer. */
		$description = sprintf( __( '%s Cancellations wait in the outbox and are sent as soon as the sidecar answers again; nothing is lost. Check that the sidecar runs and that this server can reach its URL, then use "Test connection".', 'farewell-bridge' ), $result['message'] );
		return self::result( self::TEST_REACH, 'critical', __( 'The Farewell sidecar does not answer', 'farewell-bridge' ), $description, self::settings_link() );
	}

	/**
	 * Outbox: events the sidecar refused for good, a pause after a 410, or a backlog.
	 *
	 * @return array
	 */
	public static function test_outbox() {
		$counts = Farewell_Bridge_Outbox::counts();
		$paused = Farewell_Bridge_Outbox::paused();
		$dead   = $counts[ Farewell_Bridge_Outbox::STATUS_DEAD ];
		if ( null !== $paused ) {
			/* translators: %s: why delivery is paused. */
			return self::result( self::TEST_OUTBOX, 'critical', __( 'Farewell Bridge delivery is paused', 'farewell-bridge' ), sprintf( __( '%s Events wait in the outbox. If the site was added to the sidecar again, resume delivery on the settings page.', 'farewell-bridge' ), $paused['reason'] ), self::settings_link() );
		}
		if ( $dead > 0 ) {
			$error = Farewell_Bridge_Outbox::last_error();
			/* translators: %d: number of events. */
			$description = sprintf( _n( '%d event was refused by the sidecar for good and will not be sent again on its own.', '%d events were refused by the sidecar for good and will not be sent again on their own.', $dead, 'farewell-bridge' ), $dead );
			if ( null !== $error ) {
				/* translators: %s: the last error message. */
				$description .= ' ' . sprintf( __( 'Last error: %s', 'farewell-bridge' ), $error['last_error'] );
			}
			$description .= ' ' . __( 'Fix the cause, then retry them on the settings page or with "wp farewell retry --all".', 'farewell-bridge' );
			return self::result( self::TEST_OUTBOX, 'critical', __( 'Farewell Bridge has events the sidecar refused', 'farewell-bridge' ), $description, self::settings_link() );
		}
		$oldest = Farewell_Bridge_Outbox::oldest_pending();
		if ( null !== $oldest && time() - (int) strtotime( $oldest['created_at'] . ' UTC' ) > self::BACKLOG_SECONDS ) {
			$pending = $counts[ Farewell_Bridge_Outbox::STATUS_PENDING ];
			/* translators: 1: number of events, 2: creation time of the oldest (UTC). */
			$description = sprintf( _n( '%1$d event waits to be sent, since %2$s UTC.', '%1$d events wait to be sent, the oldest since %2$s UTC.', $pending, 'farewell-bridge' ), $pending, $oldest['created_at'] );
			if ( '' !== (string) $oldest['last_error'] ) {
				/* translators: %s: the last error message. */
				$description .= ' ' . sprintf( __( 'Last error: %s', 'farewell-bridge' ), $oldest['last_error'] );
			}
			$description .= ' ' . __( 'They are retried for 3 days. Check that the sidecar answers, then use "Retry now" or "wp farewell deliver".', 'farewell-bridge' );
			return self::result( self::TEST_OUTBOX, 'recommended', __( 'Farewell Bridge has a backlog of events', 'farewell-bridge' ), $description, self::settings_link() );
		}
		return self::result( self::TEST_OUTBOX, 'good', __( 'The Farewell Bridge outbox is clear', 'farewell-bridge' ), __( 'No event has been waiting for long, and none was refused.', 'farewell-bridge' ) );
	}

	/**
	 * Delivery is running: the cron event is on time, and loopback requests reach the site.
	 *
	 * @return array
	 */
	public static function test_delivery() {
		$next = wp_next_scheduled( Farewell_Bridge_Dispatcher::CRON_HOOK );
		$cron = __( 'If DISABLE_WP_CRON is set in wp-config.php, run WordPress\'s cron from the system every minute, e.g. "* * * * * wp cron event run --due-now --path=/path/to/wordpress".', 'farewell-bridge' );
		if ( false === $next ) {
			return self::result( self::TEST_DELIVERY, 'critical', __( 'Farewell Bridge retries are not scheduled', 'farewell-bridge' ), __( 'The WP-Cron event that retries the outbox every minute is missing. Deactivate and activate Farewell Bridge to schedule it again.', 'farewell-bridge' ) );
		}
		$late = time() - (int) $next;
		if ( $late > self::CRON_LATE_SECONDS ) {
			/* translators: %d: minutes. */
			$description = sprintf( __( 'WP-Cron has not run the outbox\'s retries for %d minutes: events that could not be sent at once, and every event when loopback requests fail, wait until it runs.', 'farewell-bridge' ), (int) floor( $late / MINUTE_IN_SECONDS ) ) . ' ' . $cron;
			return self::result( self::TEST_DELIVERY, 'critical', __( 'Farewell Bridge retries do not run', 'farewell-bridge' ), $description );
		}
		$loopback = Farewell_Bridge_Dispatcher::loopback_problem();
		if ( '' !== $loopback ) {
			$description = $loopback . ' ' . __( 'Cancellations made on this site are therefore sent by WP-Cron, within about a minute, instead of right away. To send them at once, let the site reach itself at its own address (allow loopback requests, exempt admin-ajax.php from HTTP authentication), or run PHP-FPM, which needs no loopback.', 'farewell-bridge' );
			return self::result( self::TEST_DELIVERY, 'recommended', __( 'Farewell Bridge cannot reach this site with a loopback request', 'farewell-bridge' ), $description );
		}
		return self::result( self::TEST_DELIVERY, 'good', __( 'Farewell Bridge delivery is running', 'farewell-bridge' ), __( 'Cancellations are sent right after the member\'s page is answered, and WP-Cron retries the rest every minute.', 'farewell-bridge' ) );
	}

	/**
	 * The Info tab's Farewell section: versions, sources, sidecar URL, outbox. Never the secret.
	 * Hooked on debug_information.
	 *
	 * @param array $info Sections.
	 * @return array
	 */
	public static function filter_debug_information( $info ) {
		$info    = is_array( $info ) ? $info : array();
		$plugin  = Farewell_Bridge_Plugin::instance();
		$sources = null === $plugin ? array() : $plugin->active_source_slugs();
		$found   = array();
		foreach ( $sources as $slug ) {
			$version = self::membership_version( $slug );
			$found[] = '' !== $version ? $slug . ' ' . $version : $slug;
		}
		$counts = Farewell_Bridge_Outbox::counts();
		$oldest = Farewell_Bridge_Outbox::oldest_pending();
		$where  = static function ( $field ) {
			return Farewell_Bridge_Settings::is_locked( $field ) ? __( 'constant in wp-config.php', 'farewell-bridge' ) : __( 'settings page', 'farewell-bridge' );
		};
		$none   = __( '(none)', 'farewell-bridge' );
		$secret = '' === Farewell_Bridge_Settings::secret() ? __( 'not set', 'farewell-bridge' ) : ( '' === Farewell_Bridge_Settings::secret_error() ? __( 'set, valid', 'farewell-bridge' ) : __( 'set, not valid', 'farewell-bridge' ) );

		$info['farewell-bridge'] = array(
			'label'  => __( 'Farewell Bridge', 'farewell-bridge' ),
			'fields' => array(
				'version'     => array(
					'label' => __( 'Version', 'farewell-bridge' ),
					'value' => defined( 'FAREWELL_BRIDGE_VERSION' ) ? FAREWELL_BRIDGE_VERSION : '',
				),
				'sources'     => array(
					'label' => __( 'Membership plugins detected', 'farewell-bridge' ),
					'value' => empty( $found ) ? $none : implode( ', ', $found ),
					'debug' => empty( $found ) ? 'none' : implode( ', ', $found ),
				),
				'sidecar_url' => array(
					'label' => __( 'Sidecar URL', 'farewell-bridge' ),
					'value' => '' !== Farewell_Bridge_Settings::sidecar_url() ? Farewell_Bridge_Settings::sidecar_url() . ' (' . $where( 'sidecar_url' ) . ')' : $none,
				),
				'site_id'     => array(
					'label' => __( 'Site id', 'farewell-bridge' ),
					'value' => '' !== Farewell_Bridge_Settings::site_id() ? Farewell_Bridge_Settings::site_id() . ' (' . $where( 'site_id' ) . ')' : $none,
				),
				'secret'      => array(
					'label'   => __( 'Secret', 'farewell-bridge' ),
					'value'   => $secret . ( '' !== Farewell_Bridge_Settings::secret() ? ' (' . $where( 'secret' ) . ')' : '' ),
					'private' => true,
				),
				'outbox'      => array(
					'label' => __( 'Outbox', 'farewell-bridge' ),
					/* translators: 1: pending events, 2: delivered events (kept 7 days), 3: dead events. */
					'value' => sprintf( __( 'pending %1$d, delivered %2$d, dead %3$d', 'farewell-bridge' ), $counts['pending'], $counts['delivered'], $counts['dead'] ),
					'debug' => sprintf( 'pending %1$d, delivered %2$d, dead %3$d', $counts['pending'], $counts['delivered'], $counts['dead'] ),
				),
				'oldest'      => array(
					'label' => __( 'Oldest waiting event', 'farewell-bridge' ),
					'value' => null === $oldest ? $none : $oldest['created_at'] . ' UTC',
				),
				'loopback'    => array(
					'label' => __( 'Loopback requests', 'farewell-bridge' ),
					'value' => '' === Farewell_Bridge_Dispatcher::loopback_problem() ? __( 'no problem seen', 'farewell-bridge' ) : Farewell_Bridge_Dispatcher::loopback_problem(),
				),
			),
		);
		return $info;
	}

	/**
	 * The version of a detected membership plugin, from its own constant, '' when unknown.
	 *
	 * @param string $slug A source slug.
	 * @return string
	 */
	private static function membership_version( $slug ) {
		$constants = array(
			'memberpress'               => 'MEPR_VERSION',
			'paidmembershipspro'        => 'PMPRO_VERSION',
			'restrict-content'          => 'RCP_PLUGIN_VERSION',
		);
		if ( 'woocommerce-subscriptions' === $slug ) {
			return class_exists( 'WC_Subscriptions' ) && isset( WC_Subscriptions::$version ) ? (string) WC_Subscriptions::$version : '';
		}
		return isset( $constants[ $slug ] ) && defined( $constants[ $slug ] ) ? (string) constant( $constants[ $slug ] ) : '';
	}

	/**
	 * The test's result: critical when the secret that is set cannot be used, recommended when the
	 * bridge is not configured yet, good otherwise.
	 *
	 * @return array
	 */
	public static function test_secret() {
		$result = array(
			'label'       => __( 'Farewell Bridge can sign its requests to the sidecar', 'farewell-bridge' ),
			'status'      => 'good',
			'badge'       => array(
				'label' => __( 'Farewell', 'farewell-bridge' ),
				'color' => 'blue',
			),
			'description' => '<p>' . esc_html__( 'The sidecar URL, site id and secret are set, and the secret is a valid whsec_ secret.', 'farewell-bridge' ) . '</p>',
			'actions'     => '',
			'test'        => self::TEST,
		);
		$error = Farewell_Bridge_Settings::secret_error();
		if ( '' !== $error ) {
			$result['label']          = __( 'Farewell Bridge cannot sign its requests: its secret is not valid', 'farewell-bridge' );
			$result['status']         = 'critical';
			$result['badge']['color'] = 'red';
			$result['description']    = '<p>' . esc_html( $error ) . '</p>';
		} elseif ( ! Farewell_Bridge_Settings::is_configured() ) {
			$result['label']       = __( 'Farewell Bridge is not configured yet', 'farewell-bridge' );
			$result['status']      = 'recommended';
			$result['description'] = '<p>' . esc_html__( 'Set the sidecar URL, site id and secret printed by "python -m sidecar sites add"; until then cancellations wait in the outbox.', 'farewell-bridge' ) . '</p>';
		}
		if ( 'good' !== $result['status'] ) {
			$result['actions'] = '<p><a href="' . esc_url( Farewell_Bridge_Admin::page_url() ) . '">' . esc_html__( 'Open Settings → Farewell', 'farewell-bridge' ) . '</a></p>';
		}
		return $result;
	}
}
