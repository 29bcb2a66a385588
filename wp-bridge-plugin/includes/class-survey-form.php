<?php
/**
 * The exit survey in the site: the `[farewell_survey]` shortcode, the automatic appearance on
 * the page a member lands on after cancelling, email links, and the REST route answers go to.
 *
 * - After a member's own cancel in a front-end request (any source), Farewell_Bridge_Survey
 *   remembers it; the member's next front-end page shows the survey once: prepended to the
 *   content of a singular page, or at the top of the body (wp_body_open) elsewhere. The cancel
 *   itself is never delayed, filtered or made to depend on the survey.
 * - `?farewell_survey={token}` on any front-end address redirects to the survey page (a page
 *   holding the shortcode, created on activation and recreated when deleted), keeping the token,
 *   so the survey renders inside the theme's own page template, block themes included.
 * - The form posts to `farewell/v1/survey` without JavaScript; the answer goes into the outbox
 *   and the member is sent back (303) to the same page, which thanks them. A fetch() client may
 *   send JSON and gets JSON back.
 *
 * @package Farewell_Bridge
 */

if ( ! defined( 'ABSPATH' ) ) {
	exit;
}

/**
 * Front end of the survey.
 */
class Farewell_Bridge_Survey_Form {

	const SHORTCODE    = 'farewell_survey';
	const TOKEN_ARG    = 'farewell_survey';
	const DONE_ARG     = 'farewell_survey_done';
	const WAIT_ARG     = 'farewell_survey_wait';
	/** An administrator's preview of the form as a member sees it (Farewell → Set-up links to it). */
	const PREVIEW_ARG    = 'farewell_survey_preview';
	const PREVIEW_ACTION = 'farewell_bridge_survey_preview';
	/** Transient prefix of the answer kept for a visitor who was asked to wait (one per client). */
	const DRAFT_PREFIX = 'farewell_bridge_survey_draft_';
	const PAGE_OPTION  = 'farewell_bridge_survey_page_id';
	const REST_NS      = 'farewell/v1';
	const REST_ROUTE   = '/survey';
	const STYLE_HANDLE = 'farewell-survey';

	/**
	 * Whether this request shows the survey (or its thanks) on its own, outside the shortcode.
	 *
	 * @var bool
	 */
	private static $auto = false;

	/**
	 * The REST request being handled and its rate-limit answer.
	 *
	 * @var array{request?:WP_REST_Request,answer?:array}
	 */
	private static $limited = array();

	/**
	 * Whether the survey was already rendered in this request.
	 *
	 * @var bool
	 */
	private static $rendered = false;

	/**
	 * What this class keeps in WordPress, which uninstall.php removes (see Farewell_Bridge_Plugin::DATA_OWNERS).
	 *
	 * @return array See uninstall.php.
	 */
	public static function owned() {
		return array(
			'posts'      => array_filter( array( (int) get_option( self::PAGE_OPTION, 0 ) ) ),
			'options'    => array( self::PAGE_OPTION ),
			'transients' => array( self::DRAFT_PREFIX ),
		);
	}

	/**
	 * Forgets the per-request state (tests).
	 */
	public static function reset() {
		self::$auto     = false;
		self::$rendered = false;
	}

	/**
	 * Registers the shortcode. Hooked on init.
	 */
	public static function action_init() {
		add_shortcode( self::SHORTCODE, array( __CLASS__, 'shortcode' ) );
	}

	/**
	 * The shortcode.
	 *
	 * @return string
	 */
	public static function shortcode() {
		self::$rendered = true;
		return self::safe_render();
	}

	/**
	 * render(), but nothing that fails in it may break the member's page.
	 *
	 * @return string HTML, '' after an error (logged).
	 */
	private static function safe_render() {
		try {
			return self::render();
		} catch ( Throwable $e ) {
			Farewell_Bridge_Dispatcher::log( $e );
			return '';
		}
	}

