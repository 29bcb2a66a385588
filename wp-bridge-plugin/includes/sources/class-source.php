<?php
/**
 * Base of the membership-plugin sources.
 *
 * A source says whether its membership plugin is active, which hooks it listens to, and turns
 * each hook call into normalized events through Farewell_Bridge_Event_Factory::record().
 * Farewell_Bridge_Plugin adds the hooks, wrapping every handler so that nothing thrown here can
 * reach the membership plugin.
 *
 * @package Farewell_Bridge
 */

if ( ! defined( 'ABSPATH' ) ) {
	exit;
}

/**
 * One membership plugin.
 */
abstract class Farewell_Bridge_Source {

	/**
	 * The protocol's `source` value.
	 *
	 * @return string
	 */
	abstract public function slug();

	/**
	 * Whether the membership plugin is active (checked on plugins_loaded).
	 *
	 * @return bool
	 */
	abstract public function is_available();

	/**
	 * Hooks to listen to: list of array( hook, method, accepted args ). The method is named after
	 * its hook (action_<hook>; action_mepr_event for MemberPress's mepr_event_<event> family).
	 *
	 * @return array[]
	 */
	abstract public function hooks();

	/**
	 * Records one event for this source.
	 *
	 * @param string     $type         Event type.
	 * @param int        $user_id      Member.
	 * @param array|null $subscription Subscription fields.
	 * @param array      $options      See Farewell_Bridge_Event_Factory::build().
	 * @return string|null webhook-id.
	 */
	protected function record( $type, $user_id, $subscription = null, array $options = array() ) {
		return Farewell_Bridge_Event_Factory::record( $this->slug(), $type, (int) $user_id, $subscription, $options );
	}

	/**
	 * Reads a property of a model object without notices.
	 *
	 * @param object $model Object.
	 * @param string $name  Property.
	 * @return mixed|null
	 */
	protected static function prop( $model, $name ) {
		if ( ! is_object( $model ) ) {
			return null;
		}
		return isset( $model->$name ) ? $model->$name : null;
	}

	/**
	 * Calls a getter if the object has it.
	 *
	 * @param object $model  Object.
	 * @param string $method Method.
	 * @param array  $args   Arguments.
	 * @return mixed|null
	 */
	protected static function call( $model, $method, array $args = array() ) {
		if ( is_object( $model ) && is_callable( array( $model, $method ) ) ) {
			return call_user_func_array( array( $model, $method ), $args );
		}
		return null;
	}
}
