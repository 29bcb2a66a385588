<?php
/**
 * The exit survey's data side: the definition (fetched from the sidecar, cached, with a bundled
 * fallback), email-link tokens, the reason order, checking an answer, and recording it in the
 * outbox as a `survey.submitted` event (docs/PROTOCOL.md). Rendering lives in
 * Farewell_Bridge_Survey_Form.
 *
 * Where the definition comes from, first that answers:
 *   1. a transient per language (CACHE_SECONDS);
 *   2. the sidecar, `GET /v1/sites/{id}/survey?locale=` (FETCH_TIMEOUT, not retried for
 *      FETCH_BACKOFF_SECONDS after a failure so a dead sidecar slows no page twice in a row);
 *   3. the last definition the sidecar gave for that language (a non-autoloaded option);
 *   4. data/default-survey.json: the sidecar's built-in version 1, which it always accepts.
 * So the survey always renders, whatever the sidecar's state.
 *
 * @package Farewell_Bridge
 */

if ( ! defined( 'ABSPATH' ) ) {
	exit;
}

/**
 * Survey definition, identity and answers.
 */
class Farewell_Bridge_Survey {

	const EVENT_TYPE = 'survey.submitted';

	const LANGUAGES = array( 'en', 'fr' );

	/** Transient (per language) holding the definition last fetched. */
	const CACHE_PREFIX  = 'farewell_bridge_survey_def_';
	const CACHE_SECONDS = 43200; // 12 hours.
	/** Non-autoloaded option (per language): the last definition the sidecar gave. */
	const LAST_KNOWN_PREFIX = 'farewell_bridge_survey_last_';
	/** Seconds a page waits for the sidecar at most. */
	const FETCH_TIMEOUT = 2.0;
	/** After a failed fetch, do not ask again for this long. */
	const FETCH_BACKOFF_TRANSIENT = 'farewell_bridge_survey_backoff';
	const FETCH_BACKOFF_SECONDS   = 60;
	/** Transient prefix (per token hash): who an email link answers for, as the sidecar said. */
	const TOKEN_MEMBER_PREFIX = 'farewell_bridge_survey_for_';
	/** Transient prefix (per token hash): a link whose page showed the form while the sidecar was unreachable. */
	const TOKEN_SEEN_PREFIX = 'farewell_bridge_survey_seen_';
	/** How long after its page was shown an email link may be answered. */
	const TOKEN_ANSWER_SECONDS = 7200;

	/**
	 * User meta: the member's own recent cancellations this site recorded, newest first, each
	 * {subscription_id, source, at, shown, answered}. A signed-in member may answer the survey only
	 * about one of them (the newest), as often as they like: the sidecar keeps one answer per
	 * cancellation, the latest. A cancel made by the member in a front-end request also shows the
	 * survey by itself, once, on their next page within PENDING_SECONDS.
	 */
	const PENDING_META    = '_farewell_bridge_survey_pending';
	const PENDING_SECONDS = 3600;
	/**
	 * How long a cancellation may be answered while signed in: longer than an email link lives
	 * (60 days, sidecar/domain/tokens.py), since the page of an expired link says to sign in.
	 */
	const ANSWER_SECONDS = 7776000; // 90 days.
	/** Cancellations remembered per member at most (a member rarely has more subscriptions). */
	const CANCELS_KEPT = 5;

	/**
	 * Cookie: the member's own cancel, signed, for their next page, where the server can end the
	 * response before the user meta is written (PHP-FPM): that write then runs after the member
	 * has their page (action_shutdown()), and the next page reads the cookie first, so it never
	 * depends on which of the two comes first — where the page's headers are not sent yet (see
	 * action_farewell_bridge_event_recorded()). A page cache must not serve a cached page to a
	 * request carrying it (docs/DEPLOY.md). It lives PENDING_SECONDS at most.
	 */
	const COOKIE = 'wp_farewell_survey_pending';
	/** A cookie longer than this is not ours: not read. */
	const COOKIE_LENGTH_LIMIT = 512;

	/**
	 * The member's cancels of this request whose user meta is written after the response, by
	 * user, oldest first.
	 *
	 * @var array<int,array[]>
	 */
	private static $deferred = array();

	/** The sidecar's limits (sidecar/domain/events.py); a definition may only lower them. */
	const COMMENT_MAX   = 5000;
	const FOLLOW_UP_MAX = 1000;
	const CONTACT_MAX   = 200;

	/**
	 * What this class keeps in WordPress, which uninstall.php removes (see Farewell_Bridge_Plugin::DATA_OWNERS).
	 *
	 * @return array See uninstall.php.
	 */
	public static function owned() {
		return array(
			'options'    => array_map(
				static function ( $language ) {
					return self::LAST_KNOWN_PREFIX . $language;
				},
				self::LANGUAGES
			),
			'transients' => array( self::CACHE_PREFIX, self::FETCH_BACKOFF_TRANSIENT, self::TOKEN_MEMBER_PREFIX, self::TOKEN_SEEN_PREFIX ),
			'user_meta'  => array( self::PENDING_META ),
		);
	}

