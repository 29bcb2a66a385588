<?php
/**
 * Outbox panel: counts, last error, last delivery, dead rows with "retry".
 * Variables come from Farewell_Bridge_Admin::render_page() in $view.
 *
 * @package Farewell_Bridge
 */

if ( ! defined( 'ABSPATH' ) ) {
	exit;
}

$farewell_date_format = get_option( 'date_format' ) . ' ' . get_option( 'time_format' );
?>
<h2><?php esc_html_e( 'Outbox', 'farewell-bridge' ); ?></h2>

<?php if ( ! empty( $view['paused'] ) ) : ?>
	<div class="notice notice-warning inline farewell-bridge-paused">
		<p>
			<?php echo esc_html( $view['paused']['reason'] ); ?>
			<a class="button" href="<?php echo esc_url( Farewell_Bridge_Admin::action_url( 'farewell_bridge_resume' ) ); ?>"><?php esc_html_e( 'Resume delivery', 'farewell-bridge' ); ?></a>
		</p>
	</div>
<?php endif; ?>

<?php if ( ! empty( $view['clock_skew'] ) ) : ?>
	<div class="notice notice-error inline farewell-bridge-clock-skew">
		<p>
			<?php echo esc_html( Farewell_Bridge_Clock::message( $view['clock_skew']['seconds'] ) ); ?>
			<?php
			/* translators: %s: date and time. */
			echo esc_html( sprintf( __( 'Last seen: %s.', 'farewell-bridge' ), wp_date( $farewell_date_format, (int) $view['clock_skew']['at'] ) ) );
			?>
		</p>
	</div>
<?php endif; ?>

<?php if ( $view['insert_failure'] > 0 ) : ?>
	<div class="notice notice-error inline">
		<p>
			<?php
			/* translators: %d: number of events. */
			echo esc_html( sprintf( _n( '%d event could not be stored in the outbox table (database error). See the PHP error log.', '%d events could not be stored in the outbox table (database error). See the PHP error log.', $view['insert_failure'], 'farewell-bridge' ), $view['insert_failure'] ) );
			?>
		</p>
	</div>
<?php endif; ?>

<table class="widefat striped farewell-bridge-counts" style="max-width: 40em">
	<tbody>
		<tr>
			<th scope="row"><?php esc_html_e( 'Pending', 'farewell-bridge' ); ?></th>
			<td class="farewell-bridge-count-pending"><?php echo esc_html( number_format_i18n( $view['counts']['pending'] ) ); ?></td>
		</tr>
		<tr>
			<th scope="row"><?php esc_html_e( 'Dead (need your attention)', 'farewell-bridge' ); ?></th>
			<td class="farewell-bridge-count-dead"><?php echo esc_html( number_format_i18n( $view['counts']['dead'] ) ); ?></td>
		</tr>
		<tr>
			<th scope="row"><?php esc_html_e( 'Delivered (last 7 days)', 'farewell-bridge' ); ?></th>
			<td class="farewell-bridge-count-delivered"><?php echo esc_html( number_format_i18n( $view['counts']['delivered'] ) ); ?></td>
		</tr>
		<tr>
			<th scope="row"><?php esc_html_e( 'Last delivery', 'farewell-bridge' ); ?></th>
			<td><?php echo $view['last_delivery'] > 0 ? esc_html( wp_date( $farewell_date_format, $view['last_delivery'] ) ) : esc_html__( 'Never', 'farewell-bridge' ); ?></td>
		</tr>
		<tr>
			<th scope="row"><?php esc_html_e( 'Last error', 'farewell-bridge' ); ?></th>
			<td class="farewell-bridge-last-error"><?php echo ! empty( $view['last_error'] ) ? esc_html( $view['last_error']['last_error'] ) : esc_html__( 'None', 'farewell-bridge' ); ?></td>
		</tr>
	</tbody>
</table>

<p>
	<a class="button" href="<?php echo esc_url( Farewell_Bridge_Admin::action_url( 'farewell_bridge_retry_now' ) ); ?>"><?php esc_html_e( 'Retry now', 'farewell-bridge' ); ?></a>
	<?php if ( $view['counts']['dead'] > 0 ) : ?>
		<a class="button" href="<?php echo esc_url( Farewell_Bridge_Admin::action_url( 'farewell_bridge_retry_dead' ) ); ?>"><?php esc_html_e( 'Retry all dead events', 'farewell-bridge' ); ?></a>
	<?php endif; ?>
</p>

<?php
$farewell_sections = array(
	'dead'    => __( 'Dead events', 'farewell-bridge' ),
	'pending' => __( 'Pending events', 'farewell-bridge' ),
);
foreach ( $farewell_sections as $farewell_status => $farewell_title ) :
	if ( empty( $view[ $farewell_status ] ) ) {
		continue;
	}
	?>
	<h3><?php echo esc_html( $farewell_title ); ?></h3>
	<table class="widefat striped farewell-bridge-<?php echo esc_attr( $farewell_status ); ?>">
		<thead>
			<tr>
				<th scope="col"><?php esc_html_e( 'Event', 'farewell-bridge' ); ?></th>
				<th scope="col"><?php esc_html_e( 'Created', 'farewell-bridge' ); ?></th>
				<th scope="col"><?php esc_html_e( 'Attempts', 'farewell-bridge' ); ?></th>
				<th scope="col"><?php esc_html_e( 'Next attempt', 'farewell-bridge' ); ?></th>
				<th scope="col"><?php esc_html_e( 'Error', 'farewell-bridge' ); ?></th>
				<th scope="col"><span class="screen-reader-text"><?php esc_html_e( 'Actions', 'farewell-bridge' ); ?></span></th>
			</tr>
		</thead>
		<tbody>
			<?php foreach ( $view[ $farewell_status ] as $farewell_row ) : ?>
				<tr>
					<td><code><?php echo esc_html( $farewell_row['event_type'] ); ?></code><br /><small><?php echo esc_html( $farewell_row['webhook_id'] ); ?></small></td>
					<td><?php echo esc_html( get_date_from_gmt( $farewell_row['created_at'], $farewell_date_format ) ); ?></td>
					<td><?php echo esc_html( (string) (int) $farewell_row['attempts'] ); ?></td>
					<td><?php echo 'pending' === $farewell_status ? esc_html( get_date_from_gmt( $farewell_row['next_attempt_at'], $farewell_date_format ) ) : '&mdash;'; ?></td>
					<td class="farewell-bridge-error"><?php echo esc_html( (string) $farewell_row['last_error'] ); ?></td>
					<td>
						<?php if ( 'dead' === $farewell_status ) : ?>
							<a class="button button-small" href="<?php echo esc_url( Farewell_Bridge_Admin::action_url( 'farewell_bridge_retry_row', array( 'id' => (int) $farewell_row['id'] ) ) ); ?>"><?php esc_html_e( 'Retry', 'farewell-bridge' ); ?></a>
						<?php endif; ?>
					</td>
				</tr>
			<?php endforeach; ?>
		</tbody>
	</table>
<?php endforeach; ?>
