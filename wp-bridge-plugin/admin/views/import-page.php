<?php
/**
 * Farewell → Import history. Variables come from Farewell_Bridge_Import_Page::render_page() in
 * $view; admin/js/import.js updates the [data-farewell-import] cells while an import runs.
 *
 * @package Farewell_Bridge
 */

if ( ! defined( 'ABSPATH' ) ) {
	exit;
}

$farewell_progress = $view['progress'];
$farewell_status   = $farewell_progress['status'];
?>
<div class="wrap farewell-import" data-farewell-import-status="<?php echo esc_attr( $farewell_status ); ?>">
	<h1><?php esc_html_e( 'Import history', 'farewell-bridge' ); ?></h1>
	<p><?php esc_html_e( 'Send the subscriptions your membership plugin already knows (started, cancelled, expired, resumed) to Farewell, so that the dashboard and the digest show your past months from the first day. Imported history sends no email to anyone. Reasons are only known from the day the exit survey was installed.', 'farewell-bridge' ); ?></p>

	<?php if ( 'since' === $view['error'] ) : ?>
		<div class="notice notice-error inline"><p><?php esc_html_e( 'The start day must be a date such as 2024-01-01.', 'farewell-bridge' ); ?></p></div>
	<?php elseif ( 'source' === $view['error'] ) : ?>
		<div class="notice notice-error inline"><p><?php esc_html_e( 'No active membership plugin to import from.', 'farewell-bridge' ); ?></p></div>
	<?php endif; ?>
	<?php if ( ! $view['configured'] ) : ?>
		<div class="notice notice-warning inline"><p><?php esc_html_e( 'The bridge is not connected to the sidecar yet: the import will wait in the outbox until it is (Settings → Farewell).', 'farewell-bridge' ); ?></p></div>
	<?php endif; ?>

	<h2><?php esc_html_e( 'What was found', 'farewell-bridge' ); ?></h2>
	<?php if ( empty( $view['summaries'] ) ) : ?>
		<p><?php esc_html_e( 'No active membership plugin to import from.', 'farewell-bridge' ); ?></p>
	<?php else : ?>
		<ul class="farewell-import-found">
			<?php foreach ( $view['summaries'] as $farewell_slug => $farewell_summary ) : ?>
				<li>
					<?php
					echo esc_html(
						sprintf(
							/* translators: 1: a membership plugin's name, 2: number of subscriptions, 3: number of them cancelled. */
							__( '%1$s: %2$s subscriptions, %3$s cancelled', 'farewell-bridge' ),
							isset( $view['names'][ $farewell_slug ] ) ? $view['names'][ $farewell_slug ] : $farewell_slug,
							number_format_i18n( (int) $farewell_summary['subscriptions'] ),
							number_format_i18n( (int) $farewell_summary['cancelled'] )
						)
					);
					?>
				</li>
			<?php endforeach; ?>
		</ul>
	<?php endif; ?>

	<?php if ( 'idle' !== $farewell_status ) : ?>
		<h2><?php echo 'done' === $farewell_status ? esc_html__( 'Last import', 'farewell-bridge' ) : esc_html__( 'Import in progress', 'farewell-bridge' ); ?></h2>
		<table class="widefat striped" style="max-width: 40em;">
			<tbody>
				<tr><th scope="row"><?php esc_html_e( 'Subscriptions read', 'farewell-bridge' ); ?></th><td><span data-farewell-import="read"><?php echo esc_html( number_format_i18n( $farewell_progress['totals']['read'] ) ); ?></span> / <span data-farewell-import="subscriptions"><?php echo esc_html( number_format_i18n( $farewell_progress['totals']['subscriptions'] ) ); ?></span></td></tr>
				<tr><th scope="row"><?php esc_html_e( 'Events queued', 'farewell-bridge' ); ?></th><td data-farewell-import="queued"><?php echo esc_html( number_format_i18n( $farewell_progress['totals']['queued'] ) ); ?></td></tr>
				<tr><th scope="row"><?php esc_html_e( 'Events sent', 'farewell-bridge' ); ?></th><td data-farewell-import="sent"><?php echo esc_html( number_format_i18n( $farewell_progress['sent'] ) ); ?></td></tr>
				<tr><th scope="row"><?php esc_html_e( 'Events waiting to be sent', 'farewell-bridge' ); ?></th><td data-farewell-import="waiting"><?php echo esc_html( number_format_i18n( $farewell_progress['waiting'] ) ); ?></td></tr>
				<tr><th scope="row"><?php esc_html_e( 'Already known (sent before)', 'farewell-bridge' ); ?></th><td data-farewell-import="known"><?php echo esc_html( number_format_i18n( $farewell_progress['totals']['known'] ) ); ?></td></tr>
			</tbody>
		</table>
		<p class="farewell-import-message" data-farewell-import="message" aria-live="polite">
			<?php
			if ( 'done' === $farewell_status ) {
				esc_html_e( 'Import finished.', 'farewell-bridge' );
			} elseif ( '' !== $farewell_progress['error'] ) {
				echo esc_html( $farewell_progress['error'] );
			} else {
				esc_html_e( 'The import runs in short steps, also while this page is closed; you can leave it.', 'farewell-bridge' );
			}
			?>
		</p>
	<?php endif; ?>

	<?php if ( ! empty( $view['summaries'] ) && 'running' !== $farewell_status ) : ?>
		<form method="post" action="<?php echo esc_url( admin_url( 'admin-post.php' ) ); ?>">
			<input type="hidden" name="action" value="<?php echo esc_attr( Farewell_Bridge_Importer::START_ACTION ); ?>">
			<?php wp_nonce_field( Farewell_Bridge_Importer::START_ACTION ); ?>
			<p>
				<label for="farewell-import-since"><?php esc_html_e( 'Only what happened since (optional)', 'farewell-bridge' ); ?></label>
				<input type="date" id="farewell-import-since" name="since" value="">
			</p>
			<?php submit_button( 'done' === $farewell_status ? __( 'Import again', 'farewell-bridge' ) : __( 'Start', 'farewell-bridge' ), 'primary', 'farewell-import-start', false ); ?>
			<?php if ( 'done' === $farewell_status ) : ?>
				<p class="description"><?php esc_html_e( 'Importing again adds nothing already sent.', 'farewell-bridge' ); ?></p>
			<?php endif; ?>
		</form>
	<?php endif; ?>
</div>
