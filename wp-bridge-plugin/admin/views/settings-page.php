<?php
/**
 * Settings → Farewell. Variables come from Farewell_Bridge_Admin::render_page() in $view.
 *
 * @package Farewell_Bridge
 */

if ( ! defined( 'ABSPATH' ) ) {
	exit;
}

$farewell_locked_note = __( 'Set in wp-config.php; remove the constant to edit it here.', 'farewell-bridge' );
?>
<div class="wrap">
	<h1><?php esc_html_e( 'Farewell Bridge', 'farewell-bridge' ); ?></h1>

	<?php if ( ! empty( $view['notice'] ) ) : ?>
		<div class="notice notice-<?php echo 'success' === $view['notice']['type'] ? 'success' : 'error'; ?> is-dismissible farewell-bridge-notice">
			<p><?php echo esc_html( $view['notice']['message'] ); ?></p>
		</div>
	<?php endif; ?>

	<?php // Settings errors and "Settings saved." are shown by WordPress (options-head.php) on Settings pages. ?>

	<?php if ( '' !== $view['secret_error'] ) : ?>
		<div class="notice notice-error farewell-bridge-secret-error">
			<p><?php echo esc_html( $view['secret_error'] ); ?></p>
		</div>
	<?php endif; ?>

	<p><?php esc_html_e( 'Connect this site to your Farewell sidecar. Run "python -m sidecar sites add" on the sidecar to get a site id and a secret.', 'farewell-bridge' ); ?></p>

	<form method="post" action="<?php echo esc_url( admin_url( 'options.php' ) ); ?>">
		<?php settings_fields( Farewell_Bridge_Settings::GROUP ); ?>
		<table class="form-table" role="presentation">
			<tr>
				<th scope="row"><label for="farewell-bridge-url"><?php esc_html_e( 'Sidecar URL', 'farewell-bridge' ); ?></label></th>
				<td>
					<input type="url" class="regular-text code" id="farewell-bridge-url"
						name="<?php echo esc_attr( Farewell_Bridge_Settings::OPTION ); ?>[sidecar_url]"
						value="<?php echo esc_attr( $view['sidecar_url'] ); ?>"
						placeholder="https://farewell.example.org"
						<?php disabled( $view['locked']['sidecar_url'] ); ?> />
					<?php if ( $view['locked']['sidecar_url'] ) : ?>
						<p class="description"><?php echo esc_html( $farewell_locked_note ); ?> <code>FAREWELL_SIDECAR_URL</code></p>
					<?php endif; ?>
				</td>
			</tr>
			<tr>
				<th scope="row"><label for="farewell-bridge-site-id"><?php esc_html_e( 'Site id', 'farewell-bridge' ); ?></label></th>
				<td>
					<input type="text" class="regular-text code" id="farewell-bridge-site-id"
						name="<?php echo esc_attr( Farewell_Bridge_Settings::OPTION ); ?>[site_id]"
						value="<?php echo esc_attr( $view['site_id'] ); ?>"
						<?php disabled( $view['locked']['site_id'] ); ?> />
					<?php if ( $view['locked']['site_id'] ) : ?>
						<p class="description"><?php echo esc_html( $farewell_locked_note ); ?> <code>FAREWELL_SITE_ID</code></p>
					<?php endif; ?>
				</td>
			</tr>
			<tr>
				<th scope="row"><label for="farewell-bridge-secret"><?php esc_html_e( 'Secret', 'farewell-bridge' ); ?></label></th>
				<td>
					<input type="password" class="regular-text code" id="farewell-bridge-secret" autocomplete="off"
						name="<?php echo esc_attr( Farewell_Bridge_Settings::SECRET_OPTION ); ?>"
						value=""
						placeholder="<?php echo esc_attr( '' !== $view['masked_secret'] ? $view['masked_secret'] : 'whsec_…' ); ?>"
						<?php disabled( $view['locked']['secret'] ); ?> />
					<p class="description">
						<?php if ( $view['locked']['secret'] ) : ?>
							<?php echo esc_html( $farewell_locked_note ); ?> <code>FAREWELL_SECRET</code>
						<?php elseif ( '' !== $view['masked_secret'] ) : ?>
							<?php
							/* translators: %s: the masked secret, e.g. whsec_…abcd. */
							echo esc_html( sprintf( __( 'A secret is saved (%s). Leave this field empty to keep it.', 'farewell-bridge' ), $view['masked_secret'] ) );
							?>
						<?php else : ?>
							<?php esc_html_e( 'No secret saved yet.', 'farewell-bridge' ); ?>
						<?php endif; ?>
					</p>
				</td>
			</tr>
			<tr>
				<th scope="row"><?php esc_html_e( 'Uninstall', 'farewell-bridge' ); ?></th>
				<td>
					<label>
						<input type="checkbox" name="<?php echo esc_attr( Farewell_Bridge_Settings::OPTION ); ?>[delete_data]" value="1" <?php checked( ! empty( $view['settings']['delete_data'] ) ); ?> />
						<?php esc_html_e( 'Delete the outbox and all settings when the plugin is deleted', 'farewell-bridge' ); ?>
					</label>
				</td>
			</tr>
		</table>
		<?php submit_button(); ?>
	</form>

	<p>
		<a class="button" href="<?php echo esc_url( Farewell_Bridge_Admin::action_url( 'farewell_bridge_test_connection' ) ); ?>"><?php esc_html_e( 'Test connection', 'farewell-bridge' ); ?></a>
	</p>

	<?php require FAREWELL_BRIDGE_DIR . '/admin/views/outbox-panel.php'; ?>
</div>
