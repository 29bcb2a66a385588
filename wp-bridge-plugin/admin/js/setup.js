/**
 * Farewell → Set-up: brings the first step still to do into view and gives it the focus, so
 * that coming back from a step's button (Test connection, the settings form) lands on what is
 * next. The checklist works the same without it.
 */
( function () {
	'use strict';
	var next = document.querySelector( '.farewell-setup-step.is-todo summary' );
	if ( next && document.querySelector( '.farewell-setup[data-farewell-setup-complete="0"]' ) ) {
		next.setAttribute( 'tabindex', '0' );
		next.focus( { preventScroll: false } );
	}
}() );
