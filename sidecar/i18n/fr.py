"""Everything the sidecar says to people, in French: the same sections, the same keys and the
same ``{placeholders}`` as en.py (tests/test_catalogs.py checks it).

Over 400 lines on purpose: one file per language is what a translator opens, whole.
"""

# The name of each step of the sequence (sidecar.domain.sequences), as the dashboard and the digest
# show it: written once here, placed in both sections below.
STEPS = {
    "farewell": "Au revoir",
    "feedback": "Demande d’avis",
    "offer": "Offre",
    "door_open": "La porte reste ouverte",
}

# The owner's dashboard (sidecar.web.dashboard), asked for as t(key) in its templates.
DASHBOARD = {
    "app_name": "Farewell",
    "nav_overview": "Vue d’ensemble",
    "nav_feedback": "Avis",
    "nav_contact": "Demandes de contact",
    "nav_sequence": "Séquence",
    "nav_survey": "Questionnaire",
    "nav_digest": "Résumé",
    "nav_settings": "Réglages",
    "sign_out": "Se déconnecter",
    "signed_in_as": "Connecté·e : {name}",
    "back_to_wordpress": "Retour à WordPress",
    "saved": "Enregistré.",
    "save": "Enregistrer",
    "preview": "Aperçu",
    "filter": "Filtrer",
    "reset": "Effacer",
    "none": "–",
    "menu": "Menu",
    "times_in": "Dates et heures : {zone}.",
    "yes": "oui",
    "no": "non",
    "login_title": "Connexion refusée",
    "login_invalid": "Ce lien de connexion n’est pas valide. Ouvrez à nouveau le tableau de bord depuis WordPress.",
    "login_expired": "Ce lien de connexion a expiré (un lien dure 60 secondes). Ouvrez à nouveau le tableau de bord depuis WordPress.",
    "login_replayed": "Ce lien de connexion a déjà servi : chaque lien ne marche qu’une fois. Ouvrez à nouveau le tableau de bord depuis WordPress.",
    "login_needed_title": "Connexion nécessaire",
    "login_needed": "Le tableau de bord s’ouvre depuis WordPress : menu Farewell de l’administration, bouton « Ouvrir le tableau de bord ».",
    "login_slow_title": "Un instant, s’il vous plaît",
    "login_slow": "Trop de tentatives de connexion sont venues de votre réseau en peu de temps. Attendez une minute, puis ouvrez à nouveau le tableau de bord depuis WordPress.",
    "signed_out": "Vous êtes déconnecté·e.",
    "csrf_title": "Le formulaire a expiré",
    "csrf_text": "Ce formulaire est resté ouvert trop longtemps ou vient d’ailleurs. Revenez en arrière, rechargez la page et réessayez.",
    "not_found": "Introuvable.",
    "overview_title": "Cette semaine, jusqu’ici",
    "col_this_week": "Cette semaine",
    "col_previous": "Semaine précédente",
    "col_average": "Moyenne sur 4 semaines",
    "row_cancellations": "Résiliations",
    "row_by_member": "par le membre",
    "row_revenue_lost": "Revenu mensuel perdu",
    "row_answer_rate": "Taux de réponse au questionnaire",
    "row_winbacks": "Retours",
    "row_revenue_won": "Revenu regagné",
    "row_at_risk": "Membres à risque en fin de semaine",
    "row_revenue_at_stake": "Revenu mensuel en jeu",
    "chart_weeks": "Résiliations et retours, 12 dernières semaines",
    "chart_reasons": "Raisons cette semaine, à côté de la moyenne sur 4 semaines",
    "chart_revenue": "Revenu mensuel cette semaine",
    "legend_cancellations": "Résiliations",
    "legend_winbacks": "Retours",
    "legend_this_week": "Cette semaine",
    "legend_average": "Moyenne sur 4 semaines",
    "legend_lost": "Perdu",
    "legend_won": "Regagné",
    "no_reason": "Aucune raison donnée",
    "no_answers_yet": "Pas encore de réponse cette semaine.",
    "no_cancellations_title": "Aucune résiliation pour l’instant",
    "no_cancellations": "Les résiliations apparaissent ici à mesure que des membres résilient sur votre site "
                        "WordPress. Pour voir celles d’avant l’installation de Farewell, importez-les dans "
                        "WordPress → Farewell → Importer l’historique.",
    "how_survey_appears": "Les membres qui résilient voient le questionnaire de départ sur la page qui suit la "
                          "résiliation (ou là où vous avez placé son code court) ; leurs réponses apparaissent "
                          "sous Avis. Ses questions se modifient sous Questionnaire.",
    "open_requests_one": "{count} demande de contact en attente de réponse",
    "open_requests_other": "{count} demandes de contact en attente de réponse",
    # les 24 derniers mois (historique importé compris)
    "months_title": "Les 24 derniers mois",
    "months_note": "Historique importé compris. Montants ramenés au mois (comme ci-dessus), chaque devise à "
                   "part ; le mois en cours jusqu’à aujourd’hui.",
    "months_csv": "Exporter ces mois (CSV)",
    "col_month": "Mois",
    "col_cancellations": "Résiliations",
    "col_voluntary": "Par le membre",
    "col_not_voluntary": "Par d’autres (admin, paiement, expiration)",
    "col_unknown_initiator": "Auteur non enregistré (importé)",
    "col_plans": "Formules",
    "col_revenue_lost": "Revenu mensuel perdu",
    "col_comebacks": "Membres revenus",
    "col_after_email": "Après un e-mail",
    "col_lifetime": "Formules à vie (sans valeur mensuelle)",
    "reasons_since": "L’historique importé de votre extension d’abonnements compte dans tous les chiffres, "
                     "mais les raisons ne sont connues que depuis le {date}, quand le questionnaire a été "
                     "installé.",
    "feedback_title": "Toutes les réponses",
    "f_reason": "Raison",
    "f_plan": "Formule",
    "f_from": "Du",
    "f_to": "Au",
    "f_search": "Rechercher",
    "f_any": "Toutes",
    "export_csv": "Exporter en CSV",
    "col_date": "Date",
    "col_member": "Membre",
    "col_plan": "Formule",
    "col_reason": "Raison",
    "col_follow_up": "Précision",
    "col_comment": "Commentaire",
    "col_contact": "Souhaite être recontacté·e",
    "col_version": "Version du questionnaire",
    "col_language": "Langue",
    "results_one": "{count} réponse",
    "results_other": "{count} réponses",
    "page_of": "Page {page} sur {pages}",
    "previous_page": "Précédente",
    "next_page": "Suivante",
    "no_results": "Aucune réponse ne correspond à ces filtres.",
    "no_answers_ever": "Pas encore de réponse au questionnaire. Les membres le voient juste après avoir "
                       "résilié, et chaque réponse apparaît ici. Ses questions se modifient sous Questionnaire.",
    "nav_at_risk": "À risque",
    "at_risk_title": "Membres à risque",
    "at_risk_intro": "Les membres dont le dernier renouvellement a échoué et qui n’ont pas payé depuis, et les "
                     "membres en pause. Farewell ne leur écrit pas à ce sujet (leur extension d’adhésion et "
                     "leur service de paiement le font) ; vous pouvez les contacter vous-même.",
    "at_risk_week": "Cette semaine — entrés dans la liste : {entered} · rétablis : {recovered} · résiliés : "
                    "{cancelled} · expirés : {expired} · revenu mensuel en jeu aujourd’hui : {at_stake}",
    "at_risk_results_one": "{count} membre",
    "at_risk_results_other": "{count} membres",
    "at_risk_no_results": "Aucun membre à risque ne correspond à ces filtres.",
    "at_risk_none": "Aucun membre n’est à risque en ce moment : aucun renouvellement n’échoue et aucun "
                    "abonnement n’est en pause.",
    "risk_failed": "Renouvellement échoué",
    "risk_paused": "En pause",
    "col_since": "Depuis",
    "col_why": "Pourquoi",
    "col_attempts": "Tentatives échouées",
    "col_access_ends": "Fin de l’accès",
    "col_amount": "Montant",
    "col_currency": "Devise",
    "col_interval": "Période",
    "interval_day": "jour",
    "interval_week": "semaine",
    "interval_month": "mois",
    "interval_year": "an",
    "interval_lifetime": "à vie",
    "contact_title": "Membres qui souhaitent être recontactés",
    "contact_open": "En attente de réponse",
    "contact_answered": "Répondu",
    "col_requested": "Demandé le",
    "col_waited": "Attente",
    "col_reach": "Comment les joindre",
    "mark_answered": "Marquer comme répondu",
    "marked_answered": "Marqué comme répondu.",
    "no_open_requests": "Personne n’attend. ",
    "no_requests_ever": "Aucun membre n’a encore demandé à être recontacté. Le questionnaire de départ le "
                        "permet ; le membre apparaît alors ici, et les adresses indiquées dans Réglages "
                        "reçoivent un e-mail.",
    "sequence_title": "E-mails de suivi",
    **{f"step_{key}": name for key, name in STEPS.items()},
    "col_step": "E-mail",
    "col_enabled": "Actif",
    "col_delay": "Envoyé après",
    "edit": "Modifier",
    "enabled": "Envoyer cet e-mail",
    "delay": "Envoyé après la résiliation",
    "delay_unit": "Unité",
    "unit_days": "jours",
    "unit_hours": "heures",
    "delay_help": "En jours ; en heures pour moins d’un jour.",
    "preview_help": "L’aperçu suit ce que vous tapez. Rien n’est enregistré avant d’appuyer sur Enregistrer.",
    "test_help": "Vous envoie la version enregistrée de cet e-mail.",
    "language": "Langue",
    "copy_help": "Variables : {variables}. Laissez un bloc tel quel pour garder le texte par défaut.",
    "send_test": "M’envoyer un test",
    "test_sent": "Un test a été envoyé à {email}.",
    "test_failed": "Le test n’a pas pu être envoyé : {error}",
    "test_site_unreachable": "Le test n’a pas pu être envoyé : le site WordPress est injoignable.",
    "live_preview": "Aperçu (avec des données d’exemple)",
    "days_count_one": "{count} jour",
    "days_count_other": "{count} jours",
    "hours_count_one": "{count} heure",
    "hours_count_other": "{count} heures",
    "invalid_delay": "Le délai doit être un nombre entier de jours entre 0 et 365 (ou d’heures, entre 0 et 8760).",
    "too_long": "« {field} » est trop long.",
    "survey_title": "Questionnaire de départ",
    "survey_version": "Version actuelle : {version}. Enregistrer crée la version {next} ; les réponses gardent la version à laquelle elles ont répondu.",
    "survey_general": "Textes",
    "survey_reasons": "Raisons",
    "survey_include": "Proposer cette raison",
    "survey_follow_up": "Question de précision",
    "survey_choice": "Choix",
    "survey_reason_code": "Enregistrée comme « {code} »",
    "survey_text_title": "Titre",
    "survey_text_title_hint": "Le titre du questionnaire, sur la page qui suit la résiliation.",
    "survey_text_intro": "Introduction",
    "survey_text_intro_hint": "La phrase sous le titre : la résiliation est faite, répondre est facultatif.",
    "survey_text_reason_label": "La question",
    "survey_text_reason_label_hint": "Posée au-dessus de la liste des raisons.",
    "survey_text_comment_label": "Zone de commentaire",
    "survey_text_comment_label_hint": "Au-dessus de la zone de texte libre, pour leurs propres mots.",
    "survey_text_contact_label": "Demander à être recontacté",
    "survey_text_contact_label_hint": "La case qu’un membre coche pour être recontacté par votre équipe.",
    "survey_text_contact_detail_label": "Comment les joindre",
    "survey_text_contact_detail_label_hint": "Affiché une fois la case cochée : où les joindre.",
    "survey_text_submit_label": "Bouton d’envoi",
    "survey_text_submit_label_hint": "Le bouton qui envoie les réponses.",
    "survey_text_skip_label": "Lien pour passer",
    "survey_text_skip_label_hint": "Quitte le questionnaire sans répondre.",
    "survey_text_thanks": "Message de remerciement",
    "survey_text_thanks_hint": "Affiché une fois les réponses envoyées.",
    "survey_reason_hint_discount": "L’e-mail d’offre propose une réduction (si une offre est définie).",
    "survey_reason_hint_pause": "L’e-mail d’offre suggère de mettre en pause la prochaine fois plutôt que de "
                                "résilier.",
    "survey_reason_hint_whats_new": "L’e-mail d’offre montre les nouveautés.",
    "survey_reason_hint_personal": "L’e-mail d’offre propose une réponse personnelle de votre équipe.",
    "survey_reason_hint_default": "L’e-mail d’offre est l’offre générale.",
    "survey_saved": "Enregistré comme version {version}.",
    "survey_needs_reason": "Gardez au moins une raison.",
    "survey_label_missing": "Chaque libellé doit avoir un texte dans chaque langue.",
    "digest_title": "Résumé hebdomadaire",
    "digest_weekday": "Jour",
    "digest_hour": "Heure (heure du site)",
    "digest_recipients": "Destinataires (séparés par des virgules ; vide = l’e-mail d’administration WordPress)",
    "digest_preview": "Le résumé de la semaine dernière",
    "digest_send_now": "Me l’envoyer maintenant",
    "digest_sent": "Le résumé a été envoyé à {email}.",
    "weekday_1": "lundi", "weekday_2": "mardi", "weekday_3": "mercredi", "weekday_4": "jeudi",
    "weekday_5": "vendredi", "weekday_6": "samedi", "weekday_7": "dimanche",
    "settings_title": "Réglages",
    "site_details": "Site",
    "site_name": "Nom",
    "site_url": "Adresse",
    "url_scheme": "Adresse : une adresse http:// ou https:// de 500 caractères au plus.",
    "url_host": "Adresse : une adresse web avec un nom d’hôte, comme https://example.org.",
    "url_credentials": "Adresse : sans nom d’utilisateur ni mot de passe.",
    "url_private": "Adresse : c’est une adresse locale ou d’un réseau privé, que Farewell n’appelle pas. "
                   "Indiquez l’adresse publique du site.",
    "site_timezone": "Fuseau horaire",
    "site_locale": "Langue du site",
    "email_details": "E-mails",
    "sender_name": "Nom de l’expéditeur",
    "support_email": "Adresse du support (Reply-To)",
    "owner_emails": "Prévenir ces adresses quand un membre demande à être recontacté",
    "postal_address": "Adresse postale (pied des e-mails)",
    "default_offer_text": "Offre par défaut",
    "default_offer_code": "Code de l’offre par défaut",
    "secret_title": "Secret de signature",
    "secret_help": "Un nouveau secret remplace l’actuel ; l’actuel reste valable 24 heures, le temps de coller le nouveau dans WordPress (Réglages → Farewell). Toutes les autres sessions du tableau de bord sont fermées.",
    "secret_immediately": "Le secret actuel a fuité : le refuser immédiatement (WordPress ne joint plus Farewell tant que le nouveau secret n’y est pas collé)",
    "secret_confirm": "J’ai compris qu’il faut mettre à jour le pont WordPress",
    "rotate_secret": "Créer un nouveau secret",
    "new_secret": "Le nouveau secret, affiché une seule fois : copiez-le maintenant.",
    "sessions_title": "Sessions",
    "sessions_help": "Déconnecte tous les navigateurs connectés à ce tableau de bord, celui-ci compris : ordinateur perdu ou partagé, personne qui ne doit plus y avoir accès. WordPress rouvre le tableau de bord comme d’habitude.",
    "sign_out_everywhere": "Se déconnecter partout",
    "invalid_site": "{error}",
}

