<?php
/**
 * Farewell → Set-up: what is left to do after activating the plugin, read from the real state
 * each time the page opens (settings, the last successful connection test, the active membership
 * plugins, the survey page, the import's progress, the mails the sidecar sent through WordPress).
 * Nothing here is a to-do list the owner ticks: a step is done when the site says it is.
 *
 * The sidecar's signed routes the bridge may call (ping, summary, survey, site-info) say nothing of
 * the digest's chosen recipients nor of how the sidecar sends mail, so those two steps say what
 * the plugin itself knows and where to look in the dashboard. There is no "send me a sample
 * digest" step: the sidecar has no route the bridge could call for it.
 *
 * @package Farewell_Bridge
 */

if ( ! defined( 'ABSPATH' ) ) {
	exit;
}

/**
 * The set-up checklist: its state and its page.
 */
class Farewell_Bridge_Setup_Checklist {

	const CAPABILITY = 'manage_options';
	const PAGE       = 'farewell-setup';
	const HANDLE     = 'farewell-bridge-setup';

	/**
	 * Non-autoloaded option: the last successful "Test connection" (at, sidecar_url, site_id). The
	 * step is done only while the settings are the ones that were tested.
	 */
	const TESTED_OPTION = 'farewell_bridge_connection_tested';

	const DONE = 'done';
	const TODO = 'todo';
	const INFO = 'info';

	/**
	 * Membership plugins the bridge does not listen to, by plugin folder (as in active_plugins):
	 * the owner should know their cancellations will not reach Farewell.
	 *
	 * @var array<string,string>
	 */
	const UNSUPPORTED = array(
		'paid-member-subscriptions' => 'Paid Member Subscriptions',
		'ultimate-member'           => 'Ultimate Member',
		'simple-membership'         => 'Simple Membership',
		's2member'                  => 's2Member',
		'wishlist-member'           => 'WishList Member',
		'membermouse'               => 'MemberMouse',
		'woocommerce-memberships'   => 'WooCommerce Memberships',
		'surecart'                  => 'SureCart',
		'armember-membership'       => 'ARMember',
		'indeed-membership-pro'     => 'Ultimate Membership Pro',
		'digital-access-pass'       => 'DAP',
	);

	/**
	 * What this class keeps in WordPress, which uninstall.php removes (see Farewell_Bridge_Plugin::DATA_OWNERS).
	 *
	 * @return array See uninstall.php.
	 */
	public static function owned() {
		return array(
			'options' => array( self::TESTED_OPTION ),
		);
	}

	/**
	 * Adds Farewell → Set-up (after the Farewell menu exists). Hooked on admin_menu.
	 */
	public static function action_admin_menu() {
		$hook = add_submenu_page(
			Farewell_Bridge_Dashboard_Menu::PAGE,
			__( 'Set-up', 'farewell-bridge' ),
			__( 'Set-up', 'farewell-bridge' ),
			self::CAPABILITY,
			self::PAGE,
			array( __CLASS__, 'render_page' )
		);
		if ( $hook ) {
			add_action( 'load-' . $hook, array( __CLASS__, 'enqueue' ) );
		}
	}

	/**
	 * The checklist's small stylesheet and script (the Farewell page shows the checklist too).
	 */
	public static function enqueue() {
		wp_enqueue_style( self::HANDLE, plugins_url( 'admin/css/setup.css', FAREWELL_BRIDGE_FILE ), array(), FAREWELL_BRIDGE_VERSION );
		wp_enqueue_script( self::HANDLE, plugins_url( 'admin/js/setup.js', FAREWELL_BRIDGE_FILE ), array(), FAREWELL_BRIDGE_VERSION, true );
	}

	/**
	 * URL of the page.
	 *
	 * @return string
	 */
	public static function page_url() {
		return admin_url( 'admin.php?page=' . self::PAGE );
	}

