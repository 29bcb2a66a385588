"""Every email Farewell sends: one small description each, with its default copy in English and French.

An email is a pair of templates (``templates/email/<key>.txt`` and ``.html``, both extending the
shared layout) plus the description below: its key, its subject, the copy blocks the templates
place, and the variables the copy may use (written ``{first_name}``). A site may override any copy
block per language (``sequence_steps.copy_overrides``); the templates never change.

The tone is the product: warm and factual, no guilt, no begging, no fake urgency, and no email
pretends to be more than it is.
"""

from __future__ import annotations

from dataclasses import dataclass

LANGUAGES = ("en", "fr")


@dataclass(frozen=True)
class EmailKind:
    key: str
    variables: tuple[str, ...]
    # {language: {block name: text}}; "subject" is a block like the others.
    copy: dict[str, dict[str, str]]

    def blocks(self) -> tuple[str, ...]:
        return tuple(self.copy["en"])


_MEMBER_VARIABLES = ("first_name", "site_name", "site_url", "plan_name", "support_email", "sender_name")

FAREWELL = EmailKind(
    key="farewell",
    variables=(*_MEMBER_VARIABLES, "access_ends", "survey_url"),
    copy={
        "en": {
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
        },
        "fr": {
            "subject": "Votre résiliation {site_name} est confirmée",
            "intro": "Merci pour le temps passé avec {site_name}. Votre résiliation est bien confirmée.",
            "access": "Vous gardez l’accès complet jusqu’au {access_ends}.",
            "help": "Si quelque chose n’est pas clair, ou si vous avez besoin d’aide avec votre compte, "
                    "répondez simplement à cet e-mail : il arrive directement à notre équipe.",
            "help_site": "Si quelque chose n’est pas clair, ou si vous avez besoin d’aide avec votre compte, "
                         "notre équipe est là pour vous : {site_url}",
            "survey": "Si vous avez une minute, nous aimerions savoir ce qui vous a décidé·e à résilier. "
                      "C’est une seule question, et c’est entièrement facultatif.",
            "survey_button": "Donner mon avis",
            "closing": "Merci encore, et belle continuation.",
        },
    },
)

FEEDBACK = EmailKind(
    key="feedback",
    variables=(*_MEMBER_VARIABLES, "survey_url"),
    copy={
        "en": {
            "subject": "One question about your time with {site_name}",
            "intro": "A few days ago you cancelled your {site_name} membership. We read every answer, "
                     "and yours would help us do better: what made you cancel?",
            "survey_button": "Answer in a minute",
            "closing": "If you would rather not answer, that is fine: we will not ask again.",
        },
        "fr": {
            "subject": "Une question sur votre expérience avec {site_name}",
            "intro": "Il y a quelques jours, vous avez résilié votre abonnement à {site_name}. Nous lisons "
                     "chaque réponse, et la vôtre nous aiderait à nous améliorer : qu’est-ce qui vous a "
                     "décidé·e à résilier ?",
            "survey_button": "Répondre en une minute",
            "closing": "Si vous préférez ne pas répondre, aucun souci : nous ne vous le redemanderons pas.",
        },
    },
)

OFFER = EmailKind(
    key="offer",
    variables=(*_MEMBER_VARIABLES, "percent", "code", "expires", "news_url", "offer_text"),
    copy={
        "en": {
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
        },
        "fr": {
            "subject": "Un mot de {site_name}",
            "subject_discount": "{percent} % sur votre réabonnement à {site_name}, si vous le souhaitez",
            "discount": "Vous nous avez dit que le prix posait problème. Si vous souhaitez revenir, voici "
                        "une remise unique de {percent} % sur votre réabonnement, valable jusqu’au {expires} :",
            "code_only": "Vous nous avez dit que le prix posait problème. Si vous souhaitez revenir, ce code "
                         "vous donne un meilleur prix sur votre réabonnement :",
            "no_discount": "Vous nous avez dit que le prix posait problème. Merci de nous l’avoir dit : cela "
                           "nous aide à réfléchir à nos tarifs. Votre compte est toujours là si vous souhaitez "
                           "revenir un jour.",
            "pause": "Vous nous avez dit manquer de temps, ou avoir besoin d’une pause. C’est tout à fait "
                     "normal. Votre compte et votre progression sont toujours là, et la prochaine fois vous "
                     "pourrez mettre votre abonnement en pause plutôt que de le résilier.",
            "whats_new": "Vous nous avez dit qu’il vous manquait quelque chose. Nous avons continué à "
                         "travailler depuis votre départ, et vous pourriez le trouver maintenant.",
            "whats_new_button": "Voir les nouveautés",
            "personal": "Vous nous avez dit que notre service client vous avait déçu·e, et nous en sommes "
                        "désolés. Si vous voulez bien nous en dire plus, répondez à cet e-mail : une personne "
                        "de notre équipe le lira et vous répondra personnellement.",
            "personal_site": "Vous nous avez dit que notre service client vous avait déçu·e, et nous en sommes "
                             "désolés. Si vous voulez bien nous en dire plus, une personne de notre équipe le lira "
                             "et vous répondra personnellement : {site_url}",
            "default": "Votre compte est toujours là, et vous êtes le bienvenu ou la bienvenue quand vous "
                       "le souhaitez.",
            "visit_button": "Aller sur {site_name}",
            "closing": "Dans tous les cas, merci d’avoir été membre.",
        },
    },
)