	/**
	 * The survey language of a WordPress locale (fr_CA → fr), else of the fallback, else English.
	 *
	 * @param string      $locale   Locale such as fr_FR.
	 * @param string|null $fallback The site's locale.
	 * @return string
	 */
	public static function language_of( $locale, $fallback = null ) {
		foreach ( array( $locale, $fallback ) as $candidate ) {
			$parts    = explode( '_', str_replace( '-', '_', (string) $candidate ) );
			$language = strtolower( $parts[0] );
			if ( in_array( $language, self::LANGUAGES, true ) ) {
				return $language;
			}
		}
		return 'en';
	}

	/**
	 * The definition to show for a locale.
	 *
	 * @param string $locale WordPress locale of the member.
	 * @return array{version:int,language:string,definition:array,origin:string}
	 */
	public static function definition( $locale ) {
		$language = self::language_of( $locale, get_locale() );
		$cached   = get_transient( self::CACHE_PREFIX . $language );
		if ( self::is_valid_entry( $cached ) ) {
			$cached['origin'] = 'cache';
			return $cached;
		}
		$fetched = self::fetch( $locale );
		if ( null !== $fetched ) {
			$entry = self::entry( $fetched );
			if ( null !== $entry ) {
				self::store( $entry );
				$entry['origin'] = 'sidecar';
				if ( $entry['language'] === $language ) {
					return $entry;
				}
			}
		}
		$last = get_option( self::LAST_KNOWN_PREFIX . $language, null );
		if ( self::is_valid_entry( $last ) ) {
			$last['origin'] = 'last-known';
			return $last;
		}
		return self::bundled( $language );
	}

	/**
	 * The bundled version 1 in one language.
	 *
	 * @param string $language en or fr.
	 * @return array{version:int,language:string,definition:array,origin:string}
	 */
	public static function bundled( $language ) {
		static $bundle = null;
		if ( null === $bundle ) {
			$raw    = file_get_contents( dirname( __DIR__ ) . '/data/default-survey.json' ); // phpcs:ignore WordPress.WP.AlternativeFunctions.file_get_contents_file_get_contents -- a local file of the plugin.
			$bundle = is_string( $raw ) ? json_decode( $raw, true ) : null;
		}
		$language = in_array( $language, self::LANGUAGES, true ) ? $language : 'en';
		return array(
			'version'    => 1,
			'language'   => $language,
			'definition' => $bundle['definitions'][ $language ],
			'origin'     => 'bundled',
		);
	}

	/**
	 * The definition of one version in one language, when this site knows it (to check an answer).
	 *
	 * @param int    $version  Version.
	 * @param string $language Language.
	 * @return array|null
	 */
	public static function known_version( $version, $language ) {
		foreach ( array( get_transient( self::CACHE_PREFIX . $language ), get_option( self::LAST_KNOWN_PREFIX . $language, null ) ) as $entry ) {
			if ( self::is_valid_entry( $entry ) && (int) $entry['version'] === (int) $version ) {
				return $entry['definition'];
			}
		}
		if ( 1 === (int) $version ) {
			$bundled = self::bundled( $language );
			return $bundled['definition'];
		}
		return null;
	}

	/**
	 * Forgets the cached definitions (tests, and the dashboard after an edit).
	 */
	public static function flush_cache() {
		foreach ( self::LANGUAGES as $language ) {
			delete_transient( self::CACHE_PREFIX . $language );
			delete_option( self::LAST_KNOWN_PREFIX . $language );
		}
		delete_transient( self::FETCH_BACKOFF_TRANSIENT );
	}

	/**
	 * Signed GET of the survey (and, with a token, of its status). Null when the sidecar could not
	 * answer; a failure holds further fetches back for FETCH_BACKOFF_SECONDS.
	 *
	 * @param string      $locale Locale.
	 * @param string|null $token  Email-link token.
	 * @return array|null Decoded body.
	 */
	public static function fetch( $locale, $token = null ) {
		if ( ! Farewell_Bridge_Settings::is_configured() || get_transient( self::FETCH_BACKOFF_TRANSIENT ) ) {
			return null;
		}
		$query = array( 'locale' => (string) $locale );
		if ( null !== $token && '' !== $token ) {
			$query['token'] = (string) $token;
		}
		$client = Farewell_Bridge_Client::from_settings();
		$result = $client->request( 'GET', 'survey?' . http_build_query( $query, '', '&', PHP_QUERY_RFC3986 ), 'fwb_survey_' . wp_generate_uuid4(), '', self::FETCH_TIMEOUT );
		if ( Farewell_Bridge_Client::DELIVERED !== $result['kind'] || ! is_array( $result['body'] ) ) {
			set_transient( self::FETCH_BACKOFF_TRANSIENT, 1, self::FETCH_BACKOFF_SECONDS );
			return null;
		}
		return $result['body'];
	}

	/**
	 * A cache entry from the sidecar's answer, or null when it is not a usable definition.
	 *
	 * @param array $body Sidecar's answer.
	 * @return array|null
	 */
	private static function entry( array $body ) {
		$entry = array(
			'version'    => isset( $body['version'] ) ? (int) $body['version'] : 0,
			'language'   => isset( $body['language'] ) ? (string) $body['language'] : '',
			'definition' => isset( $body['definition'] ) ? $body['definition'] : null,
		);
		return self::is_valid_entry( $entry ) ? $entry : null;
	}