# The sequence editor's name for each block of each step's email (sidecar.web.dashboard.sequence).
EMAIL_BLOCKS = {
    "farewell.subject": "Objet",
    "farewell.subject.hint": "Le premier e-mail après une résiliation : il la confirme.",
    "farewell.intro": "Ouverture",
    "farewell.intro.hint": "Premier paragraphe, après la salutation.",
    "farewell.access": "Jusqu’à quand l’accès reste ouvert",
    "farewell.access.hint": "Seulement quand l’extension d’abonnement indique la fin de l’accès.",
    "farewell.help": "Aide, en répondant",
    "farewell.help.hint": "Quand une adresse de support est indiquée dans Réglages : les réponses y arrivent.",
    "farewell.help_site": "Aide, sur le site",
    "farewell.help_site.hint": "Sans adresse de support : renvoie plutôt vers le site.",
    "farewell.survey": "Invitation au questionnaire",
    "farewell.survey.hint": "Seulement si le membre n’a pas encore répondu au questionnaire de départ.",
    "farewell.survey_button": "Bouton du questionnaire",
    "farewell.survey_button.hint": "Le bouton sous l’invitation.",
    "farewell.closing": "Conclusion",
    "farewell.closing.hint": "Dernier paragraphe, avant la signature.",
    "feedback.subject": "Objet",
    "feedback.subject.hint": "Envoyé seulement si le membre n’a pas encore répondu au questionnaire de départ.",
    "feedback.intro": "La question",
    "feedback.intro.hint": "Premier paragraphe, après la salutation.",
    "feedback.survey_button": "Bouton du questionnaire",
    "feedback.survey_button.hint": "Le bouton qui ouvre le questionnaire.",
    "feedback.closing": "Conclusion",
    "feedback.closing.hint": "Dernier paragraphe : on ne leur redemandera pas.",
    "offer.subject": "Objet",
    "offer.subject.hint": "Envoyé une fois l’accès payé terminé ; toutes les offres sauf une réduction avec un "
                          "pourcentage.",
    "offer.subject_discount": "Objet quand une réduction est proposée",
    "offer.subject_discount.hint": "Quand le membre a trouvé le prix trop élevé et que l’offre a un pourcentage.",
    "offer.discount": "Quand le membre a trouvé le prix trop élevé",
    "offer.discount.hint": "Avec un code de réduction et son pourcentage.",
    "offer.code_only": "Trop cher, code sans pourcentage",
    "offer.code_only.hint": "Quand la réduction du code n’est pas connue.",
    "offer.no_discount": "Trop cher, aucun code à proposer",
    "offer.no_discount.hint": "Quand aucun code de réduction n’est disponible.",
    "offer.pause": "Quand ils ne s’en servaient pas assez, ou font une pause",
    "offer.pause.hint": "Suggère de mettre en pause la prochaine fois plutôt que de résilier.",
    "offer.whats_new": "Quand il leur manquait quelque chose",
    "offer.whats_new.hint": "Montre les nouveautés (l’adresse des nouveautés dans Réglages, ou le site).",
    "offer.whats_new_button": "Bouton « nouveautés »",
    "offer.whats_new_button.hint": "Le bouton sous ce paragraphe.",
    "offer.personal": "Quand le support les a déçus, en répondant",
    "offer.personal.hint": "Quand une adresse de support est indiquée : les réponses y arrivent.",
    "offer.personal_site": "Quand le support les a déçus, sur le site",
    "offer.personal_site.hint": "Sans adresse de support.",
    "offer.default": "Toute autre raison, ou aucune",
    "offer.default.hint": "Sauf si un texte d’offre par défaut est indiqué dans Réglages.",
    "offer.visit_button": "Bouton vers le site",
    "offer.visit_button.hint": "Sous l’offre de pause et l’offre générale.",
    "offer.closing": "Conclusion",
    "offer.closing.hint": "Dernier paragraphe, avant la signature.",
    "door_open.subject": "Objet",
    "door_open.subject.hint": "Le dernier e-mail de la séquence.",
    "door_open.intro": "Le message",
    "door_open.intro.hint": "Premier paragraphe, après la salutation.",
    "door_open.visit_button": "Bouton vers le site",
    "door_open.visit_button.hint": "Sous le message.",
    "door_open.closing": "Conclusion",
    "door_open.closing.hint": "Dernier paragraphe, avant la signature.",
}

