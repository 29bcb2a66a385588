"""Everything the sidecar says to people, in English: one section per surface.

fr.py has the same sections, the same keys and the same ``{placeholders}`` (tests/test_catalogs.py
checks it); sidecar.i18n looks a text up. A text that counts has ``<key>_one`` and ``<key>_other``
entries (sidecar.plurals picks one). The tone is the product: warm and factual, no guilt, no
begging, no fake urgency.

Over 400 lines on purpose: one file per language is what a translator opens, whole.
"""

# The name of each step of the sequence (sidecar.domain.sequences), as the dashboard and the digest
# show it: written once here, placed in both sections below.
STEPS = {
    "farewell": "Farewell",
    "feedback": "Feedback request",
    "offer": "Offer",
    "door_open": "The door is open",
}

# The owner's dashboard (sidecar.web.dashboard), asked for as t(key) in its templates.
DASHBOARD = {
    "app_name": "Farewell",
    "nav_overview": "Overview",
    "nav_feedback": "Feedback",
    "nav_contact": "Contact requests",
    "nav_sequence": "Sequence",
    "nav_survey": "Survey",
    "nav_digest": "Digest",
    "nav_settings": "Settings",
    "sign_out": "Sign out",
    "signed_in_as": "Signed in as {name}",
    "back_to_wordpress": "Back to WordPress",
    "saved": "Saved.",
    "save": "Save",
    "preview": "Preview",
    "filter": "Filter",
    "reset": "Reset",
    "none": "–",
    "menu": "Menu",
    "times_in": "Dates and times are in {zone}.",
    "yes": "yes",
    "no": "no",
    # sign-in
    "login_title": "Sign-in refused",
    "login_invalid": "This sign-in link is not valid. Open the dashboard again from WordPress.",
    "login_expired": "This sign-in link has expired (links last 60 seconds). Open the dashboard again from WordPress.",
    "login_replayed": "This sign-in link was already used: each link works once. Open the dashboard again from WordPress.",
    "login_needed_title": "Please sign in",
    "login_needed": "The dashboard opens from WordPress: go to the Farewell menu in wp-admin and press “Open dashboard”.",
    "login_slow_title": "One moment, please",
    "login_slow": "Too many sign-in attempts came from your network in a short time. Wait a minute, then open the dashboard again from WordPress.",
    "signed_out": "You are signed out.",
    "csrf_title": "The form expired",
    "csrf_text": "This form was open too long or came from elsewhere. Go back, reload the page and try again.",
    "not_found": "Not found.",
    # overview
    "overview_title": "This week so far",
    "col_this_week": "This week",
    "col_previous": "Previous week",
    "col_average": "4-week average",
    "row_cancellations": "Cancellations",
    "row_by_member": "by the member",
    "row_revenue_lost": "Monthly revenue lost",
    "row_answer_rate": "Survey answer rate",
    "row_winbacks": "Win-backs",
    "row_revenue_won": "Revenue won back",
    "row_at_risk": "Members at risk at the week’s end",
    "row_revenue_at_stake": "Monthly revenue at stake",
    "chart_weeks": "Cancellations and win-backs, last 12 weeks",
    "chart_reasons": "Reasons this week, beside the 4-week average",
    "chart_revenue": "Monthly revenue this week",
    "legend_cancellations": "Cancellations",
    "legend_winbacks": "Win-backs",
    "legend_this_week": "This week",
    "legend_average": "4-week average",
    "legend_lost": "Lost",
    "legend_won": "Won back",
    "no_reason": "No reason given",
    "no_answers_yet": "No answers this week yet.",
    "no_cancellations_title": "No cancellations yet",
    "no_cancellations": "Cancellations appear here as members cancel on your WordPress site. To see the ones "
                        "from before Farewell was installed, import them in WordPress → Farewell → Import history.",
    "how_survey_appears": "Members who cancel are shown the exit survey on the page after cancelling (or where "
                          "you placed its shortcode); their answers appear under Feedback. You can change its "
                          "questions under Survey.",
    "open_requests_one": "{count} contact request waiting for an answer",
    "open_requests_other": "{count} contact requests waiting for an answer",
    # the last 24 months (imported history included)
    "months_title": "The last 24 months",
    "months_note": "Imported history included. Amounts are per month (as above), each currency on its own; "
                   "the current month so far.",
    "months_csv": "Export these months (CSV)",
    "col_month": "Month",
    "col_cancellations": "Cancellations",
    "col_voluntary": "By the member",
    "col_not_voluntary": "By others (admin, payment, expiry)",
    "col_unknown_initiator": "Who: not recorded (imported)",
    "col_plans": "Plans",
    "col_revenue_lost": "Monthly revenue lost",
    "col_comebacks": "Came back",
    "col_after_email": "After an email",
    "col_lifetime": "Lifetime plans (no monthly value)",
    "reasons_since": "History imported from your membership plugin counts in every figure, but reasons are "
                     "only known since {date}, when the survey was installed.",
    # feedback
    "feedback_title": "Every answer",
    "f_reason": "Reason",
    "f_plan": "Plan",
    "f_from": "From",
    "f_to": "To",
    "f_search": "Search",
    "f_any": "Any",
    "export_csv": "Export CSV",
    "col_date": "Date",
    "col_member": "Member",
    "col_plan": "Plan",
    "col_reason": "Reason",
    "col_follow_up": "Follow-up",
    "col_comment": "Comment",
    "col_contact": "Contact requested",
    "col_version": "Survey version",
    "col_language": "Language",
    "results_one": "{count} answer",
    "results_other": "{count} answers",
    "page_of": "Page {page} of {pages}",
    "previous_page": "Previous",
    "next_page": "Next",
    "no_results": "No answer matches these filters.",
    "no_answers_ever": "No survey answers yet. Members are shown the exit survey right after they cancel, "
                       "and every answer appears here. Its questions can be changed under Survey.",
    # at risk (issue 18)
    "nav_at_risk": "At risk",
    "at_risk_title": "Members at risk",
    "at_risk_intro": "Members whose latest renewal failed and who have not paid since, and members on a pause. "
                     "Farewell does not write to them about it (their membership plugin and payment service "
                     "do); you may wish to reach out in person.",
    "at_risk_week": "This week — entered the list: {entered} · recovered: {recovered} · cancelled: {cancelled} "
                    "· expired: {expired} · monthly revenue at stake now: {at_stake}",
    "at_risk_results_one": "{count} member",
    "at_risk_results_other": "{count} members",
    "at_risk_no_results": "No member at risk matches these filters.",
    "at_risk_none": "No member is at risk right now: no renewal is failing and no subscription is paused.",
    "risk_failed": "Renewal failed",
    "risk_paused": "Paused",
    "col_since": "Since",
    "col_why": "Why",
    "col_attempts": "Failed attempts",
    "col_access_ends": "Access ends",
    "col_amount": "Amount",
    "col_currency": "Currency",
    "col_interval": "Interval",
    "interval_day": "day",
    "interval_week": "week",
    "interval_month": "month",
    "interval_year": "year",
    "interval_lifetime": "lifetime",
    # contact requests
    "contact_title": "Members who asked to be contacted",
    "contact_open": "Waiting for an answer",
    "contact_answered": "Answered",
    "col_requested": "Asked on",
    "col_waited": "Waited",
    "col_reach": "How to reach them",
    "mark_answered": "Mark answered",
    "marked_answered": "Marked as answered.",
    "no_open_requests": "Nobody is waiting. ",
    "no_requests_ever": "No member has asked to be contacted yet. The exit survey lets a member ask for it; "
                        "they then appear here, and the addresses in Settings receive an email.",
    # sequence
    "sequence_title": "Follow-up emails",
    **{f"step_{key}": name for key, name in STEPS.items()},
    "col_step": "Email",
    "col_enabled": "On",
    "col_delay": "Sent after",
    "edit": "Edit",
    "enabled": "Send this email",
    "delay": "Sent after the cancellation",
    "delay_unit": "Unit",
    "unit_days": "days",
    "unit_hours": "hours",
    "delay_help": "In days; in hours for less than a day.",
    "preview_help": "The preview follows what you type. Nothing is saved until you press Save.",
    "test_help": "Sends the saved version of this email to you.",
    "language": "Language",
    "copy_help": "Variables: {variables}. Leave a block as it is to keep the default text.",
    "send_test": "Send me a test",
    "test_sent": "A test was sent to {email}.",
    "test_failed": "The test could not be sent: {error}",
    "test_site_unreachable": "The test could not be sent: the WordPress site could not be reached.",
    "live_preview": "Preview (with sample data)",
    "days_count_one": "{count} day",
    "days_count_other": "{count} days",
    "hours_count_one": "{count} hour",
    "hours_count_other": "{count} hours",
    "invalid_delay": "The delay must be a whole number of days from 0 to 365 (or of hours, from 0 to 8760).",
    "too_long": "“{field}” is too long.",
    # survey
    "survey_title": "Exit survey",
    "survey_version": "Current version: {version}. Saving creates version {next}; answers keep the version they answered.",
    "survey_general": "Texts",
    "survey_reasons": "Reasons",
    "survey_include": "Offer this reason",
    "survey_follow_up": "Follow-up question",
    "survey_choice": "Choice",
    "survey_reason_code": "Recorded as “{code}”",
    "survey_text_title": "Title",
    "survey_text_title_hint": "The heading of the survey, on the page after cancelling.",
    "survey_text_intro": "Introduction",
    "survey_text_intro_hint": "The sentence under the title: the cancellation is done, answering is optional.",
    "survey_text_reason_label": "The question",
    "survey_text_reason_label_hint": "Asked above the list of reasons.",
    "survey_text_comment_label": "Comment box",
    "survey_text_comment_label_hint": "Above the free-text box, for their own words.",
    "survey_text_contact_label": "Asking to be contacted",
    "survey_text_contact_label_hint": "The box a member ticks to be contacted by your team.",
    "survey_text_contact_detail_label": "How to reach them",
    "survey_text_contact_detail_label_hint": "Shown once that box is ticked: where they want to be reached.",
    "survey_text_submit_label": "Send button",
    "survey_text_submit_label_hint": "The button that sends the answers.",
    "survey_text_skip_label": "Skip link",
    "survey_text_skip_label_hint": "Leaves the survey without answering.",
    "survey_text_thanks": "Thank-you message",
    "survey_text_thanks_hint": "Shown once the answers are sent.",
    "survey_reason_hint_discount": "The offer email proposes a discount (when an offer is set).",
    "survey_reason_hint_pause": "The offer email suggests pausing next time instead of cancelling.",
    "survey_reason_hint_whats_new": "The offer email points to what is new.",
    "survey_reason_hint_personal": "The offer email offers a personal answer from your team.",
    "survey_reason_hint_default": "The offer email is the general one.",
    "survey_saved": "Saved as version {version}.",
    "survey_needs_reason": "Keep at least one reason.",
    "survey_label_missing": "Every label needs a text in each language.",
    # digest
    "digest_title": "Weekly digest",
    "digest_weekday": "Day",
    "digest_hour": "Hour (site time)",
    "digest_recipients": "Recipients (comma-separated; empty = the WordPress admin email)",
    "digest_preview": "Last week's digest",
    "digest_send_now": "Send it to me now",
    "digest_sent": "The digest was sent to {email}.",
    "weekday_1": "Monday", "weekday_2": "Tuesday", "weekday_3": "Wednesday", "weekday_4": "Thursday",
    "weekday_5": "Friday", "weekday_6": "Saturday", "weekday_7": "Sunday",
    # settings
    "settings_title": "Settings",
    "site_details": "Site",
    "site_name": "Name",
    "site_url": "Address",
    "url_scheme": "Address: an http:// or https:// address of at most 500 characters.",
    "url_host": "Address: a web address with a host name, such as https://example.org.",
    "url_credentials": "Address: without a user name or password in it.",
    "url_private": "Address: this is a local or private network address, which Farewell does not call. "
                   "Use the site’s public address.",
    "site_timezone": "Time zone",
    "site_locale": "Language of the site",
    "email_details": "Emails",
    "sender_name": "Sender name",
    "support_email": "Support address (Reply-To)",
    "owner_emails": "Alert these addresses when a member asks to be contacted",
    "postal_address": "Postal address (email footer)",
    "default_offer_text": "Default offer",
    "default_offer_code": "Default offer code",
    "secret_title": "Signing secret",
    "secret_help": "A new secret replaces the current one; the current one keeps working for 24 hours so you can paste the new one in WordPress (Settings → Farewell). Every other dashboard session ends.",
    "secret_immediately": "The current secret has leaked: refuse it immediately (WordPress cannot reach Farewell until the new secret is pasted there)",
    "secret_confirm": "I understand the bridge must be updated",
    "rotate_secret": "Issue a new secret",
    "new_secret": "The new secret, shown only once: copy it now.",
    "sessions_title": "Sessions",
    "sessions_help": "Signs out every browser signed in to this dashboard, this one included: a lost laptop, a shared computer, someone who should no longer have access. WordPress opens the dashboard again as usual.",
    "sign_out_everywhere": "Sign out everywhere",
    "invalid_site": "{error}",
}

