<?php
/**
 * Where `wp farewell import`'s time goes, phase by phase, when FAREWELL_IMPORT_PROFILE is set in
 * the environment (bench/import.py sets it; issue 16's "measure first"): WP-CLI's boot, reading
 * the membership plugin, building the events, the outbox's INSERTs, signing, HTTP, marking rows
 * delivered. Off, each call is one static property read: nothing is timed or kept.
 *
 * @package Farewell_Bridge
 */

if ( ! defined( 'ABSPATH' ) ) {
	exit;
}

/**
 * Phase timers of one import command.
 */
class Farewell_Bridge_Import_Profile {

	/** Whether timing is on (null: not looked up yet). */
	private static $on = null;
	/** Phase => seconds spent in it so far. */
	private static $seconds = array();
	/** Phase => times it was entered. */
	private static $calls = array();
	/** Phase => its longest single time: a step's bound is per call, not per sum. */
	private static $longest = array();
	/** Phase => microtime(true) when the running phase started. */
	private static $started = array();

	/**
	 * Whether phases are timed in this process.
	 *
	 * @return bool
	 */
	public static function on() {
		if ( null === self::$on ) {
			self::$on = '' !== (string) getenv( 'FAREWELL_IMPORT_PROFILE' );
		}
		return self::$on;
	}

	/**
	 * A phase starts.
	 *
	 * @param string $phase Name.
	 */
	public static function start( $phase ) {
		if ( self::on() ) {
			self::$started[ $phase ] = microtime( true );
		}
	}

	/**
	 * The phase started last under this name ends.
	 *
	 * @param string $phase Name.
	 */
	public static function stop( $phase ) {
		if ( ! self::on() || ! isset( self::$started[ $phase ] ) ) {
			return;
		}
		self::add( $phase, microtime( true ) - self::$started[ $phase ] );
		unset( self::$started[ $phase ] );
	}

	/**
	 * Adds time measured elsewhere to a phase.
	 *
	 * @param string $phase   Name.
	 * @param float  $seconds Seconds.
	 */
	public static function add( $phase, $seconds ) {
		if ( ! self::on() ) {
			return;
		}
		self::$seconds[ $phase ] = ( isset( self::$seconds[ $phase ] ) ? self::$seconds[ $phase ] : 0.0 ) + (float) $seconds;
		self::$calls[ $phase ]   = ( isset( self::$calls[ $phase ] ) ? self::$calls[ $phase ] : 0 ) + 1;
		self::$longest[ $phase ] = max( isset( self::$longest[ $phase ] ) ? self::$longest[ $phase ] : 0.0, (float) $seconds );
	}

	/**
	 * The phases so far: name => array( seconds, calls, longest ), plus the process's peak memory.
	 *
	 * @return array
	 */
	public static function report() {
		$out = array();
		foreach ( self::$seconds as $phase => $seconds ) {
			$out[ $phase ] = array(
				'seconds' => round( $seconds, 4 ),
				'calls'   => self::$calls[ $phase ],
				'longest' => round( self::$longest[ $phase ], 4 ),
			);
		}
		$out['peak_memory_mb'] = round( memory_get_peak_usage( true ) / 1048576, 1 );
		return $out;
	}
}
