<?php
/**
 * Uninstall: removes the outbox table and the options only when the admin opted in
 * ("Delete the outbox and all settings when the plugin is deleted").
 *
 * @package Farewell_Bridge
 */

if ( ! defined( 'WP_UNINSTALL_PLUGIN' ) ) {
	exit;
}

wp_clear_scheduled_hook( 'farewell_bridge_deliver' );
wp_clear_scheduled_hook( 'farewell_bridge_report_site_info' );
wp_clear_scheduled_hook( 'farewell_bridge_prune_rate_limits' );

$farewell_settings = get_option( 'farewell_bridge_settings', array() );
if ( ! is_array( $farewell_settings ) || empty( $farewell_settings['delete_data'] ) ) {
	return;
}

global $wpdb;
$wpdb->query( 'DROP TABLE IF EXISTS ' . $wpdb->prefix . 'farewell_outbox' ); // phpcs:ignore WordPress.DB.PreparedSQL.NotPrepared,WordPress.DB.DirectDatabaseQuery.SchemaChange -- fixed table name.
$wpdb->query( 'DROP TABLE IF EXISTS ' . $wpdb->prefix . 'farewell_bridge_requests' ); // phpcs:ignore WordPress.DB.PreparedSQL.NotPrepared,WordPress.DB.DirectDatabaseQuery.SchemaChange -- fixed table name.
$wpdb->query( 'DROP TABLE IF EXISTS ' . $wpdb->prefix . 'farewell_rate_limits' ); // phpcs:ignore WordPress.DB.PreparedSQL.NotPrepared,WordPress.DB.DirectDatabaseQuery.SchemaChange -- fixed table name.

foreach ( array( 'farewell_bridge_settings', 'farewell_bridge_secret', 'farewell_bridge_schema_version', 'farewell_bridge_requests_schema_version', 'farewell_bridge_rate_limit_schema_version', 'farewell_bridge_clock_skew', 'farewell_bridge_paused', 'farewell_bridge_last_delivery', 'farewell_bridge_insert_failures', 'farewell_bridge_circuit_until', 'farewell_bridge_loopback', 'farewell_bridge_survey_last_en', 'farewell_bridge_survey_last_fr' ) as $farewell_option ) {
	delete_option( $farewell_option );
}
// The survey page the plugin created for email links, and members' waiting surveys.
$farewell_survey_page = (int) get_option( 'farewell_bridge_survey_page_id', 0 );
if ( $farewell_survey_page > 0 ) {
	wp_delete_post( $farewell_survey_page, true );
}
delete_option( 'farewell_bridge_survey_page_id' );
delete_metadata( 'user', 0, '_farewell_bridge_survey_pending', '', true );
delete_metadata( 'user', 0, '_farewell_bridge_memberpress_lapsed', '', true );
$wpdb->query( $wpdb->prepare( "DELETE FROM {$wpdb->options} WHERE option_name LIKE %s OR option_name LIKE %s", $wpdb->esc_like( '_transient_farewell_bridge_' ) . '%', $wpdb->esc_like( '_transient_timeout_farewell_bridge_' ) . '%' ) ); // phpcs:ignore WordPress.DB.DirectDatabaseQuery