# The sequence editor's name for each block of each step's email (sidecar.web.dashboard.sequence):
# "<email>.<block>" in words, and "<email>.<block>.hint", where the email uses it.
EMAIL_BLOCKS = {
    "farewell.subject": "Subject",
    "farewell.subject.hint": "The first email after a member cancels: it confirms the cancellation.",
    "farewell.intro": "Opening",
    "farewell.intro.hint": "First paragraph, after the greeting.",
    "farewell.access": "Until when they keep access",
    "farewell.access.hint": "Only when the membership plugin says when access ends.",
    "farewell.help": "Help, by replying",
    "farewell.help.hint": "When a support address is set in Settings: replies reach it.",
    "farewell.help_site": "Help, on the site",
    "farewell.help_site.hint": "When no support address is set: points to the site instead.",
    "farewell.survey": "Invitation to the survey",
    "farewell.survey.hint": "Only when the member has not answered the exit survey yet.",
    "farewell.survey_button": "Survey button",
    "farewell.survey_button.hint": "The button under the invitation.",
    "farewell.closing": "Closing",
    "farewell.closing.hint": "Last paragraph, before the signature.",
    "feedback.subject": "Subject",
    "feedback.subject.hint": "Sent only if the member has not answered the exit survey by then.",
    "feedback.intro": "The question",
    "feedback.intro.hint": "First paragraph, after the greeting.",
    "feedback.survey_button": "Survey button",
    "feedback.survey_button.hint": "The button that opens the survey.",
    "feedback.closing": "Closing",
    "feedback.closing.hint": "Last paragraph: they will not be asked again.",
    "offer.subject": "Subject",
    "offer.subject.hint": "Sent once paid access has ended; every offer but a discount with a percentage.",
    "offer.subject_discount": "Subject when a discount is offered",
    "offer.subject_discount.hint": "When the member said it costs too much and the offer has a percentage.",
    "offer.discount": "When the member said it costs too much",
    "offer.discount.hint": "With a discount code and its percentage.",
    "offer.code_only": "Too expensive, code without a percentage",
    "offer.code_only.hint": "When the code's discount is not known.",
    "offer.no_discount": "Too expensive, no code to offer",
    "offer.no_discount.hint": "When no discount code is available.",
    "offer.pause": "When they did not use it enough, or need a break",
    "offer.pause.hint": "Suggests pausing next time instead of cancelling.",
    "offer.whats_new": "When something they needed was missing",
    "offer.whats_new.hint": "Points to what is new (the news address in Settings, or the site).",
    "offer.whats_new_button": "“What is new” button",
    "offer.whats_new_button.hint": "The button under that paragraph.",
    "offer.personal": "When support let them down, by replying",
    "offer.personal.hint": "When a support address is set: replies reach it.",
    "offer.personal_site": "When support let them down, on the site",
    "offer.personal_site.hint": "When no support address is set.",
    "offer.default": "Any other reason, or none",
    "offer.default.hint": "Unless a default offer text is set in Settings.",
    "offer.visit_button": "Button to the site",
    "offer.visit_button.hint": "Under the pause and the general offers.",
    "offer.closing": "Closing",
    "offer.closing.hint": "Last paragraph, before the signature.",
    "door_open.subject": "Subject",
    "door_open.subject.hint": "The last email of the sequence.",
    "door_open.intro": "The message",
    "door_open.intro.hint": "First paragraph, after the greeting.",
    "door_open.visit_button": "Button to the site",
    "door_open.visit_button.hint": "Under the message.",
    "door_open.closing": "Closing",
    "door_open.closing.hint": "Last paragraph, before the signature.",
}

