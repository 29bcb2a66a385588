<?php
/**
 * Plugin Name:       Farewell Bridge
 * Plugin URI:        https://github.com/farewell/farewell
 * Description:       Sends membership cancellations, expiries, pauses, resumptions, new subscriptions and failed payments to your Farewell sidecar through a durable, signed outbox.
 * Version:           0.1.0
 * Requires at least: 6.1
 * Requires PHP:      7.4
 * Author:            Farewell
 * License:           GPL-2.0-or-later
 * License URI:       https://www.gnu.org/licenses/gpl-2.0.html
 * Text Domain:       farewell-bridge
 * Domain Path:       /languages
 *
 * @package Farewell_Bridge
 */

if ( ! defined( 'ABSPATH' ) ) {
	exit;
}

define( 'FAREWELL_BRIDGE_VERSION', '0.1.0' );
define( 'FAREWELL_BRIDGE_FILE', __FILE__ );
define( 'FAREWELL_BRIDGE_DIR', __DIR__ );

require_once __DIR__ . '/includes/class-autoloader.php';
Farewell_Bridge_Autoloader::register( __DIR__ . '/includes' );

Farewell_Bridge_Plugin::init( __FILE__ );
