<?php
/**
 * A message in the survey's place: thanks, or why an email link cannot be used (with a way to
 * sign in instead).
 *
 * Variables (from Farewell_Bridge_Survey_Form::message_html()):
 *
 * @var string $kind       thanks, invalid, expired, signin, none or limited.
 * @var string $message    The message.
 * @var string $login_url  Sign-in link, or ''.
 *
 * @package Farewell_Bridge
 */

if ( ! defined( 'ABSPATH' ) ) {
	exit;
}
?>
<section class="farewell-survey farewell-survey--<?php echo esc_attr( $kind ); ?>" id="farewell-survey">
	<p class="farewell-survey__message" role="<?php echo 'thanks' === $kind ? 'status' : ( 'limited' === $kind ? 'alert' : 'note' ); ?>"><?php echo esc_html( $message ); ?></p>
	<?php if ( '' !== $login_url ) : ?>
		<p class="farewell-survey__signin"><a href="<?php echo esc_url( $login_url ); ?>"><?php esc_html_e( 'Sign in to answer the survey about your cancellation', 'farewell-bridge' ); ?></a></p>
	<?php endif; ?>
</section>