	/**
	 * Keeps a definition in the transient and as the last known one.
	 *
	 * @param array $entry Entry.
	 */
	private static function store( array $entry ) {
		unset( $entry['origin'] );
		set_transient( self::CACHE_PREFIX . $entry['language'], $entry, self::CACHE_SECONDS );
		update_option( self::LAST_KNOWN_PREFIX . $entry['language'], $entry, false );
	}

	/**
	 * Whether a stored value is a definition we can render.
	 *
	 * @param mixed $entry Value.
	 * @return bool
	 */
	private static function is_valid_entry( $entry ) {
		return is_array( $entry ) && isset( $entry['version'], $entry['language'], $entry['definition'] )
			&& (int) $entry['version'] > 0 && in_array( $entry['language'], self::LANGUAGES, true )
			&& is_array( $entry['definition'] ) && isset( $entry['definition']['reasons'] ) && is_array( $entry['definition']['reasons'] );
	}

	/**
	 * What the sidecar says about an email-link token.
	 *
	 * @param string $token  Token.
	 * @param string $locale Locale to ask the definition in.
	 * @return array{status:string,answering_for:array|null,definition:array|null}
	 *               status valid, expired, invalid, or unknown (sidecar unreachable).
	 */
	public static function token_status( $token, $locale ) {
		$unknown = array(
			'status'        => 'unknown',
			'answering_for' => null,
			'definition'    => null,
		);
		if ( ! self::looks_like_token( $token ) ) {
			$unknown['status'] = 'invalid';
			return $unknown;
		}
		delete_transient( self::FETCH_BACKOFF_TRANSIENT ); // A person is waiting on this link: always ask.
		$body = self::fetch( $locale, $token );
		if ( null === $body || ! isset( $body['token']['status'] ) ) {
			// The form is shown all the same (nothing the member types is lost); the sidecar
			// checks the token when the answer is delivered.
			set_transient( self::TOKEN_SEEN_PREFIX . self::token_hash( $token ), 1, self::TOKEN_ANSWER_SECONDS );
			return $unknown;
		}
		$status = in_array( $body['token']['status'], array( 'valid', 'expired', 'invalid' ), true ) ? $body['token']['status'] : 'invalid';
		$entry  = self::entry( $body );
		if ( null !== $entry ) {
			self::store( $entry );
		}
		$for = 'valid' === $status && isset( $body['answering_for'] ) && is_array( $body['answering_for'] ) ? $body['answering_for'] : null;
		if ( null !== $for && isset( $for['member'] ) && is_array( $for['member'] ) ) {
			set_transient( self::TOKEN_MEMBER_PREFIX . self::token_hash( $token ), $for, self::TOKEN_ANSWER_SECONDS );
		}
		return array(
			'status'        => $status,
			'answering_for' => $for,
			'definition'    => $entry,
		);
	}

	/**
	 * Whether this site showed the survey for an email link lately: the sidecar said the token
	 * is valid, or could not be asked. Only such tokens may answer, so a signed-out visitor
	 * cannot fill the outbox with made-up, token-shaped strings the sidecar would refuse: each
	 * one would first need a page view, which is rate limited and asks the sidecar.
	 *
	 * @param string $token Token.
	 * @return bool
	 */
	public static function was_shown( $token ) {
		$hash = self::token_hash( $token );
		return false !== get_transient( self::TOKEN_MEMBER_PREFIX . $hash ) || false !== get_transient( self::TOKEN_SEEN_PREFIX . $hash );
	}

	/**
	 * Whether a string has the shape of a sidecar token (the sidecar checks the signature).
	 *
	 * @param mixed $token Value.
	 * @return bool
	 */
	public static function looks_like_token( $token ) {
		return is_string( $token ) && 1 === preg_match( '/^[A-Za-z0-9_.\-]{16,512}$/', $token );
	}

	/**
	 * A short hash naming a token in keys (the token itself is never a key).
	 *
	 * @param string $token Token.
	 * @return string
	 */
	public static function token_hash( $token ) {
		return substr( hash( 'sha256', (string) $token ), 0, 32 );
	}

	/**
	 * The reasons in the order this member sees them: shuffled with a seed per member (stable
	 * for that member, different across members) when the definition asks for it, with the
	 * `pinned_last` codes at the end in their own order.
	 *
	 * @param array  $definition Localized definition.
	 * @param string $seed       The member's identity (user id, token member id…).
	 * @return array[] Reasons.
	 */
	public static function ordered_reasons( array $definition, $seed ) {
		$reasons = isset( $definition['reasons'] ) && is_array( $definition['reasons'] ) ? array_values( $definition['reasons'] ) : array();
		if ( empty( $definition['shuffle_reasons'] ) ) {
			return $reasons;
		}
		$pinned = isset( $definition['pinned_last'] ) && is_array( $definition['pinned_last'] ) ? $definition['pinned_last'] : array();
		$free   = array();
		$last   = array();
		foreach ( $reasons as $reason ) {
			$code = isset( $reason['code'] ) ? (string) $reason['code'] : '';
			if ( in_array( $code, $pinned, true ) ) {
				$last[ array_search( $code, $pinned, true ) ] = $reason;
			} else {
				$free[ hash( 'sha256', wp_salt( 'auth' ) . '|' . $seed . '|' . $code ) ] = $reason;
			}
		}
		ksort( $free, SORT_STRING );
		ksort( $last );
		return array_merge( array_values( $free ), array_values( $last ) );
	}