DOOR_OPEN = EmailKind(
    key="door_open",
    variables=_MEMBER_VARIABLES,
    copy={
        "en": {
            "subject": "The door stays open at {site_name}",
            "intro": "It has been a couple of months since you left {site_name}. This is the last email we "
                     "send you about it: we simply wanted to say that you are welcome back whenever you "
                     "like, with no strings attached.",
            "visit_button": "Visit {site_name}",
            "closing": "Take care.",
        },
        "fr": {
            "subject": "La porte reste ouverte chez {site_name}",
            "intro": "Cela fait deux mois que vous avez quitté {site_name}. C’est le dernier e-mail que nous "
                     "vous envoyons à ce sujet : nous voulions simplement vous dire que vous serez toujours "
                     "bien accueilli·e, sans aucun engagement.",
            "visit_button": "Aller sur {site_name}",
            "closing": "Prenez soin de vous.",
        },
    },
)

OWNER_ALERT = EmailKind(
    key="owner_alert",
    variables=("member_name", "member_email", "contact", "site_name", "requested_at"),
    copy={
        "en": {
            "subject": "{member_name} would like to be contacted",
            "intro": "{member_name} ({member_email}) cancelled and asked to be contacted, on {requested_at}.",
            "contact": "How to reach them: {contact}",
            "reply": "Reply to this email to answer them directly. Once you have, mark the request as "
                     "answered so that it leaves your list.",
            "reason_label": "Reason",
            "follow_up_label": "Details",
            "comment_label": "Their words",
        },
        "fr": {
            "subject": "{member_name} aimerait être recontacté·e",
            "intro": "{member_name} ({member_email}) a résilié et a demandé à être recontacté·e, le "
                     "{requested_at}.",
            "contact": "Pour le ou la joindre : {contact}",
            "reply": "Répondez à cet e-mail pour lui écrire directement. Une fois fait, marquez la demande "
                     "comme traitée pour qu’elle quitte votre liste.",
            "reason_label": "Raison",
            "follow_up_label": "Précisions",
            "comment_label": "Ses mots",
        },
    },
)