	/**
	 * Remembers a successful connection test for the settings it was made with.
	 */
	public static function note_tested() {
		update_option(
			self::TESTED_OPTION,
			array(
				'at'          => time(),
				'sidecar_url' => Farewell_Bridge_Settings::sidecar_url(),
				'site_id'     => Farewell_Bridge_Settings::site_id(),
				'secret'      => self::fingerprint(),
			),
			false
		);
	}

	/**
	 * A fingerprint of the secret in use, so that a new secret asks for a new test (the secret
	 * itself is never copied elsewhere).
	 *
	 * @return string
	 */
	private static function fingerprint() {
		return substr( hash_hmac( 'sha256', Farewell_Bridge_Settings::secret(), 'farewell-bridge-connection-tested' ), 0, 16 );
	}

	/**
	 * When the current settings were last tested successfully; 0 when never, or when the URL, the
	 * site id or the secret changed since.
	 *
	 * @return int Unix time.
	 */
	public static function tested_at() {
		$tested = get_option( self::TESTED_OPTION, array() );
		if ( ! is_array( $tested ) || empty( $tested['at'] ) ) {
			return 0;
		}
		$same = isset( $tested['sidecar_url'], $tested['site_id'], $tested['secret'] )
			&& Farewell_Bridge_Settings::sidecar_url() === $tested['sidecar_url']
			&& Farewell_Bridge_Settings::site_id() === $tested['site_id']
			&& self::fingerprint() === $tested['secret'];
		return $same ? (int) $tested['at'] : 0;
	}

	/**
	 * Active plugins that look like membership plugins the bridge does not support.
	 *
	 * @param string[] $active_plugins Plugin files as in the active_plugins option.
	 * @return string[] Their names.
	 */
	public static function unsupported_plugins( array $active_plugins ) {
		$found = array();
		foreach ( $active_plugins as $file ) {
			$folder = strtok( (string) $file, '/' );
			if ( isset( self::UNSUPPORTED[ $folder ] ) ) {
				$found[] = self::UNSUPPORTED[ $folder ];
			}
		}
		return array_values( array_unique( $found ) );
	}

	/**
	 * Published pages holding the survey: the bridge's own survey page first, then any other page
	 * with the shortcode (at most a few).
	 *
	 * @return WP_Post[]
	 */
	public static function survey_pages() {
		$pages = array();
		$id    = (int) get_option( Farewell_Bridge_Survey_Form::PAGE_OPTION, 0 );
		$own   = $id > 0 ? get_post( $id ) : null;
		if ( $own && 'page' === $own->post_type && 'publish' === $own->post_status && self::holds_survey( $own ) ) {
			$pages[] = $own;
		}
		global $wpdb;
		// A direct LIKE: WordPress's search splits and cleans its terms, and would miss "[farewell_survey".
		// phpcs:ignore WordPress.DB.DirectDatabaseQuery -- one bounded read for an admin page.
		$ids    = $wpdb->get_col( $wpdb->prepare( "SELECT ID FROM {$wpdb->posts} WHERE post_type = 'page' AND post_status = 'publish' AND ID <> %d AND post_content LIKE %s ORDER BY ID LIMIT 5", $id, '%' . $wpdb->esc_like( '[' . Farewell_Bridge_Survey_Form::SHORTCODE ) . '%' ) );
		$others = array_filter( array_map( 'get_post', array_map( 'intval', $ids ) ) );
		foreach ( $others as $page ) {
			if ( self::holds_survey( $page ) ) {
				$pages[] = $page;
			}
		}
		return $pages;
	}

	/**
	 * Whether a post's content holds the survey's shortcode (read like has_shortcode(), which
	 * however answers false whenever the shortcode is not registered in this request).
	 *
	 * @param WP_Post $post Post.
	 * @return bool
	 */
	private static function holds_survey( $post ) {
		return 1 === preg_match( '/' . get_shortcode_regex( array( Farewell_Bridge_Survey_Form::SHORTCODE ) ) . '/', (string) $post->post_content );
	}

