<?php
/**
 * What every table of the plugin does the same way: installed or upgraded by dbDelta when its
 * stored schema version is older than the code's, and dropped on uninstall.
 *
 * A class using it defines SCHEMA_VERSION, SCHEMA_OPTION, table() and columns().
 *
 * @package Farewell_Bridge
 */

if ( ! defined( 'ABSPATH' ) ) {
	exit;
}

/**
 * Schema upgrade and removal of one of the plugin's own tables.
 */
trait Farewell_Bridge_Owned_Table {

	/**
	 * Creates or upgrades the table with dbDelta, then records the schema version.
	 */
	public static function install() {
		global $wpdb;
		require_once ABSPATH . 'wp-admin/includes/upgrade.php';
		// dbDelta needs two spaces after PRIMARY KEY and one field per line (columns()).
		dbDelta( 'CREATE TABLE ' . static::table() . " (\n" . static::columns() . "\n) " . $wpdb->get_charset_collate() . ';' );
		update_option( static::SCHEMA_OPTION, static::SCHEMA_VERSION, true );
	}

	/**
	 * Installs or upgrades the table when the stored schema version is older than this code's.
	 */
	public static function maybe_upgrade() {
		if ( (int) get_option( static::SCHEMA_OPTION, 0 ) < static::SCHEMA_VERSION ) {
			static::install();
		}
	}

	/**
	 * Drops the table (uninstall only).
	 */
	public static function drop() {
		global $wpdb;
		$wpdb->query( 'DROP TABLE IF EXISTS ' . static::table() ); // phpcs:ignore WordPress.DB.PreparedSQL.NotPrepared,WordPress.DB.DirectDatabaseQuery.SchemaChange -- table name only.
	}
}