# Emails: one section per email kind of sidecar.mail.catalog, each block placed by its templates
# (templates/email/<kind>.txt and .html); "subject" is a block like the others. A site may
# override any block of a sequence email per language; the digest's labels are blocks too.
EMAIL_FAREWELL = {
    "subject": "Your {site_name} cancellation is confirmed",
    "intro": "Thank you for the time you spent with {site_name}. Your cancellation is confirmed.",
    "access": "You keep full access until {access_ends}.",
    "help": "If anything is unclear, or if you need a hand with your account, simply reply to this "
            "email: it reaches our team directly.",
    "help_site": "If anything is unclear, or if you need a hand with your account, our team is there "
                 "for you: {site_url}",
    "survey": "If you have a minute, we would like to know what made you cancel. It is one short "
              "question, and entirely optional.",
    "survey_button": "Tell us why",
    "closing": "Thank you again, and all the best.",
}

EMAIL_FEEDBACK = {
    "subject": "One question about your time with {site_name}",
    "intro": "A few days ago you cancelled your {site_name} membership. We read every answer, "
             "and yours would help us do better: what made you cancel?",
    "survey_button": "Answer in a minute",
    "closing": "If you would rather not answer, that is fine: we will not ask again.",
}

EMAIL_OFFER = {
    "subject": "A note from {site_name}",
    "subject_discount": "{percent}% off your renewal at {site_name}, if you want it",
    "discount": "You told us the price was a concern. If you would like to come back, here is a "
                "one-time {percent}% discount on your renewal, valid until {expires}:",
    "code_only": "You told us the price was a concern. If you would like to come back, this code "
                 "gives you a better price on your renewal:",
    "no_discount": "You told us the price was a concern. Thank you for saying so: it helps us think "
                   "about our prices. Your account is still here if you ever want to come back.",
    "pause": "You told us you did not have the time, or needed a break. That is completely fine. "
             "Your account and your progress are still here, and next time you can pause your "
             "membership instead of cancelling it.",
    "whats_new": "You told us something you needed was missing. We have kept working since you left, "
                 "and you might find it there now.",
    "whats_new_button": "See what is new",
    "personal": "You told us our support let you down, and we are sorry. If you are willing to tell "
                "us more, reply to this email: a person from our team will read it and answer you "
                "personally.",
    "personal_site": "You told us our support let you down, and we are sorry. If you are willing to "
                     "tell us more, a person from our team will read it and answer you personally: "
                     "{site_url}",
    "default": "Your account is still here, and you are welcome back whenever you like.",
    "visit_button": "Visit {site_name}",
    "closing": "Either way, thank you for having been a member.",
}