	/**
	 * Free text as typed, minus control characters other than line breaks and tabs, capped.
	 *
	 * @param mixed $value Value.
	 * @param int   $limit Maximum characters.
	 * @return string|null Null for nothing.
	 */
	public static function clean_text( $value, $limit ) {
		if ( ! is_scalar( $value ) ) {
			return null;
		}
		$text = wp_check_invalid_utf8( (string) $value, true );
		$text = preg_replace( '/[\x00-\x08\x0B\x0C\x0E-\x1F\x7F]/u', '', str_replace( "\r\n", "\n", $text ) );
		$text = trim( (string) $text );
		if ( '' === $text ) {
			return null;
		}
		return mb_substr( $text, 0, max( 1, (int) $limit ) );
	}

	/**
	 * A one-line answer (the contact detail): clean_text(), then on one line
	 * (Farewell_Bridge_Event_Factory::one_line()), since the owner sees it on one line.
	 *
	 * @param mixed $value Value.
	 * @param int   $limit Maximum characters.
	 * @return string|null Null for nothing.
	 */
	public static function clean_line( $value, $limit ) {
		$text = self::clean_text( $value, $limit );
		$text = null === $text ? '' : Farewell_Bridge_Event_Factory::one_line( $text );
		return '' === $text ? null : $text;
	}

	/**
	 * Checks and caps a submitted answer against the definition the member saw.
	 *
	 * @param array $input Fields: version, locale, reason, follow_up (string or array by reason),
	 *                     comment, contact_requested, contact.
	 * @return array|WP_Error The `survey` object (without token/subscription_id), or the fields in error.
	 */
	public static function check( array $input ) {
		$errors  = array();
		$version = isset( $input['version'] ) && is_numeric( $input['version'] ) ? (int) $input['version'] : 1;
		if ( $version < 1 ) {
			$errors['version'] = __( 'This is not a version of the survey.', 'farewell-bridge' );
		}
		$locale     = isset( $input['locale'] ) && is_string( $input['locale'] ) && preg_match( '/^[A-Za-z]{2,3}([_-][A-Za-z0-9]{2,8})*$/', $input['locale'] ) ? $input['locale'] : get_locale();
		$definition = self::known_version( $version, self::language_of( $locale, get_locale() ) );
		$limits     = array(
			'comment'   => self::COMMENT_MAX,
			'follow_up' => self::FOLLOW_UP_MAX,
			'contact'   => self::CONTACT_MAX,
		);
		if ( is_array( $definition ) && isset( $definition['limits'] ) && is_array( $definition['limits'] ) ) {
			foreach ( $limits as $field => $max ) {
				if ( isset( $definition['limits'][ $field ] ) && (int) $definition['limits'][ $field ] > 0 ) {
					$limits[ $field ] = min( $max, (int) $definition['limits'][ $field ] );
				}
			}
		}

		$reason = isset( $input['reason'] ) && is_string( $input['reason'] ) && '' !== $input['reason'] ? $input['reason'] : null;
		$spec   = null;
		if ( null !== $reason ) {
			if ( is_array( $definition ) ) {
				foreach ( $definition['reasons'] as $candidate ) {
					if ( isset( $candidate['code'] ) && $candidate['code'] === $reason ) {
						$spec = $candidate;
					}
				}
				if ( null === $spec ) {
					$errors['reason'] = __( 'This is not one of the survey\'s reasons.', 'farewell-bridge' );
				}
			} elseif ( ! preg_match( '/^[a-z0-9_]{1,64}$/', $reason ) ) {
				// A version this site has not cached: the sidecar checks the code itself.
				$errors['reason'] = __( 'This is not one of the survey\'s reasons.', 'farewell-bridge' );
			}
		}

		$follow_up = null;
		if ( null !== $reason && isset( $input['follow_up'] ) ) {
			$raw = $input['follow_up'];
			if ( is_array( $raw ) ) {
				$raw = isset( $raw[ $reason ] ) ? $raw[ $reason ] : null; // The form sends one field per reason.
			}
			$follow_up = self::clean_text( $raw, $limits['follow_up'] );
			if ( null !== $follow_up && isset( $spec['follow_up']['type'] ) && 'choice' === $spec['follow_up']['type'] ) {
				$choices = wp_list_pluck( (array) $spec['follow_up']['choices'], 'code' );
				if ( ! in_array( $follow_up, $choices, true ) ) {
					$errors['follow_up'] = __( 'This is not one of the follow-up\'s choices.', 'farewell-bridge' );
				}
			}
		}

		if ( $errors ) {
			return new WP_Error( 'farewell_survey_invalid', __( 'Some answers could not be read.', 'farewell-bridge' ), array( 'status' => 400, 'fields' => $errors ) );
		}
		$requested = isset( $input['contact_requested'] ) && in_array( $input['contact_requested'], array( true, 1, '1', 'true', 'on', 'yes' ), true );
		$survey    = array(
			'version'           => $version,
			'locale'            => $locale,
			'reason'            => $reason,
			'follow_up'         => $follow_up,
			'comment'           => self::clean_text( isset( $input['comment'] ) ? $input['comment'] : null, $limits['comment'] ),
			'contact_requested' => $requested,
			'contact'           => self::clean_line( isset( $input['contact'] ) ? $input['contact'] : null, $limits['contact'] ),
		);
		return array_filter(
			$survey,
			static function ( $value ) {
				return null !== $value;
			}
		);
	}