	/**
	 * Emails the sidecar sent through this WordPress (the mail route's answered requests, kept
	 * 8 days by the request log).
	 *
	 * @return int
	 */
	public static function mails_sent_through_wordpress() {
		global $wpdb;
		$table = Farewell_Bridge_Request_Log::table();
		// phpcs:ignore WordPress.DB.DirectDatabaseQuery, WordPress.DB.PreparedSQL.InterpolatedNotPrepared -- the plugin's own table, a count for one page.
		return (int) $wpdb->get_var( $wpdb->prepare( "SELECT COUNT(*) FROM {$table} WHERE route = %s AND status_code = 200", Farewell_Bridge_Rest_Mail::ROUTE ) );
	}

	/**
	 * The slugs of the membership plugins the bridge listens to in this request.
	 *
	 * @return string[]
	 */
	private static function active_sources() {
		$plugin = Farewell_Bridge_Plugin::instance();
		return null === $plugin ? array() : $plugin->active_source_slugs();
	}

	/**
	 * Every step, in order, read from the site now.
	 *
	 * @return array[] Each: id, status (done, todo, info), title, detail (plain text, may be
	 *                 several lines), and optional link (label, url), form (action, label) and
	 *                 view (label, url) entries.
	 */
	public static function steps() {
		return self::build(
			array(
				'configured'     => Farewell_Bridge_Settings::is_configured(),
				'secret_error'   => Farewell_Bridge_Settings::secret_error(),
				'locked'         => array_values(
					array_filter(
						array( 'sidecar_url', 'site_id', 'secret' ),
						array( 'Farewell_Bridge_Settings', 'is_locked' )
					)
				),
				'sidecar_url'    => Farewell_Bridge_Settings::sidecar_url(),
				'site_id'        => Farewell_Bridge_Settings::site_id(),
				'tested_at'      => self::tested_at(),
				'last_delivery'  => (int) get_option( Farewell_Bridge_Outbox::LAST_DELIVERY_OPTION, 0 ),
				'sources'        => self::active_sources(),
				'unsupported'    => self::unsupported_plugins( (array) get_option( 'active_plugins', array() ) ),
				'survey_pages'   => array_map(
					static function ( $page ) {
						return array(
							'title' => get_the_title( $page ),
							'url'   => Farewell_Bridge_Survey_Form::preview_url( (string) get_permalink( $page ) ),
						);
					},
					self::survey_pages()
				),
				'admin_email'    => (string) get_option( 'admin_email' ),
				'import_status'  => Farewell_Bridge_Importer::progress()['status'],
				'mails_via_wp'   => self::mails_sent_through_wordpress(),
			)
		);
	}