	/**
	 * The page email links open, created when missing (or trashed).
	 *
	 * @return int Page id, 0 when it could not be created.
	 */
	public static function ensure_page() {
		$id   = (int) get_option( self::PAGE_OPTION, 0 );
		$page = $id > 0 ? get_post( $id ) : null;
		if ( $page && 'page' === $page->post_type && 'publish' === $page->post_status ) {
			return $id;
		}
		$id = wp_insert_post(
			array(
				'post_type'      => 'page',
				'post_status'    => 'publish',
				'post_title'     => __( 'Your feedback', 'farewell-bridge' ),
				'post_name'      => 'farewell-survey',
				'post_content'   => '<!-- wp:shortcode -->[' . self::SHORTCODE . ']<!-- /wp:shortcode -->',
				'comment_status' => 'closed',
				'ping_status'    => 'closed',
			),
			true
		);
		if ( is_wp_error( $id ) ) {
			return 0;
		}
		update_option( self::PAGE_OPTION, (int) $id, true ); // Autoloaded: read on every front-end request.
		return (int) $id;
	}

	/**
	 * Keeps the survey page out of page lists and navigation menus built from pages.
	 * Hooked on get_pages.
	 *
	 * @param WP_Post[] $pages Pages.
	 * @return WP_Post[]
	 */
	public static function filter_get_pages( $pages ) {
		$id = (int) get_option( self::PAGE_OPTION, 0 );
		if ( $id <= 0 || is_admin() || ! is_array( $pages ) ) {
			return $pages;
		}
		return array_values(
			array_filter(
				$pages,
				static function ( $page ) use ( $id ) {
					return ! ( is_object( $page ) && (int) $page->ID === $id );
				}
			)
		);
	}

	/**
	 * Whether this request shows the survey page or carries an email-link token.
	 *
	 * @return bool
	 */
	private static function is_survey_request() {
		$id = (int) get_option( self::PAGE_OPTION, 0 );
		return null !== self::requested_token() || ( $id > 0 && is_page( $id ) );
	}

	/**
	 * Keeps the survey page and its token links out of search engines. Hooked on wp_robots.
	 *
	 * @param array $robots Robots directives.
	 * @return array
	 */
	public static function filter_wp_robots( $robots ) {
		if ( ! self::is_survey_request() ) {
			return $robots;
		}
		$robots['noindex']  = true;
		$robots['nofollow'] = true;
		return $robots;
	}

	/**
	 * The token in the address is the member's key to their answer: a page that shows it sends no
	 * path to other sites (a theme's fonts, an analytics script). Hooked on wp_head.
	 */
	public static function action_wp_head() {
		if ( self::is_survey_request() ) {
			wp_strict_cross_origin_referrer();
		}
	}

	/**
	 * The email-link token of this request, or null.
	 *
	 * @return string|null
	 */
	private static function requested_token() {
		// phpcs:ignore WordPress.Security.NonceVerification.Recommended -- a signed token, checked by the sidecar.
		$token = isset( $_GET[ self::TOKEN_ARG ] ) ? sanitize_text_field( wp_unslash( $_GET[ self::TOKEN_ARG ] ) ) : '';
		return '' === $token ? null : $token;
	}

	/**
	 * Whether this request is an administrator's preview, with its nonce.
	 *
	 * @return bool
	 */
	private static function is_preview() {
		// phpcs:ignore WordPress.Security.NonceVerification.Recommended -- the nonce is verified here.
		$nonce = isset( $_GET[ self::PREVIEW_ARG ] ) ? sanitize_text_field( wp_unslash( $_GET[ self::PREVIEW_ARG ] ) ) : '';
		return '' !== $nonce && current_user_can( 'manage_options' ) && false !== wp_verify_nonce( $nonce, self::PREVIEW_ACTION );
	}

	/**
	 * A page's address that previews the survey for the current administrator.
	 *
	 * @param string $url The page's address.
	 * @return string
	 */
	public static function preview_url( $url ) {
		return add_query_arg( self::PREVIEW_ARG, wp_create_nonce( self::PREVIEW_ACTION ), $url );
	}

	/**
	 * Whether this request comes back from a submitted answer.
	 *
	 * @return bool
	 */
	private static function is_done() {
		return isset( $_GET[ self::DONE_ARG ] ); // phpcs:ignore WordPress.Security.NonceVerification.Recommended -- only shows a thank-you.
	}