	/**
	 * The deterministic webhook-id of one answer: the same form sent twice is one event.
	 *
	 * @param string $identity  "user:42" or "token:<hash>".
	 * @param string $answer_id The random id the form carries.
	 * @return string
	 */
	public static function webhook_id( $identity, $answer_id ) {
		return 'fws_' . substr( hash( 'sha256', 'survey.submitted|' . $identity . '|' . $answer_id ), 0, 48 );
	}

	/**
	 * Records an answer in the outbox (delivery happens after the response, or by cron).
	 *
	 * @param array       $survey    Result of check().
	 * @param int         $user_id   Signed-in member, 0 for none.
	 * @param string|null $token     Email-link token (wins over the signed-in member).
	 * @param string      $answer_id Form's answer id.
	 * @return string|WP_Error The webhook-id.
	 */
	public static function record( array $survey, $user_id, $token, $answer_id ) {
		$user_id = (int) $user_id;
		$source  = null;
		$member  = null;
		if ( null !== $token && '' !== $token ) {
			$survey['token'] = (string) $token;
			$identity        = 'token:' . self::token_hash( $token );
			$for             = get_transient( self::TOKEN_MEMBER_PREFIX . self::token_hash( $token ) );
			if ( is_array( $for ) ) {
				$member = self::member_from( isset( $for['member'] ) ? $for['member'] : null );
				$source = isset( $for['subscription']['source'] ) ? (string) $for['subscription']['source'] : null;
			}
		} elseif ( $user_id > 0 ) {
			// Signed in, a member answers about their own latest cancellation, never about none:
			// otherwise any account could send answers (and "contact me" alerts) at will.
			$cancel = self::answerable( $user_id );
			if ( null === $cancel ) {
				return new WP_Error( 'farewell_survey_none', self::no_cancellation_message(), array( 'status' => 403 ) );
			}
			$identity = 'user:' . $user_id;
			$member   = Farewell_Bridge_Event_Factory::member( $user_id );
			if ( '' !== $cancel['subscription_id'] ) {
				$survey['subscription_id'] = $cancel['subscription_id'];
			}
			if ( '' !== $cancel['source'] ) {
				$source = $cancel['source'];
			}
		} else {
			return new WP_Error( 'farewell_survey_who', __( 'Sign in, or use the link from your email, to answer the survey.', 'farewell-bridge' ), array( 'status' => 401 ) );
		}
		if ( null === $member && null === $token ) {
			return new WP_Error( 'farewell_survey_who', __( 'Your account has no email address, so the answer cannot be recorded.', 'farewell-bridge' ), array( 'status' => 400 ) );
		}
		if ( null === $source ) {
			$plugin  = Farewell_Bridge_Plugin::instance();
			$slugs   = $plugin ? $plugin->active_source_slugs() : array();
			$source  = $slugs ? $slugs[0] : 'memberpress';
		}
		$answer_id = is_string( $answer_id ) && preg_match( '/^[A-Za-z0-9\-]{8,64}$/', $answer_id ) ? $answer_id : wp_generate_uuid4();

		$payload = array(
			'type'         => self::EVENT_TYPE,
			'occurred_at'  => Farewell_Bridge_Event_Factory::rfc3339( time() ),
			'source'       => $source,
			'initiated_by' => 'member',
		);
		if ( null !== $member ) {
			$payload['member'] = $member;
		}
		$payload['survey'] = $survey;
		$webhook_id        = self::webhook_id( $identity, $answer_id );

		/** This filter is documented in includes/class-event-factory.php */
		$payload = apply_filters( 'farewell_bridge_event', $payload, $webhook_id );

		$id = Farewell_Bridge_Outbox::insert( $webhook_id, self::EVENT_TYPE, Farewell_Bridge_Event_Factory::body( $payload ) );
		if ( false === $id ) {
			return new WP_Error( 'farewell_survey_storage', __( 'Your answer could not be saved. Please try again in a moment.', 'farewell-bridge' ), array( 'status' => 503 ) );
		}
		if ( $id > 0 ) {
			Farewell_Bridge_Dispatcher::remember( $id );
		}
		if ( $user_id > 0 && ( null === $token || '' === $token ) ) {
			self::mark_answered( $user_id );
		}
		return $webhook_id;
	}

	/**
	 * The protocol's member object from the sidecar's `answering_for.member`.
	 *
	 * @param mixed $member Value.
	 * @return array|null
	 */
	private static function member_from( $member ) {
		if ( ! is_array( $member ) || empty( $member['id'] ) || empty( $member['email'] ) ) {
			return null;
		}
		$out = array(
			'id'    => (string) $member['id'],
			'email' => (string) $member['email'],
		);
		foreach ( array( 'first_name', 'locale' ) as $key ) {
			if ( isset( $member[ $key ] ) && is_string( $member[ $key ] ) && '' !== $member[ $key ] ) {
				$out[ $key ] = $member[ $key ];
			}
		}
		return $out;
	}

