<?php
/**
 * The set-up checklist, on Farewell → Set-up and at the top of the Farewell page until every step
 * is done. Variables come from Farewell_Bridge_Setup_Checklist in $view (steps, notice). Done
 * steps are closed <details>, which open without any script (admin/js/setup.js only moves the
 * focus to the first step left to do).
 *
 * @package Farewell_Bridge
 */

if ( ! defined( 'ABSPATH' ) ) {
	exit;
}

$farewell_steps    = $view['steps'];
$farewell_complete = Farewell_Bridge_Setup_Checklist::complete( $farewell_steps );
$farewell_labels   = array(
	Farewell_Bridge_Setup_Checklist::DONE => __( 'Done', 'farewell-bridge' ),
	Farewell_Bridge_Setup_Checklist::TODO => __( 'To do', 'farewell-bridge' ),
	Farewell_Bridge_Setup_Checklist::INFO => __( 'Good to know', 'farewell-bridge' ),
);
?>
<div class="farewell-setup" data-farewell-setup-complete="<?php echo $farewell_complete ? '1' : '0'; ?>">
	<?php if ( ! empty( $view['notice'] ) ) : ?>
		<div class="notice notice-<?php echo 'success' === $view['notice']['type'] ? 'success' : 'error'; ?> inline farewell-bridge-notice">
			<p><?php echo esc_html( $view['notice']['message'] ); ?></p>
		</div>
	<?php endif; ?>
	<p class="farewell-setup-summary">
		<?php
		if ( $farewell_complete ) {
			esc_html_e( 'Farewell is set up. Each step below stays here to check or change later.', 'farewell-bridge' );
		} else {
			esc_html_e( 'What is left to set up, read from this site as it is now.', 'farewell-bridge' );
		}
		?>
	</p>
	<ol class="farewell-setup-steps">
		<?php foreach ( $farewell_steps as $farewell_step ) : ?>
			<li class="farewell-setup-step is-<?php echo esc_attr( $farewell_step['status'] ); ?>" data-step="<?php echo esc_attr( $farewell_step['id'] ); ?>" data-status="<?php echo esc_attr( $farewell_step['status'] ); ?>">
				<details <?php echo Farewell_Bridge_Setup_Checklist::DONE === $farewell_step['status'] ? '' : 'open'; ?>>
					<summary>
						<span class="farewell-setup-badge"><?php echo esc_html( $farewell_labels[ $farewell_step['status'] ] ); ?></span>
						<span class="farewell-setup-title"><?php echo esc_html( $farewell_step['title'] ); ?></span>
					</summary>
					<div class="farewell-setup-body">
						<?php foreach ( explode( "\n", $farewell_step['detail'] ) as $farewell_line ) : ?>
							<p><?php echo esc_html( $farewell_line ); ?></p>
						<?php endforeach; ?>
						<?php if ( ! empty( $farewell_step['link'] ) ) : ?>
							<p><a class="button<?php echo Farewell_Bridge_Setup_Checklist::TODO === $farewell_step['status'] ? ' button-primary' : ''; ?>" href="<?php echo esc_url( $farewell_step['link']['url'] ); ?>"><?php echo esc_html( $farewell_step['link']['label'] ); ?></a></p>
						<?php endif; ?>
						<?php if ( ! empty( $farewell_step['form'] ) ) : ?>
							<form method="post" action="<?php echo esc_url( admin_url( 'admin-post.php' ) ); ?>">
								<input type="hidden" name="action" value="<?php echo esc_attr( $farewell_step['form']['action'] ); ?>">
								<?php wp_nonce_field( $farewell_step['form']['action'], '_wpnonce', true ); ?>
								<p><?php submit_button( $farewell_step['form']['label'], 'secondary', 'farewell-setup-' . $farewell_step['id'], false ); ?></p>
							</form>
						<?php endif; ?>
					</div>
				</details>
			</li>
		<?php endforeach; ?>
	</ol>
</div>