# The owners' weekly digest (issue 6). Not a member email: no greeting, no unsubscribe link; its
# footer says how to change the day, the hour or the recipients. Labels for reasons come from the
# survey; the other labels the digest shows are blocks here too, so both languages stay complete.
DIGEST = EmailKind(
    key="digest",
    variables=("site_name", "week_label", "dashboard_url"),
    copy={
        "en": {
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
            "row_revenue_lost": "Monthly revenue lost",
            "row_answer_rate": "Survey answer rate",
            "row_winbacks": "Win-backs",
            "row_revenue_won": "Monthly revenue won back",
            "money_note": "Amounts are per month: daily prices × 365/12, weekly × 52/12, yearly ÷ 12. Each "
                          "currency is counted on its own.",
            "lifetime_note": "Lifetime plans have no monthly value and are left out: {count} this week.",
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
            "sequence_title": "Follow-up emails",
            "col_step": "Email",
            "col_sent": "Sent",
            "col_winbacks": "Win-backs after it",
            "step_farewell": "Farewell",
            "step_feedback": "Feedback request",
            "step_offer": "Offer",
            "step_door_open": "The door is open",
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
        },
        "fr": {
            "subject": "{site_name} : votre semaine, {week_label}",
            "subject_quiet": "{site_name} : une semaine calme, {week_label}",
            "intro": "Voici comment s’est passée la semaine du {week_label} chez {site_name}.",
            "quiet": "Personne n’a résilié cette semaine. Rien ici ne demande votre attention ; les chiffres "
                     "ci-dessous sont pour mémoire.",
            "headline_title": "La semaine en bref",
            "col_week": "Cette semaine",
            "col_previous": "Semaine précédente",
            "col_average": "Moyenne sur 4 semaines",
            "row_cancellations": "Résiliations",
            "row_by_member": "par le membre",
            "row_by_others": "par un admin, un paiement ou une expiration",
            "row_revenue_lost": "Revenu mensuel perdu",
            "row_answer_rate": "Taux de réponse au questionnaire",
            "row_winbacks": "Membres revenus",
            "row_revenue_won": "Revenu mensuel regagné",
            "money_note": "Montants ramenés au mois : prix journalier × 365/12, hebdomadaire × 52/12, annuel ÷ 12. "
                          "Chaque devise est comptée à part.",
            "lifetime_note": "Les formules à vie n’ont pas de valeur mensuelle et sont laissées de côté : {count} "
                             "cette semaine.",
            "reasons_title": "Pourquoi ils sont partis",
            "reasons_note": "Réponses au questionnaire reçues cette semaine, comparées à la moyenne des 4 semaines "
                            "précédentes. « En hausse » ou « en baisse » demande un écart d’au moins 2 réponses et "
                            "d’au moins moitié ; en deçà, c’est « stable ».",
            "no_answers": "Aucune réponse au questionnaire cette semaine.",
            "trend_rising": "en hausse",
            "trend_falling": "en baisse",
            "trend_steady": "stable",
            "no_reason": "Sans raison indiquée",
            "plans_title": "Formules les plus résiliées",
            "said_title": "Avec leurs mots",
            "said_note": "Commentaires affichés : {shown} sur {total}, pris tour à tour dans chaque raison, du "
                         "plus récent au plus ancien.",
            "themes_title": "Thèmes récurrents",
            "themes_note": "Commentaires qui emploient les mots d’un thème (pour le prix : prix, cher, price, "
                           "expensive…).",
            "theme_price": "Prix",
            "theme_time": "Temps",
            "theme_content": "Contenu",
            "theme_bugs": "Bugs et accès",
            "theme_support": "Service client",
            "theme_count_one": "{count} commentaire",
            "theme_count_other": "{count} commentaires",
            "waiting_title": "En attente de réponse",
            "waiting_none": "Personne n’attend de réponse.",
            "waited": "attend depuis {duration}",
            "waiting_more_one": "…et {count} autre dans le tableau de bord.",
            "waiting_more_other": "…et {count} autres dans le tableau de bord.",
            "median_response": "Demandes traitées cette semaine : {count} ; délai de réponse médian : {duration}.",
            "sequence_title": "E-mails de suivi",
            "col_step": "E-mail",
            "col_sent": "Envoyés",
            "col_winbacks": "Retours après cet e-mail",
            "step_farewell": "Au revoir",
            "step_feedback": "Demande d’avis",
            "step_offer": "Offre",
            "step_door_open": "La porte reste ouverte",
            "step_none": "Avant tout e-mail",
            "unsubscribes": "Désinscriptions cette semaine : {count}",
            "offers_title": "Retours après l’offre, par offre",
            "offer_discount": "Remise",
            "offer_pause": "Pause plutôt que résiliation",
            "offer_whats_new": "Les nouveautés",
            "offer_personal": "Une réponse personnelle",
            "offer_default": "Offre générale",
            "chart_title": "Les 12 dernières semaines",
            "chart_alt": "Graphique : résiliations (barres) et retours (ligne) par semaine sur les 12 dernières "
                         "semaines ; les mêmes chiffres sont dans le tableau ci-dessous.",
            "legend_cancellations": "Résiliations",
            "legend_winbacks": "Retours",
            "col_week_name": "Semaine",
            "dashboard_button": "Ouvrir le tableau de bord",
            "footer": "Vous recevez ce résumé hebdomadaire en tant que responsable de {site_name}. Le jour, l’heure "
                      "et les destinataires se changent dans le tableau de bord.",
            "none": "aucun",
        },
    },
)

# Shown in every email's footer.
FOOTER = {
    "en": {
        "why": "You receive this email because you were a member of {site_name}.",
        "unsubscribe": "Stop these emails",
        "greeting": "Hello {first_name},",
        "greeting_anonymous": "Hello,",
        "signature": "{sender_name}",
    },
    "fr": {
        "why": "Vous recevez cet e-mail car vous avez été membre de {site_name}.",
        "unsubscribe": "Ne plus recevoir ces e-mails",
        "greeting": "Bonjour {first_name},",
        "greeting_anonymous": "Bonjour,",
        "signature": "{sender_name}",
    },
}

KINDS: dict[str, EmailKind] = {kind.key: kind for kind in (FAREWELL, FEEDBACK, OFFER, DOOR_OPEN, OWNER_ALERT)}
# The digest is sent by sidecar.domain.digest, not by the dispatcher: it is not a scheduled email step.
OWNER_KINDS: dict[str, EmailKind] = {DIGEST.key: DIGEST}