	/**
	 * Remembers a member's own cancel, so that they may answer the survey about it while signed in;
	 * one made in a front-end request by the member also shows the survey on their next page.
	 * Hooked on farewell_bridge_event_recorded; never touches the cancel itself.
	 *
	 * @param array  $payload    The recorded event.
	 * @param string $webhook_id Its webhook-id.
	 */
	public static function action_farewell_bridge_event_recorded( $payload, $webhook_id = '' ) {
		unset( $webhook_id );
		if ( ! is_array( $payload ) || 'subscription.cancelled' !== ( isset( $payload['type'] ) ? $payload['type'] : '' )
			|| 'member' !== ( isset( $payload['initiated_by'] ) ? $payload['initiated_by'] : '' ) ) {
			return;
		}
		$user_id = isset( $payload['member']['id'] ) && ctype_digit( (string) $payload['member']['id'] ) ? (int) $payload['member']['id'] : 0;
		if ( $user_id <= 0 || ! get_userdata( $user_id ) ) {
			return;
		}
		$here = ! Farewell_Bridge_Context::is_system() && ! ( defined( 'REST_REQUEST' ) && REST_REQUEST ) && (int) get_current_user_id() === $user_id;
		$new  = array(
			'subscription_id' => isset( $payload['subscription']['id'] ) ? (string) $payload['subscription']['id'] : '',
			'source'          => isset( $payload['source'] ) ? (string) $payload['source'] : '',
			'at'              => time(),
			'shown'           => ! $here, // Only a cancel made on this site's pages, by the member, is followed by the survey.
			'answered'        => false,
		);
		if ( $here && Farewell_Bridge_Dispatcher::can_end_response() ) {
			// The member's own request, on a server that ends it early: the user meta (three
			// statements) is written once they have this page, and the cookie tells their next
			// page in case it comes first. Where the page's output has begun no cookie can be
			// sent (MemberPress's ReadyLaunch account page prints itself before it cancels): the
			// write still follows the response, first thing, a few milliseconds before any page
			// a member can ask for next; one that came sooner would show the survey on the page
			// after it (the write adds the cancel as not shown yet), never twice.
			self::send_cookie( self::cookie_value( $user_id, $new ), $new['at'] + self::PENDING_SECONDS );
			self::$deferred[ $user_id ][] = $new;
			return;
		}
		$kept = array( $new );
		foreach ( self::cancellations( $user_id ) as $old ) {
			// The same subscription cancelled again: only its latest cancellation can be answered about.
			if ( ( $old['source'] !== $new['source'] || $old['subscription_id'] !== $new['subscription_id'] ) && count( $kept ) < self::CANCELS_KEPT ) {
				$kept[] = $old;
			}
		}
		// Here the mark is on the member's clock (mod_php, php -S, or not their own request).
		// cancellations() has just read the member's meta into WordPress's cache: where it holds
		// no mark yet (a first cancel), add_user_meta() inserts it without update_user_meta()'s
		// look-up of the row to update, one statement fewer.
		$cached = wp_cache_get( $user_id, 'user_meta' );
		if ( is_array( $cached ) && ! isset( $cached[ self::PENDING_META ] ) ) {
			add_user_meta( $user_id, self::PENDING_META, $kept );
		} else {
			update_user_meta( $user_id, self::PENDING_META, $kept );
		}
	}

	/**
	 * Writes the user meta of the member's cancels this request deferred, after ending the
	 * response (so a member on another device, or whose cookie is gone, still gets the survey).
	 * Hooked on shutdown, right before the delivery.
	 */
	public static function action_shutdown() {
		if ( ! self::$deferred ) {
			return;
		}
		$deferred       = self::$deferred;
		self::$deferred = array();
		Farewell_Bridge_Dispatcher::end_response();
		foreach ( $deferred as $user_id => $cancels ) {
			foreach ( $cancels as $cancel ) {
				try {
					self::merge( $user_id, $cancel );
				} catch ( Throwable $e ) {
					Farewell_Bridge_Dispatcher::log( $e );
				}
			}
		}
	}

	/**
	 * Adds a cancel to the member's user meta unless it is there already, under a lock per member:
	 * the cancel request's deferred write and the next page's reading of the cookie may meet, and
	 * whichever comes second must keep what the first wrote (the next page may have marked it
	 * shown: the survey then does not show twice).
	 *
	 * @param int   $user_id User.
	 * @param array $new     {subscription_id, source, at, shown, answered}.
	 */
	private static function merge( $user_id, array $new ) {
		global $wpdb;
		$lock = 'farewell_survey_' . substr( md5( DB_NAME . '|' . $wpdb->prefix . '|' . (int) $user_id ), 0, 32 );
		$held = '1' === (string) $wpdb->get_var( $wpdb->prepare( 'SELECT GET_LOCK(%s, 5)', $lock ) );
		try {
			wp_cache_delete( (int) $user_id, 'user_meta' ); // Another request may have written it since.
			$kept = self::with_cancel( self::stored_cancellations( $user_id ), $new );
			if ( null !== $kept ) {
				update_user_meta( (int) $user_id, self::PENDING_META, $kept );
			}
		} finally {
			if ( $held ) {
				$wpdb->query( $wpdb->prepare( 'SELECT RELEASE_LOCK(%s)', $lock ) );
			}
		}
	}

