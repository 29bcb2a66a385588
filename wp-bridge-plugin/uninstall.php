<?php
/**
 * Uninstall: stops the plugin's cron events, then removes its data only when the admin opted in
 * ("Delete the outbox and all settings when the plugin is deleted").
 *
 * What there is to remove is not listed here: each class of Farewell_Bridge_Plugin::DATA_OWNERS
 * says what it keeps in its owned(), an array of
 *   'cron_hooks' => hooks whose events are unscheduled (always, even when the data stays),
 *   'tables'     => full table names, dropped,
 *   'options'    => option names, deleted,
 *   'transients' => transient names or prefixes (a name + a user id…), deleted with their timeouts,
 *   'user_meta'  => meta keys, deleted for every user,
 *   'posts'      => ids of posts the plugin created (the survey page), deleted.
 *
 * @package Farewell_Bridge
 */

if ( ! defined( 'WP_UNINSTALL_PLUGIN' ) ) {
	exit;
}

// The plugin is inactive here: its classes are loaded on demand, as when it runs.
if ( ! class_exists( 'Farewell_Bridge_Autoloader', false ) ) {
	require_once __DIR__ . '/includes/class-autoloader.php';
}
Farewell_Bridge_Autoloader::register( __DIR__ . '/includes' );

$farewell_owned = array();
foreach ( Farewell_Bridge_Plugin::DATA_OWNERS as $farewell_class ) {
	foreach ( call_user_func( array( $farewell_class, 'owned' ) ) as $farewell_kind => $farewell_names ) {
		$farewell_owned[ $farewell_kind ] = array_merge( isset( $farewell_owned[ $farewell_kind ] ) ? $farewell_owned[ $farewell_kind ] : array(), $farewell_names );
	}
}
$farewell_owned += array_fill_keys( array( 'cron_hooks', 'tables', 'options', 'transients', 'user_meta', 'posts' ), array() );

foreach ( $farewell_owned['cron_hooks'] as $farewell_hook ) {
	wp_clear_scheduled_hook( $farewell_hook );
}

if ( ! Farewell_Bridge_Settings::delete_data_on_uninstall() ) {
	return;
}

global $wpdb;
foreach ( $farewell_owned['tables'] as $farewell_table ) {
	$wpdb->query( 'DROP TABLE IF EXISTS ' . $farewell_table ); // phpcs:ignore WordPress.DB.PreparedSQL.NotPrepared,WordPress.DB.DirectDatabaseQuery.SchemaChange -- the plugin's own table names.
}
foreach ( $farewell_owned['posts'] as $farewell_post ) {
	wp_delete_post( (int) $farewell_post, true );
}
foreach ( $farewell_owned['options'] as $farewell_option ) {
	delete_option( $farewell_option );
}
foreach ( $farewell_owned['user_meta'] as $farewell_meta_key ) {
	delete_metadata( 'user', 0, $farewell_meta_key, '', true );
}
foreach ( $farewell_owned['transients'] as $farewell_transient ) {
	$wpdb->query( $wpdb->prepare( "DELETE FROM {$wpdb->options} WHERE option_name LIKE %s OR option_name LIKE %s", $wpdb->esc_like( '_transient_' . $farewell_transient ) . '%', $wpdb->esc_like( '_transient_timeout_' . $farewell_transient ) . '%' ) ); // phpcs:ignore WordPress.DB.DirectDatabaseQuery
}