EMAIL_DOOR_OPEN = {
    "subject": "The door stays open at {site_name}",
    "intro": "It has been a couple of months since you left {site_name}. This is the last email we "
             "send you about it: we simply wanted to say that you are welcome back whenever you "
             "like, with no strings attached.",
    "visit_button": "Visit {site_name}",
    "closing": "Take care.",
}

EMAIL_OWNER_ALERT = {
    "subject": "{member_name} would like to be contacted",
    "intro": "{member_name} ({member_email}) cancelled and asked to be contacted, on {requested_at}.",
    "contact": "How to reach them: {contact}",
    "reply": "Reply to this email to answer them directly. Once you have, mark the request as "
             "answered so that it leaves your list.",
    "reason_label": "Reason",
    "follow_up_label": "Details",
    "comment_label": "Their words",
}

EMAIL_DIGEST = {
    "subject": "{site_name}: your week, {week_label}",
    "subject_quiet": "{site_name}: a quiet week, {week_label}",
    "intro": "Here is how the week of {week_label} went at {site_name}.",
    "quiet": "Nobody cancelled this week. Nothing here needs your attention; the figures below are "
             "for the record.",
    "headline_title": "The week at a glance",
    "col_week": "This week",
    "col_previous": "Previous week",
    "col_average": "4-week average",
    "row_cancellations": "Cancellations",
    "row_by_member": "by the member",
    "row_by_others": "by an admin, a payment or an expiry",
    "row_by_unknown": "who: not recorded (imported history)",
    "row_revenue_lost": "Monthly revenue lost",
    "row_answer_rate": "Survey answer rate",
    "row_winbacks": "Win-backs",
    "row_revenue_won": "Monthly revenue won back",
    "money_note": "Amounts are per month: daily prices × 365/12, weekly × 52/12, yearly ÷ 12. Each "
                  "currency is counted on its own.",
    "lifetime_note": "Lifetime plans have no monthly value and are left out: {count} this week.",
    "reasons_since": "History imported from your membership plugin counts in every figure, but reasons are "
                     "only known since {date}, when the survey was installed.",
    "reasons_title": "Why they left",
    "reasons_note": "Survey answers received this week, against the average of the 4 weeks before. "
                    "“Rising” or “falling” needs a change of at least 2 answers and of at least half; "
                    "anything less is “steady”.",
    "no_answers": "No survey answers this week.",
    "trend_rising": "rising",
    "trend_falling": "falling",
    "trend_steady": "steady",
    "no_reason": "No reason given",
    "plans_title": "Plans most cancelled",
    "said_title": "In their words",
    "said_note": "Comments shown: {shown} of {total}, taken in turn from each reason, newest first.",
    "themes_title": "Recurring themes",
    "themes_note": "Comments that mention a theme's words (for price: price, expensive, prix, cher…).",
    "theme_price": "Price",
    "theme_time": "Time",
    "theme_content": "Content",
    "theme_bugs": "Bugs and access",
    "theme_support": "Support",
    "theme_count_one": "{count} comment",
    "theme_count_other": "{count} comments",
    "waiting_title": "Waiting for an answer",
    "waiting_none": "Nobody is waiting for an answer.",
    "waited": "waiting for {duration}",
    "waiting_more_one": "…and {count} more in the dashboard.",
    "waiting_more_other": "…and {count} more in the dashboard.",
    "median_response": "Requests answered this week: {count}; median response time: {duration}.",
    # at risk (issue 18)
    "at_risk_title": "Members at risk",
    "at_risk_row_entered": "Entered the list",
    "at_risk_row_left": "Left the list",
    "at_risk_row_recovered": "recovered",
    "at_risk_row_cancelled": "cancelled",
    "at_risk_row_expired": "expired",
    "at_risk_row_at_end": "On the list at the week’s end",
    "at_risk_row_revenue": "Monthly revenue at stake",
    "at_risk_note": "Members whose latest renewal failed with no payment since, or whose subscription is paused. "
                    "Recovered: a payment went through or the subscription resumed. Farewell does not write to "
                    "them about it; you may wish to reach out in person.",
    "at_risk_excluded": "Lifetime plans and unknown amounts are left out of the revenue at stake: {count} this week.",
    "at_risk_oldest_title": "On the list longest, now",
    "at_risk_since": "since {date}",
    "at_risk_attempts_one": "{count} failed attempt",
    "at_risk_attempts_other": "{count} failed attempts",
    "at_risk_paused": "paused",
    "at_risk_more_one": "…and {count} more in the dashboard.",
    "at_risk_more_other": "…and {count} more in the dashboard.",
    "at_risk_quiet_one": "{count} member is on the at-risk list now, though (a failed renewal or a pause): see below.",
    "at_risk_quiet_other": "{count} members are on the at-risk list now, though (failed renewals or pauses): "
                           "see below.",
    "sequence_title": "Follow-up emails",
    "col_step": "Email",
    "col_sent": "Sent",
    "col_winbacks": "Win-backs after it",
    **{f"step_{key}": name for key, name in STEPS.items()},
    "step_none": "Before any email",
    "unsubscribes": "Unsubscribes this week: {count}",
    "offers_title": "Win-backs after the offer, by offer",
    "offer_discount": "Discount",
    "offer_pause": "Pause instead of cancel",
    "offer_whats_new": "What is new",
    "offer_personal": "A personal answer",
    "offer_default": "General offer",
    "chart_title": "The last 12 weeks",
    "chart_alt": "Chart: cancellations (bars) and win-backs (line) per week over the last 12 weeks; "
                 "the same figures are in the table below.",
    "legend_cancellations": "Cancellations",
    "legend_winbacks": "Win-backs",
    "col_week_name": "Week",
    "dashboard_button": "Open the dashboard",
    "footer": "You receive this weekly summary as an owner of {site_name}. The day, the hour and the "
              "recipients can be changed in the dashboard.",
    "none": "none",
}