	/**
	 * A member's cancellations with a cancel added in front, or null when they hold it already
	 * (written by the other side of merge(), perhaps marked shown since).
	 *
	 * @param array[] $stored Cancellations, newest first (stored_cancellations()).
	 * @param array   $new    {subscription_id, source, at, shown, answered}.
	 * @return array[]|null
	 */
	private static function with_cancel( array $stored, array $new ) {
		$kept = array( $new );
		foreach ( $stored as $old ) {
			$same = $old['source'] === $new['source'] && $old['subscription_id'] === $new['subscription_id'];
			if ( $same && $old['at'] >= $new['at'] ) {
				return null;
			}
			if ( ! $same && count( $kept ) < self::CANCELS_KEPT ) {
				$kept[] = $old;
			}
		}
		return $kept;
	}

	/**
	 * The cookie's value: the cancel, its member and expiry, and an HMAC of them keyed with the
	 * site's auth salt (no one else can make one, nor make one for another member).
	 *
	 * @param int   $user_id User.
	 * @param array $cancel  {subscription_id, source, at}.
	 * @return string
	 */
	private static function cookie_value( $user_id, array $cancel ) {
		$data = rtrim( strtr( base64_encode( (string) wp_json_encode( array( (int) $user_id, (string) $cancel['source'], (string) $cancel['subscription_id'], (int) $cancel['at'] ) ) ), '+/', '-_' ), '=' ); // phpcs:ignore WordPress.PHP.DiscouragedPHPFunctions.obfuscation_base64_encode -- a cookie-safe encoding, not obfuscation.
		return $data . '.' . hash_hmac( 'sha256', self::COOKIE . '|' . $data, wp_salt( 'auth' ) );
	}

	/**
	 * The cancel a cookie of this request carries for a member, when it is genuine, theirs and
	 * recent; null otherwise.
	 *
	 * @param int $user_id User.
	 * @return array|null {subscription_id, source, at, shown, answered}
	 */
	private static function cookie_cancel( $user_id ) {
		$value = isset( $_COOKIE[ self::COOKIE ] ) && is_string( $_COOKIE[ self::COOKIE ] ) ? wp_unslash( $_COOKIE[ self::COOKIE ] ) : ''; // phpcs:ignore WordPress.Security.ValidatedSanitizedInput.InputNotSanitized -- checked by its HMAC below.
		if ( '' === $value || strlen( $value ) > self::COOKIE_LENGTH_LIMIT || 1 !== substr_count( $value, '.' ) ) {
			return null;
		}
		list( $data, $mac ) = explode( '.', $value );
		if ( ! hash_equals( hash_hmac( 'sha256', self::COOKIE . '|' . $data, wp_salt( 'auth' ) ), $mac ) ) {
			return null;
		}
		$fields = json_decode( (string) base64_decode( strtr( $data, '-_', '+/' ), true ), true ); // phpcs:ignore WordPress.PHP.DiscouragedPHPFunctions.obfuscation_base64_decode -- see cookie_value().
		if ( ! is_array( $fields ) || 4 !== count( $fields ) || (int) $fields[0] !== (int) $user_id || $user_id <= 0
			|| time() - (int) $fields[3] > self::PENDING_SECONDS ) {
			return null;
		}
		return array(
			'subscription_id' => (string) $fields[2],
			'source'          => (string) $fields[1],
			'at'              => (int) $fields[3],
			'shown'           => false,
			'answered'        => false,
		);
	}

	/**
	 * The signed-in member's page: a cookie of their cancel is taken into their user meta (in
	 * case the cancel request has not written it yet) and cleared. Any other cookie is cleared.
	 *
	 * @param int $user_id User.
	 */
	private static function adopt_cookie( $user_id ) {
		if ( ! isset( $_COOKIE[ self::COOKIE ] ) || (int) $user_id <= 0 || (int) get_current_user_id() !== (int) $user_id ) {
			return;
		}
		$cancel = self::cookie_cancel( $user_id );
		unset( $_COOKIE[ self::COOKIE ] );
		self::send_cookie( '', time() - YEAR_IN_SECONDS );
		if ( null !== $cancel ) {
			self::merge( $user_id, $cancel );
		}
	}

