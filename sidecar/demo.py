"""The demo mode of ``serve --demo`` (or FAREWELL_DEMO=1).

The demo lives in its own folder, ``<data dir>/demo`` (sidecar.config), with its own SQLite database,
mail folder and site, made afresh at every start: it never writes into the real sites' database,
and never reaches a WordPress. It records twelve weeks of past cancellations as history (imported
events: no emails, no contact requests, no alerts, see domain.events.Event.imported), then one
sample member cancels, and the jobs' clock runs 14,400 times faster, so that member's four emails
land in the demo's mail folder within minutes: farewell at once, feedback after ~20 s, offer
after ~3 min, "door open" after ~6 min (quiet hours shift each by a few seconds).
"""

from __future__ import annotations

import dataclasses
import json
import shutil
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Mapping

from sqlalchemy.engine import Engine, make_url

from .domain.digest_weeks import week_of
from .domain.events import parse_event
from .domain.ingest import record_event

DEMO_SITE_NAME = "Demo membership site"
# A reserved name (RFC 2606): there is no WordPress behind it, and nothing ever calls it.
DEMO_SITE_URL = "https://demo.example"
# The code the demo's offer carries. Coupons are made by a site's WordPress, and there is none
# behind the demo: its sample member gives no reason, so the offer is the general one, with this
# code, and nothing asks a bridge for anything.
DEMO_COUPON_CODE = "DEMO-WELCOME-BACK"
_DEMO_SETTINGS = {"postal_address": "1 Demo Street\nSpringfield", "default_offer_code": DEMO_COUPON_CODE}


@dataclass(frozen=True)
class Demo:
    site: dict
    member_id: str  # the sample member whose cancellation gets the four emails
    history: int  # how many past cancellations were recorded as history


def start_afresh(settings: Mapping) -> None:
    """Forget the previous demo: its database and its mail. Only the demo's own folder is
    touched, and only the files the demo makes there (the signing key stays)."""
    folder = Path(settings["FAREWELL_DATA_DIR"])
    database = Path(make_url(settings["FAREWELL_DATABASE_URL"]).database or "")
    mail = folder / "mail"
    if not settings["FAREWELL_DEMO"] or database.parent != folder or settings["FAREWELL_MAIL_URL"] != f"maildir://{mail}":
        raise ValueError("start_afresh() empties the demo's own folder only")
    for path in (database, *(database.with_name(database.name + end) for end in ("-journal", "-wal", "-shm"))):
        path.unlink(missing_ok=True)
    shutil.rmtree(mail, ignore_errors=True)


def set_up(engine: Engine, now: datetime | None = None) -> Demo:
    """The demo's site, its history for the dashboard, and the sample member's cancellation (what
    ``serve --demo`` does after start_afresh, on the demo's migrated database)."""
    from .domain.site_settings import update_settings
    from .domain.sites import create_site

    now = now or datetime.now(timezone.utc)
    # No holdout: the demo shows the four emails, and its sample member must get them. Its history
    # is imported, outside any comparison, so a holdout would have nothing to measure anyway.
    site = create_site(engine, DEMO_SITE_URL, DEMO_SITE_NAME, holdout_percent=0)
    update_settings(engine, site["id"], _DEMO_SETTINGS, now)
    history = seed_dashboard_demo(engine, site, now)
    return Demo(site=site, member_id=record_demo_cancellation(engine, site, now), history=history)


def record_demo_cancellation(engine: Engine, site: dict, now: datetime | None = None) -> str:
    """A member-initiated cancellation by a new sample member; returns the member's id."""
    now = now or datetime.now(timezone.utc)
    member_id = f"demo-{uuid.uuid4().hex[:8]}"
    french = site["locale"].startswith("fr")
    document = {
        "type": "subscription.cancelled",
        "occurred_at": now.isoformat(),
        "source": "test",
        "initiated_by": "member",
        "member": {"id": member_id, "email": f"{member_id}@example.org",
                   "first_name": "Zoé" if french else "Zoe", "locale": site["locale"]},
        "subscription": {"id": f"sub-{member_id}", "plan_name": "Premium", "amount": "12.00", "currency": "EUR",
                         "interval": "month", "status": "cancelled",
                         "started_at": (now - timedelta(days=400)).isoformat(),
                         "access_ends_at": (now + timedelta(days=2)).isoformat()},
    }
    body = json.dumps(document)
    record_event(engine, site["id"], f"demo_{member_id}", body, parse_event(document), now=now)
    return member_id