# Emails: one section per email kind of sidecar.mail.catalog, each block placed by its templates
# (templates/email/<kind>.txt and .html); "subject" is a block like the others. A site may
# override any block of a sequence email per language; the digest's labels are blocks too.
EMAIL_FAREWELL = {
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
}

EMAIL_FEEDBACK = {
    "subject": "Une question sur votre expérience avec {site_name}",
    "intro": "Il y a quelques jours, vous avez résilié votre abonnement à {site_name}. Nous lisons "
             "chaque réponse, et la vôtre nous aiderait à nous améliorer : qu’est-ce qui vous a "
             "décidé·e à résilier ?",
    "survey_button": "Répondre en une minute",
    "closing": "Si vous préférez ne pas répondre, aucun souci : nous ne vous le redemanderons pas.",
}

EMAIL_OFFER = {
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
}

EMAIL_DOOR_OPEN = {
    "subject": "La porte reste ouverte chez {site_name}",
    "intro": "Cela fait deux mois que vous avez quitté {site_name}. C’est le dernier e-mail que nous "
             "vous envoyons à ce sujet : nous voulions simplement vous dire que vous serez toujours "
             "bien accueilli·e, sans aucun engagement.",
    "visit_button": "Aller sur {site_name}",
    "closing": "Prenez soin de vous.",
}

