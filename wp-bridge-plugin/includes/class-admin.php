<?php
/**
 * Settings → Farewell: the settings form (Settings API) and the admin actions
 * (test connection, retry, resume). Every action checks `manage_options` and its own nonce.
 *
 * @package Farewell_Bridge
 */

if ( ! defined( 'ABSPATH' ) ) {
	exit;
}

/**
 * Admin screens and actions.
 */
class Farewell_Bridge_Admin {

	const CAPABILITY = 'manage_options';

	/** Transient of the notice waiting for one admin (+ user id), shown once on the settings page. */
	const NOTICE_PREFIX = 'farewell_bridge_notice_';

	/**
	 * admin-post.php actions => handler method. Nonce action = the action name.
	 *
	 * @var array<string,string>
	 */
	const ACTIONS = array(
		'farewell_bridge_test_connection' => 'action_admin_post_farewell_bridge_test_connection',
		'farewell_bridge_retry_row'       => 'action_admin_post_farewell_bridge_retry_row',
		'farewell_bridge_retry_dead'      => 'action_admin_post_farewell_bridge_retry_dead',
		'farewell_bridge_retry_now'       => 'action_admin_post_farewell_bridge_retry_now',
		'farewell_bridge_resume'          => 'action_admin_post_farewell_bridge_resume',
	);

	/**
	 * What this class keeps in WordPress, which uninstall.php removes (see Farewell_Bridge_Plugin::DATA_OWNERS).
	 *
	 * @return array See uninstall.php.
	 */
	public static function owned() {
		return array(
			'transients' => array( self::NOTICE_PREFIX ),
		);
	}

	/**
	 * Adds Settings → Farewell. Hooked on admin_menu.
	 */
	public static function action_admin_menu() {
		add_options_page(
			__( 'Farewell Bridge', 'farewell-bridge' ),
			__( 'Farewell', 'farewell-bridge' ),
			self::CAPABILITY,
			Farewell_Bridge_Settings::PAGE,
			array( __CLASS__, 'render_page' )
		);
	}

	/**
	 * Adds a "Settings" link on the Plugins screen.
	 *
	 * @param array $links Links.
	 * @return array
	 */
	public static function filter_plugin_action_links( $links ) {
		array_unshift( $links, '<a href="' . esc_url( self::page_url() ) . '">' . esc_html__( 'Settings', 'farewell-bridge' ) . '</a>' );
		return $links;
	}

	/**
	 * URL of the settings page.
	 *
	 * @return string
	 */
	public static function page_url() {
		return admin_url( 'options-general.php?page=' . Farewell_Bridge_Settings::PAGE );
	}

	/**
	 * URL of an admin action, with its nonce.
	 *
	 * @param string $action One of ACTIONS.
	 * @param array  $args   Extra query arguments.
	 * @return string
	 */
	public static function action_url( $action, array $args = array() ) {
		$url = add_query_arg( array_merge( array( 'action' => $action ), $args ), admin_url( 'admin-post.php' ) );
		return wp_nonce_url( $url, $action );
	}

	/**
	 * Renders the settings page.
	 */
	public static function render_page() {
		if ( ! current_user_can( self::CAPABILITY ) ) {
			wp_die( esc_html__( 'Sorry, you are not allowed to manage Farewell Bridge.', 'farewell-bridge' ), 403 );
		}
		$view = array(
			'settings'       => Farewell_Bridge_Settings::stored(),
			'sidecar_url'    => Farewell_Bridge_Settings::sidecar_url(),
			'site_id'        => Farewell_Bridge_Settings::site_id(),
			'masked_secret'  => Farewell_Bridge_Settings::mask_secret( Farewell_Bridge_Settings::secret() ),
			'secret_error'   => Farewell_Bridge_Settings::secret_error(),
			'locked'         => array(
				'sidecar_url' => Farewell_Bridge_Settings::is_locked( 'sidecar_url' ),
				'site_id'     => Farewell_Bridge_Settings::is_locked( 'site_id' ),
				'secret'      => Farewell_Bridge_Settings::is_locked( 'secret' ),
			),
			'notice'         => self::take_notice(),
			'counts'         => Farewell_Bridge_Outbox::counts(),
			'dead'           => Farewell_Bridge_Outbox::recent( Farewell_Bridge_Outbox::STATUS_DEAD, 20 ),
			'pending'        => Farewell_Bridge_Outbox::recent( Farewell_Bridge_Outbox::STATUS_PENDING, 20 ),
			'last_error'     => Farewell_Bridge_Outbox::last_error(),
			'last_delivery'  => (int) get_option( Farewell_Bridge_Outbox::LAST_DELIVERY_OPTION, 0 ),
			'paused'         => Farewell_Bridge_Outbox::paused(),
			'insert_failure' => (int) get_option( Farewell_Bridge_Outbox::INSERT_FAILURE_OPTION, 0 ),
			'clock_skew'     => Farewell_Bridge_Clock::current(),
		);
		require FAREWELL_BRIDGE_DIR . '/admin/views/settings-page.php';
	}

	/**
	 * Refuses the request unless the user may manage options and the nonce is valid.
	 *
	 * @param string $action Nonce action.
	 */
	private static function guard( $action ) {
		if ( ! current_user_can( self::CAPABILITY ) ) {
			wp_die( esc_html__( 'Sorry, you are not allowed to manage Farewell Bridge.', 'farewell-bridge' ), '', array( 'response' => 403 ) );
		}
		check_admin_referer( $action );
	}