	/**
	 * Sends email links to the survey page and decides whether this page shows the survey by
	 * itself. Hooked on template_redirect.
	 */
	public static function action_template_redirect() {
		if ( is_admin() || is_feed() || is_robots() || is_trackback() || wp_doing_ajax() ) {
			return;
		}
		$page_id = (int) get_option( self::PAGE_OPTION, 0 );
		if ( null !== self::requested_token() ) {
			$page_id = self::ensure_page();
			if ( $page_id > 0 && ! is_page( $page_id ) ) {
				$target = add_query_arg( self::TOKEN_ARG, rawurlencode( self::requested_token() ), get_permalink( $page_id ) );
				if ( wp_safe_redirect( $target, 302, 'Farewell Bridge' ) ) {
					exit;
				}
			}
			return;
		}
		$queried = get_queried_object();
		if ( ( $page_id > 0 && is_page( $page_id ) ) || ( $queried instanceof WP_Post && has_shortcode( (string) $queried->post_content, self::SHORTCODE ) ) ) {
			return; // The shortcode renders it.
		}
		$pending    = Farewell_Bridge_Survey::pending( get_current_user_id() );
		self::$auto = self::is_done() || ( null !== $pending && empty( $pending['shown'] ) );
	}

	/**
	 * Prepends the survey to the main post's content, once. Hooked on the_content (late, after
	 * wpautop and shortcodes, so the form's markup is left alone).
	 *
	 * @param string $content Content.
	 * @return string
	 */
	public static function filter_the_content( $content ) {
		if ( ! self::$auto || self::$rendered || ! is_singular() || doing_filter( 'get_the_excerpt' ) || doing_filter( 'wp_trim_excerpt' ) ) {
			return $content;
		}
		if ( (int) get_the_ID() !== (int) get_queried_object_id() ) {
			return $content;
		}
		self::$rendered = true;
		return self::safe_render() . $content;
	}

	/**
	 * On pages that are not a single post or page, shows the survey at the top of the body.
	 * Hooked on wp_body_open.
	 */
	public static function action_wp_body_open() {
		if ( ! self::$auto || self::$rendered || is_singular() ) {
			return;
		}
		self::$rendered = true;
		echo '<div class="farewell-survey-wrap" style="padding:1.5rem 1rem">' . self::safe_render() . '</div>'; // phpcs:ignore WordPress.Security.EscapeOutput.OutputNotEscaped -- escaped in the views.
	}

	/**
	 * The survey (or its thanks, or a message about the link) for this request.
	 *
	 * @return string HTML.
	 */
	public static function render() {
		wp_enqueue_style( self::STYLE_HANDLE, plugins_url( 'public/css/survey.css', FAREWELL_BRIDGE_FILE ), array(), FAREWELL_BRIDGE_VERSION );
		$user_id = (int) get_current_user_id();
		$locale  = $user_id > 0 ? get_user_locale( $user_id ) : determine_locale();
		$token   = self::requested_token();

		if ( self::is_done() ) {
			// phpcs:ignore WordPress.Security.NonceVerification.Recommended -- the language of a thank-you.
			$answered_in = sanitize_text_field( wp_unslash( $_GET[ self::DONE_ARG ] ) );
			if ( preg_match( '/^[a-z]{2,3}(_[A-Z]{2})?$/', $answered_in ) ) {
				$locale = $answered_in;
			}
			$entry = Farewell_Bridge_Survey::definition( $locale );
			return self::in_locale( $locale, array( __CLASS__, 'message_html' ), array( 'thanks', isset( $entry['definition']['thanks'] ) ? (string) $entry['definition']['thanks'] : '' ) );
		}

		if ( null === $token && self::is_preview() ) {
			$notice = '<p class="farewell-survey-preview-notice"><strong>' . esc_html__( 'Preview: the survey as a member sees it after cancelling. Nothing sent from this preview is recorded.', 'farewell-bridge' ) . '</strong></p>';
			return $notice . self::form_html(
				Farewell_Bridge_Survey::definition( $locale ),
				$locale,
				'preview:' . $user_id,
				array(
					'token'      => '',
					'first_name' => '',
					'contact'    => '',
					'answered'   => false,
					'draft'      => null,
					'preview'    => true,
				)
			);
		}

		$draft = self::take_draft();
		if ( null !== $token ) {
			$limited = Farewell_Bridge_Rate_Limit::hit( 'survey_lookup' );
			if ( ! $limited['allowed'] ) {
				return self::in_locale( $locale, array( __CLASS__, 'message_html' ), array( 'limited', Farewell_Bridge_Rate_Limit::message( $limited['retry_after'] ) ) );
			}
			$status = Farewell_Bridge_Survey::token_status( $token, $locale );
			if ( 'expired' === $status['status'] || 'invalid' === $status['status'] ) {
				return self::in_locale( $locale, array( __CLASS__, 'message_html' ), array( $status['status'], '' ) );
			}
			$for   = $status['answering_for'];
			$entry = $status['definition'];
			if ( isset( $for['member']['locale'] ) && is_string( $for['member']['locale'] ) && '' !== $for['member']['locale'] ) {
				$locale = $for['member']['locale'];
			}
			if ( null === $entry || Farewell_Bridge_Survey::language_of( $locale, get_locale() ) !== $entry['language'] ) {
				$entry = Farewell_Bridge_Survey::definition( $locale );
			}
			$member = isset( $for['member'] ) && is_array( $for['member'] ) ? $for['member'] : array();
			$seed   = isset( $member['id'] ) ? 'member:' . $member['id'] : 'token:' . Farewell_Bridge_Survey::token_hash( $token );
			return self::in_locale(
				$locale,
				array( __CLASS__, 'form_html' ),
				array(
					$entry,
					$locale,
					$seed,
					array(
						'token'      => $token,
						'first_name' => isset( $member['first_name'] ) ? (string) $member['first_name'] : '',
						'contact'    => isset( $member['email'] ) ? (string) $member['email'] : '',
						'answered'   => ! empty( $for['already_answered'] ),
						'draft'      => $draft,
					)
				)
			);
		}

		if ( $user_id <= 0 ) {
			return self::in_locale( $locale, array( __CLASS__, 'message_html' ), array( 'signin', '' ) );
		}
		$cancel = Farewell_Bridge_Survey::answerable( $user_id );
		if ( null === $cancel ) {
			return self::in_locale( $locale, array( __CLASS__, 'message_html' ), array( 'none', '' ) );
		}
		Farewell_Bridge_Survey::mark_shown( $user_id );
		$user = get_userdata( $user_id );
		return self::in_locale(
			$locale,
			array( __CLASS__, 'form_html' ),
			array(
				Farewell_Bridge_Survey::definition( $locale ),
				$locale,
				'member:' . $user_id,
				array(
					'token'      => '',
					'first_name' => '',
					'contact'    => $user ? (string) $user->user_email : '',
					'answered'   => $cancel['answered'],
					'draft'      => $draft,
				),
			)
		);
	}

