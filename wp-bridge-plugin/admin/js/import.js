/**
 * Farewell → Import history: while an import runs, asks admin-ajax every few seconds for one
 * short step and the progress, and writes the figures into the page's [data-farewell-import]
 * cells. Nothing here is needed for the import to go on: cron runs it too.
 */
( function () {
	'use strict';
	var wrap = document.querySelector( '.farewell-import' );
	var config = window.farewellImport;
	if ( ! wrap || ! config || 'running' !== wrap.getAttribute( 'data-farewell-import-status' ) ) {
		return;
	}
	function set( name, value ) {
		var cell = wrap.querySelector( '[data-farewell-import="' + name + '"]' );
		if ( cell ) {
			cell.textContent = 'number' === typeof value ? value.toLocaleString() : String( value );
		}
	}
	function poll() {
		var body = new URLSearchParams();
		body.append( 'action', config.action );
		body.append( '_ajax_nonce', config.nonce );
		fetch( config.url, { method: 'POST', credentials: 'same-origin', body: body } )
			.then( function ( response ) {
				return response.json();
			} )
			.then( function ( answer ) {
				if ( ! answer || ! answer.success ) {
					throw new Error( 'refused' );
				}
				var progress = answer.data;
				set( 'read', progress.totals.read );
				set( 'subscriptions', progress.totals.subscriptions );
				set( 'queued', progress.totals.queued );
				set( 'known', progress.totals.known );
				set( 'sent', progress.sent );
				set( 'waiting', progress.waiting );
				if ( progress.error ) {
					set( 'message', progress.error );
				}
				if ( 'running' === progress.status || progress.waiting > 0 ) {
					window.setTimeout( poll, 3000 );
				} else {
					set( 'message', config.done );
					wrap.setAttribute( 'data-farewell-import-status', progress.status );
				}
			} )
			.catch( function () {
				set( 'message', config.failed );
			} );
	}
	poll();
}() );