	/**
	 * "Test connection": a signed ping, with a clear message for each failure.
	 */
	public static function action_admin_post_farewell_bridge_test_connection() {
		self::guard( 'farewell_bridge_test_connection' );
		if ( '' !== Farewell_Bridge_Settings::secret_error() ) {
			self::redirect_with( 'error', Farewell_Bridge_Settings::secret_error() );
		}
		if ( ! Farewell_Bridge_Settings::is_configured() ) {
			self::redirect_with( 'error', __( 'Fill in the sidecar URL, site id and secret first.', 'farewell-bridge' ) );
		}
		$result = Farewell_Bridge_Client::from_settings()->ping( 5.0 );
		Farewell_Bridge_Clock::note( $result );
		if ( Farewell_Bridge_Client::DELIVERED === $result['kind'] ) {
			Farewell_Bridge_Setup_Checklist::note_tested();
			Farewell_Bridge_Site_Info::report();
			$name = is_array( $result['body'] ) && isset( $result['body']['site_name'] ) ? (string) $result['body']['site_name'] : '';
			/* translators: %s: the site's name on the sidecar. */
			self::redirect_with( 'success', '' !== $name ? sprintf( __( 'Connected: the sidecar knows this site as "%s".', 'farewell-bridge' ), $name ) : __( 'Connected: the sidecar accepted the signature.', 'farewell-bridge' ) );
		}
		self::redirect_with( 'error', $result['message'] );
	}

	/**
	 * Retries one dead row.
	 */
	public static function action_admin_post_farewell_bridge_retry_row() {
		self::guard( 'farewell_bridge_retry_row' );
		$id    = isset( $_GET['id'] ) ? absint( $_GET['id'] ) : 0; // phpcs:ignore WordPress.Security.NonceVerification.Recommended -- checked in guard().
		$moved = Farewell_Bridge_Outbox::retry_dead( $id );
		self::deliver_now();
		/* translators: %d: number of events. */
		self::redirect_with( 'success', sprintf( _n( '%d event queued again.', '%d events queued again.', $moved, 'farewell-bridge' ), $moved ) );
	}

	/**
	 * Retries every dead row.
	 */
	public static function action_admin_post_farewell_bridge_retry_dead() {
		self::guard( 'farewell_bridge_retry_dead' );
		$moved = Farewell_Bridge_Outbox::retry_dead( null );
		self::deliver_now();
		/* translators: %d: number of events. */
		self::redirect_with( 'success', sprintf( _n( '%d event queued again.', '%d events queued again.', $moved, 'farewell-bridge' ), $moved ) );
	}

	/**
	 * Makes every pending row due and delivers a batch now.
	 */
	public static function action_admin_post_farewell_bridge_retry_now() {
		self::guard( 'farewell_bridge_retry_now' );
		Farewell_Bridge_Outbox::make_pending_due();
		$done = self::deliver_now();
		/* translators: 1: delivered events, 2: events still pending, 3: dead events. */
		self::redirect_with( 'success', sprintf( __( 'Delivered: %1$d. Still pending: %2$d. Dead: %3$d.', 'farewell-bridge' ), $done['delivered'], $done['pending'], $done['dead'] ) );
	}

	/**
	 * Resumes delivery after a 410.
	 */
	public static function action_admin_post_farewell_bridge_resume() {
		self::guard( 'farewell_bridge_resume' );
		Farewell_Bridge_Outbox::resume();
		Farewell_Bridge_Outbox::make_pending_due();
		self::redirect_with( 'success', __( 'Delivery resumed.', 'farewell-bridge' ) );
	}

	/**
	 * One bounded delivery run, for the admin's buttons.
	 *
	 * @return array<string,int>
	 */
	private static function deliver_now() {
		return Farewell_Bridge_Dispatcher::deliver_ids( Farewell_Bridge_Outbox::due_ids( Farewell_Bridge_Dispatcher::CRON_BATCH ), Farewell_Bridge_Dispatcher::CRON_TIMEOUT );
	}

	/**
	 * Stores a notice for the current user and goes back to the settings page.
	 *
	 * @param string $type    success or error.
	 * @param string $message Message (plain text).
	 */
	private static function redirect_with( $type, $message ) {
		set_transient(
			self::NOTICE_PREFIX . get_current_user_id(),
			array(
				'type'    => $type,
				'message' => (string) $message,
			),
			MINUTE_IN_SECONDS * 5
		);
		wp_safe_redirect( self::return_url() );
		exit;
	}

	/**
	 * Where an action goes back to: the settings page, or Farewell → Set-up when its button was
	 * pressed there (farewell_return=setup).
	 *
	 * @return string
	 */
	private static function return_url() {
		// phpcs:ignore WordPress.Security.NonceVerification.Recommended -- checked in guard(); compared only.
		$return = isset( $_GET['farewell_return'] ) ? sanitize_key( wp_unslash( $_GET['farewell_return'] ) ) : '';
		return 'setup' === $return ? Farewell_Bridge_Setup_Checklist::page_url() : self::page_url();
	}

	/**
	 * The pending notice of the current user, removed once read.
	 *
	 * @return array|null
	 */
	public static function take_notice() {
		$key    = self::NOTICE_PREFIX . get_current_user_id();
		$notice = get_transient( $key );
		if ( false === $notice ) {
			return null;
		}
		delete_transient( $key );
		return is_array( $notice ) ? $notice : null;
	}
}