	/**
	 * Runs a renderer with the member's locale, so the bridge's own words match the survey's.
	 *
	 * @param string   $locale   Locale.
	 * @param callable $callback Renderer.
	 * @param array    $args     Its arguments.
	 * @return string
	 */
	private static function in_locale( $locale, $callback, array $args ) {
		$switched = $locale !== determine_locale() && switch_to_locale( $locale );
		try {
			return (string) call_user_func_array( $callback, $args );
		} finally {
			if ( $switched ) {
				restore_previous_locale();
			}
		}
	}

	/**
	 * The form.
	 *
	 * @param array  $entry  Definition entry (version, language, definition).
	 * @param string $locale Locale answered in.
	 * @param string $seed   Seed of the reason order.
	 * @param array  $who    token, first_name, contact, answered.
	 * @return string
	 */
	public static function form_html( array $entry, $locale, $seed, array $who ) {
		$definition = $entry['definition'];
		$limits     = array(
			'comment'   => Farewell_Bridge_Survey::COMMENT_MAX,
			'follow_up' => Farewell_Bridge_Survey::FOLLOW_UP_MAX,
			'contact'   => Farewell_Bridge_Survey::CONTACT_MAX,
		);
		foreach ( $limits as $field => $max ) {
			if ( isset( $definition['limits'][ $field ] ) && (int) $definition['limits'][ $field ] > 0 ) {
				$limits[ $field ] = min( $max, (int) $definition['limits'][ $field ] );
			}
		}
		$hidden = array(
			'version'   => (int) $entry['version'],
			'locale'    => (string) $locale,
			'answer_id' => wp_generate_uuid4(),
			'return_to' => self::return_path(),
		);
		if ( '' !== $who['token'] ) {
			$hidden['token'] = $who['token'];
		}
		// Without the REST nonce the route treats the sender as signed out and refuses the answer:
		// a preview can never record one, whatever cancellation the administrator has.
		if ( is_user_logged_in() && empty( $who['preview'] ) ) {
			$hidden['_wpnonce'] = wp_create_nonce( 'wp_rest' );
		}
		$draft      = isset( $who['draft'] ) && is_array( $who['draft'] ) ? $who['draft'] : array();
		$notice     = isset( $draft['notice'] ) ? (string) $draft['notice'] : '';
		$reasons    = Farewell_Bridge_Survey::ordered_reasons( $definition, $seed );
		$action     = rest_url( self::REST_NS . self::REST_ROUTE );
		$skip_url   = home_url( '/' );
		$contact    = isset( $draft['contact'] ) ? (string) $draft['contact'] : (string) $who['contact'];
		$first_name = (string) $who['first_name'];
		$answered   = (bool) $who['answered'];
		ob_start();
		include FAREWELL_BRIDGE_DIR . '/public/views/survey-form.php';
		return (string) ob_get_clean();
	}