# Shown in every member email: the greeting, the signature and why they receive it.
EMAIL_FOOTER = {
    "why": "You receive this email because you were a member of {site_name}.",
    "unsubscribe": "Stop these emails",
    "greeting": "Hello {first_name},",
    "greeting_anonymous": "Hello,",
    "signature": "{sender_name}",
}

# The unsubscribe pages (sidecar.web.unsubscribe).
UNSUBSCRIBE = {
    "title": "Stop emails from {site}?",
    "explain": "This stops the emails {site} sends to {email} since you cancelled. Your account does not change.",
    "button": "Stop these emails",
    "done_title": "Done",
    "done": "You will not receive any more of these emails from {site}.",
    "invalid_title": "This link does not work",
    "invalid": "It may have been copied incompletely. To stop emails, reply to one of them and ask us to stop.",
    "slow_title": "One moment, please",
    "slow": "We received many requests from your network in a short time. Please try again in a minute; "
            "nothing has been lost.",
}

# The labels of a member's data export through WordPress's privacy tools (sidecar.domain.privacy).
PRIVACY = {
    "member": "Farewell: member profile", "subscriptions": "Farewell: subscriptions",
    "cancellations": "Farewell: cancellations", "answers": "Farewell: exit survey answers",
    "member_id": "Member id", "email": "Email", "first_name": "First name", "locale": "Language",
    "plan_name": "Plan", "amount": "Price", "currency": "Currency", "interval": "Billing interval",
    "status": "Status", "started_at": "Started", "access_ends_at": "Access ends",
    "cancelled_at": "Cancelled", "initiated_by": "Cancelled by", "resumed_at": "Resumed",
    "ended_at": "Ended", "answered_at": "Answered",
}

