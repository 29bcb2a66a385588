"""A step's email as a member would get it, filled with a sample member: what the dashboard
previews, and the test email it sends to the signed-in owner."""

from __future__ import annotations

import secrets
from datetime import datetime, timedelta

from sqlalchemy.engine import Connection, Engine

from ..mail import catalog
from ..mail import message as mime
from ..mail.render import babel_locale, day, render
from ..mail.transports import Transport
from .compose import MailConfig
from .sequences import configured_steps, member_timezone
from .site_settings import effective_settings


def sample_email(step: str, language: str, overrides: dict, site: dict, settings: dict, public_url: str,
                 now: datetime):
    """The step's email rendered with sample member data (Camille, Premium, an example code)."""
    kind = catalog.KINDS[step]
    locale = babel_locale(site["locale"] if site["locale"].startswith(language) else None, language)
    zone = member_timezone(site)
    survey_url = f"{site['url'].rstrip('/')}/?farewell_survey=example"
    variables = {"first_name": "Camille", "site_name": site["name"], "site_url": site["url"], "plan_name": "Premium",
                 "support_email": settings["support_email"], "sender_name": settings["sender_name"] or site["name"],
                 "access_ends": day(now + timedelta(days=10), zone, locale), "survey_url": survey_url}
    offer, subject_block = None, "subject"
    if step == "offer":
        code = settings["default_offer_code"] or "EXAMPLE20"
        variables.update(percent=settings["discount_percent"], code=code,
                         expires=day(now + timedelta(days=settings["coupon_days"]), zone, locale),
                         news_url=settings["news_url"], offer_text=settings["default_offer_text"])
        offer = {"variant": "discount", "code": code, "percent": settings["discount_percent"],
                 "news_url": settings["news_url"], "text": settings["default_offer_text"]}
        subject_block = "subject_discount"
    context = {"site_url": site["url"], "survey_url": survey_url, "access_ends": variables["access_ends"],
               "unsubscribe_url": f"{public_url}/u/example", "postal_address": settings["postal_address"],
               "offer": offer}
    return render(kind, language, variables, context, overrides, subject_block=subject_block)


def saved_sample(conn: Connection, site: dict, step: str, language: str, public_url: str, now: datetime,
                 typed: dict[str, str] | None = None):
    """The step's sample email with the site's settings and its saved copy, or, with ``typed``,
    the copy as typed in ``language`` before it is saved (an empty block = the default)."""
    settings = effective_settings(conn, site["id"])
    if typed is None:
        overrides = configured_steps(conn, site["id"])[step].copy_overrides
    else:
        overrides = {language: {block: text for block, text in typed.items() if text}}
    return sample_email(step, language, overrides, site, settings, public_url, now)


def send_test_email(engine: Engine, transport: Transport, site: dict, step: str, language: str, to: str,
                    mail: MailConfig, now: datetime) -> None:
    """Send the step's sample email, with the site's saved copy and settings, to ``to`` only.
    Nothing is recorded: a test is not a member's email. The transport's errors are raised
    (``SiteUnreachable`` when the site's own mail route cannot be reached)."""
    with engine.connect() as conn:
        settings = effective_settings(conn, site["id"])
        rendered = saved_sample(conn, site, step, language, mail.public_url, now)
    domain = mail.mail_from.rsplit("@", 1)[-1] or "localhost"
    message_id = f"<farewell.test.{secrets.token_hex(8)}@{domain}>"
    message = mime.build(rendered, sender=mime.address(mail.mail_from, settings["sender_name"] or site["name"]),
                         to=[mime.address(to)], message_id=message_id, date=now)
    with transport.session() as session:
        session.send(mime.Outgoing(message=message, sender=mail.mail_from, recipients=(to,), site=site,
                                   message_id=message_id))
