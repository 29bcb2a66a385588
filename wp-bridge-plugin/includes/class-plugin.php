<?php
/**
 * The plugin: every hook is added here, in set_up() (the sources' hooks on plugins_loaded, from
 * their hooks()). As in Query Monitor, a callback is named after its hook: action_<hook> or
 * filter_<hook> (a hook whose name holds a variable part, such as plugin_action_links_<file>,
 * without that part).
 *
 * @package Farewell_Bridge
 */

if ( ! defined( 'ABSPATH' ) ) {
	exit;
}

/**
 * Wires the bridge into WordPress.
 */
final class Farewell_Bridge_Plugin {

	/**
	 * The classes that keep something in WordPress (options, transients, user meta, cron events,
	 * tables, a page): each says what in its owned(), and uninstall.php removes what they say.
	 * tests/wordpress/test_plugin_lifecycle.py checks that nothing named farewell is left.
	 *
	 * @var string[]
	 */
	const DATA_OWNERS = array(
		'Farewell_Bridge_Settings',
		'Farewell_Bridge_Outbox',
		'Farewell_Bridge_Request_Log',
		'Farewell_Bridge_Rate_Limit',
		'Farewell_Bridge_Dispatcher',
		'Farewell_Bridge_Clock',
		'Farewell_Bridge_Site_Info',
		'Farewell_Bridge_Admin',
		'Farewell_Bridge_Dashboard_Menu',
		'Farewell_Bridge_Survey',
		'Farewell_Bridge_Survey_Form',
		'Farewell_Bridge_Source_Memberpress',
		'Farewell_Bridge_Importer',
		'Farewell_Bridge_Setup_Checklist',
	);

	/**
	 * The instance.
	 *
	 * @var Farewell_Bridge_Plugin|null
	 */
	private static $instance = null;

	/**
	 * Main plugin file.
	 *
	 * @var string
	 */
	private $file;

	/**
	 * Sources registered on plugins_loaded (slug => source).
	 *
	 * @var Farewell_Bridge_Source[]
	 */
	private $active_sources = array();

	/**
	 * Starts the plugin once.
	 *
	 * @param string $file Main plugin file.
	 * @return Farewell_Bridge_Plugin
	 */
	public static function init( $file ) {
		if ( null === self::$instance ) {
			self::$instance = new self( $file );
			self::$instance->set_up();
		}
		return self::$instance;
	}

	/**
	 * The running instance.
	 *
	 * @return Farewell_Bridge_Plugin|null
	 */
	public static function instance() {
		return self::$instance;
	}

	/**
	 * Constructor.
	 *
	 * @param string $file Main plugin file.
	 */
	private function __construct( $file ) {
		$this->file = $file;
	}

	/**
	 * Every source the bridge knows, active or not.
	 *
	 * @return Farewell_Bridge_Source[]
	 */
	public static function all_sources() {
		return array(
			new Farewell_Bridge_Source_Memberpress(),
			new Farewell_Bridge_Source_Pmpro(),
			new Farewell_Bridge_Source_Woocommerce_Subscriptions(),
			new Farewell_Bridge_Source_Restrict_Content(),
		);
	}

	/**
	 * Slugs of the sources listening in this request.
	 *
	 * @return string[]
	 */
	public function active_source_slugs() {
		return array_keys( $this->active_sources );
	}