	/**
	 * A message in the survey's place.
	 *
	 * @param string $kind    thanks, invalid, expired, signin, none (signed in, no cancellation to
	 *                        answer about) or limited.
	 * @param string $message Text for thanks and limited.
	 * @return string
	 */
	public static function message_html( $kind, $message ) {
		$login_url = '';
		if ( 'thanks' === $kind ) {
			$message = '' !== $message ? $message : __( 'Thank you for your answers.', 'farewell-bridge' );
		} elseif ( 'none' === $kind ) {
			$message = Farewell_Bridge_Survey::no_cancellation_message();
		} elseif ( 'limited' !== $kind ) { // A "limited" $message already says when to come back.
			$login_url = wp_login_url( home_url( self::return_path() ) );
			if ( 'expired' === $kind ) {
				$message = __( 'Sorry, this survey link has expired. You can still tell us why you left by signing in.', 'farewell-bridge' );
			} elseif ( 'invalid' === $kind ) {
				$message = __( 'Sorry, this survey link is not valid. It may have been copied incompletely. You can still tell us why you left by signing in.', 'farewell-bridge' );
			} else {
				$message = __( 'Please sign in to answer the survey about your cancellation.', 'farewell-bridge' );
			}
			if ( is_user_logged_in() ) {
				$login_url = '';
			}
		}
		ob_start();
		include FAREWELL_BRIDGE_DIR . '/public/views/survey-message.php';
		return (string) ob_get_clean();
	}

	/**
	 * This page's address relative to the site root, without the survey's own arguments.
	 *
	 * @return string
	 */
	private static function return_path() {
		$uri  = isset( $_SERVER['REQUEST_URI'] ) ? esc_url_raw( wp_unslash( $_SERVER['REQUEST_URI'] ) ) : '/';
		$path = remove_query_arg( array( self::TOKEN_ARG, self::DONE_ARG, self::WAIT_ARG ), $uri );
		$home = (string) wp_parse_url( home_url(), PHP_URL_PATH );
		if ( '' !== $home && 0 === strpos( $path, $home ) ) {
			$path = substr( $path, strlen( $home ) );
		}
		return '/' . ltrim( (string) $path, '/' );
	}

	/**
	 * Registers the REST route. Hooked on rest_api_init.
	 */
	public static function action_rest_api_init() {
		register_rest_route(
			self::REST_NS,
			self::REST_ROUTE,
			array(
				'methods'             => 'POST',
				'callback'            => array( __CLASS__, 'rest_submit' ),
				'permission_callback' => array( __CLASS__, 'rest_permission' ),
				'args'                => array(
					'token'     => array( 'type' => 'string' ),
					'answer_id' => array( 'type' => 'string' ),
					'return_to' => array( 'type' => 'string' ),
				),
			)
		);
	}