# --- data for the dashboard --------------------------------------------------------------------

DEMO_PREFIX = "demo-seed-"
_PLANS = (("Premium", "12.00", "month"), ("Essentiel", "6.00", "month"), ("Annuel", "99.00", "year"))
_COMMENTS = {
    "fr": {
        "too_expensive": ["Trop cher pour ce que j’en fais, surtout avec la hausse de prix.",
                          "Le tarif annuel serait plus raisonnable pour mon budget."],
        "unused": ["Je n’ai plus le temps de suivre les cours, peut-être plus tard.",
                   "Je me connectais une fois par mois, ça ne valait pas le coût."],
        "temporary": ["Je pars six mois à l’étranger, je reviendrai !"],
        "missing_features": ["Il manque une application mobile pour regarder hors ligne.",
                             "J’aurais aimé des exercices corrigés."],
        "customer_service": ["Personne n’a répondu à mon e-mail sur la facturation."],
        "switched_service": ["Un collègue m’a conseillé une autre plateforme moins chère."],
        "too_complex": ["Difficile de retrouver les vidéos déjà commencées."],
        "low_quality": ["Le son des dernières vidéos était mauvais."],
        "other": ["Raisons personnelles, merci pour tout."],
    },
    "en": {
        "too_expensive": ["Too expensive for how little I use it, especially after the price increase.",
                          "The yearly plan would fit my budget better."],
        "unused": ["I no longer have time to follow the lessons, maybe later.",
                   "I logged in once a month, it wasn't worth the cost."],
        "temporary": ["I'm abroad for six months, I'll be back!"],
        "missing_features": ["A mobile app to watch offline is missing.", "I wish there were corrected exercises."],
        "customer_service": ["Nobody answered my email about billing."],
        "switched_service": ["A colleague recommended another, cheaper platform."],
        "too_complex": ["Hard to find the videos I had started."],
        "low_quality": ["The sound of the latest videos was poor."],
        "other": ["Personal reasons, thank you for everything."],
    },
}
_WEIGHTS = {"too_expensive": 8, "unused": 7, "temporary": 4, "missing_features": 4, "customer_service": 2,
            "switched_service": 3, "too_complex": 2, "low_quality": 1, "other": 2}
_NAMES = ("Camille", "Léa", "Hugo", "Chloé", "Lucas", "Manon", "Louis", "Inès", "Jules", "Zoé", "Noah", "Emma")