# The page at / (sidecar.web.home).
HOME = {
    "title": "Farewell sidecar",
    "what": "This server is the Farewell sidecar of a membership site: it receives cancellations from the "
            "Farewell Bridge WordPress plugin, keeps the exit-survey answers, sends a few respectful "
            "follow-up emails and serves the owner's dashboard.",
    "dashboard": "The dashboard opens from WordPress: in wp-admin, go to Farewell and press “Open dashboard”.",
    "docs": "Documentation: the README and the docs folder of Farewell, at",
    "api": "This server’s API is described at",
}

# The default exit survey (sidecar.domain.survey.DEFAULT_DEFINITION): reason_<code>, its
# follow_up_<code>, and choice_<reason>_<choice> for a follow-up's choices.
SURVEY = {
    "title": "Before you go",
    "intro": "Your cancellation is done. If you have a minute, tell us why you left: every answer is optional.",
    "reason_label": "Why are you leaving?",
    "reason_too_expensive": "It costs too much",
    "follow_up_too_expensive": "What price would have felt fair?",
    "reason_unused": "I don’t use it enough",
    "follow_up_unused": "What got in the way?",
    "choice_unused_no_time": "Not enough time",
    "choice_unused_not_what_i_expected": "It wasn’t what I expected",
    "choice_unused_hard_to_find": "I couldn’t find what I needed",
    "reason_temporary": "I’m just taking a break",
    "follow_up_temporary": "When might you be back?",
    "choice_temporary_within_a_month": "Within a month",
    "choice_temporary_in_a_few_months": "In a few months",
    "choice_temporary_not_sure": "I’m not sure yet",
    "reason_missing_features": "Something I need is missing",
    "follow_up_missing_features": "What was missing?",
    "reason_switched_service": "I found another service",
    "follow_up_switched_service": "Which one, if you don’t mind saying?",
    "reason_customer_service": "I wasn’t happy with the support",
    "follow_up_customer_service": "What happened?",
    "reason_too_complex": "It was too complicated to use",
    "follow_up_too_complex": "What was hard to use?",
    "reason_low_quality": "The quality didn’t meet my expectations",
    "follow_up_low_quality": "What could we have done better?",
    "reason_other": "Another reason",
    "comment_label": "What made you cancel?",
    "contact_label": "I’d like someone to contact me",
    "contact_detail_label": "Email or phone number to reach you",
    "submit_label": "Send my answers",
    "skip_label": "Skip",
    "thanks": "Thank you — your answers help us do better.",
}

