<?php
/**
 * The Farewell page: this week's figures and "Open dashboard".
 * Variables come from Farewell_Bridge_Dashboard_Menu::render_page() in $view.
 *
 * @package Farewell_Bridge
 */

if ( ! defined( 'ABSPATH' ) ) {
	exit;
}

$farewell_figures = $view['figures'];
?>
<div class="wrap farewell-dashboard-menu">
	<h1><?php esc_html_e( 'Farewell', 'farewell-bridge' ); ?></h1>

	<?php if ( ! Farewell_Bridge_Setup_Checklist::complete( $view['steps'] ) ) : ?>
		<h2><?php esc_html_e( 'Set up Farewell', 'farewell-bridge' ); ?></h2>
		<?php require FAREWELL_BRIDGE_DIR . '/admin/views/setup-checklist.php'; ?>
	<?php else : ?>
		<p class="farewell-setup-done"><?php esc_html_e( 'Farewell is set up.', 'farewell-bridge' ); ?> <a href="<?php echo esc_url( Farewell_Bridge_Setup_Checklist::page_url() ); ?>"><?php esc_html_e( 'See the set-up checklist', 'farewell-bridge' ); ?></a></p>
	<?php endif; ?>

	<?php if ( '' !== $view['error'] ) : ?>
		<div class="notice notice-warning inline farewell-summary-unavailable">
			<p><?php esc_html_e( 'This week\'s figures are unavailable right now.', 'farewell-bridge' ); ?> <?php echo esc_html( $view['error'] ); ?></p>
		</div>
	<?php endif; ?>

	<?php if ( is_array( $farewell_figures ) ) : ?>
		<h2><?php esc_html_e( 'This week so far', 'farewell-bridge' ); ?></h2>
		<table class="widefat striped farewell-summary" style="max-width: 40em;">
			<tbody>
				<tr><th scope="row"><?php esc_html_e( 'Cancellations', 'farewell-bridge' ); ?></th><td class="farewell-cancellations"><?php echo esc_html( number_format_i18n( (int) ( $farewell_figures['cancellations'] ?? 0 ) ) ); ?></td></tr>
				<tr><th scope="row"><?php esc_html_e( 'Monthly revenue lost', 'farewell-bridge' ); ?></th><td><?php echo esc_html( Farewell_Bridge_Dashboard_Menu::money( $farewell_figures['revenue_lost'] ?? array() ) ); ?></td></tr>
				<tr><th scope="row"><?php esc_html_e( 'Survey answer rate', 'farewell-bridge' ); ?></th><td><?php echo esc_html( isset( $farewell_figures['answer_rate'] ) ? number_format_i18n( 100 * (float) $farewell_figures['answer_rate'] ) . ' %' : '–' ); ?></td></tr>
				<tr><th scope="row"><?php esc_html_e( 'Win-backs', 'farewell-bridge' ); ?></th><td><?php echo esc_html( number_format_i18n( (int) ( $farewell_figures['winbacks'] ?? 0 ) ) ); ?></td></tr>
				<tr><th scope="row"><?php esc_html_e( 'Revenue won back', 'farewell-bridge' ); ?></th><td><?php echo esc_html( Farewell_Bridge_Dashboard_Menu::money( $farewell_figures['revenue_won_back'] ?? array() ) ); ?></td></tr>
				<tr><th scope="row"><?php esc_html_e( 'Contact requests waiting', 'farewell-bridge' ); ?></th><td><?php echo esc_html( number_format_i18n( (int) ( $farewell_figures['open_contact_requests'] ?? 0 ) ) ); ?></td></tr>
			</tbody>
		</table>
	<?php endif; ?>

	<?php if ( $view['configured'] ) : ?>
		<form method="post" action="<?php echo esc_url( admin_url( 'admin-post.php' ) ); ?>" class="farewell-open-dashboard">
			<input type="hidden" name="action" value="<?php echo esc_attr( Farewell_Bridge_Dashboard_Menu::OPEN_ACTION ); ?>">
			<?php wp_nonce_field( Farewell_Bridge_Dashboard_Menu::OPEN_ACTION ); ?>
			<p>
				<?php submit_button( __( 'Open dashboard', 'farewell-bridge' ), 'primary', 'farewell-open-dashboard', false ); ?>
			</p>
			<p class="description"><?php esc_html_e( 'Every answer, the export, the emails and the survey: the dashboard opens signed in as you, for 8 hours.', 'farewell-bridge' ); ?></p>
		</form>
	<?php else : ?>
		<p><a class="button" href="<?php echo esc_url( Farewell_Bridge_Admin::page_url() ); ?>"><?php esc_html_e( 'Set up the bridge', 'farewell-bridge' ); ?></a></p>
	<?php endif; ?>
</div>