	/**
	 * The steps from a snapshot of the site's state (kept apart so that tests can give any state).
	 *
	 * @param array $state See steps().
	 * @return array[]
	 */
	public static function build( array $state ) {
		$names = Farewell_Bridge_Import_Page::source_names();
		$steps = array();

		// 1. Connect.
		$where = array();
		foreach ( $state['locked'] as $field ) {
			$where[] = array(
				'sidecar_url' => 'FAREWELL_SIDECAR_URL',
				'site_id'     => 'FAREWELL_SITE_ID',
				'secret'      => 'FAREWELL_SECRET',
			)[ $field ];
		}
		if ( $state['configured'] ) {
			/* translators: 1: the sidecar's address, 2: the site id. */
			$detail = sprintf( __( 'Sidecar %1$s, site id %2$s.', 'farewell-bridge' ), $state['sidecar_url'], $state['site_id'] );
		} elseif ( '' !== $state['secret_error'] ) {
			$detail = $state['secret_error'];
		} else {
			$detail = __( 'Enter the sidecar URL, the site id and the secret that "python -m sidecar sites add" printed on the sidecar.', 'farewell-bridge' );
		}
		if ( ! empty( $where ) ) {
			/* translators: %s: names of wp-config.php constants. */
			$detail .= "\n" . sprintf( __( 'Defined in wp-config.php: %s.', 'farewell-bridge' ), implode( ', ', $where ) );
		}
		$steps[] = array(
			'id'     => 'connect',
			'status' => $state['configured'] ? self::DONE : self::TODO,
			'title'  => __( 'Connect to your sidecar', 'farewell-bridge' ),
			'detail' => $detail,
			'link'   => array(
				'label' => $state['configured'] ? __( 'Change the connection', 'farewell-bridge' ) : __( 'Enter the connection', 'farewell-bridge' ),
				'url'   => Farewell_Bridge_Admin::page_url(),
			),
		);

		// 2. Test the connection.
		if ( $state['tested_at'] > 0 ) {
			/* translators: %s: date and time. */
			$detail = sprintf( __( 'The sidecar accepted this site\'s signature on %s.', 'farewell-bridge' ), wp_date( get_option( 'date_format' ) . ' ' . get_option( 'time_format' ), $state['tested_at'] ) );
		} elseif ( ! $state['configured'] ) {
			$detail = __( 'Connect first, then test.', 'farewell-bridge' );
		} else {
			$detail = __( 'Not tested since the connection was last changed: the test sends a signed request and says what went wrong, if anything.', 'farewell-bridge' );
		}
		$steps[] = array(
			'id'     => 'test',
			'status' => $state['configured'] && $state['tested_at'] > 0 ? self::DONE : self::TODO,
			'title'  => __( 'Test the connection', 'farewell-bridge' ),
			'detail' => $detail,
			'link'   => $state['configured'] ? array(
				'label' => __( 'Test connection', 'farewell-bridge' ),
				'url'   => Farewell_Bridge_Admin::action_url( 'farewell_bridge_test_connection', array( 'farewell_return' => 'setup' ) ),
			) : null,
		);

		// 3. Membership plugins.
		$found = array();
		foreach ( $state['sources'] as $slug ) {
			$found[] = isset( $names[ $slug ] ) ? $names[ $slug ] : $slug;
		}
		if ( ! empty( $found ) ) {
			/* translators: %s: names of membership plugins. */
			$detail = sprintf( __( 'Farewell listens to: %s.', 'farewell-bridge' ), implode( ', ', $found ) );
		} else {
			/* translators: %s: names of the supported membership plugins. */
			$detail = sprintf( __( 'No supported membership plugin is active. Farewell works with %s.', 'farewell-bridge' ), implode( ', ', array_values( $names ) ) );
		}
		if ( ! empty( $state['unsupported'] ) ) {
			/* translators: %s: names of membership plugins. */
			$detail .= "\n" . sprintf( __( 'Not supported, their cancellations do not reach Farewell: %s.', 'farewell-bridge' ), implode( ', ', $state['unsupported'] ) );
		}
		$steps[] = array(
			'id'     => 'membership',
			'status' => ! empty( $found ) ? self::DONE : self::TODO,
			'title'  => __( 'Membership plugin', 'farewell-bridge' ),
			'detail' => $detail,
			'link'   => empty( $found ) ? array(
				'label' => __( 'Plugins', 'farewell-bridge' ),
				'url'   => admin_url( 'plugins.php' ),
			) : null,
		);

		// 4. The survey.
		$pages = $state['survey_pages'];
		if ( ! empty( $pages ) ) {
			$detail = __( 'After cancelling, the member\'s next page shows the exit survey by itself.', 'farewell-bridge' ) . "\n"
				/* translators: %s: a page's title. */
				. sprintf( __( 'Email links open the survey on the page "%s".', 'farewell-bridge' ), $pages[0]['title'] );
		} else {
			$detail = __( 'No published page holds the survey: email links have nowhere to open it. Put the [farewell_survey] shortcode on a page, or deactivate and activate Farewell to create its page again.', 'farewell-bridge' );
		}
		$steps[] = array(
			'id'     => 'survey',
			'status' => ! empty( $pages ) ? self::DONE : self::TODO,
			'title'  => __( 'The exit survey', 'farewell-bridge' ),
			'detail' => $detail,
			'link'   => ! empty( $pages ) ? array(
				'label' => __( 'See it as a member would', 'farewell-bridge' ),
				'url'   => $pages[0]['url'],
			) : array(
				'label' => __( 'Add a page', 'farewell-bridge' ),
				'url'   => admin_url( 'post-new.php?post_type=page' ),
			),
		);

		// 5. Who receives the digest. The sidecar learns the admin email at each successful test;
		// recipients chosen in the dashboard replace it, and the bridge cannot read them back.
		$steps[] = array(
			'id'     => 'digest',
			'status' => $state['tested_at'] > 0 ? self::DONE : self::TODO,
			'title'  => __( 'Who receives the weekly digest', 'farewell-bridge' ),
			'detail' => $state['tested_at'] > 0
				/* translators: %s: an email address. */
				? sprintf( __( 'The sidecar was told this site\'s administration email, %s: the digest goes there unless you chose other recipients in the dashboard (Settings).', 'farewell-bridge' ), $state['admin_email'] )
				: __( 'The digest goes to this site\'s administration email once the connection has been tested; you can choose other recipients in the dashboard.', 'farewell-bridge' ),
			'form'   => $state['configured'] ? array(
				'action' => Farewell_Bridge_Dashboard_Menu::OPEN_ACTION,
				'label'  => __( 'Open dashboard', 'farewell-bridge' ),
			) : null,
		);

		// 6. Import history.
		$import  = $state['import_status'];
		$steps[] = array(
			'id'     => 'import',
			'status' => 'done' === $import ? self::DONE : self::TODO,
			'title'  => __( 'Import history', 'farewell-bridge' ),
			'detail' => 'done' === $import
				? __( 'Your membership plugin\'s past subscriptions were imported.', 'farewell-bridge' )
				: ( 'running' === $import ? __( 'The import is running.', 'farewell-bridge' ) : __( 'Send the subscriptions your membership plugin already knows, so that the dashboard shows your past months from the first day.', 'farewell-bridge' ) ),
			'link'   => array(
				'label' => __( 'Import history', 'farewell-bridge' ),
				'url'   => Farewell_Bridge_Import_Page::page_url(),
			),
		);

		// 7. How emails leave: the sidecar does not tell the bridge, so say what WordPress saw.
		$steps[] = array(
			'id'     => 'mail',
			'status' => self::INFO,
			'title'  => __( 'How emails are sent', 'farewell-bridge' ),
			'detail' => $state['mails_via_wp'] > 0
				/* translators: %s: number of emails. */
				? sprintf( _n( 'The sidecar sent %s email through WordPress in the last 8 days: Farewell\'s emails leave the way this site\'s own do.', 'The sidecar sent %s emails through WordPress in the last 8 days: Farewell\'s emails leave the way this site\'s own do.', $state['mails_via_wp'], 'farewell-bridge' ), number_format_i18n( $state['mails_via_wp'] ) )
				: __( 'No email went through WordPress in the last 8 days: either the sidecar sends with its own SMTP server, or none was due yet. The sidecar\'s FAREWELL_MAIL_URL says which (wordpress: or smtp://).', 'farewell-bridge' ),
		);

		return $steps;
	}

	/**
	 * Whether every step that can be done is done.
	 *
	 * @param array[] $steps Steps.
	 * @return bool
	 */
	public static function complete( array $steps ) {
		foreach ( $steps as $step ) {
			if ( self::TODO === $step['status'] ) {
				return false;
			}
		}
		return true;
	}

	/**
	 * Renders Farewell → Set-up.
	 */
	public static function render_page() {
		if ( ! current_user_can( self::CAPABILITY ) ) {
			wp_die( esc_html__( 'Sorry, you are not allowed to manage Farewell Bridge.', 'farewell-bridge' ), 403 );
		}
		$view = array(
			'steps'  => self::steps(),
			'notice' => Farewell_Bridge_Admin::take_notice(),
		);
		echo '<div class="wrap">';
		echo '<h1>' . esc_html__( 'Set up Farewell', 'farewell-bridge' ) . '</h1>';
		require FAREWELL_BRIDGE_DIR . '/admin/views/setup-checklist.php';
		echo '</div>';
	}
}