	/**
	 * Who may answer: a signed-in member about their own recent cancellation
	 * (Farewell_Bridge_Survey::answerable(); WordPress core turns a cookie without the `wp_rest`
	 * nonce into a signed-out request), or anyone holding an email-link token whose page this
	 * site showed lately (Farewell_Bridge_Survey::was_shown(); the sidecar checks its signature
	 * and ties the answer to the token's member only). Every attempt counts against the
	 * client's rate limit first.
	 *
	 * @param WP_REST_Request $request Request.
	 * @return true|WP_Error
	 */
	public static function rest_permission( WP_REST_Request $request ) {
		// WordPress runs permission callbacks again for the Allow header (rest_send_allow_header):
		// one request is one hit.
		if ( ! isset( self::$limited['request'] ) || self::$limited['request'] !== $request ) {
			self::$limited = array(
				'request' => $request,
				'answer'  => Farewell_Bridge_Rate_Limit::hit( 'survey_submit' ),
			);
		}
		$limited = self::$limited['answer'];
		if ( ! $limited['allowed'] ) {
			return new WP_Error(
				'farewell_rate_limited',
				Farewell_Bridge_Rate_Limit::message( $limited['retry_after'] ),
				array(
					'status'      => 429,
					'retry_after' => $limited['retry_after'],
				)
			);
		}
		$token = $request->get_param( 'token' );
		if ( null !== $token && '' !== $token ) {
			if ( Farewell_Bridge_Survey::looks_like_token( $token ) && Farewell_Bridge_Survey::was_shown( $token ) ) {
				return true;
			}
			return new WP_Error( 'farewell_survey_token', __( 'This survey link is not valid.', 'farewell-bridge' ), array( 'status' => 403 ) );
		}
		if ( is_user_logged_in() && current_user_can( 'read' ) ) {
			if ( null !== Farewell_Bridge_Survey::answerable( get_current_user_id() ) ) {
				return true;
			}
			return new WP_Error( 'farewell_survey_none', Farewell_Bridge_Survey::no_cancellation_message(), array( 'status' => 403 ) );
		}
		return new WP_Error( 'rest_forbidden', __( 'Sign in, or use the link from your email, to answer the survey.', 'farewell-bridge' ), array( 'status' => rest_authorization_required_code() ) );
	}

	/**
	 * Records an answer in the outbox; thanks at once, whatever the sidecar's state.
	 *
	 * @param WP_REST_Request $request Request.
	 * @return WP_REST_Response|WP_Error
	 */
	public static function rest_submit( WP_REST_Request $request ) {
		$params = $request->get_params();
		$survey = Farewell_Bridge_Survey::check( $params );
		if ( is_wp_error( $survey ) ) {
			return $survey;
		}
		$token  = $request->get_param( 'token' );
		$token  = is_string( $token ) && '' !== $token ? $token : null;
		$result = Farewell_Bridge_Survey::record( $survey, get_current_user_id(), $token, (string) $request->get_param( 'answer_id' ) );
		if ( is_wp_error( $result ) ) {
			return $result;
		}
		$return_to = $request->get_param( 'return_to' );
		if ( is_string( $return_to ) && '' !== $return_to && ! self::wants_json( $request ) ) {
			$target   = self::absolute( $return_to );
			$target   = wp_validate_redirect( $target, home_url( '/' ) );
			$response = new WP_REST_Response( null, 303 );
			$response->header( 'Location', add_query_arg( self::DONE_ARG, rawurlencode( $survey['locale'] ), $target ) . '#farewell-survey' );
			return $response;
		}
		$entry = Farewell_Bridge_Survey::definition( isset( $survey['locale'] ) ? $survey['locale'] : get_locale() );
		return new WP_REST_Response(
			array(
				'status' => 'recorded',
				'thanks' => isset( $entry['definition']['thanks'] ) ? (string) $entry['definition']['thanks'] : '',
			),
			201
		);
	}

	/**
	 * A refused answer (429): `Retry-After` for every client; the plain form is sent back to its
	 * page instead (303), which says when to try again and shows what the member typed.
	 * Hooked on rest_post_dispatch.
	 *
	 * @param WP_HTTP_Response $response Response.
	 * @param WP_REST_Server   $server   Server.
	 * @param WP_REST_Request  $request  Request.
	 * @return WP_HTTP_Response
	 */
	public static function filter_rest_post_dispatch( $response, $server, $request ) {
		unset( $server );
		if ( ! $response instanceof WP_HTTP_Response || 429 !== $response->get_status() || ! $request instanceof WP_REST_Request
			|| self::REST_NS . self::REST_ROUTE !== trim( (string) $request->get_route(), '/' ) ) {
			return $response;
		}
		$data        = $response->get_data();
		$retry_after = isset( $data['data']['retry_after'] ) ? max( 1, (int) $data['data']['retry_after'] ) : Farewell_Bridge_Rate_Limit::WINDOW;
		$response->header( 'Retry-After', (string) $retry_after );
		$return_to = $request->get_param( 'return_to' );
		if ( ! is_string( $return_to ) || '' === $return_to || self::wants_json( $request ) ) {
			return $response;
		}
		self::keep_draft( $request->get_params(), isset( $data['message'] ) ? (string) $data['message'] : Farewell_Bridge_Rate_Limit::message( $retry_after ) );
		$target = wp_validate_redirect( self::absolute( $return_to ), home_url( '/' ) );
		$token  = $request->get_param( 'token' );
		if ( is_string( $token ) && Farewell_Bridge_Survey::looks_like_token( $token ) ) {
			$target = add_query_arg( self::TOKEN_ARG, rawurlencode( $token ), $target );
		}
		$back = new WP_REST_Response( null, 303 );
		$back->header( 'Location', add_query_arg( self::WAIT_ARG, '1', $target ) . '#farewell-survey' );
		$back->header( 'Retry-After', (string) $retry_after );
		return $back;
	}