EMAIL_OWNER_ALERT = {
    "subject": "{member_name} aimerait être recontacté·e",
    "intro": "{member_name} ({member_email}) a résilié et a demandé à être recontacté·e, le "
             "{requested_at}.",
    "contact": "Pour le ou la joindre : {contact}",
    "reply": "Répondez à cet e-mail pour lui écrire directement. Une fois fait, marquez la demande "
             "comme traitée pour qu’elle quitte votre liste.",
    "reason_label": "Raison",
    "follow_up_label": "Précisions",
    "comment_label": "Ses mots",
}

EMAIL_DIGEST = {
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
    "row_by_unknown": "auteur non enregistré (historique importé)",
    "row_revenue_lost": "Revenu mensuel perdu",
    "row_answer_rate": "Taux de réponse au questionnaire",
    "row_winbacks": "Membres revenus",
    "row_revenue_won": "Revenu mensuel regagné",
    "money_note": "Montants ramenés au mois : prix journalier × 365/12, hebdomadaire × 52/12, annuel ÷ 12. "
                  "Chaque devise est comptée à part.",
    "lifetime_note": "Les formules à vie n’ont pas de valeur mensuelle et sont laissées de côté : {count} "
                     "cette semaine.",
    "reasons_since": "L’historique importé de votre extension d’abonnements compte dans tous les chiffres, "
                     "mais les raisons ne sont connues que depuis le {date}, quand le questionnaire a été "
                     "installé.",
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
    # à risque (issue 18)
    "at_risk_title": "Membres à risque",
    "at_risk_row_entered": "Entrés dans la liste",
    "at_risk_row_left": "Sortis de la liste",
    "at_risk_row_recovered": "rétablis",
    "at_risk_row_cancelled": "résiliés",
    "at_risk_row_expired": "expirés",
    "at_risk_row_at_end": "Dans la liste en fin de semaine",
    "at_risk_row_revenue": "Revenu mensuel en jeu",
    "at_risk_note": "Les membres dont le dernier renouvellement a échoué sans paiement depuis, ou dont "
                    "l’abonnement est en pause. Rétablis : un paiement est passé ou l’abonnement a repris. "
                    "Farewell ne leur écrit pas à ce sujet ; vous pouvez les contacter vous-même.",
    "at_risk_excluded": "Les formules à vie et les montants inconnus sont laissés hors du revenu en jeu : {count} "
                        "cette semaine.",
    "at_risk_oldest_title": "Depuis le plus longtemps dans la liste, aujourd’hui",
    "at_risk_since": "depuis le {date}",
    "at_risk_attempts_one": "{count} tentative échouée",
    "at_risk_attempts_other": "{count} tentatives échouées",
    "at_risk_paused": "en pause",
    "at_risk_more_one": "…et {count} autre dans le tableau de bord.",
    "at_risk_more_other": "…et {count} autres dans le tableau de bord.",
    "at_risk_quiet_one": "{count} membre est toutefois dans la liste des membres à risque (un renouvellement "
                         "échoué ou une pause) : voir plus bas.",
    "at_risk_quiet_other": "{count} membres sont toutefois dans la liste des membres à risque (renouvellements "
                           "échoués ou pauses) : voir plus bas.",
    "sequence_title": "E-mails de suivi",
    "col_step": "E-mail",
    "col_sent": "Envoyés",
    "col_winbacks": "Retours après cet e-mail",
    **{f"step_{key}": name for key, name in STEPS.items()},
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
}