def seed_dashboard_demo(engine: Engine, site: dict, now: datetime | None = None, weeks: int = 12) -> int:
    """Twelve weeks of cancellations, answers, comments and win-backs, so the dashboard has
    something to show. Recorded as history (imported events): they count in every figure, but plan
    no email and open no contact request, as imported history will. The same for every site (a fixed
    seed: the pages it fills never depend on the site's random id), and done once per site; returns
    how many cancellations it recorded (0 when the site has them already). Then a few members at
    risk, whose renewal events come live (``_seed_at_risk``)."""
    import random

    from .storage.members import members_by_email

    now = now or datetime.now(timezone.utc)
    with engine.connect() as conn:
        if members_by_email(conn, site["id"], _demo_email(_NAMES[0], 0)):
            return 0
    rng = random.Random("farewell-demo")
    language = "fr" if site["locale"].startswith("fr") else "en"
    reasons = list(_WEIGHTS)
    made = 0
    # Two cancellations fall in this week so far on the site's calendar, whatever the day: a demo
    # started on a Monday morning still shows "this week" filled, not only the weeks before it.
    week_start, _ = week_of(now, site["timezone"]).bounds(site["timezone"])
    for n in range(weeks * 6):
        at = now - timedelta(days=rng.uniform(0.2, weeks * 7 - 1))
        if n < 2:
            at = week_start + (now - week_start) * (0.25 + 0.5 * n)
        member_id = f"{DEMO_PREFIX}{n}"
        name = _NAMES[n % len(_NAMES)]
        plan, amount, interval = _PLANS[rng.randrange(len(_PLANS))]
        member = {"id": member_id, "email": _demo_email(name, n),
                  "first_name": name, "locale": site["locale"]}
        subscription = {"id": f"sub-{member_id}", "plan_id": plan.lower(), "plan_name": plan, "amount": amount,
                        "currency": "EUR", "interval": interval, "status": "cancelled",
                        "started_at": (at - timedelta(days=rng.randint(30, 900))).isoformat(),
                        "access_ends_at": (at + timedelta(days=rng.randint(1, 28))).isoformat()}
        by_member = rng.random() < 0.85
        _record(engine, site, f"{member_id}-cancel", {
            "type": "subscription.cancelled", "occurred_at": at.isoformat(), "source": "test",
            "initiated_by": "member" if by_member else rng.choice(["gateway", "admin"]),
            "member": member, "subscription": subscription}, at)
        made += 1
        if by_member and rng.random() < 0.7:
            reason = rng.choices(reasons, weights=[_WEIGHTS[r] for r in reasons])[0]
            answered_at = at + timedelta(minutes=rng.randint(2, 600))
            if answered_at < now:
                comment = rng.choice(_COMMENTS[language][reason]) if rng.random() < 0.75 else None
                contact = reason in ("customer_service", "missing_features") and rng.random() < 0.5
                _record(engine, site, f"{member_id}-survey", {
                    "type": "survey.submitted", "occurred_at": answered_at.isoformat(), "source": "test",
                    "initiated_by": "member", "member": member,
                    "survey": {"version": 1, "subscription_id": subscription["id"], "reason": reason,
                               "comment": comment, "contact_requested": contact, "locale": site["locale"],
                               **({"contact": member["email"]} if contact else {})}}, answered_at)
        if by_member and rng.random() < 0.15:
            back_at = at + timedelta(days=rng.uniform(1, 20))
            if back_at < now:
                _record(engine, site, f"{member_id}-back", {
                    "type": "subscription.created", "occurred_at": back_at.isoformat(), "source": "test",
                    "initiated_by": "member", "member": member,
                    "subscription": {**subscription, "id": f"sub2-{member_id}", "status": "active",
                                     "started_at": back_at.isoformat(), "access_ends_at": None}}, back_at)
    _seed_at_risk(engine, site, now)
    return made


# Members at risk (domain.at_risk): two renewals failing, one of them twice; a pause; and one
# member whose card failed and then went through, who has recovered. (name, plan, events as
# (type, days ago)).
_AT_RISK = (
    ("Margaux", _PLANS[0], (("payment.failed", 9), ("payment.failed", 2))),
    ("Théo", _PLANS[2], (("payment.failed", 3),)),
    ("Alice", _PLANS[1], (("subscription.paused", 20),)),
    ("Nathan", _PLANS[0], (("payment.failed", 4), ("payment.succeeded", 1))),
)


def _seed_at_risk(engine: Engine, site: dict, now: datetime) -> None:
    """Sent live, as the bridge sends renewals once connected: imported history keeps only stays
    still open (the recovered member's would be left out). They plan no email: Farewell never
    writes to a member about a payment."""
    for n, (name, (plan, amount, interval), happened) in enumerate(_AT_RISK):
        member_id = f"{DEMO_PREFIX}risk-{n}"
        member = {"id": member_id, "email": _demo_email(name, 1000 + n), "first_name": name, "locale": site["locale"]}
        for type_, days in happened:
            at = now - timedelta(days=days, hours=n)
            subscription = {"id": f"sub-{member_id}", "plan_id": plan.lower(), "plan_name": plan, "amount": amount,
                            "currency": "EUR", "interval": interval,
                            "status": "paused" if type_ == "subscription.paused" else "active",
                            "started_at": (now - timedelta(days=200 + 40 * n)).isoformat(),
                            "access_ends_at": (now + timedelta(days=5 + n)).isoformat()}
            _record(engine, site, f"{member_id}-{type_}-{days}", {
                "type": type_, "occurred_at": at.isoformat(), "source": "test", "initiated_by": "gateway",
                "member": member, "subscription": subscription}, at, imported=False)


def _demo_email(name: str, n: int) -> str:
    return f"{name.lower().replace('é', 'e').replace('è', 'e')}.{n}@example.org"


def _record(engine: Engine, site: dict, webhook_id: str, document: dict, at: datetime, imported: bool = True) -> None:
    event = dataclasses.replace(parse_event(document), imported=imported)
    record_event(engine, site["id"], f"demo_{webhook_id}", json.dumps(document), event, now=at)