# The holdout's section, on the dashboard's sequence page and overview and in the digest
# (sidecar.domain.holdout); the sentence keys are the verdicts.
HOLDOUT = {
    "title": "Do the emails work?",
    "intro": "{percent}% of the members who cancel, drawn at random, get the farewell email and nothing else "
             "(the holdout); the others get the follow-ups. Both groups are compared once their {days}-day "
             "win-back window has passed.",
    "off": "The holdout is off (0%): every member gets the follow-ups, so what they bring back cannot be measured.",
    "too_early": "Too early to tell (n = {n}).",
    "no_effect": "No measurable effect yet.",
    "more": "The follow-ups brought back about {about} more members per 100 cancellations (between {low} and {high}).",
    "fewer": "Members who got the follow-ups came back less: about {about} fewer per 100 cancellations "
             "(between {low} and {high}).",
    "col_group": "Group",
    "group_followups": "Follow-ups",
    "group_holdout": "Holdout (farewell only)",
    "col_judged": "Cancellations judged",
    "col_winbacks": "Won back",
    "col_rate": "Win-back rate",
    "col_revenue": "Monthly revenue won back per 100 cancellations",
    "difference": "Difference: {points} percentage points (95% interval: {low} to {high}).",
    "waiting_one": "{count} more cancellation is waiting for its window to pass.",
    "waiting_other": "{count} more cancellations are waiting for their window to pass.",
    "left_out_one": "{count} member who had unsubscribed before cancelling is left out.",
    "left_out_other": "{count} members who had unsubscribed before cancelling are left out.",
    "by_reason": "By reason given before the first follow-up (reasons with at least {min} judged cancellations "
                 "in each group)",
    "col_reason": "Reason",
    "col_verdict": "What it shows",
    "per_step": "Each email's own effect cannot be measured: the holdout receives none of them.",
    "share_label": "Holdout share (0 to 50%)",
    "share_help": "A larger share gives an answer sooner, and sends the follow-ups to fewer members.",
    "share_invalid": "The holdout share must be a whole number from 0 to 50.",
    "line": "Do the emails work? {sentence}",
}

SECTIONS = {
    "steps": STEPS,
    "dashboard": DASHBOARD,
    "email_blocks": EMAIL_BLOCKS,
    "email.farewell": EMAIL_FAREWELL,
    "email.feedback": EMAIL_FEEDBACK,
    "email.offer": EMAIL_OFFER,
    "email.door_open": EMAIL_DOOR_OPEN,
    "email.owner_alert": EMAIL_OWNER_ALERT,
    "email.digest": EMAIL_DIGEST,
    "email.footer": EMAIL_FOOTER,
    "unsubscribe": UNSUBSCRIBE,
    "privacy": PRIVACY,
    "home": HOME,
    "survey": SURVEY,
    "holdout": HOLDOUT,
}