	/**
	 * The transient key of this client's kept answer: one per client (the rate limit's bucket),
	 * so refused requests cannot pile up drafts.
	 *
	 * @return string
	 */
	private static function draft_key() {
		return self::DRAFT_PREFIX . substr( hash( 'sha256', Farewell_Bridge_Rate_Limit::bucket( 'survey_draft', Farewell_Bridge_Rate_Limit::client_ip() ) ), 0, 32 );
	}

	/**
	 * Keeps what the member typed, capped like an answer, for the page they are sent back to.
	 *
	 * @param array  $params  Submitted fields.
	 * @param string $notice  Why they must wait.
	 */
	private static function keep_draft( array $params, $notice ) {
		$reason = isset( $params['reason'] ) && is_string( $params['reason'] ) && preg_match( '/^[a-z0-9_]{1,64}$/', $params['reason'] ) ? $params['reason'] : '';
		$follow = isset( $params['follow_up'] ) ? $params['follow_up'] : null;
		if ( is_array( $follow ) ) {
			$follow = '' !== $reason && isset( $follow[ $reason ] ) ? $follow[ $reason ] : null;
		}
		$draft = array(
			'notice'            => $notice,
			'reason'            => $reason,
			'follow_up'         => (string) Farewell_Bridge_Survey::clean_text( $follow, Farewell_Bridge_Survey::FOLLOW_UP_MAX ),
			'comment'           => (string) Farewell_Bridge_Survey::clean_text( isset( $params['comment'] ) ? $params['comment'] : null, Farewell_Bridge_Survey::COMMENT_MAX ),
			'contact_requested' => isset( $params['contact_requested'] ) && in_array( $params['contact_requested'], array( true, 1, '1', 'true', 'on', 'yes' ), true ),
		);
		$contact = Farewell_Bridge_Survey::clean_line( isset( $params['contact'] ) ? $params['contact'] : null, Farewell_Bridge_Survey::CONTACT_MAX );
		if ( null !== $contact ) {
			$draft['contact'] = $contact;
		}
		set_transient( self::draft_key(), $draft, Farewell_Bridge_Rate_Limit::WINDOW + 15 * MINUTE_IN_SECONDS );
	}

	/**
	 * This client's kept answer when the page comes back from a refused one (removed once read).
	 *
	 * @return array|null
	 */
	private static function take_draft() {
		if ( ! isset( $_GET[ self::WAIT_ARG ] ) ) { // phpcs:ignore WordPress.Security.NonceVerification.Recommended -- only shows the visitor's own draft.
			return null;
		}
		$key   = self::draft_key();
		$draft = get_transient( $key );
		delete_transient( $key );
		return is_array( $draft ) ? $draft : array( 'notice' => Farewell_Bridge_Rate_Limit::message( Farewell_Bridge_Rate_Limit::WINDOW ) );
	}

	/**
	 * Whether the client sent JSON (fetch()) rather than the plain form.
	 *
	 * @param WP_REST_Request $request Request.
	 * @return bool
	 */
	private static function wants_json( WP_REST_Request $request ) {
		$type = $request->get_content_type();
		return is_array( $type ) && isset( $type['value'] ) && 'application/json' === $type['value'];
	}

	/**
	 * An absolute URL on this site for a path relative to its root.
	 *
	 * @param string $path Path such as /?page_id=5.
	 * @return string
	 */
	private static function absolute( $path ) {
		if ( 0 === strpos( $path, '/' ) && 0 !== strpos( $path, '//' ) ) {
			return home_url( $path );
		}
		return $path;
	}
}