	/**
	 * Adds every hook of the plugin.
	 */
	private function set_up() {
		register_activation_hook( $this->file, array( __CLASS__, 'activate' ) );
		register_deactivation_hook( $this->file, array( __CLASS__, 'deactivate' ) );

		// Sources: after every plugin is loaded, so class_exists() answers truthfully.
		add_action( 'plugins_loaded', array( $this, 'action_plugins_loaded' ), 20 );
		add_action( 'init', array( $this, 'action_init' ) );

		// Delivery.
		add_filter( 'cron_schedules', array( 'Farewell_Bridge_Dispatcher', 'filter_cron_schedules' ) ); // phpcs:ignore WordPress.WP.CronInterval.ChangeDetected -- every minute is intended.
		add_action( Farewell_Bridge_Dispatcher::CRON_HOOK, array( 'Farewell_Bridge_Dispatcher', 'action_farewell_bridge_deliver' ) );
		add_action( 'shutdown', array( 'Farewell_Bridge_Dispatcher', 'action_shutdown' ), Farewell_Bridge_Dispatcher::SHUTDOWN_PRIORITY );
		add_action( 'wp_ajax_' . Farewell_Bridge_Dispatcher::LOOPBACK_ACTION, array( 'Farewell_Bridge_Dispatcher', 'action_wp_ajax_farewell_bridge_deliver' ) );
		add_action( 'wp_ajax_nopriv_' . Farewell_Bridge_Dispatcher::LOOPBACK_ACTION, array( 'Farewell_Bridge_Dispatcher', 'action_wp_ajax_farewell_bridge_deliver' ) );
		add_filter( 'http_request_host_is_external', array( 'Farewell_Bridge_Client', 'filter_http_request_host_is_external' ), 10, 2 );
		add_filter( 'http_allowed_safe_ports', array( 'Farewell_Bridge_Client', 'filter_http_allowed_safe_ports' ), 10, 2 );

		// Sidecar → bridge REST routes: POST farewell/v1/mail and farewell/v1/coupons, signed
		// (docs/PROTOCOL.md); errors there answered as {"error", "message"}.
		add_action( 'rest_api_init', array( 'Farewell_Bridge_Rest', 'action_rest_api_init' ) );
		add_filter( 'rest_post_dispatch', array( 'Farewell_Bridge_Rest', 'filter_rest_post_dispatch' ), 10, 3 );

		// Survey: the exit survey after a member's own cancel, on email links and in the
		// [farewell_survey] shortcode; answers go to farewell/v1/survey, then the outbox.
		add_action( 'farewell_bridge_event_recorded', array( 'Farewell_Bridge_Survey', 'action_farewell_bridge_event_recorded' ), 10, 2 );
		// The member's own cancel under PHP-FPM: its survey mark written after the response, before the delivery.
		add_action( 'shutdown', array( 'Farewell_Bridge_Survey', 'action_shutdown' ), Farewell_Bridge_Dispatcher::SHUTDOWN_PRIORITY - 1 );
		add_action( 'init', array( 'Farewell_Bridge_Survey_Form', 'action_init' ) );
		add_action( 'template_redirect', array( 'Farewell_Bridge_Survey_Form', 'action_template_redirect' ) );
		add_filter( 'the_content', array( 'Farewell_Bridge_Survey_Form', 'filter_the_content' ), 99 );
		add_action( 'wp_body_open', array( 'Farewell_Bridge_Survey_Form', 'action_wp_body_open' ) );
		add_filter( 'get_pages', array( 'Farewell_Bridge_Survey_Form', 'filter_get_pages' ) );
		add_filter( 'wp_robots', array( 'Farewell_Bridge_Survey_Form', 'filter_wp_robots' ) );
		add_action( 'wp_head', array( 'Farewell_Bridge_Survey_Form', 'action_wp_head' ), 0 );
		add_action( 'rest_api_init', array( 'Farewell_Bridge_Survey_Form', 'action_rest_api_init' ) );
		add_filter( 'rest_post_dispatch', array( 'Farewell_Bridge_Survey_Form', 'filter_rest_post_dispatch' ), 10, 3 );

		// Rate limits of the public survey route and email-link look-ups: counters shared by every
		// PHP process in their own table, pruned hourly.
		add_action( Farewell_Bridge_Rate_Limit::PRUNE_HOOK, array( 'Farewell_Bridge_Rate_Limit', 'action_farewell_bridge_prune_rate_limits' ), 10, 0 );

		// Privacy.
		add_filter( 'wp_privacy_personal_data_exporters', array( 'Farewell_Bridge_Privacy', 'filter_wp_privacy_personal_data_exporters' ) );
		add_filter( 'wp_privacy_personal_data_erasers', array( 'Farewell_Bridge_Privacy', 'filter_wp_privacy_personal_data_erasers' ) );

		// Admin.
		add_action( 'admin_init', array( 'Farewell_Bridge_Settings', 'action_admin_init' ) );
		add_action( 'admin_init', array( 'Farewell_Bridge_Privacy', 'action_admin_init' ) );
		add_action( 'admin_menu', array( 'Farewell_Bridge_Admin', 'action_admin_menu' ) );
		// Site Health says when the secret cannot be used (the settings page says it too).
		add_filter( 'site_status_tests', array( 'Farewell_Bridge_Site_Health', 'filter_site_status_tests' ) );
		// …and whether the sidecar answers, the outbox is clear and delivery runs; Info → Farewell.
		add_action( 'rest_api_init', array( 'Farewell_Bridge_Site_Health', 'action_rest_api_init' ) );
		add_filter( 'debug_information', array( 'Farewell_Bridge_Site_Health', 'filter_debug_information' ) );
		add_filter( 'plugin_action_links_' . plugin_basename( $this->file ), array( 'Farewell_Bridge_Admin', 'filter_plugin_action_links' ) );
		foreach ( Farewell_Bridge_Admin::ACTIONS as $action => $method ) {
			add_action( 'admin_post_' . $action, array( 'Farewell_Bridge_Admin', $method ) );
		}

		// Farewell → Set-up: the checklist of what is left to set up, read from the site's state.
		add_action( 'admin_menu', array( 'Farewell_Bridge_Setup_Checklist', 'action_admin_menu' ), 15 );
		add_action( 'admin_post_' . Farewell_Bridge_Setup_Checklist::SAMPLE_ACTION, array( 'Farewell_Bridge_Setup_Checklist', 'action_admin_post_farewell_bridge_send_sample_digest' ) );

		// History import: Farewell → Import history starts it; it runs in bounded steps from cron
		// and from the page's poll (and to the end in `wp farewell import`).
		add_action( 'admin_menu', array( 'Farewell_Bridge_Import_Page', 'action_admin_menu' ), 20 );
		add_action( 'admin_post_' . Farewell_Bridge_Importer::START_ACTION, array( 'Farewell_Bridge_Import_Page', 'action_admin_post_farewell_bridge_import_start' ) );
		add_action( 'wp_ajax_' . Farewell_Bridge_Importer::AJAX_ACTION, array( 'Farewell_Bridge_Importer', 'action_wp_ajax_farewell_bridge_import_step' ) );
		add_action( Farewell_Bridge_Importer::CRON_HOOK, array( 'Farewell_Bridge_Importer', 'action_farewell_bridge_import_step' ) );

		// Dashboard: the Farewell menu (this week's figures) and "Open dashboard", which signs the
		// admin in to the sidecar's dashboard with a single-use token.
		add_action( 'admin_menu', array( 'Farewell_Bridge_Dashboard_Menu', 'action_admin_menu' ) );
		add_action( 'admin_post_' . Farewell_Bridge_Dashboard_Menu::OPEN_ACTION, array( 'Farewell_Bridge_Dashboard_Menu', 'action_admin_post_farewell_bridge_open_dashboard' ) );

		// WP-CLI: `wp farewell status|test|deliver|retry`.
		if ( defined( 'WP_CLI' ) && WP_CLI ) {
			WP_CLI::add_command( 'farewell', 'Farewell_Bridge_Cli' );
		}

		// Site information: the admin email is the digest's default recipient.
		add_action( 'update_option_admin_email', array( 'Farewell_Bridge_Site_Info', 'action_update_option_admin_email' ) );
		add_action( Farewell_Bridge_Site_Info::CRON_HOOK, array( 'Farewell_Bridge_Site_Info', 'action_farewell_bridge_report_site_info' ) );
	}