# Shown in every member email: the greeting, the signature and why they receive it.
EMAIL_FOOTER = {
    "why": "Vous recevez cet e-mail car vous avez été membre de {site_name}.",
    "unsubscribe": "Ne plus recevoir ces e-mails",
    "greeting": "Bonjour {first_name},",
    "greeting_anonymous": "Bonjour,",
    "signature": "{sender_name}",
}

# The unsubscribe pages (sidecar.web.unsubscribe).
UNSUBSCRIBE = {
    "title": "Ne plus recevoir d’e-mails de {site} ?",
    "explain": "Cela arrête les e-mails que {site} envoie à {email} depuis votre résiliation. Votre compte ne "
               "change pas.",
    "button": "Ne plus recevoir ces e-mails",
    "done_title": "C’est fait",
    "done": "Vous ne recevrez plus ces e-mails de {site}.",
    "invalid_title": "Ce lien ne fonctionne pas",
    "invalid": "Il a peut-être été copié en partie. Pour ne plus recevoir d’e-mails, répondez à l’un d’eux en "
               "nous demandant d’arrêter.",
    "slow_title": "Un instant, s’il vous plaît",
    "slow": "Nous avons reçu beaucoup de demandes de votre réseau en peu de temps. Réessayez dans une minute ; "
            "rien n’a été perdu.",
}

