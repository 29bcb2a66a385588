<?php
/**
 * The exit survey: a plain HTML form that works without JavaScript. Every field is optional.
 * Labels come localized from the definition; the bridge's own words use its text domain.
 *
 * Variables (from Farewell_Bridge_Survey_Form::form_html()):
 *
 * @var array  $definition Localized definition.
 * @var array  $reasons    Reasons in this member's order.
 * @var array  $hidden     Hidden fields, name => value.
 * @var string $action     Form action (the REST route).
 * @var string $skip_url   Where "skip" goes.
 * @var string $contact    Prefilled contact detail.
 * @var string $first_name Member's first name, or ''.
 * @var bool   $answered   Whether this cancellation already has an answer.
 * @var array  $limits     comment, follow_up, contact.
 * @var array  $draft      What the member typed before being asked to wait (reason, follow_up,
 *                         comment, contact_requested), or empty.
 * @var string $notice     Why they must wait, or ''.
 *
 * @package Farewell_Bridge
 */

if ( ! defined( 'ABSPATH' ) ) {
	exit;
}

$farewell_text = static function ( $key ) use ( $definition ) {
	return isset( $definition[ $key ] ) && is_string( $definition[ $key ] ) ? $definition[ $key ] : '';
};
$farewell_draft = static function ( $key ) use ( $draft ) {
	return isset( $draft[ $key ] ) && is_scalar( $draft[ $key ] ) ? (string) $draft[ $key ] : '';
};
?>
<section class="farewell-survey" id="farewell-survey" aria-labelledby="farewell-survey-title">
	<h2 id="farewell-survey-title" class="farewell-survey__title"><?php echo esc_html( $farewell_text( 'title' ) ); ?></h2>
	<?php if ( '' !== $first_name ) : ?>
		<p class="farewell-survey__greeting">
			<?php
			/* translators: %s: the member's first name. */
			echo esc_html( sprintf( __( 'Hello %s,', 'farewell-bridge' ), $first_name ) );
			?>
		</p>
	<?php endif; ?>
	<?php if ( '' !== $notice ) : ?>
		<p class="farewell-survey__notice" role="alert"><?php echo esc_html( $notice ); ?> <?php esc_html_e( 'Your answers are still below.', 'farewell-bridge' ); ?></p>
	<?php endif; ?>
	<p class="farewell-survey__intro"><?php echo esc_html( $farewell_text( 'intro' ) ); ?></p>
	<?php if ( $answered ) : ?>
		<p class="farewell-survey__note"><?php esc_html_e( 'You have already answered. Sending the survey again replaces your previous answer.', 'farewell-bridge' ); ?></p>
	<?php endif; ?>
	<form class="farewell-survey__form" method="post" action="<?php echo esc_url( $action ); ?>">
		<fieldset class="farewell-survey__reasons">
			<legend><?php echo esc_html( $farewell_text( 'reason_label' ) ); ?></legend>
			<?php
			foreach ( $reasons as $farewell_reason ) :
				$farewell_code = isset( $farewell_reason['code'] ) ? (string) $farewell_reason['code'] : '';
				$farewell_id   = 'farewell-reason-' . $farewell_code;
				$farewell_fu   = isset( $farewell_reason['follow_up'] ) && is_array( $farewell_reason['follow_up'] ) ? $farewell_reason['follow_up'] : null;
				?>
				<div class="farewell-survey__reason">
					<input type="radio" name="reason" id="<?php echo esc_attr( $farewell_id ); ?>" value="<?php echo esc_attr( $farewell_code ); ?>"<?php checked( $farewell_draft( 'reason' ), $farewell_code ); ?>>
					<label for="<?php echo esc_attr( $farewell_id ); ?>"><?php echo esc_html( isset( $farewell_reason['label'] ) ? $farewell_reason['label'] : $farewell_code ); ?></label>
					<?php if ( $farewell_fu && isset( $farewell_fu['type'] ) && 'choice' === $farewell_fu['type'] && ! empty( $farewell_fu['choices'] ) ) : ?>
						<fieldset class="farewell-survey__follow-up">
							<legend><?php echo esc_html( isset( $farewell_fu['label'] ) ? $farewell_fu['label'] : '' ); ?></legend>
							<?php
							foreach ( (array) $farewell_fu['choices'] as $farewell_choice ) :
								$farewell_choice_code = isset( $farewell_choice['code'] ) ? (string) $farewell_choice['code'] : '';
								$farewell_choice_id   = $farewell_id . '-' . $farewell_choice_code;
								?>
								<div class="farewell-survey__choice">
									<input type="radio" name="follow_up[<?php echo esc_attr( $farewell_code ); ?>]" id="<?php echo esc_attr( $farewell_choice_id ); ?>" value="<?php echo esc_attr( $farewell_choice_code ); ?>"<?php checked( $farewell_draft( 'reason' ) === $farewell_code && $farewell_draft( 'follow_up' ) === $farewell_choice_code ); ?>>
									<label for="<?php echo esc_attr( $farewell_choice_id ); ?>"><?php echo esc_html( isset( $farewell_choice['label'] ) ? $farewell_choice['label'] : $farewell_choice_code ); ?></label>
								</div>
							<?php endforeach; ?>
						</fieldset>
					<?php elseif ( $farewell_fu && isset( $farewell_fu['type'] ) && 'text' === $farewell_fu['type'] ) : ?>
						<div class="farewell-survey__follow-up">
							<label for="<?php echo esc_attr( $farewell_id . '-detail' ); ?>"><?php echo esc_html( isset( $farewell_fu['label'] ) ? $farewell_fu['label'] : '' ); ?></label>
							<input type="text" name="follow_up[<?php echo esc_attr( $farewell_code ); ?>]" id="<?php echo esc_attr( $farewell_id . '-detail' ); ?>" value="<?php echo esc_attr( $farewell_draft( 'reason' ) === $farewell_code ? $farewell_draft( 'follow_up' ) : '' ); ?>" maxlength="<?php echo esc_attr( (string) (int) $limits['follow_up'] ); ?>">
						</div>
					<?php endif; ?>
				</div>
			<?php endforeach; ?>
		</fieldset>

		<p class="farewell-survey__field">
			<label for="farewell-comment"><?php echo esc_html( $farewell_text( 'comment_label' ) ); ?></label>
			<textarea name="comment" id="farewell-comment" rows="4" maxlength="<?php echo esc_attr( (string) (int) $limits['comment'] ); ?>"><?php echo esc_textarea( $farewell_draft( 'comment' ) ); ?></textarea>
		</p>

		<p class="farewell-survey__field farewell-survey__contact-request">
			<input type="checkbox" name="contact_requested" id="farewell-contact-requested" value="1"<?php checked( ! empty( $draft['contact_requested'] ) ); ?>>
			<label for="farewell-contact-requested"><?php echo esc_html( $farewell_text( 'contact_label' ) ); ?></label>
		</p>
		<p class="farewell-survey__field farewell-survey__contact">
			<label for="farewell-contact"><?php echo esc_html( $farewell_text( 'contact_detail_label' ) ); ?></label>
			<input type="text" name="contact" id="farewell-contact" value="<?php echo esc_attr( $contact ); ?>" maxlength="<?php echo esc_attr( (string) (int) $limits['contact'] ); ?>" autocomplete="email">
		</p>

		<?php foreach ( $hidden as $farewell_name => $farewell_value ) : ?>
			<input type="hidden" name="<?php echo esc_attr( $farewell_name ); ?>" value="<?php echo esc_attr( (string) $farewell_value ); ?>">
		<?php endforeach; ?>

		<p class="farewell-survey__actions">
			<button type="submit" class="farewell-survey__submit wp-element-button"><?php echo esc_html( $farewell_text( 'submit_label' ) ); ?></button>
			<a class="farewell-survey__skip" href="<?php echo esc_url( $skip_url ); ?>"><?php echo esc_html( $farewell_text( 'skip_label' ) ); ?></a>
		</p>
	</form>
</section>