	/**
	 * Sets (or, with a past expiry, clears) the cookie: HttpOnly, SameSite=Lax, Secure on HTTPS,
	 * on the site's paths as WordPress's own cookies are.
	 *
	 * @param string $value   Value.
	 * @param int    $expires Unix time.
	 * @return bool Whether it could be sent (not once the page's output has begun).
	 */
	private static function send_cookie( $value, $expires ) {
		/**
		 * Filters the sending of the survey's cookie: a non-null value says it was handled (a
		 * host or a test that sets cookies its own way) and whether it was sent.
		 *
		 * @param bool|null $sent    Null to let the bridge send it.
		 * @param string    $value   Value ('' to clear it).
		 * @param int       $expires Unix time.
		 */
		$sent = apply_filters( 'farewell_bridge_send_survey_cookie', null, $value, $expires );
		if ( null !== $sent ) {
			return (bool) $sent;
		}
		if ( headers_sent() ) {
			return false;
		}
		foreach ( array_unique( array( COOKIEPATH, SITECOOKIEPATH ) ) as $path ) {
			setcookie(
				self::COOKIE,
				$value,
				array(
					'expires'  => (int) $expires,
					'path'     => $path,
					'domain'   => COOKIE_DOMAIN ? COOKIE_DOMAIN : '',
					'secure'   => is_ssl(),
					'httponly' => true,
					'samesite' => 'Lax',
				)
			);
		}
		return true;
	}

	/**
	 * The member's own cancellations that may still be answered about (ANSWER_SECONDS), newest first.
	 *
	 * @param int $user_id User.
	 * @return array[] Each {subscription_id, source, at, shown, answered}.
	 */
	public static function cancellations( $user_id ) {
		if ( (int) $user_id <= 0 ) {
			return array();
		}
		self::adopt_cookie( $user_id );
		$stored = self::stored_cancellations( $user_id );
		// This request's own cancels, their meta not written yet: the page it draws shows the
		// survey as it did when the meta was written at once (PMPro confirms on that page).
		foreach ( isset( self::$deferred[ (int) $user_id ] ) ? self::$deferred[ (int) $user_id ] : array() as $cancel ) {
			$kept   = self::with_cancel( $stored, $cancel );
			$stored = null === $kept ? $stored : $kept;
		}
		return $stored;
	}

	/**
	 * The member's cancellations as their user meta holds them (see cancellations()).
	 *
	 * @param int $user_id User.
	 * @return array[]
	 */
	private static function stored_cancellations( $user_id ) {
		$stored = get_user_meta( (int) $user_id, self::PENDING_META, true );
		if ( is_array( $stored ) && isset( $stored['at'] ) ) {
			$stored = array( $stored ); // Kept by version 0.1.0: one cancel, deleted once answered.
		}
		$found = array();
		foreach ( is_array( $stored ) ? $stored : array() as $entry ) {
			if ( ! is_array( $entry ) || ! isset( $entry['at'] ) || time() - (int) $entry['at'] > self::ANSWER_SECONDS ) {
				continue;
			}
			$found[] = array(
				'subscription_id' => isset( $entry['subscription_id'] ) ? (string) $entry['subscription_id'] : '',
				'source'          => isset( $entry['source'] ) ? (string) $entry['source'] : '',
				'at'              => (int) $entry['at'],
				'shown'           => ! empty( $entry['shown'] ),
				'answered'        => ! empty( $entry['answered'] ),
			);
		}
		usort(
			$found,
			static function ( $a, $b ) {
				return $b['at'] - $a['at'];
			}
		);
		return $found;
	}

	/**
	 * The cancellation a signed-in member's answer is about: their latest own one, or null when
	 * they have none to answer about (then they may not answer, except from an email link).
	 *
	 * @param int $user_id User.
	 * @return array|null {subscription_id, source, at, shown, answered}
	 */
	public static function answerable( $user_id ) {
		$cancellations = self::cancellations( $user_id );
		return $cancellations ? $cancellations[0] : null;
	}

	/**
	 * What a signed-in visitor with no cancellation to answer about is told.
	 *
	 * @return string
	 */
	public static function no_cancellation_message() {
		return __( 'There is no recent cancellation on your account, so there is no survey to answer.', 'farewell-bridge' );
	}

	/**
	 * The member's cancel waiting for the survey to show by itself (less than PENDING_SECONDS old), or null.
	 *
	 * @param int $user_id User.
	 * @return array|null {subscription_id, source, at, shown, answered}
	 */
	public static function pending( $user_id ) {
		$latest = self::answerable( $user_id );
		if ( null === $latest || time() - $latest['at'] > self::PENDING_SECONDS ) {
			return null;
		}
		return $latest;
	}

	/**
	 * Marks the waiting survey as shown (it appears on one page only).
	 *
	 * @param int $user_id User.
	 */
	public static function mark_shown( $user_id ) {
		self::update_latest( $user_id, array( 'shown' => true ) );
	}

	/**
	 * Marks the latest cancellation as answered: the survey no longer shows by itself, and the
	 * form says a new answer replaces the previous one.
	 *
	 * @param int $user_id User.
	 */
	public static function mark_answered( $user_id ) {
		self::update_latest(
			$user_id,
			array(
				'shown'    => true,
				'answered' => true,
			)
		);
	}

	/**
	 * Changes flags of the member's latest cancellation, when they differ.
	 *
	 * @param int   $user_id User.
	 * @param array $flags   shown, answered.
	 */
	private static function update_latest( $user_id, array $flags ) {
		$cancellations = self::cancellations( $user_id );
		if ( ! $cancellations || array_intersect_assoc( $flags, $cancellations[0] ) === $flags ) {
			return;
		}
		$cancellations[0] = array_merge( $cancellations[0], $flags );
		update_user_meta( (int) $user_id, self::PENDING_META, $cancellations );
	}
}
