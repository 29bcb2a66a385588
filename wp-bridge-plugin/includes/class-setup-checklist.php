<?php
/**
 * Farewell → Set-up: what is left to do after activating the plugin, read from the real state
 * each time the page opens (settings, the last successful connection test, the active membership
 * plugins, the survey page, the import's progress, the mails the sidecar sent through WordPress).
 * Nothing here is a to-do list the owner ticks: a step is done when the site says it is.
 *
 * Who receives the digest and how the sidecar's mail leaves are the sidecar's to say: those two
 * steps read its signed GET …/digest/settings (cached a minute), and say what the plugin itself
 * knows when the sidecar cannot be asked. The last step sends the admin a sample digest now
 * (signed POST …/digest/sample), which the sidecar sends only to an address it knows for the site.
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

	/** Transient: the sidecar's answer to GET …/digest/settings, for DIGEST_TTL seconds. */
	const DIGEST_TRANSIENT = 'farewell_bridge_digest_settings';
	const DIGEST_TTL       = 60;

	/** admin-post.php action (and nonce action) of "Send me a sample digest now". */
	const SAMPLE_ACTION = 'farewell_bridge_send_sample_digest';

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
			'options'    => array( self::TESTED_OPTION ),
			'transients' => array( self::DIGEST_TRANSIENT ),
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
		// The test reports the admin email to the sidecar: what it answered before may be stale.
		delete_transient( self::DIGEST_TRANSIENT );
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
	 * The sidecar's digest settings (recipients, how mail leaves), cached for DIGEST_TTL seconds;
	 * an error message instead when it cannot be asked, so that the checklist still renders.
	 *
	 * @return array{settings:array|null,error:string}
	 */
	public static function sidecar_digest() {
		if ( ! Farewell_Bridge_Settings::is_configured() ) {
			return array(
				'settings' => null,
				'error'    => '',
			);
		}
		$cached = get_transient( self::DIGEST_TRANSIENT );
		if ( is_array( $cached ) && isset( $cached['unreachable'] ) ) {
			// A failure is kept too: a sidecar whose host drops connections would otherwise make
			// every load of this page wait for the request's timeout.
			return array(
				'settings' => null,
				'error'    => (string) $cached['unreachable'],
			);
		}
		if ( is_array( $cached ) ) {
			return array(
				'settings' => $cached,
				'error'    => '',
			);
		}
		$result = Farewell_Bridge_Client::from_settings()->request( 'GET', 'digest/settings', 'fwb_digest_' . wp_generate_uuid4(), '', 3.0 );
		$body   = $result['body'];
		if ( Farewell_Bridge_Client::DELIVERED === $result['kind'] && is_array( $body ) && isset( $body['recipients'], $body['transport'] ) && is_array( $body['recipients'] ) && is_array( $body['transport'] ) ) {
			set_transient( self::DIGEST_TRANSIENT, $body, self::DIGEST_TTL );
			return array(
				'settings' => $body,
				'error'    => '',
			);
		}
		if ( Farewell_Bridge_Client::DELIVERED === $result['kind'] ) {
			$error = __( 'The sidecar sent an answer the bridge does not understand.', 'farewell-bridge' );
		} elseif ( self::is_older_sidecar( $result ) ) {
			$error = __( 'The sidecar is older than this plugin and cannot say it: update the Farewell sidecar.', 'farewell-bridge' );
		} else {
			$error = $result['message'];
		}
		set_transient( self::DIGEST_TRANSIENT, array( 'unreachable' => $error ), self::DIGEST_TTL );
		return array(
			'settings' => null,
			'error'    => $error,
		);
	}

	/**
	 * Whether a 404 came from a sidecar without the route (its "not_found"), not from an unknown site.
	 *
	 * @param array $result See Farewell_Bridge_Client::request().
	 * @return bool
	 */
	private static function is_older_sidecar( array $result ) {
		return 404 === $result['status'] && is_array( $result['body'] ) && isset( $result['body']['error'] ) && 'not_found' === $result['body']['error'];
	}

	/**
	 * "Send me a sample digest now": asks the sidecar to send last week's digest to the current
	 * administrator's address, in their language, and comes back to the checklist with what it
	 * said. Hooked on admin_post_farewell_bridge_send_sample_digest.
	 */
	public static function action_admin_post_farewell_bridge_send_sample_digest() {
		if ( ! current_user_can( self::CAPABILITY ) ) {
			wp_die( esc_html__( 'Sorry, you are not allowed to manage Farewell Bridge.', 'farewell-bridge' ), '', array( 'response' => 403 ) );
		}
		check_admin_referer( self::SAMPLE_ACTION );
		if ( ! Farewell_Bridge_Settings::is_configured() ) {
			self::back_with( 'error', __( 'Fill in the sidecar URL, site id and secret first.', 'farewell-bridge' ) );
		}
		$user   = wp_get_current_user();
		$to     = (string) $user->user_email;
		$result = Farewell_Bridge_Client::from_settings()->post_json(
			'digest/sample',
			array(
				'to'     => $to,
				'locale' => (string) get_user_locale( $user ),
			),
			30.0
		);
		Farewell_Bridge_Clock::note( $result );
		if ( Farewell_Bridge_Client::DELIVERED === $result['kind'] ) {
			/* translators: %s: an email address. */
			self::back_with( 'success', sprintf( __( 'A sample digest is on its way to %s.', 'farewell-bridge' ), $to ) );
		}
		$code = is_array( $result['body'] ) && isset( $result['body']['error'] ) ? (string) $result['body']['error'] : '';
		if ( 403 === $result['status'] && 'recipient_not_allowed' === $code ) {
			/* translators: %s: an email address. */
			$message = sprintf( __( 'The sidecar sends a sample only to an address it knows for this site (the digest\'s recipients, the administration email, the owner emails), and %s is not one of them: add it to the recipients in the dashboard, or test the connection again if it is this site\'s administration email.', 'farewell-bridge' ), $to );
		} elseif ( 429 === $result['status'] ) {
			$seconds = is_array( $result['body'] ) && isset( $result['body']['retry_after'] ) ? (int) $result['body']['retry_after'] : 600;
			$minutes = max( 1, (int) ceil( $seconds / 60 ) );
			/* translators: %d: minutes. */
			$message = sprintf( _n( 'Several samples were asked for in the last minutes: try again in %d minute.', 'Several samples were asked for in the last minutes: try again in %d minutes.', $minutes, 'farewell-bridge' ), $minutes );
		} elseif ( self::is_older_sidecar( $result ) ) {
			$message = __( 'The sidecar is older than this plugin and cannot send a sample: update the Farewell sidecar.', 'farewell-bridge' );
		} elseif ( in_array( $code, array( 'mail_refused', 'mail_unavailable' ), true ) ) {
			$message = __( 'The sidecar could not send the sample: its mail server refused it or cannot be reached. Check FAREWELL_MAIL_URL on the sidecar.', 'farewell-bridge' );
		} else {
			$message = $result['message'];
		}
		self::back_with( 'error', $message );
	}

	/**
	 * Leaves a notice for the current administrator (shown once, as the settings page's are) and
	 * goes back to the checklist.
	 *
	 * @param string $type    success or error.
	 * @param string $message Plain text.
	 */
	private static function back_with( $type, $message ) {
		set_transient(
			Farewell_Bridge_Admin::NOTICE_PREFIX . get_current_user_id(),
			array(
				'type'    => $type,
				'message' => (string) $message,
			),
			MINUTE_IN_SECONDS * 5
		);
		wp_safe_redirect( self::page_url() );
		exit;
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
	 *                 view (label, url) entries. The state also holds the sidecar's digest settings
	 *                 (digest: see sidecar_digest()) and the current user's email (user_email).
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
				'digest'         => self::sidecar_digest(),
				'user_email'     => (string) wp_get_current_user()->user_email,
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
		// What the sidecar said of its digest (null when it could not be asked, see sidecar_digest()).
		$digest = isset( $state['digest'] ) && is_array( $state['digest'] ) ? $state['digest'] : array();
		$known  = isset( $digest['settings'] ) && is_array( $digest['settings'] ) ? $digest['settings'] : null;
		$unread = isset( $digest['error'] ) && '' !== $digest['error']
			/* translators: %s: why the sidecar could not be asked. */
			? "\n" . sprintf( __( 'The sidecar could not be asked: %s', 'farewell-bridge' ), $digest['error'] )
			: '';

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

		// 5. Who receives the digest, as the sidecar says; without its answer, what the bridge told it.
		$digest_form = $state['configured'] ? array(
			'action' => Farewell_Bridge_Dashboard_Menu::OPEN_ACTION,
			'label'  => __( 'Open dashboard', 'farewell-bridge' ),
		) : null;
		if ( null !== $known ) {
			$recipients = array_values( array_filter( array_map( 'strval', $known['recipients'] ) ) );
			if ( empty( $recipients ) ) {
				$digest_status = self::TODO;
				$digest_detail = __( 'Nobody receives the weekly digest yet: test the connection (the sidecar then learns this site\'s administration email), or choose recipients in the dashboard.', 'farewell-bridge' );
			} else {
				$digest_status = self::DONE;
				/* translators: %s: email addresses. */
				$digest_detail = sprintf( __( 'The weekly digest goes to %s.', 'farewell-bridge' ), implode( ', ', $recipients ) ) . "\n"
					. ( ! empty( $known['recipients_customised'] )
						? __( 'You chose these recipients in the dashboard (Settings).', 'farewell-bridge' )
						: __( 'By default: this site\'s administration email as the sidecar was told, else the owner emails; you can choose other recipients in the dashboard (Settings).', 'farewell-bridge' ) );
			}
		} else {
			$digest_status = $state['tested_at'] > 0 ? self::DONE : self::TODO;
			$digest_detail = ( $state['tested_at'] > 0
				/* translators: %s: an email address. */
				? sprintf( __( 'The sidecar was told this site\'s administration email, %s: the digest goes there unless you chose other recipients in the dashboard (Settings).', 'farewell-bridge' ), $state['admin_email'] )
				: __( 'The digest goes to this site\'s administration email once the connection has been tested; you can choose other recipients in the dashboard.', 'farewell-bridge' ) ) . $unread;
		}
		$steps[] = array(
			'id'     => 'digest',
			'status' => $digest_status,
			'title'  => __( 'Who receives the weekly digest', 'farewell-bridge' ),
			'detail' => $digest_detail,
			'form'   => $digest_form,
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

		// 7. How emails leave, as the sidecar says (never its SMTP password); else what WordPress saw.
		$via_wp    = $state['mails_via_wp'] > 0
			/* translators: %s: number of emails. */
			? sprintf( _n( 'The sidecar sent %s email through WordPress in the last 8 days: Farewell\'s emails leave the way this site\'s own do.', 'The sidecar sent %s emails through WordPress in the last 8 days: Farewell\'s emails leave the way this site\'s own do.', $state['mails_via_wp'], 'farewell-bridge' ), number_format_i18n( $state['mails_via_wp'] ) )
			: '';
		$transport = null !== $known && isset( $known['transport']['kind'] ) ? $known['transport'] : array( 'kind' => '' );
		$mail      = self::INFO;
		if ( 'smtp' === $transport['kind'] && isset( $transport['host'], $transport['port'] ) ) {
			/* translators: 1: a mail server's host name, 2: its port. */
			$mail_detail = sprintf( __( 'The sidecar sends Farewell\'s emails through the SMTP server %1$s, port %2$d.', 'farewell-bridge' ), (string) $transport['host'], (int) $transport['port'] );
			if ( isset( $transport['security'] ) && 'none' === $transport['security'] ) {
				$mail_detail .= "\n" . __( 'Without TLS: fine on the sidecar\'s own machine or network, not across the Internet.', 'farewell-bridge' );
			}
		} elseif ( 'wordpress' === $transport['kind'] ) {
			$mail_detail = __( 'The sidecar sends Farewell\'s emails through this WordPress (wp_mail), the way this site\'s own emails leave.', 'farewell-bridge' )
				. ( '' !== $via_wp ? "\n" . $via_wp : '' );
		} elseif ( 'folder' === $transport['kind'] ) {
			$mail        = self::TODO;
			$mail_detail = __( 'The sidecar writes Farewell\'s emails into a folder on its own disk: none reaches anybody. Set FAREWELL_MAIL_URL on the sidecar to smtp://… (your mail server) or wordpress:// (through this site).', 'farewell-bridge' );
		} else {
			$mail_detail = ( '' !== $via_wp ? $via_wp : __( 'No email went through WordPress in the last 8 days: either the sidecar sends with its own SMTP server, or none was due yet. The sidecar\'s FAREWELL_MAIL_URL says which (wordpress: or smtp://).', 'farewell-bridge' ) ) . $unread;
		}
		$steps[] = array(
			'id'     => 'mail',
			'status' => $mail,
			'title'  => __( 'How emails are sent', 'farewell-bridge' ),
			'detail' => $mail_detail,
		);

		// 8. A sample digest, to see what arrives each week; the sidecar sends it only to an address
		// it knows for the site.
		$user_email = isset( $state['user_email'] ) ? (string) $state['user_email'] : '';
		$steps[]    = array(
			'id'     => 'sample',
			'status' => self::INFO,
			'title'  => __( 'A sample digest', 'farewell-bridge' ),
			'detail' => $state['configured']
				/* translators: %s: an email address. */
				? sprintf( __( 'Last week\'s digest, sent now to your address, %s, as the recipients receive it each week.', 'farewell-bridge' ), $user_email )
				: __( 'Connect first: the sidecar sends the digest.', 'farewell-bridge' ),
			'form'   => $state['configured'] ? array(
				'action' => self::SAMPLE_ACTION,
				'label'  => __( 'Send me a sample digest now', 'farewell-bridge' ),
			) : null,
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