# The labels of a member's data export through WordPress's privacy tools (sidecar.domain.privacy).
PRIVACY = {
    "member": "Farewell : profil du membre", "subscriptions": "Farewell : abonnements",
    "cancellations": "Farewell : résiliations", "answers": "Farewell : réponses au questionnaire de départ",
    "member_id": "Identifiant du membre", "email": "E-mail", "first_name": "Prénom", "locale": "Langue",
    "plan_name": "Formule", "amount": "Prix", "currency": "Devise", "interval": "Période de facturation",
    "status": "Statut", "started_at": "Début", "access_ends_at": "Fin de l’accès",
    "cancelled_at": "Résiliation", "initiated_by": "Résilié par", "resumed_at": "Reprise",
    "ended_at": "Fin", "answered_at": "Réponse le",
}

# The page at / (sidecar.web.home).
HOME = {
    "title": "Sidecar Farewell",
    "what": "Ce serveur est le sidecar Farewell d’un site d’abonnement : il reçoit les résiliations de "
            "l’extension WordPress Farewell Bridge, garde les réponses au questionnaire de départ, envoie "
            "quelques e-mails de suivi respectueux et sert le tableau de bord du propriétaire.",
    "dashboard": "Le tableau de bord s’ouvre depuis WordPress : dans l’administration, menu Farewell, "
                 "bouton « Ouvrir le tableau de bord ».",
    "docs": "Documentation : le README et le dossier docs de Farewell, sur",
    "api": "L’API de ce serveur est décrite dans",
}

