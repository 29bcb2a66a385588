<?php
/**
 * Tools → Site Health: whether the bridge can sign its requests. A secret that breaks the rule
 * (a placeholder left in wp-config.php, a truncated paste) stops every exchange with the sidecar;
 * Site Health is where a site's owner or host looks first, so it says so there too.
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

	const TEST = 'farewell_bridge_secret';

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
		return $tests;
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
