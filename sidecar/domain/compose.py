"""From a claimed scheduled email to a message ready to send: who it goes to, in which language,
with which links, offer and headers."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from ..mail import catalog
from ..mail import message as mime
from ..mail.render import babel_locale, day, language_of, moment, render
from . import tokens
from .offers import Offer
from .sequences import STEPS_BY_KEY, member_timezone
from .site_settings import owner_addresses
from .survey import DEFAULT_DEFINITION


@dataclass(frozen=True)
class MailConfig:
    secret_key: str
    public_url: str
    mail_from: str


# What changes from one member to the next in a sequence email (its first name, dates, links and
# coupon); the rest is the site's, and the page is inlined once for it (mail.render).
MEMBER_VALUES = ("first_name", "plan_name", "access_ends", "survey_url", "unsubscribe_url", "code", "expires",
                 "offer.code")


def _sender(site: dict, settings: dict, config: MailConfig):
    return mime.address(config.mail_from, settings["sender_name"] or site["name"])


def sequence_email(email: dict, site: dict, settings: dict, overrides: dict, offer: Offer | None,
                   config: MailConfig, now: datetime) -> mime.Outgoing:
    """``email`` is ``storage.emails.sequence_context``. Raises ``mime.BadAddress``."""
    step = STEPS_BY_KEY[email["step"]]
    kind = step.kind
    language = language_of(email["locale"], site["locale"])
    locale = babel_locale(email["locale"], language)
    zone = member_timezone(site)
    sender = _sender(site, settings, config)
    unsubscribe_url = tokens.unsubscribe_url(
        config.public_url, tokens.unsubscribe_token(config.secret_key, site["id"], email["member_id"]))
    survey_url = None
    if email["answer_id"] is None:
        survey_url = tokens.survey_url(site["url"], tokens.survey_token(config.secret_key, site["id"],
                                                                        email["cancellation_id"]))
    access_ends = email["access_ends_at"]
    variables = {
        "first_name": email["first_name"],
        "site_name": site["name"],
        "site_url": site["url"],
        "plan_name": email["plan_name"],
        "support_email": settings["support_email"],
        "sender_name": settings["sender_name"] or site["name"],
        "access_ends": day(access_ends, zone, locale) if access_ends and access_ends > now else None,
        "survey_url": survey_url,
    }
    subject_block = "subject"
    offer_context = None
    if offer is not None:
        variables.update(percent=offer.percent, code=offer.code, expires=day(offer.expires_at, zone, locale),
                         news_url=offer.news_url, offer_text=offer.text)
        offer_context = {"variant": offer.variant, "code": offer.code, "percent": offer.percent,
                         "news_url": offer.news_url, "text": offer.text}
        if offer.variant == "discount" and offer.code and offer.percent:
            subject_block = "subject_discount"
    context = {
        "site_url": site["url"], "survey_url": survey_url, "access_ends": variables["access_ends"],
        "unsubscribe_url": unsubscribe_url, "postal_address": settings["postal_address"], "offer": offer_context,
    }
    rendered = render(kind, language, variables, context, overrides, subject_block=subject_block,
                      member=MEMBER_VALUES)
    message_id = mime.message_id_for(email["id"], site["id"], config.mail_from)
    reply_to = mime.address(settings["support_email"], site["name"]) if settings["support_email"] else None
    message = mime.build(
        rendered, sender=sender, to=[mime.address(email["email"], email["first_name"])], message_id=message_id,
        date=now, reply_to=reply_to,
        # One-click unsubscribe on marketing steps only; the farewell still shows the visible link.
        unsubscribe_url=unsubscribe_url if step.marketing else None,
    )
    return mime.Outgoing(message=message, sender=config.mail_from, recipients=(email["email"],), site=site,
                         message_id=message_id)


def owner_alert(email: dict, request: dict, site: dict, settings: dict, config: MailConfig,
                now: datetime) -> mime.Outgoing | None:
    """The alert to the site's owner(s), Reply-To the member; None when the site has no owner address."""
    owners = owner_addresses(settings)
    if not owners:
        return None
    kind = catalog.OWNER_ALERT
    language = language_of(site["locale"])
    locale = babel_locale(site["locale"], language)
    zone = member_timezone(site)
    member_name = request["first_name"] or request["email"]
    contact = request["contact"]
    reason_labels = {r["code"]: r["label"][language] for r in DEFAULT_DEFINITION["reasons"]}
    variables = {"member_name": member_name, "member_email": request["email"], "contact": contact,
                 "site_name": site["name"], "requested_at": moment(request["requested_at"], zone, locale)}
    context = {"contact": contact, "reason": reason_labels.get(request["reason"], request["reason"]),
               "follow_up": request["follow_up"], "comment": request["comment"]}
    rendered = render(kind, language, variables, context)
    reply_address = contact if contact and "@" in contact and " " not in contact.strip() else request["email"]
    try:
        reply_to = mime.address(reply_address, request["first_name"])
    except mime.BadAddress:
        reply_to = mime.address(request["email"], request["first_name"])
    message_id = mime.message_id_for(email["id"], site["id"], config.mail_from)
    message = mime.build(rendered, sender=_sender(site, settings, config), to=[mime.address(o) for o in owners],
                         message_id=message_id, date=now, reply_to=reply_to)
    return mime.Outgoing(message=message, sender=config.mail_from, recipients=tuple(owners), site=site,
                         message_id=message_id)
