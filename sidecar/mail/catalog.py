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
    # Marketing emails carry one-click unsubscribe headers; the farewell (it confirms the cancel)
    # and the owner's alert are transactional.
    marketing: bool
    variables: tuple[str, ...]
    # {language: {block name: text}}; "subject" is a block like the others.
    copy: dict[str, dict[str, str]]

    def blocks(self) -> tuple[str, ...]:
        return tuple(self.copy["en"])


_MEMBER_VARIABLES = ("first_name", "site_name", "site_url", "plan_name", "support_email", "sender_name")

FAREWELL = EmailKind(
    key="farewell",
    marketing=False,
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
    marketing=True,
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
    marketing=True,
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
    marketing=True,
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
    marketing=False,
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
