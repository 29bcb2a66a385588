<?php
/**
 * Personal data exporter and eraser (Tools → Export / Erase Personal Data).
 *
 * Both ask the sidecar, which holds the member's cancellation history and survey answers.
 * Contract with the sidecar (signed like events, a fresh webhook-id per call; see
 * docs/PROTOCOL.md):
 *
 *   POST /v1/sites/{site_id}/privacy/export   body {"email": "ana@example.org", "locale": "fr_FR"}
 *   200  {"data": [ {"group": "farewell-member", "label": "Farewell: member profile", "id": "member-12",
 *                    "items": [ {"name": "Email", "value": "ana@example.org"} ]} ]}
 *        Each element is one exported item; "group" is a stable machine id, "label" is shown to
 *        the admin, "id" (optional) identifies the item, "items" are name/value pairs.
 *        An unknown email gives {"data": []}. "locale" is the user's (or the site's) locale, so
 *        the sidecar can translate its labels.
 *
 *   POST /v1/sites/{site_id}/privacy/erase    body {"email": "ana@example.org", "locale": "fr_FR"}
 *   200  {"items_removed": N}   (N > 0: the member's personal data was erased; the sidecar keeps
 *        only what is needed to honour an unsubscribe, reported here as "retained")
 *
 * Everything is returned on page 1 (done = true): the sidecar's data per member is small.
 * A failure (sidecar down, wrong secret…) is reported to the admin as an error, never as
 * "nothing found".
 *
 * @package Farewell_Bridge
 */

if ( ! defined( 'ABSPATH' ) ) {
	exit;
}

/**
 * Privacy tools integration.
 */
class Farewell_Bridge_Privacy {

	const KEY = 'farewell-bridge';

	/**
	 * Registers the exporter. Hooked on wp_privacy_personal_data_exporters.
	 *
	 * @param array $exporters Exporters.
	 * @return array
	 */
	public static function filter_wp_privacy_personal_data_exporters( $exporters ) {
		$exporters[ self::KEY ] = array(
			'exporter_friendly_name' => __( 'Farewell (cancellations and survey answers)', 'farewell-bridge' ),
			'callback'               => array( __CLASS__, 'export' ),
		);
		return $exporters;
	}

	/**
	 * Registers the eraser. Hooked on wp_privacy_personal_data_erasers.
	 *
	 * @param array $erasers Erasers.
	 * @return array
	 */
	public static function filter_wp_privacy_personal_data_erasers( $erasers ) {
		$erasers[ self::KEY ] = array(
			'eraser_friendly_name' => __( 'Farewell (cancellations and survey answers)', 'farewell-bridge' ),
			'callback'             => array( __CLASS__, 'erase' ),
		);
		return $erasers;
	}

	/**
	 * Exports the sidecar's data about an email address.
	 *
	 * @param string $email Email address.
	 * @param int    $page  Page (1-based).
	 * @return array|WP_Error
	 */
	public static function export( $email, $page = 1 ) {
		if ( (int) $page > 1 ) {
			return array(
				'data' => array(),
				'done' => true,
			);
		}
		$result = self::ask( 'privacy/export', $email );
		if ( is_wp_error( $result ) ) {
			return $result;
		}
		$groups = isset( $result['data'] ) && is_array( $result['data'] ) ? $result['data'] : array();
		$data   = array();
		foreach ( $groups as $index => $group ) {
			if ( ! is_array( $group ) ) {
				continue;
			}
			$group_key = isset( $group['group'] ) ? sanitize_key( (string) $group['group'] ) : 'data';
			$group_key = 0 === strpos( $group_key, 'farewell-' ) ? substr( $group_key, 9 ) : $group_key;
			$item_key  = isset( $group['id'] ) && is_scalar( $group['id'] ) ? sanitize_key( (string) $group['id'] ) : $group_key . '-' . (int) $index;
			$items     = array();
			foreach ( isset( $group['items'] ) && is_array( $group['items'] ) ? $group['items'] : array() as $item ) {
				if ( is_array( $item ) && isset( $item['name'] ) ) {
					$value   = isset( $item['value'] ) ? $item['value'] : '';
					$items[] = array(
						'name'  => (string) $item['name'],
						'value' => is_scalar( $value ) ? (string) $value : (string) wp_json_encode( $value ),
					);
				}
			}
			$data[] = array(
				'group_id'    => 'farewell-' . ( '' !== $group_key ? $group_key : 'data' ),
				'group_label' => isset( $group['label'] ) ? (string) $group['label'] : __( 'Farewell', 'farewell-bridge' ),
				'item_id'     => 'farewell-' . $item_key,
				'data'        => $items,
			);
		}
		return array(
			'data' => $data,
			'done' => true,
		);
	}

	/**
	 * Erases the sidecar's data about an email address.
	 *
	 * @param string $email Email address.
	 * @param int    $page  Page (1-based).
	 * @return array|WP_Error
	 */
	public static function erase( $email, $page = 1 ) {
		$empty = array(
			'items_removed'  => false,
			'items_retained' => false,
			'messages'       => array(),
			'done'           => true,
		);
		if ( (int) $page > 1 ) {
			return $empty;
		}
		$result = self::ask( 'privacy/erase', $email );
		if ( is_wp_error( $result ) ) {
			return $result;
		}
		$removed                 = isset( $result['items_removed'] ) ? (int) $result['items_removed'] : 0;
		$empty['items_removed']  = $removed > 0;
		$empty['items_retained'] = $removed > 0; // Anonymous counts (and an unsubscribe hash) stay.
		if ( $removed > 0 ) {
			$empty['messages'][] = __( 'Farewell keeps anonymous cancellation counts, and a one-way hash of the address only where it is needed to keep honouring an unsubscribe.', 'farewell-bridge' );
		}
		return $empty;
	}

	/**
	 * Sends a signed privacy request.
	 *
	 * @param string $route Route.
	 * @param string $email Email.
	 * @return array|WP_Error Decoded answer.
	 */
	private static function ask( $route, $email ) {
		if ( ! Farewell_Bridge_Settings::is_configured() ) {
			return new WP_Error( 'farewell_bridge_not_configured', __( 'Farewell Bridge is not configured, so the sidecar could not be asked.', 'farewell-bridge' ) );
		}
		$user   = get_user_by( 'email', (string) $email );
		$locale = $user ? get_user_locale( $user ) : get_locale();
		$result = Farewell_Bridge_Client::from_settings()->post_json(
			$route,
			array(
				'email'  => (string) $email,
				'locale' => (string) $locale,
			)
		);
		if ( Farewell_Bridge_Client::DELIVERED !== $result['kind'] || ! is_array( $result['body'] ) ) {
			$message = '' !== $result['message'] ? $result['message'] : __( 'The sidecar gave an unexpected answer.', 'farewell-bridge' );
			/* translators: %s: the error message. */
			return new WP_Error( 'farewell_bridge_privacy', sprintf( __( 'Farewell sidecar: %s', 'farewell-bridge' ), $message ) );
		}
		return $result['body'];
	}

	/**
	 * Suggested privacy policy text. Hooked on admin_init.
	 */
	public static function action_admin_init() {
		if ( ! function_exists( 'wp_add_privacy_policy_content' ) ) {
			return;
		}
		wp_add_privacy_policy_content(
			__( 'Farewell Bridge', 'farewell-bridge' ),
			wp_kses_post( wpautop( __( 'When a member cancels, pauses, resumes or changes a subscription, this site sends the member\'s user id, email address, first name, language and subscription details to our Farewell service, which may email them about it and record their answers to a short survey.', 'farewell-bridge' ) ) )
		);
	}
}