# The default exit survey (sidecar.domain.survey.DEFAULT_DEFINITION): reason_<code>, its
# follow_up_<code>, and choice_<reason>_<choice> for a follow-up's choices.
SURVEY = {
    "title": "Avant de partir",
    "intro": "Votre résiliation est bien prise en compte. Si vous avez une minute, dites-nous pourquoi vous "
             "partez : toutes les réponses sont facultatives.",
    "reason_label": "Pourquoi partez-vous ?",
    "reason_too_expensive": "C’est trop cher",
    "follow_up_too_expensive": "Quel prix vous aurait semblé juste ?",
    "reason_unused": "Je ne l’utilise pas assez",
    "follow_up_unused": "Qu’est-ce qui vous en a empêché ?",
    "choice_unused_no_time": "Pas assez de temps",
    "choice_unused_not_what_i_expected": "Ce n’était pas ce que j’attendais",
    "choice_unused_hard_to_find": "Je ne trouvais pas ce qu’il me fallait",
    "reason_temporary": "Je fais juste une pause",
    "follow_up_temporary": "Quand pensez-vous revenir ?",
    "choice_temporary_within_a_month": "D’ici un mois",
    "choice_temporary_in_a_few_months": "Dans quelques mois",
    "choice_temporary_not_sure": "Je ne sais pas encore",
    "reason_missing_features": "Il manque quelque chose dont j’ai besoin",
    "follow_up_missing_features": "Qu’est-ce qui vous a manqué ?",
    "reason_switched_service": "J’ai trouvé un autre service",
    "follow_up_switched_service": "Lequel, si vous voulez bien le dire ?",
    "reason_customer_service": "Je n’ai pas été satisfait·e du service client",
    "follow_up_customer_service": "Que s’est-il passé ?",
    "reason_too_complex": "C’était trop compliqué",
    "follow_up_too_complex": "Qu’est-ce qui était difficile à utiliser ?",
    "reason_low_quality": "La qualité n’était pas à la hauteur",
    "follow_up_low_quality": "Qu’aurions-nous pu mieux faire ?",
    "reason_other": "Une autre raison",
    "comment_label": "Qu’est-ce qui vous a décidé·e à résilier ?",
    "contact_label": "J’aimerais qu’on me recontacte",
    "contact_detail_label": "E-mail ou numéro de téléphone pour vous joindre",
    "submit_label": "Envoyer mes réponses",
    "skip_label": "Passer",
    "thanks": "Merci — vos réponses nous aident à nous améliorer.",
}