	/**
	 * Upgrades the table if needed and starts the sources whose plugin is active.
	 */
	public function action_plugins_loaded() {
		try {
			Farewell_Bridge_Outbox::maybe_upgrade();
			Farewell_Bridge_Rate_Limit::maybe_upgrade();
		} catch ( Throwable $e ) {
			Farewell_Bridge_Dispatcher::log( $e );
		}
		foreach ( self::all_sources() as $source ) {
			if ( isset( $this->active_sources[ $source->slug() ] ) || ! $source->is_available() ) {
				continue;
			}
			$this->active_sources[ $source->slug() ] = $source;
			try {
				Farewell_Bridge_Importer::note_live( $source->slug() );
			} catch ( Throwable $e ) {
				Farewell_Bridge_Dispatcher::log( $e );
			}
			foreach ( $source->hooks() as $hook ) {
				list( $name, $method, $args ) = $hook;
				add_action( $name, self::guarded( $source, $method ), 10, $args );
			}
		}
	}

	/**
	 * Loads translations and makes sure the cron event exists.
	 */
	public function action_init() {
		load_plugin_textdomain( 'farewell-bridge', false, dirname( plugin_basename( $this->file ) ) . '/languages' );
		Farewell_Bridge_Dispatcher::ensure_scheduled();
		Farewell_Bridge_Rate_Limit::ensure_scheduled();
	}

	/**
	 * Wraps a source handler: whatever happens inside, the membership plugin's flow goes on.
	 *
	 * @param Farewell_Bridge_Source $source Source.
	 * @param string                 $method Method name.
	 * @return Closure
	 */
	private static function guarded( Farewell_Bridge_Source $source, $method ) {
		return static function ( ...$args ) use ( $source, $method ) {
			try {
				$source->$method( ...$args );
			} catch ( Throwable $e ) {
				Farewell_Bridge_Dispatcher::log( $e );
			}
		};
	}

	/**
	 * Activation: table, non-autoloaded secret option, cron event.
	 */
	public static function activate() {
		Farewell_Bridge_Outbox::install();
		Farewell_Bridge_Request_Log::install();
		Farewell_Bridge_Rate_Limit::install();
		Farewell_Bridge_Settings::ensure_secret_option();
		Farewell_Bridge_Survey_Form::ensure_page();
		add_filter( 'cron_schedules', array( 'Farewell_Bridge_Dispatcher', 'filter_cron_schedules' ) ); // phpcs:ignore WordPress.WP.CronInterval.ChangeDetected
		Farewell_Bridge_Dispatcher::ensure_scheduled();
	}

	/**
	 * Deactivation: stop the cron event (data stays).
	 */
	public static function deactivate() {
		Farewell_Bridge_Dispatcher::unschedule();
		wp_clear_scheduled_hook( Farewell_Bridge_Site_Info::CRON_HOOK );
		wp_clear_scheduled_hook( Farewell_Bridge_Rate_Limit::PRUNE_HOOK );
		wp_clear_scheduled_hook( Farewell_Bridge_Importer::CRON_HOOK );
	}
}
