<?php
/**
 * What every table of the plugin does the same way: installed or upgraded by dbDelta when its
 * stored schema version is older than the code's, and dropped on uninstall.
 *
 * A class using it defines SCHEMA_VERSION, SCHEMA_OPTION, table() and install().
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