# La section du groupe témoin (voir en.py).
HOLDOUT = {
    "title": "Les e-mails servent-ils ?",
    "intro": "{percent} % des membres qui résilient, tirés au sort, reçoivent l’e-mail d’au revoir et rien "
             "d’autre (le groupe témoin) ; les autres reçoivent les relances. Les deux groupes sont comparés une "
             "fois passée leur période de retour de {days} jours.",
    "off": "Le groupe témoin est désactivé (0 %) : tous les membres reçoivent les relances, leur effet ne peut "
           "donc pas être mesuré.",
    "too_early": "Trop tôt pour le dire (n = {n}).",
    "no_effect": "Pas d’effet mesurable pour l’instant.",
    "more": "Les relances ont fait revenir environ {about} membres de plus pour 100 résiliations "
            "(entre {low} et {high}).",
    "fewer": "Les membres qui ont reçu les relances sont moins revenus : environ {about} de moins pour "
             "100 résiliations (entre {low} et {high}).",
    "col_group": "Groupe",
    "group_followups": "Relances",
    "group_holdout": "Témoin (au revoir seulement)",
    "col_judged": "Résiliations jugées",
    "col_winbacks": "Revenus",
    "col_rate": "Taux de retour",
    "col_revenue": "Revenu mensuel regagné pour 100 résiliations",
    "difference": "Écart : {points} points de pourcentage (intervalle à 95 % : {low} à {high}).",
    "waiting_one": "{count} autre résiliation attend la fin de sa période.",
    "waiting_other": "{count} autres résiliations attendent la fin de leur période.",
    "left_out_one": "{count} membre désabonné avant de résilier est laissé de côté.",
    "left_out_other": "{count} membres désabonnés avant de résilier sont laissés de côté.",
    "by_reason": "Par raison donnée avant la première relance (raisons comptant au moins {min} résiliations "
                 "jugées dans chaque groupe)",
    "col_reason": "Raison",
    "col_verdict": "Ce que cela montre",
    "per_step": "L’effet propre à chaque e-mail ne peut pas être mesuré : le groupe témoin n’en reçoit aucun.",
    "share_label": "Part du groupe témoin (0 à 50 %)",
    "share_help": "Une part plus grande donne une réponse plus tôt, et envoie les relances à moins de membres.",
    "share_invalid": "La part du groupe témoin doit être un nombre entier de 0 à 50.",
    "line": "Les e-mails servent-ils ? {sentence}",
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
