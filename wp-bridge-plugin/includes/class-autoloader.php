<?php
/**
 * Class autoloader: maps Farewell_Bridge_* class names to files under includes/.
 *
 * Farewell_Bridge_Event_Factory      -> includes/class-event-factory.php
 * Farewell_Bridge_Source_Memberpress -> includes/sources/class-source-memberpress.php
 * Farewell_Bridge_History_Memberpress -> includes/history/class-history-memberpress.php
 * Farewell_Bridge_History_Source     -> includes/history/interface-history-source.php
 *
 * @package Farewell_Bridge
 */

if ( ! defined( 'ABSPATH' ) ) {
	exit;
}

/**
 * Loads the plugin's classes on demand.
 */
final class Farewell_Bridge_Autoloader {

	/**
	 * Directory holding the class files.
	 *
	 * @var string
	 */
	private static $dir = '';

	/**
	 * Registers the autoloader.
	 *
	 * @param string $dir The includes/ directory.
	 */
	public static function register( $dir ) {
		self::$dir = rtrim( $dir, '/\\' );
		spl_autoload_register( array( __CLASS__, 'load' ) );
	}

	/**
	 * Loads one class if it belongs to this plugin.
	 *
	 * @param string $class_name Class name.
	 */
	public static function load( $class_name ) {
		$prefix = 'Farewell_Bridge_';
		if ( 0 !== strpos( $class_name, $prefix ) ) {
			return;
		}
		$slug = str_replace( '_', '-', strtolower( substr( $class_name, strlen( $prefix ) ) ) );
		$file = self::$dir . '/class-' . $slug . '.php';
		if ( 0 === strpos( $slug, 'source' ) ) {
			$file = self::$dir . '/sources/class-' . $slug . '.php';
		} elseif ( 'history-source' === $slug ) {
			$file = self::$dir . '/history/interface-' . $slug . '.php';
		} elseif ( 0 === strpos( $slug, 'history' ) ) {
			$file = self::$dir . '/history/class-' . $slug . '.php';
		}
		if ( is_readable( $file ) ) {
			require_once $file;
		}
	}
}
